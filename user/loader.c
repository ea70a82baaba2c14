// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Lifecycle of the BPF side: open -> configure rodata and map sizes -> pick
 * the programs of the mode from the program table -> load -> attach ->
 * self-test. The ladder tries fentry, kprobe, tracepoint in that order.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "portlife.skel.h"
#include "portlife_nofetch.skel.h"
#include "iters.skel.h"
#include "portlife.h"
#include "twlook.skel.h"
#include "cgpath.h"
#include "iter.h"
#include "loader.h"
#include "netns.h"
#include "util.h"

/* How a program attaches; checked against the object by loader__check_table(). */
enum attach {
	AT_TP_BTF,	/* tp_btf/: BTF-typed tracepoint */
	AT_TRACEPOINT,	/* tracepoint/: classic tracepoint */
	AT_CGROUP,	/* sockops, cgroup/...: attached to a cgroup v2 directory */
	AT_ITER,	/* iter/: run on demand, not on an event */
	AT_FENTRY,
	AT_FEXIT,
	AT_KPROBE,
	AT_KRETPROBE,
};

#define M_FENTRY	(1u << MODE_FENTRY)
#define M_KPROBE	(1u << MODE_KPROBE)
#define M_TP		(1u << MODE_TRACEPOINT)
#define M_ALL		(M_FENTRY | M_KPROBE | M_TP)

/*
 * Every program of portlife.bpf.c: the modes that load it, and the kernel
 * function it hooks, which the running kernel's BTF must have (so a program
 * for a function the kernel renamed or lacks is left out, not failed on:
 * inet_twsk_hashdance became inet_twsk_hashdance_schedule in 6.11, and
 * inet6_hash_connect is in the ipv6 module, which may not be loaded).
 */
