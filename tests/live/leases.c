// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Leases that are right in every mode (issue 12): short-lived UDP sockets of
 * every kind, each allocated and released exactly once; a full kernel lease
 * map counted and never turned into false releases; IP_BIND_ADDRESS_NO_PORT
 * clients; bind() errors that are not about ports; and the times of a lease
 * against the workload's own clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "harness.h"
#include "jsonread.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- UDP churn ------------------------------------------------------------ */

#define CHURN 500

enum churn_kind {
	K_BIND4,		/* bind(127.0.0.1:P) */
	K_BIND0_4,		/* bind(127.0.0.1:0) */
	K_CONNECT4,		/* connect(): autobind */
	K_SENDTO4,		/* sendto() on an unbound socket: autobind */
	K_BIND0_6,
	K_CONNECT6,
	K_SENDTO6,
	K_CONNECT_MAPPED,	/* an IPv6 socket to ::ffff:127.0.0.1 */
	K_SENDTO_MAPPED,
	K_NKINDS,
};

static const struct {
	const char *kind;	/* as portlife names it */
	int family;		/* of the socket */
} kinds[K_NKINDS] = {
	[K_BIND4] = { "bind", AF_INET },
	[K_BIND0_4] = { "bind_ephemeral", AF_INET },
	[K_CONNECT4] = { "autobind", AF_INET },
	[K_SENDTO4] = { "autobind", AF_INET },
	[K_BIND0_6] = { "bind_ephemeral", AF_INET6 },
	[K_CONNECT6] = { "autobind", AF_INET6 },
	[K_SENDTO6] = { "autobind", AF_INET6 },
	[K_CONNECT_MAPPED] = { "autobind", AF_INET6 },
	[K_SENDTO_MAPPED] = { "autobind", AF_INET6 },
};

/* The receiving end of kind k's datagrams. */
static socklen_t churn_dst(struct sockaddr_storage *ss, int k, unsigned short port)
{
	socklen_t len = mkaddr(ss, kinds[k].family, port);

	if (k == K_CONNECT_MAPPED || k == K_SENDTO_MAPPED) {
		struct sockaddr_in6 *s6 = (void *)ss;

		inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6->sin6_addr);
	}
	return len;
}

static int churn_one(int k, int i, int sink4, int sink6, struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(kinds[k].family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;
	int sink = kinds[k].family == AF_INET6 && k != K_CONNECT_MAPPED && k != K_SENDTO_MAPPED ?
		   sink6 : sink4;

	if (fd < 0)
		return -errno;
	switch (k) {
	case K_BIND4:
		len = mkaddr(&ss, AF_INET, 20000 + i);
		rc = bind(fd, (void *)&ss, len);
		break;
	case K_BIND0_4:
	case K_BIND0_6:
		len = mkaddr(&ss, kinds[k].family, 0);
		rc = bind(fd, (void *)&ss, len);
		break;
	case K_CONNECT4:
	case K_CONNECT6:
	case K_CONNECT_MAPPED:
		len = churn_dst(&ss, k, sock_port(sink));
		rc = connect(fd, (void *)&ss, len) || send(fd, "x", 1, 0) != 1;
		break;
	default:
		len = churn_dst(&ss, k, sock_port(sink));
		rc = sendto(fd, "x", 1, 0, (void *)&ss, len) != 1;
		break;
	}
	if (rc) {
		rc = -errno;
		close(fd);
		return rc;
	}
	r->kind_n[k]++;
	r->kind_sum[k] += sock_port(fd);
	close(fd);
	return 0;
}

/* no_syscall_hooks: only the kinds that option changes (connect()'s autobind) */
static bool churn_connect_only;

static int sc_udp_churn(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int sink4, sink6, err;
	char b[8];

	if ((err = own_netns()))
		return err;
	sink4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sink6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	if (sink4 < 0 || bind(sink4, (void *)&ss, len))
		return -errno;
	len = mkaddr(&ss, AF_INET6, 0);
	if (sink6 < 0 || bind(sink6, (void *)&ss, len))
		return -errno;
	for (int k = 0; k < K_NKINDS; k++) {
		if (churn_connect_only && k != K_CONNECT4 && k != K_CONNECT6 && k != K_CONNECT_MAPPED)
			continue;
		for (int i = 0; i < CHURN; i++) {
			if ((err = churn_one(k, i, sink4, sink6, r)))
				return err;
			/* keep the sinks' queues short */
			while (recv(sink4, b, sizeof(b), MSG_DONTWAIT) > 0 ||
			       recv(sink6, b, sizeof(b), MSG_DONTWAIT) > 0)
				;
			/*
			 * Let the freed sockets' RCU grace period pass now and then:
			 * the next socket then often gets a freed one's memory, which
			 * is what a lease keyed by the socket's address must survive.
			 */
			if (i % 4 == 3)
				usleep(200);
		}
	}
	/* the sinks are leases too (bind(0)): closed here, counted as such */
	r->kind_n[K_BIND0_4]++;
	r->kind_sum[K_BIND0_4] += sock_port(sink4);
	r->kind_n[K_BIND0_6]++;
	r->kind_sum[K_BIND0_6] += sock_port(sink6);
	close(sink4);
	close(sink6);
	return 0;
}

/*
 * Every kind of UDP lease, 500 short-lived sockets each: allocated and
 * released exactly once, with the ports getsockname() gave (their sum per
 * kind and family), and nothing untracked.
 */
static int udp_churn_check(char *const extra[], const char *name)
{
	long long n[3][2] = {}, sum[3][2] = {}, want_n[3][2] = {}, want_sum[3][2] = {};
	static const char *const knames[3] = { "bind", "bind_ephemeral", "autobind" };
	struct run run;
	int err;

	err = start(&run, sc_udp_churn, name, extra);
	if (!err)
		err = drive(&run);
	stop(&run, 1200);
	for (int k = 0; !err && k < K_NKINDS; k++) {
		int ki = !strcmp(kinds[k].kind, "bind") ? 0 :
			 !strcmp(kinds[k].kind, "bind_ephemeral") ? 1 : 2;
		int fi = kinds[k].family == AF_INET6;

		want_n[ki][fi] += run.r.kind_n[k];
		want_sum[ki][fi] += run.r.kind_sum[k];
	}
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];
		long long lease;

		if (!is_event(l, "alloc") || jnum(l, "pid") != run.child || !jstr_is(l, "proto", "udp"))
			continue;
		if (jfind(l, "error"))
			err = fail("a UDP allocation failed: %s", l);
		for (int ki = 0; !err && ki < 3; ki++) {
			int fi = jnum(l, "family") == 6;

			if (!jstr_is(l, "kind", knames[ki]))
				continue;
			n[ki][fi]++;
			sum[ki][fi] += jnum(l, "lport");
		}
		lease = jnum(l, "lease");
		if (!err && count_lease_ev(&run, "release", lease, NULL) != 1)
			err = fail("UDP lease %lld (port %lld) released %d times: %s", lease,
				   jnum(l, "lport"), count_lease_ev(&run, "release", lease, NULL), l);
	}
	for (int ki = 0; !err && ki < 3; ki++)
		for (int fi = 0; !err && fi < 2; fi++)
			if (n[ki][fi] != want_n[ki][fi] || sum[ki][fi] != want_sum[ki][fi])
				err = fail("%s IPv%d: %lld leases reported (port sum %lld), the child "
					   "made %lld (port sum %lld)", knames[ki], fi ? 6 : 4,
					   n[ki][fi], sum[ki][fi], want_n[ki][fi], want_sum[ki][fi]);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "totals") && jnum(run.lines[i], "untracked") != 0)
			err = fail("leases untracked: %s", run.lines[i]);
	cleanup(&run);
	return err;
}

static int t_udp_churn(void)
{
	return udp_churn_check(NULL, "udp_churn");
}

/* ---- a full kernel lease map ---------------------------------------------- */

#define HELD 3000

/*
 * Room for need open files: a minimal init (the VMs) leaves the soft limit
 * at 1024, so take the hard one.
 */
static int nofile_for(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max < need)
		return -EMFILE;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int sc_udp_held(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);
	int err;

	if ((err = own_netns()))
		return err;
	if ((err = nofile_for(HELD + 64)))
		return err;
	/* open until portlife has stopped: the child exits after that */
	for (int i = 0; i < HELD; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || bind(fd, (void *)&ss, len))
			return -errno;
		r->nsucc++;
	}
	return 0;
}

/*
 * 3000 open sockets against a kernel map of 1024 (--max-leases 4096, in the
 * exact modes; the tracepoint mode keeps leases in the sockets and has room
 * for all): every one is either reported or counted as untracked, and none
 * is released while it is open.
 */
static int t_untracked(void)
{
	char *extra[] = { "--max-leases", "4096", NULL };
	long long allocs = 0, untracked = -1;
	struct run run;
	int err;

	err = start(&run, sc_udp_held, "untracked", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 1200);
	for (int i = 0; i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jnum(l, "pid") == run.child && !jfind(l, "error"))
			allocs++;
		if (is_event(l, "totals"))
			untracked = jnum(l, "untracked");
	}
	if (!err && count_ev(&run, "release", run.child, -1, NULL))
		err = fail("%d releases of sockets that were all still open",
			   count_ev(&run, "release", run.child, -1, NULL));
	if (!err && untracked < 0)
		err = fail("no untracked count in the totals");
	if (!err && allocs + untracked != run.r.nsucc)
		err = fail("%lld reported + %lld untracked, the child holds %d", allocs, untracked,
			   run.r.nsucc);
	if (!err && mode && strcmp(mode, "tracepoint") && (!untracked || allocs > 1024))
		err = fail("a map of 1024 took %lld leases (%lld untracked)", allocs, untracked);
	cleanup(&run);
	return err;
}

#define HELD_TCP 1100

/*
 * HELD_TCP connections open at once (connect() without bind()), then each
 * closed by the server first: the client ends leave no TIME_WAIT.
 */
static int sc_tcp_held(struct result *r)
{
	static int cfd[HELD_TCP], afd[HELD_TCP];
	int lfd, err;
	char b;

	if ((err = own_netns()))
		return err;
	if ((err = nofile_for(2 * HELD_TCP + 64)))
		return err;
	lfd = listener(AF_INET, 0);
	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < HELD_TCP; i++) {
		cfd[i] = connect_to(AF_INET, r->listen_port, 0, 0);
		if (cfd[i] < 0)
			return cfd[i];
		afd[i] = accept(lfd, NULL, NULL);
		if (afd[i] < 0)
			return -errno;
		r->ports[r->nports++] = sock_port(cfd[i]);
	}
	/* the server ends first, all at once: no wait for each FIN in turn */
	for (int i = 0; i < HELD_TCP; i++)
		close(afd[i]);
	for (int i = 0; i < HELD_TCP; i++) {
		if (read(cfd[i], &b, 1) != 0)
			return -EPROTO;
		close(cfd[i]);
	}
	close(lfd);
	return 0;
}

/*
 * 1100 TCP connections open at once against a kernel map of 1024
 * (--max-leases 4096). The tracepoint mode keeps a connect()ing socket's
 * lease in that map, and in the socket's own storage when the map is full:
 * every port reported with its latency and released once, none untracked.
 * The exact modes: every connection reported or counted as untracked.
 */
