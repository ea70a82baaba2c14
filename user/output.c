// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "alerts.h"
#include "cgpath.h"
#include "json.h"
#include "nat.h"
#include "output.h"
#include "util.h"

const char *event_name(int type)
{
	static const char *n[] = { "?", "alloc", "state", "tw_enter", "tw_exit", "release",
				   "bind_error", "signal" };

	_Static_assert(sizeof(n) / sizeof(n[0]) == PL_EV_MAX, "a name for every event type");

	return type > 0 && type < PL_EV_MAX ? n[type] : "?";
}

const char *signal_name(int kind)
{
	static const char *n[] = { "?", "tcp_closed", "udp_closed", "listen", "unrecorded" };

	_Static_assert(sizeof(n) / sizeof(n[0]) == PL_SIG_MAX, "a name for every signal");

	return kind > 0 && kind < PL_SIG_MAX ? n[kind] : "?";
}

const char *alloc_kind_name(int kind)
{
	static const char *n[] = { "?", "connect", "bind_ephemeral", "bind", "autobind" };

	return kind > 0 && kind <= PL_ALLOC_AUTOBIND ? n[kind] : "?";
}

const char *bind_error_why(int err)
{
	switch (err) {
	case EADDRNOTAVAIL:
		return "the address is not local (no port was looked for)";
	case EACCES:
		return "a privileged port without CAP_NET_BIND_SERVICE";
	case EINVAL:
		return "the socket is bound already, or the address is invalid";
	case EPERM:
		return "refused by policy (a cgroup program or an LSM)";
	case EAFNOSUPPORT:
		return "the address family does not match the socket";
	default:
		return "not a port search";
	}
}

const char *end_reason_name(int reason)
{
	static const char *n[] = { "?", "close", "tw_expired", "tw_killed",
				   "tw_overflow", "tw_unseen", "evicted", "tw_reused" };

	return reason > 0 && reason < PL_END_MAX ? n[reason] : "?";
}

/* The DETAIL column, straight into the line: snprintf here was most of a line's cost. */
static void human_detail(struct lb *b, const struct pl_event *e, const struct lease *l)
{
	char en[16];

	switch (e->type) {
	case PL_EV_ALLOC:
		lb_str(b, alloc_kind_name(e->kind));
		if (!alloc_lat_known(e->dur_ns, e->err)) {
			lb_lit(b, " (latency not measured)");
			break;
		}
		if (e->err) {
			lb_lit(b, " FAILED ");
			lb_str(b, errno_name(e->err, en, sizeof(en)));
			lb_lit(b, " after ");
		} else {
			lb_lit(b, " in ");
		}
		lb_dur(b, e->dur_ns);
		if (e->err && (e->sflags & PL_ALLOCF_BOUND))
			lb_lit(b, " (a bound port: its 4-tuple in use)");
		/* a search narrowed by the socket: what the failure's diagnosis is about */
		if (e->err && (e->sflags & PL_ALLOCF_OWN_RANGE) && e->aux) {
			lb_lit(b, " (its IP_LOCAL_PORT_RANGE ");
			lb_u64(b, e->aux & 0xffff);
			lb_lit(b, "-");
			lb_u64(b, e->aux >> 16);
			lb_lit(b, ")");
		}
		break;
	case PL_EV_BIND_ERROR:
		lb_str(b, alloc_kind_name(e->kind));
		lb_lit(b, " FAILED ");
		lb_str(b, errno_name(e->err, en, sizeof(en)));
		lb_lit(b, ": ");
		lb_str(b, bind_error_why(e->err));
		break;
	case PL_EV_STATE:
		lb_str(b, tcp_state_name(e->old_state));
		lb_lit(b, " -> ");
		lb_str(b, tcp_state_name(e->new_state));
		if (e->kind & PL_STATE_TW_EXPECTED)
			lb_lit(b, " (to TIME_WAIT)");
		else if (e->kind & PL_STATE_BINDLOCK)
			lb_lit(b, " (bound: held until destroy)");
		break;
	case PL_EV_TW_ENTER:
		lb_lit(b, "expires in ");
		lb_dur(b, e->dur_ns);
		if (e->kind & PL_TW_RECONCILED)
			lb_lit(b, " (close not seen: time estimated)");
		break;
	case PL_EV_SIGNAL:
		if (e->kind == PL_SIG_TCP_CLOSED) {
			lb_lit(b, "SYN to a closed port, answered with RST");
			break;
		}
		if (e->kind == PL_SIG_UDP_CLOSED) {
			lb_lit(b, "datagram to a closed port, answered with ICMP port unreachable");
			break;
		}
		if (e->kind == PL_SIG_UNRECORDED) {
			lb_u64(b, e->aux);
			lb_lit(b, " probes of closed ports over the in-kernel rate limit: counted, "
				  "not recorded");
			break;
		}
		lb_str(b, signal_name(e->kind));
		if (e->kind != PL_SIG_LISTEN)
			break;
		if (e->sflags & PL_SIGF_BOUND)
			lb_lit(b, " on a port given to bind()");
		else
			lb_lit(b, " on a port the kernel chose");
		if (e->aux) {
			lb_lit(b, ", ip_local_port_range ");
			lb_u64(b, e->aux & 0xffff);
			lb_lit(b, "-");
			lb_u64(b, e->aux >> 16);
		}
		if (e->sflags & PL_SIGF_RESERVED)
			lb_lit(b, " (reserved)");
		break;
	case PL_EV_TW_EXIT:
		lb_str(b, end_reason_name(e->kind));
		lb_lit(b, " after ");
		if (l && l->tw_enter_ts && e->ts_ns >= l->tw_enter_ts)
			lb_dur(b, e->ts_ns - l->tw_enter_ts);
		else
			lb_lit(b, "?");
		break;
	case PL_EV_RELEASE:
		lb_str(b, end_reason_name(e->kind));
		if (e->sflags & PL_RELF_RECONCILED)
			lb_lit(b, " (close not seen: time estimated)");
		if (!l || !(l->flags & L_ALLOCATED)) {
			lb_lit(b, " (allocated before tracing)");
			break;
		}
		lb_lit(b, " held ");
		lb_dur(b, l->end_ts - l->alloc_ts);
		lb_lit(b, " life ");
		if (l->close_ts >= l->alloc_ts && l->close_ts)
			lb_dur(b, l->close_ts - l->alloc_ts);
		else
			lb_lit(b, "-");
		lb_lit(b, " tw ");
		if (l->tw_enter_ts && l->tw_exit_ts >= l->tw_enter_ts)
			lb_dur(b, l->tw_exit_ts - l->tw_enter_ts);
		else
			lb_lit(b, "-");
		break;
	}
}

