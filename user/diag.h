/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Live findings from the socket tables: why an allocation failed (who holds
 * the port for EADDRINUSE, how full the destination is for EADDRNOTAVAIL,
 * with the likely remedy), --warn when a destination crosses a threshold,
 * and the fullest destinations in the summary.
 */
#ifndef PORTLIFE_DIAG_H
#define PORTLIFE_DIAG_H

#include <stdbool.h>
#include <stdio.h>
#include "headroom.h"
#include "lb.h"
#include "lease.h"
#include "snapshot.h"

#define DIAG_WARNED 64
/* Failures diagnosed lately, each told again at most once a second. */
#define DIAG_RECENT 64
/* Diagnoses a second at most, whatever fails: each takes a snapshot. */
#define DIAG_PER_SEC 4

/* What makes two failures the same: where they failed, and how. */
struct diag_key {
	__u32 netns;
	__s32 err;
	__u8 kind, proto, family, pad;
	__u16 sflags, lport, rport, pad2;
	__u8 laddr[16], raddr[16];
};

struct diag {
	const struct snapshot_links *links;	/* NULL: no iterators, no findings */
	struct lease_table *leases;	/* owners of TIME_WAIT sockets, holders gone */
	FILE *f;
	bool json;
	__u64 wall_off;
	struct snapshot seed;		/* the ports in use when portlife started */
	/*
	 * A failure repeated (an exhausted range fails thousands of times a
	 * second) is diagnosed once a second; another failure, by another
	 * process or on another port, still is, within DIAG_PER_SEC.
	 */
	struct { struct diag_key k; __u64 ts; } recent[DIAG_RECENT];
	__u64 sec_ns;			/* start of the second DIAG_PER_SEC counts in */
	unsigned int sec_n;
	__u64 suppressed;		/* failures not diagnosed */
	struct { struct dest d; __u64 ts; } warned[DIAG_WARNED];
	struct lbuf lb;
};

/* Takes the start snapshot: a conflict with an older holder is attributed. */
void diag__init(struct diag *d, const struct snapshot_links *links, struct lease_table *leases,
		FILE *f, bool json, __u64 wall_off, bool verbose);
void diag__free(struct diag *d);
/* A pipeline sink: diagnoses failed allocations (ctx: struct diag). */
void diag__sink(void *ctx, const struct pl_event *e, const struct lease_result *r);
/* --warn: destinations above pct, each at most once a minute. */
void diag__warn(struct diag *d, double pct);
/* The five fullest destinations, for the summary. */
/*
 * pick (may be NULL) keeps the destinations of the processes shown (-p, -c,
 * a container): moves them to the front of dv and returns how many, or nd
 * when nothing is filtered.
 */
typedef size_t (*dest_pick_fn)(const void *ctx, const struct snapshot *s, struct dest *dv,
			       size_t nd);
void diag__headroom(struct diag *d, dest_pick_fn pick, const void *ctx);
/*
 * A TIME_WAIT socket, or one in an accept queue, has no process: where
 * portlife saw the lease allocated, fill in its owner.
 */
void diag__owners_from_leases(struct lease_table *t, struct snapshot *s);

#endif
