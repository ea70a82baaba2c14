/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the BPF programs and the portlife binary.
 *
 * No includes, fixed-width fields only: this header is compiled both with
 * vmlinux.h (BPF side) and with <linux/types.h> (user side). Every record
 * starts with its type tag. No kernel pointer is ever stored here: leases are
 * named by a counter (lease) and by the socket cookie, never by address.
 */
#ifndef PORTLIFE_H
#define PORTLIFE_H

#define PL_COMM_LEN 16

/*
 * SO_MARK of the loader's self-test socket (ASCII "plst"): every portlife
 * running on the host skips a socket so marked, so one instance's start is
 * not a bind() by "portlife" in another's trace (a DaemonSet's metrics, an
 * SRE's run beside it). The socket never sends, so no routing rule sees it.
 */
#define PL_SELFTEST_MARK 0x706c7374

/*
 * TCP states in the kernel's own numbering (include/net/tcp_states.h), as
 * STATE events and socket records carry them. Prefixed: vmlinux.h on the BPF
 * side and <netinet/tcp.h> on the user side define the unprefixed names.
 */
enum pl_tcp_state {
	PL_TCP_ESTABLISHED = 1,
	PL_TCP_SYN_SENT = 2,
	PL_TCP_SYN_RECV = 3,
	PL_TCP_FIN_WAIT1 = 4,
	PL_TCP_FIN_WAIT2 = 5,
	PL_TCP_TIME_WAIT = 6,
	PL_TCP_CLOSE = 7,
	PL_TCP_CLOSE_WAIT = 8,
	PL_TCP_LAST_ACK = 9,
	PL_TCP_LISTEN = 10,
	PL_TCP_CLOSING = 11,
	PL_TCP_NEW_SYN_RECV = 12,
	PL_TCP_BOUND_INACTIVE = 13,	/* 6.8+ */
};

enum pl_event_type {
	PL_EV_ALLOC = 1,	/* a port was handed to a socket (or the search failed) */
	PL_EV_STATE = 2,	/* TCP state transition of a tracked socket */
	PL_EV_TW_ENTER = 3,	/* the port is now held by a TIME_WAIT socket */
	PL_EV_TW_EXIT = 4,	/* that TIME_WAIT socket is gone */
	PL_EV_RELEASE = 5,	/* the port went back to the pool */
	PL_EV_BIND_ERROR = 6,	/* bind() failed, but not for want of a port (err, address) */
	PL_EV_SIGNAL = 7,	/* no lease: what the security rules watch (kind: pl_signal) */
	PL_EV_MAX = 8,
};

/*
 * SIGNAL.kind. A probe names no process (pid 0, no comm: the kernel answered
 * in softirq); its laddr/lport are this host's closed port, raddr/rport the
 * prober. A listen names the process that called listen().
 */
enum pl_signal {
	PL_SIG_TCP_CLOSED = 1,	/* a SYN to a closed TCP port was answered with a RST */
	PL_SIG_UDP_CLOSED = 2,	/* a datagram to a closed UDP port: ICMP port unreachable */
	PL_SIG_LISTEN = 3,	/* a TCP socket started listening; aux: the netns's
				 * ip_local_port_range, lo | hi << 16 */
	PL_SIG_UNRECORDED = 4,	/* user space, once a second: aux probes the kernel
				 * counted over its rate limit and did not record */
	PL_SIG_MAX = 5,
};

/* SIGNAL.sflags (PL_SIG_LISTEN) */
#define PL_SIGF_BOUND		0x1	/* the port was given to bind(), not chosen by the kernel */
#define PL_SIGF_RESERVED	0x2	/* the port is in ip_local_reserved_ports */

/* How the port was obtained (ALLOC.kind). */
enum pl_alloc_kind {
	PL_ALLOC_CONNECT = 1,	/* connect() autobind: inet_hash_connect */
	PL_ALLOC_BIND_EPHEMERAL = 2,	/* bind() with port 0 */
	PL_ALLOC_BIND_EXPLICIT = 3,	/* bind() to a given port */
	PL_ALLOC_AUTOBIND = 4,	/* UDP: first sendmsg()/connect() on an unbound socket */
};

/* Why the lease ended (TW_EXIT.kind, RELEASE.kind). */
enum pl_end_reason {
	PL_END_CLOSE = 1,	/* full close without TIME_WAIT (passive close, RST, abort) */
	PL_END_TW_EXPIRED = 2,	/* TIME_WAIT ran its course */
	PL_END_TW_KILLED = 3,	/* TIME_WAIT ended early: RST, ss -K, netns exit (or reuse,
				 * in tracepoint mode, which cannot tell them apart) */
	PL_END_TW_OVERFLOW = 4,	/* close made no TIME_WAIT: tcp_max_tw_buckets was full */
	PL_END_TW_UNSEEN = 5,	/* TIME_WAIT expected but shorter than the snapshot interval */
	PL_END_EVICTED = 6,	/* user side only: dropped from a full lease table */
	PL_END_TW_REUSED = 7,	/* TIME_WAIT taken over by connect() (tcp_tw_reuse) */
	PL_END_MAX = 8,
};

