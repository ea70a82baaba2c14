// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Tests only (the live test clock_step): preloaded into portlife, it adds
 * the nanoseconds written in the file $PORTLIFE_TEST_CLOCK_FILE, while that
 * file exists, to CLOCK_REALTIME, as a step of the wall clock would, and
 * leaves the host's clock alone (a test must not change host state). No
 * other clock moves: the events' CLOCK_MONOTONIC stays the kernel's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *path = getenv("PORTLIFE_TEST_CLOCK_FILE");
	long long step = 0, ns;
	FILE *f;
	int rc;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc || id != CLOCK_REALTIME || !path || !(f = fopen(path, "re")))
		return rc;
	if (fscanf(f, "%lld", &step) != 1)
		step = 0;
	fclose(f);
	ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + step;
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
	return 0;
}
