// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include "diag.h"
#include "json.h"
#include "util.h"

void diag__init(struct diag *d, const struct snapshot_links *links, struct lease_table *leases,
		FILE *f, bool json, __u64 wall_off, bool verbose)
{
	memset(d, 0, sizeof(*d));
	d->links = links;
	d->leases = leases;
	d->f = f;
	d->json = json;
	d->wall_off = wall_off;
	if (links && snapshot__take(&d->seed, links, 0) && verbose)
		fprintf(stderr, "portlife: no start snapshot of the socket tables\n");
}

void diag__free(struct diag *d)
{
	snapshot__free(&d->seed);
	lbuf_free(&d->lb);
}

void diag__owners_from_leases(struct lease_table *t, struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sock_ent *e = &s->v[i];
		struct lease *l;

		if (e->pid || !e->r.cookie || !(l = lease_table__find_cookie(t, e->r.cookie)))
			continue;
		e->pid = l->pid;
		memcpy(e->comm, l->comm, PL_COMM_LEN);
	}
}

static int by_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The socket a held lease is, as a snapshot would have listed it. */
static bool lease_sock(const struct lease *l, struct sock_ent *out)
{
	memset(out, 0, sizeof(*out));
	out->r.cookie = l->cookie;
	out->r.netns = l->netns;
	out->r.lport = l->lport;
	out->r.rport = l->rport;
	out->r.family = l->family;
	out->r.proto = l->proto;
	memcpy(out->r.laddr, l->laddr, 16);
	memcpy(out->r.raddr, l->raddr, 16);
	if (l->proto == IPPROTO_UDP)
		out->r.state = l->rport ? PL_TCP_ESTABLISHED : PL_TCP_CLOSE;
	else if (l->state)
		out->r.state = l->state;
	else
		out->r.state = l->kind == PL_ALLOC_CONNECT ? PL_TCP_ESTABLISHED : PL_TCP_CLOSE;
	/* bind() made its port's bucket: connect() passes it over (headroom's bind_held()) */
	if (l->kind == PL_ALLOC_BIND_EXPLICIT || l->kind == PL_ALLOC_BIND_EPHEMERAL)
		out->r.flags |= PL_SOCKF_BIND_BUCKET;
	out->pid = l->pid;
	out->nholders = 1;
	out->cgroup_id = l->cgroup_id;
	memcpy(out->comm, l->comm, PL_COMM_LEN);
	return true;
}

/*
 * A socket of the snapshot on l's port to l's destination (one per 4-tuple:
 * a later connection's, which took the port after l's socket closed).
 */
static bool tuple_listed(const struct snapshot *s, __u32 netns, const struct lease *l)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct pl_sock_rec *r = &s->v[i].r;

		if (r->netns == netns && r->lport == l->lport && r->proto == l->proto &&
		    r->rport == l->rport && !memcmp(r->raddr, l->raddr, 16))
			return true;
	}
	return false;
}

/*
 * The socket table of netns as it was at the failure, not as it is when its
 * snapshot comes (a ring buffer read later): the events up to the failure's
 * own made the lease table, none after it yet. A client that exits on its
 * first EADDRNOTAVAIL has closed every connection by then: its ESTABLISHED
 * ones are TIME_WAIT (the remedy said tcp_tw_reuse), its UDP sockets gone
 * ("0 in use"). A socket in TIME_WAIT now whose lease had not closed was
 * live; a lease held then whose socket is gone is listed as the lease says.
 * Only what portlife saw: sockets older than tracing are as listed.
 */
static void rewind_to_leases(struct lease_table *t, struct snapshot *s, __u32 netns)
{
	__u8 ports[2][65536 / 8] = {{0}};
	__u64 *cookies = NULL;
	size_t nc = 0;

	if (!t)
		return;
	cookies = calloc(s->n + 1, sizeof(*cookies));
	if (!cookies)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct sock_ent *e = &s->v[i];
		struct lease *l;

		if (e->r.netns != netns)
			continue;
		ports[e->r.proto == IPPROTO_UDP][e->r.lport / 8] |= 1 << (e->r.lport % 8);
		if (!e->r.cookie)
			continue;
		cookies[nc++] = e->r.cookie;
		if (e->r.state == PL_TCP_TIME_WAIT && e->r.proto == IPPROTO_TCP &&
		    (l = lease_table__find_cookie(t, e->r.cookie)) && (l->flags & L_ALLOCATED) &&
		    !(l->flags & (L_CLOSED | L_IN_TW | L_TW_EXPECTED))) {
			e->r.state = l->state && l->state != PL_TCP_TIME_WAIT ? l->state :
									    PL_TCP_ESTABLISHED;
			e->r.expires_ns = 0;
			e->r.flags &= ~PL_SOCKF_TW_TS;
		}
	}
	qsort(cookies, nc, sizeof(*cookies), by_u64);
	for (struct lease *l = lease_table__first(t); l; l = lease_table__next(t, l)) {
		struct sock_ent add;

		if (l->netns != netns || !l->lport || !(l->flags & L_ALLOCATED) ||
		    (l->flags & (L_RELEASED | L_CLOSED | L_IN_TW)) ||
		    (l->proto != IPPROTO_TCP && l->proto != IPPROTO_UDP))
			continue;
		/*
		 * listed: by its cookie, or (none known) by a socket on its port;
		 * or its port taken again since, to its destination: a port
		 * counted once (wrk's keep-alive churn made a destination of an
		 * 11-port range 19 in use)
		 */
		bool on_port = ports[l->proto == IPPROTO_UDP][l->lport / 8] & (1 << (l->lport % 8));

		if (l->cookie ? !!bsearch(&l->cookie, cookies, nc, sizeof(*cookies), by_u64) ||
				(on_port && tuple_listed(s, netns, l)) : on_port)
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct sock_ent *v = realloc(s->v, cap * sizeof(*v));

			if (!v)
				break;
			s->v = v;
			s->cap = cap;
		}
		if (lease_sock(l, &add))
			s->v[s->n++] = add;
	}
	free(cookies);
}

