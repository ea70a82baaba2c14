// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the event pipeline (user/pipeline.c): what every output is
 * handed, whichever source the events came from, and the filters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "pipeline.h"

#define MAXSEEN 16

struct seen {
	struct pl_event e[MAXSEEN];
	enum lease_what what[MAXSEEN];
	int n;
};

static void record(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct seen *s = ctx;

	if (s->n < MAXSEEN) {
		s->e[s->n] = *e;
		s->what[s->n] = r->what;
	}
	s->n++;
}

static struct pl_event ev(__u8 type, __u64 id, __u64 ts)
{
	struct pl_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.lease = id;
	e.ts_ns = ts;
	e.family = AF_INET;
	e.proto = IPPROTO_TCP;
	e.lport = 40001;
	e.rport = 443;
	e.laddr[0] = 10;
	e.laddr[3] = 1;
	e.raddr[0] = 192;
	e.raddr[3] = 7;
	e.pid = 1234;
	e.netns = 4026531840u;
	strcpy(e.comm, "curl");
	return e;
}

struct fixture {
	struct lease_table *t;
	struct agg *a;
	struct pipeline p;
	struct seen s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->t = lease_table__new(64);
	f->a = agg__new(16);
	pipeline__init(&f->p, f->t, f->a);
	pipeline__add_sink(&f->p, record, &f->s);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	agg__free(f->a);
	lease_table__free(f->t);
	free(f);
	return 0;
}

/*
 * At CLOSE the kernel has zeroed the socket's port and addresses: every
 * output (live lines, report's jsonl, csv, chrome) must show the lease's.
 */
static void test_shows_the_lease_tuple_after_close(void **state)
{
	struct fixture *f = *state;
	struct pl_event e = ev(PL_EV_ALLOC, 1, 100);

	pipeline__event(&f->p, &e);
	e = ev(PL_EV_STATE, 1, 200);
	e.old_state = PL_TCP_FIN_WAIT2;
	e.new_state = PL_TCP_CLOSE;
	e.lport = 0;
	e.rport = 0;
	memset(e.laddr, 0, sizeof(e.laddr));
	memset(e.raddr, 0, sizeof(e.raddr));
	pipeline__event(&f->p, &e);
	e.type = PL_EV_RELEASE;
	e.ts_ns = 300;
	e.kind = PL_END_CLOSE;
	pipeline__event(&f->p, &e);

	assert_int_equal(f->s.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->s.e[i].lport, 40001);
		assert_int_equal(f->s.e[i].rport, 443);
		assert_int_equal(f->s.e[i].laddr[0], 10);
		assert_int_equal(f->s.e[i].raddr[3], 7);
	}
	assert_int_equal(f->s.what[1], LW_STATE);
	assert_int_equal(f->s.what[2], LW_END);
	/* the state and end reason are the event's own */
	assert_int_equal(f->s.e[1].new_state, PL_TCP_CLOSE);
	assert_int_equal(f->s.e[2].kind, PL_END_CLOSE);
}

/* A failed allocation holds no lease: shown as the kernel reported it. */
static void test_failure_passes_as_is(void **state)
{
	struct fixture *f = *state;
	struct pl_event e = ev(PL_EV_ALLOC, 0, 100);

	e.err = EADDRNOTAVAIL;
	e.lport = 0;
	pipeline__event(&f->p, &e);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(f->s.e[0].err, EADDRNOTAVAIL);
	assert_int_equal(f->s.e[0].lport, 0);
}

/* Duplicates change nothing and reach no output; a duplicate ALLOC still does. */
static void test_duplicates(void **state)
{
	struct fixture *f = *state;
	struct pl_event e = ev(PL_EV_ALLOC, 1, 100);

	pipeline__event(&f->p, &e);
	pipeline__event(&f->p, &e);
	e.type = PL_EV_RELEASE;
	e.ts_ns = 200;
	pipeline__event(&f->p, &e);
	pipeline__event(&f->p, &e);
	assert_int_equal(f->s.n, 3);
	assert_int_equal(f->s.what[1], LW_NONE);
	assert_int_equal(lease_table__stats(f->t)->duplicates, 2);
}

