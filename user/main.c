// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * portlife: live tracing of port leases.
 * Lifecycle: open -> configure rodata/maps -> load -> attach -> poll -> destroy.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "portlife.skel.h"
#include "agg.h"
#include "cgpath.h"
#include "env.h"
#include "lease.h"
#include "output.h"
#include "json.h"
#include "snapshot.h"
#include "headroom.h"
#include "ports.h"
#include "metrics.h"
#include "report.h"
#include "top.h"
#include "tracefile.h"
#include "twsnap.h"
#include "util.h"

#ifndef PORTLIFE_VERSION
#define PORTLIFE_VERSION "unknown"
#endif

static volatile sig_atomic_t exiting;
static struct env env;

static void on_signal(int sig)
{
	/* A second Ctrl-C means now. */
	if (exiting)
		_exit(128 + sig);
	exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!env.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

#define MAX_LINKS 64
#define FAIL_RING 256

struct tracer {
	struct portlife *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	struct bpf_link *iter_link;
	struct bpf_link *udp_iter_link;
	struct snapshot_links snap;	/* socket tables, for the diagnosis */
	struct snapshot seed;		/* the ports in use when portlife started */
	__u64 last_diag_ns;
	struct tracefile_writer *rec;	/* record -o FILE */
	int rec_err;
	struct pl_event fails[FAIL_RING];	/* recent failed allocations, for `portlife who` */
	unsigned int nfails;
	bool fails_dirty;
	__u64 diag_suppressed;
	double warned_pct;
	enum pl_mode mode;
	struct lease_table *leases;
	struct agg *agg;
	struct twsnap *tw;
	struct out out;
	int cg_filter_fd;
	int ncpus;
	const char *precision;
	struct top *top;		/* `portlife top` */
	struct metrics_http *http;	/* --metrics-addr */
	int metrics_err;		/* last --metrics-file error, said once */
	double snap_interval;		/* seconds between TIME_WAIT snapshots now */
	double start_wall;
};

/*
 * A TIME_WAIT socket has no process; a socket in the accept queue neither.
 * Where portlife saw the lease allocated, its owner is known: fill it in.
 */
static void owners_from_leases(struct tracer *tr, struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sock_ent *e = &s->v[i];
		struct lease *l;

		if (e->pid || !e->r.cookie || !(l = lease_table__find_cookie(tr->leases, e->r.cookie)))
			continue;
		e->pid = l->pid;
		memcpy(e->comm, l->comm, PL_COMM_LEN);
	}
}

/*
 * A failed allocation: look at the socket table of its namespace now and say
 * who holds the port (EADDRINUSE) or how full the destination is
 * (EADDRNOTAVAIL), with the likely remedy. At most one a second: an
 * exhausted range fails thousands of times a second, and a snapshot costs.
 */
