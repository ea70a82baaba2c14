// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Output into a file: portlife writes its lines in batches (every 50 ms, or
 * a full buffer), so a line must still reach the file while portlife runs,
 * and a write that fails must still stop it with the cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

int sc_v4(struct result *r);

/* The last connection's release is in the file soon after it, portlife still running. */
static int t_output_prompt(void)
{
	struct run run;
	long long t0 = 0, waited = -1;
	int err, port = 0;

	err = start(&run, sc_v4, "output_prompt", NULL);
	if (!err)
		err = drive(&run);
	if (!err && run.r.nports < 1)
		err = fail("the scenario made no connection");
	if (!err) {
		/* the server closes first: the client's port is released at its CLOSE */
		port = run.r.ports[run.r.nports - 1];
		t0 = now_ns();
		while (now_ns() - t0 < 3000000000LL) {
			if (find_line(run.out, "release", "lport", port)) {
				waited = (now_ns() - t0) / 1000000;
				break;
			}
			sleep_ms(10);
		}
		/* read before the stop: the stop writes everything anyway */
		if (waited < 0)
			err = fail("the release of port %d was not in %s 3 s after the close, "
				   "portlife still running", port, run.out);
		else if (kill(run.tracer, 0))
			err = fail("portlife exited before the stop");
	}
	stop(&run, 0);
	cleanup(&run);
	return err;
}

/* Lines into /dev/full: a non-zero exit naming the cause, not a silent run. */
static int t_output_full(void)
{
	char errpath[300];
	int st;
	pid_t p;

	snprintf(errpath, sizeof(errpath), "%s/output_full.err", tmpdir);
	p = fork();
	if (p < 0)
		return fail("fork: %s", strerror(errno));
	if (p == 0) {
		int out = open("/dev/full", O_WRONLY), efd;

		efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out < 0 || efd < 0)
			_exit(126);
		dup2(out, 1);
		dup2(efd, 2);
		/* --json: the start line is written at once; -d: a bound if nothing is seen */
		if (mode)
			execl(portlife, "portlife", "--json", "-d", "30", "--mode", mode, (char *)NULL);
		else
			execl(portlife, "portlife", "--json", "-d", "30", (char *)NULL);
		_exit(127);
	}
	if (waitpid(p, &st, 0) != p)
		return fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 0 || WEXITSTATUS(st) >= 126)
		return fail("portlife writing into /dev/full: status %#x, want a non-zero exit "
			    "(see %s)", st, errpath);
	if (!file_has(errpath, "writing the output failed: No space left on device"))
		return fail("no 'writing the output failed: No space left on device': see %s",
			    errpath);
	return 0;
}

LIVE_TEST(output_prompt, t_output_prompt, 72, false);
LIVE_TEST(output_full, t_output_full, 74, false);
