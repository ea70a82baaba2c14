#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# VM tests: run the live tests (tests/live/*.c) in the attach modes on stock
# Debian cloud kernels under qemu. CI's own kernel only supports the
# tracepoint mode (fentry EPERM, no kprobes); Debian's 5.10, 6.1 and 6.12
# cloud kernels have BTF, fentry and kprobes, boot in seconds under TCG with a
# busybox initramfs, and prove CO-RE: one build, several kernels. 5.10 is the
# floor the code states (PL_MIN_KERNEL): this is where it is proven.
#
#   tests/vm/vmtest.sh          (root; non-interactive; fine under CI=true)
#
# Environment:
#   VMTEST_PLAN     modes per kernel: "SERIES:MODE,MODE SERIES:MODE ...";
#                   a SERIES without ":" gets VMTEST_MODES. Default, when
#                   VMTEST_KERNELS is not set either:
#                   "5.10:fentry,kprobe 6.1:kprobe,tracepoint 6.12:fentry,tracepoint"
#                   every mode on two kernels, every kernel in two modes
#                   (a kernel x mode takes 8-10 min under TCG; CI's whole run
#                   must stay under 45 minutes: see VMTEST_JOBS). 5.10 has no tracepoint
#                   run: the mode is refused there (kernel 5.12 or newer), and
#                   the live test mode_floor checks that refusal in each run.
#   VMTEST_KERNELS  kernel series to run VMTEST_MODES on each, instead of the plan
#   VMTEST_MODES    portlife --mode values          (default "fentry kprobe tracepoint")
#   VMTEST_TIMEOUT  wall-clock limit of one boot, s (default 1500)
#   VMTEST_JOBS     boots at once (default: the host's cores, at most 4; 1
#                   with VMTEST_BENCH). Each kernel x mode boots on its own,
#                   on one TCG vCPU, so each boot keeps one host core busy
#   VMTEST_TESTS    only these live tests, e.g. "sigterm holder_before"
#                   (default: all; for chasing a VM-only failure quickly)
#   VMTEST_BENCH    ROUNDS,COUNT,SETTLE: run the connect-storm benchmark
#                   (bench/vm-guest.sh) in each mode instead of the live tests;
#                   make bench-vm (bench/vm.sh) sets it and reads the results
#   VMTEST_DIAG     1: before each mode's live tests, run "portlife -v --mode
#                   MODE -d 1" in the guest and show its output (libbpf and
#                   verifier messages), for a kernel where a mode fails to load
#
# Steps: install qemu-system-x86 and busybox-static if missing; build static
# portlife and livetest; fetch the newest Debian cloud kernel of each series
# (cached in /var/cache/portlife-vmtest: CI clones afresh every run); pack a
# busybox initramfs around tests/vm/init.sh; boot each kernel x mode, up to
# VMTEST_JOBS at once; judge each from the console markers only.
#
# Kernels: 6.1 and 6.12 come from the host's own apt sources (bookworm).
# 5.10 is Debian 11's (bullseye), which the host does not list: it comes from
# a "bullseye main" source on the same mirror as the host's bookworm, in an
# apt state of its own under the cache directory (its own sources, lists,
# package cache and an empty dpkg status), so the host's apt configuration
# and lists are never touched. The bullseye Release file is checked against
# /usr/share/keyrings/debian-archive-keyring.gpg (its 11/bullseye keys).
#
# Output: the console of each boot (live, each line prefixed with its kernel
# and mode when boots run side by side, and in .output/vm/<series>-<mode>.log),
# then the time of each boot and of its live tests, then one line per
# kernel x mode, "vm <release> <mode>: PASS (N passed, 0 failed)" or "...
# FAIL (reason)", and last "vm: N passed, N failed", counting individual live
# tests (a kernel x mode without a result counts as 1 failed).
# Exit status 0 only if everything passed.

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

