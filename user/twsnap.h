/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * TIME_WAIT by snapshot (tracepoint mode). The state tracepoint never shows
 * TIME_WAIT, so every interval each network namespace that has a lease
 * waiting for or in TIME_WAIT is asked about those leases: by lookup of their
 * 4-tuples (twlook.bpf.c, 5.17+), or, when a lookup's miss needs the last
 * word or lookups are unavailable, by the bpf_iter tcp program listing the
 * namespace's timewait sockets. The differences become TW_ENTER / TW_EXIT /
 * RELEASE events, fed through the same path as the ring buffer's.
 */
#ifndef PORTLIFE_TWSNAP_H
#define PORTLIFE_TWSNAP_H

#include <bpf/libbpf.h>
#include "lease.h"

struct twsnap;
typedef void (*twsnap_emit_fn)(void *ctx, const struct pl_event *e);

struct twsnap_stats {
	__u64 snapshots;
	__u64 lookup_rounds;	/* namespaces checked by lookup alone */
	__u64 iter_rounds;	/* namespaces listed by the iterator */
	__u64 tw_overflow;	/* RELEASE with PL_END_TW_OVERFLOW emitted */
	__u64 tw_unseen;
	__u64 tw_reconciled;	/* TW_ENTER of a lease whose close the kernel never showed */
	__u64 gone_reconciled;	/* RELEASE of such a lease whose socket was gone */
	__u64 netns_unreachable;	/* rounds that could not enter a namespace */
	__u64 netns_lost;	/* namespaces never entered: nothing left to enter by */
	__u64 last_ns;		/* duration of the last snapshot round */
	__u64 max_ns;		/* the longest round */
	__u64 total_ns;		/* all rounds */
};

struct twsnap *twsnap__new(struct bpf_link *tcp_iter, struct lease_table *t);
void twsnap__free(struct twsnap *s);
/*
 * Check waiting leases by lookup (twlook.bpf.c) where that suffices; s owns
 * look from now on. Without it, the iterator lists every round.
 */
struct twlook;
void twsnap__set_lookup(struct twsnap *s, struct twlook *look);
/*
 * The iterator program's iter_full switch (the object's mapped .bss): set,
 * a listing has full sockets too. Without it, a lease whose close the
 * kernel never showed is released only on a lookup's word.
 */
void twsnap__set_iter_full(struct twsnap *s, volatile __u32 *iter_full);
/* The time between two rounds now: a lease in TIME_WAIT is looked at before its timer is due. */
void twsnap__set_interval(struct twsnap *s, __u64 ns);
/* A lease in netns was allocated by pid: remember how to enter that netns. */
void twsnap__note_netns(struct twsnap *s, __u32 netns, __u32 pid);
/*
 * One snapshot round; emits through fn. Returns 0 or -errno. A TIME_WAIT
 * socket gone early is judged (reused or killed) one round after it was
 * missed, when the connect() that may have taken it over has surely been
 * read; 'final' judges at once (the last round, the buffer drained first).
 */
int twsnap__run(struct twsnap *s, bool final, twsnap_emit_fn fn, void *ctx);
const struct twsnap_stats *twsnap__stats(const struct twsnap *s);

#endif
