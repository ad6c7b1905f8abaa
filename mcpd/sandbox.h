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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct daemon;
struct server;

/* At most this many Landlock rules per server (the expansion around hidden files). */
#define SANDBOX_MAX_RULES 4096

/*
 * What the parent decided for one start (sandbox-plan.c), read by the child
 * (sandbox.c). Paths as written; the child resolves them.
 */
struct sandbox_plan {
	char *name;			/* the server's, for messages */
	char **writable;		/* NULL-terminated */
	char **readable;		/* NULL: "/" minus hidden */
	char **hidden;			/* NULL-terminated: mcpd's files */
	char *exe;			/* argv[0] when it holds a '/' (allow-list only), else NULL */
	bool network;
	bool private_tmp;
	bool best_effort;

	/* Mechanisms decided by the parent from the probe and its privileges. */
	int landlock_abi;		/* 0: no Landlock (best_effort) */
	bool drop_caps;			/* bounding set dropped (mcpd root; every sandboxed server loses its capabilities) */
	bool netns;			/* network: false, as root */
	bool seccomp_net;		/* network: false, not root */
	bool seccomp_chmod;		/* the server runs as root: chmod denied (seccomp) */
	bool mountns;			/* private_tmp, as root */

	char **mechanisms;		/* for the status: NULL-terminated */
	char **missing;			/* what best_effort went without */
	unsigned long control_refused;	/* control connections refused to it (the parent's count) */
};

/*
 * The Landlock rules for granting rights on path while keeping the hidden
 * paths out (the child's work, exposed for tests): path itself when no
 * hidden path is beneath it; else READ_DIR on it (when granted) and the same
 * for each of its entries, recursively, skipping hidden entries and symlinks.
 * hidden must be resolved (realpath) paths. emit(path, rights, arg) is called
 * per rule; returns 0, -E2BIG beyond *budget rules, or emit's negative value.
 */
int sandbox_expand(const char *path, uint64_t rights, uint64_t read_dir, char *const *hidden,
		   int (*emit)(const char *path, uint64_t rights, void *arg), void *arg, unsigned *budget);

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

/*
 * Whether a control-socket peer (its pid from SO_PEERCRED) belongs to a
 * sandboxed server: with cgroups, its /proc/PID/cgroup is in the server's
 * cgroup; without, its process group or session is the server's. When it
 * does: true, the answer to give in msg, logged once per start of the server.
 */
bool sandbox_refuse_peer(struct daemon *d, pid_t pid, char *msg, size_t size);

/* "sandbox" (null without one) as a member of the "confinement" object of s's status in w. */
struct jsonw;
void sandbox_status_write(const struct server *s, struct jsonw *w);

#endif
