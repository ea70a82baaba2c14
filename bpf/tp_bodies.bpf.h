/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook bodies of the tracepoint mode, for kernels where neither fentry nor
 * kprobes work, and the state tracepoint body every mode shares. The hooks
 * fire only for the socket operations that can allocate or free a port, so
 * traffic that allocates none pays nothing (the send syscalls' tracepoints
 * of old made every send of every process run a program):
 *   - sock:inet_sock_set_state   TCP state changes (all modes); here also
 *                                connect() start, a failed search, the
 *                                release at CLOSE
 *   - connect()'s port: sys_exit_connect, or the end of SYN_SENT, or the
 *                                SYN's first retransmission (tcp:tcp_retransmit_skb),
 *                                whichever comes first, its search dated by the
 *                                SYN's send stamp; with --no-syscall-hooks
 *                                sock_ops TCP_CONNECT_CB instead (a program run
 *                                per TCP callback of every socket: 9 a loopback
 *                                connection, as much as the exits' slow path)
 *   - tcp:tcp_destroy_sock       release of explicitly bound TCP ports
 *   - cgroup bind4/6, post_bind4/6, and syscalls sys_exit_bind: bind(), its
 *                                latency, its errno
 *   - cgroup connect4/6 and syscalls sys_exit_connect: UDP autobind by
 *                                connect(), with its latency (io_uring's
 *                                connect has no exit: told late)
 *     (any syscall tracepoint puts every system call of the host on the
 *     slow path, ~0.1 us each: --no-syscall-hooks leaves the two out; bind()
 *     errors then go unseen, and a UDP connect()'s port is learnt late)
 *   - cgroup sendmsg4/6          UDP autobind by an unconnected send (after
 *                                the fact: no latency)
 *   - cgroup sock_create         which UDP sockets were made while tracing
 *   - iter/udp, once at the start which UDP sockets held a port before
 *                                tracing (pl_iter_udp_mark(), udp_unmarked())
 *   - cgroup sock_release        UDP releases
 *   - syscalls sys_exit_listen   the port of a listen() without bind()
 *                                (sock_ops TCP_LISTEN_CB with --no-syscall-hooks)
 * A lease lives in its socket's own storage (sk_leases): freed with the
 * socket, never evicted, and a lookup on a socket without one is a pointer
 * test, not a hash miss. All but one kind: the lease of a TCP socket that
 * connect()s without bind() is in the leases hash, by the socket's address.
 * Socket storage costs a connection two allocations charged to a memory
 * cgroup and two frees behind RCU grace periods (one of them RCU Tasks
 * Trace): perf put a third of a connect storm's tracing cost there. A hash
 * element comes from per-CPU caches, and the server end of a connection
 * skips the lookup (tcp_lease() says how). Every such lease ends in
 * tcp_destroy_sock at the latest. TIME_WAIT comes from iterator snapshots.
 */
#ifndef PORTLIFE_TP_BODIES_BPF_H
#define PORTLIFE_TP_BODIES_BPF_H

#include "signals.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lease_val);
} sk_leases SEC(".maps");

/*
 * The lease of a TCP socket: in its storage (bound first, or the hash was
 * full) or in the leases hash (connect() without bind()). *hashed says
 * which, for tcp_lease_del().
 */
static __always_inline struct lease_val *tcp_lease(const struct sock *sk, bool *hashed)
{
	struct lease_val *l = bpf_sk_storage_get(&sk_leases, (void *)sk, 0, 0);
	/* tp_btf: a typed pointer, a plain load */
	__u64 key = (__u64)sk, cookie = sk->__sk_common.skc_cookie.counter;

	*hashed = false;
	if (l && (l->flags & LF_LEASE))
		return l;
	/*
	 * A hashed lease asked for its socket's cookie when it was made; an
	 * accepted socket starts without one (sk_clone_lock() clears it), so
	 * the server end of a connection is not even looked up.
	 */
	if (!cookie)
		return NULL;
	l = bpf_map_lookup_elem(&leases, &key);
	if (!l)
		return NULL;
	/*
	 * The address of a socket freed without tcp_destroy_sock (never seen:
	 * every TCP socket is destroyed through it) would be another socket's
	 * later; the cookie, unique for the boot, tells them apart.
	 */
	if (l->cookie != cookie) {
		bpf_map_delete_elem(&leases, &key);
		return NULL;
	}
	*hashed = true;
	return l;
}

static __always_inline void tcp_lease_del(const struct sock *sk, bool hashed)
{
	__u64 key = (__u64)sk;

	if (hashed)
		bpf_map_delete_elem(&leases, &key);
	else
		bpf_sk_storage_delete(&sk_leases, (void *)sk);
}

/*
 * A UDP connect() takes microseconds (a route lookup, an autobind), under
 * TCG a millisecond: an entry this old is not the exiting call's
 * (handle_connect_exit()). A call stalled that long still has its port
 * told, later and without its latency.
 */
#define PEND_STALE_NS 100000000ULL

/* fcntl.h's, asm-generic's (x86, arm64): vmlinux.h has no macros */
#ifndef O_NONBLOCK
#define O_NONBLOCK 00004000
#endif

/* What a bind() or connect() syscall was doing, by thread, until its exit tracepoint. */
enum { PEND_BIND = 1, PEND_UDP_CONNECT, PEND_TCP_CONNECT, PEND_TCP_BOUND, PEND_SELFTEST,
       PEND_LISTEN };

struct pending {
	__u64 sk;		/* the socket's address: kernel-only */
	__u64 ts;
	__u8 what;		/* PEND_* */
	__u8 kind;		/* the allocation kind, as the event will say it */
	__u16 family;
	__u16 port;		/* bind: the port asked for */
	__u16 pad;
	__u8 addr[16];		/* bind: the address asked for */
	struct lease_val l;	/* the owner (and for a UDP connect the lease id) */
	/* PEND_TCP_BOUND: the 4-tuple at SYN_SENT (the failure path clears some of it) */
	struct {
		__u16 family, lport, rport;
		__u8 laddr[16], raddr[16];
	} t;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} pendings SEC(".maps");

/*
 * A port a syscall exit told, for its lease, by socket address, until a hook
 * that may reach the socket's storage takes it into the lease: a tracepoint
 * program may not reach socket storage.
 */
struct port_told {
	__u64 lease;
	__u16 port;
	__u16 pad[3];
};

/*
 * udp_bound: the port a UDP connect() autobound, until a cgroup hook of the
 * socket takes it (udp_lease_settle()). Port 0: the call took none (whatever
 * port the socket gets next is news).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct port_told);
} udp_bound SEC(".maps");

/*
 * The network namespaces whose bound UDP sockets were marked LF_PRE when
 * tracing began (pl_iter_udp_mark(), run by user space in each after every
 * hook is attached). There a UDP socket with a port and no storage took
 * its port while tracing: udp_unmarked().
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} udp_walked SEC(".maps");

/*
 * listen_told: the port a listen() without bind() took, as its exit told it
 * (handle_listen_exit()), until the listener's close settles its lease in
 * the socket's storage (listen_failed()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct port_told);
} listen_told SEC(".maps");

/*
 * The cgroup programs run only in the cgroup they are attached to (--cgroup,
 * or the root): that is their cgroup filter.
 */
static __always_inline bool cg_task_filtered(__u32 tgid)
{
	return tgid == self_tgid || (targ_tgid && tgid != targ_tgid);
}

/* traced_proto() for a cgroup program's socket: UDP-Lite binds and sends come to them too */
static __always_inline bool cg_traced_proto(const struct bpf_sock *bsk)
{
	return bsk->protocol == IPPROTO_TCP || bsk->protocol == IPPROTO_UDP;
}

/*
 * A lease for a socket a cgroup program holds as struct bpf_sock. Its
 * address is kept in the lease (skaddr), read back as a number, so the
 * CO-RE reads of the rest (protocol, netns) may go through it.
 */
static __always_inline const struct sock *lease_init_cg(struct lease_val *l,
							const struct bpf_sock *bsk, __u64 id)
{
	const struct sock *sk;

	l->skaddr = (__u64)bsk;
	sk = (const struct sock *)*(volatile __u64 *)&l->skaddr;
	lease_init(l, sk, id);
	return sk;
}

/*
 * A socket starts listening (the state tracepoint, in listen()). A bound one
 * has its port (its lease is bind()'s); one that was never bound takes an
 * ephemeral port after this, as bind(0) would, and listen()'s exit
 * (sock_ops TCP_LISTEN_CB with --no-syscall-hooks) reports it as such a
 * lease, with the owner and start kept here.
 */
static __always_inline void listen_tp(const struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u16 port = sk->__sk_common.skc_num;
	__u32 tid = (__u32)id;
	struct pending p = {};
	struct lease_val *l;

	if (task_filtered(id >> 32))
		return;
	if (port) {
		if (signals_on)
			emit_listen(sk, port, id);
		return;
	}
	l = bpf_sk_storage_get(&sk_leases, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!l) {
		__sync_fetch_and_add(&untracked, 1);
		return;
	}
	lease_init(l, sk, id);
	l->skaddr = (__u64)sk;
	l->start_ns = bpf_ktime_get_ns();
	l->range = netns_port_range(BPF_CORE_READ(sk, __sk_common.skc_net.net));
	l->flags = LF_LISTEN_AUTO;
	/* what the search sets, if it finds a port: listen_failed() compares */
	l->sport0 = BPF_CORE_READ((const struct inet_sock *)sk, inet_sport);
	if (!sys_exit_hooks)
		return;	/* sock_ops TCP_LISTEN_CB tells the port */
	p.what = PEND_LISTEN;
	p.sk = (__u64)sk;
	p.ts = l->start_ns;
	p.l = *l;
	bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
}

/* An event's local end, from sock_ops (whose fields are read at fixed offsets only). */
static __always_inline void skops_local(struct pl_event *e, const struct bpf_sock_ops *skops)
{
	e->family = skops->family;
	e->lport = skops->local_port;
	if (e->family == AF_INET6) {
		__u32 *la = (__u32 *)e->laddr;

		la[0] = skops->local_ip6[0];
		la[1] = skops->local_ip6[1];
		la[2] = skops->local_ip6[2];
		la[3] = skops->local_ip6[3];
	} else {
		*(__u32 *)e->laddr = skops->local_ip4;
	}
}

/* sock_ops TCP_LISTEN_CB: listen() has its port now. */
static __always_inline void handle_listen_cb(struct bpf_sock_ops *skops)
{
	struct bpf_sock *bsk = skops->sk;
	struct lease_val *l;
	struct pl_event *e;

	if (!bsk)
		return;
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, 0);
	if (!l || !(l->flags & LF_LISTEN_AUTO))
		return;
	l->flags = LF_LEASE;
	l->lport = skops->local_port;
	/* the lease: released when the listener closes (set_state LISTEN -> CLOSE) */
	e = ev_reserve(PL_EV_ALLOC);
	if (e) {
		ev_owner(e, l);
		e->kind = PL_ALLOC_BIND_EPHEMERAL;
		e->dur_ns = e->ts_ns - l->start_ns;
		skops_local(e, skops);
		ev_submit(e);
	}
	if (!signals_on)
		return;
	e = ev_reserve(PL_EV_SIGNAL);
	if (!e)
		return;
	ev_owner(e, l);
	e->lease = 0;
	e->cookie = 0;
	e->kind = PL_SIG_LISTEN;
	e->aux = l->range;
	/* a port the kernel chose is never a reserved one: the search skips those */
	skops_local(e, skops);
	ev_submit(e);
}

