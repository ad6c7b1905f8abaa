#!/bin/bash
# Traffic metrics: requests relayed through mcpctl connect and the HTTP gateway
# (both eras) show in /metrics with exact counts per method, tool and outcome
# (ok, error, tool_error, timeout, cancelled, unavailable), requests in flight,
# bytes in and out, bounded tool labels, a multi-round request counted once;
# and in `mcpctl status --json`.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
have_node=1
[[ -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] && command -v node >/dev/null || have_node=0

tok=metrics-$RANDOM$RANDOM-secret-token
printf 'agent: %s\n' "$tok" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 1s }
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --fail-tool]
  gw:
    command: [$EXAMPLE, --name, gw, --dual-era, --fail-tool]
  stopme:
    command: [$EXAMPLE, --name, stopme]
  sdk:
    command: [$EXAMPLE, --name, sdk]
  sdk2:
    command: [$EXAMPLE, --name, sdk2, --dual-era]
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only]
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with /metrics and the gateway"; done_testing; exit 1; }
base=http://127.0.0.1:$port
for s in ex gw stopme sdk sdk2 modern; do
	wait_state 60 "$s" running || not_ok "$s running" "$(ctl status)"
done
# Tool labels come from the server's last tool list: wait until mcpd has it.
_has_tool() { ctl tools "$1" 2>/dev/null | grep -q "^$2 "; }
wait_until 60 _has_tool ex fail || not_ok "ex's tool list is known" "$(ctl tools ex 2>&1)"
wait_until 60 _has_tool gw fail || not_ok "gw's tool list is known" "$(ctl tools gw 2>&1)"

metrics() { curl -s --max-time 20 "$base/metrics"; }
# metric SERIES: its value in /metrics (empty when absent); SERIES is written as exposed.
metric() {
	metrics | grep -F "$1 " | awk '{ print $NF }'
}
_metric_is() { [[ $(metric "$1") == "$2" ]]; }
L='server="ex",method="tools/call"'

# No traffic yet: no traffic series, and the status has zeros.
is "$(metrics | grep -c '^mcpd_requests_total')" 0 "before any request, /metrics has no mcpd_requests_total series"
like "$(ctl --json status ex | tr -d ' \n')" '"traffic":\{"requests":0,"errors":0,"in_flight":0,"window_s":60,"rate":0,"error_rate":0,"p50_ms":null,"p99_ms":null\}' \
	"and mcpctl status --json has a traffic object of zeros"

# --- mcpctl connect, raw JSON lines ------------------------------------------
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
{
	echo "$init"
	echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	echo '{"jsonrpc":"2.0","id":1,"method":"ping"}'
	for i in 1 2 3; do echo '{"jsonrpc":"2.0","id":1'$i',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'; done
	for i in 1 2; do echo '{"jsonrpc":"2.0","id":2'$i',"method":"tools/call","params":{"name":"fail","arguments":{}}}'; done
	echo '{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"add","arguments":{"a":"x"}}}'
	echo '{"jsonrpc":"2.0","id":32,"method":"bogus/method"}'
	echo '{"jsonrpc":"2.0","id":33,"method":"tools/list"}'
} >"$T/lines"
out=$(timeout 60 "$MCPCTL" -s "$SOCK" connect ex <"$T/lines")
is "$(echo "$out" | wc -l)" 10 "mcpctl connect: ten answers"
is "$(metric "mcpd_requests_total{$L,tool=\"echo\",outcome=\"ok\"}")" 3 "three echo calls: outcome ok 3"
is "$(metric "mcpd_requests_total{$L,tool=\"fail\",outcome=\"tool_error\"}")" 2 "two calls of a tool that fails (isError): outcome tool_error 2"
is "$(metric "mcpd_requests_total{$L,tool=\"add\",outcome=\"error\"}")" 1 "a call with bad arguments answered with a JSON-RPC error: outcome error 1"
is "$(metric 'mcpd_requests_total{server="ex",method="other",tool="",outcome="error"}')" 1 "an unknown method is counted as method other, outcome error"
is "$(metric 'mcpd_requests_total{server="ex",method="tools/list",tool="",outcome="ok"}')" 1 "tools/list: ok 1"
is "$(metrics | grep -c 'method="initialize"\|method="ping"')" 0 "initialize and ping, answered by mcpd itself, are not counted"
is "$(metric "mcpd_request_duration_seconds_count{$L,tool=\"echo\"}")" 3 "the echo latency histogram counts 3"
is "$(metric "mcpd_request_duration_seconds_bucket{$L,tool=\"echo\",le=\"+Inf\"}")" 3 "and its +Inf bucket 3"
is "$(metric 'mcpd_requests_in_flight{server="ex"}')" 0 "nothing in flight after the answers"
bytes_in=$(metric 'mcpd_request_bytes_total{server="ex",direction="in"}')
bytes_out=$(metric 'mcpd_request_bytes_total{server="ex",direction="out"}')
# The nine counted request lines, exactly; answers at least as long as their JSON.
is "$bytes_in" "$(tail -n 8 "$T/lines" | wc -c | awk '{ print $1 - 8 }')" "bytes in are the counted request lines' bytes"
((bytes_out > 500)) && ok "bytes out count the answers ($bytes_out)" || not_ok "bytes out count the answers" "$bytes_out"

