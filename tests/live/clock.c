// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Wall-clock times across a step of the wall clock (NTP's first sync after
 * boot, a VM resumed, a date set by hand): events carry CLOCK_MONOTONIC, and
 * their printed time must follow the clock the host's logs use.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

/* The step, one hour: what the shim adds to CLOCK_REALTIME once the file exists. */
#define STEP_S 3600LL

static char clock_file[64];

/* Written whole, then renamed into place: the shim never reads half of it. */
static int step_clock(void)
{
	char tmp[80], step[32];
	int fd, len = snprintf(step, sizeof(step), "%lld", STEP_S * 1000000000LL);

	snprintf(tmp, sizeof(tmp), "%s.tmp", clock_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, step, len) != len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return rename(tmp, clock_file) ? -errno : 0;
}

static int sc_clock_step(struct result *r)
{
	int lfd, c, err;

	if ((err = own_netns()))
		return err;
	if ((lfd = listener(AF_INET, 0)) < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < 2; i++) {
		if (i) {
			/* the step, then more than a second: the tracer's clock tick runs */
			if ((err = step_clock()))
				return err;
			sleep_ms(1600);
		}
		c = connect_to(AF_INET, r->listen_port, 0, 0);
		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		close(c);
		sleep_ms(200);
	}
	close(lfd);
	return 0;
}

/* An event line's "time" (ISO 8601, UTC, microseconds) as Unix seconds, or -1. */
static double line_time(const char *l)
{
	const char *v = jfind(l, "time");
	struct tm tm = {};
	double frac = 0;
	char *end;

	if (!v || *v != '"' || !(end = strptime(v + 1, "%Y-%m-%dT%H:%M:%S", &tm)))
		return -1;
	if (*end == '.')
		frac = strtod(end, NULL);
	return (double)timegm(&tm) + frac;
}

/*
 * The first connection's allocation is dated by the clock as it was, the
 * second's by the stepped one: an hour apart more than their CLOCK_MONOTONIC
 * times are, and stderr says the clock stepped. Before, the offset taken at
 * the start dated every event of a run, however long. record: the same
 * events read back from a recording by `report` (the step is in the trace).
 */
static int clock_run(bool record)
{
	char self[PATH_MAX], shim[PATH_MAX + 16], trace[PATH_MAX], out[PATH_MAX + 8];
	char *extra[] = { "record", "-o", trace, NULL };
	char *rep[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	const char *a[2] = {};
	struct run run;
	char **l = NULL;
	int err, nl = 0;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return fail("readlink /proc/self/exe: %s", strerror(errno));
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(shim, sizeof(shim), "%s/clockshim.so", self);
	if (access(shim, R_OK))
		return fail("%s is missing: make %s", shim, shim);
	snprintf(clock_file, sizeof(clock_file), "/tmp/portlife-clockstep.%d", (int)getpid());
	snprintf(trace, sizeof(trace), "%s/clock_step.trace", tmpdir);
	snprintf(out, sizeof(out), "%s.jsonl", trace);
	unlink(clock_file);
	unlink(trace);
	/* portlife alone is exec'd with them (the scenario's child only forks) */
	setenv("LD_PRELOAD", shim, 1);
	setenv("PORTLIFE_TEST_CLOCK_FILE", clock_file, 1);
	err = start(&run, sc_clock_step, record ? "clock_step_record" : "clock_step",
		    record ? extra : NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("PORTLIFE_TEST_CLOCK_FILE");
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	unlink(clock_file);
	if (!err && record) {
		if (run_capture(rep, out))
			err = fail("portlife report %s failed: see %s.err", trace, out);
		else
			l = file_lines(out, &nl);
	}
	for (int i = 0; !err && i < 2; i++) {
		int found = 0;

		if (!record) {
			found = count_ev(&run, "alloc", run.child, run.r.ports[i], &a[i]);
		} else {
			for (int k = 0; k < nl; k++)
				if (is_event(l[k], "alloc") && jnum(l[k], "lport") == run.r.ports[i] &&
				    jnum(l[k], "pid") == run.child) {
					a[i] = l[k];
					found++;
				}
		}
		if (found != 1)
			err = fail("port %d: %d allocations%s, want 1", run.r.ports[i], found,
				   record ? " in the report" : "");
	}
	if (!err) {
		double wall = line_time(a[1]) - line_time(a[0]);
		double mono = (jnum(a[1], "ts_ns") - jnum(a[0], "ts_ns")) / 1e9;
		double now = (double)time(NULL);

		if (line_time(a[0]) < now - 120 || line_time(a[0]) > now + 5)
			err = fail("the first event's time is not the clock's: %s", a[0]);
		else if (wall - mono < STEP_S - 1 || wall - mono > STEP_S + 1)
			err = fail("%sthe events are %.3f s apart by their times and %.3f s by the "
				   "monotonic clock: the %lld s step not followed",
				   record ? "report of a recording: " : "", wall, mono, STEP_S);
		else if (!file_has(run.err, "the wall clock stepped by +3600"))
			err = fail("stderr does not say the clock stepped: see %s", run.err);
	}
	if (l)
		free_lines(l, nl);
	cleanup(&run);
	return err;
}

static int t_clock_step(void)
{
	return clock_run(false) || clock_run(true) ? -1 : 0;
}

LIVE_TEST(clock_step, t_clock_step, 75, true);