/*
 * A port learnt after its search: dated at the search's end when known
 * (end, as syn_sent_ns() reads it), else at the call, its latency not
 * measured. btf: sk is a tp_btf program's typed pointer, read with plain
 * loads; else it came from a map, read through probes.
 */
static __always_inline void tcp_port_told(const struct sock *sk, const struct lease_val *l,
					  __u8 kind, __u16 port, __u64 end, const bool btf)
{
	struct pl_event *e = ev_reserve(PL_EV_ALLOC);

	if (!e)
		return;
	ev_owner(e, l);
	if (btf)
		READ_TUPLE_BTF(e, &sk->__sk_common);
	else
		READ_TUPLE_CORE(e, &sk->__sk_common);
	e->lport = port;
	e->kind = kind;
	if (end) {
		e->ts_ns = end;
		e->dur_ns = end - l->start_ns;
	} else {
		e->ts_ns = l->start_ns;
	}
	ev_submit(e);
}

/*
 * A listener whose lease listen() made (LF_LISTEN_AUTO) goes back to CLOSE:
 * closed, or inet_csk_listen_start() failing (inet_sk_set_state(): no port
 * is given back there). With the port told by listen()'s exit (listen_told),
 * the lease settles in the storage and its close goes on as any lease's.
 * Else with no port: given back by the close (tcp_set_state() before the
 * tracepoint) if inet_sport moved from before the search, which set it (an
 * io_uring listen() has no exit: told now, dated at the call); else the
 * search found none: EADDRINUSE, an allocation failure as bind(0)'s. With
 * one, the search took it and hashing the listener failed after: the socket
 * keeps the port until it is destroyed, a lease like bind(0)'s (seen after a
 * refused connect(): listen() then says EINVAL). True if the state change is
 * dealt with.
 */
