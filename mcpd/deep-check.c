/* Deep health checks: see deep-check.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-exec.h"
#include "check-output.h"
#include "daemon.h"
#include "deep-check.h"
#include "duration.h"
#include "health.h"
#include "jsonrpc.h"
#include "jsonw.h"
#include "log.h"
#include "mcp-stdio.h"
#include "metrics.h"
#include "probe-http.h"
#include "server.h"
#include "xmalloc.h"

enum check_kind {
	CHECK_CALL,
	CHECK_EXEC,
	CHECK__COUNT,
};

/* The values of mcpd_server_check_status. */
enum check_status {
	CS_OK = 0,
	CS_DEGRADED = 1,
	CS_FAILED = 2,
	CS_UNKNOWN = 3,
};

static const char *const kind_names[CHECK__COUNT] = { "call", "exec" };
static const char *const status_names[] = { "ok", "degraded", "failed", "unknown" };

#define DETAIL_MAX 256

struct check_state {
	enum check_status status;
	char detail[DETAIL_MAX];
	double duration_ms;		/* of the last run, -1 before */
	double finished_at;		/* ev_now(), 0 before */
	uint64_t failures;		/* runs that failed, since the server was added */
};

struct deep_check {
	struct check_state st[CHECK__COUNT];
	/* call */
	bool call_in_flight;
	int64_t call_id;		/* stdio: mcpd's request id */
	double call_sent;
	ev_timer call_timeout_w;
	/* exec */
	struct check_exec *exec;
	unsigned exec_skipped;		/* rounds that found it still running */
	unsigned long exec_strays;	/* processes its runs left outside their group, killed */
};

static bool has_call(const struct server *s)
{
	return s->conf.health.call_tool != NULL;
}

static bool has_exec(const struct server *s)
{
	return s->conf.health.exec != NULL;
}

static void on_call_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static void reset_state(struct check_state *c)
{
	c->status = CS_UNKNOWN;
	c->detail[0] = '\0';
	c->duration_ms = -1;
	c->finished_at = 0;
}

static struct deep_check *checks_of(struct server *s)
{
	if (!s->checks) {
		struct deep_check *dc = xcalloc(1, sizeof(*dc));

		for (size_t i = 0; i < CHECK__COUNT; i++)
			reset_state(&dc->st[i]);
		ev_timer_init(&dc->call_timeout_w, on_call_timeout, 0., 0.);
		dc->call_timeout_w.data = s;
		s->checks = dc;
	}
	return s->checks;
}

static void cancel_call(struct server *s)
{
	struct deep_check *dc = s->checks;

	dc->call_in_flight = false;
	dc->call_id = 0;
	ev_timer_stop(s->d->loop, &dc->call_timeout_w);
}

static void cancel_exec(struct server *s)
{
	struct deep_check *dc = s->checks;
	struct check_exec *x = dc->exec;

	dc->exec = NULL;
	check_exec_cancel(x);
}

void deep_check_free(struct server *s)
{
	if (!s->checks)
		return;
	cancel_call(s);
	cancel_exec(s);
	free(s->checks);
	s->checks = NULL;
}

/* "health.call lookup" or "health.exec", for reasons and logs. */
static void check_label(const struct server *s, enum check_kind k, char *buf, size_t size)
{
	if (k == CHECK_CALL)
		snprintf(buf, size, "health.call %s", s->conf.health.call_tool ? s->conf.health.call_tool : "?");
	else
		snprintf(buf, size, "health.exec");
}

/* A run ended: record it, log a change of status, and tell health.c. */
static void record(struct server *s, enum check_kind k, enum check_status st, const char *detail, double duration_ms)
{
	struct check_state *c = &s->checks->st[k];
	enum check_status was = c->status;
	char label[160];

	check_label(s, k, label, sizeof(label));
	snprintf(c->detail, sizeof(c->detail), "%s", detail);
	c->duration_ms = duration_ms;
	c->finished_at = ev_now(s->d->loop);
	c->status = st;
	if (st == CS_FAILED)
		c->failures++;
	if (st != was) {
		if (st == CS_OK && was != CS_UNKNOWN)
			log_notice(s->conf.name, NULL, "%s passes again: %s", label, detail);
		else if (st == CS_DEGRADED)
			log_warning(s->conf.name, NULL, "%s says degraded: %s; the server keeps running, its health is "
				    "degraded", label, detail);
		/* A failure is logged by the lifecycle, with the count before a restart. */
	}
	if (st == CS_FAILED) {
		char what[200], why[DETAIL_MAX + 4];

		snprintf(what, sizeof(what), "%s failed", label);
		snprintf(why, sizeof(why), ": %s", detail);
		health_check_failed(s, what, why);
	} else {
		health_check_passed(s);
	}
}

/* ---- call --------------------------------------------------------------- */

