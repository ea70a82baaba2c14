// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * portlife: the life of every local port.
 *
 * All modes: tp_btf sock:inet_sock_set_state for TCP state changes.
 *
 * Exact modes (fentry/fexit, or their kprobe/kretprobe twins; same bodies):
 *   inet_hash_connect, inet6_hash_connect  connect() port search, latency, errno
 *   inet_csk_get_port                      bind()/listen() autobind, EADDRINUSE
 *   udp_lib_get_port (+ inet_autobind)     UDP bind and autobind, failures
 *   tcp_time_wait, inet_twsk_hashdance[_schedule], __inet_twsk_schedule
 *                                          TIME_WAIT enter (or overflow)
 *   tcp_twsk_unique, inet_twsk_deschedule_put, inet_twsk_kill
 *                                          TIME_WAIT exit: reused, killed, expired
 *   inet_put_port, udp_lib_unhash          the port goes back to the pool
 *
 * Tracepoint mode (where neither fentry nor kprobes work):
 *   - inet_sock_set_state also: connect() start, failed search, release at CLOSE
 *   - sockops TCP_CONNECT_CB           the moment connect() got its port
 *   - syscalls bind enter/exit         bind() allocations and EADDRINUSE
 *   - tp_btf tcp:tcp_destroy_sock      release of explicitly bound ports
 *   - iter/tcp                         TIME_WAIT snapshots (the state
 *                                      tracepoint never shows TIME_WAIT)
 *
 * The hook bodies are the static handle_*() functions; the SEC() wrappers
 * only adapt the attach flavour's arguments. User space picks the flavour
 * with bpf_program__set_autoload().
 *
 * Leases are keyed by the address of their socket (or timewait socket) in
 * the leases map. That address never leaves the kernel: events carry a lease
 * counter and the socket cookie.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "portlife.h"

#define AF_INET		2
#define AF_INET6	10
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define EADDRINUSE	98
#define EAGAIN		11
#define SOCK_BINDPORT_LOCK 8	/* include/net/sock.h */
#define EADDRNOTAVAIL	99

/* lease_val.flags */
#define LF_CONNECTING	0x1	/* SYN_SENT seen, port not assigned yet */
#define LF_CLOSED	0x2	/* CLOSE seen, explicitly bound: port held until destroy */
#define LF_CLOSED_TW	0x4	/* CLOSE via tcp_time_wait(): a TIME_WAIT socket holds the port */
#define LF_IN_TIME_WAIT_CALL 0x8	/* exact modes: inside tcp_time_wait() */
#define LF_TW		0x10	/* exact modes: keyed by the timewait socket */
#define LF_TW_KILLED	0x20	/* inet_twsk_deschedule_put() */
#define LF_TW_REUSED	0x40	/* tcp_twsk_unique() took it over */

/* Knobs: rodata, set by the loader between open and load. */
const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;
const volatile bool filter_cgroup = false;
/* fentry/kprobe modes: allocation and release come from their own hooks. */
const volatile bool exact_hooks = false;
/* portlife itself: never traced, but its self-test calls are counted. */
const volatile __u32 self_tgid = 0;
/* Wake the reader only when this much is waiting; otherwise it polls on a timer. */
const volatile __u64 wakeup_bytes = 256 * 1024;

extern unsigned int CONFIG_HZ __kconfig __weak;

/* Lease ids: a counter, never a pointer. */
__u64 next_lease = 0;
/*
 * Hook entries seen from portlife's own self-test: an fentry program can
 * attach and still never run (ftrace locked down), so user space checks.
 */
__u64 calib_hits = 0;

struct lease_val {
	__u64 lease;
	__u64 cookie;
	__u64 start_ns;		/* SYN_SENT time while LF_CONNECTING */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 netns;
	__u16 flags;
	__u8 proto;
	__u8 pad;
	__u16 lport;		/* once allocated: lets iter/udp spot a reused address */
	__u16 pad2[3];
	char comm[PL_COMM_LEN];
};

struct bind_arg {
	__u64 ts;
	__s32 fd;
	__u16 port;
	__u16 family;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Failed bpf_ringbuf_reserve() calls, per event type. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PL_EV_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Tracked sockets by address. LRU: a missed release cannot leak an entry forever. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct lease_val);
} leases SEC(".maps");

