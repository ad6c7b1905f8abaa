#!/bin/bash
# HTTP MCP servers: probed with MCP over Streamable HTTP (initialize once,
# then ping on the same session), spawned and restarted when they have a
# command, only watched when they do not.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

bin=$top_srcdir/tests/node/node_modules/.bin
have_node=1
[[ -x $bin/mcp-server-everything ]] && command -v node >/dev/null || have_node=0

p1=$(test_port)
p2=$((p1 + 1))
p3=$((p1 + 2))
cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  health: { interval: 500ms, timeout: 300ms, unhealthy_after: 2 }
  backoff: { initial: 200ms, jitter: 0 }
servers:
  web:
    transport: http
    url: http://127.0.0.1:$p1/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$p1", --name, web, --session-ttl, 300ms]
  sse:
    transport: http
    url: http://127.0.0.1:$p2/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$p2", --name, sse, --sse-responses]
  gone:
    transport: http
    url: http://127.0.0.1:$p3/mcp
  legacy:
    transport: http
    url: http://127.0.0.1:$((p1 + 4))/mcp
    command: [$EXAMPLE, --legacy-sse, "127.0.0.1:$((p1 + 4))", --name, legacy]
YAML
if ((have_node)); then
	cat >>"$T/m.yaml" <<YAML
  everything:
    transport: http
    url: http://127.0.0.1:$((p1 + 3))/mcp
    command: [$bin/mcp-server-everything, streamableHttp]
    env: { PORT: "$((p1 + 3))" }
    health: { interval: 2s, timeout: 1s, start_timeout: 60s }
YAML
fi
start_mcpd "$T/m.yaml" -v || { done_testing; exit 1; }

wait_state 15 web running && ok "an http server with a command runs once it answers initialize over HTTP" || not_ok "web running" "$(ctl status)"
wait_state 15 sse running && ok "an http server answering with text/event-stream is probed too" || not_ok "sse running" "$(ctl status)"
like "$(ctl tools web)" 'echo +Returns' "mcpctl tools lists the tools of an http server"
wait_state 15 legacy running && ok "a server with only the legacy HTTP+SSE transport is detected and probed" ||
	not_ok "legacy running" "$(ctl status legacy)" "$(grep legacy: "$T/mcpd.err" | tail -n 5)"
like "$(mcpd_log)" 'legacy: .*POST initialize got HTTP 404: trying the legacy HTTP\+SSE transport' "the fallback is logged"
like "$(ctl tools legacy)" 'add ' "its tools are listed over the SSE stream"
wait_until 5 bash -c "'$MCPCTL' -s '$SOCK' --json status web | grep -q '\"latency_ms\": *[0-9]'" && ok "ping latency is measured over HTTP" || not_ok "http latency"

# Sessions that expire between two pings are opened again, without a failed probe.
wait_log 10 'web: .*session expired \(HTTP 404 from ping\); opening a new one' &&
	ok "an expired session (404) is re-initialized" || not_ok "session re-init" "$(grep web: "$T/mcpd.err" | tail -n 5)"
wait_until 5 bash -c "[ \$(grep -c 'web: .*session expired' '$T/mcpd.err') -ge 3 ]"
is "$(state_of web)" running "web stays running across expired sessions"
! grep -q 'web: .*unhealthy' "$T/mcpd.err" && ok "no probe failed because of an expired session" || not_ok "web went unhealthy"

# A monitor-only server on a closed port: watched, never restarted, the reason says why.
wait_until 5 bash -c "'$MCPCTL' -s '$SOCK' status gone | grep -q 'connection refused'" &&
	ok "a monitor-only server on a closed port shows 'connection refused'" || not_ok "gone reason" "$(ctl status gone)"
is "$(field_of gone pid)" null "a monitor-only server has no process"
ctl health >"$T/out"
is "$?" 1 "a non-critical monitor-only server down makes the health degraded"

# Kill a spawned http server: restarted, then running again.
pid=$(field_of web pid)
kill -KILL "$pid"
wait_until 10 bash -c "'$MCPCTL' -s '$SOCK' --json status web | grep -q '\"restarts\": *1'" && ok "a killed http server is restarted" || not_ok "web restarted" "$(ctl status web)"
wait_state 15 web running && ok "and runs again" || not_ok "web running again" "$(ctl status web)"

if ((have_node)); then
	wait_state 60 everything running && ok "real server-everything in Streamable HTTP mode reaches running" ||
		not_ok "everything running" "$(ctl status everything)" "$(grep everything "$T/mcpd.err" | tail -n 5)"
	like "$(ctl tools everything)" 'echo ' "mcpctl tools lists server-everything's tools (over HTTP)"
	pid=$(field_of everything pid)
	kill -KILL "$pid"
	wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' --json status everything | grep -q '\"restarts\": *1'" &&
		ok "killed, server-everything is restarted" || not_ok "everything restarted" "$(ctl status everything)"
	wait_state 60 everything running && ok "and answers MCP again" || not_ok "everything again" "$(ctl status everything)"
else
	if [[ -n ${MCPD_REQUIRE_NPM:-} ]]; then
		not_ok "node and tests/node/node_modules are installed"
	else
		skip "server-everything over HTTP" "tests/node/node_modules is not installed"
	fi
fi

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
