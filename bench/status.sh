#!/usr/bin/env bash
# bench/status.sh [BUILD_DIR] [N...]: `mcpctl status` at N example servers
# (default 100 and 1000), the build without sanitizers (default build/demo).
# For each N: the median of 20 runs of `mcpctl status` and of
# `mcpctl --json status`, end to end (wall time, mcpctl's start-up included),
# mcpd's CPU time per call (from /proc, over the 20 calls) and the reply's size.
# RUNS=K repeats the 20 calls K times (one line each). Local Unix socket only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
shift $(($# ? 1 : 0))
sizes=${*:-100 1000}
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server
RUNS=${RUNS:-1}
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f missing: build first (./scripts/dev build)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/mcpd-status-bench.XXXXXX)
pid=
cleanup() {
	[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 300); do
		[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null

. "$top/bench/timing.sh"

for n in $sizes; do
	sock=$W/mcpd-$n.sock m=$W/mcpd-$n.yaml
	{
		echo "version: 1"
		echo "defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s } }"
		echo "servers:"
		for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE] }"; done
	} >"$m"
	"$MCPD" -c "$m" -s "$sock" 2>"$W/mcpd-$n.log" &
	pid=$!
	for _ in $(seq 1 1500); do
		"$MCPCTL" -s "$sock" health >/dev/null 2>&1 && break
		sleep 0.2
	done
	running=$("$MCPCTL" -s "$sock" --json status 2>/dev/null | grep -c '"state": *"running"')
	[[ $running == "$n" ]] || echo "bench: N=$n: only $running of $n running" >&2
	size=$("$MCPCTL" -s "$sock" --json status 2>/dev/null | wc -c)
	for r in $(seq 1 "$RUNS"); do
		echo "N=$n run $r: status $(measure "$MCPCTL" -s "$sock" status); --json status $(measure "$MCPCTL" -s "$sock" --json status); --json output $size bytes"
	done
	if [[ -n ${KEEP:-} ]]; then
		echo "mcpd pid $pid on $sock; press Enter to stop it"
		read -r
	fi
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
done
