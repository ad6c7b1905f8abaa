#!/bin/bash
# The HTTP endpoint: /livez, /readyz flipping with a critical server, /health,
# /metrics in the Prometheus format (promtool when it is installed), 404, 405.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# A free port: bounded attempts at random ones, until mcpd starts on it.
started=0
for attempt in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$port
servers:
  vital:
    command: [$EXAMPLE, --name, vital]
    critical: true
    backoff: { initial: 1s, jitter: 0 }
  extra:
    command: [$EXAMPLE, --name, extra]
YAML
	if start_mcpd "$T/m.yaml" 2>/dev/null; then
		started=1
		break
	fi
	stop_spawned mcpd
done
((started)) || { not_ok "mcpd starts with an HTTP endpoint"; done_testing; }
url=http://127.0.0.1:$port
wait_state 10 vital running
wait_state 10 extra running

code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "$@"; }
is "$(code "$url/livez")" 200 "/livez answers 200"
is "$(code "$url/readyz")" 200 "/readyz answers 200 when every critical server runs"
is "$(code "$url/health")" 200 "/health answers 200"
like "$(cat "$T/body")" '^\{"health":"ok","servers":\[\{"name":"vital","state":"running"' "/health is JSON with every server"
is "$(code "$url/nope")" 404 "an unknown path is 404"
is "$(code -X POST "$url/livez")" 405 "POST is 405"
is "$(code "$url/metrics")" 200 "/metrics answers 200"
cp "$T/body" "$T/metrics"
for f in mcpd_build_info mcpd_health mcpd_server_up mcpd_server_state mcpd_server_restarts_total \
	mcpd_server_uptime_seconds mcpd_server_probe_duration_seconds_bucket mcpd_server_probe_failures_total; do
	check "/metrics has $f" grep -q "^$f[{ ]" "$T/metrics"
done
like "$(cat "$T/metrics")" 'mcpd_server_state\{server="vital",state="running"\} 1' "the state gauge says running"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1
	is "$?" 0 "promtool check metrics accepts /metrics" || diag "$(cat "$T/promtool.out")"
else
	skip "promtool check metrics" "promtool (Debian package prometheus) is not installed"
fi

# The critical server dies: /readyz says so until it is back.
kill -KILL "$(field_of vital pid)"
wait_until 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$url/readyz')\" = 503 ]" &&
	ok "/readyz flips to 503 when the critical server is killed" || not_ok "readyz 503"
like "$(curl -s "$url/readyz")" 'vital: (backoff|starting)' "and names it with its state"
wait_until 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$url/readyz')\" = 200 ]" &&
	ok "/readyz is 200 again after the restart" || not_ok "readyz back to 200" "$(curl -s "$url/readyz")"

# A second mcpd on the same port refuses to start.
"$MCPD" -c "$T/m.yaml" -s "$T/other.sock" >"$T/second.out" 2>"$T/second.err"
is "$?" 1 "a second mcpd on the same HTTP port exits 1"
like "$(cat "$T/second.err")" "cannot listen on 127.0.0.1:$port: Address already in use" "and says why"
check "mcpd -n still validates a manifest with http" "$MCPD" -n -c "$T/m.yaml"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