/*
 * The event's owner, formatted once for the lines that repeat it (the cache
 * key is every byte it is made of, the comm's 16 included), in the one form
 * this output writes.
 */
static const struct out_owner *owner_of(struct out *o, const struct pl_event *e)
{
	struct out_owner *c = &o->owner;
	struct jw w;

	if (c->len && c->pid == e->pid && c->tid == e->tid && c->cgroup_id == e->cgroup_id &&
	    !memcmp(c->comm, e->comm, PL_COMM_LEN))
		return c;
	c->pid = e->pid;
	c->tid = e->tid;
	c->cgroup_id = e->cgroup_id;
	memcpy(c->comm, e->comm, PL_COMM_LEN);
	if (!o->json) {
		comm_sanitize(e->comm, PL_COMM_LEN, c->text, sizeof(c->text));
		c->len = strlen(c->text) + 1;	/* not 0: an empty comm is cached too */
		return c;
	}
	jw_begin_on(&w, c->json, sizeof(c->json));
	jw_ku64(&w, "pid", e->pid);
	jw_ku64(&w, "tid", e->tid);
	jw_kstrn(&w, "comm", e->comm, sizeof(e->comm));
	jw_ku64(&w, "cgroup_id", e->cgroup_id);
	c->len = w.c.p - w.c.start;
	return c;
}

/* An address as text ("10.0.0.1", "::1"), formatted once while it repeats. */
static const struct out_addr *addr_of(struct out *o, int slot, int family, const __u8 a[16])
{
	struct out_addr *c = &o->addr[slot];
	struct lb b;

	if (c->len && c->family == family && !memcmp(c->a, a, 16))
		return c;
	c->family = family;
	memcpy(c->a, a, 16);
	lb_on(&b, c->s, sizeof(c->s));
	lb_addr(&b, family, a);
	c->len = b.p - b.start;
	return c;
}

static void jw_kaddr_cached(struct out *o, struct jw *w, int slot, int family, const __u8 a[16])
{
	const struct out_addr *c = addr_of(o, slot, family, a);

	jw_sep(w);
	lb_char(&w->c, '"');
	lb_mem_in(&w->c, c->s, c->len, sizeof(c->s));
	lb_char(&w->c, '"');
}

/* lb_endpoint() with the address from the cache */
static void text_endpoint(struct out *o, struct lb *b, int slot, int family, const __u8 a[16],
			  __u16 port)
{
	const struct out_addr *c = addr_of(o, slot, family, a);

	lb_endpoint_open(b, family);
	lb_mem_in(b, c->s, c->len, sizeof(c->s));
	lb_endpoint_close(b, family, port);
}

/*
 * "host":"...", escaped again only when the host changes: it is on every line.
 * (report fills its host buffer from each trace's header, so the text is
 * compared, not the pointer.)
 */
static void jw_host(struct out *o, struct jw *w)
{
	if (!o->host_len || strcmp(o->host_raw, o->host)) {
		struct jw h;

		if (strlen(o->host) > OUT_HOST_MAX) {
			jw_kstr(w, "host", o->host);	/* longer than any trace's: not kept */
			return;
		}
		strcpy(o->host_raw, o->host);
		jw_begin_on(&h, o->host_json, sizeof(o->host_json));
		jw_kstr(&h, "host", o->host);
		o->host_len = h.c.p - h.c.start;
	}
	jw_raw(w, o->host_json, o->host_len);
}

