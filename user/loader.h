/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Getting the BPF programs into the kernel: the preflight checks, the
 * attach-mode ladder (fentry, kprobe, tracepoint: the first that loads,
 * attaches and passes its self-test), the program table that says which
 * program each mode needs, and the socket-table iterators of `ports`.
 */
#ifndef PORTLIFE_LOADER_H
#define PORTLIFE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include "env.h"
#include "snapshot.h"
#include "tracefile.h"

/*
 * The oldest kernel the programs load on, stated once: the docs, --help, the
 * man page and the preflight all say this (tests/pkg/check_floor.sh holds
 * them to it), and the VM tests boot it (tests/vm: Debian 11's 5.10). What
 * sets it: the tcp/udp iterators, bpf_skc_to_tcp_sock() and
 * bpf_skc_to_tcp_timewait_sock() (5.9, "net: bpf: Implement bpf iterator for
 * tcp" and its series); 5.10 is the oldest LTS kernel, and the oldest proven.
 * Below 5.12 the BPF side does without atomic fetch-and-add
 * (lease_id_new()) and the kernel does not count recursion misses (said in
 * the precision line).
 */
#define PL_MIN_KERNEL "5.10"
#define PL_MIN_KERNEL_MAJOR 5
#define PL_MIN_KERNEL_MINOR 10

/*
 * The tracepoint mode alone needs more: bpf_sk_storage_get() (5.11,
 * 8e4597c627fb "bpf: Allow using bpf_sk_storage in FENTRY/FEXIT/RAW_TP")
 * and bpf_get_socket_cookie() (5.12, c5dbb89fc2ac "bpf: Expose
 * bpf_get_socket_cookie to tracing programs") in its tp_btf programs. The
 * loader asks the verifier, not the version; this is what the refusal and
 * the docs name.
 */
#define PL_TP_MIN_KERNEL "5.12"

#define PL_MAX_LINKS 64

/*
 * Probe signals (a SYN or a datagram to a closed port) recorded per CPU and
 * second, at most: a flood must not crowd port leases out of the ring buffer.
 * What is over it is counted as a SIGNAL drop.
 */
#define PL_PROBE_RATE 1000

/*
 * The exact modes' lease map in the kernel: --max-leases / 4 entries, within
 * these bounds, preallocated (a kprobe program may use no other kind on older
 * kernels) at about PL_KERNEL_LEASE_BYTES each. The tracepoint mode keeps a
 * lease in its socket's own storage and needs no map.
 */
#define PL_KERNEL_LEASES_MIN 1024
#define PL_KERNEL_LEASES_MAX 1048576
#define PL_KERNEL_LEASE_BYTES 176
size_t loader__kernel_leases(size_t max_leases);

/* What the tracer asked for: rodata and map sizes, set between open and load. */
struct loader_opts {
	enum pl_mode mode;		/* MODE_AUTO: the ladder */
	__u32 pid;			/* -p */
	int family;			/* -4/-6: AF_INET, AF_INET6 or 0 */
	bool filter_cgroup;		/* --cgroup: the map is filled after load */
	const char *cgroup;		/* --cgroup: where the cgroup programs attach */
	unsigned long ringbuf_kib;
	unsigned long max_leases;
	bool verbose;
	bool signals;			/* the security rules are on: listen signals */
	bool probes;			/* ... and want the probes of closed ports */
	bool no_syscall_hooks;		/* tracepoint mode: leave out the syscall exit tracepoints */
	__u16 test_skip_rport;		/* tests only: PORTLIFE_TEST_SKIP_CLOSE_RPORT (trace.c) */
};

/* The tracer's programs, loaded and attached in one mode. */
struct tracer_bpf {
	struct portlife *skel;
	enum pl_mode mode;
	char precision[256];		/* what this mode times exactly, and what not */
	bool recursion_counted;		/* bpf_prog_info has recursion_misses (5.12+) */
	struct bpf_link *links[PL_MAX_LINKS];
	int nlinks;
	struct bpf_link *tw_iter;	/* tracepoint mode: TIME_WAIT snapshots */
	unsigned int sees;		/* PL_SEES_*: the signals this mode delivers here */
	char signals_note[256];		/* a signal program left out, and why; "" if none */
};

/* The socket-table iterators (their own object): `ports`, `who`, diagnosis. */
struct iters_bpf {
	struct iters *skel;
	struct snapshot_links links;
};

/*
 * Root (or CAP_BPF + CAP_PERFMON) and a kernel with BTF: 0, or -errno after
 * one line on stderr naming the cause and the fix.
 */
int loader__preflight(void);
/*
 * One line on stderr for each capability portlife lacks beyond loading,
 * naming what is lost without it ("who": the command, for the line).
 */
void loader__warn_caps(const char *who);
/* Is capability cap (CAP_* number) effective? */
bool loader__has_cap(int cap);
/*
 * Is a kernel release (uname -r) at least PL_MIN_KERNEL? 0, or -ENOTSUP with
 * the one-line reason in why.
 */
int loader__check_release(const char *release, char *why, size_t whylen);

/*
 * Loads and attaches the tracer in o->mode, or the first mode of the ladder
 * that works. On failure nothing stays loaded, and stderr has said why (for
 * every mode tried, with -v). Returns 0 or -errno.
 */
int loader__load_tracer(struct tracer_bpf *t, const struct loader_opts *o);
void loader__unload_tracer(struct tracer_bpf *t);

/* Loads the iterators; on failure says why on stderr and returns -errno. */
int loader__load_iters(struct iters_bpf *it);
void loader__unload_iters(struct iters_bpf *it);
/*
 * Tracepoint mode's TIME_WAIT lookup program (twlook.bpf.c), or NULL with
 * errno where the kernel refuses it (before 5.17): the iterator then does
 * every snapshot round. Freed with twlook__destroy().
 */
struct twlook;
struct twlook *loader__load_twlook(void);

/*
 * Why a load failed, from libbpf's warnings (loader__note_warning() reads
 * one formatted message): the program the kernel refused and the verifier
 * log's last word, or the map it would not create and why.
 */
struct load_err {
	char prog[64];
	char map[64];
	char reason[200];
};
void loader__note_warning(struct load_err *le, const char *msg);

/* Checks the program table against the object: 0, or -EINVAL naming the mismatch. */
int loader__check_table(char *why, size_t whylen);

#endif
