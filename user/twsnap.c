// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "iter.h"
#include "netns.h"
#include "twsnap.h"
#include "twlook.skel.h"
#include "util.h"

/* A lease gives up waiting for a snapshot of an unreachable netns after this. */
#define TW_GIVE_UP_NS (70ULL * 1000000000ULL)
/*
 * Leases left in a closing state by events the kernel never delivered (see
 * stale_closing()): looked for every this often, once their last state
 * change is this old (the events of a close arrive within microseconds; a
 * round drains the ring buffer before it looks). One found gone is released
 * by the next such look that finds it gone again, so an event still on its
 * way has AUDIT_EVERY_NS to arrive.
 */
#define AUDIT_EVERY_NS (5ULL * 1000000000ULL)
#define AUDIT_AGE_NS (1ULL * 1000000000ULL)
/* TCP_TIMEWAIT_LEN: a timewait socket's timer starts at 60 s */
#define TW_LEN_NS (60ULL * 1000000000ULL)
/*
 * A lease a round found in TIME_WAIT is looked at again this much later, or
 * in the last round before its timer is due: a timer never fires early, so
 * only a kill (an RST, ss -K) can end it sooner, and a reuse is known by
 * the connect() that took its 4-tuple. Looking at every one every round was
 * most of a round: 50k leases in TIME_WAIT, 50k lookups a second.
 */
#define TW_RECHECK_NS (5ULL * 1000000000ULL)

struct ns_ent {
	__u32 inum;
	int fd;			/* -1 until we could open it */
	__u32 pid;		/* a process last seen in it */
	__u64 overflow;		/* TcpExtTCPTimeWaitOverflow at the last look */
	int have_overflow;
	__u64 last_scan;	/* mono ns of the last search for a way in */
	int lost;		/* counted in netns_lost */
	/*
	 * No way in found by a search (no process, no bind mount names it):
	 * when one first failed, and how many did. Two a second apart, and
	 * the namespace is gone: its cleanup purged its timewait sockets.
	 */
	__u64 gone_ts;
	int gone_looks;
	int idle;		/* no lease there waited in the last round */
	int kept;		/* a lease there in TIME_WAIT was not due this round */
};

/* A lease on the watch list, copied: emitting events changes the list. */
struct waiting {
	struct lease *l;	/* rechecked before use: an event may have ended it */
	__u64 id, cookie;
	__u32 netns, pid;
	__u32 ns_ix;		/* its namespace's index in ns; nns if none is known (index_netns()) */
	/*
	 * Its 4-tuple, for the lookup: copied in the pass that reads the lease
	 * anyway (tens of thousands of leases do not stay in cache between two
	 * passes over them).
	 */
	__u8 laddr[16], raddr[16];
	__u16 lport, rport;
	__u8 family;
};

struct twsnap {
	struct bpf_link *link;
	struct twlook *look;	/* NULL: the iterator does every round */
	struct lease_table *t;
	struct ns_ent *ns;
	size_t nns, capns;
	int self_fd;
	__u32 self_inum;
	struct vec recs;	/* struct pl_tw_rec of the namespace looked at last */
	/*
	 * Or, when lookups settled it (looked), what they found for each of
	 * its waiting leases, in their order: cookie 0 where nothing was.
	 */
	struct pl_tw_rec *found;
	bool looked;
	/*
	 * recs by cookie: open addressing, index + 1, 0 empty. Built in one
	 * pass per namespace; a sort of tens of thousands of records
	 * and a binary search per waiting lease cost several times more.
	 */
	__u32 *by_cookie;
	size_t nslots;		/* a power of two, at least twice recs.n */
	int slot_shift;		/* 64 - log2(nslots) */
	/*
	 * A round's waiting leases, as listed and then grouped by namespace:
	 * kept between rounds (tens of thousands, a fresh allocation each round
	 * was fresh pages each round).
	 */
	struct waiting *w, *by_ns;
	size_t capw;
	size_t *ns_count;	/* per namespace index, nns + 1 of them */
	size_t capns_count;
	__u64 last_audit;	/* mono ns of the last look for stale closing leases */
	__u64 interval_ns;	/* between two rounds now (twsnap__set_interval()) */
	volatile __u32 *iter_full;	/* the iterator's switch for full sockets; NULL: none */
	bool want_full;		/* a stale lease's lookup missed: the listing must have them */
	bool listed_full;	/* the namespace looked at last was listed with them */
	struct twsnap_stats st;
};

struct twsnap *twsnap__new(struct bpf_link *link, struct lease_table *t)
{
	struct twsnap *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->link = link;
	s->t = t;
	s->self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (s->self_fd < 0) {
		int err = errno;

		free(s);
		errno = err;
		return NULL;
	}
	s->self_inum = netns_fd_inum(s->self_fd);
	return s;
}

