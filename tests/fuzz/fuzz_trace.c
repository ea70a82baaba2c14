// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: any bytes as a trace file, read strictly and with
 * --salvage, every record pushed through the lease table, the aggregation
 * and both outputs, as `portlife report` does. Build and run with
 * `make fuzz` (bounded) or, for a long run:
 *   .output/fuzz_trace -max_total_time=3600 .output/fuzz-corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "agg.h"
#include "lease.h"
#include "output.h"
#include "tracefile.h"

struct sink {
	struct lease_table *t;
	struct agg *a;
	struct out o;
};

static void each(void *ctx, const struct pl_event *e)
{
	struct sink *s = ctx;
	struct lease_result r;

	lease_table__apply(s->t, e, &r);
	agg__apply(s->a, e, &r);
	s->o.json = e->ts_ns & 1;
	out__event(&s->o, e, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sink s;
	struct tracefile_info info;
	struct run_info ri = { .mode = "fuzz", .precision = "" };

	if (!s.t) {
		s.t = lease_table__new(1024);
		s.a = agg__new(64);
		s.o.f = fopen("/dev/null", "w");
		s.o.events = 1;
	}
	for (int salvage = 0; salvage < 2 && size; salvage++) {
		FILE *f = fmemopen((void *)data, size, "r");

		if (!f)
			return 0;
		tracefile_read(f, salvage, each, &s, &info);
		fclose(f);
	}
	ri.leases = lease_table__stats(s.t);
	s.o.json = size & 1;
	out__summary(&s.o, s.a, &ri);
	return 0;
}
