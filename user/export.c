// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "export.h"
#include "json.h"
#include "output.h"
#include "tracefile.h"
#include "util.h"

void export__init(struct export *x, FILE *f, __u64 wall_off)
{
	memset(x, 0, sizeof(*x));
	x->f = f;
	x->wall_off = wall_off;
	x->first_slice = true;
}

void export__free(struct export *x)
{
	lbuf_free(&x->lb);
}

void export__csv_header(struct export *x)
{
	fprintf(x->f, "time,ts_ns,event,lease,pid,tid,comm,proto,family,laddr,lport,raddr,rport,"
		      "kind,error,reason,latency_ns,old,new,expires_ns,hold_ns,"
		      "host,container_id,runtime,namespace,pod,container,"
		      "nat_netns,nat_addr,nat_port,count,reconciled\n");
}

/*
 * A quoted cell; quotes doubled; control bytes never reach a spreadsheet,
 * and neither does a formula: a cell a spreadsheet would evaluate (=, +, -,
 * @ first; tab and CR are '?' already) starts with a ' instead, the usual
 * neutralisation (OWASP "CSV injection").
 */
static void csv_str(struct lb *b, const char *s, size_t n)
{
	char clean[CONTAINER_UNIT_MAX + 1];	/* the longest field: a unit name, a pod name */

	comm_sanitize(s, n, clean, sizeof(clean));
	lb_lit(b, "\"");
	if (strchr("=+-@", clean[0]) && clean[0])
		lb_lit(b, "'");
	for (const char *p = clean; *p; p++) {
		if (*p == '"')
			lb_lit(b, "\"");
		lb_char(b, *p);
	}
	lb_lit(b, "\"");
}

/* proto,family,laddr,lport,raddr,rport */
static void csv_tuple(struct lb *b, __u8 proto, __u8 family, const __u8 laddr[16], __u16 lport,
		      const __u8 raddr[16], __u16 rport)
{
	lb_str(b, proto == IPPROTO_UDP ? "udp" : "tcp");
	lb_lit(b, ",");
	lb_u64(b, family == AF_INET6 ? 6 : 4);
	lb_lit(b, ",");
	lb_addr(b, family, laddr);
	lb_lit(b, ",");
	lb_u64(b, lport);
	lb_lit(b, ",");
	lb_addr(b, family, raddr);
	lb_lit(b, ",");
	lb_u64(b, rport);
}

/* host,container_id,runtime,namespace,pod,container: a row's last columns but NAT's */
static void csv_owner(struct export *x, struct lb *b, __u64 cgroup_id, bool owned)
{
	const struct container *c = owned ? container_src__get(&x->ctrs, cgroup_id) : NULL;

	lb_lit(b, ",");
	if (x->host)
		csv_str(b, x->host, strlen(x->host));
	lb_lit(b, ",");
	/* validated names (container.h): still through csv_str, like every string */
	if (c && container__valid(c)) {
		csv_str(b, c->id, sizeof(c->id));
		lb_lit(b, ",");
		lb_str(b, container__runtime_name(c->runtime));
		lb_lit(b, ",");
		csv_str(b, c->namespace, sizeof(c->namespace));
		lb_lit(b, ",");
		csv_str(b, c->pod, sizeof(c->pod));
		lb_lit(b, ",");
		csv_str(b, c->name, sizeof(c->name));
	} else {
		lb_lit(b, ",,,,");
	}
}

