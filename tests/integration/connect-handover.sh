#!/bin/bash
# mcpctl connect hands the client's stdin and stdout over to mcpd (SCM_RIGHTS)
# when both are pipes or sockets, and leaves the data path: with pipes (a
# python client), with sockets (node's child_process: the SDK v1 and v2
# StdioClientTransport, a named server and the aggregate). The hand-over is
# seen in /proc: mcpd holds the client's pipe, mcpctl's fds 0 and 1 are
# /dev/null. Then: ends of sessions (client EOF, server removed, mcpd killed,
# mcpctl killed), hostile descriptors on the control socket, the copying path
# for anything else, and a client that never reads.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v /usr/bin/python3 || command -v python3) || {
	skip "the hand-over tests" "python3 is needed"
	done_testing
	exit 0
}
node_dir=$top_srcdir/tests/node
have_node=1
if [[ ! -d $node_dir/node_modules/@modelcontextprotocol/sdk || ! -d $node_dir/node_modules/@modelcontextprotocol/client ]] ||
	! command -v node >/dev/null; then
	have_node=0
fi

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
  gone:
    command: [$EXAMPLE, --name, gone]
YAML
sed '/^  gone:/,$d' "$T/m.yaml" >"$T/m2.yaml"	# the reload below removes gone

# pipe-client.py MCPCTL SOCK SERVER MCPD_PID MODE OUT: runs `mcpctl connect
# SERVER` with pipes for stdin and stdout, calls echo with 900 kB (both
# directions), and writes one JSON line to OUT: the answer's check, whether
# mcpd holds the client's stdin pipe and mcpctl's fds 0 and 1 are /dev/null
# (the hand-over), then per MODE:
#   eof    a 1 s sleep is asked and stdin closed at once: the answer still
#          comes, then EOF; mcpctl's exit status and stderr
#   hold   OUT.ready is written after the echo; stdout is read until EOF
#          (within 90 s); mcpctl's exit status and stderr
#   noread N echo requests of 800 kB while the server is stopped (SIGSTOP
#          by the test after OUT.ready) and never a byte read; mcpctl's exit
#   kill N N clients at once, each handed over, then mcpctl SIGKILLed (half
#          of them SIGTERMed): does each client's stdout reach EOF (mcpd
#          closed its copies)?
cat >"$T/pipe-client.py" <<'PY'
import json, os, select, signal, subprocess, sys, time
mcpctl, sock, server, mcpd_pid, mode, out = sys.argv[1:7]
arg = int(sys.argv[7]) if len(sys.argv) > 7 else 0
res = {}

def line(o):
    return (json.dumps(o, separators=(",", ":")) + "\n").encode()

def start():
    return subprocess.Popen([mcpctl, "-s", sock, "connect", server], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

def link(pid, fd):
    try:
        return os.readlink("/proc/%s/fd/%d" % (pid, fd))
    except OSError as e:
        return "? " + e.strerror

def mcpd_links():
    d = "/proc/%s/fd" % mcpd_pid
    out = set()
    for n in os.listdir(d):
        try:
            out.add(os.readlink(d + "/" + n))
        except OSError:
            pass
    return out

def handed(p, seconds=30):
    # mcpctl's fds 0 and 1 point at /dev/null once it handed them over.
    deadline = time.monotonic() + seconds
    while True:
        if link(p.pid, 0) == "/dev/null" and link(p.pid, 1) == "/dev/null":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)

def read_answer(p, want_id, deadline=60):
    buf = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if not r:
            continue
        chunk = os.read(p.stdout.fileno(), 1 << 20)
        if not chunk:
            return None
        buf += chunk
        while b"\n" in buf:
            l, buf = buf.split(b"\n", 1)
            m = json.loads(l)
            if m.get("id") == want_id:
                return m
    return None

