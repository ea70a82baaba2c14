#!/usr/bin/env bash
# Cost of TIME_WAIT snapshots in tracepoint mode: for each count N, a fresh
# network namespace gets N TIME_WAIT sockets that portlife saw being made;
# portlife then snapshots for a few seconds and its JSON totals say how long
# a round took and how far the interval was stretched.
#
# usage: bench/twsnap.sh [PORTLIFE] [COUNTS...]   (root; default 1000 10000 28000)
#        TW_INTERVAL=0.1 bench/twsnap.sh ...       (--tw-interval; default 1)
#        TW_UNTRACED=M bench/twsnap.sh ...         (M TIME_WAIT sockets made before
#                                                   portlife starts: in the namespace,
#                                                   not traced; default 0)
# Prints a table; writes .output/bench/twsnap.json. Loads BPF: run it alone
# (make bench-twsnap takes /tmp/portlife-live.lock).
set -euo pipefail
cd "$(dirname "$0")/.."
portlife=${1:-.output/portlife}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(1000 10000 28000)
mktw=.output/mktw
out=.output/bench
mkdir -p "$out"
[ "$(id -u)" = 0 ] || { echo "twsnap.sh: needs root (BPF, network namespaces)" >&2; exit 1; }
command -v jq >/dev/null || { echo "twsnap.sh: needs jq (make deps)" >&2; exit 1; }

one() {
	local n=$1 log
	log=$(mktemp -d)
	# everything inside one namespace: the range wide enough for 28k ports to
	# one destination, and room for every TIME_WAIT socket
	unshare -n bash -c '
		set -e
		ip link set lo up
		sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
		sysctl -qw net.ipv4.tcp_max_tw_buckets=262144
		# sockets a round may have to walk past, not traced
		[ "$6" -eq 0 ] || "$2" "$6" >/dev/null
		"$1" -s --json -d 9 --tw-interval "$5" >"$4/pl.json" 2>"$4/pl.err" &
		pl=$!
		for _ in $(seq 100); do
			grep -q "Tracing port leases" "$4/pl.err" 2>/dev/null && break
			sleep 0.1
		done
		"$2" "$3" 12 >"$4/mktw.json" &
		wait $pl
		kill %2 2>/dev/null || true
	' twsnap "$portlife" "$mktw" "$n" "$log" "${TW_INTERVAL:-1}" "${TW_UNTRACED:-0}"
	jq -c --argjson n "$n" --argjson u "${TW_UNTRACED:-0}" --slurpfile mk "$log/mktw.json" \
		'select(.event == "totals") | {time_wait: $n, untraced: $u, made_in_s: $mk[0].seconds,
		 snapshots, mean_ms: (.snapshot_mean_ns / 1e6), max_ms: (.snapshot_max_ns / 1e6),
		 interval_s: .snapshot_interval_s, by_lookup: .snapshot_lookups,
		 listed: .snapshot_listings, tw_unseen, lost: (.recursion_misses +
		 ([.drops[]] | add))}' "$log/pl.json"
	rm -rf "$log"
}

results=()
for n in "${counts[@]}"; do
	results+=("$(one "$n")")
done
printf '%s\n' "${results[@]}" | jq -s --arg date "$(date -u +%FT%TZ)" \
	--arg kernel "$(uname -r)" --arg iv "${TW_INTERVAL:-1}" \
	'{date: $date, kernel: $kernel, tw_interval: ($iv | tonumber), runs: .}' >"$out/twsnap.json"
printf '%-10s %10s %10s %10s %10s %12s %10s\n' "TIME_WAIT" "untraced" "snapshots" "mean ms" \
	"max ms" "interval s" "by lookup"
printf '%s\n' "${results[@]}" | jq -r '[.time_wait, .untraced, .snapshots, .mean_ms, .max_ms,
	.interval_s, (.by_lookup // "-")] | @tsv' | while IFS=$'\t' read -r n u s mean max iv bl; do
	printf '%-10s %10s %10s %10.2f %10.2f %12.2f %10s\n' "$n" "$u" "$s" "$mean" "$max" "$iv" "$bl"
done
echo "(written to $out/twsnap.json)"
