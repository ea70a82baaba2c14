// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The NAT watcher: conntrack's NEW and DESTROY events over ctnetlink in each
 * watched namespace, a dump of what exists at start, conntrack's statistics
 * every second, and the drop hook (bpf/natdrop.bpf.c) for failures with
 * their tuples. Each translation is attributed to the lease of its original
 * tuple.
 *
 * Plain netlink sockets and the kernel's uapi headers, no library: libmnl
 * and libnetfilter_conntrack ship no static archive in Debian, and the VM
 * tests run a statically linked portlife. The parser below checks every
 * length itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <bpf/libbpf.h>
#include "natdrop.skel.h"
#include "nat.h"
#include "netns.h"
#include "snapshot.h"
#include "util.h"

/* ---- parsing ------------------------------------------------------------- */

/* The attributes of one nesting level, by type (bounded), or -EINVAL. */
#define ATTR_MAX 32

static int attrs(const void *p, size_t len, const struct nlattr *tb[ATTR_MAX])
{
	const unsigned char *b = p;

	memset(tb, 0, ATTR_MAX * sizeof(tb[0]));
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const struct nlattr *)b;
		size_t al = a->nla_len, step = NLA_ALIGN(al);
		int type = a->nla_type & NLA_TYPE_MASK;

		if (al < NLA_HDRLEN || al > len)
			return -EINVAL;
		if (type < ATTR_MAX)
			tb[type] = a;
		if (step >= len)
			return 0;
		b += step;
		len -= step;
	}
	return len ? -EINVAL : 0;
}

static size_t alen(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static const void *adata(const struct nlattr *a)
{
	return (const unsigned char *)a + NLA_HDRLEN;
}

/* A tuple (CTA_TUPLE_ORIG or _REPLY): addresses, protocol, ports. */
static int tuple(const struct nlattr *t, __u8 *family, __u8 *proto, __u8 src[16], __u8 dst[16],
		 __u16 *sport, __u16 *dport)
{
	const struct nlattr *tb[ATTR_MAX], *ip[ATTR_MAX], *pr[ATTR_MAX];
	__be16 port;

	if (attrs(adata(t), alen(t), tb) || !tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO])
		return -EINVAL;
	if (attrs(adata(tb[CTA_TUPLE_IP]), alen(tb[CTA_TUPLE_IP]), ip) ||
	    attrs(adata(tb[CTA_TUPLE_PROTO]), alen(tb[CTA_TUPLE_PROTO]), pr))
		return -EINVAL;
	memset(src, 0, 16);
	memset(dst, 0, 16);
	if (ip[CTA_IP_V4_SRC] && ip[CTA_IP_V4_DST]) {
		if (alen(ip[CTA_IP_V4_SRC]) != 4 || alen(ip[CTA_IP_V4_DST]) != 4)
			return -EINVAL;
		*family = AF_INET;
		memcpy(src, adata(ip[CTA_IP_V4_SRC]), 4);
		memcpy(dst, adata(ip[CTA_IP_V4_DST]), 4);
	} else if (ip[CTA_IP_V6_SRC] && ip[CTA_IP_V6_DST]) {
		if (alen(ip[CTA_IP_V6_SRC]) != 16 || alen(ip[CTA_IP_V6_DST]) != 16)
			return -EINVAL;
		*family = AF_INET6;
		memcpy(src, adata(ip[CTA_IP_V6_SRC]), 16);
		memcpy(dst, adata(ip[CTA_IP_V6_DST]), 16);
	} else {
		return -EINVAL;
	}
	if (!pr[CTA_PROTO_NUM] || alen(pr[CTA_PROTO_NUM]) != 1)
		return -EINVAL;
	*proto = *(const __u8 *)adata(pr[CTA_PROTO_NUM]);
	*sport = *dport = 0;
	if (pr[CTA_PROTO_SRC_PORT] && pr[CTA_PROTO_DST_PORT]) {
		if (alen(pr[CTA_PROTO_SRC_PORT]) != 2 || alen(pr[CTA_PROTO_DST_PORT]) != 2)
			return -EINVAL;
		memcpy(&port, adata(pr[CTA_PROTO_SRC_PORT]), 2);
		*sport = ntohs(port);
		memcpy(&port, adata(pr[CTA_PROTO_DST_PORT]), 2);
		*dport = ntohs(port);
	}
	return 0;
}

int nat_ct_parse(const void *msg, size_t len, struct nat_ct *ct)
{
	const struct nlmsghdr *nh = msg;
	const struct nlattr *tb[ATTR_MAX];
	__u8 rfam = 0, rproto = 0;
	size_t hl = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	__be32 v;

	memset(ct, 0, sizeof(*ct));
	if (len < NLMSG_HDRLEN || nh->nlmsg_len < hl || nh->nlmsg_len > len)
		return -EINVAL;
	if (NFNL_SUBSYS_ID(nh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK)
		return -ENOENT;
	switch (NFNL_MSG_TYPE(nh->nlmsg_type)) {
	case IPCTNL_MSG_CT_NEW:
		/* an event with NLM_F_CREATE is a new entry; a dump's answer is MULTI */
		ct->msg = nh->nlmsg_flags & NLM_F_CREATE ? NAT_CT_NEW :
			  nh->nlmsg_flags & NLM_F_MULTI ? NAT_CT_DUMPED : NAT_CT_OTHER;
		break;
	case IPCTNL_MSG_CT_DELETE:
		ct->msg = NAT_CT_DESTROY;
		break;
	default:
		return -ENOENT;
	}
	if (attrs((const unsigned char *)nh + NLMSG_ALIGN(hl), nh->nlmsg_len - NLMSG_ALIGN(hl), tb))
		return -EINVAL;
	if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY])
		return -ENOENT;
	if (tuple(tb[CTA_TUPLE_ORIG], &ct->family, &ct->proto, ct->o_src, ct->o_dst, &ct->o_sport,
		  &ct->o_dport) ||
	    tuple(tb[CTA_TUPLE_REPLY], &rfam, &rproto, ct->r_src, ct->r_dst, &ct->r_sport,
		  &ct->r_dport))
		return -EINVAL;
	/* NAT between families (NAT64) is no port of ours to count */
	if (rfam != ct->family || rproto != ct->proto)
		return -ENOENT;
	if (ct->proto != IPPROTO_TCP && ct->proto != IPPROTO_UDP)
		return -ENOENT;
	if (tb[CTA_ID]) {
		if (alen(tb[CTA_ID]) != 4)
			return -EINVAL;
		memcpy(&v, adata(tb[CTA_ID]), 4);
		ct->id = ntohl(v);
		ct->has_id = true;
	}
	if (tb[CTA_STATUS]) {
		if (alen(tb[CTA_STATUS]) != 4)
			return -EINVAL;
		memcpy(&v, adata(tb[CTA_STATUS]), 4);
		ct->status = ntohl(v);
		ct->has_status = true;
	}
	return 0;
}

