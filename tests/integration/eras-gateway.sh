#!/bin/bash
# The HTTP gateway in both protocol eras: sessionless 2026-07-28 POSTs with
# their header checks, JSON-RPC error bodies for every refusal, event-stream
# responses carrying a request's progress, subscriptions/listen, a closed
# stream cancelling upstream, 2025-03-26 batches, GET/DELETE 405 when modern,
# and the SDK clients (v1; v2 legacy, auto and pinned) through it.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
have_node=1
[[ -d $node_dir/node_modules/@modelcontextprotocol/sdk && -d $node_dir/node_modules/@modelcontextprotocol/client ]] &&
	command -v node >/dev/null || have_node=0

tok=eras-$RANDOM$RANDOM-secret-token
printf 'agent: %s\n' "$tok" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 20s, max_sessions_per_token: 200 }
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --log-requests]
  dual:
    command: [$EXAMPLE, --name, dual, --dual-era, --log-requests]
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only, --log-requests]
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with the gateway"; done_testing; }
url=http://127.0.0.1:$port/mcp
wait_state 30 ex running
wait_state 30 dual running
wait_state 30 modern running

# post BODY [curl args]: the HTTP status; the body in $T/body, the headers in $T/headers.
post() {
	local body=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -d "$body" "$@"
}
V=2026-07-28
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
# mpost METHOD [NAME] BODY [curl args]: a modern POST with the headers that mirror BODY.
mpost() {
	local method=$1 body=$2
	shift 2
	post "$body" -H "MCP-Protocol-Version: $V" -H "Mcp-Method: $method" -H 'Accept: application/json, text/event-stream' "$@"
}
json_error() { # json_error CODE: the body is a JSON-RPC error with this code
	jq -e --argjson c "$1" '.jsonrpc == "2.0" and .error.code == $c and (.error.message | length > 0)' "$T/body" >/dev/null
}
ctype() { grep -i '^content-type:' "$T/headers" | cut -d' ' -f2- | tr -d '\r'; }

list='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{'"$META"'}}'
echo_call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{'"$META"',"name":"echo","arguments":{"text":"hi"}}}'

# --- Modern POSTs: no session --------------------------------------------------
for srv in modern dual ex; do
	is "$(mpost tools/list "$list" "$url/$srv")" 200 "$srv: a modern tools/list without a session gets 200"
	like "$(cat "$T/body")" '"id":1,"result":\{.*"tools":\[\{"name":"echo"' "$srv: with the tools"
	! grep -qi '^mcp-session-id:' "$T/headers" && ok "$srv: and no Mcp-Session-Id is minted" ||
		not_ok "no session id" "$(cat "$T/headers")"
	is "$(mpost tools/call "$echo_call" -H 'Mcp-Name: echo' "$url/$srv")" 200 "$srv: a modern tools/call echo gets 200"
	like "$(cat "$T/body")" '"id":2,"result":\{.*"text":"hi"' "$srv: with the echo"
done
is "$(mpost tools/call "$echo_call" -H 'Mcp-Name: =?base64?ZWNobw==?=' "$url/modern")" 200 \
	"Mcp-Name in the base64 sentinel form is decoded before the comparison"
is "$(mpost server/discover '{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{'"$META"'}}' "$url/modern")" 200 \
	"server/discover without a session gets 200"
like "$(cat "$T/body")" '"supportedVersions":\[[^]]*"2026-07-28"' "with the supported versions"
is "$(mpost tools/list "$list" -H 'Mcp-Session-Id: 0123456789abcdef0123456789abcdef' "$url/modern")" 200 \
	"a modern POST ignores an Mcp-Session-Id header"

is "$(mpost no/such '{"jsonrpc":"2.0","id":6,"method":"no/such","params":{'"$META"'}}' "$url/modern")" 404 \
	"a modern request for a method the server lacks gets 404"
json_error -32601 && like "$(cat "$T/body")" '"id":6' "with its -32601 error as the body" || not_ok "404 -32601" "$(cat "$T/body")"
is "$(mpost notifications/x '{"jsonrpc":"2.0","method":"notifications/x","params":{'"$META"'}}' "$url/modern")" 202 \
	"a modern notification gets 202"
! grep -qi '^mcp-session-id:' "$T/headers" && ok "without an Mcp-Session-Id" || not_ok "no session id on 202" "$(cat "$T/headers")"

