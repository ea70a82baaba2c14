#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make bench-vm: the exact modes' cost, where they run. CI's own kernel has
# only the tracepoint mode, so this runs the connect storm of bench/run.sh
# inside Debian's 6.1 and 6.12 guests (the VM tests' machinery:
# tests/vm/vmtest.sh with VMTEST_BENCH; the guest side is bench/vm-guest.sh)
# in the fentry, kprobe and tracepoint modes, and reports per kernel x mode:
#   ratio      connections/s with `portlife -s` over none (medians of
#              alternating rounds, each load in a fresh network namespace)
#   cpu_ratio  the load's CPU per connection, none over portlife -s (as in
#              make bench: 0.8 means the load spends 1.25x the CPU)
#   ns/run     BPF ns per program run, and runs/conn, program runs per
#              connection, from a separate round with kernel.bpf_stats_enabled
#              (bench/bpfstats), so the measured rounds do not pay for it;
#              then the same program by program (ns/conn, runs/conn, ns/run)
# Under TCG (no KVM here), one vCPU, the ratios are indicative only: TCG
# slows kernel and user code unevenly. ns/run and runs/conn suffer less.
#
# Needs root; not part of make test. Environment:
#   BENCH_VM_PLAN  kernels and modes   (default "6.1:fentry,kprobe,tracepoint
#                                       6.12:fentry,kprobe,tracepoint")
#   BENCH_ROUNDS   rounds              (default 5)
#   BENCH_COUNT    connections a load  (default 5000)
#   BENCH_SETTLE   seconds the tracer runs on after a load (default 1.5)
#   BENCH_OUT      the JSON            (default .output/bench/vm-DATE.json)
# Prints a table; the JSON has the medians and every load's raw numbers.
set -uo pipefail
cd "$(dirname "$0")/.."

plan=${BENCH_VM_PLAN:-6.1:fentry,kprobe,tracepoint 6.12:fentry,kprobe,tracepoint}
rounds=${BENCH_ROUNDS:-5}
count=${BENCH_COUNT:-5000}
settle=${BENCH_SETTLE:-1.5}
out=${BENCH_OUT:-.output/bench/vm-$(date +%Y-%m-%d).json}

die() { echo "bench-vm: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "needs root (qemu, the kernels' cache)"
command -v jq >/dev/null || die "needs jq"
[[ $rounds =~ ^[1-9][0-9]*$ && $count =~ ^[1-9][0-9]*$ && $settle =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
	die "BENCH_ROUNDS and BENCH_COUNT must be positive integers, BENCH_SETTLE seconds"

rc=0
VMTEST_PLAN=$plan VMTEST_BENCH="$rounds,$count,$settle" tests/vm/vmtest.sh || rc=$?

# Every load's line, from each guest's console, with its kernel's release.
runs=$(mktemp /tmp/plbench-vm.XXXXXX)
trap 'rm -f "$runs"' EXIT
# (one console log per kernel x mode: .output/vm/SERIES-MODE.log)
for w in $plan; do
	for log in .output/vm/"${w%%:*}"-*.log; do
		[[ -r $log ]] || continue
		rel=$(sed -n 's/^PORTLIFE-VM-INIT \([^ ]*\) .*/\1/p' "$log" | head -n 1)
		sed -n 's/^PORTLIFE-VM-BENCH {/{/p' "$log" |
			jq -c --arg k "$rel" '. + {kernel: $k}' >>"$runs" ||
			echo "bench-vm: unreadable result lines in $log" >&2
	done
done
[[ -s $runs ]] || die "no results (see .output/vm/*.log)"

mkdir -p "$(dirname "$out")"
jq -s -L bench --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson rounds "$rounds" \
	--argjson count "$count" --arg host "$(uname -r)" '
	include "lib";
	{date: $date, host_kernel: $host, accel: "tcg", vcpus: 1, rounds: $rounds,
	 conns_per_load: $count, load: "loadgen tcp4, client closes first, 16 ports",
	 note: "TCG: the ratios are indicative; ns/run and runs/conn less distorted",
	 results: (group_by([.kernel, .mode]) | map(
		. as $all | map(select(.round > 0)) as $m |
		($m | map(select(.config == "none"))) as $none |
		($m | map(select(.config == "pl_s"))) as $pl |
		($all | map(select(.round == 0)) | first) as $st |
		($none | map(.load.conns_per_s) | median) as $base |
		($none | map(.load.cpu_us_per_conn) | median) as $cbase |
		{kernel: .[0].kernel, mode: .[0].mode,
		 none_per_s: $base, pl_s_per_s: ($pl | map(.load.conns_per_s) | median),
		 ratio: (if $base and ($pl | length) > 0
			 then ($pl | map(.load.conns_per_s) | median) / $base else null end),
		 none_cpu_us_per_conn: $cbase,
		 pl_s_cpu_us_per_conn: ($pl | map(.load.cpu_us_per_conn) | median),
		 cpu_ratio: (if $cbase and ($pl | length) > 0
			     then $cbase / ($pl | map(.load.cpu_us_per_conn) | median) else null end),
		 progs: (if $st then $st.bpf1[0] else null end),
		 bpf_ns_per_run: (if $st and $st.bpf1[2] > $st.bpf0[2]
			then ($st.bpf1[1] - $st.bpf0[1]) / ($st.bpf1[2] - $st.bpf0[2]) else null end),
		 bpf_runs_per_conn: (if $st then ($st.bpf1[2] - $st.bpf0[2]) / $st.load.conns
			else null end),
		 bpf_by_prog: (if $st then $st.progs1 // [] | map(. as $x |
			(($st.progs0 // []) | map(select(.id == $x.id)) | first) as $y |
			{prog: $x.name, runs: ($x.run_cnt - ($y.run_cnt // 0)),
			 ns: ($x.run_time_ns - ($y.run_time_ns // 0))} | select(.runs > 0) |
			{prog, ns_per_conn: (.ns / $st.load.conns), runs_per_conn: (.runs / $st.load.conns),
			 ns_per_run: (.ns / .runs)}) | sort_by(-.ns_per_conn) else null end),
		 rounds_measured: ([$none, $pl] | map(length) | min)})),
	 runs: .}' "$runs" >"$out" || die "cannot write $out"

echo "bench-vm: TCG, 1 vCPU: ratios indicative; $rounds rounds of $count connections" >&2
jq -r -L bench 'include "lib";
	"kernel mode none/s pl_s/s ratio cpu_ratio ns/run runs/conn progs",
	(.results[] | [.kernel, .mode, (.none_per_s | f(0)), (.pl_s_per_s | f(0)), (.ratio | f(2)),
		(.cpu_ratio | f(2)), (.bpf_ns_per_run | f(0)), (.bpf_runs_per_conn | f(2)),
		(.progs | f(0))] | join(" "))' "$out" | column -t
jq -r -L bench 'include "lib";
	[.results[] | .kernel as $k | .mode as $m | (.bpf_by_prog // [])[] |
	 [$k, $m, .prog, (.ns_per_conn | f(0)), (.runs_per_conn | f(2)), (.ns_per_run | f(0))] |
	 join(" ")] |
	if length > 0 then "kernel mode program ns/conn runs/conn ns/run", .[] else empty end' "$out" |
	column -t
echo "bench-vm: results in $out" >&2
exit "$rc"
