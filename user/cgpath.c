// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cgpath.h"

struct cg_ent {
	__u64 id;
	char *path;
};

static struct cg_ent *ents;
static size_t nents, cap;
static size_t rootlen;
static int walked;

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

static int add_ent(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct cg_ent *n;

	if (type != FTW_D)
		return 0;
	if (nents == cap) {
		cap = cap ? cap * 2 : 256;
		n = realloc(ents, cap * sizeof(*ents));
		if (!n)
			return -1;
		ents = n;
	}
	ents[nents].id = st->st_ino;
	ents[nents].path = strdup(path[rootlen] ? path + rootlen : "/");
	if (!ents[nents].path)
		return -1;
	nents++;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct cg_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void cgpath_invalidate(void)
{
	for (size_t i = 0; i < nents; i++)
		free(ents[i].path);
	nents = 0;
	walked = 0;
}

const char *cgpath_lookup(__u64 id)
{
	struct cg_ent key = { .id = id }, *hit;
	char root[PATH_MAX];

	if (!walked) {
		walked = 1;
		if (cgroup2_mount(root, sizeof(root)))
			return NULL;
		rootlen = strlen(root);
		/* The cgroup v2 id is the kernfs inode number of its directory. */
		nftw(root, add_ent, 16, FTW_PHYS | FTW_MOUNT);
		qsort(ents, nents, sizeof(*ents), by_id);
	}
	hit = bsearch(&key, ents, nents, sizeof(*ents), by_id);
	return hit ? hit->path : NULL;
}
