/*
 * What relay-state.c sees of relay.c's sessions: a few accessors, so that
 * struct session stays private to relay.c.
 */
#ifndef MCPD_RELAY_INTERNAL_H
#define MCPD_RELAY_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "mcp-era.h"

struct server;
struct session;
struct session_state;
struct relay_state;

/* The sessions still to talk to (not detached, not closing), oldest first. */
struct session *relay_first_session(struct server *s);
struct session *relay_next_session(struct session *sess);

struct server *relay_session_server(const struct session *sess);
enum mcp_era relay_session_era(const struct session *sess);
/* The capabilities of its client's initialize, NULL when it sent none. */
const cJSON *relay_session_capabilities(const struct session *sess);
/* Where relay-state.c keeps its per-session and per-server state (NULL until it needs one). */
struct session_state **relay_session_state(struct session *sess);
struct relay_state **relay_state_slot(struct server *s);

/*
 * A legacy client's state kept in relay.c while its server speaks 2026-07-28:
 * its resources/subscribe URIs (a cJSON array, NULL when none) and its
 * logging/setLevel ("" when none, 16 bytes). relay-state.c takes them over
 * when a process of the legacy era follows, and hands them back after.
 */
cJSON **relay_session_uris(struct session *sess);
char *relay_session_log_level(struct session *sess);
/* Open the session's subscriptions/listen upstream again (a modern server), with its URIs. */
void relay_session_rebridge(struct session *sess);

/*
 * A request that relay-policy.c or approvals.c let through later (a held call
 * a human approved): it goes on to the server as if it had just arrived, past
 * the policy and approval checks. id: the id to answer with.
 */
void relay_release(struct session *sess, cJSON *req, const cJSON *id);

/* Answer the session's client with a JSON-RPC error; false once it is closing or gone. */
bool relay_session_error(struct session *sess, const cJSON *id, int code, const char *message);

/* Send to the session's client; false once it is closing or gone. */
bool relay_session_send(struct session *sess, const cJSON *msg);

/*
 * The client's request id (as its sink answers it) is held for approval for
 * at most seconds (0: released now): the sink's held hook, when it has one.
 */
void relay_session_held(struct session *sess, const cJSON *id, double seconds);

/* How many subscriptions/listen that mcpd emulates for 2026 clients hold uri (subscribed upstream for them). */
size_t relay_listeners_of(struct server *s, const char *uri);

/* An id for a request of mcpd's own to the server: no client waits for its answer. */
int64_t relay_new_sid(struct server *s);

/*
 * The session whose request in flight was forwarded last, among those accept
 * takes; NULL when none of them has one.
 */
struct session *relay_newest_requester(struct server *s, bool (*accept)(struct session *sess, const void *arg),
				       const void *arg);

#endif
