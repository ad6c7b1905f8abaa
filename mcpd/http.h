/*
 * mcpd's HTTP endpoint (mcpd.http): /livez, /readyz, /health, /metrics.
 * libmicrohttpd runs without threads of its own: its epoll descriptor is a
 * watcher on mcpd's loop, so every handler runs on the loop and reads the
 * supervisor's state directly, with nothing to lock.
 */
#ifndef MCPD_HTTP_H
#define MCPD_HTTP_H

struct daemon;
struct http;

#define HTTP_MAX_CONNECTIONS	256
#define HTTP_MAX_PER_IP		64
#define HTTP_TIMEOUT_SECONDS	10
#define HTTP_MEMORY_LIMIT	(64 * 1024)

/* Listen on host:port; NULL and a message when that is impossible. */
struct http *http_start(struct daemon *d, const char *host, unsigned port, char **ret_error);
void http_stop(struct http *h);

#endif
