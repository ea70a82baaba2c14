// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "headroom.h"
#include "json.h"
#include "util.h"

/*
 * r holds its port for bind() (listening, or bound with no remote end), or
 * in a bucket bind() or listen() made: no connect() may take that port, for
 * any destination. The flag comes from the kernel's bucket (traces from
 * before it have the first two tests alone).
 */
static bool bind_held(const struct pl_sock_rec *r)
{
	return !r->rport || r->state == PL_TCP_LISTEN || (r->flags & PL_SOCKF_BIND_BUCKET);
}

/* A port connect() or bind(0) could have picked (ns_pick_hi()). */
static bool in_range(const struct ns_info *ns, __u16 port)
{
	return ns && port >= ns->lo && port <= ns->pick_hi;
}

static bool same_dest(const struct dest *d, __u32 netns, int family, const __u8 *laddr,
		      const __u8 *raddr, __u16 rport)
{
	return d->netns == netns && d->family == family && d->rport == rport &&
	       !memcmp(d->laddr, laddr, 16) && !memcmp(d->raddr, raddr, 16);
}

void headroom_unmap(int *family, __u8 *addr)
{
	if (*family != AF_INET6 || !addr_v4mapped(addr))
		return;
	memmove(addr, addr + 12, 4);
	memset(addr + 4, 0, 12);
	*family = AF_INET;
}

/*
 * An IPv6 socket whose peer is IPv4 (v4-mapped addresses, as a Java socket
 * has by default) takes its port in IPv4's connect() search: it competes
 * with the IPv4 sockets to the same destination, and is counted with them.
 */
static void tuple_unmap(int *family, __u8 *laddr, __u8 *raddr)
{
	int lf = *family;

	if (*family != AF_INET6 || !addr_v4mapped(raddr) || !(addr_v4mapped(laddr) ||
							 !memcmp(laddr, (__u8[16]){ 0 }, 16)))
		return;
	headroom_unmap(&lf, laddr);
	headroom_unmap(family, raddr);
}

const struct dest *headroom_find(const struct dest *dv, size_t nd, __u32 netns, int family,
				 const __u8 *laddr, const __u8 *raddr, __u16 rport)
{
	__u8 la[16], ra[16];

	memcpy(la, laddr, 16);
	memcpy(ra, raddr, 16);
	tuple_unmap(&family, la, ra);
	for (size_t i = 0; i < nd; i++)
		if (same_dest(&dv[i], netns, family, la, ra, rport))
			return &dv[i];
	return NULL;
}

const struct bind_room *headroom_find_room(const struct bind_room *bv, size_t nb, __u32 netns,
					   __u8 proto)
{
	for (size_t i = 0; i < nb; i++)
		if (bv[i].netns == netns && bv[i].proto == proto)
			return &bv[i];
	return NULL;
}

/*
 * Destinations by hash, open addressing: a proxy or a NAT node holds
 * sockets to tens of thousands of destinations, and a search of the whole
 * array per socket made a snapshot quadratic (100k sockets to 10k
 * destinations: 1.5 s a table). Slots hold an index into dv plus one (0:
 * empty), so dv may be reallocated under it.
 */
struct dest_index {
	size_t *slot;
	size_t mask;
};

static int dest_index_init(struct dest_index *x, size_t max)
{
	size_t n = 16;

	while (n < 2 * max)
		n *= 2;
	x->mask = n - 1;
	x->slot = calloc(n, sizeof(*x->slot));
	return x->slot ? 0 : -ENOMEM;
}

static size_t dest_hash(__u32 netns, int family, const __u8 *laddr, const __u8 *raddr,
			__u16 rport)
{
	__u64 h = 1469598103934665603ULL;	/* FNV-1a, then a final mix */

	h = (h ^ netns) * 1099511628211ULL;
	h = (h ^ (((__u64)family << 16) | rport)) * 1099511628211ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ laddr[i]) * 1099511628211ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ raddr[i]) * 1099511628211ULL;
	h ^= h >> 29;
	return (size_t)h;
}

/* The slot of the destination in x, or the empty slot where it would go. */
static size_t *dest_slot(const struct dest_index *x, const struct dest *dv, __u32 netns,
			 int family, const __u8 *laddr, const __u8 *raddr, __u16 rport)
{
	size_t i = dest_hash(netns, family, laddr, raddr, rport) & x->mask;

	while (x->slot[i] && !same_dest(&dv[x->slot[i] - 1], netns, family, laddr, raddr, rport))
		i = (i + 1) & x->mask;
	return &x->slot[i];
}

