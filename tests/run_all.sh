#!/usr/bin/env bash
# Runs the whole suite: the unit tests given as arguments (cmocka binaries),
# then the packaging tests (make install into a staging tree), then the live
# tests (root, real kernel), then the VM tests (the live tests in the attach
# modes on other kernels). The last line is the total,
# "N passed, N failed, N skipped". Exit status is non-zero if anything failed,
# or, under CI, if the live tests were skipped: CI runs as root on a kernel
# that supports them, so a skip there hides a broken set-up.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0

# tally NAME TEXT RC: adds the last "NAME: N passed, N failed[, N skipped]"
# line of TEXT to the totals; a part that printed none counts as a failure.
# Sets $skipped to that part's skips.
tally() {
	local summary
	summary=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" <<<"$2" | tail -n 1)
	skipped=0
	if [ -z "$summary" ]; then
		echo "FAIL $1 tests printed no summary (exit $3)"
		fail=$((fail + 1))
		return
	fi
	pass=$((pass + $(sed -E "s/^$1: ([0-9]+) passed.*/\1/" <<<"$summary")))
	fail=$((fail + $(sed -E "s/^$1: [0-9]+ passed, ([0-9]+) failed.*/\1/" <<<"$summary")))
	skipped=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$summary")
	skipped=${skipped:-0}
	skip=$((skip + skipped))
}

for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -n 1)
	pass=$((pass + ${p:-0}))
	if [ -n "$f" ]; then
		fail=$((fail + f))
	elif [ "$rc" -ne 0 ]; then
		echo "FAIL $t exited $rc"
		fail=$((fail + 1))
	fi
done

# Packaging: make install DESTDIR=..., the man page against --help, the
# bash completion (tests/pkg/test_install.sh; no root needed).
out=$(tests/pkg/test_install.sh 2>&1)
rc=$?
printf '%s\n' "$out"
tally pkg "$out" $rc

# The deployment files (deploy/): the systemd unit run with its own
# capabilities, the DaemonSet, the Containerfile, the alerting rules and the
# dashboard against a real exporter run (tests/deploy/check.sh).
out=$(tests/deploy/check.sh 2>&1)
rc=$?
printf '%s\n' "$out"
tally deploy "$out" $rc

# Hostile input to report and to the command line (crafted traces, escapes,
# formulas, another host's cgroups, strict numbers).
out=$(tests/hostile/report.sh .output/portlife .output/mkcrafted 2>&1)
rc=$?
printf '%s\n' "$out"
tally hostile "$out" $rc

out=$(.output/tests/livetest .output/portlife 2>&1)
rc=$?
printf '%s\n' "$out"
tally live "$out" $rc
if [ "${CI:-}" = "true" ] && [ "$skipped" -gt 0 ]; then
	echo "FAIL live tests skipped under CI: run CI as root"
	fail=$((fail + 1))
fi

# The benchmark's smoke round: the runner still works and loses nothing at a tiny rate.
out=$(tests/bench_smoke.sh 2>&1)
rc=$?
printf '%s\n' "$out"
tally bench "$out" $rc

# A bounded fuzz run of the trace reader (libFuzzer, ASan, UBSan): a crash or
# sanitizer report fails it.
mkdir -p .output/fuzz-corpus
.output/fuzz-seed .output/fuzz-corpus/seed.trace
.output/mkcrafted hostile-pods .output/fuzz-corpus/hostile-pods.trace 2 >/dev/null
if out=$(.output/fuzz_trace -max_total_time="${FUZZ_TIME:-20}" -seed=1 \
	-artifact_prefix=.output/ .output/fuzz-corpus tests/fuzz/regress 2>&1); then
	echo "PASS fuzz_trace: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' <<<"$out" | tail -n 1)"
	pass=$((pass + 1))
else
	printf '%s\n' "$out" | tail -n 30
	echo "FAIL fuzz_trace: a crash or sanitizer report (input saved in .output/)"
	fail=$((fail + 1))
fi

# VM tests: the live tests on Debian's 5.10, 6.1 and 6.12 kernels under qemu,
# each attach mode on two of them (tests/vm/vmtest.sh). PORTLIFE_SKIP_VM=1 skips them for a
# quick local run; CI never skips them.
if [ "${PORTLIFE_SKIP_VM:-}" = "1" ] && [ "${CI:-}" != "true" ]; then
	echo "SKIP VM tests (PORTLIFE_SKIP_VM=1)"
	skip=$((skip + 1))
else
	# Shown as it runs (a boot takes minutes), kept in a file to be read back.
	# (Not tee /dev/stderr: when stderr is a file, that reopens and truncates it.)
	tests/vm/vmtest.sh 2>&1 | tee .output/vmtest.log
	rc=${PIPESTATUS[0]}
	tally vm "$(cat .output/vmtest.log)" "$rc"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
