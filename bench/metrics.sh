#!/bin/bash
# Benchmark: the cost of traffic metrics.
#
#   bench/metrics.sh [BUILD_DIR] [N_SERVERS] [TOOLS] [RELAY_REQUESTS]
#                        (default: build/demo, 1000, 20, 20000)
#
# (a) The relay: p50/p99 of sequential tools/call echo requests and pipelined
#     requests/s through mcpctl connect (bench/connect.mjs, needs node), with
#     traffic metrics on and off (MCPD_TRAFFIC_METRICS=0), two runs of each,
#     alternating.
# (b) /metrics at N_SERVERS example servers x TOOLS tools (--tools): the time
#     to first byte of GET /metrics minus that of GET /livez (mcpd renders the
#     whole exposition before it answers), the median and max of 20, mcpd's
#     CPU time per GET (render and send), the exposition's size and series;
#     without traffic, with traffic on 2 tools of each server, then on every
#     tool. Numbers only, no assertion; 127.0.0.1 and a Unix socket only.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
n=${2:-1000}
tools=${3:-20}
relay_n=${4:-20000}
. "$top/bench/lib.sh"
. "$top/bench/timing.sh"	# median (its measure is replaced below)

# wait_running COUNT: at most 300 s.
wait_running() {
	for _ in $(seq 1 3000); do
		[[ $("$MCPCTL" -s "$W/s.sock" --json status 2>/dev/null | grep -c '"state": *"running"') == "$1" ]] && return 0
		sleep 0.1
	done
	echo "bench: not all $1 servers are running after 300 s" >&2
	return 1
}

# ---- (a) the relay, with and without ----------------------------------------
if command -v node >/dev/null; then
	printf 'version: 1\nservers:\n  ex: { command: [%s, --name, bench%s-ex] }\n' "$EXAMPLE" "$$" >"$W/one.yaml"
	for round in 1 2; do
		for mode in on off; do
			if [[ $mode == off ]]; then
				MCPD_TRAFFIC_METRICS=0 "$MCPD" -c "$W/one.yaml" -s "$W/s.sock" 2>"$W/mcpd.log" &
			else
				"$MCPD" -c "$W/one.yaml" -s "$W/s.sock" 2>"$W/mcpd.log" &
			fi
			pid=$!
			wait_running 1 || exit 1
			line=$(node "$top/bench/connect.mjs" "$MCPCTL" "$W/s.sock" ex "$EXAMPLE" "$relay_n" | grep '^mcpctl connect')
			printf 'relay, traffic metrics %-3s (run %d): %s\n' "$mode" "$round" "${line#mcpctl connect }"
			stop_mcpd
		done
	done
else
	echo "relay: skipped (node is not installed)"
fi

# ---- (b) /metrics at n servers x tools tools -----------------------------------
{
	echo "version: 1"
	echo "mcpd: { http: 127.0.0.1:0 }"
	echo "defaults: { backoff: { initial: 0, jitter: 0 }, health: { interval: 1h, timeout: 5s } }"
	echo "servers:"
	for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE, --name, bench$$-s$i, --tools, $tools] }"; done
} >"$W/many.yaml"
port=
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 10000))
	sed -i "s/http: 127.0.0.1:[0-9]*/http: 127.0.0.1:$port/" "$W/many.yaml"
	"$MCPD" -c "$W/many.yaml" -s "$W/s.sock" 2>"$W/mcpd.log" &
	pid=$!
	sleep 1
	kill -0 "$pid" 2>/dev/null && break
	pid=
done
[[ -n $pid ]] || { echo "bench: mcpd does not start: $(tail -n 3 "$W/mcpd.log")" >&2; exit 1; }
wait_running "$n" || exit 1
# Tool labels need each server's tool list: wait until all have theirs.
want=$((tools + 4))
for _ in $(seq 1 3000); do
	[[ $("$MCPCTL" -s "$W/s.sock" --json status 2>/dev/null | grep -c "\"tools\": *$want,") == "$n" ]] && break
	sleep 0.1
done
base=http://127.0.0.1:$port

# traffic FIRST LAST: one tools/call of tool_FIRST..tool_LAST on every server (and a tools/list).
traffic() {
	local first=$1 last=$2
	{
		echo '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
		echo '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
		for k in $(seq "$first" "$last"); do
			echo '{"jsonrpc":"2.0","id":'$((k + 1))',"method":"tools/call","params":{"name":"tool_'$k'","arguments":{"text":"x"}}}'
		done
	} >"$W/lines"
	seq 1 "$n" | xargs -P 4 -I{} sh -c "'$MCPCTL' -s '$W/s.sock' connect s{} <'$W/lines' >/dev/null 2>&1"
}

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

# measure LABEL: 20 renders, each timed against /livez just before; and mcpd's CPU time per GET
# (render and send, from /proc: robust on a loaded machine, where wall times are not).
measure() {
	local label=$1 i m l c0 c1
	: >"$W/render"
	curl -s -o "$W/metrics" "$base/metrics"
	c0=$(cpu_ticks)
	for i in $(seq 1 20); do
		l=$(curl -s -o /dev/null -w '%{time_starttransfer}' "$base/livez")
		m=$(curl -s -o /dev/null -w '%{time_starttransfer} %{time_total}' "$base/metrics")
		echo "$m $l" | awk '{ printf "%.3f %.3f\n", ($1 - $3) * 1000, $2 * 1000 }' >>"$W/render"
	done
	c1=$(cpu_ticks)
	printf '%s: /metrics %s bytes, %s lines (%s mcpd_requests_total series); render (TTFB - /livez TTFB) median %s ms, max %s ms; whole GET median %s ms; mcpd CPU per GET %s ms\n' \
		"$label" "$(wc -c <"$W/metrics")" "$(wc -l <"$W/metrics")" "$(grep -c '^mcpd_requests_total' "$W/metrics")" \
		"$(cut -d' ' -f1 "$W/render" | median)" "$(cut -d' ' -f1 "$W/render" | sort -n | tail -n 1)" \
		"$(cut -d' ' -f2 "$W/render" | median)" "$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) * 1000 / hz / 20 }')"
}

measure "$n servers, no traffic"
traffic 1 2
measure "$n servers, traffic on 2 tools each"
traffic 1 "$tools"
measure "$n servers, traffic on all $tools tools each"
printf 'mcpd RSS %s KiB\n' "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")"