/*
 * The namespace's index in s->ns, or s->nns. *hint is the last one found:
 * a snapshot lists each namespace's sockets together, so a node's hundreds
 * of pod namespaces cost one comparison a socket, not a walk of them all.
 */
static size_t ns_index(const struct snapshot *s, __u32 inum, size_t *hint)
{
	size_t k;

	if (*hint < s->nns && s->ns[*hint].inum == inum)
		return *hint;
	for (k = 0; k < s->nns && s->ns[k].inum != inum; k++)
		;
	*hint = k;
	return k;
}

static int by_used(const void *a, const void *b)
{
	const struct dest *x = a, *y = b;

	return x->used_pct < y->used_pct ? 1 : x->used_pct > y->used_pct ? -1 : 0;
}

static void add_holder(struct dest *d, const struct sock_ent *e)
{
	int slot = -1;

	for (int i = 0; i < 3; i++) {
		if (d->top[i].n && d->top[i].pid == e->pid &&
		    !strncmp(d->top[i].comm, e->comm, PL_COMM_LEN)) {
			slot = i;
			break;
		}
		if (!d->top[i].n && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return;	/* a fourth holder: the top three are kept by count below */
	d->top[slot].pid = e->pid;
	memcpy(d->top[slot].comm, e->comm, PL_COMM_LEN);
	d->top[slot].n++;
	d->top[slot].tw += e->r.state == PL_TCP_TIME_WAIT;
}

/*
 * Free and used: a TIME_WAIT socket the next connect() to its destination
 * may take over (tcp_tw_reuse: on loopback by default) holds nothing back
 * (measured on 6.18: 10 loopback ports all in TIME_WAIT, 10 more connects
 * 1.5 s later).
 */
static void dest_free(struct dest *d)
{
	__u32 held = d->in_use - d->tw_reusable;

	d->free = d->usable > held ? d->usable - held : 0;
	d->used_pct = d->usable ? 100.0 * held / d->usable : 100.0;
}

int headroom(const struct snapshot *s, const struct snapshot *prev, struct dest **dvp, size_t *ndp,
	     struct bind_room **bvp, size_t *nbp)
{
	struct dest *dv = NULL, *nv;
	struct bind_room *bv;
	struct dest_index ix = { 0 }, pix = { 0 };
	size_t nd = 0, cap = 0, hint = 0;
	__u32 *nbound;
	__u8 *bound, *used, *udp_used;

	*dvp = NULL;
	*bvp = NULL;
	*ndp = *nbp = 0;
	bv = calloc(s->nns ? 2 * s->nns : 1, sizeof(*bv));
	nbound = calloc(s->nns ? s->nns : 1, sizeof(*nbound));
	bound = calloc(s->nns ? s->nns : 1, 65536 / 8);
	used = calloc(s->nns ? s->nns : 1, 65536 / 8);
	udp_used = calloc(s->nns ? s->nns : 1, 65536 / 8);
	if (!bv || !nbound || !bound || !used || !udp_used || dest_index_init(&ix, s->n)) {
		free(bv);
		free(nbound);
		free(bound);
		free(used);
		free(udp_used);
		free(ix.slot);
		return -ENOMEM;
	}

	/*
	 * Per netns: TCP ports held by bind() (listening, or bound with no
	 * remote end), TCP ports used at all, UDP ports used at all.
	 */
	for (size_t i = 0; i < s->n; i++) {
		const struct pl_sock_rec *r = &s->v[i].r;
		size_t k = ns_index(s, r->netns, &hint);

		if (k == s->nns)
			continue;
		if (r->proto == IPPROTO_UDP)
			udp_used[k * 8192 + r->lport / 8] |= 1 << (r->lport % 8);
		if (r->proto != IPPROTO_TCP)
			continue;
		used[k * 8192 + r->lport / 8] |= 1 << (r->lport % 8);
		if (bind_held(r))
			bound[k * 8192 + r->lport / 8] |= 1 << (r->lport % 8);
	}
	/* and of the range: ports used, and ports bind() holds (no connect() may take them) */
	for (size_t k = 0; k < s->nns; k++) {
		const struct ns_info *ns = &s->ns[k];
		struct bind_room *tcp = &bv[2 * k], *udp = &bv[2 * k + 1];
		__u32 nused = 0, nudp = 0, udp_reserved = 0;

		for (unsigned int p = ns->lo; p <= ns->hi; p++) {
			if (ns_reserved(ns, p)) {
				udp_reserved++;
				continue;
			}
			nudp += !!(udp_used[k * 8192 + p / 8] & (1 << (p % 8)));
			if (p > ns->pick_hi)
				continue;
			nused += !!(used[k * 8192 + p / 8] & (1 << (p % 8)));
			nbound[k] += !!(bound[k * 8192 + p / 8] & (1 << (p % 8)));
		}
		tcp->netns = udp->netns = ns->inum;
		tcp->lo = udp->lo = ns->lo;
		tcp->hi = udp->hi = ns->hi;
		tcp->pick_hi = ns->pick_hi;
		udp->pick_hi = ns->hi;	/* UDP's search walks the whole range, its last port too */
		tcp->proto = IPPROTO_TCP;
		tcp->reserved = ns->nreserved;
		tcp->in_use = nused;
		tcp->free = (ns->pick_hi - ns->lo + 1) - ns->nreserved - nused;
		udp->proto = IPPROTO_UDP;
		udp->reserved = udp_reserved;
		udp->in_use = nudp;
		udp->free = (ns->hi - ns->lo + 1) - udp_reserved - nudp;
	}

	/* Destinations: connected TCP sockets on an ephemeral port. */
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_ent *e = &s->v[i];
		const struct pl_sock_rec *r = &e->r;
		size_t k = ns_index(s, r->netns, &hint), *slot;
		const struct ns_info *ns = k < s->nns ? &s->ns[k] : NULL;
		__u8 la[16], ra[16];
		int family = r->family;
		struct dest *d;

		if (r->proto != IPPROTO_TCP || !in_range(ns, r->lport) || ns_reserved(ns, r->lport))
			continue;
		/*
		 * bind()'s ports (bind_held(): a listener, a socket only bound, and
		 * a listener's accepted sockets, which share its port and keep its
		 * bucket in TIME_WAIT once it is gone): no connect() made them.
		 */
		if (bound[k * 8192 + r->lport / 8] & (1 << (r->lport % 8)))
			continue;
		memcpy(la, r->laddr, 16);
		memcpy(ra, r->raddr, 16);
		tuple_unmap(&family, la, ra);
		slot = dest_slot(&ix, dv, r->netns, family, la, ra, r->rport);
		if (*slot) {
			d = &dv[*slot - 1];
		} else {
			if (nd == cap) {
				cap = cap ? cap * 2 : 64;
				nv = realloc(dv, cap * sizeof(*dv));
				if (!nv)
					break;
				dv = nv;
			}
			d = &dv[nd++];
			*slot = nd;
			memset(d, 0, sizeof(*d));
			d->netns = r->netns;
			d->family = family;
			memcpy(d->laddr, la, 16);
			memcpy(d->raddr, ra, 16);
			d->rport = r->rport;
		}
		d->in_use++;
		d->time_wait += r->state == PL_TCP_TIME_WAIT;
		d->tw_reusable += ns_tw_reusable(ns, r);
		d->tw_reuse_on += r->state == PL_TCP_TIME_WAIT && ns_tw_reuse_covers(ns, r);
		add_holder(d, e);
	}
	free(ix.slot);
	struct dest *pdv = NULL;
	struct bind_room *pbv = NULL;
	size_t pnd = 0, pnb = 0;

	if (prev && s->ts_ns > prev->ts_ns && headroom(prev, NULL, &pdv, &pnd, &pbv, &pnb))
		prev = NULL;
	if (prev && s->ts_ns > prev->ts_ns) {
		if (dest_index_init(&pix, pnd)) {
			prev = NULL;
		} else {
			for (size_t i = 0; i < pnd; i++)
				*dest_slot(&pix, pdv, pdv[i].netns, pdv[i].family, pdv[i].laddr,
					   pdv[i].raddr, pdv[i].rport) = i + 1;
		}
	}
	for (size_t i = 0; i < nd; i++) {
		struct dest *d = &dv[i];
		size_t k = ns_index(s, d->netns, &hint);

		d->usable = (s->ns[k].pick_hi - s->ns[k].lo + 1) - s->ns[k].nreserved - nbound[k];
		dest_free(d);
		d->exhausted_in = -1;
		if (prev && s->ts_ns > prev->ts_ns) {
			size_t ps = *dest_slot(&pix, pdv, d->netns, d->family, d->laddr, d->raddr,
					       d->rport);

			d->growth = ((double)d->in_use - (ps ? pdv[ps - 1].in_use : 0)) /
				    ((s->ts_ns - prev->ts_ns) / 1e9);
			if (d->growth > 0)
				d->exhausted_in = d->free / d->growth;
		}
	}
	free(pix.slot);
	free(pdv);
	free(pbv);
	(void)pnb;
	qsort(dv, nd, sizeof(*dv), by_used);
	free(nbound);
	free(bound);
	free(used);
	free(udp_used);
	*dvp = dv;
	*ndp = nd;
	*bvp = bv;
	*nbp = 2 * s->nns;
	return 0;
}

/*
 * One search's room, for a range that is not the netns's as the snapshot
 * found it: a socket's own IP_LOCAL_PORT_RANGE (the search walks that), or
 * the netns's range as it was when a search failed (a failure's event
 * carries it). [lo, reach] is what the search could pick; hi is the range's
 * end as set.
 */
static void bits_of(const struct snapshot *s, __u32 netns, __u8 proto, __u8 *used, __u8 *bound)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct pl_sock_rec *r = &s->v[i].r;

		if (r->netns != netns || r->proto != proto)
			continue;
		used[r->lport / 8] |= 1 << (r->lport % 8);
		if (bound && bind_held(r))
			bound[r->lport / 8] |= 1 << (r->lport % 8);
	}
}

