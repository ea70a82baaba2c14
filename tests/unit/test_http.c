// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the --metrics-addr server (user/http.c), over real sockets
 * on loopback: what it answers, and that idle, trickling, slow and vanishing
 * clients cannot keep a scrape from being answered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "http.h"

#define TEXT_METRICS "text/plain; version=0.0.4; charset=utf-8"

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void loopback(int family, unsigned short port, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in4);
	}
}

/* A server on loopback, on a port of the kernel's choosing. */
static struct metrics_http *serve(int family, const struct metrics_http_opts *o,
				  unsigned short *port)
{
	struct sockaddr_storage ss;
	struct metrics_http *h;
	char err[128];
	socklen_t len;

	loopback(family, 0, &ss, &len);
	h = metrics_http_start_opts(&ss, o, err, sizeof(err));
	if (!h)
		fail_msg("metrics_http_start: %s", err);
	*port = metrics_http_port(h);
	assert_int_not_equal(*port, 0);
	return h;
}

/* A connected blocking socket to the server, or -errno. */
static int dial_family(int family, unsigned short port)
{
	struct timeval tv = { 2, 0 };
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -errno;
	loopback(family, port, &ss, &len);
	/* bounds connect() too: a test must fail, not hang */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int dial(unsigned short port)
{
	return dial_family(AF_INET, port);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("send: %s", strerror(errno));
		buf += n;
		len -= n;
	}
}

struct reply {
	int status;
	char *raw; /* the whole response, NUL-terminated */
	size_t len;
	const char *body;
	size_t body_len;
	char hdr[256]; /* the value hdr() found last */
};

static void reply_free(struct reply *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* Reads fd to its end within timeout_ms into r->raw. 0, or -ETIMEDOUT/-errno. */
static int read_all(int fd, struct reply *r, int timeout_ms)
{
	uint64_t end = ms_now() + timeout_ms;
	size_t cap = 1 << 16;

	memset(r, 0, sizeof(*r));
	r->raw = malloc(cap);
	assert_non_null(r->raw);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = ms_now();
		ssize_t n;

		if (now >= end || poll(&p, 1, end - now) == 0)
			return -ETIMEDOUT;
		if (r->len + 1 == cap) {
			cap *= 2;
			r->raw = realloc(r->raw, cap);
			assert_non_null(r->raw);
		}
		n = recv(fd, r->raw + r->len, cap - 1 - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		r->len += n;
	}
	r->raw[r->len] = '\0';
	return 0;
}

/*
 * Reads the response to its end (the server closes after one) and splits
 * status, head and body.
 */
static int read_reply(int fd, struct reply *r, int timeout_ms)
{
	int err = read_all(fd, r, timeout_ms);
	char *sep;

	if (err)
		return err;
	if (sscanf(r->raw, "HTTP/1.1 %d ", &r->status) != 1)
		return -EPROTO;
	sep = strstr(r->raw, "\r\n\r\n");
	if (!sep)
		return -EPROTO;
	r->body = sep + 4;
	r->body_len = r->len - (r->body - r->raw);
	return 0;
}

/* Sends req on a new connection and reads the reply. */
static int fetch_family(int family, unsigned short port, const char *req, size_t len,
			struct reply *r, int timeout_ms)
{
	int fd = dial_family(family, port), err;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return fd;
	send_all(fd, req, len);
	err = read_reply(fd, r, timeout_ms);
	close(fd);
	return err;
}

static int fetch(unsigned short port, const char *req, struct reply *r, int timeout_ms)
{
	return fetch_family(AF_INET, port, req, strlen(req), r, timeout_ms);
}

/* The value of header name in the response head, or NULL. */
static const char *hdr(struct reply *r, const char *name)
{
	size_t l = strlen(name);
	const char *p;

	for (p = strstr(r->raw, "\r\n"); p && p + 2 < r->body; p = strstr(p + 2, "\r\n"))
		if (!strncasecmp(p + 2, name, l) && p[2 + l] == ':') {
			const char *v = p + 3 + l, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(r->hdr, sizeof(r->hdr), "%.*s", (int)(e - v), v);
			return r->hdr;
		}
	return NULL;
}

static long content_length(struct reply *r)
{
	const char *v = hdr(r, "Content-Length");

	return v ? strtol(v, NULL, 10) : -1;
}

static const char text[] = "# TYPE portlife_allocations_total counter\n"
			   "portlife_allocations_total{comm=\"curl\"} 3\n";

/* A server with the default limits that has published text. */
struct fixture {
	struct metrics_http *h;
	unsigned short port;
};

static int setup_published(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->h = serve(AF_INET, NULL, &fx->port);
	metrics_http_publish(fx->h, text, strlen(text));
	*state = fx;
	return 0;
}

static int teardown_published(void **state)
{
	struct fixture *fx = *state;

	metrics_http_stop(fx->h);
	free(fx);
	return 0;
}

static void test_get_metrics(void **state)
{
	static const char *const reqs[] = {
		"GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: Prometheus/2.45\r\n\r\n",
		"GET /metrics HTTP/1.0\r\n\r\n",
		"GET /metrics?name[]=x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://127.0.0.1/metrics HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET HTTP://127.0.0.1:9464/metrics?x HTTP/1.1\r\nHost: x\r\n\r\n",
		/* bare LF line ends (RFC 9112 2.2) */
		"GET /metrics HTTP/1.1\nHost: x\n\n",
	};
	struct fixture *fx = *state;
	struct metrics_http *h = fx->h;
	unsigned short port = fx->port;
	struct reply r;

	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(fetch(port, reqs[i], &r, 2000), 0);
		assert_int_equal(r.status, 200);
		assert_true(!strncmp(r.raw, "HTTP/1.1 200 OK\r\n", 17));
		assert_string_equal(hdr(&r, "Content-Type"), TEXT_METRICS);
		assert_string_equal(hdr(&r, "Connection"), "close");
		assert_int_equal(content_length(&r), strlen(text));
		assert_int_equal(r.body_len, strlen(text));
		assert_memory_equal(r.body, text, strlen(text));
		reply_free(&r);
	}
	/* a text with NULs and any bytes is sent as it is */
	{
		char bin[4096];

		for (size_t i = 0; i < sizeof(bin); i++)
			bin[i] = (char)(i * 7);
		metrics_http_publish(h, bin, sizeof(bin));
		assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 2000), 0);
		assert_int_equal(r.body_len, sizeof(bin));
		assert_memory_equal(r.body, bin, sizeof(bin));
		reply_free(&r);
	}
}

