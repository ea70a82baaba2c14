// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cgpath.h"
#include "util.h"

int cgroup2_mount(char *buf, size_t len)
{
	char line[4096], mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype src opts */
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(dash, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		snprintf(buf, len, "%s", mnt);
		err = 0;
		break;
	}
	fclose(f);
	return err;
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
static char root[PATH_MAX];
static size_t rootlen;
static int root_fd = -2;		/* -2: not opened yet, -1: no cgroup2 */
static __u64 last_walk;

static int open_root(void)
{
	if (root_fd == -2) {
		root_fd = -1;
		if (!cgroup2_mount(root, sizeof(root)))
			root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rootlen = strlen(root);
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
	if (n <= 0 || (size_t)n < rootlen || strncmp(target, root, rootlen))
		return -ENOENT;
	target[n] = '\0';
	snprintf(buf, len, "%s", target[rootlen] ? target + rootlen : "/");
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
