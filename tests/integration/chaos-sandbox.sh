#!/bin/bash
# A hostile sandboxed server: detours to mcpd's files (a symlink inside
# writable pointing at the manifest, /proc/self/root/..., /proc/MCPD_PID/root),
# the environment of mcpd and of another server through /proc, the control
# socket, ptrace of mcpd and of another server; a setsid()'d descendant of a
# sandboxed server in its cgroup and killed with a SIGKILLed mcpd. A hard link
# to a hidden file, made outside the sandbox where it may read, is out of
# scope: Landlock's rules follow paths, not files (README, Least privilege).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"
. "$(dirname "$0")/confine.sh"

mkdir -p "$T/work"
other_secret=other-secret-$RANDOM$RANDOM
printf '%s\n' "$other_secret" >"$T/other.secret"
chmod 0600 "$T/other.secret"

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  stop: { timeout: 2s }
servers:
  box:
    command: [$EXAMPLE, --name, box, --confine-tools]
    sandbox: { writable: [$T/work], network: false }
  other:
    command: [$EXAMPLE, --name, other, --confine-tools]
    secrets: { OTHER_TOKEN: $T/other.secret }
  late:
    command: [$EXAMPLE, --name, late]
    env_file: $T/late/late.env
    backoff: { initial: 1m }
YAML
mkdir -p "$T/late"
# The same sandbox under a user of its own: what Landlock leaves to the kernel's
# same-user rules (another process's /proc/PID/environ) is then closed.
if [[ $(id -u) == 0 ]] && id nobody >/dev/null 2>&1; then
	cat >>"$T/m.yaml" <<YAML
  nob:
    command: [$EXAMPLE, --name, nob, --confine-tools]
    user: nobody
    sandbox: { network: false }
  nobpeer:
    command: [$EXAMPLE, --name, nobpeer, --confine-tools]
    user: nobody
    secrets: { PEER_TOKEN: $T/peer.secret }
YAML
	peer_secret=peer-secret-$RANDOM$RANDOM
	printf '%s\n' "$peer_secret" >"$T/peer.secret"
	chmod 0600 "$T/peer.secret"
fi
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 other running || not_ok "other running" "$(ctl status other; mcpd_log | tail -n 10)"
if ! landlock_here; then
	skip "hostile sandboxed server" "mcpd found no Landlock on this kernel: $(grep -o 'sandbox: no Landlock.*' "$T/mcpd.err")"
	stop_mcpd
	done_testing
fi
wait_state 60 box running || not_ok "box running" "$(ctl status box; mcpd_log | tail -n 10)"
mcpd_pid=$pid_mcpd
other_pid=$(field_of other pid)
path() { jq -nc --arg p "$1" '{path: $p, max: 65536}'; }
# ctl_request METHOD [PARAMS]: connect_unix's arguments for one request on the control socket.
ctl_request() {
	jq -nc --arg p "$SOCK" --arg m "$1" --argjson params "${2:-null}" \
		'{path: $p, send: ({jsonrpc: "2.0", id: 1, method: $m} + if $params then {params: $params} else {} end | tojson)}'
}
# A control request's answer is no result: refused (an error, or closed), or no connection at all.
refused() {
	[[ $1 != *'"result"'* && $1 != *'"servers"'* ]]
}
denied='^error: cannot (open|connect to|trace) .*: (Permission denied|Operation not permitted)'

# ---- detours to the manifest.
ln -s "$T/m.yaml" "$T/work/link"
like "$(call box read_file "$(path "$T/work/link")")" "$denied" "a symlink inside writable to the manifest cannot be read"
like "$(call box write_file "$(jq -nc --arg p "$T/work/link" '{path: $p, text: "servers: {}"}')")" "$denied" \
	"nor written through"
like "$(head -n 1 "$T/m.yaml")" '^version: 1$' "the manifest is as it was"
like "$(call box read_file "$(path "/proc/self/root$T/m.yaml")")" "$denied" "/proc/self/root/... does not reach the manifest"
like "$(call box read_file "$(path "/proc/$mcpd_pid/root$T/m.yaml")")" "$denied" "nor /proc/MCPD_PID/root/..."
like "$(call box read_file "$(path "/proc/$mcpd_pid/cwd")")" "^error: " "nor mcpd's working directory"
like "$(call box read_file "$(path "/proc/self/root$T/other.secret")")" "$denied" "nor another server's secret file"

# ---- a hidden file that does not exist when the sandboxed server starts, created by the operator later.
late_secret=late-secret-$RANDOM$RANDOM
printf 'LATE_TOKEN=%s\n' "$late_secret" >"$T/late/late.env"
out=$(call box read_file "$(path "$T/late/late.env")")
like "$out" "$denied" "an env_file missing at the sandboxed server's start and created later cannot be read"
[[ $out != *"$late_secret"* ]] && ok "so its secret does not leak" || not_ok "no leak (late env_file)" "$out"
like "$(call other read_file "$(path "$T/late/late.env")")" "LATE_TOKEN=" "while an unsandboxed server reads it (the probe works)"
printf 'x\n' >"$T/late/neighbour"
like "$(call box read_file "$(path "$T/late/neighbour")")" "$denied" \
	"a file created later next to it is out of reach too (its directory is granted entry by entry)"

