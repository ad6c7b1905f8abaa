#!/bin/bash
# Manifest history and rollback: every applied manifest is recorded (start,
# reload, SIGHUP, rollback); `mcpctl history` lists them across restarts;
# `mcpctl rollback` applies one as reload would, without touching the file;
# status and /health say the running manifest differs from the file until
# the next reload; the history is pruned to mcpd.history; an unusable
# state_dir is one warning and mcpd runs on.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

STATE=$T/st
extra=""	# servers appended to the manifest
keep=""		# an mcpd.history line

write_manifest() {
	cat >"$T/m.yaml.new" <<YAML
version: 1
mcpd:
  http: 127.0.0.1:$1
  state_dir: $STATE
$keep
servers:
  one:
    command: [$EXAMPLE, --name, one]
  two:
    command: [$EXAMPLE, --name, two]
$extra
YAML
	mv "$T/m.yaml.new" "$T/m.yaml"
}

# Entries listed by `mcpctl history` (rows after the header).
entries() {
	ctl history | tail -n +2 | wc -l
}

# mcpd answers, or its process is gone (a port in use).
_up_or_dead() {
	ctl status >/dev/null 2>&1 || ! alive "$pid_mcpd"
}

# Start mcpd on a free random port, rewriting the manifest for it: up to
# 5 ports. (start_mcpd alone does not wait: `mcpctl version` needs no mcpd.)
launch() {
	local attempt
	for attempt in 1 2 3 4 5; do
		port=$(test_port)
		write_manifest "$port"
		start_mcpd "$T/m.yaml" 2>/dev/null
		wait_until 30 _up_or_dead
		ctl status >/dev/null 2>&1 && return 0
		stop_spawned mcpd
	done
	not_ok "mcpd starts" "$(tail -n 20 "$T/mcpd.err")"
	return 1
}

health_json() {
	curl -s --max-time 10 "http://127.0.0.1:$port/health" | tr -d '\n '
}

launch || done_testing
out=$("$MCPD" -n -c "$T/m.yaml" 2>&1)
like "$out" "state directory: $STATE \(history of 20 manifests\)" "mcpd -n reports the state directory"
for s in one two; do wait_state 20 $s running || not_ok "$s running" "$(ctl status)"; done
one_pid=$(field_of one pid)
two_pid=$(field_of two pid)

out=$(ctl history)
is "$?" 0 "mcpctl history exits 0"
is "$(entries)" 1 "after the start: one entry"
like "$out" '^\*  [0-9a-f]{7}  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}  start +start +\+2 ~0 -0 \+one \+two$' \
	"the entry: running mark, short hash, local time, by start, +2 with the names"
first=$(ctl --json history | grep -o '"hash": *"[0-9a-f]*"' | head -n 1 | grep -o '[0-9a-f]\{64\}')
is "$first" "$(sha256sum <"$T/m.yaml" | cut -c 1-64)" "the hash is the SHA-256 of the file's exact content"
like "$(ls "$STATE/history")" "$first.yaml" "the content is stored in state_dir/history"
is "$(stat -c %a "$STATE")" 700 "the state directory is created mode 0700"

extra="  three:
    command: [$EXAMPLE, --name, three]"
write_manifest "$port"
second=$(sha256sum <"$T/m.yaml" | cut -c 1-64)
ctl reload >/dev/null
wait_state 20 three running || not_ok "three running" "$(ctl status)"
out=$(ctl history)
is "$(entries)" 2 "after a reload: two entries"
like "$(printf '%s\n' "$out" | sed -n 2p)" "^\*  ${second:0:7}  .*  uid $(id -u) \($(id -un)\) +reload +\+1 ~0 -0 \+three$" \
	"the newest is the reload by this uid (with its user name), +1 three, marked running"
like "$(printf '%s\n' "$out" | sed -n 3p)" "^   ${first:0:7} " "the start entry is second, unmarked"
like "$(ctl --json history)" '"who": *"uid [0-9]+"' "--json gives the uid as mcpd recorded it"

out=$(ctl rollback -n)
is "$?" 0 "rollback -n exits 0"
like "$out" "rollback to ${first:0:7} would change" "rollback -n names the target: the entry before the running one"
like "$out" 'removed: three' "rollback -n prints the diff"
like "$out" 'dry run: nothing changed' "and says it changed nothing"
is "$(state_of three)" running "after rollback -n, the added server still runs"
is "$(entries)" 2 "a dry run records nothing"

out=$(ctl rollback)
is "$?" 0 "rollback exits 0"
like "$out" "removed: three" "rollback prints the diff"
wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' status three 2>&1 | grep -q 'no server named'" &&
	ok "after the rollback, the added server is gone from status" || not_ok "three gone" "$(ctl status)"