static __always_inline bool listen_failed(const struct sock *sk, __u16 port)
{
	struct lease_val *l = bpf_sk_storage_get(&sk_leases, (void *)sk, 0, 0);
	__u64 key = (__u64)sk, now;
	struct port_told *t;
	__u16 sport;

	if (!l || !(l->flags & LF_LISTEN_AUTO))
		return false;
	t = bpf_map_lookup_elem(&listen_told, &key);
	if (t && t->lease == l->lease) {
		l->flags = LF_LEASE;
		l->lport = t->port;
		bpf_map_delete_elem(&listen_told, &key);
		return false;
	}
	now = bpf_ktime_get_ns();
	sport = BPF_CORE_READ((const struct inet_sock *)sk, inet_sport);
	if (!port && sport != l->sport0) {
		l->flags = LF_LEASE;
		l->lport = bpf_ntohs(sport);
		tcp_port_told(sk, l, PL_ALLOC_BIND_EPHEMERAL, l->lport, 0, true);
		return false;
	}
	if (!port) {
		l->flags = 0;
		emit_alloc(sk, l, PL_ALLOC_BIND_EPHEMERAL, EADDRINUSE, now - l->start_ns);
		return true;
	}
	l->flags = LF_LEASE | LF_CLOSED;	/* released at destroy */
	l->lport = port;
	emit_alloc(sk, l, PL_ALLOC_BIND_EPHEMERAL, 0, now - l->start_ns);
	return true;
}

/* A socket whose file is O_NONBLOCK: plain loads through tp_btf's typed pointers. */
static __always_inline bool sock_nonblock(const struct socket *so)
{
	const struct file *f = so ? so->file : NULL;

	return f && (f->f_flags & O_NONBLOCK);
}

/*
 * A connect() without a port, at SYN_SENT, before the search: inet_sport as
 * it is (a port the search sets, and that nothing clears, tells it took
 * one: taken_port()), and with the syscall exits on, an entry for the exit
 * to report the port at (handle_connect_exit()).
 *
 * TCP_FASTOPEN_CONNECT: connect() takes the port and returns 0 without
 * sending the SYN (tcp_fastopen_defer_connect(): with a cookie cached for
 * the destination, or tcp_fastopen's no-cookie bit); tcp_connect(), and the
 * sock_ops TCP_CONNECT_CB that reports the port with --no-syscall-hooks,
 * wait for the first send, which may never come.
 */
static __always_inline void tcp_connect_begin(const struct sock *sk, struct lease_val *nl,
					      __u32 tid)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	struct pending p = {};

	if (!tp)
		return;
	nl->sport0 = tp->inet_conn.icsk_inet.inet_sport;
	/* sendto(MSG_FASTOPEN) connects within the send: its SYN goes at once */
	if (BPF_CORE_READ_BITFIELD(tp, fastopen_connect) && !tp->fastopen_req)
		nl->flags |= LF_DEFER;
	if (!sys_exit_hooks)
		return;
	/*
	 * A blocking connect() waits for SYN_SENT's end, which tells the port
	 * (or for the SYN's retransmission, which does): its exit has nothing
	 * to add, and the entry would cost every such connect() a hash update
	 * (a connect storm's 0.5%). A non-blocking one returns with the SYN on
	 * its way, a deferred one before any.
	 */
	if (!(nl->flags & LF_DEFER) && !sock_nonblock(tp->inet_conn.icsk_inet.sk.sk_socket))
		return;
	p.what = PEND_TCP_CONNECT;
	p.sk = (__u64)sk;
	p.l.lease = nl->lease;
	bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
}

/*
 * SYN_SENT -> CLOSE with no port: the search found none (EADDRNOTAVAIL), or
 * it took one that the close gave back (tcp_set_state() puts it before the
 * tracepoint): a refused connect(), a deferred connect() closed before its
 * SYN, a route that failed after the search. A socket whose earlier
 * connect() left the same port in inet_sport, and got it again, reads as
 * the first: too rare to pay a hook for. The port the search took, or 0.
 */
static __always_inline __u16 taken_port(const struct sock *sk, const struct lease_val *l)
{
	__u16 sport = BPF_CORE_READ((const struct inet_sock *)sk, inet_sport);

	return sport != l->sport0 ? bpf_ntohs(sport) : 0;
}

/*
 * When connect()'s search ended, read after it, where no sock_ops program
 * saw the moment: tcp_connect() refreshes the socket's clock just before
 * the SYN, whose transmit stamps tcp_wstamp_ns with it (ktime, the clock
 * of bpf_ktime_get_ns()): the search's end plus the SYN's making, a
 * microsecond or so. Unknown (0) if no SYN went (a deferred connect(), or
 * a failure before it) or it was sent again (the stamp moved with it).
 */
static __always_inline __u64 syn_sent_ns(const struct sock *sk, const struct lease_val *l,
					 const bool btf)
{
	__u64 t;

	if (l->flags & LF_DEFER)
		return 0;
	if (btf) {
		/* a typed pointer (tp_btf): plain loads */
		struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

		if (!tp || tp->total_retrans)
			return 0;
		t = tp->tcp_wstamp_ns;
	} else {
		/* a lease's socket is a TCP one; probe reads, as a syscall exit may not cast */
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;

		if (BPF_CORE_READ(tp, total_retrans))
			return 0;
		t = BPF_CORE_READ(tp, tcp_wstamp_ns);
	}
	return t > l->start_ns ? t : 0;
}

/*
 * One reserve, one submit, no second look at e: the 6.1 verifier does not
 * carry a ring buffer record's non-NULL state across branches.
 */
static __always_inline void emit_state(const struct sock *sk, const struct lease_val *l,
				       int oldstate, int newstate, __u8 kind)
{
	struct pl_event *e = ev_reserve(PL_EV_STATE);

	if (!e)
		return;
	ev_owner(e, l);
	READ_TUPLE_BTF(e, &sk->__sk_common);
	e->old_state = oldstate;
	e->new_state = newstate;
	e->kind = kind;
	ev_submit(e);
}

/*
 * connect() of a socket that has its port (bound before or while tracing):
 * no search, and only the syscall's exit tells its failure (EADDRNOTAVAIL:
 * __inet_check_established() found its 4-tuple in use). Its owner is the
 * caller; the tuple is read now, at SYN_SENT, as the failure path clears
 * the destination port before the exit.
 */
static __always_inline void tcp_bound_connect_begin(const struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending p = {};

	if (!sys_exit_hooks || task_filtered(id >> 32))
		return;
	p.what = PEND_TCP_BOUND;
	p.sk = (__u64)sk;
	p.ts = bpf_ktime_get_ns();
	owner_init(&p.l, sk, id);
	READ_TUPLE_BTF(&p.t, &sk->__sk_common);
	bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
}

