#!/bin/bash
# Deep health checks (health.call, health.exec): a call of a missing tool makes
# its server unhealthy and restarted with the tool named; a good call passes;
# isError fails; exec's exit 0 / 1 / 2 give ok / degraded / failed; a hanging
# exec is killed with its child at its timeout; exec gets the server's env and
# secrets, which never show in a detail or the log; status, mcpctl health,
# /health and /metrics show every check; a reload that changes only a check
# does not restart the server.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

MARK=dh-hang-$$-$RANDOM
SECRET=s3cr3t-$RANDOM-value
printf '%s\n' "$SECRET" >"$T/token"
chmod 600 "$T/token"
cat >"$T/check.sh" <<'SH'
#!/bin/sh
echo "FOO=$FOO TOKEN=$TOKEN code=$1"
echo "second line"
exit "$1"
SH
cat >"$T/hang.sh" <<SH
#!/bin/bash
(exec -a $MARK-child sleep 1000) &
echo "hanging"
exec -a $MARK-main sleep 1000
SH
cat >"$T/slow.sh" <<SH
#!/bin/bash
exec -a $MARK-slow sleep 2.5
SH
chmod +x "$T/check.sh" "$T/hang.sh" "$T/slow.sh"

# servers: NAME HEALTH-EXTRA
write_manifest() {
	local h1 h2
	h1=$(test_port)
	h2=$(test_port)
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
defaults:
  health: { interval: 1s, timeout: 900ms, unhealthy_after: 1000 }
  backoff: { initial: 200ms, jitter: 0 }
servers:
  missing:
    command: [$EXAMPLE, --name, missing]
    health: { unhealthy_after: 2, call: { tool: no_such_tool } }
  echo:
    command: [$EXAMPLE, --name, echo]
    health: { call: { tool: echo, arguments: { text: "hello deep" } } }
  modern:
    command: [$EXAMPLE, --name, modern, --modern-only]
    health: { call: { tool: echo, arguments: { text: "modern era" } } }
  iserr:
    command: [$EXAMPLE, --name, iserr]
    protocol: legacy
    health: { call: { tool: ask, arguments: { kind: sampling } } }
  ex0:
    command: [$EXAMPLE, --name, ex0]
    env: { FOO: bar0 }
    secrets: { TOKEN: $T/token }
    health: { exec: [$T/check.sh, "0"] }
  ex1:
    command: [$EXAMPLE, --name, ex1]
    env: { FOO: bar1 }
    health: { exec: [$T/check.sh, "1"] }
  ex2:
    command: [$EXAMPLE, --name, ex2]
    env: { FOO: bar2 }
    secrets: { TOKEN: $T/token }
    health: { exec: [$T/check.sh, "2"] }
  noexec:
    command: [$EXAMPLE, --name, noexec]
    health: { exec: [$T/no-such-check, --x] }
  hang:
    command: [$EXAMPLE, --name, hang]
    health: { interval: 2s, exec: [$T/hang.sh], exec_timeout: 1s }
  slow:
    command: [$EXAMPLE, --name, slow]
    health: { exec: [$T/slow.sh], exec_timeout: 20s }
  webok:
    transport: http
    url: http://127.0.0.1:$h1/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$h1", --name, webok]
    health: { call: { tool: echo, arguments: { text: "over http" } } }
  webbad:
    transport: http
    url: http://127.0.0.1:$h2/mcp
    command: [$EXAMPLE, --http, "127.0.0.1:$h2", --name, webbad]
    health: { call: { tool: no_such_tool } }
YAML
}

"$MCPD" -n -c /dev/stdin >"$T/n.out" 2>&1 <<YAML
version: 1
servers:
  a:
    command: [cat]
    health: { call: { tool: echo, arguments: { text: hi } }, exec: [true], exec_timeout: 2s }
YAML
is "$?" 0 "mcpd -n accepts health.call, health.exec and exec_timeout" || diag "$(cat "$T/n.out")"

start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }
url=http://127.0.0.1:$port

# check_of NAME CHECK KEY: a field of one check in `mcpctl --json status NAME`.
check_of() {
	ctl --json status "$1" 2>/dev/null |
		jq -r --arg n "$1" --arg c "$2" --arg k "$3" \
			'.servers[] | select(.name == $n) | .checks[]? | select(.check == $c) | .[$k] | tostring'
}
_check_is() {
	[[ $(check_of "$1" "$2" status) == "$3" ]]
}
_health_is() {
	[[ $(ctl --json status "$1" | jq -r --arg n "$1" '.servers[] | select(.name == $n) | .health') == "$2" ]]
}
_restarted() {
	(($(field_of "$1" restarts) >= 1))
}

# A call of a tool that does not exist: unhealthy, the tool named, restarted after unhealthy_after.
wait_log 30 'missing: .*unhealthy: health.call no_such_tool failed: JSON-RPC error -32602: "Unknown tool: no_such_tool" \(1 of 2 before a restart\)' &&
	ok "a call of a missing tool makes the server unhealthy, the tool and its error named" ||
	not_ok "missing tool: unhealthy" "$(grep missing: "$T/mcpd.err")"