bool nat_ct_snat(const struct nat_ct *ct)
{
	/* the reply comes back to where the original left from, unless translated */
	return memcmp(ct->r_dst, ct->o_src, 16) || ct->r_dport != ct->o_sport;
}

int nat_parse_range(const char *s, __u16 *lo, __u16 *hi)
{
	unsigned long a, b;
	char buf[16];
	const char *dash = strchr(s, '-');

	if (!dash || (size_t)(dash - s) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%.*s", (int)(dash - s), s);
	if (parse_ulong(buf, 1, 65535, &a) || parse_ulong(dash + 1, 1, 65535, &b) || a > b)
		return -EINVAL;
	*lo = a;
	*hi = b;
	return 0;
}

/*
 * The range nf_nat uses when the rule gives none: the original port's class
 * (nf_nat_l4proto_unique_tuple: below 512, 600-1023, else 1024-65535).
 */
static void default_range(__u16 sport, __u16 *lo, __u16 *hi)
{
	if (sport < 512)
		*lo = 1, *hi = 511;
	else if (sport < 1024)
		*lo = 600, *hi = 1023;
	else
		*lo = 1024, *hi = 65535;
}

/* ---- netlink sockets ------------------------------------------------------ */

/* A netlink socket of NETLINK_NETFILTER inside the namespace of nsfd (-1: ours). */
static int nl_open(int nsfd, int self_fd, unsigned int groups, int rcvbuf)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int fd, err;

	if (nsfd >= 0 && (err = netns_enter(nsfd)))
		return err;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
	err = fd < 0 ? -errno : 0;
	if (nsfd >= 0 && netns_return(self_fd)) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	if (err)
		return err;
	/* a burst of new flows between two polls must fit: the kernel drops the rest */
	if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Send a ctnetlink dump request (IPCTNL_MSG_CT_GET or _GET_STATS_CPU). */
static int nl_dump(int fd, int msg, __u32 seq)
{
	struct {
		struct nlmsghdr nh;
		struct nfgenmsg nf;
	} req = {
		.nh = { .nlmsg_len = sizeof(req),
			.nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | msg,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq },
		.nf = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0 },
	};
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	return sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
}

typedef void (*msg_fn)(void *ctx, const struct nlmsghdr *nh, size_t len);

/*
 * Reads a dump's answer to its end (NLMSG_DONE), waiting at most ~2 s;
 * each message to fn. 0 or -errno.
 */
static int nl_read_dump(int fd, msg_fn fn, void *ctx)
{
	static unsigned char buf[1 << 16];
	__u64 end = mono_ns() + 2000000000ULL;

	while (mono_ns() < end) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		size_t left;

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			usleep(1000);
			continue;
		}
		if (n < 0)
			return -errno;
		left = (size_t)n;
		for (const struct nlmsghdr *nh = (const void *)buf; NLMSG_OK(nh, left);
		     nh = NLMSG_NEXT(nh, left)) {
			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				return nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ?
					e->error : -EIO;
			}
			fn(ctx, nh, nh->nlmsg_len);
		}
	}
	return -ETIMEDOUT;
}

/* Opens a namespace by name (/run/netns), path or inode number: an fd or -errno. */
static int ns_open_spec(const char *spec)
{
	unsigned long inum;
	int fd;

	if (!parse_ulong(spec, 1, 0xffffffffUL, &inum)) {
		fd = netns_open(inum, 0, NULL);
		return fd < 0 ? -ENOENT : fd;
	}
	return netns_open_named(spec);
}

/* ---- the watcher ---------------------------------------------------------- */

#define MAP_MAX (1u << 18)	/* translations tracked at once */
#define PENDING_MAX 4096	/* awaiting their lease */
#define PENDING_NS 1000000000ULL	/* how long a translation waits for its lease */
#define ENDED_MAX 2048		/* leases that ended, kept for late conntrack news */
#define ENDED_NS 5000000000ULL

struct mapping {
	__u32 id;
	int nsi;		/* index of the watched namespace */
	bool pending;		/* NEW not yet handed out: waiting for its lease */
	bool dead;		/* DESTROY seen while pending */
	bool unclassified;	/* FAIL: port_clash() not asked yet (resolve() asks) */
	__u64 since;		/* when it was queued */
	__u64 end_ts;		/* dead: when the DESTROY came */
	struct pl_nat_rec rec;	/* the NEW (or FAIL) as it will be handed out */
	/*
	 * The flow's own destination (the original tuple's), which its lease
	 * has: rec's is the one after a DNAT, whose pool the port came from.
	 */
	__u8 o_dst[16];
	__u16 o_dport;
	struct mapping *next;
	struct mapping *rnext;	/* the same reply tuple's chain (port_clash()) */
};

