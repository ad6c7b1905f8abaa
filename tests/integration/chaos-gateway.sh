#!/bin/bash
# Chaos for the HTTP gateway and endpoint (issue 11, findings 3, 7, 8, 9, 10
# and 12): session theft and exhaustion, idle sessions, request deadlines and
# clients that leave, failed-authentication storms, stalled unauthenticated
# uploads, slowloris, and POSTs in flight across a reload that removes their
# server and across SIGTERM. mcpd must stay up, answer, and stay in budget.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ! command -v python3 >/dev/null || ! command -v curl >/dev/null; then
	skip "gateway chaos" "python3 and curl are needed"
	done_testing
fi

tok_a=agent-a-$RANDOM$RANDOM-secret-token
tok_b=agent-b-$RANDOM$RANDOM-secret-token
printf 'agent-a: %s\nagent-b: %s\n' "$tok_a" "$tok_b" >"$T/tokens"

manifest() { # manifest PORT [with the server "gone"]
	cat <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  shutdown_timeout: 3s
  gateway:
    tokens_file: $T/tokens
    request_timeout: 8s
    max_sessions_per_token: 4
    session_idle_timeout: 5s
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
  stubborn:
    command: [$EXAMPLE, --name, stubborn, --ignore-sigterm]
    stop: { timeout: 60s }
YAML
	[[ ${2:-} ]] && cat <<YAML
  gone:
    command: [$EXAMPLE, --name, gone]
YAML
}

manifest_with_gone() {
	manifest "$1" with-gone >"$T/m.yaml"
}
start_mcpd_on_free_port manifest_with_gone || { not_ok "mcpd starts with the gateway"; done_testing; }
url=http://127.0.0.1:$port/mcp
wait_state 20 ex running && wait_state 20 gone running && wait_state 20 stubborn running ||
	not_ok "the servers run" "$(mcpd_log | tail -n 20)"

post() { # post TOKEN BODY [curl args...]: the HTTP status; body in $T/body, headers in $T/headers
	local token=$1 body=$2
	shift 2
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 15 -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$body" "$@"
}
sid_of() {
	grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r'
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
ping='{"jsonrpc":"2.0","id":7,"method":"ping"}'
sleep_call() { # sleep_call ID: a tools/call that is not answered for ten minutes
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":600000}}}' "$1"
}
count_log() {
	grep -cE -- "$1" "$T/mcpd.err" 2>/dev/null
}
_count_at_least() { # REGEX N
	(($(count_log "$1") >= $2))
}
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$pid_mcpd/status"
}
answers_status() {
	wait_until 5 ctl status >/dev/null 2>&1
}

# ---- finding 8: sessions belong to their token, capped, expiring -------------------
is "$(post "$tok_a" "$init" "$url/ex")" 200 "token A opens a session"
sid_a=$(sid_of)
is "$(post "$tok_b" "$ping" -H "Mcp-Session-Id: $sid_a" "$url/ex")" 404 "token B cannot POST on A's session: 404, as for an unknown one"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $tok_b" -H "Mcp-Session-Id: $sid_a" \
	"$url/ex")" 404 "nor open its GET stream"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X DELETE -H "Authorization: Bearer $tok_b" \
	-H "Mcp-Session-Id: $sid_a" "$url/ex")" 404 "nor DELETE it"
is "$(post "$tok_a" "$ping" -H "Mcp-Session-Id: $sid_a" "$url/ex")" 200 "A's session still works for A"
codes=""
for i in 1 2 3 4; do
	codes="$codes $(post "$tok_a" "$init" "$url/ex")"
done
is "$codes" " 200 200 200 429" "token A cannot hold more than max_sessions_per_token (4) sessions"
like "$(cat "$T/body")" 'max_sessions_per_token' "and is told which limit it hit"
is "$(post "$tok_b" "$init" "$url/ex")" 200 "token B still opens a session"
_a_can_open() {
	[[ $(post "$tok_a" "$init" "$url/ex") == 200 ]]
}
wait_until 30 _a_can_open && ok "idle sessions close after session_idle_timeout (5s): A can open one again" ||
	not_ok "idle sessions expire" "$(cat "$T/body")"
