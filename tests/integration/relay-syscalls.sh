#!/bin/bash
# The relay's cost in system calls (issue 17): 1000 sequential tools/call
# through `mcpctl connect`, counted with strace -c on mcpd and on mcpctl.
# A relayed request needs a read and a write each way and a wait for each of
# the two messages: about 6 calls in mcpd (no epoll_ctl: a write watcher is
# armed only when a write is short) and 6 in mcpctl (one poll per message).
# Counts, not times; skipped without strace.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

N=1000

if ! command -v strace >/dev/null; then
	skip "syscalls per relayed request" "strace is not installed"
	done_testing
	exit 0
fi

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, relay-syscalls-ex]
    # No probe during the count.
    health: { interval: 1h }
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"

_attached() {
	grep -q "attached" "$T/strace_mcpd.err"
}

# calls FILE SYSCALL: how many times strace -c counted SYSCALL (0 when it was not made).
calls() {
	awk -v s="$2" '$NF == s && $4 ~ /^[0-9]+$/ { print $4; found = 1 } END { if (!found) print 0 }' "$1"
}
total() {
	awk '$NF == "total" { print $4 }' "$1"
}

# Session set up first (initialize), then mcpd is traced for the N calls only.
coproc RELAY { strace -f -c -o "$T/mcpctl.strace" "$MCPCTL" -s "$SOCK" connect ex 2>"$T/relay.err"; }
echo '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}' >&"${RELAY[1]}"
read -r -t 60 line <&"${RELAY[0]}"
like "$line" '"id":0,"result"' "the session is initialized"
spawn strace_mcpd strace -f -c -o "$T/mcpd.strace" -p "$pid_mcpd"
wait_until 30 _attached || not_ok "strace attaches to mcpd" "$(cat "$T/strace_mcpd.err")"
answered=0
for ((i = 1; i <= N; i++)); do
	printf '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}\n' "$i" >&"${RELAY[1]}"
	read -r -t 60 line <&"${RELAY[0]}" || break
	[[ $line == *"\"id\":$i,"* ]] && answered=$((answered + 1))
done
is "$answered" "$N" "$N sequential calls are answered, each with its id"
stop_spawned strace_mcpd
exec {RELAY[1]}>&-
wait "$RELAY_PID" 2>/dev/null

mcpd_ctl=$(calls "$T/mcpd.strace" epoll_ctl)
mcpd_total=$(total "$T/mcpd.strace")
diag "mcpd over $N calls: $mcpd_total system calls, $mcpd_ctl epoll_ctl"
check "mcpd arms no watcher per relayed request (epoll_ctl: $mcpd_ctl for $N requests)" \
	test "$mcpd_ctl" -lt $((N / 10))
check "mcpd makes at most 8 system calls per relayed request ($mcpd_total for $N)" \
	test "${mcpd_total:-999999}" -le $((8 * N))
ctl_poll=$(calls "$T/mcpctl.strace" poll)
ctl_total=$(total "$T/mcpctl.strace")
diag "mcpctl over $N calls and the session's set-up: $ctl_total system calls, $ctl_poll poll"
check "mcpctl connect polls once per message each way ($ctl_poll polls for $N requests)" \
	test "$ctl_poll" -le $((2 * N + 50))
check "mcpctl connect makes at most 7 system calls per relayed request ($ctl_total for $N, its start-up included)" \
	test "${ctl_total:-999999}" -le $((7 * N))

stop_mcpd
no_leftovers "relay-syscalls-ex" "no process is left behind"
done_testing