void twsnap__free(struct twsnap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].fd >= 0 && s->ns[i].fd != s->self_fd)
			close(s->ns[i].fd);
	close(s->self_fd);
	twlook__destroy(s->look);
	free(s->ns);
	free(s->recs.v);
	free(s->found);
	free(s->by_cookie);
	free(s->w);
	free(s->by_ns);
	free(s->ns_count);
	free(s);
}

void twsnap__set_lookup(struct twsnap *s, struct twlook *look)
{
	twlook__destroy(s->look);
	s->look = look;
}

void twsnap__set_iter_full(struct twsnap *s, volatile __u32 *iter_full)
{
	s->iter_full = iter_full;
}

void twsnap__set_interval(struct twsnap *s, __u64 ns)
{
	s->interval_ns = ns;
}

const struct twsnap_stats *twsnap__stats(const struct twsnap *s)
{
	return &s->st;
}

static struct ns_ent *ns_find(struct twsnap *s, __u32 inum)
{
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].inum == inum)
			return &s->ns[i];
	return NULL;
}

/* Read TcpExtTCPTimeWaitOverflow of the current thread's netns. */
static int read_tw_overflow(__u64 *out)
{
	char hdr[4096], val[4096], *hs, *vs, *ht, *vt;
	FILE *f = fopen("/proc/thread-self/net/netstat", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		if (strncmp(hdr, "TcpExt:", 7))
			continue;
		ht = strtok_r(hdr, " \n", &hs);
		vt = strtok_r(val, " \n", &vs);
		while ((ht = strtok_r(NULL, " \n", &hs)) && (vt = strtok_r(NULL, " \n", &vs))) {
			if (!strcmp(ht, "TCPTimeWaitOverflow")) {
				*out = strtoull(vt, NULL, 10);
				err = 0;
				break;
			}
		}
		break;
	}
	fclose(f);
	return err;
}

static int ns_enter(struct twsnap *s, struct ns_ent *n)
{
	return n->fd == s->self_fd ? 0 : netns_enter(n->fd);
}

static int ns_leave(struct twsnap *s, struct ns_ent *n)
{
	return n->fd == s->self_fd ? 0 : netns_return(s->self_fd);
}

/*
 * The process that allocated the lease is often gone by the time its event
 * is read (a short-lived client in a container): then find another way into
 * the namespace, a namespace pinned by `ip netns add` or any process still
 * in it (remembered: the next open is one open() again). A search that
 * found none was a whole /proc walk, so the next waits a second. The fd is
 * held for one round only (ns_close_all()).
 */
static void ns_open(struct twsnap *s, struct ns_ent *n)
{
	__u64 now = mono_ns();

	if (n->fd >= 0)
		return;
	if (n->gone_looks && now - n->last_scan < 1000000000ULL)
		return;
	n->last_scan = now;
	n->fd = netns_open(n->inum, n->pid, &n->pid);
	if (n->fd < 0) {
		if (!n->gone_ts)
			n->gone_ts = now;
		n->gone_looks++;
		return;
	}
	n->gone_ts = 0;
	n->gone_looks = 0;
	/*
	 * Baseline the overflow counter at the first open, before this netns
	 * closes anything we track; a later round's open keeps the last look's.
	 */
	if (!n->have_overflow && !ns_enter(s, n)) {
		n->have_overflow = !read_tw_overflow(&n->overflow);
		ns_leave(s, n);
	}
}

void twsnap__note_netns(struct twsnap *s, __u32 inum, __u32 pid)
{
	struct ns_ent *n = ns_find(s, inum), *nn;

	if (!n) {
		if (s->nns == s->capns) {
			s->capns = s->capns ? s->capns * 2 : 8;
			nn = realloc(s->ns, s->capns * sizeof(*s->ns));
			if (!nn)
				return;
			s->ns = nn;
		}
		n = &s->ns[s->nns++];
		memset(n, 0, sizeof(*n));
		n->inum = inum;
		n->fd = inum == s->self_inum ? s->self_fd : -1;
		if (n->fd == s->self_fd)
			n->have_overflow = !read_tw_overflow(&n->overflow);
	}
	if (pid)
		n->pid = pid;
	ns_open(s, n);
}

/*
 * Cookies come from a kernel counter, never from input: Fibonacci hashing
 * (the product's top bits) spreads a run of them evenly. Its middle bits
 * do not: sequential cookies piled into clusters thousands of slots long.
 */
static size_t cookie_slot(const struct twsnap *s, __u64 cookie)
{
	return (size_t)((cookie * 0x9e3779b97f4a7c15ULL) >> s->slot_shift);
}

