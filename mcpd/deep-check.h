/*
 * Deep health checks from the manifest, beside the liveness probe:
 * health.call (a read-only tool called at each probe; an error or isError
 * fails it) and health.exec (a command run with the server's environment;
 * exit 0 ok, 1 degraded, other failed: the Nagios convention).
 * A round starts when the liveness probe answered; a failed check counts as a
 * failed probe (health.c), a degraded one leaves the server running with its
 * health "degraded". This file keeps each check's last result for status,
 * /health and /metrics (across restarts, until a new run replaces it: a
 * check that fails at every start must not look unknown), and logs only when
 * a check's status changes.
 */
#ifndef MCPD_DEEP_CHECK_H
#define MCPD_DEEP_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon;
struct metrics_buf;
struct server;

/* Forget s's checks (server_free). */
void deep_check_free(struct server *s);

/*
 * "checks":[...] as a member of s's status object in w, for a server with a
 * call or exec check (the probe's first); false, and nothing written, for
 * another.
 */
struct jsonw;
bool deep_check_status_write(const struct server *s, struct jsonw *w);

/* Appends the check families to /metrics. */
void deep_check_metrics(const struct daemon *d, struct metrics_buf *b);

/* The liveness probe of a round answered: start the checks that are not running yet. */
void deep_check_round(struct server *s);

/* Probing stopped (the process is gone or being restarted): abandon the call, kill a running exec. */
void deep_check_stop(struct server *s);

/* A reload changed only the checks: results of checks that changed are forgotten. */
void deep_check_conf_changed(struct server *s);

/* Whether the last result of a deep check is failed (the server cannot be healthy), or degraded. */
bool deep_check_failing(const struct server *s);
bool deep_check_degraded(const struct server *s);

/* The answer to the call over stdio (mcp-stdio.c): msg is the whole JSON-RPC response. */
void deep_check_call_answered(struct server *s, int64_t id, const cJSON *msg);

/* Over HTTP (probe-http.c): the call's params, and its outcome (result valid during the call). */
cJSON *deep_check_call_params(const struct server *s);
void deep_check_http_answered(struct server *s, bool ok, const cJSON *result, const char *reason);

/* A health.exec run left n processes outside its group, which were killed: counted, logged the first time. */
void deep_check_exec_strays(struct server *s, int n);

#endif
