// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "agg.h"
#include "tracefile.h"
#include "util.h"

/*
 * A process keeps a row per name it allocated under (PR_SET_NAME renames
 * it), up to AGG_NAMES_PER_PID: past that, its events go to its last row and
 * are counted there as renamed. Without the bound, a process renaming itself
 * before each bind would make every later event of its pid walk one row per
 * name it ever had.
 */
/* The rows of one pid. */
struct pid_ent {
	__u32 pid;
	__u32 names;
	struct proc_stats *last;	/* the row made last */
	struct pid_ent *next;
};

struct agg {
	struct proc_stats *last;	/* the row of the last event: the next is often its */
	struct proc_stats **buckets;	/* by (pid, comm); folded rows by (0, comm) */
	struct pid_ent **pids;		/* by pid */
	size_t nbuckets, n, max;
	__u64 seed;			/* keyed hashing: pids and comms come from a file too */
	struct proc_stats other;	/* everyone past max */
	__u64 overflowed;
	__u64 retired;			/* process rows folded (proc_stats.folded) */
	size_t retire_skip;		/* new rows to wait before another fruitless retire() */
};

struct agg *agg__new(size_t max_procs)
{
	struct agg *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->nbuckets = 1024;
	while (a->nbuckets < max_procs)
		a->nbuckets <<= 1;
	a->max = max_procs;
	a->buckets = calloc(a->nbuckets, sizeof(*a->buckets));
	a->pids = calloc(a->nbuckets, sizeof(*a->pids));
	if (!a->buckets || !a->pids) {
		agg__free(a);
		errno = ENOMEM;
		return NULL;
	}
	if (getrandom(&a->seed, sizeof(a->seed), GRND_NONBLOCK) != sizeof(a->seed))
		a->seed = (__u64)(uintptr_t)a * 0x9e3779b97f4a7c15ULL;
	strcpy(a->other.comm, "[other]");
	return a;
}

void agg__free(struct agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; a->buckets && i < a->nbuckets; i++) {
		struct proc_stats *p = a->buckets[i], *next;

		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	for (size_t i = 0; a->pids && i < a->nbuckets; i++) {
		struct pid_ent *p = a->pids[i], *next;

		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(a->buckets);
	free(a->pids);
	free(a);
}

static size_t mix(const struct agg *a, __u64 v)
{
	v ^= a->seed;
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	v *= 0xc4ceb9fe1a85ec53ULL;
	v ^= v >> 33;
	return v & (a->nbuckets - 1);
}

static size_t row_bucket(const struct agg *a, __u32 pid, const char *comm)
{
	__u64 v = pid, c[2];

	memcpy(c, comm, sizeof(c));
	v = v * 0x100000001b3ULL ^ c[0];
	v = (v ^ (v >> 29)) * 0xbf58476d1ce4e5b9ULL ^ c[1];
	return mix(a, v);
}

/* The rows of pid, or NULL; *prev set to the link that points at it. */
static struct pid_ent *pid_find(struct agg *a, __u32 pid, struct pid_ent ***prev)
{
	struct pid_ent **pp = &a->pids[mix(a, pid)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->pid == pid)
			break;
	*prev = pp;
	return *pp;
}

static struct pid_ent *pid_get(struct agg *a, __u32 pid)
{
	size_t b = mix(a, pid);
	struct pid_ent *p;

	for (p = a->pids[b]; p; p = p->next)
		if (p->pid == pid)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->next = a->pids[b];
	a->pids[b] = p;
	return p;
}

__u64 agg__overflowed(const struct agg *a)
{
	return a->overflowed;
}

__u64 agg__retired(const struct agg *a)
{
	return a->retired;
}

/* The row of folded processes named comm in cgroup cgid, made if need be; NULL: no memory. */
static struct proc_stats *folded_get(struct agg *a, const char *comm, __u64 cgid)
{
	size_t b = row_bucket(a, 0, comm);
	struct proc_stats *p;

	for (p = a->buckets[b]; p; p = p->next)
		if (p->folded && p->cgroup_id == cgid && !memcmp(p->comm, comm, PL_COMM_LEN))
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->comm, comm, PL_COMM_LEN);
	p->cgroup_id = cgid;
	p->next = a->buckets[b];
	a->buckets[b] = p;
	a->n++;
	return p;
}

