#!/bin/bash
# Chaos found by the red team after issue 11's hardening: stdio servers that
# answer with numbers no cast may take (an error code of 1e300 or none at all,
# a response id of 1e300) and a server that asks its MCP client far more than
# the client answers. mcpd must stay up, answer, stay in budget and leave no
# sanitizer report. (The undefined casts abort only a clang sanitizer build:
# gcc's -fsanitize=undefined has no float-cast-overflow.)
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"
# ASan keeps freed memory in a quarantine (256 MB by default): measure mcpd's own.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"

PY=$(command -v python3) || {
	skip "red-team chaos" "python3 is needed"
	done_testing
}

# A stdio MCP server that answers initialize, then misbehaves by its first argument:
#   pingerr       answers ping with an error whose code is 1e300
#   pingnocode    answers ping with an error without a code
#   ids           answers a relayed request with ids 1e300, -1e300, 1e19 first
#   ask N FILE    asks its client roots/list N times on a relayed request, then
#                 writes to FILE how many of those got an error from mcpd
cat >"$T/evil.py" <<'PY'
import json, sys
mode = sys.argv[1]
def send(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
errors = 0
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    method, mid = m.get("method"), json.dumps(m.get("id"))
    if method == "initialize":
        send('{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},'
             '"serverInfo":{"name":"evil","version":"1"}}}' % mid)
    elif method == "ping" and mode == "pingerr":
        send('{"jsonrpc":"2.0","id":%s,"error":{"code":1e300,"message":"huge code"}}' % mid)
    elif method == "ping" and mode == "pingnocode":
        send('{"jsonrpc":"2.0","id":%s,"error":{"message":"no code"}}' % mid)
    elif method == "ping":
        send('{"jsonrpc":"2.0","id":%s,"result":{}}' % mid)
    elif method == "tools/list":
        send('{"jsonrpc":"2.0","id":%s,"result":{"tools":[]}}' % mid)
    elif "method" not in m and str(m.get("id", "")).startswith("ask"):
        if "error" in m:
            errors += 1
            with open(sys.argv[3] + ".tmp", "w") as f:
                f.write("%d\n" % errors)
            import os
            os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    elif method and "id" in m and mode == "ids":
        for bad in ("1e300", "-1e300", "1e19", "-9223372036854775809"):
            send('{"jsonrpc":"2.0","id":%s,"result":{}}' % bad)
        send('{"jsonrpc":"2.0","id":%s,"result":{"ok":true}}' % mid)
    elif method and "id" in m and mode == "ask":
        for i in range(int(sys.argv[2])):
            send('{"jsonrpc":"2.0","id":"ask%d","method":"roots/list"}' % i)
        send('{"jsonrpc":"2.0","id":%s,"result":{"asked":true}}' % mid)
PY

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  pingerr:
    command: [$PY, $T/evil.py, pingerr]
    health: { interval: 1s, timeout: 500ms, unhealthy_after: 100 }
  pingnocode:
    command: [$PY, $T/evil.py, pingnocode]
    health: { interval: 1s, timeout: 500ms, unhealthy_after: 100 }
  ids:
    command: [$PY, $T/evil.py, ids]
  ask:
    command: [$PY, $T/evil.py, ask, 3000, $T/ask.errors]
YAML
# Enough servers that a status reply is some 350 KiB.
for ((i = 0; i < 1000; i++)); do
	printf '  idle-server-with-a-longish-name-%d:\n    command: [/bin/true]\n    autostart: false\n' "$i"
done >>"$T/m.yaml"

# pipeline.py SOCK N REQUESTS FLAG: N connections each send REQUESTS status
# requests at once and read nothing; FLAG says when all are sent; then it waits.
cat >"$T/pipeline.py" <<'PY'
import os, socket, sys, time
path, n, reqs, flag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
line = b'{"jsonrpc":"2.0","id":1,"method":"status"}\n'
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(line * reqs)
    socks.append(s)
with open(flag + ".tmp", "w") as f:
    f.write("sent\n")
os.rename(flag + ".tmp", flag)
time.sleep(600)
PY

RSS_BUDGET_KB=$((200 * 1024))

# healthy WHAT: mcpd is alive, answers status, stays in its RSS and log
# budgets, and no sanitizer report is in its stderr.
healthy() {
	mcpd_within_budget "$1" "$RSS_BUDGET_KB" 200
}

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
for s in pingerr pingnocode ids ask; do
	wait_state 30 "$s" running || not_ok "$s runs" "$(ctl status)"
done

# --- 1. Pings answered with an error code of 1e300, and with none.
if wait_log 30 'pingerr: unhealthy: ping failed: JSON-RPC error 0: huge code' &&
	wait_log 30 'pingnocode: unhealthy: ping failed: JSON-RPC error 0: no code'; then
	ok "a ping error with a code of 1e300, or none, is logged with code 0"
else
	not_ok "a ping error with a code of 1e300, or none, is logged with code 0" "$(tail -n 30 "$T/mcpd.err")"
fi
healthy "ping errors with impossible codes"

# --- 2. Responses with ids no relayed request has, far outside int64_t.
out=$(printf '%s\n' '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x"}}' |
	timeout 30 "$MCPCTL" -s "$SOCK" connect ids 2>&1)
like "$out" '"id":5,"result":\{"ok":true\}' "the request is answered after responses with ids of 1e300"
healthy "responses with ids of 1e300"

# --- 3. A server that sends its client 3000 requests it never answers (mcpctl connect
# prints them and answers none; the client declared roots): mcpd keeps 1024 waiting and
# answers the rest itself.
_errors_at_least() {
	[[ -s $T/ask.errors ]] && (($(cat "$T/ask.errors") >= $1))
}
out=$( (
	printf '%s\n' '{"jsonrpc":"2.0","id":6,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{}},"clientInfo":{"name":"sh","version":"1"}}}' \
		'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}'
	wait_until 60 _errors_at_least 1976
) | timeout 90 "$MCPCTL" -s "$SOCK" connect ask 2>&1 | grep -c '"method":"roots/list"')
if _errors_at_least 1976; then
	ok "the server's requests past 1024 waiting are answered with an error"
else
	not_ok "the server's requests past 1024 waiting are answered with an error" \
		"errors: $(cat "$T/ask.errors" 2>&1)" "$(tail -n 20 "$T/mcpd.err")"
fi
is "$out" 1024 "the client is asked 1024 of them"
like "$(mcpd_log)" "ask: 1024 requests of the server wait for its MCP client's answer" \
	"mcpd logs that the server's requests reached their bound"
is "$(grep -c "requests of the server wait for its MCP client's answer" "$T/mcpd.err")" 1 "... once"
healthy "a server asking its client 3000 times"

# --- 4. Clients that pipeline 300 status requests each and read nothing: reading pauses
# at 4 MiB of replies queued, and so does handling the requests already read (each
# client queued 96 MiB before).
spawn pipeline "$PY" "$T/pipeline.py" "$SOCK" 10 300 "$T/pipeline.flag" </dev/null
if wait_until 60 test -s "$T/pipeline.flag"; then
	ok "10 clients sent 300 status requests each"
else
	not_ok "10 clients sent 300 status requests each" "$(cat "$T/pipeline.err")"
fi
_settled() { # mcpd answered what it will before it pauses: RSS no longer grows
	local a b
	a=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid_mcpd/status")
	sleep 1
	b=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid_mcpd/status")
	((b <= a + 1024))
}
wait_until 60 _settled
healthy "10 clients pipelining 300 status requests each, reading nothing"
stop_spawned pipeline

stop_mcpd

# --- 5. The replies of all clients together have a bound too (2 MiB here, by
# MCPD_CONTROL_TOTAL_QUEUE): past it, clients with replies unread are paused, and
# each is served again, to its last reply, once it reads.
# reader.py SOCK N REQUESTS LOGFILE FLAG: N connections send REQUESTS status requests
# each, wait until mcpd logs that it paused them, then all read; FLAG gets the replies
# each read (a status of 1000 servers is about 300 KB).
cat >"$T/reader.py" <<'PY'
import os, selectors, socket, sys, time
path, n, reqs, log, flag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
line = b'{"jsonrpc":"2.0","id":1,"method":"status"}\n'
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(line * reqs)
    socks.append(s)
deadline = time.time() + 60
while time.time() < deadline and b"the limit for all together" not in open(log, "rb").read():
    time.sleep(0.1)
# Then all of them read at once, as clients would.
sel = selectors.DefaultSelector()
got = {}
for s in socks:
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    got[s] = 0
deadline = time.time() + 90
while sel.get_map() and time.time() < deadline:
    for key, _ in sel.select(1):
        s = key.fileobj
        try:
            data = s.recv(1 << 20)
        except BlockingIOError:
            continue
        got[s] += data.count(b"\n")
        if not data or got[s] >= reqs:
            sel.unregister(s)
with open(flag + ".tmp", "w") as f:
    f.write(" ".join(str(got[s]) for s in socks) + "\n")
os.rename(flag + ".tmp", flag)
PY
mv "$T/mcpd.err" "$T/mcpd-1.log"
MCPD_CONTROL_TOTAL_QUEUE=2097152 start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
spawn reader "$PY" "$T/reader.py" "$SOCK" 10 30 "$T/mcpd.err" "$T/reader.flag" </dev/null
if wait_until 120 test -s "$T/reader.flag"; then
	is "$(cat "$T/reader.flag")" "30 30 30 30 30 30 30 30 30 30" \
		"10 clients paused by the bound for all clients get their 30 replies each once they read"
else
	not_ok "the paused clients get their replies" "$(cat "$T/reader.err")" "$(grep -E "control|client" "$T/mcpd.err" | tail -n 20)"
fi
n=$(grep -c 'the limit for all together' "$T/mcpd.err")
((n >= 1 && n <= 10)) && ok "mcpd says that it reached the bound for all clients, once per episode ($n)" ||
	not_ok "the bound for all clients is logged once per episode" "$n lines"
like "$(mcpd_log)" "replies waiting for their clients are back under half the limit" "and when it is back under half"
healthy "10 clients over the bound for all clients' replies"
stop_spawned reader
stop_mcpd
done_testing
