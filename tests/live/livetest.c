// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Live tests: run the real portlife against sockets this program opens, and
 * check what portlife reported against what the kernel really did (ports
 * from getsockname(), errnos from connect()/bind(), our own pids).
 *
 *   livetest [--mode MODE] PORTLIFE [SCENARIO...]
 *
 * Each scenario runs in a child process; the ones that touch sysctls first
 * move it into a network namespace of its own. portlife traces with -p CHILD
 * --json into a file. Needs root. Self-contained (no libbpf) so it can run in
 * a minimal VM.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/bpf.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXP 1024

static const char *portlife;
static const char *mode;	/* --mode for portlife, or NULL for its default */
static bool no_pid_filter;	/* start() without -p CHILD */
static char tmpdir[] = "/tmp/portlife-live.XXXXXX";
static int passed, failed;
static char failmsg[512];

/* ---- what the child did --------------------------------------------- */

struct result {
	int nports;
	unsigned short ports[MAXP];	/* client ports from getsockname() */
	unsigned short listen_port;
	unsigned short bound_port;
	int fail_errno;			/* the errno the scenario provoked */
	int nsucc;
	/* j_workload / l_tw_reasons */
	int nports6;
	unsigned short ports6[64];	/* IPv6 client ports, passive close */
	long long conn_ns[MAXP];	/* connect() syscall time of ports[i] */
	long long conn6_ns[64];
	unsigned short udp_bound, udp_auto;
	int nreuse, nrst, nexpire;
	unsigned short reuse[16], rst[16], expire[16];
	int other_pid;			/* v_netns_gone: the process that made the ports */
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- small helpers --------------------------------------------------- */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(failmsg, sizeof(failmsg), fmt, ap);
	va_end(ap);
	return -1;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (int)strlen(s) ? 0 : -EIO;
}

/* New network namespace with lo up (IPv4 127.0.0.1 and IPv6 ::1). */
static int own_netns(void)
{
	struct ifreq ifr = {};
	int fd;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static socklen_t mkaddr(struct sockaddr_storage *ss, int family, unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (void *)ss;

	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s4->sin_port = htons(port);
	return sizeof(*s4);
}

static unsigned short sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (void *)&ss, &len))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						((struct sockaddr_in *)&ss)->sin_port);
}

static int listener(int family, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, family, port);
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&ss, len) || listen(fd, 1024)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_to(int family, unsigned short port, int reuse, unsigned short bind_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind_port) {
		len = mkaddr(&ss, family, bind_port);
		if (bind(fd, (void *)&ss, len)) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	len = mkaddr(&ss, family, port);
	if (connect(fd, (void *)&ss, len)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---- scenarios (run in the child) ------------------------------------ */

/* a/b: 200 connects; the server closes first so the client ports are freed at once. */
static int sc_connects(struct result *r, int family)
{
	int lfd = listener(family, 0);

	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < 200; i++) {
		int c = connect_to(family, r->listen_port, 0, 0), a;
		char b;

		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(lfd, NULL, NULL);
		if (a < 0)
			return -errno;
		close(a);
		/* wait for the server's FIN: the client closes passively (no TIME_WAIT) */
		if (read(c, &b, 1) != 0)
			return -EPROTO;
		close(c);
	}
	close(lfd);
	return 0;
}

static int sc_v4(struct result *r) { return sc_connects(r, AF_INET); }
static int sc_v6(struct result *r) { return sc_connects(r, AF_INET6); }

/*
 * A loopback listener and n connections to it that the client closes first:
 * their ports go to TIME_WAIT (recorded in r->ports). Returns the listener.
 */
static int tw_listener(struct result *r, int n, int reuse)
{
	int lfd = listener(AF_INET, 0);

	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < n; i++) {
		int c = connect_to(AF_INET, r->listen_port, reuse, 0), a;

		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(lfd, NULL, NULL);
		if (a < 0)
			return -errno;
		close(c);	/* active close: FIN_WAIT1 -> FIN_WAIT2 */
		close(a);	/* peer's FIN: the client enters TIME_WAIT */
	}
	return lfd;
}

/*
 * c: the client closes first: its ports go to TIME_WAIT. Then end TIME_WAIT
 * early the way production does: tcp_tw_reuse lets a connect() with the same
 * 4-tuple take the timewait socket over (needs a second of age).
 */
static int sc_timewait(struct result *r)
{
	int lfd, fds[20], err;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "1")))
		return err;
	if ((lfd = tw_listener(r, 20, 1)) < 0)
		return lfd;
	/* Let portlife's snapshots see them, and let tcp_tw_reuse's 1 s pass. */
	sleep_ms(2500);
	for (int i = 0; i < 20; i++) {
		fds[i] = connect_to(AF_INET, r->listen_port, 1, r->ports[i]);
		if (fds[i] < 0)
			return fds[i];
	}
	for (int i = 0; i < 20; i++) {
		int a = accept(lfd, NULL, NULL);

		if (a >= 0)
			rst_close(a);
		rst_close(fds[i]);	/* RST: no second TIME_WAIT */
	}
	close(lfd);
	sleep_ms(2000);
	return 0;
}

/* i: tcp_max_tw_buckets 5: of 15 active closes, 10 make no TIME_WAIT socket. */
static int sc_tw_overflow(struct result *r)
{
	int lfd, err;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/tcp_max_tw_buckets", "5")))
		return err;
	if ((lfd = tw_listener(r, 15, 0)) < 0)
		return lfd;
	close(lfd);
	sleep_ms(1500);
	return 0;
}

/*
 * j: one workload for every mode: IPv4 connects closed actively (TIME_WAIT),
 * IPv6 connects closed passively, bind(0)+listen, a UDP bind(0) and a UDP
 * autobind. Each connect() is timed: the allocation latency portlife reports
 * must fit inside it.
 */
static int sc_workload(struct result *r)
{
	int l4, l6, u1, u2, err;
	struct sockaddr_storage ss;
	socklen_t len;

	if ((err = own_netns()))
		return err;
	l4 = listener(AF_INET, 0);
	l6 = listener(AF_INET6, 0);
	if (l4 < 0 || l6 < 0)
		return -errno;
	r->listen_port = sock_port(l4);
	r->bound_port = sock_port(l6);	/* the v6 listener: a bind(0) + listen */
	for (int i = 0; i < 5; i++) {
		long long t0 = now_ns();
		int c = connect_to(AF_INET, r->listen_port, 0, 0), a;

		r->conn_ns[r->nports] = now_ns() - t0;
		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(l4, NULL, NULL);
		close(c);	/* active close: TIME_WAIT */
		close(a);
	}
	for (int i = 0; i < 5; i++) {
		long long t0 = now_ns();
		int c = connect_to(AF_INET6, r->bound_port, 0, 0), a;
		char b;

		r->conn6_ns[r->nports6] = now_ns() - t0;
		if (c < 0)
			return c;
		r->ports6[r->nports6++] = sock_port(c);
		a = accept(l6, NULL, NULL);
		close(a);	/* the server closes first */
		if (read(c, &b, 1) != 0)
			return -EPROTO;
		close(c);
	}
	u1 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	if (bind(u1, (void *)&ss, len))
		return -errno;
	r->udp_bound = sock_port(u1);
	u2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, r->udp_bound);
	if (sendto(u2, "x", 1, 0, (void *)&ss, len) != 1)	/* autobind */
		return -errno;
	r->udp_auto = sock_port(u2);
	close(u1);
	close(u2);
	close(l6);
	close(l4);
	sleep_ms(1200);	/* a TIME_WAIT snapshot or two, in tracepoint mode */
	return 0;
}

/* Internet checksum over a pseudo header and the TCP header. */
static unsigned short tcp_csum(unsigned saddr, unsigned daddr, const void *tcp, int len)
{
	const unsigned short *p = tcp;
	unsigned long sum = 0;

	sum += (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff);
	sum += htons(IPPROTO_TCP) + htons(len);
	for (int i = 0; i < len / 2; i++)
		sum += p[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* An in-window RST from (sport) to (dport) on loopback: TIME_WAIT assassination. */
static int send_rst(unsigned short sport, unsigned short dport, unsigned seq)
{
	struct { struct iphdr ip; struct tcphdr tcp; } pkt = {};
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), n;

	if (fd < 0)
		return -errno;
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_TCP;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.saddr = htonl(INADDR_LOOPBACK);
	pkt.ip.daddr = htonl(INADDR_LOOPBACK);
	pkt.tcp.source = htons(sport);
	pkt.tcp.dest = htons(dport);
	pkt.tcp.seq = htonl(seq);
	pkt.tcp.doff = 5;
	pkt.tcp.rst = 1;
	pkt.tcp.check = tcp_csum(pkt.ip.saddr, pkt.ip.daddr, &pkt.tcp, sizeof(pkt.tcp));
	n = sendto(fd, &pkt, sizeof(pkt), 0, (void *)&dst, sizeof(dst));
	close(fd);
	return n == (int)sizeof(pkt) ? 0 : -EIO;
}

/* The sequence number of the next byte sk sends (its FIN, if it sends no data). */
static int write_seq(int fd, unsigned *seq)
{
	int on = 1, off = 0, q = TCP_SEND_QUEUE;
	socklen_t len = sizeof(*seq);

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)))
		return -errno;
	return 0;
}

/*
 * l: three sets of TIME_WAIT sockets, ended three ways: taken over by a
 * connect() with the same 4-tuple (tcp_tw_reuse), assassinated by an in-window
 * RST, and left to expire (60 s).
 */
