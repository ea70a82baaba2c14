/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Recent failed allocations, published by a running tracer for `portlife
 * who` (another process) to read: FAILS_DIR/PID.failures, replaced whole
 * every second at most.
 *
 *   magic "PLFAIL2\0" | pid u32 | pad u32 | start time u64 (the writer's
 *   /proc/PID/stat starttime, so a reused pid is told apart) | wall offset
 *   u64 | struct pl_event records (failed ALLOCs, oldest first)
 *
 * The reader trusts nothing in it: exact sizes, the magic, and a writer that
 * is still the same live process.
 */
#ifndef PORTLIFE_FAILURES_H
#define PORTLIFE_FAILURES_H

#include <stdbool.h>
#include <linux/types.h>
#include "portlife.h"

struct lease_result;

#define FAILS_DIR "/run/portlife"
#define FAILS_MAGIC "PLFAIL2"	/* 8 bytes with its NUL */
#define FAILS_RING 256

struct fails_hdr {
	char magic[8];
	__u32 pid;
	__u32 pad;
	__u64 start_time;	/* clock ticks after boot, /proc/PID/stat field 22 */
	__u64 wall_off_ns;	/* add to a record's ts_ns for wall-clock time */
};

struct failures {
	struct pl_event ring[FAILS_RING];
	unsigned int n;		/* ever added; the ring keeps the last FAILS_RING */
	bool dirty;
	bool verbose;
	__u64 wall_off_ns;
};

/* A pipeline sink: keeps failed allocations (ctx: struct failures). */
void failures__sink(void *ctx, const struct pl_event *e, const struct lease_result *r);
/* Writes the file if something changed since the last time (temp file + rename). */
void failures__publish(struct failures *f);
/* Removes our file: a clean exit leaves nothing for `who` to trust. */
void failures__unpublish(void);

/*
 * Calls fn for every failed allocation on lport that a live tracer published.
 * 'tracer' is the publishing tracer's pid.
 */
typedef void (*failure_fn)(void *ctx, __u32 tracer, const struct pl_event *e, __u64 wall_off);
void failures__read(__u16 lport, failure_fn fn, void *ctx);

/* /proc/PID/stat starttime of pid, 0 if it is gone or unreadable. */
__u64 proc_start_time(__u32 pid);

#endif