/*
 * A snapshot with the owners portlife knows of; 0 or -errno. rewind: as it
 * was at the failure being diagnosed (rewind_to_leases()).
 */
static int take(struct diag *d, struct snapshot *s, __u32 netns, bool rewind)
{
	int err;

	if (!d->links)
		return -ENOENT;
	err = snapshot__take(s, d->links, netns);
	if (!err)
		diag__owners_from_leases(d->leases, s);
	if (!err && rewind)
		rewind_to_leases(d->leases, s, netns);
	return err;
}

/* A diagnosis line's object, opened, and what every one says: the error and whose. */
static void json_head(struct jw *w, const struct pl_event *e)
{
	char en[16];

	jw_obj(w);
	jw_kstr(w, "event", "diagnosis");
	jw_kstr(w, "error", errno_name(e->err, en, sizeof(en)));
	jw_ku64(w, "pid", e->pid);
	jw_kstrn(w, "comm", e->comm, sizeof(e->comm));
	jw_ku64(w, "netns", e->netns);
}

/*
 * Holders listed one by one; the rest are counted by state. A busy server's
 * port is held by every connection accepted on it as well as by its
 * listener: a conflict on port 443 listed ten thousand lines (and a JSON
 * line past the line buffer, cut short: not JSON).
 */
#define HOLDERS_LISTED 8

static bool addr_unspec(int family, const __u8 a[16])
{
	static const __u8 zero[16];

	return !memcmp(a, zero, family == AF_INET6 ? 16 : 4);
}

/* An IPv6 socket on [::] in an IPv4 bind()'s way: dual stack (IPV6_V6ONLY is the remedy). */
static bool dual_stack_holder(int family, const __u8 laddr[16], const struct pl_event *e)
{
	return e->family == AF_INET && family == AF_INET6 && addr_unspec(AF_INET6, laddr);
}

/*
 * Can a socket on laddr be what kept e's bind() from its port? Two different specific
 * addresses of one family never clash; a wildcard clashes with anything of its
 * family, and across families see below.
 */

static bool may_clash(int family, const __u8 laddr[16], const struct pl_event *e)
{
	const __u8 *a6, *a4;

	if (family == e->family) {
		if (addr_unspec(e->family, e->laddr) || addr_unspec(family, laddr))
			return true;
		return !memcmp(laddr, e->laddr, e->family == AF_INET6 ? 16 : 4);
	}
	/*
	 * Across families only an IPv6 socket on [::] (dual stack, unless
	 * IPV6_V6ONLY, which the listing does not say) or on a v4-mapped
	 * address holds an IPv4 port; one on any other IPv6 address never.
	 */
	a6 = e->family == AF_INET6 ? e->laddr : laddr;
	a4 = e->family == AF_INET6 ? laddr : e->laddr;
	if (addr_unspec(AF_INET6, a6))
		return true;
	if (!addr_v4mapped(a6))
		return false;
	a6 += 12;	/* ::ffff:0.0.0.0 is IPv4's wildcard */
	return !(a6[0] | a6[1] | a6[2] | a6[3]) || addr_unspec(AF_INET, a4) || !memcmp(a6, a4, 4);
}

/*
 * Which holders are listed first: what bind() really ran into (a listener,
 * a bound socket, a UDP socket) before the connections accepted on it, and
 * those with an owner before those without.
 */
static int holder_rank(const struct sock_ent *h)
{
	if (h->r.proto == IPPROTO_UDP || h->r.state == PL_TCP_LISTEN || h->r.state == PL_TCP_CLOSE)
		return 0;
	return h->pid ? 1 : 2;
}

/*
 * One holder: an object of the holders array, or a "held by" line. A socket
 * several processes share (a forked server's workers) is named by one, the
 * others counted: they hold it as much (`processes`, "and N more").
 */