static __always_inline int handle_set_state_tp(const struct sock *sk, int oldstate, int newstate)
{
	struct lease_val *l;
	__u16 family, lport;
	__u64 cookie;
	bool release = false, hashed;
	__u8 kind = 0;

	/* tp_btf: sk is a typed pointer, read directly (see READ_TUPLE_BTF) */
	if (BPF_CORE_READ_BITFIELD(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (targ_family && family != targ_family)
		return 0;
	if (test_skip_rport && (oldstate == TCP_FIN_WAIT1 || oldstate == TCP_FIN_WAIT2) &&
	    sk->__sk_common.skc_dport == bpf_htons(test_skip_rport))
		return 0;
	if (newstate == TCP_LISTEN)
		listen_tp(sk);
	else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE &&
		 listen_failed(sk, sk->__sk_common.skc_num))
		return 0;

	/* a connect() of a socket with its port: only its exit can tell its failure */
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT && sk->__sk_common.skc_num)
		tcp_bound_connect_begin(sk);
	l = tcp_lease(sk, &hashed);
	if (!l) {
		__u64 id, key = (__u64)sk;
		struct lease_val nl = {};

		/*
		 * tcp_v4_connect()/tcp_v6_connect() enter SYN_SENT before
		 * inet_hash_connect() picks the port, in the connecting task.
		 */
		if (oldstate != TCP_CLOSE || newstate != TCP_SYN_SENT)
			return 0;
		id = bpf_get_current_pid_tgid();
		if (task_filtered(id >> 32))
			return 0;
		lease_init(&nl, sk, id);
		nl.cookie = bpf_get_socket_cookie((void *)sk);
		nl.state = TCP_SYN_SENT;
		nl.start_ns = bpf_ktime_get_ns();
		lport = sk->__sk_common.skc_num;
		if (lport) {
			/*
			 * A port before the search: bound before tracing began
			 * (a bind() while tracing made a lease). This connect()
			 * takes none; the lease follows the connection, told
			 * as one allocated before tracing (no ALLOC).
			 */
			nl.flags = LF_LEASE;
			nl.lport = lport;
			emit_state(sk, &nl, oldstate, newstate, 0);
		} else {
			nl.flags = LF_LEASE | LF_CONNECTING;
			tcp_connect_begin(sk, &nl, (__u32)id);
		}
		if (!bpf_map_update_elem(&leases, &key, &nl, BPF_ANY))
			return 0;
		/* the hash is full (--max-leases): the socket's storage keeps it */
		l = bpf_sk_storage_get(&sk_leases, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!l) {
			__sync_fetch_and_add(&untracked, 1);
			return 0;
		}
		*l = nl;
		return 0;
	}
	/* TIME_WAIT snapshots are matched by cookie: make sure there is one. */
	if (!l->cookie)
		l->cookie = bpf_get_socket_cookie((void *)sk);
	cookie = l->cookie;
	(void)cookie;
	l->state = newstate;	/* for handle_destroy(): the close it may not have seen */

	lport = sk->__sk_common.skc_num;
	if (l->flags & LF_CONNECTING) {
		/*
		 * SYN_SENT ends before any exit or sock_ops program told the
		 * port: a blocking connect() (the handshake, or its failure,
		 * completes within the call), one io_uring issued, a deferred
		 * one's first send.
		 */
		__u16 taken = lport ?: (newstate == TCP_CLOSE ? taken_port(sk, l) : 0);

		if (!taken && newstate == TCP_CLOSE) {
			/*
			 * inet_hash_connect() found no port: connect()
			 * returns EADDRNOTAVAIL. SYN_SENT -> CLOSE spans
			 * the search.
			 */
			emit_alloc(sk, l, PL_ALLOC_CONNECT, EADDRNOTAVAIL,
				   bpf_ktime_get_ns() - l->start_ns);
			tcp_lease_del(sk, hashed);
			return 0;
		}
		if (taken) {
			/* a port taken and given back (taken_port()): told, then released */
			tcp_port_told(sk, l, PL_ALLOC_CONNECT, taken, syn_sent_ns(sk, l, true), true);
			l->flags &= ~LF_CONNECTING;
		}
	}

	if (newstate != TCP_CLOSE) {
		l->flags &= ~(LF_CLOSED | LF_RESET);
	} else if ((oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING) &&
		   !(l->flags & LF_RESET) && !sk->sk_err) {
		/*
		 * Only tcp_time_wait() closes from these states (or an RST,
		 * which user space tells apart by the TIME_WAIT snapshot), or
		 * a CLOSING socket's retransmissions timing out: tcp_write_err()
		 * sets sk_err (ETIMEDOUT) before it closes, tcp_time_wait()
		 * never does. The port now belongs to the timewait socket, if
		 * one was made.
		 */
		l->flags |= LF_CLOSED_TW;
		kind = PL_STATE_TW_EXPECTED;
	} else if (BPF_CORE_READ((const struct inet_connection_sock *)sk, icsk_bind_hash)) {
		/*
		 * Still bound after the change (tcp_set_state() gives the port
		 * back before the tracepoint, or not at all): an explicitly
		 * bound port (SOCK_BINDPORT_LOCK), or a listen() that failed
		 * after taking one, gone back to CLOSE by inet_sk_set_state().
		 * Held until destroy.
		 */
		l->flags |= LF_CLOSED;
		kind = PL_STATE_BINDLOCK;
	} else {
		/* tcp_set_state(CLOSE) -> inet_put_port(): the port is free now. */
		release = true;
	}

	emit_state(sk, l, oldstate, newstate, kind);
	if (release) {
		emit_release(sk, l, PL_END_CLOSE);
		tcp_lease_del(sk, hashed);
	}
	return 0;
}

/*
 * tcp:tcp_receive_reset, and tcp:tcp_send_reset with a socket: a reset ends a
 * FIN_WAIT2 or CLOSING socket without a timewait socket, and the port goes
 * back to the pool, as the exact modes see it (inet_put_port()). Unmarked,
 * that close read as tcp_time_wait()'s, and the lease waited two rounds for
 * a timewait socket that never came: a tw_unseen "loss" for every server
 * that answers a client's FIN with a reset.
 *
 * Most resets come first, the close at once after (tcp_reset(), the orphan
 * FIN_WAIT2 timer, tcp_abort() of ss -K): the mark makes that close a
 * release. tcp_disconnect() (close() with SO_LINGER 0, connect(AF_UNSPEC))
 * and close() with TCP_LINGER2 -1 close first and reset after: the lease's
 * close was taken for tcp_time_wait()'s, so the reset releases it.
 */
static __always_inline void handle_reset_tp(const struct sock *sk)
{
	struct lease_val *l;
	bool hashed;
	int state;

	if (!sk)
		return;	/* tcp_send_reset for a segment without a socket (6.10+) */
	/*
	 * Before anything else: tcp_v4_send_reset() passes timewait and
	 * request sockets too, which have no socket storage to look at.
	 */
	state = sk->__sk_common.skc_state;
	if (state != TCP_FIN_WAIT2 && state != TCP_CLOSING && state != TCP_CLOSE)
		return;
	l = tcp_lease(sk, &hashed);
	if (!l)
		return;
	if (state != TCP_CLOSE) {
		l->flags |= LF_RESET;
	} else if ((l->flags & LF_CLOSED_TW) &&
		   !(BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks) & SOCK_BINDPORT_LOCK)) {
		/*
		 * An explicitly bound socket keeps its port until destroy, and
		 * its lease, already waiting for TIME_WAIT, is left to the
		 * rounds (tw_unseen), as before: not released while held.
		 */
		emit_release(sk, l, PL_END_CLOSE);
		tcp_lease_del(sk, hashed);
	}
}

