/*
 * The daemon's bookkeeping: the list of servers, dependency order, the
 * aggregate health, and the ordered shutdown.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "aggregate.h"
#include "cgroup.h"
#include "check-exec.h"
#include "control.h"
#include "daemon.h"
#include "guard.h"
#include "history.h"
#include "lifecycle.h"
#include "log.h"
#include "orphans.h"
#include "replicas.h"
#include "sdnotify.h"
#include "server.h"
#include "xmalloc.h"

struct server *daemon_find_server(const struct daemon *d, const char *name)
{
	struct server *first = NULL;

	for (size_t i = 0; i < d->nservers; i++)
		if (strcmp(d->servers[i]->conf.name, name) == 0)
			return d->servers[i];
	/* A replicated entry's name: a running replica stands for it (depends_on is met), else its first. */
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (s->conf.replica == 0 || !replica_in_group(s, name))
			continue;
		if (s->state == ST_RUNNING)
			return s;
		if (!first)
			first = s;
	}
	return first;
}

const char **daemon_server_names(const struct daemon *d)
{
	size_t extra = 0;
	const char **names;
	char *text;

	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->conf.replica == 1)
			extra += replica_group_len(d->servers[i]->conf.name) + 1;
	/* One block: the array, then the entries' names it points to (the caller frees the array only). */
	names = xcalloc(1, (d->nservers + 1) * sizeof(*names) + extra);
	text = (char *)(names + d->nservers + 1);
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];

		names[i] = s->conf.name;
		if (s->conf.replica == 1) {
			/* A replicated entry is suggested by its name ("web"), its other replicas by theirs. */
			replica_entry_name(s, text, replica_group_len(s->conf.name) + 1);
			names[i] = text;
			text += strlen(text) + 1;
		}
	}
	return names;
}

/* A server that should be up and is not. */
static bool is_down(const struct server *s)
{
	return s->wanted && s->state != ST_RUNNING;
}

const char *daemon_health(const struct daemon *d)
{
	bool degraded = false;

	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];

		if (s->wanted && strcmp(health_name(s), "degraded") == 0)
			degraded = true;	/* running, and a health.exec check says degraded */
		if (!is_down(s))
			continue;
		if (s->conf.critical && !replica_covered(s))
			return "critical";
		degraded = true;
	}
	return degraded ? "degraded" : "ok";
}

struct server *daemon_add_server(struct daemon *d, const struct server_conf *conf)
{
	struct server *s = server_new(d, conf);

	d->servers = xreallocarray(d->servers, d->nservers + 1, sizeof(*d->servers));
	d->servers[d->nservers++] = s;
	d->ndepending += s->conf.ndepends_on > 0;
	return s;
}

void daemon_remove_server(struct daemon *d, struct server *s)
{
	s->removed = true;
	lifecycle_event(s, SE_STOP, &(struct event_arg){ .reason = "removed from the manifest" });
	/* Freed from the loop's check watcher, when no caller can be touching it. */
	ev_check_start(d->loop, &d->sweep_w);
}

void daemon_autostart(struct daemon *d, struct server *s)
{
	/* Wanted from now on: health, /readyz and status count it as down until it runs. */
	s->wanted = s->autostart_pending = true;
	if (!d->autostart_paused && !d->shutting_down && !ev_is_active(&d->autostart_w)) {
		ev_timer_set(&d->autostart_w, 0., 0.);
		ev_timer_start(d->loop, &d->autostart_w);
	}
}

static bool depends_on(const struct server *s, const char *name)
{
	for (size_t i = 0; i < s->conf.ndepends_on; i++)
		if (strlen(s->conf.depends_on[i]) == replica_group_len(name) &&
		    strncmp(s->conf.depends_on[i], name, replica_group_len(name)) == 0)
			return true;	/* name: a server's, or a replica's NAME#K: its entry's */
	return false;
}

/* Forget s for good: the caller made sure it has no process and is on no stack. */
static void free_server(struct daemon *d, size_t i)
{
	struct server *s = d->servers[i];

	memmove(&d->servers[i], &d->servers[i + 1], (d->nservers - i - 1) * sizeof(*d->servers));
	d->nservers--;
	d->ndepending -= s->conf.ndepends_on > 0;
	control_forget_server(d->control, s);
	server_free(s);
}

void daemon_sweep(struct daemon *d)
{
	ev_check_stop(d->loop, &d->sweep_w);
	for (size_t i = 0; i < d->nservers;) {
		struct server *s = d->servers[i];
		char *name;

		if (!s->removed || s->pid != 0 || s->state == ST_STOPPING) {
			i++;
			continue;
		}
		name = xstrdup(s->conf.name);
		free_server(d, i);
		/* Servers that waited for it wait for nothing now. */
		for (size_t j = 0; j < d->nservers; j++) {
			struct server *t = d->servers[j];

			if (t->state == ST_STARTING && t->pid == 0 && depends_on(t, name))
				lifecycle_event(t, SE_DEPS, NULL);
		}
		free(name);
	}
}

