/* health.exec, one run of the command: see check-exec.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "check-exec.h"
#include "check-output.h"
#include "childenv.h"
#include "daemon.h"
#include "deep-check.h"
#include "duration.h"
#include "guard.h"
#include "log.h"
#include "orphans.h"
#include "server.h"
#include "spawn.h"
#include "xmalloc.h"

struct check_exec {
	struct server *s;
	check_exec_done_fn done;
	double started;
	uint64_t timeout_ms;

	pid_t pid;			/* the command, and its process group; 0 once reaped */
	int wait_status;
	bool timed_out;
	int out_fd, err_fd, status_fd;
	ev_io out_w, err_w, status_w;
	ev_child child_w;
	ev_timer timeout_w;
	char out[CHECK_EXEC_KEEP];
	size_t outlen;
	bool truncated;			/* more came than was kept */
	char spawn_error[SPAWN_TEXT_MAX];

	pid_t kpid;			/* the secret reader; 0 when none or reaped */
	int sec_fd;
	ev_io sec_w;
	ev_child kchild_w;
	char *sec;			/* NUL-terminated values */
	size_t seclen;
	bool sec_failed;		/* too large, or the reader failed: output is withheld */

	struct check_exec *next, **pprev;	/* on the list of running checks */
};

#define SECRET_LINE_MIN	4	/* bytes of a line of a secret of several lines, to be redacted alone */
#define ESCAPED_FDS_MAX	4096	/* fds of one process looked at for a check's pipe */

/* Every check running, for what a hunt for strays must keep (their commands, their readers). */
static struct check_exec *running;

static void close_watched(struct check_exec *x, ev_io *w, int *fd)
{
	ev_io_stop(x->s->d->loop, w);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void exec_free(struct check_exec *x)
{
	struct ev_loop *loop = x->s->d->loop;

	close_watched(x, &x->out_w, &x->out_fd);
	close_watched(x, &x->err_w, &x->err_fd);
	close_watched(x, &x->status_w, &x->status_fd);
	close_watched(x, &x->sec_w, &x->sec_fd);
	ev_child_stop(loop, &x->child_w);
	ev_child_stop(loop, &x->kchild_w);
	ev_timer_stop(loop, &x->timeout_w);
	if (x->sec) {
		explicit_bzero(x->sec, x->seclen);
		free(x->sec);
	}
	explicit_bzero(x->out, sizeof(x->out));
	if (x->pprev) {
		*x->pprev = x->next;
		if (x->next)
			x->next->pprev = x->pprev;
	}
	free(x);
}

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Whether process pid has one of the links want[0..n) ("pipe:[INO]") among its first fds. */
static bool holds_pipe(pid_t pid, char want[][40], size_t n)
{
	char path[64], link[64];
	struct dirent *de;
	unsigned seen = 0;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && seen++ < ESCAPED_FDS_MAX && (de = readdir(dir))) {
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(dir), de->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(link, want[i]) == 0;
	}
	closedir(dir);
	return found;
}

/*
 * The command exited, its output still open: a descendant that left its
 * process group (setsid) holds it, re-parented to mcpd (a subreaper). Each
 * child of mcpd that is no server, no check and no secret reader, and holds
 * the write end of this check's stdout or stderr, is such a stray: killed now
 * (with its own group), not left to pile up one per round. Only processes
 * that hold this check's own pipe are touched, with cgroups or without.
 */
