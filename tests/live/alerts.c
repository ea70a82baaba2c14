// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The security rules against the real kernel (issue 16): a scanner, an
 * inbound prober from another namespace, a burst and ephemeral listeners
 * each raise their alert naming the process or the source that did it, with
 * the counts the scenario knows it made; the bench's connect storm, a client
 * fanning out to hosts that all answer and a server accepting thousands of
 * connections raise nothing. Every scenario runs in network namespaces of its
 * own (sysctls changed there die with them); none touches the host's.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "harness.h"
#include "jsonread.h"

/* ---- reading alerts ----------------------------------------------------- */

/* Alert lines of rule (any if NULL) in netns (any if 0); *last the last one. */
static int alerts_of(char **lines, int n, const char *rule, unsigned long netns, const char **last)
{
	int k = 0;

	for (int i = 0; i < n; i++) {
		const char *l = lines[i];

		if (!is_event(l, "alert") || (rule && !jstr_is(l, "rule", rule)) ||
		    (netns && jnum(l, "netns") != (long long)netns))
			continue;
		k++;
		if (last)
			*last = l;
	}
	return k;
}

/* The alert of rule in netns from source (the evidence's "source"), or NULL. */
static const char *alert_from(char **lines, int n, unsigned long netns, const char *source)
{
	for (int i = 0; i < n; i++)
		if (is_event(lines[i], "alert") && jstr_is(lines[i], "rule", "scan_in") &&
		    jnum(lines[i], "netns") == (long long)netns &&
		    jstr_is(lines[i], "source", source))
			return lines[i];
	return NULL;
}

/* The first line of event ev, or NULL. */
static const char *first_of(char **lines, int n, const char *ev)
{
	for (int i = 0; i < n; i++)
		if (is_event(lines[i], ev))
			return lines[i];
	return NULL;
}

/* Does the start line say the mode sees this signal ("tcp4", "udp6", ...)? */
static bool sees(struct run *run, const char *what)
{
	const char *s = first_of(run->lines, run->nlines, "start"), *p;
	char pat[32];

	snprintf(pat, sizeof(pat), "\"%s\":true", what);
	p = s ? strstr(s, "\"signals\":") : NULL;
	return p && strstr(p, pat);
}

/* Does the sample list of line hold s? */
static bool has_sample(const char *line, const char *s)
{
	const char *p = jfind(line, "samples");
	char q[64];

	snprintf(q, sizeof(q), "\"%s\"", s);
	return p && strstr(p, q);
}

/* ---- scan_out ------------------------------------------------------------ */

#define SCAN_PORTS 300

/* A scanner in its own netns: connect() to 300 closed ports of 127.0.0.1. */
static int sc_scanner(struct result *r)
{
	prctl(PR_SET_NAME, "pl-scanner");
	if (own_netns())
		return -errno;
	for (int p = 1; p <= SCAN_PORTS; p++) {
		int fd = connect_to(AF_INET, p, 0, 0);

		if (fd >= 0) {
			close(fd);
			return -EEXIST;	/* something listens in a fresh netns? */
		}
		if (fd == -ECONNREFUSED)
			r->nsucc++;	/* refused: the kernel answered with RST */
	}
	return r->nsucc == SCAN_PORTS ? 0 : -EPROTO;
}

/* The alert lines of lines, in order. */
static char **alert_lines(char **lines, int n, int *k)
{
	char **v = calloc(n ? n : 1, sizeof(*v));

	*k = 0;
	for (int i = 0; i < n; i++)
		if (is_event(lines[i], "alert"))
			v[(*k)++] = lines[i];
	return v;
}

static int same_alert_lines(char **a, int na, char **b, int nb, const char *what)
{
	int ka, kb, err = 0;
	char **x = alert_lines(a, na, &ka), **y = alert_lines(b, nb, &kb);

	if (ka != kb)
		err = fail("%d alert lines live, %d in %s", ka, kb, what);
	for (int i = 0; !err && i < ka; i++)
		if (strcmp(x[i], y[i]))
			err = fail("live and %s differ: live %s, report %s", what, x[i], y[i]);
	free(x);
	free(y);
	return err;
}

/*
 * scan_out: recorded, so `report` can be held to the same alert, word for
 * word; and report's own thresholds apply to the recording.
 */
