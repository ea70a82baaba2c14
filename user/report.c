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

/*
 * Cgroup paths as the trace recorded them: the recording host's, never ours.
 * Hashed by id: records come between events, and a lookup may follow each.
 */
struct cg_path {
	__u64 id;	/* 0: an empty slot */
	char *path;
};

struct cg_table {
	struct cg_path *v;
	size_t n, cap;		/* cap: a power of two, at most half full */
	size_t bytes;		/* of paths kept: bounded, a trace is anybody's */
};

#define CG_TABLE_BYTES (64UL << 20)

static size_t cg_slot(__u64 id, size_t cap)
{
	return (id * 0x9e3779b97f4a7c15ULL >> 23) & (cap - 1);
}

static struct cg_path *cg_at(const struct cg_table *t, __u64 id)
{
	size_t k;

	if (!t->cap)
		return NULL;
	for (k = cg_slot(id, t->cap); t->v[k].id; k = (k + 1) & (t->cap - 1))
		if (t->v[k].id == id)
			return &t->v[k];
	return &t->v[k];
}

/* The first path a trace gives an id stays: a trace repeats one only when crafted. */
static void cg_add(struct cg_table *t, __u64 id, const char *path)
{
	size_t len = strlen(path);
	struct cg_path *e;

	if (!id || t->bytes + len > CG_TABLE_BYTES)
		return;
	if ((t->n + 1) * 2 > t->cap) {
		struct cg_table nt = { .cap = t->cap ? t->cap * 2 : 64, .n = t->n, .bytes = t->bytes };

		nt.v = calloc(nt.cap, sizeof(*nt.v));
		if (!nt.v)
			return;
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].id)
				*cg_at(&nt, t->v[i].id) = t->v[i];
		free(t->v);
		*t = nt;
	}
	e = cg_at(t, id);
	if (e->id)
		return;
	e->path = strdup(path);
	if (!e->path)
		return;
	e->id = id;
	t->n++;
	t->bytes += len;
}

/* A cgpath_fn: the path the trace gave id; -ENOENT if it gave none. */
static int cg_find(void *ctx, __u64 id, char *buf, size_t len)
{
	const struct cg_path *hit = id ? cg_at(ctx, id) : NULL;

	if (!hit || !hit->id || !*hit->path)
		return -ENOENT;
	snprintf(buf, len, "%s", hit->path);
	return 0;
}

static void cg_free(struct cg_table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].path);
	free(t->v);
}

/*
 * The Kubernetes names the recording host's kubelet gave each cgroup
 * (names records), and the containers made of them with the paths: the
 * analysing host's kubelet knows nothing of another host's pods.
 */
struct cg_names {
	__u64 id;
	char ns[CONTAINER_LABEL_MAX + 1];
	char pod[CONTAINER_SUBDOMAIN_MAX + 1];
	char name[CONTAINER_LABEL_MAX + 1];
};

#define CG_NAMES_MAX (1UL << 20)	/* records kept: bounded, a trace is anybody's */
#define CTR_SLOTS 1024			/* containers parsed, direct-mapped by id */

struct ctr_table {
	struct cg_table *paths;
	struct cg_names *v;	/* hashed by id like cg_table; id 0: empty */
	size_t n, cap;
	struct {
		__u64 id;	/* 0: empty */
		bool in_one;
		struct container ct;
	} *slot;
};

static struct cg_names *names_at(const struct ctr_table *t, __u64 id)
{
	size_t k;

	if (!t->cap)
		return NULL;
	for (k = cg_slot(id, t->cap); t->v[k].id; k = (k + 1) & (t->cap - 1))
		if (t->v[k].id == id)
			return &t->v[k];
	return &t->v[k];
}

/* The last names a trace gives an id win: the kubelet may rename nothing, but be safe. */
static void names_add(struct ctr_table *t, __u64 id, const char *const a[3])
{
	struct cg_names *e;

	/* only names that may be printed: the validators are the live path's */
	if (!id || !container__dns_label(a[0]) || !container__dns_subdomain(a[1]) ||
	    (a[2][0] && !container__dns_label(a[2])) || t->n >= CG_NAMES_MAX)
		return;
	if ((t->n + 1) * 2 > t->cap) {
		struct ctr_table nt = { .cap = t->cap ? t->cap * 2 : 16 };

		nt.v = calloc(nt.cap, sizeof(*nt.v));
		if (!nt.v)
			return;
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].id)
				*names_at(&nt, t->v[i].id) = t->v[i];
		free(t->v);
		t->v = nt.v;
		t->cap = nt.cap;
	}
	e = names_at(t, id);
	if (!e->id)
		t->n++;
	e->id = id;
	snprintf(e->ns, sizeof(e->ns), "%s", a[0]);
	snprintf(e->pod, sizeof(e->pod), "%s", a[1]);
	snprintf(e->name, sizeof(e->name), "%s", a[2]);
}

static const struct cg_names *names_find(const struct ctr_table *t, __u64 id)
{
	const struct cg_names *e = names_at(t, id);

	return e && e->id ? e : NULL;
}

static size_t ctr_slot(__u64 id)
{
	return (id * 0x9e3779b97f4a7c15ULL >> 40) % CTR_SLOTS;
}

/* A container_src: the path the trace gave id, parsed, with the names it gave. */
static const struct container *ctr_find(void *ctx, __u64 id)
{
	struct ctr_table *t = ctx;
	char path[PL_CGPATH_MAX + 1];
	const struct cg_names *nm;
	size_t k;

	if (!t->slot) {
		t->slot = calloc(CTR_SLOTS, sizeof(*t->slot));
		if (!t->slot)
			return NULL;
	}
	k = ctr_slot(id);
	if (t->slot[k].id == id)
		return t->slot[k].in_one ? &t->slot[k].ct : NULL;
	t->slot[k].id = id;
	t->slot[k].in_one = false;
	if (cg_find(t->paths, id, path, sizeof(path)) ||
	    container__parse(path, &t->slot[k].ct) <= 0)
		return NULL;
	nm = t->slot[k].ct.pod_uid[0] ? names_find(t, id) : NULL;
	if (nm) {
		snprintf(t->slot[k].ct.namespace, sizeof(t->slot[k].ct.namespace), "%s", nm->ns);
		snprintf(t->slot[k].ct.pod, sizeof(t->slot[k].ct.pod), "%s", nm->pod);
		snprintf(t->slot[k].ct.name, sizeof(t->slot[k].ct.name), "%s", nm->name);
	}
	t->slot[k].in_one = container__valid(&t->slot[k].ct);
	return t->slot[k].in_one ? &t->slot[k].ct : NULL;
}

static void ctr_free(struct ctr_table *t)
{
	free(t->v);
	free(t->slot);
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
	struct ctr_table ctrs;
};

static void on_cgroup(void *ctx, __u64 id, enum tracefile_cg_kind kind, const char *const a[3])
{
	struct report *r = ctx;

	if (kind == TRACEFILE_CG_PATH)
		cg_add(&r->cgroups, id, a[0]);
	else
		names_add(&r->ctrs, id, a);
	/* a record may change what id's container is: parse it again when asked */
	if (r->ctrs.slot && r->ctrs.slot[ctr_slot(id)].id == id)
		r->ctrs.slot[ctr_slot(id)].id = 0;
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
	r.ctrs.paths = &r.cgroups;
	r.out.ctrs = r.pipe.ctrs = (struct container_src){ .get = ctr_find, .ctx = &r.ctrs };
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
	ctr_free(&r.ctrs);
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
