// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for the security rules (user/alerts.c), driven with synthetic
 * events through the real pipeline (lease table, aggregation, the rules as a
 * sink): each rule raises on what it is for with the exact numbers, stays
 * quiet on the normal traffic that looks closest to it, and keeps its state
 * bounded whatever pids, sources and destinations the input holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "alerts.h"
#include "pipeline.h"
#include "tracefile.h"

#define S 1000000000ULL
#define NETNS 4026531840u

struct fixture {
	struct lease_table *t;
	struct agg *agg;
	struct pipeline p;
	struct alerts *a;
	char *buf;		/* what the rules printed */
	size_t len;
	FILE *out;
	__u64 lease;		/* the next lease id */
};

static struct fixture *make(const struct alert_cfg *cfg, bool json)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct alert_cfg def;

	if (!cfg) {
		alert_cfg_default(&def);
		cfg = &def;
	}
	f->t = lease_table__new(1 << 16);
	f->agg = agg__new(1024);
	f->out = open_memstream(&f->buf, &f->len);
	f->a = alerts__new(cfg, f->out, json, true);
	assert_non_null(f->a);
	pipeline__init(&f->p, f->t, f->agg);
	pipeline__add_sink(&f->p, alerts__sink, f->a);
	f->lease = 1;
	return f;
}

static void unmake(struct fixture *f)
{
	alerts__free(f->a);
	pipeline__free(&f->p);
	agg__free(f->agg);
	lease_table__free(f->t);
	fclose(f->out);
	free(f->buf);
	free(f);
}

static int setup(void **state)
{
	*state = make(NULL, false);
	return 0;
}

static int teardown(void **state)
{
	unmake(*state);
	return 0;
}

static const char *printed(struct fixture *f)
{
	fflush(f->out);
	return f->buf ? f->buf : "";
}

static struct pl_event ev(__u8 type, __u32 pid, __u64 ts)
{
	struct pl_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.ts_ns = ts;
	e.family = AF_INET;
	e.proto = IPPROTO_TCP;
	e.pid = e.tid = pid;
	e.netns = NETNS;
	e.cgroup_id = 77;
	e.laddr[0] = 10;
	e.laddr[3] = 1;
	snprintf(e.comm, sizeof(e.comm), "proc%u", pid);
	return e;
}

static void addr4(__u8 a[16], __u32 host)
{
	memset(a, 0, 16);
	a[0] = 192;
	a[1] = 168;
	a[2] = host >> 8;
	a[3] = host;
}

/*
 * One connect() of pid to host:port at ts, as the kernel reports it: the
 * ALLOC, then SYN_SENT -> ESTABLISHED (answered), or for a failure SYN_SENT
 * -> CLOSE and the RELEASE, where the kernel has zeroed the socket's ports
 * already (the pipeline shows the lease's). The exact modes report no
 * SYN_SENT -> CLOSE: the port is released before the state tracepoint runs
 * (exact_shape). Returns the lease.
 */
static __u64 connect_ev_shape(struct fixture *f, __u32 pid, __u32 host, __u16 port, __u64 ts,
			      bool answered, bool exact_shape)
{
	struct pl_event e = ev(PL_EV_ALLOC, pid, ts);
	__u64 id = f->lease++;

	e.lease = id;
	e.kind = PL_ALLOC_CONNECT;
	e.lport = 40000 + id % 20000;
	e.rport = port;
	addr4(e.raddr, host);
	pipeline__event(&f->p, &e);
	e.type = PL_EV_STATE;
	e.kind = 0;
	e.ts_ns = ts + 1000;
	e.old_state = PL_TCP_SYN_SENT;
	e.new_state = answered ? PL_TCP_ESTABLISHED : PL_TCP_CLOSE;
	if (!answered) {
		e.lport = e.rport = 0;
		memset(e.raddr, 0, sizeof(e.raddr));
	}
	if (answered || !exact_shape)
		pipeline__event(&f->p, &e);
	if (!answered) {
		e.type = PL_EV_RELEASE;
		e.kind = PL_END_CLOSE;
		e.ts_ns = ts + 2000;
		e.old_state = e.new_state = 0;
		pipeline__event(&f->p, &e);
	}
	return id;
}

