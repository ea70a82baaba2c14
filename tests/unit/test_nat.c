// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for NAT (user/nat.c, user/natview.c): ctnetlink messages built
 * here byte by byte, as the kernel lays them out; their parsing, malformed
 * ones refused; a translation attributed to its lease whether the lease's
 * ALLOC comes before or after the conntrack NEW; headroom arithmetic; NAT
 * records through a trace file and back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include "nat.h"
#include "report.h"
#include "tracefile.h"

/* ---- a ctnetlink message builder ----------------------------------------- */

struct msg {
	unsigned char b[1024];
	size_t len;
	size_t nest[4];
	int depth;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->len, p, n);
	m->len += n;
	while (m->len % 4)
		m->b[m->len++] = 0;
}

static void attr(struct msg *m, int type, const void *p, size_t n)
{
	struct nlattr a = { .nla_len = NLA_HDRLEN + n, .nla_type = type };

	memcpy(m->b + m->len, &a, sizeof(a));
	m->len += NLA_HDRLEN;
	put(m, p, n);
}

static void nest(struct msg *m, int type)
{
	struct nlattr a = { .nla_len = 0, .nla_type = type | NLA_F_NESTED };

	m->nest[m->depth++] = m->len;
	memcpy(m->b + m->len, &a, sizeof(a));
	m->len += NLA_HDRLEN;
}

static void end(struct msg *m)
{
	struct nlattr *a = (struct nlattr *)(m->b + m->nest[--m->depth]);

	a->nla_len = m->len - m->nest[m->depth];
}

static void tuple(struct msg *m, int which, int family, const char *src, const char *dst,
		  __u16 sport, __u16 dport, __u8 proto)
{
	unsigned char a[16];
	__be16 p;

	nest(m, which);
	nest(m, CTA_TUPLE_IP);
	inet_pton(family, src, a);
	attr(m, family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, a, family == AF_INET ? 4 : 16);
	inet_pton(family, dst, a);
	attr(m, family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST, a, family == AF_INET ? 4 : 16);
	end(m);
	nest(m, CTA_TUPLE_PROTO);
	attr(m, CTA_PROTO_NUM, &proto, 1);
	p = htons(sport);
	attr(m, CTA_PROTO_SRC_PORT, &p, 2);
	p = htons(dport);
	attr(m, CTA_PROTO_DST_PORT, &p, 2);
	end(m);
	end(m);
}

/*
 * A conntrack event: type IPCTNL_MSG_CT_NEW (create: NEW) or _DELETE; the
 * original tuple client -> dest, the reply dest -> nat.
 */
/*
 * The reply tuple's source: the destination after a DNAT; NULL (and 0) for
 * none, the original destination answering.
 */
static const char *dnat_to;
static __u16 dnat_port;

static struct msg ct_msg_proto(int type, bool create, __u32 id, int family, const char *client,
			       __u16 cport, const char *dest, __u16 dport, const char *nat,
			       __u16 nport, __u8 proto)
{
	struct msg m = {};
	struct nlmsghdr nh = { .nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type,
			       .nlmsg_flags = create ? NLM_F_CREATE | NLM_F_EXCL : 0 };
	struct nfgenmsg nf = { .nfgen_family = family, .version = NFNETLINK_V0 };
	__be32 v;

	put(&m, &nh, sizeof(nh));
	put(&m, &nf, sizeof(nf));
	tuple(&m, CTA_TUPLE_ORIG, family, client, dest, cport, dport, proto);
	tuple(&m, CTA_TUPLE_REPLY, family, dnat_to ? dnat_to : dest, nat,
	      dnat_to ? dnat_port : dport, nport, proto);
	v = htonl(0x1b0);	/* SRC_NAT | SRC_NAT_DONE | DST_NAT_DONE */
	attr(&m, CTA_STATUS, &v, 4);
	v = htonl(id);
	attr(&m, CTA_ID, &v, 4);
	((struct nlmsghdr *)m.b)->nlmsg_len = m.len;
	return m;
}

static struct msg ct_msg(int type, bool create, __u32 id, int family, const char *client,
			 __u16 cport, const char *dest, __u16 dport, const char *nat, __u16 nport)
{
	return ct_msg_proto(type, create, id, family, client, cport, dest, dport, nat, nport,
			    IPPROTO_TCP);
}

/* ---- parsing ------------------------------------------------------------- */

