#!/bin/bash
# shellcheck disable=SC2016,SC2154,SC2317 # single-quoted inner scripts; pid_NAME, url_NAME set indirectly; helpers run via check
# Integration test of examples/mcp-example-server, the MCP server the other
# tests supervise: real bytes through FIFOs (stdio transport) and over HTTP
# (curl), in the modes the supervisor's tests rely on.
set -u
. "$(dirname "$0")/lib.sh"

if [[ ! -x $EXAMPLE ]]; then
	not_ok "the example server is built" "missing: $EXAMPLE"
	done_testing
fi

gone() { ! alive "$1"; }

# ---------------------------------------------------------------- stdio helpers

# start_stdio NAME ARGS...: runs the server with $T/NAME.pid as its pidfile
# and its stdin on a FIFO that `send NAME` writes to.  The wrapper opens the
# FIFO in the child, so the server inherits no writer of it and sees EOF
# when close_stdin closes ours.
start_stdio() {
	local name=$1 fd
	shift
	mkfifo "$T/$name.in" || return 1
	spawn "$name" bash -c 'exec "$@" <"$0"' "$T/$name.in" "$EXAMPLE" --pidfile "$T/$name.pid" "$@"
	exec {fd}<>"$T/$name.in" # read-write: does not wait for the reader
	printf -v "fd_$name" '%s' "$fd"
}

# send NAME LINE...: writes each LINE to the server's stdin.
send() {
	local var=fd_$1
	shift
	printf '%s\n' "$@" >&"${!var}"
}

close_stdin() {
	local var=fd_$1 fd
	fd=${!var}
	exec {fd}>&-
}

# response NAME ID: the line of the server's stdout with that JSON-RPC id
# (ID as JSON: 3 or '"srv-1"'), waiting up to 5 s for it.
response() {
	local re="\"id\":$2,"
	wait_until 5 grep -Eq -- "$re" "$T/$1.out" || return 1
	grep -E -m 1 -- "$re" "$T/$1.out"
}

init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"examples.sh","version":"0"}}}'

# ---------------------------------------------------------------- stdio

start_stdio s
send s "$init" '{"jsonrpc":"2.0","method":"notifications/initialized"}'
r=$(response s 1)
like "$r" '"protocolVersion":"2025-06-18"' "initialize: 2025-06-18 when the client asks for it"
like "$r" '"serverInfo":\{"name":"example","version":"1\.0\.0"\}' "initialize: serverInfo"
like "$r" '"tools":\{"listChanged":true\}' "initialize: tools capability with listChanged"
send s '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"1999-01-01"}}'
like "$(response s 2)" '"protocolVersion":"2025-11-25"' "initialize: the newest version for an unknown one"

send s '{"jsonrpc":"2.0","id":3,"method":"ping"}'
like "$(response s 3)" '^\{"jsonrpc":"2\.0","id":3,"result":\{\}\}$' "ping answers {}"

send s '{"jsonrpc":"2.0","id":4,"method":"tools/list"}'
r=$(response s 4)
like "$r" '"name":"echo","description":"[^"]+","inputSchema":\{"type":"object"' "tools/list has echo"
like "$r" '"name":"add"' "tools/list has add"

send s '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}'
like "$(response s 5)" '"content":\[\{"type":"text","text":"5"\}\]' "tools/call add 2 + 3 = 5"

send s 'this is not json'
wait_until 5 grep -q -- '-32700' "$T/s.out"
like "$(grep -- '-32700' "$T/s.out")" '^\{"jsonrpc":"2\.0","id":null,"error":\{"code":-32700,' "a line that is not JSON: -32700, id null"

send s '{"jsonrpc":"2.0","id":6,"method":"no/such/method"}'
like "$(response s 6)" '"error":\{"code":-32601,"message":"Method not found: no/such/method"' "an unknown method: -32601"

send s '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"nope","arguments":{}}}'
like "$(response s 7)" '"error":\{"code":-32602,"message":"Unknown tool: nope"' "an unknown tool: -32602"

send s '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":100},"_meta":{"progressToken":"tok"}}}' \
	'{"jsonrpc":"2.0","id":9,"method":"ping"}'
like "$(response s 8)" '"text":"slept 100 ms"' "sleep answers after its delay"
like "$(grep -F '"progressToken":"tok"' "$T/s.out")" '"method":"notifications/progress"' "sleep sends progress"
is "$(grep -n -E '"id":(8|9),' "$T/s.out" | cut -d: -f1 | paste -sd' ' -)" \
	"$(grep -n -E '"id":9,' "$T/s.out" | cut -d: -f1) $(grep -n -E '"id":8,' "$T/s.out" | cut -d: -f1)" \
	"sleep does not hold up the next request"

