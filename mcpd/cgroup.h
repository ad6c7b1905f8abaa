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
#include <limits.h>
#include <stdint.h>

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

/*
 * Create (or reuse) server name's cgroup and open its directory
 * (O_RDONLY|O_DIRECTORY|O_CLOEXEC), for clone3's CLONE_INTO_CGROUP: an fd or
 * -errno. A spawn needs no more (cgroup_open_procs_in only if the kernel
 * refuses to create the child in it).
 */
int cgroup_make_dir(const char *name);

/* The cgroup.procs of a cgroup directory opened by cgroup_make_dir: an fd (O_WRONLY|O_CLOEXEC) or -errno. */
int cgroup_open_procs_in(int dir_fd);

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

/* What cgroup_sweep_stale found beside mcpd's own cgroups. */
struct cgroup_sweep {
	char dir[PATH_MAX];	/* where it looked: mcpd's own cgroup */
	unsigned removed;	/* empty trees of gone mcpd processes, removed */
	unsigned busy;		/* trees of gone mcpd processes that still hold processes: left */
	unsigned left;		/* empty ones beyond max, left for the next start */
	unsigned failed;	/* empty ones whose removal failed */
	char first_busy[64];	/* the first busy one's name */
};

/*
 * Remove the cgroups a killed mcpd left beside this one's (mcpd-PID, with
 * their server cgroups below), up to max of them: those whose PID is no live
 * mcpd (gone, or reused by a process not named mcpd) and that hold no
 * process. Trees that still hold processes (orphans of that mcpd) are left and
 * counted. Only in the mcpd-PID layout (not under systemd's delegation, whose
 * tree is reused). Blocking file system calls: before the loop starts.
 */
void cgroup_sweep_stale(unsigned max, struct cgroup_sweep *ret);

/* ---- controllers and limit files (server-limits.c) ---- */

enum cgroup_controller { CGROUP_MEMORY, CGROUP_CPU, CGROUP_PIDS, CGROUP_NCONTROLLERS };

/* "memory", "cpu", "pids". */
const char *cgroup_controller_name(enum cgroup_controller c);

#define CGROUP_WHY_MAX 512

/*
 * Enable the memory, cpu and pids controllers for the servers' cgroups, as far
 * as the hierarchy offers them: "+NAME" into cgroup.subtree_control of mcpd's
 * own cgroup (the servers' base's parent) and of the base. Sets on[c]; for a
 * controller left off, why[c] says why ("no memory controller in
 * /sys/fs/cgroup/unified (it is mounted as cgroup v1 at /sys/fs/cgroup/memory)").
 * Once, after cgroup_setup; with cgroups off, all are off with that reason.
 */
void cgroup_enable_controllers(bool on[CGROUP_NCONTROLLERS], char why[CGROUP_NCONTROLLERS][CGROUP_WHY_MAX]);

/* Write text into file of server name's cgroup (which exists): 0 or -errno. */
int cgroup_write(const char *name, const char *file, const char *text);

/* Read up to size-1 bytes of file of server name's cgroup, NUL-terminated: the length, or -errno. */
int cgroup_read(const char *name, const char *file, char *buf, size_t size);

/*
 * The value of key in text of "KEY VALUE" lines (memory.events): 0 and *ret,
 * -ENOENT when the key is absent, -ERANGE when the number does not fit.
 * Lines may be of any length; text need not end in a newline.
 */
int cgroup_keyed_get(const char *text, size_t len, const char *key, uint64_t *ret);

/* cpu.max's text for a quota in microseconds per period (UINT64_MAX: "max PERIOD"). */
void cgroup_cpu_max_text(uint64_t quota, uint64_t period, char *buf, size_t size);

/*
 * Whether memory.events (text) counts an OOM kill after kills_before (its
 * oom_kill at the start): true with buf "out of memory (limit LIMIT)" when the
 * cgroup reached its own limit (its oom count above ooms_before and limit not
 * NULL: the manifest's value as written), else "out of memory (the kernel's
 * OOM killer)". False when the text lacks oom_kill or it did not grow.
 */
bool cgroup_oom_since(const char *text, size_t len, uint64_t kills_before, uint64_t ooms_before, const char *limit,
		      char *buf, size_t size);

#endif
