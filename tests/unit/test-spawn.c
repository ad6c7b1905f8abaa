/*
 * Unit tests of spawning, process groups and orphans, with real processes.
 * Every wait is bounded (poll on a pidfd or a pipe, with a timeout), and every
 * test reaps what it started and checks that it leaked no fd.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "manifest.h"
#include "orphans.h"
#include "spawn.h"
#include "xmalloc.h"

extern char **environ;

#define TIMEOUT_MS 2000

/* A name that fools a parser which looks for the first ')' in /proc/PID/stat. */
#define TRICKY_NAME "x) R 1 1"

static char tmpdir[64];

/* Process groups started by the running test: killed by cleanup() even when an assertion failed. */
static pid_t started[16];
static size_t nstarted;

/* ---- helpers -------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(long long deadline)
{
	long long left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void conf_cmd(struct server_conf *c, const char *const *argv)
{
	size_t n = 0;

	server_conf_init_defaults(c);
	c->name = xstrdup("test");
	while (argv[n])
		n++;
	c->command = xcalloc(n + 1, sizeof(*c->command));
	for (size_t i = 0; i < n; i++)
		c->command[i] = xstrdup(argv[i]);
	c->argc = n;
}

static void spawn_ok(const struct server_conf *c, struct spawn_result *res)
{
	struct spawn_req req = { .conf = c, .envp = environ };

	assert_int_equal(spawn_start(&req, res), 0);
	assert_true(res->pid > 0);
	assert_true(nstarted < sizeof(started) / sizeof(started[0]));
	started[nstarted++] = res->pid;
}

static void close_result(struct spawn_result *res)
{
	close(res->stdin_fd);
	close(res->stdout_fd);
	close(res->stderr_fd);
	close(res->status_fd);
}

/* Wait for pid to end, at most timeout_ms: poll on a pidfd, or waitpid in short polls without one. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status = -1;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		assert_int_equal(r, 0);
		if (remaining(deadline) == 0) {
			print_error("process %d did not exit within %d ms\n", (int)pid, timeout_ms);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			if (pidfd >= 0)
				close(pidfd);
			fail();
		}
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			poll(&pfd, 1, remaining(deadline));
		} else {
			poll(NULL, 0, 5);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return status;
}

static void assert_exit_code(int status, int code)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), code);
}

static void assert_killed(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* Read from a non-blocking fd until buf holds want (or until EOF when want is NULL). */
static size_t read_until(int fd, char *buf, size_t size, const char *want)
{
	long long deadline = now_ms() + TIMEOUT_MS;
	size_t len = 0;

	buf[0] = '\0';
	while (!want || !strstr(buf, want)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, remaining(deadline)) == 0) {
			print_error("timed out reading: have \"%s\", want \"%s\"\n", buf, want ? want : "EOF");
			fail();
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		assert_true(len < size - 1);
	}
	return len;
}

/* 0: EOF, exec succeeded; 1: *f says why it failed. */
static int read_status(int fd, struct spawn_failure *f)
{
	char buf[sizeof(*f) + 1];
	size_t len = 0;
	long long deadline = now_ms() + TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_int_not_equal(poll(&pfd, 1, remaining(deadline)), 0);
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == 0)
		return 0;
	assert_int_equal(len, sizeof(*f));
	memcpy(f, buf, sizeof(*f));
	return 1;
}

/* Spawn argv (with conf tweaks already in c) and return its whole stdout; the exit code must be 0. */
static void run_capture(struct server_conf *c, char *out, size_t size)
{
	struct spawn_result res;
	struct spawn_failure f;

	spawn_ok(c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	read_until(res.stdout_fd, out, size, NULL);
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);
	close_result(&res);
}

struct proc {
	pid_t pid, ppid, pgrp;
	char state;
};

static bool proc_stat(pid_t pid, struct proc *p)
{
	char path[64], buf[1024], *s;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	if (!ok || !(s = strrchr(buf, ')')))
		return false;
	p->pid = pid;
	return sscanf(s + 1, " %c %d %d", &p->state, &p->ppid, &p->pgrp) == 3;
}

/* Live (not zombie) processes matching: in group pgrp (> 0), or children of ppid (> 0). */
static int count_procs(pid_t pgrp, pid_t ppid, pid_t *first, pid_t except)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct proc p;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == except || !proc_stat(pid, &p) || p.state == 'Z' || p.state == 'X')
			continue;
		if ((pgrp > 0 && p.pgrp != pgrp) || (ppid > 0 && p.ppid != ppid))
			continue;
		if (n++ == 0 && first)
			*first = pid;
	}
	closedir(d);
	return n;
}

