#!/bin/bash
# The /metrics exposition as rendered without printf, from a buffer kept
# between scrapes: every line of mcpd's own families in the format printf
# gave them, the same series from one scrape to the next, promtool, HEAD, a
# scrape while another one is still being sent (its body not overwritten),
# and parallel scrapes. The exposition is made bigger than what the kernel's
# socket buffers take at once (about 1.5 MB on loopback when the client does
# not read), so that the slow scrape keeps the buffer out.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
servers:
  many1: { command: [$EXAMPLE, --name, many1, --tools, 1000] }
  many2: { command: [$EXAMPLE, --name, many2, --tools, 1000] }
  many3: { command: [$EXAMPLE, --name, many3, --tools, 1000] }
  many4: { command: [$EXAMPLE, --name, many4, --tools, 1000] }
  plain:
    command: [$EXAMPLE, --name, plain]
    critical: true
  broken:
    command: [/bin/false]
    backoff: { initial: 1h, max: 1h, jitter: 0 }
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with /metrics"; done_testing; exit 1; }
url=http://127.0.0.1:$port
_has_tools() { ctl tools "$1" 2>/dev/null | grep -q '^tool_1000 '; }
for s in many1 many2 many3 many4 plain; do
	wait_state 60 $s running || not_ok "$s running" "$(ctl status)"
done
for s in many1 many2 many3 many4; do
	wait_until 60 _has_tools $s || not_ok "mcpd has $s's tool list" "$(ctl tools $s 2>&1 | tail -n 3)"
done

# calls SERVER FIRST LAST: tools/call of tool_FIRST..tool_LAST, through mcpctl connect.
calls() {
	{
		echo '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
		for k in $(seq "$2" "$3"); do
			echo '{"jsonrpc":"2.0","id":'$k',"method":"tools/call","params":{"name":"tool_'$k'","arguments":{"text":"x"}}}'
		done
	} | timeout 120 "$MCPCTL" -s "$SOCK" connect "$1" >"$T/calls.out" 2>&1
}
_has_series() { curl -s --max-time 30 "$url/metrics" | grep -q "server=\"$1\",method=\"tools/call\",tool=\"tool_$2\",outcome=\"ok\"} 1\$"; }
for s in many1 many2 many3 many4; do
	calls $s 1 999
	wait_until 60 _has_series $s 999 || not_ok "999 tools of $s called" "$(tail -n 3 "$T/calls.out")"
done

curl -s --max-time 30 -o "$T/m1" "$url/metrics"
curl -s --max-time 30 -o "$T/m2" "$url/metrics"
# The traffic series of a scrape, values left out: what this test changes. The other families
# come and go with time (resources sampled every 5 s, a server's only while it has a process; a
# crash-looping server's probe series), and mcpd's own are checked line by line below.
keys() { grep -E '^mcpd_request' "$1" | sed -E 's/ [^ ]+$//'; }
is "$(keys "$T/m1" | md5sum)" "$(keys "$T/m2" | md5sum)" "two scrapes in a row: the same lines in the same order (the second from the kept buffer)"
check "the exposition is over 4 MB" test "$(wc -c <"$T/m1")" -gt 4000000

# mcpd's own families, line by line, in printf's format.
bad=$(grep -vE '^#' "$T/m1" | grep -E '^mcpd_(build_info|health|servers|server_(up|state|critical|restarts_total|uptime_seconds|probe_failures_total|probe_duration_seconds(_bucket|_sum|_count)?))[{ ]' |
	grep -vE '^mcpd_build_info\{version="[^"]+"\} 1$' |
	grep -vE '^mcpd_health [012]$' |
	grep -vE '^mcpd_servers 6$' |
	grep -vE '^mcpd_server_(up|critical)\{server="(many[1-4]|plain|broken)"\} [01]$' |
	grep -vE '^mcpd_server_state\{server="(many[1-4]|plain|broken)",state="[a-z]+"\} [01]$' |
	grep -vE '^mcpd_server_(restarts_total|probe_failures_total|probe_duration_seconds_count)\{server="(many[1-4]|plain|broken)"\} [0-9]+$' |
	grep -vE '^mcpd_server_uptime_seconds\{server="(many[1-4]|plain|broken)"\} [0-9]+\.[0-9]{3}$' |
	grep -vE '^mcpd_server_probe_duration_seconds_sum\{server="(many[1-4]|plain|broken)"\} [0-9]+\.[0-9]{6}$' |
	grep -vE '^mcpd_server_probe_duration_seconds_bucket\{server="(many[1-4]|plain|broken)",le="(0\.001|0\.0025|0\.005|0\.01|0\.025|0\.05|0\.1|0\.25|0\.5|1|2\.5|5|\+Inf)"\} [0-9]+$')
