// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Hostile neighbours (issue 14): a process renaming itself before every
 * bind, a cgroup named with terminal escapes, a stale failures file whose
 * pid now belongs to someone else, capabilities that look enough and are
 * not, a metrics file that cannot be written from the start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/types.h>

#include "harness.h"
#include "jsonread.h"

/* The failures file as user/failures.h defines it (livetest links nothing of user/). */
#define FAILS_DIR "/run/portlife"
struct fails_hdr {
	char magic[8];
	__u32 pid, pad;
	__u64 start_time, wall_off_ns;
};

/*
 * Runs argv (a full command) into out; its exit status, or -1. memlock: the
 * child's RLIMIT_MEMLOCK, soft and hard (0: as inherited).
 */
static int run_cmd_lim(char *const argv[], const char *out, rlim_t memlock)
{
	int st;
	pid_t p = fork();

	if (p == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		struct rlimit rl = { memlock, memlock };

		dup2(fd, 1);
		dup2(fd, 2);
		if (memlock && setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_cmd(char *const argv[], const char *out)
{
	return run_cmd_lim(argv, out, 0);
}

static int count_in(const char *path, const char *needle)
{
	int n = 0, nl;
	char **v = file_lines(path, &nl);

	for (int i = 0; i < nl; i++)
		n += strstr(v[i], needle) != NULL;
	free_lines(v, nl);
	return n;
}

/* ---- renames ----------------------------------------------------------- */

#define RENAMES 3000

/* A new name before every bind(0): PR_SET_NAME needs no privilege. */
static int sc_renames(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);
	int err;

	if ((err = own_netns()))
		return err;
	for (int i = 0; i < RENAMES; i++) {
		char name[16];
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		snprintf(name, sizeof(name), "pl-rn-%d", i);
		if (prctl(PR_SET_NAME, name, 0, 0, 0) || fd < 0 || bind(fd, (void *)&ss, len))
			return -errno;
		close(fd);
		r->nsucc++;
	}
	prctl(PR_SET_NAME, "livetest", 0, 0, 0);
	return 0;
}

/*
 * Every allocation is counted, and the summary has at most 8 rows for the
 * pid (its names past that are folded and counted as renamed_events).
 */
static int t_rename_churn(void)
{
	char *extra[] = { "-s", NULL };
	long long allocs = 0, renamed = 0;
	struct run run;
	int err, rows = 0;

	err = start(&run, sc_renames, "rename_churn", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "summary") || jnum(l, "pid") != run.child)
			continue;
		rows++;
		allocs += jnum(l, "allocs");
		renamed += jnum(l, "renamed_events");
	}
	if (!err && (rows < 1 || rows > 8))
		err = fail("%d summary rows for the renaming pid (want 1 to 8)", rows);
	if (!err && allocs != run.r.nsucc)
		err = fail("%lld allocations counted, the child made %d", allocs, run.r.nsucc);
	if (!err && renamed < run.r.nsucc - 8)
		err = fail("%lld renamed events, want at least %d", renamed, run.r.nsucc - 8);
	cleanup(&run);
	return err;
}

/* ---- a cgroup named with terminal escapes ------------------------------- */

/* Anyone with a delegated subtree can name a cgroup so: OSC title, clear screen. */
#define ESC_NAME "pl-esc\033]0;pwned\007\033[2J"

