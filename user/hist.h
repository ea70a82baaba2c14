/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* log2 histograms of nanosecond durations, with exact count/min/max/sum. */
#ifndef PORTLIFE_HIST_H
#define PORTLIFE_HIST_H

#include <stdio.h>
#include <linux/types.h>
#include "json.h"

#define HIST_SLOTS 65

/* slot 0 holds 0; slot i (i >= 1) holds [2^(i-1), 2^i). */
struct hist {
	__u64 slot[HIST_SLOTS];
	__u64 count;
	__u64 sum;
	__u64 min;
	__u64 max;
};

void hist__add(struct hist *h, __u64 v);
void hist__merge(struct hist *dst, const struct hist *src);
/* Lowest value of a slot and the highest one. */
__u64 hist__slot_lo(int slot);
__u64 hist__slot_hi(int slot);
/*
 * The p-th percentile (0 < p <= 100): the slot holding the rank-th smallest
 * value (rank = ceil(p% of count)), interpolated linearly inside the slot
 * (clamped to [min, max]) towards its upper end: never below the true value's
 * slot, never above max, exact for the maximum.
 */
__u64 hist__percentile(const struct hist *h, double p);
/* Bars, one line per slot from the first to the last non-empty one. */
void hist__print(FILE *f, const struct hist *h, const char *title);
/* {"count":..,"min":..,"p50":..,"p90":..,"p99":..,"max":..,"sum":..,"log2_buckets":[[lo,n],..]} */
void hist__json(struct jw *w, const struct hist *h);

#endif
