// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for JSON string escaping of hostile bytes (user/json.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

/* Large enough for any 16-byte input: 16 * 6 + 2 quotes + NUL. */
#define OUT_MAX 128

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), 0 if
 * ill-formed. Written from the table of well-formed byte sequences of the
 * Unicode standard (table 3-7), not from the code under test.
 */
static size_t wf_utf8(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo2 = 0x80, hi2 = 0xbf;
	size_t len;

	if (c <= 0x7f)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo2 = 0xa0;
	else if (c == 0xed)
		hi2 = 0x9f;
	else if (c == 0xf0)
		lo2 = 0x90;
	else if (c == 0xf4)
		hi2 = 0x8f;
	if (n < len)
		return 0;
	if (s[1] < lo2 || s[1] > hi2)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * A strict validator of one JSON string token (RFC 8259) in s[0..len):
 * quoted, no raw control characters, no unescaped quote, only valid escapes
 * (surrogate escapes must pair up), well-formed UTF-8 throughout.
 */
static bool json_string_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, end;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	end = len - 1;	/* the body is s[1..end) */
	for (i = 1; i < end;) {
		unsigned char c = u[i];

		if (c < 0x20 || c == '"')
			return false;
		if (c == '\\') {
			if (i + 1 >= end)
				return false;	/* it would escape the closing quote */
			if (strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1]) {
				i += 2;
				continue;
			}
			if (s[i + 1] != 'u' || i + 6 > end)
				return false;
			long cp = hex4(s + i + 2);

			if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff))
				return false;
			i += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				long lo;

				if (i + 6 > end || s[i] != '\\' || s[i + 1] != 'u')
					return false;
				lo = hex4(s + i + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return false;
				i += 6;
			}
			continue;
		}
		size_t l = wf_utf8(u + i, end - i);

		if (!l)
			return false;
		i += l;
	}
	return true;
}

/* The bytes a JSON string token decodes to (only the escapes json.c may emit
 * and the simple ones); returns the length, or -1 for anything unexpected. */
static long json_decode(const char *s, size_t len, unsigned char *out)
{
	long n = 0;

	for (size_t i = 1; i + 1 < len;) {
		if (s[i] != '\\') {
			out[n++] = (unsigned char)s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case '"': case '\\': case '/':
			out[n++] = (unsigned char)s[i + 1];
			i += 2;
			continue;
		case 'u': {
			long cp = hex4(s + i + 2);

			if (cp >= 0 && cp < 0x80) {
				out[n++] = (unsigned char)cp;
			} else if (cp == 0xfffd) {
				memcpy(out + n, "\xef\xbf\xbd", 3);
				n += 3;
			} else {
				return -1;
			}
			i += 6;
			continue;
		}
		default:
			return -1;
		}
	}
	return n;
}

/* What the JSON string must decode to: the input up to its first NUL with
 * each byte outside a well-formed sequence replaced by U+FFFD. */