/* Wait until at least n live processes match (see count_procs). */
static pid_t wait_procs(pid_t pgrp, pid_t ppid, int n, pid_t except)
{
	long long deadline = now_ms() + TIMEOUT_MS;
	pid_t first = 0;

	while (count_procs(pgrp, ppid, &first, except) < n) {
		if (remaining(deadline) == 0) {
			print_error("fewer than %d processes appeared\n", n);
			fail();
		}
		poll(NULL, 0, 2);
	}
	return first;
}

/* Wait until no live process is left in group pgrp, reaping those that are ours. */
static void wait_group_gone(pid_t pgrp)
{
	long long deadline = now_ms() + TIMEOUT_MS;

	for (;;) {
		while (waitpid(-pgrp, NULL, WNOHANG) > 0)
			;
		if (count_procs(pgrp, 0, NULL, 0) == 0)
			break;
		if (remaining(deadline) == 0) {
			print_error("process group %d is still alive\n", (int)pgrp);
			kill(-pgrp, SIGKILL);
			fail();
		}
		poll(NULL, 0, 2);
	}
}

static bool proc_comm_is(pid_t pid, const char *comm)
{
	char path[64], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strcmp(buf, comm) == 0;
}

static char *tricky_program(void)
{
	char *p;

	xasprintf(&p, "%s/%s", tmpdir, TRICKY_NAME);
	return p;
}

/* ---- spawning ------------------------------------------------------------- */

static void test_stdio(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c", "echo out; echo err >&2; read x; echo got $x", NULL };
	int fds = fd_count();
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	char buf[256];

	conf_cmd(&c, argv);
	spawn_ok(&c, &res);
	for (int *fd = &res.stdin_fd; fd <= &res.status_fd; fd++) {
		assert_true(fcntl(*fd, F_GETFD) & FD_CLOEXEC);
		assert_true(fcntl(*fd, F_GETFL) & O_NONBLOCK);
	}
	assert_int_equal(read_status(res.status_fd, &f), 0);
	read_until(res.stdout_fd, buf, sizeof(buf), "out\n");
	assert_string_equal(buf, "out\n");
	read_until(res.stderr_fd, buf, sizeof(buf), "err\n");
	assert_string_equal(buf, "err\n");
	assert_int_equal(write(res.stdin_fd, "hello\n", 6), 6);
	read_until(res.stdout_fd, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "got hello\n");
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);
	close_result(&res);
	server_conf_release(&c);
	assert_int_equal(fd_count(), fds);
}

static void test_exec_failure(void **state)
{
	static const struct {
		const char *prog;
		const char *want;
	} cases[] = {
		{ "/nonexistent/prog", "cannot execute \"/nonexistent/prog\": No such file or directory" },
		{ "mcpd-no-such-program", "cannot execute \"mcpd-no-such-program\": No such file or directory "
					  "(not found in PATH)" },
	};
	int fds = fd_count();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[] = { cases[i].prog, "arg", NULL };
		struct server_conf c;
		struct spawn_result res;
		struct spawn_failure f;
		char msg[256];

		conf_cmd(&c, argv);
		spawn_ok(&c, &res);
		assert_int_equal(read_status(res.status_fd, &f), 1);
		assert_int_equal(f.stage, SPAWN_STAGE_EXEC);
		assert_int_equal(f.err, ENOENT);
		spawn_failure_format(&f, &c, msg, sizeof(msg));
		assert_string_equal(msg, cases[i].want);
		assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 127);
		close_result(&res);
		server_conf_release(&c);
	}
	assert_int_equal(fd_count(), fds);
}

static void test_chdir_failure(void **state)
{
	static const char *const argv[] = { "/bin/true", NULL };
	int fds = fd_count();
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	char msg[256];

	conf_cmd(&c, argv);
	c.cwd = xstrdup("/nonexistent/dir");
	spawn_ok(&c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 1);
	assert_int_equal(f.stage, SPAWN_STAGE_CHDIR);
	assert_int_equal(f.err, ENOENT);
	spawn_failure_format(&f, &c, msg, sizeof(msg));
	assert_string_equal(msg, "cannot change directory to /nonexistent/dir: No such file or directory");
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 127);
	close_result(&res);
	server_conf_release(&c);
	assert_int_equal(fd_count(), fds);
}

