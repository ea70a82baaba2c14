// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NAT: a "pod" namespace behind a "node" namespace that masquerades it onto
 * a 4-port range, reaching a "remote" namespace. Every translation must be
 * attributed to the client, with the NAT port the remote saw in
 * getpeername(); the fifth connection, for which no port is left, must be
 * reported as a failure against the client; traffic the node does not
 * translate must not be reported as NAT; IPv6 masquerade the same, and a
 * UDP query (a pod's DNS) through the node.
 *
 * Everything lives in namespaces of its own (documentation addresses,
 * 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32), removed at the end, failure
 * or not: the host's own rules and sysctls are checked to be as they were.
 *
 * A views test (see harness.h): the VM images have neither nft nor the
 * conntrack and NAT modules in their initramfs.
 *
 * A Service too (a DNAT on the node to the remote, as kube-proxy makes
 * them): its flows and those straight to its pod share one pool of NAT
 * ports, the pod's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

#define NAT_LO 40000
#define NAT_HI 40003
#define NCONN 4		/* the range's size: every one gets a port */
#define SVC_PORT 8080	/* the node's Service port, DNATed to the remote's POD_PORT */
#define POD_PORT 8443

static char pod[32], node[32], rem[32];

/* Run a shell command quietly; 0 if it exited 0. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -1;
}

/* Output of a command, at most len bytes; "" on failure. */
static void capture(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(buf, 1, len - 1, p) : 0;

	buf[n] = '\0';
	if (p)
		pclose(p);
}

static void teardown(void)
{
	sh("ip netns del %s 2>/dev/null", pod);
	sh("ip netns del %s 2>/dev/null", node);
	sh("ip netns del %s 2>/dev/null", rem);
}

static int topology(void)
{
	int p = getpid();

	snprintf(pod, sizeof(pod), "plpod%d", p);
	snprintf(node, sizeof(node), "plnode%d", p);
	snprintf(rem, sizeof(rem), "plrem%d", p);
	if (sh("ip netns add %s && ip netns add %s && ip netns add %s", pod, node, rem) ||
	    sh("ip link add plvp%d netns %s type veth peer name plvn%d netns %s", p, pod, p, node) ||
	    sh("ip link add plvr%d netns %s type veth peer name plvm%d netns %s", p, rem, p, node) ||
	    sh("ip -n %s link set lo up && ip -n %s link set plvp%d up && "
	       "ip -n %s addr add 192.0.2.2/24 dev plvp%d && "
	       "ip -n %s addr add 2001:db8:1::2/64 dev plvp%d nodad", pod, pod, p, pod, p, pod, p) ||
	    sh("ip -n %s link set lo up && ip -n %s link set plvn%d up && ip -n %s link set plvm%d up && "
	       "ip -n %s addr add 192.0.2.1/24 dev plvn%d && "
	       "ip -n %s addr add 2001:db8:1::1/64 dev plvn%d nodad && "
	       "ip -n %s addr add 198.51.100.1/24 dev plvm%d && "
	       "ip -n %s addr add 2001:db8:2::1/64 dev plvm%d nodad",
	       node, node, p, node, p, node, p, node, p, node, p, node, p) ||
	    sh("ip -n %s link set lo up && ip -n %s link set plvr%d up && "
	       "ip -n %s addr add 198.51.100.2/24 dev plvr%d && "
	       "ip -n %s addr add 2001:db8:2::2/64 dev plvr%d nodad", rem, rem, p, rem, p, rem, p) ||
	    sh("ip -n %s route add default via 192.0.2.1 && "
	       "ip -n %s -6 route add default via 2001:db8:1::1", pod, pod) ||
	    /* the node's own sysctls: its namespace's, never the host's */
	    sh("ip netns exec %s sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1",
	       node))
		return fail("could not build the namespaces (ip, veth)");
	/* masquerade needs its protocol named to take a port range */
	if (sh("printf 'table inet plnat {\\n chain post {\\n  type nat hook postrouting priority "
	       "srcnat;\\n  oifname \"plvm%d\" meta l4proto tcp masquerade to :%d-%d\\n"
	       "  oifname \"plvm%d\" meta l4proto udp masquerade to :%d-%d\\n }\\n"
	       /* a rule that drops after srcnat: a lost packet, not a NAT port short */
	       " chain filt {\\n  type filter hook postrouting priority 200;\\n"
	       "  oifname \"plvm%d\" udp dport 9 drop\\n }\\n"
	       /* a Service: its address on the node, its pod in the remote */
	       " chain pre {\\n  type nat hook prerouting priority dstnat;\\n"
	       "  ip daddr 192.0.2.1 tcp dport %d dnat ip to 198.51.100.2:%d\\n }\\n}\\n' | "
	       "ip netns exec %s nft -f -", p, NAT_LO, NAT_HI, p, NAT_LO, NAT_HI, p, SVC_PORT,
	       POD_PORT, node))
		return fail("could not add the masquerade rule in the node (nft; make deps "
			    "installs nftables)");
	return 0;
}

/* Enter the namespace pinned at /run/netns/name. */
static int enter(const char *name)
{
	char path[64];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

static int listen_on(int family, const char *addr, unsigned short port)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
	}
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64))
		return -errno;
	return fd;
}

