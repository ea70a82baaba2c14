#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# One kernel x mode of `make bench-vm`, inside the test VM (busybox sh, no jq
# or bpftool; tests/vm/init.sh runs it as /bench.sh):
#   /bench.sh MODE ROUNDS COUNT SETTLE
# The connect storm of bench/run.sh (loadgen: COUNT connections, the client
# closes first, each load in a network namespace of its own), with no tracer
# and with `portlife --mode MODE -s`, alternating for ROUNDS rounds; then one
# more load with the tracer and kernel.bpf_stats_enabled=1 (round 0), which
# costs two clock reads a program run and so stays out of the measured rounds.
#
# One console line per load, parsed on the host (bench/vm.sh):
#   PORTLIFE-VM-BENCH {"mode":M,"round":R,"config":"none"|"pl_s","load":{loadgen's JSON},
#                      "bpf0":[progs,run_time_ns,run_cnt,misses],"bpf1":[...],
#                      "progs0":[...],"progs1":[...]}
#   PORTLIFE-VM-BENCH-ERR <why>   a load or a tracer that did not run
# bpf0/bpf1: bench/bpfstats of the tracer before and after the load;
# progs0/progs1: the same per program (bpfstats -p), in round 0 only.
# Exit status: the number of loads that failed.
mode=$1 rounds=$2 count=$3 settle=$4
failed=0

# wait_for FILE TEXT TENTHS: TEXT in FILE within TENTHS tenths of a second
wait_for() {
	i=0
	while [ "$i" -lt "$3" ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# run ROUND CONFIG
run() {
	tpid= b0="0,0,0,0" b1="0,0,0,0" p0="[]" p1="[]"
	: >/tmp/bench.lg
	if [ "$2" = pl_s ]; then
		/portlife --mode "$mode" -s >/tmp/bench.out 2>/tmp/bench.err &
		tpid=$!
		# loading takes seconds under TCG
		if ! wait_for /tmp/bench.err "Tracing port leases" 1800; then
			echo "PORTLIFE-VM-BENCH-ERR $mode round $1: portlife did not start: $(head -c 300 /tmp/bench.err)"
			kill -KILL "$tpid" 2>/dev/null
			wait "$tpid" 2>/dev/null
			failed=$((failed + 1))
			return
		fi
		b0=$(/bpfstats "$tpid" | tr ' ' ,)
		[ "$1" = 0 ] && p0=$(/bpfstats -p "$tpid")
	fi
	# A namespace of its own: lo, a wide port range, no TIME_WAIT of earlier
	# loads, none recycled (as bench/run.sh). -W: loadgen holds it (and its listeners) until the tracer is done.
	unshare -n sh -c 'ip link set lo up &&
		sysctl -qw net.ipv4.ip_local_port_range="1024 65535" &&
		sysctl -qw net.ipv4.tcp_tw_reuse=0 &&
		exec /loadgen -W -n "$0"' "$count" >/tmp/bench.lg &
	lgpid=$!
	if ! wait_for /tmp/bench.lg '"pid"' 6000; then
		echo "PORTLIFE-VM-BENCH-ERR $mode round $1 $2: loadgen printed nothing"
		failed=$((failed + 1))
	elif [ -n "$tpid" ]; then
		sleep "$settle"
		b1=$(/bpfstats "$tpid" | tr ' ' ,)
		[ "$1" = 0 ] && p1=$(/bpfstats -p "$tpid")
	fi
	if [ -n "$tpid" ]; then
		kill -INT "$tpid"
		wait "$tpid"
	fi
	kill -TERM "$lgpid" 2>/dev/null
	wait "$lgpid"
	grep -q '"pid"' /tmp/bench.lg || return
	printf 'PORTLIFE-VM-BENCH {"mode":"%s","round":%d,"config":"%s","load":%s,"bpf0":[%s],"bpf1":[%s],"progs0":%s,"progs1":%s}\n' \
		"$mode" "$1" "$2" "$(head -n 1 /tmp/bench.lg)" "$b0" "$b1" "${p0:-[]}" "${p1:-[]}"
}

sysctl -qw kernel.bpf_stats_enabled=0
r=1
while [ "$r" -le "$rounds" ]; do
	run "$r" none
	run "$r" pl_s
	r=$((r + 1))
done
sysctl -qw kernel.bpf_stats_enabled=1
run 0 pl_s
sysctl -qw kernel.bpf_stats_enabled=0
exit "$failed"
