#!/bin/bash
# Human approval of tool calls (issue 16, part 3): a server's approval: list
# holds those calls until `mcpctl approve` (run once), `mcpctl deny` or
# approval_timeout (a denial); progress while held; through mcpctl connect
# and the HTTP gateway (whose request_timeout does not cut a held call);
# withdrawn when the client leaves; denied when mcpd stops; audit lines,
# metrics, a redacted preview; a flood hits the budget.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

tok=support-$RANDOM$RANDOM-secret-token
printf 'support: %s\n' "$tok" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 2s, rate_limit: 10000/min, max_sessions_per_token: 512 }
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --counter-file, $T/count]
    approval: [count]
  quick:
    command: [$EXAMPLE, --name, quick, --counter-file, $T/quick]
    approval: ${quick_approval:-all}
    approval_timeout: 2s
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with approval: lists"; done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
wait_state 60 quick running || not_ok "quick running" "$(ctl status)"

init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
lines() { [[ -f $1 ]] && wc -l <"$1" || echo 0; }
# The approval id of the newest held call of TOOL, from `mcpctl --json approvals`.
held_id() {
	ctl --json approvals 2>/dev/null | tr -d ' \n' |
		grep -oE "\{\"id\":\"[0-9a-f]{8}\",\"agent\":\"[^\"]*\",\"server\":\"[^\"]*\",\"tool\":\"$1\"" |
		tail -n 1 | grep -oE '[0-9a-f]{8}' | head -n 1
}
_held() { [[ -n $(held_id "$1") ]]; }
_none_held() { ctl approvals 2>/dev/null | grep -q 'no tool call waits for approval'; }

# A client through mcpctl connect whose stdin stays open: a fifo on fd 7.
open_client() { # open_client NAME SERVER
	mkfifo "$T/$1.in"
	# Read-write: opening it does not wait for a reader; the client does not inherit it (EOF once closed).
	exec 7<>"$T/$1.in"
	spawn "$1" "$MCPCTL" -s "$SOCK" connect "$2" <"$T/$1.in" 7>&-
	printf '%s\n' "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}' >&7
	wait_until 30 grep -q '"id":0,"result"' "$T/$1.out" || not_ok "$1 is initialized" "$(cat "$T/$1.out" "$T/$1.err")"
}

# ---- approve through mcpctl connect: the result comes after, the tool ran once; progress while held.
open_client c1 ex
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"count","arguments":{"text":"one","password":"hunter2-secret"},"_meta":{"progressToken":"pt-1"}}}' >&7
printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"free"}}}' >&7
wait_until 30 _held count || not_ok "the count call is held" "$(ctl approvals; tail -n 5 "$T/mcpd.err")"
id=$(held_id count)
like "$id" '^[0-9a-f]{8}$' "a call of a tool in approval: is held under an 8-hex-digit id"
wait_until 30 grep -q '"id":2,"result"' "$T/c1.out" &&
	ok "a call of a tool not in approval: passes at once" || not_ok "echo passes" "$(cat "$T/c1.out")"
is "$(lines "$T/count")" 0 "the held call did not run"
ok_grep() { grep -q -- "$1" "$T/c1.out"; }
wait_until 30 ok_grep '"method":"notifications/progress","params":{"progressToken":"pt-1","progress":1,"message":"waiting for approval '"$id"': mcpctl approve '"$id"'"' &&
	ok "the held call's client gets notifications/progress naming the approval" || not_ok "progress" "$(cat "$T/c1.out")"
wait_until 30 ok_grep '"progressToken":"pt-1","progress":2' &&
	ok "and more, with increasing progress, while it waits" || not_ok "more progress" "$(cat "$T/c1.out")"
out=$(ctl approvals)
like "$out" "^ID +AGENT +SERVER +TOOL +AGE +ARGS" "mcpctl approvals prints a table: ID AGENT SERVER TOOL AGE ARGS"
like "$out" "$id +- +ex +count +[0-9]+s +\{\"text\":\"one\",\"password\":\"\*\*\*\"\}" "with the owner as -, and a redacted preview"
is "$(echo "$out" | awk 'length > 80' | wc -l)" 0 "that fits 80 columns"
json=$(ctl --json approvals)
like "$json" "\"sha256\": *\"$(printf '%s' '{"text":"one","password":"hunter2-secret"}' | sha256sum | cut -c1-64)\"" \
	"--json gives the sha256 of the full arguments"
