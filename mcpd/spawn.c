/* Starting one server process: see spawn.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(__SANITIZE_ADDRESS__)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

#include "cgroup.h"
#include "sandbox.h"
#include "childenv.h"
#include "spawn.h"
#include "xmalloc.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	size_t offset;			/* in struct limits_conf */
	int resource;
	const char *name;		/* as in the manifest */
} limit_table[] = {
	{ offsetof(struct limits_conf, nofile), RLIMIT_NOFILE, "nofile" },
	{ offsetof(struct limits_conf, nproc), RLIMIT_NPROC, "nproc" },
	{ offsetof(struct limits_conf, memory), RLIMIT_DATA, "memory" },
	{ offsetof(struct limits_conf, core), RLIMIT_CORE, "core" },
	{ offsetof(struct limits_conf, stack), RLIMIT_STACK, "stack" },
	{ offsetof(struct limits_conf, cpu_time), RLIMIT_CPU, "cpu_time" },
};

static const struct limit_conf *limit_of(const struct server_conf *conf, size_t i)
{
	return (const struct limit_conf *)((const char *)&conf->limits + limit_table[i].offset);
}

static const char *const stage_names[] = {
	[SPAWN_STAGE_CHDIR] = "chdir",
	[SPAWN_STAGE_RLIMIT] = "setrlimit",
	[SPAWN_STAGE_GROUPS] = "setgroups",
	[SPAWN_STAGE_SETGID] = "setgid",
	[SPAWN_STAGE_SETUID] = "setuid",
	[SPAWN_STAGE_EXEC] = "exec",
	[SPAWN_STAGE_PDEATHSIG] = "pdeathsig",
	[SPAWN_STAGE_DUP] = "dup2",
	[SPAWN_STAGE_SETPGID] = "setpgid",
	[SPAWN_STAGE_CGROUP] = "cgroup",
	[SPAWN_STAGE_ENV] = "env",
	[SPAWN_STAGE_USER] = "user",
	[SPAWN_STAGE_WARNING] = "warning",
	[SPAWN_STAGE_SANDBOX] = "sandbox",
};

const char *spawn_stage_name(enum spawn_stage s)
{
	if ((unsigned)s >= NELEM(stage_names) || !stage_names[s])
		return "unknown";
	return stage_names[s];
}

/* ---- messages ------------------------------------------------------------- */