static void holder_line(struct diag *d, struct jw *w, const struct sock_ent *h)
{
	char ep[64], hc[PL_COMM_LEN], more[48] = "";

	if (h->nholders > 1)
		snprintf(more, sizeof(more), " (and %u more process%s)", h->nholders - 1,
			 h->nholders > 2 ? "es" : "");
	if (d->json) {
		jw_obj(w);
		jw_ku64(w, "pid", h->pid);
		jw_kstrn(w, "comm", h->comm, sizeof(h->comm));
		jw_ku64(w, "processes", h->nholders ? h->nholders : 1);
		jw_kstr(w, "state", tcp_state_name(h->r.state));
		jw_kaddr(w, "laddr", h->r.family, h->r.laddr);
		jw_ku64(w, "rport", h->r.rport);
		jw_end(w);
		return;
	}
	comm_sanitize(h->comm, sizeof(h->comm), hc, sizeof(hc));
	/* UDP has no states: CLOSE is an unconnected socket, ESTABLISHED a connected one */
	if (h->r.proto == IPPROTO_UDP) {
		char rp[64];

		fprintf(d->f, "   held by pid %u (%s)%s: UDP %s%s%s\n", h->pid,
			h->pid ? hc : "none: closed by its process", more,
			endpoint_str(h->r.family, h->r.laddr, h->r.lport, ep, sizeof(ep)),
			h->r.rport ? " connected to " : "",
			h->r.rport ? endpoint_str(h->r.family, h->r.raddr, h->r.rport, rp,
						  sizeof(rp)) : "");
		return;
	}
	fprintf(d->f, "   held by pid %u (%s)%s: %s %s remote port %u\n", h->pid,
		h->pid ? hc : h->r.state == PL_TCP_TIME_WAIT ? "none: a TIME_WAIT socket" :
		"none: not accepted yet, or closed by its process", more,
		tcp_state_name(h->r.state),
		endpoint_str(h->r.family, h->r.laddr, h->r.lport, ep, sizeof(ep)), h->r.rport);
}

/* EADDRINUSE: who holds the port now, who held it at start, or the lease we saw. */
static void in_use(struct diag *d, const struct pl_event *e, const struct snapshot *now)
{
	const struct snapshot *from[] = { now, &d->seed };
	char ep[64], comm[PL_COMM_LEN], ts[32], en[16], buf[320];
	unsigned int more[16] = {}, nmore = 0, nmore_bound = 0, ntw = 0, ndual = 0;
	struct jw w;
	int n = 0;

	comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
	jw_begin(&w, &d->lb);
	if (d->json) {
		json_head(&w, e);
		jw_ku64(&w, "lport", e->lport);
		jw_key(&w, "holders");
		jw_arr(&w);
	} else {
		fprintf(d->f, "!! %s %s: pid %u (%s) could not bind %s\n",
			wall_str(e->ts_ns + d->wall_off, 0, ts, sizeof(ts)),
			errno_name(e->err, en, sizeof(en)), e->pid, comm,
			endpoint_str(e->family, e->laddr, e->lport, ep, sizeof(ep)));
	}
	/* Holders now, then those at start: the holder may be gone by now. */
	for (size_t k = 0; k < 2 && !n && !nmore; k++) {
		for (int rank = 0; rank < 3; rank++) {
			for (size_t i = 0; i < from[k]->n; i++) {
				const struct sock_ent *h = &from[k]->v[i];

				if (h->r.lport != e->lport || h->r.proto != e->proto ||
				    h->r.netns != e->netns || (k && !h->pid) ||
				    holder_rank(h) != rank || !may_clash(h->r.family, h->r.laddr, e))
					continue;
				ntw += h->r.proto == IPPROTO_TCP && h->r.state == PL_TCP_TIME_WAIT;
				ndual += dual_stack_holder(h->r.family, h->r.laddr, e);
				if (n == HOLDERS_LISTED) {
					more[h->r.state & 15]++;
					nmore++;
					nmore_bound += !rank;
					continue;
				}
				holder_line(d, &w, h);
				n++;
			}
		}
	}
	if (!n) {
		/* none listed (a bound-only socket before 6.7): the newest lease that can clash */
		struct lease *l = NULL;

		while ((l = lease_table__find_port(d->leases, e->netns, e->proto, e->lport, l)) &&
		       !may_clash(l->family, l->laddr, e))
			;
		if (l && d->json) {
			jw_obj(&w);
			jw_ku64(&w, "pid", l->pid);
			jw_kstrn(&w, "comm", l->comm, sizeof(l->comm));
			/* no state change seen: only bound */
			jw_kstr(&w, "state", l->state ? tcp_state_name(l->state) : "BOUND");
			jw_kaddr(&w, "laddr", l->family, l->laddr);
			jw_kstr(&w, "seen_by", "trace");
			jw_end(&w);
		} else if (l) {
			comm_sanitize(l->comm, sizeof(l->comm), comm, sizeof(comm));
			fprintf(d->f, "   held by pid %u (%s) on %s, which portlife saw take it\n",
				l->pid, comm, endpoint_str(l->family, l->laddr, l->lport, ep, sizeof(ep)));
		}
		if (l) {
			n++;
			ndual += dual_stack_holder(l->family, l->laddr, e);
		}
	}
	if (d->json)
		jw_end(&w);
	if (nmore) {
		if (d->json) {
			jw_ku64(&w, "holders_not_listed", nmore);
			jw_key(&w, "not_listed_by_state");
			jw_obj(&w);
		} else {
			fprintf(d->f, "   ... and %u more:", nmore);
		}
		for (int st = 0; st < 16; st++) {
			if (!more[st])
				continue;
			if (d->json) {
				jw_key_str(&w, tcp_state_name(st));
				jw_u64(&w, more[st]);
			} else {
				fprintf(d->f, " %s %u", tcp_state_name(st), more[st]);
			}
		}
		if (d->json)
			jw_end(&w);
		else
			fprintf(d->f, "%s\n", nmore_bound ? "" :
				" (connections accepted on the port hold it too)");
	}
	/*
	 * Only TIME_WAIT holders: a server restarted over the connections it
	 * closed first. SO_REUSEADDR lets bind() past them only if they had it
	 * too (a timewait socket keeps its socket's, an accepted one its
	 * listener's; measured on 6.18): set on the new socket alone, it does
	 * not help this time.
	 */
	if (n && ntw == n + nmore)
		snprintf(buf, sizeof(buf), "only TIME_WAIT sockets hold it (connections this "
			 "side closed first; gone within 60 s): set SO_REUSEADDR before bind() "
			 "and listen() in the server, which gets past them when the listener "
			 "whose connections they were had it too");
	else if (n && ndual == n + nmore)
		snprintf(buf, sizeof(buf), "an IPv6 socket on [::] holds it for IPv4 too (dual "
			 "stack): set IPV6_V6ONLY on that socket before its bind() (or "
			 "net.ipv6.bindv6only=1 for new sockets) if both are to have the port, "
			 "or use another port");
	else if (n && e->proto == IPPROTO_UDP)
		/* measured: SO_REUSEADDR on both binds, or SO_REUSEPORT on both; on one, no */
		snprintf(buf, sizeof(buf), "the holder must close it, or use another port; UDP "
			 "sockets share a port only when every one of them set SO_REUSEADDR (or "
			 "SO_REUSEPORT, under one user) before bind()");
	else
		snprintf(buf, sizeof(buf), n ? "the holder must close it, or use another port "
				       "(SO_REUSEADDR only helps against TIME_WAIT holders)" :
				       "the holder is already gone: retry");
	if (d->json) {
		jw_kstr(&w, "remedy", buf);
		jw_line(&w, d->f);
	} else {
		fprintf(d->f, "   remedy: %s\n", buf);
	}
}

