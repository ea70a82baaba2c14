// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for container attribution (user/container.c): the cgroup path
 * forms of each runtime and driver, hostile paths, a fake kubelet log tree
 * in a temporary directory, the cgroup id cache and its bounds, filters and
 * the JSON object.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "container.h"

/* Container ids as runtimes make them: 64 lowercase hex. */
#define ID_A "4c01db0b339c8e1b9d6f3a6e2b7c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708"
#define ID_B "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define ID_C "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ID_D "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
#define ID_A_UPPER "4C01DB0B339C8E1B9D6F3A6E2B7C9D0E1F2A3B4C5D6E7F8091A2B3C4D5E6F708"

/* A pod UID, in the cgroupfs and directory form and in the systemd slice form. */
#define UID "7f3c9e2a-1b2c-4d5e-8f90-123456789abc"
#define UID_ "7f3c9e2a_1b2c_4d5e_8f90_123456789abc"
#define UID2 "0b6a9a4e-52c1-4f0e-9d3c-2a7e8f1d4c6b"
#define UID2_ "0b6a9a4e_52c1_4f0e_9d3c_2a7e8f1d4c6b"
/* A static pod's UID: the 32-hex hash of its manifest. */
#define UID_STATIC "3d0b1d3e4f7a8c9b2e1f0a9b8c7d6e5f"

#define BURSTABLE "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
#define BESTEFFORT "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"

#define SEC 1000000000ULL

struct pcase {
	const char *path;
	int ret;
	enum container_runtime rt;
	const char *id;
	const char *uid;
	enum container_runtime outer_rt;
	const char *outer;
};

#define FORM(path, ret, rt, id, uid) { path, ret, rt, id, uid, CONTAINER_NONE, "" }
#define NONE(path) { path, 0, CONTAINER_NONE, "", "", CONTAINER_NONE, "" }
#define NESTED(path, rt, id, uid, ort, oid) { path, 1, rt, id, uid, ort, oid }

