#!/bin/bash
# Chaos across protocol eras in the relay (mcpctl connect): hostile servers
# (input_required that is no request, repeated input keys, request ids in
# mcpd's own "mcpd-in-" space, resources/subscribe never answered, a server
# that stops reading), hostile clients (wrong _meta types, floods of listens,
# notifications and cancellations, answers to requests never sent, clients
# that leave in the middle of each exchange). Through all of it mcpd stays
# up, answers status, keeps its RSS and log within budget, the sanitizers
# stay silent, and the other clients and servers are unharmed.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v /usr/bin/python3 || command -v python3)
if [[ -z $PY ]]; then
	skip "relay chaos across eras" "python3 is not installed"
	done_testing
fi

RSS_BUDGET_KB=$((200 * 1024))	# a sanitizer build, with a smaller quarantine
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
LOG_BUDGET_LINES=3000

# peer.py SOCK SERVER SCRIPT: a relay client driven by a script (see its header).
cat >"$T/peer.py" <<'PY'
import json, re, socket, subprocess, sys, time
# peer.py SOCK SERVER SCRIPT: a relay client (mcpctl connect) driven by SCRIPT:
#   SEND <json>             write one line
#   WAIT <secs> <regex>     until a line read matches (else exit 3)
#   REPLY <secs> <regex> <json with @ID@>  answer the matching line with its id
#   REPEAT <n> <json with @N@>  write n lines
#   UNTIL <secs> <shell command>  run it until it succeeds (every 0.2 s; else exit 3)
# Every line read goes to stdout.
path, server, script = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "connect", "params": {"name": server}}) + "\n").encode())
buf, lines, seen = b"", [], 0

def read_some(timeout):
    global buf
    s.settimeout(timeout)
    try:
        chunk = s.recv(1 << 20)
    except socket.timeout:
        return True
    if not chunk:
        return False
    buf += chunk
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        text = line.decode(errors="replace")
        lines.append(text)
        print(text[:2000], flush=True)
    return True

# the connect reply
while not lines:
    if not read_some(30):
        sys.exit("connect: closed")
if '"result"' not in lines[0]:
    sys.exit("connect: " + lines[0])
seen = 1

def wait(secs, rx):
    global seen
    deadline = time.monotonic() + float(secs)
    r = re.compile(rx)
    while True:
        for i in range(seen, len(lines)):
            if r.search(lines[i]):
                seen = i + 1
                return lines[i]
        if time.monotonic() > deadline:
            sys.stderr.write("timeout waiting for %s\n" % rx)
            sys.exit(3)
        if not read_some(0.2):
            sys.stderr.write("closed waiting for %s\n" % rx)
            sys.exit(4)

for cmd in open(script).read().split("\n"):
    if not cmd.strip():
        continue
    verb, _, rest = cmd.partition(" ")
    if verb == "SEND":
        s.sendall(rest.encode() + b"\n")
    elif verb == "REPEAT":
        n, _, tmpl = rest.partition(" ")
        s.sendall(b"".join(tmpl.replace("@N@", str(i)).encode() + b"\n" for i in range(int(n))))
    elif verb == "WAIT":
        secs, _, rx = rest.partition(" ")
        wait(secs, rx)
    elif verb == "UNTIL":
        secs, _, shell = rest.partition(" ")
        deadline = time.monotonic() + float(secs)
        while subprocess.run(shell, shell=True).returncode != 0:
            if time.monotonic() > deadline:
                sys.stderr.write("timeout: %s\n" % shell)
                sys.exit(3)
            read_some(0.2)
    elif verb == "REPLY":
        secs, _, rest2 = rest.partition(" ")
        rx, _, tmpl = rest2.partition(" ")
        got = json.loads(wait(secs, rx))
        s.sendall(tmpl.replace("@ID@", json.dumps(got["id"])).encode() + b"\n")
s.close()
PY

# hostile.py MODE: a misbehaving stdio MCP server (see its header).
cat >"$T/hostile.py" <<'PY'
import json, sys
# hostile.py MODE [LOG]: a misbehaving stdio MCP server; LOG gets every line it reads.
#   collide   (legacy) tools/call asks the client sampling/createMessage with id "mcpd-in-1"
#             and answers the call with what the client said
#   nosub     (legacy) never answers resources/subscribe nor unsubscribe
#   discover-caps  (modern) server/discover with capabilities an array, instructions a number;
#             tools/call sends notifications of subscription ids never given, 3000 log
#             messages and resources/updated, and roots/list
#   discover-huge  (modern) a 4 MiB server/discover answer
#   manyinputs  (modern) tools/call answers input_required with 16 input requests
#   badinput  (modern) tools/call answers input_required whose inputRequests have no method
#   dupinput  (modern) tools/call answers input_required whose inputRequests repeat a key ("a", "a", "A")
mode = sys.argv[1]
log = open(sys.argv[2], "a") if len(sys.argv) > 2 else None
calls = {}