static int index_recs(struct twsnap *s)
{
	const struct pl_tw_rec *r = s->recs.v;
	size_t need = 64;

	while (need < s->recs.n * 2)
		need <<= 1;
	if (need > s->nslots) {
		__u32 *v = realloc(s->by_cookie, need * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->by_cookie = v;
		s->nslots = need;
		s->slot_shift = 64 - __builtin_ctzll(need);
	}
	memset(s->by_cookie, 0, s->nslots * sizeof(*s->by_cookie));
	for (size_t i = 0; i < s->recs.n; i++) {
		size_t h = cookie_slot(s, r[i].cookie);

		while (s->by_cookie[h])
			h = (h + 1) & (s->nslots - 1);
		s->by_cookie[h] = (__u32)i + 1;
	}
	return 0;
}

/*
 * The record of cookie, NULL if none. A timewait socket carries the cookie
 * of the full socket it replaced, and a listing with full sockets may catch
 * both (the full one not yet unhashed): the timewait one is the answer.
 */
static const struct pl_tw_rec *rec_find(const struct twsnap *s, __u64 cookie)
{
	const struct pl_tw_rec *r = s->recs.v, *alive = NULL;

	if (!s->nslots)
		return NULL;
	for (size_t h = cookie_slot(s, cookie); s->by_cookie[h];
	     h = (h + 1) & (s->nslots - 1)) {
		const struct pl_tw_rec *x = &r[s->by_cookie[h] - 1];

		if (x->cookie != cookie)
			continue;
		if (x->expires_ns != PL_TW_ALIVE)
			return x;
		alive = x;
	}
	return alive;
}

/* The timewait sockets of the last listing (it may have full sockets too). */
static size_t tw_count(const struct twsnap *s)
{
	const struct pl_tw_rec *r = s->recs.v;
	size_t n = 0;

	if (!s->listed_full)
		return s->recs.n;
	for (size_t i = 0; i < s->recs.n; i++)
		n += r[i].expires_ns != PL_TW_ALIVE;
	return n;
}

/*
 * The current netns's tcp_max_tw_buckets; ULLONG_MAX when unreadable. 0 is
 * a setting (no timewait socket at all: every close that would make one
 * overflows), not "unknown".
 */
static __u64 read_max_tw(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_max_tw_buckets", "re");
	unsigned long long v = ULLONG_MAX;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = ULLONG_MAX;
		fclose(f);
	}
	return v;
}

/*
 * Does a lookup's miss for w need the iterator's word? Not when the miss is
 * expected: a connect() took the 4-tuple over (the timewait socket went with
 * it), its timer is due, or judge() would not look at the lease this round.
 * Any other miss may be a socket the lookup cannot see (bound to a device):
 * the iterator sees every one, so it decides, and the round costs what it
 * did before lookups. Leases in a namespace at tcp_max_tw_buckets take that
 * path every round: their misses are the overflow it counts.
 */
/*
 * A waiting lease that is there as a stale closing one (stale_closing()),
 * not for TIME_WAIT, and still open as far as events tell.
 */
static bool awaits_close(const struct lease *l)
{
	return !(l->flags & (L_TW_EXPECTED | L_IN_TW | L_CLOSED | L_RELEASED));
}

static bool miss_needs_iter(struct twsnap *s, const struct waiting *w, __u64 start)
{
	const struct lease *l = lease_table__recheck(s->t, w->l, w->id);

	if (!l || !w->cookie)
		return false;
	/* is a stale closing lease's socket really gone? */
	if (awaits_close(l)) {
		if (!s->iter_full)
			return false;	/* no listing could say: a miss changes nothing */
		s->want_full = true;
		return true;
	}
	if (l->flags & L_TW_TAKEN)
		return false;
	if (l->flags & L_IN_TW)
		return start < l->tw_expire_ts;
	return (l->flags & L_TW_EXPECTED) && l->close_ts < start;
}

/*
 * The timewait sockets of g[0..ng) (one namespace's waiting leases, entered
 * already) by lookup, into s->found[0..ng). 0 when every miss is explained;
 * 1 when the iterator must list the namespace; -errno when the lookup failed
 * (the iterator then too).
 */
static int lookup_all(struct twsnap *s, const struct waiting *g, size_t ng, __u64 start)
{
	struct twlook__bss *bss;
	int fd, err, unexplained = 0;
	char pkt[64] = {0};

	if (!s->look)
		return -ENOTSUP;
	bss = s->look->bss;
	fd = bpf_program__fd(s->look->progs.pl_tw_lookup);
	for (size_t at = 0; at < ng && !unexplained; at += PL_TWQ_BATCH) {
		size_t nb = ng - at < PL_TWQ_BATCH ? ng - at : PL_TWQ_BATCH;
		/* an Ethernet header's worth of zeros: the program reads none of it */
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 1);

		/* a lease that ended since the copy only costs a lookup: judge() skips it */
		for (size_t k = 0; k < nb; k++) {
			const struct waiting *w = &g[at + k];
			struct pl_tw_query *q = &bss->twq[k];

			memcpy(q->laddr, w->laddr, 16);
			memcpy(q->raddr, w->raddr, 16);
			q->lport = w->lport;
			q->rport = w->rport;
			q->family = w->family;
			q->cookie = w->cookie;
		}
		bss->twq_n = (__u32)nb;
		err = bpf_prog_test_run_opts(fd, &opts);
		if (err)
			return -errno;
		for (size_t k = 0; k < nb; k++) {
			const struct pl_tw_query *q = &bss->twq[k];
			struct pl_tw_rec *r = &s->found[at + k];

			r->cookie = q->found ? q->cookie : 0;
			r->expires_ns = q->found == PL_TWQ_ALIVE ? PL_TW_ALIVE : q->expires_ns;
			if (!q->found)
				unexplained |= miss_needs_iter(s, &g[at + k], start);
		}
	}
	return unexplained;
}

