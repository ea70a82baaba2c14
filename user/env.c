// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <sys/socket.h>
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "env.h"
#include "loader.h"
#include "metrics.h"
#include "opts.h"
#include "top.h"
#include "util.h"

#ifndef PORTLIFE_VERSION
#define PORTLIFE_VERSION "unknown"
#endif

/* env.o is rebuilt when the version changes (Makefile VERSION_OBJS): the one place it is compiled in */
const char portlife_version[] = PORTLIFE_VERSION;
const char *argp_program_version = "portlife " PORTLIFE_VERSION;
const char *argp_program_bug_address = "the portlife issue tracker";

static const char doc[] =
"portlife: trace the life of every local port: which process got it, for\n"
"which destination, how long the search took, how long it was held, its time\n"
"in TIME_WAIT, and why it was released. Prints one line per lifecycle event\n"
"and per-process histograms at exit (Ctrl-C) or every -i seconds.\n"
"\n"
"USAGE: portlife [OPTIONS]          trace live\n"
"       portlife ports [OPTIONS]    the ports in use now (see portlife ports --help)\n"
"       portlife who PORT           who holds PORT now\n"
"       portlife record -o FILE     trace into a file\n"
"       portlife report FILE        summaries and exports from a trace file\n"
"       portlife top                live view of the processes using ports\n"
"\n"
"EXAMPLES:\n"
"    portlife                   # trace until Ctrl-C, then a summary\n"
"    portlife -s -d 60          # one minute, summary only\n"
"    portlife -p 4242 -i 10     # one process, a summary every 10 seconds\n"
"    portlife -c nginx -4       # IPv4 ports of processes named nginx\n"
"    portlife --cgroup /sys/fs/cgroup/system.slice/app.service\n"
"    portlife --json | jq 'select(.error)'   # failed allocations as JSON\n"
"    portlife --warn 80          # say when a destination's ports are 80% used\n"
"    portlife --nat-netns node --nat-range 40000-40003  # NAT of netns node\n"
"    portlife ports --headroom   # snapshot: how close each destination is\n"
"    portlife who 8080           # who holds port 8080 now\n"
"    portlife -s --metrics-file /var/lib/prometheus/node-exporter/portlife.prom\n"
"    portlife -s --metrics-addr 9464   # Prometheus scrape on 127.0.0.1:9464\n"
"    portlife --json --namespace shop  # one Kubernetes namespace's pods\n"
"\n"
"MODES: fentry/fexit (exact search latency and TIME_WAIT), kprobe (the\n"
"same where ftrace trampolines are unavailable), tracepoint (where neither\n"
"works: connect latency from the state tracepoint to the SYN, TIME_WAIT by\n"
"snapshot every --tw-interval; the tracepoint mode needs kernel " PL_TP_MIN_KERNEL " or newer).\n"
"The mode in use is printed at start.\n"
"\n"
"EVENTS: alloc (port obtained, or the search failed: EADDRNOTAVAIL for\n"
"connect, EADDRINUSE for bind; a bound port's connect() whose 4-tuple was in\n"
"use: EADDRNOTAVAIL, tuple_in_use), bind_error (bind() failed without a\n"
"search: an address not local, a privileged port, ...), state (TCP state\n"
"change), tw_enter, tw_exit, release (the port is back in the pool), nat\n"
"(conntrack translated a flow's source to nat_addr:nat_port, or failed to:\n"
"error insert_failed, the packet dropped), nat_release (the conntrack entry\n"
"ended), signal (a listener, a probe of a closed port).\n"
"\n"
"Needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN; also CAP_SYS_ADMIN for the\n"
"kprobe and tracepoint modes where kernel.perf_event_paranoid is 3, as on\n"
"Debian, and CAP_SYS_RESOURCE or a raised ulimit -l before 5.11) and kernel\n"
PL_MIN_KERNEL " or newer with BTF.\n"
"\n"
"ALERTS (!! lines, JSON \"alert\" lines, the summary, portlife_alerts_total):\n"
"scan_out: a process whose connect()s to 100 destinations in 10 s were mostly\n"
"refused or unanswered; scan_in: one source probing 20 closed ports in 10 s;\n"
"alloc_burst: a process taking 10x its own ports a second (200 at least);\n"
"listen_ephemeral: a listener inside ip_local_port_range. Probes are seen by\n"
"tcp:tcp_send_reset (from kernel 6.10) and icmp:icmp_send (IPv4) in tracepoint\n"
"mode, by tcp_v4/v6_send_reset and __icmp_send/icmp6_send in fentry and\n"
"kprobe modes; not with -p, -c or --cgroup (a probe is no process's).\n"
"\n"
"OPTIONS:";