/* Tracepoint mode: connecting sockets by cookie, for the sock_ops program. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} connecting SEC(".maps");

/* Exact modes: function entry state until its exit, by thread and function. */
enum { FN_CONNECT = 1, FN_GET_PORT, FN_UDP_GET_PORT, FN_AUTOBIND, FN_TW_UNIQUE, FN_SEND, FN_TW_SCHED };

struct call_key {
	__u32 tid;
	__u32 fn;
};

struct call_val {
	__u64 ts;
	__u64 sk;
	__u32 arg;
	__u16 snum;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct call_key);
	__type(value, struct call_val);
} calls SEC(".maps");

/* bind() arguments between syscall entry and exit, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct bind_arg);
} bind_args SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

static __always_inline bool task_filtered(__u32 tgid)
{
	if (tgid == self_tgid)
		return true;
	if (targ_tgid && tgid != targ_tgid)
		return true;
	if (filter_cgroup && !bpf_current_task_under_cgroup(&cgroup_map, 0))
		return true;
	return false;
}

static __always_inline struct pl_event *ev_reserve(__u8 type)
{
	struct pl_event *e;
	__u32 key = type;
	__u64 *cnt;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		cnt = bpf_map_lookup_elem(&drops, &key);
		if (cnt)
			*cnt += 1;
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->proto = IPPROTO_TCP;	/* ev_owner() sets the lease's own */
	e->ts_ns = bpf_ktime_get_ns();
	return e;
}

/*
 * A wakeup per event is what makes per-event tracers slow: wake the reader
 * only when the buffer fills up, and let it poll on a short timer otherwise.
 */
static __always_inline void ev_submit(struct pl_event *e)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(e, avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline void ev_owner(struct pl_event *e, const struct lease_val *l)
{
	e->lease = l->lease;
	e->cookie = l->cookie;
	e->pid = l->pid;
	e->tid = l->tid;
	e->netns = l->netns;
	e->cgroup_id = l->cgroup_id;
	e->proto = l->proto;
	__builtin_memcpy(e->comm, l->comm, sizeof(e->comm));
}

/* Works on a timewait socket too: both start with struct sock_common. */
static __always_inline void ev_tuple(struct pl_event *e, const struct sock *sk)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	}
}

/*
 * ev_tuple() for a typed (BTF) socket pointer, as tp_btf programs get: plain
 * loads the verifier checks, instead of a bpf_probe_read_kernel() call per
 * field. inet_sock_set_state runs ten times a connection; this is most of
 * what it costs.
 */
static __always_inline void ev_tuple_btf(struct pl_event *e, const struct sock *sk)
{
	e->family = sk->__sk_common.skc_family;
	e->lport = sk->__sk_common.skc_num;
	e->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (e->family == AF_INET6) {
		__builtin_memcpy(e->laddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(e->raddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	} else {
		__u32 la = sk->__sk_common.skc_rcv_saddr, ra = sk->__sk_common.skc_daddr;

		__builtin_memcpy(e->laddr, &la, 4);
		__builtin_memcpy(e->raddr, &ra, 4);
	}
}

static __always_inline void lease_init(struct lease_val *l, const struct sock *sk, __u64 tgid_pid)
{
	l->lease = __sync_fetch_and_add(&next_lease, 1) + 1;
	l->pid = tgid_pid >> 32;
	l->tid = (__u32)tgid_pid;
	l->cgroup_id = bpf_get_current_cgroup_id();
	l->proto = BPF_CORE_READ(sk, sk_protocol);
	l->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bpf_get_current_comm(l->comm, sizeof(l->comm));
}

static __always_inline void emit_alloc(const struct sock *sk, const struct lease_val *l,
				       __u8 kind, __s32 err, __u64 dur)
{
	struct pl_event *e = ev_reserve(PL_EV_ALLOC);

	if (!e)
		return;
	ev_owner(e, l);
	ev_tuple(e, sk);
	e->kind = kind;
	e->err = err;
	e->dur_ns = dur;
	ev_submit(e);
}

static __always_inline void emit_release(const struct sock *sk, const struct lease_val *l,
					 __u8 reason)
{
	struct pl_event *e = ev_reserve(PL_EV_RELEASE);

	if (!e)
		return;
	ev_owner(e, l);
	ev_tuple(e, sk);
	e->kind = reason;
	ev_submit(e);
}

static __always_inline int handle_set_state(const struct sock *sk, int oldstate, int newstate)
{
	struct lease_val *l, nl = {};
	struct pl_event *e;
	__u64 key = (__u64)sk, cookie, now;
	__u16 family, lport;
	bool release = false;
	__u8 kind = 0;

	/* tp_btf: sk is a typed pointer, read directly (see ev_tuple_btf) */
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
		ev_tuple_btf(e, sk);
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

/* Tracepoint mode: tcp_v4_destroy_sock() -> inet_put_port() for bound ports. */
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

/* ---- exact modes: function entry/exit pairs ------------------------- */

static __always_inline void call_enter(__u32 fn, const void *sk, __u16 snum)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = fn };
	struct call_val v = { .ts = bpf_ktime_get_ns(), .sk = (__u64)sk, .snum = snum };

	if ((id >> 32) == self_tgid) {
		__sync_fetch_and_add(&calib_hits, 1);
		return;
	}
	bpf_map_update_elem(&calls, &k, &v, BPF_ANY);
}

/* The entry state of fn in this thread (consumed), or false. */
static __always_inline bool call_exit(__u32 fn, struct call_val *out)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = fn };
	struct call_val *v = bpf_map_lookup_elem(&calls, &k);

	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&calls, &k);
	return true;
}

