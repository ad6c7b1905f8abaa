#!/bin/bash
# shellcheck disable=SC2016,SC2154 # single-quoted inner scripts; fd_NAME set indirectly
# mcpctl connect across protocol eras: clients of 2025 (initialize) and of
# 2026-07-28 (server/discover, _meta per request) on the example server run
# legacy (default), --dual-era and --modern-only. Raw JSON lines check what
# mcpd answers itself, what reaches the server (--log-requests) and how ids,
# subscriptions and log messages cross; the TypeScript SDK v1 and v2 (legacy,
# auto, pinned to 2026-07-28) check that real clients connect, list and call.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
have_node=1
if [[ ! -d $node_dir/node_modules/@modelcontextprotocol/client || ! -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] ||
	! command -v node >/dev/null; then
	have_node=0
fi
if ! command -v jq >/dev/null; then
	not_ok "jq is installed" "the raw JSON checks read answers with jq"
	done_testing
fi

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --log-requests]
  dual:
    command: [$EXAMPLE, --name, dual, --dual-era, --log-requests]
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only, --ttl-ms, "1234", --log-requests]
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
for s in ex dual modern; do
	wait_state 60 $s running || not_ok "$s running" "$(ctl status)"
done

# ---------------------------------------------------------------- helpers

# client NAME SERVER: `mcpctl connect SERVER` with its stdin on a FIFO that
# `send NAME` writes to; its stdout in $T/NAME.out.
client() {
	local name=$1 server=$2 fd
	mkfifo "$T/$name.in" || return 1
	spawn "$name" bash -c 'exec "$@" <"$0"' "$T/$name.in" "$MCPCTL" -s "$SOCK" connect "$server"
	exec {fd}<>"$T/$name.in"
	printf -v "fd_$name" '%s' "$fd"
}

send() {
	local var=fd_$1
	shift
	printf '%s\n' "$@" >&"${!var}"
}

# response NAME ID: the line of NAME's output answering id ID (as JSON text), within 30 s.
response() {
	local re="\"id\":$2,\"(result|error)\""
	wait_until 30 grep -Eq -- "$re" "$T/$1.out" || return 1
	grep -E -m 1 -- "$re" "$T/$1.out"
}

# line NAME REGEX: the first line of NAME's output matching REGEX, within 30 s.
line() {
	wait_until 30 grep -Eq -- "$2" "$T/$1.out" || return 1
	grep -E -m 1 -- "$2" "$T/$1.out"
}

# seen SERVER REGEX: the first stderr line of SERVER (--log-requests) matching REGEX, within 30 s.
_seen() {
	ctl logs -n 1000 "$1" 2>/dev/null | grep -E -m 1 -- "$2"
}
seen() {
	wait_until 30 _seen "$1" "$2" >/dev/null || return 1
	_seen "$1" "$2"
}

_pid_changed() {
	local now
	now=$(field_of "$1" pid)
	[[ -n $now && $now != 0 && $now != "$2" ]]
}

# _lines_at_least N NAME REGEX: NAME's output has at least N lines matching REGEX.
_lines_at_least() {
	(($(grep -Ec -- "$3" "$T/$2.out") >= $1))
}

# _count_at_least N SERVER REGEX: SERVER's stderr has at least N lines matching REGEX.
_count_at_least() {
	(($(ctl logs -n 1000 "$2" 2>/dev/null | grep -Ec -- "$3") >= $1))
}

jget() {
	printf '%s' "$1" | jq -c "$2" 2>/dev/null
}

PV='"io.modelcontextprotocol/protocolVersion"'
CAPS='"io.modelcontextprotocol/clientCapabilities"'
INFO='"io.modelcontextprotocol/clientInfo"'
M="\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},$INFO:{\"name\":\"raw-modern\",\"version\":\"0\"}}"

