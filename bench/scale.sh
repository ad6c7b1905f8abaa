#!/bin/bash
# Benchmark (issue 17): mcpd, supervisord and the spawn floor side by side on
# N tiny stdio MCP servers, in one run on this machine.
#
#   bench/scale.sh [BUILD_DIR] [N...]      (default: build/demo, N = 100 1000)
#
# For each N, one after the other (never at the same time):
#   floor        bench/spawn-floor.c (built here with cc -O2): posix_spawn()s the
#                N servers and finishes each one's MCP handshake the way mcpd
#                must for a server whose era it does not know yet (-p:
#                server/discover, its error answer, then initialize, its
#                result, notifications/initialized), polling every pipe with
#                epoll; its time is until the last handshake is done. No
#                cgroup per server: compare with mcpd's MCPD_CGROUPS=0 row.
#                The table also shows the floor with initialize alone (one
#                round trip, what a server of a known era needs), and the
#                floor with a cgroup per server made and each child created
#                in it (-g, as mcpd does as root; "-" where it cannot).
#   mcpd         the same N servers in a manifest (one cgroup per server as
#                root, then again with MCPD_CGROUPS=0: process groups, for
#                the time until all are ready only); all MCP-ready at the time
#                of mcpd's last "running (was starting)" log line (1 ms
#                resolution; mcpd says running only after the handshake),
#                once `mcpctl health` says ok (polled every 0.2 s, so that the
#                polls take little CPU from mcpd and the servers), checked with
#                `mcpctl --json status` (all N "running").
#   supervisord  Debian's supervisor (installed with apt-get if missing), the
#                same N programs, startsecs=0; ready when `supervisorctl status`
#                shows N RUNNING (no handshake at all), polled every 0.5 s
#                (a poll costs it a second of CPU at N=1000).
# STARTUP_RUNS=K (default 3): the start-up rows (floor, mcpd, mcpd without
# cgroups and the other floors) are timed K times, interleaved in that order
# (the rest of mcpd's figures on the first run only); the table shows the
# median of each and the K ratios of mcpd to the floor, run by run.
# Then prints one table per N, ratios first. The servers are the example server's
# build without sanitizers (BUILD_DIR/examples/mcp-example-server-plain, else
# BUILD_DIR/examples/mcp-example-server).
#
# Relay figures: with node, bench/connect.mjs (5000 requests) against the mcpd of
# the first N, server s1. Not covered: replicas (not implemented), relay latency
# at the largest N, idle CPU (bench/supervise.sh has it).
#
# No assertion, numbers only. Local Unix sockets and pipes only; every loop is
# bounded; every process started here is killed at exit. The CPU time is
# mcpd's own (user + system, 10 ms ticks) when all are ready, the floor's from
# getrusage.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/demo}
shift || true
sizes=${*:-100 1000}
startup_runs=${STARTUP_RUNS:-3}
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server-plain
[[ -x $EXAMPLE ]] || EXAMPLE=$build/examples/mcp-example-server
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f is missing: run ./scripts/dev build first" >&2; exit 1; }
done
if ! command -v supervisord >/dev/null; then
	echo "bench: installing supervisor with apt-get" >&2
	apt-get install -y -q supervisor >/dev/null 2>&1 || echo "bench: supervisord not installed: only mcpd and the floor are measured" >&2
fi
have_supervisord=0
command -v supervisord >/dev/null && have_supervisord=1
have_node=0
command -v node >/dev/null && have_node=1

W=$(mktemp -d /tmp/mcpd-scale.XXXXXX)
tag=scale$$
pids=()
cleanup() {
	local alive
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 300); do
		alive=0
		for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	pkill -KILL -f -- "--name $tag-" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null

cc -O2 -o "$W/spawn-floor" "$top/bench/spawn-floor.c" || { echo "bench: cannot build bench/spawn-floor.c" >&2; exit 1; }

. "$top/bench/timing.sh"
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }

# Run CMD 20 times; print the median wall time in ms (3 decimals).
latency() {
	local t0 t1
	for _ in $(seq 1 20); do
		t0=$(now_ns)
		"$@" >/dev/null 2>&1
		t1=$(now_ns)
		awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1000000}'
	done | median
}

# Results, by name: R[key]=value.
declare -A R

