/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook bodies of the exact modes (fentry/fexit, or their kprobe/kretprobe
 * twins where ftrace trampolines are unavailable):
 *   inet_hash_connect, inet6_hash_connect  connect() port search, latency, errno
 *   inet_csk_get_port                      bind()/listen() autobind, EADDRINUSE
 *   udp_lib_get_port (+ inet_autobind)     UDP bind and autobind, failures
 *   tcp_time_wait, inet_twsk_hashdance[_schedule], __inet_twsk_schedule
 *                                          TIME_WAIT enter (or overflow)
 *   tcp_twsk_unique, inet_twsk_deschedule_put, inet_twsk_kill
 *                                          TIME_WAIT exit: reused, killed, expired
 *   inet_put_port, udp_lib_unhash          the port goes back to the pool
 * The exit bodies take the socket from the entry record, so fexit and
 * kretprobe (which has no arguments) share them with one map lookup.
 */
#ifndef PORTLIFE_EXACT_BODIES_BPF_H
#define PORTLIFE_EXACT_BODIES_BPF_H

#include "signals.bpf.h"

/*
 * sock:inet_sock_set_state in the exact modes: a STATE event for a tracked
 * socket; allocation and release have hooks of their own.
 */
static __always_inline int handle_set_state_exact(const struct sock *sk, int oldstate,
						  int newstate)
{
	__u64 key = (__u64)sk;
	struct lease_val *l;
	struct pl_event *e;

	/* tp_btf: sk is a typed pointer, read directly (see READ_TUPLE_BTF) */
	if (BPF_CORE_READ_BITFIELD(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (targ_family && sk->__sk_common.skc_family != targ_family)
		return 0;
	/* listen() of a bound socket; an unbound one is given its port later (handle_get_port_exit) */
	if (newstate == TCP_LISTEN && signals_on && sk->__sk_common.skc_num) {
		__u64 id = bpf_get_current_pid_tgid();

		if (!task_filtered(id >> 32))
			emit_listen(sk, sk->__sk_common.skc_num, id);
	}
	l = bpf_map_lookup_elem(&leases, &key);
	if (!l)
		return 0;
	/*
	 * The cookie as the socket has it (0 if nobody asked for one): snapshot
	 * records read it the same way, which is all it is matched against here.
	 */
	if (!l->cookie)
		l->cookie = sk->__sk_common.skc_cookie.counter;
	e = ev_reserve(PL_EV_STATE);
	if (e) {
		ev_owner(e, l);
		READ_TUPLE_BTF(e, &sk->__sk_common);
		e->old_state = oldstate;
		e->new_state = newstate;
		ev_submit(e);
	}
	return 0;
}

/* The port the socket has as the search begins (bound before connect()) is the snum kept. */
static __always_inline void connect_enter(const struct sock *sk)
{
	if (traced_proto(sk))
		call_enter(FN_CONNECT, sk, BPF_CORE_READ(sk, __sk_common.skc_num));
}

static __always_inline void handle_hash_connect_exit(long ret)
{
	struct call_val c;

	if (call_exit(FN_CONNECT, &c))
		handle_alloc_exit((const struct sock *)c.sk, c.snum, ret, c.ts, PL_ALLOC_CONNECT,
				  EADDRNOTAVAIL, NULL);
}

/*
 * inet_csk_get_port(): bind() asks for a port (the socket has none yet), and
 * listen() checks again the one its socket was bound to (it has it: kept as
 * the call's arg).
 */
static __always_inline void get_port_enter(const struct sock *sk, __u16 snum)
{
	if (traced_proto(sk))
		call_enter_arg(FN_GET_PORT, sk, snum, BPF_CORE_READ(sk, __sk_common.skc_num));
}

static __always_inline void handle_get_port_exit(long ret)
{
	const struct sock *sk;
	struct call_val c;

	if (!call_exit(FN_GET_PORT, &c))
		return;
	sk = (const struct sock *)c.sk;
	/*
	 * listen() without bind(): inet_csk_listen_start() enters LISTEN, then
	 * asks for a port; the state tracepoint saw no port yet.
	 */
	if (signals_on && !ret && !c.snum &&
	    BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN) {
		__u64 id = bpf_get_current_pid_tgid();

		if (!task_filtered(id >> 32) &&
		    (!targ_family || BPF_CORE_READ(sk, __sk_common.skc_family) == targ_family))
			emit_listen(sk, BPF_CORE_READ(sk, __sk_common.skc_num), id);
	}
	/*
	 * listen()'s check of its bound port passed: no allocation, whether
	 * the bind() had a lease or came before tracing (the tracepoint mode
	 * tells no lease for such a listener either). Failed, it is a conflict
	 * like a bind()'s (two SO_REUSEADDR sockets on a port, the second to
	 * listen).
	 */
	if (!ret && c.arg)
		return;
	handle_alloc_exit(sk, c.snum, ret, c.ts,
			  c.snum ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL, EADDRINUSE, NULL);
}

static __always_inline void handle_udp_get_port_exit(long ret)
{
	const struct sock *sk;
	struct call_val c;

	if (!call_exit(FN_UDP_GET_PORT, &c))
		return;
	sk = (const struct sock *)c.sk;
	/*
	 * inet_autobind(): the first sendmsg()/connect(). Whatever the search
	 * returned (1 before 5.10, -EADDRINUSE since), the caller gets EAGAIN.
	 */
	if (in_call(FN_AUTOBIND)) {
		struct call_val d = {};
		bool dest = call_peek(FN_DGRAM_CONNECT, &d) && d.sk == c.sk;

		handle_alloc_exit(sk, 0, ret ? -EAGAIN : 0, c.ts, PL_ALLOC_AUTOBIND, EAGAIN,
				  dest ? &d : NULL);
	} else {
		handle_alloc_exit(sk, c.snum, ret, c.ts,
				  c.snum ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL,
				  EADDRINUSE, NULL);
	}
}

/* tcp_time_wait(): a timewait socket will take the port over, if one can be made. */
static __always_inline void handle_time_wait(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct lease_val *l = bpf_map_lookup_elem(&leases, &key);

	if (l)
		l->flags |= LF_IN_TIME_WAIT_CALL;
}

static __always_inline void emit_tw_enter(const void *tw, const struct lease_val *l, __u32 timeo)
{
	struct pl_event *e;

	e = ev_reserve(PL_EV_TW_ENTER);
	if (!e)
		return;
	ev_owner(e, l);
	READ_TUPLE_CORE(e, (const struct sock_common *)tw);
	e->dur_ns = jiffies_to_ns(timeo);
	ev_submit(e);
}

/*
 * The timer is armed before the hashdance up to 6.10 (tcp_time_wait() calls
 * inet_twsk_schedule() first) and inside it from 6.11: TIME_WAIT is entered
 * once both happened, whichever comes second emits it.
 */

/* inet_twsk_hashdance[_schedule](): from now on tw holds the port. */
static __always_inline void handle_hashdance(const void *tw, const struct sock *sk)
{
	__u64 key = (__u64)sk, twkey = (__u64)tw;
	struct lease_val *l = bpf_map_lookup_elem(&leases, &key), nl;
	struct call_val c;

	if (!l)
		return;
	nl = *l;
	nl.flags = (nl.flags & ~LF_IN_TIME_WAIT_CALL) | LF_TW;
	/* room is freed first: the full socket's entry goes, the timewait one comes */
	bpf_map_delete_elem(&leases, &key);
	if (lease_store(twkey, &nl))
		return;
	if (call_exit(FN_TW_SCHED, &c) && c.sk == twkey)
		emit_tw_enter(tw, &nl, c.arg);
}

/* __inet_twsk_schedule(): the TIME_WAIT timer is armed (rearm: a FIN came again). */
static __always_inline void handle_tw_schedule(const void *tw, int timeo, bool rearm)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = FN_TW_SCHED };
	struct call_val v = { .sk = (__u64)tw, .arg = timeo };
	__u64 key = (__u64)tw;
	struct lease_val *l;

	if (rearm)
		return;
	l = bpf_map_lookup_elem(&leases, &key);
	if (l)
		emit_tw_enter(tw, l, timeo);
	else
		bpf_map_update_elem(&calls, &k, &v, BPF_ANY);
}

