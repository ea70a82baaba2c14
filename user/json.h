/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* JSON string output that stays valid whatever bytes the kernel hands us. */
#ifndef PORTLIFE_JSON_H
#define PORTLIFE_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write buf[0..len) (stopping at a NUL) as a quoted JSON string. Quotes,
 * backslashes and control bytes are escaped; bytes that are not valid UTF-8
 * become U+FFFD, so the output is always valid JSON and valid UTF-8.
 */
void json_str(FILE *f, const char *buf, size_t len);
/* The same into a buffer; returns the length written (truncated at n-1). */
size_t json_str_buf(char *out, size_t n, const char *buf, size_t len);

#endif
