// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Live tests: run the real portlife against sockets this program opens, and
 * check what portlife reported against what the kernel really did (ports
 * from getsockname(), errnos from connect()/bind(), our own pids).
 *
 *   livetest [--mode MODE] PORTLIFE [TEST...]
 *
 * This file is the runner: each test's scenario runs in a child process; the
 * ones that touch sysctls first move it into a network namespace of its own.
 * portlife traces with -p CHILD --json into a file. The tests live one file
 * per feature (connect.c, timewait.c, ...) and register with LIVE_TEST().
 * Needs root. Self-contained (no libbpf) so it can run in a minimal VM.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

const char *portlife;
const char *mode;
bool no_pid_filter;
int (*child_pre)(struct result *);
int (*tracer_pre)(void);
char tmpdir[] = "/tmp/portlife-live.XXXXXX";
static int passed, failed;
static char failmsg[512];

/* ---- small helpers --------------------------------------------------- */

long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(failmsg, sizeof(failmsg), fmt, ap);
	va_end(ap);
	return -1;
}

const char *last_failure(void)
{
	return failmsg;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (int)strlen(s) ? 0 : -EIO;
}

/* New network namespace with lo up (IPv4 127.0.0.1 and IPv6 ::1). */
int own_netns(void)
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

socklen_t mkaddr(struct sockaddr_storage *ss, int family, unsigned short port)
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

unsigned short sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (void *)&ss, &len))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						((struct sockaddr_in *)&ss)->sin_port);
}

int listener(int family, unsigned short port)
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

bool bound_listable(void)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.r = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1U << 10 /* LISTEN */ },
	};
	__u64 buf[1024];
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	ssize_t n = -1;
	int fd;

	if (!kernel_at_least(6, 7))
		return false;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return false;
	if (send(fd, &req, sizeof(req), 0) == sizeof(req))
		n = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	/* no tcp_diag: the dump's answer is an error */
	return n >= (ssize_t)sizeof(*h) &&
	       !(h->nlmsg_type == NLMSG_ERROR && ((const struct nlmsgerr *)NLMSG_DATA(h))->error);
}