static int t_cgroup_escape(void)
{
	char root[PATH_MAX], dir[PATH_MAX + 64], procs[PATH_MAX + 96], out[300], pid[16];
	char *argv[] = { (char *)portlife, "-s", "-d", "3", "-p", pid, NULL, NULL, NULL };
	int go[2], err = 0, st, n;
	pid_t child, tracer;

	if (cgroup2_root(root, sizeof(root)))
		return fail("no cgroup v2 mounted");
	snprintf(dir, sizeof(dir), "%s/" ESC_NAME, root);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	snprintf(out, sizeof(out), "%s/cgroup_escape.out", tmpdir);
	if (mkdir(dir, 0755))
		return fail("cannot make the cgroup: %s", strerror(errno));
	if (pipe(go)) {
		rmdir(dir);
		return fail("pipe: %s", strerror(errno));
	}
	child = fork();
	if (child == 0) {
		struct sockaddr_storage ss;
		socklen_t len = mkaddr(&ss, AF_INET, 0);
		char c, self[16];
		int fd;

		snprintf(self, sizeof(self), "%d", getpid());
		if (write_file(procs, self) || read(go[0], &c, 1) != 1)
			_exit(1);
		for (int i = 0; i < 3; i++) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || bind(fd, (void *)&ss, len))
				_exit(2);
			close(fd);
		}
		_exit(0);
	}
	close(go[0]);
	snprintf(pid, sizeof(pid), "%d", child);
	if (mode) {
		argv[6] = "--mode";
		argv[7] = (char *)mode;
	}
	tracer = fork();
	if (tracer == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(portlife, argv);
		_exit(127);
	}
	for (int t = 0; t < 600 && !file_has(out, "Tracing port leases"); t++)
		sleep_ms(50);
	if (write(go[1], "g", 1) != 1)
		err = fail("cannot start the child");
	close(go[1]);
	waitpid(child, &st, 0);
	waitpid(tracer, NULL, 0);
	if (!err && (!WIFEXITED(st) || WEXITSTATUS(st)))
		err = fail("the child in the cgroup failed (%#x)", st);
	n = count_in(out, "cgroup /pl-esc?]0;pwned??[2J");
	if (!err && !n)
		err = fail("the summary does not name the cgroup, sanitised: see %s", out);
	if (!err && (file_has(out, "\033") || file_has(out, "\007")))
		err = fail("an escape sequence reached the output: see %s", out);
	/* the test's own cgroup goes, whatever happened */
	if (rmdir(dir) && !err)
		err = fail("cannot remove the cgroup: %s", strerror(errno));
	return err;
}

/* ---- a stale failures file ----------------------------------------------- */

/* /proc/PID/stat field 22, or 0. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
				"%*d %*d %*d %*d %llu", &st) != 1)
		return 0;
	return st;
}

/* A failures file of pid, with one failed bind on port, as a tracer that started at st writes it. */
static int plant(pid_t pid, unsigned long long st, unsigned short port, char *path, size_t len)
{
	struct fails_hdr h = { .magic = "PLFAIL2", .pid = pid, .start_time = st };
	/* struct pl_event by hand: type 1 (ALLOC), family 2, proto 6, kind 3 (bind) */
	unsigned char ev[120] = { 1, 2, 6, 3 };
	__s32 err = EADDRINUSE;
	__u32 p = pid;
	int fd;

	memcpy(ev + 6, &port, 2);
	memcpy(ev + 12, &err, 4);
	memcpy(ev + 16, &p, 4);
	memcpy(ev + 104, "pl-stale", 9);
	mkdir(FAILS_DIR, 0700);
	snprintf(path, len, FAILS_DIR "/%d.failures", pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, &h, sizeof(h)) != sizeof(h) || write(fd, ev, sizeof(ev)) != sizeof(ev))
		return -errno;
	close(fd);
	return 0;
}

/*
 * After kill -9 a tracer's file stays; when its pid is reused, `who` must not
 * trust it. The pid here is a sleeping child (alive, not a tracer): with the
 * child's true start time the file is believed (the check can tell), with
 * another start time it is not.
 */
static int t_stale_failures(void)
{
	char path[128], out[300], portbuf[16];
	char *who[] = { (char *)portlife, "who", portbuf, "--json", NULL };
	unsigned short port = 65123;
	pid_t child;
	int err = 0;

	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	snprintf(out, sizeof(out), "%s/stale_failures.json", tmpdir);
	for (int t = 0; t < 100 && !start_time(child); t++)
		sleep_ms(10);
	if (plant(child, start_time(child), port, path, sizeof(path)))
		err = fail("cannot write %s: %s", path, strerror(errno));
	if (!err && (run_capture(who, out) || count_in(out, "\"event\":\"failure\"") != 1))
		err = fail("a live tracer's failures file is not read: see %s", out);
	if (!err && plant(child, start_time(child) + 1, port, path, sizeof(path)))
		err = fail("cannot write %s: %s", path, strerror(errno));
	if (!err && (run_capture(who, out) || count_in(out, "\"event\":\"failure\"")))
		err = fail("a stale failures file (another process's pid) was trusted: see %s", out);
	unlink(path);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return err;
}

/* ---- capabilities -------------------------------------------------------- */

