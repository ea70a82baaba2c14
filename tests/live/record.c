// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* record and report: the same numbers read back, and a full disk while recording. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "jsonread.h"

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

	snprintf(trace, sizeof(trace), "%s/record_report.trace", tmpdir);
	err = start(&run, sc_workload, "record_report", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 1000);
	if (!err && (!WIFEXITED(run.tracer_status) || WEXITSTATUS(run.tracer_status)))
		err = fail("portlife record did not exit 0 (status %#x)", run.tracer_status);
	if (!err && (stat(trace, &st) || (st.st_mode & 0777) != 0600))
		err = fail("the trace is missing or not 0600");
	/* the summary from the file equals the one the recorder printed */
	snprintf(out, sizeof(out), "%s/record_report.json", tmpdir);
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
	snprintf(out, sizeof(out), "%s/record_report_events.jsonl", tmpdir);
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
	/* the alerts' lines come among the events (as live --json prints them); CSV has events only */
	rows = n;
	for (int i = 0; i < n; i++)
		rows -= is_event(v[i], "alert");
	free_lines(v, n);
	/* CSV: a header, then the same events, every row as wide as the header */
	snprintf(out, sizeof(out), "%s/record_report_events.csv", tmpdir);
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
	snprintf(out, sizeof(out), "%s/record_report_chrome.json", tmpdir);
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