is "$bad" "" "every line of mcpd's own families is as printf wrote it"
is "$(grep -c '^mcpd_server_probe_duration_seconds_bucket{server="plain",' "$T/m1")" 13 "13 probe buckets per server"
is "$(grep -c '^mcpd_server_state{server="broken",' "$T/m1")" 8 "one state line per state"
like "$(grep '^mcpd_server_critical{server="plain"}' "$T/m1")" ' 1$' "plain is critical"
like "$(grep '^mcpd_server_up{server="many1"}' "$T/m1")" ' 1$' "many1 is up"
like "$(grep '^mcpd_server_up{server="broken"}' "$T/m1")" ' 0$' "broken is not"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m1" >"$T/promtool.out" 2>&1
	is "$?" 0 "promtool check metrics accepts it" || diag "$(head -n 5 "$T/promtool.out")"
else
	skip "promtool check metrics" "promtool (Debian package prometheus) is not installed"
fi
is "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' --max-time 30 "$url/metrics")" "200 0" \
	"HEAD /metrics answers 200 without a body"

# A scrape whose client does not read yet; a scrape meanwhile, after new
# series appeared: each has the lines of its own time.
exec 7<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&7
IFS= read -r -t 30 status <&7	# the answer's first line: rendered
like "${status:-}" '^HTTP/1.1 200' "a scrape whose client reads only the first line is answered"
calls many1 1000 1000
wait_until 60 _has_series many1 1000 || not_ok "one more tool called" "$(tail -n 3 "$T/calls.out")"
curl -s --max-time 30 -o "$T/m3" "$url/metrics"
timeout 60 cat <&7 >"$T/slow"
exec 7<&-
sed -e '1,/^\r$/d' "$T/slow" >"$T/m0"
check "the slow scrape got its whole body" test "$(grep -ai '^content-length:' "$T/slow" | tr -dc 0-9)" = "$(wc -c <"$T/m0")"
is "$(keys "$T/m0" | md5sum)" "$(keys "$T/m1" | md5sum)" \
	"its body has the lines of its time, nothing of the scrape rendered meanwhile"
is "$(grep -c 'server="many1",method="tools/call",tool="tool_1000",outcome="ok"} 1$' "$T/m3")" 1 "the scrape meanwhile has the new series"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m0" >"$T/promtool.out" 2>&1
	is "$?" 0 "promtool accepts the slow scrape's body" || diag "$(head -n 5 "$T/promtool.out")"
fi

# Parallel scrapes: each renders whole (into the kept buffer or its own).
pids=()
for i in 1 2 3 4 5 6; do
	curl -s --max-time 60 -o "$T/p$i" "$url/metrics" &
	pids+=($!)
done
wait "${pids[@]}"	# the curls (bounded by --max-time), not mcpd
n3=$(keys "$T/m3" | md5sum)
same=0
for i in 1 2 3 4 5 6; do [[ $(keys "$T/p$i" | md5sum) == "$n3" ]] && same=$((same + 1)); done
is "$same" 6 "6 parallel scrapes: each has every line" || diag "$(diff <(keys "$T/m3") <(keys "$T/p1") | head -n 8)"

stop_mcpd
done_testing
