// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the per-process aggregation (user/agg.c): bounded work whatever the input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "agg.h"

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail_event(struct agg *a, __u32 pid, const char *comm)
{
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .err = 99, .pid = pid, .dur_ns = 1000 };
	struct lease_result r = { .what = LW_ALLOC };

	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	agg__apply(a, &e, &r);
}

/*
 * A process renaming itself before every bind (PR_SET_NAME; anyone can):
 * its rows stop at AGG_NAMES_PER_PID, the rest is counted, and 65536 names
 * cost what 65536 events of one name do, not one walk per name ever seen.
 */
static void test_renames_are_bounded(void **state)
{
	struct agg *a = agg__new(65536);
	struct proc_stats **v, total;
	char comm[16];
	size_t n;
	double t;

	assert_non_null(a);
	t = cpu_now();
	for (int i = 0; i < 65536; i++) {
		snprintf(comm, sizeof(comm), "n%d", i);
		fail_event(a, 4242, comm);
	}
	t = cpu_now() - t;
	v = agg__sorted(a, &n);
	assert_int_equal(n, AGG_NAMES_PER_PID);
	agg__total(a, &total);
	assert_int_equal(total.failures, 65536);
	assert_int_equal(total.renamed, 65536 - AGG_NAMES_PER_PID);
	/* quadratic work was 67 s for this; linear is milliseconds */
	assert_true(t < 1.0);
	free(v);
	/* another pid is untouched by the first one's folding */
	fail_event(a, 7, "other");
	v = agg__sorted(a, &n);
	assert_int_equal(n, AGG_NAMES_PER_PID + 1);
	free(v);
	agg__free(a);
}

/* The same name again is the same row; past max_procs, "[other]". */
static void test_rows_and_other(void **state)
{
	struct agg *a = agg__new(4);
	struct proc_stats **v;
	size_t n;

	for (int i = 0; i < 3; i++)
		fail_event(a, 1, "curl");
	for (__u32 pid = 2; pid < 10; pid++)
		fail_event(a, pid, "wget");
	v = agg__sorted(a, &n);
	/* 4 rows and [other], most events first: [other] took pids 5 to 9 */
	assert_int_equal(n, 5);
	assert_string_equal(v[0]->comm, "[other]");
	assert_int_equal(v[0]->failures, 5);
	assert_string_equal(v[1]->comm, "curl");
	assert_int_equal(v[1]->failures, 3);
	assert_int_equal(agg__overflowed(a), 5);
	free(v);
	agg__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renames_are_bounded),
		cmocka_unit_test(test_rows_and_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
