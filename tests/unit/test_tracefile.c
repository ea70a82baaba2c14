// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The trace reader against damaged files: truncation at every record
 * boundary and inside records, bit flips everywhere, an empty file, a future
 * version, damage astride the read window's edge, endless and huge files.
 * It must never crash, must name the offset, and --salvage must read back
 * every record the damage did not touch. The writer must count what reached
 * the file when the file cannot grow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "tracefile.h"
#include "util.h"

#define NREC 20
#define REC_BYTES TRACEFILE_REC_BYTES
#define END_BYTES TRACEFILE_END_BYTES
#define HDR_BYTES sizeof(struct pl_file_hdr)

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

static void collect_count(void *ctx, const struct pl_event *e)
{
	(*(int *)ctx)++;
	(void)e;
}

/* Read buf[0..len) as a trace through a window of the given size. */
static int read_mem_window(const unsigned char *buf, size_t len, size_t window, bool salvage,
			   struct got *g, struct tracefile_info *info)
{
	FILE *f = fmemopen((void *)buf, len ? len : 1, "r");
	int err;

	assert_non_null(f);
	if (!len)
		fseek(f, 1, SEEK_SET);	/* fmemopen cannot take 0 bytes: read from the end */
	memset(g, 0, sizeof(*g));
	err = tracefile_read_window(f, window, salvage, collect, g, info);
	fclose(f);
	return err;
}

static int read_mem(const unsigned char *buf, size_t len, bool salvage, struct got *g,
		    struct tracefile_info *info)
{
	return read_mem_window(buf, len, TRACEFILE_WINDOW, salvage, g, info);
}

static double now_s(void)
{
	return mono_ns() / 1e9;
}

/* Peak resident set so far, KiB. */
static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
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

struct cg_got {
	int paths, names;
	char path[64], a[3][64];
};

static void collect_cg(void *ctx, __u64 id, enum tracefile_cg_kind kind, const char *const a[3])
{
	struct cg_got *g = ctx;

	if (kind == TRACEFILE_CG_PATH) {
		g->paths++;
		snprintf(g->path, sizeof(g->path), "%s", a[0]);
		return;
	}
	g->names++;
	for (int i = 0; i < 3; i++)
		snprintf(g->a[i], sizeof(g->a[i]), "%s", a[i]);
	(void)id;
}

static void ignore_ev(void *ctx, const struct pl_event *e)
{
	(void)ctx;
	(void)e;
}

/* A path and a names record written, read back; a version 3 reader's view of names. */
static void test_cgroup_and_names(void **state)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer t = { .end_ns = 99 };
	char p2[64];
	struct tracefile_writer *w;
	struct tracefile_info info;
	struct cg_got g = {};
	struct pl_event e = ev(0);
	FILE *f;

	snprintf(p2, sizeof(p2), "/tmp/pl-tf-cg-%d.trace", (int)getpid());
	unlink(p2);
	w = tracefile_create(p2, &h);
	assert_non_null(w);
	/* a cgroup whose path could not be found: an empty one, framed like any */
	assert_int_equal(tracefile_write_cgroup(w, 6, NULL), 0);
	assert_int_equal(tracefile_write_cgroup(w, 7, "/kubepods.slice/x.scope"), 0);
	assert_int_equal(tracefile_write_names(w, 7, "shop", "web-0", "app"), 0);
	assert_int_equal(tracefile_write_names(w, 8, "", "", ""), 0);
	assert_int_equal(tracefile_write(w, &e), 0);
	assert_int_equal(tracefile_close(w, &t), 0);
	f = fopen(p2, "r");
	assert_non_null(f);
	assert_int_equal(tracefile_read_all(f, false, ignore_ev, collect_cg, &g, &info), 0);
	fclose(f);
	assert_int_equal(g.paths, 2);
	assert_string_equal(g.path, "/kubepods.slice/x.scope");
	assert_int_equal(g.names, 2);
	/* the last names record: three empty names, not garbage */
	assert_string_equal(g.a[0], "");
	assert_string_equal(g.a[2], "");
	assert_int_equal(info.records, 1);
	assert_true(info.has_trailer);

	/* names records are version 4's: in an older file the magic is damage */
	{
		unsigned char buf[4096];
		size_t n;
		__u32 v3 = 3;

		f = fopen(p2, "r");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		memcpy(buf + offsetof(struct pl_file_hdr, version), &v3, sizeof(v3));
		memset(&g, 0, sizeof(g));
		f = fmemopen(buf, n, "r");
		/* the header's own CRC (if any) may refuse it first: either way, no names */
		tracefile_read_all(f, true, ignore_ev, collect_cg, &g, &info);
		fclose(f);
		assert_int_equal(g.names, 0);
	}
	unlink(p2);
	(void)state;
}

