// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Container, pod and systemd unit attribution from cgroup v2 paths and the
 * kubelet's log directories. The path forms and the trust rules are in
 * container.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgpath.h"
#include "container.h"
#include "json.h"
#include "util.h"

#define SEC_NS 1000000000ULL
#define MAX_BACKOFF 6 /* retries back off to 2^6 = 64 refresh intervals */

static const char *const runtime_names[CONTAINER_RUNTIMES] = {
	[CONTAINER_NONE] = "none",	   [CONTAINER_DOCKER] = "docker",
	[CONTAINER_CONTAINERD] = "containerd", [CONTAINER_CRIO] = "cri-o",
	[CONTAINER_PODMAN] = "podman",	   [CONTAINER_SYSTEMD] = "systemd",
};

const char *container__runtime_name(enum container_runtime rt)
{
	return (unsigned int)rt < CONTAINER_RUNTIMES ? runtime_names[rt] : "?";
}

/* ---- validators: the only way a byte gets out of a path or a directory ---- */

static bool hex_lower(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One DNS-1123 label: lowercase alphanumerics and '-', not at either end. */
static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || n > CONTAINER_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && !(s[i] == '-' && i > 0 && i < n - 1))
			return false;
	return true;
}

static bool subdomain_ok(const char *s, size_t n)
{
	const char *dot;

	if (n == 0 || n > CONTAINER_SUBDOMAIN_MAX)
		return false;
	while ((dot = memchr(s, '.', n))) {
		if (!label_ok(s, dot - s))
			return false;
		n -= dot + 1 - s;
		s = dot + 1;
	}
	return label_ok(s, n);
}

/*
 * A pod UID as the kubelet writes it into a cgroup or directory name, with
 * sep where the UUID has '-', copied to out with '-'. Static pods have the
 * 32-hex hash of their manifest as UID, with no dashes at all.
 */
static bool uid_copy(const char *s, size_t n, char sep, char *out)
{
	if (n == 32 && hex_lower(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != CONTAINER_UID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != sep)
				return false;
			out[i] = '-';
		} else if (hex_lower(s + i, 1)) {
			out[i] = s[i];
		} else {
			return false;
		}
	}
	out[n] = '\0';
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* systemd's unit-name charset (unit_name_is_valid), types that hold processes. */
static bool unit_ok(const char *s, size_t n)
{
	size_t type;

	if (ends_with(s, n, ".service"))
		type = 8;
	else if (ends_with(s, n, ".scope"))
		type = 6;
	else
		return false;
	if (n == type || n > CONTAINER_UNIT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr(":_.@\\-", c))))
			return false;
	}
	return true;
}

bool container__hex_id(const char *s)
{
	return strnlen(s, CONTAINER_ID_HEX + 1) == CONTAINER_ID_HEX &&
	       hex_lower(s, CONTAINER_ID_HEX);
}

bool container__pod_uid(const char *s)
{
	char tmp[CONTAINER_UID_MAX + 1];

	return uid_copy(s, strnlen(s, CONTAINER_UID_MAX + 1), '-', tmp);
}

bool container__dns_label(const char *s)
{
	return label_ok(s, strnlen(s, CONTAINER_LABEL_MAX + 1));
}

bool container__dns_subdomain(const char *s)
{
	return subdomain_ok(s, strnlen(s, CONTAINER_SUBDOMAIN_MAX + 1));
}

bool container__unit_name(const char *s)
{
	return unit_ok(s, strnlen(s, CONTAINER_UNIT_MAX + 1));
}

static bool any_str(const char *s)
{
	return s != NULL;
}

/* arr is a terminated string of its array, and either "" or accepted by ok. */
#define FIELD_OK(arr, ok) (strnlen(arr, sizeof(arr)) < sizeof(arr) && (!(arr)[0] || ok(arr)))

