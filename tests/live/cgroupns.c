// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where the cgroup v2 tree is not the host's: portlife started with no
 * cgroup2 mounted (as `ip netns exec` leaves it), and inside a cgroup
 * namespace (a container's) with and without the host's processes above it.
 * The tracepoint mode's socket hooks see only the sockets below the cgroup
 * they attach to: it must find the host's root, or refuse, never trace a
 * container's part of the host as if it were all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

static char cg_mnt[PATH_MAX];		/* the host's cgroup2 mount point */
static char cg_dir[PATH_MAX + 64];	/* the test's cgroup, the namespace's root */

/* A mount namespace of our own without any cgroup2 mount. */
static int unmount_cgroup2(void)
{
	char mnt[PATH_MAX];

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -1;
	for (int i = 0; i < 8 && !cgroup2_root(mnt, sizeof(mnt)); i++)
		if (umount2(mnt, MNT_DETACH))
			return -1;
	return cgroup2_root(mnt, sizeof(mnt)) ? 0 : -1;
}

/*
 * Into the test's cgroup, then a cgroup namespace rooted there, with cgroup2
 * mounted again where the host has it: what a container sees.
 */
static int enter_cgroup_ns(void)
{
	char procs[PATH_MAX + 96], self[16];

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_dir);
	snprintf(self, sizeof(self), "%d", (int)getpid());
	if (write_file(procs, self) || unmount_cgroup2() || unshare(CLONE_NEWCGROUP))
		return -1;
	/* in a cgroup namespace: this mount's options do not touch the host's */
	return mount("cgroup2", cg_mnt, "cgroup2", 0, NULL);
}

/* The child's TCP and UDP ports, binds and connects, all seen whole. */
static int traced_whole(const char *name, int (*pre)(void))
{
	struct run run;
	int err;

	tracer_pre = pre;
	err = start(&run, sc_workload, name, NULL);
	tracer_pre = NULL;
	if (!err)
		err = drive(&run);
	stop(&run, 1000);
	if (!err && check_workload(&run)) {
		char why[512];

		snprintf(why, sizeof(why), "%s", last_failure());
		err = fail("%s: %s", name, why);
	}
	cleanup(&run);
	return err;
}

/*
 * portlife --json -d 3 in a cgroup namespace and a pid namespace: no parent
 * in another mount namespace. own_proc: /proc remounted for that pid
 * namespace too, so that no host process is in sight. Returns at once: the
 * helper's pid, whose exit status is portlife's.
 */
static pid_t isolated(const char *out, const char *errf, bool own_proc)
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		char *argv[] = { (char *)portlife, "--json", "-d", "3", "--no-alerts",
				 mode ? "--mode" : NULL, (char *)mode, NULL };
		pid_t init;

		if (enter_cgroup_ns() || unshare(CLONE_NEWPID))
			_exit(126);
		init = fork();
		if (init == 0) {
			int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (own_proc && mount("proc", "/proc", "proc", 0, NULL))
				_exit(126);
			dup2(o, 1);
			dup2(e, 2);
			execv(portlife, argv);
			_exit(127);
		}
		if (init < 0 || waitpid(init, &st, 0) != init)
			_exit(126);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 125);
	}
	return p;
}

/*
 * One isolated run: with host processes in sight, the tree's root is found
 * through them and our connect() is seen. With none, the tracepoint mode
 * runs at the namespace's root (a system container's own service) and says
 * on stderr that it sees that container's sockets alone; another mode sees
 * ours. Never the container's part of the host without a word.
 */
