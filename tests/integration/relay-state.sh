#!/bin/bash
# Per-client state in the relay (mcpctl connect), 2025 era: requests of the
# server's go to the client that caused them and declared the capability;
# resource subscriptions are per client, one upstream per URI; log levels are
# per client, the server gets the most verbose; a restarted server gets the
# subscriptions and the log level again and the clients are told. Raw JSON
# lines through fifos, so that each client's traffic is seen exactly.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 100ms, jitter: 0 }
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --log-requests]
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"

# client NAME CAPABILITIES: a relay client on a fifo, initialized with CAPABILITIES (JSON),
# or a 2026-07-28 client that sends no initialize with CAPABILITIES "modern".
# Its stdin is fd ${fd_NAME}; what it gets is in $T/NAME.out.
client() {
	local name=$1 caps=$2 fd
	mkfifo "$T/$name.in"
	exec {fd}<>"$T/$name.in"
	printf -v "fd_$name" '%s' "$fd"
	spawn "$name" "$MCPCTL" -s "$SOCK" connect ex <"$T/$name.in"
	[[ $caps == modern ]] && return 0	# a 2026-07-28 client: no initialize
	send "$name" '{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":'"$caps"',"clientInfo":{"name":"'"$name"'","version":"1"}}}'
	send "$name" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	wait_until 30 grep -q '"id":"init","result"' "$T/$name.out" || not_ok "client $name initialized" "$(cat "$T/$name.out" "$T/$name.err")"
}

send() {
	local var=fd_$1
	printf '%s\n' "$2" >&"${!var}"
}

# got NAME REGEX: NAME's output has a line matching REGEX (within 30 s).
got() {
	wait_until 30 grep -qE -- "$2" "$T/$1.out"
}

# count NAME REGEX: lines of NAME's output matching REGEX.
count() {
	grep -cE -- "$2" "$T/$1.out"
}

_count_at_least() {
	[[ $(count "$1" "$2") -ge $3 ]]
}

# got_n NAME REGEX N: NAME's output has N lines matching REGEX (within 30 s).
got_n() {
	wait_until 30 _count_at_least "$@"
}

# What the server wrote on stderr: "subscribed URI", "log level L", "request: ...".
server_says() {
	ctl logs -n 0 ex 2>/dev/null | grep -cE -- "$1"
}

server_said() {
	[[ $(server_says "$1") -ge $2 ]]
}

call() {	# call NAME ID TOOL ARGS
	send "$1" '{"jsonrpc":"2.0","id":'"$2"',"method":"tools/call","params":{"name":"'"$3"'","arguments":'"$4"'}}'
}

# answer NAME METHOD RESULT: NAME answers the server's METHOD request it got last.
answer() {
	local id
	id=$(grep -E "\"method\":\"$2\"" "$T/$1.out" | tail -n 1 | grep -oE '"id":("[^"]*"|[0-9]+)' | head -n 1)
	send "$1" '{"jsonrpc":"2.0",'"$id"',"result":'"$3"'}'
}

SAMPLING_RESULT='{"role":"assistant","content":{"type":"text","text":"REPLY"},"model":"m"}'

# --- server -> client requests --------------------------------------------------

client plain '{}'
client sampler '{"sampling":{}}'

call plain 10 ask '{"kind":"sampling"}'
if got sampler '"method":"sampling/createMessage"'; then
	ok "ask sampling from a client without the capability: the request goes to the client that declared it"
	answer sampler sampling/createMessage "${SAMPLING_RESULT/REPLY/from sampler}"
	got plain '"id":10,"result".*from sampler'
	is "$?" 0 "and the caller's tool gets that client's answer"
else
	not_ok "ask sampling from a client without the capability: the request goes to the client that declared it" \
		"plain: $(cat "$T/plain.out")" "sampler: $(cat "$T/sampler.out")"
fi
is "$(count plain '"method":"sampling/createMessage"')" 0 "the client without the capability never sees it"

client sampler2 '{"sampling":{},"elicitation":{},"roots":{}}'
# One after the other: on stdio nothing names the request that caused the server's.
call sampler 11 ask '{"kind":"sampling"}'
got_n sampler '"method":"sampling/createMessage"' 2 && answer sampler sampling/createMessage "${SAMPLING_RESULT/REPLY/self-one}"
got sampler '"id":11,"result".*self-one'
is "$?" 0 "two clients declaring sampling: the first one's ask is answered by itself"
call sampler2 12 ask '{"kind":"sampling"}'
got sampler2 '"method":"sampling/createMessage"' && answer sampler2 sampling/createMessage "${SAMPLING_RESULT/REPLY/self-two}"
got sampler2 '"id":12,"result".*self-two'
is "$?" 0 "and the second one's by itself (the client with the call in flight gets the request)"
is "$(count sampler 'sampling/createMessage')" 2 "the first client got plain's request and its own, not the second's"

