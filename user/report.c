// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A recorded trace goes through the same lease table, aggregation and
 * output code as live tracing did, so the numbers are the same for the same
 * events. Exports: JSON lines, CSV, and a Chrome/Perfetto trace.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "agg.h"
#include "alerts.h"
#include "export.h"
#include "lease.h"
#include "nat.h"
#include "opts.h"
#include "output.h"
#include "pipeline.h"
#include "report.h"
#include "tracefile.h"
#include "util.h"

#define REPORT_MAX_FILES 4096

/* What tells one recording from another: its host, its boot's clock offset, its start. */
struct trace_id {
	char host[64];
	__u64 wall_off_ns, start_ns;
	char *path;		/* as shown (safe_str()); NULL if out of memory */
};

static struct {
	struct report_opts o;
	const char *paths[REPORT_MAX_FILES];
	size_t npaths;
	bool alert_set, no_alerts;
	struct trace_id seen[REPORT_MAX_FILES];
	size_t nseen;
} rep;

/*
 * `report a.trace b.trace ...`: each trace is reported as it would be alone
 * (leases and processes are per host: pids and cookies mean nothing across
 * hosts), then the fleet: totals per host, and per pod across every host.
 */
#define FLEET_HOSTS_PER_POD 8

struct fleet_host {
	char host[64];		/* as the header has it: escaped when shown */
	size_t traces;
	__u64 records, lost, untracked;
	struct proc_stats s;
};

struct fleet_pod {
	struct pod_stats p;
	char hosts[FLEET_HOSTS_PER_POD][64];
	size_t nhosts;		/* more than FLEET_HOSTS_PER_POD: the rest counted only */
};

struct fleet {
	struct fleet_host *hv;
	size_t nh;
	struct fleet_pod *pv;
	size_t np;
	size_t traces;
	size_t started;		/* traces begun: CSV has one header row for them all */
};

static void fleet_add_pod(struct fleet *fl, const struct pod_stats *p, const char *host)
{
	struct fleet_pod *hit = NULL;

	for (size_t i = 0; i < fl->np && !hit; i++)
		if (!strcmp(fl->pv[i].p.ns, p->ns) && !strcmp(fl->pv[i].p.pod, p->pod) &&
		    !strcmp(fl->pv[i].p.uid, p->uid))
			hit = &fl->pv[i];
	if (!hit) {
		struct fleet_pod *nv = realloc(fl->pv, (fl->np + 1) * sizeof(*nv));

		if (!nv)
			return;
		fl->pv = nv;
		hit = &fl->pv[fl->np++];
		memset(hit, 0, sizeof(*hit));
		memcpy(hit->p.ns, p->ns, sizeof(p->ns));
		memcpy(hit->p.pod, p->pod, sizeof(p->pod));
		memcpy(hit->p.uid, p->uid, sizeof(p->uid));
	}
	hit->p.procs += p->procs;
	agg__merge(&hit->p.s, &p->s);
	for (size_t i = 0; i < hit->nhosts && i < FLEET_HOSTS_PER_POD; i++)
		if (!strcmp(hit->hosts[i], host))
			return;
	if (hit->nhosts < FLEET_HOSTS_PER_POD)
		snprintf(hit->hosts[hit->nhosts], sizeof(hit->hosts[0]), "%s", host);
	hit->nhosts++;
}

/* One trace's processes and pods into the fleet's totals. */
static void fleet_add(struct fleet *fl, const char *host, struct agg *a,
		      const struct container_src *ctrs, const struct tracefile_info *info)
{
	struct fleet_host *h = NULL;
	struct proc_stats total = {}, **v;
	struct pod_stats *pods;
	size_t n, np;

	fl->traces++;
	for (size_t i = 0; i < fl->nh && !h; i++)
		if (!strcmp(fl->hv[i].host, host))
			h = &fl->hv[i];
	if (!h) {
		struct fleet_host *nv = realloc(fl->hv, (fl->nh + 1) * sizeof(*nv));

		if (!nv)
			return;
		fl->hv = nv;
		h = &fl->hv[fl->nh++];
		memset(h, 0, sizeof(*h));
		snprintf(h->host, sizeof(h->host), "%s", host);
	}
	h->traces++;
	h->records += info->records;
	if (info->has_trailer) {
		for (int i = 0; i < PL_TRAILER_DROPS; i++)
			h->lost += info->trailer.drops[i];
		if (info->trailer.recursion_misses != PL_NOT_COUNTED)
			h->lost += info->trailer.recursion_misses;
		h->untracked += info->trailer.untracked;
	}
	agg__total(a, &total);
	agg__merge(&h->s, &total);
	v = agg__sorted(a, &n);
	if (!v)
		return;
	pods = out__pods(ctrs, v, n, &np);
	for (size_t i = 0; i < np; i++)
		fleet_add_pod(fl, &pods[i], host);
	free(pods);
	free(v);
}

