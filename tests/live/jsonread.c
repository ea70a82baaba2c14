// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading portlife's JSON lines: look-ups on flat event objects, and a strict parser. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonread.h"

const char *jfind(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

long long jnum(const char *line, const char *key)
{
	const char *p = jfind(line, key);

	return p ? strtoll(p, NULL, 10) : -1;
}

int jbool(const char *line, const char *key)
{
	const char *p = jfind(line, key);

	return !p ? -1 : !strncmp(p, "true", 4) ? 1 : !strncmp(p, "false", 5) ? 0 : -1;
}

bool jstr_is(const char *line, const char *key, const char *want)
{
	const char *p = jfind(line, key);
	size_t n = strlen(want);

	return p && *p == '"' && !strncmp(p + 1, want, n) && p[1 + n] == '"';
}

bool is_event(const char *line, const char *ev)
{
	return jstr_is(line, "event", ev);
}

/*
 * A strict JSON parser (RFC 8259), so the check needs no jq inside a minimal
 * VM: whole values only, valid UTF-8, no raw control bytes, no trailing junk.
 * When dec is given, the string at *p is decoded into it (UTF-8).
 */
static bool j_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
	return true;
}

static int utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80)
		return o[0] = cp, 1;
	if (cp < 0x800)
		return o[0] = 0xc0 | cp >> 6, o[1] = 0x80 | (cp & 0x3f), 2;
	if (cp < 0x10000)
		return o[0] = 0xe0 | cp >> 12, o[1] = 0x80 | ((cp >> 6) & 0x3f),
		       o[2] = 0x80 | (cp & 0x3f), 3;
	return o[0] = 0xf0 | cp >> 18, o[1] = 0x80 | ((cp >> 12) & 0x3f),
	       o[2] = 0x80 | ((cp >> 6) & 0x3f), o[3] = 0x80 | (cp & 0x3f), 4;
}

bool j_string(const char **p, char *dec, size_t declen)
{
	const unsigned char *s = (const unsigned char *)*p;
	size_t n = 0;

	if (*s++ != '"')
		return false;
	while (*s != '"') {
		char tmp[4];
		int k = 0;

		if (*s < 0x20)
			return false;
		if (*s == '\\') {
			unsigned cp = 0;

			s++;
			switch (*s) {
			case '"': case '\\': case '/': tmp[0] = *s; k = 1; break;
			case 'b': tmp[0] = '\b'; k = 1; break;
			case 'f': tmp[0] = '\f'; k = 1; break;
			case 'n': tmp[0] = '\n'; k = 1; break;
			case 'r': tmp[0] = '\r'; k = 1; break;
			case 't': tmp[0] = '\t'; k = 1; break;
			case 'u':
				for (int i = 1; i <= 4; i++) {
					unsigned c = s[i];

					cp <<= 4;
					if (c >= '0' && c <= '9') cp |= c - '0';
					else if (c >= 'a' && c <= 'f') cp |= c - 'a' + 10;
					else if (c >= 'A' && c <= 'F') cp |= c - 'A' + 10;
					else return false;
				}
				if (cp >= 0xd800 && cp <= 0xdfff)
					return false;	/* we never emit surrogate pairs */
				k = utf8_put(tmp, cp);
				s += 4;
				break;
			default:
				return false;
			}
			s++;
		} else {
			int len = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3 :
				  (*s & 0xf8) == 0xf0 ? 4 : 0;

			if (!len || (len == 2 && *s < 0xc2))
				return false;
			for (int i = 1; i < len; i++)
				if ((s[i] & 0xc0) != 0x80)
					return false;
			memcpy(tmp, s, len);
			k = len;
			s += len;
		}
		if (dec && n + k < declen) {
			memcpy(dec + n, tmp, k);
			n += k;
		}
	}
	if (dec && declen)
		dec[n] = '\0';
	*p = (const char *)s + 1;
	return true;
}

static bool j_value(const char **p, int depth);

static bool j_number(const char **p)
{
	const char *s = *p;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		if (!(*++s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	*p = s;
	return true;
}

static bool j_value(const char **p, int depth)
{
	if (depth > 32)
		return false;
	j_ws(p);
	switch (**p) {
	case '{':
		(*p)++;
		j_ws(p);
		if (**p == '}')
			return (*p)++, true;
		for (;;) {
			j_ws(p);
			if (!j_string(p, NULL, 0) || !j_ws(p) || *(*p)++ != ':' || !j_value(p, depth + 1))
				return false;
			j_ws(p);
			if (**p == '}')
				return (*p)++, true;
			if (*(*p)++ != ',')
				return false;
		}
	case '[':
		(*p)++;
		j_ws(p);
		if (**p == ']')
			return (*p)++, true;
		for (;;) {
			if (!j_value(p, depth + 1))
				return false;
			j_ws(p);
			if (**p == ']')
				return (*p)++, true;
			if (*(*p)++ != ',')
				return false;
		}
	case '"':
		return j_string(p, NULL, 0);
	case 't':
		return !strncmp(*p, "true", 4) ? (*p += 4, true) : false;
	case 'f':
		return !strncmp(*p, "false", 5) ? (*p += 5, true) : false;
	case 'n':
		return !strncmp(*p, "null", 4) ? (*p += 4, true) : false;
	default:
		return j_number(p);
	}
}

bool json_line_ok(const char *line)
{
	const char *p = line;

	if (!j_value(&p, 0))
		return false;
	j_ws(&p);
	return *p == '\0';
}