static void t_parse_new(void **state)
{
	struct msg m = ct_msg(IPCTNL_MSG_CT_NEW, true, 77, AF_INET, "192.0.2.2", 57008,
			      "198.51.100.2", 8080, "198.51.100.1", 40003);
	struct nat_ct ct;
	unsigned char a[4];

	assert_int_equal(nat_ct_parse(m.b, m.len, &ct), 0);
	assert_int_equal(ct.msg, NAT_CT_NEW);
	assert_int_equal(ct.family, AF_INET);
	assert_int_equal(ct.proto, IPPROTO_TCP);
	assert_true(ct.has_id);
	assert_int_equal(ct.id, 77);
	assert_int_equal(ct.o_sport, 57008);
	assert_int_equal(ct.o_dport, 8080);
	assert_int_equal(ct.r_dport, 40003);
	inet_pton(AF_INET, "198.51.100.1", a);
	assert_memory_equal(ct.r_dst, a, 4);
	assert_true(nat_ct_snat(&ct));

	m = ct_msg(IPCTNL_MSG_CT_DELETE, false, 77, AF_INET6, "2001:db8:1::2", 5000,
		   "2001:db8:2::2", 80, "2001:db8:2::1", 40000);
	assert_int_equal(nat_ct_parse(m.b, m.len, &ct), 0);
	assert_int_equal(ct.msg, NAT_CT_DESTROY);
	assert_int_equal(ct.family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8:2::1", a);
	(void)state;
}

/* Traffic that is not translated is not NAT: the reply goes back where it came from. */
static void t_not_nat(void **state)
{
	struct msg m = ct_msg(IPCTNL_MSG_CT_NEW, true, 5, AF_INET, "192.0.2.2", 57008,
			      "198.51.100.2", 8080, "192.0.2.2", 57008);
	struct nat_ct ct;

	assert_int_equal(nat_ct_parse(m.b, m.len, &ct), 0);
	assert_false(nat_ct_snat(&ct));
	/* the port alone translated is NAT too */
	m = ct_msg(IPCTNL_MSG_CT_NEW, true, 5, AF_INET, "192.0.2.2", 57008, "198.51.100.2", 8080,
		   "192.0.2.2", 40000);
	assert_int_equal(nat_ct_parse(m.b, m.len, &ct), 0);
	assert_true(nat_ct_snat(&ct));
	(void)state;
}

/* Every cut and every lie about a length is refused, never read past. */
static void t_malformed(void **state)
{
	struct msg m = ct_msg(IPCTNL_MSG_CT_NEW, true, 1, AF_INET, "192.0.2.2", 1, "198.51.100.2",
			      2, "198.51.100.1", 3);
	struct nat_ct ct;
	unsigned char b[1024];

	for (size_t cut = 0; cut < m.len; cut++) {
		/* the header says the whole length: shorter buffers are refused */
		assert_int_not_equal(nat_ct_parse(m.b, cut, &ct), 0);
	}
	for (size_t off = NLMSG_HDRLEN + 4; off + 2 <= m.len; off += 2) {
		/* an attribute length pointing past the end */
		memcpy(b, m.b, m.len);
		*(__u16 *)(b + off) = 0xfff0;
		assert_true(nat_ct_parse(b, m.len, &ct) <= 0);
	}
	/* another subsystem's message is of no interest */
	memcpy(b, m.b, m.len);
	((struct nlmsghdr *)b)->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | 1;
	assert_int_equal(nat_ct_parse(b, m.len, &ct), -ENOENT);
	(void)state;
}

static void t_range(void **state)
{
	__u16 lo, hi;

	assert_int_equal(nat_parse_range("40000-40003", &lo, &hi), 0);
	assert_int_equal(lo, 40000);
	assert_int_equal(hi, 40003);
	assert_int_equal(nat_parse_range("40003-40000", &lo, &hi), -EINVAL);
	assert_int_equal(nat_parse_range("0-5", &lo, &hi), -EINVAL);
	assert_int_equal(nat_parse_range("1-65536", &lo, &hi), -EINVAL);
	assert_int_equal(nat_parse_range("40000", &lo, &hi), -EINVAL);
	assert_int_equal(nat_parse_range("4x-5", &lo, &hi), -EINVAL);
	(void)state;
}

/* ---- attribution ---------------------------------------------------------- */

#define MAXREC 32

struct got {
	struct pl_nat_rec r[MAXREC];
	int n;
};

static void collect(void *ctx, const struct pl_nat_rec *n)
{
	struct got *g = ctx;

	if (g->n < MAXREC)
		g->r[g->n] = *n;
	g->n++;
}

static struct pl_event alloc_ev(__u64 lease, __u32 pid, const char *comm, __u16 lport, __u64 ts)
{
	struct pl_event e = { .type = PL_EV_ALLOC, .family = AF_INET, .proto = IPPROTO_TCP,
			      .kind = PL_ALLOC_CONNECT, .lport = lport, .rport = 8080, .pid = pid,
			      .tid = pid, .netns = 4026530000u, .ts_ns = ts, .lease = lease,
			      .cookie = lease, .cgroup_id = 99 };

	inet_pton(AF_INET, "192.0.2.2", e.laddr);
	inet_pton(AF_INET, "198.51.100.2", e.raddr);
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	return e;
}

/* The lease first, then the NEW: attributed at once, with the NAT port. */
static void t_attr_lease_first(void **state)
{
	struct lease_table *t = lease_table__new(4096);
	struct nat_opts o = { .range_lo = 40000, .range_hi = 40003 };
	struct got g = {};
	struct nat_watch *w = nat_watch__detached(4026539999u, &o, t, collect, &g);
	struct pl_event e = alloc_ev(1, 4242, "client", 57008, 1000);
	struct lease_result r;
	struct msg m;

	assert_non_null(w);
	lease_table__apply(t, &e, &r);
	m = ct_msg(IPCTNL_MSG_CT_NEW, true, 9, AF_INET, "192.0.2.2", 57008, "198.51.100.2", 8080,
		   "198.51.100.1", 40003);
	nat_watch__feed(w, m.b, m.len, 2000);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].kind, PL_NAT_NEW);
	assert_int_equal(g.r[0].pid, 4242);
	assert_string_equal(g.r[0].comm, "client");
	assert_int_equal(g.r[0].netns, 4026530000u);
	assert_int_equal(g.r[0].nat_netns, 4026539999u);
	assert_int_equal(g.r[0].cgroup_id, 99);
	assert_int_equal(g.r[0].lport, 57008);
	assert_int_equal(g.r[0].nat_port, 40003);
	assert_int_equal(g.r[0].range_lo, 40000);
	assert_true(g.r[0].flags & PL_NATF_OWNED);
	/* its end: the same owner, the hold time */
	m = ct_msg(IPCTNL_MSG_CT_DELETE, false, 9, AF_INET, "192.0.2.2", 57008, "198.51.100.2",
		   8080, "198.51.100.1", 40003);
	nat_watch__feed(w, m.b, m.len, 2000 + 5000000);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[1].kind, PL_NAT_END);
	assert_int_equal(g.r[1].pid, 4242);
	assert_int_equal(g.r[1].hold_ns, 5000000);
	nat_watch__free(w);
	lease_table__free(t);
	(void)state;
}