/* Every prefix of a file with names records reads without a names record torn in two. */
/* Clock steps in order among the events; a damaged one skipped under --salvage. */
struct ck_got {
	int n, events;
	struct pl_clock_rec c[4];
	int before[4];		/* events read before each step */
};

static void ck_ev(void *ctx, const struct pl_event *e)
{
	((struct ck_got *)ctx)->events++;
	(void)e;
}

static void ck_clock(void *ctx, const struct pl_clock_rec *c)
{
	struct ck_got *g = ctx;

	if (g->n < 4) {
		g->c[g->n] = *c;
		g->before[g->n] = g->events;
	}
	g->n++;
}

static void test_clock_steps(void **state)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer t = { .end_ns = 99 };
	struct tracefile_writer *w;
	struct tracefile_info info;
	struct ck_got g = {};
	unsigned char buf[8192];
	char p2[64];
	size_t n, ck;
	FILE *f;

	snprintf(p2, sizeof(p2), "/tmp/pl-tf-ck-%d.trace", (int)getpid());
	unlink(p2);
	w = tracefile_create(p2, &h);
	assert_non_null(w);
	for (int i = 0; i < 6; i++) {
		struct pl_event e = ev(i);

		if (i == 2)
			assert_int_equal(tracefile_write_clock(w, 2500, 3600000000000ULL), 0);
		if (i == 4)	/* a step back */
			assert_int_equal(tracefile_write_clock(w, 4500, 7), 0);
		assert_int_equal(tracefile_write(w, &e), 0);
	}
	assert_int_equal(tracefile_close(w, &t), 0);
	f = fopen(p2, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unlink(p2);

	f = fmemopen(buf, n, "r");
	assert_int_equal(tracefile_read_clock(f, false, ck_ev, NULL, NULL, ck_clock, &g, &info), 0);
	fclose(f);
	assert_int_equal(g.events, 6);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.before[0], 2);
	assert_true(g.c[0].ts_ns == 2500 && g.c[0].wall_off_ns == 3600000000000ULL);
	assert_int_equal(g.before[1], 4);
	assert_true(g.c[1].ts_ns == 4500 && g.c[1].wall_off_ns == 7);
	assert_true(info.has_trailer);

	/* the first step's offset damaged: an error without --salvage, skipped with it */
	ck = HDR_BYTES + 2 * REC_BYTES;
	buf[ck + 4 + 8] ^= 0x40;
	memset(&g, 0, sizeof(g));
	f = fmemopen(buf, n, "r");
	assert_int_equal(tracefile_read_clock(f, false, ck_ev, NULL, NULL, ck_clock, &g, &info),
			 -EINVAL);
	fclose(f);
	assert_non_null(strstr(info.error, "corrupt clock record"));
	memset(&g, 0, sizeof(g));
	f = fmemopen(buf, n, "r");
	assert_int_equal(tracefile_read_clock(f, true, ck_ev, NULL, NULL, ck_clock, &g, &info), 0);
	fclose(f);
	assert_int_equal(g.events, 6);
	assert_int_equal(g.n, 1);
	assert_int_equal(info.damaged, 1);
	(void)state;
}

