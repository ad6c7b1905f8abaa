#!/bin/bash
# mcpd -f as PID 1 of a new PID namespace: a container's entrypoint, tested
# without a container engine (unshare --pid --fork --mount-proc, as root).
# Orphans of a double-forking server and of a process mcpd did not start are
# reaped; SIGTERM (and SIGINT) stop every server gracefully (the server and its
# orphan handle their TERM) and mcpd exits 0 within shutdown_timeout; SIGHUP
# reloads; the log is JSON on stderr; no systemd (no NOTIFY_SOCKET).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ((EUID != 0)); then
	skip "mcpd as PID 1 of a PID namespace" "needs root for unshare --pid"
	done_testing
fi
if ! command -v unshare >/dev/null 2>&1 || ! command -v nsenter >/dev/null 2>&1 ||
	! unshare --pid --fork --mount-proc true >/dev/null 2>&1; then
	skip "mcpd as PID 1 of a PID namespace" "unshare --pid --fork --mount-proc does not work here"
	done_testing
fi

# A server: a wrapper around the example MCP server (which ignores stdin's EOF
# and SIGTERM here, so that the stop reaches the wrapper as mcpd's SIGTERM to
# the group). The wrapper handles TERM, and double-forks: a short-lived orphan
# (a zombie of PID 1 unless PID 1 reaps it), a long-lived orphan in its process
# group that handles TERM too, and a long-lived one that escaped with setsid
# (killed by mcpd when the server is gone).
cat >"$T/server.sh" <<'SH'
#!/bin/bash
name=$1 dir=$2 example=$3
( bash -c "sleep 0.3; echo done >'$dir/$name.short'" & )
( bash -c "trap 'echo term >\"$dir/$name.orphan-stopped\"; exit 0' TERM; sleep 100000 & wait" & )
( setsid sleep 100000 & )
# On TERM: the orphan got it too; give it 2 s to note it, since mcpd kills what
# is left of a server once the server exited.
on_term() {
	echo "$name: got SIGTERM, stopping" >&2
	echo term >"$dir/$name.stopped"
	kill -KILL "$child"
	for ((i = 0; i < 40; i++)); do
		[[ -s $dir/$name.orphan-stopped ]] && break
		sleep 0.05
	done
	exit 0
}
trap on_term TERM
"$example" --name "$name" --ignore-sigterm <&0 &
child=$!
wait $child
SH
chmod 755 "$T/server.sh"

manifest() { # manifest SERVER...
	printf 'version: 1\nmcpd:\n  log_format: json\n  shutdown_timeout: 10s\n'
	printf 'defaults:\n  stop: { timeout: 3s }\nservers:\n'
	local s
	for s in "$@"; do
		printf '  %s: { command: [%s, %s, %s, %s] }\n' "$s" "$T/server.sh" "$s" "$T" "$EXAMPLE"
	done
}

# The host pids of the processes in the PID namespace of host pid $1.
ns_members() {
	local ns p
	ns=$(readlink "/proc/$1/ns/pid") || return 0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] && printf '%s\n' "${p#/proc/}"
	done
}

# The zombies among them, as "PID (COMM)".
ns_zombies() {
	local p
	for p in $(ns_members "$1"); do
		[[ $(_proc_state "$p") == Z ]] && printf '%s (%s)\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"
	done
}

no_zombies() {
	[[ -z $(ns_zombies "$1") ]]
}

has_zombies() {
	! no_zombies "$1"
}

# The first child of the spawned unshare: PID 1 of its namespace.
ns_init() {
	pgrep -P "$1" | head -n 1
}

ns_init_is_up() {
	[[ -n $(ns_init "$1") ]]
}

file_has() {
	[[ -s $1 ]]
}

# ---- The check can tell: under a PID 1 that reaps nothing (sleep), an orphan
# stays a zombie. Each orphan here sleeps a little first, so that it exits after
# its parent and is re-parented alive (a parent still there would reap it).
spawn noreap unshare --pid --fork --mount-proc sleep 1000
wait_until 10 ns_init_is_up "$pid_noreap"
noreap=$(ns_init "$pid_noreap")
nsenter -t "$noreap" -p -- bash -c "( bash -c 'sleep 0.3; echo done >\"$T/noreap.done\"' & ); exit 0"
if wait_until 10 file_has "$T/noreap.done" && wait_until 10 has_zombies "$noreap"; then
	ok "control: under a PID 1 that does not reap (sleep), an orphan stays a zombie, and the test sees it"
else
	not_ok "control: a zombie under sleep as PID 1" "members: $(ns_members "$noreap" | paste -sd' ' -)"
