/* Probes of HTTP MCP servers (transport: http): see probe-http.c. */
#ifndef MCPD_PROBE_HTTP_H
#define MCPD_PROBE_HTTP_H

struct server;
struct probe_http;

/*
 * Send one request ("ping", "tools/list") on the server's session, opening
 * it first when needed; the answer comes to health_http_result(). Returns
 * -1 while a request is in flight.
 */
int probe_http_request(struct server *s, const char *method);

/* Forget the session (the process restarted) and abandon a request in flight. */
void probe_http_reset(struct server *s);
void probe_http_free(struct server *s);

#endif