void export__csv_sink(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct export *x = ctx;
	const struct lease *l = r->lease;
	struct lb line, *b = &line;
	char en[16];

	lb_open(b, &x->lb);
	lb_time(b, e->ts_ns + x->wall_off, 1);
	lb_lit(b, ",");
	lb_u64(b, e->ts_ns);
	lb_lit(b, ",");
	lb_str(b, event_name(e->type));
	lb_lit(b, ",");
	lb_u64(b, e->lease);
	lb_lit(b, ",");
	lb_u64(b, e->pid);
	lb_lit(b, ",");
	lb_u64(b, e->tid);
	lb_lit(b, ",");
	csv_str(b, e->comm, sizeof(e->comm));
	lb_lit(b, ",");
	csv_tuple(b, e->proto, e->family, e->laddr, e->lport, e->raddr, e->rport);
	lb_lit(b, ",");
	/* kind,error,reason,latency_ns,old,new,expires_ns,hold_ns */
	switch (e->type) {
	case PL_EV_ALLOC:
		lb_str(b, alloc_kind_name(e->kind));
		lb_lit(b, ",");
		if (e->err)
			lb_str(b, errno_name(e->err, en, sizeof(en)));
		lb_lit(b, ",,");
		if (alloc_lat_known(e->dur_ns, e->err))
			lb_u64(b, e->dur_ns);
		lb_lit(b, ",,,,");
		break;
	case PL_EV_BIND_ERROR:
		lb_str(b, alloc_kind_name(e->kind));
		lb_lit(b, ",");
		lb_str(b, errno_name(e->err, en, sizeof(en)));
		lb_lit(b, ",,,,,,");
		break;
	case PL_EV_STATE:
		lb_lit(b, ",,,,");
		lb_str(b, tcp_state_name(e->old_state));
		lb_lit(b, ",");
		lb_str(b, tcp_state_name(e->new_state));
		lb_lit(b, ",,");
		break;
	case PL_EV_TW_ENTER:
		lb_lit(b, ",,,,,,");
		lb_u64(b, e->dur_ns);
		lb_lit(b, ",");
		break;
	case PL_EV_SIGNAL:
		/* the signal in the kind column */
		lb_str(b, signal_name(e->kind));
		lb_lit(b, ",,,,,,,");
		break;
	default:
		lb_lit(b, ",,");
		lb_str(b, end_reason_name(e->kind));
		lb_lit(b, ",,,,,");
		if (e->type == PL_EV_RELEASE && l && (l->flags & L_ALLOCATED))
			lb_u64(b, l->end_ts - l->alloc_ts);
	}
	csv_owner(x, b, e->cgroup_id, true);
	lb_lit(b, ",,,,");	/* nat_netns,nat_addr,nat_port,count */
	/* reconciled: a close the kernel never showed, found by a TIME_WAIT round */
	if ((e->type == PL_EV_TW_ENTER && (e->kind & PL_TW_RECONCILED)) ||
	    (e->type == PL_EV_RELEASE && (e->sflags & PL_RELF_RECONCILED)))
		lb_lit(b, ",true\n");
	else
		lb_lit(b, ",\n");
	lb_close(b, x->f);
}

/*
 * A NAT record as jsonl shows it: the process's own tuple where an event has
 * its own, the translation in the nat_* columns; a failure's error
 * insert_failed, its clashing port in nat_port and how many failures the row
 * stands for in count (more than 1 when conntrack counted without a tuple).
 * SEEN records (translations older than tracing) are headroom, not events.
 */
