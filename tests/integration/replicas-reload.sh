#!/bin/bash
# replicas-reload (issue 17): a reload between 1 and N replicas keeps the
# running process (NAME becomes NAME#1 and back), so that no client session
# is lost; what a replica's clients are told says what happened to it; a
# rolling restart that meets a replica that never runs again goes on.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# Each process answers whoami with the MCPD_REPLICA it was started with: web, web1, web2...
write_manifest() { # write_manifest PORT REPLICAS [VERSION [COMMAND]]
	local cmd=${4:-'exec "$0" --name "web$MCPD_REPLICA" --whoami-tool --log-requests'}
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  web:
    command: [sh, -c, '$cmd', $EXAMPLE]
    replicas: ${2:-1}
    env: { VERSION: "${3:-1}" }
    restart: on-failure
    circuit: { failures: 2, window: 1m, cooldown: 10m }
${EXTRA:-}
YAML
}
start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
wait_state 60 web running || not_ok "web running" "$(ctl status)"
pid=$(field_of web pid)

init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
declare -A fd
open_client() { # open_client N [SERVER]: a connect session fed from a FIFO, writing $T/cN.out; SERVER -: the aggregate
	local target=${2:-web}
	mkfifo "$T/f$1"
	exec {fd[$1]}<>"$T/f$1"
	if [[ $target == - ]]; then
		spawn "c$1" "$MCPCTL" -s "$SOCK" connect <"$T/f$1"
	else
		spawn "c$1" "$MCPCTL" -s "$SOCK" connect "$target" <"$T/f$1"
	fi
	printf '%s\n' "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&"${fd[$1]}"
}
_answered() { grep -q "\"id\":$2," "$T/c$1.out"; }
send() { # send N ID TOOL [ARGS]: a tools/call, not waited for
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}\n' "$2" "$3" "${4:-{\}}" >&"${fd[$1]}"
}
answer() { # answer N ID: its answer's line
	wait_until 60 _answered "$1" "$2"
	grep "\"id\":$2," "$T/c$1.out"
}
whoami() { # whoami N ID: the process that answered
	send "$1" "$2" whoami
	answer "$1" "$2" | grep -oE '"text":"web[0-9]*"' | cut -d'"' -f4
}
post() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -d "$1" "${@:2}"
}
gw_whoami() { # gw_whoami ID: the process that answered the 2025-era gateway session's call
	post '{"jsonrpc":"2.0","id":'"$1"',"method":"tools/call","params":{"name":"whoami","arguments":{}}}' \
		-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-06-18' "$url/web" >/dev/null
	grep -oE 'web[0-9]*' "$T/body" | head -n 1
}
cgroup_of() { # cgroup_of PID: the last part of its cgroup v2 path
	sed -n 's|^0::.*/||p' "/proc/$1/cgroup"
}

for n in 1 2 3; do
	open_client "$n"
	wait_until 30 _answered "$n" 0 || not_ok "client $n initialized"
done
for n in 1 2 3; do [[ $(whoami "$n" 1) == web ]] || not_ok "client $n on web"; done
# An aggregate session (mcpctl connect without a name): its backend of web is a relay session too.
open_client 11 -
wait_until 30 _answered 11 0 || not_ok "aggregate client initialized"
agg_whoami() { # agg_whoami ID: the process that answered web__whoami through the aggregate
	send 11 "$1" web__whoami
	answer 11 "$1" | grep -oE '"text":"web[0-9]*"' | cut -d'"' -f4
}
is "$(agg_whoami 1)" web "aggregate: web__whoami is answered by web"
is "$(post "$init" "$url/web")" 200 "gateway: a 2025-era session on /mcp/web"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
is "$(gw_whoami 1)" web "its call is answered by web"
cg_before=$(cgroup_of "$pid")

# ---- reload 1 -> 3: web becomes web#1 with its process, web#2 and web#3 are started.
write_manifest "$port" 3
out=$(ctl reload --dry-run)
like "$out" 'replicas: web: 1 -> 3 replicas \(web becomes web#1, keeping its process and sessions; web#2 to web#3 are started\)' \
	"reload --dry-run says web becomes web#1 and web#2, web#3 are started"
