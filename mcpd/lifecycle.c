/*
 * Where restarts are decided. Each cell of the table below names the action
 * for one event in one state; an empty cell means the event changes nothing
 * in that state. Actions return the next state and set the reason.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "backoff.h"
#include "daemon.h"
#include "duration.h"
#include "lifecycle.h"
#include "health.h"
#include "log.h"
#include "mcp-stdio.h"
#include "probe-http.h"
#include "relay-state.h"
#include "server.h"
#include "server-limits.h"
#include "xmalloc.h"

typedef enum server_state (*action_fn)(struct server *s, const struct event_arg *arg);

#define KILL_GRACE 5.0	/* after SIGKILL, how long before we complain */

static double ms(uint64_t v)
{
	return (double)v / 1000.;
}

static void set_timer(struct server *s, double seconds)
{
	ev_timer_stop(s->d->loop, &s->timer);
	ev_timer_set(&s->timer, seconds, 0.);
	ev_timer_start(s->d->loop, &s->timer);
}

/*
 * The handshake budget starts when the process does. ev_now() is the time the
 * loop iteration began: after a batch of spawns it can be long past.
 */
static void start_timer(struct server *s)
{
	ev_now_update(s->d->loop);
	set_timer(s, ms(s->conf.health.start_timeout_ms));
}

static void stop_timer(struct server *s)
{
	ev_timer_stop(s->d->loop, &s->timer);
}

void describe_wait_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)%s", WTERMSIG(status), signal_to_name(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, size, "ended with wait status 0x%x", (unsigned)status);
}

/* The first dependency that is not running, or NULL when all are. */
static struct server *blocking_dependency(const struct server *s)
{
	for (size_t i = 0; i < s->conf.ndepends_on; i++) {
		struct server *dep = daemon_find_server(s->d, s->conf.depends_on[i]);

		if (dep && dep->state != ST_RUNNING)
			return dep;
	}
	return NULL;
}

/* Spawn the process if the dependencies are running; otherwise wait for them. */
static enum server_state begin_start(struct server *s);

/*
 * Starting again after a failure, the failure stays visible until the server
 * runs (as systemd's "activating (auto-restart)"): the engineer sees why.
 */
static void reason_while_starting(struct server *s)
{
	char last[sizeof(s->reason)];

	if ((s->state == ST_BACKOFF || s->state == ST_FAILED) && s->reason[0] &&
	    strncmp(s->reason, "restarting after: ", 18) != 0) {
		snprintf(last, sizeof(last), "%s", s->reason);
		snprintf(s->reason, sizeof(s->reason), "restarting after: %.237s", last);
	} else if (s->state != ST_BACKOFF && s->state != ST_FAILED) {
		s->reason[0] = '\0';
	}
}

static enum server_state after_failure(struct server *s, const char *why, bool clean_exit)
{
	struct daemon *d = s->d;
	double now = ev_now(d->loop);
	char delay[32];

	snprintf(s->reason, sizeof(s->reason), "%s", why);
	s->next_try = 0;
	if (!s->wanted || d->shutting_down)
		return ST_EXITED;
	if (s->running_since > 0 && now - s->running_since >= ms(s->conf.reset_after_ms))
		s->attempt = 0;
	s->running_since = 0;
	if (s->conf.restart == RESTART_NEVER)
		return ST_EXITED;
	if (s->conf.restart == RESTART_ON_FAILURE && clean_exit)
		return ST_EXITED;

	if (s->circuit_trial || circuit_record_failure(&s->circuit, &s->conf.circuit, (uint64_t)(now * 1000))) {
		s->circuit_trial = false;
		s->next_try = now + ms(s->conf.circuit.cooldown_ms);
		set_timer(s, ms(s->conf.circuit.cooldown_ms));
		duration_format(s->conf.circuit.window_ms, delay, sizeof(delay));
		snprintf(s->reason, sizeof(s->reason), "%s; %u failures in %s, circuit open", why,
			 s->conf.circuit.failures, delay);
		return ST_FAILED;
	}
	s->attempt++;
	{
		uint64_t wait_ms = backoff_delay_ms(&s->conf.backoff, s->attempt, drand48());

		s->next_try = now + ms(wait_ms);
		set_timer(s, ms(wait_ms));
	}
	return ST_BACKOFF;
}

static enum server_state begin_start(struct server *s)
{
	struct server *dep = blocking_dependency(s);

