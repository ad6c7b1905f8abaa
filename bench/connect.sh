#!/bin/bash
# Benchmark: what `mcpctl connect` adds to MCP requests (issue 17's relay figures).
#
#   bench/connect.sh [BUILD_DIR]          (default: build/demo)
#
# Environment: N=requests (default 20000), RUNS=K (default 1: the three paths
# once each, in turn), CLIENTS=K (default 1: K connections at once in the
# pipelined phase, total requests/s), REPLICAS=R (default 1: the manifest's
# server gets `replicas: R` when R > 1).
#
# One client (bench/connect-client.c, built here with cc -O2) on three paths,
# one after the other, the same example server's echo tool:
#   direct    the example server's stdio
#   floor     the same, through two processes that only copy bytes
#             (stdio -> socketpair -> a second process -> the server's pipes):
#             what any relay through two extra processes costs on this machine
#   connect   `mcpctl connect ex` through mcpd (the example server under mcpd);
#             the client gives mcpctl pipes, which mcpctl hands over to mcpd:
#             one relaying process on the path (mcpctl(1), connect)
# For each: p50/p99 of N sequential tools/call round trips (on one connection),
# and N calls pipelined on each of CLIENTS connections (total requests/s).
# Then what connect and the floor add over direct. Numbers only, no assertion.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
n=${N:-20000}
runs=${RUNS:-1}
clients=${CLIENTS:-1}
replicas=${REPLICAS:-1}
. "$top/bench/lib.sh"

cc -O2 -o "$W/connect-client" "$top/bench/connect-client.c" || { echo "bench: cannot build bench/connect-client.c" >&2; exit 1; }
client=$W/connect-client

{
	echo "version: 1"
	echo "servers:"
	if ((replicas > 1)); then
		echo "  ex: { command: [$EXAMPLE, --name, bench$$-ex], replicas: $replicas }"
	else
		echo "  ex: { command: [$EXAMPLE, --name, bench$$-ex] }"
	fi
} >"$W/m.yaml"
"$MCPD" -c "$W/m.yaml" -s "$W/s.sock" 2>"$W/mcpd.log" &
pid=$!
for _ in $(seq 1 600); do
	[[ $("$MCPCTL" -s "$W/s.sock" --json status 2>/dev/null | grep -c '"state": *"running"') -ge 1 ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! "$MCPCTL" -s "$W/s.sock" --json status 2>/dev/null | grep -q '"state": *"running"'; then
	echo "bench: mcpd's server does not run: $(tail -n 3 "$W/mcpd.log")" >&2
	exit 1
fi

echo "connect.sh: $n requests, clients $clients, replicas $replicas; load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A p50 p99 rps
one() {	# one PATH_NAME CMD...: runs the client, fills p50/p99/rps[PATH_NAME,run]
	local name=$1 out
	shift
	out=$("$client" -n "$n" -k "$clients" -- "$@" 2>>"$W/client.log") || {
		echo "bench: the client failed on $name: $(tail -n 2 "$W/client.log")" >&2
		exit 1
	}
	read -r _ p50["$name,$r"] _ p99["$name,$r"] _ rps["$name,$r"] <<<"$out"
	printf '  %-8s sequential p50 %7.1f us, p99 %7.1f us; pipelined %7.0f requests/s\n' "$name" \
		"${p50[$name,$r]}" "${p99[$name,$r]}" "${rps[$name,$r]}"
}
for r in $(seq 1 "$runs"); do
	echo "run $r:"
	one direct "$EXAMPLE" --name "bench$$-direct"
	one floor "$client" -F "$EXAMPLE" --name "bench$$-floor"
	one connect "$MCPCTL" -s "$W/s.sock" connect ex
	awk -v dc="${p50[direct,$r]}" -v fc="${p50[floor,$r]}" -v cc="${p50[connect,$r]}" \
		-v d9="${p99[direct,$r]}" -v f9="${p99[floor,$r]}" -v c9="${p99[connect,$r]}" 'BEGIN {
		printf "  added over direct: connect p50 %+.1f us, p99 %+.1f us; floor p50 %+.1f us, p99 %+.1f us\n",
			cc - dc, c9 - d9, fc - dc, f9 - d9 }'
done
