/*
 * Parsers of the kernel's process accounting texts, pure (text in, values
 * out, nothing read here) so that each one is tested on hostile samples:
 * /proc/PID/stat, /proc/stat's btime, a cgroup's cpu.stat, memory.current and
 * cgroup.procs. Plus counting a process's open fds. Each parser takes the
 * text and its length (no NUL needed), refuses what it cannot read whole
 * (-EINVAL) and numbers that do not fit (-ERANGE), and never reads past len.
 */
#ifndef MCPD_PROCSTAT_H
#define MCPD_PROCSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The fields of /proc/PID/stat that mcpd uses. */
struct procstat {
	pid_t pid;
	char state;		/* R, S, D, Z, X, ... */
	pid_t ppid;
	pid_t pgrp;
	uint64_t utime, stime;	/* clock ticks (sysconf(_SC_CLK_TCK)) */
	uint64_t starttime;	/* clock ticks after boot */
	uint64_t vsize;		/* bytes */
	uint64_t rss;		/* pages */
};

/*
 * "PID (COMM) STATE PPID PGRP ... UTIME STIME ... STARTTIME VSIZE RSS ...":
 * COMM may hold anything, spaces and ')' included, so the fields start after
 * the last ')'. 0, -EINVAL (cut short, not numbers) or -ERANGE.
 */
int procstat_parse_stat(const char *buf, size_t len, struct procstat *ret);

/* The "btime SECONDS" line of /proc/stat: the boot time since the epoch. 0, -EINVAL, -ERANGE. */
int procstat_parse_btime(const char *buf, size_t len, uint64_t *ret);

/* The "usage_usec N" line of a cgroup v2 cpu.stat (cgroup2 always has it). 0, -EINVAL, -ERANGE. */
int procstat_parse_cpu_usage(const char *buf, size_t len, uint64_t *ret_usec);

/* One unsigned number and an optional newline, as in memory.current. 0, -EINVAL, -ERANGE. */
int procstat_parse_u64(const char *buf, size_t len, uint64_t *ret);

/* Whether a cgroup.controllers or cgroup.subtree_control list ("cpu io memory\n") names controller. */
bool procstat_has_controller(const char *buf, size_t len, const char *controller);

/*
 * The next pid of a list of pids one per line (cgroup.procs), from *pos on:
 * 1 with *ret_pid and *pos past it, 0 at the end, -EINVAL for a line that is
 * not a pid (*pos past that line, so the caller may go on).
 */
int procstat_next_pid(const char *buf, size_t len, size_t *pos, pid_t *ret_pid);

/* a + b, held at UINT64_MAX instead of wrapping. */
uint64_t procstat_add(uint64_t a, uint64_t b);

/*
 * The open fds of a process, from /proc/PID/fd (pid 0: mcpd itself): its
 * size where the kernel reports the count there (Linux 6.2), else its entries
 * counted. Returns the count or -errno (-EACCES: another user's process).
 */
long procstat_count_fds(pid_t pid);

/* The entries of a directory, "." and ".." not counted: the count or -errno. */
long procstat_count_dir(const char *path);

#endif
