#!/bin/bash
# Chaos for the control socket: blank lines, ids past 2^53, a 1.5 MiB request,
# 1100 idle connections of one uid, 1030 of root's, running out of descriptors
# (EMFILE), and a socket directory squatted by another user. mcpd stays up,
# answers status within its deadline, and its log stays within budget.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

PY=$(command -v /usr/bin/python3 || command -v python3)
if [[ -z $PY ]]; then
	skip "control socket chaos" "python3 is not installed"
	done_testing
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
RSS_BUDGET_KB=$((200 * 1024))

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  ex:
    command: [$EXAMPLE, --name, ex]
YAML
chmod 644 "$T/m.yaml"

# ask.py SOCK: sends stdin as is, prints what comes back until mcpd closes or 10 s pass.
cat >"$T/ask.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.shutdown(socket.SHUT_WR)
s.settimeout(10)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
sys.stdout.buffer.write(out)
PY

# hold.py SOCK N FLAG HOLD: opens N connections and sends nothing. Each one
# either gets an error line (refused) or nothing; FLAG gets "connected" when
# all are made, then "refused R idle-closed I open O" once every connection
# was closed by mcpd, or HOLD seconds passed; then it closes them all.
cat >"$T/hold.py" <<'PY'
import os, select, socket, sys, time
path, n, flag, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
def report(text):
    with open(flag + ".tmp", "w") as f:
        f.write(text + "\n")
    os.rename(flag + ".tmp", flag)
socks, failed, errors = [], 0, {}
# A connect that fails (a busy machine, a full backlog) is tried again, for 30 s in all.
until = time.monotonic() + 30
for i in range(n):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)	# blocks while the listen backlog is full
            break
        except OSError as e:
            s.close()
            errors[e.errno] = errors.get(e.errno, 0) + 1
            if time.monotonic() > until:
                s = None
                break
            time.sleep(0.05)
    if s is None:
        failed += 1
        continue
    s.setblocking(False)
    socks.append(s)
report("connected %d failed %d" % (len(socks), failed) +
       "".join(" errno%d:%d" % kv for kv in sorted(errors.items())))
got = {s.fileno(): b"" for s in socks}
open_ = {s.fileno(): s for s in socks}
refused = idle_closed = 0
deadline = time.monotonic() + hold
poller = select.poll()
for s in socks:
    poller.register(s, select.POLLIN)
while open_ and time.monotonic() < deadline:
    for fd, ev in poller.poll(200):
        try:
            b = open_[fd].recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            b = b""
        if b:
            got[fd] += b
            continue
        if got[fd]:
            refused += 1
        else:
            idle_closed += 1
        poller.unregister(fd)
        open_.pop(fd).close()
report("connected %d failed %d refused %d idle-closed %d open %d" % (len(socks), failed, refused, idle_closed, len(open_)))
for s in open_.values():
    s.close()
PY

_flag_like() {
	grep -qE -- "$2" "$1" 2>/dev/null
}

# healthy WHAT [LOG_BUDGET]: alive, answers status, RSS and log in budget, no sanitizer report.
healthy() {
	mcpd_within_budget "$1" "$RSS_BUDGET_KB" "${2:-500}"
}

# mcpd runs as root with group nogroup: the socket's group, so nobody may read status.
chmod 711 "$T"
mkdir -m 755 "$T/s"
mkdir -m 777 "$T/w"	# for flags written as nobody
SOCK=$T/s/control.sock
ulimit -n 4096 2>/dev/null
export MCPD_CONTROL_IDLE_TIMEOUT=8
if [[ $(id -u) == 0 ]]; then
	spawn mcpd setpriv --regid=nogroup --clear-groups "$MCPD" -c "$T/m.yaml" -s "$SOCK"
else
	spawn mcpd "$MCPD" -c "$T/m.yaml" -s "$SOCK"
fi
wait_until 30 _status_up || { not_ok "mcpd starts" "$(cat "$T/mcpd.err")"; done_testing; }

# --- Lines: blank ones are ignored, ids come back as written, 1.5 MiB is refused with its id.
out=$(printf '\n  \n\t\r\n{"jsonrpc":"2.0","id":9007199254740993,"method":"version"}\n\n' | "$PY" "$T/ask.py" "$SOCK")
is "$(printf '%s\n' "$out" | grep -c .)" 1 "blank and whitespace-only lines get no reply, the request one"
like "$out" '^\{"jsonrpc":"2.0","id":9007199254740993,"result":' "the reply carries the id 2^53+1 as written"
out=$(printf '{"jsonrpc":"2.0","id":-7,"method":"nosuch"}\n{"jsonrpc":"2.0","id":"a\\"b","method":"version"}\n' | "$PY" "$T/ask.py" "$SOCK")
like "$out" '"id":-7,"error":\{"code":-32601' "a negative id comes back with the error"
like "$out" '"id":"a\\"b","result"' "a string id with an escape comes back as written"
out=$({ printf '{"jsonrpc":"2.0","id":5,"method":"status","params":{"x":"'; head -c $((1536 * 1024)) /dev/zero | tr '\0' a; printf '"}}\n{"jsonrpc":"2.0","id":6,"method":"version"}\n'; } | "$PY" "$T/ask.py" "$SOCK")
like "$out" '"id":5,"error":\{"code":-32600,"message":"invalid request: longer than 1 MiB' "a 1.5 MiB request is refused with its own id"
like "$out" '"id":6,"result"' "and the next request on the connection is answered"
healthy "blank lines, raw ids and a long line"

