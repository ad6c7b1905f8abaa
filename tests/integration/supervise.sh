#!/bin/bash
# The supervisor core with real processes: handshake, status, stop/start/restart,
# logs, dependencies, exec failures, graceful shutdown.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

secret="s3cr3t-$RANDOM-value"
printf '%s\n' "$secret" >"$T/db_password"
chmod 600 "$T/db_password"
printf '# comment\nFROM_FILE=yes\n' >"$T/secretive.env"

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 200ms, max: 1s, jitter: 0 }
  stop: { timeout: 2s }
servers:
  echo:
    command: [$EXAMPLE, --name, echo, --stderr-message, "hello from echo"]
    critical: true
  calc:
    command: [$EXAMPLE, --name, calc]
    depends_on: [echo]
  missing:
    command: [$T/no-such-program]
    restart: never
  idle:
    command: [$EXAMPLE]
    autostart: false
  stubborn:
    command: [$EXAMPLE, --ignore-sigterm]
    stop: { timeout: 1s }
  secretive:
    command: [sh, -c, 'test "\$DB_PASSWORD" = "$secret" && test "\$FROM_FILE" = yes && echo "secret ok" >&2; exec "$EXAMPLE"']
    env_file: $T/secretive.env
    secrets: { DB_PASSWORD: $T/db_password }
YAML

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

wait_state 30 echo running && ok "echo reaches running after the MCP handshake" || not_ok "echo running" "$(ctl status)"
wait_state 30 calc running && ok "calc (depends_on echo) reaches running" || not_ok "calc running" "$(ctl status)"
wait_state 30 missing exited && ok "a missing program ends in exited (restart: never)" || not_ok "missing exited" "$(ctl status)"
like "$(field_of missing reason)" 'cannot execute.*No such file or directory' "exec failure is reported with the errno text, not as status 127"
is "$(state_of idle)" stopped "autostart: false stays stopped"

like "$(mcpd_log)" 'echo: .*MCP handshake done: echo 1.0.0, protocol 2025-11-25' "mcpd logs the negotiated handshake"
pid=$(field_of echo pid)
like "$pid" '^[0-9]+$' "status shows the pid of echo"
is "$(cat /proc/$pid/stat 2>/dev/null | awk '{print $5}')" "$pid" "echo runs in its own process group"
is "$(awk '/^PPid/ {print $2}' /proc/$pid/status)" "$pid_mcpd" "echo is a child of mcpd"

out=$(ctl status)
like "$(echo "$out" | head -n 1)" '^health: critical|^health: degraded|^health: ok' "status starts with the aggregate health"
like "$out" 'NAME +STATE +PID +UPTIME +RESTARTS +HEALTH +LATENCY' "status prints the table header"
is "$(echo "$out" | awk 'length > 80' | wc -l)" 0 "status fits 80 columns"

# JSON status: the documented fields.
json=$(ctl --json status)
for f in '"health"' '"servers"' '"name"' '"state"' '"pid"' '"uptime_s"' '"restarts"' '"reason"'; do
	like "$json" "$f" "--json status has $f"
done

# Logs: the server's stderr, captured line by line.
wait_until 30 sh -c "'$MCPCTL' -s '$SOCK' logs echo | grep -q 'hello from echo'" &&
	ok "logs shows echo's stderr" || not_ok "logs echo" "$(ctl logs echo 2>&1)"
like "$(mcpd_log)" 'echo: .*hello from echo' "a child's stderr line reaches mcpd's log with its name"
spawn follow "$MCPCTL" -s "$SOCK" logs -f -n 0 echo
wait_until 30 grep -q 'hello from echo' "$T/follow.out" && ok "logs -f follows new lines" || not_ok "logs -f" "$(cat "$T/follow.out" "$T/follow.err")"
stop_spawned follow

# Secrets reach the child's environment and nothing else.
wait_state 30 secretive running && ok "a server with secrets and env_file runs" || not_ok "secretive running" "$(ctl status secretive)"
wait_until 30 sh -c "'$MCPCTL' -s '$SOCK' logs secretive | grep -q 'secret ok'" &&
	ok "the secret file's content and env_file reach the child's environment" || not_ok "secret in env" "$(ctl logs secretive)"
