/*
 * The guard: a tiny process forked at start that outlives mcpd only to kill
 * what mcpd leaves behind. PR_SET_PDEATHSIG reaches a server's first process
 * only; when mcpd is killed with SIGKILL (or exits), the guard sees its pipe
 * close, SIGKILLs every process group mcpd had told it about and every
 * server's cgroup (cgroup.h: setsid()'d descendants included), and removes
 * the cgroups. mcpd never waits on it: a message it cannot take at once is
 * dropped and counted.
 */
#ifndef MCPD_GUARD_H
#define MCPD_GUARD_H

#include <sys/types.h>

/* Fork the guard; -errno on failure (mcpd runs on, with pdeathsig only). */
int guard_start(void);

/* A process group appeared (spawn) or is gone (reaped). */
void guard_add(pid_t pgid);
void guard_remove(pid_t pgid);

/* The guard's pid (0 if none): it is mcpd's child but no server's. */
pid_t guard_pid(void);

/* Normal exit: the guard is told nothing is left and waited for. */
void guard_stop(void);

#endif
