/*
 * Health checks: a liveness probe every health.interval over the server's own
 * MCP channel (ping, or server/discover for a modern server), latency kept as
 * a histogram, the tool list and its hash, fetched again when the server says
 * it changed or when its ttlMs runs out. Like
 * relayd's hce.c, this file logs only when health changes, never per probe.
 */
#ifndef MCPD_HEALTH_H
#define MCPD_HEALTH_H

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

struct server;

/* Probe latency buckets, upper bounds in milliseconds (the last one is +Inf). */
#define HEALTH_BUCKETS 13
extern const double health_bucket_ms[HEALTH_BUCKETS];

#define HEALTH_MAX_TOOLS	10000	/* beyond that, the list is cut (and the hash says so) */
#define HEALTH_MAX_PAGES	50	/* tools/list pages followed through nextCursor */
#define HEALTH_TTL_MIN_MS	1000		/* a tool list's ttlMs is fetched again no sooner */
#define HEALTH_TTL_MAX_MS	(24 * 3600 * 1000)	/* and no later */

struct health {
	unsigned fails;			/* consecutive failed probes */
	char last_error[160];		/* why the last probe failed */
	double last_latency_ms;		/* -1 before the first answer */
	double last_probe_at;		/* ev_now() of the last probe's outcome, 0 before */
	int probe_status;		/* of the last probe: 0 ok, 2 failed, 3 unknown (none for this process) */
	uint64_t buckets[HEALTH_BUCKETS];	/* counts, not cumulative */
	uint64_t probes, failures;
	double sum_ms;

	bool probing;			/* health_start() ran for this process */
	bool in_flight;
	int64_t ping_id;
	double sent_at;
	ev_timer interval_w;
	ev_timer timeout_w;

	char *tools;			/* the last tools/list, merged over pages, as compact JSON */
	int ntools;
	cJSON *tools_partial;		/* pages gathered so far */
	unsigned pages;
	uint64_t tools_hash;
	int64_t ttl_ms;			/* smallest ttlMs of the pages gathered, -1 when none had one */
	uint64_t refetch_ms;		/* the delay of the next refetch by ttlMs, 0 if none */
	ev_timer ttl_w;			/* fetches the tool list again when its ttlMs runs out */
	double listed_at;		/* when the last fetch began: list_changed fetches no sooner than HEALTH_TTL_MIN_MS */
	uint64_t deferred;		/* list_changed put off for that: logged at the first */
	int64_t listen_id;		/* mcpd's own subscriptions/listen (modern), 0 if none */
	char server_name[64];
	char server_version[32];
};

void health_init(struct server *s);
void health_free(struct server *s);

/* The handshake is done: start probing (and fetch the tool list); once per process. */
void health_start(struct server *s);

/* The process is gone: stop probing, keep the last tool list for `mcpctl tools`. */
void health_stop(struct server *s);

/* Answers from mcp-stdio.c. error is NULL on success. */
void health_ping_answered(struct server *s, int64_t id, const char *error);
void health_tools_answered(struct server *s, const cJSON *result, const char *error);

/* The server said its tools changed: fetch them again. */
void health_tools_changed(struct server *s);

/* mcpd's own subscriptions/listen was answered (the server ended it) or refused. */
void health_listen_ended(struct server *s, int64_t id, const char *error);

/* transport http: start probing (spawned, or monitor-only), until the first answer. */
void health_http_begin(struct server *s);

/* An answer from probe-http.c; result is valid during the call only. */
void health_http_result(struct server *s, const char *method, bool ok, double latency_ms, const cJSON *result,
			const char *reason);

/*
 * A deep check (deep-check.c) failed: counted like a failed probe, reason
 * "health.call lookup failed" and detail ": tool error: ...". Or it passed:
 * the server is healthy again when its probe and every other check are.
 */
void health_check_failed(struct server *s, const char *what, const char *detail);
void health_check_passed(struct server *s);

/* "ok", "degraded" (a check said so), "unhealthy" or "unknown", for status. */
const char *health_name(const struct server *s);

/* 64-bit FNV-1a of the compact JSON of the tool list. */
uint64_t health_tools_hash(const char *text);

#endif
