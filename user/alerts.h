/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Suspicious port activity: four rules over the event stream, a pipeline
 * sink fed by events alone. Their clock is the events' own timestamps, never
 * the wall, so `report` raises the same alerts from a recording, with the
 * same numbers, as live tracing did.
 *
 *   scan_out          a process whose connect()s reach many distinct
 *                     (address, port) pairs in a window, mostly refused or
 *                     unanswered
 *   scan_in           one source probing many closed ports of this host
 *                     (SYNs answered with RST, datagrams with ICMP port
 *                     unreachable: SIGNAL events)
 *   alloc_burst       a process allocating ports far above its own baseline
 *   listen_ephemeral  a TCP listener on a port inside ip_local_port_range
 *
 * Every rule's state is bounded: fixed windows, at most ALERT_PROCS
 * processes and ALERT_SOURCES sources (least recently seen evicted), sets of
 * destinations or ports no larger than their thresholds need, and a memory
 * budget over all of them.
 */
#ifndef PORTLIFE_ALERTS_H
#define PORTLIFE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "lb.h"
#include "lease.h"

enum alert_rule { AR_SCAN_OUT, AR_SCAN_IN, AR_ALLOC_BURST, AR_LISTEN_EPHEMERAL, AR_MAX };

/* Thresholds; alert_cfg_default() sets the documented defaults. */
struct alert_cfg {
	bool on[AR_MAX];
	unsigned int so_window;		/* scan_out: seconds */
	unsigned int so_dests;		/* distinct destinations refused or unanswered */
	unsigned int so_failed_pct;	/* of the connects that got an answer or gave up */
	unsigned int si_window;		/* scan_in: seconds */
	unsigned int si_ports;		/* distinct closed ports one source probed */
	unsigned int ab_factor;		/* alloc_burst: times the baseline */
	unsigned int ab_min;		/* allocations in one second, at least */
	unsigned int ab_learn;		/* seconds of history before a baseline counts */
};

/* The names --alert takes, for --help and errors. */
#define ALERT_RULE_NAMES "scan_out, scan_in, alloc_burst, listen_ephemeral"

/*
 * The argp entries of --alert and --no-alerts (keys: the command's own), for
 * every command that runs the rules: live tracing, record, top, report.
 */
#define OPTS_ALERTS(key_alert, key_none)						\
	{ "alert", key_alert, "RULE:KEY=N,...", 0,					\
	  "Change a security rule's thresholds, or RULE=off / RULE=on; repeatable. "	\
	  "scan_out: window=10 (s), dests=100, failed=80 (percent); scan_in: window=10, "	\
	  "ports=20; alloc_burst: factor=10, min=200 (a second), learn=10 (s); "	\
	  "listen_ephemeral: on or off", 0 },						\
	{ "no-alerts", key_none, NULL, 0, "Turn the security rules off", 0 }

void alert_cfg_default(struct alert_cfg *c);
/*
 * One --alert argument: "RULE=off", "RULE=on", or "RULE:KEY=N[,KEY=N...]"
 * (which also turns RULE on). 0, or -EINVAL after one line on stderr.
 */
int alert_cfg_parse(struct alert_cfg *c, const char *arg);
/* --no-alerts */
void alert_cfg_off(struct alert_cfg *c);
bool alert_cfg_any(const struct alert_cfg *c);

const char *alert_rule_name(enum alert_rule r);
const char *alert_severity(enum alert_rule r);

#define ALERT_SAMPLES 5		/* sample destinations, sources or ports per alert */
#define ALERT_PROCS 4096	/* processes the rules follow at once */
#define ALERT_SOURCES 4096	/* probing sources scan_in follows at once */
#define ALERT_KEEP 32		/* alerts listed in the summary */
#define ALERT_PRINT_RATE 20	/* alerts printed per rule and minute, at most */
#define ALERT_BURST_HISTORY 60	/* alloc_burst: seconds of history in the baseline */
#define ALERT_COOLDOWN_NS (60ULL * 1000000000ULL)	/* alloc_burst, listen_ephemeral */
#define ALERT_SET_BUDGET (1UL << 20)	/* slots of every set together: ~20 MiB at most */

