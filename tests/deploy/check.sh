#!/usr/bin/env bash
# The deployment files under deploy/, checked as far as this machine allows
# (no systemd as PID 1, no cluster, no container runtime):
#   - the systemd unit as make install stages it: systemd-analyze verify and
#     its security score; then its ExecStart run as root with only the unit's
#     CapabilityBoundingSet and NoNewPrivileges (setpriv), under strace, with
#     a small workload: it must trace, write metrics, warn of no missing
#     capability, and use no syscall, address family, namespace, device or
#     writable path that the unit's sandbox takes away (check.py); and the
#     unit itself started by systemd, PID 1 of a systemd-nspawn container
#     (under_systemd below), tracing the workload inside its sandbox;
#   - the DaemonSet against the Kubernetes API models, user/loader.c's
#     capabilities and the host paths portlife opens; its args run the same
#     way with its capabilities, and /metrics is scraped;
#   - the Containerfile's base, packages (apt), libraries (ldd), paths and
#     flags against the Makefile and --help;
#   - the alerting rules (promtool check and test) and the dashboard, whose
#     every metric and label must be in what those real exporter runs served.
# One line per check, "PASS name" or "FAIL name: why"; the last line is
# "deploy: N passed, N failed, N skipped". Exit status 1 if anything failed.
# Takes /tmp/portlife-live.lock for the runs unless PORTLIFE_LOCK_HELD is set.
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0 skip=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
MAKE=${MAKE:-make}
PY=/usr/bin/python3		# Debian's, with python3-yaml and python3-kubernetes
COMM=pl-deploy-wl		# the workload's process name in the metrics
if [ -n "${MAKEFLAGS:-}" ]; then
	MAKEFLAGS=$(sed -E 's/ ?--jobserver-(auth|fds)=[^ ]*//g; s/(^| )-j[0-9]*( |$)/\1/' <<<"$MAKEFLAGS")
	export MAKEFLAGS
fi
tmp=$(mktemp -d)
pl_pid=
ns=
server=
cleanup() {
	[ -n "$pl_pid" ] && kill -KILL "$pl_pid" 2>/dev/null
	[ -n "$server" ] && kill "$server" 2>/dev/null
	if [ -n "$ns" ]; then
		for n in "$ns" "$ns-pod" "$ns-node" "$ns-rem"; do ip netns del "$n" 2>/dev/null; done
	fi
	rm -rf "$tmp"
}

# nat_topology: $ns-pod behind $ns-node, which masquerades it (TCP, ports
# 40000-40099) onto the link to $ns-rem, where a server accepts on 8080: the
# NAT watcher's series then have labels to check. Addresses from the
# documentation ranges, each in namespaces of its own.
nat_topology() {
	local p=$$
	ip netns add "$ns-pod" && ip netns add "$ns-node" && ip netns add "$ns-rem" &&
	ip link add "pldp$p" netns "$ns-pod" type veth peer name "pldn$p" netns "$ns-node" &&
	ip link add "pldr$p" netns "$ns-rem" type veth peer name "pldm$p" netns "$ns-node" &&
	ip -n "$ns-pod" link set lo up && ip -n "$ns-pod" link set "pldp$p" up &&
	ip -n "$ns-pod" addr add 192.0.2.2/24 dev "pldp$p" &&
	ip -n "$ns-pod" route add default via 192.0.2.1 &&
	ip -n "$ns-node" link set "pldn$p" up && ip -n "$ns-node" link set "pldm$p" up &&
	ip -n "$ns-node" addr add 192.0.2.1/24 dev "pldn$p" &&
	ip -n "$ns-node" addr add 198.51.100.1/24 dev "pldm$p" &&
	ip -n "$ns-rem" link set lo up && ip -n "$ns-rem" link set "pldr$p" up &&
	ip -n "$ns-rem" addr add 198.51.100.2/24 dev "pldr$p" &&
	ip netns exec "$ns-node" sysctl -qw net.ipv4.ip_forward=1 &&
	printf 'table inet pldeploy {\n chain post {\n  type nat hook postrouting priority srcnat;\n  oifname "pldm%d" meta l4proto tcp masquerade to :40000-40099\n }\n}\n' "$p" |
		ip netns exec "$ns-node" nft -f - || return 1
	ip netns exec "$ns-rem" "$PY" -c 'import socket
s = socket.create_server(("198.51.100.2", 8080))
while True:
    s.accept()[0].close()' &
	server=$!
}
trap cleanup EXIT

summary() {
	echo "deploy: $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
}

missing=
for t in systemd-analyze promtool strace setpriv apt-cache dpkg ldd mmdebstrap systemd-nspawn; do
	command -v "$t" >/dev/null || missing="$missing $t"
