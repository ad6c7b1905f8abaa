#!/bin/bash
# mcpctl connect: the official TypeScript SDK as a real client, through mcpd,
# of the C example server and of @modelcontextprotocol/server-everything;
# 20 clients at once with overlapping ids; a server killed mid-call.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
bin=$node_dir/node_modules/.bin
have_node=1
if [[ ! -x $bin/mcp-server-everything || ! -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] || ! command -v node >/dev/null; then
	have_node=0
fi

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
  down:
    command: [$EXAMPLE, --exit-after, "0"]
    # In backoff for a minute after each exit: the request below must find it
    # there even when the machine is slow, not in its short starting phase.
    backoff: { initial: 1m }
YAML
if ((have_node)); then
	cat >>"$T/m.yaml" <<YAML
  everything:
    command: [$bin/mcp-server-everything, stdio]
    health: { start_timeout: 60s }
YAML
fi
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"

# Raw JSON-RPC through the pipe: initialize is answered from the cache, ping and a call pass.
out=$(printf '%s\n' \
	'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' \
	'{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	'{"jsonrpc":"2.0","id":1,"method":"ping"}' \
	'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}' |
	timeout 60 "$MCPCTL" -s "$SOCK" connect ex)
is "$?" 0 "mcpctl connect exits 0 when its stdin closes"
like "$out" '"id":0,"result":\{"protocolVersion":"2025-06-18".*"serverInfo":\{"name":"ex"' "initialize is answered with the client's version and the server's info"
like "$out" '"id":1,"result":\{\}' "ping is answered"
like "$out" '"id":2,"result":\{"content":\[\{"type":"text","text":"5"\}\]' "tools/call reaches the server and its answer comes back with the client's id"
is "$(echo "$out" | wc -l)" 3 "nothing but the three answers is written to stdout"

"$MCPCTL" -s "$SOCK" connect exx </dev/null >"$T/out" 2>"$T/err"
is "$?" 1 "connect to an unknown server exits 1"
like "$(cat "$T/err")" 'no server named "exx" \(did you mean "ex"\?\)' "with a did-you-mean"

wait_state 60 down backoff || not_ok "down is in backoff" "$(ctl status down)"
out=$(printf '%s\n' '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' | timeout 60 "$MCPCTL" -s "$SOCK" connect down)
like "$out" '"id":5,"error":\{"code":-31000,"message":"server \\"down\\" is backoff: exited with status 1' \
	"a request to a server in backoff gets an immediate error with the state and reason"

if ((have_node)); then
	sdk() { timeout 180 node "$node_dir/sdk-client.mjs" "$@"; }
	out=$(sdk call "$MCPCTL" "$SOCK" ex add '{"a":2,"b":3}' 2>"$T/sdk.err")
	like "$out" '"tools":\["echo","add","sleep","roots"\]' "the TypeScript SDK lists the example server's tools through mcpctl connect" || diag "$(cat "$T/sdk.err")"
	like "$out" '"text":"5"' "and calls add"
	wait_state 120 everything running || not_ok "everything running" "$(ctl status everything)"
	out=$(sdk call "$MCPCTL" "$SOCK" everything echo '{"message":"hi"}' 2>"$T/sdk.err")
	like "$out" '"tools":\[.*"echo".*\]' "the SDK lists server-everything's tools through mcpd" || diag "$(cat "$T/sdk.err")"
	like "$out" '"text":"Echo: hi"' "and calls its echo tool"

	out=$(sdk many "$MCPCTL" "$SOCK" ex 20 500 2>"$T/sdk.err")
	like "$out" '"clients":20,"calls":500,"ok":true' "20 concurrent clients x 500 calls with overlapping ids: each gets exactly its own answers" ||
		diag "$(tail -n 5 "$T/sdk.err")"

	# Kill the server mid-call: the call fails, the client stays, the next call works.
	pid=$(field_of ex pid)
	node "$node_dir/sdk-client.mjs" restart "$MCPCTL" "$SOCK" ex "$T/inflight" >"$T/restart.out" 2>"$T/restart.err" &
	sdk_pid=$!
	if wait_until 60 test -e "$T/inflight"; then
		kill -KILL "$pid"
		wait_until 90 _gone "$sdk_pid"
		wait "$sdk_pid"
		is "$?" 0 "the SDK client survives a restart of the server" || diag "$(cat "$T/restart.err")"
		like "$(cat "$T/restart.out")" '"inflight_error":"[^"]*server \\"ex\\" killed by signal 9 \(KILL\); this request was not answered: send it again once the server runs' "the call in flight fails with 'server \"ex\" killed by signal 9 (KILL)' and what to do"
		like "$(cat "$T/restart.out")" '"after_restart":"5"' "the next call on the same connection succeeds after the restart"
	else
		not_ok "the slow call started" "$(cat "$T/restart.err")"
		kill "$sdk_pid" 2>/dev/null
	fi
else
	if [[ -n ${MCPD_REQUIRE_NPM:-} ]]; then
		not_ok "node and tests/node/node_modules are installed"
	else
		skip "the TypeScript SDK through mcpctl connect" "tests/node/node_modules is not installed (./scripts/dev deps)"
	fi
fi

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