static void json_event(struct out *o, const struct pl_event *e, const struct lease *l)
{
	const struct out_owner *ow;
	char en[16];
	struct jw w;

	jw_begin(&w, &o->lb);
	jw_obj(&w);
	jw_kname(&w, "event", event_name(e->type));
	if (o->host)
		jw_host(o, &w);
	jw_ktime(&w, "time", e->ts_ns + o->wall_off);
	jw_ku64(&w, "ts_ns", e->ts_ns);
	jw_ku64(&w, "lease", e->lease);
	ow = owner_of(o, e);
	jw_raw(&w, ow->json, ow->len);
	jw_key(&w, "container");
	container__jw(&w, container_src__get(&o->ctrs, e->cgroup_id));
	jw_ku64(&w, "netns", e->netns);
	jw_kname(&w, "proto", e->proto == IPPROTO_UDP ? "udp" : "tcp");
	jw_ku64(&w, "family", e->family == AF_INET6 ? 6 : 4);
	jw_key(&w, "laddr");
	jw_kaddr_cached(o, &w, 0, e->family, e->laddr);
	jw_ku64(&w, "lport", e->lport);
	jw_key(&w, "raddr");
	jw_kaddr_cached(o, &w, 1, e->family, e->raddr);
	jw_ku64(&w, "rport", e->rport);
	switch (e->type) {
	case PL_EV_ALLOC:
		jw_kname(&w, "kind", alloc_kind_name(e->kind));
		if (alloc_lat_known(e->dur_ns, e->err))
			jw_ku64(&w, "latency_ns", e->dur_ns);
		else
			jw_knull(&w, "latency_ns");
		if (e->err) {
			jw_kname(&w, "error", errno_name(e->err, en, sizeof(en)));
			jw_ks64(&w, "errno", e->err);
			/* no search: a bound port's connect() met its 4-tuple in use */
			if (e->sflags & PL_ALLOCF_BOUND)
				jw_kbool(&w, "tuple_in_use", true);
			/* the range the failed search walked, where the kernel said */
			if (e->aux) {
				jw_ku64(&w, "range_lo", e->aux & 0xffff);
				jw_ku64(&w, "range_hi", e->aux >> 16);
				jw_kbool(&w, "own_range", e->sflags & PL_ALLOCF_OWN_RANGE);
			}
		}
		break;
	case PL_EV_BIND_ERROR:
		jw_kname(&w, "kind", alloc_kind_name(e->kind));
		jw_kname(&w, "error", errno_name(e->err, en, sizeof(en)));
		jw_ks64(&w, "errno", e->err);
		break;
	case PL_EV_STATE:
		jw_kname(&w, "old", tcp_state_name(e->old_state));
		jw_kname(&w, "new", tcp_state_name(e->new_state));
		jw_kbool(&w, "tw_expected", e->kind & PL_STATE_TW_EXPECTED);
		break;
	case PL_EV_TW_ENTER:
		jw_ku64(&w, "expires_ns", e->dur_ns);
		/* rare: only then, every tw_enter line of a storm stays as short as it was */
		if (e->kind & PL_TW_RECONCILED)
			jw_kbool(&w, "reconciled", true);
		break;
	case PL_EV_SIGNAL:
		jw_kname(&w, "signal", signal_name(e->kind));
		if (e->kind == PL_SIG_UNRECORDED)
			jw_ku64(&w, "count", e->aux);
		if (e->kind != PL_SIG_LISTEN)
			break;
		jw_kbool(&w, "bound", e->sflags & PL_SIGF_BOUND);
		jw_kbool(&w, "reserved", e->sflags & PL_SIGF_RESERVED);
		if (e->aux) {
			jw_ku64(&w, "range_lo", e->aux & 0xffff);
			jw_ku64(&w, "range_hi", e->aux >> 16);
		}
		break;
	case PL_EV_TW_EXIT:
	case PL_EV_RELEASE:
		jw_kname(&w, "reason", end_reason_name(e->kind));
		/* rare: only then, like tw_enter's */
		if (e->type == PL_EV_RELEASE && (e->sflags & PL_RELF_RECONCILED))
			jw_kbool(&w, "reconciled", true);
		if (l && (l->flags & L_ALLOCATED) && e->type == PL_EV_RELEASE) {
			jw_ku64(&w, "hold_ns", l->end_ts - l->alloc_ts);
			if (l->close_ts >= l->alloc_ts && l->close_ts)
				jw_ku64(&w, "lifetime_ns", l->close_ts - l->alloc_ts);
		}
		if (l && l->tw_enter_ts && l->tw_exit_ts >= l->tw_enter_ts)
			jw_ku64(&w, "tw_ns", l->tw_exit_ts - l->tw_enter_ts);
		break;
	}
	jw_line(&w, o->f);
}

/*
 * A text line's first columns, TIME PID COMM EVENT, into b (opened here),
 * after the header if none was printed yet; comm is sanitized already. The
 * whole line is "%-12s %-7u %-16s %-11s %-5s %-22s %-22s %s\n", built without
 * printf. EVENT is as wide as the longest name, nat_release (bind_error, 10,
 * pushed the rest of its line over in a column of 8).
 */
static void text_head(struct out *o, struct lb *b, __u64 ts_ns, __u32 pid,
		      const char *comm, const char *event)
{
	const char *col;

	if (!o->header_done) {
		fprintf(o->f, "%-12s %-7s %-16s %-11s %-5s %-22s %-22s %s\n", "TIME", "PID", "COMM",
			"EVENT", "PROTO", "LOCAL", "REMOTE", "DETAIL");
		o->header_done = true;
	}
	lb_open(b, &o->lb);
	col = b->p;
	lb_time(b, ts_ns + o->wall_off, 0);
	lb_col(b, col, 12);
	col = b->p;
	lb_u64(b, pid);
	lb_col(b, col, 7);
	col = b->p;
	lb_str(b, comm);
	lb_col(b, col, 16);
	col = b->p;
	lb_str(b, event);
	lb_col(b, col, 11);
}

void out__json_counts(struct jw *w, const struct proc_stats *s)
{
	jw_ku64(w, "allocs", s->allocs);
	jw_ku64(w, "failures", s->failures);
	jw_ku64(w, "bind_errors", s->bind_errors);
	jw_ku64(w, "tuple_in_use", s->tuple_fails);
	jw_ku64(w, "tw_entered", s->tw_entered);
	jw_ku64(w, "releases", s->releases);
	jw_ks64(w, "held", s->held);
}

void out__event(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct out *o = ctx;
	const struct lease *l = r->lease;
	struct lb line, *b = &line;
	const char *col;

	if (!o->events)
		return;
	if (o->json) {
		json_event(o, e, l);
		return;
	}
	text_head(o, b, e->ts_ns, e->pid, owner_of(o, e)->text, event_name(e->type));
	col = b->p;
	lb_str(b, proto_family_str(e->proto, e->family));
	lb_col(b, col, 5);
	col = b->p;
	text_endpoint(o, b, 0, e->family, e->laddr, e->lport);
	lb_col(b, col, 22);
	col = b->p;
	text_endpoint(o, b, 1, e->family, e->raddr, e->rport);
	lb_col(b, col, 22);
	human_detail(b, e, l);
	lb_lit(b, "\n");
	lb_close(b, o->f);
}