# modern ID METHOD [PARAMS]: a 2026-07-28 request (PARAMS: members, without braces).
modern() {
	printf '{"jsonrpc":"2.0","id":%s,"method":"%s","params":{%s%s}}' "$1" "$2" "${3:+$3,}" "$M"
}
# legacy ID METHOD [PARAMS]
legacy() {
	printf '{"jsonrpc":"2.0","id":%s,"method":"%s","params":{%s}}' "$1" "$2" "${3:-}"
}
init() {
	legacy "$1" initialize '"protocolVersion":"2025-06-18","capabilities":{"roots":{},"sampling":{},"elicitation":{}},"clientInfo":{"name":"raw-legacy","version":"0"}'
}
BIG=12345678901234567890

# ---------------------------------------------------------------- modern client, legacy server

client m1 ex
send m1 "$(modern '"d1"' server/discover)"
r=$(response m1 '"d1"')
is "$(jget "$r" '[.result.resultType, .result.supportedVersions, .result._meta["io.modelcontextprotocol/serverInfo"].name]')" \
	'["complete",["2026-07-28"],"ex"]' "legacy server: mcpd answers server/discover from its InitializeResult"
is "$(jget "$r" '[.result.capabilities.tools, .result.ttlMs, .result.cacheScope]')" '[{"listChanged":true},0,"private"]' \
	"legacy server: ... with its capabilities and caching hints (ttlMs 0, private)"
if _seen ex 'request: .*server/discover.*raw-modern' >/dev/null; then
	not_ok "legacy server: the client's server/discover never reaches it" "$(_seen ex 'request: .*server/discover.*raw-modern')"
else
	ok "legacy server: the client's server/discover never reaches it"
fi

send m1 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"_meta\":{$PV:\"1900-01-01\",$CAPS:{}}}}"
r=$(response m1 2)
is "$(jget "$r" '[.error.code, .error.data.requested, (.error.data.supported | index("2026-07-28") != null)]')" \
	'[-32022,"1900-01-01",true]' "a _meta version mcpd does not speak: -32022 with data.supported and data.requested"

send m1 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"strip\"},\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},$INFO:{\"name\":\"raw-modern\",\"version\":\"0\"},\"com.example/trace\":\"t-3\",\"progressToken\":\"pt3\"}}}"
r=$(response m1 3)
is "$(jget "$r" '[.result.resultType, .result.content[0].text]')" '["complete","strip"]' \
	"legacy server: a modern tools/call is answered, with resultType complete added"
up=$(seen ex 'request: .*"tools/call".*com\.example/trace')
like "$up" '"com\.example/trace":"t-3"' "legacy server: other _meta keys reach it"
like "$up" '"progressToken":"mcpd-pt-' "legacy server: ... and the progressToken (rewritten as for every client)"
if [[ $up == *io.modelcontextprotocol* ]]; then
	not_ok "legacy server: the io.modelcontextprotocol _meta keys are removed" "$up"
else
	ok "legacy server: the io.modelcontextprotocol _meta keys are removed"
fi

send m1 "$(modern 4 tools/list)"
r=$(response m1 4)
is "$(jget "$r" '[.result.resultType, .result.ttlMs, .result.cacheScope, (.result.tools | length > 0)]')" \
	'["complete",0,"private",true]' "legacy server: tools/list gets resultType and caching hints"

send m1 "$(modern $BIG tools/call '"name":"echo","arguments":{"text":"big"}')" "$(modern '"s-5"' tools/call '"name":"echo","arguments":{"text":"str"}')"
like "$(response m1 $BIG)" "^\\{\"jsonrpc\":\"2.0\",\"id\":$BIG,\"result\"" "modern era, legacy server: an id past 2^53 comes back exactly"
like "$(response m1 '"s-5"')" '"text":"str"' "modern era, legacy server: a string id comes back"

# A modern client's cancellation reaches the legacy server without the modern _meta keys.
send m1 "$(modern 20 tools/call '"name":"sleep","arguments":{"ms":20000}')"
wait_until 30 _seen ex 'request: .*"sleep".*"ms":20000' >/dev/null
send m1 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":20,\"reason\":\"strip-check\",\"_meta\":{$PV:\"2026-07-28\",$CAPS:{}}}}"
up=$(seen ex 'request: .*notifications/cancelled.*strip-check')
like "$up" '"requestId":[0-9]+' "legacy server: a modern client's notifications/cancelled reaches it, with the id it knows"
if [[ $up == *io.modelcontextprotocol* ]]; then
	not_ok "legacy server: ... without the io.modelcontextprotocol _meta keys" "$up"
