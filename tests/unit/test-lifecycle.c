/*
 * Unit tests of the lifecycle table and its event queue: transitions, and
 * that a transition never runs inside another. The daemon, the process and
 * the probes are stubs that record what the lifecycle asked of them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "mcp-stdio.h"
#include "probe-http.h"
#include "relay-state.h"
#include "server.h"
#include "server-limits.h"

/* ---- stubs ---------------------------------------------------------------- */

static struct daemon dm;
static struct server *servers[8];
static size_t nservers;
static pid_t next_pid = 1000;

/* What happened, in order: "name:state" per transition, "spawn:name", ... */
static char trace[2048];
static int depth, max_depth;	/* daemon_state_changed() on the stack */
static unsigned health_starts;

/* Run by daemon_state_changed(): a test's follow-up events, as the daemon's would be. */
static void (*on_changed)(struct server *s);

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	size_t n = strlen(trace);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(trace + n, sizeof(trace) - n, fmt, ap);
	va_end(ap);
	n = strlen(trace);
	snprintf(trace + n, sizeof(trace) - n, " ");
}

struct server *daemon_find_server(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < nservers; i++)
		if (strcmp(servers[i]->conf.name, name) == 0)
			return servers[i];
	return NULL;
}

void daemon_state_changed(struct daemon *d, struct server *s)
{
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	note("%s:%s", s->conf.name, server_state_name(s->state));
	/* Wake the dependents, like the real one. */
	for (size_t i = 0; i < nservers; i++) {
		struct server *t = servers[i];

		for (size_t j = 0; j < t->conf.ndepends_on; j++)
			if (t != s && t->state == ST_STARTING && t->pid == 0 &&
			    strcmp(t->conf.depends_on[j], s->conf.name) == 0)
				lifecycle_event(t, SE_DEPS, NULL);
	}
	if (on_changed)
		on_changed(s);
	depth--;
}

void daemon_events_settled(struct daemon *d)
{
}

int server_spawn(struct server *s)
{
	note("spawn:%s", s->conf.name);
	s->pid = next_pid++;
	s->in_handshake = true;
	return 0;
}

void server_kill(struct server *s, int sig)
{
	note("kill:%s:%d", s->conf.name, sig);
}

void server_close_stdin(struct server *s)
{
	note("close:%s", s->conf.name);
}

void server_reaped(struct server *s)
{
	s->pid = 0;
	s->in_handshake = false;
}

void server_reason(const struct server *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s", s->reason);
}

const char *server_state_name(enum server_state st)
{
	static const char *const names[ST__COUNT] = {
		"stopped", "starting", "running", "unhealthy", "stopping", "exited", "backoff", "failed",
	};

	return st < ST__COUNT ? names[st] : "?";
}

void health_start(struct server *s)
{
	health_starts++;
	note("probe:%s", s->conf.name);
}

void health_stop(struct server *s)
{
}

void relay_state_ready(struct server *s)
{
}

void health_http_begin(struct server *s)
{
}

void probe_http_reset(struct server *s)
{
}

const char *mcp_stdio_handshake_method(const struct server *s)
{
	return "initialize";
}

void mcp_stdio_handshake_note(const struct server *s, char *buf, size_t size)
{
	snprintf(buf, size, " during the MCP handshake");
}

bool limits_exit_reason(struct server *s, int status, char *buf, size_t size)
{
	(void)s;
	(void)status;
	(void)buf;
	(void)size;
	return false;
}

/* ---- fixtures ------------------------------------------------------------- */

static char *argv_example[] = { "example", NULL };

static struct server *add(const char *name, const char *dep)
{
	struct server *s = calloc(1, sizeof(*s));

	s->d = &dm;
	s->conf.name = strdup(name);
	s->conf.command = argv_example;
	s->conf.transport = TRANSPORT_STDIO;
	s->conf.restart = RESTART_ALWAYS;
	s->conf.backoff = (struct backoff_conf){ .initial_ms = 1000, .max_ms = 60000, .factor = 2, .jitter = 0 };
	s->conf.circuit = (struct circuit_conf){ .failures = 0 };
	s->conf.health.start_timeout_ms = 30000;
	s->conf.stop.timeout_ms = 10000;
	s->conf.stop.signal = SIGTERM;
	s->conf.reset_after_ms = 60000;
	if (dep) {
		s->conf.depends_on = calloc(1, sizeof(char *));
		s->conf.depends_on[0] = strdup(dep);
		s->conf.ndepends_on = 1;
	}
	circuit_init(&s->circuit);
	ev_timer_init(&s->timer, NULL, 0., 0.);
	s->timer.data = s;
	servers[nservers++] = s;
	return s;
}

