#!/bin/bash
# The aggregate endpoint (mcpctl connect without NAME, POST /mcp): namespaced
# tools from two servers, calls routed by name, --servers, unknown names, a
# server that never answers tools/list left out of the list, list_changed when
# a server stops and starts (SDK v1 and v2, both eras, stdio and HTTP),
# prompts and resources of server-everything, a server that pages its
# tools/list, progress, logger names and roots/list mapped, hostile clients.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
bin=$node_dir/node_modules/.bin
have_node=1
[[ -x $bin/mcp-server-everything && -d $node_dir/node_modules/@modelcontextprotocol/sdk &&
	-d $node_dir/node_modules/@modelcontextprotocol/client ]] && command -v node >/dev/null || have_node=0

tok=agg-$RANDOM$RANDOM-secret-token
printf 'agent: %s\n' "$tok" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 30s, max_sessions_per_token: 200 }
servers:
  alpha:
    command: [$EXAMPLE, --name, alpha, --whoami-tool, --dual-era]
  beta:
    command: [$EXAMPLE, --name, beta, --whoami-tool, --tools, "1", --tools-page, "2"]
YAML
	if ((have_node)); then
		cat >>"$T/m.yaml" <<YAML
  everything:
    command: [$bin/mcp-server-everything, stdio]
    health: { start_timeout: 60s }
YAML
	fi
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with the gateway"; done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
wait_state 60 alpha running || not_ok "alpha running" "$(ctl status)"
wait_state 60 beta running || not_ok "beta running" "$(ctl status)"
((have_node)) && { wait_state 120 everything running || not_ok "everything running" "$(ctl status everything)"; }

INIT='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
# agg [CONNECT ARGS...]: stdin's lines through mcpctl connect (no NAME), its answers on stdout.
agg() {
	timeout 60 "$MCPCTL" -s "$SOCK" connect "$@"
}

# ---- raw JSON-RPC through mcpctl connect -----------------------------------------
out=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	'{"jsonrpc":"2.0","id":1,"method":"tools/list"}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"beta__whoami","arguments":{}}}' \
	'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"alpha__whoami","arguments":{}}}' \
	'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"nope__whoami","arguments":{}}}' \
	'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' \
	'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"beta__add","arguments":{"a":2,"b":3}}}' \
	'{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"file:///x"}}' | agg)
is "$?" 0 "mcpctl connect without a name exits 0 when its stdin closes"
like "$out" '"id":0,"result":\{.*"protocolVersion":"2025-06-18".*"serverInfo":\{"name":"mcpd"' \
	"initialize is answered by the aggregate endpoint: the client's version, mcpd's serverInfo"
like "$out" '"id":0,"result":\{"capabilities":\{.*"tools":\{"listChanged":true\}' "with tools listChanged"
line=$(grep '"id":1,' <<<"$out")
like "$line" '"name":"alpha__whoami".*"name":"alpha__echo"' "tools/list names alpha's tools alpha__TOOL"
like "$line" '"name":"beta__whoami".*"name":"beta__tool_1"' "and beta's beta__TOOL, in one answer"
like "$out" '"id":2,"result":\{"content":\[\{"type":"text","text":"beta"\}\]' "beta__whoami is routed to beta"
like "$out" '"id":3,"result":\{"content":\[\{"type":"text","text":"alpha"\}\]' "alpha__whoami is routed to alpha"
like "$out" '"id":4,"error":\{"code":-32602,"message":"unknown server \\"nope\\"' "an unknown server prefix is a clear error"
like "$out" '"id":5,"error":\{"code":-32602,"message":"unknown name \\"whoami\\": the aggregate endpoint.s names are SERVER__NAME' \
	"a name without a server part says how names are made"
like "$out" '"id":6,"result":\{"content":\[\{"type":"text","text":"5"\}\]' "arguments reach the server"
like "$out" '"id":7,"error":\{"code":-32602,"message":"unknown uri \\"file:///x\\": .*mcpd://SERVER/URI' \
	"a resource URI outside mcpd://SERVER/ is a clear error"

