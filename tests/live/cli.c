// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The command line and the process: a hostile process name through the JSON,
 * SIGTERM mid-run, bad input, forced modes refused with a reason, and a
 * second portlife's start unseen by the first.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

/* A process name made to break JSON and terminals. */
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

/* Traffic while portlife gets SIGTERM. */
static int sc_sigterm(struct result *r)
{
	return sc_connects(r, AF_INET);
}

static int t_hostile_json(void)
{
	struct run run;
	char cmd[1024], want[64] = "", got[256] = "";
	FILE *f;
	int err;

	err = start(&run, sc_hostile, "hostile_json", NULL);
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
	err = start(&run, sc_sigterm, "sigterm", NULL);
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
	err = start(&run, sc_hostile, "forced_modes", NULL);
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

/* A thread of ours that waits, for -p with a thread's id. */
static pid_t thread_tid;
static int thread_done[2] = { -1, -1 };

static void *waiting_thread(void *arg)
{
	char c;

	(void)arg;
	__atomic_store_n(&thread_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (read(thread_done[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

/* -p with a thread's id matches nothing: refused, naming its process. */
static int thread_pid_refused(void)
{
	char tid[16], want[96], *argv[] = { "portlife", "-p", tid, "-d", "1", "-s", NULL };
	pthread_t th;
	int err;

	if (pipe(thread_done) || pthread_create(&th, NULL, waiting_thread, NULL))
		return fail("pipe or thread: %s", strerror(errno));
	while (!__atomic_load_n(&thread_tid, __ATOMIC_ACQUIRE))
		sleep_ms(1);
	snprintf(tid, sizeof(tid), "%d", (int)thread_tid);
	snprintf(want, sizeof(want), "is a thread of process %d", (int)getpid());
	err = expect_error(argv, want);
	close(thread_done[1]);
	pthread_join(th, NULL);
	close(thread_done[0]);
	return err;
}

static int t_bad_input(void)
{
	char *a1[] = { "portlife", "-p", "12x", NULL };
	char *a2[] = { "portlife", "-i", "-3", NULL };
	char *a3[] = { "portlife", "--mode", "warp", NULL };
	char *a4[] = { "portlife", "--cgroup", "/nonexistent/cg", NULL };
	char *a5[] = { "nobody", NULL };
	char *a6[] = { "portlife", "ports", "--netns", "no-such-netns-here", NULL };
	char *a7[] = { "portlife", "ports", "--netns", "/proc/self/ns/pid", NULL };
	char *a8[] = { "portlife", "--format", "csv", NULL };
	char *a9[] = { "portlife", "ports", "--sample", "2", NULL };
	/* a directory, but no cgroup v2 one: refused before any mode is tried */
	char *a10[] = { "portlife", "--cgroup", "/proc", NULL };
	/* a trace that exists: refused before anything is loaded, the file untouched */
	char old[PATH_MAX];
	char *a11[] = { "portlife", "record", "-o", old, "-d", "1", NULL };
	/* --metrics-file replaces its file: a FIFO (or /dev/null) there, or the recording, refused */
	char fifo[PATH_MAX], rec[PATH_MAX];
	char *a12[] = { "portlife", "-s", "-d", "1", "--metrics-file", fifo, NULL };
	char *a13[] = { "portlife", "record", "-o", rec, "--metrics-file", rec, "-d", "1", NULL };
	char *a14[] = { "portlife", "ports", "--headroom", "--state", "LISTEN", NULL };
	char *a15[] = { "portlife", "who", "9", "-P", "10", NULL };
	struct stat st;

	FILE *f;

	snprintf(old, sizeof(old), "%s/bad_input_existing.trace", tmpdir);
	f = fopen(old, "w");
	if (!f || fputs("keep me", f) < 0 || fclose(f))
		return fail("cannot write %s", old);

	snprintf(fifo, sizeof(fifo), "%s/bad_input.fifo", tmpdir);
	snprintf(rec, sizeof(rec), "%s/bad_input_metrics.trace", tmpdir);
	if (mkfifo(fifo, 0600))
		return fail("cannot make %s", fifo);
	if (expect_error(a12, "is not a regular file") || expect_error(a13, "both name") ||
	    expect_error(a14, "--state does not apply") ||
	    expect_error(a15, "who takes one port"))
		return -1;
	if (stat(fifo, &st) || !S_ISFIFO(st.st_mode) || !access(rec, F_OK))
		return fail("a refused --metrics-file left %s changed or %s made", fifo, rec);
	if (expect_error(a1, "invalid pid") || expect_error(a2, "invalid interval") ||
	    expect_error(a3, "invalid mode") || expect_error(a4, "cannot open cgroup") ||
	    expect_error(a5, "root") || expect_error(a6, "No such file or directory: give a name") ||
	    expect_error(a7, "not a network namespace") ||
	    expect_error(a8, "--format is for `portlife report FILE`") ||
	    expect_error(a9, "--sample goes with --headroom") ||
	    expect_error(a10, "--cgroup /proc is not a cgroup v2 directory") ||
	    expect_error(a11, "never overwrites a trace") ||
	    thread_pid_refused())
		return -1;
	if (stat(old, &st) || st.st_size != 7)
		return fail("record -o an existing file changed it: see %s", old);
	return 0;
}

/* The positive control: one bind(0) of the child's own, held until stop. */
static int sc_one_bind(struct result *r)
{
	int fd = bound_socket(AF_INET, 0);

	if (fd < 0)
		return fd;
	r->bound_port = sock_port(fd);
	sleep_ms(300);
	close(fd);
	return 0;
}

/*
 * Two portlifes on one host (a DaemonSet's and an SRE's): the second one's
 * start, its self-test bind() included, is nothing the first may trace as a
 * bind() by "portlife". The child's own bind() shows the first one traces.
 */
static int t_two_tracers(void)
{
	char *argv[] = { (char *)portlife, "-s", "-d", "1", "--mode", (char *)(mode ? mode : "auto"),
			 NULL };
	char out[300];
	struct run run;
	int err, st = 0, n = 0;
	pid_t second;

	no_pid_filter = true;
	err = start(&run, sc_one_bind, "two_tracers", NULL);
	no_pid_filter = false;
	snprintf(out, sizeof(out), "%s/two_tracers.second", tmpdir);
	second = err ? -1 : fork();
	if (second == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(portlife, argv);
		_exit(127);
	}
	if (second > 0 && (waitpid(second, &st, 0) != second || !WIFEXITED(st) || WEXITSTATUS(st)))
		err = fail("the second portlife did not run (status %#x; see %s)", st, out);
	else if (second < 0 && !err)
		err = fail("fork: %s", strerror(errno));
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	if (!err && !lease_of(&run, run.r.bound_port, "bind_ephemeral"))
		err = fail("the child's bind() of port %u was not traced", run.r.bound_port);
	if (!err) {
		n = count_ev(&run, "alloc", second, -1, NULL) + count_ev(&run, "release", second, -1, NULL) +
		    count_ev(&run, "bind_error", second, -1, NULL);
		if (n)
			err = fail("%d events of the second portlife (pid %d) traced by the first", n,
				   second);
	}
	cleanup(&run);
	return err;
}

LIVE_TEST(hostile_json, t_hostile_json, 60, false);
LIVE_TEST(sigterm, t_sigterm, 70, false);
LIVE_TEST(bad_input, t_bad_input, 80, false);
LIVE_TEST(forced_modes, t_forced_modes, 110, false);
LIVE_TEST(two_tracers, t_two_tracers, 115, false);