static int by_fleet_pod(const void *x, const void *y)
{
	const struct fleet_pod *a = x, *b = y;
	__u64 ta = a->p.s.allocs + a->p.s.failures, tb = b->p.s.allocs + b->p.s.failures;

	if (ta != tb)
		return ta < tb ? 1 : -1;
	return strcmp(a->p.pod, b->p.pod);
}

static void fleet_print(struct fleet *fl, FILE *f, bool json)
{
	struct lbuf lb = {};
	char host[64];

	qsort(fl->pv, fl->np, sizeof(*fl->pv), by_fleet_pod);
	if (!json)
		fprintf(f, "\n=== fleet: %zu trace%s from %zu host%s ===\n  %-32s %6s %9s %8s %9s "
			   "%6s %8s\n", fl->traces, fl->traces == 1 ? "" : "s", fl->nh,
			fl->nh == 1 ? "" : "s", "HOST", "TRACES",
			"ALLOCS", "FAILURES", "TIME_WAIT", "HELD", "LOST");
	for (size_t i = 0; i < fl->nh; i++) {
		const struct fleet_host *h = &fl->hv[i];
		struct jw w;

		if (!json) {
			/* a host name from a file: nothing raw to the terminal */
			fprintf(f, "  %-32s %6zu %9llu %8llu %9llu %6lld %8llu\n",
				safe_str(h->host, host, sizeof(host)), h->traces,
				(unsigned long long)h->s.allocs, (unsigned long long)h->s.failures,
				(unsigned long long)h->s.tw_entered, (long long)h->s.held,
				(unsigned long long)h->lost);
			continue;
		}
		jw_begin(&w, &lb);
		jw_obj(&w);
		jw_kstr(&w, "event", "host_summary");
		jw_kstrn(&w, "host", h->host, sizeof(h->host));
		jw_ku64(&w, "traces", h->traces);
		jw_ku64(&w, "records", h->records);
		out__json_counts(&w, &h->s);
		jw_ku64(&w, "lost", h->lost);
		jw_ku64(&w, "untracked", h->untracked);
		jw_line(&w, f);
	}
	if (fl->np && !json)
		fprintf(f, "\n  %-40s %5s %9s %8s %9s %6s  %s\n", "NAMESPACE/POD (ALL HOSTS)", "PROCS",
			"ALLOCS", "FAILURES", "TIME_WAIT", "HELD", "HOSTS");
	for (size_t i = 0; i < fl->np; i++) {
		const struct fleet_pod *p = &fl->pv[i];
		char name[CONTAINER_LABEL_MAX + CONTAINER_SUBDOMAIN_MAX + 8];
		struct jw w;

		if (!json) {
			/* validated names (container.h): printable as they are */
			if (p->p.pod[0])
				snprintf(name, sizeof(name), "%s/%s", p->p.ns, p->p.pod);
			else
				snprintf(name, sizeof(name), "pod uid %s", p->p.uid);
			fprintf(f, "  %-40s %5zu %9llu %8llu %9llu %6lld  ", name, p->p.procs,
				(unsigned long long)p->p.s.allocs, (unsigned long long)p->p.s.failures,
				(unsigned long long)p->p.s.tw_entered, (long long)p->p.s.held);
			for (size_t k = 0; k < p->nhosts && k < FLEET_HOSTS_PER_POD; k++)
				fprintf(f, "%s%s", k ? " " : "",
					safe_str(p->hosts[k], host, sizeof(host)));
			if (p->nhosts > FLEET_HOSTS_PER_POD)
				fprintf(f, " and %zu more", p->nhosts - FLEET_HOSTS_PER_POD);
			fprintf(f, "\n");
			continue;
		}
		jw_begin(&w, &lb);
		jw_obj(&w);
		jw_kstr(&w, "event", "fleet_pod_summary");
		if (p->p.ns[0])
			jw_kstr(&w, "namespace", p->p.ns);
		else
			jw_knull(&w, "namespace");
		if (p->p.pod[0])
			jw_kstr(&w, "pod", p->p.pod);
		else
			jw_knull(&w, "pod");
		jw_kstr(&w, "pod_uid", p->p.uid);
		jw_key(&w, "hosts");
		jw_arr(&w);
		for (size_t k = 0; k < p->nhosts && k < FLEET_HOSTS_PER_POD; k++)
			jw_strn(&w, p->hosts[k], sizeof(p->hosts[k]));
		jw_end(&w);
		jw_ku64(&w, "hosts_total", p->nhosts);
		jw_ku64(&w, "processes", p->p.procs);
		out__json_counts(&w, &p->p.s);
		jw_line(&w, f);
	}
	lbuf_free(&lb);
}