static void test_names_truncated(void **state)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	unsigned char buf[8192];
	char p2[64];
	struct tracefile_writer *w;
	struct tracefile_info info;
	struct cg_got g;
	size_t n;
	FILE *f;

	snprintf(p2, sizeof(p2), "/tmp/pl-tf-cgt-%d.trace", (int)getpid());
	unlink(p2);
	w = tracefile_create(p2, &h);
	assert_non_null(w);
	for (int i = 0; i < 4; i++)
		assert_int_equal(tracefile_write_names(w, i + 1, "ns", "pod-name", "c"), 0);
	assert_int_equal(tracefile_close(w, &(struct pl_file_trailer){ .end_ns = 1 }), 0);
	f = fopen(p2, "r");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	unlink(p2);
	for (size_t len = sizeof(struct pl_file_hdr); len <= n; len++) {
		memset(&g, 0, sizeof(g));
		f = fmemopen(buf, len, "r");
		tracefile_read_all(f, true, ignore_ev, collect_cg, &g, &info);
		fclose(f);
		/* a complete record is one with its CRC: each is 4+16+14+4 bytes */
		assert_true(g.names <= 4);
		if (g.names)
			assert_string_equal(g.a[1], "pod-name");
	}
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

/* Header strings that fill their fields without a NUL: not damage, just cut to fit. */
static void test_header_strings_unterminated(void **state)
{
	unsigned char *b = malloc(file_len);
	struct pl_file_hdr *h = (void *)b;
	struct tracefile_info info;
	struct got g;

	memcpy(b, file, file_len);
	memset(h->hostname, 'h', sizeof(h->hostname));
	memset(h->release, 'r', sizeof(h->release));
	memset(h->mode, 'm', sizeof(h->mode));
	memset(h->precision, 'p', sizeof(h->precision));
	memset(h->filters, 'f', sizeof(h->filters));
	assert_int_equal(read_mem(b, file_len, false, &g, &info), 0);
	assert_int_equal(g.n, NREC);
	assert_int_equal(strlen(info.hdr.hostname), sizeof(h->hostname) - 1);
	assert_int_equal(strlen(info.hdr.release), sizeof(h->release) - 1);
	assert_int_equal(strlen(info.hdr.mode), sizeof(h->mode) - 1);
	assert_int_equal(strlen(info.hdr.precision), sizeof(h->precision) - 1);
	assert_int_equal(strlen(info.hdr.filters), sizeof(h->filters) - 1);
	free(b);
	(void)state;
}

/*
 * Cut the file at every byte: boundaries read cleanly, anything else is
 * named. Through the default window and through the smallest ones, where the
 * cut also falls at every place relative to the window's edge.
 */
