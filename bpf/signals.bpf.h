/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the security rules (user/alerts.c) need from the kernel beyond port
 * leases, as PL_EV_SIGNAL events on the one ring buffer, so that a recording
 * has them too:
 *   - listen: a TCP socket starts listening, with its netns's
 *     ip_local_port_range and whether the port is reserved (listen_ephemeral)
 *   - probes: a SYN to a closed TCP port answered with a RST, a UDP datagram
 *     to a closed port answered with ICMP port unreachable (scan_in)
 * The probe hooks fire on traffic nothing else here traces, and a prober
 * decides how often: they test the packet first, then a per-CPU rate limit
 * (probe_rate a second) keeps a flood from crowding port leases out of the
 * ring buffer; what is over it is only counted (probes_over_rate), and user
 * space puts that count into the event stream.
 */
#ifndef PORTLIFE_SIGNALS_BPF_H
#define PORTLIFE_SIGNALS_BPF_H

#include "events.bpf.h"

#define TCP_FLAGS_OFF	13	/* the flags byte of a TCP header */
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_ACK	0x10

/* Is port in the netns's ip_local_reserved_ports (a bitmap of 65536 bits)? */
static __always_inline bool port_reserved(const struct net *net, __u16 port)
{
	const unsigned long *bm = BPF_CORE_READ(net, ipv4.sysctl_local_reserved_ports);
	unsigned long w = 0;

	if (!bm || bpf_probe_read_kernel(&w, sizeof(w), bm + port / (8 * sizeof(w))))
		return false;
	return (w >> (port % (8 * sizeof(w)))) & 1;
}

/* ---- listen ------------------------------------------------------------ */

/*
 * sk listens on port now (the state tracepoint for a bound socket, the port
 * search's exit for one the kernel gives a port in the exact modes).
 */
static __always_inline void emit_listen(const struct sock *sk, __u16 port, __u64 id)
{
	const struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	struct lease_val o = {};
	struct pl_event *e;

	owner_init(&o, sk, id);
	e = ev_reserve(PL_EV_SIGNAL);
	if (!e)
		return;
	ev_owner(e, &o);
	READ_TUPLE_CORE(e, &sk->__sk_common);
	e->lport = port;
	e->kind = PL_SIG_LISTEN;
	e->aux = netns_port_range(net);
	/* bind() to a given port sets SOCK_BINDPORT_LOCK; bind(0) and listen() alone do not */
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks) & SOCK_BINDPORT_LOCK)
		e->sflags |= PL_SIGF_BOUND;
	if (port_reserved(net, port))
		e->sflags |= PL_SIGF_RESERVED;
	ev_submit(e);
}

/* ---- probes of closed ports ---------------------------------------------- */

struct probe_rl {
	__u64 win;		/* the second this CPU counts */
	__u32 n;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_rl);
} probe_rl SEC(".maps");

/* One more probe signal on this CPU this second: true while under probe_rate. */
static __always_inline bool probe_allowed(void)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 k = 0;
	struct probe_rl *rl = bpf_map_lookup_elem(&probe_rl, &k);

	if (!rl)
		return false;
	if (now - rl->win >= 1000000000ULL) {
		rl->win = now;
		rl->n = 0;
	}
	if (rl->n >= probe_rate)
		return false;
	rl->n++;
	return true;
}

/*
 * skb is the packet the kernel answers (the SYN, the datagram): its source
 * is the prober, its destination this host's closed port. sig says which
 * answer it gets; proto is the transport that must be under it. The headers
 * are found from the network header, which both paths have set; IPv6
 * extension headers are not walked (a probe behind one is not counted).
 */
static __always_inline void handle_probe(const struct sk_buff *skb, __u8 sig, __u8 proto)
{
	unsigned char *head, *ip, *l4;
	struct pl_event *e;
	__u8 b[40], family;
	__u16 ports[2];

	/* tp_btf arguments may be NULL (6.18's verifier says so): test before any read */
	if (!skb)
		return;
	head = BPF_CORE_READ(skb, head);
	ip = head + BPF_CORE_READ(skb, network_header);
	if (bpf_probe_read_kernel(b, 1, ip))
		return;
	if (b[0] >> 4 == 4) {
		if (bpf_probe_read_kernel(b, 20, ip) || b[9] != proto)
			return;
		family = AF_INET;
		l4 = ip + (b[0] & 0xf) * 4;
	} else if (b[0] >> 4 == 6) {
		if (bpf_probe_read_kernel(b, 40, ip) || b[6] != proto)
			return;
		family = AF_INET6;
		l4 = ip + 40;
	} else {
		return;
	}
	if (targ_family && family != targ_family)
		return;
	if (bpf_probe_read_kernel(ports, sizeof(ports), l4))
		return;
	if (proto == IPPROTO_TCP) {
		__u8 flags;

		/* a connection attempt: SYN alone (not a stray ACK after a socket went away) */
		if (bpf_probe_read_kernel(&flags, 1, l4 + TCP_FLAGS_OFF) ||
		    (flags & (TCPF_SYN | TCPF_ACK | TCPF_RST)) != TCPF_SYN)
			return;
	}
	if (!probe_allowed()) {
		__sync_fetch_and_add(&probes_over_rate, 1);
		return;
	}
	e = ev_reserve(PL_EV_SIGNAL);
	if (!e)
		return;
	e->kind = sig;
	e->proto = proto;
	e->family = family;
	e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	e->lport = bpf_ntohs(ports[1]);
	e->rport = bpf_ntohs(ports[0]);
	if (family == AF_INET) {
		__builtin_memcpy(e->raddr, b + 12, 4);
		__builtin_memcpy(e->laddr, b + 16, 4);
	} else {
		__builtin_memcpy(e->raddr, b + 8, 16);
		__builtin_memcpy(e->laddr, b + 24, 16);
	}
	ev_submit(e);
}

/* tcp_v4_send_reset(), tcp_v6_send_reset(), tcp:tcp_send_reset: no socket is a closed port. */
static __always_inline void handle_send_reset(const struct sock *sk, const struct sk_buff *skb)
{
	if (!sk)
		handle_probe(skb, PL_SIG_TCP_CLOSED, IPPROTO_TCP);
}

/* ICMP type 3 code 3 (v4), type 1 code 4 (v6): the port is unreachable. */
#define ICMP_DEST_UNREACH_	3
#define ICMP_PORT_UNREACH_	3
#define ICMPV6_DEST_UNREACH_	1
#define ICMPV6_PORT_UNREACH_	4

static __always_inline void handle_icmp_send(const struct sk_buff *skb, int type, int code, bool v6)
{
	if (v6 ? type == ICMPV6_DEST_UNREACH_ && code == ICMPV6_PORT_UNREACH_ :
		 type == ICMP_DEST_UNREACH_ && code == ICMP_PORT_UNREACH_)
		handle_probe(skb, PL_SIG_UDP_CLOSED, IPPROTO_UDP);
}

#endif /* PORTLIFE_SIGNALS_BPF_H */
