// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NAT headroom from the stream of NAT records: live (nat.c feeds it through
 * the pipeline) and in `report` (the trace feeds it), the same code, so the
 * numbers agree. A conntrack entry's reply tuple must be unique, and nf_nat
 * varies only the NAT port: so a destination (protocol, address, port) seen
 * from one NAT address can hold as many translations as the range has ports.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "json.h"
#include "nat.h"
#include "util.h"

#define WARN_SLOTS 64

struct nat_view {
	struct nat_dest *v;
	size_t n, max;
	__s32 *slot;		/* open addressing: index into v, -1 empty */
	size_t nslots;
	__u64 seed;
	__u64 count_only;	/* failures with no tuple (conntrack statistics) */
	__u64 dropped;		/* records for destinations past max */
	__u64 unattributed;	/* NEW records with no owner */
	struct { struct nat_dest d; __u64 ts; } warned[WARN_SLOTS];
	bool any;
};

struct nat_view *nat_view__new(size_t max)
{
	struct nat_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->max = max ? max : 1;
	for (v->nslots = 16; v->nslots < v->max * 2; v->nslots <<= 1)
		;
	v->v = calloc(v->max, sizeof(*v->v));
	v->slot = malloc(v->nslots * sizeof(*v->slot));
	if (!v->v || !v->slot) {
		nat_view__free(v);
		errno = ENOMEM;
		return NULL;
	}
	memset(v->slot, 0xff, v->nslots * sizeof(*v->slot));
	/* keyed: destinations in a trace are anybody's choice */
	v->seed = (__u64)(uintptr_t)v * 0x9e3779b97f4a7c15ULL ^ 0x5bd1e995;
	return v;
}

void nat_view__free(struct nat_view *v)
{
	if (!v)
		return;
	free(v->v);
	free(v->slot);
	free(v);
}

static size_t key_hash(const struct nat_view *v, const struct pl_nat_rec *n)
{
	__u64 h = v->seed ^ n->nat_netns ^ ((__u64)n->rport << 32) ^ ((__u64)n->proto << 48) ^
		  ((__u64)n->family << 56);

	for (int i = 0; i < 16; i += 8) {
		__u64 a, b;

		memcpy(&a, n->nat_addr + i, 8);
		memcpy(&b, n->raddr + i, 8);
		h = (h ^ a) * 0xff51afd7ed558ccdULL;
		h = (h ^ (h >> 29) ^ b) * 0xc4ceb9fe1a85ec53ULL;
	}
	h ^= h >> 32;
	return h & (v->nslots - 1);
}

static bool same(const struct nat_dest *d, const struct pl_nat_rec *n)
{
	return d->nat_netns == n->nat_netns && d->proto == n->proto && d->family == n->family &&
	       d->rport == n->rport && !memcmp(d->nat_addr, n->nat_addr, 16) &&
	       !memcmp(d->raddr, n->raddr, 16);
}

static struct nat_dest *dest_of(struct nat_view *v, const struct pl_nat_rec *n, bool create)
{
	size_t s = key_hash(v, n);
	struct nat_dest *d;

	for (; v->slot[s] >= 0; s = (s + 1) & (v->nslots - 1))
		if (same(&v->v[v->slot[s]], n))
			return &v->v[v->slot[s]];
	if (!create)
		return NULL;
	if (v->n == v->max) {
		v->dropped++;
		return NULL;
	}
	d = &v->v[v->n];
	memset(d, 0, sizeof(*d));
	d->nat_netns = n->nat_netns;
	d->proto = n->proto;
	d->family = n->family;
	d->rport = n->rport;
	memcpy(d->nat_addr, n->nat_addr, 16);
	memcpy(d->raddr, n->raddr, 16);
	d->exhausted_in = -1;
	v->slot[s] = (__s32)v->n++;
	return d;
}

static void holder(struct nat_dest *d, const struct pl_nat_rec *n, int delta)
{
	int slot = -1;

	for (int i = 0; i < NAT_HOLDERS; i++) {
		if (d->top[i].n && d->top[i].pid == n->pid &&
		    !strncmp(d->top[i].comm, n->comm, PL_COMM_LEN)) {
			slot = i;
			break;
		}
		if (!d->top[i].n && slot < 0 && delta > 0)
			slot = i;
	}
	if (slot < 0) {
		/* a holder beyond the slots: counted as others */
		if (delta > 0)
			d->other_holders++;
		else if (d->other_holders)
			d->other_holders--;
		return;
	}
	if (delta > 0) {
		d->top[slot].pid = n->pid;
		memcpy(d->top[slot].comm, n->comm, PL_COMM_LEN);
		d->top[slot].n++;
	} else if (d->top[slot].n) {
		d->top[slot].n--;
	}
}