bool container__valid(const struct container *c)
{
	if ((unsigned int)c->runtime >= CONTAINER_RUNTIMES ||
	    (unsigned int)c->outer_runtime >= CONTAINER_RUNTIMES ||
	    !FIELD_OK(c->id, any_str) || !FIELD_OK(c->short_id, any_str) ||
	    !FIELD_OK(c->pod_uid, container__pod_uid) ||
	    !FIELD_OK(c->pod, container__dns_subdomain) ||
	    !FIELD_OK(c->namespace, container__dns_label) ||
	    !FIELD_OK(c->name, container__dns_label) || !FIELD_OK(c->outer_id, container__hex_id))
		return false;
	if (c->outer_runtime == CONTAINER_SYSTEMD || !c->outer_runtime != !c->outer_id[0])
		return false;
	switch (c->runtime) {
	case CONTAINER_NONE:
		return !c->id[0] && !c->short_id[0];
	case CONTAINER_SYSTEMD:
		return container__unit_name(c->id) && !c->short_id[0];
	default:
		return container__hex_id(c->id) && strlen(c->short_id) == CONTAINER_SHORT_HEX &&
		       !memcmp(c->id, c->short_id, CONTAINER_SHORT_HEX);
	}
}

/* ---- the path parser ---- */

struct comp {
	const char *s;
	size_t len;
};

static bool comp_is(struct comp c, const char *lit)
{
	size_t n = strlen(lit);

	return c.len == n && !memcmp(c.s, lit, n);
}

/* prefix, 64 hex, suffix and nothing else; the hex copied to id. */
static bool id_between(struct comp c, const char *prefix, const char *suffix, char *id)
{
	size_t p = strlen(prefix), s = strlen(suffix);

	if (c.len != p + CONTAINER_ID_HEX + s || memcmp(c.s, prefix, p) ||
	    memcmp(c.s + p + CONTAINER_ID_HEX, suffix, s) || !hex_lower(c.s + p, CONTAINER_ID_HEX))
		return false;
	memcpy(id, c.s + p, CONTAINER_ID_HEX);
	id[CONTAINER_ID_HEX] = '\0';
	return true;
}

/* The runtimes that name their cgroup after the container id. */
static const struct {
	const char *prefix, *suffix;
	enum container_runtime rt;
} id_forms[] = {
	{ "docker-", ".scope", CONTAINER_DOCKER },
	{ "cri-containerd-", ".scope", CONTAINER_CONTAINERD },
	{ "nerdctl-", ".scope", CONTAINER_CONTAINERD },
	{ "crio-", ".scope", CONTAINER_CRIO },
	{ "crio-", "", CONTAINER_CRIO },
	{ "libpod-", ".scope", CONTAINER_PODMAN },
	{ "libpod-", "", CONTAINER_PODMAN },
};

/*
 * A containerd namespace name (containerd's identifiers.Validate): alphanumeric
 * runs joined by single '.', '_' or '-', at most 76 bytes.
 */
static bool ctrd_namespace(struct comp c)
{
	if (!c.len || c.len > 76)
		return false;
	for (size_t i = 0; i < c.len; i++) {
		char ch = c.s[i];
		bool alnum = lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');

		if (!alnum && (i == 0 || i == c.len - 1 || !ch || !strchr("._-", ch) ||
			       strchr("._-", c.s[i - 1])))
			return false;
	}
	return true;
}

/*
 * Kubernetes' systemd driver names a pod's slice after its whole ancestry:
 * [<root>-]kubepods[-besteffort|-burstable]-pod<uid, '_' for '-'>.slice.
 */
static bool pod_slice(struct comp c, char *uid)
{
	static const char *const qos[] = { "kubepods", "kubepods-besteffort",
					   "kubepods-burstable" };
	size_t body, plen, rest;
	const char *dash;

	if (!ends_with(c.s, c.len, ".slice"))
		return false;
	body = c.len - 6;
	dash = memrchr(c.s, '-', body);
	if (!dash)
		return false;
	plen = dash - c.s;
	rest = body - plen - 1;
	if (rest < 3 || memcmp(dash + 1, "pod", 3))
		return false;
	for (size_t i = 0; i < sizeof(qos) / sizeof(qos[0]); i++) {
		size_t q = strlen(qos[i]);

		if (plen >= q && !memcmp(dash - q, qos[i], q) && (plen == q || *(dash - q - 1) == '-'))
			return uid_copy(dash + 4, rest - 3, '_', uid);
	}
	return false;
}

