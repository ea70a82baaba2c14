#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The portlife benchmark: one run measures every configuration, alternating
# A B C ... for BENCH_ROUNDS rounds, so the host's drift hits them all alike;
# it reports medians. Each load runs in a fresh network namespace (lo up,
# ip_local_port_range 1024-65535, loadgen's listener ports reserved,
# tcp_tw_reuse 0) so TIME_WAIT never carries over between runs, none is
# recycled, and the host's sysctls are left alone.
#
# Per configuration: connections/s (median) and its ratio to no tracer; the
# load's own CPU µs per connection (median; the BPF programs run in its
# context) and its ratio to no tracer, which a noisy neighbour moves far less
# than the wall-clock rate, both as the ratio of the medians and as the median
# of each round's ratio (no tracer against the configuration, one round: a
# pair minutes apart at most, so a host that drifts between rounds moves
# both); the tracer's CPU seconds per 100k connections (on-CPU time of all its threads, from just before the load to just before
# the stop); events lost, both as the tracer reports them and counted against
# what loadgen says the workload must produce; BPF ns per program run
# (kernel.bpf_stats_enabled, run_time_ns / run_cnt of the tracer's own
# programs, read by bench/bpfstats) and the kernel's recursion_misses, and
# the same program by program (bpf_by_prog: ns and runs per connection or
# message, printed for portlife -s after the table, so a change shows which
# program it moved cost to); peak RSS (VmHWM). The BPF statistics cost two
# clock reads per program run, so the measured rounds run without them and
# one more round per load and tracer (round 0, after the others) takes them
# alone: the ratios are not taxed by the measuring.
#
# Needs root. Run it under the host's BPF lock (make bench does):
#     flock /tmp/portlife-live.lock bench/run.sh
# Environment:
#     BENCH_ROUNDS=5      rounds
#     BENCH_COUNT=50000   connections per load
#     BENCH_ARGS=         extra loadgen options for the connect storm (-6, -u, -S, -t 2, -k 16)
#     BENCH_LOADS="conn tcpmsg udpmsg"
#                         the loads: the connect storm, and traffic that
#                         allocates no port (BENCH_MSGS 64-byte messages on one
#                         TCP connection, on one connected UDP socket), whose
#                         cost is what portlife takes from the rest of the host
#     BENCH_MSGS=1000000  messages per message load
#     BENCH_MODE=tracepoint  portlife's --mode
#     BENCH_CONFIGS=...   subset, in order (default: all that are installed)
#     BENCH_BASELINE=PATH another portlife binary (an older build) measured
#                         side by side: configurations base_s, base_lines,
#                         base_json, base_record (default with it: base_s
#                         after pl_s), so that a change is judged by pairs
#                         of one run, not by two runs on a shared host
#     BENCH_SETTLE=1.5    seconds the tracer runs after the load, to drain
#                         (and, in tracepoint mode, take a TIME_WAIT snapshot)
#     BENCH_SMOKE=1       1 round, 2000 connections, none and pl_s only
#     BENCH_OUT=FILE      the JSON results (default .output/bench/results-DATE.json)
set -u
cd "$(dirname "$0")/.."

PORTLIFE=${PORTLIFE:-.output/portlife}
LOADGEN=${LOADGEN:-.output/loadgen}
BPFSTATS=${BPFSTATS:-.output/bpfstats}
ROUNDS=${BENCH_ROUNDS:-5}
COUNT=${BENCH_COUNT:-50000}
SETTLE=${BENCH_SETTLE:-1.5}
MSGS=${BENCH_MSGS:-1000000}
MODE=${BENCH_MODE:-tracepoint}
LOADS=${BENCH_LOADS:-conn tcpmsg udpmsg}
BASELINE=${BENCH_BASELINE:-}
# pl_nosys: portlife -s --no-syscall-hooks, the tracepoint mode without the
# syscall exit tracepoints that slow every system call of the host
ALL="none pl_s pl_nosys pl_lines pl_json pl_record tcplife tcpstates bpftrace"
if [ "${BENCH_SMOKE:-}" = "1" ]; then
	ROUNDS=1
	COUNT=${BENCH_COUNT:-2000}
	MSGS=${BENCH_MSGS:-20000}
	ALL="none pl_s"
