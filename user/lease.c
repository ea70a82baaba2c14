// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "lease.h"

/*
 * Lease ids come from one BPF counter, so they only grow. Remember the last
 * ENDED_KEEP ids that ended, to tell a repeated ALLOC or RELEASE after the
 * end (a duplicate) from one that merely arrived early; an id more than
 * ENDED_WINDOW below the highest seen counts as ended too. A set, not a
 * bitmap over the id space: ids from a trace file are anybody's choice, and
 * work per event must not grow with the gaps between them.
 */
#define ENDED_KEEP (1u << 16)
#define ENDED_BUCKETS (ENDED_KEEP * 2)
#define ENDED_WINDOW (1ULL << 20)

struct ended_set {
	__u64 id[ENDED_KEEP];		/* in the order they ended, a ring */
	__u32 chain[ENDED_KEEP];	/* the next slot in the bucket, +1; 0 ends it */
	__u32 bucket[ENDED_BUCKETS];	/* the first slot, +1 */
	__u32 next;			/* the slot to fill next: the oldest once full */
	__u32 used;
};

/*
 * Leases the full table evicted (--max-leases), the last EVICT_KEEP: what
 * their later events need. A release of one ends it as the allocation it
 * was (the process's held count goes down, its hold time is known); before,
 * it was taken for one never seen, waiting for its ALLOC in a new slot that
 * evicted the next lease: one lease over the limit lost every release
 * after it. Allocated only once the table first evicts.
 */
#define EVICT_KEEP (1u << 16)
#define EVICT_BUCKETS (EVICT_KEEP * 2)

struct evicted {
	__u64 id;		/* 0: a free slot */
	__u64 alloc_ts, close_ts, tw_enter_ts, tw_expire_ts;
	__u32 flags;		/* L_ALLOCATED, and where it was in its close (EVICT_FLAGS) */
	__u16 lport;
	__u8 family, proto, state;
};

#define EVICT_FLAGS (L_ALLOCATED | L_TW_EXPECTED | L_IN_TW | L_CLOSED | L_ANSWERED)

struct evicted_set {
	struct evicted v[EVICT_KEEP];	/* a ring, as ended_set's */
	__u32 chain[EVICT_KEEP];
	__u32 bucket[EVICT_BUCKETS];
	__u32 next, used;
};

/* lease.flags private to the table */
#define L_TW_LISTED	0x80000000u	/* on the TIME_WAIT/UDP watch list */
#define L_CK_LINKED	0x40000000u	/* in the cookie index */
#define L_FL_LINKED	0x20000000u	/* in the flow index */

/* Buckets per index to start with (fewer if max is smaller). */
#define LEASE_MIN_BUCKETS 1024

struct lease_table {
	struct ended_set *gone;		/* ids that ended */
	struct evicted_set *evicted;	/* NULL until the first eviction */
	__u64 max_id;
	/*
	 * Keyed hashing: ids and cookies come from the kernel or a file, and
	 * a file can choose them so that every key lands in one bucket.
	 */
	__u64 seed;
	struct lease **by_id, **by_cookie;
	struct lease **by_tuple;	/* leases waiting for or in TIME_WAIT, by 4-tuple */
	bool index_tuples;		/* by_tuple kept (tracepoint mode only needs it) */
	/*
	 * Allocated leases by (proto, port) alone: a port is known from the
	 * ALLOC on, while the addresses may come later (bind, then connect).
	 */
	struct lease **by_flow;		/* NULL: not indexed */
	/*
	 * Every index has nbuckets buckets, grown to keep about one lease per
	 * bucket up to max_buckets (max, rounded up to a power of two). Sized
	 * for max from the start, the four indexes of the default million
	 * leases were 32 MB that a storm of 50k connections touched in full
	 * (a page fault per page, and a cache miss per lookup).
	 */
	size_t nbuckets, max_buckets, max;
	struct lease *pool, *free;
	size_t used;			/* pool[used..max) never handed out yet */
	struct lease lru;		/* sentinel: lru.lru_next is the oldest */
	struct lease *tw;		/* leases waiting for or in TIME_WAIT */
	/*
	 * The lease found last: a connection's events mostly come one after
	 * another (alloc, state, state...), and the table is too big for the
	 * cache: a hit saves the two misses of a bucket and its chain.
	 */
	struct lease *last;
	struct lease ended;		/* the last ended lease, handed out by LW_END */
	struct lease_result *res;	/* the result lease_table__apply() fills: evictions */
	struct lease_stats st;
};