const char *nat_event_name(int kind)
{
	return kind == PL_NAT_END ? "nat_release" : "nat";
}

/*
 * A NAT record: the translation, its failure or its end. The process's
 * own tuple in LOCAL and REMOTE, what the NAT made of it in DETAIL. SEEN
 * records (translations older than tracing) only count in the headroom.
 */
void out__nat(void *ctx, const struct pl_nat_rec *n)
{
	struct out *o = ctx;
	char ep[64], hb[32], comm[PL_COMM_LEN];
	struct lb line, *b = &line;
	const char *col;

	if (!o->events || n->kind == PL_NAT_SEEN)
		return;
	if (o->json) {
		struct jw w;

		jw_begin(&w, &o->lb);
		jw_obj(&w);
		jw_kstr(&w, "event", nat_event_name(n->kind));
		if (o->host)
			jw_host(o, &w);
		jw_ktime(&w, "time", n->ts_ns + o->wall_off);
		jw_ku64(&w, "ts_ns", n->ts_ns);
		jw_ku64(&w, "pid", n->pid);
		jw_kstrn(&w, "comm", n->comm, sizeof(n->comm));
		jw_ku64(&w, "cgroup_id", n->cgroup_id);
		/* the pod behind a node's NAT port: the question NAT exhaustion asks */
		jw_key(&w, "container");
		container__jw(&w, n->pid ? container_src__get(&o->ctrs, n->cgroup_id) : NULL);
		jw_ku64(&w, "netns", n->netns);
		jw_ku64(&w, "nat_netns", n->nat_netns);
		if (n->flags & PL_NATF_COUNT_ONLY) {
			/* conntrack counted failures it gave no tuple for */
			jw_kstr(&w, "error", "insert_failed");
			jw_ku64(&w, "count", n->n);
			jw_line(&w, o->f);
			return;
		}
		jw_kstr(&w, "proto", n->proto == IPPROTO_UDP ? "udp" : "tcp");
		jw_ku64(&w, "family", n->family == AF_INET6 ? 6 : 4);
		jw_kaddr(&w, "laddr", n->family, n->laddr);
		jw_ku64(&w, "lport", n->lport);
		jw_kaddr(&w, "raddr", n->family, n->raddr);
		jw_ku64(&w, "rport", n->rport);
		jw_kaddr(&w, "nat_addr", n->family, n->nat_addr);
		if (n->kind == PL_NAT_FAIL && (n->flags & PL_NATF_NO_CLASH)) {
			/* dropped after NAT with its port free: not for want of one */
			jw_kstr(&w, "error", "dropped");
			jw_ku64(&w, "nat_port", n->nat_port);
		} else if (n->kind == PL_NAT_FAIL) {
			jw_kstr(&w, "error", "insert_failed");
			jw_ku64(&w, "clash_port", n->nat_port);
			/* rare: only then, like reconciled */
			if (n->flags & PL_NATF_SAME_FLOW)
				jw_kbool(&w, "same_flow", true);
		} else {
			jw_ku64(&w, "nat_port", n->nat_port);
		}
		jw_kbool(&w, "attributed", n->flags & PL_NATF_OWNED);
		/* raddr is the flow's after a DNAT (a Service's pod): only then, like same_flow */
		if (n->flags & PL_NATF_DNAT)
			jw_kbool(&w, "dnat", true);
		if (n->kind == PL_NAT_END) {
			if (n->flags & (PL_NATF_WAS_SEEN | PL_NATF_END_LOST))
				jw_knull(&w, "hold_ns");
			else
				jw_ku64(&w, "hold_ns", n->hold_ns);
		}
		jw_line(&w, o->f);
		return;
	}
	comm_sanitize(n->comm, PL_COMM_LEN, comm, sizeof(comm));
	text_head(o, b, n->ts_ns, n->pid, comm, nat_event_name(n->kind));
	col = b->p;
	if (n->flags & PL_NATF_COUNT_ONLY) {
		lb_lit(b, "-");
		lb_col(b, col, 5);
		col = b->p;
		lb_lit(b, "-");
		lb_col(b, col, 22);
		col = b->p;
		lb_lit(b, "-");
		lb_col(b, col, 22);
		lb_lit(b, "FAILED ");
		lb_u64(b, n->n);
		lb_lit(b, " conntrack insert_failed in netns ");
		lb_u64(b, n->nat_netns);
		lb_lit(b, " (no tuple: not attributed)\n");
		lb_close(b, o->f);
		return;
	}
	lb_str(b, proto_family_str(n->proto, n->family));
	lb_col(b, col, 5);
	col = b->p;
	lb_endpoint(b, n->family, n->laddr, n->lport);
	lb_col(b, col, 22);
	col = b->p;
	lb_endpoint(b, n->family, n->raddr, n->rport);
	lb_col(b, col, 22);
	if (n->kind == PL_NAT_FAIL && (n->flags & PL_NATF_NO_CLASH)) {
		lb_lit(b, "FAILED dropped after NAT to ");
		lb_str(b, endpoint_str(n->family, n->nat_addr, n->nat_port, ep, sizeof(ep)));
		lb_lit(b, ", that port free: not exhaustion (a rule's drop after srcnat?)");
	} else if (n->kind == PL_NAT_FAIL && (n->flags & PL_NATF_SAME_FLOW)) {
		lb_lit(b, "FAILED conntrack insert race: the flow's first packet won, as ");
		lb_str(b, endpoint_str(n->family, n->nat_addr, n->nat_port, ep, sizeof(ep)));
		lb_lit(b, " (insert_failed, packet dropped: not exhaustion)");
	} else if (n->kind == PL_NAT_FAIL) {
		lb_lit(b, "FAILED no free NAT port on ");
		lb_str(b, addr_str(n->family, n->nat_addr, ep, sizeof(ep)));
		lb_lit(b, " (insert_failed: packet dropped, the client times out)");
	} else {
		if (n->kind == PL_NAT_END)
			lb_lit(b, "released ");
		else
			lb_lit(b, "as ");
		lb_str(b, endpoint_str(n->family, n->nat_addr, n->nat_port, ep, sizeof(ep)));
		if (n->kind == PL_NAT_END) {
			lb_lit(b, " held ");
			lb_str(b, n->flags & (PL_NATF_WAS_SEEN | PL_NATF_END_LOST) ? "?" :
				  dur_str(n->hold_ns, hb, sizeof(hb)));
		}
	}
	lb_lit(b, " netns ");
	lb_u64(b, n->nat_netns);
	if (n->flags & PL_NATF_DNAT)
		lb_lit(b, " (destination after DNAT)");
	if (!(n->flags & PL_NATF_OWNED))
		lb_lit(b, " (no lease matched)");
	lb_lit(b, "\n");
	lb_close(b, o->f);
}