struct ended {
	__u8 proto, family;
	__u16 lport, rport;
	__u8 laddr[16], raddr[16];
	__u32 pid, netns;
	__u64 cgroup_id, ts;
	char comm[PL_COMM_LEN];
};

struct watched {
	int fd;			/* events */
	int dump_fd;		/* dumps and statistics */
	__u32 inum;
	__u64 stat_base, stat_now;	/* insert_failed at start, now */
	bool stat_ok;
	__u64 drops_seen;	/* failures the drop hook reported here */
	__u64 count_only;	/* failures handed out with no tuple */
	__u32 seq;
};

struct nat_watch {
	struct nat_opts o;
	struct lease_table *leases;
	nat_emit_fn emit;
	void *ctx;
	struct watched ns[NAT_MAX_NETNS];
	int nns;
	struct mapping **bucket;	/* by (ns, id) */
	struct mapping **rbucket;	/* by reply tuple: rbkt() */
	size_t nmap;
	struct mapping *pending[PENDING_MAX];	/* FIFO */
	size_t npending;
	struct ended ended[ENDED_MAX];	/* a ring */
	size_t ended_next;
	struct natdrop *drop;
	struct ring_buffer *drop_rb;
	__u64 seed;
	struct nat_stats st;
	bool resync;		/* a loss happened: dump and reconcile */
};

#define NBUCKETS (MAP_MAX / 2)

static size_t bkt(const struct nat_watch *w, int nsi, __u32 id)
{
	__u64 v = (((__u64)nsi << 32) | id) ^ w->seed;

	v *= 0x9e3779b97f4a7c15ULL;
	return (v >> 20) & (NBUCKETS - 1);
}

/* A translation's reply tuple: the destination and the NAT address and port it answers. */
static size_t rbkt(const struct nat_watch *w, int nsi, const struct pl_nat_rec *r)
{
	__u64 v = w->seed ^ ((__u64)nsi << 40) ^ ((__u64)r->proto << 32) ^
		  ((__u64)r->nat_port << 16) ^ r->rport;

	for (int i = 0; i < 16; i += 8) {
		__u64 a, b;

		memcpy(&a, r->nat_addr + i, 8);
		memcpy(&b, r->raddr + i, 8);
		v = (v ^ a) * 0x9e3779b97f4a7c15ULL;
		v = (v ^ (v >> 29) ^ b) * 0xbf58476d1ce4e5b9ULL;
	}
	return (v >> 20) & (NBUCKETS - 1);
}

static bool same_reply(const struct pl_nat_rec *a, const struct pl_nat_rec *b)
{
	return a->proto == b->proto && a->family == b->family && a->nat_port == b->nat_port &&
	       a->rport == b->rport && !memcmp(a->nat_addr, b->nat_addr, 16) &&
	       !memcmp(a->raddr, b->raddr, 16);
}

/*
 * Did a failed entry clash on its NAT port: does a translation we hold
 * answer on the same (NAT address, port) from that destination? nf_nat,
 * out of ports, keeps a clashing tuple and the insertion fails; a drop
 * after NAT for any other reason (a rule in a later postrouting chain)
 * leaves the port free.
 */
static const struct mapping *port_clash(struct nat_watch *w, int nsi, const struct pl_nat_rec *r)
{
	for (const struct mapping *m = w->rbucket[rbkt(w, nsi, r)]; m; m = m->rnext)
		if (m->nsi == nsi && same_reply(&m->rec, r))
			return m;
	return NULL;
}

static void rindex_add(struct nat_watch *w, struct mapping *m)
{
	struct mapping **p = &w->rbucket[rbkt(w, m->nsi, &m->rec)];

	m->rnext = *p;
	*p = m;
}

static void rindex_del(struct nat_watch *w, struct mapping *m)
{
	for (struct mapping **p = &w->rbucket[rbkt(w, m->nsi, &m->rec)]; *p; p = &(*p)->rnext)
		if (*p == m) {
			*p = m->rnext;
			return;
		}
}

static struct mapping *map_find(struct nat_watch *w, int nsi, __u32 id, struct mapping ***pp)
{
	struct mapping **p = &w->bucket[bkt(w, nsi, id)];

	for (; *p; p = &(*p)->next)
		if ((*p)->id == id && (*p)->nsi == nsi)
			break;
	if (pp)
		*pp = p;
	return *p;
}

static void owned_by(struct pl_nat_rec *r, __u32 pid, __u32 netns, __u64 cgroup_id,
		     const char *comm)
{
	r->pid = pid;
	r->netns = netns;
	r->cgroup_id = cgroup_id;
	memcpy(r->comm, comm, PL_COMM_LEN);
	r->flags |= PL_NATF_OWNED;
}

/*
 * The owner of a flow: a live lease, else one that ended lately, matched as
 * a live one is (lease_flow_score(): a wildcard-bound socket, a resolver's
 * UDP one closed as soon as its answer came, owns the flow of any of its
 * addresses), the newest among equals.
 */
static bool owner_of(struct nat_watch *w, struct mapping *m, __u64 now)
{
	struct pl_nat_rec *r = &m->rec;
	struct lease *l = lease_table__find_flow(w->leases, r->proto, r->family, r->laddr, r->lport,
						 m->o_dst, m->o_dport);
	const struct ended *best = NULL;
	int best_score = 0;

	if (l) {
		owned_by(r, l->pid, l->netns, l->cgroup_id, l->comm);
		return true;
	}
	for (size_t i = 0; i < ENDED_MAX; i++) {
		const struct ended *e = &w->ended[i];
		int score;

		if (!e->ts || e->lport != r->lport || e->proto != r->proto ||
		    e->family != r->family || (now > e->ts && now - e->ts > ENDED_NS))
			continue;
		score = lease_flow_score(e->laddr, e->raddr, e->rport, r->laddr, m->o_dst, m->o_dport);
		if (score > best_score || (score && score == best_score && e->ts > best->ts)) {
			best = e;
			best_score = score;
		}
	}
	if (!best)
		return false;
	owned_by(r, best->pid, best->netns, best->cgroup_id, best->comm);
	return true;
}

