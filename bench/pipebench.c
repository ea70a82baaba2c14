// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The userspace side alone, no kernel: a synthetic event stream shaped like
 * what tracepoint mode produces for a client-first close (ALLOC, four state
 * changes, TW_ENTER, TW_EXIT, RELEASE per connection) drives the same code
 * the live path runs (record copy and length check, lease table,
 * aggregation, and optionally JSON formatting), and reports:
 *
 *   pipeline   events/s on one core: summary only, one text line per event,
 *              JSON lines (both to /dev/null)
 *   leases     RSS per live lease with N leases open at once
 *   report     seconds for `portlife report` on a recorded trace of N events
 *
 * Prints one JSON object per measurement on stdout and a table on stderr.
 * Usage: pipebench [EVENTS] [LIVE_LEASES] [PORTLIFE_BINARY]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "agg.h"
#include "lease.h"
#include "output.h"
#include "pipeline.h"
#include "tracefile.h"

#define EV_PER_CONN 8
#define TCP_ESTABLISHED	1
#define TCP_SYN_SENT	2
#define TCP_FIN_WAIT1	4
#define TCP_FIN_WAIT2	5
#define TCP_CLOSE	7

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Resident set size now, in bytes (from /proc, not the peak). */
static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

/*
 * Event k of connection c. 64 processes, 16 destinations, ports cycling
 * through the ephemeral range; the times spread the lifecycle over ~60 s
 * of TIME_WAIT like the kernel's.
 */
static void make_event(struct pl_event *e, __u64 c, int k, __u64 t0)
{
	static const __u8 st[4][2] = {
		{ TCP_SYN_SENT, TCP_ESTABLISHED }, { TCP_ESTABLISHED, TCP_FIN_WAIT1 },
		{ TCP_FIN_WAIT1, TCP_FIN_WAIT2 }, { TCP_FIN_WAIT2, TCP_CLOSE },
	};
	__u64 ts = t0 + c * 1000 + k * 100;

	memset(e, 0, sizeof(*e));
	e->family = 2;
	e->proto = 6;
	e->lease = c + 1;
	e->cookie = c + 1;
	e->pid = 1000 + c % 64;
	e->tid = e->pid;
	e->netns = 4026531840u;
	e->cgroup_id = 1;
	e->lport = 32768 + c % 28000;
	e->rport = 8000 + c % 16;
	e->laddr[0] = 127;
	e->laddr[3] = 1;
	e->raddr[0] = 127;
	e->raddr[3] = 1;
	if (c % 7 == 3) {	/* some IPv6: ::1 to fd00::1:2 */
		memset(e->laddr, 0, sizeof(e->laddr));
		memset(e->raddr, 0, sizeof(e->raddr));
		e->family = 10;
		e->laddr[15] = 1;
		e->raddr[0] = 0xfd;
		e->raddr[13] = 1;
		e->raddr[15] = 2;
	}
	snprintf(e->comm, sizeof(e->comm), "client-%02u", (unsigned)(c % 64));
	switch (k) {
	case 0:
		e->type = PL_EV_ALLOC;
		e->kind = PL_ALLOC_CONNECT;
		e->dur_ns = 2000 + c % 5000;
		break;
	case 1: case 2: case 3: case 4:
		e->type = PL_EV_STATE;
		e->old_state = st[k - 1][0];
		e->new_state = st[k - 1][1];
		e->kind = k == 4 ? PL_STATE_TW_EXPECTED : 0;
		break;
	case 5:
		e->type = PL_EV_TW_ENTER;
		e->dur_ns = 60000000000ULL;
		break;
	case 6:
		e->type = PL_EV_TW_EXIT;
		e->ts_ns = ts + 60000000000ULL;
		return;
	default:
		e->type = PL_EV_RELEASE;
		e->kind = PL_END_TW_EXPIRED;
		e->ts_ns = ts + 60000000000ULL;
		return;
	}
	e->ts_ns = ts;
}