# ---- environments through /proc: mcpd's and another server's (which holds its secret).
# box runs as root, like mcpd and other: Landlock's ptrace rule alone lets a
# process with capabilities read another root process's /proc/PID/environ;
# a sandboxed server has none (root's uid without root's powers).
like "$(call box read_file "$(path /proc/self/status)")" $'CapPrm:\t0000000000000000' \
	"a sandboxed server running as root has no capabilities (permitted)"
like "$(call box read_file "$(path /proc/self/status)")" $'CapBnd:\t0000000000000000' "nor any in its bounding set"
like "$(call other read_file "$(path /proc/self/status)")" $'CapEff:\t0*[1-9a-f]' \
	"while an unsandboxed root server keeps them (the probe works)"
like "$(call box read_file "$(path "/proc/$mcpd_pid/environ")")" "$denied" \
	"a sandboxed server running as root cannot read /proc/MCPD_PID/environ"
out=$(call box read_file "$(path "/proc/$other_pid/environ")")
like "$out" "$denied" "nor /proc/OTHER_SERVER_PID/environ (another root server, which holds a secret)"
[[ $out != *"$other_secret"* ]] && ok "so its secret does not leak" || not_ok "no leak (root)" "$out"
like "$(call box read_file "$(path "/proc/$other_pid/mem")")" "$denied" "/proc/OTHER_SERVER_PID/mem cannot be opened"
like "$(call box read_file "$(path "/proc/$mcpd_pid/mem")")" "$denied" "nor /proc/MCPD_PID/mem"
if grep -q '^  nob:' "$T/m.yaml"; then
	wait_state 60 nob running || not_ok "nob running" "$(ctl status nob; mcpd_log | tail -n 10)"
	like "$(call nob read_file "$(path "/proc/$mcpd_pid/environ")")" "$denied" \
		"a sandboxed server under a user of its own cannot read /proc/MCPD_PID/environ"
	out=$(call nob read_file "$(path "/proc/$other_pid/environ")")
	like "$out" "$denied" "nor /proc/OTHER_SERVER_PID/environ"
	[[ $out != *"$other_secret"* ]] && ok "so another server's secret does not leak" || not_ok "no leak" "$out"
	# The same user on both sides: only the sandbox stands between them.
	wait_state 60 nobpeer running || not_ok "nobpeer running" "$(ctl status nobpeer; mcpd_log | tail -n 10)"
	nob_pid=$(field_of nob pid) nobpeer_pid=$(field_of nobpeer pid)
	like "$(call nobpeer read_file "$(path "/proc/$nob_pid/environ")")" "PATH=" \
		"an unsandboxed server of user nobody reads the environ of another nobody process (the probe works)"
	out=$(call nob read_file "$(path "/proc/$nobpeer_pid/environ")")
	like "$out" "$denied" "a sandboxed server of user nobody cannot read /proc/PID/environ of another server of user nobody"
	[[ $out != *"$peer_secret"* ]] && ok "so that server's secret does not leak" || not_ok "no leak (same uid)" "$out"
	like "$(call nob ptrace "{\"pid\": $mcpd_pid}")" "$denied" "nor trace mcpd"
	out=$(call nob connect_unix "$(ctl_request status)")
	refused "$out" && ok "nor use the control socket" || not_ok "nob: control socket refused" "$out"
else
	skip "a sandboxed server under a user of its own cannot read /proc/MCPD_PID/environ" "needs root and a user nobody"
fi

# ---- root's own Unix sockets: a sandboxed server that runs as root keeps uid 0, which they may trust.
like "$(mcpd_log)" "sandbox: box runs as root: .*/run/systemd/private.*give it a user of its own \\(user:\\)" \
	"mcpd warns that a sandboxed server running as root still opens root's own Unix sockets"
[[ $(grep -c 'sandbox: box runs as root' "$T/mcpd.err") == 1 ]] && ok "once" || not_ok "warned once" "$(grep 'runs as root' "$T/mcpd.err")"
if grep -q '^  nob:' "$T/m.yaml"; then
	spawn rootsock socat "UNIX-LISTEN:$T/root.sock,mode=600,fork" SYSTEM:'echo pong'
	_rootsock() { [[ -S $T/root.sock ]]; }
	wait_until 30 _rootsock || not_ok "socat listens on $T/root.sock" "$(cat "$T/rootsock.err")"
	like "$(call nob connect_unix "$(jq -nc --arg p "$T/root.sock" '{path: $p, send: "ping"}')")" "$denied" \
		"with a user of its own, a root-only Unix socket is out of reach (the fix the warning names)"
	diag "known limit, as root: box connects to it: $(call box connect_unix "$(jq -nc --arg p "$T/root.sock" '{path: $p, send: "ping"}')")"
	stop_spawned rootsock
fi

