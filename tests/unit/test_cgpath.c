// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroup ids to paths (user/cgpath.c) on this host's own cgroup v2 tree:
 * our own cgroup, by the id the kernel gives it, and a cgroup made here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cgpath.h"

/* Our cgroup v2 path ("0::/x/y" in /proc/self/cgroup) and its id. */
static int own_cgroup(char *path, size_t len, __u64 *id)
{
	char root[PATH_MAX], line[PATH_MAX], full[2 * PATH_MAX];
	struct stat st;
	FILE *f;
	int ok = 0;

	if (cgroup2_mount(root, sizeof(root)))
		return -1;
	f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, len, "%s", line + 3);
			ok = 1;
		}
	if (f)
		fclose(f);
	snprintf(full, sizeof(full), "%s%s", root, path);
	if (!ok || stat(full, &st))
		return -1;
	*id = st.st_ino;
	return 0;
}

static void test_own_cgroup(void **state)
{
	char want[PATH_MAX], got[PATH_MAX];
	__u64 id = 0;

	if (own_cgroup(want, sizeof(want), &id))
		skip();
	assert_int_equal(cgpath_get(id, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	/* again, from the cache */
	assert_int_equal(cgpath_get(id, got, sizeof(got)), 0);
	assert_string_equal(got, want);
}

/* A cgroup made after the first lookup is found, and keeps its path once gone. */
static void test_new_and_gone(void **state)
{
	char root[PATH_MAX], dir[PATH_MAX + 256], got[PATH_MAX], want[128];
	struct stat st;

	if (geteuid() || cgroup2_mount(root, sizeof(root)))
		skip();
	snprintf(want, sizeof(want), "/portlife-test-cg.%d", (int)getpid());
	snprintf(dir, sizeof(dir), "%s%s", root, want);
	if (mkdir(dir, 0755))
		skip();
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(cgpath_get(st.st_ino, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(cgpath_get(st.st_ino, got, sizeof(got)), 0);
	assert_string_equal(got, want);
	/* an id that never was */
	assert_int_not_equal(cgpath_get(~0ULL - 7, got, sizeof(got)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_cgroup),
		cmocka_unit_test(test_new_and_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
