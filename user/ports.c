// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>
#include "cgpath.h"
#include "container.h"
#include "failures.h"
#include "headroom.h"
#include "json.h"
#include "loader.h"
#include "nat.h"
#include "netns.h"
#include "opts.h"
#include "ports.h"
#include "sockdiag.h"
#include "util.h"

struct ports_env {
	bool json, headroom, verbose;
	bool sample_set;	/* --sample given: it means nothing without --headroom */
	long port;		/* -1: any */
	unsigned long lo, hi;	/* --range */
	unsigned long pid;
	int state;		/* 0: any */
	unsigned long netns;
	double sample;		/* seconds between two snapshots for --headroom */
	struct nat_opts nat;	/* --nat-netns, --nat-range: NAT headroom too */
	int who;		/* `who PORT` */
	struct container_filter ctr;	/* --container, --pod, --namespace */
	const char *kubelet_logs;
	struct container_cache *cc;
	__u32 memo_pid;			/* the last owner looked up, and its container */
	const struct container *memo;
};

static struct ports_env penv;

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return penv.verbose ? vfprintf(stderr, fmt, ap) : 0;
}

static int state_by_name(const char *name)
{
	for (int s = 1; s <= 13; s++)
		if (!strcasecmp(name, tcp_state_name(s)))
			return s;
	if (!strcasecmp(name, "UNCONN"))
		return PL_TCP_CLOSE;	/* an unconnected UDP socket is in CLOSE */
	if (!strcasecmp(name, "ESTAB"))
		return PL_TCP_ESTABLISHED;	/* as the listing says it (and ss) */
	return 0;
}

/* The state as ss names it: a timewait socket's FIN_WAIT2 substate included. */
static int shown_state(const struct pl_sock_rec *r)
{
	if (r->proto == IPPROTO_TCP && r->state == PL_TCP_TIME_WAIT && (r->flags & PL_SOCKF_TW_FW2))
		return PL_TCP_FIN_WAIT2;
	return r->state;
}

static const char *proto_state(const struct pl_sock_rec *r)
{
	if (r->proto == IPPROTO_UDP)
		return r->state == PL_TCP_ESTABLISHED ? "ESTAB" : "UNCONN";
	return tcp_state_name(shown_state(r));
}

/* The container of a socket's owner now, from its cgroup; NULL for none or unknown. */
static const struct container *owner_ctr(const struct sock_ent *e)
{
	__u64 id;

	if (!e->pid || !penv.cc)
		return NULL;
	if (e->pid == penv.memo_pid)
		return penv.memo;
	penv.memo_pid = e->pid;
	/* the kernel's id first: /proc/PID/cgroup is relative to our cgroup namespace */
	id = e->cgroup_id;
	if (!id)
		cgroup_id_of_pid(e->pid, &id);	/* leaves it 0 when it cannot tell */
	penv.memo = id ? container__lookup(penv.cc, id) : NULL;
	return penv.memo;
}

static bool wanted(const struct sock_ent *e)
{
	const struct pl_sock_rec *r = &e->r;

	if (penv.port >= 0 && r->lport != penv.port)
		return false;
	if (penv.hi && (r->lport < penv.lo || r->lport > penv.hi))
		return false;
	if (penv.pid && e->pid != penv.pid)
		return false;
	if (penv.state && shown_state(r) != penv.state)
		return false;
	if (penv.netns && r->netns != penv.netns)
		return false;
	if (!container_filter__empty(&penv.ctr) && !container__match(owner_ctr(e), &penv.ctr))
		return false;
	return true;
}

static int by_port(const void *a, const void *b)
{
	const struct sock_ent *x = a, *y = b;

	if (x->r.netns != y->r.netns)
		return x->r.netns < y->r.netns ? -1 : 1;
	if (x->r.proto != y->r.proto)
		return x->r.proto < y->r.proto ? -1 : 1;
	if (x->r.lport != y->r.lport)
		return x->r.lport < y->r.lport ? -1 : 1;
	return x->r.rport < y->r.rport ? -1 : x->r.rport > y->r.rport;
}

