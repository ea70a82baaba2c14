// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "cgpath.h"
#include "json.h"
#include "output.h"
#include "util.h"

const char *event_name(int type)
{
	static const char *n[] = { "?", "alloc", "state", "tw_enter", "tw_exit", "release" };

	return type > 0 && type < PL_EV_MAX ? n[type] : "?";
}

const char *alloc_kind_name(int kind)
{
	static const char *n[] = { "?", "connect", "bind_ephemeral", "bind", "autobind" };

	return kind > 0 && kind <= PL_ALLOC_AUTOBIND ? n[kind] : "?";
}

const char *end_reason_name(int reason)
{
	static const char *n[] = { "?", "close", "tw_expired", "tw_killed",
				   "tw_overflow", "tw_unseen", "evicted", "tw_reused" };

	return reason > 0 && reason < PL_END_MAX ? n[reason] : "?";
}

static const char *proto_str(const struct pl_event *e)
{
	if (e->proto == 17)
		return e->family == 10 ? "udp6" : "udp4";
	return e->family == 10 ? "tcp6" : "tcp4";
}

static void human_detail(const struct pl_event *e, const struct lease *l, char *buf, size_t len)
{
	char a[24], b[24], c[24], en[16];

	switch (e->type) {
	case PL_EV_ALLOC:
		if (e->err)
			snprintf(buf, len, "%s FAILED %s after %s", alloc_kind_name(e->kind),
				 errno_name(e->err, en, sizeof(en)), dur_str(e->dur_ns, a, sizeof(a)));
		else
			snprintf(buf, len, "%s in %s", alloc_kind_name(e->kind),
				 dur_str(e->dur_ns, a, sizeof(a)));
		break;
	case PL_EV_STATE:
		snprintf(buf, len, "%s -> %s%s", tcp_state_name(e->old_state),
			 tcp_state_name(e->new_state),
			 (e->kind & PL_STATE_TW_EXPECTED) ? " (to TIME_WAIT)" :
			 (e->kind & PL_STATE_BINDLOCK) ? " (bound: held until destroy)" : "");
		break;
	case PL_EV_TW_ENTER:
		snprintf(buf, len, "expires in %s", dur_str(e->dur_ns, a, sizeof(a)));
		break;
	case PL_EV_TW_EXIT:
		snprintf(buf, len, "%s after %s", end_reason_name(e->kind),
			 l && l->tw_enter_ts && e->ts_ns >= l->tw_enter_ts ?
			 dur_str(e->ts_ns - l->tw_enter_ts, a, sizeof(a)) : "?");
		break;
	case PL_EV_RELEASE:
		if (l && (l->flags & L_ALLOCATED))
			snprintf(buf, len, "%s held %s life %s tw %s", end_reason_name(e->kind),
				 dur_str(l->end_ts - l->alloc_ts, a, sizeof(a)),
				 l->close_ts >= l->alloc_ts && l->close_ts ?
				 dur_str(l->close_ts - l->alloc_ts, b, sizeof(b)) : "-",
				 l->tw_enter_ts && l->tw_exit_ts >= l->tw_enter_ts ?
				 dur_str(l->tw_exit_ts - l->tw_enter_ts, c, sizeof(c)) : "-");
		else
			snprintf(buf, len, "%s (allocated before tracing)", end_reason_name(e->kind));
		break;
	default:
		buf[0] = '\0';
	}
}

/*
 * A line built in a buffer and written with one fwrite: a connect storm
 * makes hundreds of thousands of events a second, and printf's format
 * parsing was most of what one line per event cost (perf on `make bench`).
 * Appends stop quietly at the end of the buffer, which no line reaches.
 */
struct lb {
	char *p, *end;
	char buf[1024];
};

static void lb_init(struct lb *b)
{
	b->p = b->buf;
	b->end = b->buf + sizeof(b->buf);
}

static void lb_mem(struct lb *b, const char *s, size_t n)
{
	if (n > (size_t)(b->end - b->p))
		n = b->end - b->p;
	memcpy(b->p, s, n);
	b->p += n;
}

#define lb_lit(b, s) lb_mem(b, s, sizeof(s) - 1)

static void lb_str(struct lb *b, const char *s)
{
	lb_mem(b, s, strlen(s));
}

static void lb_u64(struct lb *b, __u64 v)
{
	char t[20];
	int i = sizeof(t);

	do
		t[--i] = '0' + v % 10;
	while (v /= 10);
	lb_mem(b, t + i, sizeof(t) - i);
}

