#!/bin/bash
# Least privilege end to end: the example server's --confine-tools, called
# through mcpctl connect, try from inside a sandbox what it forbids (writes
# outside writable, reads of mcpd's files and of secrets, TCP with network:
# false, signalling mcpd) and under limits.memory (an allocation over it); the
# same server without a sandbox shows that each probe would work otherwise;
# mcpctl status NAME shows each server's confinement; a setsid()'d descendant
# (spawn_setsid) is in its server's cgroup and ends with mcpctl stop.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"
. "$(dirname "$0")/confine.sh"

mkdir -p "$T/work" "$T/data"
echo "public data" >"$T/data/file"
box_secret=box-secret-$RANDOM$RANDOM
open_secret=open-secret-$RANDOM$RANDOM
printf '%s\n' "$box_secret" >"$T/box.secret"
printf '%s\n' "$open_secret" >"$T/open.secret"
chmod 0600 "$T/box.secret" "$T/open.secret"
printf 'agent: token-%s-0123456789abcdef\n' "$RANDOM" >"$T/tokens"
chmod 0600 "$T/tokens"

# mcpd's own HTTP listener on 127.0.0.1 is the TCP peer the servers try to reach.
manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens }
defaults:
  stop: { timeout: 2s }
servers:
  box:
    command: [$EXAMPLE, --name, box, --confine-tools]
    secrets: { BOX_TOKEN: $T/box.secret }
    sandbox: { writable: [$T/work], network: false }
  net:
    command: [$EXAMPLE, --name, net, --confine-tools]
    sandbox: { writable: [$T/work] }
  open:
    command: [$EXAMPLE, --name, open, --confine-tools]
    secrets: { OPEN_TOKEN: $T/open.secret }
  mem:
    command: [$EXAMPLE_PLAIN, --name, mem, --confine-tools]
    limits: { memory: 64M }
    backoff: { initial: 1m }
YAML
}
start_mcpd_on_free_port manifest || { not_ok "mcpd starts" "$(mcpd_log | tail -n 20)"; done_testing; exit 1; }
for s in open mem; do
	wait_state 60 $s running || not_ok "$s running" "$(ctl status $s; mcpd_log | tail -n 10)"
done

if ! landlock_here; then
	skip "sandbox probes" "mcpd found no Landlock on this kernel: $(grep -o 'sandbox: no Landlock.*' "$T/mcpd.err")"
else
	for s in box net; do
		wait_state 60 $s running && ok "a sandboxed server ($s) reaches running" ||
			not_ok "$s running" "$(ctl status $s; mcpd_log | tail -n 10)"
	done
	mcpd_pid=$pid_mcpd

	# ---- files: writable, everything else read-only, mcpd's files hidden.
	is "$(call box write_file "$(jq -nc --arg p "$T/work/out" '{path: $p, text: "in"}')")" \
		"wrote 2 bytes to $T/work/out" "a write inside writable succeeds"
	is "$(cat "$T/work/out" 2>&1)" in "and the file holds it"
	like "$(call box write_file "$(jq -nc --arg p "$T/outside" '{path: $p, text: "x"}')")" \
		"^error: cannot open $T/outside: Permission denied" "a write outside writable fails (EACCES)"
	[[ ! -e $T/outside ]] && ok "and creates nothing" || not_ok "no $T/outside"
	like "$(call box write_file "$(jq -nc --arg p "$T/data/file" '{path: $p, text: "x"}')")" \
		"^error: cannot open $T/data/file: Permission denied" "overwriting a file outside writable fails"
	is "$(cat "$T/data/file")" "public data" "and leaves it as it was"
	is "$(call box read_file "$(jq -nc --arg p "$T/data/file" '{path: $p}')")" "public data" \
		"without readable:, a file outside writable can be read"
	for f in "$T/m.yaml:the manifest" "$T/tokens:tokens_file" "$T/open.secret:another server's secret file" \
		"$T/box.secret:its own secret file"; do
		like "$(call box read_file "$(jq -nc --arg p "${f%%:*}" '{path: $p}')")" \
			"^error: cannot open ${f%%:*}: Permission denied" "a sandboxed server cannot read ${f#*:}"
	done
	like "$(call box read_file '{"path": "/proc/self/environ", "max": 65536}')" "(^|$(printf '\n'))BOX_TOKEN=$box_secret" \
		"its own secret still reaches it, in its environment"

	# ---- the same probes without a sandbox: each would work.
	like "$(call open read_file "$(jq -nc --arg p "$T/m.yaml" '{path: $p}')")" '^version: 1' \
		"without a sandbox, the same server reads the manifest"
	like "$(call open read_file "$(jq -nc --arg p "$T/tokens" '{path: $p}')")" '^agent: token-' \
		"and tokens_file"
	like "$(call open write_file "$(jq -nc --arg p "$T/outside" '{path: $p, text: "x"}')")" '^wrote 1 bytes' \
		"and writes anywhere"
	is "$(call open connect_tcp "{\"host\": \"127.0.0.1\", \"port\": $port}")" connected \
		"and connects to a TCP listener on 127.0.0.1"
	is "$(call open signal "{\"pid\": $mcpd_pid, \"sig\": 0}")" sent "and may signal mcpd (signal 0)"

	# ---- network: false.
	like "$(call box connect_tcp "{\"host\": \"127.0.0.1\", \"port\": $port}")" \
		"^error: cannot (create a socket for|connect to) 127.0.0.1:$port: " \
		"with network: false, TCP to a 127.0.0.1 listener fails"
	is "$(call net connect_tcp "{\"host\": \"127.0.0.1\", \"port\": $port}")" connected \
		"a sandbox with the network on connects to it"

	# ---- signals: Landlock's signal scope (ABI 6), else a non-root user.
	like "$(call box signal "{\"pid\": $mcpd_pid, \"sig\": 0}")" "^error: cannot signal pid $mcpd_pid: Operation not permitted" \
		"a sandboxed server cannot signal mcpd (EPERM)"
	like "$(call box signal "{\"pid\": $(field_of open pid), \"sig\": 0}")" "^error: cannot signal .*: Operation not permitted" \
		"nor another server"
	alive "$mcpd_pid" && ok "mcpd is alive after all that" || not_ok "mcpd alive"

	# ---- status shows it.
	out=$(ctl status box)
	like "$out" "^  confinement:" "mcpctl status NAME has a confinement section"
	like "$out" "^    sandbox: no_new_privs, .*landlock ABI [0-9]+" "with the sandbox's mechanisms"
	like "$out" "^      writable: $T/work$" "its writable paths"
	like "$out" "^      readable: everything but [0-9]+ hidden files of mcpd's$" "what it may read"
	like "$out" "^      network: off, private /tmp: no$" "its network and /tmp"
	like "$(ctl status net)" "^      network: on," "a sandbox with the network on says so"
