// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loadgen: a bounded connect storm on loopback for the portlife benchmark.
 *
 * Every connection takes one ephemeral port (connect() autobind) to one of
 * K listener ports, spread evenly. Run it in its own network namespace with
 * a wide ip_local_port_range and tcp_tw_reuse 0 (bench/run.sh does):
 * TIME_WAIT from earlier runs then never carries over, no timewait socket is
 * taken over (loopback's default, 2, recycled a few hundred of 50k on a slow
 * host), and the host's own settings are left alone.
 *
 * Each connection, on loopback, completes synchronously: connect() returns
 * once the handshake is done, accept() finds it queued, and the closes run
 * the FIN exchange in softirq before close() returns. So a worker can own its
 * listeners and do connect, accept, close, close in a plain loop.
 *
 * Prints one JSON object: the count, the time, the rate, and the lifecycle
 * events the workload must produce, so a tracer's losses can be counted:
 *   (alloc counts the K listeners' explicit binds too: alloc N+K)
 *   client-first close: alloc N, tw_enter N (the client holds the TIME_WAIT),
 *                       release 0 within the run (TIME_WAIT lasts 60 s)
 *   server-first close: alloc N, tw_enter 0 (the TIME_WAIT is on the
 *                       listener's port, which was never allocated), release N
 *   UDP:                alloc N (autobind on connect()), release N
 *
 * With -m: traffic that allocates no port, to measure what a tracer costs
 * the rest of the host. One connection (TCP, or a connected UDP socket) is
 * made first, then COUNT messages of 64 bytes are sent on it and read back,
 * in one thread: on loopback the data is queued for the peer before send()
 * returns. The JSON then counts messages, and the load's CPU per message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 256
#define MAX_THREADS 8

static struct {
	unsigned long count;
	int ports;
	int base_port;
	int threads;
	bool ipv6;
	bool udp;
	bool server_first;
	bool hold;
	bool msgs;
} opt = { .count = 20000, .ports = 16, .base_port = 20000, .threads = 1 };

struct worker {
	pthread_t th;
	int idx;
	unsigned long count;	/* connections to make */
	unsigned long done;
	int nlisten;
	int lfd[MAX_PORTS];
	int lport[MAX_PORTS];
	int err;		/* errno of the first failure */
	const char *what;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: loadgen [-n COUNT] [-k PORTS] [-b BASE] [-t THREADS] [-6] [-u] [-S] [-m]\n"
		"  -n COUNT    connections in total (default 20000, at most 10000000)\n"
		"  -k PORTS    listener ports to spread them over (default 16, 1 to %d)\n"
		"  -b BASE     first listener port (default 20000)\n"
		"  -t THREADS  worker threads (default 1, at most %d; at most PORTS)\n"
		"  -6          IPv6 (::1) instead of IPv4 (127.0.0.1)\n"
		"  -u          UDP: connect()ed sockets, autobind, one send each\n"
		"  -S          TCP: the server closes first (the client gets no TIME_WAIT)\n"
		"  -W          after printing, wait for SIGTERM/SIGINT before exiting\n"
		"  -m          COUNT 64-byte messages on one connection instead (no port\n"
		"              allocated per message: the cost to unrelated traffic)\n"
		"Prints one JSON object. Run it in its own network namespace.\n",
		MAX_PORTS, MAX_THREADS);
}

static long parse_num(const char *s, const char *name, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "loadgen: bad %s '%s': give a number from %ld to %ld\n", name, s,
			lo, hi);
		exit(2);
	}
	return v;
}

static socklen_t mkaddr(struct sockaddr_storage *ss, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (opt.ipv6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof(*a);
}

static int fail(struct worker *w, const char *what)
{
	if (!w->err) {
		w->err = errno;
		w->what = what;
	}
	return -1;
}

static int one_tcp(struct worker *w, int i)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, w->lport[i]);
	int c, s;

	c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return fail(w, "socket");
	if (connect(c, (struct sockaddr *)&ss, len)) {
		close(c);
		return fail(w, "connect");
	}
	s = accept4(w->lfd[i], NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		close(c);
		return fail(w, "accept");
	}
	if (opt.server_first) {
		close(s);
		close(c);
	} else {
		close(c);
		close(s);
	}
	return 0;
}

