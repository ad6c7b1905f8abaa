#!/bin/bash
# Chaos for the relay (mcpctl connect): clients that send much and never read,
# clients that leave with requests in flight, a 1.5 MiB line, ids past 2^53.
# Through all of it mcpd stays up, answers status, keeps its RSS and its log
# within budget, and the sanitizers stay silent.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v /usr/bin/python3 || command -v python3)
if [[ -z $PY ]]; then
	skip "relay chaos" "python3 is not installed"
	done_testing
fi

RSS_BUDGET_KB=$((200 * 1024))	# a sanitizer build, with a smaller quarantine
# ASan keeps 256 MiB of freed memory by default: too much for an RSS budget to mean anything.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
LOG_BUDGET_LINES=2000

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML

# never-read.py SOCK SERVER MODE N FLAG: N relay clients that write MODE's
# requests and never read a byte of the answers. FLAG gets "sent" when the
# writing is over (all written, or mcpd stopped reading for 3 s), then
# "closed K" once mcpd has closed K of the N connections (within 90 s).
cat >"$T/never-read.py" <<'PY'
import json, os, select, socket, sys, time
path, server, mode, n, flag = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

def line(o):
    return (json.dumps(o, separators=(",", ":")) + "\n").encode()

def payload():
    if mode == "echo":
        # Echo requests first (they wait at a stopped server), then pings with
        # long ids that mcpd answers at once: its queue for us reaches 4 MiB,
        # and the echo answers then take it past the 8 MiB bound.
        out = [line({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                     "params": {"name": "echo", "arguments": {"text": "e" * 800000}}}) for i in range(6)]
        out += [line({"jsonrpc": "2.0", "id": "p%d-" % i + "x" * 1000000, "method": "ping"}) for i in range(6)]
        return b"".join(out)
    # progress: long sleeps whose progress notifications carry an 8 KiB token.
    return b"".join(line({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                          "params": {"name": "sleep", "arguments": {"ms": 20000},
                                     "_meta": {"progressToken": "t%d-" % i + "y" * 8192}}}) for i in range(50))

socks, bufs = [], []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(path)
    s.sendall(line({"jsonrpc": "2.0", "id": 1, "method": "connect", "params": {"name": server}}))
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = s.recv(1)
        if not chunk:
            sys.exit("connect: mcpd closed the connection")
        reply += chunk
    if b'"result"' not in reply:
        sys.exit("connect: " + reply.decode())
    s.setblocking(False)
    socks.append(s)
    bufs.append(memoryview(payload()))

last = time.monotonic()
deadline = last + 60
while any(len(b) for b in bufs) and time.monotonic() - last < 3 and time.monotonic() < deadline:
    _, w, _ = select.select([], [s for s, b in zip(socks, bufs) if len(b)], [], 0.5)
    for s in w:
        i = socks.index(s)
        try:
            k = s.send(bufs[i][:262144])
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            bufs[i] = memoryview(b"")
            continue
        bufs[i] = bufs[i][k:]
        last = time.monotonic()
with open(flag + ".tmp", "w") as f:
    f.write("sent\n")
os.rename(flag + ".tmp", flag)

poller = select.poll()
for s in socks:
    poller.register(s, select.POLLRDHUP)
closed, deadline = set(), time.monotonic() + 90
while len(closed) < n and time.monotonic() < deadline:
    for fd, ev in poller.poll(500):
        if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
            closed.add(fd)
            poller.unregister(fd)
with open(flag + ".tmp", "w") as f:
    f.write("closed %d\n" % len(closed))
os.rename(flag + ".tmp", flag)
PY

# healthy WHAT: mcpd is alive, answers status, stays within its RSS and log
# budgets, and no sanitizer report is in its stderr.
healthy() {
	mcpd_within_budget "$1" "$RSS_BUDGET_KB" "$LOG_BUDGET_LINES"
}

_flag_is() {
	grep -qE -- "$2" "$1" 2>/dev/null
}

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 20 ex running || not_ok "ex running" "$(ctl status)"

# --- 1. A client that never reads is dropped in the middle of relaying a response.
srv=$(field_of ex pid)
kill -STOP "$srv"
spawn never1 "$PY" "$T/never-read.py" "$SOCK" ex echo 1 "$T/never1.flag" </dev/null
wait_until 60 _flag_is "$T/never1.flag" sent || not_ok "the never-reading client wrote its requests" "$(cat "$T/never1.err")"
kill -CONT "$srv"
if wait_until 90 _flag_is "$T/never1.flag" "closed 1"; then
	ok "a client that never reads is dropped when an answer takes its queue past 8 MiB"
else
	not_ok "a client that never reads is dropped when an answer takes its queue past 8 MiB" "$(cat "$T/never1.flag" "$T/never1.err" 2>&1)"
