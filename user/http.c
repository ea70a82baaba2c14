// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --metrics-addr endpoint (see http.h for what it promises).
 *
 * One thread, non-blocking sockets, one poll() over the listening socket, a
 * wake-up eventfd and every connection. Nothing here ever blocks on a
 * client, and the tracer only ever touches this thread's data through
 * metrics_http_publish(), which swaps a pointer under a mutex.
 *
 * What keeps it up (issue 14: 16 idle connections, or one byte every 4 s on
 * each, took libmicrohttpd's endpoint down):
 * - deadlines that traffic never moves: the request head is due read_ms
 *   after accept, the response is written write_ms after the head at most;
 * - a fixed number of slots; a new connection evicts the oldest one that
 *   has not sent a complete request, so idle and trickling connections,
 *   however many and from wherever, cost a scraper nothing but a slot that
 *   it takes over;
 * - a bounded buffer per connection: the request head is at most
 *   HTTP_HEAD_MAX bytes, and the response is the shared published text.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "http.h"
#include "util.h"

/*
 * After the response, the write side is shut and what the client still
 * sends is read and dropped until it closes, for this long at most: closing
 * with unread bytes (the rest of an oversized head) sends a RST, and a RST
 * can destroy the response before the client has read it.
 */
#define HTTP_LINGER_MS 1000
/*
 * accept() calls per poll() round. A connection's request is normally read
 * right after accept; when it is still on its way, the next round reads it
 * before this many newer connections can have evicted it.
 */
#define HTTP_ACCEPT_BATCH 16
/* Connections waiting in the kernel while every slot is writing a response. */
#define HTTP_BACKLOG 128
/* How long accept() rests after running out of file descriptors. */
#define HTTP_ACCEPT_PAUSE_MS 100

/*
 * One published exposition. A connection sending it holds a reference, so
 * publishing waits for no one and a response is never copied per client.
 */
struct body {
	unsigned int refs; /* under metrics_http.lock */
	size_t len;
	char text[];
};

enum conn_state {
	CONN_FREE,
	CONN_READ,  /* until the request head is complete */
	CONN_WRITE, /* the response */
	CONN_DRAIN, /* response sent, write side shut: waiting for the client's close */
};

struct conn {
	int fd;
	enum conn_state state;
	uint64_t seq;	   /* accept order: the lowest is the oldest */
	uint64_t deadline; /* monotonic ms */
	struct body *body; /* the exposition being sent, or NULL */
	const char *out;   /* the response body: body->text or a constant */
	size_t out_len;	   /* 0 for HEAD */
	size_t head_len;
	size_t sent; /* of head_len + out_len */
	size_t in_len;
	char head[256];
	char in[HTTP_HEAD_MAX];
};

struct metrics_http {
	int lfd;
	int wake; /* eventfd: stop() asks the thread to end */
	unsigned short port;
	struct metrics_http_opts o;
	pthread_t thread;
	pthread_mutex_t lock;
	struct body *cur; /* under lock; NULL until the first publish */
	/* the thread's own */
	uint64_t seq;
	uint64_t accept_pause; /* no accept() before this (ms) */
	struct conn *conns;    /* o.max_conns slots */
	struct pollfd *pfd;    /* 2 + o.max_conns */
	struct conn **pconn;   /* the connection behind pfd[i] */
};

static uint64_t now_ms(void)
{
	return mono_ns() / 1000000;
}

static void body_put(struct metrics_http *h, struct body *b)
{
	bool last;

	if (!b)
		return;
	pthread_mutex_lock(&h->lock);
	last = !--b->refs;
	pthread_mutex_unlock(&h->lock);
	if (last)
		free(b);
}

static struct body *body_get(struct metrics_http *h)
{
	struct body *b;

	pthread_mutex_lock(&h->lock);
	b = h->cur;
	if (b)
		b->refs++;
	pthread_mutex_unlock(&h->lock);
	return b;
}

static void conn_close(struct metrics_http *h, struct conn *c)
{
	close(c->fd);
	body_put(h, c->body);
	c->body = NULL;
	c->fd = -1;
	c->state = CONN_FREE;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Unknown";
}

#define STR_(x) #x
#define STR(x) STR_(x)
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define TEXT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* Queues a response; extra is more header lines, each ending in \r\n. */
static void conn_respond(struct metrics_http *h, struct conn *c, int status, const char *ctype,
			 const char *extra, const char *out, size_t len, bool head_only,
			 uint64_t now)
{
	c->head_len = snprintf(c->head, sizeof(c->head),
			       "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			       "%sConnection: close\r\n\r\n",
			       status, reason(status), ctype, len, extra);
	c->out = out;
	c->out_len = head_only ? 0 : len;
	c->sent = 0;
	c->state = CONN_WRITE;
	c->deadline = now + h->o.write_ms;
}

/* A constant text body. */
static void conn_text(struct metrics_http *h, struct conn *c, int status, const char *extra,
		      const char *text, bool head_only, uint64_t now)
{
	conn_respond(h, c, status, TEXT_PLAIN, extra, text, strlen(text), head_only, now);
}

/* RFC 9110 tchar: what a method or a header name is made of. */
static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/*
 * Length of the request head at the start of buf (through the empty line
 * that ends it), or 0 while it is incomplete. Lines may end in CRLF or a
 * bare LF (RFC 9112 2.2). from: bytes already searched.
 */
static size_t head_end(const char *buf, size_t from, size_t len)
{
	for (size_t i = from > 2 ? from - 2 : 1; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i - 1] == '\n' || (buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n'))
			return i + 1;
	}
	return 0;
}

/*
 * Checks the request head (in[0..len), complete) and queues the response.
 * The request line is "METHOD SP TARGET SP HTTP/1.x"; every header line must
 * be "name:value". A head this server cannot read for sure gets 400 rather
 * than a guess.
 */
static void conn_request(struct metrics_http *h, struct conn *c, size_t len, uint64_t now)
{
	static const char index_text[] = "portlife: the metrics are at /metrics\n";
	char *p = c->in, *end = c->in + len, *method, *target, *q;
	const char *path;
	size_t mlen, tlen, plen;
	bool head_only;
	struct body *b;

	/* control characters have no place in a head; CR only before LF */
	for (q = p; q < end; q++) {
		unsigned char ch = *q;

		if (ch == 0x7f || (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ||
		    (ch == '\r' && q[1] != '\n'))
			goto bad;
	}
	method = p;
	while (p < end && is_tchar(*p))
		p++;
	mlen = p - method;
	if (!mlen || *p++ != ' ')
		goto bad;
	target = p;
	while (p < end && *p > ' ')
		p++;
	tlen = p - target;
	if (!tlen || *p++ != ' ' || end - p < 9 || memcmp(p, "HTTP/", 5) || p[5] < '0' ||
	    p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
		goto bad;
	if (p[5] != '1') {
		conn_text(h, c, 505, "", "HTTP/1.0 and HTTP/1.1 only\n", false, now);
		return;
	}
	p += 8;
	if (*p == '\r')
		p++;
	if (*p++ != '\n')
		goto bad;
	/* header lines: a name, then a colon; nothing before the name (obs-fold) */
	while (*p != '\r' && *p != '\n') {
		char *name = p;

		while (is_tchar(*p))
			p++;
		if (p == name || *p != ':')
			goto bad;
		p = memchr(p, '\n', end - p) + 1;
	}

	head_only = mlen == 4 && !memcmp(method, "HEAD", 4);
	if (!head_only && !(mlen == 3 && !memcmp(method, "GET", 3))) {
		conn_text(h, c, 405, "Allow: GET, HEAD\r\n", "only GET and HEAD are served here\n",
			  false, now);
		return;
	}
	target[tlen] = '\0';
	path = target;
	/* absolute form (RFC 9112 3.2.2), as a proxy sends it: keep the path */
	if (!strncasecmp(target, "http://", 7) || !strncasecmp(target, "https://", 8)) {
		path = strchr(strstr(target, "//") + 2, '/');
		if (!path)
			path = "/";
	}
	if (path[0] != '/')
		goto bad;
	plen = strcspn(path, "?");
	if (plen == 8 && !memcmp(path, "/metrics", 8)) {
		b = body_get(h);
		if (!b) {
			conn_text(h, c, 503, "Retry-After: 1\r\n",
				  "no metrics yet: the first are published a second after start\n",
				  head_only, now);
			return;
		}
		c->body = b;
		conn_respond(h, c, 200, TEXT_METRICS, "", b->text, b->len, head_only, now);
	} else if (plen == 1) {
		conn_text(h, c, 200, "", index_text, head_only, now);
	} else {
		conn_text(h, c, 404, "", "not found: the metrics are at /metrics\n", head_only,
			  now);
	}
	return;
bad:
	conn_text(h, c, 400, "", "bad request\n", false, now);
}

/* Reads and drops what the client sends until it closes (CONN_DRAIN). */
static void conn_drain(struct metrics_http *h, struct conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		conn_close(h, c);
		return;
	}
}

static void conn_write(struct metrics_http *h, struct conn *c, uint64_t now)
{
	size_t total = c->head_len + c->out_len;
	uint64_t linger;

	while (c->sent < total) {
		struct iovec iov[2];
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 0 };
		ssize_t n;

		if (c->sent < c->head_len) {
			iov[m.msg_iovlen++] = (struct iovec){ c->head + c->sent,
							      c->head_len - c->sent };
			iov[m.msg_iovlen++] = (struct iovec){ (char *)c->out, c->out_len };
		} else {
			size_t off = c->sent - c->head_len;

			iov[m.msg_iovlen++] = (struct iovec){ (char *)c->out + off,
							      c->out_len - off };
		}
		/* MSG_NOSIGNAL: a client gone away must not SIGPIPE the tracer */
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			conn_close(h, c);
			return;
		}
		c->sent += n;
	}
	body_put(h, c->body);
	c->body = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
	linger = now + HTTP_LINGER_MS;
	if (linger < c->deadline)
		c->deadline = linger;
	conn_drain(h, c);
}

