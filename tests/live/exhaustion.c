// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Exhaustion and conflicts: EADDRNOTAVAIL from a full range, EADDRINUSE from
 * a second bind(), the holder named, and the headroom when TIME_WAIT fills
 * a range.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

/* A 10-port range; the 11th connect() to one destination fails. */
static int sc_exhaust(struct result *r)
{
	int lfd, err;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")))
		return err;
	lfd = listener(AF_INET, 5000);
	if (lfd < 0)
		return -errno;
	r->listen_port = 5000;
	for (int i = 0; i < 30; i++) {
		int c = connect_to(AF_INET, 5000, 0, 0);

		if (c == -EADDRNOTAVAIL) {
			r->fail_errno = EADDRNOTAVAIL;
			return 0;
		}
		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		r->nsucc++;	/* kept open: the range fills up */
	}
	return -ENOSPC;	/* never failed: the range was not honoured */
}

/*
 * A second bind() to a held port fails with EADDRINUSE. The port's listener
 * has 40 connections waiting to be accepted, which hold the port too, and
 * another listener has the same port on 127.0.0.2, which does not clash.
 */
#define CONFLICT_QUEUED 40

static int sc_bind_conflict(struct result *r)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *other = (struct sockaddr_in *)&ss;
	socklen_t len;
	int a, b, x, err;

	if ((err = own_netns()))
		return err;
	if ((a = bound_socket(AF_INET, 0)) < 0)
		return a;
	r->bound_port = sock_port(a);
	if (listen(a, 64))
		return -errno;
	x = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, r->bound_port);
	other->sin_addr.s_addr = htonl(0x7f000002);
	if (x < 0 || bind(x, (void *)&ss, len) || listen(x, 1))
		return -errno;
	for (int i = 0; i < CONFLICT_QUEUED; i++)
		if (connect_to(AF_INET, r->bound_port, 0, 0) < 0)
			return -errno;
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, r->bound_port);
	if (!bind(b, (void *)&ss, len))
		return -EEXIST;	/* the kernel let both have it?! */
	r->fail_errno = errno;
	sleep_ms(500);	/* the holders stay while the tracer looks */
	close(b);
	close(x);
	close(a);
	return 0;
}

/*
 * The conflict's diagnosis: the listener first, 8 holders listed, the
 * accepted connections beyond them counted by state, and not the listener
 * of the other address; one valid JSON line.
 */
static int conflict_diag_ok(struct run *run)
{
	const char *d = NULL, *h, *end;
	int listed = 0, more = CONFLICT_QUEUED + 1 - 8;

	for (int i = 0; i < run->nlines; i++)
		if (is_event(run->lines[i], "diagnosis") && jstr_is(run->lines[i], "error", "EADDRINUSE"))
			d = run->lines[i];
	if (!d)
		return fail("no EADDRINUSE diagnosis");
	if (!json_line_ok(d))
		return fail("the diagnosis is not one valid JSON line: %.300s", d);
	h = strstr(d, "\"holders\":[");
	end = h ? strchr(h, ']') : NULL;
	if (!h || !end || jnum(h, "pid") != run->child || !jstr_is(h, "state", "LISTEN") ||
	    !jstr_is(h, "laddr", "127.0.0.1"))
		return fail("the diagnosis does not name the listener (pid %d) first: %.400s",
			    run->child, d);
	for (const char *p = h; (p = strstr(p, "\"state\":")) && p < end; p++)
		listed++;
	if (listed != 8 || jnum(end, "holders_not_listed") != more ||
	    jnum(strstr(end, "not_listed_by_state") ?: end, "ESTABLISHED") != more)
		return fail("want 8 holders listed and %d ESTABLISHED not listed: %.600s", more, d);
	if (strstr(d, "127.0.0.2"))
		return fail("the listener on 127.0.0.2 does not clash, yet it is listed: %.600s", d);
	return 0;
}

static int t_exhaust(void)
{
	struct run run;
	const char *a = NULL;
	int err, nfail = 0;

	err = start(&run, sc_exhaust, "exhaustion", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRNOTAVAIL)
		err = fail("connect() did not fail with EADDRNOTAVAIL");
	if (!err && run.r.nsucc != 10)
		err = fail("%d connects succeeded in a 10-port range", run.r.nsucc);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jstr_is(l, "error", "EADDRNOTAVAIL")) {
			nfail++;
			a = l;
		}
	}
	if (!err && nfail != 1)
		err = fail("%d EADDRNOTAVAIL allocs reported, want 1", nfail);
	/* a failure makes no lease, and says the range its search walked */
	if (!err && (jnum(a, "pid") != run.child || jnum(a, "rport") != 5000 ||
		     !jstr_is(a, "kind", "connect") || jnum(a, "errno") != EADDRNOTAVAIL ||
		     jnum(a, "lease") != 0 || jnum(a, "range_lo") != 40000 ||
		     jnum(a, "range_hi") != 40009 || jbool(a, "own_range") != 0))
		err = fail("wrong failure event (child %d): %s", run.child, a);
	if (!err)
		err = check_connects(&run, AF_INET, "127.0.0.1", false);
	cleanup(&run);
	return err;
}

static int t_bind_conflict(void)
{
	struct run run;
	const char *a = NULL, *ok = NULL;
	int err;

	err = start(&run, sc_bind_conflict, "bind_conflict", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the second bind failed with %d, not EADDRINUSE", run.r.fail_errno);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jstr_is(l, "error", "EADDRINUSE"))
			a = l;
		else if (is_event(l, "alloc") && jnum(l, "lport") == run.r.bound_port &&
			 jstr_is(l, "laddr", "127.0.0.1"))
			ok = l;
	}
	if (!err && !a)
		err = fail("no EADDRINUSE alloc event");
	if (!err && (jnum(a, "pid") != run.child || jnum(a, "lport") != run.r.bound_port ||
		     !jstr_is(a, "kind", "bind")))
		err = fail("wrong EADDRINUSE event (child %d, port %d): %s", run.child,
			   run.r.bound_port, a);
	if (!err && (!ok || !jstr_is(ok, "kind", "bind_ephemeral") || jnum(ok, "pid") != run.child))
		err = fail("the first bind(0) was not reported as bind_ephemeral: %s", ok ? ok : "(none)");
	if (!err) {
		long long lease = jnum(ok, "lease");
		const char *rel = NULL;

		if (count_lease_ev(&run, "release", lease, &rel) != 1)
			err = fail("the listener's port was not released once");
	}
	if (!err)
		err = conflict_diag_ok(&run);
	/* a taken port: the remedy is its holder, not a wider range */
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child &&
		    !strstr(run.lines[i], "\"remedy\":\"bind() to a port in use"))
			err = fail("the summary's remedy is not the holder: %s", run.lines[i]);
	cleanup(&run);
	return err;
}

/*
 * A UDP bind() to a port an unconnected UDP socket holds on the wildcard
 * address: EADDRINUSE, the holder named as a UDP socket, and the UDP remedy
 * (both sockets need SO_REUSEADDR, or both SO_REUSEPORT: measured), not
 * TCP's "SO_REUSEADDR only helps against TIME_WAIT holders".
 */
static int sc_udp_bind_conflict(struct result *r)
{
	struct sockaddr_storage any, lo;
	socklen_t alen = mkaddr(&any, AF_INET, 5353), llen = mkaddr(&lo, AF_INET, 5353);
	int err, a, b;

	if ((err = own_netns()))
		return err;
	((struct sockaddr_in *)&any)->sin_addr.s_addr = htonl(INADDR_ANY);
	a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (a < 0 || b < 0 || bind(a, (void *)&any, alen))
		return -errno;
	r->bound_port = 5353;
	r->fail_errno = bind(b, (void *)&lo, llen) ? errno : 0;
	sleep_ms(300);
	return 0;
}