static bool bit(const __u8 *m, __u16 port)
{
	return m[port / 8] & (1 << (port % 8));
}

int headroom_room_in(const struct snapshot *s, __u32 netns, __u8 proto, __u16 lo, __u16 hi,
		     __u16 reach, struct bind_room *out)
{
	const struct ns_info *ns = snapshot__ns(s, netns);
	__u8 used[65536 / 8] = { 0 };

	if (!ns || lo > reach || reach > hi)
		return -ENOENT;
	bits_of(s, netns, proto, used, NULL);
	memset(out, 0, sizeof(*out));
	out->netns = netns;
	out->proto = proto;
	out->lo = lo;
	out->hi = hi;
	out->pick_hi = reach;
	for (unsigned int p = lo; p <= reach; p++) {
		if (ns_reserved(ns, p))
			out->reserved++;
		else if (bit(used, p))
			out->in_use++;
		else
			out->free++;
	}
	return 0;
}

int headroom_dest_in(const struct snapshot *s, __u32 netns, int family, const __u8 *laddr,
		     const __u8 *raddr, __u16 rport, __u16 lo, __u16 reach, struct dest *out)
{
	const struct ns_info *ns = snapshot__ns(s, netns);
	__u8 used[65536 / 8] = { 0 }, bound[65536 / 8] = { 0 }, la[16], ra[16];
	bool any_laddr = !memcmp(laddr, (__u8[16]){ 0 }, 16);
	__u32 nbound = 0;

	if (!ns || lo > reach)
		return -ENOENT;
	memcpy(la, laddr, 16);
	memcpy(ra, raddr, 16);
	tuple_unmap(&family, la, ra);
	memset(out, 0, sizeof(*out));
	out->netns = netns;
	out->family = family;
	memcpy(out->laddr, la, 16);
	memcpy(out->raddr, ra, 16);
	out->rport = rport;
	bits_of(s, netns, IPPROTO_TCP, used, bound);
	for (unsigned int p = lo; p <= reach; p++)
		nbound += !ns_reserved(ns, p) && bit(bound, p);
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_ent *e = &s->v[i];
		const struct pl_sock_rec *r = &e->r;
		__u8 sla[16], sra[16];
		int sf = r->family;

		/* bind()'s ports are in bound (bind_held()): never a destination's */
		if (r->netns != netns || r->proto != IPPROTO_TCP || r->rport != rport ||
		    r->lport < lo || r->lport > reach || ns_reserved(ns, r->lport) ||
		    bit(bound, r->lport))
			continue;
		memcpy(sla, r->laddr, 16);
		memcpy(sra, r->raddr, 16);
		tuple_unmap(&sf, sla, sra);
		if (sf != family || memcmp(sra, ra, 16) || (!any_laddr && memcmp(sla, la, 16)))
			continue;
		out->in_use++;
		out->time_wait += r->state == PL_TCP_TIME_WAIT;
		out->tw_reusable += ns_tw_reusable(ns, r);
		out->tw_reuse_on += r->state == PL_TCP_TIME_WAIT && ns_tw_reuse_covers(ns, r);
		add_holder(out, e);
	}
	for (unsigned int p = lo; p <= reach; p++)
		out->usable += !ns_reserved(ns, p);
	out->usable -= nbound;
	dest_free(out);
	out->exhausted_in = -1;
	return 0;
}

