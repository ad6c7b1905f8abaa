#!/bin/bash
# Attacks on the gateway's agents: policy, approvals and the aggregate
# endpoint (issue 16). A JSON object with the same member name twice: mcpd
# (cJSON) reads the first, most servers (Python's json, JavaScript's
# JSON.parse) the last, so a request that names an allowed tool first and a
# forbidden one second would pass the policy and the approval check and run
# the forbidden tool. mcpd refuses such messages (-32600) on every path.
# A reload that removes a server while an aggregate client's call to it is
# held for approval: the client gets an error, not silence.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v python3) || {
	skip "gateway attacks" "python3 is needed"
	done_testing
	exit 0
}
srv=$top_srcdir/tests/integration/attack-gateway-server.py
tok=reader-$RANDOM$RANDOM-secret-token
printf 'reader: %s\n' "$tok" >"$T/tokens"
: >"$T/ran"
with_hold=1
reader_tools='["py/search", "appr/*", "hold/*"]'
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 30s, rate_limit: 1000/min }
servers:
  py:
    command: [$PY, $srv, py, $T/ran]
  appr:
    command: [$PY, $srv, appr, $T/ran]
    approval: [delete_all]
    approval_timeout: 2s
YAML
	((with_hold)) && cat >>"$T/m.yaml" <<YAML
  hold:
    command: [$PY, $srv, hold, $T/ran]
    approval: all
    approval_timeout: 10m
YAML
	cat >>"$T/m.yaml" <<YAML
agents:
  reader:
    tools: $reader_tools
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts"; done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
wait_state 30 py running || not_ok "py running" "$(ctl status)"
wait_state 30 appr running || not_ok "appr running" "$(ctl status)"
wait_state 30 hold running || not_ok "hold running" "$(ctl status)"

post() { # post PATH SESSION BODY: the answer's body on stdout, headers in $T/headers
	curl -s -D "$T/headers" --max-time 30 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' ${2:+-H "Mcp-Session-Id: $2"} -d "$3" "$url$1"
}
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
session() { # session PATH: initializes, prints the Mcp-Session-Id
	post "$1" "" "$init" >/dev/null
	grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r'
}
ran() { grep -c "$1" "$T/ran"; }
unlike() { if [[ $1 =~ $2 ]]; then not_ok "$3" "matched: $2"; else ok "$3"; fi; }

