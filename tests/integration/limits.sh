#!/bin/bash
# limits: each limit's mechanism (cgroup files where the servers' cgroups have
# the controllers, RLIMIT_DATA per process for memory where they do not, "not
# enforced" with the reason otherwise), in the start-up log, in status and in
# force; every process of a server in its cgroup and killed with it; an OOM
# kill reported as such where a memory controller exists.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v python3)

# A small MCP server (legacy era) that is not built with AddressSanitizer,
# whose shadow memory no RLIMIT_DATA allows. With "hog" it takes memory, 8 MiB
# a second, once its handshake is done.
cat >"$T/srv.py" <<'PY'
import json, sys, threading, time
def hog():
    chunks = []
    while True:
        chunks.append(bytearray(8 << 20))
        time.sleep(0.1)
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if "id" not in m or "method" not in m:
        continue
    if m["method"] == "initialize":
        v = m.get("params", {}).get("protocolVersion", "2025-06-18")
        out = {"protocolVersion": v, "capabilities": {}, "serverInfo": {"name": "py", "version": "1"}}
        reply = {"jsonrpc": "2.0", "id": m["id"], "result": out}
        if sys.argv[1:] == ["hog"]:
            threading.Thread(target=hog, daemon=True).start()
    elif m["method"] == "ping":
        reply = {"jsonrpc": "2.0", "id": m["id"], "result": {}}
    else:
        reply = {"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32601, "message": "not here"}}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
PY

# capped double-forks a setsid()'d sleep (its pid in capped.esc) before it runs the server.
cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  protocol: legacy
  stop: { timeout: 2s }
servers:
  capped:
    command: [sh, -c, '(setsid sleep 1000 & echo \$! > $T/capped.esc); exec $PY $T/srv.py']
    limits: { memory: 64M, cpu: 0.5, nofile: 256, cpu_time: 1h }
  free:
    command: [$PY, $T/srv.py]
  remote:
    transport: http
    url: http://127.0.0.1:9/mcp
    backoff: { initial: 1m }
YAML

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 30 capped running && ok "a server with limits runs" || not_ok "capped runs" "$(ctl status capped; mcpd_log)"

# Which mechanisms this machine has: from mcpd's own word at start.
mem_cg=
grep -q 'limits: .*memory by cgroup memory.max' "$T/mcpd.err" && mem_cg=1
cpu_cg=
grep -q 'limits: .*cpu by cgroup cpu.max' "$T/mcpd.err" && cpu_cg=1
cgroups=
grep -q 'children: one cgroup v2 per server under ' "$T/mcpd.err" &&
	cgroups=$(grep -o 'one cgroup v2 per server under [^ ]*' "$T/mcpd.err" | head -n 1) && cgroups=${cgroups##* }

like "$(grep 'limits: ' "$T/mcpd.err")" 'limits: memory by (cgroup memory.max|RLIMIT_DATA per process \(.+\)), cpu (by cgroup cpu.max|not enforced \(.+\))$' \
	"the start-up log names the mechanism of each limit a server sets"
is "$(grep -c 'limits: ' "$T/mcpd.err")" 1 "in one line"

json() {
	ctl --json status "$1" 2>/dev/null | jq -c "$2" 2>/dev/null
}
conf=$(json capped '.servers[0].confinement')
pid=$(field_of capped pid)

if [[ -z $mem_cg ]]; then
	is "$(awk '/^Max data size/ { print $4 }' "/proc/$pid/limits" 2>/dev/null)" 67108864 \
		"without a memory controller, limits.memory 64M is RLIMIT_DATA of the server's process"
	is "$(jq -r '.limits.memory.by' <<<"$conf")" "RLIMIT_DATA per process" "and status says so"
else
	is "$(awk '/^Max data size/ { print $4 }' "/proc/$pid/limits" 2>/dev/null)" unlimited \
		"with a memory controller, no RLIMIT_DATA: the cgroup bounds the sum"
	is "$(cat "$cgroups/capped/memory.max")" 67108864 "memory.max is limits.memory in bytes"
	is "$(jq -r '.limits.memory.by' <<<"$conf")" "cgroup memory.max" "and status says so"
fi
is "$(jq -c '.limits.memory.value' <<<"$conf")" '"64M"' "status shows limits.memory as written"
if [[ -z $cpu_cg ]]; then
	like "$(jq -r '.limits.cpu.by' <<<"$conf")" '^not enforced: .*cpu' "status says cpu is not enforced, and why"
else
	is "$(cat "$cgroups/capped/cpu.max")" "50000 100000" "cpu.max has limits.cpu 0.5 as a quota per period"
	is "$(jq -r '.limits.cpu.by' <<<"$conf")" "cgroup cpu.max" "and status says so"
fi
is "$(jq -c '.limits.cpu.value' <<<"$conf")" 0.5 "status shows limits.cpu as written, a number"
is "$(jq -c '[.limits.nofile, .limits.cpu_time]' <<<"$conf")" \
	'[{"value":256,"by":"RLIMIT_NOFILE"},{"value":"1h","by":"RLIMIT_CPU"}]' "rlimits are shown with theirs"
is "$(awk '/^Max open files/ { print $4 } /^Max cpu time/ { print $4 }' "/proc/$pid/limits" | paste -sd, -)" 3600,256 \
	"and are in force"
is "$(json free '.servers[0].confinement.limits')" '{}' "a server without limits has none"
is "$(jq -c '[.user, .group]' <<<"$conf")" '[null,null]' "without user and group, it runs as mcpd's own"

# ---- membership: the server and its setsid()'d double-forked descendant, in its cgroup; stop kills both.
esc=$(cat "$T/capped.esc" 2>/dev/null)
if [[ -n $cgroups ]]; then
	rel=${cgroups#"$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)"}
	is "$(jq -r '.cgroup' <<<"$conf")" "$cgroups/capped" "status shows the server's cgroup"
	is "$(json remote '.servers[0].confinement.cgroup')" null "an http server has none"
	is "$(grep '^0::' "/proc/$pid/cgroup")" "0::$rel/capped" "the server's process is in its cgroup (/proc/PID/cgroup)"
	is "$(grep '^0::' "/proc/$esc/cgroup" 2>/dev/null)" "0::$rel/capped" \
		"so is its setsid()'d, double-forked descendant"
	ctl stop capped >/dev/null
	wait_until 20 _gone "$esc" && ok "mcpctl stop kills the descendant with its server (cgroup.kill)" ||
		not_ok "the descendant dies with its server" "$(ps -o pid,ppid,sid,args -p "$esc")"
	ctl start capped >/dev/null
	wait_state 30 capped running || not_ok "capped runs again" "$(ctl status capped)"
	kill -KILL "$(cat "$T/capped.esc")" 2>/dev/null
else
	skip "membership" "no writable cgroup2 hierarchy"
	kill -KILL "$esc" 2>/dev/null
fi

# ---- a reload that adds a limit names its mechanism, once; restarts do not repeat it.
sed -i 's/^  free:$/  free:\n    limits: { pids: 32, memory_high: 48M }/' "$T/m.yaml"
ctl reload >/dev/null 2>&1
_free_limited() {
	[[ $(json free '.servers[0].confinement.limits.pids.value') == 32 && $(state_of free) == running ]]
}
wait_until 30 _free_limited && ok "a reload that sets limits on a server restarts it with them" ||
	not_ok "free restarted with limits" "$(ctl status free; mcpd_log | tail)"
like "$(grep 'limits: ' "$T/mcpd.err" | tail -n 1)" 'limits: memory_high (by cgroup memory.high|not enforced \(.+\)), pids (by cgroup pids.max|not enforced \(.+\))$' \
	"and mcpd names the mechanisms of the limits no server set before"
is "$(grep -c 'limits: ' "$T/mcpd.err")" 2 "in one more line"
conf=$(json free '.servers[0].confinement')
if grep -q 'limits: .*pids by cgroup pids.max' "$T/mcpd.err"; then
	is "$(cat "$cgroups/free/pids.max")" 32 "pids.max is limits.pids"
else
	like "$(jq -r '.limits.pids.by' <<<"$conf")" '^not enforced: .*pids' "status says pids is not enforced, and why"
fi
if [[ -n $mem_cg ]]; then
	is "$(cat "$cgroups/free/memory.high")" 50331648 "memory.high is limits.memory_high in bytes"
else
	like "$(jq -r '.limits.memory_high.by' <<<"$conf")" '^not enforced: .*memory' \
		"status says memory_high is not enforced, and why"
fi
ctl restart capped >/dev/null
wait_state 30 capped running
ctl restart free >/dev/null
wait_state 30 free running
is "$(grep -c 'limits: ' "$T/mcpd.err")" 2 "restarts log no mechanism again"
kill -KILL "$(cat "$T/capped.esc")" 2>/dev/null

# ---- an allocation over limits.memory: killed, reported as such; another server keeps running.
if [[ -n $mem_cg ]]; then
	cat >>"$T/m.yaml" <<YAML
  hog:
    command: [$PY, $T/srv.py, hog]
    limits: { memory: 64M }
    backoff: { initial: 1m }
YAML
	free_pid=$(field_of free pid)
	ctl reload >/dev/null 2>&1
	_oom_reported() {
		[[ $(field_of hog reason) == *"killed: out of memory (limit 64M)"* ]]
	}
	wait_until 60 _oom_reported && ok "an allocation over limits.memory ends with \"killed: out of memory (limit 64M)\"" ||
		not_ok "OOM reported" "$(ctl status hog; mcpd_log | tail -n 5)"
	is "$(field_of free pid)" "$free_pid" "while another server keeps running"
else
	skip "OOM kill reported" "no memory controller in the servers' cgroup"
fi

stop_mcpd
done_testing