void out__free(struct out *o)
{
	lbuf_free(&o->lb);
}

static void human_proc(struct out *o, const struct proc_stats *p)
{
	char comm[PL_COMM_LEN], en[16], cg[PL_CGPATH_TEXT], ctr[CONTAINER_TEXT_MAX];
	FILE *f = o->f;

	comm_sanitize(p->comm, sizeof(p->comm), comm, sizeof(comm));
	if (p->folded)
		fprintf(f, "\n%llu processes %s, folded (idle, holding no port, when the "
			   "process table was full)", (unsigned long long)p->folded, comm);
	else
		fprintf(f, "\nPID %u %s", p->pid, comm);
	/* a cgroup may be named by anyone with a delegated subtree: no raw bytes */
	if (agg_row_owned(p) && !cgpath_src_get(&o->cgroups, p->cgroup_id, cg, sizeof(cg)))
		fprintf(f, "  cgroup %s", safe_str(cg, cg, sizeof(cg)));
	/* validated names only (container.h): printable as they are */
	if (agg_row_owned(p) && container__str(container_src__get(&o->ctrs, p->cgroup_id), ctr,
					       sizeof(ctr))[0])
		fprintf(f, "\n  container %s", ctr);
	fprintf(f, "\n  allocations %llu  failures %llu  TIME_WAIT %llu  released %llu"
		   "  held now %lld  peak held %lld\n",
		(unsigned long long)p->allocs, (unsigned long long)p->failures,
		(unsigned long long)p->tw_entered, (unsigned long long)p->releases,
		(long long)p->held, (long long)p->peak_held);
	if (p->failures) {
		fprintf(f, "  failed:");
		for (int i = 0; i < AGG_ERRNOS && p->fail[i].n; i++)
			fprintf(f, " %s %llu", errno_name(p->fail[i].err, en, sizeof(en)),
				(unsigned long long)p->fail[i].n);
		if (p->fail_other)
			fprintf(f, " other %llu", (unsigned long long)p->fail_other);
		fprintf(f, "\n");
	}
	if (p->bind_errors) {
		fprintf(f, "  bind errors (no port search):");
		for (int i = 0; i < AGG_ERRNOS && p->bind_err[i].n; i++)
			fprintf(f, " %s %llu", errno_name(p->bind_err[i].err, en, sizeof(en)),
				(unsigned long long)p->bind_err[i].n);
		fprintf(f, "\n");
	}
	if (p->tuple_fails)
		fprintf(f, "  connect() from a bound port, its 4-tuple in use (no search): %llu\n",
			(unsigned long long)p->tuple_fails);
	if (p->renamed)
		fprintf(f, "  renamed: %llu events under further names of pid %u counted here "
			   "(it renamed itself more than %d times)\n",
			(unsigned long long)p->renamed, p->pid, AGG_NAMES_PER_PID);
	if (p->releases) {
		fprintf(f, "  ended:");
		for (int i = 1; i < AGG_REASONS; i++)
			if (p->end_reason[i])
				fprintf(f, " %s %llu", end_reason_name(i),
					(unsigned long long)p->end_reason[i]);
		fprintf(f, "\n");
	}
	{
		char rb[320];

		if (agg__remedy(p, rb, sizeof(rb)))
			fprintf(f, "  remedy: %s\n", rb);
	}
	hist__print(f, &p->alloc_lat, "allocation latency");
	hist__print(f, &p->hold, "hold time (alloc -> release)");
	hist__print(f, &p->tw_time, "time in TIME_WAIT");
	hist__print(f, &p->lifetime, "connection lifetime (alloc -> close)");
	if (p->nat_taken || p->nat_failed || p->nat_released) {
		fprintf(f, "  NAT: ports taken %llu  failed %llu  released %llu  held now %lld\n",
			(unsigned long long)p->nat_taken, (unsigned long long)p->nat_failed,
			(unsigned long long)p->nat_released, (long long)p->nat_held);
		hist__print(f, &p->nat_hold, "NAT port hold (conntrack NEW -> DESTROY)");
	}
}

