// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curses.h>
#include "hist.h"
#include "lb.h"
#include "alerts.h"
#include "top.h"
#include "nat.h"
#include "ports.h"
#include "util.h"

#define TOP_DESTS 5
#define TOP_NAT 3

#define WHERE_MAX 64		/* the POD/CONTAINER cell, cut to its width when drawn */
#define WHERE_COL 24

struct row {
	__u32 pid;			/* grouped: the processes in the group */
	char comm[PL_COMM_LEN];		/* sanitized; grouped: the busiest one's */
	char key[PL_COMM_LEN];		/* raw, to match leases */
	char where[WHERE_MAX];		/* container__short(); the group's key when grouped */
	__s64 held;
	__u64 allocs, fails, tw;
	double rate;
	__u64 p99_lat, med_hold;
	struct proc_stats *agg;		/* grouped: the members' stats summed (while updating) */
	bool alerted;			/* raised a security alert lately: marked '!' */
};

struct top {
	bool tty;
	FILE *out;
	enum top_sort sort;
	bool reverse;
	struct row *rows, *prev;
	size_t n, nprev;
	__u64 prev_ns;
	struct dest dests[TOP_DESTS];
	size_t nd;
	struct nat_dest nat[TOP_NAT];	/* the fullest NAT destinations */
	size_t nnat;
	__u64 drops, misses;
	__u64 alerts;			/* raised so far; the title shows them */
	char mode[16];
	bool drawn;
	struct container_src ctrs;
	bool by_pod;			/* one row per pod (or container, or host) */
	struct row *groups;		/* the rows by pod, when by_pod */
	size_t ngroups;
};

static const char *const sort_names[TS_MAX] = {
	"pid", "comm", "held", "rate", "fail", "tw", "lat", "hold",
};
/* The key that sorts by each column: the column's initial where it is free. */
static const char sort_keys[TS_MAX] = { 'p', 'c', 'h', 'a', 'f', 't', 'l', 'o' };

int top_sort_parse(const char *s)
{
	for (int i = 0; i < TS_MAX; i++)
		if (!strcmp(s, sort_names[i]))
			return i;
	return -1;
}

struct top *top__new(bool tty, enum top_sort sort, FILE *out, struct container_src ctrs,
		     bool by_pod)
{
	struct top *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->tty = tty;
	t->out = out;
	t->sort = sort;
	t->ctrs = ctrs;
	t->by_pod = by_pod;
	if (tty) {
		/* newterm, not initscr: initscr exits the process when TERM is unusable */
		if (!newterm(NULL, stdout, stdin)) {
			free(t);
			errno = ENOTTY;
			return NULL;
		}
		cbreak();
		noecho();
		nodelay(stdscr, TRUE);
		keypad(stdscr, TRUE);
		curs_set(0);
	}
	return t;
}

void top__free(struct top *t)
{
	if (!t)
		return;
	if (t->tty)
		endwin();
	free(t->rows);
	free(t->prev);
	free(t->groups);
	free(t);
}

void top__set_nat(struct top *t, struct nat_view *v)
{
	size_t n = 0;
	struct nat_dest *d = v ? nat_view__sorted(v, &n) : NULL;

	t->nnat = d ? (n < TOP_NAT ? n : TOP_NAT) : 0;
	if (t->nnat)
		memcpy(t->nat, d, t->nnat * sizeof(*d));
	free(d);
}

static int row_key_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return strncmp(a->key, b->key, PL_COMM_LEN);
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

static enum top_sort g_sort;
static bool g_reverse;

static int row_sort_cmp(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	int c;

	switch (g_sort) {
	case TS_PID: c = CMP(a->pid, b->pid); break;
	case TS_COMM: c = strcmp(a->comm, b->comm); break;	/* grouped: by pod */
	/* numbers: biggest first, as a user hunting the culprit wants */
	case TS_HELD: c = -CMP(a->held, b->held); break;
	case TS_RATE: c = -CMP(a->rate, b->rate); break;
	case TS_FAIL: c = -CMP(a->fails, b->fails); break;
	case TS_TW: c = -CMP(a->tw, b->tw); break;
	case TS_LAT: c = -CMP(a->p99_lat, b->p99_lat); break;
	case TS_HOLD: c = -CMP(a->med_hold, b->med_hold); break;
	default: c = 0;
	}
	if (!c)
		c = CMP(a->pid, b->pid);
	if (!c)
		c = strcmp(a->where, b->where);
	return g_reverse ? -c : c;
}

static int row_where_cmp(const void *x, const void *y)
{
	return strcmp(((const struct row *)x)->where, ((const struct row *)y)->where);
}