static __u64 connect_ev(struct fixture *f, __u32 pid, __u32 host, __u16 port, __u64 ts,
			bool answered)
{
	return connect_ev_shape(f, pid, host, port, ts, answered, false);
}

/* A bind(0) or UDP autobind allocation: ALLOC only (alloc_burst counts every kind). */
static void alloc_ev(struct fixture *f, __u32 pid, __u64 ts)
{
	struct pl_event e = ev(PL_EV_ALLOC, pid, ts);

	e.lease = f->lease++;
	e.kind = PL_ALLOC_CONNECT;
	e.lport = 40000 + e.lease % 20000;
	e.rport = 443;
	addr4(e.raddr, 9);
	pipeline__event(&f->p, &e);
}

static void probe_ev(struct fixture *f, __u32 src, __u8 proto, __u16 port, __u64 ts)
{
	struct pl_event e = ev(PL_EV_SIGNAL, 0, ts);

	e.kind = proto == IPPROTO_UDP ? PL_SIG_UDP_CLOSED : PL_SIG_TCP_CLOSED;
	e.proto = proto;
	memset(e.comm, 0, sizeof(e.comm));
	e.cgroup_id = 0;
	e.lport = port;
	e.rport = 50000;
	addr4(e.raddr, src);
	pipeline__event(&f->p, &e);
}

static void listen_ev(struct fixture *f, __u32 pid, __u16 port, __u16 lo, __u16 hi, __u16 flags,
		      __u64 ts)
{
	struct pl_event e = ev(PL_EV_SIGNAL, pid, ts);

	e.kind = PL_SIG_LISTEN;
	e.lport = port;
	e.sflags = flags;
	e.aux = lo | (__u32)hi << 16;
	memset(e.laddr, 0, sizeof(e.laddr));
	pipeline__event(&f->p, &e);
}

static const struct alert *only(struct fixture *f, enum alert_rule r)
{
	size_t n;
	const struct alert *v = alerts__kept(f->a, &n);

	assert_int_equal(alerts__total(f->a), 1);
	assert_int_equal(alerts__count(f->a, r), 1);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].rule, r);
	return &v[0];
}

/* ---- scan_out ------------------------------------------------------------ */

static void test_scan_out_raises_at_threshold(void **state)
{
	struct fixture *f = *state;
	const struct alert *al;

	for (int i = 0; i < 300; i++)
		connect_ev(f, 4242, 1, 1 + i, 5 * S + i * 1000000ULL, false);
	al = only(f, AR_SCAN_OUT);
	/* raised by the 100th refused destination, with the numbers of that moment */
	assert_int_equal(al->pid, 4242);
	assert_string_equal(al->comm, "proc4242");
	assert_int_equal(al->netns, NETNS);
	assert_int_equal(al->cgroup_id, 77);
	assert_int_equal(al->so.dests, 100);
	assert_int_equal(al->so.failed, 100);
	assert_int_equal(al->so.connects, 100);
	assert_int_equal(al->so.answered, 0);
	assert_int_equal(al->window_ns, 10 * S);
	assert_int_equal(al->ts_ns, 5 * S + 99 * 1000000ULL + 2000);
	/* the destinations, from the lease: the CLOSE event itself had them zeroed */
	assert_int_equal(al->nsamples, ALERT_SAMPLES);
	assert_int_equal(al->samples[0].port, 1);
	assert_int_equal(al->samples[4].port, 5);
	assert_int_equal(al->samples[0].addr[0], 192);
	assert_non_null(strstr(printed(f), "!! "));
	assert_non_null(strstr(printed(f), "ALERT scan_out (critical): pid 4242 (proc4242)"));
	assert_non_null(strstr(printed(f), "e.g. 192.168.0.1:1 192.168.0.1:2"));
}