/* Takes row p out of the table (its bucket, its pid's rows) and frees it. */
static void row_drop(struct agg *a, struct proc_stats *p)
{
	struct proc_stats **pp = &a->buckets[row_bucket(a, p->pid, p->comm)];
	struct pid_ent *pe, **pprev;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	pe = pid_find(a, p->pid, &pprev);
	if (pe && !--pe->names) {
		*pprev = pe->next;
		free(pe);
	} else if (pe && pe->last == p) {
		pe->last = NULL;	/* proc_get() finds the others by name */
	}
	if (a->last == p)
		a->last = NULL;
	a->n--;
	free(p);
}

static int by_active(const void *x, const void *y)
{
	const struct proc_stats *a = *(const struct proc_stats * const *)x;
	const struct proc_stats *b = *(const struct proc_stats * const *)y;

	return a->active_ts < b->active_ts ? -1 : a->active_ts > b->active_ts;
}

/*
 * The table is full. A long run sees far more processes than it can keep
 * rows for (health checks, cron jobs: a new pid each time), and once full,
 * every new one went to "[other]": the process causing trouble today had no
 * name. So the rows that hold nothing (no port, no NAT port), idle longest,
 * an eighth of the table, fold into one row per name and cgroup (pid 0,
 * folded: how many): every per-name and per-pod count stays where it was (the
 * metrics' counters only grow) and room is made. A process folded that
 * comes back gets a row anew. Where nothing can be folded (all hold ports,
 * or each name and cgroup is one process's), "[other]" as before.
 */
static void retire(struct agg *a)
{
	size_t k = 0, n0 = a->n, want = a->max / 8 > 2 ? a->max / 8 : 2;
	struct proc_stats **v;

	/*
	 * A pass that freed too little (the rows hold ports, or each name and
	 * cgroup is one process's: folding makes as many rows as it takes) is
	 * not tried again for the next eighth of the table's worth of new
	 * processes: each pass walks the whole table.
	 */
	if (a->retire_skip) {
		a->retire_skip--;
		return;
	}
	v = malloc(a->n * sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < a->nbuckets; i++)
		for (struct proc_stats *p = a->buckets[i]; p; p = p->next)
			if (!p->folded && !p->held && !p->nat_held)
				v[k++] = p;
	qsort(v, k, sizeof(*v), by_active);
	for (size_t i = 0; i < k && i < want; i++) {
		struct proc_stats *p = v[i], *x = folded_get(a, p->comm, p->cgroup_id);

		if (!x)
			break;
		agg__merge(x, p);
		x->folded++;
		if (!x->first_ts || (p->first_ts && p->first_ts < x->first_ts))
			x->first_ts = p->first_ts;
		if (p->last_ts > x->last_ts)
			x->last_ts = p->last_ts;
		if (p->active_ts > x->active_ts)
			x->active_ts = p->active_ts;
		a->retired++;
		row_drop(a, p);
	}
	if (a->n + want / 2 > n0)
		a->retire_skip = want;
	free(v);
}

static struct proc_stats *proc_get(struct agg *a, __u32 pid, const char *comm, __u64 cgid)
{
	char name[PL_COMM_LEN] = {};
	struct proc_stats *p;
	struct pid_ent *pe;
	size_t b;

	memcpy(name, comm, PL_COMM_LEN - 1);
	if (a->last && a->last->pid == pid && !memcmp(a->last->comm, name, PL_COMM_LEN))
		return a->last;
	b = row_bucket(a, pid, name);
	for (p = a->buckets[b]; p; p = p->next)
		if (p->pid == pid && !p->folded && !memcmp(p->comm, name, PL_COMM_LEN))
			return a->last = p;
	if (a->n >= a->max)
		retire(a);
	pe = pid_get(a, pid);
	if (pe && pe->names >= AGG_NAMES_PER_PID && pe->last) {
		pe->last->renamed++;
		return pe->last;
	}
	if (!pe || a->n >= a->max || !(p = calloc(1, sizeof(*p)))) {
		a->overflowed++;
		return &a->other;
	}
	p->pid = pid;
	memcpy(p->comm, name, PL_COMM_LEN);
	p->cgroup_id = cgid;
	p->next = a->buckets[b];
	a->buckets[b] = p;
	a->n++;
	pe->names++;
	pe->last = p;
	return a->last = p;
}