else
	ok "legacy server: ... without the io.modelcontextprotocol _meta keys"
fi

# listen: emulated by mcpd; tools/list_changed (SIGUSR1 of the example server) on its stream only.
client l1 ex
send l1 "$(init 0)"
response l1 0 >/dev/null
send m1 "$(modern '"L1"' subscriptions/listen '"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourceSubscriptions":["example://b"]}')"
r=$(line m1 'notifications/subscriptions/acknowledged')
is "$(jget "$r" '[.params._meta["io.modelcontextprotocol/subscriptionId"], .params.notifications]')" \
	'["L1",{"toolsListChanged":true,"resourceSubscriptions":["example://b"]}]' \
	"legacy server: subscriptions/listen is acknowledged by mcpd with what the server can honour"
check "legacy server: the listen's resources are subscribed upstream (resources/subscribe)" seen ex '^subscribed example://b'
send m1 "$(modern 10 tools/call '"name":"touch","arguments":{"uri":"example://b"}')"
r=$(line m1 'notifications/resources/updated')
is "$(jget "$r" '[.params.uri, .params._meta["io.modelcontextprotocol/subscriptionId"]]')" '["example://b","L1"]' \
	"legacy server: resources/updated of a listed URI reaches the listen stream, tagged with its id"
kill -USR1 "$(field_of ex pid)"
r=$(line m1 'notifications/tools/list_changed')
is "$(jget "$r" '.params._meta["io.modelcontextprotocol/subscriptionId"]')" '"L1"' \
	"legacy server: its tools/list_changed reaches the listen stream, tagged with its id"
r=$(line l1 'notifications/tools/list_changed')
is "$(jget "$r" '.params._meta')" null "legacy server: a legacy client gets it as before, untagged"
send m1 '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1"}}' "$(modern 6 tools/list)"
response m1 6 >/dev/null
kill -USR1 "$(field_of ex pid)"
wait_until 30 _lines_at_least 2 l1 tools/list_changed || not_ok "the legacy client gets the second list_changed"
is "$(grep -c tools/list_changed "$T/m1.out")" 1 "legacy server: a cancelled listen gets no more notifications"
check "legacy server: ... and its resources are unsubscribed upstream" seen ex '^unsubscribed example://b'

if grep -q '"id":"L1"' "$T/m1.out"; then
	not_ok "a cancelled listen gets no response" "$(grep '"id":"L1"' "$T/m1.out")"
else
	ok "a cancelled listen gets no response"
fi

# Log messages go to a modern request only at the level its _meta logLevel asked for.
send m1 "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"log\",\"arguments\":{\"level\":\"error\",\"text\":\"m-err\"},\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},\"io.modelcontextprotocol/logLevel\":\"warning\"}}}" \
	"{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":\"log\",\"arguments\":{\"level\":\"info\",\"text\":\"m-info\"},\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},\"io.modelcontextprotocol/logLevel\":\"warning\"}}}" \
	"$(modern 13 tools/call '"name":"log","arguments":{"level":"emergency","text":"m-none"}')"
response m1 11 >/dev/null
response m1 12 >/dev/null
response m1 13 >/dev/null
like "$(grep notifications/message "$T/m1.out")" '"data":"m-err"' \
	"legacy server: a log message at the level a modern request's _meta logLevel asked for reaches it"
if grep -Eq '"data":"m-(info|none)"' "$T/m1.out"; then
	not_ok "legacy server: none below that level, none for a request without logLevel" "$(grep notifications/message "$T/m1.out")"
else
	ok "legacy server: none below that level, none for a request without logLevel"
fi

# The legacy server's roots/list, caused by a modern client: -31002, not a hang.
stop_spawned l1
wait_until 30 grep -q 'ex.*an MCP client detached (1 left)' "$T/mcpd.err" || not_ok "the legacy client detaches" "$(mcpd_log)"
send m1 "$(modern 7 tools/call '"name":"roots","arguments":{}')"
r=$(response m1 7)
like "$(jget "$r" '.result.content[0].text')" 'the MCP client speaks 2026-07-28, which has no server-to-client requests' \
	"legacy server: its roots/list for a modern client's call is answered by mcpd with -31002"