static __always_inline bool in_call(__u32 fn)
{
	struct call_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .fn = fn };

	return bpf_map_lookup_elem(&calls, &k) != NULL;
}

/*
 * A port search returned: ret 0 means sk has its port now. kind/err describe
 * this allocation path; a socket that already holds a lease (connect() after
 * bind(), listen() re-checking its bound port) is not a new allocation.
 */
static __always_inline void handle_alloc_exit(const struct sock *sk, __u16 snum, long ret,
					      __u64 start, __u8 kind, __s32 err)
{
	__u64 id = bpf_get_current_pid_tgid(), key = (__u64)sk, now = bpf_ktime_get_ns();
	struct lease_val nl = {};
	struct pl_event *e;

	if (task_filtered(id >> 32))
		return;
	if (targ_family && BPF_CORE_READ(sk, __sk_common.skc_family) != targ_family)
		return;
	if (!ret && bpf_map_lookup_elem(&leases, &key))
		return;
	lease_init(&nl, sk, id);
	nl.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	nl.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (ret) {
		e = ev_reserve(PL_EV_ALLOC);
		if (!e)
			return;
		ev_owner(e, &nl);
		ev_tuple(e, sk);
		if (snum)
			e->lport = snum;
		e->kind = kind;
		/* get_port returns 1, inet_hash_connect a -errno */
		e->err = ret < 0 ? -ret : err;
		e->dur_ns = now - start;
		ev_submit(e);
		return;
	}
	bpf_map_update_elem(&leases, &key, &nl, BPF_ANY);
	e = ev_reserve(PL_EV_ALLOC);
	if (!e)
		return;
	ev_owner(e, &nl);
	ev_tuple(e, sk);
	e->kind = kind;
	e->dur_ns = now - start;
	ev_submit(e);
}

/*
 * The exit bodies take the socket from the entry record, so fexit and
 * kretprobe (which has no arguments) share them with one map lookup.
 */
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

/*
 * Tracepoint mode, UDP autobind: connect()/sendto()/sendmsg() on an unbound
 * UDP socket binds it (inet_autobind). Seen as the port appearing across the
 * syscall; the latency is the syscall's.
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
	__u64 hz = CONFIG_HZ ? CONFIG_HZ : 250;
	struct pl_event *e;

	e = ev_reserve(PL_EV_TW_ENTER);
	if (!e)
		return;
	ev_owner(e, l);
	ev_tuple(e, tw);
	e->dur_ns = (__u64)timeo * (1000000000ULL / hz);
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

/* inet_put_port(): a full socket gives its port back. */
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
		ev_tuple(e, tw);
		e->kind = reason;
		ev_submit(e);
	}
	emit_release(tw, l, reason);
	bpf_map_delete_elem(&leases, &key);
}

