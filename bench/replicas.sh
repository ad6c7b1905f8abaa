#!/usr/bin/env bash
# bench/replicas.sh [BUILD_DIR] [N]: N example server processes (default
# 1024) as N servers ("plain") and, when the build knows replicas:, as N/64
# servers of replicas: 64 ("replicas"). For each: seconds until all N are
# running (mcpctl --json status polled every 0.2 s), mcpd's RSS then, the
# median of 20 `mcpctl --json status` (end to end) and of 20 GET /metrics
# (whole answer), mcpd's CPU per call. The build without sanitizers (default
# build/demo). Local socket and 127.0.0.1 only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
n=${2:-1024}
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f missing: build first (./scripts/dev build)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/mcpd-replicas-bench.XXXXXX)
pid=
stop() {
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}
trap 'stop; rm -rf "$W"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null

. "$top/bench/timing.sh"

run() { # run NAME MANIFEST
	local sock=$W/$1.sock port=$((20000 + RANDOM % 10000)) t0 t1 running
	sed -i "s/^  http: .*/  http: 127.0.0.1:$port/" "$2"
	t0=$(now_ns)
	"$MCPD" -c "$2" -s "$sock" 2>"$W/$1.log" &
	pid=$!
	for _ in $(seq 1 1500); do
		running=$("$MCPCTL" -s "$sock" --json status 2>/dev/null | grep -c '"state": "running"')
		((running >= n)) && break
		sleep 0.2
	done
	t1=$(now_ns)
	printf '%-9s %5d running after %5.1f s; RSS %6d kB; --json status %s; /metrics %s\n' "$1" "$running" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')" \
		"$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")" \
		"$(measure "$MCPCTL" -s "$sock" --json status)" \
		"$(measure curl -s -o /dev/null "http://127.0.0.1:$port/metrics")"
	stop
}

head='version: 1
mcpd:
  http: 127.0.0.1:1
defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s } }
servers:'
{
	echo "$head"
	for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE] }"; done
} >"$W/plain.yaml"
run plain "$W/plain.yaml"
{
	echo "$head"
	for i in $(seq 1 $((n / 64))); do echo "  s$i: { command: [$EXAMPLE], replicas: 64 }"; done
} >"$W/replicas.yaml"
if "$MCPCTL" check "$W/replicas.yaml" >/dev/null 2>&1; then
	run replicas "$W/replicas.yaml"
else
	echo "replicas  (this build has no replicas:)"
fi