/* Adds n to err's slot of a by-errno array; false if every slot holds another errno. */
static bool count_errno(struct errno_count *v, int err, __u64 n)
{
	for (int i = 0; i < AGG_ERRNOS; i++) {
		if (v[i].err == err || !v[i].n) {
			v[i].err = err;
			v[i].n += n;
			return true;
		}
	}
	return false;
}

static void count_failures(struct proc_stats *p, int err, __u64 n)
{
	p->failures += n;
	if (!count_errno(p->fail, err, n))
		p->fail_other += n;
}

static void lease_ended(struct proc_stats *p, const struct lease *l)
{
	p->releases++;
	if (l->end_reason < AGG_REASONS)
		p->end_reason[l->end_reason]++;
	if (!(l->flags & L_ALLOCATED))
		return;	/* began before we looked: no honest durations */
	p->held--;
	if (l->end_ts >= l->alloc_ts)
		hist__add(&p->hold, l->end_ts - l->alloc_ts);
	if (l->close_ts && l->close_ts >= l->alloc_ts)
		hist__add(&p->lifetime, l->close_ts - l->alloc_ts);
	if (l->tw_enter_ts && l->tw_exit_ts >= l->tw_enter_ts)
		hist__add(&p->tw_time, l->tw_exit_ts - l->tw_enter_ts);
}

static void touch(struct proc_stats *p, __u64 ts)
{
	if (ts > p->active_ts)
		p->active_ts = ts;
}

void agg__apply(struct agg *a, const struct pl_event *e, const struct lease_result *r)
{
	const struct lease *l = r->lease;
	struct proc_stats *p;

	if (e->type == PL_EV_BIND_ERROR) {
		/* no port search: not a failure to allocate, but the process's all the same */
		p = proc_get(a, e->pid, e->comm, e->cgroup_id);
		touch(p, e->ts_ns);
		p->bind_errors++;
		count_errno(p->bind_err, e->err, 1);
		return;
	}
	/*
	 * --max-leases full: an evicted lease's port no longer counts as held
	 * by its process (its end may never be told: one waiting for TIME_WAIT
	 * has no kernel event to come back with); one that comes back counts
	 * again until its end. The evictions are in the leases line.
	 */
	if (r->evicted) {
		p = proc_get(a, r->evicted_pid, r->evicted_comm, r->evicted_cgroup);
		if (p->held)
			p->held--;
	}
	if (r->revived) {
		/* every event carries its lease's owner */
		p = proc_get(a, e->pid, e->comm, e->cgroup_id);
		p->held++;
	}
	if (r->what == LW_NONE)
		return;
	if (r->what == LW_ALLOC && e->err) {
		p = proc_get(a, e->pid, e->comm, e->cgroup_id);
		touch(p, e->ts_ns);
		if (e->sflags & PL_ALLOCF_BOUND) {
			/* no search failed: not in the failures, nor their latency */
			p->tuple_fails++;
			return;
		}
		count_failures(p, e->err, 1);
		if (e->err == EADDRINUSE && e->kind == PL_ALLOC_BIND_EXPLICIT)
			p->port_taken++;
		if (e->sflags & PL_ALLOCF_OWN_RANGE)
			p->own_range_fails++;
		hist__add(&p->alloc_lat, e->dur_ns);
		return;
	}
	if (!l)
		return;
	p = proc_get(a, l->pid, l->comm, l->cgroup_id);
	touch(p, e->ts_ns);
	switch (r->what) {
	case LW_STATE:
		/* bind(0) then connect(): the port was picked without the destination. */
		if (l->kind == PL_ALLOC_BIND_EPHEMERAL && e->old_state == PL_TCP_CLOSE && e->new_state == PL_TCP_SYN_SENT)
			p->bind_then_connect++;
		break;
	case LW_ALLOC:
		if (!p->first_ts)
			p->first_ts = l->alloc_ts;
		p->last_ts = l->alloc_ts;
		p->allocs++;
		p->held++;
		if (p->held > p->peak_held)
			p->peak_held = p->held;
		if (alloc_lat_known(l->alloc_lat, 0))
			hist__add(&p->alloc_lat, l->alloc_lat);
		if (r->ended_too)
			lease_ended(p, l);
		break;
	case LW_TW_ENTER:
		p->tw_entered++;
		if (addr_loopback(l->family, l->laddr))
			p->tw_loopback++;
		break;
	case LW_END:
		lease_ended(p, l);
		break;
	default:
		break;
	}
}

