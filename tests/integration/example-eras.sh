#!/bin/bash
# shellcheck disable=SC2016,SC2154,SC2317 # single-quoted inner scripts; pid_NAME, fd_NAME set indirectly
# Integration test of the example server's protocol eras, without mcpd:
# legacy by default, --dual-era and --modern-only (2026-07-28: server/discover,
# _meta on every request, resultType, cache hints), over stdio through FIFOs
# and over Streamable HTTP with curl.
set -u
. "$(dirname "$0")/lib.sh"

if [[ ! -x $EXAMPLE ]]; then
	not_ok "the example server is built" "missing: $EXAMPLE"
	done_testing
fi

# ---------------------------------------------------------------- stdio helpers

# start_stdio NAME ARGS...: the server with its stdin on a FIFO that `send
# NAME` writes to (opened in the child, so EOF comes when we close ours).
start_stdio() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in" || return 1
	spawn "$name" bash -c 'exec "$@" <"$0"' "$T/$name.in" "$EXAMPLE" "$@"
	exec {fd}<>"$T/$name.in" # read-write: does not wait for the reader
	printf -v "fd_$name" '%s' "$fd"
}

# send NAME LINE...: writes each LINE to the server's stdin.
send() {
	local var=fd_$1
	shift
	printf '%s\n' "$@" >&"${!var}"
}

# response NAME ID: the line of the server's stdout that answers JSON-RPC id
# ID (as JSON: 3 or '"a"'), waiting up to 10 s for it.
response() {
	local re="\"id\":$2,\"(result|error)\""
	wait_until 10 grep -Eq -- "$re" "$T/$1.out" || return 1
	grep -E -m 1 -- "$re" "$T/$1.out"
}

# jget JSON FILTER: one value of a JSON text, compact (jq -c).
jget() {
	printf '%s' "$1" | jq -c "$2" 2>/dev/null
}

PV='"io.modelcontextprotocol/protocolVersion"'
CAPS='"io.modelcontextprotocol/clientCapabilities"'
M="\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},\"io.modelcontextprotocol/clientInfo\":{\"name\":\"example-eras.sh\",\"version\":\"0\"}}"
init='{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"example-eras.sh","version":"0"}}}'

# modern ID METHOD [PARAMS]: a 2026-07-28 request (PARAMS: members, without braces).
modern() {
	printf '{"jsonrpc":"2.0","id":%s,"method":"%s","params":{%s%s}}' "$1" "$2" "${3:+$3,}" "$M"
}

# ---------------------------------------------------------------- legacy (default)

start_stdio legacy --log-requests
send legacy "$(modern 1 server/discover)"
r=$(response legacy 1)
is "$(jget "$r" .error.code)" -32601 "default (legacy only): server/discover is an unknown method"
send legacy "$init" "$(modern 2 tools/list)"
r=$(response legacy '"init"')
is "$(jget "$r" .result.protocolVersion)" '"2025-06-18"' "default: initialize answered"
r=$(response legacy 2)
is "$(jget "$r" '.result | has("resultType") or has("ttlMs")')" false \
	"default: a request with _meta gets a legacy result (no resultType, no ttlMs)"
like "$(cat "$T/legacy.err")" '^request: \{"jsonrpc":"2\.0","id":1,"method":"server/discover"' \
	"--log-requests: each message received on a stderr line \"request: JSON\""
stop_spawned legacy

# ---------------------------------------------------------------- --dual-era

start_stdio dual --dual-era
send dual "$(modern 1 server/discover)"
r=$(response dual 1)
is "$(jget "$r" .result.resultType)" '"complete"' "--dual-era: server/discover is complete"
is "$(jget "$r" .result.supportedVersions)" '["2026-07-28"]' "--dual-era: discover lists 2026-07-28"
is "$(jget "$r" '.result._meta["io.modelcontextprotocol/serverInfo"]')" '{"name":"example","version":"1.0.0"}' \
	"--dual-era: discover names the server in _meta"
is "$(jget "$r" '.result.capabilities.tools')" '{"listChanged":true}' "--dual-era: discover gives the capabilities"
is "$(jget "$r" '[.result.ttlMs, .result.cacheScope]')" '[60000,"public"]' "--dual-era: discover is cacheable, 60 s"
like "$(jget "$r" .result.instructions)" 'example MCP server' "--dual-era: discover has the instructions"

send dual '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "$(modern 3 tools/list)"
r=$(response dual 2)
is "$(jget "$r" '.result | has("resultType") or has("ttlMs")')" false \
	"--dual-era: a request without _meta is served as legacy"