/* exactly w digits, zero-padded: fractions of a second */
static void lb_digits(struct lb *b, __u64 v, int w)
{
	char t[20];

	for (int i = w; i-- > 0; v /= 10)
		t[i] = '0' + v % 10;
	lb_mem(b, t, w);
}

/* An IPv4 address by hand (the common case), IPv6 through inet_ntop. */
static void lb_addr(struct lb *b, int family, const __u8 a[16])
{
	char t[INET6_ADDRSTRLEN];

	if (family != 10) {
		for (int i = 0; i < 4; i++) {
			if (i)
				lb_lit(b, ".");
			lb_u64(b, a[i]);
		}
		return;
	}
	lb_str(b, addr_str(family, a, t, sizeof(t)));
}

static void lb_endpoint(struct lb *b, int family, const __u8 a[16], __u16 port)
{
	if (family == 10)
		lb_lit(b, "[");
	lb_addr(b, family, a);
	if (family == 10)
		lb_lit(b, "]:");
	else
		lb_lit(b, ":");
	lb_u64(b, port);
}

/* Ends a left-aligned column begun at 'from': spaces to width, then one more. */
static void lb_col(struct lb *b, const char *from, int width)
{
	while (b->p - from < width && b->p < b->end)
		*b->p++ = ' ';
	if (b->p < b->end)
		*b->p++ = ' ';
}

/* Wall-clock time as wall_str() prints it, without printf. */
static void lb_time(struct lb *b, __u64 wall_ns, int iso)
{
	size_t n;
	const char *secs = wall_secs(wall_ns, iso, &n);

	lb_mem(b, secs, n);
	lb_lit(b, ".");
	if (iso) {
		lb_digits(b, wall_ns % 1000000000ULL / 1000, 6);
		lb_lit(b, "Z");
	} else {
		lb_digits(b, wall_ns % 1000000000ULL / 1000000, 3);
	}
}

static void lb_flush(struct lb *b, FILE *f)
{
	fwrite(b->buf, 1, b->p - b->buf, f);
}

static void json_event(struct out *o, const struct pl_event *e, const struct lease *l)
{
	char en[16];
	struct lb b;

	lb_init(&b);
	lb_lit(&b, "{\"event\":\"");
	lb_str(&b, event_name(e->type));
	lb_lit(&b, "\",\"time\":\"");
	lb_time(&b, e->ts_ns + o->wall_off, 1);
	lb_lit(&b, "\",\"ts_ns\":");
	lb_u64(&b, e->ts_ns);
	lb_lit(&b, ",\"lease\":");
	lb_u64(&b, e->lease);
	lb_lit(&b, ",\"pid\":");
	lb_u64(&b, e->pid);
	lb_lit(&b, ",\"tid\":");
	lb_u64(&b, e->tid);
	lb_lit(&b, ",\"comm\":");
	/* a comm escapes to at most 6 bytes a byte, plus quotes: room is kept */
	b.p += json_str_buf(b.p, b.end - b.p, e->comm, sizeof(e->comm));
	lb_lit(&b, ",\"cgroup_id\":");
	lb_u64(&b, e->cgroup_id);
	lb_lit(&b, ",\"netns\":");
	lb_u64(&b, e->netns);
	if (e->proto == 17)
		lb_lit(&b, ",\"proto\":\"udp\"");
	else
		lb_lit(&b, ",\"proto\":\"tcp\"");
	lb_lit(&b, ",\"family\":");
	lb_u64(&b, e->family == 10 ? 6 : 4);
	lb_lit(&b, ",\"laddr\":\"");
	lb_addr(&b, e->family, e->laddr);
	lb_lit(&b, "\",\"lport\":");
	lb_u64(&b, e->lport);
	lb_lit(&b, ",\"raddr\":\"");
	lb_addr(&b, e->family, e->raddr);
	lb_lit(&b, "\",\"rport\":");
	lb_u64(&b, e->rport);
	switch (e->type) {
	case PL_EV_ALLOC:
		lb_lit(&b, ",\"kind\":\"");
		lb_str(&b, alloc_kind_name(e->kind));
		lb_lit(&b, "\",\"latency_ns\":");
		lb_u64(&b, e->dur_ns);
		if (e->err) {
			lb_lit(&b, ",\"error\":\"");
			lb_str(&b, errno_name(e->err, en, sizeof(en)));
			lb_lit(&b, "\",\"errno\":");
			if (e->err < 0)
				lb_lit(&b, "-");
			lb_u64(&b, e->err < 0 ? -(__s64)e->err : e->err);
		}
		break;
	case PL_EV_STATE:
		lb_lit(&b, ",\"old\":\"");
		lb_str(&b, tcp_state_name(e->old_state));
		lb_lit(&b, "\",\"new\":\"");
		lb_str(&b, tcp_state_name(e->new_state));
		if (e->kind & PL_STATE_TW_EXPECTED)
			lb_lit(&b, "\",\"tw_expected\":true");
		else
			lb_lit(&b, "\",\"tw_expected\":false");
		break;
	case PL_EV_TW_ENTER:
		lb_lit(&b, ",\"expires_ns\":");
		lb_u64(&b, e->dur_ns);
		break;
	case PL_EV_TW_EXIT:
	case PL_EV_RELEASE:
		lb_lit(&b, ",\"reason\":\"");
		lb_str(&b, end_reason_name(e->kind));
		lb_lit(&b, "\"");
		if (l && (l->flags & L_ALLOCATED) && e->type == PL_EV_RELEASE) {
			lb_lit(&b, ",\"hold_ns\":");
			lb_u64(&b, l->end_ts - l->alloc_ts);
			if (l->close_ts >= l->alloc_ts && l->close_ts) {
				lb_lit(&b, ",\"lifetime_ns\":");
				lb_u64(&b, l->close_ts - l->alloc_ts);
			}
		}
		if (l && l->tw_enter_ts && l->tw_exit_ts >= l->tw_enter_ts) {
			lb_lit(&b, ",\"tw_ns\":");
			lb_u64(&b, l->tw_exit_ts - l->tw_enter_ts);
		}
		break;
	}
	lb_lit(&b, "}\n");
	lb_flush(&b, o->f);
}