fi
kill -KILL "$noreap" 2>/dev/null	# a PID 1 without a handler ignores TERM
stop_spawned noreap

# run_pid1 MODE SIGNAL: mcpd as PID 1 (MODE: cgroups, or pgroups with
# MCPD_CGROUPS=0 as in a container whose cgroup file system is read-only),
# stopped with SIGNAL.
run_pid1() {
	local mode=$1 sig=$2 env=(env -u NOTIFY_SOCKET -u INVOCATION_ID -u LISTEN_FDS -u LISTEN_PID) init t0 t1 rc
	[[ $mode == pgroups ]] && env+=(MCPD_CGROUPS=0)
	rm -f "$T"/*.short "$T"/*.stopped "$T"/*.orphan-stopped "$T"/foreign.done "$SOCK"
	manifest alpha beta >"$T/m.yaml"
	spawn mcpd "${env[@]}" unshare --pid --fork --mount-proc "$MCPD" -f -c "$T/m.yaml" -s "$SOCK"
	if ! wait_until 30 _status_up; then
		not_ok "$mode: mcpd starts as PID 1" "$(tail -n 20 "$T/mcpd.err")"
		stop_spawned mcpd
		return
	fi
	init=$(ns_init "$pid_mcpd")
	like "$(awk '/^NSpid:/ { print $NF }' "/proc/$init/status" 2>/dev/null) $(cat "/proc/$init/comm" 2>/dev/null)" '^1 mcpd$' \
		"$mode: mcpd is PID 1 of its namespace"
	if wait_state 30 alpha running && wait_state 30 beta running; then
		ok "$mode: its servers run"
	else
		not_ok "$mode: servers running" "$(ctl status)" "$(tail -n 20 "$T/mcpd.err")"
	fi

	# Orphans: the servers' short-lived ones, and one of a process mcpd did not
	# start (entered into the namespace from outside, like `docker exec`).
	nsenter -t "$init" -p -- bash -c "( bash -c 'sleep 0.3; echo done >\"$T/foreign.done\"' & ); exit 0"
	if wait_until 20 file_has "$T/alpha.short" && wait_until 20 file_has "$T/beta.short" &&
		wait_until 20 file_has "$T/foreign.done"; then
		ok "$mode: the double-forked orphans of the servers and of a foreign process ran and exited"
	else
		not_ok "$mode: orphans exited" "$(ls "$T")"
	fi
	if wait_until 10 no_zombies "$init"; then
		ok "$mode: no zombie is left in the namespace: PID 1 reaped every orphan"
	else
		not_ok "$mode: zombies reaped" "$(ns_zombies "$init")"
	fi

	# SIGHUP reloads (a PID 1 gets only the signals it handles).
	manifest alpha beta gamma >"$T/m.yaml"
	kill -HUP "$init"
	wait_state 30 gamma running && ok "$mode: SIGHUP to PID 1 reloads the manifest (gamma runs)" ||
		not_ok "$mode: SIGHUP reload" "$(ctl status)" "$(tail -n 20 "$T/mcpd.err")"

	# The stop.
	t0=$(_now_us)
	kill "-$sig" "$init"
	if wait_until 20 _gone "$pid_mcpd"; then
		t1=$(_now_us)
		wait "$pid_mcpd"
		rc=$?
		is "$rc" 0 "$mode: after SIG$sig, mcpd (PID 1) exits 0"
		if (((t1 - t0) < 10000000)); then
			ok "$mode: within shutdown_timeout (10s): $(((t1 - t0) / 1000)) ms"
		else
			not_ok "$mode: exit within shutdown_timeout" "took $(((t1 - t0) / 1000)) ms"
		fi
	else
		not_ok "$mode: mcpd exits after SIG$sig" "$(tail -n 20 "$T/mcpd.err")"
	fi
	like "$(cat "$T/alpha.stopped" "$T/beta.stopped" "$T/gamma.stopped" 2>/dev/null | paste -sd' ' -)" '^term term term$' \
		"$mode: every server handled its SIGTERM (stopped gracefully, not killed with the namespace)"
	like "$(cat "$T/alpha.orphan-stopped" "$T/beta.orphan-stopped" "$T/gamma.orphan-stopped" 2>/dev/null | paste -sd' ' -)" \
		'^term term term$' "$mode: and so did the orphan in each server's process group"
	like "$(grep -c '"msg":"stopped: mcpd is shutting down"' "$T/mcpd.err")" '^3$' "$mode: mcpd logged the stop of the 3 servers"
	like "$(grep -c '"msg":"every server has stopped"' "$T/mcpd.err")" '^1$' "$mode: and that every server has stopped"
	if jq -e . "$T/mcpd.err" >/dev/null 2>&1 && [[ $(wc -l <"$T/mcpd.err") -gt 5 ]]; then
		ok "$mode: log_format json: every line on stderr is a JSON object ($(wc -l <"$T/mcpd.err") lines)"
	else
		not_ok "$mode: JSON log on stderr" "$(grep -v '^{' "$T/mcpd.err" | head -n 5)"
	fi
	if grep -qi 'notify\|systemd' "$T/mcpd.err"; then
		not_ok "$mode: nothing about systemd in the log" "$(grep -i 'notify\|systemd' "$T/mcpd.err")"
	else
		ok "$mode: no systemd needed: nothing about it in the log"
	fi
	# The namespace is gone with its PID 1; so is everything in it.
	if wait_until 10 bash -c "[[ ! -e /proc/$init ]]"; then
		ok "$mode: the namespace is gone"
	else
		not_ok "$mode: namespace gone" "$(ps -o pid,stat,args -p "$init")"
	fi
	stop_spawned mcpd
}

run_pid1 cgroups TERM
run_pid1 pgroups INT

# ---- Two PID 1s that share a cgroup (two containers in one cgroup, or two of
# these tests): pids repeat across namespaces, so each mcpd's cgroups must
# still be its own, and stopping a server of one leaves the other's alone.
cg_of() { # the directory of the server cgroups that mcpd $1 logged
	grep -o 'one cgroup v2 per server under [^ "]*' "$T/$1.err" | head -n 1 | sed 's/.* under //'
}
pid_at() { # pid_at SOCKET NAME
	"$MCPCTL" -s "$1" --json status "$2" 2>/dev/null | grep -oE '"pid": *[0-9]+' | head -n 1 | grep -oE '[0-9]+$'
}
state_at() { # state_at SOCKET NAME
	"$MCPCTL" -s "$1" status "$2" 2>/dev/null | awk -v n="$2" '!/^ / && $1 == n { print $2 }'
}
state_is_at() {
	[[ $(state_at "$1" "$2") == "$3" ]]
}
pid_changed_at() { # pid_changed_at SOCKET NAME OLD
	[[ $(pid_at "$1" "$2") != "$3" ]]
}
if ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then
	skip "two PID 1s in one cgroup keep their servers' cgroups apart" "no cgroup2 hierarchy here"
else
	printf 'version: 1\nservers:\n  a: { command: [%s, --name, a] }\n' "$EXAMPLE" >"$T/two.yaml"
	env=(env -u NOTIFY_SOCKET -u INVOCATION_ID)
	spawn one "${env[@]}" unshare --pid --fork --mount-proc "$MCPD" -f -c "$T/two.yaml" -s "$T/one.sock"
	spawn two "${env[@]}" unshare --pid --fork --mount-proc "$MCPD" -f -c "$T/two.yaml" -s "$T/two.sock"
	if wait_until 30 state_is_at "$T/one.sock" a running && wait_until 30 state_is_at "$T/two.sock" a running; then
		ok "two mcpds, each PID 1 of its namespace, run a server named a"
	else
		not_ok "two PID 1s run a" "$(tail -n 5 "$T/one.err" "$T/two.err")"
	fi
	cg1=$(cg_of one)
	cg2=$(cg_of two)
	if [[ -z $cg1 || -z $cg2 ]]; then
		skip "two PID 1s in one cgroup keep their servers' cgroups apart" "mcpd uses no cgroups here: $(head -n 1 "$T/one.err")"
	else
		[[ $cg1 != "$cg2" ]] && ok "their server cgroups are apart ($cg1, $cg2)" ||
			not_ok "their server cgroups are apart" "both: $cg1"
		before=$(pid_at "$T/two.sock" a)
		"$MCPCTL" -s "$T/one.sock" stop a >/dev/null 2>&1
		wait_until 20 state_is_at "$T/one.sock" a stopped
		# The other's server would be killed with the first's cgroup at once.
		if wait_until 3 pid_changed_at "$T/two.sock" a "$before"; then
			not_ok "stopping a in one mcpd leaves a of the other running" "its pid went from $before to $(pid_at "$T/two.sock" a)" \
				"$(tail -n 5 "$T/two.err")"
		else
			is "$(state_at "$T/two.sock" a)" running "stopping a in one mcpd leaves a of the other running (same pid $before)"
		fi
	fi
	stop_spawned one
	stop_spawned two
fi
done_testing
