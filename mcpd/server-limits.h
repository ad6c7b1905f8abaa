/*
 * The resource limits of one server (manifest `limits:`): in its cgroup
 * (memory.max, memory.high, cpu.max, pids.max) where the controllers exist,
 * else as rlimits of each process; and an out-of-memory kill reported as such.
 */
#ifndef MCPD_SERVER_LIMITS_H
#define MCPD_SERVER_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct daemon;
struct server;
struct spawn_req;

/* Find which controllers the servers' cgroups have and log which mechanism each limit uses; once, at start. */
void limits_setup(struct daemon *d);

/*
 * In the parent, before s is spawned (its cgroup exists when cgroups are on):
 * write its cgroup's limits, and tell req which rlimits the child sets. 0, or
 * -errno with s->fail_reason set.
 */
int limits_before_spawn(struct server *s, struct spawn_req *req);

/*
 * When s's process was reaped with wait status status: true with buf set
 * (e.g. "killed: out of memory (limit 512M)") when its cgroup says the kernel
 * killed it for memory; false to describe the status as usual.
 */
bool limits_exit_reason(struct server *s, int status, char *buf, size_t size);

/* Forget s's limits' state (server_free). */
void server_limits_free(struct server *s);

/* "user", "group", "cgroup" and "limits" as members of the "confinement" object of s's status in w. */
struct jsonw;
void limits_status_write(const struct server *s, struct jsonw *w);

struct metrics_buf;

/*
 * mcpd_server_oom_kills_total{server}: the OOM kills counted at each server's
 * exits since mcpd started; only where the memory controller is on (else the
 * kernel's kills cannot be told apart from other SIGKILLs).
 */
void limits_metrics(const struct daemon *d, struct metrics_buf *b);

#endif
