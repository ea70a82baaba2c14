// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the kernel's age takes away, said and not hidden. The tracepoint mode
 * needs socket storage and socket cookies in tracing programs (5.11, 5.12):
 * below that it is refused in one line naming what is missing, and the
 * ladder settles on an exact mode; where the kernel does not count recursion
 * misses (before 5.12), the start line says so. The expectations come from
 * uname here, so the test does not trust the probes it checks.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* The value of "mode" in the JSON start line of file path, into buf; false if none. */
static bool start_mode(const char *path, char *buf, size_t len)
{
	const char *line = find_line(path, "start", NULL, 0), *p;

	if (!line || !(p = strstr(line, "\"mode\":\"")))
		return false;
	p += 8;
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\""), p);
	return true;
}

static int t_mode_floor(void)
{
	char *tp[] = { "portlife", "--mode", "tracepoint", "-d", "0.2", "--json", NULL };
	char *automode[] = { "portlife", "-d", "0.2", "--json", NULL };
	char out[300], err[320], got[32];
	const char *missing;
	int rc;

	snprintf(out, sizeof(out), "%s/mode_floor.out", tmpdir);
	snprintf(err, sizeof(err), "%s.err", out);
	if (kernel_at_least(5, 12)) {
		/* nothing missing: the helper probes must not refuse it */
		rc = run_capture(tp, out);
		if (rc || file_has(err, "cannot call"))
			return fail("--mode tracepoint exited %d on a kernel with both helpers: see %s",
				    rc, err);
		if (!start_mode(out, got, sizeof(got)) || strcmp(got, "tracepoint"))
			return fail("--mode tracepoint started no tracepoint mode: see %s", out);
		return 0;
	}
	missing = kernel_at_least(5, 11) ? "cannot call bpf_get_socket_cookie()" :
		  "cannot call bpf_sk_storage_get() nor bpf_get_socket_cookie()";
	if (expect_error(tp, "tracepoint mode unavailable: tracing programs on this kernel") ||
	    expect_error(tp, missing))
		return -1;
	/* the ladder settles on an exact mode, which says recursion misses go uncounted */
	rc = run_capture(automode, out);
	if (rc || !start_mode(out, got, sizeof(got)) ||
	    (strcmp(got, "fentry") && strcmp(got, "kprobe")))
		return fail("auto mode exited %d, started '%s', want fentry or kprobe: see %s", rc,
			    rc ? "" : got, out);
	if (!file_has(out, "recursion misses: not counted (kernel before 5.12)"))
		return fail("the precision does not say recursion misses go uncounted: see %s", out);
	if (!file_has(out, "\"recursion_misses\":null"))
		return fail("the totals give a count of recursion misses the kernel never kept: "
			    "see %s", out);
	return 0;
}

/*
 * Auto mode takes the first of fentry, kprobe, tracepoint that works here, as
 * each started on its own says; its quick looks before a whole attempt
 * (user/loader.c) must never pass over a mode that works.
 */
static int t_mode_auto(void)
{
	static const char *const ladder[] = { "fentry", "kprobe", "tracepoint" };
	char *automode[] = { "portlife", "-d", "0.2", "--json", NULL };
	char out[300], got[32];
	const char *want = NULL;
	int rc;

	snprintf(out, sizeof(out), "%s/mode_auto.out", tmpdir);
	for (size_t i = 0; !want && i < sizeof(ladder) / sizeof(ladder[0]); i++) {
		char *one[] = { "portlife", "--mode", (char *)ladder[i], "-d", "0.2", "--json", NULL };

		if (!run_capture(one, out) && start_mode(out, got, sizeof(got)) &&
		    !strcmp(got, ladder[i]))
			want = ladder[i];
	}
	/*
	 * The kprobe look's premise, wherever kprobes work (this run's mode, or
	 * the first that works): no kprobe PMU, no kprobe mode.
	 */
	if (((mode && !strcmp(mode, "kprobe")) || (want && !strcmp(want, "kprobe"))) &&
	    access("/sys/bus/event_source/devices/kprobe", F_OK))
		return fail("kprobe mode works without a kprobe PMU: auto mode would pass it over "
			    "(user/loader.c kprobes_absent)");
	if (!want)
		return fail("no mode starts on its own here: see %s.err", out);
	rc = run_capture(automode, out);
	if (rc || !start_mode(out, got, sizeof(got)) || strcmp(got, want))
		return fail("auto mode exited %d, started '%s', want %s (the first mode that works "
			    "on its own): see %s", rc, rc ? "" : got, want, out);
	return 0;
}

LIVE_TEST(mode_floor, t_mode_floor, 115, false);
LIVE_TEST(mode_auto, t_mode_auto, 116, false);
