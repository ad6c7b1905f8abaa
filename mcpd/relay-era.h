/*
 * The relay's translations between a client's protocol era and its server's:
 * messages in, messages out, no session state (relay.c keeps that). What
 * mcpd bridges, and what it cannot, is in mcpd(8), "Protocol eras".
 */
#ifndef MCPD_RELAY_ERA_H
#define MCPD_RELAY_ERA_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* The rank of an MCP log level (debug 0 .. emergency 7), or -1 for a name that is none. */
int relay_era_log_rank(const char *level);

/* The _meta log level of a request (a modern request), as a rank; -1 when it asks for none. */
int relay_era_request_log_rank(const cJSON *req);

/*
 * A modern request for a legacy server: the io.modelcontextprotocol keys of _meta
 * go (the server needs none of them); progressToken and the rest stay.
 */
void relay_era_strip_meta(cJSON *req);

/*
 * A legacy server's result for a modern client of method: "resultType":
 * "complete" is added when absent, and a cacheable result (tools/list...)
 * gets the caching hints the modern era requires: ttlMs 0, cacheScope private.
 */
void relay_era_mark_complete(cJSON *response, const char *method);

/* Set (or add) _meta[io.modelcontextprotocol/subscriptionId] of a notification's params or a result. */
void relay_era_set_subscription_id(cJSON *obj, const cJSON *id);

/* Remove it (for a legacy client, which knows no subscriptions). */
void relay_era_remove_subscription_id(cJSON *obj);

/* The subscriptionId of a notification, or NULL. */
const cJSON *relay_era_subscription_id(const cJSON *note);

/* The URIs of one emulated listen (or one legacy client's subscriptions), and their length. */
#define RELAY_ERA_MAX_URIS	256
#define RELAY_ERA_MAX_URI	4096

/*
 * An emulated subscriptions/listen on a legacy server: the filter mcpd can
 * honour with the server's capabilities (from its InitializeResult), at most
 * RELAY_ERA_MAX_URIS URIs of at most RELAY_ERA_MAX_URI bytes: the
 * acknowledged one, owned by the caller.
 */
cJSON *relay_era_listen_filter(const cJSON *asked, const cJSON *init_result);

/* Does a legacy notification belong on a listen stream with this (acknowledged) filter? */
bool relay_era_listen_wants(const cJSON *filter, const cJSON *note);

/*
 * The methods an InputRequiredResult asks the client for ("elicitation/create,
 * sampling/createMessage"), for a message; at most size bytes.
 */
void relay_era_input_methods(const cJSON *result, char *buf, size_t size);

/* A method whose result may be input_required: tools/call, prompts/get, resources/read. */
bool relay_era_input_method(const char *method);

/* Is this result an InputRequiredResult (a multi-round-trip request)? */
bool relay_era_input_required(const cJSON *result);

#endif