static int t_udp_bind_conflict(void)
{
	const char *ev = NULL, *d = NULL;
	struct run run;
	int err;

	err = start(&run, sc_udp_bind_conflict, "udp_bind_conflict", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the second UDP bind failed with %d, not EADDRINUSE", run.r.fail_errno);
	for (int i = 0; i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (is_event(l, "alloc") && jstr_is(l, "error", "EADDRINUSE"))
			ev = l;
		else if (is_event(l, "diagnosis") && jstr_is(l, "error", "EADDRINUSE"))
			d = l;
	}
	if (!err && (!ev || jnum(ev, "pid") != run.child || !jstr_is(ev, "proto", "udp") ||
		     !jstr_is(ev, "kind", "bind") || jnum(ev, "lport") != 5353))
		err = fail("no EADDRINUSE alloc event of the UDP bind to 5353: %s", ev ? ev : "(none)");
	if (!err && (!d || jnum(d, "lport") != 5353 || !strstr(d, "\"holders\":[{\"pid\":") ||
		     jnum(strstr(d, "\"holders\":["), "pid") != run.child ||
		     !strstr(d, "UDP sockets share a port only when every one of them set SO_REUSEADDR")))
		err = fail("the UDP conflict is not diagnosed with its holder and UDP's remedy: %s",
			   d ? d : "(none)");
	cleanup(&run);
	return err;
}

/*
 * bind(0) with every port of a 4-port range bound (an even count: of an odd
 * one each search misses a port) (and nothing else: no
 * iterator sees a socket that is only bound): EADDRINUSE, which is an
 * exhausted range, not a port someone holds.
 */
static int sc_bind0_exhausted(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);
	int err, s;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40003")))
		return err;
	for (int i = 0; i < 5; i++) {
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -errno;
		if (bind(s, (void *)&ss, len)) {
			r->fail_errno = errno;
			return 0;	/* the bound ones stay open until the tracer stops */
		}
		r->ports[r->nports++] = sock_port(s);
	}
	return -ENOSPC;	/* the range was not honoured */
}

static int t_bind0_exhausted(void)
{
	const char *d = NULL, *sum = NULL;
	struct run run;
	int err;

	err = start(&run, sc_bind0_exhausted, "bind0_exhausted", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (run.r.fail_errno != EADDRINUSE || run.r.nports != 4))
		err = fail("bind(0) failed with %d after %d ports, want EADDRINUSE after 4",
			   run.r.fail_errno, run.r.nports);
	for (int i = 0; !err && i < run.nlines; i++) {
		if (is_event(run.lines[i], "diagnosis"))
			d = run.lines[i];
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child)
			sum = run.lines[i];
	}
	/*
	 * The range, its 4 bound ports (listed by the kernel from 6.7, else
	 * from the leases portlife saw: counted once either way), none free;
	 * no "holder".
	 */
	if (!err && (!d || !jstr_is(d, "kind", "bind_ephemeral") || jnum(d, "range_lo") != 40000 ||
		     jnum(d, "range_hi") != 40003 ||
		     jnum(d, "in_use") + jnum(d, "bound_unlisted") != 4 ||
		     (bound_listable() && jnum(d, "in_use") != 4) ||
		     jnum(d, "free") != 0 || jfind(d, "holders")))
		err = fail("no bind(0) diagnosis of the exhausted range: %s", d ? d : "(none)");
	if (!err && (!sum || !strstr(sum, "widen net.ipv4.ip_local_port_range")))
		err = fail("the summary's remedy is not a wider range: %s", sum ? sum : "(none)");
	cleanup(&run);
	return err;
}

/*
 * A client that spreads over two source addresses (IP_BIND_ADDRESS_NO_PORT)
 * has a pool per address: 127.0.0.2's 10 ports taken, 5 of them in
 * TIME_WAIT (tcp_tw_reuse off: they block their 4-tuples), then
 * 127.0.0.1's 10 and its 11th fails; a second later, 127.0.0.2's 11th. Each
 * diagnosis must show its own source's pool, though both are full.
 */
static int src_connect(const char *src, unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);
	int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	inet_pton(AF_INET, src, &((struct sockaddr_in *)&ss)->sin_addr);
	if (setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) ||
	    bind(s, (void *)&ss, len))
		return -errno;
	len = mkaddr(&ss, AF_INET, port);
	if (connect(s, (void *)&ss, len)) {
		int e = errno;

		close(s);
		return -e;
	}
	return s;
}

static int sc_exhaust_sources(struct result *r)
{
	int lfd, err, c[10];

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")) ||
	    (err = write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "0")))
		return err;
	lfd = listener(AF_INET, 5000);
	if (lfd < 0)
		return -errno;
	for (int i = 0; i < 10; i++)
		if ((c[i] = src_connect("127.0.0.2", 5000)) < 0)
			return c[i];
	for (int i = 0; i < 5; i++)
		close(c[i]);	/* the client closes first: TIME_WAIT */
	sleep_ms(200);
	for (int i = 0; i < 11; i++) {
		int s = src_connect("127.0.0.1", 5000);

		if (s == -EADDRNOTAVAIL && i == 10)
			break;
		if (s < 0 || i == 10)
			return s < 0 ? s : -ENOSPC;
	}
	sleep_ms(1100);	/* one diagnosis a second */
	r->fail_errno = src_connect("127.0.0.2", 5000) == -EADDRNOTAVAIL ? EADDRNOTAVAIL : 0;
	sleep_ms(300);
	return 0;
}

static int t_exhaust_sources(void)
{
	const char *d1 = NULL, *d2 = NULL;
	struct run run;
	int err;

	err = start(&run, sc_exhaust_sources, "exhaust_sources", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRNOTAVAIL)
		err = fail("127.0.0.2's 11th connect() did not fail with EADDRNOTAVAIL");
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "diagnosis") || !jstr_is(l, "error", "EADDRNOTAVAIL"))
			continue;
		if (jstr_is(l, "laddr", "127.0.0.1"))
			d1 = l;
		else if (jstr_is(l, "laddr", "127.0.0.2"))
			d2 = l;
	}
	if (!err && (!d1 || jnum(d1, "in_use") != 10 || jnum(d1, "time_wait") != 0 ||
		     jnum(d1, "free") != 0))
		err = fail("127.0.0.1's failure is not diagnosed from its own pool (10 in use, "
			   "none in TIME_WAIT): %s", d1 ? d1 : "(none)");
	if (!err && (!d2 || jnum(d2, "in_use") != 10 || jnum(d2, "time_wait") != 5 ||
		     jnum(d2, "free") != 0))
		err = fail("127.0.0.2's failure is not diagnosed from its own pool (10 in use, "
			   "5 in TIME_WAIT): %s", d2 ? d2 : "(none)");
	cleanup(&run);
	return err;
}

/*
 * UDP's automatic ports come from one pool per netns, whatever the
 * destination, and from the whole range (40000-40002: three, where TCP's
 * searches would stop at two): a fourth UDP connect() fails with EAGAIN
 * (inet_autobind()), then a UDP bind(0) with EADDRINUSE. A second apart: the
 * tracer diagnoses one failure a second.
 */
#define UDP_DEST_PORT 9

static int sc_udp_exhausted(struct result *r)
{
	struct sockaddr_storage dst, any;
	socklen_t dlen = mkaddr(&dst, AF_INET, UDP_DEST_PORT), alen = mkaddr(&any, AF_INET, 0);
	int err, s;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40002")))
		return err;
	for (int i = 0; i < 5 && !r->fail_errno; i++) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -errno;
		if (connect(s, (void *)&dst, dlen))
			r->fail_errno = errno;
		else
			r->ports[r->nports++] = sock_port(s);	/* kept: the pool empties */
	}
	sleep_ms(1100);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	r->fail_errno2 = bind(s, (void *)&any, alen) ? errno : 0;
	sleep_ms(300);
	return 0;
}

/* A diagnosis of an empty UDP pool: kind, protocol, range, 3 in use, none free. */
static const char *udp_pool_diag(struct run *run, const char *error, const char *kind)
{
	for (int i = 0; i < run->nlines; i++) {
		const char *l = run->lines[i];

		if (is_event(l, "diagnosis") && jstr_is(l, "error", error) &&
		    jnum(l, "pid") == run->child && jstr_is(l, "kind", kind) &&
		    jstr_is(l, "proto", "udp") && jnum(l, "range_lo") == 40000 &&
		    jnum(l, "range_hi") == 40002 &&
		    jnum(l, "in_use") + jnum(l, "bound_unlisted") == 3 && jnum(l, "free") == 0)
			return l;
	}
	return NULL;
}