cJSON *deep_check_call_params(const struct server *s)
{
	cJSON *params = cJSON_CreateObject();
	cJSON *args = s->conf.health.call_arguments ? cJSON_Parse(s->conf.health.call_arguments) : NULL;

	cJSON_AddStringToObject(params, "name", s->conf.health.call_tool ? s->conf.health.call_tool : "");
	cJSON_AddItemToObject(params, "arguments", args ? args : cJSON_CreateObject());
	return params;
}

/* text quoted, control characters and quotes escaped, cut to fit. */
static void quote(const char *text, char *buf, size_t size)
{
	const unsigned char *c = (const unsigned char *)text;
	size_t n = 0;

	buf[n++] = '"';
	/* Whole characters of valid UTF-8, never one cut in two; C1 controls and bytes not UTF-8 as \xNN. */
	for (size_t u; *c && n + 8 < size; c += u) {
		u = check_output_utf8_len((const char *)c, strnlen((const char *)c, 4));
		if (u > 1 && !(u == 2 && c[0] == 0xc2 && c[1] < 0xa0)) {
			memcpy(buf + n, c, u);
			n += u;
			continue;
		}
		u = 1;
		if (*c < 0x20 || *c >= 0x7f)
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *c);
		else if (*c == '"' || *c == '\\')
			n += (size_t)snprintf(buf + n, size - n, "\\%c", *c);
		else
			buf[n++] = (char)*c;
	}
	if (*c) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

/* The first text content of a tool result, or "" */
static const char *result_text(const cJSON *result)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(result, "content")) {
		const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "text"));

		if (t)
			return t;
	}
	return "";
}

static void call_done(struct server *s, const cJSON *error, const cJSON *result, const char *reason)
{
	struct deep_check *dc = s->checks;
	double took = (ev_now(s->d->loop) - dc->call_sent) * 1000.;
	char detail[DETAIL_MAX], q[DETAIL_MAX - 40];

	cancel_call(s);
	if (error) {
		const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		quote(msg ? msg : "(no message)", q, sizeof(q));
		snprintf(detail, sizeof(detail), "JSON-RPC error %d: %s", jsonrpc_error_code(error), q);
		record(s, CHECK_CALL, CS_FAILED, detail, took);
	} else if (reason) {
		quote(reason, q, sizeof(q));
		/* mcpd's own words about the HTTP exchange: escaped, not quoted. */
		q[strlen(q) - 1] = '\0';
		snprintf(detail, sizeof(detail), "%s", q + 1);
		record(s, CHECK_CALL, CS_FAILED, detail, took);
	} else if (!cJSON_IsObject(result)) {
		record(s, CHECK_CALL, CS_FAILED, "the answer has no result object", took);
	} else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError"))) {
		quote(result_text(result), q, sizeof(q));
		snprintf(detail, sizeof(detail), "tool error: %s", q);
		record(s, CHECK_CALL, CS_FAILED, detail, took);
	} else {
		const char *t = result_text(result);

		if (*t) {
			quote(t, q, sizeof(q));
			snprintf(detail, sizeof(detail), "ok: %s", q);
		} else {
			snprintf(detail, sizeof(detail), "ok");
		}
		record(s, CHECK_CALL, CS_OK, detail, took);
	}
}

void deep_check_call_answered(struct server *s, int64_t id, const cJSON *msg)
{
	struct deep_check *dc = s->checks;

	if (!dc || !dc->call_in_flight || id != dc->call_id)
		return;	/* timed out, or a process ago */
	call_done(s, cJSON_GetObjectItemCaseSensitive(msg, "error"), cJSON_GetObjectItemCaseSensitive(msg, "result"),
		  NULL);
}

void deep_check_http_answered(struct server *s, bool ok, const cJSON *result, const char *reason)
{
	struct deep_check *dc = s->checks;

	if (!dc || !dc->call_in_flight)
		return;
	call_done(s, NULL, result, ok ? NULL : reason ? reason : "no answer");
}

static void on_call_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	char d[32], detail[96];

	double took = (ev_now(loop) - s->checks->call_sent) * 1000.;

	cancel_call(s);
	duration_format(s->conf.health.timeout_ms, d, sizeof(d));
	snprintf(detail, sizeof(detail), "no answer within %s (health.timeout)", d);
	record(s, CHECK_CALL, CS_FAILED, detail, took);
}