static int sc_tw_reasons(struct result *r)
{
	unsigned seqs[16];
	int lfd, err, fds[16];

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "1")))
		return err;
	lfd = listener(AF_INET, 0);
	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < 12; i++) {
		int c = connect_to(AF_INET, r->listen_port, 1, 0), a;
		unsigned short p;

		if (c < 0)
			return c;
		p = sock_port(c);
		a = accept(lfd, NULL, NULL);
		if (a < 0)
			return -errno;
		if (i < 4) {
			r->reuse[r->nreuse++] = p;
		} else if (i < 8) {
			if ((err = write_seq(a, &seqs[r->nrst])))
				return err;
			r->rst[r->nrst++] = p;
		} else {
			r->expire[r->nexpire++] = p;
		}
		close(c);
		close(a);
	}
	sleep_ms(1500);	/* tcp_tw_reuse wants the timewait socket a second old */
	for (int i = 0; i < r->nrst; i++)
		if ((err = send_rst(r->listen_port, r->rst[i], seqs[i] + 1)))
			return err;
	for (int i = 0; i < r->nreuse; i++) {
		fds[i] = connect_to(AF_INET, r->listen_port, 1, r->reuse[i]);
		if (fds[i] < 0)
			return fds[i];
	}
	for (int i = 0; i < r->nreuse; i++) {
		int a = accept(lfd, NULL, NULL);

		if (a >= 0)
			rst_close(a);
		rst_close(fds[i]);
	}
	/* TCP_TIMEWAIT_LEN is 60 s; the timer wheel may add up to an eighth. */
	for (int t = 0; t < 75; t++) {
		sleep_ms(1000);
		if (!access("/proc/net/tcp", R_OK)) {
			char line[512];
			int tw = 0;
			FILE *f = fopen("/proc/net/tcp", "r");

			while (f && fgets(line, sizeof(line), f))
				tw += strstr(line, " 06 ") != NULL;	/* st 06: TIME_WAIT */
			if (f)
				fclose(f);
			if (t > 58 && !tw)
				break;
		}
	}
	sleep_ms(1200);
	close(lfd);
	return 0;
}

/* d: a 10-port range; the 11th connect() to one destination fails. */
static int sc_exhaust(struct result *r)
{
	int lfd, err;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")))
		return err;
	lfd = listener(AF_INET, 5000);
	if (lfd < 0)
		return -errno;
	r->listen_port = 5000;
	for (int i = 0; i < 30; i++) {
		int c = connect_to(AF_INET, 5000, 0, 0);

		if (c == -EADDRNOTAVAIL) {
			r->fail_errno = EADDRNOTAVAIL;
			return 0;
		}
		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		r->nsucc++;	/* kept open: the range fills up */
	}
	return -ENOSPC;	/* never failed: the range was not honoured */
}

/* e: a second bind() to a held port fails with EADDRINUSE. */
static int sc_bind_conflict(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int a, b, err;

	if ((err = own_netns()))
		return err;
	a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	if (bind(a, (void *)&ss, len))
		return -errno;
	r->bound_port = sock_port(a);
	if (listen(a, 16))
		return -errno;
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, r->bound_port);
	if (!bind(b, (void *)&ss, len))
		return -EEXIST;	/* the kernel let both have it?! */
	r->fail_errno = errno;
	close(b);
	close(a);
	return 0;
}

/* f: a process name made to break JSON and terminals. */
static const char hostile[] = "\"\\\n\x1b[31m\xff\xc3x";

static int sc_hostile(struct result *r)
{
	int lfd, c;

	prctl(PR_SET_NAME, hostile);
	lfd = listener(AF_INET, 0);
	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	c = connect_to(AF_INET, r->listen_port, 0, 0);
	if (c < 0)
		return c;
	r->ports[r->nports++] = sock_port(c);
	rst_close(c);
	close(lfd);
	return 0;
}

/* g: traffic while portlife gets SIGTERM. */
static int sc_sigterm(struct result *r)
{
	return sc_connects(r, AF_INET);
}

/* ---- running portlife and a child ------------------------------------ */

struct run {
	pid_t child, tracer;
	int go[2], res[2];
	char out[256], err[256];
	struct result r;
	int child_err;
	int tracer_status;
	char **lines;
	int nlines;
};

static void read_lines(struct run *run)
{
	FILE *f = fopen(run->out, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	run->nlines = 0;
	run->lines = NULL;
	if (!f)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		run->lines = realloc(run->lines, (run->nlines + 1) * sizeof(char *));
		run->lines[run->nlines++] = strdup(line);
	}
	free(line);
	fclose(f);
}

static bool file_has(const char *path, const char *needle)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, needle) != NULL;
}

