/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroup v2 ids (bpf_get_current_cgroup_id) to paths, so containers are
 * recognisable: the path relative to the cgroup2 mount, "/system.slice/x".
 */
#ifndef PORTLIFE_CGPATH_H
#define PORTLIFE_CGPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* fd is a directory of the cgroup v2 tree (not v1's, not another file system). */
bool cgroup2_fd(int fd);

/* Mount point of the cgroup v2 hierarchy; -ENOENT if none is mounted. */
int cgroup2_mount(char *buf, size_t len);

/*
 * The root of the host's cgroup v2 tree, where the tracepoint mode's socket
 * hooks attach: they see the sockets of the processes below that cgroup, so
 * a cgroup namespace's root (a container's /sys/fs/cgroup) would narrow them
 * to that container without a word. Our own mount when it is the tree's
 * root; otherwise the nearest ancestor's in another mount namespace, through
 * /proc/PID/root (`ip netns exec` remounts /sys without cgroup2; a container
 * sharing the host's pids has the runtime's shim above it). Never a mount of
 * our own: mounting cgroup2 in the host's cgroup namespace resets its
 * options (nsdelegate, memory_recursiveprot) for the whole host.
 * Tried next: any process's, each mount namespace once (a daemon's parent
 * is pid 1, not always readable). The root's descriptor (O_DIRECTORY), with
 * path (where it opens from here; may be NULL) and shown (the mount point as
 * its own namespace names it, which readlink() of a descriptor below it
 * starts with; may be NULL); -EXDEV when only a cgroup namespace's root is in
 * reach; -ENOENT when no cgroup2 is mounted in reach.
 */
int cgroup2_host_root(char *path, size_t plen, char *shown, size_t slen);

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