/*
 * tcp_v4_destroy_sock() -> inet_put_port() for bound ports. A lease last
 * seen in FIN_WAIT1, FIN_WAIT2 or CLOSING, not reset, reaches destroy
 * without the close the state tracepoint should have shown: the kernel
 * skipped the program for it (a recursion miss: under load a softirq's
 * state changes land on a CPU where the program is running, about 1% of a
 * 27k-connection close storm here). tcp_time_wait() made that close and a
 * timewait socket holds the port: releasing it here cut the hold short and
 * lost its TIME_WAIT. Nothing is said; the TIME_WAIT rounds find the lease
 * stale in that state, and its timewait socket (tw_reconciled), or none.
 */
static __always_inline int handle_destroy(const struct sock *sk)
{
	bool hashed, close_unseen;
	struct lease_val *l = tcp_lease(sk, &hashed);

	if (!l)
		return 0;
	close_unseen = !(l->flags & LF_RESET) &&
		       (l->state == TCP_FIN_WAIT1 || l->state == TCP_FIN_WAIT2 ||
			l->state == TCP_CLOSING);
	/* A timewait socket may still hold the port: the snapshot follows it. */
	if (!(l->flags & (LF_CLOSED_TW | LF_CONNECTING)) && !close_unseen)
		emit_release(sk, l, PL_END_CLOSE);
	tcp_lease_del(sk, hashed);
	return 0;
}

/* connect(): the port was just assigned; tcp_connect() is about to send the SYN. */
static __always_inline int handle_connect_cb(struct bpf_sock_ops *skops)
{
	struct bpf_sock *bsk = skops->sk;
	struct lease_val *l;
	struct pl_event *e;

	if (!bsk)
		return 0;
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, 0);
	if (!l || !(l->flags & LF_LEASE)) {
		/* the state tracepoint made it, in SYN_SENT, just before */
		__u64 key = (__u64)bsk;

		l = bpf_map_lookup_elem(&leases, &key);
	}
	if (!l || !(l->flags & LF_CONNECTING))
		return 0;
	l->flags &= ~LF_CONNECTING;
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return 0;
	ev_owner(e, l);
	e->kind = PL_ALLOC_CONNECT;
	if ((l->flags & LF_DEFER) && !sys_exit_hooks) {
		/* maybe a deferred connect()'s first send (tcp_connect_begin()): dated at the call */
		e->ts_ns = l->start_ns;
	} else {
		e->dur_ns = e->ts_ns - l->start_ns;
	}
	e->family = skops->family;
	e->lport = skops->local_port;
	/* sock_ops stores remote_port in network order in the upper half. */
	e->rport = bpf_ntohl(skops->remote_port);
	if (e->family == AF_INET6) {
		__u32 *la = (__u32 *)e->laddr, *ra = (__u32 *)e->raddr;

		la[0] = skops->local_ip6[0];
		la[1] = skops->local_ip6[1];
		la[2] = skops->local_ip6[2];
		la[3] = skops->local_ip6[3];
		ra[0] = skops->remote_ip6[0];
		ra[1] = skops->remote_ip6[1];
		ra[2] = skops->remote_ip6[2];
		ra[3] = skops->remote_ip6[3];
	} else {
		*(__u32 *)e->laddr = skops->local_ip4;
		*(__u32 *)e->raddr = skops->remote_ip4;
	}
	ev_submit(e);
	return 0;
}

/* ---- UDP leases whose port goes away ------------------------------------- */

/* A UDP connect()'s lease learns the port its exit reported. */
static __always_inline void udp_lease_settle(struct lease_val *l, const struct bpf_sock *bsk)
{
	__u64 key = (__u64)bsk;
	struct port_told *b;

	if (!(l->flags & LF_UDP_CONNECT))
		return;
	b = bpf_map_lookup_elem(&udp_bound, &key);
	if (!b)
		return;
	if (b->lease == l->lease) {
		l->lport = b->port;
		l->flags = b->port ? LF_LEASE : LF_BORN;
	}
	bpf_map_delete_elem(&udp_bound, &key);
}

/*
 * A UDP lease whose socket no longer has its port: connect(AF_UNSPEC) gave it
 * back (udp_disconnect() unhashes a socket whose port bind() did not name),
 * which no hook of this mode sees. Told at the socket's next connect(),
 * bind(), send or close, and dated then; the lease is over (true) and the
 * socket's next port is a new one.
 */
static __always_inline bool udp_lease_lost_port(struct lease_val *l, const struct bpf_sock *bsk,
						__u16 port_now)
{
	const struct sock *sk;
	struct pl_event *e;

	if (l->proto != IPPROTO_UDP || !(l->flags & LF_LEASE) || !l->lport ||
	    port_now == l->lport || l->skaddr != (__u64)bsk)
		return false;
	sk = (const struct sock *)*(volatile __u64 *)&l->skaddr;
	e = ev_reserve(PL_EV_RELEASE);
	if (e) {
		ev_owner(e, l);
		READ_TUPLE_CORE(e, &sk->__sk_common);
		e->lport = l->lport;	/* the socket's own is 0, or its next port */
		e->kind = PL_END_CLOSE;
		ev_submit(e);
	}
	/* a socket we know, with no port: whatever port it gets next is news */
	l->flags = LF_BORN;
	l->lport = 0;
	return true;
}

/*
 * A UDP lease learnt after its autobind, reported now: dated at ts, or now
 * with no latency known (ts 0).
 */
static __always_inline void udp_autobind_told(struct lease_val *l, __u16 port, __u64 ts)
{
	const struct sock *sk = (const struct sock *)*(volatile __u64 *)&l->skaddr;
	struct pl_event *e;

	l->lport = port;
	l->flags = LF_LEASE;
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return;
	ev_owner(e, l);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	e->kind = PL_ALLOC_AUTOBIND;
	if (ts)
		e->ts_ns = ts;
	ev_submit(e);
}

/* A UDP socket we know has a port no hook saw it take: a new lease, this task's. */
static __always_inline void udp_born_alloc(struct lease_val *l, const struct bpf_sock *bsk,
					   __u16 port, __u64 id)
{
	lease_init_cg(l, bsk, id);
	udp_autobind_told(l, port, 0);
}

/*
 * Without the connect() exit tracepoint, a port a UDP connect() autobound is
 * learnt at the socket's next hook that still sees it (a later connect(),
 * bind() or send, its close): the allocation is reported then, dated at the
 * call.
 */
static __always_inline void udp_connect_told(struct lease_val *l, __u16 port)
{
	udp_autobind_told(l, port, l->start_ns);
}

