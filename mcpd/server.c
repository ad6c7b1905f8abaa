/*
 * A server's process and pipes: spawning it, reading what it writes (stdout
 * is the MCP channel, stderr goes to the ring buffer and the log), writing
 * to its stdin without blocking, and forgetting it once it is reaped.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cgroup.h"
#include "control.h"
#include "daemon.h"
#include "deep-check.h"
#include "guard.h"
#include "duration.h"
#include "jsonrpc.h"
#include "jsonw.h"
#include "lifecycle.h"
#include "log.h"
#include "logbuf.h"
#include "mcp-stdio.h"
#include "relay.h"
#include "resources.h"
#include "sandbox.h"
#include "server-limits.h"
#include "orphans.h"
#include "probe-http.h"
#include "replicas.h"
#include "server.h"
#include "spawn.h"
#include "traffic.h"
#include "xmalloc.h"

/* Read at most this much from one pipe per loop iteration: fairness between servers. */
#define READ_BUDGET (64 * 1024)
#define SERVER_SEND_KEEP (64 * 1024)	/* the buffer server_send() writes messages into, kept between them */

static const char *const state_names[ST__COUNT] = {
	[ST_STOPPED] = "stopped", [ST_STARTING] = "starting", [ST_RUNNING] = "running",
	[ST_UNHEALTHY] = "unhealthy", [ST_STOPPING] = "stopping", [ST_EXITED] = "exited",
	[ST_BACKOFF] = "backoff", [ST_FAILED] = "failed",
};

const char *server_state_name(enum server_state st)
{
	return st < ST__COUNT ? state_names[st] : "?";
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	lifecycle_event(w->data, SE_TIMER, NULL);
}

static void log_summary(struct server *s)
{
	char msg[384];

	if (lograte_summary(&s->lograte, s->conf.name, ev_now(s->d->loop), msg, sizeof(msg)))
		log_warning(s->conf.name, NULL, "%s", msg);
}

static void on_lograte(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_summary(w->data);
}

struct server *server_new(struct daemon *d, const struct server_conf *conf)
{
	struct server *s = xcalloc(1, sizeof(*s));

	s->d = d;
	server_conf_copy(&s->conf, conf);
	s->state = ST_STOPPED;
	s->state_since = ev_now(d->loop);
	s->stdin_fd = s->stdout_fd = s->stderr_fd = s->status_fd = -1;
	circuit_init(&s->circuit);
	ev_timer_init(&s->timer, on_timer, 0., 0.);
	s->timer.data = s;
	ev_timer_init(&s->lograte_w, on_lograte, LOGRATE_WINDOW, 0.);
	s->lograte_w.data = s;
	health_init(s);
	s->relay = relay_new();
	return s;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	server_reaped(s);
	lifecycle_forget_server(s);
	relay_server_removed(s);
	relay_free(s->relay);
	probe_http_free(s);
	health_free(s);
	traffic_free(s);
	resources_free(s);
	deep_check_free(s);
	sandbox_plan_free(s->sandbox);
	server_limits_free(s);
	ev_timer_stop(s->d->loop, &s->timer);
	ev_timer_stop(s->d->loop, &s->lograte_w);
	ev_prepare_stop(s->d->loop, &s->stdin_flush_w);	/* a flush queued in the iteration that frees it */
	log_summary(s);		/* the count of a window cut short is not lost */
	circuit_free(&s->circuit);
	logbuf_free(s->log);
	/* Killed at reap; a process that has not quite died yet leaves it to the guard at exit. */
	if (cgroup_remove(s->conf.name) < 0)
		log_debug(s->conf.name, NULL, "its cgroup is not empty yet; removed when mcpd exits");
	server_conf_release(&s->conf);
	free(s);
}

static bool same_command(const struct server_conf *a, const struct server_conf *b)
{
	if (a->argc != b->argc || !a->command != !b->command)
		return false;
	for (size_t i = 0; i < a->argc; i++)
		if (strcmp(a->command[i], b->command[i]) != 0)
			return false;
	return true;
}

