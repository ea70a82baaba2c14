// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the log2 histograms (user/hist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hist.h"

static const double pcts[] = { 0.1, 1, 10, 25, 33.3, 50, 66.6, 75, 90, 95, 99, 99.9, 100 };
#define NPCTS (sizeof(pcts) / sizeof(pcts[0]))

/* Reference slot of a value, by counting bits (independent of hist.c). */
static int ref_slot(__u64 v)
{
	int s = 0;

	while (v) {
		s++;
		v >>= 1;
	}
	return s;
}

/* The slot hist__add() put a single value in. */
static int slot_taken(__u64 v)
{
	struct hist h;
	int found = -1;

	memset(&h, 0, sizeof(h));
	hist__add(&h, v);
	for (int i = 0; i < HIST_SLOTS; i++) {
		if (h.slot[i]) {
			assert_int_equal(found, -1);
			assert_int_equal(h.slot[i], 1);
			found = i;
		}
	}
	return found;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The true p-th percentile of sorted v[0..n): the ceil(p% * n)-th smallest. */
static __u64 true_pct(const __u64 *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static void test_empty(void **state)
{
	struct hist h;

	memset(&h, 0, sizeof(h));
	for (size_t i = 0; i < NPCTS; i++)
		assert_int_equal(hist__percentile(&h, pcts[i]), 0);
	assert_int_equal(h.count, 0);
}

static void test_single_value(void **state)
{
	static const __u64 vals[] = { 0, 1, 2, 3, 7, 1000, 123456789, 1ULL << 40,
				      (1ULL << 63) + 5, UINT64_MAX };

	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		struct hist h;

		memset(&h, 0, sizeof(h));
		hist__add(&h, vals[k]);
		assert_int_equal(h.count, 1);
		assert_int_equal(h.min, vals[k]);
		assert_int_equal(h.max, vals[k]);
		assert_int_equal(h.sum, vals[k]);
		for (size_t i = 0; i < NPCTS; i++)
			assert_int_equal(hist__percentile(&h, pcts[i]), vals[k]);
		/* the same value many times: still exact */
		for (int j = 0; j < 9; j++)
			hist__add(&h, vals[k]);
		assert_int_equal(h.count, 10);
		for (size_t i = 0; i < NPCTS; i++)
			assert_int_equal(hist__percentile(&h, pcts[i]), vals[k]);
	}
}

static void test_one_to_hundred(void **state)
{
	struct hist h;
	__u64 v[100];
	__u64 p50;

	memset(&h, 0, sizeof(h));
	for (int i = 1; i <= 100; i++) {
		hist__add(&h, i);
		v[i - 1] = i;
	}
	assert_int_equal(h.count, 100);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 100);
	assert_int_equal(h.sum, 5050);
	assert_int_equal(h.slot[0], 0);
	assert_int_equal(h.slot[1], 1);		/* 1 */
	assert_int_equal(h.slot[2], 2);		/* 2..3 */
	assert_int_equal(h.slot[3], 4);
	assert_int_equal(h.slot[4], 8);
	assert_int_equal(h.slot[5], 16);
	assert_int_equal(h.slot[6], 32);	/* 32..63 */
	assert_int_equal(h.slot[7], 37);	/* 64..100 */
	assert_int_equal(h.slot[8], 0);

	assert_int_equal(hist__percentile(&h, 100), 100);
	p50 = hist__percentile(&h, 50);
	assert_in_range(p50, 50, 63);
	/* the 1st percentile is the smallest value, 1, alone in its slot */
	assert_int_equal(hist__percentile(&h, 1), 1);
	for (double p = 0.5; p <= 100; p += 0.5) {
		__u64 t = true_pct(v, 100, p), est = hist__percentile(&h, p);

		assert_in_range(est, hist__slot_lo(ref_slot(t)), hist__slot_hi(ref_slot(t)));
		/* uniform data: the upper-end interpolation never underestimates */
		assert_true(est >= t);
		assert_true(est <= 100);
	}
}

/*
 * Random data sets of many shapes: the estimate always lies in the slot of
 * the true percentile, and within [min, max].
 */
