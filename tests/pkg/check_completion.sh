#!/usr/bin/env bash
# Exercises completion/portlife.bash the way bash calls it: COMP_WORDS and
# COMP_CWORD set, _portlife called, COMPREPLY compared. Also checks that every
# option it offers for a command is one that command's --help lists.
# One line per check, "PASS name" or "FAIL name: why"; exit 1 on a failure.
# Usage: check_completion.sh [COMPLETION] [BINARY]
set -u
cd "$(dirname "$0")/../.." || exit 1
comp=${1:-completion/portlife.bash}
bin=${2:-.output/portlife}
fail=0

# shellcheck source=/dev/null
source "$comp" || { echo "FAIL completion-source: cannot source $comp"; exit 1; }
# compopt only works inside a completion bash started; outside, a no-op.
# shellcheck disable=SC2317
compopt() { :; }

# complete WORD... : COMPREPLY for the cursor on the last WORD, sorted, one line.
complete_line() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_portlife portlife "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

# expect NAME WANT WORD...: COMPREPLY must be exactly WANT (sorted, spaces).
expect() {
	local name=$1 want=$2 got
	shift 2
	got=$(complete_line "$@")
	if [ "$got" = "$want" ]; then
		echo "PASS completion-$name"
	else
		echo "FAIL completion-$name: '$*' gave '$got', want '$want'"
		fail=1
	fi
}

# has NAME ITEM WORD...: COMPREPLY must contain ITEM.
has() {
	local name=$1 item=$2 got
	shift 2
	got=" $(complete_line "$@") "
	if [[ $got == *" $item "* ]]; then
		echo "PASS completion-$name"
	else
		echo "FAIL completion-$name: '$*' gave '${got:1:200}', no '$item'"
		fail=1
	fi
}

# hasnt NAME ITEM WORD...: COMPREPLY must not contain ITEM.
hasnt() {
	local name=$1 item=$2 got
	shift 2
	got=" $(complete_line "$@") "
	if [[ $got != *" $item "* ]]; then
		echo "PASS completion-$name"
	else
		echo "FAIL completion-$name: '$*' offered '$item'"
		fail=1
	fi
}

expect subcommands "ports record report top who" portlife ""
expect subcommand-prefix "record report" portlife re
expect mode "auto fentry kprobe tracepoint" portlife --mode ""
expect mode-prefix "fentry" portlife --mode f
expect mode-eq-split "kprobe" portlife --mode = k
expect mode-eq-word "--mode=tracepoint" portlife --mode=t
expect format "chrome csv jsonl text" portlife report x.trace --format ""
expect sort "held hold" portlife top --sort h
expect long-prefix "--metrics-addr --metrics-by --metrics-file --metrics-top" portlife --metr
expect top-no-json "" portlife top --js
has record-output "--output" portlife record --out
hasnt live-no-output "--output" portlife --ou
hasnt top-no-interval "--interval" portlife top --int
expect report-opts "--salvage" portlife report --sal
expect ports-headroom "--headroom" portlife ports --hea
expect state "TIME_WAIT" portlife ports --state TIME_
expect alert-rules "scan_in: scan_in=off" portlife --alert scan_i
has alert-off "listen_ephemeral=off" portlife record --alert ""
has report-no-alerts "--no-alerts" portlife report --no

tmp=$(mktemp -d)
touch "$tmp/a.trace" "$tmp/b.prom"
expect output-file "$tmp/a.trace" portlife record -o "$tmp/a."
expect metrics-file "$tmp/b.prom" portlife --metrics-file "$tmp/b"
expect report-file "$tmp/a.trace" portlife report "$tmp/a"
# report takes a fleet's traces: the second file is completed like the first
expect report-second-arg "$tmp/a.trace" portlife report "$tmp/a.trace" "$tmp/a"
expect report-pod-value "" portlife report "$tmp/a.trace" --pod ""
expect report-alert-then-file "$tmp/a.trace" portlife report --alert scan_out=off "$tmp/a"
rm -rf "$tmp"
has pid "$$" portlife -p ""
has pid-long "$$" portlife ports --pid ""
expect duration-free "" portlife -d ""

# Every option offered is one that command's --help lists.
for sub in "" top ports who record report; do
	name=${sub:-live}
	if [ ! -x "$bin" ]; then
		echo "FAIL completion-opts-$name: no binary $bin"
		fail=1
		continue
	fi
	# shellcheck disable=SC2086
	help=$("$bin" $sub --help)
	if [ -z "$sub" ]; then
		offered=$(complete_line portlife -)
	else
		offered=$(complete_line portlife "$sub" -)
	fi
	missing=""
	for o in $offered; do
		grep -qE -- "(^|[ ,])$o([=, ]|$)" <<<"$help" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then
		echo "PASS completion-opts-$name"
	else
		echo "FAIL completion-opts-$name: offered but not in --help:$missing"
		fail=1
	fi
done
exit $fail
