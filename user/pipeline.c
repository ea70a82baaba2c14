// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "pipeline.h"

void pipeline__init(struct pipeline *p, struct lease_table *t, struct agg *a)
{
	memset(p, 0, sizeof(*p));
	p->leases = t;
	p->agg = a;
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
		p->rec_err = tracefile_write(p->rec, e);
	lease_table__apply(p->leases, e, &r);
	agg__apply(p->agg, e, &r);
	if (r.what == LW_NONE && e->type != PL_EV_ALLOC)
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
