#!/bin/bash
# systemd integration without systemd: a fake NOTIFY_SOCKET sees READY,
# STATUS, WATCHDOG, RELOADING and STOPPING in order; socket activation hands
# mcpd its control socket; the units pass systemd-analyze verify.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if ! command -v socat >/dev/null; then
	not_ok "socat is installed (./scripts/dev deps)"
	done_testing
fi

cat >"$T/m.yaml" <<YAML
version: 1
servers:
  one:
    command: [$EXAMPLE, --name, one]
  two:
    command: [$EXAMPLE, --name, two]
    depends_on: [one]
YAML

# The notify socket: every datagram becomes a line of $T/notify.out.
spawn notify socat -u UNIX-RECV:"$T/notify.sock" STDOUT
wait_until 5 test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_state 10 two running
# socat writes the datagrams back to back: put each assignment on a line of its own.
notified() {
	sed -E 's/(READY|STATUS|WATCHDOG|RELOADING|STOPPING|MONOTONIC_USEC)=/\n\1=/g' "$T/notify.out" | sed '/^$/d'
}
has_notify() {
	notified | grep -qE "$1"
}
wait_until 5 has_notify '^WATCHDOG=1' && ok "WATCHDOG=1 is sent at half of WATCHDOG_USEC" || not_ok "watchdog" "$(cat "$T/notify.out")"
wait_until 5 has_notify '^STATUS=2/2 running$' && ok "STATUS= reaches 2/2 running" || not_ok "status 2/2" "$(cat "$T/notify.out")"
check "stop two" ctl stop two
check "reload" ctl reload
stop_mcpd
wait_until 5 has_notify '^STOPPING=1'
out=$(notified)
is "$(notified | head -n 1)" "READY=1" "READY=1 comes first"
like "$out" 'STATUS=[0-9]+/2 running, [0-9]+ starting' "STATUS= counts the states of wanted servers"
like "$out" 'RELOADING=1' "RELOADING=1 on reload"
like "$(notified | grep -A1 '^RELOADING=1' | tail -n 1)" '^MONOTONIC_USEC=[0-9]+$' "with MONOTONIC_USEC"
order=$(notified | grep -oE '^(READY=1|RELOADING=1|STOPPING=1)' | tr '\n' ' ')
is "$order" "READY=1 RELOADING=1 READY=1 STOPPING=1 " "READY, RELOADING, READY, STOPPING in this order"
stop_spawned notify

# Socket activation: systemd-socket-activate listens and passes the fd named "control".
if command -v systemd-socket-activate >/dev/null; then
	spawn act systemd-socket-activate -l "$T/act.sock" --fdname=control "$MCPD" -c "$T/m.yaml" -s "$T/act.sock"
	wait_until 5 test -S "$T/act.sock"
	"$MCPCTL" -s "$T/act.sock" status >"$T/out" 2>&1
	like "$(cat "$T/out")" 'one +running|one +starting' "mcpctl talks to a socket-activated mcpd"
	wait_until 10 bash -c "'$MCPCTL' -s '$T/act.sock' status | grep -q 'two *running'" && ok "the activated mcpd supervises" || not_ok "activated supervises" "$(cat "$T/act.err")"
	stop_spawned act
else
	skip "socket activation" "systemd-socket-activate is not installed"
fi

# Logging: JSON lines, and a log file that SIGUSR1 reopens after rotation.
cat >"$T/log.yaml" <<YAML
version: 1
mcpd:
  log_format: json
  log_file: $T/mcpd.log
servers:
  one:
    command: [$EXAMPLE, --name, one, --stderr-message, "hello from one"]
YAML
spawn logd "$MCPD" -c "$T/log.yaml" -s "$T/log.sock"
wait_until 10 grep -q '"msg":"running' "$T/mcpd.log" && ok "log_file receives the log" || not_ok "log file" "$(cat "$T/logd.err")"
like "$(head -n 1 "$T/mcpd.log")" '^\{"ts":"[0-9T:.-]+Z","level":"[a-z]+",' "log_format json writes one JSON object per line"
wait_until 10 grep -q '"server":"one".*hello from one' "$T/mcpd.log" && ok "a child's stderr line is logged with its server field" || not_ok "child line in json"
mv "$T/mcpd.log" "$T/mcpd.log.1"
kill -USR1 "$pid_logd"
wait_until 10 grep -q 'hello from one' "$T/mcpd.log" && ok "SIGUSR1 reopens the log file after rotation" || not_ok "reopen" "$(ls -la "$T")"
stop_spawned logd

# The units, as shipped.
if command -v systemd-analyze >/dev/null; then
	# As make wrote them, for the paths of this build.
	sed -e "s|^ExecStart=[^ ]*|ExecStart=$MCPD|; s|^ExecReload=[^ ]*|ExecReload=$MCPCTL|" \
		"$top_builddir/units/mcpd.service" >"$T/mcpd.service"
	cp "$top_builddir/units/mcpd.socket" "$T/mcpd.socket"
	like "$(grep ^ExecStart= "$top_builddir/units/mcpd.service")" '^ExecStart=/[^@$]*/sbin/mcpd -c /[^@$]*/mcpd/mcpd.yaml$' \
		"the unit names mcpd and its manifest where this build installs them"
	systemd-analyze verify --man=no "$T/mcpd.service" "$T/mcpd.socket" >"$T/verify.out" 2>&1
	is "$?" 0 "systemd-analyze verify accepts the units" || diag "$(cat "$T/verify.out")"
else
	skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

no_leftovers "$T" "no process is left behind"
done_testing
