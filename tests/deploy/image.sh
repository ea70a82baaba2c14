#!/usr/bin/env bash
# deploy/Containerfile built and run without a container runtime (there is
# none here), as close to the real thing as chroot gets (`make image-check`):
#   1. each stage's root file system made by mmdebstrap from its FROM's Debian
#      release with the packages of its apt-get install lines;
#   2. the build stage's other RUN lines run in its root (chroot), on a copy
#      of the tree with its .output/ (COPY . /src), WORKDIR and ARG defaults
#      honoured; the image stage gets its COPY --from=build files;
#   3. the image's ENTRYPOINT with deploy/kubernetes/daemonset.yaml's args
#      ($(NODE_IP) = 127.0.0.1) run the way the pod runs: a mount namespace
#      of its own, chrooted into the image with its root read-only, the
#      DaemonSet's hostPath volumes bind-mounted at their mountPaths
#      (read-only where it says so), the host's /proc (hostPID) and /sys
#      read-only, on the host's network, as root with only the DaemonSet's
#      capabilities and no_new_privs. It must trace a workload and serve it on
#      /metrics.
# Not reproduced: the OCI image itself, the runtime's seccomp and AppArmor
# profiles, the pod's cgroup namespace. Needs root and the Debian mirror
# apt uses (about 300 MB of packages, a few minutes); not part of make test.
# One line per check, "PASS name" or "FAIL name: why"; the last line is
# "image: N passed, N failed". Takes /tmp/portlife-live.lock for the run
# unless PORTLIFE_LOCK_HELD is set.
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
summary() {
	echo "image: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
PY=/usr/bin/python3
COMM=pl-image-wl
work=$(mktemp -d /var/tmp/portlife-image.XXXXXX)
pl_pid=
cleanup() {
	[ -n "$pl_pid" ] && kill -KILL "$pl_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
	ko root "chroot, mounts and BPF need root"
	summary
fi
if ! command -v mmdebstrap >/dev/null; then
	ko tools "mmdebstrap missing: apt-get install mmdebstrap"
	summary
fi
make --no-print-directory -s .output/portlife || { ko build "make failed"; summary; }

# The plan, from the Containerfile (tests/deploy/check.py's parser) and the
# DaemonSet, as shell assignments.
if ! "$PY" - deploy/Containerfile deploy/kubernetes/daemonset.yaml >"$work/plan" <<'EOF'; then
import json, re, shlex, sys
sys.path.insert(0, "tests/deploy")
import check, yaml

def arr(name, xs):
    print("%s=(%s)" % (name, " ".join(shlex.quote(x) for x in xs)))

build, image = check.containerfile_stages(sys.argv[1])
for tag, st in (("build", build), ("image", image)):
    release = re.search(r"debian:(\w+)", st["from"]).group(1)
    print("%s_release=%s" % (tag, shlex.quote(release)))
    arr(tag + "_pkgs", st["pkgs"])
steps, env = [], {}
for ins, rest in build["ins"]:
    if ins == "ARG" and "=" in rest:
        k, v = rest.split("=", 1)
        env[k] = v
    elif ins == "WORKDIR":
        steps.append("cd " + shlex.quote(rest))
    elif ins == "COPY":
        src, dst = rest.split()
        if src != ".":
            sys.exit("image.sh: COPY %s in the build stage: only '.' is handled" % src)
        print("context_dst=%s" % shlex.quote(dst))
    elif ins == "RUN" and "apt-get" not in rest:
        steps.append(rest)
pre = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in env.items())
print("build_script=%s" % shlex.quote("set -e; export %s; %s" % (pre, "; ".join(steps)) if pre else
                                      "set -e; " + "; ".join(steps)))
copies = []
for ins, rest in image["ins"]:
    if ins == "COPY":
        m = re.match(r"--from=build (\S+) (\S+)$", rest)
        if not m:
            sys.exit("image.sh: COPY %s: only --from=build SRC DST is handled" % rest)
        copies += [m.group(1), m.group(2)]
arr("copies", copies)
entry = [json.loads(r) for i, r in image["ins"] if i == "ENTRYPOINT"][-1]
ds = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d and d["kind"] == "DaemonSet"][0]
spec = ds["spec"]["template"]["spec"]
c = spec["containers"][0]
arr("run_argv", entry + [a.replace("$(NODE_IP)", "127.0.0.1") for a in c["args"]])
print("run_caps=%s" % ",".join("+" + x.lower() for x in c["securityContext"]["capabilities"]["add"]))
vols = {v["name"]: v for v in spec["volumes"]}
mounts = []
for m in c["volumeMounts"]:
    mounts += [vols[m["name"]]["hostPath"]["path"], m["mountPath"], "ro" if m.get("readOnly") else "rw"]
arr("mounts", mounts)
EOF
	ko plan "the Containerfile or the DaemonSet could not be read: $(cat "$work/plan")"
	summary