out=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"beta__whoami","arguments":{}}}' | agg --servers alpha)
line=$(grep '"id":1,' <<<"$out")
like "$line" '"alpha__whoami"' "--servers alpha: alpha's tools are listed"
unlike() { if [[ $1 =~ $2 ]]; then not_ok "$3" "matched: $2"; else ok "$3"; fi; }
unlike "$line" 'beta__' "and beta's are not"
like "$out" '"id":2,"error":\{"code":-32602,"message":"unknown server \\"beta\\"' "a call to beta outside the subset is refused"
"$MCPCTL" -s "$SOCK" connect --servers alpha,nosuch </dev/null >/dev/null 2>"$T/err"
is "$?" 1 "--servers with an unknown server fails"
like "$(cat "$T/err")" 'no server named "nosuch"' "naming it"
"$MCPCTL" -s "$SOCK" connect alpha --servers beta </dev/null >/dev/null 2>"$T/err"
is "$?" 2 "a NAME and --servers together are a usage error"

out=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | agg beta)
like "$out" '"nextCursor":"page-2"' "beta answers tools/list in pages (--tools-page 2)..."
like "$(grep '"id":1,' <<<"$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | agg)")" \
	'"beta__whoami".*"beta__tool_1"' "...and the aggregate list follows its nextCursor to the last page"

# A modern (2026-07-28) client through mcpctl connect: discover and list answered, call routed.
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"sh","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
out=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{'"$META"'}}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{'"$META"'}}' \
	'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{'"$META"',"name":"alpha__whoami","arguments":{}}}' | agg)
like "$out" '"id":1,"result":\{"resultType":"complete".*"io.modelcontextprotocol/serverInfo":\{"name":"mcpd"' "a modern server/discover is answered by the aggregate"
like "$(grep '"id":2,' <<<"$out")" '"alpha__whoami".*"beta__whoami".*"resultType":"complete"' "a modern tools/list is merged and complete"
like "$out" '"id":3,"result":\{.*"text":"alpha"' "a modern call is routed"

# Notifications and requests of the servers: progress keeps the client's token, log messages
# name their server, a roots/list reaches the client as "mcpd-agg-N" and its answer the server.
coproc CL { exec "$MCPCTL" -s "$SOCK" connect --servers alpha,beta 2>/dev/null; }
cl_pid=$CL_PID
# read_until PATTERN: lines from the client until one matches (60 s), all of them in $got.
read_until() {
	got=
	while read -t 60 -r line <&"${CL[0]}"; do
		got+=$line$'\n'
		[[ $line =~ $1 ]] && return 0
	done
	return 1
}
printf '%s\n' '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{}},"clientInfo":{"name":"sh","version":"1"}}}' \
	'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"tok-7"},"name":"beta__sleep","arguments":{"ms":300}}}' >&"${CL[1]}"
read_until '"id":1,'
like "$got" '"method":"notifications/progress","params":\{"progressToken":"tok-7"' "progress of a routed call keeps the client's token"
printf '%s\n' '{"jsonrpc":"2.0","id":9,"method":"logging/setLevel","params":{"level":"info"}}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"alpha__log","arguments":{"level":"error","text":"hello"}}}' >&"${CL[1]}"
read_until '"id":2,'
like "$got" '"id":9,"result":\{\}' "logging/setLevel is answered (and sent on to every server)"
like "$got" '"method":"notifications/message","params":\{[^}]*"logger":"alpha__alpha"' "a log message names its server in logger"
printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"beta__roots","arguments":{}}}' >&"${CL[1]}"
read_until '"method":"roots/list"'
like "$got" '"id":"mcpd-agg-[0-9]+","method":"roots/list"' "a server's roots/list reaches the client with an aggregate id"
rid=$(grep -o '"id":"mcpd-agg-[0-9]*"' <<<"$got" | head -n 1)
printf '%s\n' '{"jsonrpc":"2.0",'"$rid"',"result":{"roots":[{"uri":"file:///agg-root","name":"r"}]}}' >&"${CL[1]}"
read_until '"id":3,'
like "$got" '"id":3,"result":\{.*file:///agg-root' "and the client's answer goes back to the server that asked"
exec {CL[1]}>&-
wait "$cl_pid"