static void test_percentile_bounds_random(void **state)
{
	enum { N = 2000 };
	static __u64 v[N];

	srand(4242);
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + rand() % N;
		int bits = 1 + rand() % 48;
		struct hist h;

		memset(&h, 0, sizeof(h));
		for (size_t i = 0; i < n; i++) {
			__u64 x = ((__u64)rand() << 31) ^ (__u64)rand();

			x &= (1ULL << bits) - 1;
			if (rand() % 8 == 0)
				x = 0;
			v[i] = x;
			hist__add(&h, x);
		}
		qsort(v, n, sizeof(v[0]), cmp_u64);
		assert_int_equal(h.min, v[0]);
		assert_int_equal(h.max, v[n - 1]);
		for (double p = 0.25; p <= 100; p += 0.25) {
			__u64 t = true_pct(v, n, p), est = hist__percentile(&h, p);

			assert_true(est >= hist__slot_lo(ref_slot(t)));
			assert_true(est <= hist__slot_hi(ref_slot(t)));
			assert_true(est >= h.min);
			assert_true(est <= h.max);
		}
		assert_int_equal(hist__percentile(&h, 100), v[n - 1]);
	}
}

/*
 * Values near the top of the __u64 range. KNOWN FAILURE (bug in
 * user/hist.c, hist__percentile): (double)(hi - lo) rounds up once hi - lo
 * needs more than 53 bits, so lo + (__u64)(...) can exceed max, or wrap
 * past 2^64 to 0 in slot 64.
 */
static void test_percentile_huge_values(void **state)
{
	struct hist h;

	memset(&h, 0, sizeof(h));
	hist__add(&h, 1ULL << 62);
	hist__add(&h, (1ULL << 63) - 1);	/* both in slot 63 */
	assert_int_equal(hist__percentile(&h, 100), (1ULL << 63) - 1);
	assert_in_range(hist__percentile(&h, 50), 1ULL << 62, (1ULL << 63) - 1);
	assert_in_range(hist__percentile(&h, 99), 1ULL << 62, (1ULL << 63) - 1);

	memset(&h, 0, sizeof(h));
	hist__add(&h, 1ULL << 63);
	hist__add(&h, UINT64_MAX);		/* both in slot 64 */
	assert_int_equal(hist__percentile(&h, 100), UINT64_MAX);
	assert_true(hist__percentile(&h, 50) >= 1ULL << 63);
	assert_true(hist__percentile(&h, 99) >= 1ULL << 63);
}

static void test_slot_boundaries(void **state)
{
	assert_int_equal(slot_taken(0), 0);
	assert_int_equal(slot_taken(1), 1);
	assert_int_equal(slot_taken(2), 2);
	assert_int_equal(slot_taken(3), 2);
	assert_int_equal(slot_taken(4), 3);
	assert_int_equal(slot_taken(1023), 10);
	assert_int_equal(slot_taken(1024), 11);
	assert_int_equal(slot_taken((1ULL << 63) - 1), 63);
	assert_int_equal(slot_taken(1ULL << 63), 64);
	assert_int_equal(slot_taken(UINT64_MAX), 64);

	assert_int_equal(hist__slot_lo(0), 0);
	assert_int_equal(hist__slot_hi(0), 0);
	assert_int_equal(hist__slot_lo(1), 1);
	assert_int_equal(hist__slot_hi(1), 1);
	assert_int_equal(hist__slot_lo(2), 2);
	assert_int_equal(hist__slot_hi(2), 3);
	assert_int_equal(hist__slot_lo(11), 1024);
	assert_int_equal(hist__slot_hi(11), 2047);
	assert_int_equal(hist__slot_lo(64), 1ULL << 63);
	assert_int_equal(hist__slot_hi(64), UINT64_MAX);
	/* the slots tile [0, 2^64) with no gap and no overlap */
	for (int i = 0; i < HIST_SLOTS - 1; i++) {
		assert_int_equal(hist__slot_hi(i) + 1, hist__slot_lo(i + 1));
		assert_int_equal(slot_taken(hist__slot_lo(i)), i);
		assert_int_equal(slot_taken(hist__slot_hi(i)), i);
	}
	/* every power of two and its neighbours land where the bit count says */
	for (int b = 0; b < 64; b++) {
		__u64 x = 1ULL << b;

		assert_int_equal(slot_taken(x), ref_slot(x));
		assert_int_equal(slot_taken(x - 1), ref_slot(x - 1));
		assert_int_equal(slot_taken(x + 1), ref_slot(x + 1));
	}
}

