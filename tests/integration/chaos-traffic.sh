#!/bin/bash
# Chaos for the traffic metrics, as a hostile client and a hostile server:
# tool names a server lists with quotes, newlines and invalid UTF-8 (the
# exposition stays valid: promtool and a strict UTF-8 decode), a legacy
# client's "subscriptions/listen" (an ordinary request, timed and in flight),
# thousands of methods and 64 KiB tool names (folded), the per-server series
# cap (logged once); then clients that cancel twice, cancel unknown ids and
# leave mid-request, a server killed, restarted, stopped and removed with
# requests in flight, gateway timeouts racing the answers, 2025-03-26
# batches, listens dropped, multi-round requests abandoned, tool lists
# changing under traffic. After it all: nothing in flight, every series'
# outcomes add up (histogram count = +Inf bucket = answered outcomes), the
# status totals match /metrics, no counter went down, the status traffic
# objects are sane, and the sanitizers stay silent.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v /usr/bin/python3 || command -v python3)
if [[ -z $PY ]]; then
	skip "traffic chaos" "python3 is not installed"
	done_testing
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
RSS_BUDGET_KB=$((300 * 1024))
LOG_BUDGET_LINES=3000

tok=chaos-$RANDOM$RANDOM-secret-token
printf 'agent: %s\n' "$tok" >"$T/tokens"

# A legacy stdio server whose tool list is hostile: quotes, a backslash, a
# newline, control bytes, a NUL escape, 128 and 129 bytes, "other", a
# duplicate, an empty name, and one name of invalid UTF-8 (raw bytes).
cat >"$T/hostile.py" <<'PY'
import json, sys
names = ['q"uote', 'back\\slash', 'new\nline', 'cr\rtab\t', 'nul\u0000after', 'x' * 128, 'y' * 129, 'other',
         'dup', 'dup', '', '\u00e9t\u00e9']
def out(o):
    s = json.dumps(o).encode().replace(b'"BADUTF8"', b'"bad\xff\xfeutf8\xed\xa0\x80"')
    sys.stdout.buffer.write(s + b'\n')
    sys.stdout.buffer.flush()
for line in sys.stdin.buffer:
    try:
        m = json.loads(line.decode('utf-8', 'surrogateescape'))
    except ValueError:
        continue
    if 'id' not in m or 'method' not in m:
        continue
    meth, i = m['method'], m['id']
    if meth == 'initialize':
        out({"jsonrpc": "2.0", "id": i, "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                                    "serverInfo": {"name": "hostile", "version": "1"}}})
    elif meth == 'tools/list':
        tools = [{"name": n, "inputSchema": {"type": "object"}} for n in names + ['BADUTF8']]
        out({"jsonrpc": "2.0", "id": i, "result": {"tools": tools}})
    elif meth == 'tools/call':
        out({"jsonrpc": "2.0", "id": i, "result": {"content": [{"type": "text", "text": "ok"}]}})
    elif meth == 'ping':
        out({"jsonrpc": "2.0", "id": i, "result": {}})
    else:
        out({"jsonrpc": "2.0", "id": i, "error": {"code": -32601, "message": "no such method"}})
PY

write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway: { tokens_file: $T/tokens, request_timeout: 1s }
servers:
  ex:
    command: [$EXAMPLE, --name, ex, --fail-tool, --tools, "1100"]
  gw:
    command: [$EXAMPLE, --name, gw, --dual-era, --fail-tool]
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only]
  hostile:
    command: [$PY, $T/hostile.py]
YAML
	cp "$T/m.yaml" "$T/m-full.yaml"
	cat >>"$T/m-full.yaml" <<YAML
  gone:
    command: [$EXAMPLE, --name, gone]
YAML
	cp "$T/m-full.yaml" "$T/m.yaml"
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with /metrics and the gateway"; done_testing; exit 1; }
base=http://127.0.0.1:$port
for s in ex gw modern hostile gone; do
	wait_state 60 "$s" running || not_ok "$s running" "$(ctl status)"
done
_has_tool() { ctl tools "$1" 2>/dev/null | grep -q "^$2 "; }
wait_until 60 _has_tool ex tool_1100 || not_ok "ex's tool list is known" "$(ctl tools ex 2>&1 | tail -n 3)"
_lists() { ctl tools "$1" 2>/dev/null | grep -qx "$2"; }
wait_until 60 _lists hostile dup || not_ok "hostile's tool list is known" "$(ctl tools hostile 2>&1)"
wait_until 60 _has_tool modern ask || not_ok "modern's tool list is known" "$(ctl tools modern 2>&1)"
wait_until 60 _has_tool gone sleep || not_ok "gone's tool list is known" "$(ctl tools gone 2>&1)"

# drive.py ACTION: the clients (mcpctl connect and the gateway, through curl).
# Every wait in it is a poll with a deadline (until()), as wait_until is.
cat >"$T/drive.py" <<'PY'
import json, os, re, signal, subprocess, sys, threading, time
T, MCPCTL, SOCK, BASE, TOK, action = sys.argv[1:7]
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
        "capabilities": {"elicitation": {}}, "clientInfo": {"name": "chaos", "version": "1"}}}
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "chaos", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}}
procs = []

