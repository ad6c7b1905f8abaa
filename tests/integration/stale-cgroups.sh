#!/bin/bash
# Stale cgroups: an mcpd killed with SIGKILL (and its guard with it) leaves its
# mcpd-PID cgroup and its servers' below it. The next mcpd removes the empty
# ones of pids that are no live mcpd, with one log line and the count; leaves
# those that still hold processes (orphans), logged with their count; leaves
# a live mcpd's, and directories not named like mcpd's.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  one:
    command: [$EXAMPLE, --name, one]
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 30 one running || not_ok "one running" "$(ctl status)"
base=$(sed -n 's/.*children: one cgroup v2 per server under \(.*\)$/\1/p' "$T/mcpd.err" | head -n 1)
if [[ -z $base || $base != */mcpd-* || ! -d $base ]]; then
	skip "stale cgroups" "mcpd makes no mcpd-PID cgroups here (not root, or no writable cgroup2): $(grep children: "$T/mcpd.err")"
	done_testing
	exit 0
fi
parent=${base%/*}
# Pids that are surely no process: above the current ones, below pid_max.
max=$(cat /proc/sys/kernel/pid_max)
gone1=$((max - 3)) gone2=$((max - 5)) gone3=$((max - 7))
for p in $gone1 $gone2 $gone3; do
	kill -0 "$p" 2>/dev/null && { skip "stale cgroups" "pid $p is in use"; done_testing; exit 0; }
done
stale=$parent/mcpd-$gone1 busy=$parent/mcpd-$gone2 other=$parent/mcpd-x$gone3 nsdir=$parent/mcpd-$gone3-ns1
cleanup_dirs() {
	local d
	for d in "$busy/s1/inner" "$busy/s1" "$busy" "$stale/s2/deep" "$stale/s2" "$stale/s1" "$stale" "$other" "$nsdir/s1" "$nsdir"; do
		[[ -d $d ]] && rmdir "$d" 2>/dev/null
	done
	return 0
}
# A killed mcpd's tree: its server cgroups, one with a cgroup of its own below.
mkdir -p "$stale/s1" "$stale/s2/deep" "$busy/s1/inner" "$other" "$nsdir/s1"
# An orphan of a killed mcpd, still in its server's cgroup.
spawn orphan sleep 1000
orphan=$(pgrep -f -n '^sleep 1000$')
echo "$orphan" >"$busy/s1/inner/cgroup.procs" || not_ok "the orphan joins its cgroup"

# A second mcpd starts: it sweeps beside its own cgroup.
spawn second "$MCPD" -c "$T/m.yaml" -s "$T/second.sock"
_second_up() { "$MCPCTL" -s "$T/second.sock" status >/dev/null 2>&1; }
wait_until 30 _second_up || not_ok "the second mcpd starts" "$(cat "$T/second.err")"

[[ ! -e $stale ]] && ok "a gone mcpd's empty cgroups are removed, nested ones too" ||
	not_ok "a gone mcpd's empty cgroups are removed" "$(find "$stale" -type d)"
like "$(cat "$T/second.err")" "children: removed 1 empty cgroup of mcpd processes that are gone, under $parent" \
	"one log line with the count"
[[ -d $base && -d $base/one ]] && ok "the live mcpd's cgroups are left" || not_ok "the live mcpd's cgroups are left"
[[ -d $busy/s1/inner ]] && ok "a tree that still holds a process is left" || not_ok "a tree that still holds a process is left"
like "$(cat "$T/second.err")" "children: 1 cgroup of gone mcpd processes under $parent \\(mcpd-$gone2\\) still hold processes" \
	"and logged with its count"
[[ -d $other ]] && ok "a directory not named mcpd-PID is left" || not_ok "a directory not named mcpd-PID is left"
[[ -d $nsdir ]] && ok "one of another PID namespace is left" || not_ok "one of another PID namespace is left"
check "the live mcpd still answers" ctl status
is "$(state_of one)" running "and its server still runs"

stop_spawned second
stop_spawned orphan
wait_until 30 eval '! grep -q "populated 1" "$busy/cgroup.events"' || not_ok "the orphan's cgroup empties"
cleanup_dirs
done_testing