/*
 * The NEW first (netlink was read before the ring buffer): it waits; the
 * lease's ALLOC comes; the next poll attributes it. A NEW whose lease never
 * comes goes out unattributed after a second, and its DESTROY follows it.
 */
static void t_attr_new_first(void **state)
{
	struct lease_table *t = lease_table__new(4096);
	struct nat_opts o = {};
	struct got g = {};
	struct nat_watch *w = nat_watch__detached(7, &o, t, collect, &g);
	struct pl_event e = alloc_ev(1, 4242, "client", 57010, 1000);
	struct lease_result r;
	struct msg m = ct_msg(IPCTNL_MSG_CT_NEW, true, 10, AF_INET, "192.0.2.2", 57010,
			      "198.51.100.2", 8080, "198.51.100.1", 40000);

	nat_watch__feed(w, m.b, m.len, 1000);
	assert_int_equal(g.n, 0);	/* waiting for its lease */
	lease_table__apply(t, &e, &r);
	m = ct_msg(IPCTNL_MSG_CT_NEW, true, 11, AF_INET, "192.0.2.2", 60000, "198.51.100.2", 8080,
		   "198.51.100.1", 40001);
	nat_watch__feed(w, m.b, m.len, 2000);	/* the poll after the ring buffer */
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].pid, 4242);
	assert_int_equal(g.r[0].lport, 57010);
	assert_int_equal(g.r[0].ts_ns, 1000);	/* when conntrack said it, not when resolved */
	/* no default range given: nf_nat's own for a port >= 1024 */
	assert_int_equal(g.r[0].range_lo, 1024);
	assert_int_equal(g.r[0].range_hi, 65535);
	/* 60000 has no lease: it ends before it is attributed, and goes out when it expires */
	m = ct_msg(IPCTNL_MSG_CT_DELETE, false, 11, AF_INET, "192.0.2.2", 60000, "198.51.100.2",
		   8080, "198.51.100.1", 40001);
	nat_watch__feed(w, m.b, m.len, 3000);
	assert_int_equal(g.n, 1);
	nat_watch__feed(w, m.b, 0, 2000 + 1000000000ULL);	/* nothing: a poll a second later */
	assert_int_equal(g.n, 3);
	assert_int_equal(g.r[1].kind, PL_NAT_NEW);
	assert_int_equal(g.r[1].pid, 0);
	assert_false(g.r[1].flags & PL_NATF_OWNED);
	assert_int_equal(g.r[2].kind, PL_NAT_END);
	assert_int_equal(g.r[2].hold_ns, 1000);
	nat_watch__free(w);
	lease_table__free(t);
	(void)state;
}