/* The child reads env_file and looks the user up itself; a failure comes back as text on the status pipe. */
static void child_fails(struct server_conf *c, bool drop, int want_stage, const char *want)
{
	struct spawn_req req = { .conf = c, .base_environ = environ, .drop_privileges = drop, .resolve_in_child = drop };
	struct spawn_result res;
	struct spawn_failure f;
	char msg[SPAWN_TEXT_MAX];

	assert_int_equal(spawn_start(&req, &res), 0);
	assert_true(nstarted < sizeof(started) / sizeof(started[0]));
	started[nstarted++] = res.pid;
	assert_int_equal(read_status(res.status_fd, &f), 1);
	assert_int_equal(f.stage, want_stage);
	spawn_failure_format(&f, c, msg, sizeof(msg));
	assert_string_equal(msg, want);
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 127);
	close_result(&res);
}

static void test_child_prepares(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c", "printf %s \"$FROM_FILE\"", NULL };
	char path[] = "/tmp/test-spawn-env.XXXXXX", out[256];
	struct server_conf c;
	int fd;

	conf_cmd(&c, argv);
	c.env_file = xstrdup("/nonexistent/x.env");
	child_fails(&c, false, SPAWN_STAGE_ENV, "cannot read env_file /nonexistent/x.env: No such file or directory");

	/* Read in the child: the variable arrives although mcpd never built the environment. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "FROM_FILE=yes\n", 14), 14);
	close(fd);
	free(c.env_file);
	c.env_file = xstrdup(path);
	{
		struct spawn_req req = { .conf = &c, .base_environ = environ };
		struct spawn_result res;
		struct spawn_failure f;

		assert_int_equal(spawn_start(&req, &res), 0);
		started[nstarted++] = res.pid;
		assert_int_equal(read_status(res.status_fd, &f), 0);
		read_until(res.stdout_fd, out, sizeof(out), NULL);
		assert_string_equal(out, "yes");
		assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);
		close_result(&res);
	}
	unlink(path);
	free(c.env_file);
	c.env_file = NULL;

	if (geteuid() == 0) {
		c.user = xstrdup("no-such-user-test-spawn");
		child_fails(&c, true, SPAWN_STAGE_USER, "unknown user \"no-such-user-test-spawn\"");
	}
	server_conf_release(&c);
}

/*
 * Pages written by the parent after spawning `sh -c 'test -n "$PATH"'`: how
 * many of them faulted. A fork() write-protects all of the parent's memory
 * (copy-on-write): every page written afterwards faults, even once the child
 * has exec'd. A vfork-style spawn shares the memory and protects nothing.
 */
static long faults_after_spawn(const struct spawn_req *req)
{
	const size_t size = 64u << 20, page = (size_t)sysconf(_SC_PAGESIZE);
	volatile char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rusage before, after;
	struct spawn_result res;
	struct spawn_failure f;

	assert_true(buf != MAP_FAILED);
	madvise((void *)buf, size, MADV_NOHUGEPAGE);	/* one fault per page, not per 2 MiB */
	for (size_t i = 0; i < size; i += page)
		buf[i] = 1;
	assert_int_equal(spawn_start(req, &res), 0);
	started[nstarted++] = res.pid;
	getrusage(RUSAGE_SELF, &before);
	for (size_t i = 0; i < size; i += page)
		buf[i] = 2;
	getrusage(RUSAGE_SELF, &after);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);	/* the environment it built had PATH */
	close_result(&res);
	munmap((void *)buf, size);
	return after.ru_minflt - before.ru_minflt;
}

