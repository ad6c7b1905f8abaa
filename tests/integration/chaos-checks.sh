#!/bin/bash
# Deep checks under attack (issue 14): health.exec commands that misbehave and
# the secrets they print. Secrets that overlap one another, or that are cut by
# the 1 KiB of output kept, never show a piece in a detail; a detail is valid
# UTF-8 whatever bytes the command wrote (NUL, ANSI escapes, invalid UTF-8, a
# 64 MB flood); a command that closes its output and hangs, ignores SIGTERM,
# or leaves a setsid() daemon behind holding the pipe is concluded and leaves
# nothing running; a reload removing a server and a restart during its check,
# and mcpd's SIGTERM with checks running, leave no process behind. mcpctl
# status answers throughout; no sanitizer report.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

MARK=cc-$$-$RANDOM
# Two secrets, one a prefix of the other (listed first, in either order of keys).
SHORT=ovl$RANDOM$RANDOM
LONG=${SHORT}TAILPART$RANDOM
printf '%s' "$SHORT" >"$T/short"
printf '%s' "$LONG" >"$T/long"
# A secret that the 1 KiB kept cuts: 1000 newlines, then it.
EDGE=edge$RANDOM-0123456789abcdefghijklmnopqrstuvwxyz
printf '%s' "$EDGE" >"$T/edge"
# A secret of several lines (a key file): one line of it printed alone.
ML1=mlone$RANDOM-abcdef
ML2=mltwo$RANDOM-ghijkl
printf '%s\n%s\nend\n' "$ML1" "$ML2" >"$T/multi"
chmod 600 "$T/short" "$T/long" "$T/edge" "$T/multi"
# A tool's answer of 300 two-byte characters, cut for the call's detail.
ACCENTS=$(printf 'é%.0s' {1..300})