static int start(struct run *run, int (*fn)(struct result *), const char *name, char *const extra[])
{
	char pidbuf[16];
	char *argv[32];
	int i = 0;

	memset(run, 0, sizeof(*run));
	snprintf(run->out, sizeof(run->out), "%s/%s.out", tmpdir, name);
	snprintf(run->err, sizeof(run->err), "%s/%s.err", tmpdir, name);
	if (pipe(run->go) || pipe(run->res))
		return fail("pipe: %s", strerror(errno));
	run->child = fork();
	if (run->child == 0) {
		char c;

		close(run->go[1]);
		close(run->res[0]);
		if (read(run->go[0], &c, 1) != 1)
			_exit(1);
		memset(&run->r, 0, sizeof(run->r));
		run->child_err = fn(&run->r);
		if (write(run->res[1], &run->child_err, sizeof(int)) < 0 ||
		    write(run->res[1], &run->r, sizeof(run->r)) < 0)
			_exit(1);
		/* Stay alive (and keep our netns) until portlife has stopped. */
		if (read(run->go[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(run->go[0]);
	close(run->res[1]);

	snprintf(pidbuf, sizeof(pidbuf), "%d", run->child);
	argv[i++] = (char *)portlife;
	/* a subcommand (record) goes first */
	if (extra && extra[0] && !strcmp(extra[0], "record"))
		argv[i++] = *extra++;
	argv[i++] = "--json";
	if (!no_pid_filter) {
		argv[i++] = "-p";
		argv[i++] = pidbuf;
	}
	argv[i++] = "--tw-interval";
	argv[i++] = "0.5";
	if (mode) {
		argv[i++] = "--mode";
		argv[i++] = (char *)mode;
	}
	for (int k = 0; extra && extra[k] && i < 30; k++)
		argv[i++] = extra[k];
	argv[i] = NULL;
	run->tracer = fork();
	if (run->tracer == 0) {
		int o = open(run->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(run->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(o, 1);
		dup2(e, 2);
		execv(portlife, argv);
		_exit(127);
	}
	/* portlife prints its start line once every program is attached. */
	for (int t = 0; t < 600; t++) {
		int st;

		if (file_has(run->out, "\"event\":\"start\""))
			return 0;
		if (waitpid(run->tracer, &st, WNOHANG) == run->tracer) {
			run->tracer = 0;
			return fail("portlife exited before starting (status %d); stderr in %s", st,
				    run->err);
		}
		sleep_ms(50);
	}
	return fail("portlife did not start in 30 s; stderr in %s", run->err);
}

/* Let the child run its scenario; collect what it did. */
static int drive(struct run *run)
{
	struct pollfd p = { .fd = run->res[0], .events = POLLIN };

	if (write(run->go[1], "g", 1) != 1)
		return fail("cannot start the child");
	if (poll(&p, 1, 150000) != 1 || read(run->res[0], &run->child_err, sizeof(int)) != sizeof(int) ||
	    read(run->res[0], &run->r, sizeof(run->r)) != sizeof(run->r))
		return fail("the scenario did not report back");
	if (run->child_err)
		return fail("the scenario itself failed: %s", strerror(-run->child_err));
	return 0;
}

static int stop(struct run *run, int settle_ms)
{
	int st = 0;

	sleep_ms(settle_ms);	/* let the 100 ms poll and a snapshot pass */
	if (run->tracer > 0) {
		kill(run->tracer, SIGTERM);
		for (int t = 0; t < 200 && waitpid(run->tracer, &st, WNOHANG) != run->tracer; t++)
			sleep_ms(50);
		if (waitpid(run->tracer, &st, WNOHANG) == 0) {
			kill(run->tracer, SIGKILL);
			waitpid(run->tracer, &st, 0);
			run->tracer_status = -1;
		} else {
			run->tracer_status = st;
		}
	}
	if (run->child > 0) {
		if (write(run->go[1], "x", 1) < 0)
			kill(run->child, SIGKILL);
		close(run->go[1]);	/* a child that has not run yet must not wait for us */
		waitpid(run->child, NULL, 0);
	} else {
		close(run->go[1]);
	}
	close(run->res[0]);
	read_lines(run);
	return 0;
}

static void cleanup(struct run *run)
{
	for (int i = 0; i < run->nlines; i++)
		free(run->lines[i]);
	free(run->lines);
}

/* ---- reading portlife's JSON lines (flat event objects) --------------- */

static const char *jfind(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

static long long jnum(const char *line, const char *key)
{
	const char *p = jfind(line, key);

	return p ? strtoll(p, NULL, 10) : -1;
}

static bool jstr_is(const char *line, const char *key, const char *want)
{
	const char *p = jfind(line, key);
	size_t n = strlen(want);

	return p && *p == '"' && !strncmp(p + 1, want, n) && p[1 + n] == '"';
}

static bool is_event(const char *line, const char *ev)
{
	return jstr_is(line, "event", ev);
}

/* Lines of event ev for lport, owned by pid. */
static int count_ev(struct run *run, const char *ev, int pid, int lport, const char **last)
{
	int n = 0;

	for (int i = 0; i < run->nlines; i++) {
		const char *l = run->lines[i];

		if (!is_event(l, ev) || jnum(l, "pid") != pid || (lport >= 0 && jnum(l, "lport") != lport))
			continue;
		n++;
		if (last)
			*last = l;
	}
	return n;
}

static int count_lease_ev(struct run *run, const char *ev, long long lease, const char **last)
{
	int n = 0;

	for (int i = 0; i < run->nlines; i++) {
		if (is_event(run->lines[i], ev) && jnum(run->lines[i], "lease") == lease) {
			n++;
			if (last)
				*last = run->lines[i];
		}
	}
	return n;
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

static bool j_string(const char **p, char *dec, size_t declen)
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

static bool json_line_ok(const char *line)
{
	const char *p = line;

	if (!j_value(&p, 0))
		return false;
	j_ws(&p);
	return *p == '\0';
}

/* ---- the tests ------------------------------------------------------- */

/* Did portlife run in an exact mode (fentry, kprobe)? From its start line. */
static bool exact_mode(struct run *run)
{
	for (int i = 0; i < run->nlines; i++)
		if (is_event(run->lines[i], "start"))
			return jstr_is(run->lines[i], "mode", "fentry") ||
			       jstr_is(run->lines[i], "mode", "kprobe");
	return false;
}

static int check_connects(struct run *run, int family, const char *raddr, bool want_release)
{
	for (int i = 0; i < run->r.nports; i++) {
		const char *a = NULL, *rel = NULL;
		int port = run->r.ports[i];
		long long lease;

		int want = 0;

		/*
		 * The client closes passively, so a port is free again at once and
		 * the kernel may hand it out twice in one run: one alloc per time
		 * getsockname() returned it.
		 */
		for (int k = 0; k < run->r.nports; k++)
			want += run->r.ports[k] == port;
		if (count_ev(run, "alloc", run->child, port, &a) != want)
			return fail("port %d: %d alloc events for pid %d, want exactly %d", port,
				    count_ev(run, "alloc", run->child, port, NULL), run->child, want);
		if (!jstr_is(a, "kind", "connect") || jnum(a, "rport") != run->r.listen_port ||
		    !jstr_is(a, "raddr", raddr) || jnum(a, "family") != (family == AF_INET6 ? 6 : 4) ||
		    jfind(a, "error"))
			return fail("port %d: wrong alloc: %s", port, a);
		if (jnum(a, "latency_ns") <= 0)
			return fail("port %d: no allocation latency: %s", port, a);
		lease = jnum(a, "lease");
		if (want_release && count_lease_ev(run, "release", lease, &rel) != 1)
			return fail("port %d: lease %lld released %d times, want 1", port, lease,
				    count_lease_ev(run, "release", lease, NULL));
		if (want_release && !jstr_is(rel, "reason", "close"))
			return fail("port %d: release reason: %s", port, rel);
	}
	return 0;
}

static int t_connect(int family)
{
	struct run run;
	int err;

	err = start(&run, family == AF_INET6 ? sc_v6 : sc_v4, family == AF_INET6 ? "b_v6" : "a_v4", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.nports != 200)
		err = fail("the scenario made %d connections, want 200", run.r.nports);
	if (!err)
		err = check_connects(&run, family, family == AF_INET6 ? "::1" : "127.0.0.1", true);
	if (!err && count_ev(&run, "alloc", run.child, -1, NULL) != 201)
		err = fail("%d alloc events for the child, want 201 (200 connects + the listener)",
			   count_ev(&run, "alloc", run.child, -1, NULL));
	cleanup(&run);
	return err;
}

static int t_connect_v4(void) { return t_connect(AF_INET); }
static int t_connect_v6(void) { return t_connect(AF_INET6); }

static int t_timewait(void)
{
	struct run run;
	int err, ntw;

	const char *reused;

	err = start(&run, sc_timewait, "c_timewait", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 1500);
	reused = exact_mode(&run) ? "tw_reused" : "tw_killed";
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *a = NULL, *tw = NULL, *rel = NULL, *ex = NULL;
		int port = run.r.ports[i];
		long long lease;

		if (count_ev(&run, "alloc", run.child, port, NULL) < 1)
			err = fail("port %d: no alloc", port);
		/* the first lease on the port is the connect; the reuse is a bind lease */
		for (int k = 0; !err && k < run.nlines; k++) {
			const char *l = run.lines[k];

			if (is_event(l, "alloc") && jnum(l, "lport") == port && jstr_is(l, "kind", "connect")) {
				a = l;
				break;
			}
		}
		if (!err && !a)
			err = fail("port %d: no connect alloc", port);
		if (err)
			break;
		lease = jnum(a, "lease");
		if (count_lease_ev(&run, "tw_enter", lease, &tw) != 1)
			err = fail("port %d: lease %lld entered TIME_WAIT %d times, want 1", port, lease,
				   count_lease_ev(&run, "tw_enter", lease, NULL));
		else if (jnum(tw, "expires_ns") < 50000000000LL || jnum(tw, "expires_ns") > 61000000000LL)
			err = fail("port %d: TIME_WAIT expiry not ~60 s: %s", port, tw);
		/* only the exact modes can tell a reuse from a kill */
		else if (count_lease_ev(&run, "tw_exit", lease, &ex) != 1 || !jstr_is(ex, "reason", reused))
			err = fail("port %d: TIME_WAIT exit missing or not '%s': %s", port, reused,
				   ex ? ex : "(none)");
		else if (count_lease_ev(&run, "release", lease, &rel) != 1 ||
			 !jstr_is(rel, "reason", reused))
			err = fail("port %d: release missing or wrong: %s", port, rel ? rel : "(none)");
	}
	/* exactly those ports: nothing else of ours entered TIME_WAIT */
	ntw = count_ev(&run, "tw_enter", run.child, -1, NULL);
	if (!err && ntw != run.r.nports)
		err = fail("%d tw_enter events, want %d", ntw, run.r.nports);
	if (!err && run.r.nports != 20)
		err = fail("%d connections, want 20", run.r.nports);
	cleanup(&run);
	return err;
}

static int t_tw_overflow(void)
{
	struct run run;
	int err, ntw, nover = 0;
	const char *tot = NULL;

	err = start(&run, sc_tw_overflow, "i_tw_overflow", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 1200);
	ntw = count_ev(&run, "tw_enter", run.child, -1, NULL);
	for (int i = 0; i < run.nlines; i++) {
		if (is_event(run.lines[i], "release") && jstr_is(run.lines[i], "reason", "tw_overflow") &&
		    jnum(run.lines[i], "pid") == run.child)
			nover++;
		if (is_event(run.lines[i], "totals"))
			tot = run.lines[i];
	}
	if (!err && run.r.nports != 15)
		err = fail("%d connections, want 15", run.r.nports);
	if (!err && ntw != 5)
		err = fail("%d ports entered TIME_WAIT with tcp_max_tw_buckets=5, want 5", ntw);
	if (!err && nover != 10)
		err = fail("%d releases with reason tw_overflow, want 10", nover);
	if (!err && (!tot || jnum(tot, "tw_overflow") != 10))
		err = fail("totals do not count 10 overflows: %s", tot ? tot : "(none)");
	cleanup(&run);
	return err;
}

static int t_exhaust(void)
{
	struct run run;
	const char *a = NULL;
	int err, nfail = 0;

	err = start(&run, sc_exhaust, "d_exhaust", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRNOTAVAIL)
		err = fail("connect() did not fail with EADDRNOTAVAIL");
	if (!err && run.r.nsucc != 10)
		err = fail("%d connects succeeded in a 10-port range", run.r.nsucc);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jstr_is(l, "error", "EADDRNOTAVAIL")) {
			nfail++;
			a = l;
		}
	}
	if (!err && nfail != 1)
		err = fail("%d EADDRNOTAVAIL allocs reported, want 1", nfail);
	if (!err && (jnum(a, "pid") != run.child || jnum(a, "rport") != 5000 ||
		     !jstr_is(a, "kind", "connect") || jnum(a, "errno") != EADDRNOTAVAIL))
		err = fail("wrong failure event (child %d): %s", run.child, a);
	if (!err)
		err = check_connects(&run, AF_INET, "127.0.0.1", false);
	cleanup(&run);
	return err;
}

static int t_bind_conflict(void)
{
	struct run run;
	const char *a = NULL, *ok = NULL;
	int err;

	err = start(&run, sc_bind_conflict, "e_bind", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the second bind failed with %d, not EADDRINUSE", run.r.fail_errno);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jstr_is(l, "error", "EADDRINUSE"))
			a = l;
		else if (is_event(l, "alloc") && jnum(l, "lport") == run.r.bound_port)
			ok = l;
	}
	if (!err && !a)
		err = fail("no EADDRINUSE alloc event");
	if (!err && (jnum(a, "pid") != run.child || jnum(a, "lport") != run.r.bound_port ||
		     !jstr_is(a, "kind", "bind")))
		err = fail("wrong EADDRINUSE event (child %d, port %d): %s", run.child,
			   run.r.bound_port, a);
	if (!err && (!ok || !jstr_is(ok, "kind", "bind_ephemeral") || jnum(ok, "pid") != run.child))
		err = fail("the first bind(0) was not reported as bind_ephemeral: %s", ok ? ok : "(none)");
	if (!err) {
		long long lease = jnum(ok, "lease");
		const char *rel = NULL;

		if (count_lease_ev(&run, "release", lease, &rel) != 1)
			err = fail("the listener's port was not released once");
	}
	cleanup(&run);
	return err;
}

static int t_hostile_json(void)
{
	struct run run;
	char cmd[1024], want[64] = "", got[256] = "";
	FILE *f;
	int err;

	err = start(&run, sc_hostile, "f_hostile", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && check_connects(&run, AF_INET, "127.0.0.1", true))
		err = -1;
	if (err)
		goto out;
	/* The parser itself must reject what jq would. */
	static const char *bad[] = { "{\"a\":\"\x01\"}", "{\"a\":1,}", "\"\xff\"", "{\"a\":\"\\x\"}",
				     "{\"a\":01}", "{\"a\":1} x", "{\"a\":\"\xc0\xaf\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (json_line_ok(bad[i])) {
			err = fail("the test's JSON parser accepts bad input #%zu", i);
			goto out;
		}
	}
	if (!json_line_ok("{\"a\":[1,-2.5e3,true,null,\"\\u00e9\\n\xc3\xa9\"],\"b\":{}}")) {
		err = fail("the test's JSON parser rejects good input");
		goto out;
	}
	/* Every line must parse, with our strict parser and, where installed, jq. */
	for (int i = 0; i < run.nlines; i++) {
		if (!json_line_ok(run.lines[i])) {
			err = fail("line %d is not valid JSON: %s", i + 1, run.lines[i]);
			goto out;
		}
	}
	snprintf(cmd, sizeof(cmd), "command -v jq >/dev/null 2>&1 || exit 0; "
		 "jq -e -s 'length > 0' %s > /dev/null 2>&1", run.out);
	if (system(cmd) != 0) {
		err = fail("jq rejects portlife's JSON output (%s)", run.out);
		goto out;
	}
	/* Read the name back: the kernel keeps 15 bytes; bad UTF-8 becomes U+FFFD. */
	for (int i = 0; i < run.nlines; i++) {
		const char *l = run.lines[i], *c;

		if (is_event(l, "alloc") && jstr_is(l, "kind", "connect") &&
		    jnum(l, "pid") == run.child && (c = jfind(l, "comm")))
			j_string(&c, got, sizeof(got));
	}
	snprintf(want, sizeof(want), "\"\\\n\x1b[31m\xef\xbf\xbd\xef\xbf\xbdx");
	if (strcmp(got, want))
		err = fail("comm read back as '%s'", got);
	(void)f;
out:
	cleanup(&run);
	return err;
}

/* Every BPF program named pl_* that is loaded now; returns how many. */
static int our_progs(void)
{
	union bpf_attr attr;
	__u32 id = 0;
	int n = 0;

	for (;;) {
		struct bpf_prog_info info = {};
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof(attr)))
			break;
		id = attr.next_id;
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = id;
		fd = syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr));
		if (fd < 0)
			continue;
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (unsigned long)&info;
		if (!syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) &&
		    !strncmp(info.name, "pl_", 3))
			n++;
		close(fd);
	}
	return n;
}