static void test_no_copy_on_write(void **state)
{
	static const char *const argv[] = { "/bin/sh", "-c", "test -n \"$PATH\"", NULL };
	const long pages = (long)((64u << 20) / (size_t)sysconf(_SC_PAGESIZE));
	char path[] = "/tmp/test-spawn-env.XXXXXX";
	struct server_conf c;
	struct spawn_req req = { .conf = &c, .base_environ = environ };
	long faults;
	int fd;

	conf_cmd(&c, argv);
	/* Nothing the child must read or look up: a vfork-style spawn, the environment built by the parent. */
	faults = faults_after_spawn(&req);
	if (faults > pages / 16)
		print_error("%ld of %ld pages faulted after a spawn that needs no fork\n", faults, pages);
	assert_true(faults <= pages / 16);

	/* An env_file is read by the child (it may block): fork(), and its copy-on-write faults. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "FROM_FILE=yes\n", 14), 14);
	close(fd);
	c.env_file = xstrdup(path);
	faults = faults_after_spawn(&req);
	unlink(path);
	if (faults < pages)
		print_error("only %ld of %ld pages faulted after a fork\n", faults, pages);
	assert_true(faults >= pages);
	server_conf_release(&c);
}

static void test_cwd_umask_limits(void **state)
{
	static const char *const argv[] = { "sh", "-c", "pwd; umask; ulimit -n; ulimit -c", NULL };
	int fds = fd_count();
	struct server_conf c;
	struct rlimit rl;
	char out[256];

	conf_cmd(&c, argv);
	c.cwd = xstrdup(tmpdir);
	c.umask = 027;
	c.limits.nofile = (struct limit_conf){ .set = true, .value = 64 };
	c.limits.core = (struct limit_conf){ .set = true, .value = 0 };
	run_capture(&c, out, sizeof(out));
	{
		char *want;

		xasprintf(&want, "%s\n0027\n64\n0\n", tmpdir);
		assert_string_equal(out, want);
		free(want);
	}

	/* "unlimited" is RLIM_INFINITY (which only root may set when the hard limit is lower). */
	c.limits = (struct limits_conf){ .cpu_time = { .set = true, .value = UINT64_MAX } };
	free(c.command[2]);
	c.command[2] = xstrdup("ulimit -t");
	if (getrlimit(RLIMIT_CPU, &rl) == 0 && (rl.rlim_max == RLIM_INFINITY || geteuid() == 0)) {
		run_capture(&c, out, sizeof(out));
		assert_string_equal(out, "unlimited\n");
	}
	server_conf_release(&c);
	assert_int_equal(fd_count(), fds);
}

static void test_limit_failure(void **state)
{
	static const char *const argv[] = { "/bin/true", NULL };
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	char msg[256];

	/* Above the hard limit and above what even root may raise it to (fs.nr_open). */
	conf_cmd(&c, argv);
	c.limits.nofile = (struct limit_conf){ .set = true, .value = (uint64_t)1 << 40 };
	spawn_ok(&c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 1);
	assert_int_equal(f.stage, SPAWN_STAGE_RLIMIT);
	spawn_failure_format(&f, &c, msg, sizeof(msg));
	{
		char *want;

		xasprintf(&want, "cannot set resource limit nofile to 1099511627776: %s", strerror(f.err));
		assert_string_equal(msg, want);
		free(want);
	}
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 127);
	close_result(&res);
	server_conf_release(&c);
}

static void test_failure_messages(void **state)
{
	static const char *const argv[] = { "npx", NULL };
	static const struct {
		struct spawn_failure f;
		const char *want;
	} cases[] = {
		{ { .stage = SPAWN_STAGE_EXEC, .err = ENOENT, .detail = 0 }, "cannot execute \"npx\": No such file or directory (not found in PATH)" },
		{ { .stage = SPAWN_STAGE_EXEC, .err = EACCES, .detail = 0 }, "cannot execute \"npx\": Permission denied" },
		{ { .stage = SPAWN_STAGE_CHDIR, .err = EACCES, .detail = 0 }, "cannot change directory to /srv: Permission denied" },
		{ { .stage = SPAWN_STAGE_RLIMIT, .err = EPERM, .detail = RLIMIT_DATA }, "cannot set resource limit memory to unlimited: "
							     "Operation not permitted" },
		{ { .stage = SPAWN_STAGE_GROUPS, .err = EPERM, .detail = 0 }, "cannot set the supplementary groups of user \"mcp\": "
						     "Operation not permitted" },
		{ { .stage = SPAWN_STAGE_SETGID, .err = EPERM, .detail = 0 }, "cannot change group to \"mcpg\": Operation not permitted" },
		{ { .stage = SPAWN_STAGE_SETUID, .err = EAGAIN, .detail = 0 }, "cannot change user to \"mcp\": Resource temporarily unavailable" },
		{ { .stage = SPAWN_STAGE_SETUID, .err = EPERM, .detail = 1 }, "changed user to \"mcp\" but could still become root: refusing to run" },
		{ { .stage = SPAWN_STAGE_PDEATHSIG, .err = EINVAL, .detail = 0 }, "cannot set the parent-death signal: Invalid argument" },
		{ { .stage = SPAWN_STAGE_DUP, .err = EBADF, .detail = 0 }, "cannot set up standard input and output: Bad file descriptor" },
		{ { .stage = SPAWN_STAGE_SETPGID, .err = EPERM, .detail = 0 }, "cannot create a process group: Operation not permitted" },
		{ { .stage = SPAWN_STAGE_CGROUP, .err = EACCES, .detail = 0 }, "cannot join its cgroup: Permission denied" },
		{ { .stage = SPAWN_STAGE_ENV, .err = ENOENT, .text = "cannot read env_file /x.env: No such file or directory" },
		  "cannot read env_file /x.env: No such file or directory" },
		{ { .stage = SPAWN_STAGE_USER, .err = ESRCH, .text = "unknown user \"mcp\"" }, "unknown user \"mcp\"" },
	};
	struct server_conf c;
	char msg[256];

	conf_cmd(&c, argv);
	c.cwd = xstrdup("/srv");
	c.user = xstrdup("mcp");
	c.group = xstrdup("mcpg");
	c.limits.memory = (struct limit_conf){ .set = true, .value = UINT64_MAX };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spawn_failure_format(&cases[i].f, &c, msg, sizeof(msg));
		assert_string_equal(msg, cases[i].want);
	}
	/* Truncated, never overflowing. */
	spawn_failure_format(&cases[0].f, &c, msg, 10);
	assert_string_equal(msg, "cannot ex");
	assert_string_equal(spawn_stage_name(SPAWN_STAGE_CHDIR), "chdir");
	assert_string_equal(spawn_stage_name(SPAWN_STAGE_RLIMIT), "setrlimit");
	assert_string_equal(spawn_stage_name(SPAWN_STAGE_EXEC), "exec");
	assert_string_equal(spawn_stage_name((enum spawn_stage)99), "unknown");
	server_conf_release(&c);
}

