/*
 * The counting behind traffic.c, with no server, relay nor event loop in it
 * (unit-tested alone): one table per server of series keyed by (method,
 * tool), each with counts per outcome and a latency histogram; bytes and
 * requests in flight per server; a sliding window of the last
 * TRAFFIC_WINDOW_SECONDS for rates and quantiles; and the exposition of it
 * all, written by hand (no printf per line: 1000 servers x 20 tools render
 * in milliseconds).
 */
#ifndef MCPD_TRAFFIC_TABLE_H
#define MCPD_TRAFFIC_TABLE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics_buf;

enum traffic_outcome {
	TRAFFIC_OK,
	TRAFFIC_ERROR,		/* a JSON-RPC error answer of the server's */
	TRAFFIC_TOOL_ERROR,	/* a result with isError: true */
	TRAFFIC_TIMEOUT,	/* the gateway's request_timeout */
	TRAFFIC_CANCELLED,	/* the client cancelled, or left first */
	TRAFFIC_UNAVAILABLE,	/* mcpd answered for the server: not running, busy, gone */
	TRAFFIC__OUTCOMES
};
const char *traffic_outcome_name(enum traffic_outcome o);

/* The histogram of mcpd_request_duration_seconds: 0.005 s ... 10 s, then +Inf. */
#define TRAFFIC_BUCKETS 12

/* The window: 60 slots of one second; its own finer buckets for p50 and p99. */
#define TRAFFIC_WINDOW_SECONDS	60
#define TRAFFIC_WBUCKETS	40
extern const double traffic_wbucket_ms[TRAFFIC_WBUCKETS];

/* Series per server: past it, requests are counted under method="other", tool="other". */
#define TRAFFIC_MAX_SERIES	1024
/* Tool names longer than this are never a listed tool's (folded into "other"). */
#define TRAFFIC_MAX_TOOL	128

/* The MCP methods counted under their own name; any other is "other". */
#define TRAFFIC_METHOD_OTHER	0u
unsigned traffic_method_index(const char *method);
const char *traffic_method_name(unsigned index);

struct traffic_series {
	uint64_t hash;
	unsigned method;
	char *tool;			/* NULL: not tools/call (tool="") */
	char *labels;			/* server="..",method="..",tool="..": escaped once */
	size_t labels_len;
	uint64_t outcomes[TRAFFIC__OUTCOMES];
	uint64_t buckets[TRAFFIC_BUCKETS];	/* per bucket, not cumulative; the last is +Inf */
	uint64_t answered;		/* = the sum of buckets */
	uint64_t sum_us;		/* of the answered ones' latency, in microseconds */
};

struct traffic_slot {
	int64_t second;			/* which second it holds; stale slots are reset when reused */
	uint32_t requests, errors, timed;	/* timed: those in wbuckets */
	uint32_t wbuckets[TRAFFIC_WBUCKETS + 1];
};

struct traffic_table {
	char *server_label;		/* the server's name, escaped */
	struct traffic_series **series;	/* in creation order (the exposition's order) */
	size_t nseries;
	uint32_t *index;		/* open addressing: 1 + the series' position; 0 empty */
	size_t index_cap;		/* a power of 2, at least twice nseries */
	uint64_t in_flight;
	uint64_t bytes_in, bytes_out;
	uint64_t requests, errors;	/* finished, since the table exists; errors: not ok */
	uint64_t folded;		/* requests counted in the overflow series past the cap */
	size_t render_size;		/* at most what its series take in the exposition */
	/* The server's last tool list, as a set of names. */
	uint64_t tools_hash;
	bool tools_known;
	char **tools;
	size_t ntools;
	uint32_t *tool_index;		/* open addressing as index */
	size_t tool_index_cap;
	struct traffic_slot slots[TRAFFIC_WINDOW_SECONDS];
};

struct traffic_table *traffic_table_new(const char *server_name);
void traffic_table_free(struct traffic_table *t);

/* 64-bit FNV-1a, for tool names. */
uint64_t traffic_hash(const char *s);

/* The tool set becomes tools (an array of tool objects with "name"), known as hash. */
void traffic_table_set_tools(struct traffic_table *t, const cJSON *tools, uint64_t hash);
bool traffic_table_tool_listed(const struct traffic_table *t, const char *name, uint64_t hash);

/*
 * The series of (method, tool): tool NULL for a method other than
 * tools/call, else a listed tool's name or "other". Created if new; past
 * TRAFFIC_MAX_SERIES, the overflow series (other, other), and t->folded grows.
 */
struct traffic_series *traffic_table_series(struct traffic_table *t, unsigned method, const char *tool);

/*
 * A request finished: latency_s its duration (answered ones), or < 0 for
 * none (timeout, cancelled, unavailable, a listen stream); now: the clock.
 */
void traffic_table_finish(struct traffic_table *t, struct traffic_series *se, enum traffic_outcome o,
			  double latency_s, double now);

/* Over the window ending now: requests and errors finished, and quantiles (-1 when none answered). */
struct traffic_window {
	uint64_t requests, errors, timed;
	double p50_ms, p99_ms;
};
void traffic_table_window(const struct traffic_table *t, double now, struct traffic_window *ret);

/* Like Prometheus' histogram_quantile: linear within the bucket; the +Inf bucket gives the last bound. */
double traffic_quantile(double q, const uint32_t *buckets, const double *bounds, size_t nbounds);

/*
 * At most how many bytes the table's lines take, and room for n more in b
 * made at once (for all tables, before the first family).
 */
size_t traffic_render_size(const struct traffic_table *t);
void traffic_render_reserve(struct metrics_buf *b, size_t n);

/* The table's lines of each family (their HELP and TYPE are the caller's). */
void traffic_render_requests(const struct traffic_table *t, struct metrics_buf *b);
void traffic_render_durations(const struct traffic_table *t, struct metrics_buf *b);
void traffic_render_in_flight(const struct traffic_table *t, struct metrics_buf *b);
void traffic_render_bytes(const struct traffic_table *t, struct metrics_buf *b);

#endif