like "$out" 'unchanged: 1' "and that nothing else changes"
if grep -qE '^(added|removed):' <<<"$out"; then not_ok "no server is added or removed" "$out"; else ok "no server is added or removed"; fi
ctl reload >/dev/null
wait_state 60 web#2 running || not_ok "web#2 running" "$(ctl status)"
wait_state 60 web#3 running || not_ok "web#3 running" "$(ctl status)"
is "$(state_of web#1) $(field_of web#1 pid)" "running $pid" "reload 1 -> 3: web#1 is web's process, still running"
is "$(ctl status | awk 'NR > 2 && /^web/ { print $1 }' | paste -sd' ')" "web#1 web#2 web#3" "status shows web#1 to web#3, no web"
all=1
for n in 1 2 3; do [[ $(whoami "$n" 2) == web ]] || all=0; done
is "$all" 1 "every mcpctl connect session goes on, on the same process"
is "$(cat "$T"/c[1-3].out | grep -c '"error"')" 0 "and no client saw an error"
is "$(gw_whoami 2)" web "the 2025-era gateway session goes on, on the same process"
is "$(agg_whoami 2)" web "the aggregate session's backend goes on, on the same process"
like "$(ctl logs web#1)" 'tools/call' "web's log lines are web#1's now"
if [[ -n $cg_before ]]; then
	is "$(cgroup_of "$pid")" 'web#1' "its processes are in a cgroup named web#1"
else
	skip "its processes are in a cgroup named web#1" "no cgroup v2 here"