static int setup(void **state)
{
	memset(&dm, 0, sizeof(dm));
	dm.loop = ev_default_loop(0);
	trace[0] = '\0';
	depth = max_depth = 0;
	health_starts = 0;
	on_changed = NULL;
	return 0;
}

static int teardown(void **state)
{
	for (size_t i = 0; i < nservers; i++) {
		struct server *s = servers[i];

		lifecycle_forget_server(s);
		ev_timer_stop(dm.loop, &s->timer);
		circuit_free(&s->circuit);
		if (s->conf.depends_on)
			free(s->conf.depends_on[0]);
		free(s->conf.depends_on);
		free(s->conf.name);
		free(s);
	}
	nservers = 0;
	assert_null(dm.events.head);
	return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_start_handshake_running(void **state)
{
	struct server *s = add("a", NULL);

	lifecycle_event(s, SE_START, NULL);
	assert_int_equal(s->state, ST_STARTING);
	assert_true(s->wanted);
	assert_true(s->pid > 0);
	assert_true(ev_is_active(&s->timer));	/* the handshake budget */
	lifecycle_event(s, SE_READY, NULL);
	assert_int_equal(s->state, ST_RUNNING);
	assert_false(ev_is_active(&s->timer));
	/* The entry action of running starts the probes, once. */
	assert_int_equal(health_starts, 1);
	assert_string_equal(trace, "spawn:a a:starting probe:a a:running ");
}

static void test_exit_backoff_retry(void **state)
{
	struct server *s = add("a", NULL);

	lifecycle_event(s, SE_START, NULL);
	lifecycle_event(s, SE_READY, NULL);
	lifecycle_event(s, SE_EXIT, &(struct event_arg){ .wait_status = 1 << 8 });
	assert_int_equal(s->state, ST_BACKOFF);
	assert_int_equal(s->pid, 0);
	assert_string_equal(s->reason, "exited with status 1");
	assert_int_equal(s->attempt, 1);
	lifecycle_event(s, SE_TIMER, NULL);
	assert_int_equal(s->state, ST_STARTING);
	assert_true(s->pid > 0);
}

static void test_fail_stops_then_backoff(void **state)
{
	struct server *s = add("a", NULL);

	lifecycle_event(s, SE_START, NULL);
	lifecycle_event(s, SE_FAIL, &(struct event_arg){ .reason = "sent garbage" });
	assert_int_equal(s->state, ST_STOPPING);
	assert_string_equal(s->reason, "sent garbage");
	lifecycle_event(s, SE_EXIT, &(struct event_arg){ .wait_status = SIGTERM });
	assert_int_equal(s->state, ST_BACKOFF);
	assert_string_equal(s->reason, "sent garbage");
}

static void test_operator_stop(void **state)
{
	struct server *s = add("a", NULL);

	lifecycle_event(s, SE_START, NULL);
	lifecycle_event(s, SE_READY, NULL);
	lifecycle_event(s, SE_STOP, NULL);
	assert_int_equal(s->state, ST_STOPPING);
	assert_false(s->wanted);
	assert_string_equal(s->reason, "stopped by operator");
	lifecycle_event(s, SE_EXIT, &(struct event_arg){ .wait_status = 0 });
	assert_int_equal(s->state, ST_STOPPED);
}

/* A server waiting for its autostart turn is wanted; a stop makes it unwanted. */
static void test_stop_before_autostart(void **state)
{
	struct server *s = add("a", NULL);

	s->wanted = s->autostart_pending = true;
	lifecycle_event(s, SE_STOP, NULL);
	assert_int_equal(s->state, ST_STOPPED);
	assert_false(s->wanted);
	assert_false(s->autostart_pending);
	assert_string_equal(trace, "");	/* no transition: stopped it was */
}

/* A dependency pulled up by its dependent starts after the dependent's transition, not inside it. */
static void test_dependency_runs_after(void **state)
{
	struct server *db = add("db", NULL);
	struct server *app = add("app", "db");

	lifecycle_event(app, SE_START, NULL);
	assert_int_equal(app->state, ST_STARTING);
	assert_int_equal(app->pid, 0);
	assert_int_equal(db->state, ST_STARTING);
	assert_string_equal(trace, "app:starting spawn:db db:starting ");
	assert_int_equal(max_depth, 1);
	lifecycle_event(db, SE_READY, NULL);
	/* db's running woke app: it spawned after db's transition. */
	assert_int_equal(app->state, ST_STARTING);
	assert_true(app->pid > 0);
	assert_int_equal(max_depth, 1);
}

static struct server *victim;
static char stack_reason[64];

/* Follow-ups queued from inside a transition: a reason from a buffer that is gone once it ran. */
static void stop_victim(struct server *s)
{
	if (s == victim)
		return;
	snprintf(stack_reason, sizeof(stack_reason), "asked by %s", s->conf.name);
	lifecycle_event(victim, SE_STOP, &(struct event_arg){ .reason = stack_reason });
	assert_int_equal(victim->state, ST_RUNNING);	/* queued, not run */
	memset(stack_reason, 'x', sizeof(stack_reason) - 1);
}

static void test_no_nesting_reason_copied(void **state)
{
	struct server *a = add("a", NULL);

	victim = add("b", NULL);
	lifecycle_event(victim, SE_START, NULL);
	lifecycle_event(victim, SE_READY, NULL);
	trace[0] = '\0';
	on_changed = stop_victim;
	lifecycle_event(a, SE_START, NULL);
	on_changed = NULL;
	assert_int_equal(max_depth, 1);
	assert_int_equal(victim->state, ST_STOPPING);
	assert_string_equal(victim->reason, "asked by a");
	assert_string_equal(trace, "spawn:a a:starting close:b b:stopping ");
	assert_null(dm.events.head);
	assert_int_equal(dm.events.n, 0);
}

/* The same follow-up asked for many times is queued once; the queue stays small. */
static void flood_victim(struct server *s)
{
	if (s == victim)
		return;
	for (int i = 0; i < 100; i++)
		lifecycle_event(victim, SE_DEPS, NULL);
	assert_int_equal(victim->events_queued, 1);
	for (int i = 0; i < 100; i++) {
		lifecycle_event(victim, SE_START, NULL);
		lifecycle_event(victim, SE_DEPS, NULL);
	}
	assert_true(victim->events_queued <= LIFECYCLE_QUEUE_PER_SERVER);
	assert_true(dm.events.n <= LIFECYCLE_QUEUE_PER_SERVER);
}

static void test_queue_bounded(void **state)
{
	struct server *a = add("a", NULL);

	victim = add("b", NULL);
	on_changed = flood_victim;
	lifecycle_event(a, SE_START, NULL);
	on_changed = NULL;
	assert_null(dm.events.head);
	assert_int_equal(victim->events_queued, 0);
}

/* Events queued for a server that is freed meanwhile never run. */
static void forget_victim(struct server *s)
{
	if (s == victim)
		return;
	lifecycle_event(victim, SE_START, NULL);
	lifecycle_forget_server(victim);
}

static void test_forget_drops_events(void **state)
{
	struct server *a = add("a", NULL);

	victim = add("b", NULL);
	on_changed = forget_victim;
	lifecycle_event(a, SE_START, NULL);
	on_changed = NULL;
	assert_int_equal(victim->state, ST_STOPPED);
	assert_int_equal(victim->pid, 0);
	assert_string_equal(trace, "spawn:a a:starting ");
}

/* A server removed by a reload is only ever stopped. */
static void test_removed_not_restarted(void **state)
{
	struct server *s = add("a", NULL);

	lifecycle_event(s, SE_START, NULL);
	lifecycle_event(s, SE_READY, NULL);
	s->removed = true;
	lifecycle_event(s, SE_STOP, &(struct event_arg){ .reason = "removed from the manifest" });
	assert_int_equal(s->state, ST_STOPPING);
	lifecycle_event(s, SE_START, NULL);
	lifecycle_event(s, SE_RESTART, NULL);
	lifecycle_event(s, SE_EXIT, &(struct event_arg){ .wait_status = 0 });
	assert_int_equal(s->state, ST_STOPPED);
	assert_int_equal(s->pid, 0);
	assert_string_equal(s->reason, "removed from the manifest");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_handshake_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_backoff_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_stops_then_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_operator_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_before_autostart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dependency_runs_after, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_nesting_reason_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_drops_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_not_restarted, setup, teardown),
	};

	log_setup(LOG_FORMAT_TEXT, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
