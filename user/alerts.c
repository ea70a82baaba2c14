// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The security rules (see alerts.h): their options, their bounded state, the
 * alerts they raise and how those are shown. Fed only by events: the clock is
 * each event's ts_ns, so a recording replays into the same alerts.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "alerts.h"
#include "json.h"
#include "tracefile.h"
#include "util.h"

#define NS 1000000000ULL

/* ---- options -------------------------------------------------------------- */

static const char *const rule_names[AR_MAX] = {
	"scan_out", "scan_in", "alloc_burst", "listen_ephemeral",
};

/* A process scanning outward is the one finding here that means a compromise. */
static const char *const severities[AR_MAX] = { "critical", "warning", "warning", "warning" };

const char *alert_rule_name(enum alert_rule r)
{
	return r < AR_MAX ? rule_names[r] : "?";
}

const char *alert_severity(enum alert_rule r)
{
	return r < AR_MAX ? severities[r] : "?";
}

void alert_cfg_default(struct alert_cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < AR_MAX; i++)
		c->on[i] = true;
	c->so_window = 10;
	c->so_dests = 100;
	c->so_failed_pct = 80;
	c->si_window = 10;
	c->si_ports = 20;
	c->ab_factor = 10;
	c->ab_min = 200;
	c->ab_learn = 10;
}

void alert_cfg_off(struct alert_cfg *c)
{
	for (int i = 0; i < AR_MAX; i++)
		c->on[i] = false;
}

bool alert_cfg_any(const struct alert_cfg *c)
{
	for (int i = 0; i < AR_MAX; i++)
		if (c->on[i])
			return true;
	return false;
}

/* The thresholds --alert RULE:KEY=N sets, with their bounds. */
static const struct param {
	enum alert_rule rule;
	const char *key;
	size_t off;
	unsigned long lo, hi;
} params[] = {
	{ AR_SCAN_OUT, "window", offsetof(struct alert_cfg, so_window), 1, 3600 },
	{ AR_SCAN_OUT, "dests", offsetof(struct alert_cfg, so_dests), 2, 1000 },
	{ AR_SCAN_OUT, "failed", offsetof(struct alert_cfg, so_failed_pct), 1, 100 },
	{ AR_SCAN_IN, "window", offsetof(struct alert_cfg, si_window), 1, 3600 },
	{ AR_SCAN_IN, "ports", offsetof(struct alert_cfg, si_ports), 2, 1000 },
	{ AR_ALLOC_BURST, "factor", offsetof(struct alert_cfg, ab_factor), 2, 1000 },
	{ AR_ALLOC_BURST, "min", offsetof(struct alert_cfg, ab_min), 1, 10000000 },
	{ AR_ALLOC_BURST, "learn", offsetof(struct alert_cfg, ab_learn), 1, ALERT_BURST_HISTORY - 1 },
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

/* "window=1..3600, dests=2..1000, failed=1..100" for rule r */
static void keys_of(enum alert_rule r, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NPARAMS && n < len; i++)
		if (params[i].rule == r)
			n += snprintf(buf + n, len - n, "%s%s=%lu..%lu", n ? ", " : "", params[i].key,
				      params[i].lo, params[i].hi);
	if (!n)
		snprintf(buf, len, "none: only %s=on or %s=off", rule_names[r], rule_names[r]);
}

int alert_cfg_parse(struct alert_cfg *c, const char *arg)
{
	char buf[256], keys[160], *p, *save = NULL, *tok;
	size_t nlen = strcspn(arg, ":=");
	int r;

	for (r = 0; r < AR_MAX; r++)
		if (strlen(rule_names[r]) == nlen && !strncmp(arg, rule_names[r], nlen))
			break;
	if (r == AR_MAX) {
		fprintf(stderr, "portlife: invalid alert '%s': expected RULE=off, RULE=on or "
				"RULE:KEY=N,... with RULE one of " ALERT_RULE_NAMES "\n", arg);
		return -EINVAL;
	}
	if (arg[nlen] == '=') {
		if (!strcmp(arg + nlen + 1, "off") || !strcmp(arg + nlen + 1, "on")) {
			c->on[r] = arg[nlen + 2] == 'n';
			return 0;
		}
		fprintf(stderr, "portlife: invalid alert '%s': expected %s=off or %s=on\n", arg,
			rule_names[r], rule_names[r]);
		return -EINVAL;
	}
	keys_of(r, keys, sizeof(keys));
	if (arg[nlen] != ':' || !arg[nlen + 1] || strlen(arg) >= sizeof(buf)) {
		fprintf(stderr, "portlife: invalid alert '%s': expected %s:KEY=N,... (keys: %s)\n",
			arg, rule_names[r], keys);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", arg + nlen + 1);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct param *pm = NULL;
		unsigned long v;

		p = strchr(tok, '=');
		for (size_t i = 0; p && i < NPARAMS && !pm; i++)
			if (params[i].rule == (enum alert_rule)r &&
			    strlen(params[i].key) == (size_t)(p - tok) &&
			    !strncmp(params[i].key, tok, p - tok))
				pm = &params[i];
		if (!pm || parse_ulong(p + 1, pm->lo, pm->hi, &v)) {
			fprintf(stderr, "portlife: invalid alert '%s': '%s' is not one of %s's keys "
					"with a number in its range (%s)\n", arg, tok, rule_names[r], keys);
			return -EINVAL;
		}
		*(unsigned int *)((char *)c + pm->off) = v;
	}
	c->on[r] = true;
	return 0;
}

/* ---- bounded state: sets and tables -------------------------------------- */