/* connect() with a deadline; the socket, or -errno (ETIMEDOUT: SYNs dropped). */
static int connect_within(int family, const char *addr, unsigned short port, int ms,
			  unsigned short *lport)
{
	struct sockaddr_storage ss = {};
	struct pollfd p;
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err = 0;

	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->sin_addr);
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s->sin6_addr);
		len = sizeof(*s);
	}
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = -errno;
		close(fd);
		return err;
	}
	*lport = sock_port(fd);
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, ms) != 1) {
		close(fd);
		return -ETIMEDOUT;
	}
	len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		close(fd);
		return -err;
	}
	return fd;
}

/* The port the remote saw: accept() one connection, getpeername(). */
static int peer_port(int l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pollfd p = { .fd = l, .events = POLLIN };
	int a, port;

	if (poll(&p, 1, 3000) != 1 || (a = accept(l, NULL, NULL)) < 0)
		return -1;
	if (getpeername(a, (struct sockaddr *)&ss, &len))
		return -1;
	port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		     ((struct sockaddr_in6 *)&ss)->sin6_port);
	/* kept open: the translation must stay alive (so does its port) */
	return port;
}

/*
 * The client: listeners in the remote and in the node (made there, used
 * from the pod), then from the pod: NCONN IPv4 connections through the NAT
 * (each one's port and the NAT port the remote saw), a fifth that finds no
 * port, one to the node itself, and NCONN IPv6 ones.
 *
 * result: ports[i]/ports6[i]: the client's IPv4 ports and what the remote
 * saw; bound_port: the fifth's port; fail_errno its errno; udp_bound: the
 * port to the node; nreuse IPv6 ones in reuse[]/rst[] (client, seen).
 */
