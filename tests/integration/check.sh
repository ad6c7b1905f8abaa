#!/bin/bash
# mcpd -n and mcpctl check: validating manifests without a running daemon.
set -u
. "$(dirname "$0")/lib.sh"

check "mcpctl check accepts examples/production.yaml" "$MCPCTL" check "$top_srcdir/examples/production.yaml"
check "mcpctl check accepts examples/demo.yaml" "$MCPCTL" check "$top_srcdir/examples/demo.yaml"
# production.yaml names a user and secret files this host has not: -n checks the host, so it says so.
SEARCH_TOKEN=x "$MCPD" -n -c "$top_srcdir/examples/production.yaml" >"$T/out" 2>"$T/err"
is "$?" 1 "mcpd -n refuses examples/production.yaml on a host without its user and secret files"
like "$(cat "$T/err")" 'production.yaml: servers.db.secrets.DATABASE_URL: cannot use /run/secrets/db_url: No such file or directory' \
	"and names each missing file"
SEARCH_TOKEN=x check "mcpd -n accepts examples/demo.yaml" "$MCPD" -n -c "$top_srcdir/examples/demo.yaml"

# What the host lacks: warnings for mcpctl check (it may run elsewhere), errors for mcpd -n.
printf 'KEY=value\n' >"$T/good.env"
cat >"$T/host.yaml" <<YAML
version: 1
servers:
  a:
    command: [/bin/true]
    user: nosuchuser-mcpd
    group: nosuchgroup-mcpd
    env_file: $T/missing.env
    secrets: { TOKEN: $T, OTHER: $T/missing-secret }
  b:
    command: [/bin/true]
    user: "0"
    env_file: $T/good.env
YAML
"$MCPCTL" check "$T/host.yaml" >"$T/out" 2>"$T/err"
is "$?" 0 "mcpctl check: what this host lacks does not make a manifest invalid"
is "$(grep -c ': warning: servers\.a\.' "$T/err")" 5 "five warnings, one per missing user, group and file" || diag "$(cat "$T/err")"
like "$(cat "$T/err")" 'warning: servers.a.user: no user "nosuchuser-mcpd" on this host' "a missing user is named"
like "$(cat "$T/err")" 'warning: servers.a.secrets.TOKEN: .* is not a regular file' "a directory as a secret file is named"
like "$(cat "$T/err")" 'warning: servers.a.env_file: cannot use .*missing.env: No such file or directory' "a missing env_file is named"
grep -q 'servers\.b\.' "$T/err" && not_ok "a numeric user and a readable env_file pass" "$(cat "$T/err")" ||
	ok "a numeric user and a readable env_file pass"
"$MCPD" -n -c "$T/host.yaml" >"$T/out" 2>"$T/err"
is "$?" 1 "mcpd -n: the same problems are errors"
like "$(cat "$T/err")" 'servers.a.group: no group "nosuchgroup-mcpd" on this host; the server would fail at every start' \
	"the error names the key, the cause and the consequence"
like "$(tail -n 1 "$T/err")" 'is not valid; it would start nothing' "and the last line says nothing would start"
"$MCPD" -n -c "$T/no-such-manifest.yaml" >"$T/out" 2>"$T/err"
like "$(tail -n 1 "$T/err")" '^mcpd: cannot read .*no-such-manifest.yaml; it would start nothing$' \
	"a missing manifest is \"cannot read\", not \"not valid\""

# An unset ${VAR}: a warning for mcpctl check, an error for the daemon.
env -u SEARCH_TOKEN "$MCPCTL" check "$top_srcdir/examples/production.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/err")" 'production.yaml:[0-9]+:[0-9]+: warning: servers.search.headers.Authorization: environment variable SEARCH_TOKEN is not set' \
	"mcpctl check warns about an unset variable"
env -u SEARCH_TOKEN "$MCPD" -n -c "$top_srcdir/examples/production.yaml" >"$T/out" 2>"$T/err"
is "$?" 1 "mcpd -n refuses an unset variable"

cat >"$T/three.yaml" <<'YAML'
version: 1
servers:
  files:
    comand: [npx, server]
  db:
    command: [db-server]
    backoff: { initial: fast }
    depends_on: [fils]