/* A destination, a source or a closed port. */
struct alert_sample {
	__u8 family;		/* 0: a port alone (proto/port) */
	__u8 proto;
	__u16 port;
	__u8 addr[16];
};

struct alert {
	enum alert_rule rule;
	__u64 ts_ns;		/* of the event that raised it */
	__u64 window_ns;
	__u32 pid;		/* 0 for scan_in: the kernel answered, no process */
	__u32 netns;
	__u64 cgroup_id;
	char comm[PL_COMM_LEN];
	union {
		struct {
			__u32 connects;		/* connect()s in the window */
			__u32 dests;		/* distinct destinations refused or unanswered */
			__u32 failed;		/* connects that failed (SYN_SENT -> CLOSE) */
			__u32 answered;		/* connects that were answered (ESTABLISHED) */
		} so;
		struct {
			struct alert_sample src;	/* family and addr: the prober */
			__u32 probes, ports, tcp, udp;
		} si;
		struct {
			__u32 count;		/* allocations in this second */
			__u64 past;		/* allocations in the history before it */
			__u32 history;		/* seconds of history */
		} ab;
		struct {
			struct alert_sample at;	/* family, addr, port: where it listens */
			__u16 lo, hi;		/* ip_local_port_range; 0-0 unknown */
			bool bound;		/* the port was given to bind() */
		} le;
	};
	int nsamples;
	struct alert_sample samples[ALERT_SAMPLES];
};

struct alerts;

/*
 * The engine. Alerts are printed to f as they are raised when lines is set
 * ("!!" lines, or JSON "alert" lines with json), with wall-clock times of
 * event time + wall_off.
 */
struct alerts *alerts__new(const struct alert_cfg *cfg, FILE *f, bool json, bool lines);
void alerts__free(struct alerts *a);
void alerts__set_wall_off(struct alerts *a, __u64 wall_off);
/* The host the JSON lines name (a pointer kept: report fills it from each trace's header). */
void alerts__set_host(struct alerts *a, const char *host);
/*
 * What the tracer could see (PL_SEES_*), for the summary's note on what the
 * rules missed; known false (a trace older than format 4): nothing of it.
 */
void alerts__set_sees(struct alerts *a, unsigned int sees, bool known);
/* A pipeline sink (ctx: struct alerts). */
void alerts__sink(void *ctx, const struct pl_event *e, const struct lease_result *r);
/* The summary's section: counts by rule, the alerts kept, what was not seen. */
void alerts__summary(const struct alerts *a, FILE *f, bool json);

/* Alerts raised by rule r (printed or not): portlife_alerts_total. */
__u64 alerts__count(const struct alerts *a, enum alert_rule r);
__u64 alerts__total(const struct alerts *a);
/* Did pid raise an alert lately (the last 64 alerts printed)? For top's marker. */
bool alerts__pid_alerted(const struct alerts *a, __u32 pid);
/* The alerts kept for the summary (the first ALERT_KEEP printed). */
const struct alert *alerts__kept(const struct alerts *a, size_t *n);
/* What the rules hold now, and what their bounds made them let go of. */
struct alerts_stats {
	size_t procs, sources;		/* followed now */
	size_t set_entries;		/* destination and port set slots allocated */
	__u64 evicted;			/* processes and sources let go of (tables full) */
	__u64 untracked;		/* set entries the memory budget refused */
	__u64 unrecorded;		/* probes over the kernel's rate limit (not itemized) */
	__u64 not_printed, not_listed;	/* alerts over the print rate, past the summary's list */
};
void alerts__stats(const struct alerts *a, struct alerts_stats *s);

/*
 * What a tracer that sees 'sees' (PL_SEES_*) cannot see of what the rules
 * on in c use, as one line for people ("" when nothing). known false: a
 * trace from before signals existed.
 */
const char *alerts_blind_spots(const struct alert_cfg *c, unsigned int sees, bool known,
			       char *buf, size_t len);

#endif
