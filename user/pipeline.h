/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one path every event takes, whoever decoded it (the ring buffer, a
 * TIME_WAIT snapshot, a trace file): filter -> record -> lease table ->
 * aggregation -> what is shown -> every output (sink). Live tracing, record,
 * top and report all run events through here, so they cannot drift apart.
 */
#ifndef PORTLIFE_PIPELINE_H
#define PORTLIFE_PIPELINE_H

#include <stdbool.h>
#include "agg.h"
#include "cgpath.h"
#include "container.h"
#include "lease.h"
#include "tracefile.h"

/*
 * -p, -c, -4/-6, --container, --pod, --namespace: applied here for every
 * source (live tracing also filters pid, comm and family in the kernel).
 */
struct pipeline_filter {
	__u32 pid;
	char comm[PL_COMM_LEN];
	bool has_comm;
	int family;		/* AF_INET, AF_INET6, or 0 for both */
	struct container_filter ctr;
};

/* An open-addressing set of non-zero ids. */
#define PIPELINE_CG_NOTE_MAX 65536

struct idset {
	__u64 *v;
	size_t n, cap;
};

/*
 * An output. 'shown' is the event as the user should see it (at CLOSE the
 * kernel has zeroed the socket's port already: it carries the lease's tuple),
 * r what the lease table made of it. Failed allocations and bind errors come
 * with r->lease NULL. Events that changed nothing (duplicates, orphans) are
 * not passed on, but for ALLOCs.
 */
typedef void (*sink_fn)(void *ctx, const struct pl_event *shown, const struct lease_result *r);

#define PIPELINE_MAX_SINKS 8

/* An output of NAT records (struct pl_nat_rec), after the filter. */
typedef void (*nat_sink_fn)(void *ctx, const struct pl_nat_rec *n);
struct nat_view;

struct pipeline {
	struct pipeline_filter filt;
	struct tracefile_writer *rec;	/* NULL: not recording */
	int rec_err;			/* the first write error; recording stopped */
	/*
	 * Recording: each cgroup's path goes into the trace before the first
	 * event naming it, looked up here (the cgroup may be gone by the time
	 * the trace is read, and read elsewhere).
	 */
	struct cgpath_src cgroups;
	struct idset cg_seen;		/* cgroups whose path is in the trace, or noted */
	/*
	 * Not recording, no event lines (-s, top): look each new cgroup up at
	 * its first event, while it exists (at most PIPELINE_CG_NOTE_MAX).
	 */
	bool note_cgroups;
	__u64 cg_noted;			/* the last event's cgroup: a storm's are one */
	/* and their Kubernetes names, once known: names come later than paths */
	struct idset names_seen;
	__u64 names_done_cg;		/* the last cgroup with nothing (more) to record */
	/* containers by cgroup id: for the container filters and the trace's names */
	struct container_src ctrs;
	struct lease_table *leases;
	struct agg *agg;
	struct { sink_fn fn; void *ctx; } sinks[PIPELINE_MAX_SINKS];
	int nsinks;
	/* NAT: records from conntrack (user/nat.c) or a trace; view NULL: none */
	struct nat_view *nat;
	struct { nat_sink_fn fn; void *ctx; } nat_sinks[4];
	int n_nat_sinks;
	__u64 first_ts, last_ts;	/* of the events that passed the filter */
};

void pipeline__init(struct pipeline *p, struct lease_table *t, struct agg *a);
void pipeline__free(struct pipeline *p);
/* Adds an output; they see each event in the order they were added. */
void pipeline__add_sink(struct pipeline *p, sink_fn fn, void *ctx);
/*
 * Runs one event through. Returns 0, or the -errno of a failed trace write
 * (the event was still applied; recording stops, what is on disk stays).
 */
int pipeline__event(struct pipeline *p, const struct pl_event *e);
/* Adds a NAT output. */
void pipeline__add_nat_sink(struct pipeline *p, nat_sink_fn fn, void *ctx);
/*
 * Runs one NAT record through: filter, record, NAT view, aggregation,
 * outputs. Returns 0 or a trace write's -errno, as pipeline__event.
 */
int pipeline__nat(struct pipeline *p, const struct pl_nat_rec *n);
/* Does the event pass -p and -c (the family and container filters are the pipeline's)? */
bool pipeline__wanted(const struct pipeline_filter *f, const struct pl_event *e);
/* The family of the event's traffic (v4-mapped IPv6 is IPv4; 0: [::] with no peer, either). */
int pipeline__traffic_family(const struct pl_event *e);

#endif