pid_t *daemon_own_children(const struct daemon *d, size_t *ret_n)
{
	pid_t *keep = xcalloc(d->nservers + 2 * check_exec_running() + 2, sizeof(*keep));
	size_t n = 0;

	if (guard_pid() > 0)
		keep[n++] = guard_pid();
	if (history_writer_pid(d->history) > 0)
		keep[n++] = history_writer_pid(d->history);
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->pid > 0)
			keep[n++] = d->servers[i]->pid;
	n += check_exec_pids(keep + n);	/* health.exec checks running, and their secret readers */
	*ret_n = n;
	return keep;
}

void daemon_kill_strays(struct daemon *d)
{
	pid_t *keep;
	size_t n;
	int killed;

	/*
	 * With a cgroup per server, a server's leftovers died with its cgroup at
	 * reap; a child of ours outside every server's group may still be another
	 * running server's setsid()'d descendant: not ours to kill. Without
	 * cgroups, each server's process adopts its own orphans (a subreaper), so
	 * a stray re-parented to mcpd is one whose server has exited.
	 */
	if (cgroup_enabled())
		return;
	keep = daemon_own_children(d, &n);
	killed = orphans_kill_strays(keep, n);
	if (killed > 0)
		log_notice(NULL, NULL, "killed %d orphaned process%s left behind by an exited server", killed,
			   killed == 1 ? "" : "es");
	free(keep);
}

/* Stop every server whose dependents have no process left (queued: see lifecycle_event). */
static void shutdown_step(struct daemon *d)
{
	bool *blocked = xcalloc(d->nservers + 1, sizeof(*blocked));

	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *t = d->servers[i];

		for (size_t j = 0; t->pid > 0 && j < t->conf.ndepends_on; j++) {
			for (size_t k = 0; k < d->nservers; k++)
				if (replica_in_group(d->servers[k], t->conf.depends_on[j]))
					blocked[k] = true;
		}
	}
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (s->state != ST_STOPPING && s->state != ST_STOPPED && s->state != ST_EXITED && !blocked[i])
			lifecycle_event(s, SE_STOP, &(struct event_arg){ .reason = "mcpd is shutting down" });
	}
	free(blocked);
}

void daemon_events_settled(struct daemon *d)
{
	if (!d->shutting_down || d->stopped_all)
		return;
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->pid > 0)
			return;
	d->stopped_all = true;
	log_info(NULL, NULL, "every server has stopped");
	ev_break(d->loop, EVBREAK_ALL);
}

/*
 * Start-up's handshakes (every server's InitializeResult and tool list,
 * its queued messages) leave free pages all over the heap: once the last
 * of them ended, they go back at once rather than at the next trim timer.
 */
static void trim_after_startup(struct daemon *d)
{
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->state == ST_STARTING && d->servers[i]->pid > 0)
			return;
	d->startup_trimmed = true;
	malloc_trim(0);
}

void daemon_state_changed(struct daemon *d, struct server *s)
{
	sdnotify_status_changed(d);
	aggregate_server_changed(d, s);	/* aggregate clients: its tools came or went */
	replicas_state_changed(s);	/* a rolling restart goes on once a replica runs again */
	if (s->removed && s->pid == 0)
		ev_check_start(d->loop, &d->sweep_w);
	if (d->shutting_down) {
		shutdown_step(d);
		return;
	}
	if (d->autostart_paused && !(s->state == ST_STARTING && s->pid > 0)) {
		d->autostart_paused = false;	/* a handshake ended: autostart the next batch */
		ev_timer_set(&d->autostart_w, 0., 0.);
		ev_timer_start(d->loop, &d->autostart_w);
	}
	if (d->autostart_done && !d->startup_trimmed && !(s->state == ST_STARTING && s->pid > 0))
		trim_after_startup(d);
	/* A dependency is running now, or went away: wake the servers waiting on it (none without a depends_on). */
	for (size_t i = 0; d->ndepending > 0 && i < d->nservers; i++) {
		struct server *t = d->servers[i];

		if (t != s && t->state == ST_STARTING && t->pid == 0 && depends_on(t, s->conf.name))
			lifecycle_event(t, SE_DEPS, NULL);
	}
}

static void on_shutdown_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;

	log_error(NULL, NULL, "servers still running after shutdown_timeout; killing them");
	for (size_t i = 0; i < d->nservers; i++)
		server_kill(d->servers[i], SIGKILL);
	ev_break(loop, EVBREAK_ALL);
}

void daemon_shutdown(struct daemon *d, const char *cause)
{
	if (d->shutting_down)
		return;
	d->shutting_down = true;
	snprintf(d->stopping, sizeof(d->stopping), "mcpd is stopping (%s)", cause);
	sdnotify_stopping(d);
	approvals_stop();	/* held calls are answered as denied: nothing is kept */
	log_notice(NULL, NULL, "shutting down: stopping %zu server%s in reverse dependency order", d->nservers,
		   d->nservers == 1 ? "" : "s");
	ev_timer_init(&d->shutdown_timer, on_shutdown_timeout, (double)d->manifest->mcpd.shutdown_timeout_ms / 1000., 0.);
	d->shutdown_timer.data = d;
	ev_timer_start(d->loop, &d->shutdown_timer);
	ev_timer_stop(d->loop, &d->autostart_w);
	shutdown_step(d);
	daemon_events_settled(d);	/* nothing was running at all */
}