static void json_proc(struct out *o, const struct proc_stats *p)
{
	char en[16], rb[320], cg[PL_CGPATH_TEXT];
	bool has_cg = agg_row_owned(p) && !cgpath_src_get(&o->cgroups, p->cgroup_id, cg,
							  sizeof(cg));
	struct jw w;

	jw_begin(&w, &o->lb);
	jw_obj(&w);
	jw_kstr(&w, "event", "summary");
	if (o->host)
		jw_host(o, &w);
	jw_ku64(&w, "pid", p->pid);
	jw_kstrn(&w, "comm", p->comm, sizeof(p->comm));
	jw_ku64(&w, "folded_processes", p->folded);
	jw_ku64(&w, "cgroup_id", p->cgroup_id);
	if (has_cg)
		jw_kstr(&w, "cgroup", cg);
	else
		jw_knull(&w, "cgroup");
	jw_key(&w, "container");
	container__jw(&w, agg_row_owned(p) ? container_src__get(&o->ctrs, p->cgroup_id) : NULL);
	jw_ku64(&w, "allocs", p->allocs);
	jw_ku64(&w, "failures", p->failures);
	jw_key(&w, "failures_by_errno");
	jw_obj(&w);
	for (int i = 0; i < AGG_ERRNOS && p->fail[i].n; i++) {
		jw_key_str(&w, errno_name(p->fail[i].err, en, sizeof(en)));
		jw_u64(&w, p->fail[i].n);
	}
	if (p->fail_other)
		jw_ku64(&w, "other", p->fail_other);
	jw_end(&w);
	jw_ku64(&w, "bind_errors", p->bind_errors);
	jw_key(&w, "bind_errors_by_errno");
	jw_obj(&w);
	for (int i = 0; i < AGG_ERRNOS && p->bind_err[i].n; i++) {
		jw_key_str(&w, errno_name(p->bind_err[i].err, en, sizeof(en)));
		jw_u64(&w, p->bind_err[i].n);
	}
	jw_end(&w);
	jw_ku64(&w, "tuple_in_use", p->tuple_fails);
	jw_ku64(&w, "tw_entered", p->tw_entered);
	jw_ku64(&w, "releases", p->releases);
	jw_key(&w, "released_by");
	jw_obj(&w);
	for (int i = 1; i < AGG_REASONS; i++)
		if (p->end_reason[i])
			jw_key_str(&w, end_reason_name(i)), jw_u64(&w, p->end_reason[i]);
	jw_end(&w);
	jw_ku64(&w, "bind_then_connect", p->bind_then_connect);
	jw_ku64(&w, "renamed_events", p->renamed);
	if (agg__remedy(p, rb, sizeof(rb)))
		jw_kstr(&w, "remedy", rb);
	else
		jw_knull(&w, "remedy");
	jw_ks64(&w, "held", p->held);
	jw_ks64(&w, "peak_held", p->peak_held);
	jw_key(&w, "alloc_latency_ns");
	hist__json(&w, &p->alloc_lat);
	jw_key(&w, "hold_ns");
	hist__json(&w, &p->hold);
	jw_key(&w, "time_wait_ns");
	hist__json(&w, &p->tw_time);
	jw_key(&w, "lifetime_ns");
	hist__json(&w, &p->lifetime);
	jw_key(&w, "nat");
	jw_obj(&w);
	jw_ku64(&w, "taken", p->nat_taken);
	jw_ku64(&w, "failed", p->nat_failed);
	jw_ku64(&w, "released", p->nat_released);
	jw_ks64(&w, "held", p->nat_held);
	jw_key(&w, "hold_ns");
	hist__json(&w, &p->nat_hold);
	jw_end(&w);
	jw_line(&w, o->f);
}

static void json_totals(struct out *o, const struct run_info *ri, size_t nprocs)
{
	const struct lease_stats *ls = ri->leases;
	struct jw w;

	jw_begin(&w, &o->lb);
	jw_obj(&w);
	jw_kstr(&w, "event", "totals");
	if (o->host)
		jw_host(o, &w);
	jw_kstr(&w, "mode", ri->mode);
	jw_ku64(&w, "elapsed_ns", ri->elapsed_ns);
	jw_ku64(&w, "processes", nprocs);
	/* the process table filled: rows folded per name, then events summed as [other] */
	jw_ku64(&w, "processes_folded", ri->procs_folded);
	jw_ku64(&w, "processes_overflowed", ri->procs_overflowed);
	jw_key(&w, "drops");
	jw_obj(&w);
	for (int i = 1; i < PL_EV_MAX; i++) {
		jw_key_str(&w, event_name(i));
		jw_u64(&w, ri->drops[i]);
	}
	jw_end(&w);
	if (ri->recursion_misses == PL_NOT_COUNTED)
		jw_knull(&w, "recursion_misses");	/* not 0: the kernel does not count them */
	else
		jw_ku64(&w, "recursion_misses", ri->recursion_misses);
	jw_ku64(&w, "untracked", ri->untracked);
	jw_ku64(&w, "tw_overflow", ri->tw_overflow);
	jw_ku64(&w, "tw_unseen", ri->tw_unseen);
	jw_ku64(&w, "tw_reconciled", ri->tw_reconciled);
	jw_ku64(&w, "gone_reconciled", ri->gone_reconciled);
	/* null, not 0, in a report: a recording's rounds ran, and a trace does not keep these */
#define SNAP_U64(k, v) (ri->snaps_unknown ? jw_knull(&w, k) : jw_ku64(&w, k, v))
	SNAP_U64("snapshots", ri->snapshots);
	SNAP_U64("snapshot_lookups", ri->snap_lookups);
	SNAP_U64("snapshot_listings", ri->snap_listings);
	SNAP_U64("netns_lost", ri->netns_lost);
	SNAP_U64("snapshot_mean_ns", ri->snap_mean_ns);
	SNAP_U64("snapshot_max_ns", ri->snap_max_ns);
#undef SNAP_U64
	if (ri->snaps_unknown)
		jw_knull(&w, "snapshot_interval_s");
	else
		jw_kdouble(&w, "snapshot_interval_s", ri->snap_interval, 3);
	jw_key(&w, "leases");
	jw_obj(&w);
	jw_ku64(&w, "live", ls->live);
	jw_ku64(&w, "ended", ls->ended);
	jw_ku64(&w, "no_alloc", ls->no_alloc);
	jw_ku64(&w, "orphans", ls->orphans);
	jw_ku64(&w, "duplicates", ls->duplicates);
	jw_ku64(&w, "out_of_order", ls->out_of_order);
	jw_ku64(&w, "evicted", ls->evicted);
	jw_end(&w);
	if (ri->nat_watched) {
		jw_key(&w, "nat");
		jw_obj(&w);
		jw_ku64(&w, "events_lost", ri->nat_lost);
		jw_ku64(&w, "unattributed", ri->nat_unattributed);
		jw_ku64(&w, "failures_without_tuple", ri->nat_count_only);
		jw_kbool(&w, "drop_hook", ri->nat_drop_hook);
		if (ri->nat_range)
			jw_kstr(&w, "range_from", ri->nat_range);
		jw_end(&w);
	}
	jw_line(&w, o->f);
}