void server_set_conf(struct server *s, const struct server_conf *conf)
{
	/* Another program may speak another era: probe it afresh. */
	if (!same_command(&s->conf, conf))
		s->era_hint = MCP_ERA_UNKNOWN;
	if (s->conf.ndepends_on > 0)
		s->d->ndepending--;
	server_conf_release(&s->conf);
	server_conf_copy(&s->conf, conf);
	if (s->conf.ndepends_on > 0)
		s->d->ndepending++;
	if (s->log)
		logbuf_set_max(s->log, conf->log_buffer);
}

static void close_fd(struct server *s, ev_io *w, int *fd)
{
	ev_io_stop(s->d->loop, w);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- stdin -------------------------------------------------------------- */

static void close_stdin(struct server *s)
{
	ev_prepare_stop(s->d->loop, &s->stdin_flush_w);
	close_fd(s, &s->stdin_w, &s->stdin_fd);
}

static void on_stdin_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *s = w->data;
	int r = wbuf_flush(&s->in, s->stdin_fd);

	if (r == 0) {
		ev_io_stop(loop, w);
		wbuf_free(&s->in);	/* all written: an idle server keeps no queue (it keeps its bound) */
	} else if (r < 0) {
		/* EPIPE: the server closed stdin or died; its exit will tell the rest. */
		log_debug(s->conf.name, NULL, "writing to stdin: %s", strerror(-r));
		close_stdin(s);
	}
}

/*
 * What this loop iteration queued for stdin goes in one write, before the
 * loop waits: the write watcher (an epoll_ctl to arm, one to disarm, and a
 * loop iteration more) only when the pipe is full. Nothing but writing and
 * arming here: a prepare watcher started now would wait for the next event.
 */
static void on_stdin_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct server *s = w->data;

	ev_prepare_stop(loop, w);
	if (wbuf_flush(&s->in, s->stdin_fd) != 0)
		ev_io_start(loop, &s->stdin_w);	/* full, or an error: on_stdin_writable goes on */
	else
		wbuf_free(&s->in);	/* all written: an idle server keeps no queue (it keeps its bound) */
}

bool server_send(struct server *s, const cJSON *msg)
{
	static struct jsonw w;	/* one loop, one thread: kept from message to message */
	int r;

	if (s->stdin_fd < 0)
		return false;
	/* jsonrpc_serialize()'s line, without cJSON's printf/sscanf per number and its copies. */
	w.len = 0;
	jsonw_line(&w, msg);
	r = wbuf_append(&s->in, w.buf, w.len);
	if (w.cap > SERVER_SEND_KEEP)
		jsonw_free(&w);
	if (r < 0) {
		char why[128];

		snprintf(why, sizeof(why), "does not read its stdin: %zu bytes are waiting", wbuf_pending(&s->in));
		lifecycle_event(s, SE_FAIL, &(struct event_arg){ .reason = why });
		return false;
	}
	if (!ev_is_active(&s->stdin_w))
		ev_prepare_start(s->d->loop, &s->stdin_flush_w);
	return true;
}

void server_close_stdin(struct server *s)
{
	/* Whatever is still queued is dropped: the server is being stopped. */
	close_stdin(s);
}

/* ---- stdout: the MCP channel -------------------------------------------- */

static void handle_stdout_lines(struct server *s)
{
	char *line;
	size_t len;
	int r;
	pid_t pid = s->pid;

	while (s->pid == pid && s->stdout_fd >= 0 && (r = linebuf_next(&s->out, &line, &len)) != 0) {
		if (r == -EMSGSIZE) {
			char why[128];

			snprintf(why, sizeof(why), "sent a message larger than %d MiB on stdout",
				 SERVER_MAX_MESSAGE / (1024 * 1024));
			lifecycle_event(s, SE_FAIL, &(struct event_arg){ .reason = why });
			return;
		}
		mcp_stdio_line(s, line, len);
	}
}

