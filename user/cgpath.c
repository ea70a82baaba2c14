// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "cgpath.h"
#include "util.h"

bool cgroup2_fd(int fd)
{
	struct statfs sf;

	return !fstatfs(fd, &sf) && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/*
 * dir opened, when it is a directory of the cgroup v2 tree (checked on the
 * descriptor, not the path: a mount table read a moment ago proves
 * nothing); *is_root: it is the tree's root, which alone has no cgroup.type.
 */
static int open_cgroup_dir(const char *dir, bool *is_root)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (!cgroup2_fd(fd)) {
		close(fd);
		return -ENOTDIR;
	}
	*is_root = faccessat(fd, "cgroup.type", F_OK, 0) && errno == ENOENT;
	return fd;
}

/*
 * The cgroup2 mounts listed in mountinfo file mi, each opened through prefix
 * ("" for our own, "/proc/PID/root" for another mount namespace's): the
 * descriptor of the first at the tree's root (any, unless want_root), with
 * path (where it opens from here) and shown (the mount point as that
 * namespace names it: readlink() of a descriptor below starts with it);
 * -EXDEV if there were only mounts below the root (a cgroup namespace's
 * root, a subtree mounted alone); -ENOENT if none could be opened.
 */
static int mount_in(const char *mi, const char *prefix, bool want_root, char *path, size_t plen,
		    char *shown, size_t slen)
{
	char line[4096], mnt[PATH_MAX], dir[PATH_MAX + 64], fstype[64];
	FILE *f = fopen(mi, "re");
	int ret = -ENOENT;

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype src opts */
		char *dash = strstr(line, " - ");
		bool is_root = false;
		int fd;

		if (!dash || sscanf(dash, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		snprintf(dir, sizeof(dir), "%s%s", prefix, mnt);
		fd = open_cgroup_dir(dir, &is_root);
		if (fd < 0)
			continue;	/* gone, or another namespace's not ours to read */
		if (want_root && !is_root) {
			close(fd);
			ret = -EXDEV;
			continue;
		}
		if (path)
			snprintf(path, plen, "%s", dir);
		if (shown)
			snprintf(shown, slen, "%s", mnt);
		ret = fd;
		break;
	}
	fclose(f);
	return ret;
}

int cgroup2_mount(char *buf, size_t len)
{
	int fd = mount_in("/proc/self/mountinfo", "", false, buf, len, NULL, 0);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* The parent of pid, from /proc/PID/stat; 0 if unknown. */
static pid_t parent_of(pid_t pid)
{
	const char *f;
	char buf[512];
	int ppid = 0;

	f = proc_stat_fields(pid, buf, sizeof(buf));
	if (!f || sscanf(f, " %*c %d", &ppid) != 1)
		return 0;
	return ppid;
}

/* The mount namespaces looked in, so that each is read once. */
#define MAX_MNTNS 256

struct mntns_seen {
	struct stat ns[MAX_MNTNS];
	int n;
};

/*
 * Process pid's cgroup2 mounts, when its mount namespace is one not looked
 * in yet: as mount_in(); -EALREADY when it was, or no more can be.
 */
static int mounts_of(pid_t pid, struct mntns_seen *seen, char *path, size_t plen, char *shown,
		     size_t slen)
{
	char mi[64], prefix[64], nsf[64];
	struct stat ns;

	snprintf(nsf, sizeof(nsf), "/proc/%d/ns/mnt", (int)pid);
	if (stat(nsf, &ns))
		return -ENOENT;
	for (int i = 0; i < seen->n; i++)
		if (seen->ns[i].st_ino == ns.st_ino && seen->ns[i].st_dev == ns.st_dev)
			return -EALREADY;
	if (seen->n == MAX_MNTNS)
		return -EALREADY;
	seen->ns[seen->n++] = ns;
	snprintf(mi, sizeof(mi), "/proc/%d/mountinfo", (int)pid);
	snprintf(prefix, sizeof(prefix), "/proc/%d/root", (int)pid);
	return mount_in(mi, prefix, true, path, plen, shown, slen);
}

/* Of two mounts_of() answers, the one that says more: a root, else -EXDEV. */
static int better(int ret, int e)
{
	return e >= 0 || e == -EXDEV ? e : ret;
}

int cgroup2_host_root(char *path, size_t plen, char *shown, size_t slen)
{
	int ret = mount_in("/proc/self/mountinfo", "", true, path, plen, shown, slen);
	struct mntns_seen *seen;
	struct dirent *de;
	pid_t pid;
	DIR *d;

	if (ret >= 0)
		return ret;
	seen = calloc(1, sizeof(*seen));
	if (!seen)
		return ret;
	if (!stat("/proc/self/ns/mnt", &seen->ns[0]))
		seen->n = 1;
	/*
	 * Up the ancestors first: the shell that ran `ip netns exec`, a
	 * container runtime's shim. Bounded: a chain is short, and a loop in a
	 * racing /proc must not hang us.
	 */
	pid = getppid();
	for (int depth = 0; ret < 0 && pid > 0 && depth < 64; depth++, pid = parent_of(pid))
		ret = better(ret, mounts_of(pid, seen, path, plen, shown, slen));
	/* then any process's (a daemon's parent is pid 1, not always ours to read) */
	d = ret < 0 ? opendir("/proc") : NULL;
	while (d && ret < 0 && (de = readdir(d)))
		if ((pid = atoi(de->d_name)) > 0)
			ret = better(ret, mounts_of(pid, seen, path, plen, shown, slen));
	if (d)
		closedir(d);
	free(seen);
	return ret;
}

/*
 * Paths found, by id: a bounded cache, cleared whole when full (cgroups
 * come and go; the ones events name again are found again at once).
 */
#define CG_CACHE 4096

static struct {
	__u64 id;
	char *path;
} cache[CG_CACHE];
static size_t ncache;
static char root[PATH_MAX];		/* the tree's directory, to open and walk */
static size_t rootlen;
static char shown[PATH_MAX];		/* how readlink() names it */
static size_t shownlen;
static int root_fd = -2;		/* -2: not opened yet, -1: no cgroup2 */
static __u64 last_walk;

static int open_root(void)
{
	if (root_fd == -2) {
		root_fd = -1;
		/*
		 * Our own mount names cgroups as /proc/PID/cgroup does, from our
		 * cgroup namespace's root; with none (`ip netns exec` remounts
		 * /sys), the host's through an ancestor.
		 */
		root_fd = mount_in("/proc/self/mountinfo", "", false, root, sizeof(root), shown,
				   sizeof(shown));
		if (root_fd < 0)
			root_fd = cgroup2_host_root(root, sizeof(root), shown, sizeof(shown));
		if (root_fd < 0)
			return root_fd = -1;
		rootlen = strlen(root);
		shownlen = strlen(shown);
	}
	return root_fd;
}

static size_t slot_of(__u64 id)
{
	__u64 v = id * 0x9e3779b97f4a7c15ULL;

	return (v >> 20) % CG_CACHE;
}

static void remember(__u64 id, const char *path)
{
	size_t s = slot_of(id);

	/* open addressing; a full table is cleared rather than probed forever */
	if (ncache >= CG_CACHE * 3 / 4) {
		for (size_t i = 0; i < CG_CACHE; i++) {
			free(cache[i].path);
			cache[i].path = NULL;
		}
		ncache = 0;
	}
	while (cache[s].path)
		s = (s + 1) % CG_CACHE;
	cache[s].path = strdup(path);
	if (cache[s].path) {
		cache[s].id = id;
		ncache++;
	}
}

static const char *cached(__u64 id)
{
	for (size_t s = slot_of(id), n = 0; cache[s].path && n < CG_CACHE; s = (s + 1) % CG_CACHE, n++)
		if (cache[s].id == id)
			return cache[s].path;
	return NULL;
}

/*
 * The cgroup v2 id is the kernfs node id, and kernfs file handles are that
 * id (FILEID_KERNFS): open_by_handle_at() finds the directory without
 * walking the tree. It needs CAP_DAC_READ_SEARCH; without it, walk.
 */
#define FILEID_KERNFS 0xfe

static int by_handle(__u64 id, char *buf, size_t len)
{
	struct {
		struct file_handle fh;
		__u64 id;
	} h = { .fh = { .handle_bytes = sizeof(__u64), .handle_type = FILEID_KERNFS }, .id = id };
	char link[64], target[PATH_MAX];
	ssize_t n;
	int fd;

	fd = open_by_handle_at(open_root(), &h.fh, O_RDONLY | O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	close(fd);
	if (n <= 0 || (size_t)n < shownlen || strncmp(target, shown, shownlen))
		return -ENOENT;
	target[n] = '\0';
	snprintf(buf, len, "%s", target[shownlen] ? target + shownlen : "/");
	return 0;
}

struct walk_want {
	__u64 id;
	char *buf;
	size_t len;
	int found;
};

static struct walk_want *want;

static int walk_ent(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_D || st->st_ino != want->id)
		return 0;
	snprintf(want->buf, want->len, "%s", path[rootlen] ? path + rootlen : "/");
	want->found = 1;
	return 1;
}

/* Without CAP_DAC_READ_SEARCH: walk the tree, at most once a second. */
static int by_walk(__u64 id, char *buf, size_t len)
{
	struct walk_want w = { .id = id, .buf = buf, .len = len };
	__u64 now = mono_ns();

	if (last_walk && now - last_walk < 1000000000ULL)
		return -EAGAIN;
	last_walk = now;
	want = &w;
	nftw(root, walk_ent, 16, FTW_PHYS | FTW_MOUNT);
	want = NULL;
	return w.found ? 0 : -ENOENT;
}

int cgpath_get(__u64 id, char *buf, size_t len)
{
	const char *hit = cached(id);
	int err;

	if (hit) {
		snprintf(buf, len, "%s", hit);
		return 0;
	}
	if (open_root() < 0)
		return -ENOENT;
	err = by_handle(id, buf, len);
	if (err && err != -ESTALE && err != -ENOENT)
		err = by_walk(id, buf, len);
	if (!err)
		remember(id, buf);
	return err;
}

int cgroup_id_of_pid(__u32 pid, __u64 *id)
{
	char file[64], line[PATH_MAX + 8], dir[2 * PATH_MAX];
	struct stat st;
	FILE *f;
	int err = -ENOENT;

	if (open_root() < 0)
		return -ENOENT;
	snprintf(file, sizeof(file), "/proc/%u/cgroup", pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");

		if (strncmp(line, "0::/", 4))
			continue;
		line[n] = '\0';
		/* fstatat below the root fd: a path with ".." cannot leave the tree */
		if (strstr(line + 3, "/../") || !strcmp(line + n - 3, "/.."))
			break;
		snprintf(dir, sizeof(dir), ".%s", line + 3);
		if (!fstatat(root_fd, dir, &st, 0)) {
			*id = st.st_ino;
			err = 0;
		} else {
			err = -errno;
		}
		break;
	}
	fclose(f);
	return err;
}

int cgpath_src_get(const struct cgpath_src *src, __u64 id, char *buf, size_t len)
{
	if (src && src->get)
		return src->get(src->ctx, id, buf, len);
	return cgpath_get(id, buf, len);
}
