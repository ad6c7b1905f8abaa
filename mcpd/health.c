/* Health checks of stdio servers: see health.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "deep-check.h"
#include "duration.h"
#include "health.h"
#include "lifecycle.h"
#include "log.h"
#include "mcp-stdio.h"
#include "probe-http.h"
#include "server.h"
#include "xmalloc.h"

const double health_bucket_ms[HEALTH_BUCKETS] = {
	1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 1e300,
};

static double ms(uint64_t v)
{
	return (double)v / 1000.;
}

static void on_interval(struct ev_loop *loop, ev_timer *w, int revents);
static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents);
static void on_ttl(struct ev_loop *loop, ev_timer *w, int revents);

void health_init(struct server *s)
{
	struct health *h = &s->health;

	memset(h, 0, sizeof(*h));
	h->last_latency_ms = -1;
	h->probe_status = 3;
	ev_timer_init(&h->interval_w, on_interval, 0., 0.);
	ev_timer_init(&h->timeout_w, on_timeout, 0., 0.);
	ev_timer_init(&h->ttl_w, on_ttl, 0., 0.);
	h->interval_w.data = h->timeout_w.data = h->ttl_w.data = s;
}

void health_free(struct server *s)
{
	health_stop(s);
	free(s->health.tools);
	s->health.tools = NULL;
}

static void schedule(struct server *s)
{
	ev_timer_stop(s->d->loop, &s->health.interval_w);
	ev_timer_set(&s->health.interval_w, ms(s->conf.health.interval_ms), 0.);
	ev_timer_start(s->d->loop, &s->health.interval_w);
}

static void fetch_tools(struct server *s, const char *cursor)
{
	cJSON *params = NULL;

	if (s->conf.transport == TRANSPORT_HTTP) {
		/* One page over HTTP: the probe session sends bare requests. */
		if (probe_http_request(s, "tools/list") < 0) {
			/* The session is busy with a probe: try again in a second rather than never. */
			cJSON_Delete(s->health.tools_partial);
			s->health.tools_partial = NULL;
			if (s->health.probing) {
				ev_timer_stop(s->d->loop, &s->health.ttl_w);
				ev_timer_set(&s->health.ttl_w, ms(HEALTH_TTL_MIN_MS), 0.);
				ev_timer_start(s->d->loop, &s->health.ttl_w);
			}
		}
		return;
	}
	if (cursor) {
		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "cursor", cursor);
	}
	mcp_stdio_request(s, MCP_REQ_TOOLS_LIST, "tools/list", params);
}

/* The liveness probe of the server's era. */
static const char *probe_method(const struct server *s)
{
	return s->era == MCP_ERA_MODERN ? "server/discover" : "ping";
}

/* The server's capabilities and identity: from its InitializeResult (legacy) or DiscoverResult (modern). */
static const cJSON *server_capabilities(const struct server *s)
{
	return cJSON_GetObjectItemCaseSensitive(s->discover_result ? s->discover_result : s->init_result,
						"capabilities");
}

static const cJSON *server_info(const struct server *s)
{
	if (s->discover_result)
		return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s->discover_result, "_meta"),
							MCP_META_SERVER_INFO);
	return cJSON_GetObjectItemCaseSensitive(s->init_result, "serverInfo");
}

/*
 * A modern stdio server that announces tools.listChanged gets mcpd's own
 * subscriptions/listen: its notifications carry mcpd's string id, so the
 * relay never passes them to clients.
 */
static void listen_tools(struct server *s)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(server_capabilities(s), "tools");
	cJSON *params, *filter;

	if (s->era != MCP_ERA_MODERN || s->conf.transport != TRANSPORT_STDIO ||
	    !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tools, "listChanged")))
		return;
	params = cJSON_CreateObject();
	filter = cJSON_AddObjectToObject(params, "notifications");
	cJSON_AddBoolToObject(filter, "toolsListChanged", true);
	s->health.listen_id = mcp_stdio_request(s, MCP_REQ_LISTEN, "subscriptions/listen", params);
	if (s->health.listen_id < 0)
		s->health.listen_id = 0;
}

void health_listen_ended(struct server *s, int64_t id, const char *error)
{
	if (id != s->health.listen_id)
		return;
	s->health.listen_id = 0;
	/* A server being stopped ends its listens (the spec's graceful closure): nothing to say then. */
	if (s->state == ST_STOPPING)
		return;
	if (error)
		log_info(s->conf.name, NULL, "subscriptions/listen refused (%s): the tool list follows its ttlMs only",
			 error);
	else
		log_info(s->conf.name, NULL, "the server ended mcpd's subscriptions/listen: the tool list follows its "
			 "ttlMs only");
	if (s->health.probing)
		health_tools_changed(s);	/* its answer schedules the next fetch, now without a listen */
}

