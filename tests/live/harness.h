/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The live tests' shared runner: run portlife against a child scenario,
 * collect what the child did and what portlife printed, and the registry
 * that main() runs the tests from. One file per feature holds the tests
 * (connect.c, timewait.c, ...); each registers its tests with LIVE_TEST().
 */
#ifndef __LIVE_HARNESS_H
#define __LIVE_HARNESS_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MAXP 2048

extern const char *portlife;
extern const char *mode;	/* --mode for portlife, or NULL for its default */
extern bool no_pid_filter;	/* start() without -p CHILD */
struct result;
/*
 * When set, start()'s child runs it before portlife starts (what a process
 * did before the tracer came), then the scenario as usual once driven.
 */
extern int (*child_pre)(struct result *);
/*
 * When set, start()'s tracer runs it after its fork, before it execs
 * portlife (namespaces to start portlife in); non-zero: it exits 126.
 */
extern int (*tracer_pre)(void);
extern char tmpdir[];		/* every test's outputs; printed in the summary */

/* ---- a test and its registration -------------------------------------- */

struct live_test {
	const char *name;
	int (*fn)(void);	/* 0: passed; else fail() said why */
	int order;		/* main() runs tests by order, then name */
	bool views;		/* see LIVE_TEST() */
};

/*
 * LIVE_TEST(name, fn, order, views) registers fn as the test `name`.
 * Adding a test is adding a file that ends with it: the descriptor's address
 * goes into the ELF section "livetests", which main() walks between the
 * linker's __start_livetests and __stop_livetests. Pointers, not the
 * descriptors themselves, so the compiler cannot pad between entries; `used`
 * because nothing names the pointer, and the compiler would drop it.
 *
 * order: main() runs the tests from the lowest; quick ones first, so that a
 * broken build fails fast (10 apart, so a new test can go between). views: a test of what portlife shows (top,
 * metrics), not of how it attaches: it runs only without --mode (the VM runs
 * every attach mode and skips them), or when named.
 */
#define LIVE_TEST(_name, _fn, _order, _views)                                                      \
	static const struct live_test live_test_##_name = {                                        \
	    .name = #_name,                                                                        \
	    .fn = _fn,                                                                             \
	    .order = _order,                                                                       \
	    .views = _views,                                                                       \
	};                                                                                         \
	static const struct live_test *live_test_ptr_##_name                                       \
	    __attribute__((section("livetests"), used, aligned(sizeof(void *)))) =                 \
		&live_test_##_name

/* ---- what the child did ------------------------------------------------ */

struct result {
	int nports;
	unsigned short ports[MAXP];	/* client ports from getsockname() */
	unsigned short listen_port;
	unsigned short bound_port;
	int fail_errno;			/* the errno the scenario provoked */
	int fail_errno2;		/* and a second one, where it provokes two */
	int nsucc;
	/* workload / tw_reasons */
	int nports6;
	unsigned short ports6[64];	/* IPv6 client ports, passive close */
	long long conn_ns[MAXP];	/* connect() syscall time of ports[i] */
	long long conn6_ns[64];
	unsigned short udp_bound, udp_auto;
	int nreuse, nrst, nexpire;
	unsigned short reuse[16], rst[16], expire[16];
	int other_pid;			/* netns_gone: the process that made the ports */
	/* leases.c: sockets made per kind, the sum of their ports, and times */
	int kind_n[16];
	long long kind_sum[16];
	int nhold;
	unsigned short hold_port[12];
	unsigned char hold_fam[12];	/* 4 or 6 where a test sets it (0: either) */
	long long t_open0[12], t_open1[12], t_close0[12], t_close1[12];
	/* leases.c udp_disconnect: each lease, its kind, when its release may be told */
	int ndis;
	unsigned short dis_port[12];
	unsigned char dis_kind[12];
	long long dis_rel0[12], dis_rel1[12];
	/* leases.c lease_chaos: per (protocol, port), what getsockname() saw */
	int nchaos;
	unsigned short chaos_port[512];
	unsigned char chaos_udp[512];
	unsigned short chaos_alloc[512], chaos_rel[512];
	/* leases.c udp_preexisting: the ports of the sockets made before portlife */
	unsigned short pre_port[5];
	/*
	 * exhaustion.c own_range: per search (connect(), bind(0), UDP connect()),
	 * the ports it got, the range it was given, and its errno at the end;
	 * no_sock_range: the kernel has no IP_LOCAL_PORT_RANGE (before 6.3).
	 */
	int own_n[3], own_errno[3];
	unsigned short own_lo[3], own_hi[3];
	unsigned short own_port[3][16];
	bool no_sock_range;
	/* exhaustion.c odd_range: ports each destination got */
	int odd_n[10];
	/* nat.c: a UDP flow through the NAT: the client's port, the one the remote saw */
	unsigned short nat_udp, nat_udp_seen, nat_udp_dropped;
};

