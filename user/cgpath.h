/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* cgroup v2 ids (bpf_get_current_cgroup_id) to paths, so containers are recognisable. */
#ifndef PORTLIFE_CGPATH_H
#define PORTLIFE_CGPATH_H

#include <stddef.h>
#include <linux/types.h>

/* Mount point of the cgroup v2 hierarchy; -ENOENT if none is mounted. */
int cgroup2_mount(char *buf, size_t len);
/* Path of the cgroup relative to the cgroup2 mount ("/system.slice/x"), or NULL. */
const char *cgpath_lookup(__u64 cgroup_id);
/* Forget the cache (cgroups come and go); the next lookup walks again. */
void cgpath_invalidate(void);

#endif