static int t_sigterm(void)
{
	struct run run;
	int err, before, loaded, after;

	before = our_progs();
	err = start(&run, sc_sigterm, "g_sigterm", NULL);
	loaded = our_progs();
	if (!err && write(run.go[1], "g", 1) != 1)
		err = fail("cannot start the child");
	sleep_ms(150);	/* mid-run: the child is still connecting */
	if (!err && run.tracer > 0) {
		int st;

		kill(run.tracer, SIGTERM);
		waitpid(run.tracer, &st, 0);
		run.tracer_status = st;
		run.tracer = 0;
	}
	stop(&run, 0);
	/* The kernel frees programs after an RCU grace period: give it a moment. */
	for (int t = 0; t < 40 && (after = our_progs()) != before; t++)
		sleep_ms(50);
	if (!err && (!WIFEXITED(run.tracer_status) || WEXITSTATUS(run.tracer_status) != 0))
		err = fail("portlife did not exit 0 on SIGTERM (status %#x)", run.tracer_status);
	for (int i = 0; i < run.nlines && !err; i++)
		if (is_event(run.lines[i], "totals"))
			break;
		else if (i == run.nlines - 1)
			err = fail("no final summary after SIGTERM");
	if (!err && !run.nlines)
		err = fail("no output at all after SIGTERM");
	if (!err && loaded - before < 5)
		err = fail("only %d of our programs seen while running", loaded - before);
	if (!err && after != before)
		err = fail("%d pl_* programs still loaded after exit (%d before)", after, before);
	cleanup(&run);
	return err;
}

/* Bad input: a one-line error naming the problem, non-zero exit. */
static int expect_error(char *const argv[], const char *needle)
{
	char out[256];
	int st, lines = 0;
	pid_t p;
	FILE *f;
	char buf[1024];

	snprintf(out, sizeof(out), "%s/err.txt", tmpdir);
	p = fork();
	if (p == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		dup2(fd, 1);
		if (!strcmp(argv[0], "nobody") && (setgid(65534) || setuid(65534)))
			_exit(126);
		execv(portlife, argv);
		_exit(127);
	}
	waitpid(p, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 0)
		return fail("'%s %s' exited %d, want non-zero", argv[0], argv[1] ? argv[1] : "", st);
	f = fopen(out, "r");
	while (f && fgets(buf, sizeof(buf), f))
		lines++;
	if (f)
		fclose(f);
	if (lines != 1 || !file_has(out, needle))
		return fail("'%s %s': want one line mentioning '%s', got %d line(s)", argv[0],
			    argv[1] ? argv[1] : "", needle, lines);
	return 0;
}


static int expect_error(char *const argv[], const char *needle);

static const char *lease_of(struct run *run, int port, const char *kind)
{
	for (int k = 0; k < run->nlines; k++) {
		const char *l = run->lines[k];

		if (is_event(l, "alloc") && jnum(l, "lport") == port && jstr_is(l, "kind", kind) &&
		    jnum(l, "pid") == run->child && !jfind(l, "error"))
			return l;
	}
	return NULL;
}

static int expect_end(struct run *run, const char *a, const char *reason, bool tw)
{
	long long lease = jnum(a, "lease");
	const char *rel = NULL, *te = NULL;

	if (tw && count_lease_ev(run, "tw_enter", lease, NULL) != 1)
		return fail("lease %lld (port %lld) entered TIME_WAIT %d times, want 1", lease,
			    jnum(a, "lport"), count_lease_ev(run, "tw_enter", lease, NULL));
	if (!tw && count_lease_ev(run, "tw_enter", lease, NULL))
		return fail("lease %lld (port %lld) entered TIME_WAIT", lease, jnum(a, "lport"));
	if (tw && reason && (count_lease_ev(run, "tw_exit", lease, &te) != 1 ||
			     !jstr_is(te, "reason", reason)))
		return fail("lease %lld (port %lld): tw_exit %s, want reason %s", lease,
			    jnum(a, "lport"), te ? te : "missing", reason);
	if (reason && (count_lease_ev(run, "release", lease, &rel) != 1 ||
		       !jstr_is(rel, "reason", reason)))
		return fail("lease %lld (port %lld): release %s, want reason %s", lease,
			    jnum(a, "lport"), rel ? rel : "missing", reason);
	return 0;
}

static int t_workload(void)
{
	struct run run;
	const char *a;
	int err;

	err = start(&run, sc_workload, "j_workload", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 1000);
	for (int i = 0; !err && i < run.r.nports; i++) {
		a = lease_of(&run, run.r.ports[i], "connect");
		if (!a)
			err = fail("IPv4 port %d: no connect alloc", run.r.ports[i]);
		else if (jnum(a, "latency_ns") <= 0 || jnum(a, "latency_ns") >= run.r.conn_ns[i])
			err = fail("IPv4 port %d: allocation latency %lld ns not inside connect()'s %lld ns",
				   run.r.ports[i], jnum(a, "latency_ns"), run.r.conn_ns[i]);
		else if (jnum(a, "rport") != run.r.listen_port || !jstr_is(a, "proto", "tcp"))
			err = fail("IPv4 port %d: wrong alloc %s", run.r.ports[i], a);
		else
			err = expect_end(&run, a, NULL, true);
	}
	for (int i = 0; !err && i < run.r.nports6; i++) {
		a = lease_of(&run, run.r.ports6[i], "connect");
		if (!a)
			err = fail("IPv6 port %d: no connect alloc", run.r.ports6[i]);
		else if (jnum(a, "latency_ns") <= 0 || jnum(a, "latency_ns") >= run.r.conn6_ns[i])
			err = fail("IPv6 port %d: allocation latency %lld ns not inside connect()'s %lld ns",
				   run.r.ports6[i], jnum(a, "latency_ns"), run.r.conn6_ns[i]);
		else if (jnum(a, "family") != 6 || !jstr_is(a, "raddr", "::1"))
			err = fail("IPv6 port %d: wrong alloc %s", run.r.ports6[i], a);
		else
			err = expect_end(&run, a, "close", false);
	}
	if (!err && !(a = lease_of(&run, run.r.bound_port, "bind_ephemeral")))
		err = fail("the IPv6 bind(0) listener on %d was not reported", run.r.bound_port);
	if (!err)
		err = expect_end(&run, a, "close", false);
	if (!err && (!(a = lease_of(&run, run.r.udp_bound, "bind_ephemeral")) ||
		     !jstr_is(a, "proto", "udp")))
		err = fail("UDP bind(0) to %d not reported as a udp bind_ephemeral", run.r.udp_bound);
	if (!err)
		err = expect_end(&run, a, "close", false);
	if (!err && (!(a = lease_of(&run, run.r.udp_auto, "autobind")) || !jstr_is(a, "proto", "udp")))
		err = fail("UDP autobind of %d not reported", run.r.udp_auto);
	if (!err)
		err = expect_end(&run, a, "close", false);
	cleanup(&run);
	return err;
}

static int t_tw_reasons(void)
{
	struct run run;
	const char *a;
	bool exact;
	int err;

	err = start(&run, sc_tw_reasons, "l_tw_reasons", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 1200);
	exact = exact_mode(&run);
	/* Only the exact modes can tell a reuse from a kill. */
	for (int i = 0; !err && i < run.r.nreuse; i++)
		err = (a = lease_of(&run, run.r.reuse[i], "connect")) ?
		      expect_end(&run, a, exact ? "tw_reused" : "tw_killed", true) :
		      fail("port %d: no alloc", run.r.reuse[i]);
	for (int i = 0; !err && i < run.r.nrst; i++)
		err = (a = lease_of(&run, run.r.rst[i], "connect")) ?
		      expect_end(&run, a, "tw_killed", true) :
		      fail("port %d: no alloc", run.r.rst[i]);
	for (int i = 0; !err && i < run.r.nexpire; i++)
		err = (a = lease_of(&run, run.r.expire[i], "connect")) ?
		      expect_end(&run, a, "tw_expired", true) :
		      fail("port %d: no alloc", run.r.expire[i]);
	cleanup(&run);
	return err;
}

/*
 * Whatever mode auto picks here, every better mode must have been refused:
 * forcing one fails with one line naming the reason and a non-zero exit.
 */
static int t_forced_modes(void)
{
	static const char *ladder[] = { "fentry", "kprobe", "tracepoint" };
	char *argv[] = { "portlife", "--mode", NULL, "-d", "0.2", NULL };
	struct run run;
	const char *got = NULL;
	int err;

	if (mode)
		return 0;	/* only meaningful for the auto run */
	err = start(&run, sc_hostile, "k_auto", NULL);
	stop(&run, 0);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "start"))
			got = jfind(run.lines[i], "mode");
	if (!err && !got)
		err = fail("no start line in auto mode");
	for (int i = 0; !err && i < 3; i++) {
		char want[64];

		if (!strncmp(got + 1, ladder[i], strlen(ladder[i])))
			break;
		argv[2] = (char *)ladder[i];
		snprintf(want, sizeof(want), "%s mode unavailable", ladder[i]);
		err = expect_error(argv, want);
	}
	cleanup(&run);
	return err;
}

static int t_bad_input(void)
{
	char *a1[] = { "portlife", "-p", "12x", NULL };
	char *a2[] = { "portlife", "-i", "-3", NULL };
	char *a3[] = { "portlife", "--mode", "warp", NULL };
	char *a4[] = { "portlife", "--cgroup", "/nonexistent/cg", NULL };
	char *a5[] = { "nobody", NULL };

	if (expect_error(a1, "invalid pid") || expect_error(a2, "invalid interval") ||
	    expect_error(a3, "invalid mode") || expect_error(a4, "cannot open cgroup") ||
	    expect_error(a5, "root"))
		return -1;
	return 0;
}

/* ---- issue 4: who holds it, how full is it ----------------------------- */

