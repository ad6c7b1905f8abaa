# tests/integration/mcpd.sh: helpers for tests that run a real mcpd.
# Source after lib.sh. Every mcpd runs with its socket and manifest in $T.
#
#   start_mcpd MANIFEST [ARGS...]  spawn mcpd (as "mcpd"), wait for its socket
#   ctl ARGS...                    mcpctl on that socket
#   state_of NAME                  the STATE column of `mcpctl status NAME`
#   wait_state SECONDS NAME STATE  wait until NAME is in STATE
#   field_of NAME FIELD            a field of `mcpctl --json status NAME`
#   mcpd_log                       what mcpd logged so far
#   mcpd_rss_kb                    mcpd's resident memory in kB
#   start_mcpd_on_free_port FN     FN PORT writes $T/m.yaml; mcpd starts on a
#                                  random free port, which is left in $port
#   mcpd_within_budget WHAT RSS_KB LOG_LINES
#                                  alive, answers status, RSS and own log
#                                  lines under budget, no sanitizer report

SOCK=$T/control.sock
# The manifest history of every mcpd goes to the test's directory, not /var/lib/mcpd or ~/.local/state.
export STATE_DIRECTORY=$T/state

ctl() {
	"$MCPCTL" -s "$SOCK" "$@"
}

_status_up() {
	ctl status >/dev/null 2>&1
}

start_mcpd() {
	local manifest=$1
	shift
	spawn mcpd "$MCPD" -c "$manifest" -s "$SOCK" "$@"
	# `mcpctl version` answers without mcpd: status is what needs it to be up.
	if ! wait_until 30 _status_up; then
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

# mcpd's resident memory in kB (empty once it is gone).
mcpd_rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$pid_mcpd/status" 2>/dev/null
}

# mcpctl status answers within 10 s.
_status_answers() {
	timeout 10 "$MCPCTL" -s "$SOCK" status >/dev/null 2>&1
}

# mcpd_within_budget WHAT RSS_KB LOG_LINES: after WHAT, mcpd is alive and
# answers status, its RSS is under RSS_KB, it logged fewer than LOG_LINES lines
# of its own (a server's stderr, "NAME: NAME: ...", has a budget of its own),
# and its stderr holds no sanitizer report. Four TAP results.
mcpd_within_budget() {
	local what=$1 rss_budget=$2 log_budget=$3 rss lines
	if alive "$pid_mcpd" && wait_until 20 _status_answers; then
		ok "after $what: mcpd is alive and answers status"
	else
		not_ok "after $what: mcpd is alive and answers status" "$(tail -n 30 "$T/mcpd.err")"
	fi
	rss=$(mcpd_rss_kb)
	if [[ -n $rss ]] && ((rss < rss_budget)); then
		ok "after $what: mcpd's RSS ${rss} kB is under ${rss_budget} kB"
	else
		not_ok "after $what: mcpd's RSS '${rss}' kB is under ${rss_budget} kB"
	fi
	lines=$(grep -cvE ': ([a-z0-9_-]+): \1: ' "$T/mcpd.err")
	if ((lines < log_budget)); then
		ok "after $what: mcpd logged $lines lines, under $log_budget"
	else
		not_ok "after $what: mcpd logged $lines lines, under $log_budget" \
			"$(cut -c 26- "$T/mcpd.err" | sort | uniq -c | sort -rn | head -n 5)"
	fi
	if grep -qE "ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer" "$T/mcpd.err"; then
		not_ok "after $what: no sanitizer report" \
			"$(grep -A 30 -E "ERROR: AddressSanitizer|runtime error" "$T/mcpd.err" | head -n 40)"
	else
		ok "after $what: no sanitizer report"
	fi
}

# start_mcpd_on_free_port FN: bounded attempts at random ports; FN PORT writes
# $T/m.yaml for that port. Sets $port; fails when mcpd never started.
start_mcpd_on_free_port() {
	local attempt
	for attempt in 1 2 3 4 5; do
		port=$(test_port)
		"$1" "$port"
		start_mcpd "$T/m.yaml" 2>/dev/null && return 0
		stop_spawned mcpd
	done
	return 1
}