/* Open addressing over samples; an entry with proto 0 is empty. */
struct aset {
	struct alert_sample *v;
	__u32 cap, n, max;	/* max: the capacity it may grow to */
};

/* A process (key: pid) or a probing source (key: netns, family, address). */
struct node {
	struct node *hnext, *prev, *next;
	__u64 key[3];
};

struct table {
	struct node **b;
	size_t nb, n, max;
	struct node lru;	/* next: least recently seen */
};

struct aproc {
	struct node node;
	char comm[PL_COMM_LEN];
	__u64 cgroup_id;
	__u32 netns;
	/* scan_out: the window */
	__u64 so_start;
	__u32 so_connects, so_failed, so_answered;
	bool so_alerted;
	struct aset so_dests;	/* distinct destinations that failed */
	int so_nsamples;
	struct alert_sample so_samples[ALERT_SAMPLES];
	/* alloc_burst: allocations per second, the last ALERT_BURST_HISTORY seconds */
	bool ab_seen;
	__u64 ab_first, ab_cur;		/* seconds of event time */
	__u64 ab_sum;			/* of the ring */
	__u32 ab_ring[ALERT_BURST_HISTORY];
	__u64 ab_alerted;		/* ts of the last alert, 0 none */
	int ab_nsamples;
	struct alert_sample ab_samples[ALERT_SAMPLES];
};

struct asrc {
	struct node node;
	__u64 start;
	__u32 probes, tcp, udp;
	bool alerted;
	struct aset ports;
	int nsamples;
	struct alert_sample samples[ALERT_SAMPLES];
};

struct alerts {
	struct alert_cfg cfg;
	FILE *f;
	bool json, lines;
	__u64 wall_off;
	const char *host;		/* on every JSON line, as the events' (NULL: none) */
	struct lbuf lb;
	__u64 seed;
	struct table procs, srcs;
	size_t set_entries;		/* capacity of every set, against the budget */
	__u64 untracked;		/* set entries the budget refused */
	__u64 evicted;			/* processes and sources let go of */
	__u64 unrecorded;		/* probes over the kernel's rate: counted, not itemized */
	__u64 count[AR_MAX];
	__u64 not_printed[AR_MAX];
	__u64 rl_start[AR_MAX];
	unsigned int rl_n[AR_MAX];
	bool rl_on[AR_MAX];
	struct alert kept[ALERT_KEEP];
	size_t nkept;
	__u64 not_kept;
	__u32 recent_pids[64];
	unsigned int nrecent;
	/* listen_ephemeral: listeners alerted on lately, not again within the cooldown */
	struct { __u32 netns, pid; __u16 port; __u64 ts; } listened[64];
	unsigned int nlistened;
	unsigned int sees;
	bool sees_known;
};