/*
 * EADDRNOTAVAIL of a connect() from a port the socket had (PL_ALLOCF_BOUND):
 * no search; its 4-tuple was in use. The holder is the socket on that very
 * tuple: an open connection (a bound port makes one connection per
 * destination), or a TIME_WAIT the kernel would not take over.
 */
static void tuple_in_use(struct diag *d, const struct pl_event *e, const struct snapshot *now)
{
	char ep[64], rp[64], comm[PL_COMM_LEN], ts[32], en[16], buf[400];
	size_t alen = e->family == AF_INET6 ? 16 : 4;
	int n = 0, ntw = 0;
	struct jw w;

	comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
	jw_begin(&w, &d->lb);
	if (d->json) {
		json_head(&w, e);
		jw_kaddr(&w, "laddr", e->family, e->laddr);
		jw_ku64(&w, "lport", e->lport);
		jw_kaddr(&w, "raddr", e->family, e->raddr);
		jw_ku64(&w, "rport", e->rport);
		jw_kbool(&w, "tuple_in_use", true);
		jw_key(&w, "holders");
		jw_arr(&w);
	} else {
		fprintf(d->f, "!! %s %s: pid %u (%s) could not connect from %s to %s: the socket's "
			"port was bound before connect(), and that 4-tuple is in use (netns %u)\n",
			wall_str(e->ts_ns + d->wall_off, 0, ts, sizeof(ts)),
			errno_name(e->err, en, sizeof(en)), e->pid, comm,
			endpoint_str(e->family, e->laddr, e->lport, ep, sizeof(ep)),
			endpoint_str(e->family, e->raddr, e->rport, rp, sizeof(rp)), e->netns);
	}
	for (size_t i = 0; i < now->n && n < HOLDERS_LISTED; i++) {
		const struct sock_ent *h = &now->v[i];

		if (h->r.proto != IPPROTO_TCP || h->r.netns != e->netns ||
		    h->r.family != e->family || h->r.lport != e->lport || h->r.rport != e->rport ||
		    memcmp(h->r.raddr, e->raddr, alen) || memcmp(h->r.laddr, e->laddr, alen))
			continue;
		ntw += h->r.state == PL_TCP_TIME_WAIT;
		holder_line(d, &w, h);
		n++;
	}
	if (d->json)
		jw_end(&w);
	if (n && ntw == n)
		/*
		 * A bound port's connect() takes over any TIME_WAIT that saw
		 * timestamps, at once and whatever tcp_tw_reuse says
		 * (tcp_twsk_unique() with no twp): this one saw none.
		 */
		snprintf(buf, sizeof(buf), "a TIME_WAIT socket without TCP timestamps holds it (a "
			 "connection from this port to that destination closed within 60 s; "
			 "connect() from a bound port takes over one that had them, at once): "
			 "turn net.ipv4.tcp_timestamps on at both ends, or let connect() choose "
			 "the port (no bind(), or IP_BIND_ADDRESS_NO_PORT before bind())");
	else if (n)
		snprintf(buf, sizeof(buf), "a connection from this port to that destination is "
			 "open: a bound port makes one connection per destination; let connect() "
			 "choose the port (no bind(), or IP_BIND_ADDRESS_NO_PORT before bind())");
	else
		snprintf(buf, sizeof(buf), "the connection that held it is already gone: retry; a "
			 "bound port makes one connection per destination, so let connect() choose "
			 "the port (no bind(), or IP_BIND_ADDRESS_NO_PORT before bind())");
	if (d->json) {
		jw_kstr(&w, "remedy", buf);
		jw_line(&w, d->f);
	} else {
		fprintf(d->f, "   remedy: %s\n", buf);
	}
}

