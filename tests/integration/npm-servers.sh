#!/bin/bash
# Real third-party MCP servers from npm, supervised over stdio:
# @modelcontextprotocol/server-everything and server-filesystem.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# scripts/dev installs them and sets MCPD_REQUIRE_NPM=1, so a missing install
# fails there; elsewhere (make distcheck, a bare make check) it is a skip.
bin=$top_srcdir/tests/node/node_modules/.bin
if [[ ! -x $bin/mcp-server-everything || ! -x $bin/mcp-server-filesystem ]] || ! command -v node >/dev/null; then
	if [[ -n ${MCPD_REQUIRE_NPM:-} ]]; then
		not_ok "the npm MCP servers are installed" "run ./scripts/dev deps (npm ci in tests/node)"
	else
		skip "real npm MCP servers" "tests/node/node_modules is not installed (./scripts/dev deps)"
	fi
	done_testing
fi
mkdir -p "$T/data"
echo "hello" >"$T/data/hello.txt"

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  # limits.memory is RLIMIT_DATA: Node reserves far more address space than it
  # uses (an RLIMIT_AS of 512M kept it from starting), not more data.
  everything:
    command: [$bin/mcp-server-everything, stdio]
    health: { start_timeout: 60s }
    limits: { memory: 512M }
  files:
    command: [$bin/mcp-server-filesystem, $T/data]
    health: { start_timeout: 60s }
    limits: { memory: 512M }
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

wait_state 60 everything running && ok "server-everything (stdio) reaches running" || not_ok "everything running" "$(ctl status)" "$(tail -n 20 "$T/mcpd.err")"
wait_state 60 files running && ok "server-filesystem reaches running" || not_ok "files running" "$(ctl status)" "$(tail -n 20 "$T/mcpd.err")"
epid=$(field_of everything pid)
like "$(awk '/^Max data size/ { print $4, $5 }' "/proc/$epid/limits" 2>/dev/null)" '^536870912 536870912$' \
	"server-everything runs under limits.memory 512M (its data size limit)"
like "$(mcpd_log)" 'everything: .*MCP handshake done: [^ ]+ [^ ]+, protocol 20[0-9-]+' "the handshake with server-everything is logged"
like "$(mcpd_log)" 'files: .*MCP handshake done' "the handshake with server-filesystem is logged"

# Kill the real server: mcpd restarts it.
pid=$(field_of files pid)
kill -KILL "$pid"
wait_until 30 bash -c "p=\$('$MCPCTL' -s '$SOCK' --json status files | grep -o '\"pid\": *[0-9]*' | grep -o '[0-9]*\$'); [ -n \"\$p\" ] && [ \"\$p\" != $pid ]"
wait_state 60 files running && ok "server-filesystem is restarted after kill -9" || not_ok "files restarted" "$(ctl status files)"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