/* Reads the request; answers once it is complete, or too large. */
static void conn_read(struct metrics_http *h, struct conn *c, uint64_t now)
{
	while (c->state == CONN_READ) {
		size_t old = c->in_len, hlen;
		ssize_t n;

		if (old == sizeof(c->in)) {
			conn_text(h, c, 431, "", "request head over " STR(HTTP_HEAD_MAX) " bytes\n",
				  false, now);
			break;
		}
		n = recv(c->fd, c->in + old, sizeof(c->in) - old, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(h, c);
			return;
		}
		c->in_len += n;
		hlen = head_end(c->in, old, c->in_len);
		if (hlen)
			conn_request(h, c, hlen, now);
	}
	conn_write(h, c, now);
}

static void conn_ready(struct metrics_http *h, struct conn *c, uint64_t now)
{
	switch (c->state) {
	case CONN_READ:
		conn_read(h, c, now);
		break;
	case CONN_WRITE:
		conn_write(h, c, now);
		break;
	case CONN_DRAIN:
		conn_drain(h, c);
		break;
	case CONN_FREE:
		break;
	}
}

/*
 * The slot a new connection takes: a free one, else the oldest connection
 * already answered (draining), else the oldest that has not sent a complete
 * request. NULL when every slot is writing a response: those are bounded by
 * their deadline, and the newcomer waits in the backlog for one to finish.
 */
