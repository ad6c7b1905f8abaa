#!/bin/bash
# Children that flood mcpd with output. A legacy HTTP+SSE server whose one
# event never ends: mcpd's memory stays bounded, the probe fails naming the
# bound and the server ends up in backoff; an answer over 4 MiB is refused
# the same way. A stdio server that floods stdout
# with non-JSON after the handshake: mcpd's log stays within its budget and
# a "suppressed N lines" summary says what was dropped. Throughout, mcpd
# stays up and answers `mcpctl status` in time.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# ASan keeps freed memory in a quarantine (256 MB by default): what is
# measured here is mcpd's own memory, so keep the quarantine small.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

RSS_BUDGET_KB=$((100 * 1024))	# mcpd, while a server streams an endless event at it
LOG_RATE=200 LOG_BURST=1000	# lines per second, and at once: lograte.h

port=$(test_port)
cat >"$T/m.yaml" <<YAML
version: 1
servers:
  endless:
    transport: http
    url: http://127.0.0.1:$port/mcp
    command: [$EXAMPLE, --legacy-sse, "127.0.0.1:$port", --name, endless, --endless-sse-event]
    health: { interval: 2s, timeout: 1s, start_timeout: 30s }
    backoff: { initial: 3s, jitter: 0 }
  huge:
    transport: http
    url: http://127.0.0.1:$((port + 1))/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$((port + 1))", --name, huge, --huge-initialize, 5000000]
    health: { interval: 2s, timeout: 1s, start_timeout: 30s }
    backoff: { initial: 3s, jitter: 0 }
  loud:
    command: [$EXAMPLE, --name, loud, --flood-stdout]
    autostart: false
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$pid_mcpd/status" 2>/dev/null
}

# Records the largest RSS of mcpd seen so far, then runs CMD: for wait_until.
max_rss=0
sampling() {
	local r
	r=$(rss_kb)
	((${r:-0} > max_rss)) && max_rss=${r:-0}
	"$@"
}

reason_has() {
	[[ $(field_of "$1" reason) == *"$2"* ]]
}

in_backoff_because() {
	_state_is "$1" backoff && reason_has "$1" "$2"
}

# mcpctl status answers within SECONDS (fractions allowed).
status_within() {
	local t0 t1 ms
	t0=$(_now_us)
	ctl status >/dev/null 2>&1 || { not_ok "$2" "mcpctl status failed" "$(tail -n 5 "$T/mcpd.err")"; return; }
	t1=$(_now_us)
	ms=$(((t1 - t0) / 1000))
	diag "mcpctl status took ${ms} ms"
	((ms < $1 * 1000)) && ok "$2" || not_ok "$2" "took ${ms} ms"
}

# ---- an SSE event that never ends

wait_until 60 sampling reason_has endless "larger than 4 MiB" &&
	ok "a legacy SSE event past 4 MiB fails the probe, and the reason names the bound" ||
	not_ok "endless: reason names the bound" "$(ctl status endless)" "$(grep 'endless:' "$T/mcpd.err" | tail -n 5)"
wait_until 60 sampling reason_has huge "response larger than 4 MiB; connection dropped" &&
	ok "an HTTP answer past 4 MiB fails the probe, and the reason names the bound" ||
	not_ok "huge: reason names the bound" "$(ctl status huge)"
wait_until 60 sampling in_backoff_because endless "larger than 4 MiB" &&
	ok "the server ends up in backoff, its reason naming the bound" ||
	not_ok "endless in backoff" "$(ctl status endless)"
like "$(mcpd_log)" 'endless: .*an event larger than 4 MiB; connection dropped' "mcpd logs that it dropped the stream"
# One more start and its probes: memory must not grow with each stream.
wait_until 60 sampling bash -c "'$MCPCTL' -s '$SOCK' --json status endless | grep -q '\"restarts\": *[1-9]'" &&
	wait_until 60 sampling in_backoff_because endless "larger than 4 MiB" &&
	ok "and again after a restart" || not_ok "endless: a second round" "$(ctl status endless)"
diag "largest RSS of mcpd while the endless event was streamed: ${max_rss} kB (budget ${RSS_BUDGET_KB} kB)"
((max_rss > 0 && max_rss < RSS_BUDGET_KB)) && ok "mcpd's RSS stays under $((RSS_BUDGET_KB / 1024)) MB" ||
	not_ok "mcpd's RSS: ${max_rss} kB"
alive "$pid_mcpd" && ok "mcpd is still up" || not_ok "mcpd died" "$(tail -n 20 "$T/mcpd.err")"
status_within 3 "mcpctl status answers in time while the endless server is probed"
check "stop the endless and huge servers" ctl stop endless huge

# ---- stdout flooded with non-JSON after the handshake

log_at_start() {
	wc -c <"$T/mcpd.err"
}
suppressed_since() {
	tail -c +"$1" "$T/mcpd.err" | grep -qE 'loud: suppressed [0-9]+ lines in the last [0-9]+s .*stdout lines that are not JSON-RPC were dropped'
}
offset=$(($(log_at_start) + 1))
t0=$(_now_us)
check "start the server that floods stdout" ctl start loud
wait_state 20 loud running && ok "it passes the handshake" || not_ok "loud running" "$(ctl status loud)"
wait_until 30 suppressed_since "$offset" && ok "a \"suppressed N lines\" summary is logged" ||
	not_ok "no suppressed summary" "$(tail -n 5 "$T/mcpd.err")"
status_within 3 "mcpctl status answers in time during the stdout flood"
# A second window: the budget holds over time, not only for the first burst.
n1=$(tail -c +"$offset" "$T/mcpd.err" | grep -c 'loud: suppressed')
wait_until 30 bash -c "[ \$(tail -c +$offset '$T/mcpd.err' | grep -c 'loud: suppressed') -gt $n1 ]" &&
	ok "summaries keep coming, once per window" || not_ok "a second summary"
t1=$(_now_us)
secs=$(((t1 - t0) / 1000000 + 1))
lines=$(tail -c +"$offset" "$T/mcpd.err" | wc -l)
bytes=$(tail -c +"$offset" "$T/mcpd.err" | wc -c)
budget_lines=$((LOG_BURST + LOG_RATE * secs + 100))
budget_bytes=$((budget_lines * 300))
diag "stdout flood: mcpd logged $lines lines, $bytes bytes in ${secs}s (budget $budget_lines lines, $budget_bytes bytes)"
diag "$(tail -c +"$offset" "$T/mcpd.err" | grep 'loud: suppressed' | tail -n 1)"
((lines <= budget_lines)) && ok "mcpd's log stays within its budget of lines" || not_ok "log lines: $lines"
((bytes <= budget_bytes)) && ok "mcpd's log stays within its budget of bytes" || not_ok "log bytes: $bytes"
summaries=$(tail -c +"$offset" "$T/mcpd.err" | grep -c 'loud: suppressed')
((summaries <= secs / 5 + 2)) && ok "at most one summary per 5s window ($summaries in ${secs}s)" ||
	not_ok "$summaries summaries in ${secs}s"
alive "$pid_mcpd" && ok "mcpd is still up" || not_ok "mcpd died" "$(tail -n 20 "$T/mcpd.err")"
check "stop the flooding server" ctl stop loud

stop_mcpd
done_testing
