# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bash completion for portlife(8). Installed as
# $(PREFIX)/share/bash-completion/completions/portlife; needs nothing from the
# bash-completion package. Offers what each command accepts (top refuses -i
# and --json, only record takes -o, only top --sort), as its --help says.

_portlife_pids()
{
	local p
	for p in /proc/[0-9]*; do
		printf '%s\n' "${p#/proc/}"
	done
}

_portlife()
{
	local cur prev sub="" pre="" opts words

	cur=${COMP_WORDS[COMP_CWORD]}
	prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# --opt=value: bash splits it at '=' (COMP_WORDBREAKS) into --opt, =, value;
	# unsplit, complete the value and put the --opt= back in front.
	if [[ $cur == = ]]; then
		cur=""
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		prev=${cur%%=*}
		pre=$prev=
		cur=${cur#*=}
	fi
	if ((COMP_CWORD > 1)); then
		case ${COMP_WORDS[1]} in
		top | ports | who | record | report) sub=${COMP_WORDS[1]} ;;
		esac
	fi

	# Values of the option before the cursor.
	words=""
	case $prev in
	--mode) words="auto fentry kprobe tracepoint" ;;
	--format) [[ $sub == report ]] && words="text jsonl csv chrome" ;;
	--sort) [[ $sub == top ]] && words="pid comm held rate fail tw lat hold" ;;
	--state)
		words="LISTEN ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE"
		words+=" CLOSE_WAIT LAST_ACK CLOSING NEW_SYN_RECV BOUND_INACTIVE UNCONN"
		;;
	-p | --pid)
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$(_portlife_pids)" -- "$cur")
		return 0
		;;
	-o | --output | --metrics-file)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	--cgroup)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "${cur:-/sys/fs/cgroup/}")
		return 0
		;;
	-c | --comm | -d | --duration | -i | --interval | --tw-interval | --max-leases | \
		--ringbuf | --warn | --metrics-addr | --metrics-top | --netns | -P | --port | \
		--range | --sample)
		COMPREPLY=()	# a value only the user knows
		return 0
		;;
	esac
	if [[ -n $words ]]; then
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$words" -- "$cur")
		return 0
	fi

	local common="--help --usage -V --version"
	local trace="-p --pid -c --comm -4 --ipv4 -6 --ipv6 --cgroup -d --duration -s --summary
		--mode --tw-interval --max-leases --ringbuf --warn --metrics-addr --metrics-file
		--metrics-top -v --verbose"
	local snap="--headroom --json --netns -p --pid -P --port --range --sample --state
		-v --verbose"
	case $sub in
	"") opts="$trace -i --interval --json $common" ;;
	top) opts="$trace --sort $common" ;;
	record) opts="$trace -o --output -i --interval --json $common" ;;
	ports) opts="$snap $common" ;;
	who) opts="$snap $common" ;;
	report) opts="-4 --ipv4 -6 --ipv6 -c --comm --format --json -p --pid --salvage $common" ;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return 0
	fi
	if ((COMP_CWORD == 1)); then
		mapfile -t COMPREPLY < <(compgen -W "top ports who record report" -- "$cur")
		return 0
	fi
	# report FILE: the trace file, once.
	if [[ $sub == report ]]; then
		local i n=0
		for ((i = 2; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			--format | -p | --pid | -c | --comm)
				[[ ${COMP_WORDS[i + 1]:-} == = ]] && ((i++))
				((i++))
				;;
			-*) ;;
			*) n=$((n + 1)) ;;
			esac
		done
		if ((n == 0)); then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return 0
		fi
	fi
	COMPREPLY=()
	return 0
}
complete -F _portlife portlife
