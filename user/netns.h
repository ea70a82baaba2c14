/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Network namespaces: finding them and stepping into them. The bpf_iter
 * tcp/udp programs walk the sockets of the namespace of the task that runs
 * them, so every per-namespace look (snapshots, TIME_WAIT) is a setns() in,
 * a read, and a setns() back.
 */
#ifndef PORTLIFE_NETNS_H
#define PORTLIFE_NETNS_H

#include <stddef.h>
#include <linux/types.h>

struct netns_ref {
	__u32 inum;		/* the namespace's inode number */
	__u32 pid;		/* the process it was found through, 0 if none */
	char path[64];		/* something to open to enter it */
};

/*
 * Every network namespace reachable now: our own, those pinned in
 * /run/netns (`ip netns add`), and those of every process, once each.
 * Returns an array to free, *n set; NULL with *n 0 when none or out of memory.
 */
struct netns_ref *netns_list(size_t *n);

/*
 * An O_RDONLY fd for namespace inum, or -1: first through /proc/PID/ns/net
 * (when pid is not 0 and still lives there), then by walking /run/netns and
 * every /proc/PID. *found_pid (may be NULL) is set to the process it was
 * found through, or left alone.
 */
int netns_open(__u32 inum, __u32 pid, __u32 *found_pid);

/*
 * An O_RDONLY fd of the file spec names: a path (with a '/') as it is, else
 * a name in /run/netns (`ip netns add`); -errno. Nothing checks it is a
 * network namespace: setns() or netns_inum_of() does.
 */
int netns_open_named(const char *spec);

/*
 * The inode of the network namespace spec names: an inode number as it is,
 * else a path (with a '/') or a name in /run/netns (`ip netns add`), opened
 * and checked to be a network namespace. 0 or -errno (-EINVAL: not one).
 */
int netns_inum_of(const char *spec, __u32 *inum);

/*
 * fn(ctx, ns) run inside each of nsv[0..n) (only only_inum's, if not 0),
 * entered through its path (the thread's own without a setns), the thread
 * back in its own after each. One that cannot be entered is skipped and
 * counted in *denied (refused) or *unreachable (gone); either may be NULL.
 * Stops at fn's first error and returns it; -EIO if the thread could not
 * come back (said on stderr: stop looking at sockets); -errno without /proc.
 */
int netns_each(const struct netns_ref *nsv, size_t n, __u32 only_inum,
	       int (*fn)(void *ctx, const struct netns_ref *ns), void *ctx, size_t *denied,
	       size_t *unreachable);
/* The namespace inode of an open namespace fd, 0 on error. */
__u32 netns_fd_inum(int fd);

/* setns() into the namespace of fd; 0 or -errno. */
int netns_enter(int fd);
/*
 * Back into our own namespace (self_fd); 0 or -errno. On failure the thread
 * stays in a foreign namespace: it says so on stderr, and the caller must
 * stop looking at sockets rather than report another namespace's as ours.
 */
int netns_return(int self_fd);

#endif