static void test_head_and_index(void **state)
{
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, NULL, &port);
	struct reply r;

	(void)state;
	/* nothing published yet: not an empty 200, which would read as "no ports" */
	assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 2000), 0);
	assert_int_equal(r.status, 503);
	assert_string_equal(hdr(&r, "Retry-After"), "1");
	reply_free(&r);

	metrics_http_publish(h, text, strlen(text));
	assert_int_equal(fetch(port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r, 2000), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(hdr(&r, "Content-Type"), TEXT_METRICS);
	assert_int_equal(content_length(&r), strlen(text));
	assert_int_equal(r.body_len, 0);
	reply_free(&r);

	/* the index, also as a proxy asks for it (absolute form without a path) */
	for (int i = 0; i < 3; i++) {
		static const char *const reqs[] = {
			"GET / HTTP/1.1\r\n\r\n",
			"GET /?x=1 HTTP/1.1\r\n\r\n",
			"GET http://127.0.0.1 HTTP/1.1\r\n\r\n",
		};

		assert_int_equal(fetch(port, reqs[i], &r, 2000), 0);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "/metrics"));
		assert_int_equal(content_length(&r), r.body_len);
		reply_free(&r);
	}
	metrics_http_stop(h);
}

static void test_errors(void **state)
{
	static const struct {
		const char *req;
		int status;
	} cases[] = {
		{ "GET /nope HTTP/1.1\r\n\r\n", 404 },
		{ "GET /metrics/ HTTP/1.1\r\n\r\n", 404 },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", 404 },
		{ "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405 },
		{ "DELETE / HTTP/1.1\r\n\r\n", 405 },
		{ "get /metrics HTTP/1.1\r\n\r\n", 405 },
		{ "GARBAGE\r\n\r\n", 400 },
		{ "GET /metrics\r\n\r\n", 400 },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1 \r\n\r\n", 400 },
		{ "GET metrics HTTP/1.1\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400 },
		{ "GET /metrics HTTP/1.1\r\nHost: \x01\r\n\r\n", 400 },
		{ "GET /metrics HTTP/2.0\r\n\r\n", 505 },
	};
	struct fixture *fx = *state;
	unsigned short port = fx->port;
	struct reply r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = fetch(port, cases[i].req, &r, 2000);

		if (err || r.status != cases[i].status)
			fail_msg("%s: got %d (%s), want %d", cases[i].req, r.status,
				 err ? strerror(-err) : "answered", cases[i].status);
		assert_string_equal(hdr(&r, "Connection"), "close");
		assert_int_equal(content_length(&r), r.body_len);
		if (r.status == 405)
			assert_string_equal(hdr(&r, "Allow"), "GET, HEAD");
		reply_free(&r);
	}
	/* a NUL in the head */
	{
		static const char nul[] = "GET /metrics HTTP/1.1\r\nA: \0\r\n\r\n";

		assert_int_equal(fetch_family(AF_INET, port, nul, sizeof(nul) - 1, &r, 2000), 0);
	}
	assert_int_equal(r.status, 400);
	reply_free(&r);
}

/*
 * A head over HTTP_HEAD_MAX gets 431, and the client can read it although
 * the server stopped reading mid-head: it drains instead of resetting.
 */
static void test_oversized_head(void **state)
{
	size_t len = HTTP_HEAD_MAX + 4096;
	char *req = malloc(len + 1);
	struct fixture *fx = *state;
	unsigned short port = fx->port;
	struct reply r;
	int fd;

	assert_non_null(req);
	strcpy(req, "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(req + strlen(req), 'a', len - strlen(req));
	req[len] = '\0';
	memcpy(req + len - 4, "\r\n\r\n", 4);
	fd = dial(port);
	assert_true(fd >= 0);
	send_all(fd, req, len);
	assert_int_equal(read_reply(fd, &r, 2000), 0);
	assert_int_equal(r.status, 431);
	close(fd);
	reply_free(&r);

	/* exactly HTTP_HEAD_MAX is still served */
	memcpy(req + HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
	assert_int_equal(fetch_family(AF_INET, port, req, HTTP_HEAD_MAX, &r, 2000), 0);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	free(req);
}

/* A request that arrives in pieces, cut at every place, even inside "\r\n\r\n". */
static void test_split_request(void **state)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct fixture *fx = *state;
	unsigned short port = fx->port;
	int one = 1;

	for (size_t cut = 1; cut < sizeof(req) - 1; cut++) {
		struct reply r;
		int fd = dial(port);

		assert_true(fd >= 0);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		send_all(fd, req, cut);
		sleep_ms(3);
		send_all(fd, req + cut, sizeof(req) - 1 - cut);
		assert_int_equal(read_reply(fd, &r, 2000), 0);
		if (r.status != 200)
			fail_msg("cut at %zu: status %d", cut, r.status);
		close(fd);
		reply_free(&r);
	}
}

/* A text of len bytes that says which version it is in every line. */
static char *versioned(unsigned int v, size_t len)
{
	char *b = malloc(len);

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = i % 64 == 63 ? '\n' : 'a' + v % 26;
	return b;
}

struct publisher {
	struct metrics_http *h;
	atomic_bool stop;
	unsigned int rounds;
};

static void *publish_loop(void *arg)
{
	struct publisher *p = arg;

	while (!atomic_load(&p->stop)) {
		size_t len = 64 * (1 + p->rounds % 300);
		char *b = versioned(p->rounds, len);

		metrics_http_publish(p->h, b, len);
		free(b);
		p->rounds++;
	}
	return NULL;
}

/*
 * A response already being written keeps the text it started with, while
 * publish() goes on; new requests get the new text. And with a publisher
 * hammering, every response is one whole published text, never a mix.
 */
static void test_publish_while_reading(void **state)
{
	/* more than loopback's socket buffers hold: the first response is still being written */
	size_t big = 32 << 20;
	char *a = versioned(0, big), *b = versioned(1, big);
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, NULL, &port);
	struct publisher pub = { .h = h };
	struct reply r, r2;
	pthread_t t;
	int fd;
	char first[65536];
	size_t got = 0;

	(void)state;
	metrics_http_publish(h, a, big);
	fd = dial(port);
	assert_true(fd >= 0);
	send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	while (got < sizeof(first)) {
		ssize_t n = recv(fd, first + got, sizeof(first) - got, 0);

		assert_true(n > 0);
		got += n;
	}
	metrics_http_publish(h, b, big);
	assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r2, 5000), 0);
	assert_int_equal(r2.body_len, big);
	assert_memory_equal(r2.body, b, big);
	reply_free(&r2);
	/* the rest of the first response: still all of a */
	assert_int_equal(read_all(fd, &r, 5000), 0);
	close(fd);
	{
		size_t head = (char *)memmem(first, got, "\r\n\r\n", 4) - first + 4;

		assert_int_equal(got - head + r.len, big);
		assert_memory_equal(first + head, a, got - head);
		assert_memory_equal(r.raw, a + (got - head), r.len);
	}
	reply_free(&r);
	free(a);
	free(b);

	assert_int_equal(pthread_create(&t, NULL, publish_loop, &pub), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 2000), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(content_length(&r), r.body_len);
		assert_true(r.body_len % 64 == 0 && r.body_len);
		for (size_t j = 0; j < r.body_len; j++)
			if (r.body[j] != (j % 64 == 63 ? '\n' : r.body[0]))
				fail_msg("response %d mixes two texts at byte %zu", i, j);
		reply_free(&r);
	}
	atomic_store(&pub.stop, true);
	pthread_join(t, NULL);
	assert_true(pub.rounds > 1);
	metrics_http_stop(h);
}

