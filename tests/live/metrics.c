// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The metrics: --metrics-file and --metrics-addr against the summary. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "jsonread.h"

/* 50 connects the server ends, then 10 the client ends (TIME_WAIT). */
static int sc_metrics(struct result *r)
{
	int err = sc_connects(r, AF_INET), lfd;

	if (err)
		return err;
	lfd = tw_listener(r, 10, 0);
	if (lfd < 0)
		return lfd;
	close(lfd);
	return 0;
}

/* GET path from 127.0.0.1:port or addr:port; the body into buf. -errno on failure. */
static int http_get(const char *addr, unsigned short port, const char *path, char *buf,
		    size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[256];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (fd < 0)
		return -errno;
	if (connect(fd, (void *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -EIO;
	}
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	return 0;
}

/* The value of one series (exact name with labels) in an exposition, or -1. */
static double series(const char *text, const char *name)
{
	size_t l = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, l) && p[l] == ' ')
			return strtod(p + l + 1, NULL);
	return -1;
}

/* A local IPv4 address that is not loopback, or 0. */
static in_addr_t outside_addr(void)
{
	struct ifaddrs *ifa, *i;
	in_addr_t a = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i && !a; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !(i->ifa_flags & IFF_LOOPBACK) && (i->ifa_flags & IFF_UP))
			a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return a;
}

/*
 * --metrics-file and --metrics-addr: promtool accepts the text, the
 * numbers equal the summary and what the child did, the endpoint answers on
 * loopback only, and a taken port or an unwritable file is a clear error.
 */
static int t_metrics(void)
{
	char prom[PATH_MAX - 16], portbuf[16], *body = malloc(1 << 20), cmd[PATH_MAX + 64];
	char *extra[] = { "-s", "--metrics-file", prom, "--metrics-addr", portbuf, NULL };
	const char *summary = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	unsigned short port;
	in_addr_t out_addr;
	struct run run;
	int err, pfd;
	double allocs, tw, lat_n, held;

	if (!body)
		return fail("out of memory");
	/* a free port: the kernel's pick, let go just before portlife takes it */
	pfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (pfd < 0 || bind(pfd, (void *)&sa, sizeof(sa)) || getsockname(pfd, (void *)&sa, &sl)) {
		free(body);
		return fail("no free port: %s", strerror(errno));
	}
	port = ntohs(sa.sin_port);
	close(pfd);
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	snprintf(prom, sizeof(prom), "%s/portlife.prom", tmpdir);
	err = start(&run, sc_metrics, "metrics", extra);
	if (!err)
		err = drive(&run);
	/* two refreshes and a TIME_WAIT snapshot */
	sleep_ms(2500);
	if (!err && (err = http_get("127.0.0.1", port, "/metrics", body, 1 << 20)))
		err = fail("GET http://127.0.0.1:%u/metrics: %s", port, strerror(-err));
	if (!err && !strstr(body, "200 OK"))
		err = fail("GET /metrics did not answer 200: %.200s", body);
	/* bound to loopback unless asked: another local address must refuse */
	out_addr = outside_addr();
	if (!err && out_addr) {
		char a[INET_ADDRSTRLEN], tmp[256];
		int e;

		inet_ntop(AF_INET, &out_addr, a, sizeof(a));
		e = http_get(a, port, "/metrics", tmp, sizeof(tmp));
		if (e != -ECONNREFUSED)
			err = fail("the metrics port answered on %s (want connection refused: "
				   "loopback only unless asked): %s", a, e ? strerror(-e) : "it answered");
	}
	/* the port is taken: a second portlife says so and exits */
	if (!err) {
		char *argv[] = { (char *)portlife, "-s", "--metrics-addr", portbuf, NULL };

		err = expect_error(argv, "cannot serve metrics");
	}
	if (!err) {
		char *argv[] = { (char *)portlife, "-s", "-d", "1", "--metrics-file",
				 "/nonexistent-dir/x.prom", NULL };

		err = expect_error(argv, "No such file or directory");
	}
	stop(&run, 500);
	if (!err && !file_has(prom, "# TYPE portlife_allocations_total counter"))
		err = fail("no metrics in %s", prom);
	if (!err) {
		struct stat st;

		if (stat(prom, &st) || (st.st_mode & 0777) != 0644)
			err = fail("%s: want mode 0644 (node_exporter reads it), got %o", prom,
				   st.st_mode & 0777);
	}
	if (!err) {
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s/promtool.txt 2>&1",
			 prom, tmpdir);
		if (system(cmd))
			err = fail("promtool check metrics rejects %s: see %s/promtool.txt (is "
				   "promtool installed? make deps)", prom, tmpdir);
	}
	if (!err) {
		FILE *f = fopen(prom, "r");
		size_t n = f ? fread(body, 1, (1 << 20) - 1, f) : 0;

		body[n] = '\0';
		if (f)
			fclose(f);
	}
	for (int i = 0; !err && i < run.nlines; i++)
		if (is_event(run.lines[i], "summary") && jnum(run.lines[i], "pid") == run.child)
			summary = run.lines[i];
	if (!err && !summary)
		err = fail("no summary for the child");
	allocs = series(body, "portlife_allocations_total{comm=\"livetest\"}");
	tw = series(body, "portlife_time_wait_entered_total{comm=\"livetest\"}");
	lat_n = series(body, "portlife_allocation_latency_seconds_count{comm=\"livetest\"}");
	held = series(body, "portlife_ports_held{comm=\"livetest\"}");
	/* 210 connects and two listeners' bind(0) */
	if (!err && (allocs != jnum(summary, "allocs") || allocs != run.r.nports + 2))
		err = fail("allocations: metrics %.0f, summary %lld, the child made %d (+2 "
			   "listeners)", allocs, jnum(summary, "allocs"), run.r.nports);
	if (!err && (tw != jnum(summary, "tw_entered") || tw != 10))
		err = fail("TIME_WAIT entered: metrics %.0f, summary %lld, want 10", tw,
			   jnum(summary, "tw_entered"));
	if (!err && lat_n != allocs)
		err = fail("allocation latency histogram count %.0f != allocations %.0f", lat_n, allocs);
	if (!err && held != jnum(summary, "held"))
		err = fail("ports held: metrics %.0f, summary %lld", held, jnum(summary, "held"));
	/* the build's version, as --version says it (was "unknown": trace.o had none) */
	if (!err) {
		char *argv[] = { (char *)portlife, "--version", NULL }, vout[PATH_MAX - 16];
		char want[128] = "", line[128] = "";
		FILE *f;

		snprintf(vout, sizeof(vout), "%s/version.txt", tmpdir);
		f = run_capture(argv, vout) ? NULL : fopen(vout, "r");
		if (f && fgets(line, sizeof(line), f))
			snprintf(want, sizeof(want), "portlife_info{version=\"%.*s\",",
				 (int)strcspn(line + 9, "\n"), line + 9);
		if (f)
			fclose(f);
		if (strncmp(line, "portlife ", 9) || !strstr(body, want))
			err = fail("portlife_info does not carry the version --version prints (%s): "
				   "%.160s", line, strstr(body, "portlife_info{") ?: "(none)");
	}
	free(body);
	cleanup(&run);
	return err;
}

