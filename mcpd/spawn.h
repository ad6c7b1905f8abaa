/*
 * Starting one server process without blocking the event loop: fork (or, when
 * the child has nothing to read or look up, a vfork-style clone that shares
 * mcpd's memory until exec: see spawn.c), set the child up (clean signals, its cgroup, own process group, parent-death signal,
 * pipes on 0/1/2, no other fds, its environment with env_file and secrets,
 * user lookup, cwd, umask, limits, credentials) and exec. What may block
 * (files, NSS) happens in the child. Whether exec worked arrives later on a
 * status pipe, which the caller watches with libev.
 */
#ifndef MCPD_SPAWN_H
#define MCPD_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "manifest.h"

struct sandbox_plan;

struct spawn_req {
	const struct server_conf *conf;
	char **envp;			/* from childenv_build, or NULL: see base_environ */
	/*
	 * With envp NULL: the child builds its environment itself from this and
	 * conf (childenv_build), so that env_file and secrets are read in the
	 * child, never on mcpd's loop; a file that cannot be read fails the
	 * start through the status pipe (SPAWN_STAGE_ENV).
	 */
	char *const *base_environ;
	bool drop_privileges;		/* mcpd is root and conf->user/group are set */
	bool resolve_in_child;		/* the child calls spawn_resolve_user() (NSS may block) */
	uid_t uid;			/* resolved by spawn_resolve_user() when drop_privileges */
	gid_t gid;			/* and not resolve_in_child */
	gid_t *groups;
	size_t ngroups;
	bool join_cgroup;		/* the child writes itself into cgroup_fd (cgroup_open_procs) */
	int cgroup_fd;			/* -1: opened from cgroup_dir_fd when the child must join itself */
	/*
	 * With join_cgroup: cgroup_dir_fd is the cgroup's directory
	 * (cgroup_make_dir), and a vfork-style child is created in it
	 * (clone3 CLONE_INTO_CGROUP) instead of joining it itself.
	 */
	bool into_cgroup;
	int cgroup_dir_fd;
	bool subreaper;			/* the server's process adopts its orphans (no cgroups: strays stay attributable) */
	const struct sandbox_plan *sandbox;	/* sandbox.h; NULL: none */
	bool memory_by_cgroup;		/* limits.memory is the cgroup's memory.max: no RLIMIT_DATA (server-limits.c) */
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
	SPAWN_STAGE_CGROUP,		/* joining its cgroup */
	SPAWN_STAGE_ENV,		/* env_file or a secret: text says which and why */
	SPAWN_STAGE_USER,		/* user or group lookup: text says which and why */
	SPAWN_STAGE_WARNING,		/* not a failure: text is a warning to log; more records may follow */
	SPAWN_STAGE_SANDBOX,		/* setting up its sandbox: text says what and why */
};

#define SPAWN_TEXT_MAX 512

/*
 * Written by the child to the status pipe, each in one write (smaller than
 * PIPE_BUF): any number of SPAWN_STAGE_WARNING records, then at most one
 * failure; EOF without a failure means exec worked.
 */
struct spawn_failure {
	int stage;			/* enum spawn_stage */
	int err;			/* errno */
	int detail;			/* SPAWN_STAGE_RLIMIT: the RLIMIT_* resource; else 0 */
	char text[SPAWN_TEXT_MAX];	/* ENV, USER, WARNING: the message, NUL-terminated; never a secret */
};

/* "chdir", "setrlimit", "setgroups", "setgid", "setuid", "exec", "pdeathsig", "dup2", "setpgid", "cgroup", "env", "user", "warning", "sandbox". */
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
 * *groups is malloc'd, freed by the caller. Uses NSS, which may block (LDAP,
 * sssd): mcpd calls it in the forked child (resolve_in_child), never on its loop.
 * On failure returns -errno (-ESRCH for an unknown name) and a malloc'd
 * *ret_error such as `unknown user "mcp"`.
 */
int spawn_resolve_user(const struct server_conf *conf, uid_t *uid, gid_t *gid, gid_t **groups, size_t *ngroups,
		       char **ret_error);

/*
 * Fork (or clone(CLONE_VM|CLONE_VFORK): then this returns once the child has
 * exec'd or failed) and exec conf->command with envp (or the environment the
 * child builds, or spawn_start builds when no file is to be read). A command without '/' is looked up
 * in mcpd's own PATH (execvpe), not in the PATH of envp. Returns 0 and fills
 * *ret, or -errno when a pipe or the fork cannot be made (nothing leaks).
 */
int spawn_start(const struct spawn_req *req, struct spawn_result *ret);

#endif
