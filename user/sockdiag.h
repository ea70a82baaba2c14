/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sockets no BPF iterator lists: a TCP socket that is only bound (bind()
 * without listen() or connect()) sits in the kernel's bind hash alone, yet
 * holds its port. From 6.7 sock_diag dumps them (state TCP_BOUND_INACTIVE);
 * before, the dump finds none.
 */
#ifndef PORTLIFE_SOCKDIAG_H
#define PORTLIFE_SOCKDIAG_H

#include <stdbool.h>
#include "iter.h"
#include "snapshot.h"

/*
 * The bound-only TCP sockets of this thread's network namespace (inode
 * netns), IPv4 and IPv6, appended to socks as struct sock_ent (state 13,
 * no remote end, owner unknown). 0 or -errno.
 */
int sockdiag_bound(__u32 netns, struct vec *socks);
/*
 * Can this kernel list them at all: its BTF knows TCP_BOUND_INACTIVE (6.7+).
 * A dump that fails (no tcp_diag) is the other way not to see them.
 */
bool sockdiag_bound_known(void);

#endif
