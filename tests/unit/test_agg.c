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

/*
 * A process whose failures were all searches in its sockets' own
 * IP_LOCAL_PORT_RANGE is told to widen that, not the netns's range; one
 * failure of the netns's range among them brings the general remedy back.
 */
static void test_own_range_remedy(void **state)
{
	struct agg *a = agg__new(16);
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .err = 99, .pid = 9, .dur_ns = 1000, .comm = "proxy",
			      .aux = 50000 | 50004u << 16, .sflags = PL_ALLOCF_OWN_RANGE };
	struct lease_result r = { .what = LW_ALLOC };
	struct proc_stats **v;
	char buf[320];
	size_t n;

	(void)state;
	assert_non_null(a);
	agg__apply(a, &e, &r);
	agg__apply(a, &e, &r);
	v = agg__sorted(a, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0]->own_range_fails, 2);
	assert_non_null(strstr(agg__remedy(v[0], buf, sizeof(buf)),
			       "its sockets' own IP_LOCAL_PORT_RANGE had no port left (2 failures)"));
	free(v);
	e.sflags = 0;
	agg__apply(a, &e, &r);
	v = agg__sorted(a, &n);
	assert_non_null(strstr(agg__remedy(v[0], buf, sizeof(buf)),
			       "widen net.ipv4.ip_local_port_range"));
	free(v);
	agg__free(a);
}

/*
 * A bound port's connect()s that met their 4-tuple in use searched nothing:
 * counted apart from the failed searches (not in failures, the errno counts
 * the metrics alert on, nor the allocation latency), with the remedy to let
 * connect() choose the port. A real failed search, more urgent, brings the
 * general remedy back.
 */
static void test_tuple_remedy(void **state)
{
	struct agg *a = agg__new(16);
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .err = 99, .pid = 9, .dur_ns = 1000, .comm = "legacy",
			      .sflags = PL_ALLOCF_BOUND };
	struct lease_result r = { .what = LW_ALLOC };
	struct proc_stats **v;
	char buf[320];
	size_t n;

	(void)state;
	assert_non_null(a);
	agg__apply(a, &e, &r);
	agg__apply(a, &e, &r);
	v = agg__sorted(a, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0]->failures, 0);
	assert_int_equal(v[0]->fail[0].n, 0);
	assert_int_equal(v[0]->tuple_fails, 2);
	assert_int_equal(v[0]->alloc_lat.count, 0);
	assert_non_null(strstr(agg__remedy(v[0], buf, sizeof(buf)),
			       "a bound port makes one connection per destination"));
	assert_null(strstr(buf, "ip_local_port_range"));
	free(v);
	e.sflags = 0;
	agg__apply(a, &e, &r);
	v = agg__sorted(a, &n);
	assert_int_equal(v[0]->failures, 1);
	assert_int_equal(v[0]->alloc_lat.count, 1);
	assert_non_null(strstr(agg__remedy(v[0], buf, sizeof(buf)),
			       "widen net.ipv4.ip_local_port_range"));
	free(v);
	agg__free(a);
}

/*
 * A process whose ports mostly end in TIME_WAIT on loopback is not told to
 * set tcp_tw_reuse=1: the default 2 already lets connect() take those over.
 * One whose TIME_WAIT is towards another host still is.
 */
static void test_loopback_tw_remedy(void **state)
{
	struct agg *a = agg__new(16);
	struct lease lo = { .pid = 9, .comm = "sidecar", .family = AF_INET, .proto = IPPROTO_TCP,
			    .laddr = { 127, 0, 0, 1 }, .alloc_ts = 1 };
	struct lease far = lo;
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP };
	struct proc_stats **v;
	char buf[320];
	size_t n;

	(void)state;
	assert_non_null(a);
	far.pid = 10;
	far.laddr[0] = 10;
	for (int i = 0; i < 100; i++) {
		struct lease *ls[] = { &lo, &far };

		for (int k = 0; k < 2; k++) {
			struct lease_result r = { .what = LW_ALLOC, .lease = ls[k] };

			agg__apply(a, &e, &r);
			r.what = LW_TW_ENTER;
			agg__apply(a, &e, &r);
		}
	}
	v = agg__sorted(a, &n);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(v[i]->tw_entered, 100);
		agg__remedy(v[i], buf, sizeof(buf));
		if (v[i]->pid == 9) {
			assert_int_equal(v[i]->tw_loopback, 100);
			assert_non_null(strstr(buf, "on loopback"));
			assert_null(strstr(buf, "tcp_tw_reuse=1"));
		} else {
			assert_int_equal(v[i]->tw_loopback, 0);
			assert_non_null(strstr(buf, "net.ipv4.tcp_tw_reuse=1 on the client"));
		}
	}
	free(v);
	agg__free(a);
}

/* An allocation by pid that holds its port. */
static void hold_event(struct agg *a, __u32 pid, const char *comm)
{
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .pid = pid, .dur_ns = 1000 };
	struct lease l = { .id = 1, .pid = pid, .alloc_ts = 1, .flags = L_ALLOCATED };
	struct lease_result r = { .what = LW_ALLOC, .lease = &l };

	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	memcpy(l.comm, e.comm, sizeof(l.comm));
	agg__apply(a, &e, &r);
}

/*
 * The same name again is the same row; past max_procs, with every row
 * holding a port (nothing to fold), "[other]".
 */
