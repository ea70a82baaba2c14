// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What portlife shows of the sockets: `ports --json` against the kernel's own
 * tables, and `portlife top` driven in tmux.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

/* `portlife ports --json` lists what the kernel's own tables list. */
static int sc_mixed(struct result *r)
{
	int l, c, a, o, u, err;
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
	/*
	 * An orphan in FIN_WAIT2: closed, its peer's FIN never sent (the
	 * accepted end stays open). The kernel keeps it as a timewait socket
	 * whose substate /proc/net/tcp (and ss) show: FIN_WAIT2.
	 */
	o = connect_to(AF_INET, r->listen_port, 0, 0);
	if (o < 0 || accept(l, NULL, NULL) < 0)
		return -errno;
	close(o);
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
	char out[300], ns[64];
	char *argv[] = { "portlife", "ports", "--json", "--netns", ns, NULL };
	int nw, ng = 0, err;
	struct run run;
	FILE *f;
	char line[4096];

	err = start(&run, sc_mixed, "ports_vs_kernel", NULL);
	if (!err)
		err = drive(&run);
	/* the namespace by path (ports_bound and headroom give an inode) */
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", run.child);
	snprintf(out, sizeof(out), "%s/ports_vs_kernel.json", tmpdir);
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

/*
 * Sockets that are only bound (bind(), no listen() or connect()) hold their
 * ports, yet no iterator lists them: from kernel 6.7 sock_diag does (with
 * tcp_diag), and `ports` shows them as BOUND with their owner. Where it
 * cannot, none may appear.
 */
#define BOUND_PORT6 24690

static int sc_bound(struct result *r)
{
	int a, b, err;

	if ((err = own_netns()))
		return err;
	if ((a = bound_socket(AF_INET, 0)) < 0)
		return a;
	r->ports[r->nports++] = sock_port(a);
	if ((b = bound_socket(AF_INET6, BOUND_PORT6)) < 0)
		return b;
	r->ports[r->nports++] = BOUND_PORT6;
	return 0;	/* both stay bound until the tracer stops */
}

static int t_ports_bound(void)
{
	char out[300], errf[320], ns[32];
	char *argv[] = { "portlife", "ports", "--json", "--netns", ns, NULL };
	bool listed = bound_listable();
	int err, found = 0, bound = 0;
	struct run run;
	char line[4096];
	FILE *f;

	err = start(&run, sc_bound, "ports_bound", NULL);
	if (!err)
		err = drive(&run);
	snprintf(ns, sizeof(ns), "%lu", netns_of(run.child));
	snprintf(out, sizeof(out), "%s/ports_bound.json", tmpdir);
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --json failed");
	stop(&run, 0);
	f = fopen(out, "r");
	while (!err && f && fgets(line, sizeof(line), f)) {
		if (!is_event(line, "socket") || !jstr_is(line, "state", "BOUND"))
			continue;
		bound++;
		for (int i = 0; i < run.r.nports; i++)
			if (jnum(line, "lport") == run.r.ports[i] && jnum(line, "pid") == run.child &&
			    jnum(line, "family") == (i ? 6 : 4) && jnum(line, "rport") == 0)
				found++;
	}
	if (f)
		fclose(f);
	if (!err && listed && (found != 2 || bound != 2))
		err = fail("%d of the 2 bound-only sockets listed with their owner, %d BOUND rows: "
			   "see %s", found, bound, out);
	if (!err && !listed && bound)
		err = fail("%d BOUND rows where the kernel lists none (before 6.7, or no tcp_diag): "
			   "see %s", bound, out);
	/* and says so on stderr exactly when it cannot */
	snprintf(errf, sizeof(errf), "%s.err", out);
	if (!err && listed == file_has(errf, "sockets only bound"))
		err = fail("stderr %s that bound-only sockets are not listed: see %s",
			   listed ? "says" : "does not say", errf);
	cleanup(&run);
	return err;
}

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
 * Portlife top on an 80x24 terminal: our own connections and a child's
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
	/* by pid, ascending; the child's pid is lower than ours after pid_max wrapped */
	if (!err)
		err = wait_rows(child, 12, 4, 20, "sort pid", 5000, &order);
	if (!err && (getpid() < child ? order >= 0 : order <= 0))
		err = fail("sorted by pid, our row (pid %d) is on the wrong side of the child's "
			   "(pid %d)", (int)getpid(), (int)child);
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

/*
 * top -c NAME: the destinations panel shows the pools NAME's sockets draw
 * from (each counted whole: every process shares it), not another
 * process's. pl-topa and pl-topb each hold 3 connections, to listeners of
 * their own; top -c pl-topa lists :A and not :B (it listed both).
 */
static pid_t top_holder(const char *name, int lfd, int hold[2], int ready[2])
{
	pid_t pid = fork();

	if (pid == 0) {
		int c[3];
		char b = 'r';

		prctl(PR_SET_NAME, name);
		close(hold[1]);
		for (int i = 0; i < 3; i++)
			if ((c[i] = connect_to(AF_INET, sock_port(lfd), 0, 0)) < 0)
				_exit(2);
		if (write(ready[1], &b, 1) != 1)
			_exit(3);
		(void)!read(hold[0], &b, 1);	/* until the parent closes its end */
		_exit(0);
	}
	return pid;
}

static int t_top_filtered(void)
{
	char out[300], pa[32], pb[32], *buf = NULL;
	char *argv[] = { "portlife", "top", "-c", "pl-topa", "-d", "3", NULL };
	int la = listener(AF_INET, 0), lb = listener(AF_INET, 0), hold[2], ready[2], err = 0;
	pid_t a = -1, b = -1;
	char c;
	FILE *f;
	size_t len = 0;

	if (la < 0 || lb < 0 || pipe(hold) || pipe(ready))
		return fail("listeners, pipes: %s", strerror(errno));
	a = top_holder("pl-topa", la, hold, ready);
	b = top_holder("pl-topb", lb, hold, ready);
	if (a < 0 || b < 0 || read(ready[0], &c, 1) != 1 || read(ready[0], &c, 1) != 1)
		err = fail("the two holders did not connect");
	snprintf(out, sizeof(out), "%s/top_filtered.out", tmpdir);
	if (!err && run_capture(argv, out))
		err = fail("portlife top -c pl-topa -d 3 failed: see %s", out);
	snprintf(pa, sizeof(pa), "127.0.0.1:%u ", sock_port(la));
	snprintf(pb, sizeof(pb), "127.0.0.1:%u ", sock_port(lb));
	if (!err && (!(f = fopen(out, "r")) || getdelim(&buf, &len, '\0', f) < 0))
		err = fail("cannot read %s", out);
	if (!err && (!strstr(buf, pa) || strstr(buf, pb)))
		err = fail("top -c pl-topa should list its destination %s and not pl-topb's %s: "
			   "see %s", pa, pb, out);
	free(buf);
	close(hold[1]);
	if (a > 0)
		waitpid(a, NULL, 0);
	if (b > 0)
		waitpid(b, NULL, 0);
	close(hold[0]);
	close(ready[0]);
	close(ready[1]);
	close(la);
	close(lb);
	return err;
}

/*
 * Ports that connect() passes over for every destination, as the kernel
 * decides (__inet_hash_connect() skips a port whose bind bucket bind() or
 * listen() made): a listener's, also once only its accepted connections'
 * TIME_WAIT hold it, and a client's that bound before connect(). Neither is
 * a destination's connect() port. Headroom counted them as destinations of
 * one port each (the server's TIME_WAIT toward each client's port) and as
 * usable by every other destination.
 */
#define BUCKET_DEST 7100

static int sc_bucket(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, m, b, c;

	if (own_netns() || write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009"))
		return -EPERM;
	/* listen() without bind(): its port from the range, in a bucket of listen()'s */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || listen(l, 8))
		return -errno;
	r->listen_port = sock_port(l);
	for (int i = 0; i < 3; i++) {
		int cl = connect_to(AF_INET, r->listen_port, 0, 0), a;
		char x;

		if (cl < 0)
			return cl;
		r->ports[r->nports++] = sock_port(cl);
		if ((a = accept(l, NULL, NULL)) < 0)
			return -errno;
		close(a);	/* the server closes first: its TIME_WAIT, on the listener's port */
		if (read(cl, &x, 1) != 0)
			return -EPROTO;
		close(cl);
	}
	close(l);
	if ((m = listener(AF_INET, BUCKET_DEST)) < 0)
		return m;
	/* bind(0), then connect(): a bucket of bind()'s */
	if ((b = bound_socket(AF_INET, 0)) < 0)
		return b;
	len = mkaddr(&ss, AF_INET, BUCKET_DEST);
	if (connect(b, (void *)&ss, len))
		return -errno;
	r->bound_port = sock_port(b);
	if ((c = connect_to(AF_INET, BUCKET_DEST, 0, 0)) < 0)
		return c;
	r->udp_auto = sock_port(c);	/* the one connect() port */
	return 0;	/* held until the test has looked */
}

static int t_headroom_buckets(void)
{
	char out[300], ns[64];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", "--netns", ns,
			 NULL };
	const char *d = NULL, *pool = NULL;
	struct run run;
	int err, n = 0;
	char **l = NULL;

	err = start(&run, sc_bucket, "headroom_buckets", NULL);
	if (!err)
		err = drive(&run);
	snprintf(ns, sizeof(ns), "/proc/%d/ns/net", run.child);
	snprintf(out, sizeof(out), "%s/headroom_buckets.json", tmpdir);
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --headroom failed");
	stop(&run, 0);
	if (!err)
		l = file_lines(out, &n);
	for (int i = 0; !err && i < n; i++) {
		if (is_event(l[i], "bind_headroom") && jstr_is(l[i], "proto", "tcp"))
			pool = l[i];
		if (!is_event(l[i], "headroom"))
			continue;
		if (jnum(l[i], "rport") == BUCKET_DEST)
			d = l[i];
		else
			err = fail("a destination that no connect() reached (a TIME_WAIT of the "
				   "listener on %d, whose clients had %d %d %d): %s", run.r.listen_port,
				   run.r.ports[0], run.r.ports[1], run.r.ports[2], l[i]);
	}
	/*
	 * 10 ports; the listener's (its TIME_WAIT) and the bound client's
	 * closed to every connect(): 8 usable, 1 in use (the connect()'s), 7 free.
	 */
	if (!err && (!d || jnum(d, "in_use") != 1 || jnum(d, "usable") != 8 || jnum(d, "free") != 7))
		err = fail("destination :%d: want in_use 1 (port %d), usable 8, free 7 (listener's "
			   "%d and bound %d passed over): %s", BUCKET_DEST, run.r.udp_auto,
			   run.r.listen_port, run.r.bound_port, d ? d : "none");
	/* bind(0)'s pool counts every port held, whoever holds it */
	if (!err && (!pool || jnum(pool, "in_use") != 3 || jnum(pool, "free") != 7))
		err = fail("the TCP pool: want 3 in use, 7 free: %s", pool ? pool : "none");
	free_lines(l, n);
	cleanup(&run);
	return err;
}