/* ---- printing ---------------------------------------------------------- */

const char *dest_remedy(const struct dest *d, char *buf, size_t len)
{
	if (d->tw_reusable && d->tw_reusable * 2 >= d->in_use)
		snprintf(buf, len, "mostly TIME_WAIT that connect() takes over here "
				   "(net.ipv4.tcp_tw_reuse: %u of them, counted free): reuse "
				   "connections all the same (keep-alive, pooling)", d->tw_reusable);
	else if (d->in_use && d->time_wait * 2 >= d->in_use && d->tw_reuse_on * 2 >= d->time_wait)
		snprintf(buf, len, "mostly TIME_WAIT too young for connect() to take over "
				   "(net.ipv4.tcp_tw_reuse is in effect here, from a second old, "
				   "tcp_tw_reuse_delay): reuse connections (keep-alive, pooling) to "
				   "this destination, or widen net.ipv4.ip_local_port_range / set "
				   "IP_LOCAL_PORT_RANGE per socket");
	else if (d->in_use && d->time_wait * 2 >= d->in_use)
		snprintf(buf, len, "mostly TIME_WAIT: reuse connections (keep-alive, pooling) "
				   "to this destination; on the client, net.ipv4.tcp_tw_reuse=1; "
				   "or widen net.ipv4.ip_local_port_range / set IP_LOCAL_PORT_RANGE "
				   "per socket");
	else
		snprintf(buf, len, "many live connections to one destination: pool them, or "
				   "add local addresses / destinations, or widen "
				   "net.ipv4.ip_local_port_range");
	return buf;
}

