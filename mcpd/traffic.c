/* Traffic metrics: see traffic.h; the counting itself is traffic-table.c. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jsonw.h"
#include "log.h"
#include "mcp-era.h"
#include "metrics.h"
#include "server.h"
#include "traffic.h"
#include "xmalloc.h"

/* What traffic.c keeps per server: the table, and whether its cap was logged. */
struct traffic {
	struct traffic_table *t;
	bool cap_logged;
};

bool traffic_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *v = getenv("MCPD_TRAFFIC_METRICS");

		enabled = !(v && strcmp(v, "0") == 0);
	}
	return enabled;
}

static struct traffic_table *table(struct server *s)
{
	if (!s->traffic) {
		s->traffic = xcalloc(1, sizeof(*s->traffic));
		s->traffic->t = traffic_table_new(s->conf.name);
	}
	return s->traffic->t;
}

/* The tool label of a tools/call: its name when the server's last tool list has it, else "other". */
static const char *tool_label(struct server *s, struct traffic_table *t, const cJSON *req)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(req, "params"), "name"));

	if (s->health.tools && (!t->tools_known || t->tools_hash != s->health.tools_hash)) {
		/* Parsed once per new list, not per request. */
		cJSON *tools = cJSON_Parse(s->health.tools);

		traffic_table_set_tools(t, tools, s->health.tools_hash);
		cJSON_Delete(tools);
	}
	if (!name || strlen(name) > TRAFFIC_MAX_TOOL || !traffic_table_tool_listed(t, name, traffic_hash(name)))
		return "other";
	return name;
}

static struct traffic_series *series_of(struct server *s, struct traffic_table *t, const cJSON *req, unsigned *ret_method)
{
	unsigned method = traffic_method_index(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method")));
	struct traffic_series *se;
	uint64_t folded = t->folded;

	se = traffic_table_series(t, method, method == 4 ? tool_label(s, t, req) : NULL);
	if (t->folded != folded && !s->traffic->cap_logged) {
		s->traffic->cap_logged = true;
		log_notice(s->conf.name, NULL, "traffic metrics: %d series (method and tool) counted; requests of any "
			   "new one are counted under method=\"other\", tool=\"other\" from now on", TRAFFIC_MAX_SERIES);
	}
	*ret_method = method;
	return se;
}

void traffic_begin(struct server *s, struct traffic_req *tr, const cJSON *req, size_t bytes)
{
	struct traffic_table *t;
	unsigned method;

	tr->series = NULL;
	if (!traffic_enabled())
		return;
	t = table(s);
	tr->series = series_of(s, t, req, &method);
	/* A stream only as the relay forwards one (PF_LISTEN): a 2026 request. A legacy client's
	 * "subscriptions/listen" is an ordinary request, answered (an error) and timed. */
	tr->stream = strcmp(traffic_method_name(method), "subscriptions/listen") == 0 && mcp_request_version(req);
	tr->start = ev_time();
	t->bytes_in += bytes;
	if (!tr->stream)
		t->in_flight++;
}

void traffic_end(struct server *s, struct traffic_req *tr, enum traffic_outcome o)
{
	struct traffic_table *t;
	bool timed = o == TRAFFIC_OK || o == TRAFFIC_ERROR || o == TRAFFIC_TOOL_ERROR;

	if (!tr->series || !s->traffic)
		return;
	t = s->traffic->t;
	if (!tr->stream)
		t->in_flight--;
	traffic_table_finish(t, tr->series, o, timed && !tr->stream ? ev_time() - tr->start : -1, ev_now(s->d->loop));
	tr->series = NULL;
}

void traffic_answered(struct server *s, struct traffic_req *tr, const cJSON *msg)
{
	const cJSON *result;

	if (!tr->series)
		return;
	result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	if (!result)
		traffic_end(s, tr, TRAFFIC_ERROR);
	else
		traffic_end(s, tr, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "isError")) ?
			    TRAFFIC_TOOL_ERROR : TRAFFIC_OK);
}

void traffic_refused(struct server *s, const cJSON *req, size_t bytes)
{
	struct traffic_req tr;

	traffic_begin(s, &tr, req, bytes);
	traffic_end(s, &tr, TRAFFIC_UNAVAILABLE);
}

