// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "iter.h"
#include "netns.h"
#include "util.h"

__u32 netns_fd_inum(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (__u32)st.st_ino;
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

int netns_open_named(const char *spec)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), strchr(spec, '/') ? "%s" : "/run/netns/%s", spec) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int netns_inum_of(const char *spec, __u32 *inum)
{
	unsigned long v;
	int fd, err = 0;

	if (!parse_ulong(spec, 1, 0xffffffffUL, &v)) {
		*inum = v;
		return 0;
	}
	fd = netns_open_named(spec);
	if (fd < 0)
		return fd;
	/* a file that is not a namespace (or another kind of one, or /run/netns itself) */
	if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET || !(*inum = netns_fd_inum(fd)))
		err = -EINVAL;
	close(fd);
	return err;
}

/*
 * Calls fn for each namespace path we can find: our own, /run/netns/NAME
 * (pinned namespaces first: they outlive their processes), /proc/PID/ns/net.
 * Stops when fn returns non-zero, and returns that.
 */
static int walk(int (*fn)(void *ctx, __u32 inum, __u32 pid, const char *path), void *ctx)
{
	static const char *const dirs[] = { "/run/netns", "/proc" };
	char path[64];
	struct stat st;
	int ret = 0;

	if (!stat("/proc/self/ns/net", &st) &&
	    (ret = fn(ctx, st.st_ino, 0, "/proc/self/ns/net")))
		return ret;
	for (size_t i = 0; i < 2 && !ret; i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		while (d && !ret && (de = readdir(d))) {
			/* names from the file system: bounded, and no dot files */
			if (de->d_name[0] == '.' || strlen(de->d_name) > 40)
				continue;
			if (i == 1 && !all_digits(de->d_name))
				continue;
			snprintf(path, sizeof(path), i ? "/proc/%s/ns/net" : "/run/netns/%s",
				 de->d_name);
			if (!stat(path, &st))
				ret = fn(ctx, st.st_ino, i ? (__u32)strtoul(de->d_name, NULL, 10) : 0,
					 path);
		}
		if (d)
			closedir(d);
	}
	return ret;
}

static int add_ref(void *ctx, __u32 inum, __u32 pid, const char *path)
{
	struct vec *v = ctx;
	struct netns_ref *r = v->v;

	for (size_t i = 0; i < v->n; i++)
		if (r[i].inum == inum)
			return 0;
	r = vec_push(v, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->inum = inum;
	r->pid = pid;
	snprintf(r->path, sizeof(r->path), "%s", path);
	return 0;
}

struct netns_ref *netns_list(size_t *n)
{
	struct vec v = {};

	if (walk(add_ref, &v)) {
		free(v.v);
		v.v = NULL;
		v.n = 0;
	}
	*n = v.n;
	return v.v;
}

/* path, if it still names namespace inum: an open fd, else -1. */
static int open_if(const char *path, __u32 inum)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && netns_fd_inum(fd) != inum) {
		close(fd);	/* the process moved on, or its pid was reused */
		fd = -1;
	}
	return fd;
}

struct find {
	__u32 inum, pid;
	int fd;
};

static int try_ref(void *ctx, __u32 inum, __u32 pid, const char *path)
{
	struct find *f = ctx;

	if (inum != f->inum)
		return 0;
	f->fd = open_if(path, inum);
	f->pid = pid;
	return f->fd >= 0;
}

int netns_open(__u32 inum, __u32 pid, __u32 *found_pid)
{
	struct find f = { .inum = inum, .fd = -1 };
	char path[64];

	if (pid) {
		snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
		f.fd = open_if(path, inum);
		if (f.fd >= 0)
			return f.fd;
	}
	walk(try_ref, &f);
	if (f.fd >= 0 && found_pid && f.pid)
		*found_pid = f.pid;
	return f.fd;
}

int netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

int netns_return(int self_fd)
{
	if (!setns(self_fd, CLONE_NEWNET))
		return 0;
	fprintf(stderr, "portlife: cannot return to our own network namespace: %s\n",
		strerror(errno));
	return -errno;
}

int netns_each(const struct netns_ref *nsv, size_t n, __u32 only_inum,
	       int (*fn)(void *ctx, const struct netns_ref *ns), void *ctx, size_t *denied,
	       size_t *unreachable)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), err = 0;
	__u32 self_inum;

	if (self < 0)
		return -errno;
	self_inum = netns_fd_inum(self);
	for (size_t i = 0; i < n && !err; i++) {
		/* our own needs no setns, and no CAP_SYS_ADMIN */
		bool here = nsv[i].inum == self_inum;

		if (only_inum && nsv[i].inum != only_inum)
			continue;
		if (!here) {
			int fd = open(nsv[i].path, O_RDONLY | O_CLOEXEC);

			err = fd < 0 ? -errno : netns_enter(fd);
			if (fd >= 0)
				close(fd);
			if (err) {
				/* the process left, the namespace went away, or it is not ours */
				if (err == -EPERM || err == -EACCES) {
					if (denied)
						(*denied)++;
				} else if (unreachable) {
					(*unreachable)++;
				}
				err = 0;
				continue;
			}
		}
		err = fn(ctx, &nsv[i]);
		if (!here && netns_return(self))
			err = -EIO;
	}
	close(self);
	return err;
}
