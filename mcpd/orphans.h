/*
 * No orphan, no zombie: mcpd is a child subreaper, so a server's descendants
 * whose parent died are re-parented to mcpd instead of init, where mcpd can
 * still kill and reap them.
 */
#ifndef MCPD_ORPHANS_H
#define MCPD_ORPHANS_H

#include <stddef.h>
#include <sys/types.h>

/* prctl(PR_SET_CHILD_SUBREAPER); 0 or -errno. */
int orphans_become_subreaper(void);

/*
 * SIGKILL every live child of mcpd (from /proc/PID/stat) that is not one of
 * keep[] and not in the process group of one of keep[] (a running server's
 * own descendants are left to it): re-parented processes that escaped their
 * group or outlived their server. Zombies are left to the reaper. Returns how
 * many were signalled. Reads /proc without allocating per entry.
 */
int orphans_kill_strays(const pid_t *keep, size_t nkeep);

/* Signal the process group pgid (> 1), ignoring ESRCH; 0 or -errno. */
int kill_group(pid_t pgid, int sig);

#endif