void spawn_failure_format(const struct spawn_failure *f, const struct server_conf *conf, char *buf, size_t size)
{
	const char *prog = conf->command && conf->command[0] ? conf->command[0] : "?";
	const char *err = strerror(f->err);

	switch (f->stage) {
	case SPAWN_STAGE_EXEC: {
		const char *hint = "";

		if (f->err == ENOENT && !strchr(prog, '/'))
			hint = " (not found in PATH)";
		else if (f->err == ENOENT && prog[0] == '/' && access(prog, F_OK) == 0)
			hint = " (the program exists: its #! interpreter or its loader is missing)";
		snprintf(buf, size, "cannot execute \"%s\": %s%s", prog, err, hint);
		break;
	}
	case SPAWN_STAGE_CHDIR:
		snprintf(buf, size, "cannot change directory to %s: %s", conf->cwd ? conf->cwd : "?", err);
		break;
	case SPAWN_STAGE_RLIMIT: {
		const char *name = "?";
		char value[32] = "?";

		for (size_t i = 0; i < NELEM(limit_table); i++) {
			if (limit_table[i].resource == f->detail) {
				uint64_t v = limit_of(conf, i)->value;

				name = limit_table[i].name;
				if (v == UINT64_MAX)
					snprintf(value, sizeof(value), "unlimited");
				else
					snprintf(value, sizeof(value), "%llu", (unsigned long long)v);
				break;
			}
		}
		snprintf(buf, size, "cannot set resource limit %s to %s: %s", name, value, err);
		break;
	}
	case SPAWN_STAGE_GROUPS:
		if (conf->user)
			snprintf(buf, size, "cannot set the supplementary groups of user \"%s\": %s", conf->user, err);
		else
			snprintf(buf, size, "cannot set the supplementary groups to group \"%s\": %s",
				 conf->group ? conf->group : "?", err);
		break;
	case SPAWN_STAGE_SETGID:
		if (conf->group)
			snprintf(buf, size, "cannot change group to \"%s\": %s", conf->group, err);
		else
			snprintf(buf, size, "cannot change to the group of user \"%s\": %s",
				 conf->user ? conf->user : "?", err);
		break;
	case SPAWN_STAGE_SETUID:
		if (f->detail)
			snprintf(buf, size, "changed user to \"%s\" but could still become root: refusing to run",
				 conf->user ? conf->user : "?");
		else
			snprintf(buf, size, "cannot change user to \"%s\": %s", conf->user ? conf->user : "?", err);
		break;
	case SPAWN_STAGE_PDEATHSIG:
		snprintf(buf, size, "cannot set the parent-death signal: %s", err);
		break;
	case SPAWN_STAGE_DUP:
		snprintf(buf, size, "cannot set up standard input and output: %s", err);
		break;
	case SPAWN_STAGE_SETPGID:
		snprintf(buf, size, "cannot create a process group: %s", err);
		break;
	case SPAWN_STAGE_CGROUP:
		snprintf(buf, size, "cannot join its cgroup: %s", err);
		break;
	case SPAWN_STAGE_ENV:
	case SPAWN_STAGE_USER:
	case SPAWN_STAGE_WARNING:
		snprintf(buf, size, "%.*s", (int)strnlen(f->text, sizeof(f->text)), f->text);
		break;
	case SPAWN_STAGE_SANDBOX:
		snprintf(buf, size, "sandbox: %.*s", (int)strnlen(f->text, sizeof(f->text)), f->text);
		break;
	default:
		snprintf(buf, size, "cannot start \"%s\" (stage %d): %s", prog, f->stage, err);
		break;
	}
}

/* ---- users and groups ----------------------------------------------------- */

static bool parse_id(const char *s, unsigned *ret)
{
	unsigned long long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned)(*s - '0');
		if (v >= UINT32_MAX)		/* (uid_t)-1 means "unchanged" to set*id() */
			return false;
	}
	*ret = (unsigned)v;
	return true;
}

/* getpw*()/getgr*() return NULL with one of these errnos, or 0, for "no such entry". */
static int lookup_error(const char *kind, const char *name, int err, char **ret_error)
{
	if (err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM) {
		xasprintf(ret_error, "unknown %s \"%s\"", kind, name);
		return -ESRCH;
	}
	xasprintf(ret_error, "cannot look up %s \"%s\": %s", kind, name, strerror(err));
	return -err;
}

static int user_groups(const char *user, gid_t gid, gid_t **ret, size_t *ret_n, char **ret_error)
{
	int n = 32;
	gid_t *list = NULL;

	for (;;) {
		int m = n;

		list = xreallocarray(list, (size_t)n, sizeof(*list));
		if (getgrouplist(user, gid, list, &m) >= 0) {
			*ret = list;
			*ret_n = (size_t)m;
			return 0;
		}
		if (n >= NGROUPS_MAX) {
			free(list);
			xasprintf(ret_error, "user \"%s\" is in more than %d groups", user, NGROUPS_MAX);
			return -E2BIG;
		}
		n = m > n ? m : n * 2;
		if (n > NGROUPS_MAX)
			n = NGROUPS_MAX;
	}
}