static const struct prog_spec {
	const char *name;
	enum attach attach;
	unsigned int modes;
	const char *kfunc;
} progs[] = {
	{ "pl_set_state",	AT_TP_BTF,	M_FENTRY | M_KPROBE, NULL },
	{ "pl_set_state_tp",	AT_TP_BTF,	M_TP,		NULL },
	{ "pl_destroy",		AT_TP_BTF,	M_TP,		NULL },
	{ "pl_rst_in",		AT_TP_BTF,	M_TP,		NULL },
	{ "pl_rst_out",		AT_TP_BTF,	M_TP,		NULL },
	{ "pl_syn_retrans",	AT_TP_BTF,	M_TP,		NULL },
	{ "pl_connect_cb",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_bind4",		AT_CGROUP,	M_TP,		NULL },
	{ "pl_bind6",		AT_CGROUP,	M_TP,		NULL },
	{ "pl_post_bind4",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_post_bind6",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_bind_exit",	AT_TRACEPOINT,	M_TP,		NULL },
	{ "pl_connect4",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_connect6",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_connect_exit",	AT_TRACEPOINT,	M_TP,		NULL },
	{ "pl_listen_exit",	AT_TRACEPOINT,	M_TP,		NULL },
	{ "pl_sendmsg4",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_sendmsg6",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_sock_create",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_sock_release",	AT_CGROUP,	M_TP,		NULL },
	{ "pl_iter_tw",		AT_ITER,	M_TP,		NULL },
	{ "pl_iter_udp_mark",	AT_ITER,	M_TP,		NULL },
	{ "pl_fe_bind",		AT_FENTRY,	M_FENTRY,	"inet_bind" },
	{ "pl_fx_bind",		AT_FEXIT,	M_FENTRY,	"inet_bind" },
	{ "pl_kp_bind",		AT_KPROBE,	M_KPROBE,	"inet_bind" },
	{ "pl_kr_bind",		AT_KRETPROBE,	M_KPROBE,	"inet_bind" },
	{ "pl_fe_bind6",	AT_FENTRY,	M_FENTRY,	"inet6_bind" },
	{ "pl_fx_bind6",	AT_FEXIT,	M_FENTRY,	"inet6_bind" },
	{ "pl_kp_bind6",	AT_KPROBE,	M_KPROBE,	"inet6_bind" },
	{ "pl_kr_bind6",	AT_KRETPROBE,	M_KPROBE,	"inet6_bind" },
	{ "pl_fe_connect",	AT_FENTRY,	M_FENTRY,	"inet_hash_connect" },
	{ "pl_fx_connect",	AT_FEXIT,	M_FENTRY,	"inet_hash_connect" },
	{ "pl_kp_connect",	AT_KPROBE,	M_KPROBE,	"inet_hash_connect" },
	{ "pl_kr_connect",	AT_KRETPROBE,	M_KPROBE,	"inet_hash_connect" },
	{ "pl_fe_connect6",	AT_FENTRY,	M_FENTRY,	"inet6_hash_connect" },
	{ "pl_fx_connect6",	AT_FEXIT,	M_FENTRY,	"inet6_hash_connect" },
	{ "pl_kp_connect6",	AT_KPROBE,	M_KPROBE,	"inet6_hash_connect" },
	{ "pl_kr_connect6",	AT_KRETPROBE,	M_KPROBE,	"inet6_hash_connect" },
	{ "pl_fe_getport",	AT_FENTRY,	M_FENTRY,	"inet_csk_get_port" },
	{ "pl_fx_getport",	AT_FEXIT,	M_FENTRY,	"inet_csk_get_port" },
	{ "pl_kp_getport",	AT_KPROBE,	M_KPROBE,	"inet_csk_get_port" },
	{ "pl_kr_getport",	AT_KRETPROBE,	M_KPROBE,	"inet_csk_get_port" },
	{ "pl_fe_udpport",	AT_FENTRY,	M_FENTRY,	"udp_lib_get_port" },
	{ "pl_fx_udpport",	AT_FEXIT,	M_FENTRY,	"udp_lib_get_port" },
	{ "pl_kp_udpport",	AT_KPROBE,	M_KPROBE,	"udp_lib_get_port" },
	{ "pl_kr_udpport",	AT_KRETPROBE,	M_KPROBE,	"udp_lib_get_port" },
	{ "pl_fe_dgconn",	AT_FENTRY,	M_FENTRY,	"inet_dgram_connect" },
	{ "pl_fx_dgconn",	AT_FEXIT,	M_FENTRY,	"inet_dgram_connect" },
	{ "pl_kp_dgconn",	AT_KPROBE,	M_KPROBE,	"inet_dgram_connect" },
	{ "pl_kr_dgconn",	AT_KRETPROBE,	M_KPROBE,	"inet_dgram_connect" },
	{ "pl_fe_autobind",	AT_FENTRY,	M_FENTRY,	"inet_autobind" },
	{ "pl_fx_autobind",	AT_FEXIT,	M_FENTRY,	"inet_autobind" },
	{ "pl_kp_autobind",	AT_KPROBE,	M_KPROBE,	"inet_autobind" },
	{ "pl_kr_autobind",	AT_KRETPROBE,	M_KPROBE,	"inet_autobind" },
	{ "pl_fe_timewait",	AT_FENTRY,	M_FENTRY,	"tcp_time_wait" },
	{ "pl_kp_timewait",	AT_KPROBE,	M_KPROBE,	"tcp_time_wait" },
	{ "pl_fe_hdsched",	AT_FENTRY,	M_FENTRY,	"inet_twsk_hashdance_schedule" },
	{ "pl_kp_hdsched",	AT_KPROBE,	M_KPROBE,	"inet_twsk_hashdance_schedule" },
	{ "pl_fe_hashdance",	AT_FENTRY,	M_FENTRY,	"inet_twsk_hashdance" },
	{ "pl_kp_hashdance",	AT_KPROBE,	M_KPROBE,	"inet_twsk_hashdance" },
	{ "pl_fe_twsched",	AT_FENTRY,	M_FENTRY,	"__inet_twsk_schedule" },
	{ "pl_kp_twsched",	AT_KPROBE,	M_KPROBE,	"__inet_twsk_schedule" },
	{ "pl_fe_putport",	AT_FENTRY,	M_FENTRY,	"inet_put_port" },
	{ "pl_kp_putport",	AT_KPROBE,	M_KPROBE,	"inet_put_port" },
	{ "pl_fe_udpunhash",	AT_FENTRY,	M_FENTRY,	"udp_lib_unhash" },
	{ "pl_kp_udpunhash",	AT_KPROBE,	M_KPROBE,	"udp_lib_unhash" },
	{ "pl_fx_twunique",	AT_FEXIT,	M_FENTRY,	"tcp_twsk_unique" },
	{ "pl_kp_twunique",	AT_KPROBE,	M_KPROBE,	"tcp_twsk_unique" },
	{ "pl_kr_twunique",	AT_KRETPROBE,	M_KPROBE,	"tcp_twsk_unique" },
	{ "pl_fe_desched",	AT_FENTRY,	M_FENTRY,	"inet_twsk_deschedule_put" },
	{ "pl_kp_desched",	AT_KPROBE,	M_KPROBE,	"inet_twsk_deschedule_put" },
	{ "pl_fe_twkill",	AT_FENTRY,	M_FENTRY,	"inet_twsk_kill" },
	{ "pl_kp_twkill",	AT_KPROBE,	M_KPROBE,	"inet_twsk_kill" },
	/* probes of closed ports: see signal_progs below */
	{ "pl_tp_rst",		AT_TP_BTF,	M_TP,		NULL },
	{ "pl_tp_icmp",		AT_TP_BTF,	M_TP,		NULL },
	{ "pl_fe_rst4",		AT_FENTRY,	M_FENTRY,	"tcp_v4_send_reset" },
	{ "pl_kp_rst4",		AT_KPROBE,	M_KPROBE,	"tcp_v4_send_reset" },
	{ "pl_fe_rst6",		AT_FENTRY,	M_FENTRY,	"tcp_v6_send_reset" },
	{ "pl_kp_rst6",		AT_KPROBE,	M_KPROBE,	"tcp_v6_send_reset" },
	{ "pl_fe_icmp",		AT_FENTRY,	M_FENTRY,	"__icmp_send" },
	{ "pl_kp_icmp",		AT_KPROBE,	M_KPROBE,	"__icmp_send" },
	{ "pl_fe_icmp6",	AT_FENTRY,	M_FENTRY,	"icmp6_send" },
	{ "pl_kp_icmp6",	AT_KPROBE,	M_KPROBE,	"icmp6_send" },
};

/*
 * The signal programs of the security rules: what each delivers (PL_SEES_*),
 * and for tp_btf ones the tracepoint prototype they need. They load only when
 * the rules want them, and one that does not load or attach is left out with
 * a note, never a failure to start. tcp:tcp_send_reset sees a segment without
 * a socket from 6.10, the release that added its reason argument: a
 * prototype of four arguments (ctx, sk, skb, reason) is the test.
 * icmp:icmp_send fires after the ICMP rate limits; __icmp_send() is entered
 * before them.
 */
static const struct signal_spec {
	const char *name;
	unsigned int sees;
	const char *tp;		/* tp_btf: btf_trace_<tp> must exist ... */
	int tp_args;		/* ... with at least this many arguments */
} signal_progs[] = {
	{ "pl_tp_rst",	 PL_SEES_TCP4 | PL_SEES_TCP6,		"tcp_send_reset", 4 },
	{ "pl_tp_icmp",	 PL_SEES_UDP4 | PL_SEES_UDP_LIMITED,	"icmp_send", 1 },
	{ "pl_fe_rst4",	 PL_SEES_TCP4,	NULL, 0 },
	{ "pl_kp_rst4",	 PL_SEES_TCP4,	NULL, 0 },
	{ "pl_fe_rst6",	 PL_SEES_TCP6,	NULL, 0 },
	{ "pl_kp_rst6",	 PL_SEES_TCP6,	NULL, 0 },
	{ "pl_fe_icmp",	 PL_SEES_UDP4,	NULL, 0 },
	{ "pl_kp_icmp",	 PL_SEES_UDP4,	NULL, 0 },
	{ "pl_fe_icmp6", PL_SEES_UDP6,	NULL, 0 },
	{ "pl_kp_icmp6", PL_SEES_UDP6,	NULL, 0 },
};

static const struct signal_spec *signal_of(const struct prog_spec *sp)
{
	for (size_t i = 0; sp && i < sizeof(signal_progs) / sizeof(signal_progs[0]); i++)
		if (!strcmp(signal_progs[i].name, sp->name))
			return &signal_progs[i];
	return NULL;
}

#define NPROGS (sizeof(progs) / sizeof(progs[0]))

static const struct prog_spec *spec_of(const struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);

	for (size_t i = 0; i < NPROGS; i++)
		if (!strcmp(progs[i].name, name))
			return &progs[i];
	return NULL;
}

/* The tracepoint mode's precision line; it must fit a trace header's 256 bytes. */
#define PRECISION_TP \
	"alloc latency: connect SYN_SENT -> its SYN sent (none if sent again), bind: " \
	"cgroup hook -> port bound, UDP autobind by connect(): the call, by a first " \
	"send: none; TIME_WAIT exit: within --tw-interval, a kill within 5 s, reuse " \
	"told by the next lease"
#define PRECISION_TP_NO_SYSCALL_HOOKS \
	"alloc latency: connect SYN_SENT -> port (sock_ops), bind: cgroup hook -> bound, " \
	"UDP autobind: none; TIME_WAIT exit: within --tw-interval, kill in 5 s, reuse by " \
	"the next lease; --no-syscall-hooks: bind() errors unseen, UDP/TFO connect() ports " \
	"told late"
_Static_assert(sizeof(PRECISION_TP) <= sizeof(((struct tracer_bpf *)0)->precision) &&
	       sizeof(PRECISION_TP_NO_SYSCALL_HOOKS) <= sizeof(((struct tracer_bpf *)0)->precision),
	       "a precision line longer than the tracer (and the trace header) keeps");

/*
 * A syscall tracepoint (sys_exit_bind, sys_exit_connect, sys_exit_listen):
 * attaching any puts every system call of every task on the slow path.
 * --no-syscall-hooks leaves them out, and takes the TCP ports that
 * connect()'s and listen()'s exits tell from sock_ops instead, which runs a
 * program for every TCP callback of every socket (9 a loopback connection:
 * a connect storm's ~1%, as much as the slow path) and is left out with
 * the exits on, with the SYN retransmission's tracepoint it stands in for.
 */
static bool syscall_hook(const struct bpf_program *prog)
{
	return !strncmp(bpf_program__section_name(prog), "tracepoint/syscalls/", 20);
}

static bool hooks_choose(const struct bpf_program *prog, bool no_syscall_hooks)
{
	const char *name = bpf_program__name(prog);

	if (syscall_hook(prog) || !strcmp(name, "pl_syn_retrans"))
		return !no_syscall_hooks;
	if (!strcmp(name, "pl_connect_cb"))
		return no_syscall_hooks;
	return true;
}

/* Does prog's type in the object agree with how the table says it attaches? */
static bool attach_matches(const struct bpf_program *prog, enum attach at)
{
	enum bpf_prog_type type = bpf_program__type(prog);
	enum bpf_attach_type eat = bpf_program__expected_attach_type(prog);

	switch (at) {
	case AT_TP_BTF:
		return type == BPF_PROG_TYPE_TRACING && eat == BPF_TRACE_RAW_TP;
	case AT_FENTRY:
		return type == BPF_PROG_TYPE_TRACING && eat == BPF_TRACE_FENTRY;
	case AT_FEXIT:
		return type == BPF_PROG_TYPE_TRACING && eat == BPF_TRACE_FEXIT;
	case AT_ITER:
		return type == BPF_PROG_TYPE_TRACING && eat == BPF_TRACE_ITER;
	case AT_TRACEPOINT:
		return type == BPF_PROG_TYPE_TRACEPOINT;
	case AT_CGROUP:
		return type == BPF_PROG_TYPE_SOCK_OPS || type == BPF_PROG_TYPE_CGROUP_SOCK ||
		       type == BPF_PROG_TYPE_CGROUP_SOCK_ADDR;
	case AT_KPROBE:
	case AT_KRETPROBE:
		return type == BPF_PROG_TYPE_KPROBE;
	}
	return false;
}

/*
 * libbpf fails the load when the kernel has no config file to read, even for
 * a __weak extern: hand it what we found ourselves. HZ 0 (not found) makes
 * the BPF side assume 250; it only scales TIME_WAIT expiry.
 */
static void kconfig(char *buf, size_t len)
{
	snprintf(buf, len, "CONFIG_HZ=%u\n", kernel_hz());
}

size_t loader__kernel_leases(size_t max_leases)
{
	size_t n = max_leases / 4;

	return n < PL_KERNEL_LEASES_MIN ? PL_KERNEL_LEASES_MIN :
	       n > PL_KERNEL_LEASES_MAX ? PL_KERNEL_LEASES_MAX : n;
}

int loader__check_table(char *why, size_t whylen)
{
	struct bpf_program *prog;
	struct portlife *skel;
	bool seen[NPROGS] = {};
	int err = 0;

	skel = portlife__open();
	if (!skel) {
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(errno));
		return -errno;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		const struct prog_spec *sp = spec_of(prog);

		if (!sp) {
			snprintf(why, whylen, "program %s is not in the loader's table",
				 bpf_program__name(prog));
			err = -EINVAL;
			goto out;
		}
		if (!attach_matches(prog, sp->attach)) {
			snprintf(why, whylen, "program %s (%s) does not attach as the table says",
				 sp->name, bpf_program__section_name(prog));
			err = -EINVAL;
			goto out;
		}
		seen[sp - progs] = true;
	}
	for (size_t i = 0; i < NPROGS; i++) {
		if (!seen[i]) {
			snprintf(why, whylen, "table entry %s has no program", progs[i].name);
			err = -EINVAL;
			goto out;
		}
	}
out:
	portlife__destroy(skel);
	return err;
}