static __u64 mix(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static __u64 sample_hash(const struct alerts *a, const struct alert_sample *s)
{
	__u64 h = a->seed ^ ((__u64)s->family << 40 | (__u64)s->proto << 32 | s->port);
	__u64 w[2];

	memcpy(w, s->addr, sizeof(w));
	return mix(mix(h ^ w[0]) ^ w[1]);
}

static bool sample_eq(const struct alert_sample *x, const struct alert_sample *y)
{
	return x->family == y->family && x->proto == y->proto && x->port == y->port &&
	       !memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void aset_init(struct aset *s, unsigned int threshold)
{
	__u32 cap = 16;

	memset(s, 0, sizeof(*s));
	/* room for threshold entries at half load: counting past the threshold is no use */
	while (cap < 2 * threshold)
		cap *= 2;
	s->max = cap;
}

static void aset_clear(struct aset *s)
{
	if (s->v)
		memset(s->v, 0, s->cap * sizeof(*s->v));
	s->n = 0;
}

static void aset_free(struct alerts *a, struct aset *s)
{
	a->set_entries -= s->cap;
	free(s->v);
	s->v = NULL;
	s->cap = s->n = 0;
}

static void aset_put(const struct alerts *a, struct aset *s, const struct alert_sample *x)
{
	__u32 i = sample_hash(a, x) & (s->cap - 1);

	while (s->v[i].proto)
		i = (i + 1) & (s->cap - 1);
	s->v[i] = *x;
}

/*
 * 1: x is new, 0: it was there, -1: no room. A set full at its own bound has
 * counted past its threshold, which is all it is for; only the budget's
 * refusals are counted as untracked.
 */
static int aset_add(struct alerts *a, struct aset *s, const struct alert_sample *x)
{
	if (s->cap) {
		for (__u32 i = sample_hash(a, x) & (s->cap - 1); s->v[i].proto;
		     i = (i + 1) & (s->cap - 1))
			if (sample_eq(&s->v[i], x))
				return 0;
	}
	if (2 * (s->n + 1) > s->cap) {
		__u32 cap = s->cap ? 2 * s->cap : 16, oldcap = s->cap;
		struct alert_sample *old = s->v, *nv;

		if (cap > s->max)
			return -1;
		if (a->set_entries + cap - oldcap > ALERT_SET_BUDGET ||
		    !(nv = calloc(cap, sizeof(*nv)))) {
			a->untracked++;
			return -1;
		}
		a->set_entries += cap - oldcap;
		s->v = nv;
		s->cap = cap;
		for (__u32 i = 0; i < oldcap; i++)
			if (old[i].proto)
				aset_put(a, s, &old[i]);
		free(old);
	}
	aset_put(a, s, x);
	s->n++;
	return 1;
}

static int table_init(struct table *t, size_t max)
{
	t->nb = 1;
	while (t->nb < 2 * max)
		t->nb *= 2;
	t->b = calloc(t->nb, sizeof(*t->b));
	t->max = max;
	t->lru.next = t->lru.prev = &t->lru;
	return t->b ? 0 : -ENOMEM;
}

static size_t bucket(const struct alerts *a, const struct table *t, const __u64 key[3])
{
	return mix(mix(a->seed ^ key[0]) ^ key[1] ^ mix(key[2])) & (t->nb - 1);
}

static void lru_unlink(struct node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static void lru_push(struct table *t, struct node *n)
{
	n->prev = t->lru.prev;
	n->next = &t->lru;
	t->lru.prev->next = n;
	t->lru.prev = n;
}

static void table_remove(const struct alerts *a, struct table *t, struct node *n)
{
	struct node **pp = &t->b[bucket(a, t, n->key)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	lru_unlink(n);
	t->n--;
}

static void proc_free(struct alerts *a, struct aproc *p)
{
	aset_free(a, &p->so_dests);
	free(p);
}

static void src_free(struct alerts *a, struct asrc *s)
{
	aset_free(a, &s->ports);
	free(s);
}

/*
 * The node for key, made (size bytes, zeroed) if new, and now the most
 * recently seen; the least recently seen goes when the table is full. NULL
 * out of memory.
 */
static struct node *table_get(struct alerts *a, struct table *t, const __u64 key[3], size_t size,
			      bool *made)
{
	size_t b = bucket(a, t, key);
	struct node *n;

	*made = false;
	for (n = t->b[b]; n; n = n->hnext)
		if (!memcmp(n->key, key, sizeof(n->key))) {
			lru_unlink(n);
			lru_push(t, n);
			return n;
		}
	if (t->n >= t->max) {
		struct node *old = t->lru.next;

		table_remove(a, t, old);
		if (t == &a->procs)
			proc_free(a, (struct aproc *)old);
		else
			src_free(a, (struct asrc *)old);
		a->evicted++;
	}
	n = calloc(1, size);
	if (!n)
		return NULL;
	memcpy(n->key, key, sizeof(n->key));
	n->hnext = t->b[b];
	t->b[b] = n;
	lru_push(t, n);
	t->n++;
	*made = true;
	return n;
}

static void table_free(struct alerts *a, struct table *t)
{
	if (!t->b)
		return;
	while (t->lru.next != &t->lru) {
		struct node *n = t->lru.next;

		table_remove(a, t, n);
		if (t == &a->procs)
			proc_free(a, (struct aproc *)n);
		else
			src_free(a, (struct asrc *)n);
	}
	free(t->b);
	t->b = NULL;
}

/* ---- the engine ------------------------------------------------------------ */

struct alerts *alerts__new(const struct alert_cfg *cfg, FILE *f, bool json, bool lines)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = *cfg;
	a->f = f;
	a->json = json;
	a->lines = lines;
	a->sees_known = true;
	/* a seed per run: crafted addresses cannot collide in the sets (results do not depend on it) */
	if (getrandom(&a->seed, sizeof(a->seed), GRND_NONBLOCK) != sizeof(a->seed))
		a->seed = mono_ns() * 0x9e3779b97f4a7c15ULL;
	if (table_init(&a->procs, ALERT_PROCS) || table_init(&a->srcs, ALERT_SOURCES)) {
		alerts__free(a);
		return NULL;
	}
	return a;
}

void alerts__free(struct alerts *a)
{
	if (!a)
		return;
	table_free(a, &a->procs);
	table_free(a, &a->srcs);
	lbuf_free(&a->lb);
	free(a);
}

void alerts__set_host(struct alerts *a, const char *host)
{
	if (a)
		a->host = host;
}

void alerts__set_wall_off(struct alerts *a, __u64 wall_off)
{
	a->wall_off = wall_off;
}

void alerts__set_sees(struct alerts *a, unsigned int sees, bool known)
{
	a->sees = sees;
	a->sees_known = known;
}

__u64 alerts__count(const struct alerts *a, enum alert_rule r)
{
	return a && r < AR_MAX ? a->count[r] : 0;
}

__u64 alerts__total(const struct alerts *a)
{
	__u64 n = 0;

	for (int r = 0; a && r < AR_MAX; r++)
		n += a->count[r];
	return n;
}

bool alerts__pid_alerted(const struct alerts *a, __u32 pid)
{
	unsigned int n = a && a->nrecent < 64 ? a->nrecent : 64;

	for (unsigned int i = 0; a && pid && i < n; i++)
		if (a->recent_pids[i] == pid)
			return true;
	return false;
}

const struct alert *alerts__kept(const struct alerts *a, size_t *n)
{
	*n = a->nkept;
	return a->kept;
}

void alerts__stats(const struct alerts *a, struct alerts_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->procs = a->procs.n;
	s->sources = a->srcs.n;
	s->set_entries = a->set_entries;
	s->evicted = a->evicted;
	s->untracked = a->untracked;
	s->unrecorded = a->unrecorded;
	s->not_listed = a->not_kept;
	for (int r = 0; r < AR_MAX; r++)
		s->not_printed += a->not_printed[r];
}

static void add_sample(struct alert_sample *v, int *n, const struct alert_sample *s)
{
	for (int i = 0; i < *n; i++)
		if (sample_eq(&v[i], s))
			return;
	if (*n < ALERT_SAMPLES)
		v[(*n)++] = *s;
}

/* ---- how an alert is shown ----------------------------------------------- */

static void sample_str(const struct alert_sample *s, char *buf, size_t len)
{
	if (!s->family)
		snprintf(buf, len, "%s/%u", s->proto == IPPROTO_UDP ? "udp" : "tcp", s->port);
	else
		endpoint_str(s->family, s->addr, s->port, buf, len);
}

static double ab_baseline(const struct alert *al)
{
	return al->ab.history ? (double)al->ab.past / al->ab.history : 0;
}

/* The one line an alert is known by (the "!!" line, the summary). */
static void headline(const struct alert *al, char *buf, size_t len)
{
	char comm[PL_COMM_LEN], ep[64];
	double base;

	comm_sanitize(al->comm, sizeof(al->comm), comm, sizeof(comm));
	switch (al->rule) {
	case AR_SCAN_OUT:
		snprintf(buf, len, "pid %u (%s) netns %u: connect() to %u destinations refused or "
			 "unanswered in %llus", al->pid, comm, al->netns, al->so.dests,
			 (unsigned long long)(al->window_ns / NS));
		break;
	case AR_SCAN_IN:
		snprintf(buf, len, "%s probed %u closed ports of netns %u in %llus",
			 addr_str(al->si.src.family, al->si.src.addr, ep, sizeof(ep)), al->si.ports,
			 al->netns, (unsigned long long)(al->window_ns / NS));
		break;
	case AR_ALLOC_BURST:
		base = ab_baseline(al);
		if (base > 0)
			snprintf(buf, len, "pid %u (%s) netns %u: %u ports in one second, %.0fx its "
				 "baseline of %.1f a second", al->pid, comm, al->netns, al->ab.count,
				 al->ab.count / base, base);
		else
			snprintf(buf, len, "pid %u (%s) netns %u: %u ports in one second, after none "
				 "in the %us before", al->pid, comm, al->netns, al->ab.count,
				 al->ab.history);
		break;
	case AR_LISTEN_EPHEMERAL:
		endpoint_str(al->le.at.family, al->le.at.addr, al->le.at.port, ep, sizeof(ep));
		if (al->le.lo)
			snprintf(buf, len, "pid %u (%s) netns %u listens on %s, inside "
				 "ip_local_port_range %u-%u%s", al->pid, comm, al->netns, ep, al->le.lo,
				 al->le.hi, al->le.bound ? "" : ", a port the kernel chose");
		else
			snprintf(buf, len, "pid %u (%s) netns %u listens on %s, a port the kernel chose "
				 "from ip_local_port_range", al->pid, comm, al->netns, ep);
		break;
	default:
		snprintf(buf, len, "?");
	}
}

static void remedy(const struct alert *al, char *buf, size_t len)
{
	char ep[64];

	switch (al->rule) {
	case AR_SCAN_OUT:
		snprintf(buf, len, "find out what pid %u runs and why it reaches these addresses "
			 "(/proc/%u/exe, its cmdline, its parent, its cgroup); a process that scans "
			 "and should not is to be isolated first (cut its network, stop it), then "
			 "investigated", al->pid, al->pid);
		break;
	case AR_SCAN_IN:
		addr_str(al->si.src.family, al->si.src.addr, ep, sizeof(ep));
		snprintf(buf, len, "if %s is not your own scanner or monitoring, drop it at the "
			 "firewall (nft add rule inet filter input %s saddr %s drop) and check what "
			 "it could reach on the ports that are open", ep,
			 al->si.src.family == AF_INET6 ? "ip6" : "ip", ep);
		break;
	case AR_ALLOC_BURST:
		snprintf(buf, len, "a connection leak or a retry storm: look at pid %u's errors and "
			 "retries; reuse connections (keep-alive, a pool) and back retries off; "
			 "portlife -p %u shows where its ports go", al->pid, al->pid);
		break;
	case AR_LISTEN_EPHEMERAL:
		if (al->le.bound)
			snprintf(buf, len, "connect() may take port %u first, and this listener then "
				 "fails with EADDRINUSE at random: move it out of %u-%u, or reserve it "
				 "(sysctl -w net.ipv4.ip_local_reserved_ports=%u)", al->le.at.port,
				 al->le.lo, al->le.hi, al->le.at.port);
		else
			snprintf(buf, len, "listen() without bind(), or bind() to port 0: a few "
				 "services do it (RPC, FTP data, debuggers), and so do backdoors: check "
				 "what pid %u runs (/proc/%u/exe); a service should bind a fixed port "
				 "outside the ephemeral range", al->pid, al->pid);
		break;
	default:
		snprintf(buf, len, "?");
	}
}

static void evidence_json(struct jw *w, const struct alert *al)
{
	char s[64];

	jw_key(w, "evidence");
	jw_obj(w);
	switch (al->rule) {
	case AR_SCAN_OUT:
		jw_ku64(w, "window_s", al->window_ns / NS);
		jw_ku64(w, "connects", al->so.connects);
		jw_ku64(w, "destinations", al->so.dests);
		jw_ku64(w, "failed", al->so.failed);
		jw_ku64(w, "answered", al->so.answered);
		break;
	case AR_SCAN_IN:
		jw_ku64(w, "window_s", al->window_ns / NS);
		jw_kaddr(w, "source", al->si.src.family, al->si.src.addr);
		jw_ku64(w, "probes", al->si.probes);
		jw_ku64(w, "ports", al->si.ports);
		jw_ku64(w, "tcp", al->si.tcp);
		jw_ku64(w, "udp", al->si.udp);
		break;
	case AR_ALLOC_BURST:
		jw_ku64(w, "window_s", 1);
		jw_ku64(w, "allocations", al->ab.count);
		jw_kdouble(w, "baseline_per_s", ab_baseline(al), 2);
		jw_ku64(w, "history_s", al->ab.history);
		break;
	case AR_LISTEN_EPHEMERAL:
		jw_kaddr(w, "laddr", al->le.at.family, al->le.at.addr);
		jw_ku64(w, "lport", al->le.at.port);
		if (al->le.lo) {
			jw_ku64(w, "range_lo", al->le.lo);
			jw_ku64(w, "range_hi", al->le.hi);
		} else {
			jw_knull(w, "range_lo");
			jw_knull(w, "range_hi");
		}
		jw_kstr(w, "chosen_by", al->le.bound ? "bind" : "kernel");
		break;
	default:
		break;
	}
	if (al->rule != AR_LISTEN_EPHEMERAL) {
		jw_key(w, "samples");
		jw_arr(w);
		for (int i = 0; i < al->nsamples; i++) {
			sample_str(&al->samples[i], s, sizeof(s));
			jw_str(w, s);
		}
		jw_end(w);
	}
	jw_end(w);
}

/* The keys of an alert object (the "alert" line, the summary's list). */
static void alert_json(const struct alerts *a, struct jw *w, const struct alert *al)
{
	char buf[400];

	jw_ktime(w, "time", al->ts_ns + a->wall_off);
	jw_ku64(w, "ts_ns", al->ts_ns);
	jw_kstr(w, "rule", alert_rule_name(al->rule));
	jw_kstr(w, "severity", alert_severity(al->rule));
	jw_ku64(w, "pid", al->pid);
	if (al->pid)
		jw_kstrn(w, "comm", al->comm, sizeof(al->comm));
	else
		jw_knull(w, "comm");
	jw_ku64(w, "cgroup_id", al->cgroup_id);
	jw_ku64(w, "netns", al->netns);
	evidence_json(w, al);
	remedy(al, buf, sizeof(buf));
	jw_kstr(w, "remedy", buf);
}

static void evidence_text(const struct alert *al, char *buf, size_t len)
{
	size_t n = 0;
	char s[64];

	switch (al->rule) {
	case AR_SCAN_OUT:
		n = snprintf(buf, len, "%u connects, %u failed (refused, unreachable, timed out or "
			     "given up) to %u destinations, %u answered, in %llus", al->so.connects,
			     al->so.failed, al->so.dests, al->so.answered,
			     (unsigned long long)(al->window_ns / NS));
		break;
	case AR_SCAN_IN:
		n = snprintf(buf, len, "%u probes of %u closed ports in %llus: %u TCP SYNs answered "
			     "with RST, %u UDP datagrams answered with port unreachable", al->si.probes,
			     al->si.ports, (unsigned long long)(al->window_ns / NS), al->si.tcp,
			     al->si.udp);
		break;
	case AR_ALLOC_BURST:
		n = snprintf(buf, len, "%u allocations in one second; %llu in the %us before it",
			     al->ab.count, (unsigned long long)al->ab.past, al->ab.history);
		break;
	case AR_LISTEN_EPHEMERAL:
		n = snprintf(buf, len, "port %u %s; ip_local_port_range %u-%u, the port not in "
			     "ip_local_reserved_ports", al->le.at.port,
			     al->le.bound ? "given to bind()" : "chosen by the kernel", al->le.lo,
			     al->le.hi);
		break;
	default:
		break;
	}
	for (int i = 0; i < al->nsamples && n < len; i++) {
		sample_str(&al->samples[i], s, sizeof(s));
		n += snprintf(buf + n, len - n, "%s%s", i ? " " : "; e.g. ", s);
	}
}

static void print_alert(struct alerts *a, const struct alert *al)
{
	char head[320], ev[480], rem[400], ts[32];
	struct jw w;

	if (a->json) {
		jw_begin(&w, &a->lb);
		jw_obj(&w);
		jw_kstr(&w, "event", "alert");
		if (a->host)
			jw_kstr(&w, "host", a->host);
		alert_json(a, &w, al);
		jw_line(&w, a->f);
		return;
	}
	headline(al, head, sizeof(head));
	evidence_text(al, ev, sizeof(ev));
	remedy(al, rem, sizeof(rem));
	fprintf(a->f, "!! %s ALERT %s (%s): %s\n   evidence: %s\n   next: %s\n",
		wall_str(al->ts_ns + a->wall_off, 0, ts, sizeof(ts)), alert_rule_name(al->rule),
		alert_severity(al->rule), head, ev, rem);
}

/*
 * Every alert a rule raises is counted (portlife_alerts_total); at most
 * ALERT_PRINT_RATE a minute of event time per rule are printed and kept, so
 * a thousand scanning processes cannot drown the output.
 */
static void raise_alert(struct alerts *a, const struct alert *al)
{
	enum alert_rule r = al->rule;

	a->count[r]++;
	/* event time: a crafted trace may run backwards or wrap; only forward steps move the minute */
	if (!a->rl_on[r] || (al->ts_ns > a->rl_start[r] && al->ts_ns - a->rl_start[r] >= 60 * NS)) {
		a->rl_on[r] = true;
		a->rl_start[r] = al->ts_ns;
		a->rl_n[r] = 0;
	}
	if (a->rl_n[r] >= ALERT_PRINT_RATE) {
		a->not_printed[r]++;
		return;
	}
	a->rl_n[r]++;
	if (al->pid)
		a->recent_pids[a->nrecent++ % 64] = al->pid;
	if (a->nkept < ALERT_KEEP)
		a->kept[a->nkept++] = *al;
	else
		a->not_kept++;
	if (a->lines)
		print_alert(a, al);
}

/* ---- the rules ------------------------------------------------------------- */

static struct aproc *proc_of(struct alerts *a, const struct pl_event *e)
{
	__u64 key[3] = { e->pid, 0, 0 };
	bool made;
	struct aproc *p = (struct aproc *)table_get(a, &a->procs, key, sizeof(*p), &made);

	if (!p)
		return NULL;
	if (made) {
		aset_init(&p->so_dests, a->cfg.so_dests);
		p->netns = e->netns;
	}
	/* the latest name and cgroup: what `ps` would show now */
	memcpy(p->comm, e->comm, sizeof(p->comm));
	p->cgroup_id = e->cgroup_id;
	if (e->netns)
		p->netns = e->netns;
	return p;
}

static void alert_owner(struct alert *al, const struct aproc *p, const struct pl_event *e,
			enum alert_rule r)
{
	memset(al, 0, sizeof(*al));
	al->rule = r;
	al->ts_ns = e->ts_ns;
	al->pid = e->pid;
	al->netns = p->netns;
	al->cgroup_id = p->cgroup_id;
	memcpy(al->comm, p->comm, sizeof(al->comm));
}

/*
 * A fixed window from its first event: does ts start a new one? Events a
 * little out of order (another CPU's) count in the window they find; the
 * test never overflows, whatever times a crafted trace holds.
 */
static bool new_window(__u64 start, __u64 ts, __u64 win)
{
	return !start || (ts > start && ts - start >= win);
}

/* scan_out: the window of p that ts falls in. */
static void so_window(struct aproc *p, __u64 ts, __u64 win)
{
	if (!new_window(p->so_start, ts, win))
		return;
	p->so_start = ts ? ts : 1;
	p->so_connects = p->so_failed = p->so_answered = 0;
	p->so_alerted = false;
	p->so_nsamples = 0;
	aset_clear(&p->so_dests);
}

static void scan_out(struct alerts *a, const struct pl_event *e, int what)
{
	const struct alert_cfg *c = &a->cfg;
	struct aproc *p = proc_of(a, e);
	struct alert_sample d = { .family = e->family, .proto = IPPROTO_TCP, .port = e->rport };
	struct alert al;

	if (!p)
		return;
	so_window(p, e->ts_ns, c->so_window * NS);
	if (what == 0) {
		p->so_connects++;
		return;
	}
	if (what == 1) {
		p->so_answered++;
		return;
	}
	p->so_failed++;
	memcpy(d.addr, e->raddr, sizeof(d.addr));
	if (aset_add(a, &p->so_dests, &d) == 1)
		add_sample(p->so_samples, &p->so_nsamples, &d);
	/* failed connects: "mostly" is failed_pct of those that ended either way */
	if (p->so_alerted || p->so_dests.n < c->so_dests ||
	    (__u64)p->so_failed * 100 < (__u64)c->so_failed_pct * (p->so_failed + p->so_answered))
		return;
	p->so_alerted = true;
	alert_owner(&al, p, e, AR_SCAN_OUT);
	al.window_ns = c->so_window * NS;
	al.so.connects = p->so_connects;
	al.so.dests = p->so_dests.n;
	al.so.failed = p->so_failed;
	al.so.answered = p->so_answered;
	al.nsamples = p->so_nsamples;
	memcpy(al.samples, p->so_samples, sizeof(al.samples));
	raise_alert(a, &al);
}

/*
 * alloc_burst: allocations per second of event time in a ring of the last
 * ALERT_BURST_HISTORY seconds; the baseline is the mean of the seconds before
 * this one since the process was first seen, once it has ab_learn of them.
 */
static void alloc_burst(struct alerts *a, const struct pl_event *e)
{
	const struct alert_cfg *c = &a->cfg;
	struct aproc *p = proc_of(a, e);
	__u64 sec = e->ts_ns / NS, hist, past, cnt;
	struct alert al;

	if (!p)
		return;
	if (!p->ab_seen) {
		p->ab_seen = true;
		p->ab_first = p->ab_cur = sec;
	}
	if (sec > p->ab_cur) {
		__u64 k = sec - p->ab_cur;

		if (k >= ALERT_BURST_HISTORY) {
			memset(p->ab_ring, 0, sizeof(p->ab_ring));
			p->ab_sum = 0;
		} else {
			for (__u64 i = 1; i <= k; i++) {
				__u32 *slot = &p->ab_ring[(p->ab_cur + i) % ALERT_BURST_HISTORY];

				p->ab_sum -= *slot;
				*slot = 0;
			}
		}
		p->ab_cur = sec;
		p->ab_nsamples = 0;
	}
	/* an event a little out of order counts in the current second */
	p->ab_ring[p->ab_cur % ALERT_BURST_HISTORY]++;
	p->ab_sum++;
	if (e->rport && (e->kind == PL_ALLOC_CONNECT || e->kind == PL_ALLOC_AUTOBIND)) {
		struct alert_sample d = { .family = e->family, .proto = e->proto, .port = e->rport };

		memcpy(d.addr, e->raddr, sizeof(d.addr));
		add_sample(p->ab_samples, &p->ab_nsamples, &d);
	}
	hist = p->ab_cur - p->ab_first;
	if (hist > ALERT_BURST_HISTORY - 1)
		hist = ALERT_BURST_HISTORY - 1;
	cnt = p->ab_ring[p->ab_cur % ALERT_BURST_HISTORY];
	past = p->ab_sum - cnt;
	/* cnt >= factor * past / hist, in integers */
	if (hist < c->ab_learn || cnt < c->ab_min || cnt * hist < (__u64)c->ab_factor * past)
		return;
	if (p->ab_alerted && !new_window(p->ab_alerted, e->ts_ns, ALERT_COOLDOWN_NS))
		return;
	p->ab_alerted = e->ts_ns ? e->ts_ns : 1;
	alert_owner(&al, p, e, AR_ALLOC_BURST);
	al.window_ns = NS;
	al.ab.count = cnt;
	al.ab.past = past;
	al.ab.history = hist;
	al.nsamples = p->ab_nsamples;
	memcpy(al.samples, p->ab_samples, sizeof(al.samples));
	raise_alert(a, &al);
}

/* scan_in: probes of closed ports, by source, in fixed windows. */
static void scan_in(struct alerts *a, const struct pl_event *e)
{
	const struct alert_cfg *c = &a->cfg;
	__u64 key[3] = { (__u64)e->netns << 8 | e->family, 0, 0 }, win = c->si_window * NS;
	struct alert_sample port = { .proto = e->proto, .port = e->lport };
	struct asrc *s;
	struct alert al;
	bool made;

	memcpy(&key[1], e->raddr, 16);
	s = (struct asrc *)table_get(a, &a->srcs, key, sizeof(*s), &made);
	if (!s)
		return;
	if (made)
		aset_init(&s->ports, c->si_ports);
	if (new_window(s->start, e->ts_ns, win)) {
		s->start = e->ts_ns ? e->ts_ns : 1;
		s->probes = s->tcp = s->udp = 0;
		s->alerted = false;
		s->nsamples = 0;
		aset_clear(&s->ports);
	}
	s->probes++;
	if (e->proto == IPPROTO_UDP)
		s->udp++;
	else
		s->tcp++;
	if (aset_add(a, &s->ports, &port) == 1)
		add_sample(s->samples, &s->nsamples, &port);
	if (s->alerted || s->ports.n < c->si_ports)
		return;
	s->alerted = true;
	memset(&al, 0, sizeof(al));
	al.rule = AR_SCAN_IN;
	al.ts_ns = e->ts_ns;
	al.netns = e->netns;
	al.window_ns = win;
	al.si.src.family = e->family;
	memcpy(al.si.src.addr, e->raddr, sizeof(al.si.src.addr));
	al.si.probes = s->probes;
	al.si.ports = s->ports.n;
	al.si.tcp = s->tcp;
	al.si.udp = s->udp;
	al.nsamples = s->nsamples;
	memcpy(al.samples, s->samples, sizeof(al.samples));
	raise_alert(a, &al);
}

/* listen_ephemeral: a listener inside the netns's ip_local_port_range, not reserved. */
static void listen_ephemeral(struct alerts *a, const struct pl_event *e)
{
	__u16 lo = e->aux & 0xffff, hi = e->aux >> 16;
	bool bound = e->sflags & PL_SIGF_BOUND;
	unsigned int slot = a->nlistened % 64;
	struct alert al;

	if (e->sflags & PL_SIGF_RESERVED)
		return;
	/* a port the kernel chose comes from the range, known or not; a bound one is judged by it */
	if (bound && (!e->aux || e->lport < lo || e->lport > hi))
		return;
	for (unsigned int i = 0; i < 64 && i < a->nlistened; i++)
		if (a->listened[i].pid == e->pid && a->listened[i].port == e->lport &&
		    a->listened[i].netns == e->netns &&
		    !new_window(a->listened[i].ts, e->ts_ns, ALERT_COOLDOWN_NS))
			return;
	a->listened[slot].pid = e->pid;
	a->listened[slot].port = e->lport;
	a->listened[slot].netns = e->netns;
	a->listened[slot].ts = e->ts_ns ? e->ts_ns : 1;
	a->nlistened++;
	memset(&al, 0, sizeof(al));
	al.rule = AR_LISTEN_EPHEMERAL;
	al.ts_ns = e->ts_ns;
	al.pid = e->pid;
	al.netns = e->netns;
	al.cgroup_id = e->cgroup_id;
	memcpy(al.comm, e->comm, sizeof(al.comm));
	al.le.at.family = e->family;
	al.le.at.proto = IPPROTO_TCP;
	al.le.at.port = e->lport;
	memcpy(al.le.at.addr, e->laddr, sizeof(al.le.at.addr));
	if (e->aux && lo <= hi) {
		al.le.lo = lo;
		al.le.hi = hi;
	}
	al.le.bound = bound;
	raise_alert(a, &al);
}

void alerts__sink(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct alerts *a = ctx;
	const bool *on = a->cfg.on;

	switch (e->type) {
	case PL_EV_ALLOC:
		/* a duplicate ALLOC changed nothing: not an allocation */
		if (r->what != LW_ALLOC)
			return;
		if (on[AR_ALLOC_BURST])
			alloc_burst(a, e);
		if (on[AR_SCAN_OUT] && !e->err && e->kind == PL_ALLOC_CONNECT &&
		    e->proto == IPPROTO_TCP)
			scan_out(a, e, 0);
		return;
	case PL_EV_STATE:
		/* a connect() answered */
		if (on[AR_SCAN_OUT] && e->proto == IPPROTO_TCP && e->old_state == PL_TCP_SYN_SENT &&
		    e->new_state == PL_TCP_ESTABLISHED)
			scan_out(a, e, 1);
		return;
	case PL_EV_RELEASE:
		/*
		 * A connect() that failed: refused, unreachable, timed out or given
		 * up, its port released without it ever being established. By the
		 * release, not a state change: the exact modes see no SYN_SENT ->
		 * CLOSE (tcp_set_state() gives the port back before the state
		 * tracepoint, and the lease goes with it).
		 */
		if (on[AR_SCAN_OUT] && r->what == LW_END && r->lease &&
		    (r->lease->flags & L_ALLOCATED) && r->lease->kind == PL_ALLOC_CONNECT &&
		    r->lease->proto == IPPROTO_TCP && !(r->lease->flags & L_ANSWERED))
			scan_out(a, e, 2);
		return;
	case PL_EV_SIGNAL:
		if (on[AR_SCAN_IN] && (e->kind == PL_SIG_TCP_CLOSED || e->kind == PL_SIG_UDP_CLOSED))
			scan_in(a, e);
		else if (e->kind == PL_SIG_UNRECORDED)
			a->unrecorded += e->aux;
		else if (on[AR_LISTEN_EPHEMERAL] && e->kind == PL_SIG_LISTEN &&
			 e->proto == IPPROTO_TCP)
			listen_ephemeral(a, e);
		return;
	default:
		return;
	}
}

/* ---- the summary ----------------------------------------------------------- */

const char *alerts_blind_spots(const struct alert_cfg *c, unsigned int sees, bool known,
			       char *buf, size_t len)
{
	static const struct { unsigned int bit; const char *what; } parts[] = {
		{ PL_SEES_LISTEN, "listeners" },
		{ PL_SEES_TCP4, "TCP probes over IPv4" },
		{ PL_SEES_TCP6, "TCP probes over IPv6" },
		{ PL_SEES_UDP4, "UDP probes over IPv4" },
		{ PL_SEES_UDP6, "UDP probes over IPv6" },
	};
	size_t n = 0;

	buf[0] = '\0';
	/* only what a rule that is on would have used */
	if (!c->on[AR_LISTEN_EPHEMERAL])
		sees |= PL_SEES_LISTEN;
	if (!c->on[AR_SCAN_IN])
		sees = (sees | PL_SEES_TCP4 | PL_SEES_TCP6 | PL_SEES_UDP4 | PL_SEES_UDP6) &
		       ~PL_SEES_UDP_LIMITED;
	if (!known && (c->on[AR_LISTEN_EPHEMERAL] || c->on[AR_SCAN_IN])) {
		snprintf(buf, len, "a trace from before portlife recorded signals: no listeners, "
			 "no probes");
		return buf;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && n < len; i++)
		if (!(sees & parts[i].bit))
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "no ", parts[i].what);
	if ((sees & PL_SEES_UDP_LIMITED) && n < len)
		snprintf(buf + n, len - n, "%sUDP probes only as far as the kernel's ICMP rate "
			 "limits answered them", n ? "; " : "");
	return buf;
}

void alerts__summary(const struct alerts *a, FILE *f, bool json)
{
	char blind[400], line[320], ts[32];
	__u64 not_printed = 0;
	struct lbuf lb = {};
	struct jw w;

	if (!a || !alert_cfg_any(&a->cfg))
		return;
	for (int r = 0; r < AR_MAX; r++)
		not_printed += a->not_printed[r];
	alerts_blind_spots(&a->cfg, a->sees, a->sees_known, blind, sizeof(blind));
	if (json) {
		jw_begin(&w, &lb);
		jw_obj(&w);
		jw_kstr(&w, "event", "alerts");
		if (a->host)
			jw_kstr(&w, "host", a->host);
		jw_ku64(&w, "total", alerts__total(a));
		jw_key(&w, "by_rule");
		jw_obj(&w);
		for (int r = 0; r < AR_MAX; r++) {
			if (!a->cfg.on[r])
				continue;
			jw_key_str(&w, rule_names[r]);
			jw_u64(&w, a->count[r]);
		}
		jw_end(&w);
		jw_ku64(&w, "not_printed", not_printed);
		jw_ku64(&w, "not_listed", a->not_kept);
		jw_ku64(&w, "evicted", a->evicted);
		jw_ku64(&w, "untracked", a->untracked);
		jw_ku64(&w, "probes_unrecorded", a->unrecorded);
		if (*blind)
			jw_kstr(&w, "not_seen", blind);
		else
			jw_knull(&w, "not_seen");
		jw_key(&w, "alerts");
		jw_arr(&w);
		for (size_t i = 0; i < a->nkept; i++) {
			jw_obj(&w);
			alert_json(a, &w, &a->kept[i]);
			jw_end(&w);
		}
		jw_end(&w);
		jw_line(&w, f);
		lbuf_free(&lb);
		fflush(f);
		return;
	}
	fprintf(f, "\nalerts: %llu raised (", (unsigned long long)alerts__total(a));
	for (int r = 0, first = 1; r < AR_MAX; r++) {
		if (!a->cfg.on[r])
			continue;
		fprintf(f, "%s%s %llu", first ? "" : ", ", rule_names[r],
			(unsigned long long)a->count[r]);
		first = 0;
	}
	fprintf(f, ")\n");
	for (size_t i = 0; i < a->nkept; i++) {
		headline(&a->kept[i], line, sizeof(line));
		fprintf(f, "  %s %s %s: %s\n",
			wall_str(a->kept[i].ts_ns + a->wall_off, 0, ts, sizeof(ts)),
			alert_rule_name(a->kept[i].rule), alert_severity(a->kept[i].rule), line);
	}
	if (a->not_kept)
		fprintf(f, "  ... %llu more printed, not listed here\n",
			(unsigned long long)a->not_kept);
	if (not_printed)
		fprintf(f, "  %llu more not printed (over %d a minute for one rule)\n",
			(unsigned long long)not_printed, ALERT_PRINT_RATE);
	if (a->evicted || a->untracked)
		fprintf(f, "  bounds: %llu processes or sources let go of (over %d at once), %llu "
			   "destinations or ports not followed (memory budget)\n",
			(unsigned long long)a->evicted, ALERT_PROCS, (unsigned long long)a->untracked);
	if (a->unrecorded)
		fprintf(f, "  %llu probes of closed ports over the in-kernel rate limit: counted, not "
			   "recorded (scan_in's counts are lower bounds)\n",
			(unsigned long long)a->unrecorded);
	if (*blind)
		fprintf(f, "  not seen: %s\n", blind);
	fflush(f);
}