static void start_call(struct server *s)
{
	struct deep_check *dc = s->checks;

	/* Over HTTP curl ends every request; one that never came back is not waited for forever. */
	if (dc->call_in_flight && ev_now(s->d->loop) - dc->call_sent < 2. * (double)s->conf.health.timeout_ms / 1000.)
		return;
	if (s->conf.transport == TRANSPORT_HTTP) {
		/* curl times it out (health.timeout); the answer comes through health_http_result(). */
		if (probe_http_request(s, "tools/call") < 0)
			return;
		dc->call_in_flight = true;
		dc->call_sent = ev_now(s->d->loop);
		return;
	}
	dc->call_id = mcp_stdio_request(s, MCP_REQ_CALL, "tools/call", deep_check_call_params(s));
	if (dc->call_id < 0) {
		dc->call_id = 0;
		return;	/* its stdin is gone: its exit is on its way */
	}
	dc->call_in_flight = true;
	dc->call_sent = ev_now(s->d->loop);
	ev_timer_set(&dc->call_timeout_w, (double)s->conf.health.timeout_ms / 1000., 0.);
	ev_timer_start(s->d->loop, &dc->call_timeout_w);
}

/* ---- exec --------------------------------------------------------------- */

static void exec_done(struct server *s, enum check_exec_result result, const char *detail, double duration_ms)
{
	static const enum check_status map[] = { CS_OK, CS_DEGRADED, CS_FAILED };

	s->checks->exec = NULL;	/* check-exec.c frees it after this returns */
	record(s, CHECK_EXEC, map[result], detail, duration_ms);
}

static void start_exec(struct server *s)
{
	struct deep_check *dc = s->checks;
	uint64_t timeout = s->conf.health.exec_timeout_ms ? s->conf.health.exec_timeout_ms : s->conf.health.timeout_ms;
	char err[256];

	if (dc->exec) {
		/* Never two at a time: this round finds it still running. */
		if (dc->exec_skipped++ == 0)
			log_info(s->conf.name, NULL, "health.exec is still running from the last round: not started again "
				 "(rounds skipped so are counted in status: checks[].skipped)");
		return;
	}
	dc->exec = check_exec_start(s, timeout, exec_done, err, sizeof(err));
	if (!dc->exec)
		record(s, CHECK_EXEC, CS_FAILED, err, 0);
}

/* ---- rounds ------------------------------------------------------------- */

void deep_check_round(struct server *s)
{
	if (!has_call(s) && !has_exec(s))
		return;
	checks_of(s);
	if (has_exec(s))
		start_exec(s);
	if (has_call(s) && s->checks && s->health.probing)
		start_call(s);
}

void deep_check_stop(struct server *s)
{
	if (!s->checks)
		return;
	cancel_call(s);
	cancel_exec(s);
}

void deep_check_conf_changed(struct server *s)
{
	if (!s->checks)
		return;
	/* A changed check starts afresh at the next round. */
	cancel_call(s);
	cancel_exec(s);
	for (size_t i = 0; i < CHECK__COUNT; i++) {
		uint64_t failures = s->checks->st[i].failures;

		reset_state(&s->checks->st[i]);
		s->checks->st[i].failures = failures;
	}
	health_check_passed(s);	/* a removed failing check no longer holds it unhealthy */
}

bool deep_check_failing(const struct server *s)
{
	if (!s->checks)
		return false;
	return (has_call(s) && s->checks->st[CHECK_CALL].status == CS_FAILED) ||
	       (has_exec(s) && s->checks->st[CHECK_EXEC].status == CS_FAILED);
}

bool deep_check_degraded(const struct server *s)
{
	if (!s->checks)
		return false;
	return (has_call(s) && s->checks->st[CHECK_CALL].status == CS_DEGRADED) ||
	       (has_exec(s) && s->checks->st[CHECK_EXEC].status == CS_DEGRADED);
}

void deep_check_exec_strays(struct server *s, int n)
{
	struct deep_check *dc = checks_of(s);

	if (dc->exec_strays == 0)
		log_warning(s->conf.name, NULL, "health.exec left %d process%s running outside its process group "
			    "(setsid?) with its output open after it exited: killed, as they will be after every run "
			    "(counted in status: checks[].strays_killed)", n, n == 1 ? "" : "es");
	dc->exec_strays += (unsigned long)n;
}

/* ---- status and metrics --------------------------------------------------- */

/* {"check", "status", "detail", then duration_ms and age_s (or null): the start every check's object shares. */
static void write_check_head(struct jsonw *w, const char *check, const char *status, const char *detail,
			     bool have_duration, double duration_ms, bool have_age, double age_s)
{
	jsonw_item(w);
	jsonw_char(w, '{');
	jsonw_key(w, "check");
	jsonw_string(w, check);
	jsonw_key(w, "status");
	jsonw_string(w, status);
	jsonw_key(w, "detail");
	jsonw_string(w, detail);
	jsonw_member_number(w, "duration_ms", have_duration, duration_ms);
	jsonw_member_number(w, "age_s", have_age, age_s);
}

/* The liveness probe as a check: from health.c's own state. */
static enum check_status probe_status(const struct server *s)
{
	if (s->health.probe_status == 0)
		return CS_OK;
	if (s->health.probe_status == 2)
		return CS_FAILED;
	return CS_UNKNOWN;
}

