#!/bin/bash
# Benchmark: mcpd starting N example servers at once.
#
#   bench/startup.sh [BUILD_DIR] [N] [START_TIMEOUT]
#                                 (default: build/demo, 1000, the manifest default)
#
# Prints the time until all N servers are running, the latency of
# `mcpctl status` while they start (max, median, how many answered), and how
# many handshakes timed out or servers restarted on the way (both should be
# 0). No assertion: numbers only. Talks to a local Unix socket only; every
# loop is bounded (at most 300 s of startup).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
n=${2:-1000}
start_timeout=${3:-}
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f is missing: run ./scripts/dev build first" >&2; exit 1; }
done

W=$(mktemp -d /tmp/mcpd-bench.XXXXXX)
pid=
poller=
cleanup() {
	[[ -n $poller ]] && kill "$poller" 2>/dev/null
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	pkill -KILL -f -- "--name bench$$-" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

. "$top/bench/timing.sh"	# now_ns, median

sock=$W/mcpd.sock
m=$W/mcpd.yaml
{
	echo "version: 1"
	if [[ -n $start_timeout ]]; then
		echo "defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s, start_timeout: $start_timeout } }"
	else
		echo "defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s } }"
	fi
	echo "servers:"
	for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE, --name, bench$$-s$i] }"; done
} >"$m"

ulimit -n "$(ulimit -Hn)" 2>/dev/null
t0=$(now_ns)
"$MCPD" -c "$m" -s "$sock" 2>"$W/mcpd.log" &
pid=$!

# Status latency during startup: one mcpctl after the other, each timed, until told to stop.
(
	for _ in $(seq 1 6000); do
		[[ -e $W/stop ]] && break
		a=$(now_ns)
		if "$MCPCTL" -s "$sock" status >/dev/null 2>&1; then
			b=$(now_ns)
			echo $(((b - a) / 1000)) >>"$W/latency"
		elif [[ -S $sock ]]; then
			echo x >>"$W/failed"	# mcpctl gave up (its own timeout) or mcpd is gone
		else
			sleep 0.01	# the socket is not there yet
		fi
	done
) &
poller=$!

running=0
for _ in $(seq 1 6000); do
	running=$("$MCPCTL" -s "$sock" --json status 2>/dev/null | grep -c '"state": *"running"')
	[[ $running == "$n" ]] && break
	(($(now_ns) - t0 > 300000000000)) && break
	sleep 0.05
done
t1=$(now_ns)
touch "$W/stop"
wait "$poller"
poller=

printf 'mcpd N=%-5s %-36s %s\n' "$n" "all running" "$(((t1 - t0) / 1000000)) ms ($running of $n running)"
if [[ -s $W/latency ]]; then
	printf 'mcpd N=%-5s %-36s %s\n' "$n" "status latency during startup, max" "$(sort -n "$W/latency" | tail -n 1 | awk '{printf "%.1f", $1 / 1000}') ms"
	printf 'mcpd N=%-5s %-36s %s\n' "$n" "status latency during startup, median" "$(median <"$W/latency" | awk '{printf "%.1f", $1 / 1000}') ms"
	printf 'mcpd N=%-5s %-36s %s\n' "$n" "status answers during startup" "$(wc -l <"$W/latency")"
fi
printf 'mcpd N=%-5s %-36s %s\n' "$n" "status calls that failed" "$(cat "$W/failed" 2>/dev/null | wc -l)"
printf 'mcpd N=%-5s %-36s %s\n' "$n" "handshakes timed out" "$(grep -c 'no answer to initialize' "$W/mcpd.log")"
printf 'mcpd N=%-5s %-36s %s\n' "$n" "restarts" "$("$MCPCTL" -s "$sock" --json status | grep -o '"restarts": *[0-9]*' | awk -F: '{s += $2} END {print s + 0}')"
printf 'mcpd N=%-5s %-36s %s\n' "$n" "RSS" "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") KiB"
