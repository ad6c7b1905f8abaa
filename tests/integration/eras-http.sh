#!/bin/bash
# The protocol era of HTTP servers: mcpd POSTs server/discover first (with the
# 2026-07-28 headers and _meta, no session) and speaks the modern era to a server
# that answers it; a modern error is never a reason for initialize or HTTP+SSE;
# the manifest's protocol key pins the era; a monitor-only remote whose sessions
# are lost in a restart (the reference server answers an unknown session with
# 400) becomes healthy again, and one replaced by a server of the other era
# runs again in that era. The C example server always; SDK v2 and v1 servers
# (tests/node/sdk2-http-server.mjs) when node_modules is installed.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
fixture=$node_dir/sdk2-http-server.mjs
have_node=1
if [[ ! -d $node_dir/node_modules/@modelcontextprotocol/server || ! -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] ||
	! command -v node >/dev/null; then
	have_node=0
fi

# requests_of NAME: the lines mcpd logged of NAME's stderr (the servers' "request: ..." lines).
requests_of() {
	grep -E " $1: ($1: )?request: " "$T/mcpd.err"
}

p=$(test_port)
cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  health: { interval: 1s, timeout: 900ms, unhealthy_after: 2, start_timeout: 60s }
  backoff: { initial: 200ms, jitter: 0 }
servers:
  exdual:
    transport: http
    url: http://127.0.0.1:$((p + 5))/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$((p + 5))", --name, exdual, --dual-era, --log-requests]
  exmodern:
    transport: http
    url: http://127.0.0.1:$((p + 6))/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$((p + 6))", --name, exmodern, --modern-only, --sse-responses, --log-requests]
  expinned:
    transport: http
    url: http://127.0.0.1:$((p + 7))/mcp
    protocol: legacy
    command: [$EXAMPLE, --http, "127.0.0.1:$((p + 7))", --name, expinned, --dual-era, --log-requests]
YAML
if ((have_node)); then
	cat >>"$T/m.yaml" <<YAML
  dual:
    transport: http
    url: http://127.0.0.1:$p/mcp
    command: [node, $fixture, --dual, "$p"]
  modern:
    transport: http
    url: http://127.0.0.1:$((p + 1))/mcp
    command: [node, $fixture, --modern-only, "$((p + 1))"]
  future:
    transport: http
    url: http://127.0.0.1:$((p + 2))/mcp
  remote:
    transport: http
    url: http://127.0.0.1:$((p + 3))/mcp
  pinned:
    transport: http
    url: http://127.0.0.1:$((p + 4))/mcp
    protocol: modern
YAML
	spawn future node "$fixture" --future "$((p + 2))"
	spawn remote node "$fixture" --legacy-stateful "$((p + 3))"
	spawn legacy node "$fixture" --legacy-stateful "$((p + 4))"
fi
start_mcpd "$T/m.yaml" -v || { done_testing; exit 1; }

# The C example server over HTTP, dual-era: modern; its first message is server/discover with mcpd's _meta.
if wait_state 30 exdual running; then
	ok "the example server with --http --dual-era reaches running"
else
	not_ok "the example server with --http --dual-era reaches running" "$(ctl status exdual)" "$(grep exdual: "$T/mcpd.err" | tail -n 10)"
fi
is "$(field_of exdual protocol_version)" 2026-07-28 "its protocol is 2026-07-28"
is "$(field_of exdual era)" modern "its era is modern"
first=$(requests_of exdual | head -n 1)
like "$first" '"method":"server/discover"' "the first message it gets is server/discover"
like "$first" '"io.modelcontextprotocol/protocolVersion":"2026-07-28"' "with the protocol version in _meta"
like "$first" '"io.modelcontextprotocol/clientInfo":\{"name":"mcpd"' "with mcpd as clientInfo"
like "$first" '"io.modelcontextprotocol/clientCapabilities":\{"roots":\{"listChanged":true\},"sampling":\{\},"elicitation":\{"form":\{\},"url":\{\}\}\}' \
	"with the client capabilities mcpd serves"
if wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' tools exdual | grep -q echo"; then
	ok "mcpctl tools lists its tools"
else
	not_ok "mcpctl tools lists its tools" "$(ctl tools exdual 2>&1)" "$(requests_of exdual | tail -n 3)"
fi
if requests_of exdual | grep -qE '"method":"(initialize|ping)"'; then
	not_ok "no initialize or ping reaches it" "$(requests_of exdual | grep -E '"method":"(initialize|ping)"' | head -n 2)"
else
	ok "no initialize or ping reaches it"
fi

# Modern-only, answering with event streams: modern too, never initialized, no HTTP+SSE.
if wait_state 30 exmodern running; then
	ok "the example server with --http --modern-only --sse-responses reaches running"
else
	not_ok "the example server with --http --modern-only --sse-responses reaches running" "$(ctl status exmodern)" "$(grep exmodern: "$T/mcpd.err" | tail -n 10)"
fi
is "$(field_of exmodern protocol_version)" 2026-07-28 "its protocol is 2026-07-28"
wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' tools exmodern | grep -q echo" &&
	ok "its tools are listed from an event-stream answer" || not_ok "exmodern tools" "$(ctl tools exmodern 2>&1)"
if requests_of exmodern | grep -q '"method":"initialize"' || grep -q 'exmodern: .*HTTP+SSE' "$T/mcpd.err"; then
	not_ok "no initialize and no HTTP+SSE fallback for a modern-only server" "$(grep exmodern: "$T/mcpd.err" | tail -n 5)"
else
	ok "no initialize and no HTTP+SSE fallback for a modern-only server"
fi

# protocol: legacy pins a dual-era server to initialize.
if wait_state 30 expinned running; then
	ok "a dual-era server pinned with protocol: legacy reaches running"
else
	not_ok "a dual-era server pinned with protocol: legacy reaches running" "$(ctl status expinned)" "$(grep expinned: "$T/mcpd.err" | tail -n 10)"
fi
is "$(field_of expinned protocol_version)" 2025-11-25 "it speaks 2025-11-25"
if requests_of expinned | grep -q '"method":"server/discover"'; then
	not_ok "it is never asked server/discover" "$(requests_of expinned | head -n 3)"
else
	ok "it is never asked server/discover"
fi

if ((have_node)); then
	# A dual-era SDK v2 server: modern, found with server/discover, never initialized.
	if wait_state 60 dual running; then
		ok "a dual-era SDK v2 server over HTTP reaches running"
	else
		not_ok "a dual-era SDK v2 server over HTTP reaches running" "$(ctl status dual)" "$(grep dual: "$T/mcpd.err" | tail -n 10)"
	fi
	is "$(field_of dual protocol_version)" 2026-07-28 "its protocol is 2026-07-28"
	like "$(mcpd_log)" 'dual: .*speaks MCP over HTTP: sdk2-http-server 2\.4\.0, protocol 2026-07-28 \(modern era' \
		"mcpd logs the modern era once it answered server/discover"
	like "$(requests_of dual | head -n 1)" 'request: POST /mcp mcp-method=server/discover protocol=2026-07-28 session=- rpc=server/discover' \
		"the first probe is a sessionless POST server/discover with MCP-Protocol-Version and Mcp-Method"
	wait_until 20 bash -c "grep -cE ' dual: request: POST .*rpc=server/discover' '$T/mcpd.err' | grep -qvE '^[01]$'" &&
		ok "liveness probes are server/discover too" || not_ok "liveness probes are server/discover" "$(requests_of dual | tail -n 5)"
	if wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' tools dual | grep -q echo"; then
		ok "mcpctl tools lists the tools of a modern HTTP server"
	else
		not_ok "mcpctl tools lists the tools of a modern HTTP server" "$(ctl tools dual 2>&1)" "$(requests_of dual | tail -n 5)"
	fi
	like "$(requests_of dual | grep 'rpc=tools/list' | head -n 1)" 'mcp-method=tools/list protocol=2026-07-28 session=-' \
		"tools/list goes sessionless with the modern headers"
	if requests_of dual | grep -qE 'rpc=(initialize|ping)|GET '; then
		not_ok "no initialize, ping or GET ever reaches a modern server" "$(requests_of dual | grep -E 'rpc=(initialize|ping)|GET ' | head -n 3)"
	else
		ok "no initialize, ping or GET ever reaches a modern server"
	fi

	# A modern-only SDK v2 server (initialize gets -32022): running, modern.
	if wait_state 60 modern running; then
		ok "a modern-only SDK v2 server over HTTP reaches running"
	else
		not_ok "a modern-only SDK v2 server over HTTP reaches running" "$(ctl status modern)" "$(grep modern: "$T/mcpd.err" | tail -n 10)"
	fi
	is "$(field_of modern protocol_version)" 2026-07-28 "its protocol is 2026-07-28"
	if requests_of modern | grep -qE 'rpc=initialize|GET '; then
		not_ok "no initialize and no SSE stream for a modern-only server" "$(requests_of modern | head -n 5)"
	else
		ok "no initialize and no SSE stream for a modern-only server"
	fi

	# A modern server with no version in common: a clear reason, no fallback.
	_future_reason() {
		[[ $(field_of future reason) == *"speaks only protocol 2099-01-01"* ]]
	}
	if wait_until 20 _future_reason; then
		ok "a server answering -32022 with only 2099-01-01 says so in its reason"
	else
		not_ok "a server answering -32022 with only 2099-01-01 says so in its reason" "$(ctl status future)"
	fi
	like "$(field_of future reason)" 'mcpd speaks 2026-07-28 and 2024-11-05 to 2025-11-25' "the reason names what mcpd speaks"
	is "$(state_of future)" starting "it does not run"
	if grep -qE 'rpc=initialize|GET ' "$T/future.err" || grep -q 'future: .*HTTP\+SSE' "$T/mcpd.err"; then
		not_ok "a modern error is never a reason for initialize or the legacy HTTP+SSE transport" "$(grep -E 'rpc=initialize|GET ' "$T/future.err" | head -n 3)"
	else
		ok "a modern error is never a reason for initialize or the legacy HTTP+SSE transport"
	fi
	like "$(head -n 1 "$T/future.err")" 'rpc=server/discover' "it was asked server/discover"

	# The reference legacy server (SDK v1, sessions), monitor-only: legacy, then restarted under mcpd.
	if wait_state 30 remote running; then
		ok "a monitor-only SDK v1 server with sessions reaches running"
	else
		not_ok "a monitor-only SDK v1 server with sessions reaches running" "$(ctl status remote)" "$(grep remote: "$T/mcpd.err" | tail -n 10)"
	fi
	is "$(field_of remote protocol_version)" 2025-11-25 "its protocol is 2025-11-25 (legacy)"
	like "$(grep -E 'rpc=' "$T/remote.err" | head -n 2 | tr '\n' ' ')" 'rpc=server/discover .*rpc=initialize' \
		"server/discover first, initialize after its 400 without a modern error"
	stop_spawned remote
	if wait_state 20 remote unhealthy; then
		ok "the remote is unhealthy while it is down"
	else
		not_ok "the remote is unhealthy while it is down" "$(ctl status remote)"
	fi
	spawn remote2 node "$fixture" --legacy-stateful "$((p + 3))"
	if wait_state 30 remote running; then
		ok "restarted on the same port, it is healthy again (400 'No valid session ID' opens a new session)"
	else
		not_ok "restarted on the same port, it is healthy again" "$(ctl status remote)" "$(grep remote: "$T/mcpd.err" | tail -n 10)" "$(head -n 5 "$T/remote2.err")"
	fi
	like "$(mcpd_log)" 'remote: .*session expired \(HTTP 400 from ping\); opening a new one' "the 400 on the old session re-initializes"
	like "$(grep -E 'rpc=' "$T/remote2.err" | head -n 2 | tr '\n' ' ')" 'session=[0-9a-f-]+ rpc=ping .*rpc=initialize' \
		"the restarted server saw the old session, then a fresh initialize"


	# The remote is replaced by a server of the other era on the same port: its era is probed again.
	_remote_speaks() {
		[[ $(state_of remote) == running && $(field_of remote protocol_version) == "$1" ]]
	}
	stop_spawned remote2
	spawn remote3 node "$fixture" --modern-only "$((p + 3))"
	if wait_until 30 _remote_speaks 2026-07-28; then
		ok "a legacy remote replaced by a modern-only server runs again, in the modern era"
	else
		not_ok "a legacy remote replaced by a modern-only server runs again, in the modern era" "$(ctl status remote)" "$(grep remote: "$T/mcpd.err" | tail -n 10)"
	fi
	like "$(mcpd_log)" 'remote: .*legacy ping got the modern error -32022; probing its protocol era again' "the modern error on the legacy session is the evidence"
	stop_spawned remote3
	spawn remote4 node "$fixture" --legacy-stateful "$((p + 3))"
	if wait_until 30 _remote_speaks 2025-11-25; then
		ok "and replaced by the legacy server again, it runs in the legacy era"
	else
		not_ok "and replaced by the legacy server again, it runs in the legacy era" "$(ctl status remote)" "$(grep remote: "$T/mcpd.err" | tail -n 10)"
	fi
	like "$(mcpd_log)" 'remote: .*server/discover got HTTP 400 without a modern error; probing its protocol era again' "a 400 without a modern error to a modern probe is the evidence"


	# protocol: modern on the legacy server: a clear reason, no initialize.
	_pinned_reason() {
		[[ $(field_of pinned reason) == *"protocol: modern allows only 2026-07-28"* ]]
	}
	if wait_until 20 _pinned_reason; then
		ok "a legacy server pinned with protocol: modern fails its probes, saying why"
	else
		not_ok "a legacy server pinned with protocol: modern fails its probes, saying why" "$(field_of pinned reason)"
	fi
	is "$(state_of pinned)" starting "it does not run"
	if grep -q 'rpc=initialize' "$T/legacy.err"; then
		not_ok "it is never sent initialize" "$(head -n 3 "$T/legacy.err")"
	else
		ok "it is never sent initialize"
	fi
else
	if [[ -n ${MCPD_REQUIRE_NPM:-} ]]; then
		not_ok "node and tests/node/node_modules are installed"
	else
		skip "SDK v2 and v1 HTTP servers of both eras" "tests/node/node_modules is not installed (./scripts/dev deps)"
	fi
fi

stop_mcpd
if ((have_node)); then
	stop_spawned future
	stop_spawned legacy
	stop_spawned remote4
fi
no_leftovers "$T" "no process is left behind"
done_testing
