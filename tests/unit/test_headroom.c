// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the socket headroom (user/headroom.c) against the kernel's port searches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "headroom.h"
#include "snapshot.h"

/*
 * connect() and bind(0) walk an even count of ports from a changing start:
 * of a 3-port range the last is never picked (measured on 6.18: 40000-40002
 * binds two), of a larger odd-sized one it is, from some starts (40000-40004:
 * 40004 taken).
 */
/*
 * The holders column joins "comm/pid:ports" with commas: a process named
 * with a comma (and a terminal escape) cannot add a holder of its own.
 */
static void test_holder_names(void **state)
{
	struct dest d = { .netns = 1, .family = AF_INET, .rport = 80, .in_use = 3, .usable = 10 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	memcpy(d.top[0].comm, "a,evil/1:99\033[2J", 16);
	d.top[0].pid = 42;
	d.top[0].n = 3;
	headroom_print_dest(f, &d, "");
	fclose(f);
	assert_non_null(strstr(text, "  a?evil/1:99?[2J/42:3\n"));
	assert_null(strchr(strstr(text, "  a?evil"), ','));
	free(text);
}

static void test_pick_hi(void **state)
{
	(void)state;
	assert_int_equal(ns_pick_hi(40000, 40002), 40001);
	assert_int_equal(ns_pick_hi(40000, 40003), 40003);
	assert_int_equal(ns_pick_hi(40000, 40004), 40004);
	assert_int_equal(ns_pick_hi(32768, 60999), 60999);	/* 28232 ports: all */
	assert_int_equal(ns_pick_hi(5000, 5000), 5000);	/* one port is searched */
	assert_int_equal(ns_pick_hi(1, 65535), 65535);
}

/* One connection from 40000 in a 40000-40002 range: one port left, not two. */
static void test_odd_range_headroom(void **state)
{
	struct ns_info ns = { .inum = 7, .lo = 40000, .hi = 40002 };
	struct sock_ent e = { .pid = 1 };
	struct snapshot s = { .v = &e, .n = 1, .ns = &ns, .nns = 1, .ts_ns = 1 };
	struct bind_room *bv = NULL;
	struct dest *dv = NULL;
	size_t nd, nb;

	(void)state;
	ns.pick_hi = ns_pick_hi(ns.lo, ns.hi);
	e.r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP, .state = 1,
				    .lport = 40000, .rport = 5000, .netns = 7,
				    .laddr = { 127, 0, 0, 1 }, .raddr = { 127, 0, 0, 1 } };
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(nd, 1);
	assert_int_equal(dv[0].in_use, 1);
	assert_int_equal(dv[0].usable, 2);
	assert_int_equal(dv[0].free, 1);
	assert_int_equal(nb, 2);	/* TCP's row, then UDP's */
	assert_int_equal(bv[0].proto, IPPROTO_TCP);
	assert_int_equal(bv[0].hi, 40002);	/* the range as configured */
	assert_int_equal(bv[0].free, 1);
	assert_int_equal(bv[1].proto, IPPROTO_UDP);
	assert_int_equal(bv[1].free, 3);	/* a TCP socket takes no UDP port */
	free(dv);
	free(bv);
}

/*
 * UDP's automatic ports: one pool per netns, the whole range (40000-40002
 * gives three, measured on 6.18, where TCP's searches stop at two), minus
 * the reserved ports, minus the ports any UDP socket holds (connected or
 * not); TCP's sockets count only in TCP's row, and the other way round.
 */