static void unattributed(struct pl_nat_rec *r)
{
	r->pid = 0;
	r->netns = 0;
	r->cgroup_id = 0;
	memset(r->comm, 0, sizeof(r->comm));
	snprintf(r->comm, sizeof(r->comm), "[no lease]");
}

static void map_remove(struct nat_watch *w, struct mapping *m)
{
	struct mapping **pp;

	if (map_find(w, m->nsi, m->id, &pp) == m) {
		*pp = m->next;
		w->nmap--;
		rindex_del(w, m);
	}
	free(m);
}

/* The END of a translation: its owner and tuple, and its hold time if we saw it begin. */
static void end_of(struct pl_nat_rec *end, const struct mapping *m, __u64 ts)
{
	*end = m->rec;
	end->kind = PL_NAT_END;
	end->ts_ns = ts > m->rec.ts_ns ? ts : m->rec.ts_ns;
	end->hold_ns = end->ts_ns - m->rec.ts_ns;
	if (m->rec.kind == PL_NAT_SEEN) {
		/* it existed when tracing began: how long it was held is unknown */
		end->flags |= PL_NATF_WAS_SEEN;
		end->hold_ns = 0;
	}
}

/*
 * A drop hook's failure, classified once conntrack's news read with it is
 * in (a pool filled a millisecond before the drop: its NEWs may come after
 * the drop record): a clash is nf_nat out of ports, counted against
 * conntrack's insert_failed; a drop with the port free is not.
 */
static void classify(struct nat_watch *w, struct mapping *m)
{
	const struct mapping *c = port_clash(w, m->nsi, &m->rec);

	m->unclassified = false;
	if (!c) {
		m->rec.flags |= PL_NATF_NO_CLASH;
		return;
	}
	w->ns[m->nsi].drops_seen++;
	/*
	 * The translation it clashed with is its own flow's: two packets of a
	 * new flow raced to insert one entry (a resolver's A and AAAA queries
	 * on one socket), and the first won. conntrack counts insert_failed;
	 * the pool is not short.
	 */
	if (c->rec.lport == m->rec.lport && !memcmp(c->rec.laddr, m->rec.laddr, 16))
		m->rec.flags |= PL_NATF_SAME_FLOW;
}

/* Hand out a queued record, attributed or not; a dead one's END follows. */
static void resolve(struct nat_watch *w, struct mapping *m, __u64 now, bool give_up)
{
	if (m->unclassified)
		classify(w, m);
	if (!owner_of(w, m, now)) {
		if (!give_up)
			return;
		unattributed(&m->rec);
		w->st.unattributed += m->rec.kind != PL_NAT_FAIL;
	}
	m->pending = false;
	w->emit(w->ctx, &m->rec);
	if (m->rec.kind == PL_NAT_FAIL || m->dead) {
		if (m->dead) {
			struct pl_nat_rec end = m->rec;

			end_of(&end, m, m->end_ts);
			w->emit(w->ctx, &end);
		}
		if (m->rec.kind == PL_NAT_FAIL)
			free(m);
		else
			map_remove(w, m);
	}
}

/* Retry the queue: resolved ones leave, expired ones go out unattributed. */
static void drain_pending(struct nat_watch *w, __u64 now, bool all)
{
	size_t k = 0;

	for (size_t i = 0; i < w->npending; i++) {
		struct mapping *m = w->pending[i];

		/* after the poll's netlink reads; before the statistics are matched */
		if (m->unclassified)
			classify(w, m);
		if (all || now - m->since >= PENDING_NS || owner_of(w, m, now)) {
			resolve(w, m, now, true);	/* may free m */
			continue;
		}
		w->pending[k++] = m;
	}
	w->npending = k;
}

/* Queue a record for its lease; with the queue full, the oldest goes out as it is. */
static void enqueue(struct nat_watch *w, struct mapping *m, __u64 now)
{
	/* a failure waits for the poll's netlink reads all the same: classify() */
	if (!m->unclassified && owner_of(w, m, now)) {
		m->pending = true;
		resolve(w, m, now, false);
		return;
	}
	if (w->npending == PENDING_MAX) {
		struct mapping *old = w->pending[0];

		memmove(w->pending, w->pending + 1, (PENDING_MAX - 1) * sizeof(w->pending[0]));
		w->npending--;
		resolve(w, old, now, true);
	}
	m->pending = true;
	m->since = now;
	w->pending[w->npending++] = m;
}

/*
 * A translation's destination: the reply tuple's source, the one nf_nat
 * keeps the NAT port unique for. After a DNAT (a Kubernetes Service: the
 * ClusterIP's flows go to a pod) it is not the flow's own, and flows to the
 * Service and straight to the pod share one pool: the record says so.
 */
static void nat_dest(struct pl_nat_rec *r, const __u8 *o_dst, __u16 o_dport,
		     const __u8 *r_src, __u16 r_sport)
{
	memcpy(r->raddr, r_src, 16);
	r->rport = r_sport;
	if (o_dport != r_sport || memcmp(o_dst, r_src, 16))
		r->flags |= PL_NATF_DNAT;
}