void agg__nat(struct agg *a, const struct pl_nat_rec *n)
{
	struct proc_stats *p;

	if (n->kind == PL_NAT_SEEN)
		return;	/* taken before tracing: its owner is not known to have done it now */
	p = proc_get(a, n->pid, n->comm, n->cgroup_id);
	touch(p, n->ts_ns);
	switch (n->kind) {
	case PL_NAT_NEW:
		p->nat_taken++;
		p->nat_held++;
		break;
	case PL_NAT_FAIL:
		/* a drop with its NAT port free, an insert race: no NAT port was short */
		if (!(n->flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW)))
			p->nat_failed += n->n;
		break;
	case PL_NAT_END:
		p->nat_released++;
		if (n->flags & PL_NATF_WAS_SEEN)
			break;	/* its NEW was before tracing: not in nat_held, no hold time */
		p->nat_held--;
		if (!(n->flags & PL_NATF_END_LOST))
			hist__add(&p->nat_hold, n->hold_ns);
		break;
	}
}

const char *agg__remedy(const struct proc_stats *p, char *buf, size_t len)
{
	double secs = p->last_ts > p->first_ts ? (p->last_ts - p->first_ts) / 1e9 : 0;
	double rate = secs >= 1 ? p->allocs / secs : 0;
	__u64 life = p->lifetime.count ? hist__percentile(&p->lifetime, 50) : 0;
	/*
	 * TIME_WAIT on loopback is taken over by connect() already (the
	 * default tcp_tw_reuse 2, with timestamps, after tcp_tw_reuse_delay):
	 * setting 1 is no remedy there.
	 */
	bool lo_tw = p->tw_loopback * 2 > p->tw_entered;

	if (p->bind_then_connect)
		snprintf(buf, len, "binds to port 0 before connecting (%llu time%s): set "
				   "IP_BIND_ADDRESS_NO_PORT before bind() so connect() picks the port "
				   "per destination",
			 (unsigned long long)p->bind_then_connect,
			 p->bind_then_connect == 1 ? "" : "s");
	else if (rate >= 10 && p->lifetime.count && life < 1000000000ULL)
		snprintf(buf, len, "%.0f short connections a second (median life %.1f ms): reuse "
				   "them (keep-alive, a connection pool)%s",
			 rate, life / 1e6,
			 p->tw_entered * 2 < p->allocs ? "" :
			 lo_tw ? "; they end in TIME_WAIT on loopback, which connect() takes over "
				 "already (net.ipv4.tcp_tw_reuse=2, the default, with timestamps)" :
				 "; they end in TIME_WAIT, so net.ipv4.tcp_tw_reuse=1 helps the client");
	else if (p->tw_entered && p->tw_entered * 2 >= p->allocs && p->allocs >= 100)
		snprintf(buf, len, "most of its ports end in TIME_WAIT%s", lo_tw ?
			 " on loopback: reuse connections (net.ipv4.tcp_tw_reuse=2, the default, "
			 "lets connect() take them over already, with timestamps)" :
			 ": reuse connections, or net.ipv4.tcp_tw_reuse=1 on the client");
	else if (p->failures && p->port_taken == p->failures)
		/* a port asked for by number is taken: no range helps (bind(0)'s EADDRINUSE is an
		 * exhausted range, which does) */
		snprintf(buf, len, "bind() to a port in use: see the diagnosis lines for its "
				   "holder and remedy (for TCP, SO_REUSEADDR only helps against TIME_WAIT "
				   "holders)");
	else if (p->failures && p->own_range_fails == p->failures)
		/* the netns's range is not what ran out: the sockets narrowed their own */
		snprintf(buf, len, "its sockets' own IP_LOCAL_PORT_RANGE had no port left (%llu "
				   "failure%s): widen it; net.ipv4.ip_local_port_range does not help "
				   "them", (unsigned long long)p->failures, p->failures == 1 ? "" : "s");
	else if (p->failures)
		snprintf(buf, len, "allocations failed: see the diagnosis lines; widen "
				   "net.ipv4.ip_local_port_range or set IP_LOCAL_PORT_RANGE per socket");
	else if (p->tuple_fails)
		/* no search failed: a bound port met its own earlier connection */
		snprintf(buf, len, "connect() from a bound port to a destination that port was "
				   "still connected to, or in TIME_WAIT with (%llu time%s): a bound "
				   "port makes one connection per destination; let connect() choose "
				   "the port (no bind(), or IP_BIND_ADDRESS_NO_PORT before bind())",
			 (unsigned long long)p->tuple_fails, p->tuple_fails == 1 ? "" : "s");
	else
		return NULL;
	return buf;
}

