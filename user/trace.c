// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The tracer: setup (BPF programs, outputs, the pipeline), the loop (the
 * ring buffer, then whichever periodic jobs are due), and the finish (the
 * last events, the summary, the trace file's trailer).
 *
 * Data path: BPF programs -> ring buffer -> on_ring() -> pipeline.c, which
 * records, tracks leases, aggregates and hands each event to the sinks set
 * up here: output.c (lines), diag.c (findings), failures.c (for `who`).
 * TIME_WAIT snapshots (twsnap.c) feed the same pipeline.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "portlife.skel.h"
#include "agg.h"
#include "container.h"
#include "alerts.h"
#include "cgpath.h"
#include "diag.h"
#include "env.h"
#include "failures.h"
#include "json.h"
#include "lease.h"
#include "loader.h"
#include "metrics.h"
#include "nat.h"
#include "opts.h"
#include "output.h"
#include "pipeline.h"
#include "top.h"
#include "trace.h"
#include "tracefile.h"
#include "twsnap.h"
#include "util.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	/* A second Ctrl-C means now. */
	if (exiting)
		_exit(128 + sig);
	exiting = 1;
}

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return verbose ? vfprintf(stderr, fmt, args) : 0;
}

struct tracer;

/* A job of the loop, run when its time has come; it sets its next time itself. */
struct tick {
	const char *name;
	void (*run)(struct tracer *tr, __u64 now);
	__u64 next;		/* CLOCK_MONOTONIC ns; 0: off */
};

enum { TICK_SNAPSHOT, TICK_LOSSES, TICK_VIEWS, TICK_FAILURES, TICK_WARN, TICK_SUMMARY, TICK_NAT,
       TICK_CLOCK, NTICKS };

/*
 * The metrics' headroom gauges come from a snapshot of every namespace's
 * sockets: a walk of the kernel's whole TCP hash per namespace (bpf_iter
 * tcp), the same cost for each namespace however few sockets it has. Taken
 * this often for the metrics; top, which a person watches, every second.
 */
#define VIEWS_SNAP_NS (5 * SEC)

struct tracer {
	const struct env *env;
	struct tracer_bpf bpf;
	struct iters_bpf iters;
	bool have_iters;
	/* the last periodic snapshot's headroom (VIEWS_SNAP_NS), for the metrics */
	struct dest *vdv;
	struct bind_room *vbv;
	size_t vnd, vnb;
	__u64 vsnap_ts;
	struct ring_buffer *rb;
	struct lease_table *leases;
	struct agg *agg;
	struct pipeline pipe;
	struct out out;
	struct diag diag;
	struct failures fails;
	struct alerts *alerts;		/* the security rules; NULL with --no-alerts */
	struct twsnap *tw;
	struct top *top;		/* `portlife top` */
	struct container_cache *ctrs;	/* cgroup ids to containers and pods */
	char pods_dir[PATH_MAX], logs_dir[PATH_MAX];
	char host[64];			/* on every JSON line, as a trace's header has it */
	struct metrics_http *http;	/* --metrics-addr */
	struct nat_watch *nat;		/* conntrack; NULL with --no-nat */
	struct nat_view *natv;		/* NAT headroom */
	int metrics_err;		/* last --metrics-file error, said once */
	bool metrics_started;		/* the first --metrics-file write worked */
	bool out_said;			/* a failed write of the output was said */
	bool rec_said;			/* ... and of the recording */
	int cg_filter_fd;
	int ncpus;
	double snap_interval;		/* seconds between TIME_WAIT snapshots now */
	double start_wall;
	__u64 start;
	__u64 end;		/* the final summary's instant: its trailer's too (0 before) */
	__u64 out_since;		/* mono ns since output waits unwritten; 0: none */
	__u64 last_drops, last_miss, last_untracked;	/* for the per-second loss lines */
	__u64 last_over_rate;		/* probes over the kernel's rate, put in the stream */
	struct tick ticks[NTICKS];
};

/* ---- events in ---------------------------------------------------------- */

/* The recording failed with err: keep what is on disk; stop, loudly (once). */
static void record_failed(struct tracer *tr, int err)
{
	if (!err || tr->rec_said)
		return;
	tr->rec_said = true;
	fprintf(stderr, "portlife: writing %s failed after %llu records: %s; everything before "
			"is kept; free space and record again\n", tr->env->record,
		(unsigned long long)tracefile_written(tr->pipe.rec), strerror(-err));
	exiting = 1;
}

static void pipe_event(void *ctx, const struct pl_event *e)
{
	struct tracer *tr = ctx;

	record_failed(tr, pipeline__event(&tr->pipe, e));
}

/*
 * For the tests only: PORTLIFE_TEST_SKIP_CLOSE_RPORT=PORT makes the tracer
 * ignore the state changes out of FIN_WAIT1, FIN_WAIT2 and LAST_ACK of
 * connections to PORT, as the kernel itself sometimes does: it may run none
 * of portlife's programs for a connection's last state changes (seen on the
 * CI host: a softirq on top of one agent thread) and count no recursion
 * miss. In tracepoint mode the same program run also makes the RELEASE of a
 * close without TIME_WAIT: that goes too (the exact modes' comes from the
 * port's own hook). The live tests tw_reconcile and gone_reconcile check
 * that the TIME_WAIT rounds still find such a lease in TIME_WAIT, or gone.
 * Set, the ring buffer is read by on_ring_test() instead of on_ring(): a
 * run without it pays nothing per event. In tracepoint mode the state
 * program itself skips the changes out of FIN_WAIT1 and FIN_WAIT2 too
 * (loader_opts.test_skip_rport), as the kernel's recursion misses do: the
 * lease's later hooks then see a close they never saw happen.
 */
static int skip_close_rport;
static bool skip_close_release;
static __u64 skipped_close;	/* the lease whose close was dropped last */

static int test_skip_rport(void)
{
	const char *v = getenv("PORTLIFE_TEST_SKIP_CLOSE_RPORT");
	long p = v ? strtol(v, NULL, 10) : 0;

	return p > 0 && p < 65536 ? (int)p : 0;
}