static bool btf_has_func(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
}

/*
 * Does tracepoint tp exist with at least nargs arguments (its BTF typedef
 * btf_trace_<tp>: a pointer to a prototype whose first argument is the
 * context)?
 */
static bool btf_has_tp(const struct btf *btf, const char *tp, int nargs)
{
	char name[128];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) : -1;
	if (id < 0)
		return false;
	t = btf__type_by_id(btf, btf__resolve_type(btf, id));
	if (!t || !btf_is_ptr(t))
		return false;
	t = btf__type_by_id(btf, t->type);
	return t && btf_is_func_proto(t) && btf_vlen(t) >= nargs;
}

/* May prog load in mode on this kernel, with the signals asked for? */
static bool wanted(const struct prog_spec *sp, enum pl_mode mode, const struct btf *btf,
		   bool probes)
{
	const struct signal_spec *sig = signal_of(sp);

	if (!sp || !(sp->modes & (1u << mode)))
		return false;
	if (sig && !probes)
		return false;
	if (sp->kfunc && !btf_has_func(btf, sp->kfunc))
		return false;
	return !sig || !sig->tp || btf_has_tp(btf, sig->tp, sig->tp_args);
}

static bool has_cap(int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ULL << cap);
}

int loader__check_release(const char *release, char *why, size_t whylen)
{
	unsigned int major, minor;

	/* a release we cannot read (a custom uname) is given the benefit of the doubt */
	if (!release || sscanf(release, "%u.%u", &major, &minor) != 2)
		return 0;
	if (major > PL_MIN_KERNEL_MAJOR ||
	    (major == PL_MIN_KERNEL_MAJOR && minor >= PL_MIN_KERNEL_MINOR))
		return 0;
	snprintf(why, whylen, "kernel %u.%u is older than the oldest kernel portlife's BPF "
		 "programs load on: run it on kernel " PL_MIN_KERNEL " or newer", major, minor);
	return -ENOTSUP;
}

#define CAP_DAC_READ_SEARCH_ 2
#define CAP_NET_ADMIN_	12
#define CAP_SYS_PTRACE_	19
#define CAP_SYS_ADMIN_	21
#define CAP_SYS_RESOURCE_ 24
#define CAP_PERFMON_	38
#define CAP_BPF_	39

/*
 * What each capability gives beyond loading the programs, and what is lost
 * without it: said once at start, so a capability set that looks enough
 * never quietly returns less.
 */
static const struct {
	int cap;
	const char *name;
	const char *without;
} optional_caps[] = {
	{ CAP_SYS_ADMIN_, "CAP_SYS_ADMIN",
	  "cannot enter other network namespaces (setns): TIME_WAIT is watched, and sockets "
	  "are listed for diagnosis, headroom, top and metrics, in portlife's own namespace "
	  "only" },
	{ CAP_SYS_PTRACE_, "CAP_SYS_PTRACE",
	  "cannot find other users' processes' network namespaces (/proc/PID/ns): only "
	  "those pinned in /run/netns and its own are entered" },
	{ CAP_DAC_READ_SEARCH_, "CAP_DAC_READ_SEARCH",
	  "cgroup paths are found by walking the cgroup tree (once a second at most) "
	  "instead of by id" },
};