fi
# the baseline's summary-only run next to portlife's
[ -n "$BASELINE" ] && ALL=${ALL/pl_s/pl_s base_s}
CONFIGS=${BENCH_CONFIGS:-$ALL}
OUT=${BENCH_OUT:-.output/bench/results-$(date +%Y-%m-%d).json}
# shellcheck disable=SC2206
LGARGS=(${BENCH_ARGS:-})

# State changes per connection that the peers print (one line each), and
# sessions per connection for tcplife: both ends of every connection.
# Either close order gives 10 per TCP connection; UDP is not counted for them.
# client-first TCP: client CLOSE>SYN_SENT>ESTABLISHED>FIN_WAIT1>FIN_WAIT2>CLOSE,
# server (child) SYN_RECV>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSE, +1 for the clone;
# and each listener's CLOSE>LISTEN.
PEER_LINES_TCPLIFE=2
PEER_LINES_STATES=10

BT_PROG='BEGIN { printf("READY\n"); }
tracepoint:sock:inet_sock_set_state {
	printf("%d %s %d %d %d %d\n", pid, comm, args->oldstate, args->newstate,
	       args->sport, args->dport);
}'

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (BPF, network namespaces)"
[ -x "$PORTLIFE" ] && [ -x "$LOADGEN" ] && [ -x "$BPFSTATS" ] ||
	die "build first: make $PORTLIFE $LOADGEN $BPFSTATS"
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || die "BENCH_BASELINE=$BASELINE: not an executable"
command -v jq >/dev/null || die "needs jq"

have() {
	case $1 in
	tcplife | tcpstates) command -v "$1" >/dev/null ;;
	bpftrace) command -v bpftrace >/dev/null ;;
	base_*) [ -n "$BASELINE" ] ;;
	*) return 0 ;;
	esac
}
run_configs=()
for c in $CONFIGS; do
	if have "$c"; then run_configs+=("$c"); else echo "bench: $c not installed: skipped" >&2; fi
done

TMP=$(mktemp -d /tmp/plbench.XXXXXX)
NS=""
TPID=""
LGPID=""
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	[ -n "$TPID" ] && kill -INT "$TPID" 2>/dev/null && wait "$TPID" 2>/dev/null
	[ -n "$LGPID" ] && kill -TERM "$LGPID" 2>/dev/null && wait "$LGPID" 2>/dev/null
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sysctl -qw kernel.bpf_stats_enabled=1 || die "cannot enable kernel.bpf_stats_enabled"
sysctl -qw kernel.bpf_stats_enabled=0	# until the statistics round

# CPU seconds the tracer has used, all threads: the sum of their
# sum_exec_runtime (/proc/PID/task/*/schedstat, ns), which is utime+stime
# without /proc/PID/stat's clock-tick rounding (10 ms, too coarse here)
cpu_s() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.4f", s / 1e9 }'
}
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# "programs run_time_ns run_cnt recursion_misses" summed over the programs
# PID holds (bench/bpfstats; recursion_misses -1 where the kernel keeps none)
bpf_stats() {
	"$BPFSTATS" "$1" 2>/dev/null || echo "0 0 0 0"
}
# the same per program, as a JSON array (statistics round only)
prog_stats() {
	"$BPFSTATS" -p "$1" 2>/dev/null || echo "[]"
}

# Waits for the tracer to be attached. portlife says so on stderr; for the
# others: their programs are loaded and the count has stopped growing.
wait_ready() {
	local cfg=$1 i n last=-1 stable=0
	for ((i = 0; i < 300; i++)); do
		kill -0 "$TPID" 2>/dev/null || return 1
		case $cfg in
		pl_* | base_*) grep -q "Tracing port leases" "$TMP/err" && return 0 ;;
		*)
			read -r n _ <<<"$(bpf_stats "$TPID")"
			if [ "$n" -gt 0 ] && [ "$n" -eq "$last" ]; then
				stable=$((stable + 1))
				[ "$stable" -ge 5 ] && return 0
			else
				stable=0
			fi
			last=$n
			;;
		esac
		sleep 0.1
	done
	return 1
}