def out(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()

def send(o):
    out(json.dumps(o, separators=(",", ":")))

def result(i, r):
    send({"jsonrpc": "2.0", "id": i, "result": r})

for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if log:
        log.write(line[:300].strip() + "\n")
        log.flush()
    method, i = m.get("method"), m.get("id")
    if method is None:
        if i in calls:
            result(calls.pop(i), {"content": [{"type": "text", "text": "client said " + json.dumps(m.get("result"))}]})
        continue
    if i is None:
        continue
    if method == "server/discover" and mode.startswith("discover-"):
        r = {"resultType": "complete", "supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}},
             "serverInfo": {"name": "hostile", "version": "1"}}
        if mode == "discover-str":
            r["supportedVersions"] = "2026-07-28"
        elif mode == "discover-caps":
            r["capabilities"], r["serverInfo"], r["instructions"] = [1, 2], "x", 5
        elif mode == "discover-huge":
            r["instructions"] = "i" * (4 << 20)
        result(i, r)
    elif method == "tools/call" and mode.startswith("discover-"):
        # Notifications tagged with subscription ids mcpd never gave, then floods, then a request.
        for sub in [1, 2, 3, "mcpd-1", {"a": 1}, 1e300, -1, None, [1], 9007199254740993]:
            send({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                  "params": {"uri": "u", "_meta": {"io.modelcontextprotocol/subscriptionId": sub}}})
        for k in range(3000):
            send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": ["debug", "error", "bogus", 5][k % 4], "data": k}})
            send({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": "file:///f%d" % k}})
        send({"jsonrpc": "2.0", "id": "r1", "method": "roots/list", "params": {}})
        send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
        result(i, {"resultType": "complete", "content": [{"type": "text", "text": "flooded"}]})
    elif method == "server/discover":
        if mode in ("dupinput", "badinput", "manyinputs"):
            result(i, {"resultType": "complete", "supportedVersions": ["2026-07-28"],
                       "capabilities": {"tools": {}}, "serverInfo": {"name": "hostile", "version": "1"}})
        else:
            send({"jsonrpc": "2.0", "id": i, "error": {"code": -32601, "message": "no"}})
    elif method == "initialize":
        result(i, {"protocolVersion": m["params"]["protocolVersion"],
                   "capabilities": {"tools": {}, "resources": {"subscribe": True}},
                   "serverInfo": {"name": "hostile", "version": "1"}})
    elif method in ("resources/subscribe", "resources/unsubscribe") and mode == "nosub":
        continue
    elif method == "tools/call" and mode == "collide":
        calls["mcpd-in-1"] = i
        send({"jsonrpc": "2.0", "id": "mcpd-in-1", "method": "sampling/createMessage",
              "params": {"messages": [], "maxTokens": 1}})
    elif method == "tools/call" and mode == "badinput":
        # An input request without a method (and one that is no object at all).
        out('{"jsonrpc":"2.0","id":%s,"result":{"resultType":"input_required","inputRequests":{'
            '"a":{"params":{}},"b":5,"c":{"method":7}},"requestState":"s"}}' % json.dumps(i))
    elif method == "tools/call" and mode == "manyinputs":
        p = m.get("params", {})
        if "inputResponses" in p:
            result(i, {"resultType": "complete", "content": [{"type": "text", "text": "inputs %d bytes" % len(json.dumps(p["inputResponses"]))}]})
        else:
            result(i, {"resultType": "input_required", "inputRequests": {"k%d" % k: {"method": "roots/list"} for k in range(16)}})
    elif method == "tools/call" and mode == "dupinput":
        p = m.get("params", {})
        if "inputResponses" in p:
            result(i, {"resultType": "complete", "content": [{"type": "text", "text": "inputs " + json.dumps(p["inputResponses"], sort_keys=True)}]})
        else:
            # Two inputs under the same key (JSON allows it), and one whose key differs only in case.
            out('{"jsonrpc":"2.0","id":%s,"result":{"resultType":"input_required","inputRequests":{'
                '"a":{"method":"roots/list","params":{}},"a":{"method":"roots/list","params":{}},'
                '"A":{"method":"roots/list"}}}}' % json.dumps(i))
    elif method == "tools/list":
        result(i, {"tools": []})
    else:
        result(i, {})
PY

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --log-requests]
  dual:
    command: [$EXAMPLE, --name, dual, --dual-era, --log-requests]
  collide:
    command: [$PY, $T/hostile.py, collide, $T/collide.log]
  nosub:
    command: [$PY, $T/hostile.py, nosub]
  dup:
    command: [$PY, $T/hostile.py, dupinput]
  bad:
    command: [$PY, $T/hostile.py, badinput]
  dcaps:
    command: [$PY, $T/hostile.py, discover-caps]
  dhuge:
    command: [$PY, $T/hostile.py, discover-huge]
  flip:
    command: [$T/flip.sh]
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only]
  many:
    command: [$PY, $T/hostile.py, manyinputs]
YAML

# flip.sh: the example server, its era flipping at each start (modern only,
# legacy, both: mcpd then speaks legacy, the era the last process spoke).
cat >"$T/flip.sh" <<SH
#!/bin/bash
n=\$(cat "$T/flip.n" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$T/flip.n"
case \$((n % 3)) in
0) exec "$EXAMPLE" --name flip --modern-only ;;
1) exec "$EXAMPLE" --name flip ;;
2) exec "$EXAMPLE" --name flip --dual-era ;;
esac
SH
chmod +x "$T/flip.sh"