/*
 * A UDP connect() whose port no exit reported: told now, dated at the call,
 * latency not measured. Without the exit tracepoint, always. With it, if
 * the call's pending entry is still there, no exit ran yet: a connect that
 * io_uring made (no syscall, so no exit tracepoint, ever), or another
 * thread's hook while the call runs; deleting the entry decides who tells
 * (the exit deletes it too, and tells only if it did). At the close (final)
 * nothing is left to wait for (the entry was evicted, or is another
 * call's): told as well.
 */
static __always_inline void udp_connect_late(struct lease_val *l, const struct bpf_sock *bsk,
					     __u16 port, bool final)
{
	__u32 tid = l->tid;
	struct pending *p;

	if (!(l->flags & LF_UDP_CONNECT) || !port || l->skaddr != (__u64)bsk)
		return;
	if (sys_exit_hooks) {
		p = bpf_map_lookup_elem(&pendings, &tid);
		if (p && p->what == PEND_UDP_CONNECT && p->sk == l->skaddr &&
		    p->l.lease == l->lease) {
			if (bpf_map_delete_elem(&pendings, &tid))
				return;	/* the exit took it first: udp_bound will say */
		} else if (!final) {
			return;
		}
	}
	udp_connect_told(l, port);
}

/*
 * A UDP socket's cgroup hook, for what happened since its last one (port:
 * the socket's port now). A lease whose port went to a disconnect ends. A
 * socket made while tracing that has a port no hook reported took it in an
 * autobind: an unconnected send's (the sendmsg hook runs just after it), or
 * one whose call failed before any hook (a send to a v4-mapped address from
 * an IPv6-only socket, send() with no address): reported now. So is a
 * socket that held a port when tracing began (LF_PRE) and has another now:
 * a disconnect gave the first back (never a lease of ours: not told).
 */
static __always_inline void udp_catch_up(struct lease_val *l, const struct bpf_sock *bsk,
					 __u16 port, __u64 id)
{
	udp_lease_settle(l, bsk);
	udp_connect_late(l, bsk, port, false);
	if ((l->flags & LF_LEASE) && !udp_lease_lost_port(l, bsk, port))
		return;		/* still on its port */
	if ((l->flags & LF_PRE) && port != l->lport)
		l->flags = LF_BORN;
	if ((l->flags & LF_BORN) && port)
		udp_born_alloc(l, bsk, port, id);
}

/*
 * A UDP socket with no storage at a hook: made before tracing began
 * (sock_create gives every later one some). In a namespace the start walk
 * marked (udp_walked), every socket that had a port then has storage, so
 * one with a port now took it while tracing, in a call no hook saw (an
 * unconnected send's autobind, just before the sendmsg hook): storage
 * LF_BORN, for udp_catch_up() to report. Elsewhere (a namespace portlife
 * could not enter) the port may be older than tracing: marked LF_PRE, as
 * the walk would have, and not reported. NULL for a socket without a port.
 * The port is read through the socket: sock_release may not read it from
 * its context.
 */
static __always_inline struct lease_val *udp_unmarked(const struct bpf_sock *bsk)
{
	const struct sock *sk;
	struct lease_val *l;
	__u16 port;
	__u32 ns;

	l = bpf_sk_storage_get(&sk_leases, (void *)bsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!l) {
		__sync_fetch_and_add(&untracked, 1);
		return NULL;
	}
	l->skaddr = (__u64)bsk;
	sk = (const struct sock *)*(volatile __u64 *)&l->skaddr;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!port) {
		l->flags = 0;
		return NULL;
	}
	ns = skc_netns(&sk->__sk_common);
	if (bpf_map_lookup_elem(&udp_walked, &ns)) {
		l->flags = LF_BORN;
	} else {
		l->flags = LF_PRE;
		l->lport = port;
	}
	return l;
}

/* ---- bind() -------------------------------------------------------------- */

/*
 * The address and port a bind() or connect() asks for, from a cgroup
 * sock_addr hook. v6 is known at compile time: a bind4 or connect4 program
 * may not even read the user_ip6 field.
 */
static __always_inline void pend_user_addr(struct pending *p, const struct bpf_sock_addr *ctx,
					   const bool v6)
{
	p->port = bpf_ntohs(ctx->user_port);
	if (v6) {
		__u32 *a = (__u32 *)p->addr;

		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
	} else {
		*(__u32 *)p->addr = ctx->user_ip4;
	}
}

/* cgroup bind4/bind6: before the kernel looks at the address. */
static __always_inline void handle_bind_pre(struct bpf_sock_addr *ctx, const bool v6)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct pending p = {};
	struct bpf_sock *bsk = ctx->sk;
	__u32 tid = (__u32)id;

	if (calib_cookie && bpf_get_socket_cookie(ctx) == calib_cookie)
		self_tgid = id >> 32;
	if (!bsk || !cg_traced_proto(bsk) || cg_task_filtered(id >> 32))
		return;
	p.sk = (__u64)bsk;
	/*
	 * Another portlife's self-test (PL_SELFTEST_MARK): post_bind, which may
	 * not read the mark, learns from this entry to pass it by.
	 */
	if (bsk->mark == PL_SELFTEST_MARK) {
		p.what = PEND_SELFTEST;
		bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
		return;
	}
	p.family = v6 ? AF_INET6 : AF_INET;
	if (targ_family && p.family != targ_family)
		return;
	if (bsk->protocol == IPPROTO_UDP) {
		struct lease_val *l = bpf_sk_storage_get(&sk_leases, bsk, 0, 0);

		if (l)
			udp_catch_up(l, bsk, bsk->src_port, id);
	}
	p.what = PEND_BIND;
	p.ts = bpf_ktime_get_ns();
	p.kind = ctx->user_port ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL;
	pend_user_addr(&p, ctx, v6);
	bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
}

/*
 * cgroup post_bind4/6: the port is bound (never for IP_BIND_ADDRESS_NO_PORT
 * with port 0: no port is taken then, and none is reported).
 */
static __always_inline void handle_post_bind(struct bpf_sock *bsk)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id;
	struct pending *p = bpf_map_lookup_elem(&pendings, &tid);
	const struct sock *sk;
	struct lease_val *l;
	struct pl_event *e;
	__u64 ts = now;
	__u8 kind = PL_ALLOC_BIND_EPHEMERAL;

	if (!cg_traced_proto(bsk))
		return;
	if (p && p->what == PEND_SELFTEST && p->sk == (__u64)bsk) {
		bpf_map_delete_elem(&pendings, &tid);
		return;
	}
	if (p && p->what == PEND_BIND && p->sk == (__u64)bsk) {
		ts = p->ts;
		kind = p->kind;
		/* done: the exit tracepoint has nothing left to report */
		bpf_map_delete_elem(&pendings, &tid);
	} else if (cg_task_filtered(id >> 32)) {
		return;
	}
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!l) {
		__sync_fetch_and_add(&untracked, 1);
		return;
	}
	udp_lease_settle(l, bsk);
	if ((l->flags & LF_LEASE) && !udp_lease_lost_port(l, bsk, bsk->src_port))
		return;
	sk = lease_init_cg(l, bsk, id);
	l->lport = bsk->src_port;
	l->flags = LF_LEASE;
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return;
	ev_owner(e, l);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	e->kind = kind;
	e->dur_ns = now - ts;
	ev_submit(e);
}