static struct conn *conn_slot(struct metrics_http *h)
{
	struct conn *victim = NULL;

	for (unsigned int i = 0; i < h->o.max_conns; i++) {
		struct conn *c = &h->conns[i];

		if (c->state == CONN_FREE)
			return c;
		if (c->state == CONN_WRITE)
			continue;
		if (!victim || (c->state == CONN_DRAIN && victim->state == CONN_READ) ||
		    (c->state == victim->state && c->seq < victim->seq))
			victim = c;
	}
	return victim;
}

static void accept_some(struct metrics_http *h, uint64_t now)
{
	for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		struct conn *c = conn_slot(h);
		int fd;

		if (!c)
			return;
		fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* out of fds or memory: the socket stays readable, so rest, not spin */
			if (errno != EAGAIN)
				h->accept_pause = now + HTTP_ACCEPT_PAUSE_MS;
			return;
		}
		if (c->state != CONN_FREE)
			conn_close(h, c);
		c->fd = fd;
		c->state = CONN_READ;
		c->seq = ++h->seq;
		c->deadline = now + h->o.read_ms;
		c->in_len = 0;
		/* a scraper sends its request with the connect: usually it is here already */
		conn_read(h, c, now);
	}
}

static void *serve(void *arg)
{
	struct metrics_http *h = arg;

	for (;;) {
		uint64_t now = now_ms(), next = UINT64_MAX;
		nfds_t n = 0, first;
		int timeout;

		h->pfd[n++] = (struct pollfd){ .fd = h->wake, .events = POLLIN };
		if (now >= h->accept_pause && conn_slot(h))
			h->pfd[n++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		else if (now < h->accept_pause)
			next = h->accept_pause;
		first = n;
		for (unsigned int i = 0; i < h->o.max_conns; i++) {
			struct conn *c = &h->conns[i];

			if (c->state == CONN_FREE)
				continue;
			if (c->deadline <= now) {
				conn_close(h, c);
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			h->pconn[n] = c;
			h->pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = c->state == CONN_WRITE ? POLLOUT : POLLIN,
			};
		}
		if (next == UINT64_MAX)
			timeout = -1;
		else
			timeout = next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
		if (poll(h->pfd, n, timeout) < 0) {
			/* signals are blocked here: only ENOMEM, which a pause may cure */
			if (errno != EINTR)
				usleep(10000);
			continue;
		}
		if (h->pfd[0].revents)
			break;
		now = now_ms();
		/*
		 * The connections before the listening socket: a request that is here
		 * already is read before a new connection could evict its sender.
		 */
		for (nfds_t i = first; i < n; i++)
			if (h->pfd[i].revents)
				conn_ready(h, h->pconn[i], now);
		if (first == 2 && h->pfd[1].revents)
			accept_some(h, now);
	}
	for (unsigned int i = 0; i < h->o.max_conns; i++)
		if (h->conns[i].state != CONN_FREE)
			conn_close(h, &h->conns[i]);
	return NULL;
}

static void http_free(struct metrics_http *h)
{
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->wake >= 0)
		close(h->wake);
	free(h->cur);
	free(h->conns);
	free(h->pfd);
	free(h->pconn);
	free(h);
}

