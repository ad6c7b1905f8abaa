#!/bin/bash
# gateway.jwt under attack: a hostile client (claims a parser reads two ways,
# tokens of 8 KiB +- 1, unknown kids by the hundred, a forged Host) and a hostile
# key set server (slow, huge, redirecting, junk, 500); reloads that swap the key
# set while requests go on; no token in the log, /metrics, /health or status.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ! command -v openssl >/dev/null || ! command -v node >/dev/null || ! command -v python3 >/dev/null; then
	skip "gateway.jwt attacks" "openssl, node or python3 is missing"
	done_testing
fi

for k in r1 r2; do openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$k.pem" 2>/dev/null; done

cat >"$T/jwt.mjs" <<'JS'
// node jwt.mjs jwks KEY.pem:KID...            a JWKS of the public keys
// node jwt.mjs sign KEY.pem HEADER PAYLOAD     an RS256 token of these JSON texts (as written, <NUL> a NUL byte)
// node jwt.mjs sized KEY.pem KID LEN PAYLOAD   a valid RS256 token of exactly LEN bytes (claim "x" pads it)
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
const [mode, ...a] = process.argv.slice(2);
const b64 = (b) => Buffer.from(b).toString("base64url");
const rs256 = (file, header, payload) => {
	const input = b64(header) + "." + b64(payload);
	return input + "." + b64(sign("sha256", Buffer.from(input), createPrivateKey(readFileSync(file))));
};
if (mode === "jwks") {
	const keys = a.map((s) => {
		const [file, kid] = s.split(":");
		return { ...createPublicKey(readFileSync(file)).export({ format: "jwk" }), kid, use: "sig" };
	});
	console.log(JSON.stringify({ keys }));
} else if (mode === "sign") {
	console.log(rs256(a[0], a[1], a[2].replaceAll("<NUL>", "\0")));
} else {
	const [file, kid, len, payload] = a;
	for (let h = 0; h < 4; h++)
		for (let p = 0; p < 8000; p++) {
			const header = JSON.stringify({ alg: "RS256", kid, typ: "JWT".padEnd(3 + h, " ") });
			const t = rs256(file, header, payload.replace(/}$/, `,"x":"${"y".repeat(p)}"}`));
			if (t.length === Number(len)) { console.log(t); process.exit(0); }
			if (t.length > Number(len)) break;
		}
	process.exit(1);
}
JS
now=$(date +%s)
claims_of() { printf '{"iss":"https://issuer.test","aud":"mcpd-test","sub":"%s","exp":%s}' "$1" $((now + 600)); }
sign() { node "$T/jwt.mjs" sign "$T/r1.pem" "$@"; }
h1='{"alg":"RS256","kid":"r1"}'