static void refresh(struct nat_dest *d)
{
	d->usable = (__u32)d->range_hi - d->range_lo + (d->range_hi ? 1 : 0);
	d->free = d->usable > d->in_use ? d->usable - d->in_use : 0;
	d->used_pct = d->usable ? 100.0 * d->in_use / d->usable : 0;
}

void nat_view__apply(struct nat_view *v, const struct pl_nat_rec *n)
{
	struct nat_dest *d;

	v->any = true;
	v->unattributed += n->kind == PL_NAT_NEW && !(n->flags & PL_NATF_OWNED);
	if (n->flags & PL_NATF_COUNT_ONLY) {
		v->count_only += n->n;
		return;
	}
	/* dropped with its port free, or an insert race: nothing about this destination's pool */
	if (n->flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW))
		return;
	d = dest_of(v, n, n->kind != PL_NAT_END);
	if (!d)
		return;
	if (n->kind != PL_NAT_END && n->range_hi) {
		d->range_lo = n->range_lo;
		d->range_hi = n->range_hi;
	}
	switch (n->kind) {
	case PL_NAT_NEW:
	case PL_NAT_SEEN:
		d->in_use++;
		d->taken += n->kind == PL_NAT_NEW;
		holder(d, n, 1);
		break;
	case PL_NAT_END:
		if (d->in_use)
			d->in_use--;
		holder(d, n, -1);
		break;
	case PL_NAT_FAIL:
		d->failures += n->n;
		break;
	}
	refresh(d);
}

void nat_view__sample(struct nat_view *v, __u64 ts)
{
	for (size_t i = 0; i < v->n; i++) {
		struct nat_dest *d = &v->v[i];

		d->exhausted_in = -1;
		d->growth = 0;
		if (d->prev_ts && ts > d->prev_ts) {
			d->growth = ((double)d->in_use - d->prev_in_use) / ((ts - d->prev_ts) / 1e9);
			if (d->growth > 0)
				d->exhausted_in = d->free / d->growth;
		}
		d->prev_in_use = d->in_use;
		d->prev_ts = ts;
	}
}

void nat_view__growth_from(struct nat_view *v, struct nat_view *prev, __u64 prev_ts, __u64 now_ts)
{
	for (size_t i = 0; i < v->n; i++) {
		struct nat_dest *d = &v->v[i], *p;
		struct pl_nat_rec key = { .nat_netns = d->nat_netns, .proto = d->proto,
					  .family = d->family, .rport = d->rport };

		memcpy(key.nat_addr, d->nat_addr, 16);
		memcpy(key.raddr, d->raddr, 16);
		p = dest_of(prev, &key, false);
		d->prev_in_use = p ? p->in_use : 0;
		d->prev_ts = prev_ts;
	}
	nat_view__sample(v, now_ts);
}

static int by_used(const void *a, const void *b)
{
	const struct nat_dest *x = a, *y = b;

	if (x->used_pct != y->used_pct)
		return x->used_pct < y->used_pct ? 1 : -1;
	if (x->failures != y->failures)
		return x->failures < y->failures ? 1 : -1;
	return x->in_use < y->in_use ? 1 : x->in_use > y->in_use ? -1 : 0;
}

struct nat_dest *nat_view__sorted(const struct nat_view *v, size_t *n)
{
	struct nat_dest *c = malloc((v->n ? v->n : 1) * sizeof(*c));

	*n = 0;
	if (!c)
		return NULL;
	memcpy(c, v->v, v->n * sizeof(*c));
	qsort(c, v->n, sizeof(*c), by_used);
	*n = v->n;
	return c;
}

__u64 nat_view__count_only(const struct nat_view *v)
{
	return v->count_only;
}

__u64 nat_view__dests_dropped(const struct nat_view *v)
{
	return v->dropped;
}

__u64 nat_view__unattributed(const struct nat_view *v)
{
	return v->unattributed;
}

