/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `portlife ports` and `portlife who PORT`: snapshots of the ports in use. */
#ifndef PORTLIFE_PORTS_H
#define PORTLIFE_PORTS_H

int cmd_ports(int argc, char **argv);
int cmd_who(int argc, char **argv);

#endif