done
"$PY" -c 'import yaml, kubernetes' 2>/dev/null || missing="$missing python3-yaml/python3-kubernetes"
if [ -n "$missing" ]; then
	ko tools "missing:$missing: run make deps"
	summary
fi
ok tools

if ! out=$($MAKE --no-print-directory -s .output/portlife 2>&1); then
	ko build "$(tail -n 5 <<<"$out")"
	summary
fi
stage=$tmp/stage
if ! out=$($MAKE --no-print-directory install DESTDIR="$stage" PREFIX=/usr 2>&1); then
	ko install "make install DESTDIR=$stage PREFIX=/usr: $(tail -n 5 <<<"$out")"
	summary
fi
bin=$stage/usr/sbin/portlife
unit=$stage/usr/lib/systemd/system/portlife.service
.output/portlife --help >"$tmp/help" 2>&1

# systemd-analyze verify wants ExecStart's binary to exist: point it at the
# staged one, and MANPATH at the staged man page (Documentation=man:portlife(8)).
mkdir -p "$tmp/verify"
sed "s|/usr/sbin/portlife|$bin|g" "$unit" >"$tmp/verify/portlife.service"
out=$(MANPATH=$stage/usr/share/man systemd-analyze verify "$tmp/verify/portlife.service" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
	ok unit-verify
else
	ko unit-verify "systemd-analyze verify (exit $rc): $(tr '\n' ' ' <<<"$out")"
fi
# The score systemd gives the sandbox, 0 (locked down) to 10: the hardening
# as committed scores 3.3 (3.2 before CAP_SYS_RESOURCE, which kernels before
# 5.11 need for the maps' locked memory); a line dropped makes it worse and
# fails here.
max=3.3
out=$(systemd-analyze security --offline=yes "$tmp/verify/portlife.service" 2>&1)
level=$(sed -nE 's/.*Overall exposure level for portlife.service: ([0-9.]+).*/\1/p' <<<"$out")
if [ -n "$level" ] && awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }'; then
	ok "unit-exposure ($level, at most $max)"
else
	ko unit-exposure "systemd-analyze security: ${level:-no score} (at most $max): $(grep '✗' <<<"$out" | head -n 5 | tr '\n' ' ')"
fi

