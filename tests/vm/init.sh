#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# /init (PID 1) of the portlife test VM, run by busybox sh. tests/vm/vmtest.sh
# packs it into a busybox initramfs with the static /portlife, /livetest and
# /loadgen, and /lib/modules/veth.ko.
#
# Kernel command line (read from /proc/cmdline: the kernel does not hand
# dotted parameters to init):
#   portlife.modes=fentry,kprobe,tracepoint  attach modes to test, in order
#   portlife.timeout=SECONDS                  time limit of one mode's livetest
#   portlife.tests=connect_v4,...             only these live tests (default all)
#   portlife.diag=1                           before each mode's live tests, show
#                                             "portlife -v --mode MODE -d 1" (libbpf's
#                                             and the verifier's messages)
#   portlife.bench=ROUNDS,COUNT,SETTLE        make bench-vm: per mode, /bench.sh
#                                             (bench/vm-guest.sh) instead of livetest
#
# Console protocol parsed by vmtest.sh, one marker per line:
#   PORTLIFE-VM-INIT <kernel release> uptime=<s>  init started (boot time)
#   PORTLIFE-VM-DIAG <mode> rc=<exit code>        portlife.diag=1: the output of
#                                                 "portlife -v" follows, up to
#   PORTLIFE-VM-DIAG-END <mode>                   (before the mode's own markers)
#   PORTLIFE-VM-MODE <mode>                       livetest (or /bench.sh) starts, in <mode>
#   PORTLIFE-VM-TIME <mode> <s>s                  how long it ran
#   PORTLIFE-VM-DONE <mode> rc=<exit code>        it ended
#   PORTLIFE-VM-END                               all done, powering off
# A missing marker means the guest died or hung (the host's timeout fires).
#
# No "set -e": PID 1 must never exit (the kernel would panic, and the host
# would see a panic instead of the marker that explains what went wrong).

export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=dumb

# What the live tests and portlife need from a real system:
#   proc      /proc/self, /proc/sys/net/* sysctls (tcp_tw_reuse, port range,
#             tcp_max_tw_buckets), /proc/net/netstat (TCPTimeWaitOverflow)
#   sysfs     /sys/kernel/btf/vmlinux (CO-RE), /sys/bus/event_source (kprobe PMU)
#   devtmpfs  /dev/null and friends (busybox, system())
#   tmpfs     /tmp: livetest's mkdtemp() for portlife's outputs; /run: where
#             a tracing portlife publishes recent failures for `portlife who`
#             (/run/portlife; a real system always has /run)
#   bpffs, tracefs, debugfs: where libbpf and portlife look for them
#             (tracefs for syscall tracepoint ids and legacy kprobe_events)
#   cgroup2   sock_ops attaches to the cgroup v2 root; --cgroup tests
mnt() { # TYPE DIR: mount, or say loudly why not (the tests will then fail)
	mkdir -p "$2"
	mount -t "$1" "$1" "$2" || echo "PORTLIFE-VM-WARN cannot mount $1 on $2"
}
mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt tmpfs /tmp
mnt tmpfs /run	# /run/portlife: a tracer's recent failures, for `portlife who`
mnt bpf /sys/fs/bpf
mnt tracefs /sys/kernel/tracing
mnt debugfs /sys/kernel/debug
mnt cgroup2 /sys/fs/cgroup
# The kernel starts init with 1024 open files; a host's shell has more (CI's:
# 20000), and the untracked live test holds 3000 sockets.
ulimit -n 65536 || echo "PORTLIFE-VM-WARN cannot raise the open-file limit"
# veth (a module in Debian's cloud kernels): the security rules' tests join
# two namespaces with a pair.
insmod /lib/modules/veth.ko || echo "PORTLIFE-VM-WARN cannot load veth.ko"
# The tests that need sysctls make their own netns and bring its lo up; the
# others use the initial netns, whose lo starts down.
ip link set lo up || echo "PORTLIFE-VM-WARN cannot bring lo up"

