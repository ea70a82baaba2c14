// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the Prometheus exposition (user/metrics.c): the label
 * cardinality bound, escaping of hostile process names, cumulative
 * histograms, the atomic file write and the --metrics-addr parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include "metrics.h"

static struct pl_event ev_alloc(__u64 id, __u32 pid, const char *comm, __u64 lat)
{
	struct pl_event e;

	memset(&e, 0, sizeof(e));
	e.type = PL_EV_ALLOC;
	e.kind = PL_ALLOC_CONNECT;
	e.lease = id;
	e.ts_ns = 1000000 + id;
	e.family = 2;
	e.proto = 6;
	e.lport = 40000 + (__u16)id;
	e.rport = 443;
	e.pid = pid;
	e.tid = pid;
	e.netns = 4026531840u;
	e.dur_ns = lat;
	e.cookie = id;
	strncpy(e.comm, comm, sizeof(e.comm) - 1);
	return e;
}

struct fixture {
	struct agg *agg;
	struct lease_table *lt;
	struct run_info ri;
	char *text;
	size_t len;
};

static void feed(struct fixture *fx, const struct pl_event *e)
{
	struct lease_result r;

	lease_table__apply(fx->lt, e, &r);
	agg__apply(fx->agg, e, &r);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	fx->agg = agg__new(1024);
	fx->lt = lease_table__new(4096);
	*state = fx;
	return fx->agg && fx->lt ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	agg__free(fx->agg);
	lease_table__free(fx->lt);
	free(fx->text);
	free(fx);
	return 0;
}

static const char *render(struct fixture *fx, unsigned int top_n)
{
	struct metrics_src ms = { .agg = fx->agg, .leases = fx->lt, .ri = &fx->ri,
				  .top_n = top_n, .start_time = 1.5e9, .version = "test" };
	FILE *f;

	free(fx->text);
	fx->text = NULL;
	f = open_memstream(&fx->text, &fx->len);
	assert_non_null(f);
	assert_int_equal(metrics_render(f, &ms), 0);
	assert_int_equal(fclose(f), 0);
	return fx->text;
}

/* Lines that start with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	size_t l = strlen(prefix);
	int n = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, l);
	return n;
}

/* Value of the series named exactly (with labels), or -1. */
static double value(const char *text, const char *series)
{
	size_t l = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, l) && p[l] == ' ')
			return strtod(p + l + 1, NULL);
	return -1;
}

/* 30 process names, name i making i+1 allocations: top 5 get series, 25 are "[other]". */
static void test_cardinality_bound(void **state)
{
	struct fixture *fx = *state;
	__u64 id = 1, other = 0;
	char comm[16];

	for (int i = 0; i < 30; i++) {
		snprintf(comm, sizeof(comm), "proc%02d", i);
		for (int k = 0; k <= i; k++) {
			struct pl_event e = ev_alloc(id++, 100 + i, comm, 2000);

			feed(fx, &e);
		}
		if (i < 25)
			other += i + 1;
	}
	render(fx, 5);
	assert_int_equal(count_lines(fx->text, "portlife_allocations_total{"), 6);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"proc29\"}"), 30);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"proc25\"}"), 26);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"proc24\"}"), -1);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"[other]\"}"), other);
	/* every histogram is bounded the same way: one _count per label set */
	assert_int_equal(count_lines(fx->text, "portlife_allocation_latency_seconds_count{"), 6);
	assert_int_equal(value(fx->text, "portlife_process_names_folded"), 25);
}

/*
 * A process that names itself "[other]" (30 allocations), beside names past
 * --metrics-top 1 (plxa 20, plxc 10): one "[other]" series, the fold's and
 * its own summed, never two with the same labels. Alone within the top, it
 * is still the one "[other]" series.
 */
static void test_comm_named_other(void **state)
{
	struct fixture *fx = *state;
	static const struct { const char *comm; int n; } p[] = {
		{ "[other]", 30 }, { "plxa", 20 }, { "plxc", 10 } };
	__u64 id = 1;

	for (int i = 0; i < 3; i++)
		for (int k = 0; k < p[i].n; k++) {
			struct pl_event e = ev_alloc(id++, 100 + i, p[i].comm, 1000);

			feed(fx, &e);
		}
	render(fx, 1);
	assert_int_equal(count_lines(fx->text, "portlife_allocations_total{comm=\"[other]\"}"), 1);
	assert_int_equal(count_lines(fx->text, "portlife_allocations_total{"), 2);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"plxa\"}"), 20);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"[other]\"}"), 40);
	assert_int_equal(count_lines(fx->text, "portlife_allocation_latency_seconds_count{comm=\"[other]\"}"), 1);
	render(fx, 20);
	assert_int_equal(count_lines(fx->text, "portlife_allocations_total{comm=\"[other]\"}"), 1);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"[other]\"}"), 30);
	assert_int_equal(count_lines(fx->text, "portlife_allocations_total{"), 3);
}

/* The same name in two processes is one series; pids are not labels. */
static void test_same_comm_merged(void **state)
{
	struct fixture *fx = *state;
	struct pl_event a = ev_alloc(1, 10, "nginx", 1000), b = ev_alloc(2, 11, "nginx", 1000);

	feed(fx, &a);
	feed(fx, &b);
	render(fx, 20);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"nginx\"}"), 2);
	assert_int_equal(value(fx->text, "portlife_ports_held{comm=\"nginx\"}"), 2);
	assert_null(strstr(fx->text, "pid="));
}

/*
 * A process name is attacker-controlled: quotes and backslashes are escaped,
 * control characters (a newline would end the sample) become '?'.
 */
