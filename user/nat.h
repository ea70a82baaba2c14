/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ports that NAT takes. A host that source-NATs (MASQUERADE, SNAT) picks a
 * port of its own address for every new outbound flow in nf_nat, per
 * (protocol, destination), not through inet_hash_connect: portlife's socket
 * hooks never see it. conntrack tells it over netlink (ctnetlink): the
 * original tuple (the process's own address and port, the destination) and
 * the reply tuple (the destination, the NAT address and port) at NEW and
 * DESTROY. The original tuple is a lease portlife traced in the process's
 * own namespace, so a translation inherits that lease's owner.
 *
 *   nat.c      the watcher (live): netlink sockets in the watched
 *              namespaces, message parsing, attribution, failures
 *   natview.c  what the records add up to, live and in `report` alike:
 *              NAT headroom per (NAT address, destination), its printing,
 *              --warn
 *
 * Both speak struct pl_nat_rec (tracefile.h), which is also what a trace
 * file keeps.
 */
#ifndef PORTLIFE_NAT_H
#define PORTLIFE_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "lease.h"
#include "tracefile.h"

/* ---- conntrack messages (nat.c) ----------------------------------------- */

enum nat_msg { NAT_CT_OTHER = 0, NAT_CT_NEW, NAT_CT_DESTROY, NAT_CT_DUMPED };

/* One conntrack entry as a ctnetlink message describes it. */
struct nat_ct {
	enum nat_msg msg;
	__u8 family, proto;
	bool has_id, has_status;
	__u32 id;		/* CTA_ID: an opaque hash, not an address (5.1+) */
	__u32 status;		/* IPS_* bits */
	__u8 o_src[16], o_dst[16];	/* original tuple: the process, the destination */
	__u16 o_sport, o_dport;
	__u8 r_src[16], r_dst[16];	/* reply tuple: the destination, the NAT address */
	__u16 r_sport, r_dport;
};

/*
 * Parses one netlink message of ctnetlink (IPCTNL_MSG_CT_NEW or _DELETE):
 * 0 and *ct filled, or -EINVAL for anything malformed (every length is
 * checked: the bytes are the kernel's, but treated as untrusted), -ENOENT
 * for a message of no interest (another subsystem, no tuples, not TCP/UDP).
 */
int nat_ct_parse(const void *msg, size_t len, struct nat_ct *ct);
/* Was the source translated (address or port)? */
bool nat_ct_snat(const struct nat_ct *ct);

/* ---- what the records add up to (natview.c) ----------------------------- */

#define NAT_HOLDERS 3

/* One (NAT netns, protocol, NAT address, destination) and its ports. */
struct nat_dest {
	__u32 nat_netns;
	__u8 family, proto;
	__u16 rport;
	__u8 nat_addr[16], raddr[16];
	__u16 range_lo, range_hi;	/* the range its ports come from */
	__u32 in_use;		/* translations alive now */
	__u32 usable;		/* the range's size */
	__u32 free;
	double used_pct;
	__u64 failures;		/* translations refused: no free port */
	__u64 taken;		/* translations made */
	__u32 prev_in_use;	/* at the last sample, for the growth */
	__u64 prev_ts;
	double growth;		/* ports/s between the last two samples */
	double exhausted_in;	/* seconds at that growth; < 0: not growing */
	struct { __u32 pid; char comm[PL_COMM_LEN]; __u32 n; } top[NAT_HOLDERS];
	__u32 other_holders;	/* ports of holders beyond the top slots */
};

struct nat_view;

/* max_dests: destinations kept (past it, counted in 'dests_dropped'). */
struct nat_view *nat_view__new(size_t max_dests);
void nat_view__free(struct nat_view *v);
/* Fold one record in. */
void nat_view__apply(struct nat_view *v, const struct pl_nat_rec *n);
/* Take a sample at ts: growth and time to exhaustion from the last one. */
void nat_view__sample(struct nat_view *v, __u64 ts);
/* Growth from an earlier view of the same destinations (taken at prev_ts) to now_ts. */
void nat_view__growth_from(struct nat_view *v, struct nat_view *prev, __u64 prev_ts, __u64 now_ts);
/* The destinations, fullest first (a copy to free); *n set. */
struct nat_dest *nat_view__sorted(const struct nat_view *v, size_t *n);
/* Failures known only from conntrack statistics (no tuple), and drops of this view. */
__u64 nat_view__count_only(const struct nat_view *v);
__u64 nat_view__dests_dropped(const struct nat_view *v);
/* Translations (NEW) that no lease matched. */
__u64 nat_view__unattributed(const struct nat_view *v);
/* Was anything NAT seen at all? */
bool nat_view__any(const struct nat_view *v);

/* The remedy for a NAT destination running out of ports. */
const char *nat_dest_remedy(const struct nat_dest *d, char *buf, size_t len);
/*
 * The fullest NAT destinations (at most max) as a table or JSON lines
 * ("event":"nat_headroom"); nothing when there are none and quiet is set.
 */
void nat_print(FILE *f, const struct nat_dest *dv, size_t nd, bool json, size_t max);
/* One line per NAT destination above pct, each at most once a minute (state in v). */
void nat_view__warn(struct nat_view *v, double pct, FILE *f, bool json, __u64 now_ns);
/* Short text for top's panel. */
void nat_dest_line(const struct nat_dest *d, char *buf, size_t len);

/* ---- the watcher (nat.c) -------------------------------------------------- */

#define NAT_MAX_NETNS 8

struct nat_opts {
	const char *netns[NAT_MAX_NETNS];	/* --nat-netns: names, paths or inodes */
	int nnetns;
	bool no_host;		/* do not watch portlife's own namespace */
	__u16 range_lo, range_hi;	/* --nat-range; 0: learn it */
	bool verbose;
};

struct nat_stats {
	__u64 lost;		/* netlink overruns (ENOBUFS): events lost */
	__u64 resyncs;		/* table dumps that followed a loss */
	__u64 drops_lost;	/* failure records the BPF ring had no room for */
	__u64 unattributed;	/* translations no lease matched */
	__u64 untracked;	/* translations past the mapping table's size */
	__u64 insert_failed;	/* conntrack's own count since start, every watched netns */
	bool drop_hook;		/* failures are attributed (BPF on the drop) */
	__u32 netns[NAT_MAX_NETNS];
	int nnetns;
	char range_src[64];	/* where the port range came from */
};

struct nat_watch;
/* Hands out each record, attributed, in the order they are resolved. */
typedef void (*nat_emit_fn)(void *ctx, const struct pl_nat_rec *n);

/*
 * Open the watched namespaces' conntrack event sockets and dump what
 * exists (as PL_NAT_SEEN). leases: the table to attribute from (its flows
 * get indexed). NULL with errno set and *why filled on failure.
 */
struct nat_watch *nat_watch__new(const struct nat_opts *o, struct lease_table *leases,
				 nat_emit_fn emit, void *ctx, char *why, size_t whylen);
void nat_watch__free(struct nat_watch *w);
/*
 * A watcher of messages from elsewhere (tests, replay): namespace inum, no
 * socket, no drop hook; nat_watch__feed() hands it each message.
 */
struct nat_watch *nat_watch__detached(__u32 inum, const struct nat_opts *o,
				      struct lease_table *leases, nat_emit_fn emit, void *ctx);
/* One ctnetlink message of namespace index 0, as if read at now_ns. */
void nat_watch__feed(struct nat_watch *w, const void *msg, size_t len, __u64 now_ns);
/* A record of the drop hook (struct pl_nat_drop), as its ring buffer hands it over. */
int nat_watch__drop(void *w, void *data, size_t len);
/* Read what is pending (non-blocking); resolve the attribution queue. */
void nat_watch__poll(struct nat_watch *w, __u64 now_ns);
/* At the end: read what is left; everything queued goes out, attributed or not. */
void nat_watch__finish(struct nat_watch *w, __u64 now_ns);
/* Once a second: conntrack statistics (failures with no tuple). */
void nat_watch__tick(struct nat_watch *w, __u64 now_ns);
/* A pipeline sink: leases that end are kept a while for late conntrack news. */
void nat_watch__lease_sink(void *ctx, const struct pl_event *e, const struct lease_result *r);
const struct nat_stats *nat_watch__stats(struct nat_watch *w);

/*
 * `portlife ports --headroom`: one dump of the watched namespaces as SEEN
 * records into v, owners from a socket snapshot (may be NULL).
 */
struct snapshot;
int nat_dump(const struct nat_opts *o, const struct snapshot *s, struct nat_view *v,
	     __u64 ts, char *why, size_t whylen);

/* "LO-HI" into a range; 0 or -EINVAL. */
int nat_parse_range(const char *s, __u16 *lo, __u16 *hi);

#endif
