#!/usr/bin/env bash
# Hostile input to `portlife report` and to the command line (issue 14): no
# root needed but for one cgroup made and removed again, no BPF.
#   tests/hostile/report.sh [PORTLIFE [MKCRAFTED]]
# One line per check, "PASS name" or "FAIL name: why"; the last line is
# "hostile: N passed, N failed". Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
pl=${1:-.output/portlife}
mk=${2:-.output/mkcrafted}
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
cg=
cleanup() {
	[ -n "$cg" ] && rmdir "$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# secs NAME LIMIT CMD...: runs CMD (stdout to $tmp/out), PASS if it exits 0 within LIMIT s
within() {
	local name=$1 limit=$2 t0 t1 rc
	shift 2
	t0=$(date +%s%N)
	timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	t1=$(date +%s%N)
	local ms=$(((t1 - t0) / 1000000))
	if [ "$rc" -ne 0 ]; then
		ko "$name" "exit $rc: $(head -c 300 "$tmp/err")"
	elif [ "$ms" -gt $((limit * 1000)) ]; then
		ko "$name" "took ${ms} ms, more than ${limit} s"
	else
		ok "$name (${ms} ms)"
	fi
}

# Crafted, checksum-valid traces: work per event stays bounded (each took
# 7 s to 80 s before, one chain or one bitmap clear per record).
for shape in lease-jump same-cookie many-comms; do
	"$mk" "$shape" "$tmp/$shape.trace" >/dev/null || ko "$shape" "mkcrafted failed"
	within "report-$shape" 2 "$pl" report "$tmp/$shape.trace"
	within "report-$shape-jsonl" 3 "$pl" report "$tmp/$shape.trace" --format jsonl
done
# 65536 names of one pid: its rows stop at 8, the rest counted
"$pl" report "$tmp/many-comms.trace" --json >"$tmp/out" 2>/dev/null
rows=$(grep -c '"event":"summary"' "$tmp/out")
renamed=$(sed -n 's/.*"renamed_events":\([0-9]*\).*/\1/p' "$tmp/out" | awk '{ s += $1 } END { print s + 0 }')
if [ "$rows" -eq 8 ] && [ "${renamed:-0}" -eq $((65536 - 8)) ]; then
	ok "many-comms-folded ($rows rows, $renamed renamed)"
else
	ko many-comms-folded "$rows summary rows, ${renamed:-no} renamed_events"
fi

"$mk" many-pids "$tmp/many-pids.trace" >/dev/null || ko many-pids "mkcrafted failed"
# The process table's memory is bounded: 100000 processes peak well under
# what 65536 rows of 3.2 KB took (219 MB; 61 MB with 16384)
rss=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$pl" report "$tmp/many-pids.trace" --json)
if [ -n "$rss" ] && [ "$rss" -gt 0 ] && [ "$rss" -lt 120000 ]; then
	ok "many-pids-memory (peak RSS $rss KiB, under 120000)"
else
	ko many-pids-memory "peak RSS '${rss:-?}' KiB reading 100000 processes, want under 120000"
fi

# 100000 processes, past the table's 16384 rows: the idle ones fold per name
# and cgroup, the last process keeps a row of its own (not [other]), and no
# allocation is lost
within report-many-pids 5 "$pl" report "$tmp/many-pids.trace" --json
got=$(jq -rs '[.[] | select(.event == "summary")] as $s | [($s | map(.allocs) | add),
	($s | map(select(.comm == "[other]")) | length),
	($s | map(select(.pid == 101000 and .failures == 1 and .folded_processes == 0)) | length),
	($s | map(select(.pid == 0 and .folded_processes > 0)) | length),
	(.[] | select(.event == "totals") | .processes_folded),
	(.[] | select(.event == "totals") | .processes_overflowed)] | map(tostring) | join(" ")' \
	"$tmp/out" 2>/dev/null)
set -- $got
if [ "$#" -eq 6 ] && [ "$1" -eq 100000 ] && [ "$2" -eq 0 ] && [ "$3" -eq 1 ] &&
   [ "$4" -ge 1 ] && [ "$4" -le 8 ] && [ "$5" -gt 0 ] && [ "$6" -eq 0 ]; then
	ok "many-pids-folded (allocs, [other] rows, last pid's row, folded rows, folded, overflowed: $got)"
else
	ko many-pids-folded "allocs, [other] rows, last pid's row, folded rows, folded, overflowed: '$got'"
fi

# Not a trace at all: refused at once, with little memory.
fallocate -l 1G "$tmp/sparse" 2>/dev/null || truncate -s 1G "$tmp/sparse"
for f in /dev/zero "$tmp/sparse"; do
	name="refused-$(basename "$f")"
	out=$( { /usr/bin/time -f '%e %M' timeout 10 "$pl" report "$f"; } 2>&1)
	rc=$?
	read -r secs kib <<<"$(tail -n 1 <<<"$out")"
	if [ "$rc" -ne 1 ]; then
		ko "$name" "exit $rc: $out"
	elif [ "${secs%.*}" -ge 1 ] || [ "$kib" -gt 16384 ]; then
		ko "$name" "$secs s, $kib KiB"
	else
		ok "$name ($secs s, $kib KiB: $(head -n 1 <<<"$out"))"
	fi
done

# A header that closes its JSON string; strings with terminal escapes.
"$mk" hostile-header "$tmp/hh.trace" >/dev/null
"$pl" report "$tmp/hh.trace" >"$tmp/out" 2>&1
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$tmp/out"; then
	ko text-no-escapes "control bytes in the text report: $(cat -v "$tmp/out" | head -n 3)"
else
	ok text-no-escapes
fi
"$pl" report "$tmp/hh.trace" --json >"$tmp/out" 2>/dev/null
if jq -e 'select(.event == "totals") | (.mode == "\",\"x\":1,\"y\":\"") and (has("x") | not)' \
	"$tmp/out" >/dev/null 2>&1 && jq -e . "$tmp/out" >/dev/null 2>&1; then
	ok json-no-injection
else
	ko json-no-injection "$(grep totals "$tmp/out")"
fi

# Process names a spreadsheet would run as formulas.
"$mk" formula-comm "$tmp/fc.trace" >/dev/null
"$pl" report "$tmp/fc.trace" --format csv >"$tmp/out" 2>/dev/null
# the comm is field 7; a cell is neutral if it does not start with = + - @
bad=$(tail -n +2 "$tmp/out" | python3 -c '
import csv, sys
for row in csv.reader(sys.stdin):
    if row[6][:1] in ("=", "+", "-", "@", "\t", "\r"):
        print(row[6])' | head -n 3)
rows=$(tail -n +2 "$tmp/out" | wc -l)
if [ -z "$bad" ] && [ "$rows" -gt 0 ]; then
	ok "csv-no-formulas ($rows rows)"
else
	ko csv-no-formulas "cells a spreadsheet evaluates: $bad"
fi

# A trace from another host: its own cgroup paths, never ours.
root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$root" ] && [ "$(id -u)" = 0 ] && mkdir "$root/portlife-hostile.$$" 2>/dev/null; then
	cg="$root/portlife-hostile.$$"
	local_id=$(stat -c %i "$cg")
	"$mk" foreign-cgroups "$tmp/fcg.trace" "$local_id" >/dev/null
	got=$("$pl" report "$tmp/fcg.trace" --json 2>/dev/null |
		jq -r 'select(.event == "summary") | "\(.pid)=\(.cgroup)"' | sort | tr '\n' ' ')
	if [ "$got" = '100=/remote.slice/app\u001b[2J.service 200=null ' ] ||
		[ "$got" = $'100=/remote.slice/app\e[2J.service 200=null ' ]; then
		ok "cgroups-from-the-trace"
	else
		ko cgroups-from-the-trace "got $got (want the recorded path for 100, none for 200)"
	fi
	"$pl" report "$tmp/fcg.trace" >"$tmp/out" 2>&1
	if grep -q 'cgroup /remote.slice/app?\[2J.service' "$tmp/out" &&
		! grep -q 'portlife-hostile' "$tmp/out"; then
		ok cgroups-from-the-trace-text
	else
		ko cgroups-from-the-trace-text "$(grep -a PID "$tmp/out" | cat -v)"
	fi
else
	ko cgroups-from-the-trace "cannot make a cgroup to test with (root, cgroup2)"
fi

# Pod names from a trace are believed only when they are names: a pod, a
# namespace and a container a kubelet could have made, for a path in a pod.
"$mk" hostile-pods "$tmp/pods.trace" >/dev/null
got=$("$pl" report "$tmp/pods.trace" --format jsonl 2>/dev/null |
	jq -r 'select(.event == "alloc") | "\(.pid)=\(.container.runtime // "none")/\(.container.pod // "-")/\(.container.name // "-")"' |
	sort | tr '\n' ' ')
if [ "$got" = "1000=containerd/pod-0/c 1001=containerd/pod-1/c 110=containerd/web-0/app 111=containerd/-/- 112=docker/-/- 113=systemd/-/- " ]; then
	ok "pod-names-from-the-trace"
else
	ko pod-names-from-the-trace "got $got"
fi
"$pl" report "$tmp/pods.trace" >"$tmp/out" 2>&1
if grep -q 'container containerd 0123456789ab pod shop/web-0 container app' "$tmp/out" &&
	! grep -q "$(printf '\033')" "$tmp/out" && ! grep -q 'web-1' "$tmp/out"; then
	ok pod-names-from-the-trace-text
else
	ko pod-names-from-the-trace-text "$(grep -a container "$tmp/out" | cat -v)"
fi

# The TIME_WAIT rounds' counts come back from the recorded events (they
# were the rounds' own counters, 0 in every report): two of each. What only
# the rounds knew (how many ran) is null, not 0.
"$mk" reconciled "$tmp/rec.trace" >/dev/null || ko reconciled "mkcrafted failed"
got=$("$pl" report "$tmp/rec.trace" --json 2>/dev/null |
	jq -r 'select(.event == "totals") | "\(.tw_unseen) \(.tw_reconciled) \(.gone_reconciled) \(.snapshots)"')
marks=$("$pl" report "$tmp/rec.trace" --format jsonl 2>/dev/null |
	jq -r 'select(.reconciled == true) | "\(.event)/\(.reason // "-")"' | sort | tr '\n' ' ')
csv=$("$pl" report "$tmp/rec.trace" --format csv 2>/dev/null | awk -F, 'NR == 1 { print $NF } NR > 1 && $NF == "true" { print $3 }' | tr '\n' ' ')
if [ "$got" = "2 2 2 null" ] && [ "$marks" = "release/close release/close tw_enter/- tw_enter/- " ] &&
	[ "$csv" = "reconciled tw_enter release tw_enter release " ]; then
	ok "report-totals-reconciled"
else
	ko report-totals-reconciled "totals (tw_unseen tw_reconciled gone_reconciled snapshots) '$got', marked '$marks', csv '$csv'"
fi

# The same recording twice (the file again, a copy): counted once in the
# fleet's totals, and said on stderr.
cp "$tmp/rec.trace" "$tmp/rec-copy.trace"
one=$("$pl" report "$tmp/rec.trace" --json 2>/dev/null | jq -c 'select(.event == "summary") | .allocs')
got=$("$pl" report "$tmp/rec.trace" "$tmp/rec-copy.trace" "$tmp/rec.trace" --json 2>"$tmp/err" |
	jq -r 'select(.event == "host_summary") | "\(.traces) \(.allocs)"')
if [ "$got" = "1 $one" ] && [ "$(grep -c 'is the same recording as' "$tmp/err")" -eq 2 ]; then
	ok "report-same-recording-once"
else
	ko report-same-recording-once "host_summary '$got' (want '1 $one'); stderr: $(head -c 300 "$tmp/err")"
fi

# Values that strtol/strtod alone would take.
for args in "-d| 5" "-d|0x10" "-d|1e3" "--metrics-addr| 80" "--metrics-addr|127.0.0.1:+80" \
	"-i|inf" "-p|+12"; do
	IFS='|' read -r opt val <<<"$args"
	"$pl" "$opt" "$val" -d 1 >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -q "invalid" "$tmp/out"; then
		ok "reject $opt '$val'"
	else
		ko "reject $opt '$val'" "exit $rc: $(cat "$tmp/out")"
	fi
done
# A filter given twice would keep only the last, silently: refused, naming both.
for args in "-c|a|-c|b" "-p|1|-p|2" "ports|-p|1|-p|2" "report|x.trace|-c|a|-c|b"; do
	IFS='|' read -r -a argv <<<"$args"
	"$pl" "${argv[@]}" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && grep -q "given twice" "$tmp/out"; then
		ok "reject ${argv[*]}"
	else
		ko "reject ${argv[*]}" "exit $rc: $(cat "$tmp/out")"
	fi
done
"$pl" report "$tmp/fc.trace" -4 -6 >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q -- '-4 and -6' "$tmp/out"; then
	ok "report -4 -6"
else
	ko "report -4 -6" "exit $rc: $(cat "$tmp/out")"
fi

# NAT records: more destinations than the view keeps, hostile owner names.
"$mk" nat-many "$tmp/nat.trace" >/dev/null || ko nat-many "mkcrafted failed"
within report-nat-many 3 "$pl" report "$tmp/nat.trace"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$tmp/out"; then
	ko nat-text-no-escapes "control bytes in the text report: $(cat -v "$tmp/out" | head -n 3)"
elif ! grep -q '^NAT headroom' "$tmp/out"; then
	ko nat-text-no-escapes "no NAT headroom in the report"
else
	ok nat-text-no-escapes
fi
within report-nat-many-jsonl 5 "$pl" report "$tmp/nat.trace" --format jsonl
# every line one JSON object, no key smuggled in by a process name
if jq -e . "$tmp/out" >/dev/null 2>&1 && ! jq -e 'select(has("x"))' "$tmp/out" >/dev/null 2>&1 &&
	[ "$(grep -c '"event":"nat"' "$tmp/out")" -ge 100000 ]; then
	ok nat-jsonl-valid
else
	ko nat-jsonl-valid "invalid JSON, a smuggled key, or NAT events missing"
fi
# Cgroup records with empty paths, each id its own, and names records: the
# tables stop at their bound (their entries, not only their bytes, count),
# whatever the file holds (2.1 GB for 20M paths before; 8 million would be
# 800 MB).
"$mk" cgroup-flood "$tmp/cgf.trace" >/dev/null || ko cgroup-flood "mkcrafted failed"
rss=$(python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$pl" report "$tmp/cgf.trace")
if [ -n "$rss" ] && [ "$rss" -gt 0 ] && [ "$rss" -lt 150000 ]; then
	ok "cgroup-flood-memory (peak RSS $rss KiB, under 150000)"
else
	ko cgroup-flood-memory "peak RSS '${rss:-?}' KiB reading 2M cgroup and 500k names records, want under 150000"
fi
rm -f "$tmp/cgf.trace"

# The host of every CSV row, and of a trace with no event at all (a
# recorder stopped before its first): the header's. A header alone, no
# record and no trailer: elapsed 0, not the wrapped difference of 0 and the
# start (584 years).
"$mk" reconciled "$tmp/h.trace" >/dev/null
got=$("$pl" report "$tmp/h.trace" --format csv 2>/dev/null | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
print(" ".join(sorted({r["host"] for r in rows})) if rows else "no rows")')
if [ "$got" = "crafted" ]; then
	ok csv-host
else
	ko csv-host "CSV rows' hosts: '$got' (want crafted)"
fi
hsz=$(python3 -c 'import struct, sys; d = open(sys.argv[1], "rb").read(64); print(struct.unpack_from("<I", d, 12)[0])' "$tmp/h.trace")
head -c "$hsz" "$tmp/h.trace" >"$tmp/hdr-only.trace"
got=$("$pl" report "$tmp/hdr-only.trace" --json 2>/dev/null | jq -r 'select(.event == "totals") | "\(.host) \(.elapsed_ns)"')
if [ "$got" = "crafted 0" ] && "$pl" report "$tmp/hdr-only.trace" 2>/dev/null | grep -q 'summary: 0 processes, 0.0s'; then
	ok header-only-trace
else
	ko header-only-trace "totals host, elapsed_ns: '$got' (want 'crafted 0'); $("$pl" report "$tmp/hdr-only.trace" 2>&1 | grep summary)"
fi

# A closed pipe is a normal stop (exit 0, nothing said), for report as for
# live tracing: not SIGPIPE's 141, which a script with pipefail takes for a
# failure. Output far over a pipe's buffer, so the write does fail.
"$pl" report "$tmp/many-pids.trace" --format jsonl 2>"$tmp/pipe.err" | head -n 1 >/dev/null
st=${PIPESTATUS[0]}
if [ "$st" = 0 ] && [ ! -s "$tmp/pipe.err" ]; then
	ok closed-pipe
else
	ko closed-pipe "report | head -n 1 exited $st: $(head -n 2 "$tmp/pipe.err")"
fi

# File names are a fleet's collectors' choice: a terminal escape in one is
# shown as '?', on stdout and stderr alike, and the file is still read.
esc=$'node-\e]0;PWNED\a\e[2J.trace'
cp "$tmp/h.trace" "$tmp/$esc"
printf 'junk' >"$tmp/bad-$esc"
"$pl" report "$tmp/$esc" "$tmp/bad-$esc" >"$tmp/out" 2>&1
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$tmp/out"; then
	ko file-name-escapes "control bytes in the report: $(cat -v "$tmp/out" | grep -a node | head -n 3)"
elif ! grep -qF '/node-?]0;PWNED??[2J.trace: host crafted' "$tmp/out" ||
	! grep -qF '/bad-node-?]0;PWNED??[2J.trace: ' "$tmp/out"; then
	ko file-name-escapes "the files not named: $(cat -v "$tmp/out" | grep -a node | head -n 3)"
else
	ok file-name-escapes
fi
echo "hostile: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