/*
 * A client that asks for a large text and never reads does not hold up
 * anyone else, and its connection ends at the write deadline.
 */
static void test_slow_reader(void **state)
{
	struct metrics_http_opts o = { .write_ms = 1000 };
	size_t big = 32 << 20;
	char *a = versioned(2, big), buf[65536];
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, &o, &port);
	struct reply r;
	int rcvbuf = 4096, fd;
	uint64_t t0;
	size_t got = 0;
	ssize_t n;

	(void)state;
	metrics_http_publish(h, a, big);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	{
		struct sockaddr_storage ss;
		socklen_t len;

		/* a small window before connect, so the server's sends stall early */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		loopback(AF_INET, port, &ss, &len);
		assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	}
	send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	sleep_ms(100);
	t0 = ms_now();
	assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 1000), 0);
	assert_int_equal(r.body_len, big);
	reply_free(&r);
	assert_true(ms_now() - t0 < 1000);
	/* past the deadline the server gives up: what it had queued, then the end */
	sleep_ms(1500);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ 5, 0 }, sizeof(struct timeval));
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		got += n;
	if (n < 0 && errno == EAGAIN)
		fail_msg("the slow reader's connection neither ended nor sent for 5 s");
	close(fd);
	if (got >= big)
		fail_msg("the slow reader got all %zu bytes: no write deadline", got);
	free(a);
	metrics_http_stop(h);
}