/* The cases every runtime and driver makes, as they appear under /sys/fs/cgroup. */
static const struct pcase forms[] = {
	/* docker: systemd driver, cgroupfs driver, rootless */
	FORM("/system.slice/docker-" ID_A ".scope", 1, CONTAINER_DOCKER, ID_A, ""),
	FORM("/docker/" ID_A, 1, CONTAINER_DOCKER, ID_A, ""),
	FORM("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" ID_A ".scope", 1,
	     CONTAINER_DOCKER, ID_A, ""),
	/* cri-dockerd with the systemd driver: the scope names docker */
	FORM(BURSTABLE UID_ ".slice/docker-" ID_A ".scope", 1, CONTAINER_DOCKER, ID_A, UID),
	/* containerd under Kubernetes, systemd driver, the three QoS classes */
	FORM(BURSTABLE UID_ ".slice/cri-containerd-" ID_A ".scope", 1, CONTAINER_CONTAINERD,
	     ID_A, UID),
	FORM(BESTEFFORT UID_ ".slice/cri-containerd-" ID_A ".scope", 1, CONTAINER_CONTAINERD,
	     ID_A, UID),
	FORM("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID_A ".scope", 1,
	     CONTAINER_CONTAINERD, ID_A, UID),
	/* a static pod (etcd, kube-apiserver): the UID has no dashes */
	FORM(BURSTABLE UID_STATIC ".slice/cri-containerd-" ID_A ".scope", 1, CONTAINER_CONTAINERD,
	     ID_A, UID_STATIC),
	/* containerd under Kubernetes, cgroupfs driver */
	FORM("/kubepods/burstable/pod" UID "/" ID_A, 1, CONTAINER_CONTAINERD, ID_A, UID),
	FORM("/kubepods/besteffort/pod" UID "/" ID_A, 1, CONTAINER_CONTAINERD, ID_A, UID),
	FORM("/kubepods/pod" UID "/" ID_A, 1, CONTAINER_CONTAINERD, ID_A, UID),
	/* plain containerd (ctr, nerdctl): /<namespace>/<id>, or a nerdctl scope */
	FORM("/default/" ID_A, 1, CONTAINER_CONTAINERD, ID_A, ""),
	FORM("/k8s.io/" ID_A, 1, CONTAINER_CONTAINERD, ID_A, ""),
	FORM("/system.slice/nerdctl-" ID_A ".scope", 1, CONTAINER_CONTAINERD, ID_A, ""),
	/* cri-o, systemd and cgroupfs drivers */
	FORM(BESTEFFORT UID_ ".slice/crio-" ID_A ".scope", 1, CONTAINER_CRIO, ID_A, UID),
	FORM("/kubepods/burstable/pod" UID "/crio-" ID_A, 1, CONTAINER_CRIO, ID_A, UID),
	/* conmon is the monitor: a scope in the pod, not the container */
	FORM(BESTEFFORT UID_ ".slice/crio-conmon-" ID_A ".scope", 1, CONTAINER_SYSTEMD,
	     "crio-conmon-" ID_A ".scope", UID),
	NONE("/kubepods/burstable/pod" UID "/crio-conmon-" ID_A),
	/* podman: rootful, in a podman pod, rootless, split cgroups, conmon, cgroupfs */
	FORM("/machine.slice/libpod-" ID_A ".scope", 1, CONTAINER_PODMAN, ID_A, ""),
	FORM("/machine.slice/machine-libpod_pod_" ID_B ".slice/libpod-" ID_A ".scope", 1,
	     CONTAINER_PODMAN, ID_A, ""),
	FORM("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A ".scope", 1,
	     CONTAINER_PODMAN, ID_A, ""),
	FORM("/machine.slice/libpod-" ID_A ".scope/container", 1, CONTAINER_PODMAN, ID_A, ""),
	FORM("/machine.slice/libpod-conmon-" ID_A ".scope", 1, CONTAINER_SYSTEMD,
	     "libpod-conmon-" ID_A ".scope", ""),
	FORM("/libpod_parent/libpod-" ID_A, 1, CONTAINER_PODMAN, ID_A, ""),
	/* systemd units: services, user services, scopes, template and escaped names */
	FORM("/system.slice/nginx.service", 1, CONTAINER_SYSTEMD, "nginx.service", ""),
	FORM("/user.slice/user-1000.slice/user@1000.service/app.slice/gunicorn@web.service", 1,
	     CONTAINER_SYSTEMD, "gunicorn@web.service", ""),
	FORM("/user.slice/user-1000.slice/session-3.scope", 1, CONTAINER_SYSTEMD,
	     "session-3.scope", ""),
	FORM("/system.slice/system-getty.slice/getty@tty1.service", 1, CONTAINER_SYSTEMD,
	     "getty@tty1.service", ""),
	FORM("/system.slice/run-r0b1c2\\x2dfoo.scope", 1, CONTAINER_SYSTEMD,
	     "run-r0b1c2\\x2dfoo.scope", ""),
	FORM("/init.scope", 1, CONTAINER_SYSTEMD, "init.scope", ""),
	/* nesting: the innermost container wins, the outermost is kept (kind, DinD) */
	NESTED("/system.slice/docker-" ID_B ".scope/kubelet.slice/kubelet-kubepods.slice/"
	       "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_ ".slice/"
	       "cri-containerd-" ID_A ".scope",
	       CONTAINER_CONTAINERD, ID_A, UID, CONTAINER_DOCKER, ID_B),
	NESTED("/system.slice/docker-" ID_B ".scope/docker/" ID_A, CONTAINER_DOCKER, ID_A, "",
	       CONTAINER_DOCKER, ID_B),
	NESTED("/system.slice/docker-" ID_B ".scope/docker/" ID_C "/docker/" ID_A,
	       CONTAINER_DOCKER, ID_A, "", CONTAINER_DOCKER, ID_B),
	NESTED("/system.slice/docker-" ID_B ".scope/default/" ID_A, CONTAINER_CONTAINERD, ID_A, "",
	       CONTAINER_DOCKER, ID_B),
	/* the pod of a container is the one below its outer container */
	NESTED(BURSTABLE UID2_ ".slice/cri-containerd-" ID_B ".scope/kubepods/pod" UID "/" ID_A,
	       CONTAINER_CONTAINERD, ID_A, UID, CONTAINER_CONTAINERD, ID_B),
	/* a container wins over a unit, inside it or around it */
	FORM("/system.slice/docker-" ID_A ".scope/system.slice/nginx.service", 1,
	     CONTAINER_DOCKER, ID_A, ""),
	FORM("/system.slice/gitlab-runner.service/docker/" ID_A, 1, CONTAINER_DOCKER, ID_A, ""),
	/* not containers */
	NONE("/"),
	NONE("/system.slice"),
	NONE("/user.slice/user-1000.slice"),
	NONE("/kubepods.slice/kubepods-burstable.slice"),
	NONE(BURSTABLE UID_ ".slice"),
	NONE("/mygroup/worker"),
	NONE("/default/redis"),
	/* a bare id deeper than /<namespace>/<id> names no runtime */
	NONE("/a/b/" ID_A),
	NONE("/evil.slice/pod" UID "/" ID_A),
	/* ids of the wrong length or case, and suffixes that are not units */
	NONE("/docker/" ID_A "0"),
	NONE("/docker/" ID_A_UPPER),
	FORM("/system.slice/docker-" ID_A_UPPER ".scope", 1, CONTAINER_SYSTEMD,
	     "docker-" ID_A_UPPER ".scope", ""),
	NONE("/system.slice/docker-" ID_A ".scope.evil"),
	NONE("/system.slice/cri-containerd-" ID_A ".scopex"),
	/* a pod slice with a malformed UID or prefix is no pod */
	FORM("/kubepods.slice/kubepods-pod7f3c9e2a_1b2c_4d5e_8f90123456789abc_.slice/"
	     "cri-containerd-" ID_A ".scope",
	     1, CONTAINER_CONTAINERD, ID_A, ""),
	FORM("/kubepods.slice/kubepods-pod7F3C9E2A_1b2c_4d5e_8f90_123456789abc.slice/"
	     "cri-containerd-" ID_A ".scope",
	     1, CONTAINER_CONTAINERD, ID_A, ""),
	FORM("/kubepods.slice/notkubepods-pod" UID_ ".slice/cri-containerd-" ID_A ".scope", 1,
	     CONTAINER_CONTAINERD, ID_A, ""),
};

static void check_case(const struct pcase *pc)
{
	char json[CONTAINER_JSON_MAX];
	struct container ct;
	int ret = container__parse(pc->path, &ct);

	if (ret != pc->ret || ct.runtime != pc->rt || strcmp(ct.id, pc->id) ||
	    strcmp(ct.pod_uid, pc->uid) || ct.outer_runtime != pc->outer_rt ||
	    strcmp(ct.outer_id, pc->outer))
		fail_msg("%s: got %d %s id '%s' uid '%s' outer %s '%s'", pc->path, ret,
			 container__runtime_name(ct.runtime), ct.id, ct.pod_uid,
			 container__runtime_name(ct.outer_runtime), ct.outer_id);
	assert_true(container__valid(&ct));
	if (pc->rt && pc->rt != CONTAINER_SYSTEMD) {
		assert_int_equal(strlen(ct.short_id), CONTAINER_SHORT_HEX);
		assert_memory_equal(ct.short_id, pc->id, CONTAINER_SHORT_HEX);
	}
	/* names come from the kubelet's files only */
	assert_string_equal(ct.pod, "");
	assert_string_equal(ct.namespace, "");
	assert_string_equal(ct.name, "");
	container__json_buf(json, sizeof(json), &ct);
	if (!pc->rt)
		assert_string_equal(json, "null");
}

