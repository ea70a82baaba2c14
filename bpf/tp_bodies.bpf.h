/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hook bodies of the tracepoint mode, for kernels where neither fentry nor
 * kprobes work, and the state tracepoint body every mode shares:
 *   - sock:inet_sock_set_state   TCP state changes (all modes); in tracepoint
 *                                mode also connect() start, a failed search
 *                                and the release at CLOSE
 *   - sock_ops TCP_CONNECT_CB    the moment connect() got its port
 *   - syscalls bind enter/exit   bind() allocations and EADDRINUSE
 *   - syscalls connect/send*     UDP autobind
 *   - tcp:tcp_destroy_sock       release of explicitly bound ports
 * TIME_WAIT and UDP releases come from iterator snapshots (portlife.bpf.c).
 */
#ifndef PORTLIFE_TP_BODIES_BPF_H
#define PORTLIFE_TP_BODIES_BPF_H

#include "events.bpf.h"

/* Connecting sockets by cookie, for the sock_ops program. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} connecting SEC(".maps");

struct bind_arg {
	__u64 ts;
	__s32 fd;
	__u16 port;
	__u16 family;
	__u8 addr[16];
};

/* bind() arguments between syscall entry and exit, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct bind_arg);
} bind_args SEC(".maps");

static __always_inline int handle_set_state(const struct sock *sk, int oldstate, int newstate)
{
	struct lease_val *l, nl = {};
	struct pl_event *e;
	__u64 key = (__u64)sk, cookie, now;
	__u16 family, lport;
	bool release = false;
	__u8 kind = 0;

	/* tp_btf: sk is a typed pointer, read directly (see READ_TUPLE_BTF) */
	if (BPF_CORE_READ_BITFIELD(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = sk->__sk_common.skc_family;
	if (targ_family && family != targ_family)
		return 0;

	l = bpf_map_lookup_elem(&leases, &key);
	if (l && l->proto != IPPROTO_TCP) {
		/* A UDP lease whose release tracepoint mode missed: the address is reused. */
		bpf_map_delete_elem(&leases, &key);
		l = NULL;
	}
	if (!l) {
		__u64 id = bpf_get_current_pid_tgid();

		/* Exact modes create leases in the allocation hooks. */
		if (exact_hooks)
			return 0;
		/*
		 * tcp_v4_connect()/tcp_v6_connect() enter SYN_SENT before
		 * inet_hash_connect() picks the port, in the connecting task.
		 */
		if (oldstate != TCP_CLOSE || newstate != TCP_SYN_SENT)
			return 0;
		if (task_filtered(id >> 32))
			return 0;
		lease_init(&nl, sk, id);
		nl.cookie = bpf_get_socket_cookie((void *)sk);
		nl.flags = LF_CONNECTING;
		nl.start_ns = bpf_ktime_get_ns();
		bpf_map_update_elem(&leases, &key, &nl, BPF_ANY);
		bpf_map_update_elem(&connecting, &nl.cookie, &key, BPF_ANY);
		return 0;
	}
	/* Tracepoint mode matches TIME_WAIT snapshots by cookie: make sure there is one. */
	if (!l->cookie)
		l->cookie = bpf_get_socket_cookie((void *)sk);
	cookie = l->cookie;

	lport = sk->__sk_common.skc_num;
	if (!exact_hooks && (l->flags & LF_CONNECTING)) {
		now = bpf_ktime_get_ns();
		if (newstate == TCP_CLOSE && lport == 0) {
			/*
			 * inet_hash_connect() found no port: connect() returns
			 * EADDRNOTAVAIL. SYN_SENT -> CLOSE spans the search.
			 */
			emit_alloc(sk, l, PL_ALLOC_CONNECT, EADDRNOTAVAIL, now - l->start_ns);
			bpf_map_delete_elem(&leases, &key);
			bpf_map_delete_elem(&connecting, &cookie);
			return 0;
		}
		if (lport) {
			/* No sockops program saw the port assigned: bound by this state. */
			emit_alloc(sk, l, PL_ALLOC_CONNECT, 0, now - l->start_ns);
			l->flags &= ~LF_CONNECTING;
			bpf_map_delete_elem(&connecting, &cookie);
		}
	}

	if (newstate != TCP_CLOSE || exact_hooks) {
		/* Exact modes learn about releases from inet_put_port(). */
		l->flags &= ~LF_CLOSED;
	} else if (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_CLOSING) {
		/*
		 * Only tcp_time_wait() closes from these states (or an RST,
		 * which user space tells apart by the TIME_WAIT snapshot). The
		 * port now belongs to the timewait socket, if one was made.
		 */
		l->flags |= LF_CLOSED_TW;
		kind = PL_STATE_TW_EXPECTED;
	} else if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks) & SOCK_BINDPORT_LOCK) {
		/* tcp_set_state(CLOSE) keeps an explicitly bound port until destroy. */
		l->flags |= LF_CLOSED;
		kind = PL_STATE_BINDLOCK;
	} else {
		/* tcp_set_state(CLOSE) -> inet_put_port(): the port is free now. */
		release = true;
	}

	/*
	 * One reserve, one submit, no second look at e: the 6.1 verifier does
	 * not carry a ring buffer record's non-NULL state across branches.
	 */
	e = ev_reserve(PL_EV_STATE);
	if (e) {
		ev_owner(e, l);
		READ_TUPLE_BTF(e, &sk->__sk_common);
		e->old_state = oldstate;
		e->new_state = newstate;
		e->kind = kind;
		ev_submit(e);
	}
	if (release) {
		emit_release(sk, l, PL_END_CLOSE);
		bpf_map_delete_elem(&leases, &key);
	}
	return 0;
}

