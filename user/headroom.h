/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Port headroom from a snapshot. connect() picks a local port per
 * destination (RFC 6056 algorithm 4 in __inet_hash_connect): a port is usable
 * for a destination unless that 4-tuple is taken, it is reserved, or bind()
 * holds it. So exhaustion is per (netns, local address, remote address,
 * remote port), and TIME_WAIT sockets count, since they hold their 4-tuple.
 */
#ifndef PORTLIFE_HEADROOM_H
#define PORTLIFE_HEADROOM_H

#include <stdio.h>
#include "snapshot.h"

struct dest {
	__u32 netns;
	__u8 family;
	__u8 laddr[16], raddr[16];
	__u16 rport;
	__u32 in_use;		/* ephemeral-range ports used to this destination */
	__u32 time_wait;	/* of which in TIME_WAIT */
	__u32 tw_reusable;	/* of those, what the next connect() may take over (tcp_tw_reuse) */
	__u32 tw_reuse_on;	/* of the TIME_WAIT ones, those tcp_tw_reuse covers (when old enough) */
	__u32 usable;		/* range - reserved - ports held by bind() */
	__u32 free;		/* usable - in_use, the reusable TIME_WAIT ones counted free */
	double used_pct;
	double growth;		/* ports/s between two snapshots (0: one snapshot) */
	double exhausted_in;	/* seconds at that growth; < 0: not growing */
	/* top holders */
	struct { __u32 pid; char comm[PL_COMM_LEN]; __u32 n, tw; } top[3];
};

/*
 * bind(0) headroom of one netns and protocol: any port in the range no socket
 * of that protocol uses at all. TCP and UDP keep port tables of their own.
 * For UDP it is also the room of every automatic port (a first send or
 * connect() on an unbound socket): UDP picks them per netns, whatever the
 * destination, and from the whole range (TCP's searches never reach the last
 * port of a 3-port range, UDP's does: ns_pick_hi()).
 */
struct bind_room {
	__u32 netns;
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u16 lo, hi;
	__u16 pick_hi;		/* the last port the protocol's search reaches */
	__u32 reserved;
	__u32 in_use;
	__u32 free;
};

/*
 * Destinations in s (sorted by used_pct, highest first) and bind(0) headroom
 * per netns, TCP then UDP for each; prev (may be NULL) gives the growth
 * rate. Arrays are the caller's.
 */
int headroom(const struct snapshot *s, const struct snapshot *prev, struct dest **dv, size_t *nd,
	     struct bind_room **bv, size_t *nb);
/*
 * A v4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one, family and
 * address in place (IPv4 in the first 4 bytes); any other left alone.
 * Destinations are keyed so: an IPv6 socket to an IPv4 peer takes its port
 * in IPv4's search, with the IPv4 sockets to the same destination.
 */
void headroom_unmap(int *family, __u8 *addr);
/* The bind(0) headroom of (netns, proto) in bv, or NULL. */
const struct bind_room *headroom_find_room(const struct bind_room *bv, size_t nb, __u32 netns,
					   __u8 proto);
/* The destination of (netns, family, laddr, raddr, rport) in dv, or NULL. */
const struct dest *headroom_find(const struct dest *dv, size_t nd, __u32 netns, int family,
				 const __u8 *laddr, const __u8 *raddr, __u16 rport);

/*
 * A failed search's room when its range is not the netns's as s found it (a
 * socket's own IP_LOCAL_PORT_RANGE, or the netns's range as it was at the
 * failure): the ports it could pick are [lo, reach]. headroom_dest_in()
 * counts the connected TCP sockets to (laddr, raddr, rport) there (laddr
 * :: or 0.0.0.0: any), headroom_room_in() every socket of proto. 0, or
 * -ENOENT when s lacks the netns.
 */
int headroom_dest_in(const struct snapshot *s, __u32 netns, int family, const __u8 *laddr,
		     const __u8 *raddr, __u16 rport, __u16 lo, __u16 reach, struct dest *out);
int headroom_room_in(const struct snapshot *s, __u32 netns, __u8 proto, __u16 lo, __u16 hi,
		     __u16 reach, struct bind_room *out);

/* The likely remedy for a destination running out of ports. */
const char *dest_remedy(const struct dest *d, char *buf, size_t len);
/* One row of the destination table (text), after indent. */
void headroom_print_dest(FILE *f, const struct dest *d, const char *indent);
/* The header of that table, after indent. */
void headroom_print_dest_header(FILE *f, const char *indent);
/*
 * The fullest destinations (at most max) and the bind(0) headroom per netns,
 * as a table or JSON lines; netns 0 for every namespace.
 */
void headroom_print(FILE *f, const struct dest *dv, size_t nd, const struct bind_room *bv,
		    size_t nb, bool json, __u32 netns, size_t max);
/* A destination's numbers into an open JSON object (no "event" key). */
struct jw;
void headroom_json_dest(struct jw *w, const struct dest *d);

#endif