# ---- the control socket: connecting may work (Landlock does not govern it), mcpd refuses the peer.
out=$(call box connect_unix "$(ctl_request status)")
refused "$out" && ok "the control socket refuses a sandboxed server" || not_ok "control socket refused" "$out"
out=$(call box connect_unix "$(ctl_request stop '{"names": ["other"]}')")
refused "$out" && [[ $(state_of other) == running && $(field_of other pid) == "$other_pid" ]] &&
	ok "a stop sent on it does nothing" || not_ok "the stop was refused" "$out" "$(ctl status other)"
like "$(ctl status box)" "^      control socket: [0-9]+ connections? refused$" "mcpctl status NAME counts the refusals"
out=$(call other connect_unix "$(ctl_request status)")
like "$out" '"servers"' "while an unsandboxed server's status request is answered (the probe works)"

# ---- ptrace and signals.
like "$(call box ptrace "{\"pid\": $mcpd_pid}")" "$denied" "ptrace of mcpd fails"
like "$(call box ptrace "{\"pid\": $other_pid}")" "$denied" "ptrace of another server fails"
spawn victim sleep 1000
is "$(call other ptrace "{\"pid\": $pid_victim}")" "attached (and detached)" \
	"while an unsandboxed server may trace a process (the probe works)"
like "$(call box ptrace "{\"pid\": $pid_victim}")" "$denied" "which the sandboxed one may not"
like "$(call box signal "{\"pid\": $pid_victim, \"sig\": 15}")" "^error: cannot signal .*: Operation not permitted" \
	"nor signal"
alive "$pid_victim" && ok "the process lives on" || not_ok "victim alive"
stop_spawned victim

# ---- a descendant that left the server's session: in its cgroup, killed with a SIGKILLed mcpd.
box_pid=$(field_of box pid)
esc=$(call box spawn_setsid '{}')
if [[ $esc =~ ^[0-9]+$ ]] && alive "$esc"; then
	ok "a sandboxed server leaves a setsid()'d descendant ($esc)"
	cg=$(ctl --json status box | jq -r '.servers[0].confinement.cgroup')
	if [[ $cg == /* ]]; then
		is "$(grep '^0::' "/proc/$esc/cgroup" | cut -d: -f3)" "$(grep '^0::' "/proc/$box_pid/cgroup" | cut -d: -f3)" \
			"in the server's cgroup (/proc/PID/cgroup)"
	else
		skip "the descendant is in the server's cgroup" "no cgroup v2 for the servers here"
	fi
	kill -KILL "$mcpd_pid"
	wait_until 30 _gone "$box_pid" && ok "SIGKILL of mcpd ends the sandboxed server" ||
		not_ok "box gone" "$(ps -o pid,args -p "$box_pid")"
	wait_until 30 _gone "$esc" && ok "and its setsid()'d descendant" || not_ok "descendant gone" "$(ps -o pid,sid,args -p "$esc")"
	wait_until 30 _gone "$other_pid" && ok "and the other server" || not_ok "other gone" "$(ps -o pid,args -p "$other_pid")"
	kill -KILL "$esc" 2>/dev/null
else
	not_ok "spawn_setsid answers a live pid" "$esc"
	stop_spawned mcpd
fi

# ---- mcpd itself as nobody: a sandboxed server of mcpd's own user cannot read mcpd's environ.
nb=$T/nb
mkdir -p "$nb/state"
cat >"$nb/m.yaml" <<YAML
version: 1
servers:
  box:
    command: [$EXAMPLE, --name, box, --confine-tools]
    sandbox: { network: false }
  peer:
    command: [$EXAMPLE, --name, peer, --confine-tools]
YAML
if [[ $(id -u) == 0 ]] && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	chown -R nobody:nogroup "$nb"
	chmod 755 "$T" "$nb"
	spawn mcpd_nb setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		env STATE_DIRECTORY="$nb/state" MCPD_TEST_MARK=mcpd-environ-$RANDOM "$MCPD" -c "$nb/m.yaml" -s "$nb/control.sock"
	SOCK_ROOT=$SOCK SOCK=$nb/control.sock
	wait_until 30 _status_up || not_ok "mcpd starts as nobody" "$(cat "$T/mcpd_nb.err")"
	wait_state 60 box running || not_ok "box running under mcpd as nobody" "$(ctl status box; tail "$T/mcpd_nb.err")"
	wait_state 60 peer running || not_ok "peer running under mcpd as nobody" "$(ctl status peer)"
	like "$(call peer read_file "$(path "/proc/$pid_mcpd_nb/environ")")" "MCPD_TEST_MARK=mcpd-environ-" \
		"mcpd as nobody: an unsandboxed server reads mcpd's environ (the probe works)"
	like "$(call box read_file "$(path "/proc/$pid_mcpd_nb/environ")")" "$denied" \
		"mcpd as nobody: a sandboxed server of the same user cannot read mcpd's /proc/PID/environ"
	like "$(call box read_file "$(path "/proc/$(field_of peer pid)/environ")")" "$denied" \
		"nor another server's"
	SOCK=$SOCK_ROOT
	stop_spawned mcpd_nb
else
	skip "mcpd as nobody: a sandboxed server cannot read mcpd's environ" "needs root and setpriv to nobody"
fi
done_testing