static void diagnose(struct tracer *tr, const struct pl_event *e)
{
	char ep[64], comm[PL_COMM_LEN], enbuf[16], buf[320], ts[32];
	struct snapshot s;
	__u64 now = mono_ns();
	const char *en;
	FILE *f = stdout;

	if (!tr->snap.tcp || (e->err != EADDRINUSE && e->err != EADDRNOTAVAIL))
		return;
	if (now - tr->last_diag_ns < 1000000000ULL) {
		tr->diag_suppressed++;
		return;
	}
	tr->last_diag_ns = now;
	if (snapshot__take(&s, &tr->snap, e->netns))
		return;
	owners_from_leases(tr, &s);
	comm_sanitize(e->comm, sizeof(e->comm), comm, sizeof(comm));
	en = errno_name(e->err, enbuf, sizeof(enbuf));
	wall_str(e->ts_ns + tr->out.wall_off, 0, ts, sizeof(ts));

	if (e->err == EADDRINUSE) {
		int n = 0;

		if (env.json) {
			fprintf(f, "{\"event\":\"diagnosis\",\"error\":\"%s\",\"pid\":%u,\"comm\":",
				en, e->pid);
			json_str(f, e->comm, sizeof(e->comm));
			fprintf(f, ",\"netns\":%u,\"lport\":%u,\"holders\":[", e->netns, e->lport);
		} else {
			fprintf(f, "!! %s %s: pid %u (%s) could not bind %s\n", ts, en, e->pid, comm,
				endpoint_str(e->family, e->laddr, e->lport, ep, sizeof(ep)));
		}
		/*
		 * Holders now, then the ones that held it when portlife started
		 * (seed), then the lease portlife saw: the holder may be gone by now.
		 */
		const struct snapshot *from[] = { &s, &tr->seed };

		for (size_t k = 0; k < 2 && !n; k++)
		for (size_t i = 0; i < from[k]->n; i++) {
			const struct sock_ent *h = &from[k]->v[i];
			char hc[PL_COMM_LEN], la[48];

			if (h->r.lport != e->lport || h->r.proto != e->proto ||
			    h->r.netns != e->netns || (k && !h->pid))
				continue;
			comm_sanitize(h->comm, sizeof(h->comm), hc, sizeof(hc));
			if (env.json) {
				fprintf(f, "%s{\"pid\":%u,\"comm\":", n ? "," : "", h->pid);
				json_str(f, h->comm, sizeof(h->comm));
				fprintf(f, ",\"state\":\"%s\",\"laddr\":\"%s\",\"rport\":%u}",
					tcp_state_name(h->r.state),
					addr_str(h->r.family, h->r.laddr, la, sizeof(la)), h->r.rport);
			} else {
				fprintf(f, "   held by pid %u (%s): %s %s remote port %u\n", h->pid,
					h->pid ? hc : "unknown: no process holds the socket",
					tcp_state_name(h->r.state),
					endpoint_str(h->r.family, h->r.laddr, h->r.lport, ep, sizeof(ep)),
					h->r.rport);
			}
			n++;
		}
		if (!n) {
			struct lease *l = lease_table__find_port(tr->leases, e->netns, e->proto, e->lport);
			char hc[PL_COMM_LEN];

			if (l) {
				comm_sanitize(l->comm, sizeof(l->comm), hc, sizeof(hc));
				if (env.json) {
					fprintf(f, "{\"pid\":%u,\"comm\":", l->pid);
					json_str(f, l->comm, sizeof(l->comm));
					fprintf(f, ",\"state\":\"%s\",\"seen_by\":\"trace\"}",
						tcp_state_name(l->state));
				} else {
					fprintf(f, "   held by pid %u (%s), which portlife saw take it\n",
						l->pid, hc);
				}
				n++;
			}
		}
		snprintf(buf, sizeof(buf), n ? "the holder must close it, or use another port "
				   "(SO_REUSEADDR only helps against TIME_WAIT holders)" :
				   "the holder is already gone: retry");
		if (env.json) {
			fprintf(f, "],\"remedy\":");
			json_str(f, buf, strlen(buf));
			fprintf(f, "}\n");
		} else {
			fprintf(f, "   remedy: %s\n", buf);
		}
	} else {
		struct dest *dv = NULL;
		struct bind_room *bv = NULL;
		const struct dest *d = NULL;
		size_t nd, nb;

		/* the failed socket had no port: match on everything else */
		if (!headroom(&s, NULL, &dv, &nd, &bv, &nb)) {
			for (size_t i = 0; i < nd && !d; i++)
				if (dv[i].netns == e->netns && dv[i].rport == e->rport &&
				    !memcmp(dv[i].raddr, e->raddr, 16))
					d = &dv[i];
		}
		if (env.json) {
			fprintf(f, "{\"event\":\"diagnosis\",\"error\":\"%s\",\"pid\":%u,\"comm\":",
				en, e->pid);
			json_str(f, e->comm, sizeof(e->comm));
			fprintf(f, ",\"netns\":%u,\"raddr\":\"%s\",\"rport\":%u", e->netns,
				addr_str(e->family, e->raddr, ep, sizeof(ep)), e->rport);
			if (d)
				fprintf(f, ",\"in_use\":%u,\"time_wait\":%u,\"usable\":%u,\"free\":%u",
					d->in_use, d->time_wait, d->usable, d->free);
			fprintf(f, ",\"remedy\":");
			if (d)
				dest_remedy(d, buf, sizeof(buf));
			else
				snprintf(buf, sizeof(buf), "no free local port for this destination: "
							   "widen net.ipv4.ip_local_port_range");
			json_str(f, buf, strlen(buf));
			fprintf(f, "}\n");
		} else {
			fprintf(f, "!! %s %s: pid %u (%s) found no local port for %s (netns %u)\n", ts,
				en, e->pid, comm,
				endpoint_str(e->family, e->raddr, e->rport, ep, sizeof(ep)), e->netns);
			if (d) {
				fprintf(f, "   %-11s %-16s %-26s %6s %9s %7s %6s %7s %9s %12s  %s\n",
					"NETNS", "LOCAL", "REMOTE", "IN_USE", "TIME_WAIT", "USABLE", "FREE",
					"USED", "GROWTH/s", "EXHAUSTED_IN", "TOP HOLDERS comm/pid:ports");
				print_dest(f, d, "   ");
				fprintf(f, "   remedy: %s\n", dest_remedy(d, buf, sizeof(buf)));
			}
		}
		free(dv);
		free(bv);
	}
	snapshot__free(&s);
}

/*
 * Headroom now: the fullest destinations in the summary, and --warn when one
 * crosses the threshold (once a minute per destination at most).
 */
struct warned {
	struct dest d;
	__u64 ts;
};