static void stderr_line(struct server *s, const char *line, size_t len);

static void on_stdout(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *s = w->data;
	ssize_t n = linebuf_fill(&s->out, s->stdout_fd);
	char *line;
	size_t len;

	if (n == -EAGAIN)
		return;
	if (s->conf.transport == TRANSPORT_HTTP) {
		/* An http server speaks MCP on its port: its stdout is only more log. */
		while (linebuf_next(&s->out, &line, &len) > 0)
			stderr_line(s, line, len);
		if (n <= 0 && linebuf_flush(&s->out, &line, &len) > 0)
			stderr_line(s, line, len);
	}
	if (n <= 0) {
		/* EOF: the process is ending; its exit status comes through SIGCHLD. */
		close_fd(s, &s->stdout_w, &s->stdout_fd);
		return;
	}
	if (s->conf.transport == TRANSPORT_STDIO)
		handle_stdout_lines(s);
}

/* ---- stderr: ring buffer and log ----------------------------------------- */

static uint64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/*
 * A flooding child must not flood mcpd's log (or journald): one budget per
 * server for stderr and stray stdout; what is over it is summarised once per
 * window, by a timer, so the summary comes even when the flood stops.
 */
bool server_log_allows(struct server *s, enum lograte_stream stream)
{
	if (lograte_allow(&s->lograte, stream, ev_now(s->d->loop)))
		return true;
	if (!ev_is_active(&s->lograte_w)) {
		/* LOGRATE_WINDOW from the first line suppressed; set again: a fired timer keeps its old time. */
		ev_timer_set(&s->lograte_w, LOGRATE_WINDOW, 0.);
		ev_timer_start(s->d->loop, &s->lograte_w);
	}
	return false;
}

static void stderr_line(struct server *s, const char *line, size_t len)
{
	uint64_t ts = wall_ms();
	uint64_t seq;

	if (!s->log)
		s->log = logbuf_new(s->conf.log_buffer);	/* at the first line: most servers write none */
	seq = logbuf_next_seq(s->log);
	logbuf_append(s->log, ts, line, len);
	if (server_log_allows(s, LOGRATE_STDERR))
		log_child_line(s->conf.name, line, len);
	control_log_line(s->d->control, s, seq, ts, line, len);
}

static void drain_stderr(struct server *s, bool eof)
{
	char *line;
	size_t len;

	while (linebuf_next(&s->err, &line, &len) > 0)
		stderr_line(s, line, len);
	if (eof && linebuf_flush(&s->err, &line, &len) > 0)
		stderr_line(s, line, len);
}

static void on_stderr(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *s = w->data;
	ssize_t n = linebuf_fill(&s->err, s->stderr_fd);

	if (n == -EAGAIN)
		return;
	drain_stderr(s, n <= 0);
	if (n <= 0)
		close_fd(s, &s->stderr_w, &s->stderr_fd);
}

/* ---- the status pipe: did exec work? -------------------------------------- */

static void read_status(struct server *s)
{
	struct spawn_failure f;
	ssize_t n;

	/* Warnings (a world-readable secret file) first, then a failure or EOF. */
	while (s->status_fd >= 0) {
		do
			n = read(s->status_fd, &f, sizeof(f));
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n == (ssize_t)sizeof(f) && f.stage == SPAWN_STAGE_WARNING) {
			char text[sizeof(f.text)];

			spawn_failure_format(&f, &s->conf, text, sizeof(text));
			log_warning(s->conf.name, NULL, "%s", text);
			continue;
		}
		if (n == (ssize_t)sizeof(f)) {
			spawn_failure_format(&f, &s->conf, s->fail_reason, sizeof(s->fail_reason));
			s->exec_failed = true;
		}
		close_fd(s, &s->status_w, &s->status_fd);
	}
}

static void on_status(struct ev_loop *loop, ev_io *w, int revents)
{
	read_status(w->data);
}

