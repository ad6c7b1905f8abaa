#!/bin/bash
# replicas: N (issue 17): N processes of one stdio server, each supervised on
# its own, shown and addressed as NAME#K, balanced by mcpctl connect and the
# gateway; a replica that goes away takes no client session with it.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# Manifest errors: the range, and an http server (mcpd starts no process of it).
cat >"$T/bad.yaml" <<YAML
version: 1
servers:
  a:
    command: [$EXAMPLE]
    replicas: 0
  b:
    command: [$EXAMPLE]
    replicas: 65
  c:
    transport: http
    url: http://127.0.0.1:1/mcp
    replicas: 2
YAML
out=$("$MCPCTL" check "$T/bad.yaml" 2>&1)
like "$out" 'bad.yaml:5:[0-9]+: servers.a.replicas: 0 is out of range \(1 to 64\)' "replicas: 0 is a manifest error, with its line"
like "$out" 'bad.yaml:8:[0-9]+: servers.b.replicas: 65 is out of range \(1 to 64\)' "replicas: 65 is one too"
like "$out" 'bad.yaml:12:[0-9]+: servers.c.replicas: replicas needs a stdio server' \
	"replicas: 2 on an http server is one, saying why"

# Each replica answers whoami with the MCPD_REPLICA mcpd gave it: web1, web2, ...
write_manifest() { # write_manifest PORT REPLICAS [VERSION]
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  web:
    command: [sh, -c, 'exec "\$0" --name "web\$MCPD_REPLICA" --whoami-tool --log-requests', $EXAMPLE]
    replicas: ${2:-2}
    env: { VERSION: "${3:-1}" }
  one:
    command: [$EXAMPLE, --name, one]
YAML
}
start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
wait_state 60 web#1 running || not_ok "web#1 running" "$(ctl status)"
wait_state 60 web#2 running || not_ok "web#2 running" "$(ctl status)"
wait_state 60 one running || not_ok "one running" "$(ctl status)"

out=$(ctl status)
is "$(awk 'NR > 2 && !/^ / { print $1 "=" $2 }' <<<"$out" | paste -sd' ')" "web#1=running web#2=running one=running" \
	"status shows one row per replica, web#1 then web#2; an unreplicated server keeps its name"
json=$(ctl --json status web | tr -d ' \n')
like "$json" '"name":"web#2","server":"web","replica":2,' "--json status: name web#2, server web, replica 2"
json=$(ctl --json status one | tr -d ' \n')
if [[ $json == *'"replica"'* ]]; then not_ok "an unreplicated server has no replica field" "$json"; else ok "an unreplicated server has no replica field"; fi