	s->next_try = 0;
	stop_timer(s);
	if (dep) {
		/* Pull the dependency up, as systemd's Requires= would. */
		if (!dep->wanted || dep->state == ST_STOPPED || dep->state == ST_EXITED)
			lifecycle_event(dep, SE_START, NULL);
		s->reason[0] = '\0';	/* server_reason() names the dependency */
		return ST_STARTING;
	}
	if (s->conf.transport == TRANSPORT_HTTP) {
		/* Running once it answers MCP over HTTP; without a command, it is only watched. */
		if (s->conf.command) {
			ev_now_update(s->d->loop);	/* started_at: now, not when the iteration began */
			if (server_spawn(s) < 0)
				return after_failure(s, s->fail_reason, false);
		}
		s->reason[0] = '\0';	/* the probes say why it is not running yet */
		health_http_begin(s);
		if (s->conf.command)
			start_timer(s);
		return ST_STARTING;
	}
	ev_now_update(s->d->loop);
	if (server_spawn(s) < 0)
		return after_failure(s, s->fail_reason, false);
	reason_while_starting(s);
	start_timer(s);
	return ST_STARTING;
}

/* Ask the process to end; what follows its exit depends on cause. */
static enum server_state begin_stop(struct server *s, enum stop_cause cause)
{
	s->stop_cause = cause;
	if (cause == STOP_FAILURE) {
		/* A server that fails its handshake or probes is not listening: no grace. */
		s->stop_phase = STOP_PHASE_SIGNAL;
		server_kill(s, s->conf.stop.signal);
		set_timer(s, ms(s->conf.stop.timeout_ms));
	} else {
		s->stop_phase = STOP_PHASE_STDIN;
		server_close_stdin(s);
		/* MCP stdio: EOF on stdin asks the server to exit; give it part of the budget. */
		set_timer(s, ms(s->conf.stop.timeout_ms) / 2);
	}
	return ST_STOPPING;
}

static void reset_failures(struct server *s)
{
	s->attempt = 0;
	s->circuit_trial = false;
	circuit_reset(&s->circuit);
}

/* ---- actions ------------------------------------------------------------ */

static enum server_state act_start(struct server *s, const struct event_arg *arg)
{
	s->wanted = true;
	reset_failures(s);
	return begin_start(s);
}

static enum server_state act_start_waiting(struct server *s, const struct event_arg *arg)
{
	s->wanted = true;
	return s->state;
}

static enum server_state act_start_after_stop(struct server *s, const struct event_arg *arg)
{
	s->wanted = true;
	s->stop_cause = STOP_RESTART;
	return ST_STOPPING;
}

static enum server_state act_stop_idle(struct server *s, const struct event_arg *arg)
{
	s->wanted = false;
	s->next_try = 0;
	stop_timer(s);
	health_stop(s);
	probe_http_reset(s);
	snprintf(s->reason, sizeof(s->reason), "%s", arg && arg->reason ? arg->reason : "stopped by operator");
	return ST_STOPPED;
}

static enum server_state act_stop_waiting(struct server *s, const struct event_arg *arg)
{
	if (s->pid == 0)
		return act_stop_idle(s, arg);
	s->wanted = false;
	snprintf(s->reason, sizeof(s->reason), "%s", arg && arg->reason ? arg->reason : "stopped by operator");
	return begin_stop(s, STOP_OPERATOR);
}

static enum server_state act_stop_running(struct server *s, const struct event_arg *arg)
{
	if (s->pid == 0)
		return act_stop_idle(s, arg);	/* a monitor-only http server: nothing to stop */
	s->wanted = false;
	snprintf(s->reason, sizeof(s->reason), "%s", arg && arg->reason ? arg->reason : "stopped by operator");
	return begin_stop(s, STOP_OPERATOR);
}

static enum server_state act_stop_stopping(struct server *s, const struct event_arg *arg)
{
	s->wanted = false;
	s->stop_cause = STOP_OPERATOR;
	return ST_STOPPING;
}

static enum server_state act_restart_idle(struct server *s, const struct event_arg *arg)
{
	s->wanted = true;
	reset_failures(s);
	return begin_start(s);
}

static enum server_state act_restart_live(struct server *s, const struct event_arg *arg)
{
	s->wanted = true;
	reset_failures(s);
	if (s->pid == 0)
		return begin_start(s);
	snprintf(s->reason, sizeof(s->reason), "%s", arg && arg->reason ? arg->reason : "restarted by operator");
	return begin_stop(s, STOP_RESTART);
}

