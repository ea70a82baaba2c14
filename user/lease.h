/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The lease table: turns the event stream into port leases (alloc -> ... ->
 * release). Bounded; tolerates missing, duplicate and out-of-order events and
 * counts each kind of anomaly instead of guessing silently.
 */
#ifndef PORTLIFE_LEASE_H
#define PORTLIFE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "portlife.h"

/* lease.flags */
#define L_ALLOCATED	0x01	/* the ALLOC was seen */
#define L_TW_EXPECTED	0x02	/* closed through tcp_time_wait(): wait for TIME_WAIT */
#define L_IN_TW		0x04	/* a TIME_WAIT socket holds the port */
#define L_RELEASED	0x08	/* RELEASE seen before ALLOC (out of order): tombstone */
#define L_CLOSED	0x10	/* reached CLOSE */
#define L_TW_TAKEN	0x20	/* a newer connect() took its TIME_WAIT 4-tuple over (tcp_tw_reuse) */
#define L_FREE		0x40	/* the slot is on the free list: the lease it held ended */
#define L_ANSWERED	0x80	/* a connect() answered: ESTABLISHED seen, or a state after it */

struct lease {
	__u64 id;
	__u64 cookie;
	__u64 cgroup_id;
	__u32 pid, tid, netns;
	char comm[PL_COMM_LEN];
	__u8 family, proto, kind, state;
	__u16 lport, rport;
	__u32 flags;
	__u8 laddr[16], raddr[16];
	__u64 alloc_ts;		/* 0 when the ALLOC was missed */
	__u64 alloc_lat;
	__u64 estab_ts;
	__u64 close_ts;		/* the socket reached CLOSE */
	__u64 tw_enter_ts, tw_expire_ts, tw_exit_ts;
	__u64 tw_gone_ts;	/* a round missed its timewait socket (early, or never seen): judged next round; 0: none */
	__u64 tw_taken_ts;	/* L_TW_TAKEN: the connect() that took the 4-tuple over */
	/*
	 * A closing lease whose close the kernel may not have shown (twsnap's
	 * stale_closing()): when a round last found its socket open, and when
	 * one first found it gone (0: not since its last event).
	 */
	__u64 alive_ts, missed_ts;
	__u64 end_ts;		/* released */
	__u64 state_ts;		/* ts of the event that set .state */
	__u64 touch_ts;		/* last event, for LRU eviction and ageing */
	__u8 end_reason;
	/* table links */
	struct lease *id_next, *ck_next;
	struct lease *tu_next;		/* TIME_WAIT leases by 4-tuple */
	struct lease *fl_next;		/* every allocated lease by (proto, port): NAT */
	struct lease *lru_prev, *lru_next;
	struct lease *tw_prev, *tw_next;
};

struct lease_stats {
	__u64 live;		/* leases in the table */
	__u64 created;
	__u64 ended;
	__u64 no_alloc;		/* ended without its ALLOC seen (older than portlife, or lost) */
	__u64 orphans;		/* TW events, RELEASEs for a lease never seen: dropped */
	__u64 duplicates;	/* an ALLOC, TW_ENTER, TW_EXIT or RELEASE seen twice */
	__u64 out_of_order;	/* an event older than one already applied to its lease */
	__u64 evicted;		/* pushed out of a full table (least recently used first) */
};

/* What applying one event did. */
enum lease_what {
	LW_NONE = 0,		/* nothing to aggregate (duplicate, orphan, failure) */
	LW_ALLOC,		/* a new lease (or a failed allocation: e->err) */
	LW_STATE,
	LW_TW_ENTER,
	LW_TW_EXIT,
	LW_END,			/* the lease ended; *lease valid until the next call */
};

struct lease_result {
	enum lease_what what;
	struct lease *lease;	/* NULL for failed allocations */
	bool ended_too;		/* LW_ALLOC of a lease whose RELEASE came first */
	/*
	 * --max-leases full: an allocated lease was evicted to make room (its
	 * owner's held ports no longer count it), or lease came back with this
	 * event (they count it again, until its end).
	 */
	bool evicted, revived;
	__u32 evicted_pid;
	__u64 evicted_cgroup;
	char evicted_comm[PL_COMM_LEN];
};

struct lease_table;

struct lease_table *lease_table__new(size_t max_leases);
void lease_table__free(struct lease_table *t);
/* Apply one event; see enum lease_what. */
void lease_table__apply(struct lease_table *t, const struct pl_event *e, struct lease_result *r);
struct lease *lease_table__find(struct lease_table *t, __u64 id);
/*
 * l if it still holds the live lease 'id' (a pointer kept across events
 * that may have ended it or reused its slot), else NULL; found like
 * lease_table__find(), without the hash lookup.
 */
struct lease *lease_table__recheck(struct lease_table *t, struct lease *l, __u64 id);
struct lease *lease_table__find_cookie(struct lease_table *t, __u64 cookie);
/* A live allocated lease on (netns, proto, lport), most recent first, or NULL. */
struct lease *lease_table__find_port(struct lease_table *t, __u32 netns, __u8 proto, __u16 lport,
				     const struct lease *after);
/*
 * A RELEASE that arrives before its ALLOC is kept as a tombstone so the ALLOC
 * can still complete it; drop those untouched since before 'before_ns'.
 */
void lease_table__age(struct lease_table *t, __u64 before_ns);
const struct lease_stats *lease_table__stats(const struct lease_table *t);
/*
 * Index the leases waiting for or in TIME_WAIT by 4-tuple, so that a new
 * connect() on one marks it L_TW_TAKEN: what lets TIME_WAIT snapshots tell a
 * reuse from a kill. Call before the first event; only the tracepoint mode
 * needs it (the exact modes see the reuse, a trace has it recorded).
 */
void lease_table__index_tuples(struct lease_table *t);
/*
 * Index every allocated lease by its flow, so that a conntrack entry's
 * original tuple finds the process behind it (user/nat.c). Call before the
 * first event; 0 or -ENOMEM.
 */
int lease_table__index_flows(struct lease_table *t);
/*
 * The live lease whose flow is this, in any namespace: same proto, family
 * and port; its address the same or the wildcard; its remote end the same,
 * or none (an unconnected UDP socket). Exact matches first, then the most
 * recently touched. NULL if none, or if flows are not indexed.
 */
/*
 * How well a lease's own tuple (its address may be the wildcard, its peer
 * unset) matches a flow's: 0 not at all, higher for an exact address and a
 * set peer. lease_table__find_flow() and the NAT watcher's ended leases
 * rank by it.
 */
int lease_flow_score(const __u8 *own_laddr, const __u8 *own_raddr, __u16 own_rport,
		     const __u8 *laddr, const __u8 *raddr, __u16 rport);
struct lease *lease_table__find_flow(struct lease_table *t, __u8 proto, __u8 family,
				     const __u8 *laddr, __u16 lport, const __u8 *raddr,
				     __u16 rport);
/* Every lease in the table, least recently touched first (NULL at the end). */
struct lease *lease_table__first(struct lease_table *t);
struct lease *lease_table__next(struct lease_table *t, struct lease *l);
/* Leases a snapshot must look for: waiting for or in TIME_WAIT. */
struct lease *lease_table__tw_first(struct lease_table *t);
static inline struct lease *lease_table__tw_next(struct lease *l) { return l->tw_next; }

#endif