/* ---- spawning and reaping ------------------------------------------------- */

/* The user and group are looked up in the child (NSS may block): a failure comes back on the status pipe. */
static void prepare_user(struct server *s, struct spawn_req *req)
{
	if (!s->conf.user && !s->conf.group)
		return;
	if (!s->d->is_root) {
		static bool warned;

		if (!warned)
			log_warning(s->conf.name, NULL, "user/group are ignored: mcpd is not running as root");
		warned = true;
		return;
	}
	req->drop_privileges = true;
	req->resolve_in_child = true;
}

/* A new plan at every start: a reload may have changed the sandbox or the files it hides. */
static int prepare_sandbox(struct server *s, struct spawn_req *req)
{
	char *error = NULL;
	int r;

	sandbox_plan_free(s->sandbox);
	s->sandbox = NULL;
	r = sandbox_plan_build(s, &s->sandbox, &error);
	if (r < 0) {
		snprintf(s->fail_reason, sizeof(s->fail_reason), "sandbox: %s", error ? error : strerror(-r));
		free(error);
		return r;
	}
	req->sandbox = s->sandbox;
	return 0;
}

static void close_cgroup_fds(const struct spawn_req *req)
{
	if (req->cgroup_fd >= 0)
		close(req->cgroup_fd);
	if (req->cgroup_dir_fd >= 0)
		close(req->cgroup_dir_fd);
}

int server_spawn(struct server *s)
{
	extern char **environ;
	/* env_file and secrets are read by the child, not here on the loop. */
	struct spawn_req req = { .conf = &s->conf, .base_environ = environ, .cgroup_fd = -1, .cgroup_dir_fd = -1 };
	struct spawn_result res;
	int r;

	s->exec_failed = false;
	s->fail_reason[0] = '\0';
	if (!s->conf.command) {
		snprintf(s->fail_reason, sizeof(s->fail_reason), "has no command to run");
		return -EINVAL;
	}
	prepare_user(s, &req);
	if (cgroup_enabled()) {
		r = cgroup_make_dir(s->conf.name);
		if (r < 0) {
			snprintf(s->fail_reason, sizeof(s->fail_reason), "cannot create its cgroup %s/%s: %s",
				 cgroup_base(), s->conf.name, strerror(-r));
			return r;
		}
		/* Created in it by clone3; else the child joins it through cgroup.procs (spawn.c opens that). */
		req.join_cgroup = true;
		req.into_cgroup = true;
		req.cgroup_dir_fd = r;
	} else {
		req.subreaper = true;
	}
	if ((r = limits_before_spawn(s, &req)) < 0 || (r = prepare_sandbox(s, &req)) < 0) {
		close_cgroup_fds(&req);
		return r;
	}
	r = spawn_start(&req, &res);
	close_cgroup_fds(&req);
	if (r < 0) {
		snprintf(s->fail_reason, sizeof(s->fail_reason), "cannot start a process: %s", strerror(-r));
		return r;
	}

	if (s->started_at > 0)
		s->restarts++;
	s->pid = res.pid;
	guard_add(res.pid);
	s->started_at = ev_now(s->d->loop);
	s->stdin_fd = res.stdin_fd;
	s->stdout_fd = res.stdout_fd;
	s->stderr_fd = res.stderr_fd;
	s->status_fd = res.status_fd;
	linebuf_init(&s->out, s->conf.transport == TRANSPORT_STDIO ? SERVER_MAX_MESSAGE : SERVER_STDERR_LINE,
		     s->conf.transport == TRANSPORT_STDIO ? LINEBUF_REJECT : LINEBUF_SPLIT);
	linebuf_init(&s->err, SERVER_STDERR_LINE, LINEBUF_SPLIT);
	wbuf_init(&s->in, SERVER_STDIN_QUEUE);
	ev_io_init(&s->stdin_w, on_stdin_writable, s->stdin_fd, EV_WRITE);
	ev_prepare_init(&s->stdin_flush_w, on_stdin_flush);
	s->stdin_flush_w.data = s;
	ev_io_init(&s->stdout_w, on_stdout, s->stdout_fd, EV_READ);
	ev_io_init(&s->stderr_w, on_stderr, s->stderr_fd, EV_READ);
	ev_io_init(&s->status_w, on_status, s->status_fd, EV_READ);
	s->stdin_w.data = s->stdout_w.data = s->stderr_w.data = s->status_w.data = s;
	ev_io_start(s->d->loop, &s->stdout_w);
	ev_io_start(s->d->loop, &s->stderr_w);
	ev_io_start(s->d->loop, &s->status_w);
	s->stop_cause = STOP_NONE;
	s->stop_phase = STOP_PHASE_NONE;
	if (s->conf.transport == TRANSPORT_STDIO)
		mcp_stdio_begin(s);
	return 0;
}