static size_t hash64(const struct lease_table *t, __u64 v, size_t n)
{
	v ^= t->seed;
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	return v & (n - 1);
}

/*
 * The by_id and by_cookie bucket of a key. Lease ids and socket cookies come
 * from kernel counters, so keys close in time are close in value: eight in a
 * row share one cache line of buckets (the low bits pick the bucket in it),
 * and a connect storm's new leases miss the cache once per eight, not once
 * each (perf: the bucket load was most of new_lease()). The keyed hash picks
 * the line: a trace file choosing its keys still cannot pile them into one
 * chain, at worst into eight times fewer lines.
 */
static size_t seq_bucket(const struct lease_table *t, __u64 v)
{
	if (t->nbuckets < 8)
		return hash64(t, v, t->nbuckets);
	return hash64(t, v >> 3, t->nbuckets >> 3) << 3 | (v & 7);
}

struct lease_table *lease_table__new(size_t max)
{
	struct lease_table *t;
	size_t nb = 1;

	if (!max) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < max)
		nb <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max_buckets = nb;
	if (nb > LEASE_MIN_BUCKETS)
		nb = LEASE_MIN_BUCKETS;
	t->by_id = calloc(nb, sizeof(*t->by_id));
	t->by_cookie = calloc(nb, sizeof(*t->by_cookie));
	t->by_tuple = calloc(nb, sizeof(*t->by_tuple));
	/* Lazily touched pages: a large max costs nothing until used. */
	t->pool = calloc(max, sizeof(*t->pool));
	t->gone = calloc(1, sizeof(*t->gone));
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed))
		t->seed = (__u64)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
	if (!t->by_id || !t->by_cookie || !t->by_tuple || !t->pool || !t->gone) {
		lease_table__free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->nbuckets = nb;
	t->max = max;
	/*
	 * No free list threaded through the pool up front: that would touch
	 * every page (232 MB for the default million leases) before the first
	 * event. Fresh slots come from pool[used++]; freed ones are reused first.
	 */
	t->lru.lru_next = t->lru.lru_prev = &t->lru;
	return t;
}

void lease_table__free(struct lease_table *t)
{
	if (!t)
		return;
	free(t->by_id);
	free(t->by_cookie);
	free(t->by_tuple);
	free(t->by_flow);
	free(t->pool);
	free(t->gone);
	free(t->evicted);
	free(t);
}

static bool ended_has(const struct lease_table *t, __u64 id)
{
	const struct ended_set *e = t->gone;

	for (__u32 i = e->bucket[hash64(t, id, ENDED_BUCKETS)]; i; i = e->chain[i - 1])
		if (e->id[i - 1] == id)
			return true;
	return false;
}

static void ended_add(struct lease_table *t, __u64 id)
{
	struct ended_set *e = t->gone;
	__u32 slot = e->next, *pp;
	size_t b;

	if (e->used == ENDED_KEEP) {
		/* forget the oldest: unlink its slot from its bucket */
		b = hash64(t, e->id[slot], ENDED_BUCKETS);
		for (pp = &e->bucket[b]; *pp && *pp != slot + 1; pp = &e->chain[*pp - 1])
			;
		if (*pp)
			*pp = e->chain[slot];
	} else {
		e->used++;
	}
	b = hash64(t, id, ENDED_BUCKETS);
	e->id[slot] = id;
	e->chain[slot] = e->bucket[b];
	e->bucket[b] = slot + 1;
	e->next = (slot + 1) % ENDED_KEEP;
}

/* Unlinks slot (in bucket b) from its chain. */
static void evicted_unlink(struct evicted_set *v, size_t b, __u32 slot)
{
	__u32 *pp;

	for (pp = &v->bucket[b]; *pp && *pp != slot + 1; pp = &v->chain[*pp - 1])
		;
	if (*pp)
		*pp = v->chain[slot];
}

static void evicted_add(struct lease_table *t, const struct lease *l)
{
	struct evicted_set *v = t->evicted;
	__u32 slot;
	size_t b;

	if (!v && !(v = t->evicted = calloc(1, sizeof(*v))))
		return;	/* its later events go as a lease never seen's, as before */
	slot = v->next;
	if (v->used == EVICT_KEEP) {
		if (v->v[slot].id)
			evicted_unlink(v, hash64(t, v->v[slot].id, EVICT_BUCKETS), slot);
	} else {
		v->used++;
	}
	b = hash64(t, l->id, EVICT_BUCKETS);
	v->v[slot] = (struct evicted){ .id = l->id, .alloc_ts = l->alloc_ts, .close_ts = l->close_ts,
				       .tw_enter_ts = l->tw_enter_ts,
				       .tw_expire_ts = l->tw_expire_ts,
				       .flags = l->flags & EVICT_FLAGS, .lport = l->lport,
				       .family = l->family, .proto = l->proto, .state = l->state };
	v->chain[slot] = v->bucket[b];
	v->bucket[b] = slot + 1;
	v->next = (slot + 1) % EVICT_KEEP;
}