# --- Header validation: 400 with -32020 naming the header ----------------------
is "$(post "$list" -H "MCP-Protocol-Version: $V" "$url/modern")" 400 "a missing Mcp-Method gets 400"
json_error -32020 && like "$(cat "$T/body")" 'Mcp-Method' "with -32020 naming Mcp-Method" || not_ok "-32020 Mcp-Method" "$(cat "$T/body")"
is "$(mpost tools/call "$list" "$url/modern")" 400 "an Mcp-Method that differs from the body's method gets 400"
json_error -32020 && like "$(cat "$T/body")" '"id":1,.*Mcp-Method header value .tools/call. does not match body value .tools/list.' \
	"with -32020, the request's id and both values" || not_ok "-32020 mismatch" "$(cat "$T/body")"
is "$(mpost tools/call "$echo_call" "$url/modern")" 400 "tools/call without Mcp-Name gets 400"
json_error -32020 && like "$(cat "$T/body")" 'Mcp-Name header is required' "with -32020 naming Mcp-Name" || not_ok "-32020 Mcp-Name missing" "$(cat "$T/body")"
is "$(mpost tools/call "$echo_call" -H 'Mcp-Name: add' "$url/modern")" 400 "an Mcp-Name that differs from params.name gets 400"
json_error -32020 && ok "with -32020" || not_ok "-32020 Mcp-Name" "$(cat "$T/body")"
is "$(mpost tools/call "$echo_call" -H 'Mcp-Name: =?base64?YWRk?=' "$url/modern")" 400 "a base64 Mcp-Name that decodes to another name gets 400"
is "$(mpost tools/call "$echo_call" -H 'Mcp-Name: =?base64?!!!?=' "$url/modern")" 400 "a malformed base64 Mcp-Name gets 400"
json_error -32020 && ok "with -32020" || not_ok "-32020 malformed" "$(cat "$T/body")"
read_body='{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{'"$META"',"uri":"file:///a"}}'
is "$(mpost resources/read "$read_body" -H 'Mcp-Name: file:///b' "$url/modern")" 400 "resources/read: Mcp-Name must equal params.uri"
is "$(post "$list" -H 'MCP-Protocol-Version: 2025-11-25' -H 'Mcp-Method: tools/list' "$url/modern")" 400 \
	"a version header that differs from the body's _meta version gets 400"
json_error -32020 && like "$(cat "$T/body")" 'MCP-Protocol-Version' "with -32020 naming MCP-Protocol-Version" || not_ok "-32020 version" "$(cat "$T/body")"
is "$(post "$list" -H 'Mcp-Method: tools/list' "$url/modern")" 400 "a body with _meta version but no version header gets 400"
json_error -32020 && ok "with -32020" || not_ok "-32020 no header" "$(cat "$T/body")"
is "$(post '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' -H 'MCP-Protocol-Version: 2099-01-01' "$url/modern")" 400 \
	"a version header mcpd does not speak gets 400"
json_error -32022 && like "$(cat "$T/body")" '"data":\{"supported":\[[^]]*"2026-07-28".*"requested":"2099-01-01"' \
	"with -32022 and the supported versions" || not_ok "-32022" "$(cat "$T/body")"
! grep -q '"method":"tools/call","params":{[^}]*"name":"add"' "$T/mcpd.err" &&
	ok "no refused request reached a server" || not_ok "refused request reached a server"