static int t_udp_exhausted(void)
{
	const char *ev = NULL;
	struct run run;
	int err;

	err = start(&run, sc_udp_exhausted, "udp_exhausted", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (run.r.fail_errno != EAGAIN || run.r.nports != 3 ||
		     run.r.fail_errno2 != EADDRINUSE))
		err = fail("UDP connect() failed with %d after %d ports, bind(0) with %d: want "
			   "EAGAIN after 3, then EADDRINUSE", run.r.fail_errno, run.r.nports,
			   run.r.fail_errno2);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		/* the EAGAIN, or else (for the message) any failure of the child's */
		if (is_event(l, "alloc") && jnum(l, "pid") == run.child && jfind(l, "error") &&
		    (!ev || jstr_is(l, "error", "EAGAIN")))
			ev = l;
	}
	/* the failed autobind, where its connect() was going: every mode names it */
	if (!err && (!ev || !jstr_is(ev, "error", "EAGAIN") || !jstr_is(ev, "kind", "autobind") ||
		     !jstr_is(ev, "proto", "udp") || jnum(ev, "rport") != UDP_DEST_PORT ||
		     !jstr_is(ev, "raddr", "127.0.0.1")))
		err = fail("no EAGAIN alloc event of the UDP connect(); a failure seen: %s",
			   ev ? ev : "(none)");
	if (!err && !udp_pool_diag(&run, "EAGAIN", "autobind"))
		err = fail("no diagnosis of the UDP connect()'s EAGAIN with the UDP pool empty");
	if (!err && !udp_pool_diag(&run, "EADDRINUSE", "bind_ephemeral"))
		err = fail("no diagnosis of the UDP bind(0)'s EADDRINUSE with the UDP pool empty");
	/* the summary ends with the pools half used or more: this one, full; not TCP's */
	if (!err) {
		const char *room = NULL, *tcp = NULL, *d = udp_pool_diag(&run, "EAGAIN", "autobind");

		for (int i = 0; i < run.nlines; i++)
			if (is_event(run.lines[i], "bind_headroom") &&
			    jnum(run.lines[i], "netns") == jnum(d, "netns")) {
				if (jstr_is(run.lines[i], "proto", "udp"))
					room = run.lines[i];
				else
					tcp = run.lines[i];
			}
		if (!room || jnum(room, "in_use") != 3 || jnum(room, "free") != 0 || tcp)
			err = fail("the summary does not end with the full UDP pool (and only it): "
				   "%s", room ? room : tcp ? tcp : "(none)");
	}
	cleanup(&run);
	return err;
}

/*
 * A server restarted over the connections it closed first: its port held by
 * TIME_WAIT sockets alone, the new bind() fails with EADDRINUSE (the
 * listener had no SO_REUSEADDR, and neither do its timewait sockets). The
 * diagnosis lists them and its remedy is SO_REUSEADDR, not "the holder
 * must close it".
 */
static int sc_bind_over_tw(struct result *r)
{
	int err, lfd, b;
	struct sockaddr_storage ss;
	socklen_t len;

	if ((err = own_netns()))
		return err;
	if ((lfd = bound_socket(AF_INET, 0)) < 0)
		return lfd;
	r->bound_port = sock_port(lfd);
	if (listen(lfd, 8))
		return -errno;
	for (int i = 0; i < 3; i++) {
		int c = connect_to(AF_INET, r->bound_port, 0, 0), a;

		if (c < 0)
			return c;
		a = accept(lfd, NULL, NULL);
		if (a < 0)
			return -errno;
		close(a);	/* the server closes first: TIME_WAIT on its port */
		r->ports[r->nports++] = sock_port(c);
	}
	sleep_ms(100);
	close(lfd);
	len = mkaddr(&ss, AF_INET, r->bound_port);
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (b < 0)
		return -errno;
	r->fail_errno = bind(b, (void *)&ss, len) ? errno : 0;
	sleep_ms(300);
	return 0;
}

static int t_bind_over_tw(void)
{
	const char *d = NULL;
	struct run run;
	int err;

	err = start(&run, sc_bind_over_tw, "bind_over_tw", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("bind() over TIME_WAIT gave %d, want EADDRINUSE", run.r.fail_errno);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "diagnosis") && jnum(run.lines[i], "pid") == run.child)
			d = run.lines[i];
	if (!err && (!d || !jstr_is(d, "error", "EADDRINUSE") ||
		     jnum(d, "lport") != run.r.bound_port || !strstr(d, "\"state\":\"TIME_WAIT\"") ||
		     strstr(d, "\"state\":\"LISTEN\"") ||
		     !strstr(d, "only TIME_WAIT sockets hold it") || !strstr(d, "SO_REUSEADDR")))
		err = fail("the bind() over TIME_WAIT is not diagnosed as such: %s", d ? d : "(none)");
	cleanup(&run);
	return err;
}

/*
 * A client that binds its source port by number, then connects: first to a
 * destination that port is still connected to, then (the connection closed
 * first by this side) to one it is in TIME_WAIT with. connect() fails with
 * EADDRNOTAVAIL both times, with no port search: the 4-tuple is in use.
 */