static void test_udp_bind_room(void **state)
{
	struct ns_info ns = { .inum = 7, .lo = 40000, .hi = 40004 };
	struct sock_ent e[4] = { { .pid = 1 }, { .pid = 1 }, { .pid = 2 }, { .pid = 3 } };
	struct snapshot s = { .v = e, .n = 4, .ns = &ns, .nns = 1, .ts_ns = 1 };
	const struct bind_room *tcp, *udp;
	struct bind_room *bv = NULL;
	struct dest *dv = NULL;
	size_t nd, nb;

	(void)state;
	ns.pick_hi = ns_pick_hi(ns.lo, ns.hi);	/* 40004 */
	ns.reserved[40001 / 8] |= 1 << (40001 % 8);
	ns.nreserved = 1;
	e[0].r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_UDP, .lport = 40000,
				       .rport = 53, .netns = 7 };
	e[1].r = e[0].r;
	e[1].r.lport = 40004;	/* the last port of an odd range: every search reaches it */
	e[1].r.rport = 0;
	e[2].r = e[0].r;
	e[2].r.lport = 50000;	/* outside the range */
	e[3].r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP, .state = 10,
				       .lport = 40002, .netns = 7 };
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(nb, 2);
	tcp = headroom_find_room(bv, nb, 7, IPPROTO_TCP);
	udp = headroom_find_room(bv, nb, 7, IPPROTO_UDP);
	assert_non_null(tcp);
	assert_non_null(udp);
	assert_null(headroom_find_room(bv, nb, 8, IPPROTO_UDP));
	/* TCP: 40000-40004, 40001 reserved, 40002 listening */
	assert_int_equal(tcp->pick_hi, 40004);
	assert_int_equal(tcp->reserved, 1);
	assert_int_equal(tcp->in_use, 1);
	assert_int_equal(tcp->free, 3);
	/* UDP: 40000-40004, 40001 reserved, 40000 and 40004 held */
	assert_int_equal(udp->lo, 40000);
	assert_int_equal(udp->hi, 40004);
	assert_int_equal(udp->reserved, 1);
	assert_int_equal(udp->in_use, 2);
	assert_int_equal(udp->free, 2);
	free(dv);
	free(bv);
}

/*
 * A failed search's own range (a socket's IP_LOCAL_PORT_RANGE, or the netns's
 * range as it was then): only the ports in [lo, reach] count, reserved and
 * bind()-held ones are not usable, the source address must match (any, for
 * an unspecified one), and a v4-mapped socket counts with IPv4's.
 */
static void test_range_restricted(void **state)
{
	struct ns_info ns = { .inum = 7, .lo = 32768, .hi = 60999 };
	struct sock_ent e[6] = { { .pid = 1 }, { .pid = 1 }, { .pid = 1 },
				 { .pid = 2 }, { .pid = 3 }, { .pid = 4 } };
	struct snapshot s = { .v = e, .n = 6, .ns = &ns, .nns = 1, .ts_ns = 1 };
	const __u8 l4[16] = { 127, 0, 0, 1 }, l4b[16] = { 127, 0, 0, 2 }, r4[16] = { 127, 0, 0, 9 };
	const __u8 lm[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	const __u8 rm[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 9 };
	const __u8 any[16] = { 0 };
	struct bind_room room;
	struct dest d;

	(void)state;
	ns.pick_hi = ns_pick_hi(ns.lo, ns.hi);
	ns.reserved[50001 / 8] |= 1 << (50001 % 8);
	/* to 127.0.0.9:5000 in 50000-50004: 50000 (established), 50004 (TIME_WAIT), */
	e[0].r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP, .state = 1,
				       .lport = 50000, .rport = 5000, .netns = 7 };
	memcpy(e[0].r.laddr, l4, 16);
	memcpy(e[0].r.raddr, r4, 16);
	e[1].r = e[0].r;
	e[1].r.lport = 50004;
	e[1].r.state = PL_TCP_TIME_WAIT;
	/* 50003 from a v4-mapped IPv6 socket, 50005 outside the range, */
	e[2].r = e[0].r;
	e[2].r.family = AF_INET6;
	e[2].r.lport = 50003;
	memcpy(e[2].r.laddr, lm, 16);
	memcpy(e[2].r.raddr, rm, 16);
	e[3].r = e[0].r;
	e[3].r.lport = 50005;
	/* 50002 from another source address, */
	e[4].r = e[0].r;
	e[4].r.lport = 50002;
	memcpy(e[4].r.laddr, l4b, 16);
	/* and a listener on 40000, outside the range */
	e[5].r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP, .state = 10,
				       .lport = 40000, .netns = 7 };

	assert_int_equal(headroom_dest_in(&s, 7, AF_INET, l4, r4, 5000, 50000, 50004, &d), 0);
	/* 50000, 50003 (mapped), 50004 (TIME_WAIT); not 50002 (127.0.0.2) nor 50005 */
	assert_int_equal(d.in_use, 3);
	assert_int_equal(d.time_wait, 1);
	assert_int_equal(d.usable, 4);	/* 50001 reserved */
	assert_int_equal(d.free, 1);
	assert_int_equal(d.top[0].pid, 1);
	assert_int_equal(d.top[0].n, 3);
	/* any source address: 127.0.0.2's too */
	assert_int_equal(headroom_dest_in(&s, 7, AF_INET, any, r4, 5000, 50000, 50004, &d), 0);
	assert_int_equal(d.in_use, 4);
	assert_int_equal(d.free, 0);
	/* found by the v4-mapped form, shown as IPv4 */
	assert_int_equal(headroom_dest_in(&s, 7, AF_INET6, lm, rm, 5000, 50000, 50004, &d), 0);
	assert_int_equal(d.family, AF_INET);
	assert_int_equal(d.in_use, 3);
	/* a range reaching 40000: the listener's port is not usable, its row not counted */
	assert_int_equal(headroom_dest_in(&s, 7, AF_INET, l4, r4, 5000, 40000, 40003, &d), 0);
	assert_int_equal(d.usable, 3);
	assert_int_equal(d.in_use, 0);
	/* a netns the snapshot lacks */
	assert_int_equal(headroom_dest_in(&s, 8, AF_INET, l4, r4, 5000, 50000, 50004, &d),
			 -ENOENT);

	/* bind(0)'s room over 50000-50003 of 50000-50004: 50001 reserved; 50000, 50002, 50003 */
	assert_int_equal(headroom_room_in(&s, 7, IPPROTO_TCP, 50000, 50004, 50003, &room), 0);
	assert_int_equal(room.lo, 50000);
	assert_int_equal(room.hi, 50004);
	assert_int_equal(room.reserved, 1);
	assert_int_equal(room.in_use, 3);
	assert_int_equal(room.free, 0);
	assert_int_equal(headroom_room_in(&s, 7, IPPROTO_UDP, 50000, 50004, 50004, &room), 0);
	assert_int_equal(room.in_use, 0);
	assert_int_equal(room.free, 4);
}