enum {
	OPT_CGROUP = 0x100,
	OPT_MODE,
	OPT_JSON,
	OPT_TW_INTERVAL,
	OPT_MAX_LEASES,
	OPT_RINGBUF,
	OPT_WARN,
	OPT_METRICS_ADDR,
	OPT_METRICS_FILE,
	OPT_METRICS_TOP,
	OPT_METRICS_BY,
	OPT_KUBELET_LOGS,
	OPT_SORT,
	OPT_PODS,
	OPT_NAT_NETNS,
	OPT_NAT_RANGE,
	OPT_NO_NAT,
	OPT_NO_SYSCALL_HOOKS,
	OPT_ALERT,
	OPT_NO_ALERTS,
	/* options of other commands: taken only to say where they belong */
	OPT_ELSEWHERE_FORMAT,
	OPT_ELSEWHERE_SALVAGE,
	OPT_ELSEWHERE_HEADROOM,
	OPT_ELSEWHERE_STATE,
};

static bool recording, topping, alert_set, no_alerts;

static const struct argp_option opts[] = {
	OPTS_FILTER("Only ports allocated by this process (tgid)"),
	{ "cgroup", OPT_CGROUP, "PATH", 0, "Only processes in this cgroup v2 directory or below it", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after this long (default: until Ctrl-C)", 0 },
	{ "interval", 'i', "SECONDS", 0, "Also print the summary every SECONDS", 0 },
	{ "summary", 's', NULL, 0, "No per-event lines, only the summary", 0 },
	{ "json", OPT_JSON, NULL, 0, "JSON lines: one object per event and per process summary", 0 },
	{ "mode", OPT_MODE, "MODE", 0,
	  "Attach mode: auto (default: the first that works of fentry, kprobe, tracepoint), "
	  "fentry, kprobe or tracepoint", 0 },
	{ "no-syscall-hooks", OPT_NO_SYSCALL_HOOKS, NULL, 0,
	  "Tracepoint mode: leave out the bind(), connect() and listen() syscall exit "
	  "tracepoints, which slow every system call on the host (~0.1 us each; 3% of a "
	  "send loop); TCP's connect() and listen() ports then come from sock_ops, a "
	  "program run per TCP callback of every socket. "
	  "bind() errors, a UDP connect()'s EAGAIN (no free port) and a bound TCP socket's "
	  "connect() EADDRNOTAVAIL (its 4-tuple in use) then go unseen, and "
	  "the port of a UDP connect(), or of a TCP one "
	  "TCP_FASTOPEN_CONNECT defers, is reported late (at the socket's next call, or its "
	  "close). "
	  "No effect in the other modes, which use none", 0 },
	{ "tw-interval", OPT_TW_INTERVAL, "SECONDS", 0,
	  "TIME_WAIT snapshot period in tracepoint mode (default 1, 0.1 to 10); stretched "
	  "to keep snapshots under 5% of a CPU", 0 },
	{ "max-leases", OPT_MAX_LEASES, "N", 0,
	  "Leases tracked at once, 4096 to 4194304 (default 1048576): about 300 bytes each in "
	  "portlife while live, indexes included; fentry and kprobe modes also preallocate a kernel map of N/4 "
	  "entries (1024 to 1048576) at 176 bytes each: 45 MB by default, 185 MB at most; the "
	  "tracepoint mode fills it as connections come (4 MB up front by default)", 0 },
	{ "ringbuf", OPT_RINGBUF, "KIB", 0, "Ring buffer size in KiB, a power of two (default 4096)", 0 },
	{ "warn", OPT_WARN, "PERCENT", 0,
	  "Warn when a destination uses more than PERCENT of its usable ephemeral ports "
	  "(checked every second)", 0 },
	{ "metrics-addr", OPT_METRICS_ADDR, "ADDR", 0,
	  "Serve Prometheus metrics at http://ADDR/metrics; ADDR is PORT (127.0.0.1 only), "
	  "HOST:PORT or [V6]:PORT: name 0.0.0.0 to serve beyond this host", 0 },
	{ "metrics-file", OPT_METRICS_FILE, "PATH", 0,
	  "Write Prometheus metrics to PATH every second, atomically (node_exporter's "
	  "textfile collector reads *.prom)", 0 },
	{ "metrics-top", OPT_METRICS_TOP, "N", 0,
	  "Metric series per process name and per destination; the rest is summed into "
	  "\"[other]\" (default 20, 1 to 1000)", 0 },
	{ "metrics-by", OPT_METRICS_BY, "comm|pod", 0,
	  "Label the per-process series by process name (comm, default) or by Kubernetes pod "
	  "(namespace and pod labels; processes in no pod are pod=\"\")", 0 },
	{ "kubelet-logs", OPT_KUBELET_LOGS, "DIR", 0,
	  "Where the kubelet's pods/ and containers/ log directories are, for pod, namespace "
	  "and container names (default /var/log; in a DaemonSet, where the host's are mounted)",
	  0 },
	{ "sort", OPT_SORT, "COLUMN", 0,
	  "The column to sort by: " TOP_SORT_NAMES " (default held)", 0 },
	{ "pods", OPT_PODS, NULL, 0,
	  "A row per Kubernetes pod (or per container outside pods; the host's own processes "
	  "share one row) instead of per process; the g key toggles it", 0 },
	{ "nat-netns", OPT_NAT_NETNS, "NETNS", 0,
	  "Also watch NAT (conntrack) in this network namespace: a name in /run/netns, a path "
	  "such as /proc/PID/ns/net, or an inode number; up to 7 times. portlife's own "
	  "namespace is always watched", 0 },
	{ "nat-range", OPT_NAT_RANGE, "LO-HI", 0,
	  "The NAT rules' port range, for NAT headroom (default: nf_nat's own, 1024-65535: "
	  "conntrack does not say the rule's)", 0 },
	{ "no-nat", OPT_NO_NAT, NULL, 0, "Do not watch NAT port allocation (conntrack)", 0 },
	OPTS_ALERTS(OPT_ALERT, OPT_NO_ALERTS),
	{ "verbose", 'v', NULL, 0, "Show libbpf's debug output", 0 },
	{ "output", 'o', "FILE", 0, "The trace file to create (0600; never overwritten)", 0 },
	{ "format", OPT_ELSEWHERE_FORMAT, "FMT", OPTION_HIDDEN, NULL, 0 },
	{ "salvage", OPT_ELSEWHERE_SALVAGE, NULL, OPTION_HIDDEN, NULL, 0 },
	{ "headroom", OPT_ELSEWHERE_HEADROOM, NULL, OPTION_HIDDEN, NULL, 0 },
	{ "state", OPT_ELSEWHERE_STATE, "STATE", OPTION_HIDDEN, NULL, 0 },
	{},
};

const char *mode_name(enum pl_mode m)
{
	static const char *names[] = { "auto", "fentry", "kprobe", "tracepoint" };

	return m <= MODE_TRACEPOINT ? names[m] : "?";
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct env *env = state->input;
	unsigned long v;
	error_t err = opt_filter(key, arg, &env->filt);

	if (err != ARGP_ERR_UNKNOWN)
		return err;
	switch (key) {
	case OPT_CGROUP:
		if (!*arg)
			return opt_bad("cgroup", arg, "expected a cgroup v2 directory");
		env->cgroup = arg;
		break;
	case 'd':
		if (parse_seconds(arg, 0.001, 31536000, &env->duration))
			return opt_bad("duration", arg, "expected seconds, from 0.001 to 31536000");
		break;
	case 'i':
		if (parse_seconds(arg, 0.1, 31536000, &env->interval))
			return opt_bad("interval", arg, "expected seconds, from 0.1 to 31536000");
		break;
	case 's':
		env->summary_only = true;
		break;
	case OPT_JSON:
		env->json = true;
		break;
	case OPT_MODE:
		for (env->mode = MODE_AUTO; env->mode <= MODE_TRACEPOINT; env->mode++)
			if (!strcmp(arg, mode_name(env->mode)))
				break;
		if (env->mode > MODE_TRACEPOINT)
			return opt_bad("mode", arg, "expected auto, fentry, kprobe or tracepoint");
		break;
	case OPT_TW_INTERVAL:
		if (parse_seconds(arg, 0.1, 10, &env->tw_interval))
			return opt_bad("tw-interval", arg, "expected seconds, from 0.1 to 10");
		break;
	case OPT_MAX_LEASES:
		if (parse_ulong(arg, 4096, 1UL << 22, &v))
			return opt_bad("max-leases", arg, "expected 4096 to 4194304");
		env->max_leases = v;
		break;
	case OPT_RINGBUF:
		if (parse_ulong(arg, 64, 1UL << 20, &v) || (v & (v - 1)))
			return opt_bad("ringbuf", arg, "expected a power of two from 64 to 1048576 KiB");
		env->ringbuf_kib = v;
		break;
	case OPT_WARN:
		if (topping) {
			fprintf(stderr, "portlife: top shows the fullest destinations in its own "
					"panel: --warn is for line output\n");
			return -EINVAL;
		}
		if (parse_seconds(arg, 1, 100, &env->warn_pct))
			return opt_bad("warn", arg, "expected a percentage from 1 to 100");
		break;
	case OPT_METRICS_ADDR: {
		struct sockaddr_storage ss;

		if (metrics_parse_addr(arg, &ss))
			return opt_bad("metrics-addr", arg,
				   "expected PORT, HOST:PORT or [V6]:PORT with a numeric address");
		env->metrics_addr = arg;
		break;
	}
	case OPT_METRICS_FILE:
		if (!*arg)
			return opt_bad("metrics-file", arg, "expected a file name");
		env->metrics_file = arg;
		break;
	case OPT_METRICS_TOP:
		if (parse_ulong(arg, 1, 1000, &v))
			return opt_bad("metrics-top", arg, "expected 1 to 1000");
		env->metrics_top = v;
		break;
	case OPT_PODS:
		if (!topping) {
			fprintf(stderr, "portlife: --pods is for `portlife top`\n");
			return -EINVAL;
		}
		env->top_by_pod = true;
		break;
	case OPT_METRICS_BY:
		if (strcmp(arg, "comm") && strcmp(arg, "pod"))
			return opt_bad("metrics-by", arg, "expected comm or pod");
		env->metrics_by_pod = !strcmp(arg, "pod");
		break;
	case OPT_KUBELET_LOGS:
		if (!*arg)
			return opt_bad("kubelet-logs", arg, "expected a directory");
		env->kubelet_logs = arg;
		break;
	case OPT_SORT: {
		int c = top_sort_parse(arg);

		if (!topping) {
			fprintf(stderr, "portlife: --sort is for `portlife top`\n");
			return -EINVAL;
		}
		if (c < 0)
			return opt_bad("sort", arg, "expected one of " TOP_SORT_NAMES);
		env->top_sort = c;
		break;
	}
	case OPT_NAT_NETNS:
		if (!*arg)
			return opt_bad("nat-netns", arg, "expected a namespace name, path or inode");
		if (env->nat.nnetns == NAT_MAX_NETNS - 1)
			return opt_bad("nat-netns", arg, "at most 7 namespaces besides portlife's own");
		env->nat.netns[env->nat.nnetns++] = arg;
		break;
	case OPT_NAT_RANGE:
		if (nat_parse_range(arg, &env->nat.range_lo, &env->nat.range_hi))
			return opt_bad("nat-range", arg, "expected LO-HI, ports from 1 to 65535");
		break;
	case OPT_NO_SYSCALL_HOOKS:
		env->no_syscall_hooks = true;
		break;
	case OPT_NO_NAT:
		env->no_nat = true;
		break;
	case OPT_ALERT:
		if (alert_cfg_parse(&env->alerts, arg))
			return -EINVAL;
		alert_set = true;
		break;
	case OPT_NO_ALERTS:
		no_alerts = true;
		break;
	case 'v':
		env->verbose = true;
		break;
	case OPT_ELSEWHERE_FORMAT:
	case OPT_ELSEWHERE_SALVAGE:
		fprintf(stderr, "portlife: --%s is for `portlife report FILE`: record a trace with "
			"`portlife record -o FILE` first\n",
			key == OPT_ELSEWHERE_FORMAT ? "format" : "salvage");
		return -EINVAL;
	case OPT_ELSEWHERE_HEADROOM:
	case OPT_ELSEWHERE_STATE:
		fprintf(stderr, "portlife: --%s is for `portlife ports`\n",
			key == OPT_ELSEWHERE_HEADROOM ? "headroom" : "state");
		return -EINVAL;
	case 'o':
		if (!recording) {
			fprintf(stderr, "portlife: -o is for `portlife record -o FILE`\n");
			return -EINVAL;
		}
		if (!*arg)
			return opt_bad("-o", arg, "expected a file name");
		if (env->record && strcmp(env->record, arg)) {
			fprintf(stderr, "portlife: -o given twice (%s, %s): a run records one "
					"trace file\n", env->record, arg);
			return -EINVAL;
		}
		env->record = arg;
		break;
	case ARGP_KEY_END:
		if (topping && env->interval) {
			fprintf(stderr, "portlife: top refreshes every second by itself; -i is for "
					"the summaries of portlife and portlife record\n");
			return -EINVAL;
		}
		if (topping && env->summary_only) {
			fprintf(stderr, "portlife: top prints no per-event lines to leave out; -s is "
					"for portlife and portlife record\n");
			return -EINVAL;
		}
		if (topping && env->json) {
			fprintf(stderr, "portlife: top draws a table; for JSON use portlife --json, "
					"or --metrics-file for numbers a script reads\n");
			return -EINVAL;
		}
		if (env->no_nat && (env->nat.nnetns || env->nat.range_hi)) {
			fprintf(stderr, "portlife: --no-nat turns NAT watching off; --nat-netns and "
					"--nat-range are for when it is on\n");
			return -EINVAL;
		}
		if (recording && !env->record) {
			fprintf(stderr, "portlife: record needs a file: portlife record -o FILE\n");
			return -EINVAL;
		}
		if (alert_set && no_alerts) {
			fprintf(stderr, "portlife: --alert and --no-alerts together: --no-alerts "
					"turns every rule off; use --alert RULE=off for one\n");
			return -EINVAL;
		}
		if (no_alerts)
			alert_cfg_off(&env->alerts);
		break;
	case ARGP_KEY_ARG:
		fprintf(stderr, "portlife: unexpected argument '%s' (see --help)\n", arg);
		return -EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char record_doc[] =
"portlife record -o FILE: trace like portlife does, into a trace file that\n"
"`portlife report FILE` reads back to the same numbers, here or elsewhere.\n"
"The summary is printed at the end, as in live tracing. The file is created\n"
"0600 and never overwritten; a recorder killed at any moment leaves it\n"
"readable up to its last complete record.\n"
"\n"
"USAGE: portlife record -o FILE [OPTIONS]\n"
"\n"
"EXAMPLES:\n"
"    portlife record -o /tmp/ports.trace -d 600\n"
"    portlife record -o app.trace --cgroup /sys/fs/cgroup/app.slice\n"
"\n"
"OPTIONS:";

static const char top_doc[] =
"portlife top: the processes using ports, live, refreshed every second: ports\n"
"held, allocations a second, failures, TIME_WAIT sockets, p99 time to find a\n"
"port and median hold time, with the destinations closest to running out of\n"
"ports (with -p, -c or a container, those its processes use, each counted\n"
"whole). Keys sort by a column (p c h a f t l o), r reverses, q quits. When\n"
"stdout is not a terminal it prints the table as text every second instead.\n"
"\n"
"USAGE: portlife top [OPTIONS]\n"
"\n"
"EXAMPLES:\n"
"    portlife top                       # everything, sorted by ports held\n"
"    portlife top --sort rate -c curl   # processes named curl, busiest first\n"
"    portlife top -d 10 | tee top.log   # ten seconds of text tables\n"
"\n"
"OPTIONS:";

/* The filters, as text, for a trace file's header. */
static void describe_filters(struct env *env)
{
	size_t n;

	opt_filter_describe(&env->filt, env->filters, sizeof(env->filters));
	n = strlen(env->filters);
	if (env->cgroup && n < sizeof(env->filters))
		snprintf(env->filters + n, sizeof(env->filters) - n, "cgroup=%s", env->cgroup);
}

/*
 * One option table serves live tracing, record and top; each --help shows
 * only the options its command takes. The others stay parseable so that
 * using one where it does not apply gets a message saying where it does.
 */
static bool hidden(int key, bool rec, bool top)
{
	switch (key) {
	case 'o':
		return !rec;
	case OPT_SORT:
	case OPT_PODS:
		return !top;
	case OPT_WARN:
		return top;
	case 'i':
	case 's':
	case OPT_JSON:
		return top;
	default:
		return false;
	}
}

static int parse(int argc, char **argv, struct env *env, bool rec, bool top)
{
	struct argp_option shown[sizeof(opts) / sizeof(opts[0])];
	const struct argp argp = { .options = shown, .parser = parse_arg,
				   .doc = rec ? record_doc : top ? top_doc : doc };
	int err;

	memcpy(shown, opts, sizeof(opts));
	for (size_t i = 0; shown[i].name; i++)
		if (hidden(shown[i].key, rec, top))
			shown[i].flags |= OPTION_HIDDEN;

	memset(env, 0, sizeof(*env));
	env->tw_interval = 1.0;
	env->max_leases = 1UL << 20;
	env->ringbuf_kib = 4096;
	env->metrics_top = METRICS_TOP_DEFAULT;
	env->top_sort = TS_HELD;
	env->kubelet_logs = "/var/log";
	alert_cfg_default(&env->alerts);
	recording = rec;
	topping = top;
	alert_set = no_alerts = false;
	err = argp_parse(&argp, argc, argv, 0, NULL, env);
	if (rec)
		env->summary_only = true;
	env->top = top;
	if (top)
		env->summary_only = true;
	describe_filters(env);
	return err ? -EINVAL : 0;
}

int env_parse(int argc, char **argv, struct env *env)
{
	return parse(argc, argv, env, false, false);
}

int env_parse_top(int argc, char **argv, struct env *env)
{
	return parse(argc, argv, env, false, true);
}

int env_parse_record(int argc, char **argv, struct env *env)
{
	return parse(argc, argv, env, true, false);
}
