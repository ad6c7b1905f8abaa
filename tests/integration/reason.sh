#!/bin/bash
# While a server starts again after a failure, `mcpctl status` keeps showing
# why it failed ("restarting after: ..."), until it runs again.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  mute:
    command: [$EXAMPLE, --name, mute, --no-initialize]
    health: { start_timeout: 3s }
    backoff: { initial: 1s, jitter: 0 }
    circuit: { failures: 100, window: 5m }
  slow:
    command: [$EXAMPLE, --name, slow, --slow-initialize, 3s]
    restart: always
    health: { start_timeout: 30s }
  a-server-name-longer-than-twenty:
    command: [$EXAMPLE, --exit-after, "0"]
    backoff: { initial: 1s, jitter: 0 }
    circuit: { failures: 100, window: 5m }
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

_starting_after_failure() {
	local json
	json=$(ctl --json status mute 2>/dev/null | tr -d '\n')
	[[ $json == *'"state": "starting"'* && $json == *'"reason": "restarting after: no answer to initialize within 3s"'* ]]
}
wait_until 60 _starting_after_failure &&
	ok "starting again after a failure, the reason says which failure" ||
	not_ok "reason while starting after a failure" "$(ctl status mute)"
_table_shows() {
	ctl status mute >"$T/table" 2>/dev/null &&
		grep -qE '^mute +starting ' "$T/table" && grep -qE '^    restarting after: no answer' "$T/table"
}
wait_until 60 _table_shows && ok "the status table shows it too, on the line below the server's row" ||
	not_ok "status table" "$(ctl status mute)"

# One layout whatever the reasons: every line fits 80 columns, the row never
# holds the reason, a long name ends with "~", a long reason wraps, never cut.
_layout() {
	ctl status >"$T/all" 2>/dev/null || return 1
	awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$T/all" &&
		head -n 2 "$T/all" | tail -n 1 | grep -qE '^NAME +STATE +PID +UPTIME +RESTARTS +HEALTH +LATENCY$' &&
		grep -qE '^a-server-name-longe~ ' "$T/all" &&
		grep -qE '^    .*exited with status 1' "$T/all" && grep -qE '^    .*next try in' "$T/all"
}
wait_until 60 _layout && ok "the status table fits 80 columns, with its reasons on lines of their own" ||
	not_ok "status layout" "$(cat "$T/all")"

# A first start has no failure to show; once running, the reason is empty.
wait_state 30 slow running || not_ok "slow runs" "$(ctl status slow)"
kill -TERM "$(field_of slow pid)"
_slow_restarting() {
	[[ $(state_of slow) == starting && $(field_of slow reason) == "restarting after: "* ]]
}
wait_until 30 _slow_restarting && ok "a server killed by a signal shows why while it starts again" ||
	not_ok "slow restarting" "$(ctl status slow)"
wait_state 30 slow running && ok "slow runs again" || not_ok "slow running again" "$(ctl status slow)"
is "$(field_of slow reason)" "" "and the reason is gone once it runs"

stop_mcpd
done_testing
