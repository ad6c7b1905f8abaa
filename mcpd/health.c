/* Health checks of stdio servers: see health.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
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

void health_init(struct server *s)
{
	struct health *h = &s->health;

	memset(h, 0, sizeof(*h));
	h->last_latency_ms = -1;
	ev_timer_init(&h->interval_w, on_interval, 0., 0.);
	ev_timer_init(&h->timeout_w, on_timeout, 0., 0.);
	h->interval_w.data = h->timeout_w.data = s;
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
		probe_http_request(s, "tools/list");
		return;
	}
	if (cursor) {
		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "cursor", cursor);
	}
	mcp_stdio_request(s, MCP_REQ_TOOLS_LIST, "tools/list", params);
}

void health_start(struct server *s)
{
	struct health *h = &s->health;
	/* A modern server's DiscoverResult stands for the InitializeResult (serverInfo in its _meta). */
	const cJSON *ready = s->init_result ? s->init_result : s->discover_result;
	const cJSON *info = s->init_result ? cJSON_GetObjectItemCaseSensitive(ready, "serverInfo")
		: cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ready, "_meta"), MCP_META_SERVER_INFO);
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "name"));
	const char *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "version"));

	if (h->probing)
		return;	/* started on entering running already: callers after the event are late */
	h->probing = true;
	h->fails = 0;
	h->in_flight = false;
	h->last_error[0] = '\0';
	snprintf(h->server_name, sizeof(h->server_name), "%s", name ? name : "");
	snprintf(h->server_version, sizeof(h->server_version), "%s", version ? version : "");
	schedule(s);
	/* Only servers that say they have tools are asked for them. */
	if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ready, "capabilities"), "tools")) {
		cJSON_Delete(h->tools_partial);
		h->tools_partial = cJSON_CreateArray();
		h->pages = 0;
		fetch_tools(s, NULL);
	}
}

void health_stop(struct server *s)
{
	struct health *h = &s->health;

	ev_timer_stop(s->d->loop, &h->interval_w);
	ev_timer_stop(s->d->loop, &h->timeout_w);
	h->probing = false;
	h->in_flight = false;
	h->fails = 0;
	cJSON_Delete(h->tools_partial);
	h->tools_partial = NULL;
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

/*
 * A probe failed: unhealthy at once, restarted once it failed unhealthy_after
 * times in a row. what is "ping timed out", detail " (5s)" or ": <error>".
 */
static void probe_failed(struct server *s, const char *what, const char *detail)
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
	schedule(s);
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
	h->ping_id = mcp_stdio_request(s, MCP_REQ_PING, "ping", NULL);
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
	char d[32], detail[48];

	s->health.in_flight = false;
	duration_format(s->conf.health.timeout_ms, d, sizeof(d));
	snprintf(detail, sizeof(detail), " (%s)", d);
	probe_failed(s, "ping timed out", detail);
}

void health_ping_answered(struct server *s, int64_t id, const char *error)
{
	struct health *h = &s->health;

	if (!h->in_flight || id != h->ping_id)
		return;	/* a late answer to a ping that already timed out */
	h->in_flight = false;
	ev_timer_stop(s->d->loop, &h->timeout_w);
	if (error) {
		char detail[200];

		snprintf(detail, sizeof(detail), ": %s", error);
		probe_failed(s, "ping failed", detail);
		return;
	}
	record_latency(h, (ev_time() - h->sent_at) * 1000.);
	if (h->fails > 0) {
		h->fails = 0;
		h->last_error[0] = '\0';
		lifecycle_event(s, SE_HEALTHY, NULL);
	}
	schedule(s);
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
		return;
	}
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
}

void health_tools_changed(struct server *s)
{
	struct health *h = &s->health;

	if (h->tools_partial)
		return;	/* a fetch is running already */
	h->tools_partial = cJSON_CreateArray();
	h->pages = 0;
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
	if (h->fails > 0) {
		h->fails = 0;
		h->last_error[0] = '\0';
		lifecycle_event(s, SE_HEALTHY, NULL);
	}
	schedule(s);
}

const char *health_name(const struct server *s)
{
	if (s->state == ST_UNHEALTHY)
		return "unhealthy";
	if (s->state == ST_RUNNING)
		return "ok";
	return "unknown";
}
