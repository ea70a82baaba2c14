/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The terminal's and the script's view of the pipeline: one human line or
 * one JSON line per event, and the per-process summaries with the run's
 * totals and losses.
 */
#ifndef PORTLIFE_OUTPUT_H
#define PORTLIFE_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include <netinet/in.h>
#include "agg.h"
#include "cgpath.h"
#include "container.h"
#include "lb.h"
#include "lease.h"

struct run_info {
	const char *mode;		/* "tracepoint" */
	const char *precision;		/* what the mode can and cannot time exactly */
	__u64 drops[PL_EV_MAX];		/* ring buffer reserve failures by type */
	__u64 recursion_misses;		/* programs the kernel skipped on a busy CPU, or: */
#define PL_NOT_COUNTED ((__u64)-1)	/* the kernel does not count them (before 5.12) */
	__u64 untracked;		/* leases the kernel had no room for (--max-leases) */
	__u64 tw_overflow;		/* closes that made no TIME_WAIT: buckets full */
	__u64 tw_unseen;		/* TIME_WAIT shorter than the snapshot interval */
	__u64 tw_reconciled;		/* found in TIME_WAIT, its close never shown by the kernel */
	__u64 gone_reconciled;		/* its socket found gone, its close never shown */
	__u64 snapshots;
	__u64 snap_lookups;		/* namespace rounds settled by lookups alone */
	__u64 snap_listings;		/* namespace rounds that listed every socket */
	__u64 netns_lost;		/* namespaces whose TIME_WAIT could not be watched */
	__u64 snap_mean_ns, snap_max_ns;	/* time a snapshot round takes */
	double snap_interval;		/* seconds between rounds now (stretched when slow) */
	double snap_interval_set;	/* --tw-interval */
	bool snaps_unknown;		/* a report: the rounds' own counters are not in a trace */
	__u64 elapsed_ns;
	const struct lease_stats *leases;
	__u64 procs_overflowed;
	__u64 procs_folded;		/* agg__retired() */
	/* NAT (user/nat.c): watched when nat_netns is set */
	bool nat_watched;		/* NAT was watched (or a trace has NAT records) */
	__u64 nat_lost;			/* netlink overruns: conntrack events lost */
	__u64 nat_unattributed;		/* translations no lease matched */
	__u64 nat_count_only;		/* failures from conntrack statistics, no tuple */
	bool nat_drop_hook;		/* failures attributed by the BPF drop hook */
	const char *nat_range;		/* where the port range came from */
	const struct alerts *alerts;	/* the security rules' counts; NULL when off */
};

struct alerts;

/* A JSON owner: four keys, two numbers of 10 digits, one of 20, a comm escaped. */
#define OUT_OWNER_MAX (64 + 2 * 10 + 20 + PL_COMM_LEN * 6 + 2)

/* A host name as traces keep it (their header's field), at most */
#define OUT_HOST_MAX 64

/* An event's owner as the last line wrote it, in that output's form; len 0: none yet. */
struct out_owner {
	__u32 pid, tid;
	__u64 cgroup_id;
	char comm[PL_COMM_LEN];		/* as the event had it, bytes after a NUL included */
	size_t len;			/* of json; for text, of text and its NUL */
	char json[OUT_OWNER_MAX];	/* JSON: "pid":..,"tid":..,"comm":"..","cgroup_id":.. */
	char text[PL_COMM_LEN];		/* text: the comm, sanitized for a terminal */
};

/* An address as the last line wrote it; len 0: none yet. */
struct out_addr {
	__u8 family, len;
	__u8 a[16];
	char s[INET6_ADDRSTRLEN];
};

struct out {
	FILE *f;
	bool json;
	bool events;		/* print one line per event */
	bool header_done;
	__u64 wall_off;		/* add to a monotonic stamp for wall-clock time */
	struct lbuf lb;		/* lines are built here */
	struct cgpath_src cgroups;	/* where cgroup paths come from: this host, or a trace */
	struct container_src ctrs;	/* and containers; none: every "container" is null */
	const char *host;		/* report: the recording host, on every JSON line */
	/* "host":"..." as JSON, escaped once while host says the same (host_raw) */
	char host_raw[OUT_HOST_MAX + 1];
	char host_json[OUT_HOST_MAX * 6 + 16];
	size_t host_len;		/* of host_json; 0: nothing cached */
	/*
	 * What the last event line said of its owner and addresses, formatted:
	 * a connection's events (and a process's connections) repeat them, and
	 * formatting them was a fifth of an event line's cost.
	 */
	struct out_owner owner;
	struct out_addr addr[2];	/* [0] the local address, [1] the remote one */
};

/* The processes of one pod, summed (a pod's key: namespace/pod, or its UID unnamed). */
struct pod_stats {
	char ns[CONTAINER_LABEL_MAX + 1];
	char pod[CONTAINER_SUBDOMAIN_MAX + 1];
	char uid[CONTAINER_UID_MAX + 1];
	size_t procs;
	struct proc_stats s;
};

/*
 * The pods of processes v[0..n), busiest first; *np set. The array is the
 * caller's to free; NULL when none of them is in a pod (or out of memory).
 */
struct pod_stats *out__pods(const struct container_src *ctrs, struct proc_stats *const *v,
			    size_t n, size_t *np);
/* The pods section: a table, or one JSON line per pod. */
void out__pods_print(struct out *o, const struct pod_stats *pv, size_t np);

/* A cgroup path as shown, at most (longer ones are cut) */
#define PL_CGPATH_TEXT 512

const char *event_name(int type);
const char *alloc_kind_name(int kind);
/* SIGNAL.kind: "tcp_closed", "udp_closed", "listen" */
const char *signal_name(int kind);
/* A NAT record's event name: nat, or nat_release for its end. */
const char *nat_event_name(int kind);
const char *end_reason_name(int reason);
/* Why a bind() failed with err, when it was not for want of a port. */
const char *bind_error_why(int err);

/* One event line; a pipeline sink (ctx: struct out). */
void out__event(void *ctx, const struct pl_event *e, const struct lease_result *r);
/* One NAT record's line (a pipeline NAT sink; ctx: struct out). */
struct pl_nat_rec;
void out__nat(void *ctx, const struct pl_nat_rec *n);
void out__summary(struct out *o, struct agg *a, const struct run_info *ri);
/* A summary line's counts: allocs, failures, bind_errors, tw_entered, releases, held. */
struct jw;
void out__json_counts(struct jw *w, const struct proc_stats *s);
void out__free(struct out *o);

#endif
