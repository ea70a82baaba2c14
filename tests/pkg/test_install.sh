#!/usr/bin/env bash
# The packaging tests (no root, no BPF): make install into a staging tree
# (DESTDIR) installs the binary, portlife(8), the bash completion and the
# systemd unit (its ExecStart naming the installed binary) with the right
# modes and builds nothing that is up to date; the installed binary's
# --version is the build's version; the staged man page renders and matches
# --help (check_man.sh); every doc states the same minimum kernel
# (check_floor.sh); the completion completes (check_completion.sh);
# make uninstall removes all four.
# One line per check, "PASS name" or "FAIL name: why"; the last line is
# "pkg: N passed, N failed". Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0 fail=0
ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
MAKE=${MAKE:-make}
# Run from make test: keep its variables (VERSION=...), drop the jobserver,
# which this script was not given ("jobserver unavailable" warnings).
if [ -n "${MAKEFLAGS:-}" ]; then
	MAKEFLAGS=$(sed -E 's/ ?--jobserver-(auth|fds)=[^ ]*//g; s/(^| )-j[0-9]*( |$)/\1/' <<<"$MAKEFLAGS")
	export MAKEFLAGS
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=/usr
bin=$tmp$prefix/sbin/portlife
man=$tmp$prefix/share/man/man8/portlife.8
comp=$tmp$prefix/share/bash-completion/completions/portlife
unit=$tmp$prefix/lib/systemd/system/portlife.service

summary() {
	echo "pkg: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# Build first, so that install below has nothing left to build.
if ! out=$($MAKE --no-print-directory -s .output/portlife 2>&1); then
	printf '%s\n' "$out" | tail -n 20
	ko build "make .output/portlife failed"
	summary
fi
before=$(stat -c '%Y %i' .output/portlife)

if out=$($MAKE --no-print-directory install DESTDIR="$tmp" PREFIX=$prefix 2>&1); then
	ok install
else
	printf '%s\n' "$out" | tail -n 20
	ko install "make install DESTDIR=$tmp PREFIX=$prefix failed"
	summary
fi
if [ "$(stat -c '%Y %i' .output/portlife)" = "$before" ] &&
	! grep -qE '^  (CC|BINARY|BPF|GEN-SKEL) ' <<<"$out"; then
	ok install-builds-nothing
else
	ko install-builds-nothing "make install rebuilt an up-to-date binary: $(tr '\n' ' ' <<<"$out")"
fi

# check_mode NAME FILE MODE
check_mode() {
	if [ ! -f "$2" ]; then
		ko "$1" "$2 not installed"
	elif [ "$(stat -c %a "$2")" != "$3" ]; then
		ko "$1" "$2 has mode $(stat -c %a "$2"), want $3"
	else
		ok "$1"
	fi
}
check_mode installed-binary "$bin" 755
check_mode installed-man "$man" 644
check_mode installed-completion "$comp" 644
check_mode installed-unit "$unit" 644
others=$(find "$tmp" -type f ! -path "$bin" ! -path "$man" ! -path "$comp" ! -path "$unit")
if [ -n "$others" ]; then
	ko installed-nothing-else "$others"
else
	ok installed-nothing-else
fi
# The unit as installed: the template with the installed binary's path.
if cmp -s doc/portlife.8 "$man" && cmp -s completion/portlife.bash "$comp" &&
	cmp -s .output/portlife "$bin" &&
	sed "s|@BINDIR@|$prefix/sbin|g" deploy/systemd/portlife.service.in | cmp -s - "$unit" &&
	grep -qx "ExecStart=$prefix/sbin/portlife .*" "$unit"; then
	ok installed-same-files
else
	ko installed-same-files "a staged file differs from the one in the tree"
fi

want=$($MAKE --no-print-directory -s print-version)
got=$("$bin" --version 2>&1)
if [ -n "$want" ] && [ "$got" = "portlife $want" ]; then
	ok "version ($got)"
else
	ko version "installed --version printed '$got', make print-version says '$want'"
fi
got=$($MAKE --no-print-directory -s print-version VERSION=9.8.7-test)
if [ "$got" = 9.8.7-test ]; then
	ok version-override
else
	ko version-override "make print-version VERSION=9.8.7-test printed '$got'"
fi

if command -v man >/dev/null; then
	render=$(MANWIDTH=80 man -l "$man" 2>&1 >/dev/null)
	text=$(MANWIDTH=80 man -l "$man" 2>/dev/null)
	how="man -l"
else
	render=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
	text=$(groff -man -Tutf8 "$man" 2>/dev/null)
	how="groff"
fi
if [ -z "$render" ] && grep -q 'EXIT STATUS' <<<"$text" && grep -q 'portlife record' <<<"$text"; then
	ok "man-renders ($how)"
else
	ko man-renders "$how $man: ${render:-rendered text lacks its sections}"
fi

if out=$(tests/pkg/check_man.sh "$bin" "$man" 2>&1); then
	ok "man-matches-help ($(sed -n 's/^check_man: .* matches --help (\(.*\))/\1/p' <<<"$out"))"
else
	ko man-matches-help "$(tr '\n' ';' <<<"$out")"
fi

# make CFLAGS=... is the caller's: the flags the code needs stay.
cmd=$($MAKE --no-print-directory -n V=1 OUTPUT="$tmp/o" CFLAGS=-O0 "$tmp/o/util.o" 2>/dev/null |
	grep -e ' -c user/util.c')
if grep -q -- '-std=gnu11' <<<"$cmd" && grep -q -- '-D_GNU_SOURCE' <<<"$cmd" &&
	grep -q -- ' -O0' <<<"$cmd"; then
	ok cflags-kept
else
	ko cflags-kept "make CFLAGS=-O0 compiles with: ${cmd:-nothing}"
fi

# One minimum kernel, from user/loader.h, in the README, the man page and --help;
# the tracepoint mode's own stated; no atomic fetch in the BPF objects .output/ built.
if out=$(tests/pkg/check_floor.sh "$bin" .output 2>&1); then
	ok "kernel-floor (${out#check_floor: })"
else
	ko kernel-floor "$(tr '\n' ';' <<<"$out")"
fi

# The completion as installed, one PASS/FAIL line per case.
out=$(bash tests/pkg/check_completion.sh "$comp" "$bin" 2>&1)
rc=$?
printf '%s\n' "$out"
pass=$((pass + $(grep -c '^PASS ' <<<"$out")))
fail=$((fail + $(grep -c '^FAIL ' <<<"$out")))
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
	ko completion "check_completion.sh exited $rc"
fi

if out=$($MAKE --no-print-directory uninstall DESTDIR="$tmp" PREFIX=$prefix 2>&1); then
	left=$(find "$tmp" -type f)
	if [ -z "$left" ]; then
		ok uninstall
	else
		ko uninstall "left behind: $left"
	fi
else
	ko uninstall "make uninstall failed: $out"
fi

summary