healthy() {
	mcpd_within_budget "$1" "$RSS_BUDGET_KB" "$LOG_BUDGET_LINES"
}

# unlike TEXT REGEX DESC: TEXT does not match REGEX.
unlike() {
	if grep -qE -- "$2" <<<"$1"; then
		not_ok "$3" "$(grep -E -- "$2" <<<"$1" | head -n 3)"
	else
		ok "$3"
	fi
}

# peer NAME SERVER SCRIPT-FILE: run a scripted client (60 s at most); its lines in $T/NAME.out.
peer() {
	timeout 60 "$PY" "$T/peer.py" "$SOCK" "$2" "$3" >"$T/$1.out" 2>"$T/$1.err"
}

M='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
INIT='{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{},"roots":{}},"clientInfo":{"name":"t","version":"1"}}}'

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
for s in ex dual collide nosub dup bad dcaps dhuge flip modern many; do
	wait_state 30 $s running || not_ok "$s running" "$(ctl status)"
done

# --- 1. A modern server's input_required whose input requests are no requests
# (no method, a number, a method that is a number): mcpd asserted on building
# the request for the legacy client, and aborted.
cat >"$T/bad.in" <<IN
SEND $INIT
WAIT 20 "id":"i","result"
SEND {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}
WAIT 20 "id":2,"error"
SEND {"jsonrpc":"2.0","id":3,"method":"ping"}
WAIT 20 "id":3,"result"
IN
peer bad bad "$T/bad.in"
like "$(cat "$T/bad.out")" '"id":2,"error":\{"code":-32603,"message":"server \\"bad\\" answered tools/call with input_required whose input request \\"a\\" is not a request' \
	"an input_required whose input request has no method fails the legacy client's request with -32603, naming it"
like "$(cat "$T/bad.out")" '"id":3,"result"' "the session stays usable"
healthy "input requests that are no requests"

# --- 2. The same input key twice (JSON allows it): the client was asked twice,
# and mcpd waited for ever for a second answer it had already discarded. Keys
# that differ in case only ("a", "A") are two inputs: the answer to "A" was
# taken for a second answer to "a" (cJSON_HasObjectItem ignores case).
cat >"$T/dup.in" <<IN
SEND $INIT
WAIT 20 "id":"i","result"
SEND {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}
REPLY 20 "method":"roots/list" {"jsonrpc":"2.0","id":@ID@,"result":{"roots":[]}}
REPLY 20 "method":"roots/list" {"jsonrpc":"2.0","id":@ID@,"result":{"roots":[]}}
WAIT 20 "id":2,
IN
peer dup dup "$T/dup.in"
like "$(cat "$T/dup.out")" '"id":2,"result":\{"resultType":"complete","content":\[\{"type":"text","text":"inputs \{\\"A\\": \{\\"roots\\": \[\]\}, \\"a\\": \{\\"roots\\": \[\]\}\}"' \
	"input requests with a repeated key, and keys differing in case, complete with the answers"
is "$(grep -c '"method":"roots/list"' "$T/dup.out")" 2 "the client is asked once per key"
healthy "repeated input keys"

# --- 3. A legacy server's request whose id is "mcpd-in-1": the client's answer
# was taken for one to mcpd's own input requests and never reached the server.
cat >"$T/collide.in" <<IN
SEND $INIT
WAIT 20 "id":"i","result"
SEND {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}
REPLY 20 "method":"sampling/createMessage" {"jsonrpc":"2.0","id":@ID@,"result":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}}
WAIT 20 "id":2,
IN
peer collide collide "$T/collide.in"
like "$(cat "$T/collide.out")" '"id":2,"result":\{"content":\[\{"type":"text","text":"client said' \
	"a server's request with an id like mcpd's \"mcpd-in-N\" gets the client's answer"