r=$(response dual 3)
is "$(jget "$r" '[.result.resultType, .result.ttlMs, .result.cacheScope]')" '["complete",60000,"public"]' \
	"--dual-era: a modern tools/list has resultType and cache hints"
send dual "$init"
r=$(response dual '"init"')
is "$(jget "$r" .result.protocolVersion)" '"2025-06-18"' "--dual-era: initialize still answered"
send dual "$(modern 4 tools/call '"name":"echo","arguments":{"text":"hi"}')"
r=$(response dual 4)
is "$(jget "$r" '[.result.resultType, .result.content[0].text]')" '["complete","hi"]' \
	"--dual-era: a modern tools/call after initialize is still modern"
stop_spawned dual

# ---------------------------------------------------------------- --modern-only

start_stdio modern --modern-only --ttl-ms 1234 --log-requests
send modern "$init"
r=$(response modern '"init"')
is "$(jget "$r" .error.code)" -32022 "--modern-only: initialize gets -32022"
is "$(jget "$r" .error.data.supported)" '["2026-07-28"]' "--modern-only: ... naming the supported versions"
like "$(jget "$r" .error.message)" '2026-07-28' "--modern-only: ... in its message too"

send modern '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
r=$(response modern 1)
is "$(jget "$r" .error.code)" -32602 "--modern-only: a request without _meta protocolVersion gets -32602"
send modern "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"_meta\":{$PV:\"2026-07-28\"}}}"
r=$(response modern 2)
is "$(jget "$r" .error.code)" -32602 "--modern-only: a request without _meta clientCapabilities gets -32602"
send modern "{\"jsonrpc\":\"2.0\",\"id\":\"v\",\"method\":\"tools/list\",\"params\":{\"_meta\":{$PV:\"2025-11-25\",$CAPS:{}}}}"
r=$(response modern '"v"')
is "$(jget "$r" '[.error.code, .error.data.supported, .error.data.requested]')" '[-32022,["2026-07-28"],"2025-11-25"]' \
	"--modern-only: another _meta version gets -32022 with data.supported and data.requested"

send modern "$(modern 3 server/discover)" "$(modern 4 tools/list)" "$(modern 5 resources/list)" \
	"$(modern 6 prompts/list)" "$(modern 7 resources/templates/list)"
r=$(response modern 3)
is "$(jget "$r" .result.ttlMs)" 1234 "--ttl-ms: discover's ttlMs"
for id in 4 5 6 7; do
	r=$(response modern $id)
	is "$(jget "$r" '[.result.resultType, .result.ttlMs, .result.cacheScope]')" '["complete",1234,"public"]' \
		"--modern-only: list result $id has resultType, ttlMs from --ttl-ms, cacheScope"
done
send modern "$(modern 8 logging/setLevel '"level":"debug"')"
r=$(response modern 8)
is "$(jget "$r" .error.code)" -32601 "--modern-only: logging/setLevel is not part of 2026-07-28"

send modern "$(modern '"big-1"' tools/call '"name":"sleep","arguments":{"ms":50}')"
r=$(response modern '"big-1"')
is "$(jget "$r" '[.result.resultType, .result.content[0].text]')" '["complete","slept 50 ms"]' \
	"--modern-only: a deferred result (sleep) is complete too, string id kept"
send modern "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"sleep\",\"arguments\":{\"ms\":300},\"_meta\":{\"progressToken\":\"p9\",$PV:\"2026-07-28\",$CAPS:{}}}}"
r=$(response modern 9)
like "$(grep -c '"method":"notifications/progress","params":{"progressToken":"p9"' "$T/modern.out")" '^[1-9]' \
	"--modern-only: sleep sends progress to a modern request's progressToken"

long=$(printf 'x%.0s' $(seq 1 3000))
send modern "$(modern 10 tools/call "\"name\":\"echo\",\"arguments\":{\"text\":\"$long\"}")"
r=$(response modern 10)
line=$(grep -m 1 '^request: .*"id":10,' "$T/modern.err")
is "${#line}" $((9 + 1000)) "--log-requests: a message is cut to 1000 bytes"
stop_spawned modern

# ---------------------------------------------------------------- flags

check_fail "--dual-era and --modern-only are exclusive" "$EXAMPLE" --dual-era --modern-only
check_fail "--modern-only needs stdio or --http" "$EXAMPLE" --modern-only --legacy-sse 127.0.0.1:0
check_fail "--ttl-ms takes a count" "$EXAMPLE" --ttl-ms 1s

done_testing