! grep -q "$secret" "$T/mcpd.err" && ok "the secret never appears in mcpd's log" || not_ok "secret in log"
! ctl --json status | grep -q "$secret" && ok "the secret never appears in status" || not_ok "secret in status"
! tr '\0' ' ' <"/proc/$pid_mcpd/cmdline" | grep -q "$secret" && ok "the secret is not on mcpd's command line" || not_ok "secret in cmdline"

# Unknown names: a hint, exit 1, nothing done.
ctl stop ehco >"$T/out" 2>"$T/err"
is "$?" 1 "stop of an unknown name exits 1"
like "$(cat "$T/err")" 'mcpctl: no server named "ehco" \(did you mean "echo"\?\)' "unknown name gets a did-you-mean"
is "$(state_of echo)" running "an unknown name in the request changes nothing"

# Bash completion: commands, and server names from the running mcpd.
complete_words() {
	(
		PATH=$(dirname "$MCPCTL"):$PATH
		complete() { :; }
		. "$top_srcdir/mcpctl/mcpctl.bash-completion"
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_mcpctl
		printf '%s\n' "${COMPREPLY[@]}"
	)
}
is "$(complete_words mcpctl sta | sort | tr '\n' ' ')" "start status " "completion of commands"
is "$(complete_words mcpctl -s "$SOCK" restart ca | tr '\n' ' ')" "calc " "completion of server names from the running mcpd"
is "$(complete_words mcpctl con | tr '\n' ' ')" "connect " "completion of connect"
is "$(complete_words mcpctl -s "$SOCK" connect ca | tr '\n' ' ')" "calc " "and of the server to connect to"

# Stop, start, restart.
check "stop calc" ctl stop calc
wait_state 30 calc stopped && ok "calc is stopped" || not_ok "calc stopped" "$(ctl status calc)"
is "$(field_of calc pid)" null "a stopped server has no pid"
check "start calc" ctl start calc
wait_state 30 calc running && ok "calc runs again after start" || not_ok "calc restart" "$(ctl status calc)"
old=$(field_of echo pid)
check "restart echo" ctl restart echo
wait_until 30 sh -c "[ \"\$('$MCPCTL' -s '$SOCK' status echo | awk '\$1==\"echo\"{print \$2\" \"\$3}')\" != 'running $old' ] && '$MCPCTL' -s '$SOCK' status echo | grep -q ' running '"
new=$(field_of echo pid)
[[ $new != "$old" && -n $new && $new != null ]] && ok "restart gives echo a new pid" || not_ok "restart new pid" "old=$old new=$new"
alive "$old" && not_ok "the old echo process is gone" || ok "the old echo process is gone"
is "$(field_of echo restarts)" 1 "restarts counts the restart"

# A server that ignores SIGTERM is killed after stop.timeout.
wait_state 30 stubborn running
spid=$(field_of stubborn pid)
check "stop stubborn" ctl stop stubborn
wait_state 30 stubborn stopped && ok "a server ignoring SIGTERM is stopped with SIGKILL after stop.timeout" || not_ok "stubborn stopped" "$(ctl status stubborn)"
alive "$spid" && not_ok "stubborn's process is gone" || ok "stubborn's process is gone"
like "$(mcpd_log)" 'stubborn: .*sending SIGKILL' "the escalation to SIGKILL is logged"

# --all.
check "start --all" ctl start --all
wait_state 30 idle running && ok "start --all starts idle too" || not_ok "idle running" "$(ctl status idle)"

pids=$(ctl --json status | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
stop_mcpd
gone=1
for p in $pids; do alive "$p" && gone=0; done
is "$gone" 1 "SIGTERM: every server process is gone"
[[ ! -e $SOCK ]] && ok "the control socket is removed at exit" || not_ok "socket removed"
like "$(mcpd_log)" 'shutting down' "shutdown is logged"
# calc depends on echo: it must stop first.
c=$(grep -n 'calc: .*stopped' "$T/mcpd.err" | tail -n 1 | cut -d: -f1)
e=$(grep -n 'echo: .*stopped' "$T/mcpd.err" | tail -n 1 | cut -d: -f1)
[[ -n $c && -n $e && $c -lt $e ]] && ok "shutdown stops calc before echo (reverse depends_on order)" || not_ok "shutdown order" "calc line $c, echo line $e"

no_leftovers "$T" "no process is left behind"
done_testing