static void headroom_now(struct tracer *tr, bool summary)
{
	static struct warned w[64];
	struct dest *dv = NULL;
	struct bind_room *bv = NULL;
	struct snapshot s;
	size_t nd = 0, nb = 0;
	__u64 now = mono_ns();

	if (!tr->snap.tcp || snapshot__take(&s, &tr->snap, 0))
		return;
	owners_from_leases(tr, &s);
	if (headroom(&s, NULL, &dv, &nd, &bv, &nb))
		goto out;
	if (summary) {
		if (!env.json)
			printf("\n");
		headroom_print(stdout, dv, nd, bv, 0, env.json, 0, 5);
		goto out;
	}
	for (size_t i = 0; i < nd && dv[i].used_pct >= env.warn_pct; i++) {
		const struct dest *d = &dv[i];
		struct warned *slot = NULL;
		char ep[64], buf[320];

		for (size_t k = 0; k < 64 && !slot; k++)
			if (w[k].ts && w[k].d.netns == d->netns && w[k].d.rport == d->rport &&
			    !memcmp(w[k].d.raddr, d->raddr, 16) && !memcmp(w[k].d.laddr, d->laddr, 16))
				slot = &w[k];
		if (slot && now - slot->ts < 60000000000ULL)
			continue;
		for (size_t k = 0; k < 64 && !slot; k++)
			if (!w[k].ts || now - w[k].ts >= 60000000000ULL)
				slot = &w[k];
		if (slot) {
			slot->d = *d;
			slot->ts = now;
		}
		if (env.json) {
			printf("{\"event\":\"warn\",\"netns\":%u,\"raddr\":\"%s\",\"rport\":%u,"
			       "\"used_pct\":%.1f,\"in_use\":%u,\"time_wait\":%u,\"free\":%u,\"remedy\":",
			       d->netns, addr_str(d->family, d->raddr, ep, sizeof(ep)), d->rport,
			       d->used_pct, d->in_use, d->time_wait, d->free);
			dest_remedy(d, buf, sizeof(buf));
			json_str(stdout, buf, strlen(buf));
			printf("}\n");
		} else {
			printf("!! WARNING %s uses %.1f%% of its usable ports (%u of %u, %u in TIME_WAIT)\n",
			       endpoint_str(d->family, d->raddr, d->rport, ep, sizeof(ep)), d->used_pct,
			       d->in_use, d->usable, d->time_wait);
			print_dest(stdout, d, "   ");
			printf("   remedy: %s\n", dest_remedy(d, buf, sizeof(buf)));
		}
	}
out:
	free(dv);
	free(bv);
	snapshot__free(&s);
}

/*
 * The next gap between TIME_WAIT snapshots: --tw-interval, stretched so that
 * snapshots never take more than SNAP_DUTY of one CPU. A snapshot walks every
 * TCP socket of each namespace; with tens of thousands of TIME_WAIT sockets a
 * round can take tens of milliseconds, and a fixed 0.1 s interval would then
 * be a tracer eating the host it is watching. The cost: TIME_WAIT exits are
 * timed to within the stretched interval, which the summary shows.
 */
#define SNAP_DUTY 0.05

static double snap_interval(__u64 last_ns)
{
	double floor_s = last_ns / 1e9 / SNAP_DUTY;

	return floor_s > env.tw_interval ? floor_s : env.tw_interval;
}

/* The one path every event takes, from the ring buffer or from a snapshot. */
static void handle_event(void *ctx, const struct pl_event *e)
{
	struct tracer *tr = ctx;
	struct lease_result r;

	/* Every event carries its lease owner's comm, so -c filters whole leases. */
	if (env.has_comm && strncmp(e->comm, env.comm, sizeof(env.comm)))
		return;
	if (tr->tw && e->type == PL_EV_ALLOC && !e->err)
		twsnap__note_netns(tr->tw, e->netns, e->pid);
	if (tr->rec && !tr->rec_err) {
		tr->rec_err = tracefile_write(tr->rec, e);
		if (tr->rec_err) {
			/* keep what is on disk; stop, loudly */
			fprintf(stderr, "portlife: writing %s failed after %llu records: %s; "
					"everything before is kept; free space and record again\n",
				env.record, (unsigned long long)tracefile_written(tr->rec),
				strerror(-tr->rec_err));
			exiting = 1;
		}
	}
	lease_table__apply(tr->leases, e, &r);
	agg__apply(tr->agg, e, &r);
	if (e->type == PL_EV_ALLOC && e->err) {
		tr->fails[tr->nfails++ % FAIL_RING] = *e;
		tr->fails_dirty = true;
		out__event(&tr->out, e, &r);
		diagnose(tr, e);
		return;
	}
	if (r.what == LW_NONE && e->type != PL_EV_ALLOC)
		return;
	if (r.lease && e->type != PL_EV_ALLOC && (r.lease->flags & L_ALLOCATED)) {
		/* At CLOSE the kernel has already zeroed the port: show the lease's. */
		struct pl_event shown = *e;

		shown.lport = r.lease->lport;
		shown.rport = r.lease->rport;
		memcpy(shown.laddr, r.lease->laddr, sizeof(shown.laddr));
		memcpy(shown.raddr, r.lease->raddr, sizeof(shown.raddr));
		out__event(&tr->out, &shown, &r);
		return;
	}
	out__event(&tr->out, e, &r);
}

static int handle_rb(void *ctx, void *data, size_t len)
{
	struct pl_event e;

	if (len < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	handle_event(ctx, &e);
	return 0;
}

static void read_drops(struct tracer *tr, __u64 out[PL_EV_MAX])
{
	__u64 vals[tr->ncpus];

	for (__u32 k = 0; k < PL_EV_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(bpf_map__fd(tr->skel->maps.drops), &k, vals))
			continue;
		for (int c = 0; c < tr->ncpus; c++)
			out[k] += vals[c];
	}
}

