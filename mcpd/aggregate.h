/*
 * The aggregate MCP endpoint (POST /mcp, mcpctl connect without NAME): one
 * MCP session over every stdio server its agent may use, with namespaced
 * names (aggregate-names.h). Its handle is a struct session *, like a relay
 * session's: relay.c's public functions hand an aggregate's calls to the
 * functions below, so control.c and gateway.c need no second code path.
 */
#ifndef MCPD_AGGREGATE_H
#define MCPD_AGGREGATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct daemon;
struct server;
struct session;
struct relay_sink;
struct aggregate;

/* Requests of the client in flight (calls and lists): more get an error. */
#define AGG_MAX_PENDING		1000
/* Requests of the servers (sampling, elicitation, roots/list) waiting for the client's answer. */
#define AGG_MAX_SERVER_REQS	256
/* Items of one merged list answer, pages of one server's list. */
#define AGG_MAX_ITEMS		10000
#define AGG_MAX_PAGES		20
/* subscriptions/listen streams of a 2026-07-28 client. */
#define AGG_MAX_LISTENS		64
/* A server's part of a merged list answers within this, else it is left out of that answer. */
#define AGG_LIST_SECONDS	5.

/*
 * A client becomes an aggregate session over the stdio servers agent may use
 * (agents_allows_server; NULL: the owner), restricted to servers (a NULL-
 * terminated list of names, copied) when not NULL. Never NULL.
 */
struct session *aggregate_attach(struct daemon *d, const struct relay_sink *ops, void *sink, const char *agent,
				 char *const *servers);

/* The aggregate behind a handle, NULL for a relay session: relay.c's dispatch. */
struct aggregate *aggregate_of(const struct session *sess);

/* A server changed state (daemon_state_changed): clients learn that its tools came or went. */
void aggregate_server_changed(struct daemon *d, struct server *s);
/* A reload with agents: (before or after): clients with an agent get list_changed, what they may use may differ. */
void aggregate_policy_changed(struct daemon *d);

/* relay.h's functions, for an aggregate session: same contracts. */
const char *aggregate_agent(const struct aggregate *a);
void aggregate_detach(struct aggregate *a);
bool aggregate_client_eof(struct aggregate *a);
void aggregate_client_line(struct aggregate *a, const char *line, size_t len);
void aggregate_cancel(struct aggregate *a, const cJSON *id, const char *why, bool timed_out);
void aggregate_client_oversized(struct aggregate *a, const char *start, size_t len, size_t limit);
bool aggregate_takes_requests(const struct aggregate *a);

#endif
