// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <argp.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "portlife.skel.h"
#include "json.h"
#include "ports.h"
#include "util.h"

struct ports_env {
	bool json, headroom, verbose;
	long port;		/* -1: any */
	unsigned long lo, hi;	/* --range */
	unsigned long pid;
	int state;		/* 0: any */
	unsigned long netns;
	double sample;		/* seconds between two snapshots for --headroom */
	int who;		/* `who PORT` */
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
		return 7;	/* an unconnected UDP socket is in CLOSE */
	return 0;
}

static const char *proto_state(const struct pl_sock_rec *r)
{
	if (r->proto == 17)
		return r->state == 1 ? "ESTAB" : "UNCONN";
	return tcp_state_name(r->state);
}

/* Load only the socket-table and owner iterators. */
static int load(struct portlife **skel, struct snapshot_links *l)
{
	struct bpf_program *prog;
	char kconfig[64];
	int err;

	snprintf(kconfig, sizeof(kconfig), "CONFIG_HZ=%u\n", kernel_hz());
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kconfig = kconfig);

	libbpf_set_print(quiet_print);
	if (geteuid() != 0) {
		fprintf(stderr, "portlife: listing sockets needs BPF iterators and setns(): "
				"run it as root\n");
		return -EPERM;
	}
	*skel = portlife__open_opts(&opts);
	if (!*skel) {
		fprintf(stderr, "portlife: cannot open the BPF object: %s\n", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_program(prog, (*skel)->obj)
		bpf_program__set_autoload(prog, !strncmp(bpf_program__name(prog), "pl_ports_", 9));
	err = portlife__load(*skel);
	if (err) {
		fprintf(stderr, "portlife: the kernel refused the socket iterators (%s): "
				"needs BTF and 5.9+; run with -v for details\n", strerror(-err));
		return err;
	}
	l->tcp = bpf_program__attach_iter((*skel)->progs.pl_ports_tcp, NULL);
	l->udp = bpf_program__attach_iter((*skel)->progs.pl_ports_udp, NULL);
	l->owner = bpf_program__attach_iter((*skel)->progs.pl_ports_owner, NULL);
	if (!l->tcp || !l->udp || !l->owner) {
		err = -errno;
		fprintf(stderr, "portlife: cannot create the socket iterators: %s\n", strerror(-err));
		return err;
	}
	return 0;
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
	if (penv.state && r->state != penv.state)
		return false;
	if (penv.netns && r->netns != penv.netns)
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

static void print_sock_json(FILE *f, const struct sock_ent *e)
{
	const struct pl_sock_rec *r = &e->r;
	char la[48], ra[48];

	fprintf(f, "{\"event\":\"socket\",\"proto\":\"%s\",\"family\":%d,\"state\":\"%s\","
		   "\"laddr\":\"%s\",\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,\"netns\":%u,"
		   "\"uid\":%u,\"pid\":",
		r->proto == 17 ? "udp" : "tcp", r->family == 10 ? 6 : 4, proto_state(r),
		addr_str(r->family, r->laddr, la, sizeof(la)), r->lport,
		addr_str(r->family, r->raddr, ra, sizeof(ra)), r->rport, r->netns, r->uid);
	if (e->pid) {
		fprintf(f, "%u,\"comm\":", e->pid);
		json_str(f, e->comm, sizeof(e->comm));
	} else {
		fprintf(f, "null,\"comm\":null");
	}
	if (r->state == 6 && r->proto == 6)
		fprintf(f, ",\"expires_ns\":%llu", (unsigned long long)r->expires_ns);
	fprintf(f, "}\n");
}

static void print_sock(FILE *f, const struct sock_ent *e)
{
	const struct pl_sock_rec *r = &e->r;
	char lep[64], rep[64], pid[16] = "-", comm[PL_COMM_LEN], left[24] = "";

	comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
	if (r->proto == 6 && r->state == 6)
		dur_str(r->expires_ns, left, sizeof(left));
	if (e->pid)
		snprintf(pid, sizeof(pid), "%u", e->pid);
	endpoint_str(r->family, r->raddr, r->rport, rep, sizeof(rep));
	if (!r->rport)	/* no remote end, as ss shows it */
		strcpy(strrchr(rep, ':') + 1, "*");
	fprintf(f, "%-5s %-12s %-24s %-24s %-7s %-16s %-11u %s\n",
		r->proto == 17 ? (r->family == 10 ? "udp6" : "udp4") :
				 (r->family == 10 ? "tcp6" : "tcp4"),
		proto_state(r), endpoint_str(r->family, r->laddr, r->lport, lep, sizeof(lep)), rep,
		pid, e->pid ? comm : "(unknown)", r->netns, left);
}

const char *dest_remedy(const struct dest *d, char *buf, size_t len)
{
	if (d->in_use && d->time_wait * 2 >= d->in_use)
		snprintf(buf, len, "mostly TIME_WAIT: reuse connections (keep-alive, pooling) "
				   "to this destination; on the client, net.ipv4.tcp_tw_reuse=1; "
				   "or widen net.ipv4.ip_local_port_range / set IP_LOCAL_PORT_RANGE "
				   "per socket");
	else
		snprintf(buf, len, "many live connections to one destination: pool them, or "
				   "add local addresses / destinations, or widen "
				   "net.ipv4.ip_local_port_range");
	return buf;
}

void print_dest(FILE *f, const struct dest *d, const char *indent)
{
	char la[48], rep[64], comm[PL_COMM_LEN], eta[32] = "-";

	if (d->exhausted_in >= 0)
		dur_str((__u64)(d->exhausted_in * 1e9), eta, sizeof(eta));
	fprintf(f, "%s%-11u %-16s %-26s %6u %9u %7u %6u %6.1f%% %+9.1f %12s", indent, d->netns,
		addr_str(d->family, d->laddr, la, sizeof(la)),
		endpoint_str(d->family, d->raddr, d->rport, rep, sizeof(rep)), d->in_use,
		d->time_wait, d->usable, d->free, d->used_pct, d->growth, eta);
	for (int i = 0; i < 3 && d->top[i].n; i++) {
		comm_sanitize(d->top[i].comm, PL_COMM_LEN, comm, sizeof(comm));
		fprintf(f, "%s%s/%u:%u", i ? "," : "  ", d->top[i].pid ? comm : "?", d->top[i].pid,
			d->top[i].n);
	}
	fprintf(f, "\n");
}

void headroom_print(FILE *f, const struct dest *dv, size_t nd, const struct bind_room *bv,
		    size_t nb, bool json, __u32 netns, size_t max)
{
	char la[48], ra[48], buf[256];

	if (nd > max)
		nd = max;
	if (json) {
		for (size_t i = 0; i < nd; i++) {
			const struct dest *d = &dv[i];

			if (netns && d->netns != netns)
				continue;
			fprintf(f, "{\"event\":\"headroom\",\"netns\":%u,\"family\":%d,\"laddr\":\"%s\","
				   "\"raddr\":\"%s\",\"rport\":%u,\"in_use\":%u,\"time_wait\":%u,"
				   "\"usable\":%u,\"free\":%u,\"used_pct\":%.2f,\"growth_per_s\":%.2f,"
				   "\"exhausted_in_s\":",
				d->netns, d->family == 10 ? 6 : 4,
				addr_str(d->family, d->laddr, la, sizeof(la)),
				addr_str(d->family, d->raddr, ra, sizeof(ra)), d->rport, d->in_use,
				d->time_wait, d->usable, d->free, d->used_pct, d->growth);
			if (d->exhausted_in >= 0)
				fprintf(f, "%.1f", d->exhausted_in);
			else
				fprintf(f, "null");
			fprintf(f, ",\"holders\":[");
			for (int k = 0; k < 3 && d->top[k].n; k++) {
				fprintf(f, "%s{\"pid\":%u,\"comm\":", k ? "," : "", d->top[k].pid);
				json_str(f, d->top[k].comm, PL_COMM_LEN);
				fprintf(f, ",\"ports\":%u,\"time_wait\":%u}", d->top[k].n, d->top[k].tw);
			}
			fprintf(f, "],\"remedy\":");
			dest_remedy(d, buf, sizeof(buf));
			json_str(f, buf, strlen(buf));
			fprintf(f, "}\n");
		}
		for (size_t i = 0; i < nb; i++) {
			if (netns && bv[i].netns != netns)
				continue;
			fprintf(f, "{\"event\":\"bind_headroom\",\"netns\":%u,\"range_lo\":%u,"
				   "\"range_hi\":%u,\"reserved\":%u,\"in_use\":%u,\"free\":%u}\n",
				bv[i].netns, bv[i].lo, bv[i].hi, bv[i].reserved, bv[i].in_use, bv[i].free);
		}
		return;
	}
	fprintf(f, "connect() headroom per destination (ephemeral ports in use, TIME_WAIT included):\n");
	fprintf(f, "%-11s %-16s %-26s %6s %9s %7s %6s %7s %9s %12s  %s\n", "NETNS", "LOCAL",
		"REMOTE", "IN_USE", "TIME_WAIT", "USABLE", "FREE", "USED", "GROWTH/s", "EXHAUSTED_IN",
		"TOP HOLDERS comm/pid:ports");
	for (size_t i = 0; i < nd; i++)
		if (!netns || dv[i].netns == netns)
			print_dest(f, &dv[i], "");
	if (!nd)
		fprintf(f, "(no connections on ephemeral ports)\n");
	if (nd && dv[0].used_pct >= 50)
		fprintf(f, "remedy for %s: %s\n",
			endpoint_str(dv[0].family, dv[0].raddr, dv[0].rport, la, sizeof(la)),
			dest_remedy(&dv[0], buf, sizeof(buf)));
	if (!nb)
		return;
	fprintf(f, "\nbind(0) headroom per netns:\n%-11s %-13s %8s %7s %7s\n", "NETNS", "RANGE",
		"RESERVED", "IN_USE", "FREE");
	for (size_t i = 0; i < nb; i++) {
		if (netns && bv[i].netns != netns)
			continue;
		snprintf(buf, sizeof(buf), "%u-%u", bv[i].lo, bv[i].hi);
		fprintf(f, "%-11u %-13s %8u %7u %7u\n", bv[i].netns, buf, bv[i].reserved,
			bv[i].in_use, bv[i].free);
	}
}

enum { OPT_JSON = 0x100, OPT_RANGE, OPT_STATE, OPT_NETNS, OPT_HEADROOM, OPT_SAMPLE };

static const struct argp_option ports_opts[] = {
	{ "json", OPT_JSON, NULL, 0, "JSON lines: one object per socket (and per destination)", 0 },
	{ "port", 'P', "PORT", 0, "Only this local port", 0 },
	{ "range", OPT_RANGE, "LO-HI", 0, "Only local ports in this range", 0 },
	{ "pid", 'p', "PID", 0, "Only sockets this process holds", 0 },
	{ "state", OPT_STATE, "STATE", 0, "Only this state (LISTEN, ESTABLISHED, TIME_WAIT, UNCONN...)", 0 },
	{ "netns", OPT_NETNS, "INODE", 0, "Only this network namespace (inode, as `ls -L -i /proc/PID/ns/net`)", 0 },
	{ "headroom", OPT_HEADROOM, NULL, 0, "Headroom per destination and per netns instead of sockets", 0 },
	{ "sample", OPT_SAMPLE, "SECONDS", 0, "With --headroom: a second snapshot this much later for the growth rate (default 1, 0: none)", 0 },
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{},
};

static int bad(const char *opt, const char *arg, const char *want)
{
	fprintf(stderr, "portlife: invalid %s '%s': %s\n", opt, arg, want);
	return -EINVAL;
}

static error_t parse_ports(int key, char *arg, struct argp_state *state)
{
	unsigned long v;
	char *dash;

	switch (key) {
	case OPT_JSON:
		penv.json = true;
		break;
	case 'P':
		if (parse_ulong(arg, 1, 65535, &v))
			return bad("port", arg, "expected 1 to 65535");
		penv.port = v;
		break;
	case OPT_RANGE:
		dash = strchr(arg, '-');
		if (!dash)
			return bad("range", arg, "expected LO-HI, e.g. 32768-60999");
		*dash = '\0';
		if (parse_ulong(arg, 1, 65535, &penv.lo) || parse_ulong(dash + 1, 1, 65535, &penv.hi) ||
		    penv.lo > penv.hi) {
			*dash = '-';
			return bad("range", arg, "expected LO-HI with 1 <= LO <= HI <= 65535");
		}
		break;
	case 'p':
		if (parse_ulong(arg, 1, 4194304, &penv.pid))
			return bad("pid", arg, "expected a process id from 1 to 4194304");
		break;
	case OPT_STATE:
		if (!(penv.state = state_by_name(arg)))
			return bad("state", arg, "expected a TCP state such as LISTEN, ESTABLISHED, "
						 "TIME_WAIT, or UNCONN for UDP");
		break;
	case OPT_NETNS:
		if (parse_ulong(arg, 1, 0xffffffffUL, &penv.netns))
			return bad("netns", arg, "expected a namespace inode number");
		break;
	case OPT_HEADROOM:
		penv.headroom = true;
		break;
	case OPT_SAMPLE:
		if (parse_seconds(arg, 0, 60, &penv.sample))
			return bad("sample", arg, "expected seconds, from 0 to 60");
		break;
	case 'v':
		penv.verbose = true;
		break;
	case ARGP_KEY_ARG:
		if (penv.who && penv.port < 0) {
			if (parse_ulong(arg, 1, 65535, &v))
				return bad("port", arg, "expected 1 to 65535");
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
"owner (pid and comm; TIME_WAIT sockets have none), netns.\n"
"With --headroom: for each destination, the ephemeral ports in use against\n"
"those usable (ip_local_port_range minus ip_local_reserved_ports minus ports\n"
"held by bind()), the growth over --sample seconds and the time to\n"
"exhaustion at that pace; and the bind(0) headroom of each netns.\n"
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
"USAGE: portlife who PORT [--json] [--netns INODE]\n"
"\n"
"OPTIONS:";

/*
 * `who`: failures on this port that a running `portlife` saw. The files are
 * ours, but read them as untrusted all the same: exact sizes, a known magic,
 * and a process that is still alive.
 */
static void recent_failures(FILE *f, unsigned int port)
{
	char path[PATH_MAX], magic[sizeof(FAILS_MAGIC)], comm[PL_COMM_LEN], ts[32], ep[64], eb[16];
	struct dirent *de;
	DIR *d = opendir(FAILS_DIR);
	struct pl_event e;
	__u64 wall_off;
	int shown = 0;

	if (!d)
		return;
	while ((de = readdir(d))) {
		unsigned long pid;
		char *dot = strstr(de->d_name, ".failures");
		FILE *in;

		if (!dot || dot[9] || (*dot = '\0', parse_ulong(de->d_name, 1, 4194304, &pid)))
			continue;
		if (kill((pid_t)pid, 0) && errno == ESRCH)
			continue;	/* a tracer that died without cleaning up */
		snprintf(path, sizeof(path), FAILS_DIR "/%lu.failures", pid);
		if (!(in = fopen(path, "re")))
			continue;
		if (fread(magic, 1, sizeof(magic), in) != sizeof(magic) ||
		    memcmp(magic, FAILS_MAGIC, sizeof(magic)) ||
		    fread(&wall_off, sizeof(wall_off), 1, in) != 1) {
			fclose(in);
			continue;
		}
		while (fread(&e, sizeof(e), 1, in) == 1) {
			if (e.type != PL_EV_ALLOC || !e.err || e.lport != port)
				continue;
			if (!shown++ && !penv.json)
				printf("\nrecent failures to get port %u (seen by portlife, pid %lu):\n",
				       port, pid);
			comm_sanitize(e.comm, sizeof(e.comm), comm, sizeof(comm));
			if (penv.json) {
				fprintf(f, "{\"event\":\"failure\",\"time\":\"%s\",\"pid\":%u,\"comm\":",
					wall_str(e.ts_ns + wall_off, 1, ts, sizeof(ts)), e.pid);
				json_str(f, e.comm, sizeof(e.comm));
				fprintf(f, ",\"error\":\"%s\",\"lport\":%u,\"netns\":%u}\n",
					errno_name(e.err, eb, sizeof(eb)), e.lport, e.netns);
			} else {
				fprintf(f, "  %s pid %u (%s) %s on %s\n",
					wall_str(e.ts_ns + wall_off, 0, ts, sizeof(ts)), e.pid, comm,
					errno_name(e.err, eb, sizeof(eb)),
					endpoint_str(e.family == 10 ? 10 : 2, e.laddr, e.lport, ep, sizeof(ep)));
			}
		}
		fclose(in);
	}
	closedir(d);
}

static int run_ports(int argc, char **argv, int who)
{
	struct argp argp = { .options = ports_opts, .parser = parse_ports,
			     .doc = who ? who_doc : ports_doc };
	struct snapshot_links links = {};
	struct snapshot s = {}, prev = {};
	struct portlife *skel = NULL;
	size_t shown = 0;
	int err;

	memset(&penv, 0, sizeof(penv));
	penv.port = -1;
	penv.sample = 1;
	penv.who = who;
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	err = load(&skel, &links);
	if (err)
		goto out;
	if (penv.headroom && penv.sample > 0) {
		err = snapshot__take(&prev, &links, penv.netns);
		if (!err)
			usleep((useconds_t)(penv.sample * 1e6));
	}
	if (!err)
		err = snapshot__take(&s, &links, penv.netns);
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
		goto out;
	}
	qsort(s.v, s.n, sizeof(*s.v), by_port);
	if (!penv.json)
		printf("%-5s %-12s %-24s %-24s %-7s %-16s %-11s %s\n", "PROTO", "STATE", "LOCAL",
		       "REMOTE", "PID", "COMM", "NETNS", "TW_LEFT");
	for (size_t i = 0; i < s.n; i++) {
		if (!wanted(&s.v[i]))
			continue;
		shown++;
		if (penv.json)
			print_sock_json(stdout, &s.v[i]);
		else
			print_sock(stdout, &s.v[i]);
	}
	if (who && !shown && !penv.json)
		printf("(nobody holds port %ld)\n", penv.port);
	if (who)
		recent_failures(stdout, penv.port);
	if (s.ns_unreachable && !penv.json)
		fprintf(stderr, "portlife: %zu namespaces went away while we looked\n",
			s.ns_unreachable);
out:
	snapshot__free(&s);
	snapshot__free(&prev);
	bpf_link__destroy(links.tcp);
	bpf_link__destroy(links.udp);
	bpf_link__destroy(links.owner);
	portlife__destroy(skel);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "portlife: writing the output failed: %s\n", strerror(errno));
		return 1;
	}
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