static __u64 read_recursion_misses(struct tracer *tr)
{
	struct bpf_program *prog;
	__u64 sum = 0;

	bpf_object__for_each_program(prog, tr->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}

static void fill_run_info(struct tracer *tr, struct run_info *ri, __u64 start)
{
	const struct twsnap_stats *ts = tr->tw ? twsnap__stats(tr->tw) : NULL;

	memset(ri, 0, sizeof(*ri));
	ri->mode = mode_name(tr->mode);
	ri->precision = tr->precision;
	read_drops(tr, ri->drops);
	ri->recursion_misses = read_recursion_misses(tr);
	if (ts) {
		ri->tw_unseen = ts->tw_unseen;
		ri->snapshots = ts->snapshots;
		ri->netns_lost = ts->netns_lost;
		ri->snap_mean_ns = ts->snapshots ? ts->total_ns / ts->snapshots : 0;
		ri->snap_max_ns = ts->max_ns;
		ri->snap_interval = tr->snap_interval;
		ri->snap_interval_set = env.tw_interval;
	}
	ri->tw_overflow = agg__tw_overflow(tr->agg);
	ri->elapsed_ns = mono_ns() - start;
	ri->leases = lease_table__stats(tr->leases);
	ri->procs_overflowed = agg__overflowed(tr->agg);
}

/* libbpf finds syscall tracepoints through tracefs; mount it where it is missing. */
/*
 * The once-a-second views: `top` and the metrics. One socket snapshot serves
 * both (the destinations with the least headroom).
 */
static void refresh_views(struct tracer *tr, __u64 start, bool with_top)
{
	struct dest *dv = NULL;
	struct bind_room *bv = NULL;
	size_t nd = 0, nb = 0;
	struct snapshot s;
	struct run_info ri;
	bool snap = false;

	if (!(tr->top && with_top) && !tr->http && !env.metrics_file)
		return;
	fill_run_info(tr, &ri, start);
	if (tr->snap.tcp && !snapshot__take(&s, &tr->snap, 0)) {
		snap = true;
		owners_from_leases(tr, &s);
		if (headroom(&s, NULL, &dv, &nd, &bv, &nb)) {
			dv = NULL;
			nd = 0;
		}
	}
	if (tr->top && with_top)
		top__update(tr->top, tr->agg, tr->leases, dv, nd, &ri, mono_ns());
	if (tr->http || env.metrics_file) {
		struct metrics_src ms = { .agg = tr->agg, .leases = tr->leases, .ri = &ri,
					  .dv = dv, .nd = nd, .top_n = env.metrics_top,
					  .start_time = tr->start_wall,
					  .version = PORTLIFE_VERSION };
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		int err = f ? metrics_render(f, &ms) : -ENOMEM;

		if (f && fclose(f) && !err)
			err = -ENOMEM;
		if (!err) {
			metrics_http_publish(tr->http, buf, len);
			if (env.metrics_file) {
				err = metrics_write_file(env.metrics_file, buf, len);
				/* said once per kind of failure, and when it heals */
				if (err && err != tr->metrics_err)
					fprintf(stderr, "portlife: writing metrics to %s failed: %s; "
							"retrying every second\n", env.metrics_file,
						strerror(-err));
				else if (!err && tr->metrics_err)
					fprintf(stderr, "portlife: writing metrics to %s works again\n",
						env.metrics_file);
				tr->metrics_err = err;
			}
		}
		free(buf);
	}
	free(dv);
	free(bv);
	if (snap)
		snapshot__free(&s);
}

static int ensure_tracefs(void)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	if (env.verbose)
		fprintf(stderr, "portlife: mounted tracefs on /sys/kernel/tracing\n");
	return 0;
}

static bool has_cap(int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ULL << cap);
}

static int preflight(void)
{
	/* CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39 */
	if (!has_cap(21) && !(has_cap(38) && has_cap(39))) {
		fprintf(stderr, "portlife: not enough privilege to load BPF programs: "
				"run it as root (or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)\n");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "portlife: this kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"use a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8 or newer)\n");
		return -ENOENT;
	}
	return 0;
}

static int ensure_tracefs(void);

static int configure(struct tracer *tr)
{
	struct portlife *s = tr->skel;
	int err;

	s->rodata->targ_tgid = env.pid;
	s->rodata->targ_family = env.family;
	s->rodata->filter_cgroup = env.cgroup != NULL;
	s->rodata->wakeup_bytes = env.ringbuf_kib * 1024 / 4;
	s->rodata->exact_hooks = tr->mode != MODE_TRACEPOINT;
	s->rodata->self_tgid = getpid();
	err = bpf_map__set_max_entries(s->maps.events, env.ringbuf_kib * 1024);
	if (err)
		return err;
	return bpf_map__set_max_entries(s->maps.leases, env.max_leases / 4 > 262144 ?
					env.max_leases / 4 : 262144);
}

static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
}

/*
 * Which programs a mode loads. pl_fe_/pl_fx_ are fentry/fexit, pl_kp_/pl_kr_
 * their kprobe twins; the rest is the tracepoint mode's, but for the state
 * tracepoint that every mode uses. Kernel differences are settled by probing
 * the running kernel's BTF, never its version.
 */
static bool prog_wanted(struct bpf_program *prog, enum pl_mode mode, const struct btf *btf)
{
	const char *name = bpf_program__name(prog);
	const char *sec = bpf_program__section_name(prog);
	const char *fn = strchr(sec, '/');
	bool exact = !strncmp(name, "pl_fe_", 6) || !strncmp(name, "pl_fx_", 6) ||
		     !strncmp(name, "pl_kp_", 6) || !strncmp(name, "pl_kr_", 6);

	/* The state tracepoint, and the socket-table iterators of the diagnosis. */
	if (!strcmp(name, "pl_set_state") || !strncmp(name, "pl_ports_", 9))
		return true;
	if (!exact)
		return mode == MODE_TRACEPOINT;
	if ((mode == MODE_FENTRY) != (name[3] == 'f') || mode == MODE_TRACEPOINT)
		return false;
	/* TIME_WAIT entry moved from inet_twsk_hashdance() to _schedule() in 6.11. */
	if (strstr(name, "_hdsched"))
		return btf_has_func(btf, "inet_twsk_hashdance_schedule");
	if (strstr(name, "_hashdance"))
		return !btf_has_func(btf, "inet_twsk_hashdance_schedule");
	/* IPv6 built as a module that is not loaded: no IPv6 connects to see. */
	if (strstr(name, "_connect6"))
		return btf_has_func(btf, "inet6_hash_connect") || !btf;
	(void)fn;
	return true;
}

