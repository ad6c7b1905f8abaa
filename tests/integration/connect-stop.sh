#!/bin/bash
# mcpd stops (SIGTERM, SIGINT) while `mcpctl connect` sessions are open: a
# handed-over one (stdin and stdout pipes) and a copying one (stdout a file).
# Each MCP client gets its in-flight request's error naming the stop, and
# mcpctl says why mcpd closed the connection, on both paths.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML

# An initialized client with a 10-minute sleep in flight, then nothing more until it is ended.
printf '%s\n' \
	'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' \
	'{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":600000}}}' >"$T/req"

# session NAME MODE [REQ]: mcpctl connect ex, stdin a pipe; MODE handed: stdout a pipe too, copy: a file.
# Its exit status goes to $T/NAME.exit, its stderr to $T/NAME.stderr, what the client read to $T/NAME.got.
session() {
	local name=$1 mode=$2 req=${3:-/dev/null}
	# Stdin from a process substitution: a pipe that bash does not wait for.
	local run='"$1" -s "$2" connect ex 2>"$3.stderr" < <(cat "$4"; exec sleep 600)'
	if [[ $mode == handed ]]; then
		run+=' | cat >"$3.got"; echo "${PIPESTATUS[0]}" >"$3.exit"'
	else
		run+=' >"$3.got"; echo "$?" >"$3.exit"'
	fi
	spawn "$name" bash -c "$run" _ "$MCPCTL" "$SOCK" "$T/$name" "$req" </dev/null
}

_in_flight() {
	[[ $(mcpd_log | grep -c 'sleeping 600000 ms') -ge $1 ]]
}

_handed_over() {
	local p
	p=$(pgrep -s "$1" -x mcpctl) && [[ $(readlink "/proc/$p/fd/1") == /dev/null ]]
}

# --- SIGTERM: a handed-over and a copying session, each with a request in flight.
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
session h handed "$T/req"
session c copy "$T/req"
wait_until 60 _in_flight 2 || not_ok "both sessions have their sleep in flight" "$(mcpd_log)"
wait_until 30 _handed_over "$pid_h" || not_ok "the pipe session is handed over" "$(cat "$T/h.stderr")"
kill -TERM "$pid_mcpd"
wait_until 90 test -s "$T/h.exit"
wait_until 90 test -s "$T/c.exit"
is "$(cat "$T/h.exit")" 1 "SIGTERM, handed over: mcpctl exits 1"
is "$(cat "$T/h.stderr")" "mcpctl: mcpd closed the connection: mcpd is stopping (SIGTERM)" \
	"SIGTERM, handed over: mcpctl says mcpd is stopping, and why"
like "$(cat "$T/h.got")" '"id":2,"error":\{"code":-31000,"message":"server \\"ex\\" was stopped: mcpd is stopping \(SIGTERM\); this request was not answered"\}' \
	"SIGTERM, handed over: the request in flight is answered with the stop's cause"
is "$(cat "$T/c.exit")" 1 "SIGTERM, copying: mcpctl exits 1"
is "$(cat "$T/c.stderr")" "mcpctl: mcpd closed the connection: mcpd is stopping (SIGTERM)" \
	"SIGTERM, copying: mcpctl says mcpd is stopping, as handed over"
like "$(cat "$T/c.got")" '"id":2,"error":\{"code":-31000,"message":"server \\"ex\\" was stopped: mcpd is stopping \(SIGTERM\); this request was not answered"\}' \
	"SIGTERM, copying: the request in flight is answered with the stop's cause, as handed over"
is "$(grep -c '' "$T/c.got")" 2 "SIGTERM, copying: the client got its two answers and nothing else (mcpctl took mcpd's final line out)"
wait_until 30 _groups_gone "$pid_mcpd"
stop_spawned h
stop_spawned c
stop_spawned mcpd

# --- SIGINT: sessions with nothing in flight (their queues empty when the server stops).
rm -f "$T/h.exit" "$T/c.exit"
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
session h handed
session c copy
_attached() { [[ $(mcpd_log | grep -c 'an MCP client attached') -ge 2 ]]; }
wait_until 30 _handed_over "$pid_h" || not_ok "the pipe session is handed over" "$(cat "$T/h.stderr")"
wait_until 30 _attached || not_ok "both sessions attached" "$(mcpd_log)"
kill -INT "$pid_mcpd"
wait_until 90 test -s "$T/h.exit"
wait_until 90 test -s "$T/c.exit"
is "$(cat "$T/h.exit")" 1 "SIGINT, handed over, idle: mcpctl exits 1"
is "$(cat "$T/h.stderr")" "mcpctl: mcpd closed the connection: mcpd is stopping (SIGINT)" \
	"SIGINT, handed over, idle: mcpctl says mcpd is stopping (SIGINT)"
is "$(cat "$T/c.exit") $(cat "$T/c.stderr")" "1 mcpctl: mcpd closed the connection: mcpd is stopping (SIGINT)" \
	"SIGINT, copying, idle: mcpctl exits 1 and says the same"
is "$(wc -c <"$T/c.got")" 0 "SIGINT, copying, idle: the client got nothing (no final line)"
like "$(mcpd_log)" "received SIGINT" "mcpd logged the signal"
stop_spawned h
stop_spawned c
stop_spawned mcpd

# --- SIGTERM, a server that ignores it: killed after mcpd.shutdown_timeout; its client is told the same.
cat >"$T/m3.yaml" <<YAML
version: 1
mcpd:
  shutdown_timeout: 1s
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --ignore-sigterm]
    stop: { timeout: 30s }
YAML
rm -f "$T/c.exit"
start_mcpd "$T/m3.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
session c copy "$T/req"
wait_until 60 _in_flight 1 || not_ok "the sleep is in flight" "$(mcpd_log)"
kill -TERM "$pid_mcpd"
wait_until 90 test -s "$T/c.exit"
like "$(mcpd_log)" "servers still running after shutdown_timeout" "a server ignoring SIGTERM outlives mcpd.shutdown_timeout"
like "$(cat "$T/c.got")" '"id":2,"error":\{"code":-31000,"message":"server \\"ex\\" was stopped: mcpd is stopping \(SIGTERM\); this request was not answered"\}' \
	"SIGTERM past shutdown_timeout: the request in flight is answered with the stop's cause"
is "$(cat "$T/c.exit") $(cat "$T/c.stderr")" "1 mcpctl: mcpd closed the connection: mcpd is stopping (SIGTERM)" \
	"SIGTERM past shutdown_timeout: mcpctl says mcpd is stopping"
stop_spawned c
stop_spawned mcpd
done_testing
