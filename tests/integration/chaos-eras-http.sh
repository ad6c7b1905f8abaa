#!/bin/bash
# Hostile peers of the gateway in both eras and of the HTTP probes: header
# values that are not printable ASCII (control bytes, invalid UTF-8) echoed
# in errors as valid JSON text; header and body games; hundreds of
# subscriptions/listen streams, then SIGTERM (shutdown must not hang); HTTP
# upstreams whose era never settles (re-probes logged once a minute, with a
# count), that answer event-stream garbage or a 100 MiB 400. mcpd stays up,
# in budget, without a sanitizer report, and other clients are unharmed.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

command -v python3 >/dev/null || { skip "hostile peers" "python3 is not installed"; done_testing; exit 0; }
hostile=$top_srcdir/tests/integration/hostile-http-upstream.py

write_manifest() {
	local p=$1
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$p
  gateway: { request_timeout: 20s }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only]
  gone:
    command: [$EXAMPLE, --name, gone, --modern-only]
  flap:
    transport: http
    url: http://127.0.0.1:$((p + 1))/mcp
    health: { interval: 1s, timeout: 800ms, unhealthy_after: 1000 }
  garbage:
    transport: http
    url: http://127.0.0.1:$((p + 2))/mcp
    health: { interval: 500ms, timeout: 400ms, unhealthy_after: 1000 }
  big:
    transport: http
    url: http://127.0.0.1:$((p + 3))/mcp
    health: { interval: 500ms, timeout: 400ms, unhealthy_after: 1000 }
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with the gateway"; done_testing; exit 1; }
spawn flap python3 "$hostile" $((port + 1)) flap-versions
spawn garbage python3 "$hostile" $((port + 2)) sse-garbage
spawn big python3 "$hostile" $((port + 3)) big400
url=http://127.0.0.1:$port/mcp
wait_state 30 ex running
wait_state 30 modern running
wait_state 30 gone running

V=2026-07-28
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
call='{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{'"$META"',"name":"echo","arguments":{"text":"hi"}}}'
list='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{'"$META"'}}'
# post BODY [curl args]: the HTTP status; the body in $T/body.
post() {
	local body=$1
	shift
	curl -s -o "$T/body" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -d "$body" "$@"
}
# valid_error CODE: the body is UTF-8 JSON text, a JSON-RPC error with this code.
valid_error() {
	python3 - "$T/body" "$1" <<'PY'
import json, sys
msg = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
sys.exit(0 if msg["error"]["code"] == int(sys.argv[2]) and all(0x20 <= ord(c) < 0x7f for c in msg["error"]["message"]) else 1)
PY
}

# --- Header values that are not printable ASCII --------------------------------
is "$(post "$call" -H "MCP-Protocol-Version: $V" -H $'Mcp-Method: tools/\xff\xfecall' -H 'Mcp-Name: echo' "$url/modern")" 400 \
	"an Mcp-Method header with invalid UTF-8 gets 400"
valid_error -32020 && ok "its error is valid UTF-8 JSON, the header's bytes made printable" ||
	not_ok "valid error body for invalid UTF-8 in Mcp-Method" "$(od -c "$T/body" | head -n 8)"
is "$(post "$call" -H "MCP-Protocol-Version: $V" -H $'Mcp-Method: tools/\x01call' -H 'Mcp-Name: echo' "$url/modern")" 400 \
	"an Mcp-Method header with a control byte gets 400"
valid_error -32020 && ok "its error names it without the control byte" ||
	not_ok "valid error body for a control byte in Mcp-Method" "$(od -c "$T/body" | head -n 8)"
is "$(post "$list" -H $'MCP-Protocol-Version: 2026-07-28\xc3' -H 'Mcp-Method: tools/list' "$url/modern")" 400 \
	"an MCP-Protocol-Version header with invalid UTF-8 gets 400"
valid_error -32022 && ok "its -32022 error is valid UTF-8 JSON" ||
	not_ok "valid error body for invalid UTF-8 in MCP-Protocol-Version" "$(od -c "$T/body" | head -n 8)"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["error"]["data"]; sys.exit(0 if len(d["requested"]) <= 43 and d["requested"].isprintable() else 1)' "$T/body" &&
	ok "its data.requested is printable and bounded" || not_ok "data.requested" "$(cat "$T/body")"