static int on_ring(void *ctx, void *data, size_t len)
{
	static bool told;
	struct pl_event e;

	if (len < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	/*
	 * Never seen since the programs keep to TCP and UDP (traced_proto()):
	 * an event no reader would take is not recorded, nor counted as news.
	 */
	if (!tracefile_event_sane(&e)) {
		if (!told)
			fprintf(stderr, "portlife: ignored a kernel event of protocol %u, family %u, "
					"type %u (a portlife bug: please report it)\n",
				e.proto, e.family, e.type);
		told = true;
		return 0;
	}
	pipe_event(ctx, &e);
	return 0;
}

static int on_ring_test(void *ctx, void *data, size_t len)
{
	const struct pl_event *e = data;

	if (len < sizeof(*e) || e->rport != skip_close_rport)
		return on_ring(ctx, data, len);
	if (e->type == PL_EV_STATE && (e->old_state == PL_TCP_FIN_WAIT1 ||
				       e->old_state == PL_TCP_FIN_WAIT2 ||
				       e->old_state == PL_TCP_LAST_ACK)) {
		if (e->new_state == PL_TCP_CLOSE)
			skipped_close = e->lease;
		return 0;
	}
	if (e->type == PL_EV_RELEASE && skip_close_release && e->lease == skipped_close)
		return 0;
	return on_ring(ctx, data, len);
}

/* The NAT watcher's records go down the same pipeline as events. */
static void pipe_nat(void *ctx, const struct pl_nat_rec *n)
{
	struct tracer *tr = ctx;

	record_failed(tr, pipeline__nat(&tr->pipe, n));
}

/* A sink: TIME_WAIT snapshots must know how to enter each allocating namespace. */
static void note_netns(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct tracer *tr = ctx;

	if (e->type == PL_EV_ALLOC && !e->err)
		twsnap__note_netns(tr->tw, e->netns, e->pid);
}

/* ---- what the kernel says it lost -------------------------------------- */

static void read_drops(struct tracer *tr, __u64 out[PL_EV_MAX])
{
	__u64 vals[tr->ncpus];

	for (__u32 k = 0; k < PL_EV_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(tr->bpf.skel->maps.drops), &k, vals))
			continue;
		for (int c = 0; c < tr->ncpus; c++)
			out[k] += vals[c];
	}
}

