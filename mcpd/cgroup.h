/*
 * One cgroup v2 per server, where a writable cgroup2 hierarchy exists: exact
 * membership of every descendant (double-forked and setsid()'d ones too),
 * killed at once with cgroup.kill. The tree:
 *
 *   under systemd with Delegate=yes   SERVICE/mcpd (mcpd and the guard), SERVICE/servers/NAME
 *   elsewhere, as root                OWN/mcpd-PID/NAME beside mcpd's own cgroup
 *
 * Without one, mcpd falls back to process groups (orphans.c). Nothing here
 * allocates after setup, so the guard and a forked child may call it.
 */
#ifndef MCPD_CGROUP_H
#define MCPD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Find the cgroup2 mount and mcpd's own cgroup, and create the subtree for
 * the servers; call once, before the guard is forked. Returns 0 with
 * *ret_desc like "one cgroup v2 per server under /sys/fs/cgroup/mcpd-42",
 * or -errno with *ret_desc saying why not (cgroups are then off). The
 * environment variable MCPD_CGROUPS=0 turns them off.
 */
int cgroup_setup(char **ret_desc);

bool cgroup_enabled(void);

/* The directory that holds one cgroup per server ("" when off). */
const char *cgroup_base(void);

/*
 * Create (or reuse) server name's cgroup and open its cgroup.procs for the
 * child to join: an fd (O_WRONLY|O_CLOEXEC) or -errno.
 */
int cgroup_open_procs(const char *name);

/* In the child after fork: move the calling process into the cgroup (async-signal-safe). */
int cgroup_join(int procs_fd);

/* SIGKILL every process of server name's cgroup (cgroup.kill, else one by one); 0 or -errno. */
int cgroup_kill(const char *name);

/* Remove server name's cgroup: 0, -EBUSY while a process is left, -errno. */
int cgroup_remove(const char *name);

/*
 * The guard's last act: kill every server cgroup under base, wait up to
 * timeout_ms for them to empty, then remove them and base. May sleep: never
 * call it on the loop.
 */
void cgroup_kill_tree(const char *base, unsigned timeout_ms);

/*
 * Open server name's cgroup directory (O_RDONLY|O_DIRECTORY|O_CLOEXEC) to
 * read its files with openat() and tell it from a recreated one by its inode:
 * an fd, or -errno (-ENOENT: it has none yet; -EOPNOTSUPP: cgroups are off).
 */
int cgroup_open_dir(const char *name);

#endif
