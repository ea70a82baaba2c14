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

static struct {
	struct report_opts o;
	const char *path;
} rep;

/* Cgroup paths as the trace recorded them: the recording host's, never ours. */
struct cg_path {
	__u64 id;
	char *path;
};

struct cg_table {
	struct cg_path *v;
	size_t n, cap;
	size_t bytes;		/* of paths kept: bounded, a trace is anybody's */
	bool sorted;
};

#define CG_TABLE_BYTES (64UL << 20)

static void cg_add(struct cg_table *t, __u64 id, const char *path)
{
	size_t len = strlen(path);

	if (t->bytes + len > CG_TABLE_BYTES)
		return;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct cg_path *nv = realloc(t->v, cap * sizeof(*nv));

		if (!nv)
			return;
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->n].path = strdup(path);
	if (!t->v[t->n].path)
		return;
	t->v[t->n].id = id;
	t->n++;
	t->bytes += len;
	t->sorted = false;
}

static int by_cg_id(const void *a, const void *b)
{
	const struct cg_path *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* A cgpath_fn: the first path the trace gave id; -ENOENT if it gave none. */
static int cg_find(void *ctx, __u64 id, char *buf, size_t len)
{
	struct cg_table *t = ctx;
	struct cg_path key = { .id = id }, *hit;

	if (!t->n)
		return -ENOENT;
	if (!t->sorted) {
		/* a trace repeats an id only when crafted: then any of its paths will do */
		qsort(t->v, t->n, sizeof(*t->v), by_cg_id);
		t->sorted = true;
	}
	hit = bsearch(&key, t->v, t->n, sizeof(*t->v), by_cg_id);
	if (!hit || !*hit->path)
		return -ENOENT;
	snprintf(buf, len, "%s", hit->path);
	return 0;
}

static void cg_free(struct cg_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
}

/* Everything one report runs a trace through. */
struct report {
	const struct report_opts *o;
	struct tracefile_info *info;	/* its header is read before any record */
	struct lease_table *leases;
	struct agg *agg;
	struct pipeline pipe;
	struct out out;
	struct export x;
	struct cg_table cgroups;
};

static void on_cgroup(void *ctx, __u64 id, const char *path)
{
	struct report *r = ctx;

	cg_add(&r->cgroups, id, path);
}

static void on_record(void *ctx, const struct pl_event *e)
{
	struct report *r = ctx;

	/* every line's wall-clock time comes from the header's offset */
	r->out.wall_off = r->x.wall_off = r->info->hdr.wall_off_ns;
	pipeline__event(&r->pipe, e);
}

static void summary(struct report *r, FILE *out, const char *name)
{
	const struct tracefile_info *info = r->info;
	char host[64], rel[64], mode[16], filt[128];
	struct run_info ri = {};

	ri.mode = info->hdr.mode;
	ri.precision = info->hdr.precision;
	if (info->has_trailer) {
		memcpy(ri.drops, info->trailer.drops, sizeof(ri.drops));
		ri.recursion_misses = info->trailer.recursion_misses;
		ri.untracked = info->trailer.untracked;
	}
	ri.elapsed_ns = (info->has_trailer ? info->trailer.end_ns : r->pipe.last_ts) -
			info->hdr.start_ns;
	ri.leases = lease_table__stats(r->leases);
	ri.tw_overflow = agg__tw_overflow(r->agg);
	/* strings from a file, maybe from a hostile host: nothing raw to the terminal */
	if (!r->o->json)
		fprintf(out, "trace %s: host %s, kernel %s, mode %s, %llu records%s%s\n", name,
			safe_str(info->hdr.hostname, host, sizeof(host)),
			safe_str(info->hdr.release, rel, sizeof(rel)),
			safe_str(info->hdr.mode, mode, sizeof(mode)),
			(unsigned long long)info->records, info->hdr.filters[0] ? ", filters: " : "",
			safe_str(info->hdr.filters, filt, sizeof(filt)));
	out__summary(&r->out, r->agg, &ri);
}

int report__run(FILE *f, const struct report_opts *o, FILE *out, const char *name,
		struct tracefile_info *info)
{
	struct report r = { .o = o, .info = info };
	int err = -ENOMEM;

	memset(info, 0, sizeof(*info));
	r.leases = lease_table__new(o->max_leases ? o->max_leases : 1UL << 20);
	r.agg = agg__new(o->max_procs ? o->max_procs : 65536);
	if (!r.leases || !r.agg) {
		snprintf(info->error, sizeof(info->error), "out of memory for the lease table");
		goto out;
	}
	pipeline__init(&r.pipe, r.leases, r.agg);
	r.pipe.filt = o->filt;
	r.out.f = out;
	r.out.json = o->json || o->fmt == REPORT_JSONL;
	r.out.events = o->fmt == REPORT_JSONL;
	r.out.cgroups.get = cg_find;
	r.out.cgroups.ctx = &r.cgroups;
	pipeline__add_sink(&r.pipe, out__event, &r.out);
	export__init(&r.x, out, 0);
	if (o->fmt == REPORT_CSV) {
		export__csv_header(&r.x);
		pipeline__add_sink(&r.pipe, export__csv_sink, &r.x);
	}
	if (o->fmt == REPORT_CHROME) {
		export__chrome_begin(&r.x);
		pipeline__add_sink(&r.pipe, export__chrome_sink, &r.x);
	}
	err = tracefile_read_all(f, o->salvage, on_record, on_cgroup, &r, info);
	if (o->fmt == REPORT_CHROME) {
		/* leases still open at the end of the trace */
		if (!err)
			export__chrome_end(&r.x, r.leases, r.pipe.last_ts);
		else
			fprintf(out, "]}\n");
	} else if (!err && (o->fmt == REPORT_TEXT || o->json)) {
		summary(&r, out, name);
	}
out:
	pipeline__free(&r.pipe);
	export__free(&r.x);
	out__free(&r.out);
	cg_free(&r.cgroups);
	agg__free(r.agg);
	lease_table__free(r.leases);
	return err;
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
	error_t err = opt_filter(key, arg, &rep.o.filt);

	if (err != ARGP_ERR_UNKNOWN)
		return err;
	switch (key) {
	case OPT_JSON:
		rep.o.json = true;
		break;
	case OPT_FORMAT:
		if (!strcmp(arg, "text"))
			rep.o.fmt = REPORT_TEXT;
		else if (!strcmp(arg, "jsonl"))
			rep.o.fmt = REPORT_JSONL;
		else if (!strcmp(arg, "csv"))
			rep.o.fmt = REPORT_CSV;
		else if (!strcmp(arg, "chrome"))
			rep.o.fmt = REPORT_CHROME;
		else
			return opt_bad("format", arg, "expected text, jsonl, csv or chrome");
		break;
	case OPT_SALVAGE:
		rep.o.salvage = true;
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
	int err, fd;
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
		fprintf(stderr, "portlife: cannot open %s: %s\n", rep.path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	err = report__run(f, &rep.o, stdout, rep.path, &info);
	fclose(f);
	if (err) {
		fprintf(stderr, "portlife: %s: %s\n", rep.path, info.error);
	} else {
		if (info.error[0])
			fprintf(stderr, "portlife: %s: salvaged %llu records around %llu damaged "
					"place%s (%llu bytes skipped); first: %s\n",
				rep.path, (unsigned long long)info.records,
				(unsigned long long)info.damaged, info.damaged == 1 ? "" : "s",
				(unsigned long long)info.skipped_bytes, info.error);
		if (!info.has_trailer)
			fprintf(stderr, "portlife: %s has no trailer: the recorder was stopped hard; "
					"drop counts are unknown\n", rep.path);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "portlife: writing the report failed: %s\n", strerror(errno));
		return 1;
	}
	return err ? 1 : 0;
}
