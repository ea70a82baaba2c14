/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading portlife's JSON lines in the live tests: quick field look-ups on
 * its flat event objects, and a strict RFC 8259 parser to prove a line is
 * JSON at all. Self-contained, so the check needs no jq inside a minimal VM.
 */
#ifndef __LIVE_JSONREAD_H
#define __LIVE_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>

/* Where the value of "key" starts in line, or NULL. */
const char *jfind(const char *line, const char *key);
/* The number at "key", or -1. */
long long jnum(const char *line, const char *key);
/* Is "key" the string want (no escapes in want)? */
bool jstr_is(const char *line, const char *key, const char *want);
/* A boolean key: 1 true, 0 false, -1 absent or not a boolean. */
int jbool(const char *line, const char *key);
/* Is line an event of type ev ("event":"ev")? */
bool is_event(const char *line, const char *ev);

/* Is line exactly one valid JSON value (and white space)? */
bool json_line_ok(const char *line);
/*
 * Parse the string at *p strictly, moving *p past it; when dec is given, the
 * string decoded (UTF-8) into it, cut to declen.
 */
bool j_string(const char **p, char *dec, size_t declen);

#endif /* __LIVE_JSONREAD_H */