/*
 * The stream as the ring buffer hands it over: connections interleaved so
 * that ~4k leases are open at once (a busy host), not one at a time.
 */
static struct pl_event *make_stream(__u64 nev)
{
	const __u64 window = 4096;
	__u64 nconn = nev / EV_PER_CONN, i = 0;
	struct pl_event *v = malloc(nconn * EV_PER_CONN * sizeof(*v));

	if (!v)
		return NULL;
	for (__u64 base = 0; base < nconn; base += window) {
		__u64 n = nconn - base < window ? nconn - base : window;

		for (int k = 0; k < EV_PER_CONN; k++)
			for (__u64 c = 0; c < n; c++)
				make_event(&v[i++], base + c, k, 1000000000ULL);
	}
	return v;
}

struct sink {
	struct lease_table *lt;
	struct agg *agg;
	struct out out;
	struct pipeline pipe;
	__u64 seen;
};

/* What the tracer's ring buffer callback does for each record, minus the tty. */
static int consume(void *ctx, void *data, size_t len)
{
	struct sink *s = ctx;
	struct pl_event e;

	if (len < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	if (!s->pipe.leases) {
		pipeline__init(&s->pipe, s->lt, s->agg);
		pipeline__add_sink(&s->pipe, out__event, &s->out);
	}
	pipeline__event(&s->pipe, &e);
	s->seen++;
	return 0;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* output: 0 summary only, 1 one text line per event, 2 JSON lines, to /dev/null */
static int pipeline(const char *name, struct pl_event *v, __u64 nev, int output)
{
	struct sink s = { .lt = lease_table__new(1 << 20), .agg = agg__new(65536) };
	double t, c;

	if (!s.lt || !s.agg)
		return -ENOMEM;
	if (output) {
		/* PIPEBENCH_OUT=DIR keeps the output, to compare two builds */
		const char *keep = getenv("PIPEBENCH_OUT");
		char path[512];

		snprintf(path, sizeof(path), "%s/%s.out", keep ? keep : "", name);
		s.out.f = fopen(keep ? path : "/dev/null", "w");
		s.out.json = output == 2;
		s.out.events = true;
		if (!s.out.f)
			return -errno;
	}
	t = now_s();
	c = cpu_s();
	for (__u64 i = 0; i < nev; i++)
		consume(&s, &v[i], sizeof(v[i]));
	t = now_s() - t;
	c = cpu_s() - c;
	printf("{\"bench\":\"pipeline\",\"output\":\"%s\",\"events\":%llu,\"seconds\":%.3f,"
	       "\"cpu_seconds\":%.3f,\"events_per_cpu_s\":%.0f}\n", name,
	       (unsigned long long)s.seen, t, c, s.seen / c);
	fprintf(stderr, "pipeline %-8s %10llu events  %7.3f s  %6.2f M events/s per core\n", name,
		(unsigned long long)s.seen, c, s.seen / c / 1e6);
	if (s.out.f)
		fclose(s.out.f);
	out__free(&s.out);
	lease_table__free(s.lt);
	agg__free(s.agg);
	return 0;
}

/* N leases open at once: every connection's ALLOC and first state change only. */
static int live_leases(__u64 n)
{
	struct sink s;
	long before, after;
	struct pl_event e;

	before = rss_bytes();
	s = (struct sink){ .lt = lease_table__new(n), .agg = agg__new(65536) };
	if (!s.lt || !s.agg)
		return -ENOMEM;
	for (__u64 c = 0; c < n; c++) {
		make_event(&e, c, 0, 1000000000ULL);
		consume(&s, &e, sizeof(e));
		make_event(&e, c, 1, 1000000000ULL);
		consume(&s, &e, sizeof(e));
	}
	after = rss_bytes();
	printf("{\"bench\":\"leases\",\"live\":%llu,\"rss_bytes\":%ld,\"bytes_per_lease\":%.1f}\n",
	       (unsigned long long)lease_table__stats(s.lt)->live, after - before,
	       (double)(after - before) / n);
	fprintf(stderr, "leases   %llu live: RSS +%.1f MiB, %.1f bytes per lease\n",
		(unsigned long long)lease_table__stats(s.lt)->live, (after - before) / 1048576.0,
		(double)(after - before) / n);
	lease_table__free(s.lt);
	agg__free(s.agg);
	return 0;
}

/* A trace file of the first nev events of v. */
static int write_trace(const char *file, const struct pl_event *v, __u64 nev)
{
	struct pl_file_hdr hdr = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION };
	struct pl_file_trailer tr = { .records = nev };
	struct tracefile_writer *w;
	int err = 0;

	hdr.hdr_size = sizeof(hdr);
	hdr.rec_size = sizeof(struct pl_event);
	snprintf(hdr.hostname, sizeof(hdr.hostname), "pipebench");
	snprintf(hdr.mode, sizeof(hdr.mode), "tracepoint");
	w = tracefile_create(file, &hdr);
	if (!w)
		return -errno;
	for (__u64 i = 0; i < nev && !err; i++)
		err = tracefile_write(w, &v[i]);
	if (!err)
		err = tracefile_close(w, &tr);
	if (err)
		fprintf(stderr, "pipebench: writing %s: %s\n", file, strerror(-err));
	return err;
}

/*
 * `portlife report` of that file, timed as a child process. Called with the
 * stream freed: a child's peak RSS counts the parent's at fork.
 */
static int report(const char *portlife, const char *file, __u64 nev)
{
	struct rusage ru;
	double t;
	int st;
	pid_t p;

	t = now_s();
	p = fork();
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		execl(portlife, portlife, "report", file, (char *)NULL);
		_exit(127);
	}
	if (p < 0 || wait4(p, &st, 0, &ru) < 0)
		return -errno;
	t = now_s() - t;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "pipebench: %s report failed (status %d)\n", portlife, st);
		return -EIO;
	}
	printf("{\"bench\":\"report\",\"events\":%llu,\"seconds\":%.3f,\"max_rss_kib\":%ld}\n",
	       (unsigned long long)nev, t, ru.ru_maxrss);
	fprintf(stderr, "report   %llu events: %.3f s, peak RSS %.1f MiB\n",
		(unsigned long long)nev, t, ru.ru_maxrss / 1024.0);
	return 0;
}