static void test_parse_forms(void **state)
{
	assert_int_equal(strlen(ID_A), 64);
	assert_int_equal(strlen(ID_B), 64);
	assert_int_equal(strlen(ID_C), 64);
	assert_int_equal(strlen(ID_D), 64);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		check_case(&forms[i]);
}

/* A path of exactly len bytes: "/aaa…" components of 200 bytes, then tail. */
static char *long_path(size_t len, const char *tail)
{
	size_t t = strlen(tail), i = 0;
	char *p = malloc(len + 1);

	assert_non_null(p);
	while (i < len - t) {
		p[i++] = '/';
		for (size_t k = 0; k < 200 && i < len - t; k++)
			p[i++] = 'a';
	}
	/* the last filler component must not be empty */
	assert_int_equal(p[len - t - 1], 'a');
	memcpy(p + len - t, tail, t + 1);
	return p;
}

static void test_parse_hostile(void **state)
{
	static const struct {
		const char *path;
		int ret;
	} bad[] = {
		{ NULL, -EINVAL },
		{ "", -EINVAL },
		{ "system.slice/nginx.service", -EINVAL },
		{ "//", -EINVAL },
		{ "/system.slice//nginx.service", -EINVAL },
		{ "/system.slice/nginx.service/", -EINVAL },
		{ "/..", -EINVAL },
		{ "/.", -EINVAL },
		{ "/system.slice/../docker/" ID_A, -EINVAL },
		{ "/docker/./" ID_A, -EINVAL },
		/* valid paths whose names hold bytes no output may print raw */
		{ "/system.slice/\x1b[2J\x1b]0;pwned\x07.service", 0 },
		{ "/system.slice/nginx\n.service", 0 },
		{ "/system.slice/a\"b.service", 0 },
		{ "/system.slice/\xc3\xb1.service", 0 },
		{ "/system.slice/\xff\xfe.scope", 0 },
		{ "/docker/\n" ID_A, 0 },
		{ "/docker/" ID_A "\n", 0 },
		{ "/docker\x1b/" ID_A, 0 },
		{ "/kubepods/burstable/pod" UID "\x1b[0m/" ID_A, 0 },
		{ "/docker/" ID_A "\\", 0 },
		{ "/system.slice/.service", 0 },
		{ "/system.slice/.scope", 0 },
	};
	char unit[CONTAINER_UNIT_MAX + 32], json[CONTAINER_JSON_MAX];
	struct container ct;
	char *p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = container__parse(bad[i].path, &ct);

		if (ret != bad[i].ret)
			fail_msg("case %zu: got %d, want %d", i, ret, bad[i].ret);
		assert_int_equal(ct.runtime, CONTAINER_NONE);
		assert_true(container__valid(&ct));
	}

	/* CONTAINER_PATH_MAX - 1 bytes still parse; one more is refused */
	p = long_path(CONTAINER_PATH_MAX - 1, "/docker/" ID_A);
	assert_int_equal(container__parse(p, &ct), 1);
	assert_string_equal(ct.id, ID_A);
	free(p);
	p = long_path(CONTAINER_PATH_MAX, "/docker/" ID_A);
	assert_int_equal(container__parse(p, &ct), -ENAMETOOLONG);
	assert_int_equal(ct.runtime, CONTAINER_NONE);
	free(p);
	p = long_path(1 << 20, "/docker/" ID_A);
	assert_int_equal(container__parse(p, &ct), -ENAMETOOLONG);
	free(p);

	/* a unit name of 255 bytes is systemd's longest; 256 is no unit */
	strcpy(unit, "/system.slice/");
	memset(unit + 14, 'u', CONTAINER_UNIT_MAX - 8);
	strcpy(unit + 14 + CONTAINER_UNIT_MAX - 8, ".service");
	assert_int_equal(container__parse(unit, &ct), 1);
	assert_int_equal(strlen(ct.id), CONTAINER_UNIT_MAX);
	assert_true(container__json_buf(json, sizeof(json), &ct) < sizeof(json) - 1);
	strcpy(unit + 14 + CONTAINER_UNIT_MAX - 8, "u.service");
	assert_int_equal(container__parse(unit, &ct), 0);
}

/* The longest pod name: three labels of 63 and one of 61, with dots: 253 bytes. */
static void longest_pod(char *pod)
{
	char tmp[256];

	for (int i = 0; i < 4; i++) {
		memset(tmp + i * 64, 'p', 63);
		tmp[i * 64 + 63] = '.';
	}
	memcpy(pod, tmp, CONTAINER_SUBDOMAIN_MAX);
	pod[CONTAINER_SUBDOMAIN_MAX] = '\0';
	assert_true(container__dns_subdomain(pod));
}

