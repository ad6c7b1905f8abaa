#!/bin/bash
# examples/monitoring: the alerting rules pass `promtool check rules` and their
# unit tests; the Grafana dashboard is well formed and names only metrics that
# mcpd renders; a real mcpd with traffic passes `promtool check metrics`; a real
# Prometheus (Debian's package) scrapes it, evaluates the shipped rules without
# errors, answers every panel's query, and fires an alert on a crash-looping
# server (from a copy of the rules without their `for:` delays).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

mon=$top_srcdir/examples/monitoring
dash=$mon/grafana-dashboard.json
rules=$mon/mcpd-alerts.yml
have_promtool=1 have_prometheus=1
command -v promtool >/dev/null || have_promtool=0
command -v prometheus >/dev/null || have_prometheus=0
no_prom="prometheus (Debian package prometheus) is not installed"

# ---------------------------------------------------------------- the rules
if ((have_promtool)); then
	check "promtool check rules accepts mcpd-alerts.yml" promtool check rules "$rules"
	check "promtool check config accepts the example prometheus.yml" promtool check config "$mon/prometheus.yml"
	# rule_files in the test file are relative to the directory promtool runs in.
	check "promtool test rules: every alert fires on a failing server and not on healthy ones" \
		sh -c 'cd "$1" && promtool test rules mcpd-alerts.test.yml' sh "$mon"
else
	skip "promtool check rules, test rules, check config" "$no_prom"
fi
expected_alerts="MCPDDown MCPDHealthCritical MCPServerCheckDegraded MCPServerCheckFailing MCPServerCircuitOpen MCPServerCrashLooping MCPServerDown MCPServerErrorRateHigh MCPServerLatencyHigh MCPServerMemoryNearLimit"
is "$(grep -oE '^ *- alert: [A-Za-z]+' "$rules" | awk '{print $3}' | sort | xargs)" "$expected_alerts" \
	"the rules have the documented alerts"
untested=
for a in $expected_alerts; do
	grep -q "alertname: $a\$" "$mon/mcpd-alerts.test.yml" || untested="$untested $a"
done
is "$untested" "" "each alert has a unit test"
is "$(grep -cE '^ *(for|severity|summary|description):' "$rules")" 40 "each alert has for, severity, summary and description"

# ---------------------------------------------------------------- the dashboard
check "the dashboard is valid JSON" jq -e . "$dash"
j() { jq -r "$@" "$dash" 2>&1; }
is "$(j '[.panels[].id] | (length == (unique | length))')" true "every panel id is unique"
is "$(j '[.panels[] | select(.gridPos | (.h|type) == "number" and (.w|type) == "number" and (.x|type) == "number"
	and (.y|type) == "number" and .x >= 0 and .w > 0 and .x + .w <= 24 | not)] | length')" 0 \
	"every panel has a gridPos within the 24 columns"
is "$(j '[.panels[] | .gridPos] as $g | [range(0; $g|length) as $a | range($a + 1; $g|length) as $b
	| select($g[$a].x < $g[$b].x + $g[$b].w and $g[$b].x < $g[$a].x + $g[$a].w
	and $g[$a].y < $g[$b].y + $g[$b].h and $g[$b].y < $g[$a].y + $g[$a].h)] | length')" 0 "no two panels overlap"