void export__csv_nat(void *ctx, const struct pl_nat_rec *n)
{
	struct export *x = ctx;
	struct lb line, *b = &line;
	bool tuple = !(n->flags & PL_NATF_COUNT_ONLY);

	if (n->kind == PL_NAT_SEEN)
		return;
	lb_open(b, &x->lb);
	lb_time(b, n->ts_ns + x->wall_off, 1);
	lb_lit(b, ",");
	lb_u64(b, n->ts_ns);
	lb_lit(b, ",");
	lb_str(b, nat_event_name(n->kind));
	lb_lit(b, ",,");		/* no lease: conntrack's, not a socket's */
	if (n->pid)
		lb_u64(b, n->pid);
	lb_lit(b, ",,");		/* no tid */
	if (n->pid)
		csv_str(b, n->comm, sizeof(n->comm));
	lb_lit(b, ",");
	if (tuple) {
		csv_tuple(b, n->proto, n->family, n->laddr, n->lport, n->raddr, n->rport);
	} else {
		lb_lit(b, ",,,,,");
	}
	/* kind,error,reason,latency_ns,old,new,expires_ns,hold_ns */
	lb_lit(b, ",,");
	if (n->kind == PL_NAT_FAIL)
		lb_str(b, n->flags & PL_NATF_NO_CLASH ? "dropped" : "insert_failed");
	lb_lit(b, ",,,,,,");
	if (n->kind == PL_NAT_END && !(n->flags & (PL_NATF_WAS_SEEN | PL_NATF_END_LOST)))
		lb_u64(b, n->hold_ns);
	csv_owner(x, b, n->cgroup_id, n->pid != 0);
	/* nat_netns,nat_addr,nat_port,count */
	lb_lit(b, ",");
	lb_u64(b, n->nat_netns);
	lb_lit(b, ",");
	if (tuple) {
		lb_addr(b, n->family, n->nat_addr);
		lb_lit(b, ",");
		lb_u64(b, n->nat_port);
	} else {
		lb_lit(b, ",");
	}
	lb_lit(b, ",");
	if (n->kind == PL_NAT_FAIL)
		lb_u64(b, n->n);
	lb_lit(b, ",\n");	/* reconciled: never a NAT record */
	lb_close(b, x->f);
}

void export__chrome_begin(struct export *x)
{
	fprintf(x->f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
}

/* One Chrome trace "complete" slice on the lease's own track of its process. */
static void slice(struct export *x, const char *name, const struct lease *l, __u64 from, __u64 to)
{
	struct jw w;

	if (!from || to < from)
		return;
	jw_begin(&w, &x->lb);
	lb_str(&w.c, x->first_slice ? "\n" : ",\n");
	x->first_slice = false;
	jw_obj(&w);
	jw_kstr(&w, "name", name);
	jw_kstr(&w, "ph", "X");
	jw_ku64(&w, "pid", l->pid);
	jw_ku64(&w, "tid", l->id);
	jw_kdouble(&w, "ts", from / 1e3, 3);
	jw_kdouble(&w, "dur", (to - from) / 1e3, 3);
	jw_end(&w);
	lb_close(&w.c, x->f);
}

/*
 * A lease as a slice named for its ports, with its phases as children:
 * connecting (alloc -> ESTABLISHED), established (-> close), TIME_WAIT.
 */
static void chrome_lease(struct export *x, const struct lease *l, __u64 end)
{
	char name[96], ra[64];
	__u64 close = l->close_ts ? l->close_ts : end;

	if (!(l->flags & L_ALLOCATED))
		return;
	snprintf(name, sizeof(name), "%s :%u -> %s", l->proto == IPPROTO_UDP ? "udp" : "tcp",
		 l->lport, endpoint_str(l->family, l->raddr, l->rport, ra, sizeof(ra)));
	slice(x, name, l, l->alloc_ts, end);
	if (l->estab_ts) {
		slice(x, "connecting", l, l->alloc_ts, l->estab_ts);
		slice(x, "established", l, l->estab_ts, close);
	}
	if (l->tw_enter_ts)
		slice(x, "TIME_WAIT", l, l->tw_enter_ts, l->tw_exit_ts ? l->tw_exit_ts : end);
	else if (l->close_ts && l->close_ts < end)
		slice(x, "closing", l, l->close_ts, end);
}

void export__chrome_sink(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct export *x = ctx;

	if (r->what == LW_END || (r->what == LW_ALLOC && r->ended_too))
		chrome_lease(x, r->lease, r->lease->end_ts);
}

void export__chrome_end(struct export *x, struct lease_table *t, __u64 end_ts)
{
	for (struct lease *l = lease_table__first(t); l; l = lease_table__next(t, l))
		chrome_lease(x, l, end_ts);
	fprintf(x->f, "\n]}\n");
}