/* The exact modes' shape (no SYN_SENT -> CLOSE, the RELEASE only): the same alert. */
static void test_scan_out_exact_modes(void **state)
{
	struct fixture *f = *state;
	const struct alert *al;

	for (int i = 0; i < 150; i++)
		connect_ev_shape(f, 4243, 1, 1 + i, S + i * 1000ULL, false, true);
	al = only(f, AR_SCAN_OUT);
	assert_int_equal(al->so.dests, 100);
	assert_int_equal(al->so.failed, 100);
	assert_int_equal(al->samples[0].port, 1);
	/* a lease that was established and then ended is no failed connect */
	for (int i = 0; i < 150; i++) {
		struct pl_event e = ev(PL_EV_RELEASE, 4244, 2 * S + i);
		__u64 id = connect_ev(f, 4244, 2, 1 + i, 2 * S + i * 1000ULL, true);

		e.lease = id;
		e.kind = PL_END_CLOSE;
		pipeline__event(&f->p, &e);
	}
	assert_int_equal(alerts__count(f->a, AR_SCAN_OUT), 1);
}

/*
 * Under load the kernel skips the state program now and then (a softirq's
 * change on a CPU already running it: a recursion miss), the SYN_SENT ->
 * ESTABLISHED of an answered connect() among them. A lease seen in a state
 * only an answered connection leaves (ESTABLISHED -> FIN_WAIT1 here), or in
 * TIME_WAIT, was answered: 150 such connections to 150 destinations are no
 * scan. Before, with no ESTABLISHED seen, each counted as refused.
 */
static void test_scan_out_established_unseen(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 150; i++) {
		struct pl_event e = ev(PL_EV_ALLOC, 4245, S + i * 1000ULL);
		__u64 id = f->lease++;

		e.lease = id;
		e.kind = PL_ALLOC_CONNECT;
		e.lport = 40000 + i;
		e.rport = 1 + i;
		addr4(e.raddr, 3);
		pipeline__event(&f->p, &e);
		e.ts_ns += 500;
		if (i % 2) {
			e.type = PL_EV_STATE;
			e.old_state = PL_TCP_ESTABLISHED;
			e.new_state = PL_TCP_FIN_WAIT1;
		} else {
			e.type = PL_EV_TW_ENTER;
			e.dur_ns = 60 * S;
		}
		e.kind = 0;
		pipeline__event(&f->p, &e);
		e.type = PL_EV_RELEASE;
		e.kind = i % 2 ? PL_END_CLOSE : PL_END_TW_EXPIRED;
		e.ts_ns += 500;
		e.old_state = e.new_state = 0;
		e.dur_ns = 0;
		pipeline__event(&f->p, &e);
	}
	assert_int_equal(alerts__total(f->a), 0);
}

static void test_scan_out_next_window(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 150; i++)
		connect_ev(f, 7, 1, 1 + i, S + i * 1000ULL, false);
	assert_int_equal(alerts__count(f->a, AR_SCAN_OUT), 1);
	/* the window is 10 s from its first event; a scan in the next one is a new alert */
	for (int i = 0; i < 150; i++)
		connect_ev(f, 7, 2, 1 + i, 12 * S + i * 1000ULL, false);
	assert_int_equal(alerts__count(f->a, AR_SCAN_OUT), 2);
}

static void test_scan_out_quiet_on_fanout(void **state)
{
	struct fixture *f = *state;

	/* a client fanning out to 50 hosts, and to 5000 destinations, all answering */
	for (int i = 0; i < 50; i++)
		connect_ev(f, 10, i + 1, 443, S + i * 1000ULL, true);
	for (int i = 0; i < 5000; i++)
		connect_ev(f, 11, i % 250 + 1, 1000 + i / 250, S + i * 1000ULL, true);
	/* a client retrying one dead service 1000 times: one destination */
	for (int i = 0; i < 1000; i++)
		connect_ev(f, 12, 7, 8080, S + i * 1000ULL, false);
	assert_int_equal(alerts__total(f->a), 0);
	assert_string_equal(printed(f), "");
}