/* kernel.perf_event_paranoid, or 0 if it cannot be read */
static int perf_paranoid(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK (uname, not the product's probe). */
static bool memlock_kernel(void)
{
	return !kernel_at_least(5, 11);
}

/*
 * CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN load the programs, but setns needs
 * CAP_SYS_ADMIN: portlife says so once, naming what is lost, and still runs.
 * Where the kernel takes more, portlife says what in one line and stops:
 * perf_event_paranoid 3 (Debian's kernels) keeps the perf events that
 * kprobes and classic tracepoints attach through from all but CAP_SYS_ADMIN,
 * and before 5.11 the maps count against a locked-memory limit that only
 * CAP_SYS_RESOURCE raises; with that limit raised beforehand, it runs.
 */
static int t_caps_limited(void)
{
	char out[300], *argv[] = { "setpriv", "--bounding-set", "-all,+bpf,+perfmon,+net_admin",
				   "--", (char *)portlife, "-s", "-d", "0.5", NULL, NULL, NULL };
	bool perf_events = mode && strcmp(mode, "fentry"), paranoid = perf_paranoid() >= 3;
	int rc;

	if (mode) {
		argv[8] = "--mode";
		argv[9] = (char *)mode;
	}
	snprintf(out, sizeof(out), "%s/caps_limited.out", tmpdir);
	rc = run_cmd(argv, out);
	if (rc == 127)
		return fail("setpriv (util-linux) is missing");
	/* maps are made before anything attaches: the locked-memory limit is met first */
	if (memlock_kernel()) {
		if (rc != 1 || count_in(out, "without CAP_SYS_RESOURCE: this kernel (before 5.11) "
					     "charges BPF maps to the locked-memory limit") != 1 ||
		    count_in(out, "charges BPF maps to the locked-memory limit (") != 1)
			return fail("the locked-memory limit without CAP_SYS_RESOURCE: want exit 1, a "
				    "warning and one failure naming it, got exit %d: see %s", rc, out);
		/* raised beforehand, as the docs say: then it loads */
		rc = run_cmd_lim(argv, out, RLIM_INFINITY);
		if (count_in(out, "locked-memory limit"))
			return fail("warned of the locked-memory limit with none set: see %s", out);
	}
	if (paranoid && count_in(out, "without CAP_SYS_ADMIN: kernel.perf_event_paranoid is 3") != 1)
		return fail("perf_event_paranoid is 3, and no single line says what it takes: see %s",
			    out);
	if (paranoid && perf_events) {
		if (rc != 1 || count_in(out, "mode unavailable: ") != 1 ||
		    count_in(out, "perf events (kprobes, tracepoints) then need CAP_SYS_ADMIN") != 1)
			return fail("%s mode with perf_event_paranoid 3 and no CAP_SYS_ADMIN: want exit "
				    "1 and one line naming the sysctl, got exit %d: see %s", mode, rc,
				    out);
		return 0;
	}
	if (rc)
		return fail("portlife with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN exited %d: see %s", rc,
			    out);
	if (count_in(out, "without CAP_SYS_ADMIN: cannot enter other network namespaces") != 1)
		return fail("no single line saying what is lost without CAP_SYS_ADMIN: see %s", out);
	return 0;
}

/* ---- a metrics file that cannot be written from the start ---------------- */

static int t_metrics_file_start(void)
{
	char dir[300], prom[340], fill[340], out[340];
	char *argv[] = { (char *)portlife, "-s", "-d", "2", "--metrics-file", prom, NULL };
	int fd, rc, err = 0;
	char block[4096] = { 0 };

	snprintf(dir, sizeof(dir), "%s/fullmetrics", tmpdir);
	snprintf(prom, sizeof(prom), "%s/portlife.prom", dir);
	snprintf(fill, sizeof(fill), "%s/fill", dir);
	snprintf(out, sizeof(out), "%s/metrics_file_start.out", tmpdir);
	mkdir(dir, 0700);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=8k"))
		return fail("cannot mount a small tmpfs: %s", strerror(errno));
	/* room to create a file, none to write one */
	fd = open(fill, O_WRONLY | O_CREAT, 0600);
	while (fd >= 0 && write(fd, block, sizeof(block)) > 0)
		;
	if (fd >= 0)
		close(fd);
	rc = run_cmd(argv, out);
	if (rc != 1)
		err = fail("portlife exited %d with an unwritable metrics file: see %s", rc, out);
	else if (count_in(out, "cannot write metrics to") != 1 || count_in(out, "retrying"))
		err = fail("not one error line (and no 'retrying'): see %s", out);
	umount2(dir, MNT_DETACH);
	return err;
}

LIVE_TEST(rename_churn, t_rename_churn, 240, false);
LIVE_TEST(cgroup_escape, t_cgroup_escape, 250, false);
LIVE_TEST(stale_failures, t_stale_failures, 260, false);
LIVE_TEST(caps_limited, t_caps_limited, 270, false);
LIVE_TEST(metrics_file_start, t_metrics_file_start, 280, true);