static void fleet_free(struct fleet *fl)
{
	free(fl->hv);
	free(fl->pv);
}

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

/*
 * Bytes of paths and entries kept: an entry costs its slots in the table
 * (kept at most half full) and its allocation, whatever its path's length,
 * so a trace of empty paths cannot make the table grow with the file.
 */
#define CG_TABLE_BYTES (32UL << 20)
#define CG_ENTRY_COST (2 * sizeof(struct cg_path) + 32)

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

	if (!id || t->bytes + len + CG_ENTRY_COST > CG_TABLE_BYTES)
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
	t->bytes += len + CG_ENTRY_COST;
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

/*
 * Records kept: bounded, a trace is anybody's. 390 bytes each in a table at
 * most half full: 51 MB at most; a host's pods are thousands.
 */
#define CG_NAMES_MAX (1UL << 16)
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
	char *host;		/* the header's host name, NUL-terminated */
	struct nat_view *nat;
	struct alerts *alerts;		/* NULL: the rules are off */
	__u64 tw_reconciled, gone_reconciled;	/* the totals the rounds counted live */
	/*
	 * The wall clock's steps the recorder saw: records from step_ts on take
	 * off_now, those before it (a few are written after, from the ring
	 * buffer) off_before. One step back is enough: the recorder looks once
	 * a second.
	 */
	bool stepped;
	__u64 step_ts, off_before, off_now;
};

/* The wall-clock offset of a record made at ts (CLOCK_MONOTONIC). */
static __u64 wall_off_at(const struct report *r, __u64 ts)
{
	if (!r->stepped)
		return r->info->hdr.wall_off_ns;
	return ts >= r->step_ts ? r->off_now : r->off_before;
}

/* The header's host name, for every line: known before any record is read. */
static void take_host(struct report *r)
{
	if (!r->host[0])
		snprintf(r->host, sizeof(r->info->hdr.hostname), "%.*s",
			 (int)sizeof(r->info->hdr.hostname) - 1, r->info->hdr.hostname);
}

static void on_clock(void *ctx, const struct pl_clock_rec *c)
{
	struct report *r = ctx;

	take_host(r);
	r->off_before = wall_off_at(r, c->ts_ns);
	r->off_now = c->wall_off_ns;
	r->step_ts = c->ts_ns;
	r->stepped = true;
}

/*
 * The rounds' reconciliations are in the recorded events themselves (their
 * marks), so the totals of a report say what the live run's said.
 */
static void count_reconciled(void *ctx, const struct pl_event *e, const struct lease_result *lr)
{
	struct report *r = ctx;

	if (lr->what == LW_TW_ENTER && (e->kind & PL_TW_RECONCILED))
		r->tw_reconciled++;
	else if (lr->what == LW_END && e->type == PL_EV_RELEASE &&
		 (e->sflags & PL_RELF_RECONCILED))
		r->gone_reconciled++;
}

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

	/* portlife report T | head: no one reads the rest, a normal stop (out_finish()) */
	if (__builtin_expect(ferror(stdout), 0) && stdout_reader_gone())
		exit(0);
	/* every line's wall-clock time: the header's offset, or a later step's */
	__u64 off = wall_off_at(r, e->ts_ns);

	r->out.wall_off = r->x.wall_off = off;
	take_host(r);
	if (r->alerts)
		alerts__set_wall_off(r->alerts, off);
	pipeline__event(&r->pipe, e);
}

static void on_nat(void *ctx, const struct pl_nat_rec *n)
{
	struct report *r = ctx;

	take_host(r);
	r->out.wall_off = r->x.wall_off = wall_off_at(r, n->ts_ns);
	pipeline__nat(&r->pipe, n);
}

