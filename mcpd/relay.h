/*
 * Clients of a supervised stdio server (mcpctl connect): many sessions share
 * one server process. Request ids are rewritten so that every response goes
 * to the session that asked and to no other; mcpd's own requests use string
 * ids, relayed ones integers, so the two can never collide.
 */
#ifndef MCPD_RELAY_H
#define MCPD_RELAY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct ctl_client;
struct session;
struct relay;

/* A session writing more than this ahead of its reader is dropped. */
#define RELAY_CLIENT_QUEUE	(8 * 1024 * 1024)
/* Requests are refused while this much waits for the server's stdin. */
#define RELAY_SERVER_QUEUE	(4 * 1024 * 1024)
/* Requests in flight per session. */
#define RELAY_MAX_PENDING	10000
/* Requests of the server (roots/list, sampling...) waiting for a client's answer; more get an error. */
#define RELAY_MAX_SERVER_REQS	1024
/* subscriptions/listen streams per session (each stays open until the client cancels it). */
#define RELAY_MAX_LISTENS	64
/* A modern server's input_required for a legacy client: inputs per round, rounds per request. */
#define RELAY_MAX_INPUTS	16
#define RELAY_MAX_ROUNDS	8
/* Bytes of a legacy client's requests kept to retry them with its input. */
#define RELAY_MAX_STORED	(16 * 1024 * 1024)

struct relay *relay_new(void);
void relay_free(struct relay *r);

/* Where a session's messages go: a control connection, or an HTTP gateway session. */
struct relay_sink {
	bool (*send)(void *sink, const cJSON *msg);
	size_t (*pending)(void *sink);		/* bytes queued, not yet read by the client */
	void (*close)(void *sink);		/* ends the client; relay_detach follows, now or later */
	/*
	 * Answers carry the client's id as it wrote it, a cJSON_Raw item (ids past
	 * 2^53 stay exact); false: as cJSON parsed it, for a sink that matches ids.
	 */
	bool raw_ids;
	/*
	 * A session for one request (a gateway's 2026-07-28 POST): its attach and
	 * detach are logged at debug, not once per request at info.
	 */
	bool per_request;
	/*
	 * Optional (NULL: none): the client's request id (as it wrote it) is held
	 * until a human decides (approvals.c), for at most seconds: a deadline of
	 * the sink's own (the gateway's request_timeout) must not cancel it first.
	 */
	void (*held)(void *sink, const cJSON *id, double seconds);
};

/*
 * A client becomes a session of server s. agent: who the client is (a
 * tokens_file name or a JWT's agent claim), whose agents: policy applies to
 * every request of the session (relay-policy.c); NULL: the owner, who may
 * use everything. Copied.
 */
struct session *relay_attach(struct server *s, const struct relay_sink *ops, void *sink, const char *agent);

/* The session's agent, NULL for the owner. */
const char *relay_session_agent(const struct session *sess);

/*
 * The session's connection is gone: cancel what it asked, answer what it was
 * asked. The session is unlinked at once and freed later, by the relay's
 * reaper, so callers up the stack that still hold it stay safe; a second call
 * does nothing. A sink's close never frees the session itself.
 */
void relay_detach(struct session *sess);

/*
 * The client closed its side: answers still due are delivered (for at most
 * RELAY_DRAIN_SECONDS), then the connection is closed. Returns true when
 * nothing is due and the caller may close at once. Idempotent: the drain
 * starts once.
 */
#define RELAY_DRAIN_SECONDS 30.
bool relay_client_eof(struct session *sess);

/* A line from a session's client. */
void relay_client_line(struct session *sess, const char *line, size_t len);

/*
 * The client no longer wants the answer to its request id (as it wrote it):
 * the server is told, as by the client's own notifications/cancelled.
 * timed_out: the gateway's request_timeout ran out (counted as a timeout,
 * not as a cancellation).
 */
void relay_cancel(struct session *sess, const cJSON *id, const char *why, bool timed_out);

/* n bytes of an answer to a relayed request went to the session's client (a sink that serialises later). */
void relay_count_out(struct session *sess, size_t n);

/*
 * Is the message the sink is being given (its send) a counted answer of the
 * server's? Not mcpd's own answers for it (unavailable, busy), whose bytes
 * are not the server's.
 */
bool relay_answering(const struct session *sess);

/*
 * A line from a session's client longer than the limit (limit bytes): its
 * first bytes, to answer with the request's id when they hold it.
 */
void relay_client_oversized(struct session *sess, const char *start, size_t len, size_t limit);

/*
 * Messages from the server. Each returns true when it took the message:
 * a response to a relayed request, a notification for sessions, a request
 * for a client. A response it took is changed in place (the client's id,
 * filtered lists): the caller only frees it then.
 */
bool relay_server_response(struct server *s, cJSON *msg);
void relay_server_notification(struct server *s, const cJSON *msg);
bool relay_server_request(struct server *s, const cJSON *msg);

/* The server process is gone: requests in flight get an error, sessions stay. */
void relay_server_gone(struct server *s, const char *why);

/* replicas: N: the sessions left on a replica without a process (none ran when
 * it went away) move to a running replica of its entry, if one runs now. */
void relay_move_sessions(struct server *s, const char *why);

/* The server is removed from the manifest: every session is closed. */
void relay_server_removed(struct server *s);

size_t relay_sessions(const struct server *s);

/*
 * Can this session's client be asked a request of the server's (sampling,
 * elicitation, roots/list)? Not a client that speaks 2026-07-28: that era
 * has no server-to-client requests, and mcpd answers the server with
 * MCPD_ERR_NOT_BRIDGED instead.
 */
bool relay_session_takes_requests(const struct session *sess);

#endif