# 200 distinct tool names nobody listed: one tool="other" series.
for i in $(seq 1 200); do echo '{"jsonrpc":"2.0","id":'$i',"method":"tools/call","params":{"name":"bogus-'$i'","arguments":{}}}'; done >"$T/bogus"
out=$(timeout 60 "$MCPCTL" -s "$SOCK" connect ex <"$T/bogus")
is "$(metric "mcpd_requests_total{$L,tool=\"other\",outcome=\"error\"}")" 200 "200 calls of unlisted tools: counted under tool=\"other\""
is "$(metrics | grep '^mcpd_requests_total' | grep -c 'server="ex"')" 6 "and they make one series, not 200"
((bytes_in < $(metric 'mcpd_request_bytes_total{server="ex",direction="in"}'))) && ok "bytes in grow" || not_ok "bytes in grow"
((bytes_out < $(metric 'mcpd_request_bytes_total{server="ex",direction="out"}'))) && ok "bytes out grow" || not_ok "bytes out grow"

# A client that cancels its sleep, and one that leaves before its answer: cancelled.
mkfifo "$T/in"
exec 7<>"$T/in"
spawn conn "$MCPCTL" -s "$SOCK" connect ex <"$T/in"
echo "$init" >&7
echo '{"jsonrpc":"2.0","id":50,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":60000}}}' >&7
wait_until 30 _metric_is 'mcpd_requests_in_flight{server="ex"}' 1 &&
	ok "mcpd_requests_in_flight is 1 while a sleep call is pending" || not_ok "in flight 1" "$(metrics | grep in_flight)"
echo '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":50,"reason":"test"}}' >&7
wait_until 30 _metric_is "mcpd_requests_total{$L,tool=\"sleep\",outcome=\"cancelled\"}" 1 &&
	ok "the client's notifications/cancelled: outcome cancelled" || not_ok "cancelled" "$(metrics | grep sleep)"
is "$(metric 'mcpd_requests_in_flight{server="ex"}')" 0 "and it is no longer in flight"
echo '{"jsonrpc":"2.0","id":51,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":60000}}}' >&7
wait_until 30 _metric_is 'mcpd_requests_in_flight{server="ex"}' 1 || not_ok "second sleep in flight"
stop_spawned conn
exec 7>&-
wait_until 30 _metric_is "mcpd_requests_total{$L,tool=\"sleep\",outcome=\"cancelled\"}" 2 &&
	ok "a client that leaves before its answer: outcome cancelled" || not_ok "left: cancelled" "$(metrics | grep sleep)"
is "$(metric "mcpd_request_duration_seconds_count{$L,tool=\"sleep\"}")" "" "cancelled requests are not in the latency histogram"

# A stopped server: mcpd answers for it, outcome unavailable.
ctl stop stopme >/dev/null
wait_state 30 stopme stopped || not_ok "stopme stopped" "$(ctl status stopme)"
printf '%s\n' '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' | timeout 60 "$MCPCTL" -s "$SOCK" connect stopme >"$T/out"
like "$(cat "$T/out")" '"code":-31000' "a request to a stopped server gets -31000"
is "$(metric 'mcpd_requests_total{server="stopme",method="tools/list",tool="",outcome="unavailable"}')" 1 "and is counted as unavailable"

# --- the gateway: a legacy session, a modern POST, a timeout --------------------
post() { # post BODY [curl args]: the HTTP status; body in $T/body, headers in $T/headers
	local body=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$body" "$@"
}
G='server="gw",method="tools/call"'
is "$(post "$init" "$base/mcp/gw")" 200 "gateway: a legacy initialize"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
for i in 1 2; do
	post '{"jsonrpc":"2.0","id":'$i',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}' -H "Mcp-Session-Id: $sid" "$base/mcp/gw" >/dev/null
done
post '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fail","arguments":{}}}' -H "Mcp-Session-Id: $sid" "$base/mcp/gw" >/dev/null
like "$(cat "$T/body")" '"isError":true' "gateway: the fail tool answers isError"
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
is "$(post '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{'"$META"',"name":"echo","arguments":{"text":"hi"}}}' \
	-H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' "$base/mcp/gw")" 200 \
	"gateway: a 2026-07-28 tools/call without a session"
is "$(metric "mcpd_requests_total{$G,tool=\"echo\",outcome=\"ok\"}")" 3 "gateway, both eras: echo ok 3"
is "$(metric "mcpd_requests_total{$G,tool=\"fail\",outcome=\"tool_error\"}")" 1 "gateway: fail tool_error 1"
is "$(post '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":30000}}}' -H "Mcp-Session-Id: $sid" "$base/mcp/gw")" 200 \
	"gateway: a sleep longer than request_timeout"
