/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The tracer's state in the kernel: its knobs, maps and lease records, and
 * the helpers that turn a lease into an event on the ring buffer. Included by
 * portlife.bpf.c only; the iterators of `portlife ports` (iters.bpf.c) need
 * none of it, so they do not pay for a ring buffer they never write.
 */
#ifndef PORTLIFE_EVENTS_BPF_H
#define PORTLIFE_EVENTS_BPF_H

#include "common.bpf.h"

/* lease_val.flags */
#define LF_CONNECTING	0x1	/* SYN_SENT seen, port not assigned yet */
#define LF_CLOSED	0x2	/* CLOSE seen, explicitly bound: port held until destroy */
#define LF_CLOSED_TW	0x4	/* CLOSE via tcp_time_wait(): a TIME_WAIT socket holds the port */
#define LF_IN_TIME_WAIT_CALL 0x8	/* exact modes: inside tcp_time_wait() */
#define LF_TW		0x10	/* exact modes: keyed by the timewait socket */
#define LF_TW_KILLED	0x20	/* inet_twsk_deschedule_put() */
#define LF_TW_REUSED	0x40	/* tcp_twsk_unique() took it over */
#define LF_LEASE	0x80	/* tracepoint mode: the socket's storage holds a lease */
#define LF_BORN		0x100	/* tracepoint mode: a UDP socket made while tracing, no port yet */
#define LF_UDP_CONNECT	0x200	/* tracepoint mode: autobound by connect() (if it got a port) */
#define LF_LISTEN_AUTO	0x400	/* tracepoint mode: listen() without a port; sock_ops says which */
#define LF_RESET	0x800	/* tracepoint mode: a reset ends it from FIN_WAIT2/CLOSING, no TIME_WAIT */
#define LF_DEFER	0x1000	/* tracepoint mode: TCP_FASTOPEN_CONNECT, its SYN may wait for a send */
#define LF_PRE		0x2000	/* tracepoint mode: a UDP socket that held lport before tracing began */

/* Knobs: rodata, set by the loader between open and load. */
const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;
const volatile bool filter_cgroup = false;
/* fentry/kprobe modes: allocation and release come from their own hooks. */
const volatile bool exact_hooks = false;
/*
 * portlife itself: never traced, but its self-test calls are counted. Its
 * pid as the kernel knows it, which getpid() is not in a pid namespace of
 * its own (a container without hostPID): the loader sets getpid(), and the
 * hook that sees the self-test's bind() (calib_cookie) sets the kernel's.
 */
__u32 self_tgid = 0;
/* The self-test socket's cookie (SO_COOKIE) while its bind() runs; else 0. */
__u64 calib_cookie = 0;
/* Wake the reader only when this much is waiting; otherwise it polls on a timer. */
const volatile __u64 wakeup_bytes = 256 * 1024;
/* The security rules' signals (listen; probes, where their programs load): off with --no-alerts. */
const volatile bool signals_on = false;
/* Probe signals recorded per CPU and second, at most: see signals.bpf.h. */
const volatile __u32 probe_rate = 1000;
/*
 * Tracepoint mode: the bind()/connect() syscall exit tracepoints are attached.
 * Off with --no-syscall-hooks: any syscall tracepoint puts every system call
 * of the host on the slow path, and some owners would rather not pay that.
 */
const volatile bool sys_exit_hooks = true;
/*
 * Tests only (PORTLIFE_TEST_SKIP_CLOSE_RPORT): the tracepoint mode's state
 * program skips the changes out of FIN_WAIT1 and FIN_WAIT2 of connections
 * to this port, as a recursion miss does. 0 (always, outside the tests): the
 * verifier drops the check, a constant.
 */
const volatile __u16 test_skip_rport = 0;

/* Lease ids: a counter, never a pointer. */
__u64 next_lease = 0;
/*
 * Hook entries seen from portlife's own self-test: an fentry program can
 * attach and still never run (ftrace locked down), so user space checks.
 */
__u64 calib_hits = 0;

/*
 * A tracked socket, keyed by its address in the leases map. That address
 * never leaves the kernel: events carry the lease counter and the cookie.
 */