static int sc_nat(struct result *r)
{
	int l4, l6, ln, fd, err, u4;
	struct sockaddr_in ua, from;
	socklen_t ulen = sizeof(ua), flen = sizeof(from);
	struct timeval tv = { .tv_sec = 3 };
	unsigned short lp;
	char q = 'q';

	if ((err = enter(rem)))
		return err;
	l4 = listen_on(AF_INET, "198.51.100.2", 0);
	l6 = listen_on(AF_INET6, "2001:db8:2::2", 0);
	if (l4 < 0 || l6 < 0)
		return l4 < 0 ? l4 : l6;
	r->listen_port = sock_port(l4);
	if (listen_on(AF_INET, "198.51.100.2", POD_PORT) < 0)
		return -errno;
	/* a UDP server in the remote too: a pod's DNS-like query goes through the NAT */
	u4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u4 < 0)
		return -errno;
	memset(&ua, 0, sizeof(ua));
	ua.sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.2", &ua.sin_addr);
	if (bind(u4, (void *)&ua, sizeof(ua)) || getsockname(u4, (void *)&ua, &ulen))
		return -errno;
	if ((err = enter(node)))
		return err;
	ln = listen_on(AF_INET, "192.0.2.1", 0);
	if (ln < 0)
		return ln;
	if ((err = enter(pod)))
		return err;
	prctl(PR_SET_NAME, "pl-nat-client");
	for (int i = 0; i < NCONN; i++) {
		fd = connect_within(AF_INET, "198.51.100.2", r->listen_port, 3000, &lp);
		if (fd < 0)
			return fd;
		r->ports[r->nports] = lp;
		r->ports6[r->nports++] = peer_port(l4);
	}
	/* the fifth: the NAT drops its SYN, the client sees a timeout */
	fd = connect_within(AF_INET, "198.51.100.2", r->listen_port, 1500, &lp);
	r->bound_port = lp;
	r->fail_errno = fd < 0 ? -fd : 0;
	if (fd >= 0)
		close(fd);
	/* straight to the node: conntrack tracks it, nothing translates it */
	fd = connect_within(AF_INET, "192.0.2.1", sock_port(ln), 3000, &lp);
	if (fd < 0)
		return fd;
	r->udp_bound = lp;
	for (int i = 0; i < NCONN; i++) {
		fd = connect_within(AF_INET6, "2001:db8:2::2", sock_port(l6), 3000, &lp);
		if (fd < 0)
			return fd;
		r->reuse[r->nreuse] = lp;
		r->rst[r->nreuse++] = peer_port(l6);
	}
	/*
	 * UDP: an unconnected socket's first send autobinds it (to the
	 * wildcard address), the node translates it, and the socket is closed
	 * at once, as a resolver's is: its lease has ended, most likely, when
	 * conntrack's news is read, and still owns the flow.
	 */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, &q, 1, 0, (void *)&ua, sizeof(ua)) != 1)
		return -errno;
	r->nat_udp = sock_port(fd);
	close(fd);
	/* UDP to port 9: translated, then dropped by the node's filter rule */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ua.sin_port = htons(9);
	if (fd < 0 || sendto(fd, &q, 1, 0, (void *)&ua, sizeof(ua)) != 1)
		return -errno;
	r->nat_udp_dropped = sock_port(fd);
	sleep_ms(200);
	close(fd);
	if (setsockopt(u4, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    recvfrom(u4, &q, 1, 0, (void *)&from, &flen) != 1)
		return -errno;
	r->nat_udp_seen = ntohs(from.sin_port);
	/*
	 * The Service's pool: two connections through its DNAT, two straight
	 * to its pod, the range's four ports for one destination, 198.51.100.2:
	 * POD_PORT (nf_nat keeps a port unique per reply tuple); a fifth
	 * straight to the pod finds none.
	 */
	for (int i = 0; i < NCONN; i++) {
		fd = connect_within(AF_INET, i < 2 ? "192.0.2.1" : "198.51.100.2",
				    i < 2 ? SVC_PORT : POD_PORT, 3000, &lp);
		if (fd < 0)
			return fd;
		r->hold_port[r->nhold++] = lp;
	}
	fd = connect_within(AF_INET, "198.51.100.2", POD_PORT, 1500, &lp);
	r->hold_port[r->nhold++] = lp;
	r->fail_errno2 = fd < 0 ? -fd : 0;
	if (fd >= 0)
		close(fd);
	return 0;
}

/* The nat event of client port lport (family fam), or NULL. */
static const char *nat_line(struct run *run, const char *ev, int lport, int fam, bool failed)
{
	for (int k = 0; k < run->nlines; k++) {
		const char *l = run->lines[k];

		if (is_event(l, ev) && jnum(l, "lport") == lport && jnum(l, "family") == fam &&
		    !!jfind(l, "error") == failed)
			return l;
	}
	return NULL;
}

static int check_owned(struct run *run, const char *l, int want_nat_port, int port)
{
	if (!l)
		return fail("no nat event for client port %d", port);
	if (jnum(l, "pid") != run->child || !jstr_is(l, "comm", "pl-nat-client"))
		return fail("port %d: translation not attributed to the client %d: %s", port,
			    run->child, l);
	if (want_nat_port >= 0 && jnum(l, "nat_port") != want_nat_port)
		return fail("port %d: nat_port %lld, but the remote saw %d: %s", port,
			    jnum(l, "nat_port"), want_nat_port, l);
	return 0;
}

