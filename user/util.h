/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small formatting helpers shared by every output. */
#ifndef PORTLIFE_UTIL_H
#define PORTLIFE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

/* "EADDRINUSE" for 98; "E123" for numbers it does not know. */
const char *errno_name(int err, char *buf, size_t len);
/* Kernel TCP state name ("ESTABLISHED"), "?" when out of range. */
const char *tcp_state_name(int state);
/* "tcp4", "udp6": a protocol and its family, as the PROTO columns show them. */
const char *proto_family_str(int proto, int family);
/* Printable address: "10.0.0.1" or "::1". */
const char *addr_str(int family, const __u8 addr[16], char *buf, size_t len);
/* ::ffff:a.b.c.d: an IPv6 socket's IPv4 address. */
bool addr_v4mapped(const __u8 addr[16]);
/* 127.0.0.0/8, ::1 or ::ffff:127.x.y.z: an address of the loopback device. */
bool addr_loopback(int family, const __u8 addr[16]);
/* "10.0.0.1:80" or "[::1]:80". */
const char *endpoint_str(int family, const __u8 addr[16], __u16 port, char *buf, size_t len);
/* Human duration with a unit: "850ns", "12.3us", "4.00ms", "61.2s". */
const char *dur_str(__u64 ns, char *buf, size_t len);
/* Copy an untrusted 16-byte comm for a terminal: non-printables become '?'. */
void comm_sanitize(const char *comm, size_t n, char *out, size_t outlen);
/*
 * comm_sanitize() for a list of "comm/pid:ports" joined by commas (the
 * headroom tables' holders): a comma in a name becomes '?' too, so a
 * process cannot add a holder of its own making to the list.
 */
void holder_comm(const char *comm, char *out, size_t outlen);
/*
 * Any untrusted string (a cgroup path, a trace file's hostname) made safe for
 * a terminal as comm_sanitize() does; s and buf may be the same. Returns buf.
 */
const char *safe_str(const char *s, char *buf, size_t len);
/* CLOCK_MONOTONIC now, in ns (the clock bpf_ktime_get_ns() uses). */
__u64 mono_ns(void);
/* Offset to add to a monotonic ns stamp to get wall-clock ns. */
__u64 mono_to_wall_offset(void);
/* "12:01:02.345" local time, or ISO 8601 UTC with "iso". */
const char *wall_str(__u64 wall_ns, int iso, char *buf, size_t len);
/*
 * wall_str() without the fraction: "12:01:02" or "2026-11-27T12:01:02",
 * converted once a second (per thread); *len set when len is not NULL.
 */
const char *wall_secs(__u64 wall_ns, int iso, size_t *len);

/*
 * The running kernel's CONFIG_HZ from /boot/config-$(uname -r) or
 * /proc/config.gz, or 0 if neither is there.
 */
unsigned int kernel_hz(void);

/*
 * /proc/PID/stat read into buf: the fields after the process name (from the
 * state on), or NULL. The name may hold spaces and parentheses: they start
 * after its last ')'.
 */
const char *proc_stat_fields(unsigned int pid, char *buf, size_t len);

/* Strict number parsing for options: 0 on success, -EINVAL/-ERANGE otherwise. */
int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* Seconds with an optional fraction ("0.5", "2"): 0 on success. */
int parse_seconds(const char *s, double min, double max, double *out);

/*
 * The end of a command that wrote stdout: 0, or 1 after a one-line error
 * naming what was being written. A closed pipe (`portlife report T | head`)
 * is a normal stop, as in live tracing: SIGPIPE is ignored (main()), the
 * write fails with EPIPE, and nothing is said.
 */
int out_finish(const char *what);
/* Is the reader of stdout gone (a closed pipe or socket)? */
bool stdout_reader_gone(void);

#endif