static int bound_client(unsigned short port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, port);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (void *)&ss, len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int sc_tuple_in_use(struct result *r)
{
	struct sockaddr_storage dst;
	socklen_t dlen;
	int lfd, c1, c2, c3, a, tmp, err;

	if ((err = own_netns()))
		return err;
	/*
	 * A bound port's connect() takes over a TIME_WAIT that saw timestamps
	 * (whatever tcp_tw_reuse says): without them, this namespace's stays.
	 */
	if ((err = write_file("/proc/sys/net/ipv4/tcp_timestamps", "0")))
		return err;
	if ((lfd = listener(AF_INET, 0)) < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	dlen = mkaddr(&dst, AF_INET, r->listen_port);
	/* a port named by the client: one bind(0) gave, free again */
	if ((tmp = bound_socket(AF_INET, 0)) < 0)
		return tmp;
	r->bound_port = sock_port(tmp);
	close(tmp);
	if ((c1 = bound_client(r->bound_port)) < 0)
		return c1;
	if (connect(c1, (void *)&dst, dlen) || (a = accept(lfd, NULL, NULL)) < 0)
		return -errno;
	if ((c2 = bound_client(r->bound_port)) < 0)
		return c2;
	r->conn_ns[0] = now_ns();
	r->fail_errno = connect(c2, (void *)&dst, dlen) ? errno : 0;
	r->conn_ns[1] = now_ns();
	close(c2);
	/* the diagnosis says one failure a second: the second one waits its turn */
	sleep_ms(1100);
	close(c1);	/* this side first: TIME_WAIT on the 4-tuple */
	sleep_ms(50);
	close(a);
	sleep_ms(50);
	if ((c3 = bound_client(r->bound_port)) < 0)
		return c3;
	r->conn_ns[2] = now_ns();
	r->fail_errno2 = connect(c3, (void *)&dst, dlen) ? errno : 0;
	r->conn_ns[3] = now_ns();
	close(c3);
	close(lfd);
	sleep_ms(300);
	return 0;
}

/*
 * Both failures are told as connect() failures from the bound port to the
 * destination, lease 0, tuple_in_use, with no range (no search walked one),
 * within their calls; each diagnosis names the socket on that 4-tuple (the
 * open connection, then the TIME_WAIT) and a remedy that fits it (not
 * "widen ip_local_port_range"); the process's summary counts them apart
 * from failed searches (tuple_in_use, not failures), and its remedy says the
 * same. Before,
 * the exact modes told them as port exhaustion, and the tracepoint mode not
 * at all. --no-syscall-hooks: not seen (only connect()'s exit tells them).
 */
static int t_tuple_in_use(void)
{
	const char *diag[2] = {}, *fails[2] = {}, *sum = NULL;
	char prom[96], *extra[] = { "--metrics-file", prom, NULL };
	int nd = 0, nf = 0, err;
	struct run run;

	snprintf(prom, sizeof(prom), "/tmp/portlife-tuple-%d.prom", (int)getpid());
	err = start(&run, sc_tuple_in_use, "tuple_in_use", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	if (!err && (run.r.fail_errno != EADDRNOTAVAIL || run.r.fail_errno2 != EADDRNOTAVAIL))
		err = fail("the bound connect()s gave %d and %d, want EADDRNOTAVAIL", run.r.fail_errno,
			   run.r.fail_errno2);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (jnum(l, "pid") != run.child)
			continue;
		if (is_event(l, "diagnosis") && nd < 2)
			diag[nd++] = l;
		else if (is_event(l, "alloc") && jfind(l, "error") && nf < 2)
			fails[nf++] = l;
		else if (is_event(l, "summary"))
			sum = l;
	}
	for (int k = 0; !err && k < 2; k++) {
		const char *f = fails[k], *d = diag[k];
		long long ts = f ? jnum(f, "ts_ns") : 0;

		if (!f || !jstr_is(f, "error", "EADDRNOTAVAIL") || !jstr_is(f, "kind", "connect") ||
		    jnum(f, "lport") != run.r.bound_port || jnum(f, "rport") != run.r.listen_port ||
		    !jstr_is(f, "raddr", "127.0.0.1") || jnum(f, "lease") != 0 ||
		    !strstr(f, "\"tuple_in_use\":true") || jfind(f, "range_lo"))
			err = fail("failure %d: not told as a bound port's connect() with its 4-tuple in "
				   "use: %s", k + 1, f ? f : "(none)");
		else if (ts < run.r.conn_ns[2 * k] || ts > run.r.conn_ns[2 * k + 1])
			err = fail("failure %d at %lld, outside its connect() [%lld, %lld]", k + 1, ts,
				   run.r.conn_ns[2 * k], run.r.conn_ns[2 * k + 1]);
		else if (!d || !jstr_is(d, "error", "EADDRNOTAVAIL") ||
			 !strstr(d, "\"tuple_in_use\":true") || jnum(d, "lport") != run.r.bound_port ||
			 !strstr(d, k ? "\"state\":\"TIME_WAIT\"" : "\"state\":\"ESTABLISHED\"") ||
			 !strstr(d, k ? "tcp_timestamps" : "one connection per destination") ||
			 strstr(d, "ip_local_port_range"))
			err = fail("failure %d: diagnosis does not name the %s on the 4-tuple: %s", k + 1,
				   k ? "TIME_WAIT" : "open connection", d ? d : "(none)");
	}
	/* no search failed: counted apart (the metrics' exhaustion alert reads failures) */
	if (!err && (!sum || jnum(sum, "failures") != 0 || jnum(sum, "tuple_in_use") != 2 ||
		     !strstr(sum, "one connection per destination")))
		err = fail("the process's summary: %s", sum ? sum : "(none)");
	/* nor in the failures the exhaustion alert reads */
	if (!err && (!file_has(prom, "portlife_connect_tuple_in_use_total{comm=\"livetest\"} 2") ||
		     file_has(prom, "portlife_allocation_failures_total{comm=\"livetest\"")))
		err = fail("the metrics count the 4-tuple failures as failed searches: see %s", prom);
	if (!err)
		unlink(prom);
	cleanup(&run);
	return err;
}

/* A TCP socket of family fam bound to addr:port (v6only as given for IPv6), or -errno. */
static int bind_tcp(int fam, const char *addr, unsigned short port, int v6only)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, fam, port);
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (fam == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
		err = inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		err = inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	if (err != 1 || bind(fd, (void *)&ss, len)) {
		err = err != 1 ? -EINVAL : -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * bind() of IPv4 ports held across families: first by an IPv6 listener on
 * [::] without IPV6_V6ONLY (dual stack), then by an IPv4 socket, while an
 * IPv6 socket on ::1 has the same port number (which holds no IPv4 port).
 */
static int sc_dual_stack(struct result *r)
{
	int l6, a4, b6, x, err;

	if ((err = own_netns()))
		return err;
	if ((l6 = bind_tcp(AF_INET6, "::", 0, 0)) < 0)
		return l6;
	if (listen(l6, 4))
		return -errno;
	r->bound_port = sock_port(l6);
	x = bind_tcp(AF_INET, "127.0.0.1", r->bound_port, 0);
	r->fail_errno = x < 0 ? -x : 0;
	if (x >= 0)
		close(x);
	sleep_ms(1100);	/* a diagnosis a second */
	if ((a4 = bind_tcp(AF_INET, "127.0.0.1", 0, 0)) < 0)
		return a4;
	r->listen_port = sock_port(a4);
	if ((b6 = bind_tcp(AF_INET6, "::1", r->listen_port, 1)) < 0)
		return b6;
	x = bind_tcp(AF_INET, "127.0.0.1", r->listen_port, 0);
	r->fail_errno2 = x < 0 ? -x : 0;
	if (x >= 0)
		close(x);
	sleep_ms(300);
	close(b6);
	close(a4);
	close(l6);
	return 0;
}

/*
 * The first conflict's diagnosis names the IPv6 listener and says why it
 * holds an IPv4 port (dual stack: IPV6_V6ONLY), not "the holder must close
 * it"; the second lists the IPv4 socket alone (the one on ::1 holds no IPv4
 * port: listed, it was a wrong lead).
 */
static int t_dual_stack(void)
{
	const char *d[2] = {};
	struct run run;
	int nd = 0, err;

	err = start(&run, sc_dual_stack, "dual_stack", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 500);
	if (!err && (run.r.fail_errno != EADDRINUSE || run.r.fail_errno2 != EADDRINUSE))
		err = fail("the binds gave %d and %d, want EADDRINUSE", run.r.fail_errno,
			   run.r.fail_errno2);
	for (int i = 0; !err && i < run.nlines && nd < 2; i++)
		if (is_event(run.lines[i], "diagnosis") && jnum(run.lines[i], "pid") == run.child)
			d[nd++] = run.lines[i];
	if (!err && (!d[0] || jnum(d[0], "lport") != run.r.bound_port ||
		     !strstr(d[0], "\"state\":\"LISTEN\",\"laddr\":\"::\"") ||
		     !strstr(d[0], "IPV6_V6ONLY")))
		err = fail("the dual-stack holder is not diagnosed as such: %s", d[0] ? d[0] : "(none)");
	if (!err && (!d[1] || jnum(d[1], "lport") != run.r.listen_port ||
		     !strstr(d[1], "\"laddr\":\"127.0.0.1\"") || strstr(d[1], "\"laddr\":\"::1\"") ||
		     strstr(d[1], "IPV6_V6ONLY")))
		err = fail("the IPv4 conflict lists an IPv6 socket that cannot hold it: %s",
			   d[1] ? d[1] : "(none)");
	cleanup(&run);
	return err;
}

static unsigned short held_port;

/* bind() to the port a process that predates portlife holds. */
static int sc_conflict(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, held_port);
	int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	prctl(PR_SET_NAME, "pl-latecomer");
	r->bound_port = held_port;
	if (!bind(b, (void *)&ss, len))
		return -EEXIST;
	r->fail_errno = errno;
	close(b);
	sleep_ms(300);
	return 0;
}

static int t_holder_before(void)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 0);
	int p[2], err = 0, found = 0;
	struct run run;
	pid_t holder;
	char c;

	if (pipe(p))
		return fail("pipe");
	holder = fork();
	if (holder == 0) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unsigned short port;

		prctl(PR_SET_NAME, "pl-holder");
		if (bind(fd, (void *)&ss, len) || listen(fd, 4))
			_exit(1);
		port = sock_port(fd);
		if (write(p[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &held_port, sizeof(held_port)) != sizeof(held_port))
		err = fail("the holder did not start");
	close(p[0]);
	sleep_ms(100);
	char out[300], portbuf[16];
	char *who[] = { "portlife", "who", portbuf, "--json", NULL };

	/* a namespace of its own, made for this: the failure is not in it */
	char other_ns[64];
	char *who_ns[] = { "portlife", "who", portbuf, "--json", "--netns", other_ns, NULL };
	pid_t second = -1, nsp = fork();

	if (nsp == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(1);
		pause();
		_exit(0);
	}
	snprintf(other_ns, sizeof(other_ns), "/proc/%d/ns/net", nsp);
	sleep_ms(50);	/* unshared by then */

	/*
	 * A second portlife (a DaemonSet's beside this one): it publishes the
	 * same failure, which `who` shows once.
	 */
	snprintf(out, sizeof(out), "%s/holder_before_second.err", tmpdir);
	if (!err && (second = fork()) == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(portlife, portlife, "-s", "-d", "30", "--mode", mode ? mode : "auto", NULL);
		_exit(127);
	}
	for (int t = 0; second > 0 && t < 200 && !file_has(out, "Tracing"); t++)
		sleep_ms(50);
	if (!err && (second < 0 || !file_has(out, "Tracing")))
		err = fail("the second portlife did not start: see %s", out);
	if (!err)
		err = start(&run, sc_conflict, "holder_before", NULL);
	if (!err)
		err = drive(&run);
	/* `portlife who` while tracing: the holder now, and the failure just seen */
	sleep_ms(1500);
	snprintf(portbuf, sizeof(portbuf), "%u", held_port);
	snprintf(out, sizeof(out), "%s/holder_before_who.json", tmpdir);
	if (!err && run_capture(who, out))
		err = fail("portlife who failed");
	if (!err) {
		int n = 0, nl = 0;
		char **v = file_lines(out, &nl);

		for (int i = 0; i < nl; i++)
			n += is_event(v[i], "failure") && jnum(v[i], "pid") == run.child;
		free_lines(v, nl);
		if (n != 1)
			err = fail("who %u shows the failure of %d %d times, seen by two tracers: "
				   "want once", held_port, run.child, n);
	}
	if (!err) {
		char out_ns[300];

		snprintf(out_ns, sizeof(out_ns), "%s/holder_before_who_ns.json", tmpdir);
		if (run_capture(who_ns, out_ns))
			err = fail("portlife who --netns failed");
		else if (file_has(out_ns, "\"failure\""))
			err = fail("who %u --netns %s shows a failure of another namespace: %s",
				   held_port, other_ns, out_ns);
	}
	if (second > 0) {
		kill(second, SIGINT);
		waitpid(second, NULL, 0);
	}
	if (nsp > 0) {
		kill(nsp, SIGKILL);
		waitpid(nsp, NULL, 0);
	}
	if (!err) {
		/* find_line() returns a static buffer: one look at a time */
		const char *l = find_line(out, "socket", "pid", holder), *fl;

		if (!l || !jstr_is(l, "comm", "pl-holder") || jnum(l, "lport") != held_port)
			err = fail("who %u does not show holder %d: %s", held_port, holder, out);
		else if (!(fl = find_line(out, "failure", "pid", run.child)) ||
			 !jstr_is(fl, "error", "EADDRINUSE") || !jstr_is(fl, "comm", "pl-latecomer"))
			err = fail("who %u does not show the recent failure of %d: %s", held_port,
				   run.child, out);
	}
	stop(&run, 0);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the second bind failed with %d, not EADDRINUSE", run.r.fail_errno);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i], *h;

		if (!is_event(l, "diagnosis") || !jstr_is(l, "error", "EADDRINUSE"))
			continue;
		if (jnum(l, "pid") != run.child || !jstr_is(l, "comm", "pl-latecomer") ||
		    jnum(l, "lport") != held_port)
			err = fail("diagnosis names the wrong failing process: %s", l);
		h = strstr(l, "\"holders\":[");
		if (!err && (!h || jnum(h, "pid") != holder || !jstr_is(h, "comm", "pl-holder") ||
			     !jstr_is(h, "state", "LISTEN")))
			err = fail("diagnosis does not name holder %d (pl-holder): %s", holder, l);
		found++;
	}
	(void)c;
	if (!err && found != 1)
		err = fail("%d EADDRINUSE diagnoses, want 1", found);
	cleanup(&run);
	return err;
}