void health_start(struct server *s)
{
	struct health *h = &s->health;
	const cJSON *info = server_info(s);
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "name"));
	const char *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "version"));

	if (h->probing)
		return;	/* started on entering running already: callers after the event are late */
	h->probing = true;
	h->fails = 0;
	h->in_flight = false;
	h->last_error[0] = '\0';
	h->probe_status = 3;
	snprintf(h->server_name, sizeof(h->server_name), "%s", name ? name : "");
	snprintf(h->server_version, sizeof(h->server_version), "%s", version ? version : "");
	schedule(s);
	/* Only servers that say they have tools are asked for them. */
	if (cJSON_GetObjectItemCaseSensitive(server_capabilities(s), "tools")) {
		cJSON_Delete(h->tools_partial);
		h->tools_partial = cJSON_CreateArray();
		h->pages = 0;
		h->ttl_ms = -1;
		h->listed_at = ev_now(s->d->loop);
		fetch_tools(s, NULL);
		listen_tools(s);
	}
}

void health_stop(struct server *s)
{
	struct health *h = &s->health;

	ev_timer_stop(s->d->loop, &h->interval_w);
	ev_timer_stop(s->d->loop, &h->timeout_w);
	ev_timer_stop(s->d->loop, &h->ttl_w);
	h->refetch_ms = 0;
	h->listen_id = 0;	/* it ends with the process */
	h->probing = false;
	h->in_flight = false;
	h->fails = 0;
	cJSON_Delete(h->tools_partial);
	h->tools_partial = NULL;
	deep_check_stop(s);
}

static void record_latency(struct health *h, double latency)
{
	size_t b = 0;

	while (b + 1 < HEALTH_BUCKETS && latency > health_bucket_ms[b])
		b++;
	h->buckets[b]++;
	h->probes++;
	h->sum_ms += latency;
	h->last_latency_ms = latency;
}

/* Healthy again once the probe and every deep check pass. */
static void maybe_recovered(struct server *s)
{
	struct health *h = &s->health;

	if (h->fails > 0 && h->probe_status == 0 && !deep_check_failing(s)) {
		h->fails = 0;
		h->last_error[0] = '\0';
		lifecycle_event(s, SE_HEALTHY, NULL);
	}
}

/* The probe answered; then the round's deep checks. */
static void probe_passed(struct server *s)
{
	s->health.probe_status = 0;
	s->health.last_probe_at = ev_now(s->d->loop);
	maybe_recovered(s);
	schedule(s);
	deep_check_round(s);
}

/*
 * A probe failed: unhealthy at once, restarted once it failed unhealthy_after
 * times in a row. what is "ping timed out", detail " (5s)" or ": <error>".
 */
static void count_failure(struct server *s, const char *what, const char *detail, bool reschedule)
{
	struct health *h = &s->health;
	char reason[256];

	h->fails++;
	h->failures++;
	snprintf(h->last_error, sizeof(h->last_error), "%s%s", what, detail);
	if (h->fails >= s->conf.health.unhealthy_after && s->conf.transport == TRANSPORT_HTTP && !s->conf.command) {
		/* Monitor-only: nothing to restart; it stays unhealthy and is probed on. */
		snprintf(reason, sizeof(reason), "%s%s%s", what, h->fails > 1 ? " (again)" : "", detail);
		lifecycle_event(s, SE_UNHEALTHY, &(struct event_arg){ .reason = reason });
		if (reschedule)
			schedule(s);
		return;
	}
	if (h->fails >= s->conf.health.unhealthy_after) {
		if (h->fails > 1)
			snprintf(reason, sizeof(reason), "%s %u times%s", what, h->fails, detail);
		else
			snprintf(reason, sizeof(reason), "%s%s", what, detail);
		health_stop(s);
		lifecycle_event(s, SE_FAIL, &(struct event_arg){ .reason = reason });
		return;
	}
	snprintf(reason, sizeof(reason), "%s%s (%u of %u before a restart)", what, detail, h->fails,
		 s->conf.health.unhealthy_after);
	lifecycle_event(s, SE_UNHEALTHY, &(struct event_arg){ .reason = reason });
	if (reschedule)
		schedule(s);
}

/* The liveness probe failed. */
static void probe_failed(struct server *s, const char *what, const char *detail)
{
	s->health.probe_status = 2;
	s->health.last_probe_at = ev_now(s->d->loop);
	count_failure(s, what, detail, true);
}

void health_check_failed(struct server *s, const char *what, const char *detail)
{
	if (!s->health.probing)
		return;
	count_failure(s, what, detail, false);	/* the probe's own answer scheduled the next round */
}

void health_check_passed(struct server *s)
{
	if (s->health.probing)
		maybe_recovered(s);
}

