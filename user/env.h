/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Options of the portlife command line, parsed in env.c. */
#ifndef PORTLIFE_ENV_H
#define PORTLIFE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "nat.h"
#include "alerts.h"
#include "pipeline.h"

/* The attach-mode ladder, best first. */
enum pl_mode { MODE_AUTO = 0, MODE_FENTRY, MODE_KPROBE, MODE_TRACEPOINT };

const char *mode_name(enum pl_mode m);

/* The build's version, as --version prints it (metrics' portlife_info). */
extern const char portlife_version[];

struct env {
	struct pipeline_filter filt;	/* -p, -c, -4/-6 */
	const char *cgroup;	/* --cgroup PATH: this cgroup and below */
	double duration;	/* -d seconds, 0 = until Ctrl-C */
	double interval;	/* -i seconds, 0 = summary only at exit */
	double tw_interval;	/* --tw-interval seconds */
	enum pl_mode mode;
	bool json;
	bool summary_only;	/* -s: no per-event lines */
	bool verbose;
	unsigned long max_leases;
	unsigned long ringbuf_kib;
	double warn_pct;	/* --warn: a destination's headroom crossed this, 0 = off */
	const char *record;	/* `portlife record -o FILE`: the trace file */
	const char *metrics_addr;	/* --metrics-addr: serve Prometheus text */
	const char *metrics_file;	/* --metrics-file: write it atomically */
	unsigned long metrics_top;	/* series per label set before "[other]" */
	bool metrics_by_pod;	/* --metrics-by pod */
	const char *kubelet_logs;	/* --kubelet-logs: DIR/pods and DIR/containers */
	bool top;		/* `portlife top` */
	int top_sort;		/* enum top_sort */
	bool top_by_pod;	/* top --pods: a row per pod */
	char filters[128];	/* the filters as text, for the trace header */
	struct nat_opts nat;	/* --nat-netns, --nat-range */
	bool no_nat;		/* --no-nat: do not watch conntrack */
	bool no_syscall_hooks;	/* --no-syscall-hooks: tracepoint mode without sys_exit_bind/connect */
	struct alert_cfg alerts;	/* the security rules: --alert, --no-alerts */
};

/* Parses argv into env; on a bad value prints one line and returns -EINVAL. */
int env_parse(int argc, char **argv, struct env *env);
/* The same for `portlife record`: -o FILE is required, events are not printed. */
int env_parse_record(int argc, char **argv, struct env *env);
/* The same for `portlife top`: a live table instead of event lines. */
int env_parse_top(int argc, char **argv, struct env *env);

#endif
