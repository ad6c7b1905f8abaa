#!/bin/bash
# make install into a staging directory: programs, man pages, units with this
# build's paths, the example manifest and the bash completion land where the
# README says.
set -u
. "$(dirname "$0")/lib.sh"

var() { sed -n "s/^$1 = //p" "$top_builddir/Makefile" | head -n 1; }
prefix=$(var prefix)
if ! make -s -C "$top_builddir" install DESTDIR="$T/root" >"$T/install.out" 2>&1; then
	not_ok "make install DESTDIR=..." "$(tail -n 20 "$T/install.out")"
	done_testing
	exit 1
fi
ok "make install DESTDIR=... succeeds"
root=$T/root$prefix
check "mcpd is installed in sbin" test -x "$root/sbin/mcpd"
check "mcpctl is installed in bin" test -x "$root/bin/mcpctl"
check "the three man pages are installed" test -f "$root/share/man/man8/mcpd.8" -a -f "$root/share/man/man1/mcpctl.1" \
	-a -f "$root/share/man/man5/mcpd.yaml.5"
check "the example manifest is installed" test -f "$root/share/doc/mcpd/examples/production.yaml"
check "the bash completion is installed under the command's name" test -f "$root/share/bash-completion/completions/mcpctl"
unit=$(find "$T/root" -name mcpd.service | head -n 1)
check "mcpd.service is installed" test -n "$unit"
if [[ -n $unit ]]; then
	like "$(grep '^ExecStart=' "$unit")" "^ExecStart=$prefix/sbin/mcpd -c " "the unit starts the mcpd this prefix installs"
	like "$(grep '^ExecReload=' "$unit")" "^ExecReload=$prefix/bin/mcpctl reload$" "and reloads with its mcpctl"
	grep -q '@[a-z]*@' "$unit" && not_ok "no placeholder is left in the unit" "$(grep '@' "$unit")" ||
		ok "no placeholder is left in the unit"
fi
socket=$(find "$T/root" -name mcpd.socket | head -n 1)
like "$(grep '^ListenStream=' "${socket:-/dev/null}")" "^ListenStream=$(var runstatedir)/mcpd/control.sock$" \
	"mcpd.socket listens where mcpd and mcpctl look by default"
done_testing