static int t_untracked_tcp(void)
{
	char *extra[] = { "--max-leases", "4096", NULL };
	/* by port: the lease reported for it (0: none), and its releases */
	static long long lease[65536];
	static unsigned char released[65536];
	long long allocs = 0, untracked = -1;
	struct run run;
	bool tp;
	int err;

	memset(lease, 0, sizeof(lease));
	memset(released, 0, sizeof(released));
	err = start(&run, sc_tcp_held, "untracked_tcp", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 1200);
	tp = file_has(run.err, "mode tracepoint");
	for (int i = 0; i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jnum(l, "pid") == run.child && !jfind(l, "error") &&
		    jstr_is(l, "kind", "connect") && jnum(l, "rport") == run.r.listen_port &&
		    jnum(l, "latency_ns") > 0) {
			allocs++;
			lease[jnum(l, "lport") & 0xffff] = jnum(l, "lease");
		}
		if (is_event(l, "totals"))
			untracked = jnum(l, "untracked");
	}
	/* one pass, not check_connects(): that one is quadratic, and slow in a TCG guest */
	for (int i = 0; i < run.nlines; i++) {
		const char *l = run.lines[i];
		int port;

		if (!is_event(l, "release"))
			continue;
		port = jnum(l, "lport") & 0xffff;
		if (lease[port] && jnum(l, "lease") == lease[port] && jstr_is(l, "reason", "close"))
			released[port]++;
	}
	if (!err && run.r.nports != HELD_TCP)
		err = fail("the scenario made %d connections, want %d", run.r.nports, HELD_TCP);
	if (!err && untracked < 0)
		err = fail("no untracked count in the totals");
	if (!err && tp && untracked)
		err = fail("tracepoint mode: %lld leases untracked, want 0 (the sockets keep what "
			   "the map of 1024 has no room for)", untracked);
	for (int i = 0; !err && tp && i < run.r.nports; i++) {
		int port = run.r.ports[i];

		if (!lease[port] || released[port] != 1)
			err = fail("port %d: %s, released %d times (want one alloc with its latency, "
				   "one release by close)", port, lease[port] ? "reported" : "no alloc",
				   released[port]);
	}
	if (!err && allocs + untracked != HELD_TCP)
		err = fail("%lld reported + %lld untracked, the child made %d", allocs, untracked,
			   HELD_TCP);
	cleanup(&run);
	return err;
}

/* ---- IP_BIND_ADDRESS_NO_PORT ------------------------------------------- */

static int sc_no_port(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, one = 1, err;

	if ((err = own_netns()))
		return err;
	lfd = listener(AF_INET, 0);
	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < 5; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;
		char b;

		len = mkaddr(&ss, AF_INET, 0);
		if (c < 0 || setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
		    bind(c, (void *)&ss, len))
			return -errno;
		if (sock_port(c))
			return -EPROTO;	/* the kernel took a port at bind after all */
		len = mkaddr(&ss, AF_INET, r->listen_port);
		if (connect(c, (void *)&ss, len))
			return -errno;
		r->ports[r->nports++] = sock_port(c);
		a = accept(lfd, NULL, NULL);
		close(a);
		if (read(c, &b, 1) != 0)
			return -EPROTO;
		close(c);
	}
	close(lfd);
	return 0;
}

/*
 * bind((ip, 0)) with IP_BIND_ADDRESS_NO_PORT takes no port: no allocation
 * at bind, and the port comes from connect(), with its latency; nothing
 * tells the process to set the option it sets already.
 */
static int t_no_port(void)
{
	struct run run;
	int err;

	err = start(&run, sc_no_port, "no_port", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jnum(l, "pid") == run.child && jnum(l, "lport") == 0)
			err = fail("an allocation of port 0: %s", l);
		if (is_event(l, "summary") && jnum(l, "pid") == run.child &&
		    (jnum(l, "bind_then_connect") != 0 || strstr(l, "IP_BIND_ADDRESS_NO_PORT")))
			err = fail("the remedy tells it to set what it sets: %s", l);
	}
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *a = NULL;

		if (count_ev(&run, "alloc", run.child, run.r.ports[i], &a) != 1)
			err = fail("port %d: %d allocations, want 1", run.r.ports[i],
				   count_ev(&run, "alloc", run.child, run.r.ports[i], NULL));
		else if (!jstr_is(a, "kind", "connect") || jnum(a, "latency_ns") <= 0)
			err = fail("port %d: not a connect allocation with its latency: %s",
				   run.r.ports[i], a);
	}
	cleanup(&run);
	return err;
}

/* ---- bind() errors that are not about ports --------------------------------- */

static int sc_bind_errors(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int a, b, c, err;

	if ((err = own_netns()))
		return err;
	/* 192.0.2.1 (TEST-NET-1) is nobody's address: EADDRNOTAVAIL, no port looked for */
	a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	inet_pton(AF_INET, "192.0.2.1", &((struct sockaddr_in *)&ss)->sin_addr);
	if (!bind(a, (void *)&ss, len) || errno != EADDRNOTAVAIL)
		return -EPROTO;
	/* a second bind of a bound socket: EINVAL */
	len = mkaddr(&ss, AF_INET, 0);
	if (bind(a, (void *)&ss, len))
		return -errno;
	r->bound_port = sock_port(a);
	if (listen(a, 4))
		return -errno;
	if (!bind(a, (void *)&ss, len) || errno != EINVAL)
		return -EPROTO;
	/* and one that is about a port: EADDRINUSE */
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, r->bound_port);
	if (!bind(b, (void *)&ss, len) || errno != EADDRINUSE)
		return -EPROTO;
	/* UDP: the same non-local address */
	c = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	inet_pton(AF_INET, "192.0.2.1", &((struct sockaddr_in *)&ss)->sin_addr);
	if (!bind(c, (void *)&ss, len) || errno != EADDRNOTAVAIL)
		return -EPROTO;
	close(a);
	close(b);
	close(c);
	return 0;
}

/* What a run of sc_bind_errors must have reported: every errno, each once. */
static int bind_errors_seen(struct run *run)
{
	const char *l, *ev[3] = {};
	int err = 0, nbe = 0;

	for (int i = 0; !err && i < run->nlines; i++) {
		l = run->lines[i];
		if (jnum(l, "pid") != run->child)
			continue;
		if (is_event(l, "bind_error")) {
			nbe++;
			if (jstr_is(l, "error", "EADDRNOTAVAIL") && jstr_is(l, "laddr", "192.0.2.1"))
				ev[jstr_is(l, "proto", "udp") ? 2 : 0] = l;
			else if (jstr_is(l, "error", "EINVAL") && jnum(l, "lport") == 0)
				ev[1] = l;
		}
		if (is_event(l, "alloc") && jfind(l, "error") && !jstr_is(l, "error", "EADDRINUSE"))
			err = fail("a bind error counted as an allocation failure: %s", l);
		if (is_event(l, "diagnosis") && !jstr_is(l, "error", "EADDRINUSE"))
			err = fail("a bind error diagnosed as exhaustion: %s", l);
		if (is_event(l, "summary") &&
		    (jnum(l, "failures") != 1 || jnum(l, "bind_errors") != 3))
			err = fail("the summary counts %lld failures (want 1, the EADDRINUSE) and "
				   "%lld bind errors (want 3): %s", jnum(l, "failures"),
				   jnum(l, "bind_errors"), l);
	}
	if (!err && (!ev[0] || !ev[1] || !ev[2] || nbe != 3))
		err = fail("%d bind_error events; missing: %s%s%s", nbe,
			   ev[0] ? "" : "TCP EADDRNOTAVAIL ", ev[1] ? "" : "EINVAL ",
			   ev[2] ? "" : "UDP EADDRNOTAVAIL");
	if (!err && count_ev(run, "alloc", run->child, run->r.bound_port, &l) < 2)
		err = fail("no EADDRINUSE allocation failure on port %d", run->r.bound_port);
	return err;
}

static int t_bind_errors(void)
{
	struct run run;
	int err;

	err = start(&run, sc_bind_errors, "bind_errors", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	if (!err)
		err = bind_errors_seen(&run);
	cleanup(&run);
	return err;
}

/* The child's summary says it holds nothing at exit: every lease ended. */
/* 20 ms of slack on a release, and on a hold: TCG, or a busy host */
#define HOLD_SLACK_NS 20000000LL

/*
 * Lease i of the scenario (r.hold_port[i]): its allocation a within the
 * call that made it (call: its name), its release rel within its close().
 */
static int in_call_windows(const struct run *run, int i, const char *a, const char *rel,
			   const char *call)
{
	const struct result *r = &run->r;
	long long at = jnum(a, "ts_ns"), rt = jnum(rel, "ts_ns");

	if (at < r->t_open0[i] || at > r->t_open1[i])
		return fail("port %d: allocated at %lld, outside %s [%lld, %lld]", r->hold_port[i],
			    at, call, r->t_open0[i], r->t_open1[i]);
	if (rt < r->t_close0[i] || rt > r->t_close1[i] + HOLD_SLACK_NS)
		return fail("port %d: released at %lld, outside close() [%lld, %lld] + 20 ms",
			    r->hold_port[i], rt, r->t_close0[i], r->t_close1[i]);
	return 0;
}

/*
 * Each of the run's holds is one allocation of kind, no error, released
 * once, both within their calls (call: the allocating one, for messages).
 */
static int holds_are_leases(struct run *run, const char *kind, const char *call)
{
	int err = 0;

	for (int i = 0; !err && i < run->r.nhold; i++) {
		int port = run->r.hold_port[i];
		const char *a = NULL, *rel = NULL;

		if (count_ev(run, "alloc", run->child, port, &a) != 1 ||
		    !jstr_is(a, "kind", kind) || jfind(a, "error"))
			return fail("port %d: not one %s allocation by %s: %s", port, kind, call,
				    a ? a : "none");
		if (count_lease_ev(run, "release", jnum(a, "lease"), &rel) != 1)
			return fail("port %d: released %d times, want 1", port,
				    count_lease_ev(run, "release", jnum(a, "lease"), NULL));
		err = in_call_windows(run, i, a, rel, call);
	}
	return err;
}

static int none_held(struct run *run)
{
	for (int i = 0; i < run->nlines; i++)
		if (is_event(run->lines[i], "summary") && jnum(run->lines[i], "pid") == run->child &&
		    jnum(run->lines[i], "held") != 0)
			return fail("leases still held at exit: %s", run->lines[i]);
	return 0;
}

/* ---- UDP sockets that give their port back before close ---------------------- */

enum { DK_AUTOBIND, DK_BIND, DK_BIND_EPHEMERAL };
static const char *const dis_kinds[] = { "autobind", "bind", "bind_ephemeral" };

/* A lease of the scenario: its port, kind, and the window its release falls in. */
static void dis_note(struct result *r, int fd, int kind)
{
	r->dis_port[r->ndis] = sock_port(fd);
	r->dis_kind[r->ndis] = kind;
	r->ndis++;
}

/* connect(AF_UNSPEC): a UDP socket whose port bind() did not name gives it back */
static int disconnect(int fd)
{
	struct sockaddr un = { .sa_family = AF_UNSPEC };

	return connect(fd, &un, sizeof(un)) ? -errno : 0;
}

/* bind fd to port exactly (a port another socket just gave back: it is free) */
static int bind_port(int fd, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, port);

	return bind(fd, (void *)&ss, len) ? -errno : 0;
}