def finish(p, timeout=90):
    rest = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], 1)
        if r:
            chunk = os.read(p.stdout.fileno(), 1 << 20)
            if not chunk:
                res["stdout_eof"] = True
                break
            rest += chunk
    try:
        res["exit"] = p.wait(timeout=max(1, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        res["exit"] = "running"
    res["stderr"] = p.stderr.read().decode(errors="replace").strip()
    res["rest"] = rest.decode(errors="replace")

def write():
    with open(out + ".tmp", "w") as f:
        f.write(json.dumps(res) + "\n")
    os.rename(out + ".tmp", out)

if mode == "kill":
    ps = [start() for _ in range(arg)]
    res["handed"] = 0
    for p in ps:
        # Once one is not handed over, the others are not waited for.
        res["handed"] += handed(p, 30 if res["handed"] == len(ps[:ps.index(p)]) else 0)
    for i, p in enumerate(ps):
        p.send_signal(signal.SIGTERM if i % 2 else signal.SIGKILL)
    for p in ps:
        p.wait()
    eofs = 0
    end = time.monotonic() + 60
    for p in ps:
        while time.monotonic() < end:
            r, _, _ = select.select([p.stdout], [], [], 1)
            if r and not os.read(p.stdout.fileno(), 65536):
                eofs += 1
                break
    res["eof"] = eofs
    write()
    sys.exit(0)

p = start()
ino = os.fstat(p.stdin.fileno()).st_ino
if mode == "noread":
    res["handed"] = handed(p)
    open(out + ".ready", "w").close()
    os.set_blocking(p.stdin.fileno(), False)
    data = memoryview(b"".join(line({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                     "params": {"name": "echo", "arguments": {"text": "e" * 800000}}})
                               for i in range(arg)))
    end = time.monotonic() + 60
    while len(data) and time.monotonic() < end and p.poll() is None:
        _, w, _ = select.select([], [p.stdin], [], 0.5)
        if w:
            try:
                data = data[os.write(p.stdin.fileno(), data[:262144]):]
            except BlockingIOError:
                pass
            except OSError:
                break
    try:
        res["exit"] = p.wait(timeout=90)
    except subprocess.TimeoutExpired:
        res["exit"] = "running"
    res["stderr"] = p.stderr.read().decode(errors="replace").strip()
    write()
    sys.exit(0)

text = "x" * 900000
p.stdin.write(line({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"text": text}}}))
p.stdin.flush()
m = read_answer(p, 1)
res["echo"] = bool(m) and m.get("result", {}).get("content", [{}])[0].get("text") == text
res["mcpd_has_pipe"] = "pipe:[%d]" % ino in mcpd_links()
res["handed"] = handed(p)
if mode == "eof":
    p.stdin.write(line({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "sleep", "arguments": {"ms": 1000}}}))
    p.stdin.close()
    m = read_answer(p, 2)
    res["last_answer"] = bool(m) and "result" in m
elif mode == "hold":
    open(out + ".ready", "w").close()
finish(p)
write()
PY

# hostile.py SOCK MODE: a control client that sends 100 descriptors (of
# /dev/null) with a request: MODE status, connect (stdio passed, the first two
# are no pipes), connect0 (stdio passed, no descriptors), connectpipes (stdio
# passed with two pipes and an MCP line in the same write: handled first).
# Prints mcpd's reply line (and for connectpipes the answer read on the pipe).
cat >"$T/hostile.py" <<'PY'
import json, os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
nulls = [os.open("/dev/null", os.O_RDWR) for _ in range(100)]
def req(method, params):
    return (json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}) + "\n").encode()
def reply():
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf.decode().strip()
if mode == "status":
    socket.send_fds(s, [req("status", {})], nulls)
    print(reply())
elif mode == "connect":
    socket.send_fds(s, [req("connect", {"name": "ex", "stdio": "passed"})], nulls)
    print(reply())
elif mode == "connect0":
    s.sendall(req("connect", {"name": "ex", "stdio": "passed"}))
    print(reply())
elif mode == "connectpipes":
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    early = b'{"jsonrpc":"2.0","id":"early","method":"ping"}\n'
    socket.send_fds(s, [req("connect", {"name": "ex", "stdio": "passed"}) + early], [in_r, out_w])
    os.close(in_r)
    os.close(out_w)
    print(reply())
    os.write(in_w, b'{"jsonrpc":"2.0","id":"late","method":"ping"}\n')
    os.close(in_w)
    got = b""
    while True:
        c = os.read(out_r, 65536)
        if not c:
            break
        got += c
    print(got.decode().strip().replace("\n", " | "))
    print(reply())
for fd in nulls:
    os.close(fd)
PY

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
wait_state 60 gone running || not_ok "gone running" "$(ctl status)"
mpid=$pid_mcpd

jq_field() {	# jq_field FILE EXPR
	jq -r "$2" "$1" 2>/dev/null
}
nfds() {
	ls "/proc/$mpid/fd" 2>/dev/null | wc -l
}
_fds_at_most() {
	(($(nfds) <= $1))
}