like "$(echo "$json" | tr -d '\n')" '"age_s": *[0-9]+, *"expires_in_s": *(59[0-9]|600)' "and age_s, expires_in_s (of the default 10m)"
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
is "$(complete_words mcpctl appro | sort | tr '\n' ' ')" "approvals approve " "bash completion of the commands"
is "$(complete_words mcpctl -s "$SOCK" approve "" | tr '\n' ' ')" "$id " "and of the held ids, from the running mcpd"
is "$(complete_words mcpctl deny --r | tr '\n' ' ')" "--reason " "and of deny's --reason"
for c in approvals approve deny; do
	like "$(ctl "$c" --help)" "^usage: mcpctl .*$c" "mcpctl $c --help prints its usage"
done
out=$(ctl approve "$id")
is "$?" 0 "mcpctl approve ID exits 0"
wait_until 30 grep -q '"id":1,"result":{"content":\[{"type":"text","text":"1"}\]' "$T/c1.out" &&
	ok "the approved call's result reaches its client" || not_ok "approved result" "$(cat "$T/c1.out")"
is "$(lines "$T/count")" 1 "the tool ran exactly once"
ctl approve "$id" >/dev/null 2>"$T/err"
is "$?" 1 "approving an already-decided id exits 1"
like "$(cat "$T/err")" "no call waits for approval $id" "with a message naming it"
ctl approve 0badc0de >/dev/null 2>"$T/err"
is "$?" 1 "approving an unknown id exits 1"
ctl deny 0badc0de >/dev/null 2>"$T/err"
is "$?" 1 "denying an unknown id exits 1"
ctl deny >/dev/null 2>&1
is "$?" 2 "deny without an ID is a usage error (2)"
ctl deny "$id" --reason $'two\nlines' >/dev/null 2>"$T/err"
is "$?" 1 "a reason with a control character is refused"
like "$(cat "$T/err")" 'reason.* must be 1 to 200 printable bytes' "saying what a reason may be"
ctl deny "$id" --reason "$(printf '%0300d' 0)" >/dev/null 2>&1
is "$?" 1 "and so is one longer than 200 bytes"
is "$(lines "$T/count")" 1 "still once"

# ---- deny --reason
printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"count","arguments":{"text":"two"}}}' >&7
wait_until 30 _held count || not_ok "the second count call is held"
id2=$(held_id count)
ctl deny "$id2" --reason "not during the freeze" >/dev/null
is "$?" 0 "mcpctl deny ID --reason TEXT exits 0"
wait_until 30 grep -q '"id":3,"error"' "$T/c1.out"
like "$(grep '"id":3,' "$T/c1.out")" '"code":-31004,"message":"denied: the call of tool \\"count\\" on server \\"ex\\" was denied by root \(uid 0\) \(approval '"$id2"'\): not during the freeze"' \
	"the client gets an error naming the denial, the decider, the approval id and the reason"
is "$(lines "$T/count")" 1 "the denied call did not run"
ctl deny "$id2" >/dev/null 2>&1
is "$?" 1 "denying an already-decided id exits 1"

# ---- a client that disconnects withdraws its held call
printf '%s\n' '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"count","arguments":{"text":"three"}}}' >&7
wait_until 30 _held count || not_ok "the third count call is held"
id3=$(held_id count)
exec 7>&-
wait_until 30 _none_held && ok "a client that closes its input withdraws its held call" || not_ok "withdrawn" "$(ctl approvals)"
wait_until 30 grep -q '"id":4,' "$T/c1.out"
like "$(grep '"id":4,' "$T/c1.out")" '"id":4,"error":\{"code":-31004,"message":"withdrawn: the client closed its input while the call of tool \\"count\\" on server \\"ex\\" waited for approval '"$id3"'; it was not run"' \
	"and gets an error saying so before mcpctl connect exits"
wait_log 10 "approval: withdrawn id=$id3 agent=- server=ex tool=count: the client closed its input" &&
	ok "an audit line says it was withdrawn" || not_ok "withdrawn line" "$(grep approval: "$T/mcpd.err")"
stop_spawned c1

# ---- a client that disconnects at once (killed): withdrawn too
open_client c5 ex
printf '%s\n' '{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"count","arguments":{"text":"killed"}}}' >&7
wait_until 30 _held count || not_ok "the call before the kill is held"
id5=$(held_id count)
kill -KILL "$pid_c5"
wait_until 30 _none_held && ok "a client that is killed withdraws its held call" || not_ok "withdrawn on kill" "$(ctl approvals)"
# Killed, its socket shows mcpd the same end of input as a close.
wait_log 10 "approval: withdrawn id=$id5 agent=- server=ex tool=count: the client (disconnected|closed its input)" &&
	ok "with an audit line" || not_ok "withdrawn line on kill" "$(grep approval: "$T/mcpd.err" | tail -n 3)"
