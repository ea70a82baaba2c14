// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Writes a small valid trace: the fuzzer's seed. Usage: mkseed FILE */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "tracefile.h"

int main(int argc, char **argv)
{
	struct pl_file_hdr h = { .magic = PL_FILE_MAGIC, .version = PL_FILE_VERSION,
				 .hdr_size = sizeof(h), .rec_size = sizeof(struct pl_event) };
	struct pl_file_trailer t = { .end_ns = 1000000, .records = 6 };
	static const __u8 types[] = { PL_EV_ALLOC, PL_EV_STATE, PL_EV_STATE, PL_EV_TW_ENTER,
				      PL_EV_TW_EXIT, PL_EV_RELEASE };
	struct tracefile_writer *w;

	if (argc != 2)
		return 2;
	unlink(argv[1]);
	strcpy(h.mode, "seed");
	w = tracefile_create(argv[1], &h);
	if (!w)
		return 1;
	for (int i = 0; i < 6; i++) {
		struct pl_event e = { .type = types[i], .family = 2, .proto = 6, .lport = 40000,
				      .rport = 80, .pid = 42, .lease = 1, .ts_ns = 1000 * (i + 1),
				      .old_state = 1, .new_state = i == 2 ? 7 : 4, .dur_ns = 500 };

		strcpy(e.comm, "seed");
		tracefile_write(w, &e);
	}
	/* a NAT port taken for that lease, refused for another, given back; one without a tuple */
	for (int k = PL_NAT_NEW; k < PL_NAT_MAX; k++) {
		struct pl_nat_rec n = { .kind = k, .family = 2, .proto = 6, .lport = 40000,
					.rport = 80, .nat_port = 1024 + k, .pid = 42,
					.nat_netns = 7, .range_lo = 1024, .range_hi = 1027,
					.ts_ns = 7000 + k, .flags = PL_NATF_OWNED,
					.n = k == PL_NAT_FAIL, .hold_ns = k == PL_NAT_END ? 5 : 0 };

		strcpy(n.comm, "seed");
		tracefile_write_nat(w, &n);
	}
	tracefile_write_nat(w, &(struct pl_nat_rec){ .kind = PL_NAT_FAIL, .n = 3, .nat_netns = 7,
						      .flags = PL_NATF_COUNT_ONLY });
	return tracefile_close(w, &t) ? 1 : 0;
}
