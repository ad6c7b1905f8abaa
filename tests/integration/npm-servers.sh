#!/bin/bash
# Real third-party MCP servers from npm, supervised over stdio:
# @modelcontextprotocol/server-everything and server-filesystem, also under
# limits.memory 512M and a sandbox (tools called through mcpctl connect).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"
. "$(dirname "$0")/confine.sh"

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

# private_tmp needs root, and a tree out of /tmp (it hides /tmp, node_modules with it).
private_tmp=false
if [[ $(id -u) == 0 ]] && ! under_tmp "$top_srcdir" && ! under_tmp "$top_builddir"; then
	private_tmp=true
else
	diag "files-sandboxed runs without private_tmp: mcpd is not root, or the tree is under /tmp"
fi
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
# Least privilege for Node servers: the sandbox's defaults, and the files server
# of examples/production.yaml (its data and its code readable, nothing
# writable, no network, a private /tmp). A private /tmp hides $T: that
# server's data lives in the build tree.
mkdir -p "$top_builddir/tests" && D=$(mktemp -d "$top_builddir/tests/npm-data.XXXXXX") || exit 99
trap 'rm -rf "$D"; _cleanup' EXIT
chmod 755 "$D"
echo "hello" >"$D/hello.txt"
cat >>"$T/m.yaml" <<YAML
  everything-sandboxed:
    command: [$bin/mcp-server-everything, stdio]
    health: { start_timeout: 60s }
    limits: { memory: 512M }
    sandbox: {}
  files-sandboxed:
    command: [$bin/mcp-server-filesystem, $D]
    health: { start_timeout: 60s }
    limits: { memory: 512M }
    sandbox:
      readable: [$D, $top_srcdir/tests/node/node_modules]
      network: false
      private_tmp: $private_tmp
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }

wait_state 60 everything running && ok "server-everything (stdio) reaches running" || not_ok "everything running" "$(ctl status)" "$(tail -n 20 "$T/mcpd.err")"
wait_state 60 files running && ok "server-filesystem reaches running" || not_ok "files running" "$(ctl status)" "$(tail -n 20 "$T/mcpd.err")"
epid=$(field_of everything pid)
like "$(awk '/^Max data size/ { print $4, $5 }' "/proc/$epid/limits" 2>/dev/null)" '^536870912 536870912$' \
	"server-everything runs under limits.memory 512M (its data size limit)"
like "$(mcpd_log)" 'everything: .*MCP handshake done: [^ ]+ [^ ]+, protocol 20[0-9-]+' "the handshake with server-everything is logged"
like "$(mcpd_log)" 'files: .*MCP handshake done' "the handshake with server-filesystem is logged"

# Under limits.memory 512M and a sandbox, through mcpctl connect.
sandboxed_running() {
	local desc="$1 reaches running under limits.memory 512M and a sandbox"
	if wait_state 60 "$1" running; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc" "$(ctl status "$1")" "$(grep " $1: " "$T/mcpd.err" | tail -n 20)"
	return 1
}
if ! landlock_here; then
	skip "Node servers under a sandbox" "mcpd found no Landlock on this kernel"
else
	if sandboxed_running everything-sandboxed; then
		like "$(ctl --json status everything-sandboxed | jq -c '.servers[0].confinement.sandbox.mechanisms')" \
			'"landlock ABI [0-9]+"' "its sandbox is in force"
		like "$(rpc everything-sandboxed tools/list '{}')" '"name":"echo"' \
			"server-everything answers tools/list through mcpctl connect"
		is "$(call everything-sandboxed echo '{"message":"hi"}')" "Echo: hi" "and its echo tool"
	fi
	if sandboxed_running files-sandboxed; then
		like "$(call files-sandboxed list_allowed_directories '{}')" "$D" \
			"server-filesystem answers a tool call in its sandbox (readable: its data and code, network off)"
		is "$(call files-sandboxed read_text_file "$(jq -nc --arg p "$D/hello.txt" '{path: $p}')")" hello \
			"and reads its data"
		like "$(call files-sandboxed write_file "$(jq -nc --arg p "$D/new.txt" '{path: $p, content: "x"}')")" \
			'^error: .*(EACCES|permission denied|EROFS)' "but cannot write it (nothing writable)"
		[[ ! -e $D/new.txt ]] && ok "and nothing was written" || not_ok "no new.txt"
	fi
fi

# Kill the real server: mcpd restarts it.
pid=$(field_of files pid)
kill -KILL "$pid"
wait_until 30 bash -c "p=\$('$MCPCTL' -s '$SOCK' --json status files | grep -o '\"pid\": *[0-9]*' | grep -o '[0-9]*\$'); [ -n \"\$p\" ] && [ \"\$p\" != $pid ]"
wait_state 60 files running && ok "server-filesystem is restarted after kill -9" || not_ok "files restarted" "$(ctl status files)"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
