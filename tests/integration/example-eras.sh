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

# ---------------------------------------------------------------- step 2: legacy ask, log, touch

# answer NAME LINE: the server->client request's id in LINE, for a reply.
srv_id() {
	jget "$1" .id
}

# count NAME REGEX: how many lines of NAME's stdout match.
count() {
	grep -Ec -- "$2" "$T/$1.out"
}

linit='{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},"elicitation":{}},"clientInfo":{"name":"example-eras.sh","version":"0"}}}'
call() { # call ID TOOL ARGS: a legacy tools/call
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$1" "$2" "$3"
}

start_stdio lg --dual-era
send lg "$linit" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
response lg '"init"' >/dev/null
r=$(response lg '"init"')
is "$(jget "$r" .result.capabilities.resources)" '{"subscribe":true,"listChanged":true}' \
	"initialize: resources can be subscribed to"
send lg '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
r=$(response lg 1)
is "$(jget "$r" '[.result.tools[].name] | map(select(. == "ask" or . == "log" or . == "touch"))')" '["ask","log","touch"]' \
	"--dual-era: tools/list has ask, log and touch"

send lg "$(call 2 ask '{"kind":"sampling"}')"
wait_until 10 grep -q '"method":"sampling/createMessage"' "$T/lg.out"
req=$(grep -m 1 '"method":"sampling/createMessage"' "$T/lg.out")
like "$(srv_id "$req")" '^"srv-[0-9]+"$' "legacy ask sampling: a real sampling/createMessage with a string id"
is "$(jget "$req" '.params.messages[0].content.type')" '"text"' "... asking for a message"
send lg "{\"jsonrpc\":\"2.0\",\"id\":$(srv_id "$req"),\"result\":{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"sampled words\"},\"model\":\"m\"}}"
r=$(response lg 2)
is "$(jget "$r" '[.result.isError, .result.content[0].text]')" '[false,"sampled words"]' \
	"legacy ask sampling: the tool returns the client's text"

send lg "$(call 3 ask '{"kind":"elicitation"}')"
wait_until 10 grep -q '"method":"elicitation/create"' "$T/lg.out"
req=$(grep -m 1 '"method":"elicitation/create"' "$T/lg.out")
send lg "{\"jsonrpc\":\"2.0\",\"id\":$(srv_id "$req"),\"error\":{\"code\":-1,\"message\":\"user said no\"}}"
r=$(response lg 3)
is "$(jget "$r" '[.result.isError, .result.content[0].text]')" '[true,"elicitation/create failed: user said no"]' \
	"legacy ask elicitation: the client's error becomes a tool error"
send lg "$(call 4 ask '{"kind":"roots"}')"
r=$(response lg 4)
is "$(jget "$r" '.result.isError')" true "legacy ask roots: the client did not declare roots: a tool error"
like "$(jget "$r" '.result.content[0].text')" 'roots capability' "... naming the capability"
is "$(count lg '"method":"roots/list"')" 0 "... and no roots/list sent"

send lg "$(call 5 log '{"level":"debug","text":"all goes"}')"
r=$(response lg 5)
like "$(grep '"method":"notifications/message"' "$T/lg.out")" '"level":"debug".*"data":"all goes"' \
	"legacy log: without logging/setLevel, every level goes out"
send lg '{"jsonrpc":"2.0","id":6,"method":"logging/setLevel","params":{"level":"warning"}}'
r=$(response lg 6)
is "$(jget "$r" .result)" '{}' "logging/setLevel answered"
wait_until 10 grep -q '^log level warning$' "$T/lg.err"
like "$(cat "$T/lg.err")" '^log level warning$' "logging/setLevel: stderr line \"log level warning\""
send lg "$(call 7 log '{"level":"info","text":"too quiet"}')" "$(call 8 log '{"level":"error","text":"loud"}')"
response lg 7 >/dev/null
response lg 8 >/dev/null
is "$(count lg '"data":"too quiet"')" 0 "legacy log: below the level set: not sent"
is "$(count lg '"method":"notifications/message".*"data":"loud"')" 1 "legacy log: at or above it: sent"

send lg '{"jsonrpc":"2.0","id":9,"method":"resources/subscribe","params":{"uri":"file:///a"}}'
response lg 9 >/dev/null
wait_until 10 grep -q '^subscribed file:///a$' "$T/lg.err"
like "$(cat "$T/lg.err")" '^subscribed file:///a$' "resources/subscribe: stderr line \"subscribed URI\""
send lg "$(call 10 touch '{"uri":"file:///a"}')"
r=$(response lg 10)
is "$(count lg '"method":"notifications/resources/updated","params":\{"uri":"file:///a"\}')" 1 \
	"legacy touch: the subscriber gets notifications/resources/updated"