send s '{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"roots","arguments":{}}}'
like "$(response s '"srv-1"')" '"method":"roots/list"' "roots sends the client roots/list"
send s '{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[{"uri":"file:///srv","name":"srv"}]}}'
like "$(response s 10)" 'file:///srv' "roots returns the client's answer"

kill -USR1 "$pid_s"
check "SIGUSR1 sends notifications/tools/list_changed" \
	wait_until 5 grep -q '"method":"notifications/tools/list_changed"' "$T/s.out"
send s '{"jsonrpc":"2.0","id":11,"method":"tools/list"}'
like "$(response s 11)" '"name":"time"' "tools/list then has time"
send s '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"time","arguments":{}}}'
like "$(response s 12)" '"text":"[0-9]+"' "time returns a UNIX time"

close_stdin s
check "EOF on stdin: the server exits" wait_until 5 gone "$pid_s"
wait "$pid_s"
is "$?" 0 "... with status 0"
check "nothing on stdout but JSON-RPC" bash -c '! grep -v "^{\"jsonrpc\":\"2.0\"," "$1"' - "$T/s.out"
stop_spawned s

# ---------------------------------------------------------------- misbehaviour

timeout 5 "$EXAMPLE" --exit-after 0 --exit-status 3 --pidfile "$T/exit0.pid" </dev/null >"$T/exit0.out" 2>"$T/exit0.err"
is "$?" 3 "--exit-after 0 --exit-status 3 exits with 3"

start_stdio exit1 --exit-after 300ms
check "--exit-after 300ms exits on its own" wait_until 5 gone "$pid_exit1"
wait "$pid_exit1"
is "$?" 1 "... with status 1 by default"
close_stdin exit1
stop_spawned exit1

start_stdio term
send term '{"jsonrpc":"2.0","id":1,"method":"ping"}'
response term 1 >/dev/null
kill -TERM "$pid_term"
check "SIGTERM: the server exits" wait_until 5 gone "$pid_term"
wait "$pid_term"
is "$?" 0 "... with status 0"
close_stdin term
stop_spawned term

start_stdio stubborn --ignore-sigterm
send stubborn '{"jsonrpc":"2.0","id":1,"method":"ping"}'
response stubborn 1 >/dev/null
kill -TERM "$pid_stubborn"
close_stdin stubborn
check_fail "--ignore-sigterm: neither SIGTERM nor EOF stops it" wait_until 0.5 gone "$pid_stubborn"
kill -KILL "$pid_stubborn"
stop_spawned stubborn

start_stdio noinit --no-initialize
send noinit "$init"
check_fail "--no-initialize: no answer to initialize within 1 s" wait_until 1 grep -q '"id":1,' "$T/noinit.out"
send noinit '{"jsonrpc":"2.0","id":2,"method":"ping"}'
like "$(response noinit 2)" '"result":\{\}' "--no-initialize: ping is still answered"
close_stdin noinit
stop_spawned noinit

start_stdio garbage --garbage-stdout
send garbage '{"jsonrpc":"2.0","id":1,"method":"ping"}'
response garbage 1 >/dev/null
is "$(head -n 1 "$T/garbage.out")" "this is not json" "--garbage-stdout: the first line is not JSON"
like "$(sed -n 2p "$T/garbage.out")" '^\{"jsonrpc":"2\.0","id":1,"result":\{\}\}$' "... then it answers as usual"
close_stdin garbage
stop_spawned garbage

start_stdio gc --fork-grandchild
if wait_until 5 test -s "$T/gc.pid"; then
	gpid=$(<"$T/gc.pid.grandchild")
	is "$(<"$T/gc.pid")" "$pid_gc" "--pidfile holds the server's pid"
	check "--fork-grandchild: the grandchild runs" alive "$gpid"
	is "$(ps -o pgid= -p "$gpid" | tr -d ' ')" "$pid_gc" "... in the server's process group"
	kill -KILL "$pid_gc"
	check "the server is killed" wait_until 5 gone "$pid_gc"
	check "... and the grandchild outlives it" alive "$gpid"
	kill -KILL "$gpid"
	check "... until it is killed too" wait_until 5 gone "$gpid"
else
	not_ok "--fork-grandchild --pidfile writes the pid files"
fi
close_stdin gc
stop_spawned gc

# ---------------------------------------------------------------- HTTP

# http_start NAME ARGS...: runs the server with ARGS and sets url_NAME to
# the URL it prints.
http_start() {
	local name=$1
	shift
	spawn "$name" "$EXAMPLE" --pidfile "$T/$name.pid" "$@" </dev/null
	wait_until 5 grep -q '^listening on http://' "$T/$name.out"
	printf -v "url_$name" '%s' "$(sed -n 's/^listening on //p' "$T/$name.out")"
}

