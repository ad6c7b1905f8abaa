#!/bin/bash
# gateway.jwt: bearer tokens verified as JWTs against a key set from a file
# (re-read on reload) or a URL (fetched again for an unknown kid); 401s name the
# protected resource metadata, which mcpd serves (RFC 9728).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

node_dir=$top_srcdir/tests/node
if ! command -v openssl >/dev/null || ! command -v node >/dev/null; then
	skip "gateway.jwt" "openssl or node is missing (keys are made with openssl, JWKs and tokens with node's crypto)"
	done_testing
fi

# Keys: two RSA and one EC P-256, made here.
for k in r1 r2 r3; do openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$k.pem" 2>/dev/null; done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/e1.pem" 2>/dev/null
openssl pkey -in "$T/r1.pem" -pubout -out "$T/r1.pub" 2>/dev/null

cat >"$T/jwt.mjs" <<'JS'
// node jwt.mjs jwks KEY.pem:KID...           print a JWKS of the public keys
// node jwt.mjs sign KEY.pem ALG HEADER PAYLOAD  print a token (ALG RS256/ES256; HS256: KEY is the HMAC secret's file; none)
import { createPrivateKey, createPublicKey, createHmac, sign } from "node:crypto";
import { readFileSync } from "node:fs";
const [mode, ...a] = process.argv.slice(2);
const b64 = (b) => Buffer.from(b).toString("base64url");
if (mode === "jwks") {
	const keys = a.map((s) => {
		const [file, kid] = s.split(":");
		return { ...createPublicKey(readFileSync(file)).export({ format: "jwk" }), kid, use: "sig" };
	});
	console.log(JSON.stringify({ keys }));
} else {
	const [file, alg, header, payload] = a;
	const input = b64(header) + "." + b64(payload);
	let sig = "";
	if (alg === "HS256") sig = createHmac("sha256", readFileSync(file)).update(input).digest("base64url");
	else if (alg === "RS256") sig = b64(sign("sha256", Buffer.from(input), createPrivateKey(readFileSync(file))));
	else if (alg === "ES256")
		sig = b64(sign("sha256", Buffer.from(input), { key: createPrivateKey(readFileSync(file)), dsaEncoding: "ieee-p1363" }));
	console.log(input + "." + sig);
}
JS
jwks() { node "$T/jwt.mjs" jwks "$@"; }
now=$(date +%s)
# token KEY KID ALG [CLAIMS...]: claims default to valid ones for agent "support".
token() {
	local key=$1 kid=$2 alg=$3 claims=${4:-}
	[[ -n $claims ]] || claims="{\"iss\":\"https://issuer.test\",\"aud\":\"mcpd-test\",\"sub\":\"support\",\"exp\":$((now + 600)),\"iat\":$now}"
	node "$T/jwt.mjs" sign "$T/$key" "$alg" "{\"alg\":\"$alg\",\"kid\":\"$kid\",\"typ\":\"JWT\"}" "$claims"
}
claims() { # claims ISS AUD EXP [NBF]
	printf '{"iss":"%s","aud":"%s","sub":"support","exp":%s%s}' "$1" "$2" "$3" "${4:+,\"nbf\":$4}"
}

jwks "$T/r1.pem:r1" "$T/e1.pem:e1" >"$T/jwks.json"
tok_static=static-$RANDOM$RANDOM-secret-token
printf 'ops: %s\n' "$tok_static" >"$T/tokens"
write_manifest() {
	cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway:
    tokens_file: $T/tokens
    jwt: { issuer: "https://issuer.test", audience: mcpd-test, jwks_file: $T/jwks.json, leeway: 30s }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML
}
start_mcpd_on_free_port write_manifest || { not_ok "mcpd starts with gateway.jwt"; done_testing; }
base=http://127.0.0.1:$port
url=$base/mcp/ex
wait_state 10 ex running