struct lease_val {
	__u64 lease;
	__u64 cookie;
	__u64 start_ns;		/* SYN_SENT time while LF_CONNECTING */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 netns;
	__u16 flags;
	__u8 proto;
	__u8 state;		/* tracepoint mode, TCP: the last state the state tracepoint saw */
	__u16 lport;		/* the port, once allocated */
	__u16 sport0;		/* tracepoint mode, LF_CONNECTING: inet_sport before the search */
	__u32 range;		/* LF_LISTEN_AUTO: the netns's ip_local_port_range */
	char comm[PL_COMM_LEN];
	/*
	 * Tracepoint mode: the socket's own address, as a number (cgroup
	 * programs get the socket as a type they may not read through; a
	 * number they may). Never leaves the kernel.
	 */
	__u64 skaddr;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Failed bpf_ringbuf_reserve() calls, per event type. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PL_EV_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/*
 * Exact modes: tracked sockets (and timewait sockets) by address. A plain
 * hash, not an LRU: an LRU evicts live leases without a word, and an evicted
 * lease's release would never come. When it is full, a new lease is not
 * tracked and counted (untracked); user space sizes it from --max-leases.
 * The tracepoint mode keeps the leases of connect()ing TCP sockets here
 * (without preallocation: the loader sets it), and the rest in the sockets
 * themselves (sk_leases; see tp_bodies.bpf.h for why).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct lease_val);
} leases SEC(".maps");

/*
 * Lease ids claimed, for lease_id_new() built without atomic fetch (before
 * 5.12): an insert into a hash map is the only atomic test-and-set a tracing
 * program has there. LRU: old claims go by themselves. The loader creates
 * it only for that build.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} lease_ids SEC(".maps");

/* Leases the kernel could not keep: the map above full, a socket's storage refused. */
__u64 untracked = 0;
/* Probe signals over probe_rate: counted here, not recorded (user space reports them). */
__u64 probes_over_rate = 0;

/* Stores a new lease; counts it as untracked when there is no room. */
static __always_inline int lease_store(__u64 key, const struct lease_val *l)
{
	int err = bpf_map_update_elem(&leases, &key, l, BPF_ANY);

	if (err)
		__sync_fetch_and_add(&untracked, 1);
	return err;
}

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

static __always_inline bool task_filtered(__u32 tgid)
{
	if (tgid == self_tgid)
		return true;
	if (targ_tgid && tgid != targ_tgid)
		return true;
	if (filter_cgroup && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return true;
	return false;
}

static __always_inline void count_drop(__u8 type)
{
	__u32 key = type;
	__u64 *cnt = bpf_map_lookup_elem(&drops, &key);

	if (cnt)
		*cnt += 1;
}

static __always_inline struct pl_event *ev_reserve(__u8 type)
{
	struct pl_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(type);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->proto = IPPROTO_TCP;	/* ev_owner() sets the lease's own */
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

/*
 * A wakeup per event is what makes per-event tracers slow: wake the reader
 * only when the buffer fills up, and let it poll on a short timer otherwise.
 */
static __always_inline void ev_submit(struct pl_event *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(e, avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void ev_owner(struct pl_event *e, const struct lease_val *l)
{
	e->lease = l->lease;
	e->cookie = l->cookie;
	e->pid = l->pid;
	e->tid = l->tid;
	e->netns = l->netns;
	e->cgroup_id = l->cgroup_id;
	e->proto = l->proto;
	__builtin_memcpy(e->comm, l->comm, sizeof(e->comm));
}

/*
 * A new lease id, unique for this run and increasing (user space keeps a
 * window of recent ids).
 *
 * From 5.12 (5ca419f2864a "bpf: Add BPF_FETCH field / create
 * atomic_fetch_add instruction") one atomic fetch-and-add does it. 5.10
 * rejects a program holding such an instruction anywhere, dead code included
 * ("BPF_STX uses reserved fields": the check runs over every instruction
 * before the verifier walks the program), so the tracer is built twice and
 * the loader probes which one the kernel takes (portlife_nofetch.bpf.o,
 * -DPL_NO_FETCH). Without fetch: an atomic add (BPF_XADD, every kernel),
 * then a read. Two CPUs may read the same value; a BPF_NOEXIST insert into
 * lease_ids gives it to one, the other takes the next. Some ids are skipped,
 * none is given twice. That insert into a full LRU map costs about 0.5 us
 * per allocation (make bench), which is why it is not the default.
 */
static __always_inline __u64 lease_id_new(void)
{
#ifndef PL_NO_FETCH
	return __sync_fetch_and_add(&next_lease, 1) + 1;
#else
	__u8 one = 1;

	for (int i = 0; i < 8; i++) {
		__u64 id;

		__sync_fetch_and_add(&next_lease, 1);	/* result unused: no BPF_FETCH */
		id = *(volatile __u64 *)&next_lease;
		if (!bpf_map_update_elem(&lease_ids, &id, &one, BPF_NOEXIST))
			return id;
	}
	/* eight races lost in a row (never seen): a lease without an id, counted */
	__sync_fetch_and_add(&untracked, 1);
	return 0;
#endif
}

/* The owner: this task, the socket's namespace and protocol. */
static __always_inline void owner_init(struct lease_val *l, const struct sock *sk, __u64 tgid_pid)
{
	l->pid = tgid_pid >> 32;
	l->tid = (__u32)tgid_pid;
	l->cgroup_id = bpf_get_current_cgroup_id();
	l->proto = BPF_CORE_READ(sk, sk_protocol);
	l->netns = skc_netns(&sk->__sk_common);
	/*
	 * The process's name, its main thread's (as ps, ss and `portlife
	 * ports` show it), not the calling thread's: a JVM's or a proxy's
	 * connections come from threads named "HikariPool-1 co" or
	 * "wrk:worker_0", and -c java, the per-name rows and the metrics must
	 * still find them under the process. The tid names the thread.
	 */
	if (BPF_CORE_READ_STR_INTO(&l->comm, (struct task_struct *)bpf_get_current_task(),
				   group_leader, comm) <= 0)
		bpf_get_current_comm(l->comm, sizeof(l->comm));
}

static __always_inline void lease_init(struct lease_val *l, const struct sock *sk, __u64 tgid_pid)
{
	l->lease = lease_id_new();
	owner_init(l, sk, tgid_pid);
}

/*
 * ip_local_port_range: newer kernels keep it in one u32, lo | hi << 16, read
 * without a lock (6.12's and 6.18's BTF have it); older ones a seqlock and
 * int range[2] (6.1's BTF). The flavour below is the older layout; CO-RE
 * keeps the one this kernel has, as a field of another type does not match.
 */
struct local_ports___pair {
	int range[2];
};

struct netns_ipv4___pair {
	struct local_ports___pair ip_local_ports;
};

struct net___pair {
	struct netns_ipv4___pair ipv4;
};

/* The netns's ip_local_port_range as lo | hi << 16; 0 if this kernel keeps it otherwise. */
static __always_inline __u32 netns_port_range(const struct net *net)
{
	const struct net___pair *np = (const void *)net;

	if (bpf_core_field_exists(np->ipv4.ip_local_ports.range)) {
		__u32 lo = BPF_CORE_READ(np, ipv4.ip_local_ports.range[0]);
		__u32 hi = BPF_CORE_READ(np, ipv4.ip_local_ports.range[1]);

		return (lo & 0xffff) | (hi << 16);
	}
	if (bpf_core_field_exists(net->ipv4.ip_local_ports.range))
		return BPF_CORE_READ(net, ipv4.ip_local_ports.range);
	return 0;
}

/* inet_sock's IP_LOCAL_PORT_RANGE from 6.3 to 6.6: two u16s (6.7 made it one u32) */
struct inet_sock___pair {
	struct {
		__u16 lo, hi;
	} local_port_range;
};

/*
 * The range the kernel searched for sk's port, lo | hi << 16, as
 * inet_sk_get_local_port_range() makes it: the netns's
 * ip_local_port_range, narrowed by the socket's own IP_LOCAL_PORT_RANGE
 * (6.3+) where its ends lie inside it. Read at a failed search, so that the
 * diagnosis counts the ports the search could take, not the netns's range
 * as it is later (or was never, for that socket); *own says whether the
 * socket's range narrowed the netns's. 0: unknown.
 */
static __always_inline __u32 sock_port_range(const struct sock *sk, bool *own)
{
	const struct inet_sock___pair *ip = (const void *)sk;
	const struct inet_sock *inet = (const void *)sk;
	__u32 r = netns_port_range(BPF_CORE_READ(sk, __sk_common.skc_net.net)), skr = 0;
	__u32 lo = r & 0xffff, hi = r >> 16, slo, shi;

	*own = false;
	if (!r)
		return 0;
	if (bpf_core_field_exists(inet->local_port_range))
		skr = BPF_CORE_READ(inet, local_port_range);
	else if (bpf_core_field_exists(ip->local_port_range))
		skr = BPF_CORE_READ(ip, local_port_range.lo) |
		      (__u32)BPF_CORE_READ(ip, local_port_range.hi) << 16;
	if (!skr)
		return r;
	slo = skr & 0xffff;
	shi = skr >> 16;
	if (lo <= slo && slo <= hi)
		lo = slo;
	if (lo <= shi && shi <= hi)
		hi = shi;
	/* a range wholly outside the netns's is ignored: then the netns's ran out */
	*own = (lo | hi << 16) != r;
	return lo | hi << 16;
}

/* A failed port search's event: the range it searched (ALLOC's aux, sflags). */
static __always_inline void ev_search_range(struct pl_event *e, const struct sock *sk)
{
	bool own;

	e->aux = sock_port_range(sk, &own);
	if (own)
		e->sflags |= PL_ALLOCF_OWN_RANGE;
}

static __always_inline void emit_alloc(const struct sock *sk, const struct lease_val *l,
				       __u8 kind, __s32 err, __u64 dur)
{
	struct pl_event *e = ev_reserve(PL_EV_ALLOC);

	if (!e)
		return;
	ev_owner(e, l);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	e->kind = kind;
	e->err = err;
	e->dur_ns = dur;
	if (err) {
		e->lease = 0;	/* a failure makes no lease: the README's promise, every mode */
		ev_search_range(e, sk);
	}
	ev_submit(e);
}

/* sk may be a timewait socket: both start with struct sock_common. */
static __always_inline void emit_release(const struct sock *sk, const struct lease_val *l,
					 __u8 reason)
{
	struct pl_event *e = ev_reserve(PL_EV_RELEASE);

	if (!e)
		return;
	ev_owner(e, l);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	e->kind = reason;
	ev_submit(e);
}

/* Function entry state until its exit, by thread and function. */
enum {
	FN_CONNECT = 1, FN_GET_PORT, FN_UDP_GET_PORT, FN_AUTOBIND, FN_TW_UNIQUE, FN_TW_SCHED, FN_BIND,
	FN_DGRAM_CONNECT
};

struct call_key {
	__u32 tid;
	__u32 fn;
};

struct call_val {
	__u64 ts;
	__u64 sk;
	__u32 arg;
	__u16 snum;
	__u16 family;		/* FN_BIND, FN_DGRAM_CONNECT: the address asked for */
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct call_key);
	__type(value, struct call_val);
} calls SEC(".maps");

/*
 * TCP or UDP: the ports portlife traces. UDP-Lite (udp_lib_get_port()),
 * DCCP on older kernels (inet_csk_get_port(), inet_hash_connect()) and SCTP
 * (inet_bind()) go through the same functions and hooks, with port tables
 * of their own; their events would be told as TCP, and a trace file holds
 * only TCP and UDP records (a recording that met one read as corrupt).
 */
static __always_inline bool traced_proto(const struct sock *sk)
{
	__u16 proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);

	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

static __always_inline void call_enter_arg(__u32 fn, const void *sk, __u16 snum, __u32 arg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = fn };
	struct call_val v = { .ts = bpf_ktime_get_ns(), .sk = (__u64)sk, .arg = arg,
			      .snum = snum };

	if (calib_cookie && sk &&
	    BPF_CORE_READ((struct sock *)sk, __sk_common.skc_cookie.counter) == calib_cookie)
		self_tgid = id >> 32;
	if ((id >> 32) == self_tgid) {
		__sync_fetch_and_add(&calib_hits, 1);
		return;
	}
	/* another portlife's self-test: its lease would be noise here */
	if (sk && BPF_CORE_READ((struct sock *)sk, sk_mark) == PL_SELFTEST_MARK)
		return;
	bpf_map_update_elem(&calls, &k, &v, BPF_ANY);
}

static __always_inline void call_enter(__u32 fn, const void *sk, __u16 snum)
{
	call_enter_arg(fn, sk, snum, 0);
}

/* The entry state of fn in this thread (consumed), or false. */
static __always_inline bool call_exit(__u32 fn, struct call_val *out)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = fn };
	struct call_val *v = bpf_map_lookup_elem(&calls, &k);

	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&calls, &k);
	return true;
}