static void test_scan_out_mostly(void **state)
{
	struct fixture *f = *state;
	const struct alert *al;

	/* 30 answered: 119 failed is 79.9% of 149, 120 failed 80% */
	for (int i = 0; i < 30; i++)
		connect_ev(f, 20, 200, 1 + i, S + i * 1000ULL, true);
	for (int i = 0; i < 119; i++)
		connect_ev(f, 20, 1, 1 + i, 2 * S + i * 1000ULL, false);
	assert_int_equal(alerts__total(f->a), 0);
	connect_ev(f, 20, 1, 500, 3 * S, false);
	al = only(f, AR_SCAN_OUT);
	assert_int_equal(al->so.failed, 120);
	assert_int_equal(al->so.answered, 30);
	assert_int_equal(al->so.dests, 120);
	assert_int_equal(al->so.connects, 150);
}

static void test_scan_out_thresholds(void **state)
{
	struct alert_cfg c;
	struct fixture *f;

	(void)state;
	alert_cfg_default(&c);
	assert_int_equal(alert_cfg_parse(&c, "scan_out:dests=10,window=2,failed=50"), 0);
	f = make(&c, false);
	/* 9 destinations in a window: nothing; the 10th in the next window starts over */
	for (int i = 0; i < 9; i++)
		connect_ev(f, 5, 1, 1 + i, S + i, false);
	connect_ev(f, 5, 1, 100, 4 * S, false);
	assert_int_equal(alerts__total(f->a), 0);
	for (int i = 0; i < 9; i++)
		connect_ev(f, 5, 1, 1 + i, 4 * S + 1000 + i, false);
	assert_int_equal(only(f, AR_SCAN_OUT)->window_ns, 2 * S);
	unmake(f);
}

/* ---- scan_in --------------------------------------------------------------- */

static void test_scan_in_by_source(void **state)
{
	struct fixture *f = *state;
	const struct alert *al;

	/* many sources each hitting one closed port, one port hit 1000 times: no scan */
	for (int i = 0; i < 500; i++)
		probe_ev(f, 1000 + i, IPPROTO_TCP, 22, S + i);
	for (int i = 0; i < 1000; i++)
		probe_ev(f, 5, IPPROTO_TCP, 8080, S + i);
	assert_int_equal(alerts__total(f->a), 0);
	/* one source: 15 TCP ports, then UDP ones; the 20th distinct port raises */
	for (int i = 0; i < 15; i++)
		probe_ev(f, 66, IPPROTO_TCP, 1 + i, 2 * S + i);
	probe_ev(f, 66, IPPROTO_TCP, 1, 2 * S + 100);	/* again: not a new port */
	for (int i = 0; i < 10; i++)
		probe_ev(f, 66, IPPROTO_UDP, 1 + i, 3 * S + i);
	al = only(f, AR_SCAN_IN);
	assert_int_equal(al->pid, 0);
	assert_int_equal(al->netns, NETNS);
	assert_int_equal(al->si.src.family, AF_INET);
	assert_int_equal(al->si.src.addr[3], 66);
	assert_int_equal(al->si.ports, 20);
	assert_int_equal(al->si.probes, 21);
	assert_int_equal(al->si.tcp, 16);
	assert_int_equal(al->si.udp, 5);
	assert_int_equal(al->samples[0].proto, IPPROTO_TCP);
	assert_int_equal(al->samples[0].port, 1);
	assert_non_null(strstr(printed(f), "192.168.0.66 probed 20 closed ports of netns"));
	assert_non_null(strstr(printed(f), "e.g. tcp/1 tcp/2 tcp/3"));
}

/* ---- alloc_burst ------------------------------------------------------------ */

