// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "failures.h"
#include "lease.h"
#include "util.h"

__u64 proc_start_time(__u32 pid)
{
	const char *f;
	unsigned long long st = 0;
	char buf[1024];

	f = proc_stat_fields(pid, buf, sizeof(buf));
	if (!f || sscanf(f, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
			 "%*d %*d %*d %*d %*d %llu", &st) != 1)
		return 0;
	return st;
}

void failures__sink(void *ctx, const struct pl_event *e, const struct lease_result *r)
{
	struct failures *f = ctx;

	if (e->type != PL_EV_ALLOC || !e->err)
		return;
	f->ring[f->n++ % FAILS_RING] = *e;
	f->dirty = true;
}

static void our_path(char *buf, size_t len)
{
	snprintf(buf, len, FAILS_DIR "/%d.failures", (int)getpid());
}

void failures__publish(struct failures *f)
{
	struct fails_hdr h = { .magic = FAILS_MAGIC, .pid = getpid(),
			       .wall_off_ns = f->wall_off_ns };
	unsigned int n = f->n < FAILS_RING ? f->n : FAILS_RING;
	char path[64], tmp[80];
	FILE *out;
	int fd;

	if (!f->dirty)
		return;
	f->dirty = false;
	h.start_time = proc_start_time(h.pid);
	if (mkdir(FAILS_DIR, 0700) && errno != EEXIST) {
		if (f->verbose)
			fprintf(stderr, "portlife: cannot publish failures in %s: %s\n", FAILS_DIR,
				strerror(errno));
		return;
	}
	our_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || !(out = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	fwrite(&h, sizeof(h), 1, out);
	for (unsigned int i = 0; i < n; i++)
		fwrite(&f->ring[(f->n - n + i) % FAILS_RING], sizeof(struct pl_event), 1, out);
	/* written whole and renamed: a reader never sees half a file */
	if (fclose(out) || rename(tmp, path))
		unlink(tmp);
}

void failures__unpublish(void)
{
	char path[64];

	our_path(path, sizeof(path));
	unlink(path);
}

static void read_one(const char *name, __u16 lport, failure_fn fn, void *ctx)
{
	char path[PATH_MAX];
	struct fails_hdr h;
	struct pl_event e;
	unsigned long pid;
	const char *dot = strstr(name, ".failures");
	char num[16];
	FILE *in;

	if (!dot || dot[9] || (size_t)(dot - name) >= sizeof(num))
		return;
	memcpy(num, name, dot - name);
	num[dot - name] = '\0';
	if (parse_ulong(num, 1, 4194304, &pid))
		return;
	snprintf(path, sizeof(path), FAILS_DIR "/%s", name);
	in = fopen(path, "re");
	if (!in)
		return;
	if (fread(&h, sizeof(h), 1, in) != 1 || memcmp(h.magic, FAILS_MAGIC, sizeof(h.magic)) ||
	    h.pid != pid || !h.start_time || proc_start_time(pid) != h.start_time)
		goto out;	/* not ours, or a tracer that died without cleaning up */
	for (unsigned int k = 0; k < FAILS_RING && fread(&e, sizeof(e), 1, in) == 1; k++) {
		if (e.type != PL_EV_ALLOC || !e.err || e.lport != lport)
			continue;
		e.comm[PL_COMM_LEN - 1] = '\0';
		fn(ctx, pid, &e, h.wall_off_ns);
	}
out:
	fclose(in);
}

void failures__read(__u16 lport, failure_fn fn, void *ctx)
{
	DIR *d = opendir(FAILS_DIR);
	struct dirent *de;

	while (d && (de = readdir(d)))
		read_one(de->d_name, lport, fn, ctx);
	if (d)
		closedir(d);
}