/* The cgroupfs driver: /kubepods/[besteffort|burstable/]pod<uid>. */
static bool pod_dir(struct comp c, struct comp parent, struct comp grand, char *uid)
{
	bool qos = comp_is(parent, "besteffort") || comp_is(parent, "burstable");

	if (c.len < 3 || memcmp(c.s, "pod", 3))
		return false;
	if (!comp_is(parent, "kubepods") && !(qos && comp_is(grand, "kubepods")))
		return false;
	return uid_copy(c.s + 3, c.len - 3, '-', uid);
}

struct walk {
	struct comp parent, grand;
	bool parent_pod;	/* the parent component is a pod's cgroup */
	size_t rel;		/* depth below the root or the last container */
	char pod_uid[CONTAINER_UID_MAX + 1];	/* pod above, below the last container */
	/* the result so far */
	enum container_runtime rt, outer_rt;
	char id[CONTAINER_ID_HEX + 1], outer_id[CONTAINER_ID_HEX + 1];
	char ct_uid[CONTAINER_UID_MAX + 1];
	struct comp unit;
	char unit_uid[CONTAINER_UID_MAX + 1];
};

static enum container_runtime container_comp(const struct walk *w, struct comp c, char *id)
{
	for (size_t i = 0; i < sizeof(id_forms) / sizeof(id_forms[0]); i++)
		if (id_between(c, id_forms[i].prefix, id_forms[i].suffix, id))
			return id_forms[i].rt;
	if (!id_between(c, "", "", id))
		return CONTAINER_NONE;
	if (comp_is(w->parent, "docker"))
		return CONTAINER_DOCKER;
	/* a bare id in a pod: the cgroupfs driver, runtime unnamed (see container.h) */
	if (w->parent_pod)
		return CONTAINER_CONTAINERD;
	if (w->rel == 2 && ctrd_namespace(w->parent))
		return CONTAINER_CONTAINERD;
	return CONTAINER_NONE;
}

static void walk_comp(struct walk *w, struct comp c)
{
	char id[CONTAINER_ID_HEX + 1], uid[CONTAINER_UID_MAX + 1];
	enum container_runtime rt;
	bool pod = false;

	w->rel++;
	rt = container_comp(w, c, id);
	if (rt) {
		/* the first container found stays the outermost */
		if (w->rt && !w->outer_rt) {
			w->outer_rt = w->rt;
			memcpy(w->outer_id, w->id, sizeof(w->id));
		}
		w->rt = rt;
		memcpy(w->id, id, sizeof(id));
		memcpy(w->ct_uid, w->pod_uid, sizeof(uid));
		w->pod_uid[0] = '\0';
		w->rel = 0;
	} else if (pod_slice(c, uid) || pod_dir(c, w->parent, w->grand, uid)) {
		memcpy(w->pod_uid, uid, sizeof(uid));
		pod = true;
	} else if (unit_ok(c.s, c.len)) {
		w->unit = c;
		memcpy(w->unit_uid, w->pod_uid, sizeof(uid));
	}
	w->grand = w->parent;
	w->parent = c;
	w->parent_pod = pod;
}

int container__parse(const char *path, struct container *out)
{
	struct walk w = { 0 };
	const char *p, *end, *stop;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!path || path[0] != '/')
		return -EINVAL;
	len = strnlen(path, CONTAINER_PATH_MAX);
	if (len == CONTAINER_PATH_MAX)
		return -ENAMETOOLONG;
	if (len == 1)
		return 0;
	stop = path + len;
	for (p = path + 1; p <= stop; p = end + 1) {
		struct comp c;

		end = memchr(p, '/', stop - p);
		if (!end)
			end = stop;
		c = (struct comp){ p, end - p };
		/* the kernel makes none of these: the path was made up */
		if (!c.len || comp_is(c, ".") || comp_is(c, ".."))
			return -EINVAL;
		walk_comp(&w, c);
	}
	if (w.rt) {
		out->runtime = w.rt;
		memcpy(out->id, w.id, sizeof(w.id));
		memcpy(out->short_id, w.id, CONTAINER_SHORT_HEX);
		memcpy(out->pod_uid, w.ct_uid, sizeof(w.ct_uid));
		out->outer_runtime = w.outer_rt;
		memcpy(out->outer_id, w.outer_id, sizeof(w.outer_id));
		return 1;
	}
	if (w.unit.len) {
		out->runtime = CONTAINER_SYSTEMD;
		memcpy(out->id, w.unit.s, w.unit.len);
		memcpy(out->pod_uid, w.unit_uid, sizeof(w.unit_uid));
		return 1;
	}
	return 0;
}