/* The disk fills up while recording: a clear error, and what was written stays. */
static int t_record_full_disk(void)
{
	char dir[300], trace[320], out[320], *extra[] = { "record", "-o", trace, NULL };
	char *rep[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	struct run run;
	char **v;
	int n, err;

	snprintf(dir, sizeof(dir), "%s/small", tmpdir);
	snprintf(trace, sizeof(trace), "%s/full.trace", dir);
	mkdir(dir, 0700);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=12k"))
		return fail("cannot mount a small tmpfs: %s", strerror(errno));
	err = start(&run, sc_v4, "record_full_disk", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (!WIFEXITED(run.tracer_status) || !WEXITSTATUS(run.tracer_status)))
		err = fail("portlife record exited 0 on a full disk");
	if (!err && !file_has(run.err, "No space left on device"))
		err = fail("no 'No space left on device' message: see %s", run.err);
	snprintf(out, sizeof(out), "%s/record_full_disk_events.jsonl", tmpdir);
	if (!err && run_capture(rep, out))
		err = fail("the partial trace does not read back: see %s", out);
	v = file_lines(out, &n);
	if (!err && n < 20)
		err = fail("only %d records kept from the full disk", n);
	free_lines(v, n);
	/* "failed after N records": N is what the file holds, as report counts them */
	if (!err) {
		char *rep_text[] = { "portlife", "report", trace, NULL };
		long long said = -1, read = -1;
		const char *p;
		char **e;
		int ne;

		e = file_lines(run.err, &ne);
		for (int i = 0; i < ne; i++)
			if ((p = strstr(e[i], "failed after ")))
				said = strtoll(p + 13, NULL, 10);
		free_lines(e, ne);
		snprintf(out, sizeof(out), "%s/record_full_disk.txt", tmpdir);
		run_capture(rep_text, out);
		e = file_lines(out, &ne);
		/* "trace FILE: host ..., mode ..., N records" */
		for (int i = 0; i < ne; i++) {
			if (strncmp(e[i], "trace ", 6) || !(p = strstr(e[i], " records")))
				continue;
			while (p > e[i] && p[-1] >= '0' && p[-1] <= '9')
				p--;
			read = strtoll(p, NULL, 10);
		}
		free_lines(e, ne);
		if (said < 0 || said != read)
			err = fail("the recorder said 'failed after %lld records', the file has %lld",
				   said, read);
	}
	umount2(dir, MNT_DETACH);
	cleanup(&run);
	return err;
}

/* Removes "key":VALUE (a number or a string) and its comma from a JSON line. */
static void strip_key(char *l, const char *key)
{
	char pat[64], *p, *v, *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(l, pat);
	if (!p)
		return;
	v = p + strlen(pat);
	if (*v == '"') {
		for (end = v + 1; *end && *end != '"'; end++)
			if (*end == '\\' && end[1])
				end++;
		if (*end)
			end++;
	} else {
		end = v + strspn(v, "-0123456789");
	}
	if (*end == ',')
		end++;
	else if (p > l && p[-1] == ',')
		p--;
	memmove(p, end, strlen(end) + 1);
}

/*
 * What two tracers must agree on: everything but the lease id and the times
 * (each instance numbers its own leases and takes its own timestamps, and
 * durations are differences of those).
 */
static char *event_key(const char *line)
{
	static const char *const timed[] = { "time", "ts_ns", "lease", "latency_ns", "hold_ns",
					     "lifetime_ns", "tw_ns", "expires_ns" };
	char *k = strdup(line), *nl;

	for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++)
		strip_key(k, timed[i]);
	if ((nl = strchr(k, '\n')))
		*nl = '\0';
	return k;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool lifecycle_event(const char *l, pid_t pid)
{
	static const char *const evs[] = { "alloc", "state", "tw_enter", "tw_exit", "release" };

	if (jnum(l, "pid") != pid)
		return false;
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (is_event(l, evs[i]))
			return true;
	return false;
}

/* The child's lifecycle events of lines[0..n), as sorted keys; *nk set. */
static char **event_keys(char **lines, int n, pid_t pid, int *nk)
{
	char **k = calloc(n ? n : 1, sizeof(*k));

	*nk = 0;
	for (int i = 0; i < n; i++)
		if (lifecycle_event(lines[i], pid))
			k[(*nk)++] = event_key(lines[i]);
	qsort(k, *nk, sizeof(*k), cmp_str);
	return k;
}

/*
 * One pipeline for live and report: the same workload traced live (--json)
 * and recorded by a second tracer at the same time; `report --format jsonl`
 * of the recording must show the same event lines, with the real ports on
 * the state and release lines after CLOSE (the kernel has zeroed them by
 * then), and so must the CSV rows and the Chrome slices.
 */
static int t_live_vs_report(void)
{
	char trace[300], out[300], recout[300], pidbuf[16], *argv[16];
	char *rep_jsonl[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	char *rep_csv[] = { "portlife", "report", trace, "--format", "csv", NULL };
	char *rep_chrome[] = { "portlife", "report", trace, "--format", "chrome", NULL };
	char **live = NULL, **rep = NULL, **v;
	int nlive = 0, nrep = 0, n, err, st, i = 0;
	pid_t recorder = -1;
	struct run run;

	snprintf(trace, sizeof(trace), "%s/live_vs_report.trace", tmpdir);
	snprintf(recout, sizeof(recout), "%s/live_vs_report_recorder.out", tmpdir);
	err = start(&run, sc_workload, "live_vs_report", NULL);
	if (!err) {
		snprintf(pidbuf, sizeof(pidbuf), "%d", run.child);
		argv[i++] = (char *)portlife;
		argv[i++] = "record";
		argv[i++] = "-o";
		argv[i++] = trace;
		argv[i++] = "--json";
		argv[i++] = "-p";
		argv[i++] = pidbuf;
		argv[i++] = "--tw-interval";
		argv[i++] = "0.5";
		if (mode) {
			argv[i++] = "--mode";
			argv[i++] = (char *)mode;
		}
		argv[i] = NULL;
		recorder = fork();
		if (recorder == 0) {
			int fd = open(recout, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			dup2(fd, 1);
			dup2(fd, 2);
			execv(portlife, argv);
			_exit(127);
		}
		for (int t = 0; t < 600 && !file_has(recout, "\"event\":\"start\""); t++)
			sleep_ms(50);
		if (!file_has(recout, "\"event\":\"start\""))
			err = fail("the recorder did not start: see %s", recout);
	}
	if (!err)
		err = drive(&run);
	/* both tracers see the last TIME_WAIT snapshot, then stop */
	sleep_ms(1000);
	if (recorder > 0) {
		kill(recorder, SIGTERM);
		waitpid(recorder, &st, 0);
		if (!err && (!WIFEXITED(st) || WEXITSTATUS(st)))
			err = fail("the recorder exited with status %#x: see %s", st, recout);
	}
	stop(&run, 0);
	snprintf(out, sizeof(out), "%s/live_vs_report.jsonl", tmpdir);
	if (!err && run_capture(rep_jsonl, out))
		err = fail("portlife report --format jsonl failed: see %s.err", out);
	if (!err) {
		v = file_lines(out, &n);
		live = event_keys(run.lines, run.nlines, run.child, &nlive);
		rep = event_keys(v, n, run.child, &nrep);
		free_lines(v, n);
		if (nlive < 20)
			err = fail("only %d events traced live", nlive);
		for (int k = 0; !err && k < nlive && k < nrep; k++)
			if (strcmp(live[k], rep[k]))
				err = fail("live and report differ (%d and %d lines); first: live %s, "
					   "report %s", nlive, nrep, live[k], rep[k]);
		if (!err && nlive != nrep)
			err = fail("%d event lines live, %d in the report", nlive, nrep);
	}
	/* CSV: a release row with the real port for every IPv4 client port */
	snprintf(out, sizeof(out), "%s/live_vs_report.csv", tmpdir);
	if (!err && run_capture(rep_csv, out))
		err = fail("portlife report --format csv failed");
	v = err ? NULL : file_lines(out, &n);
	for (int p = 0; !err && p < run.r.nports6; p++) {
		char want[48];
		bool found = false;

		/* the passive closers: released at CLOSE, where the kernel zeroes the port */
		snprintf(want, sizeof(want), ",%u,", run.r.ports6[p]);
		for (int k = 1; k < n && !found; k++)
			found = strstr(v[k], ",release,") && strstr(v[k], want);
		if (!found)
			err = fail("no csv release row with port %u: see %s", run.r.ports6[p], out);
	}
	for (int k = 1; !err && v && k < n; k++)
		if ((strstr(v[k], ",state,") || strstr(v[k], ",release,")) && strstr(v[k], ",tcp,") &&
		    strstr(v[k], ",0,::,0,"))
			err = fail("csv row with a zeroed port: %s", v[k]);
	if (v)
		free_lines(v, n);
	/* Chrome: each lease's slice is named for its real port */
	snprintf(out, sizeof(out), "%s/live_vs_report_chrome.json", tmpdir);
	if (!err && run_capture(rep_chrome, out))
		err = fail("portlife report --format chrome failed");
	for (int p = 0; !err && p < run.r.nports6; p++) {
		char want[64];

		snprintf(want, sizeof(want), "\"tcp :%u -> [::1]:%u\"", run.r.ports6[p],
			 run.r.bound_port);
		if (!file_has(out, want))
			err = fail("no chrome slice %s: see %s", want, out);
	}
	/*
	 * The elapsed time: the recorder's own summary and its report's agree
	 * (the header's start was taken before the tracer's: 0.1 to 0.2 s
	 * more in every report), and its trailer's end is the summary's.
	 */
	if (!err) {
		char *rep_json[] = { "portlife", "report", trace, "--json", NULL };
		const char *t;
		long long live_ns = 0, rep_ns = 0;

		snprintf(out, sizeof(out), "%s/live_vs_report_summary.json", tmpdir);
		if (run_capture(rep_json, out))
			err = fail("portlife report --json failed");
		if (!err && (t = find_line(recout, "totals", NULL, 0)))
			live_ns = jnum(t, "elapsed_ns");
		if (!err && (t = find_line(out, "totals", NULL, 0)))
			rep_ns = jnum(t, "elapsed_ns");
		if (!err && (live_ns <= 0 || rep_ns != live_ns))
			err = fail("elapsed_ns %lld live, %lld in the report: want them equal",
				   live_ns, rep_ns);
	}
	for (int k = 0; k < nlive; k++)
		free(live[k]);
	for (int k = 0; k < nrep; k++)
		free(rep[k]);
	free(live);
	free(rep);
	cleanup(&run);
	return err;
}

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

/*
 * UDP-Lite sockets of both families: bound, autobound by a send and by a
 * connect(), and one bind() to a port another holds (EADDRINUSE); their
 * ports in r->ports. One plain UDP socket bound beside them (r->bound_port).
 */
static int sc_udplite(struct result *r)
{
	struct sockaddr_storage ss;
	int fd, u, err;
	socklen_t len;
	char b = 0;

	if ((err = own_netns()))
		return err;
	for (int i = 0; i < 2; i++) {
		int fam = i ? AF_INET6 : AF_INET;

		for (int k = 0; k < 4; k++) {
			fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
			if (fd < 0)
				return -errno;
			len = mkaddr(&ss, fam, k == 3 ? r->ports[r->nports - 3] : k == 0 ? 0 : 9);
			if (k == 0 && bind(fd, (void *)&ss, len))
				return -errno;
			if (k == 1 && sendto(fd, &b, 1, 0, (void *)&ss, len) != 1)
				return -errno;
			if (k == 2 && connect(fd, (void *)&ss, len))
				return -errno;
			if (k == 3) {
				if (!bind(fd, (void *)&ss, len) || errno != EADDRINUSE)
					return -EPROTO;
				continue;	/* the sockets above stay open: the port stays taken */
			}
			r->ports[r->nports++] = sock_port(fd);
		}
	}
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, 0);
	if (u < 0 || bind(u, (void *)&ss, len))
		return -errno;
	r->bound_port = sock_port(u);
	sleep_ms(20);
	close(u);
	return 0;	/* the rest close as the child exits */
}

/*
 * UDP-Lite goes through UDP's port functions and hooks with a port table of
 * its own: portlife traces TCP and UDP only. Its binds and sends were leases
 * told as TCP, never released in the tracepoint mode, and the record that
 * held one read back as corrupt, everything after it lost. Now none of it
 * is reported, in any mode, and the trace reads whole.
 */
static int t_udplite(void)
{
	char trace[300], out[300], *extra[] = { "record", "-o", trace, NULL };
	char *rep[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	struct run run;
	char **v = NULL;
	int n = 0, err, st, nudp = 0;

	snprintf(trace, sizeof(trace), "%s/udplite.trace", tmpdir);
	snprintf(out, sizeof(out), "%s/udplite.jsonl", tmpdir);
	err = start(&run, sc_udplite, "udplite", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 800);
	/* the recorder's own summary counts the one UDP lease */
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child &&
		    jnum(run.lines[i], "allocs") != 1)
			err = fail("the child's summary counts %lld allocations, want 1 (the UDP "
				   "one): %s", jnum(run.lines[i], "allocs"), run.lines[i]);
	st = err ? 0 : run_capture(rep, out);
	if (!err && st)
		err = fail("portlife report of the trace exited %d (stderr in %s.err)", st, out);
	if (!err)
		v = file_lines(out, &n);
	for (int i = 0; !err && i < n; i++) {
		const char *l = v[i];

		if (jnum(l, "pid") != run.child || !jfind(l, "lport"))
			continue;
		for (int k = 0; !err && k < run.r.nports; k++)
			if (jnum(l, "lport") == run.r.ports[k])
				err = fail("UDP-Lite port %d reported: %s", run.r.ports[k], l);
		if (is_event(l, "alloc") && jnum(l, "lport") == run.r.bound_port &&
		    jstr_is(l, "proto", "udp"))
			nudp++;
	}
	if (!err && nudp != 1)
		err = fail("UDP port %d: %d udp allocations in the report, want 1 (%s)",
			   run.r.bound_port, nudp, out);
	free_lines(v, n);
	cleanup(&run);
	return err;
}

LIVE_TEST(record_report, t_record_report, 170, false);
LIVE_TEST(live_vs_report, t_live_vs_report, 175, false);
LIVE_TEST(record_full_disk, t_record_full_disk, 180, false);
LIVE_TEST(udplite, t_udplite, 181, false);
