/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The trace file of `portlife record`, read back by `portlife report`.
 *
 *   header   magic "PLTRACE\0", version, sizes, host, kernel, mode and
 *            precision, filters, the monotonic-to-wall-clock offset
 *   records  "PLRE" + struct pl_event + CRC-32 of both
 *            "PLCG" + struct pl_cgroup_rec + its path + CRC-32 (version 2+):
 *            the path of a cgroup id, before the first event that names it,
 *            so that `report` elsewhere shows the recording host's paths
 *            "PLCN" + struct pl_cgroup_rec + "namespace\0pod\0container" +
 *            CRC-32 (version 4+): the Kubernetes names of a cgroup id, once
 *            the recording host's kubelet files told them (names are not in
 *            the path, and the kubelet's files stay on that host)
 *            "PLNT" + struct pl_nat_rec + CRC-32 (version 5+): a NAT port
 *            taken, refused or given back, already attributed
 *            "PLCK" + struct pl_clock_rec + CRC-32 (version 7+): the wall
 *            clock stepped (NTP's first sync, a VM resumed, date set by
 *            hand): the offset from then on
 *   trailer  "PLEN" + struct pl_file_trailer + CRC-32 (drops, end time)
 *
 * The writer only ever write()s whole records, so a recorder killed at any
 * moment leaves a file readable up to its last complete record (just no
 * trailer). The reader treats the file as untrusted: every size is checked,
 * every record's CRC too, and each problem is reported with its offset. It
 * streams through a fixed window, so its memory does not grow with the file.
 */
#ifndef PORTLIFE_TRACEFILE_H
#define PORTLIFE_TRACEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "portlife.h"

#define PL_FILE_MAGIC "PLTRACE"	/* 8 bytes with its NUL */
#define PL_FILE_VERSION 8		/* 2: cgroup paths; 3: a wider trailer; 4: pod names;
					 * 5: NAT records; 6: SIGNAL events, hdr.flags;
					 * 7: clock steps; 8: a NAT record's destination is
					 * the one after DNAT (PL_NATF_DNAT) */
#define PL_REC_MAGIC 0x45524c50u	/* "PLRE" */
#define PL_CG_MAGIC 0x47434c50u		/* "PLCG" */
#define PL_CN_MAGIC 0x4e434c50u		/* "PLCN" */
#define PL_END_MAGIC 0x4e454c50u	/* "PLEN" */
#define PL_NAT_MAGIC 0x544e4c50u	/* "PLNT" */
#define PL_CK_MAGIC 0x4b434c50u		/* "PLCK" */
#define PL_CGPATH_MAX 4095		/* a cgroup path in a trace, at most */
#define PL_CGNAME_MAX 253		/* a pod name (DNS-1123 subdomain), the longest name */
#define PL_CGNAMES_MAX (3 * (PL_CGNAME_MAX + 1))	/* a names record's data, with room */

/*
 * pl_file_hdr.flags (format 6+), and what a loaded tracer can see
 * (tracer_bpf.sees): the signals its mode on its kernel delivers, so that a
 * report can say what its alerts could not have seen.
 */
#define PL_SEES_LISTEN		0x01	/* listen() (listen_ephemeral) */
#define PL_SEES_TCP4		0x02	/* SYNs to closed TCP ports, IPv4 (scan_in) */
#define PL_SEES_TCP6		0x04	/* ... IPv6 */
#define PL_SEES_UDP4		0x08	/* datagrams to closed UDP ports, IPv4 (scan_in) */
#define PL_SEES_UDP6		0x10	/* ... IPv6 */
#define PL_SEES_UDP_LIMITED	0x20	/* only those the kernel's ICMP rate limits answered */

struct pl_file_hdr {
	char magic[8];
	__u32 version;
	__u32 hdr_size;		/* sizeof(struct pl_file_hdr) of the writer */
	__u32 rec_size;		/* sizeof(struct pl_event) of the writer */
	__u32 flags;		/* PL_SEES_* */
	__u64 wall_off_ns;	/* add to a record's ts_ns for wall-clock time */
	__u64 start_ns;		/* CLOCK_MONOTONIC at the start */
	char hostname[64];
	char release[64];	/* uname -r */
	char mode[16];		/* attach mode */
	char precision[256];
	char filters[128];	/* the command line's filters, as text */
};

/*
 * A cgroup path or names record's fixed part; len bytes of path (or of the
 * three names, each but the last ended by a NUL) follow, with no final NUL.
 */
