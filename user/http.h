/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The --metrics-addr endpoint: a small HTTP/1.x server in a thread of its
 * own that serves the last published exposition at /metrics.
 *
 * It is built so that a neighbour on the host cannot take it down: every
 * connection has a total deadline from accept that trickled bytes cannot
 * extend, the number of connections is bounded, and when the bound is
 * reached a new connection evicts the oldest one that has not yet sent a
 * complete request. One request per connection, then close.
 */
#ifndef PORTLIFE_HTTP_H
#define PORTLIFE_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

/* A request head (request line and headers) larger than this gets 431. */
#define HTTP_HEAD_MAX 8192
#define HTTP_MAX_CONNS_DEFAULT 64
#define HTTP_READ_MS_DEFAULT 5000
#define HTTP_WRITE_MS_DEFAULT 10000

/* Zero fields take the defaults above. */
struct metrics_http_opts {
	unsigned int max_conns;	/* connections open at once */
	unsigned int read_ms;	/* accept to complete request head */
	unsigned int write_ms;	/* complete request to response written */
};

struct metrics_http;

/*
 * Listens on addr (IPv4 or IPv6, as metrics_parse_addr makes it) and serves
 * the last published text at /metrics from a thread of its own. NULL on
 * failure, with errno set and the cause in err ("Address already in use").
 */
struct metrics_http *metrics_http_start(const struct sockaddr_storage *addr, char *err,
					size_t errlen);
/* The same with other limits (opts may be NULL): the tests shorten the deadlines. */
struct metrics_http *metrics_http_start_opts(const struct sockaddr_storage *addr,
					     const struct metrics_http_opts *opts, char *err,
					     size_t errlen);
/* The port it listens on, host order (what port 0 became). */
unsigned short metrics_http_port(const struct metrics_http *h);
/*
 * Copies buf: requests from now on get it. Never waits for a client; a
 * response already being written keeps the text it started with.
 */
void metrics_http_publish(struct metrics_http *h, const char *buf, size_t len);
/* Closes every connection and the listening socket, joins the thread. NULL is fine. */
void metrics_http_stop(struct metrics_http *h);

#endif
