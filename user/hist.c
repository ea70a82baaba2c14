// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <string.h>
#include "hist.h"
#include "util.h"

static int slot_of(__u64 v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

void hist__add(struct hist *h, __u64 v)
{
	h->slot[slot_of(v)]++;
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
}

void hist__merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	for (int i = 0; i < HIST_SLOTS; i++)
		dst->slot[i] += src->slot[i];
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
}

__u64 hist__slot_lo(int slot)
{
	return slot ? 1ULL << (slot - 1) : 0;
}

__u64 hist__slot_hi(int slot)
{
	if (!slot)
		return 0;
	return slot == 64 ? ~0ULL : (1ULL << slot) - 1;
}

__u64 hist__percentile(const struct hist *h, double p)
{
	__u64 rank, seen = 0, lo, hi, v;

	if (!h->count)
		return 0;
	if (p <= 0)
		return h->min;
	if (p >= 100)
		return h->max;
	rank = (__u64)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_SLOTS; i++) {
		if (!h->slot[i] || seen + h->slot[i] < rank) {
			seen += h->slot[i];
			continue;
		}
		lo = hist__slot_lo(i);
		hi = hist__slot_hi(i);
		if (lo < h->min)
			lo = h->min;
		if (hi > h->max)
			hi = h->max;
		/*
		 * The j-th of the m values in the slot is taken at lo + (hi-lo)*j/m:
		 * an upper estimate, exact for the largest value (hi is clamped to max).
		 */
		/* 128-bit: (hi - lo) * j overflows 64 bits for durations past ~2^40 ns */
		v = lo + (__u64)((unsigned __int128)(hi - lo) * (rank - seen) / h->slot[i]);
		return v;
	}
	return h->max;
}

void hist__print(FILE *f, const struct hist *h, const char *title)
{
	char a[24], b[24], c[24], d[24], e[24];
	int first = -1, last = -1, width = 40;
	__u64 peak = 0;

	fprintf(f, "  %s: n=%llu", title, (unsigned long long)h->count);
	if (!h->count) {
		fprintf(f, "\n");
		return;
	}
	fprintf(f, "  p50 %s  p90 %s  p99 %s  max %s  min %s\n",
		dur_str(hist__percentile(h, 50), a, sizeof(a)),
		dur_str(hist__percentile(h, 90), b, sizeof(b)),
		dur_str(hist__percentile(h, 99), c, sizeof(c)),
		dur_str(h->max, d, sizeof(d)), dur_str(h->min, e, sizeof(e)));
	for (int i = 0; i < HIST_SLOTS; i++) {
		if (!h->slot[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (h->slot[i] > peak)
			peak = h->slot[i];
	}
	for (int i = first; i <= last; i++) {
		int bar = (int)((h->slot[i] * width + peak - 1) / peak);
		char bars[64];

		memset(bars, '#', bar);
		bars[bar] = '\0';
		fprintf(f, "    %9s .. %-9s |%-*s| %llu\n", dur_str(hist__slot_lo(i), a, sizeof(a)),
			dur_str(hist__slot_hi(i), b, sizeof(b)), width, bars,
			(unsigned long long)h->slot[i]);
	}
}

void hist__json(struct jw *w, const struct hist *h)
{
	jw_obj(w);
	jw_ku64(w, "count", h->count);
	jw_ku64(w, "min", h->min);
	jw_ku64(w, "p50", hist__percentile(h, 50));
	jw_ku64(w, "p90", hist__percentile(h, 90));
	jw_ku64(w, "p99", hist__percentile(h, 99));
	jw_ku64(w, "max", h->max);
	jw_ku64(w, "sum", h->sum);
	jw_key(w, "log2_buckets");
	jw_arr(w);
	for (int i = 0; i < HIST_SLOTS; i++) {
		if (!h->slot[i])
			continue;
		jw_arr(w);
		jw_u64(w, hist__slot_lo(i));
		jw_u64(w, h->slot[i]);
		jw_end(w);
	}
	jw_end(w);
	jw_end(w);
}