static void test_rows_and_other(void **state)
{
	struct agg *a = agg__new(4);
	struct proc_stats **v;
	size_t n;

	for (int i = 0; i < 3; i++)
		hold_event(a, 1, "curl");
	for (__u32 pid = 2; pid < 10; pid++)
		hold_event(a, pid, "wget");
	v = agg__sorted(a, &n);
	/* 4 rows and [other], most events first: [other] took pids 5 to 9 */
	assert_int_equal(n, 5);
	assert_string_equal(v[0]->comm, "[other]");
	assert_int_equal(v[0]->allocs, 5);
	assert_string_equal(v[1]->comm, "curl");
	assert_int_equal(v[1]->allocs, 3);
	assert_int_equal(agg__overflowed(a), 5);
	assert_int_equal(agg__retired(a), 0);
	free(v);
	agg__free(a);
}

/* A failed allocation of pid (comm, cgroup cg) at ts: a row that holds nothing. */
static void fail_at(struct agg *a, __u32 pid, const char *comm, __u64 cg, __u64 ts)
{
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .err = 99, .pid = pid, .dur_ns = 1000, .cgroup_id = cg, .ts_ns = ts };
	struct lease_result r = { .what = LW_ALLOC };

	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	agg__apply(a, &e, &r);
}

static const struct proc_stats *row_of(struct proc_stats **v, size_t n, __u32 pid,
				       const char *comm, __u64 cg)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->pid == pid && !strcmp(v[i]->comm, comm) && v[i]->cgroup_id == cg)
			return v[i];
	return NULL;
}

/*
 * A long run: more processes than rows (a health check's curl every few
 * seconds). When the table is full the rows idle longest that hold no port
 * fold into one row per name and cgroup, and the new process gets its own
 * row, not "[other]"; one holding a port is never folded; every count is
 * kept, and per name and cgroup only grows.
 */
static void test_idle_rows_fold(void **state)
{
	struct agg *a = agg__new(16);
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .pid = 1, .cgroup_id = 100, .ts_ns = 1, .dur_ns = 5 };
	struct lease l = { .id = 1, .pid = 1, .cgroup_id = 100, .alloc_ts = 1,
			   .flags = L_ALLOCATED };
	struct lease_result r = { .what = LW_ALLOC, .lease = &l };
	const struct proc_stats *p;
	struct proc_stats **v, tot;
	size_t n;

	(void)state;
	assert_non_null(a);
	/* pid 1, the oldest, holds a port: it stays */
	strcpy(e.comm, "holder");
	strcpy(l.comm, "holder");
	agg__apply(a, &e, &r);
	for (__u32 pid = 2; pid <= 16; pid++)
		fail_at(a, pid, "check", pid < 9 ? 100 : 200, pid * 10);
	assert_int_equal(agg__retired(a), 0);
	/* the table is full: two rows go (16 / 8), pids 2 and 3, into (check, 100) */
	fail_at(a, 17, "culprit", 300, 1000);
	assert_int_equal(agg__retired(a), 2);
	assert_int_equal(agg__overflowed(a), 0);
	v = agg__sorted(a, &n);
	assert_non_null(v);
	assert_int_equal(n, 16);
	assert_non_null(row_of(v, n, 17, "culprit", 300));
	assert_non_null(row_of(v, n, 1, "holder", 100));
	assert_null(row_of(v, n, 2, "check", 100));
	assert_null(row_of(v, n, 3, "check", 100));
	p = row_of(v, n, 0, "check", 100);
	assert_non_null(p);
	assert_int_equal(p->folded, 2);
	assert_int_equal(p->failures, 2);
	assert_true(agg_row_owned(p));
	free(v);
	/* more: the next folds reuse the per-name rows; a folded pid that comes back is new */
	for (__u32 pid = 18; pid <= 40; pid++)
		fail_at(a, pid, "check", 200, 1000 + pid);
	fail_at(a, 2, "check", 100, 5000);
	agg__total(a, &tot);
	assert_int_equal(tot.failures, 16 + 23 + 1);
	assert_int_equal(tot.allocs, 1);
	assert_int_equal(tot.folded, 0);
	assert_int_equal(agg__overflowed(a), 0);
	v = agg__sorted(a, &n);
	assert_non_null(row_of(v, n, 1, "holder", 100));
	assert_non_null(row_of(v, n, 2, "check", 100));
	p = row_of(v, n, 0, "check", 200);
	assert_non_null(p);
	assert_true(p->folded >= 8);
	free(v);
	agg__free(a);
}

/*
 * Each process in a cgroup of its own (a cron job's session scope): folding
 * makes as many rows as it takes, so a pass frees nothing; the new
 * processes go to [other] and the passes stop for a while; nothing is lost.
 */
static void test_fold_frees_nothing(void **state)
{
	struct agg *a = agg__new(16);
	struct proc_stats tot;

	(void)state;
	for (__u32 pid = 1; pid <= 16; pid++)
		fail_at(a, pid, "job", 1000 + pid, pid);
	for (__u32 pid = 17; pid <= 26; pid++)
		fail_at(a, pid, "job", 1000 + pid, pid);
	agg__total(a, &tot);
	assert_int_equal(tot.failures, 26);
	assert_true(agg__overflowed(a) >= 8);
	/* one pass (two rows), then none for the next two new processes at least */
	assert_true(agg__retired(a) <= 2 * 4);
	agg__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renames_are_bounded),
		cmocka_unit_test(test_rows_and_other),
		cmocka_unit_test(test_idle_rows_fold),
		cmocka_unit_test(test_fold_frees_nothing),
		cmocka_unit_test(test_own_range_remedy),
		cmocka_unit_test(test_tuple_remedy),
		cmocka_unit_test(test_loopback_tw_remedy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