cat >"$T/overlap.sh" <<'SH'
#!/bin/sh
echo "token=$B_LONG"
SH
cat >"$T/multi.sh" <<'SH'
#!/bin/sh
printf 'line: %s\n' "$(printf '%s\n' "$KEY" | sed -n 2p)"
SH
cat >"$T/edge.sh" <<'SH'
#!/bin/bash
head -c 1000 /dev/zero | tr '\0' '\n'
printf '%s\n' "$EDGE"
SH
cat >"$T/bytes.sh" <<'SH'
#!/bin/bash
printf 'caf\xc3\xa9 \x1b[31mred\x1b[0m bad\xff\xfe\xc3 nul\x00end \xe2\x82'
printf '\xc3\xa9%.0s' {1..150}
printf '\n'
head -c 64000000 /dev/zero
exit 1
SH
cat >"$T/closeout.sh" <<SH
#!/bin/bash
exec >&- 2>&-
exec -a $MARK-closeout sleep 1000
SH
cat >"$T/noterm.sh" <<SH
#!/bin/bash
trap '' TERM
echo "ignoring TERM"
exec -a $MARK-noterm sleep 1000
SH
cat >"$T/daemon.sh" <<SH
#!/bin/bash
setsid bash -c 'exec -a $MARK-daemon sleep 1000' &
echo "daemon started"
exit 0
SH
cat >"$T/long.sh" <<SH
#!/bin/bash
echo "long check"
exec -a $MARK-long sleep 1000
SH
# Resources: a server forking 2000 short-lived children over about 10 s, one
# with a process whose comm is ") (" holding 3000 open fds.
cat >"$T/forker.sh" <<SH
#!/bin/bash
(for i in \$(seq 1 2000); do /bin/true; ((i % 200 == 0)) && sleep 1; done; exec -a $MARK-forked sleep 1000) &
exec $EXAMPLE --name forker
SH
cp "$(command -v sleep)" "$T/x) (y"
cat >"$T/hog.sh" <<SH
#!/bin/bash
(ulimit -n 4096 2>/dev/null; for i in \$(seq 10 3009); do eval "exec \$i</dev/null"; done; exec "$T/x) (y" 1000) &
exec $EXAMPLE --name hog
SH
chmod +x "$T"/*.sh

write_manifest() {
	local h1
	h1=$(test_port)
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
defaults:
  health: { interval: 1s, timeout: 900ms, unhealthy_after: 1000 }
  backoff: { initial: 200ms, jitter: 0 }
servers:
  overlap:
    command: [$EXAMPLE, --name, overlap]
    secrets: { A_SHORT: $T/short, B_LONG: $T/long }
    health: { exec: [$T/overlap.sh] }
  multi:
    command: [$EXAMPLE, --name, multi]
    secrets: { KEY: $T/multi }
    health: { exec: [$T/multi.sh] }
  edge:
    command: [$EXAMPLE, --name, edge]
    secrets: { EDGE: $T/edge }
    health: { exec: [$T/edge.sh] }
  bytes:
    command: [$EXAMPLE, --name, bytes]
    health: { interval: 3s, exec: [$T/bytes.sh], exec_timeout: 20s }
  closeout:
    command: [$EXAMPLE, --name, closeout]
    health: { interval: 2s, exec: [$T/closeout.sh], exec_timeout: 1s }
  noterm:
    command: [$EXAMPLE, --name, noterm]
    health: { interval: 2s, exec: [$T/noterm.sh], exec_timeout: 1s }
  daemon:
    command: [$EXAMPLE, --name, daemon]
    health: { interval: 1s, exec: [$T/daemon.sh] }
  forker:
    command: [$T/forker.sh]
  hog:
    command: [$T/hog.sh]
  callhang:
    command: [$EXAMPLE, --name, callhang]
    health: { timeout: 700ms, unhealthy_after: 3, call: { tool: sleep, arguments: { ms: 5000 } } }
    circuit: { failures: 1000 }         # restarted again and again by design: never "failed"
  webhang:
    transport: http
    url: http://127.0.0.1:$h1/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$h1", --name, webhang]
    health: { timeout: 700ms, unhealthy_after: 3, call: { tool: sleep, arguments: { ms: 5000 } } }
    circuit: { failures: 1000 }         # restarted again and again by design: never "failed"
  callutf:
    command: [$EXAMPLE, --name, callutf]
    health: { call: { tool: echo, arguments: { text: "$ACCENTS" } } }
  gone:
    command: [$EXAMPLE, --name, gone]
    health: { exec: [$T/long.sh], exec_timeout: 60s }
  again:
    command: [$EXAMPLE, --name, again]
    health: { exec: [$T/long.sh], exec_timeout: 60s }
  last:
    command: [$EXAMPLE, --name, last]
    health: { exec: [$T/long.sh], exec_timeout: 60s }
YAML
}

start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }

check_of() {
	ctl --json status "$1" 2>/dev/null |
		jq -r --arg n "$1" --arg c "$2" --arg k "$3" \
			'.servers[] | select(.name == $n) | .checks[]? | select(.check == $c) | .[$k] | tostring'
}
_check_ran() {
	[[ $(check_of "$1" exec status) != unknown && -n $(check_of "$1" exec status) ]]
}
_check_is() {
	[[ $(check_of "$1" exec status) == "$2" ]]
}

# mcpctl status stays responsive: the slowest of the answers sampled.
slowest=0
_sample_status() {
	local t0 t1
	t0=$(_now_us)
	timeout 10 "$MCPCTL" -s "$SOCK" status >/dev/null 2>&1 || return 1
	t1=$(_now_us)
	(((t1 - t0) > slowest)) && slowest=$((t1 - t0))
	return 0
}

# pile_up_checks MODE: the daemon server's check leaves a setsid() daemon
# holding its output each round: the check concludes at its exit, the daemons go.
pile_up_checks() {
	wait_until 30 _check_is daemon ok && ok "$1: an exec that leaves a daemon holding its pipe concludes at its exit" ||
		not_ok "$1: daemon" "$(ctl --json status daemon)"
	# Rounds every second: leftovers would pile up (sampled for 8 s, mcpctl status timed meanwhile).
	if wait_until 8 _pile_up; then
		not_ok "$1: the setsid() daemons a check leaves do not pile up" "$(pgrep -fa -- "$MARK-daemon" | head -n 5)"
	else
		ok "$1: the setsid() daemons a check leaves do not pile up"
	fi
	like "$(check_of daemon exec strays_killed)" '^[1-9][0-9]*$' \
		"$1: status counts the processes killed (checks[].strays_killed)"
	is "$(grep -c 'daemon: health.exec left' "$T/mcpd.err")" 1 "$1: mcpd warns once about them, naming the server"
}
_pile_up() {
	_sample_status
	(($(pgrep -fc -- "$MARK-daemon") > 2))
}

# Secrets that overlap: no piece of either shows.
wait_until 30 _check_ran overlap && ok "overlap: the exec ran" || not_ok "overlap ran" "$(ctl --json status overlap)"
d=$(check_of overlap exec detail)
diag "overlap detail: $d"
if [[ $d == *TAILPART* || $d == *"$SHORT"* ]]; then
	not_ok "a secret that holds another secret is redacted whole (no tail shown)" "$d"
else
	ok "a secret that holds another secret is redacted whole (no tail shown)"
fi
is "$d" "token=***" "its detail is the line with one mask"

# One line of a secret of several lines: redacted alone too.
wait_until 30 _check_ran multi && ok "multi: the exec ran" || not_ok "multi ran" "$(ctl --json status multi)"
is "$(check_of multi exec detail)" "line: ***" "a line of a secret of several lines, printed alone, is redacted"

# A secret cut at the 1 KiB kept: no prefix of it shows.
wait_until 30 _check_ran edge && ok "edge: the exec ran" || not_ok "edge ran" "$(ctl --json status edge)"
d=$(check_of edge exec detail)
diag "edge detail: $d"
if [[ $d == *"${EDGE:0:8}"* ]]; then
	not_ok "a secret cut by the output kept shows no prefix of it" "$d"
else
	ok "a secret cut by the output kept shows no prefix of it"
fi

# Bytes of every kind, 64 MB of them: a UTF-8 detail, the loop responsive.
for _ in 1 2 3 4 5 6 7 8 9 10; do
	_sample_status || break
done
wait_until 60 _check_ran bytes && ok "bytes: the flooding exec concluded" || not_ok "bytes ran" "$(ctl --json status bytes)"
is "$(check_of bytes exec status)" degraded "the flooding exec's exit 1 is degraded"
d=$(check_of bytes exec detail)
diag "bytes detail: $d"
like "$d" '^caf' "its detail starts with its first line"
if ctl --json status bytes | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
	ok "status --json is valid UTF-8 after invalid UTF-8 from a check"
else
	not_ok "status --json is valid UTF-8 after invalid UTF-8 from a check" "$(ctl --json status bytes | grep detail | od -c | head -n 20)"
fi
if curl -s --max-time 30 "http://127.0.0.1:$port/health" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
	ok "/health is valid UTF-8"
else
	not_ok "/health is valid UTF-8"
fi
like "$d" '\\x1b\[31m' "an ANSI escape is shown escaped"

# A call's answer cut for its detail is cut between characters.
_call_ok() {
	[[ $(check_of callutf call status) == ok ]]
}
wait_until 30 _call_ok && ok "callutf: the call passes" || not_ok "callutf call" "$(ctl --json status callutf)"
if ctl --json status callutf | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1; then
	ok "a call's answer cut for its detail stays valid UTF-8"
else
	not_ok "a call's answer cut for its detail stays valid UTF-8" "$(ctl --json status callutf | grep -a '"ok:' | od -c | tail -n 5)"
fi
like "$(check_of callutf call detail)" '^ok: "(é)+\.\.\."$' "its detail is the answer, cut, with ..."

# A command that closes its output and hangs, one that ignores SIGTERM: killed at exec_timeout.
wait_until 30 _check_is closeout failed && ok "an exec that closes its output and hangs times out" ||
	not_ok "closeout" "$(ctl --json status closeout)"
like "$(check_of closeout exec detail)" '^timed out after 1s' "its detail says it timed out"
wait_until 30 _check_is noterm failed && ok "an exec that ignores SIGTERM times out" || not_ok "noterm" "$(ctl --json status noterm)"
like "$(check_of noterm exec detail)" '^timed out after 1s \(killed\): ignoring TERM' "its detail says it was killed"

# A setsid() daemon left holding the pipe (cgroups where this machine has them; without, at the end).
pile_up_checks "$(grep -qE 'one cgroup v2 per server' "$T/mcpd.err" && echo cgroups || echo "process groups")"

# Reload removing a server with its exec running; a restart during a check.
wait_until 30 pgrep -f -- "$MARK-long" && ok "the long execs run" || not_ok "long execs run"
sed -i '/^  gone:/,/^  again:/{/^  again:/!d}' "$T/m.yaml"
out=$(ctl reload 2>&1)
like "$out" 'removed' "reload removes the server whose exec runs" || diag "$out"
ctl restart again >/dev/null 2>&1
_long_count() {
	(($(pgrep -fc -- "$MARK-long") <= $1))
}
wait_until 30 _long_count 2 && ok "the removed server's and the restarted server's execs are killed" ||
	not_ok "long execs left" "$(pgrep -fa -- "$MARK-long")"
ctl stop last >/dev/null 2>&1
wait_state 30 last stopped
wait_until 30 _long_count 1 && ok "mcpctl stop during a check kills its exec" ||
	not_ok "long exec of a stopped server left" "$(pgrep -fa -- "$MARK-long")"

# Calls that never answer in time, stdio and HTTP: failed, restarted after
# unhealthy_after with a call in flight, late answers to a process ago ignored;
# the server killed with a call in flight.
_call_is() {
	[[ $(check_of "$1" call status) == "$2" ]]
}
_restarted() {
	(($(field_of "$1" restarts) >= ${2:-1}))
}
for n in callhang webhang; do
	wait_until 30 _call_is $n failed && ok "$n: a call that does not answer in time fails" ||
		not_ok "$n call failed" "$(ctl --json status $n)"
	d=$(check_of $n call detail)
	diag "$n detail: $d"
	like "$d" 'no answer within 700ms|[Tt]ime' "$n: its detail says it timed out"
	wait_until 60 _restarted $n && ok "$n: restarted after unhealthy_after calls without answer" ||
		not_ok "$n restarted" "$(ctl status $n)"
done
wait_state 30 callhang running
pid=$(field_of callhang pid)
kill -KILL "$pid" 2>/dev/null
_new_pid() {
	[[ $(field_of callhang pid) != "$pid" && $(state_of callhang) == running ]]
}
wait_until 30 _new_pid && ok "callhang: killed with a call in flight, it is started again" ||
	not_ok "callhang restarted after kill" "$(ctl status callhang)"
wait_until 30 _restarted callhang 3 && ok "callhang: its calls go on failing and restarting it" ||
	not_ok "callhang restarts" "$(ctl status callhang)"

# Resources under a fork storm, a ") (" comm and 3000 fds: counters never drop, the loop answers.
drops=0 samples=0 prev_cpu=0 last_ago=999
_res_sample() {
	local j cpu ago
	_sample_status || return 1
	j=$(ctl --json status forker | jq -c '.servers[] | select(.name == "forker") | .resources')
	cpu=$(jq -r '.cpu_seconds // empty' <<<"$j")
	ago=$(jq -r '.sampled_s_ago // empty' <<<"$j")
	[[ -n $cpu && -n $ago ]] || return 1
	awk -v a="$cpu" -v b="$prev_cpu" 'BEGIN { exit !(a < b) }' && drops=$((drops + 1))
	prev_cpu=$cpu
	awk -v a="$ago" -v b="$last_ago" 'BEGIN { exit !(a < b) }' && samples=$((samples + 1))
	last_ago=$ago
	((samples >= 4))
}
wait_until 60 _res_sample && ok "forker: four resource samples during its fork storm" ||
	not_ok "forker: resource samples" "$(ctl --json status forker | jq -c '.servers[].resources')"
is "$drops" 0 "its CPU counter never went down (cpu_seconds $prev_cpu)"
_hog_sampled() {
	local j
	j=$(ctl --json status hog | jq -c '.servers[] | select(.name == "hog") | .resources')
	[[ $(jq -r '.fds // 0' <<<"$j") -ge 3000 && $(jq -r '.processes // 0' <<<"$j") -ge 2 ]]
}
wait_until 30 _hog_sampled && ok "hog: its 3000 fds and its ') (' process are counted" ||
	not_ok "hog sampled" "$(ctl --json status hog | jq -c '.servers[].resources')"
metrics=$(curl -s --max-time 30 "http://127.0.0.1:$port/metrics")
like "$metrics" 'mcpd_server_processes\{server="hog"\} [2-9]' "metrics: hog's processes"
if command -v promtool >/dev/null; then
	out=$(printf '%s\n' "$metrics" | promtool check metrics 2>&1)
	is "$?" 0 "promtool check metrics accepts the exposition" || diag "$out"
else
	skip "promtool check metrics" "promtool is not installed"
fi

diag "slowest mcpctl status: $((slowest / 1000)) ms"
((slowest < 5000000)) && ok "mcpctl status answered within 5 s throughout (slowest $((slowest / 1000)) ms)" ||
	not_ok "mcpctl status slow: $((slowest / 1000)) ms"

# SIGTERM with execs running: mcpd exits in time, nothing of any check is left.
wait_until 30 pgrep -f -- "$MARK-long"
stop_mcpd
no_leftovers "$MARK" "no process of any check is left after mcpd exits"
no_sanitizer_report() {
	if grep -qE "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$T/mcpd.err"; then
		not_ok "$1: no sanitizer report" "$(grep -A 20 -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err" | head -n 30)"
	else
		ok "$1: no sanitizer report"
	fi
}
no_sanitizer_report "first mcpd"

# Without cgroups: only the daemon server.
if grep -qE 'one cgroup v2 per server' "$T/mcpd.err"; then
	sed -i '/^  overlap:/,$d' "$T/m.yaml"
	cat >>"$T/m.yaml" <<YAML
  daemon:
    command: [$EXAMPLE, --name, daemon]
    health: { interval: 1s, exec: [$T/daemon.sh] }
YAML
	MCPD_CGROUPS=0 start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
	pile_up_checks "process groups"
	stop_mcpd
	no_leftovers "$MARK" "process groups: no process of the check is left after mcpd exits"
	no_sanitizer_report "process groups"
fi
done_testing
