// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Connects: 200 IPv4 and 200 IPv6 connects, each port reported once, and one
 * workload for every mode checked lease by lease.
 */
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

/* 200 connects; the server closes first so the client ports are freed at once. */
int sc_connects(struct result *r, int family)
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

int sc_v4(struct result *r) { return sc_connects(r, AF_INET); }
static int sc_v6(struct result *r) { return sc_connects(r, AF_INET6); }

/*
 * One workload for every mode: IPv4 connects closed actively (TIME_WAIT),
 * IPv6 connects closed passively, bind(0)+listen, a UDP bind(0) and a UDP
 * autobind. Each connect() is timed: the allocation latency portlife reports
 * must fit inside it.
 */
int sc_workload(struct result *r)
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

int check_connects(struct run *run, int family, const char *raddr, bool want_release)
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

	err = start(&run, family == AF_INET6 ? sc_v6 : sc_v4,
		    family == AF_INET6 ? "connect_v6" : "connect_v4", NULL);
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

/* What sc_workload did, every port of it, as portlife told it. */
int check_workload(struct run *runp)
{
	struct run run = *runp;
	const char *a;
	int err = 0;

	for (int i = 0; !err && i < run.r.nports; i++) {
		a = lease_of_family(&run, run.r.ports[i], "connect", 4);
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
		a = lease_of_family(&run, run.r.ports6[i], "connect", 6);
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
	/*
	 * By a first send: the tracepoint mode's hook runs after the port is
	 * taken, so its latency is not measured (null, never a 0 ns sample);
	 * the exact modes time the search.
	 */
	if (!err) {
		bool tp = file_has(run.err, "mode tracepoint");

		if (tp ? !strstr(a, "\"latency_ns\":null") : jnum(a, "latency_ns") <= 0)
			err = fail("UDP autobind by a send: latency %s: %s",
				   tp ? "not null" : "not measured", a);
	}
	if (!err)
		err = expect_end(&run, a, "close", false);
	return err;
}

static int t_workload(void)
{
	struct run run;
	int err;

	err = start(&run, sc_workload, "workload", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 1000);
	if (!err)
		err = check_workload(&run);
	cleanup(&run);
	return err;
}

/*
 * Threads with names of their own (a JVM's pools, a proxy's workers) make a
 * process's connections: each is the process's, under its name (its main
 * thread's), with the thread's tid. portlife runs with -c on the process's
 * name: it must see them all.
 */
#define THREAD_CONNECTS 3

struct named_thread {
	const char *name;
	unsigned short port;	/* the listener's */
	unsigned short ports[THREAD_CONNECTS];
	pid_t tid;
	int err;
};

static void *named_thread_run(void *arg)
{
	struct named_thread *t = arg;

	prctl(PR_SET_NAME, t->name);
	t->tid = (pid_t)syscall(SYS_gettid);
	for (int i = 0; i < THREAD_CONNECTS && !t->err; i++) {
		int c = connect_to(AF_INET, t->port, 0, 0);

		if (c < 0) {
			t->err = c;
			break;
		}
		t->ports[i] = sock_port(c);
		close(c);
	}
	return NULL;
}

static int sc_thread_names(struct result *r)
{
	struct named_thread t[2] = { { .name = "pl-http-worker" }, { .name = "pl-db-pool" } };
	pthread_t th[2];
	int lfd;

	prctl(PR_SET_NAME, "pl-threads");
	lfd = listener(AF_INET, 0);
	if (lfd < 0)
		return -errno;
	for (int k = 0; k < 2; k++) {
		t[k].port = sock_port(lfd);
		if (pthread_create(&th[k], NULL, named_thread_run, &t[k]))
			return -EAGAIN;
	}
	for (int k = 0; k < 2; k++) {
		pthread_join(th[k], NULL);
		if (t[k].err)
			return t[k].err;
		for (int i = 0; i < THREAD_CONNECTS; i++)
			r->ports[r->nports++] = t[k].ports[i];
		r->kind_n[k] = t[k].tid;
	}
	r->listen_port = sock_port(lfd);
	sleep_ms(200);
	close(lfd);
	return 0;
}

static int t_thread_names(void)
{
	char *extra[] = { "-c", "pl-threads", NULL };
	const char *sum = NULL;
	struct run run;
	int err;

	err = start(&run, sc_thread_names, "thread_names", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *a = NULL;
		int tid = run.r.kind_n[i / THREAD_CONNECTS];

		if (count_ev(&run, "alloc", run.child, run.r.ports[i], &a) != 1)
			err = fail("port %u of a thread named otherwise: %d alloc events with -c "
				   "pl-threads, want 1", run.r.ports[i],
				   count_ev(&run, "alloc", run.child, run.r.ports[i], NULL));
		else if (!jstr_is(a, "comm", "pl-threads") || jnum(a, "tid") != tid)
			err = fail("port %u: want comm pl-threads (the process's) and tid %d (the "
				   "thread's): %s", run.r.ports[i], tid, a);
	}
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child) {
			if (sum)
				err = fail("two summary rows for one process: %s", run.lines[i]);
			sum = run.lines[i];
		}
	/* the listener's bind(0) and the threads' connects, in one row */
	if (!err && (!sum || !jstr_is(sum, "comm", "pl-threads") ||
		     jnum(sum, "allocs") != run.r.nports + 1))
		err = fail("want one summary row, pl-threads, %d allocations: %s", run.r.nports + 1,
			   sum ? sum : "(none)");
	cleanup(&run);
	return err;
}

