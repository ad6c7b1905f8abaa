#!/bin/bash
# Issue 16's support team, end to end, from examples/support-team.yaml itself:
# four servers (crm, tickets, kb, email) behind the aggregate endpoint POST
# /mcp; the support agent sees its tools, namespaced, and its send_email
# waits for `mcpctl approve`; the reader sees one tool and is refused the
# rest; a denied call and the audit trail. What README.md's "A support
# team's gateway" shows.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

sup=support-$RANDOM$RANDOM-secret-token
rdr=reader-$RANDOM$RANDOM-secret-token
printf 'support: %s\nreader: %s\n' "$sup" "$rdr" >"$T/support-team.tokens"
chmod 600 "$T/support-team.tokens"
# The example as shipped, with this build's example server, a free port and cwd here.
write_manifest() {
	sed -e "s#build/demo/examples/mcp-example-server#$EXAMPLE#" -e "s#127.0.0.1:9310#127.0.0.1:$1#" \
		-e "s#cwd: \.\.#cwd: $T#" "$top_srcdir/examples/support-team.yaml" >"$T/m.yaml"
}
write_manifest 9310
like "$("$MCPCTL" check "$T/m.yaml" 2>&1)" 'valid, 4 servers, 2 agents' "mcpctl check accepts examples/support-team.yaml"
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts on examples/support-team.yaml"; done_testing; exit 1; }
url=http://127.0.0.1:$port/mcp
for s in crm tickets kb email; do
	wait_state 60 $s running || not_ok "$s running" "$(ctl status)"
done

post() { # post TOKEN SESSION BODY [curl args]: the body of the answer on stdout, headers in $T/headers
	local token=$1 sid=$2 body=$3
	shift 3
	curl -s -D "$T/headers" --max-time 60 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' ${sid:+-H "Mcp-Session-Id: $sid"} -d "$body" "$@" "$url"
}
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
session() { # session TOKEN: initializes, prints the Mcp-Session-Id
	post "$1" "" "$init" >/dev/null
	grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r'
}
tool_names() { grep -oE '"name":"[a-z_]+__[a-z_]+"' | cut -d'"' -f4 | sort | tr '\n' ' '; }
call() { # call TOOL ARGS-JSON ID
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$3" "$1" "$2"
}

# ---- the support agent: its tools, namespaced, from four servers through one endpoint
ssid=$(session "$sup")
like "$ssid" '^[0-9a-f]{32}$' "the support agent opens a session on /mcp"
is "$(post "$sup" "$ssid" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | tool_names)" \
	"crm__get_customer crm__update_customer email__send_email kb__search tickets__close_ticket tickets__create_ticket tickets__list_tickets " \
	"support sees crm/*, tickets/*, kb/search and email/send_email, as SERVER__TOOL (not kb's edit_article nor email's list_templates)"
like "$(post "$sup" "$ssid" "$(call crm__get_customer '{"id":42}' 2)")" '"id":2,"result":\{"content":\[\{"type":"text","text":"get_customer done: \{\\"id\\":42\}"' \
	"crm__get_customer is routed to crm and answered at once"
like "$(post "$sup" "$ssid" "$(call kb__edit_article '{"id":7}' 3)")" '"id":3,"error":\{"code":-31003,"message":"agent \\"support\\" may not call kb/edit_article' \
	"a tool outside support's list is refused, naming the agent and the tool"

# ---- send_email waits for a human
post "$sup" "$ssid" "$(call email__send_email '{"to":"ann@example.com","subject":"Your refund"}' 4)" >"$T/held.out" &
held_pid=$!
held_id() { ctl --json approvals 2>/dev/null | tr -d ' \n' | grep -oE '"id":"[0-9a-f]{8}","agent":"support","server":"email","tool":"send_email"' | grep -oE '[0-9a-f]{8}' | head -n 1; }
_held() { [[ -n $(held_id) ]]; }
wait_until 30 _held || not_ok "send_email is held" "$(ctl approvals; tail -n 5 "$T/mcpd.err")"
id=$(held_id)
like "$(ctl approvals)" "$id +support +email +send_email +[0-9]+s +\{\"to\":\"ann@example.com\"" \
	"mcpctl approvals lists the held send_email: id, agent, server, tool, age, arguments"
_called() { ctl logs email 2>/dev/null | grep -c 'called send_email'; }
is "$(_called)" 0 "the email was not sent while it waits"
like "$(ctl approve "$id")" "approved $id" "mcpctl approve ID"
wait "$held_pid"
like "$(cat "$T/held.out")" '"id":4,"result":\{"content":\[\{"type":"text","text":"send_email done: \{\\"to\\":\\"ann@example.com\\"' \
	"the support agent's held call returns the server's result after the approval"
_sent_once() { [[ $(_called) == 1 ]]; }
wait_until 10 _sent_once && ok "send_email ran exactly once" || not_ok "sent once" "$(ctl logs email)"
check_fail "approving the same id again fails" ctl approve "$id"

# ---- a denial
post "$sup" "$ssid" "$(call email__send_email '{"to":"all@example.com","subject":"Spam"}' 5)" >"$T/denied.out" &
held_pid=$!
wait_until 30 _held || not_ok "the second send_email is held" "$(ctl approvals)"
id2=$(held_id)
ctl deny "$id2" --reason "not to everyone" >/dev/null
wait "$held_pid"
like "$(cat "$T/denied.out")" '"id":5,"error":\{"code":-31004,"message":"denied: .*was denied by .*: not to everyone"' \
	"a denied call gets an error naming the denial and the reason"
is "$(_called)" 1 "and the denied email was never sent"

# ---- the reader: one tool, refused the rest, 403 on a server it may not use
rsid=$(session "$rdr")
is "$(post "$rdr" "$rsid" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | tool_names)" "kb__search " \
	"the reader sees exactly kb__search"
like "$(post "$rdr" "$rsid" "$(call kb__search '{"q":"refund"}' 2)")" '"id":2,"result":\{"content":\[\{"type":"text","text":"search done' \
	"and may call it"
like "$(post "$rdr" "$rsid" "$(call crm__get_customer '{"id":42}' 3)")" '"id":3,"error":\{"code":-31003,"message":"agent \\"reader\\" may not use server \\"crm\\"' \
	"a crm call of the reader gets a clear error naming the agent and the server"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $rdr" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -d "$init" "$url/crm")" 403 "POST /mcp/crm by the reader gets 403"

# ---- the audit trail and the access log
log=$(cat "$T/mcpd.err")
like "$log" "approval: requested id=$id agent=support server=email tool=send_email sha256=[0-9a-f]{64}" "audit: requested"
like "$log" "approval: approved id=$id .* by root \(uid 0\)|approval: approved id=$id .* by uid 0" "audit: approved, by whom"
like "$log" "approval: executed id=$id" "audit: executed"
like "$log" "approval: result id=$id ok" "audit: result"
like "$log" "approval: denied id=$id2 .*not to everyone" "audit: denied, with the reason"
like "$log" "agent=support method=tools/call tool=(email__)?send_email outcome=ok" \
	"the access log names agent, tool and outcome"
like "$log" "agent=support method=tools/call tool=(email__)?send_email outcome=denied" "and a denial as outcome=denied"
check_fail "no token appears in mcpd's log" grep -q -e "$sup" -e "$rdr" "$T/mcpd.err"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