static void kill_escaped(struct check_exec *x)
{
	struct daemon *d = x->s->d;
	char want[2][40], path[64], buf[65536];
	size_t n = 0, nwant = 0, len = 0;
	pid_t *keep;
	int fd, killed = 0;
	ssize_t r;
	struct stat st;

	if (x->out_fd >= 0 && fstat(x->out_fd, &st) == 0)
		snprintf(want[nwant++], sizeof(want[0]), "pipe:[%llu]", (unsigned long long)st.st_ino);
	if (x->err_fd >= 0 && fstat(x->err_fd, &st) == 0)
		snprintf(want[nwant++], sizeof(want[0]), "pipe:[%llu]", (unsigned long long)st.st_ino);
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (nwant == 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (len < sizeof(buf) - 1 && (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	keep = daemon_own_children(d, &n);
	qsort(keep, n, sizeof(*keep), pid_cmp);
	for (char *p = buf, *end; *p; p = end) {
		long v = strtol(p, &end, 10);
		pid_t pid = (pid_t)v;

		if (end == p)
			break;
		if (v <= 0 || bsearch(&pid, keep, n, sizeof(*keep), pid_cmp) || !holds_pipe(pid, want, nwant))
			continue;
		/* Our child: nobody else can reap it and reuse its pid meanwhile. */
		if (kill(pid, SIGKILL) == 0)
			killed++;
		kill_group(pid, SIGKILL);	/* a setsid()'d one leads a group of its own */
	}
	free(keep);
	if (killed > 0)
		deep_check_exec_strays(x->s, killed);
}

static bool finished(const struct check_exec *x)
{
	return x->pid == 0 && x->out_fd < 0 && x->err_fd < 0 && x->status_fd < 0 && x->kpid == 0 && x->sec_fd < 0;
}

static void conclude(struct check_exec *x)
{
	enum check_exec_result result = CHECK_EXEC_FAILED;
	char line[CHECK_EXEC_DETAIL + 8], detail[CHECK_EXEC_DETAIL + 128], d[32];
	char out[CHECK_EXEC_KEEP + 1];
	size_t len = x->outlen;
	struct server *s = x->s;
	int st = x->wait_status;

	memcpy(out, x->out, len);
	out[len] = '\0';
	if (x->sec_failed && len > 0) {
		snprintf(line, sizeof(line), "(output withheld: the secrets to redact from it could not be read)");
	} else {
		/* A value the cut left a piece of is never found whole: that piece goes first. */
		if (x->sec && x->truncated)
			len = check_output_cut_partial(out, len, x->sec, x->seclen);
		if (x->sec)
			len = check_output_redact(out, len, sizeof(out), x->sec, x->seclen);
		check_output_first_line(out, len, line, sizeof(line), CHECK_EXEC_DETAIL);
	}
	explicit_bzero(out, sizeof(out));
	if (x->spawn_error[0]) {
		snprintf(detail, sizeof(detail), "%.200s", x->spawn_error);
	} else if (x->timed_out) {
		duration_format(x->timeout_ms, d, sizeof(d));
		snprintf(detail, sizeof(detail), "timed out after %s (killed)%s%s", d, line[0] ? ": " : "", line);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) <= 1) {
		result = WEXITSTATUS(st) == 0 ? CHECK_EXEC_OK : CHECK_EXEC_DEGRADED;
		snprintf(detail, sizeof(detail), "%s", line[0] ? line : WEXITSTATUS(st) == 0 ? "exit status 0" :
			 "exit status 1");
	} else if (WIFEXITED(st)) {
		snprintf(detail, sizeof(detail), "exit status %d%s%s", WEXITSTATUS(st), line[0] ? ": " : "", line);
	} else {
		snprintf(detail, sizeof(detail), "killed by signal %s%s%s",
			 WIFSIGNALED(st) ? signal_to_name(WTERMSIG(st)) : "?", line[0] ? ": " : "", line);
	}
	x->done(s, result, detail, (ev_now(s->d->loop) - x->started) * 1000.);
	exec_free(x);
}

static void maybe_conclude(struct check_exec *x)
{
	if (finished(x))
		conclude(x);
}

/* Read what is there; kept up to CHECK_EXEC_KEEP, the rest discarded. true at EOF or on an error. */
static bool drain(struct check_exec *x, int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			size_t keep = sizeof(x->out) - x->outlen;

			if (keep > (size_t)n)
				keep = (size_t)n;
			if (keep < (size_t)n)
				x->truncated = true;
			memcpy(x->out + x->outlen, buf, keep);
			x->outlen += keep;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		explicit_bzero(buf, sizeof(buf));
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
}

static void on_output(struct ev_loop *loop, ev_io *w, int revents)
{
	struct check_exec *x = w->data;
	int *fd = w == &x->out_w ? &x->out_fd : &x->err_fd;

	if (drain(x, *fd)) {
		close_watched(x, w, fd);
		maybe_conclude(x);
	}
}

/* The status pipe: warnings, then at most one failure; EOF once exec worked. */
static bool read_status(struct check_exec *x)
{
	struct spawn_failure f;

	for (;;) {
		ssize_t n = read(x->status_fd, &f, sizeof(f));

		if (n == (ssize_t)sizeof(f)) {
			if (f.stage != SPAWN_STAGE_WARNING && !x->spawn_error[0]) {
				struct server_conf conf = x->s->conf;
				char why[SPAWN_TEXT_MAX];

				conf.command = conf.health.exec;
				conf.argc = conf.health.exec_argc;
				spawn_failure_format(&f, &conf, why, sizeof(why));
				snprintf(x->spawn_error, sizeof(x->spawn_error), "%s", why);
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || n > 0;
	}
}

static void on_status(struct ev_loop *loop, ev_io *w, int revents)
{
	struct check_exec *x = w->data;

	if (read_status(x)) {
		close_watched(x, w, &x->status_fd);
		maybe_conclude(x);
	}
}

/* Read the secret values that are there; true at EOF or on an error. */
static bool read_secrets(struct check_exec *x)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(x->sec_fd, buf, sizeof(buf));

		if (n > 0) {
			if (x->seclen + (size_t)n > CHECK_EXEC_SECRETS_MAX) {
				x->sec_failed = true;
				continue;
			}
			x->sec = xrealloc(x->sec, x->seclen + (size_t)n);
			memcpy(x->sec + x->seclen, buf, (size_t)n);
			x->seclen += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		explicit_bzero(buf, sizeof(buf));
		return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
	}
}

static void on_secrets(struct ev_loop *loop, ev_io *w, int revents)
{
	struct check_exec *x = w->data;

	if (read_secrets(x)) {
		close_watched(x, w, &x->sec_fd);
		maybe_conclude(x);
	}
}

static void on_exit_cmd(struct ev_loop *loop, ev_child *w, int revents)
{
	struct check_exec *x = w->data;

	ev_child_stop(loop, w);
	x->wait_status = w->rstatus;
	/* What it left in its group (a background child holding the pipes) goes with it. */
	kill_group(x->pid, SIGKILL);
	guard_remove(x->pid);
	x->pid = 0;
	ev_timer_stop(loop, &x->timeout_w);
	if (x->out_fd >= 0 && drain(x, x->out_fd))
		close_watched(x, &x->out_w, &x->out_fd);
	if (x->err_fd >= 0 && drain(x, x->err_fd))
		close_watched(x, &x->err_w, &x->err_fd);
	if (x->status_fd >= 0 && read_status(x))
		close_watched(x, &x->status_w, &x->status_fd);
	if (x->out_fd >= 0 || x->err_fd >= 0)
		kill_escaped(x);
	/* A descendant that left the group may hold a pipe: the exit is what counts. */
	close_watched(x, &x->out_w, &x->out_fd);
	close_watched(x, &x->err_w, &x->err_fd);
	close_watched(x, &x->status_w, &x->status_fd);
	maybe_conclude(x);
}

static void on_exit_reader(struct ev_loop *loop, ev_child *w, int revents)
{
	struct check_exec *x = w->data;

	ev_child_stop(loop, w);
	guard_remove(x->kpid);
	x->kpid = 0;
	if (!WIFEXITED(w->rstatus) || WEXITSTATUS(w->rstatus) != 0)
		x->sec_failed = true;
	if (x->sec_fd >= 0)
		read_secrets(x);
	close_watched(x, &x->sec_w, &x->sec_fd);
	maybe_conclude(x);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct check_exec *x = w->data;

	x->timed_out = true;
	if (x->pid > 0)
		kill_group(x->pid, SIGKILL);
	if (x->kpid > 0)
		kill_group(x->kpid, SIGKILL);
}

/*
 * The values of the server's secrets, for redaction: read by a child as the
 * server's own child reads them (childenv_build), so that no file is read on
 * the loop. It writes them NUL-separated on fd and exits 0, or exits 1.
 */
static pid_t start_reader(const struct server_conf *conf, int *ret_fd)
{
	extern char **environ;
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		struct childenv e = { 0 };
		char *err = NULL;
		int flags = fcntl(fds[1], F_GETFL);

		setpgid(0, 0);
		fcntl(fds[1], F_SETFL, flags & ~O_NONBLOCK);
		if (childenv_build(conf, environ, &e, &err) < 0)
			_exit(1);
		for (size_t i = 0; i < conf->secrets.n; i++) {
			size_t klen = strlen(conf->secrets.items[i].key);

			for (char **v = e.envp; v && *v; v++) {
				if (strncmp(*v, conf->secrets.items[i].key, klen) == 0 && (*v)[klen] == '=') {
					const char *val = *v + klen + 1;

					if (write(fds[1], val, strlen(val) + 1) < 0)
						_exit(1);
					/* Each line of a value of several (a key file) is a secret of its own. */
					for (const char *l = val, *nl; strchr(val, '\n') && *l; l = nl + (*nl != '\0')) {
						size_t llen;

						nl = strchr(l, '\n');
						if (!nl)
							nl = l + strlen(l);
						llen = (size_t)(nl - l);
						if (llen > 0 && l[llen - 1] == '\r')
							llen--;
						if (llen >= SECRET_LINE_MIN &&
						    (write(fds[1], l, llen) < 0 || write(fds[1], "", 1) < 0))
							_exit(1);
					}
				}
			}
		}
		_exit(0);
	}
	setpgid(pid, pid);	/* also in the child: whichever runs first */
	close(fds[1]);
	*ret_fd = fds[0];
	return pid;
}

struct check_exec *check_exec_start(struct server *s, uint64_t timeout_ms, check_exec_done_fn done, char *err,
				    size_t errsize)
{
	extern char **environ;
	struct server_conf conf = s->conf;
	struct spawn_req req = { .conf = &conf, .base_environ = environ, .cgroup_fd = -1 };
	struct spawn_result res;
	struct check_exec *x;
	int r;

	conf.command = s->conf.health.exec;
	conf.argc = s->conf.health.exec_argc;
	conf.limits.memory.set = false;	/* the server's budget, not the check's: a check runs beside it */
	if ((conf.user || conf.group) && s->d->is_root)
		req.drop_privileges = req.resolve_in_child = true;
	r = spawn_start(&req, &res);
	if (r < 0) {
		snprintf(err, errsize, "cannot start a process: %s", strerror(-r));
		return NULL;
	}
	x = xcalloc(1, sizeof(*x));
	x->s = s;
	x->done = done;
	x->started = ev_now(s->d->loop);
	x->timeout_ms = timeout_ms;
	x->pid = res.pid;
	guard_add(res.pid);
	close(res.stdin_fd);	/* it reads EOF at once */
	x->out_fd = res.stdout_fd;
	x->err_fd = res.stderr_fd;
	x->status_fd = res.status_fd;
	x->sec_fd = -1;
	x->next = running;
	if (running)
		running->pprev = &x->next;
	x->pprev = &running;
	running = x;
	ev_io_init(&x->out_w, on_output, x->out_fd, EV_READ);
	ev_io_init(&x->err_w, on_output, x->err_fd, EV_READ);
	ev_io_init(&x->status_w, on_status, x->status_fd, EV_READ);
	ev_child_init(&x->child_w, on_exit_cmd, x->pid, 0);
	ev_timer_init(&x->timeout_w, on_timeout, (double)timeout_ms / 1000., 0.);
	ev_io_init(&x->sec_w, on_secrets, 0, EV_READ);
	ev_child_init(&x->kchild_w, on_exit_reader, 0, 0);
	x->out_w.data = x->err_w.data = x->status_w.data = x->child_w.data = x->timeout_w.data = x;
	x->sec_w.data = x->kchild_w.data = x;
	ev_io_start(s->d->loop, &x->out_w);
	ev_io_start(s->d->loop, &x->err_w);
	ev_io_start(s->d->loop, &x->status_w);
	ev_child_start(s->d->loop, &x->child_w);
	ev_timer_start(s->d->loop, &x->timeout_w);
	if (s->conf.secrets.n > 0) {
		pid_t k = start_reader(&s->conf, &x->sec_fd);

		if (k < 0) {
			x->sec_failed = true;
		} else {
			x->kpid = k;
			guard_add(k);
			ev_io_set(&x->sec_w, x->sec_fd, EV_READ);
			ev_io_start(s->d->loop, &x->sec_w);
			ev_child_set(&x->kchild_w, k, 0);
			ev_child_start(s->d->loop, &x->kchild_w);
		}
	}
	return x;
}

void check_exec_cancel(struct check_exec *x)
{
	if (!x)
		return;
	if (x->pid > 0) {
		kill_group(x->pid, SIGKILL);
		guard_remove(x->pid);
	}
	if (x->kpid > 0) {
		kill_group(x->kpid, SIGKILL);
		guard_remove(x->kpid);
	}
	exec_free(x);
}

size_t check_exec_running(void)
{
	size_t n = 0;

	for (const struct check_exec *y = running; y; y = y->next)
		n++;
	return n;
}

size_t check_exec_pids(pid_t *out)
{
	size_t n = 0;

	for (const struct check_exec *y = running; y; y = y->next) {
		if (y->pid > 0)
			out[n++] = y->pid;
		if (y->kpid > 0)
			out[n++] = y->kpid;
	}
	return n;
}

pid_t check_exec_pid(const struct check_exec *x)
{
	return x ? x->pid : 0;
}