static void test_truncate_everywhere(void **state)
{
	static const size_t windows[] = { TRACEFILE_WINDOW, 0, HDR_BYTES + 1, HDR_BYTES + 77 };
	size_t hdr = HDR_BYTES;

	for (size_t wi = 0; wi < sizeof(windows) / sizeof(windows[0]); wi++) {
		for (size_t cut = hdr; cut < file_len; cut++) {
			struct tracefile_info info;
			struct got g;
			int err = read_mem_window(file, cut, windows[wi], false, &g, &info);
			size_t whole = (cut - hdr) / REC_BYTES;

			if ((cut - hdr) % REC_BYTES == 0 && whole <= NREC) {
				/* a recorder stopped hard between records: fine, no trailer */
				assert_int_equal(err, 0);
				assert_false(info.has_trailer);
				assert_int_equal(g.n, (int)whole);
			} else {
				assert_int_not_equal(err, 0);
				assert_non_null(strstr(info.error, "offset"));
				if (whole < NREC)
					assert_non_null(strstr(info.error, "--salvage"));
				/* --salvage keeps every complete record before the cut */
				assert_int_equal(read_mem_window(file, cut, windows[wi], true, &g,
								 &info), 0);
				assert_int_equal(g.n, (int)(whole > NREC ? NREC : whole));
				assert_int_equal(info.skipped_bytes,
						 cut - hdr - (g.n == NREC ? NREC * REC_BYTES
									   : whole * REC_BYTES));
			}
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

/* A trace in memory: header, records ev(0..n), trailer if asked. */
static unsigned char *build(int n, bool trailer, size_t *len)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer t = { .end_ns = 99, .records = n };
	unsigned char *b = malloc(HDR_BYTES + n * REC_BYTES + END_BYTES), *p = b;

	assert_non_null(b);
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (int i = 0; i < n; i++, p += REC_BYTES) {
		struct pl_event e = ev(i);

		tracefile_frame_record(p, &e);
	}
	if (trailer) {
		tracefile_frame_trailer(p, &t);
		p += END_BYTES;
	}
	*len = p - b;
	return b;
}

/* g holds leases 1..NREC in order, but for those in skip[0..nskip). */
static void assert_leases_but(const struct got *g, const int *skip, int nskip)
{
	int i = 0;

	for (int want = 1; want <= NREC; want++) {
		bool skipped = false;

		for (int k = 0; k < nskip; k++)
			skipped |= skip[k] == want;
		if (skipped)
			continue;
		assert_true(i < g->n);
		assert_int_equal(g->leases[i++], want);
	}
	assert_int_equal(g->n, i);
}

/*
 * Resync where a window ends: every window size over a whole record period
 * puts the damage, the resync scan and the next magic at every place
 * relative to the window's edge. Junk that looks like the start of a magic
 * ("PLR", "PLE") must not fool the scan, however many windows it spans.
 */
static void test_window_boundary_resync(void **state)
{
	static const char *const junks[] = { "x", "PL", "PLR", "PLEPLRPLE", NULL };
	unsigned char *b = malloc(file_len + 3 * (HDR_BYTES + REC_BYTES + 8));

	for (size_t win = HDR_BYTES; win <= HDR_BYTES + REC_BYTES + 4; win++) {
		struct tracefile_info info;
		struct got g;

		assert_int_equal(read_mem_window(file, file_len, win, false, &g, &info), 0);
		assert_int_equal(g.n, NREC);
		assert_true(info.has_trailer);
		/* one record's checksum broken: exactly that record is lost */
		for (int k = 0; k < NREC; k += 3) {
			int lost = k + 1;

			memcpy(b, file, file_len);
			b[HDR_BYTES + k * REC_BYTES + 40] ^= 0x10;
			assert_int_equal(read_mem_window(b, file_len, win, true, &g, &info), 0);
			assert_leases_but(&g, &lost, 1);
			assert_int_equal(info.damaged, 1);
			assert_int_equal(info.skipped_bytes, REC_BYTES);
			assert_true(info.has_trailer);
		}
		/* junk between two records, short and (NULL) longer than the window */
		for (size_t j = 0; j < sizeof(junks) / sizeof(junks[0]); j++) {
			size_t at = HDR_BYTES + (j * 5 % NREC) * REC_BYTES, jn, len;

			if (junks[j]) {
				jn = strlen(junks[j]);
				memcpy(b + at, junks[j], jn);
			} else {
				/* a magic's first three bytes over and over, across windows */
				jn = 3 * win + 1;
				for (size_t i = 0; i < jn; i++)
					b[at + i] = "PLR"[i % 3];
			}
			memcpy(b, file, at);
			memcpy(b + at + jn, file + at, file_len - at);
			len = file_len + jn;
			assert_int_not_equal(read_mem_window(b, len, win, false, &g, &info), 0);
			assert_int_equal(read_mem_window(b, len, win, true, &g, &info), 0);
			assert_leases_but(&g, NULL, 0);
			assert_int_equal(info.damaged, 1);
			assert_int_equal(info.skipped_bytes, jn);
			assert_true(info.has_trailer);
		}
	}
	free(b);
	(void)state;
}

/* The default window, damage longer than two windows in a long trace. */
static void test_long_damage(void **state)
{
	const int n = 4000;
	size_t len, from = HDR_BYTES + 1000 * REC_BYTES + 17, span = 2 * TRACEFILE_WINDOW + 5;
	unsigned char *b = build(n, true, &len);
	struct tracefile_info info;
	FILE *f;
	int got = 0;

	memset(b + from, 0, span);
	f = fmemopen(b, len, "r");
	assert_non_null(f);
	assert_int_equal(tracefile_read(f, true, collect_count, &got, &info), 0);
	fclose(f);
	/* records wholly or partly under the damage are lost, no others */
	{
		size_t first = (from - HDR_BYTES) / REC_BYTES;
		size_t last = (from + span - 1 - HDR_BYTES) / REC_BYTES;

		assert_int_equal(got, n - (int)(last - first + 1));
		assert_int_equal(info.skipped_bytes, (last - first + 1) * REC_BYTES);
	}
	assert_int_equal(info.damaged, 1);
	assert_true(info.has_trailer);
	free(b);
	(void)state;
}

/* Read path as a trace; returns the error, info filled, and the time taken. */
static int read_path(const char *p, struct tracefile_info *info, double *secs)
{
	FILE *f = fopen(p, "r");
	int got = 0, err;
	double t0 = now_s();

	assert_non_null(f);
	err = tracefile_read(f, false, collect_count, &got, info);
	*secs = now_s() - t0;
	fclose(f);
	assert_int_equal(got, 0);
	return err;
}

/* Files that never end or are no file at all: refused before a byte is read. */
static void test_not_regular(void **state)
{
	char fifo[64];
	struct tracefile_info info;
	double secs;
	int fd, got = 0;
	FILE *f;

	assert_int_equal(read_path("/dev/zero", &info, &secs), -EINVAL);
	assert_non_null(strstr(info.error, "not a regular file (a character device)"));
	assert_true(secs < 0.1);
	assert_int_equal(read_path("/tmp", &info, &secs), -EINVAL);
	assert_non_null(strstr(info.error, "(a directory)"));

	/* a FIFO with a writer that never writes: reading it would block forever */
	snprintf(fifo, sizeof(fifo), "/tmp/pl-tf-fifo-%d", (int)getpid());
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(fifo, O_RDWR);
	assert_true(fd >= 0);
	f = fdopen(fd, "r");
	assert_non_null(f);
	secs = now_s();
	assert_int_equal(tracefile_read(f, true, collect_count, &got, &info), -EINVAL);
	assert_true(now_s() - secs < 0.1);
	assert_non_null(strstr(info.error, "not a regular file (a FIFO)"));
	fclose(f);
	unlink(fifo);
	(void)state;
}

/*
 * A 1 GiB sparse file: refused at its header at once. With a valid header
 * and a hole after it, the strict read stops at the hole. --salvage scans a
 * (64 MiB) hole for a record in bounded memory.
 */
static void test_sparse_gib(void **state)
{
	char p[64];
	struct tracefile_info info;
	long rss0;
	double secs;
	int fd, got = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/tmp/pl-tf-sparse-%d", (int)getpid());
	unlink(p);
	fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1L << 30), 0);
	rss0 = peak_rss_kib();
	assert_int_equal(read_path(p, &info, &secs), -EINVAL);
	assert_non_null(strstr(info.error, "bad magic at offset 0"));
	assert_true(secs < 1.0);

	assert_int_equal(pwrite(fd, file, HDR_BYTES, 0), (ssize_t)HDR_BYTES);
	assert_int_equal(read_path(p, &info, &secs), -EINVAL);
	assert_non_null(strstr(info.error, "corrupt data at offset 568"));
	assert_true(secs < 1.0);
	assert_true(peak_rss_kib() - rss0 < 8192);

	assert_int_equal(ftruncate(fd, 64L << 20), 0);
	f = fopen(p, "r");
	assert_non_null(f);
	secs = now_s();
	assert_int_equal(tracefile_read(f, true, collect_count, &got, &info), 0);
	secs = now_s() - secs;
	fclose(f);
	assert_int_equal(got, 0);
	assert_int_equal(info.skipped_bytes, (64UL << 20) - HDR_BYTES);
	print_message("sparse 64 MiB: salvage scan %.3f s, peak RSS +%ld KiB\n", secs,
		      peak_rss_kib() - rss0);
	assert_true(peak_rss_kib() - rss0 < 8192);
	close(fd);
	unlink(p);
	(void)state;
}