static void print_sock_json(struct lbuf *b, FILE *f, const struct sock_ent *e)
{
	const struct pl_sock_rec *r = &e->r;
	struct jw w;

	jw_begin(&w, b);
	jw_obj(&w);
	jw_kstr(&w, "event", "socket");
	jw_kstr(&w, "proto", r->proto == IPPROTO_UDP ? "udp" : "tcp");
	jw_ku64(&w, "family", r->family == AF_INET6 ? 6 : 4);
	jw_kstr(&w, "state", proto_state(r));
	jw_kaddr(&w, "laddr", r->family, r->laddr);
	jw_ku64(&w, "lport", r->lport);
	jw_kaddr(&w, "raddr", r->family, r->raddr);
	jw_ku64(&w, "rport", r->rport);
	jw_ku64(&w, "netns", r->netns);
	jw_ku64(&w, "uid", r->uid);
	if (e->pid) {
		jw_ku64(&w, "pid", e->pid);
		jw_kstrn(&w, "comm", e->comm, sizeof(e->comm));
	} else {
		jw_knull(&w, "pid");
		jw_knull(&w, "comm");
	}
	jw_key(&w, "container");
	container__jw(&w, owner_ctr(e));
	/* pid is the lowest of them: a forked server's workers share the socket */
	jw_ku64(&w, "processes", e->nholders);
	if (r->state == PL_TCP_TIME_WAIT && r->proto == IPPROTO_TCP)
		jw_ku64(&w, "expires_ns", r->expires_ns);
	jw_line(&w, f);
}

static void print_sock(FILE *f, const struct sock_ent *e)
{
	const struct pl_sock_rec *r = &e->r;
	char lep[64], rep[64], pid[16] = "-", comm[PL_COMM_LEN], left[24] = "-", ctr[96];

	comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
	if (r->proto == IPPROTO_TCP && r->state == PL_TCP_TIME_WAIT)
		dur_str(r->expires_ns, left, sizeof(left));
	if (e->pid)
		snprintf(pid, sizeof(pid), "%u", e->pid);
	endpoint_str(r->family, r->raddr, r->rport, rep, sizeof(rep));
	if (!r->rport)	/* no remote end, as ss shows it */
		strcpy(strrchr(rep, ':') + 1, "*");
	/* container names are validated (container.h): printable as they are */
	fprintf(f, "%-5s %-12s %-24s %-24s %-7s %-16s %-11u %-8s %s", proto_family_str(r->proto, r->family),
		proto_state(r), endpoint_str(r->family, r->laddr, r->lport, lep, sizeof(lep)), rep,
		pid, e->pid ? comm : "(unknown)", r->netns, left,
		container__short(owner_ctr(e), ctr, sizeof(ctr)));
	if (e->nholders > 1)
		fprintf(f, " (and %u more process%s)", e->nholders - 1, e->nholders == 2 ? "" : "es");
	fprintf(f, "\n");
}

enum { OPT_JSON = 0x100, OPT_RANGE, OPT_STATE, OPT_NETNS, OPT_HEADROOM, OPT_SAMPLE,
       OPT_KUBELET_LOGS, OPT_NAT_NETNS, OPT_NAT_RANGE };