static int t_alert_scan_out(void)
{
	char trace[300], out[300], prom[300];
	char *extra[] = { "record", "-o", trace, "--metrics-file", prom, NULL };
	char *rep_jsonl[] = { "portlife", "report", trace, "--format", "jsonl", NULL };
	char *rep_json[] = { "portlife", "report", trace, "--json", NULL };
	char *rep_text[] = { "portlife", "report", trace, NULL };
	char *rep_50[] = { "portlife", "report", trace, "--json", "--alert", "scan_out:dests=50", NULL };
	char *rep_301[] = { "portlife", "report", trace, "--json", "--alert",
			    "scan_out:dests=301", NULL };
	char *rep_off[] = { "portlife", "report", trace, "--json", "--no-alerts", NULL };
	const char *a = NULL, *s;
	unsigned long ns = 0;
	struct run run;
	char **v;
	int err, n;

	snprintf(trace, sizeof(trace), "%s/alert_scan_out.trace", tmpdir);
	snprintf(prom, sizeof(prom), "%s/alert_scan_out.prom", tmpdir);
	err = start(&run, sc_scanner, "alert_scan_out", extra);
	if (!err)
		err = drive(&run);
	if (!err)
		ns = netns_of(run.child);
	stop(&run, 700);
	if (!err && alerts_of(run.lines, run.nlines, NULL, 0, &a) != 1)
		err = fail("want exactly one alert, got %d", alerts_of(run.lines, run.nlines, NULL, 0,
								      NULL));
	/* raised at the 100th refused destination, naming the scanner */
	if (!err && (!jstr_is(a, "rule", "scan_out") || !jstr_is(a, "severity", "critical") ||
		     jnum(a, "pid") != run.child || !jstr_is(a, "comm", "pl-scanner") ||
		     jnum(a, "netns") != (long long)ns || jnum(a, "destinations") != 100 ||
		     jnum(a, "failed") != 100 || jnum(a, "connects") != 100 ||
		     jnum(a, "answered") != 0 || jnum(a, "window_s") != 10 ||
		     !has_sample(a, "127.0.0.1:1") || !has_sample(a, "127.0.0.1:5") || !jfind(a, "remedy")))
		err = fail("wrong scan_out alert (scanner pid %d, netns %lu): %s", run.child, ns, a);
	s = first_of(run.lines, run.nlines, "alerts");
	if (!err && (!s || jnum(s, "total") != 1 || jnum(s, "scan_out") != 1))
		err = fail("summary's alerts line: %s", s ? s : "(none)");
	/* the metrics: every rule, this one at 1 (the file is written a last time at exit) */
	if (!err && (!file_has(prom, "\nportlife_alerts_total{rule=\"scan_out\"} 1\n") ||
		     !file_has(prom, "\nportlife_alerts_total{rule=\"scan_in\"} 0\n") ||
		     !file_has(prom, "\nportlife_alerts_total{rule=\"alloc_burst\"} 0\n") ||
		     !file_has(prom, "\nportlife_alerts_total{rule=\"listen_ephemeral\"} 0\n") ||
		     !file_has(prom, "# TYPE portlife_alerts_total counter\n")))
		err = fail("portlife_alerts_total is not scan_out 1 and the others 0 in %s", prom);
	if (!err && !system("command -v promtool >/dev/null 2>&1")) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1", prom);
		if (system(cmd))
			err = fail("promtool check metrics rejects %s", prom);
	}
	/* report: the same alert lines and summary, from the recording's own times */
	snprintf(out, sizeof(out), "%s/alert_scan_out.jsonl", tmpdir);
	if (!err && run_capture(rep_jsonl, out))
		err = fail("report --format jsonl failed: see %s.err", out);
	if (!err) {
		v = file_lines(out, &n);
		err = same_alert_lines(run.lines, run.nlines, v, n, "report --format jsonl");
		free_lines(v, n);
	}
	snprintf(out, sizeof(out), "%s/alert_scan_out.json", tmpdir);
	if (!err && run_capture(rep_json, out))
		err = fail("report --json failed");
	if (!err && (!(s = find_line(out, "alerts", NULL, 0)) ||
		     strcmp(s, first_of(run.lines, run.nlines, "alerts"))))
		err = fail("report --json's alerts line differs from live's: %s", s ? s : "(none)");
	snprintf(out, sizeof(out), "%s/alert_scan_out.txt", tmpdir);
	if (!err && run_capture(rep_text, out))
		err = fail("report failed");
	if (!err && (!file_has(out, "alerts: 1 raised (scan_out 1, scan_in 0, alloc_burst 0, "
				    "listen_ephemeral 0)") ||
		     !file_has(out, " scan_out critical: pid ")))
		err = fail("report's text summary has no alerts section: see %s", out);
	/* thresholds of report's own */
	snprintf(out, sizeof(out), "%s/alert_scan_out_50.json", tmpdir);
	if (!err && (run_capture(rep_50, out) ||
		     !(s = find_line(out, "alerts", NULL, 0)) || jnum(s, "scan_out") != 1 ||
		     jnum(s, "destinations") != 50))
		err = fail("report --alert scan_out:dests=50: %s", s ? s : "(failed)");
	snprintf(out, sizeof(out), "%s/alert_scan_out_301.json", tmpdir);
	if (!err && (run_capture(rep_301, out) ||
		     !(s = find_line(out, "alerts", NULL, 0)) || jnum(s, "total") != 0))
		err = fail("report --alert scan_out:dests=301 (300 were scanned): %s", s ? s : "(failed)");
	snprintf(out, sizeof(out), "%s/alert_scan_out_off.json", tmpdir);
	if (!err && (run_capture(rep_off, out) || find_line(out, "alerts", NULL, 0) ||
		     !find_line(out, "totals", NULL, 0)))
		err = fail("report --no-alerts still shows alerts: see %s", out);
	cleanup(&run);
	return err;
}

