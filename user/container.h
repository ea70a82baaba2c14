/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which container, Kubernetes pod and namespace, or systemd unit a cgroup v2
 * path belongs to: read from the path alone (no runtime API, no socket) and,
 * for pod and container names, from the kubelet's own log directories.
 *
 * Path forms recognised (the last component shown is the one that decides):
 *   docker      /system.slice/docker-<64hex>.scope         (systemd driver)
 *               /docker/<64hex>                            (cgroupfs driver)
 *   containerd  .../kubepods[-<qos>]-pod<uid, _ for ->.slice/cri-containerd-<64hex>.scope
 *               /kubepods/[besteffort|burstable/]pod<uid>/<64hex>  (cgroupfs)
 *               /system.slice/nerdctl-<64hex>.scope
 *               /<containerd namespace>/<64hex>            (plain containerd, cgroupfs)
 *   cri-o       .../kubepods-...-pod<uid>.slice/crio-<64hex>.scope
 *               /kubepods/.../pod<uid>/crio-<64hex>        (cgroupfs)
 *   podman      .../libpod-<64hex>.scope (machine.slice, or user@UID.service rootless)
 *               /libpod_parent/libpod-<64hex>              (cgroupfs)
 *   systemd     the deepest <name>.service or <name>.scope when no container is in
 *               the path: /system.slice/nginx.service, user@1000.service/app.service,
 *               session-3.scope, and the runtimes' monitors libpod-conmon-<id>.scope
 *               and crio-conmon-<id>.scope (conmon is not the container: it is a
 *               process in a scope, and is reported as such).
 * Anything else, the root "/" included, is not a container (runtime NONE).
 *
 * Nesting: the innermost container wins (a kind node's pods, docker in docker,
 * systemd in a container); the outermost one is kept in outer_runtime/outer_id.
 * A process that may create cgroups below its own (a delegated subtree, a
 * container with a writable cgroupfs) can name a child "docker-<any id>.scope"
 * and so claim any identity below its outer container: outer_id is the part
 * that whoever set up the host named. A container is preferred to a unit,
 * wherever the unit stands in the path.
 *
 * Trust: cgroup names are chosen by whoever may create them and may hold any
 * byte but '/'. Nothing is copied out of a path or a kubelet directory unless
 * it passes the validators below (64 lowercase hex ids, DNS-1123 pod,
 * namespace and container names, systemd's unit-name charset), so a struct
 * container filled here is always printable. A caller that fills one by other
 * means (a trace file, a hand-made struct) must check container__valid()
 * before printing it; outputs still escape with json_str(), as for comm.
 */
#ifndef PORTLIFE_CONTAINER_H
#define PORTLIFE_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

enum container_runtime {
	CONTAINER_NONE = 0,	/* not in a container nor a systemd unit */
	CONTAINER_DOCKER,
	CONTAINER_CONTAINERD,	/* also Kubernetes cgroupfs paths: see container__parse() */
	CONTAINER_CRIO,
	CONTAINER_PODMAN,
	CONTAINER_SYSTEMD,	/* a .service or .scope unit; id is the unit name */
	CONTAINER_RUNTIMES,
};

#define CONTAINER_ID_HEX	64	/* a runtime's container id: 64 lowercase hex */
#define CONTAINER_SHORT_HEX	12	/* the short form `docker ps` prints */
#define CONTAINER_UNIT_MAX	255	/* systemd's UNIT_NAME_MAX, less the NUL */
#define CONTAINER_UID_MAX	36	/* a pod UID: a UUID, or 32 hex for a static pod */
#define CONTAINER_LABEL_MAX	63	/* DNS-1123 label: namespace, container name */
#define CONTAINER_SUBDOMAIN_MAX	253	/* DNS-1123 subdomain: pod name */
#define CONTAINER_PATH_MAX	4096	/* longest cgroup path parsed, NUL included */

/* Every field is a NUL-terminated copy; "" means unknown or not applicable. */
struct container {
	enum container_runtime runtime;
	char id[CONTAINER_UNIT_MAX + 1];	/* 64 hex, or the unit name for systemd */
	char short_id[CONTAINER_SHORT_HEX + 1];	/* first 12 hex of id; "" for systemd */
	char pod_uid[CONTAINER_UID_MAX + 1];	/* with '-' (normalised from '_') */
	/* From the kubelet's files (container__resolve), never from the path. */
	char pod[CONTAINER_SUBDOMAIN_MAX + 1];
	char namespace[CONTAINER_LABEL_MAX + 1];
	char name[CONTAINER_LABEL_MAX + 1];	/* the container's name in its pod */
	/* The outermost container when this one is nested in it, else NONE and "". */
	enum container_runtime outer_runtime;
	char outer_id[CONTAINER_ID_HEX + 1];
};

/* "docker", "containerd", "cri-o", "podman", "systemd"; "none"; "?" out of range. */
const char *container__runtime_name(enum container_runtime rt);

/*
 * Parse a cgroup v2 path relative to the cgroup2 mount, as cgpath_get()
 * returns it or a trace file carries it. Pure: no file is read, so it suits
 * paths from another host. Fills runtime, id, short_id, pod_uid and outer_*;
 * pod, namespace and name stay "". *out is zeroed first in every case.
 * Returns 1 when a container or unit was found, 0 when the path is a valid
 * cgroup path that is in none (out->runtime == CONTAINER_NONE), -EINVAL when
 * it is no absolute cgroup path (NULL, relative, an empty, "." or ".."
 * component), -ENAMETOOLONG when it has CONTAINER_PATH_MAX bytes or more.
 *
 * Ambiguous forms, decided so:
 * - /kubepods/.../pod<uid>/<64hex> (cgroupfs driver) names no runtime;
 *   cri-dockerd makes the same path as containerd. It is reported as
 *   containerd, the CRI nearly every cluster runs since dockershim went
 *   (Kubernetes 1.24). Under the systemd driver the scope names the runtime.
 * - /<namespace>/<64hex> is taken as plain containerd (`ctr`, nerdctl with
 *   cgroupfs) only two levels below the root or below an outer container, and
 *   only with a 64-hex id: a container named by hand (`ctr run img redis`,
 *   /default/redis) cannot be told from any two-level cgroup and is not
 *   reported. /docker/<64hex> is docker wherever it stands.
 */
int container__parse(const char *cgpath, struct container *out);

/* Validators for anything that may be printed; each takes a NUL-terminated string. */
bool container__hex_id(const char *s);		/* exactly 64 of [0-9a-f] */
bool container__pod_uid(const char *s);		/* 8-4-4-4-12 lowercase hex, or 32 hex */
bool container__dns_label(const char *s);	/* [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
bool container__dns_subdomain(const char *s);	/* labels joined by '.', <= 253 */
bool container__unit_name(const char *s);	/* [A-Za-z0-9:_.@\\-]+ .service|.scope */
/* Every field NUL-terminated and in its charset; runtime and id consistent. */
bool container__valid(const struct container *c);

/*
 * The per-host cache: cgroup id -> struct container, and the kubelet's
 * pod UID -> (namespace, pod, containers) and container id -> name maps.
 * Zero in any field means its default.
 */
struct container_opts {
	const char *pods_dir;		/* default /var/log/pods */
	const char *containers_dir;	/* default /var/log/containers */
	size_t max_cgroups;		/* cgroup ids cached, default 2048 (clock eviction) */
	size_t max_pods;		/* pod directories indexed, default 1024 */
	size_t max_logs;		/* container log links indexed, default 8192 */
	__u64 refresh_ns;		/* least time between two rescans, default 1 s */
	/* For tests; default this host's tree (cgpath_get), no rescan, and mono_ns. */
	const char *(*path_of)(__u64 cgroup_id);
	void (*path_rescan)(void);
	__u64 (*now_ns)(void);
};

struct container_stats {
	__u64 hits, misses;		/* container__lookup() against the cgroup id cache */
	__u64 evictions;		/* entries dropped to make room */
	__u64 entries;			/* cgroup ids cached now */
	__u64 path_rescans;		/* cgroup tree walks asked of path_rescan */
	__u64 kubelet_scans;		/* reads of the kubelet's two directories */
	__u64 refreshes_limited;	/* rescans refused by the once-per-refresh_ns limit */
	__u64 pods, logs;		/* entries in the kubelet index now */
	__u64 pods_dropped, logs_dropped;	/* over max_pods / max_logs at the last scan */
};

struct container_cache;

/* NULL with errno set (ENOMEM) on failure. Reads nothing until the first lookup. */
struct container_cache *container_cache__new(const struct container_opts *opts);
void container_cache__free(struct container_cache *c);
void container_cache__stats(const struct container_cache *c, struct container_stats *st);

/*
 * The container of a cgroup id, or NULL when it is in none (or its path is
 * not known yet). A hit costs a hash probe and no system call. A miss asks
 * path_of and parses; an id path_of does not know makes at most one
 * path_rescan per refresh_ns (new cgroups appear after cgpath's walk), so
 * it may overwrite what path_of returned before. An id whose path or pod
 * names are still unknown is tried again later, backing off from refresh_ns
 * to 64 times that. The pointer is valid until the next call on this cache:
 * copy the struct to keep it. Single-threaded, like cgpath.
 */
const struct container *container__lookup(struct container_cache *c, __u64 cgroup_id);

/*
 * Where the container of a cgroup id comes from: this host's cache while
 * tracing (container_src__cache), a trace's records in `report`. get returns
 * NULL for "in none" or "not known"; the pointer lasts until the next call.
 */
struct container_src {
	const struct container *(*get)(void *ctx, __u64 cgroup_id);
	void *ctx;
};

static inline const struct container *container_src__get(const struct container_src *s,
							 __u64 cgroup_id)
{
	return s && s->get && cgroup_id ? s->get(s->ctx, cgroup_id) : NULL;
}

/* A source that asks cache (container__lookup). */
struct container_src container_src__cache(struct container_cache *cache);

/*
 * Fill ct->namespace, ct->pod and ct->name from the kubelet's directories:
 *   <pods_dir>/<namespace>_<pod>_<uid>/<container>/           pod UID -> names
 *   <containers_dir>/<pod>_<namespace>_<container>-<64hex>.log  id -> container
 * The container name comes from the id's log link; only when containers_dir
 * cannot be read at all is a pod's only container directory used instead.
 * Otherwise (the pod sandbox, "pause", has no log) the name stays "". An
 * unknown UID or id rescans both directories, at most once per refresh_ns.
 * Returns 1 when everything they can tell is filled in (at once when ct has
 * no pod_uid: there is nothing to look up), 0 when something is still
 * unknown: try again later.
 */
int container__resolve(struct container_cache *c, struct container *ct);

/*
 * Filters for --container ID|NAME, --pod NAME and --namespace NS. Every value
 * set must match (AND); an empty filter matches everything, "not in a
 * container" (NULL) included.
 */
enum container_filter_key {
	CONTAINER_FILTER_CONTAINER,
	CONTAINER_FILTER_POD,
	CONTAINER_FILTER_NAMESPACE,
};

struct container_filter {
	char container[CONTAINER_UNIT_MAX + 1];
	char pod[CONTAINER_SUBDOMAIN_MAX + 1];
	char namespace[CONTAINER_LABEL_MAX + 1];
};

/*
 * Set one value. A --container value may be 12 to 64 lowercase hex (an id
 * prefix), a DNS-1123 label (a container name) or a unit name. -EINVAL for
 * anything else, with *want (when not NULL) saying what is accepted, to print
 * as env.c's "invalid OPT 'VALUE': WANT".
 */
int container_filter__set(struct container_filter *f, enum container_filter_key key,
			  const char *value, const char **want);
bool container_filter__empty(const struct container_filter *f);
/*
 * --container matches: a hex value that is a prefix of the id or of outer_id
 * (12 hex are 48 bits, as unique as `docker ps` assumes; uniqueness among
 * the host's containers is not checked), a value equal to the container
 * name, or a systemd unit's exact name. --pod and --namespace match exactly.
 * Pod names are known only once resolved: until then a --pod filter does not
 * match.
 */
bool container__match(const struct container *c, const struct container_filter *f);

/*
 * The JSON value for a "container" key, the key itself not written:
 *   {"id":"<64hex>","runtime":"containerd","name":"app","pod":"web-0",
 *    "namespace":"shop","pod_uid":"7f3c9e2a-..."}
 * with null for each unknown name; "outer":{"runtime":...,"id":...} is added
 * when nested. A systemd unit is an object too: "runtime":"systemd", "id" the
 * unit name, pod and namespace null (unless it is a unit inside a pod, e.g.
 * cri-o's conmon). NULL, CONTAINER_NONE and a struct that fails
 * container__valid() give null. CONTAINER_JSON_MAX bytes always suffice.
 */
#define CONTAINER_JSON_MAX 1280
struct jw;
/* The value, written by the line's JSON writer (json.h) after its key. */
void container__jw(struct jw *w, const struct container *c);
/* The same into a buffer; returns the length written, truncated at n - 1. */
size_t container__json_buf(char *out, size_t n, const struct container *c);
void container__json(FILE *f, const struct container *c);

/*
 * One line of text for human output, "" for none:
 *   "containerd 1a2b3c4d5e6f pod shop/web-0 container app"
 *   "docker 1a2b3c4d5e6f"   "systemd nginx.service"
 *   "cri-o 1a2b3c4d5e6f pod uid 7f3c9e2a-..."   (names not known)
 *   "... in docker 0123456789ab"   (nested)
 * Invalid structs give "?".
 */
const char *container__str(const struct container *c, char *buf, size_t len);
/*
 * The shortest useful name, for a table column: "shop/web-0" (a named pod),
 * "docker:1a2b3c4d5e6f", "nginx.service"; "-" for none.
 */
const char *container__short(const struct container *c, char *buf, size_t len);
/* Room for the longest of those: unit or names, and the words between. */
#define CONTAINER_TEXT_MAX (CONTAINER_UNIT_MAX + CONTAINER_SUBDOMAIN_MAX + 2 * CONTAINER_LABEL_MAX + 64)

#endif
