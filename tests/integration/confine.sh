# tests/integration/confine.sh: helpers for the least-privilege tests, which
# call the example server's --confine-tools. Source after lib.sh and mcpd.sh.
#
#   EXAMPLE_PLAIN            the example server built without sanitizers (an
#                            ASan binary cannot start under RLIMIT_DATA)
#   call SERVER TOOL ARGS    tools/call through `mcpctl connect SERVER`: the
#                            answer's text, "error: TEXT" for a tool error
#   landlock_here            mcpd found Landlock at start (its log says so)

EXAMPLE_PLAIN=$top_builddir/examples/mcp-example-server-plain

call() {
	local out
	out=$(printf '%s\n' \
		'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' \
		'{"jsonrpc":"2.0","method":"notifications/initialized"}' \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}" |
		timeout 60 "$MCPCTL" -s "$SOCK" connect "$1" 2>&1)
	jq -rj 'select(.id == 1) | if .error then "rpc error: " + .error.message
		elif .result.isError then "error: " + .result.content[0].text
		else .result.content[0].text end' <<<"$out" 2>/dev/null || printf 'no answer: %s' "$out"
}

landlock_here() {
	grep -q 'sandbox: Landlock ABI [0-9]' "$T/mcpd.err"
}
