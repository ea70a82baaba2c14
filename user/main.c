// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portlife: the life of every local port. This file only dispatches: each
 * command lives in its own file (trace.c: live tracing, record and top;
 * ports.c: ports and who; report.c: report).
 */
#include <argp.h>
#include <signal.h>
#include <string.h>
#include "ports.h"
#include "report.h"
#include "trace.h"

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *argv0;	/* what argp's "Usage:" and "Try ..." lines call it */
} cmds[] = {
	{ "ports", cmd_ports, "portlife ports" },
	{ "who", cmd_who, "portlife who" },
	{ "record", cmd_record, "portlife record" },
	{ "report", cmd_report, "portlife report" },
	{ "top", cmd_top, "portlife top" },
};

int main(int argc, char **argv)
{
	/* one exit status for every usage error, argp's own included (it says 64) */
	argp_err_exit_status = 2;
	/*
	 * A closed pipe (portlife report T | head) is a normal stop for every
	 * command: the write's EPIPE says so (out_finish()), not a signal's
	 * exit status 141, which a script with pipefail takes for a failure.
	 */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; argc > 1 && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		argv[1] = (char *)cmds[i].argv0;
		return cmds[i].fn(argc - 1, argv + 1);
	}
	/* no command: live tracing, with every option of its own */
	return cmd_trace(argc, argv);
}
