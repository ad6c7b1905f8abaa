#!/bin/bash
# attack-replicas (issue 17): a hostile client and misbehaving replicas
# against replicas: N and the relay's write path. Every request gets exactly
# one answer, no session stays on a dead replica while another one runs,
# status stays valid JSON, mcpd stays up without a sanitizer report.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

CLIENT=$top_srcdir/tests/integration/attack-replicas-client.py
write_manifest() { # write_manifest PORT REPLICAS
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
defaults:
  backoff: { initial: 100ms, jitter: 0 }
servers:
  web:
    command: [sh, -c, 'exec "\$0" --name "web\$MCPD_REPLICA" --whoami-tool', $EXAMPLE]
    replicas: ${2:-4}
YAML
}
start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }
for k in 1 2 3 4; do wait_state 60 "web#$k" running || not_ok "web#$k running" "$(ctl status)"; done

# ---- ids of every JSON type, written one byte at a time, notifications between.
python3 "$CLIENT" "$MCPCTL" "$SOCK" web ids "$T/ids.out"
is "$(grep -c $'\tpresent$' "$T/ids.out")/$(grep -c . "$T/ids.out")" 10/11 \
	"ids of every type, one byte per write: each answered with its own id" || diag "$(cat "$T/ids.out")"
like "$(tail -n 1 "$T/ids.out")" $'^answers\t10$' "and nothing else answered"

# ---- every replica killed at once during a pipelined burst of 1000 calls.
python3 "$CLIENT" "$MCPCTL" "$SOCK" web burst:1000 "$T/burst.out" &
burst=$!
_sent() { [[ -s $T/burst.out ]]; }
wait_until 30 _sent
for k in 1 2 3 4; do kill -KILL "$(field_of "web#$k" pid)" 2>/dev/null; done
_burst_done() { ! alive "$burst"; }
wait_until 180 _burst_done || kill "$burst"
wait "$burst"
n=$(grep -cE '^[0-9]+ (result|error)$' "$T/burst.out")
u=$(grep -E '^[0-9]+ ' "$T/burst.out" | cut -d' ' -f1 | sort -u | wc -l)
is "$n/$u" 1000/1000 "all replicas killed in a burst of 1000: every call answered exactly once" ||
	diag "$(tail -n 3 "$T/burst.out")"
for k in 1 2 3 4; do wait_state 60 "web#$k" running || not_ok "web#$k running again" "$(ctl status)"; done

# ---- reload 4 -> 2 while sessions are on every replica: those of web#3 and web#4 move.
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
declare -A fd
open_client() {
	mkfifo "$T/f$1"
	exec {fd[$1]}<>"$T/f$1"
	spawn "c$1" "$MCPCTL" -s "$SOCK" connect web <"$T/f$1"
	printf '%s\n' "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&"${fd[$1]}"
}
_answered() { grep -q "\"id\":$2," "$T/c$1.out"; }
call() {
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"whoami","arguments":{}}}\n' "$2" >&"${fd[$1]}"
	wait_until 60 _answered "$1" "$2"
	grep "\"id\":$2," "$T/c$1.out" | grep -oE '"text":"web[0-9]+"' | cut -d'"' -f4
}
for n in 1 2 3 4 5 6 7 8; do open_client "$n"; wait_until 30 _answered "$n" 0 || not_ok "client $n initialized"; done
for n in 1 2 3 4 5 6 7 8; do call "$n" 1 >/dev/null; done
write_manifest "$port" 2
ctl reload >/dev/null
_two_left() { [[ $(ctl status | awk 'NR > 2 && /^web/' | wc -l) == 2 ]]; }
wait_until 60 _two_left || not_ok "reload to 2 replicas" "$(ctl status)"
all=1
for n in 1 2 3 4 5 6 7 8; do
	w=$(call "$n" 2)
	[[ $w == web1 || $w == web2 ]] || { all=0; diag "client $n: ${w:-no answer}: $(tail -n 2 "$T/c$n.out")"; }
done
is "$all" 1 "reload 4 -> 2: every session's next call is answered, by web#1 or web#2"
write_manifest "$port" 4
ctl reload >/dev/null
for k in 1 2 3 4; do wait_state 60 "web#$k" running || not_ok "web#$k after 1 -> 4" "$(ctl status)"; done
all=1
for n in 1 2 3 4 5 6 7 8; do
	w=$(call "$n" 3)
	[[ $w == web* ]] || { all=0; diag "client $n: ${w:-no answer}: $(tail -n 2 "$T/c$n.out")"; }
done
is "$all" 1 "reload 2 -> 4: every session's next call is answered"

# ---- every replica stopped, then one started: the sessions left on a stopped one come to it.
for k in 2 3 4; do ctl stop "web#$k" >/dev/null; wait_state 60 "web#$k" stopped || not_ok "web#$k stopped"; done
ctl stop web#1 >/dev/null
wait_state 60 web#1 stopped || not_ok "web#1 stopped"
ctl start web#3 >/dev/null
wait_state 60 web#3 running || not_ok "web#3 running again" "$(ctl status)"
all=1
for n in 1 2 3 4 5 6 7 8; do
	w=$(call "$n" 4)
	[[ $w == web3 ]] || { all=0; diag "client $n: ${w:-no answer}: $(tail -n 1 "$T/c$n.out")"; }
done
is "$all" 1 "all replicas stopped, web#3 started: every session's next call is answered by web#3"
for k in 1 2 4; do ctl start "web#$k" >/dev/null; done

# ---- --json status during churn is valid JSON.
bad=0
for i in 1 2 3 4 5 6; do
	write_manifest "$port" $(( i % 2 ? 2 : 3 ))
	ctl reload >/dev/null
	kill -KILL "$(field_of web#1 pid)" 2>/dev/null
	ctl --json status | python3 -m json.tool >/dev/null 2>&1 || bad=$((bad + 1))
done
is "$bad" 0 "--json status during reloads and restarts is always valid JSON"

for n in 1 2 3 4 5 6 7 8; do stop_spawned "c$n"; done
_alive() { ctl status >/dev/null 2>&1; }
check "mcpd is still up" _alive
if grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err"; then
	not_ok "no sanitizer report" "$(grep -E -A 20 'AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err" | head -n 40)"
else
	ok "no sanitizer report"
fi
done_testing