static void fill_rec(struct nat_watch *w, struct pl_nat_rec *r, const struct nat_ct *ct, int nsi,
		     __u64 ts)
{
	memset(r, 0, sizeof(*r));
	r->family = ct->family;
	r->proto = ct->proto;
	memcpy(r->laddr, ct->o_src, 16);
	r->lport = ct->o_sport;
	nat_dest(r, ct->o_dst, ct->o_dport, ct->r_src, ct->r_sport);
	memcpy(r->nat_addr, ct->r_dst, 16);
	r->nat_port = ct->r_dport;
	r->nat_netns = w->ns[nsi].inum;
	r->ts_ns = ts;
	if (w->o.range_hi) {
		r->range_lo = w->o.range_lo;
		r->range_hi = w->o.range_hi;
	} else {
		default_range(ct->o_sport, &r->range_lo, &r->range_hi);
	}
}

static void on_new(struct nat_watch *w, int nsi, const struct nat_ct *ct, enum pl_nat_kind kind,
		   __u64 now)
{
	struct mapping *m, **pp;

	if (!ct->has_id || !nat_ct_snat(ct))
		return;
	if (map_find(w, nsi, ct->id, &pp))
		return;	/* seen already (a dump that crossed an event) */
	if (w->nmap >= MAP_MAX || !(m = calloc(1, sizeof(*m)))) {
		w->st.untracked++;
		return;
	}
	m->id = ct->id;
	m->nsi = nsi;
	fill_rec(w, &m->rec, ct, nsi, now);
	memcpy(m->o_dst, ct->o_dst, 16);
	m->o_dport = ct->o_dport;
	m->rec.kind = kind;
	*pp = m;
	w->nmap++;
	rindex_add(w, m);
	enqueue(w, m, now);
}

static void on_destroy(struct nat_watch *w, int nsi, const struct nat_ct *ct, __u64 now)
{
	struct mapping *m;
	struct pl_nat_rec end;

	if (!ct->has_id || !(m = map_find(w, nsi, ct->id, NULL)))
		return;	/* not NAT, or older than us and not dumped */
	if (m->pending) {
		/* its lease is not known yet: END goes out with the NEW */
		m->dead = true;
		m->end_ts = now;
		return;
	}
	end_of(&end, m, now);
	w->emit(w->ctx, &end);
	map_remove(w, m);
}

static void handle(struct nat_watch *w, int nsi, const struct nlmsghdr *nh, size_t len, __u64 now)
{
	struct nat_ct ct;

	if (nat_ct_parse(nh, len, &ct))
		return;
	if (ct.msg == NAT_CT_NEW)
		on_new(w, nsi, &ct, PL_NAT_NEW, now);
	else if (ct.msg == NAT_CT_DUMPED)
		on_new(w, nsi, &ct, PL_NAT_SEEN, now);
	else if (ct.msg == NAT_CT_DESTROY)
		on_destroy(w, nsi, &ct, now);
}

struct dump_ctx {
	struct nat_watch *w;
	int nsi;
	__u64 now;
	__u32 *ids;		/* resync: the ids that exist */
	size_t nids, cap;
	__u64 stat;		/* statistics: insert_failed summed over CPUs */
};

static void on_dumped(void *ctx, const struct nlmsghdr *nh, size_t len)
{
	struct dump_ctx *d = ctx;
	struct nat_ct ct;

	if (nat_ct_parse(nh, len, &ct) || !ct.has_id)
		return;
	if (d->ids && nat_ct_snat(&ct)) {
		if (d->nids == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 1024;
			__u32 *nv = realloc(d->ids, cap * sizeof(*nv));

			if (!nv)
				return;
			d->ids = nv;
			d->cap = cap;
		}
		d->ids[d->nids++] = ct.id;
	}
	ct.msg = NAT_CT_DUMPED;
	on_new(d->w, d->nsi, &ct, PL_NAT_SEEN, d->now);
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * After a loss: dump the table again. Entries we hold that the kernel no
 * longer has ended unseen (END_LOST, no hold time); new ones come as SEEN.
 */
static void resync(struct nat_watch *w, __u64 now)
{
	for (int i = 0; i < w->nns; i++) {
		struct dump_ctx d = { .w = w, .nsi = i, .now = now, .ids = malloc(4) };

		if (!d.ids || nl_dump(w->ns[i].dump_fd, IPCTNL_MSG_CT_GET, ++w->ns[i].seq) ||
		    nl_read_dump(w->ns[i].dump_fd, on_dumped, &d)) {
			free(d.ids);
			continue;
		}
		d.cap = d.cap ? d.cap : 1;
		qsort(d.ids, d.nids, sizeof(*d.ids), cmp_u32);
		for (size_t b = 0; b < NBUCKETS; b++) {
			struct mapping *m = w->bucket[b], *next;

			for (; m; m = next) {
				next = m->next;
				if (m->nsi != i || m->pending ||
				    bsearch(&m->id, d.ids, d.nids, sizeof(*d.ids), cmp_u32))
					continue;
				struct pl_nat_rec end;

				end_of(&end, m, now);
				end.flags |= PL_NATF_END_LOST;
				end.hold_ns = 0;
				w->emit(w->ctx, &end);
				map_remove(w, m);
			}
		}
		free(d.ids);
	}
	w->st.resyncs++;
}

int nat_watch__drop(void *ctx, void *data, size_t len)
{
	struct nat_watch *w = ctx;
	struct pl_nat_drop e;
	struct mapping *m;
	int nsi;

	if (len < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	if (e.type != PL_NAT_DROP || (e.family != AF_INET && e.family != AF_INET6))
		return 0;
	for (nsi = 0; nsi < w->nns && w->ns[nsi].inum != e.netns; nsi++)
		;
	if (nsi == w->nns || !(m = calloc(1, sizeof(*m))))
		return 0;
	m->nsi = nsi;
	m->rec.kind = PL_NAT_FAIL;
	m->rec.family = e.family;
	m->rec.proto = e.proto;
	memcpy(m->rec.laddr, e.saddr, 16);
	m->rec.lport = e.sport;
	nat_dest(&m->rec, e.daddr, e.dport, e.real_daddr, e.real_dport);
	memcpy(m->o_dst, e.daddr, 16);
	m->o_dport = e.dport;
	memcpy(m->rec.nat_addr, e.nat_addr, 16);
	m->rec.nat_port = e.nat_port;
	m->rec.nat_netns = e.netns;
	m->rec.n = 1;
	/* the BPF clock is CLOCK_MONOTONIC, as ours */
	m->rec.ts_ns = e.ts_ns;
	if (w->o.range_hi) {
		m->rec.range_lo = w->o.range_lo;
		m->rec.range_hi = w->o.range_hi;
	} else {
		default_range(e.sport, &m->rec.range_lo, &m->rec.range_hi);
	}
	m->unclassified = true;
	enqueue(w, m, mono_ns());
	return 0;
}

static int load_drop_hook(struct nat_watch *w)
{
	int err;

	w->drop = natdrop__open();
	if (!w->drop)
		return -errno;
	for (int i = 0; i < w->nns; i++)
		((__u32 *)w->drop->rodata->watch_netns)[i] = w->ns[i].inum;
	err = natdrop__load(w->drop);
	if (!err)
		err = natdrop__attach(w->drop);
	if (!err) {
		w->drop_rb = ring_buffer__new(bpf_map__fd(w->drop->maps.nat_events), nat_watch__drop, w,
					      NULL);
		if (!w->drop_rb)
			err = -errno;
	}
	if (err) {
		natdrop__destroy(w->drop);
		w->drop = NULL;
	}
	return err;
}

/* conntrack's insert_failed, summed over CPUs, of namespace i. */
static void on_stat(void *ctx, const struct nlmsghdr *nh, size_t len)
{
	struct dump_ctx *d = ctx;
	const struct nlattr *tb[ATTR_MAX];
	size_t hl = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct nfgenmsg)));
	__be32 v;

	if (len < hl || attrs((const unsigned char *)nh + hl, len - hl, tb))
		return;
	if (tb[CTA_STATS_INSERT_FAILED] && alen(tb[CTA_STATS_INSERT_FAILED]) == 4) {
		memcpy(&v, adata(tb[CTA_STATS_INSERT_FAILED]), 4);
		d->stat += ntohl(v);
	}
}