void out__event(struct out *o, const struct pl_event *e, const struct lease_result *r)
{
	char comm[PL_COMM_LEN], detail[160];
	const struct lease *l = r->lease;
	struct lb b;
	char *col;

	if (!o->events)
		return;
	if (o->json) {
		json_event(o, e, l);
		return;
	}
	if (!o->header_done) {
		fprintf(o->f, "%-12s %-7s %-16s %-8s %-5s %-22s %-22s %s\n", "TIME", "PID", "COMM",
			"EVENT", "PROTO", "LOCAL", "REMOTE", "DETAIL");
		o->header_done = true;
	}
	comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
	human_detail(e, l, detail, sizeof(detail));
	/* "%-12s %-7u %-16s %-8s %-5s %-22s %-22s %s\n", without printf */
	lb_init(&b);
	col = b.p;
	lb_time(&b, e->ts_ns + o->wall_off, 0);
	lb_col(&b, col, 12);
	col = b.p;
	lb_u64(&b, e->pid);
	lb_col(&b, col, 7);
	col = b.p;
	lb_str(&b, comm);
	lb_col(&b, col, 16);
	col = b.p;
	lb_str(&b, event_name(e->type));
	lb_col(&b, col, 8);
	col = b.p;
	lb_str(&b, proto_str(e));
	lb_col(&b, col, 5);
	col = b.p;
	lb_endpoint(&b, e->family, e->laddr, e->lport);
	lb_col(&b, col, 22);
	col = b.p;
	lb_endpoint(&b, e->family, e->raddr, e->rport);
	lb_col(&b, col, 22);
	lb_str(&b, detail);
	lb_lit(&b, "\n");
	lb_flush(&b, o->f);
}