/*
 * The range a failed search walked, from its event (older traces and
 * kernels without it: none), when it is not the netns's as the snapshot
 * finds it: the socket's own IP_LOCAL_PORT_RANGE, or the netns's range
 * changed since the failure. *lo, *hi: the range; *own: the socket's.
 */
static bool search_range(const struct pl_event *e, const struct snapshot *now, __u16 *lo,
			 __u16 *hi, bool *own)
{
	const struct ns_info *ns = snapshot__ns(now, e->netns);

	*lo = e->aux & 0xffff;
	*hi = e->aux >> 16;
	*own = e->sflags & PL_ALLOCF_OWN_RANGE;
	return e->aux && *lo <= *hi && ns && (*own || *lo != ns->lo || *hi != ns->hi);
}

/* "in its IP_LOCAL_PORT_RANGE 50000-50009", or the netns's as it was then and now */
static const char *range_words(const struct pl_event *e, const struct snapshot *now, __u16 lo,
			       __u16 hi, bool own, char *buf, size_t len)
{
	const struct ns_info *ns = snapshot__ns(now, e->netns);

	if (own)
		snprintf(buf, len, " in its IP_LOCAL_PORT_RANGE %u-%u", lo, hi);
	else
		snprintf(buf, len, " in ip_local_port_range %u-%u (%u-%u now)", lo, hi,
			 ns ? ns->lo : 0, ns ? ns->hi : 0);
	return buf;
}

static void json_range(struct jw *w, __u16 lo, __u16 hi, bool own)
{
	jw_ku64(w, "range_lo", lo);
	jw_ku64(w, "range_hi", hi);
	jw_kbool(w, "own_range", own);
}

/* EADDRNOTAVAIL: how full the destination is. */
static void no_port(struct diag *d, const struct pl_event *e, const struct snapshot *now)
{
	char ep[64], la[48], comm[PL_COMM_LEN], ts[32], en[16], buf[320], rw[80] = "";
	struct dest *dv = NULL, alt;
	struct bind_room *bv = NULL;
	const struct dest *dst = NULL;
	size_t nd, nb;
	__u16 lo, hi;
	bool own, ranged = search_range(e, now, &lo, &hi, &own);
	struct jw w;

	/*
	 * The failed socket has no port: match on everything else, its source
	 * address first (a client spreading over several source addresses fills
	 * one pool per address), then any (the source may be reset already).
	 */
	if (ranged) {
		/*
		 * A socket's own range counts whole: 6.12 and 6.18 walk it so,
		 * and 6.1 (its backport of the option) in parity halves from a
		 * start that depends on the destination, which reach its last
		 * port too, from some starts (measured: 4 or 5 ports of 5). The
		 * netns's range as headroom() counts it.
		 */
		if (!headroom_dest_in(now, e->netns, e->family, e->laddr, e->raddr, e->rport, lo,
				      own ? hi : ns_pick_hi(lo, hi), &alt))
			dst = &alt;
		range_words(e, now, lo, hi, own, rw, sizeof(rw));
	} else if (!headroom(now, NULL, &dv, &nd, &bv, &nb)) {
		__u8 ra[16];
		int family = e->family;

		dst = headroom_find(dv, nd, e->netns, e->family, e->laddr, e->raddr, e->rport);
		memcpy(ra, e->raddr, 16);
		headroom_unmap(&family, ra);
		for (size_t i = 0; i < nd && !dst; i++)
			if (dv[i].netns == e->netns && dv[i].rport == e->rport &&
			    dv[i].family == family && !memcmp(dv[i].raddr, ra, 16))
				dst = &dv[i];
	}
	if (own)
		snprintf(buf, sizeof(buf), "the socket's own IP_LOCAL_PORT_RANGE (%u-%u) has no "
					   "port left for this destination, and "
					   "net.ipv4.ip_local_port_range does not widen it: widen "
					   "the socket's range, pool connections, or add local "
					   "addresses", lo, hi);
	else if (dst)
		dest_remedy(dst, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "no free local port for this destination: "
					   "widen net.ipv4.ip_local_port_range");
	if (d->json) {
		jw_begin(&w, &d->lb);
		json_head(&w, e);
		jw_kaddr(&w, "laddr", e->family, e->laddr);
		jw_kaddr(&w, "raddr", e->family, e->raddr);
		jw_ku64(&w, "rport", e->rport);
		if (ranged)
			json_range(&w, lo, hi, own);
		if (dst) {
			jw_ku64(&w, "in_use", dst->in_use);
			jw_ku64(&w, "time_wait", dst->time_wait);
			jw_ku64(&w, "tw_reusable", dst->tw_reusable);
			jw_ku64(&w, "usable", dst->usable);
			jw_ku64(&w, "free", dst->free);
		}
		jw_kstr(&w, "remedy", buf);
		jw_line(&w, d->f);
	} else {
		comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
		fprintf(d->f, "!! %s %s: pid %u (%s) found no local port%s%s for %s%s (netns %u)\n",
			wall_str(e->ts_ns + d->wall_off, 0, ts, sizeof(ts)),
			errno_name(e->err, en, sizeof(en)), e->pid, comm,
			addr_unspec(e->family, e->laddr) ? "" : " on ",
			addr_unspec(e->family, e->laddr) ? "" :
			addr_str(e->family, e->laddr, la, sizeof(la)),
			endpoint_str(e->family, e->raddr, e->rport, ep, sizeof(ep)), rw, e->netns);
		if (dst) {
			const struct ns_info *ns = snapshot__ns(now, e->netns);
			unsigned int size = ranged ? hi - lo + 1 : ns ? ns->hi - ns->lo + 1 : 0;

			headroom_print_dest_header(d->f, "   ");
			headroom_print_dest(d->f, dst, "   ");
			/* the free port the search could not reach (ns_pick_hi()) */
			if (dst->free && !own && size > 3 && size % 2)
				fprintf(d->f, "   (a range of %u ports, odd: each search walks %u of "
					      "them, from a start that depends on the destination)\n",
					size, size - 1);
			fprintf(d->f, "   remedy: %s\n", buf);
		}
	}
	free(dv);
	free(bv);
}