/* An endless-looking stream of valid records, made on the fly (no disk). */
struct gen {
	__u64 n, i;
	size_t at;		/* bytes of the current unit already handed out */
	unsigned char unit[HDR_BYTES];
};

static ssize_t gen_read(void *cookie, char *buf, size_t size)
{
	struct gen *g = cookie;
	size_t done = 0;

	while (done < size) {
		size_t unit_len, k;

		if (g->i == 0) {
			unit_len = HDR_BYTES;
			memcpy(g->unit, file, HDR_BYTES);
		} else if (g->i <= g->n) {
			struct pl_event e = ev((g->i - 1) % NREC);

			e.lease = g->i;
			unit_len = REC_BYTES;
			tracefile_frame_record(g->unit, &e);
		} else if (g->i == g->n + 1) {
			struct pl_file_trailer t = { .records = g->n };

			unit_len = END_BYTES;
			tracefile_frame_trailer(g->unit, &t);
		} else {
			break;
		}
		k = unit_len - g->at < size - done ? unit_len - g->at : size - done;
		memcpy(buf + done, g->unit + g->at, k);
		done += k;
		g->at += k;
		if (g->at == unit_len) {
			g->at = 0;
			g->i++;
		}
	}
	return done;
}

static void count_leases(void *ctx, const struct pl_event *e)
{
	__u64 *n = ctx;

	assert_int_equal(e->lease, ++*n);
}

