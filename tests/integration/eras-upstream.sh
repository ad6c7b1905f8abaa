#!/bin/bash
# The era of each stdio server: mcpd probes with server/discover first and
# falls back to initialize; modern servers run on their DiscoverResult, are
# probed with server/discover and follow ttlMs; the manifest can pin the era;
# the era of the last process is remembered across restarts.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
bin=$node_dir/node_modules/.bin
have_node=1
if [[ ! -x $bin/mcp-server-everything || ! -d $node_dir/node_modules/@modelcontextprotocol/server ]] ||
	! command -v node >/dev/null; then
	have_node=0
fi

# A legacy server that dies on a request before initialize (as servers built
# on some SDKs do): it exits when the first line is server/discover.
cat >"$T/dies-on-discover" <<SH
#!/bin/bash
IFS= read -r first
[[ \$first == *'"server/discover"'* ]] && exit 3
{ printf '%s\n' "\$first"; cat; } | exec $EXAMPLE --name dies --pidfile $T/dies.pid "\$@"
SH
# A server that never answers its first line (a silent era probe), then is
# the example server with the given flags.
cat >"$T/silent-first" <<SH
#!/bin/bash
IFS= read -r first
printf 'dropped: %s\n' "\$first" >&2
exec $EXAMPLE "\$@"
SH
# First process: dies on server/discover (mcpd remembers legacy). Later ones:
# a modern server whose initialize error names no version (-32601).
cat >"$T/flip" <<SH
#!/bin/bash
n=\$(cat "$T/flip.n" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$T/flip.n"
IFS= read -r first
[[ \$n == 0 && \$first == *'"server/discover"'* ]] && exit 3
if [[ \$first == *'"initialize"'* ]]; then
	id=\$(printf '%s' "\$first" | sed -n 's/.*"id":\("[^"]*"\).*/\1/p')
	printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"Method not found"}}\n' "\$id"
	exec $EXAMPLE --name flip --pidfile $T/flip.pid --modern-only
fi
{ printf '%s\n' "\$first"; cat; } | exec $EXAMPLE --name flip --pidfile $T/flip.pid --modern-only
SH
# A modern server of a version mcpd does not speak: -32022 to everything.
cat >"$T/future" <<'SH'
#!/bin/bash
while IFS= read -r line; do
	[[ $line == *'"initialize"'* ]] && echo "future: got initialize" >&2
	id=$(printf '%s' "$line" | sed -n 's/.*"id":\("[^"]*"\).*/\1/p')
	[[ -n $id ]] && printf '{"jsonrpc":"2.0","id":%s,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2099-01-01"],"requested":"2026-07-28"}}}\n' "$id"
done
SH
chmod +x "$T/dies-on-discover" "$T/silent-first" "$T/flip" "$T/future"

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  legacy:
    command: [$EXAMPLE, --name, legacy, --pidfile, $T/legacy.pid, --log-requests]
  dual:
    command: [$EXAMPLE, --name, dual, --pidfile, $T/dual.pid, --dual-era, --log-requests]
  modern:
    command: [$EXAMPLE, --name, modern, --pidfile, $T/modern.pid, --modern-only]
  pinned:
    command: [$EXAMPLE, --name, pinned, --pidfile, $T/pinned.pid, --dual-era, --log-requests]
    protocol: legacy
  dies:
    command: [$T/dies-on-discover]
  silent:
    command: [$T/silent-first, --name, silent, --pidfile, $T/silent.pid, --modern-only, --log-requests]
    health: { start_timeout: 6s }
  flip:
    command: [$T/flip]
  future:
    command: [$T/future]
    backoff: { initial: 1m }
  tired:
    command: [$EXAMPLE, --name, tired, --pidfile, $T/tired.pid, --modern-only, --stop-ping-after, 1s]
    health: { interval: 300ms, timeout: 200ms, unhealthy_after: 100 }
  ttl:
    command: [$EXAMPLE, --name, ttl, --pidfile, $T/ttl.pid, --dual-era, --ttl-ms, "2000", --log-requests]
YAML
if ((have_node)); then
	cat >>"$T/m.yaml" <<YAML
  sdk2:
    command: [node, $node_dir/sdk2-server.mjs, --modern-only, --name, sdk2]
    health: { start_timeout: 60s }
  sdk2dual:
    command: [node, $node_dir/sdk2-server.mjs, --name, sdk2dual]
    health: { start_timeout: 60s }
  everything:
    command: [$bin/mcp-server-everything, stdio]
    health: { start_timeout: 60s }
YAML
fi
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

# The requests a server received, from its --log-requests lines in mcpd's log.
requests_of() {
	grep -E ": $1: request: " "$T/mcpd.err" | sed 's/^.*request: //'
}

# ---- a legacy server: the probe, then initialize with mcpd's capabilities
wait_state 60 legacy running || not_ok "legacy running" "$(ctl status legacy)"
is "$(field_of legacy protocol_version)" 2025-11-25 "a legacy server runs on 2025-11-25"
is "$(field_of legacy era)" legacy "and its era is legacy"
like "$(ctl status legacy)" 'protocol: 2025-11-25 \(legacy\)' "mcpctl status NAME shows the legacy protocol"
like "$(requests_of legacy | head -n 1)" '"method":"server/discover".*"io.modelcontextprotocol/protocolVersion":"2026-07-28"' \
	"mcpd probes it with server/discover and the modern _meta first"
