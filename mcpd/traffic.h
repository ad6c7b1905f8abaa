/*
 * Traffic metrics: every request mcpd relays to a stdio server (mcpctl
 * connect, the HTTP gateway, both protocol eras), counted per server, method
 * and tool, by outcome, with a latency histogram, requests in flight and
 * bytes in and out. Label cardinality is bounded.
 */
#ifndef MCPD_TRAFFIC_H
#define MCPD_TRAFFIC_H

#include <cjson/cJSON.h>

struct daemon;
struct metrics_buf;
struct server;

/* Forget what was counted for s (server_free). */
void traffic_free(struct server *s);

/* Adds "traffic" to s's status object o (mcpctl status --json, /health). */
void traffic_status_json(const struct server *s, cJSON *o);

/* Appends the traffic families to /metrics. */
void traffic_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