static void sort_rows(struct top *t)
{
	g_sort = t->sort;
	g_reverse = t->reverse;
	qsort(t->rows, t->n, sizeof(*t->rows), row_sort_cmp);
	if (t->groups) {
		/* by pid means by size when grouped; by comm, by the group's name */
		if (g_sort == TS_COMM)
			qsort(t->groups, t->ngroups, sizeof(*t->groups), row_where_cmp);
		else
			qsort(t->groups, t->ngroups, sizeof(*t->groups), row_sort_cmp);
	}
}

/*
 * One row per pod (or per container outside pods, or one for the host):
 * counts and rates summed, percentiles from the members' summed histograms.
 */
static void group_rows(struct top *t, const struct row *rows, size_t n,
		       struct proc_stats *const *stats)
{
	struct row *g = calloc(n + 1, sizeof(*g));
	struct proc_stats *sum = calloc(n + 1, sizeof(*sum));
	__u64 *most = calloc(n + 1, sizeof(*most));	/* the busiest member's allocations */
	size_t k = 0;

	free(t->groups);
	t->groups = NULL;
	t->ngroups = 0;
	if (!g || !sum || !most) {
		free(g);
		free(sum);
		free(most);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct row *hit = NULL;

		for (size_t j = 0; j < k && !hit; j++)
			if (!strcmp(g[j].where, rows[i].where))
				hit = &g[j];
		if (!hit) {
			hit = &g[k];
			hit->agg = &sum[k++];
			snprintf(hit->where, sizeof(hit->where), "%s", rows[i].where);
		}
		if (hit->pid == 0 || rows[i].allocs > most[hit - g]) {
			most[hit - g] = rows[i].allocs;
			memcpy(hit->comm, rows[i].comm, sizeof(hit->comm));
		}
		hit->pid++;
		hit->held += rows[i].held;
		hit->allocs += rows[i].allocs;
		hit->fails += rows[i].fails;
		hit->tw += rows[i].tw;
		hit->rate += rows[i].rate;
		hit->alerted |= rows[i].alerted;
		agg__merge(hit->agg, stats[i]);
	}
	for (size_t j = 0; j < k; j++) {
		g[j].p99_lat = g[j].agg->alloc_lat.count ? hist__percentile(&g[j].agg->alloc_lat, 99) : 0;
		g[j].med_hold = g[j].agg->hold.count ? hist__percentile(&g[j].agg->hold, 50) : 0;
		g[j].agg = NULL;
	}
	free(sum);
	free(most);
	t->groups = g;
	t->ngroups = k;
}

void top__update(struct top *t, struct agg *a, struct lease_table *lt, const struct dest *dv,
		 size_t nd, const struct run_info *ri, __u64 now_ns)
{
	struct proc_stats **v;
	struct row *rows;
	size_t n;
	double dt = t->prev_ns && now_ns > t->prev_ns ? (now_ns - t->prev_ns) / 1e9 : 0;

	v = agg__sorted(a, &n);
	if (!v)
		return;
	/* live processes only: rows folded from idle ones (agg.c) are in the summary */
	{
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (!v[i]->folded)
				v[k++] = v[i];
		n = k;
	}
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct proc_stats *p = v[i];
		struct row *r = &rows[i];

		r->agg = p;
		container__short(container_src__get(&t->ctrs, p->cgroup_id), r->where,
				 sizeof(r->where));
		r->pid = p->pid;
		memcpy(r->key, p->comm, PL_COMM_LEN);
		comm_sanitize(p->comm, PL_COMM_LEN, r->comm, sizeof(r->comm));
		r->held = p->held;
		r->allocs = p->allocs;
		r->fails = p->failures;
		r->p99_lat = p->alloc_lat.count ? hist__percentile(&p->alloc_lat, 99) : 0;
		r->med_hold = p->hold.count ? hist__percentile(&p->hold, 50) : 0;
		r->alerted = ri && alerts__pid_alerted(ri->alerts, p->pid);
	}
	/* keyed by (pid, comm), as the aggregation is, for the rates and TW counts */
	qsort(rows, n, sizeof(*rows), row_key_cmp);
	for (size_t i = 0; i < n; i++) {
		struct row *r = &rows[i], *old = NULL;

		if (t->prev)
			old = bsearch(r, t->prev, t->nprev, sizeof(*r), row_key_cmp);
		if (dt > 0)
			r->rate = (r->allocs - (old && old->allocs <= r->allocs ? old->allocs : 0)) / dt;
	}
	for (struct lease *l = lt ? lease_table__tw_first(lt) : NULL; l; l = lease_table__tw_next(l)) {
		struct row key = { .pid = l->pid }, *hit;

		if (!(l->flags & L_IN_TW))
			continue;
		memcpy(key.key, l->comm, PL_COMM_LEN);
		hit = bsearch(&key, rows, n, sizeof(*rows), row_key_cmp);
		if (hit)
			hit->tw++;
	}
	if (t->by_pod) {
		struct proc_stats **st = malloc((n + 1) * sizeof(*st));

		if (st) {
			for (size_t i = 0; i < n; i++)
				st[i] = rows[i].agg;
			group_rows(t, rows, n, st);
			free(st);
		}
	} else {
		free(t->groups);
		t->groups = NULL;
		t->ngroups = 0;
	}
	for (size_t i = 0; i < n; i++)
		rows[i].agg = NULL;
	free(v);
	/* the next update's rates need this one's counts, in key order */
	free(t->prev);
	t->prev = malloc((n + 1) * sizeof(*rows));
	t->nprev = t->prev ? n : 0;
	if (t->prev)
		memcpy(t->prev, rows, n * sizeof(*rows));
	t->prev_ns = now_ns;
	free(t->rows);
	t->rows = rows;
	t->n = n;
	t->nd = nd < TOP_DESTS ? nd : TOP_DESTS;
	if (t->nd)
		memcpy(t->dests, dv, t->nd * sizeof(*dv));
	if (ri) {
		t->drops = 0;
		for (int k = 0; k < PL_EV_MAX; k++)
			t->drops += ri->drops[k];
		t->misses = ri->recursion_misses == PL_NOT_COUNTED ? 0 : ri->recursion_misses;
		t->alerts = alerts__total(ri->alerts);
		snprintf(t->mode, sizeof(t->mode), "%s", ri->mode ? ri->mode : "");
	}
	sort_rows(t);
	top__redraw(t);
}