static int sc_udp_disconnect(struct result *r)
{
	struct sockaddr_storage dst, any;
	socklen_t dlen, alen;
	int u, h1, v, h2, w, err, i;
	char b = 0;

	if ((err = own_netns()))
		return err;
	dlen = mkaddr(&dst, AF_INET, 9);
	alen = mkaddr(&any, AF_INET, 0);
	/* 1: connect() autobinds; a disconnect; connect() again autobinds anew */
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u < 0 || connect(u, (void *)&dst, dlen))
		return -errno;
	i = r->ndis;
	dis_note(r, u, DK_AUTOBIND);
	sleep_ms(20);
	r->dis_rel0[i] = now_ns();
	if ((err = disconnect(u)))
		return err;
	if (sock_port(u))
		return -EPROTO;	/* the kernel kept it: not what this tests */
	/* the port given back is now pinned by another socket: the next one differs */
	h1 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (h1 < 0 || (err = bind_port(h1, r->dis_port[i])))
		return h1 < 0 ? -errno : err;
	sleep_ms(20);
	if (connect(u, (void *)&dst, dlen))
		return -errno;
	r->dis_rel1[i] = now_ns();
	i = r->ndis;
	dis_note(r, u, DK_AUTOBIND);
	sleep_ms(20);
	r->dis_rel0[i] = now_ns();
	close(u);
	r->dis_rel1[i] = now_ns();
	/* 2: an unconnected send autobinds; a disconnect; the next send autobinds anew */
	v = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (v < 0 || sendto(v, &b, 1, 0, (void *)&dst, dlen) != 1)
		return -errno;
	i = r->ndis;
	dis_note(r, v, DK_AUTOBIND);
	sleep_ms(20);
	r->dis_rel0[i] = now_ns();
	if ((err = disconnect(v)))
		return err;
	h2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (h2 < 0 || (err = bind_port(h2, r->dis_port[i])))
		return h2 < 0 ? -errno : err;
	sleep_ms(20);
	if (sendto(v, &b, 1, 0, (void *)&dst, dlen) != 1)
		return -errno;
	r->dis_rel1[i] = now_ns();
	i = r->ndis;
	dis_note(r, v, DK_AUTOBIND);
	r->dis_rel0[i] = now_ns();
	close(v);
	r->dis_rel1[i] = now_ns();
	/* 3: bind(0) does not pin its port: a disconnect gives it back */
	w = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (w < 0 || bind(w, (void *)&any, alen) || connect(w, (void *)&dst, dlen))
		return -errno;
	i = r->ndis;
	dis_note(r, w, DK_BIND_EPHEMERAL);
	sleep_ms(20);
	r->dis_rel0[i] = now_ns();
	if ((err = disconnect(w)))
		return err;
	sleep_ms(20);
	close(w);
	r->dis_rel1[i] = now_ns();
	/*
	 * 5: send() with no address fails (EDESTADDRREQ) after the kernel
	 * autobound the socket, before any hook: the port is held until close
	 */
	w = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (w < 0 || send(w, &b, 1, 0) != -1 || errno != EDESTADDRREQ)
		return w < 0 ? -errno : -EPROTO;
	i = r->ndis;
	if (sock_port(w))
		dis_note(r, w, DK_AUTOBIND);
	sleep_ms(20);
	if (r->ndis > i)
		r->dis_rel0[i] = now_ns();
	close(w);
	if (r->ndis > i)
		r->dis_rel1[i] = now_ns();
	/*
	 * 6: connect(), connect() elsewhere (the port kept: without the syscall
	 * hooks its allocation is learnt there), a disconnect gives it back
	 */
	w = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (w < 0 || connect(w, (void *)&dst, dlen))
		return -errno;
	i = r->ndis;
	dis_note(r, w, DK_AUTOBIND);
	{
		struct sockaddr_storage other;
		socklen_t olen = mkaddr(&other, AF_INET, 10);

		if (connect(w, (void *)&other, olen) || sock_port(w) != r->dis_port[i])
			return -EPROTO;
	}
	sleep_ms(20);
	r->dis_rel0[i] = now_ns();
	if ((err = disconnect(w)))
		return err;
	sleep_ms(20);
	close(w);
	r->dis_rel1[i] = now_ns();
	/* 4: an explicit bind() pins it: kept through a disconnect, given back at close */
	for (int k = 0; k < 2; k++) {
		int h = k ? h2 : h1;

		if (connect(h, (void *)&dst, dlen) || (err = disconnect(h)))
			return err ? err : -errno;
		if (!sock_port(h))
			return -EPROTO;
		i = r->ndis;
		dis_note(r, h, DK_BIND);
		sleep_ms(20);
		r->dis_rel0[i] = now_ns();
		close(h);
		r->dis_rel1[i] = now_ns();
	}
	return 0;
}

/*
 * A UDP socket's port given back before its close: by connect(AF_UNSPEC)
 * after a connect() or a send autobound it, or after a bind(0). The kernel's
 * next port for the socket is a new lease. And a port taken by an autobind
 * whose send() failed before any hook saw it: a lease too, until close. Every lease is allocated and
 * released once, the release no later than the socket's next call (the
 * tracepoint mode, which no hook tells of a disconnect, learns it there; the
 * exact modes at the disconnect). Before this, the tracepoint mode kept such
 * a lease held until portlife exited, and never saw the socket's next port.
 * --no-syscall-hooks: a connect()'s port is told at close, so the first
 * lease (autobound by connect(), given back before the close) goes unseen.
 */
static int udp_disconnect_check(char *const extra[], const char *name)
{
	bool nosys = extra && extra[0] && !strcmp(extra[0], "--no-syscall-hooks");
	bool tp = false;
	struct run run;
	int err;

	err = start(&run, sc_udp_disconnect, name, extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "start"))
			tp = jstr_is(run.lines[i], "mode", "tracepoint");
	for (int i = 0; !err && i < run.r.ndis; i++) {
		const char *kind = dis_kinds[run.r.dis_kind[i]], *a = NULL, *rel = NULL;
		int port = run.r.dis_port[i], n = 0;
		long long rt;

		for (int k = 0; k < run.nlines; k++) {
			const char *l = run.lines[k];

			if (is_event(l, "alloc") && jnum(l, "pid") == run.child &&
			    jnum(l, "lport") == port && jstr_is(l, "kind", kind)) {
				a = l;
				n++;
			}
		}
		if (i == 0 && nosys && tp) {
			if (n)
				err = fail("port %d: a connect()'s port given back before close, "
					   "reported without the exit hook: %s", port, a);
			continue;
		}
		if (n != 1) {
			err = fail("port %d (%s): %d allocations reported, want 1", port, kind, n);
			break;
		}
		if (count_lease_ev(&run, "release", jnum(a, "lease"), &rel) != 1) {
			err = fail("port %d (%s): released %d times, want 1", port, kind,
				   count_lease_ev(&run, "release", jnum(a, "lease"), NULL));
			break;
		}
		rt = jnum(rel, "ts_ns");
		if (rt < run.r.dis_rel0[i] || rt > run.r.dis_rel1[i] + HOLD_SLACK_NS)
			err = fail("port %d (%s): released at %lld, outside [%lld, %lld] + 20 ms",
				   port, kind, rt, run.r.dis_rel0[i], run.r.dis_rel1[i]);
	}
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

static int t_udp_disconnect(void)
{
	char *const extra[] = { "--no-syscall-hooks", NULL };
	int err = udp_disconnect_check(NULL, "udp_disconnect");

	return err ? err : udp_disconnect_check(extra, "nosys_udp_disconnect");
}

/* ---- UDP sockets made before portlife started --------------------------------- */

/*
 * Made before portlife starts (child_pre), in the child's own namespace:
 * pre[0] IPv4 and pre[1] IPv6 unbound, pre[2] bound, pre[3] autobound by a
 * send, pre[4] IPv6 bound (a server answering with unconnected sends).
 */
static int pre_fd[5];

static int pre_udp_sockets(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char b = 0;
	int err;

	if ((err = own_netns()))
		return err;
	for (int i = 0; i < 5; i++) {
		pre_fd[i] = socket(i == 1 || i == 4 ? AF_INET6 : AF_INET,
				   SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (pre_fd[i] < 0)
			return -errno;
	}
	len = mkaddr(&ss, AF_INET, 0);
	if (bind(pre_fd[2], (void *)&ss, len))
		return -errno;
	len = mkaddr(&ss, AF_INET6, 0);
	if (bind(pre_fd[4], (void *)&ss, len))
		return -errno;
	len = mkaddr(&ss, AF_INET, 9);
	if (sendto(pre_fd[3], &b, 1, 0, (void *)&ss, len) != 1)
		return -errno;
	for (int i = 0; i < 5; i++)
		r->pre_port[i] = sock_port(pre_fd[i]);
	return r->pre_port[0] || r->pre_port[1] || !r->pre_port[2] || !r->pre_port[3] ||
	       !r->pre_port[4] ? -EPROTO : 0;
}

/* A send from pre_fd[i] to loopback port 9 of its family, timed as hold i. */
static int pre_send(struct result *r, int i, bool hold)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, i == 1 || i == 4 ? AF_INET6 : AF_INET, 9);
	long long t0 = now_ns();
	char b = 0;

	if (sendto(pre_fd[i], &b, 1, 0, (void *)&ss, len) != 1)
		return -errno;
	if (hold) {
		r->t_open0[r->nhold] = t0;
		r->t_open1[r->nhold] = now_ns();
		r->hold_port[r->nhold++] = sock_port(pre_fd[i]);
	}
	return 0;
}

static int sc_udp_preexisting(struct result *r)
{
	int err;

	/* the unbound ones autobind in these sends: two leases */
	if ((err = pre_send(r, 0, true)) || (err = pre_send(r, 1, true)))
		return err;
	/* bound before: the sends take nothing */
	if ((err = pre_send(r, 2, false)) || (err = pre_send(r, 4, false)) ||
	    (err = pre_send(r, 4, false)))
		return err;
	/* autobound before; a disconnect gives that port back, the next send takes another */
	if ((err = disconnect(pre_fd[3])))
		return err;
	if (sock_port(pre_fd[3]))
		return -EPROTO;
	if ((err = pre_send(r, 3, true)))
		return err;
	sleep_ms(20);
	for (int i = 0; i < 5; i++) {
		/* holds 0, 1, 2 are pre_fd[0], pre_fd[1], pre_fd[3] */
		int k = i == 3 ? 2 : i;
		long long t0 = now_ns();

		close(pre_fd[i]);
		if (k <= 2) {
			r->t_close0[k] = t0;
			r->t_close1[k] = now_ns();
		}
	}
	return 0;
}

/*
 * A UDP socket made before portlife started and still unbound then takes
 * its port in a send while tracing: one autobind lease, allocated within the
 * send, released within the close, IPv4 and IPv6; so does one that had a
 * port then, gave it back by a disconnect, and sends again. Ports held
 * before the start are no leases: their sends and closes report nothing.
 * Before this the tracepoint mode saw none of the three (the send's hook
 * could not tell such a socket from one bound before the start).
 */
