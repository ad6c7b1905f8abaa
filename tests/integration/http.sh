#!/bin/bash
# The HTTP endpoint (mcpd.http): /livez, /readyz flipping with a critical
# server (and not with a non-critical one), /health, /metrics in the
# Prometheus format (promtool when it is installed), HEAD, 404, 405, 413, the
# access log, and a second mcpd on the same port.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
servers:
  vital:
    command: [$EXAMPLE, --name, vital]
    critical: true
    # Down for 3s after a kill: long enough for /readyz to be seen saying so
    # on a busy machine, where one curl can take a while.
    backoff: { initial: 3s, jitter: 0 }
  extra:
    command: [$EXAMPLE, --name, extra]
    backoff: { initial: 10s, jitter: 0 }
YAML
}

_up_or_gone() {
	ctl version || ! alive "$pid_mcpd"
}

# A free port: bounded attempts at random ones, until mcpd starts on one.
started=0
for attempt in 1 2 3 4 5 6 7 8; do
	port=$(test_port)
	write_manifest "$port"
	spawn mcpd "$MCPD" -v -c "$T/m.yaml" -s "$SOCK"
	wait_until 30 _up_or_gone
	if ctl version >/dev/null 2>&1; then
		started=1
		break
	fi
	stop_spawned mcpd
	grep -q 'Address already in use' "$T/mcpd.err" || break # another port will not help
done
((started)) || { not_ok "mcpd starts with an HTTP endpoint" "$(cat "$T/mcpd.err")"; done_testing; }
ok "mcpd starts with an HTTP endpoint on 127.0.0.1:$port (attempt $attempt)"
url=http://127.0.0.1:$port
# Everything below assumes both run: wait as long as a busy machine needs.
wait_state 60 vital running || not_ok "vital reaches running" "$(ctl status)"
wait_state 60 extra running || not_ok "extra reaches running" "$(ctl status)"

# code ARGS...: the status of a curl request; body in $T/body, headers in $T/headers.
code() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 "$@"
}
header() {
	grep -i "^$1:" "$T/headers" | head -n 1 | tr -d '\r' | sed 's/^[^:]*: *//'
}

is "$(code "$url/livez")" 200 "/livez answers 200"
is "$(cat "$T/body")" ok "with ok"
wait_log 30 "http: GET /livez 200 [0-9.]+ms" && ok "each request is in the debug log: method, path, status, duration" ||
	not_ok "access log" "$(grep 'http:' "$T/mcpd.err")"
is "$(curl -s -I -o /dev/null -w '%{http_code} %{size_download}' --max-time 30 "$url/livez")" "200 0" \
	"HEAD /livez answers 200 without a body"
is "$(code "$url/readyz")" 200 "/readyz answers 200 when every critical server runs"
is "$(cat "$T/body")" ok "with ok"

is "$(code "$url/health")" 200 "/health answers 200"
is "$(header Content-Type)" application/json "as application/json"
is "$(jq -r .health "$T/body")" ok "/health says ok"
is "$(jq -r '[.servers[].name] | sort | join(",")' "$T/body")" extra,vital "and lists every server"
is "$(jq -r '.servers[] | select(.name == "vital") | .state' "$T/body")" running "with its state"

is "$(code "$url/nope")" 404 "an unknown path is 404"
like "$(cat "$T/body")" '^not found' "with a message"
is "$(code -X POST "$url/livez")" 405 "POST is 405"
is "$(header Allow)" "GET, HEAD" "with Allow: GET, HEAD"
is "$(code -X GET --data-binary hello "$url/readyz")" 413 "a request body is 413"
is "$(code -X POST -H 'Transfer-Encoding: chunked' --data-binary hello "$url/livez")" 413 "a chunked one too"