static void human_proc(FILE *f, const struct proc_stats *p)
{
	char comm[PL_COMM_LEN], en[16];
	const char *cg = p->pid ? cgpath_lookup(p->cgroup_id) : NULL;

	comm_sanitize(p->comm, sizeof(p->comm), comm, sizeof(comm));
	fprintf(f, "\nPID %u %s", p->pid, comm);
	if (cg)
		fprintf(f, "  cgroup %s", cg);
	fprintf(f, "\n  allocations %llu  failures %llu  TIME_WAIT %llu  released %llu"
		   "  held now %lld  peak held %lld\n",
		(unsigned long long)p->allocs, (unsigned long long)p->failures,
		(unsigned long long)p->tw_entered, (unsigned long long)p->releases,
		(long long)p->held, (long long)p->peak_held);
	if (p->failures) {
		fprintf(f, "  failed:");
		for (int i = 0; i < AGG_ERRNOS && p->fail[i].n; i++)
			fprintf(f, " %s %llu", errno_name(p->fail[i].err, en, sizeof(en)),
				(unsigned long long)p->fail[i].n);
		if (p->fail_other)
			fprintf(f, " other %llu", (unsigned long long)p->fail_other);
		fprintf(f, "\n");
	}
	if (p->releases) {
		fprintf(f, "  ended:");
		for (int i = 1; i < AGG_REASONS; i++)
			if (p->end_reason[i])
				fprintf(f, " %s %llu", end_reason_name(i),
					(unsigned long long)p->end_reason[i]);
		fprintf(f, "\n");
	}
	{
		char rb[320];

		if (agg__remedy(p, rb, sizeof(rb)))
			fprintf(f, "  remedy: %s\n", rb);
	}
	hist__print(f, &p->alloc_lat, "allocation latency");
	hist__print(f, &p->hold, "hold time (alloc -> release)");
	hist__print(f, &p->tw_time, "time in TIME_WAIT");
	hist__print(f, &p->lifetime, "connection lifetime (alloc -> close)");
}

static void json_proc(FILE *f, const struct proc_stats *p)
{
	const char *cg = p->pid ? cgpath_lookup(p->cgroup_id) : NULL;
	char en[16];

	fprintf(f, "{\"event\":\"summary\",\"pid\":%u,\"comm\":", p->pid);
	json_str(f, p->comm, sizeof(p->comm));
	fprintf(f, ",\"cgroup_id\":%llu,\"cgroup\":", (unsigned long long)p->cgroup_id);
	if (cg)
		json_str(f, cg, strlen(cg));
	else
		fprintf(f, "null");
	fprintf(f, ",\"allocs\":%llu,\"failures\":%llu,\"failures_by_errno\":{",
		(unsigned long long)p->allocs, (unsigned long long)p->failures);
	for (int i = 0; i < AGG_ERRNOS && p->fail[i].n; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", errno_name(p->fail[i].err, en, sizeof(en)),
			(unsigned long long)p->fail[i].n);
	if (p->fail_other)
		fprintf(f, "%s\"other\":%llu", p->fail[0].n ? "," : "",
			(unsigned long long)p->fail_other);
	fprintf(f, "},\"tw_entered\":%llu,\"releases\":%llu,\"released_by\":{",
		(unsigned long long)p->tw_entered, (unsigned long long)p->releases);
	for (int i = 1, first = 1; i < AGG_REASONS; i++) {
		if (!p->end_reason[i])
			continue;
		fprintf(f, "%s\"%s\":%llu", first ? "" : ",", end_reason_name(i),
			(unsigned long long)p->end_reason[i]);
		first = 0;
	}
	{
		char rb[320];

		fprintf(f, "},\"bind_then_connect\":%llu,\"remedy\":",
			(unsigned long long)p->bind_then_connect);
		if (agg__remedy(p, rb, sizeof(rb)))
			json_str(f, rb, strlen(rb));
		else
			fprintf(f, "null");
	}
	fprintf(f, ",\"held\":%lld,\"peak_held\":%lld,\"alloc_latency_ns\":", (long long)p->held,
		(long long)p->peak_held);
	hist__json(f, &p->alloc_lat);
	fprintf(f, ",\"hold_ns\":");
	hist__json(f, &p->hold);
	fprintf(f, ",\"time_wait_ns\":");
	hist__json(f, &p->tw_time);
	fprintf(f, ",\"lifetime_ns\":");
	hist__json(f, &p->lifetime);
	fprintf(f, "}\n");
}

