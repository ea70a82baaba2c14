/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-process aggregation of leases: counts and lifecycle histograms. */
#ifndef PORTLIFE_AGG_H
#define PORTLIFE_AGG_H

#include <stdbool.h>
#include <stdio.h>
#include "hist.h"
#include "lease.h"

#define AGG_ERRNOS 6
#define AGG_REASONS PL_END_MAX	/* indexed by enum pl_end_reason */
#define AGG_NAMES_PER_PID 8	/* rows of one pid before its renames are folded (agg.c) */

/*
 * Whether an allocation's latency was measured. The tracepoint mode cannot
 * time a UDP autobind by a first send (its hook runs after the port is
 * taken), nor a port it learns after the call (a deferred TCP connect()'s,
 * a UDP connect()'s without the syscall hooks), and says 0: shown as not
 * measured, kept out of the histograms, where it was a 0 ns sample. A
 * measured search takes more than a nanosecond.
 */
static inline bool alloc_lat_known(__u64 dur_ns, int err)
{
	return dur_ns || err;
}

/* How often one errno was seen. */
struct errno_count {
	int err;
	__u64 n;
};

struct proc_stats {
	__u32 pid;
	char comm[PL_COMM_LEN];
	__u64 cgroup_id;
	__u64 allocs;
	__u64 failures;
	struct errno_count fail[AGG_ERRNOS];	/* by errno; the rest in fail_other */
	__u64 fail_other;
	__u64 bind_errors;	/* bind() failures that were no port search (EINVAL, ...) */
	struct errno_count bind_err[AGG_ERRNOS];
	__u64 tw_entered;
	__u64 releases;
	__u64 end_reason[AGG_REASONS];
	__u64 bind_then_connect;	/* bind(0) then connect(): IP_BIND_ADDRESS_NO_PORT helps */
	__u64 port_taken;	/* failures that were a bind() to a given port in use */
	__u64 own_range_fails;	/* failed searches in the socket's own IP_LOCAL_PORT_RANGE */
	__u64 tuple_fails;	/* connect()s from a bound port whose 4-tuple was in use: no
				 * search, not in failures */
	__u64 tw_loopback;	/* of tw_entered: on a loopback address */
	__u64 renamed;		/* events under further names of this pid, folded in here */
	__u64 first_ts, last_ts;	/* first and last allocation */
	__u64 active_ts;	/* its last event: rows idle longest are retired first */
	/*
	 * Not 0: a row of folded processes, pid 0, how many (agg.c: when the
	 * table is full, the rows idle longest that hold nothing go into one
	 * per name and cgroup, so that a long run keeps a row for each new
	 * process and every name's and pod's counts only grow)
	 */
	__u64 folded;
	__s64 held;		/* ports held now */
	__s64 peak_held;
	struct hist alloc_lat;	/* successful and failed searches */
	struct hist hold;	/* alloc -> release */
	struct hist tw_time;	/* TIME_WAIT enter -> exit */
	struct hist lifetime;	/* alloc -> CLOSE: the socket's own life */
	/* NAT ports taken on the process's behalf (user/nat.c) */
	__u64 nat_taken, nat_failed, nat_released;
	__s64 nat_held;
	struct hist nat_hold;	/* conntrack NEW -> DESTROY */
	struct proc_stats *next;
};

/*
 * A row of real processes: a process's own, or folded ones'; not "[other]"
 * (pid 0, no name or cgroup of its own), nor "[all]".
 */
static inline bool agg_row_owned(const struct proc_stats *p)
{
	return p->pid || p->folded;
}

struct agg;

/*
 * The process table's rows, live and in report: 3.2 KB each (five
 * histograms), 52 MB full. Folding keeps a row for every new process once
 * it is full, so it need only hold the processes with a port at once plus
 * the recent ones; 65536 rows made 210 MB, most of a DaemonSet's memory
 * limit beside the leases.
 */
#define AGG_MAX_PROCS 16384

struct agg *agg__new(size_t max_procs);
void agg__free(struct agg *a);
/* Fold one applied event in (e: the event, r: what the lease table made of it). */
void agg__apply(struct agg *a, const struct pl_event *e, const struct lease_result *r);
/* Fold one NAT record in (struct pl_nat_rec, tracefile.h). */
struct pl_nat_rec;
void agg__nat(struct agg *a, const struct pl_nat_rec *n);
/* All processes, most allocations first; *n set. The array is the caller's to free. */
struct proc_stats **agg__sorted(struct agg *a, size_t *n);
/* Sum over every process (pid 0, comm "[all]"). */
void agg__total(struct agg *a, struct proc_stats *out);
/* Adds p's counts and histograms into out (pid, comm and cgroup untouched). */
void agg__merge(struct proc_stats *out, const struct proc_stats *p);
/* Leases ended for reason (enum pl_end_reason), over all processes. */
__u64 agg__ended_by(struct agg *a, int reason);
/* The likely remedy for what this process did, or NULL if nothing stands out. */
const char *agg__remedy(const struct proc_stats *p, char *buf, size_t len);
/* Processes folded into "[other]" because the table was full. */
__u64 agg__overflowed(const struct agg *a);
/* Process rows folded into per-name rows (proc_stats.folded), the table being full. */
__u64 agg__retired(const struct agg *a);

#endif