/*
 * Inside n, what became of its waiting leases g[0..ng): by lookup into
 * s->found (s->looked), or by the iterator into s->recs, indexed by cookie.
 * *overflow_delta: closes that made no timewait socket since the last look;
 * *full: the netns is at tcp_max_tw_buckets now (the counter's baseline may
 * postdate a new netns's first closes, fullness does not; only a listing
 * knows it, and any miss that could be an overflow makes one).
 */
static int snapshot_ns(struct twsnap *s, struct ns_ent *n, const struct waiting *g, size_t ng,
		       __u64 start, __u64 *overflow_delta, int *full)
{
	__u64 max_tw, ov;
	int err, lk;

	s->recs.n = 0;
	s->looked = false;
	s->want_full = false;
	s->listed_full = false;
	*overflow_delta = 0;
	*full = 0;
	err = ns_enter(s, n);
	if (err)
		return err;
	/*
	 * Lookups first; the iterator when they leave a miss unexplained. The
	 * iterator walks the netns of the task that creates it.
	 */
	lk = lookup_all(s, g, ng, start);
	if (lk < 0 && lk != -ENOTSUP) {
		/* the kernel refused a run (it never does where it loaded): iterator from now on */
		twlook__destroy(s->look);
		s->look = NULL;
	}
	s->looked = lk == 0;
	if (s->looked) {
		s->st.lookup_rounds++;
	} else {
		/* without lookups every stale lease's fate needs the full sockets */
		for (size_t k = 0; lk < 0 && k < ng && !s->want_full; k++) {
			const struct lease *l = lease_table__recheck(s->t, g[k].l, g[k].id);

			s->want_full = l && g[k].cookie && awaits_close(l);
		}
		s->listed_full = s->want_full && s->iter_full;
		if (s->listed_full)
			*s->iter_full = 1;
		err = iter_collect(s->link, sizeof(struct pl_tw_rec), sizeof(struct pl_tw_rec),
				   &s->recs);
		if (s->listed_full)
			*s->iter_full = 0;
		s->st.iter_rounds++;
		max_tw = read_max_tw();
		*full = max_tw != ULLONG_MAX && tw_count(s) >= max_tw;
	}
	if (!read_tw_overflow(&ov)) {
		if (n->have_overflow && ov > n->overflow)
			*overflow_delta = ov - n->overflow;
		n->overflow = ov;
		n->have_overflow = 1;
	}
	if (ns_leave(s, n) && !err)
		err = -EIO;
	if (!err && s->recs.n > UINT32_MAX / 2)
		err = -E2BIG;
	if (!err && !s->looked)
		err = index_recs(s);
	return err;
}

static void ev_from_lease(struct pl_event *e, const struct lease *l, __u8 type, __u64 ts)
{
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->family = l->family;
	e->proto = l->proto;
	e->lport = l->lport;
	e->rport = l->rport;
	e->pid = l->pid;
	e->tid = l->tid;
	e->netns = l->netns;
	e->ts_ns = ts;
	e->lease = l->id;
	e->cookie = l->cookie;
	e->cgroup_id = l->cgroup_id;
	memcpy(e->laddr, l->laddr, 16);
	memcpy(e->raddr, l->raddr, 16);
	memcpy(e->comm, l->comm, PL_COMM_LEN);
}

/*
 * A stale closing lease (stale_closing()) whose timewait socket a round
 * found: the close the kernel did not show us happened. When is not known;
 * the socket's timer, started at TCP_TIMEWAIT_LEN, says about when (no
 * earlier than the lease's last event). From here on the lease is in
 * TIME_WAIT like any other, and its end is judged the same way.
 */
static void reconcile(struct twsnap *s, const struct lease *l, const struct pl_tw_rec *rec,
		      __u64 end, twsnap_emit_fn fn, void *ctx)
{
	__u64 expire = end + rec->expires_ns;
	__u64 ts = expire > TW_LEN_NS ? expire - TW_LEN_NS : 0;
	struct pl_event e;

	if (ts < l->touch_ts)
		ts = l->touch_ts;
	if (ts > end)
		ts = end;
	ev_from_lease(&e, l, PL_EV_TW_ENTER, ts);
	e.dur_ns = expire - ts;
	e.kind = PL_TW_RECONCILED;
	s->st.tw_reconciled++;
	fn(ctx, &e);
}

