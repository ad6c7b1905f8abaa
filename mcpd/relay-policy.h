/*
 * The agents: policy applied to a relay session's traffic: requests the
 * session's agent may not make are answered with an error, and list results
 * (tools/list...) keep only what it may use. relay.c calls these hooks.
 */
#ifndef MCPD_RELAY_POLICY_H
#define MCPD_RELAY_POLICY_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct session;

/* A client's request: true when the agent may not make it (the client was answered). */
bool relay_policy_refuses(struct session *sess, const cJSON *req, const cJSON *id);

/* The server's answer to the session's request of method, before it goes to the client. */
void relay_policy_filter(struct session *sess, const char *method, cJSON *response);

#endif
