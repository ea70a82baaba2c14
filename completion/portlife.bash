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
	--metrics-by) words="comm pod" ;;
	--nat-netns | --netns)
		words=$(ls /run/netns 2>/dev/null)
		;;
	--alert)
		# RULE=off, RULE=on, or RULE:KEY=N,... (the keys are in --help)
		words="scan_out: scan_in: alloc_burst: scan_out=off scan_in=off alloc_burst=off"
		words+=" listen_ephemeral=off"
		compopt -o nospace 2>/dev/null
		;;
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
	--kubelet-logs)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "${cur:-/var/log}")
		return 0
		;;
	-c | --comm | -d | --duration | -i | --interval | --tw-interval | --max-leases | \
		--ringbuf | --warn | --metrics-addr | --metrics-top | -P | --port | \
		--range | --sample | --container | --pod | --namespace | --nat-range)
		COMPREPLY=()	# a value only the user knows
		return 0
		;;
	esac
	if [[ -n $words ]]; then
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$words" -- "$cur")
		return 0
	fi

	local common="--help --usage -V --version"
	local ctr="--container --pod --namespace"
	local trace="-p --pid -c --comm -4 --ipv4 -6 --ipv6 --cgroup $ctr -d --duration
		--mode --tw-interval --no-syscall-hooks --max-leases --ringbuf --metrics-addr --metrics-file
		--metrics-top --metrics-by --kubelet-logs --nat-netns --nat-range --no-nat
		--alert --no-alerts
		-v --verbose"
	local snap="--headroom --json --netns -p --pid -P --port --range --sample --state
		$ctr --kubelet-logs --nat-netns --nat-range -v --verbose"
	case $sub in
	"") opts="$trace -s --summary --warn -i --interval --json $common" ;;
	top) opts="$trace --sort --pods $common" ;;
	record) opts="$trace -s --summary --warn -o --output -i --interval --json $common" ;;
	ports) opts="$snap $common" ;;
	who) opts="$snap $common" ;;
	report) opts="-4 --ipv4 -6 --ipv6 -c --comm $ctr --format --json -p --pid --salvage --alert
		--no-alerts $common" ;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
		return 0
	fi
	if ((COMP_CWORD == 1)); then
		mapfile -t COMPREPLY < <(compgen -W "top ports who record report" -- "$cur")
		return 0
	fi
	# report FILE...: trace files, a fleet's as well as one.
	if [[ $sub == report ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
	fi
	COMPREPLY=()
	return 0
}
complete -F _portlife portlife
