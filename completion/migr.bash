# bash completion for migr's tools: mrun, mps, mmigrate, mkill, mctl and mmon.     -*- sh -*-
#
# Options, their arguments and mctl's commands are read from each tool's --help, so the
# completion follows the tools; node names come from `mctl nodes --json' and job ids from
# `mps --json', asking the running cluster (read with jq if it is installed). A tool given
# with a directory (./cli/mps) is completed with the tools beside it. Works with or without
# the bash-completion package; `make install' puts this file in bash-completion's
# directory under each tool's name.

# _migr_tool TOOL NAME: how to run NAME: beside TOOL if TOOL has a directory, else NAME.
_migr_tool()
{
	if [[ $1 == */* && -x ${1%/*}/$2 ]]; then
		printf '%s\n' "${1%/*}/$2"
	else
		printf '%s\n' "$2"
	fi
}

# _migr_run TOOL NAME ARGS...: runs NAME, found as _migr_tool says, for at most 3 s, so
# that a daemon that does not answer never hangs the shell.
_migr_run()
{
	local t
	t=$(_migr_tool "$1" "$2")
	shift 2
	if command -v timeout >/dev/null 2>&1; then
		timeout 3 "$t" "$@" 2>/dev/null
	else
		"$t" "$@" 2>/dev/null
	fi
}

_migr_help()
{
	"$1" --help 2>/dev/null
}

# _migr_options TOOL: every option TOOL's --help names, one a line.
_migr_options()
{
	_migr_help "$1" | grep -oE -- '(^|[[:space:][,])--?[[:alnum:]][-[:alnum:]]*' |
		sed -E 's/^[^-]*//' | sort -u
}

# _migr_optarg TOOL OPTION: the argument OPTION takes as TOOL's --help writes it
# ("NODE|here|best", "lazy|copy", "USER", "N"); nothing if it takes none.
_migr_optarg()
{
	_migr_help "$1" |
		grep -oE -- "(^|[[:space:][,])$2 ([A-Z][A-Z_]*(\|[[:alnum:]_-]+)*|[a-z][[:alnum:]_-]*(\|[[:alnum:]_-]+)+)([] ]|\$)" |
		head -n 1 | sed -E 's/^.* ([^] ]+)[] ]?$/\1/'
}

# _migr_usages TOOL: TOOL's synopses without their options, one a line: "GPID NODE",
# "CMD ARGS...", and for mctl one a command: "nodes", "balance on|off", "keygen FILE".
_migr_usages()
{
	local prog=${1##*/}
	_migr_help "$1" |
		sed -nE "s/^(usage:[[:space:]]+|[[:space:]]+)$prog( (.*)|\$)/\\3/p" |
		sed -E 's/  .*//; :a; s/\[-[^][]*\]//; ta; s/[][]//g; s/(^| )-[^ ]*//g;
			s/ +/ /g; s/^ //; s/ $//'
}

# _migr_json_field FIELD: the string FIELD of each object of the JSON array on stdin, as
# mctl and mps print them (one object a line), leaving out nodes dead or gone.
_migr_json_field()
{
	if command -v jq >/dev/null 2>&1; then
		jq -r --arg f "$1" '.[] | select(.state != "dead" and .state != "left") |
			.[$f] // empty' 2>/dev/null
	else
		grep -vE '"state": *"(dead|left)"' | grep -oE "\"$1\": *\"[^\"]*\"" |
			sed -E 's/^[^:]*: *"//; s/"$//'
	fi
}

_migr_nodes()
{
	_migr_run "$1" mctl nodes --json | _migr_json_field name
}

_migr_gpids()
{
	_migr_run "$1" mps --json | _migr_json_field gpid
}

# _migr_signals CUR: signal names, with SIG if CUR starts so (mkill takes both).
_migr_signals()
{
	local s
	for s in $(compgen -A signal); do
		if [[ $1 == SIG* ]]; then
			printf '%s\n' "$s"
		else
			printf '%s\n' "${s#SIG}"
		fi
	done
}

# _migr_add TOOL SPEC CUR [PREFIX]: adds to COMPREPLY what may stand for SPEC, a word of a
# synopsis or an option's argument: NODE, GPID, USER, SIGNAL, CMD, FILE, literal words,
# alternatives joined by `|'. Other upper-case words (N) are numbers: nothing to offer.
_migr_add()
{
	local tool=$1 cur=$3 pre=${4-} w words=() alt
	local -a alts
	IFS='|' read -ra alts <<<"$2"
	for alt in "${alts[@]}"; do
		w=${alt%...}
		case $w in
		NODE)
			mapfile -t -O "${#words[@]}" words < <(_migr_nodes "$tool")
			[[ ${tool##*/} == mmigrate ]] && words+=(home)	# mmigrate(1): NODE may be home
			;;
		GPID) mapfile -t -O "${#words[@]}" words < <(_migr_gpids "$tool") ;;
		USER) mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -u -- "$cur") ;;
		SIGNAL) mapfile -t -O "${#words[@]}" words < <(_migr_signals "$cur") ;;
		CMD) mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -c -- "$cur" | sort -u) ;;
		FILE | PATH | DIR)
			mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$cur")
			compopt -o filenames 2>/dev/null
			;;
		*[A-Z]*) ;;
		*) words+=("$w") ;;
		esac
	done
	for w in "${words[@]}"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$pre$w")
	done
}