pid1=$(field_of web#1 pid)
pid2=$(field_of web#2 pid)
is "$(tr '\0' '\n' <"/proc/$pid2/environ" | grep -E '^MCPD_REPLICAS?=' | sort | paste -sd' ')" "MCPD_REPLICA=2 MCPD_REPLICAS=2" \
	"web#2's process has MCPD_REPLICA=2 and MCPD_REPLICAS=2 in its environment"
grep -qx 'MCPD_REPLICA=1' <(tr '\0' '\n' <"/proc/$pid1/environ") && ok "web#1's has MCPD_REPLICA=1" || not_ok "web#1's has MCPD_REPLICA=1"
if tr '\0' '\n' <"/proc/$(field_of one pid)/environ" | grep -q '^MCPD_REPLICA'; then
	not_ok "an unreplicated server's process has no MCPD_REPLICA"
else
	ok "an unreplicated server's process has no MCPD_REPLICA"
fi

metrics=$(curl -s --max-time 10 "http://127.0.0.1:$port/metrics")
like "$metrics" $'\nmcpd_server_up\\{server="web",replica="2"\\} 1' "metrics: a replica's series carry server=\"web\",replica=\"2\""
like "$metrics" $'\nmcpd_server_up\\{server="one"\\} 1' "an unreplicated server's series are unchanged"
like "$(curl -s --max-time 10 "http://127.0.0.1:$port/health")" '"name":"web#2","server":"web","replica":2,' \
	"/health has an entry per replica, with server and replica"

out=$(ctl restart web#3 2>&1)
like "$out" 'no server named "web#3": web has 2 replicas' "an unknown NAME#K names how many replicas NAME has"

# ---- mcpctl connect: each connection is placed on the least loaded running replica, and stays.
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
declare -A fd
open_client() { # open_client N: a connect session fed from fd 10+N, writing $T/cN.out
	mkfifo "$T/f$1"
	exec {fd[$1]}<>"$T/f$1"
	spawn "c$1" "$MCPCTL" -s "$SOCK" connect web <"$T/f$1"
	printf '%s\n' "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&"${fd[$1]}"
}
_answered() { grep -q "\"id\":$2," "$T/c$1.out"; }
call() { # call N ID TOOL [ARGS]: the answer's line
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}\n' "$2" "$3" "${4:-{\}}" >&"${fd[$1]}"
	wait_until 60 _answered "$1" "$2"
	grep "\"id\":$2," "$T/c$1.out"
}
whoami() { # whoami N ID: the replica that answered
	call "$1" "$2" whoami | grep -oE '"text":"web[0-9]+"' | cut -d'"' -f4
}
for n in 1 2 3 4; do
	open_client "$n"
	wait_until 30 _answered "$n" 0 || not_ok "client $n initialized"
done
declare -A on
for n in 1 2 3 4; do on[$n]=$(whoami "$n" 1); done
is "$(printf '%s\n' "${on[@]}" | sort | uniq -c | awk '{print $1 $2}' | paste -sd' ')" "2web1 2web2" \
	"4 connect sessions on 2 replicas: 2 on each"
same=1
for n in 1 2 3 4; do [[ $(whoami "$n" 2) == "${on[$n]}" ]] || same=0; done
is "$same" 1 "each connect session stays on its replica"

# ---- kill -9 one replica: its sessions move to the other, which no other session notices.
kill -KILL "$pid2"
wait_log 60 'web#2: 2 client sessions moved to web#1' || not_ok "the move is logged once" "$(mcpd_log | tail -n 5)"
ok_all=1
for n in 1 2 3 4; do
	w=$(whoami "$n" 3)
	[[ $w == web1 ]] || { ok_all=0; diag "client $n: ${w:-no answer}: $(tail -n 2 "$T/c$n.out")"; }
done
is "$ok_all" 1 "after kill -9 of web#2 every session's next call succeeds, on web#1"
errors=$(cat "$T"/c[1-4].out | grep -c '"error"')
is "$errors" 0 "no client saw an error: their sessions moved while idle"
_restarted() { [[ $(state_of web#2) == running && $(field_of web#2 pid) != "$pid2" ]]; }
wait_until 60 _restarted && ok "the killed replica is restarted on its own" || not_ok "web#2 restarted" "$(ctl status web)"
is "$(field_of web#1 pid)" "$pid1" "web#1 was not touched"

# A call in flight on a replica that dies gets an error; its session goes on, on the other replica.
open_client 5
wait_until 30 _answered 5 0
is "$(whoami 5 1)" web2 "a new session goes to the least loaded replica (web#2, with none)"
# Its subscription and log level are the session's: they follow it to the other replica.
printf '%s\n' '{"jsonrpc":"2.0","id":20,"method":"resources/subscribe","params":{"uri":"test://moved"}}' \
	'{"jsonrpc":"2.0","id":21,"method":"logging/setLevel","params":{"level":"debug"}}' >&"${fd[5]}"
wait_until 30 _answered 5 21 || diag "no answer to setLevel: $(tail -n 2 "$T/c5.out")"
printf '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":60000}}}\n' >&"${fd[5]}"
_sleeping() { ctl logs web#2 | grep -q 'sleeping 60000'; }
wait_until 30 _sleeping || diag "no sleep seen in web#2's log"
pid2=$(field_of web#2 pid)
kill -KILL "$pid2"
wait_until 60 _answered 5 2
like "$(grep '"id":2,' "$T/c5.out")" '"id":2,"error":\{"code":-31000,"message":"server \\"web#2\\"' \
	"a call in flight on the killed replica is answered with an error"
is "$(whoami 5 3)" web1 "and the session's next call works, on web#1"
_renewed() { ctl logs web#1 | grep -q 'resources/subscribe.*test://moved'; }
wait_until 30 _renewed && ok "the moved session's subscription is renewed on web#1" || not_ok "subscription renewed" "$(ctl logs web#1 | tail -n 5)"
like "$(ctl logs web#1)" 'logging/setLevel.*"level":"debug"' "and its log level"
like "$(cat "$T/c5.out")" 'notifications/tools/list_changed' "its client is told as after a restart"
wait_until 60 _restarted || not_ok "web#2 restarted again" "$(ctl status web)"

# ---- restart NAME#K restarts that replica only.
pid1=$(field_of web#1 pid)
pid2=$(field_of web#2 pid)
ctl restart web#2 >/dev/null
wait_until 60 _restarted && ok "restart web#2 restarts web#2" || not_ok "restart web#2" "$(ctl status web)"
is "$(field_of web#1 pid)" "$pid1" "and not web#1"

# ---- logs: every replica's lines, each led by its NAME#K.
out=$(ctl logs web)
like "$out" 'web#1: ' "logs web shows web#1's lines"
like "$out" 'web#2: ' "and web#2's, merged"
spawn follow "$MCPCTL" -s "$SOCK" logs -f -n 0 web
_follows() { grep -q 'web#1: .*"method":"ping"' "$T/follow.out" && grep -q 'web#2: .*"method":"ping"' "$T/follow.out"; }
_ping_both() {
	local n
	for n in 1 2; do
		printf '%s\n' '{"jsonrpc":"2.0","id":77,"method":"ping"}' | timeout 10 "$MCPCTL" -s "$SOCK" connect "web#$n" >/dev/null
	done
	_follows
}
wait_until 30 _ping_both && ok "logs -f web follows every replica, each line led by its NAME#K" ||
	not_ok "logs -f web" "$(cat "$T/follow.out")"
stop_spawned follow

for n in 1 2 3 4 5; do stop_spawned "c$n"; done

# ---- the gateway: a 2025-era session sticks, 2026-07-28 requests are spread.
post() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -d "$1" "${@:2}"
}
is "$(post "$init" "$url/web")" 200 "gateway: initialize on /mcp/web"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
: >"$T/sticky"
for i in $(seq 1 10); do
	post '{"jsonrpc":"2.0","id":'"$i"',"method":"tools/call","params":{"name":"whoami","arguments":{}}}' \
		-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18' "$url/web" >/dev/null
	grep -oE 'web[0-9]+' "$T/body" | head -n 1 >>"$T/sticky"
done
is "$(sort -u "$T/sticky" | wc -l)/$(wc -l <"$T/sticky")" 1/10 "a 2025-era gateway session: 10 calls, one replica"
# Ended, so that both replicas have no session: the fewest sessions, ties taken in turn.
curl -s -o /dev/null --max-time 10 -X DELETE -H "Mcp-Session-Id: $sid" "$url/web"
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
: >"$T/spread"
for i in $(seq 1 20); do
	post '{"jsonrpc":"2.0","id":'"$i"',"method":"tools/call","params":{"name":"whoami","arguments":{},'"$META"'}}' \
		-H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: whoami' "$url/web" >/dev/null
	grep -oE 'web[0-9]+' "$T/body" | head -n 1 >>"$T/spread"
done
is "$(wc -l <"$T/spread")" 20 "20 requests of 2026-07-28 are answered"
is "$(sort -u "$T/spread" | wc -l)" 2 "by both replicas: each request is placed on its own"

# ---- the aggregate endpoint: one backend per entry, its tools listed once.
out=$(printf '%s\n' "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	'{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | timeout 60 "$MCPCTL" -s "$SOCK" connect)
is "$(grep -o '"name":"web__whoami"' <<<"$out" | wc -l)" 1 "aggregate: a replicated server's tools are listed once"

# ---- reload of a changed replicated server: a rolling restart, one replica at a time.
pid1=$(field_of web#1 pid)
pid2=$(field_of web#2 pid)
write_manifest "$port" 2 2
ctl reload >/dev/null
_rolled() { [[ $(state_of web#1) == running && $(state_of web#2) == running && $(field_of web#1 pid) != "$pid1" &&
	$(field_of web#2 pid) != "$pid2" ]]; }
wait_until 60 _rolled && ok "reload restarts both replicas of a changed server" || not_ok "both restarted" "$(ctl status web)"
order=$(mcpd_log | grep -nE 'web#1: running \(was starting\)|web#2: stopping: configuration changed' | tail -n 2 | cut -d: -f2- |
	sed -E 's/.*(web#[12]: (running|stopping)).*/\1/' | paste -sd' ')
is "$order" "web#1: running web#2: stopping" "one at a time: web#2 is stopped once web#1 runs again"
like "$(tr '\0' '\n' <"/proc/$(field_of web#2 pid)/environ")" 'VERSION=2' "with the new configuration"

# ---- reload: 2 -> 3 starts web#3 only; 3 -> 1 makes web an unreplicated server again.
write_manifest "$port" 3 2
out=$(ctl reload --dry-run)
like "$out" 'replicas: web: 2 -> 3 replicas' "reload --dry-run names the replica count change"
pid1=$(field_of web#1 pid)
pid2=$(field_of web#2 pid)
ctl reload >/dev/null
wait_state 60 web#3 running && ok "reload 2 -> 3 starts web#3" || not_ok "web#3 running" "$(ctl status)"
is "$(field_of web#1 pid) $(field_of web#2 pid)" "$pid1 $pid2" "without touching web#1 and web#2"
like "$(tr '\0' '\n' <"/proc/$(field_of web#3 pid)/environ")" 'MCPD_REPLICA=3' "web#3 has MCPD_REPLICA=3"
write_manifest "$port" 1 2
ctl reload >/dev/null
_single() { [[ $(state_of web) == running ]] && ! ctl status | grep -q '^web#'; }
wait_until 60 _single && ok "reload 3 -> 1: web runs unreplicated, its replicas are gone" || not_ok "web unreplicated" "$(ctl status)"

stop_mcpd

# ---- a critical server with one replica down and one running: degraded, and still ready.
write_critical() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
servers:
  half:
    command: [sh, -c, 'test "\$MCPD_REPLICA" = 1 || exit 3; exec "\$0"', $EXAMPLE]
    replicas: 2
    critical: true
    restart: never
YAML
}
start_mcpd_on_free_port write_critical || { done_testing; exit 1; }
wait_state 60 half#1 running || not_ok "half#1 running" "$(ctl status)"
wait_state 60 half#2 exited || not_ok "half#2 exited" "$(ctl status)"
like "$(ctl status)" '^health: degraded' "a critical server with a replica down and one running is degraded, not critical"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/readyz")" 200 "and /readyz answers ready"
ctl stop half#1 >/dev/null
wait_state 60 half#1 stopped
like "$(ctl status)" '^health: critical' "with none running it is critical"
stop_mcpd
done_testing