/* Lease id, evicted: out filled and the record forgotten (its events bring it back). */
static bool evicted_take(struct lease_table *t, __u64 id, struct evicted *out)
{
	struct evicted_set *v = t->evicted;
	size_t b;

	if (!v || !id)
		return false;
	b = hash64(t, id, EVICT_BUCKETS);
	for (__u32 i = v->bucket[b]; i; i = v->chain[i - 1]) {
		if (v->v[i - 1].id != id)
			continue;
		*out = v->v[i - 1];
		evicted_unlink(v, b, i - 1);
		v->v[i - 1].id = 0;
		return true;
	}
	return false;
}

/*
 * Did lease id end already? Ids far below the highest seen count as ended;
 * one above it (every new lease's ALLOC) never did, and skips the set.
 */
static bool ended_before(const struct lease_table *t, __u64 id)
{
	if (id > t->max_id)
		return false;
	if (id + ENDED_WINDOW <= t->max_id)
		return true;
	return ended_has(t, id);
}

void lease_table__index_tuples(struct lease_table *t)
{
	t->index_tuples = true;
}

int lease_table__index_flows(struct lease_table *t)
{
	if (!t->by_flow)
		t->by_flow = calloc(t->nbuckets, sizeof(*t->by_flow));
	return t->by_flow ? 0 : -ENOMEM;
}

static struct lease **flow_bucket(struct lease_table *t, __u8 proto, __u16 lport)
{
	return &t->by_flow[hash64(t, ((__u64)proto << 16) | lport, t->nbuckets)];
}

static void flow_link(struct lease_table *t, struct lease *l)
{
	struct lease **b;

	if (!t->by_flow || (l->flags & L_FL_LINKED) || !l->lport)
		return;
	b = flow_bucket(t, l->proto, l->lport);
	l->fl_next = *b;
	*b = l;
	l->flags |= L_FL_LINKED;
}

static void flow_unlink(struct lease_table *t, struct lease *l)
{
	struct lease **pp;

	if (!(l->flags & L_FL_LINKED))
		return;
	/* its bucket by the port it was linked under: a lease's port does not change */
	for (pp = flow_bucket(t, l->proto, l->lport); *pp && *pp != l; pp = &(*pp)->fl_next)
		;
	if (*pp)
		*pp = l->fl_next;
	l->fl_next = NULL;
	l->flags &= ~L_FL_LINKED;
}

static bool addr_any(const __u8 *a)
{
	static const __u8 zero[16];

	return !memcmp(a, zero, 16);
}

int lease_flow_score(const __u8 *own_laddr, const __u8 *own_raddr, __u16 own_rport,
		     const __u8 *laddr, const __u8 *raddr, __u16 rport)
{
	if (memcmp(own_laddr, laddr, 16) && !addr_any(own_laddr))
		return 0;
	if (own_rport && (own_rport != rport || memcmp(own_raddr, raddr, 16)))
		return 0;
	/* an exact 4-tuple beats a wildcard */
	return 1 + !addr_any(own_laddr) + 2 * !!own_rport;
}

struct lease *lease_table__find_flow(struct lease_table *t, __u8 proto, __u8 family,
				     const __u8 *laddr, __u16 lport, const __u8 *raddr,
				     __u16 rport)
{
	struct lease *best = NULL;
	int best_score = 0;

	if (!t->by_flow || !lport)
		return NULL;
	for (struct lease *l = *flow_bucket(t, proto, lport); l; l = l->fl_next) {
		int score;

		if (l->lport != lport || l->proto != proto || l->family != family ||
		    (l->flags & L_RELEASED))
			continue;
		score = lease_flow_score(l->laddr, l->raddr, l->rport, laddr, raddr, rport);
		/* among equals, the newest */
		if (score > best_score || (score && score == best_score &&
					   l->touch_ts > best->touch_ts)) {
			best = l;
			best_score = score;
		}
	}
	return best;
}