void headroom_print_dest_header(FILE *f, const char *indent)
{
	fprintf(f, "%s%-11s %-16s %-26s %6s %9s %7s %6s %7s %9s %12s  %s\n", indent, "NETNS",
		"LOCAL", "REMOTE", "IN_USE", "TIME_WAIT", "USABLE", "FREE", "USED", "GROWTH/s",
		"EXHAUSTED_IN", "TOP HOLDERS comm/pid:ports");
}

void headroom_print_dest(FILE *f, const struct dest *d, const char *indent)
{
	char la[48], rep[64], comm[PL_COMM_LEN], eta[32] = "-";

	/* full already: "now", not a duration of 0ns */
	if (d->exhausted_in == 0)
		snprintf(eta, sizeof(eta), "now");
	else if (d->exhausted_in > 0)
		dur_str((__u64)(d->exhausted_in * 1e9), eta, sizeof(eta));
	fprintf(f, "%s%-11u %-16s %-26s %6u %9u %7u %6u %6.1f%% %+9.1f %12s", indent, d->netns,
		addr_str(d->family, d->laddr, la, sizeof(la)),
		endpoint_str(d->family, d->raddr, d->rport, rep, sizeof(rep)), d->in_use,
		d->time_wait, d->usable, d->free, d->used_pct, d->growth, eta);
	for (int i = 0; i < 3 && d->top[i].n; i++) {
		holder_comm(d->top[i].comm, comm, sizeof(comm));
		fprintf(f, "%s%s/%u:%u", i ? "," : "  ", d->top[i].pid ? comm : "?", d->top[i].pid,
			d->top[i].n);
	}
	fprintf(f, "\n");
}

