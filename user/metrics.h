/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Prometheus text exposition (format 0.0.4) of what the tracer knows, for
 * node_exporter's textfile collector (--metrics-file) or a scrape endpoint
 * (--metrics-addr). Label cardinality is bounded: the top N process names
 * and the top N destinations get series of their own, the rest is summed
 * into one "[other]" series, so a fork storm cannot blow up a TSDB.
 */
#ifndef PORTLIFE_METRICS_H
#define PORTLIFE_METRICS_H

#include <stdio.h>
#include <sys/socket.h>
#include "agg.h"
#include "headroom.h"
#include "http.h"		/* the endpoint that serves the text */
#include "lease.h"
#include "container.h"
#include "output.h"

#define METRICS_TOP_DEFAULT 20

struct metrics_src {
	struct agg *agg;
	struct lease_table *leases;	/* for TIME_WAIT now; may be NULL */
	const struct run_info *ri;
	const struct dest *dv;		/* destinations, fullest first; may be NULL */
	size_t nd;
	const struct bind_room *bv;	/* per netns and protocol pools; may be NULL */
	size_t nb;
	struct nat_view *nat;		/* NAT headroom; may be NULL */
	unsigned int top_n;		/* series per label set before "[other]" */
	bool by_pod;			/* --metrics-by pod: namespace and pod labels, not comm */
	struct container_src ctrs;	/* the pods of cgroups, for by_pod */
	double start_time;		/* wall clock seconds */
	const char *version;
};

/* Writes the whole exposition to f; returns 0 or -errno from f. */
int metrics_render(FILE *f, const struct metrics_src *s);
/*
 * Replaces path with buf atomically (a temporary file in the same directory,
 * fsync, rename): a collector never reads half a file. Returns 0 or -errno.
 */
int metrics_write_file(const char *path, const char *buf, size_t len);
/* Can PATH be written (directory exists, writable)? 0 or -errno; leaves nothing behind. */
int metrics_check_file(const char *path);

/*
 * "PORT", ":PORT", "HOST:PORT" or "[V6]:PORT" into a socket address; a bare
 * port means 127.0.0.1: exposing the endpoint beyond the host is asked for
 * by naming the address. Returns 0 or -EINVAL.
 */
int metrics_parse_addr(const char *s, struct sockaddr_storage *ss);

#endif