/* Run portlife with argv (argv[0] ignored) into out; its exit status. */
static int run_capture(char *const argv[], const char *out)
{
	int st;
	pid_t p = fork();

	if (p == 0) {
		char errpath[320];
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), efd;

		snprintf(errpath, sizeof(errpath), "%s.err", out);
		efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(efd, 2);
		execv(portlife, argv);
		_exit(127);
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static unsigned long netns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* A process that sits in its own netns (if range) until killed. */
static pid_t park(const char *range, int holder_fd_out[2])
{
	int p[2];
	pid_t pid;
	char c = 0;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (range && (own_netns() ||
			      write_file("/proc/sys/net/ipv4/ip_local_port_range", range)))
			_exit(1);
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	(void)holder_fd_out;
	return pid;
}

static const char *find_line(const char *path, const char *ev, const char *key, long long val)
{
	static char line[4096];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (is_event(line, ev) && (!key || jnum(line, key) == val)) {
			fclose(f);
			return line;
		}
	}
	if (f)
		fclose(f);
	return NULL;
}

static unsigned short held_port;

/* m: bind() to the port a process that predates portlife holds. */
static int sc_conflict(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, held_port);
	int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	prctl(PR_SET_NAME, "pl-latecomer");
	r->bound_port = held_port;
	if (!bind(b, (void *)&ss, len))
		return -EEXIST;
	r->fail_errno = errno;
	close(b);
	sleep_ms(300);
	return 0;
}

static int t_holder_before(void)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);
	int p[2], err = 0, found = 0;
	struct run run;
	pid_t holder;
	char c;

	if (pipe(p))
		return fail("pipe");
	holder = fork();
	if (holder == 0) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unsigned short port;

		prctl(PR_SET_NAME, "pl-holder");
		if (bind(fd, (void *)&ss, len) || listen(fd, 4))
			_exit(1);
		port = sock_port(fd);
		if (write(p[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &held_port, sizeof(held_port)) != sizeof(held_port))
		err = fail("the holder did not start");
	close(p[0]);
	sleep_ms(100);
	char out[300], portbuf[16];
	char *who[] = { "portlife", "who", portbuf, "--json", NULL };

	if (!err)
		err = start(&run, sc_conflict, "m_holder", NULL);
	if (!err)
		err = drive(&run);
	/* `portlife who` while tracing: the holder now, and the failure just seen */
	sleep_ms(1500);
	snprintf(portbuf, sizeof(portbuf), "%u", held_port);
	snprintf(out, sizeof(out), "%s/m_who.json", tmpdir);
	if (!err && run_capture(who, out))
		err = fail("portlife who failed");
	if (!err) {
		/* find_line() returns a static buffer: one look at a time */
		const char *l = find_line(out, "socket", "pid", holder), *fl;

		if (!l || !jstr_is(l, "comm", "pl-holder") || jnum(l, "lport") != held_port)
			err = fail("who %u does not show holder %d: %s", held_port, holder, out);
		else if (!(fl = find_line(out, "failure", "pid", run.child)) ||
			 !jstr_is(fl, "error", "EADDRINUSE") || !jstr_is(fl, "comm", "pl-latecomer"))
			err = fail("who %u does not show the recent failure of %d: %s", held_port,
				   run.child, out);
	}
	stop(&run, 0);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the second bind failed with %d, not EADDRINUSE", run.r.fail_errno);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i], *h;

		if (!is_event(l, "diagnosis") || !jstr_is(l, "error", "EADDRINUSE"))
			continue;
		if (jnum(l, "pid") != run.child || !jstr_is(l, "comm", "pl-latecomer") ||
		    jnum(l, "lport") != held_port)
			err = fail("diagnosis names the wrong failing process: %s", l);
		h = strstr(l, "\"holders\":[");
		if (!err && (!h || jnum(h, "pid") != holder || !jstr_is(h, "comm", "pl-holder") ||
			     !jstr_is(h, "state", "LISTEN")))
			err = fail("diagnosis does not name holder %d (pl-holder): %s", holder, l);
		found++;
	}
	(void)c;
	if (!err && found != 1)
		err = fail("%d EADDRINUSE diagnoses, want 1", found);
	cleanup(&run);
	return err;
}

/*
 * n: a 20-port range and one destination: connect and close first until
 * connect() fails; every port of it sits in TIME_WAIT. A second destination
 * of the same netns keeps its headroom.
 */
static int sc_tw_exhaust(struct result *r)
{
	int la, lb, cb, err;

	if ((err = own_netns()) ||
	    (err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40019")) ||
	    (err = write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "0")))
		return err;
	la = listener(AF_INET, 5000);
	lb = listener(AF_INET, 5001);
	if (la < 0 || lb < 0)
		return -errno;
	r->listen_port = 5000;
	cb = connect_to(AF_INET, 5001, 0, 0);	/* B keeps one connection */
	if (cb < 0)
		return cb;
	for (int i = 0; i < 40; i++) {
		int c = connect_to(AF_INET, 5000, 0, 0), a;

		if (c == -EADDRNOTAVAIL) {
			r->fail_errno = EADDRNOTAVAIL;
			return 0;	/* stay, with TIME_WAIT held, for the checks */
		}
		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(la, NULL, NULL);
		close(c);
		close(a);
	}
	return -ENOSPC;
}

static int t_tw_exhaust(void)
{
	char out[300], ns[32];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", "--netns", ns,
			 NULL };
	const char *l, *diag = NULL;
	struct run run;
	int err;

	err = start(&run, sc_tw_exhaust, "n_tw_exhaust", NULL);
	if (!err)
		err = drive(&run);
	/* the child still holds its netns: look at it before stopping */
	snprintf(ns, sizeof(ns), "%lu", netns_of(run.child));
	snprintf(out, sizeof(out), "%s/n_headroom.json", tmpdir);
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --headroom failed");
	stop(&run, 1000);
	if (!err && run.r.fail_errno != EADDRNOTAVAIL)
		err = fail("connect() never failed with EADDRNOTAVAIL");
	if (!err && !(l = find_line(out, "headroom", "rport", 5000)))
		err = fail("no headroom for destination :5000 in %s", out);
	else if (!err && (jnum(l, "free") != 0 || jnum(l, "in_use") != run.r.nports ||
			  jnum(l, "time_wait") != run.r.nports || jnum(l, "usable") != 20))
		err = fail("destination :5000 (%d ports used): %s", run.r.nports, l);
	if (!err && !(l = find_line(out, "headroom", "rport", 5001)))
		err = fail("no headroom for the second destination :5001 in %s", out);
	else if (!err && (jnum(l, "free") != 19 || jnum(l, "in_use") != 1))
		err = fail("second destination :5001 should have 19 free: %s", l);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "diagnosis") && jstr_is(run.lines[i], "error", "EADDRNOTAVAIL"))
			diag = run.lines[i];
	if (!err && (!diag || jnum(diag, "pid") != run.child || jnum(diag, "free") != 0 ||
		     jnum(diag, "time_wait") != run.r.nports || jnum(diag, "rport") != 5000))
		err = fail("EADDRNOTAVAIL not attributed with 0 free and %d TIME_WAIT: %s",
			   run.r.nports, diag ? diag : "(no diagnosis)");
	cleanup(&run);
	return err;
}

/* o: two namespaces with different ranges are reported separately. */
static int t_two_netns(void)
{
	char out[300];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", NULL };
	pid_t a = park("41000 41009", NULL), b = park("42000 42099", NULL);
	const char *la, *lb;
	int err = 0;

	snprintf(out, sizeof(out), "%s/o_headroom.json", tmpdir);
	if (a < 0 || b < 0)
		err = fail("could not make two namespaces");
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --headroom failed");
	if (!err) {
		la = find_line(out, "bind_headroom", "netns", netns_of(a));
		if (!la || jnum(la, "range_lo") != 41000 || jnum(la, "range_hi") != 41009 ||
		    jnum(la, "free") != 10)
			err = fail("netns A (41000-41009) wrong or missing: %s", la ? la : "(none)");
	}
	if (!err) {
		lb = find_line(out, "bind_headroom", "netns", netns_of(b));
		if (!lb || jnum(lb, "range_lo") != 42000 || jnum(lb, "range_hi") != 42099 ||
		    jnum(lb, "free") != 100)
			err = fail("netns B (42000-42099) wrong or missing: %s", lb ? lb : "(none)");
	}
	if (a > 0)
		kill(a, SIGKILL), waitpid(a, NULL, 0);
	if (b > 0)
		kill(b, SIGKILL), waitpid(b, NULL, 0);
	return err;
}

/* p: `portlife ports --json` lists what the kernel's own tables list. */
static int sc_mixed(struct result *r)
{
	int l, c, a, u, err;
	struct sockaddr_storage ss;
	socklen_t len;

	if ((err = own_netns()))
		return err;
	l = listener(AF_INET, 0);
	r->listen_port = sock_port(l);
	c = connect_to(AF_INET, r->listen_port, 0, 0);
	a = accept(l, NULL, NULL);
	close(c);	/* TIME_WAIT */
	close(a);
	if (listener(AF_INET6, 0) < 0)	/* an IPv6 LISTEN */
		return -errno;
	c = connect_to(AF_INET, r->listen_port, 0, 0);	/* ESTABLISHED pair */
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	if (c < 0 || bind(u, (void *)&ss, len))
		return -errno;
	u = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET6, 0);
	if (bind(u, (void *)&ss, len))
		return -errno;
	sleep_ms(200);
	return 0;
}

struct tuple { int proto, lport, rport, state; };

static int tuple_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct tuple));
}

/* /proc/PID/net/{tcp,tcp6,udp,udp6}: the kernel's own listing of a netns. */
static int proc_tuples(pid_t pid, struct tuple *v, int max)
{
	static const char *files[] = { "tcp", "tcp6", "udp", "udp6" };
	char path[64], line[512];
	int n = 0;

	for (int k = 0; k < 4; k++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[k]);
		if (!(f = fopen(path, "r")))
			continue;
		if (!fgets(line, sizeof(line), f)) {	/* header */
			fclose(f);
			continue;
		}
		while (n < max && fgets(line, sizeof(line), f)) {
			unsigned lp, rp, st;

			if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x", &lp, &rp, &st) != 3)
				continue;
			v[n++] = (struct tuple){ k < 2 ? 6 : 17, lp, rp, k < 2 ? (int)st : 0 };
		}
		fclose(f);
	}
	qsort(v, n, sizeof(*v), tuple_cmp);
	return n;
}

