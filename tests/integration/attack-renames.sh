#!/bin/bash
# attack-renames: held approvals and logs -f followers across repeated reloads
# between 1 and N replicas (1 -> 3 -> 1 -> 2 -> 1 -> 3), clients leaving while
# their calls are held, approve/deny racing a reload, followers that never
# read: mcpd stays up, every call is answered once, no sanitizer report.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

write_manifest() { # write_manifest PORT REPLICAS
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  web:
    command: [sh, -c, 'exec "\$0" --name "web\$MCPD_REPLICA" --whoami-tool --log-requests', $EXAMPLE]
    replicas: ${2:-1}
    approval: [whoami]
YAML
}
port_now=0
start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }
port_now=$port
wait_state 60 web running || not_ok "web running" "$(ctl status)"

init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
declare -A fd
open_client() { # open_client N [SERVER]
	mkfifo "$T/f$1"
	exec {fd[$1]}<>"$T/f$1"
	spawn "c$1" "$MCPCTL" -s "$SOCK" connect "${2:-web}" <"$T/f$1"
	printf '%s\n' "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&"${fd[$1]}"
}
_answered() { grep -q "\"id\":$2," "$T/c$1.out"; }
send() { printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":{}}}\n' "$2" "$3" >&"${fd[$1]}"; }
held() { ctl --json approvals 2>/dev/null | jq -r '.approvals[] | "\(.id) \(.server)"' | sort -k2; }
_held_n() { [[ $(held | wc -l) -eq $1 ]]; }
reload_to() { # reload_to N
	write_manifest "$port_now" "$1"
	ctl reload >/dev/null
}
_running_n() { [[ $(ctl status 2>/dev/null | grep -c ' running ') -eq $1 ]]; }

# Followers: one that reads, five that never read (stdout a FIFO nobody reads).
spawn fol "$MCPCTL" -s "$SOCK" logs -f web
for k in 1 2 3 4 5; do
	mkfifo "$T/stuck$k"
	exec {sfd}<>"$T/stuck$k"
	spawn "stuck$k" "$MCPCTL" -s "$SOCK" logs -f web >"$T/stuck$k"
	eval "stuck_in$k=$sfd"
	ln -sf /dev/null "$T/dummy$k"
done

for n in 1 2 3 4; do
	open_client "$n"
	wait_until 30 _answered "$n" 0 || not_ok "client $n initialized"
done
for n in 1 2 3 4; do send "$n" 1 whoami; done
wait_until 30 _held_n 4 || not_ok "four calls held" "$(held)"

rounds=(3 1 2 1 3 1)
i=0
for r in "${rounds[@]}"; do
	i=$((i + 1))
	reload_to "$r"
	# Race: approve/deny whatever is held right after the reload was asked for.
	case $i in
	2) read -r a _ < <(held | head -n 1); [[ -n ${a:-} ]] && ctl approve "$a" >/dev/null 2>&1 ;;
	3) stop_spawned c2 ;;
	4) read -r a _ < <(held | tail -n 1); [[ -n ${a:-} ]] && ctl deny "$a" --reason race >/dev/null 2>&1 ;;
	esac
	wait_until 60 _running_n "$r" || not_ok "round $i: $r replicas running" "$(ctl status)"
	# New held calls on every round, on replicas too.
	send 1 $((10 + i)) whoami
	if ((r > 1)); then
		open_client $((20 + i)) "web#$r"
		wait_until 30 _answered $((20 + i)) 0 || not_ok "client $((20 + i)) initialized"
		send $((20 + i)) 1 whoami
	fi
done
diag "held at the end: $(held | paste -sd, -)"
# Decide everything that is still held.
while read -r a _; do ctl approve "$a" >/dev/null 2>&1; done < <(held)
wait_until 30 _held_n 0 || not_ok "nothing held after approving all" "$(held)"
for n in 1 3 4; do
	wait_until 30 _answered "$n" 1 || not_ok "client $n: its first call answered" "$(cat "$T/c$n.out")"
	is "$(grep -c '"id":1,' "$T/c$n.out")" 1 "client $n: its first call answered exactly once"
done
for i in 1 2 3 4 5 6; do
	wait_until 30 _answered 1 $((10 + i)) || not_ok "client 1: call $((10 + i)) answered" "$(tail -n 3 "$T/c1.out")"
done
# The audit: each requested id ends once (approved, denied, withdrawn), under the name its last line gave it.
audit_bad=$(grep -oE 'approval: (requested|moved|approved|denied|withdrawn|expired) id=[0-9a-f]+ agent=[^ ]+ server=[^ ]+' \
	"$T/mcpd.err" | awk '{ sub(/^id=/, "", $3); sub(/^server=/, "", $5) }
	$2 == "requested" { if ($3 in last) print "requested twice: " $3; last[$3] = $5; next }
	!($3 in last) { print $2 " before requested: " $3; next }
	$2 == "moved" { if (last[$3] == $5) print "moved to the same name: " $3; last[$3] = $5; next }
	{ if (done[$3]++) print "decided twice: " $3; if (last[$3] != $5) print $2 " under " $5 " but last named " last[$3] ": " $3 }
	END { for (i in last) if (!done[i]) print "never decided: " i }')
diag "audit: $(grep -c "approval: requested" "$T/mcpd.err") requested, $(grep -c "approval: moved" "$T/mcpd.err") moved"
is "$audit_bad" "" "the audit: every held call requested once, decided once, under the name its last audit line gave it"
# Each held id is decided at most once.
dup=$(grep -oE 'approval: (approved|denied) id=[0-9a-f]+' "$T/mcpd.err" | awk '{print $3}' | sort | uniq -d)
is "$dup" "" "no approval id decided twice"
alive "$pid_fol" && ok "the reading follower is still there" || not_ok "reading follower alive" "$(cat "$T/fol.err")"
mcpd_within_budget "renames with held calls and followers" 400000 2000
for k in 1 2 3 4 5; do stop_spawned "stuck$k"; done
stop_spawned fol
for n in 1 3 4 21 22 23 24 25 26; do stop_spawned "c$n"; done
stop_mcpd
if grep -qE "ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer" "$T/mcpd.err"; then
	not_ok "no sanitizer report after stop" "$(grep -A 30 -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err" | head -n 40)"
else
	ok "no sanitizer report after stop"
fi
done_testing
