#!/bin/bash
# mcpd's resident memory (issue 17): libcurl, libmicrohttpd and libcrypto are
# loaded only when the manifest needs them (and say so clearly when they cannot
# be), libsystemd only under systemd; a server's buffers, given back while it is idle,
# grow again for a large message and a long stderr line.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

# --- What mcpd links -------------------------------------------------------------
ldd "$MCPD" >"$T/ldd" 2>&1
for lib in libcurl libmicrohttpd libcrypto libsystemd libgnutls; do
	grep -q "$lib" "$T/ldd" && not_ok "mcpd does not link $lib" "$(cat "$T/ldd")" ||
		ok "mcpd does not link $lib"
done

# --- Stdio servers only: none of them is mapped --------------------------------
big=$(head -c 3000 /dev/zero | tr '\0' x)
cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 200ms, jitter: 0 }
servers:
  ex:
    command: [$EXAMPLE, --name, mem-$$-ex]
  talker:
    command: [$EXAMPLE, --name, mem-$$-talker, --stderr-message, "begin${big}end"]
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
wait_state 60 talker running || not_ok "talker running" "$(ctl status)"
grep -oE '/[^ ]*\.so[^ ]*' "/proc/$pid_mcpd/maps" | sort -u >"$T/maps"
for lib in libcurl libmicrohttpd libcrypto libgnutls libsystemd; do
	grep -q "$lib" "$T/maps" && not_ok "with stdio servers only, $lib is not loaded" "$(cat "$T/maps")" ||
		ok "with stdio servers only, $lib is not loaded"
done

# --- Large messages after the buffers were given back ---------------------------
# ex is idle since its handshake: its stdin queue and stdout buffer are empty, released.
text=$(head -c 900000 /dev/zero | tr '\0' y)
call() {
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"echo","arguments":{"text":"%s"}}}\n' "$1" "$text"
}
out=$({ call 1; } | timeout 120 "$MCPCTL" -s "$SOCK" connect ex | head -c 2000000)
is "$(printf '%s' "$out" | grep -o 'y*' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')" 900000 \
	"a 900 kB tools/call (the relay takes up to 1 MiB) to an idle server comes back whole (stdin queue and stdout buffer grow again)"
out=$({ call 2; } | timeout 120 "$MCPCTL" -s "$SOCK" connect ex | head -c 2000000)
like "$out" '"id":2,"result":\{"content":\[\{"type":"text","text":"yyyy' "and again once they were released after the first"
is "$(state_of ex)" running "ex is still running"

# talker writes the same 3006-byte line at start and every 2 s: the second comes after its
# stderr buffer was released, and must reach the log ring whole like the first.
_two_long_lines() {
	[[ $(ctl logs talker 2>/dev/null | grep -c "begin${big}end") -ge 2 ]]
}
wait_until 30 _two_long_lines && ok "a long stderr line after idle is kept whole in the log ring" ||
	not_ok "a long stderr line after idle is kept whole in the log ring" "$(ctl logs talker | cut -c 1-200)"
stop_mcpd

# --- A library that cannot be loaded: said where it is needed, nowhere else ----------
# A file that is no ELF object stands for each library, found first by the loader.
mkdir -p "$T/badlib"
for so in libcurl.so.4 libmicrohttpd.so.12 libcrypto.so.3; do
	echo "not a library" >"$T/badlib/$so"
done
port=$(test_port)
cat >"$T/bad.yaml" <<YAML
version: 1
defaults:
  health: { interval: 500ms, timeout: 300ms, unhealthy_after: 1 }
  backoff: { initial: 200ms, jitter: 0 }
servers:
  ex:
    # Not in its environment: the example server links libmicrohttpd itself.
    command: [/usr/bin/env, -u, LD_LIBRARY_PATH, $EXAMPLE, --name, mem-$$-ex]
  web:
    transport: http
    url: http://127.0.0.1:$port/mcp
YAML
LD_LIBRARY_PATH=$T/badlib start_mcpd "$T/bad.yaml" || { done_testing; exit 1; }
ok "mcpd starts without loadable libcurl, libmicrohttpd and libcrypto when the manifest needs none at start"
wait_state 60 ex running && ok "its stdio servers run" || not_ok "its stdio servers run" "$(ctl status)"
_web_says_libcurl() {
	[[ $(field_of web reason) == *"libcurl cannot be loaded"* ]]
}
wait_until 30 _web_says_libcurl && ok "an http server's probe fails with why: libcurl cannot be loaded" ||
	not_ok "an http server's probe fails with why: libcurl cannot be loaded" "$(ctl --json status web)"
like "$(mcpd_log)" 'error: http servers: libcurl cannot be loaded \(.*libcurl\.so\.4.*\); their probes fail' \
	"mcpd's log says so, naming the library"
is "$(mcpd_log | grep -c 'http servers: libcurl cannot be loaded')" 1 "once"
stop_mcpd

cat >"$T/http.yaml" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$port
servers:
  ex:
    command: [$EXAMPLE, --name, mem-$$-ex]
YAML
LD_LIBRARY_PATH=$T/badlib timeout 30 "$MCPD" -c "$T/http.yaml" -s "$SOCK" >"$T/http.out" 2>&1
is "$?" 1 "with mcpd.http and no loadable libmicrohttpd, mcpd exits 1"
like "$(cat "$T/http.out")" "cannot start the HTTP endpoint on 127\.0\.0\.1:$port: libmicrohttpd cannot be loaded \(.*libmicrohttpd\.so\.12.*\).*; not starting" \
	"saying why"

no_leftovers "--name mem-$$-" "no server is left behind"
done_testing