# A stopped server: its tools leave the list, a call gets an immediate error naming its state.
ctl stop beta >/dev/null
wait_state 60 beta stopped || not_ok "beta stopped" "$(ctl status beta)"
out=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"beta__whoami","arguments":{}}}' \
	'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"alpha__whoami","arguments":{}}}' | agg)
unlike "$(grep '"id":1,' <<<"$out")" 'beta__' "a stopped server's tools are not listed"
like "$out" '"id":2,"error":\{"code":-31000,"message":"server \\"beta\\" is stopped' "a call to it is an immediate error naming its state"
like "$out" '"id":3,"result":\{.*"text":"alpha"' "the other server's tools keep working"
ctl start beta >/dev/null
wait_state 60 beta running || not_ok "beta running again" "$(ctl status beta)"

# ---- HTTP: POST /mcp ------------------------------------------------------------
post() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$1" "${@:2}"
}
is "$(post "$INIT" "$url")" 200 "POST /mcp initialize opens an aggregate session"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
like "$(cat "$T/body")" '"serverInfo":\{"name":"mcpd"' "answered by the aggregate endpoint"
post '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' "$url" -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18' >/dev/null
like "$(cat "$T/body")" '"alpha__whoami".*"beta__whoami"' "tools/list over HTTP names both servers' tools"
post '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"beta__whoami","arguments":{}}}' "$url" \
	-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18' >/dev/null
like "$(cat "$T/body")" '"text":"beta"' "and a call is routed"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X DELETE -H "Authorization: Bearer $tok" \
	-H "Mcp-Session-Id: $sid" "$url")" 200 "DELETE /mcp ends the session"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' \
	-d "$INIT" "$url")" 401 "/mcp needs the same authentication as /mcp/NAME"
is "$(post "$INIT" "$url" -H 'Origin: http://evil.example')" 403 "and the same Origin check"
is "$(post "$INIT" "$url/")" 404 "/mcp/ (an empty server name) is no endpoint"
is "$(post '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{'"$META"'}}' "$url" -H 'MCP-Protocol-Version: 2026-07-28' \
	-H 'Mcp-Method: tools/list')" 200 "a modern POST /mcp tools/list"
like "$(cat "$T/body")" '"alpha__whoami".*"beta__whoami"' "is merged too"

# ---- the SDK clients: both eras, stdio and HTTP, list_changed as beta stops and starts ----
# lifecycle DESC CLIENT ARGS...: the client lists and calls, then the test stops and starts beta.
lifecycle() {
	local desc=$1 dir pid
	shift
	dir=$(mktemp -d "$T/lc.XXXX")
	node "$node_dir/aggregate-client.mjs" "$@" -- --unknown --lifecycle "$dir" >"$dir/out" 2>"$dir/err" &
	pid=$!
	if wait_until 120 test -e "$dir/listed"; then
		ctl stop beta >/dev/null
		if wait_until 120 test -e "$dir/down"; then
			ctl start beta >/dev/null
		fi
	fi
	wait_until 150 _gone "$pid"
	wait "$pid"
	is "$?" 0 "$desc: the client runs to its end" || diag "$(tail -n 5 "$dir/err")"
	local o
	o=$(cat "$dir/out")
	like "$o" '"tools":\[[^]]*"alpha__whoami"[^]]*"beta__whoami"' "$desc: namespaced tools of both servers"
	like "$o" '"alpha":"alpha","beta":"beta"' "$desc: calls routed to the server the name names"
	like "$o" '"unknown_error":"[^"]*unknown server' "$desc: an unknown prefix is an error"
	like "$o" '"down_tools":\[[^]]*"alpha__whoami"' "$desc: after list_changed, alpha's tools remain..."
	unlike "$(grep -o '"down_tools":\[[^]]*\]' <<<"$o")" 'beta__' "$desc: ...and beta's are gone"
	like "$o" '"down_beta_error":"error: [^"]*server \\"beta\\" is (stopping|stopped)' "$desc: a call to beta names its state"
	like "$o" '"down_alpha":"alpha"' "$desc: alpha keeps working while beta is down"
	like "$o" '"up_tools":\[[^]]*"beta__whoami"' "$desc: list_changed again when beta is back, with its tools"
	like "$o" '"up_beta":"beta"' "$desc: and beta answers again"
	wait_state 60 beta running || not_ok "beta running after $desc" "$(ctl status beta)"
}