static long expected_decode(const unsigned char *in, size_t len, unsigned char *out)
{
	long n = 0;

	for (size_t i = 0; i < len && in[i];) {
		size_t l = wf_utf8(in + i, len - i);

		if (l) {
			memcpy(out + n, in + i, l);
			n += l;
			i += l;
		} else {
			memcpy(out + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	return n;
}

/* Escape into a buffer; check the return value, and that json_str() agrees. */
static size_t esc(char *out, const char *in, size_t len)
{
	char *ms = NULL;
	size_t mslen = 0, r;
	FILE *f;

	memset(out, 'Z', OUT_MAX);
	r = json_str_buf(out, OUT_MAX, in, len);
	assert_true(r < OUT_MAX);
	assert_int_equal(out[r], '\0');
	assert_int_equal(strlen(out), r);

	f = open_memstream(&ms, &mslen);
	assert_non_null(f);
	json_str(f, in, len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(mslen, r);
	assert_memory_equal(ms, out, r);
	free(ms);
	return r;
}

#define CHECK(in, len, want) do {					\
	char out_[OUT_MAX];						\
	size_t r_ = esc(out_, (in), (len));				\
	assert_string_equal(out_, (want));				\
	assert_int_equal(r_, strlen(want));				\
	assert_true(json_string_valid(out_, r_));			\
} while (0)
#define CHECKS(in, want) CHECK((in), sizeof(in) - 1, (want))

/* The validator must itself reject bad tokens, or the sweeps prove nothing. */
/* Numbers as the writers print them: every digit count, both ends of the range. */
static void test_numbers(void **state)
{
	static const __u64 fixed[] = { 0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1009,
				       65535, 4294967295ULL, 10000000000000000000ULL,
				       18446744073709551615ULL };
	struct lbuf o = {};
	char want[64];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 10000; i++) {
		__u64 v = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] :
			  ((__u64)rand() << 33 ^ (__u64)rand() << 11 ^ rand()) >> (rand() % 64);
		struct lb b;

		lb_open(&b, &o);
		lb_u64(&b, v);
		lb_char(&b, '|');
		lb_s64(&b, -(__s64)(v >> 1));
		snprintf(want, sizeof(want), "%llu|%lld", (unsigned long long)v,
			 -(long long)(v >> 1));
		assert_int_equal(b.p - b.start, strlen(want));
		assert_memory_equal(b.start, want, strlen(want));
	}
	lbuf_free(&o);
}

/*
 * Near the end of a builder's buffer, appends write what fits and stop: never
 * a byte past the end, and what is written is the start of the whole line.
 * The fast paths copy more than they keep (lb_mem_in) or write digits in
 * place (lb_u64), so every room from 0 up is tried.
 */
static void test_near_the_end(void **state)
{
	static const char addr[46] = "10.200.30.4";	/* a cached field, zero-padded */
	char full[256], buf[256 + 64];
	struct lb b;
	size_t n;

	lb_on(&b, full, sizeof(full));
	lb_u64(&b, 18446744073709551615ULL);
	lb_mem_in(&b, addr, strlen(addr), sizeof(addr));
	lb_lit(&b, ",\"key\":");
	lb_u64(&b, 7);
	lb_s64(&b, -1234567);
	n = b.p - b.start;
	assert_int_equal(n, 20 + 11 + 7 + 1 + 8);
	for (size_t room = 0; room <= n; room++) {
		memset(buf, 0xAA, sizeof(buf));
		lb_on(&b, buf, room);
		lb_u64(&b, 18446744073709551615ULL);
		lb_mem_in(&b, addr, strlen(addr), sizeof(addr));
		lb_lit(&b, ",\"key\":");
		lb_u64(&b, 7);
		lb_s64(&b, -1234567);
		assert_true(b.p <= b.end);
		for (size_t i = room; i < sizeof(buf); i++)
			assert_int_equal((unsigned char)buf[i], 0xAA);
		/* a prefix of the whole: nothing skipped to make a later piece fit */
		assert_memory_equal(buf, full, b.p - b.start);
		if (room < n)
			assert_true((size_t)(b.p - b.start) <= room);
		else
			assert_int_equal(b.p - b.start, n);
	}
}

static void test_validator_self_check(void **state)
{
	static const char *bad[] = {
		"", "\"", "abc", "\"abc", "abc\"", "\"a\"b\"", "\"\\\"", "\"\\x\"",
		"\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\"",
		"\"\\ud800\\u0041\"", "\"\x01\"", "\"\n\"", "\"\x1f\"", "\"\xff\"",
		"\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xe0\x80\x80\"",
		"\"\xf4\x90\x80\x80\"", "\"\xf0\x80\x80\x80\"", "\"\x80\"", "\"\xc3\xa9\xa9\"",
	};
	static const char *good[] = {
		"\"\"", "\"abc\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0001\\u007F\"",
		"\"\\ud83d\\ude00\"", "\"\xc3\xa9\"", "\"\xf0\x9f\x98\x80\"",
		"\"\xf4\x8f\xbf\xbf\"", "\"\xed\x9f\xbf\"", "\"\xee\x80\x80\"", "\"\x7f\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (json_string_valid(bad[i], strlen(bad[i])))
			fail_msg("validator accepted bad token #%zu", i);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!json_string_valid(good[i], strlen(good[i])))
			fail_msg("validator rejected good token #%zu", i);
}

static void test_plain_and_quotes(void **state)
{
	CHECKS("", "\"\"");
	CHECKS("curl", "\"curl\"");
	CHECKS("a b/c", "\"a b/c\"");
	CHECKS("\"", "\"\\\"\"");
	CHECKS("\\", "\"\\\\\"");
	CHECKS("a\"b\\c", "\"a\\\"b\\\\c\"");
	CHECKS("\\\"\\\"", "\"\\\\\\\"\\\\\\\"\"");
	CHECKS("\"},\"x\":1,{\"", "\"\\\"},\\\"x\\\":1,{\\\"\"");
}

static void test_control_bytes(void **state)
{
	CHECKS("\x01", "\"\\u0001\"");
	CHECKS("\n", "\"\\u000a\"");
	CHECKS("\t", "\"\\u0009\"");
	CHECKS("\r", "\"\\u000d\"");
	CHECKS("\x1b", "\"\\u001b\"");
	CHECKS("\x1f", "\"\\u001f\"");
	CHECKS("\x7f", "\"\\u007f\"");
	CHECKS("a\x1b[31mred\x1b[0m", "\"a\\u001b[31mred\\u001b[0m\"");
	CHECKS(" ~", "\" ~\"");	/* 0x20 and 0x7e are printable */
}

static void test_invalid_utf8(void **state)
{
	CHECKS("\xff", "\"\\ufffd\"");
	CHECKS("\xfe", "\"\\ufffd\"");
	CHECKS("\x80", "\"\\ufffd\"");		/* lone continuation byte */
	CHECKS("a\xc3", "\"a\\ufffd\"");	/* truncated at the end */
	CHECKS("\xc3" "a", "\"\\ufffda\"");	/* lead byte without continuation */
	CHECKS("\xc0\xaf", "\"\\ufffd\\ufffd\"");	/* overlong '/' */
	CHECKS("\xc1\xbf", "\"\\ufffd\\ufffd\"");
	CHECKS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");	/* overlong, 3 bytes */
	CHECKS("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");	/* overlong, 4 */
	CHECKS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");	/* U+D800 */
	CHECKS("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");	/* U+DFFF */
	CHECKS("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");	/* > U+10FFFF */
	CHECKS("\xf8\x88\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	CHECKS("\xe2\x82", "\"\\ufffd\\ufffd\"");	/* 3-byte sequence cut short */
	CHECKS("\xc3\xa9\xff\xc3x", "\"\xc3\xa9\\ufffd\\ufffdx\"");
	/* a sequence cut by len (not by a NUL) is invalid too */
	CHECK("\xc3\xa9", 1, "\"\\ufffd\"");
	CHECK("\xf0\x9f\x98\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
}

static void test_valid_utf8(void **state)
{
	CHECKS("\xc3\xa9", "\"\xc3\xa9\"");			/* é */
	CHECKS("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	CHECKS("\xe2\x82\xac", "\"\xe2\x82\xac\"");		/* € */
	CHECKS("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");	/* 😀 */
	CHECKS("\xc2\x80", "\"\xc2\x80\"");			/* U+0080, smallest 2-byte */
	CHECKS("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");		/* U+0800 */
	CHECKS("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");		/* U+D7FF */
	CHECKS("\xee\x80\x80", "\"\xee\x80\x80\"");		/* U+E000 */
	CHECKS("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");		/* U+FFFD itself */
	CHECKS("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"");	/* U+10000 */
	CHECKS("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");	/* U+10FFFF */
}

static void test_nul_and_length(void **state)
{
	CHECK("ab\0cd", 5, "\"ab\"");
	CHECK("\0abc", 4, "\"\"");
	CHECK("abcdef", 3, "\"abc\"");
	CHECK("abc", 0, "\"\"");
	CHECK("\xc3\0\xa9", 3, "\"\\ufffd\"");	/* a NUL inside a sequence */
	/* a full 16-byte comm without a NUL: exactly 16 bytes, no overread */
	char comm[16];

	memcpy(comm, "0123456789abcdef", 16);
	CHECK(comm, sizeof(comm), "\"0123456789abcdef\"");
}

static void test_truncation(void **state)
{
	char full[OUT_MAX], out[OUT_MAX];
	const char *in = "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01";
	size_t flen, r;

	flen = json_str_buf(full, sizeof(full), in, 16);
	assert_int_equal(flen, 2 + 16 * 6);
	for (size_t n = 1; n <= flen + 1; n++) {
		memset(out, 'Z', sizeof(out));
		r = json_str_buf(out, n, in, 16);
		assert_int_equal(r, n - 1);
		assert_int_equal(out[n - 1], '\0');
		assert_int_equal(out[n], 'Z');		/* nothing written past n */
		assert_memory_equal(out, full, r);
	}
	memset(out, 'Z', sizeof(out));
	r = json_str_buf(out, flen + 10, in, 16);
	assert_int_equal(r, flen);
	assert_string_equal(out, full);
	assert_int_equal(out[flen + 1], 'Z');

	/* n == 0: nothing written at all */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(json_str_buf(out, 0, in, 16), 0);
	assert_int_equal(out[0], 'Z');

	/* small buffer with multi-byte content */
	memset(out, 'Z', sizeof(out));
	r = json_str_buf(out, 4, "\xc3\xa9\xc3\xa9", 4);
	assert_int_equal(r, 3);
	assert_int_equal(strlen(out), 3);
	assert_memory_equal(out, "\"\xc3\xa9", 3);
}

/* Check one input: valid token, decodes to the expected bytes. */
static void sweep_one(const unsigned char *in, size_t len)
{
	char out[OUT_MAX];
	unsigned char got[OUT_MAX], want[OUT_MAX];
	size_t r = esc(out, (const char *)in, len);
	long ng, nw;

	if (!json_string_valid(out, r)) {
		char hex[3 * 16 + 1] = "";

		for (size_t i = 0; i < len && i < 16; i++)
			sprintf(hex + 3 * i, "%02x ", in[i]);
		fail_msg("invalid JSON string for input %s", hex);
	}
	ng = json_decode(out, r, got);
	nw = expected_decode(in, len, want);
	assert_true(ng >= 0);
	assert_int_equal(ng, nw);
	assert_memory_equal(got, want, nw);
}

static void test_all_single_bytes(void **state)
{
	for (int c = 0; c < 256; c++) {
		unsigned char b[2] = { (unsigned char)c, 'x' };

		sweep_one(b, 1);
		sweep_one(b, 2);	/* followed by something */
	}
}

static void test_random_strings(void **state)
{
	/* bytes that exercise the UTF-8 edges more than uniform noise does */
	static const unsigned char edge[] = {
		'a', '"', '\\', 0x01, 0x1f, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
		0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
	};
	unsigned char b[16];

	srand(20240601);
	for (int k = 0; k < 20000; k++) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() & 0xff);
		sweep_one(b, sizeof(b));
	}
	for (int k = 0; k < 20000; k++) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = edge[rand() % sizeof(edge)];
		sweep_one(b, sizeof(b));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_near_the_end),
		cmocka_unit_test(test_validator_self_check),
		cmocka_unit_test(test_plain_and_quotes),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_valid_utf8),
		cmocka_unit_test(test_nul_and_length),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_all_single_bytes),
		cmocka_unit_test(test_random_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