# The portlife binary of a configuration: base_* are BENCH_BASELINE's.
pl_bin() {
	case $1 in
	base_*) echo "$BASELINE" ;;
	*) echo "$PORTLIFE" ;;
	esac
}

start_tracer() {
	local cfg=$1 pl
	pl=$(pl_bin "$cfg")
	# exec: $! must be the tracer itself, for its CPU, RSS, programs and signal
	(
		case $cfg in
		pl_s | base_s) exec "$pl" --mode "$MODE" -s ;;
		pl_nosys) exec "$pl" --mode "$MODE" -s --no-syscall-hooks ;;
		pl_lines | base_lines) exec "$pl" --mode "$MODE" ;;
		pl_json | base_json) exec "$pl" --mode "$MODE" --json ;;
		pl_record | base_record) exec "$pl" record --mode "$MODE" -s -o "$TMP/rec.trace" ;;
		tcplife) exec tcplife ;;
		tcpstates) exec tcpstates ;;
		bpftrace) exec bpftrace -e "$BT_PROG" ;;
		esac
	) >"$TMP/out" 2>"$TMP/err" &
	TPID=$!
}

# Prints "alloc tw_enter release lines drops" as the tracer saw them for
# loadgen's pid; drops is the tracer's own loss count, -1 if it has none.
count_seen() {
	local cfg=$1 pid=$2 pl
	pl=$(pl_bin "$cfg")
	case $cfg in
	pl_s | base_s | pl_nosys)
		awk -v p="$pid" '
			$1 == "PID" && $2 == p { on = 1; next }
			on && /allocations/ { a = $2; t = $6; r = $8; on = 0 }
			/^lost:/ { d = $2 + $6 }
			END { printf "%d %d %d 0 %d\n", a, t, r, d }' "$TMP/out" ;;
	pl_lines | base_lines)
		awk -v p="$pid" '
			$2 == p && $4 == "alloc" { a++ } $2 == p && $4 == "tw_enter" { t++ }
			$2 == p && $4 == "release" { r++ } $2 == p { n++ }
			/^lost:/ { d = $2 + $6 }
			END { printf "%d %d %d %d %d\n", a, t, r, n, d }' "$TMP/out" ;;
	pl_json | pl_record | base_json | base_record)
		local f=$TMP/out
		if [ "${cfg#*_}" = record ]; then
			"$pl" report "$TMP/rec.trace" --format jsonl >"$TMP/jsonl" 2>/dev/null
			"$pl" report "$TMP/rec.trace" --json >>"$TMP/jsonl" 2>/dev/null
			f=$TMP/jsonl
		fi
		jq -rn --argjson p "$pid" '
			[inputs] as $all |
			[$all[] | select(.pid == $p and (.event | IN("alloc","state","tw_enter","tw_exit","release")))] as $ev |
			($all | map(select(.event == "totals")) | last) as $t |
			"\($ev | map(select(.event == "alloc")) | length) \($ev | map(select(.event == "tw_enter")) | length) \($ev | map(select(.event == "release")) | length) \($ev | length) \(if $t then ($t.drops | add) + $t.recursion_misses else -1 end)"' "$f" ;;
	tcplife | tcpstates | bpftrace)
		local n
		n=$(grep -c -w loadgen "$TMP/out")
		echo "0 0 0 $n -1" ;;
	*) echo "0 0 0 0 -1" ;;
	esac
}