like "$(cat "$T/body")" '"code":-31001' "gets -31001 (timed out)"
wait_until 10 _metric_is "mcpd_requests_total{$G,tool=\"sleep\",outcome=\"timeout\"}" 1 &&
	ok "and is counted as timeout, not cancelled" || not_ok "timeout" "$(metrics | grep 'server="gw"')"
is "$(metric "mcpd_requests_total{$G,tool=\"sleep\",outcome=\"cancelled\"}")" "" "no cancelled series for it"
((0 < $(metric 'mcpd_request_bytes_total{server="gw",direction="out"}'))) && ok "gateway answers count as bytes out" || not_ok "gateway bytes out"

# --- a multi-round request (input_required for a legacy client) counts once -----
wait_until 60 _has_tool modern ask || not_ok "modern's tool list is known" "$(ctl tools modern 2>&1)"
mkfifo "$T/l.in"
exec 8<>"$T/l.in"
spawn lc "$MCPCTL" -s "$SOCK" connect modern <"$T/l.in"
echo '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}},"clientInfo":{"name":"sh","version":"1"}}}' >&8
echo '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ask","arguments":{"kind":"elicitation"}}}' >&8
_asked() { grep -qE '"id":"mcpd-in-[0-9]+","method":"elicitation/create"' "$T/lc.out"; }
if wait_until 30 _asked; then
	is "$(metric 'mcpd_requests_in_flight{server="modern"}')" 1 "a legacy client asked for input by a 2026 server: its request is in flight while mcpd asks it"
	ask_id=$(grep -oE '"id":"mcpd-in-[0-9]+"' "$T/lc.out" | head -n 1 | cut -d: -f2)
	echo '{"jsonrpc":"2.0","id":'"$ask_id"',"result":{"action":"accept","content":{"answer":"yes"}}}' >&8
	wait_until 30 grep -q '"id":7,"result"' "$T/lc.out" || not_ok "the retried request is answered" "$(cat "$T/lc.out")"
	is "$(metric 'mcpd_requests_total{server="modern",method="tools/call",tool="ask",outcome="ok"}')" 1 \
		"and it counts once, ok, over its two rounds"
	is "$(metric 'mcpd_request_duration_seconds_count{server="modern",method="tools/call",tool="ask"}')" 1 "with one latency"
	is "$(metric 'mcpd_requests_in_flight{server="modern"}')" 0 "and is no longer in flight"
else
	not_ok "mcpd asks the legacy client for the input" "$(cat "$T/lc.out")"
fi
stop_spawned lc
exec 8>&-

# --- the SDK clients ----------------------------------------------------------
if ((have_node)); then
	out=$(timeout 120 node "$node_dir/sdk-client.mjs" call "$MCPCTL" "$SOCK" sdk add '{"a":2,"b":3}' 2>"$T/sdk.err")
	like "$out" '"text":"5"' "the SDK v1 client calls add through mcpctl connect" || diag "$(cat "$T/sdk.err")"
	is "$(metric 'mcpd_requests_total{server="sdk",method="tools/call",tool="add",outcome="ok"}')" 1 "its tools/call is counted once, tool add, ok"
	is "$(metric 'mcpd_requests_total{server="sdk",method="tools/list",tool="",outcome="ok"}')" 1 "and its tools/list"
	out=$(timeout 120 node "$node_dir/sdk2-client.mjs" pin http "$base/mcp/sdk2" "$tok" 2>"$T/sdk2.err")
	like "$out" '"era":"modern".*"result":"hello"' "the SDK v2 client (2026-07-28) calls echo through the gateway" || diag "$(cat "$T/sdk2.err")"
	is "$(metric 'mcpd_requests_total{server="sdk2",method="tools/call",tool="echo",outcome="ok"}')" 1 "its tools/call is counted once, tool echo, ok"
else
	skip "the SDK clients" "tests/node/node_modules is not installed"
fi

# --- the exposition as a whole, and the status ---------------------------------
metrics >"$T/metrics"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1 && ok "promtool check metrics passes" ||
		not_ok "promtool check metrics" "$(head -n 20 "$T/promtool.out")"
else
	skip "promtool check metrics" "promtool is not installed"
fi
for f in mcpd_requests_total mcpd_request_duration_seconds mcpd_requests_in_flight mcpd_request_bytes_total; do
	check "/metrics has the TYPE of $f" grep -q "^# TYPE $f " "$T/metrics"
done
# Five more answers now: the last 60 s (the status' window) surely hold some.
for i in 1 2 3 4 5; do echo '{"jsonrpc":"2.0","id":'$i',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'; done |
	timeout 60 "$MCPCTL" -s "$SOCK" connect ex >/dev/null
json=$(ctl --json status ex | tr -d ' \n')
like "$json" '"traffic":\{"requests":215,"errors":206,"in_flight":0,"window_s":60,' \
	"mcpctl status --json: requests 215 and errors 206 (all outcomes but ok) on ex"
like "$json" '"rate":[0-9.]*[1-9][0-9.]*,"error_rate":(0|0\.[0-9]+),"p50_ms":[0-9.]+,"p99_ms":[0-9.]+\}' \
	"with the last minute's rate, error rate, p50_ms and p99_ms"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