static void summary(struct report *r, FILE *out, const char *name)
{
	const struct tracefile_info *info = r->info;
	char host[64], rel[64], mode[16], filt[128];
	struct run_info ri = {};
	struct proc_stats tot;
	__u64 end;

	ri.mode = info->hdr.mode;
	ri.precision = info->hdr.precision;
	if (info->has_trailer) {
		trailer_get_drops(&info->trailer, info->hdr.version, ri.drops);
		ri.recursion_misses = info->trailer.recursion_misses;
		ri.untracked = info->trailer.untracked;
	}
	/*
	 * To the trailer's end, or the last record's time: a recorder killed
	 * before its first record left neither (0), a crafted header may start
	 * after both. Not a wrapped difference: 0.
	 */
	end = info->has_trailer ? info->trailer.end_ns : r->pipe.last_ts;
	ri.elapsed_ns = end > info->hdr.start_ns ? end - info->hdr.start_ns : 0;
	ri.leases = lease_table__stats(r->leases);
	agg__total(r->agg, &tot);	/* one merge of every process for both */
	ri.tw_overflow = tot.end_reason[PL_END_TW_OVERFLOW];
	ri.tw_unseen = tot.end_reason[PL_END_TW_UNSEEN];
	ri.tw_reconciled = r->tw_reconciled;
	ri.gone_reconciled = r->gone_reconciled;
	ri.procs_overflowed = agg__overflowed(r->agg);
	ri.procs_folded = agg__retired(r->agg);
	ri.snaps_unknown = true;
	if (nat_view__any(r->nat)) {
		/* the NAT watcher's losses are in the trailer's last drop slot */
		ri.nat_watched = true;
		ri.nat_lost = info->has_trailer ? info->trailer.drops[PL_TRAILER_NAT_LOST] : 0;
		ri.nat_unattributed = nat_view__unattributed(r->nat);
		ri.nat_count_only = nat_view__count_only(r->nat);
		ri.nat_drop_hook = true;
		ri.nat_range = "as each record says";
	}
	ri.alerts = r->alerts;
	/* what the recording tracer could see: format 6 says; older traces have no signals */
	if (r->alerts)
		alerts__set_sees(r->alerts, info->hdr.flags, info->hdr.version >= 6);
	/* strings from a file, maybe from a hostile host: nothing raw to the terminal */
	if (!r->o->json)
		fprintf(out, "trace %s: host %s, kernel %s, mode %s, %llu records%s%s\n", name,
			safe_str(info->hdr.hostname, host, sizeof(host)),
			safe_str(info->hdr.release, rel, sizeof(rel)),
			safe_str(info->hdr.mode, mode, sizeof(mode)),
			(unsigned long long)info->records, info->hdr.filters[0] ? ", filters: " : "",
			safe_str(info->hdr.filters, filt, sizeof(filt)));
	out__summary(&r->out, r->agg, &ri);
	if (nat_view__any(r->nat)) {
		size_t n;
		struct nat_dest *v = nat_view__sorted(r->nat, &n);

		if (v) {
			if (!r->o->json)
				fprintf(out, "\n");
			nat_print(out, v, n, r->o->json, 5);
		}
		free(v);
	}
}

int report__run(FILE *f, const struct report_opts *o, FILE *out, const char *name,
		struct tracefile_info *info)
{
	struct report r = { .o = o, .info = info };
	char host[sizeof(info->hdr.hostname)];
	int err = -ENOMEM;