const struct lease_stats *lease_table__stats(const struct lease_table *t)
{
	return &t->st;
}

struct lease *lease_table__find(struct lease_table *t, __u64 id)
{
	struct lease *l;

	if (t->last && t->last->id == id)
		return t->last;
	/*
	 * Ids grow: a new lease's ALLOC carries one above all seen, in no
	 * chain. Said here, its ALLOC skips a bucket that is not in cache.
	 */
	if (id > t->max_id)
		return NULL;
	for (l = t->by_id[seq_bucket(t, id)]; l && l->id != id; l = l->id_next)
		;
	if (l)
		t->last = l;
	return l;
}

struct lease *lease_table__recheck(struct lease_table *t, struct lease *l, __u64 id)
{
	if (!l || l->id != id || (l->flags & L_FREE))
		return NULL;
	t->last = l;
	return l;
}

struct lease *lease_table__find_cookie(struct lease_table *t, __u64 cookie)
{
	struct lease *l;

	if (!cookie)
		return NULL;
	l = t->by_cookie[seq_bucket(t, cookie)];
	while (l && l->cookie != cookie)
		l = l->ck_next;
	return l;
}

static void unlink_chain(struct lease **head, struct lease *l, int by_cookie)
{
	struct lease **pp = head;

	while (*pp && *pp != l)
		pp = by_cookie ? &(*pp)->ck_next : &(*pp)->id_next;
	if (*pp)
		*pp = by_cookie ? l->ck_next : l->id_next;
}

/*
 * The cookie index holds one lease per cookie, the newest: the kernel never
 * hands out a cookie twice, and a file that repeats one must not stack
 * every lease on one chain.
 */
static void set_cookie(struct lease_table *t, struct lease *l, __u64 cookie)
{
	struct lease *old;
	size_t b;

	if (!cookie || l->cookie == cookie)
		return;
	if (l->flags & L_CK_LINKED)
		unlink_chain(&t->by_cookie[seq_bucket(t, l->cookie)], l, 1);
	l->cookie = cookie;
	old = lease_table__find_cookie(t, cookie);
	b = seq_bucket(t, cookie);
	if (old) {
		unlink_chain(&t->by_cookie[b], old, 1);
		old->flags &= ~L_CK_LINKED;
	}
	l->ck_next = t->by_cookie[b];
	t->by_cookie[b] = l;
	l->flags |= L_CK_LINKED;
}

static void lru_unlink(struct lease *l)
{
	l->lru_prev->lru_next = l->lru_next;
	l->lru_next->lru_prev = l->lru_prev;
}

static void lru_touch(struct lease_table *t, struct lease *l, __u64 ts)
{
	lru_unlink(l);
	l->lru_prev = t->lru.lru_prev;
	l->lru_next = &t->lru;
	t->lru.lru_prev->lru_next = l;
	t->lru.lru_prev = l;
	if (ts > l->touch_ts)
		l->touch_ts = ts;
}

/* The bucket of a 4-tuple in its namespace (keyed, like every index here). */
static struct lease **tuple_bucket(struct lease_table *t, __u32 netns, __u8 family, __u16 lport,
				   __u16 rport, const __u8 *laddr, const __u8 *raddr)
{
	__u64 a, b, v = ((__u64)netns << 32) ^ ((__u64)lport << 16) ^ rport ^ ((__u64)family << 48);

	memcpy(&a, laddr + 8, 8);
	memcpy(&b, raddr + 8, 8);
	v ^= a * 0x9e3779b97f4a7c15ULL;
	v ^= b * 0xc2b2ae3d27d4eb4fULL;
	memcpy(&a, laddr, 8);
	memcpy(&b, raddr, 8);
	v ^= (a ^ (b << 1)) * 0x165667b19e3779f9ULL;
	return &t->by_tuple[hash64(t, v, t->nbuckets)];
}

static bool same_tuple(const struct lease *x, const struct lease *y)
{
	return x->lport == y->lport && x->rport == y->rport && x->netns == y->netns &&
	       x->family == y->family && x->proto == y->proto &&
	       !memcmp(x->laddr, y->laddr, 16) && !memcmp(x->raddr, y->raddr, 16);
}

/*
 * A connect() on l's 4-tuple: if a lease waiting for or in TIME_WAIT holds
 * it, this connect took it over (tcp_tw_reuse). The snapshot then says
 * tw_reused, where it could only have said tw_killed.
 */