/* ---- scan_in: an inbound prober from another netns, over a veth pair ----- */

/* Netlink: append an attribute to n (data may be NULL for a nest's start). */
static struct rtattr *nl_attr(struct nlmsghdr *n, size_t room, int type, const void *data, int len)
{
	struct rtattr *rta = (void *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	if (NLMSG_ALIGN(n->nlmsg_len) + RTA_SPACE(len) > room)
		return NULL;
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void nl_end(struct nlmsghdr *n, struct rtattr *nest)
{
	nest->rta_len = (char *)n + n->nlmsg_len - (char *)nest;
}

/*
 * A veth pair, name here and peer in the netns of peer_nsfd, by rtnetlink
 * (the VM has no iproute2). 0 or -errno.
 */
int make_veth(const char *name, const char *peer, int peer_nsfd)
{
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char buf[512];
	} req = {};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct rtattr *info, *data, *pe;
	struct ifinfomsg pi = {};
	char ack[1024];
	__u32 fd = peer_nsfd;
	/* the whole request, not its header member: attributes go past the header */
	struct nlmsghdr *n = (struct nlmsghdr *)&req;
	int s, err;
	ssize_t got;

	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.i));
	req.n.nlmsg_type = RTM_NEWLINK;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	req.i.ifi_family = AF_UNSPEC;
	nl_attr(n, sizeof(req), IFLA_IFNAME, name, strlen(name) + 1);
	info = nl_attr(n, sizeof(req), IFLA_LINKINFO, NULL, 0);
	nl_attr(n, sizeof(req), IFLA_INFO_KIND, "veth", 5);
	data = nl_attr(n, sizeof(req), IFLA_INFO_DATA, NULL, 0);
	/* VETH_INFO_PEER: an ifinfomsg, then the peer's own attributes */
	pe = nl_attr(n, sizeof(req), VETH_INFO_PEER, &pi, sizeof(pi));
	nl_attr(n, sizeof(req), IFLA_IFNAME, peer, strlen(peer) + 1);
	if (!nl_attr(n, sizeof(req), IFLA_NET_NS_FD, &fd, sizeof(fd)))
		return -E2BIG;
	nl_end(n, pe);
	nl_end(n, data);
	nl_end(n, info);
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	if (sendto(s, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(s);
		return err;
	}
	got = recv(s, ack, sizeof(ack), 0);
	close(s);
	if (got < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return -EIO;
	err = ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)ack))->error;
	return err;
}

/* An IPv4 address on ifname (or an alias "ifname:1"), /24, and the link up. */
int if_addr(const char *ifname, const char *addr)
{
	struct ifreq ifr = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr))
		err = -errno;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (!err && ioctl(fd, SIOCSIFNETMASK, &ifr))
		err = -errno;
	if (!err && (ioctl(fd, SIOCGIFFLAGS, &ifr) ||
		     (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr))))
		err = -errno;
	close(fd);
	return err;
}

#define T_ADDR "10.213.0.1"	/* the probed host's side */
#define P_TCP "10.213.0.2"	/* the prober's TCP source */
#define P_UDP "10.213.0.3"	/* ... and its UDP one, an alias: another source */
#define TCP_PROBES 60
#define UDP_PROBES 30
#define TCP6_PROBES 25

/* The prober, in a netns of its own: what it sent and how it was answered. */
struct probe_result {
	int tcp_refused, udp_sent, tcp6_refused;
};

static void prober(int ready, int go, int res)
{
	struct probe_result pr = {};
	struct sockaddr_in to = { .sin_family = AF_INET }, from = { .sin_family = AF_INET };
	char c = 0;
	int u;

	prctl(PR_SET_NAME, "pl-prober");
	if (own_netns() || write(ready, &c, 1) != 1 || read(go, &c, 1) != 1)
		_exit(1);
	if (if_addr("plv1", P_TCP) || if_addr("plv1:1", P_UDP))
		_exit(2);
	inet_pton(AF_INET, T_ADDR, &to.sin_addr);
	for (int p = 1; p <= TCP_PROBES; p++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		to.sin_port = htons(p);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof(to)) && errno == ECONNREFUSED)
			pr.tcp_refused++;
		if (fd >= 0)
			close(fd);
	}
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, P_UDP, &from.sin_addr);
	if (u < 0 || bind(u, (struct sockaddr *)&from, sizeof(from)))
		_exit(3);
	for (int p = 1; p <= UDP_PROBES; p++) {
		to.sin_port = htons(p);
		if (sendto(u, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)) == 1)
			pr.udp_sent++;
		sleep_ms(2);
	}
	close(u);
	/* and closed ports of its own netns over IPv6: RSTs from tcp_v6_send_reset() */
	for (int p = 1; p <= TCP6_PROBES; p++)
		if (connect_to(AF_INET6, p, 0, 0) == -ECONNREFUSED)
			pr.tcp6_refused++;
	_exit(write(res, &pr, sizeof(pr)) == sizeof(pr) ? 0 : 4);
}