send lg '{"jsonrpc":"2.0","id":11,"method":"resources/unsubscribe","params":{"uri":"file:///a"}}' "$(call 12 touch '{"uri":"file:///a"}')"
r=$(response lg 12)
is "$(jget "$r" '.result.content[0].text')" '"touched file:///a: 0 subscribers notified"' \
	"resources/unsubscribe: touch then notifies nobody"
wait_until 10 grep -q '^unsubscribed file:///a$' "$T/lg.err"
like "$(cat "$T/lg.err")" '^unsubscribed file:///a$' "resources/unsubscribe: stderr line \"unsubscribed URI\""
send lg "$(call 13 sleep '{"ms":300}' | sed 's/"arguments"/"_meta":{"progressToken":7},"arguments"/')"
response lg 13 >/dev/null
like "$(count lg '"method":"notifications/progress","params":\{"progressToken":7')" '^[1-9]' \
	"legacy sleep in --dual-era: progress still sent"
stop_spawned lg

# ---------------------------------------------------------------- step 2: modern ask (MRTR), log, listen

MC="\"_meta\":{$PV:\"2026-07-28\",$CAPS:{\"sampling\":{},\"roots\":{}}}"
mcall() { # mcall ID TOOL ARGS [EXTRA]: a modern tools/call with sampling and roots declared
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s,%s%s}}' \
		"$1" "$2" "$3" "${4:+$4,}" "$MC"
}

start_stdio md --modern-only
send md "$(modern 1 tools/call '"name":"ask","arguments":{"kind":"sampling"}')"
r=$(response md 1)
is "$(jget "$r" '[.error.code, .error.data.requiredCapabilities]')" '[-32021,{"sampling":{}}]' \
	"modern ask without the capability: -32021 naming it in data.requiredCapabilities"
send md "$(mcall 2 ask '{"kind":"sampling"}')"
r=$(response md 2)
is "$(jget "$r" '[.result.resultType, .result.inputRequests.q.method]')" '["input_required","sampling/createMessage"]' \
	"modern ask sampling: an input_required result with a sampling/createMessage input request"
state=$(jget "$r" .result.requestState)
like "$state" '^".+"$' "... and a requestState"
is "$(count md '"method":"sampling/createMessage"')" 1 "... carried in the result only (no server-to-client request)"
send md "$(mcall 3 ask '{"kind":"sampling"}' "\"inputResponses\":{\"q\":{\"role\":\"assistant\",\"content\":{\"type\":\"text\",\"text\":\"retried words\"},\"model\":\"m\"}},\"requestState\":$state")"
r=$(response md 3)
is "$(jget "$r" '[.result.resultType, .result.isError, .result.content[0].text]')" '["complete",false,"retried words"]' \
	"modern ask sampling: the retry with inputResponses completes with the answer"
send md "$(mcall 4 ask '{"kind":"roots"}')"
r=$(response md 4)
is "$(jget "$r" '.result.inputRequests.q.method')" '"roots/list"' "modern ask roots: input request roots/list"
send md "$(mcall 5 ask '{"kind":"roots"}' "\"inputResponses\":{\"q\":{\"roots\":[{\"uri\":\"file:///r\"}]}},\"requestState\":$(jget "$r" .result.requestState)")"
r=$(response md 5)
is "$(jget "$r" '.result.content[0].text')" '"[{\"uri\":\"file:///r\"}]"' "modern ask roots: the retry returns the roots"

send md "$(mcall 6 log '{"level":"emergency","text":"unasked"}')"
r=$(response md 6)
is "$(count md '"data":"unasked"')" 0 "modern log without _meta logLevel: no notifications/message"
LL="\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},\"io.modelcontextprotocol/logLevel\":\"warning\"}"
send md "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"log\",\"arguments\":{\"level\":\"info\",\"text\":\"quiet\"},$LL}}" \
	"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"log\",\"arguments\":{\"level\":\"error\",\"text\":\"loud\"},$LL}}"
response md 7 >/dev/null
response md 8 >/dev/null
is "$(count md '"data":"quiet"')" 0 "modern log below _meta logLevel: not sent"
is "$(count md '"method":"notifications/message".*"data":"loud"')" 1 "modern log at or above _meta logLevel: sent"
send md "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/list\",\"params\":{\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},\"io.modelcontextprotocol/logLevel\":\"loud\"}}}"
r=$(response md 9)
is "$(jget "$r" .error.code)" -32602 "modern: an unknown _meta logLevel gets -32602"