bool loader__has_cap(int cap)
{
	return has_cap(cap);
}

void loader__warn_caps(const char *who)
{
	for (size_t i = 0; i < sizeof(optional_caps) / sizeof(optional_caps[0]); i++)
		if (!has_cap(optional_caps[i].cap))
			fprintf(stderr, "%s: without %s: %s; run as root for all of it\n", who,
				optional_caps[i].name, optional_caps[i].without);
}

/*
 * Does this kernel charge BPF maps and programs to RLIMIT_MEMLOCK? Before
 * 5.11 it does (memory cgroups took over in 5.11, "bpf: Eliminate
 * rlimit-based memory accounting for bpf maps"). Asked the way libbpf asks
 * before it raises the limit (probe_memcg_account()): bpf_ktime_get_coarse_ns()
 * came in the same release. Unknown counts as no: nothing to warn about.
 */
static bool memlock_charged(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER,
				       BPF_FUNC_ktime_get_coarse_ns, NULL) == 0;
}

/*
 * Where libbpf cannot raise RLIMIT_MEMLOCK to what the maps need: it sets
 * both limits to infinity, and raising the hard limit takes
 * CAP_SYS_RESOURCE. The soft limit in KiB, or 0 when nothing stands in the way.
 */
static unsigned long long memlock_stuck_kib(void)
{
	struct rlimit rl;

	if (has_cap(CAP_SYS_RESOURCE_) || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_max == RLIM_INFINITY || !memlock_charged())
		return 0;
	return rl.rlim_cur / 1024 ? rl.rlim_cur / 1024 : 1;
}

/*
 * kernel.perf_event_paranoid 3 (a Debian and Android patch; Debian's
 * default) refuses perf_event_open() to anyone without CAP_SYS_ADMIN, and
 * kprobes and classic tracepoints attach through it. fentry and tp_btf do
 * not. True if that is what stands in the way here.
 */
static bool perf_locked(void)
{
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	int level = 0;

	if (f) {
		if (fscanf(f, "%d", &level) != 1)
			level = 0;
		fclose(f);
	}
	return level >= 3 && !has_cap(CAP_SYS_ADMIN_);
}

int loader__preflight(void)
{
	unsigned long long kib;
	struct utsname u;
	char why[256];

	/*
	 * Loading needs CAP_BPF and CAP_PERFMON (tracing programs), and
	 * CAP_NET_ADMIN for the cgroup programs of the tracepoint mode; or
	 * CAP_SYS_ADMIN, which includes them all.
	 */
	if (!has_cap(CAP_SYS_ADMIN_) &&
	    !(has_cap(CAP_PERFMON_) && has_cap(CAP_BPF_) && has_cap(CAP_NET_ADMIN_))) {
		fprintf(stderr, "portlife: not enough privilege to load BPF programs: run it as "
				"root (or with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, and CAP_SYS_ADMIN "
				"to see other network namespaces)\n");
		return -EPERM;
	}
	if (!uname(&u) && loader__check_release(u.release, why, sizeof(why))) {
		fprintf(stderr, "portlife: %s\n", why);
		return -ENOTSUP;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "portlife: this kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"use kernel " PL_MIN_KERNEL " or newer built with "
				"CONFIG_DEBUG_INFO_BTF=y\n");
		return -ENOENT;
	}
	loader__warn_caps("portlife");
	if (perf_locked())
		fprintf(stderr, "portlife: without CAP_SYS_ADMIN: kernel.perf_event_paranoid is 3, "
				"which keeps perf events from anyone else: the kprobe and tracepoint "
				"modes cannot attach, only fentry can; run as root or set "
				"kernel.perf_event_paranoid=2\n");
	kib = memlock_stuck_kib();
	if (kib)
		fprintf(stderr, "portlife: without CAP_SYS_RESOURCE: this kernel (before 5.11) charges "
				"BPF maps to the locked-memory limit, %llu KiB here, which portlife "
				"cannot raise: loading fails unless it is raised (ulimit -l unlimited) "
				"or portlife runs as root\n", kib);
	return 0;
}

/* libbpf finds classic tracepoints through tracefs; mount it where it is missing. */
static int ensure_tracefs(bool verbose)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	if (verbose)
		fprintf(stderr, "portlife: mounted tracefs on /sys/kernel/tracing\n");
	return 0;
}

static int configure(struct tracer_bpf *t, const struct loader_opts *o)
{
	struct portlife *s = t->skel;
	int err;

	s->rodata->targ_tgid = o->pid;
	/*
	 * -6 in the kernel: an IPv4 socket never carries IPv6. -4 in user space
	 * alone (pipeline__traffic_family()): an IPv6 socket on v4-mapped
	 * addresses carries IPv4, and most hooks see no address yet.
	 */
	s->rodata->targ_family = o->family == AF_INET6 ? AF_INET6 : 0;
	s->rodata->filter_cgroup = o->filter_cgroup;
	s->rodata->wakeup_bytes = o->ringbuf_kib * 1024 / 4;
	s->rodata->exact_hooks = t->mode != MODE_TRACEPOINT;
	s->bss->self_tgid = getpid();
	s->rodata->signals_on = o->signals;
	s->rodata->probe_rate = PL_PROBE_RATE;
	s->rodata->sys_exit_hooks = !o->no_syscall_hooks;
	s->rodata->test_skip_rport = o->test_skip_rport;
	err = bpf_map__set_max_entries(s->maps.events, o->ringbuf_kib * 1024);
	if (err)
		return err;
	/*
	 * The tracepoint mode keeps only connect()ing TCP sockets' leases in the
	 * hash, and any beyond its size in the sockets' storage: no need to
	 * preallocate every element up front.
	 */
	if (t->mode == MODE_TRACEPOINT) {
		err = bpf_map__set_map_flags(s->maps.leases, BPF_F_NO_PREALLOC);
		if (err)
			return err;
	}
	return bpf_map__set_max_entries(s->maps.leases, loader__kernel_leases(o->max_leases));
}

static const char *attach_hint(enum pl_mode mode, int err)
{
	if (mode != MODE_FENTRY && (err == -EACCES || err == -EPERM) && perf_locked())
		return "kernel.perf_event_paranoid is 3, and perf events (kprobes, tracepoints) "
		       "then need CAP_SYS_ADMIN: run as root or set kernel.perf_event_paranoid=2";
	if (mode == MODE_FENTRY && (err == -EPERM || err == -EACCES))
		return "ftrace is locked down or trampolines are unavailable; try --mode kprobe or --mode tracepoint";
	if (mode == MODE_FENTRY)
		return "this kernel cannot attach fentry here; try --mode kprobe or --mode tracepoint";
	if (mode == MODE_KPROBE)
		return "kprobes are not available (CONFIG_KPROBES off?); try --mode tracepoint";
	return "the kernel lacks this hook; run with -v for libbpf's log";
}

void loader__unload_tracer(struct tracer_bpf *t)
{
	while (t->nlinks > 0)
		bpf_link__destroy(t->links[--t->nlinks]);
	t->tw_iter = NULL;
	portlife__destroy(t->skel);
	t->skel = NULL;
}