/* ---- the kubelet's directories ---- */

struct kpod {
	char uid[CONTAINER_UID_MAX + 1];
	char ns[CONTAINER_LABEL_MAX + 1];
	char pod[CONTAINER_SUBDOMAIN_MAX + 1];
	char only[CONTAINER_LABEL_MAX + 1];	/* its container, when it has just one */
	unsigned int ncontainers;		/* 0, 1, or 2 meaning several */
};

struct klog {
	char id[CONTAINER_ID_HEX + 1];
	char name[CONTAINER_LABEL_MAX + 1];
	__u64 podkey;	/* pod_key() of the namespace and pod in the link's name */
};

/* FNV-1a of "<namespace>_<pod>": '_' is in neither, so the pair is unambiguous. */
static __u64 pod_key(const char *ns, size_t nslen, const char *pod, size_t podlen)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < nslen + 1 + podlen; i++) {
		char ch = i < nslen ? ns[i] : i == nslen ? '_' : pod[i - nslen - 1];

		h = (h ^ (unsigned char)ch) * 0x100000001b3ULL;
	}
	return h;
}

/*
 * "a_b_c" into its three parts at the first and the last '_', none of which
 * may hold another: the kubelet joins names that cannot contain '_'.
 */
static bool split3(const char *s, size_t n, struct comp part[3])
{
	const char *a = memchr(s, '_', n), *b = memrchr(s, '_', n);

	if (!a || a == b || memchr(a + 1, '_', b - a - 1))
		return false;
	part[0] = (struct comp){ s, a - s };
	part[1] = (struct comp){ a + 1, b - a - 1 };
	part[2] = (struct comp){ b + 1, s + n - b - 1 };
	return true;
}

static void copy_comp(char *dst, struct comp c)
{
	memcpy(dst, c.s, c.len);
	dst[c.len] = '\0';
}

/* <pods_dir>/<namespace>_<pod>_<uid> */
static bool pod_dir_name(const char *s, struct kpod *kp)
{
	struct comp p[3];

	if (!split3(s, strlen(s), p) || !label_ok(p[0].s, p[0].len) ||
	    !subdomain_ok(p[1].s, p[1].len) || !uid_copy(p[2].s, p[2].len, '-', kp->uid))
		return false;
	copy_comp(kp->ns, p[0]);
	copy_comp(kp->pod, p[1]);
	return true;
}

/* <containers_dir>/<pod>_<namespace>_<container>-<64 hex id>.log */
static bool log_link_name(const char *s, struct klog *kl)
{
	size_t n = strlen(s);
	struct comp id, p[3];

	if (!ends_with(s, n, ".log") || n < 4 + 1 + CONTAINER_ID_HEX)
		return false;
	n -= 4 + 1 + CONTAINER_ID_HEX;
	id = (struct comp){ s + n + 1, CONTAINER_ID_HEX };
	if (s[n] != '-' || !id_between(id, "", "", kl->id))
		return false;
	if (!split3(s, n, p) || !subdomain_ok(p[0].s, p[0].len) || !label_ok(p[1].s, p[1].len) ||
	    !label_ok(p[2].s, p[2].len))
		return false;
	copy_comp(kl->name, p[2]);
	kl->podkey = pod_key(p[1].s, p[1].len, p[0].s, p[0].len);
	return true;
}

/*
 * Counts the container directories of a pod up to two: one name is all the
 * fallback needs, and a pod directory cannot make a scan read thousands.
 */
static bool pod_containers(int dirfd, const char *name, struct kpod *kp)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	while (kp->ncontainers < 2 && (de = readdir(d))) {
		if (!container__dns_label(de->d_name))
			continue;
		/* DT_UNKNOWN: the file system does not say, so ask */
		if (de->d_type != DT_DIR &&
		    (de->d_type != DT_UNKNOWN ||
		     fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode)))
			continue;
		if (!kp->ncontainers)
			strcpy(kp->only, de->d_name);
		kp->ncontainers++;
	}
	closedir(d);
	return true;
}

/* Room for one more of max in *arr; false when full or out of memory. */
static bool grow(void **arr, size_t n, size_t *cap, size_t max, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return true;
	if (n >= max)
		return false;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, ncap * size);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