int spawn_resolve_user(const struct server_conf *conf, uid_t *uid, gid_t *gid, gid_t **groups, size_t *ngroups,
		       char **ret_error)
{
	char *user_name = NULL;
	uid_t u = geteuid();
	gid_t g = getegid();
	bool have_gid = false;
	unsigned id;
	int r;

	*groups = NULL;
	*ngroups = 0;
	if (conf->user) {
		struct passwd *pw;

		errno = 0;
		if (parse_id(conf->user, &id)) {
			u = (uid_t)id;
			pw = getpwuid(u);	/* optional: a bare uid may have no entry */
		} else {
			pw = getpwnam(conf->user);
			if (!pw)
				return lookup_error("user", conf->user, errno, ret_error);
			u = pw->pw_uid;
		}
		if (pw) {
			g = pw->pw_gid;
			have_gid = true;
			user_name = xstrdup(pw->pw_name);
		}
	}
	if (conf->group) {
		if (parse_id(conf->group, &id)) {
			g = (gid_t)id;
		} else {
			struct group *gr;

			errno = 0;
			gr = getgrnam(conf->group);
			if (!gr) {
				free(user_name);
				return lookup_error("group", conf->group, errno, ret_error);
			}
			g = gr->gr_gid;
		}
		have_gid = true;
	}
	if (!have_gid) {
		xasprintf(ret_error, "user %s has no entry in the user database: set \"group\" as well", conf->user);
		return -ESRCH;
	}
	if (user_name) {
		r = user_groups(user_name, g, groups, ngroups, ret_error);
		free(user_name);
		if (r < 0)
			return r;
	} else {
		*groups = xmalloc(sizeof(**groups));
		(*groups)[0] = g;
		*ngroups = 1;
	}
	*uid = u;
	*gid = g;
	return 0;
}

/* ---- the child ------------------------------------------------------------ */

/*
 * Everything the child needs, computed before the child is made. In it, no
 * stdio; malloc only in a forked child, for the work moved off mcpd's loop
 * (environment files, NSS, the sandbox's set-up), which glibc's fork() makes
 * safe there. A vfork-style child (spawn_start) shares mcpd's memory until it
 * execs: it allocates nothing, changes nothing of mcpd's but errno, and makes
 * set-id calls as raw system calls (glibc's would signal mcpd's other threads
 * to change their credentials too).
 */
struct plan {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int umask;
	struct rlimit rl[NELEM(limit_table)];
	int resource[NELEM(limit_table)];
	size_t nrl;
	bool drop;
	bool resolve;			/* resolve the user in the child */
	const struct server_conf *conf;
	char *const *base_environ;	/* build the environment in the child */
	bool join_cgroup;
	int cgroup_fd;			/* -errno: it could not be opened */
	bool own_cgroup_fd;		/* opened by spawn_start (plan_cgroup_fd): closed there */
	bool subreaper;
	const struct sandbox_plan *sandbox;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
	pid_t parent;
	int in, out, err, status;	/* the child's ends, all >= 3 */
	volatile bool ran;		/* set by a vfork-style child, in mcpd's memory: it ran at all */
	unsigned max_fd;		/* for closing fds without close_range */
};

static void child_report(const struct plan *p, int stage, int err, int detail, const char *text)
{
	struct spawn_failure f = { .stage = stage, .err = err, .detail = detail };
	ssize_t n;

	if (text)
		snprintf(f.text, sizeof(f.text), "%s", text);
	do
		n = write(p->status, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
}

static void __attribute__((noreturn)) child_fail(const struct plan *p, int stage, int err, int detail)
{
	child_report(p, stage, err, detail, NULL);
	_exit(127);
}

static void __attribute__((noreturn)) child_fail_text(const struct plan *p, int stage, int err, const char *text)
{
	child_report(p, stage, err, 0, text);
	_exit(127);
}

/* The work that may block (file reads, NSS) happens here, in the child, not on mcpd's loop. */
static void child_prepare(struct plan *p)
{
	if (p->base_environ) {
		struct childenv env;
		char *error = NULL;
		int r = childenv_build(p->conf, p->base_environ, &env, &error);

		if (r < 0)
			child_fail_text(p, SPAWN_STAGE_ENV, -r, error ? error : strerror(-r));
		if (env.warnings)
			child_report(p, SPAWN_STAGE_WARNING, 0, 0, env.warnings);
		p->envp = env.envp;	/* exec or _exit follows: never freed */
	}
	if (p->drop && p->resolve) {
		gid_t *groups = NULL;
		size_t ngroups = 0;
		char *error = NULL;
		int r = spawn_resolve_user(p->conf, &p->uid, &p->gid, &groups, &ngroups, &error);

		if (r < 0)
			child_fail_text(p, SPAWN_STAGE_USER, -r, error ? error : strerror(-r));
		p->groups = groups;
		p->ngroups = ngroups;
	}
}

/* PR_SET_PDEATHSIG, then make sure the parent did not die before it took effect. */
static void child_pdeathsig(const struct plan *p)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(p, SPAWN_STAGE_PDEATHSIG, errno, 0);
	if (getppid() != p->parent)
		_exit(127);
}

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/*
 * Every fd but stdio and the status pipe is closed at exec: marked
 * close-on-exec here (Linux 5.11), not closed, so that the exec closes them
 * after it released mcpd's memory, while mcpd no longer waits for this child
 * (at 1000 servers, 4000 fds closed one by one held mcpd's loop for as long
 * on every spawn). Older kernels: closed here.
 */