# --- 1. Pipes: the hand-over, 900 kB each way, client EOF.
"$PY" "$T/pipe-client.py" "$MCPCTL" "$SOCK" ex "$mpid" eof "$T/eof.json" 2>"$T/eof.err"
is "$(jq_field "$T/eof.json" .handed)" true "pipes: mcpctl's stdin and stdout are /dev/null after the hand-over" ||
	diag "$(cat "$T/eof.json" "$T/eof.err")"
is "$(jq_field "$T/eof.json" .mcpd_has_pipe)" true "pipes: mcpd holds the client's stdin pipe itself"
is "$(jq_field "$T/eof.json" .echo)" true "pipes: a 900 kB echo goes through both ways, whole"
is "$(jq_field "$T/eof.json" .last_answer)" true "pipes: the answer to the request before the client's EOF is written"
is "$(jq_field "$T/eof.json" .exit)" 0 "pipes: client EOF -> mcpctl exits 0 after the last answer" ||
	diag "$(cat "$T/eof.json")"
is "$(jq_field "$T/eof.json" .stderr)" "" "pipes: and says nothing on stderr"

# --- 2. Sockets: node's StdioClientTransport (socketpairs), SDK v1 and v2, named and aggregate.
if ((have_node)); then
	for sdk in v1 v2; do
		for target in ex aggregate; do
			if [[ $target == ex ]]; then
				out=$(timeout 120 node "$node_dir/handover-client.mjs" "$sdk" "$MCPCTL" "$SOCK" echo 900000 ex 2>"$T/node.err")
			else
				out=$(timeout 120 node "$node_dir/handover-client.mjs" "$sdk" "$MCPCTL" "$SOCK" ex__echo 900000 2>"$T/node.err")
			fi
			like "$out" '"echoed":900000,"same":true,"fd0":"/dev/null","fd1":"/dev/null"' \
				"SDK $sdk, $target: node's sockets handed over, 900 kB echoed whole" ||
				diag "$(cat "$T/node.err")"
		done
	done
else
	for i in 1 2 3 4; do
		skip "SDK clients over sockets" "node or the SDKs are missing"
	done
fi

# --- 3. Server removed by reload: mcpctl exits 1 with the message, the client sees EOF.
rm -f "$T/gone.json.ready"
spawn gone "$PY" "$T/pipe-client.py" "$MCPCTL" "$SOCK" gone "$mpid" hold "$T/gone.json" </dev/null
wait_until 60 test -e "$T/gone.json.ready" || not_ok "the client of gone is in session" "$(cat "$T/gone.err")"
cp "$T/m2.yaml" "$T/m.yaml"
ctl reload >/dev/null 2>"$T/reload.err" || diag "$(cat "$T/reload.err")"
wait_until 90 test -e "$T/gone.json"
is "$(jq_field "$T/gone.json" .handed)" true "reload: the client of gone was handed over"
is "$(jq_field "$T/gone.json" .exit)" 1 "reload: server removed -> mcpctl exits 1" || diag "$(cat "$T/gone.json" "$T/gone.err")"
like "$(jq_field "$T/gone.json" .stderr)" '^mcpctl: mcpd closed the connection' "reload: with the message"
is "$(jq_field "$T/gone.json" .stdout_eof)" true "reload: the client sees EOF on its stdin"
stop_spawned gone

# --- 4. Hostile control clients: 100 descriptors, no leak, clear errors.
base=$(nfds)
out=$("$PY" "$T/hostile.py" "$SOCK" status 2>&1)
like "$out" '"result":' "100 descriptors with status: status is answered"
wait_until 30 _fds_at_most "$base"
is "$(nfds)" "$base" "100 descriptors with status: none kept by mcpd"
like "$(mcpd_log)" 'sent 98 descriptors more than the 2 a connect hands over; closed them' "and mcpd logs it once, with the count"
out=$("$PY" "$T/hostile.py" "$SOCK" connect 2>&1)
like "$out" '"error":.*the stdin handed over is a character device.*only pipes and sockets are taken' \
	"100 descriptors with connect, stdio passed: a clear error"
wait_until 30 _fds_at_most "$base"
is "$(nfds)" "$base" "100 descriptors with a bad connect: none kept by mcpd"
out=$("$PY" "$T/hostile.py" "$SOCK" connect0 2>&1)
like "$out" '"error":.*needs the client.s stdin and stdout sent with the request.*0 descriptors came' \
	"connect with stdio passed and no descriptors: a clear error"