long=$(printf 'x%.0s' {1..6000})
is "$(post "$list" -H "MCP-Protocol-Version: $long" -H 'Mcp-Method: tools/list' "$url/modern")" 400 \
	"an MCP-Protocol-Version header of 6000 bytes gets 400"
valid_error -32022 && [[ $(wc -c <"$T/body") -lt 1000 ]] && ok "its error does not echo it whole" ||
	not_ok "bounded error for a long version header" "$(head -c 300 "$T/body")"
nonascii='{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{'"$META"',"name":"\u00e9cho\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}}'
is "$(post "$nonascii" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' "$url/modern")" 400 \
	"a long non-ASCII params.name that Mcp-Name does not mirror gets 400"
valid_error -32020 && ok "its error is valid UTF-8 JSON (no multi-byte character cut in half)" ||
	not_ok "valid error body for a non-ASCII body name" "$(od -c "$T/body" | head -n 8)"
is "$(post "$call" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: =?base64?ZWNobwA=?=' "$url/modern")" 400 \
	"an Mcp-Name sentinel decoding to the name and a NUL byte does not match"
is "$(post "$call" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H "Mcp-Name: =?base64?$(printf 'QUFB%.0s' {1..2000})?=" "$url/modern")" 400 \
	"an Mcp-Name sentinel of 8000 bytes gets 400"
valid_error -32020 && [[ $(wc -c <"$T/body") -lt 1000 ]] && ok "its error is short" || not_ok "bounded Mcp-Name error" "$(head -c 300 "$T/body")"

# --- Body games -----------------------------------------------------------------
is "$(post "[$call,$call]" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' "$url/modern")" 400 \
	"a batch in a modern POST gets 400"
valid_error -32600 && ok "with error -32600" || not_ok "batch error" "$(cat "$T/body")"
is "$(post "$(printf '[%.0s' {1..5000})$(printf ']%.0s' {1..5000})" -H "MCP-Protocol-Version: $V" "$url/modern")" 400 \
	"5000 nested arrays get 400"
valid_error -32700 && ok "with error -32700" || not_ok "nesting error" "$(cat "$T/body")"
big_meta=$(python3 -c 'import json; print(json.dumps({"jsonrpc":"2.0","id":9,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","pad":"x"*(4*1024*1024-200)}}}))')
printf '%s' "$big_meta" >"$T/big.json"
is "$(curl -s -o "$T/body" -w '%{http_code}' --max-time 60 -H 'Content-Type: application/json' -H "MCP-Protocol-Version: $V" \
	-H 'Mcp-Method: tools/list' --data-binary @"$T/big.json" "$url/modern")" 200 "a tools/list with 4 MiB of _meta is served"
is "$(post "$list" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' "$url/ex")" 200 \
	"after the header and body games, a modern tools/list still gets 200"

# --- A reload removes the server under suspended requests and open listens ------
for i in 1 2 3; do
	spawn "gl$i" curl -sN --max-time 60 -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
		-H "MCP-Protocol-Version: $V" -H 'Mcp-Method: subscriptions/listen' \
		-d '{"jsonrpc":"2.0","id":"L'$i'","method":"subscriptions/listen","params":{'"$META"',"notifications":{"toolsListChanged":true}}}' "$url/gone"
	spawn "gs$i" curl -sN --max-time 60 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		-H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: sleep' \
		-d '{"jsonrpc":"2.0","id":'$i',"method":"tools/call","params":{'"${META%\}}"',"progressToken":'$i'},"name":"sleep","arguments":{"ms":30000}}}' "$url/gone"
done
# The three listens are acknowledged and the three calls have reached the server (in flight).
_gone_busy() {
	(($(grep -c 'gone: .*attached' "$T/mcpd.err") >= 3)) && grep -q 'subscriptions/acknowledged' "$T/gl3.out" &&
		curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | grep -qx 'mcpd_requests_in_flight{server="gone"} 3'
}
wait_until 30 _gone_busy || diag "the listens and calls on gone did not all start: $(cat "$T"/gl*.out | head -c 500)"
sed -i '/^  gone:/,/^    command:.*gone/d' "$T/m.yaml"
like "$(ctl reload 2>&1)" 'removed: gone' "a reload removes the server under 3 listens and 3 calls in flight"
_curls_done() { ! alive "$pid_gl1" && ! alive "$pid_gl2" && ! alive "$pid_gl3" && ! alive "$pid_gs1" && ! alive "$pid_gs2" && ! alive "$pid_gs3"; }
wait_until 30 _curls_done && ok "every listen stream and call response ends" || not_ok "streams end on removal" "$(tail -c 300 "$T"/gl1.out "$T"/gs1.out)"
n=0
for i in 1 2 3; do
	grep -q '"id":'$i',"error":{"code":-31000' "$T/gs$i.out" && n=$((n + 1))