/* "!" marks a process that raised a security alert lately, before where it runs. */
static const char *hdr_fmt = "%7s %-15s %7s %8s %6s %6s %9s %9s %1s %s";
#define ROW_FMT "%7u %-15s %7lld %8.1f %6llu %6llu %9s %9s %1s %.*s"

static void fmt_header(const struct top *t, char *buf, size_t len)
{
	snprintf(buf, len, hdr_fmt, t->by_pod ? "PROCS" : "PID", t->by_pod ? "BUSIEST" : "COMM",
		 "HELD", "ALLOC/s", "FAILS", "TW", "P99 LAT", "MED HOLD", "!",
		 t->by_pod ? "POD (OR CONTAINER)" : "POD/CONTAINER");
}

static void fmt_row(const struct row *r, char *buf, size_t len)
{
	char lat[24], hold[24];

	/* names are validated (container.h): printable, cut to the column */
	snprintf(buf, len, ROW_FMT, r->pid, r->comm, (long long)r->held, r->rate,
		 (unsigned long long)r->fails, (unsigned long long)r->tw,
		 r->p99_lat ? dur_str(r->p99_lat, lat, sizeof(lat)) : "-",
		 r->med_hold ? dur_str(r->med_hold, hold, sizeof(hold)) : "-",
		 r->alerted ? "!" : "", WHERE_COL, r->where);
}

/* The rows shown: per process, or per pod. */
static const struct row *shown_rows(const struct top *t, size_t *n)
{
	if (t->by_pod && t->groups) {
		*n = t->ngroups;
		return t->groups;
	}
	*n = t->n;
	return t->rows;
}

static void fmt_dest(const struct dest *d, char *buf, size_t len)
{
	char ep[64];

	snprintf(buf, len, "  %-30s %5.1f%% used  %6u of %-6u  %6u TIME_WAIT  netns %u",
		 endpoint_str(d->family, d->raddr, d->rport, ep, sizeof(ep)), d->used_pct,
		 d->in_use, d->usable, d->time_wait, d->netns);
}

static void fmt_title(const struct top *t, char *buf, size_t len)
{
	char ts[32], al[32] = "";
	time_t now = time(NULL);
	struct tm tm;

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime_r(&now, &tm));
	/* only once there are some: the title fits 80 columns as it was */
	if (t->alerts)
		snprintf(al, sizeof(al), "  alerts %llu", (unsigned long long)t->alerts);
	snprintf(buf, len, "portlife top  %s  mode %s  procs %zu%s  lost %llu%s  sort %s%s",
		 ts, t->mode, t->n, t->by_pod ? "  by pod" : "",
		 (unsigned long long)(t->drops + t->misses), al, sort_names[t->sort],
		 t->reverse ? " (reversed)" : "");
}