static int read_stat(struct nat_watch *w, int i, __u64 *out)
{
	struct dump_ctx d = { .w = w, .nsi = i };
	int err = nl_dump(w->ns[i].dump_fd, IPCTNL_MSG_CT_GET_STATS_CPU, ++w->ns[i].seq);

	if (!err)
		err = nl_read_dump(w->ns[i].dump_fd, on_stat, &d);
	if (!err)
		*out = d.stat;
	return err;
}

struct nat_watch *nat_watch__new(const struct nat_opts *o, struct lease_table *leases,
				 nat_emit_fn emit, void *ctx, char *why, size_t whylen)
{
	struct nat_watch *w = calloc(1, sizeof(*w));
	unsigned int groups = (1u << (NFNLGRP_CONNTRACK_NEW - 1)) |
			      (1u << (NFNLGRP_CONNTRACK_DESTROY - 1));
	int self = -1, err = 0;
	__u64 now = mono_ns();

	if (!w || !(w->bucket = calloc(NBUCKETS, sizeof(*w->bucket))) ||
	    !(w->rbucket = calloc(NBUCKETS, sizeof(*w->rbucket)))) {
		if (w)
			free(w->bucket);
		free(w);
		snprintf(why, whylen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	w->o = *o;
	w->leases = leases;
	w->emit = emit;
	w->ctx = ctx;
	w->seed = now * 0x9e3779b97f4a7c15ULL;
	if (leases && lease_table__index_flows(leases)) {
		err = -ENOMEM;
		snprintf(why, whylen, "out of memory for the flow index");
		goto fail;
	}
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		err = -errno;
		snprintf(why, whylen, "cannot open /proc/self/ns/net: %s", strerror(-err));
		goto fail;
	}
	for (int i = -1; i < o->nnetns; i++) {
		int nsfd = -1;
		struct watched *ns = &w->ns[w->nns];
		__u32 inum;

		if (i < 0 && o->no_host)
			continue;
		if (i >= 0) {
			nsfd = ns_open_spec(o->netns[i]);
			if (nsfd < 0) {
				err = nsfd;
				snprintf(why, whylen, "cannot open the network namespace '%.100s': "
					 "%s: give a name in /run/netns, a path such as "
					 "/proc/PID/ns/net, or an inode number", o->netns[i],
					 strerror(-err));
				goto fail;
			}
		}
		inum = netns_fd_inum(nsfd >= 0 ? nsfd : self);
		for (int k = 0; k < w->nns; k++)
			if (w->ns[k].inum == inum)
				inum = 0;	/* named twice: once is enough */
		if (!inum) {
			if (nsfd >= 0)
				close(nsfd);
			continue;
		}
		ns->inum = inum;
		ns->fd = nl_open(nsfd, self, groups, 8 << 20);
		ns->dump_fd = ns->fd >= 0 ? nl_open(nsfd, self, 0, 0) : -1;
		if (nsfd >= 0)
			close(nsfd);
		if (ns->fd < 0 || ns->dump_fd < 0) {
			err = ns->fd < 0 ? ns->fd : ns->dump_fd;
			if (ns->fd >= 0)
				close(ns->fd);
			snprintf(why, whylen, "cannot listen to conntrack in netns %u: %s: it needs "
				 "CAP_NET_ADMIN and conntrack's netlink (CONFIG_NF_CT_NETLINK, "
				 "or modprobe nf_conntrack_netlink)", inum, strerror(-err));
			goto fail;
		}
		w->st.netns[w->nns] = inum;
		w->nns++;
	}
	w->st.nnetns = w->nns;
	if (w->o.range_hi)
		snprintf(w->st.range_src, sizeof(w->st.range_src), "--nat-range %u-%u",
			 w->o.range_lo, w->o.range_hi);
	else
		snprintf(w->st.range_src, sizeof(w->st.range_src),
			 "nf_nat's default 1024-65535");
	/* the drop hook first: a failure during the dump is then attributed */
	w->st.drop_hook = w->nns && !load_drop_hook(w);
	for (int i = 0; i < w->nns; i++) {
		struct dump_ctx d = { .w = w, .nsi = i, .now = now };

		w->ns[i].stat_ok = !read_stat(w, i, &w->ns[i].stat_base);
		w->ns[i].stat_now = w->ns[i].stat_base;
		/* what exists already holds ports: headroom must count it */
		if (nl_dump(w->ns[i].dump_fd, IPCTNL_MSG_CT_GET, ++w->ns[i].seq) == 0)
			nl_read_dump(w->ns[i].dump_fd, on_dumped, &d);
	}
	close(self);
	return w;
fail:
	if (self >= 0)
		close(self);
	nat_watch__free(w);
	errno = -err;
	return NULL;
}

struct nat_watch *nat_watch__detached(__u32 inum, const struct nat_opts *o,
				      struct lease_table *leases, nat_emit_fn emit, void *ctx)
{
	struct nat_watch *w = calloc(1, sizeof(*w));

	if (!w || !(w->bucket = calloc(NBUCKETS, sizeof(*w->bucket))) ||
	    !(w->rbucket = calloc(NBUCKETS, sizeof(*w->rbucket)))) {
		if (w)
			free(w->bucket);
		free(w);
		return NULL;
	}
	w->o = *o;
	w->leases = leases;
	w->emit = emit;
	w->ctx = ctx;
	if (leases && lease_table__index_flows(leases)) {
		nat_watch__free(w);
		return NULL;
	}
	w->ns[0].inum = inum;
	w->ns[0].fd = w->ns[0].dump_fd = -1;
	w->nns = 1;
	return w;
}

void nat_watch__feed(struct nat_watch *w, const void *msg, size_t len, __u64 now)
{
	handle(w, 0, msg, len, now);
	drain_pending(w, now, false);
}

void nat_watch__free(struct nat_watch *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nns; i++) {
		if (w->ns[i].fd >= 0)
			close(w->ns[i].fd);
		if (w->ns[i].dump_fd >= 0)
			close(w->ns[i].dump_fd);
	}
	ring_buffer__free(w->drop_rb);
	natdrop__destroy(w->drop);
	for (size_t i = 0; i < w->npending; i++)
		if (w->pending[i]->rec.kind == PL_NAT_FAIL)
			free(w->pending[i]);
	for (size_t b = 0; w->bucket && b < NBUCKETS; b++)
		for (struct mapping *m = w->bucket[b], *next; m; m = next) {
			next = m->next;
			free(m);
		}
	free(w->bucket);
	free(w->rbucket);
	free(w);
}