static const char *attach_hint(enum pl_mode mode, int err)
{
	if (mode == MODE_FENTRY && (err == -EPERM || err == -EACCES))
		return "ftrace is locked down or trampolines are unavailable; try --mode kprobe or --mode tracepoint";
	if (mode == MODE_FENTRY)
		return "this kernel cannot attach fentry here; try --mode kprobe or --mode tracepoint";
	if (mode == MODE_KPROBE)
		return "kprobes are not available (CONFIG_KPROBES off?); try --mode tracepoint";
	return "the kernel lacks this hook; run with -v for libbpf's log";
}

static void detach_all(struct tracer *tr)
{
	while (tr->nlinks > 0)
		bpf_link__destroy(tr->links[--tr->nlinks]);
	tr->iter_link = tr->udp_iter_link = NULL;
	memset(&tr->snap, 0, sizeof(tr->snap));
	portlife__destroy(tr->skel);
	tr->skel = NULL;
}

/* The cgroup v2 sock_ops program: the exact moment connect() got its port. */
static void attach_sockops(struct tracer *tr)
{
	char cgroot[PATH_MAX];
	struct bpf_link *link;
	int cgfd;

	tr->precision = "alloc latency: connect SYN_SENT -> next state (no cgroup v2 for "
			"sock_ops), bind syscall duration; TIME_WAIT exit: within --tw-interval";
	if (cgroup2_mount(cgroot, sizeof(cgroot)) ||
	    (cgfd = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	link = bpf_program__attach_cgroup(tr->skel->progs.pl_connect_cb, cgfd);
	close(cgfd);
	if (!link) {
		if (env.verbose)
			fprintf(stderr, "portlife: sock_ops on %s failed (%s): alloc latency less exact\n",
				cgroot, strerror(errno));
		return;
	}
	tr->links[tr->nlinks++] = link;
	tr->precision = "alloc latency: connect SYN_SENT -> port assigned (sock_ops), "
			"bind syscall duration; TIME_WAIT exit: within --tw-interval";
}

/*
 * An fentry program can attach and still never run (seen with ftrace locked
 * down): bind a socket ourselves and check that inet_csk_get_port's entry
 * hook saw it.
 */
static int self_test(struct tracer *tr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return __atomic_load_n(&tr->skel->bss->calib_hits, __ATOMIC_RELAXED) ? 0 : -ENOSYS;
}

/*
 * Open, configure, load and attach everything one mode needs. On failure
 * nothing stays loaded and *why says what the kernel refused.
 */
static int try_mode(struct tracer *tr, enum pl_mode mode, const struct btf *btf, char *why,
		    size_t whylen)
{
	struct bpf_program *prog;
	int err;

	char kconfig[64];
	unsigned int hz = kernel_hz();

	/*
	 * libbpf fails the load when the kernel has no config file to read,
	 * even for a __weak extern: hand it what we found ourselves. HZ 0 (not
	 * found) makes the BPF side assume 250; it only scales TIME_WAIT expiry.
	 */
	snprintf(kconfig, sizeof(kconfig), "CONFIG_HZ=%u\n", hz);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kconfig = kconfig);

	tr->mode = mode;
	tr->skel = portlife__open_opts(&opts);
	if (!tr->skel) {
		err = -errno;
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	err = configure(tr);
	if (err) {
		snprintf(why, whylen, "cannot size the BPF maps: %s", strerror(-err));
		goto fail;
	}
	bpf_object__for_each_program(prog, tr->skel->obj)
		bpf_program__set_autoload(prog, prog_wanted(prog, mode, btf));
	err = portlife__load(tr->skel);
	if (err) {
		if (mode == MODE_KPROBE)
			snprintf(why, whylen, "the kernel refused kprobe programs (%s): kprobes "
				 "are not built in; try --mode tracepoint", strerror(-err));
		else if (mode == MODE_FENTRY && err == -EPERM)
			snprintf(why, whylen, "the kernel refused fentry programs (%s): ftrace is "
				 "locked down or BPF trampolines are disabled; try --mode tracepoint",
				 strerror(-err));
		else
			snprintf(why, whylen, "the kernel refused to load the programs (%s); "
				 "run with -v for the verifier log", strerror(-err));
		goto fail;
	}
	if (mode == MODE_TRACEPOINT) {
		err = ensure_tracefs();
		if (err) {
			snprintf(why, whylen, "tracefs is not mounted and mounting it failed (%s): "
				 "mount -t tracefs nodev /sys/kernel/tracing", strerror(-err));
			goto fail;
		}
	}
	bpf_object__for_each_program(prog, tr->skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) ||
		    bpf_program__type(prog) == BPF_PROG_TYPE_SOCK_OPS)
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			err = -errno;
			snprintf(why, whylen, "cannot attach %s (%s): %s",
				 bpf_program__section_name(prog), strerror(-err),
				 attach_hint(mode, err));
			goto fail;
		}
		if (tr->nlinks == MAX_LINKS) {
			bpf_link__destroy(link);
			err = -E2BIG;
			snprintf(why, whylen, "too many programs");
			goto fail;
		}
		tr->links[tr->nlinks++] = link;
		if (prog == tr->skel->progs.pl_iter_tw)
			tr->iter_link = link;
		if (prog == tr->skel->progs.pl_iter_udp)
			tr->udp_iter_link = link;
		if (prog == tr->skel->progs.pl_ports_tcp)
			tr->snap.tcp = link;
		if (prog == tr->skel->progs.pl_ports_udp)
			tr->snap.udp = link;
		if (prog == tr->skel->progs.pl_ports_owner)
			tr->snap.owner = link;
	}
	if (mode != MODE_TRACEPOINT && self_test(tr)) {
		err = -ENOSYS;
		snprintf(why, whylen, "the programs attached but never ran on a test bind() "
			 "(ftrace or kprobes disabled at run time?); try --mode tracepoint");
		goto fail;
	}
	if (mode == MODE_TRACEPOINT) {
		attach_sockops(tr);
	} else {
		tr->precision = mode == MODE_FENTRY ?
			"alloc latency: exact search (fentry/fexit on inet_hash_connect, inet_csk_get_port, "
			"udp_lib_get_port); TIME_WAIT enter and exit: exact" :
			"alloc latency: exact search (kprobe/kretprobe on inet_hash_connect, "
			"inet_csk_get_port, udp_lib_get_port); TIME_WAIT enter and exit: exact";
	}
	return 0;
