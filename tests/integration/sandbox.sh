#!/bin/bash
# sandbox: a sandboxed server writes only where `writable` says, cannot read
# the manifest, a secret file or tokens_file (its own secret still reaches it
# in its environment), cannot signal mcpd or use its control socket, has no
# TCP with `network: false` (a network namespace as root, a seccomp filter
# and Landlock when mcpd is not root), gets its own /tmp with private_tmp;
# without Landlock (MCPD_LANDLOCK_ABI=0) the start fails with a reason, or
# runs with best_effort and says what is missing; the status shows it all.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

if [[ $(id -u) != 0 ]]; then
	skip "sandbox tests" "they need root (mcpd's root paths: namespaces, user:)"
	done_testing
	exit 0
fi

port=$(test_port)
spawn listener socat TCP-LISTEN:"$port",bind=127.0.0.1,fork,reuseaddr SYSTEM:true
_listening() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; }
wait_until 30 _listening || not_ok "a TCP listener on 127.0.0.1:$port" "$(cat "$T/listener.err")"

mkdir -p "$T/out" "$T/out-net" "$T/out-nonet" "$T/pub" "$T/priv"
# private_tmp hides the real /tmp, $T with it: that server's files live in the
# build tree, or in /run when the tree itself is under /tmp (a clone in /tmp).
wbase=$top_builddir/tests
under_tmp "$wbase" && wbase=/run
W=$(mktemp -d "$wbase/mcpd-sandbox-test.XXXXXX") || exit 99
trap 'rm -rf "$W"; _cleanup' EXIT
mkdir -p "$W/out-tmp"
chown nobody "$W/out-tmp"
chmod 755 "$W"
printf 'S3CRET-FILE\n' >"$T/secret.txt"
printf 'tok-abc: { name: t }\n' >"$T/tokens"
chmod 600 "$T/secret.txt" "$T/tokens"
printf 'public\n' >"$T/pub/file"
printf 'private\n' >"$T/priv/file"

# What a sandboxed server tries; every result in files of the writable $1, then it becomes the example server.
cat >"$T/probe.sh" <<EOF
#!/bin/bash
o=\$1
echo in >"\$o/in" 2>/dev/null
{ echo out >"\$o.outside"; } 2>"\$o/outside.err"
cat "$T/m.yaml" >"\$o/manifest" 2>&1
cat "$T/secret.txt" >"\$o/secret" 2>&1
cat "$T/tokens" >"\$o/tokens" 2>&1
printf '%s' "\$S" >"\$o/env"
head -c 64 /proc/\$PPID/environ >"\$o/environ" 2>&1
kill -0 \$PPID 2>"\$o/kill"; echo "rc=\$?" >>"\$o/kill"
"$MCPCTL" -s "$SOCK" status >"\$o/ctl" 2>&1; echo "rc=\$?" >>"\$o/ctl"
(exec 3<>/dev/tcp/127.0.0.1/$port) 2>"\$o/tcp"; echo "rc=\$?" >>"\$o/tcp"
cat "$T/pub/file" >"\$o/pub" 2>&1
cat "$T/priv/file" >"\$o/priv" 2>&1
{ echo private >/tmp/mcpd-sandbox-test.\$\$; } 2>"\$o/tmp.err" && echo /tmp/mcpd-sandbox-test.\$\$ >"\$o/tmpfile"
cat /tmp/mcpd-sandbox-outer."$$" >"\$o/tmp-outer" 2>&1
echo done >"\$o/done"
exec "$EXAMPLE" --name probe
EOF
chmod 755 "$T/probe.sh"
# The private_tmp server runs a copy of the example server kept beside it, out of /tmp.
cp "$EXAMPLE" "$W/example"
sed "s|^exec \"$EXAMPLE\"|exec \"$W/example\"|" "$T/probe.sh" >"$W/probe.sh"
chmod 755 "$W/probe.sh"
echo outer >/tmp/mcpd-sandbox-outer.$$

cat >"$T/m.yaml" <<YAML
version: 1
mcpd:
  gateway: { tokens_file: $T/tokens }
defaults:
  backoff: { initial: 200ms, jitter: 0 }
  secrets: { S: $T/secret.txt }
servers:
  probe:
    command: [$T/probe.sh, $T/out]
    sandbox: { writable: [$T/out] }
  net:
    command: [$T/probe.sh, $T/out-net]
    sandbox: { writable: [$T/out-net], readable: [$T/pub, $T/out-net, $T/probe.sh, $top_builddir] }
  nonet:
    command: [$T/probe.sh, $T/out-nonet]
    sandbox: { writable: [$T/out-nonet], network: false }
  tmp:
    command: [$W/probe.sh, $W/out-tmp]
    user: nobody
    sandbox: { writable: [$W/out-tmp], private_tmp: true }
  missing:
    command: [$EXAMPLE]
    sandbox: { writable: [$T/does-not-exist] }
  plain:
    command: [$T/probe.sh, $T/out-plain]