struct pl_cgroup_rec {
	__u64 id;		/* cgroup v2 id, as events carry it */
	__u32 len;		/* of the path: 0 (gone before it was looked up) to PL_CGPATH_MAX */
	__u32 pad;		/* zero */
};
_Static_assert(sizeof(struct pl_cgroup_rec) == 16, "pl_cgroup_rec is the file's");

/*
 * A NAT port's life as conntrack tells it (user/nat.c), attributed to the
 * process whose own lease is the entry's original tuple. Not a ring buffer
 * event: it comes from netlink. Fixed-width, every pad named and zero.
 */
enum pl_nat_kind {
	PL_NAT_NEW = 1,		/* a translation: nat_addr:nat_port taken for this flow */
	PL_NAT_FAIL = 2,	/* a translation failed: no free NAT port, the packet dropped */
	PL_NAT_END = 3,		/* the conntrack entry ended: the NAT port is free again */
	PL_NAT_SEEN = 4,	/* a translation that existed when tracing began */
	PL_NAT_MAX = 5,
};

/* pl_nat_rec.flags */
#define PL_NATF_OWNED		0x1	/* pid, comm, cgroup, netns: the lease of the original tuple */
#define PL_NATF_COUNT_ONLY	0x2	/* FAIL known from conntrack statistics only: no tuple */
#define PL_NATF_END_LOST	0x4	/* END found by a resync after lost events: no hold time */
#define PL_NATF_WAS_SEEN		0x8	/* END of a translation older than tracing: no hold time */
#define PL_NATF_NO_CLASH	0x10	/* FAIL: dropped with its NAT port free for that destination
					 * (no translation held it): a rule's drop after NAT, not
					 * exhaustion */
#define PL_NATF_SAME_FLOW	0x20	/* FAIL: clashed with its own flow's entry (an insert race of
					 * two first packets): insert_failed, not exhaustion */
#define PL_NATF_DNAT		0x40	/* raddr:rport, the destination nf_nat took the port for,
					 * is the flow's own after a DNAT (a Kubernetes Service's
					 * pod): the process connected elsewhere (format 8) */
#define PL_NATF_ALL		0x7f

struct pl_nat_rec {
	__u8 kind;		/* enum pl_nat_kind */
	__u8 family;		/* 2 or 10 (0 for a COUNT_ONLY failure) */
	__u8 proto;		/* 6 or 17 (0 for a COUNT_ONLY failure) */
	__u8 flags;		/* PL_NATF_* */
	__u16 lport;		/* the process's own port: the original tuple's source */
	__u16 rport;		/* the destination's port (after DNAT: PL_NATF_DNAT) */
	__u16 nat_port;		/* the translated source port (FAIL: the one that clashed) */
	__u16 pad;		/* zero */
	__u32 pid;		/* owner, 0 if no lease matched */
	__u32 netns;		/* the owner's netns, 0 if unknown */
	__u32 nat_netns;	/* where the translation happened */
	__u32 n;		/* FAIL: failures this record stands for (1, more for COUNT_ONLY) */
	__u16 range_lo;		/* the NAT port range counted against */
	__u16 range_hi;
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 cgroup_id;
	__u64 hold_ns;		/* END: NEW -> END (0 when the NEW was not seen) */
	__u8 laddr[16];		/* the process's own address (IPv4 in the first 4 bytes) */
	__u8 raddr[16];		/* the destination, whose NAT ports nf_nat picks from: the
				 * reply tuple's source (format 8; the original tuple's
				 * before, the same but after a DNAT) */
	__u8 nat_addr[16];	/* the translated source address */
	char comm[PL_COMM_LEN];
};
_Static_assert(sizeof(struct pl_nat_rec) == 120, "pl_nat_rec is the trace file's record");

/*
 * The wall clock stepped: records from ts_ns on (CLOCK_MONOTONIC, as theirs)
 * take wall_off_ns instead of the header's, or the previous step's.
 */
struct pl_clock_rec {
	__u64 ts_ns;
	__u64 wall_off_ns;
};
_Static_assert(sizeof(struct pl_clock_rec) == 16, "pl_clock_rec is the trace file's record");

/*
 * Room for an event type to come, so a new one does not change the trailer
 * again; the whole trailer stays smaller than a record, so that after a full
 * disk the trailer fits where a record no longer did.
 */