# The hostile key set server: its answer is chosen by $T/www/mode; every request's path goes to $T/www/requests.
mkdir -p "$T/www"
cat >"$T/jwks-server.py" <<'PY'
import http.server, sys, time
d, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        with open(d + "/requests", "a") as f:
            f.write(self.path + "\n")
        mode = open(d + "/mode").read().strip()
        try:
            if mode == "ok":
                body = open(d + "/jwks.json", "rb").read()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif mode == "500":
                self.send_error(500)
            elif mode == "junk":
                body = b"<html>not a key set</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif mode == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:%d/evil.json" % port)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "huge":   # no Content-Length: 4 MiB until curl hangs up
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"keys":[')
                for _ in range(4096):
                    self.wfile.write(b" " * 1024)
            elif mode == "slow":   # one byte a second, 30 at most
                self.send_response(200)
                self.end_headers()
                for _ in range(30):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
node "$T/jwt.mjs" jwks "$T/r1.pem:r1" >"$T/www/jwks.json"
echo ok >"$T/www/mode"
wport=$(test_port)
spawn web python3 "$T/jwks-server.py" "$T/www" "$wport"
wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$wport/jwks.json" || not_ok "the key set server starts"
: >"$T/www/requests"

tok_static=static-$RANDOM$RANDOM-secret-token
printf 'ops: %s\n' "$tok_static" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway:
    tokens_file: $T/tokens
    jwt: { issuer: "https://issuer.test", audience: mcpd-test, jwks_url: "http://127.0.0.1:$wport/jwks.json" }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with gateway.jwt.jwks_url"; done_testing; }
base=http://127.0.0.1:$port
url=$base/mcp/ex
wait_state 10 ex running
wait_log 20 'loaded 1 JWT signing keys from http://127.0.0.1' || not_ok "the key set is fetched at start"

# Each request from its own source address (127.0.0.2-254): failures are throttled per address.
echo 1 >"$T/src"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
post() { # post TOKEN [CURL ARGS...]: the HTTP status; body in $T/body, headers in $T/headers
	local src=$(($(cat "$T/src") % 253 + 2)) tok=$1
	shift
	echo "$src" >"$T/src"
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 20 --interface "127.0.0.$src" \
		${tok:+-H "Authorization: Bearer $tok"} -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' "$@" -d "$init" "$url"
}
reason() { tr -d '\r' <"$T/headers" | grep -o 'error_description="[a-z_]*"'; }

good=$(sign "$h1" "$(claims_of support)")
is "$(post "$good")" 200 "a valid token passes"

# --- parser differentials: what cJSON reads is not what another reader reads ----------------
t=$(sign "$h1" "$(claims_of 'support\u0000admin')")
is "$(post "$t"):$(reason)" '401:error_description="malformed"' \
	'a "sub" of support\u0000admin is refused (cJSON would have read agent "support")'
t=$(sign "$h1" "$(claims_of 'support<NUL>admin')")
is "$(post "$t"):$(reason)" '401:error_description="malformed"' \
	'a "sub" of support, a raw NUL byte and admin is refused (cJSON takes it and reads "support")'
t=$(sign "$h1" "{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"sub\":\"ops\",\"exp\":$((now + 600))}")
is "$(post "$t"):$(reason)" '401:error_description="malformed"' \
	'a claim given twice (sub support, then ops) is refused, not read as the first'
t=$(sign '{"alg":"RS256","kid":"r1","alg":"none"}' "$(claims_of support)")
is "$(post "$t"):$(reason)" '401:error_description="malformed"' "a header naming alg twice is refused"
t=$(sign "$h1" "$(claims_of support)x")
is "$(post "$t"):$(reason)" '401:error_description="malformed"' "claims with text after the JSON object are refused"

# --- 8 KiB +- 1, whitespace --------------------------------------------------------------
t=$(node "$T/jwt.mjs" sized "$T/r1.pem" r1 8192 "$(claims_of support)")
is "${#t}:$(post "$t")" 8192:200 "a valid token of 8192 bytes passes"
t=$(node "$T/jwt.mjs" sized "$T/r1.pem" r1 8193 "$(claims_of support)")
is "${#t}:$(post "$t"):$(reason)" '8193:401:error_description="malformed"' "one of 8193 bytes is refused as malformed"
is "$(post "${good:0:20} ${good:20}"):$(reason)" '401:error_description="malformed"' "a token with a space inside is refused"

# --- unknown kids by the hundred: the key set URL is fetched once, not per request ---------
: >"$T/www/requests"
: >"$T/codes"
for i in $(seq 1 100); do
	post "$(printf '%s.%s.AAAA' "$(printf '{"alg":"RS256","kid":"k%d"}' "$i" | base64 -w0 | tr '+/' '-_' | tr -d =)" \
		"$(claims_of support | base64 -w0 | tr '+/' '-_' | tr -d =)")" >>"$T/codes"
	echo >>"$T/codes"
done
is "$(sort -u "$T/codes" | tr '\n' ' ')" "401 " "100 tokens of 100 unknown kids get 401"
_fetched() { [[ $(grep -c jwks.json "$T/www/requests") -ge 1 ]]; }
wait_until 20 _fetched
is "$(grep -c jwks.json "$T/www/requests")" 1 "  and fetch the key set once (at most one fetch per 30 s for unknown kids)"
is "$(grep -c 'names a key the set lacks; fetching' "$T/mcpd.err")" 1 "  logged once"
wait_log 30 'more bearer tokens refused in the last 10s, past 20 logged one by one' &&
	ok "  the refusals past 20 are summarised, not logged one by one" || not_ok "refusals summarised"

# --- the hostile key set server: each answer is logged, the last good keys stay ----------------
# (only what mcpd logged after line $mark counts)
_logged_since() { tail -n "+$mark" "$T/mcpd.err" | grep -qE -- "$1"; }
hostile() { # hostile MODE REGEX DESC
	echo "$1" >"$T/www/mode"
	: >"$T/www/requests"
	mark=$(($(wc -l <"$T/mcpd.err") + 1))
	ctl reload >/dev/null 2>&1
	wait_until 30 _logged_since "$2" && ok "a key set server that $3 is logged" ||
		not_ok "$3 logged" "$(mcpd_log | tail -5)"
	is "$(post "$good")" 200 "  and the last good keys still verify tokens"
}
hostile 500 'answered HTTP 500; keeping the previous keys' "answers 500"
hostile redirect 'answered HTTP 302; keeping the previous keys' "redirects"
! grep -q evil.json "$T/www/requests" && ok "  the redirect is not followed" || not_ok "redirect followed"
hostile junk 'is invalid: not a JSON Web Key Set .*keeping the previous keys' "answers junk"
hostile huge 'is larger than 256 KiB; keeping the previous keys' "sends 4 MiB"
echo slow >"$T/www/mode"
: >"$T/www/requests"
mark=$(($(wc -l <"$T/mcpd.err") + 1))
ctl reload >/dev/null 2>&1
wait_until 20 grep -q jwks.json "$T/www/requests"
start=$(date +%s)
is "$(post "$good")" 200 "while a slow key set server dribbles, requests are answered"
(($(date +%s) - start < 5)) && ok "  at once" || not_ok "requests waited for the fetch"
wait_until 40 _logged_since 'cannot fetch the JWT key set from .*: Timeout was reached; keeping the previous keys' &&
	ok "a key set server that answers one byte a second times out after 10 s, logged" ||
	not_ok "slow fetch timed out" "$(mcpd_log | tail -5)"
is "$(post "$good")" 200 "  and the last good keys still verify tokens"

# --- a forged Host: the challenge and the metadata name the manifest's address -------------------
post "" -H "Host: evil.example\", error=\"x" >/dev/null
like "$(tr -d '\r' <"$T/headers")" "WWW-Authenticate: Bearer resource_metadata=\"$base/.well-known/oauth-protected-resource\""$'\n' \
	"a forged Host does not reach WWW-Authenticate"
meta=$(curl -s --max-time 10 -H "Host: evil.example" "$base/.well-known/oauth-protected-resource")
like "$meta" "^\\{\"resource\":\"$base\",\"authorization_servers\":\\[\"https://issuer.test\"\\]" \
	"nor the protected resource metadata"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$base/.well-known/oauth-protected-resource")" 405 \
	"the metadata is not a POST target" || true
stop_mcpd

# --- reloads swapping jwks_file while requests go on -----------------------------------------------
node "$T/jwt.mjs" jwks "$T/r1.pem:r1" >"$T/k1.json"
node "$T/jwt.mjs" jwks "$T/r2.pem:r2" >"$T/k2.json"
cp "$T/k1.json" "$T/jwks.json"
jwks_path=$T/jwks.json
write_file_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway:
    jwt: { issuer: "https://issuer.test", audience: mcpd-test, jwks_file: $jwks_path }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML
}
rm -f "$T/mcpd.err"
start_mcpd_on_free_port write_file_manifest || { not_ok "mcpd starts with gateway.jwt.jwks_file"; done_testing; }
base=http://127.0.0.1:$port
url=$base/mcp/ex
wait_state 10 ex running
good2=$(node "$T/jwt.mjs" sign "$T/r2.pem" '{"alg":"RS256","kid":"r2"}' "$(claims_of support)")
cat >"$T/load.sh" <<SH
for i in \$(seq 1 150); do
	curl -s --interface 127.0.0.\$((i % 250 + 2)) -o /dev/null -w '%{http_code}\n' --max-time 20 -H "Authorization: Bearer \$(((i % 2)) && echo $good || echo $good2)" \
		-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '$init' "$url"