/* Resident set now, KiB: the peak (ru_maxrss) may be an earlier test's. */
static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

struct rss_watch {
	__u64 n;
	long max_kib;
};

static void count_leases_rss(void *ctx, const struct pl_event *e)
{
	struct rss_watch *r = ctx;

	count_leases(&r->n, e);
	if (r->n % 65536 == 0) {
		long now = rss_kib();

		if (now > r->max_kib)
			r->max_kib = now;
	}
}

/*
 * Memory does not grow with the trace: a million records (more with
 * TRACEFILE_BIG=N) stream through in a few MiB at most.
 */
static void test_bounded_memory(void **state)
{
	const char *big = getenv("TRACEFILE_BIG");
	struct gen g = { .n = big ? strtoull(big, NULL, 0) : 1000000 };
	cookie_io_functions_t io = { .read = gen_read };
	struct tracefile_info info;
	long rss0 = rss_kib();
	struct rss_watch r = { .max_kib = rss0 };
	double secs;
	FILE *f = fopencookie(&g, "r", io);

	assert_non_null(f);
	secs = now_s();
	assert_int_equal(tracefile_read(f, false, count_leases_rss, &r, &info), 0);
	secs = now_s() - secs;
	fclose(f);
	assert_int_equal(r.n, g.n);
	assert_int_equal(info.records, g.n);
	assert_true(info.has_trailer);
	assert_int_equal(info.trailer.records, g.n);
	print_message("%llu records (%.0f MiB) read in %.2f s, RSS %ld KiB, at most +%ld KiB\n",
		      (unsigned long long)g.n, g.n * REC_BYTES / 1048576.0, secs, rss0,
		      r.max_kib - rss0);
	assert_true(r.max_kib - rss0 < 4096);
	(void)state;
}

/*
 * The file stops growing (RLIMIT_FSIZE: EFBIG, as a full disk gives ENOSPC)
 * partway through a record: tracefile_written() is what the file holds,
 * whole records only, and the trailer goes in only where the caller is told
 * the truth. In a child: the limit is per process.
 */
struct efbig {
	int write_err, flush_err, close_err;
	__u64 written_after, accepted;
};

static void efbig_child(const char *p, off_t limit, int nrec, bool flush_first, int fd_out)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer t = { .end_ns = 1 };
	struct rlimit rl = { .rlim_cur = limit, .rlim_max = RLIM_INFINITY };
	struct efbig r = {};
	struct tracefile_writer *w;

	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) || !(w = tracefile_create(p, &h)))
		_exit(1);
	for (int i = 0; i < nrec && !r.write_err; i++) {
		struct pl_event e = ev(i % NREC);

		e.lease = i + 1;
		r.write_err = tracefile_write(w, &e);
		r.accepted += !r.write_err;
	}
	if (flush_first)
		r.flush_err = tracefile_flush(w);
	r.written_after = tracefile_written(w);
	r.close_err = tracefile_close(w, &t);
	_exit(write(fd_out, &r, sizeof(r)) == sizeof(r) ? 0 : 1);
}