/* ---- -4: IPv4 traffic, whatever the socket's family --------------------------- */

/*
 * A dual-stack listener, and three clients: an IPv4 socket, an IPv6 socket
 * to ::ffff:127.0.0.1 (how a JVM connects to IPv4), an IPv6 socket to ::1.
 */
static int sc_family_filter(struct result *r)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	int lfd, c[3], zero = 0, err;

	if ((err = own_netns()))
		return err;
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(lfd, (void *)&s6, sizeof(s6)) || listen(lfd, 8))
		return -errno;
	r->listen_port = sock_port(lfd);
	s6.sin6_port = htons(r->listen_port);
	if ((c[0] = connect_to(AF_INET, r->listen_port, 0, 0)) < 0)
		return c[0];
	for (int i = 1; i < 3; i++) {
		c[i] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memset(&s6.sin6_addr, 0, sizeof(s6.sin6_addr));
		if (i == 1) {
			s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
			s6.sin6_addr.s6_addr[12] = 127;
			s6.sin6_addr.s6_addr[15] = 1;
		} else {
			s6.sin6_addr.s6_addr[15] = 1;
		}
		if (c[i] < 0 || connect(c[i], (void *)&s6, sizeof(s6)))
			return -errno;
	}
	for (int i = 0; i < 3; i++)
		r->ports[r->nports++] = sock_port(c[i]);
	sleep_ms(50);
	for (int i = 0; i < 3; i++)
		rst_close(c[i]);
	close(lfd);
	sleep_ms(100);
	return 0;
}

/*
 * -4 keeps IPv4 traffic: the IPv4 socket's connection and the IPv6 socket's
 * to a v4-mapped address, each allocated and released, and the dual-stack
 * listener (on [::], it serves IPv4 too); not the connection to ::1.
 * Before, the kernel's filter took the socket's family: -4 saw none of a
 * JVM's IPv4 connections.
 */
static int t_family_filter(void)
{
	char *const extra[] = { "-4", NULL };
	struct run run;
	int err;

	err = start(&run, sc_family_filter, "family_filter", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	for (int i = 0; !err && i < 3; i++) {
		const char *a = NULL;
		int n = count_ev(&run, "alloc", run.child, run.r.ports[i], &a);
		int rel = n == 1 ? count_lease_ev(&run, "release", jnum(a, "lease"), NULL) : 0;

		if (i < 2 && (n != 1 || rel != 1))
			err = fail("%s port %d under -4: %d allocations, %d releases (want 1, 1)",
				   i ? "v4-mapped" : "IPv4", run.r.ports[i], n, rel);
		else if (i == 2 && (n || count_ev(&run, "state", run.child, run.r.ports[i], NULL)))
			err = fail("IPv6 port %d reported under -4", run.r.ports[i]);
	}
	if (!err && count_ev(&run, "alloc", run.child, run.r.listen_port, NULL) != 1)
		err = fail("the dual-stack listener's port %d not reported under -4",
			   run.r.listen_port);
	cleanup(&run);
	return err;
}

LIVE_TEST(connect_v4, t_connect_v4, 10, false);
LIVE_TEST(thread_names, t_thread_names, 25, false);
LIVE_TEST(connect_v6, t_connect_v6, 20, false);
LIVE_TEST(family_filter, t_family_filter, 26, false);
LIVE_TEST(workload, t_workload, 100, false);