/*
 * A 20-port range and one destination: connect and close first until
 * connect() fails; every port of it sits in TIME_WAIT. A second destination
 * of the same netns keeps its headroom.
 */
static int sc_tw_exhaust(struct result *r)
{
	int la, lb, cb, err;

	if ((err = own_netns()) ||
	    (err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40019")) ||
	    (err = write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "0")))
		return err;
	la = listener(AF_INET, 5000);
	lb = listener(AF_INET, 5001);
	if (la < 0 || lb < 0)
		return -errno;
	r->listen_port = 5000;
	cb = connect_to(AF_INET, 5001, 0, 0);	/* B keeps one connection */
	if (cb < 0)
		return cb;
	for (int i = 0; i < 40; i++) {
		int c = connect_to(AF_INET, 5000, 0, 0), a;

		if (c == -EADDRNOTAVAIL) {
			r->fail_errno = EADDRNOTAVAIL;
			return 0;	/* stay, with TIME_WAIT held, for the checks */
		}
		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(la, NULL, NULL);
		close(c);
		close(a);
	}
	return -ENOSPC;
}

static int t_tw_exhaust(void)
{
	char out[300], ns[32];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", "--netns", ns,
			 NULL };
	const char *l, *diag = NULL;
	struct run run;
	int err;

	err = start(&run, sc_tw_exhaust, "tw_exhaustion", NULL);
	if (!err)
		err = drive(&run);
	/* the child still holds its netns: look at it before stopping */
	snprintf(ns, sizeof(ns), "%lu", netns_of(run.child));
	snprintf(out, sizeof(out), "%s/tw_exhaustion_headroom.json", tmpdir);
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --headroom failed");
	stop(&run, 1000);
	if (!err && run.r.fail_errno != EADDRNOTAVAIL)
		err = fail("connect() never failed with EADDRNOTAVAIL");
	if (!err && !(l = find_line(out, "headroom", "rport", 5000)))
		err = fail("no headroom for destination :5000 in %s", out);
	else if (!err && (jnum(l, "free") != 0 || jnum(l, "in_use") != run.r.nports ||
			  jnum(l, "time_wait") != run.r.nports || jnum(l, "usable") != 20))
		err = fail("destination :5000 (%d ports used): %s", run.r.nports, l);
	if (!err && !(l = find_line(out, "headroom", "rport", 5001)))
		err = fail("no headroom for the second destination :5001 in %s", out);
	else if (!err && (jnum(l, "free") != 19 || jnum(l, "in_use") != 1))
		err = fail("second destination :5001 should have 19 free: %s", l);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "diagnosis") && jstr_is(run.lines[i], "error", "EADDRNOTAVAIL"))
			diag = run.lines[i];
	if (!err && (!diag || jnum(diag, "pid") != run.child || jnum(diag, "free") != 0 ||
		     jnum(diag, "time_wait") != run.r.nports || jnum(diag, "rport") != 5000))
		err = fail("EADDRNOTAVAIL not attributed with 0 free and %d TIME_WAIT: %s",
			   run.r.nports, diag ? diag : "(no diagnosis)");
	cleanup(&run);
	return err;
}

/*
 * A 10-port range, all of it in TIME_WAIT to one loopback destination (the
 * client closed first), and tcp_tw_reuse at its default, 2: a second and a
 * half later connect() takes one over (the kernel's tcp_twsk_unique()), so
 * headroom counts them free (tw_reusable), where it said 100% used.
 */
static int sc_tw_reusable(struct result *r)
{
	int l, err;

	if ((err = own_netns()) ||
	    (err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")) ||
	    (err = write_file("/proc/sys/net/ipv4/tcp_tw_reuse", "2")))
		return err;
	l = listener(AF_INET, 5000);
	if (l < 0)
		return -errno;
	for (int i = 0; i < 10; i++) {
		int c = connect_to(AF_INET, 5000, 0, 0), a;

		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
		a = accept(l, NULL, NULL);
		close(c);
		close(a);
	}
	sleep_ms(1500);
	/* the kernel's word: an 11th connect() takes a TIME_WAIT port over */
	r->nsucc = connect_to(AF_INET, 5000, 0, 0) >= 0;
	return 0;
}

static int t_tw_reusable(void)
{
	char out[300], ns[32];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", "--netns", ns,
			 NULL };
	char *text[] = { "portlife", "ports", "--headroom", "--sample", "0", "--netns", ns, NULL };
	char tout[300];
	const char *l = NULL;
	struct run run;
	int err;

	err = start(&run, sc_tw_reusable, "tw_reusable", NULL);
	if (!err)
		err = drive(&run);
	snprintf(ns, sizeof(ns), "%lu", netns_of(run.child));
	snprintf(out, sizeof(out), "%s/tw_reusable_headroom.json", tmpdir);
	snprintf(tout, sizeof(tout), "%s/tw_reusable_headroom.txt", tmpdir);
	if (!err && (run_capture(argv, out) || run_capture(text, tout)))
		err = fail("portlife ports --headroom failed");
	stop(&run, 700);
	/* the table says why FREE is not the complement of IN_USE */
	if (!err && !file_has(tout, "TIME_WAIT ports that net.ipv4.tcp_tw_reuse lets"))
		err = fail("the headroom table does not say FREE counts reusable TIME_WAIT: %s",
			   tout);
	if (!err && (run.r.nports != 10 || !run.r.nsucc))
		err = fail("%d ports, then the 11th connect() %s: want 10, then a TIME_WAIT taken over",
			   run.r.nports, run.r.nsucc ? "worked" : "failed");
	if (!err && !(l = find_line(out, "headroom", "rport", 5000)))
		err = fail("no headroom for destination :5000 in %s", out);
	if (!err && (jnum(l, "in_use") != 10 || jnum(l, "time_wait") < 9 ||
		     jnum(l, "tw_reusable") != jnum(l, "time_wait") || jnum(l, "usable") != 10 ||
		     jnum(l, "free") != 10 - (jnum(l, "in_use") - jnum(l, "tw_reusable"))))
		err = fail("TIME_WAIT ports connect() takes over are not counted free: %s", l);
	cleanup(&run);
	return err;
}

