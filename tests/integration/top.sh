#!/bin/bash
# mcpctl top and the figures of mcpctl status: after requests through
# `mcpctl connect`, status shows the busy server's rate and top sorts it
# first; plain frames (-n, no terminal) carry no escape sequence; on a
# terminal (a pty from script(1)) top redraws, reads keys, fits the screen
# and gives the terminal back as it found it on q, SIGTERM and with mcpd gone.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  alpha:
    command: [$EXAMPLE, --name, alpha]
    health: { call: { tool: echo, arguments: { text: deep } } }
  mid:
    command: [$EXAMPLE, --name, mid]
    autostart: false
  zbusy:
    command: [$EXAMPLE, --name, zbusy]
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 alpha running || not_ok "alpha running" "$(ctl status)"
wait_state 60 zbusy running || not_ok "zbusy running" "$(ctl status)"

# Five calls and an unknown tool through mcpctl connect: zbusy is the busy one.
calls=('{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
	'{"jsonrpc":"2.0","method":"notifications/initialized"}')
for i in 1 2 3 4 5; do
	calls+=("{\"jsonrpc\":\"2.0\",\"id\":$i,\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"a\":$i,\"b\":1}}}")
done
out=$(printf '%s\n' "${calls[@]}" | timeout 60 "$MCPCTL" -s "$SOCK" connect zbusy)
is "$(echo "$out" | grep -c '"result":{"content"')" 5 "five tools/call answered through mcpctl connect"

# --- mcpctl status: the figures below a row, in full with a name.
out=$(ctl status)
like "$out" 'NAME +STATE +PID +UPTIME +RESTARTS +HEALTH +LATENCY' "status keeps its seven columns"
is "$(echo "$out" | awk 'length > 80' | wc -l)" 0 "status still fits 80 columns"
figures=$(echo "$out" | awk '$1 == "zbusy" { getline; print }')
like "$figures" '^    [0-9.k]+ req/s, [0-9.]+% errors, p50 [0-9.]+m?s, p99 [0-9.]+m?s' \
	"the line below zbusy's row has its request rate, error rate and percentiles" || diag "$out"
like "$(echo "$figures" | awk '{ print $1 }')" '^(0\.0*[1-9]|[1-9])' "zbusy's request rate is above 0"
is "$(echo "$out" | awk '!/^ / && NF > 1' | wc -l)" 5 "one unindented line per server, plus the health and the header"
out=$(ctl status zbusy)
like "$out" '^  requests: [5-9] since added, 0 errors, 0 in flight' "status NAME shows the totals and in-flight"
like "$out" '^  last 60s: [0-9.]+ req/s, 0% errors, p50 [0-9.]+m?s, p99 [0-9.]+m?s' "status NAME shows the window's figures"
# Resources are sampled every few seconds: wait for zbusy's first sample.
_sampled() { ctl status zbusy | grep -q '^  processes: '; }
wait_until 60 _sampled || not_ok "zbusy sampled" "$(ctl status zbusy)"
out=$(ctl status zbusy)
like "$out" '^  cpu: [0-9.]+% \([0-9.]+s in all\)|^  cpu: - ' "status NAME shows CPU" || diag "$out"
like "$out" '^  memory: [0-9.]+[BKMG]$' "and memory"
like "$out" '^  processes: 1, fds: [0-9]+ \((cgroup|process group), sampled [0-9.]+s ago\)$' "and processes, fds and the source"
like "$(ctl status | awk '$1 == "zbusy" { getline; print }')" ', cpu ([0-9.]+%|-), mem [0-9.]+[BKMG]$' \
	"the line below zbusy's row ends with its CPU and memory"
_checked() { ctl status alpha | grep -q '^  check call (echo): ok'; }
wait_until 60 _checked && ok "status NAME shows a deep check with its tool and status" || not_ok "deep check in status NAME" "$(ctl status alpha)"
json=$(ctl --json status zbusy)
like "$json" '"traffic": \{' "--json status passes the traffic object through"
like "$json" '"requests": [5-9]' "with its request count"

# --- top -n 1: a header, the columns, one row per server.
out=$(ctl top -n 1 2>"$T/top.err")
is "$?" 0 "top -n 1 exits 0"
like "$(echo "$out" | head -n 1)" '^[0-9]{2}:[0-9]{2}:[0-9]{2}  health: ok  running: 2/3  [0-9.]+ req/s, [0-9.]+% errors  sort: cpu$' \
	"the first line has the time, the health, servers running and the request rate" || diag "$out" "$(cat "$T/top.err")"