static struct efbig run_efbig(const char *p, off_t limit, int nrec, bool flush_first)
{
	struct efbig r;
	int pfd[2], st;
	pid_t pid;

	unlink(p);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		efbig_child(p, limit, nrec, flush_first, pfd[1]);
	close(pfd[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(read(pfd[0], &r, sizeof(r)), sizeof(r));
	close(pfd[0]);
	return r;
}

/* Read p back; returns the records in it (checked to be leases 1..n). */
static __u64 read_back(const char *p, struct tracefile_info *info)
{
	FILE *f = fopen(p, "r");
	__u64 n = 0;

	assert_non_null(f);
	assert_int_equal(tracefile_read(f, false, count_leases, &n, info), 0);
	fclose(f);
	return n;
}

static void test_writer_count_after_efbig(void **state)
{
	char p[64];
	struct tracefile_info info;
	struct stat st;
	struct efbig r;
	const off_t whole = HDR_BYTES + 100 * REC_BYTES;

	snprintf(p, sizeof(p), "/tmp/pl-tf-efbig-%d.trace", (int)getpid());

	/* Room for 100 records and half of one: the 64 KiB buffer fails on its first write. */
	r = run_efbig(p, whole + REC_BYTES / 2 - 20, 1000, false);
	assert_int_equal(r.write_err, -EFBIG);
	assert_int_equal(r.written_after, 100);	/* not the 512 buffered */
	assert_int_equal(r.close_err, -EFBIG);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, whole);	/* the half record cut off, no trailer fits */
	assert_int_equal(read_back(p, &info), 100);
	assert_false(info.has_trailer);

	/* Room for the trailer after the 100: it goes in and says what happened. */
	r = run_efbig(p, whole + END_BYTES, 1000, false);
	assert_int_equal(r.write_err, -EFBIG);
	assert_int_equal(r.written_after, 100);
	assert_int_equal(read_back(p, &info), 100);
	assert_true(info.has_trailer);
	assert_int_equal(info.trailer.records, 100);
	assert_int_equal(info.trailer.write_errors, 1);

	/* The last buffer fails at the end (the flush of the poll loop or of close). */
	r = run_efbig(p, whole + END_BYTES, 300, true);
	assert_int_equal(r.write_err, 0);
	assert_int_equal(r.accepted, 300);
	assert_int_equal(r.flush_err, -EFBIG);
	assert_int_equal(r.written_after, 100);
	assert_int_equal(read_back(p, &info), 100);
	assert_true(info.has_trailer);	/* the failed flush was the caller's to report */
	assert_int_equal(info.trailer.records, 100);
	r = run_efbig(p, whole + END_BYTES, 300, false);
	assert_int_equal(r.written_after, 300);	/* buffered, not failed yet */
	assert_int_equal(r.close_err, -EFBIG);
	assert_int_equal(read_back(p, &info), 100);
	assert_false(info.has_trailer);	/* close failed: the caller says "no trailer" */

	/* Nothing fails: every record and a true trailer. */
	r = run_efbig(p, RLIM_INFINITY, 1000, false);
	assert_int_equal(r.written_after, 1000);
	assert_int_equal(r.close_err, 0);
	assert_int_equal(read_back(p, &info), 1000);
	assert_int_equal(info.trailer.records, 1000);
	assert_int_equal(info.trailer.write_errors, 0);
	unlink(p);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_file_is_private),
		cmocka_unit_test(test_cgroup_and_names),
		cmocka_unit_test(test_names_truncated),
		cmocka_unit_test(test_clock_steps),
		cmocka_unit_test(test_empty_and_short),
		cmocka_unit_test(test_bad_magic_and_future_version),
		cmocka_unit_test(test_header_strings_unterminated),
		cmocka_unit_test(test_truncate_everywhere),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_window_boundary_resync),
		cmocka_unit_test(test_long_damage),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_sparse_gib),
		cmocka_unit_test(test_bounded_memory),
		cmocka_unit_test(test_writer_count_after_efbig),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
