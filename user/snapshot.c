// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "iter.h"
#include "netns.h"
#include "snapshot.h"
#include "sockdiag.h"
#include "util.h"

/* Owners sorted by socket inode, then pid: ties broken the same way every time. */
static int owner_cmp(const void *a, const void *b)
{
	const struct pl_owner_rec *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* The current thread's netns: its port range and reserved ports. */
static void read_ns_sysctls(struct ns_info *ns)
{
	unsigned int lo = 32768, hi = 60999;
	char buf[65536], *p, *tok;
	FILE *f;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re"))) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo > hi || hi > 65535)
			lo = 32768, hi = 60999;
		fclose(f);
	}
	ns->lo = lo;
	ns->hi = hi;
	ns->pick_hi = ns_pick_hi(lo, hi);
	ns->tw_reuse = 2;	/* the kernel's default: loopback only */
	if ((f = fopen("/proc/sys/net/ipv4/tcp_tw_reuse", "re"))) {
		unsigned int v;

		if (fscanf(f, "%u", &v) == 1 && v <= 2)
			ns->tw_reuse = v;
		fclose(f);
	}
	ns->tw_reuse_delay_ms = 1000;	/* before 6.13: "a second later" */
	if ((f = fopen("/proc/sys/net/ipv4/tcp_tw_reuse_delay", "re"))) {
		unsigned int v;

		if (fscanf(f, "%u", &v) == 1)
			ns->tw_reuse_delay_ms = v;
		fclose(f);
	}
	/* "1000-1005,2000": ranges and single ports */
	if ((f = fopen("/proc/sys/net/ipv4/ip_local_reserved_ports", "re"))) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
		for (tok = strtok_r(buf, ",\n", &p); tok; tok = strtok_r(NULL, ",\n", &p)) {
			unsigned int a, b;
			int k = sscanf(tok, "%u-%u", &a, &b);

			if (k == 1)
				b = a;
			if (k < 1 || a > 65535 || b > 65535)
				continue;
			for (unsigned int port = a; port <= b; port++)
				ns->reserved[port / 8] |= 1 << (port % 8);
		}
	}
	for (unsigned int port = ns->lo; port <= ns->pick_hi; port++)
		ns->nreserved += ns_reserved(ns, port);
}

bool ns_reserved(const struct ns_info *ns, __u16 port)
{
	return ns->reserved[port / 8] & (1 << (port % 8));
}

bool ns_tw_reuse_covers(const struct ns_info *ns, const struct pl_sock_rec *r)
{
	if (!ns || !ns->tw_reuse)
		return false;
	return ns->tw_reuse != 2 || (r->flags & PL_SOCKF_LO_DEV) ||
	       addr_loopback(r->family, r->laddr) || addr_loopback(r->family, r->raddr);
}

bool ns_tw_reusable(const struct ns_info *ns, const struct pl_sock_rec *r)
{
	/* TCP_TIMEWAIT_LEN: how long it has waited is a minute less what is left */
	const __u64 len = 60ULL * 1000000000ULL;

	if (r->proto != IPPROTO_TCP || r->state != PL_TCP_TIME_WAIT ||
	    !(r->flags & PL_SOCKF_TW_TS) || !ns_tw_reuse_covers(ns, r))
		return false;
	return r->expires_ns <= len && len - r->expires_ns >= ns->tw_reuse_delay_ms * 1000000ULL;
}

const struct ns_info *snapshot__ns(const struct snapshot *s, __u32 inum)
{
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].inum == inum)
			return &s->ns[i];
	return NULL;
}

/*
 * The sockets of the namespace this thread is in (inode netns), appended to
 * socks: the iterators' and the bound-only TCP ones that only sock_diag
 * lists (6.7+). Without those a port held by bind() alone had no holder:
 * `ports` and `who` did not show it, a conflict with it was "already gone".
 */
