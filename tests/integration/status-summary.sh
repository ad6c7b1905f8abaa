#!/bin/bash
# `status` with "summary": true (what `mcpctl status`'s table asks for): each
# server carries exactly the table's members of its full status, in the same
# order and with the same values; a summary that is not a boolean is refused.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ! command -v socat >/dev/null || ! command -v jq >/dev/null; then
	skip "status summary" "socat or jq is not installed"
	done_testing
	exit 0
fi

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  one:
    command: [$EXAMPLE, --name, one]
  two:
    command: [$EXAMPLE, --name, two]
  idle:
    command: [$EXAMPLE, --name, idle]
    autostart: false
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 30 one running || not_ok "one running" "$(ctl status)"
wait_state 30 two running || not_ok "two running" "$(ctl status)"

# Traffic on one: its window has a rate, an error rate, p50 and p99 (fractions).
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
{
	echo "$init"
	echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	for i in 1 2 3 4 5; do echo '{"jsonrpc":"2.0","id":1'$i',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'; done
	echo '{"jsonrpc":"2.0","id":21,"method":"bogus/method"}'
} >"$T/lines"
is "$(timeout 60 "$MCPCTL" -s "$SOCK" connect one <"$T/lines" | wc -l)" 7 "seven requests through mcpctl connect answered"

# Both replies from one connection, back to back.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"status"}' \
	'{"jsonrpc":"2.0","id":2,"method":"status","params":{"summary":true}}' \
	'{"jsonrpc":"2.0","id":3,"method":"status","params":{"summary":true,"names":["idle"]}}' \
	'{"jsonrpc":"2.0","id":4,"method":"status","params":{"summary":"yes"}}' |
	socat -t 10 - "UNIX-CONNECT:$SOCK" >"$T/replies"
is "$(wc -l <"$T/replies")" 4 "four replies, one line each"
full=$(sed -n 1p "$T/replies")
summary=$(sed -n 2p "$T/replies")
named=$(sed -n 3p "$T/replies")

# The full status, cut down to the table's members (uptime and resource figures, which move, by type).
project='.result | .servers |= map({name, state, pid, uptime_s, restarts, reason, health, latency_ms}
	+ (if has("traffic") then {traffic: (.traffic | {requests, rate, error_rate, p50_ms, p99_ms})} else {} end)
	+ (if has("resources") then {resources: (.resources | {cpu_percent, memory_bytes})} else {} end))'
steady='.servers |= map(.uptime_s |= type | if .resources then .resources |= map_values(type) else . end)'
want=$(jq -c "$project | $steady" <<<"$full")
got=$(jq -c ".result | $steady" <<<"$summary")
is "$got" "$want" "a summary carries the table's members of the full status, in order, with the same values"
is "$(jq -c '[.result.servers[] | keys_unsorted | length]' <<<"$summary")" \
	"$(jq -c '[.result.servers[] | (if .traffic then 9 else 8 end) + (if .resources then 1 else 0 end)]' <<<"$full")" \
	"and nothing else"
is "$(jq -c '.result.servers[0].traffic | [.requests, (.rate > 0), (.error_rate > 0), (.p50_ms | type)]' <<<"$summary")" \
	'[6,true,true,"number"]' "one's traffic has its requests, a rate, an error rate and a p50"
is "$(jq -c '.result.servers[0].traffic' <<<"$summary")" "$(jq -c '.result.servers[0].traffic | {requests, rate, error_rate, p50_ms, p99_ms}' <<<"$full")" \
	"the same figures as the full status"
is "$(jq -c '[.jsonrpc, .id, (.result | keys_unsorted)]' <<<"$summary")" '["2.0",2,["health","manifest","servers"]]' \
	"the reply is a JSON-RPC result with health, manifest and servers"
is "$(jq -c '.result.manifest' <<<"$summary")" "$(jq -c '.result.manifest' <<<"$full")" "the manifest is the full status's"
is "$(jq -c '[.result.servers[] | .name, .state, .pid]' <<<"$named")" '["idle","stopped",null]' \
	"a summary of named servers: a stopped one has no pid"
like "$(sed -n 4p "$T/replies")" '"id":4,.*"code":-32602,"message":"\\"summary\\" must be a boolean"' \
	"a summary that is not a boolean is refused"

# The table from a summary is the table it always was: each row and its notes.
like "$(ctl status)" 'one +running +[0-9]+ ' "mcpctl status shows the table"
check "mcpd still answers" ctl version
done_testing