/* PL_NOT_COUNTED where bpf_prog_info has no recursion_misses (before 5.12) */
static __u64 read_recursion_misses(struct tracer *tr)
{
	struct bpf_program *prog;
	__u64 sum = 0;

	if (!tr->bpf.recursion_counted)
		return PL_NOT_COUNTED;
	bpf_object__for_each_program(prog, tr->bpf.skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

static void fill_run_info(struct tracer *tr, struct run_info *ri)
{
	const struct twsnap_stats *ts = tr->tw ? twsnap__stats(tr->tw) : NULL;

	memset(ri, 0, sizeof(*ri));
	ri->mode = mode_name(tr->bpf.mode);
	ri->precision = tr->bpf.precision;
	read_drops(tr, ri->drops);
	ri->recursion_misses = read_recursion_misses(tr);
	ri->untracked = __atomic_load_n(&tr->bpf.skel->bss->untracked, __ATOMIC_RELAXED);
	if (ts) {
		ri->tw_unseen = ts->tw_unseen;
		ri->tw_reconciled = ts->tw_reconciled;
		ri->gone_reconciled = ts->gone_reconciled;
		ri->snapshots = ts->snapshots;
		ri->snap_lookups = ts->lookup_rounds;
		ri->snap_listings = ts->iter_rounds;
		ri->netns_lost = ts->netns_lost;
		ri->snap_mean_ns = ts->snapshots ? ts->total_ns / ts->snapshots : 0;
		ri->snap_max_ns = ts->max_ns;
		ri->snap_interval = tr->snap_interval;
		ri->snap_interval_set = tr->env->tw_interval;
	}
	ri->tw_overflow = agg__ended_by(tr->agg, PL_END_TW_OVERFLOW);
	ri->elapsed_ns = (tr->end ? tr->end : mono_ns()) - tr->start;
	ri->leases = lease_table__stats(tr->leases);
	ri->procs_overflowed = agg__overflowed(tr->agg);
	ri->procs_folded = agg__retired(tr->agg);
	if (tr->nat) {
		const struct nat_stats *ns = nat_watch__stats(tr->nat);

		ri->nat_watched = ns->nnetns > 0;
		ri->nat_lost = ns->lost;
		ri->nat_unattributed = nat_view__unattributed(tr->natv);
		ri->nat_count_only = nat_view__count_only(tr->natv);
		ri->nat_drop_hook = ns->drop_hook;
		ri->nat_range = ns->range_src;
	}
	ri->alerts = tr->alerts;
}

/*
 * Probes of closed ports the kernel counted over its rate limit and did not
 * record go into the event stream, as a SIGNAL of user space's own: the
 * rules, a recording and `report` all count them as live tracing did.
 */
static void note_unrecorded(struct tracer *tr)
{
	__u64 n = __atomic_load_n(&tr->bpf.skel->bss->probes_over_rate, __ATOMIC_RELAXED), d;
	struct pl_event e = { .type = PL_EV_SIGNAL, .kind = PL_SIG_UNRECORDED,
			      .family = AF_INET, .proto = IPPROTO_TCP };

	if (n <= tr->last_over_rate)
		return;
	d = n - tr->last_over_rate;
	e.aux = d > UINT32_MAX ? UINT32_MAX : d;
	e.ts_ns = mono_ns();
	/* with -6 the probes were IPv6 ones: the count must pass the same filter */
	if (tr->env->filt.family)
		e.family = tr->env->filt.family;
	tr->last_over_rate += e.aux;
	pipe_event(tr, &e);
}

/* ---- ticks --------------------------------------------------------------- */

/*
 * The next gap between TIME_WAIT snapshots: --tw-interval, stretched so that
 * snapshots never take more than SNAP_DUTY of one CPU. A snapshot looks up
 * every waiting lease (or walks every TCP socket of its namespace); with tens
 * of thousands of TIME_WAIT sockets a round can take tens of milliseconds,
 * and a fixed 0.1 s interval would then be a tracer eating the host it is
 * watching. The cost: TIME_WAIT exits are
 * timed to within the stretched interval, which the summary shows.
 */
#define SNAP_DUTY 0.05
#define SEC 1000000000ULL

static void tick_snapshot(struct tracer *tr, __u64 now)
{
	double floor_s;

	/* the leases of connects made until now first: a reused TIME_WAIT tuple is told by them */
	ring_buffer__consume(tr->rb);
	twsnap__run(tr->tw, false, pipe_event, tr);
	/* early RELEASEs whose ALLOC never came */
	lease_table__age(tr->leases, now - 10 * SEC);
	floor_s = twsnap__stats(tr->tw)->last_ns / 1e9 / SNAP_DUTY;
	tr->snap_interval = floor_s > tr->env->tw_interval ? floor_s : tr->env->tw_interval;
	twsnap__set_interval(tr->tw, (__u64)(tr->snap_interval * 1e9));
	tr->ticks[TICK_SNAPSHOT].next = mono_ns() + (__u64)(tr->snap_interval * 1e9);
}

static void tick_losses(struct tracer *tr, __u64 now)
{
	__u64 d[PL_EV_MAX], total = 0, miss = read_recursion_misses(tr);

	if (miss == PL_NOT_COUNTED)
		miss = 0;	/* said once, in the precision at start */
	__u64 untracked = __atomic_load_n(&tr->bpf.skel->bss->untracked, __ATOMIC_RELAXED);

	tr->ticks[TICK_LOSSES].next = now + SEC;
	read_drops(tr, d);
	for (int i = 1; i < PL_EV_MAX; i++)
		total += d[i];
	/*
	 * On the full screen, the title line shows the losses. Each cause its
	 * own line and remedy: a bigger buffer does nothing for a recursion
	 * miss (the kernel skipped a program already running on that CPU,
	 * under a softirq), and the TIME_WAIT rounds find the closes it hides.
	 */
	if (total > tr->last_drops && (!tr->top || !isatty(STDOUT_FILENO)))
		fprintf(stderr, "portlife: LOST %llu events in the last second: the ring buffer "
				"was full; raise --ringbuf, or print less (-s)\n",
			(unsigned long long)(total - tr->last_drops));
	if (miss > tr->last_miss && (!tr->top || !isatty(STDOUT_FILENO)))
		fprintf(stderr, "portlife: the kernel skipped portlife's programs %llu times in the "
				"last second (recursion misses: a softirq on a CPU already running "
				"one); closes it hid are found by the TIME_WAIT rounds\n",
			(unsigned long long)(miss - tr->last_miss));
	if (untracked > tr->last_untracked && (!tr->top || !isatty(STDOUT_FILENO)))
		fprintf(stderr, "portlife: %llu leases untracked in the last second: the kernel's "
				"lease map is full; raise --max-leases\n",
			(unsigned long long)(untracked - tr->last_untracked));
	tr->last_drops = total;
	tr->last_miss = miss;
	tr->last_untracked = untracked;
	note_unrecorded(tr);
}

/*
 * top and the summary with -p, -c or a container: the destinations its
 * processes use, each still counted whole (the pool is every process's), in
 * dv's order, moved to the front; how many. A socket is theirs if one of
 * their leases holds it (the pipeline keeps no other), or, made before
 * tracing, if its owner has their pid and name. (A dest_pick_fn.)
 */
static size_t top_dests(const void *ctx, const struct snapshot *s, struct dest *dv, size_t nd)
{
	const struct tracer *tr = ctx;
	const struct pipeline_filter *f = &tr->env->filt;
	bool *mine;
	size_t k = 0;

	if (!f->pid && !f->has_comm && container_filter__empty(&f->ctr) && !tr->env->cgroup)
		return nd;
	mine = calloc(nd + 1, sizeof(*mine));
	if (!mine)
		return nd;
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_ent *e = &s->v[i];
		const struct dest *d;
		bool theirs;

		if (e->r.proto != IPPROTO_TCP || !e->r.rport || e->r.state == PL_TCP_LISTEN)
			continue;
		theirs = (e->r.cookie && lease_table__find_cookie(tr->leases, e->r.cookie)) ||
			 (e->pid && (f->pid || f->has_comm) && (!f->pid || e->pid == f->pid) &&
			  (!f->has_comm || !strncmp(e->comm, f->comm, PL_COMM_LEN)));
		if (theirs && (d = headroom_find(dv, nd, e->r.netns, e->r.family, e->r.laddr,
						 e->r.raddr, e->r.rport)))
			mine[d - dv] = true;
	}
	for (size_t i = 0; i < nd; i++)
		if (mine[i]) {
			struct dest t = dv[i];

			memmove(&dv[k + 1], &dv[k], (i - k) * sizeof(*dv));
			dv[k++] = t;
		}
	free(mine);
	return k;
}

/*
 * The once-a-second views: `top` and the metrics. One socket snapshot serves
 * both (the destinations with the least headroom); the metrics alone take
 * one every VIEWS_SNAP_NS, and keep its headroom in between.
 */
static void refresh_views(struct tracer *tr, bool with_top)
{
	struct snapshot_links links = tr->iters.links;
	struct dest *dv = NULL;
	struct bind_room *bv = NULL;
	size_t nd = 0, nb = 0;
	struct snapshot s;
	struct run_info ri;
	bool snap = false, topping = tr->top && with_top;
	__u64 now = mono_ns();

	if (tr->natv)
		nat_view__sample(tr->natv, now);
	if (!topping && !tr->http && !tr->env->metrics_file)
		return;
	fill_run_info(tr, &ri);
	links.no_bound = true;
	if (tr->have_iters && (topping || !tr->vsnap_ts || now - tr->vsnap_ts >= VIEWS_SNAP_NS) &&
	    !snapshot__take(&s, &links, 0)) {
		snap = true;
		diag__owners_from_leases(tr->leases, &s);
		if (headroom(&s, NULL, &dv, &nd, &bv, &nb)) {
			dv = NULL;
			nd = 0;
		}
		free(tr->vdv);
		free(tr->vbv);
		tr->vdv = dv;
		tr->vbv = bv;
		tr->vnd = nd;
		tr->vnb = nb;
		tr->vsnap_ts = now;
	}
	dv = tr->vdv;
	bv = tr->vbv;
	nd = tr->vnd;
	nb = tr->vnb;
	if (tr->top && with_top) {
		/* this round's snapshot only: top_dests() reads its sockets */
		struct dest *tv = snap && nd ? malloc(nd * sizeof(*tv)) : NULL;
		size_t tn = 0;

		if (tv) {
			memcpy(tv, dv, nd * sizeof(*tv));
			tn = top_dests(tr, &s, tv, nd);
		}
		top__set_nat(tr->top, tr->natv);
		top__update(tr->top, tr->agg, tr->leases, tv, tn, &ri, mono_ns());
		free(tv);
	}
	if (tr->http || tr->env->metrics_file) {
		struct metrics_src ms = { .agg = tr->agg, .leases = tr->leases, .ri = &ri,
					  .dv = dv, .nd = nd, .bv = bv, .nb = nb,
					  .top_n = tr->env->metrics_top,
					  .by_pod = tr->env->metrics_by_pod,
					  .ctrs = container_src__cache(tr->ctrs),
					  .nat = tr->natv,
					  .start_time = tr->start_wall,
					  .version = portlife_version };
		const char *path = tr->env->metrics_file;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		int err = f ? metrics_render(f, &ms) : -ENOMEM;

		if (f && fclose(f) && !err)
			err = -ENOMEM;
		if (!err) {
			metrics_http_publish(tr->http, buf, len);
			if (path) {
				err = metrics_write_file(path, buf, len);
				/*
				 * At start a failure stops portlife (metrics_started
				 * false: run() says why); later it is said once per
				 * kind of failure, and when it heals.
				 */
				if (err && err != tr->metrics_err && tr->metrics_started)
					fprintf(stderr, "portlife: writing metrics to %s failed: %s; "
							"retrying every second\n", path, strerror(-err));
				else if (!err && tr->metrics_err)
					fprintf(stderr, "portlife: writing metrics to %s works again\n",
						path);
				tr->metrics_err = err;
			}
		}
		free(buf);
	}
	if (snap)
		snapshot__free(&s);
}

static void tick_views(struct tracer *tr, __u64 now)
{
	tr->ticks[TICK_VIEWS].next = now + SEC;
	refresh_views(tr, true);
}

static void tick_nat(struct tracer *tr, __u64 now)
{
	tr->ticks[TICK_NAT].next = now + SEC;
	nat_watch__tick(tr->nat, now);
}

/*
 * Events carry CLOCK_MONOTONIC; their wall times add an offset to it. A
 * step of the wall clock (NTP's first sync after boot, a VM resumed, a date
 * set by hand) changes that offset: re-read every second, so a run of weeks
 * prints the times the host's logs have. Read twice, the offset moves by the
 * microseconds between the two clock reads: only a step over a millisecond
 * is taken. A recording keeps the offset of its start (its header).
 */
#define CLOCK_STEP_NS 1000000LL

static void tick_clock(struct tracer *tr, __u64 now)
{
	__u64 off = mono_to_wall_offset();
	__s64 step = (__s64)(off - tr->out.wall_off);

	tr->ticks[TICK_CLOCK].next = now + SEC;
	if (step < CLOCK_STEP_NS && step > -CLOCK_STEP_NS)
		return;
	if (tr->env->verbose || step >= 1000000000LL || step <= -1000000000LL)
		fprintf(stderr, "portlife: the wall clock stepped by %+.3f s: times from now on "
				"follow it\n", step / 1e9);
	tr->out.wall_off = off;
	tr->diag.wall_off = off;
	tr->fails.wall_off_ns = off;
	if (tr->alerts)
		alerts__set_wall_off(tr->alerts, off);
	/* a recording says so too: report dates what follows by the new offset */
	if (tr->pipe.rec && !tr->pipe.rec_err)
		record_failed(tr, tr->pipe.rec_err = tracefile_write_clock(tr->pipe.rec, now, off));
}

static void tick_failures(struct tracer *tr, __u64 now)
{
	tr->ticks[TICK_FAILURES].next = now + SEC;
	failures__publish(&tr->fails);
}

static void tick_warn(struct tracer *tr, __u64 now)
{
	tr->ticks[TICK_WARN].next = now + SEC;
	diag__warn(&tr->diag, tr->env->warn_pct);
	if (tr->natv)
		nat_view__warn(tr->natv, tr->env->warn_pct, stdout, tr->env->json, now);
}

static void summary(struct tracer *tr)
{
	struct run_info ri;

	fill_run_info(tr, &ri);
	out__summary(&tr->out, tr->agg, &ri);
	diag__headroom(&tr->diag, top_dests, tr);
	if (tr->natv && nat_view__any(tr->natv)) {
		size_t n;
		struct nat_dest *v = nat_view__sorted(tr->natv, &n);

		if (v) {
			if (!tr->env->json)
				fprintf(stdout, "\n");
			nat_print(stdout, v, n, tr->env->json, 5);
		}
		free(v);
	}
}

static void tick_summary(struct tracer *tr, __u64 now)
{
	tr->ticks[TICK_SUMMARY].next = now + (__u64)(tr->env->interval * 1e9);
	summary(tr);
}

/* ---- setup ----------------------------------------------------------------- */

/* The directory a path names a file in, resolved, and its last component. */
static bool path_split(const char *path, char *dir, size_t dlen, const char **base)
{
	char d[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(d, sizeof(d), ".");
		*base = path;
	} else {
		snprintf(d, sizeof(d), "%.*s", (int)(slash - path) ?: 1, path);
		*base = slash + 1;
	}
	return dlen >= PATH_MAX && realpath(d, dir);
}

/*
 * --metrics-file is replaced at every write (a temporary file renamed over
 * it): a device, a FIFO or a socket there would be replaced by a regular
 * file (/dev/null among them), and a recording of the same run by the
 * metrics. Refused at start: -EINVAL, said.
 */
static int metrics_path_refused(const struct env *env)
{
	char dm[PATH_MAX], dr[PATH_MAX];
	const char *bm, *br;
	struct stat st;

	if (!lstat(env->metrics_file, &st) && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		fprintf(stderr, "portlife: --metrics-file %s is not a regular file (a directory, "
				"device, FIFO or socket), and portlife replaces the file at every "
				"write: give a regular file's path\n", env->metrics_file);
		return -EINVAL;
	}
	if (env->record && path_split(env->metrics_file, dm, sizeof(dm), &bm) &&
	    path_split(env->record, dr, sizeof(dr), &br) && !strcmp(dm, dr) && !strcmp(bm, br)) {
		fprintf(stderr, "portlife: --metrics-file and -o both name %s: the metrics would "
				"replace the recording; give them two files\n", env->record);
		return -EINVAL;
	}
	return 0;
}

static int open_outputs(struct tracer *tr)
{
	const struct env *env = tr->env;
	int err;

	/* before anything is loaded: the file is made after, with the mode in its header */
	if (env->record && !faccessat(AT_FDCWD, env->record, F_OK, AT_SYMLINK_NOFOLLOW)) {
		fprintf(stderr, "portlife: cannot create %s: %s (it exists: portlife never "
				"overwrites a trace)\n", env->record, strerror(EEXIST));
		return -EEXIST;
	}
	if (env->cgroup) {
		tr->cg_filter_fd = open(env->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tr->cg_filter_fd < 0) {
			fprintf(stderr, "portlife: cannot open cgroup '%s': %s: give a cgroup v2 "
					"directory, e.g. /sys/fs/cgroup/system.slice\n",
				env->cgroup, strerror(errno));
			return -errno;
		}
		/* a v1 hierarchy's directory, or none: the kernel's refusal would say EBADF */
		if (!cgroup2_fd(tr->cg_filter_fd)) {
			char mnt[PATH_MAX];
			bool none = cgroup2_mount(mnt, sizeof(mnt));

			fprintf(stderr, "portlife: --cgroup %s is not a cgroup v2 directory (cgroup "
					"v1's, or no cgroup at all): give one below the cgroup v2 mount%s%s\n",
				env->cgroup, none ? " (none is mounted)" : ", ", none ? "" : mnt);
			return -ENOTDIR;
		}
	}
	if (env->metrics_addr) {
		struct sockaddr_storage ss;
		char why[128];

		metrics_parse_addr(env->metrics_addr, &ss);	/* checked by env_parse */
		tr->http = metrics_http_start(&ss, why, sizeof(why));
		if (!tr->http) {
			fprintf(stderr, "portlife: cannot serve metrics on %s: %s: pick another "
					"--metrics-addr\n", env->metrics_addr, why);
			return -EINVAL;
		}
	}
	if (env->metrics_file && (err = metrics_path_refused(env)))
		return err;
	if (env->metrics_file && (err = metrics_check_file(env->metrics_file))) {
		fprintf(stderr, "portlife: cannot write metrics to %s: %s: give a path in a "
				"writable directory with --metrics-file\n", env->metrics_file,
			strerror(-err));
		return err;
	}
	return 0;
}

/*
 * Containers and pods, from cgroup paths and the kubelet's log directories:
 * every output names them, the container filters match them, and a trace
 * records the pod names (the kubelet's files stay on this host).
 */
static int start_containers(struct tracer *tr)
{
	struct container_opts o = { .pods_dir = tr->pods_dir, .containers_dir = tr->logs_dir };
	const char *dir = tr->env->kubelet_logs;

	if ((size_t)snprintf(tr->pods_dir, sizeof(tr->pods_dir), "%s/pods", dir) >=
	    sizeof(tr->pods_dir) ||
	    (size_t)snprintf(tr->logs_dir, sizeof(tr->logs_dir), "%s/containers", dir) >=
	    sizeof(tr->logs_dir)) {
		fprintf(stderr, "portlife: --kubelet-logs '%s' is too long\n", dir);
		return -ENAMETOOLONG;
	}
	tr->ctrs = container_cache__new(&o);
	if (!tr->ctrs) {
		fprintf(stderr, "portlife: out of memory for the container cache\n");
		return -ENOMEM;
	}
	tr->out.ctrs = tr->pipe.ctrs = container_src__cache(tr->ctrs);
	return 0;
}

static int start_recording(struct tracer *tr)
{
	const struct env *env = tr->env;
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct utsname u;

	h.wall_off_ns = tr->out.wall_off;
	h.start_ns = tr->start;
	gethostname(h.hostname, sizeof(h.hostname) - 1);
	if (!uname(&u))
		snprintf(h.release, sizeof(h.release), "%.63s", u.release);
	snprintf(h.mode, sizeof(h.mode), "%s", mode_name(tr->bpf.mode));
	_Static_assert(sizeof(h.precision) == sizeof(tr->bpf.precision),
		       "the trace header keeps the whole precision line");
	snprintf(h.precision, sizeof(h.precision), "%s", tr->bpf.precision);
	snprintf(h.filters, sizeof(h.filters), "%s", env->filters);
	h.flags = tr->bpf.sees;
	tr->pipe.rec = tracefile_create(env->record, &h);
	if (!tr->pipe.rec) {
		int err = -errno;

		fprintf(stderr, "portlife: cannot create %s: %s%s\n", env->record, strerror(-err),
			err == -EEXIST ? " (it exists: portlife never overwrites a trace)" : "");
		return err;
	}
	return 0;
}

static int setup(struct tracer *tr)
{
	const struct env *env = tr->env;
	struct loader_opts lo = { .mode = env->mode, .pid = env->filt.pid, .family = env->filt.family,
				  .filter_cgroup = env->cgroup != NULL, .cgroup = env->cgroup,
				  .ringbuf_kib = env->ringbuf_kib, .max_leases = env->max_leases,
				  .verbose = env->verbose,
				  .no_syscall_hooks = env->no_syscall_hooks,
				  .test_skip_rport = test_skip_rport(),
				  .signals = env->alerts.on[AR_LISTEN_EPHEMERAL],
				  /* a probe is no process's: -p, -c and --cgroup would drop them all */
				  .probes = env->alerts.on[AR_SCAN_IN] && !env->filt.pid &&
					    !env->filt.has_comm && !env->cgroup };
	int err;

	err = loader__preflight();
	if (err)
		return err;
	if (env->filt.pid && (err = opt_pid_is_process(env->filt.pid)))
		return err;
	err = open_outputs(tr);
	if (err)
		return err;
	tr->start_wall = mono_to_wall_offset() / 1e9 + mono_ns() / 1e9;
	tr->ncpus = libbpf_num_possible_cpus();
	tr->leases = lease_table__new(env->max_leases);
	tr->agg = agg__new(AGG_MAX_PROCS);
	if (tr->ncpus <= 0 || !tr->leases || !tr->agg) {
		fprintf(stderr, "portlife: out of memory for %lu leases: lower --max-leases\n",
			env->max_leases);
		return -ENOMEM;
	}
	tr->out.f = stdout;
	tr->out.json = env->json;
	tr->out.events = !env->summary_only;
	tr->out.wall_off = mono_to_wall_offset();
	/* a fleet's lines meet in one log store: each says where it comes from */
	gethostname(tr->host, sizeof(tr->host) - 1);
	tr->out.host = tr->host;

	err = loader__load_tracer(&tr->bpf, &lo);
	if (err)
		return err;
	/*
	 * Tracing begins here, attached: the events from now on are in the
	 * ring. The elapsed time, the duration (-d) and a recording's header
	 * count from this one instant, so live and report say the same.
	 */
	tr->start = mono_ns();
	if (tr->cg_filter_fd >= 0) {
		__u32 k = 0;

		if (bpf_map_update_elem(bpf_map__fd(tr->bpf.skel->maps.cgroup_map), &k,
					&tr->cg_filter_fd, BPF_ANY)) {
			err = -errno;
			fprintf(stderr, "portlife: cannot filter on cgroup '%s' (%s): is it a "
					"cgroup v2 directory?\n", env->cgroup, strerror(-err));
			return err;
		}
	}
	/* The socket tables, for the diagnosis, --warn, top and the metrics. */
	tr->have_iters = !loader__load_iters(&tr->iters);

	pipeline__init(&tr->pipe, tr->leases, tr->agg);
	/* -p, -4/-6 and --cgroup are filtered in the kernel already; -c only here */
	tr->pipe.filt = env->filt;
	/* no event lines to look each cgroup up (the summary comes when it may be gone) */
	tr->pipe.note_cgroups = env->summary_only || env->top;
	err = start_containers(tr);
	if (err)
		return err;
	if (env->record && (err = start_recording(tr)))
		return err;
	pipeline__add_sink(&tr->pipe, out__event, &tr->out);
	tr->fails.wall_off_ns = tr->out.wall_off;
	tr->fails.verbose = env->verbose;
	pipeline__add_sink(&tr->pipe, failures__sink, &tr->fails);
	/* What already holds ports, so a conflict with an old holder is attributed. */
	diag__init(&tr->diag, tr->have_iters ? &tr->iters.links : NULL, tr->leases, stdout,
		   env->json, tr->out.wall_off, env->verbose);
	/* top owns the screen: a diagnosis printed there would tear its table */
	if (!env->top)
		pipeline__add_sink(&tr->pipe, diag__sink, &tr->diag);

	if (!env->no_nat) {
		char why[400];
		struct nat_opts no = env->nat;

		no.verbose = env->verbose;
		tr->natv = nat_view__new(65536);
		if (!tr->natv)
			return -ENOMEM;
		tr->pipe.nat = tr->natv;
		pipeline__add_nat_sink(&tr->pipe, out__nat, &tr->out);
		tr->nat = nat_watch__new(&no, tr->leases, pipe_nat, tr, why, sizeof(why));
		if (!tr->nat && env->nat.nnetns) {
			/* a namespace was asked for by name: not watching it is an error */
			fprintf(stderr, "portlife: NAT: %s\n", why);
			return -errno;
		}
		if (!tr->nat)
			fprintf(stderr, "portlife: not watching NAT: %s (--no-nat says nothing)\n",
				why);
		else
			pipeline__add_sink(&tr->pipe, nat_watch__lease_sink, tr->nat);
	}
	if (alert_cfg_any(&env->alerts)) {
		/* top's screen shows a marker instead of lines */
		tr->alerts = alerts__new(&env->alerts, stdout, env->json, !env->top);
		if (!tr->alerts) {
			fprintf(stderr, "portlife: out of memory for the security rules: run with "
					"--no-alerts\n");
			return -ENOMEM;
		}
		alerts__set_wall_off(tr->alerts, tr->out.wall_off);
		alerts__set_host(tr->alerts, tr->host);
		alerts__set_sees(tr->alerts, tr->bpf.sees, true);
		pipeline__add_sink(&tr->pipe, alerts__sink, tr->alerts);
	}

	/* Only the tracepoint mode needs TIME_WAIT snapshots. */
	if (tr->bpf.tw_iter) {
		lease_table__index_tuples(tr->leases);
		tr->tw = twsnap__new(tr->bpf.tw_iter, tr->leases);
		if (!tr->tw) {
			err = -errno;
			fprintf(stderr, "portlife: cannot set up TIME_WAIT snapshots: %s\n",
				strerror(-err));
			return err;
		}
		twsnap__set_lookup(tr->tw, loader__load_twlook());
		twsnap__set_iter_full(tr->tw, &tr->bpf.skel->bss->iter_full);
		twsnap__set_interval(tr->tw, (__u64)(env->tw_interval * 1e9));
		pipeline__add_sink(&tr->pipe, note_netns, tr);
	}
	skip_close_rport = test_skip_rport();
	skip_close_release = tr->bpf.mode == MODE_TRACEPOINT;
	tr->rb = ring_buffer__new(bpf_map__fd(tr->bpf.skel->maps.events),
				  skip_close_rport ? on_ring_test : on_ring, tr, NULL);
	if (!tr->rb) {
		err = -errno;
		fprintf(stderr, "portlife: cannot set up the event reader: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

static void schedule_ticks(struct tracer *tr)
{
	const struct env *env = tr->env;
	__u64 now = tr->start;

	tr->ticks[TICK_SNAPSHOT] = (struct tick){ "TIME_WAIT snapshot", tick_snapshot,
		tr->tw ? now + (__u64)(env->tw_interval * 1e9) : 0 };
	tr->ticks[TICK_LOSSES] = (struct tick){ "losses", tick_losses, now + SEC };
	tr->ticks[TICK_VIEWS] = (struct tick){ "views", tick_views, now + SEC };
	tr->ticks[TICK_FAILURES] = (struct tick){ "failures file", tick_failures, now + SEC };
	/* top shows the fullest destinations in its own panel; no lines over it */
	tr->ticks[TICK_WARN] = (struct tick){ "warn", tick_warn,
					      env->warn_pct && !env->top ? now + SEC : 0 };
	tr->ticks[TICK_SUMMARY] = (struct tick){ "summary", tick_summary,
		env->interval ? now + (__u64)(env->interval * 1e9) : 0 };
	tr->ticks[TICK_NAT] = (struct tick){ "NAT statistics", tick_nat, tr->nat ? now + SEC : 0 };
	tr->ticks[TICK_CLOCK] = (struct tick){ "wall clock", tick_clock, now + SEC };
	tr->snap_interval = env->tw_interval;
}

/* ---- the loop ------------------------------------------------------------ */

/*
 * Lines and records go out in batches: when the oldest unwritten one has
 * waited OUT_DELAY_NS, or when a buffer fills. Written after every drain of
 * the ring buffer, they went out ~4 KiB at a time in a connect storm,
 * thousands of system calls a second, each zeroing the rest of a new page of
 * the page cache first (ext4; 12% of the tracer in perf). With the 32 KiB
 * stdout buffer below, the tracer's CPU per connection fell ~10% with a
 * line per event and ~12% with JSON (alternating runs, the bench's load). A
 * terminal is line-buffered and still sees every line at once.
 */
#define OUT_DELAY_NS (50 * 1000000ULL)

/* Output waits, the oldest since OUT_DELAY_NS or more: write it now (and restart the clock). */
static bool out_due(struct tracer *tr, __u64 now)
{
	if (!__fpending(stdout) && !(tr->pipe.rec && tracefile_buffered(tr->pipe.rec))) {
		tr->out_since = 0;
		return false;
	}
	if (!tr->out_since)
		tr->out_since = now;
	if (now - tr->out_since < OUT_DELAY_NS)
		return false;
	tr->out_since = 0;
	return true;
}

/*
 * 0, or -errno of a failed write of the output (said once; -EPIPE, a closed
 * pipe as in portlife | head, is a normal stop and not said).
 */
static int out_check(struct tracer *tr)
{
	int err;

	/* also a write stdio made by itself, of a full buffer */
	if (!ferror(stdout))
		return 0;
	lb_flush(stdout);
	/* the first failure names the cause */
	err = -(lb_write_errno ? lb_write_errno : EIO);
	if (err != -EPIPE && !tr->out_said) {
		tr->out_said = true;
		fprintf(stderr, "portlife: writing the output failed: %s: free space "
				"or write elsewhere\n", strerror(-err));
	}
	return err;
}

/* How long the ring buffer may be waited on: at most until output is due. */
static int poll_ms(const struct tracer *tr)
{
	__u64 due = tr->out_since + OUT_DELAY_NS, now;

	if (!tr->out_since)
		return 100;
	now = mono_ns();
	return now >= due ? 0 : (int)((due - now + 999999) / 1000000);
}

static int loop(struct tracer *tr)
{
	const struct env *env = tr->env;
	__u64 end = env->duration ? tr->start + (__u64)(env->duration * 1e9) : 0;
	int err;

	while (!exiting) {
		int ms = poll_ms(tr);
		__u64 now;

		/* -d: wake at its end, not a poll's timer later */
		if (end) {
			now = mono_ns();
			if (now >= end)
				ms = 0;
			else if ((end - now) / 1000000 < (__u64)ms)
				ms = (int)((end - now + 999999) / 1000000);
		}
		/* Wakeups are batched in the kernel: poll on a timer, then drain. */
		err = ring_buffer__poll(tr->rb, ms);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "portlife: reading events failed: %s\n", strerror(-err));
			return err;
		}
		ring_buffer__consume(tr->rb);
		/* after the ring: a translation's lease is then known, mostly */
		if (tr->nat)
			nat_watch__poll(tr->nat, mono_ns());
		if (tr->top) {
			int k = top__keys(tr->top);

			if (k == 1)
				break;
			if (k == 2)
				top__redraw(tr->top);
		}
		now = mono_ns();
		for (int i = 0; i < NTICKS; i++)
			if (tr->ticks[i].next && now >= tr->ticks[i].next)
				tr->ticks[i].run(tr, now);
		if (end && now >= end)
			break;
		if (out_due(tr, now)) {
			/* Records reach the file within OUT_DELAY_NS: a kill loses little. */
			if (tr->pipe.rec && !tr->pipe.rec_err &&
			    (tr->pipe.rec_err = tracefile_flush(tr->pipe.rec))) {
				record_failed(tr, tr->pipe.rec_err);
				break;
			}
			lb_flush(stdout);
		}
		err = out_check(tr);
		if (err)
			return err == -EPIPE ? 0 : err;
	}
	return 0;
}

/* ---- the finish ----------------------------------------------------------- */

static int finish(struct tracer *tr)
{
	const struct env *env = tr->env;
	struct pl_file_trailer t = {};
	struct run_info ri;
	int err, out_err;

	/* Whatever is still in the buffer belongs in the summary. */
	ring_buffer__consume(tr->rb);
	/* tracing ends: the summary's elapsed time and the recording's trailer say so alike */
	tr->end = mono_ns();
	if (tr->nat)
		nat_watch__finish(tr->nat, mono_ns());
	note_unrecorded(tr);
	if (tr->tw)
		twsnap__run(tr->tw, true, pipe_event, tr);
	/* the live view ends with the terminal as it was: no summary after it */
	top__free(tr->top);
	tr->top = NULL;
	refresh_views(tr, false);
	if (!env->top)
		summary(tr);
	/* the summary and the loop's last lines: written, or said why not */
	out_err = out_check(tr);
	if (out_err == -EPIPE)
		out_err = 0;
	err = tr->pipe.rec_err;
	if (!tr->pipe.rec)
		return err ? err : out_err;
	fill_run_info(tr, &ri);
	t.end_ns = tr->end;
	t.records = tracefile_written(tr->pipe.rec);
	t.recursion_misses = ri.recursion_misses;
	t.untracked = ri.untracked;
	t.write_errors = !!tr->pipe.rec_err;
	trailer_put_drops(&t, ri.drops);
	t.drops[PL_TRAILER_NAT_LOST] = ri.nat_lost;
	err = tracefile_close(tr->pipe.rec, &t);
	tr->pipe.rec = NULL;
	if (err && !tr->pipe.rec_err) {
		fprintf(stderr, "portlife: finishing %s failed: %s; the records are kept, "
				"without a trailer\n", env->record, strerror(-err));
		return err;
	}
	if (tr->pipe.rec_err)
		return tr->pipe.rec_err;
	fprintf(stderr, "portlife: %llu records in %s\n", (unsigned long long)t.records,
		env->record);
	return out_err;
}

static void teardown(struct tracer *tr)
{
	container_cache__free(tr->ctrs);
	top__free(tr->top);
	metrics_http_stop(tr->http);
	if (tr->pipe.rec)
		tracefile_close(tr->pipe.rec, &(struct pl_file_trailer){ .end_ns = mono_ns() });
	ring_buffer__free(tr->rb);
	loader__unload_tracer(&tr->bpf);
	if (tr->have_iters)
		loader__unload_iters(&tr->iters);
	twsnap__free(tr->tw);
	nat_watch__free(tr->nat);
	nat_view__free(tr->natv);
	diag__free(&tr->diag);
	free(tr->vdv);
	free(tr->vbv);
	alerts__free(tr->alerts);
	pipeline__free(&tr->pipe);
	failures__unpublish();
	out__free(&tr->out);
	agg__free(tr->agg);
	lease_table__free(tr->leases);
	if (tr->cg_filter_fd >= 0)
		close(tr->cg_filter_fd);
}

static int run(const struct env *env)
{
	struct tracer tr = { .env = env, .cg_filter_fd = -1 };
	int err;

	verbose = env->verbose;
	libbpf_set_print(libbpf_print);
	/*
	 * Into a file or a pipe, stdio writes a buffer at a time. Its own is the
	 * file's block size, 4 KiB: a system call per ten lines in a connect
	 * storm (and glibc ignores a size asked for without a buffer to go with
	 * it). Ours, 32 KiB, makes an eighth of the calls and still fits the
	 * caches the lines and the copy into the page cache pass through: with a
	 * 256 KiB buffer the tracer spent more than with 4 KiB. Besides, the loop
	 * writes what waits every OUT_DELAY_NS. A terminal stays line-buffered.
	 */
	static char outbuf[32 * 1024];

	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	/* from the start: a stop asked for while the programs load ends the run there, 0 */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	err = setup(&tr);
	if (err)
		goto out;

	schedule_ticks(&tr);
	if (env->metrics_file) {
		/* a path that cannot be written is an error now, not a log line later */
		refresh_views(&tr, false);
		if (tr.metrics_err) {
			err = tr.metrics_err;
			fprintf(stderr, "portlife: cannot write metrics to %s: %s: give a path in a "
					"writable directory with --metrics-file\n", env->metrics_file,
				strerror(-err));
			goto out;
		}
		tr.metrics_started = true;
	}
	fprintf(stderr, "portlife: mode %s (%s). Tracing port leases%s... Ctrl-C to stop.\n",
		mode_name(tr.bpf.mode), tr.bpf.precision, env->duration ? " for a while" : "");
	if (tr.alerts) {
		struct alert_cfg c = env->alerts;
		char blind[400];

		if (tr.bpf.signals_note[0])
			fprintf(stderr, "portlife: alerts: %s\n", tr.bpf.signals_note);
		/* with -p, -c or --cgroup no probe is watched (documented): not the mode's blind spot */
		if (env->filt.pid || env->filt.has_comm || env->cgroup)
			c.on[AR_SCAN_IN] = false;
		if (*alerts_blind_spots(&c, tr.bpf.sees, true, blind, sizeof(blind)))
			fprintf(stderr, "portlife: alerts: %s mode here sees %s\n",
				mode_name(tr.bpf.mode), blind);
	}
	if (env->json) {
		struct jw w;

		jw_begin(&w, &tr.out.lb);
		jw_obj(&w);
		jw_kstr(&w, "event", "start");
		jw_kstr(&w, "mode", mode_name(tr.bpf.mode));
		jw_kstr(&w, "precision", tr.bpf.precision);
		jw_ku64(&w, "pid", getpid());
		if (tr.alerts) {
			/* what the security rules can see in this mode, on this kernel */
			jw_key(&w, "signals");
			jw_obj(&w);
			jw_kbool(&w, "listen", tr.bpf.sees & PL_SEES_LISTEN);
			jw_kbool(&w, "tcp4", tr.bpf.sees & PL_SEES_TCP4);
			jw_kbool(&w, "tcp6", tr.bpf.sees & PL_SEES_TCP6);
			jw_kbool(&w, "udp4", tr.bpf.sees & PL_SEES_UDP4);
			jw_kbool(&w, "udp6", tr.bpf.sees & PL_SEES_UDP6);
			jw_kbool(&w, "udp_rate_limited", tr.bpf.sees & PL_SEES_UDP_LIMITED);
			jw_end(&w);
		}
		jw_line(&w, stdout);
		lb_flush(stdout);
	}

	if (env->top) {
		tr.top = top__new(isatty(STDOUT_FILENO), env->top_sort, stdout,
				  container_src__cache(tr.ctrs), env->top_by_pod);
		if (!tr.top) {
			err = -errno;
			fprintf(stderr, "portlife: cannot start the live view: %s: is TERM set "
					"right? (pipe the output for plain text)\n", strerror(-err));
			goto out;
		}
		refresh_views(&tr, true);
	}
	err = loop(&tr);
	if (!err)
		err = finish(&tr);
	else
		finish(&tr);
out:
	teardown(&tr);
	return err ? 1 : 0;
}

int cmd_trace(int argc, char **argv)
{
	struct env env;

	if (env_parse(argc, argv, &env))
		return 2;
	return run(&env);
}

int cmd_record(int argc, char **argv)
{
	struct env env;

	if (env_parse_record(argc, argv, &env))
		return 2;
	return run(&env);
}

int cmd_top(int argc, char **argv)
{
	struct env env;

	if (env_parse_top(argc, argv, &env))
		return 2;
	return run(&env);
}