static int t_nat(void)
{
	char before[65536], after[65536], fw_before[16], fw_after[16], nodens[64];
	char *extra[] = { "--nat-netns", node, "--nat-range", "40000-40003", "--warn", "75",
			  NULL };
	unsigned long node_inum;
	struct run run;
	int err;

	memset(&run, 0, sizeof(run));
	/* the host's own state, to be found as it was */
	capture("nft list ruleset 2>&1", before, sizeof(before));
	capture("cat /proc/sys/net/ipv4/ip_forward", fw_before, sizeof(fw_before));
	err = topology();
	snprintf(nodens, sizeof(nodens), "/run/netns/%s", node);
	node_inum = 0;
	if (!err) {
		char buf[64], cmd[128];

		snprintf(cmd, sizeof(cmd), "stat -L -c %%i %s", nodens);
		capture(cmd, buf, sizeof(buf));
		node_inum = strtoul(buf, NULL, 10);
	}
	if (!err)
		err = start(&run, sc_nat, "nat", extra);
	if (!err)
		err = drive(&run);
	if (!err)
		stop(&run, 1500);
	for (int i = 0; !err && i < run.r.nports; i++) {
		const char *l = nat_line(&run, "nat", run.r.ports[i], 4, false);

		err = check_owned(&run, l, run.r.ports6[i], run.r.ports[i]);
		if (!err && (unsigned long)jnum(l, "nat_netns") != node_inum)
			err = fail("nat_netns %lld, the node is %lu", jnum(l, "nat_netns"),
				   node_inum);
		if (!err && ((unsigned long)jnum(l, "netns") == node_inum ||
			     !jstr_is(l, "nat_addr", "198.51.100.1") ||
			     !jstr_is(l, "raddr", "198.51.100.2") ||
			     !jstr_is(l, "laddr", "192.0.2.2")))
			err = fail("wrong tuple or namespaces: %s", l);
	}
	if (!err && run.r.fail_errno != ETIMEDOUT)
		err = fail("the fifth connection should time out (its SYN dropped), got %s",
			   strerror(run.r.fail_errno));
	if (!err) {
		const char *l = nat_line(&run, "nat", run.r.bound_port, 4, true);

		if (!l)
			err = fail("no failed nat event for the fifth connection (port %d)",
				   run.r.bound_port);
		else if (jnum(l, "pid") != run.child || !jstr_is(l, "error", "insert_failed") ||
			 !jstr_is(l, "nat_addr", "198.51.100.1") || jnum(l, "rport") !=
			 run.r.listen_port)
			err = fail("the failure is not the client's, or not against the "
				   "destination: %s", l);
	}
	/* not translated: not NAT */
	if (!err && (nat_line(&run, "nat", run.r.udp_bound, 4, false) ||
		     nat_line(&run, "nat", run.r.udp_bound, 4, true)))
		err = fail("a connection to the node itself (port %d) was reported as NAT",
			   run.r.udp_bound);
	for (int i = 0; !err && i < run.r.nreuse; i++) {
		const char *l = nat_line(&run, "nat", run.r.reuse[i], 6, false);

		err = check_owned(&run, l, run.r.rst[i], run.r.reuse[i]);
		if (!err && !jstr_is(l, "nat_addr", "2001:db8:2::1"))
			err = fail("IPv6: wrong NAT address: %s", l);
	}
	/* UDP through the NAT: the client's, with the port the remote saw */
	if (!err) {
		const char *l = nat_line(&run, "nat", run.r.nat_udp, 4, false);

		err = check_owned(&run, l, run.r.nat_udp_seen, run.r.nat_udp);
		if (!err && (!jstr_is(l, "proto", "udp") || !jstr_is(l, "nat_addr", "198.51.100.1")))
			err = fail("UDP: wrong protocol or NAT address: %s", l);
	}
	/* dropped after NAT with its port free: said so, not "no free NAT port" */
	if (!err) {
		const char *l = nat_line(&run, "nat", run.r.nat_udp_dropped, 4, true);

		if (!l || !jstr_is(l, "error", "dropped") || jnum(l, "pid") != run.child)
			err = fail("the datagram a rule dropped after NAT (client port %d) is not a "
				   "\"dropped\" nat event of the client: %s", run.r.nat_udp_dropped,
				   l ? l : "(none)");
		for (int k = 0; !err && k < run.nlines; k++)
			if (is_event(run.lines[k], "nat_headroom") &&
			    jnum(run.lines[k], "rport") == 9)
				err = fail("a rule's drop made a NAT headroom row: %s",
					   run.lines[k]);
	}
	/*
	 * The Service: its flows' translations name the pod (the pool nf_nat
	 * took their ports from), the pod's fifth fails for want of a port,
	 * against it; one headroom row, the pod's, full; none for the Service.
	 */
	if (!err && run.r.fail_errno2 != ETIMEDOUT)
		err = fail("the Service pool's fifth connection should time out, got %s",
			   strerror(run.r.fail_errno2));
	for (int i = 0; !err && i < run.r.nhold; i++) {
		const char *l = nat_line(&run, "nat", run.r.hold_port[i], 4, i == NCONN);

		err = check_owned(&run, l, -1, run.r.hold_port[i]);
		if (!err && (!jstr_is(l, "raddr", "198.51.100.2") || jnum(l, "rport") != POD_PORT ||
			     (i < 2) != (jbool(l, "dnat") == 1)))
			err = fail("connection %d (port %d%s): not against the pod, or its DNAT "
				   "unsaid: %s", i, run.r.hold_port[i], i < 2 ? ", via the Service" :
				   "", l);
		if (!err && i == NCONN && !jstr_is(l, "error", "insert_failed"))
			err = fail("the fifth to the pod, no port left in its pool, is not told "
				   "as NAT exhaustion: %s", l);
	}
	if (!err) {
		const char *h = NULL;

		for (int k = 0; k < run.nlines && !err; k++) {
			const char *l = run.lines[k];

			if (!is_event(l, "nat_headroom"))
				continue;
			if (jnum(l, "rport") == SVC_PORT)
				err = fail("a headroom row for the Service, not its pod: %s", l);
			if (jnum(l, "rport") == POD_PORT)
				h = l;
		}
		if (!err && (!h || jnum(h, "in_use") != NCONN || jnum(h, "failures") < 1))
			err = fail("the pod's NAT headroom is not full with its failure: %s",
				   h ? h : "(none)");
	}
	/* the headroom at exit: the IPv4 destination full, with its failures */
	if (!err) {
		const char *h = NULL;

		for (int k = 0; k < run.nlines && !h; k++)
			if (is_event(run.lines[k], "nat_headroom") &&
			    jstr_is(run.lines[k], "raddr", "198.51.100.2") &&
			    jstr_is(run.lines[k], "proto", "tcp"))
				h = run.lines[k];
		if (!h || jnum(h, "in_use") != NCONN || jnum(h, "usable") != NCONN ||
		    jnum(h, "failures") < 1)
			err = fail("NAT headroom at exit wrong or missing: %s", h ? h : "(none)");
	}
	/* --warn 75: the full destination was warned about */
	if (!err) {
		bool warned = false;

		for (int k = 0; k < run.nlines; k++)
			warned |= is_event(run.lines[k], "warn") &&
				   jstr_is(run.lines[k], "kind", "nat");
		if (!warned)
			err = fail("--warn 75 said nothing of a NAT destination 100%% used");
	}
	if (run.child)
		cleanup(&run);
	teardown();
	capture("nft list ruleset 2>&1", after, sizeof(after));
	capture("cat /proc/sys/net/ipv4/ip_forward", fw_after, sizeof(fw_after));
	if (!err && (strcmp(before, after) || strcmp(fw_before, fw_after)))
		err = fail("the host's ruleset or ip_forward changed");
	return err;
}

LIVE_TEST(nat, t_nat, 75, true);
