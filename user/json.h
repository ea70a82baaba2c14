/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * JSON output: string escaping that stays valid whatever bytes the kernel or
 * a trace file hands us, and the one writer every JSON line is made with
 * (events, summaries, totals, ports, who, diagnosis, warnings, headroom).
 * Nobody writes braces by hand: a writer cannot forget a comma or an escape.
 */
#ifndef PORTLIFE_JSON_H
#define PORTLIFE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "lb.h"

/*
 * Write buf[0..len) (stopping at a NUL) as a quoted JSON string. Quotes,
 * backslashes and control bytes are escaped; bytes that are not valid UTF-8
 * become U+FFFD, so the output is always valid JSON and valid UTF-8.
 */
void json_str(FILE *f, const char *buf, size_t len);
/* The same into a buffer; returns the length written (truncated at n-1). */
size_t json_str_buf(char *out, size_t n, const char *buf, size_t len);

/*
 * The writer: builds one JSON line in a line buffer. Keys are the program's
 * own literals (never escaped); every string value is escaped. Like the line
 * builder it writes through, it lives on the caller's stack and is inlined
 * into the caller: the events it writes come a million a second.
 *
 *	struct jw w;
 *	jw_begin(&w, &lbuf);
 *	jw_obj(&w);
 *	jw_kstr(&w, "event", "totals");
 *	jw_key(&w, "drops"); jw_obj(&w); ... jw_end(&w);
 *	jw_end(&w);
 *	jw_line(&w, stdout);
 */
#define JW_MAX_DEPTH 16

struct jw {
	struct lb c;			/* the line so far */
	int depth;
	bool after_key;			/* a value completes the key just written */
	bool has_items[JW_MAX_DEPTH];	/* the container at this depth has an item */
	char close[JW_MAX_DEPTH];	/* '}' or ']' */
};

static inline void jw_reset(struct jw *w)
{
	w->depth = 0;
	w->after_key = false;
	w->has_items[0] = false;
}

static inline void jw_begin(struct jw *w, struct lbuf *o)
{
	lb_open(&w->c, o);
	jw_reset(w);
}

/*
 * Into buf[0..n) itself (never grown): a fragment, such as members to paste
 * into other lines with jw_raw(). No container is open: keys at depth 0.
 */
static inline void jw_begin_on(struct jw *w, char *buf, size_t n)
{
	lb_on(&w->c, buf, n);
	jw_reset(w);
}

/* Before a value or key: the comma that separates it from the previous item. */
static inline void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->has_items[w->depth])
		lb_char(&w->c, ',');
	w->has_items[w->depth] = true;
}

static inline void jw_open(struct jw *w, char open, char close)
{
	jw_sep(w);
	lb_char(&w->c, open);
	if (w->depth + 1 < JW_MAX_DEPTH) {
		w->depth++;
		w->has_items[w->depth] = false;
		w->close[w->depth] = close;
	}
}

static inline void jw_obj(struct jw *w)
{
	jw_open(w, '{', '}');
}

static inline void jw_arr(struct jw *w)
{
	jw_open(w, '[', ']');
}

/* Closes the innermost object or array. */
static inline void jw_end(struct jw *w)
{
	if (w->depth > 0)
		lb_char(&w->c, w->close[w->depth--]);
}

/*
 * A key. jw_key() takes a string literal and costs one copy; jw_key_str()
 * takes one known only at run time, such as an errno's name: our own names,
 * never input, so neither is escaped.
 */
static inline void jw_key_quoted(struct jw *w, const char *quoted, size_t n)
{
	jw_sep(w);
	lb_mem(&w->c, quoted, n);
	w->after_key = true;
}
#define jw_key(w, k) jw_key_quoted(w, "\"" k "\":", sizeof("\"" k "\":") - 1)

static inline void jw_key_str(struct jw *w, const char *key)
{
	jw_sep(w);
	lb_char(&w->c, '"');
	lb_str(&w->c, key);
	lb_lit(&w->c, "\":");
	w->after_key = true;
}