out=$("$PY" "$T/hostile.py" "$SOCK" connectpipes 2>&1)
like "$out" '"stdio":"passed"' "a raw client's connect with two pipes is taken"
like "$out" '"id":"early","result":\{\}.*"id":"late","result":\{\}' \
	"an MCP line sent with the connect line is answered first, on the pipe, then the pipe's own"
like "$out" '\{"end":"ok"\}' "the final line says ok after the client's EOF"
wait_until 30 _fds_at_most "$base"
is "$(nfds)" "$base" "no descriptor left in mcpd after it"

# --- 5. mcpctl killed (SIGKILL, SIGTERM): mcpd ends the session; 50 sessions leak no descriptor.
base=$(nfds)
"$PY" "$T/pipe-client.py" "$MCPCTL" "$SOCK" ex "$mpid" kill "$T/kill.json" 50 2>"$T/kill.err"
is "$(jq_field "$T/kill.json" .handed)" 50 "50 clients handed over" || diag "$(cat "$T/kill.json" "$T/kill.err")"
is "$(jq_field "$T/kill.json" .eof)" 50 "mcpctl SIGKILLed or SIGTERMed -> mcpd ends each session: the client sees EOF"
wait_until 30 _fds_at_most "$base"
is "$(nfds)" "$base" "mcpd's descriptors after 50 killed sessions: as many as before"

# --- 6. Not pipes or sockets: the copying path, as before.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"ping"}' >"$T/req"
out=$(timeout 60 "$MCPCTL" -s "$SOCK" connect ex <"$T/req")
is "$?" 0 "a file as stdin: the copying path, exit 0"
like "$out" '"id":1,"result":\{\}' "and the answer"
timeout 60 "$MCPCTL" -s "$SOCK" connect ex </dev/null >"$T/null.out" 2>"$T/null.err"
is "$?" 0 "</dev/null as stdin: the copying path, exit 0" || diag "$(cat "$T/null.err")"

# --- 7. A client that never reads stdout is dropped by the same budget as before (8 MiB).
rm -f "$T/noread.json.ready"
spawn noread "$PY" "$T/pipe-client.py" "$MCPCTL" "$SOCK" ex "$mpid" noread "$T/noread.json" 16 </dev/null
wait_until 60 test -e "$T/noread.json.ready" || not_ok "the never-reading client started" "$(cat "$T/noread.err")"
wait_until 120 test -e "$T/noread.json"
is "$(jq_field "$T/noread.json" .handed)" true "never reads: handed over"
is "$(jq_field "$T/noread.json" .exit)" 1 "never reads: mcpctl exits 1" || diag "$(cat "$T/noread.json" "$T/noread.err")"
# Which bound ends it depends on timing: the relay's budget for answers queued to the client, or,
# once back-pressure has stopped the server and the client (answers queued under the budget), the
# idle timeout of a client that reads none of what is queued for it. Both are bounded drops.
like "$(jq_field "$T/noread.json" .stderr)" 'mcpd closed the connection: (the client does not read its output|idle for [0-9]+s)' \
	"never reads: mcpctl says why"
like "$(mcpd_log)" "(dropping an MCP client: it does not read its answers|closing the connection of pid [0-9]+ \\(uid [0-9]+\\): it read none of its reply)" \
	"never reads: mcpd drops it by the relay's budget or as idle"
stop_spawned noread

# --- 8. mcpd killed: the client sees EOF, mcpctl exits 1.
rm -f "$T/killd.json.ready"
spawn killd "$PY" "$T/pipe-client.py" "$MCPCTL" "$SOCK" ex "$mpid" hold "$T/killd.json" </dev/null
wait_until 60 test -e "$T/killd.json.ready" || not_ok "the client is in session" "$(cat "$T/killd.err")"
servers="$(field_of ex pid)"
kill -KILL "$mpid"
wait_until 90 test -e "$T/killd.json"
is "$(jq_field "$T/killd.json" .stdout_eof)" true "mcpd killed: the client sees EOF"
is "$(jq_field "$T/killd.json" .exit)" 1 "mcpd killed: mcpctl exits 1" || diag "$(cat "$T/killd.json")"
is "$(jq_field "$T/killd.json" .stderr)" "mcpctl: mcpd closed the connection" "mcpd killed: with the message"
stop_spawned killd
wait "$mpid" 2>/dev/null
# mcpd's guard kills its servers; make sure, without it.
for p in $servers; do
	wait_until 10 _gone "$p" || kill -KILL "$p" 2>/dev/null
done
done_testing
