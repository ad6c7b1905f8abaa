#!/bin/bash
# Resources per server: a server whose wrapper starts a CPU burner in its
# process group and then execs the example server. Its CPU counter grows and
# never goes down (the burner killed, the server restarted), its processes,
# memory and fds are counted, `status --json` has the resources object; by
# process group (MCPD_CGROUPS=0) and by cgroup where this machine allows one.
# mcpd's own process_* agree with /proc; promtool accepts /metrics.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# The burner: bounded (60 s of bash, no fork per turn), its pid left for the test to kill.
# Both processes carry this test's directory in their command line: no_leftovers finds
# them, and only them, also while another copy of this test runs.
tag=burn.${T##*.}
cat >"$T/burn.sh" <<SH
#!/bin/sh
bash -c 'while ((SECONDS < 60)); do :; done' "$T/burner" &
echo \$! >"$T/burner.pid"
exec "$EXAMPLE" --name "$tag"
SH
chmod +x "$T/burn.sh"

write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
servers:
  burn:
    command: [$T/burn.sh]
  capped:
    command: [$EXAMPLE]
    autostart: false
    limits: { memory: 2G }
YAML
}

# fetch: /metrics into $T/metrics; metric SERIES: its value there (empty if absent).
fetch() {
	curl -s -o "$T/metrics" --max-time 30 "http://127.0.0.1:$port/metrics"
}
metric() {
	awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"
}
# The resources object of burn in `mcpctl status --json`, compact ("null" if absent).
res_json() {
	ctl --json status burn 2>/dev/null | jq -c '.servers[] | select(.name == "burn") | .resources'
}
res() {
	ctl --json status burn 2>/dev/null | jq -r ".servers[] | select(.name == \"burn\") | .resources.$1"
}
# test EXPR: awk's arithmetic on fetched numbers (bash has integers only).
holds() {
	awk "BEGIN { exit !($1) }"
}

_cpu_past() {
	fetch && local v
	v=$(metric "mcpd_server_cpu_seconds_total{server=\"burn\"}")
	[[ -n $v ]] && holds "$v > $1"
}
_processes_are() {
	fetch && [[ $(metric "mcpd_server_processes{server=\"burn\"}") == "$1" ]]
}
_busy_percent() {
	local p
	p=$(res cpu_percent)
	[[ $p != null && -n $p ]] && holds "$p > 20"
}
_new_pid_sampled() {
	[[ $(field_of burn pid) != "$1" && $(res processes) == 2 ]]
}

# run_mode SOURCE: the whole check with mcpd sampling by SOURCE ("process group" or "cgroup").
run_mode() {
	local src=$1 v cpu_before mem fds burner pid

	if ! start_mcpd_on_free_port write_manifest; then
		not_ok "$src: mcpd starts with an HTTP endpoint" "$(cat "$T/mcpd.err")"
		return 1
	fi
	if [[ $src == cgroup ]] && ! grep -q 'children: one cgroup v2 per server' "$T/mcpd.err"; then
		skip "$src: every check" "no writable cgroup2 hierarchy here: $(grep -o 'children: .*' "$T/mcpd.err" | head -n 1)"
		stop_mcpd
		return 0
	fi
	wait_state 60 burn running || not_ok "$src: burn reaches running" "$(ctl status)"

	if wait_until 60 _cpu_past 0.5; then
		ok "$src: mcpd_server_cpu_seconds_total of burn grows past 0.5s"
	else
		not_ok "$src: mcpd_server_cpu_seconds_total of burn grows past 0.5s" "$(grep '^mcpd_server' "$T/metrics")"
	fi
	if wait_until 30 _processes_are 2; then
		ok "$src: mcpd_server_processes of burn is 2 (the server and its burner)"
	else
		not_ok "$src: mcpd_server_processes of burn is 2" "$(grep '^mcpd_server_processes' "$T/metrics")"
	fi
	mem=$(metric "mcpd_server_memory_bytes{server=\"burn\"}")
	if [[ -n $mem ]] && ((mem > 1000000 && mem < 1000000000)); then
		ok "$src: mcpd_server_memory_bytes of burn is plausible ($mem)"
	else
		not_ok "$src: mcpd_server_memory_bytes of burn is plausible" "got '$mem'"
	fi
	fds=$(metric "mcpd_server_open_fds{server=\"burn\"}")
	if [[ -n $fds ]] && ((fds > 2)); then
		ok "$src: mcpd_server_open_fds of burn is more than 2 ($fds)"
	else
		not_ok "$src: mcpd_server_open_fds of burn is more than 2" "got '$fds'"
	fi
	is "$(metric 'mcpd_server_memory_limit_bytes{server="capped"}')" 2147483648 \
		"$src: mcpd_server_memory_limit_bytes is capped's limits.memory, without a process"
	is "$(grep -c '^mcpd_server_processes{server="capped"}' "$T/metrics")" 0 \
		"$src: a server never sampled has no resource series"

	is "$(res source)" "$src" "$src: status --json says where the numbers come from"
	like "$(res_json)" '^\{"source":"[a-z ]+","cpu_seconds":[0-9.]+,"cpu_percent":(null|[0-9.]+),"memory_bytes":[0-9]+,"memory_limit_bytes":null,"fds":[0-9]+,"processes":[0-9]+,"sampled_s_ago":[0-9.]+\}$' \
		"$src: the resources object has the fields of the contract"
	if wait_until 60 _busy_percent; then
		ok "$src: cpu_percent of burn is above 20 after two samples ($(res cpu_percent))"
	else
		not_ok "$src: cpu_percent of burn is above 20 after two samples" "$(res_json)"
	fi
	is "$(ctl --json status capped | jq -c '.servers[] | select(.name == "capped") | .resources')" null \
		"$src: a server without a process has no resources object"

	# The burner ends: processes drop to 1, the counter keeps its CPU time.
	fetch
	cpu_before=$(metric "mcpd_server_cpu_seconds_total{server=\"burn\"}")
	burner=$(cat "$T/burner.pid")
	kill "$burner"
	if wait_until 30 _processes_are 1; then
		ok "$src: after the burner ends, mcpd_server_processes of burn drops to 1"
	else
		not_ok "$src: after the burner ends, mcpd_server_processes of burn drops to 1" \
			"$(grep '^mcpd_server_processes' "$T/metrics")"
	fi
	v=$(metric "mcpd_server_cpu_seconds_total{server=\"burn\"}")
	if [[ -n $v ]] && holds "$v >= $cpu_before"; then
		ok "$src: and mcpd_server_cpu_seconds_total does not go down ($cpu_before -> $v)"
	else
		not_ok "$src: and mcpd_server_cpu_seconds_total does not go down" "before $cpu_before, after '$v'"
	fi

	# A restart: the old processes are gone, their time stays; the new ones add to it.
	pid=$(field_of burn pid)
	fetch
	cpu_before=$(metric "mcpd_server_cpu_seconds_total{server=\"burn\"}")
	check "$src: mcpctl restart burn" ctl restart burn
	if wait_until 60 _new_pid_sampled "$pid"; then
		ok "$src: the new process and its burner are sampled"
	else
		not_ok "$src: the new process and its burner are sampled" "$(res_json)"
	fi
	if wait_until 60 _cpu_past "$cpu_before + 0.5"; then
		ok "$src: the counter goes on from the old processes' time ($cpu_before s) instead of from 0"
	else
		not_ok "$src: the counter goes on from the old processes' time" "before $cpu_before: $(grep '^mcpd_server_cpu' "$T/metrics")"
	fi
	if grep -q 'CPU counter would have gone down' "$T/mcpd.err"; then
		not_ok "$src: no process's CPU time was lost on the way" "$(grep 'CPU counter' "$T/mcpd.err")"
	else
		ok "$src: no process's CPU time was lost on the way"
	fi
	kill "$(cat "$T/burner.pid")"

	check_self "$src"
	if command -v promtool >/dev/null; then
		fetch
		promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1
		is "$?" 0 "$src: promtool check metrics accepts /metrics" || diag "$(cat "$T/promtool.out")"
	else
		skip "$src: promtool check metrics" "promtool (Debian package prometheus) is not installed"
	fi
	stop_mcpd
	check_fail "$src: no /metrics after mcpd stopped" fetch
}

