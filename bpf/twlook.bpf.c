// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Tracepoint mode's TIME_WAIT check by lookup. The state tracepoint never
 * shows a timewait socket, so each round asks the kernel about every lease
 * that waits in or for TIME_WAIT. The tcp iterator answers by walking the
 * whole established table: every bucket (262144 on a 24 GiB host, empty or
 * not) and every socket of every namespace sharing it, traced or not. This
 * program answers per lease: one hash lookup of its 4-tuple, as a packet
 * from the peer would do, so a round costs what portlife traces, not what
 * the host holds. User space runs it with BPF_PROG_TEST_RUN from inside the
 * lease's namespace: the test packet's device is that namespace's loopback,
 * and the lookup searches the namespace of the packet's device.
 *
 * A miss is not proof: a socket bound to another device (SO_BINDTODEVICE,
 * a VRF) does not match a lookup through loopback. User space confirms any
 * miss it cannot explain (reuse, expiry) with the iterator.
 *
 * The same lookup tells a lease whose close the kernel never showed whether
 * its socket is still open (found PL_TWQ_ALIVE).
 *
 * Needs bpf_loop (5.17): where this object does not load, every round uses
 * the iterator, as before.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCP_TIME_WAIT 6		/* include/net/tcp_states.h */

struct pl_tw_query twq[PL_TWQ_BATCH];
__u32 twq_n;

static __always_inline bool v4mapped(const __u8 a[16])
{
	const __u32 *w = (const __u32 *)a;

	return !w[0] && !w[1] && w[2] == bpf_htonl(0xffff);
}

static int look_one(__u32 i, void *ctx)
{
	struct __sk_buff *skb = *(struct __sk_buff **)ctx;
	struct tcp_timewait_sock *ttw;
	struct bpf_sock_tuple t = {};
	struct tcp_sock *tp;
	struct pl_tw_query *q;
	struct bpf_sock *sk;
	__u32 size, at;

	if (i >= PL_TWQ_BATCH)
		return 1;
	q = &twq[i];
	q->found = 0;
	if (q->family != AF_INET && q->family != AF_INET6)
		return 0;
	/*
	 * The tuple as the peer's packet carries it: source is the remote end.
	 * A dual-stack socket talking IPv4 is hashed as IPv4: its addresses
	 * are the mapped ones' last 4 bytes.
	 */
	at = q->family == AF_INET ? 0 : 12;
	if (at == 0 || (v4mapped(q->laddr) && v4mapped(q->raddr))) {
		__builtin_memcpy(&t.ipv4.saddr, q->raddr + at, 4);
		__builtin_memcpy(&t.ipv4.daddr, q->laddr + at, 4);
		t.ipv4.sport = bpf_htons(q->rport);
		t.ipv4.dport = bpf_htons(q->lport);
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, q->raddr, 16);
		__builtin_memcpy(t.ipv6.daddr, q->laddr, 16);
		t.ipv6.sport = bpf_htons(q->rport);
		t.ipv6.dport = bpf_htons(q->lport);
		size = sizeof(t.ipv6);
	}
	sk = bpf_skc_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	/* the tuple may belong to a newer connection now: the cookie says whose it is */
	if (sk->state == TCP_TIME_WAIT) {
		ttw = bpf_skc_to_tcp_timewait_sock(sk);
		if (ttw && ttw->tw_sk.__tw_common.skc_cookie.counter == q->cookie) {
			q->expires_ns = jiffies_left_ns(ttw->tw_sk.tw_timer.expires);
			q->found = PL_TWQ_TW;
		}
	} else {
		/* still open: a lease whose close was never shown may simply not have closed */
		tp = bpf_skc_to_tcp_sock(sk);
		if (tp && tp->inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter == q->cookie)
			q->found = PL_TWQ_ALIVE;
	}
	bpf_sk_release(sk);
	return 0;
}

SEC("tc")
int pl_tw_lookup(struct __sk_buff *skb)
{
	struct __sk_buff *ctx = skb;

	bpf_loop(twq_n, look_one, &ctx, 0);
	return 0;
}