static int t_udp_preexisting(void)
{
	struct run run;
	int err;

	child_pre = pre_udp_sockets;
	err = start(&run, sc_udp_preexisting, "udp_preexisting", NULL);
	child_pre = NULL;
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	if (!err)
		err = holds_are_leases(&run, "autobind", "sendto()");
	/* the ports held before the start: nothing at all */
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];
		int port = (int)jnum(l, "lport");

		if (jnum(l, "pid") != run.child || !(is_event(l, "alloc") || is_event(l, "release")))
			continue;
		if (port == run.r.pre_port[2] || port == run.r.pre_port[4] ||
		    (port == run.r.pre_port[3] && port != run.r.hold_port[2]))
			err = fail("port %d, held before portlife started, reported: %s", port, l);
	}
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

/* ---- TCP sockets bound before portlife started --------------------------------- */

/*
 * Made before portlife starts, in the child's own namespace: listeners on
 * IPv4 and IPv6 loopback, and clients bound then: pre_tcp[0] by bind(0),
 * pre_tcp[1] to a port it names (a client with a fixed source port),
 * pre_tcp[2] IPv6 by bind(0), pre_tcp[3] with IP_BIND_ADDRESS_NO_PORT (an
 * address, no port yet), pre_tcp[4] by bind(0), to listen() while tracing.
 */
static int pre_tcp[5], pre_lfd[2];

static int pre_tcp_sockets(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	if ((err = own_netns()))
		return err;
	if ((pre_lfd[0] = listener(AF_INET, 0)) < 0 || (pre_lfd[1] = listener(AF_INET6, 0)) < 0)
		return -errno;
	r->listen_port = sock_port(pre_lfd[0]);
	r->bound_port = sock_port(pre_lfd[1]);
	if ((pre_tcp[0] = bound_socket(AF_INET, 0)) < 0)
		return pre_tcp[0];
	/* a port named: one in the range that bind(0) just gave, free again */
	if ((pre_tcp[1] = bound_socket(AF_INET, 0)) < 0)
		return pre_tcp[1];
	r->pre_port[1] = sock_port(pre_tcp[1]);
	close(pre_tcp[1]);
	if ((pre_tcp[1] = bound_socket(AF_INET, r->pre_port[1])) < 0)
		return pre_tcp[1];
	if ((pre_tcp[2] = bound_socket(AF_INET6, 0)) < 0)
		return pre_tcp[2];
	pre_tcp[3] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (pre_tcp[3] < 0 ||
	    setsockopt(pre_tcp[3], IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)))
		return -errno;
	len = mkaddr(&ss, AF_INET, 0);
	if (bind(pre_tcp[3], (void *)&ss, len))
		return -errno;
	if ((pre_tcp[4] = bound_socket(AF_INET, 0)) < 0)
		return pre_tcp[4];
	for (int i = 0; i < 5; i++)
		r->pre_port[i] = sock_port(pre_tcp[i]);
	return !r->pre_port[0] || !r->pre_port[1] || !r->pre_port[2] || r->pre_port[3] ||
	       !r->pre_port[4] ? -EPROTO : 0;
}

/* Each connects (and is answered), then all end with a reset: released at the close. */
static int sc_tcp_prebound(struct result *r)
{
	int acc[4];

	for (int i = 0; i < 4; i++) {
		int fam = i == 2 ? AF_INET6 : AF_INET;
		struct sockaddr_storage ss;
		socklen_t len = mkaddr(&ss, fam, fam == AF_INET6 ? r->bound_port : r->listen_port);

		r->t_open0[i] = now_ns();
		if (connect(pre_tcp[i], (void *)&ss, len))
			return -errno;
		r->t_open1[i] = now_ns();
		r->hold_port[i] = sock_port(pre_tcp[i]);
		acc[i] = accept(pre_lfd[fam == AF_INET6], NULL, NULL);
		if (acc[i] < 0)
			return -errno;
	}
	r->nhold = 4;
	sleep_ms(50);
	for (int i = 0; i < 4; i++) {
		r->t_close0[i] = now_ns();
		rst_close(pre_tcp[i]);
		r->t_close1[i] = now_ns();
		close(acc[i]);
	}
	close(pre_lfd[0]);
	close(pre_lfd[1]);
	/* a listener on its port bound before: listen() checks the port, takes none */
	if (listen(pre_tcp[4], 4))
		return -errno;
	sleep_ms(50);
	close(pre_tcp[4]);
	sleep_ms(50);
	return 0;
}

/*
 * A TCP socket bound before portlife started, connect()ing while it traces,
 * takes no port: no allocation is told (it was one, with a search latency,
 * "connect in 30us", in every mode, and its bind(0) or named port counted as
 * the connect()'s), but the connection is followed: state changes under a
 * lease, and one release at its close, told as allocated before tracing (no
 * hold time). A socket with only an address then (IP_BIND_ADDRESS_NO_PORT)
 * takes its port in the connect(): one allocation. A socket bound before
 * that listen()s while tracing takes no port either (the exact modes told
 * listen()'s check of it as a bind() allocation).
 */
static int t_tcp_prebound(void)
{
	struct run run;
	int err;

	child_pre = pre_tcp_sockets;
	err = start(&run, sc_tcp_prebound, "tcp_prebound", NULL);
	child_pre = NULL;
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	for (int i = 0; !err && i < 3; i++) {
		int port = run.r.hold_port[i];
		const char *a = NULL, *st = NULL, *rel = NULL;

		if (port != run.r.pre_port[i])
			err = fail("socket %d: port %d after connect(), %d before", i, port,
				   run.r.pre_port[i]);
		else if (count_ev(&run, "alloc", run.child, port, &a))
			err = fail("port %d, bound before portlife started, told as allocated: %s",
				   port, a);
		else if (!count_ev(&run, "state", run.child, port, &st) || jnum(st, "lease") <= 0)
			err = fail("port %d: its connection's state changes not told under a lease",
				   port);
		else if (count_lease_ev(&run, "release", jnum(st, "lease"), &rel) != 1)
			err = fail("port %d: released %d times, want 1", port,
				   count_lease_ev(&run, "release", jnum(st, "lease"), NULL));
		else if (jnum(rel, "lport") != port || jfind(rel, "hold_ns") ||
			 !jstr_is(rel, "reason", "close"))
			err = fail("port %d: not a close of a port allocated before tracing: %s",
				   port, rel);
		else if (jnum(rel, "ts_ns") < run.r.t_close0[i] ||
			 jnum(rel, "ts_ns") > run.r.t_close1[i] + HOLD_SLACK_NS)
			err = fail("port %d: released at %lld, outside its close [%lld, %lld]", port,
				   jnum(rel, "ts_ns"), run.r.t_close0[i], run.r.t_close1[i]);
	}
	if (!err && count_ev(&run, "alloc", run.child, run.r.pre_port[4], NULL))
		err = fail("port %d, bound before portlife started, told as allocated by listen()",
			   run.r.pre_port[4]);
	if (!err) {
		/* the address-only one: its port taken by connect() */
		run.r.nhold = 1;
		run.r.hold_port[0] = run.r.hold_port[3];
		run.r.t_open0[0] = run.r.t_open0[3];
		run.r.t_open1[0] = run.r.t_open1[3];
		run.r.t_close0[0] = run.r.t_close0[3];
		run.r.t_close1[0] = run.r.t_close1[3];
		err = holds_are_leases(&run, "connect", "connect()");
	}
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child &&
		    jnum(run.lines[i], "allocs") != 1)
			err = fail("the summary counts %lld allocations, want 1: %s",
				   jnum(run.lines[i], "allocs"), run.lines[i]);
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

/* ---- connect() through io_uring: no syscall, no exit tracepoint ---------------- */

/* IORING_OP_BIND, from 6.11; this system's headers may be older */
#define PL_IORING_OP_BIND 56

/*
 * One IORING_OP_CONNECT or IORING_OP_BIND on a ring of its own (no liburing:
 * the raw calls), issued inline by this thread: the call's result, 0 or
 * -errno (-EINVAL for an opcode the kernel does not know).
 */
static int uring_call(int op, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct io_uring_params p = {};
	int ring = syscall(__NR_io_uring_setup, 2, &p), res = -ENOMEM;
	size_t sqsz, cqsz, sqesz;
	struct io_uring_sqe *sqes;
	unsigned int *tail, idx;
	char *sq, *cq;

	if (ring < 0)
		return -errno;
	sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sqesz = p.sq_entries * sizeof(*sqes);
	sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		  IORING_OFF_CQ_RING);
	sqes = mmap(NULL, sqesz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
		    IORING_OFF_SQES);
	if (sq != MAP_FAILED && cq != MAP_FAILED && sqes != MAP_FAILED) {
		tail = (unsigned int *)(sq + p.sq_off.tail);
		idx = *tail & *(unsigned int *)(sq + p.sq_off.ring_mask);
		memset(&sqes[idx], 0, sizeof(sqes[idx]));
		sqes[idx].opcode = op;
		sqes[idx].fd = fd;
		sqes[idx].addr = (unsigned long)sa;
		if (op == IORING_OP_CONNECT)
			sqes[idx].off = len;
		else
			sqes[idx].addr2 = len;
		((unsigned int *)(sq + p.sq_off.array))[idx] = idx;
		__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
		if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) {
			res = -errno;
		} else {
			unsigned int head = __atomic_load_n((unsigned int *)(cq + p.cq_off.head),
							    __ATOMIC_ACQUIRE);
			struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

			res = cqes[head & *(unsigned int *)(cq + p.cq_off.ring_mask)].res;
		}
	}
	if (sq != MAP_FAILED)
		munmap(sq, sqsz);
	if (cq != MAP_FAILED)
		munmap(cq, cqsz);
	if (sqes != MAP_FAILED)
		munmap(sqes, sqesz);
	close(ring);
	return res;
}

static int sc_udp_io_uring(struct result *r)
{
	struct sockaddr_storage ss;
	int u[2], lfd, c, err;
	socklen_t len;

	if ((err = own_netns()))
		return err;
	if ((lfd = listener(AF_INET, 0)) < 0)
		return lfd;
	for (int i = 0; i < 2; i++) {
		int fam = i ? AF_INET6 : AF_INET;

		u[i] = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (u[i] < 0)
			return -errno;
		len = mkaddr(&ss, fam, 9);
		r->t_open0[i] = now_ns();
		err = uring_call(IORING_OP_CONNECT, u[i], (void *)&ss, len);
		r->t_open1[i] = now_ns();
		if (err)
			return err;
		r->hold_port[r->nhold++] = sock_port(u[i]);
	}
	/*
	 * This thread's next connect() syscall (a TCP one, which leaves no
	 * entry of its own) meets the io_uring connect's entry, 150 ms old
	 * (PEND_STALE_NS is 100): not its own to report, with 150 ms for a
	 * latency.
	 */
	sleep_ms(150);
	if ((c = connect_to(AF_INET, sock_port(lfd), 0, 0)) < 0)
		return c;
	close(c);
	sleep_ms(20);
	for (int i = 0; i < 2; i++) {
		r->t_close0[i] = now_ns();
		close(u[i]);
		r->t_close1[i] = now_ns();
	}
	close(lfd);
	return 0;
}

/*
 * A UDP connect() that io_uring issues autobinds as the syscall's would, but
 * no syscall exit follows. The tracepoint mode, which read the port at that
 * exit, never reported it (and released a lease it had never told of): now
 * the socket's next hook, here its close, tells it, dated at the call, with
 * no latency. The exact modes time the search itself. IPv4 and IPv6.
 */