static void test_validators(void **state)
{
	char s[300];

	assert_true(container__hex_id(ID_A));
	assert_false(container__hex_id(ID_A_UPPER));
	assert_false(container__hex_id(ID_A "0"));
	assert_false(container__hex_id("4c01db0b339c"));
	assert_false(container__hex_id(""));

	assert_true(container__pod_uid(UID));
	assert_true(container__pod_uid(UID_STATIC));
	assert_false(container__pod_uid(UID_));
	assert_false(container__pod_uid("7F3C9E2A-1b2c-4d5e-8f90-123456789abc"));
	assert_false(container__pod_uid("7f3c9e2a-1b2c-4d5e-8f90-123456789ab"));
	assert_false(container__pod_uid("7f3c9e2a1-b2c-4d5e-8f90-123456789abc"));

	assert_true(container__dns_label("a"));
	assert_true(container__dns_label("istio-proxy"));
	assert_true(container__dns_label("0abc9"));
	assert_false(container__dns_label(""));
	assert_false(container__dns_label("-app"));
	assert_false(container__dns_label("app-"));
	assert_false(container__dns_label("App"));
	assert_false(container__dns_label("my_app"));
	assert_false(container__dns_label("a.b"));
	assert_false(container__dns_label("app\x1b[0m"));
	memset(s, 'a', 63);
	s[63] = '\0';
	assert_true(container__dns_label(s));
	s[63] = 'a';
	s[64] = '\0';
	assert_false(container__dns_label(s));

	assert_true(container__dns_subdomain("web-7d9f8b6c5-x2x9q"));
	assert_true(container__dns_subdomain("etcd.node-1.example"));
	assert_false(container__dns_subdomain("a..b"));
	assert_false(container__dns_subdomain(".a"));
	assert_false(container__dns_subdomain("a."));
	assert_false(container__dns_subdomain("a.-b"));
	assert_false(container__dns_subdomain("Web"));
	/* 253 bytes at the most */
	longest_pod(s);
	strcat(s, "p");
	assert_false(container__dns_subdomain(s));

	assert_true(container__unit_name("nginx.service"));
	assert_true(container__unit_name("getty@tty1.service"));
	assert_true(container__unit_name("session-3.scope"));
	assert_false(container__unit_name("system.slice"));
	assert_false(container__unit_name(".service"));
	assert_false(container__unit_name("a b.service"));
	assert_false(container__unit_name("a/b.service"));
}

static void test_valid_struct(void **state)
{
	struct container ct;

	assert_int_equal(container__parse("/docker/" ID_A, &ct), 1);
	assert_true(container__valid(&ct));
	ct.short_id[3] = 'x';
	assert_false(container__valid(&ct));

	assert_int_equal(container__parse("/docker/" ID_A, &ct), 1);
	strcpy(ct.name, "app\n");
	assert_false(container__valid(&ct));

	/* an unterminated field */
	assert_int_equal(container__parse("/docker/" ID_A, &ct), 1);
	memset(ct.namespace, 'a', sizeof(ct.namespace));
	assert_false(container__valid(&ct));

	assert_int_equal(container__parse("/system.slice/nginx.service", &ct), 1);
	assert_true(container__valid(&ct));
	ct.runtime = CONTAINER_DOCKER;
	assert_false(container__valid(&ct));
	ct.runtime = CONTAINER_RUNTIMES;
	assert_false(container__valid(&ct));

	/* an outer runtime with no id */
	assert_int_equal(container__parse("/docker/" ID_A, &ct), 1);
	ct.outer_runtime = CONTAINER_DOCKER;
	assert_false(container__valid(&ct));
}

/* ---- a fake kubelet log tree ---- */

struct tree {
	char root[64], pods[96], containers[96];
};

static struct tree tree;

