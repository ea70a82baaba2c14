// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * NAT port exhaustion, seen where the kernel gives up. When nf_nat finds no
 * free tuple in the rule's range it keeps a clashing one
 * (nf_nat_l4proto_unique_tuple returns after its attempts), and the entry's
 * insertion at confirm time fails: __nf_conntrack_confirm counts
 * insert_failed and drop, returns NF_DROP, and nf_hook_slow frees the packet
 * with SKB_DROP_REASON_NETFILTER_DROP. The skb still holds the unconfirmed
 * entry then, and its two tuples name the client and the NAT port it clashed
 * on. An object of its own: it loads only where NAT is watched, and a kernel
 * without the drop reason (before 5.17) or without conntrack's BTF loses this
 * alone, not the tracer.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* enum ip_conntrack_status (uapi): bits of nf_conn.status */
#define IPS_CONFIRMED	(1UL << 3)
#define IPS_SRC_NAT	(1UL << 4)
#define NFCT_PTRMASK	(~7UL)	/* skb->_nfct: the entry's address | ctinfo (3 bits) */

/* The netns to watch (inode numbers; 0 ends the list); set before load. */
const volatile __u32 watch_netns[8] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} nat_events SEC(".maps");

/* Reserve failures: losses are counted, never silent. */
__u64 lost = 0;

static __always_inline bool watched(__u32 inum)
{
	for (int i = 0; i < 8; i++) {
		if (!watch_netns[i])
			return false;
		if (watch_netns[i] == inum)
			return true;
	}
	return false;
}

static __always_inline int on_drop(struct sk_buff *skb, int reason)
{
	struct nf_conntrack_tuple o, r;
	struct pl_nat_drop *e;
	struct nf_conn *ct;
	unsigned long status;
	__u32 inum;

	if (!bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_NETFILTER_DROP) ||
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NETFILTER_DROP))
		return 0;
	if (!bpf_core_type_exists(struct nf_conn))
		return 0;
	ct = (struct nf_conn *)(BPF_CORE_READ(skb, _nfct) & NFCT_PTRMASK);
	if (!ct)
		return 0;
	status = BPF_CORE_READ(ct, status);
	/* a new entry that was source-NATed: a firewall drop of a known flow is not ours */
	if ((status & IPS_CONFIRMED) || !(status & IPS_SRC_NAT))
		return 0;
	inum = BPF_CORE_READ(ct, ct_net.net, ns.inum);
	if (!watched(inum))
		return 0;
	BPF_CORE_READ_INTO(&o, ct, tuplehash[0].tuple);
	BPF_CORE_READ_INTO(&r, ct, tuplehash[1].tuple);
	if (o.dst.protonum != IPPROTO_TCP && o.dst.protonum != IPPROTO_UDP)
		return 0;
	e = bpf_ringbuf_reserve(&nat_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->type = PL_NAT_DROP;
	e->family = o.src.l3num;
	e->proto = o.dst.protonum;
	e->pad = 0;
	e->real_dport = bpf_ntohs(r.src.u.all);
	e->sport = bpf_ntohs(o.src.u.all);
	e->dport = bpf_ntohs(o.dst.u.all);
	e->nat_port = bpf_ntohs(r.dst.u.all);
	e->netns = inum;
	e->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(e->saddr, &o.src.u3, 16);
	__builtin_memcpy(e->daddr, &o.dst.u3, 16);
	__builtin_memcpy(e->nat_addr, &r.dst.u3, 16);
	__builtin_memcpy(e->real_daddr, &r.src.u3, 16);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The third argument, the drop reason, exists since 5.17 (c504e5c2f964). */
SEC("tp_btf/kfree_skb")
int BPF_PROG(pl_nat_kfree, struct sk_buff *skb, void *location, int reason)
{
	return on_drop(skb, reason);
}
