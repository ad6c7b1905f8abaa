#!/bin/bash
# attack-sandbox: a careless operator and a hostile server against the sandbox.
# A sandboxed server running as root cannot chmod root's files (the manifest,
# a program it may read: no setuid bit).
# A readable path inside a writable one, which the server replaced with a
# symlink to / before a restart, does not open the whole file system; a
# writable or readable path under /tmp with private_tmp (an empty tmpfs for
# the server) is a manifest error, not a start that fails again and again; so
# are limits of 0 under which no process starts (memory, nofile, stack...).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"
. "$(dirname "$0")/confine.sh"

# ---- private_tmp and paths under /tmp: the manifest says so (mcpd -n), whoever runs mcpd.
cat >"$T/tmp.yaml" <<YAML
version: 1
servers:
  box:
    command: [$EXAMPLE]
    sandbox: { writable: [/tmp/box-cache], private_tmp: true }
  lib:
    command: [$EXAMPLE]
    sandbox: { readable: [/var/tmp/data], private_tmp: true }
  fine:
    command: [$EXAMPLE]
    sandbox: { writable: [/tmp/box-cache] }
  prog:
    command: [/tmp/box/server, --flag]
    cwd: /var/tmp/box
    sandbox: { private_tmp: true }
YAML
out=$("$MCPD" -n -c "$T/tmp.yaml" 2>&1)
like "$out" 'servers\.box\.sandbox\.writable: "/tmp/box-cache" is inside /tmp, which private_tmp replaces with an empty tmpfs' \
	"private_tmp: a writable path under /tmp is a manifest error"
like "$out" 'servers\.lib\.sandbox\.readable: "/var/tmp/data" is inside /var/tmp' "so is a readable path under /var/tmp"
[[ $out != *servers.fine.* ]] && ok "without private_tmp, /tmp paths are fine" || not_ok "fine is fine" "$out"
like "$out" 'servers\.prog\.command: its program "/tmp/box/server" is inside /tmp, which sandbox\.private_tmp replaces' \
	"private_tmp: a program under /tmp is a manifest error (it could not be executed)"
like "$out" 'servers\.prog\.cwd: its working directory "/var/tmp/box" is inside /var/tmp' "so is a working directory under /var/tmp"

# ---- limits of 0 that no process starts under: manifest errors, not a server dying at every start.
cat >"$T/zero.yaml" <<YAML
version: 1
servers:
  m0: { command: [$EXAMPLE], limits: { memory: 0 } }
  h0: { command: [$EXAMPLE], limits: { memory_high: 0 } }
  n0: { command: [$EXAMPLE], limits: { nofile: 0 } }
  s0: { command: [$EXAMPLE], limits: { stack: 0 } }
  c0: { command: [$EXAMPLE], limits: { cpu_time: 0s } }
  fine: { command: [$EXAMPLE], limits: { core: 0, nproc: 0, memory: 64M } }
YAML
out=$("$MCPD" -n -c "$T/zero.yaml" 2>&1)
for k in m0.limits.memory h0.limits.memory_high n0.limits.nofile s0.limits.stack c0.limits.cpu_time; do
	like "$out" "servers\.$k: 0 would end every start of the server \(.*\); leave limits\.${k##*.} out for no limit" \
		"limits: ${k##*.}: 0 is a manifest error"
done
[[ $out != *servers.fine.* ]] && ok "core: 0 and nproc: 0 stay valid (no core dumps, no forks)" || not_ok "fine is fine" "$out"

# ---- a symlink planted in writable, in place of a readable path, before a restart.
if [[ $(id -u) != 0 ]]; then
	skip "a symlink planted in writable before a restart" "needs root (mcpd's Landlock probe and user: paths)"
	done_testing
	exit 0
fi
mkdir -p "$T/w/pub" "$T/state"
echo public >"$T/w/pub/file"
echo private >"$T/private.txt"
mkdir -p "$T/chm-out"
echo prog >"$T/prog"
chmod 0755 "$T/prog"
# A sandboxed server running as root: chmod on root's files (Landlock does not govern chmod).
cat >"$T/chm.sh" <<SH
#!/bin/bash
o=\$1
chmod 0666 "$T/m.yaml" 2>"\$o/manifest"; echo "rc=\$?" >>"\$o/manifest"
chmod 4755 "$T/prog" 2>"\$o/prog"; echo "rc=\$?" >>"\$o/prog"
ulimit -H -d unlimited 2>"\$o/rlimit"; echo "rc=\$?" >>"\$o/rlimit"
echo done >"\$o/done"
exec "$EXAMPLE_PLAIN" --name chm
SH
chmod 0755 "$T/chm.sh"
cat >"$T/m.yaml" <<YAML
version: 1
defaults:
  stop: { timeout: 2s }
servers:
  box:
    command: [$EXAMPLE, --name, box, --confine-tools]
    sandbox: { writable: [$T/w], readable: [$T/w/pub, $top_builddir] }
  chm:
    command: [$T/chm.sh, $T/chm-out]
    sandbox: { writable: [$T/chm-out] }
    limits: { memory: 512M }
YAML
chmod 0644 "$T/m.yaml"
STATE_DIRECTORY=$T/state start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
if ! landlock_here; then
	skip "a symlink planted in writable before a restart" "mcpd found no Landlock on this kernel"
	stop_mcpd
	done_testing
	exit 0
fi
wait_state 60 box running || not_ok "box running" "$(ctl status box; mcpd_log | tail -n 10)"
_chm_done() { [[ -e $T/chm-out/done ]]; }
wait_until 60 _chm_done || not_ok "chm ran" "$(ctl status chm; mcpd_log | tail -n 10)"
like "$(cat "$T/chm-out/manifest")" 'Operation not permitted' "a sandboxed server running as root cannot chmod the manifest"
is "$(stat -c %a "$T/m.yaml")" 644 "which stays 0644"
like "$(cat "$T/chm-out/prog")" 'Operation not permitted' "nor set the setuid bit of a root program it may read"
is "$(stat -c %a "$T/prog")" 755 "which stays 0755"
like "$(cat "$T/chm-out/rlimit")" 'rc=1' "nor raise its hard limit on memory (limits.memory: RLIMIT_DATA here; it has no CAP_SYS_RESOURCE)"
is "$(ctl --json status chm | jq -r '.servers[0].confinement.sandbox.mechanisms | index("seccomp chmod filter") != null')" true \
	"status: the seccomp chmod filter is in force"
path() { jq -nc --arg p "$1" '{path: $p, max: 65536}'; }
denied='^error: cannot open .*: Permission denied'
is "$(call box read_file "$(path "$T/w/pub/file")")" "public" "the allow-list: a readable path can be read"
like "$(call box read_file "$(path "$T/private.txt")")" "$denied" "a path not listed cannot"
# What the server may do itself (Landlock grants it every right in writable): rm -r pub, ln -s / pub.
rm -r "$T/w/pub"
ln -s / "$T/w/pub"
ctl restart box >/dev/null
_box_restarted() { [[ $(state_of box) == running && $(field_of box restarts) -ge 1 ]]; }
wait_until 60 _box_restarted || not_ok "box restarted" "$(ctl status box; mcpd_log | tail -n 10)"
out=$(call box read_file "$(path "$T/private.txt")")
like "$out" "$denied" "after a restart, readable $T/w/pub, now a symlink to /, does not open the file system"
[[ $out != private* ]] && ok "so the private file does not leak" || not_ok "no leak" "$out"
echo in >"$T/w/in"
is "$(call box read_file "$(path "$T/w/in")")" "in" "while writable works as before"
stop_mcpd
done_testing