void nat_watch__poll(struct nat_watch *w, __u64 now)
{
	static unsigned char buf[1 << 16];

	if (w->drop_rb)
		ring_buffer__consume(w->drop_rb);
	for (int i = 0; i < w->nns; i++) {
		if (w->ns[i].fd < 0)
			continue;
		/* bounded: a flood cannot keep us here forever */
		for (int rounds = 0; rounds < 256; rounds++) {
			ssize_t n = recv(w->ns[i].fd, buf, sizeof(buf), 0);
			size_t left;

			if (n < 0 && errno == ENOBUFS) {
				/* the kernel dropped events: say so, then look again */
				w->st.lost++;
				w->resync = true;
				continue;
			}
			if (n <= 0)
				break;
			left = (size_t)n;
			for (const struct nlmsghdr *nh = (const void *)buf; NLMSG_OK(nh, left);
			     nh = NLMSG_NEXT(nh, left))
				handle(w, i, nh, nh->nlmsg_len, now);
		}
	}
	if (w->resync) {
		w->resync = false;
		resync(w, now);
	}
	drain_pending(w, now, false);
}

void nat_watch__tick(struct nat_watch *w, __u64 now)
{
	__u64 v[NAT_MAX_NETNS] = {};
	bool ok[NAT_MAX_NETNS] = {};

	/* statistics first, then the drop hook's records: it sees each drop after the count */
	for (int i = 0; i < w->nns; i++)
		ok[i] = w->ns[i].stat_ok && !read_stat(w, i, &v[i]);
	nat_watch__poll(w, now);
	w->st.insert_failed = 0;
	for (int i = 0; i < w->nns; i++) {
		struct watched *ns = &w->ns[i];
		__u64 total, told;

		if (!ok[i])
			continue;
		ns->stat_now = v[i];
		total = v[i] >= ns->stat_base ? v[i] - ns->stat_base : 0;
		w->st.insert_failed += total;
		told = ns->drops_seen + ns->count_only;
		if (total > told) {
			struct pl_nat_rec r = { .kind = PL_NAT_FAIL, .flags = PL_NATF_COUNT_ONLY,
						.n = (__u32)(total - told), .nat_netns = ns->inum,
						.ts_ns = now };

			unattributed(&r);
			ns->count_only += r.n;
			w->emit(w->ctx, &r);
		}
	}
	if (w->drop)
		w->st.drops_lost = w->drop->bss->lost;
}

void nat_watch__finish(struct nat_watch *w, __u64 now)
{
	nat_watch__tick(w, now);
	drain_pending(w, now, true);
}