# post NAME URL BODY [CURL-ARG...]: POSTs BODY and prints the status code;
# the headers are in $T/NAME.hdr, the body in $T/NAME.body.
post() {
	local name=$1 url=$2 body=$3
	shift 3
	curl -sS --max-time 5 -o "$T/$name.body" -D "$T/$name.hdr" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
		"$@" --data-binary "$body" "$url"
}

# header NAME FIELD: the value of a response header from post NAME.
header() {
	tr -d '\r' <"$T/$1.hdr" | sed -n "s/^$2: *//Ip" | tail -n 1
}

if ! command -v curl >/dev/null; then
	skip "HTTP transports" "curl is not installed"
else
	http_start http --http 127.0.0.1:0
	url=$url_http
	like "$url" '^http://127\.0\.0\.1:[1-9][0-9]*/mcp$' "--http prints the URL it listens on"
	is "$(post h1 "$url" "$init")" 200 "HTTP initialize: 200"
	sid=$(header h1 Mcp-Session-Id)
	like "$sid" '^[0-9a-f]{32}$' "... with an Mcp-Session-Id"
	like "$(header h1 Content-Type)" '^application/json' "... as application/json"
	like "$(<"$T/h1.body")" '"protocolVersion":"2025-06-18"' "... and the initialize result"
	is "$(post h2 "$url" '{"jsonrpc":"2.0","id":2,"method":"ping"}' -H "Mcp-Session-Id: $sid")" 200 \
		"ping with the session: 200"
	like "$(<"$T/h2.body")" '^\{"jsonrpc":"2\.0","id":2,"result":\{\}\}$' "... answered {}"
	is "$(post h3 "$url" '{"jsonrpc":"2.0","id":3,"method":"ping"}')" 400 "ping without a session: 400"
	is "$(post h4 "$url" '{"jsonrpc":"2.0","id":4,"method":"ping"}' \
		-H 'Mcp-Session-Id: 0123456789abcdef0123456789abcdef')" 404 "ping with a bogus session: 404"
	is "$(post h5 "$url" '{"jsonrpc":"2.0","method":"notifications/initialized"}' -H "Mcp-Session-Id: $sid")" 202 \
		"a notification: 202"
	is "$(curl -sS --max-time 5 -o "$T/h6.body" -w '%{http_code}' "$url")" 405 "GET /mcp: 405"
	is "$(curl -sS --max-time 5 -o "$T/h7.body" -w '%{http_code}' -X DELETE -H "Mcp-Session-Id: $sid" "$url")" 200 \
		"DELETE ends the session: 200"
	is "$(post h8 "$url" '{"jsonrpc":"2.0","id":8,"method":"ping"}' -H "Mcp-Session-Id: $sid")" 404 \
		"... and then it is unknown: 404"
	stop_spawned http

	http_start sse --http 127.0.0.1:0 --sse-responses
	is "$(post s1 "$url_sse" "$init")" 200 "--sse-responses: initialize 200"
	like "$(header s1 Content-Type)" '^text/event-stream' "... as text/event-stream"
	like "$(header s1 Mcp-Session-Id)" '^[0-9a-f]{32}$' "... with an Mcp-Session-Id"
	like "$(<"$T/s1.body")" '^event: message$' "... one message event"
	like "$(<"$T/s1.body")" '^data: \{"jsonrpc":"2\.0","id":1,"result":\{"protocolVersion":"2025-06-18"' \
		"... whose data is the response"
	stop_spawned sse

	http_start legacy --legacy-sse 127.0.0.1:0
	like "$url_legacy" '^http://127\.0\.0\.1:[1-9][0-9]*/sse$' "--legacy-sse prints the /sse URL"
	base=${url_legacy%/sse}
	spawn events curl -sS -N --max-time 10 -o "$T/events.txt" "$url_legacy" </dev/null
	if wait_until 5 grep -q '^data: /messages?sessionId=' "$T/events.txt"; then
		is "$(head -n 1 "$T/events.txt")" "event: endpoint" "GET /sse: the first event is endpoint"
		ep=$(sed -n 's/^data: //p' "$T/events.txt" | head -n 1)
		like "$ep" '^/messages\?sessionId=[0-9a-f]{32}$' "... naming /messages?sessionId=..."
		is "$(post l1 "$base$ep" "$init")" 202 "POST /messages: 202"
		check "... and the response comes on the stream" \
			wait_until 5 grep -q '^data: {"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"' "$T/events.txt"
	else
		not_ok "GET /sse: the first event is endpoint" "$(cat "$T/events.txt" "$T/events.err")"
	fi
	is "$(post l2 "$base/mcp" "$init")" 404 "--legacy-sse: POST /mcp is 404"
	stop_spawned events
	stop_spawned legacy
fi

no_leftovers "$T" "no process left behind"
done_testing