static void test_alloc_burst_above_baseline(void **state)
{
	struct fixture *f = *state;
	const struct alert *al;

	/* 5 a second for 15 s, then 300 in one second */
	for (int s = 0; s < 15; s++)
		for (int i = 0; i < 5; i++)
			alloc_ev(f, 30, (100 + s) * S + i * 1000);
	assert_int_equal(alerts__total(f->a), 0);
	for (int i = 0; i < 300; i++)
		alloc_ev(f, 30, 115 * S + i * 1000);
	al = only(f, AR_ALLOC_BURST);
	assert_int_equal(al->pid, 30);
	assert_int_equal(al->ab.count, 200);	/* the minimum, reached */
	assert_int_equal(al->ab.past, 75);
	assert_int_equal(al->ab.history, 15);
	assert_int_equal(al->nsamples, 1);
	assert_int_equal(al->samples[0].port, 443);
	assert_non_null(strstr(printed(f), "200 ports in one second, 40x its baseline of 5.0 a second"));
	/* within a minute: no second alert for the same process */
	for (int i = 0; i < 1000; i++)
		alloc_ev(f, 30, 130 * S + i * 1000);
	assert_int_equal(alerts__count(f->a, AR_ALLOC_BURST), 1);
}

static void test_alloc_burst_quiet(void **state)
{
	struct fixture *f = *state;

	/* the bench's connect storm: 50k at 40k a second from the start, no baseline yet */
	for (int i = 0; i < 50000; i++)
		alloc_ev(f, 40, 10 * S + i * 25000ULL);
	/* a steady 1000 a second for a minute: that is its baseline */
	for (int s = 0; s < 60; s++)
		for (int i = 0; i < 1000; i++)
			alloc_ev(f, 41, (20 + s) * S + i * 1000000ULL);
	/* a process doubling its rate: far is 10x */
	for (int s = 0; s < 20; s++)
		for (int i = 0; i < (s < 15 ? 100 : 200); i++)
			alloc_ev(f, 42, (20 + s) * S + i * 1000000ULL);
	assert_int_equal(alerts__total(f->a), 0);
}

/* ---- listen_ephemeral ------------------------------------------------------- */

static void test_listen_ephemeral(void **state)
{
	struct fixture *f = *state;
	size_t n;
	const struct alert *v;

	listen_ev(f, 50, 8080, 32768, 60999, PL_SIGF_BOUND, S);		/* outside */
	listen_ev(f, 50, 40000, 32768, 60999, PL_SIGF_BOUND | PL_SIGF_RESERVED, S);	/* reserved */
	listen_ev(f, 50, 20000, 1024, 65535, PL_SIGF_BOUND | PL_SIGF_RESERVED, S);	/* the bench's */
	listen_ev(f, 50, 40000, 0, 0, PL_SIGF_BOUND, S);			/* range unknown */
	assert_int_equal(alerts__total(f->a), 0);
	listen_ev(f, 51, 40000, 32768, 60999, PL_SIGF_BOUND, 2 * S);
	listen_ev(f, 51, 40000, 32768, 60999, PL_SIGF_BOUND, 3 * S);	/* again: once a minute */
	listen_ev(f, 52, 45001, 32768, 60999, 0, 4 * S);		/* the kernel chose it */
	listen_ev(f, 53, 45002, 0, 0, 0, 5 * S);			/* ... range unknown */
	listen_ev(f, 51, 40000, 32768, 60999, PL_SIGF_BOUND, 70 * S);	/* a minute later */
	v = alerts__kept(f->a, &n);
	assert_int_equal(alerts__count(f->a, AR_LISTEN_EPHEMERAL), 4);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].pid, 51);
	assert_int_equal(v[0].le.at.port, 40000);
	assert_int_equal(v[0].le.lo, 32768);
	assert_int_equal(v[0].le.hi, 60999);
	assert_true(v[0].le.bound);
	assert_int_equal(v[1].pid, 52);
	assert_false(v[1].le.bound);
	assert_int_equal(v[2].le.lo, 0);
	assert_int_equal(v[3].ts_ns, 70 * S);
	assert_non_null(strstr(printed(f), "reserve it (sysctl -w net.ipv4.ip_local_reserved_ports=40000)"));
}