# mcpd's own process_* against /proc/$pid_mcpd, read right after the scrape.
check_self() {
	local src=$1 rss real_rss start real_start fds real_fds max real_max cpu
	fetch
	rss=$(metric process_resident_memory_bytes)
	real_rss=$(($(mcpd_rss_kb) * 1024))
	if [[ -n $rss ]] && holds "$rss > $real_rss / 2 && $rss < $real_rss * 2"; then
		ok "$src: process_resident_memory_bytes $rss is within a factor 2 of VmRSS $real_rss"
	else
		not_ok "$src: process_resident_memory_bytes is within a factor 2 of VmRSS" "got '$rss', VmRSS $real_rss"
	fi
	start=$(metric process_start_time_seconds)
	real_start=$(date -d "$(ps -o lstart= -p "$pid_mcpd")" +%s)
	if [[ -n $start ]] && holds "$start - $real_start < 2 && $real_start - $start < 2"; then
		ok "$src: process_start_time_seconds $start is within 2s of mcpd's start ($real_start, ps)"
	else
		not_ok "$src: process_start_time_seconds is within 2s of mcpd's start" "got '$start', ps says $real_start"
	fi
	fds=$(metric process_open_fds)
	real_fds=$(find "/proc/$pid_mcpd/fd" -mindepth 1 -maxdepth 1 | wc -l)
	if [[ -n $fds ]] && ((fds - real_fds <= 3 && real_fds - fds <= 3)); then
		ok "$src: process_open_fds $fds is within 3 of /proc/PID/fd ($real_fds)"
	else
		not_ok "$src: process_open_fds is within 3 of /proc/PID/fd" "got '$fds', /proc has $real_fds"
	fi
	max=$(metric process_max_fds)
	real_max=$(awk '/^Max open files/ { print $4 }' "/proc/$pid_mcpd/limits")
	is "$max" "$real_max" "$src: process_max_fds is mcpd's soft limit of open files"
	cpu=$(metric process_cpu_seconds_total)
	like "$cpu" '^[0-9]+(\.[0-9]+)?$' "$src: process_cpu_seconds_total is a number"
	like "$(metric process_virtual_memory_bytes)" '^[0-9]+$' "$src: process_virtual_memory_bytes is a number"
	like "$(grep '^# HELP process_' "$T/metrics" | sort | tr '\n' '|')" \
		'process_cpu_seconds_total Total user and system CPU time spent in seconds.*process_max_fds Maximum number of open file descriptors.*process_open_fds Number of open file descriptors.*process_resident_memory_bytes Resident memory size in bytes.*process_start_time_seconds Start time of the process since unix epoch in seconds.*process_virtual_memory_bytes Virtual memory size in bytes' \
		"$src: the process_* families have the standard help texts"
}

MCPD_CGROUPS=0 run_mode "process group"
# Unset: mcpd uses cgroups where it can.
run_mode cgroup

no_leftovers "--name $tag" "no server process is left"
no_leftovers "$T/burner" "no burner is left"
done_testing