is "$(post "$tok_a" "$ping" -H "Mcp-Session-Id: $sid_a" "$url/ex")" 404 "an expired session is gone (404)"

# ---- finding 9: request deadline, and clients that leave cancel upstream -----------
is "$(post "$tok_a" "$init" "$url/ex")" 200 "a session for slow calls"
sid=$(sid_of)
t0=$(date +%s)
code=$(post "$tok_a" "$(sleep_call '"slow-1"')" -H "Mcp-Session-Id: $sid" --max-time 40 "$url/ex")
t1=$(date +%s)
is "$code" 200 "a call that is never answered gets HTTP 200 at its deadline"
like "$(cat "$T/body")" '"id":"slow-1","error":\{"code":-31001,"message":"request to server \\"ex\\" timed out after 8s"' \
	"with JSON-RPC error -31001, its own id and the deadline (request_timeout 8s)"
(((t1 - t0) >= 7 && (t1 - t0) <= 25)) && ok "after 8s, give or take ($((t1 - t0))s)" || not_ok "deadline kept" "$((t1 - t0))s"
wait_log 15 'ex: cancelled request [0-9]+ \(request to server "ex" timed out after 8s\)' &&
	ok "the server gets notifications/cancelled for it" || not_ok "cancel upstream" "$(mcpd_log | tail -n 5)"
code=$(post "$tok_a" "$(sleep_call '"left-1"')" -H "Mcp-Session-Id: $sid" --max-time 1 "$url/ex")
is "$code" 000 "a client gives up after 1s"
wait_log 15 'ex: cancelled request [0-9]+ \(the HTTP client disconnected\)' &&
	ok "and its request is cancelled upstream at once, not at the deadline" || not_ok "client gone cancels" "$(mcpd_log | tail -n 5)"

# ---- finding 10: failed authentications are throttled per address and summarised ----
cat >"$T/storm.cfg" <<EOF
interface = 127.0.0.2
header = "Authorization: Bearer wrong-token-$RANDOM-with-enough-characters"
EOF
for i in $(seq 1 2000); do
	printf 'url = "%s"\noutput = /dev/null\n' "$url/ex"
done >>"$T/storm.cfg"
logged_before=$(wc -l <"$T/mcpd.err")
t0=$(date +%s)
timeout 120 curl -s -Z --parallel-max 20 --max-time 10 -X POST -w '%{http_code}\n' -K "$T/storm.cfg" >"$T/storm.codes"
t1=$(date +%s)
is "$(wc -l <"$T/storm.codes")" 2000 "2000 requests with a wrong token from 127.0.0.2 are answered ($((t1 - t0))s)"
n401=$(grep -c '^401$' "$T/storm.codes")
n429=$(grep -c '^429$' "$T/storm.codes")
# 10 failures a minute per address: exactly 10 401s unless the storm outlasts a window.
((n401 >= 10 && n401 <= 10 * (1 + (t1 - t0) / 60))) && ok "the first 10 get 401 ($n401)" || not_ok "401s: $n401"
is "$((n401 + n429))" 2000 "the rest get 429 without their token being compared ($n429)"
wait_log 20 'gateway: [0-9]+ failed authentications from 127\.0\.0\.2 in the last 10s' &&
	ok "the failures are summarised in the log" || not_ok "summary" "$(mcpd_log | tail -n 5)"
logged=$(($(wc -l <"$T/mcpd.err") - logged_before))
((logged <= 10)) && ok "in a few lines ($logged), not one per request" || not_ok "log lines for the storm: $logged" \
	"$(tail -n 5 "$T/mcpd.err")"
is "$(post "$tok_a" "$init" "$url/ex")" 200 "other addresses are not throttled"