	memset(info, 0, sizeof(*info));
	r.leases = lease_table__new(o->max_leases ? o->max_leases : 1UL << 20);
	r.agg = agg__new(o->max_procs ? o->max_procs : AGG_MAX_PROCS);
	r.nat = nat_view__new(65536);
	if (!r.leases || !r.agg || !r.nat) {
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
	r.out.ctrs = r.pipe.ctrs = r.x.ctrs =
		(struct container_src){ .get = ctr_find, .ctx = &r.ctrs };
	/* the header is read before the first line is written; escaped where written */
	host[0] = '\0';
	r.out.host = host;
	pipeline__add_sink(&r.pipe, out__event, &r.out);
	pipeline__add_sink(&r.pipe, count_reconciled, &r);
	r.pipe.nat = r.nat;
	pipeline__add_nat_sink(&r.pipe, out__nat, &r.out);
	if (alert_cfg_any(&o->alerts)) {
		/* alert lines among the event lines (jsonl), as live --json prints them */
		r.alerts = alerts__new(&o->alerts, out, r.out.json, o->fmt == REPORT_JSONL);
		if (!r.alerts) {
			snprintf(info->error, sizeof(info->error), "out of memory for the security "
				 "rules: run with --no-alerts");
			goto out;
		}
		pipeline__add_sink(&r.pipe, alerts__sink, r.alerts);
		alerts__set_host(r.alerts, host);
	}
	export__init(&r.x, out, 0);
	r.x.host = host;	/* after the init, which clears it: CSV rows name their host */
	if (o->fmt == REPORT_CSV) {
		if (!o->fleet || !o->fleet->started++)
			export__csv_header(&r.x);
		pipeline__add_sink(&r.pipe, export__csv_sink, &r.x);
		pipeline__add_nat_sink(&r.pipe, export__csv_nat, &r.x);
	}
	if (o->fmt == REPORT_CHROME) {
		export__chrome_begin(&r.x);
		pipeline__add_sink(&r.pipe, export__chrome_sink, &r.x);
	}
	r.host = host;
	err = tracefile_read_clock(f, o->salvage, on_record, on_cgroup, on_nat, on_clock, &r, info);
	take_host(&r);	/* a trace of no record at all still names its host */
	if (o->fmt == REPORT_CHROME) {
		/* leases still open at the end of the trace */
		if (!err)
			export__chrome_end(&r.x, r.leases, r.pipe.last_ts);
		else
			fprintf(out, "]}\n");
	} else if (!err && (o->fmt == REPORT_TEXT || o->json)) {
		summary(&r, out, name);
	}
	if (!err && o->fleet)
		fleet_add(o->fleet, host, r.agg, &r.out.ctrs, info);
out:
	pipeline__free(&r.pipe);
	export__free(&r.x);
	out__free(&r.out);
	cg_free(&r.cgroups);
	ctr_free(&r.ctrs);
	alerts__free(r.alerts);
	agg__free(r.agg);
	nat_view__free(r.nat);
	lease_table__free(r.leases);
	return err;
}

enum { OPT_JSON = 0x100, OPT_FORMAT, OPT_SALVAGE, OPT_ALERT, OPT_NO_ALERTS };

static const struct argp_option opts[] = {
	{ "json", OPT_JSON, NULL, 0, "The summary as JSON lines, as portlife --json prints it", 0 },
	{ "format", OPT_FORMAT, "FMT", 0,
	  "text (the summary, default), jsonl (every event), csv (every event and NAT record, "
	  "with a header row), chrome (a Chrome/Perfetto trace: one track per process; no NAT)",
	  0 },
	OPTS_FILTER("Only leases of this process (tgid)"),
	{ "salvage", OPT_SALVAGE, NULL, 0, "Read what is valid in a damaged trace, skip the rest", 0 },
	OPTS_ALERTS(OPT_ALERT, OPT_NO_ALERTS),
	{},
};

static const char doc[] =
"portlife report FILE...: the per-process summary of a trace recorded with\n"
"`portlife record`, with the same numbers live tracing printed (the security\n"
"rules' alerts too, from the events' own times), or every event exported for\n"
"other tools.\n"
"\n"
"With several traces (a fleet's recordings), each is reported as it would be\n"
"alone, every JSON line and CSV row naming its host, then the totals per host\n"
"and per pod across all of them.\n"
"\n"
"USAGE: portlife report FILE... [OPTIONS]\n"
"\n"
"EXAMPLES:\n"
"    portlife report ports.trace\n"
"    portlife report ports.trace --format csv > events.csv\n"
"    portlife report ports.trace --format chrome > ports.json  # Perfetto\n"
"    portlife report damaged.trace --salvage\n"
"    portlife report node-*.trace --namespace shop   # one question of a fleet\n"
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
	case OPT_ALERT:
		if (alert_cfg_parse(&rep.o.alerts, arg))
			return -EINVAL;
		rep.alert_set = true;
		break;
	case OPT_NO_ALERTS:
		rep.no_alerts = true;
		break;
	case ARGP_KEY_ARG:
		if (rep.npaths == REPORT_MAX_FILES) {
			fprintf(stderr, "portlife: at most %d trace files at once: merge fewer, or "
					"report them in batches\n", REPORT_MAX_FILES);
			return -EINVAL;
		}
		rep.paths[rep.npaths++] = arg;
		break;
	case ARGP_KEY_END:
		if (!rep.npaths) {
			fprintf(stderr, "portlife: report needs a trace file: portlife report FILE...\n");
			return -EINVAL;
		}
		if (rep.o.json && (rep.o.fmt == REPORT_CSV || rep.o.fmt == REPORT_CHROME)) {
			fprintf(stderr, "portlife: --json goes with the text report (its JSON "
					"form) or --format jsonl; --format %s is a format of its "
					"own: leave --json out\n",
				rep.o.fmt == REPORT_CSV ? "csv" : "chrome");
			return -EINVAL;
		}
		if (rep.npaths > 1 && rep.o.fmt == REPORT_CHROME) {
			fprintf(stderr, "portlife: --format chrome takes one trace (its tracks are one "
					"host's processes): export each trace alone\n");
			return -EINVAL;
		}
		if (rep.alert_set && rep.no_alerts) {
			fprintf(stderr, "portlife: --alert and --no-alerts together: --no-alerts "
					"turns every rule off; use --alert RULE=off for one\n");
			return -EINVAL;
		}
		if (rep.no_alerts)
			alert_cfg_off(&rep.o.alerts);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)state;
	return 0;
}