void out__summary(struct out *o, struct agg *a, const struct run_info *ri)
{
	const struct lease_stats *ls = ri->leases;
	struct proc_stats **v;
	__u64 drops = 0;
	size_t n;

	cgpath_invalidate();
	v = agg__sorted(a, &n);
	for (int i = 1; i < PL_EV_MAX; i++)
		drops += ri->drops[i];

	if (o->json) {
		for (size_t i = 0; v && i < n; i++)
			json_proc(o->f, v[i]);
		fprintf(o->f, "{\"event\":\"totals\",\"mode\":\"%s\",\"elapsed_ns\":%llu,"
			      "\"processes\":%zu,\"drops\":{",
			ri->mode, (unsigned long long)ri->elapsed_ns, n);
		for (int i = 1; i < PL_EV_MAX; i++)
			fprintf(o->f, "%s\"%s\":%llu", i > 1 ? "," : "", event_name(i),
				(unsigned long long)ri->drops[i]);
		fprintf(o->f, "},\"recursion_misses\":%llu,\"tw_overflow\":%llu,\"tw_unseen\":%llu,"
			      "\"snapshots\":%llu,\"netns_lost\":%llu,\"snapshot_mean_ns\":%llu,\"snapshot_max_ns\":%llu,"
			      "\"snapshot_interval_s\":%.3f,\"leases\":{\"live\":%llu,\"ended\":%llu,"
			      "\"no_alloc\":%llu,\"orphans\":%llu,\"duplicates\":%llu,"
			      "\"out_of_order\":%llu,\"evicted\":%llu}}\n",
			(unsigned long long)ri->recursion_misses, (unsigned long long)ri->tw_overflow,
			(unsigned long long)ri->tw_unseen, (unsigned long long)ri->snapshots,
			(unsigned long long)ri->netns_lost, (unsigned long long)ri->snap_mean_ns, (unsigned long long)ri->snap_max_ns,
			ri->snap_interval,
			(unsigned long long)ls->live, (unsigned long long)ls->ended,
			(unsigned long long)ls->no_alloc, (unsigned long long)ls->orphans,
			(unsigned long long)ls->duplicates, (unsigned long long)ls->out_of_order,
			(unsigned long long)ls->evicted);
		fflush(o->f);
		free(v);
		return;
	}

	fprintf(o->f, "\n=== portlife summary: %zu process%s, %.1fs, mode %s ===\n", n,
		n == 1 ? "" : "es", ri->elapsed_ns / 1e9, ri->mode);
	for (size_t i = 0; v && i < n; i++)
		human_proc(o->f, v[i]);
	fprintf(o->f, "\nleases: %llu live, %llu ended (%llu began before tracing), "
		      "%llu orphan events, %llu duplicates, %llu out of order, %llu evicted\n",
		(unsigned long long)ls->live, (unsigned long long)ls->ended,
		(unsigned long long)ls->no_alloc, (unsigned long long)ls->orphans,
		(unsigned long long)ls->duplicates, (unsigned long long)ls->out_of_order,
		(unsigned long long)ls->evicted);
	fprintf(o->f, "lost: %llu ring buffer drops", (unsigned long long)drops);
	if (drops) {
		fprintf(o->f, " (");
		for (int i = 1, first = 1; i < PL_EV_MAX; i++) {
			if (!ri->drops[i])
				continue;
			fprintf(o->f, "%s%s %llu", first ? "" : ", ", event_name(i),
				(unsigned long long)ri->drops[i]);
			first = 0;
		}
		fprintf(o->f, ")");
	}
	fprintf(o->f, ", %llu recursion misses (programs skipped by the kernel)\n",
		(unsigned long long)ri->recursion_misses);
	if (ri->tw_overflow)
		fprintf(o->f, "TIME_WAIT overflow: %llu closes made no TIME_WAIT socket "
			      "(net.ipv4.tcp_max_tw_buckets is full); their ports were freed at once\n",
			(unsigned long long)ri->tw_overflow);
	if (ri->tw_unseen)
		fprintf(o->f, "TIME_WAIT unseen: %llu ended before the next snapshot "
			      "(see --tw-interval)\n", (unsigned long long)ri->tw_unseen);
	if (ri->netns_lost)
		fprintf(o->f, "TIME_WAIT not watched in %llu network namespace%s portlife could not "
			      "enter (no process or /run/netns entry left in it): their closes count "
			      "as TIME_WAIT unseen\n", (unsigned long long)ri->netns_lost,
			ri->netns_lost == 1 ? "" : "s");
	if (ri->snapshots)
		fprintf(o->f, "TIME_WAIT snapshots: %llu, %.2f ms each on average, %.2f ms at most, "
			      "every %.2f s%s\n", (unsigned long long)ri->snapshots,
			ri->snap_mean_ns / 1e6, ri->snap_max_ns / 1e6, ri->snap_interval,
			ri->snap_interval > ri->snap_interval_set ? " (stretched: snapshots are "
			"kept under 5% of a CPU)" : "");
	if (ri->procs_overflowed)
		fprintf(o->f, "processes past the table size were summed as [other]\n");
	fflush(o->f);
	free(v);
}
