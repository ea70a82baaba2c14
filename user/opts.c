// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "opts.h"
#include "util.h"

int opt_bad(const char *opt, const char *arg, const char *want)
{
	fprintf(stderr, "portlife: invalid %s '%s': %s\n", opt, arg, want);
	return -EINVAL;
}

int opt_pid(const char *arg, unsigned long *pid)
{
	if (parse_ulong(arg, 1, 4194304, pid))
		return opt_bad("pid", arg, "expected a process id from 1 to 4194304");
	return 0;
}

/* The initial pid namespace's inode (PROC_PID_INIT_INO): the kernel's own pids. */
#define PID_NS_INIT_INO 0xEFFFFFFCUL

/*
 * -p names a process (its tgid): a thread's id (top -H, a JVM's thread
 * dump) would match no event, silently; a pid with no process now may be a
 * typo, or one still to come. Said before anything is attached.
 */
int opt_pid_is_process(unsigned int pid)
{
	unsigned long tgid = 0;
	char path[64], line[128];
	struct stat ns;
	FILE *f;

	/*
	 * In a pid namespace of our own, -p takes the host's pid (events carry
	 * those), which our /proc does not know: nothing to check it against.
	 */
	if (stat("/proc/self/ns/pid", &ns) || ns.st_ino != PID_NS_INIT_INO)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "portlife: no process %u is running now\n", pid);
		return 0;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %lu", &tgid) == 1)
			break;
	fclose(f);
	if (tgid && tgid != pid) {
		fprintf(stderr, "portlife: %u is a thread of process %lu, and -p takes a process "
				"(its ports are its process's): use -p %lu\n", pid, tgid, tgid);
		return -EINVAL;
	}
	return 0;
}

error_t opt_container_filter(int key, const char *arg, struct container_filter *f)
{
	static const struct { int key; enum container_filter_key which; const char *name; } k[] = {
		{ OPT_F_CONTAINER, CONTAINER_FILTER_CONTAINER, "container" },
		{ OPT_F_POD, CONTAINER_FILTER_POD, "pod" },
		{ OPT_F_NAMESPACE, CONTAINER_FILTER_NAMESPACE, "namespace" },
	};
	const char *want;

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (k[i].key != key)
			continue;
		if (container_filter__set(f, k[i].which, arg, &want))
			return opt_bad(k[i].name, arg, want);
		return 0;
	}
	return ARGP_ERR_UNKNOWN;
}

error_t opt_filter(int key, const char *arg, struct pipeline_filter *f)
{
	unsigned long v;

	switch (key) {
	case 'p':
		if (opt_pid(arg, &v))
			return -EINVAL;
		/* a second one would replace the first, silently: one process, said plainly */
		if (f->pid && f->pid != v) {
			fprintf(stderr, "portlife: -p given twice (%u, %lu): it follows one process; "
					"leave -p out and filter the --json lines by pid\n", f->pid, v);
			return -EINVAL;
		}
		f->pid = v;
		return 0;
	case 'c':
		if (!*arg || strlen(arg) > 15)
			return opt_bad("comm", arg, "expected 1 to 15 characters (the kernel keeps 15)");
		if (f->has_comm && strcmp(f->comm, arg)) {
			char a[PL_COMM_LEN * 4], b[PL_COMM_LEN * 4];

			fprintf(stderr, "portlife: -c given twice (%s, %s): it follows one process "
					"name; leave -c out and filter the --json lines by comm\n",
				safe_str(f->comm, a, sizeof(a)), safe_str(arg, b, sizeof(b)));
			return -EINVAL;
		}
		memset(f->comm, 0, sizeof(f->comm));
		memcpy(f->comm, arg, strlen(arg));
		f->has_comm = true;
		return 0;
	case '4':
	case '6':
		if (f->family && f->family != (key == '4' ? AF_INET : AF_INET6)) {
			fprintf(stderr, "portlife: -4 and -6 together mean both: leave both out\n");
			return -EINVAL;
		}
		f->family = key == '4' ? AF_INET : AF_INET6;
		return 0;
	}
	return opt_container_filter(key, arg, &f->ctr);
}

void opt_filter_describe(const struct pipeline_filter *f, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (f->pid)
		n += snprintf(buf + n, len - n, "pid=%u ", f->pid);
	if (f->has_comm && n < len)
		n += snprintf(buf + n, len - n, "comm=%s ", f->comm);
	if (f->family && n < len)
		n += snprintf(buf + n, len - n, "ipv%d ", f->family == AF_INET6 ? 6 : 4);
	/* validated when set: no byte here needs escaping */
	if (f->ctr.container[0] && n < len)
		n += snprintf(buf + n, len - n, "container=%s ", f->ctr.container);
	if (f->ctr.pod[0] && n < len)
		n += snprintf(buf + n, len - n, "pod=%s ", f->ctr.pod);
	if (f->ctr.namespace[0] && n < len)
		snprintf(buf + n, len - n, "namespace=%s ", f->ctr.namespace);
}