/*
 * A stale closing lease (stale_closing()) whose socket is gone: the close
 * the kernel did not show us happened, and no timewait socket holds the
 * port (a passive close, a reset, an overflow, or a TIME_WAIT that ended
 * before a round looked). The port went back at some moment after the last
 * time portlife knew the socket open: that moment is the estimate.
 */
static void release_gone(struct twsnap *s, const struct lease *l, twsnap_emit_fn fn, void *ctx)
{
	struct pl_event e;

	ev_from_lease(&e, l, PL_EV_RELEASE, l->alive_ts > l->touch_ts ? l->alive_ts : l->touch_ts);
	e.kind = PL_END_CLOSE;
	e.sflags = PL_RELF_RECONCILED;
	s->st.gone_reconciled++;
	fn(ctx, &e);
}

/*
 * What a round found of a stale closing lease: its timewait socket (the
 * close happened: reconcile()), its open socket (nothing happened: noted),
 * or nothing. Nothing means gone only where a listing with full sockets
 * agrees (a lookup misses a socket bound to a device), and only when a
 * round AUDIT_EVERY_NS earlier found it gone too with no event since (an
 * event of its real close may have been on its way).
 */
static void judge_stale(struct twsnap *s, struct lease *l, const struct pl_tw_rec *rec,
			__u64 start, __u64 end, int reachable, bool final, twsnap_emit_fn fn,
			void *ctx)
{
	if (l->flags & (L_CLOSED | L_RELEASED) || l->touch_ts >= start)
		return;	/* its close arrived since the round began */
	if (rec && rec->expires_ns != PL_TW_ALIVE) {
		l->alive_ts = end;	/* in TIME_WAIT now: tw_due() */
		reconcile(s, l, rec, end, fn, ctx);
		return;
	}
	if (rec) {
		l->alive_ts = end;
		l->missed_ts = 0;
		return;
	}
	/* a lookup's miss is no proof; without the listing's word nothing changes */
	if (!reachable || !s->listed_full)
		return;
	if ((l->missed_ts && l->touch_ts < l->missed_ts) || final) {
		release_gone(s, l, fn, ctx);
		return;
	}
	l->missed_ts = end;
}

/* Decide the fate of one waiting lease from what the snapshot showed. */
/* A TIME_WAIT that ended at ts for reason: its exit, then the port's release. */
static void tw_end(struct twsnap *s, struct lease *l, __u64 ts, __u8 reason, __u64 id,
		   twsnap_emit_fn fn, void *ctx)
{
	struct pl_event e;

	ev_from_lease(&e, l, PL_EV_TW_EXIT, ts);
	e.kind = reason;
	fn(ctx, &e);
	if (!(l = lease_table__recheck(s->t, l, id)))
		return;
	ev_from_lease(&e, l, PL_EV_RELEASE, ts);
	e.kind = reason;
	fn(ctx, &e);
}

/*
 * A lease waiting for or in TIME_WAIT in a namespace that is gone: its
 * cleanup (cleanup_net(), inet_twsk_purge()) took the timewait socket with
 * it, early: killed, when the search first found no way in (a round later
 * at most). A short-lived container's client closes, then exits: before,
 * such leases stayed "held" until a give-up 70 s on, then unseen.
 */
static void judge_gone(struct twsnap *s, struct lease *l, __u64 gone, twsnap_emit_fn fn,
		       void *ctx, __u64 id)
{
	struct pl_event e;
	__u8 reason = PL_END_TW_KILLED;

	if (gone < l->close_ts)
		gone = l->close_ts;
	if ((l->flags & L_TW_EXPECTED) && !(l->flags & L_IN_TW)) {
		/*
		 * Its close was tcp_time_wait()'s, whose timewait socket no round
		 * saw before the namespace went (deleted within a round of the
		 * close): it entered TIME_WAIT all the same, as the exact modes
		 * see it, at its close, and was killed with the namespace.
		 */
		ev_from_lease(&e, l, PL_EV_TW_ENTER, l->close_ts);
		e.dur_ns = TW_LEN_NS;
		fn(ctx, &e);
		if (!(l = lease_table__recheck(s->t, l, id)))
			return;
	}
	if (l->flags & L_IN_TW) {
		if (gone < l->tw_enter_ts)
			gone = l->tw_enter_ts;
		if (gone >= l->tw_expire_ts) {
			gone = l->tw_expire_ts;
			reason = PL_END_TW_EXPIRED;
		}
		tw_end(s, l, gone, reason, id, fn, ctx);
		return;
	}
	ev_from_lease(&e, l, PL_EV_RELEASE, gone);
	e.kind = reason;
	fn(ctx, &e);
}