exec 7>&-
stop_spawned c5

# ---- the TypeScript SDK: its 7 s request timeout restarts on each progress, so a call held 10 s and more still gets its result
node_dir=$top_srcdir/tests/node
if [[ -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] && command -v node >/dev/null; then
	spawn sdk timeout 150 node "$node_dir/sdk-approval.mjs" "$MCPCTL" "$SOCK" ex count '{"text":"sdk"}' 7000 "$T/sdk.progress"
	wait_until 30 _held count || not_ok "the SDK's call is held" "$(cat "$T/sdk.err")"
	sdk_id=$(held_id count)
	_sdk_progress3() { (($(lines "$T/sdk.progress") >= 3)); }
	# Three progress notifications: 10 s held, past the SDK's 7 s timeout.
	wait_until 60 _sdk_progress3 || not_ok "the SDK gets progress" "$(cat "$T/sdk.progress" "$T/sdk.err")"
	ctl approve "$sdk_id" >/dev/null
	wait_until 30 grep -q '"result"' "$T/sdk.out"
	like "$(cat "$T/sdk.out")" '"result":\{"content":\[\{"type":"text","text":"2"\}\].*"progress":[3-9]' \
		"the SDK client (resetTimeoutOnProgress, 7 s timeout) gets its result after 10 s and more held" ||
		diag "$(cat "$T/sdk.err")"
	like "$(head -n 1 "$T/sdk.progress")" "^1 waiting for approval $sdk_id: mcpctl approve $sdk_id\$" "its onprogress sees mcpd's message"
	stop_spawned sdk
	sdk_ran=1
else
	skip "the TypeScript SDK with resetTimeoutOnProgress" "no node or no SDK in tests/node/node_modules"
	skip "its onprogress" "no node or no SDK"
	sdk_ran=0
fi

# ---- approval_timeout: a denial by expiry
open_client c2 quick
printf '%s\n' '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"late"}}}' >&7
wait_until 30 grep -q '"id":5,' "$T/c2.out"
like "$(grep '"id":5,' "$T/c2.out")" '"id":5,"error":\{"code":-31004,"message":"denied: the call of tool \\"echo\\" on server \\"quick\\" was not approved within 2s' \
	"approval: all and approval_timeout: 2s: the call is denied by expiry"
is "$(lines "$T/quick")" 0 "and did not run"
exec 7>&-
stop_spawned c2

# ---- the gateway: a tokens_file agent's held call outlives request_timeout (2s) and gets its result after approve
post() { # post BODY [curl args]: prints the HTTP status; body in $T/body
	local body=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$body" "$@"
}
is "$(post "$init" "$url/ex")" 200 "the support agent opens a gateway session"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
spawn gw curl -s -N --max-time 90 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $sid" \
	-d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"count","arguments":{"text":"gw","api_key":"k-secret-9"},"_meta":{"progressToken":7}}}' "$url/ex"
wait_until 30 _held count || not_ok "the gateway's call is held" "$(tail -n 5 "$T/mcpd.err")"
gid=$(held_id count)
like "$(ctl approvals)" "$gid +support +ex +count" "mcpctl approvals names the tokens_file agent"
wait_until 30 grep -q '"progressToken":7,"progress":2' "$T/gw.out" &&
	ok "progress reaches the gateway client's response stream while held" || not_ok "gw progress" "$(cat "$T/gw.out")"
# Progress 2 comes 5 s after the hold: past the 2 s request_timeout.
if grep -q '"id":7,"error"' "$T/gw.out"; then
	not_ok "the gateway's request_timeout does not cut a held call" "$(cat "$T/gw.out")"
else
	ok "the gateway's request_timeout does not cut a held call"
fi
ctl approve "$gid" >/dev/null
ran=$((2 + sdk_ran))	# the calls of count that ran: approved through connect, the SDK, and this one
wait_until 30 grep -q '"id":7,"result":{"content":\[{"type":"text","text":"'"$ran"'"}\]' "$T/gw.out" &&
	ok "after approve, the gateway client gets the result" || not_ok "gw result" "$(cat "$T/gw.out")"
is "$(lines "$T/count")" "$ran" "the tool ran once more"
stop_spawned gw

# ---- the same through the aggregate endpoint (POST /mcp, ex__count), without a progress token:
# only the held hook keeps the 2 s request_timeout from cutting it.
is "$(post "$init" "$url")" 200 "the support agent opens an aggregate session"
asid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
spawn agg curl -s -N --max-time 90 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $asid" \
	-d '{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"ex__count","arguments":{"text":"agg"}}}' "$url"
wait_until 30 _held count || not_ok "the aggregate's call is held" "$(tail -n 5 "$T/mcpd.err")"
aid=$(held_id count)
_older_than_timeout() { ctl --json approvals 2>/dev/null | jq -e --arg id "$aid" '.approvals[] | select(.id == $id) | .age_s >= 4' >/dev/null; }
wait_until 30 _older_than_timeout || not_ok "the aggregate's held call ages past request_timeout" "$(ctl --json approvals)"
if grep -q '"id":17,"error"' "$T/agg.out"; then
	not_ok "request_timeout does not cut a call held through the aggregate endpoint" "$(cat "$T/agg.out")"
else
	ok "request_timeout does not cut a call held through the aggregate endpoint"
fi
ctl approve "$aid" >/dev/null
ran=$((ran + 1))
wait_until 30 grep -q '"id":17,"result":{"content":\[{"type":"text","text":"'"$ran"'"}\]' "$T/agg.out" &&
	ok "after approve, the aggregate's client gets the result" || not_ok "agg result" "$(cat "$T/agg.out")"
stop_spawned agg

# ---- a gateway client that leaves while its call is held: the call is withdrawn
spawn gwleft curl -s -N --max-time 3 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $sid" \
	-d '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"count","arguments":{"text":"left"}}}' "$url/ex"
wait_until 30 _held count || not_ok "the leaving client's call is held"
lid=$(held_id count)
wait_until 30 _none_held && ok "a gateway client that leaves withdraws its held call" || not_ok "gw withdrawn" "$(ctl approvals)"
wait_log 10 "approval: withdrawn id=$lid agent=support server=ex tool=count: the client cancelled it" &&
	ok "with an audit line" || not_ok "gw withdrawn line" "$(grep approval: "$T/mcpd.err" | tail -n 3)"
stop_spawned gwleft

# ---- the 2026-07-28 era through the gateway: held, then denied
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
spawn modern curl -s -N --max-time 90 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' \
	-H 'Mcp-Name: count' \
	-d '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{'"$META"',"name":"count","arguments":{"text":"modern"}}}' "$url/ex"
