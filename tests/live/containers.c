// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Containers and pods (issue 17): processes put in cgroups shaped as each
 * runtime makes them (docker, Kubernetes on containerd with the systemd
 * driver, cri-o with cgroupfs, podman, a systemd service), with the kubelet's
 * log directories faked under the test's own directory (--kubelet-logs).
 * The cgroup tree and the kubelet's files are plain directories: no runtime
 * is needed, and every directory made here is removed, whatever happens.
 *
 * Checked: every output that names a container (JSON events and summaries,
 * the text summary with its pods section, top --pods, ports and who, the
 * metrics by pod), the filters (--container, --pod, --namespace) live and
 * in report, pod names carried by a trace once the kubelet's files are gone,
 * and `report a b` merging two hosts' traces.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "jsonread.h"

#define HEX_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define HEX_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
#define HEX_C "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define HEX_D "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
#define UID_B "5f0c4a2e-1b7d-4c9a-9e21-0a6b3c8d7e11"
#define UID_B_ "5f0c4a2e_1b7d_4c9a_9e21_0a6b3c8d7e11"
#define UID_C "7a9d2c4e-3b1f-4e8a-8c2d-1f5e6a7b9c22"

/* One process in one cgroup shape, and what portlife must call it. */
struct ctr_case {	/* pid and port are filled in by the test */
	const char *rel;		/* the cgroup, below the cgroup2 root */
	const char *runtime, *id;	/* the JSON container's runtime and id; NULL: none */
	const char *ns, *pod, *name;	/* its pod's names (from the kubelet's files) */
	const char *text;		/* what the text summary says of it */
	int conns;			/* connections it makes: each case its own count */
	pid_t pid;
	unsigned short port;		/* its first connection's local port */
};

static struct ctr_case cases[] = {
	{ "/pl-test.slice/docker-" HEX_A ".scope", "docker", HEX_A, NULL, NULL, NULL,
	  "container docker a1a1a1a1a1a1", 3, 0, 0 },
	{ "/pl-test.slice/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_B_
	  ".slice/cri-containerd-" HEX_B ".scope", "containerd", HEX_B, "shop", "web-0", "app",
	  "container containerd b2b2b2b2b2b2 pod shop/web-0 container app", 4, 0, 0 },
	{ "/pl-test.slice/kubepods/besteffort/pod" UID_C "/crio-" HEX_C, "cri-o", HEX_C, "data",
	  "db-1", "pg", "container cri-o c3c3c3c3c3c3 pod data/db-1 container pg", 5, 0, 0 },
	{ "/pl-test.slice/machine.slice/libpod-" HEX_D ".scope", "podman", HEX_D, NULL, NULL, NULL,
	  "container podman d4d4d4d4d4d4", 6, 0, 0 },
	{ "/pl-test.slice/pl-test-app.service", "systemd", "pl-test-app.service", NULL, NULL, NULL,
	  "container systemd pl-test-app.service", 7, 0, 0 },
	/* a cgroup that is no container nor unit (the test's own may be a unit under CI) */
	{ "/pl-test.slice/plain", NULL, NULL, NULL, NULL, NULL, NULL, 2, 0, 0 },
};
#define NCASES (int)(sizeof(cases) / sizeof(cases[0]))

/* The fixture: directories made (removed in reverse), the kubelet's, the listener. */
struct fixture {
	char root[PATH_MAX];
	char made[32][PATH_MAX + 256];
	int nmade;
	char kubelet[PATH_MAX];
	int lfd;
	/*
	 * go: a byte starts each process; hold: its EOF lets them all go; done:
	 * each says its first port. O_CLOEXEC: the portlifes started later must
	 * not keep an end open (hold would never see EOF).
	 */
	int go[2], hold[2], done[2];
	bool reaped;		/* the processes are gone: their pids are nobody's to kill */
	bool kubelet_gone;
};

