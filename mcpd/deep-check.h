/*
 * Deep health checks from the manifest, beside the liveness probe:
 * health.call (a read-only tool called at each probe; an error or isError
 * fails it) and health.exec (a command run with the server's environment;
 * exit 0 ok, 1 degraded, other failed: the Nagios convention).
 */
#ifndef MCPD_DEEP_CHECK_H
#define MCPD_DEEP_CHECK_H

#include <cjson/cJSON.h>

struct daemon;
struct metrics_buf;
struct server;

/* Forget s's checks (server_free). */
void deep_check_free(struct server *s);

/* Adds "checks" to s's status object o. */
void deep_check_status_json(const struct server *s, cJSON *o);

/* Appends the check families to /metrics. */
void deep_check_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