static __always_inline bool in_call(__u32 fn)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = fn };

	return bpf_map_lookup_elem(&calls, &k) != NULL;
}

/* The entry state of an enclosing call of fn in this thread (left in place), or false. */
static __always_inline bool call_peek(__u32 fn, struct call_val *out)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = fn };
	struct call_val *v = bpf_map_lookup_elem(&calls, &k);

	if (!v)
		return false;
	*out = *v;
	return true;
}

/*
 * A port search returned: ret 0 means sk has its port now. kind/err describe
 * this allocation path; a socket that already holds a lease (connect() after
 * bind(), listen() re-checking its bound port) is not a new allocation. A
 * connect() with snum, the port its socket had before it, searched nothing:
 * bound before tracing began, its lease follows the connection with no
 * ALLOC (told as allocated before tracing, as the tracepoint mode does); a
 * failure is its 4-tuple in use.
 */
/*
 * Where a UDP connect()'s autobind is going: the socket has no peer yet
 * while the port is searched for (inet_autobind() runs first), and the
 * tracepoint mode, which tells the port at the call's exit, names it.
 */
static __always_inline void ev_dest(struct pl_event *e, const struct call_val *dest)
{
	if (!dest || dest->family != e->family)
		return;
	e->rport = dest->snum;
	__builtin_memcpy(e->raddr, dest->addr, sizeof(e->raddr));
}

