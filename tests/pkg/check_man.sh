#!/usr/bin/env bash
# Checks doc/portlife.8 against the binary's own --help, both ways:
#  - every option (long and short) that `portlife --help` and each
#    subcommand's --help print is in the man page (long ones as \-\-name);
#  - every \-\-option the man page names is printed by some --help;
#  - every subcommand of the USAGE lines in `portlife --help` has a section
#    (.SS "portlife SUB ..."), and so does plain `portlife [OPTIONS]`;
#  - no example of a --help wraps (argp breaks lines at 79 columns);
#  - groff renders it without a warning (-ww).
# One line per problem, naming it; exit status 1 if there is any.
# Usage: check_man.sh [BINARY] [MANPAGE]   (default .output/portlife doc/portlife.8)
set -u
cd "$(dirname "$0")/../.." || exit 1
bin=${1:-.output/portlife}
man=${2:-doc/portlife.8}
bad=0

problem() {
	echo "check_man: $*"
	bad=$((bad + 1))
}

[ -x "$bin" ] || { echo "check_man: no binary $bin (run make)"; exit 1; }
[ -r "$man" ] || { echo "check_man: no man page $man"; exit 1; }

main_help=$("$bin" --help) || { echo "check_man: $bin --help failed"; exit 1; }
# The subcommands, from the USAGE lines: "portlife SUB ...".
subs=$(sed -n '/^USAGE:/,/^$/p' <<<"$main_help" |
	sed -nE 's/^(USAGE:)?[[:space:]]*portlife ([a-z]+).*/\2/p' | sort -u)
[ -n "$subs" ] || problem "no subcommands found in the USAGE lines of $bin --help"

# Option lines as argp prints them: "  -p, --pid=PID  ..." or "      --json  ...".
long_opts() { sed -nE 's/^ {2,}(-[^ ], )?--([a-z0-9][a-z0-9-]*).*/\2/p'; }
short_opts() { sed -nE 's/^ {2,}-([^ -]), .*/\1/p'; }

# The man page's options: roff writes a hyphen as \-.
man_src=$(cat "$man")
man_long=$(grep -oE '\\-\\-[a-z0-9]+(\\-[a-z0-9]+)*' <<<"$man_src" | sed 's/\\-/-/g; s/^--//' | sort -u)

all_long=""
for cmd in "" $subs; do
	name="portlife${cmd:+ $cmd}"
	# shellcheck disable=SC2086
	help=$("$bin" $cmd --help) || { problem "$name --help failed"; continue; }
	opts=$(long_opts <<<"$help")
	[ -n "$opts" ] || problem "$name --help lists no options"
	all_long="$all_long $opts"
	for o in $opts; do
		grep -qxF -- "$o" <<<"$man_long" ||
			problem "--$o is in \`$name --help' but not in $man (as \\-\\-$o)"
	done
	for s in $(short_opts <<<"$help"); do
		grep -qF -- "\\-$s" <<<"$man_src" ||
			problem "-$s is in \`$name --help' but not in $man (as \\-$s)"
	done
	# argp wraps the doc at 79 columns: an example longer than that has
	# its tail on a line of its own, unindented, read as a command of its own
	while IFS= read -r l; do
		problem "\`$name --help' wraps an example (shorten it to 79 columns): '$l'"
	done < <(sed -n '/^EXAMPLES:/,/^$/p' <<<"$help" | sed '1d; /^$/d; /^    /d')
done
all_long=$(tr ' ' '\n' <<<"$all_long" | sort -u)
for o in $man_long; do
	grep -qxF -- "$o" <<<"$all_long" ||
		problem "--$o is in $man but in no --help: gone, renamed, or a typo"
done

grep -qE '^\.SS "portlife \[OPTIONS\]"' <<<"$man_src" ||
	problem "$man has no section .SS \"portlife [OPTIONS]\" for live tracing"
for s in $subs; do
	grep -qE "^\\.SS \"portlife $s( |\")" <<<"$man_src" ||
		problem "subcommand '$s' (in the USAGE of portlife --help) has no section .SS \"portlife $s ...\" in $man"
done

if command -v groff >/dev/null; then
	warn=$(groff -man -Tutf8 -ww -z "$man" 2>&1)
	[ -z "$warn" ] || problem "groff -ww warns: $warn"
else
	problem "groff is not installed (make deps installs groff-base)"
fi

nsubs=$(wc -w <<<"$subs")
nopts=$(wc -w <<<"$man_long")
if [ "$bad" -eq 0 ]; then
	echo "check_man: $man matches --help ($nopts long options, $nsubs subcommands)"
	exit 0
fi
echo "check_man: $bad problems"
exit 1
