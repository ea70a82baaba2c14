// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Checksum-valid traces of hostile shapes, for regression tests of
 * `portlife report`: each is a well-formed file, so the reader lets it
 * through and what follows (lease table, aggregation, every output) meets
 * it. Written through the real writer (tracefile_create/write/close).
 *
 * Usage: mkcrafted SHAPE FILE [N]     (FILE is replaced)
 *   lease-jump      N ALLOCs (4000) whose lease ids jump by 2^20
 *   same-cookie     N leases (80000) sharing one socket cookie: every ALLOC,
 *                   then every RELEASE, oldest first
 *   many-comms      one pid under N distinct comms (65536), one ALLOC each
 *   many-pids       N processes (100000, past the 16384 rows), pids 1000 up,
 *                   four names in two cgroups, each one lease allocated and
 *                   released; the last one also fails one allocation
 *   hostile-header  mode `","x":1,"y":"`; hostname, release, precision and
 *                   filters with terminal escapes (OSC title, clear screen,
 *                   cursor home); N leases (3) of a plain process
 *   nat-many        N NAT translations (100000), each to a destination of its
 *                   own (past the NAT view's 65536), owned by processes named
 *                   with terminal escapes, JSON quotes and formulas; then their
 *                   ends, and failures with and without a tuple
 *   formula-comm    N leases each (1) of processes named like spreadsheet
 *                   formulas: `=HYPERLINK("http://x","y")` as the kernel
 *                   keeps it (15 bytes: `=HYPERLINK("htt`), and others
 *   foreign-cgroups a trace from another host: pid 100 in cgroup id 1 (the
 *                   root's id on any host), recorded as "/remote.slice/app
 *                   ESC[2J.service"; pid 200 in cgroup id N (give the id of a
 *                   cgroup of the host reading it), with no path recorded
 *   hostile-pods    pod names records that must not be believed: pid 110 in a
 *                   pod named right (shop/web-0/app); 111 in a pod whose names
 *                   hold terminal escapes; 112 in docker with names (a docker
 *                   container is in no pod); 113 in a path whose id is 63 hex
 *                   (a systemd scope, then, not docker); then N more cgroups
 *                   (2), each with a path and names
 *   cgroup-flood    N cgroup records (2000000) with empty paths, N/4 names
 *                   records, each id its own; one lease
 *
 * Example: mkcrafted same-cookie /tmp/cookie.trace && portlife report /tmp/cookie.trace
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tracefile.h"

/* kernel TCP_* numbering */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_CLOSE 7

struct gen {
	struct tracefile_writer *w;
	__u64 ts;
	int err;
};

static void put(struct gen *g, struct pl_event *e)
{
	g->ts += 1000;
	e->ts_ns = g->ts;
	if (!g->err)
		g->err = tracefile_write(g->w, e);
}

static struct pl_event alloc_ev(__u64 lease, __u32 pid, const char *comm)
{
	struct pl_event e = { .type = PL_EV_ALLOC, .family = 2, .proto = 6,
			      .kind = PL_ALLOC_CONNECT, .lport = 32768 + lease % 28232,
			      .rport = 443, .pid = pid, .tid = pid, .netns = 4026531840u,
			      .lease = lease, .cookie = lease, .dur_ns = 2000,
			      .laddr = { 10, 0, 0, 1 }, .raddr = { 10, 0, 0, 2 } };

	/* as the kernel does: 15 bytes of the name and a NUL */
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	return e;
}

/* A whole client-side TCP lease: connect, close first, TIME_WAIT, release. */
static void lifecycle(struct gen *g, __u64 lease, __u32 pid, const char *comm)
{
	static const __u8 states[][2] = { { TCP_CLOSE, TCP_SYN_SENT },
					  { TCP_SYN_SENT, TCP_ESTABLISHED },
					  { TCP_ESTABLISHED, TCP_FIN_WAIT1 },
					  { TCP_FIN_WAIT1, TCP_FIN_WAIT2 },
					  { TCP_FIN_WAIT2, TCP_CLOSE } };
	struct pl_event e = alloc_ev(lease, pid, comm);

	put(g, &e);
	e.type = PL_EV_STATE;
	e.dur_ns = 0;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		e.old_state = states[i][0];
		e.new_state = states[i][1];
		e.kind = e.new_state == TCP_CLOSE ? PL_STATE_TW_EXPECTED : 0;
		put(g, &e);
	}
	e.old_state = e.new_state = 0;
	e.type = PL_EV_TW_ENTER;
	e.kind = 0;
	e.dur_ns = 60000000000ULL;
	put(g, &e);
	e.dur_ns = 0;
	e.type = PL_EV_TW_EXIT;
	e.kind = PL_END_TW_EXPIRED;
	put(g, &e);
	e.type = PL_EV_RELEASE;
	put(g, &e);
}

static void lease_jump(struct gen *g, __u64 n)
{
	for (__u64 i = 1; i <= n; i++) {
		struct pl_event e = alloc_ev(i << 20, 1000, "jump");

		put(g, &e);
	}
}

static void same_cookie(struct gen *g, __u64 n)
{
	for (int type = PL_EV_ALLOC; type <= PL_EV_RELEASE; type += PL_EV_RELEASE - PL_EV_ALLOC) {
		for (__u64 i = 1; i <= n; i++) {
			struct pl_event e = alloc_ev(i, 1000, "cookie");

			e.type = type;
			e.cookie = 0xc00c1e;
			if (type == PL_EV_RELEASE)
				e.kind = PL_END_CLOSE;
			put(g, &e);
		}
	}
}

static void many_comms(struct gen *g, __u64 n)
{
	for (__u64 i = 1; i <= n; i++) {
		char comm[PL_COMM_LEN];
		struct pl_event e;

		snprintf(comm, sizeof(comm), "comm-%llu", (unsigned long long)i);
		e = alloc_ev(i, 4242, comm);
		put(g, &e);
	}
}

static void many_pids(struct gen *g, __u64 n)
{
	static const char *const comms[] = { "check-a", "check-b", "check-c", "check-d" };

	for (__u64 i = 1; i <= n; i++) {
		struct pl_event e = alloc_ev(i, 1000 + i, comms[i % 4]);

		e.cgroup_id = 100 + i % 2;
		put(g, &e);
		e.type = PL_EV_RELEASE;
		e.kind = PL_END_CLOSE;
		put(g, &e);
	}
	{
		struct pl_event e = alloc_ev(n + 1, 1000 + n, comms[n % 4]);

		e.cgroup_id = 100 + n % 2;
		e.lease = 0;
		e.err = 99;	/* EADDRNOTAVAIL */
		put(g, &e);
	}
}

static void leases_of(struct gen *g, __u64 n, __u32 pid, const char *comm, __u64 *lease)
{
	for (__u64 i = 0; i < n; i++)
		lifecycle(g, ++*lease, pid, comm);
}

static void formula_comm(struct gen *g, __u64 n)
{
	/* what spreadsheets run from a CSV cell: leading = + - @, and a tab or CR before one */
	static const char *const comms[] = { "=HYPERLINK(\"http://x\",\"y\")", "=1+1", "+1+1",
					     "-1+1", "@SUM(1)", "\t=1", "\r=1", "\"=1\",\"x" };
	__u64 lease = 0;

	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++)
		leases_of(g, n, 3000 + i, comms[i], &lease);
}