static void note_tuple_taken(struct lease_table *t, const struct lease *l, __u64 ts)
{
	if (!t->index_tuples || !l->lport || !l->rport)
		return;
	for (struct lease *o = *tuple_bucket(t, l->netns, l->family, l->lport, l->rport, l->laddr,
					      l->raddr); o; o = o->tu_next)
		if (o != l && same_tuple(o, l) && !(o->flags & L_TW_TAKEN)) {
			o->flags |= L_TW_TAKEN;
			o->tw_taken_ts = ts;
		}
}

static void tw_link(struct lease_table *t, struct lease *l)
{
	struct lease **b;

	if (l->flags & L_TW_LISTED)
		return;
	l->flags |= L_TW_LISTED;
	if (t->index_tuples) {
		b = tuple_bucket(t, l->netns, l->family, l->lport, l->rport, l->laddr, l->raddr);
		l->tu_next = *b;
		*b = l;
	}
	l->tw_prev = NULL;
	l->tw_next = t->tw;
	if (t->tw)
		t->tw->tw_prev = l;
	t->tw = l;
}

static void tw_unlink(struct lease_table *t, struct lease *l)
{
	struct lease **pp;

	if (!(l->flags & L_TW_LISTED))
		return;
	l->flags &= ~L_TW_LISTED;
	if (t->index_tuples) {
		/* its bucket by the tuple it was listed under: the tuple does not change once known */
		pp = tuple_bucket(t, l->netns, l->family, l->lport, l->rport, l->laddr, l->raddr);
		while (*pp && *pp != l)
			pp = &(*pp)->tu_next;
		if (*pp)
			*pp = l->tu_next;
		l->tu_next = NULL;
	}
	if (l->tw_prev)
		l->tw_prev->tw_next = l->tw_next;
	else
		t->tw = l->tw_next;
	if (l->tw_next)
		l->tw_next->tw_prev = l->tw_prev;
	l->tw_next = l->tw_prev = NULL;
}

struct lease *lease_table__tw_first(struct lease_table *t)
{
	return t->tw;
}

static void remove_lease(struct lease_table *t, struct lease *l)
{
	if (t->last == l)
		t->last = NULL;
	unlink_chain(&t->by_id[seq_bucket(t, l->id)], l, 0);
	if (l->flags & L_CK_LINKED)
		unlink_chain(&t->by_cookie[seq_bucket(t, l->cookie)], l, 1);
	lru_unlink(l);
	tw_unlink(t, l);
	flow_unlink(t, l);
	l->flags |= L_FREE;
	l->id_next = t->free;
	t->free = l;
	t->st.live--;
}

/*
 * Four times the buckets in every index (fewer rehashes than doubling), each
 * lease relinked where its keys now fall: chains are unordered, every lookup
 * compares keys. The pool is walked in order, not the old chains: one pass
 * over memory the prefetcher follows, where chasing chains was a cache miss
 * per lease per index (perf: a storm's growths took 15% of the tracer).
 * Called when the table holds more leases than buckets; without memory for
 * the new arrays the old ones stay, only slower.
 */
static void grow_indexes(struct lease_table *t)
{
	size_t nb = t->nbuckets * 4 < t->max_buckets ? t->nbuckets * 4 : t->max_buckets;
	struct lease **id = calloc(nb, sizeof(*id)), **ck = calloc(nb, sizeof(*ck));
	struct lease **tu = calloc(nb, sizeof(*tu));
	struct lease **fl = t->by_flow ? calloc(nb, sizeof(*fl)) : NULL;
	struct lease **b;

	if (!id || !ck || !tu || (t->by_flow && !fl)) {
		free(id);
		free(ck);
		free(tu);
		free(fl);
		return;
	}
	free(t->by_id);
	free(t->by_cookie);
	free(t->by_tuple);
	free(t->by_flow);
	t->by_id = id;
	t->by_cookie = ck;
	t->by_tuple = tu;
	t->by_flow = fl;
	t->nbuckets = nb;
	for (size_t i = 0; i < t->used; i++) {
		struct lease *l = &t->pool[i];

		if (l->flags & L_FREE)
			continue;
		b = &t->by_id[seq_bucket(t, l->id)];
		l->id_next = *b;
		*b = l;
		if (l->flags & L_CK_LINKED) {
			b = &t->by_cookie[seq_bucket(t, l->cookie)];
			l->ck_next = *b;
			*b = l;
		}
		if ((l->flags & L_TW_LISTED) && t->index_tuples) {
			b = tuple_bucket(t, l->netns, l->family, l->lport, l->rport, l->laddr,
					 l->raddr);
			l->tu_next = *b;
			*b = l;
		}
		if (l->flags & L_FL_LINKED) {
			b = flow_bucket(t, l->proto, l->lport);
			l->fl_next = *b;
			*b = l;
		}
	}
}