/* -p, -c, -4/-6: whole leases kept or dropped, before the lease table sees them. */
static void test_filters(void **state)
{
	struct fixture *f = *state;
	struct pl_event e = ev(PL_EV_ALLOC, 1, 100), o;

	f->p.filt.pid = 1234;
	f->p.filt.has_comm = true;
	strcpy(f->p.filt.comm, "curl");
	f->p.filt.family = AF_INET;
	pipeline__event(&f->p, &e);
	o = e;
	o.lease = 2;
	o.pid = 99;
	pipeline__event(&f->p, &o);
	o = e;
	o.lease = 3;
	strcpy(o.comm, "wget");
	pipeline__event(&f->p, &o);
	o = e;
	o.lease = 4;
	o.family = AF_INET6;
	pipeline__event(&f->p, &o);
	assert_int_equal(f->s.n, 1);
	assert_int_equal(lease_table__stats(f->t)->live, 1);
	assert_int_equal(f->p.first_ts, 100);
}

/* ::ffff:a.b.c.d (or :: with its last byte set: not mapped) */
static void v6addr(__u8 a[16], bool mapped, __u8 last)
{
	memset(a, 0, 16);
	if (mapped) {
		a[10] = a[11] = 0xff;
		a[12] = 127;
	}
	a[15] = last;
}

/*
 * -4/-6 go by the traffic: an IPv6 socket on v4-mapped addresses (a JVM's
 * IPv4 connections) is IPv4. A socket on [::] with no peer (a dual-stack
 * listener, a bind(0) before connect()) passes both; a lease goes by its
 * first event, so one bound to [::], then connected to a v4-mapped peer,
 * stays whole under either filter.
 */
static void test_family_by_traffic(void **state)
{
	struct fixture *f = *state;
	struct pl_event e = ev(PL_EV_ALLOC, 1, 100);

	f->p.filt.family = AF_INET;
	e.family = AF_INET6;
	v6addr(e.laddr, true, 1);
	v6addr(e.raddr, true, 7);
	pipeline__event(&f->p, &e);		/* mapped: IPv4, kept */
	e = ev(PL_EV_ALLOC, 2, 110);
	e.family = AF_INET6;
	v6addr(e.laddr, false, 1);
	v6addr(e.raddr, false, 7);
	pipeline__event(&f->p, &e);		/* ::1: IPv6, dropped */
	e = ev(PL_EV_ALLOC, 3, 120);
	pipeline__event(&f->p, &e);		/* IPv4 socket: kept */
	assert_int_equal(f->s.n, 2);
	assert_int_equal(f->s.e[0].lease, 1);
	assert_int_equal(f->s.e[1].lease, 3);
	/*
	 * Releases with no address (a UDP socket's after connect(AF_UNSPEC)):
	 * the kept lease's passes, the dropped one's does not (no orphan).
	 */
	for (__u64 id = 1; id <= 2; id++) {
		e = ev(PL_EV_RELEASE, id, 130);
		e.family = AF_INET6;
		e.kind = PL_END_CLOSE;
		memset(e.laddr, 0, 16);
		memset(e.raddr, 0, 16);
		pipeline__event(&f->p, &e);
	}
	assert_int_equal(f->s.n, 3);
	assert_int_equal(f->s.e[2].lease, 1);
	assert_int_equal(lease_table__stats(f->t)->orphans, 0);

	/* -4, then -6: bound to [::] first (either), then a v4-mapped peer: the whole lease */
	for (int k = 0; k < 2; k++) {
		f->s.n = 0;
		f->p.filt.family = k ? AF_INET6 : AF_INET;
		e = ev(PL_EV_ALLOC, 4 + k, 200);
		e.family = AF_INET6;
		memset(e.laddr, 0, 16);
		memset(e.raddr, 0, 16);
		e.rport = 0;
		pipeline__event(&f->p, &e);
		e.type = PL_EV_STATE;
		e.ts_ns = 210;
		e.old_state = PL_TCP_CLOSE;
		e.new_state = PL_TCP_SYN_SENT;
		v6addr(e.laddr, true, 1);
		v6addr(e.raddr, true, 7);
		e.rport = 443;
		pipeline__event(&f->p, &e);
		e.type = PL_EV_RELEASE;
		e.ts_ns = 220;
		e.kind = PL_END_CLOSE;
		pipeline__event(&f->p, &e);
		assert_int_equal(f->s.n, 3);
	}
	/* a mapped lease never seen before is IPv4: not -6's */
	e = ev(PL_EV_ALLOC, 6, 300);
	e.family = AF_INET6;
	v6addr(e.laddr, true, 1);
	v6addr(e.raddr, true, 7);
	pipeline__event(&f->p, &e);
	assert_int_equal(f->s.n, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_shows_the_lease_tuple_after_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_passes_as_is, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_family_by_traffic, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