call sampler2 13 ask '{"kind":"elicitation"}'
got sampler2 '"method":"elicitation/create"' && answer sampler2 elicitation/create '{"action":"accept","content":{"answer":"elicited"}}'
got sampler2 '"id":13,"result".*elicited'
is "$?" 0 "elicitation/create goes to the client that declared elicitation and asked"
call plain 14 ask '{"kind":"roots"}'
got sampler2 '"method":"roots/list"' && answer sampler2 roots/list '{"roots":[{"uri":"file:///rooted","name":"r"}]}'
got plain '"id":14,"result".*rooted'
is "$?" 0 "roots/list caused by a client without roots goes to the one that declared roots"

stop_spawned sampler2
call plain 17 ask '{"kind":"elicitation"}'
if got plain '"id":17,.*no MCP client attached to mcpd declared the elicitation capability'; then
	ok "no client declaring elicitation: the tool gets the error naming the capability"
else
	not_ok "no client declaring elicitation: the tool gets the error naming the capability" "$(tail -n 5 "$T/plain.out")"
fi
like "$(mcpd_log)" 'answered the server.s elicitation/create with an error: no MCP client attached to mcpd declared the elicitation capability' \
	"mcpd logs the refusal, naming the capability"

# --- the TypeScript SDK (v1) as the clients ----------------------------------------

node_dir=$top_srcdir/tests/node
if [[ -d $node_dir/node_modules/@modelcontextprotocol/sdk ]] && command -v node >/dev/null; then
	# Two SDK clients, the one without sampling attached first: each calls ask
	# sampling; the one that declared sampling answers both, with its name.
	# Run from tests/node, where its imports resolve.
	js=$(cat <<'JS'
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
const [mcpctl, sock] = process.argv.slice(1);
setTimeout(() => { console.error("timed out"); process.exit(1); }, 60000);
async function connect(name, capabilities) {
	const client = new Client({ name, version: "1.0.0" }, { capabilities });
	if (capabilities.sampling)
		client.setRequestHandler(CreateMessageRequestSchema, async () =>
			({ role: "assistant", content: { type: "text", text: `answered by ${name}` }, model: "m" }));
	await client.connect(new StdioClientTransport({ command: mcpctl, args: ["-s", sock, "connect", "ex"], stderr: "inherit" }));
	return client;
}
const text = (r) => (r.isError ? "error: " : "") + (r.content || []).map((c) => c.text).join("");
// Who answered: the sampling client's name, else what the tool said.
const who = (r) => { const t = text(r); return (t.match(/answered by (sdk-[a-z]+)/) || [null, t.slice(0, 300)])[1]; };
const plain = await connect("sdk-plain", {});
const sampler = await connect("sdk-sampler", { sampling: {} });
const out = {
	plain: who(await plain.callTool({ name: "ask", arguments: { kind: "sampling" } })),
	sampler: who(await sampler.callTool({ name: "ask", arguments: { kind: "sampling" } })),
};
console.log(JSON.stringify(out));
await plain.close();
await sampler.close();
process.exit(0);
JS
)
	out=$(cd "$node_dir" && timeout 90 node --input-type=module -e "$js" "$MCPCTL" "$SOCK" 2>"$T/sdk.err")
	like "$out" '"plain":"sdk-sampler"' "SDK: the ask of a client without sampling is answered by the SDK client that declared it" ||
		diag "$(tail -n 5 "$T/sdk.err")"
	like "$out" '"sampler":"sdk-sampler"' "SDK: and that client's own ask by itself"
else
	skip "the TypeScript SDK clients" "tests/node/node_modules is not installed (./scripts/dev deps)"
fi

# --- subscriptions ----------------------------------------------------------------

client a '{}'
client b '{}'
send a '{"jsonrpc":"2.0","id":20,"method":"resources/subscribe","params":{"uri":"test://shared"}}'
got a '"id":20,"result"' || not_ok "a's subscribe is answered" "$(cat "$T/a.out")"
wait_until 30 server_said '^subscribed test://shared$' 1
send b '{"jsonrpc":"2.0","id":21,"method":"resources/subscribe","params":{"uri":"test://shared"}}'
got b '"id":21,"result":\{\}'
is "$?" 0 "b's subscribe to the same URI is answered"
call plain 22 touch '{"uri":"test://shared"}'
got plain '"id":22,"result"'
if got a '"method":"notifications/resources/updated".*test://shared' && got b '"method":"notifications/resources/updated".*test://shared'; then
	ok "touch reaches both subscribers"
