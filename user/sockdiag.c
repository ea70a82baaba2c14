// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <bpf/btf.h>
#include "sockdiag.h"

#define TCP_CLOSE 7
#define TCP_BOUND_INACTIVE 13	/* include/net/tcp_states.h, 6.7+: asked for by this
				 * state bit, a bound-only socket comes back as CLOSE */

/* One family's bound-only TCP sockets of this thread's netns, appended to socks. */
static int dump_family(int fd, int family, __u32 netns, struct vec *socks)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.r = { .sdiag_family = family, .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = 1U << TCP_BOUND_INACTIVE },
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	/* aligned for nlmsghdr; a dump comes in many reads of up to a page each */
	__u64 buf[8192 / sizeof(__u64)];

	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const char *p = (const char *)buf;
		size_t left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* the kernel's answer, still checked: every length before it is used */
		for (left = (size_t)n; left >= sizeof(struct nlmsghdr);) {
			const struct nlmsghdr *h = (const struct nlmsghdr *)p;
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			size_t step = NLMSG_ALIGN(h->nlmsg_len);
			struct sock_ent *e;

			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > left)
				return -EPROTO;	/* a message cut short */
			p += step < left ? step : left;
			left -= step < left ? step : left;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *ne = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*ne)))
					return -EPROTO;
				return ne->error;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
			    m->idiag_state != TCP_CLOSE ||
			    (m->idiag_family != AF_INET && m->idiag_family != AF_INET6))
				continue;
			e = vec_push(socks, sizeof(*e));
			if (!e)
				return -ENOMEM;
			e->r.family = m->idiag_family;
			e->r.proto = IPPROTO_TCP;
			e->r.state = TCP_BOUND_INACTIVE;
			e->r.lport = ntohs(m->id.idiag_sport);
			memcpy(e->r.laddr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
			e->r.netns = netns;
			e->r.uid = m->idiag_uid;
			e->r.inode = m->idiag_inode;
			if (m->id.idiag_cookie[0] != INET_DIAG_NOCOOKIE ||
			    m->id.idiag_cookie[1] != INET_DIAG_NOCOOKIE)
				e->r.cookie = m->id.idiag_cookie[0] |
					      (__u64)m->id.idiag_cookie[1] << 32;
		}
		if (left)
			return -EPROTO;
	}
}

int sockdiag_bound(__u32 netns, struct vec *socks)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), err;

	if (fd < 0)
		return -errno;
	err = dump_family(fd, AF_INET, netns, socks);
	if (!err)
		err = dump_family(fd, AF_INET6, netns, socks);
	close(fd);
	return err;
}

bool sockdiag_bound_known(void)
{
	static int known = -1;
	struct btf *btf;

	if (known >= 0)
		return known;
	known = 0;
	btf = btf__load_vmlinux_btf();
	if (!btf)
		return false;
	/* an enumerator, not a type: the enums are walked for its name */
	for (__u32 id = 1; id < btf__type_cnt(btf) && !known; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e;

		if (!btf_is_enum(t))
			continue;
		e = btf_enum(t);
		for (__u16 i = 0; i < btf_vlen(t) && !known; i++)
			known = !strcmp(btf__name_by_offset(btf, e[i].name_off), "TCP_BOUND_INACTIVE");
	}
	btf__free(btf);
	return known;
}
