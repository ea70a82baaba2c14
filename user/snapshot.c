// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "snapshot.h"
#include "util.h"

struct owner {
	__u64 inode;
	__u32 pid;
	char comm[PL_COMM_LEN];
};

static int owner_cmp(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Every socket open in any process (first process found wins), by inode. */
static struct owner *scan_owners(struct bpf_link *link, size_t *n)
{
	struct pl_owner_rec recs[128];
	struct owner *v = NULL, *nv;
	size_t cap = 0;
	ssize_t r;
	int fd;

	*n = 0;
	fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	if (fd < 0)
		return NULL;
	while ((r = read(fd, recs, sizeof(recs))) > 0 || (r < 0 && errno == EINTR)) {
		for (ssize_t i = 0; r > 0 && i < r / (ssize_t)sizeof(recs[0]); i++) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					goto out;
				v = nv;
			}
			v[*n].inode = recs[i].inode;
			v[*n].pid = recs[i].tgid;
			memcpy(v[*n].comm, recs[i].comm, PL_COMM_LEN);
			v[*n].comm[PL_COMM_LEN - 1] = '\0';
			(*n)++;
		}
	}
out:
	close(fd);
	/* stable: the first process seen keeps a shared socket */
	qsort(v, *n, sizeof(*v), owner_cmp);
	return v;
}

struct ns_ref {
	__u32 inum;
	char path[64];	/* something to open to enter it */
};

static void add_ns(struct ns_ref **v, size_t *n, size_t *cap, __u32 inum, const char *path)
{
	struct ns_ref *nv;

	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].inum == inum)
			return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		nv = realloc(*v, *cap * sizeof(**v));
		if (!nv)
			return;
		*v = nv;
	}
	(*v)[*n].inum = inum;
	snprintf((*v)[*n].path, sizeof((*v)[*n].path), "%s", path);
	(*n)++;
}

/* Every network namespace a process lives in, and those pinned in /run/netns. */
static struct ns_ref *list_netns(size_t *n)
{
	struct ns_ref *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	struct stat st;
	char path[64];
	DIR *d;

	*n = 0;
	if (!stat("/proc/self/ns/net", &st))
		add_ns(&v, n, &cap, st.st_ino, "/proc/self/ns/net");
	if ((d = opendir("/proc"))) {
		while ((de = readdir(d))) {
			if (!all_digits(de->d_name) || strlen(de->d_name) > 10)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
			if (!stat(path, &st))
				add_ns(&v, n, &cap, st.st_ino, path);
		}
		closedir(d);
	}
	if ((d = opendir("/run/netns"))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || strlen(de->d_name) > 40)
				continue;
			snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
			if (!stat(path, &st))
				add_ns(&v, n, &cap, st.st_ino, path);
		}
		closedir(d);
	}
	return v;
}

static int read_iter(struct snapshot *s, struct bpf_link *link)
{
	char buf[sizeof(struct pl_sock_rec) * 128];
	size_t have = 0;
	ssize_t r;
	int fd;

	if (!link)
		return 0;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	while ((r = read(fd, buf + have, sizeof(buf) - have)) > 0 || (r < 0 && errno == EINTR)) {
		size_t off = 0;

		if (r < 0)
			continue;
		have += r;
		for (; have - off >= sizeof(struct pl_sock_rec); off += sizeof(struct pl_sock_rec)) {
			if (s->n == s->cap) {
				size_t cap = s->cap ? s->cap * 2 : 1024;
				struct sock_ent *nv = realloc(s->v, cap * sizeof(*nv));

				if (!nv) {
					close(fd);
					return -ENOMEM;
				}
				s->v = nv;
				s->cap = cap;
			}
			memset(&s->v[s->n], 0, sizeof(s->v[s->n]));
			memcpy(&s->v[s->n].r, buf + off, sizeof(struct pl_sock_rec));
			s->n++;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	close(fd);
	return r < 0 ? -errno : 0;
}

/* The current thread's netns: its port range and reserved ports. */
static void read_ns_sysctls(struct ns_info *ns)
{
	unsigned int lo = 32768, hi = 60999;
	char buf[65536], *p, *tok;
	FILE *f;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re"))) {
		if (fscanf(f, "%u %u", &lo, &hi) != 2)
			lo = 32768, hi = 60999;
		fclose(f);
	}
	ns->lo = lo;
	ns->hi = hi;
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
	for (unsigned int port = ns->lo; port <= ns->hi; port++)
		ns->nreserved += ns_reserved(ns, port);
}

bool ns_reserved(const struct ns_info *ns, __u16 port)
{
	return ns->reserved[port / 8] & (1 << (port % 8));
}

const struct ns_info *snapshot__ns(const struct snapshot *s, __u32 inum)
{
	for (size_t i = 0; i < s->nns; i++)
		if (s->ns[i].inum == inum)
			return &s->ns[i];
	return NULL;
}

int snapshot__take(struct snapshot *s, const struct snapshot_links *links, __u32 only_netns)
{
	struct ns_ref *nsv;
	struct owner *owners;
	size_t nns, nown;
	int self, err = 0;

	memset(s, 0, sizeof(*s));
	s->ts_ns = mono_ns();
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	nsv = list_netns(&nns);
	s->ns = calloc(nns ? nns : 1, sizeof(*s->ns));
	if (!s->ns) {
		close(self);
		free(nsv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nns; i++) {
		struct ns_info *ns = &s->ns[s->nns];
		int fd;

		if (only_netns && nsv[i].inum != only_netns)
			continue;
		fd = open(nsv[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET)) {
			/* the process left, or the namespace went away meanwhile */
			if (fd >= 0)
				close(fd);
			s->ns_unreachable++;
			continue;
		}
		close(fd);
		ns->inum = nsv[i].inum;
		read_ns_sysctls(ns);
		/* The iterators walk the netns of the task that creates them. */
		err = read_iter(s, links->tcp);
		if (!err)
			err = read_iter(s, links->udp);
		if (setns(self, CLONE_NEWNET) && !err)
			err = -errno;
		if (err)
			break;
		s->nns++;
	}
	close(self);
	free(nsv);
	if (err)
		return err;

	owners = scan_owners(links->owner, &nown);
	for (size_t i = 0; owners && i < s->n; i++) {
		struct owner key = { .inode = s->v[i].r.inode }, *o;

		if (!key.inode)
			continue;
		o = bsearch(&key, owners, nown, sizeof(key), owner_cmp);
		if (o) {
			s->v[i].pid = o->pid;
			memcpy(s->v[i].comm, o->comm, PL_COMM_LEN);
		}
	}
	free(owners);
	return 0;
}

void snapshot__free(struct snapshot *s)
{
	free(s->v);
	free(s->ns);
	memset(s, 0, sizeof(*s));
}