static void test_hostile_comm(void **state)
{
	struct fixture *fx = *state;
	struct pl_event e = ev_alloc(1, 10, "a\"b\\c\nd}", 1000);

	feed(fx, &e);
	render(fx, 20);
	assert_int_equal(value(fx->text, "portlife_allocations_total{comm=\"a\\\"b\\\\c?d}\"}"), 1);
	/* no line but comments and samples: the newline did not break one */
	for (const char *p = fx->text; *p; p = strchr(p, '\n') + 1)
		assert_true(*p == '#' || !strncmp(p, "portlife_", 9));
}

/* Buckets are cumulative, non-decreasing, and +Inf equals _count. */
static void test_histogram_cumulative(void **state)
{
	struct fixture *fx = *state;
	static const __u64 lat[] = { 100, 300, 5000, 5000, 70000, 1000000, 3000000000ULL };
	double prev = 0, inf;
	const char *p;
	int buckets = 0;

	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		struct pl_event e = ev_alloc(i + 1, 10, "curl", lat[i]);

		feed(fx, &e);
	}
	render(fx, 20);
	for (p = strstr(fx->text, "portlife_allocation_latency_seconds_bucket{comm=\"curl\"");
	     p && !strncmp(p, "portlife_allocation_latency_seconds_bucket{comm=\"curl\"", 53);
	     p = strchr(p, '\n') + 1) {
		double v = strtod(strchr(p, '}') + 2, NULL);

		assert_true(v >= prev);
		prev = v;
		buckets++;
	}
	assert_true(buckets > 5);
	inf = value(fx->text, "portlife_allocation_latency_seconds_bucket{comm=\"curl\",le=\"+Inf\"}");
	assert_int_equal(inf, 7);
	assert_int_equal(prev, 7);
	assert_int_equal(value(fx->text, "portlife_allocation_latency_seconds_count{comm=\"curl\"}"), 7);
	/* the sum is in seconds */
	assert_true(value(fx->text, "portlife_allocation_latency_seconds_sum{comm=\"curl\"}") > 3.0);
}

/* Written atomically: mode 0644, no temporary file left, a symlink target replaced not followed. */
static void test_write_file(void **state)
{
	char dir[] = "/tmp/pl-metrics-XXXXXX", path[64], victim[64], tmp[96];
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/portlife.prom", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	assert_int_equal(metrics_check_file(path), 0);
	assert_int_equal(stat(path, &st), -1);	/* the check leaves nothing */
	fd = open(victim, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(metrics_write_file(path, "x 1\n", 4), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 0);
	snprintf(tmp, sizeof(tmp), "%s/.portlife.prom.%d.tmp", dir, (int)getpid());
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(metrics_check_file(dir), -EISDIR);
	assert_int_equal(metrics_check_file("/nonexistent-dir/x.prom"), -ENOENT);
	/* 0644 under a service's UMask=0077 too: node_exporter must read it */
	{
		mode_t old = umask(077);
		int err = metrics_write_file(path, "x 2\n", 4);

		umask(old);
		assert_int_equal(err, 0);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0644);
	}
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

/*
 * A kernel that does not count recursion misses (before 5.12): no series,
 * rather than a 0 that says none were missed.
 */
static void test_recursion_not_counted(void **state)
{
	struct fixture *fx = *state;
	const char *text;

	fx->ri.recursion_misses = 3;
	text = render(fx, 5);
	assert_true(value(text, "portlife_recursion_misses_total") == 3);
	fx->ri.recursion_misses = PL_NOT_COUNTED;
	text = render(fx, 5);
	assert_int_equal(count_lines(text, "portlife_recursion_misses_total"), 0);
	assert_int_equal(count_lines(text, "# TYPE portlife_recursion_misses_total"), 0);
	assert_true(value(text, "portlife_leases_untracked_total") == 0);
}

/*
 * Tracepoint mode's rounds: what they could not see and what they found
 * anyway, both reconciliations as series of their own (zeros included).
 */
static void test_snapshot_counts(void **state)
{
	struct fixture *fx = *state;
	const char *text;

	text = render(fx, 5);
	assert_int_equal(count_lines(text, "portlife_tw_unseen_total"), 0);	/* no rounds */
	fx->ri.snap_interval = 0.5;
	fx->ri.tw_unseen = 4;
	fx->ri.gone_reconciled = 2;
	text = render(fx, 5);
	assert_true(value(text, "portlife_tw_unseen_total") == 4);
	assert_true(value(text, "portlife_closes_reconciled_total{found=\"time_wait\"}") == 0);
	assert_true(value(text, "portlife_closes_reconciled_total{found=\"gone\"}") == 2);
	assert_int_equal(count_lines(text, "# TYPE portlife_closes_reconciled_total counter"), 1);
}

static void test_parse_addr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char a[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(metrics_parse_addr("9100", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(in4->sin_port), 9100);
	assert_int_equal(ntohl(in4->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(metrics_parse_addr("0.0.0.0:9100", &ss), 0);
	assert_int_equal(in4->sin_addr.s_addr, 0);
	assert_int_equal(metrics_parse_addr("[::1]:9101", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(in6->sin6_port), 9101);
	assert_string_equal(inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)), "::1");
	assert_int_equal(metrics_parse_addr("0", &ss), -EINVAL);
	assert_int_equal(metrics_parse_addr("65536", &ss), -EINVAL);
	assert_int_equal(metrics_parse_addr("localhost:80", &ss), -EINVAL);
	assert_int_equal(metrics_parse_addr("::1:80", &ss), -EINVAL);
	assert_int_equal(metrics_parse_addr("[::1]", &ss), -EINVAL);
	assert_int_equal(metrics_parse_addr("", &ss), -EINVAL);
	assert_int_equal(metrics_parse_addr("1.2.3.4:", &ss), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cardinality_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_comm_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comm_named_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_comm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_histogram_cumulative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recursion_not_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_counts, setup, teardown),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_parse_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