/*
 * Is fd's trace a recording already reported (the same file twice, or a
 * copy of it: `report a.trace backup-of-a.trace`)? Its events would count
 * twice in the fleet's totals: it is said on stderr and left out. A file
 * too short or damaged for its header is left to the reader to judge.
 */
static bool seen_before(int fd, const char *path)
{
	struct pl_file_hdr h;
	struct trace_id id = {};

	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, PL_FILE_MAGIC, sizeof(PL_FILE_MAGIC)))
		return false;
	memcpy(id.host, h.hostname, sizeof(id.host));
	id.wall_off_ns = h.wall_off_ns;
	id.start_ns = h.start_ns;
	for (size_t i = 0; i < rep.nseen; i++) {
		const struct trace_id *o = &rep.seen[i];

		if (o->wall_off_ns == id.wall_off_ns && o->start_ns == id.start_ns &&
		    !memcmp(o->host, id.host, sizeof(id.host))) {
			fprintf(stderr, "portlife: %s is the same recording as %s: counted once\n",
				path, o->path ? o->path : "an earlier file");
			return true;
		}
	}
	if (rep.nseen < REPORT_MAX_FILES) {
		id.path = strdup(path);
		rep.seen[rep.nseen++] = id;
	}
	return false;
}

/* One trace of the command line: 0, or 1 after saying why it could not be read. */
static int report_one(const char *raw)
{
	struct tracefile_info info;
	char path[PATH_MAX];
	int err, fd;
	FILE *f;

	/*
	 * The name as every message shows it: a fleet's files are named by
	 * whoever collected them (node-*.trace), and a terminal escape in one
	 * must not reach the screen. The file itself is opened by its name.
	 */
	safe_str(raw, path, sizeof(path));
	/*
	 * O_NONBLOCK: a FIFO must not hang us until a writer comes; the reader
	 * refuses anything but a regular file, on which the flag does nothing.
	 */
	fd = open(raw, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		fprintf(stderr, "portlife: cannot open %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (seen_before(fd, path)) {
		fclose(f);
		return 0;
	}
	err = report__run(f, &rep.o, stdout, path, &info);
	fclose(f);
	if (err) {
		fprintf(stderr, "portlife: %s: %s\n", path, info.error);
		return 1;
	}
	if (info.error[0])
		fprintf(stderr, "portlife: %s: salvaged %llu records around %llu damaged "
				"place%s (%llu bytes skipped); first: %s\n",
			path, (unsigned long long)info.records,
			(unsigned long long)info.damaged, info.damaged == 1 ? "" : "s",
			(unsigned long long)info.skipped_bytes, info.error);
	if (!info.has_trailer)
		fprintf(stderr, "portlife: %s has no trailer: the recorder was stopped hard; "
				"drop counts are unknown\n", path);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	struct fleet fl = {};
	int failed = 0;

	memset(&rep, 0, sizeof(rep));
	/* the same rules and thresholds as live tracing: the same alerts */
	alert_cfg_default(&rep.o.alerts);
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (rep.npaths > 1)
		rep.o.fleet = &fl;
	for (size_t i = 0; i < rep.npaths; i++)
		failed += report_one(rep.paths[i]);
	if (rep.npaths > 1 && (rep.o.fmt == REPORT_TEXT || rep.o.json))
		fleet_print(&fl, stdout, rep.o.json);
	fleet_free(&fl);
	for (size_t i = 0; i < rep.nseen; i++)
		free(rep.seen[i].path);
	if (out_finish("report"))
		return 1;
	if (failed && rep.npaths > 1)
		fprintf(stderr, "portlife: %d of %zu traces could not be read (see above); the "
				"fleet totals leave them out\n", failed, rep.npaths);
	return failed ? 1 : 0;
}