like "$(echo "$out" | sed -n 2p)" '^NAME +STATE +REQ/S +ERR +P50 +P99 +CPU% +MEM +RESTARTS$' "then the columns"
is "$(echo "$out" | awk 'NR > 2 { print $1 }' | sort | paste -sd' ')" "alpha mid zbusy" "and one row per server"
is "$(echo "$out" | awk 'length > 80' | wc -l)" 0 "a plain frame fits 80 columns"
is "$(echo "$out" | grep -c $'\e')" 0 "-n 1 writes no escape sequence"

is "$(ctl top -n 1 -s name | awk 'NR > 2 { print $1 }' | paste -sd' ')" "alpha mid zbusy" "-s name sorts by name"
is "$(ctl top -n 1 -s name -r | awk 'NR > 2 { print $1 }' | paste -sd' ')" "zbusy mid alpha" "-r reverses it"
is "$(ctl top -n 1 -s rate | awk 'NR == 3 { print $1 }')" zbusy "-s rate puts the busy server first"
like "$(ctl top -n 1 -s rate | awk '$1 == "zbusy" { print $3 }')" '^(0\.0*[1-9]|[1-9])' "with its rate in REQ/S"
is "$(ctl top -n 1 -s restarts | awk 'NR == 2 { print $NF }')" RESTARTS "-s restarts is a sort key"
like "$(ctl top -n 1 | awk '$1 == "zbusy" { print $8 }')" '^[0-9.]+[BKMG]$' "MEM shows zbusy's memory"
is "$(ctl top -n 1 -s mem | awk 'NR == 5 { print $1 }')" mid "-s mem puts the server without a process last"

out=$(ctl top -n 2 -d 0.5)
is "$(echo "$out" | grep -cE '^[0-9:]{8}  health: ')" 2 "-n 2 -d 0.5 prints two frames"
is "$(echo "$out" | grep -c '^$')" 1 "separated by one blank line"

out=$(ctl --json top -n 1 -s name)
is "$(echo "$out" | wc -l)" 1 "--json top -n 1 prints one line"
like "$out" '^\{"health":"ok",.*"servers":\[\{"name":"alpha",.*\{"name":"mid",.*\{"name":"zbusy",' \
	"a status object with the servers in the frame's order"

# Not a terminal and no -n: frames until stopped, and no escape sequence either.
spawn plain "$MCPCTL" -s "$SOCK" top -d 0.2
_frames() { (($(grep -cE '^[0-9:]{8}  health: ' "$T/plain.out") >= "$1")); }
wait_until 30 _frames 2 && ok "without a terminal, top prints frame after frame" || not_ok "plain frames" "$(cat "$T/plain.out" "$T/plain.err")"
# SIGTERM: a background job of a script ignores SIGINT, and top leaves an ignored signal ignored.
kill -TERM "$pid_plain"
wait_until 30 eval '! alive $pid_plain' && ok "SIGTERM ends it" || not_ok "plain top ends on SIGTERM"
wait "$pid_plain"
is "$?" 0 "with exit status 0"
is "$(grep -c $'\e' "$T/plain.out")" 0 "and it wrote no escape sequence"

# --- usage errors: exit 2 and a message naming the option.
for bad in "-d 0.1:-d wants seconds from 0.2 to 3600" "-d x:-d wants seconds" "-n 0:-n wants a number of refreshes" \
	"-s fast:-s wants one of name rate err p50 p99 cpu mem restarts" "-x:usage: mcpctl top"; do
	ctl top ${bad%%:*} >"$T/out" 2>"$T/err"
	is "$?" 2 "top ${bad%%:*} exits 2"
	like "$(cat "$T/err")" "${bad#*:}" "with \"${bad#*:}\""
done
like "$("$MCPCTL" help top)" '^usage: mcpctl .*top \[-d SECONDS\] \[-n N\] \[-s KEY\] \[-r\]' "mcpctl help top prints its usage"
like "$("$MCPCTL" --help)" '^  top \[' "mcpctl --help lists top"
"$MCPCTL" -s "$SOCK" top -n 1 nosuch >"$T/out" 2>"$T/err"
is "$?" 1 "top with an unknown server exits 1"
like "$(cat "$T/err")" 'no server named "nosuch"' "and says which"