stop_spawned m1

# ---------------------------------------------------------------- legacy client, modern server

client l2 modern
send l2 "$(init 0)"
r=$(response l2 0)
is "$(jget "$r" '[.result.protocolVersion, .result.serverInfo.name, .result.capabilities.tools]')" \
	'["2025-06-18","modern",{"listChanged":true}]' \
	"modern server: a legacy client's initialize is answered from its DiscoverResult, in the client's version"
send l2 '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$(legacy 1 ping)"
is "$(jget "$(response l2 1)" .result)" '{}' "modern server: ping is answered by mcpd"
send l2 "$(legacy 2 tools/call '"name":"echo","arguments":{"text":"injected"},"_meta":{"progressToken":"p2"}')"
r=$(response l2 2)
is "$(jget "$r" '.result.content[0].text')" '"injected"' "modern server: a legacy client's tools/call is answered"
up=$(seen modern 'request: .*"tools/call".*"injected"')
like "$up" "$PV:\"2026-07-28\"" "modern server: ... with _meta protocolVersion injected"
like "$up" "$INFO:\\{\"name\":\"raw-legacy\"" "modern server: ... and the client's own clientInfo"
like "$up" "$CAPS:\\{\"roots\":\\{\\},\"sampling\":\\{\\},\"elicitation\":\\{\\}\\}" "modern server: ... and its capabilities"
send l2 "$(legacy 3 logging/setLevel '"level":"warning"')" "$(legacy 4 tools/list)"
is "$(jget "$(response l2 3)" .result)" '{}' "modern server: logging/setLevel is answered by mcpd"
response l2 4 >/dev/null
like "$(seen modern 'request: .*"id":[0-9]+.*"tools/list".*logLevel|request: .*logLevel.*"tools/list"')" \
	'"io\.modelcontextprotocol/logLevel":"warning"' "modern server: ... and the level goes with its later requests as _meta logLevel"
client l3 modern
send l3 "$(init 0)"
response l3 0 >/dev/null
send l2 "$(legacy 7 tools/call '"name":"log","arguments":{"level":"info","text":"l-info"}')" \
	"$(legacy 8 tools/call '"name":"log","arguments":{"level":"error","text":"l-err"}')"
response l2 7 >/dev/null
response l2 8 >/dev/null
like "$(grep notifications/message "$T/l2.out")" '"data":"l-err"' "modern server: the legacy client gets log messages at its level"
if grep -q '"data":"l-info"' "$T/l2.out"; then
	not_ok "modern server: ... and none below it" "$(grep notifications/message "$T/l2.out")"
else
	ok "modern server: ... and none below it"
fi
send l3 "$(legacy 1 ping)"
response l3 1 >/dev/null # after anything mcpd sent it before
if grep -q '"data":"l-err"' "$T/l3.out"; then
	not_ok "modern server: another legacy client, which set no level, gets none of them" "$(grep notifications/message "$T/l3.out")"
else
	ok "modern server: another legacy client, which set no level, gets none of them"
fi
stop_spawned l3

# resources/subscribe: bridged to a subscriptions/listen of the client's own.
send l2 "$(legacy 5 resources/subscribe '"uri":"example://a"')"
is "$(jget "$(response l2 5)" .result)" '{}' "modern server: a legacy client's resources/subscribe is answered"
like "$(seen modern 'request: .*subscriptions/listen.*example://a')" '"resourceSubscriptions":\["example://a"\]' \
	"modern server: ... by a subscriptions/listen upstream with its URIs"
send l2 "$(legacy 9 tools/call '"name":"touch","arguments":{"uri":"example://a"}')"
r=$(line l2 'notifications/resources/updated')
is "$(jget "$r" .params)" '{"uri":"example://a"}' "modern server: the legacy client gets resources/updated, untagged"
kill -USR1 "$(field_of modern pid)"
r=$(line l2 'notifications/tools/list_changed')
is "$(jget "$r" .params._meta)" null "modern server: ... and tools/list_changed, through the same listen"
send l2 "$(legacy 10 resources/unsubscribe '"uri":"example://a"')" "$(legacy 11 tools/call '"name":"touch","arguments":{"uri":"example://a"}')"
is "$(jget "$(response l2 10)" .result)" '{}' "modern server: resources/unsubscribe is answered"
like "$(response l2 11)" '0 subscribers notified' "modern server: ... and the URI leaves the listen upstream"