static int add_link(struct tracer_bpf *t, struct bpf_link *link)
{
	if (t->nlinks == PL_MAX_LINKS) {
		bpf_link__destroy(link);
		return -E2BIG;
	}
	t->links[t->nlinks++] = link;
	return 0;
}

/*
 * The tracepoint mode's cgroup programs (sock_ops, bind, connect, sendmsg,
 * sock create and release) go on --cgroup's directory, or the cgroup v2 root:
 * they then see the sockets of every process below it, and only those.
 */
static int attach_cgroup_progs(struct tracer_bpf *t, const struct loader_opts *o, char *why,
			       size_t whylen)
{
	char cgroot[PATH_MAX];
	const char *dir = o->cgroup;
	struct bpf_program *prog;
	int cgfd, err = 0;

	if (dir) {
		cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cgfd < 0) {
			err = -errno;
			snprintf(why, whylen, "cannot open the cgroup %.200s: %s", dir,
				 strerror(-err));
			return err;
		}
	} else {
		cgfd = cgroup2_host_root(cgroot, sizeof(cgroot), NULL, 0);
		/*
		 * Only a cgroup namespace's root in reach: a container's own tree
		 * (a service in systemd-nspawn, LXC). Its sockets alone, and said:
		 * never the container's part of the host as if it were all of it.
		 */
		if (cgfd == -EXDEV && !cgroup2_mount(cgroot, sizeof(cgroot)) &&
		    (cgfd = open(cgroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
			fprintf(stderr, "portlife: the cgroup v2 tree here is a cgroup namespace's (a "
					"container's): the tracepoint mode sees this container's sockets "
					"alone; for the host's, run in the host's cgroup namespace (docker "
					"run --cgroupns=host, or mount the node's /sys/fs/cgroup)\n");
		if (cgfd < 0) {
			snprintf(why, whylen, "no cgroup v2 is mounted, here or in another process's "
				 "mount namespace, and the socket hooks of this mode attach to one: "
				 "mount -t cgroup2 none /sys/fs/cgroup/unified");
			return cgfd;
		}
		dir = cgroot;
	}
	bpf_object__for_each_program(prog, t->skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) || spec_of(prog)->attach != AT_CGROUP)
			continue;
		link = bpf_program__attach_cgroup(prog, cgfd);
		if (!link) {
			err = -errno;
			snprintf(why, whylen, "cannot attach %s to the cgroup %.200s (%s): it needs "
				 "CAP_NET_ADMIN and cgroup v2", bpf_program__section_name(prog), dir,
				 strerror(-err));
			break;
		}
		err = add_link(t, link);
		if (err) {
			snprintf(why, whylen, "more than %d programs", PL_MAX_LINKS);
			break;
		}
	}
	close(cgfd);
	return err;
}

/*
 * An fentry program can attach and still never run (seen with ftrace locked
 * down): bind a socket ourselves and check that inet_csk_get_port's entry
 * hook saw it.
 */
static int self_test(struct tracer_bpf *t)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;
	__u64 cookie = 0;
	socklen_t len = sizeof(cookie);

	if (fd < 0)
		return -errno;
	/*
	 * The hook that sees this bind() by its socket's cookie learns our pid
	 * as the kernel knows it (self_tgid): in a pid namespace of our own,
	 * getpid() is another number, and this very test would never match.
	 */
	if (!getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len))
		__atomic_store_n(&t->skel->bss->calib_cookie, cookie, __ATOMIC_RELAXED);
	/* other portlifes skip it (PL_SELFTEST_MARK); without CAP_NET_ADMIN they see it, no more */
	(void)setsockopt(fd, SOL_SOCKET, SO_MARK, &(int){ PL_SELFTEST_MARK }, sizeof(int));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		err = -errno;
	__atomic_store_n(&t->skel->bss->calib_cookie, 0, __ATOMIC_RELAXED);
	close(fd);
	if (err)
		return err;
	return __atomic_load_n(&t->skel->bss->calib_hits, __ATOMIC_RELAXED) ? 0 : -ENOSYS;
}

/*
 * Why a load failed, in the kernel's words: libbpf names the program or map
 * and prints the verifier's log as warnings, which are caught on their way to
 * the caller's print function. The error line then names the program and the
 * verifier's reason instead of guessing from the mode.
 */
static struct load_err load_err;
static libbpf_print_fn_t outer_print;

/* The verifier log's last line that says something (not its statistics). */
static void note_verifier_reason(struct load_err *le, const char *log, size_t len)
{
	const char *end = log + len, *line;

	while (end > log) {
		while (end > log && (end[-1] == '\n' || end[-1] == ' '))
			end--;
		for (line = end; line > log && line[-1] != '\n'; line--)
			;
		if (end > line && strncmp(line, "processed ", 10) &&
		    strncmp(line, "verification time", 17) && strncmp(line, "stack depth", 11)) {
			snprintf(le->reason, sizeof(le->reason), "%.*s", (int)(end - line), line);
			return;
		}
		end = line;
	}
}

void loader__note_warning(struct load_err *le, const char *msg)
{
	static const char begin[] = "-- BEGIN PROG LOAD LOG --\n", stop[] = "-- END PROG LOAD LOG --";
	const char *p, *q;

	if ((p = strstr(msg, "prog '")) && (q = strchr(p + 6, '\'')) && !le->prog[0] &&
	    (strstr(q, "failed to load") || strstr(q, "load failed") || strstr(q, begin)))
		snprintf(le->prog, sizeof(le->prog), "%.*s", (int)(q - p - 6), p + 6);
	if ((p = strstr(msg, begin)) && (q = strstr(p, stop)))
		note_verifier_reason(le, p + sizeof(begin) - 1, q - p - (sizeof(begin) - 1));
	if ((p = strstr(msg, "map '")) && (q = strchr(p + 5, '\'')) && !le->map[0] &&
	    strstr(q, "failed to create: ")) {
		snprintf(le->map, sizeof(le->map), "%.*s", (int)(q - p - 5), p + 5);
		p = strstr(q, "failed to create: ") + 18;
		snprintf(le->reason, sizeof(le->reason), "%.*s", (int)strcspn(p, "(\n"), p);
	}
}

static int catch_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char *msg = NULL;
	va_list copy;

	va_copy(copy, args);
	if (level == LIBBPF_WARN && vasprintf(&msg, fmt, copy) >= 0)
		loader__note_warning(&load_err, msg);
	va_end(copy);
	free(msg);
	return outer_print ? outer_print(level, fmt, args) : 0;
}