# bench_floor N KEY [-p] [-g]: the floor's time and CPU into R[KEY_ready_N], R[KEY_cpu_N].
bench_floor() {
	local n=$1 key=$2 out
	out=$("$W/spawn-floor" "${@:3}" "$n" 300 "$EXAMPLE" --name "$tag-f$n-s" 2>&1)
	# "ready N of N in T ms; cpu C ms"
	R[${key}_ready_$n]=$(sed -n 's/^ready \([0-9]*\) of \([0-9]*\) in \([0-9.]*\) ms.*/\3/p' <<<"$out" | awk '{printf "%d", $1}')
	R[${key}_cpu_$n]=$(sed -n 's/.*cpu \([0-9.]*\) ms.*/\1/p' <<<"$out" | awk '{printf "%d", $1}')
	[[ $out == "ready $n of $n "* ]] || { echo "bench: floor: $out" >&2; R[${key}_ready_$n]=-; }
}

# The manifest of N servers for mcpd, at $W/mcpd-N.yaml.
mcpd_manifest() {
	local n=$1
	{
		echo "version: 1"
		echo "defaults: { backoff: { initial: 0, jitter: 0 }, circuit: { failures: 0 }, health: { interval: 1h, timeout: 5s } }"
		echo "servers:"
		for i in $(seq 1 "$n"); do echo "  s$i: { command: [$EXAMPLE, --name, $tag-m$n-s$i] }"; done
	} >"$W/mcpd-$n.yaml"
}

# Start mcpd on N servers (ENV... before it), wait until all are ready: its pid in $pid, R[KEY_ready_N] set.
mcpd_ready() {
	local n=$1 key=$2 sock=$W/mcpd-$n.sock t0 t1 ts running
	shift 2
	t0=$(now_ns)
	# A state directory of its own: its manifest history holds this run's manifest only, as on a new machine.
	mkdir -p "$W/state-$key-$n"
	env STATE_DIRECTORY="$W/state-$key-$n" "$@" "$MCPD" -c "$W/mcpd-$n.yaml" -s "$sock" 2>"$W/mcpd-$n.log" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 1500); do	# at most 300 s
		"$MCPCTL" -s "$sock" health >/dev/null 2>&1 && break
		sleep 0.2
	done
	t1=$(now_ns)
	R[${key}_cpu_$n]=$(cpu_ms "$pid")
	running=$("$MCPCTL" -s "$sock" --json status 2>/dev/null | grep -c '"state": *"running"')
	# The time of mcpd's last "running" log line (1 ms resolution): the poll above is only slow, not part of it.
	ts=$(grep ': running (was starting)' "$W/mcpd-$n.log" | tail -n 1 | cut -d' ' -f1)
	[[ -n $ts ]] && t1=$(date -d "$ts" +%s%N)
	R[${key}_ready_$n]=$(((t1 - t0) / 1000000))
	[[ $running == "$n" ]] || { echo "bench: mcpd N=$n ($key): only $running of $n running" >&2; R[${key}_ready_$n]=-; }
}

# mcpd_ready_only N KEY [ENV...]: only mcpd's time until all are ready, then stop it.
mcpd_ready_only() {
	local n=$1 key=$2 pid
	shift 2
	mcpd_ready "$n" "$key" "$@"
	kill -TERM "$pid"
	wait "$pid"
}

# After a start-up run: R[KEY_ready_N] and R[KEY_cpu_N] appended to the lists KEY_readys_N, KEY_cpus_N.
keep_run() {
	local n=$1 key
	shift
	for key in "$@"; do
		R[${key}_readys_$n]+="${R[${key}_ready_$n]} "
		R[${key}_cpus_$n]+="${R[${key}_cpu_$n]:--} "
	done
}

# The medians of the kept runs into R[KEY_ready_N], R[KEY_cpu_N]; R[ratios_N]: mcpd / floor run by run.
median_runs() {
	local n=$1 key a b i
	local -a ms fs
	read -ra ms <<<"${R[mcpd_readys_$n]}"
	read -ra fs <<<"${R[floor_readys_$n]}"
	R[ratios_$n]=
	for i in "${!ms[@]}"; do R[ratios_$n]+="$(ratio "${ms[$i]}" "${fs[$i]:--}")x "; done
	R[ratios_$n]=${R[ratios_$n]% }
	for key in floor mcpd floor1 floorcg mcpd_nocg; do
		R[${key}_ready_$n]=$(tr ' ' '\n' <<<"${R[${key}_readys_$n]}" | grep -v '^-\?$' | median)
		R[${key}_cpu_$n]=$(tr ' ' '\n' <<<"${R[${key}_cpus_$n]}" | grep -v '^-\?$' | median | awk '{printf "%d", $1}')
	done
}