/* ---- the engine -------------------------------------------------------------- */

static void test_off(void **state)
{
	struct alert_cfg c;
	struct fixture *f;

	(void)state;
	alert_cfg_default(&c);
	assert_int_equal(alert_cfg_parse(&c, "scan_out=off"), 0);
	assert_int_equal(alert_cfg_parse(&c, "listen_ephemeral=off"), 0);
	f = make(&c, false);
	for (int i = 0; i < 300; i++)
		connect_ev(f, 1, 1, 1 + i, S + i, false);
	listen_ev(f, 1, 40000, 32768, 60999, PL_SIGF_BOUND, S);
	assert_int_equal(alerts__total(f->a), 0);
	unmake(f);
	alert_cfg_off(&c);
	assert_false(alert_cfg_any(&c));
}

static void test_cfg_parse(void **state)
{
	struct alert_cfg c;

	(void)state;
	alert_cfg_default(&c);
	assert_int_equal(c.so_dests, 100);
	assert_int_equal(c.si_ports, 20);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:ports=5,window=60"), 0);
	assert_int_equal(c.si_ports, 5);
	assert_int_equal(c.si_window, 60);
	assert_int_equal(alert_cfg_parse(&c, "alloc_burst:factor=3,min=50,learn=20"), 0);
	assert_int_equal(c.ab_factor, 3);
	assert_int_equal(c.ab_min, 50);
	assert_int_equal(c.ab_learn, 20);
	assert_int_equal(alert_cfg_parse(&c, "scan_in=off"), 0);
	assert_false(c.on[AR_SCAN_IN]);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:ports=7"), 0);	/* thresholds turn it on */
	assert_true(c.on[AR_SCAN_IN]);
	/* refused, and nothing changed */
	assert_int_equal(alert_cfg_parse(&c, "scan_in:ports=1"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:ports=1001"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:ports=-3"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:ports=12x"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:dests=10"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in:"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan_in=maybe"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "scan=off"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "listen_ephemeral:window=5"), -EINVAL);
	assert_int_equal(alert_cfg_parse(&c, "alloc_burst:learn=60"), -EINVAL);
	assert_int_equal(c.si_ports, 7);
	assert_int_equal(c.ab_learn, 20);
}

/* Many pids, many sources, one process with a million destinations: bounded. */
static void test_bounded_state(void **state)
{
	struct fixture *f = *state;
	struct alerts_stats st;

	for (__u32 i = 0; i < 100000; i++)
		connect_ev(f, 100000 + i, i, 80, S + i * 1000ULL, false);
	for (__u32 i = 0; i < 100000; i++)
		probe_ev(f, i, IPPROTO_TCP, i % 60000 + 1, S + i * 1000ULL);
	alerts__stats(f->a, &st);
	assert_true(st.procs <= ALERT_PROCS);
	assert_true(st.sources <= ALERT_SOURCES);
	assert_int_equal(st.evicted, (100000 - ALERT_PROCS) + (100000 - ALERT_SOURCES));
	assert_int_equal(alerts__total(f->a), 0);
	/* one process, a million distinct refused destinations in one window */
	for (__u32 i = 0; i < 1000000; i++)
		connect_ev(f, 7, i / 60000 + 1, i % 60000 + 1, 200 * S + i, false);
	alerts__stats(f->a, &st);
	/* the set grew only as far as counting to the threshold needs */
	assert_true(st.set_entries <= (size_t)(ALERT_PROCS + ALERT_SOURCES) * 16 + 256);
	assert_int_equal(alerts__count(f->a, AR_SCAN_OUT), 1);
	assert_int_equal(st.untracked, 0);
}

