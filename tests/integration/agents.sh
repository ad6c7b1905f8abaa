#!/bin/bash
# agents: in the manifest: through the gateway an agent sees and calls only the
# tools its globs allow, gets 403 for a server it may not use at all (an agent
# agents: does not list: everywhere), has its own rate_limit; a reload applies a
# changed agents: to the next request; access log lines (text and JSON) carry
# agent, server, method, tool, outcome and duration, never a token; a JWT's
# agent gets the same policy as a tokens_file name.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ! command -v jq >/dev/null; then
	skip "agents" "jq is missing"
	done_testing
fi

tok_reader=reader-$RANDOM$RANDOM-secret-token
tok_support=support-$RANDOM$RANDOM-secret-token
tok_stranger=stranger-$RANDOM$RANDOM-secret-token
printf 'reader: %s\nsupport: %s\nstranger: %s\n' "$tok_reader" "$tok_support" "$tok_stranger" >"$T/tokens"
reader_tools='[files/add]'
log_format=text
jwt=""
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  log_format: $log_format
  gateway:
    tokens_file: $T/tokens
    rate_limit: 1000/min
$jwt
servers:
  files:
    command: [$EXAMPLE, --name, files]
  crm:
    command: [$EXAMPLE, --name, crm]
agents:
  reader:
    tools: $reader_tools
  support:
    tools: ["crm/*"]
    rate_limit: 5/min
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with agents:"; done_testing; }
url=http://127.0.0.1:$port/mcp
wait_state 10 files running
wait_state 10 crm running