/*
 * A 5-port range (odd) and ten destinations, each connected to until
 * connect() fails, the connections kept: every search walks 4 ports from a
 * start that depends on the destination, so each gets 4 or 5, the range's
 * last port among them for most (measured on 6.18: 17 of 20). Headroom
 * counted the range as 4 ports and left 40004 out: "4 in use, 0 free" for
 * a destination holding 5.
 */
#define ODD_DESTS 10

static int sc_odd_range(struct result *r)
{
	int err;

	if ((err = own_netns()) ||
	    (err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40004")))
		return err;
	for (int d = 0; d < ODD_DESTS; d++)
		if (listener(AF_INET, 5000 + d) < 0)
			return -errno;
	for (int d = 0; d < ODD_DESTS; d++) {
		for (int i = 0; i < 6; i++) {
			int c = connect_to(AF_INET, 5000 + d, 0, 0);

			if (c == -EADDRNOTAVAIL)
				break;
			if (c < 0)
				return c;
			r->odd_n[d]++;	/* kept open */
			r->ports[r->nports++] = sock_port(c);
		}
	}
	return 0;
}

static int t_odd_range(void)
{
	char out[300], ns[32];
	char *argv[] = { "portlife", "ports", "--headroom", "--json", "--sample", "0", "--netns", ns,
			 NULL };
	struct run run;
	int err, last = 0;

	err = start(&run, sc_odd_range, "odd_range", NULL);
	if (!err)
		err = drive(&run);
	snprintf(ns, sizeof(ns), "%lu", netns_of(run.child));
	snprintf(out, sizeof(out), "%s/odd_range_headroom.json", tmpdir);
	if (!err && run_capture(argv, out))
		err = fail("portlife ports --headroom failed");
	stop(&run, 700);
	for (int i = 0; i < run.r.nports; i++)
		last += run.r.ports[i] == 40004;
	for (int d = 0; !err && d < ODD_DESTS; d++) {
		const char *l = find_line(out, "headroom", "rport", 5000 + d);
		int n = run.r.odd_n[d];

		if (n < 4 || n > 5)
			err = fail(":%d got %d ports of 40000-40004: want 4 or 5", 5000 + d, n);
		else if (!l)
			err = fail("no headroom for destination :%d in %s", 5000 + d, out);
		else if (jnum(l, "in_use") != n || jnum(l, "usable") != 5 || jnum(l, "free") != 5 - n)
			err = fail(":%d holds %d ports of 5 (40004 taken %d times in all): %s",
				   5000 + d, n, last, l);
	}
	cleanup(&run);
	return err;
}

/*
 * A socket's own IP_LOCAL_PORT_RANGE (6.3+) narrows its search inside the
 * netns's range: connect() fails with EADDRNOTAVAIL, bind(0) with
 * EADDRINUSE and a UDP connect() with EAGAIN while the netns has hundreds
 * of ports free. Each failure is diagnosed from the socket's range, not
 * the netns's ("928 free" and "widen ip_local_port_range", before). A
 * kernel without the option (setsockopt: ENOPROTOOPT) runs the same
 * searches with the netns's range narrowed instead, and the events carry
 * that. A second apart: the tracer diagnoses one failure a second.
 */
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* sock's search narrowed to [lo, hi]: its own range, or the netns's before 6.3 */
static int own_narrow(int s, struct result *r, int step)
{
	__u32 v = r->own_lo[step] | (__u32)r->own_hi[step] << 16;
	char buf[32];

	if (!r->no_sock_range && !setsockopt(s, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &v, sizeof(v)))
		return 0;
	if (!r->no_sock_range && errno != ENOPROTOOPT)
		return -errno;
	if (!r->no_sock_range && kernel_at_least(6, 3))
		return -ENOPROTOOPT;	/* the option is there from 6.3: a refusal is a bug */
	r->no_sock_range = true;
	/* an even count: of an odd netns range each connect() search misses a port */
	if ((r->own_hi[step] - r->own_lo[step]) % 2 == 0)
		r->own_hi[step]--;
	snprintf(buf, sizeof(buf), "%u %u", r->own_lo[step], r->own_hi[step]);
	return write_file("/proc/sys/net/ipv4/ip_local_port_range", buf);
}

static int sc_own_range(struct result *r)
{
	static const unsigned short lo[3] = { 40010, 40020, 40030 }, hi[3] = { 40014, 40023, 40032 };
	static const int type[3] = { SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM };
	struct sockaddr_storage tcp_dst, udp_dst, any;
	socklen_t tlen = mkaddr(&tcp_dst, AF_INET, 5000), ulen = mkaddr(&udp_dst, AF_INET, 9);
	socklen_t alen = mkaddr(&any, AF_INET, 0);
	int err, s, rc;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40999")))
		return err;
	if (listener(AF_INET, 5000) < 0)
		return -errno;
	for (int step = 0; step < 3; step++) {
		r->own_lo[step] = lo[step];
		r->own_hi[step] = hi[step];
		if (step)
			sleep_ms(1100);
		for (int i = 0; i < 16 && !r->own_errno[step]; i++) {
			s = socket(AF_INET, type[step] | SOCK_CLOEXEC, 0);
			if (s < 0)
				return -errno;
			if ((err = own_narrow(s, r, step)))
				return err;
			/* kept open: the range fills up */
			if (step == 1)
				rc = bind(s, (void *)&any, alen);
			else
				rc = connect(s, step ? (void *)&udp_dst : (void *)&tcp_dst,
					     step ? ulen : tlen);
			if (rc)
				r->own_errno[step] = errno;
			else
				r->own_port[step][r->own_n[step]++] = sock_port(s);
		}
	}
	sleep_ms(300);
	return 0;
}

/* The child's failed alloc event of kind with error, or NULL. */
static const char *own_fail_ev(struct run *run, const char *kind, const char *error)
{
	for (int i = 0; i < run->nlines; i++)
		if (is_event(run->lines[i], "alloc") && jnum(run->lines[i], "pid") == run->child &&
		    jstr_is(run->lines[i], "kind", kind) && jstr_is(run->lines[i], "error", error))
			return run->lines[i];
	return NULL;
}

static const char *own_diag(struct run *run, const char *error)
{
	for (int i = 0; i < run->nlines; i++)
		if (is_event(run->lines[i], "diagnosis") && jnum(run->lines[i], "pid") == run->child &&
		    jstr_is(run->lines[i], "error", error))
			return run->lines[i];
	return NULL;
}

static int t_own_range(void)
{
	static const char *kinds[3] = { "connect", "bind_ephemeral", "autobind" };
	static const char *errs[3] = { "EADDRNOTAVAIL", "EADDRINUSE", "EAGAIN" };
	static const int errnos[3] = { EADDRNOTAVAIL, EADDRINUSE, EAGAIN };
	struct run run;
	int err;

	err = start(&run, sc_own_range, "own_range", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	for (int k = 0; !err && k < 3; k++) {
		const struct result *r = &run.r;
		const bool own = !r->no_sock_range;
		const char *ev = own_fail_ev(&run, kinds[k], errs[k]), *d = own_diag(&run, errs[k]);

		if (r->own_errno[k] != errnos[k] || !r->own_n[k])
			err = fail("%s in %u-%u: %d ports, then errno %d: want some, then %s", kinds[k],
				   r->own_lo[k], r->own_hi[k], r->own_n[k], r->own_errno[k], errs[k]);
		for (int i = 0; !err && i < r->own_n[k]; i++)
			if (r->own_port[k][i] < r->own_lo[k] || r->own_port[k][i] > r->own_hi[k])
				err = fail("%s got port %u outside %u-%u: the range was not honoured",
					   kinds[k], r->own_port[k][i], r->own_lo[k], r->own_hi[k]);
		/* the failure names the range its search walked, and makes no lease */
		if (!err && (!ev || jnum(ev, "lease") != 0 || jnum(ev, "range_lo") != r->own_lo[k] ||
			     jnum(ev, "range_hi") != r->own_hi[k] ||
			     jbool(ev, "own_range") != own))
			err = fail("the %s failure's event lacks lease 0, range %u-%u, own_range %d: %s",
				   kinds[k], r->own_lo[k], r->own_hi[k], own, ev ? ev : "(none)");
		if (err)
			break;
		if (!d) {
			err = fail("no diagnosis of the %s failure", kinds[k]);
			break;
		}
		/*
		 * Counted in the range searched: every port the kernel gave. A
		 * socket's own range counts whole (of 5 ports 6.12 and later
		 * take all, 6.1 4 or 5: each search walks 4 from a start that
		 * depends on the destination); the netns's, even-sized here,
		 * has none left.
		 */
		if (k == 0 && (jnum(d, "in_use") != r->own_n[k] ||
			       jnum(d, "usable") != (own ? r->own_hi[k] - r->own_lo[k] + 1 : r->own_n[k]) ||
			       jnum(d, "free") != jnum(d, "usable") - r->own_n[k] ||
			       (own && (jnum(d, "range_lo") != r->own_lo[k] ||
					jnum(d, "range_hi") != r->own_hi[k] ||
					jbool(d, "own_range") != 1))))
			err = fail("connect()'s failure is not diagnosed from %s range %u-%u (%d in "
				   "use): %s", own ? "the socket's" : "the netns's",
				   r->own_lo[k], r->own_hi[k], r->own_n[k], d);
		if (k && (jnum(d, "in_use") + jnum(d, "bound_unlisted") != r->own_n[k] ||
			  jnum(d, "free") != 0 || jnum(d, "range_lo") != r->own_lo[k] ||
			  jnum(d, "range_hi") != r->own_hi[k] || jbool(d, "own_range") != own))
			err = fail("the %s failure is not diagnosed from %s range %u-%u (%d in use, "
				   "none free): %s", kinds[k], own ? "the socket's" : "the netns's",
				   r->own_lo[k], r->own_hi[k], r->own_n[k], d);
		if (!err && own && !strstr(d, "\"remedy\":\"the socket's own IP_LOCAL_PORT_RANGE"))
			err = fail("the %s diagnosis's remedy is not the socket's range: %s", kinds[k], d);
	}
	/* and the process's summary says what ran out: its sockets' ranges, not the netns's */
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child &&
		    !run.r.no_sock_range &&
		    !strstr(run.lines[i], "\"remedy\":\"its sockets' own IP_LOCAL_PORT_RANGE"))
			err = fail("the summary's remedy is not the sockets' own range: %s",
				   run.lines[i]);
	cleanup(&run);
	return err;
}

/*
 * A flood of one failure (an exhausted destination, hundreds of connect()s a
 * second) and, in the same second, another: a bind() to a port a listener
 * holds. Each is diagnosed: the flood once a second, not at every failure,
 * and the bind() conflict at once, not hidden behind it.
 */
#define FLOOD_CONNECTS 300
#define FLOOD_PORT 6000

static int sc_diag_each(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, b, held[2];

	if (own_netns() || write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40001"))
		return -EPERM;
	if ((l = listener(AF_INET, FLOOD_PORT)) < 0)
		return l;
	r->listen_port = FLOOD_PORT;
	for (int i = 0; i < 2; i++)
		if ((held[i] = connect_to(AF_INET, FLOOD_PORT, 0, 0)) < 0)
			return held[i];
	for (int i = 0; i < FLOOD_CONNECTS; i++) {
		int c = connect_to(AF_INET, FLOOD_PORT, 0, 0);

		if (c >= 0)
			return -EEXIST;	/* a third port in a range of two?! */
		if (c != -EADDRNOTAVAIL)
			return c;
		r->fail_errno2++;
	}
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, FLOOD_PORT);
	if (b < 0 || !bind(b, (void *)&ss, len))
		return -EEXIST;
	r->fail_errno = errno;
	r->bound_port = FLOOD_PORT;
	sleep_ms(500);	/* the holders stay while the tracer looks */
	close(b);
	close(held[0]);
	close(held[1]);
	close(l);
	return 0;
}

static int t_diag_each(void)
{
	struct run run;
	int err, flood = 0, conflict = 0;
	long long t0 = now_ns(), took;

	err = start(&run, sc_diag_each, "diag_each", NULL);
	if (!err)
		err = drive(&run);
	took = now_ns() - t0;
	stop(&run, 700);
	if (!err && (run.r.fail_errno != EADDRINUSE || run.r.fail_errno2 != FLOOD_CONNECTS))
		err = fail("the scenario: bind() errno %d, %d connect()s failed, want EADDRINUSE and %d",
			   run.r.fail_errno, run.r.fail_errno2, FLOOD_CONNECTS);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "diagnosis"))
			continue;
		if (jstr_is(l, "error", "EADDRNOTAVAIL") && jnum(l, "rport") == FLOOD_PORT)
			flood++;
		else if (jstr_is(l, "error", "EADDRINUSE") && jnum(l, "lport") == FLOOD_PORT &&
			 jnum(l, "pid") == run.child && strstr(l, "\"state\":\"LISTEN\""))
			conflict++;
	}
	/* the whole run took took ns: once a second, and the first at once */
	if (!err && (flood < 1 || flood > took / 1000000000LL + 1))
		err = fail("%d diagnoses of %d failed connect()s in %.1f s: want one a second",
			   flood, FLOOD_CONNECTS, took / 1e9);
	if (!err && conflict != 1)
		err = fail("the bind() conflict after the flood: %d diagnoses naming its listener, "
			   "want 1", conflict);
	cleanup(&run);
	return err;
}