bench_mcpd() {
	local n=$1 sock=$W/mcpd-$n.sock pid t0 victim newpid ts k
	mcpd_ready "$n" mcpd
	R[mcpd_timeouts_$n]=$(grep -c 'no answer to initialize' "$W/mcpd-$n.log")
	R[mcpd_rss_$n]=$(rss_kib "$pid")
	R[mcpd_status_$n]=$(latency "$MCPCTL" -s "$sock" status)
	R[mcpd_status_json_$n]=$(latency "$MCPCTL" -s "$sock" --json status)
	# kill -9 -> the new child: the time of mcpd's log line for it (1 ms resolution), median of 10.
	local inner=()
	for k in $(seq 1 10); do
		victim=$("$MCPCTL" -s "$sock" --json status "s$k" | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
		t0=$(now_ns)
		kill -KILL "$victim"
		newpid=
		for _ in $(seq 1 2000); do
			newpid=$("$MCPCTL" -s "$sock" --json status "s$k" | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$')
			[[ -n $newpid && $newpid != "$victim" ]] && break
			sleep 0.005
		done
		ts=$(grep "s$k: starting: pid $newpid" "$W/mcpd-$n.log" | tail -n 1 | cut -d' ' -f1)
		[[ -n $ts ]] && inner+=("$(awk -v a="$t0" -v b="$(date -d "$ts" +%s%N)" 'BEGIN {printf "%.1f\n", (b - a) / 1000000}')")
	done
	R[mcpd_kill_$n]=$(printf '%s\n' "${inner[@]}" | median)
	if ((have_node)) && [[ -z ${R[relay]:-} ]]; then
		R[relay]=$(node "$top/bench/connect.mjs" "$MCPCTL" "$sock" s1 "$EXAMPLE" 5000 2>&1 | tail -n 3)
	fi
	kill -TERM "$pid"
	wait "$pid"
}

bench_supervisord() {
	local n=$1 conf=$W/sup-$n.conf sock=$W/sup-$n.sock pid t0 t1 victim newpid k
	{
		echo "[unix_http_server]"; echo "file=$sock"
		echo "[supervisord]"; echo "logfile=$W/sup-$n.log"; echo "pidfile=$W/sup-$n.pid"; echo "nodaemon=true"; echo "minfds=8192"
		echo "[rpcinterface:supervisor]"; echo "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"
		echo "[supervisorctl]"; echo "serverurl=unix://$sock"
		for i in $(seq 1 "$n"); do
			echo "[program:s$i]"; echo "command=$EXAMPLE --name $tag-p$n-s$i"; echo "startsecs=0"; echo "autorestart=true"
			echo "stdout_logfile=NONE"; echo "stderr_logfile=NONE"
		done
	} >"$conf"
	t0=$(now_ns)
	supervisord -c "$conf" >/dev/null 2>&1 &
	pid=$!
	pids+=("$pid")
	R[sup_ready_$n]=-
	for _ in $(seq 1 600); do	# at most 300 s of sleeps
		if [[ $(supervisorctl -c "$conf" status 2>/dev/null | grep -c RUNNING) == "$n" ]]; then
			t1=$(now_ns)
			R[sup_ready_$n]=$(((t1 - t0) / 1000000))
			break
		fi
		sleep 0.5
	done
	R[sup_rss_$n]=$(rss_kib "$pid")
	R[sup_status_$n]=$(latency supervisorctl -c "$conf" status)
	local times=()
	for k in $(seq 1 5); do
		victim=$(supervisorctl -c "$conf" pid "s$k")
		t0=$(now_ns)
		kill -KILL "$victim"
		for _ in $(seq 1 2000); do
			newpid=$(supervisorctl -c "$conf" pid "s$k" 2>/dev/null)
			[[ $newpid =~ ^[0-9]+$ && $newpid != 0 && $newpid != "$victim" ]] && break
		done
		t1=$(now_ns)
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", (b - a) / 1000000}')")
	done
	R[sup_kill_$n]=$(printf '%s\n' "${times[@]}" | median)
	kill -TERM "$pid"
	wait "$pid"
}

table() {
	local n=$1
	echo
	echo "N=$n, ${R[when_$n]}; start-up rows: median of $startup_runs run(s), mcpd/floor run by run: ${R[ratios_$n]}"
	echo
	echo "| figure | ratio | mcpd | floor | supervisord |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| all $n MCP-ready (supervisord: RUNNING, no handshake) | mcpd/floor $(ratio "${R[mcpd_ready_$n]}" "${R[floor_ready_$n]}")x, supervisord/mcpd $(ratio "${R[sup_ready_$n]:--}" "${R[mcpd_ready_$n]}")x | ${R[mcpd_ready_$n]} ms | ${R[floor_ready_$n]} ms | ${R[sup_ready_$n]:--} ms |"
	echo "| same, mcpd without cgroups (MCPD_CGROUPS=0, like the floor) | mcpd/floor $(ratio "${R[mcpd_nocg_ready_$n]}" "${R[floor_ready_$n]}")x | ${R[mcpd_nocg_ready_$n]} ms | ${R[floor_ready_$n]} ms | - |"
	echo "| same, the floor with a cgroup per server too (-g) | mcpd/floor $(ratio "${R[mcpd_ready_$n]}" "${R[floorcg_ready_$n]}")x | ${R[mcpd_ready_$n]} ms | ${R[floorcg_ready_$n]} ms | - |"
	echo "| same, the floor with initialize alone (no era probe) | mcpd/floor $(ratio "${R[mcpd_ready_$n]}" "${R[floor1_ready_$n]}")x | ${R[mcpd_ready_$n]} ms | ${R[floor1_ready_$n]} ms | - |"
	echo "| CPU time until then (the supervisor or the floor program alone) | mcpd/floor $(ratio "${R[mcpd_cpu_$n]}" "${R[floor_cpu_$n]}")x | ${R[mcpd_cpu_$n]} ms | ${R[floor_cpu_$n]} ms | - |"
	echo "| RSS | supervisord/mcpd $(ratio "${R[sup_rss_$n]:--}" "${R[mcpd_rss_$n]}")x | $(awk -v k="${R[mcpd_rss_$n]}" 'BEGIN {printf "%.1f", k / 1024}') MiB | - | $(awk -v k="${R[sup_rss_$n]:-0}" 'BEGIN {printf "%.1f", k / 1024}') MiB |"
	echo "| \`status\`, all servers, end to end (median of 20) | supervisord/mcpd $(ratio "${R[sup_status_$n]:--}" "${R[mcpd_status_$n]}")x | ${R[mcpd_status_$n]} ms (--json: ${R[mcpd_status_json_$n]} ms) | - | ${R[sup_status_$n]:--} ms |"
	echo "| kill -9 -> new child (mcpd: its log line, median of 10; supervisord: polled, median of 5) | supervisord/mcpd $(ratio "${R[sup_kill_$n]:--}" "${R[mcpd_kill_$n]}")x | ${R[mcpd_kill_$n]} ms | - | ${R[sup_kill_$n]:--} ms |"
	echo "| handshakes timed out during start-up | | ${R[mcpd_timeouts_$n]} | - | - |"
}

for n in $sizes; do
	R[when_$n]="started $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	mcpd_manifest "$n"
	for r in $(seq 1 "$startup_runs"); do
		bench_floor "$n" floor -p
		if ((r == 1)); then
			bench_mcpd "$n"
		else
			mcpd_ready_only "$n" mcpd
		fi
		bench_floor "$n" floor1
		bench_floor "$n" floorcg -p -g
		mcpd_ready_only "$n" mcpd_nocg MCPD_CGROUPS=0
		keep_run "$n" floor mcpd floor1 floorcg mcpd_nocg
	done
	median_runs "$n"
	((have_supervisord)) && bench_supervisord "$n"
done
for n in $sizes; do table "$n"; done
if [[ -n ${R[relay]:-} ]]; then
	echo
	echo "relay (bench/connect.mjs, 5000 tools/call echo requests, server s1 of mcpd at N=${sizes%% *}):"
	echo
	sed 's/^/    /' <<<"${R[relay]}"
fi