# --- Legacy sessions: the version header is checked, batches for 2025-03-26 only -----
init() { echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'"$1"'","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'; }
is "$(post "$(init 2025-11-25)" -H 'MCP-Protocol-Version: 2099-01-01' "$url/ex")" 400 "initialize with an unsupported version header gets 400"
json_error -32022 && ok "with -32022" || not_ok "-32022 legacy" "$(cat "$T/body")"
is "$(post "$(init 2025-11-25)" "$url/ex")" 200 "initialize 2025-11-25"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
like "$sid" '^[0-9a-f]{32}$' "opens a session"
is "$(post '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' "$url/ex")" 200 \
	"a POST with the negotiated version header gets 200"
is "$(post '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2099-01-01' "$url/ex")" 400 \
	"a session's POST with a version header mcpd does not speak gets 400"
json_error -32022 && ok "with -32022" || not_ok "-32022 session" "$(cat "$T/body")"
is "$(post '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18' "$url/ex")" 400 \
	"a session's POST with another version than it negotiated gets 400"
json_error -32600 && like "$(cat "$T/body")" '"id":2,.*negotiated, 2025-11-25' "with a JSON-RPC error naming both versions" ||
	not_ok "legacy mismatch" "$(cat "$T/body")"
batch='[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}},{"jsonrpc":"2.0","method":"notifications/x"}]'
is "$(post "$batch" -H "Mcp-Session-Id: $sid" "$url/ex")" 400 "a batch in a 2025-11-25 session gets 400"
json_error -32600 && like "$(cat "$T/body")" 'only for sessions of protocol version 2025-03-26' "with a JSON-RPC error saying why" ||
	not_ok "batch refused" "$(cat "$T/body")"
is "$(post "$(init 2025-03-26)" "$url/ex")" 200 "initialize 2025-03-26"
like "$(cat "$T/body")" '"protocolVersion":"2025-03-26"' "is granted 2025-03-26"
sid0326=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
is "$(post "$batch" -H "Mcp-Session-Id: $sid0326" "$url/ex")" 200 "a batch in a 2025-03-26 session gets 200"
jq -e 'type == "array" and length == 2 and (map(.id) | sort) == ["a","b"] and
	(.[] | select(.id == "b") | .result.content[0].text) == "5"' "$T/body" >/dev/null &&
	ok "answered by an array of the two answers" || not_ok "batch answers" "$(cat "$T/body")"
is "$(post '[{"jsonrpc":"2.0","method":"notifications/x"}]' -H "Mcp-Session-Id: $sid0326" "$url/ex")" 202 \
	"a batch of notifications only gets 202"
big="[$(for i in $(seq 1 101); do printf '{"jsonrpc":"2.0","id":%d,"method":"ping"},' "$i"; done | sed 's/,$//')]"
is "$(post "$big" -H "Mcp-Session-Id: $sid0326" "$url/ex")" 400 "a batch of 101 messages gets 400"
like "$(cat "$T/body")" 'at most 100 messages' "saying the bound"

# --- JSON-RPC error bodies for every refusal -----------------------------------
is "$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -H 'Authorization: Bearer wrong' -d "$list" "$url/ex")" 401 "a wrong token gets 401"
json_error -32600 && [[ $(ctype) == application/json* ]] && ok "with a JSON-RPC error body (application/json)" || not_ok "401 body" "$(cat "$T/body")"
is "$(post "$list" "$url/nosuch")" 404 "an unknown server gets 404"
json_error -31000 && like "$(cat "$T/body")" '"id":null' "with a JSON-RPC error body, id null" || not_ok "404 body" "$(cat "$T/body")"
is "$(post "$list" "http://127.0.0.1:$port/mcpx")" 404 "a POST to /mcpx gets 404, not a reset connection (/mcp is the aggregate endpoint)"
json_error -32600 && like "$(cat "$T/body")" '/mcp/NAME' "with a JSON-RPC error body naming /mcp/NAME" || not_ok "/mcp body" "$(cat "$T/body")"
is "$(post "$list" "http://127.0.0.1:$port/other")" 404 "a POST to /other gets 404"
json_error -32600 && ok "with a JSON-RPC error body" || not_ok "/other body" "$(cat "$T/body")"
is "$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X PUT -H "Authorization: Bearer $tok" "$url/ex")" 405 "PUT gets 405"
json_error -32600 && ok "with a JSON-RPC error body" || not_ok "405 body" "$(cat "$T/body")"
is "$(post '{"jsonrpc":"2.0","id":3,"method":"ping"}' "$url/ex")" 400 "a legacy request without a session gets 400"
json_error -32600 && like "$(cat "$T/body")" '"id":3' "with a JSON-RPC error carrying its id" || not_ok "400 body" "$(cat "$T/body")"
is "$(post '{"jsonrpc":' -H "Mcp-Session-Id: $sid" "$url/ex")" 400 "a body that is not JSON gets 400"
json_error -32700 && ok "with a parse error" || not_ok "parse error body" "$(cat "$T/body")"

# --- GET and DELETE: 405 when modern ---------------------------------------------
get() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $tok" "$@"; }
is "$(get -H "MCP-Protocol-Version: $V" "$url/ex")" 405 "a GET with MCP-Protocol-Version 2026-07-28 gets 405"
json_error -32600 && grep -qi '^allow: POST' "$T/headers" && ok "with a JSON-RPC error and Allow: POST" || not_ok "405 GET" "$(cat "$T/headers" "$T/body")"
is "$(get "$url/modern")" 405 "a GET without a session on a modern server gets 405"
is "$(get -X DELETE -H "MCP-Protocol-Version: $V" "$url/ex")" 405 "a DELETE with MCP-Protocol-Version 2026-07-28 gets 405"
is "$(get -X DELETE "$url/modern")" 405 "a DELETE without a session on a modern server gets 405"
is "$(get "$url/ex")" 400 "a GET without a session on a legacy server still gets 400"

# --- Event-stream responses: a request's progress, then its answer -----------------
sleep_call='{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":300},"_meta":{"progressToken":"tok-7"}}}'
is "$(post "$sleep_call" -H "Mcp-Session-Id: $sid" -H 'Accept: application/json, text/event-stream' "$url/ex")" 200 \
	"a legacy call with a progress token, Accept with text/event-stream, no GET stream"
[[ $(ctype) == text/event-stream* ]] && ok "is answered with text/event-stream" || not_ok "SSE content type" "$(cat "$T/headers")"
grep -qi '^x-accel-buffering: no' "$T/headers" && ok "with X-Accel-Buffering: no" || not_ok "X-Accel-Buffering" "$(cat "$T/headers")"
like "$(tr -d '\r' <"$T/body" | grep '^data: ' | head -n 1)" '"method":"notifications/progress","params":\{"progressToken":"tok-7"' \
	"its first event is the progress, with the client's token"
like "$(tr -d '\r' <"$T/body" | grep '^data: ' | tail -n 1)" '"id":7,"result"' "its last event is the answer"
is "$(post "$sleep_call" -H "Mcp-Session-Id: $sid" -H 'Accept: application/json' "$url/ex")" 200 "the same call accepting JSON only"
[[ $(ctype) == application/json* ]] && like "$(cat "$T/body")" '^\{"jsonrpc":"2.0","id":7,"result"' "is answered with application/json" ||
	not_ok "JSON answer" "$(cat "$T/headers" "$T/body")"
msleep='{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{'"${META%\}}"',"progressToken":"p8"},"name":"sleep","arguments":{"ms":300}}}'
is "$(mpost tools/call "$msleep" -H 'Mcp-Name: sleep' "$url/modern")" 200 "a modern call with a progress token"
[[ $(ctype) == text/event-stream* ]] && like "$(tr -d '\r' <"$T/body" | grep '^data: ' | head -n 1)" '"progressToken":"p8"' \
	"streams its progress before its answer" || not_ok "modern SSE" "$(cat "$T/headers" "$T/body")"
like "$(tr -d '\r' <"$T/body" | grep '^data: ' | tail -n 1)" '"id":8,"result"' "and ends with its answer"

# Log messages of a request come on its stream too: modern (by its _meta logLevel) and legacy.
mlog='{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{'"${META%\}}"',"io.modelcontextprotocol/logLevel":"info"},"name":"log","arguments":{"level":"warning","text":"modern-log"}}}'
is "$(mpost tools/call "$mlog" -H 'Mcp-Name: log' "$url/modern")" 200 "a modern call that logs, with _meta logLevel"
[[ $(ctype) == text/event-stream* ]] && like "$(tr -d '\r' <"$T/body" | grep '^data: ' | head -n 1)" '"method":"notifications/message".*"modern-log"' \
	"streams its log message before its answer" || not_ok "modern log on stream" "$(cat "$T/headers" "$T/body")"
like "$(tr -d '\r' <"$T/body" | grep '^data: ' | tail -n 1)" '"id":12,"result"' "and ends with its answer"
is "$(post '{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"log","arguments":{"level":"error","text":"legacy-log"}}}' \
	-H "Mcp-Session-Id: $sid" -H 'Accept: application/json, text/event-stream' "$url/ex")" 200 "a legacy call that logs, no GET stream open"
[[ $(ctype) == text/event-stream* ]] && like "$(tr -d '\r' <"$T/body" | grep '^data: ' | head -n 1)" '"method":"notifications/message".*"legacy-log"' \
	"streams its log message before its answer" || not_ok "legacy log on stream" "$(cat "$T/headers" "$T/body")"

# A request of the server's related to a legacy call (roots/list for the roots tool) comes on
# that call's event stream; the client POSTs its answer, and the call's answer ends the stream.
# (Until the relay routes it by the related request, it goes to the oldest session: end the others.)
for s in "$sid" "$sid0326"; do
	is "$(get -X DELETE -H "Mcp-Session-Id: $s" "$url/ex")" 200 "DELETE still ends a legacy session"
done
init_roots='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{}},"clientInfo":{"name":"curl-roots","version":"1"}}}'
is "$(post "$init_roots" "$url/ex")" 200 "a session that declares roots"
sidr=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
spawn rootscall curl -s -N --max-time 60 -H "Authorization: Bearer $tok" -H "Mcp-Session-Id: $sidr" \
	-H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"roots","arguments":{}}}' "$url/ex"