static int read_sockets(const struct snapshot_links *links, __u32 netns, struct vec *socks,
			size_t *bound_failed)
{
	int err = iter_collect(links->tcp, sizeof(struct pl_sock_rec), sizeof(struct sock_ent),
			       socks);

	if (!err && links->udp)
		err = iter_collect(links->udp, sizeof(struct pl_sock_rec),
				   sizeof(struct sock_ent), socks);
	/* best effort: a kernel without sock_diag for TCP loses only these (counted) */
	if (!err && !links->no_bound && sockdiag_bound(netns, socks))
		(*bound_failed)++;
	return err;
}

/* The first of owners o[0..n) (sorted by owner_cmp) holding inode, or n. */
static size_t first_owner(const struct pl_owner_rec *o, size_t n, __u64 inode)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o[mid].inode < inode)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && o[lo].inode == inode ? lo : n;
}

/*
 * Who holds each socket: the lowest pid of the processes whose file tables
 * have it (so the same socket always shows the same owner), and how many
 * there are (a forked server, a socket passed with SCM_RIGHTS).
 */
static void find_owners(struct snapshot *s, const struct snapshot_links *links)
{
	struct vec owners = {};
	struct pl_owner_rec *o;

	if (!links->owner || iter_collect(links->owner, sizeof(*o), sizeof(*o), &owners))
		goto out;
	o = owners.v;
	qsort(o, owners.n, sizeof(*o), owner_cmp);
	for (size_t i = 0; i < s->n; i++) {
		struct sock_ent *e = &s->v[i];
		size_t k = e->r.inode ? first_owner(o, owners.n, e->r.inode) : owners.n, first, pick;

		if (k == owners.n)
			continue;
		first = pick = k;
		/*
		 * Holders sorted by pid; one process may come more than once
		 * (threads of a leader that exited: pl_ports_owner), counted once.
		 */
		for (; k < owners.n && o[k].inode == e->r.inode; k++) {
			if (k == first || o[k].tgid != o[k - 1].tgid)
				e->nholders++;
			if (links->owner_pid && o[k].tgid == links->owner_pid)
				pick = k;
		}
		e->pid = o[pick].tgid;
		e->cgroup_id = o[pick].cgroup_id;
		memcpy(e->comm, o[pick].comm, PL_COMM_LEN);
		e->comm[PL_COMM_LEN - 1] = '\0';
	}
out:
	free(owners.v);
}

struct take_ctx {
	struct snapshot *s;
	const struct snapshot_links *links;
	struct vec socks;
	size_t bound_failed;
};

/* netns_each(): one namespace's sysctls and sockets. */
static int take_ns(void *ctx, const struct netns_ref *nr)
{
	struct take_ctx *c = ctx;
	struct ns_info *ns = &c->s->ns[c->s->nns];
	int err;

	ns->inum = nr->inum;
	read_ns_sysctls(ns);
	err = read_sockets(c->links, ns->inum, &c->socks, &c->bound_failed);
	if (!err)
		c->s->nns++;
	return err;
}

int snapshot__take(struct snapshot *s, const struct snapshot_links *links, __u32 only_netns)
{
	struct take_ctx c = { .s = s, .links = links };
	struct netns_ref *nsv;
	size_t nns;
	int err;

	memset(s, 0, sizeof(*s));
	s->ts_ns = mono_ns();
	nsv = netns_list(&nns);
	s->ns = calloc(nns ? nns : 1, sizeof(*s->ns));
	if (!s->ns) {
		free(nsv);
		return -ENOMEM;
	}
	err = netns_each(nsv, nns, only_netns, take_ns, &c, &s->ns_denied, &s->ns_unreachable);
	free(nsv);
	s->bound_failed = c.bound_failed;
	s->v = c.socks.v;
	s->n = c.socks.n;
	s->cap = c.socks.cap;
	if (err) {
		snapshot__free(s);
		return err;
	}
	find_owners(s, links);
	return 0;
}

void snapshot__free(struct snapshot *s)
{
	free(s->v);
	free(s->ns);
	memset(s, 0, sizeof(*s));
}