/*
 * Clients that reset their connection mid-response: no SIGPIPE, still
 * serving. Those that shut their side first put the server's end in
 * CLOSE_WAIT, where the reset makes the next send EPIPE (tcp_reset()), the
 * error that raises SIGPIPE. Two things keep it from killing the process:
 * MSG_NOSIGNAL, and the server thread's blocked signals; this test dies of
 * SIGPIPE only when both are gone (tried).
 */
static void test_client_gone(void **state)
{
	size_t big = 32 << 20;
	char *a = versioned(3, big), c;
	struct linger lg = { 1, 0 };
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, NULL, &port);
	struct reply r;

	(void)state;
	metrics_http_publish(h, a, big);
	for (int i = 0; i < 20; i++) {
		int fd = dial(port);

		assert_true(fd >= 0);
		send_all(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25);
		if (i % 2)
			shutdown(fd, SHUT_WR);
		assert_int_equal(recv(fd, &c, 1, 0), 1);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	sleep_ms(100);
	assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 2000), 0);
	assert_int_equal(r.body_len, big);
	reply_free(&r);
	free(a);
	metrics_http_stop(h);
}

/* Has the server closed fd? (EOF or reset; fd is non-blocking) */
static bool closed_by_peer(int fd)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

/*
 * Connections that trickle a byte every 100 ms, and one that sends nothing,
 * are closed at the read deadline counted from accept: bytes do not move it.
 */
