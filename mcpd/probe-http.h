/* Probes of HTTP MCP servers (transport: http): see probe-http.c. */
#ifndef MCPD_PROBE_HTTP_H
#define MCPD_PROBE_HTTP_H

struct server;
struct probe_http;

/*
 * Send one request ("ping", "tools/list") in the server's protocol era,
 * finding the era first (server/discover) and opening a legacy session when
 * needed; a modern server's "ping" is server/discover. The answer comes to
 * health_http_result(). Another request in flight: this one is sent after it;
 * returns -1 when the same request is in flight or one waits already.
 */
int probe_http_request(struct server *s, const char *method);

/* Forget the session (the process restarted) and abandon a request in flight. */
void probe_http_reset(struct server *s);
void probe_http_free(struct server *s);

#endif
