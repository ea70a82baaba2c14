// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <string.h>
#include "json.h"

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t need, i;
	unsigned int cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (need > n)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

struct sink {
	FILE *f;
	char *out;
	size_t n, pos;
};

static void put(struct sink *s, const char *p, size_t len)
{
	if (s->f) {
		fwrite(p, 1, len, s->f);
		return;
	}
	for (size_t i = 0; i < len && s->pos + 1 < s->n; i++)
		s->out[s->pos++] = p[i];
}

static void escape(struct sink *s, const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0, l;
	char esc[8];

	put(s, "\"", 1);
	while (i < len && p[i]) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			put(s, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(s, esc, 6);
			i++;
		} else if ((l = utf8_len(p + i, len - i)) > 0) {
			/* A NUL inside a multi-byte sequence cannot pass utf8_len(). */
			put(s, (const char *)p + i, l);
			i += l;
		} else {
			put(s, "\\ufffd", 6);
			i++;
		}
	}
	put(s, "\"", 1);
}

void json_str(FILE *f, const char *buf, size_t len)
{
	struct sink s = { .f = f };

	escape(&s, buf, len);
}

size_t json_str_buf(char *out, size_t n, const char *buf, size_t len)
{
	struct sink s = { .out = out, .n = n };
	size_t i;

	if (!n)
		return 0;
	/* the common case, a plain name: copied as it is */
	for (i = 0; i < len && buf[i] >= 0x20 && buf[i] < 0x7f && buf[i] != '"' && buf[i] != '\\'; i++)
		;
	if ((i == len || !buf[i]) && i + 3 <= n) {
		out[0] = '"';
		memcpy(out + 1, buf, i);
		out[i + 1] = '"';
		out[i + 2] = '\0';
		return i + 2;
	}
	escape(&s, buf, len);
	out[s.pos] = '\0';
	return s.pos;
}
