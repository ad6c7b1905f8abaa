/*
 * Starting one server process without blocking the event loop: fork, set the
 * child up (clean signals, own process group, parent-death signal, pipes on
 * 0/1/2, no other fds, cwd, umask, limits, credentials) and exec. Whether exec
 * worked arrives later on a status pipe, which the caller watches with libev.
 */
#ifndef MCPD_SPAWN_H
#define MCPD_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "manifest.h"

struct spawn_req {
	const struct server_conf *conf;
	char **envp;			/* from childenv_build */
	bool drop_privileges;		/* mcpd is root and conf->user/group are set */
	uid_t uid;			/* resolved by spawn_resolve_user() when drop_privileges */
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
};

struct spawn_result {
	pid_t pid;			/* also the child's process group */
	int stdin_fd;			/* parent's end, O_NONBLOCK|O_CLOEXEC: write MCP messages here */
	int stdout_fd;			/* parent's end, O_NONBLOCK|O_CLOEXEC */
	int stderr_fd;			/* parent's end, O_NONBLOCK|O_CLOEXEC */
	int status_fd;			/* O_NONBLOCK|O_CLOEXEC: EOF = exec succeeded, else a struct spawn_failure */
};

enum spawn_stage {
	SPAWN_STAGE_CHDIR,
	SPAWN_STAGE_RLIMIT,
	SPAWN_STAGE_GROUPS,
	SPAWN_STAGE_SETGID,
	SPAWN_STAGE_SETUID,
	SPAWN_STAGE_EXEC,
	SPAWN_STAGE_PDEATHSIG,
	SPAWN_STAGE_DUP,
	SPAWN_STAGE_SETPGID,
};

/* Written by the child to the status pipe, in one write (smaller than PIPE_BUF). */
struct spawn_failure {
	int stage;			/* enum spawn_stage */
	int err;			/* errno */
	int detail;			/* SPAWN_STAGE_RLIMIT: the RLIMIT_* resource; else 0 */
};

/* "chdir", "setrlimit", "setgroups", "setgid", "setuid", "exec", "pdeathsig", "dup2", "setpgid". */
const char *spawn_stage_name(enum spawn_stage s);

/*
 * One line for the operator, naming what failed from conf, e.g.
 * `cannot execute "npx": No such file or directory (not found in PATH)` or
 * `cannot change directory to /srv: Permission denied`.
 */
void spawn_failure_format(const struct spawn_failure *f, const struct server_conf *conf, char *buf, size_t size);

/*
 * Resolve conf->user and conf->group (names or numeric ids) to the uid, gid and
 * supplementary groups the child will run with; the group defaults to the
 * user's primary group, the supplementary groups are the user's (getgrouplist).
 * With only a group, the uid is mcpd's and the only group is that one.
 * *groups is malloc'd, freed by the caller. Uses NSS: may block briefly.
 * On failure returns -errno (-ESRCH for an unknown name) and a malloc'd
 * *ret_error such as `unknown user "mcp"`.
 */
int spawn_resolve_user(const struct server_conf *conf, uid_t *uid, gid_t *gid, gid_t **groups, size_t *ngroups,
		       char **ret_error);

/*
 * Fork and exec conf->command with envp. A command without '/' is looked up
 * in mcpd's own PATH (execvpe), not in the PATH of envp. Returns 0 and fills
 * *ret, or -errno when a pipe or the fork cannot be made (nothing leaks).
 */
int spawn_start(const struct spawn_req *req, struct spawn_result *ret);

#endif