YAML
mkdir -p "$T/out-plain"
chmod 755 "$T" "$T/pub"
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
like "$(mcpd_log)" 'sandbox: Landlock ABI [0-9]+' "mcpd logs the Landlock ABI it found"
for s in probe net nonet tmp plain; do
	wait_state 60 "$s" running || not_ok "$s running" "$(ctl status)" "$(mcpd_log | tail -20)"
done

o=$T/out
is "$(cat "$o/in")" "in" "a sandboxed server writes inside writable"
check "it cannot write outside writable" test ! -e "$T/out.outside"
check "without a sandbox the same script can (control)" test -e "$T/out-plain.outside"
like "$(cat "$o/manifest")" 'Permission denied' "it cannot read the manifest"
like "$(cat "$o/secret")" 'Permission denied' "it cannot read a secret file"
like "$(cat "$o/tokens")" 'Permission denied' "it cannot read tokens_file"
is "$(cat "$o/env")" "S3CRET-FILE" "its own secret reaches it in its environment"
like "$(cat "$o/kill")" 'rc=1' "it cannot signal mcpd (Landlock signal scope)"
like "$(cat "$o/ctl")" "permission denied: pid [0-9]+ belongs to sandboxed server probe" \
	"mcpd's control socket refuses it, naming why"
like "$(cat "$o/ctl")" 'rc=[1-9]' "mcpctl fails inside the sandbox"
like "$(mcpd_log)" 'refused pid [0-9]+: it belongs to sandboxed server probe' "mcpd logs the refusal"
is "$(cat "$o/tcp")" "rc=0" "network is on by default"
is "$(cat "$o/pub")" "public" "readable absent: the rest of the file system is readable"
# Landlock's ptrace rule keeps a sandboxed process out of mcpd's /proc/PID/environ on
# kernels that apply it to reads; a server under another user is kept out by its uid.
if [[ $(cat "$o/environ") == *"Permission denied"* ]]; then
	ok "it cannot read mcpd's /proc/PID/environ"
else
	skip "it cannot read mcpd's /proc/PID/environ" \
		"this kernel ($(uname -r)) lets a Landlock domain read a same-uid process's environ (PTRACE_MODE_READ)"
fi
like "$(cat "$W/out-tmp/environ")" 'Permission denied' "a server under user: nobody cannot read mcpd's environ"

# The control without a sandbox: it reads what the sandboxed one cannot.
is "$(cat "$T/out-plain/secret")" "S3CRET-FILE" "without a sandbox the same script reads the secret file (control)"
like "$(cat "$T/out-plain/ctl")" 'rc=0' "without a sandbox the same script may use mcpctl (control)"

o=$T/out-net
is "$(cat "$o/pub")" "public" "readable: a listed path can be read"
like "$(cat "$o/priv")" 'Permission denied' "readable: a path not listed cannot"
is "$(cat "$o/tcp")" "rc=0" "network: true: TCP to 127.0.0.1 works"

o=$T/out-nonet
like "$(cat "$o/tcp")" 'rc=[1-9]' "network: false: TCP to 127.0.0.1 fails (network namespace, Landlock)"
is "$(cat "$o/in")" "in" "network: false: it still runs and writes"

o=$W/out-tmp
tmpfile=$(cat "$o/tmpfile" 2>/dev/null)
ok_tmp=0
[[ -n $tmpfile && ! -e $tmpfile ]] && ok_tmp=1
is "$ok_tmp" 1 "private_tmp: what it writes to /tmp is in its own /tmp, not mcpd's" || diag "$(cat "$o/tmp.err")"
like "$(cat "$o/tmp-outer")" 'No such file' "private_tmp: it does not see mcpd's /tmp"

json=$(ctl --json status probe)
is "$(jq -c '.servers[0].confinement.sandbox | {writable, readable, network, private_tmp, best_effort}' <<<"$json")" \
	"{\"writable\":[\"$T/out\"],\"readable\":null,\"network\":true,\"private_tmp\":false,\"best_effort\":false}" \
	"status: the sandbox's rules"
hidden=$(jq -r '.servers[0].confinement.sandbox.hidden[]' <<<"$json")
for h in "$T/m.yaml" "$T/tokens" "$T/secret.txt" "$SOCK" "$T/state"; do
	like "$hidden" "^$h\$" "status: $(basename "$h") is in hidden"
done
like "$(jq -r '.servers[0].confinement.sandbox.mechanisms | join(",")' <<<"$json")" \
	'no_new_privs,capabilities dropped,landlock ABI [0-9]+' "status: the mechanisms in force (a root server loses its capabilities too)"
is "$(jq -r '.servers[0].confinement.sandbox.control_refused' <<<"$json")" 1 "status: the refused control connections"
is "$(ctl --json status nonet | jq -r '.servers[0].confinement.sandbox.mechanisms | index("network namespace") != null')" \
	true "status: network: false as root is a network namespace"
is "$(ctl --json status tmp | jq -r '.servers[0].confinement.sandbox.mechanisms | (index("capabilities dropped") != null) and (index("mount namespace") != null)')" \
	true "status: user: nobody has its capabilities dropped; private_tmp is a mount namespace"