static void assert_hist_equal(const struct hist *a, const struct hist *b)
{
	assert_int_equal(a->count, b->count);
	assert_int_equal(a->sum, b->sum);
	assert_int_equal(a->min, b->min);
	assert_int_equal(a->max, b->max);
	for (int i = 0; i < HIST_SLOTS; i++)
		assert_int_equal(a->slot[i], b->slot[i]);
}

static void test_merge(void **state)
{
	struct hist a, b, all, empty;
	__u64 x;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&all, 0, sizeof(all));
	memset(&empty, 0, sizeof(empty));
	srand(7);
	/* a holds larger values, b the smallest one: min must come from b */
	for (int i = 0; i < 500; i++) {
		x = 1000 + rand() % 100000;
		hist__add(&a, x);
		hist__add(&all, x);
	}
	for (int i = 0; i < 300; i++) {
		x = 5 + rand() % 5000000;
		hist__add(&b, x);
		hist__add(&all, x);
	}
	hist__add(&b, 3);
	hist__add(&all, 3);

	struct hist m = a;

	hist__merge(&m, &b);
	assert_hist_equal(&m, &all);
	assert_int_equal(m.min, 3);
	assert_int_equal(m.count, 801);

	/* the other way round */
	m = b;
	hist__merge(&m, &a);
	assert_hist_equal(&m, &all);

	/* into an empty hist: its zero min must not stick */
	m = empty;
	hist__merge(&m, &a);
	assert_hist_equal(&m, &a);
	assert_true(m.min >= 1000);

	/* merging an empty hist changes nothing (min stays) */
	m = a;
	hist__merge(&m, &empty);
	assert_hist_equal(&m, &a);

	/* percentiles of the merge equal those of the hist built directly */
	m = a;
	hist__merge(&m, &b);
	for (size_t i = 0; i < NPCTS; i++)
		assert_int_equal(hist__percentile(&m, pcts[i]), hist__percentile(&all, pcts[i]));
}

static char *json_of(const struct hist *h)
{
	struct lbuf b = {};
	struct jw w;
	char *s;

	jw_begin(&w, &b);
	hist__json(&w, h);
	s = strndup(w.c.start, w.c.p - w.c.start);
	assert_non_null(s);
	lbuf_free(&b);
	return s;
}

static void test_json(void **state)
{
	struct hist h;
	char *s;

	memset(&h, 0, sizeof(h));
	hist__add(&h, 1);
	hist__add(&h, 5);
	hist__add(&h, 6);
	s = json_of(&h);
	assert_non_null(strstr(s, "\"count\":3,"));
	assert_non_null(strstr(s, "\"min\":1,"));
	assert_non_null(strstr(s, "\"max\":6,"));
	assert_non_null(strstr(s, "\"sum\":12,"));
	assert_non_null(strstr(s, "\"p99\":6,"));
	/* slot 1 (lo 1) holds one value, slot 3 (lo 4) two */
	assert_non_null(strstr(s, "\"log2_buckets\":[[1,1],[4,2]]"));
	assert_int_equal(s[0], '{');
	assert_string_equal(s + strlen(s) - 2, "]}");
	free(s);

	memset(&h, 0, sizeof(h));
	s = json_of(&h);
	assert_string_equal(s, "{\"count\":0,\"min\":0,\"p50\":0,\"p90\":0,\"p99\":0,"
			       "\"max\":0,\"sum\":0,\"log2_buckets\":[]}");
	free(s);

	memset(&h, 0, sizeof(h));
	hist__add(&h, 0);
	hist__add(&h, UINT64_MAX);
	s = json_of(&h);
	assert_non_null(strstr(s, "\"max\":18446744073709551615,"));
	assert_non_null(strstr(s, "\"log2_buckets\":[[0,1],[9223372036854775808,1]]"));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_single_value),
		cmocka_unit_test(test_one_to_hundred),
		cmocka_unit_test(test_percentile_bounds_random),
		cmocka_unit_test(test_percentile_huge_values),
		cmocka_unit_test(test_slot_boundaries),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
