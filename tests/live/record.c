// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* record and report: the same numbers read back, and a full disk while recording. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
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
	rows = n;
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
	umount2(dir, MNT_DETACH);
	cleanup(&run);
	return err;
}

LIVE_TEST(record_report, t_record_report, 170, false);
LIVE_TEST(record_full_disk, t_record_full_disk, 180, false);