like "$(cat "$T/collide.log" 2>/dev/null)" '"id":"mcpd-in-1","result":\{"role":"assistant"' "the server received that answer"
healthy "a server's request ids in mcpd's own space"

# --- 4. A legacy server that never answers resources/subscribe nor unsubscribe:
# each listen opened and cancelled by a modern client left 2 x 256 requests of
# mcpd's own waiting for ever (62 MB after 200 cycles).
$PY - "$M" >"$T/nosub.in" <<'PYGEN'
import json, sys
meta = json.loads("{" + sys.argv[1] + "}")["_meta"]
uris = ["file:///r%d" % i for i in range(256)]
for c in range(200):
    print("SEND " + json.dumps({"jsonrpc": "2.0", "id": "L%d" % c, "method": "subscriptions/listen",
        "params": {"notifications": {"resourceSubscriptions": uris}, "_meta": meta}}, separators=(",", ":")))
    print("WAIT 20 acknowledged")
    print("SEND " + json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": "L%d" % c, "_meta": meta}}, separators=(",", ":")))
print('SEND {"jsonrpc":"2.0","id":"p","method":"ping"}')
print('WAIT 20 "id":"p"')
PYGEN
rss0=$(mcpd_rss_kb)
peer nosub nosub "$T/nosub.in"
like "$(cat "$T/nosub.out")" '"id":"p","result"' "200 listens of 256 URIs opened and cancelled on a server that never answers resources/subscribe"
like "$(mcpd_log)" "nosub: 1024 of mcpd's own requests for MCP clients' subscriptions/listen .* wait for the server's answer; more are sent without waiting" \
	"mcpd waits for at most 1024 answers of its own requests, and logs when it reaches that"
is "$(grep -c "1024 of mcpd's own requests" "$T/mcpd.err")" 1 "... once"
rss1=$(mcpd_rss_kb)
diag "RSS before the listens: ${rss0} kB, after: ${rss1} kB"
healthy "listens on a server that never answers resources/subscribe"

# --- 5. A server that stops reading while one client floods it with
# notifications and listens: the 8 MiB of its input filled up, and the server
# (shared by every client) was stopped. Now what passes 4 MiB is dropped or refused.
$PY - "$M" >"$T/flood.in" <<'PYGEN'
import json, sys
meta = json.loads("{" + sys.argv[1] + "}")["_meta"]
big = "x" * 900000
for i in range(12):
    print("SEND " + json.dumps({"jsonrpc": "2.0", "method": "notifications/roots/list_changed",
        "params": {"pad": big}}, separators=(",", ":")))
uris = ["file:///" + ("u%d-" % i) + "y" * 3900 for i in range(256)]
for c in range(12):
    print("SEND " + json.dumps({"jsonrpc": "2.0", "id": "L%d" % c, "method": "subscriptions/listen",
        "params": {"notifications": {"resourceSubscriptions": uris}, "_meta": meta}}, separators=(",", ":")))
for c in range(12):
    print("SEND " + json.dumps({"jsonrpc": "2.0", "id": "S%d" % c, "method": "resources/subscribe",
        "params": {"uri": "file:///s%d" % c + "z" * 4000}}, separators=(",", ":")))
print('SEND {"jsonrpc":"2.0","id":"p","method":"ping"}')
print('WAIT 30 "id":"p"')
PYGEN
srv=$(field_of ex pid)
kill -STOP "$srv"
peer flood ex "$T/flood.in"
kill -CONT "$srv"
like "$(cat "$T/flood.out")" '"id":"p","result"' "a client floods a server that stopped reading with 10 MiB of notifications, 12 MiB of listens and subscriptions"
like "$(cat "$T/flood.out")" '"id":"L11","error":\{"code":-31000,"message":"server \\"ex\\" is busy"' "listens past 4 MiB waiting for the server get -31000 busy"
like "$(cat "$T/flood.out")" '"id":"S11","error":\{"code":-31000,"message":"server \\"ex\\" is busy"' "so do subscriptions"
like "$(mcpd_log)" "ex: more than 4194304 bytes wait for the server's input: an MCP client's notifications are dropped" "dropped notifications are logged"
like "$(mcpd_log)" "ex: an MCP client detached; [0-9]+ of its notifications were dropped" "... with their count"
unlike "$(mcpd_log)" "ex: stopping: does not read its stdin" "the server is not stopped for what one client sent"
is "$(field_of ex restarts)" 0 "the server was not restarted"
healthy "a client flooding a server that stopped reading"

# --- 6. Hostile modern clients: _meta of the wrong types, versions that are
# no strings, nesting 10000 deep, 1.5 MiB of capabilities, floods of
# server/discover, 70 listens, a listen of 60000 URIs, cancellations and
# answers for requests never sent. Each gets its error; the session stays usable.
$PY - "$M" >"$T/junk.in" <<'PYGEN'
import json, sys
meta = json.loads("{" + sys.argv[1] + "}")["_meta"]
def send(o):
    print("SEND " + json.dumps(o, separators=(",", ":")))
send({"jsonrpc": "2.0", "id": "m1", "method": "tools/list", "params": {"_meta": "x"}})
send({"jsonrpc": "2.0", "id": "m2", "method": "tools/list", "params": {"_meta": [1, 2]}})
send({"jsonrpc": "2.0", "id": "m3", "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": 20260728}}})
send({"jsonrpc": "2.0", "id": "m4", "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "1999-01-01"}}})
send({"jsonrpc": "2.0", "id": "m5", "method": "tools/list", "params": {"_meta": dict(meta, **{"io.modelcontextprotocol/clientCapabilities": [1], "io.modelcontextprotocol/logLevel": {"x": 1}})}})
send({"jsonrpc": "2.0", "id": "m6", "method": "tools/list", "params": "not an object"})
print('SEND {"jsonrpc":"2.0","id":"deep","method":"tools/list","params":' + "[" * 10000 + "]" * 10000 + "}")
send({"jsonrpc": "2.0", "id": "caps", "method": "tools/list", "params": {"_meta": dict(meta, **{"io.modelcontextprotocol/clientCapabilities": {"x": "c" * 1500000}})}})
for i in range(2000):
    send({"jsonrpc": "2.0", "id": "d%d" % i, "method": "server/discover", "params": {"_meta": meta}})
for i in range(70):
    send({"jsonrpc": "2.0", "id": "L%d" % i, "method": "subscriptions/listen", "params": {"notifications": {"toolsListChanged": True}, "_meta": meta}})
send({"jsonrpc": "2.0", "id": "big", "method": "subscriptions/listen", "params": {"notifications": {"resourceSubscriptions": ["u%d" % i for i in range(60000)]}, "_meta": meta}})
for rid in ["never", "mcpd-in-1", "mcpd-1", 12345, 1e300, None, {"a": 1}]:
    send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "_meta": meta}})