static void mkdir_ok(const char *path)
{
	if (mkdir(path, 0755))
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

static int tree_setup(void **state)
{
	strcpy(tree.root, "/tmp/pl-container-XXXXXX");
	if (!mkdtemp(tree.root))
		return -1;
	snprintf(tree.pods, sizeof(tree.pods), "%s/pods", tree.root);
	snprintf(tree.containers, sizeof(tree.containers), "%s/containers", tree.root);
	mkdir_ok(tree.pods);
	mkdir_ok(tree.containers);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int tree_teardown(void **state)
{
	return nftw(tree.root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* <pods>/<ns>_<pod>_<uid>/<container>/0.log for each container given */
static void mkpod(const char *ns, const char *pod, const char *uid, const char *const *ctrs)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s_%s_%s", tree.pods, ns, pod, uid);
	mkdir_ok(path);
	for (; *ctrs; ctrs++) {
		snprintf(path, sizeof(path), "%s/%s_%s_%s/%s", tree.pods, ns, pod, uid, *ctrs);
		mkdir_ok(path);
		strcat(path, "/0.log");
		fd = open(path, O_CREAT | O_WRONLY, 0640);
		assert_true(fd >= 0);
		close(fd);
	}
}

/* <containers>/<pod>_<ns>_<container>-<id>.log -> its log in the pod's directory */
static void mklink(const char *ns, const char *pod, const char *uid, const char *ctr,
		   const char *id)
{
	char link[512], target[512];

	snprintf(link, sizeof(link), "%s/%s_%s_%s-%s.log", tree.containers, pod, ns, ctr, id);
	snprintf(target, sizeof(target), "%s/%s_%s_%s/%s/0.log", tree.pods, ns, pod, uid, ctr);
	if (symlink(target, link))
		fail_msg("symlink %s: %s", link, strerror(errno));
}

/* ---- a fake clock and a fake cgpath ---- */

static __u64 now;
static unsigned int path_calls, rescans;

static __u64 fake_now(void)
{
	return now;
}

struct fake_path {
	__u64 id;
	const char *path;
	bool hidden;	/* made after the walk: seen only after a rescan */
};

static struct fake_path paths[16];
static size_t npaths;
static unsigned int calls_of[16];

static void add_path(__u64 id, const char *path, bool hidden)
{
	assert_true(npaths < sizeof(paths) / sizeof(paths[0]));
	paths[npaths++] = (struct fake_path){ id, path, hidden };
}

/* Ids from 1000 on are docker containers whose id is the cgroup id in hex. */
static const char *fake_path_of(__u64 id)
{
	static char buf[128];

	path_calls++;
	if (id >= 1000) {
		snprintf(buf, sizeof(buf), "/system.slice/docker-%064llx.scope",
			 (unsigned long long)id);
		return buf;
	}
	for (size_t i = 0; i < npaths; i++) {
		if (paths[i].id != id)
			continue;
		calls_of[i]++;
		return paths[i].hidden ? NULL : paths[i].path;
	}
	return NULL;
}

static void fake_rescan(void)
{
	rescans++;
	for (size_t i = 0; i < npaths; i++)
		paths[i].hidden = false;
}

static int both_setup(void **state)
{
	now = 5 * SEC;
	path_calls = rescans = 0;
	npaths = 0;
	memset(calls_of, 0, sizeof(calls_of));
	return tree_setup(state);
}

static struct container_cache *cache_new(size_t max_cgroups, size_t max_pods)
{
	struct container_opts o = {
		.pods_dir = tree.pods,
		.containers_dir = tree.containers,
		.max_cgroups = max_cgroups,
		.max_pods = max_pods,
		.path_of = fake_path_of,
		.path_rescan = fake_rescan,
		.now_ns = fake_now,
	};
	struct container_cache *c = container_cache__new(&o);

	assert_non_null(c);
	return c;
}

static struct container_stats stats(const struct container_cache *c)
{
	struct container_stats st;

	container_cache__stats(c, &st);
	return st;
}

/* Parse path, which must be a container's, and name it from the kubelet's files. */
static int resolve(struct container_cache *c, const char *path, struct container *ct)
{
	assert_int_equal(container__parse(path, ct), 1);
	return container__resolve(c, ct);
}

/* ---- the kubelet's files ---- */

static void test_kubelet_one_container(void **state)
{
	const char *const ctrs[] = { "app", NULL };
	struct container_opts o = { .pods_dir = tree.pods, .now_ns = fake_now };
	struct container_cache *c = cache_new(0, 0);
	struct container ct;

	mkpod("shop", "web-7d9f8b6c5-x2x9q", UID, ctrs);
	mklink("shop", "web-7d9f8b6c5-x2x9q", UID, "app", ID_A);

	/* the link names the container */
	assert_int_equal(resolve(c, BURSTABLE UID_ ".slice/cri-containerd-" ID_A ".scope", &ct), 1);
	assert_string_equal(ct.namespace, "shop");
	assert_string_equal(ct.pod, "web-7d9f8b6c5-x2x9q");
	assert_string_equal(ct.name, "app");

	/* the sandbox ("pause") has no log: pod known, no name guessed */
	assert_int_equal(resolve(c, BURSTABLE UID_ ".slice/cri-containerd-" ID_B ".scope", &ct), 0);
	assert_string_equal(ct.pod, "web-7d9f8b6c5-x2x9q");
	assert_string_equal(ct.name, "");
	container_cache__free(c);

	/* no containers directory at all: the pod's only container is the name */
	o.containers_dir = "/nonexistent/portlife-test";
	c = container_cache__new(&o);
	assert_non_null(c);
	assert_int_equal(resolve(c, BURSTABLE UID_ ".slice/cri-containerd-" ID_C ".scope", &ct), 1);
	assert_string_equal(ct.name, "app");
	container_cache__free(c);
}

static void test_kubelet_several_containers(void **state)
{
	const char *const ctrs[] = { "init-db", "app", "istio-proxy", NULL };
	struct container_opts o = { .pods_dir = tree.pods, .now_ns = fake_now };
	struct container_cache *c = cache_new(0, 0);
	struct container ct;

	mkpod("shop", "cart-0", UID, ctrs);
	mklink("shop", "cart-0", UID, "app", ID_A);
	mklink("shop", "cart-0", UID, "istio-proxy", ID_B);
	mklink("shop", "cart-0", UID, "init-db", ID_D);

	assert_int_equal(resolve(c, "/kubepods/burstable/pod" UID "/" ID_B, &ct), 1);
	assert_string_equal(ct.name, "istio-proxy");
	assert_string_equal(ct.namespace, "shop");
	assert_int_equal(resolve(c, "/kubepods/burstable/pod" UID "/crio-" ID_A, &ct), 1);
	assert_string_equal(ct.name, "app");
	assert_int_equal(stats(c).kubelet_scans, 1);
	container_cache__free(c);

	/* several containers and no links: no name is guessed */
	o.containers_dir = "/nonexistent/portlife-test";
	c = container_cache__new(&o);
	assert_non_null(c);
	assert_int_equal(resolve(c, "/kubepods/burstable/pod" UID "/" ID_B, &ct), 0);
	assert_string_equal(ct.pod, "cart-0");
	assert_string_equal(ct.name, "");
	container_cache__free(c);
}

static void test_kubelet_pod_appears_later(void **state)
{
	const char *const ctrs[] = { "api", NULL };
	struct container_cache *c = cache_new(0, 0);
	const struct container *got;

	add_path(10, BURSTABLE UID2_ ".slice/cri-containerd-" ID_C ".scope", false);
	got = container__lookup(c, 10);
	assert_non_null(got);
	assert_string_equal(got->id, ID_C);
	assert_string_equal(got->pod_uid, UID2);
	assert_string_equal(got->pod, "");
	assert_int_equal(stats(c).kubelet_scans, 1);

	/* the kubelet creates the pod's directories */
	mkpod("billing", "api-5c8d", UID2, ctrs);
	mklink("billing", "api-5c8d", UID2, "api", ID_C);

	/* within the second: not looked at again, the cached answer stands */
	now += SEC / 2;
	got = container__lookup(c, 10);
	assert_string_equal(got->pod, "");
	assert_int_equal(stats(c).kubelet_scans, 1);

	now += SEC / 2;
	got = container__lookup(c, 10);
	assert_string_equal(got->pod, "api-5c8d");
	assert_string_equal(got->namespace, "billing");
	assert_string_equal(got->name, "api");
	assert_int_equal(stats(c).kubelet_scans, 2);

	/* once known, it costs nothing more */
	now += 100 * SEC;
	container__lookup(c, 10);
	assert_int_equal(stats(c).kubelet_scans, 2);
	assert_int_equal(path_calls, 1);
	container_cache__free(c);
}

static void test_kubelet_rate_limit(void **state)
{
	struct container_cache *c = cache_new(0, 0);
	char path[8][200];
	struct container ct;

	/* eight unknown pods within one second: one scan of the directories */
	for (int i = 0; i < 8; i++) {
		snprintf(path[i], sizeof(path[i]), BESTEFFORT "%.34s%02x.slice/crio-" ID_A ".scope",
			 UID2_, i);
		add_path(20 + i, path[i], false);
		assert_non_null(container__lookup(c, 20 + i));
		now += SEC / 10;
	}
	assert_int_equal(stats(c).kubelet_scans, 1);
	assert_int_equal(stats(c).refreshes_limited, 7);

	/* the direct resolve obeys the same limit */
	assert_int_equal(resolve(c, path[0], &ct), 0);
	assert_int_equal(stats(c).kubelet_scans, 1);
	now += SEC;
	assert_int_equal(container__resolve(c, &ct), 0);
	assert_int_equal(stats(c).kubelet_scans, 2);
	container_cache__free(c);
}

static void test_kubelet_hostile_names(void **state)
{
	const char *const one[] = { "app", NULL };
	const char *const bad_ctr[] = { "App", "a_b", "\x1b[31m", NULL };
	struct container_cache *c = cache_new(0, 0);
	struct container ct;
	char path[512];
	int fd;

	mkpod("shop", "web", UID, one);
	mklink("shop", "web", UID, "app", ID_A);
	/* names the kubelet cannot make are not indexed */
	mkpod("Shop", "web", UID2, one);
	mkpod("shop", "we_b", UID2, one);
	mkpod("shop", "web", UID2_, one);
	mkpod("sh\x1b[2Jop", "web", UID2, one);
	mkpod("shop", "web\n", UID2, one);
	mkpod("shop", "evil", "0b6a9a4e-52c1-4f0e-9d3c-2a7e8f1d4c6B", one);
	/* a file, not a directory, with a pod's name */
	snprintf(path, sizeof(path), "%s/shop_file_%s", tree.pods, UID2);
	fd = open(path, O_CREAT | O_WRONLY, 0640);
	assert_true(fd >= 0);
	close(fd);
	/* links with bad names, a rotated log, and one that gives ID_B to another pod */
	mklink("shop", "web", UID, "App", ID_C);
	mklink("shop", "web", UID, "app", ID_A_UPPER);
	mklink("other", "web", UID, "sidecar", ID_B);
	snprintf(path, sizeof(path), "%s/web_shop_app-%s.log.1", tree.containers, ID_D);
	fd = open(path, O_CREAT | O_WRONLY, 0640);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(resolve(c, "/kubepods/pod" UID "/" ID_A, &ct), 1);
	assert_string_equal(ct.name, "app");
	assert_int_equal(stats(c).pods, 1);
	assert_int_equal(stats(c).logs, 2);

	/* the link for ID_B says namespace "other": not believed for a pod in "shop" */
	assert_int_equal(resolve(c, "/kubepods/pod" UID "/" ID_B, &ct), 1);
	assert_string_equal(ct.pod, "web");
	assert_string_equal(ct.name, "");

	/* a pod whose container directories all have bad names has none */
	mkpod("shop", "odd", UID2, bad_ctr);
	now += SEC;
	assert_int_equal(resolve(c, "/kubepods/pod" UID2 "/" ID_C, &ct), 0);
	assert_string_equal(ct.pod, "odd");
	assert_string_equal(ct.name, "");
	container_cache__free(c);
}

static void test_kubelet_bounds(void **state)
{
	const char *const one[] = { "app", NULL };
	struct container_cache *c = cache_new(0, 4);
	struct container ct;
	char uid[40];

	for (int i = 0; i < 10; i++) {
		snprintf(uid, sizeof(uid), "0b6a9a4e-52c1-4f0e-9d3c-2a7e8f1d4c%02x", i);
		mkpod("shop", "web", uid, one);
	}
	assert_int_equal(resolve(c, "/kubepods/pod" UID "/" ID_A, &ct), 0);
	assert_int_equal(stats(c).pods, 4);
	assert_int_equal(stats(c).pods_dropped, 6);
	container_cache__free(c);
}

/* ---- the cgroup id cache ---- */

static void test_cache_hits(void **state)
{
	struct container_cache *c = cache_new(0, 0);
	const struct container *got;

	add_path(1, "/", false);
	add_path(2, "/system.slice/nginx.service", false);
	add_path(3, "/system.slice", false);
	for (int i = 0; i < 5; i++) {
		assert_null(container__lookup(c, 1));
		got = container__lookup(c, 2);
		assert_non_null(got);
		assert_string_equal(got->id, "nginx.service");
		assert_null(container__lookup(c, 3));
	}
	/* every answer, "none" too, asked of cgpath once */
	assert_int_equal(path_calls, 3);
	assert_int_equal(stats(c).misses, 3);
	assert_int_equal(stats(c).hits, 12);
	assert_int_equal(rescans, 0);
	container_cache__free(c);
}

static void test_cache_bound(void **state)
{
	struct container_cache *c = cache_new(16, 0);
	char want[CONTAINER_ID_HEX + 1];
	const struct container *got;

	for (__u64 id = 1000; id < 2000; id++) {
		got = container__lookup(c, id);
		assert_non_null(got);
		snprintf(want, sizeof(want), "%064llx", (unsigned long long)id);
		assert_string_equal(got->id, want);
	}
	assert_int_equal(stats(c).entries, 16);
	assert_int_equal(stats(c).evictions, 1000 - 16);
	/* an evicted id is asked again, and still answered right */
	path_calls = 0;
	got = container__lookup(c, 1000);
	assert_int_equal(path_calls, 1);
	snprintf(want, sizeof(want), "%064llx", 1000ULL);
	assert_string_equal(got->id, want);
	/* the most recent ones are still there */
	path_calls = 0;
	for (__u64 id = 1990; id < 2000; id++)
		container__lookup(c, id);
	assert_int_equal(path_calls, 0);
	container_cache__free(c);
}

static void test_cache_clock_keeps_hot(void **state)
{
	struct container_cache *c = cache_new(16, 0);

	/* one id used all along, 200 used once: the one used again is never evicted */
	add_path(7, "/system.slice/docker-" ID_A ".scope", false);
	for (__u64 id = 1000; id < 1200; id++) {
		assert_non_null(container__lookup(c, 7));
		container__lookup(c, id);
	}
	assert_int_equal(calls_of[0], 1);
	assert_int_equal(stats(c).evictions, 201 - 16);
	container_cache__free(c);
}

static void test_cache_new_cgroup(void **state)
{
	struct container_cache *c = cache_new(0, 0);
	const struct container *got;

	/* a container started after cgpath's walk: one rescan finds it */
	add_path(40, "/system.slice/docker-" ID_B ".scope", true);
	got = container__lookup(c, 40);
	assert_non_null(got);
	assert_string_equal(got->id, ID_B);
	assert_int_equal(rescans, 1);

	/* ids nobody knows (cgroups already gone): one rescan a second, however many */
	for (__u64 id = 100; id < 400; id++)
		assert_null(container__lookup(c, id));
	assert_int_equal(rescans, 1);
	assert_int_equal(stats(c).refreshes_limited, 300);

	/* one made meanwhile is found once the second has passed and its retry is due */
	add_path(41, "/docker/" ID_C, true);
	assert_null(container__lookup(c, 41));
	path_calls = 0;
	assert_null(container__lookup(c, 41));
	assert_int_equal(path_calls, 0);
	now += SEC;
	got = container__lookup(c, 41);
	assert_non_null(got);
	assert_string_equal(got->id, ID_C);
	assert_int_equal(rescans, 2);
	container_cache__free(c);
}

static void test_cache_defaults(void **state)
{
	struct container_cache *c = container_cache__new(NULL);

	assert_non_null(c);
	assert_int_equal(stats(c).entries, 0);
	container_cache__free(c);
	container_cache__free(NULL);
}

/* ---- filters ---- */

static void test_filter(void **state)
{
	struct container_filter f = { 0 };
	struct container ct, nested, unit;
	const char *want = NULL;

	container__parse(BURSTABLE UID_ ".slice/cri-containerd-" ID_A ".scope", &ct);
	strcpy(ct.pod, "web-0");
	strcpy(ct.namespace, "shop");
	strcpy(ct.name, "app");
	container__parse("/system.slice/docker-" ID_B ".scope/docker/" ID_C, &nested);
	container__parse("/system.slice/nginx.service", &unit);

	/* an empty filter takes everything, outside containers too */
	assert_true(container_filter__empty(&f));
	assert_true(container__match(&ct, &f));
	assert_true(container__match(NULL, &f));

	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "4c01db0b339c",
					       &want), 0);
	assert_true(container__match(&ct, &f));
	assert_false(container__match(&nested, &f));
	assert_false(container__match(NULL, &f));
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, ID_A, NULL);
	assert_true(container__match(&ct, &f));
	/* 11 hex are a name, not an id prefix */
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "4c01db0b339", NULL);
	assert_false(container__match(&ct, &f));
	/* a prefix that goes on differently */
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "4c01db0b339d", NULL);
	assert_false(container__match(&ct, &f));
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "app", NULL);
	assert_true(container__match(&ct, &f));
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "ap", NULL);
	assert_false(container__match(&ct, &f));
	/* the outer container's id takes what runs inside it */
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "9f86d081884c", NULL);
	assert_true(container__match(&nested, &f));
	assert_false(container__match(&ct, &f));
	/* a unit by its exact name only */
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "nginx.service", NULL);
	assert_true(container__match(&unit, &f));
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "nginx", NULL);
	assert_false(container__match(&unit, &f));

	/* every value set must match */
	memset(&f, 0, sizeof(f));
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_POD, "web-0", NULL), 0);
	assert_true(container__match(&ct, &f));
	assert_false(container__match(&unit, &f));
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_NAMESPACE, "shop", NULL), 0);
	assert_true(container__match(&ct, &f));
	container_filter__set(&f, CONTAINER_FILTER_NAMESPACE, "default", NULL);
	assert_false(container__match(&ct, &f));
	container_filter__set(&f, CONTAINER_FILTER_NAMESPACE, "shop", NULL);
	container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "istio-proxy", NULL);
	assert_false(container__match(&ct, &f));

	/* values no container can have are refused, saying what is wanted */
	memset(&f, 0, sizeof(f));
	want = NULL;
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_CONTAINER, "App", &want),
			 -EINVAL);
	assert_non_null(want);
	assert_non_null(strstr(want, "container id"));
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_CONTAINER, ID_A_UPPER, NULL),
			 -EINVAL);
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_POD, "web_0", &want), -EINVAL);
	assert_non_null(strstr(want, "pod name"));
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_NAMESPACE, "kube.system",
					       &want), -EINVAL);
	assert_non_null(strstr(want, "namespace"));
	assert_int_equal(container_filter__set(&f, CONTAINER_FILTER_POD, "", NULL), -EINVAL);
	assert_true(container_filter__empty(&f));
}