/* ---- attach flavours -------------------------------------------------- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(pl_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return handle_set_state(sk, oldstate, newstate);
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(pl_destroy, struct sock *sk)
{
	return handle_destroy(sk);
}

SEC("sockops")
int pl_connect_cb(struct bpf_sock_ops *skops)
{
	if (skops->op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		handle_connect_cb(skops);
	/* sock_ops: 1 means "allowed"; reply stays 0 so TCP keeps its defaults. */
	return 1;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int pl_bind_enter(struct trace_event_raw_sys_enter *ctx)
{
	handle_bind_enter((int)ctx->args[0], (const void *)ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int pl_bind_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_bind_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int pl_conn_enter(struct trace_event_raw_sys_enter *ctx)
{
	handle_send_enter((int)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int pl_conn_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_send_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int pl_sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	handle_send_enter((int)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int pl_sendto_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_send_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int pl_sendmsg_enter(struct trace_event_raw_sys_enter *ctx)
{
	handle_send_enter((int)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int pl_sendmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_send_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int pl_sendmmsg_ent(struct trace_event_raw_sys_enter *ctx)
{
	handle_send_enter((int)ctx->args[0]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int pl_sendmmsg_exit(struct trace_event_raw_sys_exit *ctx)
{
	handle_send_exit(ctx->ret);
	return 0;
}

/* fentry/fexit */

SEC("fentry/inet_hash_connect")
int BPF_PROG(pl_fe_connect, void *dr, struct sock *sk)
{
	call_enter(FN_CONNECT, sk, 0);
	return 0;
}

SEC("fexit/inet_hash_connect")
int BPF_PROG(pl_fx_connect, void *dr, struct sock *sk, int ret)
{
	handle_connect_exit(ret);
	return 0;
}

SEC("fentry/inet6_hash_connect")
int BPF_PROG(pl_fe_connect6, void *dr, struct sock *sk)
{
	call_enter(FN_CONNECT, sk, 0);
	return 0;
}

SEC("fexit/inet6_hash_connect")
int BPF_PROG(pl_fx_connect6, void *dr, struct sock *sk, int ret)
{
	handle_connect_exit(ret);
	return 0;
}

SEC("fentry/inet_csk_get_port")
int BPF_PROG(pl_fe_getport, struct sock *sk, unsigned short snum)
{
	call_enter(FN_GET_PORT, sk, snum);
	return 0;
}

SEC("fexit/inet_csk_get_port")
int BPF_PROG(pl_fx_getport, struct sock *sk, unsigned short snum, int ret)
{
	handle_get_port_exit(ret);
	return 0;
}

SEC("fentry/udp_lib_get_port")
int BPF_PROG(pl_fe_udpport, struct sock *sk, unsigned short snum)
{
	call_enter(FN_UDP_GET_PORT, sk, snum);
	return 0;
}

SEC("fexit/udp_lib_get_port")
int BPF_PROG(pl_fx_udpport, struct sock *sk, unsigned short snum, unsigned int hash2, int ret)
{
	handle_udp_get_port_exit(ret);
	return 0;
}

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

SEC("fentry/tcp_time_wait")
int BPF_PROG(pl_fe_timewait, struct sock *sk)
{
	handle_time_wait(sk);
	return 0;
}

/* 6.11+ (commit "tcp: Use refcount_inc_not_zero in inet_twsk_hashdance_schedule") */
SEC("fentry/inet_twsk_hashdance_schedule")
int BPF_PROG(pl_fe_hdsched, void *tw, struct sock *sk)
{
	handle_hashdance(tw, sk);
	return 0;
}

/* up to 6.10 */
SEC("fentry/inet_twsk_hashdance")
int BPF_PROG(pl_fe_hashdance, void *tw, struct sock *sk)
{
	handle_hashdance(tw, sk);
	return 0;
}

SEC("fentry/__inet_twsk_schedule")
int BPF_PROG(pl_fe_twsched, void *tw, int timeo, bool rearm)
{
	handle_tw_schedule(tw, timeo, rearm);
	return 0;
}

SEC("fentry/inet_put_port")
int BPF_PROG(pl_fe_putport, struct sock *sk)
{
	handle_put_port(sk);
	return 0;
}

SEC("fentry/udp_lib_unhash")
int BPF_PROG(pl_fe_udpunhash, struct sock *sk)
{
	handle_put_port(sk);
	return 0;
}

SEC("fexit/tcp_twsk_unique")
int BPF_PROG(pl_fx_twunique, struct sock *sk, struct sock *sktw, void *twp, int ret)
{
	if (ret)
		handle_tw_flag(sktw, LF_TW_REUSED);
	return 0;
}

SEC("fentry/inet_twsk_deschedule_put")
int BPF_PROG(pl_fe_desched, void *tw)
{
	handle_tw_flag(tw, LF_TW_KILLED);
	return 0;
}

SEC("fentry/inet_twsk_kill")
int BPF_PROG(pl_fe_twkill, void *tw)
{
	handle_tw_kill(tw);
	return 0;
}

/* kprobe/kretprobe twins of the same bodies */

SEC("kprobe/inet_hash_connect")
int BPF_KPROBE(pl_kp_connect, void *dr, struct sock *sk)
{
	call_enter(FN_CONNECT, sk, 0);
	return 0;
}

SEC("kretprobe/inet_hash_connect")
int BPF_KRETPROBE(pl_kr_connect, int ret)
{
	handle_connect_exit(ret);
	return 0;
}

SEC("kprobe/inet6_hash_connect")
int BPF_KPROBE(pl_kp_connect6, void *dr, struct sock *sk)
{
	call_enter(FN_CONNECT, sk, 0);
	return 0;
}

SEC("kretprobe/inet6_hash_connect")
int BPF_KRETPROBE(pl_kr_connect6, int ret)
{
	handle_connect_exit(ret);
	return 0;
}

SEC("kprobe/inet_csk_get_port")
int BPF_KPROBE(pl_kp_getport, struct sock *sk, unsigned short snum)
{
	call_enter(FN_GET_PORT, sk, snum);
	return 0;
}

SEC("kretprobe/inet_csk_get_port")
int BPF_KRETPROBE(pl_kr_getport, int ret)
{
	handle_get_port_exit(ret);
	return 0;
}

SEC("kprobe/udp_lib_get_port")
int BPF_KPROBE(pl_kp_udpport, struct sock *sk, unsigned short snum)
{
	call_enter(FN_UDP_GET_PORT, sk, snum);
	return 0;
}

SEC("kretprobe/udp_lib_get_port")
int BPF_KRETPROBE(pl_kr_udpport, int ret)
{
	handle_udp_get_port_exit(ret);
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

SEC("kprobe/tcp_time_wait")
int BPF_KPROBE(pl_kp_timewait, struct sock *sk)
{
	handle_time_wait(sk);
	return 0;
}

SEC("kprobe/inet_twsk_hashdance_schedule")
int BPF_KPROBE(pl_kp_hdsched, void *tw, struct sock *sk)
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

SEC("kprobe/__inet_twsk_schedule")
int BPF_KPROBE(pl_kp_twsched, void *tw, int timeo, bool rearm)
{
	handle_tw_schedule(tw, timeo, rearm);
	return 0;
}

SEC("kprobe/inet_put_port")
int BPF_KPROBE(pl_kp_putport, struct sock *sk)
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

SEC("kprobe/inet_twsk_deschedule_put")
int BPF_KPROBE(pl_kp_desched, void *tw)
{
	handle_tw_flag(tw, LF_TW_KILLED);
	return 0;
}

SEC("kprobe/inet_twsk_kill")
int BPF_KPROBE(pl_kp_twkill, void *tw)
{
	handle_tw_kill(tw);
	return 0;
}

/*
 * TIME_WAIT snapshot of the iterating task's network namespace: one record
 * per timewait socket, with the time left on its timer.
 */
SEC("iter/tcp")
int pl_iter_tw(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_timewait_sock *ttw;
	struct inet_timewait_sock *tw;
	struct pl_tw_rec r = {};
	__u64 hz = CONFIG_HZ ? CONFIG_HZ : 250;	/* 250: Debian's and most distros' HZ */
	__s64 left;

	if (!skc || skc->skc_state != TCP_TIME_WAIT)
		return 0;
	ttw = bpf_skc_to_tcp_timewait_sock(skc);
	if (!ttw)
		return 0;
	tw = &ttw->tw_sk;
	/* No family filter: user space counts every timewait socket of the netns. */
	r.family = tw->__tw_common.skc_family;
	r.cookie = tw->__tw_common.skc_cookie.counter;
	r.substate = tw->tw_substate;
	r.lport = tw->__tw_common.skc_num;
	r.rport = bpf_ntohs(tw->__tw_common.skc_dport);
	r.netns = BPF_CORE_READ(tw, __tw_common.skc_net.net, ns.inum);
	left = (__s64)(tw->tw_timer.expires - bpf_jiffies64());
	r.expires_ns = left > 0 ? left * (1000000000ULL / hz) : 0;
	if (r.family == AF_INET6) {
		BPF_CORE_READ_INTO(&r.laddr, tw, __tw_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r.raddr, tw, __tw_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		*(__u32 *)r.laddr = tw->__tw_common.skc_rcv_saddr;
		*(__u32 *)r.raddr = tw->__tw_common.skc_daddr;
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * UDP snapshot (tracepoint mode, which has no hook on UDP release): the
 * lease ids of the tracked UDP sockets still alive in the iterating task's
 * network namespace.
 */
SEC("iter/udp")
int pl_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct lease_val *l;
	__u64 key;

	if (!udp)
		return 0;
	key = (__u64)udp;
	l = bpf_map_lookup_elem(&leases, &key);
	if (!l || l->proto != IPPROTO_UDP ||
	    l->lport != BPF_CORE_READ(udp, inet.sk.__sk_common.skc_num))
		return 0;
	bpf_seq_write(ctx->meta->seq, &l->lease, sizeof(l->lease));
	return 0;
}

static __always_inline void rec_addrs(struct pl_sock_rec *r, const struct sock_common *skc)
{
	r->family = BPF_CORE_READ(skc, skc_family);
	r->lport = BPF_CORE_READ(skc, skc_num);
	r->rport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	r->state = BPF_CORE_READ(skc, skc_state);
	r->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	r->cookie = BPF_CORE_READ(skc, skc_cookie.counter);
	if (r->family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->laddr, skc, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r->raddr, skc, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)r->laddr, skc, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)r->raddr, skc, skc_daddr);
	}
}

/* The inode of the socket file: what /proc/PID/fd shows as socket:[N]. */
static __always_inline __u64 sock_inode(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

/* `portlife ports`: every TCP socket holding a port in this netns. */
SEC("iter/tcp")
int pl_ports_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct pl_sock_rec r = {};
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	rec_addrs(&r, skc);
	r.proto = IPPROTO_TCP;
	r.uid = ctx->uid;
	if (r.state == TCP_NEW_SYN_RECV)
		return 0;	/* a request socket: its listener holds the port */
	if (r.state == TCP_TIME_WAIT) {
		struct tcp_timewait_sock *ttw = bpf_skc_to_tcp_timewait_sock(skc);
		__u64 hz = CONFIG_HZ ? CONFIG_HZ : 250;
		__s64 left;

		if (!ttw)
			return 0;
		left = (__s64)(ttw->tw_sk.tw_timer.expires - bpf_jiffies64());
		r.expires_ns = left > 0 ? left * (1000000000ULL / hz) : 0;
	} else {
		tp = bpf_skc_to_tcp_sock(skc);
		if (tp)
			r.inode = sock_inode((struct sock *)tp);
	}
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

/* `portlife ports`: every UDP socket holding a port in this netns. */
SEC("iter/udp")
int pl_ports_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	struct pl_sock_rec r = {};

	if (!udp)
		return 0;
	rec_addrs(&r, (struct sock_common *)udp);
	r.proto = IPPROTO_UDP;
	r.uid = ctx->uid;
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
	struct task_struct *task = ctx->task;
	struct pl_owner_rec r = {};
	struct socket *sock;

	if (!file || !task)
		return 0;
	/* Only a socket's private_data points back at its file. */
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return 0;
	/* one line per process, not per thread: threads share the table */
	if (BPF_CORE_READ(task, tgid) != BPF_CORE_READ(task, pid))
		return 0;
	r.inode = BPF_CORE_READ(file, f_inode, i_ino);
	r.tgid = BPF_CORE_READ(task, tgid);
	BPF_CORE_READ_STR_INTO(&r.comm, task, comm);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