/* A lease that ended before conntrack's news was read still owns it. */
static void t_attr_lease_ended(void **state)
{
	struct lease_table *t = lease_table__new(4096);
	struct nat_opts o = {};
	struct got g = {};
	struct nat_watch *w = nat_watch__detached(7, &o, t, collect, &g);
	struct pl_event e = alloc_ev(3, 555, "short", 57020, 1000);
	struct lease_result r;
	struct msg m;

	lease_table__apply(t, &e, &r);
	e.type = PL_EV_RELEASE;
	e.kind = PL_END_CLOSE;
	e.ts_ns = 2000;
	lease_table__apply(t, &e, &r);
	assert_int_equal(r.what, LW_END);
	nat_watch__lease_sink(w, &e, &r);
	assert_null(lease_table__find_flow(t, IPPROTO_TCP, AF_INET, e.laddr, 57020, e.raddr, 8080));
	m = ct_msg(IPCTNL_MSG_CT_NEW, true, 12, AF_INET, "192.0.2.2", 57020, "198.51.100.2", 8080,
		   "198.51.100.1", 40002);
	nat_watch__feed(w, m.b, m.len, 3000);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].pid, 555);
	assert_string_equal(g.r[0].comm, "short");
	nat_watch__free(w);
	lease_table__free(t);
	(void)state;
}

/*
 * A resolver's UDP socket: bound to the wildcard by its first send, closed
 * as soon as the answer came, before conntrack's NEW was read. Its ended
 * lease (laddr 0.0.0.0, no peer) still owns the translation of
 * 192.0.2.2:port, as a live one would.
 */
static void t_attr_ended_wildcard(void **state)
{
	struct lease_table *t = lease_table__new(4096);
	struct nat_opts o = {};
	struct got g = {};
	struct nat_watch *w = nat_watch__detached(7, &o, t, collect, &g);
	struct pl_event e = alloc_ev(4, 777, "resolver", 53001, 1000);
	struct lease_result r;
	struct msg m;

	e.proto = IPPROTO_UDP;
	e.kind = PL_ALLOC_AUTOBIND;
	e.rport = 0;
	memset(e.laddr, 0, sizeof(e.laddr));
	memset(e.raddr, 0, sizeof(e.raddr));
	lease_table__apply(t, &e, &r);
	e.type = PL_EV_RELEASE;
	e.kind = PL_END_CLOSE;
	e.ts_ns = 2000;
	lease_table__apply(t, &e, &r);
	assert_int_equal(r.what, LW_END);
	nat_watch__lease_sink(w, &e, &r);
	m = ct_msg_proto(IPCTNL_MSG_CT_NEW, true, 13, AF_INET, "192.0.2.2", 53001,
			 "198.51.100.53", 53, "198.51.100.1", 40002, IPPROTO_UDP);
	nat_watch__feed(w, m.b, m.len, 3000);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].proto, IPPROTO_UDP);
	assert_int_equal(g.r[0].pid, 777);
	assert_string_equal(g.r[0].comm, "resolver");
	assert_true(g.r[0].flags & PL_NATF_OWNED);
	(void)state;
	nat_watch__free(w);
	lease_table__free(t);
}

/* The drop hook's record of a new entry dropped after NAT to nat:nport. */
static struct pl_nat_drop drop_rec(__u32 inum, __u16 sport, __u16 nport)
{
	struct pl_nat_drop d = { .type = PL_NAT_DROP, .family = AF_INET, .proto = IPPROTO_TCP,
				 .sport = sport, .dport = 8080, .nat_port = nport, .netns = inum,
				 .ts_ns = 5000 };