/* STATE.kind flags */
#define PL_STATE_TW_EXPECTED	0x1	/* FIN_WAIT2/CLOSING -> CLOSE: tcp_time_wait() ran */
#define PL_STATE_BINDLOCK	0x2	/* port bound explicitly: released at destroy */

/* TW_ENTER.kind flags (user side: TIME_WAIT rounds) */
#define PL_TW_RECONCILED	0x1	/* its close was never shown: found in TIME_WAIT, time estimated */

/*
 * ALLOC that failed (err set): aux is the port range the search walked,
 * lo | hi << 16 (0: unknown, and in traces before it was recorded), and
 * sflags says whether the socket's own IP_LOCAL_PORT_RANGE narrowed it.
 */
#define PL_ALLOCF_OWN_RANGE	0x1
/*
 * A connect() (EADDRNOTAVAIL) from a port the socket had before it (bind()
 * to a port, or to 0): no search, its 4-tuple to the destination was in use
 * (a connection, or a TIME_WAIT the kernel would not take over); aux zero.
 */
#define PL_ALLOCF_BOUND		0x2

/* RELEASE.sflags (user side: TIME_WAIT rounds) */
#define PL_RELF_RECONCILED	0x1	/* its close was never shown: its socket was found gone,
					 * time estimated */

struct pl_event {
	__u8 type;		/* enum pl_event_type */
	__u8 family;		/* 2 (AF_INET) or 10 (AF_INET6) */
	__u8 proto;		/* 6 (TCP) or 17 (UDP) */
	__u8 kind;		/* pl_alloc_kind, pl_end_reason or PL_STATE_* flags */
	__u8 old_state;		/* TCP_* numbering of the kernel (STATE) */
	__u8 new_state;
	__u16 lport;		/* host byte order */
	__u16 rport;		/* host byte order */
	__u16 sflags;		/* SIGNAL: PL_SIGF_*; RELEASE: PL_RELF_*; failed ALLOC:
				 * PL_ALLOCF_* (else zero) */
	__s32 err;		/* ALLOC, BIND_ERROR: positive errno when it failed */
	__u32 pid;		/* tgid of the allocating process (0: softirq, unknown) */
	__u32 tid;
	__u32 netns;		/* network namespace inode number */
	__u32 aux;		/* SIGNAL: see enum pl_signal; failed ALLOC: the
				 * range searched (above); else zero. The u64s
				 * below are 8-aligned */
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 lease;		/* lease id, unique for this run of portlife */
	__u64 cookie;		/* socket cookie (0 if not known yet) */
	__u64 cgroup_id;	/* cgroup v2 id of the allocating task */
	__u64 dur_ns;		/* ALLOC: search latency; TW_ENTER: time to expiry */
	__u8 laddr[16];		/* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[PL_COMM_LEN];
};

/*
 * These records cross the kernel/user boundary (ring buffer, iterators) and
 * pl_event also goes into trace files: their layout is the wire format. Every
 * pad is named and zeroed; a size change must be a format version change.
 * (sflags and aux were zero pads before format version 4: SIGNAL uses them, and
 * RELEASE's sflags, zero in every older trace, may carry PL_RELF_RECONCILED.)
 */
_Static_assert(sizeof(struct pl_event) == 120, "pl_event is the trace file's record");
_Static_assert(__builtin_offsetof(struct pl_event, sflags) == 10 &&
	       __builtin_offsetof(struct pl_event, aux) == 28 &&
	       __builtin_offsetof(struct pl_event, ts_ns) == 32,
	       "the pads SIGNAL uses stay where they were");

/* bpf_iter tcp record: one per TIME_WAIT socket of the iterated netns. */
struct pl_tw_rec {
	__u64 cookie;
	__u64 expires_ns;	/* time left until the TIME_WAIT timer fires;
				 * PL_TW_ALIVE: a full socket (asked for: iter_full) */
};
#define PL_TW_ALIVE (~0ULL)
_Static_assert(sizeof(struct pl_tw_rec) == 16, "pl_tw_rec is read in whole records");

/*
 * Tracepoint mode's TIME_WAIT lookups (twlook.bpf.c): a waiting lease's
 * 4-tuple and cookie in; whether the kernel's table holds a timewait socket
 * with that cookie for it, and its time left, out. User space fills up to
 * PL_TWQ_BATCH of them into the object's global data and runs the program
 * inside the lease's netns.
 */
#define PL_TWQ_BATCH 4096
#define PL_TWQ_TW	1
#define PL_TWQ_ALIVE	2
struct pl_tw_query {
	__u8 laddr[16];		/* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	__u16 lport, rport;
	__u8 family;		/* AF_INET or AF_INET6 */
	__u8 found;		/* out: PL_TWQ_TW: its timewait socket is there;
				 * PL_TWQ_ALIVE: its full socket still is; 0: neither */
	__u16 pad;
	__u64 cookie;
	__u64 expires_ns;	/* out: time left on its timer */
};

/* bpf_iter tcp/udp record for `portlife ports`: every socket holding a port. */
struct pl_sock_rec {
	__u64 inode;		/* socket inode, to find the owner; 0 for TIME_WAIT */
	__u64 cookie;		/* socket cookie (0 if never asked for): a traced lease's owner */
	__u64 expires_ns;	/* TIME_WAIT: time left */
	__u32 netns;
	__u32 uid;
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 proto;
	__u8 state;		/* kernel TCP_* numbering (UDP: CLOSE, or ESTABLISHED if connected) */
	__u8 flags;		/* PL_SOCKF_* */
	__u8 laddr[16];
	__u8 raddr[16];
};
_Static_assert(sizeof(struct pl_sock_rec) == 72, "pl_sock_rec is read in whole records");

/* pl_sock_rec.flags: what tcp_twsk_unique() looks at before a connect() takes a TIME_WAIT over */
#define PL_SOCKF_TW_TS		0x1	/* TIME_WAIT that saw TCP timestamps (tw_ts_recent_stamp) */
#define PL_SOCKF_LO_DEV		0x2	/* bound to the loopback device (SO_BINDTODEVICE lo) */
/*
 * Its port's bind bucket is bind()'s or listen()'s (fastreuse or
 * fastreuseport set), not connect()'s: __inet_hash_connect() passes such a
 * port over for every destination. A listener's accepted sockets, and
 * their TIME_WAIT after the listener has gone; a client that bound before
 * connect() without IP_BIND_ADDRESS_NO_PORT.
 */
#define PL_SOCKF_BIND_BUCKET	0x4
/*
 * A timewait socket standing in for an orphaned FIN_WAIT2 one (tw_substate:
 * tcp_time_wait() from FIN_WAIT2, its peer's FIN still to come): ss says
 * FIN-WAIT-2, and so does `ports`; it holds its port as a TIME_WAIT does.
 */
#define PL_SOCKF_TW_FW2		0x8

/* bpf_iter task_file record: a process holding a socket (by inode). */
struct pl_owner_rec {
	__u64 inode;
	__u32 tgid;
	__u32 pad;
	char comm[PL_COMM_LEN];
	/*
	 * Its cgroup v2 id, from the kernel: /proc/PID/cgroup names the cgroup
	 * relative to the reader's cgroup namespace ("/../.." outside it, as
	 * in a DaemonSet's pod), which no path under the tree's root matches.
	 */
	__u64 cgroup_id;
};
_Static_assert(sizeof(struct pl_owner_rec) == 40, "pl_owner_rec is read in whole records");

/*
 * natdrop.bpf.c: a packet netfilter dropped while its conntrack entry was
 * new (unconfirmed) and source-NATed: on exhaustion nf_nat keeps a clashing
 * tuple and the entry's insertion fails (conntrack -S: insert_failed), so
 * the SYN is dropped and the client sees a timeout. The tuples say who.
 */
struct pl_nat_drop {
	__u8 type;		/* PL_NAT_DROP */
	__u8 family;		/* 2 or 10 */
	__u8 proto;		/* 6 or 17 */
	__u8 pad;
	__u16 sport;		/* original tuple: the client's own port */
	__u16 dport;		/* original tuple: the destination's port */
	__u16 nat_port;		/* reply tuple's destination: the clashing NAT port */
	__u16 real_dport;	/* reply tuple's source port: the destination after DNAT */
	__u32 netns;		/* where the translation was tried (the "node") */
	__u64 ts_ns;		/* bpf_ktime_get_ns() */
	__u8 saddr[16];		/* original tuple: the client */
	__u8 daddr[16];		/* original tuple: the destination */
	__u8 nat_addr[16];	/* reply tuple's destination: the NAT address */
	__u8 real_daddr[16];	/* reply tuple's source: the destination after DNAT, whose
				 * NAT ports nf_nat picks from */
};
_Static_assert(sizeof(struct pl_nat_drop) == 88, "pl_nat_drop is read in whole records");
#define PL_NAT_DROP 0x4e	/* its type tag: no pl_event_type */

#endif /* PORTLIFE_H */