fi
like "$(mcpd_log)" 'web#1: renamed from web by reload \(replicas: 3\), keeping its process' "the rename is logged"
like "$(tr '\0' '\n' <"/proc/$(field_of web#2 pid)/environ")" 'MCPD_REPLICA=2' "web#2 has MCPD_REPLICA=2"

# New sessions go to the replicas with fewer sessions than web#1.
for n in 4 5; do
	open_client "$n"
	wait_until 30 _answered "$n" 0 || not_ok "client $n initialized"
done
is "$(for n in 4 5; do whoami "$n" 1; done | sort | paste -sd' ')" "web2 web3" "new sessions go to web#2 and web#3"

# ---- wording: what a replica's clients are told says what happened to it.
open_client 7 web#2
open_client 8 web#3
wait_until 30 _answered 7 0 && wait_until 30 _answered 8 0 || not_ok "clients 7 and 8 initialized"
send 7 10 sleep '{"ms":60000}'
_sleeping2() { ctl logs web#2 | grep -q 'sleeping 60000'; }
wait_until 30 _sleeping2 || diag "no sleep seen in web#2's log"
ctl stop web#2 >/dev/null
like "$(answer 7 10)" '"message":"server \\"web#2\\" was stopped by the operator \(mcpctl stop\); this request was not answered: send it again, the session goes on on web#' \
	"a call in flight on a replica stopped by mcpctl stop: the error says so and where the session goes"
wait_log 30 'web#2: 2 client sessions moved to web#[13] \(web#2 was stopped by the operator \(mcpctl stop\)\)' &&
	ok "the move is logged with the same cause" || not_ok "the move is logged with the same cause" "$(mcpd_log | grep moved)"
ctl start web#2 >/dev/null
wait_state 60 web#2 running || not_ok "web#2 running again" "$(ctl status)"
send 8 11 sleep '{"ms":60000}'
_sleeping3() { ctl logs web#3 | grep -q 'sleeping 60000'; }
wait_until 30 _sleeping3 || diag "no sleep seen in web#3's log"
kill -KILL "$(field_of web#3 pid)"
like "$(answer 8 11)" '"message":"server \\"web#3\\" killed by signal 9 \(KILL\); this request was not answered' \
	"a call in flight on a replica killed by signal 9: the error says so"
wait_state 60 web#3 running || not_ok "web#3 running again" "$(ctl status)"

# ---- reload 3 -> 1: web#2 and web#3 stop, their sessions move, web#1 becomes web.
# A follower of the entry (logs -f web) goes on with web's lines after it.
"$MCPCTL" -s "$SOCK" logs -f web >"$T/follow.out" 2>&1 &
follower=$!
open_client 9 web#3
wait_until 30 _answered 9 0 || not_ok "client 9 initialized"
write_manifest "$port" 1
out=$(ctl reload --dry-run)
like "$out" 'replicas: web: 3 -> 1 replica \(web#2 to web#3 are stopped; their sessions move to web#1, which becomes web, keeping its process\)' \
	"reload --dry-run says web#2, web#3 stop and web#1 becomes web"
_sleeping3() { ctl logs web#3 | grep -c 'sleeping 60000' >"$T/sleep3.now"; ! cmp -s "$T/sleep3" "$T/sleep3.now"; }
ctl logs web#3 | grep -c 'sleeping 60000' >"$T/sleep3"
send 9 21 sleep '{"ms":60000}'
wait_until 30 _sleeping3 || diag "no sleep seen in web#3's log"
ctl reload >/dev/null
_single() { [[ $(state_of web) == running ]] && ! ctl status | grep -q '^web#'; }
wait_until 60 _single && ok "reload 3 -> 1: web runs unreplicated, web#2 and web#3 are gone" || not_ok "web unreplicated" "$(ctl status)"
is "$(field_of web pid)" "$pid" "web is still the first process"
follow_before=$(grep -c 'tools/call' "$T/follow.out")
like "$(answer 9 21)" '"message":"server \\"web#3\\" was removed from the manifest by a reload; this request was not answered: send it again, the session goes on on web"' \
	"a call in flight on a replica removed by reload: the error says so"
all=1
for n in 1 2 3 4 5 7 8 9; do
	w=$(whoami "$n" 30)
	[[ $w == web ]] || { all=0; diag "client $n: ${w:-no answer}: $(tail -n 1 "$T/c$n.out")"; }
done
is "$all" 1 "every mcpctl connect session goes on, on web"
_followed() { (($(grep -c 'tools/call' "$T/follow.out") > follow_before)); }
wait_until 30 _followed && ok "logs -f web goes on with web's lines after the reload to 1 replica" ||
	not_ok "logs -f web goes on after the reload to 1 replica" "$(tail -n 3 "$T/follow.out")"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
is "$(gw_whoami 3)" web "and the gateway session"
is "$(agg_whoami 3)" web "and the aggregate session's backend"
is "$(cat "$T/c11.out" | grep -c '"error"')" 0 "the aggregate client saw no error"
if [[ -n $cg_before ]]; then
	is "$(cgroup_of "$pid")" 'web' "and back in one named web"
else
	skip "and back in one named web" "no cgroup v2 here"
fi
for n in 1 2 3 4 5 7 8 9 11; do stop_spawned "c$n"; done

# ---- a good rolling restart: every replica restarted with the new configuration, one at a time.
write_manifest "$port" 2
ctl reload >/dev/null
wait_state 60 web#2 running || not_ok "web#2 running" "$(ctl status)"
p1=$(field_of web#1 pid)
p2=$(field_of web#2 pid)
write_manifest "$port" 2 2
ctl reload >/dev/null
_rolled() { [[ $(state_of web#1) == running && $(state_of web#2) == running && $(field_of web#1 pid) != "$p1" &&
	$(field_of web#2 pid) != "$p2" ]]; }
wait_until 60 _rolled && ok "a good rollout restarts both replicas" || not_ok "both restarted" "$(ctl status)"
wait_log 30 'web: the rolling restart is done: every replica runs the new configuration' &&
	ok "and says it is done" || not_ok "rolling restart done" "$(mcpd_log | tail -n 5)"

# ---- a bad one: web#1 never runs again; the rolling restart stops, web#2 keeps the old configuration.
p2=$(field_of web#2 pid)
write_manifest "$port" 2 3 'exit 3'
ctl reload >/dev/null
wait_log 60 'web#1: did not run again after the rolling restart \(.*\); the rolling restart stops: web#2 keeps its previous configuration and keeps running' &&
	ok "a bad rollout: the replica that does not come back is logged, the rolling restart stops" ||
	not_ok "a bad rollout stops" "$(mcpd_log | tail -n 8)"
is "$(state_of web#2) $(field_of web#2 pid)" "running $p2" "web#2 keeps running its old process"
like "$(ctl status web#2)" 'rolling restart stopped' "status says why web#2 was not restarted"
# The same manifest reloaded again: the rolling restart does not take web#2 down too.
like "$(ctl reload)" 'unchanged: 1' "reloading the bad manifest again changes nothing (web#1 runs it already)"
is "$(state_of web#2) $(field_of web#2 pid)" "running $p2" "web#2 still runs its old process"
# Fixed: a reload restarts the rest.
write_manifest "$port" 2 4
ctl reload >/dev/null
_fixed() { [[ $(state_of web#1) == running && $(state_of web#2) == running && $(field_of web#2 pid) != "$p2" ]]; }
wait_until 60 _fixed && ok "a fixed configuration's reload rolls on to every replica" || not_ok "fixed" "$(ctl status)"

# ---- a replica that stays starting (waiting for a server that never runs): the deadline stops the rolling restart.
p2=$(field_of web#2 pid)
EXTRA='    depends_on: [never]
    stop: { timeout: 1s }
    health: { start_timeout: 1s }
  never:
    command: [$EXAMPLE]
    autostart: false' write_manifest "$port" 2 5
ctl reload >/dev/null
wait_log 60 'web#1: did not run again after the rolling restart \(still starting 12s after it was restarted .*\); the rolling restart stops: web#2 keeps its previous configuration' &&
	ok "a replica still starting past its stop and start-up deadlines stops the rolling restart" ||
	not_ok "the deadline stops the rolling restart" "$(mcpd_log | tail -n 5)"
is "$(state_of web#2) $(field_of web#2 pid)" "running $p2" "and web#2 keeps running its old process"
write_manifest "$port" 2 6
ctl reload >/dev/null
_fixed() { [[ $(state_of web#1) == running && $(state_of web#2) == running && $(field_of web#2 pid) != "$p2" ]]; }
wait_until 60 _fixed && ok "and the next reload rolls on" || not_ok "fixed again" "$(ctl status)"

# ---- did you mean: the entry's name for a typo of it, a replica's name for a replica's.
like "$(ctl restart webx 2>&1)" 'did you mean "web"\?' "restart webx: did you mean \"web\" (the entry, not web#1)"
like "$(ctl restart web#7 2>&1)" 'no server named "web#7": web has 2 replicas' "restart web#7 names the count"
like "$(ctl restart 'wbe#2' 2>&1)" 'did you mean "web#2"\?' "restart wbe#2: did you mean \"web#2\""

# ---- reload 2 -> 1 with web#1 stopped: the running web#2 is the one kept, its sessions go on.
ctl stop web#1 >/dev/null
wait_state 60 web#1 stopped || not_ok "web#1 stopped" "$(ctl status)"
p2=$(field_of web#2 pid)
open_client 10
wait_until 30 _answered 10 0 || not_ok "client 10 initialized"
is "$(whoami 10 1)" web2 "a new session goes to web#2, the one running"
write_manifest "$port" 1 6
out=$(ctl reload --dry-run)
like "$out" 'replicas: web: 2 -> 1 replica \(the replicas but web#2 are stopped; their sessions move to web#2, which becomes web, keeping its process\)' \
	"reload --dry-run 2 -> 1 with web#1 stopped: web#2 is kept"
ctl reload >/dev/null
wait_until 60 _single && ok "reload 2 -> 1: web runs unreplicated" || not_ok "web unreplicated" "$(ctl status)"
is "$(field_of web pid)" "$p2" "web is web#2's process"
is "$(whoami 10 2)" web2 "the session on it goes on"
stop_spawned c10


# ---- across 1 -> 3 -> 1: a call held for approval follows its server's new name (listed, audited,
# decided by its id), and a `logs -f web` started with one replica follows every replica after 1 -> 3.
held() { ctl --json approvals 2>/dev/null | jq -r '.approvals[] | "\(.id) \(.server)"' | sort -k2; }
_held_n() { [[ $(held | wc -l) -eq $1 ]]; }
_held_on() { [[ $(held | awk '{print $2}' | sort -u | paste -sd' ') == "$1" ]]; }
EXTRA='    approval: [whoami]' write_manifest "$port" 1 6
ctl reload >/dev/null
wait_state 60 web running || not_ok "web running with approval: [whoami]" "$(ctl status)"
"$MCPCTL" -s "$SOCK" logs -f web >"$T/follow2.out" 2>&1 &
follower=$!
open_client 14
wait_until 30 _answered 14 0 || not_ok "client 14 initialized"
send 14 1 whoami
wait_until 30 _held_n 1 || not_ok "the whoami call is held" "$(ctl approvals; mcpd_log | tail -n 5)"
read -r aid aserver < <(held)
is "$aserver" web "a held call on web, unreplicated, is listed for web"
pheld=$(field_of web pid)
EXTRA='    approval: [whoami]' write_manifest "$port" 3 6
ctl reload >/dev/null
_three() { [[ $(state_of web#1) == running && $(state_of web#2) == running && $(state_of web#3) == running ]]; }
wait_until 60 _three || not_ok "web#1 to web#3 running" "$(ctl status)"
is "$(held)" "$aid web#1" "reload 1 -> 3: the held call is listed for web#1, under the same id"
like "$(mcpd_log)" "web#1: approval: moved id=$aid agent=- server=web#1 tool=whoami: was held for web \(renamed by a reload\)" \
	"and an audit line says it moved from web to web#1"
ctl approve "$aid" >/dev/null
like "$(answer 14 1)" '"id":1,"result":\{"content":\[\{"type":"text","text":"web[0-9]*"' "approve by its id: the call runs"
is "$(field_of web#1 pid)" "$pheld" "on web#1, the process it was held for"
like "$(mcpd_log)" "approval: approved id=$aid agent=- server=web#1 tool=whoami" "its approval's audit line names web#1"
open_client 15 web#2
open_client 16 web#3
wait_until 30 _answered 15 0 || not_ok "client 15 initialized"
wait_until 30 _answered 16 0 || not_ok "client 16 initialized"
send 14 2 echo '{"text":"on-one"}'
send 15 1 echo '{"text":"on-two"}'
send 16 1 echo '{"text":"on-three"}'
_followed_all() { grep -q 'web#1: .*on-one' "$T/follow2.out" && grep -q 'web#2: .*on-two' "$T/follow2.out" &&
	grep -q 'web#3: .*on-three' "$T/follow2.out"; }
wait_until 30 _followed_all && ok "logs -f web started before 1 -> 3 follows web#1 to web#3, each line led by its replica" ||
	not_ok "logs -f web follows every replica after 1 -> 3" "$(tail -n 5 "$T/follow2.out")"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
send 14 3 whoami
send 15 2 whoami
wait_until 30 _held_n 2 || not_ok "two whoami calls are held" "$(ctl approvals)"
is "$(held | awk '{print $2}' | paste -sd' ')" "web#1 web#2" "two calls held: one for web#1, one for web#2"
EXTRA='    approval: [whoami]' write_manifest "$port" 1 6
ctl reload >/dev/null
wait_until 60 _held_on web && ok "reload 3 -> 1: both held calls are listed for web (renamed, and moved to it)" ||
	not_ok "held calls follow 3 -> 1" "$(held; ctl status)"
like "$(mcpd_log)" "approval: moved id=[0-9a-f]{8} agent=- server=web tool=whoami: was held for web#2 \(its client session moved\)" \
	"an audit line says the call of web#2's session moved to web"
read -r aid2 _ < <(held | head -n 1)
read -r aid3 _ < <(held | tail -n 1)
ctl deny "$aid2" --reason no >/dev/null
ctl deny "$aid3" --reason no >/dev/null
like "$(grep -h '"error"' "$T/c14.out" "$T/c15.out" | grep -c 'on server \\"web\\" was denied by')" '^2$' \
	"deny by id works for both, and each denial names web"
like "$(mcpd_log)" "approval: denied id=$aid2 agent=- server=web tool=whoami" "the denial's audit line names web"
for n in 14 15 16; do stop_spawned "c$n"; done

stop_mcpd
done_testing
