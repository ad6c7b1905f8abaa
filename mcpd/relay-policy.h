/*
 * The agents: policy applied to a relay session's traffic: requests the
 * session's agent may not make are answered with an error, and list results
 * (tools/list...) keep only what it may use. relay.c calls these hooks; the
 * gateway's 403 (an agent that may not use a server at all) is counted and
 * logged here too, so that every refusal is in one count and one summary.
 */
#ifndef MCPD_RELAY_POLICY_H
#define MCPD_RELAY_POLICY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp-era.h"

/* Refusals are logged one by one once per interval; the rest are summarised at its end. */
#define POLICY_SUMMARY_SECONDS	60.
/* Agents counted by name in /metrics (names from agents: only); others count as "other". */
#define POLICY_MAX_LABELS	256

struct session;
struct daemon;
struct metrics_buf;

/* A client's request: true when the agent may not make it, or the name or URI it names is no string (answered). */
bool relay_policy_refuses(struct session *sess, const cJSON *req, const cJSON *id);

/* The server's answer to the session's request of method, before it goes to the client. */
void relay_policy_filter(struct session *sess, const char *method, cJSON *response);

/* A refusal made elsewhere (the gateway's 403): counted and logged like the relay's. text: why. */
void relay_policy_refused(struct daemon *d, const char *agent, const char *server, const char *text);

/*
 * May the agent not use the server at all? Then true, with the refusal's
 * text in text (counted and logged like the relay's): the aggregate
 * endpoint's answer to a call routed to such a server.
 */
bool relay_policy_server_refused(struct daemon *d, const char *agent, const char *server, char *text, size_t size);

/* mcpd_policy_refusals_total{agent}. */
void relay_policy_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
