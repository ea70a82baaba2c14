/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A line builder: an output line assembled in a buffer and written with one
 * fwrite. A connect storm makes hundreds of thousands of events a second, and
 * printf's format parsing was most of what one line per event cost (perf on
 * `make bench`).
 *
 * Speed comes from the cursor being a local (struct lb) that only inline
 * functions see: the compiler keeps it in registers across the copies. So
 * the buffer (struct lbuf, kept between lines) is sized once for the longest
 * line portlife writes, LB_LINE_MAX, and appends never grow it mid-line:
 * past the end they stop quietly, which no line reaches.
 */
#ifndef PORTLIFE_LB_H
#define PORTLIFE_LB_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <linux/types.h>

/*
 * The longest line: a JSON summary, with four histograms of at most 65
 * buckets each (~14 KiB). Room for four of those.
 */
#define LB_LINE_MAX (64 * 1024)

/* The buffer lines are built in; zero-initialise, lbuf_free() when done. */
struct lbuf {
	char *buf;
	size_t cap;
};

/* A line being built: start..p written, appends stop at end. */
struct lb {
	char *start, *p, *end;
};

/* Sizes o for a line; false if out of memory (the line then stays empty). */
bool lbuf_reserve(struct lbuf *o);
void lbuf_free(struct lbuf *o);

/* A line built into buf[0..n) itself, a buffer the caller owns (never grown). */
static inline void lb_on(struct lb *b, char *buf, size_t n)
{
	b->start = b->p = buf;
	b->end = buf + n;
}

static inline void lb_open(struct lb *b, struct lbuf *o)
{
	static char none[1];

	if (o->cap < LB_LINE_MAX && !lbuf_reserve(o)) {
		lb_on(b, none, 0);
		return;
	}
	lb_on(b, o->buf, o->cap);
}

/*
 * The errno of the first line that could not be written, 0 if none. Read
 * when the stream's error flag is found set, later: by then the write that
 * failed (one stdio made by itself, its buffer full) is long past, and the
 * buffer it could not write is gone, so a flush cannot fail again to say why.
 */
extern int lb_write_errno;

/* A write just failed: keep its cause, if it is the first; EOF. */
static inline int lb_write_failed(void)
{
	if (!lb_write_errno)
		lb_write_errno = errno ? errno : EIO;
	return EOF;
}

/* fflush(f), keeping the cause of a failure in lb_write_errno; 0 or EOF. */
static inline int lb_flush(FILE *f)
{
	return fflush(f) == EOF ? lb_write_failed() : 0;
}

/* Writes the line out; 0, or EOF as fwrite says it. */
static inline int lb_close(struct lb *b, FILE *f)
{
	size_t n = b->p - b->start;

	b->p = b->start;
	return n && fwrite(b->start, 1, n, f) != n ? lb_write_failed() : 0;
}

static inline void lb_mem(struct lb *b, const void *s, size_t n)
{
	/*
	 * Two copies, so that the common one keeps a constant n constant (a
	 * key, a literal: a few moves) instead of clamping it into a variable
	 * one (a call to memcpy, or a rep movs) for every key of every line.
	 */
	if (__builtin_expect(n <= (size_t)(b->end - b->p), 1)) {
		memcpy(b->p, s, n);
		b->p += n;
		return;
	}
	n = b->end - b->p;
	memcpy(b->p, s, n);
	b->p += n;
}

/*
 * A string literal, its length known at compile time. Only a literal: the
 * "" makes anything else (a ternary of two literals is a pointer) fail to
 * compile, where sizeof would have copied a pointer's size of bytes: the
 * listen signal's text was cut to " on a p", and a NAT line's "as " read
 * bytes past its literal.
 */
#define lb_lit(b, s) lb_mem(b, "" s, sizeof(s) - 1)

/*
 * n bytes of s, from a buffer of at least cap bytes (a constant, such as a
 * cached field's size): with room for cap, all cap are copied and the cursor
 * moves n, which the compiler does in a few vector moves. A copy of a length
 * known only at run time was inlined as a rep movs, which cost more than
 * formatting the address it copied (perf on the JSON storm).
 */
static inline void lb_mem_in(struct lb *b, const void *s, size_t n, size_t cap)
{
	if ((size_t)(b->end - b->p) < cap || n > cap) {
		lb_mem(b, s, n);
		return;
	}
	memcpy(b->p, s, cap);
	b->p += n;
}

static inline void lb_str(struct lb *b, const char *s)
{
	lb_mem(b, s, strlen(s));
}

static inline void lb_char(struct lb *b, char c)
{
	if (b->p < b->end)
		*b->p++ = c;
}

/* "00" "01" ... "99": two digits per division, half the divisions of one each */
#define LB_DIGIT_PAIRS								\
	"00010203040506070809101112131415161718192021222324252627282930313233343536"	\
	"37383940414243444546474849505152535455565758596061626364656667686970717273"	\
	"7475767778798081828384858687888990919293949596979899"

/* The number of decimal digits of v. */
static inline int lb_u64_len(__u64 v)
{
	int n = 1;

	for (;;) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
		v /= 10000;
		n += 4;
	}
}

