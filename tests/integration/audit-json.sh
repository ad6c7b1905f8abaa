#!/bin/bash
# The approval audit trail with log_format: json: each step is a line whose
# fields say what happened (approval, step, agent, tool, sha256, by,
# outcome), so that a log pipeline can follow a held call without parsing
# the text.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  log_format: json
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
    approval: [echo]
YAML
start_mcpd "$T/m.yaml" || { not_ok "mcpd starts with log_format: json and approval:"; done_testing; exit 1; }
wait_state 30 ex running || not_ok "ex running" "$(ctl status)"

mkfifo "$T/c.in"
exec 7<>"$T/c.in"
spawn c "$MCPCTL" -s "$SOCK" connect ex <"$T/c.in" 7>&-
printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' \
	'{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"one"}}}' >&7
held() { ctl --json approvals 2>/dev/null | jq -r '.approvals[0].id // empty'; }
_held() { [[ -n $(held) ]]; }
wait_until 30 _held || not_ok "the first call is held" "$(tail -n 5 "$T/mcpd.err")"
id1=$(held)
ctl approve "$id1" >/dev/null
wait_until 30 grep -q '"id":1,"result"' "$T/c.out" || not_ok "the approved call is answered" "$(cat "$T/c.out")"
printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"two"}}}' >&7
wait_until 30 _held || not_ok "the second call is held" "$(tail -n 5 "$T/mcpd.err")"
id2=$(held)
ctl deny "$id2" --reason "no" >/dev/null
wait_until 30 grep -q '"id":2,"error"' "$T/c.out" || not_ok "the denied call is answered" "$(cat "$T/c.out")"
exec 7>&-
stop_spawned c

steps() { # steps ID: the audit lines of that approval, as [step, agent, tool, by, outcome, server]
	grep '^{' "$T/mcpd.err" | jq -c --arg id "$1" 'select(.approval == $id) | [.step, .agent, .tool, .by, .outcome, .server]'
}
sha=$(printf '%s' '{"text":"one"}' | sha256sum | cut -c1-64)
is "$(steps "$id1" | tr '\n' ' ')" \
	'["requested","-","echo",null,null,"ex"] ["approved","-","echo","root (uid 0)",null,"ex"] ["executed","-","echo",null,null,"ex"] ["result",null,null,null,"ok","ex"] ' \
	"an approved call's steps are JSON lines with step, agent, tool, by and outcome fields"
is "$(grep '^{' "$T/mcpd.err" | jq -r --arg id "$id1" 'select(.approval == $id and .step == "requested") | .sha256')" "$sha" \
	"the requested line carries the arguments' sha256"
is "$(steps "$id2" | tr '\n' ' ')" '["requested","-","echo",null,null,"ex"] ["denied","-","echo","root (uid 0)",null,"ex"] ' \
	"a denied call's steps too"
like "$(grep '^{' "$T/mcpd.err" | jq -r --arg id "$id2" 'select(.approval == $id and .step == "denied") | .msg')" \
	"approval: denied id=$id2 .* by root \\(uid 0\\): no" "and the message still says it in words"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