fi
like "$(mcpd_log)" "dropping an MCP client: it does not read its answers" "mcpd says why it dropped the client"
stop_spawned never1
healthy "a never-reading client dropped on a response"

# --- 2. 20 clients that never read while progress notifications flood them.
spawn never20 "$PY" "$T/never-read.py" "$SOCK" ex progress 20 "$T/never20.flag" </dev/null
if wait_until 120 _flag_is "$T/never20.flag" "closed 20"; then
	ok "20 never-reading clients flooded with progress notifications are all dropped"
else
	not_ok "20 never-reading clients flooded with progress notifications are all dropped" "$(cat "$T/never20.flag" "$T/never20.err" 2>&1)"
fi
stop_spawned never20
healthy "20 never-reading clients"

# --- 3. Clients that close their input with requests in flight (3, then 20 at once).
# Answers 400 ms apart: each one written re-armed reading, and a second EOF re-entered the drain.
for i in 1 2 3; do
	printf '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":%d}}}\n' "$i" $((i * 400))
done >"$T/inflight.in"
_all_gone() {
	local p
	for p in "$@"; do
		alive "$p" && return 1
	done
	return 0
}
for n in 3 20; do
	pids=()
	for ((i = 0; i < n; i++)); do
		spawn "drain$i" timeout 60 "$MCPCTL" -s "$SOCK" connect ex <"$T/inflight.in"
		v=pid_drain$i
		pids+=("${!v}")
	done
	wait_until 90 _all_gone "${pids[@]}" || not_ok "$n clients with requests in flight finish"
	good=0
	for ((i = 0; i < n; i++)); do
		[[ $(grep -c '"text":"slept [0-9]* ms"' "$T/drain$i.out") == 3 ]] && good=$((good + 1))
		stop_spawned "drain$i"
	done
	is "$good" "$n" "$n clients that close their input with 3 requests in flight each get their 3 answers"
	healthy "$n clients closing with requests in flight"
done
# A drain that times out: its timer fires after those of the clients above,
# which a re-entered drain once left dangling in libev's timer heap.
printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":45000}}}\n' >"$T/long.in"
spawn long timeout 90 "$MCPCTL" -s "$SOCK" connect ex <"$T/long.in"
if wait_log 60 "an MCP client left with 1 requests unanswered after 30s; cancelling them"; then
	ok "a client whose answer takes longer than the 30 s drain is closed when it ends"
else
	not_ok "a client whose answer takes longer than the 30 s drain is closed when it ends" "$(tail -n 40 "$T/mcpd.err")"
fi
wait_until 20 _gone "$pid_long" || not_ok "mcpctl connect exits once mcpd closed the drained connection"
stop_spawned long
healthy "the drain timers expired"

# --- 4. Ids come back exactly as sent; a 1.5 MiB message is refused with its own id.
{
	printf '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}\n'
	printf '{"jsonrpc":"2.0","id":-1,"method":"ping"}\n'
	printf '{"jsonrpc":"2.0","id":"x","method":"ping"}\n'
	printf '{"jsonrpc":"2.0","id":9007199254740995,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}\n'
	printf '{"jsonrpc":"2.0","id":-12345678901234567890,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}\n'
	printf '{"jsonrpc":"2.0","id":"9007199254740993","method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}\n'
	printf '{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"echo","arguments":{"text":"'
	head -c $((1536 * 1024)) /dev/zero | tr '\0' a
	printf '"}}}\n'
	printf '{"jsonrpc":"2.0","id":78,"method":"ping"}\n'
} >"$T/ids.in"
out=$(timeout 60 "$MCPCTL" -s "$SOCK" connect ex <"$T/ids.in")
like "$out" '"id":9007199254740993,"result":\{\}' "a ping with id 2^53+1 is answered with that id, not a rounded one"
like "$out" '"id":-1,"result":\{\}' "a negative id comes back as sent"
like "$out" '"id":"x","result":\{\}' "a string id comes back as sent"
like "$out" '"id":9007199254740995,"result":\{"content":\[\{"type":"text","text":"3"' "a call relayed to the server with id 2^53+3 is answered with that id"
like "$out" '"id":-12345678901234567890,"result":\{"content"' "an id beyond 64 bits comes back as sent"
like "$out" '"id":"9007199254740993","result":\{"content"' "a string id that looks like a number stays a string"
like "$out" '"id":77,"error":\{"code":-32600,"message":"invalid request: the message is longer than 1048576 bytes' "a 1.5 MiB message is refused with its own id"
like "$out" '"id":78,"result":\{\}' "the next message on the connection is answered"
healthy "ids and a 1.5 MiB line"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