static int by_pod_key(const void *x, const void *y)
{
	const struct pod_stats *a = x, *b = y;
	int c = strcmp(a->ns, b->ns);

	if (!c)
		c = strcmp(a->pod, b->pod);
	return c ? c : strcmp(a->uid, b->uid);
}

static int by_pod_activity(const void *x, const void *y)
{
	const struct pod_stats *a = x, *b = y;
	__u64 ta = a->s.allocs + a->s.failures, tb = b->s.allocs + b->s.failures;

	return ta != tb ? (ta < tb ? 1 : -1) : by_pod_key(x, y);
}

/* A process in a pod, while the pods are being made. */
struct pod_member {
	char ns[CONTAINER_LABEL_MAX + 1];
	char pod[CONTAINER_SUBDOMAIN_MAX + 1];
	char uid[CONTAINER_UID_MAX + 1];
	const struct proc_stats *p;
};

static int by_member_key(const void *x, const void *y)
{
	const struct pod_member *a = x, *b = y;
	int c = strcmp(a->ns, b->ns);

	if (!c)
		c = strcmp(a->pod, b->pod);
	return c ? c : strcmp(a->uid, b->uid);
}

struct pod_stats *out__pods(const struct container_src *ctrs, struct proc_stats *const *v,
			    size_t n, size_t *np)
{
	/* keys first, stats only per pod: a pod's stats are kilobytes, processes many */
	struct pod_member *mv = calloc(n + 1, sizeof(*mv));
	struct pod_stats *pv = NULL;
	size_t k = 0, m = 0;

	*np = 0;
	if (!mv)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct container *c = agg_row_owned(v[i]) ?
						    container_src__get(ctrs, v[i]->cgroup_id) : NULL;

		if (!c || !c->pod_uid[0])
			continue;
		snprintf(mv[k].ns, sizeof(mv[k].ns), "%s", c->namespace);
		snprintf(mv[k].pod, sizeof(mv[k].pod), "%s", c->pod);
		snprintf(mv[k].uid, sizeof(mv[k].uid), "%s", c->pod_uid);
		mv[k++].p = v[i];
	}
	qsort(mv, k, sizeof(*mv), by_member_key);
	for (size_t i = 0; i < k; i++)
		m += !i || by_member_key(&mv[i - 1], &mv[i]);
	pv = m ? calloc(m, sizeof(*pv)) : NULL;
	if (!pv) {
		free(mv);
		return NULL;
	}
	for (size_t i = 0, j = 0; i < k; i++) {
		if (i && by_member_key(&mv[i - 1], &mv[i]))
			j++;
		memcpy(pv[j].ns, mv[i].ns, sizeof(pv[j].ns));
		memcpy(pv[j].pod, mv[i].pod, sizeof(pv[j].pod));
		memcpy(pv[j].uid, mv[i].uid, sizeof(pv[j].uid));
		pv[j].procs++;
		agg__merge(&pv[j].s, mv[i].p);
	}
	free(mv);
	qsort(pv, m, sizeof(*pv), by_pod_activity);
	*np = m;
	return pv;
}

void out__pods_print(struct out *o, const struct pod_stats *pv, size_t np)
{
	char name[CONTAINER_LABEL_MAX + CONTAINER_SUBDOMAIN_MAX + 8];

	if (!np)
		return;
	if (!o->json)
		fprintf(o->f, "\npods:\n  %-40s %5s %9s %8s %9s %6s\n", "NAMESPACE/POD", "PROCS",
			"ALLOCS", "FAILURES", "TIME_WAIT", "HELD");
	for (size_t i = 0; i < np; i++) {
		const struct pod_stats *p = &pv[i];
		struct jw w;

		if (!o->json) {
			/* validated names (container.h): printable as they are */
			if (p->pod[0])
				snprintf(name, sizeof(name), "%s/%s", p->ns, p->pod);
			else
				snprintf(name, sizeof(name), "pod uid %s", p->uid);
			fprintf(o->f, "  %-40s %5zu %9llu %8llu %9llu %6lld\n", name, p->procs,
				(unsigned long long)p->s.allocs, (unsigned long long)p->s.failures,
				(unsigned long long)p->s.tw_entered, (long long)p->s.held);
			continue;
		}
		jw_begin(&w, &o->lb);
		jw_obj(&w);
		jw_kstr(&w, "event", "pod_summary");
		if (o->host)
			jw_host(o, &w);
		if (p->ns[0])
			jw_kstr(&w, "namespace", p->ns);
		else
			jw_knull(&w, "namespace");
		if (p->pod[0])
			jw_kstr(&w, "pod", p->pod);
		else
			jw_knull(&w, "pod");
		jw_kstr(&w, "pod_uid", p->uid);
		jw_ku64(&w, "processes", p->procs);
		out__json_counts(&w, &p->s);
		/* the sum of the processes' peaks: an upper bound of the pod's own */
		jw_ks64(&w, "peak_held_sum", p->s.peak_held);
		jw_line(&w, o->f);
	}
}