/*
 * Written in place, from the last digit back, two at a time: building the
 * digits in a scratch array and copying them out stalled on reading back
 * bytes just stored (the copy was a sixth of an event line's formatting).
 */
static inline void lb_u64(struct lb *b, __u64 v)
{
	int len = lb_u64_len(v);
	char *d;

	if (__builtin_expect(len > b->end - b->p, 0)) {
		/* what fits of it, and appends stop: as lb_mem() does */
		char t[20];

		d = t + len;
		do {
			*--d = '0' + v % 10;
			v /= 10;
		} while (v);
		lb_mem(b, t, len);
		return;
	}
	d = b->p + len;
	b->p = d;
	while (v >= 100) {
		unsigned int r = v % 100;

		v /= 100;
		d -= 2;
		memcpy(d, &LB_DIGIT_PAIRS[2 * r], 2);
	}
	if (v >= 10)
		memcpy(d - 2, &LB_DIGIT_PAIRS[2 * v], 2);
	else
		d[-1] = '0' + v;
}

static inline void lb_s64(struct lb *b, __s64 v)
{
	if (v < 0) {
		lb_char(b, '-');
		lb_u64(b, -(__u64)v);
	} else {
		lb_u64(b, v);
	}
}

/* exactly w digits, zero-padded: fractions of a second */
static inline void lb_digits(struct lb *b, __u64 v, int w)
{
	char t[20];

	if (w > 20)
		w = 20;
	for (int i = w; i-- > 0; v /= 10)
		t[i] = '0' + v % 10;
	lb_mem(b, t, w);
}

/*
 * Out-of-line helpers take the room left, not the builder, and return what
 * they wrote: the builder's address never escapes, which is what lets the
 * compiler keep it in registers.
 */
size_t fmt_addr6(char *dst, size_t room, const __u8 a[16]);
size_t fmt_printf(char *dst, size_t room, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* wall_secs() of util.h: "12:01:02" or "2026-11-27T12:01:02", converted once a second */
const char *wall_secs(__u64 wall_ns, int iso, size_t *len);

/* printf, for the rare values (floating point) that need it */
#define lb_printf(b, ...) ((b)->p += fmt_printf((b)->p, (b)->end - (b)->p, __VA_ARGS__))

/* An address ("10.0.0.1", "::1"); IPv4, the common case, by hand. */
static inline void lb_addr(struct lb *b, int family, const __u8 a[16])
{
	if (family == 10 /* AF_INET6 */) {
		b->p += fmt_addr6(b->p, b->end - b->p, a);
		return;
	}
	for (int i = 0; i < 4; i++) {
		if (i)
			lb_char(b, '.');
		lb_u64(b, a[i]);
	}
}

/*
 * An endpoint around an address the caller writes between the two:
 * "10.0.0.1:80", "[::1]:80".
 */
static inline void lb_endpoint_open(struct lb *b, int family)
{
	if (family == 10)
		lb_char(b, '[');
}

static inline void lb_endpoint_close(struct lb *b, int family, __u16 port)
{
	if (family == 10)
		lb_lit(b, "]:");
	else
		lb_char(b, ':');
	lb_u64(b, port);
}

static inline void lb_endpoint(struct lb *b, int family, const __u8 a[16], __u16 port)
{
	lb_endpoint_open(b, family);
	lb_addr(b, family, a);
	lb_endpoint_close(b, family, port);
}

/* Wall-clock time as wall_str() prints it: "12:01:02.345" or ISO 8601 UTC. */
static inline void lb_time(struct lb *b, __u64 wall_ns, int iso)
{
	size_t n;
	const char *secs = wall_secs(wall_ns, iso, &n);

	lb_mem(b, secs, n);
	lb_char(b, '.');
	if (iso) {
		lb_digits(b, wall_ns % 1000000000ULL / 1000, 6);
		lb_char(b, 'Z');
	} else {
		lb_digits(b, wall_ns % 1000000000ULL / 1000000, 3);
	}
}

/*
 * A duration with its unit, as dur_str() prints it: "850ns", "12.3us",
 * "4.00ms", "61.2s" (rounded half up).
 */
static inline void lb_dur(struct lb *b, __u64 ns)
{
	__u64 v;

	if (ns < 1000) {
		lb_u64(b, ns);
		lb_lit(b, "ns");
	} else if (ns < 1000000) {
		v = (ns + 50) / 100;
		lb_u64(b, v / 10);
		lb_char(b, '.');
		lb_digits(b, v % 10, 1);
		lb_lit(b, "us");
	} else if (ns < 1000000000) {
		v = (ns + 5000) / 10000;
		lb_u64(b, v / 100);
		lb_char(b, '.');
		lb_digits(b, v % 100, 2);
		lb_lit(b, "ms");
	} else {
		v = (ns + 50000000) / 100000000;
		lb_u64(b, v / 10);
		lb_char(b, '.');
		lb_digits(b, v % 10, 1);
		lb_char(b, 's');
	}
}

/* Ends a left-aligned column begun at 'from': spaces to width, then one more. */
static inline void lb_col(struct lb *b, const char *from, int width)
{
	while (b->p - from < width && b->p < b->end)
		*b->p++ = ' ';
	lb_char(b, ' ');
}

#endif
