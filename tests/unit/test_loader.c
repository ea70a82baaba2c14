// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The loader's program table against the BPF object: every program of
 * portlife.bpf.c is in the table, attaches as the table says, and every
 * table entry has its program. A program added without a table entry would
 * otherwise never load, in any mode. Opening an object needs no privilege.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "loader.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static void test_table_matches_object(void **state)
{
	char why[256] = "";
	int err;

	libbpf_set_print(quiet);
	err = loader__check_table(why, sizeof(why));
	if (err)
		fail_msg("%s", why);
}

/* The preflight refuses below the stated floor, in words naming it. */
static void test_release_floor(void **state)
{
	char why[256] = "", below[32];

	snprintf(below, sizeof(below), "%d.%d.0-test", PL_MIN_KERNEL_MAJOR,
		 PL_MIN_KERNEL_MINOR - 1);
	assert_int_equal(loader__check_release(below, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "kernel " PL_MIN_KERNEL " or newer"));
	assert_int_equal(loader__check_release("4.19.0", why, sizeof(why)), -ENOTSUP);
	assert_int_equal(loader__check_release(PL_MIN_KERNEL ".0-1-amd64", why, sizeof(why)), 0);
	assert_int_equal(loader__check_release("6.1.0-37-cloud-amd64", why, sizeof(why)), 0);
	assert_int_equal(loader__check_release("10.0", why, sizeof(why)), 0);
	/* unreadable: given the benefit of the doubt */
	assert_int_equal(loader__check_release("custom", why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_object),
		cmocka_unit_test(test_release_floor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