/*
 * syscalls/sys_exit_bind: a bind that got no post_bind failed (or took no
 * port: IP_BIND_ADDRESS_NO_PORT). Only a failed port search is an
 * allocation failure; every other error is a bind error.
 */
static __always_inline void handle_bind_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *pp = bpf_map_lookup_elem(&pendings, &tid), p;
	struct pl_event *e;

	if (!pp || pp->what != PEND_BIND)
		return;
	p = *pp;
	bpf_map_delete_elem(&pendings, &tid);
	if (ret >= 0)
		return;
	/* the owner: this task, the socket's namespace and protocol */
	lease_init(&p.l, (const struct sock *)p.sk, bpf_get_current_pid_tgid());
	e = ev_reserve(ret == -EADDRINUSE ? PL_EV_ALLOC : PL_EV_BIND_ERROR);
	if (!e)
		return;
	ev_owner(e, &p.l);
	e->lease = 0;
	e->kind = p.kind;
	e->err = -ret;
	e->dur_ns = bpf_ktime_get_ns() - p.ts;
	e->family = p.family;
	e->lport = p.port;
	__builtin_memcpy(e->laddr, p.addr, sizeof(e->laddr));
	if (ret == -EADDRINUSE && p.kind == PL_ALLOC_BIND_EPHEMERAL)
		ev_search_range(e, (const struct sock *)p.sk);
	ev_submit(e);
}

/* ---- UDP ------------------------------------------------------------------ */

/* cgroup sock_create: a UDP socket made while tracing; a port it gets later is news. */
static __always_inline void handle_sock_create(struct bpf_sock *bsk)
{
	struct lease_val *l;

	if (bsk->protocol != IPPROTO_UDP || cg_task_filtered(bpf_get_current_pid_tgid() >> 32))
		return;
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (l) {
		l->flags = LF_BORN;
		l->skaddr = (__u64)bsk;	/* sock_release reads the port through it */
	}
}

/*
 * cgroup connect4/6, before the kernel autobinds an unbound UDP socket: the
 * lease is made ready here (its id, its owner), and the exit tracepoint
 * reports it with the port it got, or its EAGAIN with the destination asked
 * for (the socket has none yet). v6 as for handle_bind_pre().
 */
static __always_inline void handle_connect_pre(struct bpf_sock_addr *ctx, const bool v6)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct bpf_sock *bsk = ctx->sk;
	__u32 tid = (__u32)id;
	struct lease_val *l;
	struct pending p = {};

	if (!bsk || bsk->protocol != IPPROTO_UDP || cg_task_filtered(id >> 32))
		return;
	if (targ_family && bsk->family != targ_family)
		return;
	if (bsk->src_port) {
		/* no autobind to come: only what happened since the last hook */
		l = bpf_sk_storage_get(&sk_leases, bsk, 0, 0);
		if (!l)
			l = udp_unmarked(bsk);
		if (l)
			udp_catch_up(l, bsk, bsk->src_port, id);
		return;
	}
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!l) {
		__sync_fetch_and_add(&untracked, 1);
		return;
	}
	/*
	 * The socket has no port (checked above): a lease it had lost its port
	 * to a disconnect, and an earlier connect() got none (or, without the
	 * exit tracepoint, one that was never told); this connect() autobinds
	 * anew.
	 */
	udp_catch_up(l, bsk, 0, id);
	lease_init_cg(l, bsk, id);
	l->flags = LF_UDP_CONNECT;
	/* for a port told after the call: without the exit, or by no exit (io_uring) */
	l->start_ns = bpf_ktime_get_ns();
	if (!sys_exit_hooks)
		return;
	p.what = PEND_UDP_CONNECT;
	p.sk = (__u64)bsk;
	p.ts = l->start_ns;
	p.kind = PL_ALLOC_AUTOBIND;
	p.l = *l;
	/* the socket's own family: connect4 runs for AF_INET sockets, connect6 for AF_INET6 */
	pend_user_addr(&p, ctx, v6);
	bpf_map_update_elem(&pendings, &tid, &p, BPF_ANY);
}

/*
 * The exit of a TCP connect() that searched (tcp_connect_begin()): its port,
 * unless SYN_SENT's end told it first. A non-blocking connect() returns
 * with its SYN sent (dated by it: syn_sent_ns()); a deferred one
 * (TCP_FASTOPEN_CONNECT) before any SYN, the call's length its latency.
 * A lease the hash had no room for (in the socket's storage, out of a
 * tracepoint's reach) is told at SYN_SENT's end or the SYN's retransmission.
 */
static __always_inline void tcp_connect_exit(const struct pending *p)
{
	const struct sock *sk = (const struct sock *)p->sk;
	__u64 key = p->sk, end;
	struct lease_val *l = bpf_map_lookup_elem(&leases, &key);
	__u16 port;

	/* told already (the SYN_SENT's end came first), or the lease is gone, or another socket's */
	if (!l || l->lease != p->l.lease || !(l->flags & LF_CONNECTING))
		return;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!port)
		return;
	l->flags &= ~LF_CONNECTING;
	end = syn_sent_ns(sk, l, false) ?: bpf_ktime_get_ns();
	tcp_port_told(sk, l, PL_ALLOC_CONNECT, port, end, false);
}

/*
 * tcp:tcp_retransmit_skb (the syscall exits on): a SYN sent again before
 * connect() returned (a blocking call to a destination that does not
 * answer, for up to tcp_syn_retries' two minutes) or before any exit came
 * (io_uring). The port is told now, a second after the search at the
 * latest; the stamp moved with the SYN, so the latency is not measured.
 */
static __always_inline void handle_syn_retrans(const struct sock *sk)
{
	struct lease_val *l;
	bool hashed;
	__u16 port;

	if (!sk || sk->__sk_common.skc_state != TCP_SYN_SENT)
		return;
	l = tcp_lease(sk, &hashed);
	if (!l || !(l->flags & LF_CONNECTING))
		return;
	port = sk->__sk_common.skc_num;
	if (!port)
		return;
	l->flags &= ~LF_CONNECTING;
	tcp_port_told(sk, l, PL_ALLOC_CONNECT, port, 0, true);
}

/*
 * syscalls/sys_exit_listen: the port a listen() without bind() took, told
 * with the call's length, the lease kept in listen_told until the state
 * tracepoint settles it in the socket's storage (listen_failed()). A
 * failure is the state tracepoint's to tell (LISTEN -> CLOSE, before this).
 */