post() { # post TOKEN BODY [curl args]: prints the HTTP status; body in $T/body
	local token=$1 body=$2
	shift 2
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$body" "$@"
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
list='{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
call() { printf '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$1" "$2"; }
tools() { jq -c '[.result.tools[].name]' "$T/body"; }
session() { grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r'; }

like "$(mcpd_log)" 'gateway: token "stranger" names an agent that agents: does not list: it may use nothing' \
	"at start, mcpd warns about a tokens_file name that agents: does not list"

cat >"$T/check.yaml" <<YAML
version: 1
servers:
  files: { command: [$EXAMPLE] }
agents:
  reader: { tools: [file/read_file] }
YAML
out=$("$MCPCTL" check "$T/check.yaml" 2>&1)
like "$out" 'check.yaml:5:21: warning: agents.reader.tools\[0\]: "file/read_file" matches no server in servers: \(did you mean "files/\.\.\."\?\)' \
	"mcpctl check warns about a glob that names no server, with a hint"
like "$out" 'valid, 1 server, 1 agent' "mcpctl check counts the agents"

# --- reader: one tool of files ------------------------------------------------------------
is "$(post "$tok_reader" "$init" "$url/files")" 200 "reader: initialize on /mcp/files"
sid=$(session)
is "$(post "$tok_reader" "$list" -H "Mcp-Session-Id: $sid" "$url/files")" 200 "reader: tools/list"
is "$(tools)" '["add"]' "reader: tools/list holds exactly its one tool"
is "$(post "$tok_reader" "$(call add '{"a":2,"b":3}')" -H "Mcp-Session-Id: $sid" "$url/files")" 200 "reader: tools/call add"
like "$(cat "$T/body")" '"text":"5"' "reader: and gets the server's answer"
is "$(post "$tok_reader" "$(call echo '{"text":"hi"}')" -H "Mcp-Session-Id: $sid" "$url/files")" 200 \
	"reader: tools/call echo is answered"
is "$(jq -r '.error.code' "$T/body")" -31003 "reader: with the policy's error code -31003"
is "$(jq -r '.error.message' "$T/body")" 'agent "reader" may not call files/echo (not in agents.reader.tools)' \
	"reader: naming the agent, the tool and the manifest key"
! grep -q '"name":"echo"' "$T/files.err" 2>/dev/null && ok "reader: the refused call never reached the server" ||
	not_ok "refused call reached the server"

# The same in the 2026-07-28 era: no session, the policy applies to each request.
V=2026-07-28
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
is "$(post "$tok_reader" '{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{'"$META"'}}' \
	-H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' "$url/files")" 200 "reader: a 2026-07-28 tools/list"
is "$(tools)" '["add"]' "reader: holds exactly its one tool too"
is "$(post "$tok_reader" '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{'"$META"',"name":"echo","arguments":{"text":"x"}}}' \
	-H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' "$url/files")" 200 \
	"reader: a 2026-07-28 tools/call echo is answered"
is "$(jq -r '.error.code' "$T/body")" -31003 "reader: with the policy's error"

is "$(post "$tok_reader" "$init" "$url/crm")" 403 "reader: /mcp/crm, a server it may not use, gets 403"
is "$(jq -r '.error.code' "$T/body")" -31003 "reader: with a JSON-RPC error body"
like "$(jq -r '.error.message' "$T/body")" 'agent "reader" may not use server "crm"' "reader: naming agent and server"
is "$(post "$tok_reader" "$init" "$url/nosuch")" 403 "reader: a server that does not exist gets 403 as well"

# --- stranger: not in agents: ------------------------------------------------------------
is "$(post "$tok_stranger" "$init" "$url/files")" 403 "stranger: 403 on /mcp/files"
is "$(post "$tok_stranger" "$init" "$url/crm")" 403 "stranger: 403 on /mcp/crm"
like "$(jq -r '.error.message' "$T/body")" 'agents: does not list agent "stranger"' "stranger: told why"

# --- support: its own rate_limit (5/min) while reader has the gateway's (1000/min) ----------
codes=""
for i in 1 2 3 4 5 6; do
	codes="$codes $(post "$tok_support" "$init" "$url/crm")"
done
is "$codes" " 200 200 200 200 200 429" "support: 5 requests pass, the 6th gets 429 (agents.support.rate_limit 5/min)"
like "$(jq -r '.error.message' "$T/body")" 'rate limit of 5 requests per 60s reached \(agents.support.rate_limit\)' \
	"support: the 429 names its own limit"
codes=""
for i in 1 2 3 4 5 6 7 8; do
	codes="$codes $(post "$tok_reader" '{"jsonrpc":"2.0","id":9,"method":"ping"}' -H "Mcp-Session-Id: $sid" "$url/files")"
done
is "$codes" " 200 200 200 200 200 200 200 200" "reader: 8 more requests are not limited"

# --- access log and metrics ----------------------------------------------------------------
like "$(mcpd_log)" 'files: gateway: POST 200 [0-9.]+ms agent=reader method=tools/call tool=add outcome=ok' \
	"access log: an allowed call, with agent, server, method, tool, status, duration and outcome"
like "$(mcpd_log)" 'files: gateway: POST 200 [0-9.]+ms agent=reader method=tools/call tool=echo outcome=refused' \
	"access log: a refused call says refused"
like "$(mcpd_log)" 'crm: gateway: POST 403 [0-9.]+ms agent=reader method=- outcome=refused' "access log: the 403"
like "$(mcpd_log)" 'policy: refused: agent "reader" may not call files/echo' "the first refusal is logged whole"
! grep -q "$tok_reader\|$tok_support\|$tok_stranger" "$T/mcpd.err" && ok "no token appears in the log" ||
	not_ok "a token in the log"
metrics=$(curl -s --max-time 10 "http://127.0.0.1:$port/metrics")
like "$metrics" 'mcpd_policy_refusals_total\{agent="reader"\} [4-9]' "metrics: reader's refusals are counted"
like "$metrics" 'mcpd_policy_refusals_total\{agent="other"\} [2-9]' "metrics: an unlisted agent counts as other"
! grep -q 'agent="stranger"' <<<"$metrics" && ok "metrics: no label for a name agents: does not list" ||
	not_ok "stranger label"

# --- reload: a changed agents: applies to the next request ----------------------------------
reader_tools='["files/echo"]'
write_manifest "$port"
ctl reload >/dev/null 2>&1
is "$?" 0 "reload with reader's tools changed to files/echo"
_warned_twice() { (($(grep -c 'token "stranger" names an agent that agents: does not list' "$T/mcpd.err") == 2)); }
wait_until 10 _warned_twice &&
	ok "the reload warns again, once, about stranger" || not_ok "warning at reload" "$(grep stranger "$T/mcpd.err")"
is "$(post "$tok_reader" "$list" -H "Mcp-Session-Id: $sid" "$url/files")" 200 "reader: tools/list after the reload"
is "$(tools)" '["echo"]' "reader: the same session now sees echo only"
post "$tok_reader" "$(call add '{"a":1,"b":1}')" -H "Mcp-Session-Id: $sid" "$url/files" >/dev/null
is "$(jq -r '.error.code' "$T/body")" -31003 "reader: add is refused now"
post "$tok_reader" "$(call echo '{"text":"hi"}')" -H "Mcp-Session-Id: $sid" "$url/files" >/dev/null
like "$(cat "$T/body")" '"result":' "reader: and echo is allowed"

stop_mcpd

# --- JSON log lines, and a JWT's agent ------------------------------------------------------
if command -v openssl >/dev/null && command -v node >/dev/null; then
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/r1.pem" 2>/dev/null
	cat >"$T/jwt.mjs" <<'JS'
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
const [mode, file, payload] = process.argv.slice(2);
const b64 = (b) => Buffer.from(b).toString("base64url");
if (mode === "jwks") {
	console.log(JSON.stringify({ keys: [{ ...createPublicKey(readFileSync(file)).export({ format: "jwk" }), kid: "r1", use: "sig" }] }));
} else {
	const input = b64(JSON.stringify({ alg: "RS256", kid: "r1", typ: "JWT" })) + "." + b64(payload);
	console.log(input + "." + b64(sign("sha256", Buffer.from(input), createPrivateKey(readFileSync(file)))));
}
JS
	node "$T/jwt.mjs" jwks "$T/r1.pem" >"$T/jwks.json"
	now=$(date +%s)
	tok_jwt=$(node "$T/jwt.mjs" sign "$T/r1.pem" "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"reader\",\"exp\":$((now + 600)),\"iat\":$now}")
	log_format=json
	reader_tools='[files/add]'
	jwt="    jwt: { issuer: \"https://issuer.test\", audience: mcpd-test, jwks_file: $T/jwks.json }"
	start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with log_format json and gateway.jwt"; done_testing; }
	url=http://127.0.0.1:$port/mcp
	wait_state 10 files running
	is "$(post "$tok_jwt" "$init" "$url/files")" 200 "jwt reader: initialize on /mcp/files"
	sid=$(session)
	post "$tok_jwt" "$list" -H "Mcp-Session-Id: $sid" "$url/files" >/dev/null
	is "$(tools)" '["add"]' "jwt reader: the JWT's agent claim gets reader's policy"
	post "$tok_jwt" "$(call echo '{"text":"hi"}')" -H "Mcp-Session-Id: $sid" "$url/files" >/dev/null
	is "$(jq -r '.error.message' "$T/body")" 'agent "reader" may not call files/echo (not in agents.reader.tools)' \
		"jwt reader: refused as the tokens_file reader is"
	is "$(post "$tok_jwt" "$init" "$url/crm")" 403 "jwt reader: 403 on /mcp/crm"
	post "$tok_jwt" "$(call add '{"a":2,"b":2}')" -H "Mcp-Session-Id: $sid" "$url/files" >/dev/null
	lines() { grep '^{' "$T/mcpd.err" | jq -c "select(.msg | startswith(\"gateway: POST\")) | $1" 2>/dev/null; }
	is "$(lines 'select(.tool == "echo") | [.server, .agent, .method, .tool, .status, .outcome, (.duration_ms | type)]')" \
		'["files","reader","tools/call","echo",200,"refused","number"]' "JSON log: a refused call's fields"
	is "$(lines 'select(.tool == "add") | [.server, .agent, .http_method, .status, .outcome]')" \
		'["files","reader","POST",200,"ok"]' "JSON log: an allowed call's fields"
	is "$(lines 'select(.status == 403) | [.server, .agent, .outcome]')" '["crm","reader","refused"]' \
		"JSON log: the 403's fields"
	! grep -qF "$tok_jwt" "$T/mcpd.err" && ok "no JWT appears in the log" || not_ok "a JWT in the log"
	stop_mcpd
else
	skip "JSON log lines and a JWT agent" "openssl or node is missing"
fi

no_leftovers "$T" "no process is left behind"
done_testing