if [[ $(id -u) == 0 ]] && id nobody >/dev/null 2>&1; then
	# --- 1100 idle connections of one uid (nobody, in the socket's group).
	spawn idle_nobody setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" "$T/hold.py" "$SOCK" 1100 "$T/w/nobody.flag" 60 </dev/null
	if wait_until 120 _flag_like "$T/w/nobody.flag" connected; then
		if _status_answers; then
			ok "root gets status while nobody holds or tries 1100 connections"
		else
			not_ok "root gets status while nobody holds or tries 1100 connections" "$(tail -n 5 "$T/mcpd.err")"
		fi
	else
		not_ok "nobody's 1100 connections are made" "$(cat "$T/idle_nobody.err")"
	fi
	wait_until 120 _flag_like "$T/w/nobody.flag" "open" || not_ok "nobody's connections end" "$(cat "$T/w/nobody.flag")"
	res=$(cat "$T/w/nobody.flag")
	read -r _ conn _ failed _ refused _ idle _ open <<<"$res"
	if ((refused >= 1000 && idle >= 50 && idle <= 200 && open == 0)); then
		ok "one uid holds at most 64 connections, the rest are refused, idle ones are closed ($res)"
	else
		not_ok "one uid holds at most 64 connections, the rest are refused, idle ones are closed" "$res"
	fi
	like "$(mcpd_log)" "refused pid [0-9]+ \(uid 65534\): this uid has too many connections to mcpd" "the refusal names the uid and the cause"
	if wait_log 30 "refused [0-9]+ more connections in the last 10s"; then
		ok "the other refusals are counted, not logged one by one"
	else
		not_ok "the other refusals are counted, not logged one by one" "$(tail -n 5 "$T/mcpd.err")"
	fi
	stop_spawned idle_nobody
	healthy "1100 connections of nobody" 100
else
	skip "1100 idle connections of one uid" "needs root and a nobody user"
fi

# --- 1030 idle connections of root's: slots fill, the idle timeout frees them.
spawn idle_root "$PY" "$T/hold.py" "$SOCK" 1030 "$T/root.flag" 60 </dev/null
wait_until 120 _flag_like "$T/root.flag" connected || not_ok "root's 1030 connections are made" "$(cat "$T/idle_root.err")"
if wait_until 60 _status_answers; then
	ok "status answers again once idle connections are closed"
else
	not_ok "status answers again once idle connections are closed" "$(tail -n 5 "$T/mcpd.err")"
fi
wait_until 120 _flag_like "$T/root.flag" "open" || not_ok "root's connections end" "$(cat "$T/root.flag")"
res=$(cat "$T/root.flag")
read -r _ conn _ failed _ refused _ idle _ open <<<"$res"
if ((idle >= 1000 && open == 0)); then
	ok "1030 idle connections are closed by the idle timeout ($res)"
else
	not_ok "1030 idle connections are closed by the idle timeout" "$res"
fi
like "$(mcpd_log)" "closing the connection of pid [0-9]+ \(uid 0\): idle for 8s" "an idle close is logged with the pid, uid and timeout"
if wait_log 30 "closed [0-9]+ more idle connections in the last 10s"; then
	ok "the other idle closes are counted, not logged one by one"
else
	not_ok "the other idle closes are counted, not logged one by one" "$(tail -n 5 "$T/mcpd.err")"
fi
stop_spawned idle_root
healthy "1030 idle connections of root" 100
stop_mcpd

# --- EMFILE: mcpd with 64 descriptors; 100 connections; it pauses, logs once, and recovers.
SOCK=$T/emfile.sock
mv "$T/mcpd.err" "$T/mcpd-1.log"
spawn mcpd bash -c 'ulimit -n 64 && exec "$@"' _ "$MCPD" -c "$T/m.yaml" -s "$SOCK"
wait_until 30 _status_up || { not_ok "mcpd starts with 64 descriptors" "$(cat "$T/mcpd.err")"; done_testing; }
# The connections stay open until mcpd said it ran out (a busy machine may be slow to accept them).
spawn emfile "$PY" "$T/hold.py" "$SOCK" 100 "$T/emfile.flag" 120 </dev/null
if wait_log 90 "cannot accept connections: Too many open files; pausing accepting"; then
	ok "out of descriptors, mcpd says it pauses accepting"