bool nat_view__any(const struct nat_view *v)
{
	return v && v->any;
}

/* ---- printing ------------------------------------------------------------ */

const char *nat_dest_remedy(const struct nat_dest *d, char *buf, size_t len)
{
	snprintf(buf, len, "the NAT has %u ports for this destination: add SNAT addresses "
		 "(snat to a range of addresses), widen the rule's port range%s, reuse "
		 "connections (keep-alive, pooling) in the processes that hold them, or where "
		 "safe shorten net.netfilter.nf_conntrack_tcp_timeout_time_wait (entries of "
		 "closed flows hold their port until it runs out)", d->usable,
		 d->usable < 64512 ? " (the default is 1024-65535)" : "");
	return buf;
}

static void holders_text(const struct nat_dest *d, char *buf, size_t len)
{
	char comm[PL_COMM_LEN];
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < NAT_HOLDERS && off < len; i++) {
		if (!d->top[i].n)
			continue;
		holder_comm(d->top[i].comm, comm, sizeof(comm));
		off += snprintf(buf + off, len - off, "%s%s/%u:%u", off ? "," : "",
				d->top[i].pid ? comm : "?", d->top[i].pid, d->top[i].n);
	}
	if (d->other_holders && off < len)
		snprintf(buf + off, len - off, "%sothers:%u", off ? "," : "", d->other_holders);
}

static void json_dest(struct jw *w, const struct nat_dest *d)
{
	jw_ku64(w, "nat_netns", d->nat_netns);
	jw_kstr(w, "proto", d->proto == IPPROTO_UDP ? "udp" : "tcp");
	jw_ku64(w, "family", d->family == AF_INET6 ? 6 : 4);
	jw_kaddr(w, "nat_addr", d->family, d->nat_addr);
	jw_kaddr(w, "raddr", d->family, d->raddr);
	jw_ku64(w, "rport", d->rport);
	jw_ku64(w, "range_lo", d->range_lo);
	jw_ku64(w, "range_hi", d->range_hi);
	jw_ku64(w, "in_use", d->in_use);
	jw_ku64(w, "usable", d->usable);
	jw_ku64(w, "free", d->free);
	jw_kdouble(w, "used_pct", d->used_pct, 2);
	jw_ku64(w, "failures", d->failures);
	jw_kdouble(w, "growth_per_s", d->growth, 2);
	if (d->exhausted_in >= 0)
		jw_kdouble(w, "exhausted_in_s", d->exhausted_in, 1);
	else
		jw_knull(w, "exhausted_in_s");
	jw_key(w, "holders");
	jw_arr(w);
	for (int k = 0; k < NAT_HOLDERS; k++) {
		if (!d->top[k].n)
			continue;
		jw_obj(w);
		jw_ku64(w, "pid", d->top[k].pid);
		jw_kstrn(w, "comm", d->top[k].comm, PL_COMM_LEN);
		jw_ku64(w, "ports", d->top[k].n);
		jw_end(w);
	}
	jw_end(w);
	jw_ku64(w, "other_holders", d->other_holders);
}

void nat_dest_line(const struct nat_dest *d, char *buf, size_t len)
{
	char na[48], ep[64], h[128];

	holders_text(d, h, sizeof(h));
	snprintf(buf, len, "  NAT %-15s -> %-24s %5.1f%% used  %5u of %-5u  %llu failed  %s",
		 addr_str(d->family, d->nat_addr, na, sizeof(na)),
		 endpoint_str(d->family, d->raddr, d->rport, ep, sizeof(ep)), d->used_pct,
		 d->in_use, d->usable, (unsigned long long)d->failures, h);
}