#define PL_TRAILER_DROPS 8
/* Its last slot (version 4+): conntrack events lost to netlink overruns (user/nat.c). */
#define PL_TRAILER_NAT_LOST (PL_TRAILER_DROPS - 1)
/*
 * Its first slot, which no event type has (version 6+): SIGNAL drops, the
 * type that came after the last slot was the NAT watcher's. Use
 * trailer_put_drops() and trailer_get_drops(), never the slots directly.
 */
#define PL_TRAILER_SIGNAL_DROPS 0
_Static_assert(PL_EV_SIGNAL == PL_EV_MAX - 1 && PL_EV_SIGNAL == PL_TRAILER_NAT_LOST,
	       "the trailer counts drops of every event type, SIGNAL's in slot 0");

struct pl_file_trailer {
	__u64 end_ns;
	__u64 records;
	__u64 drops[PL_TRAILER_DROPS];	/* ring buffer drops by event type */
	__u64 recursion_misses;	/* PL_NOT_COUNTED (all ones): the kernel does not count them */
	__u64 write_errors;
	__u64 untracked;	/* leases the kernel could not track: its lease map was full */
};
_Static_assert(sizeof(struct pl_file_trailer) == 104, "the trailer is the file's");
_Static_assert(sizeof(struct pl_file_trailer) < sizeof(struct pl_event), "a trailer fits where a record did not");

/* Drops by event type into a trailer's slots (the NAT slot untouched). */
static inline void trailer_put_drops(struct pl_file_trailer *t, const __u64 drops[PL_EV_MAX])
{
	for (int i = 1; i < PL_EV_SIGNAL; i++)
		t->drops[i] = drops[i];
	t->drops[PL_TRAILER_SIGNAL_DROPS] = drops[PL_EV_SIGNAL];
}

/* ... and back, from a trailer of format version (older ones had no SIGNAL). */
static inline void trailer_get_drops(const struct pl_file_trailer *t, __u32 version,
				     __u64 drops[PL_EV_MAX])
{
	drops[0] = 0;
	for (int i = 1; i < PL_EV_SIGNAL; i++)
		drops[i] = t->drops[i];
	drops[PL_EV_SIGNAL] = version >= 6 ? t->drops[PL_TRAILER_SIGNAL_DROPS] : 0;
}

/* The trailer of format versions 1 and 2: six event types, nothing after write_errors. */
struct pl_file_trailer_v2 {
	__u64 end_ns;
	__u64 records;
	__u64 drops[6];
	__u64 recursion_misses;
	__u64 write_errors;
};

/* A record and the trailer as stored: magic, body, CRC-32 of both. */
#define TRACEFILE_REC_BYTES (4 + sizeof(struct pl_event) + 4)
#define TRACEFILE_END_BYTES (4 + sizeof(struct pl_file_trailer) + 4)
#define TRACEFILE_NAT_BYTES (4 + sizeof(struct pl_nat_rec) + 4)
#define TRACEFILE_CK_BYTES (4 + sizeof(struct pl_clock_rec) + 4)

void tracefile_frame_record(unsigned char out[TRACEFILE_REC_BYTES], const struct pl_event *e);
void tracefile_frame_trailer(unsigned char out[TRACEFILE_END_BYTES],
			     const struct pl_file_trailer *t);

struct tracefile_writer;

/* Create path (0600; never follows a symlink, never overwrites). */
struct tracefile_writer *tracefile_create(const char *path, const struct pl_file_hdr *hdr);
/*
 * Append one record; -errno on a write error. The file keeps every whole
 * record that fit, and after an error no record is accepted any more (a
 * trace with a hole in the middle would read back as complete).
 */
int tracefile_write(struct tracefile_writer *w, const struct pl_event *e);
/* Append the path of cgroup id (NULL or "": not known); as tracefile_write. */
int tracefile_write_cgroup(struct tracefile_writer *w, __u64 id, const char *path);
/* Append the Kubernetes names of cgroup id ("" for one not known); as tracefile_write. */
int tracefile_write_names(struct tracefile_writer *w, __u64 id, const char *ns, const char *pod,
			  const char *container);