# ---- finding 7: nothing of a body is read before authentication ---------------------
cat >"$T/uploads.py" <<'EOF'
import select, socket, sys, time
port, n, chunk, hold = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks, first = [], {}
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (3 + i % 4), 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"POST /mcp/ex HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong-token-of-enough-length\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 4000000\r\n\r\n")
    except OSError:
        continue
    s.setblocking(False)
    socks.append([s, chunk])
# What each gets on its headers alone, within 5s.
deadline = time.time() + 15
while time.time() < deadline and len(first) < len(socks):
    r, _, _ = select.select([c[0] for c in socks if c[0] not in first], [], [], 0.2)
    for s in r:
        try:
            first[s] = s.recv(64).split(b"\r\n")[0].decode(errors="replace") or "closed"
        except OSError:
            first[s] = "reset"
# Then up to chunk bytes of body into each, never the whole: stalled uploads.
data = b"x" * 65536
deadline = time.time() + 30
while time.time() < deadline and any(c[1] > 0 for c in socks):
    busy = False
    for c in socks:
        if c[1] <= 0:
            continue
        try:
            k = c[0].send(data[:min(len(data), c[1])])
            c[1] -= k
            busy = True
        except BlockingIOError:
            pass
        except OSError:
            c[1] = 0
    if not busy:
        time.sleep(0.05)
got = {}
for c in socks:
    line = first.get(c[0], "none")
    got[line] = got.get(line, 0) + 1
for k, v in sorted(got.items()):
    print("%d %s" % (v, k))
print("holding", flush=True)
time.sleep(hold)
EOF
rss0=$(rss_kb)
spawn uploads python3 "$T/uploads.py" "$port" 240 1048576 60
if wait_until 60 grep -q holding "$T/uploads.out"; then
	rss1=$(rss_kb)
	diag "stalled uploads: $(grep -v holding "$T/uploads.out" | tr '\n' ';') RSS ${rss0} kB -> ${rss1} kB"
	answered=$(awk '$2 == "HTTP/1.1" && ($3 == 401 || $3 == 429) { n += $1 } END { print n + 0 }' "$T/uploads.out")
	((answered >= 200)) && ok "240 stalled unauthenticated uploads of 1 MiB get 401/429 from their headers ($answered)" ||
		not_ok "uploads answered from the headers: $answered" "$(cat "$T/uploads.out")"
	(((rss1 - rss0) < 100 * 1024)) && ok "mcpd's RSS grows by less than 100 MB ($(((rss1 - rss0) / 1024)) MB)" ||
		not_ok "RSS grew by $(((rss1 - rss0) / 1024)) MB"
else
	not_ok "the stalled uploads run" "$(cat "$T/uploads.err")"
fi
answers_status && ok "mcpd answers status with the uploads stalled" || not_ok "status with stalled uploads"
stop_spawned uploads

# ---- finding 12: slowloris does not stop /livez --------------------------------------
cat >"$T/slowloris.py" <<'EOF'
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    except OSError:
        pass
print("opened %d" % len(socks), flush=True)
end = time.time() + hold
while time.time() < end:
    for s in socks:
        try:
            s.send(b"X")
        except OSError:
            pass
    time.sleep(1)
EOF
http_lines_before=$(count_log 'http: ')
spawn slowloris python3 "$T/slowloris.py" "$port" 300 30
if wait_until 60 grep -q opened "$T/slowloris.out"; then
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --interface 127.0.0.2 "http://127.0.0.1:$port/livez")
	is "$code" 200 "with 300 slow partial-header connections from 127.0.0.1, /livez answers 127.0.0.2 within 2s"
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/livez")
	is "$code" 200 "and 127.0.0.1 too: the oldest idle connections are shed"
	answers_status && ok "mcpd answers status during the slowloris" || not_ok "status during slowloris"
	wait_log 20 'http: closed [0-9]+ connections without a request in progress' &&
		ok "the shedding is summarised" || not_ok "shedding summary"
	http_lines=$(($(count_log 'http: ') - http_lines_before))
	((http_lines <= 15)) && ok "in a few log lines ($http_lines)" || not_ok "http log lines: $http_lines"