static int mkdir_p(struct fixture *fx, const char *path)
{
	char buf[PATH_MAX + 256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (!mkdir(buf, 0755)) {
			if (fx->nmade == (int)(sizeof(fx->made) / sizeof(fx->made[0])))
				return -ENOSPC;
			snprintf(fx->made[fx->nmade++], sizeof(fx->made[0]), "%s", buf);
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (!c)
			return 0;
		*p = c;
	}
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* The kubelet's two directories, as it writes them for the two pods. */
static int make_kubelet(struct fixture *fx)
{
	char p[PATH_MAX + 256];
	int err = 0;

	snprintf(fx->kubelet, sizeof(fx->kubelet), "%s/kubelet", tmpdir);
	snprintf(p, sizeof(p), "%s/pods/shop_web-0_" UID_B "/app", fx->kubelet);
	err = err ?: mkdir_p(fx, p);
	snprintf(p, sizeof(p), "%s/pods/data_db-1_" UID_C "/pg", fx->kubelet);
	err = err ?: mkdir_p(fx, p);
	snprintf(p, sizeof(p), "%s/containers", fx->kubelet);
	err = err ?: mkdir_p(fx, p);
	snprintf(p, sizeof(p), "%s/containers/web-0_shop_app-" HEX_B ".log", fx->kubelet);
	err = err ?: touch(p);
	snprintf(p, sizeof(p), "%s/containers/db-1_data_pg-" HEX_C ".log", fx->kubelet);
	err = err ?: touch(p);
	return err;
}

static void remove_kubelet(struct fixture *fx)
{
	char cmd[PATH_MAX + 32];

	if (!fx->kubelet[0] || fx->kubelet_gone)
		return;
	fx->kubelet_gone = true;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->kubelet);
	if (system(cmd))
		fprintf(stderr, "containers: could not remove %s\n", fx->kubelet);
}

/*
 * Each case's process: into its cgroup, then (once told) its connections,
 * its first port to the parent, and it holds them until the go pipe closes.
 */
static void kid(struct fixture *fx, int k)
{
	char procs[PATH_MAX + 512], self[16], name[16], c;
	int fds[16];

	close(fx->go[1]);
	close(fx->hold[1]);
	close(fx->done[0]);
	snprintf(name, sizeof(name), "pl-ctr-%d", k);
	prctl(PR_SET_NAME, name);
	{
		snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", fx->root, cases[k].rel);
		snprintf(self, sizeof(self), "%d", getpid());
		if (write_file(procs, self))
			_exit(1);
	}
	if (read(fx->go[0], &c, 1) != 1)
		_exit(2);
	for (int i = 0; i < cases[k].conns; i++)
		if ((fds[i] = connect_to(AF_INET, sock_port(fx->lfd), 0, 0)) < 0)
			_exit(3);
	{
		unsigned short port = sock_port(fds[0]);
		unsigned char msg[3] = { k, port >> 8, port & 0xff };

		if (write(fx->done[1], msg, 3) != 3)
			_exit(4);
	}
	while (read(fx->hold[0], &c, 1) > 0)	/* hold them until the pipe closes */
		;
	_exit(0);
}

static void fixture_free(struct fixture *fx)
{
	int st;

	if (fx->go[1] > 0)
		close(fx->go[1]);
	if (fx->hold[1] > 0)
		close(fx->hold[1]);
	fx->go[1] = fx->hold[1] = -1;
	for (int k = 0; k < NCASES && !fx->reaped; k++)
		if (cases[k].pid > 0) {
			kill(cases[k].pid, SIGKILL);
			waitpid(cases[k].pid, &st, 0);
			cases[k].pid = 0;
		}
	if (fx->lfd > 0)
		close(fx->lfd);
	fx->lfd = -1;
	remove_kubelet(fx);
	/* the cgroups, deepest first: empty once their process is reaped */
	for (int i = fx->nmade - 1; i >= 0; i--)
		if (strncmp(fx->made[i], tmpdir, strlen(tmpdir)) && rmdir(fx->made[i]))
			fprintf(stderr, "containers: could not remove %s: %s\n", fx->made[i],
				strerror(errno));
	fx->nmade = 0;
}

static int rmdir_ent(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (type == FTW_DP)
		rmdir(path);	/* a cgroup with a process left refuses: EBUSY, kept */
	return 0;
}

/* Cgroups, kubelet files, listener, and the processes waiting in their cgroups. */
static int fixture_init(struct fixture *fx)
{
	char dir[PATH_MAX + 256];
	int err;

	memset(fx, 0, sizeof(*fx));
	fx->lfd = -1;
	if (cgroup2_root(fx->root, sizeof(fx->root)))
		return fail("no cgroup v2 mounted");
	/*
	 * A run killed before its cleanup (a timeout's SIGKILL) leaves its
	 * cgroups behind; made again, they would not count as ours to remove,
	 * and stay on the host for good. Its processes are gone: remove them.
	 */
	snprintf(dir, sizeof(dir), "%s/pl-test.slice", fx->root);
	nftw(dir, rmdir_ent, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	for (int k = 0; k < NCASES; k++) {
		cases[k].pid = 0;
		cases[k].port = 0;
		if (!cases[k].rel)
			continue;
		snprintf(dir, sizeof(dir), "%s%s", fx->root, cases[k].rel);
		if ((err = mkdir_p(fx, dir)))
			return fail("cannot make cgroup %s: %s", dir, strerror(-err));
	}
	if ((err = make_kubelet(fx)))
		return fail("cannot make the kubelet's directories: %s", strerror(-err));
	fx->lfd = listener(AF_INET, 0);
	if (fx->lfd < 0 || pipe2(fx->go, O_CLOEXEC) || pipe2(fx->hold, O_CLOEXEC) ||
	    pipe2(fx->done, O_CLOEXEC))
		return fail("listener or pipes: %s", strerror(errno));
	for (int k = 0; k < NCASES; k++) {
		pid_t p = fork();

		if (p == 0)
			kid(fx, k);
		if (p < 0)
			return fail("fork: %s", strerror(errno));
		cases[k].pid = p;
	}
	close(fx->go[0]);
	close(fx->hold[0]);
	close(fx->done[1]);
	return 0;
}

/* Start the connections, and wait until every process holds its own. */
static int fixture_go(struct fixture *fx)
{
	unsigned char msg[3];

	for (int k = 0; k < NCASES; k++)
		if (write(fx->go[1], "g", 1) != 1)
			return fail("cannot start the processes");
	for (int n = 0; n < NCASES; n++) {
		if (read(fx->done[0], msg, 3) != 3 || msg[0] >= NCASES)
			return fail("a process in a cgroup failed (see its cgroup)");
		cases[msg[0]].port = msg[1] << 8 | msg[2];
	}
	return 0;
}

/* The listener's queue: accept everything so nothing is reset. */
static void drain(struct fixture *fx)
{
	int fd;

	fcntl(fx->lfd, F_SETFL, O_NONBLOCK);
	while ((fd = accept(fx->lfd, NULL, NULL)) >= 0)
		;
}

/* Let the processes close and exit. */
static int fixture_end(struct fixture *fx)
{
	int st, err = 0;

	close(fx->hold[1]);
	fx->hold[1] = -1;
	for (int k = 0; k < NCASES; k++) {
		if (waitpid(cases[k].pid, &st, 0) != cases[k].pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			err = fail("process %d (%s) ended badly (%#x)", k,
				   cases[k].rel ? cases[k].rel : "no cgroup", st);
	}
	fx->reaped = true;	/* the pids stay in cases[] for the checks */
	return err;
}

/* A portlife in the background, output in path; its pid. */
static pid_t spawn(char *const argv[], const char *path)
{
	pid_t p = fork();

	if (p == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(portlife, argv);
		_exit(127);
	}
	return p;
}

static int wait_started(const char *path, const char *marker)
{
	for (int t = 0; t < 600; t++, sleep_ms(50))
		if (file_has(path, marker))
			return 0;
	return fail("portlife did not start: see %s", path);
}

static int stop_tracer(pid_t p)
{
	int st;

	kill(p, SIGINT);
	if (waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The alloc lines of pid in a file of JSON lines; *first the first one. */
static int allocs_of(char **v, int n, pid_t pid, const char **first)
{
	int c = 0;

	*first = NULL;
	for (int i = 0; i < n; i++) {
		if (!is_event(v[i], "alloc") || jnum(v[i], "pid") != pid || jfind(v[i], "error"))
			continue;
		if (!c++)
			*first = v[i];
	}
	return c;
}

/* The container object of line: right runtime, id, names; or null for none. */
static int check_container(const char *line, const struct ctr_case *c, const char *where)
{
	const char *v = jfind(line, "container");

	if (!v)
		return fail("%s: no container key: %.300s", where, line);
	if (!c->runtime)
		return strncmp(v, "null", 4) ? fail("%s: a container for a process in none: %.300s",
						    where, line) : 0;
	if (!jstr_is(v, "runtime", c->runtime) || !jstr_is(v, "id", c->id))
		return fail("%s: want runtime %s id %.12s...: %.400s", where, c->runtime, c->id, v);
	if (c->pod && (!jstr_is(v, "pod", c->pod) || !jstr_is(v, "namespace", c->ns) ||
		       !jstr_is(v, "name", c->name)))
		return fail("%s: want pod %s/%s container %s: %.400s", where, c->ns, c->pod,
			    c->name, v);
	if (!c->pod && strncmp(jfind(v, "pod") ? jfind(v, "pod") : "", "null", 4))
		return fail("%s: a pod for a container in none: %.400s", where, v);
	return 0;
}

/* Every case's allocations in a JSON file: all there, all named right. */
static int check_events(const char *path, const char *what)
{
	int n, err = 0;
	char **v = file_lines(path, &n);

	for (int k = 0; k < NCASES && !err; k++) {
		const char *first;
		int got = allocs_of(v, n, cases[k].pid, &first);

		if (got != cases[k].conns)
			err = fail("%s: %d allocations of process %d (%s), want %d (see %s)", what, got,
				   k, cases[k].rel ? cases[k].rel : "none", cases[k].conns, path);
		else
			err = check_container(first, &cases[k], what);
	}
	free_lines(v, n);
	return err;
}

/* Which cases' pids have alloc lines in path; a bit per case. */
static unsigned int cases_in(const char *path)
{
	int n;
	char **v = file_lines(path, &n);
	unsigned int m = 0;
	const char *first;

	for (int k = 0; k < NCASES; k++)
		if (allocs_of(v, n, cases[k].pid, &first))
			m |= 1u << k;
	free_lines(v, n);
	return m;
}

static int run_to(char *const argv[], const char *path)
{
	int rc = run_capture(argv, path);

	return rc ? fail("%s %s exited %d (see %s)", argv[1], argv[2] ? argv[2] : "", rc, path) : 0;
}

/*
 * run_to(), from a cgroup namespace of its own rooted at dir, as portlife
 * runs in a DaemonSet's pod: /proc/PID/cgroup then names every other
 * process's cgroup from "/..", which no path under the tree matches.
 */
static int run_in_cgroupns(struct fixture *fx, const char *dir, char *const argv[],
			   const char *path)
{
	char procs[PATH_MAX + 128], self[16];
	int st, err;
	pid_t p;

	if ((err = mkdir_p(fx, dir)))
		return fail("cannot make cgroup %s: %s", dir, strerror(-err));
	p = fork();
	if (p == 0) {
		int o = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		snprintf(self, sizeof(self), "%d", (int)getpid());
		if (o < 0 || write_file(procs, self) || unshare(CLONE_NEWCGROUP))
			_exit(126);
		dup2(o, 1);
		execv(portlife, argv);
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return fail("fork: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return fail("%s %s in a cgroup namespace exited %d (see %s)", argv[1], argv[2],
			    WIFEXITED(st) ? WEXITSTATUS(st) : -1, path);
	return 0;
}

/* report TRACE with a filter: only the cases in want. */
static int report_filter(const char *trace, const char *opt, const char *val, unsigned int want)
{
	char out[PATH_MAX];
	char *argv[] = { (char *)portlife, "report", (char *)trace, "--format", "jsonl",
			 (char *)opt, (char *)val, NULL };
	unsigned int got;
	int err;

	snprintf(out, sizeof(out), "%s/containers-report%s.jsonl", tmpdir, opt);
	if ((err = run_to(argv, out)))
		return err;
	got = cases_in(out);
	if (got != want)
		return fail("report %s %s: processes %#x, want %#x (see %s)", opt, val, got, want, out);
	return 0;
}

static int t_containers(void)
{
	struct fixture fx;
	char live[PATH_MAX], rec[PATH_MAX], trace[PATH_MAX], prom[PATH_MAX], topout[PATH_MAX];
	char ports[PATH_MAX], who[PATH_MAX], text[PATH_MAX], portbuf[8];
	pid_t t_live = -1, t_rec = -1, t_top = -1;
	int err, n;
	char **v;

	snprintf(live, sizeof(live), "%s/containers-live.jsonl", tmpdir);
	snprintf(rec, sizeof(rec), "%s/containers-record.out", tmpdir);
	snprintf(trace, sizeof(trace), "%s/containers.trace", tmpdir);
	snprintf(prom, sizeof(prom), "%s/containers.prom", tmpdir);
	snprintf(topout, sizeof(topout), "%s/containers-top.txt", tmpdir);
	snprintf(ports, sizeof(ports), "%s/containers-ports.jsonl", tmpdir);
	snprintf(who, sizeof(who), "%s/containers-who.txt", tmpdir);
	snprintf(text, sizeof(text), "%s/containers-report.txt", tmpdir);
	unlink(trace);
	err = fixture_init(&fx);
	if (!err) {
		char *a_live[] = { (char *)portlife, "--json", "--kubelet-logs", fx.kubelet,
				   "--metrics-file", prom, "--metrics-by", "pod", NULL };
		char *a_rec[] = { (char *)portlife, "record", "-o", trace, "--kubelet-logs",
				  fx.kubelet, NULL };
		char *a_top[] = { (char *)portlife, "top", "--pods", "--kubelet-logs", fx.kubelet,
				  NULL };

		t_live = spawn(a_live, live);
		t_rec = spawn(a_rec, rec);
		t_top = spawn(a_top, topout);
		err = wait_started(live, "\"event\":\"start\"") ?: wait_started(rec, "Tracing") ?:
		      wait_started(topout, "portlife top");
	}
	if (!err)
		err = fixture_go(&fx);
	/* while the connections are held: ports and who see their owners' pods */
	if (!err) {
		char *a_ports[] = { (char *)portlife, "ports", "--json", "--kubelet-logs", fx.kubelet,
				    "--pod", "web-0", NULL };
		char *a_who[] = { (char *)portlife, "who", portbuf, "--kubelet-logs", fx.kubelet,
				  NULL };
		int socks = 0;

		err = run_to(a_ports, ports);
		v = err ? NULL : file_lines(ports, &n);
		for (int i = 0; !err && i < n; i++) {
			if (!is_event(v[i], "socket"))
				continue;
			if (jnum(v[i], "pid") != cases[1].pid)
				err = fail("ports --pod web-0 listed another process's socket: %.300s",
					   v[i]);
			else if (!(err = check_container(v[i], &cases[1], "ports --json")))
				socks++;
		}
		if (v)
			free_lines(v, n);
		if (!err && socks != cases[1].conns)
			err = fail("ports --pod web-0: %d sockets, want %d (see %s)", socks,
				   cases[1].conns, ports);
		snprintf(portbuf, sizeof(portbuf), "%u", cases[2].port);
		if (!err)
			err = run_to(a_who, who);
		if (!err && !file_has(who, "data/db-1"))
			err = fail("who %s does not name the pod data/db-1: see %s", portbuf, who);
	}
	/* the same, from a cgroup namespace of its own */
	if (!err) {
		char *a_ports[] = { (char *)portlife, "ports", "--json", "--kubelet-logs", fx.kubelet,
				    "--pod", "web-0", NULL };
		char dir[PATH_MAX + 64], out[PATH_MAX + 16];
		int socks = 0;

		snprintf(dir, sizeof(dir), "%s/pl-test.slice/portlife-pod", fx.root);
		snprintf(out, sizeof(out), "%s.cgroupns", ports);
		err = run_in_cgroupns(&fx, dir, a_ports, out);
		v = err ? NULL : file_lines(out, &n);
		for (int i = 0; !err && i < n; i++)
			if (is_event(v[i], "socket") && !(err = check_container(v[i], &cases[1],
										 "ports in a cgroupns")))
				socks++;
		if (v)
			free_lines(v, n);
		if (!err && socks != cases[1].conns)
			err = fail("ports --pod web-0 in a cgroup namespace: %d sockets, want %d "
				   "(see %s)", socks, cases[1].conns, out);
	}
	/* the metrics file is rewritten every second: give it two */
	if (!err)
		sleep_ms(2200);
	if (!err) {
		char want[128];

		snprintf(want, sizeof(want),
			 "portlife_allocations_total{namespace=\"shop\",pod=\"web-0\"} %d",
			 cases[1].conns);
		if (!file_has(prom, want))
			err = fail("--metrics-by pod: no '%s' in %s", want, prom);
		snprintf(want, sizeof(want),
			 "portlife_ports_held{namespace=\"data\",pod=\"db-1\"} %d", cases[2].conns);
		if (!err && !file_has(prom, want))
			err = fail("--metrics-by pod: no '%s' in %s", want, prom);
		if (!err && file_has(prom, "{comm=\""))
			err = fail("--metrics-by pod still labels by comm: see %s", prom);
	}
	if (!err) {
		/* top --pods: a row for the pod, one process, its ports held */
		char want[64];
		int rows = 0;

		v = file_lines(topout, &n);
		snprintf(want, sizeof(want), "%d", cases[1].conns);
		for (int i = 0; i < n; i++)
			if (strstr(v[i], "shop/web-0") && strstr(v[i], "pl-ctr-1")) {
				int procs;
				long long held;

				if (sscanf(v[i], "%d %*s %lld", &procs, &held) == 2 && procs == 1 &&
				    held == cases[1].conns)
					rows++;
			}
		free_lines(v, n);
		if (!rows)
			err = fail("top --pods: no row 'PROCS 1 ... HELD %d ... shop/web-0': see %s",
				   cases[1].conns, topout);
	}
	drain(&fx);
	err = fixture_end(&fx) ?: err;
	sleep_ms(600);
	if (t_live > 0 && stop_tracer(t_live) && !err)
		err = fail("portlife --json exited badly: see %s", live);
	if (t_rec > 0 && stop_tracer(t_rec) && !err)
		err = fail("portlife record exited badly: see %s", rec);
	if (t_top > 0)
		stop_tracer(t_top);
	if (!err)
		err = check_events(live, "live JSON");
	if (!err) {
		/* the summaries: each process's container, the pods section */
		char want[64];
		bool pod_line = false;

		v = file_lines(live, &n);
		for (int i = 0; i < n && !err; i++) {
			if (is_event(v[i], "summary") && jnum(v[i], "pid") == cases[3].pid)
				err = check_container(v[i], &cases[3], "JSON summary");
			if (is_event(v[i], "pod_summary") && jstr_is(v[i], "pod", "web-0"))
				pod_line = jnum(v[i], "allocs") == cases[1].conns &&
					   jnum(v[i], "processes") == 1 &&
					   jstr_is(v[i], "namespace", "shop");
		}
		free_lines(v, n);
		snprintf(want, sizeof(want), "pod web-0 with %d allocations", cases[1].conns);
		if (!err && !pod_line)
			err = fail("no pod_summary line for shop/web-0 with 1 process, %s: see %s",
				   want, live);
	}
	/* another host has no kubelet files for these pods: the trace carries the names */
	remove_kubelet(&fx);
	if (!err) {
		char *a_jsonl[] = { (char *)portlife, "report", trace, "--format", "jsonl", NULL };
		char jl[PATH_MAX];

		snprintf(jl, sizeof(jl), "%s/containers-report.jsonl", tmpdir);
		err = run_to(a_jsonl, jl) ?: check_events(jl, "report jsonl");
	}
	if (!err)
		err = report_filter(trace, "--pod", "web-0", 1u << 1) ?:
		      report_filter(trace, "--namespace", "data", 1u << 2) ?:
		      report_filter(trace, "--container", "a1a1a1a1a1a1", 1u << 0) ?:
		      report_filter(trace, "--container", HEX_D, 1u << 3) ?:
		      report_filter(trace, "--container", "pl-test-app.service", 1u << 4) ?:
		      report_filter(trace, "--container", "app", 1u << 1);
	if (!err) {
		char *a_text[] = { (char *)portlife, "report", trace, NULL };

		err = run_to(a_text, text);
		for (int k = 0; k < NCASES && !err; k++)
			if (cases[k].text && !file_has(text, cases[k].text))
				err = fail("the text summary does not say '%s': see %s", cases[k].text,
					   text);
		if (!err && (!file_has(text, "pods:") || !file_has(text, "shop/web-0") ||
			     !file_has(text, "data/db-1")))
			err = fail("the text summary has no pods section with both pods: see %s",
				   text);
	}
	fixture_free(&fx);
	return err;
}

/* ---- two hosts' traces in one report -------------------------------------- */

/* portlife record as host name, for secs seconds (a UTS namespace of its own). */
static pid_t record_as(const char *host, const char *trace, const char *kubelet, const char *out)
{
	pid_t p = fork();

	if (p == 0) {
		char *argv[] = { (char *)portlife, "record", "-o", (char *)trace, "--kubelet-logs",
				 (char *)kubelet, NULL };
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (unshare(CLONE_NEWUTS) || sethostname(host, strlen(host)))
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(portlife, argv);
		_exit(127);
	}
	return p;
}

static int t_fleet_report(void)
{
	struct fixture fx;
	char ta[PATH_MAX], tb[PATH_MAX], oa[PATH_MAX], ob[PATH_MAX], out[PATH_MAX], txt[PATH_MAX];
	pid_t ra = -1, rb = -1;
	int err, n, hosts = 0, pods = 0, tagged = 0;
	char **v;

	snprintf(ta, sizeof(ta), "%s/fleet-a.trace", tmpdir);
	snprintf(tb, sizeof(tb), "%s/fleet-b.trace", tmpdir);
	snprintf(oa, sizeof(oa), "%s/fleet-a.out", tmpdir);
	snprintf(ob, sizeof(ob), "%s/fleet-b.out", tmpdir);
	snprintf(out, sizeof(out), "%s/fleet.jsonl", tmpdir);
	snprintf(txt, sizeof(txt), "%s/fleet.txt", tmpdir);
	unlink(ta);
	unlink(tb);
	err = fixture_init(&fx);
	if (!err) {
		/* both "hosts" see the same processes: each pod counted twice, once per host */
		ra = record_as("pl-node-a", ta, fx.kubelet, oa);
		rb = record_as("pl-node-b", tb, fx.kubelet, ob);
		err = wait_started(oa, "Tracing") ?: wait_started(ob, "Tracing");
	}
	if (!err)
		err = fixture_go(&fx);
	drain(&fx);
	err = fixture_end(&fx) ?: err;
	sleep_ms(600);
	if (ra > 0 && stop_tracer(ra) && !err)
		err = fail("recording as pl-node-a failed: see %s", oa);
	if (rb > 0 && stop_tracer(rb) && !err)
		err = fail("recording as pl-node-b failed: see %s", ob);
	if (!err) {
		char *argv[] = { (char *)portlife, "report", ta, tb, "--json", NULL };

		err = run_to(argv, out);
	}
	v = err ? NULL : file_lines(out, &n);
	for (int i = 0; v && i < n && !err; i++) {
		if (is_event(v[i], "host_summary") &&
		    (jstr_is(v[i], "host", "pl-node-a") || jstr_is(v[i], "host", "pl-node-b")))
			hosts++;
		if (is_event(v[i], "summary") && jnum(v[i], "pid") == cases[1].pid &&
		    (jstr_is(v[i], "host", "pl-node-a") || jstr_is(v[i], "host", "pl-node-b")))
			tagged++;
		if (is_event(v[i], "fleet_pod_summary") && jstr_is(v[i], "pod", "web-0")) {
			pods++;
			if (jnum(v[i], "allocs") != 2 * cases[1].conns ||
			    jnum(v[i], "hosts_total") != 2 || !strstr(v[i], "\"pl-node-a\"") ||
			    !strstr(v[i], "\"pl-node-b\""))
				err = fail("the fleet's pod web-0: want %d allocations on both hosts: "
					   "%.400s", 2 * cases[1].conns, v[i]);
		}
	}
	if (v)
		free_lines(v, n);
	if (!err && hosts != 2)
		err = fail("report a b: %d host_summary lines for pl-node-a and -b, want 2 (see %s)",
			   hosts, out);
	if (!err && tagged != 2)
		err = fail("report a b: web-0's process summarised %d times with its host, want 2 "
			   "(see %s)", tagged, out);
	if (!err && pods != 1)
		err = fail("report a b: %d fleet_pod_summary lines for web-0, want 1 (see %s)", pods,
			   out);
	if (!err) {
		char *argv[] = { (char *)portlife, "report", ta, tb, NULL };

		err = run_to(argv, txt);
		if (!err && !file_has(txt, "=== fleet: 2 traces from 2 hosts ==="))
			err = fail("report a b (text): no fleet section: see %s", txt);
	}
	if (!err) {
		char *argv[] = { (char *)portlife, "report", ta, tb, "--format", "chrome", NULL };

		err = expect_error(argv, "one trace");
	}
	fixture_free(&fx);
	return err;
}

/*
 * A container that ends before the summary (a short job): its process
 * joins a docker scope, connects, leaves it; the scope is removed 0.4 s
 * later (within a ring buffer read, none of it would be known to anyone).
 * `portlife -s` looks the cgroup up at the first event, while it exists,
 * and its summary names the path and the container (it named neither:
 * --json, which names the container on every event line, did).
 */
#define GONE_HEX "abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd"

static char gone_dir[PATH_MAX + 128], gone_root[PATH_MAX];
static unsigned short gone_port;

static int sc_cgroup_gone(struct result *r)
{
	char procs[PATH_MAX + 256], self[16];
	int c, err;

	snprintf(self, sizeof(self), "%d", getpid());
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", gone_dir);
	if ((err = write_file(procs, self)))
		return err;
	sleep_ms(100);
	(void)r;
	c = connect_to(AF_INET, gone_port, 0, 0);
	if (c < 0)
		return c;
	close(c);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", gone_root);
	if ((err = write_file(procs, self)))
		return err;
	/* a runtime removes the scope a moment after its process ends */
	sleep_ms(400);
	if (rmdir(gone_dir))
		return -errno;
	sleep_ms(1500);		/* the summary comes after the scope is gone */
	return 0;
}

static int t_cgroup_gone(void)
{
	char *extra[] = { "-s", NULL }, parent[PATH_MAX + 32];
	const char *sum = NULL;
	struct run run = {};
	int err, lfd = listener(AF_INET, 0);

	if (lfd < 0 || cgroup2_root(gone_root, sizeof(gone_root)))
		return fail("no listener or no cgroup v2 root");
	snprintf(parent, sizeof(parent), "%s/pl-test-gone.slice", gone_root);
	snprintf(gone_dir, sizeof(gone_dir), "%s/docker-" GONE_HEX ".scope", parent);
	if ((mkdir(parent, 0755) && errno != EEXIST) || (mkdir(gone_dir, 0755) && errno != EEXIST)) {
		close(lfd);
		return fail("cannot make %s: %s", gone_dir, strerror(errno));
	}
	gone_port = sock_port(lfd);
	err = start(&run, sc_cgroup_gone, "cgroup_gone", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child)
			sum = run.lines[i];
	if (!err && (!sum || !strstr(sum, "docker-" GONE_HEX ".scope") ||
		     !strstr(sum, "\"id\":\"" GONE_HEX "\"")))
		err = fail("-s: the summary of a process whose container is gone names neither "
			   "its cgroup nor its container: %s", sum ? sum : "(none)");
	rmdir(gone_dir);
	rmdir(parent);
	close(lfd);
	cleanup(&run);
	return err;
}

LIVE_TEST(containers, t_containers, 290, true);
LIVE_TEST(cgroup_gone, t_cgroup_gone, 291, true);
LIVE_TEST(fleet_report, t_fleet_report, 300, true);
