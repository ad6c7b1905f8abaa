#!/bin/bash
# Chaos around children and the loop: a FIFO as the manifest on reload,
# descendants that double-fork and setsid() (attributed to their server,
# killed with it and with a SIGKILLed mcpd), a log nobody reads, env_file and
# secrets that cannot be read or that every user can read, an unknown user.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# status answers within a deadline, whatever the loop is doing.
status_answers() {
	timeout 5 "$MCPCTL" -s "$SOCK" status >/dev/null 2>&1
}

# An escaper double-forks: the subshell exits at once, so its setsid()'d
# sleep is re-parented (to mcpd, or to the server when it adopts orphans).
escaper() {
	printf "[sh, -c, '(setsid sleep 1000 & echo \$! > %s) ; exec %s --name %s']" "$T/$1.esc" "$EXAMPLE" "$1"
}

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  stop: { timeout: 2s }
servers:
  alpha:
    command: $(escaper alpha)
  beta:
    command: $(escaper beta)
YAML

# A writable cgroup2 hierarchy: root and a cgroup2 mount (CI and dev machines have both).
have_cgroup2=
((EUID == 0)) && grep -q ' - cgroup2 ' /proc/self/mountinfo && have_cgroup2=1

# attribution: restarting alpha kills alpha's escaped descendant only.
attribution() {
	local a_esc b_esc a_pid
	wait_state 20 alpha running && wait_state 20 beta running && ok "$1: two servers with escaped descendants run" ||
		not_ok "$1: alpha and beta running" "$(ctl status)"
	a_esc=$(cat "$T/alpha.esc" 2>/dev/null)
	b_esc=$(cat "$T/beta.esc" 2>/dev/null)
	like "$a_esc $b_esc" '^[0-9]+ [0-9]+$' "$1: both servers wrote their escaped descendant's pid"
	alive "$a_esc" && alive "$b_esc" && ok "$1: both escaped descendants run" || not_ok "$1: escapees alive"
	a_pid=$(field_of alpha pid)
	ctl restart alpha >/dev/null
	wait_until 20 bash -c "[[ \$('$MCPCTL' -s '$SOCK' status alpha | awk '\$1 == \"alpha\" {print \$2}') == running && \
		\$('$MCPCTL' -s '$SOCK' --json status alpha | grep -o '\"pid\": *[0-9]*' | grep -o '[0-9]*\$') != $a_pid ]]" &&
		ok "$1: alpha restarts" || not_ok "$1: alpha restarted" "$(ctl status alpha)"
	wait_until 10 _gone "$a_esc" && ok "$1: restarting alpha kills alpha's escaped descendant" ||
		not_ok "$1: alpha's escapee gone" "$(ps -o pid,ppid,pgid,sid,args -p "$a_esc")"
	alive "$b_esc" && ok "$1: restarting alpha leaves beta's escaped descendant alone" ||
		not_ok "$1: beta's escapee survives a restart of alpha" "$(mcpd_log | tail -n 5)"
	is "$(state_of beta)" running "$1: beta still runs"
}

# ---- without cgroups: process groups, and each server adopts its own orphans.
MCPD_CGROUPS=0 start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_log 5 'children: cgroups are turned off by MCPD_CGROUPS=0; tracking servers by process group' &&
	ok "without cgroups, mcpd says it tracks process groups" || not_ok "fallback logged" "$(head -n 3 "$T/mcpd.err")"