if wait_until 20 grep -q '"method":"roots/list"' "$T/rootscall.out"; then
	ok "the server's roots/list comes on the call's own event stream"
	rid=$(grep '"method":"roots/list"' "$T/rootscall.out" | head -n 1 | sed 's/^data: //' | jq -c .id)
	is "$(post '{"jsonrpc":"2.0","id":'"$rid"',"result":{"roots":[{"uri":"file:///from-curl"}]}}' -H "Mcp-Session-Id: $sidr" "$url/ex")" 202 \
		"the client POSTs its answer"
	wait_until 20 grep -q '"id":11,"result"' "$T/rootscall.out" &&
		like "$(grep '"id":11,' "$T/rootscall.out")" 'file:///from-curl' "and the call's answer, with the roots, ends the stream" ||
		not_ok "roots call answered" "$(cat "$T/rootscall.out")"
else
	not_ok "the server's roots/list comes on the call's own event stream" "$(cat "$T/rootscall.out")"
fi
stop_spawned rootscall

# --- A closed response stream cancels the upstream request ------------------------
long='{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{'"${META%\}}"',"progressToken":"p9"},"name":"sleep","arguments":{"ms":15000}}}'
spawn closer curl -s -N --max-time 60 -H "Authorization: Bearer $tok" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' \
	-H 'Mcp-Name: sleep' -H 'Accept: application/json, text/event-stream' -d "$long" "$url/modern"
