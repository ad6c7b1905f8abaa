#!/bin/bash
# Benchmark: mcpd and supervisord side by side on the same N trivial children.
#
#   bench/supervise.sh [BUILD_DIR] [N...]      (default: build/demo, N = 100 1000)
#
# Prints, for each supervisor and N: time until all children are running,
# the supervisor's RSS, status latency (median of 20), kill -9 -> new pid
# reaction time (median of 10, backoff 0), and idle CPU over 10 s.
# Needs supervisord (Debian package "supervisor"). Talks to nothing but
# local Unix sockets; every loop is bounded.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
shift || true
sizes=${*:-100 1000}
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f is missing: run ./scripts/dev build first" >&2; exit 1; }
done
have_supervisord=1
command -v supervisord >/dev/null || { have_supervisord=0; echo "bench: supervisord not found: only mcpd is measured" >&2; }

W=$(mktemp -d /tmp/mcpd-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 100); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	pkill -KILL -f "$W" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ns_to_ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f\n", (b - a) / 1000000}'; }
. "$top/bench/timing.sh"	# median

# Run CMD 20 times; print the median wall time in ms (3 decimals).
latency() {
	for _ in $(seq 1 20); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		ns_to_ms "$t0" "$t1"
	done | median
}

report() { printf '%-12s N=%-5s %-28s %s\n' "$1" "$2" "$3" "$4"; }

bench_mcpd() {
	local n=$1 sock=$W/mcpd-$n.sock m=$W/mcpd-$n.yaml pid t0 t1 victim newpid
	{
		echo "version: 1"
		echo "defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s } }"
		echo "servers:"
		for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE, --name, s$i] }"; done
	} >"$m"
	t0=$(now_ms)
	"$MCPD" -c "$m" -s "$sock" 2>"$W/mcpd-$n.log" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 1200); do
		[[ $("$MCPCTL" -s "$sock" --json status 2>/dev/null | grep -c '"state": *"running"') == "$n" ]] && break
		sleep 0.05
	done
	t1=$(now_ms)
	report mcpd "$n" "all running" "$((t1 - t0)) ms"
	report mcpd "$n" "RSS" "$(($(rss_kib "$pid") / 1024)) MiB ($(rss_kib "$pid") KiB)"
	report mcpd "$n" "status latency (median)" "$(latency "$MCPCTL" -s "$sock" status) ms"
	local times=() inner=() ts
	for k in $(seq 1 10); do
		victim=$("$MCPCTL" -s "$sock" --json status "s$k" | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
		t0=$(date +%s%N)
		kill -KILL "$victim"
		for _ in $(seq 1 20000); do
			newpid=$("$MCPCTL" -s "$sock" --json status "s$k" | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
			[[ -n $newpid && $newpid != "$victim" ]] && break
		done
		t1=$(date +%s%N)
		times+=("$(ns_to_ms "$t0" "$t1")")
		# mcpd's own view: from the kill to the log line of the new process (ms timestamps).
		ts=$(grep "s$k: starting: pid $newpid" "$W/mcpd-$n.log" | tail -n 1 | cut -d' ' -f1)
		[[ -n $ts ]] && inner+=("$(awk -v a="$t0" -v b="$(date -d "$ts" +%s%N)" 'BEGIN {printf "%.3f\n", (b - a) / 1000000}')")
	done
	report mcpd "$n" "kill -9 -> new pid (median)" "$(printf '%s\n' "${times[@]}" | median) ms (seen by polling mcpctl)"
	report mcpd "$n" "kill -9 -> spawn logged (median)" "$(printf '%s\n' "${inner[@]}" | median) ms (from mcpd's log timestamps, 1 ms resolution)"
	sleep 2
	local c0 c1
	c0=$(cpu_ticks "$pid")
	sleep 10
	c1=$(cpu_ticks "$pid")
	report mcpd "$n" "idle CPU over 10 s" "$((c1 - c0)) ticks ($(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) * 100 / hz / 10}')%)"
	kill -TERM "$pid"
	wait "$pid"
}

bench_supervisord() {
	local n=$1 conf=$W/sup-$n.conf sock=$W/sup-$n.sock pid t0 t1 victim newpid
	{
		echo "[unix_http_server]"; echo "file=$sock"
		echo "[supervisord]"; echo "logfile=$W/sup-$n.log"; echo "pidfile=$W/sup-$n.pid"; echo "nodaemon=true"; echo "minfds=8192"
		echo "[rpcinterface:supervisor]"; echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
		echo "[supervisorctl]"; echo "serverurl=unix://$sock"
		for i in $(seq 1 "$n"); do
			echo "[program:s$i]"; echo "command=$EXAMPLE --name s$i"; echo "startsecs=0"; echo "autorestart=true"
			echo "stdout_logfile=NONE"; echo "stderr_logfile=NONE"
		done
	} >"$conf"
	t0=$(now_ms)
	supervisord -c "$conf" >/dev/null 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 1200); do
		[[ $(supervisorctl -c "$conf" status 2>/dev/null | grep -c RUNNING) == "$n" ]] && break
		sleep 0.05
	done
	t1=$(now_ms)
	report supervisord "$n" "all running" "$((t1 - t0)) ms"
	report supervisord "$n" "RSS" "$(($(rss_kib "$pid") / 1024)) MiB ($(rss_kib "$pid") KiB)"
	report supervisord "$n" "status latency (median)" "$(latency supervisorctl -c "$conf" status) ms"
	local times=()
	for k in $(seq 1 10); do
		victim=$(supervisorctl -c "$conf" pid "s$k")
		t0=$(date +%s%N)
		kill -KILL "$victim"
		for _ in $(seq 1 20000); do
			newpid=$(supervisorctl -c "$conf" pid "s$k" 2>/dev/null)
			[[ $newpid =~ ^[0-9]+$ && $newpid != 0 && $newpid != "$victim" ]] && break
		done
		t1=$(date +%s%N)
		times+=("$(ns_to_ms "$t0" "$t1")")
	done
	report supervisord "$n" "kill -9 -> new pid (median)" "$(printf '%s\n' "${times[@]}" | median) ms (includes one supervisorctl round trip per poll)"
	sleep 2
	local c0 c1
	c0=$(cpu_ticks "$pid")
	sleep 10
	c1=$(cpu_ticks "$pid")
	report supervisord "$n" "idle CPU over 10 s" "$((c1 - c0)) ticks ($(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) * 100 / hz / 10}')%)"
	kill -TERM "$pid"
	wait "$pid"
}

ulimit -n "$(ulimit -Hn)" 2>/dev/null
for n in $sizes; do
	bench_mcpd "$n"
	((have_supervisord)) && bench_supervisord "$n"
done