int bound_socket(int family, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, family, port);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (void *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int connect_to(int family, unsigned short port, int reuse, unsigned short bind_port)
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

void rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---- running portlife and a child ------------------------------------ */

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

bool file_has(const char *path, const char *needle)
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

int start(struct run *run, int (*fn)(struct result *), const char *name, char *const extra[])
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
		memset(&run->r, 0, sizeof(run->r));
		if (child_pre) {
			/* done before portlife starts: start() waits for this byte */
			c = child_pre(&run->r) ? 'E' : 'p';
			if (write(run->res[1], &c, 1) != 1)
				_exit(1);
		}
		if (read(run->go[0], &c, 1) != 1)
			_exit(1);
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
	if (child_pre) {
		char c = 0;

		if (read(run->res[0], &c, 1) != 1 || c != 'p')
			return fail("the child's setup before portlife failed");
	}

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
		if (tracer_pre && tracer_pre())
			_exit(126);
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
int drive(struct run *run)
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

int stop(struct run *run, int settle_ms)
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

void cleanup(struct run *run)
{
	for (int i = 0; i < run->nlines; i++)
		free(run->lines[i]);
	free(run->lines);
}

/* Run portlife with argv (argv[0] ignored) into out; its exit status. */
int run_capture(char *const argv[], const char *out)
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

/* Bad input: a one-line error naming the problem, non-zero exit. */
int expect_error(char *const argv[], const char *needle)
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

/* ---- what portlife reported ------------------------------------------ */

/* Lines of event ev for lport, owned by pid. */
int count_ev(struct run *run, const char *ev, int pid, int lport, const char **last)
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

int count_lease_ev(struct run *run, const char *ev, long long lease, const char **last)
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

const char *lease_of_family(struct run *run, int port, const char *kind, int family)
{
	for (int k = 0; k < run->nlines; k++) {
		const char *l = run->lines[k];

		if (is_event(l, "alloc") && jnum(l, "lport") == port && jstr_is(l, "kind", kind) &&
		    jnum(l, "pid") == run->child && !jfind(l, "error") &&
		    (!family || jnum(l, "family") == family))
			return l;
	}
	return NULL;
}

const char *lease_of(struct run *run, int port, const char *kind)
{
	return lease_of_family(run, port, kind, 0);
}

int expect_end(struct run *run, const char *a, const char *reason, bool tw)
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

const char *find_line(const char *path, const char *ev, const char *key, long long val)
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

/* ---- files and processes ---------------------------------------------- */

char **file_lines(const char *path, int *n)
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

void free_lines(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

unsigned long netns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* ---- the registry and main -------------------------------------------- */

/* The linker's bounds of the "livetests" section (see LIVE_TEST()). */
extern const struct live_test *__start_livetests[], *__stop_livetests[];

static int test_cmp(const void *a, const void *b)
{
	const struct live_test *x = *(const struct live_test *const *)a;
	const struct live_test *y = *(const struct live_test *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Every registered test, in the order they run; *n set. The link order of
 * the files is the order of the section, which no one should have to
 * remember: sort. NULL if two tests share a name (one could not be chosen).
 */
static const struct live_test **registered(size_t *n)
{
	const struct live_test **v;

	*n = __stop_livetests - __start_livetests;
	v = malloc(*n * sizeof(*v));
	if (!v)
		return NULL;
	memcpy(v, __start_livetests, *n * sizeof(*v));
	qsort(v, *n, sizeof(*v), test_cmp);
	for (size_t i = 0; i < *n; i++) {
		for (size_t k = i + 1; k < *n; k++) {
			if (!strcmp(v[i]->name, v[k]->name)) {
				fprintf(stderr, "livetest: two tests named %s\n", v[i]->name);
				free(v);
				return NULL;
			}
		}
	}
	return v;
}

int main(int argc, char **argv)
{
	const struct live_test **tests;
	size_t ntests;
	long long t0;

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
	tests = registered(&ntests);
	if (!tests)
		return 2;
	if (geteuid() != 0) {
		printf("SKIP live tests: need root (they load BPF programs)\n");
		printf("live: 0 passed, 0 failed, %zu skipped\n", ntests);
		return 0;
	}
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ntests; i++) {
		bool want = argc == 2 && !(mode && tests[i]->views);

		for (int k = 2; k < argc; k++)
			want |= !strcmp(argv[k], tests[i]->name);
		if (!want)
			continue;
		failmsg[0] = '\0';
		/*
		 * Each test's wall time on its line: the VM tests run under TCG
		 * and are most of CI's time, and this shows where it goes.
		 */
		t0 = now_ns();
		if (tests[i]->fn() == 0) {
			printf("PASS %s (%.1fs)\n", tests[i]->name, (now_ns() - t0) / 1e9);
			passed++;
		} else {
			printf("FAIL %s: %s (%.1fs)\n", tests[i]->name, failmsg, (now_ns() - t0) / 1e9);
			failed++;
		}
		fflush(stdout);
	}
	printf("live%s%s: %d passed, %d failed (outputs in %s)\n", mode ? " " : "", mode ? mode : "",
	       passed, failed, tmpdir);
	free(tests);
	return failed ? 1 : 0;
}

/* The cgroup v2 mount point; -ENOENT without one. */
int cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mnt[PATH_MAX], fs[64];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");

		if (dash && sscanf(dash, " - %63s", fs) == 1 && !strcmp(fs, "cgroup2") &&
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			snprintf(buf, len, "%s", mnt);
			found = 1;
		}
	}
	if (f)
		fclose(f);
	return found ? 0 : -ENOENT;
}

/* From uname, not from the product's probes; true when it cannot be read. */
bool kernel_at_least(unsigned int want_major, unsigned int want_minor)
{
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major > want_major || (major == want_major && minor >= want_minor);
}
