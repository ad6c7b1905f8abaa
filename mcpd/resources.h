/*
 * What each server consumes, summed over all its processes (its cgroup where
 * one exists, else its process group, from /proc): CPU seconds, resident
 * memory, open fds, processes; and mcpd's own process_* metrics.
 *
 * Sampled in rounds on the loop, every RESOURCES_INTERVAL seconds, never from
 * a /metrics or status request; a round is split into steps of at most
 * RESOURCES_STEP_MS, so that a big manifest or a busy /proc never holds the
 * loop. Requests show the last round's numbers.
 */
#ifndef MCPD_RESOURCES_H
#define MCPD_RESOURCES_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#define RESOURCES_INTERVAL	5.0	/* seconds from the end of a round to the next */
#define RESOURCES_FIRST		1.0	/* seconds from mcpd's start to the first round */
#define RESOURCES_STARTUP_WAIT	5.0	/* the first round waits so long at most for the start-up to end */
#define RESOURCES_STARTUP_POLL	0.25	/* and checks whether it ended every so often */
#define RESOURCES_STEP_MS	2.0	/* work per loop iteration, at most (about) */
#define RESOURCES_MAX_PIDS	4096	/* processes of one server whose CPU time is remembered */

struct daemon;
struct metrics_buf;
struct server;

/* Start and stop sampling (mcpd's start and exit). */
void resources_start(struct daemon *d);
void resources_stop(struct daemon *d);

/* Forget what was sampled for s (server_free). */
void resources_free(struct server *s);

/*
 * "resources":{...} as a member of s's status object in w, when s has a
 * process that was sampled: {"source", "cpu_seconds", "cpu_percent",
 * "memory_bytes", "memory_limit_bytes", "fds", "processes", "sampled_s_ago"};
 * with summary, only what `mcpctl status`'s table shows (cpu_percent,
 * memory_bytes).
 */
struct jsonw;
void resources_status_write(const struct server *s, struct jsonw *w, bool summary);

/*
 * Appends the resource families to /metrics: per server once it was sampled
 * (its CPU counter stays across restarts, the gauges are 0 while it has no
 * process), and mcpd's process_*, read from /proc/self at render time.
 */
void resources_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