kernels=${VMTEST_KERNELS:-}
default_plan="5.10:fentry,kprobe 6.1:kprobe,tracepoint 6.12:fentry,tracepoint"
modes=${VMTEST_MODES:-fentry kprobe tracepoint}
limit=${VMTEST_TIMEOUT:-1500}
cache=/var/cache/portlife-vmtest
out=.output/vm                       # relative: it is printed in reasons
static=.output/static
busybox=/bin/busybox                 # from busybox-static: no shared libs

die() { echo "vmtest: $*" >&2; exit 2; }
say() { echo "vmtest: $*"; }

# ---- arguments --------------------------------------------------------------

[[ $limit =~ ^[1-9][0-9]*$ ]] || die "VMTEST_TIMEOUT must be a number of seconds, not '$limit'"
# Modes go on the kernel command line and into file names: keep them plain,
# and drop repeats (a repeated mode would make its markers ambiguous).
# read -a splits on blanks without globbing.
# parse_modes WORDS WHERE: set $modes_out to the checked, de-duplicated modes.
parse_modes() {
	local m words
	read -ra words <<<"$1"
	modes_out=
	for m in "${words[@]}"; do
		[[ $m =~ ^[a-z0-9_-]+$ ]] || die "bad mode '$m' in $2"
		[[ " $modes_out " == *" $m "* ]] || modes_out+="${modes_out:+ }$m"
	done
	[[ -n $modes_out ]] || die "$2 has no mode"
}
parse_modes "$modes" VMTEST_MODES
default_modes=$modes_out
read -ra test_list <<<"${VMTEST_TESTS:-}"
for t in "${test_list[@]}"; do
	[[ $t =~ ^[a-z0-9_]+$ ]] || die "bad test name '$t' in VMTEST_TESTS"
done
# The plan: kernel_list[i] boots once and runs kernel_modes[i] (blank-separated).
kernel_list=() kernel_modes=()
if [[ -n ${VMTEST_PLAN:-} && -n $kernels ]]; then
	die "set VMTEST_PLAN or VMTEST_KERNELS, not both"