static int isolated_run(const char *name, bool own_proc)
{
	char out[PATH_MAX], errf[PATH_MAX + 8], **l = NULL;
	const char *start = NULL, *a = NULL;
	int err = 0, st, n = 0, rc, lfd, c = -1;
	unsigned short port = 0;
	bool reaped = false;
	pid_t p;

	snprintf(out, sizeof(out), "%s/%s.out", tmpdir, name);
	snprintf(errf, sizeof(errf), "%s.err", out);
	p = isolated(out, errf, own_proc);
	if (p < 0)
		return fail("%s: fork: %s", name, strerror(errno));
	for (int t = 0; t < 200 && !reaped && !file_has(out, "\"event\":\"start\""); t++) {
		reaped = waitpid(p, &st, WNOHANG) == p;
		sleep_ms(50);
	}
	/* a TCP connect() of ours, in the host's cgroup, while it traces */
	lfd = listener(AF_INET, 0);
	if (lfd >= 0)
		c = connect_to(AF_INET, sock_port(lfd), 0, 0);
	if (c >= 0)
		port = sock_port(c);
	sleep_ms(300);
	if (c >= 0)
		close(c);
	if (lfd >= 0)
		close(lfd);
	if (!reaped && waitpid(p, &st, 0) != p)
		return fail("%s: lost portlife", name);
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (!port)
		return fail("%s: our connect() failed: the check proves nothing", name);
	if (rc)
		return fail("%s: exit %d (%s)", name, rc, errf);
	l = file_lines(out, &n);
	for (int i = 0; i < n; i++) {
		if (jstr_is(l[i], "event", "start") && !start)
			start = l[i];
		if (jstr_is(l[i], "event", "alloc") && jnum(l[i], "lport") == port &&
		    jstr_is(l[i], "kind", "connect"))
			a = l[i];
	}
	if (!start)
		err = fail("%s: exit 0 and no start line (%s)", name, out);
	else if (own_proc && jstr_is(start, "mode", "tracepoint")) {
		if (!file_has(errf, "sees this container's sockets alone") ||
		    !file_has(errf, "--cgroupns=host"))
			err = fail("%s: the tracepoint mode at a cgroup namespace's root, and stderr "
				   "does not say it sees that container alone (%s)", name, errf);
	} else if (!a) {
		err = fail("%s: our connect() from port %u, outside the namespace, not seen (%s)",
			   name, port, out);
	}
	free_lines(l, n);
	return err;
}

static int t_cgroup_reach(void)
{
	glob_t stale;
	int err;

	if (cgroup2_root(cg_mnt, sizeof(cg_mnt)))
		return fail("no cgroup v2 mount to test with");
	/* a run killed before its cleanup left its cgroup: empty now, removed */
	snprintf(cg_dir, sizeof(cg_dir), "%s/portlife-cgns-*", cg_mnt);
	if (!glob(cg_dir, GLOB_ONLYDIR | GLOB_NOSORT, NULL, &stale)) {
		for (size_t i = 0; i < stale.gl_pathc; i++)
			rmdir(stale.gl_pathv[i]);
		globfree(&stale);
	}
	snprintf(cg_dir, sizeof(cg_dir), "%s/portlife-cgns-%d", cg_mnt, (int)getpid());
	if (mkdir(cg_dir, 0755) && errno != EEXIST)
		return fail("cannot make %s: %s", cg_dir, strerror(errno));

	/* `ip netns exec` remounts /sys: no cgroup2 where portlife runs */
	err = traced_whole("cgroup_unmounted", unmount_cgroup2);
	/* a container's cgroup namespace, the host's processes above it */
	if (!err)
		err = traced_whole("cgroup_ns", enter_cgroup_ns);
	/* none above it (a pid namespace), but the host's in /proc */
	if (!err)
		err = isolated_run("cgroup_ns_pidns", false);
	/* nothing of the host's in sight */
	if (!err)
		err = isolated_run("cgroup_ns_alone", true);

	/* its last process just reaped: the kernel may take a moment to let it go */
	for (int i = 0; rmdir(cg_dir) && errno == EBUSY && i < 50; i++)
		sleep_ms(20);
	if (!access(cg_dir, F_OK))
		err = err ? err : fail("cannot remove %s: %s", cg_dir, strerror(errno));
	return err;
}

LIVE_TEST(cgroup_reach, t_cgroup_reach, 195, false);
