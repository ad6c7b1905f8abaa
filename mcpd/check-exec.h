/*
 * health.exec: run a check command beside a server without blocking the loop.
 * The command is spawned like the server (spawn.c: its environment with
 * env_file and secrets, user, group, cwd, limits; its own process group),
 * stdin closed, stdout and stderr captured into one bounded buffer, killed
 * with its group at the timeout, reaped by a child watcher. The values of the
 * server's secrets, read by a short-lived child (never on the loop), are
 * redacted from what it printed.
 */
#ifndef MCPD_CHECK_EXEC_H
#define MCPD_CHECK_EXEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct server;
struct check_exec;

#define CHECK_EXEC_KEEP		1024		/* bytes of output kept; the rest is read and discarded */
#define CHECK_EXEC_SECRETS_MAX	(256 * 1024)	/* secret values read for redaction */
#define CHECK_EXEC_DETAIL	200		/* the detail: the first line, cut */

/* The Nagios convention. */
enum check_exec_result {
	CHECK_EXEC_OK,		/* exit 0 */
	CHECK_EXEC_DEGRADED,	/* exit 1 */
	CHECK_EXEC_FAILED,	/* any other status, a signal, the timeout, or it could not start */
};

/* Called once, from the loop, when the command has ended and its output is read; x is freed after it returns. */
typedef void (*check_exec_done_fn)(struct server *s, enum check_exec_result result, const char *detail,
				   double duration_ms);

/*
 * Start s->conf.health.exec. Returns the running check, or NULL with a
 * reason in err when no process could be started.
 */
struct check_exec *check_exec_start(struct server *s, uint64_t timeout_ms, check_exec_done_fn done, char *err,
				    size_t errsize);

/* Kill it (its process group) and forget it: done is not called; the reaper of main.c reaps it. */
void check_exec_cancel(struct check_exec *x);

/* The command's pid (also its process group), 0 once reaped. */
pid_t check_exec_pid(const struct check_exec *x);

/*
 * The processes of every running check (its command and its secret reader),
 * into out (room for 2 per running check; check_exec_running() of them):
 * mcpd's own children, never strays. Returns how many it wrote.
 */
size_t check_exec_running(void);
size_t check_exec_pids(pid_t *out);

#endif