fi
# shellcheck source=/dev/null
. "$work/plan"

# 1. the two roots
for tag in build image; do
	rel=${tag}_release pk=${tag}_pkgs[@]
	if mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${!pk}")" \
		"${!rel}" "$work/$tag" >"$work/$tag.log" 2>&1; then
		ok "root-$tag (debian ${!rel}, $(du -sh "$work/$tag" | cut -f1))"
	else
		ko "root-$tag" "mmdebstrap: $(tail -n 3 "$work/$tag.log" | tr '\n' ' ')"
		summary
	fi
done

# 2. the build, then the image's files
mkdir -p "$work/build$context_dst"
tar --exclude=.git -cf - . | tar -xf - -C "$work/build$context_dst"
if unshare -m --propagation private chroot "$work/build" sh -c \
	"mount -t proc proc /proc && $build_script" >"$work/build.out" 2>&1; then
	ok "build ($(grep -c '^  [A-Z]' "$work/build.out") steps)"
else
	ko build "$(tail -n 5 "$work/build.out" | tr '\n' ' ')"
	summary
fi
for ((i = 0; i < ${#copies[@]}; i += 2)); do
	mkdir -p "$work/image$(dirname "${copies[i + 1]}")"
	cp -a "$work/build${copies[i]}" "$work/image${copies[i + 1]}" ||
		{ ko copy "COPY --from=build ${copies[i]} ${copies[i + 1]}"; summary; }
done
missing=$(chroot "$work/image" ldd "${run_argv[0]}" 2>&1 | grep 'not found')
if [ -z "$missing" ] && chroot "$work/image" "${run_argv[0]}" --version >"$work/version" 2>&1; then
	ok "image-runs ($(cat "$work/version"); every library found)"
else
	ko image-runs "${missing:-$(cat "$work/version")}"
	summary
fi

# 3. the pod: its mounts in a namespace of its own, then chroot
cat >"$work/pod.sh" <<'EOF'
set -e
root=$1 caps=$2
shift 2
mount --rbind "$root" "$root"
mount --rbind /proc "$root/proc"
mount --rbind /sys "$root/sys"
mount -o remount,bind,ro "$root/sys"
mount --rbind /dev "$root/dev"
# hostPath volumes; one this host lacks (no kubelet here) stays the image's
# empty directory rather than being made on the host
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
	mkdir -p "$root$2"
	if [ -d "$1" ]; then
		mount --rbind "$1" "$root$2"
		[ "$3" = ro ] && mount -o remount,bind,ro "$root$2"
	fi
	shift 3
done
shift
mount -o remount,bind,ro "$root"
# chroot first (CAP_SYS_CHROOT is not among the pod's), then the image's own setpriv
exec chroot "$root" setpriv --bounding-set=-all,"$caps" --inh-caps=-all --no-new-privs -- "$@"
EOF
if [ -z "${PORTLIFE_LOCK_HELD:-}" ]; then
	exec 9>/tmp/portlife-live.lock
	flock 9
fi
port=$(printf '%s\n' "${run_argv[@]}" | sed -nE 's/^--metrics-addr=.*:([0-9]+)$/\1/p')
unshare -m --propagation private sh "$work/pod.sh" "$work/image" "$run_caps" "${mounts[@]}" -- \
	"${run_argv[@]}" >/dev/null 2>"$work/pod.err" &
pl_pid=$!
for _ in $(seq 1 200); do
	grep -q 'portlife: mode' "$work/pod.err" 2>/dev/null && break
	kill -0 "$pl_pid" 2>/dev/null || break
	sleep 0.1
done
"$PY" tests/deploy/workload.py "$COMM" 20 || echo "workload failed" >>"$work/pod.err"
sleep 2.5
"$PY" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
	"http://127.0.0.1:$port/metrics" >"$work/metrics" 2>>"$work/pod.err"
kill -TERM "$pl_pid" 2>/dev/null
wait "$pl_pid"
rc=$?
pl_pid=
[ -z "${PORTLIFE_LOCK_HELD:-}" ] && exec 9>&-
got=$(grep -E "^portlife_allocations_total\{comm=\"$COMM\"\} [1-9]" "$work/metrics")
warned=$("$PY" -c 'import sys; sys.path.insert(0, "tests/deploy"); import check
print("; ".join(check.unexpected_lines(open(sys.argv[1]).read())))' "$work/pod.err")
if [ "$rc" -eq 0 ] && [ -n "$got" ] && [ -z "$warned" ]; then
	ok "pod-traces ($(grep -o 'mode [a-z]*' "$work/pod.err" | head -n 1); $got)"
else
	ko pod-traces "exit $rc, ${got:-no workload series in /metrics}: $(tr '\n' ' ' <"$work/pod.err" | cut -c1-400)"
fi
summary