# input_required: mcpd asks the legacy client, then retries with its answers.
send l2 "$(legacy 12 tools/call '"name":"ask","arguments":{"kind":"elicitation"}')"
r=$(line l2 '"id":"mcpd-in-[0-9]+","method"')
is "$(jget "$r" .method)" '"elicitation/create"' "modern server: input_required reaches a legacy client as a request (elicitation/create)"
send l2 "{\"jsonrpc\":\"2.0\",\"id\":$(jget "$r" .id),\"result\":{\"action\":\"accept\",\"content\":{\"answer\":\"from-l2\"}}}"
r=$(response l2 12)
like "$(jget "$r" '.result.content[0].text')" 'from-l2' "modern server: ... and the request is retried with its answer"
like "$(seen modern 'request: .*"inputResponses"')" '"requestState":"ask:elicitation"' \
	"modern server: ... as inputResponses, with the server's requestState"
send l2 "$(legacy 13 tools/call '"name":"ask","arguments":{"kind":"sampling"}')"
r=$(line l2 '"method":"sampling/createMessage"')
send l2 "{\"jsonrpc\":\"2.0\",\"id\":$(jget "$r" .id),\"error\":{\"code\":-1,\"message\":\"the user declined\"}}"
r=$(response l2 13)
is "$(jget "$r" '[.error.code, .error.message]')" '[-1,"the user declined"]' \
	"modern server: a legacy client's refusal fails its request with its own error"
send l2 "$(legacy $BIG tools/call '"name":"echo","arguments":{"text":"big"}')" "$(legacy '"s-6"' tools/call '"name":"echo","arguments":{"text":"str"}')"
like "$(response l2 $BIG)" "^\\{\"jsonrpc\":\"2.0\",\"id\":$BIG,\"result\"" "legacy era, modern server: an id past 2^53 comes back exactly"
like "$(response l2 '"s-6"')" '"text":"str"' "legacy era, modern server: a string id comes back"
# A restarted server gets the legacy client's subscriptions again, without a request of the client's.
send l2 "$(legacy 14 resources/subscribe '"uri":"example://c"')"
response l2 14 >/dev/null
seen modern 'request: .*subscriptions/listen.*example://c' >/dev/null
pid=$(field_of modern pid)
ctl restart modern >/dev/null
wait_until 60 _pid_changed modern "$pid" || not_ok "modern restarts" "$(ctl status modern)"
wait_state 60 modern running || not_ok "modern running again" "$(ctl status modern)"
check "modern server restarted: the legacy client's listen is opened again with its URIs" \
	wait_until 60 _count_at_least 2 modern 'request: .*subscriptions/listen.*example://c'
send l2 "$(legacy 15 tools/call '"name":"touch","arguments":{"uri":"example://c"}')"
like "$(response l2 15)" '1 subscriber notified' "modern server restarted: ... and the client gets its updates"
stop_spawned l2

# A version mcpd does not know: the client gets one it knows, as before (the server's, or the newest legacy one).
for server in ex modern; do
	out=$(printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"old","version":"0"}}}' |
		timeout 60 "$MCPCTL" -s "$SOCK" connect $server)
	is "$(jget "$out" .result.protocolVersion)" '"2025-11-25"' "$server: initialize asking an unknown version gets 2025-11-25"
done

# ---------------------------------------------------------------- modern client, modern server

client m2 modern
send m2 "{\"jsonrpc\":\"2.0\",\"id\":\"d\",\"method\":\"server/discover\",\"params\":{\"_meta\":{$PV:\"2026-07-28\",$CAPS:{},$INFO:{\"name\":\"raw-modern-2\",\"version\":\"0\"}}}}"
r=$(response m2 '"d"')
is "$(jget "$r" '[.result.ttlMs, .result._meta["io.modelcontextprotocol/serverInfo"].name]')" '[1234,"modern"]' \
	"modern server: server/discover is forwarded (the server's own ttlMs)"