/* Append one NAT record; as tracefile_write. */
int tracefile_write_nat(struct tracefile_writer *w, const struct pl_nat_rec *n);
/* Append a clock step: from ts_ns on, wall_off_ns; as tracefile_write. */
int tracefile_write_clock(struct tracefile_writer *w, __u64 ts_ns, __u64 wall_off_ns);
/* Write out the buffered records (the main loop does it every poll). */
int tracefile_flush(struct tracefile_writer *w);
/*
 * Flush, write the trailer, fsync, close; frees w. Returns the first error,
 * earlier ones included. The trailer's records and write_errors are set
 * here, from what reached the file. After an error in this call's own flush
 * no trailer is written; after an earlier one it is, if it fits.
 */
int tracefile_close(struct tracefile_writer *w, const struct pl_file_trailer *t);
/*
 * Records in the file once the buffer is written. After a write error that
 * is exactly the whole records the file holds: the buffer is gone and
 * nothing more is accepted.
 */
__u64 tracefile_written(const struct tracefile_writer *w);
/* Bytes buffered, not yet written: tracefile_flush() would write them. */
size_t tracefile_buffered(const struct tracefile_writer *w);

/* What reading found. */
struct tracefile_info {
	struct pl_file_hdr hdr;
	struct pl_file_trailer trailer;
	bool has_trailer;
	__u64 records;		/* valid records read */
	__u64 skipped_bytes;	/* --salvage: bytes of damage skipped */
	__u64 damaged;		/* --salvage: places where damage was found */
	char error[256];	/* the first problem, with its offset; empty if none */
};

typedef void (*tracefile_fn)(void *ctx, const struct pl_event *e);
/*
 * A cgroup record. TRACEFILE_CG_PATH: a[0] is the path. TRACEFILE_CG_NAMES:
 * a[0..2] are the namespace, pod and container names. Each is NUL-terminated
 * and holds the bytes as the file has them (untrusted: validate before use).
 */
enum tracefile_cg_kind { TRACEFILE_CG_PATH, TRACEFILE_CG_NAMES };
typedef void (*tracefile_cgroup_fn)(void *ctx, __u64 id, enum tracefile_cg_kind kind,
				    const char *const a[3]);

/*
 * Read a whole trace from f, calling fn for each valid record as it is read;
 * info->hdr is filled in before the first call. f must be a regular file (a
 * device, FIFO or directory is refused before anything is read) or a memory
 * stream. Without salvage the first problem stops the read: returns -EINVAL
 * with info->error set. With salvage, damage is skipped (resyncing on the
 * next record or trailer magic) and counted. A missing trailer is not an
 * error (the recorder was stopped hard) but leaves has_trailer false.
 * -EIO on a read error, -ENOMEM if the window cannot be allocated.
 */
int tracefile_read(FILE *f, bool salvage, tracefile_fn fn, void *ctx, struct tracefile_info *info);

/* The reader's window: its memory, whatever the file's size. */
#define TRACEFILE_WINDOW (64 * 1024)
/*
 * tracefile_read with another window size (raised to the largest framed
 * unit, the header): tests use small ones to put every record astride a
 * window boundary.
 */
int tracefile_read_window(FILE *f, size_t window, bool salvage, tracefile_fn fn, void *ctx,
			  struct tracefile_info *info);
/* A NAT record, checked (kind, family, proto, flags, pads) and comm NUL-ended. */
typedef void (*tracefile_nat_fn)(void *ctx, const struct pl_nat_rec *n);
/*
 * Is an event's content possible (type, family, TCP or UDP, errno)? The
 * reader's check: the tracer passes on nothing that fails it.
 */
bool tracefile_event_sane(const struct pl_event *e);
/* Is a NAT record's content possible? (the reader's check, for tests too) */
bool tracefile_nat_sane(const struct pl_nat_rec *n);

/* tracefile_read, with cgroup path and names records handed to cg (may be NULL). */
int tracefile_read_all(FILE *f, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg, void *ctx,
		       struct tracefile_info *info);
/* tracefile_read_all, with NAT records handed to nat (may be NULL: skipped). */
int tracefile_read_nat(FILE *f, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg,
		       tracefile_nat_fn nat, void *ctx, struct tracefile_info *info);
/* A clock step, as the file has it. */
typedef void (*tracefile_clock_fn)(void *ctx, const struct pl_clock_rec *c);
/* tracefile_read_nat, with clock steps handed to clock (may be NULL: skipped). */
int tracefile_read_clock(FILE *f, bool salvage, tracefile_fn fn, tracefile_cgroup_fn cg,
			 tracefile_nat_fn nat, tracefile_clock_fn clock, void *ctx,
			 struct tracefile_info *info);

#endif
