#!/bin/bash
# `mcpctl --json status` and /health, written by mcpd as text (no cJSON tree)
# and passed through by mcpctl: servers in many states (running with traffic,
# resources, limits, deep checks and a sandbox; backoff and failed with their
# reasons; stopped). mcpd's reply must be what a JSON library renders back
# from it (valid JSON, cJSON's number and string forms, compact), each
# server's members in the documented order; mcpctl's output must be that
# reply's result, pretty-printed exactly as a JSON library lays it out with
# two spaces; /health's body is the same document.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ! command -v socat >/dev/null || ! command -v python3 >/dev/null || ! command -v curl >/dev/null; then
	skip "status as text" "socat, python3 or curl is not installed"
	done_testing
	exit 0
fi

mkdir -p "$T/out"
# The check's output lands in a detail: quotes, a backslash, a tab, UTF-8 and a control character to escape.
printf '#!/bin/sh\nprintf '"'"'half "good" \\\\ back\\tslash caf\\303\\251 \\001 end\\n'"'"'\nexit 1\n' >"$T/check.sh"
chmod +x "$T/check.sh"

write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
servers:
  busy:
    command: [$EXAMPLE, --name, "busy \"q\" \t\u0001 é"]
    limits: { nofile: 256, core: 0, cpu_time: 1h }
    health: { interval: 1s, timeout: 900ms, exec: [$T/check.sh] }
  called:
    command: [$EXAMPLE, --name, called]
    health: { interval: 1s, timeout: 900ms, call: { tool: echo, arguments: { text: hi } } }
  boxed:
    command: [$EXAMPLE, --name, boxed]
    sandbox: { writable: [$T/out] }
  crashing:
    command: [/bin/sh, -c, 'echo "it said \"no\"" >&2; exit 3']
    backoff: { initial: 1h, max: 1h, jitter: 0 }
  broken:
    command: [/bin/sh, -c, 'exit 4']
    backoff: { initial: 0, jitter: 0 }
    circuit: { failures: 1 }
  idle:
    command: [$EXAMPLE, --name, idle]
    autostart: false
YAML
}
start_mcpd_on_free_port write_manifest || { done_testing; exit 1; }
url=http://127.0.0.1:$port

json_of() { ctl --json status "$@" 2>/dev/null; }
_running() { [[ $(state_of "$1") == running ]]; }
_state() { [[ $(state_of "$1") == "$2" ]]; }
_sampled() { [[ $(json_of busy called boxed | grep -c '"resources"') == 3 ]]; }
_checked() { json_of busy | grep -q '"status": "degraded"' && ! json_of called | grep -q '"status": "unknown"'; }
for s in busy called boxed; do
	wait_until 30 _running "$s" || not_ok "$s running" "$(ctl status)"
done
wait_until 30 _state crashing backoff || not_ok "crashing in backoff" "$(ctl status)"
wait_until 30 _state broken failed || not_ok "broken failed" "$(ctl status)"
wait_until 30 _sampled || not_ok "the running servers' resources sampled" "$(json_of busy called boxed)"
wait_until 30 _checked || not_ok "busy's exec check and called's call check ran" "$(json_of busy called)"

# Traffic on busy.
init='{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
{
	echo "$init"
	echo '{"jsonrpc":"2.0","method":"notifications/initialized"}'
	for i in 1 2 3; do echo '{"jsonrpc":"2.0","id":1'$i',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}'; done
} >"$T/lines"
is "$(timeout 60 "$MCPCTL" -s "$SOCK" connect busy <"$T/lines" | wc -l)" 4 "requests relayed to busy"

echo '{"jsonrpc":"2.0","id":1,"method":"status"}' | socat -t 10 - "UNIX-CONNECT:$SOCK" >"$T/reply"
is "$(wc -l <"$T/reply")" 1 "the status reply is one line"

cat >"$T/render.py" <<'PY'
import json, sys
from collections import OrderedDict
mode, path = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8", errors="surrogateescape").read().rstrip("\n")
v = json.loads(text, object_pairs_hook=OrderedDict)
if mode == "compact":
    out = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
elif mode == "pretty":
    out = json.dumps(v["result"], ensure_ascii=False, indent=2, separators=(",", ": "))
elif mode == "keys":
    out = "\n".join(s["name"] + " " + ",".join(s.keys()) for s in v["result"]["servers"])
elif mode == "shape":   # members in order, values (which move between two calls) left out
    def shape(x):
        if isinstance(x, dict):
            return [[k, shape(x[k])] for k in x]
        if isinstance(x, list):
            return [shape(i) for i in x]
        return ""
    out = json.dumps(shape(v.get("result", v)))
sys.stdout.buffer.write(out.encode("utf-8", "surrogateescape") + b"\n")
PY
render() { python3 "$T/render.py" "$@"; }

# mcpd's text is JSON rendered back byte for byte.
if render compact "$T/reply" >"$T/compact" 2>"$T/py.err"; then
	if cmp -s "$T/reply" "$T/compact"; then
		ok "mcpd's status is compact JSON, byte for byte what a JSON library renders back"
	else
		not_ok "mcpd's status is compact JSON, byte for byte" "$(diff <(tr ',' '\n' <"$T/reply") <(tr ',' '\n' <"$T/compact") | head -20)"
	fi
else
	not_ok "mcpd's status is valid JSON" "$(cat "$T/py.err")"
