// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Namespaces and cgroups: two netns reported apart, TIME_WAIT still seen in a
 * netns whose allocator is gone, no netns kept alive when idle, and the
 * cgroup filter.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

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

/* Two namespaces with different ranges are reported separately. */
static int t_two_netns(void)
{
	char out[300];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", NULL };
	pid_t a = park("41000 41009", NULL), b = park("42000 42099", NULL);
	const char *la, *lb;
	int err = 0;

	snprintf(out, sizeof(out), "%s/two_netns_headroom.json", tmpdir);
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

/*
 * n connections to port on listener l, each closed by the client first (its
 * port goes into TIME_WAIT), each port written to fd: 0, or 1 on a failure.
 */
static int closes_first(int l, unsigned short port, int n, int fd)
{
	for (int i = 0; i < n; i++) {
		int c = connect_to(AF_INET, port, 0, 0), a;
		unsigned short mine;

		if (c < 0)
			return 1;
		mine = sock_port(c);
		a = accept(l, NULL, NULL);
		close(c);	/* first: the TIME_WAIT is on the client's port */
		close(a);
		if (write(fd, &mine, sizeof(mine)) != sizeof(mine))
			return 1;
	}
	return 0;
}

/*
 * A short-lived client in a namespace of its own makes 20 connections,
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
		prctl(PR_SET_NAME, "pl-ns-gone");
		_exit(closes_first(l, r->listen_port, 20, pp[1]));
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

/* The alloc line of port by pid, or NULL. */
static const char *alloc_by(struct run *run, int port, int pid)
{
	for (int k = 0; k < run->nlines; k++)
		if (is_event(run->lines[k], "alloc") && jnum(run->lines[k], "lport") == port &&
		    jnum(run->lines[k], "pid") == pid)
			return run->lines[k];
	return NULL;
}

static int t_netns_gone(void)
{
	char *extra[] = { "-c", "pl-ns-gone", NULL };
	struct run run;
	int err;

	no_pid_filter = true;
	err = start(&run, sc_netns_gone, "netns_gone", extra);
	no_pid_filter = false;
	if (!err)
		err = drive(&run);
	/* the allocator is gone; a few snapshots at 0.5 s (the search is once a second) */
	sleep_ms(2500);
	stop(&run, 500);
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *a = alloc_by(&run, run.r.ports[i], run.r.other_pid);

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
 * portlife does not keep a namespace alive once nothing in it is waiting
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

	err = start(&run, sc_netns_idle, "netns_idle", NULL);
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

/* The scenario child moves into the cgroup, then connects. */
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
	err = start(&run, sc_in_cgroup, "cgroup_filter", extra);
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

/*
 * A namespace that dies: a process in a namespace of its own (a short-lived
 * container) makes connections it closes first and exits, its namespace
 * with it, whose cleanup purges the timewait sockets. Its ports must not
 * stay "held" (they did, 70 s, then "unseen"): released as tw_killed once
 * the rounds find no way in, twice a second apart.
 */
static int dead_linger_ms;	/* netns_dead_late: the process waits this long before it exits */

static int sc_netns_dead(struct result *r)
{
	int pp[2];
	pid_t p;

	if (pipe(pp))
		return -errno;
	p = fork();
	if (p == 0) {
		int l;

		prctl(PR_SET_NAME, "pl-ns-dead");
		if (own_netns() || (l = listener(AF_INET, 0)) < 0)
			_exit(1);
		if (closes_first(l, sock_port(l), 6, pp[1]))
			_exit(1);
		close(pp[1]);
		sleep_ms(dead_linger_ms);
		_exit(0);	/* the namespace goes with it */
	}
	close(pp[1]);
	while (r->nports < 6 && read(pp[0], &r->ports[r->nports], 2) == 2)
		r->nports++;
	close(pp[0]);
	r->other_pid = p;
	waitpid(p, NULL, 0);
	return r->nports == 6 ? 0 : -EPROTO;
}

static int netns_dead_check(const char *name)
{
	char *extra[] = { "-c", "pl-ns-dead", NULL };
	struct run run;
	int err;

	no_pid_filter = true;
	err = start(&run, sc_netns_dead, name, extra);
	no_pid_filter = false;
	if (!err)
		err = drive(&run);
	sleep_ms(3500);	/* two searches for a way in, a second apart */
	stop(&run, 0);
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *a = alloc_by(&run, run.r.ports[i], run.r.other_pid), *rel = NULL;

		if (!a)
			err = fail("no alloc of port %d by pid %d", run.r.ports[i], run.r.other_pid);
		else if (count_lease_ev(&run, "release", jnum(a, "lease"), &rel) != 1 ||
			 !jstr_is(rel, "reason", "tw_killed"))
			err = fail("port %d, its namespace gone: not released once as tw_killed: %s",
				   run.r.ports[i], rel ? rel : "(no release)");
		/* its close made a timewait socket, seen by a round or not: TIME_WAIT entered */
		else if (count_lease_ev(&run, "tw_enter", jnum(a, "lease"), NULL) != 1)
			err = fail("port %d: %d tw_enter events, want 1 (the close was "
				   "tcp_time_wait()'s)", run.r.ports[i],
				   count_lease_ev(&run, "tw_enter", jnum(a, "lease"), NULL));
	}
	for (int k = 0; !err && k < run.nlines; k++)
		if (is_event(run.lines[k], "summary") && jnum(run.lines[k], "pid") == run.r.other_pid &&
		    jnum(run.lines[k], "held") != 0)
			err = fail("ports still held after their namespace died: %s", run.lines[k]);
	cleanup(&run);
	return err;
}

static int t_netns_dead(void)
{
	return netns_dead_check("netns_dead");
}

/*
 * The same, the process alive for 1.5 s after its closes: the rounds find
 * the namespace through it and look at its TIME_WAIT. They must not keep
 * it alive after the process is gone (an fd held between rounds did: the
 * namespace, its veth pair and its TIME_WAIT lived on until the timers
 * ended, the leases held, never tw_killed).
 */
static int t_netns_dead_late(void)
{
	int err;

	dead_linger_ms = 1500;
	err = netns_dead_check("netns_dead_late");
	dead_linger_ms = 0;
	return err;
}

LIVE_TEST(two_netns, t_two_netns, 150, false);
LIVE_TEST(cgroup_filter, t_cgroup_filter, 190, false);
LIVE_TEST(netns_gone, t_netns_gone, 220, false);
LIVE_TEST(netns_dead, t_netns_dead, 221, false);
LIVE_TEST(netns_dead_late, t_netns_dead_late, 222, false);
LIVE_TEST(netns_idle, t_netns_idle, 230, false);