modes=tracepoint limit=300 tests= diag= bench=
# shellcheck disable=SC2013 # the command line is one line of words
for w in $(cat /proc/cmdline); do
	case $w in
	portlife.modes=*) modes=${w#portlife.modes=} ;;
	portlife.timeout=*) limit=${w#portlife.timeout=} ;;
	portlife.tests=*) tests=$(echo "${w#portlife.tests=}" | tr , ' ') ;;
	portlife.diag=1) diag=1 ;;
	portlife.bench=*) bench=$(echo "${w#portlife.bench=}" | tr , ' ') ;;
	esac
done

read -r up _ </proc/uptime
# The empty line ends whatever the BIOS left on the console's last line.
echo
echo "PORTLIFE-VM-INIT $(uname -r) uptime=$up"

# What a livetest run left behind: every process but PID 1 (and its forks
# running this pipeline), kernel threads ([name]), and busybox timeout's
# watchdog, which lingers up to a second after the command it timed.
leftovers() {
	ps -o pid,args | awk 'NR > 1 && $1 != 1 && $2 !~ /^\[/ &&
		$0 !~ /\/init$|ps -o pid|awk NR|timeout -s KILL/'
}

for mode in $(echo "$modes" | tr , ' '); do
	if [ -n "$diag" ]; then
		# Load, attach, trace a second, exit: what a mode's failure to
		# start looks like, in full (-v: libbpf debug and verifier logs).
		# Outside the mode's markers, so the judging does not read it.
		timeout -s KILL 120 /portlife -v --mode "$mode" -d 1 >/tmp/diag.out 2>&1
		echo "PORTLIFE-VM-DIAG $mode rc=$?"
		cat /tmp/diag.out
		echo "PORTLIFE-VM-DIAG-END $mode"
	fi
	echo "PORTLIFE-VM-MODE $mode"
	# The output directories before this run: its own is the new one.
	before=$(echo /tmp/portlife-live.*)
	start=$(cut -d. -f1 /proc/uptime)
	# In-guest limit, so one hung mode still leaves the others a result.
	# shellcheck disable=SC2086 # $tests, $bench: lists of plain words, or nothing
	if [ -n "$bench" ]; then
		timeout -s KILL "$limit" /bench.sh "$mode" $bench
	else
		timeout -s KILL "$limit" /livetest --mode "$mode" /portlife $tests
	fi
	rc=$?
	end=$(cut -d. -f1 /proc/uptime)
	if [ "$rc" -ne 0 ] && [ -z "$bench" ]; then
		[ "$rc" -eq 137 ] && echo "PORTLIFE-VM-WARN livetest killed (SIGKILL; in-guest limit ${limit}s)"
		# The VM and its /tmp are gone once we power off: show portlife's
		# stderr from this run here, the only place it can be read (less
		# its start banner, so only files with something to say appear),
		# and portlife's own lines from outputs that mix both (*.out).
		dir=
		for d in /tmp/portlife-live.*; do
			case " $before " in *" $d "*) ;; *) dir=$d ;; esac
		done
		for f in "$dir"/*.err "$dir"/*.out; do
			case $f in
			*.err) msg=$(grep -v '^portlife: mode ' "$f" 2>/dev/null | head -n 40) ;;
			*) msg=$(grep '^portlife: ' "$f" 2>/dev/null | grep -v '^portlife: mode ' | head -n 40) ;;
			esac
			[ -n "$msg" ] || continue
			echo "--- $f (first 40 lines, start banner omitted)"
			echo "$msg"
		done
	fi
	left=$(leftovers)
	if [ -n "$left" ]; then
		# Killed so the next mode starts clean; shown because it is a bug
		# (livetest or portlife did not reap what it started).
		echo "PORTLIFE-VM-WARN processes left after mode $mode (killing them):"
		echo "$left"
		echo "$left" | awk '{print $1}' | xargs kill -KILL 2>/dev/null
	fi
	echo "PORTLIFE-VM-TIME $mode $((end - start))s"
	echo "PORTLIFE-VM-DONE $mode rc=$rc"
done

# "quiet" hides kernel warnings from the console; a WARN or BUG while
# portlife's programs ran is worth seeing, so print them from the log.
dmesg | grep -E 'WARNING:|BUG:|Call Trace|general protection|Oops|RIP:' |
	sed 's/^/PORTLIFE-VM-DMESG /'

echo "PORTLIFE-VM-END"
sync
poweroff -f
# poweroff -f does not return; should it fail, sleeping beats panicking.
while :; do sleep 3600; done