static int t_udp_io_uring(void)
{
	struct run run;
	bool tp = false;
	int err;

	err = start(&run, sc_udp_io_uring, "udp_io_uring", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	if (!err)
		err = holds_are_leases(&run, "autobind", "io_uring connect");
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "start"))
			tp = jstr_is(run.lines[i], "mode", "tracepoint");
	for (int i = 0; !err && i < run.r.nhold; i++) {
		const char *a = NULL;

		count_ev(&run, "alloc", run.child, run.r.hold_port[i], &a);
		if (tp ? !strstr(a, "\"latency_ns\":null") : jnum(a, "latency_ns") <= 0)
			err = fail("port %d: latency %s, want %s", run.r.hold_port[i],
				   jfind(a, "latency_ns") ? jfind(a, "latency_ns") : "none",
				   tp ? "null (not measured: told after the call)" : "the search's");
	}
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

/* ---- listen() without bind() ------------------------------------------------- */

/*
 * listen() on a socket never bound takes an ephemeral port, as bind(0)
 * would: IPv4 and IPv6, each held a while (a client connects and is accepted
 * meanwhile), then closed. Then with ip_local_port_range's two usable ports
 * taken by bind(0), listen() finds none: EADDRINUSE.
 */
static int sc_listen_unbound(struct result *r)
{
	int fam[2] = { AF_INET, AF_INET6 }, err, b0, b1, l;

	if ((err = own_netns()))
		return err;
	for (int k = 0; k < 2; k++) {
		int fd = socket(fam[k], SOCK_STREAM | SOCK_CLOEXEC, 0), c, a;

		r->t_open0[r->nhold] = now_ns();
		if (fd < 0 || listen(fd, 4))
			return -errno;
		r->t_open1[r->nhold] = now_ns();
		r->hold_port[r->nhold] = sock_port(fd);
		c = connect_to(fam[k], r->hold_port[r->nhold], 0, 0);
		if (c < 0)
			return c;
		a = accept(fd, NULL, NULL);
		if (a < 0)
			return -errno;
		sleep_ms(50);
		r->t_close0[r->nhold] = now_ns();
		close(fd);
		r->t_close1[r->nhold++] = now_ns();
		close(a);
		close(c);
	}
	/*
	 * listen() after a refused connect(): the kernel takes a port, then
	 * fails EINVAL, and keeps the port until close (6.18). getsockname()
	 * shows the refused connect()'s port until then: only a new one counts.
	 */
	for (int tries = 0; tries < 3; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unsigned short stale;
		struct sockaddr_storage ss;
		socklen_t len = mkaddr(&ss, AF_INET, 9);

		if (fd < 0)
			return -errno;
		if (!connect(fd, (void *)&ss, len) || errno != ECONNREFUSED)
			return -EPROTO;
		stale = sock_port(fd);
		r->t_open0[r->nhold] = now_ns();
		(void)!listen(fd, 4);
		r->t_open1[r->nhold] = now_ns();
		/* again: it fails the same way, and the port stays taken */
		(void)!listen(fd, 4);
		r->hold_port[r->nhold] = sock_port(fd);
		if (r->hold_port[r->nhold] == stale) {
			close(fd);	/* no new port (or the same one again): nothing to tell apart */
			continue;
		}
		sleep_ms(20);
		r->t_close0[r->nhold] = now_ns();
		close(fd);
		r->t_close1[r->nhold++] = now_ns();
		break;
	}
	/* an even range of two ports: both usable, both taken */
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40001")))
		return err;
	b0 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	b1 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_storage ss;
		socklen_t len = mkaddr(&ss, AF_INET, 0);

		if (b0 < 0 || b1 < 0 || l < 0 || bind(b0, (void *)&ss, len) ||
		    bind(b1, (void *)&ss, len))
			return -errno;
	}
	if (!listen(l, 4) || errno != EADDRINUSE)
		return -EPROTO;
	r->fail_errno = EADDRINUSE;
	close(l);
	close(b0);
	close(b1);
	return 0;
}

/*
 * Each listen() without bind() is one bind_ephemeral lease, allocated within
 * the call, released within the close(), held as long; the accepted socket
 * is none; the failed one is an EADDRINUSE allocation failure; the port a
 * listen() takes before failing EINVAL is a lease until close. Before this,
 * the tracepoint mode reported none of them (the port only as a listen
 * signal, and not at all under --no-alerts).
 */
static int listen_unbound_check(char *const extra[], const char *name)
{
	struct run run;
	const char *l;
	int err, nfail = 0;

	err = start(&run, sc_listen_unbound, name, extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	if (!err)
		err = holds_are_leases(&run, "bind_ephemeral", "listen()");
	for (int i = 0; !err && i < run.nlines; i++) {
		l = run.lines[i];
		if (!is_event(l, "alloc") || jnum(l, "pid") != run.child || !jfind(l, "error"))
			continue;
		if (jstr_is(l, "error", "EADDRINUSE") && jstr_is(l, "kind", "bind_ephemeral"))
			nfail++;
		else
			err = fail("an allocation failure the scenario did not make: %s", l);
	}
	if (!err && nfail != 1)
		err = fail("%d EADDRINUSE failures of listen() without bind(), want 1", nfail);
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

static int t_listen_unbound(void)
{
	char *const quiet[] = { "--no-alerts", NULL };
	int err = listen_unbound_check(NULL, "listen_unbound");

	/* the lease does not depend on the listen signal's rule */
	return err ? err : listen_unbound_check(quiet, "listen_unbound_quiet");
}

/* ---- TCP_FASTOPEN_CONNECT: a connect() that sends no SYN ------------------- */

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

/* Is a connection waiting on listener fd (the deferred SYN went)? */
static bool syn_arrived(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/*
 * With TCP_FASTOPEN_CONNECT (and tcp_fastopen's no-cookie bit, so that the
 * first connect() defers too), connect() takes a port and returns 0 without
 * a SYN; the SYN leaves with the first send. For each family: one such
 * socket closed before any send (SYN_SENT -> CLOSE, no SYN ever), one that
 * sends later (its SYN 30 ms after the call), each held a while; then, with
 * the range's two ports bound, one that finds no port (EADDRNOTAVAIL).
 */
static int sc_fastopen(struct result *r)
{
	int fam[2] = { AF_INET, AF_INET6 }, one = 1, err;

	if ((err = own_netns()) ||
	    (err = write_file("/proc/sys/net/ipv4/tcp_fastopen", "5")))
		return err;
	for (int k = 0; k < 2; k++) {
		int lfd = listener(fam[k], 0);

		if (lfd < 0)
			return lfd;
		for (int send_later = 0; send_later < 2; send_later++) {
			int fd = socket(fam[k], SOCK_STREAM | SOCK_CLOEXEC, 0), a = -1;
			char b;
			struct sockaddr_storage ss;
			socklen_t len = mkaddr(&ss, fam[k], sock_port(lfd));

			if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one,
						 sizeof(one)))
				return -errno;
			r->t_open0[r->nhold] = now_ns();
			if (connect(fd, (void *)&ss, len))
				return -errno;
			r->t_open1[r->nhold] = now_ns();
			r->hold_port[r->nhold] = sock_port(fd);
			r->hold_fam[r->nhold] = fam[k] == AF_INET6 ? 6 : 4;
			sleep_ms(30);
			/* no SYN yet, or this kernel did not defer: nothing tested */
			if (syn_arrived(lfd))
				return -ENOTCONN;
			if (send_later) {
				if (send(fd, "x", 1, 0) != 1)
					return -errno;
				/* read: a close with unread data would reset the client first */
				a = accept(lfd, NULL, NULL);
				if (a < 0 || recv(a, &b, 1, 0) != 1)
					return -errno;
			}
			r->t_close0[r->nhold] = now_ns();
			rst_close(fd);	/* no TIME_WAIT: the port is free at close */
			r->t_close1[r->nhold++] = now_ns();
			if (a >= 0)
				close(a);
		}
		close(lfd);
	}
	{
		int lfd = listener(AF_INET, 50000), b0, b1, fd;
		struct sockaddr_storage ss;
		socklen_t len;

		if (lfd < 0)
			return lfd;
		if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40001")))
			return err;
		b0 = bound_socket(AF_INET, 0);
		b1 = bound_socket(AF_INET, 0);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (b0 < 0 || b1 < 0 || fd < 0 ||
		    setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)))
			return b0 < 0 ? b0 : b1 < 0 ? b1 : -errno;
		len = mkaddr(&ss, AF_INET, 50000);
		if (!connect(fd, (void *)&ss, len) || errno != EADDRNOTAVAIL)
			return -EPROTO;
		r->fail_errno = EADDRNOTAVAIL;
		close(fd);
		close(b0);
		close(b1);
		close(lfd);
	}
	return 0;
}

/*
 * Each deferred connect() is one connect allocation within the call (its
 * latency, when measured, within it too) and one release within the close;
 * the one that found no port is the only failure. Before, the tracepoint
 * mode took the close of a socket that never sent for a failed search
 * (EADDRNOTAVAIL, and an alert), and dated the other's allocation at its
 * send, the wait included in its latency.
 */
static int fastopen_check(char *const extra[], const char *name)
{
	struct run run;
	int err, nfail = 0;

	err = start(&run, sc_fastopen, name, extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	if (!err && run.r.nhold != 4)
		err = fail("the scenario made %d deferred connects, want 4", run.r.nhold);
	for (int i = 0; !err && i < run.r.nhold; i++) {
		const char *a = NULL, *rel = NULL, *lv;
		int port = run.r.hold_port[i], fam = run.r.hold_fam[i];
		long long lat;

		a = lease_of_family(&run, port, "connect", fam);
		if (!a) {
			err = fail("port %d (IPv%d, %s): no connect allocation", port, fam,
				   i % 2 ? "sent later" : "closed unsent");
			break;
		}
		if (count_lease_ev(&run, "release", jnum(a, "lease"), &rel) != 1) {
			err = fail("port %d: released %d times, want 1", port,
				   count_lease_ev(&run, "release", jnum(a, "lease"), NULL));
			break;
		}
		lv = jfind(a, "latency_ns");
		lat = lv && strncmp(lv, "null", 4) ? jnum(a, "latency_ns") : -1;
		err = in_call_windows(&run, i, a, rel, "connect()");
		if (!err && lat > run.r.t_open1[i] - run.r.t_open0[i])
			err = fail("port %d: allocation latency %lld ns, longer than connect() (%lld)",
				   port, lat, run.r.t_open1[i] - run.r.t_open0[i]);
	}
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "alloc") || jnum(l, "pid") != run.child || !jfind(l, "error"))
			continue;
		if (jstr_is(l, "error", "EADDRNOTAVAIL") && jstr_is(l, "kind", "connect"))
			nfail++;
		else
			err = fail("an allocation failure the scenario did not make: %s", l);
	}
	if (!err && nfail != 1)
		err = fail("%d EADDRNOTAVAIL failures, want 1 (the range's ports all bound)", nfail);
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

static int t_fastopen(void)
{
	char *const nosys[] = { "--no-syscall-hooks", NULL };
	int err = fastopen_check(NULL, "fastopen");

	/* without the connect() exit: the port learnt at the send or the close */
	if (!err && (!mode || !strcmp(mode, "tracepoint")))
		err = fastopen_check(nosys, "nosys_fastopen");
	return err;
}