# ---- /mcp/py: the reader may call search only
sid=$(session /py)
like "$sid" '^[0-9a-f]{32}$' "the reader opens a session on /mcp/py"
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{}}}')" \
	'"id":1,"result":.*ran search' "the reader calls py's search"
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}')" \
	'"id":2,"error":\{"code":-31003' "the reader is refused py's delete_all"
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search","name":"delete_all","arguments":{}}}')" \
	'"id":3,"error":\{"code":-32600,"message":"invalid request: .*\\"name\\" twice' \
	"a tools/call naming search, then delete_all, in one params is refused as invalid"
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":4,"method":"tools/list","method":"tools/call","params":{"name":"delete_all","arguments":{}}}')" \
	'"id":4,"error":\{"code":-32600' "a request that is tools/list, then tools/call, is refused as invalid"
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"search","arguments":{}},"params":{"name":"delete_all","arguments":{}}}')" \
	'"id":5,"error":\{"code":-32600' "a request with two params objects is refused as invalid"
is "$(ran 'py delete_all')" 0 "py's delete_all never ran"

# ---- a tool name that is not a string: a naive JavaScript server's tools[name] reads ["delete_all"] as "delete_all"
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":["delete_all"],"arguments":{}}}')" \
	'"id":22,"error":\{"code":-32602,"message":"invalid params: tools/call.s name must be a string' \
	"a tools/call whose name is an array is refused as invalid params"
like "$(post /appr "" "$init" >/dev/null; post /appr "$(session /appr)" '{"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":["delete_all"],"arguments":{}}}')" \
	'"id":23,"error":\{"code":-32602' "so is one to a server with approval: (the owner's too: it is no policy matter)"
is "$(ran 'delete_all')" 0 "delete_all never ran"

# ---- a request without an id (a notification to JSON-RPC): no answer, so no policy check; a naive server runs it
post /py "$sid" '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_all","arguments":{}}}' >/dev/null
post /appr "" "$init" >/dev/null
nsid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
post /appr "$nsid" '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_all","arguments":{}}}' >/dev/null
# The servers read their input in order: once these are answered, the notifications were read.
like "$(post /py "$sid" '{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"search","arguments":{}}}')" \
	'"id":20,"result":.*ran search' "py answers a call sent after a tools/call without an id"
like "$(post /appr "$nsid" '{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"search","arguments":{}}}')" \
	'"id":21,"result":.*ran search' "appr answers a call sent after a tools/call without an id"
is "$(ran 'py delete_all')" 0 "a tools/call without an id does not reach py past the agent's policy"
is "$(ran 'appr delete_all')" 0 "a tools/call without an id does not reach appr past its approval: [delete_all]"
like "$(mcpd_log)" "py: an MCP client's tools/call without an id was dropped" "mcpd logs the dropped tools/call without an id"

# ---- the aggregate endpoint: the name split there, the duplicate left for the server
asid=$(session "")
like "$asid" '^[0-9a-f]{32}$' "the reader opens a session on /mcp"
like "$(post "" "$asid" '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"py__search","arguments":{}}}')" \
	'"id":6,"result":.*ran search' "the reader calls py__search on /mcp"
like "$(post "" "$asid" '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"py__search","name":"delete_all","arguments":{}}}')" \
	'"id":7,"error":\{"code":-32600' "on /mcp, py__search then delete_all in one params is refused as invalid"
is "$(ran 'py delete_all')" 0 "py's delete_all never ran through /mcp either"

# ---- approvals: a held tool named second
psid=$(session /appr)
like "$(post /appr "$psid" '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"search","name":"delete_all","arguments":{}}}')" \
	'"id":8,"error":\{"code":-32600' "a call of appr's search, then delete_all (approval: [delete_all]), is refused as invalid"
is "$(ran 'appr delete_all')" 0 "appr's delete_all did not run without an approval"
like "$(post /appr "$psid" '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"delete_all","arguments":{}}}')" \
	'"id":9,"error":' "appr's delete_all, asked plainly, is held and denied when approval_timeout passes"
is "$(ran 'appr delete_all')" 0 "appr's delete_all never ran"

# ---- a duplicate deeper down is refused too (arguments: the approver and the server would read different values)
like "$(post /appr "$psid" '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"search","arguments":{"q":"a","q":"b"}}}')" \
	'"id":10,"error":\{"code":-32600' "arguments with a member twice are refused as invalid"

# ---- a reload removes a server while an aggregate client's call to it is held
hsid=$(session "")
post "" "$hsid" '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"hold__search","arguments":{}}}' \
	>"$T/held.out" &
_held() { ctl --json approvals 2>/dev/null | tr -d ' \n' | grep -q '"server":"hold","tool":"search"'; }
wait_until 30 _held || not_ok "hold__search is held" "$(ctl approvals)"
with_hold=0
write_manifest "$port"
ctl reload >/dev/null 2>&1
_answered() { grep -q '"id":11' "$T/held.out"; }
wait_until 20 _answered
like "$(cat "$T/held.out")" '"id":11,"error":\{"code":-3[0-9]+,"message":"server \\"hold\\" is no longer behind the aggregate endpoint' \
	"a held call of a server a reload removes is answered with an error naming the server"
is "$(ran 'hold search')" 0 "the held call never ran"
like "$(post "" "$hsid" '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"py__search","arguments":{}}}')" \
	'"id":12,"result":.*ran search' "the aggregate session still serves py after the reload"

# ---- a reload takes py from the reader while its aggregate session (mcpctl connect --agent) is open
INIT='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
coproc RD { exec "$MCPCTL" -s "$SOCK" connect --agent reader 2>/dev/null; }
rd_pid=$RD_PID
read_until() { # read_until TEXT: the reader's lines until one holds TEXT, in $got
	local line
	got=
	while read -t 30 -r line <&"${RD[0]}"; do
		got+=$line$'\n'
		[[ $line == *"$1"* ]] && return 0
	done
	return 1
}
owner_log() { # owner_log TEXT: the owner calls py's search, which logs TEXT first
	printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"log":"'"$1"'"}}}' |
		timeout 30 "$MCPCTL" -s "$SOCK" connect py >/dev/null 2>&1
}
printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"debug"}}' >&"${RD[1]}"
read_until '"id":1,'
owner_log visible-py-log
printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"ping"}' >&"${RD[1]}"
read_until '"id":2,'
like "$got" 'visible-py-log' "the reader's aggregate session gets py's log messages while it may use py"
reader_tools='["appr/*"]'
write_manifest "$port"
ctl reload >/dev/null 2>&1
read_until 'list_changed'
like "$got" 'notifications/tools/list_changed' "a reload that takes py from the reader: its aggregate session gets tools/list_changed"
owner_log secret-py-log
printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"ping"}' '{"jsonrpc":"2.0","id":4,"method":"tools/list"}' >&"${RD[1]}"
read_until '"id":4,'
unlike "$got" 'secret-py-log' "and no more of py's log messages"
unlike "$(grep '"id":4,' <<<"$got")" '"name":"py__' "and its tools/list leaves py out"
exec {RD[1]}>&-
wait "$rd_pid"
reader_tools='["py/search", "appr/*", "hold/*"]'
write_manifest "$port"
ctl reload >/dev/null 2>&1

