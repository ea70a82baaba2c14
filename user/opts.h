/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Option parsing the commands share: the one-line error for a bad value, and
 * the filters (-p, -c, -4, -6) that live tracing, record, top and report all
 * take with the same meaning and the same checks.
 */
#ifndef PORTLIFE_OPTS_H
#define PORTLIFE_OPTS_H

#include <argp.h>
#include "pipeline.h"

/* "portlife: invalid OPT 'ARG': WANT" on stderr; returns -EINVAL for argp. */
int opt_bad(const char *opt, const char *arg, const char *want);

/* A process id from 1 to the kernel's maximum (4194304). */
int opt_pid(const char *arg, unsigned long *pid);

/*
 * On this host, now: -EINVAL (said) when pid is a thread's id, not its
 * process's; 0 otherwise (a pid with no process is said, not refused).
 */
int opt_pid_is_process(unsigned int pid);

/* Keys of the container filters: above every command's own (0x100 on). */
enum { OPT_F_CONTAINER = 0x1000, OPT_F_POD, OPT_F_NAMESPACE };

/* The argp entries of the filters, with 'whose' saying what -p selects. */
#define OPTS_FILTER(whose)								\
	{ "pid", 'p', "PID", 0, whose, 0 },						\
	{ "comm", 'c', "COMM", 0, "Only processes with this name (exact, at most 15 chars; the process's, as ps shows it, whichever of its threads made the call)", 0 }, \
	{ "ipv4", '4', NULL, 0, "Only IPv4 traffic, an IPv6 socket's on v4-mapped addresses "	\
	  "(a JVM's IPv4 connections) included", 0 },						\
	{ "ipv6", '6', NULL, 0, "Only IPv6 traffic", 0 },					\
	OPTS_CONTAINER_FILTER

/* --container, --pod, --namespace: also for ports and who. */
#define OPTS_CONTAINER_FILTER								\
	{ "container", OPT_F_CONTAINER, "ID|NAME", 0,					\
	  "Only this container: an id or its first 12+ hex digits, its name in its pod, "	\
	  "or a systemd unit (NAME.service)", 0 },					\
	{ "pod", OPT_F_POD, "NAME", 0, "Only this Kubernetes pod (names come from the kubelet's " \
	  "files: see --kubelet-logs)", 0 },						\
	{ "namespace", OPT_F_NAMESPACE, "NS", 0, "Only pods of this Kubernetes namespace", 0 }

/*
 * Parses key if it is one of the filters into f: 0, -EINVAL after saying
 * why, or ARGP_ERR_UNKNOWN for any other key.
 */
error_t opt_filter(int key, const char *arg, struct pipeline_filter *f);
/* The same for the container filters alone. */
error_t opt_container_filter(int key, const char *arg, struct container_filter *f);

/* The filters as text ("pid=42 comm=curl ipv4 pod=web-0"), for a trace file's header. */
void opt_filter_describe(const struct pipeline_filter *f, char *buf, size_t len);

#endif