static void test_deadline(void **state)
{
	struct metrics_http_opts o = { .read_ms = 1000 };
	enum { N = 5 };
	int fd[N];
	uint64_t t0, closed[N] = { 0 };
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, &o, &port);
	int left = N;

	(void)state;
	t0 = ms_now();
	for (int i = 0; i < N; i++) {
		fd[i] = dial(port);
		assert_true(fd[i] >= 0);
		if (i)
			send_all(fd[i], "GET /metrics HTTP/1.1\r\nX: ", 26);
	}
	while (left && ms_now() - t0 < 4000) {
		sleep_ms(100);
		for (int i = 0; i < N; i++) {
			if (closed[i])
				continue;
			if (closed_by_peer(fd[i]) ||
			    (i && send(fd[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)) {
				closed[i] = ms_now();
				left--;
			}
		}
	}
	for (int i = 0; i < N; i++) {
		if (!closed[i])
			fail_msg("connection %d (%s) still open after 4 s; the deadline is 1 s", i,
				 i ? "trickling" : "idle");
		if (closed[i] - t0 < 900 || closed[i] - t0 > 2000)
			fail_msg("connection %d closed after %llu ms; the deadline is 1000 ms", i,
				 (unsigned long long)(closed[i] - t0));
		close(fd[i]);
	}
	metrics_http_stop(h);
}

/*
 * With every slot taken by connections that sent no complete request, a new
 * one evicts the oldest of them: the slots are bounded and the newcomer is
 * served.
 */
static void test_evicts_oldest(void **state)
{
	struct metrics_http_opts o = { .max_conns = 8 };
	enum { N = 12 };
	int fd[N];
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, &o, &port);
	struct reply r;

	(void)state;
	metrics_http_publish(h, text, strlen(text));
	for (int i = 0; i < N; i++) {
		fd[i] = dial(port);
		assert_true(fd[i] >= 0);
		sleep_ms(20); /* accepted in this order */
	}
	sleep_ms(100);
	for (int i = 0; i < N; i++)
		if (closed_by_peer(fd[i]) != (i < N - 8))
			fail_msg("connection %d of %d is %s; with 8 slots the oldest %d go", i, N,
				 i < N - 8 ? "open" : "closed", N - 8);
	assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 1000), 0);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	sleep_ms(50);
	for (int i = N - 8; i < N; i++)
		if (closed_by_peer(fd[i]) != (i == N - 8))
			fail_msg("after a scrape, connection %d is %s; only %d should have gone", i,
				 i == N - 8 ? "open" : "closed", N - 8);
	for (int i = 0; i < N; i++)
		close(fd[i]);
	metrics_http_stop(h);
}

/*
 * The neighbour: 60 idle and 60 trickling connections from 127.0.0.1, like
 * the scraper, each reopened as soon as the server drops it. A scrape is
 * still answered within a second, again and again; once the neighbour stops
 * reopening, its connections end at the read deadline although the
 * tricklers never stop sending.
 */
enum { IDLE = 60, TRICKLE = 60 };

struct neighbour {
	unsigned short port;
	int fd[IDLE + TRICKLE];
	atomic_bool reopen, stop;
	atomic_uint opened;
	atomic_int open_now;
	char err[128];
};

static void *neighbour_loop(void *arg)
{
	struct neighbour *nb = arg;

	while (!atomic_load(&nb->stop)) {
		int open_now = 0;

		for (int i = 0; i < IDLE + TRICKLE; i++) {
			if (nb->fd[i] >= 0 &&
			    (closed_by_peer(nb->fd[i]) ||
			     (i >= IDLE &&
			      send(nb->fd[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
			      errno != EAGAIN))) {
				close(nb->fd[i]);
				nb->fd[i] = -1;
			}
			if (nb->fd[i] < 0 && atomic_load(&nb->reopen)) {
				nb->fd[i] = dial(nb->port);
				if (nb->fd[i] < 0) {
					snprintf(nb->err, sizeof(nb->err), "connect: %s",
						 strerror(-nb->fd[i]));
					continue;
				}
				atomic_fetch_add(&nb->opened, 1);
				if (i >= IDLE)
					send(nb->fd[i], "GET /metrics HTTP/1.1\r\nX: ", 26,
					     MSG_NOSIGNAL);
			}
			open_now += nb->fd[i] >= 0;
		}
		atomic_store(&nb->open_now, open_now);
		sleep_ms(100);
	}
	for (int i = 0; i < IDLE + TRICKLE; i++)
		if (nb->fd[i] >= 0)
			close(nb->fd[i]);
	return NULL;
}

static void test_neighbour_cannot_block(void **state)
{
	struct metrics_http_opts o = { .read_ms = 3000 };
	struct neighbour nb = { 0 };
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, &o, &port);
	uint64_t t0, worst = 0;
	pthread_t t;

	(void)state;
	metrics_http_publish(h, text, strlen(text));
	nb.port = port;
	for (int i = 0; i < IDLE + TRICKLE; i++)
		nb.fd[i] = -1;
	atomic_store(&nb.reopen, true);
	assert_int_equal(pthread_create(&t, NULL, neighbour_loop, &nb), 0);
	while (atomic_load(&nb.opened) < IDLE + TRICKLE)
		sleep_ms(10);
	sleep_ms(300);
	for (int i = 0; i < 15; i++) {
		struct reply r;
		int err;

		t0 = ms_now();
		err = fetch(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r, 1000);
		if (err)
			fail_msg("scrape %d with %u neighbour connections made so far: %s", i,
				 atomic_load(&nb.opened), strerror(-err));
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, strlen(text));
		reply_free(&r);
		if (ms_now() - t0 > worst)
			worst = ms_now() - t0;
		sleep_ms(100);
	}
	/* the neighbour was really there: it kept being evicted and coming back */
	assert_true(atomic_load(&nb.opened) > IDLE + TRICKLE + 15);
	print_message("slowest of 15 scrapes: %llu ms, %u neighbour connections\n",
		      (unsigned long long)worst, atomic_load(&nb.opened));

	/* now only the read deadline can end what is left */
	atomic_store(&nb.reopen, false);
	t0 = ms_now();
	sleep_ms(200);
	assert_true(atomic_load(&nb.open_now) > 0);
	while (atomic_load(&nb.open_now) > 0 && ms_now() - t0 < o.read_ms + 1500)
		sleep_ms(50);
	if (atomic_load(&nb.open_now) > 0)
		fail_msg("%d neighbour connections still open %llu ms after the last was "
			 "opened; the read deadline is %u ms",
			 atomic_load(&nb.open_now), (unsigned long long)(ms_now() - t0),
			 o.read_ms);
	atomic_store(&nb.stop, true);
	pthread_join(t, NULL);
	assert_string_equal(nb.err, "");
	metrics_http_stop(h);
}