	inet_pton(AF_INET, "192.0.2.2", d.saddr);
	inet_pton(AF_INET, "198.51.100.2", d.daddr);
	inet_pton(AF_INET, "198.51.100.1", d.nat_addr);
	/* no DNAT: the reply comes from the destination itself */
	memcpy(d.real_daddr, d.daddr, 16);
	d.real_dport = d.dport;
	return d;
}

/*
 * A Service (kube-proxy's DNAT, then the node's masquerade): a client's
 * flow to 192.0.2.1:80 goes to the pod 198.51.100.2:8080, and takes its NAT
 * port from the pod's pool, which the flows straight to the pod share. The
 * translation is the client's (its lease has the Service's address), names
 * the pod, and says DNAT; a drop of a flow straight to the pod that clashes
 * with it on its NAT port is exhaustion, not "dropped".
 */
static void t_dnat_pool(void **state)
{
	struct lease_table *t = lease_table__new(4096);
	struct nat_opts o = { .range_lo = 40000, .range_hi = 40003 };
	struct got g = {};
	struct nat_watch *w = nat_watch__detached(7, &o, t, collect, &g);
	struct pl_event e = alloc_ev(1, 4242, "client", 57008, 1000);
	struct pl_nat_drop clash = drop_rec(7, 57009, 40003);
	struct lease_result r;
	__u8 pod[4];
	struct msg m;

	(void)state;
	e.rport = 80;
	inet_pton(AF_INET, "192.0.2.1", e.raddr);
	lease_table__apply(t, &e, &r);
	dnat_to = "198.51.100.2";
	dnat_port = 8080;
	m = ct_msg(IPCTNL_MSG_CT_NEW, true, 31, AF_INET, "192.0.2.2", 57008, "192.0.2.1", 80,
		   "198.51.100.1", 40003);
	dnat_to = NULL;
	nat_watch__feed(w, m.b, m.len, 2000);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.r[0].kind, PL_NAT_NEW);
	assert_int_equal(g.r[0].pid, 4242);
	assert_true(g.r[0].flags & PL_NATF_DNAT);
	inet_pton(AF_INET, "198.51.100.2", pod);
	assert_memory_equal(g.r[0].raddr, pod, 4);
	assert_int_equal(g.r[0].rport, 8080);
	nat_watch__drop(w, &clash, sizeof(clash));
	nat_watch__finish(w, 3000 + 2000000000ULL);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.r[1].kind, PL_NAT_FAIL);
	assert_int_equal(g.r[1].flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW | PL_NATF_DNAT), 0);
	assert_memory_equal(g.r[1].raddr, pod, 4);
	nat_watch__free(w);
	lease_table__free(t);
}

/*
 * A drop is NAT exhaustion only when its entry clashed: a translation we
 * hold answers on the same NAT port from that destination. One dropped
 * with its port free (a rule after srcnat) is flagged, and so is one that
 * clashed with its own flow's entry (two first packets raced to insert it);
 * neither is a failure of the destination's pool.
 */
static void t_drop_clash(void **state)
{
	struct lease_table *t = lease_table__new(4096);
	struct nat_opts o = { .range_lo = 40000, .range_hi = 40003 };
	struct got g = {};
	struct nat_watch *w = nat_watch__detached(7, &o, t, collect, &g);
	struct msg m = ct_msg(IPCTNL_MSG_CT_NEW, true, 21, AF_INET, "192.0.2.2", 57008,
			      "198.51.100.2", 8080, "198.51.100.1", 40003);
	struct pl_nat_drop clash = drop_rec(7, 57009, 40003), free_port = drop_rec(7, 57010, 40001);
	struct pl_nat_drop race = drop_rec(7, 57008, 40003);
	int seen = 0;

	(void)state;
	nat_watch__feed(w, m.b, m.len, 1000);
	nat_watch__drop(w, &clash, sizeof(clash));
	nat_watch__drop(w, &free_port, sizeof(free_port));
	/* the translated flow's own second first packet: an insert race */
	nat_watch__drop(w, &race, sizeof(race));
	nat_watch__finish(w, 2000 + 2000000000ULL);	/* no leases: all go out unattributed */
	assert_int_equal(g.n, 4);
	for (int i = 0; i < g.n; i++) {
		if (g.r[i].kind != PL_NAT_FAIL)
			continue;
		seen++;
		if (g.r[i].lport == 57009) {
			assert_int_equal(g.r[i].flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW), 0);
		} else if (g.r[i].lport == 57010) {
			assert_int_equal(g.r[i].flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW),
					 PL_NATF_NO_CLASH);
		} else {
			assert_int_equal(g.r[i].lport, 57008);
			assert_int_equal(g.r[i].flags & (PL_NATF_NO_CLASH | PL_NATF_SAME_FLOW),
					 PL_NATF_SAME_FLOW);
		}
	}
	assert_int_equal(seen, 3);
	nat_watch__free(w);
	lease_table__free(t);
}

