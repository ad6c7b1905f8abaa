# tests/integration/confine.sh: helpers for the least-privilege tests, which
# call the example server's --confine-tools. Source after lib.sh and mcpd.sh.
#
#   EXAMPLE_PLAIN            the example server built without sanitizers (an
#                            ASan binary cannot start under RLIMIT_DATA)
#   rpc SERVER METHOD PARAMS one request through `mcpctl connect SERVER`
#                            after the handshake: the answer, on one line
#   call SERVER TOOL ARGS    tools/call through `mcpctl connect SERVER`: the
#                            answer's text, "error: TEXT" for a tool error
#   landlock_here            mcpd found Landlock at start (its log says so)

EXAMPLE_PLAIN=$top_builddir/examples/mcp-example-server-plain

# rpc SERVER METHOD PARAMS: after the handshake, one request through `mcpctl
# connect SERVER`; its answer (the JSON-RPC message) on one line.
rpc() {
	printf '%s\n' \
		'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' \
		'{"jsonrpc":"2.0","method":"notifications/initialized"}' \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":$3}" |
		timeout 120 "$MCPCTL" -s "$SOCK" connect "$1" 2>&1 | jq -c 'select(.id? == 1)' 2>/dev/null
}

call() {
	local out
	out=$(rpc "$1" tools/call "{\"name\":\"$2\",\"arguments\":$3}")
	jq -rj 'if .error then "rpc error: " + .error.message
		elif .result.isError then "error: " + .result.content[0].text
		else .result.content[0].text end' <<<"$out" 2>/dev/null || printf 'no answer: %s' "$out"
}

landlock_here() {
	grep -q 'sandbox: Landlock ABI [0-9]' "$T/mcpd.err"
}