static void hostile_header(struct gen *g, __u64 n)
{
	__u64 lease = 0;

	leases_of(g, n, 1000, "curl", &lease);
}

/* ESC ] 0;title BEL sets the terminal's title, ESC [2J clears it, ESC [H homes the cursor */
#define ESCAPES "\033]0;pwned\007\033[2J\033[H"

static void foreign_cgroups(struct gen *g, __u64 n)
{
	__u64 lease = 0;
	struct pl_event e;

	if (!g->err)
		g->err = tracefile_write_cgroup(g->w, 1, "/remote.slice/app\033[2J.service");
	e = alloc_ev(++lease, 100, "remote-app");
	e.cgroup_id = 1;
	put(g, &e);
	e = alloc_ev(++lease, 200, "no-path");
	e.cgroup_id = n;
	put(g, &e);
}

#define POD_PATH(uid, id) "/kubepods.slice/kubepods-pod" uid ".slice/cri-containerd-" id ".scope"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void hostile_pods(struct gen *g, __u64 n)
{
	static const struct {
		__u32 pid;
		const char *comm, *path, *ns, *pod, *name;
	} c[] = {
		{ 110, "good-pod", POD_PATH("11111111_2222_3333_4444_555555555555", HEX64),
		  "shop", "web-0", "app" },
		{ 111, "escape-pod", POD_PATH("21111111_2222_3333_4444_555555555555", HEX64),
		  "shop", "web\033[2J", "app\033]0;x\007" },
		{ 112, "docker-named", "/system.slice/docker-" HEX64 ".scope", "shop", "web-1", "app" },
		{ 113, "short-id", "/system.slice/docker-" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
		  ".scope", "shop", "web-2", "app" },
	};
	__u64 lease = 0;
	struct pl_event e;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]) && !g->err; i++) {
		g->err = tracefile_write_cgroup(g->w, 10 + i, c[i].path);
		if (!g->err)
			g->err = tracefile_write_names(g->w, 10 + i, c[i].ns, c[i].pod, c[i].name);
		e = alloc_ev(++lease, c[i].pid, c[i].comm);
		e.cgroup_id = 10 + i;
		put(g, &e);
	}
	for (__u64 i = 0; i < n && !g->err; i++) {
		char path[256], pod[64];

		snprintf(path, sizeof(path), POD_PATH("%08llx_2222_3333_4444_555555555555", HEX64),
			 (unsigned long long)i);
		snprintf(pod, sizeof(pod), "pod-%llu", (unsigned long long)i);
		g->err = tracefile_write_cgroup(g->w, 100 + i, path);
		if (!g->err)
			g->err = tracefile_write_names(g->w, 100 + i, "bulk", pod, "c");
		e = alloc_ev(++lease, 1000 + i, "bulk");
		e.cgroup_id = 100 + i;
		put(g, &e);
	}
}