done
SH
spawn load bash "$T/load.sh"
for i in 1 2 3 4 5 6; do
	((i % 2)) && cp "$T/k2.json" "$T/jwks.json.new" || cp "$T/k1.json" "$T/jwks.json.new"
	mv "$T/jwks.json.new" "$T/jwks.json"
	ctl reload >/dev/null 2>&1
done
_load_done() { [[ $(wc -l <"$T/load.out") -ge 150 ]]; }
wait_until 120 _load_done
# (429: the agent's own request budget, which 150 sessions exceed)
like "$(sort -u "$T/load.out" | tr '\n' ' ')" '^200 401 (429 )?$' \
	"150 requests during 6 reloads swapping the key set: each 200, 401 (or 429, the agent's budget)"
alive "$pid_mcpd" && ok "  mcpd lives" || not_ok "mcpd died"
is "$(post "$(sign "$h1" "$(claims_of after)")")" 200 "after the last reload, the last set's key (r1) verifies"
is "$(post "$(node "$T/jwt.mjs" sign "$T/r2.pem" '{"alg":"RS256","kid":"r2"}' "$(claims_of after)")"):$(reason)" \
	'401:error_description="unknown_key"' "  and the other one's (r2) is refused"

# --- a reload naming another key set that cannot be read: the keys of the one no longer named are dropped -----
jwks_path=$T/moved.json
write_file_manifest "$port"
mark=$(($(wc -l <"$T/mcpd.err") + 1))
ctl reload >/dev/null 2>&1
wait_until 20 _logged_since "cannot read jwks_file $T/moved.json: .*every bearer token that is not in tokens_file is refused" &&
	ok "a reload to a jwks_file that cannot be read is logged" || not_ok "unreadable jwks_file logged" "$(mcpd_log | tail -5)"
