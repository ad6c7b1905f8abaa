/*
 * The sandbox of one server (manifest `sandbox:`): what it may write, read
 * and connect to, applied in the forked child before exec.
 *
 * The parent builds a plan from the manifest (sandbox_plan_build: no file
 * system access, nothing that blocks); the child applies it in two steps:
 * sandbox_child_privileged() while it still has mcpd's credentials (namespaces,
 * the capability bounding set), sandbox_child_restrict() after it took the
 * server's user (no_new_privs, Landlock, the network filter), just before exec.
 */
#ifndef MCPD_SANDBOX_H
#define MCPD_SANDBOX_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct daemon;
struct server;
struct sandbox_plan;

/* Probe what the kernel offers (Landlock ABI, ...) and log it; once, at start. */
void sandbox_setup(struct daemon *d);

/*
 * The plan for server s's next start, or NULL with *ret = NULL when s has no
 * sandbox. -errno with a malloc'd *error naming the cause when the sandbox
 * cannot be had and best_effort is off (the start fails with that reason).
 */
int sandbox_plan_build(struct server *s, struct sandbox_plan **ret, char **error);
void sandbox_plan_free(struct sandbox_plan *plan);

/*
 * In the forked child (see spawn.c): 0, or -errno with the reason in err
 * (the start fails with "sandbox: REASON").
 */
int sandbox_child_privileged(const struct sandbox_plan *plan, char *err, size_t size);
int sandbox_child_restrict(const struct sandbox_plan *plan, char *err, size_t size);

/* Adds "sandbox" (null without one) to the "confinement" object c of s's status. */
void sandbox_status_json(const struct server *s, cJSON *c);

#endif