static int state_num(const char *l)
{
	static const char *names[] = { "", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
				       "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
				       "LISTEN", "CLOSING" };

	for (int i = 1; i < 12; i++)
		if (jstr_is(l, "state", names[i]))
			return i;
	return -1;
}

static int t_ports_vs_kernel(void)
{
	static struct tuple want[256], got[256];
	char out[300], ns[32];
	char *argv[] = { "portlife", "ports", "--json", "--netns", ns, NULL };
	int nw, ng = 0, err;
	struct run run;
	FILE *f;
	char line[4096];

	err = start(&run, sc_mixed, "p_ports", NULL);
	if (!err)
		err = drive(&run);
	snprintf(ns, sizeof(ns), "%lu", netns_of(run.child));
	snprintf(out, sizeof(out), "%s/p_ports.json", tmpdir);
	nw = proc_tuples(run.child, want, 256);
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --json failed");
	stop(&run, 0);
	f = fopen(out, "r");
	while (!err && f && fgets(line, sizeof(line), f) && ng < 256) {
		bool udp = jstr_is(line, "proto", "udp");

		if (!is_event(line, "socket"))
			continue;
		got[ng++] = (struct tuple){ udp ? 17 : 6, (int)jnum(line, "lport"),
					    (int)jnum(line, "rport"), udp ? 0 : state_num(line) };
	}
	if (f)
		fclose(f);
	qsort(got, ng, sizeof(*got), tuple_cmp);
	if (!err && nw < 5)
		err = fail("the scenario made only %d sockets", nw);
	if (!err && (nw != ng || memcmp(want, got, nw * sizeof(*want)))) {
		err = fail("portlife lists %d sockets, /proc/net %d (or they differ): see %s", ng, nw,
			   out);
	}
	cleanup(&run);
	return err;
}

/* ---- issue 5: record and report --------------------------------------- */

static char **file_lines(const char *path, int *n)
{
	char **v = NULL, *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	*n = 0;
	while (f && getline(&line, &cap, f) > 0) {
		v = realloc(v, (*n + 1) * sizeof(*v));
		v[(*n)++] = strdup(line);
	}
	free(line);
	if (f)
		fclose(f);
	return v;
}

static void free_lines(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Fields of one CSV line (quoted fields may hold commas and doubled quotes). */
static int csv_fields(const char *l)
{
	int n = 1;
	bool q = false;

	for (const char *p = l; *p && *p != '\n'; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == ',' && !q)
			n++;
	}
	return q ? -1 : n;
}

static int t_record_report(void)
{
	char trace[300], out[300], *extra[] = { "record", "-o", trace, NULL };
	char *rep_json[] = { "portlife", "report", trace, "--json", NULL };
	char *rep_jsonl[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	char *rep_csv[] = { "portlife", "report", trace, "--format", "csv", NULL };
	char *rep_chrome[] = { "portlife", "report", trace, "--format", "chrome", NULL };
	struct run run;
	struct stat st;
	char **v;
	int n, err, live_sum = 0, allocs = 0, rows;

	snprintf(trace, sizeof(trace), "%s/q.trace", tmpdir);
	err = start(&run, sc_workload, "q_record", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 1000);
	if (!err && (!WIFEXITED(run.tracer_status) || WEXITSTATUS(run.tracer_status)))
		err = fail("portlife record did not exit 0 (status %#x)", run.tracer_status);
	if (!err && (stat(trace, &st) || (st.st_mode & 0777) != 0600))
		err = fail("the trace is missing or not 0600");
	/* the summary from the file equals the one the recorder printed */
	snprintf(out, sizeof(out), "%s/q_report.json", tmpdir);
	if (!err && run_capture(rep_json, out))
		err = fail("portlife report --json failed");
	v = file_lines(out, &n);
	for (int i = 0; !err && i < run.nlines; i++) {
		bool same = false;

		if (!is_event(run.lines[i], "summary"))
			continue;
		live_sum++;
		for (int k = 0; k < n && !same; k++)
			same = !strcmp(v[k], run.lines[i]);
		if (!same)
			err = fail("live summary line not in the report: %s", run.lines[i]);
	}
	if (!err && !live_sum)
		err = fail("the recorder printed no summary");
	free_lines(v, n);
	/* every event, as JSON lines */
	snprintf(out, sizeof(out), "%s/q_events.jsonl", tmpdir);
	if (!err && run_capture(rep_jsonl, out))
		err = fail("portlife report --format jsonl failed");
	v = file_lines(out, &n);
	for (int i = 0; !err && i < n; i++) {
		if (!json_line_ok(v[i]))
			err = fail("jsonl line %d is not JSON", i + 1);
		allocs += is_event(v[i], "alloc") && jnum(v[i], "pid") == run.child;
	}
	for (int i = 0; !err && i < run.r.nports; i++) {
		bool found = false;

		for (int k = 0; k < n && !found; k++)
			found = is_event(v[k], "alloc") && jnum(v[k], "lport") == run.r.ports[i] &&
				jstr_is(v[k], "kind", "connect");
		if (!found)
			err = fail("port %d missing from the jsonl export", run.r.ports[i]);
	}
	if (!err && allocs != count_ev(&run, "alloc", run.child, -1, NULL) + 0 * allocs &&
	    allocs < run.r.nports + run.r.nports6 + 4)
		err = fail("%d allocs in the export", allocs);
	rows = n;
	free_lines(v, n);
	/* CSV: a header, then the same events, every row as wide as the header */
	snprintf(out, sizeof(out), "%s/q_events.csv", tmpdir);
	if (!err && run_capture(rep_csv, out))
		err = fail("portlife report --format csv failed");
	v = file_lines(out, &n);
	if (!err && (n != rows + 1 || strncmp(v[0], "time,ts_ns,event,", 17)))
		err = fail("csv has %d lines for %d events, or no header", n, rows);
	for (int i = 1; !err && i < n; i++)
		if (csv_fields(v[i]) != csv_fields(v[0]))
			err = fail("csv row %d has %d fields, the header %d", i + 1, csv_fields(v[i]),
				   csv_fields(v[0]));
	free_lines(v, n);
	/* Chrome trace: one JSON document with the child's leases */
	snprintf(out, sizeof(out), "%s/q_chrome.json", tmpdir);
	if (!err && run_capture(rep_chrome, out))
		err = fail("portlife report --format chrome failed");
	if (!err) {
		FILE *f = fopen(out, "r");
		static char doc[1 << 20];
		size_t len = f ? fread(doc, 1, sizeof(doc) - 1, f) : 0;
		char want[64];

		if (f)
			fclose(f);
		doc[len] = '\0';
		snprintf(want, sizeof(want), "\"pid\":%d,", run.child);
		if (!json_line_ok(doc))
			err = fail("the chrome export is not valid JSON: %s", out);
		else if (!strstr(doc, "\"traceEvents\"") || !strstr(doc, want) ||
			 !strstr(doc, "\"TIME_WAIT\""))
			err = fail("the chrome export lacks the child's leases or TIME_WAIT: %s", out);
	}
	cleanup(&run);
	return err;
}

/* r: the disk fills up while recording: a clear error, and what was written stays. */
static int t_record_full_disk(void)
{
	char dir[300], trace[320], out[320], *extra[] = { "record", "-o", trace, NULL };
	char *rep[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	struct run run;
	char **v;
	int n, err;

	snprintf(dir, sizeof(dir), "%s/small", tmpdir);
	snprintf(trace, sizeof(trace), "%s/r.trace", dir);
	mkdir(dir, 0700);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=12k"))
		return fail("cannot mount a small tmpfs: %s", strerror(errno));
	err = start(&run, sc_v4, "r_full", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (!WIFEXITED(run.tracer_status) || !WEXITSTATUS(run.tracer_status)))
		err = fail("portlife record exited 0 on a full disk");
	if (!err && !file_has(run.err, "No space left on device"))
		err = fail("no 'No space left on device' message: see %s", run.err);
	snprintf(out, sizeof(out), "%s/r_events.jsonl", tmpdir);
	if (!err && run_capture(rep, out))
		err = fail("the partial trace does not read back: see %s", out);
	v = file_lines(out, &n);
	if (!err && n < 20)
		err = fail("only %d records kept from the full disk", n);
	free_lines(v, n);
	umount2(dir, MNT_DETACH);
	cleanup(&run);
	return err;
}

/* ---- cgroup filter ----------------------------------------------------- */

static char cg_dir[PATH_MAX];

static int cgroup2_dir(char *buf, size_t len)
{
	char line[4096], mnt[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - cgroup2 ");

		if (dash && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
			found = snprintf(buf, len, "%s", mnt) > 0;
	}
	if (f)
		fclose(f);
	return found ? 0 : -ENOENT;
}

/* s: the scenario child moves into the cgroup, then connects. */
static int sc_in_cgroup(struct result *r)
{
	char procs[PATH_MAX + 16];
	int err;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_dir);
	if ((err = write_file(procs, "0")))
		return err;
	return sc_connects(r, AF_INET) ? -EIO : 0;
}

static int t_cgroup_filter(void)
{
	char root[PATH_MAX - 64], *extra[] = { "--cgroup", cg_dir, NULL };
	int lfd, err, strangers = 0, mine = 0;
	struct run run;

	if (cgroup2_dir(root, sizeof(root)))
		return fail("no cgroup v2 mount to test with");
	snprintf(cg_dir, sizeof(cg_dir), "%s/portlife-live-%d", root, (int)getpid());
	if (mkdir(cg_dir, 0755) && errno != EEXIST)
		return fail("cannot make %s: %s", cg_dir, strerror(errno));
	no_pid_filter = true;
	err = start(&run, sc_in_cgroup, "s_cgroup", extra);
	no_pid_filter = false;
	/* our own connects, outside the cgroup, while portlife runs: not to be seen */
	lfd = listener(AF_INET, 0);
	for (int i = 0; !err && i < 5; i++) {
		int c = connect_to(AF_INET, sock_port(lfd), 0, 0);

		if (c >= 0) {
			mine++;
			close(c);
		}
	}
	close(lfd);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err)
		err = check_connects(&run, AF_INET, "127.0.0.1", true);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "alloc"))
			continue;
		/* by pid, not port: the child may get a port we just let go of */
		if (jnum(l, "pid") == getpid())
			err = fail("a connect from outside the cgroup was reported: %s", l);
		else if (jnum(l, "pid") != run.child)
			strangers++;
	}
	if (!err && strangers)
		err = fail("%d allocations from processes outside the cgroup", strangers);
	if (!err && mine != 5)
		err = fail("only %d of our 5 outside connects worked: the check proved nothing", mine);
	rmdir(cg_dir);
	cleanup(&run);
	return err;
}

