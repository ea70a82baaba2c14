// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * pl_crc32() frames every trace record: it must be zlib's crc32() bit for
 * bit, or every trace written before it (and by any other reader) would be
 * "damaged". Checked against zlib itself for every length up to past a few
 * of its eight-byte steps, every alignment, and split at every point.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "crc32.h"

static unsigned char buf[1200];

static int setup(void **state)
{
	(void)state;
	srand(12345);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = rand();
	return 0;
}

static void test_check_value(void **state)
{
	(void)state;
	/* the check value of CRC-32/ISO-HDLC, which zlib's is */
	assert_int_equal(pl_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(pl_crc32(0, NULL, 0), 0);
	assert_int_equal(pl_crc32(0x1234, buf, 0), 0x1234);
}

static void test_as_zlib(void **state)
{
	(void)state;
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= 1100; len++)
			assert_int_equal(pl_crc32(0, buf + off, len),
					 (uint32_t)crc32(0L, buf + off, len));
}

/* A record is framed in two calls (magic, then body): chaining must hold. */
static void test_chained(void **state)
{
	(void)state;
	for (size_t len = 0; len <= 300; len++)
		for (size_t cut = 0; cut <= len; cut++) {
			uint32_t c = pl_crc32(pl_crc32(0, buf + 3, cut), buf + 3 + cut, len - cut);

			assert_int_equal(c, (uint32_t)crc32(0L, buf + 3, len));
		}
	/* zlib's running CRC carried into ours and back */
	assert_int_equal(pl_crc32((uint32_t)crc32(0L, buf, 77), buf + 77, 500),
			 (uint32_t)crc32(0L, buf, 577));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_as_zlib),
		cmocka_unit_test(test_chained),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