if ((have_node)); then
	lifecycle "SDK v1, mcpctl connect" v1 legacy connect "$MCPCTL" "$SOCK"
	lifecycle "SDK v2 legacy, mcpctl connect" v2 legacy connect "$MCPCTL" "$SOCK"
	lifecycle "SDK v2 2026-07-28, mcpctl connect" v2 pin connect "$MCPCTL" "$SOCK"
	lifecycle "SDK v1, POST /mcp" v1 legacy http "$url" "$tok"
	lifecycle "SDK v2 legacy, POST /mcp" v2 legacy http "$url" "$tok"
	lifecycle "SDK v2 2026-07-28, POST /mcp" v2 pin http "$url" "$tok"

	# Prompts and resources of server-everything, namespaced and readable.
	for c in "v1 legacy connect $MCPCTL $SOCK" "v2 pin http $url $tok"; do
		# shellcheck disable=SC2086
		out=$(timeout 120 node "$node_dir/aggregate-client.mjs" $c -- --extras 2>"$T/x.err")
		like "$out" '"prompts":\[[^]]*"everything__simple[-_]prompt"' "$c: prompts are named SERVER__PROMPT" ||
			diag "$(tail -n 5 "$T/x.err")"
		like "$out" '"prompt":"[^"]+' "$c: prompts/get reaches the server"
		like "$out" '"resources":\["mcpd://everything/[^"]+' "$c: resource URIs are mcpd://SERVER/URI"
		like "$out" '"read_uri":\["mcpd://everything/[^"]+' "$c: resources/read answers with namespaced URIs"
	done
else
	skip "the SDK clients through the aggregate endpoint" "tests/node/node_modules is not installed"
fi

# ---- a server that never answers tools/list: left out, the list still comes -----------
cat >>"$T/m.yaml" <<YAML
  silent:
    command: [$EXAMPLE, --name, silent, --silent-tools-list]
YAML
ctl reload >/dev/null || not_ok "reload adds silent" "$(mcpd_log | tail -n 3)"
wait_state 60 silent running || not_ok "silent running" "$(ctl status silent)"
start=$(date +%s)
out=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | agg --servers alpha,silent)
like "$(grep '"id":1,' <<<"$out")" '"result":\{"tools":\[.*"alpha__whoami"' \
	"a server that never answers tools/list does not hang the list: the others' tools come"
ok_if() { if eval "$1"; then ok "$2"; else not_ok "$2" "$3"; fi; }
ok_if "(( $(date +%s) - start < 30 ))" "within the list deadline" "took $(( $(date +%s) - start ))s"
wait_log 30 'silent: the server did not answer tools/list within 5s' || not_ok "the server left out is logged" "$(mcpd_log | tail -n 5)"
ok "the server left out is logged"