/* ---- output ---- */

static void test_json(void **state)
{
	char buf[CONTAINER_JSON_MAX], *mem = NULL;
	struct container ct;
	size_t memlen = 0;
	FILE *f;

	container__parse(BURSTABLE UID_ ".slice/cri-containerd-" ID_A ".scope", &ct);
	strcpy(ct.pod, "web-0");
	strcpy(ct.namespace, "shop");
	strcpy(ct.name, "app");
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(buf, "{\"id\":\"" ID_A "\",\"runtime\":\"containerd\",\"name\":\"app\","
				 "\"pod\":\"web-0\",\"namespace\":\"shop\",\"pod_uid\":\"" UID
				 "\"}");

	container__parse("/docker/" ID_A, &ct);
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(buf, "{\"id\":\"" ID_A "\",\"runtime\":\"docker\",\"name\":null,"
				 "\"pod\":null,\"namespace\":null,\"pod_uid\":null}");

	container__parse("/system.slice/run-r0b1c2\\x2dfoo.scope", &ct);
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(buf, "{\"id\":\"run-r0b1c2\\\\x2dfoo.scope\",\"runtime\":\"systemd\","
				 "\"name\":null,\"pod\":null,\"namespace\":null,\"pod_uid\":null}");

	container__parse("/system.slice/docker-" ID_B ".scope/docker/" ID_A, &ct);
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(buf, "{\"id\":\"" ID_A "\",\"runtime\":\"docker\",\"name\":null,"
				 "\"pod\":null,\"namespace\":null,\"pod_uid\":null,"
				 "\"outer\":{\"runtime\":\"docker\",\"id\":\"" ID_B "\"}}");

	assert_int_equal(container__json_buf(buf, sizeof(buf), NULL), 4);
	assert_string_equal(buf, "null");
	container__parse("/", &ct);
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(buf, "null");

	/* a hand-filled struct with bytes no validator lets through is not printed */
	container__parse("/docker/" ID_A, &ct);
	strcpy(ct.name, "x\",\"pod\":\"evil");
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(buf, "null");

	/* truncation keeps the buffer terminated */
	container__parse("/docker/" ID_A, &ct);
	assert_int_equal(container__json_buf(buf, 10, &ct), 9);
	assert_int_equal(strlen(buf), 9);
	assert_int_equal(container__json_buf(buf, 0, &ct), 0);

	/* the stream form writes the same bytes */
	f = open_memstream(&mem, &memlen);
	assert_non_null(f);
	container__json(f, &ct);
	fclose(f);
	container__json_buf(buf, sizeof(buf), &ct);
	assert_string_equal(mem, buf);
	free(mem);
}

