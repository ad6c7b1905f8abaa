#!/bin/bash
# The Debian package and the deployment examples.
#  - examples/container (compose manifest, docker-compose.yml, Dockerfile) and
#    examples/kubernetes (ConfigMap manifest, pod spec): valid YAML, manifests
#    that mcpctl check accepts, secrets that are where the manifests read them.
#    No container engine here: the Dockerfile is read, not built.
#  - ./scripts/dev package --no-deps: dpkg-buildpackage -us -uc -b on a clean
#    copy of the tree, lintian without errors, the expected paths in the .deb,
#    its maintainer scripts; then the .deb unpacked in a throwaway root
#    (dpkg -x, never installed on this host), whose mcpd runs its conffile.
# The package part skips when dpkg-buildpackage, dh or lintian is missing
# (./scripts/dev check installs them).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mcpd.sh"

src=$top_srcdir
export LC_ALL=C

# ------------------------------------------------------------ examples

# A python3 with the yaml module: Debian's first (python3-yaml), else any.
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import yaml' >/dev/null 2>&1; then
		py=$p
		break
	fi
done

# yaml_query FILE EXPR: EXPR (python, over docs: the YAML documents of FILE),
# printed one value a line.
yaml_query() {
	"$py" - "$1" "$2" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]
r = eval(sys.argv[2], {"docs": docs})
for v in (r if isinstance(r, list) else [r]):
    print(v)
PY
}

# The secret files a manifest reads (secrets: VAR: PATH, and the tokens file).
manifest_secret_paths() {
	"$py" - "$1" <<'PY'
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))
for s in (m.get("servers") or {}).values():
    for p in (s.get("secrets") or {}).values():
        print(p)
t = ((m.get("mcpd") or {}).get("gateway") or {}).get("tokens_file")
if t:
    print(t)
PY
}

checks_ok() { # checks_ok DESC FILE SERVERS: mcpctl check says valid, N servers
	local out rc=0
	out=$("$MCPCTL" check "$2" 2>&1) || rc=$?
	if ((rc == 0)) && grep -q "valid, $3 servers" <<<"$out"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc" "$out"
	fi
}

compose=$src/examples/container/docker-compose.yml
cmanifest=$src/examples/container/mcpd.yaml
dockerfile=$src/examples/container/Dockerfile
pod=$src/examples/kubernetes/mcpd-pod.yaml

checks_ok "examples/container/mcpd.yaml passes mcpctl check (db, files, email)" "$cmanifest" 3
if [[ -z $py ]]; then
	skip "the YAML of the compose file and the pod spec" "no python3 with the yaml module (python3-yaml)"
