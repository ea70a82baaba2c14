/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Exports of a trace for other tools, as pipeline sinks: CSV (a row per
 * event) and a Chrome/Perfetto trace (a slice per lease, with its phases).
 */
#ifndef PORTLIFE_EXPORT_H
#define PORTLIFE_EXPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "container.h"
#include "lb.h"
#include "lease.h"

struct export {
	FILE *f;
	__u64 wall_off;
	bool first_slice;
	struct lbuf lb;
	const char *host;		/* CSV: the recording host's name, a column */
	struct container_src ctrs;	/* CSV: the container columns */
};

void export__init(struct export *x, FILE *f, __u64 wall_off);
void export__free(struct export *x);

/* CSV: the header row, then a sink writing one row per event (ctx: struct export). */
void export__csv_header(struct export *x);
void export__csv_sink(void *ctx, const struct pl_event *e, const struct lease_result *r);
/* CSV: a NAT record's row, in the same columns (the nat_* ones its own). */
struct pl_nat_rec;
void export__csv_nat(void *ctx, const struct pl_nat_rec *n);

/*
 * Chrome trace: the opening, a sink writing each lease when it ends, the
 * leases still open at the end (up to end_ts), and the closing.
 */
void export__chrome_begin(struct export *x);
void export__chrome_sink(void *ctx, const struct pl_event *e, const struct lease_result *r);
void export__chrome_end(struct export *x, struct lease_table *t, __u64 end_ts);

#endif