/* Own group, empty signal mask, default dispositions, only fds 0-2: whatever mcpd's state was. */
static void test_clean_child(void **state)
{
	static const char *const argv[] = { "sleep", "100", NULL };
	int fds = fd_count();
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	sigset_t term, old;
	char path[64], line[256];
	bool blk = false, ign = false;
	long long deadline;
	int leaked;
	FILE *st;
	DIR *d;
	struct dirent *de;

	/* What mcpd does: signals blocked (libev), SIGPIPE ignored, an fd open without CLOEXEC. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	leaked = open("/dev/null", O_RDONLY);
	assert_true(leaked >= 0);

	conf_cmd(&c, argv);
	spawn_ok(&c, &res);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	close(leaked);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	assert_int_equal(getpgid(res.pid), res.pid);
	assert_int_not_equal(getpgid(res.pid), getpgid(0));

	snprintf(path, sizeof(path), "/proc/%d/status", (int)res.pid);
	st = fopen(path, "re");
	assert_non_null(st);
	while (fgets(line, sizeof(line), st)) {
		if (strncmp(line, "SigBlk:", 7) == 0) {
			assert_string_equal(line, "SigBlk:\t0000000000000000\n");
			blk = true;
		} else if (strncmp(line, "SigIgn:", 7) == 0) {
			assert_string_equal(line, "SigIgn:\t0000000000000000\n");
			ign = true;
		}
	}
	fclose(st);
	assert_true(blk && ign);

	/* Exactly 0, 1, 2: retried for a moment, since sleep may still be opening its locale files. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)res.pid);
	deadline = now_ms() + TIMEOUT_MS;
	for (;;) {
		bool only_stdio = true;
		int nfd = 0;

		d = opendir(path);
		assert_non_null(d);
		while ((de = readdir(d))) {
			if (de->d_name[0] != '.') {
				only_stdio = only_stdio && atoi(de->d_name) <= 2;
				nfd++;
			}
		}
		closedir(d);
		if (only_stdio && nfd == 3)
			break;
		if (remaining(deadline) == 0) {
			print_error("the child has %d fds, not only 0, 1 and 2\n", nfd);
			fail();
		}
		poll(NULL, 0, 2);
	}

	assert_int_equal(kill_group(res.pid, SIGKILL), 0);
	assert_killed(wait_exit(res.pid, TIMEOUT_MS));
	close_result(&res);
	server_conf_release(&c);
	assert_int_equal(fd_count(), fds);
}

/* ---- user and group ------------------------------------------------------- */

static void resolve_fails(const char *user, const char *group, const char *want)
{
	struct server_conf c;
	uid_t uid;
	gid_t gid;
	gid_t *groups = (gid_t *)1;
	size_t ngroups = 1;
	char *error = NULL;

	server_conf_init_defaults(&c);
	c.user = user ? xstrdup(user) : NULL;
	c.group = group ? xstrdup(group) : NULL;
	assert_int_equal(spawn_resolve_user(&c, &uid, &gid, &groups, &ngroups, &error), -ESRCH);
	assert_non_null(error);
	assert_string_equal(error, want);
	assert_null(groups);
	assert_int_equal(ngroups, 0);
	free(error);
	server_conf_release(&c);
}

static void test_resolve_user(void **state)
{
	struct server_conf c;
	uid_t uid = 1;
	gid_t gid = 1;
	gid_t *groups = NULL;
	size_t ngroups = 0;
	char *error = NULL;

	resolve_fails("mcpd-no-such-user", NULL, "unknown user \"mcpd-no-such-user\"");
	resolve_fails("root", "mcpd-no-such-group", "unknown group \"mcpd-no-such-group\"");
	resolve_fails("4000000", NULL, "user 4000000 has no entry in the user database: set \"group\" as well");

	server_conf_init_defaults(&c);
	c.user = xstrdup("root");
	assert_int_equal(spawn_resolve_user(&c, &uid, &gid, &groups, &ngroups, &error), 0);
	assert_null(error);
	assert_int_equal(uid, 0);
	assert_int_equal(gid, 0);
	assert_true(ngroups >= 1);
	assert_int_equal(groups[0], 0);
	free(groups);

	/* Numeric ids need no entry when the group is given too. */
	free(c.user);
	c.user = xstrdup("4000000");
	c.group = xstrdup("4000001");
	assert_int_equal(spawn_resolve_user(&c, &uid, &gid, &groups, &ngroups, &error), 0);
	assert_int_equal(uid, 4000000);
	assert_int_equal(gid, 4000001);
	assert_int_equal(ngroups, 1);
	assert_int_equal(groups[0], 4000001);
	free(groups);
	server_conf_release(&c);
}

static void test_drop_privileges(void **state)
{
	static const char *const argv[] = { "sh", "-c", "id -u; id -g; id -G", NULL };
	struct spawn_req req = { .envp = environ, .drop_privileges = true };
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	char *error = NULL, out[256];

	if (geteuid() != 0 || !getpwnam("nobody")) {
		skip();
		return;
	}
	conf_cmd(&c, argv);
	c.user = xstrdup("nobody");
	req.conf = &c;
	assert_int_equal(spawn_resolve_user(&c, &req.uid, &req.gid, &req.groups, &req.ngroups, &error), 0);
	assert_int_equal(spawn_start(&req, &res), 0);
	started[nstarted++] = res.pid;
	free(req.groups);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	read_until(res.stdout_fd, out, sizeof(out), NULL);
	{
		char *want;
		struct passwd *pw = getpwnam("nobody");

		xasprintf(&want, "%u\n%u\n%u\n", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, (unsigned)pw->pw_gid);
		assert_string_equal(out, want);
		free(want);
	}
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);
	close_result(&res);
	server_conf_release(&c);
}