static __always_inline void handle_listen_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct pending *pp = bpf_map_lookup_elem(&pendings, &tid), p;
	struct port_told t = {};
	const struct sock *sk;
	__u16 port;

	if (!pp || pp->what != PEND_LISTEN)
		return;
	p = *pp;
	bpf_map_delete_elem(&pendings, &tid);
	/* an io_uring listen()'s, which never exits: its close tells it */
	if (ret || bpf_ktime_get_ns() - p.ts > PEND_STALE_NS)
		return;
	sk = (const struct sock *)p.sk;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN)
		return;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!port)
		return;
	t.lease = p.l.lease;
	t.port = port;
	if (bpf_map_update_elem(&listen_told, &p.sk, &t, BPF_ANY))
		return;	/* no room: the close tells it, dated at the call */
	emit_alloc(sk, &p.l, PL_ALLOC_BIND_EPHEMERAL, 0, bpf_ktime_get_ns() - p.ts);
	/* the listen signal, as the exact modes send it for a port the kernel chose */
	if (signals_on)
		emit_listen(sk, port, id);
}

/*
 * The exit of a bound socket's connect() with EADDRNOTAVAIL: its 4-tuple was
 * in use. Not this call's entry if it is stale (an io_uring connect() never
 * exits) or its socket is not back in CLOSE with the destination cleared, as
 * tcp_v4_connect()'s and tcp_v6_connect()'s failure path leave it.
 */
static __always_inline void tcp_bound_connect_failed(const struct pending *p)
{
	const struct sock *sk = (const struct sock *)p->sk;
	struct pl_event *e;

	if (bpf_ktime_get_ns() - p->ts > PEND_STALE_NS ||
	    BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE ||
	    BPF_CORE_READ(sk, __sk_common.skc_dport) ||
	    BPF_CORE_READ(sk, __sk_common.skc_num) != p->t.lport)
		return;
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return;
	ev_owner(e, &p->l);
	e->lease = 0;
	e->family = p->t.family;
	e->lport = p->t.lport;
	e->rport = p->t.rport;
	__builtin_memcpy(e->laddr, p->t.laddr, sizeof(e->laddr));
	__builtin_memcpy(e->raddr, p->t.raddr, sizeof(e->raddr));
	e->kind = PL_ALLOC_CONNECT;
	e->err = EADDRNOTAVAIL;
	e->sflags = PL_ALLOCF_BOUND;
	e->dur_ns = e->ts_ns - p->ts;
	ev_submit(e);
}

/*
 * syscalls/sys_exit_connect: the port a UDP connect() autobound, or EAGAIN;
 * a deferred TCP connect()'s port.
 */
static __always_inline void handle_connect_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *pp = bpf_map_lookup_elem(&pendings, &tid), p;
	const struct sock *sk;
	struct pl_event *e;
	__u16 port;

	if (pp && pp->what == PEND_TCP_CONNECT) {
		p = *pp;
		bpf_map_delete_elem(&pendings, &tid);
		tcp_connect_exit(&p);
		return;
	}
	if (pp && pp->what == PEND_TCP_BOUND) {
		p = *pp;
		bpf_map_delete_elem(&pendings, &tid);
		if (ret == -EADDRNOTAVAIL)
			tcp_bound_connect_failed(&p);
		return;
	}
	if (!pp || pp->what != PEND_UDP_CONNECT)
		return;
	p = *pp;
	/*
	 * Not this call's: an io_uring connect's, which never exits, met by the
	 * thread's next connect() (one that writes no entry: a TCP one). The
	 * socket's next hook tells it (udp_connect_late()).
	 */
	if (bpf_ktime_get_ns() - p.ts > PEND_STALE_NS)
		return;
	/* whoever deletes the entry tells the port: this exit, or a hook that found it */
	if (bpf_map_delete_elem(&pendings, &tid))
		return;
	sk = (const struct sock *)p.sk;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (!port) {
		/* the lease took no port: the socket's next one is news */
		struct port_told b = { .lease = p.l.lease };

		bpf_map_update_elem(&udp_bound, &p.sk, &b, BPF_ANY);
	}
	/* connect() failed before the autobind, or after it without a port: no lease */
	if (!port && ret != -EAGAIN)
		return;
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return;
	ev_owner(e, &p.l);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	e->kind = PL_ALLOC_AUTOBIND;
	e->dur_ns = e->ts_ns - p.ts;
	if (!port) {
		e->err = EAGAIN;	/* inet_autobind() found no free port */
		e->lease = 0;
		/* where it was going: what the diagnosis and the alerts name */
		e->rport = p.port;
		__builtin_memcpy(e->raddr, p.addr, sizeof(e->raddr));
		ev_search_range(e, sk);
	}
	ev_submit(e);
	if (port) {
		struct port_told b = { .lease = p.l.lease, .port = port };

		bpf_map_update_elem(&udp_bound, &p.sk, &b, BPF_ANY);
	}
}

/*
 * cgroup sendmsg4/6, for a send on an unconnected UDP socket, after the
 * kernel autobound it: a socket made while tracing that has a port now and
 * no lease got it in this send. The autobind happened before this hook: no
 * latency is known.
 */
static __always_inline void handle_sendmsg(struct bpf_sock_addr *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct bpf_sock *bsk = ctx->sk;
	struct lease_val *l;

	/* UDP-Lite sends come here too (traced_proto()) */
	if (!bsk || bsk->protocol != IPPROTO_UDP || !bsk->src_port)
		return;
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, 0);
	if (!l) {
		if (cg_task_filtered(id >> 32))
			return;
		l = udp_unmarked(bsk);
	}
	if (l)
		udp_catch_up(l, bsk, bsk->src_port, id);
}

/* cgroup sock_release: close() of a UDP socket gives its port back. */
static __always_inline void handle_sock_release(struct bpf_sock *bsk)
{
	struct lease_val *l;
	const struct sock *sk;
	__u16 port;

	if (bsk->protocol != IPPROTO_UDP)
		return;
	l = bpf_sk_storage_get(&sk_leases, bsk, 0, 0);
	/* made before tracing: a port it took since is told, then released */
	if (!l && !cg_task_filtered(bpf_get_current_pid_tgid() >> 32))
		l = udp_unmarked(bsk);
	if (!l)
		return;
	if (l->skaddr != (__u64)bsk)
		goto out;
	/*
	 * sock_release may not read the port from its context: CO-RE, through
	 * the address the lease keeps. What happened since the socket's last
	 * hook first (a port lost to a disconnect, one no hook saw it take, a
	 * connect()'s told late), then the lease this close ends: one, or a
	 * connect() that autobound (its exit reported the port).
	 */
	sk = (const struct sock *)*(volatile __u64 *)&l->skaddr;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	udp_catch_up(l, bsk, port, bpf_get_current_pid_tgid());
	udp_connect_late(l, bsk, port, true);
	if ((l->flags & LF_LEASE) || ((l->flags & LF_UDP_CONNECT) && port))
		emit_release(sk, l, PL_END_CLOSE);
out:
	/* the storage goes with the socket (sock_release may not delete it) */
	l->flags = 0;
}

#endif /* PORTLIFE_TP_BODIES_BPF_H */