/* The one line saying why the kernel refused mode's programs (err from the load). */
static void load_failure(struct tracer_bpf *t, enum pl_mode mode, int err, char *why,
			 size_t whylen)
{
	const struct bpf_program *prog = NULL;
	unsigned long long kib;

	if (load_err.map[0]) {
		kib = err == -EPERM ? memlock_stuck_kib() : 0;
		if (kib)
			snprintf(why, whylen, "cannot create BPF map %s (%s): this kernel (before "
				 "5.11) charges BPF maps to the locked-memory limit (%llu KiB), and "
				 "raising it takes CAP_SYS_RESOURCE: run as root or ulimit -l unlimited",
				 load_err.map, load_err.reason, kib);
		else
			snprintf(why, whylen, "cannot create BPF map %s (%s); run with -v for libbpf's "
				 "log", load_err.map, load_err.reason[0] ? load_err.reason : strerror(-err));
		return;
	}
	if (load_err.prog[0])
		prog = bpf_object__find_program_by_name(t->skel->obj, load_err.prog);
	if (!prog) {
		snprintf(why, whylen, "the kernel refused to load the programs (%s); run with -v for "
			 "libbpf's log", strerror(-err));
		return;
	}
	if (mode == MODE_FENTRY && err == -EPERM && spec_of(prog)->attach != AT_TP_BTF)
		snprintf(why, whylen, "the kernel refused fentry program %s (%s): ftrace is locked "
			 "down or BPF trampolines are disabled; try --mode kprobe or tracepoint",
			 load_err.prog, strerror(-err));
	else if ((spec_of(prog)->attach == AT_KPROBE || spec_of(prog)->attach == AT_KRETPROBE) &&
		 !load_err.reason[0])
		snprintf(why, whylen, "the kernel refused kprobe program %s (%s) without a word "
			 "from the verifier: no kprobe programs here (CONFIG_KPROBE_EVENTS off?); "
			 "try --mode tracepoint", load_err.prog, strerror(-err));
	else
		snprintf(why, whylen, "the kernel refused program %s (%s): %s; run with -v for the "
			 "verifier log", load_err.prog, bpf_program__section_name(prog),
			 load_err.reason[0] ? load_err.reason : strerror(-err));
}

/*
 * May a tp_btf program (the tracepoint mode's kind) call helper func? Asked
 * of the verifier with "call func; exit" on inet_sock_set_state: it looks
 * the helper up before it checks any argument, so "unknown func" in its log
 * means no, and any other complaint means yes. (libbpf_probe_bpf_helper()
 * does not probe tracing programs: they need an attach target.) 1 yes, 0 no,
 * -errno when it cannot tell.
 */
/*
 * Loads a two-instruction tracing program of attach type at on the BTF type
 * name (of kind), with the verifier's log in log (when log_size), and unloads
 * it: 0 if the kernel took it, -errno if not, -ENOENT without that target.
 */
static int tracing_look(const struct btf *btf, const char *name, int kind,
			enum bpf_attach_type at, const struct bpf_insn insns[2], char *log,
			size_t log_size)
{
	int id, fd;

	id = btf ? btf__find_by_name_kind(btf, name, kind) : -ENOENT;
	if (id <= 0)
		return -ENOENT;
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = at, .attach_btf_id = id,
		    .log_buf = log_size ? log : NULL, .log_size = log_size, .log_level = !!log_size);
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "pl_probe", "GPL", insns, 2, &lo);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int tracing_has_helper(const struct btf *btf, enum bpf_func_id func)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = func },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096] = "";
	int err;

	err = tracing_look(btf, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF,
			   BPF_TRACE_RAW_TP, insns, log, sizeof(log));
	if (!err)
		return 1;
	if (strstr(log, "unknown func"))
		return 0;
	return log[0] ? 1 : err;
}

#ifndef BPF_ATOMIC
#define BPF_ATOMIC	0xc0
#endif
#ifndef BPF_FETCH
#define BPF_FETCH	0x01
#endif

/*
 * Does the kernel take atomic fetch instructions (5.12)? A socket filter of
 * five instructions with one fetch-and-add on its stack: 5.10 refuses it
 * ("BPF_XADD uses reserved fields"). Asked once.
 */
static bool kernel_has_atomic_fetch(void)
{
	static int known = -1;
	const struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_1, .off = -8, .imm = BPF_ADD | BPF_FETCH },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	if (known < 0) {
		fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "pl_fetch", "GPL", insns,
				   sizeof(insns) / sizeof(insns[0]), NULL);
		known = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	return known;
}

/*
 * The tracer is built twice (Makefile, bpf/events.bpf.h lease_id_new()):
 * with one atomic fetch-and-add per new lease id, and, for kernels before
 * 5.12, with a claim in the lease_ids map instead, which costs about 0.5 us
 * per allocation. The two differ in that function's body only: the same
 * programs, maps and variables, hence the same skeleton layout, so the
 * older kernels' build is used through the default's type.
 */
_Static_assert(sizeof(struct portlife) == sizeof(struct portlife_nofetch) &&
	       sizeof(((struct portlife *)0)->maps) ==
	       sizeof(((struct portlife_nofetch *)0)->maps) &&
	       sizeof(((struct portlife *)0)->progs) ==
	       sizeof(((struct portlife_nofetch *)0)->progs) &&
	       sizeof(*((struct portlife *)0)->rodata) ==
	       sizeof(*((struct portlife_nofetch *)0)->rodata) &&
	       sizeof(*((struct portlife *)0)->bss) ==
	       sizeof(*((struct portlife_nofetch *)0)->bss),
	       "the two builds of the tracer have one layout");

static struct portlife *open_tracer(const struct bpf_object_open_opts *opts, bool fetch)
{
	struct portlife *s;

	if (!fetch)
		return (struct portlife *)portlife_nofetch__open_opts(opts);
	s = portlife__open_opts(opts);
	/* no program of this build claims ids in it */
	if (s)
		bpf_map__set_autocreate(s->maps.lease_ids, false);
	return s;
}

/*
 * The tracepoint mode keeps a lease in its socket's storage and matches
 * TIME_WAIT snapshots by cookie, from tp_btf programs: a kernel whose tracing
 * programs lack either helper (before PL_TP_MIN_KERNEL) refuses it here, in
 * one line, and the ladder has already tried fentry and kprobe.
 */
static int tp_mode_refused(const struct btf *btf, char *why, size_t whylen)
{
	bool storage = tracing_has_helper(btf, BPF_FUNC_sk_storage_get) != 0;
	bool cookie = tracing_has_helper(btf, BPF_FUNC_get_socket_cookie) != 0;

	if (storage && cookie)
		return 0;
	snprintf(why, whylen, "tracing programs on this kernel cannot call %s, which this mode "
		 "keeps its leases with (kernel " PL_TP_MIN_KERNEL " has %s); use --mode fentry or "
		 "--mode kprobe",
		 !storage && !cookie ? "bpf_sk_storage_get() nor bpf_get_socket_cookie()" :
		 !storage ? "bpf_sk_storage_get()" : "bpf_get_socket_cookie()",
		 !storage && !cookie ? "both" : "it");
	return -EOPNOTSUPP;
}

#ifndef offsetofend
#define offsetofend(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#endif

/*
 * Does the kernel count recursion misses (bpf_prog_info.recursion_misses,
 * 5.12: 9ed9e9ba2337 "bpf: Count the number of times recursion was
 * prevented")? Its info is shorter where it does not: the kernel says how
 * much it filled in.
 */