/*
 * TIME_WAIT ports the next connect() may take over (tcp_twsk_unique()) are
 * free: tcp_tw_reuse 2 on loopback, with timestamps seen, after the delay.
 * Not without timestamps, not younger than the delay, not off loopback with
 * 2 (unless bound to lo), and none with 0.
 */
static void test_tw_reusable(void **state)
{
	struct ns_info ns = { .inum = 7, .lo = 40000, .hi = 40009, .tw_reuse = 2,
			      .tw_reuse_delay_ms = 1000 };
	struct sock_ent e[6] = { { .pid = 0 } };
	struct snapshot s = { .v = e, .n = 6, .ns = &ns, .nns = 1, .ts_ns = 1 };
	const __u8 lo[16] = { 127, 0, 0, 1 }, l10[16] = { 10, 0, 0, 1 }, r10[16] = { 10, 0, 0, 5 };
	const __u64 old = 50ULL * 1000000000ULL, young = 59500000000ULL;	/* time left */
	struct bind_room *bv = NULL;
	struct dest *dv = NULL;
	const struct dest *d;
	size_t nd, nb;

	(void)state;
	ns.pick_hi = ns_pick_hi(ns.lo, ns.hi);
	for (int i = 0; i < 6; i++) {
		e[i].r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP,
					       .state = PL_TCP_TIME_WAIT, .lport = 40000 + i,
					       .rport = 5000, .netns = 7, .expires_ns = old,
					       .flags = PL_SOCKF_TW_TS };
		memcpy(e[i].r.laddr, i < 3 ? lo : l10, 16);
		memcpy(e[i].r.raddr, i < 3 ? lo : r10, 16);
	}
	e[1].r.flags = 0;		/* no timestamps: never taken over */
	e[2].r.expires_ns = young;	/* half a second in TIME_WAIT */
	e[4].r.flags |= PL_SOCKF_LO_DEV;	/* off loopback, but bound to lo */
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(nd, 2);
	d = headroom_find(dv, nd, 7, AF_INET, lo, lo, 5000);
	assert_non_null(d);
	assert_int_equal(d->in_use, 3);
	assert_int_equal(d->time_wait, 3);
	assert_int_equal(d->tw_reusable, 1);
	assert_int_equal(d->free, 8);
	d = headroom_find(dv, nd, 7, AF_INET, l10, r10, 5000);
	assert_non_null(d);
	assert_int_equal(d->tw_reusable, 1);	/* the one bound to lo */
	free(dv);
	free(bv);
	/*
	 * All three loopback ones too young: tcp_tw_reuse (2, loopback) covers
	 * them all the same, and the remedy must not advise setting it to 1.
	 */
	{
		char buf[400];

		for (int i = 0; i < 3; i++) {
			e[i].r.expires_ns = young;
			e[i].r.flags = PL_SOCKF_TW_TS;
		}
		assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
		d = headroom_find(dv, nd, 7, AF_INET, lo, lo, 5000);
		assert_int_equal(d->tw_reusable, 0);
		assert_int_equal(d->tw_reuse_on, 3);
		dest_remedy(d, buf, sizeof(buf));
		assert_null(strstr(buf, "tcp_tw_reuse=1"));
		assert_non_null(strstr(buf, "tcp_tw_reuse is in effect here"));
		/* off loopback, 2 covers nothing: setting 1 is the advice */
		free(dv);
		free(bv);
		e[4].r.flags = PL_SOCKF_TW_TS;	/* not bound to lo now */
		assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
		d = headroom_find(dv, nd, 7, AF_INET, l10, r10, 5000);
		assert_int_equal(d->tw_reuse_on, 0);
		dest_remedy(d, buf, sizeof(buf));
		assert_non_null(strstr(buf, "tcp_tw_reuse=1"));
		free(dv);
		free(bv);
		e[4].r.flags |= PL_SOCKF_LO_DEV;
		e[1].r.flags = 0;
		e[0].r.expires_ns = old;
		e[1].r.expires_ns = old;
	}
	/* tcp_tw_reuse 1: off loopback too; 0: none */
	ns.tw_reuse = 1;
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(headroom_find(dv, nd, 7, AF_INET, l10, r10, 5000)->tw_reusable, 3);
	free(dv);
	free(bv);
	ns.tw_reuse = 0;
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(headroom_find(dv, nd, 7, AF_INET, lo, lo, 5000)->tw_reusable, 0);
	assert_int_equal(headroom_find(dv, nd, 7, AF_INET, lo, lo, 5000)->free, 7);
	free(dv);
	free(bv);
}