/*
 * Ports of e's netns and protocol in [lo, hi] held by sockets that portlife
 * saw bound, that never listened or connected, and that the snapshot does
 * not list: before 6.7 nothing lists a socket that is only bound (it is in
 * no table but the bind hash); from 6.7 sock_diag does, and they are in it.
 */
static __u32 bound_unlisted(struct lease_table *t, const struct snapshot *now,
			    const struct pl_event *e, __u16 lo, __u16 hi)
{
	__u8 listed[65536 / 8] = {0};
	__u32 n = 0;

	for (size_t i = 0; i < now->n; i++)
		if (now->v[i].r.netns == e->netns && now->v[i].r.proto == e->proto)
			listed[now->v[i].r.lport / 8] |= 1 << (now->v[i].r.lport % 8);
	for (struct lease *l = lease_table__first(t); l; l = lease_table__next(t, l))
		if (l->netns == e->netns && l->proto == e->proto && l->lport >= lo &&
		    l->lport <= hi && (l->flags & L_ALLOCATED) &&
		    !(l->flags & (L_RELEASED | L_CLOSED)) &&
		    (!l->state || l->state == PL_TCP_CLOSE) &&
		    !(listed[l->lport / 8] & (1 << (l->lport % 8)))) {
			listed[l->lport / 8] |= 1 << (l->lport % 8);	/* once a port */
			n++;
		}
	return n;
}

/*
 * EADDRINUSE from bind(0) (or listen() without bind()), EAGAIN from a UDP
 * socket's first send or connect(): no port was asked for, so no one holds
 * "it": the netns's ip_local_port_range had none free for the protocol (TCP
 * and UDP keep tables of their own; UDP's automatic ports all come from this
 * one pool, whatever the destination). Its bind(0) headroom says how full,
 * as the snapshot finds it, with the bound-only sockets portlife saw that it
 * does not list.
 */