void nat_watch__lease_sink(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct nat_watch *w = ctx;
	struct ended *x;

	if (r->what != LW_END || !r->lease || !(r->lease->flags & L_ALLOCATED))
		return;
	x = &w->ended[w->ended_next];
	w->ended_next = (w->ended_next + 1) % ENDED_MAX;
	x->proto = r->lease->proto;
	x->family = r->lease->family;
	x->lport = r->lease->lport;
	x->rport = r->lease->rport;
	memcpy(x->laddr, r->lease->laddr, 16);
	memcpy(x->raddr, r->lease->raddr, 16);
	x->pid = r->lease->pid;
	x->netns = r->lease->netns;
	x->cgroup_id = r->lease->cgroup_id;
	memcpy(x->comm, r->lease->comm, PL_COMM_LEN);
	/* the kernel's CLOCK_MONOTONIC, as the watcher's own clock */
	x->ts = e->ts_ns ? e->ts_ns : 1;
}

const struct nat_stats *nat_watch__stats(struct nat_watch *w)
{
	return &w->st;
}

/* ---- one dump, for `ports --headroom` ------------------------------------ */

struct sock_key {
	__u8 proto;
	__u16 lport;
	const struct sock_ent *e;
};

static int by_sock_key(const void *a, const void *b)
{
	const struct sock_key *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto - y->proto;
	return (int)x->lport - (int)y->lport;
}

struct one_dump {
	struct nat_view *v;
	struct sock_key *keys;
	size_t nkeys;
	__u32 inum;
	const struct nat_opts *o;
	__u64 ts;
};

static void on_one(void *ctx, const struct nlmsghdr *nh, size_t len)
{
	struct one_dump *d = ctx;
	struct sock_key key, *k;
	struct pl_nat_rec r;
	struct nat_ct ct;

	if (nat_ct_parse(nh, len, &ct) || !nat_ct_snat(&ct))
		return;
	memset(&r, 0, sizeof(r));
	r.kind = PL_NAT_SEEN;
	r.family = ct.family;
	r.proto = ct.proto;
	memcpy(r.laddr, ct.o_src, 16);
	r.lport = ct.o_sport;
	nat_dest(&r, ct.o_dst, ct.o_dport, ct.r_src, ct.r_sport);
	memcpy(r.nat_addr, ct.r_dst, 16);
	r.nat_port = ct.r_dport;
	r.nat_netns = d->inum;
	r.ts_ns = d->ts;
	if (d->o->range_hi) {
		r.range_lo = d->o->range_lo;
		r.range_hi = d->o->range_hi;
	} else {
		default_range(ct.o_sport, &r.range_lo, &r.range_hi);
	}
	unattributed(&r);
	/* the owner: the socket of the original tuple, in whichever namespace */
	key.proto = ct.proto;
	key.lport = ct.o_sport;
	k = d->nkeys ? bsearch(&key, d->keys, d->nkeys, sizeof(key), by_sock_key) : NULL;
	while (k && k > d->keys && !by_sock_key(k - 1, &key))
		k--;
	for (; k && k < d->keys + d->nkeys && !by_sock_key(k, &key); k++) {
		const struct pl_sock_rec *s = &k->e->r;

		if (s->family != ct.family || memcmp(s->laddr, ct.o_src, 16) ||
		    s->rport != ct.o_dport || memcmp(s->raddr, ct.o_dst, 16) || !k->e->pid)
			continue;
		r.pid = k->e->pid;
		r.netns = s->netns;
		memcpy(r.comm, k->e->comm, PL_COMM_LEN);
		r.flags |= PL_NATF_OWNED;
		break;
	}
	nat_view__apply(d->v, &r);
}

int nat_dump(const struct nat_opts *o, const struct snapshot *s, struct nat_view *v, __u64 ts,
	     char *why, size_t whylen)
{
	struct one_dump d = { .v = v, .o = o, .ts = ts };
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err = 0;

	if (self < 0) {
		snprintf(why, whylen, "cannot open /proc/self/ns/net: %s", strerror(errno));
		return -errno;
	}
	if (s && s->n) {
		d.keys = calloc(s->n, sizeof(*d.keys));
		for (size_t i = 0; d.keys && i < s->n; i++) {
			d.keys[i].proto = s->v[i].r.proto;
			d.keys[i].lport = s->v[i].r.lport;
			d.keys[i].e = &s->v[i];
		}
		if (d.keys) {
			d.nkeys = s->n;
			qsort(d.keys, d.nkeys, sizeof(*d.keys), by_sock_key);
		}
	}
	for (int i = -1; i < o->nnetns && !err; i++) {
		int nsfd = -1, fd;

		if (i < 0 && o->no_host)
			continue;
		if (i >= 0 && (nsfd = ns_open_spec(o->netns[i])) < 0) {
			err = nsfd;
			snprintf(why, whylen, "cannot open the network namespace '%.100s': %s",
				 o->netns[i], strerror(-err));
			break;
		}
		d.inum = netns_fd_inum(nsfd >= 0 ? nsfd : self);
		fd = nl_open(nsfd, self, 0, 0);
		if (nsfd >= 0)
			close(nsfd);
		if (fd < 0) {
			err = fd;
			snprintf(why, whylen, "cannot read conntrack in netns %u: %s", d.inum,
				 strerror(-err));
			break;
		}
		err = nl_dump(fd, IPCTNL_MSG_CT_GET, 1);
		if (!err)
			err = nl_read_dump(fd, on_one, &d);
		/* no conntrack in that namespace at all: nothing is NATed there */
		if (err == -ENOENT || err == -EOPNOTSUPP)
			err = 0;
		if (err)
			snprintf(why, whylen, "reading conntrack in netns %u failed: %s", d.inum,
				 strerror(-err));
		close(fd);
	}
	free(d.keys);
	close(self);
	return err;
}
