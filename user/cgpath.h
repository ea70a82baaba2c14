/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroup v2 ids (bpf_get_current_cgroup_id) to paths, so containers are
 * recognisable: the path relative to the cgroup2 mount, "/system.slice/x".
 */
#ifndef PORTLIFE_CGPATH_H
#define PORTLIFE_CGPATH_H

#include <stddef.h>
#include <linux/types.h>

/* Mount point of the cgroup v2 hierarchy; -ENOENT if none is mounted. */
int cgroup2_mount(char *buf, size_t len);

/*
 * The path of cgroup id into buf; 0, or -ENOENT when there is no such cgroup
 * (any more). A cgroup id is never reused, so a path once found stays the
 * answer, even after the cgroup is gone: events that named it were its.
 */
int cgpath_get(__u64 id, char *buf, size_t len);

/*
 * The cgroup v2 id of process pid now (its "0::" line in /proc/PID/cgroup,
 * and that directory's inode): 0, or -errno (-ENOENT: gone, or no cgroup2).
 */
int cgroup_id_of_pid(__u32 pid, __u64 *id);

/*
 * Where paths come from instead of this host's cgroup tree, for `report`:
 * a trace carries the paths of the host that recorded it.
 */
typedef int (*cgpath_fn)(void *ctx, __u64 id, char *buf, size_t len);
struct cgpath_src {
	cgpath_fn get;		/* NULL: this host, cgpath_get() */
	void *ctx;
};
int cgpath_src_get(const struct cgpath_src *src, __u64 id, char *buf, size_t len);

#endif
