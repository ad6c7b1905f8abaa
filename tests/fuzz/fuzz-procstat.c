/*
 * libFuzzer target: the /proc and cgroup parsers (mcpd/procstat.c) on
 * arbitrary bytes. A server names its own processes (comm), so a stat line is
 * partly its text; libFuzzer's buffer is exactly the input, so ASan sees any
 * read past it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "procstat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct procstat st;
	uint64_t v;
	size_t pos = 0;
	pid_t pid;
	int r, n = 0;

	if (procstat_parse_stat(buf, size, &st) == 0 && (st.pid < 0 || st.ppid < 0 || st.pgrp < 0))
		abort();	/* pids are 31 bits */
	procstat_parse_btime(buf, size, &v);
	procstat_parse_cpu_usage(buf, size, &v);
	procstat_parse_u64(buf, size, &v);
	procstat_has_controller(buf, size, "memory");
	/* Every call moves on: the walk ends within as many calls as there are bytes. */
	while ((r = procstat_next_pid(buf, size, &pos, &pid)) != 0) {
		if (pos > size || ++n > (int)size + 1 || (r > 0 && pid <= 0))
			abort();
	}
	return 0;
}