/* A thousand scanning processes: all counted, 20 a minute printed. */
static void test_print_rate(void **state)
{
	struct fixture *f = *state;
	struct alerts_stats st;
	size_t n;

	for (__u32 p = 0; p < 1000; p++)
		for (int i = 0; i < 100; i++)
			connect_ev(f, 1 + p, p, 1 + i, S + p * 100000ULL + i, false);
	alerts__stats(f->a, &st);
	assert_int_equal(alerts__count(f->a, AR_SCAN_OUT), 1000);
	alerts__kept(f->a, &n);
	assert_int_equal(n, ALERT_PRINT_RATE);
	assert_int_equal(st.not_printed, 1000 - ALERT_PRINT_RATE);
	assert_true(alerts__pid_alerted(f->a, 1));
	assert_false(alerts__pid_alerted(f->a, 999));
}

/* Crafted times (backwards, zero, near the end of the clock): no crash, no alert from nothing. */
static void test_odd_times(void **state)
{
	struct fixture *f = *state;
	const __u64 ts[] = { 0, ~0ULL, 1, ~0ULL - S, 5 * S, 4 * S, ~0ULL / 2 };

	for (size_t k = 0; k < sizeof(ts) / sizeof(ts[0]); k++) {
		for (int i = 0; i < 30; i++) {
			alloc_ev(f, 60, ts[k]);
			probe_ev(f, 60, IPPROTO_UDP, 1 + i, ts[k]);
			listen_ev(f, 60, 40000 + k, 32768, 60999, 0, ts[k]);
		}
	}
	/* the 20 distinct ports of each second make scan_in alerts, each listener one */
	assert_true(alerts__count(f->a, AR_SCAN_IN) >= 1);
	assert_int_equal(alerts__count(f->a, AR_LISTEN_EPHEMERAL), 7);
	assert_int_equal(alerts__count(f->a, AR_ALLOC_BURST), 0);
}

/* Untrusted names: escaped in JSON, '?' on a terminal. */
static void test_hostile_comm(void **state)
{
	struct fixture *f;
	struct pl_event e;

	(void)state;
	for (int json = 0; json < 2; json++) {
		f = make(NULL, json);
		e = ev(PL_EV_SIGNAL, 9, S);
		memcpy(e.comm, "a\"b\\\n\x1b[2Jz", 11);
		e.kind = PL_SIG_LISTEN;
		e.lport = 40000;
		e.aux = 32768 | 60999u << 16;
		pipeline__event(&f->p, &e);
		assert_int_equal(alerts__total(f->a), 1);
		if (json)
			assert_non_null(strstr(printed(f), "\"comm\":\"a\\\"b\\\\\\u000a\\u001b[2Jz\""));
		else
			assert_non_null(strstr(printed(f), "pid 9 (a\"b\\?\?[2Jz)"));
		assert_null(strchr(printed(f), '\x1b'));
		unmake(f);
	}
}

/* The same events, another run (another hash seed): the same lines, word for word. */
static void test_deterministic(void **state)
{
	char *out[2];

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct fixture *f = make(NULL, true);

		for (int i = 0; i < 300; i++)
			connect_ev(f, 4242, 1 + i % 7, 1 + i, S + i * 1000ULL, i % 9 == 0);
		for (int i = 0; i < 40; i++)
			probe_ev(f, 3 + i % 2, i % 3 ? IPPROTO_TCP : IPPROTO_UDP, 100 + i, S + i);
		for (int s = 0; s < 12; s++)
			alloc_ev(f, 8, (1 + s) * S);
		for (int i = 0; i < 250; i++)
			alloc_ev(f, 8, 13 * S + i);
		listen_ev(f, 8, 50000, 32768, 60999, PL_SIGF_BOUND, 14 * S);
		alerts__summary(f->a, f->out, true);
		out[k] = strdup(printed(f));
		assert_int_equal(alerts__total(f->a), 5);
		unmake(f);
	}
	assert_string_equal(out[0], out[1]);
	free(out[0]);
	free(out[1]);
}