like "$(requests_of legacy | grep '"initialize"')" \
	'"capabilities":\{"roots":\{"listChanged":true\},"sampling":\{\},"elicitation":\{"form":\{\},"url":\{\}\}\}' \
	"then initialize, declaring roots, sampling and elicitation"
like "$(ctl status)" 'NAME +STATE +PID +UPTIME +RESTARTS +HEALTH +LATENCY$' "the status table has no new column"

# ---- a dual-era server: modern, and never initialized
wait_state 60 dual running || not_ok "dual running" "$(ctl status dual)"
is "$(field_of dual protocol_version)" 2026-07-28 "a dual-era server runs on 2026-07-28"
is "$(field_of dual era)" modern "and its era is modern"
like "$(ctl status dual)" 'protocol: 2026-07-28 \(modern\)' "mcpctl status NAME shows the modern protocol"
wait_log 30 'dual: .*MCP discovery done: dual .*, protocol 2026-07-28 \(modern\)' &&
	ok "mcpd logs the discovery" || not_ok "discovery logged" "$(grep dual: "$T/mcpd.err")"
like "$(requests_of dual | head -n 1)" '"method":"server/discover"' "its first request is server/discover"
if requests_of dual | grep -q '"initialize"\|notifications/initialized'; then
	not_ok "it never gets initialize" "$(requests_of dual)"
else
	ok "it never gets initialize"
fi
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' tools dual | grep -q '^echo '" &&
	ok "mcpctl tools lists a modern server's tools" || not_ok "tools of dual" "$(ctl tools dual)"
like "$(requests_of dual | grep '"tools/list"' | head -n 1)" '"_meta":\{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":\{"name":"mcpd"' \
	"mcpd's own tools/list carries the _meta"

# SIGUSR1 toggles the tool "time": the notification comes on mcpd's own
# subscriptions/listen (ttlMs is 60 s, longer than the deadline).
wait_until 30 bash -c "grep -q 'dual: request: .*\"method\":\"subscriptions/listen\"' '$T/mcpd.err'"
like "$(requests_of dual | grep '"subscriptions/listen"')" '"notifications":\{"toolsListChanged":true\}' \
	"mcpd listens for tool list changes of a modern server"
kill -USR1 "$(cat "$T/dual.pid")"
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' tools dual | grep -q '^time '" &&
	ok "its list_changed on that subscription refreshes the tool list" || not_ok "dual tools refreshed" "$(ctl tools dual)"

# ---- a modern-only server: running, not a failed circuit
wait_state 60 modern running && ok "a modern-only server runs" || not_ok "modern-only runs" "$(ctl status modern)"
is "$(field_of modern protocol_version)" 2026-07-28 "on 2026-07-28"
wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' tools modern | grep -q '^add '" &&
	ok "and mcpctl tools lists its tools" || not_ok "tools of modern" "$(ctl tools modern)"

# ---- protocol: legacy pins initialize on a dual-era server
wait_state 60 pinned running || not_ok "pinned running" "$(ctl status pinned)"
is "$(field_of pinned protocol_version)" 2025-11-25 "protocol: legacy makes a dual-era server speak 2025-11-25"
like "$(requests_of pinned | head -n 1)" '"method":"initialize"' "its first request is initialize"
if requests_of pinned | grep -q '"server/discover"'; then
	not_ok "it never gets server/discover" "$(requests_of pinned)"
else
	ok "it never gets server/discover"
fi
like "$(ctl status pinned)" 'protocol: 2025-11-25 \(legacy\), pinned by the manifest' "status says the manifest pins it"

# ---- a server that dies on the probe: the next process is asked initialize
wait_state 60 dies running && ok "a server that exits on server/discover runs after a restart" ||
	not_ok "dies runs" "$(ctl status dies)" "$(grep dies: "$T/mcpd.err")"
like "$(field_of dies restarts)" '^[1-9]' "on its second process"
is "$(field_of dies protocol_version)" 2025-11-25 "speaking legacy"
like "$(grep 'dies: ' "$T/mcpd.err")" 'exited with status 3 before it answered server/discover \(mcpd.s era probe\), so its next process is asked initialize first' \
	"the reason of its first exit says what mcpd does next"

# ---- the remembered era is a hint: initialize failing on it sends mcpd back to the probe
flip_modern() {
	[[ $(field_of flip protocol_version) == 2026-07-28 ]]
}
wait_until 60 flip_modern && ok "a server remembered as legacy whose initialize fails is probed again, and runs modern" ||
	not_ok "flip modern" "$(ctl status flip)" "$(grep flip: "$T/mcpd.err" | tail -n 8)"
like "$(grep 'flip: ' "$T/mcpd.err")" 'initialize failed \(Method not found\): probing its era with server/discover' \
	"the log says why mcpd probes again"