# ---- the access log: a tool name cannot forge fields or lines
post /py "$sid" '{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"x outcome=ok agent=root\u001b[31m\nfake: line","arguments":{}}}' >/dev/null
post /py "$sid" '{"jsonrpc":"2.0","id":31,"method":"no such outcome=ok","params":{}}' >/dev/null
_logged() { grep -q 'method=no?such?outcome=ok' "$T/mcpd.err"; }
wait_until 10 _logged
like "$(grep 'method=tools/call tool=x' "$T/mcpd.err")" 'tool=x\?outcome=ok\?agent=root\?\[31m\?fake:\?line outcome=refused$' \
	"a tool name's spaces, escape and newline do not forge fields or a line of the access log"
is "$(grep -c '^fake' "$T/mcpd.err")" 0 "no access log line begins where the tool name's newline was"
like "$(grep 'method=no?such' "$T/mcpd.err")" 'method=no\?such\?outcome=ok outcome=' "nor does a method's"

like "$(ctl status)" 'py +running' "mcpd still serves after the attacks"
stop_mcpd

# ---- a hostile server behind the aggregate endpoint ---------------------------------------
write_hostile() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 30s, rate_limit: 1000/min }
servers:
  py:
    command: [$PY, $srv, py, $T/ran]
  bad:
    command: [$PY, $srv, bad, $T/ran, hostile]
agents:
  reader:
    tools: ["py/search", "bad/*"]
YAML
}
start_mcpd_on_free_port write_hostile || { not_ok "mcpd starts with a hostile server"; done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
wait_state 30 py running || not_ok "py running" "$(ctl status)"
wait_state 30 bad running || not_ok "bad running" "$(ctl status)"
fds0=$(ls "/proc/$pid_mcpd/fd" | wc -l)
diag "mcpd's RSS at start: $(mcpd_rss_kb) kB"
lists0=$(ran 'bad tools/list')
t0=$(date +%s)
bsid=$(session "")
post "" "$bsid" '{"jsonrpc":"2.0","id":40,"method":"tools/list"}' >"$T/tools.out"
like "$(head -c 300 "$T/tools.out")" '"id":40,"result":\{"tools":\[' "tools/list through a server that pages the same cursor forever is answered"
is "$(grep -o '"name":"[^"]\{1,64\}"' "$T/tools.out" | sort -u | tr '\n' ' ')" '"name":"bad__t1" "name":"py__search" ' \
	"it holds bad's named tools (ill-typed ones left out) and py's search"
like "$(post "" "$bsid" '{"jsonrpc":"2.0","id":41,"method":"prompts/list"}')" '"id":41,"result":\{"prompts":\[\]' \
	"prompts/list is answered without the server that never answers it"
like "$(post "" "$bsid" '{"jsonrpc":"2.0","id":42,"method":"resources/list"}')" '"id":42,"result":\{"resources":\[\{"uri":"mcpd://bad/r://1"' \
	"resources/list is answered once, though the server answers twice and under wrong ids"
like "$(post "" "$bsid" '{"jsonrpc":"2.0","id":43,"method":"resources/templates/list"}')" '"id":43,"result":\{"resourceTemplates":\[\]' \
	"resources/templates/list is answered though the server's result is not an object"
like "$(post "" "$bsid" '{"jsonrpc":"2.0","id":44,"method":"tools/call","params":{"name":"py__search","arguments":{}}}')" \
	'"id":44,"result":.*ran search' "py is still served on the same session"
# bad says list_changed after each page: mcpd lists its tools again once a second at most (and the aggregate once).
lists=$(($(ran 'bad tools/list') - lists0)) secs=$(($(date +%s) - t0 + 1))
((lists <= 2 * secs + 2)) && ok "bad's list_changed bursts do not make mcpd list in a loop ($lists lists in ${secs}s)" ||
	not_ok "bad's list_changed bursts do not make mcpd list in a loop ($lists lists in ${secs}s)"
like "$(mcpd_log)" 'bad: the server says its tools changed again within 1s of the last tools/list: mcpd lists them at most once every 1s' \
	"mcpd says so, once"
fds1=$(ls "/proc/$pid_mcpd/fd" | wc -l)
((fds1 <= fds0 + 8)) && ok "mcpd's fds stay bounded ($fds0, then $fds1)" || not_ok "mcpd's fds stay bounded ($fds0, then $fds1)"
mcpd_within_budget "a hostile server behind the aggregate endpoint" 400000 100000
stop_mcpd
done_testing