def line(o):
    return (json.dumps(o, separators=(",", ":")) + "\n").encode("utf-8", "surrogatepass")

def call(i, name, args=None):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args or {}}}

def cancel(rid):
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "reason": "chaos"}}

def until(seconds, fn):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.05)
    raise SystemExit("timed out waiting for %s" % fn.__name__)

class Client:
    """An mcpctl connect session: lines in, answers collected by a thread."""
    def __init__(self, server, init=True):
        self.p = subprocess.Popen([MCPCTL, "-s", SOCK, "connect", server], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(self.p)
        self.out = []
        threading.Thread(target=lambda: [self.out.append(l) for l in self.p.stdout], daemon=True).start()
        if init:
            self.send(INIT)
            until(30, lambda: self.answered(0))

    def send(self, *msgs):
        try:
            self.p.stdin.write(b"".join(m if isinstance(m, bytes) else line(m) for m in msgs))
            self.p.stdin.flush()
        except BrokenPipeError:
            pass

    def answered(self, i):
        return any(re.search(rb'"id":%s,"(result|error)"' % json.dumps(i).encode(), l) for l in list(self.out))

    def leave(self):
        self.p.kill()
        self.p.wait()

def ctl(*a):
    return subprocess.run([MCPCTL, "-s", SOCK] + list(a), capture_output=True, text=True, timeout=60).stdout

def status(name):
    return json.loads(ctl("--json", "status", name))["servers"][0]

def metrics():
    return subprocess.run(["curl", "-s", "--max-time", "20", BASE + "/metrics"], capture_output=True).stdout.decode(errors="replace")

def in_flight(server):
    m = re.search(r'^mcpd_requests_in_flight\{server="%s"\} (\d+)$' % server, metrics(), re.M)
    return int(m.group(1)) if m else 0

def running(name):
    return lambda: status(name)["state"] == "running"

def curl(body, headers=(), max_time=30):
    a = ["curl", "-s", "-o", "-", "-D", "/dev/stderr", "--max-time", str(max_time), "-H", "Authorization: Bearer " + TOK,
         "-H", "Content-Type: application/json", "-H", "Accept: application/json, text/event-stream", "-d", body]
    for h in headers:
        a += ["-H", h]
    r = subprocess.run(a + [BASE + "/mcp/gw"], capture_output=True, text=True)
    return r.stdout, r.stderr

def gw_session(version):
    init = dict(INIT, params=dict(INIT["params"], protocolVersion=version))
    _, headers = curl(json.dumps(init))
    sid = [h.split(":", 1)[1].strip() for h in headers.splitlines() if h.lower().startswith("mcp-session-id:")][0]
    curl('{"jsonrpc":"2.0","method":"notifications/initialized"}', ["Mcp-Session-Id: " + sid])
    return "Mcp-Session-Id: " + sid

def background(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t

def hostile():
    names = ['q"uote', 'back\\slash', 'new\nline', 'cr\rtab\t', 'nul\u0000after', 'x' * 128, 'y' * 129, 'other', 'dup',
             '', '\u00e9t\u00e9', 'q\\"uote']
    c = Client("hostile")
    c.send(*[call(10 + k, n) for k, n in enumerate(names)])
    c.send(b'{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"bad\xff\xfeutf8\xed\xa0\x80","arguments":{}}}\n')
    until(30, lambda: c.answered(99) and all(c.answered(10 + k) for k in range(len(names))))
    c.leave()

def listen_legacy():
    # A legacy server answers it (an error) at once; a 2026 server keeps it open until cancelled.
    c = Client("ex")
    c.send({"jsonrpc": "2.0", "id": 5, "method": "subscriptions/listen", "params": {}})
    until(30, lambda: c.answered(5))
    c.leave()
    c = Client("modern")
    c.send({"jsonrpc": "2.0", "id": 6, "method": "subscriptions/listen", "params": {"notifications": {"toolsListChanged": True}}})
    try:
        until(20, lambda: in_flight("modern") == 1)
        print("in flight 1")
    except SystemExit:
        print("in flight %d" % in_flight("modern"))
    c.send(cancel(6))
    until(30, lambda: in_flight("modern") == 0)
    c.leave()

def labels():
    c = Client("ex")
    msgs = [{"jsonrpc": "2.0", "id": 1000 + k, "method": "m/%d\"\\\n%s" % (k, "z" * (k % 7))} for k in range(3000)]
    msgs += [call(5000 + k, ("%d" % k) + "t" * 65536 + '"\\\n') for k in range(4)]
    msgs += [call(6000 + k, "tool_%d" % k) for k in range(1, 1101)]
    c.send(*msgs)
    until(120, lambda: c.answered(7100) and c.answered(5003) and c.answered(3999))
    c.leave()

def chaos():
    threads = []
    # Multi-round requests abandoned: cancelled while mcpd asks, answered after the cancel, left mid-way.
    m = Client("modern")
    m.send(call(7, "ask", {"kind": "elicitation"}))
    until(30, lambda: any(b"mcpd-in-" in l for l in list(m.out)))
    ask = [json.loads(l)["id"] for l in list(m.out) if b"mcpd-in-" in l][0]
    m.send(cancel(7), {"jsonrpc": "2.0", "id": ask, "result": {"action": "accept", "content": {"a": "y"}}}, cancel(7))
    m.send(call(8, "ask", {"kind": "elicitation"}))
    until(30, lambda: len([l for l in list(m.out) if b"mcpd-in-" in l]) >= 2)
    m.leave()
    # Duplicate ids, cancellations of unknown ids, twice, after the answer, of the wrong type.
    c = Client("ex")
    c.send(call(7, "sleep", {"ms": 60000}), call(7, "sleep", {"ms": 60000}), call(8, "echo", {"text": "x"}))
    until(30, lambda: c.answered(8) and in_flight("ex") >= 2)
    c.send(*[cancel(r) for r in (7, 7, 7, 999, 8, "7", None, {"x": 1})])
    until(30, lambda: in_flight("ex") == 0)
    # A server killed, restarted, stopped with requests in flight; requests while it is stopped.
    for what in ("kill", "restart", "stop"):
        n0 = in_flight("ex")
        c.send(*[call(100 + k, "sleep", {"ms": 60000}) for k in range(5)])
        until(30, lambda: in_flight("ex") >= n0 + 5)
        if what == "kill":
            os.kill(status("ex")["pid"], signal.SIGKILL)
        else:
            ctl(what, "ex")
        until(30, lambda: in_flight("ex") == 0)
        if what != "stop":
            until(60, running("ex"))
    c.send(call(200, "echo", {"text": "x"}), {"jsonrpc": "2.0", "id": 201, "method": "tools/list"})
    until(30, lambda: c.answered(201))
    ctl("start", "ex")
    until(60, running("ex"))
    c.leave()
    # The gateway: a 2025-03-26 batch (two sleeps past the timeout with one id, an echo, an unknown
    # method), timeouts racing the answers, clients that leave mid-POST, 2026 listens dropped.
    old = gw_session("2025-03-26")
    batch = [call(1, "sleep", {"ms": 5000}), call(1, "sleep", {"ms": 5000}), call(2, "echo", {"text": "x"}),
             call(3, "sleep", {"ms": 990}), {"jsonrpc": "2.0", "id": 4, "method": "nosuch"}]
    threads.append(background(curl, json.dumps(batch), [old]))
    legacy = gw_session("2025-06-18")
    for k in range(16):
        threads.append(background(curl, json.dumps(call(100 + k, "sleep", {"ms": 950 + 6 * k})), [legacy]))
    for k in range(6):
        threads.append(background(curl, json.dumps(call(200 + k, "sleep", {"ms": 3000})), [legacy], 0.3))
    for k in range(4):
        listen = {"jsonrpc": "2.0", "id": 300 + k, "method": "subscriptions/listen",
                  "params": {"_meta": META, "notifications": {"toolsListChanged": True}}}
        threads.append(background(curl, json.dumps(listen), ["MCP-Protocol-Version: 2026-07-28",
                                                            "Mcp-Method: subscriptions/listen"], 1))
        modern_call = {"jsonrpc": "2.0", "id": 400 + k, "method": "tools/call",
                       "params": {"_meta": META, "name": "sleep", "arguments": {"ms": 990 + 10 * k}}}
        threads.append(background(curl, json.dumps(modern_call), ["MCP-Protocol-Version: 2026-07-28",
                                                                 "Mcp-Method: tools/call", "Mcp-Name: sleep"]))
    # Tool lists changing under traffic: SIGUSR1 toggles gw's tool "time".
    g = Client("gw")
    pid = status("gw")["pid"]
    for k in range(4):
        os.kill(pid, signal.SIGUSR1)
        g.send(*[call(10 * k + j, "time") for j in range(5)])
    until(30, lambda: g.answered(34))
    g.leave()
    # A server removed from the manifest with requests in flight (relay and gateway).
    r = Client("gone")
    r.send(*[call(k, "sleep", {"ms": 60000}) for k in range(1, 4)])
    until(30, lambda: in_flight("gone") == 3)
    with open(T + "/m-full.yaml") as f:
        full = f.read()
    with open(T + "/m.yaml", "w") as f:
        f.write(full.split("  gone:\n")[0])
    print(ctl("reload").strip().replace("\n", "; "))
    for t in threads:
        t.join(60)
    r.leave()

try:
    globals()[action]()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
PY
drive() { timeout 300 "$PY" "$T/drive.py" "$T" "$MCPCTL" "$SOCK" "$base" "$tok" "$@"; }

# inv.py [SNAPSHOT]: "ok", or what is wrong with /metrics and the status' traffic
# objects; with SNAPSHOT, no counter is below its value there (and the file
# gets the current values).
cat >"$T/inv.py" <<'PY'
import json, math, re, subprocess, sys
MCPCTL, SOCK, BASE = sys.argv[1:4]
snap = sys.argv[4] if len(sys.argv) > 4 else None
text = subprocess.run(["curl", "-s", "--max-time", "20", BASE + "/metrics"], capture_output=True).stdout.decode(errors="replace")
v, bad = {}, []
for l in text.split("\n"):
    if l and not l.startswith("#"):
        k, x = l.rsplit(" ", 1)
        v[k] = float(x)
series = {}
for k, x in v.items():
    m = re.match(r'mcpd_requests_total\{(.*),outcome="(\w+)"\}$', k)
    if m:
        series.setdefault(m.group(1), {})[m.group(2)] = x
    if k.startswith("mcpd_requests_in_flight") and x != 0:
        bad.append("%s is %g" % (k, x))
for lab, o in series.items():
    if 'server="gw",method="subscriptions/listen"' in lab:
        continue	# 2026 streams: counted when they end, not timed (mcpd.8)
    answered = o.get("ok", 0) + o.get("error", 0) + o.get("tool_error", 0)
    count = v.get("mcpd_request_duration_seconds_count{%s}" % lab, 0)
    inf = v.get('mcpd_request_duration_seconds_bucket{%s,le="+Inf"}' % lab, 0)
    if not count == inf == answered:
        bad.append("{%s}: outcomes %s, histogram count %g, +Inf %g" % (lab, o, count, inf))
st = json.loads(subprocess.run([MCPCTL, "-s", SOCK, "--json", "status"], capture_output=True, text=True).stdout,
                parse_constant=lambda c: bad.append("status has " + c))
for s in st["servers"]:
    t = s.get("traffic")
    if t is None:
        continue
    total = sum(sum(o.values()) for lab, o in series.items() if lab.startswith('server="%s",' % s["name"]))
    if t["requests"] != total or t["in_flight"] != 0 or not 0 <= t["error_rate"] <= 1 or t["errors"] > t["requests"]:
        bad.append("%s: status %s, /metrics total %g" % (s["name"], t, total))
    for q in ("p50_ms", "p99_ms"):
        if t[q] is not None and not (math.isfinite(t[q]) and t[q] >= 0):
            bad.append("%s: %s %s" % (s["name"], q, t[q]))
counters = {k: x for k, x in v.items() if k.startswith(("mcpd_requests_total", "mcpd_request_bytes_total",
                                                        "mcpd_request_duration_seconds"))}
if snap:
    try:
        with open(snap) as f:
            before = json.load(f)
    except FileNotFoundError:
        before = {}
    bad += ["%s went down: %g -> %g" % (k, x, counters[k]) for k, x in before.items()
            if k in counters and counters[k] < x]
    with open(snap, "w") as f:
        json.dump(counters, f)
print("; ".join(bad[:5]) if bad else "ok")
PY
inv() { "$PY" "$T/inv.py" "$MCPCTL" "$SOCK" "$base" "$@"; }
_inv_ok() { [[ $(inv) == ok ]]; }
metrics() { curl -s --max-time 20 "$base/metrics"; }
metric() { metrics | grep -aF "$1 " | awk '{ print $NF }'; }

# --- a server's hostile tool names ------------------------------------------------
drive hostile || not_ok "the hostile tool calls are answered"
metrics >"$T/metrics.1"
check "/metrics is valid UTF-8 after calls of a tool whose listed name is not" \
	"$PY" -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$T/metrics.1"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics.1" >"$T/promtool.out" 2>&1 && ok "promtool check metrics passes" ||
		not_ok "promtool check metrics passes" "$(head -n 5 "$T/promtool.out")"
else
	skip "promtool check metrics" "promtool is not installed"
fi
H='server="hostile",method="tools/call"'
is "$(metric "mcpd_requests_total{$H,tool=\"q\\\"uote\",outcome=\"ok\"}")" 1 "a listed name with a quote is its own tool, escaped"
is "$(metric "mcpd_requests_total{$H,tool=\"new\\nline\",outcome=\"ok\"}")" 1 "and one with a newline"
is "$(metric "mcpd_requests_total{$H,tool=\"other\",outcome=\"ok\"}")" 4 \
	"the listed names past 128 bytes, of invalid UTF-8, and \"other\", and one not listed: counted as other"
is "$(grep -ac 'bad' "$T/metrics.1")" 0 "no label holds the invalid name"

# --- a legacy client's subscriptions/listen is an ordinary request -------------------
out=$(drive listen_legacy)
is "$out" "in flight 1" "a legacy client's subscriptions/listen waiting for a 2026 server's answer is in flight"
is "$(metric 'mcpd_requests_total{server="ex",method="subscriptions/listen",tool="",outcome="error"}')" 1 \
	"a legacy server's error answer to it counts as error"
is "$(metric 'mcpd_request_duration_seconds_count{server="ex",method="subscriptions/listen",tool=""}')" 1 \
	"and is in the latency histogram, as every answered request"
is "$(metric 'mcpd_requests_total{server="modern",method="subscriptions/listen",tool="",outcome="cancelled"}')" 1 \
	"the one the client cancelled counts as cancelled"

# --- unbounded labels ---------------------------------------------------------------
drive labels || not_ok "3000 methods, 64 KiB tool names and 1100 tools are answered"
wait_until 30 _inv_ok || diag "$(inv)"
n=$(metrics | grep -a '^mcpd_requests_total{server="ex"' | sed 's/,outcome=.*//' | sort -u | wc -l)
((n <= 1025)) && ok "ex has $n series (method, tool): the cap of 1024 and the overflow series" ||
	not_ok "ex's series are within the cap" "$n"
is "$(metrics | grep -aE '^mcpd_requests_total\{server="ex",method="other",tool=""' | awk '{ s += $NF } END { print s }')" 3000 \
	"3000 distinct methods are one series, method other"
is "$(metrics | grep -ac 'ttttttttttttttttttttttttttttttt')" 0 "64 KiB tool names are not labels"
is "$(grep -c 'traffic metrics: 1024 series' "$T/mcpd.err")" 1 "the cap is logged once"
is "$(inv "$T/snap")" ok "after the label attack: the invariants hold"

# --- chaos ----------------------------------------------------------------------------
requests_of() { ctl --json status "$1" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["servers"][0]["traffic"]["requests"])'; }
ex_before=$(requests_of ex)
out=$(drive chaos 2>&1) && ok "the chaos ran ($out)" || not_ok "the chaos ran" "$out"
if wait_until 90 _inv_ok; then
	ok "after the chaos: nothing in flight, outcomes add up, status totals match"
else
	not_ok "after the chaos: nothing in flight, outcomes add up, status totals match" "$(inv)"
fi
is "$(inv "$T/snap")" ok "and no counter went down"
# Each request begun ends in exactly one outcome.
outcomes() { metrics | grep -aF "mcpd_requests_total{server=\"$1\",method=\"tools/call\",tool=\"$2\"," | awk '{ s += $NF } END { print s + 0 }'; }
is "$(($(requests_of ex) - ex_before))" 20 \
	"ex (past its series cap): 20 requests (2 sleeps cancelled, 15 with the server killed, restarted, stopped, 3 more): 20 outcomes"
is "$(outcomes gw sleep)" 29 "gw: 29 sleeps through the gateway (batch, timeouts racing answers, clients gone): 29 outcomes"
is "$(outcomes modern ask)" 2 "modern: 2 multi-round requests abandoned: 2 outcomes"
is "$(metric 'mcpd_requests_in_flight{server="gone"}')" "" "the removed server's series are gone"
((0 < $(metric 'mcpd_requests_total{server="gw",method="tools/call",tool="sleep",outcome="timeout"}'))) &&
	ok "gateway timeouts counted" || not_ok "gateway timeouts counted" "$(metrics | grep -a 'server="gw"' | grep -a total)"
metrics >"$T/metrics.2"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics.2" >"$T/promtool.out" 2>&1 && ok "promtool check metrics passes after the chaos" ||
		not_ok "promtool check metrics passes after the chaos" "$(head -n 5 "$T/promtool.out")"
else
	skip "promtool check metrics after the chaos" "promtool is not installed"
fi

# --- bytes out are the server's answers: not mcpd's refusals, through either door ---------
ctl stop gw >/dev/null
wait_state 30 gw stopped || not_ok "gw stopped" "$(ctl status gw)"
out_before=$(metric 'mcpd_request_bytes_total{server="gw",direction="out"}')
unavailable_before=$(metric 'mcpd_requests_total{server="gw",method="tools/call",tool="echo",outcome="unavailable"}')
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
like "$(curl -s --max-time 30 -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' \
	-H 'Mcp-Name: echo' -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{'"$META"',"name":"echo","arguments":{"text":"x"}}}' \
	"$base/mcp/gw")" '"code":-31000' "the gateway: a request to a stopped server gets mcpd's -31000"
printf '%s\n' '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}' |
	timeout 60 "$MCPCTL" -s "$SOCK" connect gw >"$T/refused"
like "$(cat "$T/refused")" '"code":-31000' "and so does one through mcpctl connect"
is "$(metric 'mcpd_requests_total{server="gw",method="tools/call",tool="echo",outcome="unavailable"}')" $((unavailable_before + 2)) \
	"both count as unavailable"
is "$(metric 'mcpd_request_bytes_total{server="gw",direction="out"}')" "$out_before" \
	"and neither refusal counts as bytes out (the server answered nothing)"

mcpd_within_budget "the traffic chaos" "$RSS_BUDGET_KB" "$LOG_BUDGET_LINES"
stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