static int by_uid(const void *a, const void *b)
{
	return strcmp(((const struct kpod *)a)->uid, ((const struct kpod *)b)->uid);
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct klog *)a)->id, ((const struct klog *)b)->id);
}

/* ---- the cache ---- */

enum ent_state {
	ENT_DONE,	/* all that can be known is in ct */
	ENT_NO_PATH,	/* path_of did not know the id: try again later */
	ENT_NO_NAMES,	/* in a pod the kubelet's files do not name (yet) */
};

#define NIL UINT32_MAX

struct cc_ent {
	__u64 cgid;
	__u64 retry_ns;
	__u32 next;	/* the next entry in this bucket, NIL at the end */
	__u8 ref;	/* used since the clock hand last passed */
	__u8 state;
	__u8 backoff;
	struct container ct;
};

struct container_cache {
	struct cc_ent *ents;
	__u32 *buckets;
	size_t cap, used, hand;
	unsigned int bits;
	/* the kubelet index, pods sorted by uid and logs by id */
	struct kpod *pods;
	struct klog *logs;
	size_t npods, nlogs;
	bool logs_readable;
	__u64 next_scan_ns, next_rescan_ns;	/* earliest next kubelet scan, path rescan */
	char *pods_dir, *containers_dir;
	size_t max_pods, max_logs;
	__u64 refresh_ns;
	const char *(*path_of)(__u64 cgroup_id);
	void (*path_rescan)(void);
	__u64 (*now_ns)(void);
	struct container_stats st;
};

/* At most one rescan per refresh_ns, so a flood of unknown ids costs one a second. */
static bool refresh_allowed(struct container_cache *c, __u64 *next_ns)
{
	__u64 now = c->now_ns();

	if (now < *next_ns) {
		c->st.refreshes_limited++;
		return false;
	}
	*next_ns = now + c->refresh_ns;
	return true;
}

static void kube_scan(struct container_cache *c)
{
	struct kpod *pods = NULL;
	struct klog *logs = NULL;
	size_t np = 0, pcap = 0, nl = 0, lcap = 0;
	struct dirent *de;
	DIR *d;

	c->st.kubelet_scans++;
	c->st.pods_dropped = c->st.logs_dropped = 0;
	d = opendir(c->pods_dir);
	while (d && (de = readdir(d))) {
		struct kpod kp = { 0 };

		if (!pod_dir_name(de->d_name, &kp))
			continue;
		if (!grow((void **)&pods, np, &pcap, c->max_pods, sizeof(*pods))) {
			c->st.pods_dropped++;
			continue;
		}
		if (pod_containers(dirfd(d), de->d_name, &kp))
			pods[np++] = kp;
	}
	if (d)
		closedir(d);
	d = opendir(c->containers_dir);
	c->logs_readable = d != NULL;
	while (d && (de = readdir(d))) {
		struct klog kl;

		if (!log_link_name(de->d_name, &kl))
			continue;
		if (!grow((void **)&logs, nl, &lcap, c->max_logs, sizeof(*logs))) {
			c->st.logs_dropped++;
			continue;
		}
		logs[nl++] = kl;
	}
	if (d)
		closedir(d);
	if (np)
		qsort(pods, np, sizeof(*pods), by_uid);
	if (nl)
		qsort(logs, nl, sizeof(*logs), by_id);
	free(c->pods);
	free(c->logs);
	c->pods = pods;
	c->npods = np;
	c->logs = logs;
	c->nlogs = nl;
}

/* 1 when all the index can tell is in ct, 0 when something is missing. */
static int kube_fill(const struct container_cache *c, struct container *ct)
{
	const struct kpod *kp = NULL;
	const struct klog *kl = NULL;
	struct kpod pkey;
	struct klog lkey;

	memcpy(pkey.uid, ct->pod_uid, sizeof(pkey.uid));
	if (c->npods)
		kp = bsearch(&pkey, c->pods, c->npods, sizeof(*kp), by_uid);
	if (!kp)
		return 0;
	strcpy(ct->namespace, kp->ns);
	strcpy(ct->pod, kp->pod);
	if (ct->runtime == CONTAINER_SYSTEMD)
		return 1;
	memcpy(lkey.id, ct->id, sizeof(lkey.id));
	if (c->nlogs)
		kl = bsearch(&lkey, c->logs, c->nlogs, sizeof(*kl), by_id);
	if (kl) {
		/* a link naming another pod is not believed, and will not change */
		if (kl->podkey == pod_key(kp->ns, strlen(kp->ns), kp->pod, strlen(kp->pod)))
			strcpy(ct->name, kl->name);
		return 1;
	}
	if (!c->logs_readable && kp->ncontainers == 1) {
		strcpy(ct->name, kp->only);
		return 1;
	}
	return 0;
}

