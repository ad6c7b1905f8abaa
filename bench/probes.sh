#!/bin/bash
# Benchmark: the cost of MCP health probes. N stdio servers (default 200)
# pinged every second; prints mcpd's CPU use over 10 s of steady probing.
#
#   bench/probes.sh [BUILD_DIR] [N]        (default: build/demo, 200)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
n=${2:-200}
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f is missing: run ./scripts/dev build first" >&2; exit 1; }
done
W=$(mktemp -d /tmp/mcpd-bench.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	pkill -KILL -f "$W" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null

{
	echo "version: 1"
	echo "defaults: { health: { interval: 1s, timeout: 500ms } }"
	echo "servers:"
	for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE, --name, s$i] }"; done
} >"$W/m.yaml"
"$MCPD" -c "$W/m.yaml" -s "$W/s.sock" 2>"$W/log" &
pid=$!
for _ in $(seq 1 600); do
	[[ $("$MCPCTL" -s "$W/s.sock" --json status 2>/dev/null | grep -c '"state": *"running"') == "$n" ]] && break
	sleep 0.1
done
sleep 3	# let the probes settle into their rhythm
hz=$(getconf CLK_TCK)
c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
t0=$(date +%s%N)
sleep 10
c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
t1=$(date +%s%N)
pings=$((n * 10))
awk -v a="$c0" -v b="$c1" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v n="$n" -v p="$pings" 'BEGIN {
	cpu = (b - a) / hz; wall = (t1 - t0) / 1e9
	printf "mcpd  N=%d servers, ping every 1s: CPU %.2f s over %.1f s = %.2f%% of one core (~%d pings, %.1f us each)\n",
		n, cpu, wall, cpu * 100 / wall, p, cpu * 1e6 / p
}'
printf 'mcpd  RSS %s KiB\n' "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")"