/* ---- running portlife and a child -------------------------------------- */

struct run {
	pid_t child, tracer;
	int go[2], res[2];
	char out[256], err[256];
	struct result r;
	int child_err;
	int tracer_status;
	char **lines;
	int nlines;
};

/*
 * Fork the child (it waits for drive()) and portlife (--json, -p CHILD unless
 * no_pid_filter, --mode, then extra; a leading "record" goes first) into
 * tmpdir/name.out and .err; returns once portlife has printed its start line.
 */
int start(struct run *run, int (*fn)(struct result *), const char *name, char *const extra[]);
/* Let the child run its scenario; collect what it did. */
int drive(struct run *run);
/* Wait settle_ms, stop portlife and the child, read portlife's lines. */
int stop(struct run *run, int settle_ms);
void cleanup(struct run *run);

/* Run portlife with argv (argv[0] ignored) into out; its exit status. */
int run_capture(char *const argv[], const char *out);
/* Bad input: a one-line error naming the problem, non-zero exit. */
int expect_error(char *const argv[], const char *needle);

/* ---- what portlife reported -------------------------------------------- */

/* Lines of event ev for lport (any if < 0), owned by pid; *last the last. */
int count_ev(struct run *run, const char *ev, int pid, int lport, const char **last);
int count_lease_ev(struct run *run, const char *ev, long long lease, const char **last);
/* The child's successful alloc of port with kind, or NULL. */
const char *lease_of(struct run *run, int port, const char *kind);
/*
 * The same, of one family (4 or 6): connect() may give an IPv4 and an IPv6
 * connection the same port (their 4-tuples differ), so a workload with both
 * must say which it means.
 */
const char *lease_of_family(struct run *run, int port, const char *kind, int family);
/* The lease of alloc a entered TIME_WAIT (tw) or not, and ended for reason. */
int expect_end(struct run *run, const char *a, const char *reason, bool tw);
/* The first line of event ev in the file path (with key == val); static buffer. */
const char *find_line(const char *path, const char *ev, const char *key, long long val);

/* ---- small helpers ----------------------------------------------------- */

/* Records why the test failed (printed after FAIL name:); returns -1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What the last fail() recorded. */
const char *last_failure(void);
long long now_ns(void);
void sleep_ms(int ms);
bool file_has(const char *path, const char *needle);
int write_file(const char *path, const char *s);
char **file_lines(const char *path, int *n);
void free_lines(char **v, int n);
/* The inode of pid's network namespace, or 0. */
unsigned long netns_of(pid_t pid);

/* The cgroup v2 mount point into buf; -ENOENT without one. */
int cgroup2_root(char *buf, size_t len);

/* New network namespace with lo up (IPv4 127.0.0.1 and IPv6 ::1). */
int own_netns(void);
/* The running kernel is major.minor or newer (uname; true when unreadable). */
bool kernel_at_least(unsigned int want_major, unsigned int want_minor);
/*
 * Can this kernel list TCP sockets that are only bound? From 6.7, through
 * sock_diag's tcp_diag (a module on Debian: a guest without modules has none).
 */
bool bound_listable(void);
/* Loopback address of family with port. */
socklen_t mkaddr(struct sockaddr_storage *ss, int family, unsigned short port);
unsigned short sock_port(int fd);
int listener(int family, unsigned short port);
/* A TCP socket of family bound to loopback:port (0: any), nothing more; -errno. */
int bound_socket(int family, unsigned short port);
/* A connected TCP socket (bound to bind_port first if non-zero), or -errno. */
int connect_to(int family, unsigned short port, int reuse, unsigned short bind_port);
void rst_close(int fd);
/* A veth pair (alerts.c): name here, peer in the netns of peer_nsfd. 0 or -errno. */
int make_veth(const char *name, const char *peer, int peer_nsfd);
/* An IPv4 address /24 on ifname, and the link up. 0 or -errno. */
int if_addr(const char *ifname, const char *addr);

/* ---- scenarios and checks more than one file uses ---------------------- */

/* connect.c: 200 connects the server closes first; every port reported. */
int sc_connects(struct result *r, int family);
int sc_v4(struct result *r);
int sc_workload(struct result *r);
int check_connects(struct run *run, int family, const char *raddr, bool want_release);
/* sc_workload's connects, listener and UDP ports, each told whole. */
int check_workload(struct run *run);
/* timewait.c: n connections the client closes first; returns the listener. */
int tw_listener(struct result *r, int n, int reuse);

#endif /* __LIVE_HARNESS_H */