/* At most n bytes of s (an untrusted fixed-size field such as a comm), escaped. */
static inline void jw_strn(struct jw *w, const char *s, size_t n)
{
	size_t len = strnlen(s, n), room;

	jw_sep(w);
	room = w->c.end - w->c.p;
	/* the string, its quotes, and the NUL json_str_buf() ends with */
	if (room >= len * 6 + 3)
		w->c.p += json_str_buf(w->c.p, room, s, len);
}

static inline void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

/*
 * One of portlife's own names as a string: an event, a state, a reason, an
 * errno, always a literal of its name tables (unknown values are "?"), never
 * input. Quoted, not escaped: escaping them was most of json_str_buf()'s
 * share of an event line.
 */
static inline void jw_name(struct jw *w, const char *s)
{
	jw_sep(w);
	lb_char(&w->c, '"');
	lb_str(&w->c, s);
	lb_char(&w->c, '"');
}

static inline void jw_u64(struct jw *w, __u64 v)
{
	jw_sep(w);
	lb_u64(&w->c, v);
}

static inline void jw_s64(struct jw *w, __s64 v)
{
	jw_sep(w);
	lb_s64(&w->c, v);
}

static inline void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	if (v)
		lb_lit(&w->c, "true");
	else
		lb_lit(&w->c, "false");
}

static inline void jw_null(struct jw *w)
{
	jw_sep(w);
	lb_lit(&w->c, "null");
}

/* A number with 'decimals' digits after the point ("%.*f"); null if not finite. */
static inline void jw_double(struct jw *w, double v, int decimals)
{
	jw_sep(w);
	/* JSON has no NaN or infinity */
	if (v != v || v > 1e300 || v < -1e300)
		lb_lit(&w->c, "null");
	else
		lb_printf(&w->c, "%.*f", decimals, v);
}

/* Already JSON (a fragment jw_begin_on() made, members or a value), as one item. */
static inline void jw_raw(struct jw *w, const char *s, size_t n)
{
	jw_sep(w);
	lb_mem(&w->c, s, n);
}

/* An address ("10.0.0.1", "::1") as a string. */
static inline void jw_addr(struct jw *w, int family, const __u8 addr[16])
{
	jw_sep(w);
	lb_char(&w->c, '"');
	lb_addr(&w->c, family, addr);
	lb_char(&w->c, '"');
}

/* A wall-clock time, ISO 8601 UTC with microseconds ("2026-12-01T10:00:00.123456Z"). */
static inline void jw_time(struct jw *w, __u64 wall_ns)
{
	jw_sep(w);
	lb_char(&w->c, '"');
	lb_time(&w->c, wall_ns, 1);
	lb_char(&w->c, '"');
}

/* key (a string literal) and value in one */
#define jw_kstr(w, k, s)		(jw_key(w, k), jw_str(w, s))
#define jw_kname(w, k, s)		(jw_key(w, k), jw_name(w, s))
#define jw_kstrn(w, k, s, n)		(jw_key(w, k), jw_strn(w, s, n))
#define jw_ku64(w, k, v)		(jw_key(w, k), jw_u64(w, v))
#define jw_ks64(w, k, v)		(jw_key(w, k), jw_s64(w, v))
#define jw_kdouble(w, k, v, d)		(jw_key(w, k), jw_double(w, v, d))
#define jw_kbool(w, k, v)		(jw_key(w, k), jw_bool(w, v))
#define jw_knull(w, k)			(jw_key(w, k), jw_null(w))
#define jw_kaddr(w, k, fam, a)		(jw_key(w, k), jw_addr(w, fam, a))
#define jw_ktime(w, k, t)		(jw_key(w, k), jw_time(w, t))

/* Closes what is open, ends the line with a newline and writes it out; 0 or EOF. */
static inline int jw_line(struct jw *w, FILE *f)
{
	while (w->depth > 0)
		jw_end(w);
	lb_char(&w->c, '\n');
	return lb_close(&w->c, f);
}

#endif