static void draw_text(struct top *t)
{
	char buf[256];
	size_t n;
	const struct row *rows = shown_rows(t, &n);
	size_t shown = n < 20 ? n : 20;

	fmt_title(t, buf, sizeof(buf));
	fprintf(t->out, "%s\n", buf);
	fmt_header(t, buf, sizeof(buf));
	fprintf(t->out, "%s\n", buf);
	for (size_t i = 0; i < shown; i++) {
		fmt_row(&rows[i], buf, sizeof(buf));
		fprintf(t->out, "%s\n", buf);
	}
	if (n > shown)
		fprintf(t->out, "  ... %zu more\n", n - shown);
	if (t->nd) {
		fprintf(t->out, "least headroom:\n");
		for (size_t i = 0; i < t->nd; i++) {
			fmt_dest(&t->dests[i], buf, sizeof(buf));
			fprintf(t->out, "%s\n", buf);
		}
	}
	if (t->nnat) {
		fprintf(t->out, "NAT least headroom:\n");
		for (size_t i = 0; i < t->nnat; i++) {
			nat_dest_line(&t->nat[i], buf, sizeof(buf));
			fprintf(t->out, "%s\n", buf);
		}
	}
	fprintf(t->out, "\n");
	lb_flush(t->out);	/* the cause of a failure kept: a closed pipe is a normal stop */
}

void top__redraw(struct top *t)
{
	char buf[256];
	int rows, cols, y = 0, procs;
	size_t n;
	const struct row *rv = shown_rows(t, &n);

	if (!t->tty) {
		draw_text(t);
		return;
	}
	getmaxyx(stdscr, rows, cols);
	erase();
	fmt_title(t, buf, sizeof(buf));
	mvaddnstr(y++, 0, buf, cols);
	fmt_header(t, buf, sizeof(buf));
	attron(A_REVERSE);
	mvaddnstr(y++, 0, buf, cols);
	attroff(A_REVERSE);
	/* the destinations panel and the key line keep their place at the bottom */
	procs = rows - y - 1 - (t->nd ? (int)t->nd + 1 : 0) - (t->nnat ? (int)t->nnat + 1 : 0);
	for (int i = 0; i < procs && (size_t)i < n; i++) {
		fmt_row(&rv[i], buf, sizeof(buf));
		mvaddnstr(y++, 0, buf, cols);
	}
	if (procs > 0 && n > (size_t)procs) {
		/* the last row gives way to the count of the rows not shown */
		snprintf(buf, sizeof(buf), "  ... %zu more (sort to see others)", n - procs + 1);
		move(y - 1, 0);
		clrtoeol();
		mvaddnstr(y - 1, 0, buf, cols);
	}
	if (t->nnat) {
		y = rows - 2 - (int)t->nnat - (t->nd ? (int)t->nd + 1 : 0);
		attron(A_BOLD);
		mvaddnstr(y++, 0, "NAT: THE LEAST HEADROOM", cols);
		attroff(A_BOLD);
		for (size_t i = 0; i < t->nnat; i++) {
			nat_dest_line(&t->nat[i], buf, sizeof(buf));
			mvaddnstr(y++, 0, buf, cols);
		}
	}
	if (t->nd) {
		y = rows - 2 - (int)t->nd;
		attron(A_BOLD);
		mvaddnstr(y++, 0, "DESTINATIONS WITH THE LEAST HEADROOM", cols);
		attroff(A_BOLD);
		for (size_t i = 0; i < t->nd; i++) {
			fmt_dest(&t->dests[i], buf, sizeof(buf));
			mvaddnstr(y++, 0, buf, cols);
		}
	}
	mvaddnstr(rows - 1, 0, "sort: p)id c)omm h)eld a)lloc/s f)ails t)w l)at hol(o) "
			       "r)everse  g)roup by pod  q)uit", cols);
	refresh();
	t->drawn = true;
}

int top__keys(struct top *t)
{
	int ch, ret = 0;

	if (!t->tty)
		return 0;
	while ((ch = getch()) != ERR) {
		if (ch == 'q' || ch == 'Q')
			return 1;
		if (ch == KEY_RESIZE) {
			ret = 2;
			continue;
		}
		if (ch == 'r') {
			t->reverse = !t->reverse;
			ret = 2;
			continue;
		}
		if (ch == 'g') {
			/* the groups are made at the next update; until then the rows stay */
			t->by_pod = !t->by_pod;
			ret = 2;
			continue;
		}
		if (ch == KEY_LEFT || ch == '<') {
			t->sort = (t->sort + TS_MAX - 1) % TS_MAX;
			ret = 2;
			continue;
		}
		if (ch == KEY_RIGHT || ch == '>') {
			t->sort = (t->sort + 1) % TS_MAX;
			ret = 2;
			continue;
		}
		for (int i = 0; i < TS_MAX; i++) {
			if (ch == sort_keys[i]) {
				t->sort = i;
				t->reverse = false;
				ret = 2;
			}
		}
	}
	if (ret == 2)
		sort_rows(t);
	return ret;
}
