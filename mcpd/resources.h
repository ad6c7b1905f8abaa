/*
 * What each server consumes, summed over all its processes (its cgroup where
 * one exists, else its process group, from /proc): CPU seconds, resident
 * memory, open fds, processes; and mcpd's own process_* metrics.
 */
#ifndef MCPD_RESOURCES_H
#define MCPD_RESOURCES_H

#include <cjson/cJSON.h>

struct daemon;
struct metrics_buf;
struct server;

/* Start and stop sampling (mcpd's start and exit). */
void resources_start(struct daemon *d);
void resources_stop(struct daemon *d);

/* Forget what was sampled for s (server_free). */
void resources_free(struct server *s);

/* Adds "resources" to s's status object o. */
void resources_status_json(const struct server *s, cJSON *o);

/* Appends the resource families (per server, and mcpd's process_*) to /metrics. */
void resources_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