/*
 * The probed host: a netns T with plv0 (T_ADDR); the prober in netns P with
 * plv1. T answers UDP probes without the per-destination ICMP rate limit
 * (icmp_ratelimit 0, T's own sysctl), so that the tracepoint mode, which
 * sees ICMP after the limits, sees them all. r->other_pid: the prober;
 * r->nports: P's netns inode.
 */
static int sc_probed(struct result *r)
{
	int ready[2], go[2], res[2], nsfd, err = 0, st;
	struct probe_result pr = {};
	char path[64], c;
	pid_t p;

	if (own_netns() || pipe(ready) || pipe(go) || pipe(res))
		return -errno;
	p = fork();
	if (p == 0)
		prober(ready[1], go[0], res[1]);
	if (p < 0 || read(ready[0], &c, 1) != 1)
		return -ECHILD;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", p);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || (err = make_veth("plv0", "plv1", nsfd)) ||
	    (err = if_addr("plv0", T_ADDR)) ||
	    (err = write_file("/proc/sys/net/ipv4/icmp_ratelimit", "0")))
		kill(p, SIGKILL);
	if (nsfd >= 0)
		close(nsfd);
	r->other_pid = p;
	r->fail_errno = (int)netns_of(p);	/* the prober's netns, while it lives */
	if (!err && write(go[1], &c, 1) != 1)
		err = -EPIPE;
	if (!err && read(res[0], &pr, sizeof(pr)) != sizeof(pr))
		err = -EIO;
	waitpid(p, &st, 0);
	r->nsucc = pr.tcp_refused;
	r->nports = pr.udp_sent;
	r->nreuse = pr.tcp6_refused;
	return err;
}

/* Lines of signal sig in netns from raddr. */
static int signals_from(struct run *run, const char *sig, unsigned long netns, const char *raddr)
{
	int k = 0;

	for (int i = 0; i < run->nlines; i++)
		if (is_event(run->lines[i], "signal") && jstr_is(run->lines[i], "signal", sig) &&
		    jnum(run->lines[i], "netns") == (long long)netns &&
		    jstr_is(run->lines[i], "raddr", raddr))
			k++;
	return k;
}

/*
 * One kind of probe: with the mode seeing it, every probe is a signal and
 * the source's alert carries the first 20 ports; without, no alert, and the
 * start line said so.
 */
static int check_probes(struct run *run, const char *kind, const char *sig, unsigned long netns,
			const char *src, int sent, const char *count_key)
{
	const char *a = alert_from(run->lines, run->nlines, netns, src);
	int n = signals_from(run, sig, netns, src);

	if (!sees(run, kind)) {
		if (a || n)
			return fail("the start line says %s probes are not seen, yet: %s", kind,
				    a ? a : "signals");
		printf("  (%s probes not seen in this mode on this kernel, as its start line says)\n",
		       kind);
		return 0;
	}
	if (n != sent)
		return fail("%d %s signals from %s in netns %lu, want the %d probes sent", n, sig, src,
			    netns, sent);
	if (!a || jnum(a, "pid") != 0 || !jfind(a, "comm") || strncmp(jfind(a, "comm"), "null", 4) ||
	    jnum(a, "ports") != 20 || jnum(a, "probes") != 20 || jnum(a, count_key) != 20 ||
	    jnum(a, "window_s") != 10 || !jstr_is(a, "severity", "warning"))
		return fail("wrong or no scan_in alert for %s in netns %lu: %s", src, netns,
			    a ? a : "(none)");
	return 0;
}