/* No SO_REUSEPORT: a second server on the port fails, and says why. */
static void test_addr_in_use(void **state)
{
	unsigned short port;
	struct metrics_http *h = serve(AF_INET, NULL, &port), *h2;
	struct sockaddr_storage ss;
	struct reply r;
	socklen_t len;
	char err[128] = "";

	(void)state;
	metrics_http_publish(h, text, strlen(text));
	/* a served connection leaves the server's end in TIME_WAIT */
	assert_int_equal(fetch(port, "GET /metrics HTTP/1.1\r\n\r\n", &r, 2000), 0);
	reply_free(&r);
	loopback(AF_INET, port, &ss, &len);
	errno = 0;
	h2 = metrics_http_start(&ss, err, sizeof(err));
	assert_null(h2);
	assert_int_equal(errno, EADDRINUSE);
	assert_string_equal(err, strerror(EADDRINUSE));
	metrics_http_stop(h);
	/* and after a stop the port is free again, TIME_WAIT or not */
	h = metrics_http_start(&ss, err, sizeof(err));
	if (!h)
		fail_msg("restart on port %u: %s", port, err);
	metrics_http_stop(h);
	metrics_http_stop(NULL);
}

static void test_ipv6(void **state)
{
	struct sockaddr_storage ss;
	struct metrics_http *h;
	unsigned short port;
	struct reply r;
	socklen_t len;
	char err[128];

	(void)state;
	loopback(AF_INET6, 0, &ss, &len);
	h = metrics_http_start(&ss, err, sizeof(err));
	if (!h && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
		print_message("no IPv6 loopback here: %s\n", err);
		skip();
	}
	assert_non_null(h);
	port = metrics_http_port(h);
	metrics_http_publish(h, text, strlen(text));
	assert_int_equal(fetch_family(AF_INET6, port, "GET /metrics HTTP/1.1\r\n\r\n", 25, &r,
				      2000),
			 0);
	assert_int_equal(r.status, 200);
	assert_memory_equal(r.body, text, strlen(text));
	reply_free(&r);
	metrics_http_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_metrics, setup_published,
						teardown_published),
		cmocka_unit_test(test_head_and_index),
		cmocka_unit_test_setup_teardown(test_errors, setup_published,
						teardown_published),
		cmocka_unit_test_setup_teardown(test_oversized_head, setup_published,
						teardown_published),
		cmocka_unit_test_setup_teardown(test_split_request, setup_published,
						teardown_published),
		cmocka_unit_test(test_publish_while_reading),
		cmocka_unit_test(test_slow_reader),
		cmocka_unit_test(test_client_gone),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_evicts_oldest),
		cmocka_unit_test(test_neighbour_cannot_block),
		cmocka_unit_test(test_addr_in_use),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