void out__summary(struct out *o, struct agg *a, const struct run_info *ri)
{
	const struct lease_stats *ls = ri->leases;
	struct proc_stats **v;
	struct pod_stats *pv;
	char mode[32];
	__u64 drops = 0;
	size_t n, np = 0;

	v = agg__sorted(a, &n);
	for (int i = 1; i < PL_EV_MAX; i++)
		drops += ri->drops[i];

	pv = v ? out__pods(&o->ctrs, v, n, &np) : NULL;
	if (o->json) {
		for (size_t i = 0; v && i < n; i++)
			json_proc(o, v[i]);
		out__pods_print(o, pv, np);
		free(pv);
		/* the security rules' section; totals stay the last line */
		alerts__summary(ri->alerts, o->f, true);
		json_totals(o, ri, n);
		lb_flush(o->f);
		free(v);
		return;
	}

	fprintf(o->f, "\n=== portlife summary: %zu process%s, %.1fs, mode %s ===\n", n,
		n == 1 ? "" : "es", ri->elapsed_ns / 1e9,
		safe_str(ri->mode, mode, sizeof(mode)));
	for (size_t i = 0; v && i < n; i++)
		human_proc(o, v[i]);
	out__pods_print(o, pv, np);
	free(pv);
	alerts__summary(ri->alerts, o->f, false);
	fprintf(o->f, "\nleases: %llu live, %llu ended (%llu began before tracing), "
		      "%llu orphan events, %llu duplicates, %llu out of order, %llu evicted\n",
		(unsigned long long)ls->live, (unsigned long long)ls->ended,
		(unsigned long long)ls->no_alloc, (unsigned long long)ls->orphans,
		(unsigned long long)ls->duplicates, (unsigned long long)ls->out_of_order,
		(unsigned long long)ls->evicted);
	fprintf(o->f, "lost: %llu ring buffer drops", (unsigned long long)drops);
	if (drops) {
		fprintf(o->f, " (");
		for (int i = 1, first = 1; i < PL_EV_MAX; i++) {
			if (!ri->drops[i])
				continue;
			fprintf(o->f, "%s%s %llu", first ? "" : ", ", event_name(i),
				(unsigned long long)ri->drops[i]);
			first = 0;
		}
		fprintf(o->f, ")");
	}
	if (ri->recursion_misses == PL_NOT_COUNTED)
		fprintf(o->f, ", recursion misses not counted (kernel before 5.12)");
	else
		fprintf(o->f, ", %llu recursion misses (programs skipped by the kernel)",
			(unsigned long long)ri->recursion_misses);
	fprintf(o->f, ", %llu untracked (leases the kernel had no room for%s)\n",
		(unsigned long long)ri->untracked, ri->untracked ? ": raise --max-leases" : "");
	if (ri->tw_overflow)
		fprintf(o->f, "TIME_WAIT overflow: %llu closes made no TIME_WAIT socket "
			      "(net.ipv4.tcp_max_tw_buckets is full); their ports were freed at once\n",
			(unsigned long long)ri->tw_overflow);
	if (ri->tw_unseen)
		fprintf(o->f, "TIME_WAIT unseen: %llu ended before the next snapshot "
			      "(see --tw-interval)\n", (unsigned long long)ri->tw_unseen);
	if (ri->tw_reconciled)
		fprintf(o->f, "TIME_WAIT reconciled: %llu closes the kernel ran none of portlife's "
			      "programs for (and counted no miss) were found in TIME_WAIT by a round; "
			      "their tw_enter time is estimated from the socket's timer\n",
			(unsigned long long)ri->tw_reconciled);
	if (ri->gone_reconciled)
		fprintf(o->f, "Closes reconciled: %llu leases whose close the kernel never showed "
			      "had no socket left when a round looked; released (reason close), their "
			      "time estimated\n", (unsigned long long)ri->gone_reconciled);
	if (ri->netns_lost)
		fprintf(o->f, "TIME_WAIT not watched in %llu network namespace%s portlife could not "
			      "enter: one with no process or /run/netns entry left is gone, and its "
			      "TIME_WAIT with it (tw_killed); one closed to portlife counts its "
			      "closes as TIME_WAIT unseen\n", (unsigned long long)ri->netns_lost,
			ri->netns_lost == 1 ? "" : "s");
	if (ri->snapshots)
		fprintf(o->f, "TIME_WAIT snapshots: %llu (namespaces checked by lookup %llu, "
			      "listed whole %llu), %.2f ms each on average, %.2f ms at most, "
			      "every %.2f s%s\n", (unsigned long long)ri->snapshots,
			(unsigned long long)ri->snap_lookups, (unsigned long long)ri->snap_listings,
			ri->snap_mean_ns / 1e6, ri->snap_max_ns / 1e6, ri->snap_interval,
			ri->snap_interval > ri->snap_interval_set ? " (stretched: snapshots are "
			"kept under 5% of a CPU)" : "");
	if (ri->procs_folded)
		fprintf(o->f, "process table full: %llu idle processes holding no port were folded "
			      "into per-name rows (\"N processes NAME, folded\")\n",
			(unsigned long long)ri->procs_folded);
	if (ri->procs_overflowed)
		fprintf(o->f, "processes past the table size were summed as [other]\n");
	if (ri->nat_watched)
		fprintf(o->f, "NAT: %llu conntrack events lost (netlink overruns%s), %llu translations "
			      "no lease matched, %llu failures without a tuple (conntrack statistics"
			      "%s); port range: %s\n", (unsigned long long)ri->nat_lost,
			ri->nat_lost ? ": the table was read again" : "",
			(unsigned long long)ri->nat_unattributed,
			(unsigned long long)ri->nat_count_only,
			ri->nat_drop_hook ? "" : "; the drop hook is not loaded, so no failure has "
						 "its tuple",
			ri->nat_range ? ri->nat_range : "?");
	lb_flush(o->f);
	free(v);
}