/* ---- the views: portlife top (tmux) and the metrics ------------------- */

static char tmux_sock[64];

/* tmux on a server of our own, so a user's sessions are never touched. */
static int tmux(const char *fmt, ...)
{
	char args[1024], cmd[1200];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -L %s %s", tmux_sock, args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The visible pane, one string per line; *n set. */
static char **pane(int *n)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/pane.txt", tmpdir);
	*n = 0;
	if (tmux("capture-pane -p -t pltop > %s 2>/dev/null", path))
		return NULL;
	return file_lines(path, n);
}

struct top_row { int line; long long held, fails, tw; double rate; char comm[32]; };

/* The row of pid in the pane, or line -1. */
static struct top_row pane_row(char **v, int n, pid_t pid)
{
	struct top_row r = { .line = -1 };

	for (int i = 0; i < n; i++) {
		unsigned p;

		if (sscanf(v[i], "%u %31s %lld %lf %lld %lld", &p, r.comm, &r.held, &r.rate,
			   &r.fails, &r.tw) == 6 && p == (unsigned)pid) {
			r.line = i;
			break;
		}
	}
	return r;
}

static bool pane_has(char **v, int n, const char *needle)
{
	for (int i = 0; i < n; i++)
		if (strstr(v[i], needle))
			return true;
	return false;
}

/*
 * Waits (up to ms) until the pane shows our row with held/tw, the child's
 * with its held, and a title line containing title; *order set to our row's
 * line minus the child's.
 */
static int wait_rows(pid_t child, long long held, long long tw, long long cheld, const char *title,
		     int ms, int *order)
{
	char last[2][200] = { "", "" };

	for (int t = 0; t < ms / 100; t++, sleep_ms(100)) {
		int n;
		char **v = pane(&n);
		struct top_row me = pane_row(v, n, getpid()), kid = pane_row(v, n, child);
		bool ok = me.line >= 0 && kid.line >= 0 && me.held == held && me.tw == tw &&
			  me.fails == 0 && kid.held == cheld && pane_has(v, n, title) &&
			  !strcmp(me.comm, "livetest") && !strcmp(kid.comm, "pl-top-child");

		if (me.line >= 0)
			snprintf(last[0], sizeof(last[0]), "%s", v[me.line]);
		if (kid.line >= 0)
			snprintf(last[1], sizeof(last[1]), "%s", v[kid.line]);
		if (ok)
			*order = me.line - kid.line;
		free_lines(v, n);
		if (ok)
			return 0;
	}
	return fail("top did not show us (held %lld, TIME_WAIT %lld) and the child (held %lld) "
		    "with '%s' in time; our row '%s', the child's '%s' (pane in %s/pane.txt)",
		    held, tw, cheld, title, last[0], last[1], tmpdir);
}

/*
 * t: portlife top on an 80x24 terminal: our own connections and a child's
 * show with their counts (ports held, TIME_WAIT), keys change the order, q
 * leaves the terminal as it was.
 */
static int t_top(void)
{
	int lfd, fds[12], acc[12], kid_go[2], err = 0, order = 0, n;
	char cmd[PATH_MAX + 200];
	pid_t child;
	char **v;

	for (int i = 0; i < 12; i++)
		fds[i] = acc[i] = -1;
	snprintf(tmux_sock, sizeof(tmux_sock), "portlife-live-%d", (int)getpid());
	/* the listener's own bind(0) happens before portlife looks: not in the counts */
	lfd = listener(AF_INET, 0);
	if (lfd < 0 || pipe(kid_go))
		return fail("listener: %s", strerror(errno));
	child = fork();
	if (child == 0) {
		int c[20];
		char b;

		prctl(PR_SET_NAME, "pl-top-child");
		close(kid_go[1]);	/* so that the parent's close is our EOF */
		if (read(kid_go[0], &b, 1) != 1)
			_exit(1);
		for (int i = 0; i < 20; i++)
			if ((c[i] = connect_to(AF_INET, sock_port(lfd), 0, 0)) < 0)
				_exit(2);
		if (read(kid_go[0], &b, 1) < 0)	/* hold them until told */
			_exit(3);
		_exit(0);
	}
	snprintf(cmd, sizeof(cmd), "new-session -d -s pltop -x 80 -y 24 \"sh -c '%s top%s%s; "
		 "echo TOP-EXITED rc=\\$?; sleep 60'\"", portlife, mode ? " --mode " : "",
		 mode ? mode : "");
	if (tmux("%s", cmd)) {
		err = fail("cannot start tmux (is it installed? make deps)");
		goto out;
	}
	for (int t = 0; t < 300; t++, sleep_ms(100)) {
		v = pane(&n);
		bool up = pane_has(v, n, "portlife top ");

		free_lines(v, n);
		if (up)
			break;
		if (t == 299) {
			err = fail("top drew no table in 30 s (pane in %s/pane.txt)", tmpdir);
			goto out;
		}
	}
	/* we hold 12 ports, 4 of them through TIME_WAIT; the child holds 20 */
	for (int i = 0; i < 12; i++) {
		fds[i] = connect_to(AF_INET, sock_port(lfd), 0, 0);
		if (fds[i] < 0) {
			err = fail("connect: %s", strerror(-fds[i]));
			goto out;
		}
	}
	/* the queue is in connect order: acc[i] is fds[i]'s peer */
	for (int i = 0; i < 12; i++) {
		acc[i] = accept(lfd, NULL, NULL);
		if (acc[i] < 0) {
			err = fail("accept: %s", strerror(errno));
			goto out;
		}
	}
	for (int i = 0; i < 4; i++) {
		close(fds[i]);		/* we close first: the TIME_WAIT is ours */
		fds[i] = -1;
		close(acc[i]);
		acc[i] = -1;
	}
	if (write(kid_go[1], "g", 1) != 1) {
		err = fail("cannot start the child");
		goto out;
	}
	/* sorted by ports held (the default): the child (20) above us (12) */
	err = wait_rows(child, 12, 4, 20, "sort held", 15000, &order);
	if (!err && order <= 0)
		err = fail("sorted by ports held, our row (12) is above the child's (20)");
	if (!err && tmux("send-keys -t pltop p"))
		err = fail("tmux send-keys failed");
	/* by pid: we are older than our child */
	if (!err)
		err = wait_rows(child, 12, 4, 20, "sort pid", 5000, &order);
	if (!err && order >= 0)
		err = fail("sorted by pid, our row is below the child's (pid %d > %d?)", (int)getpid(),
			   (int)child);
	if (!err && tmux("send-keys -t pltop q"))
		err = fail("tmux send-keys failed");
	for (int t = 0; !err && t < 100; t++, sleep_ms(100)) {
		bool done, table;

		v = pane(&n);
		done = pane_has(v, n, "TOP-EXITED rc=0");
		table = pane_has(v, n, "ALLOC/s");
		free_lines(v, n);
		if (done && !table)
			break;
		if (t == 99)
			err = fail("after q: want 'TOP-EXITED rc=0' and the table gone (the terminal "
				   "restored); pane in %s/pane.txt", tmpdir);
	}
out:
	tmux("kill-server 2>/dev/null");
	for (int i = 0; i < 12; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (acc[i] >= 0)
			close(acc[i]);
	}
	close(kid_go[1]);
	waitpid(child, NULL, 0);
	close(kid_go[0]);
	close(lfd);
	return err;
}

/* u: 50 connects the server ends, then 10 the client ends (TIME_WAIT). */
static int sc_metrics(struct result *r)
{
	int err = sc_connects(r, AF_INET), lfd;

	if (err)
		return err;
	lfd = tw_listener(r, 10, 0);
	if (lfd < 0)
		return lfd;
	close(lfd);
	return 0;
}

/* GET path from 127.0.0.1:port or addr:port; the body into buf. -errno on failure. */
static int http_get(const char *addr, unsigned short port, const char *path, char *buf,
		    size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -EIO;
	}
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	return 0;
}

/* The value of one series (exact name with labels) in an exposition, or -1. */
static double series(const char *text, const char *name)
{
	size_t l = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, l) && p[l] == ' ')
			return strtod(p + l + 1, NULL);
	return -1;
}

/* A local IPv4 address that is not loopback, or 0. */
static in_addr_t outside_addr(void)
{
	struct ifaddrs *ifa, *i;
	in_addr_t a = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i && !a; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !(i->ifa_flags & IFF_LOOPBACK) && (i->ifa_flags & IFF_UP))
			a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return a;
}

/*
 * u: --metrics-file and --metrics-addr: promtool accepts the text, the
 * numbers equal the summary and what the child did, the endpoint answers on
 * loopback only, and a taken port or an unwritable file is a clear error.
 */