/*
 * A Java client's sockets are IPv6 by default, v4-mapped to an IPv4 server:
 * their ports come from IPv4's connect() search, shared with the IPv4
 * sockets to the same destination. One destination of two ports, shown as
 * IPv4, found by either form; a real IPv6 destination stays apart.
 */
static void test_v4_mapped_destination(void **state)
{
	struct ns_info ns = { .inum = 7, .lo = 40000, .hi = 40009 };
	struct sock_ent e[3] = { { .pid = 1 }, { .pid = 2 }, { .pid = 2 } };
	struct snapshot s = { .v = e, .n = 3, .ns = &ns, .nns = 1, .ts_ns = 1 };
	const __u8 l4[16] = { 10, 0, 0, 1 }, r4[16] = { 10, 0, 0, 5 };
	const __u8 lm[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
	const __u8 rm[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 5 };
	const __u8 l6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	const __u8 r6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	struct bind_room *bv = NULL;
	const struct dest *d;
	struct dest *dv = NULL;
	size_t nd, nb;
	__u8 a[16];
	int family;

	(void)state;
	ns.pick_hi = ns_pick_hi(ns.lo, ns.hi);
	e[0].r = (struct pl_sock_rec){ .family = AF_INET, .proto = IPPROTO_TCP, .state = 1,
				       .lport = 40001, .rport = 8080, .netns = 7 };
	memcpy(e[0].r.laddr, l4, 16);
	memcpy(e[0].r.raddr, r4, 16);
	e[1].r = e[0].r;
	e[1].r.family = AF_INET6;
	e[1].r.lport = 40002;
	memcpy(e[1].r.laddr, lm, 16);
	memcpy(e[1].r.raddr, rm, 16);
	e[2].r = e[1].r;
	e[2].r.lport = 40003;
	memcpy(e[2].r.laddr, l6, 16);
	memcpy(e[2].r.raddr, r6, 16);
	assert_int_equal(headroom(&s, NULL, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(nd, 2);
	d = headroom_find(dv, nd, 7, AF_INET, l4, r4, 8080);
	assert_non_null(d);
	assert_int_equal(d->family, AF_INET);
	assert_int_equal(d->in_use, 2);
	assert_ptr_equal(headroom_find(dv, nd, 7, AF_INET6, lm, rm, 8080), d);
	d = headroom_find(dv, nd, 7, AF_INET6, l6, r6, 8080);
	assert_non_null(d);
	assert_int_equal(d->in_use, 1);
	/* unmapping: only ::ffff:a.b.c.d changes */
	family = AF_INET6;
	memcpy(a, rm, 16);
	headroom_unmap(&family, a);
	assert_int_equal(family, AF_INET);
	assert_memory_equal(a, r4, 16);
	family = AF_INET6;
	memcpy(a, r6, 16);
	headroom_unmap(&family, a);
	assert_int_equal(family, AF_INET6);
	assert_memory_equal(a, r6, 16);
	free(dv);
	free(bv);
}

/*
 * A node with sockets to many destinations (a proxy, a NAT node): 20000
 * destinations in two namespaces, IPv4 and IPv6, each with its own count
 * of sockets (1 to 3, one of them in TIME_WAIT for some), found apart by
 * the destination index, and each one's growth against a snapshot a
 * second before that had one socket fewer to every other destination.
 */
static void test_many_destinations(void **state)
{
	enum { ND = 20000 };
	struct ns_info ns[2] = { { .inum = 7, .lo = 1024, .hi = 65535 },
				 { .inum = 8, .lo = 1024, .hi = 65535 } };
	struct sock_ent *v = calloc(3 * ND, sizeof(*v)), *pv = calloc(3 * ND, sizeof(*pv));
	struct snapshot s = { .v = v, .ns = ns, .nns = 2, .ts_ns = 2000000000 };
	struct snapshot p = { .v = pv, .ns = ns, .nns = 2, .ts_ns = 1000000000 };
	struct bind_room *bv = NULL;
	struct dest *dv = NULL;
	size_t nd, nb, seen = 0;

	(void)state;
	assert_non_null(v);
	assert_non_null(pv);
	for (int k = 0; k < 2; k++)
		ns[k].pick_hi = ns_pick_hi(ns[k].lo, ns[k].hi);
	for (int d = 0; d < ND; d++) {
		for (int j = 0; j <= d % 3; j++) {
			struct sock_ent *e = &v[s.n++];

			e->pid = 100 + d % 7;
			e->r = (struct pl_sock_rec){ .family = d % 4 ? AF_INET : AF_INET6,
						    .proto = IPPROTO_TCP, .netns = 7 + d % 2,
						    .state = j == 1 ? PL_TCP_TIME_WAIT : 1,
						    .lport = 2000 + j, .rport = 443 + d % 3,
						    .laddr = { 10, 0, 0, 1 },
						    .raddr = { 10, (d >> 16) & 255, (d >> 8) & 255, d & 255 } };
			if (j < d % 3 || d % 2 == 0)
				pv[p.n++] = *e;
		}
	}
	assert_int_equal(headroom(&s, &p, &dv, &nd, &bv, &nb), 0);
	assert_int_equal(nd, ND);
	for (size_t i = 0; i < nd; i++) {
		const struct dest *d = &dv[i];
		int id = (d->raddr[1] << 16) | (d->raddr[2] << 8) | d->raddr[3];

		assert_true(id < ND);
		assert_int_equal(d->netns, 7 + id % 2);
		assert_int_equal(d->family, id % 4 ? AF_INET : AF_INET6);
		assert_int_equal(d->rport, 443 + id % 3);
		assert_int_equal(d->in_use, id % 3 + 1);
		assert_int_equal(d->time_wait, id % 3 >= 1);
		assert_int_equal(d->top[0].pid, 100 + id % 7);
		assert_true(d->growth == (id % 2 ? 1.0 : 0.0));
		seen++;
	}
	assert_int_equal(seen, ND);
	/* and one destination of them as headroom_find() finds it */
	assert_non_null(headroom_find(dv, nd, 8, AF_INET, dv[0].laddr, (__u8[16]){ 10, 0, 0, 1 }, 444));
	free(dv);
	free(bv);
	free(v);
	free(pv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_hi),
		cmocka_unit_test(test_holder_names),
		cmocka_unit_test(test_odd_range_headroom),
		cmocka_unit_test(test_udp_bind_room),
		cmocka_unit_test(test_many_destinations),
		cmocka_unit_test(test_v4_mapped_destination),
		cmocka_unit_test(test_range_restricted),
		cmocka_unit_test(test_tw_reusable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
