// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "nat.h"
#include "pipeline.h"
#include "util.h"

void pipeline__init(struct pipeline *p, struct lease_table *t, struct agg *a)
{
	memset(p, 0, sizeof(*p));
	p->leases = t;
	p->agg = a;
}

static void idset_free(struct idset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void pipeline__free(struct pipeline *p)
{
	idset_free(&p->cg_seen);
	idset_free(&p->names_seen);
}

static size_t id_slot(__u64 id, size_t cap)
{
	return (id * 0x9e3779b97f4a7c15ULL >> 17) & (cap - 1);
}

/* Adds id (non-zero) to s; true if it was new. Out of memory: say new (a record twice is harmless). */
static bool idset_add(struct idset *s, __u64 id)
{
	size_t k;

	if (s->n * 2 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		__u64 *nv = calloc(cap, sizeof(*nv));

		if (!nv)
			return true;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				for (k = id_slot(s->v[i], cap); nv[k]; k = (k + 1) & (cap - 1))
					;
				nv[k] = s->v[i];
			}
		free(s->v);
		s->v = nv;
		s->cap = cap;
	}
	for (k = id_slot(id, s->cap); s->v[k]; k = (k + 1) & (s->cap - 1))
		if (s->v[k] == id)
			return false;
	s->v[k] = id;
	s->n++;
	return true;
}

static bool idset_has(const struct idset *s, __u64 id)
{
	if (!s->cap)
		return false;
	for (size_t k = id_slot(id, s->cap); s->v[k]; k = (k + 1) & (s->cap - 1))
		if (s->v[k] == id)
			return true;
	return false;
}

/*
 * A cgroup's path goes into the trace before the first event naming it; its
 * pod names once the kubelet's files have told them, which may be later.
 */
static int record_cgroup(struct pipeline *p, __u64 id)
{
	char path[PL_CGPATH_MAX + 1];
	const struct container *ct;
	int err = 0;

	if (idset_add(&p->cg_seen, id))
		err = tracefile_write_cgroup(p->rec, id, cgpath_src_get(&p->cgroups, id, path,
									 sizeof(path)) ? NULL : path);
	if (err || id == p->names_done_cg || idset_has(&p->names_seen, id))
		return err;
	ct = container_src__get(&p->ctrs, id);
	if (!ct || !ct->pod_uid[0]) {
		p->names_done_cg = id;	/* no pod: nothing to name */
		return 0;
	}
	if (!ct->pod[0])
		return 0;		/* not named yet: ask again at its next event */
	idset_add(&p->names_seen, id);
	p->names_done_cg = id;
	return tracefile_write_names(p->rec, id, ct->namespace, ct->pod, ct->name);
}