else
	not_ok "out of descriptors, mcpd says it pauses accepting" "$(cat "$T/emfile.flag" "$T/emfile.err" 2>/dev/null)" \
		"$(cut -c 26- "$T/mcpd.err" | sort | uniq -c | sort -rn | head -n 8)"
fi
stop_spawned emfile
healthy "running out of descriptors" 200
# Once per episode: a backlog of closed connections, accepted at once, may start a second one.
pauses=$(grep -c "pausing accepting" "$T/mcpd.err")
if ((pauses >= 1 && pauses <= 3 && $(grep -c "accept" "$T/mcpd.err") <= 6)); then
	ok "the pause is logged once per episode, not per failed accept ($pauses)"
else
	not_ok "the pause is logged once per episode, not per failed accept" "$(grep -c "accept" "$T/mcpd.err") lines" "$(grep "accept" "$T/mcpd.err" | head -n 5)"
fi
like "$(mcpd_log)" "accepting connections again, after [0-9]+ pauses in [0-9]+s" "with the number of pauses"
stop_mcpd

# --- A squatted socket directory: /tmp/mcpd-UID made first by another user.
squat_dir=/tmp/mcpd-65534
if [[ $(id -u) != 0 ]] || ! id nobody >/dev/null 2>&1; then
	skip "a squatted socket directory" "needs root (to create a second user) and a nobody user"
elif [[ -e $squat_dir ]]; then
	skip "a squatted socket directory" "$squat_dir exists already"
else
	id mcpdtestsquat >/dev/null 2>&1 || useradd -M -r -s /usr/sbin/nologin mcpdtestsquat >/dev/null 2>&1
	squat_uid=$(id -u mcpdtestsquat 2>/dev/null)
	if [[ -z $squat_uid ]]; then
		skip "a squatted socket directory" "cannot create the user mcpdtestsquat"
	else
		trap '[[ -O '"$squat_dir"' || $(stat -c %u '"$squat_dir"' 2>/dev/null) == '"$squat_uid"' ]] && rm -rf '"$squat_dir"'; _cleanup' EXIT
		as_squatter() { setpriv --reuid=mcpdtestsquat --regid=nogroup --clear-groups "$@"; }
		as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups env -u XDG_RUNTIME_DIR -u RUNTIME_DIRECTORY -u MCPD_SOCKET)
		as_squatter mkdir -m 0777 "$squat_dir"
		mv "$T/mcpd.err" "$T/mcpd-2.log"
		spawn mcpd "${as_nobody[@]}" "$MCPD" -c "$T/m.yaml"
		if wait_until 20 _gone "$pid_mcpd"; then
			wait "$pid_mcpd"
			is "$?" 1 "mcpd as nobody refuses a $squat_dir made by another user: exit status"
		else
			not_ok "mcpd as nobody refuses a $squat_dir made by another user" "$(cat "$T/mcpd.err")"
		fi
		stop_spawned mcpd
		like "$(cat "$T/mcpd.err")" "refusing $squat_dir for the control socket: it belongs to uid $squat_uid, not to uid 65534" "and says whose it is"
		[[ -e $squat_dir/control.sock ]] && not_ok "no socket was made in the squatted directory" || ok "no socket was made in the squatted directory"

		# The squatter listens where nobody's mcpctl looks by default.
		chmod 0755 "$squat_dir"
		cat >"$T/squat.py" <<'PY'
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o666)
s.listen(8)
open(log + ".ready", "w").close()
while True:
    c, _ = s.accept()
    c.settimeout(3)
    try:
        data = c.recv(65536)
    except OSError:
        data = b""
    with open(log, "ab") as f:
        f.write(data)
    c.close()
PY
		as_squatter touch "$squat_dir/got"
		spawn squat setpriv --reuid=mcpdtestsquat --regid=nogroup --clear-groups "$PY" "$T/squat.py" "$squat_dir/control.sock" "$squat_dir/got" </dev/null
		if wait_until 20 test -e "$squat_dir/got.ready"; then
			"${as_nobody[@]}" "$MCPCTL" status >"$T/squat.out" 2>"$T/squat.cerr"
			rc=$?
			is "$rc" 1 "mcpctl as nobody refuses a socket served by another user: exit status"
			like "$(cat "$T/squat.cerr")" "it is served by uid $squat_uid .*not by root or by you \(uid 65534\)" "and names the uid that serves it"
			is "$(stat -c %s "$squat_dir/got")" 0 "the squatter received nothing"
		else
			not_ok "the squatter listens" "$(cat "$T/squat.err")"
		fi
		stop_spawned squat
		rm -rf "$squat_dir"
	fi
fi

no_leftovers "$T" "no process is left behind"
done_testing