for rid in ["mcpd-in-5", "mcpd-in-x", "mcpd-in-99999999999999999999999", 12345, 1e300]:
    send({"jsonrpc": "2.0", "id": rid, "result": {}})
    send({"jsonrpc": "2.0", "id": rid, "error": {"code": 1, "message": "no"}})
send({"jsonrpc": "2.0", "id": "end", "method": "tools/list", "params": {"_meta": meta}})
print('WAIT 60 "id":"end"')
PYGEN
for s in ex dual; do
	peer "junk-$s" $s "$T/junk.in"
	out=$(cat "$T/junk-$s.out")
	like "$out" '"id":"end","result"' "$s: a modern client's junk is all answered, and the session stays usable"
	like "$out" '"id":"m4","error":\{"code":-32022' "$s: an unsupported _meta protocolVersion gets -32022"
	like "$out" '"id":"deep","error":\{"code":-32700' "$s: nesting 10000 deep gets a parse error"
	like "$out" '"id":"caps","error":\{"code":-32600,"message":"invalid request: the message is longer than' "$s: 1.5 MiB of capabilities are refused with -32600"
	is "$(grep -c '"id":"d[0-9]*","result"' "$T/junk-$s.out")" 2000 "$s: 2000 server/discover are all answered"
	is "$(grep -c '"id":"L[0-9]*","error":{"code":-31000,"message":"too many subscriptions/listen streams open (at most 64)"' "$T/junk-$s.out")" 6 \
		"$s: 64 listens per client, the 6 past them get -31000"
	healthy "$s: a hostile modern client"
