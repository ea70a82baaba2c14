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

#include "events.bpf.h"

static __always_inline void handle_connect_exit(long ret)
{
	struct call_val c;

	if (call_exit(FN_CONNECT, &c))
		handle_alloc_exit((const struct sock *)c.sk, 0, ret, c.ts, PL_ALLOC_CONNECT,
				  EADDRNOTAVAIL);
}

static __always_inline void handle_get_port_exit(long ret)
{
	struct call_val c;

	if (call_exit(FN_GET_PORT, &c))
		handle_alloc_exit((const struct sock *)c.sk, c.snum, ret, c.ts,
				  c.snum ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL,
				  EADDRINUSE);
}

static __always_inline void handle_udp_get_port_exit(long ret)
{
	const struct sock *sk;
	struct call_val c;

	if (!call_exit(FN_UDP_GET_PORT, &c))
		return;
	sk = (const struct sock *)c.sk;
	/* inet_autobind(): the first sendmsg()/connect(); it fails with EAGAIN. */
	if (in_call(FN_AUTOBIND))
		handle_alloc_exit(sk, 0, ret, c.ts, PL_ALLOC_AUTOBIND, EAGAIN);
	else
		handle_alloc_exit(sk, c.snum, ret, c.ts,
				  c.snum ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL,
				  EADDRINUSE);
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
	bpf_map_update_elem(&leases, &twkey, &nl, BPF_ANY);
	bpf_map_delete_elem(&leases, &key);
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

#endif /* PORTLIFE_EXACT_BODIES_BPF_H */