static void on_interval(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	struct health *h = &s->health;

	if (h->in_flight)
		return;	/* cannot happen: timeout < interval; but never stack pings */
	if (s->conf.transport == TRANSPORT_HTTP) {
		/* curl times the request out itself (health.timeout). */
		if (probe_http_request(s, "ping") == 0)
			h->in_flight = true;
		else
			schedule(s);	/* the tool list is being fetched: ping next time */
		return;
	}
	h->ping_id = mcp_stdio_request(s, MCP_REQ_PING, probe_method(s), NULL);
	if (h->ping_id < 0)
		return;	/* the server's stdin is gone: its exit is on its way */
	h->in_flight = true;
	h->sent_at = ev_time();
	ev_timer_set(&h->timeout_w, ms(s->conf.health.timeout_ms), 0.);
	ev_timer_start(loop, &h->timeout_w);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	char d[32], detail[48], what[48];

	s->health.in_flight = false;
	duration_format(s->conf.health.timeout_ms, d, sizeof(d));
	snprintf(detail, sizeof(detail), " (%s)", d);
	snprintf(what, sizeof(what), "%s timed out", probe_method(s));
	probe_failed(s, what, detail);
}

void health_ping_answered(struct server *s, int64_t id, const char *error)
{
	struct health *h = &s->health;

	if (!h->in_flight || id != h->ping_id)
		return;	/* a late answer to a ping that already timed out */
	h->in_flight = false;
	ev_timer_stop(s->d->loop, &h->timeout_w);
	if (error) {
		char detail[200], what[48];

		snprintf(detail, sizeof(detail), ": %s", error);
		snprintf(what, sizeof(what), "%s failed", probe_method(s));
		probe_failed(s, what, detail);
		return;
	}
	record_latency(h, (ev_time() - h->sent_at) * 1000.);
	probe_passed(s);
}

uint64_t health_tools_hash(const char *text)
{
	uint64_t hash = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)text; p && *p; p++) {
		hash ^= *p;
		hash *= 1099511628211ULL;
	}
	return hash;
}

/*
 * Fetch the tool list again in delay_ms, spread by up to a tenth later (the
 * caching spec asks pollers for jitter): a server's ttlMs is a freshness hint.
 */
static void schedule_refetch(struct server *s, uint64_t delay_ms)
{
	struct health *h = &s->health;

	if (!h->probing)
		return;
	if (delay_ms < HEALTH_TTL_MIN_MS)
		delay_ms = HEALTH_TTL_MIN_MS;
	if (delay_ms > HEALTH_TTL_MAX_MS)
		delay_ms = HEALTH_TTL_MAX_MS;
	h->refetch_ms = delay_ms;
	ev_timer_stop(s->d->loop, &h->ttl_w);
	ev_timer_set(&h->ttl_w, ms(delay_ms) * (1. + 0.1 * drand48()), 0.);
	ev_timer_start(s->d->loop, &h->ttl_w);
}

static void on_ttl(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;

	if (s->health.probing)
		health_tools_changed(s);
}

/* The smallest ttlMs of the pages: each page is fresh for its own. Negative counts as 0. */
static void note_ttl(struct health *h, const cJSON *result)
{
	const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(result, "ttlMs");
	int64_t v;

	if (!cJSON_IsNumber(ttl))
		return;
	v = ttl->valuedouble > 0 ? (ttl->valuedouble < (double)HEALTH_TTL_MAX_MS ? (int64_t)ttl->valuedouble
										: HEALTH_TTL_MAX_MS)
				 : 0;
	if (h->ttl_ms < 0 || v < h->ttl_ms)
		h->ttl_ms = v;
}