# loadgen's listener ports, BASE-(BASE+PORTS-1), from its options (-b, -k).
listener_ports() {
	local base=20000 k=16 i
	for ((i = 0; i < ${#LGARGS[@]}; i++)); do
		case ${LGARGS[i]} in
		-b) base=${LGARGS[i + 1]} ;;
		-k) k=${LGARGS[i + 1]} ;;
		esac
	done
	echo "$base-$((base + k - 1))"
}

# SIGINT, as Ctrl-C would; SIGTERM if it has not exited within 10 s
stop_tracer() {
	local i
	kill -INT "$TPID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$TPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$TPID" 2>/dev/null && { echo "bench: $TPID ignored SIGINT" >&2; kill -TERM "$TPID"; }
	wait "$TPID"
}

run_one() {
	local cfg=$1 round=$2 load=$3 lg ready=1 c0=0 c1=0 hwm=0 b0 b1 nprog rt0 rc0 rm0 rt1 rc1 rm1
	local p0='[]' p1='[]'
	local -a args
	case $load in
	conn) args=(-n "$COUNT" "${LGARGS[@]}") ;;
	tcpmsg) args=(-m -n "$MSGS") ;;
	udpmsg) args=(-m -u -n "$MSGS") ;;
	esac
	NS=plbench$$r$round$cfg
	ip netns add "$NS" || die "cannot create netns $NS"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
	# No TIME_WAIT recycling: loopback's default (tcp_tw_reuse=2) let the
	# kernel take over a few hundred of a storm's 50k timewait sockets on a
	# slow host (TcpExtTWRecycled), which the expected counts do not allow for
	ip netns exec "$NS" sysctl -qw net.ipv4.tcp_tw_reuse=0
	# The wide range takes in loadgen's listener ports: reserved, as a real
	# service's would have to be (connect() never picks them; no
	# listen_ephemeral alert)
	ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_reserved_ports="$(listener_ports)"
	: >"$TMP/out" >"$TMP/err" >"$TMP/lg"
	rm -f "$TMP/rec.trace"
	if [ "$cfg" != none ]; then
		start_tracer "$cfg"
		if ! wait_ready "$cfg"; then
			echo "bench: $cfg did not start: $(head -c 300 "$TMP/err")" >&2
			ready=0
		fi
		c0=$(cpu_s "$TPID")
		b0=$(bpf_stats "$TPID")
		[ "$round" = 0 ] && p0=$(prog_stats "$TPID")
	fi
	ip netns exec "$NS" "$LOADGEN" -W "${args[@]}" >"$TMP/lg" &
	LGPID=$!
	while ! grep -q '"pid"' "$TMP/lg" && kill -0 "$LGPID" 2>/dev/null; do sleep 0.05; done
	lg=$(head -n 1 "$TMP/lg")
	[ -n "$lg" ] || die "loadgen failed in $cfg round $round"
	if [ "$cfg" != none ] && [ "$ready" = 1 ]; then
		sleep "$SETTLE"
		c1=$(cpu_s "$TPID")
		hwm=$(hwm_kib "$TPID")
		b1=$(bpf_stats "$TPID")
		[ "$round" = 0 ] && p1=$(prog_stats "$TPID")
		stop_tracer
	else
		b0="0 0 0 0"
		b1=$b0
	fi
	TPID=""
	read -r nprog rt0 rc0 rm0 <<<"$b0"
	read -r nprog rt1 rc1 rm1 <<<"$b1"
	local pid seen
	pid=$(jq -r .pid <<<"$lg")
	seen=$(count_seen "$cfg" "$pid")
	kill -TERM "$LGPID"
	wait "$LGPID"
	LGPID=""
	ip netns del "$NS"
	NS=""
	jq -c -n --argjson lg "$lg" --arg cfg "$cfg" --argjson round "$round" --arg load "$load" \
		--argjson ready "$ready" --argjson c0 "$c0" --argjson c1 "$c1" \
		--argjson hwm "${hwm:-0}" --argjson nprog "${nprog:-0}" \
		--argjson rt "$((rt1 - rt0))" --argjson rc "$((rc1 - rc0))" \
		--argjson rm "$(if [ "$rm1" = -1 ]; then echo null; else echo $((rm1 - rm0)); fi)" \
		--arg seen "$seen" --argjson pl "$PEER_LINES_TCPLIFE" --argjson ps "$PEER_LINES_STATES" \
		--argjson p0 "$p0" --argjson p1 "$p1" '
		($seen | split(" ") | map(tonumber)) as $s |
		{config: $cfg, round: $round, ready: ($ready == 1), kind: $load, load: $lg,
		 conns_per_s: ($lg.conns_per_s // $lg.msgs_per_s), tracer_cpu_s: ($c1 - $c0),
		 rss_kib: $hwm,
		 bpf: {progs: $nprog, run_time_ns: $rt, run_cnt: $rc, recursion_misses: $rm},
		 bpf_progs: ($p1 | map(. as $x | ($p0 | map(select(.id == $x.id)) | first) as $y |
			{name: $x.name, run_time_ns: ($x.run_time_ns - ($y.run_time_ns // 0)),
			 run_cnt: ($x.run_cnt - ($y.run_cnt // 0))}) | map(select(.run_cnt > 0))),
		 seen: {alloc: $s[0], tw_enter: $s[1], release: $s[2], lines: $s[3]},
		 tracer_drops: (if $s[4] < 0 then null else $s[4] end),
		 expected_lines: (if $lg.proto != "tcp" or $load != "conn" then null
				  elif $cfg == "tcplife" then $lg.conns * $pl
				  elif ($cfg == "tcpstates" or $cfg == "bpftrace") then $lg.conns * $ps + $lg.ports
				  else null end)}'
}

mkdir -p "$(dirname "$OUT")"
RUNS=$TMP/runs.jsonl
: >"$RUNS"
echo "bench: ${#run_configs[@]} configurations x $ROUNDS rounds, loads $LOADS;" \
	"$COUNT connections (loadgen ${LGARGS[*]:-tcp4, client closes first}), $MSGS messages;" \
	"portlife --mode $MODE" >&2
for ((r = 1; r <= ROUNDS; r++)); do
	for l in $LOADS; do
		for c in "${run_configs[@]}"; do
			line=$(run_one "$c" "$r" "$l") || exit 1
			echo "$line" >>"$RUNS"
			jq -r '"  round \(.round) \(.kind) \(.config): \(.conns_per_s | floor)/s, tracer cpu \(.tracer_cpu_s)s"' <<<"$line" >&2
		done
	done
done
# Round 0: the BPF statistics, for bpf_ns/run and runs/unit only.
sysctl -qw kernel.bpf_stats_enabled=1 || die "cannot enable kernel.bpf_stats_enabled"
for l in $LOADS; do
	for c in "${run_configs[@]}"; do
		[ "$c" = none ] && continue
		line=$(run_one "$c" 0 "$l") || exit 1
		echo "$line" >>"$RUNS"
		jq -r '"  statistics round \(.kind) \(.config): \(.bpf.run_cnt) runs, \(.bpf.run_time_ns) ns"' <<<"$line" >&2
	done
done

# Medians per load and configuration; losses are the worst round's. For the
# message loads the unit is a message: rates and CPU per message.
jq -s -L bench --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" \
	--argjson cpus "$(nproc)" --argjson rounds "$ROUNDS" --argjson count "$COUNT" \
	--argjson msgs "$MSGS" --arg mode "$MODE" --arg args "${LGARGS[*]:-}" '
	include "lib";
	def per_unit: (.load.cpu_us_per_conn // .load.cpu_us_per_msg);
	def units: (.load.conns // .load.msgs);
	{date: $date, kernel: $kernel, cpus: $cpus, rounds: $rounds, conns_per_run: $count,
	 msgs_per_run: $msgs, loadgen_args: $args, mode: $mode,
	 results: (group_by(.kind) | map(
		(map(select(.round == 0))) as $stats |
		map(select(.round > 0)) |
		. as $all | .[0].kind as $kind |
		(map(select(.config == "none") | .conns_per_s) | median) as $base |
		(map(select(.config == "none") | per_unit) | median) as $cbase |
		(map(select(.config == "none") | {key: (.round | tostring), value: per_unit}) |
		 from_entries) as $cnone |
		group_by(.config) | map(
		. as $runs | .[0].config as $c | ($runs[0].load.expected) as $exp |
		($stats | map(select(.config == $c))) as $st |
		{load: $kind, config: $c,
		 per_s: (map(.conns_per_s) | median),
		 ratio: (if $base then ((map(.conns_per_s) | median) / $base) else null end),
		 load_cpu_us_per_unit: (map(per_unit) | median),
		 cpu_ratio: (if $cbase then ($cbase / (map(per_unit) | median)) else null end),
		 cpu_ratio_paired: (map($cnone[.round | tostring] as $n |
			select($n != null and per_unit > 0) | $n / per_unit) | median),
		 tracer_cpu_s_per_100k: (if $c == "none" then null
			else map(.tracer_cpu_s / units * 100000) | median end),
		 bpf_ns_per_run: (if $c == "none" then null
			else $st | map(select(.bpf.run_cnt > 0) | .bpf.run_time_ns / .bpf.run_cnt) | median end),
		 bpf_runs_per_unit: (if $c == "none" then null
			else $st | map(.bpf.run_cnt / units) | median end),
		 bpf_by_prog: (if $c == "none" or ($st | length) == 0 then null
			else $st[0] | units as $u | .bpf_progs // [] | map({prog: .name,
				ns_per_unit: (.run_time_ns / $u), runs_per_unit: (.run_cnt / $u),
				ns_per_run: (.run_time_ns / .run_cnt)}) | sort_by(-.ns_per_unit) end),
		 recursion_misses: (($runs + $st) | map(.bpf.recursion_misses) | max),
		 tracer_drops: (if $c == "none" or ($runs[0].tracer_drops == null) then null
			else map(.tracer_drops) | max end),
		 expected: (if $kind != "conn" then null
			elif ($c | test("^(pl|base)_")) then $exp
			elif $runs[0].expected_lines then {lines: $runs[0].expected_lines} else null end),
		 missed: (if $kind != "conn" then null
			elif ($c | test("^(pl|base)_")) then
				(map(($exp.alloc - .seen.alloc) + ($exp.tw_enter - .seen.tw_enter) +
				     ($exp.release - .seen.release)) | max)
			elif $runs[0].expected_lines then
				(map(.expected_lines - .seen.lines) | max)
			else null end),
		 rss_kib: (if $c == "none" then null else map(.rss_kib) | max end),
		 not_ready: (map(select(.ready | not)) | length)})
		| sort_by(.config as $c | ["none","pl_s","pl_nosys","base_s","pl_lines","base_lines","pl_json",
			  "base_json","pl_record","base_record","tcplife","tcpstates","bpftrace"] | index($c)))
		| sort_by(.[0].load as $l | ["conn","tcpmsg","udpmsg"] | index($l)) | add),
	 runs: .}' "$RUNS" >"$OUT" || die "cannot write $OUT"

jq -r -L bench 'include "lib";
	"load config per_s ratio load_us/unit cpu_ratio paired cpu_s/100k bpf_ns/run runs/unit drops rec_miss missed/expected rss_MiB",
	(.results[] | [.load, .config, (.per_s | floor), (.ratio | f(2)),
		(.load_cpu_us_per_unit | f(2)), (.cpu_ratio | f(3)), (.cpu_ratio_paired | f(3)),
		(.tracer_cpu_s_per_100k | f(2)),
		(.bpf_ns_per_run | f(0)), (.bpf_runs_per_unit | f(2)), (.tracer_drops | f(0)),
		.recursion_misses, (if .missed == null then "-" else
			"\(.missed)/\(.expected | to_entries | map(.value) | add)" end),
		(if .rss_kib == null then "-" else (.rss_kib / 1024 | f(1)) end)] | join(" "))' "$OUT" |
	column -t
# Where the BPF time goes, program by program (the statistics round of
# portlife -s, and of the baseline's; the JSON has every program, the table
# those costing 0.5 ns a unit or more).
jq -r -L bench 'include "lib";
	[.results[] | select((.config == "pl_s" or .config == "base_s") and .bpf_by_prog != null) |
	 .load as $l | .config as $c |
	 .bpf_by_prog[] | select(.ns_per_unit >= 0.5) | [$l, $c, .prog, (.ns_per_unit | f(0)),
		(.runs_per_unit | f(2)), (.ns_per_run | f(0))] | join(" ")] |
	if length > 0 then "load config program bpf_ns/unit runs/unit ns/run", .[] else empty end' "$OUT" |
	column -t
echo "bench: results in $OUT" >&2
