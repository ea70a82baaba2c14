/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A snapshot of every socket holding a local port, in every network
 * namespace, with its owner: the bpf_iter tcp/udp programs run inside each
 * namespace (setns), owners from a bpf_iter task_file walk (socket inodes), and each
 * namespace's ephemeral range and reserved ports from its own /proc/sys.
 */
#ifndef PORTLIFE_SNAPSHOT_H
#define PORTLIFE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include "portlife.h"

struct sock_ent {
	struct pl_sock_rec r;	/* first: iter_collect() fills it in place */
	__u32 pid;		/* owner, the lowest pid of those holding it; 0 when
				 * unknown (TIME_WAIT, or gone) */
	__u32 nholders;		/* processes holding the socket (fork, SCM_RIGHTS) */
	char comm[PL_COMM_LEN];
	__u64 cgroup_id;	/* the owner's cgroup v2 id; 0 when unknown */
};

struct ns_info {
	__u32 inum;
	__u16 lo, hi;		/* net.ipv4.ip_local_port_range */
	__u16 pick_hi;		/* the last port connect() and bind(0) ever pick: ns_pick_hi() */
	__u32 nreserved;	/* reserved ports in [lo, pick_hi] */
	__u8 reserved[65536 / 8];	/* net.ipv4.ip_local_reserved_ports, a bitmap */
	__u64 tw_overflow;	/* TcpExtTCPTimeWaitOverflow */
	__u8 tw_reuse;		/* net.ipv4.tcp_tw_reuse: 0, 1, or 2 (loopback only) */
	__u32 tw_reuse_delay_ms;	/* net.ipv4.tcp_tw_reuse_delay (6.13+; 1000 before) */
};

/*
 * The last port of [lo, hi] the kernel's searches can reach. connect()'s
 * (__inet_hash_connect) and bind(0)'s (inet_csk_find_open_port) walk an even
 * count of ports (remaining &= ~1U) from a start that changes from search to
 * search, and wrap: of an odd-sized range each search misses one port, yet
 * some start reaches the last one, except in a 3-port range, whose searches
 * all start low (measured on 6.18: 40000-40002 gives two ports; 40000-40004
 * four or five per destination, 40004 to 17 of 20 of them).
 */
static inline __u16 ns_pick_hi(__u16 lo, __u16 hi)
{
	return (unsigned int)hi - lo + 1 == 3 ? hi - 1 : hi;
}

struct snapshot {
	struct sock_ent *v;
	size_t n, cap;
	struct ns_info *ns;
	size_t nns;
	__u64 ts_ns;		/* CLOCK_MONOTONIC when taken */
	size_t ns_unreachable;	/* gone while we looked */
	size_t ns_denied;	/* not ours to enter: no CAP_SYS_ADMIN (said at start) */
	size_t bound_failed;	/* namespaces whose bound-only sockets sock_diag would not dump */
};

struct snapshot_links {
	struct bpf_link *tcp, *udp;	/* iter/tcp, iter/udp: pl_ports_tcp/udp */
	struct bpf_link *owner;		/* iter/task_file: pl_ports_owner */
	/*
	 * A socket several processes hold (fork, SCM_RIGHTS) is named by the
	 * lowest pid, or by this one when it is among them (ports -p PID: the
	 * child's socket it shares is its own too).
	 */
	__u32 owner_pid;
	/*
	 * Leave out the sockets only bound (sock_diag, 6.7+): the periodic
	 * views' snapshot (metrics, top). Listing them walks the whole bind
	 * hash in every namespace: 60% of a metrics tracer's CPU, and with 30
	 * network namespaces it used 14% of a CPU at rest.
	 */
	bool no_bound;
};

/*
 * Take a snapshot: only_netns 0 for all namespaces. Returns 0 or -errno;
 * s is then valid (empty on error) and must be freed.
 */
int snapshot__take(struct snapshot *s, const struct snapshot_links *links, __u32 only_netns);
void snapshot__free(struct snapshot *s);
const struct ns_info *snapshot__ns(const struct snapshot *s, __u32 inum);
bool ns_reserved(const struct ns_info *ns, __u16 port);
/*
 * Would a connect() to the same destination take this TIME_WAIT socket over
 * (tcp_twsk_unique())? With tcp_tw_reuse 1, or 2 on loopback (either
 * address, or bound to lo), a socket that saw timestamps, once it has
 * waited tcp_tw_reuse_delay: its port is free for that destination.
 */
bool ns_tw_reusable(const struct ns_info *ns, const struct pl_sock_rec *r);
/*
 * Does net.ipv4.tcp_tw_reuse cover r's tuple at all (1, or 2 and loopback),
 * whatever its TIME_WAIT's age: a remedy not to advise, it is in effect.
 */
bool ns_tw_reuse_covers(const struct ns_info *ns, const struct pl_sock_rec *r);

#endif
