# Shared by the benchmarks that run one mcpd at a time (metrics.sh, resources.sh):
# source it after setting build. Sets MCPD, MCPCTL, EXAMPLE and a work
# directory W; stop_mcpd stops the mcpd whose pid is in $pid; at exit that mcpd,
# every example server named "bench<PID>-…" and W are gone.
MCPD=$build/mcpd/mcpd
MCPCTL=$build/mcpctl/mcpctl
EXAMPLE=$build/examples/mcp-example-server
for f in "$MCPD" "$MCPCTL" "$EXAMPLE"; do
	[[ -x $f ]] || { echo "bench: $f is missing: run ./scripts/dev build first" >&2; exit 1; }
done
W=$(mktemp -d /tmp/mcpd-bench.XXXXXX)
pid=
stop_mcpd() {
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}
cleanup() {
	stop_mcpd
	pkill -KILL -f -- "--name bench$$-" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null
