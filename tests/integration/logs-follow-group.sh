#!/bin/bash
# logs -f NAME of a replicated entry (or one that became replicated by a
# reload 1 -> N): the follower goes on across reloads 1 -> 3 -> 1 -> 3 and its
# stream ends when the entry leaves the manifest, as for one server.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

write_manifest() { # write_manifest REPLICAS (0: no web)
	{
		printf 'version: 1\nservers:\n  keep:\n    command: [%s, --name, keep]\n' "$EXAMPLE"
		if (($1 > 0)); then
			printf '  web:\n    command: [sh, -c, %s, %s]\n    replicas: %s\n' \
				"'echo \"up \$MCPD_REPLICA\" >&2; exec \"\$0\" --name web'" "$EXAMPLE" "$1"
		fi
	} >"$T/m.yaml"
}
reload_to() {
	write_manifest "$1"
	ctl reload >/dev/null
}
_running_n() { [[ $(ctl status 2>/dev/null | grep -c ' running ') -eq $1 ]]; }

# follow N: `logs -f web` as fN, its exit status in $T/fN.exit
follow() {
	spawn "f$1" bash -c '"$1" -s "$2" logs -f web; echo $? >"$3"' _ "$MCPCTL" "$SOCK" "$T/f$1.exit"
}
_ended() { [[ -s $T/f$1.exit ]]; }

# removed_ends K TEXT: web leaves the manifest; follower K's logs -f ends, exit 0.
removed_ends() {
	reload_to 0
	if wait_until 30 _ended "$1"; then
		is "$(cat "$T/f$1.exit")" 0 "$2, exit 0"
	else
		not_ok "$2" "$(ctl status)"
	fi
	stop_spawned "f$1"
}

# --- started with one replica, 1 -> 3 -> 1 -> 3, then web removed.
write_manifest 1
start_mcpd "$T/m.yaml" || { done_testing; exit 1; }
wait_until 60 _running_n 2 || not_ok "keep and web running" "$(ctl status)"
follow 1
wait_until 30 grep -q 'up' "$T/f1.out" || not_ok "the follower has web's first line" "$(cat "$T/f1.out")"
for r in 3 1 3; do
	reload_to "$r"
	wait_until 60 _running_n $((r + 1)) || not_ok "web with $r replicas running" "$(ctl status)"
done
_has_three() { grep -q 'web#3: up 3' "$T/f1.out"; }
wait_until 30 _has_three && ok "1 -> 3 -> 1 -> 3: the follower has web#3's lines" ||
	not_ok "1 -> 3 -> 1 -> 3: the follower has web#3's lines" "$(cat "$T/f1.out")"
alive "$pid_f1" && ok "the follower is still following" || not_ok "the follower is still following" "$(cat "$T/f1.err")"
removed_ends 1 "web removed after 1 -> 3: logs -f web ends"

# --- started with three replicas, web removed.
reload_to 3
wait_until 60 _running_n 4 || not_ok "web#1 to web#3 running" "$(ctl status)"
follow 2
wait_until 30 grep -q 'web#' "$T/f2.out" || not_ok "the group's follower has a replica's line" "$(cat "$T/f2.out")"
removed_ends 2 "web (3 replicas) removed: logs -f web ends"

# --- 3 -> 1: the group's follower goes on with web, and ends when web is removed.
reload_to 3
wait_until 60 _running_n 4 || not_ok "web#1 to web#3 running" "$(ctl status)"
follow 3
wait_until 30 grep -q 'web#' "$T/f3.out" || not_ok "the group's follower has a replica's line" "$(cat "$T/f3.out")"
reload_to 1
wait_until 60 _running_n 2 || not_ok "web running alone" "$(ctl status)"
_sweep_done() { ! ctl status 2>/dev/null | grep -q 'web#'; }
wait_until 60 _sweep_done
alive "$pid_f3" && ok "3 -> 1: the follower goes on with web" || not_ok "3 -> 1: the follower goes on" "$(cat "$T/f3.out")"
removed_ends 3 "3 -> 1 -> removed: logs -f web ends"
mcpd_within_budget "followers of a removed group" 300000 500
stop_mcpd
done_testing