/*
 * The namespace pools: a child in a namespace of its own (range
 * 40000-40009) holds 4 connected UDP sockets and a TCP listener on a port
 * bind(0) picked, and reads the metrics file itself while it holds them.
 */
static char pools_prom[PATH_MAX - 16];

static int sc_pools(struct result *r)
{
	char name[128], *text = malloc(1 << 20);
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, AF_INET, 53);
	struct stat st;
	FILE *f;
	size_t n;
	int err, lfd;

	if (!text)
		return -ENOMEM;
	if ((err = own_netns()) ||
	    (err = write_file("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009")))
		return err;
	for (int i = 0; i < 4; i++) {
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (u < 0 || connect(u, (void *)&ss, len))
			return -errno;
	}
	lfd = listener(AF_INET, 0);
	if (lfd < 0 || stat("/proc/self/ns/net", &st))
		return -errno;
	sleep_ms(6000);		/* a socket snapshot of the metrics' (every 5 s) since */
	f = fopen(pools_prom, "r");
	if (!f)
		return -errno;
	n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	for (int k = 0; k < 4; k++) {
		snprintf(name, sizeof(name), "portlife_ephemeral_ports_%s{netns=\"%lu\",proto=\"%s\"}",
			 k & 1 ? "usable" : "in_use", (unsigned long)st.st_ino, k & 2 ? "tcp" : "udp");
		r->kind_n[k] = (int)series(text, name);
	}
	free(text);
	return 0;
}

static int t_metrics_pools(void)
{
	char *extra[] = { "-s", "--metrics-file", pools_prom, NULL };
	struct run run;
	int err, *v = run.r.kind_n;

	snprintf(pools_prom, sizeof(pools_prom), "%s/pools.prom", tmpdir);
	err = start(&run, sc_pools, "metrics_pools", extra);
	if (!err)
		err = drive(&run);
	stop(&run, 300);
	/* UDP: 4 of 10 (the whole range); TCP: the listener, of 10 */
	if (!err && (v[0] != 4 || v[1] != 10 || v[2] != 1 || v[3] != 10))
		err = fail("namespace pools: udp %d of %d, tcp %d of %d; want 4 of 10, 1 of 10",
			   v[0], v[1], v[2], v[3]);
	cleanup(&run);
	return err;
}

LIVE_TEST(metrics, t_metrics, 210, true);
LIVE_TEST(metrics_pools, t_metrics_pools, 211, true);