void nat_print(FILE *f, const struct nat_dest *dv, size_t nd, bool json, size_t max)
{
	char na[48], ep[64], h[160], eta[32], buf[512];

	if (nd > max)
		nd = max;
	if (json) {
		struct lbuf b = {};
		struct jw w;

		for (size_t i = 0; i < nd; i++) {
			jw_begin(&w, &b);
			jw_obj(&w);
			jw_kstr(&w, "event", "nat_headroom");
			json_dest(&w, &dv[i]);
			jw_kstr(&w, "remedy", nat_dest_remedy(&dv[i], buf, sizeof(buf)));
			jw_line(&w, f);
		}
		lbuf_free(&b);
		return;
	}
	fprintf(f, "NAT headroom per (NAT address, destination) (translations alive now):\n");
	fprintf(f, "%-11s %-5s %-16s %-26s %-11s %6s %6s %6s %7s %8s %9s %12s  %s\n", "NAT_NETNS",
		"PROTO", "NAT_ADDR", "REMOTE", "RANGE", "IN_USE", "USABLE", "FREE", "USED",
		"FAILURES", "GROWTH/s", "EXHAUSTED_IN", "TOP HOLDERS comm/pid:ports");
	for (size_t i = 0; i < nd; i++) {
		const struct nat_dest *d = &dv[i];
		char range[16];

		snprintf(eta, sizeof(eta), "-");
		if (d->exhausted_in == 0)
			snprintf(eta, sizeof(eta), "now");
		else if (d->exhausted_in > 0)
			dur_str((__u64)(d->exhausted_in * 1e9), eta, sizeof(eta));
		snprintf(range, sizeof(range), "%u-%u", d->range_lo, d->range_hi);
		holders_text(d, h, sizeof(h));
		fprintf(f, "%-11u %-5s %-16s %-26s %-11s %6u %6u %6u %6.1f%% %8llu %+9.1f %12s  %s\n",
			d->nat_netns, proto_family_str(d->proto, d->family),
			addr_str(d->family, d->nat_addr, na, sizeof(na)),
			endpoint_str(d->family, d->raddr, d->rport, ep, sizeof(ep)), range, d->in_use,
			d->usable, d->free, d->used_pct, (unsigned long long)d->failures, d->growth,
			eta, h);
	}
	if (!nd)
		fprintf(f, "(no NAT translations)\n");
	if (nd && (dv[0].used_pct >= 50 || dv[0].failures))
		fprintf(f, "remedy for %s via %s: %s\n",
			endpoint_str(dv[0].family, dv[0].raddr, dv[0].rport, ep, sizeof(ep)),
			addr_str(dv[0].family, dv[0].nat_addr, na, sizeof(na)),
			nat_dest_remedy(&dv[0], buf, sizeof(buf)));
}

static bool same_dest(const struct nat_dest *a, const struct nat_dest *b)
{
	return a->nat_netns == b->nat_netns && a->proto == b->proto && a->rport == b->rport &&
	       !memcmp(a->raddr, b->raddr, 16) && !memcmp(a->nat_addr, b->nat_addr, 16);
}

void nat_view__warn(struct nat_view *v, double pct, FILE *f, bool json, __u64 now)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct nat_dest *d = &v->v[i];
		char na[48], ep[64], buf[512], line[320];
		int slot = -1;

		if (!d->usable || d->used_pct < pct)
			continue;
		/* once a minute per destination, as for the connect() headroom */
		for (int k = 0; k < WARN_SLOTS && slot < 0; k++)
			if (v->warned[k].ts && same_dest(&v->warned[k].d, d))
				slot = k;
		if (slot >= 0 && now - v->warned[slot].ts < 60000000000ULL)
			continue;
		for (int k = 0; k < WARN_SLOTS && slot < 0; k++)
			if (!v->warned[k].ts || now - v->warned[k].ts >= 60000000000ULL)
				slot = k;
		if (slot >= 0) {
			v->warned[slot].d = *d;
			v->warned[slot].ts = now;
		}
		nat_dest_remedy(d, buf, sizeof(buf));
		if (json) {
			struct lbuf b = {};
			struct jw w;

			jw_begin(&w, &b);
			jw_obj(&w);
			jw_kstr(&w, "event", "warn");
			jw_kstr(&w, "kind", "nat");
			json_dest(&w, d);
			jw_kstr(&w, "remedy", buf);
			jw_line(&w, f);
			lbuf_free(&b);
		} else {
			fprintf(f, "!! WARNING NAT %s -> %s uses %.1f%% of its ports (%u of %u, "
				   "%llu failed)\n", addr_str(d->family, d->nat_addr, na, sizeof(na)),
				endpoint_str(d->family, d->raddr, d->rport, ep, sizeof(ep)),
				d->used_pct, d->in_use, d->usable, (unsigned long long)d->failures);
			nat_dest_line(d, line, sizeof(line));
			fprintf(f, "   %s\n   remedy: %s\n", line, buf);
		}
	}
}