/* tcp_v4_destroy_sock() -> inet_put_port() for bound ports. */
static __always_inline int handle_destroy(const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct lease_val *l;

	l = bpf_map_lookup_elem(&leases, &key);
	if (!l)
		return 0;
	/* A timewait socket may still hold the port: the snapshot follows it. */
	if (!(l->flags & (LF_CLOSED_TW | LF_CONNECTING)))
		emit_release(sk, l, PL_END_CLOSE);
	bpf_map_delete_elem(&leases, &key);
	return 0;
}

/* connect(): the port was just assigned; tcp_connect() is about to send the SYN. */
static __always_inline int handle_connect_cb(struct bpf_sock_ops *skops)
{
	struct lease_val *l;
	struct pl_event *e;
	__u64 cookie, *key;

	cookie = bpf_get_socket_cookie(skops);
	key = bpf_map_lookup_elem(&connecting, &cookie);
	if (!key)
		return 0;
	l = bpf_map_lookup_elem(&leases, key);
	bpf_map_delete_elem(&connecting, &cookie);
	if (!l || !(l->flags & LF_CONNECTING))
		return 0;
	l->flags &= ~LF_CONNECTING;
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return 0;
	ev_owner(e, l);
	e->kind = PL_ALLOC_CONNECT;
	e->dur_ns = e->ts_ns - l->start_ns;
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

static __always_inline void handle_bind_enter(int fd, const void *uaddr)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct bind_arg a = {};

	if (task_filtered(id >> 32))
		return;
	if (bpf_probe_read_user(&a.family, sizeof(a.family), uaddr))
		return;
	if (a.family == AF_INET) {
		struct sockaddr_in sin;

		if (bpf_probe_read_user(&sin, sizeof(sin), uaddr))
			return;
		a.port = bpf_ntohs(sin.sin_port);
		__builtin_memcpy(a.addr, &sin.sin_addr, 4);
	} else if (a.family == AF_INET6) {
		struct sockaddr_in6 sin6;

		if (bpf_probe_read_user(&sin6, sizeof(sin6), uaddr))
			return;
		a.port = bpf_ntohs(sin6.sin6_port);
		__builtin_memcpy(a.addr, &sin6.sin6_addr, 16);
	} else {
		return;
	}
	if (targ_family && a.family != targ_family)
		return;
	a.fd = fd;
	a.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&bind_args, &tid, &a, BPF_ANY);
}

/* The socket behind fd in the current task, or NULL. */
static __always_inline struct sock *sock_from_fd(int fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file **fds, *f = NULL;
	struct socket *sock;
	unsigned int max;

	fds = BPF_CORE_READ(task, files, fdt, fd);
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if (fd < 0 || (unsigned int)fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	/* Only a socket's private_data points back at its file. */
	if (!sock || BPF_CORE_READ(sock, file) != f)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline void handle_bind_exit(long ret)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id;
	struct bind_arg *ap, a;
	struct lease_val nl = {};
	struct pl_event *e;
	struct sock *sk;
	__u64 key;

	ap = bpf_map_lookup_elem(&bind_args, &tid);
	if (!ap)
		return;
	a = *ap;
	bpf_map_delete_elem(&bind_args, &tid);

	sk = sock_from_fd(a.fd);
	if (!sk)
		return;
	nl.proto = BPF_CORE_READ(sk, sk_protocol);
	if (nl.proto != IPPROTO_TCP && nl.proto != IPPROTO_UDP)
		return;
	lease_init(&nl, sk, id);

	if (ret) {
		/* EADDRINUSE: held by someone else, or no free port for bind(0). */
		e = ev_reserve(PL_EV_ALLOC);
		if (!e)
			return;
		ev_owner(e, &nl);
		e->kind = a.port ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL;
		e->err = -ret;
		e->dur_ns = now - a.ts;
		e->family = a.family;
		e->lport = a.port;
		__builtin_memcpy(e->laddr, a.addr, sizeof(e->laddr));
		ev_submit(e);
		return;
	}

	/* A cookie exists only if somebody asked for it; the first state change will. */
	nl.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	nl.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	key = (__u64)sk;
	bpf_map_update_elem(&leases, &key, &nl, BPF_ANY);
	emit_alloc(sk, &nl, a.port ? PL_ALLOC_BIND_EXPLICIT : PL_ALLOC_BIND_EPHEMERAL, 0,
		   now - a.ts);
}

/*
 * UDP autobind: connect()/sendto()/sendmsg() on an unbound UDP socket binds
 * it (inet_autobind). Seen as the port appearing across the syscall; the
 * latency is the syscall's.
 */
static __always_inline void handle_send_enter(int fd)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sock *sk;

	if (task_filtered(id >> 32))
		return;
	sk = sock_from_fd(fd);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP ||
	    BPF_CORE_READ(sk, __sk_common.skc_num))
		return;
	call_enter(FN_SEND, sk, 0);
}

static __always_inline void handle_send_exit(long ret)
{
	const struct sock *sk;
	struct call_val c;

	if (!call_exit(FN_SEND, &c))
		return;
	sk = (const struct sock *)c.sk;
	if (BPF_CORE_READ(sk, __sk_common.skc_num))
		handle_alloc_exit(sk, 0, 0, c.ts, PL_ALLOC_AUTOBIND, 0);
	else if (ret == -EAGAIN)
		handle_alloc_exit(sk, 0, 1, c.ts, PL_ALLOC_AUTOBIND, EAGAIN);
}

#endif /* PORTLIFE_TP_BODIES_BPF_H */