static struct lease *new_lease(struct lease_table *t, __u64 id, __u64 ts)
{
	struct lease *l;
	size_t b;

	if (!t->free && t->used < t->max) {
		l = &t->pool[t->used++];
	} else {
		if (!t->free) {
			/* Full: the least recently touched lease makes room. */
			struct lease *v = t->lru.lru_next;

			if (t->res && (v->flags & L_ALLOCATED)) {
				t->res->evicted = true;
				t->res->evicted_pid = v->pid;
				t->res->evicted_cgroup = v->cgroup_id;
				memcpy(t->res->evicted_comm, v->comm, PL_COMM_LEN);
			}
			evicted_add(t, v);
			remove_lease(t, v);
			t->st.evicted++;
		}
		l = t->free;
		t->free = l->id_next;
	}
	memset(l, 0, sizeof(*l));
	l->id = id;
	if (id > t->max_id)
		t->max_id = id;
	b = seq_bucket(t, id);
	l->id_next = t->by_id[b];
	t->by_id[b] = l;
	l->lru_prev = l->lru_next = l;
	lru_touch(t, l, ts);
	t->st.live++;
	t->st.created++;
	if (t->st.live > t->nbuckets && t->nbuckets < t->max_buckets)
		grow_indexes(t);
	return l;
}

static void copy_tuple(struct lease *l, const struct pl_event *e)
{
	l->family = e->family;
	l->proto = e->proto;
	l->lport = e->lport;
	l->rport = e->rport;
	memcpy(l->laddr, e->laddr, sizeof(l->laddr));
	memcpy(l->raddr, e->raddr, sizeof(l->raddr));
}

static void copy_owner(struct lease *l, const struct pl_event *e)
{
	l->pid = e->pid;
	l->tid = e->tid;
	l->netns = e->netns;
	l->cgroup_id = e->cgroup_id;
	memcpy(l->comm, e->comm, sizeof(l->comm));
}

/* Hand the lease out as ended: a copy survives until the next call. */
static struct lease *end_lease(struct lease_table *t, struct lease *l, __u64 ts, __u8 reason)
{
	l->end_ts = ts;
	l->end_reason = reason;
	t->ended = *l;
	t->ended.id_next = t->ended.ck_next = NULL;
	t->ended.lru_prev = t->ended.lru_next = NULL;
	t->ended.tw_prev = t->ended.tw_next = NULL;
	t->ended.tu_next = NULL;
	t->ended.fl_next = NULL;
	t->ended.flags &= ~(L_TW_LISTED | L_CK_LINKED | L_FL_LINKED);
	if (!(l->flags & L_ALLOCATED))
		t->st.no_alloc++;
	ended_add(t, l->id);
	remove_lease(t, l);
	t->st.ended++;
	return &t->ended;
}

/* An evicted lease's record back into l: its port (zeroed at CLOSE), state and times. */
static void evicted_restore(struct lease *l, const struct evicted *ev)
{
	if (!l->lport) {
		l->lport = ev->lport;
		l->family = ev->family;
		l->proto = ev->proto;
	}
	l->flags |= ev->flags;
	l->alloc_ts = ev->alloc_ts;
	l->close_ts = ev->close_ts;
	l->tw_enter_ts = ev->tw_enter_ts;
	l->tw_expire_ts = ev->tw_expire_ts;
	l->state = ev->state;
}

/*
 * RELEASE e ends a lease the table does not hold, without a slot (one
 * would evict another): handed out as LW_END, created and ended at once in
 * the counts. The caller completes what it knows of it.
 */
static struct lease *end_now(struct lease_table *t, const struct pl_event *e,
			     struct lease_result *r)
{
	struct lease *x = &t->ended;

	memset(x, 0, sizeof(*x));
	x->id = e->lease;
	copy_tuple(x, e);
	copy_owner(x, e);
	x->end_ts = e->ts_ns;
	x->end_reason = e->kind;
	ended_add(t, e->lease);
	t->st.created++;
	t->st.ended++;
	r->what = LW_END;
	r->lease = x;
	return x;
}