YAML
"$MCPCTL" check "$T/three.yaml" >"$T/out" 2>"$T/err"
is "$?" 1 "three mistakes: exit status 1"
is "$(grep -c "^$T/three.yaml:[0-9]*:[0-9]*: " "$T/err")" 3 "three mistakes: three file:line:col errors"
like "$(sed -n 1p "$T/err")" '^.*three.yaml:4:5: servers.files.comand: unknown key "comand" \(did you mean "command"\?\)$' "first error names line, column, path and hint"
like "$(sed -n 2p "$T/err")" '^.*three.yaml:7:25: servers.db.backoff.initial: expected a duration like "1s", got "fast"$' "second error"
like "$(sed -n 3p "$T/err")" '^.*three.yaml:8:18: servers.db.depends_on: no server named "fils" \(did you mean "files"\?\)$' "third error"
like "$(tail -n 1 "$T/err")" '^3 errors$' "summary line"
"$MCPD" -n -c "$T/three.yaml" >"$T/out" 2>"$T/err2"
is "$?" 1 "mcpd -n: exit status 1"
is "$(grep -c "^$T/three.yaml:" "$T/err2")" 3 "mcpd -n reports the same three errors"

cat >"$T/cycle.yaml" <<'YAML'
version: 1
servers:
  a: { command: [x], depends_on: [b] }
  b: { command: [x], depends_on: [c] }
  c: { command: [x], depends_on: [a] }
YAML
"$MCPCTL" check "$T/cycle.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/err")" 'depends_on cycle: a -> b -> c -> a' "a cycle is named in full"

"$MCPCTL" check "$T/missing.yaml" >"$T/out" 2>"$T/err"
is "$?" 1 "a missing file: exit status 1"
like "$(cat "$T/err")" "missing.yaml: cannot open the manifest: No such file or directory" "a missing file: clear message"

head -c 2000000 /dev/zero | tr '\0' '#' >"$T/big.yaml"
"$MCPCTL" check "$T/big.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/err")" 'larger than the limit of 1048576 bytes' "a 2 MB manifest is refused"

{ echo "version: 1"; echo "a: &a [x, x, x, x, x, x, x, x, x, x]"; prev=a
  for n in b c d e f g h i; do printf '%s: &%s [' $n $n; for k in 1 2 3 4 5 6 7 8 9; do printf '*%s, ' $prev; done; printf '*%s]\n' $prev; prev=$n; done; } >"$T/laughs.yaml"
"$MCPCTL" check "$T/laughs.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/err")" 'document expands to more than 200000 nodes' "billion laughs is refused"

"$MCPCTL" --json check "$T/three.yaml" >"$T/out" 2>"$T/err"
like "$(cat "$T/out")" '"valid":false' "--json check reports validity"

# mcpctl health is a Kubernetes exec probe: mcpctl stays lean.
if command -v ldd >/dev/null; then
	ldd "$MCPCTL" >"$T/ldd" 2>&1
	grep -q 'libsystemd' "$T/ldd" && not_ok "mcpctl does not link libsystemd" "$(cat "$T/ldd")" ||
		ok "mcpctl does not link libsystemd"
else
	skip "mcpctl's libraries" "ldd is not installed"
fi
check "mcpd --version" sh -c "'$MCPD' --version | grep -qx 'mcpd [0-9.]*'"
check "mcpctl --version" sh -c "'$MCPCTL' --version | grep -qx 'mcpctl [0-9.]*'"
check "mcpd --help lists -n" sh -c "'$MCPD' --help | grep -q -- '--check'"
check "mcpctl --help lists check" sh -c "'$MCPCTL' --help | grep -q 'check FILE'"
# A command's own help: on stdout, exit 0, by `help CMD` or `CMD --help`.
for form in "help status" "status --help" "status -h"; do
	out=$("$MCPCTL" $form 2>"$T/help.err")
	rc=$?
	is "$rc" 0 "mcpctl $form exits 0"
	like "$out" '^usage: mcpctl .*status \[NAME\.\.\.\]' "mcpctl $form prints the usage of status on stdout"
	is "$(cat "$T/help.err")" "" "and nothing on stderr"
done
"$MCPCTL" -x >/dev/null 2>"$T/x.err"
is "$?" 2 "an unknown option exits 2"
like "$(head -n 1 "$T/x.err")" "^mcpctl: (invalid|unrecognized) option" "and names the program mcpctl, not its path"
"$MCPCTL" -s "$T" status >/dev/null 2>"$T/dir.err"
is "$?" 1 "a directory as the socket fails"
like "$(cat "$T/dir.err")" "is a directory, not a socket" "and says it is a directory, not that the connection was refused"
"$MCPCTL" chek >"$T/out" 2>"$T/err"
is "$?" 2 "unknown command: exit status 2"
like "$(cat "$T/err")" 'unknown command "chek" \(did you mean "check"\?\)' "unknown command gets a hint"

done_testing