static int record(struct pipeline *p, const struct pl_event *e)
{
	int err = e->cgroup_id ? record_cgroup(p, e->cgroup_id) : 0;

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

void pipeline__add_nat_sink(struct pipeline *p, nat_sink_fn fn, void *ctx)
{
	if (p->n_nat_sinks == 4)
		return;
	p->nat_sinks[p->n_nat_sinks].fn = fn;
	p->nat_sinks[p->n_nat_sinks].ctx = ctx;
	p->n_nat_sinks++;
}

int pipeline__nat(struct pipeline *p, const struct pl_nat_rec *n)
{
	const struct pipeline_filter *f = &p->filt;
	int err;

	/* a translation belongs to its owner: -p and -c keep or drop it with its leases */
	if ((f->pid && n->pid != f->pid) ||
	    (f->has_comm && strncmp(n->comm, f->comm, sizeof(f->comm))) ||
	    (f->family && n->family && n->family != f->family))
		return 0;
	if (p->rec && !p->rec_err) {
		err = n->cgroup_id ? record_cgroup(p, n->cgroup_id) : 0;
		p->rec_err = err ? err : tracefile_write_nat(p->rec, n);
	}
	if (p->nat)
		nat_view__apply(p->nat, n);
	agg__nat(p->agg, n);
	for (int i = 0; i < p->n_nat_sinks; i++)
		p->nat_sinks[i].fn(p->nat_sinks[i].ctx, n);
	return p->rec_err;
}

/*
 * The family of an event's traffic: an IPv6 socket on v4-mapped addresses
 * carries IPv4 (a JVM's sockets are dual-stack: its IPv4 connections are
 * AF_INET6 sockets to ::ffff:a.b.c.d), so -4 keeps it and -6 does not. One
 * on [::] with no peer (a dual-stack listener, a bind(0) before connect())
 * may carry either: 0, both filters keep it.
 */
int pipeline__traffic_family(const struct pl_event *e)
{
	static const __u8 any[16];

	if (e->family != AF_INET6)
		return e->family;
	if (addr_v4mapped(e->laddr) || addr_v4mapped(e->raddr))
		return AF_INET;
	if (!memcmp(e->laddr, any, sizeof(any)) && !memcmp(e->raddr, any, sizeof(any)))
		return 0;
	return AF_INET6;
}

/*
 * Every event carries its lease owner's pid and comm, so these filters keep
 * or drop whole leases. The family is the pipeline's (family_wanted()).
 */
bool pipeline__wanted(const struct pipeline_filter *f, const struct pl_event *e)
{
	if (f->pid && e->pid != f->pid)
		return false;
	if (f->has_comm && strncmp(e->comm, f->comm, sizeof(f->comm)))
		return false;
	return true;
}

/*
 * -4/-6 keep or drop a lease by its first event: whether a later one passes
 * them alone does not matter (bound to [::], then connected to a v4-mapped
 * peer; a UDP socket's release after connect(AF_UNSPEC) cleared its
 * addresses). An allocation, or an event with no lease, goes by itself.
 */
static bool family_wanted(struct pipeline *p, const struct pl_event *e)
{
	int family;

	if (!p->filt.family)
		return true;
	family = pipeline__traffic_family(e);
	if (family == p->filt.family)
		return true;
	/* another family, or either (no address): a lease kept already keeps it */
	if (e->type != PL_EV_ALLOC && e->lease && lease_table__find(p->leases, e->lease))
		return true;
	/* either family: only a new lease's first event can tell */
	return !family && (e->type == PL_EV_ALLOC || !e->lease);
}

int pipeline__event(struct pipeline *p, const struct pl_event *e)
{
	struct lease_result r;
	struct pl_event shown;
	const struct pl_event *out = e;

	if (!pipeline__wanted(&p->filt, e) || !family_wanted(p, e))
		return 0;
	if (!container_filter__empty(&p->filt.ctr) &&
	    !container__match(container_src__get(&p->ctrs, e->cgroup_id), &p->filt.ctr))
		return 0;
	if (!p->first_ts || e->ts_ns < p->first_ts)
		p->first_ts = e->ts_ns;
	if (e->ts_ns > p->last_ts)
		p->last_ts = e->ts_ns;
	if (p->rec && !p->rec_err)
		p->rec_err = record(p, e);
	else if (p->note_cgroups && e->cgroup_id != p->cg_noted &&
		 (p->cg_noted = e->cgroup_id) && p->cg_seen.n < PIPELINE_CG_NOTE_MAX &&
		 idset_add(&p->cg_seen, e->cgroup_id)) {
		/*
		 * A cgroup's path and container read while it lives: a summary
		 * printed later would find a short-lived one gone (-s printed
		 * none, where --json, which names the container on every line,
		 * had them). Both lookups keep what they found.
		 */
		char path[PL_CGPATH_MAX + 1];

		cgpath_src_get(&p->cgroups, e->cgroup_id, path, sizeof(path));
		container_src__get(&p->ctrs, e->cgroup_id);
	}
	lease_table__apply(p->leases, e, &r);
	agg__apply(p->agg, e, &r);
	/* nothing new: shown only if it is news by itself (a failure, a repeated ALLOC, a signal) */
	if (r.what == LW_NONE && e->type != PL_EV_ALLOC && e->type != PL_EV_BIND_ERROR &&
	    e->type != PL_EV_SIGNAL)
		return p->rec_err;
	if (r.lease && e->type != PL_EV_ALLOC &&
	    ((r.lease->flags & L_ALLOCATED) || r.lease->lport) &&
	    !(e->lport && e->lport == r.lease->lport && e->rport)) {
		/*
		 * At CLOSE the kernel has zeroed the socket's port already: show
		 * the lease's (also one's allocated before tracing, once known).
		 * An event with the whole 4-tuple on the lease's port says it
		 * as it is now: a UDP socket connect()ed again to another peer
		 * keeps its port, and its release names the peer it had last.
		 */
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