static void test_summary_and_blind_spots(void **state)
{
	struct fixture *f = *state;
	struct alerts_stats st;
	struct alert_cfg c;
	struct pl_event e;
	char buf[400];

	for (int i = 0; i < 120; i++)
		connect_ev(f, 4242, 1, 1 + i, S + i, false);
	/* the kernel's count of probes over its rate limit, as user space passes it on */
	e = ev(PL_EV_SIGNAL, 0, 2 * S);
	e.kind = PL_SIG_UNRECORDED;
	e.aux = 1234;
	pipeline__event(&f->p, &e);
	pipeline__event(&f->p, &e);
	alerts__stats(f->a, &st);
	assert_int_equal(st.unrecorded, 2468);
	alerts__set_sees(f->a, PL_SEES_LISTEN | PL_SEES_TCP4 | PL_SEES_TCP6 | PL_SEES_UDP4 |
			 PL_SEES_UDP_LIMITED, true);
	alerts__summary(f->a, f->out, false);
	assert_non_null(strstr(printed(f), "  2468 probes of closed ports over the in-kernel rate "
				"limit: counted, not recorded"));
	assert_non_null(strstr(printed(f), "\nalerts: 1 raised (scan_out 1, scan_in 0, "
				"alloc_burst 0, listen_ephemeral 0)\n"));
	assert_non_null(strstr(printed(f), " scan_out critical: pid 4242 (proc4242)"));
	assert_non_null(strstr(printed(f), "  not seen: no UDP probes over IPv6; UDP probes only "
				"as far as the kernel's ICMP rate limits answered them\n"));
	alert_cfg_default(&c);
	assert_string_equal(alerts_blind_spots(&c, PL_SEES_LISTEN | PL_SEES_TCP4 | PL_SEES_TCP6 |
					       PL_SEES_UDP4 | PL_SEES_UDP6, true, buf, sizeof(buf)), "");
	assert_string_equal(alerts_blind_spots(&c, 0, true, buf, sizeof(buf)),
			    "no listeners, TCP probes over IPv4, TCP probes over IPv6, UDP probes "
			    "over IPv4, UDP probes over IPv6");
	c.on[AR_SCAN_IN] = false;
	assert_string_equal(alerts_blind_spots(&c, PL_SEES_LISTEN, true, buf, sizeof(buf)), "");
	assert_non_null(strstr(alerts_blind_spots(&c, 0, false, buf, sizeof(buf)),
			       "before portlife recorded signals"));
}

/*
 * A recording's drop counts: SIGNAL's ride in the trailer's slot 0 (no event
 * type has it), the NAT watcher's losses keep slot 7; both come back, and a
 * trace older than SIGNAL events has none.
 */
static void test_trailer_drops(void **state)
{
	__u64 in[PL_EV_MAX] = { 0, 1, 2, 3, 4, 5, 6, 77 }, out[PL_EV_MAX];
	struct pl_file_trailer t = {};

	(void)state;
	t.drops[PL_TRAILER_NAT_LOST] = 9;
	trailer_put_drops(&t, in);
	assert_int_equal(t.drops[PL_TRAILER_NAT_LOST], 9);
	assert_int_equal(t.drops[PL_TRAILER_SIGNAL_DROPS], 77);
	trailer_get_drops(&t, PL_FILE_VERSION, out);
	assert_memory_equal(in, out, sizeof(in));
	trailer_get_drops(&t, 5, out);
	assert_int_equal(out[PL_EV_SIGNAL], 0);
	assert_int_equal(out[PL_EV_RELEASE], 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_out_raises_at_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_out_exact_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_out_established_unseen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_out_next_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_out_quiet_on_fanout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_out_mostly, setup, teardown),
		cmocka_unit_test(test_scan_out_thresholds),
		cmocka_unit_test_setup_teardown(test_scan_in_by_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_burst_above_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_burst_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_ephemeral, setup, teardown),
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_cfg_parse),
		cmocka_unit_test_setup_teardown(test_bounded_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_times, setup, teardown),
		cmocka_unit_test(test_hostile_comm),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test_setup_teardown(test_summary_and_blind_spots, setup, teardown),
		cmocka_unit_test(test_trailer_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