send md "$(modern '"L1"' subscriptions/listen '"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourceSubscriptions":["file:///b"]}')" \
	"$(modern 77 subscriptions/listen '"notifications":{"resourceSubscriptions":["file:///b","file:///c"]}')"
wait_until 10 grep -q '"notifications/subscriptions/acknowledged".*subscriptionId":77' "$T/md.out"
ack=$(grep -m 1 '"notifications/subscriptions/acknowledged".*subscriptionId":"L1"' "$T/md.out")
is "$(jget "$ack" '.params.notifications')" '{"toolsListChanged":true,"resourceSubscriptions":["file:///b"]}' \
	"subscriptions/listen: acknowledged with what is honoured (no promptsListChanged)"
is "$(jget "$ack" '.params._meta["io.modelcontextprotocol/subscriptionId"]')" '"L1"' \
	"... tagged with the listen request's id (a string)"
ack=$(grep -m 1 '"notifications/subscriptions/acknowledged".*subscriptionId":77' "$T/md.out")
is "$(jget "$ack" '.params._meta["io.modelcontextprotocol/subscriptionId"]')" 77 "... or a number, exactly as sent"
is "$(count md '"id":("L1"|77),"(result|error)"')" 0 "subscriptions/listen: no response while it is open"
send md "$(mcall 10 touch '{"uri":"file:///b"}')"
r=$(response md 10)
is "$(count md '"method":"notifications/resources/updated".*subscriptionId":("L1"|77)')" 2 \
	"modern touch: each listen stream that named the URI gets it, tagged"
kill -USR1 "$pid_md"
wait_until 10 grep -q '"notifications/tools/list_changed"' "$T/md.out"
send md "$(mcall 11 echo '{"text":"sync"}')"
response md 11 >/dev/null
is "$(count md '"notifications/tools/list_changed".*subscriptionId":"L1"')" 1 \
	"SIGUSR1: tools/list_changed to the listen stream that asked for it, tagged"
is "$(count md '"notifications/tools/list_changed"')" 1 "... and to nobody else (no untagged one)"
send md '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1"}}' "$(mcall 12 touch '{"uri":"file:///b"}')"
r=$(response md 12)
is "$(jget "$r" '.result.content[0].text')" '"touched file:///b: 1 subscriber notified"' \
	"notifications/cancelled ends a listen: touch reaches only the other one"
send md "$(modern 13 resources/subscribe '"uri":"file:///b"')"
r=$(response md 13)
is "$(jget "$r" .error.code)" -32601 "modern: resources/subscribe is not part of 2026-07-28"
stop_spawned md
r=$(grep -m 1 '"id":77,"result"' "$T/md.out")
is "$(jget "$r" '[.result.resultType, .result._meta["io.modelcontextprotocol/subscriptionId"]]')" '["complete",77]' \
	"at exit the server ends the open listen with a complete result, tagged"

# dual-era: untagged list_changed only once a legacy client initialized
start_stdio dl --dual-era
send dl "$(modern '"L"' subscriptions/listen '"notifications":{"toolsListChanged":true}')"
wait_until 10 grep -q '"notifications/subscriptions/acknowledged"' "$T/dl.out"
kill -USR1 "$pid_dl"
wait_until 10 grep -q '"notifications/tools/list_changed"' "$T/dl.out"
send dl "$(modern 1 tools/list)"
response dl 1 >/dev/null
is "$(count dl '"notifications/tools/list_changed"')" 1 "--dual-era without initialize: SIGUSR1 reaches the listen stream only"
send dl "$init"
response dl '"init"' >/dev/null
kill -USR1 "$pid_dl"
wait_until 10 grep -q '"notifications/tools/list_changed"}' "$T/dl.out"
send dl "$(modern 2 tools/list)"
response dl 2 >/dev/null
is "$(count dl '"notifications/tools/list_changed"')" 3 "--dual-era after initialize: the legacy client gets it too"
stop_spawned dl

# ---------------------------------------------------------------- flags

check_fail "--dual-era and --modern-only are exclusive" "$EXAMPLE" --dual-era --modern-only
check_fail "--modern-only needs stdio or --http" "$EXAMPLE" --modern-only --legacy-sse 127.0.0.1:0
check_fail "--ttl-ms takes a count" "$EXAMPLE" --ttl-ms 1s

done_testing