static void judge(struct twsnap *s, const struct waiting *w, const struct pl_tw_rec *rec,
		  __u64 start, __u64 end, __u64 *overflow_budget, int full, int reachable,
		  __u64 gone, bool final, twsnap_emit_fn fn, void *ctx)
{
	/* by pointer: a lookup by id is a cache miss per lease per round */
	struct lease *l = lease_table__recheck(s->t, w->l, w->id);
	struct pl_event e;

	if (!l)
		return;
	if (!(l->flags & (L_TW_EXPECTED | L_IN_TW))) {
		/* stale closing (judge_stale() skips one whose close has arrived since) */
		judge_stale(s, l, rec, start, end, reachable, final, fn, ctx);
		return;
	}
	if (gone && (l->flags & L_IN_TW || l->close_ts < start)) {
		judge_gone(s, l, gone, fn, ctx, w->id);
		return;
	}
	if (rec && rec->expires_ns == PL_TW_ALIVE)
		rec = NULL;	/* its full socket, not yet unhashed: no timewait socket yet */
	if (rec) {
		l->tw_gone_ts = 0;	/* a round that missed it was wrong (a socket moved mid-walk) */
		l->alive_ts = end;	/* in TIME_WAIT now: tw_due() */
		if (l->flags & L_IN_TW)
			return;
		/* tcp_time_wait() made the timewait socket at the CLOSE we saw. */
		ev_from_lease(&e, l, PL_EV_TW_ENTER, l->close_ts);
		e.dur_ns = end + rec->expires_ns - l->close_ts;
		fn(ctx, &e);
		return;
	}
	if (l->flags & L_IN_TW) {
		__u64 gone = l->tw_gone_ts ? l->tw_gone_ts : end;
		__u8 reason;

		if (!reachable && end < l->tw_expire_ts + TW_GIVE_UP_NS / 7)
			return;
		/*
		 * A TIME_WAIT timer never fires early: gone before expiry means
		 * ended on purpose. If a connect() took the same 4-tuple since
		 * (tcp_tw_reuse), it was reused; else killed (RST, ss -K).
		 */
		if (gone >= l->tw_expire_ts)
			reason = PL_END_TW_EXPIRED;
		else if (l->flags & L_TW_TAKEN)
			reason = PL_END_TW_REUSED;
		else
			reason = PL_END_TW_KILLED;
		/*
		 * The connect() that reuses a tuple frees the timewait socket
		 * before its own event is in the buffer, and this round read the
		 * buffer before the iterator ran: a kill seen now may be a reuse
		 * whose event is still on its way. Ask again next round.
		 */
		if (reason == PL_END_TW_KILLED && !final && !l->tw_gone_ts) {
			l->tw_gone_ts = end;
			return;
		}
		/* a reuse happened at the connect() that took the tuple, not at a round */
		if (reason == PL_END_TW_REUSED && l->tw_taken_ts >= l->tw_enter_ts &&
		    l->tw_taken_ts < gone)
			gone = l->tw_taken_ts;
		tw_end(s, l, gone, reason, w->id, fn, ctx);
		return;
	}
	if (!(l->flags & L_TW_EXPECTED) || l->close_ts >= start)
		return;	/* closed after this snapshot began: next time */
	if (!reachable && end < l->close_ts + TW_GIVE_UP_NS)
		return;
	/*
	 * No timewait socket seen. None was made (the namespace overflowed
	 * tcp_max_tw_buckets since the last round): the port was freed at the
	 * close. Or one was, and a connect() took its 4-tuple over
	 * (tcp_tw_reuse) before any round looked: the port passed to the taker
	 * then. Or it came and went between two rounds; as above, the taker's
	 * event may still be on its way, so that is said one round later.
	 */
	ev_from_lease(&e, l, PL_EV_RELEASE, l->close_ts);
	if (!l->tw_gone_ts && (*overflow_budget || full)) {
		if (*overflow_budget)
			(*overflow_budget)--;
		e.kind = PL_END_TW_OVERFLOW;
		s->st.tw_overflow++;
	} else if (l->flags & L_TW_TAKEN) {
		if (l->tw_taken_ts > l->close_ts)
			e.ts_ns = l->tw_taken_ts;
		e.kind = PL_END_TW_REUSED;
	} else if (!final && !l->tw_gone_ts) {
		l->tw_gone_ts = end;
		return;
	} else {
		e.kind = PL_END_TW_UNSEEN;
		s->st.tw_unseen++;
	}
	fn(ctx, &e);
}

/*
 * An open namespace fd keeps the namespace alive: held between rounds, it
 * kept a deleted namespace (`ip netns del`, a container's end) and its veth
 * pair in being until its TIME_WAIT sockets expired, portlife the last user
 * of a network no one could reach (a CNI plugin then finds the interface's
 * name and address still taken); and their leases held, never tw_killed.
 * Every round lets go of them all (the next opens again, through the
 * process found last time), and forgets the namespaces none of this round's
 * waiting leases was in (marked idle by the round); the next allocation
 * there makes it known again.
 */
static void forget_idle(struct twsnap *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->nns; i++) {
		struct ns_ent *n = &s->ns[i];

		if (n->fd >= 0 && n->fd != s->self_fd) {
			close(n->fd);
			n->fd = -1;
		}
		if (n->idle && !n->kept && n->inum != s->self_inum)
			continue;
		if (k != i)
			s->ns[k] = *n;
		k++;
	}
	s->nns = k;
}