static void nat_many(struct gen *g, __u64 n)
{
	static const char *const comms[] = { "\033]0;pwned\007", "\",\"x\":\"", "=1+1", "ok" };

	for (int k = 0; k < 2; k++) {
		for (__u64 i = 0; i < n && !g->err; i++) {
			struct pl_nat_rec r = { .kind = k ? PL_NAT_END : PL_NAT_NEW, .family = 2,
						.proto = 6, .lport = 32768 + i % 28232,
						.rport = 1 + i % 65535, .nat_port = 1024 + i % 4,
						.pid = 100 + i % 4, .nat_netns = 7, .range_lo = 1024,
						.range_hi = 1027, .flags = PL_NATF_OWNED,
						.raddr = { 192, 0, 2, (__u8)(i >> 16) },
						.nat_addr = { 198, 51, 100, 1 } };

			g->ts += 1000;
			r.ts_ns = g->ts;
			r.hold_ns = k ? n * 1000 : 0;
			snprintf(r.comm, sizeof(r.comm), "%s", comms[i % 4]);
			g->err = tracefile_write_nat(g->w, &r);
			if (!g->err && !k && i % 1000 == 0) {
				r.kind = PL_NAT_FAIL;
				r.n = 1;
				g->err = tracefile_write_nat(g->w, &r);
			}
		}
	}
	if (!g->err)
		g->err = tracefile_write_nat(g->w, &(struct pl_nat_rec){
			.kind = PL_NAT_FAIL, .n = 0xffffffffu, .nat_netns = 7,
			.flags = PL_NATF_COUNT_ONLY, .ts_ns = g->ts });
}

/*
 * A lease of pid 1000: its ALLOC, one state change old -> new (with the
 * change's kind), then one last event: type with kind, sflags and dur_ns.
 */
static void last_word(struct gen *g, __u64 lease, __u8 old, __u8 new, __u8 state_kind,
		      __u8 type, __u8 kind, __u16 sflags, __u64 dur_ns)
{
	struct pl_event e = alloc_ev(lease, 1000, "client");

	put(g, &e);
	e.type = PL_EV_STATE;
	e.dur_ns = 0;
	e.old_state = old;
	e.new_state = new;
	e.kind = state_kind;
	put(g, &e);
	e.old_state = e.new_state = 0;
	e.type = type;
	e.kind = kind;
	e.sflags = sflags;
	e.dur_ns = dur_ns;
	put(g, &e);
}

/*
 * What the TIME_WAIT rounds emit for closes the kernel never showed, and a
 * TIME_WAIT shorter than a round: report's totals must count them from the
 * events (a live run counted them in the rounds), n of each.
 */
static void reconciled(struct gen *g, __u64 n)
{
	for (__u64 i = 0; i < n; i++) {
		/* closed first, its FIN_WAIT1 -> FIN_WAIT2 -> CLOSE never shown */
		last_word(g, 3 * i + 1, TCP_ESTABLISHED, TCP_FIN_WAIT1, 0, PL_EV_TW_ENTER,
			  PL_TW_RECONCILED, 0, 59000000000ULL);
		/* the peer closed first, LAST_ACK -> CLOSE never shown: found gone */
		last_word(g, 3 * i + 2, PL_TCP_CLOSE_WAIT, PL_TCP_LAST_ACK, 0, PL_EV_RELEASE,
			  PL_END_CLOSE, PL_RELF_RECONCILED, 0);
		/* a TIME_WAIT no round saw */
		last_word(g, 3 * i + 3, TCP_FIN_WAIT2, TCP_CLOSE, PL_STATE_TW_EXPECTED,
			  PL_EV_RELEASE, PL_END_TW_UNSEEN, 0, 0);
	}
}