wait_until 20 grep -q '"progressToken":"p9"' "$T/closer.out" && ok "a long modern call streams" || not_ok "long call streams" "$(cat "$T/closer.out")"
stop_spawned closer
wait_until 20 grep -q 'modern: .*request: {"jsonrpc":"2.0","method":"notifications/cancelled"' "$T/mcpd.err" &&
	ok "its client closing the stream sends notifications/cancelled to the server" ||
	not_ok "cancel on close" "$(grep 'modern: ' "$T/mcpd.err" | tail -n 5)"

# --- subscriptions/listen: a long-lived event stream --------------------------------
# On the legacy server ex, mcpd's relay answers the listen itself and tags list_changed.
listen='{"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{'"$META"',"notifications":{"toolsListChanged":true}}}'
n=$(grep -c 'ex: an MCP client detached' "$T/mcpd.err")
spawn listener curl -s -N --max-time 60 -H "Authorization: Bearer $tok" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: subscriptions/listen' \
	-H 'Accept: application/json, text/event-stream' -d "$listen" "$url/ex"
wait_until 20 grep -q 'data: ' "$T/listener.out" && ok "subscriptions/listen answers with an event stream at once" ||
	not_ok "listen stream opens" "$(cat "$T/listener.out")"
kill -USR1 "$(field_of ex pid)"
wait_until 20 grep -q 'notifications/tools/list_changed' "$T/listener.out" &&
	ok "tools/list_changed arrives on the listen stream" || not_ok "listen stream" "$(cat "$T/listener.out")"
like "$(grep list_changed "$T/listener.out")" '"io.modelcontextprotocol/subscriptionId":"L1"' "tagged with the client's own listen id"
! grep -q '"id":"L1",' "$T/listener.out" && ok "and the stream stays open (no final answer)" || not_ok "listen ended" "$(cat "$T/listener.out")"
wait_until 60 grep -qx ':' "$T/listener.out" && ok "a quiet listen stream gets a keep-alive comment line within 30 s" ||
	not_ok "keep-alive" "$(cat "$T/listener.out")"
stop_spawned listener
detached_more() { (($(grep -c 'ex: an MCP client detached' "$T/mcpd.err") > n)); }
wait_until 20 detached_more &&
	ok "closing the listen stream detaches its relay session" || not_ok "listen detach" "$(grep 'ex: ' "$T/mcpd.err" | tail -n 5)"
is "$(post "$listen" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: subscriptions/listen' -H 'Accept: application/json' "$url/ex")" 406 \
	"subscriptions/listen without Accept text/event-stream gets 406"
json_error -32600 && ok "with a JSON-RPC error" || not_ok "406 body" "$(cat "$T/body")"

