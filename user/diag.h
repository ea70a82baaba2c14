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

struct diag {
	const struct snapshot_links *links;	/* NULL: no iterators, no findings */
	struct lease_table *leases;	/* owners of TIME_WAIT sockets, holders gone */
	FILE *f;
	bool json;
	__u64 wall_off;
	struct snapshot seed;		/* the ports in use when portlife started */
	__u64 last_ns;			/* the last failure diagnosed */
	__u64 suppressed;		/* failures not diagnosed: at most one a second */
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
void diag__headroom(struct diag *d);
/*
 * A TIME_WAIT socket, or one in an accept queue, has no process: where
 * portlife saw the lease allocated, fill in its owner.
 */
void diag__owners_from_leases(struct lease_table *t, struct snapshot *s);

#endif