is "$(j '[.panels[] | select(.type != "row") | select((.targets // []) | length == 0
	or any(.[]; (.expr // "") | test("^\\s*$")))] | map(.title) | join(", ")')" "" \
	"every panel but the rows has targets, each with an expression"
is "$(j '[.. | objects | .datasource? | objects | .uid | select(. != "${datasource}" and . != "-- Grafana --")] | length')" 0 \
	"panels and variables use the datasource variable, no absolute datasource uid"
is "$(j '[.__inputs[] | select(.name == "DS_PROMETHEUS" and .type == "datasource" and .pluginId == "prometheus")] | length')" 1 \
	"__inputs asks for a Prometheus datasource, DS_PROMETHEUS"
is "$(j '[.__requires[] | .id] | sort | join(",")')" "bargauge,grafana,prometheus,stat,state-timeline,timeseries" \
	"__requires names Grafana, the datasource and each panel type used"
is "$(j '[.panels[].type] - ["row"] | unique | join(",")')" "bargauge,stat,state-timeline,timeseries" "the panel types are those required"
like "$(j '.schemaVersion')" '^(3[6-9]|4[0-9])$' "schemaVersion is a Grafana 9 to 11 one"
is "$(j '.templating.list[] | select(.name == "datasource") | .type + " " + .query')" "datasource prometheus" \
	"a datasource variable"
is "$(j '.templating.list[] | select(.name == "server") | "\(.query) \(.multi) \(.includeAll)"')" \
	'label_values(mcpd_server_up{job=~"$job", instance=~"$instance"}, server) true true' \
	"a server variable from mcpd_server_up, multi, with All"
is "$(j '[.templating.list[].name] | join(",")')" "datasource,job,instance,server" "job and instance variables too"

# The queries of the dashboard, one a line, with the template variables
# replaced as Grafana would for "All": the job of the scrape config below.
jq -r '.panels[] | select(.type != "row") | .targets[].expr | @base64' "$dash" >"$T/exprs.b64"
: >"$T/exprs"
while read -r e; do
	printf '%s\n' "$e" | base64 -d | tr '\n' ' ' |
		sed -e 's/\$__rate_interval/1m/g' -e 's/\$__range/5m/g' -e 's/\$job/mcpd/g' \
			-e 's/\$instance/.*/g' -e 's/\$server/.*/g' >>"$T/exprs"
	echo >>"$T/exprs"
done <"$T/exprs.b64"
is "$(grep -c '\$' "$T/exprs")" 0 "every template variable in a query is one the test knows"
# Metric names: mcpd_*, process_* and up (function and label names have no such prefix).
grep -oE '\b(mcpd|process)_[a-z_]+|\bup\b' "$T/exprs" | sort -u >"$T/dash-names"

# ---------------------------------------------------------------- a real mcpd with traffic
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
    critical: true
    health: { interval: 1s, timeout: 900ms, call: { tool: echo, arguments: { text: ok } } }
  # Its exec check says degraded (exit 1): it keeps running.
  other:
    command: [$EXAMPLE, --name, other]
    health: { interval: 1s, timeout: 900ms, exec: [/bin/sh, -c, "exit 1"] }
  # Never started: its memory limit is in /metrics all the same. (A running
  # one cannot have it here: a memory limit and AddressSanitizer's shadow
  # memory do not mix.)
  limited:
    command: [$EXAMPLE, --name, limited]
    autostart: false
    limits: { memory: 1G }
  # Exits 0.3 s after each start: backoff, then its circuit opens (failed)
  # after 2 exits, until the test restarts it.
  crashy:
    command: [$EXAMPLE, --name, crashy, --exit-after, 300ms]
    backoff: { initial: 100ms, jitter: 0 }
    circuit: { failures: 2, window: 1m, cooldown: 10m }
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with an HTTP endpoint"; done_testing; }
url=http://127.0.0.1:$port
wait_state 60 ex running || not_ok "ex reaches running" "$(ctl status)"
wait_state 60 other running || not_ok "other reaches running" "$(ctl status)"

# A legacy (2025) gateway session on ex: post BODY prints the HTTP status.
post() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 30 -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' ${sid:+-H "Mcp-Session-Id: $sid"} -d "$1" "$url/mcp/ex"
}
sid=
is "$(post '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}')" 200 \
	"a gateway session on ex"
sid=$(grep -i '^mcp-session-id:' "$T/headers" | cut -d' ' -f2 | tr -d '\r')
traffic() {
	local i codes=
	for i in 1 2 3; do
		codes="$codes $(post '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}')"
	done
	codes="$codes $(post '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}')"
	codes="$codes $(post '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"no-such-tool","arguments":{}}}')"
	codes="$codes $(post '{"jsonrpc":"2.0","id":5,"method":"tools/list"}')"
	printf '%s\n' "$codes"
}
is "$(traffic)" " 200 200 200 200 200 200" "tools/call (add, echo, an unknown tool) and tools/list through the gateway"

# Resources are sampled every few seconds and a check's duration exists after
# its first run: wait for a /metrics that has them.
_metrics_complete() {
	curl -s --max-time 30 -o "$T/metrics" "$url/metrics" &&
		grep -q '^mcpd_server_memory_bytes{server="ex"}' "$T/metrics" &&
		grep -q '^mcpd_server_check_duration_seconds{server="ex",check="call"}' "$T/metrics" &&
		grep -q '^mcpd_server_check_duration_seconds{server="other",check="exec"}' "$T/metrics"
}
wait_until 60 _metrics_complete && ok "/metrics has the resources of ex and the durations of its checks" ||
	not_ok "/metrics complete" "$(grep -E '^mcpd_server_(memory_bytes|check_duration)' "$T/metrics")"
if ((have_promtool)); then
	promtool check metrics <"$T/metrics" >"$T/promtool.out" 2>&1
	rc=$?
	is "$rc:$(cat "$T/promtool.out")" "0:" "promtool check metrics accepts /metrics after traffic, without a remark" ||
		diag "$(head -n 20 "$T/promtool.out")"
else
	skip "promtool check metrics" "$no_prom"
fi
like "$(cat "$T/metrics")" '^mcpd_requests_total\{server="ex",method="tools/call",tool="add",outcome="ok"\} 3$' \
	"/metrics counts the traffic the dashboard shows"

# Every metric the dashboard queries is one mcpd renders, so a renamed metric
# fails here. up is Prometheus' own.
{
	grep -v '^#' "$T/metrics" | sed 's/[{ ].*//'
	echo up
} | sort -u >"$T/names"
is "$(comm -23 "$T/dash-names" "$T/names" | xargs)" "" "every metric in the dashboard's queries is in mcpd's /metrics"
# The rules too: every name in an expression (by the same token rule).
sed -n 's/^ *expr: *//p; /^ *expr: |/,/^ *for:/p' "$rules" | grep -oE '\b(mcpd|process)_[a-z_]+|\bup\b' | sort -u >"$T/rule-names"
is "$(comm -23 "$T/rule-names" "$T/names" | xargs)" "" "every metric in the alerting rules is in mcpd's /metrics"

# ---------------------------------------------------------------- a real Prometheus
if ((!have_prometheus || !have_promtool)); then
	skip "a real Prometheus scrapes mcpd and evaluates the rules and the dashboard" "$no_prom"
	stop_mcpd
	no_leftovers "$T" "no process is left behind"
	done_testing
fi

# The shipped rules, and a copy without the for: delays (group mcpd-now), so
# that an alert fires within the test.
sed -e 's/^\( *\)for: .*/\1for: 0s/' -e 's/^\( *\)- name: mcpd$/\1- name: mcpd-now/' "$rules" >"$T/rules-now.yml"
write_prometheus_config() {
	cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
  - $T/rules-now.yml
scrape_configs:
  - job_name: mcpd
    static_configs:
      - targets: ["127.0.0.1:$port"]
YAML
}
write_prometheus_config
_prom_up_or_gone() {
	curl -sf --max-time 5 "$prom/-/ready" || ! alive "$pid_prom"
}
started=0
for attempt in 1 2 3 4 5; do
	pport=$(test_port)
	((pport == port)) && continue
	prom=http://127.0.0.1:$pport
	spawn prom prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn
	wait_until 60 _prom_up_or_gone
	if curl -sf --max-time 5 "$prom/-/ready" >/dev/null; then
		started=1
		break
	fi
	stop_spawned prom
	grep -q 'address already in use' "$T/prom.err" || break # another port will not help
done
((started)) || { not_ok "Prometheus starts" "$(tail -n 20 "$T/prom.err")"; done_testing; }
ok "Prometheus starts on 127.0.0.1:$pport (attempt $attempt)"

api() { # api PATH [curl args]: GET the API; the body in $T/api.json
	curl -s --max-time 30 -o "$T/api.json" -G "$prom/api/v1/$1" "${@:2}"
}
_target_up() {
	api targets && [[ $(jq -r '.data.activeTargets[] | select(.labels.job == "mcpd") | .health' "$T/api.json") == up ]]
}
wait_until 60 _target_up && ok "Prometheus scrapes mcpd (target up)" ||
	not_ok "target up" "$(jq -c '.data.activeTargets' "$T/api.json" 2>&1 | head -c 2000)"

# Every rule of both groups evaluated: health ok (unknown before its first evaluation).
_rules_evaluated() {
	api rules && [[ $(jq '[.data.groups[].rules[] | select(.health != "ok")] | length' "$T/api.json") == 0 &&
		$(jq '[.data.groups[].rules[]] | length' "$T/api.json") == 20 ]]
}
wait_until 60 _rules_evaluated && ok "Prometheus loaded the rules and evaluated each one with health ok" ||
	not_ok "rules evaluated" "$(jq -c '[.data.groups[].rules[] | {name, health, lastError}]' "$T/api.json" 2>&1 | head -c 3000)"
is "$(jq -r '[.data.groups[] | select(.name == "mcpd") | .rules[].name] | sort | join(" ")' "$T/api.json")" \
	"$expected_alerts" "the shipped group mcpd has every alert"
is "$(jq -r '[.data.groups[].rules[] | select((.lastError // "") != "") | "\(.name): \(.lastError)"] | join("; ")' "$T/api.json")" "" \
	"no rule has an evaluation error"

# More traffic, and restarts of crashy (its circuit opened long ago), now that
# Prometheus has seen the counters, so that rates and increases are above 0.
wait_state 60 crashy failed || not_ok "crashy's circuit opens" "$(ctl status crashy)"
check "mcpctl restart crashy (it fails again at once)" ctl restart crashy
is "$(traffic)" " 200 200 200 200 200 200" "more traffic once Prometheus scrapes"

# query EXPR: instant query; the answer in $T/api.json.
query() {
	api query --data-urlencode "query=$1"
}
bad=
n=0
while IFS= read -r e; do
	n=$((n + 1))
	query "$e"
	[[ $(jq -r .status "$T/api.json" 2>/dev/null) == success ]] || bad="$bad
$e: $(head -c 300 "$T/api.json")"
done <"$T/exprs"
is "$bad" "" "Prometheus answers each of the dashboard's $n queries with status success"

# has_data EXPR: the query returns at least one sample with a value above 0.
has_data() {
	query "$1" && jq -e '[.data.result[] | .value[1] | tonumber | select(. > 0)] | length > 0' "$T/api.json" >/dev/null
}
# A call that stays in flight while the panels are checked (the client leaves
# before its answer when the test stops it).
spawn slowcall curl -s --max-time 120 -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	-H "Mcp-Session-Id: $sid" -d '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":100000}}}' "$url/mcp/ex"
# expr_of TITLE: the first query of the panel titled TITLE, as the test runs it.
expr_of() {
	local e
	e=$(jq -r --arg t "$1" '.panels[] | select(.title == $t) | .targets[0].expr' "$dash" | tr '\n' ' ')
	e=${e//\$__rate_interval/1m}
	e=${e//\$__range/5m}
	e=${e//\$job/mcpd}
	e=${e//\$instance/.*}
	printf '%s' "${e//\$server/.*}"
}
for title in "mcpd up" "Servers up" "State per server" "Restarts per server" "Request rate per server" \
	"Request rate per tool" "Errors by outcome" "Error ratio" "Error ratio per server" \
	"Latency per tool (p50, p90, p99)" "Latency p99 per method" "Requests in flight" "Bytes per second" \
	"Memory per server" "Open file descriptors" "Processes" "Probe latency (p50, p99)" "Check status" \
	"mcpd memory" "mcpd file descriptors"; do
	e=$(expr_of "$title")
	if [[ -z $e ]]; then
		not_ok "panel '$title' exists"
	elif wait_until 60 has_data "$e"; then
		ok "panel '$title' shows data after traffic"
	else
		not_ok "panel '$title' shows data after traffic" "query: $e" "$(head -c 1000 "$T/api.json")"
	fi
done
query "$(expr_of "Request rate per tool")"
is "$(jq -r '[.data.result[] | .metric.tool] | sort | join(",")' "$T/api.json")" "add,echo,other" \
	"the rate per tool names each tool called, an unknown one as other"
stop_spawned slowcall

# The template variables: label_values(SELECTOR, LABEL) through the label API.
for v in job instance server; do
	q=$(jq -r --arg v "$v" '.templating.list[] | select(.name == $v) | .query' "$dash")
	sel=$(printf '%s' "$q" | sed -E 's/^label_values\((.*), *([a-z_]+)\)$/\1/; s/\$job/mcpd/g; s/\$instance/.*/g')
	label=$(printf '%s' "$q" | sed -E 's/^label_values\((.*), *([a-z_]+)\)$/\2/')
	api "label/$label/values" --data-urlencode "match[]=$sel"
	values=$(jq -r '.data | join(",")' "$T/api.json" 2>&1)
	case $v in
	job) is "$values" mcpd "the job variable lists the mcpd job" ;;
	instance) is "$values" "127.0.0.1:$port" "the instance variable lists mcpd's address" ;;
	server) is "$values" "crashy,ex,limited,other" "the server variable lists every server" ;;
	esac
done

# crashy exits after each start: its circuit opens, and the rules (without
# their delays) fire for it; ex, running, has no alert.
_alert_firing() { # _alert_firing NAME SERVER
	api alerts && jq -e --arg a "$1" --arg s "$2" \
		'[.data.alerts[] | select(.labels.alertname == $a and .labels.server == $s and .state == "firing")] | length > 0' \
		"$T/api.json" >/dev/null
}
wait_state 60 crashy failed || not_ok "crashy's circuit opens again" "$(ctl status crashy)"
wait_until 60 _alert_firing MCPServerCircuitOpen crashy && ok "MCPServerCircuitOpen fires for crashy" ||
	not_ok "MCPServerCircuitOpen fires" "$(jq -c '.data.alerts' "$T/api.json" 2>&1 | head -c 2000)"
wait_until 60 _alert_firing MCPServerDown crashy && ok "MCPServerDown fires for crashy" ||
	not_ok "MCPServerDown fires" "$(jq -c '.data.alerts' "$T/api.json" 2>&1 | head -c 2000)"
wait_until 60 _alert_firing MCPServerCheckDegraded other && ok "MCPServerCheckDegraded fires for other (its exec says degraded)" ||
	not_ok "MCPServerCheckDegraded fires" "$(jq -c '.data.alerts' "$T/api.json" 2>&1 | head -c 2000)"
is "$(jq -r '.data.alerts[] | select(.labels.alertname == "MCPServerCircuitOpen" and .labels.server == "crashy")
	| "\(.labels.severity) \(.labels.job) \(.labels.instance) | \(.annotations.summary)"' "$T/api.json" | head -n 1)" \
	"critical mcpd 127.0.0.1:$port | MCP server crashy on 127.0.0.1:$port is failed (circuit open)" \
	"with its severity, job, instance and a summary naming the server"
is "$(jq -r '[.data.alerts[] | select(.labels.server == "ex" or .labels.server == "other")
	| select(.labels.alertname | test("Down|Circuit|CrashLoop")) | .labels.alertname] | join(",")' "$T/api.json")" "" \
	"no down, circuit or crash loop alert for the servers that run"

stop_spawned prom
ok "Prometheus stopped"

# make install puts the four files with the other examples.
if make -s -C "$top_builddir" install-dist_monitoringDATA DESTDIR="$T/root" >"$T/install.out" 2>&1; then
	is "$(cd "$T/root" && find . -path '*/examples/monitoring/*' -type f | sed 's|.*/examples/|examples/|' | sort | xargs)" \
		"examples/monitoring/grafana-dashboard.json examples/monitoring/mcpd-alerts.test.yml examples/monitoring/mcpd-alerts.yml examples/monitoring/prometheus.yml" \
		"make install puts the dashboard, the rules, their tests and prometheus.yml under DOCDIR/examples/monitoring"
else
	not_ok "make install-dist_monitoringDATA" "$(tail -n 20 "$T/install.out")"
fi
stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
