// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the text lines and remedies people read (user/output.c,
 * user/agg.c): each detail says all of what it means, and nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "agg.h"
#include "lease.h"
#include "output.h"
#include "tracefile.h"

/* The text lines out__event() and out__nat() write for what run() feeds them. */
struct sink {
	struct out o;
	char *text;
	size_t len;
};

static void sink_open(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	s->o.f = open_memstream(&s->text, &s->len);
	assert_non_null(s->o.f);
	s->o.events = true;
}

static const char *sink_close(struct sink *s)
{
	assert_int_equal(fclose(s->o.f), 0);
	out__free(&s->o);
	return s->text;
}

/* Every byte a terminal shows as itself: no NUL, no control byte but the newlines. */
static void assert_printable(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\n' && (text[i] < 0x20 || text[i] > 0x7e))
			fail_msg("byte 0x%02x at %zu in: %s", (unsigned char)text[i], i, text);
}

static struct pl_event listen_signal(__u16 sflags)
{
	struct pl_event e = { .type = PL_EV_SIGNAL, .family = AF_INET, .proto = IPPROTO_TCP,
			      .kind = PL_SIG_LISTEN, .sflags = sflags, .lport = 51443,
			      .pid = 42, .tid = 42, .ts_ns = 1000,
			      .aux = 32768 | (60999u << 16), .laddr = { 127, 0, 0, 1 } };

	memcpy(e.comm, "python3", 8);
	return e;
}

/* A listen signal says whose choice the port was, whole (it was cut to " on a p"). */
static void test_listen_signal_text(void **state)
{
	struct lease_result r = { 0 };
	struct pl_event e;
	struct sink s;
	const char *t;

	(void)state;
	sink_open(&s);
	e = listen_signal(0);
	out__event(&s.o, &e, &r);
	e = listen_signal(PL_SIGF_BOUND | PL_SIGF_RESERVED);
	out__event(&s.o, &e, &r);
	t = sink_close(&s);
	assert_non_null(strstr(t, "listen on a port the kernel chose, ip_local_port_range "
				  "32768-60999\n"));
	assert_non_null(strstr(t, "listen on a port given to bind(), ip_local_port_range "
				  "32768-60999 (reserved)\n"));
	assert_printable(t, s.len);
	free(s.text);
}

static struct pl_nat_rec nat_rec(__u8 kind)
{
	struct pl_nat_rec n = { .kind = kind, .family = AF_INET, .proto = IPPROTO_TCP,
				.flags = PL_NATF_OWNED, .lport = 40001, .rport = 443,
				.nat_port = 1025, .pid = 42, .nat_netns = 7, .ts_ns = 2000,
				.hold_ns = 1500000, .laddr = { 10, 0, 0, 2 },
				.raddr = { 192, 0, 2, 1 }, .nat_addr = { 198, 51, 100, 1 } };

	memcpy(n.comm, "client", 7);
	return n;
}

/* A translation and its end, each with its own word (one read bytes past "as "). */
static void test_nat_text(void **state)
{
	struct pl_nat_rec n;
	struct sink s;
	const char *t;

	(void)state;
	sink_open(&s);
	n = nat_rec(PL_NAT_NEW);
	out__nat(&s.o, &n);
	n = nat_rec(PL_NAT_END);
	out__nat(&s.o, &n);
	t = sink_close(&s);
	assert_non_null(strstr(t, " as 198.51.100.1:1025 netns 7\n"));
	assert_non_null(strstr(t, " released 198.51.100.1:1025 held 1.50ms netns 7\n"));
	assert_printable(t, s.len);
	free(s.text);
}

/*
 * An allocation whose latency the tracer could not measure says 0: any kind
 * (a deferred TCP connect()'s too, not only a UDP autobind), shown as not
 * measured in the line and null in JSON, never "in 0ns" (a search takes
 * longer than that); a measured one says its time.
 */
static void test_latency_not_measured(void **state)
{
	static const __u8 kinds[] = { PL_ALLOC_CONNECT, PL_ALLOC_AUTOBIND };
	struct lease_result r = { .what = LW_ALLOC };
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .pid = 42, .tid = 42, .ts_ns = 1000, .lport = 40000 };
	struct sink s;
	const char *t;

	(void)state;
	memcpy(e.comm, "client", 7);
	for (int json = 0; json < 2; json++) {
		for (size_t k = 0; k < sizeof(kinds); k++) {
			sink_open(&s);
			s.o.json = json;
			e.kind = kinds[k];
			e.dur_ns = 0;
			out__event(&s.o, &e, &r);
			e.dur_ns = 12000;
			out__event(&s.o, &e, &r);
			t = sink_close(&s);
			if (json) {
				assert_non_null(strstr(t, "\"latency_ns\":null"));
				assert_non_null(strstr(t, "\"latency_ns\":12000"));
				assert_null(strstr(t, "\"latency_ns\":0"));
			} else {
				assert_non_null(strstr(t, " (latency not measured)\n"));
				assert_non_null(strstr(t, " in 12.0us\n"));
				assert_null(strstr(t, " in 0"));
			}
			free(s.text);
		}
	}
	/* nor a sample of the histogram */
	{
		struct agg *a = agg__new(16);
		struct lease_table *lt = lease_table__new(16);
		struct proc_stats p;

		assert_non_null(a);
		assert_non_null(lt);
		e.kind = PL_ALLOC_CONNECT;
		e.dur_ns = 0;
		e.lease = 1;
		lease_table__apply(lt, &e, &r);
		agg__apply(a, &e, &r);
		agg__total(a, &p);
		assert_int_equal(p.allocs, 1);
		assert_int_equal(p.alloc_lat.count, 0);
		agg__free(a);
		lease_table__free(lt);
	}
}

/* The ALLOC of a failed allocation of kind with err, through the aggregation. */
static void failed(struct agg *a, __u8 kind, int err)
{
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .kind = kind, .err = err, .pid = 42, .tid = 42, .dur_ns = 900 };
	struct lease_result r = { .what = LW_ALLOC };

	memcpy(e.comm, "client", 7);
	agg__apply(a, &e, &r);
}

/*
 * A process's remedy follows what failed: a port asked for and taken is not
 * a range too narrow; bind(0)'s EADDRINUSE (no free port) is.
 */
static void test_remedy_by_failure(void **state)
{
	struct agg *a = agg__new(16);
	struct proc_stats p;
	char buf[256];

	(void)state;
	assert_non_null(a);
	failed(a, PL_ALLOC_BIND_EXPLICIT, EADDRINUSE);
	failed(a, PL_ALLOC_BIND_EXPLICIT, EADDRINUSE);
	agg__total(a, &p);
	assert_non_null(agg__remedy(&p, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "port in use"));
	assert_null(strstr(buf, "ip_local_port_range"));
	/* a bind(0) that found no free port among them: the range is the remedy */
	failed(a, PL_ALLOC_BIND_EPHEMERAL, EADDRINUSE);
	agg__total(a, &p);
	assert_non_null(agg__remedy(&p, buf, sizeof(buf)));
	assert_non_null(strstr(buf, "ip_local_port_range"));
	agg__free(a);
	memset(&p, 0, sizeof(p));
	assert_null(agg__remedy(&p, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_signal_text),
		cmocka_unit_test(test_nat_text),
		cmocka_unit_test(test_latency_not_measured),
		cmocka_unit_test(test_remedy_by_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
