/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Live tracing: `portlife`, `portlife record` and `portlife top`. */
#ifndef PORTLIFE_TRACE_H
#define PORTLIFE_TRACE_H

int cmd_trace(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif
