/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `portlife ports` and `portlife who PORT`: snapshots of the ports in use. */
#ifndef PORTLIFE_PORTS_H
#define PORTLIFE_PORTS_H

#include <stdbool.h>
#include <stdio.h>
#include "headroom.h"

/* Where live tracing publishes its recent failed allocations for `who`. */
#define FAILS_DIR "/run/portlife"
#define FAILS_MAGIC "PLFAIL1"

int cmd_ports(int argc, char **argv);
int cmd_who(int argc, char **argv);

/* Shared with live tracing's diagnosis and summary. */
void headroom_print(FILE *f, const struct dest *dv, size_t nd, const struct bind_room *bv,
		    size_t nb, bool json, __u32 netns, size_t max);
void print_dest(FILE *f, const struct dest *d, const char *indent);
const char *dest_remedy(const struct dest *d, char *buf, size_t len);

#endif
