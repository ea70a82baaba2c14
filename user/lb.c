// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include "lb.h"

int lb_write_errno;

bool lbuf_reserve(struct lbuf *o)
{
	char *nb = realloc(o->buf, LB_LINE_MAX);

	if (!nb)
		return false;
	o->buf = nb;
	o->cap = LB_LINE_MAX;
	return true;
}

void lbuf_free(struct lbuf *o)
{
	free(o->buf);
	o->buf = NULL;
	o->cap = 0;
}

size_t fmt_addr6(char *dst, size_t room, const __u8 a[16])
{
	char t[INET6_ADDRSTRLEN];
	size_t n;

	if (!inet_ntop(AF_INET6, a, t, sizeof(t)))
		snprintf(t, sizeof(t), "?");
	n = strlen(t);
	if (n > room)
		n = room;
	memcpy(dst, t, n);
	return n;
}

size_t fmt_printf(char *dst, size_t room, const char *fmt, ...)
{
	char t[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(t))
		n = sizeof(t) - 1;
	if ((size_t)n > room)
		n = room;
	memcpy(dst, t, n);
	return n;
}