static bool counts_recursion(const struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_program__fd(prog) < 0)
			continue;
		return !bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) &&
		       len >= offsetofend(struct bpf_prog_info, recursion_misses);
	}
	return false;
}

struct mark_ctx {
	struct bpf_link *it;
	volatile __u64 *failed;	/* udp_mark_failed */
	int map;		/* udp_walked */
	size_t walked;
};

/* netns_each(): one namespace's UDP sockets marked; a namespace where one failed is left out. */
static int mark_ns(void *ctx, const struct netns_ref *ns)
{
	struct mark_ctx *c = ctx;
	struct vec none = {};
	__u64 before = *c->failed;
	__u8 one = 1;
	int err;

	/* the program writes nothing: reading runs it over every socket */
	err = iter_collect(c->it, sizeof(__u64), sizeof(__u64), &none);
	free(none.v);
	if (!err && *c->failed == before && !bpf_map_update_elem(c->map, &ns->inum, &one, BPF_ANY))
		c->walked++;
	return 0;
}

/*
 * Tracepoint mode, once every hook is attached: in each network namespace
 * portlife can enter, the UDP sockets holding a port get storage marked as
 * older than tracing (pl_iter_udp_mark()), and the namespace goes into
 * udp_walked. There, from now on, a UDP socket found with a port and no
 * storage took the port while tracing: a socket made before the start,
 * still unbound then, whose first send autobinds (no hook sees that
 * autobind, only the send's just after it). A namespace not entered, or
 * where a socket could not be marked, is left out of udp_walked: its
 * unmarked sockets are taken as older than tracing, not as news.
 * 0, or -errno when the thread cannot get back to its own namespace.
 */
static int mark_udp(struct tracer_bpf *t, struct bpf_link *it, bool verbose)
{
	struct mark_ctx c = { .it = it, .failed = &t->skel->bss->udp_mark_failed,
			      .map = bpf_map__fd(t->skel->maps.udp_walked) };
	struct netns_ref *nsv;
	size_t nns;
	int err;

	nsv = netns_list(&nns);
	err = netns_each(nsv, nns, 0, mark_ns, &c, NULL, NULL);
	free(nsv);
	if (verbose)
		fprintf(stderr, "portlife: UDP sockets older than tracing marked in %zu of %zu "
				"network namespaces%s\n", c.walked, nns,
			*c.failed ? " (some could not be: out of memory)" : "");
	/* without /proc nothing is walked, and nothing assumed: only a lost way back is fatal */
	return err == -EIO ? err : 0;
}

/*
 * Open, configure, load and attach everything one mode needs. On failure
 * nothing stays loaded and *why says what the kernel refused.
 */
static int try_mode(struct tracer_bpf *t, const struct loader_opts *o, enum pl_mode mode,
		    const struct btf *btf, bool probes, char *why, size_t whylen)
{
	struct bpf_link *udp_mark = NULL;
	struct bpf_program *prog;
	char kc[64];
	int err;

	kconfig(kc, sizeof(kc));
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kconfig = kc);

	memset(t, 0, sizeof(*t));
	t->mode = mode;
	if (mode == MODE_TRACEPOINT) {
		err = tp_mode_refused(btf, why, whylen);
		if (err)
			return err;
	}
	t->skel = open_tracer(&opts, kernel_has_atomic_fetch());
	if (!t->skel) {
		err = -errno;
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	err = configure(t, o);
	if (err) {
		snprintf(why, whylen, "cannot size the BPF maps: %s", strerror(-err));
		goto fail;
	}
	bpf_object__for_each_program(prog, t->skel->obj) {
		const struct prog_spec *sp = spec_of(prog);

		bpf_program__set_autoload(prog, wanted(sp, mode, btf, probes) &&
					  hooks_choose(prog, o->no_syscall_hooks));
	}
	memset(&load_err, 0, sizeof(load_err));
	outer_print = libbpf_set_print(catch_print);
	err = portlife__load(t->skel);
	libbpf_set_print(outer_print);
	if (err && probes) {
		/* the probes are worth no failure to start: try without them */
		loader__unload_tracer(t);
		err = try_mode(t, o, mode, btf, false, why, whylen);
		if (!err)
			snprintf(t->signals_note, sizeof(t->signals_note), "the kernel refused the "
				 "programs that watch closed ports: scan_in sees nothing this run "
				 "(-v says why)");
		return err;
	}
	if (err) {
		load_failure(t, mode, err, why, whylen);
		goto fail;
	}
	t->recursion_counted = counts_recursion(t->skel->obj);
	if (mode == MODE_TRACEPOINT) {
		err = ensure_tracefs(o->verbose);
		if (err) {
			snprintf(why, whylen, "tracefs is not mounted and mounting it failed (%s): "
				 "mount -t tracefs nodev /sys/kernel/tracing", strerror(-err));
			goto fail;
		}
	}
	bpf_object__for_each_program(prog, t->skel->obj) {
		const struct prog_spec *sp = spec_of(prog);
		const struct signal_spec *sig = signal_of(sp);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) || sp->attach == AT_CGROUP)
			continue;
		link = bpf_program__attach(prog);
		if (!link && sig) {
			snprintf(t->signals_note, sizeof(t->signals_note), "cannot attach %s (%s): "
				 "scan_in misses what it would have seen", bpf_program__section_name(prog),
				 strerror(errno));
			continue;
		}
		if (!link) {
			err = -errno;
			snprintf(why, whylen, "cannot attach %s (%s): %s",
				 bpf_program__section_name(prog), strerror(-err),
				 attach_hint(mode, err));
			goto fail;
		}
		err = add_link(t, link);
		if (err) {
			snprintf(why, whylen, "more than %d programs", PL_MAX_LINKS);
			goto fail;
		}
		if (prog == t->skel->progs.pl_iter_tw)
			t->tw_iter = link;
		if (prog == t->skel->progs.pl_iter_udp_mark)
			udp_mark = link;
		if (sig)
			t->sees |= sig->sees;
	}
	if (o->signals)
		t->sees |= PL_SEES_LISTEN;
	if (mode != MODE_TRACEPOINT && self_test(t)) {
		err = -ENOSYS;
		snprintf(why, whylen, "the programs attached but never ran on a test bind() "
			 "(ftrace or kprobes disabled at run time?); try --mode tracepoint");
		goto fail;
	}
	if (mode == MODE_TRACEPOINT) {
		err = attach_cgroup_progs(t, o, why, whylen);
		if (err)
			goto fail;
		/* no test of the hooks here (they run), but our pid as the kernel has it */
		self_test(t);
		err = udp_mark ? mark_udp(t, udp_mark, o->verbose) : 0;
		if (err) {
			snprintf(why, whylen, "cannot return to portlife's own network namespace "
				 "after marking UDP sockets: %s", strerror(-err));
			goto fail;
		}
		snprintf(t->precision, sizeof(t->precision), "%s",
			 o->no_syscall_hooks ? PRECISION_TP_NO_SYSCALL_HOOKS : PRECISION_TP);
	} else {
		/*
		 * What this kernel does not tell is said with the precision (the
		 * start line, the trace header). The tracepoint mode needs
		 * PL_TP_MIN_KERNEL, which counts recursion misses.
		 */
		snprintf(t->precision, sizeof(t->precision), "%s%s", mode == MODE_FENTRY ?
			 "alloc latency: exact search (fentry/fexit on inet_hash_connect, "
			 "inet_csk_get_port, udp_lib_get_port); TIME_WAIT enter and exit: exact" :
			 "alloc latency: exact search (kprobe/kretprobe on inet_hash_connect, "
			 "inet_csk_get_port, udp_lib_get_port); TIME_WAIT enter and exit: exact",
			 t->recursion_counted ? "" :
			 "; recursion misses: not counted (kernel before 5.12)");
	}
	return 0;
