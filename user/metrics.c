// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include "container.h"
#include "alerts.h"
#include "metrics.h"
#include "nat.h"
#include "util.h"

/*
 * Series are per process *name* (or, with --metrics-by pod, per Kubernetes
 * pod), not per pid: pids churn with every restart and would leave a trail
 * of dead series; a name or a pod is what a dashboard groups by anyway.
 */
#define GROUP_KEY (CONTAINER_LABEL_MAX + 1 + CONTAINER_SUBDOMAIN_MAX + 1)

struct group {
	char key[GROUP_KEY];		/* comm, or "namespace/pod"; "" for no pod */
	__u64 tw_now;
	struct proc_stats s;
};

static int by_key(const void *x, const void *y)
{
	return strcmp(((const struct group *)x)->key, ((const struct group *)y)->key);
}

static int by_activity(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	__u64 ta = a->s.allocs + a->s.failures, tb = b->s.allocs + b->s.failures;

	if (ta != tb)
		return ta < tb ? 1 : -1;
	return strcmp(a->key, b->key);
}

/* The group of a process or a lease: its sanitized name, or its pod. */
static void group_key(const struct metrics_src *src, const char *comm, __u64 cgroup_id,
		      char *key, size_t len)
{
	const struct container *c;

	if (!src->by_pod) {
		comm_sanitize(comm, PL_COMM_LEN, key, len);
		return;
	}
	/* validated DNS names: nothing in them needs escaping, and '/' is in neither */
	c = container_src__get(&src->ctrs, cgroup_id);
	if (c && c->pod[0])
		snprintf(key, len, "%s/%s", c->namespace, c->pod);
	else
		key[0] = '\0';
}

/*
 * Every process folded into one group per name, the most active top_n first
 * and everything else summed into a last "[other]" group. *n set.
 */
static struct group *groups(const struct metrics_src *src, size_t *n, size_t *folded)
{
	const char *fold = src->by_pod ? "[other]/[other]" : "[other]";
	struct group *g, spare = {};
	bool have_spare = false;
	struct proc_stats **v;
	size_t np, k = 0;

	*n = *folded = 0;
	v = agg__sorted(src->agg, &np);
	if (!v)
		return NULL;
	g = calloc(np + 1, sizeof(*g));
	if (!g) {
		free(v);
		return NULL;
	}
	for (size_t i = 0; i < np; i++)
		group_key(src, v[i]->comm, v[i]->cgroup_id, g[i].key, sizeof(g[i].key));
	for (size_t i = 0; i < np; i++)
		agg__merge(&g[i].s, v[i]);
	free(v);
	/* merge equal names */
	qsort(g, np, sizeof(*g), by_key);
	for (size_t i = 0; i < np; i++) {
		if (k && !strcmp(g[k - 1].key, g[i].key)) {
			agg__merge(&g[k - 1].s, &g[i].s);
			continue;
		}
		if (k != i)
			g[k] = g[i];
		k++;
	}
	/* TIME_WAIT sockets held now: the leases on the watch list that are in it */
	for (struct lease *l = src->leases ? lease_table__tw_first(src->leases) : NULL; l;
	     l = lease_table__tw_next(l)) {
		struct group key, *hit;

		if (!(l->flags & L_IN_TW))
			continue;
		group_key(src, l->comm, l->cgroup_id, key.key, sizeof(key.key));
		hit = bsearch(&key, g, k, sizeof(*g), by_key);
		if (hit)
			hit->tw_now++;
	}
	/*
	 * A group already named as the fold is (the process table's own
	 * overflow row, "[other]"; a process that named itself so) goes into
	 * the fold, never beside it: two series with one label set are one too
	 * many for Prometheus, and a name must not hide or split the fold's.
	 */
	for (size_t i = 0; i < k; i++) {
		if (strcmp(g[i].key, fold))
			continue;
		spare = g[i];
		g[i] = g[--k];
		have_spare = true;
		break;
	}
	qsort(g, k, sizeof(*g), by_activity);
	if (k > src->top_n || have_spare) {
		size_t at = k > src->top_n ? src->top_n : k;
		struct group *o = &g[at];

		if (k > src->top_n) {
			for (size_t i = src->top_n + 1; i < k; i++) {
				agg__merge(&o->s, &g[i].s);
				o->tw_now += g[i].tw_now;
			}
			*folded = k - src->top_n;
		} else {
			memset(o, 0, sizeof(*o));
		}
		if (have_spare) {
			agg__merge(&o->s, &spare.s);
			o->tw_now += spare.tw_now;
		}
		snprintf(o->key, sizeof(o->key), "%s", fold);
		k = at + 1;
	}
	*n = k;
	return g;
}