static int one_udp(struct worker *w, int i)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, w->lport[i]);
	char buf[16] = "portlife-bench";
	int c;

	c = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return fail(w, "socket");
	if (connect(c, (struct sockaddr *)&ss, len) || send(c, buf, sizeof(buf), 0) < 0) {
		close(c);
		return fail(w, "connect/send");
	}
	close(c);
	/* keep the receiver's queue from filling: the datagram is not the point */
	while (recv(w->lfd[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	return 0;
}

/* -m: one connection, then count messages over it, each sent and read back. */
static int messages(struct worker *w)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, w->lport[0]);
	char buf[64] = "portlife-bench";
	int c, s = -1;

	c = socket(ss.ss_family, (opt.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (c < 0)
		return fail(w, "socket");
	if (connect(c, (struct sockaddr *)&ss, len)) {
		close(c);
		return fail(w, "connect");
	}
	s = opt.udp ? w->lfd[0] : accept4(w->lfd[0], NULL, NULL, SOCK_CLOEXEC);
	if (s < 0) {
		close(c);
		return fail(w, "accept");
	}
	for (; w->done < w->count; w->done++) {
		if (send(c, buf, sizeof(buf), 0) != sizeof(buf) ||
		    recv(s, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf)) {
			fail(w, "send/recv");
			break;
		}
	}
	if (!opt.udp)
		close(s);
	close(c);
	return w->err ? -1 : 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (unsigned long n = 0; n < w->count; n++) {
		int i = n % w->nlisten;

		if ((opt.udp ? one_udp(w, i) : one_tcp(w, i)))
			break;
		w->done++;
	}
	return NULL;
}

static int listen_on(int port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, port);
	int one = 1, fd;

	fd = socket(ss.ss_family, (opt.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || (!opt.udp && listen(fd, 128))) {
		close(fd);
		return -1;
	}
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* user + system CPU seconds of the whole process (every thread) */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	unsigned long done = 0, alloc, tw, rel;
	sigset_t sigs;
	double t0, secs, cpu0, cpu;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "n:k:b:t:6uSWmh")) != -1) {
		switch (c) {
		case 'n': opt.count = parse_num(optarg, "count", 1, 10000000); break;
		case 'k': opt.ports = parse_num(optarg, "ports", 1, MAX_PORTS); break;
		case 'b': opt.base_port = parse_num(optarg, "base port", 1, 65535 - MAX_PORTS); break;
		case 't': opt.threads = parse_num(optarg, "threads", 1, MAX_THREADS); break;
		case '6': opt.ipv6 = true; break;
		case 'u': opt.udp = true; break;
		case 'S': opt.server_first = true; break;
		case 'W': opt.hold = true; break;
		case 'm': opt.msgs = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (opt.msgs) {
		/* one connection to one listener, in one thread */
		opt.ports = 1;
		opt.threads = 1;
	}
	if (optind < argc || opt.threads > opt.ports) {
		usage(stderr);
		return 2;
	}

	/* worker t owns listener ports t, t+T, t+2T, ...: it accepts only its own */
	for (int p = 0; p < opt.ports; p++) {
		struct worker *x = &w[p % opt.threads];
		int fd = listen_on(opt.base_port + p);

		if (fd < 0) {
			fprintf(stderr, "loadgen: cannot listen on port %d: %s\n", opt.base_port + p,
				strerror(errno));
			return 1;
		}
		x->lfd[x->nlisten] = fd;
		x->lport[x->nlisten++] = opt.base_port + p;
	}
	for (int t = 0; t < opt.threads; t++) {
		w[t].idx = t;
		w[t].count = opt.count / opt.threads + ((unsigned long)t < opt.count % opt.threads);
	}

	if (opt.hold) {
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGTERM);
		sigaddset(&sigs, SIGINT);
		pthread_sigmask(SIG_BLOCK, &sigs, NULL);	/* the threads inherit it */
	}
	/*
	 * The load's own CPU time: on a shared machine the wall-clock rate
	 * swings with the neighbours, while the CPU a connection costs (the BPF
	 * programs run in the load's context and are charged to it) does not.
	 */
	cpu0 = cpu_s();
	t0 = now_s();
	if (opt.msgs) {
		messages(&w[0]);
	} else if (opt.threads == 1) {
		work(&w[0]);
	} else {
		for (int t = 0; t < opt.threads; t++)
			if (pthread_create(&w[t].th, NULL, work, &w[t])) {
				fprintf(stderr, "loadgen: cannot start a thread\n");
				return 1;
			}
		for (int t = 0; t < opt.threads; t++)
			pthread_join(w[t].th, NULL);
	}
	secs = now_s() - t0;
	cpu = cpu_s() - cpu0;

	for (int t = 0; t < opt.threads; t++) {
		done += w[t].done;
		if (w[t].err) {
			fprintf(stderr, "loadgen: worker %d: %s failed after %lu: %s\n", t,
				w[t].what, w[t].done, strerror(w[t].err));
			rc = 1;
		}
	}
	if (opt.msgs) {
		printf("{\"proto\":\"%s\",\"family\":%d,\"load\":\"messages\",\"pid\":%d,"
		       "\"msgs\":%lu,\"seconds\":%.6f,\"msgs_per_s\":%.1f,\"cpu_s\":%.6f,"
		       "\"cpu_us_per_msg\":%.4f}\n",
		       opt.udp ? "udp" : "tcp", opt.ipv6 ? 6 : 4, (int)getpid(), done, secs,
		       secs > 0 ? done / secs : 0.0, cpu, done ? cpu * 1e6 / done : 0.0);
		goto out;
	}
	alloc = done + opt.ports;	/* + the listeners' explicit binds */
	tw = (!opt.udp && !opt.server_first) ? done : 0;
	rel = (opt.udp || opt.server_first) ? done : 0;
	printf("{\"proto\":\"%s\",\"family\":%d,\"close\":\"%s\",\"threads\":%d,\"ports\":%d,"
	       "\"pid\":%d,\"conns\":%lu,\"seconds\":%.6f,\"conns_per_s\":%.1f,"
	       "\"cpu_s\":%.6f,\"cpu_us_per_conn\":%.3f,"
	       "\"expected\":{\"alloc\":%lu,\"tw_enter\":%lu,\"release\":%lu}}\n",
	       opt.udp ? "udp" : "tcp", opt.ipv6 ? 6 : 4,
	       opt.udp ? "none" : opt.server_first ? "server" : "client", opt.threads, opt.ports,
	       (int)getpid(), done, secs, secs > 0 ? done / secs : 0.0, cpu,
	       done ? cpu * 1e6 / done : 0.0, alloc, tw, rel);
out:
	fflush(stdout);
	if (opt.hold) {
		int sig;

		/*
		 * Stay alive (listeners open, netns held) until the tracer is done:
		 * a tracer in tracepoint mode finds the netns through this process.
		 */
		sigwait(&sigs, &sig);
	}
	return rc;
}