like "$(seen modern 'request: .*"server/discover".*raw-modern-2')" '"raw-modern-2"' \
	"modern server: ... with the client's _meta preserved"
send m2 "$(modern '"L2"' subscriptions/listen '"notifications":{"toolsListChanged":true}')"
r=$(line m2 'notifications/subscriptions/acknowledged|"id":"L2","error"')
if [[ $(jget "$r" .error.code) == -32601 ]]; then
	skip "modern server: subscriptions/listen forwarded, notifications and cancellation routed by id" \
		"this example server does not serve subscriptions/listen"
else
	is "$(jget "$r" '.params._meta["io.modelcontextprotocol/subscriptionId"]')" '"L2"' \
		"modern server: subscriptions/listen is forwarded; its acknowledgement carries the client's id"
	kill -USR1 "$(field_of modern pid)"
	r=$(line m2 'notifications/tools/list_changed')
	is "$(jget "$r" '.params._meta["io.modelcontextprotocol/subscriptionId"]')" '"L2"' \
		"modern server: the listen's notifications come with the client's id"
	send m2 '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L2"}}'
	like "$(seen modern 'request: .*notifications/cancelled')" '"requestId":[0-9]+' \
		"modern server: the client's cancellation of its listen is forwarded (with the id the server knows)"
fi
send m2 "$(modern $BIG tools/call '"name":"echo","arguments":{"text":"big"}')" "$(modern '"s-7"' tools/call '"name":"echo","arguments":{"text":"str"}')"
like "$(response m2 $BIG)" "^\\{\"jsonrpc\":\"2.0\",\"id\":$BIG,\"result\"" "modern era, modern server: an id past 2^53 comes back exactly"
like "$(response m2 '"s-7"')" '"text":"str"' "modern era, modern server: a string id comes back"
stop_spawned m2

# ---------------------------------------------------------------- real clients: SDK v2 and v1

if ((have_node)); then
	for server in ex dual modern; do
		for mode in legacy auto pin; do
			case $mode in
			legacy) want='"legacy","2025-11-25"' ;;
			*) want='"modern","2026-07-28"' ;;
			esac
			out=$(timeout 180 node "$node_dir/sdk2-client.mjs" $mode connect "$MCPCTL" "$SOCK" $server \
				--tool echo --args '{"text":"sdk2"}' 2>"$T/sdk2.err")
			is "$(jget "$out" '[.era, .protocolVersion, (.tools | index("echo") != null), .result]')" \
				"[$want,true,\"sdk2\"]" "SDK v2 $mode on $server: negotiates $want, lists the tools, calls echo" ||
				diag "$(tail -n 5 "$T/sdk2.err")"
		done
		out=$(timeout 180 node "$node_dir/sdk-client.mjs" call "$MCPCTL" "$SOCK" $server echo '{"text":"sdk1"}' 2>"$T/sdk1.err")
		is "$(jget "$out" '[(.tools | index("echo") != null), .result.content[0].text]')" '[true,"sdk1"]' \
			"SDK v1 on $server: lists the tools and calls echo" || diag "$(tail -n 5 "$T/sdk1.err")"
	done
	for server in ex modern; do
		for mode in legacy pin; do
			out=$(timeout 180 node "$node_dir/sdk2-client.mjs" $mode connect "$MCPCTL" "$SOCK" $server \
				--caps sampling,elicitation,roots --tool ask --args '{"kind":"elicitation"}' 2>"$T/sdk2.err")
			case $server/$mode in
			ex/pin) want='a 2026-07-28 client cannot be asked: -31002 to the server' re='no server-to-client requests' ;;
			*) want='the client is asked and answers' re='elicited by sdk2-client' ;;
			esac
			like "$(jget "$out" .result)" "$re" "SDK v2 $mode on $server, a tool asking for an elicitation: $want" ||
				diag "$(tail -n 5 "$T/sdk2.err")"
		done
	done
else
	skip "the TypeScript SDK clients on each server era" "tests/node/node_modules is absent (./scripts/dev deps)"
fi

stop_mcpd
done_testing