is "$(field_of flip restarts)" 1 "on its second process"

# ---- a modern server of another version: a clear failure, never initialize
wait_state 60 future backoff && ok "a server that speaks only 2099-01-01 fails" ||
	not_ok "future fails" "$(ctl status future)"
like "$(field_of future reason)" 'speaks protocol versions \["2099-01-01"\], none of which mcpd speaks \(2026-07-28, 2025-11-25 to 2024-11-05\)' \
	"the reason names both sides' versions"
if grep -q 'future: got initialize' "$T/mcpd.err"; then
	not_ok "it is never sent initialize" "$(grep future: "$T/mcpd.err")"
else
	ok "it is never sent initialize"
fi

# ---- a silent probe: initialize after a third of start_timeout, -32022, then discover
wait_state 60 silent running && ok "a server silent on the probe runs" ||
	not_ok "silent runs" "$(ctl status silent)" "$(grep silent: "$T/mcpd.err")"
like "$(grep 'silent: ' "$T/mcpd.err")" 'no answer to server/discover within 2s: speaking the legacy era' \
	"mcpd waited a third of its start_timeout for the probe"
like "$(grep 'silent: ' "$T/mcpd.err")" 'initialize: it speaks 2026-07-28: speaking the modern era' \
	"its -32022 to initialize sends mcpd back to server/discover"
is "$(field_of silent protocol_version)" 2026-07-28 "and it runs modern, on its first process"
is "$(field_of silent restarts)" 0 "without a restart"

# ---- liveness of a modern server is server/discover
wait_log 30 'tired: .*unhealthy: server/discover timed out \(200ms\)' &&
	ok "a modern server that stops answering server/discover becomes unhealthy" ||
	not_ok "tired unhealthy" "$(grep tired: "$T/mcpd.err" | tail -n 5)"

# ---- ttlMs: the tool list is fetched again when it runs out
tools_lists() {
	(($(requests_of ttl | grep -c '"method":"tools/list"') >= $1))
}
wait_until 30 tools_lists 2 && ok "a tool list with ttlMs 2000 is fetched again" ||
	not_ok "ttl refetch" "$(requests_of ttl)"

# ---- a reload that changes the command forgets the era of the old program
sed -i "s|command: \[$T/dies-on-discover\]|command: [$EXAMPLE, --name, dies2, --pidfile, $T/dies2.pid, --dual-era]|" "$T/m.yaml"
check "reload with a new command for dies" ctl reload
dies_modern() {
	[[ $(field_of dies protocol_version) == 2026-07-28 ]]
}
wait_until 60 dies_modern && ok "the new program is probed afresh and runs modern" ||
	not_ok "dies modern after reload" "$(ctl status dies)" "$(grep dies: "$T/mcpd.err" | tail -n 5)"

# ---- SDK v2 servers and server-everything
if ((have_node)); then
	wait_state 90 sdk2 running && ok "an SDK v2 modern-only server runs" ||
		not_ok "sdk2 runs" "$(ctl status sdk2)" "$(grep sdk2: "$T/mcpd.err" | tail -n 5)"
	is "$(field_of sdk2 protocol_version)" 2026-07-28 "on 2026-07-28"
	wait_until 30 bash -c "'$MCPCTL' -s '$SOCK' tools sdk2 | grep -q '^2 tools'" &&
		ok "mcpctl tools lists its 2 tools" || not_ok "tools of sdk2" "$(ctl tools sdk2)"
	wait_state 90 sdk2dual running || not_ok "sdk2dual runs" "$(ctl status sdk2dual)"
	is "$(field_of sdk2dual era)" modern "an SDK v2 dual-era server runs modern"

	# server-everything directly, with the capabilities mcpd declares: its tool count.
	mkfifo "$T/everything.in"
	spawn direct "$bin/mcp-server-everything" stdio <>"$T/everything.in"
	# As a client does: initialized only once initialize is answered (sent together, they race in the SDK).
	printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"roots":{"listChanged":true},"sampling":{},"elicitation":{"form":{},"url":{}}},"clientInfo":{"name":"direct","version":"1"}}}' >"$T/everything.in"
	wait_until 60 grep -q '"id":1' "$T/direct.out"
	printf '%s\n' '{"jsonrpc":"2.0","method":"notifications/initialized"}' '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >"$T/everything.in"
	wait_until 60 grep -q '"id":2' "$T/direct.out"
	direct=$(grep '"id":2' "$T/direct.out" | jq '.result.tools | length')
	stop_spawned direct
	wait_state 120 everything running || not_ok "everything running" "$(ctl status everything)"
	wait_until 60 bash -c "'$MCPCTL' -s '$SOCK' --json status everything | grep -q '\"tools\"'"
	through=$(field_of everything tools)
	diag "server-everything lists $direct tools directly, $through through mcpd"
	is "$through" "$direct" "server-everything lists as many tools through mcpd as directly"
	like "$(ctl tools everything)" 'trigger-sampling-request' "among them the sampling tool"
else
	skip "SDK v2 servers and server-everything" "tests/node/node_modules is not installed"
fi

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