else
	not_ok "touch reaches both subscribers" "a: $(cat "$T/a.out")" "b: $(cat "$T/b.out")"
fi
is "$(server_says '^subscribed test://shared$')" 1 "the server saw one subscribe for the two clients"
is "$(count plain 'notifications/resources/updated')" 0 "a client that did not subscribe gets no update"

send b '{"jsonrpc":"2.0","id":23,"method":"resources/unsubscribe","params":{"uri":"test://shared"}}'
got b '"id":23,"result":\{\}'
is "$?" 0 "b's unsubscribe is answered"
call plain 24 touch '{"uri":"test://shared"}'
got_n a 'notifications/resources/updated' 2
is "$(count a 'notifications/resources/updated')" 2 "a still gets updates after b unsubscribed"
is "$(count b 'notifications/resources/updated')" 1 "b gets none after unsubscribing"
is "$(server_says '^unsubscribed test://shared')" 0 "the server saw no unsubscribe while a holds the URI"
send a '{"jsonrpc":"2.0","id":25,"method":"resources/unsubscribe","params":{"uri":"test://shared"}}'
got a '"id":25,"result"'
wait_until 30 server_said '^unsubscribed test://shared' 1
is "$(server_says '^unsubscribed test://shared')" 1 "the last holder's unsubscribe goes upstream, once"

# A client that leaves gives its subscriptions up.
client c '{}'
send c '{"jsonrpc":"2.0","id":26,"method":"resources/subscribe","params":{"uri":"test://leaving"}}'
got c '"id":26,"result"'
stop_spawned c
wait_until 30 server_said '^unsubscribed test://leaving' 1
is "$(server_says '^unsubscribed test://leaving')" 1 "a client that detaches unsubscribes upstream what nobody else holds"

long=$(head -c 5000 /dev/zero | tr '\0' x)
send a '{"jsonrpc":"2.0","id":27,"method":"resources/subscribe","params":{"uri":"test://'"$long"'"}}'
got a '"id":27,"error":\{"code":-32602,"message":"invalid params: the URI is 5007 bytes long'
is "$?" 0 "a URI longer than 4 KiB gets a clear error"

# A 2026-07-28 client's subscriptions/listen, which mcpd emulates with resources/subscribe,
# shares the server's subscription with the legacy clients.
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"mo","version":"0"}}'
client mo modern
send a '{"jsonrpc":"2.0","id":28,"method":"resources/subscribe","params":{"uri":"test://mixed"}}'
got a '"id":28,"result"'
send mo '{"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["test://mixed"]},'"$META"'}}'
got mo 'notifications/subscriptions/acknowledged'
send a '{"jsonrpc":"2.0","id":29,"method":"resources/unsubscribe","params":{"uri":"test://mixed"}}'
got a '"id":29,"result":\{\}'
call plain 70 touch '{"uri":"test://mixed"}'
got mo 'notifications/resources/updated.*test://mixed'
is "$?" 0 "a legacy client's unsubscribe leaves a 2026 client's listen of the same URI subscribed"
is "$(server_says '^subscribed test://mixed$')" 1 "the server saw one subscribe for the legacy client and the listen"
send mo '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1"}}'
wait_until 30 server_said '^unsubscribed test://mixed$' 1
is "$(server_says '^unsubscribed test://mixed$')" 1 "the listen's end unsubscribes the server, once"
stop_spawned mo

# --- log levels -------------------------------------------------------------------

send a '{"jsonrpc":"2.0","id":30,"method":"logging/setLevel","params":{"level":"debug"}}'
got a '"id":30,"result":\{\}' &&
	send b '{"jsonrpc":"2.0","id":31,"method":"logging/setLevel","params":{"level":"error"}}' &&
	got b '"id":31,"result":\{\}'