# Bash completion: the command, its sort keys, server names.
complete_words() {
	(
		PATH=$(dirname "$MCPCTL"):$PATH
		complete() { :; }
		. "$top_srcdir/mcpctl/mcpctl.bash-completion"
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_mcpctl
		printf '%s\n' "${COMPREPLY[@]}"
	)
}
is "$(complete_words mcpctl to | sort | paste -sd' ')" "tools top" "completion of top"
is "$(complete_words mcpctl top -s r | sort | paste -sd' ')" "rate restarts" "completion of its sort keys"
is "$(complete_words mcpctl -s "$SOCK" top -n 1 z | paste -sd' ')" "zbusy" "and of server names"

"$MCPCTL" -s "$T/none.sock" top -n 1 >"$T/out" 2>"$T/err"
is "$?" 1 "top exits 1 when mcpd is not running"
like "$(cat "$T/err")" "cannot reach mcpd at $T/none.sock" "and says it cannot reach mcpd"

# --- on a terminal: script(1) gives top a pty; keys come through a FIFO.
if ! command -v script >/dev/null || ! script -qec true /dev/null >/dev/null 2>&1; then
	skip "top on a terminal" "script(1) from util-linux is missing"
	done_testing
	exit
fi
# fg.py PIDFILE CMD...: CMD as a foreground job of its own, as a shell with job control runs
# it (sh -c would leave it in an orphaned process group, where ^Z does not stop).
PY=$(command -v python3)
cat >"$T/fg.py" <<'PY'
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.tcsetpgrp(0, os.getpid())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execvp(sys.argv[2], sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % pid)
while True:
    _, st = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(st):
        break
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
os.tcsetpgrp(0, os.getpgrp())
sys.exit(os.waitstatus_to_exitcode(st))
PY
# tty.sh DIR [ROWS COLS]: under the pty, mcpctl top's pid, exit status and the terminal's settings before and after.
cat >"$T/tty.sh" <<'SH'
d=$1
[ -n "${2:-}" ] && stty rows "$2" cols "$3"
tty >"$d/tty"
stty -g >"$d/before"
if [ -n "$PY" ]; then
	"$PY" "$T/fg.py" "$d/pid" "$MCPCTL" -s "$SOCK" top -d 0.3
else
	sh -c 'echo $$ >"$0/pid"; exec "$MCPCTL" -s "$SOCK" top -d 0.3' "$d"
