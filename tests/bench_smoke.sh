#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Keeps the benchmark from rotting: one small round of bench/run.sh (no tracer,
# portlife -s, and the same binary as BENCH_BASELINE: base_s; BENCH_SMOKE=1),
# then checks its JSON. At 2000 connections
# portlife must see every event the load made. Needs root and a built
# .output/portlife and .output/loadgen; holds the host's BPF lock while it runs.
# Last line: "bench: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
check() {
	if [ "$2" = true ]; then
		echo "PASS bench: $1"
		pass=$((pass + 1))
	else
		echo "FAIL bench: $1"
		fail=$((fail + 1))
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP bench: needs root"
	echo "bench: 0 passed, 0 failed"
	exit 0
fi
out=$(mktemp /tmp/plbench-smoke.XXXXXX.json)
trap 'rm -f "$out"' EXIT
# PORTLIFE_LOCK_HELD: the caller holds the lock already (flock ... make test)
if [ -n "${PORTLIFE_LOCK_HELD:-}" ]; then
	lock=()
else
	lock=(flock "${PL_LOCK:-/tmp/portlife-live.lock}")
fi
if BENCH_SMOKE=1 BENCH_OUT=$out BENCH_BASELINE=${PORTLIFE:-.output/portlife} "${lock[@]}" bench/run.sh; then
	check "runner exits 0" true
else
	check "runner exits 0" false
fi
q() { jq -r "$1" "$out" 2>/dev/null || echo false; }
# r LOAD CONFIG: that result's object
r() { echo "(.results[] | select(.load == \"$1\" and .config == \"$2\"))"; }
check "JSON has every load x none, pl_s and base_s" \
	"$(q '[.results[] | "\(.load)/\(.config)"] == ["conn/none","conn/pl_s","conn/base_s","tcpmsg/none","tcpmsg/pl_s","tcpmsg/base_s","udpmsg/none","udpmsg/pl_s","udpmsg/base_s"]')"
check "paired CPU ratios (one per round, its median)" \
	"$(q '[.results[] | select(.config != "none") | .cpu_ratio_paired > 0] | all')"
check "the baseline measured as portlife is (same events seen)" \
	"$(q "$(r conn base_s) | .missed == 0 and .tracer_cpu_s_per_100k > 0")"
check "no-tracer rate > 0" "$(q "$(r conn none).per_s > 0")"
check "pl_s ratio > 0" "$(q "$(r conn pl_s).ratio > 0")"
check "pl_s attached" "$(q "[.results[].not_ready] | add == 0")"
check "pl_s tracer CPU measured" "$(q "$(r conn pl_s).tracer_cpu_s_per_100k > 0")"
check "pl_s BPF stats measured" "$(q "$(r conn pl_s) | .bpf_ns_per_run > 0 and .bpf_runs_per_unit > 0")"
check "pl_s BPF time by program adds up to the total (within 5%: the host's own traffic)" \
	"$(q "$(r conn pl_s) | (.bpf_by_prog | length) > 0 and ([.bpf_by_prog[].runs_per_unit] | add) as \$s | (\$s - .bpf_runs_per_unit | fabs) <= 0.05 * .bpf_runs_per_unit")"
check "pl_s peak RSS measured" "$(q "$(r conn pl_s).rss_kib > 0")"
check "portlife drops field present, 0" "$(q "$(r conn pl_s).tracer_drops == 0")"
check "no recursion misses" "$(q "[.results[].recursion_misses] | max == 0")"
check "expected events all seen (alloc, tw_enter, release)" \
	"$(q "$(r conn pl_s).missed == 0 and ([.runs[] | select(.kind == \"conn\" and .config == \"pl_s\")][0] | .seen.alloc == .load.expected.alloc and .seen.tw_enter == .load.expected.tw_enter)")"
check "message loads measured (CPU per message, both ways)" \
	"$(q "[.results[] | select(.load != \"conn\") | .load_cpu_us_per_unit > 0 and .cpu_ratio > 0] | all")"
echo "bench: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
