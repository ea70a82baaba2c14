#!/usr/bin/env bash
# The minimum kernel is stated once, in code (PL_MIN_KERNEL, user/loader.h);
# the README, the man page and --help must say that one and no other (the
# preflight's refusal is held to it by tests/unit/test_loader.c, and the VM
# tests boot it: tests/vm/vmtest.sh):
#   check_floor.sh [PORTLIFE [OBJDIR]]   (default .output/portlife .output)
# Every "kernel X.Y or newer" / "X.Y+" claim in them must name the floor,
# but for the few that date a kernel change rather than state a requirement
# (listed below), and the tracepoint mode's own floor (PL_TP_MIN_KERNEL),
# which each must state in one phrase, "tracepoint mode needs kernel X.Y or
# newer", and nowhere else.
# The BPF objects 5.10 may load must hold no atomic fetch instruction: its
# verifier rejects a program with one anywhere, dead code included
# (bpf/events.bpf.h, lease_id_new()). An object built twice is exempt: its
# _nofetch twin is what the loader gives a kernel without (user/loader.c).
# Prints "check_floor: ..." and exits 1 on a mismatch.
set -u
cd "$(dirname "$0")/../.." || exit 1
bin=${1:-.output/portlife}
objdir=${2:-.output}
floor=$(sed -n 's/^#define PL_MIN_KERNEL "\([0-9.]*\)"$/\1/p' user/loader.h)
[ -n "$floor" ] || { echo "check_floor: no PL_MIN_KERNEL in user/loader.h"; exit 1; }
tp_floor=$(sed -n 's/^#define PL_TP_MIN_KERNEL "\([0-9.]*\)"$/\1/p' user/loader.h)
[ -n "$tp_floor" ] || { echo "check_floor: no PL_TP_MIN_KERNEL in user/loader.h"; exit 1; }
tp_phrase="tracepoint mode needs kernel $tp_floor or newer"
# kernel changes the docs date, not requirements: the hashdance rename
allowed='6\.11\+'
bad=0
check() { # NAME TEXT
	local name=$1 text claims
	text=$(tr -s ' ' <<<"$2")
	if ! grep -qE "kernel $floor or newer" <<<"$text"; then
		echo "check_floor: $name does not say 'kernel $floor or newer'"
		bad=1
	fi
	if ! grep -qF "$tp_phrase" <<<"$text"; then
		echo "check_floor: $name does not say '$tp_phrase'"
		bad=1
	fi
	text=${text//"$tp_phrase"/}
	claims=$(grep -oE "([0-9]+\.[0-9]+\+|[0-9]+\.[0-9]+ or newer)" <<<"$text" |
		grep -vE "^($floor( or newer)?|$allowed)$" | sort -u)
	if [ -n "$claims" ]; then
		echo "check_floor: $name claims another floor: $(tr '\n' ' ' <<<"$claims")"
		bad=1
	fi
}
check README.md "$(tr '\n' ' ' <README.md)"
check doc/portlife.8 "$(sed 's/\\-/-/g' doc/portlife.8 | tr '\n' ' ')"
check "portlife --help" "$("$bin" --help 2>&1 | tr '\n' ' ')"
for o in "$objdir"/*.bpf.o; do
	[ -e "$o" ] || { echo "check_floor: no BPF object in $objdir (run make)"; bad=1; break; }
	[ -e "${o%.bpf.o}_nofetch.bpf.o" ] && continue
	if ! dis=$(llvm-objdump -d "$o" 2>&1); then
		echo "check_floor: llvm-objdump cannot read $o: $dis"
		bad=1
	elif fetch=$(grep -E 'atomic_fetch|xchg' <<<"$dis" | head -n 3) && [ -n "$fetch" ]; then
		echo "check_floor: $o has atomic fetch instructions, which $floor rejects: $fetch"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "check_floor: kernel $floor everywhere, the tracepoint mode's $tp_floor" \
	"stated, no atomic fetch in the BPF objects it may load"
exit "$bad"