static const struct argp_option ports_opts[] = {
	{ "json", OPT_JSON, NULL, 0, "JSON lines: one object per socket (and per destination)", 0 },
	{ "port", 'P', "PORT", 0, "Only this local port", 0 },
	{ "range", OPT_RANGE, "LO-HI", 0, "Only local ports in this range", 0 },
	{ "pid", 'p', "PID", 0, "Only sockets this process holds", 0 },
	{ "state", OPT_STATE, "STATE", 0, "Only this state (LISTEN, ESTABLISHED or ESTAB, TIME_WAIT, BOUND: bound, never listened or connected, listed from kernel 6.7; UNCONN...)", 0 },
	{ "netns", OPT_NETNS, "NETNS", 0, "Only this network namespace: a name in /run/netns (ip netns), a path such as /proc/PID/ns/net, or an inode (as `ls -L -i` shows it)", 0 },
	{ "headroom", OPT_HEADROOM, NULL, 0, "Headroom per destination and per netns instead of sockets", 0 },
	{ "nat-netns", OPT_NAT_NETNS, "NETNS", 0, "With --headroom: NAT headroom of this network namespace too (a name in /run/netns, a path or an inode; portlife's own is always included; up to 7 times)", 0 },
	{ "nat-range", OPT_NAT_RANGE, "LO-HI", 0, "With --headroom: the NAT rules' port range (default nf_nat's own, 1024-65535)", 0 },
	{ "sample", OPT_SAMPLE, "SECONDS", 0, "With --headroom: a second snapshot this much later for the growth rate (default 1, 0: none)", 0 },
	OPTS_CONTAINER_FILTER,
	{ "kubelet-logs", OPT_KUBELET_LOGS, "DIR", 0,
	  "Where the kubelet's pods/ and containers/ log directories are (default /var/log)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{},
};

static error_t parse_ports(int key, char *arg, struct argp_state *state)
{
	unsigned long v;
	char *dash;
	error_t err = opt_container_filter(key, arg, &penv.ctr);

	if (err != ARGP_ERR_UNKNOWN)
		return err;
	switch (key) {
	case OPT_KUBELET_LOGS:
		if (!*arg)
			return opt_bad("kubelet-logs", arg, "expected a directory");
		penv.kubelet_logs = arg;
		break;
	case OPT_JSON:
		penv.json = true;
		break;
	case 'P':
		if (parse_ulong(arg, 1, 65535, &v))
			return opt_bad("port", arg, "expected 1 to 65535");
		penv.port = v;
		break;
	case OPT_RANGE:
		dash = strchr(arg, '-');
		if (!dash)
			return opt_bad("range", arg, "expected LO-HI, e.g. 32768-60999");
		*dash = '\0';
		if (parse_ulong(arg, 1, 65535, &penv.lo) || parse_ulong(dash + 1, 1, 65535, &penv.hi) ||
		    penv.lo > penv.hi) {
			*dash = '-';
			return opt_bad("range", arg, "expected LO-HI with 1 <= LO <= HI <= 65535");
		}
		break;
	case 'p': {
		unsigned long was = penv.pid;

		if (opt_pid(arg, &penv.pid) || opt_pid_is_process(penv.pid))
			return -EINVAL;
		if (was && was != penv.pid) {
			fprintf(stderr, "portlife: -p given twice (%lu, %lu): it lists one process's "
					"sockets; leave -p out and filter the --json lines by pid\n",
				was, penv.pid);
			return -EINVAL;
		}
		break;
	}
	case OPT_STATE:
		if (!(penv.state = state_by_name(arg)))
			return opt_bad("state", arg, "expected a TCP state such as LISTEN, ESTABLISHED, "
						 "TIME_WAIT, or UNCONN for UDP");
		break;
	case OPT_NETNS:
	{
		__u32 inum;
		int e = netns_inum_of(arg, &inum);

		if (e) {
			fprintf(stderr, "portlife: invalid netns '%s': %s: give a name in /run/netns "
				"(ip netns list), a path such as /proc/PID/ns/net, or an inode "
				"number\n", arg, e == -EINVAL ? "not a network namespace" : strerror(-e));
			return e;
		}
		penv.netns = inum;
		break;
	}
	case OPT_HEADROOM:
		penv.headroom = true;
		break;
	case OPT_NAT_NETNS:
		if (penv.nat.nnetns == NAT_MAX_NETNS - 1)
			return opt_bad("nat-netns", arg, "at most 7 namespaces besides portlife's own");
		penv.nat.netns[penv.nat.nnetns++] = arg;
		break;
	case OPT_NAT_RANGE:
		if (nat_parse_range(arg, &penv.nat.range_lo, &penv.nat.range_hi))
			return opt_bad("nat-range", arg, "expected LO-HI, ports from 1 to 65535");
		break;
	case OPT_SAMPLE:
		if (parse_seconds(arg, 0, 60, &penv.sample))
			return opt_bad("sample", arg, "expected seconds, from 0 to 60");
		penv.sample_set = true;
		break;
	case 'v':
		penv.verbose = true;
		break;
	case ARGP_KEY_ARG:
		if (penv.who && penv.port >= 0) {
			fprintf(stderr, "portlife: who takes one port: %s, or -P, not both\n", arg);
			return -EINVAL;
		}
		if (penv.who && penv.port < 0) {
			if (parse_ulong(arg, 1, 65535, &v))
				return opt_bad("port", arg, "expected 1 to 65535");
			penv.port = v;
			break;
		}
		fprintf(stderr, "portlife: unexpected argument '%s' (see --help)\n", arg);
		return -EINVAL;
	case ARGP_KEY_END:
		if (penv.who && penv.port < 0) {
			fprintf(stderr, "portlife: who needs a port: portlife who PORT\n");
			return -EINVAL;
		}
		if (penv.who && penv.hi) {
			fprintf(stderr, "portlife: who looks at one port, its PORT: --range is "
					"for portlife ports\n");
			return -EINVAL;
		}
		if (penv.headroom && (penv.who || penv.port >= 0 || penv.hi || penv.state)) {
			fprintf(stderr, "portlife: --headroom counts every port of every destination, "
					"so %s does not apply to it: leave it out (--netns picks a "
					"namespace)\n", penv.who ? "who's PORT" : penv.port >= 0 ? "--port" :
					penv.hi ? "--range" : "--state");
			return -EINVAL;
		}
		if (penv.sample_set && !penv.headroom) {
			fprintf(stderr, "portlife: --sample goes with --headroom (the growth between "
					"two snapshots): portlife ports --headroom --sample SECONDS\n");
			return -EINVAL;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)state;
	return 0;
}

static const char ports_doc[] =
"portlife ports: every local port in use now, in every network namespace:\n"
"protocol, state (TIME_WAIT with the time left), local and remote address,\n"
"owner (pid and comm; TIME_WAIT sockets have none), netns, and the owner's\n"
"pod or container.\n"
"With --headroom: for each destination, the ephemeral ports in use against\n"
"those usable (ip_local_port_range minus ip_local_reserved_ports minus ports\n"
"held by bind()), TIME_WAIT included but for those tcp_tw_reuse lets the\n"
"next connect() take over, the growth over --sample seconds and the time to\n"
"exhaustion at that pace; and the bind(0) headroom of each netns. And the\n"
"NAT headroom: the translations conntrack holds per (NAT address,\n"
"destination) against the NAT port range, with their owners.\n"
"\n"
"USAGE: portlife ports [OPTIONS]\n"
"\n"
"EXAMPLES:\n"
"    portlife ports --state TIME_WAIT --range 32768-60999\n"
"    portlife ports --headroom            # who is closest to EADDRNOTAVAIL\n"
"    portlife ports --json -p 4242 | jq .\n"
"\n"
"OPTIONS:";

static const char who_doc[] =
"portlife who PORT: every socket on local port PORT now, in any state and\n"
"namespace, with its owner; and, when a `portlife` is tracing, who recently\n"
"failed to get that port.\n"
"\n"
"USAGE: portlife who PORT [--json] [--netns NETNS] [--pod NAME ...]\n"
"\n"
"OPTIONS:";

#define WHO_SEEN 1024

struct who_ctx {
	FILE *f;
	bool json;
	struct lbuf lb;
	/*
	 * What was shown: each running portlife publishes what it saw, and two
	 * (a DaemonSet's, an SRE's) saw the same failure, a few microseconds
	 * apart (each its own program's clock read).
	 */
	struct who_seen {
		struct pl_event e;
		__u64 wall_ns;		/* when, on the wall clock: the tracers' order merged */
		__u32 tracer;		/* the first portlife (pid) that published it */
	} seen[WHO_SEEN];
	int nseen;
};

/*
 * Two tracers' records of one failure: each program read the clock in
 * turn, one after the other on the same hook, microseconds apart, and more
 * than a millisecond under a loaded emulated guest (a failure listed twice).
 * One tracer never records one failure twice: its own are never merged.
 */
#define SAME_FAILURE_NS 20000000ULL

static bool same_failure(const struct pl_event *a, const struct pl_event *b)
{
	__u64 d = a->ts_ns > b->ts_ns ? a->ts_ns - b->ts_ns : b->ts_ns - a->ts_ns;

	return d < SAME_FAILURE_NS && a->tid == b->tid && a->err == b->err && a->netns == b->netns &&
	       a->lport == b->lport && a->rport == b->rport && a->kind == b->kind &&
	       !memcmp(a->laddr, b->laddr, 16) && !memcmp(a->raddr, b->raddr, 16);
}

/*
 * `who`: a failure on this port that a running `portlife` saw, kept once
 * (two tracers publish the same failure) and printed after all are read,
 * in the order they happened (each tracer's file holds its own).
 */
static void on_failure(void *ctx, __u32 tracer, const struct pl_event *e, __u64 wall_off)
{
	struct who_ctx *c = ctx;

	/* who's filters hold for the failures too: --netns, -p, a pod's */
	if ((penv.netns && e->netns != penv.netns) || (penv.pid && e->pid != penv.pid) ||
	    (!container_filter__empty(&penv.ctr) &&
	     !container__match(penv.cc && e->cgroup_id ? container__lookup(penv.cc, e->cgroup_id) :
							  NULL, &penv.ctr)))
		return;
	for (int i = 0; i < c->nseen; i++)
		if (c->seen[i].tracer != tracer && same_failure(&c->seen[i].e, e))
			return;
	if (c->nseen == WHO_SEEN)
		return;
	c->seen[c->nseen].e = *e;
	c->seen[c->nseen].wall_ns = e->ts_ns + wall_off;
	c->seen[c->nseen++].tracer = tracer;
}

static int seen_cmp(const void *a, const void *b)
{
	const struct who_seen *x = a, *y = b;

	return x->wall_ns < y->wall_ns ? -1 : x->wall_ns > y->wall_ns;
}

static void print_failures(struct who_ctx *c)
{
	char comm[PL_COMM_LEN], ts[32], ep[64], rp[64], eb[16], why[112], pids[64] = "";
	size_t n = 0;
	struct jw w;

	qsort(c->seen, c->nseen, sizeof(c->seen[0]), seen_cmp);
	/* which portlifes saw them: a few pids, distinct */
	for (int i = 0; i < c->nseen && n < sizeof(pids) - 12; i++) {
		bool dup = false;

		for (int j = 0; j < i && !dup; j++)
			dup = c->seen[j].tracer == c->seen[i].tracer;
		if (!dup)
			n += snprintf(pids + n, sizeof(pids) - n, "%s%u", n ? ", " : "",
				      c->seen[i].tracer);
	}
	for (int i = 0; i < c->nseen; i++) {
		const struct pl_event *e = &c->seen[i].e;
		const int fam = e->family == AF_INET6 ? AF_INET6 : AF_INET;

		if (c->json) {
			jw_begin(&w, &c->lb);
			jw_obj(&w);
			jw_kstr(&w, "event", "failure");
			jw_ktime(&w, "time", c->seen[i].wall_ns);
			jw_ku64(&w, "pid", e->pid);
			jw_kstrn(&w, "comm", e->comm, sizeof(e->comm));
			jw_kstr(&w, "error", errno_name(e->err, eb, sizeof(eb)));
			jw_ku64(&w, "lport", e->lport);
			jw_ku64(&w, "netns", e->netns);
			if (e->sflags & PL_ALLOCF_BOUND)
				jw_kbool(&w, "tuple_in_use", true);
			jw_line(&w, c->f);
			continue;
		}
		if (!i)
			fprintf(c->f, "\nrecent failures to get port %u (seen by portlife, pid%s %s):\n",
				e->lport, strchr(pids, ',') ? "s" : "", pids);
		comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
		why[0] = '\0';
		/* no search: the port was its own, the 4-tuple to that destination taken */
		if (e->sflags & PL_ALLOCF_BOUND)
			snprintf(why, sizeof(why), " (connect() to %s: its 4-tuple in use)",
				 endpoint_str(fam, e->raddr, e->rport, rp, sizeof(rp)));
		fprintf(c->f, "  %s pid %u (%s) %s on %s%s\n",
			wall_str(c->seen[i].wall_ns, 0, ts, sizeof(ts)), e->pid, comm,
			errno_name(e->err, eb, sizeof(eb)),
			endpoint_str(fam, e->laddr, e->lport, ep, sizeof(ep)), why);
	}
}

static int run_ports(int argc, char **argv, int who)
{
	struct argp argp = { .options = ports_opts, .parser = parse_ports,
			     .doc = who ? who_doc : ports_doc };
	struct snapshot s = {}, prev = {};
	struct nat_view *natp = NULL, *natn = NULL;
	__u64 nat_t0 = 0;
	char why[300];
	struct iters_bpf it = {};
	struct lbuf lb = {};
	size_t shown = 0;
	int err;

	memset(&penv, 0, sizeof(penv));
	penv.port = -1;
	penv.sample = 1;
	penv.who = who;
	penv.kubelet_logs = "/var/log";
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	if (penv.netns) {
		/* an inode no namespace has: an empty table would say "nothing in use" */
		int fd = netns_open(penv.netns, 0, NULL);

		if (fd < 0) {
			fprintf(stderr, "portlife: no network namespace has inode %lu (ls -L -i "
					"/proc/*/ns/net lists those of processes): give one that "
					"exists\n", penv.netns);
			return 2;
		}
		close(fd);
	}
	{
		char pods[PATH_MAX], logs[PATH_MAX];
		struct container_opts co = { .pods_dir = pods, .containers_dir = logs };

		if ((size_t)snprintf(pods, sizeof(pods), "%s/pods", penv.kubelet_logs) >=
		    sizeof(pods) ||
		    (size_t)snprintf(logs, sizeof(logs), "%s/containers", penv.kubelet_logs) >=
		    sizeof(logs)) {
			fprintf(stderr, "portlife: --kubelet-logs '%s' is too long\n",
				penv.kubelet_logs);
			return 2;
		}
		/* the cache copies the directories: they may go out of scope */
		penv.cc = container_cache__new(&co);
		if (!penv.cc) {
			fprintf(stderr, "portlife: out of memory for the container cache\n");
			return 1;
		}
	}
	libbpf_set_print(quiet_print);
	/* CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39 */
	if (!loader__has_cap(21) && !(loader__has_cap(38) && loader__has_cap(39))) {
		fprintf(stderr, "portlife: listing sockets needs BPF iterators: run it as root "
				"(or with CAP_BPF, CAP_PERFMON, and CAP_SYS_ADMIN to see other "
				"network namespaces)\n");
		return 1;
	}
	loader__warn_caps(who ? "portlife who" : "portlife ports");
	err = loader__load_iters(&it);
	if (err)
		goto out;
	it.links.owner_pid = penv.pid;	/* -p: a socket it shares is shown as its own */
	if (penv.headroom && penv.sample > 0) {
		err = snapshot__take(&prev, &it.links, penv.netns);
		nat_t0 = mono_ns();
		natp = nat_view__new(65536);
		/* NAT is a part of the answer: without conntrack it is left out, not fatal */
		if (!err && natp && nat_dump(&penv.nat, &prev, natp, nat_t0, why, sizeof(why))) {
			nat_view__free(natp);
			natp = NULL;
		}
		if (!err)
			usleep((useconds_t)(penv.sample * 1e6));
	}
	if (!err)
		err = snapshot__take(&s, &it.links, penv.netns);
	if (err) {
		fprintf(stderr, "portlife: taking the socket snapshot failed: %s\n", strerror(-err));
		goto out;
	}
	if (penv.headroom) {
		struct dest *dv;
		struct bind_room *bv;
		size_t nd, nb;

		err = headroom(&s, penv.sample > 0 ? &prev : NULL, &dv, &nd, &bv, &nb);
		if (!err)
			headroom_print(stdout, dv, nd, bv, nb, penv.json, penv.netns, (size_t)-1);
		free(dv);
		free(bv);
		natn = nat_view__new(65536);
		if (!err && natn) {
			__u64 now = mono_ns();
			struct nat_dest *v;
			size_t n;

			if (nat_dump(&penv.nat, &s, natn, now, why, sizeof(why))) {
				fprintf(stderr, "portlife: no NAT headroom: %s\n", why);
				if (penv.nat.nnetns)
					err = -EINVAL;	/* a namespace asked for by name */
				goto out;
			}
			if (natp)
				nat_view__growth_from(natn, natp, nat_t0, now);
			v = nat_view__sorted(natn, &n);
			if (v && (n || !penv.json)) {
				if (!penv.json)
					printf("\n");
				nat_print(stdout, v, n, penv.json, (size_t)-1);
			}
			free(v);
		}
		goto out;
	}
	qsort(s.v, s.n, sizeof(*s.v), by_port);
	if (!penv.json)
		printf("%-5s %-12s %-24s %-24s %-7s %-16s %-11s %-8s %s\n", "PROTO", "STATE", "LOCAL",
		       "REMOTE", "PID", "COMM", "NETNS", "TW_LEFT", "POD/CONTAINER");
	for (size_t i = 0; i < s.n; i++) {
		if (!wanted(&s.v[i]))
			continue;
		shown++;
		if (penv.json)
			print_sock_json(&lb, stdout, &s.v[i]);
		else
			print_sock(stdout, &s.v[i]);
	}
	if (who && !shown && !penv.json) {
		if (penv.state || penv.pid || penv.netns || !container_filter__empty(&penv.ctr))
			printf("(no holder of port %ld matches --state, -p, --netns or the pod "
			       "filters)\n", penv.port);
		else
			printf("(nobody holds port %ld)\n", penv.port);
	}
	if (who) {
		struct who_ctx *c = calloc(1, sizeof(*c));

		if (c) {
			c->f = stdout;
			c->json = penv.json;
			failures__read(penv.port, on_failure, c);
			print_failures(c);
			lbuf_free(&c->lb);
			free(c);
		}
	}
	if (s.ns_unreachable && !penv.json)
		fprintf(stderr, "portlife: %zu namespaces went away while we looked\n",
			s.ns_unreachable);
	/* what this listing cannot hold, said where a script's parse is not disturbed */
	if (!sockdiag_bound_known())
		fprintf(stderr, "portlife: sockets only bound (bind() without listen() or connect()) "
				"hold ports this kernel cannot list (sock_diag lists them from 6.7)\n");
	else if (s.bound_failed)
		fprintf(stderr, "portlife: sockets only bound (bind() without listen() or connect()) "
				"are not listed: sock_diag refused to dump them (is the tcp_diag module "
				"available? modprobe tcp_diag)\n");
out:
	nat_view__free(natp);
	nat_view__free(natn);
	lbuf_free(&lb);
	snapshot__free(&s);
	snapshot__free(&prev);
	loader__unload_iters(&it);
	container_cache__free(penv.cc);
	penv.cc = NULL;
	if (out_finish("output"))
		return 1;
	return err ? 1 : 0;
}

int cmd_ports(int argc, char **argv)
{
	return run_ports(argc, argv, 0);
}

int cmd_who(int argc, char **argv)
{
	return run_ports(argc, argv, 1);
}
