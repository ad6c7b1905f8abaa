#!/bin/bash
# MCP-aware health of stdio servers: periodic ping, unhealthy -> restart,
# the tool list and its refresh on list_changed, and mcpctl health's exit codes.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

"$MCPCTL" -s "$T/nothing.sock" health >"$T/out" 2>"$T/err"
is "$?" 3 "mcpctl health exits 3 when mcpd is unreachable"

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  health: { interval: 300ms, timeout: 200ms, unhealthy_after: 2 }
  backoff: { initial: 100ms, jitter: 0 }
servers:
  good:
    command: [$EXAMPLE, --name, good, --pidfile, $T/good.pid]
    critical: true
    # Probed slowly with a generous timeout: on a busy machine a ping may take
    # longer than tired's 200ms, and good must stay healthy throughout.
    health: { interval: 2s, timeout: 1500ms }
  tired:
    command: [$EXAMPLE, --name, tired, --stop-ping-after, 1s]
  helper:
    command: [$EXAMPLE, --name, helper]
    health: { interval: 2s, timeout: 1500ms }
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 30 good running
wait_state 30 helper running

# Probes: latency is measured, the tool list kept.
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' --json status good | grep -q '\"latency_ms\": *[0-9]'" &&
	ok "status shows the ping latency of good" || not_ok "latency" "$(ctl --json status good)"
# good's own health: field_of would find the aggregate first, which tired's
# failures make degraded most of the time.
is "$(ctl --json status good | jq -r '.servers[] | select(.name == "good") | .health')" ok "good is healthy"
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' --json status good | grep -q '\"tools_hash\"'"
out=$(ctl status)
like "$out" 'NAME +STATE +PID +UPTIME +RESTARTS +HEALTH +LATENCY' "status has HEALTH and LATENCY columns"
out=$(ctl tools good)
like "$out" 'echo +Returns the given text' "mcpctl tools lists echo with its description"
like "$out" 'add ' "mcpctl tools lists add"
like "$(ctl --json tools good)" '"inputSchema"' "tools --json gives the raw list"
like "$(field_of good tools_hash)" '^[0-9a-f]{16}$' "status has the hash of the tool list"
hash=$(field_of good tools_hash)

# list_changed: the example server toggles a tool on SIGUSR1 and says so.
kill -USR1 "$(cat "$T/good.pid")"
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' tools good | grep -q '^time '" &&
	ok "notifications/tools/list_changed refreshes the tool list" || not_ok "tools refreshed" "$(ctl tools good)"
[[ $(field_of good tools_hash) != "$hash" ]] && ok "the tool list hash changed" || not_ok "hash changed"
wait_log 30 'good: .*tool list changed: 5 tools' && ok "the change is logged once" || not_ok "change logged"

# A server that stops answering ping: unhealthy, then restarted, then running again.
wait_log 30 'tired: .*unhealthy: ping timed out \(200ms\) \(1 of 2 before a restart\)' &&
	ok "tired is unhealthy after its first missed ping" || not_ok "tired unhealthy" "$(grep tired "$T/mcpd.err")"
wait_log 30 'tired: .*ping timed out 2 times \(200ms\)' &&
	ok "after unhealthy_after missed pings it is restarted, and the reason says why" || not_ok "tired restarted" "$(grep tired "$T/mcpd.err")"
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' --json status tired | grep -q '\"restarts\": *[1-9]'" &&
	ok "tired has a new process" || not_ok "tired restarts" "$(ctl status tired)"
# tired is running only until its next missed ping: look for the transition in
# the log, not for the state, which a slow status call can miss every time.
tired_ran_twice() {
	(($(grep -cE 'tired: .*running \(was starting\)' "$T/mcpd.err") >= 2))
}
wait_until 30 tired_ran_twice && ok "tired is running again after the restart" ||
	not_ok "tired running" "$(grep tired "$T/mcpd.err")"
# One snapshot of the log (tired goes on failing meanwhile): each episode is
# logged once as unhealthy and once as restarted; one may be half-way through.
cp "$T/mcpd.err" "$T/snapshot.log"
unhealthy=$(grep -c 'tired: .*unhealthy: ping timed out' "$T/snapshot.log")
restarted=$(grep -c 'tired: .*stopping: ping timed out 2 times' "$T/snapshot.log")
((unhealthy == restarted || unhealthy == restarted + 1)) && ok "health is logged per change, not per probe" ||
	not_ok "health is logged per change, not per probe" "$unhealthy unhealthy, $restarted restarted" "$(grep tired "$T/snapshot.log")"

# mcpctl health: 0 ok, 1 degraded, 2 critical.
check "stop tired" ctl stop tired
ctl health >"$T/out"
is "$?" 0 "mcpctl health exits 0 when every wanted server runs"
like "$(cat "$T/out")" '^health: ok' "and says ok"
cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  health: { interval: 300ms, timeout: 200ms, unhealthy_after: 2 }
  backoff: { initial: 5s }
servers:
  good:
    command: [$EXAMPLE, --name, good, --pidfile, $T/good.pid]
    critical: true
    # Probed slowly with a generous timeout: on a busy machine a ping may take
    # longer than tired's 200ms, and good must stay healthy throughout.
    health: { interval: 2s, timeout: 1500ms }
  tired:
    command: [$EXAMPLE, --name, tired, --stop-ping-after, 1s]
    autostart: false
  helper:
    command: [$T/missing-helper]
YAML
check "reload with a broken helper" ctl reload
wait_state 30 helper backoff
# The reload restarted good (its health settings changed): it must run again first, or it is the critical one down.
wait_state 30 good running || not_ok "good runs again after the reload" "$(ctl status)"
ctl health >"$T/out"
is "$?" 1 "mcpctl health exits 1 when a non-critical server is down"
like "$(cat "$T/out")" 'helper: backoff: cannot execute' "and names the server with its reason"
check "stop good" ctl stop good
check "start good" ctl start good
wait_state 30 good running
gpid=$(field_of good pid)
kill -STOP "$gpid"
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' health >/dev/null; [ \$? = 2 ]" &&
	ok "mcpctl health exits 2 when a critical server is unhealthy" || not_ok "health 2" "$(ctl health)"
kill -CONT "$gpid" 2>/dev/null

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
