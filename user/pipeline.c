// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pipeline.h"

void pipeline__init(struct pipeline *p, struct lease_table *t, struct agg *a)
{
	memset(p, 0, sizeof(*p));
	p->leases = t;
	p->agg = a;
}

void pipeline__free(struct pipeline *p)
{
	free(p->cg_seen);
	p->cg_seen = NULL;
	p->cg_n = p->cg_cap = 0;
}

static size_t cg_slot(__u64 id, size_t cap)
{
	return (id * 0x9e3779b97f4a7c15ULL >> 17) & (cap - 1);
}

/* Adds id to the set; true if it was new. Out of memory: say new (a path twice is harmless). */
static bool cg_new(struct pipeline *p, __u64 id)
{
	size_t s;

	if (p->cg_n * 2 >= p->cg_cap) {
		size_t cap = p->cg_cap ? p->cg_cap * 2 : 256;
		__u64 *nv = calloc(cap, sizeof(*nv));

		if (!nv)
			return true;
		for (size_t i = 0; i < p->cg_cap; i++)
			if (p->cg_seen[i]) {
				for (s = cg_slot(p->cg_seen[i], cap); nv[s]; s = (s + 1) & (cap - 1))
					;
				nv[s] = p->cg_seen[i];
			}
		free(p->cg_seen);
		p->cg_seen = nv;
		p->cg_cap = cap;
	}
	for (s = cg_slot(id, p->cg_cap); p->cg_seen[s]; s = (s + 1) & (p->cg_cap - 1))
		if (p->cg_seen[s] == id)
			return false;
	p->cg_seen[s] = id;
	p->cg_n++;
	return true;
}

static int record(struct pipeline *p, const struct pl_event *e)
{
	char path[PL_CGPATH_MAX + 1];
	int err = 0;

	if (e->cgroup_id && cg_new(p, e->cgroup_id))
		err = tracefile_write_cgroup(p->rec, e->cgroup_id,
					     cgpath_src_get(&p->cgroups, e->cgroup_id, path,
							    sizeof(path)) ? NULL : path);
	return err ? err : tracefile_write(p->rec, e);
}

void pipeline__add_sink(struct pipeline *p, sink_fn fn, void *ctx)
{
	if (p->nsinks == PIPELINE_MAX_SINKS)
		return;
	p->sinks[p->nsinks].fn = fn;
	p->sinks[p->nsinks].ctx = ctx;
	p->nsinks++;
}

/*
 * Every event carries its lease owner's pid, comm and family, so these
 * filters keep or drop whole leases.
 */
bool pipeline__wanted(const struct pipeline_filter *f, const struct pl_event *e)
{
	if (f->pid && e->pid != f->pid)
		return false;
	if (f->has_comm && strncmp(e->comm, f->comm, sizeof(f->comm)))
		return false;
	if (f->family && e->family != f->family)
		return false;
	return true;
}

int pipeline__event(struct pipeline *p, const struct pl_event *e)
{
	struct lease_result r;
	struct pl_event shown;
	const struct pl_event *out = e;

	if (!pipeline__wanted(&p->filt, e))
		return 0;
	if (!p->first_ts || e->ts_ns < p->first_ts)
		p->first_ts = e->ts_ns;
	if (e->ts_ns > p->last_ts)
		p->last_ts = e->ts_ns;
	if (p->rec && !p->rec_err)
		p->rec_err = record(p, e);
	lease_table__apply(p->leases, e, &r);
	agg__apply(p->agg, e, &r);
	/* nothing new: shown only if it is news by itself (a failure, a repeated ALLOC) */
	if (r.what == LW_NONE && e->type != PL_EV_ALLOC && e->type != PL_EV_BIND_ERROR)
		return p->rec_err;
	if (r.lease && e->type != PL_EV_ALLOC && (r.lease->flags & L_ALLOCATED)) {
		/* At CLOSE the kernel has zeroed the socket's port already: show the lease's. */
		shown = *e;
		shown.lport = r.lease->lport;
		shown.rport = r.lease->rport;
		memcpy(shown.laddr, r.lease->laddr, sizeof(shown.laddr));
		memcpy(shown.raddr, r.lease->raddr, sizeof(shown.raddr));
		out = &shown;
	}
	for (int i = 0; i < p->nsinks; i++)
		p->sinks[i].fn(p->sinks[i].ctx, out, &r);
	return p->rec_err;
}