# On the modern server the listen goes upstream; closing its stream cancels it there.
listen2='{"jsonrpc":"2.0","id":"L2","method":"subscriptions/listen","params":{'"$META"',"notifications":{"toolsListChanged":true}}}'
spawn listener2 curl -s -N --max-time 60 -H "Authorization: Bearer $tok" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: subscriptions/listen' \
	-H 'Accept: application/json, text/event-stream' -d "$listen2" "$url/modern"
wait_until 20 grep -q 'data: ' "$T/listener2.out" && ok "a listen on the modern server streams its acknowledgment" ||
	not_ok "modern listen ack" "$(cat "$T/listener2.out")"
kill -USR1 "$(field_of modern pid)"
wait_until 20 grep -q 'notifications/tools/list_changed' "$T/listener2.out" &&
	like "$(grep list_changed "$T/listener2.out")" '"io.modelcontextprotocol/subscriptionId":"L2"' \
		"the modern server's list_changed arrives, tagged with the client's listen id" ||
	not_ok "modern listen list_changed" "$(cat "$T/listener2.out")"
n=$(grep -c 'modern: .*request: {"jsonrpc":"2.0","method":"notifications/cancelled"' "$T/mcpd.err")
stop_spawned listener2
cancelled_more() { (($(grep -c 'modern: .*request: {"jsonrpc":"2.0","method":"notifications/cancelled"' "$T/mcpd.err") > n)); }
wait_until 20 cancelled_more && ok "closing it sends notifications/cancelled to the server" ||
	not_ok "modern listen cancel" "$(grep 'modern: ' "$T/mcpd.err" | tail -n 5)"

# --- Many modern calls at once, a third of them abandoned mid-stream -------------------
n=$(grep -c 'modern: .*request: {"jsonrpc":"2.0","method":"notifications/cancelled"' "$T/mcpd.err")
pids=()
for i in $(seq 1 60); do
	ms=300 max=30
	((i % 3 == 0)) && ms=20000 max=2
	curl -s -N --max-time $max -o "$T/many.$i" -H "Authorization: Bearer $tok" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' \
		-H 'Mcp-Name: sleep' -H 'Accept: application/json, text/event-stream' \
		-d '{"jsonrpc":"2.0","id":'"$i"',"method":"tools/call","params":{'"${META%\}}"',"progressToken":"m'"$i"'"},"name":"sleep","arguments":{"ms":'"$ms"'}}}' \
		"$url/modern" &
	pids+=($!)
done
wait "${pids[@]}"
answered=0
for i in $(seq 1 60); do
	((i % 3 == 0)) && continue
	grep -q '"id":'"$i"',"result"' "$T/many.$i" && grep -q '"progressToken":"m'"$i"'"' "$T/many.$i" && answered=$((answered + 1))
done
is "$answered" 40 "40 modern calls at once each get their own progress and answer"
cancelled20() { (($(grep -c 'modern: .*request: {"jsonrpc":"2.0","method":"notifications/cancelled"' "$T/mcpd.err") >= n + 20)); }
wait_until 30 cancelled20 && ok "the 20 abandoned ones are cancelled upstream" ||
	not_ok "20 cancelled" "$(($(grep -c 'modern: .*request: {"jsonrpc":"2.0","method":"notifications/cancelled"' "$T/mcpd.err") - n)) cancelled"

# --- SDK clients ------------------------------------------------------------------
if ((have_node)); then
	out=$(timeout 90 node "$node_dir/sdk-client.mjs" http "$url/ex" "$tok" add '{"a":2,"b":3}' 2>"$T/sdk.err")
	like "$out" '"text":"5"' "the SDK v1 client still works through the gateway" || diag "$(cat "$T/sdk.err")"
	for mode in pin auto legacy; do
		for srv in modern dual ex; do
			out=$(timeout 90 node "$node_dir/sdk2-client.mjs" "$mode" http "$url/$srv" "$tok" 2>"$T/sdk2.err")
			# mcpd bridges: a modern client gets the modern era on a legacy server too.
			era=modern
			[[ $mode == legacy ]] && era=legacy
			like "$out" "\"era\":\"$era\".*\"result\":\"hello\"" "SDK v2 client, $mode mode, on $srv: $era era, lists and calls" ||
				diag "$(cat "$T/sdk2.err")"
		done
	done
else
	skip "the SDK clients through the gateway" "tests/node/node_modules is not installed"
fi

mcpd_within_budget "the era checks" 200000 2000
stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