like "$(tail -n "+$mark" "$T/mcpd.err")" "the JWT keys from $T/jwks.json are dropped: the key set is now $T/moved.json" \
	"  and says the keys of the file no longer named are dropped"
is "$(post "$(sign "$h1" "$(claims_of later)")"):$(reason)" '401:error_description="unknown_key"' \
	"  whose tokens are refused (not kept as the last good keys: they are another source's)"
cp "$T/k1.json" "$T/moved.json"
ctl reload >/dev/null 2>&1
is "$(post "$(sign "$h1" "$(claims_of later)")")" 200 "once the new file is there, a reload takes its keys"

# --- no token anywhere: log, /metrics, /health, status -----------------------------------------------
{
	mcpd_log
	curl -s --max-time 10 "$base/metrics"
	curl -s --max-time 10 "$base/health"
	ctl status --json 2>&1
} >"$T/everything"
leaked=0
for t in "$good" "$good2" "$tok_static" "${good##*.}" "${good2##*.}"; do
	grep -qF -- "$t" "$T/everything" && leaked=$((leaked + 1))
done
is "$leaked" 0 "no token or signature in the log, /metrics, /health or status"
stop_mcpd
stop_spawned web
stop_spawned load

no_leftovers "$T" "no process is left behind"
done_testing