/* ---- a SYN nobody answers ---------------------------------------------------- */

struct unanswered {
	int fd;
	unsigned short port, marker;
	long long t_marker;
};

/*
 * While connect() blocks: the port it took (getsockname() answers in
 * SYN_SENT), then, 1.6 s in, after the SYN's first retransmission (1 s),
 * a marker: a UDP bind(0) whose allocation line must come after the
 * connect()'s. The marker's thread is a thread of the scenario's process.
 */
static void *unanswered_watch(void *arg)
{
	struct unanswered *u = arg;
	int m;

	sleep_ms(300);
	u->port = sock_port(u->fd);
	sleep_ms(1300);
	m = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (m >= 0 && bind_port(m, 0) == 0) {
		u->marker = sock_port(m);
		u->t_marker = now_ns();
	}
	if (m >= 0)
		close(m);
	return NULL;
}

/*
 * A blocking connect() whose SYN is dropped: the listener's accept queue
 * (backlog 0) holds one connection never accepted, so the next SYN finds
 * it full and is dropped without a word, and sent again a second later.
 * TCP_SYNCNT 1: connect() gives up with ETIMEDOUT 3 s in, the port given
 * back inside the call.
 */
static int sc_syn_unanswered(struct result *r)
{
	struct sockaddr_storage ss;
	struct unanswered u = { .fd = -1 };
	int lfd, c0, one = 1, err, rc;
	socklen_t len;
	pthread_t th;

	if ((err = own_netns()))
		return err;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	if (lfd < 0 || bind(lfd, (void *)&ss, len) || listen(lfd, 0))
		return -errno;
	len = mkaddr(&ss, AF_INET, sock_port(lfd));
	c0 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c0 < 0 || connect(c0, (void *)&ss, len))
		return -errno;
	sleep_ms(50);	/* its handshake done: the queue is full */
	/*
	 * Non-blocking first: connect() returns at once (EINPROGRESS), the
	 * SYN on its way. Its port is told then, before a marker 0.3 s later
	 * (before the SYN's retransmission, a second in); closed in SYN_SENT.
	 */
	{
		int nb = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), m;

		r->t_open0[0] = now_ns();
		if (nb < 0 || !connect(nb, (void *)&ss, len) || errno != EINPROGRESS)
			return nb < 0 ? -errno : -EISCONN;
		r->t_open1[0] = now_ns();
		r->hold_port[0] = sock_port(nb);
		sleep_ms(300);
		m = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (m < 0 || bind_port(m, 0))
			return -errno;
		r->udp_bound = sock_port(m);
		close(m);
		r->t_close0[0] = now_ns();
		close(nb);
		r->t_close1[0] = now_ns();
	}
	u.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u.fd < 0 || setsockopt(u.fd, IPPROTO_TCP, TCP_SYNCNT, &one, sizeof(one)))
		return -errno;
	if (pthread_create(&th, NULL, unanswered_watch, &u))
		return -EAGAIN;
	r->t_open0[1] = r->t_close0[1] = now_ns();
	rc = connect(u.fd, (void *)&ss, len);
	err = rc ? errno : 0;
	r->t_open1[1] = r->t_close1[1] = now_ns();
	pthread_join(th, NULL);
	if (!rc || err != ETIMEDOUT)
		return rc ? -err : -EISCONN;	/* answered after all: nothing tested */
	r->hold_port[1] = u.port;
	r->nhold = 2;
	r->bound_port = u.marker;
	r->conn_ns[0] = u.t_marker;
	close(u.fd);
	close(c0);
	close(lfd);
	return u.port && u.marker ? 0 : -ENOENT;
}

/*
 * The port of a connect() whose SYN goes unanswered is told once, as a
 * connect allocation, before the connect() returns (after the SYN's first
 * retransmission at the latest: before the marker 1.6 s in), with no
 * latency or one within the search (not the call's 3 s); its release is
 * the timeout's, inside the call. The tracepoint mode reads the port from
 * neither sock_ops nor the connect()'s exit (which comes at the timeout):
 * its SYN retransmission tracepoint tells it.
 */
