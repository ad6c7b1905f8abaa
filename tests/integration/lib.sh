# tests/integration/lib.sh: shared helpers for the integration tests.
#
# Source it from a bash test that runs with `set -u` (not -e):
#
#   #!/bin/bash
#   set -u
#   . "$(dirname "$0")/lib.sh"
#
# The tests speak TAP with the plan at the end: call done_testing last.
#
# Variables:  top_srcdir, top_builddir (from the environment, default: the
#             source tree two levels up), MCPD, MCPCTL, EXAMPLE (the built
#             programs) and T, a fresh directory removed on exit.
# TAP:        ok DESC | not_ok DESC [DETAIL...] | check DESC CMD... |
#             check_fail DESC CMD... | is ACTUAL EXPECTED DESC |
#             like ACTUAL REGEX DESC | skip DESC REASON | diag MSG |
#             done_testing
# Processes:  wait_until SECONDS CMD...   (the only sanctioned way to wait)
#             spawn NAME CMD...          (own process group; $pid_NAME;
#                                         output in $T/NAME.out, $T/NAME.err;
#                                         stdin is the caller's, so
#                                         `spawn NAME CMD... <FILE` works)
#             stop_spawned NAME          (TERM the group, KILL after 5 s)
#             alive PID                  (exists and is not a zombie)
#             no_leftovers PATTERN DESC  (no process matches pgrep -f PATTERN)
# Every process started with spawn is killed, group and all, on exit.

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_srcdir:=$(cd "$_lib_dir/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
MCPD=$top_builddir/mcpd/mcpd
MCPCTL=$top_builddir/mcpctl/mcpctl
EXAMPLE=$top_builddir/examples/mcp-example-server
export MCPD MCPCTL EXAMPLE

T=$(mktemp -d "${TMPDIR:-/tmp}/mcpd-test.XXXXXX") || {
	echo "Bail out! cannot create a temporary directory"
	exit 99
}

_tap_n=0
_tap_failed=0
_spawned=()
declare -A _started=()
_cleaned=

# ---------------------------------------------------------------- TAP

# Prints each line of its arguments as a TAP diagnostic.
diag() {
	local arg line
	for arg in "$@"; do
		while IFS= read -r line || [[ -n $line ]]; do
			printf '# %s\n' "$line"
		done <<<"$arg"
	done
}

# A description on one line, with '#' escaped so it is not a directive.
_tap_desc() {
	local d=${1//$'\n'/ }
	printf '%s' "${d//#/\\#}"
}

ok() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s\n' "$_tap_n" "$(_tap_desc "${1:-}")"
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$(_tap_desc "${1:-}")"
	shift
	(($# == 0)) || diag "$@"
}

skip() {
	_tap_n=$((_tap_n + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$(_tap_desc "${1:-}")" "$(_tap_desc "${2:-}")"
}

# The first 40 lines of a file, for diagnostics.
_tap_head() {
	[[ -s $1 ]] || { echo "(empty)"; return 0; }
	head -n 40 -- "$1"
}

_tap_run() {
	"$@" >"$T/.check.out" 2>"$T/.check.err" </dev/null
}

# check DESC CMD...: ok if CMD exits 0.
check() {
	local desc=$1 rc=0
	shift
	_tap_run "$@" || rc=$?
	if ((rc == 0)); then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit status: $rc" \
			"stdout:" "$(_tap_head "$T/.check.out")" "stderr:" "$(_tap_head "$T/.check.err")"
	fi
}

# check_fail DESC CMD...: ok if CMD exits non-zero.
check_fail() {
	local desc=$1 rc=0
	shift
	_tap_run "$@" || rc=$?
	if ((rc != 0)); then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "succeeded but should have failed" \
			"stdout:" "$(_tap_head "$T/.check.out")" "stderr:" "$(_tap_head "$T/.check.err")"
	fi
}

is() {
	if [[ $1 == "$2" ]]; then
		ok "$3"
	else
		not_ok "$3" "got:      '$1'" "expected: '$2'"
	fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3" "got:        '$(printf '%s' "$1" | head -c 2000)'" "expected to match: $2"
	fi
}

done_testing() {
	printf '1..%d\n' "$_tap_n"
	if ((_tap_failed > 0)); then
		diag "failed $_tap_failed of $_tap_n"
		# What the programs said: the key to a failure seen only in CI.
		local f
		for f in "$T"/*.err; do
			[[ -s $f ]] && diag "--- last lines of $(basename "$f"):" "$(tail -n 40 "$f")"
		done
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------- waiting

# Microseconds since the epoch (EPOCHREALTIME has a locale's decimal point).
# test_port: a TCP port for a test's listeners (it may use the next 10 too). Below
# Linux's ephemeral range (32768-60999): a client socket of another test, which
# takes its local port from that range, can never hold it.
test_port() {
	echo $((20000 + RANDOM % 12000))
}

_now_us() {
	printf '%s' "${EPOCHREALTIME/[.,]/}"
}

# Seconds, maybe with a fraction ("2", "0.5"), in microseconds.
_seconds_us() {
	local s=${1%%.*} f=
	[[ $1 == *.* ]] && f=${1#*.}
	f=${f}000000
	f=${f:0:6}
	printf '%s' $((10#${s:-0} * 1000000 + 10#$f))
}

# wait_until SECONDS CMD...: runs CMD every 0.05 s until it succeeds
# (returns 0) or SECONDS have passed (returns 1).
# under_tmp PATH: PATH, resolved, is under /tmp or /var/tmp, which a sandbox's
# private_tmp replaces with an empty tmpfs (a build tree there is out of its reach).
under_tmp() {
	local p
	p=$(realpath -m -- "$1")
	[[ $p == /tmp || $p == /tmp/* || $p == /var/tmp || $p == /var/tmp/* ]]
}

wait_until() {
	local deadline
	deadline=$(($(_now_us) + $(_seconds_us "$1")))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		(($(_now_us) >= deadline)) && return 1
		sleep 0.05
	done
}

# ---------------------------------------------------------------- processes

# The state letter of a process ("R", "S", "Z"...), empty if it is gone.
_proc_state() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	printf '%s' "${stat%% *}"
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(_proc_state "$1")
	[[ -n $st && $st != Z && $st != X ]]
}

# Does the process group have a live member?
_group_alive() {
	local p
	for p in $(pgrep -g "$1" 2>/dev/null); do
		alive "$p" && return 0
	done
	alive "$1"
}

# Are all these process groups gone?
_groups_gone() {
	local p
	for p in "$@"; do
		_group_alive "$p" && return 1
	done
	return 0
}

# The start time of a process (field 22 of /proc/PID/stat), empty if gone.
_start_time() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	set -- $stat
	printf '%s' "${20}"
}

# Signal what we spawned, and only that: pids wrap around quickly (pid_max
# may be 32768) and bash reaps its children early, so a pid we remember may
# belong to another test's process by now. A pid whose start time changed
# was reused, and then its old group is empty too (the kernel does not reuse
# a number still in use as a process group).
_signal_group() {
	local now
	now=$(_start_time "$2")
	if [[ -n $now && $now != "${_started[$2]:-}" ]]; then
		return 0
	fi
	kill "-$1" -- "-$2" 2>/dev/null || { [[ -n $now ]] && kill "-$1" "$2" 2>/dev/null; }
}

# spawn NAME CMD...: starts CMD in the background in a new session (so a
# process group of its own), output to $T/NAME.out and $T/NAME.err.
spawn() {
	local name=$1
	shift
	if [[ ! $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
		not_ok "spawn: bad name '$name'"
		return 1
	fi
	# Without the explicit <&0 a background job reads /dev/null.
	setsid "$@" <&0 >"$T/$name.out" 2>"$T/$name.err" &
	printf -v "pid_$name" '%s' "$!"
	_spawned+=("$!")
	_started[$!]=$(_start_time "$!")
}

# stop_spawned NAME: TERM the process group, KILL it after 5 s, reap it.
stop_spawned() {
	local var=pid_$1 pid p rest=()
	pid=${!var:-}
	[[ -n $pid ]] || return 0
	_signal_group TERM "$pid"
	if ! wait_until 5 _groups_gone "$pid"; then
		_signal_group KILL "$pid"
		wait_until 2 _groups_gone "$pid"
	fi
	wait "$pid" 2>/dev/null
	for p in "${_spawned[@]}"; do
		[[ $p == "$pid" ]] || rest+=("$p")
	done
	_spawned=("${rest[@]}")
	return 0
}

_no_process_matches() {
	! pgrep -f -- "$1" >/dev/null 2>&1
}

# no_leftovers PATTERN DESC: ok if no process matches `pgrep -f PATTERN`
# (within 2 s, for processes that are still on their way out).
no_leftovers() {
	local pids
	if wait_until 2 _no_process_matches "$1"; then
		ok "$2"
	else
		pids=$(pgrep -f -- "$1" | paste -sd, -)
		not_ok "$2" "$(ps -o pid,pgid,stat,args -p "${pids:-0}" 2>&1)"
	fi
}

_cleanup() {
	[[ -z $_cleaned ]] || return 0
	_cleaned=1
	local p
	if ((${#_spawned[@]} > 0)); then
		for p in "${_spawned[@]}"; do
			_signal_group TERM "$p"
		done
		if ! wait_until 3 _groups_gone "${_spawned[@]}"; then
			for p in "${_spawned[@]}"; do
				_signal_group KILL "$p"
			done
			wait_until 2 _groups_gone "${_spawned[@]}"
		fi
		for p in "${_spawned[@]}"; do
			alive "$p" || wait "$p" 2>/dev/null
		done
		_spawned=()
	fi
	rm -rf -- "$T"
}

trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