is "$(field_of one pid)" "$one_pid" "the other servers were not restarted (one: same pid)"
is "$(field_of two pid)" "$two_pid" "the other servers were not restarted (two: same pid)"
is "$(sha256sum <"$T/m.yaml" | cut -c 1-64)" "$second" "the manifest file is untouched"
like "$(ctl status)" "manifest: ${first:0:7} from a rollback, not the file's" "status says the running manifest differs from the file"
like "$(health_json)" "\"manifest\":\{\"hash\":\"$first\",\"source\":\"rollback\",\"file_differs\":true\}" \
	"/health says so too: hash, source rollback, file_differs"
like "$(ctl --json status)" '"file_differs": *true' "and status --json"
like "$(ctl history | sed -n 2p)" "^\*  ${first:0:7}  .*  rollback +\+0 ~0 -1 -three$" "the rollback is an entry of its own"

ctl reload >/dev/null
wait_state 20 three running || not_ok "three running again" "$(ctl status)"
unlike_status=$(ctl status)
[[ $unlike_status != *"from a rollback"* ]] && ok "a reload from the file clears the notice in status" ||
	not_ok "notice cleared" "$unlike_status"
like "$(health_json)" '"file_differs":false' "and in /health"

kill -HUP "$pid_mcpd"
wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' history | sed -n 2p | grep -q SIGHUP" &&
	ok "a SIGHUP reload is recorded by \"SIGHUP\"" || not_ok "SIGHUP entry" "$(ctl history)"

# Errors: unknown, malformed, ambiguous.
ctl rollback 0000000 >"$T/out" 2>"$T/err"
is "$?" 1 "rollback to an unknown hash exits 1"
like "$(cat "$T/err")" 'no manifest with hash 0000000 in the history' "and says so"
ctl rollback xyz >"$T/out" 2>"$T/err"
is "$?" 2 "rollback to something that is not a hash exits 2 (bad argument)"
like "$(cat "$T/err")" 'not a hash' "and says why"

# Help like the other commands.
out=$("$MCPCTL" help history)
like "$out" 'usage: mcpctl .*history' "mcpctl help history prints its usage"
out=$("$MCPCTL" rollback --help)
is "$?" 0 "mcpctl rollback --help exits 0"
like "$out" 'usage: mcpctl .*rollback \[--dry-run\] \[HASH\]' "and prints its usage on stdout"

# Across a restart of mcpd: the file is loaded, the history is still there.
n_before=$(entries)
stop_mcpd
launch || done_testing
is "$(entries)" $((n_before + 1)) "after a restart the history still lists every entry, and the start"
# The file now differs only in mcpd.http (a new port): no server changed.
like "$(ctl history | sed -n 2p)" "^\*  $(sha256sum <"$T/m.yaml" | cut -c 1-7)  .*  start +start +\+0 ~0 -0$" \
	"the start loads the file, diffed against what ran before"
ctl rollback "${first:0:9}" >/dev/null
is "$?" 0 "rollback by a hash prefix from before the restart works"
wait_until 20 bash -c "'$MCPCTL' -s '$SOCK' status three 2>&1 | grep -q 'no server named'" &&
	ok "and applies that manifest" || not_ok "three gone after rollback by hash" "$(ctl status)"

# Pruning: history: 3 keeps at most 3 entries, in memory and on disk.
keep="  history: 3"
for i in 1 2 3 4 5; do
	extra="  n$i:
    command: [$EXAMPLE, --name, n$i]
    autostart: false"
	write_manifest "$port"
	ctl reload >/dev/null || not_ok "reload $i"
done
is "$(entries)" 3 "history: 3 keeps 3 entries after 5 reloads"
_on_disk_3() { (($(ls "$STATE/history" | grep -c '\.json$') == 3)); }
wait_until 20 _on_disk_3 && ok "and 3 on disk" || not_ok "3 entries on disk" "$(ls -la "$STATE/history")"
_contents_3() { (($(ls "$STATE/history" | grep -c '\.yaml$') <= 3)); }
wait_until 20 _contents_3 && ok "the contents no entry names are removed" || not_ok "pruned contents" "$(ls -la "$STATE/history")"
stop_mcpd

# An unusable state_dir: one warning, mcpd runs, history says why.
printf 'x\n' >"$T/file"
STATE=$T/file/state
keep=""
extra=""
launch || done_testing
wait_state 20 one running && ok "with an unusable state_dir, mcpd runs" || not_ok "one running" "$(ctl status)"
is "$(grep -c 'history: cannot create' "$T/mcpd.err")" 1 "and logs one warning"
like "$(grep 'history: cannot create' "$T/mcpd.err")" "cannot create $T/file/state/history: Not a directory; manifest history and rollback are off" \
	"the warning names the directory, the cause and what happens"
ctl history >"$T/out" 2>"$T/err"
is "$?" 1 "mcpctl history exits 1 when the history is off"
like "$(cat "$T/err")" 'the manifest history is off: cannot create' "and says why"
ctl reload >/dev/null
is "$?" 0 "reload works without a history"
stop_mcpd

done_testing