wait_until 30 _held count || not_ok "the modern call is held" "$(tail -n 5 "$T/mcpd.err")"
mid=$(held_id count)
ctl deny "$mid" --reason "modern no" >/dev/null
wait_until 30 grep -q '"id":8,"error"' "$T/modern.out" &&
	like "$(cat "$T/modern.out")" '"id":8,"error":\{"code":-31004,"message":"denied: .*\(approval '"$mid"'\): modern no","data":\{"approval":"'"$mid"'","decision":"denied","reason":"modern no"\}' \
		"a 2026-07-28 tools/call through the gateway is held too, and its client gets the denial" ||
	not_ok "modern denial" "$(cat "$T/modern.out")"
stop_spawned modern

# ---- approved while the server is stopped: relay.c's usual immediate error
open_client c3 ex
printf '%s\n' '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"count","arguments":{"text":"stopped"}}}' >&7
wait_until 30 _held count || not_ok "the call before the stop is held"
sid9=$(held_id count)
ctl stop ex >/dev/null
wait_state 30 ex stopped || not_ok "ex stopped" "$(ctl status ex)"
ctl approve "$sid9" >/dev/null
wait_until 30 grep -q '"id":9,' "$T/c3.out"
like "$(grep '"id":9,' "$T/c3.out")" '"id":9,"error":\{"code":-31000,"message":"server \\"ex\\" is stopped' \
	"a call approved while its server is stopped gets the immediate 'server is stopped' error"
wait_log 10 "approval: result id=$sid9 server=ex tool=count error: not sent to the server" &&
	ok "and its audit result says it was not sent" || not_ok "not sent line" "$(grep approval: "$T/mcpd.err" | tail -n 3)"
exec 7>&-
stop_spawned c3
ctl start ex >/dev/null
wait_state 60 ex running || not_ok "ex running again" "$(ctl status ex)"
is "$(lines "$T/count")" "$ran" "neither ran"