int container__resolve(struct container_cache *c, struct container *ct)
{
	if (!ct->pod_uid[0])
		return 1;
	if (kube_fill(c, ct))
		return 1;
	if (!refresh_allowed(c, &c->next_scan_ns))
		return 0;
	kube_scan(c);
	return kube_fill(c, ct);
}

static __u32 bucket_of(const struct container_cache *c, __u64 cgid)
{
	return (__u32)((cgid * 0x9e3779b97f4a7c15ULL) >> (64 - c->bits));
}

static struct cc_ent *ent_find(struct container_cache *c, __u64 cgid)
{
	for (__u32 i = c->buckets[bucket_of(c, cgid)]; i != NIL; i = c->ents[i].next)
		if (c->ents[i].cgid == cgid)
			return &c->ents[i];
	return NULL;
}

static void ent_unlink(struct container_cache *c, __u32 idx)
{
	__u32 *p = &c->buckets[bucket_of(c, c->ents[idx].cgid)];

	while (*p != idx)
		p = &c->ents[*p].next;
	*p = c->ents[idx].next;
}

/* A free slot, or the first the clock hand finds unused since its last pass. */
static struct cc_ent *ent_new(struct container_cache *c, __u64 cgid)
{
	struct cc_ent *e;
	__u32 idx, b;

	if (c->used < c->cap) {
		idx = c->used++;
	} else {
		for (;;) {
			idx = c->hand;
			c->hand = (c->hand + 1) % c->cap;
			if (!c->ents[idx].ref)
				break;
			c->ents[idx].ref = 0;
		}
		ent_unlink(c, idx);
		c->st.evictions++;
	}
	e = &c->ents[idx];
	memset(e, 0, sizeof(*e));
	/*
	 * ref stays 0: only a second use marks an entry, so a run of ids seen
	 * once (a scan, a fork storm) is evicted before the ids used again.
	 */
	e->cgid = cgid;
	b = bucket_of(c, cgid);
	e->next = c->buckets[b];
	c->buckets[b] = idx;
	return e;
}

static void ent_retry(struct container_cache *c, struct cc_ent *e, enum ent_state state)
{
	e->state = state;
	e->retry_ns = c->now_ns() + (c->refresh_ns << e->backoff);
	if (e->backoff < MAX_BACKOFF)
		e->backoff++;
}

static void ent_fill(struct container_cache *c, struct cc_ent *e)
{
	const char *path = c->path_of(e->cgid);

	/* cgpath walked the tree once: a cgroup made since is not in it */
	if (!path && refresh_allowed(c, &c->next_rescan_ns)) {
		c->st.path_rescans++;
		c->path_rescan();
		path = c->path_of(e->cgid);
	}
	if (!path) {
		memset(&e->ct, 0, sizeof(e->ct));
		ent_retry(c, e, ENT_NO_PATH);
		return;
	}
	if (container__parse(path, &e->ct) > 0 && !container__resolve(c, &e->ct)) {
		ent_retry(c, e, ENT_NO_NAMES);
		return;
	}
	e->state = ENT_DONE;
}

const struct container *container__lookup(struct container_cache *c, __u64 cgroup_id)
{
	struct cc_ent *e = ent_find(c, cgroup_id);

	if (!e) {
		c->st.misses++;
		e = ent_new(c, cgroup_id);
		ent_fill(c, e);
	} else {
		c->st.hits++;
		e->ref = 1;
		if (e->state != ENT_DONE && c->now_ns() >= e->retry_ns) {
			if (e->state == ENT_NO_PATH)
				ent_fill(c, e);
			else if (container__resolve(c, &e->ct))
				e->state = ENT_DONE;
			else
				ent_retry(c, e, ENT_NO_NAMES);
		}
	}
	return e->ct.runtime ? &e->ct : NULL;
}