/*
 * A client that gives up at its first failure: a 10-port range filled by
 * connect()s to one destination, then by UDP bind(0)s, each failure
 * followed at once by the close of everything (the connections to
 * TIME_WAIT, the UDP sockets gone). The diagnoses count the table as it
 * was at the failures, not as the snapshot found it after: 10 connections
 * live and no TIME_WAIT (the remedy was tcp_tw_reuse's), 10 UDP ports in use
 * (it said none).
 */
static int sc_exhaust_exit(struct result *r)
{
	struct sockaddr_storage any;
	socklen_t alen = mkaddr(&any, AF_INET, 0);
	int fds[32], n = 0, lfd, err;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")))
		return err;
	lfd = listener(AF_INET, 5000);
	if (lfd < 0)
		return -errno;
	for (int i = 0; i < 12 && !r->fail_errno; i++) {
		int c = connect_to(AF_INET, 5000, 0, 0);

		if (c == -EADDRNOTAVAIL)
			r->fail_errno = EADDRNOTAVAIL;
		else if (c < 0)
			return c;
		else
			fds[n++] = c;
	}
	r->nsucc = n;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	n = 0;
	for (int i = 0; i < 12 && !r->fail_errno2; i++) {
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (u < 0)
			return -errno;
		if (bind(u, (void *)&any, alen)) {
			r->fail_errno2 = errno;
			close(u);
		} else {
			fds[n++] = u;
		}
	}
	r->nports = n;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
	return 0;
}

static int t_exhaust_exit(void)
{
	const char *tcp = NULL, *udp = NULL;
	struct run run;
	int err;

	err = start(&run, sc_exhaust_exit, "exhaust_exit", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (run.r.fail_errno != EADDRNOTAVAIL || run.r.nsucc != 10 ||
		     run.r.fail_errno2 != EADDRINUSE || run.r.nports != 10))
		err = fail("want 10 connect()s then EADDRNOTAVAIL, 10 bind(0)s then EADDRINUSE: "
			   "%d then %d, %d then %d", run.r.nsucc, run.r.fail_errno, run.r.nports,
			   run.r.fail_errno2);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "diagnosis") || jnum(l, "pid") != run.child)
			continue;
		if (jstr_is(l, "error", "EADDRNOTAVAIL"))
			tcp = l;
		else if (jstr_is(l, "error", "EADDRINUSE") && jstr_is(l, "proto", "udp"))
			udp = l;
	}
	if (!err && (!tcp || jnum(tcp, "in_use") != 10 || jnum(tcp, "time_wait") != 0 ||
		     jnum(tcp, "free") != 0 || strstr(tcp, "TIME_WAIT")))
		err = fail("the EADDRNOTAVAIL diagnosis is not of 10 live connections, none in "
			   "TIME_WAIT: %s", tcp ? tcp : "(none)");
	if (!err && (!udp || jnum(udp, "in_use") + jnum(udp, "bound_unlisted") != 10 ||
		     jnum(udp, "free") != 0))
		err = fail("the UDP bind(0)'s diagnosis is not of 10 ports in use: %s",
			   udp ? udp : "(none)");
	cleanup(&run);
	return err;
}

