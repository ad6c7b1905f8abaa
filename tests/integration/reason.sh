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
	ctl status mute 2>/dev/null | grep -qE 'mute +starting .*restarting after: no answer'
}
wait_until 60 _table_shows && ok "the status table shows it too" || not_ok "status table" "$(ctl status mute)"

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
