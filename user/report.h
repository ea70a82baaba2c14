/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `portlife report FILE`: summaries and exports of a recorded trace. */
#ifndef PORTLIFE_REPORT_H
#define PORTLIFE_REPORT_H

int cmd_report(int argc, char **argv);

#endif
