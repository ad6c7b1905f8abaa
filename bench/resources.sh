#!/bin/bash
# Benchmark: the cost of sampling what N servers consume (mcpd/resources.c).
#
#   bench/resources.sh [BUILD_DIR] [N...]     (default: build/demo, 100 and 1000)
#
# For each N, and for each source this machine offers (process group, i.e.
# MCPD_CGROUPS=0, and cgroup where mcpd can create them), starts mcpd -v with
# N example servers, waits until all run, and reads ROUNDS sampling rounds
# from mcpd's debug log: the CPU time of a round, the wall time of its steps
# added up (more than the CPU time on a busy machine), the loop iterations it
# was spread over and the longest of them (what the loop was held for at
# most), and the processes on the machine (what a process group round walks
# over in /proc). No assertion: numbers only. Local Unix
# sockets only; every loop is bounded.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
shift $(($# > 0 ? 1 : 0))
sizes=("$@")
((${#sizes[@]})) || sizes=(100 1000)
ROUNDS=5
. "$top/bench/lib.sh"

# Median and max of a column of numbers.
stats() {
	sort -n | awk '{a[NR]=$1} END {if (!NR) {print "-"; exit} m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "median %.2f, max %.2f", m, a[NR]}'
}

# bench_one N SOURCE: one mcpd, N servers, ROUNDS rounds after all run.
bench_one() {
	local n=$1 src=$2 sock=$W/mcpd.sock m=$W/mcpd.yaml log=$W/mcpd.log running=0 rounds=0 first
	{
		echo "version: 1"
		echo "defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s } }"
		echo "servers:"
		for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE, --name, bench$$-s$i] }"; done
	} >"$m"
	if [[ $src == "process group" ]]; then
		MCPD_CGROUPS=0 "$MCPD" -v -c "$m" -s "$sock" 2>"$log" &
	else
		"$MCPD" -v -c "$m" -s "$sock" 2>"$log" &
	fi
	pid=$!
	for _ in $(seq 1 3000); do
		running=$("$MCPCTL" -s "$sock" --json status 2>/dev/null | grep -c '"state": *"running"')
		[[ $running == "$n" ]] && break
		sleep 0.1
	done
	if [[ $src == cgroup ]] && ! grep -q 'children: one cgroup v2 per server' "$log"; then
		printf 'N=%-5s %-14s %s\n' "$n" "$src" "not here: $(grep -o 'children: [^;]*' "$log" | head -n 1)"
		stop_mcpd
		return
	fi
	# The rounds that begin once all run: count the lines from here on.
	first=$(grep -c 'resources: sampled' "$log")
	for _ in $(seq 1 $((ROUNDS * 80))); do
		rounds=$(($(grep -c 'resources: sampled' "$log") - first))
		((rounds >= ROUNDS)) && break
		sleep 0.1
	done
	local lines procs
	lines=$(grep 'resources: sampled' "$log" | tail -n +$((first + 1)) | head -n "$ROUNDS")
	procs=$(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' 2>/dev/null | wc -l)
	printf 'N=%-5s %-14s %s\n' "$n" "$src" "$running of $n running, $procs processes on the machine, $rounds rounds"
	printf 'N=%-5s %-14s %-34s %s ms\n' "$n" "$src" "CPU time per round" \
		"$(sed -E 's/.* \(([0-9.]+) ms of CPU\).*/\1/' <<<"$lines" | stats)"
	printf 'N=%-5s %-14s %-34s %s ms\n' "$n" "$src" "wall time of its steps, added up" \
		"$(sed -E 's/.* in ([0-9.]+) ms .*/\1/' <<<"$lines" | stats)"
	printf 'N=%-5s %-14s %-34s %s\n' "$n" "$src" "loop iterations per round" \
		"$(sed -E 's/.* over ([0-9]+) loop .*/\1/' <<<"$lines" | stats)"
	printf 'N=%-5s %-14s %-34s %s ms\n' "$n" "$src" "longest iteration (loop held)" \
		"$(sed -E 's/.*\(longest ([0-9.]+) ms, .*/\1/' <<<"$lines" | stats)"
	printf 'N=%-5s %-14s %-34s %s ms\n' "$n" "$src" "CPU time of the longest iteration" \
		"$(sed -E 's/.*\(longest [0-9.]+ ms, ([0-9.]+) ms of CPU\).*/\1/' <<<"$lines" | stats)"
	printf 'N=%-5s %-14s %-34s %s\n' "$n" "$src" "stat files read per round" \
		"$(sed -E 's/.*processes, ([0-9]+) stat files.*/\1/' <<<"$lines" | stats)"
	stop_mcpd
	pkill -KILL -f -- "--name bench$$-" 2>/dev/null
}

for n in "${sizes[@]}"; do
	bench_one "$n" "process group"
	bench_one "$n" cgroup
done
