// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A recorded trace goes through the same lease table, aggregation and
 * output code as live tracing did, so the numbers are the same for the same
 * events. Exports: JSON lines, CSV, and a Chrome/Perfetto trace.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "agg.h"
#include "export.h"
#include "lease.h"
#include "opts.h"
#include "output.h"
#include "pipeline.h"
#include "report.h"
#include "tracefile.h"
#include "util.h"

enum fmt { FMT_TEXT, FMT_JSONL, FMT_CSV, FMT_CHROME };

struct report {
	enum fmt fmt;
	bool json, salvage;
	struct pipeline_filter filt;
	const char *path;
};

static struct report rep;

struct reading {
	struct pipeline *pipe;
	struct out *out;
	struct export *x;
	const struct tracefile_info *info;	/* its header is read before any record */
};

static void on_record(void *ctx, const struct pl_event *e)
{
	struct reading *rd = ctx;

	/* every line's wall-clock time comes from the header's offset */
	rd->out->wall_off = rd->x->wall_off = rd->info->hdr.wall_off_ns;
	pipeline__event(rd->pipe, e);
}

enum { OPT_JSON = 0x100, OPT_FORMAT, OPT_SALVAGE };

static const struct argp_option opts[] = {
	{ "json", OPT_JSON, NULL, 0, "The summary as JSON lines, as portlife --json prints it", 0 },
	{ "format", OPT_FORMAT, "FMT", 0,
	  "text (the summary, default), jsonl (every event), csv (every event, with a header "
	  "row), chrome (a Chrome/Perfetto trace: one track per process)", 0 },
	OPTS_FILTER("Only leases of this process (tgid)"),
	{ "salvage", OPT_SALVAGE, NULL, 0, "Read what is valid in a damaged trace, skip the rest", 0 },
	{},
};

static const char doc[] =
"portlife report FILE: the per-process summary of a trace recorded with\n"
"`portlife record`, with the same numbers live tracing printed, or every event\n"
"exported for other tools.\n"
"\n"
"USAGE: portlife report FILE [OPTIONS]\n"
"\n"
"EXAMPLES:\n"
"    portlife report ports.trace\n"
"    portlife report ports.trace --format csv > events.csv\n"
"    portlife report ports.trace --format chrome > ports.json   # ui.perfetto.dev\n"
"    portlife report damaged.trace --salvage\n"
"\n"
"OPTIONS:";

static error_t parse(int key, char *arg, struct argp_state *state)
{
	error_t err = opt_filter(key, arg, &rep.filt);

	if (err != ARGP_ERR_UNKNOWN)
		return err;
	switch (key) {
	case OPT_JSON:
		rep.json = true;
		break;
	case OPT_FORMAT:
		if (!strcmp(arg, "text"))
			rep.fmt = FMT_TEXT;
		else if (!strcmp(arg, "jsonl"))
			rep.fmt = FMT_JSONL;
		else if (!strcmp(arg, "csv"))
			rep.fmt = FMT_CSV;
		else if (!strcmp(arg, "chrome"))
			rep.fmt = FMT_CHROME;
		else
			return opt_bad("format", arg, "expected text, jsonl, csv or chrome");
		break;
	case OPT_SALVAGE:
		rep.salvage = true;
		break;
	case ARGP_KEY_ARG:
		if (rep.path) {
			fprintf(stderr, "portlife: one trace file at a time ('%s' and '%s')\n", rep.path, arg);
			return -EINVAL;
		}
		rep.path = arg;
		break;
	case ARGP_KEY_END:
		if (!rep.path) {
			fprintf(stderr, "portlife: report needs a trace file: portlife report FILE\n");
			return -EINVAL;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)state;
	return 0;
}

int cmd_report(int argc, char **argv)
{
	const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	struct tracefile_info info;
	struct lease_table *leases;
	struct pipeline pipe;
	struct export x = {};
	struct run_info ri;
	struct out out = {};
	struct agg *agg;
	struct reading rd = { .pipe = &pipe, .out = &out, .x = &x, .info = &info };
	int ret = 1, err, fd;
	FILE *f;

	memset(&rep, 0, sizeof(rep));
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	/*
	 * O_NONBLOCK: a FIFO must not hang us until a writer comes; the reader
	 * refuses anything but a regular file, on which the flag does nothing.
	 */
	fd = open(rep.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "portlife: cannot open %s: %s\n", rep.path, strerror(errno));
		return 1;
	}
	leases = lease_table__new(1UL << 20);
	agg = agg__new(65536);
	if (!leases || !agg) {
		fprintf(stderr, "portlife: out of memory\n");
		goto out;
	}
	pipeline__init(&pipe, leases, agg);
	pipe.filt = rep.filt;
	out.f = stdout;
	out.json = rep.json || rep.fmt == FMT_JSONL;
	out.events = rep.fmt == FMT_JSONL;
	pipeline__add_sink(&pipe, out__event, &out);

	export__init(&x, stdout, 0);
	if (rep.fmt == FMT_CSV) {
		export__csv_header(&x);
		pipeline__add_sink(&pipe, export__csv_sink, &x);
	}
	if (rep.fmt == FMT_CHROME) {
		export__chrome_begin(&x);
		pipeline__add_sink(&pipe, export__chrome_sink, &x);
	}

	err = tracefile_read(f, rep.salvage, on_record, &rd, &info);
	if (err) {
		if (rep.fmt == FMT_CHROME)
			printf("]}\n");
		fprintf(stderr, "portlife: %s: %s\n", rep.path, info.error);
		goto out;
	}
	if (info.error[0])
		fprintf(stderr, "portlife: %s: salvaged %llu records around %llu damaged place%s "
				"(%llu bytes skipped); first: %s\n",
			rep.path, (unsigned long long)info.records, (unsigned long long)info.damaged,
			info.damaged == 1 ? "" : "s", (unsigned long long)info.skipped_bytes, info.error);
	if (!info.has_trailer)
		fprintf(stderr, "portlife: %s has no trailer: the recorder was stopped hard; "
				"drop counts are unknown\n", rep.path);

	if (rep.fmt == FMT_CHROME) {
		/* leases still open at the end of the trace */
		export__chrome_end(&x, leases, pipe.last_ts);
	} else if (rep.fmt == FMT_TEXT || rep.json) {
		memset(&ri, 0, sizeof(ri));
		ri.mode = info.hdr.mode;
		ri.precision = info.hdr.precision;
		if (info.has_trailer) {
			memcpy(ri.drops, info.trailer.drops, sizeof(ri.drops));
			ri.recursion_misses = info.trailer.recursion_misses;
		}
		ri.elapsed_ns = (info.has_trailer ? info.trailer.end_ns : pipe.last_ts) -
				info.hdr.start_ns;
		ri.leases = lease_table__stats(leases);
		ri.tw_overflow = agg__tw_overflow(agg);
		if (!rep.json)
			printf("trace %s: host %s, kernel %s, mode %s, %llu records%s%s\n", rep.path,
			       info.hdr.hostname, info.hdr.release, info.hdr.mode,
			       (unsigned long long)info.records, info.hdr.filters[0] ? ", filters: " : "",
			       info.hdr.filters);
		out__summary(&out, agg, &ri);
	}
	ret = 0;
out:
	fclose(f);
	export__free(&x);
	out__free(&out);
	agg__free(agg);
	lease_table__free(leases);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "portlife: writing the report failed: %s\n", strerror(errno));
		return 1;
	}
	return ret;
}