fail:
	detach_all(tr);
	return err;
}

/* Forced mode, or the ladder: the first mode that loads and attaches. */
static int choose_mode(struct tracer *tr)
{
	struct btf *btf = btf__load_vmlinux_btf();
	char why[512], skipped[1024] = "";
	enum pl_mode m;
	int err = -ENOENT;

	for (m = MODE_FENTRY; m <= MODE_TRACEPOINT; m++) {
		if (env.mode != MODE_AUTO && env.mode != m)
			continue;
		err = try_mode(tr, m, btf, why, sizeof(why));
		if (!err)
			break;
		if (env.mode != MODE_AUTO) {
			fprintf(stderr, "portlife: %s mode unavailable: %s\n", mode_name(m), why);
			break;
		}
		snprintf(skipped + strlen(skipped), sizeof(skipped) - strlen(skipped), "%s%s: %s",
			 *skipped ? "; " : "", mode_name(m), why);
	}
	btf__free(btf);
	if (err && env.mode == MODE_AUTO)
		fprintf(stderr, "portlife: no attach mode works here: %s\n", skipped);
	else if (!err && *skipped && env.verbose)
		fprintf(stderr, "portlife: skipped %s\n", skipped);
	else if (!err && *skipped)
		fprintf(stderr, "portlife: better modes unavailable here (-v says why)\n");
	return err;
}

/*
 * Publish the recent failures for `portlife who` (another process):
 * written whole to a temporary file and renamed, so a reader never sees half.
 */
