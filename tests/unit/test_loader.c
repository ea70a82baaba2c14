// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The loader's program table against the BPF object: every program of
 * portlife.bpf.c is in the table, attaches as the table says, and every
 * table entry has its program. A program added without a table entry would
 * otherwise never load, in any mode. Opening an object needs no privilege.
 * Also: the floor's refusal, and a refused load named from libbpf's words.
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

/*
 * A refused load is told by the program and the verifier's own last word, as
 * libbpf 1.1 words its warnings (here: 5.10's verifier on the tracepoint
 * mode's state program), not by a guess from the mode.
 */
static void test_load_error_named(void **state)
{
	struct load_err le = {};

	loader__note_warning(&le, "libbpf: prog 'pl_set_state_tp': BPF program load failed: "
				  "Invalid argument\n");
	loader__note_warning(&le, "libbpf: prog 'pl_set_state_tp': -- BEGIN PROG LOAD LOG --\n"
				  "reg type unsupported for arg#0 function pl_set_state_tp#19\n"
				  "0: R1=ctx(id=0,off=0,imm=0) R10=fp0\n"
				  "; int BPF_PROG(pl_set_state_tp, const struct sock *sk)\n"
				  "23: (85) call bpf_sk_storage_get#107\n"
				  "unknown func bpf_sk_storage_get#107\n"
				  "processed 23 insns (limit 1000000) max_states_per_insn 0 "
				  "total_states 1 peak_states 1 mark_read 1\n"
				  "-- END PROG LOAD LOG --\n");
	loader__note_warning(&le, "libbpf: prog 'pl_set_state_tp': failed to load: -22\n");
	/* later programs are never loaded: the first named is the one refused */
	loader__note_warning(&le, "libbpf: prog 'pl_destroy': failed to load: -22\n");
	assert_string_equal(le.prog, "pl_set_state_tp");
	assert_string_equal(le.reason, "unknown func bpf_sk_storage_get#107");
	assert_string_equal(le.map, "");

	memset(&le, 0, sizeof(le));
	loader__note_warning(&le, "libbpf: map 'events': failed to create: Operation not "
				  "permitted(-1)\n");
	assert_string_equal(le.map, "events");
	assert_string_equal(le.reason, "Operation not permitted");
	assert_string_equal(le.prog, "");

	/* what is not a load failure names nothing */
	memset(&le, 0, sizeof(le));
	loader__note_warning(&le, "libbpf: prog 'pl_fe_connect': skipped loading\n");
	loader__note_warning(&le, "libbpf: failed to open '/sys/bus/event_source/devices/kprobe/"
				  "type': No such file or directory\n");
	assert_string_equal(le.prog, "");
	assert_string_equal(le.reason, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_object),
		cmocka_unit_test(test_release_floor),
		cmocka_unit_test(test_load_error_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