/* ---- headroom ------------------------------------------------------------- */

static struct pl_nat_rec rec(int kind, __u32 pid, const char *comm, __u16 nport)
{
	struct pl_nat_rec n = { .kind = kind, .family = AF_INET, .proto = IPPROTO_TCP,
				.lport = 50000 + nport, .rport = 8080, .nat_port = nport,
				.pid = pid, .nat_netns = 7, .range_lo = 40000, .range_hi = 40003,
				.flags = PL_NATF_OWNED };

	inet_pton(AF_INET, "192.0.2.2", n.laddr);
	inet_pton(AF_INET, "198.51.100.2", n.raddr);
	inet_pton(AF_INET, "198.51.100.1", n.nat_addr);
	snprintf(n.comm, sizeof(n.comm), "%s", comm);
	n.n = kind == PL_NAT_FAIL;
	return n;
}

static void t_headroom(void **state)
{
	struct nat_view *v = nat_view__new(16);
	struct pl_nat_rec n;
	struct nat_dest *d;
	size_t nd;

	nat_view__sample(v, 1000000000ULL);
	n = rec(PL_NAT_SEEN, 0, "[no lease]", 40000);
	nat_view__apply(v, &n);
	nat_view__sample(v, 1000000000ULL);
	for (int i = 1; i <= 2; i++) {
		n = rec(PL_NAT_NEW, 10, "a", 40000 + i);
		nat_view__apply(v, &n);
	}
	n = rec(PL_NAT_FAIL, 11, "b", 40001);
	nat_view__apply(v, &n);
	/* two more in one second: 3 of 4 used, one left, half a second at 2/s */
	nat_view__sample(v, 2000000000ULL);
	d = nat_view__sorted(v, &nd);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].in_use, 3);
	assert_int_equal(d[0].usable, 4);
	assert_int_equal(d[0].free, 1);
	assert_int_equal((int)(d[0].used_pct * 100), 7500);
	assert_int_equal(d[0].failures, 1);
	assert_int_equal((int)(d[0].growth * 10), 20);
	assert_int_equal((int)(d[0].exhausted_in * 10), 5);
	assert_int_equal(d[0].top[1].pid, 10);
	assert_int_equal(d[0].top[1].n, 2);
	free(d);
	/* an end gives the port back, and takes it from its holder */
	n = rec(PL_NAT_END, 10, "a", 40001);
	nat_view__apply(v, &n);
	d = nat_view__sorted(v, &nd);
	assert_int_equal(d[0].in_use, 2);
	assert_int_equal(d[0].top[1].n, 1);
	free(d);
	/* another destination apart; a failure with no tuple counted apart */
	n = rec(PL_NAT_NEW, 12, "c", 40000);
	n.rport = 443;
	nat_view__apply(v, &n);
	memset(&n, 0, sizeof(n));
	n.kind = PL_NAT_FAIL;
	n.flags = PL_NATF_COUNT_ONLY;
	n.n = 5;
	nat_view__apply(v, &n);
	d = nat_view__sorted(v, &nd);
	assert_int_equal(nd, 2);
	assert_int_equal(d[0].rport, 8080);	/* the fuller first */
	assert_int_equal(nat_view__count_only(v), 5);
	free(d);
	nat_view__free(v);
	(void)state;
}

/* Past the table's size, a destination is counted as dropped, never written past. */
static void t_headroom_bounded(void **state)
{
	struct nat_view *v = nat_view__new(4);
	struct pl_nat_rec n;

	for (int i = 0; i < 10; i++) {
		n = rec(PL_NAT_NEW, 1, "a", 40000);
		n.rport = 1000 + i;
		nat_view__apply(v, &n);
	}
	assert_int_equal(nat_view__dests_dropped(v), 6);
	nat_view__free(v);
	(void)state;
}

/* ---- the trace file ------------------------------------------------------- */

struct back {
	struct pl_nat_rec r[8];
	int n, events;
};

static void on_ev(void *ctx, const struct pl_event *e)
{
	((struct back *)ctx)->events++;
	(void)e;
}

static void on_nat(void *ctx, const struct pl_nat_rec *n)
{
	struct back *b = ctx;

	if (b->n < 8)
		b->r[b->n] = *n;
	b->n++;
}