static void publish_failures(struct tracer *tr)
{
	char path[64], tmp[80];
	unsigned int n = tr->nfails < FAIL_RING ? tr->nfails : FAIL_RING;
	FILE *f;
	int fd;

	if (!tr->fails_dirty)
		return;
	tr->fails_dirty = false;
	if (mkdir(FAILS_DIR, 0700) && errno != EEXIST) {
		if (env.verbose)
			fprintf(stderr, "portlife: cannot publish failures in %s: %s\n", FAILS_DIR,
				strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), FAILS_DIR "/%d.failures", (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fwrite(FAILS_MAGIC, 1, sizeof(FAILS_MAGIC), f);
	fwrite(&tr->out.wall_off, sizeof(tr->out.wall_off), 1, f);
	for (unsigned int i = 0; i < n; i++)
		fwrite(&tr->fails[(tr->nfails - n + i) % FAIL_RING], sizeof(struct pl_event), 1, f);
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

static void report_losses(struct tracer *tr, __u64 *last_drops, __u64 *last_miss)
{
	__u64 d[PL_EV_MAX], total = 0, miss = read_recursion_misses(tr);

	read_drops(tr, d);
	for (int i = 1; i < PL_EV_MAX; i++)
		total += d[i];
	if (total > *last_drops || miss > *last_miss)
		fprintf(stderr, "portlife: LOST %llu events (ring buffer full) and %llu "
				"(recursion misses) in the last second; try --ringbuf or -s\n",
			(unsigned long long)(total - *last_drops),
			(unsigned long long)(miss - *last_miss));
	*last_drops = total;
	*last_miss = miss;
}

static int run(void)
{
	struct tracer tr = { .cg_filter_fd = -1 };
	__u64 start, next_snap, next_sum = 0, next_loss, end = 0, last_drops = 0, last_miss = 0;
	struct run_info ri;
	int err;

	err = preflight();
	if (err)
		return 1;
	if (env.cgroup) {
		tr.cg_filter_fd = open(env.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tr.cg_filter_fd < 0) {
			fprintf(stderr, "portlife: cannot open cgroup '%s': %s: give a cgroup v2 "
					"directory, e.g. /sys/fs/cgroup/system.slice\n",
				env.cgroup, strerror(errno));
			return 1;
		}
	}

	if (env.metrics_addr) {
		struct sockaddr_storage ss;
		char why[128];

		metrics_parse_addr(env.metrics_addr, &ss);	/* checked by env_parse */
		tr.http = metrics_http_start(&ss, why, sizeof(why));
		if (!tr.http) {
			fprintf(stderr, "portlife: cannot serve metrics on %s: %s: pick another "
					"--metrics-addr\n", env.metrics_addr, why);
			err = -EINVAL;
			goto cleanup;
		}
	}
	if (env.metrics_file && (err = metrics_check_file(env.metrics_file))) {
		fprintf(stderr, "portlife: cannot write metrics to %s: %s: give a path in a "
				"writable directory with --metrics-file\n", env.metrics_file,
			strerror(-err));
		goto cleanup;
	}
	tr.start_wall = mono_to_wall_offset() / 1e9 + mono_ns() / 1e9;

	tr.ncpus = libbpf_num_possible_cpus();
	tr.leases = lease_table__new(env.max_leases);
	tr.agg = agg__new(65536);
	if (tr.ncpus <= 0 || !tr.leases || !tr.agg) {
		fprintf(stderr, "portlife: out of memory for %lu leases: lower --max-leases\n",
			env.max_leases);
		err = -ENOMEM;
		goto cleanup;
	}
	tr.out.f = stdout;
	tr.out.json = env.json;
	tr.out.events = !env.summary_only;
	tr.out.wall_off = mono_to_wall_offset();

	err = choose_mode(&tr);
	if (err)
		goto cleanup;
	if (tr.cg_filter_fd >= 0) {
		__u32 k = 0;

		err = bpf_map_update_elem(bpf_map__fd(tr.skel->maps.cgroup_map), &k,
					  &tr.cg_filter_fd, BPF_ANY);
		if (err) {
			err = -errno;
			fprintf(stderr, "portlife: cannot filter on cgroup '%s' (%s): is it a "
					"cgroup v2 directory?\n", env.cgroup, strerror(-err));
			goto cleanup;
		}
	}
	if (env.record) {
		struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
					 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
		struct utsname u;

		h.wall_off_ns = tr.out.wall_off;
		h.start_ns = mono_ns();
		gethostname(h.hostname, sizeof(h.hostname) - 1);
		if (!uname(&u))
			snprintf(h.release, sizeof(h.release), "%.63s", u.release);
		snprintf(h.mode, sizeof(h.mode), "%s", mode_name(tr.mode));
		snprintf(h.precision, sizeof(h.precision), "%s", tr.precision);
		snprintf(h.filters, sizeof(h.filters), "%s", env.filters);
		tr.rec = tracefile_create(env.record, &h);
		if (!tr.rec) {
			err = -errno;
			fprintf(stderr, "portlife: cannot create %s: %s%s\n", env.record, strerror(-err),
				err == -EEXIST ? " (it exists: portlife never overwrites a trace)" : "");
			goto cleanup;
		}
	}

	/* What already holds ports, so a conflict with an old holder is attributed. */
	if (tr.snap.tcp && snapshot__take(&tr.seed, &tr.snap, 0) && env.verbose)
		fprintf(stderr, "portlife: no start snapshot of the socket tables\n");

	/* Only the tracepoint mode needs TIME_WAIT snapshots. */
	if (tr.iter_link)
		tr.tw = twsnap__new(tr.iter_link, tr.udp_iter_link, tr.leases);
	tr.rb = ring_buffer__new(bpf_map__fd(tr.skel->maps.events), handle_rb, &tr, NULL);
	if ((tr.iter_link && !tr.tw) || !tr.rb) {
		err = -errno;
		fprintf(stderr, "portlife: cannot set up the event reader: %s\n", strerror(-err));
		goto cleanup;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	fprintf(stderr, "portlife: mode %s (%s). Tracing port leases%s... "
			"Ctrl-C to stop.\n", mode_name(tr.mode), tr.precision,
		env.duration ? " for a while" : "");
	if (env.json) {
		printf("{\"event\":\"start\",\"mode\":\"%s\",\"precision\":\"%s\","
		       "\"pid\":%d}\n", mode_name(tr.mode), tr.precision, (int)getpid());
		fflush(stdout);
	}

	start = mono_ns();
	if (env.metrics_file) {
		/* a path that cannot be written is an error now, not a log line later */
		refresh_views(&tr, start, false);
		if (tr.metrics_err) {
			err = tr.metrics_err;
			goto cleanup;
		}
	}
	if (env.top) {
		tr.top = top__new(isatty(STDOUT_FILENO), env.top_sort, stdout);
		if (!tr.top) {
			err = -errno;
			fprintf(stderr, "portlife: cannot start the live view: %s: is TERM set "
					"right? (pipe the output for plain text)\n", strerror(-err));
			goto cleanup;
		}
		refresh_views(&tr, start, true);
	}
	tr.snap_interval = env.tw_interval;
	next_snap = start + (__u64)(env.tw_interval * 1e9);
	next_loss = start + 1000000000ULL;
	if (env.interval)
		next_sum = start + (__u64)(env.interval * 1e9);
	if (env.duration)
		end = start + (__u64)(env.duration * 1e9);

	while (!exiting) {
		__u64 now;

		/* Wakeups are batched in the kernel: poll on a timer, then drain. */
		err = ring_buffer__poll(tr.rb, 100);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "portlife: reading events failed: %s\n", strerror(-err));
			break;
		}
		ring_buffer__consume(tr.rb);
		err = 0;
		if (tr.top) {
			int k = top__keys(tr.top);

			if (k == 1)
				break;
			if (k == 2)
				top__redraw(tr.top);
		}
		/* Records reach the file within a poll: a kill loses little. */
		if (tr.rec && !tr.rec_err && (tr.rec_err = tracefile_flush(tr.rec))) {
			fprintf(stderr, "portlife: writing %s failed: %s; everything before is kept; "
					"free space and record again\n", env.record, strerror(-tr.rec_err));
			break;
		}
		now = mono_ns();
		if (tr.tw && now >= next_snap) {
			twsnap__run(tr.tw, handle_event, &tr);
			lease_table__age(tr.leases, now - 10000000000ULL);
			tr.snap_interval = snap_interval(twsnap__stats(tr.tw)->last_ns);
			next_snap = mono_ns() + (__u64)(tr.snap_interval * 1e9);
		}
		if (now >= next_loss) {
			/* on the full screen, the title line shows the losses */
			if (!tr.top || !isatty(STDOUT_FILENO))
				report_losses(&tr, &last_drops, &last_miss);
			refresh_views(&tr, start, true);
			publish_failures(&tr);
			if (env.warn_pct)
				headroom_now(&tr, false);
			next_loss = now + 1000000000ULL;
		}
		if (next_sum && now >= next_sum) {
			fill_run_info(&tr, &ri, start);
			out__summary(&tr.out, tr.agg, &ri);
			headroom_now(&tr, true);
			next_sum = now + (__u64)(env.interval * 1e9);
		}
		if (end && now >= end)
			break;
		if (fflush(stdout) || ferror(stdout)) {
			/* A closed pipe (portlife | head) is a normal stop; a full disk is not. */
			if (errno != EPIPE) {
				fprintf(stderr, "portlife: writing the output failed: %s: free space "
						"or write elsewhere\n", strerror(errno));
				err = -errno;
				goto cleanup;
			}
			err = 0;
			goto cleanup;
		}
	}

	/* Whatever is still in the buffer belongs in the summary. */
	ring_buffer__consume(tr.rb);
	if (tr.tw)
		twsnap__run(tr.tw, handle_event, &tr);
	/* the live view ends with the terminal as it was: no summary after it */
	top__free(tr.top);
	tr.top = NULL;
	refresh_views(&tr, start, false);
	if (!env.top) {
		fill_run_info(&tr, &ri, start);
		out__summary(&tr.out, tr.agg, &ri);
		headroom_now(&tr, true);
	}
	err = tr.rec_err;
	if (tr.rec) {
		struct pl_file_trailer t = { .end_ns = mono_ns(),
					     .records = tracefile_written(tr.rec),
					     .recursion_misses = ri.recursion_misses,
					     .write_errors = !!tr.rec_err };
		int cerr;

		memcpy(t.drops, ri.drops, sizeof(t.drops));
		cerr = tracefile_close(tr.rec, &t);
		tr.rec = NULL;
		if (cerr && !err) {
			fprintf(stderr, "portlife: finishing %s failed: %s; the records are kept, "
					"without a trailer\n", env.record, strerror(-cerr));
			err = cerr;
		} else if (!err) {
			fprintf(stderr, "portlife: %llu records in %s\n", (unsigned long long)t.records,
				env.record);
		}
	}

cleanup:
	top__free(tr.top);
	metrics_http_stop(tr.http);
	if (tr.rec)
		tracefile_close(tr.rec, &(struct pl_file_trailer){ .end_ns = mono_ns() });
	ring_buffer__free(tr.rb);
	detach_all(&tr);
	twsnap__free(tr.tw);
	snapshot__free(&tr.seed);
	{
		char path[64];

		snprintf(path, sizeof(path), FAILS_DIR "/%d.failures", (int)getpid());
		unlink(path);
	}
	agg__free(tr.agg);
	lease_table__free(tr.leases);
	if (tr.cg_filter_fd >= 0)
		close(tr.cg_filter_fd);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	/* one exit status for every usage error, argp's own included (it says 64) */
	argp_err_exit_status = 2;
	/* Subcommands; everything else is live tracing. argv[1] is renamed for
	 * argp's "Usage:" and "Try ... --help" lines. */
	if (argc > 1 && !strcmp(argv[1], "ports")) {
		argv[1] = "portlife ports";
		return cmd_ports(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "who")) {
		argv[1] = "portlife who";
		return cmd_who(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "report")) {
		argv[1] = "portlife report";
		return cmd_report(argc - 1, argv + 1);
	}
	if (argc > 1 && !strcmp(argv[1], "top")) {
		argv[1] = "portlife top";
		if (env_parse_top(argc - 1, argv + 1, &env))
			return 2;
	} else if (argc > 1 && !strcmp(argv[1], "record")) {
		argv[1] = "portlife record";
		if (env_parse_record(argc - 1, argv + 1, &env))
			return 2;
	} else if (env_parse(argc, argv, &env)) {
		return 2;
	}
	libbpf_set_print(libbpf_print);
	return run();
}