void server_kill(struct server *s, int sig)
{
	int r;

	if (s->pid <= 0)
		return;
	r = kill_group(s->pid, sig);
	if (r < 0 && r != -ESRCH)
		log_error(s->conf.name, NULL, "cannot send SIG%s to process group %d: %s", signal_to_name(sig),
			  (int)s->pid, strerror(-r));
	/* The last resort reaches every descendant, also those that left the group. */
	if (sig == SIGKILL && (r = cgroup_kill(s->conf.name)) < 0)
		log_error(s->conf.name, NULL, "cannot kill its cgroup %s/%s: %s", cgroup_base(), s->conf.name,
			  strerror(-r));
}

/*
 * Whether server name's cgroup still has a process (true when unknown). An
 * empty one gets no cgroup.kill: Linux (6.18 at least) kills every process
 * later created into a cgroup that once had one (clone3 CLONE_INTO_CGROUP,
 * spawn.c), and spawn.c would have to start it the slower way.
 */
static bool cgroup_populated(const char *name)
{
	char buf[256];
	ssize_t n = -1;
	int dir = cgroup_open_dir(name), fd;

	if (dir < 0)
		return true;
	fd = openat(dir, "cgroup.events", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	close(dir);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	return !strstr(buf, "populated 0");
}

/*
 * What happened to the process, for its clients: the in-flight error and the
 * sessions' move say "was stopped by the operator (mcpctl stop)", "exited
 * with status 1", "was removed from the manifest by a reload", ...
 */
static void gone_why(const struct server *s, char *buf, size_t size)
{
	char status[128];
	bool stopping = s->state == ST_STOPPING || s->stop_cause != STOP_NONE;

	if (s->removed) {
		snprintf(buf, size, "was removed from the manifest by a reload");
	} else if (s->d->shutting_down) {
		snprintf(buf, size, "was stopped: %s", s->d->stopping);
	} else if (s->exit_known && !stopping) {
		describe_wait_status(s->exit_status, status, sizeof(status));
		snprintf(buf, size, "%s", status);
	} else if (s->stop_cause == STOP_RESTART) {
		if (strcmp(s->reason, "restarted by operator") == 0)
			snprintf(buf, size, "was restarted by the operator (mcpctl restart)");
		else
			snprintf(buf, size, "was restarted: %s", s->reason);
	} else if (s->stop_cause == STOP_FAILURE) {
		snprintf(buf, size, "was stopped after a failure: %s", s->fail_reason);
	} else if (s->stop_cause == STOP_OPERATOR) {
		if (strcmp(s->reason, "stopped by operator") == 0)
			snprintf(buf, size, "was stopped by the operator (mcpctl stop)");
		else
			snprintf(buf, size, "was stopped: %s", s->reason);
	} else {
		snprintf(buf, size, "went away");
	}
}

void server_reaped(struct server *s)
{
	char why[320];

	if (s->pid > 0) {
		/* Whatever is left in its group or its cgroup, or re-parented to us, is an orphan now. */
		kill_group(s->pid, SIGKILL);
		if (cgroup_populated(s->conf.name))
			cgroup_kill(s->conf.name);
		guard_remove(s->pid);
		s->pid = 0;
		daemon_kill_strays(s->d);
	}
	read_status(s);
	if (s->stderr_fd >= 0) {
		/* Keep the last words: the pipe still holds what it wrote before dying. */
		for (int i = 0; i < 16 && s->stderr_fd >= 0; i++) {
			ssize_t n = linebuf_fill(&s->err, s->stderr_fd);

			drain_stderr(s, n <= 0 && n != -EAGAIN);
			if (n <= 0)
				break;
		}
	}
	close_stdin(s);
	close_fd(s, &s->stdout_w, &s->stdout_fd);
	close_fd(s, &s->stderr_w, &s->stderr_fd);
	close_fd(s, &s->status_w, &s->status_fd);
	linebuf_free(&s->out);
	linebuf_free(&s->err);
	wbuf_free(&s->in);
	mcp_stdio_reset(s);
	health_stop(s);
	probe_http_reset(s);
	/* Clients stay attached; what they asked the old process fails now, not never. */
	gone_why(s, why, sizeof(why));
	s->exit_known = false;
	relay_server_gone(s, why);
}

/* ---- status --------------------------------------------------------------- */

static struct server *first_blocker(const struct server *s)
{
	for (size_t i = 0; i < s->conf.ndepends_on; i++) {
		struct server *dep = daemon_find_server(s->d, s->conf.depends_on[i]);

		if (dep && dep->state != ST_RUNNING)
			return dep;
	}
	return NULL;
}

/* "250ms", "2.5s", "45s", "9m30s": precise when short, readable when long. */
static void format_wait(double left, char *buf, size_t size)
{
	/* ev_now() is seconds since 1970 in a double: ignore its last microseconds. */
	uint64_t ms = left > 0 ? (uint64_t)ceil(left * 1000 - 0.01) : 0;

	if (ms < 1000)
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	else if (ms < 10000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000);
	else
		duration_format((ms + 999) / 1000 * 1000, buf, size);
}

void server_reason(const struct server *s, char *buf, size_t size)
{
	double now = ev_now(s->d->loop);
	char wait[32];

	if (s->state == ST_STARTING && s->pid == 0) {
		const struct server *dep = first_blocker(s);

		if (dep)
			snprintf(buf, size, "waiting for %s (%s)", dep->conf.name, server_state_name(dep->state));
		else if (s->reason[0])
			snprintf(buf, size, "%s", s->reason);	/* a monitor-only server's last probe */
		else if (s->conf.transport == TRANSPORT_HTTP)
			snprintf(buf, size, "probing %s", s->conf.url_sensitive ? "its URL" : s->conf.url);
		else
			snprintf(buf, size, "waiting for dependencies");
		return;
	}
	if (s->state == ST_STOPPED && s->autostart_pending) {
		snprintf(buf, size, "waiting for its turn to start (autostart)");
		return;
	}
	if ((s->state == ST_BACKOFF || s->state == ST_FAILED) && s->next_try > 0) {
		format_wait(s->next_try - now, wait, sizeof(wait));
		if (s->state == ST_BACKOFF)
			snprintf(buf, size, "%s; next try in %s (attempt %u)", s->reason, wait, s->attempt);
		else
			snprintf(buf, size, "%s; next try in %s", s->reason, wait);
		return;
	}
	snprintf(buf, size, "%s", s->reason);
}

/* Figures both forms of the status show, computed in one place. */
static double status_uptime(const struct server *s, double now)
{
	return floor(now - s->started_at);
}

static bool status_has_latency(const struct server *s)
{
	return s->health.last_latency_ms >= 0 && s->pid > 0;
}

static double status_latency(const struct server *s)
{
	return round(s->health.last_latency_ms * 1000) / 1000;
}

/* What the server said of itself and the protocol it speaks: the full status only. */
static void write_identity(const struct server *s, struct jsonw *w)
{
	if (s->protocol_version[0]) {
		/* An http server's probe may know the version before it sets the era: the version says it. */
		enum mcp_era era = s->era != MCP_ERA_UNKNOWN ? s->era
				   : mcp_version_modern(s->protocol_version) ? MCP_ERA_MODERN : MCP_ERA_LEGACY;

		jsonw_key(w, "protocol_version");
		jsonw_string(w, s->protocol_version);
		jsonw_key(w, "era");
		jsonw_string(w, mcp_era_name(era));
	}
	if (s->conf.protocol != PROTOCOL_AUTO) {
		jsonw_key(w, "protocol_pin");
		jsonw_string(w, protocol_pin_name(s->conf.protocol));
	}
	if (s->health.server_name[0]) {
		jsonw_key(w, "server_info");
		jsonw_char(w, '{');
		jsonw_key(w, "name");
		jsonw_string(w, s->health.server_name);
		jsonw_key(w, "version");
		jsonw_string(w, s->health.server_version);
		jsonw_char(w, '}');
	}
	if (s->health.tools) {
		char hash[20];

		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)s->health.tools_hash);
		jsonw_key(w, "tools");
		jsonw_number(w, s->health.ntools);
		jsonw_key(w, "tools_hash");
		jsonw_string(w, hash);
	}
	if (s->health.last_error[0]) {
		jsonw_key(w, "last_probe_error");
		jsonw_string(w, s->health.last_error);
	}
}