done
is "$n" 3 "each call gets error -31000 on its stream"
is "$(post "$list" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' "$url/gone")" 404 "the removed server's endpoint is a 404"
is "$(post "$list" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' "$url/modern")" 200 "another server's modern tools/list gets 200"

# --- Hundreds of listen streams, then SIGTERM -----------------------------------
cat >"$T/listen.py" <<'PY'
import json, socket, sys, time
port, n, src = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "x", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}}
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen",
                   "params": {"_meta": meta, "notifications": {"toolsListChanged": True}}}).encode()
head = ("POST /mcp/modern HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
        "Mcp-Method: subscriptions/listen\r\nContent-Length: %d\r\n\r\n" % len(body)).encode()
socks, ok, busy = [], 0, 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(src, 0))
    s.sendall(head + body)
    socks.append(s)
for s in socks:
    try:
        head = s.recv(100)
        ok += head.startswith(b"HTTP/1.1 200")
        busy += head.startswith(b"HTTP/1.1 503")
    except OSError:
        pass
print("streams %d refused %d" % (ok, busy), flush=True)
deadline = time.time() + 120
while time.time() < deadline:
    time.sleep(0.5)
PY
for i in 2 3 4; do
	spawn "listen$i" python3 "$T/listen.py" "$port" 64 "127.0.0.$i"
done
_streams() { [[ -s $T/listen2.out && -s $T/listen3.out && -s $T/listen4.out ]]; }
wait_until 60 _streams || not_ok "the listen clients report" "$(cat "$T"/listen*.out)"
is "$(cat "$T"/listen*.out | awk '{ o += $2; r += $4 } END { print o, r }')" "128 64" \
	"of 192 subscriptions/listen streams from three addresses, 128 are open and 64 get 503 (event stream budget)"
is "$(post "$list" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/list' "$url/ex")" 200 \
	"with them open, another client's modern tools/list gets 200"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$port/livez")" 200 \
	"and /livez answers"
wait_log 30 'gateway: 64 event streams .* answered 503 in the last 10s: 128 open already' &&
	ok "the refused streams are logged as one summary with their count" || not_ok "stream summary" "$(grep gateway: "$T/mcpd.err" | tail -n 5)"

# --- HTTP upstreams: era never found, event-stream garbage, 100 MiB 400 -------------
_probed() { (($(grep -cx 'server/discover' "$T/flap.err") >= 20)); }
wait_until 60 _probed && ok "the flapping upstream was probed 10 times" || not_ok "flap probed" "$(tail -n 5 "$T/flap.err")"
n=$(grep -c 'flap: .*probing its protocol era again' "$T/mcpd.err")
((n >= 1 && n <= 2)) && ok "its re-probes are logged once a minute at most ($n lines for $(grep -cx 'server/discover' "$T/flap.err") discovers)" ||
	not_ok "re-probes logged once a minute at most: $n lines" "$(grep 'flap:' "$T/mcpd.err" | tail -n 5)"
_failed_reason() { [[ $(field_of "$1" reason) == *"$2"* ]]; }
wait_until 30 _failed_reason garbage "not JSON-RPC" && ok "an upstream answering event-stream garbage fails its probe, not JSON-RPC" ||
	not_ok "garbage reason" "$(field_of garbage reason)"
wait_until 30 _failed_reason big "larger than 4 MiB" && ok "an upstream answering a 100 MiB 400 fails its probe at 4 MiB" ||
	not_ok "big reason" "$(field_of big reason)"
# Each stream has its access log line (and its relay attach and detach): budget for those.
mcpd_within_budget "the hostile HTTP clients and upstreams" 600000 1000

stop_mcpd
! grep -qE "ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer" "$T/mcpd.err" && ok "no sanitizer report at shutdown with 192 streams open" ||
	not_ok "sanitizer report at shutdown" "$(grep -A 20 -E "Sanitizer|runtime error" "$T/mcpd.err" | head -n 30)"
done_testing