/* ---- groups and orphans --------------------------------------------------- */

static void test_kill_group(void **state)
{
	static const char *const argv[] = { "sh", "-c", "sleep 100 & sleep 100", NULL };
	int fds = fd_count();
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;

	assert_int_equal(kill_group(0, SIGKILL), -EINVAL);
	assert_int_equal(kill_group(1, SIGKILL), -EINVAL);
	assert_int_equal(kill_group(-5, SIGKILL), -EINVAL);

	conf_cmd(&c, argv);
	spawn_ok(&c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	wait_procs(res.pid, 0, 2, 0);	/* sh (or the sleep it became) and a sleep */
	assert_int_equal(kill_group(res.pid, SIGKILL), 0);
	assert_killed(wait_exit(res.pid, TIMEOUT_MS));
	wait_group_gone(res.pid);
	assert_int_equal(kill_group(res.pid, SIGKILL), 0);	/* ESRCH is not an error */
	close_result(&res);
	server_conf_release(&c);
	assert_int_equal(fd_count(), fds);
}

/* A grandchild escapes the group with setsid and is orphaned: it comes to us and is killed. */
static void test_orphans_kill_strays(void **state)
{
	char *prog = tricky_program();
	const char *argv[] = { "sh", "-c", "setsid \"$0\" 100 & exit 0", prog, NULL };
	int fds = fd_count();
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	long long deadline;
	pid_t stray;

	assert_int_equal(orphans_become_subreaper(), 0);
	conf_cmd(&c, argv);
	spawn_ok(&c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);

	stray = wait_procs(0, getpid(), 1, 0);
	deadline = now_ms() + TIMEOUT_MS;
	while (!proc_comm_is(stray, TRICKY_NAME)) {
		assert_int_not_equal(remaining(deadline), 0);
		poll(NULL, 0, 2);
	}
	assert_int_not_equal(getpgid(stray), res.pid);		/* it escaped the group */
	assert_int_equal(orphans_kill_strays(NULL, 0), 1);
	assert_killed(wait_exit(stray, TIMEOUT_MS));
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);	/* no other child, no zombie */
	assert_int_equal(errno, ECHILD);
	assert_int_equal(orphans_kill_strays(NULL, 0), 0);

	close_result(&res);
	server_conf_release(&c);
	free(prog);
	assert_int_equal(fd_count(), fds);
}