/* ---- owners that ps would name ------------------------------------------------- */

static int shared_pipe[2];

/* A worker that makes the sockets, while main() has gone (pthread_exit()). */
static void *leader_worker(void *arg)
{
	unsigned short ports[2];
	int l = listener(AF_INET, 0), u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);

	(void)arg;
	if (l < 0 || u < 0 || bind(u, (void *)&ss, len))
		_exit(1);
	sleep_ms(100);	/* main() is gone by now */
	ports[0] = sock_port(l);
	ports[1] = sock_port(u);
	if (write(shared_pipe[1], ports, sizeof(ports)) != sizeof(ports))
		_exit(1);
	pause();
	return NULL;
}

/*
 * `ports -p PID` for sockets ps would give PID: a listener and a UDP socket
 * a parent made and a forked child shares (listed under the child: before,
 * the lowest pid alone had them, and -p CHILD listed nothing), and those of
 * a process whose main thread has exited (a zombie leader, its files gone,
 * a worker thread holding them: before, no owner at all).
 */
static int t_ports_owners(void)
{
	char out[300], pidbuf[16];
	char *argv[] = { "portlife", "ports", "--json", "-p", pidbuf, NULL };
	unsigned short ports[2], lports[2];
	pid_t parent, child = 0, leader;
	int err = 0, p2[2];

	if (pipe(shared_pipe) || pipe(p2))
		return fail("pipe: %s", strerror(errno));
	parent = fork();
	if (parent == 0) {
		int l = listener(AF_INET, 0), u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_storage ss;
		socklen_t len = mkaddr(&ss, AF_INET, 0);
		pid_t c;

		prctl(PR_SET_NAME, "pl-share-a");
		if (l < 0 || u < 0 || bind(u, (void *)&ss, len))
			_exit(1);
		ports[0] = sock_port(l);
		ports[1] = sock_port(u);
		c = fork();
		if (c == 0) {
			prctl(PR_SET_NAME, "pl-share-b");
			pause();
			_exit(0);
		}
		if (write(p2[1], &c, sizeof(c)) != sizeof(c) ||
		    write(p2[1], ports, sizeof(ports)) != sizeof(ports))
			_exit(1);
		pause();
		_exit(0);
	}
	if (parent < 0 || read(p2[0], &child, sizeof(child)) != sizeof(child) ||
	    read(p2[0], ports, sizeof(ports)) != sizeof(ports))
		err = fail("the sharing processes did not start");
	leader = err ? -1 : fork();
	if (leader == 0) {
		pthread_t t;

		prctl(PR_SET_NAME, "pl-leader");
		if (pthread_create(&t, NULL, leader_worker, NULL))
			_exit(1);
		pthread_exit(NULL);
	}
	if (!err && (leader < 0 || read(shared_pipe[0], lports, sizeof(lports)) != sizeof(lports)))
		err = fail("the process without its main thread did not start");
	for (int k = 0; k < 2 && !err; k++) {
		pid_t who = k ? leader : child;
		const unsigned short *want = k ? lports : ports;
		const char *name = k ? "pl-leader" : "pl-share-b";
		int n = 0, found = 0;
		char **v;

		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)who);
		snprintf(out, sizeof(out), "%s/ports_owners_%d.json", tmpdir, k);
		if (run_capture(argv, out)) {
			err = fail("portlife ports -p %d failed: see %s", (int)who, out);
			break;
		}
		v = file_lines(out, &n);
		for (int i = 0; i < n; i++)
			if (is_event(v[i], "socket") && jnum(v[i], "pid") == who &&
			    jstr_is(v[i], "comm", name) &&
			    (jnum(v[i], "lport") == want[0] || jnum(v[i], "lport") == want[1]))
				found++;
		free_lines(v, n);
		if (found != 2)
			err = fail("ports -p %d (%s) lists %d of its 2 sockets (ports %u, %u): see %s",
				   (int)who, name, found, want[0], want[1], out);
	}
	if (child > 0)
		kill(child, SIGKILL);
	if (parent > 0) {
		kill(parent, SIGKILL);
		waitpid(parent, NULL, 0);
	}
	if (leader > 0) {
		kill(leader, SIGKILL);
		waitpid(leader, NULL, 0);
	}
	close(shared_pipe[0]);
	close(shared_pipe[1]);
	close(p2[0]);
	close(p2[1]);
	return err;
}

LIVE_TEST(ports_vs_kernel, t_ports_vs_kernel, 160, false);
LIVE_TEST(headroom_buckets, t_headroom_buckets, 162, false);
LIVE_TEST(ports_bound, t_ports_bound, 161, false);
LIVE_TEST(ports_owners, t_ports_owners, 161, false);
LIVE_TEST(top, t_top, 200, true);
LIVE_TEST(top_filtered, t_top_filtered, 201, true);
