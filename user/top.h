/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `portlife top`: a live table of the processes using ports, refreshed every
 * second, full-screen (ncurses) on a terminal and plain periodic text
 * otherwise, so it can be piped or logged.
 */
#ifndef PORTLIFE_TOP_H
#define PORTLIFE_TOP_H

#include <stdbool.h>
#include "agg.h"
#include "container.h"
#include "headroom.h"
#include "lease.h"
#include "output.h"

enum top_sort { TS_PID, TS_COMM, TS_HELD, TS_RATE, TS_FAIL, TS_TW, TS_LAT, TS_HOLD, TS_MAX };

/* "held" -> TS_HELD; -1 when unknown. */
int top_sort_parse(const char *s);
/* The names top_sort_parse takes, for --help and errors. */
#define TOP_SORT_NAMES "pid, comm, held, rate, fail, tw, lat, hold"

struct top;

/*
 * tty: full screen; otherwise one text table per update on out. ctrs names
 * each row's container or pod; by_pod starts with one row per pod (the g key
 * toggles it).
 */
struct top *top__new(bool tty, enum top_sort sort, FILE *out, struct container_src ctrs,
		     bool by_pod);
/* Restores the terminal. */
void top__free(struct top *t);
/* Reads pending keys: returns 1 to quit, 2 when the view should be redrawn. */
int top__keys(struct top *t);
/*
 * Recomputes the rows (rates since the previous update) and shows them with
 * the destinations dv (fullest first) and the loss counters in ri.
 */
void top__update(struct top *t, struct agg *a, struct lease_table *lt, const struct dest *dv,
		 size_t nd, const struct run_info *ri, __u64 now_ns);
/* The NAT headroom to show under the destinations at the next update (may be NULL). */
struct nat_view;
void top__set_nat(struct top *t, struct nat_view *v);
/* Redraws what the last update computed (after a sort key or a resize). */
void top__redraw(struct top *t);

#endif