/* Lines of a small file (pids in cgroup.procs), -1 if it cannot be read. */
static int count_lines(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC), lines = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return n < 0 ? -1 : lines;
}

/* A server joins its cgroup before exec; a setsid()'d descendant stays in it, and cgroup.kill takes both. */
static void test_cgroup(void **state)
{
	const char *argv[] = { "sh", "-c", "(setsid sleep 100 &) ; exec sleep 100", NULL };
	char *desc = NULL, base[PATH_MAX], procs[PATH_MAX + 32];
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	long long deadline;
	int fd;

	if (cgroup_setup(&desc) < 0) {
		print_message("no cgroup v2: %s\n", desc);
		free(desc);
		skip();
	}
	free(desc);
	snprintf(base, sizeof(base), "%s", cgroup_base());
	snprintf(procs, sizeof(procs), "%s/unit/cgroup.procs", base);
	fd = cgroup_open_procs("unit");
	assert_true(fd >= 0);
	conf_cmd(&c, argv);
	{
		struct spawn_req req = { .conf = &c, .envp = environ, .join_cgroup = true, .cgroup_fd = fd };

		assert_int_equal(spawn_start(&req, &res), 0);
	}
	close(fd);
	started[nstarted++] = res.pid;
	assert_int_equal(read_status(res.status_fd, &f), 0);
	/* The subshell exits: the setsid()'d sleep and the server's own sleep are left, both in the cgroup. */
	deadline = now_ms() + TIMEOUT_MS;
	while (count_lines(procs) != 2) {
		assert_int_not_equal(remaining(deadline), 0);
		poll(NULL, 0, 5);
	}
	assert_int_equal(cgroup_remove("unit"), -EBUSY);
	assert_int_equal(cgroup_kill("unit"), 0);
	assert_killed(wait_exit(res.pid, TIMEOUT_MS));
	deadline = now_ms() + TIMEOUT_MS;
	while (count_lines(procs) != 0) {
		assert_int_not_equal(remaining(deadline), 0);
		poll(NULL, 0, 5);
	}
	close_result(&res);

	/*
	 * Created into the cgroup (clone3 CLONE_INTO_CGROUP), although it had a
	 * cgroup.kill: Linux 6.18 SIGKILLs such a child before it runs, and
	 * spawn_start then starts it the way it did before.
	 */
	{
		static const char *const argv2[] = { "sh", "-c", "read x; echo \"got $x\"; exit 3", NULL };
		struct server_conf c2;
		struct spawn_req req = { .conf = &c2, .envp = environ, .join_cgroup = true, .into_cgroup = true };
		char out[64];

		conf_cmd(&c2, argv2);
		req.cgroup_fd = cgroup_open_procs("unit");
		req.cgroup_dir_fd = cgroup_open_dir("unit");
		assert_true(req.cgroup_fd >= 0 && req.cgroup_dir_fd >= 0);
		assert_int_equal(spawn_start(&req, &res), 0);
		close(req.cgroup_fd);
		close(req.cgroup_dir_fd);
		started[nstarted++] = res.pid;
		assert_int_equal(read_status(res.status_fd, &f), 0);
		assert_int_equal(count_lines(procs), 1);
		assert_int_equal(write(res.stdin_fd, "in\n", 3), 3);
		read_until(res.stdout_fd, out, sizeof(out), "got in\n");
		assert_string_equal(out, "got in\n");
		assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 3);
		server_conf_release(&c2);
	}
	deadline = now_ms() + TIMEOUT_MS;
	while (count_lines(procs) != 0) {
		assert_int_not_equal(remaining(deadline), 0);
		poll(NULL, 0, 5);
	}
	assert_int_equal(cgroup_remove("unit"), 0);
	assert_int_equal(cgroup_kill("unit"), 0);	/* gone: nothing to do */
	cgroup_kill_tree(base, 1000);
	assert_int_equal(access(base, F_OK), -1);
	close_result(&res);
	server_conf_release(&c);
}

