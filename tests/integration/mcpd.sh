# tests/integration/mcpd.sh: helpers for tests that run a real mcpd.
# Source after lib.sh. Every mcpd runs with its socket and manifest in $T.
#
#   start_mcpd MANIFEST [ARGS...]  spawn mcpd (as "mcpd"), wait for its socket
#   ctl ARGS...                    mcpctl on that socket
#   state_of NAME                  the STATE column of `mcpctl status NAME`
#   wait_state SECONDS NAME STATE  wait until NAME is in STATE
#   field_of NAME FIELD            a field of `mcpctl --json status NAME`
#   mcpd_log                       what mcpd logged so far

SOCK=$T/control.sock

ctl() {
	"$MCPCTL" -s "$SOCK" "$@"
}

start_mcpd() {
	local manifest=$1
	shift
	spawn mcpd "$MCPD" -c "$manifest" -s "$SOCK" "$@"
	if ! wait_until 10 ctl version; then
		not_ok "mcpd starts on $manifest" "$(cat "$T/mcpd.err")"
		return 1
	fi
}

state_of() {
	ctl status "$1" 2>/dev/null | awk -v n="$1" '!/^ / && $1 == n { print $2 }'
}

_state_is() {
	[[ $(state_of "$1") == "$2" ]]
}

wait_state() {
	wait_until "$1" _state_is "$2" "$3"
}

# A top-level field of one server in the JSON status: "pid": 42 -> 42,
# "reason": "a \"b\"" -> a "b" (JSON escapes of quotes undone).
field_of() {
	local json v
	json=$(ctl --json status "$1" 2>/dev/null | tr -d '\n')
	v=$(printf '%s' "$json" | grep -oE "\"$2\": *(\"([^\"\\\\]|\\\\.)*\"|[^,}\"]*)" | head -n 1)
	v=${v#*:}
	v=${v# }
	v=${v#\"}
	v=${v%\"}
	printf '%s\n' "${v//\\\"/\"}"
}

mcpd_log() {
	cat "$T/mcpd.err" 2>/dev/null
}

_log_has() {
	grep -qE -- "$1" "$T/mcpd.err" 2>/dev/null
}

# wait_log SECONDS REGEX: wait until mcpd logged a line matching REGEX.
wait_log() {
	wait_until "$1" _log_has "$2"
}

# The process exited (it may be our zombie until `wait`).
_gone() {
	! alive "$1"
}

# Stop mcpd with SIGTERM and check it exits 0 within its shutdown.
stop_mcpd() {
	local pid=$pid_mcpd status
	kill -TERM "$pid" 2>/dev/null
	if wait_until 15 _gone "$pid"; then
		wait "$pid" 2>/dev/null
		status=$?
		is "$status" 0 "mcpd exits 0 after SIGTERM"
	else
		not_ok "mcpd exits after SIGTERM" "$(tail -n 20 "$T/mcpd.err")"
	fi
}