/* This host's cgroup tree (cgpath.c): the default path_of. */
static const char *host_path_of(__u64 cgroup_id)
{
	static char buf[CONTAINER_PATH_MAX];

	return cgpath_get(cgroup_id, buf, sizeof(buf)) ? NULL : buf;
}

/*
 * cgpath finds each id by its file handle, so nothing is cached that a
 * rescan would refresh; without CAP_DAC_READ_SEARCH it walks the tree
 * itself, at most once a second.
 */
static void host_rescan(void)
{
}

static const struct container *cache_get(void *ctx, __u64 cgroup_id)
{
	return container__lookup(ctx, cgroup_id);
}

struct container_src container_src__cache(struct container_cache *cache)
{
	return (struct container_src){ .get = cache ? cache_get : NULL, .ctx = cache };
}

struct container_cache *container_cache__new(const struct container_opts *opts)
{
	struct container_opts o = opts ? *opts : (struct container_opts){ 0 };
	struct container_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = o.max_cgroups ? o.max_cgroups : 2048;
	if (c->cap > 1u << 20)
		c->cap = 1u << 20;
	/* twice as many buckets as entries: chains of about one */
	for (c->bits = 1; (1ULL << c->bits) < 2 * c->cap; c->bits++)
		;
	c->max_pods = o.max_pods ? o.max_pods : 1024;
	c->max_logs = o.max_logs ? o.max_logs : 8192;
	c->refresh_ns = o.refresh_ns ? o.refresh_ns : SEC_NS;
	c->path_of = o.path_of ? o.path_of : host_path_of;
	c->path_rescan = o.path_rescan ? o.path_rescan : host_rescan;
	c->now_ns = o.now_ns ? o.now_ns : mono_ns;
	c->pods_dir = strdup(o.pods_dir ? o.pods_dir : "/var/log/pods");
	c->containers_dir = strdup(o.containers_dir ? o.containers_dir : "/var/log/containers");
	c->ents = calloc(c->cap, sizeof(*c->ents));
	c->buckets = malloc(sizeof(*c->buckets) << c->bits);
	if (!c->pods_dir || !c->containers_dir || !c->ents || !c->buckets) {
		container_cache__free(c);
		errno = ENOMEM;
		return NULL;
	}
	memset(c->buckets, 0xff, sizeof(*c->buckets) << c->bits);
	return c;
}

void container_cache__free(struct container_cache *c)
{
	if (!c)
		return;
	free(c->ents);
	free(c->buckets);
	free(c->pods);
	free(c->logs);
	free(c->pods_dir);
	free(c->containers_dir);
	free(c);
}

void container_cache__stats(const struct container_cache *c, struct container_stats *st)
{
	*st = c->st;
	st->entries = c->used;
	st->pods = c->npods;
	st->logs = c->nlogs;
}

/* ---- filters ---- */

int container_filter__set(struct container_filter *f, enum container_filter_key key,
			  const char *value, const char **want)
{
	size_t n = strnlen(value, CONTAINER_UNIT_MAX + 1);
	const char *w = NULL;

	switch (key) {
	case CONTAINER_FILTER_CONTAINER:
		if ((n >= CONTAINER_SHORT_HEX && n <= CONTAINER_ID_HEX && hex_lower(value, n)) ||
		    label_ok(value, n) || unit_ok(value, n))
			memcpy(f->container, value, n + 1);
		else
			w = "a container id (12 to 64 lowercase hex digits), a container name "
			    "(a-z, 0-9 and '-', at most 63) or a systemd unit (NAME.service, "
			    "NAME.scope)";
		break;
	case CONTAINER_FILTER_POD:
		if (subdomain_ok(value, n))
			memcpy(f->pod, value, n + 1);
		else
			w = "a pod name (a-z, 0-9, '-' and '.', at most 253), as kubectl get pods "
			    "shows it";
		break;
	case CONTAINER_FILTER_NAMESPACE:
		if (label_ok(value, n))
			memcpy(f->namespace, value, n + 1);
		else
			w = "a namespace (a-z, 0-9 and '-', at most 63), as kubectl get ns "
			    "shows it";
		break;
	default:
		w = "a known filter";
	}
	if (!w)
		return 0;
	if (want)
		*want = w;
	return -EINVAL;
}