/* Room for n waiting leases and nns + 1 namespace counts; -ENOMEM if not. */
static int reserve_waiting(struct twsnap *s, size_t n)
{
	if (n > s->capw) {
		size_t cap = s->capw ? s->capw : 256;
		struct waiting *w, *g;
		struct pl_tw_rec *f;

		while (cap < n)
			cap *= 2;
		w = realloc(s->w, cap * sizeof(*w));
		if (w)
			s->w = w;
		g = realloc(s->by_ns, cap * sizeof(*g));
		if (g)
			s->by_ns = g;
		f = realloc(s->found, cap * sizeof(*f));
		if (f)
			s->found = f;
		if (!w || !g || !f)
			return -ENOMEM;
		s->capw = cap;
	}
	if (s->nns + 1 > s->capns_count) {
		size_t *c = realloc(s->ns_count, (s->nns + 1) * sizeof(*c));

		if (!c)
			return -ENOMEM;
		s->ns_count = c;
		s->capns_count = s->nns + 1;
	}
	return 0;
}

/*
 * The kernel does not always run portlife's programs, and does not always
 * say so: on the CI host it ran none of them, now and then, for the last
 * state changes of one connection (those processed in a softirq on top of
 * one thread of the host's agent), and counted no recursion miss. The lease
 * then stays in FIN_WAIT1, FIN_WAIT2 or CLOSING (it closed first), or in
 * CLOSE_WAIT or LAST_ACK (the peer did), with no close seen, and would hold
 * its port until portlife exits. Rounds look such leases up too: a timewait
 * socket with the lease's cookie proves the close (reconcile()), an open
 * socket that it has not happened, and none, confirmed, that it happened
 * without TIME_WAIT (judge_stale()). CLOSE_WAIT can last as long as the
 * application keeps the socket: such a lease costs a lookup per look.
 */
static bool stale_closing(const struct lease *l, __u64 now)
{
	if (l->proto != IPPROTO_TCP || !l->cookie || !l->state_ts ||
	    (l->flags & (L_TW_EXPECTED | L_IN_TW | L_CLOSED | L_RELEASED | L_FREE)))
		return false;
	if (l->state != PL_TCP_FIN_WAIT1 && l->state != PL_TCP_FIN_WAIT2 &&
	    l->state != PL_TCP_CLOSING && l->state != PL_TCP_CLOSE_WAIT &&
	    l->state != PL_TCP_LAST_ACK)
		return false;
	return now > l->state_ts + AUDIT_AGE_NS;
}

/* Add l to the round's copy of the waiting leases; -ENOMEM if no room. */
static int copy_waiting(struct twsnap *s, size_t *nw, struct lease *l)
{
	struct waiting *w;

	if (*nw == s->capw && reserve_waiting(s, *nw + 1))
		return -ENOMEM;
	w = &s->w[(*nw)++];
	w->l = l;
	w->id = l->id;
	w->cookie = l->cookie;
	w->netns = l->netns;
	w->pid = l->pid;
	memcpy(w->laddr, l->laddr, 16);
	memcpy(w->raddr, l->raddr, 16);
	w->lport = l->lport;
	w->rport = l->rport;
	w->family = l->family;
	return 0;
}

/*
 * Each of the round's waiting leases gets its namespace's index in s->ns,
 * or NS_UNKNOWN when it has none (no memory for one more).
 *
 * A round that no lease waited in a namespace forgets it (forget_idle()),
 * and only an allocation there made it known again: a connection made
 * before such a round, closed after it, in a namespace that allocated
 * nothing since (a container's one long-lived connection), was judged as
 * in a namespace portlife could not enter, and its TIME_WAIT went unseen.
 * A namespace not known here is known again (its lease's process first,
 * else any way in that netns_open() finds); new ones go at the end, so the
 * indexes given before stay right.
 */
#define NS_UNKNOWN ((__u32)-1)

static void index_netns(struct twsnap *s, size_t nw)
{
	__u32 last_inum = 0, last_ix = NS_UNKNOWN;

	for (size_t k = 0; k < nw; k++) {
		struct waiting *w = &s->w[k];

		if (k == 0 || w->netns != last_inum) {
			struct ns_ent *n = ns_find(s, w->netns);

			if (!n) {
				twsnap__note_netns(s, w->netns, w->pid);
				n = ns_find(s, w->netns);
			}
			last_inum = w->netns;
			last_ix = n ? (__u32)(n - s->ns) : NS_UNKNOWN;
		}
		w->ns_ix = last_ix;
	}
}

/*
 * Must a round look at l (on the TIME_WAIT list) now? Every round while it
 * waits for TIME_WAIT, and once in it: when taken over (its release is due),
 * when a round missed it (judged again), in the last round before its timer
 * is due and every round after, and TW_RECHECK_NS after a round last found
 * it (a kill is seen that much later: the precision line says so).
 */
