// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The trace reader against damaged files: truncation at every record
 * boundary and inside records, bit flips everywhere, an empty file, a future
 * version. It must never crash, must name the offset, and --salvage must
 * read back every record the damage did not touch.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "tracefile.h"

#define NREC 20
#define REC_BYTES (4 + sizeof(struct pl_event) + 4)

static char path[64];
static unsigned char *file;
static size_t file_len;

static struct pl_event ev(int i)
{
	struct pl_event e = {};

	e.type = PL_EV_ALLOC + i % 5;
	e.family = i % 2 ? 10 : 2;
	e.proto = 6;
	e.lport = 40000 + i;
	e.lease = i + 1;
	e.pid = 100 + i;
	e.ts_ns = 1000 * (i + 1);
	snprintf(e.comm, sizeof(e.comm), "p%d", i);
	return e;
}

static int setup(void **state)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer t = { .end_ns = 99, .records = NREC };
	struct tracefile_writer *w;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/pl-tf-%d.trace", (int)getpid());
	unlink(path);
	w = tracefile_create(path, &h);
	assert_non_null(w);
	for (int i = 0; i < NREC; i++) {
		struct pl_event e = ev(i);

		assert_int_equal(tracefile_write(w, &e), 0);
	}
	assert_int_equal(tracefile_close(w, &t), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	file = malloc(1 << 16);
	file_len = fread(file, 1, 1 << 16, f);
	fclose(f);
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	free(file);
	(void)state;
	return 0;
}

struct got {
	int n;
	__u64 leases[4 * NREC];
};

static void collect(void *ctx, const struct pl_event *e)
{
	struct got *g = ctx;

	if (g->n < 4 * NREC)
		g->leases[g->n] = e->lease;
	g->n++;
}

/* Read buf[0..len) as a trace. */
static int read_mem(const unsigned char *buf, size_t len, bool salvage, struct got *g,
		    struct tracefile_info *info)
{
	FILE *f = fmemopen((void *)buf, len ? len : 1, "r");
	int err;

	assert_non_null(f);
	if (!len)
		fseek(f, 1, SEEK_SET);	/* fmemopen cannot take 0 bytes: read from the end */
	memset(g, 0, sizeof(*g));
	err = tracefile_read(f, salvage, collect, g, info);
	fclose(f);
	return err;
}

static void test_roundtrip(void **state)
{
	struct tracefile_info info;
	struct got g;

	assert_int_equal(read_mem(file, file_len, false, &g, &info), 0);
	assert_int_equal(g.n, NREC);
	for (int i = 0; i < NREC; i++)
		assert_int_equal(g.leases[i], i + 1);
	assert_true(info.has_trailer);
	assert_int_equal(info.trailer.records, NREC);
	assert_string_equal(info.error, "");
	(void)state;
}

static void test_file_is_private(void **state)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* never overwritten */
	assert_null(tracefile_create(path, &(struct pl_file_hdr){ 0 }));
	(void)state;
}

static void test_empty_and_short(void **state)
{
	struct tracefile_info info;
	struct got g;

	assert_int_not_equal(read_mem(file, 0, false, &g, &info), 0);
	assert_non_null(strstr(info.error, "empty"));
	assert_int_not_equal(read_mem(file, 10, false, &g, &info), 0);
	assert_non_null(strstr(info.error, "truncated header"));
	(void)state;
}

static void test_bad_magic_and_future_version(void **state)
{
	unsigned char *b = malloc(file_len);
	struct tracefile_info info;
	struct pl_file_hdr *h = (void *)b;
	struct got g;

	memcpy(b, file, file_len);
	b[0] = 'X';
	assert_int_not_equal(read_mem(b, file_len, false, &g, &info), 0);
	assert_non_null(strstr(info.error, "bad magic at offset 0"));
	memcpy(b, file, file_len);
	h->version = PL_FILE_VERSION + 1;
	assert_int_not_equal(read_mem(b, file_len, true, &g, &info), 0);
	assert_non_null(strstr(info.error, "newer"));
	memcpy(b, file, file_len);
	h->rec_size = 1u << 30;	/* absurd length */
	assert_int_not_equal(read_mem(b, file_len, true, &g, &info), 0);
	assert_non_null(strstr(info.error, "corrupt header"));
	free(b);
	(void)state;
}

/* Cut the file at every byte: boundaries read cleanly, anything else is named. */
static void test_truncate_everywhere(void **state)
{
	size_t hdr = sizeof(struct pl_file_hdr);

	for (size_t cut = hdr; cut < file_len; cut++) {
		struct tracefile_info info;
		struct got g;
		int err = read_mem(file, cut, false, &g, &info);
		size_t whole = (cut - hdr) / REC_BYTES;

		if ((cut - hdr) % REC_BYTES == 0 && whole <= NREC) {
			/* a recorder stopped hard between records: fine, no trailer */
			assert_int_equal(err, 0);
			assert_false(info.has_trailer);
			assert_int_equal(g.n, (int)whole);
		} else {
			assert_int_not_equal(err, 0);
			assert_non_null(strstr(info.error, "offset"));
			/* --salvage keeps every complete record before the cut */
			assert_int_equal(read_mem(file, cut, true, &g, &info), 0);
			assert_int_equal(g.n, (int)(whole > NREC ? NREC : whole));
		}
	}
	(void)state;
}

/* Flip one bit anywhere after the header: never a crash, never a wrong record. */
static void test_bit_flips(void **state)
{
	size_t hdr = sizeof(struct pl_file_hdr);
	unsigned char *b = malloc(file_len);

	for (size_t off = hdr; off < file_len; off++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct tracefile_info info;
			struct got g;
			size_t rec = (off - hdr) / REC_BYTES;

			memcpy(b, file, file_len);
			b[off] ^= 1 << bit;
			assert_int_not_equal(read_mem(b, file_len, false, &g, &info), 0);
			assert_non_null(strstr(info.error, "offset"));
			assert_int_equal(read_mem(b, file_len, true, &g, &info), 0);
			if (rec < NREC) {
				/* exactly the damaged record is lost, no other */
				assert_int_equal(g.n, NREC - 1);
				for (int i = 0, want = 1; i < g.n; i++, want++) {
					if (want == (int)rec + 1)
						want++;
					assert_int_equal(g.leases[i], want);
				}
				assert_true(info.damaged >= 1);
			} else {
				assert_int_equal(g.n, NREC);	/* the trailer took it */
				assert_false(info.has_trailer);
			}
		}
	}
	free(b);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_file_is_private),
		cmocka_unit_test(test_empty_and_short),
		cmocka_unit_test(test_bad_magic_and_future_version),
		cmocka_unit_test(test_truncate_everywhere),
		cmocka_unit_test(test_bit_flips),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