static void t_tracefile(void **state)
{
	char path[] = "/tmp/test_nat.XXXXXX";
	int fd = mkstemp(path);
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer tr = {};
	struct tracefile_writer *w;
	struct tracefile_info info;
	struct pl_event e = alloc_ev(1, 1, "x", 5, 1);
	struct pl_nat_rec n = rec(PL_NAT_NEW, 4242, "client", 40003);
	struct back b = {};
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	w = tracefile_create(path, &h);
	assert_non_null(w);
	assert_int_equal(tracefile_write(w, &e), 0);
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	n.kind = PL_NAT_END;
	n.hold_ns = 12345;
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	tr.drops[PL_TRAILER_NAT_LOST] = 3;
	assert_int_equal(tracefile_close(w, &tr), 0);
	f = fopen(path, "r");
	assert_int_equal(tracefile_read_nat(f, false, on_ev, NULL, on_nat, &b, &info), 0);
	fclose(f);
	assert_int_equal(b.events, 1);
	assert_int_equal(info.records, 1);	/* events: NAT records are counted apart */
	assert_int_equal(info.trailer.records, 1);
	assert_int_equal(info.trailer.drops[PL_TRAILER_NAT_LOST], 3);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.r[0].pid, 4242);
	assert_int_equal(b.r[1].hold_ns, 12345);
	/* a reader that takes no NAT records skips them, and still reads the rest */
	f = fopen(path, "r");
	b.events = 0;
	assert_int_equal(tracefile_read_all(f, false, on_ev, NULL, &b, &info), 0);
	fclose(f);
	assert_int_equal(b.events, 1);
	unlink(path);
	(void)state;
}

/* Values no writer makes are refused: a flipped flag, a kind, a pad, a count. */
static void t_sane(void **state)
{
	struct pl_nat_rec n = rec(PL_NAT_NEW, 1, "a", 40000), x;

	assert_true(tracefile_nat_sane(&n));
	x = n, x.kind = PL_NAT_MAX;
	assert_false(tracefile_nat_sane(&x));
	x = n, x.flags = 0x80;
	assert_false(tracefile_nat_sane(&x));
	x = n, x.pad = 1;
	assert_false(tracefile_nat_sane(&x));
	x = n, x.family = 3;
	assert_false(tracefile_nat_sane(&x));
	x = n, x.range_lo = 5, x.range_hi = 4;
	assert_false(tracefile_nat_sane(&x));
	x = n, x.n = 2;
	assert_false(tracefile_nat_sane(&x));
	x = rec(PL_NAT_FAIL, 1, "a", 40000);
	assert_true(tracefile_nat_sane(&x));
	x.flags = PL_NATF_COUNT_ONLY;
	assert_false(tracefile_nat_sane(&x));	/* no tuple may come with a count */
	x.family = x.proto = 0;
	x.n = 9;
	assert_true(tracefile_nat_sane(&x));
	(void)state;
}

/* Splits a CSV row (no quoted commas here) into at most max fields. */
static int csv_split(char *row, char **f, int max)
{
	int n = 0;

	for (char *p = row;; p++) {
		if (n < max)
			f[n] = p;
		n++;
		p = strchr(p, ',');
		if (!p)
			break;
		*p = '\0';
	}
	return n;
}

static int csv_col(char **hdr, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(hdr[i], name))
			return i;
	fail_msg("no column %s", name);
	return -1;
}

/*
 * report --format csv: the NAT records are rows of their own (nat,
 * nat_release), in the header's columns, as --format jsonl shows them; a
 * SEEN record (older than tracing) is no row.
 */
