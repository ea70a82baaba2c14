// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the socket headroom (user/headroom.c) against the kernel's port searches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "headroom.h"
#include "snapshot.h"

/*
 * connect() and bind(0) walk an even count of ports: of an odd-sized range
 * the last is never picked (measured on 6.18: 40000-40002 binds two).
 */
static void test_pick_hi(void **state)
{
	(void)state;
	assert_int_equal(ns_pick_hi(40000, 40002), 40001);
	assert_int_equal(ns_pick_hi(40000, 40003), 40003);
	assert_int_equal(ns_pick_hi(32768, 60999), 60999);	/* 28232 ports: all */
	assert_int_equal(ns_pick_hi(5000, 5000), 5000);	/* one port is searched */
	assert_int_equal(ns_pick_hi(1, 65535), 65534);
}

/* One connection from 40000 in a 40000-40002 range: one port left, not two. */
static void test_odd_range_headroom(void **state)
{
	struct ns_info ns = { .inum = 7, .lo = 40000, .hi = 40002 };
	struct sock_ent e = { .pid = 1 };
	struct snapshot s = { .v = &e, .n = 1, .ns = &ns, .nns = 1, .ts_ns = 1 };
	struct bind_room *bv = NULL;
	struct dest *dv = NULL;
	size_t nd, nb;

	(void)state;
	ns.pick_hi = ns_pick_hi(ns.lo, ns.hi);
	e.r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP, .state = 1,
				    .lport = 40000, .rport = 5000, .netns = 7,
				    .laddr = { 127, 0, 0, 1 }, .raddr = { 127, 0, 0, 1 } };
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(nd, 1);
	assert_int_equal(dv[0].in_use, 1);
	assert_int_equal(dv[0].usable, 2);
	assert_int_equal(dv[0].free, 1);
	assert_int_equal(nb, 1);
	assert_int_equal(bv[0].hi, 40002);	/* the range as configured */
	assert_int_equal(bv[0].free, 1);
	free(dv);
	free(bv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_hi),
		cmocka_unit_test(test_odd_range_headroom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