fi
echo "rc=$?" >"$d/rc"
stty -g >"$d/after"
SH
export SOCK PY T
# live NAME [ROWS COLS]: start a session in $T/NAME; keys go to fd 7 (NAME's FIFO).
live() {
	mkdir -p "$T/$1"
	mkfifo "$T/$1/keys"
	exec 7<>"$T/$1/keys"
	spawn "$1" script -qfec "sh $T/tty.sh $T/$1 ${2:-} ${3:-}" "$T/$1/typescript" <"$T/$1/keys"
}
screen_has() { grep -qE -- "$2" "$T/$1/typescript"; }
# restored NAME: the session ended with rc=0, the terminal settings as before, the main screen and the cursor back.
restored() {
	local s ts
	wait_until 30 test -s "$T/$1/rc" || { not_ok "$1: top ends" "$(cat -v "$T/$1/typescript" | tail -n 5)"; return; }
	is "$(cat "$T/$1/rc")" rc=0 "$1: top exits 0"
	is "$(cat "$T/$1/after")" "$(cat "$T/$1/before")" "$1: the terminal's settings are restored (echo, line editing)"
	ts=$(cat "$T/$1/typescript")
	s=${ts##*$'\e[?1049l'}
	if [[ $ts == *$'\e[?1049h'* && $ts == *$'\e[?1049l'* && $s != *$'\e[?1049h'* && ${ts##*$'\e[?25l'} == *$'\e[?25h'* ]]; then
		ok "$1: it left the alternate screen and showed the cursor again"
	else
		not_ok "$1: screen restored" "$(printf '%s' "$ts" | cat -v | tail -c 400)"
	fi
}

live keys
if wait_until 30 screen_has keys 'NAME +STATE +REQ/S'; then
	ok "on a terminal, top draws its table"
else
	not_ok "top draws on a pty" "$(cat -v "$T/keys/typescript")"
fi
like "$(cat "$T/keys/typescript")" $'\e\\[\\?1049h' "on the alternate screen"
printf n >&7
wait_until 30 screen_has keys 'sort: name' && ok "the key n sorts by name" || not_ok "key n" "$(cat -v "$T/keys/typescript" | tail -n 3)"
printf '<' >&7
wait_until 30 screen_has keys 'sort: restarts' && ok "< steps to the sort column on the left (from name: around to restarts)" ||
	not_ok "key <" "$(cat -v "$T/keys/typescript" | tail -n 3)"
# ^Z: the terminal back while stopped, the view again once continued.
alt_screens() { grep -o $'\e\\[?1049h' "$T/keys/typescript" | wc -l; }
n=$(alt_screens)
[[ -n $PY ]] || skip "SIGTSTP stops top" "python3 is missing (to run top as a job of its own)"
[[ -n $PY ]] && kill -TSTP "$(cat "$T/keys/pid")"
if [[ -z $PY ]]; then
	:
elif wait_until 30 eval '[[ $(_proc_state $(cat "$T/keys/pid")) == T ]]'; then
	ts=$(cat "$T/keys/typescript")
	[[ ${ts##*$'\e[?1049h'} == *$'\e[?1049l'* ]] && ok "SIGTSTP: top leaves the alternate screen and stops" ||
		not_ok "SIGTSTP leaves the screen" "$(printf '%s' "$ts" | cat -v | tail -c 300)"
else
	not_ok "SIGTSTP stops top" "state $(_proc_state "$(cat "$T/keys/pid")")"
fi
if [[ -n $PY ]]; then
	kill -CONT "$(cat "$T/keys/pid")"
	wait_until 30 eval '(($(alt_screens) > n))' && ok "SIGCONT: it takes the screen again" || not_ok "SIGCONT" "$(cat -v "$T/keys/typescript" | tail -c 300)"
fi
printf q >&7
restored keys
exec 7>&-
stop_spawned keys

# A terminal of 4 rows shows the summary, the header and two servers; made taller, all three.
live small 4 80
if wait_until 30 screen_has small 'NAME +STATE'; then
	ok "top draws in a 4-row terminal"
else
	not_ok "small terminal" "$(cat -v "$T/small/typescript")"
fi
printf n >&7
# The last frame sorted by name (each frame is one write): alpha and mid fit, zbusy does not.
_last_frame_has() { local f; f=$(cat "$T/small/typescript"); f=${f##*sort: name}; [[ $f == *"$1"* ]]; }
wait_until 30 _last_frame_has mid || not_ok "small: key n" "$(cat -v "$T/small/typescript" | tail -n 3)"
frame=$(cat "$T/small/typescript")
frame=${frame##*sort: name}
if [[ $frame == *mid* && $frame != *zbusy* ]]; then
	ok "only the rows that fit are drawn"
else
	not_ok "rows that fit" "$(cat -v "$T/small/typescript" | tail -n 5)"
fi
stty -F "$(cat "$T/small/tty")" rows 10 cols 80
wait_until 30 screen_has small zbusy && ok "SIGWINCH: a taller terminal shows every row" || not_ok "SIGWINCH" "$(cat -v "$T/small/typescript" | tail -n 5)"
kill -TERM "$(cat "$T/small/pid")"
restored small
exec 7>&-
stop_spawned small

# mcpd goes away: on a terminal top says so and keeps trying; without one it exits 1.
live gone
wait_until 30 screen_has gone 'NAME +STATE' || not_ok "gone: top draws" "$(cat -v "$T/gone/typescript")"
spawn plain2 "$MCPCTL" -s "$SOCK" top -d 0.2
wait_until 30 grep -q 'health: ' "$T/plain2.out" || not_ok "plain2 prints a frame" "$(cat "$T/plain2.err")"
stop_spawned mcpd
wait_until 30 eval '! alive $pid_plain2' && ok "without a terminal, top ends when mcpd goes away" || not_ok "plain top ends without mcpd"
wait "$pid_plain2"
is "$?" 1 "with exit status 1"
like "$(cat "$T/plain2.err")" 'mcpd' "and says why on stderr" || diag "$(cat "$T/plain2.err")"
wait_until 30 screen_has gone 'mcpd unreachable \(trying again every 0.3s\): cannot reach mcpd' && ok "on a terminal, top says mcpd is unreachable and keeps trying" ||
	not_ok "gone: unreachable" "$(cat -v "$T/gone/typescript" | tail -n 3)"
printf q >&7
restored gone
exec 7>&-
stop_spawned gone
for s in keys small gone; do
	p=$(cat "$T/$s/pid" 2>/dev/null) && alive "$p" && { not_ok "$s: mcpctl top is still running"; kill -KILL "$p"; }
done

done_testing