fi
like "$(cat "$T/reply")" '"server_info":\{"name":"busy \\"q\\" \\t\\u0001 é"' "the server's own name is escaped as cJSON escapes it"
like "$(cat "$T/reply")" '"detail":"half \\"good\\" \\\\ back' "and a check's output"

# Every member, in the documented order, for each kind of server.
want_keys="busy name,state,pid,uptime_s,restarts,reason,transport,critical,autostart,next_try_s,attempt,health,latency_ms,protocol_version,era,server_info,tools,tools_hash,traffic,resources,checks,confinement
called name,state,pid,uptime_s,restarts,reason,transport,critical,autostart,next_try_s,attempt,health,latency_ms,protocol_version,era,server_info,tools,tools_hash,traffic,resources,checks,confinement
boxed name,state,pid,uptime_s,restarts,reason,transport,critical,autostart,next_try_s,attempt,health,latency_ms,protocol_version,era,server_info,tools,tools_hash,traffic,resources,confinement
crashing name,state,pid,uptime_s,restarts,reason,transport,critical,autostart,next_try_s,attempt,health,latency_ms,traffic,confinement
broken name,state,pid,uptime_s,restarts,reason,transport,critical,autostart,next_try_s,attempt,health,latency_ms,traffic,confinement
idle name,state,pid,uptime_s,restarts,reason,transport,critical,autostart,next_try_s,attempt,health,latency_ms,traffic,confinement"
is "$(render keys "$T/reply")" "$want_keys" "each server's members, in order"
python3 - "$T/reply" >"$T/nested" <<'PY'
import json, sys
from collections import OrderedDict
v = json.load(open(sys.argv[1]), object_pairs_hook=OrderedDict)["result"]
s = {x["name"]: x for x in v["servers"]}
print(",".join(v.keys()))
print(",".join(s["busy"]["traffic"].keys()))
print(",".join(s["busy"]["resources"].keys()))
print(";".join(",".join(c.keys()) for c in s["busy"]["checks"]))
print(";".join(",".join(c.keys()) for c in s["called"]["checks"]))
print(",".join(s["busy"]["confinement"].keys()))
print(",".join(k + ":" + ",".join(l.keys()) for k, l in s["busy"]["confinement"]["limits"].items()))
print(",".join(s["boxed"]["confinement"]["sandbox"].keys()))
print(s["crashing"]["state"], s["crashing"]["next_try_s"] > 0, s["crashing"]["reason"].startswith("exited with status 3"))
print(s["broken"]["state"], s["idle"]["state"], s["idle"]["pid"])
PY
is "$(cat "$T/nested")" 'health,manifest,servers
requests,errors,in_flight,window_s,rate,error_rate,p50_ms,p99_ms
source,cpu_seconds,cpu_percent,memory_bytes,memory_limit_bytes,fds,processes,sampled_s_ago
check,status,detail,duration_ms,age_s;check,status,detail,duration_ms,age_s,failures,command
check,status,detail,duration_ms,age_s;check,status,detail,duration_ms,age_s,failures,tool
user,group,cgroup,limits,sandbox
cpu_time:value,by,nofile:value,by,core:value,by
writable,readable,network,private_tmp,best_effort,hidden,mechanisms,missing,control_refused
backoff True True
failed stopped None' "nested members in order; backoff, failed and stopped servers"

# mcpctl --json status prints that reply's result, laid out as a JSON library does with two spaces:
# mcpctl is given the very reply by a stand-in for mcpd on another socket.
spawn fake socat "UNIX-LISTEN:$T/fake.sock,fork" "SYSTEM:head -n 1 >/dev/null; cat $T/reply"
_fake_up() { [[ -S $T/fake.sock ]]; }
wait_until 30 _fake_up || not_ok "the stand-in listens"
"$MCPCTL" -s "$T/fake.sock" --json status >"$T/pretty" 2>"$T/pretty.err"
is "$?" 0 "mcpctl --json status exits 0"
render pretty "$T/reply" >"$T/want-pretty"
if cmp -s "$T/pretty" "$T/want-pretty"; then
	ok "mcpctl --json status: the reply's result pretty-printed, byte for byte"
else
	not_ok "mcpctl --json status: the reply's result pretty-printed, byte for byte" "$(diff "$T/pretty" "$T/want-pretty" | head -20) $(cat "$T/pretty.err")"
fi
# Not JSON from the stand-in: mcpctl says so and fails.
echo '{"jsonrpc":"2.0","id":1,"result":{"health":"ok",}}' >"$T/reply"
"$MCPCTL" -s "$T/fake.sock" --json status >"$T/bad.out" 2>"$T/bad.err"
is "$?" 1 "a reply that is not JSON: mcpctl exits 1"
like "$(cat "$T/bad.err")" 'not a JSON-RPC message' "and says what mcpd sent"
stop_spawned fake

# /health: the same document as the status (the values that move masked).
curl -s --max-time 30 "$url/health" >"$T/health"
echo '{"jsonrpc":"2.0","id":1,"method":"status"}' | socat -t 10 - "UNIX-CONNECT:$SOCK" >"$T/reply2"
is "$(render shape "$T/health")" "$(render shape "$T/reply2")" "/health's body is the status document, member for member"
render compact "$T/health" >"$T/health-compact" 2>/dev/null
printf '%s\n' "$(cat "$T/health")" | cmp -s - "$T/health-compact" && ok "/health's body is compact JSON as rendered back" ||
	not_ok "/health's body is compact JSON as rendered back"

check "mcpd still answers" ctl version
done_testing