void lease_table__apply(struct lease_table *t, const struct pl_event *e, struct lease_result *r)
{
	struct evicted ev;
	struct lease *l;

	memset(r, 0, sizeof(*r));
	t->res = r;
	if (e->type == PL_EV_ALLOC && e->err) {
		/* A failed allocation holds no port: aggregate it, track nothing. */
		r->what = LW_ALLOC;
		return;
	}
	if (e->type == PL_EV_BIND_ERROR || e->type == PL_EV_SIGNAL)
		return;	/* no port was looked for, or none is held: nothing to track */
	l = lease_table__find(t, e->lease);
	if (l && e->ts_ns < l->touch_ts)
		t->st.out_of_order++;
	if (!l && ended_before(t, e->lease)) {
		/* Anything for a lease that already ended: repeated, or late. */
		if (e->type == PL_EV_STATE)
			t->st.out_of_order++;
		else
			t->st.duplicates++;
		return;
	}

	if (!l && e->type != PL_EV_ALLOC && evicted_take(t, e->lease, &ev)) {
		r->revived = ev.flags & L_ALLOCATED;
		if (e->type == PL_EV_RELEASE) {
			/* its end, as the allocation it was: no slot taken from another */
			struct lease *x = end_now(t, e, r);

			evicted_restore(x, &ev);
			x->flags &= ~L_TW_EXPECTED;
			/* a release in TIME_WAIT: it ended there (the rounds' tw_exit came with it) */
			if (x->flags & L_IN_TW)
				x->tw_exit_ts = e->ts_ns;
			if (!(x->flags & L_ALLOCATED))
				t->st.no_alloc++;
			return;
		}
		/*
		 * Back in the table as it was (allocated, closing, in TIME_WAIT:
		 * the rounds look for it again), its release ends it so. It
		 * evicts the least recently touched in its turn, which comes
		 * back the same way.
		 */
		l = new_lease(t, e->lease, e->ts_ns);
		copy_tuple(l, e);
		copy_owner(l, e);
		evicted_restore(l, &ev);
		l->state_ts = ev.close_ts;
		if (ev.flags & (L_TW_EXPECTED | L_IN_TW))
			tw_link(t, l);
		if (l->flags & L_ALLOCATED)
			flow_link(t, l);
	}

	switch (e->type) {
	case PL_EV_ALLOC:
		if (l && (l->flags & L_ALLOCATED)) {
			t->st.duplicates++;
			return;
		}
		if (!l) {
			l = new_lease(t, e->lease, e->ts_ns);
		} else {
			/* Events of this lease came before its ALLOC. */
			lru_touch(t, l, e->ts_ns);
		}
		copy_tuple(l, e);
		copy_owner(l, e);
		set_cookie(t, l, e->cookie);
		l->kind = e->kind;
		l->flags |= L_ALLOCATED;
		if (e->kind == PL_ALLOC_CONNECT)
			note_tuple_taken(t, l, e->ts_ns);
		l->alloc_ts = e->ts_ns;
		l->alloc_lat = e->dur_ns;
		flow_link(t, l);
		r->what = LW_ALLOC;
		r->lease = l;
		if (l->flags & L_RELEASED) {
			r->ended_too = true;
			r->lease = end_lease(t, l, l->end_ts, l->end_reason);
		}
		return;

	case PL_EV_STATE:
		if (!l) {
			/* ALLOC missed (or still to come): keep what we learn. */
			l = new_lease(t, e->lease, e->ts_ns);
			copy_tuple(l, e);
			copy_owner(l, e);
		}
		lru_touch(t, l, e->ts_ns);
		set_cookie(t, l, e->cookie);
		if (e->lport && !l->lport) {
			copy_tuple(l, e);
		} else if (e->lport == l->lport && e->rport && !l->rport) {
			/* bound first, connected now: the far end (and the local address) */
			l->rport = e->rport;
			memcpy(l->laddr, e->laddr, sizeof(l->laddr));
			memcpy(l->raddr, e->raddr, sizeof(l->raddr));
		}
		if (e->ts_ns >= l->state_ts) {
			l->state = e->new_state;
			l->state_ts = e->ts_ns;
		}
		if (l->flags & L_ALLOCATED)
			flow_link(t, l);
		if (e->new_state == PL_TCP_ESTABLISHED && !l->estab_ts)
			l->estab_ts = e->ts_ns;
		/*
		 * Only an answered connection leaves these states: its
		 * ESTABLISHED may be missing (the kernel skips the program
		 * when a softirq's change lands on a CPU already running it).
		 */
		if (e->new_state == PL_TCP_ESTABLISHED || e->old_state == PL_TCP_ESTABLISHED ||
		    e->old_state == PL_TCP_FIN_WAIT1 || e->old_state == PL_TCP_FIN_WAIT2 ||
		    e->old_state == PL_TCP_CLOSE_WAIT || e->old_state == PL_TCP_LAST_ACK ||
		    e->old_state == PL_TCP_CLOSING)
			l->flags |= L_ANSWERED;
		/* a bound socket's connect (bind, then connect to a TIME_WAIT tuple) */
		if (e->old_state == PL_TCP_CLOSE && e->new_state == PL_TCP_SYN_SENT)
			note_tuple_taken(t, l, e->ts_ns);
		if (e->new_state == PL_TCP_CLOSE) {
			l->flags |= L_CLOSED;
			if (!l->close_ts || e->ts_ns < l->close_ts)
				l->close_ts = e->ts_ns;
			if ((e->kind & PL_STATE_TW_EXPECTED) && !(l->flags & L_IN_TW)) {
				l->flags |= L_TW_EXPECTED;
				tw_link(t, l);
			}
		}
		r->what = LW_STATE;
		r->lease = l;
		return;

	case PL_EV_TW_ENTER:
		if (!l) {
			t->st.orphans++;
			return;
		}
		if (l->flags & L_IN_TW) {
			t->st.duplicates++;
			return;
		}
		lru_touch(t, l, e->ts_ns);
		/* TIME_WAIT comes only after an answer */
		l->flags = (l->flags & ~L_TW_EXPECTED) | L_IN_TW | L_CLOSED | L_ANSWERED;
		l->tw_enter_ts = e->ts_ns;
		/* tcp_time_wait() is the close: exact modes report no CLOSE state for it. */
		if (!l->close_ts)
			l->close_ts = e->ts_ns;
		l->tw_expire_ts = e->ts_ns + e->dur_ns;
		tw_link(t, l);
		r->what = LW_TW_ENTER;
		r->lease = l;
		return;

	case PL_EV_TW_EXIT:
		if (!l || !(l->flags & L_IN_TW)) {
			if (l)
				t->st.duplicates++;
			else
				t->st.orphans++;
			return;
		}
		lru_touch(t, l, e->ts_ns);
		l->flags &= ~L_IN_TW;
		l->tw_exit_ts = e->ts_ns;
		tw_unlink(t, l);
		r->what = LW_TW_EXIT;
		r->lease = l;
		return;

	case PL_EV_RELEASE:
		if (!l && !t->free && t->used == t->max) {
			/*
			 * Full: a slot to wait for an ALLOC that may never come
			 * would evict a live lease. Ended now, as one never seen.
			 */
			end_now(t, e, r);
			t->st.no_alloc++;
			return;
		}
		if (!l) {
			/* Either the ALLOC is still to come, or we never saw it. */
			l = new_lease(t, e->lease, e->ts_ns);
			copy_tuple(l, e);
			copy_owner(l, e);
			l->flags |= L_RELEASED;
			l->end_ts = e->ts_ns;
			l->end_reason = e->kind;
			return;
		}
		if (l->flags & L_RELEASED) {
			t->st.duplicates++;
			return;
		}
		r->what = LW_END;
		r->lease = end_lease(t, l, e->ts_ns, e->kind);
		return;
	}
}

struct lease *lease_table__first(struct lease_table *t)
{
	return t->lru.lru_next == &t->lru ? NULL : t->lru.lru_next;
}

struct lease *lease_table__next(struct lease_table *t, struct lease *l)
{
	return l->lru_next == &t->lru ? NULL : l->lru_next;
}

struct lease *lease_table__find_port(struct lease_table *t, __u32 netns, __u8 proto, __u16 lport,
				     const struct lease *after)
{
	/* Newest first: walk the LRU list backwards. Rare (diagnosis): O(n) is fine. */
	for (struct lease *l = after ? after->lru_prev : t->lru.lru_prev; l != &t->lru;
	     l = l->lru_prev)
		if (l->lport == lport && l->netns == netns && l->proto == proto &&
		    (l->flags & L_ALLOCATED) && !(l->flags & L_RELEASED))
			return l;
	return NULL;
}

void lease_table__age(struct lease_table *t, __u64 before_ns)
{
	struct lease *l = t->lru.lru_next, *next;

	while (l != &t->lru && l->touch_ts < before_ns) {
		next = l->lru_next;
		if (l->flags & L_RELEASED) {
			remove_lease(t, l);
			t->st.orphans++;
		}
		l = next;
	}
}