static int t_metrics(void)
{
	char prom[PATH_MAX - 16], portbuf[16], *body = malloc(1 << 20), cmd[PATH_MAX + 64];
	char *extra[] = { "-s", "--metrics-file", prom, "--metrics-addr", portbuf, NULL };
	const char *summary = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	unsigned short port;
	in_addr_t out_addr;
	struct run run;
	int err, pfd;
	double allocs, tw, lat_n, held;

	if (!body)
		return fail("out of memory");
	/* a free port: the kernel's pick, let go just before portlife takes it */
	pfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pfd < 0 || bind(pfd, (void *)&sa, sizeof(sa)) || getsockname(pfd, (void *)&sa, &sl)) {
		free(body);
		return fail("no free port: %s", strerror(errno));
	}
	port = ntohs(sa.sin_port);
	close(pfd);
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	snprintf(prom, sizeof(prom), "%s/portlife.prom", tmpdir);
	err = start(&run, sc_metrics, "u_metrics", extra);
	if (!err)
		err = drive(&run);
	/* two refreshes and a TIME_WAIT snapshot */
	sleep_ms(2500);
	if (!err && (err = http_get("127.0.0.1", port, "/metrics", body, 1 << 20)))
		err = fail("GET http://127.0.0.1:%u/metrics: %s", port, strerror(-err));
	if (!err && !strstr(body, "200 OK"))
		err = fail("GET /metrics did not answer 200: %.200s", body);
	/* bound to loopback unless asked: another local address must refuse */
	out_addr = outside_addr();
	if (!err && out_addr) {
		char a[INET_ADDRSTRLEN], tmp[256];
		int e;

		inet_ntop(AF_INET, &out_addr, a, sizeof(a));
		e = http_get(a, port, "/metrics", tmp, sizeof(tmp));
		if (e != -ECONNREFUSED)
			err = fail("the metrics port answered on %s (want connection refused: "
				   "loopback only unless asked): %s", a, e ? strerror(-e) : "it answered");
	}
	/* the port is taken: a second portlife says so and exits */
	if (!err) {
		char *argv[] = { (char *)portlife, "-s", "--metrics-addr", portbuf, NULL };

		err = expect_error(argv, "cannot serve metrics");
	}
	if (!err) {
		char *argv[] = { (char *)portlife, "-s", "-d", "1", "--metrics-file",
				 "/nonexistent-dir/x.prom", NULL };

		err = expect_error(argv, "No such file or directory");
	}
	stop(&run, 500);
	if (!err && !file_has(prom, "# TYPE portlife_allocations_total counter"))
		err = fail("no metrics in %s", prom);
	if (!err) {
		struct stat st;

		if (stat(prom, &st) || (st.st_mode & 0777) != 0644)
			err = fail("%s: want mode 0644 (node_exporter reads it), got %o", prom,
				   st.st_mode & 0777);
	}
	if (!err) {
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s/promtool.txt 2>&1",
			 prom, tmpdir);
		if (system(cmd))
			err = fail("promtool check metrics rejects %s: see %s/promtool.txt (is "
				   "promtool installed? make deps)", prom, tmpdir);
	}
	if (!err) {
		FILE *f = fopen(prom, "r");
		size_t n = f ? fread(body, 1, (1 << 20) - 1, f) : 0;

		body[n] = '\0';
		if (f)
			fclose(f);
	}
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child)
			summary = run.lines[i];
	if (!err && !summary)
		err = fail("no summary for the child");
	allocs = series(body, "portlife_allocations_total{comm=\"livetest\"}");
	tw = series(body, "portlife_time_wait_entered_total{comm=\"livetest\"}");
	lat_n = series(body, "portlife_allocation_latency_seconds_count{comm=\"livetest\"}");
	held = series(body, "portlife_ports_held{comm=\"livetest\"}");
	/* 210 connects and two listeners' bind(0) */
	if (!err && (allocs != jnum(summary, "allocs") || allocs != run.r.nports + 2))
		err = fail("allocations: metrics %.0f, summary %lld, the child made %d (+2 "
			   "listeners)", allocs, jnum(summary, "allocs"), run.r.nports);
	if (!err && (tw != jnum(summary, "tw_entered") || tw != 10))
		err = fail("TIME_WAIT entered: metrics %.0f, summary %lld, want 10", tw,
			   jnum(summary, "tw_entered"));
	if (!err && lat_n != allocs)
		err = fail("allocation latency histogram count %.0f != allocations %.0f", lat_n, allocs);
	if (!err && held != jnum(summary, "held"))
		err = fail("ports held: metrics %.0f, summary %lld", held, jnum(summary, "held"));
	free(body);
	cleanup(&run);
	return err;
}

/*
 * v: a short-lived client in a namespace of its own makes 20 connections,
 * closes first and exits at once, before portlife reads its events; the
 * namespace lives on through another process. portlife must still find its
 * way in and see every port go into TIME_WAIT.
 */
static int sc_netns_gone(struct result *r)
{
	int err = own_netns(), l, pp[2];
	pid_t p;

	if (err)
		return err;
	l = listener(AF_INET, 0);
	if (l < 0 || pipe(pp))
		return -errno;
	r->listen_port = sock_port(l);
	p = fork();
	if (p == 0) {
		unsigned short port;

		prctl(PR_SET_NAME, "pl-ns-gone");
		for (int i = 0; i < 20; i++) {
			int c = connect_to(AF_INET, r->listen_port, 0, 0), a;

			if (c < 0)
				_exit(1);
			port = sock_port(c);
			a = accept(l, NULL, NULL);
			close(c);	/* first: the TIME_WAIT is on the client's port */
			close(a);
			if (write(pp[1], &port, sizeof(port)) != sizeof(port))
				_exit(1);
		}
		_exit(0);
	}
	close(pp[1]);
	while (r->nports < 20 &&
	       read(pp[0], &r->ports[r->nports], sizeof(r->ports[0])) == sizeof(r->ports[0]))
		r->nports++;
	close(pp[0]);
	waitpid(p, NULL, 0);
	r->other_pid = p;
	return r->nports == 20 ? 0 : -EIO;
}

static int t_netns_gone(void)
{
	char *extra[] = { "-c", "pl-ns-gone", NULL };
	struct run run;
	int err;

	no_pid_filter = true;
	err = start(&run, sc_netns_gone, "v_netns_gone", extra);
	no_pid_filter = false;
	if (!err)
		err = drive(&run);
	/* the allocator is gone; a few snapshots at 0.5 s (the search is once a second) */
	sleep_ms(2500);
	stop(&run, 500);
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *a = NULL;

		for (int k = 0; k < run.nlines && !a; k++)
			if (is_event(run.lines[k], "alloc") && jnum(run.lines[k], "lport") ==
			    run.r.ports[i] && jnum(run.lines[k], "pid") == run.r.other_pid)
				a = run.lines[k];
		if (!a)
			err = fail("no alloc of port %d by pid %d", run.r.ports[i], run.r.other_pid);
		else if (count_lease_ev(&run, "tw_enter", jnum(a, "lease"), NULL) != 1)
			err = fail("port %d: its process exited before portlife read its events and "
				   "its TIME_WAIT was not seen (the namespace was still there)",
				   run.r.ports[i]);
	}
	cleanup(&run);
	return err;
}

/*
 * w: portlife does not keep a namespace alive once nothing in it is waiting
 * for TIME_WAIT: five connections the server closes first, then a few
 * snapshot rounds, and portlife must hold no fd on the namespace.
 */
static int sc_netns_idle(struct result *r)
{
	int err = own_netns(), l;

	if (err)
		return err;
	l = listener(AF_INET, 0);
	if (l < 0)
		return -errno;
	r->listen_port = sock_port(l);
	for (int i = 0; i < 5; i++) {
		int c = connect_to(AF_INET, r->listen_port, 0, 0), a;

		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(l, NULL, NULL);
		close(a);	/* the server first: no TIME_WAIT for the client */
		sleep_ms(20);
		close(c);
	}
	return 0;
}

/* Does pid hold an fd on the network namespace inum? */
static bool holds_netns(pid_t pid, unsigned long inum)
{
	char dir[64], path[PATH_MAX], link[64], want[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	snprintf(want, sizeof(want), "net:[%lu]", inum);
	d = opendir(dir);
	while (d && !found && (de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			found = !strcmp(link, want);
		}
	}
	if (d)
		closedir(d);
	return found;
}

static int t_netns_idle(void)
{
	unsigned long ns;
	struct run run;
	int err;

	err = start(&run, sc_netns_idle, "w_netns_idle", NULL);
	if (!err)
		err = drive(&run);
	ns = netns_of(run.child);
	/* three rounds at --tw-interval 0.5 */
	sleep_ms(1600);
	if (!err && !ns)
		err = fail("cannot read the child's network namespace");
	if (!err && holds_netns(run.tracer, ns))
		err = fail("portlife still holds namespace %lu open with nothing waiting there: "
			   "it would keep dead containers' namespaces alive", ns);
	stop(&run, 300);
	if (!err && run.r.nports != 5)
		err = fail("the scenario made %d connections, want 5", run.r.nports);
	cleanup(&run);
	return err;
}

/*
 * views: tests of what portlife shows (top, metrics), not of how it attaches:
 * run once, without --mode; the VM runs every attach mode and skips them.
 */
static const struct test {
	const char *name;
	int (*fn)(void);
	bool views;
} tests[] = {
	{ "a_connect_v4", t_connect_v4, false },
	{ "b_connect_v6", t_connect_v6, false },
	{ "c_timewait", t_timewait, false },
	{ "d_exhaustion", t_exhaust, false },
	{ "e_bind_conflict", t_bind_conflict, false },
	{ "f_hostile_json", t_hostile_json, false },
	{ "g_sigterm", t_sigterm, false },
	{ "h_bad_input", t_bad_input, false },
	{ "i_tw_overflow", t_tw_overflow, false },
	{ "j_workload", t_workload, false },
	{ "k_forced_modes", t_forced_modes, false },
	{ "l_tw_reasons", t_tw_reasons, false },
	{ "m_holder_before", t_holder_before, false },
	{ "n_tw_exhaustion", t_tw_exhaust, false },
	{ "o_two_netns", t_two_netns, false },
	{ "p_ports_vs_kernel", t_ports_vs_kernel, false },
	{ "q_record_report", t_record_report, false },
	{ "r_record_full_disk", t_record_full_disk, false },
	{ "s_cgroup_filter", t_cgroup_filter, false },
	{ "t_top", t_top, true },
	{ "u_metrics", t_metrics, true },
	{ "v_netns_gone", t_netns_gone, false },
	{ "w_netns_idle", t_netns_idle, false },
};

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "--mode")) {
		mode = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: livetest [--mode MODE] PORTLIFE [TEST...]\n");
		return 2;
	}
	portlife = argv[1];
	if (geteuid() != 0) {
		printf("SKIP live tests: need root (they load BPF programs)\n");
		printf("live: 0 passed, 0 failed, %zu skipped\n", sizeof(tests) / sizeof(tests[0]));
		return 0;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		bool want = argc == 2 && !(mode && tests[i].views);

		for (int k = 2; k < argc; k++)
			want |= !strcmp(argv[k], tests[i].name);
		if (!want)
			continue;
		failmsg[0] = '\0';
		if (tests[i].fn() == 0) {
			printf("PASS %s\n", tests[i].name);
			passed++;
		} else {
			printf("FAIL %s: %s\n", tests[i].name, failmsg);
			failed++;
		}
		fflush(stdout);
	}
	printf("live%s%s: %d passed, %d failed (outputs in %s)\n", mode ? " " : "", mode ? mode : "",
	       passed, failed, tmpdir);
	return failed ? 1 : 0;
}