static int by_allocs(const void *x, const void *y)
{
	const struct proc_stats *a = *(const struct proc_stats * const *)x;
	const struct proc_stats *b = *(const struct proc_stats * const *)y;
	__u64 ta = a->allocs + a->failures, tb = b->allocs + b->failures;

	if (ta != tb)
		return ta < tb ? 1 : -1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

struct proc_stats **agg__sorted(struct agg *a, size_t *n)
{
	struct proc_stats **v = calloc(a->n + 1, sizeof(*v));
	size_t k = 0;

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < a->nbuckets; i++)
		for (struct proc_stats *p = a->buckets[i]; p; p = p->next)
			v[k++] = p;
	if (a->overflowed)
		v[k++] = &a->other;
	qsort(v, k, sizeof(*v), by_allocs);
	*n = k;
	return v;
}

__u64 agg__ended_by(struct agg *a, int reason)
{
	struct proc_stats t;

	if (reason < 0 || reason >= AGG_REASONS)
		return 0;
	agg__total(a, &t);
	return t.end_reason[reason];
}

void agg__merge(struct proc_stats *out, const struct proc_stats *p)
{
	out->allocs += p->allocs;
	for (int k = 0; k < AGG_ERRNOS && p->fail[k].n; k++)
		count_failures(out, p->fail[k].err, p->fail[k].n);
	out->fail_other += p->fail_other;
	out->failures += p->fail_other;
	out->tw_entered += p->tw_entered;
	out->renamed += p->renamed;
	out->bind_errors += p->bind_errors;
	for (int k = 0; k < AGG_ERRNOS && p->bind_err[k].n; k++)
		count_errno(out->bind_err, p->bind_err[k].err, p->bind_err[k].n);
	out->bind_then_connect += p->bind_then_connect;
	out->port_taken += p->port_taken;
	out->own_range_fails += p->own_range_fails;
	out->tuple_fails += p->tuple_fails;
	out->tw_loopback += p->tw_loopback;
	out->releases += p->releases;
	for (int k = 0; k < AGG_REASONS; k++)
		out->end_reason[k] += p->end_reason[k];
	out->held += p->held;
	out->peak_held += p->peak_held;
	hist__merge(&out->alloc_lat, &p->alloc_lat);
	hist__merge(&out->hold, &p->hold);
	hist__merge(&out->tw_time, &p->tw_time);
	hist__merge(&out->lifetime, &p->lifetime);
	out->nat_taken += p->nat_taken;
	out->nat_failed += p->nat_failed;
	out->nat_released += p->nat_released;
	out->nat_held += p->nat_held;
	hist__merge(&out->nat_hold, &p->nat_hold);
	out->folded += p->folded;
}

void agg__total(struct agg *a, struct proc_stats *out)
{
	size_t n;
	struct proc_stats **v = agg__sorted(a, &n);

	memset(out, 0, sizeof(*out));
	strcpy(out->comm, "[all]");
	for (size_t i = 0; v && i < n; i++)
		agg__merge(out, v[i]);
	out->folded = 0;	/* a sum, not a row of folded processes */
	free(v);
}