void headroom_json_dest(struct jw *w, const struct dest *d)
{
	jw_ku64(w, "netns", d->netns);
	jw_ku64(w, "family", d->family == AF_INET6 ? 6 : 4);
	jw_kaddr(w, "laddr", d->family, d->laddr);
	jw_kaddr(w, "raddr", d->family, d->raddr);
	jw_ku64(w, "rport", d->rport);
	jw_ku64(w, "in_use", d->in_use);
	jw_ku64(w, "time_wait", d->time_wait);
	jw_ku64(w, "tw_reusable", d->tw_reusable);
	jw_ku64(w, "usable", d->usable);
	jw_ku64(w, "free", d->free);
	jw_kdouble(w, "used_pct", d->used_pct, 2);
	jw_kdouble(w, "growth_per_s", d->growth, 2);
	if (d->exhausted_in >= 0)
		jw_kdouble(w, "exhausted_in_s", d->exhausted_in, 1);
	else
		jw_knull(w, "exhausted_in_s");
	jw_key(w, "holders");
	jw_arr(w);
	for (int k = 0; k < 3 && d->top[k].n; k++) {
		jw_obj(w);
		jw_ku64(w, "pid", d->top[k].pid);
		jw_kstrn(w, "comm", d->top[k].comm, PL_COMM_LEN);
		jw_ku64(w, "ports", d->top[k].n);
		jw_ku64(w, "time_wait", d->top[k].tw);
		jw_end(w);
	}
	jw_end(w);
}

void headroom_print(FILE *f, const struct dest *dv, size_t nd, const struct bind_room *bv,
		    size_t nb, bool json, __u32 netns, size_t max)
{
	char la[48], buf[256];

	if (nd > max)
		nd = max;
	if (json) {
		struct lbuf b = {};
		struct jw w;

		for (size_t i = 0; i < nd; i++) {
			if (netns && dv[i].netns != netns)
				continue;
			jw_begin(&w, &b);
			jw_obj(&w);
			jw_kstr(&w, "event", "headroom");
			headroom_json_dest(&w, &dv[i]);
			jw_kstr(&w, "remedy", dest_remedy(&dv[i], buf, sizeof(buf)));
			jw_line(&w, f);
		}
		for (size_t i = 0; i < nb; i++) {
			if (netns && bv[i].netns != netns)
				continue;
			jw_begin(&w, &b);
			jw_obj(&w);
			jw_kstr(&w, "event", "bind_headroom");
			jw_ku64(&w, "netns", bv[i].netns);
			jw_kstr(&w, "proto", bv[i].proto == IPPROTO_UDP ? "udp" : "tcp");
			jw_ku64(&w, "range_lo", bv[i].lo);
			jw_ku64(&w, "range_hi", bv[i].hi);
			jw_ku64(&w, "reserved", bv[i].reserved);
			jw_ku64(&w, "in_use", bv[i].in_use);
			jw_ku64(&w, "free", bv[i].free);
			jw_line(&w, f);
		}
		lbuf_free(&b);
		return;
	}
	fprintf(f, "connect() headroom per destination (ephemeral ports in use, TIME_WAIT included):\n");
	headroom_print_dest_header(f, "");
	for (size_t i = 0; i < nd; i++)
		if (!netns || dv[i].netns == netns)
			headroom_print_dest(f, &dv[i], "");
	if (!nd)
		fprintf(f, "(no connections on ephemeral ports)\n");
	{
		__u64 reusable = 0;

		for (size_t i = 0; i < nd; i++)
			if (!netns || dv[i].netns == netns)
				reusable += dv[i].tw_reusable;
		/* FREE above IN_USE's complement: say why, once */
		if (reusable)
			fprintf(f, "(FREE counts %llu TIME_WAIT port%s that net.ipv4.tcp_tw_reuse lets "
				   "the next connect() to the destination take over)\n",
				(unsigned long long)reusable, reusable == 1 ? "" : "s");
	}
	if (nd && dv[0].used_pct >= 50)
		fprintf(f, "remedy for %s: %s\n",
			endpoint_str(dv[0].family, dv[0].raddr, dv[0].rport, la, sizeof(la)),
			dest_remedy(&dv[0], buf, sizeof(buf)));
	if (!nb)
		return;
	fprintf(f, "\nbind(0) headroom per netns (UDP's also that of a first send or connect()):\n"
		   "%-11s %-5s %-13s %8s %7s %7s\n", "NETNS", "PROTO", "RANGE", "RESERVED",
		"IN_USE", "FREE");
	for (size_t i = 0; i < nb; i++) {
		if (netns && bv[i].netns != netns)
			continue;
		snprintf(buf, sizeof(buf), "%u-%u", bv[i].lo, bv[i].hi);
		fprintf(f, "%-11u %-5s %-13s %8u %7u %7u\n", bv[i].netns,
			bv[i].proto == IPPROTO_UDP ? "udp" : "tcp", buf, bv[i].reserved,
			bv[i].in_use, bv[i].free);
	}
}
