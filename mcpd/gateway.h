/* The HTTP gateway to supervised stdio servers (POST /mcp/NAME): see gateway.c. */
#ifndef MCPD_GATEWAY_H
#define MCPD_GATEWAY_H

#include <stddef.h>

#include "mhd-dl.h"

struct daemon;
struct gateway;

#define GATEWAY_MAX_BODY	(4 * 1024 * 1024)	/* one request's body */
#define GATEWAY_MAX_BUFFERED	(64 * 1024 * 1024)	/* bodies of all requests together */
#define GATEWAY_MAX_SESSIONS	1024
#define GATEWAY_MAX_QUEUED	(64 * 1024 * 1024)	/* bytes waiting for all GET streams together */
/*
 * Event streams open at once (GET streams and subscriptions/listen): they are
 * requests in progress that never end by themselves, so the HTTP endpoint
 * never sheds them; below its 192 connections, 64 stay for everything else.
 */
#define GATEWAY_MAX_STREAMS	128
#define GATEWAY_AUTH_FAILURES	10	/* failed authentications per address and window, then 429 */
#define GATEWAY_AUTH_WINDOW	60.
#define GATEWAY_ADDRESSES	256	/* source addresses whose failures are counted */
#define GATEWAY_SUMMARY_SECONDS	10.	/* refused requests are logged as one summary per interval */
#define GATEWAY_MAX_AGENTS	4096	/* agents named by JWTs, kept until mcpd restarts */
#define GATEWAY_JWT_LOG_BURST	20	/* refused JWTs logged with their cause per summary interval */

struct metrics_buf;

/* run(arg) makes the HTTP server run once more (after a suspended request resumes). */
struct gateway *gateway_new(struct daemon *d, void (*run)(void *), void *arg, char **ret_error);

/* After MHD stopped: closes every session and frees the gateway. */
void gateway_free(struct gateway *g);

/*
 * Before MHD stops: every session is closed, every suspended request is
 * answered with a JSON-RPC error and every stream ends (MHD refuses to stop
 * with suspended connections).
 */
void gateway_wake_all(struct gateway *g);

/* An MHD access handler call for a /mcp/ URL. */
enum MHD_Result gateway_request(struct gateway *g, struct MHD_Connection *conn, const char *url, const char *method,
				const char *upload_data, size_t *upload_data_size, void **con_cls);

/* MHD is done with a request the gateway handled. */
void gateway_request_done(struct gateway *g, void *con_cls);

/*
 * GET /.well-known/oauth-protected-resource (RFC 9728): a malloc'd JSON
 * document naming this gateway and gateway.jwt's issuer; NULL without jwt.
 */
char *gateway_resource_metadata(const struct gateway *g);

/* After a reload applied a manifest: gateway.jwt's keys are read or fetched again. */
void gateway_reload(struct gateway *g);

/* mcpd_gateway_auth_failures_total{reason}. */
void gateway_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
