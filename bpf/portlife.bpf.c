// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * portlife: the life of every local port. The SEC() wrappers of the tracer,
 * grouped per kernel function, each fentry/fexit next to its kprobe twin.
 * They only adapt the attach flavour's arguments to the shared bodies in
 * tp_bodies.bpf.h and exact_bodies.bpf.h. User space picks which programs
 * load from its program table (user/loader.c), by mode and by what the
 * running kernel's BTF has, never by the kernel version.
 */
#include "tp_bodies.bpf.h"
#include "exact_bodies.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- sock:inet_sock_set_state: every mode, a body each -------------------- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pl_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return handle_set_state_exact(sk, oldstate, newstate);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pl_set_state_tp, const struct sock *sk, const int oldstate, const int newstate)
{
	return handle_set_state_tp(sk, oldstate, newstate);
}

/* ---- tracepoint mode ------------------------------------------------------ */

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(pl_destroy, struct sock *sk)
{
	return handle_destroy(sk);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(pl_rst_in, struct sock *sk)
{
	handle_reset_tp(sk);
	return 0;
}

/* one of its own, not pl_tp_rst: that one loads only for the security rules, from 6.10 */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(pl_rst_out, const struct sock *sk)
{
	handle_reset_tp(sk);
	return 0;
}

/* the syscall exits on: a SYN sent again before connect() told its port */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(pl_syn_retrans, const struct sock *sk)
{
	handle_syn_retrans(sk);
	return 0;
}

/* --no-syscall-hooks only: connect()'s and listen()'s ports (the exits tell them otherwise) */
SEC("sockops")
int pl_connect_cb(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		handle_connect_cb(skops);
	else if (skops->op == BPF_SOCK_OPS_TCP_LISTEN_CB)
		handle_listen_cb(skops);
	/* sock_ops: 1 means "allowed"; reply stays 0 so TCP keeps its defaults. */
	return 1;
}

/* The cgroup programs only watch: each returns 1, "allowed". */

SEC("cgroup/bind4")
int pl_bind4(struct bpf_sock_addr *ctx)
{
	handle_bind_pre(ctx, false);
	return 1;
}

SEC("cgroup/bind6")
int pl_bind6(struct bpf_sock_addr *ctx)
{
	handle_bind_pre(ctx, true);
	return 1;
}

SEC("cgroup/post_bind4")
int pl_post_bind4(struct bpf_sock *ctx)
{
	handle_post_bind(ctx);
	return 1;
}

SEC("cgroup/post_bind6")
int pl_post_bind6(struct bpf_sock *ctx)
{
	handle_post_bind(ctx);
	return 1;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int pl_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_bind_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int pl_listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_listen_exit(ctx->ret);
	return 0;
}

SEC("cgroup/connect4")
int pl_connect4(struct bpf_sock_addr *ctx)
{
	handle_connect_pre(ctx, false);
	return 1;
}

SEC("cgroup/connect6")
int pl_connect6(struct bpf_sock_addr *ctx)
{
	handle_connect_pre(ctx, true);
	return 1;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int pl_connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_connect_exit(ctx->ret);
	return 0;
}

SEC("cgroup/sendmsg4")
int pl_sendmsg4(struct bpf_sock_addr *ctx)
{
	handle_sendmsg(ctx);
	return 1;
}

SEC("cgroup/sendmsg6")
int pl_sendmsg6(struct bpf_sock_addr *ctx)
{
	handle_sendmsg(ctx);
	return 1;
}

SEC("cgroup/sock_create")
int pl_sock_create(struct bpf_sock *ctx)
{
	handle_sock_create(ctx);
	return 1;
}

SEC("cgroup/sock_release")
int pl_sock_release(struct bpf_sock *ctx)
{
	handle_sock_release(ctx);
	return 1;
}

/*
 * Probes of closed ports (signals.bpf.h). tcp:tcp_send_reset is called for
 * a segment without a socket (a closed port) from 6.10, the release that
 * also gave it its reason argument, which is how the loader tells; before,
 * tcp_v4_send_reset() called it only with a full socket. icmp:icmp_send
 * (IPv4 only) loads where this kernel's BTF has it.
 */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(pl_tp_rst, const struct sock *sk, const struct sk_buff *skb)
{
	handle_send_reset(sk, skb);
	return 0;
}

SEC("tp_btf/icmp_send")
int BPF_PROG(pl_tp_icmp, const struct sk_buff *skb, int type, int code)
{
	handle_icmp_send(skb, type, code, false);
	return 0;
}

/*
 * TIME_WAIT snapshot of the iterating task's network namespace: one record
 * per timewait socket, with the time left on its timer (the state
 * tracepoint never shows TIME_WAIT). Only what user space judges by: the
 * lease knows its tuple and namespace already, and a round visits every
 * timewait socket (perf, 50k of them: the namespace's two probe reads alone
 * were 5% of the tracer; the record was 64 bytes, now 16).
 *
 * iter_full (set by user space around one listing): full sockets too, their
 * time left PL_TW_ALIVE. A round asks for them only to settle whether a
 * lease whose close the kernel never showed still has its socket, when a
 * lookup could not say (a socket bound to a device): rare, so an ordinary
 * round lists only what it always did.
 */
__u32 iter_full = 0;

SEC("iter/tcp")
int pl_iter_tw(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_timewait_sock *ttw;
	struct tcp_sock *tp;
	struct pl_tw_rec r;

	if (!skc)
		return 0;
	if (skc->skc_state != TCP_TIME_WAIT) {
		if (!iter_full)
			return 0;
		/* a request socket is no lease's socket: not a full socket, NULL */
		tp = bpf_skc_to_tcp_sock(skc);
		if (!tp)
			return 0;
		r.cookie = tp->inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter;
		r.expires_ns = PL_TW_ALIVE;
		if (r.cookie)
			bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
		return 0;
	}
	ttw = bpf_skc_to_tcp_timewait_sock(skc);
	if (!ttw)
		return 0;
	r.cookie = ttw->tw_sk.__tw_common.skc_cookie.counter;
	/*
	 * No cookie: no one ever asked for it, so no lease of ours is this
	 * socket. Sent anyway, tens of thousands of untraced timewait sockets
	 * all keyed 0 piled into one cluster of the cookie index, and a round
	 * took half a second (40k of them beside 1k traced ones).
	 */
	if (!r.cookie)
		return 0;
	r.expires_ns = jiffies_left_ns(ttw->tw_sk.tw_timer.expires);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/*
 * Tracepoint mode, once at the start, in each network namespace: every UDP
 * socket holding a port then gets storage marked LF_PRE with its port
 * (unless a hook, attached before, made some already). User space then
 * adds the namespace to udp_walked, where a UDP socket without storage
 * that has a port took it while tracing (udp_unmarked()). A socket left
 * unmarked (no memory) is counted, and its namespace left out.
 */
__u64 udp_mark_failed = 0;

SEC("iter/udp")
int pl_iter_udp_mark(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct lease_val *l;

	if (!udp)
		return 0;
	l = bpf_sk_storage_get(&sk_leases, udp, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!l) {
		__sync_fetch_and_add(&udp_mark_failed, 1);
		return 0;
	}
	/* new storage is zeroed; a hook's has its socket's address */
	if (l->flags || l->skaddr)
		return 0;
	l->flags = LF_PRE;
	l->lport = udp->inet.sk.__sk_common.skc_num;
	return 0;
}

/* ---- exact modes: per kernel function, fentry/fexit then kprobe twins --- */

/* inet_hash_connect(): connect() over IPv4 picks its port */
SEC("fentry/inet_hash_connect")
int BPF_PROG(pl_fe_connect, void *dr, struct sock *sk)
{
	connect_enter(sk);
	return 0;
}

SEC("fexit/inet_hash_connect")
int BPF_PROG(pl_fx_connect, void *dr, struct sock *sk, int ret)
{
	handle_hash_connect_exit(ret);
	return 0;
}

SEC("kprobe/inet_hash_connect")
int BPF_KPROBE(pl_kp_connect, void *dr, struct sock *sk)
{
	connect_enter(sk);
	return 0;
}

SEC("kretprobe/inet_hash_connect")
int BPF_KRETPROBE(pl_kr_connect, int ret)
{
	handle_hash_connect_exit(ret);
	return 0;
}

/* inet6_hash_connect(): the same for IPv6 */
SEC("fentry/inet6_hash_connect")
int BPF_PROG(pl_fe_connect6, void *dr, struct sock *sk)
{
	connect_enter(sk);
	return 0;
}

SEC("fexit/inet6_hash_connect")
int BPF_PROG(pl_fx_connect6, void *dr, struct sock *sk, int ret)
{
	handle_hash_connect_exit(ret);
	return 0;
}

SEC("kprobe/inet6_hash_connect")
int BPF_KPROBE(pl_kp_connect6, void *dr, struct sock *sk)
{
	connect_enter(sk);
	return 0;
}

SEC("kretprobe/inet6_hash_connect")
int BPF_KRETPROBE(pl_kr_connect6, int ret)
{
	handle_hash_connect_exit(ret);
	return 0;
}

/* inet_bind(), inet6_bind(): bind() errors before any port search */
SEC("fentry/inet_bind")
int BPF_PROG(pl_fe_bind, struct socket *sock, struct sockaddr *uaddr)
{
	handle_inet_bind_enter(sock, uaddr);
	return 0;
}

SEC("fexit/inet_bind")
int BPF_PROG(pl_fx_bind, struct socket *sock, struct sockaddr *uaddr, int addr_len, int ret)
{
	handle_inet_bind_exit(ret);
	return 0;
}

SEC("kprobe/inet_bind")
int BPF_KPROBE(pl_kp_bind, struct socket *sock, struct sockaddr *uaddr)
{
	handle_inet_bind_enter(sock, uaddr);
	return 0;
}

SEC("kretprobe/inet_bind")
int BPF_KRETPROBE(pl_kr_bind, int ret)
{
	handle_inet_bind_exit(ret);
	return 0;
}

SEC("fentry/inet6_bind")
int BPF_PROG(pl_fe_bind6, struct socket *sock, struct sockaddr *uaddr)
{
	handle_inet_bind_enter(sock, uaddr);
	return 0;
}

SEC("fexit/inet6_bind")
int BPF_PROG(pl_fx_bind6, struct socket *sock, struct sockaddr *uaddr, int addr_len, int ret)
{
	handle_inet_bind_exit(ret);
	return 0;
}

SEC("kprobe/inet6_bind")
int BPF_KPROBE(pl_kp_bind6, struct socket *sock, struct sockaddr *uaddr)
{
	handle_inet_bind_enter(sock, uaddr);
	return 0;
}

SEC("kretprobe/inet6_bind")
int BPF_KRETPROBE(pl_kr_bind6, int ret)
{
	handle_inet_bind_exit(ret);
	return 0;
}

/* inet_csk_get_port(): TCP bind() and listen() autobind */
SEC("fentry/inet_csk_get_port")
int BPF_PROG(pl_fe_getport, struct sock *sk, unsigned short snum)
{
	get_port_enter(sk, snum);
	return 0;
}

SEC("fexit/inet_csk_get_port")
int BPF_PROG(pl_fx_getport, struct sock *sk, unsigned short snum, int ret)
{
	handle_get_port_exit(ret);
	return 0;
}

SEC("kprobe/inet_csk_get_port")
int BPF_KPROBE(pl_kp_getport, struct sock *sk, unsigned short snum)
{
	get_port_enter(sk, snum);
	return 0;
}

SEC("kretprobe/inet_csk_get_port")
int BPF_KRETPROBE(pl_kr_getport, int ret)
{
	handle_get_port_exit(ret);
	return 0;
}

/* udp_lib_get_port(): UDP bind() and autobind */
SEC("fentry/udp_lib_get_port")
int BPF_PROG(pl_fe_udpport, struct sock *sk, unsigned short snum)
{
	if (traced_proto(sk))
		call_enter(FN_UDP_GET_PORT, sk, snum);
	return 0;
}

SEC("fexit/udp_lib_get_port")
int BPF_PROG(pl_fx_udpport, struct sock *sk, unsigned short snum, unsigned int hash2, int ret)
{
	handle_udp_get_port_exit(ret);
	return 0;
}

SEC("kprobe/udp_lib_get_port")
int BPF_KPROBE(pl_kp_udpport, struct sock *sk, unsigned short snum)
{
	if (traced_proto(sk))
		call_enter(FN_UDP_GET_PORT, sk, snum);
	return 0;
}

SEC("kretprobe/udp_lib_get_port")
int BPF_KRETPROBE(pl_kr_udpport, int ret)
{
	handle_udp_get_port_exit(ret);
	return 0;
}

/* inet_dgram_connect(): a UDP connect()'s destination, for its autobind's failure */
SEC("fentry/inet_dgram_connect")
int BPF_PROG(pl_fe_dgconn, struct socket *sock, struct sockaddr *uaddr)
{
	handle_dgram_connect_enter(sock, uaddr);
	return 0;
}

SEC("fexit/inet_dgram_connect")
int BPF_PROG(pl_fx_dgconn, struct socket *sock, struct sockaddr *uaddr, int addr_len, int flags,
	     int ret)
{
	handle_dgram_connect_exit();
	return 0;
}

SEC("kprobe/inet_dgram_connect")
int BPF_KPROBE(pl_kp_dgconn, struct socket *sock, struct sockaddr *uaddr)
{
	handle_dgram_connect_enter(sock, uaddr);
	return 0;
}

SEC("kretprobe/inet_dgram_connect")
int BPF_KRETPROBE(pl_kr_dgconn, int ret)
{
	handle_dgram_connect_exit();
	return 0;
}

/* inet_autobind(): marks a udp_lib_get_port() call as an autobind */
SEC("fentry/inet_autobind")
int BPF_PROG(pl_fe_autobind, struct sock *sk)
{
	call_enter(FN_AUTOBIND, sk, 0);
	return 0;
}

SEC("fexit/inet_autobind")
int BPF_PROG(pl_fx_autobind, struct sock *sk, int ret)
{
	struct call_val c;

	call_exit(FN_AUTOBIND, &c);
	return 0;
}

SEC("kprobe/inet_autobind")
int BPF_KPROBE(pl_kp_autobind, struct sock *sk)
{
	call_enter(FN_AUTOBIND, sk, 0);
	return 0;
}

SEC("kretprobe/inet_autobind")
int BPF_KRETPROBE(pl_kr_autobind, int ret)
{
	struct call_val c;

	call_exit(FN_AUTOBIND, &c);
	return 0;
}

/* tcp_time_wait(): the close that may make a timewait socket */
SEC("fentry/tcp_time_wait")
int BPF_PROG(pl_fe_timewait, struct sock *sk)
{
	handle_time_wait(sk);
	return 0;
}

SEC("kprobe/tcp_time_wait")
int BPF_KPROBE(pl_kp_timewait, struct sock *sk)
{
	handle_time_wait(sk);
	return 0;
}

/*
 * inet_twsk_hashdance_schedule() (6.11+, commit "tcp: Use
 * refcount_inc_not_zero in inet_twsk_hashdance_schedule") and
 * inet_twsk_hashdance() (up to 6.10): the timewait socket takes the port.
 * The loader keeps whichever the kernel's BTF has.
 */
SEC("fentry/inet_twsk_hashdance_schedule")
int BPF_PROG(pl_fe_hdsched, void *tw, struct sock *sk)
{
	handle_hashdance(tw, sk);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance_schedule")
int BPF_KPROBE(pl_kp_hdsched, void *tw, struct sock *sk)
{
	handle_hashdance(tw, sk);
	return 0;
}

SEC("fentry/inet_twsk_hashdance")
int BPF_PROG(pl_fe_hashdance, void *tw, struct sock *sk)
{
	handle_hashdance(tw, sk);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance")
int BPF_KPROBE(pl_kp_hashdance, void *tw, struct sock *sk)
{
	handle_hashdance(tw, sk);
	return 0;
}

/*
 * __inet_twsk_schedule(): the TIME_WAIT timer is armed.
 * BPF_PROG2, not BPF_PROG: rearm is a bool, and the x86 trampoline saves an
 * argument with its own size (save_regs(): a 1-byte store into an 8-byte
 * slot). BPF_PROG's (bool)ctx[2] tests all eight bytes, seven of them stale
 * stack: on 5.10 they were never zero, every schedule looked like a rearm,
 * and fentry mode saw no TIME_WAIT at all. On 6.1 and 6.12 they happened to
 * be zero. BPF_PROG2 reads the one byte.
 */
SEC("fentry/__inet_twsk_schedule")
int BPF_PROG2(pl_fe_twsched, void *, tw, int, timeo, bool, rearm)
{
	handle_tw_schedule(tw, timeo, rearm);
	return 0;
}

/* A bool is the low byte of its register (x86-64 ABI): the rest is not ours. */
SEC("kprobe/__inet_twsk_schedule")
int BPF_KPROBE(pl_kp_twsched, void *tw, int timeo, unsigned long rearm)
{
	handle_tw_schedule(tw, timeo, (__u8)rearm);
	return 0;
}

/* inet_put_port(): a TCP socket gives its port back */
SEC("fentry/inet_put_port")
int BPF_PROG(pl_fe_putport, struct sock *sk)
{
	handle_put_port(sk);
	return 0;
}

SEC("kprobe/inet_put_port")
int BPF_KPROBE(pl_kp_putport, struct sock *sk)
{
	handle_put_port(sk);
	return 0;
}

/* udp_lib_unhash(): a UDP socket gives its port back */
SEC("fentry/udp_lib_unhash")
int BPF_PROG(pl_fe_udpunhash, struct sock *sk)
{
	handle_put_port(sk);
	return 0;
}

SEC("kprobe/udp_lib_unhash")
int BPF_KPROBE(pl_kp_udpunhash, struct sock *sk)
{
	handle_put_port(sk);
	return 0;
}

/* tcp_twsk_unique(): connect() takes a TIME_WAIT 4-tuple over (tcp_tw_reuse) */
SEC("fexit/tcp_twsk_unique")
int BPF_PROG(pl_fx_twunique, struct sock *sk, struct sock *sktw, void *twp, int ret)
{
	if (ret)
		handle_tw_flag(sktw, LF_TW_REUSED);
	return 0;
}

/* kretprobe has no arguments: tcp_twsk_unique's sktw comes from its entry. */
SEC("kprobe/tcp_twsk_unique")
int BPF_KPROBE(pl_kp_twunique, struct sock *sk, struct sock *sktw)
{
	call_enter(FN_TW_UNIQUE, sktw, 0);
	return 0;
}

SEC("kretprobe/tcp_twsk_unique")
int BPF_KRETPROBE(pl_kr_twunique, int ret)
{
	struct call_val c;

	if (call_exit(FN_TW_UNIQUE, &c) && ret)
		handle_tw_flag((const void *)c.sk, LF_TW_REUSED);
	return 0;
}

/* inet_twsk_deschedule_put(): TIME_WAIT ended early (RST, abort, reuse) */
SEC("fentry/inet_twsk_deschedule_put")
int BPF_PROG(pl_fe_desched, void *tw)
{
	handle_tw_flag(tw, LF_TW_KILLED);
	return 0;
}

SEC("kprobe/inet_twsk_deschedule_put")
int BPF_KPROBE(pl_kp_desched, void *tw)
{
	handle_tw_flag(tw, LF_TW_KILLED);
	return 0;
}

/* inet_twsk_kill(): the timewait socket unhashes and frees the port */
SEC("fentry/inet_twsk_kill")
int BPF_PROG(pl_fe_twkill, void *tw)
{
	handle_tw_kill(tw);
	return 0;
}

SEC("kprobe/inet_twsk_kill")
int BPF_KPROBE(pl_kp_twkill, void *tw)
{
	handle_tw_kill(tw);
	return 0;
}

/* ---- probes of closed ports, exact modes: every kernel has these -------- */

/* tcp_v4_send_reset(), tcp_v6_send_reset(): sk NULL is a segment for no socket */
SEC("fentry/tcp_v4_send_reset")
int BPF_PROG(pl_fe_rst4, const struct sock *sk, const struct sk_buff *skb)
{
	handle_send_reset(sk, skb);
	return 0;
}

SEC("kprobe/tcp_v4_send_reset")
int BPF_KPROBE(pl_kp_rst4, const struct sock *sk, const struct sk_buff *skb)
{
	handle_send_reset(sk, skb);
	return 0;
}

SEC("fentry/tcp_v6_send_reset")
int BPF_PROG(pl_fe_rst6, const struct sock *sk, const struct sk_buff *skb)
{
	handle_send_reset(sk, skb);
	return 0;
}

SEC("kprobe/tcp_v6_send_reset")
int BPF_KPROBE(pl_kp_rst6, const struct sock *sk, const struct sk_buff *skb)
{
	handle_send_reset(sk, skb);
	return 0;
}

/* __icmp_send(), icmp6_send(): every ICMP error, before the ICMP rate limits */
SEC("fentry/__icmp_send")
int BPF_PROG(pl_fe_icmp, const struct sk_buff *skb, int type, int code)
{
	handle_icmp_send(skb, type, code, false);
	return 0;
}

SEC("kprobe/__icmp_send")
int BPF_KPROBE(pl_kp_icmp, const struct sk_buff *skb, int type, int code)
{
	handle_icmp_send(skb, type, code, false);
	return 0;
}

SEC("fentry/icmp6_send")
int BPF_PROG(pl_fe_icmp6, const struct sk_buff *skb, __u8 type, __u8 code)
{
	handle_icmp_send(skb, type, code, true);
	return 0;
}

SEC("kprobe/icmp6_send")
int BPF_KPROBE(pl_kp_icmp6, const struct sk_buff *skb, __u8 type, __u8 code)
{
	handle_icmp_send(skb, type, code, true);
	return 0;
}