static void child_close_fds(const struct plan *p)
{
#ifdef SYS_close_range
	unsigned keep = (unsigned)p->status;

	for (unsigned flags = CLOSE_RANGE_CLOEXEC;; flags = 0) {
		if ((keep == 3 || syscall(SYS_close_range, 3U, keep - 1, flags) == 0) &&
		    syscall(SYS_close_range, keep + 1, ~0U, flags) == 0)
			return;
		if (flags == 0)
			break;
	}
#endif
	for (unsigned fd = 3; fd < p->max_fd; fd++)
		if ((int)fd != p->status)
			close((int)fd);
}

/* The kernel's struct sigaction (the generic layout of x86-64, arm64 and others). */
struct kernel_sigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

static void reset_signal(int sig)
{
	struct kernel_sigaction k = { .handler = SIG_DFL };

	syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask));
}

/*
 * The rlimits; memory (RLIMIT_DATA) apart, last before exec, as lowering it
 * needs no privilege: the others may be raised above mcpd's own while the
 * child is still root.
 */
static void child_set_limits(const struct plan *p, bool memory)
{
	for (size_t i = 0; i < p->nrl; i++) {
		if ((p->resource[i] == RLIMIT_DATA) != memory)
			continue;
		if (setrlimit(p->resource[i], &p->rl[i]) < 0)
			child_fail(p, SPAWN_STAGE_RLIMIT, errno, p->resource[i]);
	}
}

/* The process's own credentials only: glibc's wrappers would change those of every thread of mcpd too. */
#ifdef SYS_setgroups32
#define SYS_SETGROUPS SYS_setgroups32
#define SYS_SETGID SYS_setgid32
#define SYS_SETUID SYS_setuid32
#else
#define SYS_SETGROUPS SYS_setgroups
#define SYS_SETGID SYS_setgid
#define SYS_SETUID SYS_setuid
#endif