static enum server_state act_ready(struct server *s, const struct event_arg *arg)
{
	stop_timer(s);
	s->in_handshake = false;
	s->running_since = ev_now(s->d->loop);
	if (s->circuit_trial) {
		s->circuit_trial = false;
		circuit_reset(&s->circuit);
		log_notice(s->conf.name, "running", "circuit closed: the trial start succeeded");
	}
	s->reason[0] = '\0';
	health_start(s);	/* entry action of running: probes and the tool list */
	relay_state_ready(s);	/* and its clients' subscriptions and log level, renewed */
	return ST_RUNNING;
}

static enum server_state act_fail(struct server *s, const struct event_arg *arg)
{
	snprintf(s->fail_reason, sizeof(s->fail_reason), "%s", arg->reason);
	snprintf(s->reason, sizeof(s->reason), "%s", arg->reason);
	return begin_stop(s, STOP_FAILURE);
}

static enum server_state act_exit_unexpected(struct server *s, const struct event_arg *arg)
{
	char why[256];
	bool handshake = s->in_handshake;

	char note[128];

	mcp_stdio_handshake_note(s, note, sizeof(note));	/* before the reset forgets the probe */
	stop_timer(s);
	server_reaped(s);
	if (s->exec_failed)
		snprintf(why, sizeof(why), "%s", s->fail_reason);
	else if (!limits_exit_reason(s, arg->wait_status, why, sizeof(why)))
		describe_wait_status(arg->wait_status, why, sizeof(why));
	if (handshake && !s->exec_failed) {
		size_t n = strlen(why);

		snprintf(why + n, sizeof(why) - n, "%s", note);
	}
	return after_failure(s, why,
			     !handshake && WIFEXITED(arg->wait_status) && WEXITSTATUS(arg->wait_status) == 0);
}

static enum server_state act_exit_stopping(struct server *s, const struct event_arg *arg)
{
	enum stop_cause cause = s->stop_cause;

	stop_timer(s);
	server_reaped(s);
	s->stop_cause = STOP_NONE;
	s->stop_phase = STOP_PHASE_NONE;
	switch (cause) {
	case STOP_FAILURE:
		if (s->wanted && !s->d->shutting_down)
			return after_failure(s, s->fail_reason, false);
		return ST_STOPPED;
	case STOP_RESTART:
		if (s->wanted && !s->d->shutting_down)
			return begin_start(s);
		return ST_STOPPED;
	case STOP_OPERATOR:
	case STOP_NONE:
		break;
	}
	return ST_STOPPED;
}

static enum server_state act_handshake_timeout(struct server *s, const struct event_arg *arg)
{
	char d[32], why[256];

	if (s->pid == 0)
		return s->state;
	duration_format(s->conf.health.start_timeout_ms, d, sizeof(d));
	if (s->conf.transport == TRANSPORT_HTTP)
		snprintf(why, sizeof(why), "no MCP answer over HTTP within %s (%.160s)", d,
			 s->reason[0] ? s->reason : "no answer");
	else
		snprintf(why, sizeof(why), "no answer to %s within %s",
			 mcp_stdio_handshake_method(s) ? mcp_stdio_handshake_method(s) : "the MCP handshake", d);
	return act_fail(s, &(struct event_arg){ .reason = why });
}

static enum server_state act_retry(struct server *s, const struct event_arg *arg)
{
	return begin_start(s);
}

static enum server_state act_cooldown_over(struct server *s, const struct event_arg *arg)
{
	s->circuit_trial = true;
	log_notice(s->conf.name, "failed", "cooldown over: trying one start (circuit half-open)");
	return begin_start(s);
}

static enum server_state act_stop_escalate(struct server *s, const struct event_arg *arg)
{
	char d[32];

	switch (s->stop_phase) {
	case STOP_PHASE_NONE:
	case STOP_PHASE_STDIN:
		s->stop_phase = STOP_PHASE_SIGNAL;
		server_kill(s, s->conf.stop.signal);
		set_timer(s, ms(s->conf.stop.timeout_ms) / 2);
		break;
	case STOP_PHASE_SIGNAL:
		duration_format(s->conf.stop.timeout_ms, d, sizeof(d));
		log_warning(s->conf.name, "stopping", "still running %s after it was asked to stop; sending SIGKILL", d);
		s->stop_phase = STOP_PHASE_KILL;
		server_kill(s, SIGKILL);
		set_timer(s, KILL_GRACE);
		break;
	case STOP_PHASE_KILL:
		log_error(s->conf.name, "stopping", "pid %d survived SIGKILL for %.0fs (stuck in the kernel?); still waiting",
			  (int)s->pid, KILL_GRACE);
		server_kill(s, SIGKILL);
		set_timer(s, KILL_GRACE);
		break;
	}
	return ST_STOPPING;
}