int main(int argc, char **argv)
{
	__u64 nev = argc > 1 ? strtoull(argv[1], NULL, 0) : 8000000;
	__u64 nlive = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000;
	const char *portlife = argc > 3 ? argv[3] : ".output/portlife";
	__u64 ntrace = nev < 1000000 ? nev : 1000000;
	char dir[] = "/tmp/pipebench-XXXXXX", file[64];
	struct pl_event *v;
	int err;

	if (nev < EV_PER_CONN || !nlive) {
		fprintf(stderr, "usage: pipebench [EVENTS >= 8] [LIVE_LEASES > 0] [PORTLIFE]\n");
		return 2;
	}
	nev -= nev % EV_PER_CONN;
	v = make_stream(nev);
	if (!v) {
		fprintf(stderr, "pipebench: no memory for %llu events\n", (unsigned long long)nev);
		return 1;
	}
	err = pipeline("summary", v, nev, 0);
	if (!err)
		err = pipeline("text", v, nev, 1);
	if (!err)
		err = pipeline("json", v, nev, 2);
	/* a 1M-event trace, as the target names */
	if (!err && !mkdtemp(dir))
		err = -errno;
	snprintf(file, sizeof(file), "%s/trace", dir);
	if (!err)
		err = write_trace(file, v, ntrace);
	free(v);
	if (!err)
		err = report(portlife, file, ntrace);
	unlink(file);
	rmdir(dir);
	if (!err)
		err = live_leases(nlive);
	if (err)
		fprintf(stderr, "pipebench: %s\n", strerror(-err));
	return err ? 1 : 0;
}
