// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "headroom.h"

#define TCP_LISTEN 10
#define TCP_TIME_WAIT 6

static bool in_range(const struct ns_info *ns, __u16 port)
{
	return ns && port >= ns->lo && port <= ns->hi;
}

static bool same_dest(const struct dest *d, __u32 netns, int family, const __u8 *laddr,
		      const __u8 *raddr, __u16 rport)
{
	return d->netns == netns && d->family == family && d->rport == rport &&
	       !memcmp(d->laddr, laddr, 16) && !memcmp(d->raddr, raddr, 16);
}

const struct dest *headroom_find(const struct dest *dv, size_t nd, __u32 netns, int family,
				 const __u8 *laddr, const __u8 *raddr, __u16 rport)
{
	for (size_t i = 0; i < nd; i++)
		if (same_dest(&dv[i], netns, family, laddr, raddr, rport))
			return &dv[i];
	return NULL;
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
	d->top[slot].tw += e->r.state == TCP_TIME_WAIT;
}

int headroom(const struct snapshot *s, const struct snapshot *prev, struct dest **dvp, size_t *ndp,
	     struct bind_room **bvp, size_t *nbp)
{
	struct dest *dv = NULL, *nv;
	struct bind_room *bv;
	size_t nd = 0, cap = 0;
	__u8 *bound, *used;

	*dvp = NULL;
	*bvp = NULL;
	*ndp = *nbp = 0;
	bv = calloc(s->nns ? s->nns : 1, sizeof(*bv));
	bound = calloc(s->nns ? s->nns : 1, 65536 / 8);
	used = calloc(s->nns ? s->nns : 1, 65536 / 8);
	if (!bv || !bound || !used) {
		free(bv);
		free(bound);
		free(used);
		return -ENOMEM;
	}

	/*
	 * Per netns: ports held by bind() (listening, or bound with no remote
	 * end) and ports used at all.
	 */
	for (size_t i = 0; i < s->n; i++) {
		const struct pl_sock_rec *r = &s->v[i].r;
		size_t k;

		for (k = 0; k < s->nns && s->ns[k].inum != r->netns; k++)
			;
		if (k == s->nns || r->proto != 6)
			continue;
		used[k * 8192 + r->lport / 8] |= 1 << (r->lport % 8);
		if (!r->rport || r->state == TCP_LISTEN)
			bound[k * 8192 + r->lport / 8] |= 1 << (r->lport % 8);
	}
	for (size_t k = 0; k < s->nns; k++) {
		const struct ns_info *ns = &s->ns[k];
		__u32 nused = 0;

		for (unsigned int p = ns->lo; p <= ns->hi; p++)
			if (!ns_reserved(ns, p))
				nused += !!(used[k * 8192 + p / 8] & (1 << (p % 8)));
		bv[k].netns = ns->inum;
		bv[k].lo = ns->lo;
		bv[k].hi = ns->hi;
		bv[k].reserved = ns->nreserved;
		bv[k].in_use = nused;
		bv[k].free = (ns->hi - ns->lo + 1) - ns->nreserved - nused;
	}

	/* Destinations: connected TCP sockets on an ephemeral port. */
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_ent *e = &s->v[i];
		const struct pl_sock_rec *r = &e->r;
		const struct ns_info *ns = snapshot__ns(s, r->netns);
		struct dest *d = NULL;

		size_t k;

		if (r->proto != 6 || !r->rport || r->state == TCP_LISTEN || !in_range(ns, r->lport) ||
		    ns_reserved(ns, r->lport))
			continue;
		/* A listener's accepted sockets share its port: no connect() made them. */
		for (k = 0; k < s->nns && s->ns[k].inum != r->netns; k++)
			;
		if (bound[k * 8192 + r->lport / 8] & (1 << (r->lport % 8)))
			continue;
		for (size_t k = 0; k < nd && !d; k++)
			if (same_dest(&dv[k], r->netns, r->family, r->laddr, r->raddr, r->rport))
				d = &dv[k];
		if (!d) {
			if (nd == cap) {
				cap = cap ? cap * 2 : 64;
				nv = realloc(dv, cap * sizeof(*dv));
				if (!nv)
					break;
				dv = nv;
			}
			d = &dv[nd++];
			memset(d, 0, sizeof(*d));
			d->netns = r->netns;
			d->family = r->family;
			memcpy(d->laddr, r->laddr, 16);
			memcpy(d->raddr, r->raddr, 16);
			d->rport = r->rport;
		}
		d->in_use++;
		d->time_wait += r->state == TCP_TIME_WAIT;
		add_holder(d, e);
	}
	struct dest *pdv = NULL;
	struct bind_room *pbv = NULL;
	size_t pnd = 0, pnb = 0;

	if (prev && s->ts_ns > prev->ts_ns && headroom(prev, NULL, &pdv, &pnd, &pbv, &pnb))
		prev = NULL;
	for (size_t i = 0; i < nd; i++) {
		struct dest *d = &dv[i];
		size_t k;
		__u32 nbound = 0;

		for (k = 0; k < s->nns && s->ns[k].inum != d->netns; k++)
			;
		for (unsigned int p = s->ns[k].lo; p <= s->ns[k].hi; p++)
			if (!ns_reserved(&s->ns[k], p) && (bound[k * 8192 + p / 8] & (1 << (p % 8))))
				nbound++;
		d->usable = (s->ns[k].hi - s->ns[k].lo + 1) - s->ns[k].nreserved - nbound;
		d->free = d->usable > d->in_use ? d->usable - d->in_use : 0;
		d->used_pct = d->usable ? 100.0 * d->in_use / d->usable : 100.0;
		d->exhausted_in = -1;
		if (prev && s->ts_ns > prev->ts_ns) {
			const struct dest *pd = headroom_find(pdv, pnd, d->netns, d->family, d->laddr,
							      d->raddr, d->rport);

			d->growth = ((double)d->in_use - (pd ? pd->in_use : 0)) /
				    ((s->ts_ns - prev->ts_ns) / 1e9);
			if (d->growth > 0)
				d->exhausted_in = d->free / d->growth;
		}
	}
	free(pdv);
	free(pbv);
	(void)pnb;
	qsort(dv, nd, sizeof(*dv), by_used);
	free(bound);
	free(used);
	*dvp = dv;
	*ndp = nd;
	*bvp = bv;
	*nbp = s->nns;
	return 0;
}
