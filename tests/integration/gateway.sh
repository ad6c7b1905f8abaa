#!/bin/bash
# The HTTP gateway: POST /mcp/NAME as a Streamable HTTP MCP endpoint for
# supervised stdio servers, with bearer tokens, a rate limit and Origin checks.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
bin=$node_dir/node_modules/.bin
have_node=1
[[ -x $bin/mcp-server-everything && -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] && command -v node >/dev/null || have_node=0

tok_a=agent-a-$RANDOM$RANDOM-secret-token
tok_b=agent-b-$RANDOM$RANDOM-secret-token
printf '# name: token\nagent-a: %s\nagent-b: %s\n' "$tok_a" "$tok_b" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, rate_limit: 50/min, allowed_origins: [https://app.example.com] }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML
	((have_node)) && cat >>"$T/m.yaml" <<YAML
  everything:
    command: [$bin/mcp-server-everything, stdio]
    health: { start_timeout: 60s }
YAML
	return 0
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with the gateway"; done_testing; }
url=http://127.0.0.1:$port/mcp
wait_state 10 ex running

post() { # post TOKEN BODY [extra curl args]: prints the HTTP status, body in $T/body, headers in $T/headers
	local token=$1 body=$2
	shift 2
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$body" "$@"
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

is "$(post wrong-token "$init" "$url/ex")" 401 "a wrong token gets 401"
is "$(post "$tok_b" "$init" -H 'Origin: https://evil.example' "$url/ex")" 403 "a foreign Origin gets 403"
is "$(post "$tok_b" "$init" -H 'Origin: https://app.example.com' "$url/ex")" 200 "an allowed Origin passes"
is "$(post "$tok_b" "$init" "$url/ex")" 200 "initialize with a valid token gets 200"
like "$(cat "$T/body")" '"serverInfo":\{"name":"ex"' "and the server's InitializeResult"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
like "$sid" '^[0-9a-f]{32}$' "with an Mcp-Session-Id"
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}' -H "Mcp-Session-Id: $sid" "$url/ex")" 200 "tools/call through the gateway"
like "$(cat "$T/body")" '"id":2,"result":\{"content":\[\{"type":"text","text":"5"\}\]' "answers with the client's id"
# Ids past 2^53 come back as written, for a relayed call and for one mcpd answers itself.
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}' -H "Mcp-Session-Id: $sid" "$url/ex")" 200 "tools/call with an id past 2^53"
like "$(cat "$T/body")" '"id":9007199254740993,"result"' "comes back with that id, not rounded"
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":-12345678901234567890,"method":"ping"}' -H "Mcp-Session-Id: $sid" "$url/ex")" 200 "ping with a huge negative id"
like "$(cat "$T/body")" '"id":-12345678901234567890,"result"' "comes back exact too"
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":3,"method":"ping"}' "$url/ex")" 400 "a request without a session gets 400"
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":3,"method":"ping"}' -H 'Mcp-Session-Id: 0123456789abcdef0123456789abcdef' "$url/ex")" 404 "an unknown session gets 404"
# The GET stream carries the server's notifications for this client: progress, list_changed.
spawn stream curl -s -N --max-time 20 -H "Authorization: Bearer $tok_b" -H "Mcp-Session-Id: $sid" "$url/ex"
wait_until 5 grep -q 'ex: gateway: GET 200' "$T/mcpd.err"
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":100},"_meta":{"progressToken":"tok-7"}}}' -H "Mcp-Session-Id: $sid" "$url/ex")" 200 "a call with a progress token"
wait_until 5 grep -q '"method":"notifications/progress","params":{"progressToken":"tok-7"' "$T/stream.out" &&
	ok "its progress arrives on the session's GET stream with the client's own token" || not_ok "progress on stream" "$(cat "$T/stream.out")"
kill -USR1 "$(field_of ex pid)"
wait_until 5 grep -q 'notifications/tools/list_changed' "$T/stream.out" &&
	ok "tools/list_changed arrives on the GET stream" || not_ok "list_changed on stream" "$(cat "$T/stream.out")"
stop_spawned stream

is "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $tok_b" -H "Mcp-Session-Id: $sid" "$url/ex")" 200 "DELETE ends the session"
is "$(post "$tok_b" '{"jsonrpc":"2.0","id":4,"method":"ping"}' -H "Mcp-Session-Id: $sid" "$url/ex")" 404 "and it is gone after"

# Rate limit: 50 requests a minute per token; the 51st gets 429 and Retry-After.
codes=""
for i in $(seq 1 51); do
	codes="$codes $(post "$tok_a" '{"jsonrpc":"2.0","id":1,"method":"ping"}' "$url/ex")"
done
is "$(echo $codes | tr ' ' '\n' | grep -vc 429)" 50 "50 requests of a token in a minute pass (400 without a session counts)"
is "$(echo $codes | awk '{print $51}')" 429 "the 51st gets 429"
like "$(cat "$T/headers")" 'Retry-After: [0-9]+' "with Retry-After"
is "$(post "$tok_b" "$init" "$url/ex")" 200 "another token has its own budget"

like "$(mcpd_log)" 'ex: gateway: POST 200 [0-9.]+ms agent=agent-b' "an access log line names the token's name"
! grep -q "$tok_a\|$tok_b" "$T/mcpd.err" && ok "no token appears in the log" || not_ok "token in log"

if ((have_node)); then
	sdk() { timeout 60 node "$node_dir/sdk-client.mjs" "$@"; }
	out=$(sdk http "$url/ex" "$tok_b" add '{"a":2,"b":3}' 2>"$T/sdk.err")
	like "$out" '"tools":\["echo","add","sleep","roots".*"text":"5"' "the SDK's Streamable HTTP client lists and calls tools through the gateway" || diag "$(cat "$T/sdk.err")"
	wait_state 60 everything running
	out=$(sdk http "$url/everything" "$tok_b" echo '{"message":"hi"}' 2>"$T/sdk.err")
	like "$out" '"text":"Echo: hi"' "and reaches server-everything through it" || diag "$(cat "$T/sdk.err")"
else
	if [[ -n ${MCPD_REQUIRE_NPM:-} ]]; then
		not_ok "node and tests/node/node_modules are installed"
	else
		skip "the SDK through the gateway" "tests/node/node_modules is not installed"
	fi
fi

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