/*
 * The members a summary leaves out are skipped in place: the summary's are
 * the full status's, in the same order and form.
 */
void server_status_write(const struct server *s, struct jsonw *w, bool summary)
{
	double now = ev_now(s->d->loop);
	char reason[320];

	server_reason(s, reason, sizeof(reason));
	jsonw_char(w, '{');
	jsonw_key(w, "name");
	jsonw_string(w, s->conf.name);
	if (s->conf.replica > 0) {
		/* A replica (replicas: N): its entry's name and its index, as in the full status. */
		char group[80];

		jsonw_key(w, "server");
		jsonw_string(w, replica_entry_name(s, group, sizeof(group)));
		jsonw_key(w, "replica");
		jsonw_number(w, s->conf.replica);
	}
	jsonw_key(w, "state");
	jsonw_string(w, server_state_name(s->state));
	jsonw_member_number(w, "pid", s->pid > 0, s->pid);
	jsonw_member_number(w, "uptime_s", s->pid > 0, status_uptime(s, now));
	jsonw_key(w, "restarts");
	jsonw_number(w, s->restarts);
	jsonw_key(w, "reason");
	jsonw_string(w, reason);
	if (!summary) {
		jsonw_key(w, "transport");
		jsonw_string(w, transport_name(s->conf.transport));
		jsonw_key(w, "critical");
		jsonw_bool(w, s->conf.critical);
		jsonw_key(w, "autostart");
		jsonw_bool(w, s->conf.autostart);
		jsonw_member_number(w, "next_try_s", s->next_try > 0 && (s->state == ST_BACKOFF || s->state == ST_FAILED),
				     ceil(fmax(0, s->next_try - now)));
		jsonw_key(w, "attempt");
		jsonw_number(w, s->attempt);
	}
	jsonw_key(w, "health");
	jsonw_string(w, health_name(s));
	jsonw_member_number(w, "latency_ms", status_has_latency(s), status_latency(s));
	if (!summary)
		write_identity(s, w);
	traffic_status_write(s, w, summary);
	resources_status_write(s, w, summary);
	if (!summary) {
		deep_check_status_write(s, w);
		jsonw_key(w, "confinement");
		jsonw_char(w, '{');
		limits_status_write(s, w);
		sandbox_status_write(s, w);
		jsonw_char(w, '}');
	}
	jsonw_char(w, '}');
}
