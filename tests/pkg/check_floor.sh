#!/usr/bin/env bash
# The minimum kernel is stated once, in code (PL_MIN_KERNEL, user/loader.h);
# the README, the man page and --help must say that one and no other (the
# preflight's refusal is held to it by tests/unit/test_loader.c):
#   check_floor.sh PORTLIFE
# Every "kernel X.Y or newer" / "X.Y+" claim in them must name the floor,
# but for the few that date a kernel change rather than state a requirement
# (listed below). Prints "check_floor: ..." and exits 1 on a mismatch.
set -u
cd "$(dirname "$0")/../.." || exit 1
bin=${1:-.output/portlife}
floor=$(sed -n 's/^#define PL_MIN_KERNEL "\([0-9.]*\)"$/\1/p' user/loader.h)
[ -n "$floor" ] || { echo "check_floor: no PL_MIN_KERNEL in user/loader.h"; exit 1; }
# kernel changes the docs date, not requirements: the hashdance rename
allowed='6\.11\+'
bad=0
check() { # NAME TEXT
	local name=$1 text=$2 claims
	if ! grep -qE "kernel $floor or newer" <<<"$text"; then
		echo "check_floor: $name does not say 'kernel $floor or newer'"
		bad=1
	fi
	claims=$(grep -oE "([0-9]+\.[0-9]+\+|[0-9]+\.[0-9]+ or newer)" <<<"$text" |
		grep -vE "^($floor( or newer)?|$allowed)$" | sort -u)
	if [ -n "$claims" ]; then
		echo "check_floor: $name claims another floor: $(tr '\n' ' ' <<<"$claims")"
		bad=1
	fi
}
check README.md "$(cat README.md)"
check doc/portlife.8 "$(sed 's/\\-/-/g' doc/portlife.8 | tr '\n' ' ')"
check "portlife --help" "$("$bin" --help 2>&1 | tr '\n' ' ')"
[ "$bad" -eq 0 ] && echo "check_floor: kernel $floor everywhere"
exit "$bad"
