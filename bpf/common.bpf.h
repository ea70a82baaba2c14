/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every portlife BPF object shares: includes, the kernel constants it
 * needs, time conversion and the two ways of reading a socket's tuple.
 */
#ifndef PORTLIFE_COMMON_BPF_H
#define PORTLIFE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "portlife.h"

/* uapi constants: vmlinux.h has the types, not the #defines. */
#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define EAGAIN		11
#define EADDRINUSE	98
#define EADDRNOTAVAIL	99
#define SOCK_BINDPORT_LOCK 8	/* include/net/sock.h */

/*
 * User space passes CONFIG_HZ itself (libbpf refuses to load when a kernel
 * has no config file to read, even for a __weak extern); 0 means unknown.
 */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* Jiffies to ns; 250 (Debian's and most distributions' HZ) when unknown. */
static __always_inline __u64 jiffies_to_ns(__u64 j)
{
	__u64 hz = CONFIG_HZ ? CONFIG_HZ : 250;

	return j * (1000000000ULL / hz);
}

/* Time left on a timer that fires at jiffies 'expires', in ns (0 if past). */
static __always_inline __u64 jiffies_left_ns(unsigned long expires)
{
	__s64 left = (__s64)(expires - bpf_jiffies64());

	return left > 0 ? jiffies_to_ns(left) : 0;
}

/*
 * A socket's tuple into any record with family, lport, rport, laddr and
 * raddr fields (pl_event, pl_sock_rec). skc is the socket's
 * struct sock_common: a full socket, a timewait socket and a request socket
 * all start with one.
 *
 * READ_TUPLE_CORE: CO-RE probe reads, for any pointer (kprobe arguments,
 * map values).
 */
#define READ_TUPLE_CORE(rec, skc)							\
	({										\
		(rec)->family = BPF_CORE_READ(skc, skc_family);			\
		(rec)->lport = BPF_CORE_READ(skc, skc_num);				\
		(rec)->rport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));		\
		if ((rec)->family == AF_INET6) {					\
			BPF_CORE_READ_INTO(&(rec)->laddr, skc,				\
					   skc_v6_rcv_saddr.in6_u.u6_addr8);		\
			BPF_CORE_READ_INTO(&(rec)->raddr, skc,				\
					   skc_v6_daddr.in6_u.u6_addr8);		\
		} else {								\
			BPF_CORE_READ_INTO((__u32 *)(rec)->laddr, skc, skc_rcv_saddr);	\
			BPF_CORE_READ_INTO((__u32 *)(rec)->raddr, skc, skc_daddr);	\
		}									\
	})

/*
 * READ_TUPLE_BTF: plain loads through a typed (BTF) pointer, as tp_btf and
 * iterator programs get one: the verifier checks them, and they cost nothing
 * like a bpf_probe_read_kernel() call per field. inet_sock_set_state runs ten
 * times a connection; this is most of what it costs.
 */
#define READ_TUPLE_BTF(rec, skc)							\
	({										\
		(rec)->family = (skc)->skc_family;					\
		(rec)->lport = (skc)->skc_num;						\
		(rec)->rport = bpf_ntohs((skc)->skc_dport);				\
		if ((rec)->family == AF_INET6) {					\
			__builtin_memcpy((rec)->laddr,					\
					 (skc)->skc_v6_rcv_saddr.in6_u.u6_addr8, 16);	\
			__builtin_memcpy((rec)->raddr,					\
					 (skc)->skc_v6_daddr.in6_u.u6_addr8, 16);	\
		} else {								\
			__u32 __la = (skc)->skc_rcv_saddr, __ra = (skc)->skc_daddr;	\
											\
			__builtin_memcpy((rec)->laddr, &__la, 4);			\
			__builtin_memcpy((rec)->raddr, &__ra, 4);			\
		}									\
	})

/* The network namespace of a socket, by its inode number. */
static __always_inline __u32 skc_netns(const struct sock_common *skc)
{
	return BPF_CORE_READ(skc, skc_net.net, ns.inum);
}

#endif /* PORTLIFE_COMMON_BPF_H */