bool deep_check_status_write(const struct server *s, struct jsonw *w)
{
	double now = ev_now(s->d->loop);

	if (!has_call(s) && !has_exec(s))
		return false;
	jsonw_key(w, "checks");
	jsonw_char(w, '[');
	write_check_head(w, "probe", status_names[probe_status(s)],
			 s->health.probe_status == 2 ? s->health.last_error : s->health.probe_status == 0 ? "answered" : "",
			 s->health.probe_status == 0 && s->health.last_latency_ms >= 0,
			 round(s->health.last_latency_ms * 1000) / 1000,
			 s->health.last_probe_at > 0, round((now - s->health.last_probe_at) * 10) / 10);
	jsonw_char(w, '}');
	for (size_t k = 0; k < CHECK__COUNT; k++) {
		const struct check_state *st;

		if ((k == CHECK_CALL && !has_call(s)) || (k == CHECK_EXEC && !has_exec(s)))
			continue;
		st = s->checks ? &s->checks->st[k] : NULL;
		write_check_head(w, kind_names[k], status_names[st ? st->status : CS_UNKNOWN], st ? st->detail : "",
				 st && st->duration_ms >= 0, st ? round(st->duration_ms * 1000) / 1000 : 0,
				 st && st->finished_at > 0, st ? round((now - st->finished_at) * 10) / 10 : 0);
		jsonw_key(w, "failures");
		jsonw_number(w, st ? (double)st->failures : 0);
		if (k == CHECK_CALL) {
			jsonw_key(w, "tool");
			jsonw_string(w, s->conf.health.call_tool);
		} else {
			jsonw_key(w, "command");
			jsonw_char(w, '[');
			for (size_t i = 0; i < s->conf.health.exec_argc; i++) {
				jsonw_item(w);
				jsonw_string(w, s->conf.health.exec[i]);
			}
			jsonw_char(w, ']');
			if (s->checks && s->checks->exec_skipped > 0) {
				jsonw_key(w, "skipped");
				jsonw_number(w, s->checks->exec_skipped);
			}
			if (s->checks && s->checks->exec_strays > 0) {
				jsonw_key(w, "strays_killed");
				jsonw_number(w, (double)s->checks->exec_strays);
			}
		}
		jsonw_char(w, '}');
	}
	jsonw_char(w, ']');
	return true;
}

void deep_check_metrics(const struct daemon *d, struct metrics_buf *b)
{
	static const char *const fams[][3] = {
		{ "mcpd_server_check_status", "gauge",
		  "Last result of a server's health check: 0 ok, 1 degraded, 2 failed, 3 unknown (not run yet)." },
		{ "mcpd_server_check_duration_seconds", "gauge", "How long the last run of a server's health check took." },
		{ "mcpd_server_check_failures_total", "counter", "Runs of a server's health check that failed." },
	};
	char name[256];

	for (size_t f = 0; f < 3; f++) {
		metrics_family(b, fams[f][0], fams[f][1], fams[f][2]);
		for (size_t i = 0; i < d->nservers; i++) {
			const struct server *s = d->servers[i];
			const struct health *h = &s->health;

			metrics_server(s->conf.name, name, sizeof(name));
			if (f == 0)
				metrics_printf(b, "%s{server=\"%s\",check=\"probe\"} %d\n", fams[f][0], name, probe_status(s));
			else if (f == 1 && h->probe_status == 0 && h->last_latency_ms >= 0)
				metrics_printf(b, "%s{server=\"%s\",check=\"probe\"} %.6f\n", fams[f][0], name,
					       h->last_latency_ms / 1000.);
			else if (f == 2)
				metrics_printf(b, "%s{server=\"%s\",check=\"probe\"} %llu\n", fams[f][0], name,
					       (unsigned long long)h->failures);
			for (size_t k = 0; k < CHECK__COUNT; k++) {
				const struct check_state *st = s->checks ? &s->checks->st[k] : NULL;

				if ((k == CHECK_CALL && !has_call(s)) || (k == CHECK_EXEC && !has_exec(s)))
					continue;
				if (f == 0)
					metrics_printf(b, "%s{server=\"%s\",check=\"%s\"} %d\n", fams[f][0], name,
						       kind_names[k], st ? (int)st->status : CS_UNKNOWN);
				else if (f == 1 && st && st->duration_ms >= 0)
					metrics_printf(b, "%s{server=\"%s\",check=\"%s\"} %.6f\n", fams[f][0], name,
						       kind_names[k], st->duration_ms / 1000.);
				else if (f == 2)
					metrics_printf(b, "%s{server=\"%s\",check=\"%s\"} %llu\n", fams[f][0], name,
						       kind_names[k], st ? (unsigned long long)st->failures : 0ULL);
			}
		}
	}
}