/* inet_put_port(), udp_lib_unhash(): a full socket gives its port back. */
static __always_inline void handle_put_port(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct lease_val *l = bpf_map_lookup_elem(&leases, &key);

	if (!l)
		return;
	/*
	 * Still keyed by the full socket inside tcp_time_wait(): no timewait
	 * socket was made, tcp_max_tw_buckets is full (TCPTimeWaitOverflow).
	 */
	emit_release(sk, l, (l->flags & LF_IN_TIME_WAIT_CALL) ? PL_END_TW_OVERFLOW : PL_END_CLOSE);
	bpf_map_delete_elem(&leases, &key);
}

static __always_inline void handle_tw_flag(const void *tw, __u32 flag)
{
	__u64 key = (__u64)tw;
	struct lease_val *l = bpf_map_lookup_elem(&leases, &key);

	if (l)
		l->flags |= flag;
}

/* inet_twsk_kill(): the timewait socket unhashes and frees the port. */
static __always_inline void handle_tw_kill(const void *tw)
{
	__u64 key = (__u64)tw;
	struct lease_val *l = bpf_map_lookup_elem(&leases, &key);
	struct pl_event *e;
	__u8 reason;

	if (!l)
		return;
	reason = (l->flags & LF_TW_REUSED) ? PL_END_TW_REUSED :
		 (l->flags & LF_TW_KILLED) ? PL_END_TW_KILLED : PL_END_TW_EXPIRED;
	/*
	 * The timer never fires early: a kill before it is due is no expiry,
	 * whichever path made it. A namespace's cleanup (inet_twsk_purge())
	 * calls inet_twsk_deschedule_put() in its own file, where 5.10's
	 * compiler inlined it: the hook above never saw that call.
	 */
	if (reason == PL_END_TW_EXPIRED &&
	    (__s64)(bpf_jiffies64() -
		    BPF_CORE_READ((const struct inet_timewait_sock *)tw, tw_timer.expires)) < 0)
		reason = PL_END_TW_KILLED;
	e = ev_reserve(PL_EV_TW_EXIT);
	if (e) {
		ev_owner(e, l);
		READ_TUPLE_CORE(e, (const struct sock_common *)tw);
		e->kind = reason;
		ev_submit(e);
	}
	emit_release(tw, l, reason);
	bpf_map_delete_elem(&leases, &key);
}