static int t_alert_scan_in(void)
{
	unsigned long t_ns = 0, p_ns;
	struct run run;
	int err;

	/* probes are no process's: they are watched only without -p */
	no_pid_filter = true;
	err = start(&run, sc_probed, "alert_scan_in", NULL);
	no_pid_filter = false;
	if (!err)
		err = drive(&run);
	if (!err)
		t_ns = netns_of(run.child);
	stop(&run, 700);
	p_ns = (unsigned int)run.r.fail_errno;
	if (!err && (run.r.nsucc != TCP_PROBES || run.r.nports != UDP_PROBES ||
		     run.r.nreuse != TCP6_PROBES))
		err = fail("the prober: %d of %d TCP refused, %d of %d UDP sent, %d of %d TCP6 refused",
			   run.r.nsucc, TCP_PROBES, run.r.nports, UDP_PROBES, run.r.nreuse, TCP6_PROBES);
	if (!err && !first_of(run.lines, run.nlines, "start"))
		err = fail("no start line");
	if (!err)
		err = check_probes(&run, "tcp4", "tcp_closed", t_ns, P_TCP, TCP_PROBES, "tcp");
	if (!err)
		err = check_probes(&run, "udp4", "udp_closed", t_ns, P_UDP, UDP_PROBES, "udp");
	if (!err)
		err = check_probes(&run, "tcp6", "tcp_closed", p_ns, "::1", TCP6_PROBES, "tcp");
	/* nothing else in those namespaces: the prober's 85 refused connects are under 100 */
	if (!err && alerts_of(run.lines, run.nlines, "scan_out", t_ns, NULL) +
		    alerts_of(run.lines, run.nlines, "scan_out", p_ns, NULL) +
		    alerts_of(run.lines, run.nlines, "listen_ephemeral", t_ns, NULL) +
		    alerts_of(run.lines, run.nlines, "alloc_burst", p_ns, NULL))
		err = fail("an alert other than scan_in in the test's namespaces");
	cleanup(&run);
	return err;
}

/*
 * A flood: 5000 SYNs to closed ports of its own netns as fast as it can.
 * The kernel records at most 1000 a second per CPU; the rest it counts, and
 * the stream says how many ("unrecorded"): recorded + unrecorded covers
 * every RST the kernel sent, and the leases' own events lose nothing.
 */
#define FLOOD 5000

static int sc_flood(struct result *r)
{
	prctl(PR_SET_NAME, "pl-flood");
	if (own_netns())
		return -errno;
	r->t_open0[0] = now_ns();
	for (int i = 0; i < FLOOD; i++)
		if (connect_to(AF_INET, 1 + i % 1000, 0, 0) == -ECONNREFUSED)
			r->nsucc++;
	r->t_open1[0] = now_ns();
	return r->nsucc == FLOOD ? 0 : -EPROTO;
}

static int t_alert_probe_flood(void)
{
	long long unrecorded = 0, drops = -1, most;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned long ns = 0;
	const char *t;
	struct run run;
	int err, n;

	no_pid_filter = true;
	err = start(&run, sc_flood, "alert_probe_flood", NULL);
	no_pid_filter = false;
	if (!err)
		err = drive(&run);
	if (!err)
		ns = netns_of(run.child);
	stop(&run, 1500);
	/* 1000 a second per CPU, over the seconds the flood touched (a slow VM takes several) */
	most = 1000LL * ncpu * ((run.r.t_open1[0] - run.r.t_open0[0]) / 1000000000LL + 2);
	n = signals_from(&run, "tcp_closed", ns, "127.0.0.1");
	for (int i = 0; i < run.nlines; i++)
		if (is_event(run.lines[i], "signal") && jstr_is(run.lines[i], "signal", "unrecorded"))
			unrecorded += jnum(run.lines[i], "count");
	t = first_of(run.lines, run.nlines, "totals");
	if (t && jfind(t, "drops"))
		drops = jnum(jfind(t, "drops"), "alloc") + jnum(jfind(t, "drops"), "state") +
			jnum(jfind(t, "drops"), "release");
	if (!err && !sees(&run, "tcp4")) {
		if (n)
			err = fail("%d probes recorded by a mode that says it sees none", n);
		printf("  (TCP probes not seen in this mode on this kernel, as its start line says)\n");
	} else if (!err && (n > most || n < 20 || n + unrecorded < FLOOD)) {
		err = fail("%d probes recorded (at most %lld: 1000 a second per CPU) and %lld counted "
			   "as unrecorded, for %d sent", n, most, unrecorded, FLOOD);
	} else if (!err && (!alert_from(run.lines, run.nlines, ns, "127.0.0.1") || drops != 0)) {
		err = fail("no scan_in alert for the flood, or lease events dropped (%lld)", drops);
	}
	/* the flood's own leases: every connect seen */
	if (!err && count_ev(&run, "alloc", run.child, -1, NULL) != FLOOD)
		err = fail("%d of the flood's %d connects seen", count_ev(&run, "alloc", run.child, -1,
									   NULL), FLOOD);
	cleanup(&run);
	return err;
}

/* ---- alloc_burst ------------------------------------------------------------ */

#define BURST 1000

/* One connection to port, accepted on lfd; the client closes first. */
static int one_conn(int lfd, int port)
{
	int c = connect_to(AF_INET, port, 0, 0), a;

	if (c < 0)
		return c;
	a = accept(lfd, NULL, NULL);
	close(c);
	if (a >= 0)
		close(a);
	return a < 0 ? -errno : 0;
}

/*
 * 5 connections a second for 12 s (its baseline), then 1000 at once: a
 * retry storm's shape. The listener is on 5000, below ip_local_port_range.
 */