static int t_syn_unanswered(void)
{
	struct run run;
	int err;

	err = start(&run, sc_syn_unanswered, "syn_unanswered", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	if (!err)
		err = holds_are_leases(&run, "connect", "the unanswered connect()");
	/* hold 0 (non-blocking) before the marker 0.3 s in; hold 1 (blocking) before 1.6 s */
	for (int k = 0; !err && k < 2; k++) {
		int port = run.r.hold_port[k], marker = k ? run.r.bound_port : run.r.udp_bound;
		int ia = -1, im = -1;
		const char *lv;

		for (int i = 0; i < run.nlines; i++) {
			const char *l = run.lines[i];

			if (!is_event(l, "alloc") || jnum(l, "pid") != run.child)
				continue;
			if (jnum(l, "lport") == port && jstr_is(l, "kind", "connect"))
				ia = i;
			if (jnum(l, "lport") == marker && jstr_is(l, "proto", "udp"))
				im = i;
		}
		if (ia < 0 || im < 0) {
			err = fail("no allocation line for the connect() (%d) or its marker (%d)",
				   port, marker);
			break;
		}
		if (ia > im)
			err = fail("port %d: told after the marker %s into the %s connect(): %s",
				   port, k ? "1.6 s" : "0.3 s", k ? "blocked" : "non-blocking",
				   run.lines[ia]);
		lv = jfind(run.lines[ia], "latency_ns");
		if (!err && lv && strncmp(lv, "null", 4) &&
		    jnum(run.lines[ia], "latency_ns") > 500000000LL)
			err = fail("port %d: latency %lld ns, the call's, not the search's: %s", port,
				   jnum(run.lines[ia], "latency_ns"), run.lines[ia]);
	}
	cleanup(&run);
	return err;
}

/* ---- random socket calls against getsockname() ------------------------------ */

#define CHAOS_STEPS 1500
#define CHAOS_SOCKS 6

struct chaos_sock {
	int fd, family;
	bool udp, listening;
	unsigned short port;
};

/* the truth's entry for (udp, port), made on first use; NULL when full */
static int chaos_slot(struct result *r, bool udp, unsigned short port)
{
	for (int i = 0; i < r->nchaos; i++)
		if (r->chaos_port[i] == port && r->chaos_udp[i] == udp)
			return i;
	if (r->nchaos == 512)
		return -1;
	r->chaos_port[r->nchaos] = port;
	r->chaos_udp[r->nchaos] = udp;
	return r->nchaos++;
}

/* what a call did to the socket's port, as getsockname() tells it */
static int chaos_note(struct result *r, struct chaos_sock *c, unsigned short now)
{
	int i;

	if (c->port && c->port != now) {
		if ((i = chaos_slot(r, c->udp, c->port)) < 0)
			return -ENOSPC;
		r->chaos_rel[i]++;
	}
	if (now && now != c->port) {
		if ((i = chaos_slot(r, c->udp, now)) < 0)
			return -ENOSPC;
		r->chaos_alloc[i]++;
	}
	c->port = now;
	return 0;
}

static unsigned int chaos_rand(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/*
 * CHAOS_STEPS random calls on up to CHAOS_SOCKS sockets (TCP and UDP, IPv4 and
 * IPv6, some with IP_BIND_ADDRESS_NO_PORT, some with SO_REUSEADDR): bind(0),
 * bind() to one of ten ports (conflicts included), to the wildcard address,
 * listen(), connect() (TCP: to a listener of the table, never accepted, or
 * to a closed port: refused; from IPv6 also to v4-mapped addresses),
 * shutdown(), and for UDP connect(AF_UNSPEC) and unconnected sends (also
 * v4-mapped, which fail after the autobind from an IPv6-only socket); close
 * (TCP with SO_LINGER 0: a reset, no TIME_WAIT, so every port is back before
 * the run ends). After
 * each call getsockname() says whether the socket's port came, went or
 * changed: the truth portlife is held to. (A TCP socket keeps showing its
 * port after a reset gives it back: counted at close instead; the counts
 * still match.)
 */
/*
 * The extended run (chaos_ext) adds TCP_FASTOPEN_CONNECT (tcp_fastopen's
 * no-cookie bit on: connect() defers its SYN to the first send), non-blocking
 * sockets, send() on TCP sockets and sendto(MSG_FASTOPEN) (a connect within
 * a send); every socket gets SO_SNDTIMEO, or a SYN the full accept queue
 * drops would block connect() for minutes. It leaves out the UDP sends that
 * fail after their autobind (no address, a v4-mapped one the socket cannot
 * reach): a disconnect right after gives the port back, and neither call
 * passes any hook of the tracepoint mode, which then never sees the port
 * (known, in the README). CHAOS_SEED, CHAOS_EXT, CHAOS_NOSYS and CHAOS_DEBUG
 * (each step on stderr) in the environment explore other runs by hand.
 */
static unsigned int chaos_seed = 33;	/* one that hits every case above on 6.18 */
static bool chaos_ext, chaos_debug;

static int sc_lease_chaos(struct result *r)
{
	struct chaos_sock cs[CHAOS_SOCKS];
	struct sockaddr un = { .sa_family = AF_UNSPEC };
	unsigned int seed = chaos_seed;
	bool ext = chaos_ext;
	int n = 0, err;
	char b = 0;

	if ((err = own_netns()))
		return err;
	if (ext && (err = write_file("/proc/sys/net/ipv4/tcp_fastopen", "5")))
		return err;
	for (int step = 0; step < CHAOS_STEPS; step++) {
		struct sockaddr_storage ss;
		struct chaos_sock *c;
		socklen_t len;
		int k, op;

		if (n < 2 || (n < CHAOS_SOCKS && chaos_rand(&seed) % 4 == 0)) {
			int one = 1;

			c = &cs[n];
			c->family = chaos_rand(&seed) % 2 ? AF_INET6 : AF_INET;
			c->udp = chaos_rand(&seed) % 2;
			c->listening = false;
			c->port = 0;
			c->fd = socket(c->family, (c->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
			if (c->fd < 0)
				return -errno;
			if (chaos_rand(&seed) % 5 == 0)
				setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			if (chaos_rand(&seed) % 4 == 0)
				setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (ext && !c->udp && chaos_rand(&seed) % 3 == 0)
				setsockopt(c->fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one));
			if (ext && chaos_rand(&seed) % 4 == 0)
				fcntl(c->fd, F_SETFL, O_NONBLOCK);
			if (ext) {
				/* a SYN the full accept queue drops would block connect() for minutes */
				struct timeval tv = { .tv_usec = 50000 };

				setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			}
			n++;
			continue;
		}
		k = chaos_rand(&seed) % n;
		c = &cs[k];
		op = chaos_rand(&seed) % (ext ? 12 : 10);
		if (!c->udp && (op == 5 || op == 6))
			op = chaos_rand(&seed) % 5;	/* UDP's own calls */
		switch (op) {
		case 10:
			/*
			 * TCP only: a UDP send() with no address autobinds and fails
			 * (EDESTADDRREQ) before any hook, and a disconnect next gives
			 * the port back unseen too (no hook sees either call)
			 */
			if (!c->udp)
				(void)!send(c->fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		case 11: {
			unsigned short to = 9;

			for (int j = 0; j < n; j++)
				if (cs[j].listening && cs[j].family == c->family && j != k)
					to = cs[j].port;
			len = mkaddr(&ss, c->family, to);
			(void)!sendto(c->fd, &b, 1, (c->udp ? 0 : MSG_FASTOPEN) | MSG_DONTWAIT | MSG_NOSIGNAL,
				      (void *)&ss, len);
			break;
		}
		case 0:
			len = mkaddr(&ss, c->family, 0);
			(void)!bind(c->fd, (void *)&ss, len);
			break;
		case 1:
			len = mkaddr(&ss, c->family, 20000 + chaos_rand(&seed) % 10);
			(void)!bind(c->fd, (void *)&ss, len);
			break;
		case 2: {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			if (!c->udp)
				setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (c->port && (err = chaos_note(r, c, 0)))
				return err;
			close(c->fd);
		}
			cs[k] = cs[--n];
			continue;
		case 3:
			if (!c->udp && !listen(c->fd, 8))
				c->listening = true;
			break;
		case 4: {
			unsigned short to = 9;

			for (int j = 0; !c->udp && j < n; j++)
				if (cs[j].listening && cs[j].family == c->family && j != k)
					to = cs[j].port;
			len = mkaddr(&ss, c->family, to);
			(void)!connect(c->fd, (void *)&ss, len);
			break;
		}
		case 5:
			(void)!connect(c->fd, &un, sizeof(un));
			break;
		case 6:
			len = mkaddr(&ss, c->family, 9);
			(void)!sendto(c->fd, &b, 1, 0, (void *)&ss, len);
			break;
		case 7:
			len = mkaddr(&ss, c->family,
				     chaos_rand(&seed) % 2 ? 0 : 20000 + chaos_rand(&seed) % 10);
			if (c->family == AF_INET6)
				((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_any;
			else
				((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_ANY);
			(void)!bind(c->fd, (void *)&ss, len);
			break;
		case 8:
		case 9: {
			struct sockaddr_in6 m = { .sin6_family = AF_INET6, .sin6_port = htons(9) };

			/* (the extended run leaves out sends that fail after an autobind: see below) */
			if (c->family != AF_INET6 || (ext && op == 9)) {
				if (op == 8)
					(void)!shutdown(c->fd, SHUT_RDWR);
				break;
			}
			for (int j = 0; !c->udp && j < n; j++)
				if (cs[j].listening && cs[j].family == AF_INET && j != k)
					m.sin6_port = htons(cs[j].port);
			inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr);
			if (op == 8)
				(void)!connect(c->fd, (void *)&m, sizeof(m));
			else if (c->udp)
				(void)!sendto(c->fd, &b, 1, 0, (void *)&m, sizeof(m));
			break;
		}
		}
		if (chaos_debug)
			fprintf(stderr, "step %d sock fd%d %s%d op %d port %u -> %u errno %d\n", step, c->fd,
				c->udp ? "udp" : "tcp", c->family == AF_INET6 ? 6 : 4, op, c->port,
				sock_port(c->fd), errno);
		if ((err = chaos_note(r, c, sock_port(c->fd))))
			return err;
	}
	for (int k = 0; k < n; k++) {
		if ((err = chaos_note(r, &cs[k], 0)))
			return err;
		close(cs[k].fd);
	}
	return 0;
}

/*
 * Property: every port the kernel gave one of the child's sockets is one
 * allocation and one release in portlife's stream, port by port, whatever
 * the calls that took and gave it back; nothing else is. The tracepoint mode
 * once missed listen() without bind() and a disconnect's port entirely.
 */
static int lease_chaos_check(const char *name)
{
	char *const extra[] = { "--no-alerts", NULL };
	char *const extra_nosys[] = { "--no-alerts", "--no-syscall-hooks", NULL };
	struct run run;
	int err, total = 0;

	err = start(&run, sc_lease_chaos, name, getenv("CHAOS_NOSYS") ? extra_nosys : extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.r.nchaos; i++) {
		const char *proto = run.r.chaos_udp[i] ? "udp" : "tcp";
		int port = run.r.chaos_port[i], na = 0, nr = 0;

		for (int k = 0; k < run.nlines; k++) {
			const char *l = run.lines[k];

			if (!is_event(l, "alloc") || jnum(l, "pid") != run.child ||
			    jnum(l, "lport") != port || !jstr_is(l, "proto", proto) || jfind(l, "error"))
				continue;
			na++;
			nr += count_lease_ev(&run, "release", jnum(l, "lease"), NULL);
		}
		total += run.r.chaos_alloc[i];
		if (na != run.r.chaos_alloc[i] || nr != run.r.chaos_rel[i])
			err = fail("%s port %d: the kernel gave it %d times and took it back %d "
				   "times; portlife reported %d allocations, %d releases", proto,
				   port, run.r.chaos_alloc[i], run.r.chaos_rel[i], na, nr);
	}
	/* nothing reported that the truth does not have */
	for (int k = 0; !err && k < run.nlines; k++) {
		const char *l = run.lines[k];
		bool known = false;

		if (!is_event(l, "alloc") || jnum(l, "pid") != run.child || jfind(l, "error"))
			continue;
		for (int i = 0; i < run.r.nchaos && !known; i++)
			known = jnum(l, "lport") == run.r.chaos_port[i] &&
				jstr_is(l, "proto", run.r.chaos_udp[i] ? "udp" : "tcp");
		if (!known)
			err = fail("an allocation getsockname() never showed: %s", l);
	}
	if (!err && total < 50)
		err = fail("the scenario made only %d allocations: too few to say much", total);
	cleanup(&run);
	return err;
}

static int t_lease_chaos(void)
{
	int err;

	chaos_debug = getenv("CHAOS_DEBUG");
	if (getenv("CHAOS_SEED")) {
		chaos_seed = strtoul(getenv("CHAOS_SEED"), NULL, 0);
		chaos_ext = getenv("CHAOS_EXT");
		return lease_chaos_check("lease_chaos");
	}
	chaos_ext = false;
	err = lease_chaos_check("lease_chaos");
	if (err)
		return err;
	chaos_seed = 7;	/* the extended run: TFO sockets that close before their SYN */
	chaos_ext = true;
	return lease_chaos_check("lease_chaos_ext");
}

/* ---- times against the workload's own clock -------------------------------- */

#define HOLD_MS 100

enum { HOLD_BIND0, HOLD_CONNECT, HOLD_RECONNECT };

/* One UDP lease of sc_hold: taken by bind(0), connect() or two connect()s, held, closed. */
static int hold_udp(struct result *r, int how)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, how == HOLD_BIND0 ? 0 : 9);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	r->t_open0[r->nhold] = now_ns();
	if (fd < 0 || (how == HOLD_BIND0 ? bind(fd, (void *)&ss, len) :
					   connect(fd, (void *)&ss, len)))
		return -errno;
	r->t_open1[r->nhold] = now_ns();
	r->hold_port[r->nhold] = sock_port(fd);
	if (how == HOLD_RECONNECT) {
		len = mkaddr(&ss, AF_INET, 10);
		if (connect(fd, (void *)&ss, len) || sock_port(fd) != r->hold_port[r->nhold])
			return -EPROTO;
	}
	sleep_ms(HOLD_MS);
	r->t_close0[r->nhold] = now_ns();
	close(fd);
	r->t_close1[r->nhold++] = now_ns();
	return 0;
}

static int sc_hold(struct result *r)
{
	int lfd, err;

	if ((err = own_netns()))
		return err;
	lfd = listener(AF_INET, 0);
	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	/* TCP, the server closing first: the port is free when the client's close() returns */
	for (int i = 0; i < 4; i++) {
		int c, a;
		char b;

		r->t_open0[r->nhold] = now_ns();
		c = connect_to(AF_INET, r->listen_port, 0, 0);
		r->t_open1[r->nhold] = now_ns();
		if (c < 0)
			return c;
		r->hold_port[r->nhold] = sock_port(c);
		a = accept(lfd, NULL, NULL);
		sleep_ms(HOLD_MS);
		close(a);
		if (read(c, &b, 1) != 0)
			return -EPROTO;
		r->t_close0[r->nhold] = now_ns();
		close(c);
		r->t_close1[r->nhold++] = now_ns();
	}
	/* UDP: bind(0) to close() */
	for (int i = 0; i < 4; i++)
		if ((err = hold_udp(r, HOLD_BIND0)))
			return err;
	/*
	 * UDP: connect() autobinds, a second connect() elsewhere keeps the port
	 * (without the syscall hooks, the allocation is learnt there, dated at
	 * the first), then close()
	 */
	if ((err = hold_udp(r, HOLD_RECONNECT)))
		return err;
	/* UDP: the port connect() autobinds, to close() (no datagram is sent) */
	for (int i = 0; i < 3; i++)
		if ((err = hold_udp(r, HOLD_CONNECT)))
			return err;
	close(lfd);
	return 0;
}

/*
 * Each lease's allocation falls inside the call that made it, its release
 * inside the close() that ended it (20 ms of slack), and its hold time within
 * the workload's own bounds. The clocks are the same: CLOCK_MONOTONIC.
 */
static int hold_check(char *const extra[], const char *name)
{
	struct run run;
	int err;

	err = start(&run, sc_hold, name, extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.r.nhold; i++) {
		const char *a = NULL, *rel = NULL;
		long long hold, own;

		int na = count_ev(&run, "alloc", run.child, run.r.hold_port[i], &a);
		int nr = na == 1 ? count_lease_ev(&run, "release", jnum(a, "lease"), &rel) : -1;

		if (na != 1 || nr != 1) {
			/* which hold (sc_hold: 0-3 TCP, then UDP bind(0), reconnect, connect) */
			err = fail("port %d (hold %d): %d allocations (want 1), %d releases of the "
				   "lease (want 1); last alloc: %s", run.r.hold_port[i], i, na, nr,
				   a ? a : "none");
			break;
		}
		hold = jnum(rel, "hold_ns");
		own = run.r.t_close1[i] - run.r.t_open0[i];
		err = in_call_windows(&run, i, a, rel, "its call");
		/*
		 * Within the workload's own bounds: from the end of the call
		 * that allocated to the start of the close(), and from the
		 * start of that call to the end of close() (20 ms of slack).
		 * Not "own minus 20 ms": under TCG, with another guest on the
		 * host, a connect() alone has taken 25 ms.
		 */
		if (!err && (hold > own + HOLD_SLACK_NS || hold < run.r.t_close0[i] - run.r.t_open1[i]))
			err = fail("port %d: held %lld ns by portlife, outside the workload's "
				   "[%lld, %lld] + 20 ms", run.r.hold_port[i], hold,
				   run.r.t_close0[i] - run.r.t_open1[i], own);
	}
	cleanup(&run);
	return err;
}

static int t_hold_accuracy(void)
{
	return hold_check(NULL, "hold_accuracy");
}

/*
 * --no-syscall-hooks. Tracepoint mode: a UDP connect()'s lease is learnt at
 * its close and dated at the call (allocation and hold times as above), every
 * UDP kind is still counted once, bind() errors are not seen and nothing is
 * made up for them, and the precision line says what was given up. The other
 * modes attach no syscall hook: there the option changes nothing.
 */
static int t_no_syscall_hooks(void)
{
	char *const extra[] = { "--no-syscall-hooks", NULL };
	struct run run;
	const char *l;
	bool tp = false;
	int err;

	/*
	 * The exact modes use no syscall hook: the option changes nothing there,
	 * which the bind errors below show; the churn is for the tracepoint mode,
	 * and only its connect()s, which the option changes (under TCG a whole
	 * churn takes 80 s).
	 */
	if (!mode || !strcmp(mode, "tracepoint")) {
		err = hold_check(extra, "nosys_hold");
		churn_connect_only = true;
		if (!err)
			err = udp_churn_check(extra, "nosys_churn");
		churn_connect_only = false;
		if (err)
			return err;
	}
	err = start(&run, sc_bind_errors, "nosys_bind_errors", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.nlines; i++) {
		l = run.lines[i];
		if (!is_event(l, "start"))
			continue;
		tp = jstr_is(l, "mode", "tracepoint");
		if (tp && !strstr(l, "--no-syscall-hooks: bind() errors unseen"))
			err = fail("the precision does not say what --no-syscall-hooks gives up: %s", l);
	}
	if (!err && !tp)
		err = bind_errors_seen(&run);
	for (int i = 0; !err && tp && i < run.nlines; i++) {
		l = run.lines[i];
		if (jnum(l, "pid") == run.child &&
		    (is_event(l, "bind_error") || (is_event(l, "alloc") && jfind(l, "error"))))
			err = fail("a bind() error reported without the syscall hooks: %s", l);
	}
	/* the bind that worked is still a lease */
	if (!err && tp && count_ev(&run, "alloc", run.child, run.r.bound_port, &l) != 1)
		err = fail("port %d: bound, listened on, not reported once", run.r.bound_port);
	cleanup(&run);
	return err;
}

/* ---- a UDP socket connect()ed again --------------------------------------------- */

/*
 * connect() to one peer (the autobind), then to another (the port stays),
 * then close(): hold_port[0] IPv4 (127.0.0.1:9, then 127.0.0.2:10),
 * hold_port[1] IPv6 ([::1]:9, then [::1]:10).
 */
static int sc_udp_reconnect(struct result *r)
{
	struct sockaddr_storage a, b;
	struct sockaddr_in *b4 = (struct sockaddr_in *)&b;
	int fam[2] = { AF_INET, AF_INET6 }, err;

	if ((err = own_netns()))
		return err;
	for (int i = 0; i < 2; i++) {
		socklen_t alen = mkaddr(&a, fam[i], 9), blen = mkaddr(&b, fam[i], 10);
		int u = socket(fam[i], SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fam[i] == AF_INET)
			b4->sin_addr.s_addr = htonl(0x7f000002);
		if (u < 0 || connect(u, (void *)&a, alen))
			return -errno;
		r->hold_port[i] = sock_port(u);
		r->hold_fam[i] = fam[i] == AF_INET ? 4 : 6;
		sleep_ms(20);
		if (connect(u, (void *)&b, blen) || sock_port(u) != r->hold_port[i])
			return -EPROTO;
		sleep_ms(20);
		close(u);
	}
	r->nhold = 2;
	return 0;
}

/* Its release names the peer it had last; its allocation the first. */
static int t_udp_reconnect(void)
{
	static const char *const last[2] = { "127.0.0.2", "::1" };
	struct run run;
	int err;

	err = start(&run, sc_udp_reconnect, "udp_reconnect", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	for (int i = 0; !err && i < run.r.nhold; i++) {
		const char *a = lease_of_family(&run, run.r.hold_port[i], "autobind", run.r.hold_fam[i]);
		const char *rel = NULL;
		long long lease = a ? jnum(a, "lease") : 0;

		if (!a || jnum(a, "rport") != 9) {
			err = fail("no autobind of port %u to port 9: %s", run.r.hold_port[i], a ? a : "-");
			break;
		}
		if (count_lease_ev(&run, "release", lease, &rel) != 1) {
			err = fail("lease %lld (port %u): not released once", lease, run.r.hold_port[i]);
			break;
		}
		if (jnum(rel, "rport") != 10 || !jstr_is(rel, "raddr", last[i]))
			err = fail("the release of port %u names another peer than its last (%s:10): %s",
				   run.r.hold_port[i], last[i], rel);
	}
	cleanup(&run);
	return err;
}

/* ---- --max-leases full ------------------------------------------------------ */

#define EVICT_SOCKS 4200	/* past --max-leases 4096 */

/* EVICT_SOCKS connected UDP sockets, held a moment, then every one closed. */
static int sc_evicted(struct result *r)
{
	struct sockaddr_storage dst;
	socklen_t dlen = mkaddr(&dst, AF_INET, 9);
	struct rlimit rl = { EVICT_SOCKS + 64, EVICT_SOCKS + 64 };
	static int fd[EVICT_SOCKS];
	int err;

	if ((err = own_netns()))
		return err;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	for (int i = 0; i < EVICT_SOCKS; i++) {
		fd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd[i] < 0 || connect(fd[i], (void *)&dst, dlen))
			return -errno;
	}
	r->nsucc = EVICT_SOCKS;
	sleep_ms(300);
	for (int i = 0; i < EVICT_SOCKS; i++)
		close(fd[i]);
	return 0;
}

/*
 * --max-leases 4096 and 4200 leases: the oldest are evicted, the losses
 * counted; and every release still told, the process holding none at the
 * end. Before, the first evicted lease's release took a slot of its own to
 * wait for an ALLOC (evicting the next lease, whose release did the same):
 * no release at all, 4200 held forever.
 */
static int t_evicted(void)
{
	char *extra[] = { "--max-leases", "4096", NULL };
	const char *sum = NULL, *tot = NULL;
	struct run run;
	int err, rel = 0;

	err = start(&run, sc_evicted, "evicted", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 1000);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		rel += is_event(l, "release") && jnum(l, "pid") == run.child;
		if (is_event(l, "summary") && jnum(l, "pid") == run.child)
			sum = l;
		if (is_event(l, "totals"))
			tot = l;
	}
	if (!err && run.r.nsucc != EVICT_SOCKS)
		err = fail("the child made %d sockets, not %d", run.r.nsucc, EVICT_SOCKS);
	if (!err && (!sum || jnum(sum, "allocs") != EVICT_SOCKS ||
		     jnum(sum, "releases") != EVICT_SOCKS || jnum(sum, "held") != 0))
		err = fail("want %d allocs and releases, 0 held: %s", EVICT_SOCKS,
			   sum ? sum : "(no summary)");
	if (!err && rel != EVICT_SOCKS)
		err = fail("%d release lines, want %d", rel, EVICT_SOCKS);
	if (!err && (!tot || jnum(strstr(tot, "\"leases\"") ?: tot, "evicted") < 1))
		err = fail("no eviction counted: %s", tot ? tot : "(no totals)");
	cleanup(&run);
	return err;
}

LIVE_TEST(udp_churn, t_udp_churn, 195, false);
/*
 * The user-space table alone (mode-blind): in the exact modes the kernel's
 * map, a quarter of --max-leases, fills first (untracked), so host only.
 */
LIVE_TEST(evicted, t_evicted, 196, true);
LIVE_TEST(untracked, t_untracked, 196, false);
LIVE_TEST(untracked_tcp, t_untracked_tcp, 196, false);
LIVE_TEST(no_port, t_no_port, 197, false);
LIVE_TEST(bind_errors, t_bind_errors, 198, false);
LIVE_TEST(hold_accuracy, t_hold_accuracy, 199, false);
LIVE_TEST(no_syscall_hooks, t_no_syscall_hooks, 199, false);
LIVE_TEST(udp_preexisting, t_udp_preexisting, 199, false);
LIVE_TEST(tcp_prebound, t_tcp_prebound, 199, false);
/*
 * bind() through io_uring (IORING_OP_BIND, 6.11): a bind(0), whose port is
 * a lease in every mode, and a bind() to a port a listener holds, whose
 * EADDRINUSE the exact modes see (on the port search's exit) and the
 * tracepoint mode cannot (no syscall exit follows; README). Before 6.11 the
 * kernel refuses the opcode, and neither is reported.
 */
static int sc_uring_bind(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, a, b, err;

	if ((err = own_netns()))
		return err;
	if ((l = listener(AF_INET, 0)) < 0)
		return l;
	r->listen_port = sock_port(l);
	a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a < 0 || b < 0)
		return -errno;
	len = mkaddr(&ss, AF_INET, 0);
	r->t_open0[0] = now_ns();
	err = uring_call(PL_IORING_OP_BIND, a, (void *)&ss, len);
	r->t_open1[0] = now_ns();
	if (err == -EINVAL) {
		r->fail_errno = EINVAL;	/* no IORING_OP_BIND here */
		return 0;
	}
	if (err)
		return err;
	r->hold_port[r->nhold++] = sock_port(a);
	len = mkaddr(&ss, AF_INET, r->listen_port);
	r->fail_errno = -uring_call(PL_IORING_OP_BIND, b, (void *)&ss, len);
	sleep_ms(50);
	r->t_close0[0] = now_ns();
	close(a);
	r->t_close1[0] = now_ns();
	close(b);
	close(l);
	return 0;
}

static int t_uring_bind(void)
{
	const char *failed = NULL;
	struct run run;
	bool tp = false;
	int err, nfail = 0;

	err = start(&run, sc_uring_bind, "uring_bind", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.nlines; i++) {
		if (is_event(run.lines[i], "start"))
			tp = jstr_is(run.lines[i], "mode", "tracepoint");
		if (is_event(run.lines[i], "alloc") && jfind(run.lines[i], "error")) {
			failed = run.lines[i];
			nfail++;
		}
	}
	if (!err && run.r.fail_errno == EINVAL) {
		/* before 6.11: refused, nothing bound, nothing told */
		if (kernel_at_least(6, 11))
			err = fail("IORING_OP_BIND refused on a kernel from 6.11");
		else if (count_ev(&run, "alloc", run.child, -1, NULL) != 1)
			err = fail("%d allocations, want the listener's alone",
				   count_ev(&run, "alloc", run.child, -1, NULL));
		cleanup(&run);
		return err;
	}
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the io_uring bind() to a held port: errno %d, want EADDRINUSE",
			   run.r.fail_errno);
	if (!err)
		err = holds_are_leases(&run, "bind_ephemeral", "io_uring bind");
	if (!err && tp && nfail)
		err = fail("the tracepoint mode told an io_uring bind()'s failure it cannot see "
			   "(README says so): update the README: %s", failed);
	if (!err && !tp && (nfail != 1 || !jstr_is(failed, "error", "EADDRINUSE") ||
			    jnum(failed, "lport") != run.r.listen_port ||
			    jnum(failed, "pid") != run.child))
		err = fail("%d failures; want the io_uring bind()'s EADDRINUSE on %d: %s", nfail,
			   run.r.listen_port, failed ? failed : "none");
	if (!err)
		err = none_held(&run);
	cleanup(&run);
	return err;
}

LIVE_TEST(udp_io_uring, t_udp_io_uring, 199, false);
LIVE_TEST(uring_bind, t_uring_bind, 200, false);
LIVE_TEST(udp_disconnect, t_udp_disconnect, 199, false);
LIVE_TEST(udp_reconnect, t_udp_reconnect, 199, false);
LIVE_TEST(listen_unbound, t_listen_unbound, 199, false);
LIVE_TEST(syn_unanswered, t_syn_unanswered, 197, false);
LIVE_TEST(fastopen, t_fastopen, 199, false);
LIVE_TEST(lease_chaos, t_lease_chaos, 199, false);