bool container_filter__empty(const struct container_filter *f)
{
	return !f->container[0] && !f->pod[0] && !f->namespace[0];
}

static bool match_container(const struct container *c, const char *v)
{
	size_t n = strlen(v);

	if (c->runtime == CONTAINER_SYSTEMD)
		return !strcmp(v, c->id);
	if (n >= CONTAINER_SHORT_HEX && n <= CONTAINER_ID_HEX && hex_lower(v, n) &&
	    (!strncmp(c->id, v, n) || (c->outer_id[0] && !strncmp(c->outer_id, v, n))))
		return true;
	return c->name[0] && !strcmp(v, c->name);
}

bool container__match(const struct container *c, const struct container_filter *f)
{
	if (container_filter__empty(f))
		return true;
	if (!c || !c->runtime)
		return false;
	if (f->container[0] && !match_container(c, f->container))
		return false;
	if (f->pod[0] && strcmp(f->pod, c->pod))
		return false;
	if (f->namespace[0] && strcmp(f->namespace, c->namespace))
		return false;
	return true;
}

/* ---- output ---- */

/* key, then the string or null when it is not known */
static void jw_opt(struct jw *w, const char *key, const char *s)
{
	jw_key_str(w, key);
	if (s[0])
		jw_str(w, s);
	else
		jw_null(w);
}

void container__jw(struct jw *w, const struct container *c)
{
	if (!c || !c->runtime || !container__valid(c)) {
		jw_null(w);
		return;
	}
	jw_obj(w);
	jw_opt(w, "id", c->id);
	jw_opt(w, "runtime", container__runtime_name(c->runtime));
	jw_opt(w, "name", c->name);
	jw_opt(w, "pod", c->pod);
	jw_opt(w, "namespace", c->namespace);
	jw_opt(w, "pod_uid", c->pod_uid);
	if (c->outer_runtime) {
		jw_key(w, "outer");
		jw_obj(w);
		jw_opt(w, "runtime", container__runtime_name(c->outer_runtime));
		jw_opt(w, "id", c->outer_id);
		jw_end(w);
	}
	jw_end(w);
}

size_t container__json_buf(char *out, size_t n, const struct container *c)
{
	struct lbuf lb = {};
	struct jw w;
	size_t len;

	if (!n)
		return 0;
	jw_begin(&w, &lb);
	container__jw(&w, c);
	len = w.c.p - w.c.start;
	if (len > n - 1)
		len = n - 1;
	memcpy(out, w.c.start, len);
	out[len] = '\0';
	lbuf_free(&lb);
	return len;
}

void container__json(FILE *f, const struct container *c)
{
	char buf[CONTAINER_JSON_MAX];

	fwrite(buf, 1, container__json_buf(buf, sizeof(buf), c), f);
}

const char *container__str(const struct container *c, char *buf, size_t len)
{
	size_t n;

	if (!len)
		return buf;
	buf[0] = '\0';
	if (!c || !c->runtime)
		return buf;
	if (!container__valid(c)) {
		snprintf(buf, len, "?");
		return buf;
	}
	n = snprintf(buf, len, "%s %s", container__runtime_name(c->runtime),
		     c->runtime == CONTAINER_SYSTEMD ? c->id : c->short_id);
	if (n < len && c->pod[0])
		n += snprintf(buf + n, len - n, " pod %s/%s", c->namespace, c->pod);
	else if (n < len && c->pod_uid[0])
		n += snprintf(buf + n, len - n, " pod uid %s", c->pod_uid);
	if (n < len && c->name[0])
		n += snprintf(buf + n, len - n, " container %s", c->name);
	if (n < len && c->outer_runtime)
		snprintf(buf + n, len - n, " in %s %.12s",
			 container__runtime_name(c->outer_runtime), c->outer_id);
	return buf;
}

const char *container__short(const struct container *c, char *buf, size_t len)
{
	if (!len)
		return buf;
	if (!c || !c->runtime || !container__valid(c))
		snprintf(buf, len, "-");
	else if (c->pod[0])
		snprintf(buf, len, "%s/%s", c->namespace, c->pod);
	else if (c->runtime == CONTAINER_SYSTEMD)
		snprintf(buf, len, "%s", c->id);
	else
		snprintf(buf, len, "%s:%s", container__runtime_name(c->runtime), c->short_id);
	return buf;
}