static void no_ephemeral(struct diag *d, const struct pl_event *e, const struct snapshot *now)
{
	char ep[64], comm[PL_COMM_LEN], ts[32], en[16];
	const bool udp = e->proto == IPPROTO_UDP, autobind = e->kind == PL_ALLOC_AUTOBIND;
	const char *remedy = udp ?
		"UDP takes every automatic port (bind(0), a first send or connect()) from "
		"net.ipv4.ip_local_port_range, one pool for every destination: close idle UDP "
		"sockets (one per query or per peer adds up), reuse them, or widen the range" :
		"bind(0) takes its port from net.ipv4.ip_local_port_range: release "
		"ports or widen the range; a client that binds before connect() should "
		"set IP_BIND_ADDRESS_NO_PORT (connect() then picks per destination)";
	const struct bind_room *room = NULL;
	struct bind_room *bv = NULL, alt;
	struct dest *dv = NULL;
	size_t nd, nb;
	__u32 bound = 0, free_now = 0;
	__u16 lo, hi;
	bool own, ranged = search_range(e, now, &lo, &hi, &own);
	char rw[80] = "", rem[400];
	struct jw w;

	if (ranged) {
		/* UDP's search walks the whole range; bind(0)'s reaches what connect()'s does */
		if (!headroom_room_in(now, e->netns, e->proto, lo, hi,
				      udp ? hi : ns_pick_hi(lo, hi), &alt))
			room = &alt;
		range_words(e, now, lo, hi, own, rw, sizeof(rw));
		if (own) {
			snprintf(rem, sizeof(rem), "the socket's own IP_LOCAL_PORT_RANGE (%u-%u) has "
						   "no free %s port, and net.ipv4.ip_local_port_range "
						   "does not widen it: widen the socket's range, or "
						   "release ports", lo, hi, udp ? "UDP" : "TCP");
			remedy = rem;
		}
	} else if (!headroom(now, NULL, &dv, &nd, &bv, &nb)) {
		room = headroom_find_room(bv, nb, e->netns, e->proto);
	}
	if (room) {
		bound = d->leases ? bound_unlisted(d->leases, now, e, room->lo, room->pick_hi) : 0;
		free_now = room->free > bound ? room->free - bound : 0;
	}
	if (d->json) {
		jw_begin(&w, &d->lb);
		json_head(&w, e);
		jw_kstr(&w, "proto", udp ? "udp" : "tcp");
		jw_kaddr(&w, "laddr", e->family, e->laddr);
		jw_kstr(&w, "kind", autobind ? "autobind" : "bind_ephemeral");
		if (e->rport) {
			jw_kaddr(&w, "raddr", e->family, e->raddr);
			jw_ku64(&w, "rport", e->rport);
		}
		if (room) {
			jw_ku64(&w, "range_lo", room->lo);
			jw_ku64(&w, "range_hi", room->hi);
			jw_kbool(&w, "own_range", own && ranged);
			jw_ku64(&w, "reserved", room->reserved);
			jw_ku64(&w, "in_use", room->in_use);
			jw_ku64(&w, "bound_unlisted", bound);
			jw_ku64(&w, "free", free_now);
		}
		jw_kstr(&w, "remedy", remedy);
		jw_line(&w, d->f);
	} else {
		comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
		if (autobind)
			fprintf(d->f, "!! %s %s: pid %u (%s) found no free UDP port for its first "
				      "send or connect()%s%s%s (netns %u)\n",
				wall_str(e->ts_ns + d->wall_off, 0, ts, sizeof(ts)),
				errno_name(e->err, en, sizeof(en)), e->pid, comm,
				e->rport ? " to " : "",
				e->rport ? endpoint_str(e->family, e->raddr, e->rport, ep, sizeof(ep)) :
					   "", rw, e->netns);
		else
			fprintf(d->f, "!! %s %s: pid %u (%s) found no free %s port for bind(0) on "
				      "%s%s (netns %u)\n",
				wall_str(e->ts_ns + d->wall_off, 0, ts, sizeof(ts)),
				errno_name(e->err, en, sizeof(en)), e->pid, comm, udp ? "UDP" : "TCP",
				addr_str(e->family, e->laddr, ep, sizeof(ep)), rw, e->netns);
		if (room)
			fprintf(d->f, "   %s %u-%u: %u reserved, %u in use now by %s, "
				      "%u more bound (seen by portlife, not listed by this kernel), "
				      "%u free\n", own && ranged ? "IP_LOCAL_PORT_RANGE" :
				"ip_local_port_range", room->lo, room->hi, room->reserved,
				room->in_use, udp ? "UDP" : "TCP", bound, free_now);
		fprintf(d->f, "   remedy: %s\n", remedy);
	}
	free(dv);
	free(bv);
}

/*
 * Whether failure e is to be diagnosed now. The same failure at most once a
 * second: an exhausted range fails thousands of times a second. Any failure
 * at most DIAG_PER_SEC times a second: a snapshot costs. One limit for all
 * would let a flood hide the one bind() conflict somebody is looking for.
 */
static bool diag_due(struct diag *d, const struct pl_event *e, __u64 now)
{
	struct diag_key k = {
		.netns = e->netns, .err = e->err, .kind = e->kind, .proto = e->proto,
		.family = e->family, .sflags = e->sflags, .lport = e->lport, .rport = e->rport,
	};
	int slot = 0;

	memcpy(k.laddr, e->laddr, 16);
	memcpy(k.raddr, e->raddr, 16);
	for (int i = 0; i < DIAG_RECENT; i++) {
		if (!memcmp(&d->recent[i].k, &k, sizeof(k)) && d->recent[i].ts &&
		    now - d->recent[i].ts < 1000000000ULL)
			return false;
		if (d->recent[i].ts < d->recent[slot].ts)
			slot = i;	/* the oldest, or an empty one, makes room */
	}
	if (now - d->sec_ns >= 1000000000ULL) {
		d->sec_ns = now;
		d->sec_n = 0;
	}
	if (d->sec_n >= DIAG_PER_SEC)
		return false;
	d->sec_n++;
	d->recent[slot].k = k;
	d->recent[slot].ts = now;
	return true;
}