/* A label value: the text format escapes backslash, quote and newline. */
static void label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A group's labels, no braces: comm="curl", or namespace="shop",pod="web-0". */
static void glabels(FILE *f, const struct group *g, bool by_pod)
{
	const char *slash = by_pod ? strchr(g->key, '/') : NULL;

	if (!by_pod) {
		fputs("comm=", f);
		label(f, g->key);
		return;
	}
	fprintf(f, "namespace=\"%.*s\",pod=", slash ? (int)(slash - g->key) : 0, g->key);
	label(f, slash ? slash + 1 : "");
}

static void comm_series(FILE *f, const char *name, const struct group *g, bool by_pod, __u64 v)
{
	fprintf(f, "%s{", name);
	glabels(f, g, by_pod);
	fprintf(f, "} %llu\n", (unsigned long long)v);
}

/*
 * A Prometheus histogram from a log2 one: bucket le=2^k ns holds the slots
 * 0..k, whose values are all below 2^k. Every step-th power of two from lo
 * to hi keeps the series count fixed and small.
 */
static void histogram(FILE *f, const char *name, const struct group *g, bool by_pod,
		      const struct hist *h, int lo, int hi, int step)
{
	__u64 cum = 0;
	int slot = 0;

	for (int k = lo; k <= hi; k += step) {
		for (; slot <= k && slot < HIST_SLOTS; slot++)
			cum += h->slot[slot];
		fprintf(f, "%s_bucket{", name);
		glabels(f, g, by_pod);
		fprintf(f, ",le=\"%.9g\"} %llu\n", (double)(1ULL << k) / 1e9,
			(unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{", name);
	glabels(f, g, by_pod);
	fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
	fprintf(f, "%s_sum{", name);
	glabels(f, g, by_pod);
	fprintf(f, "} %.9g\n", h->sum / 1e9);
	fprintf(f, "%s_count{", name);
	glabels(f, g, by_pod);
	fprintf(f, "} %llu\n", (unsigned long long)h->count);
}

static void dest_labels(FILE *f, const struct dest *d)
{
	char a[INET6_ADDRSTRLEN];

	if (!d) {
		fputs("{netns=\"\",laddr=\"\",raddr=\"[other]\",rport=\"\"}", f);
		return;
	}
	fprintf(f, "{netns=\"%u\",laddr=\"%s\",", d->netns,
		addr_str(d->family, d->laddr, a, sizeof(a)));
	fprintf(f, "raddr=\"%s\",rport=\"%u\"}", addr_str(d->family, d->raddr, a, sizeof(a)),
		d->rport);
}

static void destinations(FILE *f, const struct metrics_src *src)
{
	static const struct { const char *name, *help; } fam[] = {
		{ "portlife_destination_ports_in_use",
		  "Local ephemeral ports in use to this destination, TIME_WAIT included" },
		{ "portlife_destination_ports_time_wait",
		  "Of those, ports held by a TIME_WAIT socket" },
		{ "portlife_destination_ports_usable",
		  "Ports connect() may pick for this destination: the range minus reserved "
		  "and bound ports" },
	};
	size_t top = src->nd < src->top_n ? src->nd : src->top_n;

	for (size_t k = 0; k < 3; k++) {
		__u64 other = 0;

		family(f, fam[k].name, "gauge", fam[k].help);
		for (size_t i = 0; i < src->nd; i++) {
			const struct dest *d = &src->dv[i];
			__u64 v = k == 0 ? d->in_use : k == 1 ? d->time_wait : d->usable;

			if (i >= top) {
				other += v;
				continue;
			}
			fputs(fam[k].name, f);
			dest_labels(f, d);
			fprintf(f, " %llu\n", (unsigned long long)v);
		}
		if (src->nd > top) {
			fputs(fam[k].name, f);
			dest_labels(f, NULL);
			fprintf(f, " %llu\n", (unsigned long long)other);
		}
	}
}

static double pool_used(const struct bind_room *b)
{
	__u32 usable = b->in_use + b->free;

	return usable ? (double)b->in_use / usable : 1.0;
}

static int by_pool_used(const void *a, const void *b)
{
	double x = pool_used(*(const struct bind_room *const *)a);
	double y = pool_used(*(const struct bind_room *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Each netns's pools: the ports of ip_local_port_range that bind(0) (TCP)
 * and every automatic UDP port (bind(0), a first send or connect()) take
 * from, whatever the destination. The N fullest per protocol; no "[other]"
 * row: a sum of pools is no pool.
 */
static void pools(FILE *f, const struct metrics_src *src)
{
	static const struct { const char *name, *help; } fam[] = {
		{ "portlife_ephemeral_ports_in_use",
		  "Ports of ip_local_port_range held by a socket of the protocol in this netns "
		  "(TCP: listening, connected, TIME_WAIT, bound where the kernel lists it)" },
		{ "portlife_ephemeral_ports_usable",
		  "Ports bind(0) and UDP's automatic ports may take in this netns: the range "
		  "minus reserved ports (for TCP, the ports its search reaches)" },
	};
	const struct bind_room **v = calloc(src->nb ? src->nb : 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < src->nb; i++)
		v[i] = &src->bv[i];
	qsort(v, src->nb, sizeof(*v), by_pool_used);
	for (size_t k = 0; k < 2; k++) {
		unsigned int shown[2] = { 0 };

		family(f, fam[k].name, "gauge", fam[k].help);
		for (size_t i = 0; i < src->nb; i++) {
			const struct bind_room *b = v[i];
			bool udp = b->proto == IPPROTO_UDP;

			if (shown[udp]++ >= src->top_n)
				continue;
			fprintf(f, "%s{netns=\"%u\",proto=\"%s\"} %llu\n", fam[k].name, b->netns,
				udp ? "udp" : "tcp",
				(unsigned long long)(k ? b->in_use + b->free : b->in_use));
		}
	}
	free(v);
}

static void nat_labels(FILE *f, const struct nat_dest *d)
{
	char a[INET6_ADDRSTRLEN];

	if (!d) {
		fputs("{netns=\"\",nat_addr=\"\",raddr=\"[other]\",rport=\"\",proto=\"\"}", f);
		return;
	}
	fprintf(f, "{netns=\"%u\",nat_addr=\"%s\",", d->nat_netns,
		addr_str(d->family, d->nat_addr, a, sizeof(a)));
	fprintf(f, "raddr=\"%s\",rport=\"%u\",proto=\"%s\"}",
		addr_str(d->family, d->raddr, a, sizeof(a)), d->rport,
		d->proto == IPPROTO_UDP ? "udp" : "tcp");
}

/* NAT headroom: the top N (NAT address, destination) pairs, the rest in "[other]". */
static void nat_series(FILE *f, const struct metrics_src *src)
{
	static const struct { const char *name, *type, *help; } fam[] = {
		{ "portlife_nat_ports_in_use", "gauge",
		  "NAT ports in use (conntrack translations alive) per NAT address and destination" },
		{ "portlife_nat_ports_usable", "gauge",
		  "NAT ports usable per NAT address and destination: the rule's port range "
		  "(--nat-range, else nf_nat's default)" },
		{ "portlife_nat_failures_total", "counter",
		  "Translations that failed for want of a NAT port (packet dropped, conntrack "
		  "insert_failed), per NAT address and destination" },
	};
	size_t n = 0, top;
	struct nat_dest *v = nat_view__sorted(src->nat, &n);

	if (!v)
		return;
	top = n < src->top_n ? n : src->top_n;
	for (size_t k = 0; k < 3; k++) {
		__u64 other = 0;

		family(f, fam[k].name, fam[k].type, fam[k].help);
		for (size_t i = 0; i < n; i++) {
			__u64 x = k == 0 ? v[i].in_use : k == 1 ? v[i].usable : v[i].failures;

			if (i >= top) {
				other += x;
				continue;
			}
			fputs(fam[k].name, f);
			nat_labels(f, &v[i]);
			fprintf(f, " %llu\n", (unsigned long long)x);
		}
		if (n > top) {
			fputs(fam[k].name, f);
			nat_labels(f, NULL);
			fprintf(f, " %llu\n", (unsigned long long)other);
		}
	}
	free(v);
}

int metrics_render(FILE *f, const struct metrics_src *src)
{
	const struct run_info *ri = src->ri;
	const struct lease_stats *ls = src->leases ? lease_table__stats(src->leases) : NULL;
	size_t n, folded;
	struct group *g = groups(src, &n, &folded);
	char enbuf[16];

	if (!g)
		return -ENOMEM;

	family(f, "portlife_info", "gauge", "The tracer: version, attach mode and its precision");
	fprintf(f, "portlife_info{version=");
	label(f, src->version ? src->version : "unknown");
	fprintf(f, ",mode=");
	label(f, ri && ri->mode ? ri->mode : "");
	fprintf(f, "} 1\n");
	family(f, "portlife_start_time_seconds", "gauge", "When tracing began (Unix time)");
	fprintf(f, "portlife_start_time_seconds %.3f\n", src->start_time);

	family(f, "portlife_allocations_total", "counter",
	       "Local ports obtained (connect, bind, UDP autobind), by process name");
	for (size_t i = 0; i < n; i++)
		comm_series(f, "portlife_allocations_total", &g[i], src->by_pod, g[i].s.allocs);

	family(f, "portlife_allocation_failures_total", "counter",
	       "Port searches that failed, by process name and errno (EADDRNOTAVAIL: connect "
	       "found no free port; EADDRINUSE: bind conflict)");
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < AGG_ERRNOS && g[i].s.fail[k].n; k++) {
			fprintf(f, "portlife_allocation_failures_total{");
			glabels(f, &g[i], src->by_pod);
			fprintf(f, ",errno=\"%s\"} %llu\n",
				errno_name(g[i].s.fail[k].err, enbuf, sizeof(enbuf)),
				(unsigned long long)g[i].s.fail[k].n);
		}
		if (g[i].s.fail_other) {
			fprintf(f, "portlife_allocation_failures_total{");
			glabels(f, &g[i], src->by_pod);
			fprintf(f, ",errno=\"other\"} %llu\n", (unsigned long long)g[i].s.fail_other);
		}
	}

	family(f, "portlife_bind_errors_total", "counter",
	       "bind() calls that failed before any port was looked for, by process name and "
	       "errno (EADDRNOTAVAIL: the address is not local; EACCES, EINVAL, EPERM): not "
	       "exhaustion, not in portlife_allocation_failures_total");
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < AGG_ERRNOS && g[i].s.bind_err[k].n; k++) {
			fprintf(f, "portlife_bind_errors_total{");
			glabels(f, &g[i], src->by_pod);
			fprintf(f, ",errno=\"%s\"} %llu\n",
				errno_name(g[i].s.bind_err[k].err, enbuf, sizeof(enbuf)),
				(unsigned long long)g[i].s.bind_err[k].n);
		}
	}

	family(f, "portlife_connect_tuple_in_use_total", "counter",
	       "connect() calls from a port the socket had bound whose 4-tuple to the "
	       "destination was in use (EADDRNOTAVAIL with no port search): not exhaustion, not "
	       "in portlife_allocation_failures_total; by process name");
	for (size_t i = 0; i < n; i++)
		if (g[i].s.tuple_fails)
			comm_series(f, "portlife_connect_tuple_in_use_total", &g[i], src->by_pod,
				    g[i].s.tuple_fails);

	family(f, "portlife_time_wait_entered_total", "counter",
	       "Ports that went into TIME_WAIT, by process name");
	for (size_t i = 0; i < n; i++)
		comm_series(f, "portlife_time_wait_entered_total", &g[i], src->by_pod, g[i].s.tw_entered);

	family(f, "portlife_releases_total", "counter",
	       "Ports given back to the pool, by process name and reason");
	for (size_t i = 0; i < n; i++) {
		for (int r = 1; r < AGG_REASONS; r++) {
			if (!g[i].s.end_reason[r])
				continue;
			fprintf(f, "portlife_releases_total{");
			glabels(f, &g[i], src->by_pod);
			fprintf(f, ",reason=\"%s\"} %llu\n", end_reason_name(r),
				(unsigned long long)g[i].s.end_reason[r]);
		}
	}

	family(f, "portlife_ports_held", "gauge",
	       "Ports held now (allocated, not yet released; TIME_WAIT included), by process name");
	for (size_t i = 0; i < n; i++)
		comm_series(f, "portlife_ports_held", &g[i], src->by_pod,
			    g[i].s.held > 0 ? (__u64)g[i].s.held : 0);

	family(f, "portlife_ports_time_wait", "gauge",
	       "Ports held now by a TIME_WAIT socket, by the name of the process that had them");
	for (size_t i = 0; i < n; i++)
		comm_series(f, "portlife_ports_time_wait", &g[i], src->by_pod, g[i].tw_now);

	/* 256 ns .. 4.3 s, 1 ms .. 4.9 h, 1.07 s .. 275 s */
	family(f, "portlife_allocation_latency_seconds", "histogram",
	       "Time the kernel spent finding a local port, failed searches included");
	for (size_t i = 0; i < n; i++)
		histogram(f, "portlife_allocation_latency_seconds", &g[i], src->by_pod, &g[i].s.alloc_lat,
			  8, 32, 2);
	family(f, "portlife_hold_seconds", "histogram",
	       "How long a port was held: allocation to release, TIME_WAIT included");
	for (size_t i = 0; i < n; i++)
		histogram(f, "portlife_hold_seconds", &g[i], src->by_pod, &g[i].s.hold, 20, 44, 2);
	family(f, "portlife_time_wait_seconds", "histogram",
	       "Time a port spent in TIME_WAIT");
	for (size_t i = 0; i < n; i++)
		histogram(f, "portlife_time_wait_seconds", &g[i], src->by_pod, &g[i].s.tw_time, 30, 38, 1);

	family(f, "portlife_process_names_folded", "gauge",
	       "Process names summed into comm=\"[other]\" (beyond --metrics-top)");
	fprintf(f, "portlife_process_names_folded %zu\n", folded);

	if (ri) {
		family(f, "portlife_events_dropped_total", "counter",
		       "Events lost because the ring buffer was full, by event type");
		for (int t = 1; t < PL_EV_MAX; t++)
			fprintf(f, "portlife_events_dropped_total{type=\"%s\"} %llu\n",
				event_name(t), (unsigned long long)ri->drops[t]);
		/* absent, not 0, where the kernel does not count them (before 5.12) */
		if (ri->recursion_misses != PL_NOT_COUNTED) {
			family(f, "portlife_recursion_misses_total", "counter",
			       "Program runs the kernel skipped because another BPF program was "
			       "running on that CPU (events lost)");
			fprintf(f, "portlife_recursion_misses_total %llu\n",
				(unsigned long long)ri->recursion_misses);
		}
		family(f, "portlife_leases_untracked_total", "counter",
		       "Leases the kernel had no room to track (its lease map full, or a "
		       "socket's storage refused): their releases cannot be seen; raise "
		       "--max-leases");
		fprintf(f, "portlife_leases_untracked_total %llu\n",
			(unsigned long long)ri->untracked);
		family(f, "portlife_tw_overflow_total", "counter",
		       "Closes that got no TIME_WAIT socket because tcp_max_tw_buckets was full");
		fprintf(f, "portlife_tw_overflow_total %llu\n", (unsigned long long)ri->tw_overflow);
		/* every rule, zeros included, so rate() starts from 0; absent with --no-alerts */
		if (ri->alerts) {
			family(f, "portlife_alerts_total", "counter",
			       "Alerts the security rules raised, by rule (scan_out, scan_in, "
			       "alloc_burst, listen_ephemeral), printed or not");
			for (int r = 0; r < AR_MAX; r++)
				fprintf(f, "portlife_alerts_total{rule=\"%s\"} %llu\n",
					alert_rule_name(r),
					(unsigned long long)alerts__count(ri->alerts, r));
		}
		if (ri->snap_interval > 0) {	/* tracepoint mode: TIME_WAIT by snapshots */
			family(f, "portlife_tw_snapshots_total", "counter",
			       "TIME_WAIT snapshot rounds (tracepoint mode)");
			fprintf(f, "portlife_tw_snapshots_total %llu\n",
				(unsigned long long)ri->snapshots);
			family(f, "portlife_tw_snapshot_max_seconds", "gauge",
			       "The longest TIME_WAIT snapshot round so far");
			fprintf(f, "portlife_tw_snapshot_max_seconds %.6f\n", ri->snap_max_ns / 1e9);
			family(f, "portlife_tw_snapshot_interval_seconds", "gauge",
			       "Seconds between snapshot rounds now: --tw-interval, stretched to keep "
			       "snapshots under 5% of a CPU");
			fprintf(f, "portlife_tw_snapshot_interval_seconds %.3f\n", ri->snap_interval);
			family(f, "portlife_tw_unseen_total", "counter",
			       "Closes into TIME_WAIT whose timewait socket no snapshot round saw "
			       "(it came and went between two): their time in TIME_WAIT is unknown");
			fprintf(f, "portlife_tw_unseen_total %llu\n",
				(unsigned long long)ri->tw_unseen);
			/* both series, zeros included, so rate() starts from 0 */
			family(f, "portlife_closes_reconciled_total", "counter",
			       "Closes the kernel never showed (it ran none of portlife's programs and "
			       "counted no miss) that a snapshot round found anyway: the socket in "
			       "TIME_WAIT (found=\"time_wait\") or gone (found=\"gone\", released); "
			       "their times are estimated");
			fprintf(f, "portlife_closes_reconciled_total{found=\"time_wait\"} %llu\n",
				(unsigned long long)ri->tw_reconciled);
			fprintf(f, "portlife_closes_reconciled_total{found=\"gone\"} %llu\n",
				(unsigned long long)ri->gone_reconciled);
		}
	}
	if (ls) {
		family(f, "portlife_leases", "gauge", "Leases the tracer tracks now");
		fprintf(f, "portlife_leases %llu\n", (unsigned long long)ls->live);
		family(f, "portlife_leases_evicted_total", "counter",
		       "Leases pushed out of a full table (raise --max-leases)");
		fprintf(f, "portlife_leases_evicted_total %llu\n", (unsigned long long)ls->evicted);
	}
	if (src->dv)
		destinations(f, src);
	if (src->bv)
		pools(f, src);
	if (src->nat) {
		nat_series(f, src);
		family(f, "portlife_nat_events_lost_total", "counter",
		       "conntrack events lost to netlink overruns (ENOBUFS); the table is read "
		       "again after each");
		fprintf(f, "portlife_nat_events_lost_total %llu\n",
			(unsigned long long)(ri ? ri->nat_lost : 0));
	}
	free(g);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

/*
 * The temporary file beside PATH: same directory, so rename() is atomic;
 * dot-prefixed, so the textfile collector (which reads *.prom) never sees it.
 * Opened fresh (O_EXCL, no symlink followed), 0644 because node_exporter
 * usually runs as an unprivileged user.
 */
static int open_tmp(const char *path, char *tmp, size_t sz)
{
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path + 1) : 0;
	struct stat st;
	int fd;

	if (!stat(path, &st) && S_ISDIR(st.st_mode))
		return -EISDIR;
	if (snprintf(tmp, sz, "%.*s.%s.%d.tmp", dl, path, slash ? slash + 1 : path,
		     (int)getpid()) >= (int)sz)
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* 0644 whatever the umask (a unit's UMask=0077 would leave node_exporter out) */
	if (fchmod(fd, 0644)) {
		int err = -errno;

		close(fd);
		unlink(tmp);
		return err;
	}
	return fd;
}

int metrics_check_file(const char *path)
{
	char tmp[PATH_MAX];
	int fd = open_tmp(path, tmp, sizeof(tmp));

	if (fd < 0)
		return fd;
	close(fd);
	unlink(tmp);
	return 0;
}

int metrics_write_file(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	size_t off = 0;
	int fd, err = 0;

	fd = open_tmp(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += w;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int metrics_parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 2] = "127.0.0.1";
	const char *port = s, *colon;
	unsigned long p;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(end - s - 1), s + 1);
		port = end + 2;
	} else if ((colon = strrchr(s, ':'))) {
		if ((size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon)
			return -EINVAL;
		if (colon != s)
			snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
		port = colon + 1;
	}
	if (parse_ulong(port, 1, 65535, &p))
		return -EINVAL;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(p);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p);
		return 0;
	}
	return -EINVAL;
}
