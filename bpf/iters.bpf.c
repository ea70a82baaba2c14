// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The socket tables and their owners, for `portlife ports`, `who`, headroom
 * and the live diagnosis: bpf_iter programs that user space runs inside each
 * network namespace. An object of their own, so that a snapshot loads three
 * small programs and no ring buffer or lease map.
 */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The inode of the socket file: what /proc/PID/fd shows as socket:[N]. */
static __always_inline __u64 sock_inode(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

static __always_inline void rec_common(struct pl_sock_rec *r, const struct sock_common *skc,
				       __u32 uid)
{
	READ_TUPLE_BTF(r, skc);
	r->state = skc->skc_state;
	r->netns = skc_netns(skc);
	r->cookie = skc->skc_cookie.counter;
	r->uid = uid;
	if (skc->skc_bound_dev_if == 1)	/* LOOPBACK_IFINDEX */
		r->flags |= PL_SOCKF_LO_DEV;
}

/* The port's bind bucket is one connect() may not share (PL_SOCKF_BIND_BUCKET). */
static __always_inline bool bind_bucket(const struct inet_bind_bucket *tb)
{
	return tb && (BPF_CORE_READ(tb, fastreuse) >= 0 || BPF_CORE_READ(tb, fastreuseport) >= 0);
}

/* Every TCP socket holding a port in the iterating task's netns. */
SEC("iter/tcp")
int pl_ports_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct pl_sock_rec r = {};
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	/* a request socket: its listener holds the port */
	if (skc->skc_state == TCP_NEW_SYN_RECV)
		return 0;
	rec_common(&r, skc, ctx->uid);
	r.proto = IPPROTO_TCP;
	if (r.state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *ttw = bpf_skc_to_tcp_timewait_sock(skc);

		if (!ttw)
			return 0;
		r.expires_ns = jiffies_left_ns(ttw->tw_sk.tw_timer.expires);
		if (ttw->tw_ts_recent_stamp)
			r.flags |= PL_SOCKF_TW_TS;
		if (ttw->tw_sk.tw_substate == TCP_FIN_WAIT2)
			r.flags |= PL_SOCKF_TW_FW2;
		if (bind_bucket(BPF_CORE_READ(ttw, tw_sk.tw_tb)))
			r.flags |= PL_SOCKF_BIND_BUCKET;
	} else {
		tp = bpf_skc_to_tcp_sock(skc);
		if (tp) {
			r.inode = sock_inode((struct sock *)tp);
			if (bind_bucket(BPF_CORE_READ(tp, inet_conn.icsk_bind_hash)))
				r.flags |= PL_SOCKF_BIND_BUCKET;
		}
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/* Every UDP socket holding a port in the iterating task's netns. */
SEC("iter/udp")
int pl_ports_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct pl_sock_rec r = {};

	if (!udp)
		return 0;
	rec_common(&r, &udp->inet.sk.__sk_common, ctx->uid);
	r.proto = IPPROTO_UDP;
	r.inode = sock_inode((struct sock *)udp);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * Socket owners, seen from the kernel's side of every file table: unlike
 * /proc/PID/fd, this also sees processes whose fd links we may not read.
 */
SEC("iter/task_file")
int pl_ports_owner(struct bpf_iter__task_file *ctx)
{
	struct file *file = ctx->file;
	struct task_struct *task = ctx->task, *leader;
	struct pl_owner_rec r = {};
	struct socket *sock;

	if (!file || !task)
		return 0;
	/* Only a socket's private_data points back at its file. */
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return 0;
	/*
	 * One line per process, not per thread: threads share the table, and
	 * the iterator shows it once, at the leader. A leader that exited
	 * (pthread_exit() in main: a zombie, its files gone) shows nothing, and
	 * its threads the table: named by the process, as ps names it (user
	 * space counts the process once).
	 */
	leader = BPF_CORE_READ(task, group_leader);
	if (BPF_CORE_READ(task, tgid) != BPF_CORE_READ(task, pid) && BPF_CORE_READ(leader, files))
		return 0;
	r.inode = BPF_CORE_READ(file, f_inode, i_ino);
	r.tgid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_STR_INTO(&r.comm, leader, comm);
	r.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