static void __attribute__((noreturn)) child(struct plan *p)
{
	unsigned long none = 0;

	/*
	 * Dispositions first, while every signal is still blocked (spawn_start
	 * blocked them). Straight to the kernel: glibc refuses its reserved
	 * signals (32, 33), and a sanitizer's sigaction keeps state of its own,
	 * which a vfork-style child shares with mcpd.
	 */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			reset_signal(sig);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none));

	/* First: whatever it forks from now on, setsid()'d or not, is counted as the server's. */
	if (p->join_cgroup) {
		int r = p->cgroup_fd < 0 ? p->cgroup_fd : cgroup_join(p->cgroup_fd);

		if (r < 0)
			child_fail(p, SPAWN_STAGE_CGROUP, -r, 0);
	}
	if (setpgid(0, 0) < 0)
		child_fail(p, SPAWN_STAGE_SETPGID, errno, 0);
	child_pdeathsig(p);
	/* Kept across exec: orphans of the server stay its children, not mcpd's, until it exits. */
	if (p->subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1);

	if (dup2(p->in, STDIN_FILENO) < 0 || dup2(p->out, STDOUT_FILENO) < 0 || dup2(p->err, STDERR_FILENO) < 0)
		child_fail(p, SPAWN_STAGE_DUP, errno, 0);
	child_close_fds(p);		/* the status pipe stays, until exec closes it */
	child_prepare(p);

	if (p->cwd && chdir(p->cwd) < 0)
		child_fail(p, SPAWN_STAGE_CHDIR, errno, 0);
	if (p->umask >= 0)
		umask((mode_t)p->umask);
	child_set_limits(p, false);

	if (p->sandbox) {
		char why[SPAWN_TEXT_MAX];
		int r = sandbox_child_privileged(p->sandbox, why, sizeof(why));

		if (r < 0)
			child_fail_text(p, SPAWN_STAGE_SANDBOX, -r, why);
	}
	if (p->drop) {
		if (syscall(SYS_SETGROUPS, p->ngroups, p->groups) < 0)
			child_fail(p, SPAWN_STAGE_GROUPS, errno, 0);
		if (syscall(SYS_SETGID, p->gid) < 0)
			child_fail(p, SPAWN_STAGE_SETGID, errno, 0);
		if (syscall(SYS_SETUID, p->uid) < 0)
			child_fail(p, SPAWN_STAGE_SETUID, errno, 0);
		if (p->uid != 0 && syscall(SYS_SETUID, 0) == 0)
			child_fail(p, SPAWN_STAGE_SETUID, EPERM, 1);
		/* Changing credentials clears the parent-death signal: set it again. */
		child_pdeathsig(p);
	}
	/* Last: no_new_privs, Landlock and filters bind what runs from here on, exec included. */
	if (p->sandbox) {
		char why[SPAWN_TEXT_MAX];
		int r = sandbox_child_restrict(p->sandbox, why, sizeof(why));

		if (r < 0)
			child_fail_text(p, SPAWN_STAGE_SANDBOX, -r, why);
	}
	/* The sandbox's set-up allocates: the memory limit comes after it (an ASan build cannot allocate under it). */
	child_set_limits(p, true);

	execvpe(p->argv[0], p->argv, p->envp);
	child_fail(p, SPAWN_STAGE_EXEC, errno, 0);
}

/* ---- the parent ----------------------------------------------------------- */

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* A CLOEXEC pipe whose ends are >= 3, so that dup2() onto 0, 1, 2 in the child never clobbers one. */
static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0) {
		fds[0] = fds[1] = -1;
		return -errno;
	}
	for (int i = 0; i < 2; i++) {
		if (fds[i] < 3) {
			int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			int r = -errno;

			close(fds[i]);
			fds[i] = fd;
			if (fd < 0) {
				close_pair(fds);
				return r;
			}
		}
	}
	return 0;
}

static int set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void plan_init(struct plan *p, const struct spawn_req *req)
{
	const struct server_conf *c = req->conf;
	struct rlimit nofile;

	*p = (struct plan){
		.argv = c->command,
		.envp = req->envp,
		.cwd = c->cwd,
		.umask = c->umask,
		.drop = req->drop_privileges,
		.resolve = req->resolve_in_child,
		.conf = c,
		.base_environ = req->envp ? NULL : req->base_environ,
		.join_cgroup = req->join_cgroup,
		.cgroup_fd = req->cgroup_fd,
		.sandbox = req->sandbox,
		.subreaper = req->subreaper,
		.uid = req->uid,
		.gid = req->gid,
		.groups = req->groups,
		.ngroups = req->ngroups,
		.parent = getpid(),
		.max_fd = 1024,
	};
	for (size_t i = 0; i < NELEM(limit_table); i++) {
		const struct limit_conf *l = limit_of(c, i);

		if (!l->set)
			continue;
		/* The server's cgroup bounds the sum of its processes' memory: no limit per process. */
		if (limit_table[i].resource == RLIMIT_DATA && req->memory_by_cgroup)
			continue;
		p->rl[p->nrl].rlim_cur = p->rl[p->nrl].rlim_max =
			l->value == UINT64_MAX ? RLIM_INFINITY : (rlim_t)l->value;
		p->resource[p->nrl++] = limit_table[i].resource;
	}
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
		p->max_fd = nofile.rlim_cur > INT_MAX ? INT_MAX : (unsigned)nofile.rlim_cur;
}

/*
 * The stack of a vfork-style child, on spawn_start's own (its thread is
 * suspended meanwhile): enough for the child's frames, snprintf and execvpe's
 * copy of a PATH entry, sanitizers' redzones included.
 */