static enum server_state act_unhealthy(struct server *s, const struct event_arg *arg)
{
	snprintf(s->reason, sizeof(s->reason), "%s", arg->reason);
	return ST_UNHEALTHY;
}

static enum server_state act_recovered(struct server *s, const struct event_arg *arg)
{
	log_notice(s->conf.name, "running", "recovered: probes pass again");
	s->reason[0] = '\0';
	return ST_RUNNING;
}

static enum server_state act_deps_changed(struct server *s, const struct event_arg *arg)
{
	if (s->pid != 0 || !s->wanted || blocking_dependency(s))
		return s->state;
	return begin_start(s);
}

/* ---- the table ---------------------------------------------------------- */

static const action_fn table[ST__COUNT][SE__COUNT] = {
	[ST_STOPPED] = {
		[SE_START] = act_start,
		[SE_STOP] = act_stop_idle,	/* still waiting for its autostart turn */
		[SE_RESTART] = act_restart_idle,
	},
	[ST_STARTING] = {
		[SE_START] = act_start_waiting,
		[SE_STOP] = act_stop_waiting,
		[SE_RESTART] = act_restart_live,
		[SE_READY] = act_ready,
		[SE_FAIL] = act_fail,
		[SE_EXIT] = act_exit_unexpected,
		[SE_TIMER] = act_handshake_timeout,
		[SE_DEPS] = act_deps_changed,
	},
	[ST_RUNNING] = {
		[SE_UNHEALTHY] = act_unhealthy,
		[SE_STOP] = act_stop_running,
		[SE_RESTART] = act_restart_live,
		[SE_FAIL] = act_fail,
		[SE_EXIT] = act_exit_unexpected,
	},
	[ST_UNHEALTHY] = {
		[SE_UNHEALTHY] = act_unhealthy,
		[SE_HEALTHY] = act_recovered,
		[SE_STOP] = act_stop_running,
		[SE_RESTART] = act_restart_live,
		[SE_FAIL] = act_fail,
		[SE_EXIT] = act_exit_unexpected,
	},
	[ST_STOPPING] = {
		[SE_START] = act_start_after_stop,
		[SE_STOP] = act_stop_stopping,
		[SE_RESTART] = act_start_after_stop,
		[SE_EXIT] = act_exit_stopping,
		[SE_TIMER] = act_stop_escalate,
	},
	[ST_EXITED] = {
		[SE_START] = act_start,
		[SE_STOP] = act_stop_idle,
		[SE_RESTART] = act_restart_idle,
	},
	[ST_BACKOFF] = {
		[SE_START] = act_start,
		[SE_STOP] = act_stop_idle,
		[SE_RESTART] = act_restart_idle,
		[SE_TIMER] = act_retry,
	},
	[ST_FAILED] = {
		[SE_START] = act_start,
		[SE_STOP] = act_stop_idle,
		[SE_RESTART] = act_restart_idle,
		[SE_TIMER] = act_cooldown_over,
	},
};

static const char *const event_names[SE__COUNT] = {
	[SE_START] = "start", [SE_STOP] = "stop", [SE_RESTART] = "restart", [SE_READY] = "ready",
	[SE_FAIL] = "fail", [SE_EXIT] = "exit", [SE_TIMER] = "timer", [SE_DEPS] = "deps",
	[SE_UNHEALTHY] = "unhealthy", [SE_HEALTHY] = "healthy",
};

const char *server_event_name(enum server_event ev)
{
	return ev < SE__COUNT ? event_names[ev] : "?";
}

static void log_transition(const struct server *s, enum server_state from)
{
	char reason[320];
	const char *st = server_state_name(s->state);

	server_reason(s, reason, sizeof(reason));
	if (s->state == ST_STARTING && s->pid)
		log_info(s->conf.name, st, "starting: pid %d%s%s", (int)s->pid, *reason ? ", " : "", reason);
	else if (s->state == ST_BACKOFF || s->state == ST_FAILED || s->state == ST_UNHEALTHY)
		log_warning(s->conf.name, st, "%s: %s", st, reason);
	else if (s->state == ST_EXITED && *reason)
		log_notice(s->conf.name, st, "%s: %s", st, reason);
	else if (*reason)
		log_info(s->conf.name, st, "%s: %s", st, reason);
	else
		log_info(s->conf.name, st, "%s (was %s)", st, server_state_name(from));
}