static int sc_burst(struct result *r)
{
	long long t0;
	int lfd, err = 0;

	prctl(PR_SET_NAME, "pl-burster");
	if (own_netns())
		return -errno;
	lfd = listener(AF_INET, 5000);
	if (lfd < 0)
		return -errno;
	t0 = now_ns();
	for (int i = 0; i < 60 && !err; i++) {
		err = one_conn(lfd, 5000);
		/* on a schedule, so that a slow connect does not stretch the baseline */
		while (now_ns() < t0 + (i + 1) * 200000000LL)
			sleep_ms(5);
	}
	for (int i = 0; i < BURST && !err; i++, r->nsucc++)
		err = one_conn(lfd, 5000);
	close(lfd);
	return err;
}

static int t_alert_burst(void)
{
	const char *a = NULL, *b;
	struct run run;
	int err;

	err = start(&run, sc_burst, "alert_burst", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && alerts_of(run.lines, run.nlines, NULL, 0, &a) != 1)
		err = fail("want exactly one alert, got %d", alerts_of(run.lines, run.nlines, NULL, 0,
								      NULL));
	/*
	 * 61 allocations in the 12 s before (the listener's bind, 60 connects):
	 * ~5 a second, more when the burst straddles a second and its start
	 * counts as history (a slow VM); 20 is where 200 stops being 10 times it
	 */
	if (!err && (!jstr_is(a, "rule", "alloc_burst") || jnum(a, "pid") != run.child ||
		     !jstr_is(a, "comm", "pl-burster") || jnum(a, "allocations") != 200 ||
		     jnum(a, "history_s") < 10 || !(b = jfind(a, "baseline_per_s")) ||
		     strtod(b, NULL) < 3.5 || strtod(b, NULL) > 20 ||
		     !has_sample(a, "127.0.0.1:5000")))
		err = fail("wrong alloc_burst alert (pid %d): %s", run.child, a);
	cleanup(&run);
	return err;
}

/* ---- listen_ephemeral ---------------------------------------------------------- */

static int listen_on(int family, const char *addr, int port, bool bind_first)
{
	struct sockaddr_storage ss = {};
	socklen_t len = mkaddr(&ss, family, port);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (addr && family == AF_INET)
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr);
	if (fd < 0 || (bind_first && bind(fd, (void *)&ss, len)) || listen(fd, 8))
		return -errno;
	return fd;
}

/*
 * In a netns of its own (default range 32768-60999, 45000 reserved there):
 * listeners on 40000 and [::1]:41000 (bound inside the range), on ports the
 * kernel picks (listen() alone; bind(0) then listen()), on 5000 (outside)
 * and on 45000 (reserved). r->listen_port, r->bound_port: the picked ones.
 */
static int sc_listeners(struct result *r)
{
	int fds[6];

	prctl(PR_SET_NAME, "pl-listener");
	if (own_netns() || write_file("/proc/sys/net/ipv4/ip_local_reserved_ports", "45000"))
		return -errno;
	fds[0] = listen_on(AF_INET, "0.0.0.0", 40000, true);
	fds[1] = listen_on(AF_INET6, NULL, 41000, true);
	fds[2] = listen_on(AF_INET, NULL, 0, false);
	fds[3] = listen_on(AF_INET, NULL, 0, true);
	fds[4] = listen_on(AF_INET, NULL, 5000, true);
	fds[5] = listen_on(AF_INET, NULL, 45000, true);
	for (int i = 0; i < 6; i++)
		if (fds[i] < 0)
			return fds[i];
	r->listen_port = sock_port(fds[2]);
	r->bound_port = sock_port(fds[3]);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	return 0;
}