fail:
	loader__unload_tracer(t);
	return err;
}

/*
 * Auto mode's quick looks before a whole attempt. Loading the whole object in
 * a mode the kernel then refuses costs a start ~0.25 s on a host where
 * neither exact mode works (here: fentry refused, no kprobes): vmlinux BTF
 * parsed again, the CO-RE relocations, the exact modes' leases map
 * preallocated, programs verified, all thrown away. Each look says no only
 * where the whole attempt would fail for the same reason, with its words;
 * anything it cannot tell leaves the decision to the whole attempt.
 */
#ifndef ENOTSUPP
#define ENOTSUPP 524	/* the kernel's own "not supported", as bpf() returns it */
#endif

/*
 * The exact modes' hook on inet_hash_connect, as a two-instruction fentry
 * program: a kernel that locks ftrace down refuses it at load with EPERM,
 * as it refuses the object's fentry programs. Non-zero (and why) only then.
 */
static int fentry_refused(const struct btf *btf, char *why, size_t whylen)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int err = tracing_look(btf, "inet_hash_connect", BTF_KIND_FUNC, BPF_TRACE_FENTRY, insns,
			       NULL, 0);

	/* a locked-memory limit refuses everything alike: the whole attempt says that best */
	if ((err == -EPERM && !memlock_stuck_kib()) || err == -EOPNOTSUPP || err == -ENOTSUPP) {
		snprintf(why, whylen, "the kernel refused a fentry program on inet_hash_connect "
			 "(%s): %s", err == -ENOTSUPP ? "not supported" : strerror(-err),
			 attach_hint(MODE_FENTRY, err));
		return err;
	}
	return 0;
}

/*
 * libbpf attaches kprobes through the kprobe PMU, which the kernel registers
 * with CONFIG_KPROBE_EVENTS (and which its legacy tracefs path needs too,
 * through perf events). With sysfs there and no such PMU, no kprobe can attach.
 */
static int kprobes_absent(char *why, size_t whylen)
{
	if (access("/sys/bus/event_source/devices", F_OK) ||
	    !access("/sys/bus/event_source/devices/kprobe", F_OK))
		return 0;
	snprintf(why, whylen, "no kprobe PMU in /sys/bus/event_source/devices: %s",
		 attach_hint(MODE_KPROBE, -ENOENT));
	return -ENOENT;
}

/* Auto mode's look at mode m: non-zero (and why) when it cannot work here. */
static int quick_look(enum pl_mode m, const struct btf *btf, char *why, size_t whylen)
{
	if (m == MODE_FENTRY)
		return fentry_refused(btf, why, whylen);
	if (m == MODE_KPROBE)
		return kprobes_absent(why, whylen);
	return 0;
}

int loader__load_tracer(struct tracer_bpf *t, const struct loader_opts *o)
{
	struct btf *btf = btf__load_vmlinux_btf();
	char why[512], skipped[1024] = "";
	enum pl_mode m;
	int err = -ENOENT;

	for (m = MODE_FENTRY; m <= MODE_TRACEPOINT; m++) {
		if (o->mode != MODE_AUTO && o->mode != m)
			continue;
		err = o->mode == MODE_AUTO ? quick_look(m, btf, why, sizeof(why)) : 0;
		if (!err)
			err = try_mode(t, o, m, btf, o->probes, why, sizeof(why));
		if (!err)
			break;
		if (o->mode != MODE_AUTO) {
			fprintf(stderr, "portlife: %s mode unavailable: %s\n", mode_name(m), why);
			break;
		}
		snprintf(skipped + strlen(skipped), sizeof(skipped) - strlen(skipped), "%s%s: %s",
			 *skipped ? "; " : "", mode_name(m), why);
	}
	btf__free(btf);
	if (err && o->mode == MODE_AUTO)
		fprintf(stderr, "portlife: no attach mode works here: %s\n", skipped);
	else if (!err && *skipped && o->verbose)
		fprintf(stderr, "portlife: skipped %s\n", skipped);
	else if (!err && *skipped)
		fprintf(stderr, "portlife: better modes unavailable here (-v says why)\n");
	if (!err && o->verbose && !kernel_has_atomic_fetch())
		fprintf(stderr, "portlife: lease ids by map claim: this kernel has no atomic "
			"fetch (5.12), ~0.5 us more per allocation\n");
	return err;
}

int loader__load_iters(struct iters_bpf *it)
{
	char kc[64];
	int err;

	kconfig(kc, sizeof(kc));
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kconfig = kc);

	memset(it, 0, sizeof(*it));
	it->skel = iters__open_opts(&opts);
	if (!it->skel) {
		err = -errno;
		fprintf(stderr, "portlife: cannot open the BPF iterators: %s\n", strerror(-err));
		return err;
	}
	err = iters__load(it->skel);
	if (err) {
		fprintf(stderr, "portlife: the kernel refused the socket iterators (%s): they "
				"need BTF and kernel " PL_MIN_KERNEL " or newer; run with -v for "
				"details\n",
			strerror(-err));
		goto fail;
	}
	it->links.tcp = bpf_program__attach_iter(it->skel->progs.pl_ports_tcp, NULL);
	it->links.udp = bpf_program__attach_iter(it->skel->progs.pl_ports_udp, NULL);
	it->links.owner = bpf_program__attach_iter(it->skel->progs.pl_ports_owner, NULL);
	if (!it->links.tcp || !it->links.udp || !it->links.owner) {
		err = -errno;
		fprintf(stderr, "portlife: cannot create the socket iterators: %s\n",
			strerror(-err));
		goto fail;
	}
	return 0;
fail:
	loader__unload_iters(it);
	return err;
}

struct twlook *loader__load_twlook(void)
{
	struct twlook *skel;
	char kc[64];
	int err;

	kconfig(kc, sizeof(kc));
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kconfig = kc);
	skel = twlook__open_opts(&opts);
	if (!skel)
		return NULL;
	err = twlook__load(skel);
	if (err || !skel->bss) {
		/* before 5.17 (no bpf_loop): the iterator does every round */
		twlook__destroy(skel);
		errno = err ? -err : ENOTSUP;
		return NULL;
	}
	return skel;
}

void loader__unload_iters(struct iters_bpf *it)
{
	bpf_link__destroy(it->links.tcp);
	bpf_link__destroy(it->links.udp);
	bpf_link__destroy(it->links.owner);
	iters__destroy(it->skel);
	memset(it, 0, sizeof(*it));
}
