/*
 * Traffic metrics: every request mcpd relays to a stdio server (mcpctl
 * connect, the HTTP gateway, both protocol eras), counted per server, method
 * and tool, by outcome, with a latency histogram, requests in flight and
 * bytes in and out. Label cardinality is bounded: methods from a fixed list,
 * tools from the server's last tool list, at most TRAFFIC_MAX_SERIES series
 * per server (traffic-table.h). The relay calls the hooks below;
 * MCPD_TRAFFIC_METRICS=0 in mcpd's environment makes them do nothing.
 */
#ifndef MCPD_TRAFFIC_H
#define MCPD_TRAFFIC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "traffic-table.h"

struct daemon;
struct metrics_buf;
struct server;

/* One client request being counted, kept in the relay's own record of it (no allocation). */
struct traffic_req {
	struct traffic_series *series;	/* NULL: not counted (mcpd's own, or counting is off) */
	double start;			/* ev_time() when forwarded */
	bool stream;			/* subscriptions/listen: not in flight, no latency; counted when it ends */
};

/*
 * A client's request (its line was bytes long) is forwarded to s: its
 * series is chosen now (method, and tool for tools/call) and its clock starts.
 */
void traffic_begin(struct server *s, struct traffic_req *tr, const cJSON *req, size_t bytes);

/* It ended with outcome o; tr is counted no more (a second call does nothing). */
void traffic_end(struct server *s, struct traffic_req *tr, enum traffic_outcome o);

/* It ended with the server's answer msg: ok, error, or tool_error (result.isError true). */
void traffic_answered(struct server *s, struct traffic_req *tr, const cJSON *msg);

/* mcpd refused a client's request for s at once (not running, busy): unavailable. */
void traffic_refused(struct server *s, const cJSON *req, size_t bytes);

/* n bytes of an answer went to a client. */
void traffic_bytes_out(struct server *s, size_t n);

/* Is counting on (MCPD_TRAFFIC_METRICS is not "0")? */
bool traffic_enabled(void);

/* Forget what was counted for s (server_free). */
void traffic_free(struct server *s);

/*
 * "traffic":{...} as a member of s's status object in w (a stdio server's
 * only); with summary, only what `mcpctl status`'s table shows (requests,
 * rate, error_rate, p50_ms, p99_ms).
 */
struct jsonw;
void traffic_status_write(const struct server *s, struct jsonw *w, bool summary);

/* Appends the traffic families to /metrics. */
void traffic_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