static int t_alert_listen(void)
{
	const struct { int port; const char *by; } want[] = { { 40000, "bind" }, { 41000, "bind" },
							      { 0, "kernel" }, { 0, "kernel" } };
	struct run run;
	int err, n;

	err = start(&run, sc_listeners, "alert_listen", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	n = alerts_of(run.lines, run.nlines, NULL, 0, NULL);
	if (!err && n != 4)
		err = fail("want 4 alerts (40000, [::1]:41000, two the kernel chose), got %d", n);
	for (int k = 0; !err && k < 4; k++) {
		int port = k == 2 ? run.r.listen_port : k == 3 ? run.r.bound_port : want[k].port;
		const char *a = NULL;

		for (int i = 0; i < run.nlines && !a; i++)
			if (is_event(run.lines[i], "alert") && jnum(run.lines[i], "lport") == port)
				a = run.lines[i];
		if (!a || !jstr_is(a, "rule", "listen_ephemeral") || jnum(a, "pid") != run.child ||
		    !jstr_is(a, "comm", "pl-listener") || !jstr_is(a, "chosen_by", want[k].by) ||
		    jnum(a, "range_lo") != 32768 || jnum(a, "range_hi") != 60999)
			err = fail("port %d: wrong or no listen_ephemeral alert: %s", port,
				   a ? a : "(none)");
	}
	/* an alert line names its host, as every JSON line does (a fleet tells them apart) */
	{
		char host[64] = "";

		gethostname(host, sizeof(host) - 1);
		for (int i = 0; !err && i < run.nlines; i++)
			if ((is_event(run.lines[i], "alert") || is_event(run.lines[i], "alerts")) &&
			    !jstr_is(run.lines[i], "host", host))
				err = fail("an alert line without host \"%s\": %s", host, run.lines[i]);
	}
	/* every listen() is a signal, the reserved one flagged so */
	for (int port = 5000; !err && port <= 45000; port += 40000) {
		int k = 0;

		for (int i = 0; i < run.nlines; i++)
			if (is_event(run.lines[i], "signal") && jstr_is(run.lines[i], "signal", "listen") &&
			    jnum(run.lines[i], "lport") == port &&
			    (port != 45000 || strstr(run.lines[i], "\"reserved\":true")))
				k++;
		if (k != 1)
			err = fail("%d listen signals for port %d, want 1", k, port);
	}
	cleanup(&run);
	return err;
}

/* ---- normal traffic raises nothing ------------------------------------------------- */

/*
 * The bench's connect storm, set up as bench/run.sh does: its own netns,
 * ip_local_port_range 1024-65535, loadgen's listener ports reserved there.
 */
static int sc_bench(struct result *r)
{
	char lg[PATH_MAX], out[PATH_MAX], dir[PATH_MAX];
	int st;
	pid_t p;

	snprintf(dir, sizeof(dir), "%s", portlife);
	snprintf(lg, sizeof(lg), "%s/loadgen", dirname(dir));
	if (access(lg, X_OK))
		return -ENOENT;
	if (own_netns() ||
	    write_file("/proc/sys/net/ipv4/ip_local_port_range", "1024 65535") ||
	    write_file("/proc/sys/net/ipv4/ip_local_reserved_ports", "20000-20015"))
		return -errno;
	snprintf(out, sizeof(out), "%s/alerts_quiet_bench.loadgen", tmpdir);
	p = fork();
	if (p == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(126);
		execl(lg, "loadgen", "-n", "20000", NULL);
		_exit(127);
	}
	r->other_pid = p;
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -ECHILD;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EPROTO;
}

static int t_alerts_quiet_bench(void)
{
	unsigned long ns = 0;
	struct run run;
	int err, n, allocs;

	/* loadgen is the child's child: follow the netns instead of a pid */
	no_pid_filter = true;
	err = start(&run, sc_bench, "alerts_quiet_bench", NULL);
	no_pid_filter = false;
	if (!err)
		err = drive(&run);
	if (err && run.child_err == -ENOENT)
		err = fail("no loadgen beside %s: make .output/loadgen", portlife);
	if (!err)
		ns = netns_of(run.child);
	stop(&run, 700);
	allocs = count_ev(&run, "alloc", run.r.other_pid, -1, NULL);
	/* the storm was seen (20000 connects, 16 listeners): a quiet that means something */
	if (!err && allocs < 20000)
		err = fail("only %d allocations of loadgen (pid %d) seen", allocs, run.r.other_pid);
	n = alerts_of(run.lines, run.nlines, NULL, ns, NULL);
	if (!err && n)
		err = fail("%d alerts in the storm's netns, want none", n);
	cleanup(&run);
	return err;
}

#define FANOUT_HOSTS 50
#define FANOUT_PORTS 4
#define SERVED 3000

/*
 * A client fanning out to 50 hosts (127.0.0.1-50, four ports each: 200
 * destinations, twice scan_out's threshold), all answering; then a server
 * accepting 3000 connections.
 */
static int sc_clients(struct result *r)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd[FANOUT_PORTS], srv, err = 0;

	prctl(PR_SET_NAME, "pl-clients");
	if (own_netns())
		return -errno;
	for (int p = 0; p < FANOUT_PORTS; p++)
		if ((lfd[p] = listen_on(AF_INET, "0.0.0.0", 7000 + p, true)) < 0)
			return lfd[p];
	for (int h = 1; h <= FANOUT_HOSTS && !err; h++) {
		for (int p = 0; p < FANOUT_PORTS && !err; p++) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;

			sin.sin_port = htons(7000 + p);
			sin.sin_addr.s_addr = htonl(0x7f000000 | h);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
				err = -errno;
			a = accept(lfd[p], NULL, NULL);
			if (a >= 0)
				close(a);
			if (fd >= 0)
				close(fd);
			r->nsucc += !err;
		}
	}
	for (int p = 0; p < FANOUT_PORTS; p++)
		close(lfd[p]);
	srv = listener(AF_INET, 7100);
	for (int i = 0; i < SERVED && !err; i++, r->nports++)
		err = one_conn(srv, 7100);
	close(srv);
	return err;
}