attribution "process groups"
stop_mcpd
for f in "$T"/*.esc; do kill -KILL "$(cat "$f")" 2>/dev/null; rm -f "$f"; done

# ---- one cgroup v2 per server.
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
cgroups=
if [[ -n $have_cgroup2 ]]; then
	if wait_log 5 'children: one cgroup v2 per server under '; then
		cgroups=$(grep -o 'one cgroup v2 per server under [^ ]*' "$T/mcpd.err" | head -n 1)
		cgroups=${cgroups##* }
		ok "mcpd logs that it uses one cgroup v2 per server ($cgroups)"
	else
		not_ok "mcpd uses cgroup v2" "$(head -n 3 "$T/mcpd.err")"
	fi
	wait_state 20 alpha running
	[[ -n $cgroups && -d $cgroups/alpha && -d $cgroups/beta ]] && ok "each server has its cgroup" ||
		not_ok "server cgroups exist" "$(ls "$cgroups" 2>&1)"
	esc=$(cat "$T/alpha.esc" 2>/dev/null)
	[[ -n $esc ]] && grep -qx "$esc" "$cgroups/alpha/cgroup.procs" 2>/dev/null &&
		ok "a setsid()'d descendant stays in its server's cgroup" || not_ok "descendant in cgroup" "$(cat "/proc/$esc/cgroup" 2>&1)"
fi
attribution "cgroups"

# ---- a FIFO as the manifest: reload refuses it at once, nothing changes.
b_pid=$(field_of beta pid)
cp "$T/m.yaml" "$T/m.yaml.good"
rm -f "$T/m.yaml"
mkfifo "$T/m.yaml"
t0=$(_now_us)
out=$(timeout 10 "$MCPCTL" -s "$SOCK" reload 2>&1)
rc=$?
t1=$(_now_us)
((rc != 0 && rc != 124)) && ok "reload of a FIFO manifest fails" || not_ok "reload of a FIFO fails (exit $rc)" "$out"
(((t1 - t0) < 5000000)) && ok "and answers quickly ($(((t1 - t0) / 1000)) ms)" || not_ok "reload answers within 5 s"
like "$out" 'is a FIFO, not a regular file' "the error says the manifest is a FIFO"
if ((rc == 124)); then
	# Today's mcpd waits for a writer: give it one, so the rest can run.
	timeout 5 bash -c ": >'$T/m.yaml'"
fi
status_answers && ok "mcpd answers status after the FIFO reload" || not_ok "status after FIFO reload"
is "$(field_of beta pid)" "$b_pid" "the running servers are untouched"
rm -f "$T/m.yaml"
cp "$T/m.yaml.good" "$T/m.yaml"

# ---- SIGKILL of mcpd: the guard kills every cgroup, setsid()'d descendants included.
a_esc=$(cat "$T/alpha.esc" 2>/dev/null)
b_esc=$(cat "$T/beta.esc" 2>/dev/null)
pids="$(field_of alpha pid) $(field_of beta pid) $a_esc $b_esc"
kill -KILL "$pid_mcpd"
wait "$pid_mcpd" 2>/dev/null
if [[ -n $have_cgroup2 ]]; then
	left=
	for p in $pids; do
		wait_until 10 _gone "$p" || left="$left $p"
	done
	[[ -z $left ]] && ok "SIGKILL of mcpd leaves no descendant behind, setsid()'d ones included" ||
		not_ok "descendants outlived mcpd" "$(ps -o pid,ppid,pgid,sid,args -p "${left# }" 2>&1)"
	[[ -n $cgroups ]] && wait_until 10 test ! -d "$cgroups" && ok "the guard removes mcpd's cgroups" ||
		not_ok "cgroups removed" "$(find "$cgroups" -name cgroup.procs -exec cat {} + 2>&1)"
else
	skip "SIGKILL of mcpd with setsid()'d descendants" "no writable cgroup2 hierarchy"
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
fi

# ---- a log nobody reads: mcpd's stderr is a pipe whose reader never reads.
mkfifo "$T/log.fifo"
cat >"$T/flood.yaml" <<YAML
version: 1
servers:
  flood:
    command: [$EXAMPLE, --name, flood, --flood-stderr]
  big:
    command: [$EXAMPLE, --name, big, --long-stderr-line, "3000000"]
  calm:
    command: [$EXAMPLE, --name, calm]
YAML
spawn sink bash -c "exec sleep 1000 <'$T/log.fifo'"
spawn mcpd bash -c 'exec "$0" "$@" 2>"'"$T"'/log.fifo"' "$MCPD" -c "$T/flood.yaml" -s "$SOCK"
wait_until 30 _status_up && ok "mcpd starts with a log nobody reads" || not_ok "mcpd starts" "$(cat "$T/mcpd.err")"
wait_state 20 calm running && ok "it supervises while its log is stalled" || not_ok "calm running" "$(ctl status 2>&1)"
slow=0
for i in 1 2 3 4 5; do
	status_answers || slow=$((slow + 1))
done
is "$slow" 0 "status answers every time while a server floods a log nobody reads"
ctl restart calm >/dev/null
wait_state 20 calm running && ok "restart works while the log is stalled" || not_ok "calm restarted" "$(ctl status 2>&1)"
ctl stop flood >/dev/null
wait_state 20 flood stopped || not_ok "flood stopped" "$(ctl status 2>&1)"
# A reader comes: what waited is written, then the count of what was dropped.
spawn reader bash -c "exec cat <'$T/log.fifo'"
wait_until 20 grep -qE 'log: dropped [0-9]+ lines: the log is not being read' "$T/reader.out" &&
	ok "once read again, the log says how many lines it dropped" ||
	not_ok "drop count logged" "$(tail -c 300 "$T/reader.out")"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid_mcpd/status" 2>/dev/null)
# The queue holds 256 KiB; the rest is the sanitizer build's own weight.
((${rss:-999999} < 200000)) && ok "mcpd's RSS stays in budget with a stalled log (${rss:-?} kB)" ||
	not_ok "RSS in budget" "${rss:-?} kB"
kill -TERM "$pid_mcpd" 2>/dev/null
wait_until 15 _gone "$pid_mcpd" && ok "mcpd exits on SIGTERM" || not_ok "mcpd exits"
stop_spawned mcpd
stop_spawned reader
stop_spawned sink

# ---- files and users read in the child: unreadable ones fail the server with a reason.
mkfifo "$T/env.fifo"
printf 'TOKEN=s3cr3t-value\n' >"$T/open.secret"
chmod 0644 "$T/open.secret"
printf 'A=1\n' >"$T/open.env"
chmod 0644 "$T/open.env"
cat >"$T/files.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 2s, jitter: 0 }
servers:
  fifoenv:
    command: [$EXAMPLE]
    env_file: $T/env.fifo
  missing:
    command: [$EXAMPLE]
    env_file: $T/no-such.env
  nouser:
    command: [$EXAMPLE]
    user: no-such-user-mcpd
  open:
    command: [$EXAMPLE]
    env_file: $T/open.env
    secrets: { TOKEN: $T/open.secret }
YAML
start_mcpd "$T/files.yaml" || { done_testing; exit 1; }
wait_log 20 'fifoenv: .*cannot read env_file .*env.fifo: not a regular file; next try in' &&
	ok "an env_file that is a FIFO fails the server with a reason" || not_ok "fifo env_file reason" "$(grep fifoenv "$T/mcpd.err")"
wait_log 20 'missing: .*cannot read env_file .*no-such.env: No such file or directory; next try in' &&
	ok "a missing env_file fails the server with a reason" || not_ok "missing env_file reason" "$(grep missing "$T/mcpd.err")"
if ((EUID == 0)); then
	wait_log 20 'nouser: .*unknown user "no-such-user-mcpd"; next try in' &&
		ok "an unknown user fails the server with a reason" || not_ok "unknown user reason" "$(grep nouser "$T/mcpd.err")"
else
	skip "unknown user" "not root"
fi
wait_state 20 open running && ok "a server with world-readable files starts" || not_ok "open running" "$(ctl status open)"
wait_log 10 'open: .*secret TOKEN from .*open.secret is readable by every user \(mode 0644\)' &&
	ok "a world-readable secret file gets a warning" || not_ok "secret warning" "$(grep open: "$T/mcpd.err")"
like "$(grep 'open:' "$T/mcpd.err")" 'env_file .*open.env is readable by every user' "so does a world-readable env_file"
grep -q 's3cr3t-value' "$T/mcpd.err" && not_ok "a secret's value is never logged" || ok "a secret's value is never logged"
status_answers && ok "mcpd stays responsive" || not_ok "status answers"
stop_mcpd

no_leftovers "$T" "no process is left behind"
done_testing