# ---- hostile clients ------------------------------------------------------------
# A flood of calls: past the budget of requests in flight, errors; mcpd stays up.
{
	echo "$INIT"
	for i in $(seq 1 1500); do
		echo '{"jsonrpc":"2.0","id":'"$i"',"method":"tools/call","params":{"name":"alpha__sleep","arguments":{"ms":3000}}}'
	done
} | agg >"$T/flood.out"
like "$(cat "$T/flood.out")" 'too many requests in flight \(at most 1000\)' "a flood past the budget of requests in flight gets errors"
like "$(grep -c '"result":{"content"' "$T/flood.out")" '^[0-9]+$' "and the calls within it are answered"
wait_log 30 'an aggregate MCP client reached its budget of requests in flight' || true
like "$(mcpd_log)" 'reached its budget of requests in flight' "the budget is logged once"
# Answers to ids nobody asked, garbage, and a client killed in the middle of a fan-out.
printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":"mcpd-agg-99","result":{}}' '{"jsonrpc":"2.0","id":7,"result":{}}' \
	'{"jsonrpc":"2.0","id":8,"error":{"code":1,"message":"x"}}' 'not json' '{"jsonrpc":"2.0","id":9,"method":"nope/nope"}' |
	agg >"$T/hostile.out"
like "$(cat "$T/hostile.out")" '"error":\{"code":-32700' "garbage gets a parse error"
like "$(cat "$T/hostile.out")" '"id":9,"error":\{"code":-32601' "an unknown method gets method not found"
_fanned_out() { (( $(grep -c 'silent: an MCP client attached' "$T/mcpd.err") > $1 )); }
for i in 1 2 3; do
	n=$(grep -c 'silent: an MCP client attached' "$T/mcpd.err")
	coproc CL { exec "$MCPCTL" -s "$SOCK" connect >/dev/null 2>&1; }
	cl_pid=$CL_PID
	printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' >&"${CL[1]}"
	# silent never answers: the list is in flight once silent's backend is attached.
	wait_until 30 _fanned_out "$n" || diag "the list did not reach silent"
	kill -KILL "$cl_pid"
	wait "$cl_pid" 2>/dev/null
done
out=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"alpha__whoami","arguments":{}}}' |
	agg --servers alpha,beta)
like "$out" '"id":2,"result":\{.*"text":"alpha"' "after clients that vanish mid-fan-out, another client is served"
mcpd_within_budget "after hostile aggregate clients" 400000 100000

# A server removed by a reload: a connected client gets list_changed, and its tools are gone.
coproc CL { exec "$MCPCTL" -s "$SOCK" connect --agent tester 2>/dev/null; }
cl_pid=$CL_PID
printf '%s\n' "$INIT" >&"${CL[1]}"
read -t 60 -r line <&"${CL[0]}"
like "$line" '"id":0,"result"' "an aggregate client is connected (--agent tester)"
like "$(mcpd_log)" 'an aggregate MCP client attached as agent tester' "as the agent --agent names"
sed -i '/^  beta:/,+1d' "$T/m.yaml"
ctl reload >/dev/null || not_ok "reload removes beta" "$(mcpd_log | tail -n 3)"
got=
while read -t 60 -r line <&"${CL[0]}"; do
	got+=$line
	[[ $line == *tools/list_changed* ]] && break
done
like "$got" 'notifications/tools/list_changed' "a server removed by a reload: the client gets tools/list_changed"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' >&"${CL[1]}"
got=
while read -t 60 -r line <&"${CL[0]}"; do
	got+=$line
	[[ $line == *'"id":1,'* ]] && break
done
like "$got" '"id":1,"result":\{"tools":\[.*"alpha__whoami"' "and its next tools/list..."
unlike "$got" 'beta__' "...leaves the removed server out"
exec {CL[1]}>&-
wait "$cl_pid"
is "$?" 0 "the client ends when its input closes"
out=$(printf '%s\n' "$INIT" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}' |
	agg alpha --agent tester)
like "$out" '"id":2,"result":\{.*"text":"alpha"' "connect NAME --agent: a named session as an agent"


# A server name with "__" is a manifest error (names are split at the first "__").
cat >"$T/bad.yaml" <<YAML
version: 1
servers:
  crm__v2:
    command: [$EXAMPLE]
YAML
"$MCPD" --check -c "$T/bad.yaml" >/dev/null 2>"$T/err"
like "$(cat "$T/err")" 'crm__v2.*"__" separates the server from the tool' "a server name with \"__\" is refused"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