is "$(code "$url/metrics")" 200 "/metrics answers 200"
is "$(header Content-Type)" "text/plain; version=0.0.4; charset=utf-8" "in the text exposition format 0.0.4"
cp "$T/body" "$T/metrics"
for f in mcpd_build_info mcpd_health mcpd_servers mcpd_server_up mcpd_server_state mcpd_server_critical \
	mcpd_server_restarts_total mcpd_server_uptime_seconds mcpd_server_probe_failures_total \
	mcpd_server_probe_duration_seconds; do
	check "/metrics has HELP and TYPE of $f" grep -q "^# TYPE $f " "$T/metrics"
done
for f in mcpd_build_info mcpd_health mcpd_servers mcpd_server_up mcpd_server_state mcpd_server_critical \
	mcpd_server_restarts_total mcpd_server_uptime_seconds mcpd_server_probe_failures_total \
	mcpd_server_probe_duration_seconds_bucket mcpd_server_probe_duration_seconds_sum \
	mcpd_server_probe_duration_seconds_count; do
	check "/metrics has samples of $f" grep -q "^$f[{ ]" "$T/metrics"
done
m=$(cat "$T/metrics")
like "$m" '^mcpd_build_info\{version="[0-9.]+"\} 1$' "build info carries the version"
like "$m" '^mcpd_servers 2$' "mcpd_servers counts the servers"
like "$m" '^mcpd_health 0$' "mcpd_health is 0 when all is well"
like "$m" '^mcpd_server_state\{server="vital",state="running"\} 1$' "the state gauge says running"
is "$(grep -c '^mcpd_server_state{server="vital",' "$T/metrics")" 8 "one state sample per state"
like "$m" '^mcpd_server_critical\{server="vital"\} 1$' "vital is critical"
like "$m" '^mcpd_server_critical\{server="extra"\} 0$' "extra is not"
like "$m" '^mcpd_server_probe_duration_seconds_bucket\{server="vital",le="\+Inf"\} [0-9]+$' "the histogram ends at +Inf"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1
	is "$?" 0 "promtool check metrics accepts /metrics" || diag "$(cat "$T/promtool.out")"
else
	skip "promtool check metrics" "promtool (Debian package prometheus) is not installed"
fi

# readyz CODE: /readyz answers CODE (its body in $T/readyz).
readyz() {
	[[ $(curl -s -o "$T/readyz" -w '%{http_code}' --max-time 10 "$url/readyz") == "$1" ]]
}

# A non-critical server down does not make mcpd unready.
kill -KILL "$(field_of extra pid)"
# The log, not the state: a slow status call could miss a short backoff.
wait_log 30 'extra: .*backoff: killed by signal 9 \(KILL\)' && ok "extra is in backoff after a kill" ||
	not_ok "extra backoff" "$(ctl status extra)" "$(grep 'extra:' "$T/mcpd.err")"
readyz 200 && ok "/readyz stays 200 when a non-critical server is down" || not_ok "readyz 200" "$(cat "$T/readyz")"

# The critical server dies: /readyz says so until it is back.
kill -KILL "$(field_of vital pid)"
wait_until 30 readyz 503 && ok "/readyz flips to 503 when the critical server is killed" ||
	not_ok "readyz 503" "$(cat "$T/readyz")"
like "$(cat "$T/readyz")" '^vital: (exited|backoff|starting)(: .*)?$' "and names it with its state and reason"
is "$(wc -l <"$T/readyz")" 1 "and names only the critical server"
wait_until 60 readyz 200 && ok "/readyz is 200 again after the restart" || not_ok "readyz back to 200" "$(cat "$T/readyz")"
code "$url/metrics" >/dev/null
like "$(cat "$T/body")" '^mcpd_server_restarts_total\{server="vital"\} 1$' "/metrics counts the restart"

# A second mcpd on the same port refuses to start.
"$MCPD" -c "$T/m.yaml" -s "$T/other.sock" >"$T/second.out" 2>"$T/second.err"
is "$?" 1 "a second mcpd on the same HTTP port exits 1"
like "$(cat "$T/second.err")" "cannot listen on 127.0.0.1:$port: Address already in use" "and says why"
check "mcpd -n still validates a manifest with http" "$MCPD" -n -c "$T/m.yaml"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