struct metrics_http *metrics_http_start_opts(const struct sockaddr_storage *addr,
					     const struct metrics_http_opts *opts, char *err,
					     size_t errlen)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	socklen_t alen = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						     : sizeof(struct sockaddr_in);
	struct sockaddr_storage bound;
	const char *what = NULL;
	sigset_t all, old;
	int one = 1, e;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	h->lfd = h->wake = -1;
	if (opts)
		h->o = *opts;
	if (!h->o.max_conns)
		h->o.max_conns = HTTP_MAX_CONNS_DEFAULT;
	if (!h->o.read_ms)
		h->o.read_ms = HTTP_READ_MS_DEFAULT;
	if (!h->o.write_ms)
		h->o.write_ms = HTTP_WRITE_MS_DEFAULT;
	h->conns = calloc(h->o.max_conns, sizeof(*h->conns));
	h->pfd = calloc(h->o.max_conns + 2, sizeof(*h->pfd));
	h->pconn = calloc(h->o.max_conns + 2, sizeof(*h->pconn));
	if (!h->conns || !h->pfd || !h->pconn) {
		errno = ENOMEM;
		what = "memory for the connections";
		goto fail;
	}
	if (addr->ss_family != AF_INET && addr->ss_family != AF_INET6) {
		errno = EAFNOSUPPORT;
		what = "address";
		goto fail;
	}
	h->lfd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0) {
		what = "socket";
		goto fail;
	}
	/*
	 * SO_REUSEADDR: this server closes first, so a restarted portlife finds
	 * the port's last connections in TIME_WAIT and would not get it back for
	 * a minute. Never SO_REUSEPORT: a second instance must fail, not share.
	 */
	if (setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) {
		what = "SO_REUSEADDR";
		goto fail;
	}
	/* no prefix for bind: its errno (address in use, not a local address) is the story */
	if (bind(h->lfd, (const struct sockaddr *)addr, alen))
		goto fail;
	if (listen(h->lfd, HTTP_BACKLOG)) {
		what = "listen";
		goto fail;
	}
	alen = sizeof(bound);
	if (getsockname(h->lfd, (struct sockaddr *)&bound, &alen)) {
		what = "getsockname";
		goto fail;
	}
	h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						    : ((struct sockaddr_in *)&bound)->sin_port);
	h->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->wake < 0) {
		what = "eventfd";
		goto fail;
	}
	for (unsigned int i = 0; i < h->o.max_conns; i++)
		h->conns[i].fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	/*
	 * The thread takes no signals: SIGINT and SIGTERM must reach the
	 * tracer's thread, whose poll() they interrupt.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&h->thread, NULL, serve, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_mutex_destroy(&h->lock);
		errno = e;
		what = "thread";
		goto fail;
	}
	return h;
fail:
	e = errno;
	if (what)
		snprintf(err, errlen, "%s: %s", what, strerror(e));
	else
		snprintf(err, errlen, "%s", strerror(e));
	http_free(h);
	errno = e;
	return NULL;
}

struct metrics_http *metrics_http_start(const struct sockaddr_storage *addr, char *err,
					size_t errlen)
{
	return metrics_http_start_opts(addr, NULL, err, errlen);
}

unsigned short metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}

void metrics_http_publish(struct metrics_http *h, const char *buf, size_t len)
{
	struct body *b, *old;

	if (!h)
		return;
	/* out of memory: the last text stays up, and the next second tries again */
	b = malloc(sizeof(*b) + len);
	if (!b)
		return;
	b->refs = 1;
	b->len = len;
	memcpy(b->text, buf, len);
	pthread_mutex_lock(&h->lock);
	old = h->cur;
	h->cur = b;
	pthread_mutex_unlock(&h->lock);
	body_put(h, old);
}

void metrics_http_stop(struct metrics_http *h)
{
	uint64_t one = 1;

	if (!h)
		return;
	/* an eventfd write of 1 cannot fail short of a counter at its maximum */
	if (write(h->wake, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "portlife: metrics server: cannot wake its thread: %s\n",
			strerror(errno));
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->lock);
	/* every connection is closed: h->cur holds the last reference */
	http_free(h);
}