done
cat >"$T/biglisten.in" <<IN
SEND {"jsonrpc":"2.0","id":"big","method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[$(seq -f '"u%g"' -s , 1 60000)]},$M}}
WAIT 20 acknowledged
IN
peer biglisten nosub "$T/biglisten.in"
like "$(cat "$T/biglisten.out")" '"notifications/subscriptions/acknowledged".*"resourceSubscriptions":\["u1","u2",.*"u256"\]' \
	"a listen of 60000 URIs on a legacy server is acknowledged with the 256 kept"
like "$(mcpd_log)" "asked for 60000 resources; mcpd subscribes at most 256" "and the URIs left out are logged"

# --- 6b. A legacy client's request whose keys differ from "params" and "_meta"
# in case only: cJSON_HasObjectItem found them, the case-sensitive replace did
# not, and the _meta mcpd adds for the modern server leaked, never sent.
cat >"$T/case.in" <<IN
SEND $INIT
WAIT 20 "id":"i","result"
SEND {"jsonrpc":"2.0","id":"case1","method":"tools/list","PARAMS":1}
WAIT 20 "id":"case1","result"
SEND {"jsonrpc":"2.0","id":"case2","method":"tools/list","params":{"_META":5}}
WAIT 20 "id":"case2","result"
IN
peer case dual "$T/case.in"
like "$(cat "$T/case.out")" '"id":"case2","result"' "a legacy client's requests with PARAMS and _META keys are answered"
like "$(mcpd_log)" 'dual: request: \{"jsonrpc":"2.0","id":[0-9]+,"method":"tools/list","PARAMS":1,"params":\{"_meta":\{"io.modelcontextprotocol/protocolVersion":"2026-07-28"' \
	"... and reach the modern server with the _meta mcpd adds, next to PARAMS"
like "$(mcpd_log)" 'dual: request: \{"jsonrpc":"2.0","id":[0-9]+,"method":"tools/list","params":\{"_META":5,"_meta":\{"io.modelcontextprotocol/protocolVersion":"2026-07-28"' \
	"... and next to _META"
healthy "keys that differ in case only"

# --- 7. Clients that leave in the middle of each exchange: a legacy client
# asked for input on a modern server, a modern client with listens open on a
# legacy one, a legacy client subscribed on a modern one. The server side is
# cleaned up. (Calls in flight are cancelled after the drain: chaos-relay.sh.)
cat >"$T/leave-dup.in" <<IN
SEND $INIT
WAIT 20 "id":"i","result"
SEND {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{}}}
WAIT 20 "method":"roots/list"
IN
peer leave-dup dup "$T/leave-dup.in"
like "$(cat "$T/leave-dup.out")" '"method":"roots/list"' "a legacy client leaves while mcpd asks it for a modern server's input"
cat >"$T/leave-ex.in" <<IN
SEND {"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///leave-a"]},$M}}
WAIT 20 acknowledged
SEND {"jsonrpc":"2.0","id":"L2","method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///leave-a","file:///leave-b"]},$M}}
WAIT 20 acknowledged
IN
peer leave-ex ex "$T/leave-ex.in"
if wait_log 20 "ex: unsubscribed file:///leave-b" && wait_log 20 "ex: unsubscribed file:///leave-a"; then
	ok "a modern client that leaves with listens open: the legacy server is unsubscribed"
else
	not_ok "a modern client that leaves with listens open: the legacy server is unsubscribed" "$(grep leave- "$T/mcpd.err")"