static int t_alerts_quiet_clients(void)
{
	struct run run;
	int err, n;

	err = start(&run, sc_clients, "alerts_quiet_clients", NULL);
	if (!err)
		err = drive(&run);
	stop(&run, 700);
	if (!err && (run.r.nsucc != FANOUT_HOSTS * FANOUT_PORTS || run.r.nports != SERVED))
		err = fail("the clients made %d of %d fan-out and %d of %d served connections",
			   run.r.nsucc, FANOUT_HOSTS * FANOUT_PORTS, run.r.nports, SERVED);
	/* all of it was seen: the connects, each answered */
	n = count_ev(&run, "alloc", run.child, -1, NULL);
	if (!err && n < FANOUT_HOSTS * FANOUT_PORTS + SERVED)
		err = fail("only %d allocations seen", n);
	n = alerts_of(run.lines, run.nlines, NULL, 0, NULL);
	if (!err && n)
		err = fail("%d alerts for normal clients and a busy server, want none", n);
	if (!err && (!first_of(run.lines, run.nlines, "alerts") ||
		     jnum(first_of(run.lines, run.nlines, "alerts"), "total") != 0))
		err = fail("the summary's alerts line is missing or not 0");
	cleanup(&run);
	return err;
}

/*
 * top, as text (stdout not a terminal): the scanner's row marked "!", the
 * title counting the alert.
 */
static int t_alert_top(void)
{
	char out[300], pidbuf[16], *argv[10];
	int i = 0, err = 0, n, st;
	bool row = false, title = false;
	char **v;
	pid_t kid = fork();

	if (kid == 0) {
		struct result r = {};

		sleep_ms(1500);
		_exit(sc_scanner(&r) ? 1 : (sleep_ms(2500), 0));
	}
	snprintf(pidbuf, sizeof(pidbuf), "%d", kid);
	snprintf(out, sizeof(out), "%s/alert_top.txt", tmpdir);
	argv[i++] = "portlife";
	argv[i++] = "top";
	argv[i++] = "-d";
	argv[i++] = "4";
	argv[i++] = "-p";
	argv[i++] = pidbuf;
	if (mode) {
		argv[i++] = "--mode";
		argv[i++] = (char *)mode;
	}
	argv[i] = NULL;
	if (run_capture(argv, out))
		err = fail("portlife top failed: see %s.err", out);
	waitpid(kid, &st, 0);
	if (!err && (!WIFEXITED(st) || WEXITSTATUS(st)))
		err = fail("the scanner failed");
	v = file_lines(out, &n);
	for (int k = 0; k < n; k++) {
		char mark[8] = "";
		unsigned p;

		/* PID COMM HELD ALLOC/s FAILS TW P99 MED ! POD/CONTAINER */
		title |= strstr(v[k], "portlife top ") && strstr(v[k], "  alerts 1  ");
		row |= sscanf(v[k], "%u %*s %*s %*s %*s %*s %*s %*s %7s", &p, mark) == 2 &&
		       p == (unsigned)kid && !strcmp(mark, "!");
	}
	free_lines(v, n);
	if (!err && (!row || !title))
		err = fail("top showed no '!' on pid %d's row (%d) or no 'alerts 1' in its title (%d): "
			   "see %s", kid, row, title, out);
	return err;
}

/* Bad thresholds: one line naming the problem, exit 2, nothing loaded. */
static int t_alerts_bad_input(void)
{
	char *cases[][7] = {
		{ "portlife", "--alert", "scan_out:dests=0", NULL },
		{ "portlife", "--alert", "scan_out:port=5", NULL },
		{ "portlife", "--alert", "portscan=off", NULL },
		{ "portlife", "--alert", "listen_ephemeral:window=3", NULL },
		{ "portlife", "--alert", "scan_in=off", "--no-alerts", NULL },
		{ "portlife", "record", "-o", "/nonexistent/x", "--alert", "alloc_burst:factor=1", NULL },
		{ "portlife", "report", "/nonexistent", "--alert", "scan_in:ports=99999", NULL },
	};
	const char *needle[] = { "scan_out:dests=0", "port=5", "portscan=off", "window=3",
				 "--no-alerts", "factor=1", "ports=99999" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (expect_error(cases[i], needle[i]))
			return -1;
	return 0;
}

LIVE_TEST(alerts_bad_input, t_alerts_bad_input, 25, false);
LIVE_TEST(alert_listen, t_alert_listen, 215, false);
LIVE_TEST(alert_scan_out, t_alert_scan_out, 216, false);
LIVE_TEST(alert_scan_in, t_alert_scan_in, 217, false);
LIVE_TEST(alert_probe_flood, t_alert_probe_flood, 217, false);
LIVE_TEST(alerts_quiet_clients, t_alerts_quiet_clients, 218, false);
LIVE_TEST(alerts_quiet_bench, t_alerts_quiet_bench, 219, false);
LIVE_TEST(alert_burst, t_alert_burst, 220, false);
LIVE_TEST(alert_top, t_alert_top, 216, true);