elif [[ -z $kernels ]]; then
	read -ra words <<<"${VMTEST_PLAN:-$default_plan}"
	for w in "${words[@]}"; do
		k=${w%%:*}
		if [[ $w == *:* ]]; then
			m=${w#*:}
			parse_modes "${m//,/ }" "VMTEST_PLAN entry '$w'"
		else
			modes_out=$default_modes
		fi
		kernel_list+=("$k")
		kernel_modes+=("$modes_out")
	done
else
	read -ra kernel_list <<<"$kernels"
	for k in "${kernel_list[@]}"; do kernel_modes+=("$default_modes"); done
fi
((${#kernel_list[@]})) || die "no kernel to test (VMTEST_KERNELS or VMTEST_PLAN is empty)"
for k in "${kernel_list[@]}"; do
	[[ $k =~ ^[0-9]+\.[0-9]+$ ]] || die "bad kernel series '$k' (want e.g. 6.1)"
done
for ((i = 0; i < ${#kernel_list[@]}; i++)); do
	for ((j = 0; j < i; j++)); do
		[[ ${kernel_list[i]} != "${kernel_list[j]}" ]] ||
			die "kernel series ${kernel_list[i]} listed twice (give all its modes in one entry)"
	done
done
plan=
for ((i = 0; i < ${#kernel_list[@]}; i++)); do
	m=${kernel_modes[i]}
	plan+="${plan:+ }${kernel_list[i]}:${m// /,}"
done
bench=${VMTEST_BENCH:-}
[[ -z $bench || $bench =~ ^[1-9][0-9]*,[1-9][0-9]*,[0-9]+(\.[0-9]+)?$ ]] ||
	die "VMTEST_BENCH must be ROUNDS,COUNT,SETTLE (e.g. 5,5000,1.5), not '$bench'"
[[ $(id -u) -eq 0 ]] || die "run as root (installs packages, writes $cache)"
export DEBIAN_FRONTEND=noninteractive

# ---- 1. tools ---------------------------------------------------------------

# apt-get update at most once per run, and only when something is missing.
apt_updated=
apt_update() {
	[[ -n $apt_updated ]] && return 0
	say "apt-get update"
	apt-get update -qq || die "apt-get update failed"
	apt_updated=1
}

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
# The dynamically linked "busybox" package also has /bin/busybox; only the
# static one runs in an initramfs without libc.
[[ $(dpkg-query -W -f '${Status}' busybox-static 2>/dev/null) == "install ok installed" ]] ||
	need+=(busybox-static)
if ((${#need[@]})); then
	apt_update
	say "installing ${need[*]}"
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi

# ---- 2. static binaries -----------------------------------------------------

# Static so the initramfs needs no libc, libbpf, libelf or zlib. glibc warns
# about getpwnam & co. in a static link: harmless here.
say "building static portlife, livetest, loadgen${bench:+ and bpfstats}"
make -C "$repo" OUTPUT="$static" STATIC=1 "$static/portlife" "$static/tests/livetest" \
	"$static/loadgen" ${bench:+"$static/bpfstats"} || die "static build failed"

# ---- 3. kernels -------------------------------------------------------------

mkdir -p "$cache" "$out"

# Kernel series that the host's own apt sources (bookworm) do not carry, and
# the Debian suite that does. Fetched through an apt state of their own.
suite_of() {
	case $1 in
	5.10) echo bullseye ;;	# Debian 11: 5.10 LTS, with BTF, kprobes, fentry
	*) echo "" ;;
	esac
}

# apt_for SERIES: set $apt_opts to the apt options that reach the series'
# packages: none for the host's own suites, else a private apt state (made on
# first use) under $cache/apt-<suite>. A private update runs at most once per
# run, and only when its lists lack the package (a fresh cache: bullseye
# main is past its last point release; rm -r the directory to refresh it).
apt_opts=()
apt_private_updated=" "
apt_for() {
	local suite dir mirror codename keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	suite=$(suite_of "$1")
	apt_opts=()
	[[ -n $suite ]] || return 0
	dir=$cache/apt-$suite
	if [[ ! -s $dir/apt.conf ]]; then
		# The mirror the host already uses for Debian itself: the source
		# of the host's own release (apt's parse of sources.list and
		# sources.list.d/*, one-line and deb822 alike), not a host
		# hard-coded here.
		codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
		mirror=$(apt-get indextargets --no-release-info --format '$(REPO_URI)' \
			"Release: $codename" 'Target-Of: deb' 'Identifier: Packages' 2>/dev/null |
			head -n 1)
		[[ -n $mirror ]] || { say "no Debian mirror for '$codename' in the host's apt sources"; return 1; }
		[[ -s $keyring ]] || { say "$keyring is missing (package debian-archive-keyring)"; return 1; }
		mkdir -p "$dir"/{lists/partial,cache/archives/partial,sources.list.d,preferences.d} || return 1
		: >"$dir/status"
		echo "deb [signed-by=$keyring] $mirror $suite main" >"$dir/sources.list"
		# Read after the host's apt.conf (so its proxy and the like still
		# apply); every path apt writes or reads package state from is
		# ours. The host's update hooks are for the host's lists.
		cat >"$dir/apt.conf.tmp" <<-EOF
			Dir::Etc::sourcelist "$dir/sources.list";
			Dir::Etc::sourceparts "$dir/sources.list.d";
			Dir::Etc::preferences "$dir/preferences";
			Dir::Etc::preferencesparts "$dir/preferences.d";
			Dir::State "$dir";
			Dir::State::Lists "$dir/lists";
			Dir::State::status "$dir/status";
			Dir::State::extended_states "$dir/extended_states";
			Dir::Cache "$dir/cache";
			Acquire::Languages "none";
			APT::Sandbox::User "root";
			#clear APT::Update::Pre-Invoke;
			#clear APT::Update::Post-Invoke;
			#clear APT::Update::Post-Invoke-Success;
		EOF
		mv "$dir/apt.conf.tmp" "$dir/apt.conf" || return 1
		say "apt state for $suite in $dir: $(cat "$dir/sources.list")"
	fi
	apt_opts=(-c "$dir/apt.conf")
}

# newest_pkg SERIES RE: print the newest package matching RE in the series' sources.
newest_pkg() {
	apt-cache "${apt_opts[@]}" search --names-only "$2" 2>/dev/null |
		awk '{print $1}' | sort -V | tail -n 1
}

# fetch_kernel SERIES: set $vmlinuz (and $kconfig, $veth) to the newest Debian
# cloud kernel image of that series (and its config, and its veth module),
# from the cache or downloaded into it; non-zero if it cannot.
# Debian names them linux-image-5.10.0-<abi>-cloud-amd64 (bullseye),
# linux-image-6.1.0-<abi>-cloud-amd64 (bookworm's own) and
# linux-image-6.12.<n>+deb12-cloud-amd64 (bookworm's 6.12); one pattern
# covers them all. sort -V picks the newest; the package name is the release.
fetch_kernel() {
	local series=$1 re pkg rel tmp rc=0
	re="^linux-image-${series//./\\.}\\.[0-9]+(-[0-9]+)?(\\+deb[0-9]+)?-cloud-amd64\$"
	apt_for "$series" || return 1
	pkg=$(newest_pkg "$series" "$re")
	if [[ -z $pkg ]]; then
		# A fresh container may have no package lists yet; a fresh
		# cache has no private lists.
		if ((${#apt_opts[@]})); then
			if [[ $apt_private_updated != *" $series "* ]]; then
				say "apt-get update ($(suite_of "$series") only, private state)"
				apt-get "${apt_opts[@]}" update -qq || { say "apt-get update for $series failed"; return 1; }
				apt_private_updated+="$series "
			fi
		else
			apt_update
		fi
		pkg=$(newest_pkg "$series" "$re")
	fi
	[[ -n $pkg ]] || { say "no package matches $re"; return 1; }
	rel=${pkg#linux-image-}
	vmlinuz=$cache/vmlinuz-$rel
	kconfig=$cache/config-$rel
	veth=$cache/veth-$rel.ko
	if [[ -s $vmlinuz && -s $kconfig && -s $veth ]]; then
		say "kernel $rel: cached in $cache"
		return 0
	fi
	say "kernel $rel: downloading $pkg"
	tmp=$(mktemp -d "$cache/tmp.XXXXXX") || return 1
	# As root, apt drops to the _apt user to download, which cannot write
	# here; Sandbox::User=root keeps it root (no permission warning).
	if ! (cd "$tmp" && apt-get "${apt_opts[@]}" download -q -o APT::Sandbox::User=root "$pkg") ||
		! dpkg-deb -x "$tmp"/*.deb "$tmp/x" ||
		! [[ -s $tmp/x/boot/vmlinuz-$rel && -s $tmp/x/boot/config-$rel ]]; then
		say "could not get /boot/vmlinuz-$rel and config-$rel out of $pkg"
		rm -rf "$tmp"
		return 1
	fi
	# Keep only the kernel image and its config (a Debian host has
	# /boot/config-*, where libbpf resolves __kconfig externs such as
	# CONFIG_HZ; these kernels have no /proc/config.gz), and one module:
	# veth (=m in these kernels), which the security rules' live tests
	# join two namespaces with; uncompressed, for busybox insmod. Older
	# files of this series go, so the cache does not grow.
	rm -f "$cache/vmlinuz-$series".[0-9]* "$cache/config-$series".[0-9]* \
		"$cache/veth-$series".[0-9]*
	local ko
	ko=$(find "$tmp/x/lib/modules/$rel" -name 'veth.ko*' | head -n 1)
	case $ko in
	*.ko) cp "$ko" "$veth" || rc=1 ;;
	*.ko.xz) xz -dc "$ko" >"$veth" || rc=1 ;;
	*.ko.zst) zstd -qdc "$ko" >"$veth" || rc=1 ;;
	*) say "no veth module in $pkg"; rc=1 ;;
	esac
	mv "$tmp/x/boot/config-$rel" "$kconfig" && mv "$tmp/x/boot/vmlinuz-$rel" "$vmlinuz" || rc=1
	rm -rf "$tmp"
	return $rc
}

# Two runs at once (two CI jobs on one host) must not unpack into each other.
# The lock is held only while fetching: qemu reads the kernel at start, and
# must not inherit the lock and hold it for a whole boot.
fetch_kernel_locked() {
	local rc=0
	exec 9>"$cache/.lock"
	flock 9
	fetch_kernel "$1" || rc=$?
	exec 9>&-
	return $rc
}

# ---- 4. initramfs -----------------------------------------------------------

# The tree shared by all kernels: busybox and its applet links, /init,
# /portlife, /livetest, /loadgen. make_initrd adds the kernel's /boot/config-*.
say "building initramfs"
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root}
cp "$busybox" "$root/bin/busybox"
# Links made here rather than at boot, so /bin/sh exists for system() and
# popen() in livetest from the first instant.
while read -r applet; do
	[[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)
# The kernel's built-in initramfs normally provides /dev/console; made here
# too so init has a console even if it does not.
mknod -m 600 "$root/dev/console" c 5 1
# Host tools the live tests run where busybox's applet will not do, with the
# shared libraries they need (the rest of the initramfs is static):
#   setpriv  caps_limited drops capabilities with --bounding-set, which
#            busybox's setpriv lacks (util-linux, Essential on Debian)
add_host_tool() { # PATH: the binary at the same path, and its libraries
	local lib
	# busybox's applet of that name goes, wherever PATH would find it first
	rm -f "$root"/{bin,sbin,usr/bin,usr/sbin}/"${1##*/}"
	install -D -m 755 "$1" "$root$1" || return 1
	for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
		[[ -e $root$lib ]] || install -D -m 755 "$lib" "$root$lib" || return 1
	done
}
add_host_tool "$(command -v setpriv)" || die "cannot copy setpriv (util-linux) into the initramfs"
install -m 755 tests/vm/init.sh "$root/init"
install -m 755 "$static/portlife" "$root/portlife"
install -m 755 "$static/tests/livetest" "$root/livetest"
# the bench's load generator: the bench runs it, and so does
# alerts_quiet_bench beside /portlife
install -m 755 "$static/loadgen" "$root/loadgen"
if [[ -n $bench ]]; then
	install -m 755 "$static/bpfstats" "$root/bpfstats"
	install -m 755 bench/vm-guest.sh "$root/bench.sh"
fi
mkdir -p "$root/boot"

# make_initrd RELEASE: set $initrd to an uncompressed newc cpio of the tree
# plus /boot/config-RELEASE and /lib/modules/veth.ko of that kernel (the
# kernel takes it as is; cpio(1) is not installed, busybox's is). One file
# per release: the boots of several kernels run at once.
make_initrd() {
	rm -f "$root"/boot/*
	cp "$kconfig" "$root/boot/config-$1"
	mkdir -p "$root/lib/modules"
	cp "$veth" "$root/lib/modules/veth.ko"
	initrd=$out/initramfs-$1.cpio
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) >"$initrd"
}

# ---- 5./6. boot, judge ------------------------------------------------------

# Each kernel x mode boots on its own: a fresh kernel per mode (one mode's
# failure cannot leak into the next), and units small enough to share out.
# Up to $jobs boots run at once, one TCG vCPU each: the VM tests are most of
# CI's time, and one boot keeps one host core busy. The benchmark's boots
# run one at a time: a load must not share the host's cores with another.
jobs=${VMTEST_JOBS:-}
if [[ -z $jobs ]]; then
	jobs=$(nproc 2>/dev/null || echo 1)
	# 1 GiB of guest memory per boot; more than 4 at once has not been tried
	((jobs <= 4)) || jobs=4
	[[ -z $bench ]] || jobs=1
fi
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "VMTEST_JOBS must be a positive number of boots, not '$jobs'"

# One mode per boot: its in-guest limit leaves the host's limit room for booting.
per_mode=$((limit - 60))
((per_mode >= 30)) || per_mode=30

# The kernel command line of a boot running mode_list (set per boot).
make_append() {
	append="console=ttyS0 panic=-1 quiet portlife.modes=$(IFS=,; echo "${mode_list[*]}") portlife.timeout=$per_mode"
	((${#test_list[@]} == 0)) || append+=" portlife.tests=$(IFS=,; echo "${test_list[*]}")"
	[[ ${VMTEST_DIAG:-} != 1 ]] || append+=" portlife.diag=1"
	[[ -z $bench ]] || append+=" portlife.bench=$bench"
}

results=()            # one line per kernel x mode
total_pass=0 total_fail=0
timings=()

# result RELEASE MODE PASSED FAILED VERDICT
result() {
	results+=("vm $1 $2: $5")
	total_pass=$((total_pass + $3))
	total_fail=$((total_fail + $4))
}

# judge RELEASE LOG NORESULT: one result per mode, from the markers in LOG
# (CRs already stripped). NORESULT explains a mode that has no DONE marker.
judge() {
	local rel=$1 log=$2 noresult=$3 mode section live rc p f names
	for mode in "${mode_list[@]}"; do
		# The lines between this mode's start and end markers. || true:
		# a grep miss is an answer here, not an error.
		section=$(awk -v m="$mode" '
			$1 == "PORTLIFE-VM-MODE" && $2 == m { on = 1; next }
			$1 == "PORTLIFE-VM-DONE" && $2 == m { exit }
			on' "$log" || true)
		rc=$(sed -n "s/^PORTLIFE-VM-DONE $mode rc=\\([0-9]*\\)\$/\\1/p" "$log" | tail -n 1 || true)
		live=$(grep -E "^live $mode: [0-9]+ passed, [0-9]+ failed" <<<"$section" | tail -n 1 || true)
		if [[ -z $rc ]]; then
			if grep -q "^PORTLIFE-VM-MODE $mode\$" "$log"; then
				result "$rel" "$mode" 0 1 "FAIL (no result: started, then $noresult)"
			else
				result "$rel" "$mode" 0 1 "FAIL (no result: never started; $noresult)"
			fi
			continue
		fi
		if [[ -n $bench ]]; then
			# ROUNDS loads without and with the tracer, and its statistics round
			p=$(grep -c '^PORTLIFE-VM-BENCH {' <<<"$section" || true)
			f=$((2 * ${bench%%,*} + 1))
			if ((rc == 0 && p == f)); then
				result "$rel" "$mode" "$p" 0 "PASS (bench: $p loads)"
			else
				result "$rel" "$mode" "$p" 1 "FAIL (bench: $p of $f loads, rc=$rc; $(grep -m1 '^PORTLIFE-VM-BENCH-ERR' <<<"$section" || echo "see $log"))"
			fi
			continue
		fi
		if [[ -z $live && $rc == 137 ]]; then
			p=$(grep -c '^PASS ' <<<"$section" || true)
			f=$(grep -c '^FAIL ' <<<"$section" || true)
			result "$rel" "$mode" 0 1 "FAIL (livetest killed at the in-guest limit of ${per_mode}s, after $p test(s) passed and $f failed; see $log)"
			continue
		elif [[ -z $live ]]; then
			# Its last words, e.g. a usage error.
			result "$rel" "$mode" 0 1 "FAIL (livetest exited rc=$rc without a summary line; last line: $(grep -v '^PORTLIFE-VM-' <<<"$section" | grep -v '^$' | tail -n 1 || true))"
			continue
		fi
		p=$(sed -E 's/^live [^:]*: ([0-9]+) passed.*/\1/' <<<"$live")
		f=$(sed -E 's/^live [^:]*: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$live")
		if ((f > 0)); then
			names=$(sed -n 's/^FAIL \([^:]*\):.*/\1/p' <<<"$section" | paste -sd, - | sed 's/,/, /g' || true)
			result "$rel" "$mode" "$p" "$f" "FAIL ($p passed, $f failed: $names)"
		elif ((p == 0)); then
			result "$rel" "$mode" 0 1 "FAIL (no test ran: $live)"
		elif ((rc != 0)); then
			result "$rel" "$mode" "$p" 1 "FAIL ($p passed, 0 failed, but livetest exited rc=$rc)"
		else
			result "$rel" "$mode" "$p" 0 "PASS ($p passed, 0 failed)"
		fi
	done
}


# boot VMLINUZ INITRD LOG TAG: one qemu run; its console goes to LOG and,
# prefixed with TAG when boots run side by side, to stdout (so CI shows it
# live). Leaves "QEMU-EXIT-STATUS SECONDS" in LOG.status.
boot() {
	local t0=$SECONDS qrc=0 prefix=
	((jobs == 1)) || prefix="[$4] "
	# stdin from /dev/null: no terminal to put in raw mode (CI has none, and
	# a killed qemu could not restore it). -nic none: the guest only uses lo
	# (and its own network namespaces); a NIC would only add a device
	# and its boot ROM.
	# TCG: no usable KVM on CI. qemu exits 0 even after a guest panic
	# (-no-reboot + panic=-1), so its status only tells a timeout apart.
	# --foreground keeps qemu in our process group, so Ctrl-C or a CI
	# cancel that kills the group also stops qemu (it has no children
	# that --foreground would leave untimed).
	# The console is cleaned on the way (sed -u: line by line, so CI sees
	# it live): the serial console ends lines with CRLF, and SeaBIOS clears
	# the screen and turns off line wrap with escape sequences, which would
	# also glue the first marker to its "Booting from ROM..." line.
	# -smp 1: with two TCG vCPUs, 6.12 once oopsed on an int3 left in
	# tcp_openreq_init_rwin while a static key was being flipped (sock_ops
	# attach: text_poke_bp) on the other vCPU, a TCG cross-vCPU code-patching
	# race, not a portlife fault. One vCPU has no such race.
	timeout --foreground -k 10 "$limit" qemu-system-x86_64 -accel tcg -m 1024 -smp 1 \
		-nographic -no-reboot -nic none \
		-kernel "$1" -initrd "$2" -append "$append" \
		</dev/null 2>&1 |
		sed -u -e 's/\r$//' -e 's/\x1bc/\n/g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
		tee "$3" | sed -u "s/^/$prefix/" || qrc=$?
	echo "$qrc $((SECONDS - t0))" >"$3.status"
	echo "=== vm $4: qemu exited $qrc after $((SECONDS - t0))s ==="
}

# A boot still running when this script ends (an error, a signal) is stopped:
# each runs in a subshell of its own, with timeout, sed and tee as children.
boot_pids=()
stop_boots() {
	local p
	for p in "${boot_pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
}
trap stop_boots EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

t_setup=$SECONDS
# Kernels and initramfs first (the fetch is locked, the tree is shared), then
# the boots.
unit_series=() unit_rel=() unit_mode=() unit_kernel=() unit_initrd=()
rm -f "$out"/initramfs-*.cpio "$out"/*.log "$out"/*.log.status
for ((ki = 0; ki < ${#kernel_list[@]}; ki++)); do
	series=${kernel_list[ki]}
	read -ra mode_list <<<"${kernel_modes[ki]}"
	if ! fetch_kernel_locked "$series"; then
		for mode in "${mode_list[@]}"; do
			result "$series" "$mode" 0 1 "FAIL (no kernel: could not fetch the newest $series cloud kernel)"
		done
		continue
	fi
	rel=${vmlinuz##*/vmlinuz-}
	make_initrd "$rel" || die "cpio failed"
	for mode in "${mode_list[@]}"; do
		unit_series+=("$series") unit_rel+=("$rel") unit_mode+=("$mode")
		unit_kernel+=("$vmlinuz") unit_initrd+=("$initrd")
	done
done

say "${#unit_mode[@]} boots, up to $jobs at once (VMTEST_JOBS), limit ${limit}s each"
running=0
for ((u = 0; u < ${#unit_mode[@]}; u++)); do
	if ((running >= jobs)); then
		wait -n || true
		running=$((running - 1))
	fi
	mode_list=("${unit_mode[u]}")
	make_append
	tag="${unit_rel[u]} ${unit_mode[u]}"
	log=$out/${unit_series[u]}-${unit_mode[u]}.log
	echo "=== vm $tag: booting (limit ${limit}s; console in $log) ==="
	boot "${unit_kernel[u]}" "${unit_initrd[u]}" "$log" "$tag" &
	boot_pids+=($!)
	running=$((running + 1))
done
wait || true
boot_pids=()

for ((u = 0; u < ${#unit_mode[@]}; u++)); do
	rel=${unit_rel[u]}
	mode_list=("${unit_mode[u]}")
	log=$out/${unit_series[u]}-${unit_mode[u]}.log
	qrc=1 secs=?
	[[ -r $log.status ]] && read -r qrc secs <"$log.status"
	touch "$log"

	init_up=$(sed -n 's/^PORTLIFE-VM-INIT .* uptime=\([0-9.]*\)$/\1/p' "$log" | head -n 1 || true)
	t=$(sed -n "s/^PORTLIFE-VM-TIME ${unit_mode[u]} \\([0-9]*s\\)\$/\\1/p" "$log" | tail -n 1 || true)
	timings+=("vm $rel ${unit_mode[u]}: init after ${init_up:-?}s of guest uptime; live tests ${t:-?} (guest clock); boot to power-off ${secs}s wall")

	# Why a mode may have no result, most specific first.
	killed=$(grep -m1 -o 'terminating on signal [0-9]* from pid [0-9]*.*' "$log" || true)
	if [[ ! -r $log.status ]]; then
		why="the boot left no exit status (its runner died), see $log"
	elif ((qrc == 124 || qrc == 137)); then
		why="timed out after ${limit}s (VMTEST_TIMEOUT), see $log"
	elif [[ -n $killed ]]; then
		# Someone else killed qemu (it then exits 0): not the guest's fault.
		why="qemu killed from outside: $killed, see $log"
	elif grep -q 'Kernel panic' "$log"; then
		why="guest panicked: $(grep -m1 'Kernel panic' "$log" | sed 's/^\[[^]]*\] *//'), see $log"
	elif ! grep -q '^PORTLIFE-VM-INIT ' "$log"; then
		why="guest never reached /init (qemu exit $qrc), see $log"
	else
		why="guest panicked or stopped (qemu exit $qrc), see $log"
	fi
	judge "$rel" "$log" "$why"
done

echo
for t in "${timings[@]}"; do echo "$t"; done
echo "vm: plan $plan"
echo "vm: total ${SECONDS}s: set-up (install, build, initramfs) ${t_setup}s, kernels and boots $((SECONDS - t_setup))s, $jobs at once"
for r in "${results[@]}"; do echo "$r"; done
echo "vm: $total_pass passed, $total_fail failed"
((total_fail == 0))
