#!/bin/bash
# The control socket under abuse: unauthorized peers, garbage, a 10 MiB line,
# 200 concurrent clients, and a server flooding stderr.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  quiet:
    command: [$EXAMPLE, --name, quiet]
  flood:
    command: [$EXAMPLE, --name, flood, --flood-stderr]
    log_buffer: 64K
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 10 quiet running && ok "quiet is running" || not_ok "quiet running" "$(ctl status)"

is "$(stat -c %a "$SOCK")" 660 "the control socket has mode 0660"

# A second mcpd on the same socket refuses to start.
"$MCPD" -c "$T/m.yaml" -s "$SOCK" >"$T/second.out" 2>"$T/second.err" &
second=$!
wait_until 10 _gone "$second"
wait "$second"
is "$?" 1 "a second mcpd on a live socket exits 1"
like "$(cat "$T/second.err")" 'another mcpd is already running on' "and says why"
check "the first mcpd still answers" ctl version

# Garbage and oversized requests get JSON-RPC errors; mcpd lives on.
if command -v socat >/dev/null; then
	out=$(printf 'this is not json\n{"jsonrpc":"2.0","id":7,"method":"nope"}\n{"jsonrpc":"2.0","id":8,"method":"status","params":[]}\n' |
		socat -t 5 - "UNIX-CONNECT:$SOCK")
	like "$out" '"code":-32700' "garbage gets a parse error"
	like "$out" '"id":7.*"code":-32601' "an unknown method gets -32601"
	like "$out" '"id":8.*"code":-32602' "bad params get -32602"
	out=$(printf '[1,2]\n"text"\n{"jsonrpc":"2.0","id":10,"method":"status","params":{"names":["%s"]}}\n' "$(head -c 5000 /dev/zero | tr '\0' x)" |
		socat -t 5 - "UNIX-CONNECT:$SOCK")
	is "$(printf '%s\n' "$out" | grep -c '"code":-32600,"message":"invalid request: a JSON-RPC message is a JSON object"')" 2 \
		"JSON that is not an object gets -32600, and says so"
	like "$out" '"id":10,"error":\{"code":-32004' "a 5000-character server name is not found"
	((${#out} < 3000)) && ok "and the error does not echo the name whole (${#out} bytes)" || not_ok "echoed ${#out} bytes"
	out=$( { head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a'; printf '\n{"jsonrpc":"2.0","id":9,"method":"version"}\n'; } |
		socat -t 10 - "UNIX-CONNECT:$SOCK")
	like "$out" 'longer than 1 MiB' "a 10 MiB line is refused with an error"
	like "$out" '"id":9,"result"' "the same connection still works after it"
	check "mcpd survives garbage and a 10 MiB line" ctl version

	# 200 clients connected at the same time, each then asking for status.
	n=200
	clients=()
	for i in $(seq 1 $n); do
		mkfifo "$T/in$i"
		(socat -t 10 - "UNIX-CONNECT:$SOCK" <"$T/in$i" >"$T/c$i.out" 2>&1) &
		clients+=($!)
		exec {fd}>"$T/in$i"
		eval "fd$i=$fd"
	done
	count_clients() {
		(($(ls "/proc/$pid_mcpd/fd" | wc -l) >= n))
	}
	wait_until 15 count_clients && ok "$n clients are connected at once" || not_ok "$n clients connected" "$(ls /proc/$pid_mcpd/fd | wc -l) fds"
	for i in $(seq 1 $n); do
		eval "fd=\$fd$i"
		printf '{"jsonrpc":"2.0","id":%d,"method":"status"}\n' "$i" >&"$fd"
		exec {fd}>&-
	done
	answered() {
		local i
		for i in $(seq 1 $n); do grep -q "\"id\":$i,\"result\"" "$T/c$i.out" || return 1; done
	}
	wait_until 20 answered && ok "all $n concurrent clients got their own answer" ||
		not_ok "$n clients answered" "$(for i in $(seq 1 $n); do grep -q "\"id\":$i," "$T/c$i.out" || echo "client $i: $(head -c 200 "$T/c$i.out")"; done | head -n 5)"
	wait "${clients[@]}"	# not a bare wait: mcpd is our background job too
else
	skip "garbage, 10 MiB line and 200 clients" "socat is not installed"
fi

# Authorization: SO_PEERCRED decides, not only the file mode.
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
	chmod 755 "$T"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$MCPCTL" -s "$SOCK" "$@"; }
	as_nobody status >"$T/out" 2>"$T/err"
	is "$?" 1 "nobody cannot use the 0660 socket"
	chmod 666 "$SOCK"
	as_nobody status >"$T/out" 2>"$T/err"
	is "$?" 1 "nobody is refused by mcpd even when the file mode allows it"
	like "$(cat "$T/err")" 'permission denied: uid [0-9]+ is not allowed' "the refusal says why"
	chmod 660 "$SOCK"
	gid=$(stat -c %g "$SOCK")
	as_group() { setpriv --reuid=nobody --regid="$gid" --clear-groups "$MCPCTL" -s "$SOCK" "$@"; }
	check "a member of the socket's group may read status" as_group status
	as_group stop quiet >"$T/out" 2>"$T/err"
	is "$?" 1 "a member of the socket's group may not stop a server"
	like "$(cat "$T/err")" 'permission denied' "and is told so"
	is "$(state_of quiet)" running "the refused stop changed nothing"
else
	skip "authorization by SO_PEERCRED" "needs root and setpriv"
fi

# A server flooding stderr does not stall mcpd.
wait_state 10 flood running
t0=$(date +%s%N)
ctl status quiet >/dev/null
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
diag "mcpctl status during a stderr flood took ${ms} ms"
((ms < 2000)) && ok "status answers promptly while another server floods stderr" || not_ok "status took ${ms} ms"
like "$(ctl logs -n 1 flood)" '.' "the flood is captured in the ring buffer"
wait_log 10 'flood: .*stderr lines were not copied to this log' && ok "mcpd's own log is rate-limited" || not_ok "log rate limit"
check "stop the flood" ctl stop flood

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
