# Timing helpers shared by the benchmarks (status.sh, replicas.sh, scale.sh,
# metrics.sh, startup.sh, supervise.sh):
# source it. measure needs $pid, the mcpd whose CPU time it counts.
now_ns() { date +%s%N; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -n | awk '{a[NR]=$1} END {if (!NR) print "-"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Run CMD 20 times: "MEDIAN ms, mcpd X ms CPU/call" (end to end; mcpd's CPU from /proc, 10 ms ticks).
measure() {
	local t0 t1 c0 c1 med
	c0=$(ticks "$pid")
	med=$(for _ in $(seq 1 20); do
		t0=$(now_ns)
		"$@" >/dev/null 2>&1
		t1=$(now_ns)
		awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1000000}'
	done | median)
	c1=$(ticks "$pid")
	awk -v m="$med" -v d="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%s ms, mcpd %.1f ms CPU/call", m, d * 1000 / hz / 20}'
}
