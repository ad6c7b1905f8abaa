#!/bin/bash
# Every client era on every upstream era, through both transports: the SDK v1
# client (2025) and the SDK v2 client in legacy, auto and pinned-2026-07-28
# modes, through `mcpctl connect` and the HTTP gateway, to the C example
# server (legacy, dual-era, modern-only), @modelcontextprotocol/server-everything
# and an SDK v2 server (dual-era, modern-only). Each client lists the tools,
# calls echo, and its negotiated era is checked. The matrix is printed at the end.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
bin=$node_dir/node_modules/.bin
if [[ ! -x $bin/mcp-server-everything || ! -d $node_dir/node_modules/@modelcontextprotocol/client ]] ||
	! command -v node >/dev/null; then
	skip "the era matrix" "tests/node/node_modules (npm ci) or node is missing"
	done_testing
	exit 0
fi

tok=matrix-$RANDOM$RANDOM-token
printf 'agent: %s\n' "$tok" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 60s, max_sessions_per_token: 200 }
defaults:
  health: { start_timeout: 2m }
servers:
  c-legacy:
    command: [$EXAMPLE, --name, c-legacy]
  c-dual:
    command: [$EXAMPLE, --name, c-dual, --dual-era]
  c-modern:
    command: [$EXAMPLE, --name, c-modern, --modern-only]
  everything:
    command: [$bin/mcp-server-everything, stdio]
  sdk2-dual:
    command: [node, $node_dir/sdk2-server.mjs, --name, sdk2-dual]
  sdk2-modern:
    command: [node, $node_dir/sdk2-server.mjs, --name, sdk2-modern, --modern-only]
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts"; done_testing; exit 1; }
servers=(c-legacy c-dual c-modern everything sdk2-dual sdk2-modern)
for s in "${servers[@]}"; do
	wait_state 120 "$s" running || not_ok "$s runs" "$(ctl status "$s")"
done
# The upstream's own era, as mcpd found it.
declare -A upstream=([c-legacy]=legacy [c-dual]=modern [c-modern]=modern [everything]=legacy [sdk2-dual]=modern
	[sdk2-modern]=modern)
for s in "${servers[@]}"; do
	like "$(ctl status "$s")" "protocol: [0-9-]+ \\(${upstream[$s]}\\)" "mcpd speaks the ${upstream[$s]} era to $s"
done

url=http://127.0.0.1:$port/mcp
# args_of SERVER: the arguments of its echo tool.
args_of() { [[ $1 == everything ]] && echo '{"message":"matrix"}' || echo '{"text":"matrix"}'; }
declare -A cell

# one CLIENT TRANSPORT SERVER: run the client; pass when it listed echo, the call answered
# "matrix" (server-everything says "Echo: matrix"), and the era is the one expected.
one() {
	local client=$1 transport=$2 s=$3 out want era args
	args=$(args_of "$s")
	case $client in
	v1)
		want=legacy
		if [[ $transport == connect ]]; then
			out=$(node "$node_dir/sdk-client.mjs" call "$MCPCTL" "$SOCK" "$s" echo "$args" 2>"$T/client.err")
		else
			out=$(node "$node_dir/sdk-client.mjs" http "$url/$s" "$tok" echo "$args" 2>"$T/client.err")
		fi
		era=$(jq -r 'if .result then "legacy" else "none" end' <<<"$out" 2>/dev/null)
		;;
	v2-*)
		want=modern
		[[ $client == v2-legacy ]] && want=legacy
		if [[ $transport == connect ]]; then
			out=$(node "$node_dir/sdk2-client.mjs" "${client#v2-}" connect "$MCPCTL" "$SOCK" "$s" --args "$args" \
				2>"$T/client.err")
		else
			out=$(node "$node_dir/sdk2-client.mjs" "${client#v2-}" http "$url/$s" "$tok" --args "$args" 2>"$T/client.err")
		fi
		era=$(jq -r '.era' <<<"$out" 2>/dev/null)
		;;
	esac
	if jq -e '(.tools | index("echo")) and ((.result | tostring) | test("matrix"))' <<<"$out" >/dev/null 2>&1 &&
		[[ $era == "$want" ]]; then
		cell[$client,$transport,$s]=$want
		ok "$transport: SDK $client on $s (${upstream[$s]}): lists tools, calls echo, speaks $want"
	else
		cell[$client,$transport,$s]=FAIL
		not_ok "$transport: SDK $client on $s (${upstream[$s]})" "era=$era want=$want out=${out:0:300}" \
			"$(tail -n 5 "$T/client.err")"
	fi
}

for transport in connect gateway; do
	for client in v1 v2-legacy v2-auto v2-pin; do
		for s in "${servers[@]}"; do
			one "$client" "$transport" "$s"
		done
	done
done

# The matrix, for the record.
{
	printf '%-9s %-10s' transport client
	printf ' %-12s' "${servers[@]}"
	printf '\n'
	for transport in connect gateway; do
		for client in v1 v2-legacy v2-auto v2-pin; do
			printf '%-9s %-10s' "$transport" "$client"
			for s in "${servers[@]}"; do printf ' %-12s' "${cell[$client,$transport,$s]:-?}"; done
			printf '\n'
		done
	done
} >"$T/matrix"
diag "$(cat "$T/matrix")"
cp "$T/matrix" "${top_builddir}/tests/integration/eras-matrix.table" 2>/dev/null || true

mcpd_within_budget "48 client runs" 300000 2000
stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
