// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * bpfstats PID: the BPF statistics of the programs a process holds, for the
 * benchmarks (bench/run.sh on the host, bench/vm-guest.sh in a busybox VM
 * that has no bpftool or jq). The programs are found by the prog_id lines of
 * the process's fdinfo (program fds and link fds both have one), each counted
 * once; their run_time_ns and run_cnt (kept while kernel.bpf_stats_enabled
 * is 1) and recursion_misses (5.12+) are summed.
 *
 * Prints one line, "PROGS RUN_TIME_NS RUN_CNT RECURSION_MISSES"; the last is
 * -1 where the kernel does not count them. Exit 1, with a line on stderr,
 * when the process cannot be read.
 *
 * bpfstats -p PID: each program instead, as one JSON array on one line,
 * [{"id":N,"name":"pl_set_state_tp","run_time_ns":N,"run_cnt":N},...], so a
 * benchmark can tell which program a change moved cost to (the busybox VM
 * has no bpftool to ask). The name is the kernel's (letters, digits, '_' and
 * '.' only, which it checks at load): printed as it is.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#define MAX_PROGS 1024

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static __u32 ids[MAX_PROGS];
	unsigned long long rt = 0, rc = 0, rm = 0;
	char path[300], line[256];
	bool counted = true, each = false;
	size_t n = 0, progs = 0;
	struct dirent *d;
	char *end;
	DIR *dir;
	long pid;

	if (argc == 3 && !strcmp(argv[1], "-p")) {
		each = true;
		argv++;
		argc--;
	}
	if (argc != 2 || (pid = strtol(argv[1], &end, 10)) <= 0 || *end) {
		fprintf(stderr, "usage: bpfstats [-p] PID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%ld/fdinfo", pid);
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "bpfstats: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((d = readdir(dir)) && n < MAX_PROGS) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%s", pid, d->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "prog_id: %u", &ids[n]) == 1 && n < MAX_PROGS)
				n++;
		if (f)
			fclose(f);
	}
	closedir(dir);
	qsort(ids, n, sizeof(ids[0]), cmp_u32);
	if (each)
		putchar('[');
	for (size_t i = 0; i < n; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd;

		if (i && ids[i] == ids[i - 1])
			continue;
		fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;	/* unloaded since: not ours any more */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			if (each)
				printf("%s{\"id\":%u,\"name\":\"%.*s\",\"run_time_ns\":%llu,"
				       "\"run_cnt\":%llu}", progs ? "," : "", info.id,
				       (int)strnlen(info.name, sizeof(info.name)), info.name,
				       (unsigned long long)info.run_time_ns,
				       (unsigned long long)info.run_cnt);
			progs++;
			rt += info.run_time_ns;
			rc += info.run_cnt;
			rm += info.recursion_misses;
			/* the kernel fills what it knows: 5.10's info ends before it */
			if (len < offsetof(struct bpf_prog_info, recursion_misses) +
					  sizeof(info.recursion_misses))
				counted = false;
		}
		close(fd);
	}
	if (each)
		printf("]\n");
	else if (counted)
		printf("%zu %llu %llu %llu\n", progs, rt, rc, rm);
	else
		printf("%zu %llu %llu -1\n", progs, rt, rc);
	return 0;
}