static void t_report_csv(void **state)
{
	char path[] = "/tmp/test_nat_csv.XXXXXX", *buf = NULL, *rows[8], *hdr[40], *f[40];
	int fd = mkstemp(path), nh, nrows = 0, c_event, c_pid, c_err, c_hold, c_nport, c_count,
	    c_naddr, c_nnetns, c_lport;
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer tr = {};
	struct report_opts o = { .fmt = REPORT_CSV };
	struct tracefile_writer *w;
	struct tracefile_info info;
	struct pl_event e = alloc_ev(1, 4242, "client", 50001, 1000);
	struct pl_nat_rec n;
	size_t len = 0;
	FILE *in, *out;

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	w = tracefile_create(path, &h);
	assert_non_null(w);
	assert_int_equal(tracefile_write(w, &e), 0);
	n = rec(PL_NAT_SEEN, 0, "", 40002);
	n.flags = 0;
	n.ts_ns = 1500;
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	n = rec(PL_NAT_NEW, 4242, "client", 40001);
	n.lport = 50001;		/* the alloc's port */
	n.ts_ns = 2000;
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	n = rec(PL_NAT_FAIL, 4242, "client", 40001);
	n.ts_ns = 2500;
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	memset(&n, 0, sizeof(n));
	n.kind = PL_NAT_FAIL;
	n.flags = PL_NATF_COUNT_ONLY;
	n.n = 5;
	n.nat_netns = 7;
	n.ts_ns = 2600;
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	n = rec(PL_NAT_END, 4242, "client", 40001);
	n.ts_ns = 3000;
	n.hold_ns = 1000;
	assert_int_equal(tracefile_write_nat(w, &n), 0);
	assert_int_equal(tracefile_close(w, &tr), 0);

	in = fopen(path, "r");
	out = open_memstream(&buf, &len);
	assert_non_null(in);
	assert_non_null(out);
	assert_int_equal(report__run(in, &o, out, path, &info), 0);
	fclose(in);
	fclose(out);
	unlink(path);

	for (char *p = buf, *nl; p && *p && nrows < 8; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		rows[nrows++] = p;
	}
	assert_int_equal(nrows, 6);	/* the header, the alloc, NEW, FAIL, COUNT_ONLY FAIL, END */
	nh = csv_split(rows[0], hdr, 40);
	assert_int_equal(nh, 32);
	c_event = csv_col(hdr, nh, "event");
	/* the last column, reconciled, is empty on every row here */
	assert_int_equal(csv_col(hdr, nh, "reconciled"), nh - 1);
	c_pid = csv_col(hdr, nh, "pid");
	c_lport = csv_col(hdr, nh, "lport");
	c_err = csv_col(hdr, nh, "error");
	c_hold = csv_col(hdr, nh, "hold_ns");
	c_nnetns = csv_col(hdr, nh, "nat_netns");
	c_naddr = csv_col(hdr, nh, "nat_addr");
	c_nport = csv_col(hdr, nh, "nat_port");
	c_count = csv_col(hdr, nh, "count");
	/* the alloc: its own row, the NAT columns empty */
	assert_int_equal(csv_split(rows[1], f, 40), nh);
	assert_string_equal(f[c_event], "alloc");
	assert_string_equal(f[c_nport], "");
	/* the translation */
	assert_int_equal(csv_split(rows[2], f, 40), nh);
	assert_string_equal(f[c_event], "nat");
	assert_string_equal(f[c_pid], "4242");
	assert_string_equal(f[c_lport], "50001");
	assert_string_equal(f[c_naddr], "198.51.100.1");
	assert_string_equal(f[c_nport], "40001");
	assert_string_equal(f[c_nnetns], "7");
	assert_string_equal(f[c_err], "");
	assert_string_equal(f[c_count], "");
	/* its failure: the clashing port, one failure */
	assert_int_equal(csv_split(rows[3], f, 40), nh);
	assert_string_equal(f[c_event], "nat");
	assert_string_equal(f[c_err], "insert_failed");
	assert_string_equal(f[c_nport], "40001");
	assert_string_equal(f[c_count], "1");
	/* failures conntrack only counted: no owner, no tuple, their number */
	assert_int_equal(csv_split(rows[4], f, 40), nh);
	assert_string_equal(f[c_pid], "");
	assert_string_equal(f[c_lport], "");
	assert_string_equal(f[c_naddr], "");
	assert_string_equal(f[c_err], "insert_failed");
	assert_string_equal(f[c_count], "5");
	/* the end: the hold */
	assert_int_equal(csv_split(rows[5], f, 40), nh);
	assert_string_equal(f[c_event], "nat_release");
	assert_string_equal(f[c_hold], "1000");
	assert_string_equal(f[c_nport], "40001");
	free(buf);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parse_new),
		cmocka_unit_test(t_not_nat),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_range),
		cmocka_unit_test(t_attr_lease_first),
		cmocka_unit_test(t_attr_new_first),
		cmocka_unit_test(t_attr_lease_ended),
		cmocka_unit_test(t_attr_ended_wildcard),
		cmocka_unit_test(t_drop_clash),
		cmocka_unit_test(t_dnat_pool),
		cmocka_unit_test(t_headroom),
		cmocka_unit_test(t_headroom_bounded),
		cmocka_unit_test(t_tracefile),
		cmocka_unit_test(t_report_csv),
		cmocka_unit_test(t_sane),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