wait_until 30 _restarted missing &&
	ok "after unhealthy_after failed calls the server is restarted" ||
	not_ok "missing tool: restarted" "$(ctl status missing)"
like "$(grep 'missing: stopping' "$T/mcpd.err" | head -n 1)" 'health.call no_such_tool failed 2 times' \
	"the restart's reason names the check, the tool and the count"
wait_until 30 _check_is missing call failed
like "$(check_of missing call detail)" 'Unknown tool: no_such_tool' "status --json: the call check's detail (kept across its restarts)"
is "$(check_of missing call tool)" no_such_tool "status --json: the call check names its tool"
out=$(ctl health)
like "$out" 'missing: call no_such_tool failed .*Unknown tool: no_such_tool' "mcpctl health has a line for the failed call"

# A good call passes.
wait_until 30 _check_is echo call ok && ok "a call of echo with arguments passes" ||
	not_ok "echo call ok" "$(ctl --json status echo)"
like "$(check_of echo call detail)" 'hello deep' "its detail shows the tool's answer"
is "$(state_of echo)" running "the server with a passing call is running"
like "$(check_of echo probe status)" '^(ok|unknown)$' "the probe is a check too"

# A modern server (2026-07-28) rejects a request without _meta: the call carries it.
wait_until 30 _check_is modern call ok && ok "a call of a modern-only server passes (its era's _meta)" ||
	not_ok "modern call ok" "$(ctl --json status modern)"
like "$(check_of modern call detail)" 'modern era' "its detail shows the tool's answer"

# isError: a tool result that says it failed fails the check.
wait_until 30 _check_is iserr call failed && ok "a call answered with isError: true fails" ||
	not_ok "isError fails" "$(ctl --json status iserr)"
like "$(check_of iserr call detail)" '^tool error: "' "its detail says tool error and quotes the tool's text"
wait_state 30 iserr unhealthy && ok "the server whose call fails is unhealthy" || not_ok "iserr unhealthy" "$(ctl status iserr)"
like "$(field_of iserr reason)" 'health.call ask failed: tool error' "its reason names the check"

# exec: 0 ok, 1 degraded, 2 failed.
wait_until 30 _check_is ex0 exec ok && ok "exec exiting 0 is ok" || not_ok "ex0 ok" "$(ctl --json status ex0)"
is "$(check_of ex0 exec detail)" "FOO=bar0 TOKEN=*** code=0" \
	"exec sees the server's env and its secret, redacted from the detail (first line only)"
wait_until 30 _check_is ex1 exec degraded && ok "exec exiting 1 is degraded" || not_ok "ex1 degraded" "$(ctl --json status ex1)"
wait_until 30 _health_is ex1 degraded && ok "the server's health is degraded" || not_ok "ex1 health" "$(ctl --json status ex1)"
is "$(state_of ex1)" running "a degraded server keeps running"
wait_until 30 _check_is ex2 exec failed && ok "exec exiting 2 is failed" || not_ok "ex2 failed" "$(ctl --json status ex2)"
is "$(check_of ex2 exec detail)" "exit status 2: FOO=bar2 TOKEN=*** code=2" "the failed exec's detail: status and first line"
wait_state 30 ex2 unhealthy && ok "a failed exec makes the server unhealthy" || not_ok "ex2 unhealthy" "$(ctl status ex2)"

# A command that cannot be run fails, saying why.
wait_until 30 _check_is noexec exec failed && ok "an exec that cannot be run fails" || not_ok "noexec failed" "$(ctl --json status noexec)"
like "$(check_of noexec exec detail)" "no-such-check.*No such file or directory" "its detail says why it could not be run"

# A hanging exec is killed at its timeout, with its child.
wait_until 30 _check_is hang exec failed && ok "a hanging exec fails" || not_ok "hang failed" "$(ctl --json status hang)"
like "$(check_of hang exec detail)" '^timed out after 1s \(killed\): hanging' "its detail says it timed out and was killed"
like "$(check_of hang exec duration_ms)" '^1[0-9]{3}(\.[0-9]+)?$' "it ran for about its exec_timeout"
# Between rounds nothing of it is left (the next round starts 2s later).
_no_hang_left() {
	! pgrep -f -- "$MARK" >/dev/null
}
wait_until 30 _no_hang_left && ok "the hanging exec and its child are gone after the timeout" ||
	not_ok "hang leftovers" "$(pgrep -af -- "$MARK")"

# An exec that outlasts the interval is not started again while it runs.
most=0
_slow_sample() {
	local n
	n=$(pgrep -fc -- "$MARK-slow")
	((n > most)) && most=$n
}
_slow_skipped() {
	_slow_sample
	(($(check_of slow exec skipped | sed 's/null/0/') >= ${1:-1}))
}
wait_until 30 _slow_skipped && ok "a round that finds the exec still running skips it (counted)" ||
	not_ok "slow skipped" "$(ctl --json status slow)"