static bool tw_due(const struct twsnap *s, const struct lease *l, __u64 now)
{
	if (!(l->flags & L_IN_TW) || (l->flags & L_TW_TAKEN) || l->tw_gone_ts || !l->alive_ts)
		return true;
	if (now + s->interval_ns >= l->tw_expire_ts)
		return true;
	return now - l->alive_ts >= TW_RECHECK_NS;
}

/*
 * A lease not due this round still needs its namespace known: forgotten
 * (forget_idle()), the process found last time as a way in would be lost
 * with it, and a later round would search /proc again.
 */
static void keep_netns(struct twsnap *s, __u32 inum, __u32 *last)
{
	struct ns_ent *n;

	if (inum == *last)
		return;
	*last = inum;
	n = ns_find(s, inum);
	if (n)
		n->kept = 1;
}

int twsnap__run(struct twsnap *s, bool final, twsnap_emit_fn fn, void *ctx)
{
	size_t nw = 0, nns, *cnt, i, k, at;
	__u32 kept_inum = 0;
	struct waiting *w, *g;
	__u64 t0 = mono_ns();
	int err = 0;

	/* Copy first: emitting events changes the list we walk. */
	for (size_t i = 0; i < s->nns; i++)
		s->ns[i].kept = 0;
	for (struct lease *l = lease_table__tw_first(s->t); l; l = lease_table__tw_next(l)) {
		if (!final && !tw_due(s, l, t0)) {
			keep_netns(s, l->netns, &kept_inum);
			continue;
		}
		if (copy_waiting(s, &nw, l))
			return -ENOMEM;
	}
	/* every lease, but only every few seconds: stale ones are rare, the table is not */
	if (final || t0 - s->last_audit >= AUDIT_EVERY_NS) {
		s->last_audit = t0;
		for (struct lease *l = lease_table__first(s->t); l; l = lease_table__next(s->t, l))
			if (stale_closing(l, t0) && copy_waiting(s, &nw, l))
				return -ENOMEM;
	}
	index_netns(s, nw);
	nns = s->nns;
	if (reserve_waiting(s, nw))
		return -ENOMEM;
	/*
	 * Grouped by namespace (a counting sort on its index, the unknown ones
	 * last): one pass each, where a pass over every lease for every
	 * namespace grew with containers times connections.
	 */
	cnt = s->ns_count;
	memset(cnt, 0, (nns + 1) * sizeof(*cnt));
	for (k = 0; k < nw; k++) {
		w = &s->w[k];
		if (w->ns_ix == NS_UNKNOWN)
			w->ns_ix = (__u32)nns;
		cnt[w->ns_ix]++;
	}
	for (i = 0, at = 0; i <= nns; i++) {
		size_t c = cnt[i];

		cnt[i] = at;
		at += c;
	}
	for (k = 0; k < nw; k++)
		s->by_ns[cnt[s->w[k].ns_ix]++] = s->w[k];
	/* cnt[i] is now where group i ends; group i starts where i - 1 ends */

	for (i = 0; i < nns; i++) {
		struct ns_ent *n = &s->ns[i];
		size_t from = i ? cnt[i - 1] : 0, to = cnt[i];
		__u64 start, end, budget = 0, gone;
		int reachable, full = 0;

		n->idle = from == to;
		if (n->idle)
			continue;
		ns_open(s, n);
		start = mono_ns();
		reachable = n->fd >= 0 &&
			    !snapshot_ns(s, n, &s->by_ns[from], to - from, start, &budget, &full);
		end = mono_ns();
		/* no way in, twice a second apart (once, at exit): gone, not merely closed to us */
		gone = n->fd < 0 && (n->gone_looks >= 2 || (final && n->gone_looks)) ? n->gone_ts : 0;
		if (!reachable) {
			s->recs.n = 0;
			s->st.netns_unreachable++;
			if (!n->lost) {
				n->lost = 1;
				s->st.netns_lost++;
			}
		}
		for (k = from; k < to; k++) {
			const struct pl_tw_rec *rec;

			g = &s->by_ns[k];
			if (!reachable)
				rec = NULL;
			else if (s->looked)
				rec = s->found[k - from].cookie ? &s->found[k - from] : NULL;
			else
				rec = g->cookie ? rec_find(s, g->cookie) : NULL;
			judge(s, g, rec, start, end, &budget, full, reachable, gone, final, fn, ctx);
		}
	}
	/* Leases in a netns we never learnt how to enter. */
	for (k = nns ? cnt[nns - 1] : 0; k < cnt[nns]; k++) {
		__u64 budget = 0, now = mono_ns();

		judge(s, &s->by_ns[k], NULL, now, now, &budget, 0, 0, 0, final, fn, ctx);
	}
	forget_idle(s);
	s->st.snapshots++;
	s->st.last_ns = mono_ns() - t0;
	s->st.total_ns += s->st.last_ns;
	if (s->st.last_ns > s->st.max_ns)
		s->st.max_ns = s->st.last_ns;
	return err;
}
