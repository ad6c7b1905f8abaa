/*
 * mcpd's HTTP endpoint (mcpd.http), GET and HEAD only:
 *   /livez    200 "ok" while the loop runs
 *   /readyz   200 "ok" when every critical server that is wanted is running,
 *             else 503 with a "NAME: STATE: REASON" line per critical server
 *             in the way; non-critical servers never affect readiness
 *   /health   200 {"health": "ok|degraded|critical", "servers": [status...]}
 *   /metrics  Prometheus text (metrics.c)
 * and /mcp/NAME for the gateway (gateway.c).
 * libmicrohttpd runs without threads of its own: its epoll descriptor is a
 * watcher on mcpd's loop, so every handler runs on the loop and reads the
 * supervisor's state directly, with nothing to lock.
 */
#ifndef MCPD_HTTP_H
#define MCPD_HTTP_H

struct daemon;
struct http;

#define HTTP_MAX_CONNECTIONS	256
#define HTTP_MAX_PER_IP		64	/* then the oldest one still sending headers (or idle) is shed */
#define HTTP_SHED_AT		192	/* connections in all: from here the oldest waiting one is shed */
#define HTTP_TIMEOUT_SECONDS	5	/* headers, and idle keep-alive, must come within this */
#define HTTP_MEMORY_LIMIT	(64 * 1024)
#define HTTP_LOG_BURST		5	/* libmicrohttpd messages per HTTP_LOG_SECONDS; the rest are counted */
#define HTTP_LOG_SECONDS	10.

/*
 * Listen on host:port (an IP address or "localhost"); NULL and a message like
 * "cannot listen on 127.0.0.1:9310: Address already in use" when impossible.
 */
struct http *http_start(struct daemon *d, const char *host, unsigned port, char **ret_error);
void http_stop(struct http *h);

/* A reload applied a manifest: what the HTTP endpoint reads from files is read again (gateway.jwt's keys). */
void http_reload(struct http *h);

#endif