fi

# ---- memory: a cgroup's memory.max kills the server, RLIMIT_DATA fails the allocation.
by=$(ctl --json status mem | jq -r '.servers[0].confinement.limits.memory.by')
mem_pid=$(field_of mem pid)
open_pid=$(field_of open pid)
case $by in
"cgroup memory.max")
	call mem alloc_mb '{"mb": 256}' >/dev/null
	_oom_reported() { [[ $(field_of mem reason) == *"killed: out of memory (limit 64M)"* ]]; }
	wait_until 60 _oom_reported && ok "alloc_mb over limits.memory ends with \"killed: out of memory (limit 64M)\"" ||
		not_ok "OOM reported" "$(ctl status mem; mcpd_log | tail -n 5)"
	skip "an allocation over RLIMIT_DATA fails and the server keeps running" "limits.memory is cgroup memory.max here"
	;;
"RLIMIT_DATA per process")
	skip "alloc_mb over limits.memory ends with \"killed: out of memory\"" "no memory controller in the servers' cgroups here"
	like "$(call mem alloc_mb '{"mb": 256}')" '^error: cannot allocate 256 MiB: got [0-9]+ MiB, then: Cannot allocate memory' \
		"without a memory controller, an allocation over limits.memory fails (ENOMEM under RLIMIT_DATA)"
	is "$(field_of mem pid)" "$mem_pid" "and the server keeps running"
	is "$(call mem alloc_mb '{"mb": 8}')" "allocated and touched 8 MiB" "and can still allocate under the limit"
	;;
*)
	not_ok "limits.memory has a mechanism in status" "by: '$by'" "$(ctl --json status mem)"
	;;
esac
is "$(field_of open pid)" "$open_pid" "another server keeps running"

like "$(ctl status mem)" "^    limits: memory 64M \\((cgroup memory.max|RLIMIT_DATA per process)\\)$" \
	"mcpctl status NAME shows each limit with its mechanism"
out=$(ctl status open)
like "$out" "^    user: mcpd's own$" "a server without user: runs as mcpd's own, and status says so"
like "$out" "^    limits: none$" "a server without limits has none"
like "$out" "^    sandbox: none$" "a server without a sandbox has none"

# ---- every process of a server: a setsid()'d descendant is in its cgroup and stops with it.
esc=$(call open spawn_setsid '{}')
open_pid=$(field_of open pid)
if [[ $esc =~ ^[0-9]+$ ]] && alive "$esc"; then
	if [[ $(ctl --json status open | jq -r '.servers[0].confinement.cgroup') == /* ]]; then
		is "$(grep '^0::' "/proc/$esc/cgroup")" "$(grep '^0::' "/proc/$open_pid/cgroup")" \
			"spawn_setsid's descendant is in its server's cgroup (/proc/PID/cgroup)"
	else
		skip "spawn_setsid's descendant is in its server's cgroup" "no cgroup v2 for the servers here"
	fi
	ctl stop open >/dev/null
	wait_until 30 _gone "$esc" && ok "mcpctl stop ends it with its server" ||
		not_ok "descendant gone after stop" "$(ps -o pid,sid,args -p "$esc")"
	kill -KILL "$esc" 2>/dev/null
else
	not_ok "spawn_setsid answers a live pid" "$esc"
fi

stop_mcpd
done_testing
