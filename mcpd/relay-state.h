/*
 * The state a relay session's client owns on a shared legacy-era server:
 * which client answers a request of the server's (sampling, elicitation,
 * roots/list), the resources each client subscribed to (one subscription
 * upstream per URI, reference-counted), each client's log level (the
 * server gets the most verbose), and what is renewed when the server
 * process restarts. relay.c calls these hooks; the logic lives here.
 */
#ifndef MCPD_RELAY_STATE_H
#define MCPD_RELAY_STATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct server;
struct session;
struct session_state;
struct relay_state;

/* Subscriptions one session may hold, and the longest URI it may subscribe to. */
#define RELAY_MAX_SUBSCRIPTIONS	1024
#define RELAY_MAX_URI		4096

/*
 * A request from a session's client, initialize and ping included (each one
 * counts as activity); id is the id to answer with. Returns true when it was
 * answered here; false: relay.c handles it.
 */
bool relay_state_request(struct session *sess, const cJSON *req, const cJSON *id);

/* The server answered the session's request whose id the client wrote as client_id. */
void relay_state_answered(struct session *sess, const cJSON *client_id, const cJSON *msg);

/* Does this notification of the server's go to this session? */
bool relay_state_wants(struct session *sess, const cJSON *msg);

/*
 * The session to give a request of the server's to; NULL when no client can
 * take it: the server was answered with an error then.
 */
struct session *relay_state_pick(struct server *s, const cJSON *req);

/* Does a client of the 2025 era hold uri (so the server is subscribed to it for that client)? */
bool relay_state_holds(struct server *s, const char *uri);

/* The session is detached: its subscriptions and log level are given up. */
void relay_state_detach(struct session *sess);

/*
 * The session moves to another replica of its server (replicas: N): out
 * gives up what it held on the old one (whose process is gone: nothing is
 * sent there), in holds it again on the session's new server, subscribing
 * upstream what no other client held there, and tells a 2025-era client as
 * after a restart.
 */
void relay_state_move_out(struct session *sess);
void relay_state_move_in(struct session *sess);

/* A server process finished its handshake: renew subscriptions and the log level, tell clients. */
void relay_state_ready(struct server *s);

void relay_state_session_free(struct session_state *st);
void relay_state_free(struct relay_state *rs);

#endif