# run NAME CAPS URL ARGV...: ARGV as root with only CAPS in its bounding set
# and no_new_privs (what systemd does with CapabilityBoundingSet= and
# NoNewPrivileges=, or a runtime with capabilities.add), under strace -f,
# while the workload runs (here, in the named namespace $ns and through the
# NAT of nat_topology); then SIGTERM, as systemd and the kubelet stop it.
# Its metrics are copied from the file the command line names, or fetched
# from URL. Leaves $tmp/run-NAME/{cmd,strace,stderr,rc,metrics,capeff}.
run() {
	local name=$1 caps=$2 url=$3 dir=$tmp/run-$1 i
	shift 3
	mkdir -p "$dir"
	printf '%s\n' "$@" >"$dir/cmd"
	setpriv --bounding-set=-all,"$caps" --inh-caps=-all --no-new-privs -- \
		strace -f -qq -o "$dir/strace" "$@" >/dev/null 2>"$dir/stderr" &
	local tracer=$!
	for i in $(seq 1 200); do
		grep -q 'portlife: mode' "$dir/stderr" 2>/dev/null && break
		kill -0 "$tracer" 2>/dev/null || break
		sleep 0.1
	done
	# strace's child is portlife: SIGTERM to it, not to strace (which would
	# detach and leave it running)
	pl_pid=$(pgrep -P "$tracer" | head -n 1)
	[ -n "$pl_pid" ] && sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$pl_pid/status" >"$dir/capeff"
	"$PY" tests/deploy/workload.py "$COMM" 20 || echo "workload failed" >>"$dir/stderr"
	# and in a named namespace: TIME_WAIT there is watched through setns()
	ip netns exec "$ns" "$PY" tests/deploy/workload.py "$COMM" 5 ||
		echo "workload in $ns failed" >>"$dir/stderr"
	# and through the NAT
	ip netns exec "$ns-pod" "$PY" tests/deploy/workload.py "$COMM" 5 198.51.100.2:8080 ||
		echo "workload through NAT failed" >>"$dir/stderr"
	sleep 2.5		# metrics are rewritten every second
	if [ -n "$url" ]; then
		"$PY" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
			"$url" >"$dir/metrics" 2>>"$dir/stderr"
	fi
	[ -n "$pl_pid" ] && kill -TERM "$pl_pid" 2>/dev/null
	wait "$tracer"
	echo $? >"$dir/rc"
	pl_pid=
	for i in "$@"; do
		case "$i" in "$dir"/*.prom) cp "$i" "$dir/metrics" 2>/dev/null ;; esac
	done
}

# The unit under systemd itself. systemd is not PID 1 on this machine, so
# it boots as PID 1 of a systemd-nspawn container: a Debian root made by
# mmdebstrap (systemd, python3 and the image's libraries), portlife and the
# unit installed in it by make install PREFIX=/usr, the unit enabled. The
# container keeps the capabilities the unit asks for and allows the syscalls
# it adds (nspawn's own filter would refuse bpf). A oneshot unit ordered after
# it runs the workload, reads the service's capabilities, no_new_privs and
# seccomp mode, stops it and powers the container off; the results come back
# through a bind mount. Leaves $tmp/nspawn-results/out.
under_systemd() {
	local root=$tmp/nspawn res=$tmp/nspawn-results pkgs
	pkgs=$("$PY" -c 'import sys; sys.path.insert(0, "tests/deploy"); import check
print(",".join(check.containerfile_stages("deploy/Containerfile")[-1]["pkgs"]))')
	local codename cache key
	mkdir -p "$res"
	codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
	# The root is the same until the package list changes: made once and kept
	# (as the VM kernels are), so a test run neither downloads ~60 MB nor
	# depends on the mirror; each run unpacks a fresh copy to install into.
	cache=${PORTLIFE_DEPLOY_CACHE:-/var/cache/portlife-deploy}
	key=$(printf '%s %s' "$codename" "systemd,systemd-sysv,dbus,python3,$pkgs" | sha256sum | cut -c1-16)
	mkdir -p "$cache"
	if [ ! -s "$cache/nspawn-$key.tar" ]; then
		rm -rf "$cache"/nspawn-*.tar	# roots of older package lists
		if ! mmdebstrap --quiet --variant=apt --include="systemd,systemd-sysv,dbus,python3,$pkgs" \
			"$codename" "$cache/nspawn-$key.new.tar" >"$res/mmdebstrap.log" 2>&1; then
			rm -f "$cache/nspawn-$key.new.tar"
			echo "mmdebstrap failed: $(tail -n 3 "$res/mmdebstrap.log" | tr '\n' ' ')" >"$res/out"
			return
		fi
		mv "$cache/nspawn-$key.new.tar" "$cache/nspawn-$key.tar"
	fi
	mkdir -p "$root"
	if ! tar -C "$root" -xf "$cache/nspawn-$key.tar"; then
		echo "cannot unpack $cache/nspawn-$key.tar" >"$res/out"
		return
	fi
	$MAKE --no-print-directory -s install DESTDIR="$root" PREFIX=/usr >/dev/null
	mkdir -p "$root/var/lib/prometheus/node-exporter" "$root/etc/systemd/system/multi-user.target.wants"
	cp tests/deploy/workload.py "$root/usr/local/bin/"
	cat >"$root/etc/systemd/system/pl-test.service" <<-EOF
	[Unit]
	After=portlife.service
	Wants=portlife.service
	[Service]
	Type=oneshot
	ExecStart=/bin/sh -c '/usr/local/bin/pl-test.sh >/results/out 2>&1'
	ExecStartPost=/bin/systemctl poweroff --no-block
	EOF
	cat >"$root/usr/local/bin/pl-test.sh" <<-EOF
	#!/bin/sh
	for i in \$(seq 1 100); do
		journalctl -u portlife | grep -q 'portlife: mode' && break
		sleep 0.2
	done
	pid=\$(systemctl show -p MainPID --value portlife)
	echo "=== active: \$(systemctl is-active portlife)"
	python3 /usr/local/bin/workload.py $COMM 20
	sleep 2.5
	echo "=== status"; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/\$pid/status
	echo "=== metrics"; cat /var/lib/prometheus/node-exporter/portlife.prom
	systemctl stop portlife
	echo "=== after stop: \$(systemctl show -p Result --value portlife)"
	ls /var/lib/prometheus/node-exporter/
	echo "=== journal"; journalctl -u portlife --no-pager | grep -v '|'
	EOF
	chmod +x "$root/usr/local/bin/pl-test.sh"
	ln -s /usr/lib/systemd/system/portlife.service "$root/etc/systemd/system/multi-user.target.wants/"
	ln -s /etc/systemd/system/pl-test.service "$root/etc/systemd/system/multi-user.target.wants/"
	timeout 180 systemd-nspawn -q -D "$root" -M "pl-deploy-$$" -b --register=no --keep-unit \
		--console=pipe --bind="$res:/results" \
		--capability="$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' ',')" \
		--system-call-filter="$(sed -n 's/^SystemCallFilter=//p' "$unit" | tr ' ' '\n' |
			grep -v '^@' | tr '\n' ' ')" >"$res/boot.log" 2>&1 ||
		echo "systemd-nspawn: $(tail -n 3 "$res/boot.log" | tr '\n' ' ')" >>"$res/out"
}

# check_under_systemd: what the unit did under systemd
check_under_systemd() {
	local out=$tmp/nspawn-results/out want errs= said
	want=$("$PY" -c 'import sys; sys.path.insert(0, "tests/deploy"); import check
print("%016x" % check.expected_capeff(check.loader_caps(".", numbers=True).values()))')
	[ -f "$out" ] || { ko unit-under-systemd "no results from the container"; return; }
	grep -q '^=== active: active$' "$out" || errs="$errs; not active"
	grep -q 'portlife: mode ' "$out" || errs="$errs; never said its mode"
	said=$("$PY" -c 'import sys; sys.path.insert(0, "tests/deploy"); import check
print("; ".join(check.unexpected_lines(open(sys.argv[1]).read(), container=True)))' "$out")
	[ -n "$said" ] && errs="$errs; it said: $said"
	grep -qx "CapEff:	$want" "$out" || errs="$errs; CapEff $(sed -n 's/^CapEff:\t//p' "$out"), not $want"
	grep -qx 'NoNewPrivs:	1' "$out" || errs="$errs; no no_new_privs"
	grep -qx 'Seccomp:	2' "$out" || errs="$errs; no seccomp filter"
	grep -qE "^portlife_allocations_total\{comm=\"$COMM\"\} [1-9]" "$out" ||
		errs="$errs; no workload series in the metrics file"
	grep -q '^=== after stop: success$' "$out" || errs="$errs; the stop did not succeed"
	[ "$(sed -n '/^=== after stop/{n;p}' "$out")" = "=== journal" ] ||
		errs="$errs; the metrics file outlived the stop"
	if [ -z "$errs" ]; then
		ok "unit-under-systemd (systemd $(systemd-analyze --version | sed -n '1s/systemd \([0-9]*\).*/\1/p') as PID 1 in systemd-nspawn: traced, CapEff $want, seccomp, metrics removed at stop)"
	else
		ko unit-under-systemd "${errs#; }: $(tr '\n' ' ' <"$out" | cut -c1-300)"
	fi
}