/* A running server's re-parented descendants in its own group are left alone. */
static void test_orphans_keep(void **state)
{
	char *prog = tricky_program();
	const char *argv[] = { "sh", "-c", "sh -c '\"$0\" 100 &' \"$0\"; exec sleep 100", prog, NULL };
	int fds = fd_count();
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	pid_t orphan;

	assert_int_equal(orphans_become_subreaper(), 0);
	conf_cmd(&c, argv);
	spawn_ok(&c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	orphan = wait_procs(res.pid, getpid(), 1, res.pid);
	assert_int_equal(getpgid(orphan), res.pid);

	assert_int_equal(orphans_kill_strays(&res.pid, 1), 0);
	assert_int_equal(kill(orphan, 0), 0);
	assert_int_equal(kill(res.pid, 0), 0);

	assert_int_equal(kill_group(res.pid, SIGKILL), 0);
	assert_killed(wait_exit(res.pid, TIMEOUT_MS));
	assert_killed(wait_exit(orphan, TIMEOUT_MS));
	wait_group_gone(res.pid);
	close_result(&res);
	server_conf_release(&c);
	free(prog);
	assert_int_equal(fd_count(), fds);
}

/* A zombie child is the reaper's business: neither signalled nor counted. */
static void test_orphans_zombie(void **state)
{
	static const char *const argv[] = { "/bin/true", NULL };
	long long deadline = now_ms() + TIMEOUT_MS;
	struct server_conf c;
	struct spawn_result res;
	struct spawn_failure f;
	siginfo_t si;

	conf_cmd(&c, argv);
	spawn_ok(&c, &res);
	assert_int_equal(read_status(res.status_fd, &f), 0);
	for (;;) {
		memset(&si, 0, sizeof(si));
		assert_int_equal(waitid(P_PID, (id_t)res.pid, &si, WEXITED | WNOWAIT | WNOHANG), 0);
		if (si.si_pid == res.pid)
			break;
		assert_int_not_equal(remaining(deadline), 0);
		poll(NULL, 0, 2);
	}
	assert_int_equal(orphans_kill_strays(NULL, 0), 0);
	assert_exit_code(wait_exit(res.pid, TIMEOUT_MS), 0);
	close_result(&res);
	server_conf_release(&c);
}

/* ---- fixtures ------------------------------------------------------------- */

/* After every test: nothing it started may outlive it, whether it passed or not. */
static int cleanup(void **state)
{
	long long deadline = now_ms() + TIMEOUT_MS;

	for (size_t i = 0; i < nstarted; i++)
		kill_group(started[i], SIGKILL);
	nstarted = 0;
	for (;;) {
		pid_t r = waitpid(-1, NULL, WNOHANG);

		if (r < 0)
			return 0;	/* ECHILD: no child left */
		if (r == 0) {
			orphans_kill_strays(NULL, 0);
			if (remaining(deadline) == 0) {
				print_error("children are still running after the test\n");
				return -1;
			}
			poll(NULL, 0, 2);
		}
	}
}

static int setup(void **state)
{
	char *prog;
	int r;

	/* spawn_start() searches our PATH: make "not found" not depend on the caller's. */
	if (setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1) < 0)
		return -1;
	/* Whatever a failed test leaves behind comes back to us, for cleanup() to kill. */
	if (orphans_become_subreaper() < 0)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-spawn.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	prog = tricky_program();
	r = symlink("/bin/sleep", prog);
	free(prog);
	return r;
}

static int teardown(void **state)
{
	char *prog = tricky_program();

	unlink(prog);
	free(prog);
	rmdir(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_stdio, cleanup),
		cmocka_unit_test_teardown(test_exec_failure, cleanup),
		cmocka_unit_test_teardown(test_chdir_failure, cleanup),
		cmocka_unit_test_teardown(test_child_prepares, cleanup),
		cmocka_unit_test_teardown(test_no_copy_on_write, cleanup),
		cmocka_unit_test_teardown(test_cwd_umask_limits, cleanup),
		cmocka_unit_test_teardown(test_limit_failure, cleanup),
		cmocka_unit_test_teardown(test_failure_messages, cleanup),
		cmocka_unit_test_teardown(test_clean_child, cleanup),
		cmocka_unit_test_teardown(test_resolve_user, cleanup),
		cmocka_unit_test_teardown(test_drop_privileges, cleanup),
		cmocka_unit_test_teardown(test_kill_group, cleanup),
		cmocka_unit_test_teardown(test_orphans_kill_strays, cleanup),
		cmocka_unit_test_teardown(test_cgroup, cleanup),
		cmocka_unit_test_teardown(test_orphans_keep, cleanup),
		cmocka_unit_test_teardown(test_orphans_zombie, cleanup),
	};

	return cmocka_run_group_tests_name("spawn", tests, setup, teardown);
}