else
	not_ok "the slowloris runs" "$(cat "$T/slowloris.err")"
fi
stop_spawned slowloris

# ---- finding 3: POSTs in flight across a reload that removes their server -----------
is "$(post "$tok_b" "$init" "$url/gone")" 200 "a session on the server \"gone\""
sid=$(sid_of)
for i in 1 2 3; do
	spawn "inflight$i" curl -s -o "$T/inflight$i.body" -w '%{http_code}' --max-time 30 -H "Authorization: Bearer $tok_b" \
		-H "Mcp-Session-Id: $sid" -H 'Content-Type: application/json' -d "$(sleep_call "$i")" "$url/gone"
done
wait_until 20 _count_at_least 'gone: sleeping 600000 ms' 3 || not_ok "the calls reach the server" "$(mcpd_log | tail)"
manifest "$port" >"$T/m.yaml"
ctl reload >/dev/null
_inflight_done() {
	! alive "$pid_inflight1" && ! alive "$pid_inflight2" && ! alive "$pid_inflight3"
}
wait_until 20 _inflight_done && ok "the calls in flight are answered when their server is removed" ||
	not_ok "calls in flight answered"
for i in 1 2 3; do
	wait "$(eval echo "\$pid_inflight$i")" 2>/dev/null
	like "$(cat "$T/inflight$i.out")$(cat "$T/inflight$i.body")" '^200\{"jsonrpc":"2.0","id":'"$i"',"error":\{"code":-31000' \
		"call $i gets a JSON-RPC error, not a crash"
done
alive "$pid_mcpd" && answers_status && ok "mcpd is up and answers status after the reload" || not_ok "mcpd after reload"
is "$(post "$tok_b" "$ping" -H "Mcp-Session-Id: $sid" "$url/gone")" 404 "the removed server's gateway is gone"

# ---- finding 3: POSTs in flight across SIGTERM (a server that ignores it) ------------
is "$(post "$tok_b" "$init" "$url/stubborn")" 200 "a session on a server that ignores SIGTERM"
sid=$(sid_of)
for i in 1 2; do
	spawn "term$i" curl -s -o "$T/term$i.body" -w '%{http_code}' --max-time 40 -H "Authorization: Bearer $tok_b" \
		-H "Mcp-Session-Id: $sid" -H 'Content-Type: application/json' -d "$(sleep_call "$i")" "$url/stubborn"
done
wait_until 20 _count_at_least 'stubborn: sleeping 600000 ms' 2 || not_ok "the calls reach stubborn" "$(mcpd_log | tail)"
spawn stream curl -s -N --max-time 40 -H "Authorization: Bearer $tok_b" -H "Mcp-Session-Id: $sid" "$url/stubborn"
wait_until 10 _count_at_least 'stubborn: gateway: GET 200' 1
rss=$(rss_kb)
diag "mcpd RSS before SIGTERM: $((rss / 1024)) MB"
stop_mcpd
_term_done() {
	! alive "$pid_term1" && ! alive "$pid_term2"
}
wait_until 10 _term_done && ok "the calls in flight end with mcpd" || not_ok "calls in flight end"
for i in 1 2; do
	wait "$(eval echo "\$pid_term$i")" 2>/dev/null
	like "$(cat "$T/term$i.out")" '^(200|503)$' "call $i across SIGTERM gets an answer ($(cat "$T/term$i.out"))"
done
stop_spawned stream
! grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err" && ok "no sanitizer report in mcpd's stderr" ||
	not_ok "sanitizer report" "$(grep -A 20 -E 'AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err" | head -n 30)"
! grep -qF -e "$tok_a" -e "$tok_b" "$T/mcpd.err" && ok "no token appears in the log" || not_ok "token in log"
no_leftovers "$T" "no process is left behind"
done_testing