static __always_inline void handle_alloc_exit(const struct sock *sk, __u16 snum, long ret,
					      __u64 start, __u8 kind, __s32 err,
					      const struct call_val *dest)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk, now = bpf_ktime_get_ns();
	struct lease_val nl = {};
	struct pl_event *e;

	if (task_filtered(id >> 32))
		return;
	if (targ_family && BPF_CORE_READ(sk, __sk_common.skc_family) != targ_family)
		return;
	if (!ret && bpf_map_lookup_elem(&leases, &key))
		return;
	lease_init(&nl, sk, id);
	nl.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	nl.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!ret && (lease_store(key, &nl) || (kind == PL_ALLOC_CONNECT && snum)))
		return;
	/* one reserve and one submit for both outcomes (see emit_state()) */
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return;
	ev_owner(e, &nl);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	ev_dest(e, dest);
	e->kind = kind;
	e->dur_ns = now - start;
	if (ret) {
		e->lease = 0;	/* a failure makes no lease (as in the tracepoint mode) */
		if (snum)
			e->lport = snum;
		/* get_port returns 1, inet_hash_connect a -errno */
		e->err = ret < 0 ? -ret : err;
		if (kind == PL_ALLOC_CONNECT && snum)
			e->sflags |= PL_ALLOCF_BOUND;	/* no search: its 4-tuple was in use */
		else if (e->err != EADDRINUSE || !snum)
			ev_search_range(e, sk);
	}
	ev_submit(e);
}

#endif /* PORTLIFE_EVENTS_BPF_H */