/* Run one event: the table's action, then what follows a change of state. */
static void dispatch(struct server *s, enum server_event ev, const struct event_arg *arg)
{
	enum server_state from = s->state, to;
	pid_t pid_before = s->pid;
	action_fn act = table[s->state][ev];

	if (s->removed && (ev == SE_START || ev == SE_RESTART || ev == SE_DEPS))
		return;	/* on its way out: only stopping it makes sense */
	if (ev == SE_START || ev == SE_STOP || ev == SE_RESTART)
		s->autostart_pending = false;	/* the operator (or a dependent) decided first */
	if (ev == SE_EXIT && arg) {
		s->exit_known = true;	/* server_reaped tells the clients how it ended */
		s->exit_status = arg->wait_status;
	}
	if (!act) {
		if (ev == SE_EXIT)
			server_reaped(s);	/* never leave a zombie's pipes behind */
		return;
	}
	to = act(s, arg);
	if (to == from && s->pid == pid_before)
		return;
	s->state = to;
	s->state_since = ev_now(s->d->loop);
	log_transition(s, from);
	daemon_state_changed(s->d, s);
}

/*
 * One event waiting for the transition before it to end. The reason is
 * copied: the caller's buffer is gone by the time it runs.
 */
struct lifecycle_item {
	struct lifecycle_item *next;
	struct server *s;
	enum server_event ev;
	bool has_arg;
	int wait_status;
	char *reason;
};

static void item_free(struct lifecycle_item *it)
{
	free(it->reason);
	free(it);
}

static struct lifecycle_item *pop(struct daemon *d)
{
	struct lifecycle_item *it = d->events.head;

	if (!it)
		return NULL;
	d->events.head = it->next;
	if (!d->events.head)
		d->events.tail = NULL;
	d->events.n--;
	it->s->events_queued--;
	return it;
}

static bool enqueue(struct server *s, enum server_event ev, const struct event_arg *arg)
{
	struct daemon *d = s->d;
	struct lifecycle_item *it;

	/* The same event twice in a row for one server changes nothing the first did not. */
	if (s->events_queued > 0 && s->last_queued == (int)ev && ev != SE_EXIT)
		return true;
	if (s->events_queued >= LIFECYCLE_QUEUE_PER_SERVER && ev != SE_EXIT) {
		/* Cannot happen with today's actions; if it does, say so once per server. */
		if (!s->events_overflowed)
			log_error(s->conf.name, server_state_name(s->state),
				  "%u lifecycle events are queued already; dropping \"%s\" (a bug in mcpd)",
				  s->events_queued, server_event_name(ev));
		s->events_overflowed = true;
		return false;
	}
	it = xcalloc(1, sizeof(*it));
	it->s = s;
	it->ev = ev;
	if (arg) {
		it->has_arg = true;
		it->wait_status = arg->wait_status;
		it->reason = arg->reason ? xstrdup(arg->reason) : NULL;
	}
	if (d->events.tail)
		d->events.tail->next = it;
	else
		d->events.head = it;
	d->events.tail = it;
	d->events.n++;
	s->events_queued++;
	s->last_queued = (int)ev;
	return true;
}

void lifecycle_event(struct server *s, enum server_event ev, const struct event_arg *arg)
{
	struct daemon *d = s->d;
	struct lifecycle_item *it;

	enqueue(s, ev, arg);
	if (d->events.running)
		return;	/* the loop below, further up the stack, runs it next */
	d->events.running = true;
	while ((it = pop(d))) {
		struct event_arg a = { .wait_status = it->wait_status, .reason = it->reason };

		dispatch(it->s, it->ev, it->has_arg ? &a : NULL);
		item_free(it);
	}
	d->events.running = false;
	daemon_events_settled(d);
}

void lifecycle_forget_server(struct server *s)
{
	struct daemon *d = s->d;
	struct lifecycle_item **pp = &d->events.head, *it;

	d->events.tail = NULL;
	while ((it = *pp)) {
		if (it->s == s) {
			*pp = it->next;
			d->events.n--;
			item_free(it);
			continue;
		}
		d->events.tail = it;
		pp = &it->next;
	}
	s->events_queued = 0;
}