# Sampled over two more skipped rounds, a whole run of it.
wait_until 30 _slow_skipped "$(($(check_of slow exec skipped) + 2))"
is "$most" 1 "one exec of a server runs at a time (the most seen at once)"
wait_until 30 _check_is slow exec ok && ok "the slow exec passes when it ends" || not_ok "slow ok" "$(ctl --json status slow)"

# Over HTTP too.
wait_until 30 _check_is webok call ok && ok "a call over HTTP passes" || not_ok "webok call" "$(ctl --json status webok)"
like "$(check_of webok call detail)" 'over http' "its detail shows the tool's answer"
wait_until 30 _check_is webbad call failed && ok "a call of a missing tool over HTTP fails" ||
	not_ok "webbad call" "$(ctl --json status webbad)"
like "$(check_of webbad call detail)" 'no_such_tool' "its detail names the tool's error"
wait_state 30 webbad unhealthy && ok "the http server whose call fails is unhealthy" || not_ok "webbad unhealthy" "$(ctl status webbad)"

# /health and /metrics.
body=$(curl -s --max-time 30 "$url/health")
like "$body" '"check": *"call"' "/health has the checks"
like "$body" 'no_such_tool' "/health names the failing tool"
metrics=$(curl -s --max-time 30 "$url/metrics")
like "$metrics" 'mcpd_server_check_status\{server="echo",check="call"\} 0' "metrics: echo's call is ok"
like "$metrics" 'mcpd_server_check_status\{server="missing",check="call"\} [23]' "metrics: missing's call is failed (or unknown after its restart)"
like "$metrics" 'mcpd_server_check_status\{server="ex1",check="exec"\} 1' "metrics: ex1's exec is degraded"
like "$metrics" 'mcpd_server_check_status\{server="ex2",check="exec"\} 2' "metrics: ex2's exec is failed"
like "$metrics" 'mcpd_server_check_status\{server="echo",check="probe"\} [03]' "metrics: the probe is a check"
like "$metrics" 'mcpd_server_check_failures_total\{server="ex2",check="exec"\} [1-9]' "metrics: failures are counted"
like "$metrics" 'mcpd_server_check_duration_seconds\{server="ex0",check="exec"\} [0-9.]+' "metrics: the duration of the last run"
if command -v promtool >/dev/null; then
	out=$(printf '%s\n' "$metrics" | promtool check metrics 2>&1)
	is "$?" 0 "promtool check metrics accepts the exposition" || diag "$out"
else
	skip "promtool check metrics" "promtool is not installed"
fi

# The secret never reaches mcpd's log, its status or /health.
if grep -qF -- "$SECRET" "$T/mcpd.err" || ctl --json status | grep -qF -- "$SECRET" || [[ $body == *"$SECRET"* ]]; then
	not_ok "the secret's value appears nowhere"
else
	ok "the secret's value appears nowhere (log, status, /health)"
fi

# Reload: only ex1 and echo left; the aggregate is degraded because of ex1's exec alone.
sed -i -e '/^  missing:/,/^  echo:/{/^  echo:/!d}' -e '/^  modern:/,/^  ex1:/{/^  ex1:/!d}' -e '/^  ex2:/,$d' "$T/m.yaml"
diag "$(cat "$T/m.yaml")"
out=$(ctl reload 2>&1)
like "$out" 'removed' "reload removes the others" || diag "$out"
_only_two() {
	[[ $(ctl --json status | jq '.servers | length') == 2 ]]
}
wait_until 30 _only_two
wait_until 30 _health_is ex1 degraded
ctl health >"$T/health.out"
is "$?" 1 "mcpctl health exits 1 (degraded) when a running server's exec says degraded"
like "$(cat "$T/health.out")" '^health: degraded \(2/2 running\)' "the aggregate is degraded with every server running"
like "$(cat "$T/health.out")" 'ex1: exec degraded .*FOO=bar1' "mcpctl health shows the degraded check and its detail"

# A reload that changes only a check does not restart the server.
pid=$(field_of echo pid)
restarts=$(field_of echo restarts)
sed -i 's/text: "hello deep"/text: "changed check"/' "$T/m.yaml"
out=$(ctl --json reload 2>&1 | tr -d '\n')
like "$out" '"checks_changed": *\[ *"echo"' "reload says echo's checks changed" || diag "$out"
_echo_changed() {
	[[ $(check_of echo call detail) == *"changed check"* ]]
}
wait_until 30 _echo_changed && ok "the changed check runs at the next round" || not_ok "changed check" "$(ctl --json status echo)"
is "$(field_of echo pid)" "$pid" "the server was not restarted (same pid)"
is "$(field_of echo restarts)" "$restarts" "its restart count did not change"

stop_mcpd
no_leftovers "$MARK" "no process of the hanging check is left"
grep -qE "ERROR: AddressSanitizer|runtime error|LeakSanitizer" "$T/mcpd.err" &&
	not_ok "no sanitizer report" "$(grep -A 20 -E 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$T/mcpd.err" | head -n 30)" ||
	ok "no sanitizer report"
done_testing