#define CHILD_STACK (128 * 1024)

static int child_main(void *arg)
{
	struct plan *p = arg;

	p->ran = true;
	child(p);
}

#if defined(__x86_64__) && defined(SYS_clone3)
/* struct clone_args of <linux/sched.h> up to cgroup (CLONE_ARGS_SIZE_VER2), without its header's clashes with glibc's. */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define CLONE3_INTO_CGROUP 0x200000000ULL

/*
 * clone3(CLONE_VM|CLONE_VFORK|CLONE_INTO_CGROUP): the kernel creates the child
 * in its cgroup. Joining it from the child (a write to cgroup.procs) waits for
 * an RCU grace period when no other process moved lately, some 5 to 20 ms
 * that mcpd, waiting for a vfork-style child, would wait too (a restart after
 * a crash). glibc 2.36 has no clone3 wrapper, and a child on a stack of its
 * own cannot return from syscall(): it calls fn(arg) here, as glibc's
 * clone3.S does. Returns the pid, or -errno (the caller then clones as before).
 */
static long clone3_vfork(struct clone3_args *args, int (*fn)(void *), void *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register int (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;

	__asm__ __volatile__("syscall\n\t"
			     "testq %%rax, %%rax\n\t"
			     "jnz 1f\n\t"
			     /* The child: rsp is the top of its stack (aligned), fn never returns. */
			     "xorl %%ebp, %%ebp\n\t"
			     "movq %%r13, %%rdi\n\t"
			     "callq *%%r12\n\t"
			     "movl %%eax, %%edi\n\t"
			     "movl %[nr_exit], %%eax\n\t"
			     "syscall\n\t"
			     "hlt\n"
			     "1:"
			     : "+r"(rax)
			     : "D"(args), "S"(sizeof(*args)), "r"(r12), "r"(r13), [nr_exit] "i"(SYS_exit)
			     : "rcx", "r11", "memory", "cc");
	return rax;
}
#endif

/*
 * The cgroup.procs a child that joins its cgroup itself writes to: the
 * caller's, else opened now from the cgroup's directory (a spawn with
 * CLONE_INTO_CGROUP needs none: one open and close less per spawn).
 */
static void plan_cgroup_fd(struct plan *p, const struct spawn_req *req)
{
	if (!p->join_cgroup || p->cgroup_fd >= 0 || p->own_cgroup_fd)
		return;
	p->cgroup_fd = req->cgroup_dir_fd >= 0 ? cgroup_open_procs_in(req->cgroup_dir_fd) : -EBADF;
	p->own_cgroup_fd = p->cgroup_fd >= 0;
}

/* A vfork-style child on child_stack: in its cgroup from the start where the kernel can (see clone3_vfork). */
static pid_t clone_vfork(const struct spawn_req *req, struct plan *p, char *stack, size_t size)
{
#if defined(__x86_64__) && defined(SYS_clone3)
	if (p->join_cgroup && req->into_cgroup) {
		struct clone3_args a = {
			.flags = CLONE_VM | CLONE_VFORK | CLONE3_INTO_CGROUP,
			.exit_signal = SIGCHLD,
			.stack = (uintptr_t)stack,
			.stack_size = size,
			.cgroup = (uint64_t)req->cgroup_dir_fd,
		};
		long pid;

		p->join_cgroup = false;
		p->ran = false;
		pid = clone3_vfork(&a, child_main, p);
		if (pid > 0 && p->ran)
			return (pid_t)pid;
		/*
		 * Killed before it ran: Linux (6.18 at least) SIGKILLs a child
		 * created into a cgroup that once had a cgroup.kill. Reap it
		 * (it never was a server's process) and start it the old way.
		 */
		if (pid > 0)
			while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
				;
		/* Older kernel, or the cgroup refused: the child joins it itself, and says why it cannot. */
		p->join_cgroup = true;
	}
#endif
	plan_cgroup_fd(p, req);
	return clone(child_main, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, p);
}

/*
 * Whether the child does work that mcpd must not wait for, or that touches
 * memory a vfork-style child would share with mcpd: then fork() as before.
 * NSS (user, group) may block for seconds (LDAP, sssd) and keeps open files
 * and caches in process memory; env_file and secrets are file reads that may
 * block; the sandbox's set-up resolves paths, reads directories, allocates
 * (libseccomp, its list of hidden paths) and mounts. Otherwise (the common
 * case) clone(CLONE_VM|CLONE_VFORK): no copy of mcpd's page tables and no
 * copy-on-write faults afterwards, which were most of mcpd's CPU time when it
 * started 1000 servers (bench/scale.sh). MCPD_SPAWN=fork forces fork() (to
 * compare).
 */
static bool child_needs_fork(const struct spawn_req *req)
{
	static int forced = -1;

	if (forced < 0) {
		const char *v = getenv("MCPD_SPAWN");

		forced = v && strcmp(v, "fork") == 0;
	}
	if (forced || req->sandbox || (req->drop_privileges && req->resolve_in_child))
		return true;
	return !req->envp && req->base_environ && (req->conf->env_file || req->conf->secrets.n > 0);
}

int spawn_start(const struct spawn_req *req, struct spawn_result *ret)
{
	static char *const empty_env[] = { NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, status[2] = { -1, -1 };
	_Alignas(64) char child_stack[CHILD_STACK];
	struct childenv env = { 0 };
	sigset_t all, old;
	struct plan p;
	bool vfork;
	pid_t pid;
	int r;

	if (!req->conf->command || !req->conf->command[0])
		return -EINVAL;
	plan_init(&p, req);
	if (!p.envp)
		p.envp = empty_env;
	if ((r = make_pipe(in)) < 0 || (r = make_pipe(out)) < 0 || (r = make_pipe(err)) < 0 ||
	    (r = make_pipe(status)) < 0)
		goto fail;
	/* Only the parent's ends are non-blocking: the child's stdio stays ordinary. */
	if ((r = set_nonblock(in[1])) < 0 || (r = set_nonblock(out[0])) < 0 || (r = set_nonblock(err[0])) < 0 ||
	    (r = set_nonblock(status[0])) < 0)
		goto fail;
	p.in = in[0];
	p.out = out[1];
	p.err = err[1];
	p.status = status[1];

	/* The environment without files to read: built here, so that the child need not allocate. */
	vfork = !child_needs_fork(req);
	if (vfork && p.base_environ) {
		char *error = NULL;

		if ((r = childenv_build(req->conf, p.base_environ, &env, &error)) < 0) {
			free(error);	/* no file to read: only an impossible failure */
			goto fail;
		}
		p.envp = env.envp;
		p.base_environ = NULL;
	}

	/* No handler of mcpd's (libev's) may run in the child before it resets them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if (vfork) {
		/* mcpd's thread waits until the child has exec'd or exited: the child's stack may be ours. */
		pid = clone_vfork(req, &p, child_stack, sizeof(child_stack));
		r = pid < 0 ? -errno : 0;	/* errno is the child's after a success: not ours to read */
#ifdef __SANITIZE_ADDRESS__
		/* The child's frames poisoned parts of its stack in ASan's shadow: our frames come there next. */
		ASAN_UNPOISON_MEMORY_REGION(child_stack, sizeof(child_stack));
#endif
	} else {
		plan_cgroup_fd(&p, req);
		pid = fork();
		if (pid == 0)
			child(&p);
		r = -errno;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (p.own_cgroup_fd)
		close(p.cgroup_fd);
	childenv_free(&env);
	if (pid < 0)
		goto fail;

	/* Also here: the group must exist before the caller may signal it, whoever runs first. */
	setpgid(pid, pid);	/* EACCES once the child has exec'd, ESRCH once gone: both fine */
	close(in[0]);
	close(out[1]);
	close(err[1]);
	close(status[1]);
	*ret = (struct spawn_result){
		.pid = pid,
		.stdin_fd = in[1],
		.stdout_fd = out[0],
		.stderr_fd = err[0],
		.status_fd = status[0],
	};
	return 0;

fail:
	close_pair(in);
	close_pair(out);
	close_pair(err);
	close_pair(status);
	return r;
}