# ---- reload: a changed approval: list applies to the calls after it, without a restart
qpid=$(field_of quick pid)
quick_approval="[count]" write_manifest "$port"
ctl reload >/dev/null || not_ok "reload" "$(ctl reload 2>&1)"
open_client c4 quick
printf '%s\n' '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"echo","arguments":{"text":"now free"}}}' >&7
wait_until 30 grep -q '"id":10,' "$T/c4.out"
like "$(grep '"id":10,' "$T/c4.out")" '"id":10,"result":\{"content":\[\{"type":"text","text":"now free"\}\]' \
	"after a reload that narrows approval: all to [count], echo passes at once"
is "$(field_of quick pid)" "$qpid" "and the server was not restarted for it"
exec 7>&-
stop_spawned c4

# ---- audit lines
log=$(grep 'approval: ' "$T/mcpd.err")
like "$log" "approval: requested id=$id agent=- server=ex tool=count sha256=[0-9a-f]{64}" "audit: requested, with agent, server, tool, sha256"
like "$log" "approval: approved id=$id agent=- server=ex tool=count sha256=[0-9a-f]{64} by root \(uid 0\)" "audit: approved, by whom"
like "$log" "approval: executed id=$id server=ex tool=count" "audit: executed"
like "$log" "approval: result id=$id ok" "audit: result ok"
like "$log" "approval: denied id=$id2 agent=- server=ex tool=count by root \(uid 0\): not during the freeze" "audit: denied, by whom, why"
like "$log" "approval: expired id=[0-9a-f]{8} agent=- server=quick tool=echo: not approved within 2s" "audit: expired"
like "$log" "approval: requested id=$gid agent=support server=ex" "audit: the gateway agent's request"
like "$log" "approval: result id=$gid ok" "audit: the gateway call's result"
if grep -qE 'hunter2|k-secret-9' "$T/mcpd.err"; then
	not_ok "no secret argument appears in mcpd's log" "$(grep -E 'hunter2|k-secret-9' "$T/mcpd.err")"
else
	ok "no secret argument appears in mcpd's log"
fi

# ---- metrics
m=$(curl -s --max-time 10 "http://127.0.0.1:$port/metrics")
like "$m" $'\nmcpd_approvals_pending 0\n' "metrics: mcpd_approvals_pending"
like "$m" "mcpd_approvals_total\\{decision=\"approved\"\\} $((4 + sdk_ran))" "metrics: approved"
like "$m" 'mcpd_approvals_total\{decision="denied"\} 2' "metrics: denied"
like "$m" 'mcpd_approvals_total\{decision="expired"\} 1' "metrics: expired"
like "$m" 'mcpd_approvals_total\{decision="withdrawn"\} 3' "metrics: withdrawn"

# ---- hostile: a client floods held calls; past 64 per agent they get errors; mcpd stays up
{
	printf '%s\n' "$init"
	for i in $(seq 100 199); do
		printf '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"count","arguments":{"n":%d}}}\n' "$i" "$i"
	done
} >"$T/flood.in"
mkfifo "$T/flood.fifo"
exec 8<>"$T/flood.fifo"
spawn flood "$MCPCTL" -s "$SOCK" connect ex <"$T/flood.fifo" 8>&-
cat "$T/flood.in" >&8
_refused() { (($(grep -c '"code":-31000,"message":"the call of tool \\"count\\" on server \\"ex\\" needs approval, and too many' "$T/flood.out") == 36)); }
wait_until 30 _refused && ok "a flood of 100 held calls: 36 past the budget of 64 per agent get an error" ||
	not_ok "flood refused" "$(grep -c error "$T/flood.out") $(tail -n 2 "$T/flood.out")"
like "$(curl -s --max-time 10 "http://127.0.0.1:$port/metrics")" $'\nmcpd_approvals_pending 64\n' "64 are held"
wait_log 10 "approval: 64 tool calls are held \(64 of agent -\): more are refused" &&
	ok "the budget is logged once" || not_ok "budget line"
is "$(grep -c 'more are refused' "$T/mcpd.err")" 1 "only once"
mcpd_within_budget "a flood of held calls" 400000 400

# ---- SIGTERM: the held calls are answered as denied before mcpd exits
stop_mcpd
exec 8>&-
is "$(grep -c '"code":-31004,"message":"denied: the call of tool \\"count\\" on server \\"ex\\" was not approved before mcpd is stopping' "$T/flood.out")" 64 \
	"SIGTERM: every held call's client gets a denial saying mcpd is stopping"
is "$(lines "$T/count")" "$ran" "and none of them ran"
stop_spawned flood

done_testing