/*
 * N cgroup records (2000000) with empty paths and ids of their own, and N/4
 * names records: a path's length alone bounded the table, and an empty one
 * costs none (about 105 bytes of memory per 24-byte record).
 */
static void cgroup_flood(struct gen *g, __u64 n)
{
	struct pl_event e;
	char pod[32];

	for (__u64 i = 0; i < n && !g->err; i++)
		g->err = tracefile_write_cgroup(g->w, 1000 + i, "");
	for (__u64 i = 0; i < n / 4 && !g->err; i++) {
		snprintf(pod, sizeof(pod), "pod-%llu", (unsigned long long)i);
		g->err = tracefile_write_names(g->w, 1000 + i, "ns", pod, "c");
	}
	e = alloc_ev(1, 100, "flooded");
	e.cgroup_id = 1000;
	put(g, &e);
}

static const struct shape {
	const char *name;
	__u64 n;
	void (*gen)(struct gen *g, __u64 n);
	bool hostile_header;
} shapes[] = {
	{ .name = "lease-jump", .n = 4000, .gen = lease_jump },
	{ .name = "same-cookie", .n = 80000, .gen = same_cookie },
	{ .name = "many-comms", .n = 65536, .gen = many_comms },
	{ .name = "many-pids", .n = 100000, .gen = many_pids },
	{ .name = "hostile-header", .n = 3, .gen = hostile_header, .hostile_header = true },
	{ .name = "formula-comm", .n = 1, .gen = formula_comm },
	{ .name = "nat-many", .n = 100000, .gen = nat_many },
	{ .name = "foreign-cgroups", .n = 2, .gen = foreign_cgroups },
	{ .name = "hostile-pods", .n = 2, .gen = hostile_pods },
	{ .name = "reconciled", .n = 2, .gen = reconciled },
	{ .name = "cgroup-flood", .n = 2000000, .gen = cgroup_flood },
};

static int usage(void)
{
	fprintf(stderr, "usage: mkcrafted SHAPE FILE [N]\nshapes (default N):");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		fprintf(stderr, " %s (%llu)", shapes[i].name, (unsigned long long)shapes[i].n);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event),
				 .wall_off_ns = 1700000000000000000ULL, .start_ns = 1000 };
	struct pl_file_trailer t = {};
	const struct shape *s = NULL;
	struct gen g = { .ts = h.start_ns };
	__u64 n;
	char *end;
	int err;

	if (argc < 3 || argc > 4)
		return usage();
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (!strcmp(argv[1], shapes[i].name))
			s = &shapes[i];
	if (!s) {
		fprintf(stderr, "mkcrafted: unknown shape '%s'\n", argv[1]);
		return usage();
	}
	n = s->n;
	if (argc == 4) {
		errno = 0;
		n = strtoull(argv[3], &end, 0);
		if (errno || *end || !n || n > 100000000) {
			fprintf(stderr, "mkcrafted: invalid N '%s': expected 1 to 100000000\n",
				argv[3]);
			return 2;
		}
	}

	snprintf(h.hostname, sizeof(h.hostname), "crafted");
	snprintf(h.release, sizeof(h.release), "6.1.0-crafted");
	snprintf(h.mode, sizeof(h.mode), "tracepoint");
	snprintf(h.precision, sizeof(h.precision), "crafted by mkcrafted %s", s->name);
	if (s->hostile_header) {
		/* 13 bytes: closes the JSON string it is printed in and opens keys of its own */
		snprintf(h.mode, sizeof(h.mode), "\",\"x\":1,\"y\":\"");
		snprintf(h.hostname, sizeof(h.hostname), "host" ESCAPES);
		snprintf(h.release, sizeof(h.release), "6.1" ESCAPES);
		snprintf(h.precision, sizeof(h.precision), "exact" ESCAPES "\n\"\\");
		snprintf(h.filters, sizeof(h.filters), "-p 1" ESCAPES);
	}

	unlink(argv[2]);
	g.w = tracefile_create(argv[2], &h);
	if (!g.w) {
		fprintf(stderr, "mkcrafted: cannot create %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	s->gen(&g, n);
	t.end_ns = g.ts + 1000;
	err = tracefile_close(g.w, &t);	/* also returns an error of put() */
	if (err) {
		fprintf(stderr, "mkcrafted: writing %s failed: %s\n", argv[2], strerror(-err));
		return 1;
	}
	return 0;
}