# Each refused request comes from its own source address: failures are throttled per address.
# (post runs in $(...): the count lives in a file.)
echo 1 >"$T/src"
post() { # post TOKEN: prints the HTTP status; body in $T/body, headers in $T/headers
	local src=$(($(cat "$T/src") + 1))
	echo "$src" >"$T/src"
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 10 --interface "127.0.0.$src" \
		${1:+-H "Authorization: Bearer $1"} -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -d "$init" "$url"
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
challenge="WWW-Authenticate: Bearer resource_metadata=\"$base/.well-known/oauth-protected-resource\""

good=$(token r1.pem r1 RS256)
is "$(post "$good")" 200 "a valid RS256 token passes"
like "$(cat "$T/body")" '"serverInfo":\{"name":"ex"' "and initialize reaches the server"
is "$(post "$(token e1.pem e1 ES256)")" 200 "a valid ES256 token passes"
is "$(post "$tok_static")" 200 "a tokens_file token still passes next to jwt"
like "$(mcpd_log)" 'ex: gateway: POST 200 [0-9.]+ms agent=support' "the access log names the JWT's agent (sub)"
if [[ -d $node_dir/node_modules/@modelcontextprotocol/sdk && -d $node_dir/node_modules/@modelcontextprotocol/client ]]; then
	out=$(timeout 60 node "$node_dir/sdk-client.mjs" http "$url" "$good" add '{"a":2,"b":3}' 2>"$T/sdk.err")
	like "$out" '"text":"5"' "the SDK v1 client calls a tool through the gateway with a JWT" || diag "$(cat "$T/sdk.err")"
	out=$(timeout 90 node "$node_dir/sdk2-client.mjs" auto http "$url" "$good" --tool add --args '{"a":2,"b":3}' 2>"$T/sdk.err")
	like "$out" '"result":"5"' "the SDK v2 client too" || diag "$(cat "$T/sdk.err")"
else
	skip "the SDK clients with a JWT" "tests/node/node_modules is not installed"
fi

refused() { # refused TOKEN DESC REASON
	is "$(post "$1")" 401 "$2 gets 401"
	like "$(tr -d '\r' <"$T/headers")" "$challenge, error=\"invalid_token\", error_description=\"$3\"" \
		"  with WWW-Authenticate naming the metadata and the reason ($3)"
}
refused "$(token r1.pem r1 RS256 "$(claims https://issuer.test other $((now + 600)))")" "a wrong audience" audience
refused "$(token r1.pem r1 RS256 "$(claims https://evil.test mcpd-test $((now + 600)))")" "a wrong issuer" issuer
refused "$(token r1.pem r1 RS256 "$(claims https://issuer.test mcpd-test $((now - 120)))")" "an expired token" expired
refused "$(token r1.pem r1 RS256 "$(claims https://issuer.test mcpd-test $((now + 600)) $((now + 300)))")" \
	"a token not valid yet (nbf)" not_yet_valid
refused "$(token r2.pem r2 RS256)" "an unknown kid" unknown_key
refused "$(token r2.pem r1 RS256)" "a token signed by another key" signature
h=$(printf '{"alg":"none","kid":"r1"}' | base64 -w0 | tr '+/' '-_' | tr -d =)
p=$(printf '{"iss":"https://issuer.test","aud":"mcpd-test","sub":"support","exp":%s}' $((now + 600)) | base64 -w0 | tr '+/' '-_' | tr -d =)
refused "$h.$p." "alg none" algorithm
refused "$(token r1.pub r1 HS256)" "HS256 signed with the public key as the secret" algorithm
refused "$(token e1.pem r1 ES256)" "ES256 naming an RSA key" algorithm
refused "not-a-jwt" "a token that is neither a static token nor a JWT" malformed
is "$(post "")" 401 "no token gets 401"
like "$(tr -d '\r' <"$T/headers")" "$challenge"$'\n' "  with the metadata and no error (nothing was given)"
! grep -q "$good\|$tok_static\|not-a-jwt" "$T/mcpd.err" && ok "no token appears in the log" || not_ok "token in log"
like "$(mcpd_log)" 'bearer token from 127\.0\.0\.[0-9]+ refused \(expired\): expired [0-9]+s ago; answered 401' \
	"a refusal is logged with its cause"

meta=$(curl -s --max-time 10 "$base/.well-known/oauth-protected-resource")
like "$meta" "^\\{\"resource\":\"$base\",\"authorization_servers\":\\[\"https://issuer.test\"\\],\"bearer_methods_supported\":\\[\"header\"\\]" \
	"/.well-known/oauth-protected-resource names this gateway and the issuer"
metrics=$(curl -s --max-time 10 "$base/metrics")
like "$metrics" 'mcpd_gateway_auth_failures_total\{reason="expired"\} 1' "/metrics counts failures by reason"
like "$metrics" 'mcpd_gateway_auth_failures_total\{reason="algorithm"\} 3' "  (three algorithm refusals)"

# Reload with a new key set: r2 is taken, r1 is gone.
jwks "$T/r2.pem:r2" >"$T/jwks.json"
ctl reload >/dev/null 2>&1
is "$(post "$(token r2.pem r2 RS256)")" 200 "after a reload with a new jwks_file, its key is taken"
is "$(post "$good")" 401 "and the removed key's tokens are refused"
echo '{"keys":[' >"$T/jwks.json"
ctl reload >/dev/null 2>&1
wait_log 10 'the JWT key set from .*jwks.json is invalid: not a JSON Web Key Set.*keeping the previous keys' &&
	ok "an invalid key set on reload is logged and the previous keys stay" || not_ok "invalid jwks logged" "$(mcpd_log | tail -5)"
is "$(post "$(token r2.pem r2 RS256)")" 200 "  and still verify tokens"
stop_mcpd

# jwks_url: fetched at start; an unknown kid fetches it again (at most once per 30 s).
if ! command -v python3 >/dev/null; then
	skip "gateway.jwt.jwks_url" "python3 is missing (it serves the key set)"
else
	mkdir -p "$T/www"
	jwks "$T/r1.pem:r1" >"$T/www/jwks.json"
	wport=$(test_port)
	spawn web python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$wport"
	wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$wport/jwks.json" || not_ok "the key set's web server starts"
	rm -f "$T/mcpd.err"
	write_url_manifest() {
		cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  gateway:
    jwt: { issuer: "https://issuer.test", audience: mcpd-test, jwks_url: "http://keyuser:SECRETPW@127.0.0.1:$wport/jwks.json?sig=SECRETQ#SECRETF" }
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML
	}
	start_mcpd_on_free_port write_url_manifest || { not_ok "mcpd starts with gateway.jwt.jwks_url"; done_testing; }
	base=http://127.0.0.1:$port
	url=$base/mcp/ex
	wait_state 10 ex running
	wait_log 20 'loaded 1 JWT signing keys from http://127.0.0.1' && ok "the key set is fetched at start" ||
		not_ok "jwks_url fetched" "$(mcpd_log | tail -5)"
	is "$(post "$good")" 200 "a token of its key passes"
	jwks "$T/r1.pem:r1" "$T/r3.pem:r3" >"$T/www/jwks.json"
	t3=$(token r3.pem r3 RS256)
	is "$(post "$t3")" 401 "a token of a key the set does not have yet gets 401 (requests never wait for a fetch)"
	_passes() { [[ $(post "$t3") == 200 ]]; }
	wait_until 30 _passes && ok "and triggers a fetch: the same token passes once it is done" ||
		not_ok "unknown kid refetch" "$(mcpd_log | tail -5)"
	post "$(token r2.pem r2 RS256)" >/dev/null
	post "$(token r2.pem r2x RS256)" >/dev/null
	is "$(grep -c 'names a key the set lacks; fetching' "$T/mcpd.err")" 1 \
		"more unknown kids within 30 s fetch nothing more"
	mv "$T/www/jwks.json" "$T/www/gone.json"
	ctl reload >/dev/null 2>&1
	wait_log 20 'fetching the JWT key set from http://127.0.0.1:[0-9]+/jwks.json answered HTTP 404; keeping the previous keys' &&
		ok "a fetch that fails on reload is logged with its cause" || not_ok "failed fetch logged" "$(mcpd_log | tail -5)"
	is "$(post "$t3")" 200 "  and the last good key set stays"
	is "$(grep -c 'SECRET' "$T/mcpd.err")" 0 "no log line shows the URL's password, query or fragment"
	stop_mcpd
	stop_spawned web
fi

no_leftovers "$T" "no process is left behind"
done_testing