# _migr_complete: the completion of all six tools.
_migr_complete()
{
	local tool=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	[[ $tool == "~/"* ]] && tool=$HOME/${tool#"~/"}

	# the words so far: options (and their arguments) apart, the others in order
	local i n w skip=0 endopts=0 words=()
	local -a usages
	mapfile -t usages < <(_migr_usages "$tool")
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((skip)); then
			skip=0
			[[ $w == = ]] && skip=1
			continue
		fi
		if ((!endopts)) && [[ $w == -- ]]; then
			endopts=1
		elif ((!endopts)) && [[ $w == -?* ]]; then
			[[ $w != *=* && -n $(_migr_optarg "$tool" "$w") ]] && skip=1
		else
			words+=("$w")
			# mrun: what follows its command is the command's own
			n=$((${#words[@]} - 1))
			if [[ $(_migr_spec "$n" "${words[@]:0:n}" "${usages[@]}") == CMD* ]]; then
				if declare -F _command_offset >/dev/null; then
					_command_offset "$i"
				else
					mapfile -t COMPREPLY < <(compgen -f -- "$cur")
					compopt -o filenames 2>/dev/null
				fi
				return 0
			fi
		fi
	done

	# an option's argument: "-n NODE", "--mode lazy", "--mode=lazy" (one word or, as `='
	# usually breaks words, three)
	local opt= pre= spec
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*} pre=${opt}= cur=${cur#*=}
	elif [[ $cur == = && $prev == --* ]]; then
		opt=$prev cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)) &&
		[[ ${COMP_WORDS[COMP_CWORD - 2]} == --* ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $prev == -* ]]; then
		opt=$prev
	fi
	if [[ -n $opt ]] && ((!endopts)); then
		spec=$(_migr_optarg "$tool" "$opt")
		if [[ -n $spec ]]; then
			_migr_add "$tool" "$spec" "$cur" "$pre"
			return 0
		fi
	fi

	if [[ $cur == -* ]] && ((!endopts)); then
		mapfile -t COMPREPLY < <(compgen -W "$(_migr_options "$tool")" -- "$cur")
		return 0
	fi
	spec=$(_migr_spec "${#words[@]}" "${words[@]}" "${usages[@]}")
	if [[ -n $spec ]]; then
		_migr_add "$tool" "$spec" "$cur"
	elif ((!endopts)); then
		mapfile -t COMPREPLY < <(compgen -W "$(_migr_options "$tool")" -- "$cur")
	fi
	return 0
}

# _migr_spec N WORD... USAGE...: what a word stands for after the N words given before it,
# by every synopsis they fit: "GPID", "NODE|on|off"...; nothing if none fits.
_migr_spec()
{
	local n=$1 i u spec= s
	shift
	local -a typed=("${@:1:n}") usages=("${@:n+1}") us
	for u in "${usages[@]}"; do
		read -ra us <<<"$u"
		((${#us[@]})) || continue
		for ((i = 0; i <= n; i++)); do
			if ((i < ${#us[@]})); then
				s=${us[i]}
			elif [[ ${us[-1]} == *... ]]; then
				s=${us[-1]}
			else
				continue 2
			fi
			if ((i == n)); then
				spec+=${spec:+|}$s
				continue 2
			fi
			# a typed word fits a placeholder, or one of the literal words
			[[ $s == *[A-Z]* || "|$s|" == *"|${typed[i]}|"* ]] || continue 2
		done
	done
	printf '%s\n' "$spec"
}

complete -F _migr_complete mrun mps mmigrate mkill mctl mmon
