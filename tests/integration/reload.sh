#!/bin/bash
# Reload: added, removed and changed servers; unchanged ones keep running;
# an invalid manifest changes nothing; SIGHUP does the same as mcpctl reload.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

write_manifest() {
	cat >"$T/m.yaml.new"
	mv "$T/m.yaml.new" "$T/m.yaml"
}

write_manifest <<YAML
version: 1
servers:
  keep:
    command: [$EXAMPLE, --name, keep]
  change:
    command: [$EXAMPLE, --name, change]
  drop:
    command: [$EXAMPLE, --name, drop]
YAML
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
for s in keep change drop; do wait_state 10 $s running || not_ok "$s running" "$(ctl status)"; done
keep_pid=$(field_of keep pid)
change_pid=$(field_of change pid)
drop_pid=$(field_of drop pid)

write_manifest <<YAML
version: 1
servers:
  keep:
    command: [$EXAMPLE, --name, keep]
  change:
    command: [$EXAMPLE, --name, changed]
  added:
    command: [$EXAMPLE, --name, added]
YAML

out=$(ctl reload --dry-run)
is "$?" 0 "reload --dry-run exits 0"
like "$out" 'added: added' "dry run lists the added server"
like "$out" 'removed: drop' "dry run lists the removed server"
like "$out" 'changed: change' "dry run lists the changed server"
is "$(field_of drop pid)" "$drop_pid" "a dry run changes nothing"

out=$(ctl reload)
is "$?" 0 "reload exits 0"
like "$out" 'added: added' "reload prints the diff"
wait_state 10 added running && ok "the added server starts" || not_ok "added running" "$(ctl status)"
wait_state 10 change running
new_change=$(field_of change pid)
[[ $new_change != "$change_pid" && $new_change != null ]] && ok "the changed server was restarted" || not_ok "change restarted" "old $change_pid new $new_change"
is "$(field_of keep pid)" "$keep_pid" "the unchanged server kept its process"
wait_until 10 bash -c "'$MCPCTL' -s '$SOCK' status drop 2>&1 | grep -q 'no server named'" && ok "the removed server is gone from status" || not_ok "drop gone" "$(ctl status)"
wait_until 5 _gone "$drop_pid" && ok "the removed server's process is stopped" || not_ok "drop process gone"

# An invalid manifest: errors, exit 1, nothing changes.
cp "$T/m.yaml" "$T/good.yaml"
write_manifest <<YAML
version: 1
servers:
  keep:
    comand: [$EXAMPLE]
  change:
    command: [$EXAMPLE]
    restart: sometimes
YAML
ctl reload >"$T/out" 2>"$T/err"
is "$?" 1 "reload of an invalid manifest exits 1"
like "$(cat "$T/err")" 'is invalid; still running the previous one' "and says the old one stays"
like "$(cat "$T/err")" 'm.yaml:4:5: servers.keep.comand: unknown key "comand"' "and prints each error with file:line:col"
is "$(field_of keep pid)" "$keep_pid" "an invalid reload changes nothing"
is "$(state_of added)" running "added still runs after the invalid reload"

# SIGHUP reloads too.
write_manifest <"$T/good.yaml"
sed -i 's/--name, added]/--name, added2]/' "$T/m.yaml"
added_pid=$(field_of added pid)
kill -HUP "$pid_mcpd"
wait_log 10 'reload: 0 added, 0 removed, 1 changed' && ok "SIGHUP reloads the manifest" || not_ok "SIGHUP reload" "$(tail -n 5 "$T/mcpd.err")"
wait_until 10 bash -c "[ \"\$('$MCPCTL' -s '$SOCK' --json status added | grep -o '\"pid\": *[0-9]*' | grep -o '[0-9]*$')\" != '$added_pid' ]"
wait_state 10 added running && ok "the server changed by SIGHUP runs again" || not_ok "added after HUP" "$(ctl status)"

stop_mcpd
no_leftovers "$T" "no process is left behind"
done_testing