/* Names at their longest: the JSON of ct must still fit CONTAINER_JSON_MAX. */
static void assert_json_fits(struct container *ct)
{
	char buf[CONTAINER_JSON_MAX + 64];
	size_t n;

	strcpy(ct->pod_uid, UID);
	longest_pod(ct->pod);
	memset(ct->namespace, 'n', CONTAINER_LABEL_MAX);
	memset(ct->name, 'c', CONTAINER_LABEL_MAX);
	assert_true(container__valid(ct));
	n = container__json_buf(buf, sizeof(buf), ct);
	assert_true(n < CONTAINER_JSON_MAX - 1);
	assert_int_equal(buf[n - 1], '}');
}

static void test_json_max(void **state)
{
	struct container ct = { 0 };

	/* a unit name of backslashes escapes to twice its length */
	ct.runtime = CONTAINER_SYSTEMD;
	memset(ct.id, '\\', CONTAINER_UNIT_MAX - 6);
	strcpy(ct.id + CONTAINER_UNIT_MAX - 6, ".scope");
	assert_json_fits(&ct);
	/* and the longest container form, nested */
	container__parse("/system.slice/docker-" ID_B ".scope/docker/" ID_A, &ct);
	assert_json_fits(&ct);
}

static void test_str(void **state)
{
	struct container ct;
	char buf[256];

	container__parse(BURSTABLE UID_ ".slice/cri-containerd-" ID_A ".scope", &ct);
	assert_string_equal(container__str(&ct, buf, sizeof(buf)),
			    "containerd 4c01db0b339c pod uid " UID);
	strcpy(ct.pod, "web-0");
	strcpy(ct.namespace, "shop");
	strcpy(ct.name, "app");
	assert_string_equal(container__str(&ct, buf, sizeof(buf)),
			    "containerd 4c01db0b339c pod shop/web-0 container app");
	container__parse("/system.slice/nginx.service", &ct);
	assert_string_equal(container__str(&ct, buf, sizeof(buf)), "systemd nginx.service");
	container__parse("/system.slice/docker-" ID_B ".scope/docker/" ID_A, &ct);
	assert_string_equal(container__str(&ct, buf, sizeof(buf)),
			    "docker 4c01db0b339c in docker 9f86d081884c");
	assert_string_equal(container__str(NULL, buf, sizeof(buf)), "");
	ct.id[0] = 'X';
	assert_string_equal(container__str(&ct, buf, sizeof(buf)), "?");
	/* a short buffer is cut, never overrun */
	container__parse("/docker/" ID_A, &ct);
	assert_string_equal(container__str(&ct, buf, 8), "docker ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_valid_struct),
		cmocka_unit_test_setup_teardown(test_kubelet_one_container, both_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_kubelet_several_containers, both_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_kubelet_pod_appears_later, both_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_kubelet_rate_limit, both_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_kubelet_hostile_names, both_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_kubelet_bounds, both_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_hits, both_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_bound, both_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_clock_keeps_hot, both_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_cache_new_cgroup, both_setup, tree_teardown),
		cmocka_unit_test(test_cache_defaults),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_max),
		cmocka_unit_test(test_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
