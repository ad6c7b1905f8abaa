#!/bin/bash
# A hostile control client against the connect hand-over ("stdio": "passed",
# SCM_RIGHTS): descriptors mcpd must refuse rather than relay. An O_PATH
# descriptor of a FIFO passes the pipe-or-socket check but epoll refuses it
# (libev aborted mcpd); a connection to mcpd's own control socket (the
# client's, or another of its connections) would keep the session open from
# inside mcpd forever once the client is gone. And: a server started while a
# session is handed over holds none of mcpd's descriptors.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v /usr/bin/python3 || command -v python3) || {
	skip "the hand-over attacks" "python3 is needed"
	done_testing
	exit 0
}

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML

# attack.py SOCK MODE: prints the reply to a connect with "stdio": "passed" (or
# "timeout" when none came within 20 s), then closes everything.
#   opath  stdin: an O_PATH descriptor of a FIFO, stdout: a pipe
#   self   stdin and stdout: the control connection itself
#   cross  stdin and stdout: a second connection of the client to mcpd
#   hold   two pipes; writes SOCK.held once handed over, then waits for stdin
#          (the test's) to close
#   garbage two pipes; once handed over, writes bytes on the control
#          connection, then prints the final line mcpd sends
cat >"$T/attack.py" <<'PY'
import json, os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.settimeout(20)
req = (json.dumps({"jsonrpc": "2.0", "id": 7, "method": "connect",
                   "params": {"name": "ex", "stdio": "passed"}}) + "\n").encode()
def reply():
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                break
            buf += c
    except socket.timeout:
        return "timeout"
    return buf.decode().strip()
if mode == "opath":
    fifo = path + ".fifo"
    os.mkfifo(fifo)
    p = os.open(fifo, os.O_PATH)
    r, w = os.pipe()
    socket.send_fds(s, [req], [p, w])
elif mode == "self":
    socket.send_fds(s, [req], [s.fileno(), s.fileno()])
elif mode == "cross":
    o = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    o.connect(path)
    socket.send_fds(s, [req], [o.fileno(), o.fileno()])
elif mode in ("hold", "garbage"):
    # Two pipes handed over; the client keeps its ends (in_w, out_r) open.
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    socket.send_fds(s, [req], [in_r, out_w])
    os.close(in_r)
    os.close(out_w)
    print(reply(), flush=True)
    if mode == "hold":
        open(path + ".held", "w").close()
        sys.stdin.read()
        sys.exit(0)
    s.sendall(b"x" * 4096)
print(reply())
PY

start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 60 ex running || not_ok "ex running" "$(ctl status)"
mpid=$pid_mcpd

nfds() {
	ls "/proc/$mpid/fd" 2>/dev/null | wc -l
}
_fds_at_most() {
	(($(nfds) <= $1))
}
base=$(nfds)

# --- 1. The control connection itself, or another one to mcpd: refused, no session left behind.
for mode in self cross; do
	out=$(timeout 60 "$PY" "$T/attack.py" "$SOCK" $mode 2>&1)
	like "$out" "\"error\".*control socket" "$mode: a connection to mcpd's control socket as stdio is refused" ||
		diag "$out"
	check "$mode: mcpd holds no descriptor of the client once it is gone" wait_until 30 _fds_at_most "$base"
done
check "mcpd is alive after the control socket was handed over" alive "$mpid"

# --- 2. A server started while a session is handed over holds none of mcpd's descriptors.
rm -f "$SOCK.held"
mkfifo "$T/hold.in"
exec 7<>"$T/hold.in"	# the client reads it until the test closes it
spawn hold "$PY" "$T/attack.py" "$SOCK" hold <"$T/hold.in"
wait_until 60 test -e "$SOCK.held" || not_ok "the client is handed over" "$(cat "$T/hold.err" 2>/dev/null)"
old=$(field_of ex pid)
before=$(ls "/proc/$old/fd" 2>/dev/null | sort -n | tr '\n' ' ')	# the server's own, and its stdio
ctl restart ex >/dev/null 2>&1
_new_pid() {
	local p
	p=$(field_of ex pid)
	[[ -n $p && $p != 0 && $p != "$old" && $(state_of ex) == running ]]
}
wait_until 60 _new_pid || not_ok "ex restarted" "$(ctl status)"
new=$(field_of ex pid)
fds=$(ls "/proc/$new/fd" 2>/dev/null | sort -n | tr '\n' ' ')
is "$fds" "$before" "a server started during a hand-over has the descriptors of one started before" ||
	diag "$(ls -l "/proc/$new/fd")"
leak=""
for f in /proc/"$new"/fd/*; do
	[[ ${f##*/} -le 2 ]] && continue
	t=$(readlink "$f") || continue
	ls -l "/proc/$mpid/fd" 2>/dev/null | grep -qF -- "-> $t" && leak+="${f##*/}=$t "
done
is "$leak" "" "none of its descriptors is one mcpd holds (the handed-over pipes, sockets)"
exec 7>&-
stop_spawned hold
rm -f "$T/hold.in"

# --- 3. O_PATH: refused with an error, mcpd goes on.
out=$("$PY" "$T/attack.py" "$SOCK" opath 2>&1)
like "$out" '"error".*O_PATH' "an O_PATH descriptor as stdin is refused" || diag "$out"
check "mcpd is alive after an O_PATH descriptor" alive "$mpid"
check "and answers status" _status_up

# --- 4. Bytes on the control connection after the hand-over (mcpctl sends none): the session ends.
out=$(timeout 60 "$PY" "$T/attack.py" "$SOCK" garbage 2>&1)
like "$out" '"end":"the client wrote to its control connection after the hand-over"' \
	"a client that writes on its control connection after the hand-over: its session ends, and it is told why" ||
	diag "$out"
check "and mcpd holds no descriptor of it" wait_until 30 _fds_at_most "$base"

stop_mcpd
if grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$T/mcpd.err"; then
	not_ok "no sanitizer report in mcpd's log" "$(grep -E -A5 "AddressSanitizer|runtime error|LeakSanitizer" "$T/mcpd.err")"
else
	ok "no sanitizer report in mcpd's log"
fi
done_testing