/* The family, address and port a bind() or connect() asks for (the kernel's copy). */
static __always_inline void call_uaddr(struct call_val *v, const struct sockaddr *uaddr)
{
	v->family = BPF_CORE_READ(uaddr, sa_family);
	if (v->family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)uaddr;

		v->snum = bpf_ntohs(BPF_CORE_READ(s6, sin6_port));
		BPF_CORE_READ_INTO(&v->addr, s6, sin6_addr.in6_u.u6_addr8);
	} else {
		const struct sockaddr_in *s4 = (const void *)uaddr;

		v->snum = bpf_ntohs(BPF_CORE_READ(s4, sin_port));
		BPF_CORE_READ_INTO((__u32 *)v->addr, s4, sin_addr.s_addr);
	}
}

/* inet_bind()/inet6_bind(): what was asked for, for an error that comes before any port search. */
static __always_inline void handle_inet_bind_enter(const struct socket *sock,
						   const struct sockaddr *uaddr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = FN_BIND };
	struct call_val v = { .ts = bpf_ktime_get_ns() };

	if (task_filtered(id >> 32))
		return;
	v.sk = (__u64)BPF_CORE_READ(sock, sk);
	if (!traced_proto((const struct sock *)v.sk))
		return;
	call_uaddr(&v, uaddr);
	if (targ_family && v.family != targ_family)
		return;
	bpf_map_update_elem(&calls, &k, &v, BPF_ANY);
}

/*
 * inet_bind() returned: -EADDRINUSE is the port search's failure, reported
 * by the get_port hooks; any other error is a bind error (no port looked for).
 */
static __always_inline void handle_inet_bind_exit(long ret)
{
	struct lease_val nl = {};
	struct pl_event *e;
	struct call_val c;

	if (!call_exit(FN_BIND, &c) || !ret || ret == -EADDRINUSE || !c.sk)
		return;
	lease_init(&nl, (const struct sock *)c.sk, bpf_get_current_pid_tgid());
	e = ev_reserve(PL_EV_BIND_ERROR);
	if (!e)
		return;
	ev_owner(e, &nl);
	e->lease = 0;
	e->kind = c.snum ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL;
	e->err = -ret;
	e->dur_ns = bpf_ktime_get_ns() - c.ts;
	e->family = c.family;
	e->lport = c.snum;
	__builtin_memcpy(e->laddr, c.addr, sizeof(e->laddr));
	ev_submit(e);
}

/*
 * inet_dgram_connect(): a UDP connect(), which autobinds an unbound socket
 * first. Its destination, kept for the call, names where the autobind's
 * port, or its failure, was going (the socket has no peer yet); only
 * unbound UDP sockets write an entry.
 */
static __always_inline void handle_dgram_connect_enter(const struct socket *sock,
						      const struct sockaddr *uaddr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = FN_DGRAM_CONNECT };
	struct call_val v = { .ts = bpf_ktime_get_ns() };
	const struct sock *sk;

	if (task_filtered(id >> 32))
		return;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_UDP ||
	    BPF_CORE_READ(sk, __sk_common.skc_num))
		return;
	v.sk = (__u64)sk;
	call_uaddr(&v, uaddr);
	if (v.family != AF_INET && v.family != AF_INET6)
		return;		/* AF_UNSPEC: a disconnect */
	bpf_map_update_elem(&calls, &k, &v, BPF_ANY);
}

static __always_inline void handle_dgram_connect_exit(void)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = FN_DGRAM_CONNECT };

	bpf_map_delete_elem(&calls, &k);
}

#endif /* PORTLIFE_EXACT_BODIES_BPF_H */