void traffic_bytes_out(struct server *s, size_t n)
{
	if (s->traffic)
		s->traffic->t->bytes_out += n;
}

void traffic_free(struct server *s)
{
	if (!s->traffic)
		return;
	traffic_table_free(s->traffic->t);
	free(s->traffic);
	s->traffic = NULL;
}

/* The figures status shows, computed in one place for both of its forms. */
struct traffic_shown {
	double requests, errors, in_flight, rate, error_rate, p50_ms, p99_ms;	/* p50/p99 < 0: none */
};

static void traffic_shown(const struct server *s, struct traffic_shown *f)
{
	struct traffic_window w = { .p50_ms = -1, .p99_ms = -1 };
	const struct traffic_table *t = s->traffic ? s->traffic->t : NULL;

	if (t)
		traffic_table_window(t, ev_now(s->d->loop), &w);
	f->requests = t ? (double)t->requests : 0;
	f->errors = t ? (double)t->errors : 0;
	f->in_flight = t ? (double)t->in_flight : 0;
	f->rate = round((double)w.requests / TRAFFIC_WINDOW_SECONDS * 1000.) / 1000.;
	f->error_rate = w.requests ? round((double)w.errors / (double)w.requests * 1e4) / 1e4 : 0;
	f->p50_ms = w.p50_ms < 0 ? -1 : round(w.p50_ms * 1000.) / 1000.;
	f->p99_ms = w.p99_ms < 0 ? -1 : round(w.p99_ms * 1000.) / 1000.;
}

void traffic_status_write(const struct server *s, struct jsonw *jw, bool summary)
{
	struct traffic_shown f;

	if (s->conf.transport != TRANSPORT_STDIO)
		return;
	traffic_shown(s, &f);
	jsonw_key(jw, "traffic");
	jsonw_char(jw, '{');
	jsonw_key(jw, "requests");
	jsonw_number(jw, f.requests);
	if (!summary) {
		jsonw_key(jw, "errors");
		jsonw_number(jw, f.errors);
		jsonw_key(jw, "in_flight");
		jsonw_number(jw, f.in_flight);
		jsonw_key(jw, "window_s");
		jsonw_number(jw, TRAFFIC_WINDOW_SECONDS);
	}
	jsonw_key(jw, "rate");
	jsonw_number(jw, f.rate);
	jsonw_key(jw, "error_rate");
	jsonw_number(jw, f.error_rate);
	/* Already rounded to microseconds (traffic_shown); < 0: none. */
	jsonw_member_number(jw, "p50_ms", f.p50_ms >= 0, f.p50_ms);
	jsonw_member_number(jw, "p99_ms", f.p99_ms >= 0, f.p99_ms);
	jsonw_char(jw, '}');
}

void traffic_metrics(const struct daemon *d, struct metrics_buf *b)
{
	size_t with = 0, size = 1024;

	for (size_t i = 0; i < d->nservers; i++) {
		if (d->servers[i]->traffic) {
			with++;
			size += traffic_render_size(d->servers[i]->traffic->t);
		}
	}
	if (!with)
		return;	/* no traffic yet: no series, and no empty families */
	traffic_render_reserve(b, size);
	metrics_family(b, "mcpd_requests_total", "counter", "Client requests relayed to the server, by method, tool "
		       "and outcome (ok, error, tool_error, timeout, cancelled, unavailable).");
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->traffic)
			traffic_render_requests(d->servers[i]->traffic->t, b);
	metrics_family(b, "mcpd_request_duration_seconds", "histogram", "Latency of relayed requests the server "
		       "answered (ok, error, tool_error), from mcpd's forwarding to the server's answer.");
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->traffic)
			traffic_render_durations(d->servers[i]->traffic->t, b);
	metrics_family(b, "mcpd_requests_in_flight", "gauge", "Relayed requests waiting for the server's answer.");
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->traffic)
			traffic_render_in_flight(d->servers[i]->traffic->t, b);
	metrics_family(b, "mcpd_request_bytes_total", "counter", "Bytes of relayed requests (in, from clients) and "
		       "of their answers (out, to clients).");
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->traffic)
			traffic_render_bytes(d->servers[i]->traffic->t, b);
}
