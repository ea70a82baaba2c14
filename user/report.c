// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A recorded trace goes through the same lease table, aggregation and
 * output code as live tracing did, so the numbers are the same for the same
 * events. Exports: JSON lines, CSV, and a Chrome/Perfetto trace.
 */
#include <argp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agg.h"
#include "json.h"
#include "lease.h"
#include "output.h"
#include "report.h"
#include "tracefile.h"
#include "util.h"

enum fmt { FMT_TEXT, FMT_JSONL, FMT_CSV, FMT_CHROME };

struct report {
	enum fmt fmt;
	bool json, salvage;
	unsigned long pid;
	char comm[16];
	bool has_comm;
	int family;
	const char *path;
	struct lease_table *leases;
	struct agg *agg;
	struct out out;
	__u64 first_ts, last_ts;
	bool first_chrome;
};

static struct report rep;

static void csv_str(FILE *f, const char *s, size_t n)
{
	char clean[64];

	/* quoted; quotes doubled; control bytes never reach a spreadsheet */
	comm_sanitize(s, n, clean, sizeof(clean));
	fputc('"', f);
	for (const char *p = clean; *p; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void csv_event(FILE *f, const struct pl_event *e, const struct lease *l, __u64 wall_off)
{
	char ts[40], la[48], ra[48], en[16];

	fprintf(f, "%s,%llu,%s,%llu,%u,%u,", wall_str(e->ts_ns + wall_off, 1, ts, sizeof(ts)),
		(unsigned long long)e->ts_ns, event_name(e->type), (unsigned long long)e->lease,
		e->pid, e->tid);
	csv_str(f, e->comm, sizeof(e->comm));
	fprintf(f, ",%s,%d,%s,%u,%s,%u,", e->proto == 17 ? "udp" : "tcp", e->family == 10 ? 6 : 4,
		addr_str(e->family, e->laddr, la, sizeof(la)), e->lport,
		addr_str(e->family, e->raddr, ra, sizeof(ra)), e->rport);
	/* kind,error,reason,latency_ns,old,new,expires_ns,hold_ns */
	switch (e->type) {
	case PL_EV_ALLOC:
		fprintf(f, "%s,%s,,%llu,,,,", alloc_kind_name(e->kind),
			e->err ? errno_name(e->err, en, sizeof(en)) : "", (unsigned long long)e->dur_ns);
		break;
	case PL_EV_STATE:
		fprintf(f, ",,,,%s,%s,,", tcp_state_name(e->old_state), tcp_state_name(e->new_state));
		break;
	case PL_EV_TW_ENTER:
		fprintf(f, ",,,,,,%llu,", (unsigned long long)e->dur_ns);
		break;
	default:
		fprintf(f, ",,%s,,,,,", end_reason_name(e->kind));
		if (e->type == PL_EV_RELEASE && l && (l->flags & L_ALLOCATED))
			fprintf(f, "%llu", (unsigned long long)(l->end_ts - l->alloc_ts));
	}
	fprintf(f, "\n");
}

/* One Chrome trace "complete" slice. */
static void chrome_slice(FILE *f, const char *name, const struct lease *l, __u64 from, __u64 to)
{
	if (!from || to < from)
		return;
	fprintf(f, "%s\n{\"name\":\"%s\",\"ph\":\"X\",\"pid\":%u,\"tid\":%llu,\"ts\":%.3f,\"dur\":%.3f}",
		rep.first_chrome ? "" : ",", name, l->pid, (unsigned long long)l->id, from / 1e3,
		(to - from) / 1e3);
	rep.first_chrome = false;
}

/*
 * A lease as a slice on its process's track, with its phases as children:
 * connecting (alloc -> ESTABLISHED), established (-> close), TIME_WAIT.
 */
static void chrome_lease(FILE *f, const struct lease *l, __u64 end)
{
	char name[96], la[64], ra[64];
	__u64 close = l->close_ts ? l->close_ts : end;

	if (!(l->flags & L_ALLOCATED))
		return;
	snprintf(name, sizeof(name), "%s :%u -> %s", l->proto == 17 ? "udp" : "tcp", l->lport,
		 endpoint_str(l->family, l->raddr, l->rport, ra, sizeof(ra)));
	(void)la;
	chrome_slice(f, name, l, l->alloc_ts, end);
	if (l->estab_ts) {
		chrome_slice(f, "connecting", l, l->alloc_ts, l->estab_ts);
		chrome_slice(f, "established", l, l->estab_ts, close);
	}
	if (l->tw_enter_ts)
		chrome_slice(f, "TIME_WAIT", l, l->tw_enter_ts, l->tw_exit_ts ? l->tw_exit_ts : end);
	else if (l->close_ts && l->close_ts < end)
		chrome_slice(f, "closing", l, l->close_ts, end);
}

static void on_event(void *ctx, const struct pl_event *e)
{
	struct lease_result r;

	(void)ctx;
	if (rep.pid && e->pid != rep.pid)
		return;
	if (rep.has_comm && strncmp(e->comm, rep.comm, sizeof(rep.comm)))
		return;
	if (rep.family && e->family != rep.family)
		return;
	if (!rep.first_ts || e->ts_ns < rep.first_ts)
		rep.first_ts = e->ts_ns;
	if (e->ts_ns > rep.last_ts)
		rep.last_ts = e->ts_ns;
	lease_table__apply(rep.leases, e, &r);
	agg__apply(rep.agg, e, &r);
	switch (rep.fmt) {
	case FMT_JSONL:
		if (r.what != LW_NONE || e->type == PL_EV_ALLOC)
			out__event(&rep.out, e, &r);
		break;
	case FMT_CSV:
		if (r.what != LW_NONE || e->type == PL_EV_ALLOC)
			csv_event(stdout, e, r.lease, rep.out.wall_off);
		break;
	case FMT_CHROME:
		if (r.what == LW_END || (r.what == LW_ALLOC && r.ended_too))
			chrome_lease(stdout, r.lease, r.lease->end_ts);
		break;
	default:
		break;
	}
}

enum { OPT_JSON = 0x100, OPT_FORMAT, OPT_SALVAGE };

static const struct argp_option opts[] = {
	{ "json", OPT_JSON, NULL, 0, "The summary as JSON lines, as portlife --json prints it", 0 },
	{ "format", OPT_FORMAT, "FMT", 0,
	  "text (the summary, default), jsonl (every event), csv (every event, with a header "
	  "row), chrome (a Chrome/Perfetto trace: one track per process)", 0 },
	{ "pid", 'p', "PID", 0, "Only leases of this process", 0 },
	{ "comm", 'c', "COMM", 0, "Only processes with this name", 0 },
	{ "ipv4", '4', NULL, 0, "Only IPv4", 0 },
	{ "ipv6", '6', NULL, 0, "Only IPv6", 0 },
	{ "salvage", OPT_SALVAGE, NULL, 0, "Read what is valid in a damaged trace, skip the rest", 0 },
	{},
};

static const char doc[] =
"portlife report FILE: the per-process summary of a trace recorded with\n"
"`portlife record`, with the same numbers live tracing printed, or every event\n"
"exported for other tools.\n"
"\n"
"USAGE: portlife report FILE [OPTIONS]\n"
"\n"
"EXAMPLES:\n"
"    portlife report ports.trace\n"
"    portlife report ports.trace --format csv > events.csv\n"
"    portlife report ports.trace --format chrome > ports.json   # ui.perfetto.dev\n"
"    portlife report damaged.trace --salvage\n"
"\n"
"OPTIONS:";

static error_t parse(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case OPT_JSON:
		rep.json = true;
		break;
	case OPT_FORMAT:
		if (!strcmp(arg, "text"))
			rep.fmt = FMT_TEXT;
		else if (!strcmp(arg, "jsonl"))
			rep.fmt = FMT_JSONL;
		else if (!strcmp(arg, "csv"))
			rep.fmt = FMT_CSV;
		else if (!strcmp(arg, "chrome"))
			rep.fmt = FMT_CHROME;
		else {
			fprintf(stderr, "portlife: invalid format '%s': expected text, jsonl, csv or chrome\n",
				arg);
			return -EINVAL;
		}
		break;
	case 'p':
		if (parse_ulong(arg, 1, 4194304, &rep.pid)) {
			fprintf(stderr, "portlife: invalid pid '%s': expected 1 to 4194304\n", arg);
			return -EINVAL;
		}
		break;
	case 'c':
		if (!*arg || strlen(arg) > 15) {
			fprintf(stderr, "portlife: invalid comm '%s': expected 1 to 15 characters\n", arg);
			return -EINVAL;
		}
		strncpy(rep.comm, arg, sizeof(rep.comm) - 1);
		rep.has_comm = true;
		break;
	case '4':
		rep.family = 2;
		break;
	case '6':
		rep.family = 10;
		break;
	case OPT_SALVAGE:
		rep.salvage = true;
		break;
	case ARGP_KEY_ARG:
		if (rep.path) {
			fprintf(stderr, "portlife: one trace file at a time ('%s' and '%s')\n", rep.path, arg);
			return -EINVAL;
		}
		rep.path = arg;
		break;
	case ARGP_KEY_END:
		if (!rep.path) {
			fprintf(stderr, "portlife: report needs a trace file: portlife report FILE\n");
			return -EINVAL;
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	(void)state;
	return 0;
}

int cmd_report(int argc, char **argv)
{
	const struct argp argp = { .options = opts, .parser = parse, .doc = doc };
	struct tracefile_info info;
	struct run_info ri;
	FILE *f;
	int err;

	memset(&rep, 0, sizeof(rep));
	if (argp_parse(&argp, argc, argv, 0, NULL, NULL))
		return 2;
	f = fopen(rep.path, "re");
	if (!f) {
		fprintf(stderr, "portlife: cannot open %s: %s\n", rep.path, strerror(errno));
		return 1;
	}
	rep.leases = lease_table__new(1UL << 20);
	rep.agg = agg__new(65536);
	if (!rep.leases || !rep.agg) {
		fprintf(stderr, "portlife: out of memory\n");
		return 1;
	}
	rep.out.f = stdout;
	rep.out.json = rep.json || rep.fmt == FMT_JSONL;
	rep.out.events = rep.fmt == FMT_JSONL;
	rep.first_chrome = true;

	/* The header first: the wall-clock offset is needed by every line. */
	{
		struct pl_file_hdr h;

		if (fread(&h, 1, sizeof(h), f) == sizeof(h) && !memcmp(h.magic, PL_FILE_MAGIC, 8))
			rep.out.wall_off = h.wall_off_ns;
		rewind(f);
	}
	if (rep.fmt == FMT_CSV)
		printf("time,ts_ns,event,lease,pid,tid,comm,proto,family,laddr,lport,raddr,rport,"
		       "kind,error,reason,latency_ns,old,new,expires_ns,hold_ns\n");
	if (rep.fmt == FMT_CHROME)
		printf("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");

	err = tracefile_read(f, rep.salvage, on_event, NULL, &info);
	fclose(f);
	if (err) {
		if (rep.fmt == FMT_CHROME)
			printf("]}\n");
		fprintf(stderr, "portlife: %s: %s\n", rep.path, info.error);
		return 1;
	}
	if (info.error[0])
		fprintf(stderr, "portlife: %s: salvaged %llu records around %llu damaged place%s "
				"(%llu bytes skipped); first: %s\n",
			rep.path, (unsigned long long)info.records, (unsigned long long)info.damaged,
			info.damaged == 1 ? "" : "s", (unsigned long long)info.skipped_bytes, info.error);
	if (!info.has_trailer)
		fprintf(stderr, "portlife: %s has no trailer: the recorder was stopped hard; "
				"drop counts are unknown\n", rep.path);

	if (rep.fmt == FMT_CHROME) {
		/* leases still open at the end of the trace */
		for (struct lease *l = lease_table__first(rep.leases); l;
		     l = lease_table__next(rep.leases, l))
			chrome_lease(stdout, l, rep.last_ts);
		printf("\n]}\n");
	} else if (rep.fmt == FMT_TEXT || rep.json) {
		memset(&ri, 0, sizeof(ri));
		ri.mode = info.hdr.mode;
		ri.precision = info.hdr.precision;
		if (info.has_trailer) {
			memcpy(ri.drops, info.trailer.drops, sizeof(ri.drops));
			ri.recursion_misses = info.trailer.recursion_misses;
		}
		ri.elapsed_ns = (info.has_trailer ? info.trailer.end_ns : rep.last_ts) - info.hdr.start_ns;
		ri.leases = lease_table__stats(rep.leases);
		ri.tw_overflow = agg__tw_overflow(rep.agg);
		if (!rep.json)
			printf("trace %s: host %s, kernel %s, mode %s, %llu records%s%s\n", rep.path,
			       info.hdr.hostname, info.hdr.release, info.hdr.mode,
			       (unsigned long long)info.records, info.hdr.filters[0] ? ", filters: " : "",
			       info.hdr.filters);
		out__summary(&rep.out, rep.agg, &ri);
	}
	agg__free(rep.agg);
	lease_table__free(rep.leases);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "portlife: writing the report failed: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
