#!/bin/bash
# Restart policy: backoff growth, the circuit breaker opening and closing,
# failed handshakes, garbage on stdout, orphans, and mcpd killed with SIGKILL.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# flaky fails 3 times, then works: the circuit opens at the 3rd failure and
# the trial start after the cooldown closes it.
cat >"$T/flaky.sh" <<SH
#!/bin/sh
n=\$(cat "$T/flaky.count" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$T/flaky.count"
[ "\$n" -ge 3 ] && exec "$EXAMPLE" --name flaky
echo "flaky: failing on purpose (run \$n)" >&2
exit 1
SH
chmod +x "$T/flaky.sh"

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  stop: { timeout: 2s }
servers:
  crash:
    command: [$EXAMPLE, --exit-after, "0", --exit-status, "3"]
    backoff: { initial: 200ms, factor: 2, max: 800ms, jitter: 0 }
    circuit: { failures: 0 }
  flaky:
    command: [$T/flaky.sh]
    backoff: { initial: 100ms, jitter: 0 }
    circuit: { failures: 3, window: 1m, cooldown: 1s }
  mute:
    command: [$EXAMPLE, --no-initialize]
    health: { start_timeout: 500ms }
    backoff: { initial: 5s }
  garbage:
    command: [$EXAMPLE, --garbage-stdout]
    backoff: { initial: 5s }
  huge:
    command: [$EXAMPLE, --huge-initialize, "5000000"]
    backoff: { initial: 5s }
  longline:
    command: [$EXAMPLE, --long-stderr-line, "10000"]
  forker:
    command: [$EXAMPLE, --fork-grandchild, --pidfile, $T/forker.pid, --exit-after, 300ms]
    restart: never
  survivor:
    command: [$EXAMPLE, --fork-grandchild, --pidfile, $T/survivor.pid]
  escaper:
    command: [sh, -c, "setsid sleep 300 & echo \$! > $T/escaper.pid; exec $EXAMPLE --exit-after 300ms"]
    restart: never
YAML

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

# Backoff: 200ms, 400ms, 800ms, then capped at 800ms.
wait_log 30 'crash: .*next try in 800ms \(attempt 4\)'
for a in 200ms:1 400ms:2 800ms:3 800ms:4; do
	like "$(mcpd_log)" "crash: .*backoff: exited with status 3[^;]*; next try in ${a%:*} \\(attempt ${a#*:}\\)" \
		"backoff grows by factor, capped at max: ${a%:*} before attempt ${a#*:}"
done
like "$(ctl status crash)" 'crash +(backoff|starting)' "a crashing server is shown in backoff"

# Circuit breaker.
wait_log 30 'flaky: .*3 failures in 1m, circuit open' && ok "the circuit opens after 3 failures" ||
	not_ok "circuit opens" "$(grep flaky "$T/mcpd.err")"
like "$(grep 'flaky: .*circuit open' "$T/mcpd.err" | head -n 1)" 'next try in 1.0s|next try in 1000ms|next try in 999ms' "failed shows when the trial comes"
wait_state 30 flaky running && ok "after the cooldown the trial start succeeds" || not_ok "flaky running" "$(ctl status flaky)"
like "$(mcpd_log)" 'flaky: .*circuit closed' "the circuit closes after a successful trial"
is "$(cat "$T/flaky.count")" 4 "flaky ran exactly 4 times"
like "$(ctl logs flaky)" 'failing on purpose' "logs keep the stderr of earlier runs"

# Handshake failures.
wait_log 30 'mute: .*no answer to initialize within 500ms' && ok "a server that never answers initialize goes to backoff with a reason" ||
	not_ok "mute reason" "$(grep mute "$T/mcpd.err")"
# The log line comes as it is stopped; backoff follows once its exit is reaped.
wait_state 30 mute backoff && ok "mute is in backoff" || not_ok "mute is in backoff" "$(ctl status mute)"
wait_log 30 'garbage: .*not JSON-RPC on stdout: "this is not json"' && ok "garbage on stdout during the handshake fails the attempt" ||
	not_ok "garbage reason" "$(grep garbage "$T/mcpd.err")"

# Bounded input: a 5 MB message fails that server only; a 10000-byte stderr line is split, not lost.
wait_log 30 'huge: .*sent a message larger than 4 MiB on stdout' && ok "a message over 4 MiB fails the server with a reason" ||
	not_ok "huge message" "$(grep huge "$T/mcpd.err")"
wait_state 30 longline running
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' logs longline | grep -c '^x*\$' | grep -qx 3" &&
	ok "a 10000-byte stderr line is kept as 3 pieces of at most 4096 bytes" || not_ok "long line split" "$(ctl logs longline | awk '{print length($0)}')"
is "$(ctl logs longline | tr -d '\n' | tr -cd 'x' | wc -c)" 10000 "no byte of the long line is lost"

# Orphans: a grandchild in the server's group, and one that escaped with setsid.
wait_state 30 forker exited
gc=$(cat "$T/forker.pid.grandchild" 2>/dev/null)
like "$gc" '^[0-9]+$' "forker wrote its grandchild's pid"
wait_until 30 _gone "$gc" && ok "the grandchild in the server's group is killed when the server exits" ||
	not_ok "grandchild gone" "$(ps -o pid,pgid,ppid,stat,args -p "$gc")"
wait_state 30 escaper exited
esc=$(cat "$T/escaper.pid" 2>/dev/null)
like "$esc" '^[0-9]+$' "escaper wrote its setsid grandchild's pid"
wait_until 30 _gone "$esc" && ok "a grandchild that escaped with setsid is killed and reaped too" ||
	not_ok "escaped grandchild gone" "$(ps -o pid,pgid,ppid,stat,args -p "$esc")"

# SIGKILL of mcpd: no child survives it, nor a grandchild.
wait_state 30 survivor running
pids=$(ctl --json status | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
pids="$pids $(cat "$T/survivor.pid.grandchild" 2>/dev/null)"
[[ -n $pids ]] && ok "servers are running before mcpd is killed" || not_ok "servers have pids"
kill -KILL "$pid_mcpd"
wait "$pid_mcpd" 2>/dev/null
left=
for p in $pids; do
	wait_until 30 _gone "$p" || left="$left $p"
done
[[ -z $left ]] && ok "SIGKILL of mcpd leaves no child or grandchild behind" || not_ok "children outlived mcpd" "$(ps -o pid,ppid,args -p ${left// /,})"

# The killed mcpd left its socket behind: a new mcpd replaces the stale one.
[[ -S $SOCK ]] && ok "SIGKILL leaves a stale socket" || not_ok "stale socket exists"
cat >"$T/small.yaml" <<YAML
version: 1
servers:
  one:
    command: [$EXAMPLE]
YAML
start_mcpd "$T/small.yaml" && ok "a new mcpd replaces the stale socket"
wait_log 30 'replacing the stale socket' && ok "and says so" || not_ok "stale socket logged" "$(mcpd_log)"
wait_state 30 one running && ok "and supervises" || not_ok "one running" "$(ctl status)"
stop_mcpd

no_leftovers "$T" "no process is left behind"
done_testing
