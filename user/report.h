/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `portlife report FILE`: summaries and exports of a recorded trace. */
#ifndef PORTLIFE_REPORT_H
#define PORTLIFE_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "alerts.h"
#include "pipeline.h"
#include "tracefile.h"

enum report_fmt {
	REPORT_TEXT,		/* the summary (JSON lines with json) */
	REPORT_JSONL,		/* every event as a JSON line, then the summary */
	REPORT_CSV,		/* every event as a row, after a header row */
	REPORT_CHROME,		/* a Chrome/Perfetto trace: a track per process */
};

struct fleet;

struct report_opts {
	enum report_fmt fmt;
	bool json;		/* the summary as JSON lines */
	bool salvage;		/* skip damage instead of stopping at it */
	struct pipeline_filter filt;
	size_t max_leases, max_procs;	/* the tables' bounds; 0: the defaults */
	struct fleet *fleet;	/* several traces: each one's totals and pods are added here */
	struct alert_cfg alerts;	/* the security rules (all off when zeroed) */
};

/*
 * The report of trace f, written to out; name is the trace's name in the
 * text summary. The same pipeline as live tracing, and cgroup paths and pod
 * names as the trace recorded them. JSON lines and CSV rows carry the host
 * that recorded it. Returns 0, or -errno with info->error saying why.
 */
int report__run(FILE *f, const struct report_opts *o, FILE *out, const char *name,
		struct tracefile_info *info);

int cmd_report(int argc, char **argv);

#endif