fi
is "$(grep -c "ex: subscribed file:///leave-a" "$T/mcpd.err")" 1 "a URI two listens hold is subscribed once"
is "$(grep -c "ex: unsubscribed file:///leave-a" "$T/mcpd.err")" 1 "... and unsubscribed once"
_cancels() {
	grep -cE 'dual: request: \{"jsonrpc":"2.0","method":"notifications/cancelled","params":\{"requestId":[0-9]+,"reason":"the MCP client disconnected"' "$T/mcpd.err"
}
_cancels_reach() {
	(($(_cancels) >= $1))
}
before=$(_cancels)
cat >"$T/leave-dual.in" <<IN
SEND $INIT
WAIT 20 "id":"i","result"
SEND {"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"file:///leave-c"}}
WAIT 20 "id":2,"result"
SEND {"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"debug"}}
WAIT 20 "id":3,"result"
IN
peer leave-dual dual "$T/leave-dual.in"
if wait_until 20 _cancels_reach $((before + 1)); then
	ok "a legacy client that leaves a modern server: the listen mcpd opened for it is cancelled upstream"
else
	not_ok "a legacy client that leaves a modern server: the listen mcpd opened for it is cancelled upstream" "$(grep dual: "$T/mcpd.err" | tail -n 5)"
fi
healthy "clients leaving in the middle of each exchange"

# --- 8. Hostile modern servers: a 4 MiB discovery answer, one of wrong types,
# notifications of subscription ids mcpd never gave (another's, "mcpd-1",
# objects, 1e300, -1, null), floods of log messages and unsolicited updates,
# a request of the server's while only a modern client is attached.
like "$(mcpd_log)" "dhuge: stopping: sent a message larger than 4 MiB on stdout" "a 4 MiB server/discover answer stops that server, with the reason"
ML='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"error"}'
cat >"$T/dcaps-modern.in" <<IN
SEND {"jsonrpc":"2.0","id":"d","method":"server/discover","params":{$ML}}
WAIT 20 "id":"d"
SEND {"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"x",$ML}}
WAIT 60 "id":"c"
IN
peer dcaps-modern dcaps "$T/dcaps-modern.in"
like "$(cat "$T/dcaps-modern.out")" '"id":"c","result"' "a modern client's call on a flooding modern server is answered"
is "$(grep -c 'notifications/resources/updated' "$T/dcaps-modern.out")" 0 "it gets no update of a subscription id mcpd never gave, nor unsolicited ones"
is "$(grep -c '"level":"error"' "$T/dcaps-modern.out")" 750 "it gets the 750 log messages of the level its call asked for"
is "$(grep -c 'notifications/message' "$T/dcaps-modern.out")" 750 "... and no others"
like "$(mcpd_log)" "dcaps: answered the server's roots/list with an error: the MCP client speaks 2026-07-28, which has no server-to-client requests" \
	"a request of the server's with only a modern client attached is refused, and logged"
cat >"$T/dcaps-legacy.in" <<IN
SEND $INIT
WAIT 20 "id":"i"
SEND {"jsonrpc":"2.0","id":"s","method":"resources/subscribe","params":{"uri":"file:///f7"}}
WAIT 20 "id":"s"
SEND {"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"x"}}
REPLY 60 "method":"roots/list" {"jsonrpc":"2.0","id":@ID@,"result":{"roots":[]}}
WAIT 60 "id":"c"
IN
peer dcaps-legacy dcaps "$T/dcaps-legacy.in"
like "$(cat "$T/dcaps-legacy.out")" '"id":"c","result"' "a legacy client's call on that server is answered"
unlike "$(grep '"id":"i"' "$T/dcaps-legacy.out")" '"instructions":5' "its initialize result carries no instructions that are no string"
is "$(grep -c 'notifications/resources/updated' "$T/dcaps-legacy.out")" 1 "of 3000 unsolicited resources/updated, it gets the one of the URI it subscribed to"
healthy "hostile modern servers"

# --- 9. A server whose era flips across restarts (modern only, legacy, both,
# modern only, legacy): a legacy client's subscription and log level held for
# a modern process (relay.c) were lost when a legacy one followed, and the
# other way round (relay-state.c): "0 subscribers notified".
{
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
	printf 'WAIT 20 "id":"i"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"s","method":"resources/subscribe","params":{"uri":"file:///flip"}}'
	printf 'WAIT 20 "id":"s"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"lv","method":"logging/setLevel","params":{"level":"warning"}}'
	printf 'WAIT 20 "id":"lv"\n'
	for k in 0 1 2 3 4; do
		if ((k > 0)); then
			printf 'UNTIL 60 "%s" -s "%s" restart flip >/dev/null\n' "$MCPCTL" "$SOCK"
			printf 'UNTIL 60 "%s" -s "%s" --json status flip | tr -d " \\n" | grep -q %s\n' "$MCPCTL" "$SOCK" \
				"'\"state\":\"running\",\"pid\":[0-9]*,\"uptime_s\":[0-9]*,\"restarts\":$k,'"
		fi
		printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"t'$k'","method":"tools/call","params":{"name":"touch","arguments":{"uri":"file:///flip"}}}'
		printf 'WAIT 20 "id":"t%d"\n' $k
		printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"g'$k'","method":"tools/call","params":{"name":"log","arguments":{"level":"info","text":"info'$k'"}}}'
		printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"h'$k'","method":"tools/call","params":{"name":"log","arguments":{"level":"error","text":"error'$k'"}}}'
		printf 'WAIT 20 "id":"h%d"\n' $k
	done
} >"$T/flip.in"
peer flip flip "$T/flip.in"
is "$(grep -c '"text":"touched file:///flip: 1 subscriber notified"' "$T/flip.out")" 5 \
	"a legacy client's subscription holds across 4 restarts that flip the server's era"
is "$(grep -c '"method":"notifications/resources/updated","params":{"uri":"file:///flip"}' "$T/flip.out")" 5 "... and it gets each update"
is "$(grep -c '"data":"error[0-4]"' "$T/flip.out")" 5 "its log level holds too: the error messages reach it"
is "$(grep -c '"data":"info[0-4]"' "$T/flip.out")" 0 "... and the info ones do not"
like "$(ctl status flip)" "protocol: 2025-11-25 \(legacy\)" "the fifth process speaks the legacy era"
healthy "a server flipping eras across restarts"

# --- 10. A modern server killed in the middle of each exchange: a legacy
# client asked for its input (mcpd-in-N), subscribed, and a modern client's
# listen open. The listen ends with -31000; the input answered after the
# restart completes the request on the new process; the subscription holds.
running_after() {
	printf 'UNTIL 60 "%s" -s "%s" --json status modern | tr -d " \\n" | grep -q %s\n' "$MCPCTL" "$SOCK" \
		"'\"state\":\"running\",\"pid\":[0-9]*,\"uptime_s\":[0-9]*,\"restarts\":$1,'"
}
cat >"$T/kill-listen.in" <<IN
SEND {"jsonrpc":"2.0","id":"L","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},$M}}
WAIT 20 acknowledged
WAIT 60 "id":"L"
IN
spawn kill_listen "$PY" "$T/peer.py" "$SOCK" modern "$T/kill-listen.in"
{
	printf 'SEND %s\n' "$INIT"
	printf 'WAIT 20 "id":"i"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"s","method":"resources/subscribe","params":{"uri":"file:///k"}}'
	printf 'WAIT 20 "id":"s"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"ask","arguments":{"kind":"roots"}}}'
	printf 'WAIT 20 "method":"roots/list"\n'
	printf 'UNTIL 20 grep -q acknowledged "%s"\n' "$T/kill_listen.out"
	printf 'UNTIL 20 kill -9 %s\n' "$(field_of modern pid)"
	running_after 1
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"mcpd-in-1","result":{"roots":[{"uri":"file:///r","name":"r"}]}}'
	printf 'WAIT 20 "id":"c"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"t","method":"tools/call","params":{"name":"touch","arguments":{"uri":"file:///k"}}}'
	printf 'WAIT 20 "id":"t"\n'
} >"$T/kill.in"
peer kill modern "$T/kill.in"
wait_until 30 _gone "$pid_kill_listen"
like "$(cat "$T/kill_listen.out")" '"id":"L","error":\{"code":-31000,"message":"server \\"modern\\" killed by signal 9 \(KILL\); this request was not answered' "a modern client's listen ends with -31000 when its server is killed, saying how"
like "$(cat "$T/kill.out")" '"id":"c","result":\{"content":\[\{"type":"text","text":"\[\{\\"uri\\":\\"file:///r\\"' \
	"a legacy client's input answered after the server was killed completes its request on the new process"
like "$(cat "$T/kill.out")" '"id":"t","result":\{"content":\[\{"type":"text","text":"touched file:///k: 1 subscriber notified"' \
	"its subscription holds across the kill"
stop_spawned kill_listen
healthy "a modern server killed in the middle of each exchange"

# --- 11. A legacy client answers a modern server's 16 input requests with
# 600 KB each: the retry carrying them was a 9.6 MB line, past the 8 MiB a
# server's input may queue, and the server (shared by all) was stopped.
{
	printf 'SEND %s\n' "$INIT"
	printf 'WAIT 20 "id":"i"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"x"}}'
	pad=$(head -c 600000 /dev/zero | tr '\0' r)
	for k in $(seq 16); do
		printf 'REPLY 30 "method":"roots/list" {"jsonrpc":"2.0","id":@ID@,"result":{"roots":[{"uri":"file:///%s","name":"r"}]}}\n' "$pad"
	done
	printf 'WAIT 60 "id":"c"\n'
	printf 'SEND %s\n' '{"jsonrpc":"2.0","id":"c2","method":"tools/call","params":{"name":"x"}}'
	for k in $(seq 16); do
		printf 'REPLY 30 "method":"roots/list" {"jsonrpc":"2.0","id":@ID@,"result":{"roots":[]}}\n'
	done
	printf 'WAIT 60 "id":"c2"\n'
} >"$T/many.in"
peer many many "$T/many.in"
like "$(cat "$T/many.out")" '"id":"c","error":\{"code":-31002,"message":"the answers to server \\"many\\"'"'"'s input requests are longer than mcpd keeps' \
	"answers to input requests past 1 MiB for one request fail it with -31002"
like "$(cat "$T/many.out")" '"id":"c2","result":\{"resultType":"complete","content":\[\{"type":"text","text":"inputs [0-9]+ bytes"' \
	"the next request with small answers completes"
unlike "$(mcpd_log)" "many: stopping: does not read its stdin" "the server is not stopped"
is "$(field_of many restarts)" 0 "... nor restarted"
healthy "large answers to input requests"

# --- 12. The others are unharmed: a fresh client of each server is served.
for s in ex dual; do
	out=$(printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}' |
		timeout 30 "$MCPCTL" -s "$SOCK" connect $s)
	like "$out" '"text":"still here"' "$s serves a new client after all of it"
done
stop_mcpd
if grep -qE "ERROR: LeakSanitizer" "$T/mcpd.err"; then
	not_ok "mcpd leaked nothing by its exit" "$(grep -A 20 "ERROR: LeakSanitizer" "$T/mcpd.err" | head -n 30)"
else
	ok "mcpd leaked nothing by its exit"
fi
no_leftovers "$T/hostile.py" "no hostile server is left running"
done_testing