runs=()
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP live runs of the unit and the DaemonSet: needs root"
	skip=$((skip + 1))
else
	if [ -z "${PORTLIFE_LOCK_HELD:-}" ]; then
		exec 9>/tmp/portlife-live.lock
		flock 9
	fi
	ns=pl-deploy-$$
	ip netns add "$ns" && ip -n "$ns" link set lo up || ko netns "ip netns add $ns failed"
	nat_topology || ko nat-topology "could not build the NAT namespaces (ip, veth, nft)"
	# the unit's ExecStart with the staged binary, its metrics file in the run's directory
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
	mkdir -p "$tmp/run-unit"
	read -r -a argv <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
	argv[0]=$bin
	for i in "${!argv[@]}"; do
		[ "${argv[$i]}" = --metrics-file ] && argv[i + 1]=$tmp/run-unit/$(basename "${argv[i + 1]}")
	done
	run unit "$caps" "" "${argv[@]}"
	runs+=(--run unit="$tmp/run-unit")

	# the DaemonSet's args through the image's entrypoint, the node's address loopback
	mapfile -t dsargs < <("$PY" -c 'import sys, yaml
ds = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "DaemonSet"][0]
c = ds["spec"]["template"]["spec"]["containers"][0]
print(",".join("+" + x.lower() for x in c["securityContext"]["capabilities"]["add"]))
for a in c["args"]:
    print(a.replace("$(NODE_IP)", "127.0.0.1"))' deploy/kubernetes/daemonset.yaml)
	port=$(printf '%s\n' "${dsargs[@]}" | sed -nE 's/^--metrics-addr=.*:([0-9]+)$/\1/p')
	run daemonset "${dsargs[0]}" "http://127.0.0.1:$port/metrics" "$bin" "${dsargs[@]:1}"
	runs+=(--run daemonset="$tmp/run-daemonset")
	# the NAT series, for their names and labels: the node's NAT is in a
	# namespace of its own here, never the host's (--nat-netns)
	mkdir -p "$tmp/run-nat"
	run nat "$caps" "" "$bin" -s --metrics-file "$tmp/run-nat/portlife.prom" \
		--nat-netns "$ns-node" --nat-range 40000-40099
	runs+=(--run nat="$tmp/run-nat")
	under_systemd
	check_under_systemd
	[ -z "${PORTLIFE_LOCK_HELD:-}" ] && exec 9>&-
fi

out=$("$PY" tests/deploy/check.py --root . --stage "$stage" --bin "$bin" --bindir /usr/sbin \
	--help-text "$tmp/help" --comm "$COMM" "${runs[@]}" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v '^check.py: '
pass=$((pass + $(grep -c '^PASS ' <<<"$out")))
fail=$((fail + $(grep -c '^FAIL ' <<<"$out")))
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	ko check.py "exited $rc: $(tail -n 5 <<<"$out")"
fi
summary