void health_tools_answered(struct server *s, const cJSON *result, const char *error)
{
	struct health *h = &s->health;
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(result, "tools");
	const char *cursor = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "nextCursor"));
	const cJSON *t;

	if (!h->tools_partial)
		return;
	if (error || !cJSON_IsArray(tools)) {
		log_warning(s->conf.name, NULL, "tools/list failed: %s", error ? error : "the result has no tools list");
		cJSON_Delete(h->tools_partial);
		h->tools_partial = NULL;
		/* A list that had a ttlMs is tried again, later each time: it is stale, not gone. */
		if (h->refetch_ms > 0)
			schedule_refetch(s, h->refetch_ms * 2);
		return;
	}
	note_ttl(h, result);
	cJSON_ArrayForEach(t, tools) {
		if (cJSON_GetArraySize(h->tools_partial) >= HEALTH_MAX_TOOLS)
			break;
		cJSON_AddItemToArray(h->tools_partial, cJSON_Duplicate(t, 1));
	}
	if (cursor && s->conf.transport == TRANSPORT_STDIO && ++h->pages < HEALTH_MAX_PAGES && cJSON_GetArraySize(h->tools_partial) < HEALTH_MAX_TOOLS) {
		fetch_tools(s, cursor);
		return;
	}
	{
		/* Kept as text: a parsed list costs several times more, times 1000 servers. */
		char *text = cJSON_PrintUnformatted(h->tools_partial);
		uint64_t hash = health_tools_hash(text);
		int n = cJSON_GetArraySize(h->tools_partial);

		if (h->tools && hash != h->tools_hash)
			log_notice(s->conf.name, NULL, "tool list changed: %d tools (hash %016llx)", n,
				   (unsigned long long)hash);
		else if (!h->tools)
			log_info(s->conf.name, NULL, "%d tools (hash %016llx)", n, (unsigned long long)hash);
		free(h->tools);
		h->tools = text;
		h->ntools = n;
		cJSON_Delete(h->tools_partial);
		h->tools_partial = NULL;
		h->tools_hash = hash;
	}
	/*
	 * ttlMs 0 (stale at once, as SDK v2 servers say) is no reason to poll:
	 * the health interval then, and not at all while mcpd's own listen
	 * tells it of changes.
	 */
	if (h->ttl_ms > 0)
		schedule_refetch(s, (uint64_t)h->ttl_ms);
	else if (h->ttl_ms == 0 && h->listen_id == 0)
		schedule_refetch(s, s->conf.health.interval_ms);
	else
		h->refetch_ms = 0;
}

void health_tools_changed(struct server *s)
{
	struct health *h = &s->health;
	double wait = ms(HEALTH_TTL_MIN_MS) - (ev_now(s->d->loop) - h->listed_at);

	if (h->tools_partial)
		return;	/* a fetch is running already */
	if (h->listed_at > 0 && wait > 0) {
		/* A server that says list_changed after each list, or in a loop, is listed once a second at most. */
		if (h->deferred++ == 0)
			log_notice(s->conf.name, NULL, "the server says its tools changed again within %.0fs of the last "
				   "tools/list: mcpd lists them at most once every %.0fs", ms(HEALTH_TTL_MIN_MS),
				   ms(HEALTH_TTL_MIN_MS));
		if (!ev_is_active(&h->ttl_w) || ev_timer_remaining(s->d->loop, &h->ttl_w) > wait) {
			ev_timer_stop(s->d->loop, &h->ttl_w);
			ev_timer_set(&h->ttl_w, wait, 0.);
			ev_timer_start(s->d->loop, &h->ttl_w);
		}
		return;
	}
	h->listed_at = ev_now(s->d->loop);
	h->tools_partial = cJSON_CreateArray();
	h->pages = 0;
	h->ttl_ms = -1;
	fetch_tools(s, NULL);
}

#define HTTP_START_PROBE 0.25	/* seconds between probes until an http server first answers */

void health_http_begin(struct server *s)
{
	struct health *h = &s->health;

	probe_http_reset(s);
	h->in_flight = false;
	ev_timer_stop(s->d->loop, &h->interval_w);
	ev_timer_set(&h->interval_w, HTTP_START_PROBE, 0.);
	ev_timer_start(s->d->loop, &h->interval_w);
}

void health_http_result(struct server *s, const char *method, bool ok, double latency_ms, const cJSON *result,
			const char *reason)
{
	struct health *h = &s->health;

	if (strcmp(method, "tools/list") == 0) {
		health_tools_answered(s, result, ok ? NULL : reason);
		return;
	}
	if (strcmp(method, "tools/call") == 0) {
		deep_check_http_answered(s, ok, result, reason);
		return;
	}
	h->in_flight = false;
	if (s->state == ST_STARTING) {
		if (!ok) {
			/* Not up yet (or never, for a monitor-only server): say why, and try again soon. */
			if (strcmp(s->reason, reason) != 0) {
				snprintf(s->reason, sizeof(s->reason), "%s", reason);
				log_info(s->conf.name, "starting", "not answering MCP over HTTP yet: %s", reason);
			}
			ev_timer_set(&h->interval_w, HTTP_START_PROBE * 2, 0.);
			ev_timer_start(s->d->loop, &h->interval_w);
			return;
		}
		record_latency(h, latency_ms);
		lifecycle_event(s, SE_READY, NULL);	/* its action starts the probes */
		return;
	}
	if (s->state != ST_RUNNING && s->state != ST_UNHEALTHY)
		return;
	if (!ok) {
		probe_failed(s, reason, "");
		return;
	}
	record_latency(h, latency_ms);
	probe_passed(s);
}

const char *health_name(const struct server *s)
{
	if (s->state == ST_UNHEALTHY)
		return "unhealthy";
	if (s->state == ST_RUNNING)
		return deep_check_degraded(s) ? "degraded" : "ok";
	return "unknown";
}
