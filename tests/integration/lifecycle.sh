#!/bin/bash
# The lifecycle under pressure: 200 servers started at once (autostart in
# batches, status answers meanwhile), and servers removed by a reload freed
# only once they have no process, whatever the operator does meanwhile.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

N=200

# ---------------------------------------------------------------- startup

# Every server takes 1s to answer initialize: the handshakes overlap, and
# autostart (at most 64 handshakes at once) needs several rounds for 200.
{
	echo "version: 1"
	echo "defaults: { backoff: { initial: 200ms, max: 1s, jitter: 0 }, health: { interval: 1h } }"
	echo "servers:"
	for i in $(seq 1 "$N"); do
		echo "  s$i: { command: [$EXAMPLE, --name, lc$$-s$i, --slow-initialize, 1s] }"
	done
} >"$T/many.yaml"

count_state() {
	ctl --json status 2>/dev/null | grep -c "\"state\": *\"$1\""
}

# A status answer that shows servers still waiting for their turn: the loop
# served the control socket before every server was spawned.
answered_during_startup() {
	ctl status >"$T/early.status" 2>&1 && grep -q 'waiting for its turn to start' "$T/early.status"
}

all_running() {
	[[ $(count_state running) == "$N" ]]
}

start_mcpd "$T/many.yaml" || { done_testing; exit 1; }
if wait_until 60 answered_during_startup; then
	ok "status answers while $N servers are being started"
else
	not_ok "status answers while $N servers are being started" "$(head -n 20 "$T/early.status")"
fi
like "$(head -n 1 "$T/early.status")" '^health: degraded' "servers waiting for autostart count as down"
if wait_until 300 all_running; then
	ok "all $N servers reach running"
else
	not_ok "all $N servers reach running" "$(ctl status | grep -v ' running ' | head -n 20)"
fi
is "$(grep -c 'no answer to initialize' "$T/mcpd.err")" 0 "no handshake timed out during startup"
is "$(ctl --json status | grep -c '"restarts": *0')" "$N" "no server was restarted during startup"
wait_log 10 'every autostart server was told to start' && ok "mcpd logs the end of autostart" ||
	not_ok "mcpd logs the end of autostart" "$(tail -n 5 "$T/mcpd.err")"
stop_mcpd
no_leftovers "lc$$-s" "no example server is left after the shutdown"

# ---------------------------------------------------------------- removal

cat >"$T/full.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 30s, jitter: 0 }
servers:
  keep:
    command: [$EXAMPLE, --name, keep]
  stubborn:
    command: [$EXAMPLE, --name, stubborn, --ignore-sigterm, --pidfile, $T/stubborn.pid]
    stop: { timeout: 10s }
  flaky:
    command: [$EXAMPLE, --name, flaky, --exit-after, 0]
YAML
cat >"$T/less.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 30s, jitter: 0 }
servers:
  keep:
    command: [$EXAMPLE, --name, keep]
YAML
cp "$T/full.yaml" "$T/m.yaml"

gone() {
	! ctl status "$1" >/dev/null 2>&1
}

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 30 stubborn running && ok "stubborn runs" || not_ok "stubborn runs" "$(ctl status)"
wait_state 30 flaky backoff && ok "flaky is in backoff" || not_ok "flaky is in backoff" "$(ctl status)"
stubborn_pid=$(field_of stubborn pid)

# Removed while in backoff, and removed while running (it ignores the request to stop).
cp "$T/less.yaml" "$T/m.yaml"
check "reload removes stubborn and flaky" ctl reload
wait_until 30 gone flaky && ok "flaky (was in backoff) is gone at once" || not_ok "flaky is gone" "$(ctl status)"
is "$(state_of stubborn)" stopping "stubborn is still stopping"

# The operator starts a server that is on its way out: it must not come back.
ctl start stubborn >"$T/start.out" 2>&1
check "a second reload without stubborn succeeds" ctl reload
wait_until 30 gone stubborn && ok "stubborn is gone once its process ended" ||
	not_ok "stubborn is gone once its process ended" "$(ctl status)" "$(cat "$T/start.out")"
wait_until 10 _gone "$stubborn_pid" && ok "stubborn's process ended" || not_ok "stubborn's process ended"
is "$(cat "$T/stubborn.pid")" "$stubborn_pid" "stubborn was not started again"

# Removed, added back while still stopping, removed again, then SIGTERM.
cp "$T/full.yaml" "$T/m.yaml"
check "reload adds them back" ctl reload
wait_state 30 stubborn running && ok "stubborn runs again" || not_ok "stubborn runs again" "$(ctl status)"
cp "$T/less.yaml" "$T/m.yaml"
check "reload removes stubborn again" ctl reload
cp "$T/full.yaml" "$T/m.yaml"
check "reload takes stubborn back while it stops" ctl reload
cp "$T/less.yaml" "$T/m.yaml"
check "reload removes it once more" ctl reload
is "$(state_of stubborn)" stopping "stubborn is stopping"
wait_until 10 ctl status && ok "mcpd still answers" || not_ok "mcpd still answers"
is "$(state_of keep)" running "keep was never touched"

# Servers added by a reload start in batches too.
M=100
{
	cat "$T/less.yaml"
	for i in $(seq 1 "$M"); do
		echo "  r$i: { command: [$EXAMPLE, --name, lc$$-r$i, --slow-initialize, 1s] }"
	done
} >"$T/m.yaml"
check "reload adds $M servers" ctl reload
if wait_until 60 answered_during_startup; then
	ok "status answers while they are being started"
else
	not_ok "status answers while they are being started" "$(head -n 20 "$T/early.status")"
fi
all_added_running() {
	[[ $(count_state running) == $((M + 1)) ]]
}
wait_until 300 all_added_running && ok "all $M added servers reach running" ||
	not_ok "all $M added servers reach running" "$(ctl status | grep -v ' running ' | head -n 20)"
is "$(grep -c 'no answer to initialize' "$T/mcpd.err")" 0 "no handshake timed out after the reload"

stubborn_pid=$(cat "$T/stubborn.pid")
stop_mcpd
wait_until 10 _gone "$stubborn_pid" && ok "no stubborn process is left" || not_ok "no stubborn process is left"
no_leftovers "lc$$-r" "no added server is left after the shutdown"
if grep -qE 'AddressSanitizer|runtime error' "$T/mcpd.err"; then
	not_ok "no sanitizer report" "$(grep -E -A5 'AddressSanitizer|runtime error' "$T/mcpd.err" | head -n 30)"
else
	ok "no sanitizer report"
fi

done_testing