else
	check "docker-compose.yml is valid YAML" "$py" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$compose"
	like "$(yaml_query "$compose" 'docs[0]["services"]["mcpd"]["volumes"]' | paste -sd' ' -)" \
		'(^| )\./mcpd\.yaml:/etc/mcpd/mcpd\.yaml:ro( |$)' "compose: the mcpd service runs examples/container/mcpd.yaml"
	like "$(yaml_query "$compose" 'docs[0]["services"]["mcpd"]["volumes"]' | paste -sd' ' -)" \
		':/srv/data:ro( |$)' "compose: the files server's directory is mounted read-only"
	missing=
	compose_secrets=" $(yaml_query "$compose" 'docs[0]["services"]["mcpd"]["secrets"]' | paste -sd' ' -) "
	for p in $(manifest_secret_paths "$cmanifest"); do
		[[ $p == /run/secrets/* && $compose_secrets == *" ${p#/run/secrets/} "* ]] || missing+=" $p"
	done
	is "${missing:-none}" none "compose: every secret file of the manifest is a compose secret of the mcpd service"
	grace=$(yaml_query "$compose" 'docs[0]["services"]["mcpd"]["stop_grace_period"]')
	shutdown=$(yaml_query "$cmanifest" 'docs[0]["mcpd"]["shutdown_timeout"]')
	((${grace%s} > ${shutdown%s})) && ok "compose: stop_grace_period ($grace) is above shutdown_timeout ($shutdown)" ||
		not_ok "compose: stop_grace_period above shutdown_timeout" "$grace <= $shutdown"

	check "the Kubernetes pod spec is valid YAML" "$py" -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$pod"
	is "$(yaml_query "$pod" '[d["kind"] for d in docs]' | paste -sd' ' -)" "ConfigMap Pod" "the pod spec has a ConfigMap and a Pod"
	yaml_query "$pod" '[d for d in docs if d["kind"] == "ConfigMap"][0]["data"]["mcpd.yaml"]' >"$T/k8s.yaml"
	checks_ok "the manifest in the ConfigMap passes mcpctl check (db, files, email)" "$T/k8s.yaml" 3
	mcpd_c='[c for c in [d for d in docs if d["kind"] == "Pod"][0]["spec"]["containers"] if c["name"] == "mcpd"][0]'
	is "$(yaml_query "$pod" "$mcpd_c[\"livenessProbe\"][\"httpGet\"][\"path\"]")" /livez "pod: the liveness probe is /livez"
	is "$(yaml_query "$pod" "$mcpd_c[\"readinessProbe\"][\"httpGet\"][\"path\"]")" /readyz "pod: the readiness probe is /readyz"
	is "$(yaml_query "$pod" "' '.join($mcpd_c[\"startupProbe\"][\"exec\"][\"command\"])")" "mcpctl health" \
		"pod: mcpctl health is an exec probe"
	port=$(yaml_query "$T/k8s.yaml" 'docs[0]["mcpd"]["http"]')
	is "${port##*:}" "$(yaml_query "$pod" "$mcpd_c[\"ports\"][0][\"containerPort\"]")" "pod: the probes' port is mcpd.http's"
	secret_dir=$(yaml_query "$pod" "[m[\"mountPath\"] for m in $mcpd_c[\"volumeMounts\"] if m[\"name\"] == \"secrets\"][0]")
	missing=
	for p in $(manifest_secret_paths "$T/k8s.yaml"); do
		[[ $p == "$secret_dir"/* ]] || missing+=" $p"
	done
	[[ -n $secret_dir && -z $missing ]] && ok "pod: every secret of the manifest is a file of the mounted Secret ($secret_dir)" ||
		not_ok "pod: secrets mounted where the manifest reads them" "mount: $secret_dir" "outside:$missing"
	is "$(yaml_query "$pod" "[m[\"readOnly\"] for m in $mcpd_c[\"volumeMounts\"] if m[\"mountPath\"] == \"/srv/data\"][0]")" True \
		"pod: the files server's directory is mounted read-only"
fi
like "$(grep -E '^(FROM|ENTRYPOINT|COPY build)' "$dockerfile" | paste -sd'|' -)" \
	'^FROM debian:12[^|]*\|COPY build/package/mcpd_\*\.deb /tmp/\|.*ENTRYPOINT \["/usr/sbin/mcpd", "-f", "-c", "/etc/mcpd/mcpd\.yaml"\]$' \
	"the Dockerfile installs the package on Debian 12 and runs mcpd -f as its entrypoint (not built: no container engine here)"

# ------------------------------------------------------------- package

tools_missing=
for t in dpkg-buildpackage dh lintian dpkg-deb; do
	command -v "$t" >/dev/null 2>&1 || tools_missing+=" $t"
done
if [[ -n $tools_missing ]]; then
	skip "the Debian package" "missing:$tools_missing (./scripts/dev deps installs them)"
	done_testing
fi

# Not run: a package build runs the unit tests, which make check ran already.
out=$T/pkg
if DEB_BUILD_OPTIONS=nocheck "$src/scripts/dev" package --no-deps --out "$out" >"$T/package.out" 2>&1; then
	ok "./scripts/dev package builds the .deb (dpkg-buildpackage -us -uc -b on a clean copy) and lintian finds no error"
else
	not_ok "./scripts/dev package" "$(tail -n 40 "$T/package.out")"
	done_testing
fi
deb=$(ls "$out"/mcpd_*.deb 2>/dev/null | head -n 1)
check "the .deb is there" test -f "$deb"
errors=$(grep -c '^E: ' "$out/lintian.txt")
warnings=$(grep -c '^W: ' "$out/lintian.txt")
is "$errors" 0 "lintian: no error"
diag "lintian: $errors errors, $warnings warnings; its output:" "$(grep -E '^[EWIP]: ' "$out/lintian.txt")"

dpkg-deb -c "$deb" | awk '{ print $1, $2, $NF }' >"$T/contents"
has() { # has PATH [MODE OWNER]: the .deb holds ./PATH
	grep -qE "^${2:-[-dl][rwxs-]+} ${3:-[a-z]+/[a-z]+} \./$1$" "$T/contents"
}
for p in usr/sbin/mcpd usr/bin/mcpctl; do
	check "the .deb has /$p, executable" has "$p" '-rwxr-xr-x' root/root
done
for p in usr/share/man/man8/mcpd.8.gz usr/share/man/man1/mcpctl.1.gz usr/share/man/man5/mcpd.yaml.5.gz \
	usr/share/bash-completion/completions/mcpctl etc/mcpd/mcpd.yaml usr/share/doc/mcpd/copyright \
	usr/share/doc/mcpd/examples/production.yaml; do
	check "the .deb has /$p" has "$p"
done
check "the .deb has mcpd.service and mcpd.socket in systemd's unit directory" \
	bash -c "grep -qE '\./(usr/)?lib/systemd/system/mcpd\.service$' '$T/contents' && grep -qE '\./(usr/)?lib/systemd/system/mcpd\.socket$' '$T/contents'"
for p in var/lib/mcpd/ var/log/mcpd/; do
	check "the .deb has /$p" has "$p" 'd[rwx-]+'
done
check_fail "the .deb has nothing in /run or /usr/local" grep -qE '\./(run|var/run|usr/local)/' "$T/contents"

dpkg-deb -e "$deb" "$T/control"
is "$(cat "$T/control/conffiles")" /etc/mcpd/mcpd.yaml "/etc/mcpd/mcpd.yaml is a conffile"
depends=$(dpkg-deb -f "$deb" Depends)
like "$depends" 'adduser' "the package depends on adduser (its postinst creates the mcp user)"
if [[ $depends == *asan* || $depends == *ubsan* ]]; then
	not_ok "a release build: no sanitizer library" "$depends"
else
	ok "a release build: no sanitizer library among its dependencies"
fi
for s in postinst postrm prerm; do
	check "$s is valid sh" sh -n "$T/control/$s"
done
like "$(grep -E "deb-systemd-helper enable" "$T/control/postinst" | paste -sd' ' -)" \
	"enable 'mcpd\.service'.*enable 'mcpd\.socket'|enable 'mcpd\.socket'.*enable 'mcpd\.service'" \
	"postinst enables mcpd.service and mcpd.socket (dh_installsystemd)"
like "$(grep -E 'adduser --system' "$T/control/postinst")" '--ingroup mcp' "postinst creates the mcp system user in group mcp"
like "$(grep -A4 '"\$1" = purge' "$T/control/postrm" | paste -sd' ' -)" 'rm -rf /var/lib/mcpd /var/log/mcpd' \
	"postrm purge removes /var/lib/mcpd and /var/log/mcpd"

# Installed and purged in a throwaway root: an overlay of / (writes go to a
# tmpfs) in a mount namespace of its own, where dpkg runs chrooted; nothing
# reaches this host, and no systemd runs there (a tmpfs /run), so nothing starts.
cat >"$T/throwaway.sh" <<'SH'
set -eu
T=$1 deb=$2
m=$T/tw/merged
mkdir -p "$T/tw"
mount -t tmpfs tmpfs "$T/tw"
mkdir -p "$T/tw/up" "$T/tw/work" "$m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/tw/up,workdir=$T/tw/work" "$m"
mountpoint -q "$m" || { echo "no overlay"; exit 1; }
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
cp "$deb" "$m/tmp/mcpd.deb"
inroot() { chroot "$m" "$@"; }
say() { printf '%s=%s\n' "$1" "$2"; }
inroot getent passwd mcp >/dev/null && { echo "mcp exists before the install"; exit 1; }
inroot dpkg -i /tmp/mcpd.deb >"$T/dpkg-i.out" 2>&1 && say install ok || say install "failed: $(tail -n 5 "$T/dpkg-i.out")"
say user "$(inroot getent passwd mcp | cut -d: -f3,4,6,7)"
say group "$(inroot getent group mcp | cut -d: -f1,3)"
say state "$(inroot stat -c '%U:%G %a' /var/lib/mcpd)"
say logs "$(inroot stat -c '%U:%G %a' /var/log/mcpd)"
say conffile "$(inroot stat -c '%U:%G %a' /etc/mcpd/mcpd.yaml)"
say enabled "$(inroot sh -c 'ls /etc/systemd/system/multi-user.target.wants/mcpd.service /etc/systemd/system/sockets.target.wants/mcpd.socket' 2>&1 | xargs)"
say check "$(inroot /usr/sbin/mcpd -n -c /etc/mcpd/mcpd.yaml 2>&1 | head -n 1)"
say running "$(pgrep -f "^/usr/sbin/mcpd" | xargs)"
inroot dpkg --purge mcpd >"$T/dpkg-purge.out" 2>&1 && say purge ok || say purge "failed: $(tail -n 5 "$T/dpkg-purge.out")"
say left "$(inroot sh -c 'ls -d /etc/mcpd /var/lib/mcpd /var/log/mcpd /usr/sbin/mcpd /etc/systemd/system/multi-user.target.wants/mcpd.service 2>/dev/null' | xargs)"
say user_after "$(inroot getent passwd mcp | cut -d: -f1)"
SH
tw_value() { sed -n "s/^$1=//p" "$T/throwaway.out"; }
if ! grep -qw overlay /proc/filesystems; then
	skip "install and purge in a throwaway root" "no overlay file system"
elif ! unshare --mount --propagation private bash "$T/throwaway.sh" "$T" "$deb" >"$T/throwaway.out" 2>"$T/throwaway.err"; then
	not_ok "install and purge in a throwaway root" "$(cat "$T/throwaway.out" "$T/throwaway.err")"
else
	is "$(tw_value install)" ok "throwaway root: dpkg -i installs the package"
	like "$(tw_value user)" '^[0-9]+:[0-9]+:/nonexistent:/usr/sbin/nologin$' "the postinst created the mcp system user (no home, no shell)"
	uid=$(tw_value user)
	((${uid%%:*} < 1000)) && ok "mcp is a system user (uid ${uid%%:*})" || not_ok "mcp is a system user" "uid ${uid%%:*}"
	like "$(tw_value group)" '^mcp:[0-9]+$' "and the mcp group"
	is "$(tw_value state)" "root:root 750" "/var/lib/mcpd is root's, mode 0750"
	is "$(tw_value logs)" "root:adm 750" "/var/log/mcpd is root's, group adm, mode 0750"
	is "$(tw_value conffile)" "root:root 644" "/etc/mcpd/mcpd.yaml is installed"
	is "$(tw_value enabled)" "/etc/systemd/system/multi-user.target.wants/mcpd.service /etc/systemd/system/sockets.target.wants/mcpd.socket" \
		"mcpd.service and mcpd.socket are enabled"
	like "$(tw_value check)" 'valid' "mcpd -n accepts the conffile where the package is installed (its user mcp exists)"
	is "$(tw_value running)" "" "no mcpd was started (no systemd in the throwaway root)"
	is "$(tw_value purge)" ok "dpkg --purge removes it"
	is "$(tw_value left)" "" "purge leaves no /etc/mcpd, /var/lib/mcpd, /var/log/mcpd, program or enabled unit"
	is "$(tw_value user_after)" mcp "the mcp user stays after purge, as Debian keeps system users"
fi

# The .deb unpacked in a throwaway root: its programs run, its conffile is a
# valid manifest, its unit starts its mcpd.
root=$T/root
dpkg-deb -x "$deb" "$root"
unit=$(ls "$root"/lib/systemd/system/mcpd.service "$root"/usr/lib/systemd/system/mcpd.service 2>/dev/null | head -n 1)
is "$(grep '^ExecStart=' "$unit")" "ExecStart=/usr/sbin/mcpd -c /etc/mcpd/mcpd.yaml" "the unit starts /usr/sbin/mcpd on /etc/mcpd/mcpd.yaml"
is "$(grep '^ListenStream=' "${unit%.service}.socket")" "ListenStream=/run/mcpd/control.sock" "mcpd.socket listens on /run/mcpd/control.sock"
like "$("$root/usr/bin/mcpctl" version 2>&1)" "$(dpkg-deb -f "$deb" Version | sed 's/[.]/[.]/g')" "the packaged mcpctl runs and has the package's version"
checks_ok "the conffile /etc/mcpd/mcpd.yaml passes mcpctl check" "$root/etc/mcpd/mcpd.yaml" 0
# Its mcpd on its conffile (the control socket in $T): it starts, answers, stops.
MCPD=$root/usr/sbin/mcpd MCPCTL=$root/usr/bin/mcpctl
if start_mcpd "$root/etc/mcpd/mcpd.yaml"; then
	ok "the packaged mcpd runs the conffile"
	like "$(ctl status 2>&1)" 'health: ok' "and the packaged mcpctl talks to it"
	stop_mcpd
fi
done_testing