/*
 * A port taken again between the failure and its diagnosis: a 10-port
 * range filled, the 11th connect() fails, then at once one connection is
 * reset (its port free, no TIME_WAIT) and a new one takes the port to the
 * same destination. The lease held at the failure and the socket listed
 * after it are one port: 10 in use, not 11 of a 10-port range (wrk's
 * keep-alive churn against nginx made 19 of 11).
 */
static int sc_port_retaken(struct result *r)
{
	int fds[12], n = 0, lfd, err, c;

	if ((err = own_netns()))
		return err;
	if ((err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")))
		return err;
	lfd = listener(AF_INET, 5000);
	if (lfd < 0)
		return -errno;
	for (int i = 0; i < 12 && !r->fail_errno; i++) {
		c = connect_to(AF_INET, 5000, 0, 0);
		if (c == -EADDRNOTAVAIL)
			r->fail_errno = EADDRNOTAVAIL;
		else if (c < 0)
			return c;
		else
			fds[n++] = c;
	}
	r->nsucc = n;
	if (!n)
		return -EPROTO;
	r->bound_port = sock_port(fds[0]);
	rst_close(fds[0]);
	fds[0] = connect_to(AF_INET, 5000, 0, 0);
	if (fds[0] < 0)
		return fds[0];
	r->listen_port = sock_port(fds[0]);	/* the port taken again */
	sleep_ms(500);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(lfd);
	return 0;
}

static int t_port_retaken(void)
{
	const char *tcp = NULL;
	struct run run;
	int err;

	err = start(&run, sc_port_retaken, "port_retaken", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (run.r.fail_errno != EADDRNOTAVAIL || run.r.nsucc != 10 ||
		     run.r.listen_port != run.r.bound_port))
		err = fail("want 10 connect()s, EADDRNOTAVAIL, then port %d taken again: %d then "
			   "%d, then port %d", run.r.bound_port, run.r.nsucc, run.r.fail_errno,
			   run.r.listen_port);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "diagnosis") && jnum(run.lines[i], "pid") == run.child &&
		    jstr_is(run.lines[i], "error", "EADDRNOTAVAIL"))
			tcp = run.lines[i];
	if (!err && (!tcp || jnum(tcp, "in_use") != 10 || jnum(tcp, "free") != 0))
		err = fail("the EADDRNOTAVAIL diagnosis is not of 10 ports in use: %s",
			   tcp ? tcp : "(none)");
	cleanup(&run);
	return err;
}

/*
 * A listener a forked worker shares (nginx's master and workers): the
 * conflicting bind()'s diagnosis names one holder and counts the other
 * process sharing it, as `ports` does ("and 1 more process").
 */
static int sc_shared_holder(struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int a, b, err, pp[2];
	pid_t w;

	if ((err = own_netns()))
		return err;
	if ((a = bound_socket(AF_INET, 0)) < 0)
		return a;
	r->bound_port = sock_port(a);
	if (listen(a, 8) || pipe(pp))
		return -errno;
	w = fork();
	if (w == 0) {
		char c;

		close(pp[1]);
		if (read(pp[0], &c, 1) < 0)	/* holds the listener until told */
			_exit(1);
		_exit(0);
	}
	close(pp[0]);
	r->other_pid = w;
	b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	len = mkaddr(&ss, AF_INET, r->bound_port);
	if (!bind(b, (void *)&ss, len))
		return -EEXIST;
	r->fail_errno = errno;
	sleep_ms(500);	/* the holders stay while the tracer looks */
	close(pp[1]);
	waitpid(w, NULL, 0);
	close(b);
	close(a);
	return 0;
}

static int t_shared_holder(void)
{
	const char *d = NULL;
	struct run run;
	int err;

	err = start(&run, sc_shared_holder, "shared_holder", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && run.r.fail_errno != EADDRINUSE)
		err = fail("the second bind failed with %d, not EADDRINUSE", run.r.fail_errno);
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "diagnosis") && jnum(run.lines[i], "pid") == run.child &&
		    jstr_is(run.lines[i], "error", "EADDRINUSE"))
			d = run.lines[i];
	if (!err && (!d || !strstr(d, "\"processes\":2")))
		err = fail("the diagnosis does not count the 2 processes sharing the listener: %s",
			   d ? d : "(none)");
	cleanup(&run);
	return err;
}

/* Three connections of the child's own to its listener, held while traced. */
static int sc_own_dest(struct result *r)
{
	int lfd = listener(AF_INET, 0);

	if (lfd < 0)
		return -errno;
	r->listen_port = sock_port(lfd);
	for (int i = 0; i < 3; i++) {
		int c = connect_to(AF_INET, r->listen_port, 0, 0);

		if (c < 0)
			return c;
		r->ports[r->nports++] = sock_port(c);
	}
	sleep_ms(300);
	return 0;
}

/*
 * portlife -p CHILD: the summary's headroom is that of the destinations the
 * child uses, as top's is, not the fullest of the host (another process's
 * three connections to a destination of its own were listed).
 */
static int t_headroom_filtered(void)
{
	int other[4], lfd = listener(AF_INET, 0), err = 0, mine = 0, theirs = 0;
	unsigned short other_port = lfd >= 0 ? sock_port(lfd) : 0;
	bool started = false;
	struct run run;

	for (int i = 0; i < 4; i++)
		other[i] = lfd >= 0 ? connect_to(AF_INET, other_port, 0, 0) : -1;
	if (lfd < 0 || other[3] < 0)
		err = fail("the other process's connections failed");
	if (!err)
		started = !(err = start(&run, sc_own_dest, "headroom_filtered", NULL));
	if (!err)
		err = drive(&run);
	if (started)
		stop(&run, 500);
	for (int i = 0; !err && i < run.nlines; i++) {
		const char *l = run.lines[i];

		if (!is_event(l, "headroom"))
			continue;
		mine += jnum(l, "rport") == run.r.listen_port;
		theirs += jnum(l, "rport") == other_port;
	}
	if (!err && (mine != 1 || theirs))
		err = fail("the summary's headroom has %d rows of the child's destination (port %u), "
			   "%d of another process's (port %u): want 1 and 0", mine, run.r.listen_port,
			   theirs, other_port);
	if (started)
		cleanup(&run);
	for (int i = 0; i < 4; i++)
		if (other[i] >= 0)
			close(other[i]);
	if (lfd >= 0)
		close(lfd);
	return err;
}

LIVE_TEST(exhaustion, t_exhaust, 40, false);
LIVE_TEST(headroom_filtered, t_headroom_filtered, 42, false);
LIVE_TEST(port_retaken, t_port_retaken, 41, false);
LIVE_TEST(shared_holder, t_shared_holder, 42, false);
LIVE_TEST(exhaust_exit, t_exhaust_exit, 40, false);
LIVE_TEST(diag_each, t_diag_each, 41, false);
LIVE_TEST(bind_conflict, t_bind_conflict, 50, false);
LIVE_TEST(udp_bind_conflict, t_udp_bind_conflict, 50, false);
LIVE_TEST(bind0_exhausted, t_bind0_exhausted, 51, false);
LIVE_TEST(udp_exhausted, t_udp_exhausted, 52, false);
LIVE_TEST(exhaust_sources, t_exhaust_sources, 53, false);
LIVE_TEST(bind_over_tw, t_bind_over_tw, 54, false);
LIVE_TEST(own_range, t_own_range, 55, false);
LIVE_TEST(odd_range, t_odd_range, 56, false);
LIVE_TEST(tw_reusable, t_tw_reusable, 57, false);
LIVE_TEST(tuple_in_use, t_tuple_in_use, 58, false);
LIVE_TEST(dual_stack, t_dual_stack, 59, false);
LIVE_TEST(holder_before, t_holder_before, 130, false);
LIVE_TEST(tw_exhaustion, t_tw_exhaust, 140, false);