is "$(ctl --json status plain | jq -c '.servers[0].confinement.sandbox')" null "status: no sandbox is null"

_missing_failed() { [[ $(field_of missing reason) == *"does-not-exist"* ]]; }
wait_until 30 _missing_failed
like "$(field_of missing reason)" "sandbox: writable path $T/does-not-exist: No such file or directory" \
	"a writable path that does not exist fails the start, naming it"

# A reload that changes only the sandbox restarts the server.
pid_before=$(field_of probe pid)
sed -i "s|sandbox: { writable: \[$T/out\] }|sandbox: { writable: [$T/out], network: false }|" "$T/m.yaml"
ctl reload >/dev/null 2>&1
_restarted() { local p; p=$(field_of probe pid); [[ -n $p && $p != null && $p != "$pid_before" ]]; }
wait_until 60 _restarted || not_ok "the reload restarts probe" "$(ctl status)"
_probe_nonet() { ctl --json status probe | jq -e '.servers[0].confinement.sandbox.network == false' >/dev/null; }
check "a reload that changes only the sandbox restarts the server with the new one" wait_until 60 _probe_nonet

stop_spawned mcpd
rm -f /tmp/mcpd-sandbox-outer.$$

# ---- without Landlock: a clear failure, or best_effort -------------------------------------------
cat >"$T/m2.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 1m }
servers:
  strict:
    command: [$EXAMPLE]
    sandbox: { writable: [$T/out] }
  lenient:
    command: [$EXAMPLE]
    sandbox: { writable: [$T/out], best_effort: true }
YAML
export MCPD_LANDLOCK_ABI=0
start_mcpd "$T/m2.yaml" || { done_testing; exit 1; }
unset MCPD_LANDLOCK_ABI
wait_state 60 lenient running || not_ok "lenient running" "$(ctl status)"
_strict_failed() { [[ $(field_of strict reason) == *Landlock* ]]; }
wait_until 30 _strict_failed
like "$(field_of strict reason)" 'sandbox: this kernel has no Landlock.*set sandbox.best_effort: true to run without it' \
	"without Landlock a sandbox fails the start with a reason"
is "$(ctl --json status lenient | jq -c '.servers[0].confinement.sandbox.missing')" '["landlock"]' \
	"best_effort: the server runs and the status lists what is missing"
like "$(mcpd_log)" 'lenient: sandbox: starting without landlock \(best_effort\)' "best_effort: mcpd logs what is missing"
stop_spawned mcpd

# ---- mcpd not root: the seccomp filter for network: false ----------------------------------------
nr=$T/nr
mkdir -p "$nr/out" "$nr/state"
chown nobody:nogroup "$nr" "$nr/out" "$nr/state"
chmod 755 "$nr"
cat >"$nr/m.yaml" <<YAML
version: 1
defaults:
  backoff: { initial: 1m }
servers:
  nonet:
    command: [$T/probe.sh, $nr/out]
    sandbox: { writable: [$nr/out], network: false }
  tmp:
    command: [cat]                      # never runs (not root: private_tmp fails the start); from PATH, as the tree may be in /tmp
    sandbox: { private_tmp: true }
YAML
chmod 644 "$nr/m.yaml"
if setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	spawn mcpd_nr setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
		env STATE_DIRECTORY="$nr/state" "$MCPD" -c "$nr/m.yaml" -s "$nr/control.sock"
	_nr_up() { "$MCPCTL" -s "$nr/control.sock" status >/dev/null 2>&1; }
	wait_until 30 _nr_up || not_ok "mcpd starts as nobody" "$(cat "$T/mcpd_nr.err")"
	_nr_done() { [[ -e $nr/out/done ]]; }
	wait_until 60 _nr_done || not_ok "the probe ran under mcpd as nobody" "$(cat "$T/mcpd_nr.err")"
	like "$(cat "$nr/out/tcp")" 'rc=[1-9]' "not root, network: false: TCP to 127.0.0.1 fails (seccomp, Landlock)"
	is "$(cat "$nr/out/in")" "in" "not root: the sandboxed server writes inside writable"
	is "$("$MCPCTL" -s "$nr/control.sock" --json status nonet | jq -r '.servers[0].confinement.sandbox.mechanisms | index("seccomp socket filter") != null')" \
		true "not root: status says the seccomp socket filter is in force"
	_nr_tmp_failed() { [[ $("$MCPCTL" -s "$nr/control.sock" --json status tmp | jq -r '.servers[0].reason') == *private_tmp* ]]; }
	wait_until 30 _nr_tmp_failed
	like "$("$MCPCTL" -s "$nr/control.sock" --json status tmp | jq -r '.servers[0].reason')" \
		'sandbox: private_tmp needs mcpd to run as root.*best_effort' "not root: private_tmp fails the start with a reason"
	stop_spawned mcpd_nr
else
	skip "mcpd as an unprivileged user" "setpriv cannot switch to nobody here"
fi

done_testing
