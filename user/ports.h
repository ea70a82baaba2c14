/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `portlife ports` and `portlife who PORT`: snapshots of the ports in use. */
#ifndef PORTLIFE_PORTS_H
#define PORTLIFE_PORTS_H

#include <stdio.h>
#include "headroom.h"

int cmd_ports(int argc, char **argv);
int cmd_who(int argc, char **argv);

/* Shared with live tracing's diagnosis. */
void print_dest(FILE *f, const struct dest *d, const char *indent);
const char *dest_remedy(const struct dest *d, char *buf, size_t len);

#endif