is "$?" 0 "setLevel is answered for each client"
wait_until 30 server_said '^log level debug$' 1
is "$(server_says '^log level')" 1 "the server gets the most verbose level (debug), once"
like "$(ctl logs -n 0 ex | grep 'log level' | tail -n 1)" 'log level debug' "and it is debug"
call plain 32 log '{"level":"info","text":"info-for-a"}'
call plain 33 log '{"level":"error","text":"error-for-all"}'
got plain '"id":33,"result"'
got b 'error-for-all'
is "$?" 0 "an error message reaches b (level error)"
got a 'error-for-all'
is "$(count a 'info-for-a')" 1 "an info message reaches a (level debug)"
is "$(count b 'info-for-a')" 0 "and not b (level error)"
got plain 'error-for-all'
is "$(count plain 'info-for-a')" 1 "a client that set no level gets info and above while the server's level was lowered"
call plain 34 log '{"level":"debug","text":"debug-for-a"}'
got a 'debug-for-a'
got plain '"id":34,"result"'
is "$(count plain 'debug-for-a')" 0 "but no debug"

# --- progress still goes to its requester ------------------------------------------

send a '{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":300},"_meta":{"progressToken":"tok-a"}}}'
got a '"id":40,"result"'
like "$(grep notifications/progress "$T/a.out" | head -n 1)" '"progressToken":"tok-a"' "progress reaches its requester with its token"
is "$(count b 'notifications/progress')" 0 "and no other client"

# --- restart ----------------------------------------------------------------------

send a '{"jsonrpc":"2.0","id":50,"method":"resources/subscribe","params":{"uri":"test://kept"}}'
send b '{"jsonrpc":"2.0","id":51,"method":"resources/subscribe","params":{"uri":"test://kept"}}'
got a '"id":50,"result"' && got b '"id":51,"result"'
wait_until 30 server_said '^subscribed test://kept$' 1
kept=$(server_says '^subscribed test://kept$')
pid=$(field_of ex pid)
kill -KILL "$pid"
_new_pid() { [[ $(state_of ex) == running && $(field_of ex pid) != "$pid" ]]; }
wait_until 60 _new_pid || not_ok "ex runs again after the kill" "$(ctl status ex)"
if got a '"method":"notifications/tools/list_changed"' && got b '"method":"notifications/tools/list_changed"'; then
	ok "after a restart each client gets notifications/tools/list_changed"
else
	not_ok "after a restart each client gets notifications/tools/list_changed" "$(tail -n 3 "$T/a.out")"
fi
got a '"logger":"mcpd".*server ex restarted; its subscriptions were renewed'
is "$?" 0 "a client with a log level gets a warning from mcpd about the restart"
wait_until 30 server_said '^subscribed test://kept$' $((kept + 1))
is "$(server_says '^subscribed test://kept$')" $((kept + 1)) "the new process gets the held subscription once"
is "$kept" 1 "(and the old one got it once for both clients)"
wait_until 30 server_said '^log level debug$' 2
is "$(server_says '^log level debug$')" 2 "and the log level again"
call plain 52 touch '{"uri":"test://kept"}'
got a 'notifications/resources/updated.*test://kept' && got b 'notifications/resources/updated.*test://kept'
is "$?" 0 "both subscribers get the new process's updates"

# --- bounds: 1024 subscriptions per client -------------------------------------------

# d shares test://kept with a and b, then takes 1023 URIs of its own: the
# server (which keeps 1024) holds them all, and the next one is refused by mcpd.
client d '{}'
{
	printf '%s\n' '{"jsonrpc":"2.0","id":60,"method":"resources/subscribe","params":{"uri":"test://kept"}}'
	for ((i = 1; i <= 1024; i++)); do
		printf '{"jsonrpc":"2.0","id":"m%d","method":"resources/subscribe","params":{"uri":"test://many/%d"}}\n' "$i" "$i"
	done
} >&"$fd_d"
got d '"id":"m1024",'
_d_answered() { [[ $(grep -c '"id":"m[0-9]*",' "$T/d.out") -ge 1024 ]]; }
wait_until 60 _d_answered
is "$(grep -c '"id":"m[0-9]*","result"' "$T/d.out")" 1023 "a client's 1024 subscriptions are accepted"
like "$(grep '"id":"m1024"' "$T/d.out")" '"error":\{"code":-31000,"message":"this client holds 1024 subscriptions' \
	"the 1025th gets error -31000 naming the bound"
like "$(mcpd_log)" 'an MCP client holds 1024 subscriptions, the most mcpd keeps' "mcpd logs the bound"
stop_spawned d
wait_until 60 server_said '^unsubscribed test://many/' 1023
is "$(server_says '^unsubscribed test://many/')" 1023 "when it leaves, the server is unsubscribed from its 1023 URIs"
is "$(server_says '^unsubscribed test://kept$')" 0 "and not from the one it shared"
mcpd_within_budget "1024 subscriptions of one client" $((200 * 1024)) 2000

for name in plain sampler a b; do
	stop_spawned "$name"
done
stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