void diag__sink(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct diag *d = ctx;
	struct snapshot s;

	/* every event comes through here: the clock only for the failures */
	if (e->type != PL_EV_ALLOC || !d->links ||
	    (e->err != EADDRINUSE && e->err != EADDRNOTAVAIL &&
	     (e->err != EAGAIN || e->kind != PL_ALLOC_AUTOBIND)))
		return;
	if (!diag_due(d, e, mono_ns())) {
		d->suppressed++;
		return;
	}
	/* the exhaustion diagnoses count the table at the failure; a holder is named as it is */
	if (take(d, &s, e->netns,
		 e->err != EADDRINUSE || e->kind == PL_ALLOC_BIND_EPHEMERAL))
		return;
	if ((e->err == EADDRINUSE && e->kind == PL_ALLOC_BIND_EPHEMERAL) || e->err == EAGAIN)
		no_ephemeral(d, e, &s);
	else if (e->err == EADDRINUSE)
		in_use(d, e, &s);
	else if (e->sflags & PL_ALLOCF_BOUND)
		tuple_in_use(d, e, &s);
	else
		no_port(d, e, &s);
	snapshot__free(&s);
}

static bool same_dest(const struct dest *a, const struct dest *b)
{
	return a->netns == b->netns && a->rport == b->rport && !memcmp(a->raddr, b->raddr, 16) &&
	       !memcmp(a->laddr, b->laddr, 16);
}

void diag__warn(struct diag *d, double pct)
{
	struct dest *dv = NULL;
	struct bind_room *bv = NULL;
	struct snapshot s;
	size_t nd = 0, nb = 0;
	__u64 now = mono_ns();

	if (take(d, &s, 0, false))
		return;
	if (headroom(&s, NULL, &dv, &nd, &bv, &nb))
		goto out;
	for (size_t i = 0; i < nd && dv[i].used_pct >= pct; i++) {
		const struct dest *dst = &dv[i];
		char ep[64], buf[320];
		int slot = -1;
		struct jw w;

		/* once a minute per destination; the slots recycle */
		for (int k = 0; k < DIAG_WARNED && slot < 0; k++)
			if (d->warned[k].ts && same_dest(&d->warned[k].d, dst))
				slot = k;
		if (slot >= 0 && now - d->warned[slot].ts < 60000000000ULL)
			continue;
		for (int k = 0; k < DIAG_WARNED && slot < 0; k++)
			if (!d->warned[k].ts || now - d->warned[k].ts >= 60000000000ULL)
				slot = k;
		if (slot >= 0) {
			d->warned[slot].d = *dst;
			d->warned[slot].ts = now;
		}
		dest_remedy(dst, buf, sizeof(buf));
		if (d->json) {
			jw_begin(&w, &d->lb);
			jw_obj(&w);
			jw_kstr(&w, "event", "warn");
			jw_ku64(&w, "netns", dst->netns);
			jw_kaddr(&w, "raddr", dst->family, dst->raddr);
			jw_ku64(&w, "rport", dst->rport);
			jw_kdouble(&w, "used_pct", dst->used_pct, 1);
			jw_ku64(&w, "in_use", dst->in_use);
			jw_ku64(&w, "time_wait", dst->time_wait);
			jw_ku64(&w, "free", dst->free);
			jw_kstr(&w, "remedy", buf);
			jw_line(&w, d->f);
		} else {
			fprintf(d->f, "!! WARNING %s uses %.1f%% of its usable ports (%u of %u, %u in "
				      "TIME_WAIT)\n",
				endpoint_str(dst->family, dst->raddr, dst->rport, ep, sizeof(ep)),
				dst->used_pct, dst->in_use, dst->usable, dst->time_wait);
			headroom_print_dest(d->f, dst, "   ");
			fprintf(d->f, "   remedy: %s\n", buf);
		}
	}
out:
	free(dv);
	free(bv);
	snapshot__free(&s);
}

void diag__headroom(struct diag *d, dest_pick_fn pick, const void *ctx)
{
	struct dest *dv = NULL;
	struct bind_room *bv = NULL;
	struct snapshot s;
	size_t nd = 0, nb = 0;

	if (take(d, &s, 0, false))
		return;
	if (!headroom(&s, NULL, &dv, &nd, &bv, &nb)) {
		size_t full = 0;

		/*
		 * The namespace pools (bind(0), UDP's automatic ports) only when
		 * half used or more: a node has two per pod, mostly idle.
		 */
		for (size_t i = 0; i < nb; i++)
			if (bv[i].in_use && (__u64)bv[i].in_use * 2 >= (__u64)bv[i].in_use + bv[i].free)
				bv[full++] = bv[i];
		if (pick)
			nd = pick(ctx, &s, dv, nd);
		if (!d->json)
			fprintf(d->f, "\n");
		headroom_print(d->f, dv, nd, bv, full, d->json, 0, 5);
	}
	free(dv);
	free(bv);
	snapshot__free(&s);
}
