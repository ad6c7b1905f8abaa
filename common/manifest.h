/*
 * The manifest (mcpd.yaml): parsed with libyaml, validated, with `defaults`
 * merged into every server. The schema is in mcpd.yaml(5).
 */
#ifndef MCPD_MANIFEST_H
#define MCPD_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Limits on untrusted input: a manifest beyond them is refused, never half-read. */
#define MANIFEST_MAX_BYTES	(1024 * 1024)
#define MANIFEST_MAX_DEPTH	64
#define MANIFEST_MAX_SERVERS	4096
#define MANIFEST_MAX_NODES	200000	/* after alias expansion */
#define MANIFEST_MAX_ERRORS	100
#define MANIFEST_MAX_ARGS	1024	/* items in command, env, headers, … */
#define MANIFEST_MAX_AGENTS	4096	/* entries of agents: */
#define MANIFEST_AGENT_NAME_MAX	128	/* bytes of an agent's name */
#define MANIFEST_GLOB_MAX	512	/* bytes of an agents.NAME.tools glob */
#define MANIFEST_MAX_REPLICAS	64	/* replicas: of one server */

enum transport {
	TRANSPORT_STDIO,
	TRANSPORT_HTTP,
};

/* Which MCP era mcpd speaks to a server: probed (auto), or pinned by the manifest. */
enum protocol_pin {
	PROTOCOL_AUTO,		/* server/discover first, initialize when it is not answered */
	PROTOCOL_MODERN,	/* server/discover only (2026-07-28) */
	PROTOCOL_LEGACY,	/* initialize only (2025-11-25 and older) */
};

enum restart_policy {
	RESTART_ALWAYS,
	RESTART_ON_FAILURE,
	RESTART_NEVER,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

struct kv {
	char *key;
	char *value;
	bool sensitive;		/* came from ${VAR} expansion: never log the value */
};

struct kv_list {
	struct kv *items;
	size_t n;
};

struct backoff_conf {
	uint64_t initial_ms;
	uint64_t max_ms;
	double factor;
	double jitter;		/* 0..1: each delay is spread by ±jitter */
};

struct circuit_conf {
	unsigned failures;	/* 0 disables the circuit breaker */
	uint64_t window_ms;
	uint64_t cooldown_ms;
};

struct health_conf {
	uint64_t interval_ms;
	uint64_t timeout_ms;
	unsigned unhealthy_after;
	uint64_t start_timeout_ms;
	/* Deep checks (per server only: a tool name belongs to one server); changing them needs no restart. */
	char *call_tool;		/* health.call.tool, NULL without a call check */
	char *call_arguments;		/* health.call.arguments as compact JSON (an object), NULL for none */
	char **exec;			/* health.exec argv, NULL-terminated; NULL without an exec check */
	size_t exec_argc;
	uint64_t exec_timeout_ms;	/* health.exec_timeout; 0: health.timeout */
};

#define MANIFEST_TOOL_NAME_MAX	128		/* MCP tool names: 1 to 128 of [A-Za-z0-9_.-] */
#define MANIFEST_CALL_ARGS_MAX	(64 * 1024)	/* health.call.arguments, as compact JSON */
#define MANIFEST_APPROVAL_TIMEOUT_MIN	1000ULL			/* approval_timeout: 1s .. 24h */
#define MANIFEST_APPROVAL_TIMEOUT_MAX	(24ULL * 3600 * 1000)

struct stop_conf {
	int signal;
	uint64_t timeout_ms;
};

/* One resource limit; RLIM_INFINITY (UINT64_MAX) is written "unlimited". */
struct limit_conf {
	bool set;
	uint64_t value;
	char text[24];			/* as written in the manifest ("512M", "0.5", "unlimited"), for status */
};

struct limits_conf {
	struct limit_conf nofile;	/* RLIMIT_NOFILE */
	struct limit_conf nproc;	/* RLIMIT_NPROC */
	struct limit_conf memory;	/* bytes: cgroup memory.max, else RLIMIT_DATA of each process */
	struct limit_conf core;		/* RLIMIT_CORE, bytes */
	struct limit_conf stack;	/* RLIMIT_STACK, bytes */
	struct limit_conf cpu_time;	/* RLIMIT_CPU, seconds */
	struct limit_conf memory_high;	/* bytes: cgroup memory.high (throttling); not enforced without one */
	struct limit_conf cpu;		/* cgroup cpu.max quota in microseconds per LIMITS_CPU_PERIOD (cores x 100000) */
	struct limit_conf pids;		/* cgroup pids.max */
};

#define LIMITS_CPU_PERIOD	100000		/* cpu.max's period in microseconds */
#define LIMITS_CPU_MIN		1000		/* 0.01 of a core: the smallest quota the kernel takes */
#define LIMITS_CPU_MAX		(1024ULL * LIMITS_CPU_PERIOD)
#define LIMITS_PIDS_MAX		4194304		/* the kernel's PID_MAX_LIMIT */

/*
 * Parse limits.cpu, a share of cores: "0.5", "2", "150%" (0.01 to 1024) or
 * "unlimited"/"max", into a cpu.max quota per LIMITS_CPU_PERIOD (UINT64_MAX
 * for unlimited). 0, -EINVAL, -ERANGE (out of range), or -EDOM when it is a
 * duration such as "10s" (what limits.cpu meant before: now cpu_time).
 */
int limits_cpu_parse(const char *s, uint64_t *ret_quota);

/*
 * sandbox: (issue 15): what a server may write, read and connect to. Lists
 * replace the defaults' lists; `sandbox: false` in a server turns off a
 * sandbox from defaults.
 */
#define MANIFEST_SANDBOX_MAX_PATHS	256

struct sandbox_conf {
	bool enabled;
	char **writable;		/* absolute paths, NULL-terminated; NULL when none */
	size_t nwritable;
	char **readable;		/* NULL: the whole file system except what is hidden */
	size_t nreadable;
	bool network;			/* default true */
	bool private_tmp;
	bool best_effort;
};

struct server_conf {
	char *name;
	unsigned line;			/* where the server is defined, for messages */

	enum transport transport;
	char **command;			/* argv, NULL-terminated; NULL when absent */
	size_t argc;
	char *url;			/* http only, ${VAR} expanded */
	bool url_sensitive;
	struct kv_list headers;		/* http only, ${VAR} expanded */
	enum protocol_pin protocol;	/* the MCP era: probed or pinned */

	char *cwd;			/* absolute, or relative to the manifest's directory */
	struct kv_list env;
	char *env_file;
	struct kv_list secrets;		/* env name -> file path */
	char *user;
	char *group;
	struct limits_conf limits;
	int umask;			/* -1: inherit mcpd's */
	uint64_t log_buffer;		/* bytes of stderr kept in memory */

	char **depends_on;
	size_t ndepends_on;
	bool autostart;
	bool critical;
	unsigned replicas;		/* processes of a stdio server: 1..MANIFEST_MAX_REPLICAS, default 1 */
	unsigned replica;		/* run time, set by mcpd: this process is replica K of them (1..N); 0: not replicated */

	enum restart_policy restart;
	struct backoff_conf backoff;
	uint64_t reset_after_ms;
	struct circuit_conf circuit;
	struct health_conf health;
	struct stop_conf stop;
	struct sandbox_conf sandbox;

	/* approval: calls of these tools wait for a human (mcpctl approve); approval: all holds every call. */
	char **approval;		/* tool names, NULL-terminated; NULL when none */
	size_t napproval;
	bool approval_all;
	uint64_t approval_timeout_ms;	/* a held call is denied after this; default 10 min */
};

/* agents.NAME: what one agent (a tokens_file name, or a JWT's agent claim) may use. */
struct agent_conf {
	char *name;
	unsigned line;
	char **tools;			/* "server/tool" globs, NULL-terminated */
	size_t ntools;
	bool has_rate_limit;		/* rate_limit given: it overrides gateway.rate_limit */
	unsigned rate_limit;		/* requests per rate_period_ms; 0 = unlimited */
	uint64_t rate_period_ms;
};

/* gateway.jwt: bearer tokens verified as JWTs (mcpd/jwt.c); enabled is false without the key. */
struct gateway_jwt_conf {
	bool enabled;
	char *issuer;
	char *audience;
	char *jwks_file;		/* exactly one of jwks_file and jwks_url */
	char *jwks_url;
	char *agent_claim;		/* default "sub" */
	unsigned algorithms;		/* the JWT_* bits of mcpd/jwt.h; default RS256 and ES256 */
	uint64_t leeway_ms;		/* default 60s */
};

struct gateway_conf {
	char *tokens_file;
	struct gateway_jwt_conf jwt;
	unsigned rate_limit;		/* requests per rate_period_ms; 0 = unlimited */
	uint64_t rate_period_ms;
	char **allowed_origins;
	size_t nallowed_origins;
	unsigned max_sessions_per_token;	/* sessions one token may hold open */
	uint64_t session_idle_ms;		/* an unused session is closed after this */
	uint64_t request_timeout_ms;		/* a POSTed request is answered with an error after this */
};

struct mcpd_conf {
	char *control;			/* NULL: the default rule (paths.h) */
	char *http;			/* "host:port", NULL when absent */
	char *http_host;
	unsigned http_port;
	struct gateway_conf gateway;
	enum log_format log_format;
	char *log_file;			/* NULL: stderr */
	uint64_t shutdown_timeout_ms;
	char *state_dir;		/* NULL: the default rule (history.h) */
	unsigned history;		/* applied manifests kept in state_dir */
};

struct manifest {
	char *path;			/* as given */
	char *dir;			/* directory relative paths are resolved against */
	struct mcpd_conf mcpd;
	struct server_conf *servers;	/* in the order of the file */
	size_t nservers;
	bool servers_released;		/* manifest_release_servers() ran: servers is gone */
	/* agents: absent (has_agents false) = every caller may use everything, as before. */
	bool has_agents;
	struct agent_conf *agents;
	size_t nagents;
};

/* One problem found in a manifest, already formatted "FILE:LINE:COL: path: message". */
struct manifest_error {
	char *text;
	unsigned line;
	unsigned col;
	bool warning;
};

struct manifest_errors {
	struct manifest_error *items;
	size_t n;
	size_t nerrors;			/* items that are errors, not warnings */
	bool truncated;			/* more than MANIFEST_MAX_ERRORS were found */
};

enum manifest_flags {
	/* An unset ${VAR} is a warning, not an error: for checking a manifest
	 * away from the environment the daemon will have (mcpctl check). */
	MANIFEST_LENIENT_ENV = 1 << 0,
};

/*
 * Parse and validate a manifest held in memory; name is used in messages.
 * Returns 0 and a manifest, or -EINVAL with *ret_manifest NULL. Problems, errors and
 * warnings, are always added to errs (which the caller frees).
 */
int manifest_parse_buffer(const char *name, const char *buf, size_t len, unsigned flags,
			  struct manifest **ret_manifest, struct manifest_errors *errs);

/* The same for a file; a file that cannot be read or is too large is one error. */
int manifest_load(const char *path, unsigned flags, struct manifest **ret_manifest,
		  struct manifest_errors *errs);

/* manifest_load, and the exact bytes read when ret_buf is not NULL (the caller frees them): for the history. */
int manifest_load_content(const char *path, unsigned flags, struct manifest **ret_manifest,
			  struct manifest_errors *errs, char **ret_buf, size_t *ret_len);

void manifest_free(struct manifest *m);
void manifest_errors_clear(struct manifest_errors *errs);

/*
 * Add a problem found outside the parser (no line): "NAME: [warning: ]PATH: message",
 * or "NAME: [warning: ]message" when path is NULL or empty.
 */
void manifest_error_add(struct manifest_errors *errs, const char *name, bool warning, const char *path,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Print every error and warning, one per line, and a summary line when there are errors. */
void manifest_errors_print(const struct manifest_errors *errs, FILE *out);

const struct server_conf *manifest_find_server(const struct manifest *m, const char *name);

/* Server names, for "did you mean" hints. The array is freed by the caller, not the names. */
const char **manifest_server_names(const struct manifest *m);

/* The built-in defaults, before the manifest's `defaults` are applied. */
void server_conf_init_defaults(struct server_conf *s);

/* A deep copy of src into dst, and the release of such a copy. */
void server_conf_copy(struct server_conf *dst, const struct server_conf *src);
void server_conf_release(struct server_conf *s);

/*
 * Give up the servers' configurations (servers, nservers 0) once a daemon's
 * servers hold their own copies: 776 bytes a server, which 1000 servers
 * would keep twice. Everything else in m stays.
 */
void manifest_release_servers(struct manifest *m);

/* Whether two servers' configurations differ in a way that needs a restart. */
bool server_conf_equal(const struct server_conf *a, const struct server_conf *b);

/*
 * Whether their deep checks (health.call, health.exec, exec_timeout) and approval, approval_timeout are the
 * same: these apply without a restart.
 */
bool server_conf_checks_equal(const struct server_conf *a, const struct server_conf *b);

/*
 * What every sandboxed server is kept from (absolute, as written; the child
 * resolves symlinks): the manifest, tokens_file, mcpd.state_dir, mcpd.control,
 * every server's env_file and secret files. NULL-terminated; the caller frees
 * each string and the array. mcpd adds its defaults (state dir, socket).
 */
char **manifest_hidden_paths(const struct manifest *m);

/*
 * Add one server's own secret files (env_file, secret files) to the n
 * strings of *v: for a manifest whose servers were released, from the
 * servers' own configurations.
 */
void manifest_server_hidden_paths(const struct server_conf *s, char ***v, size_t *n);

/* Whether name is a valid MCP tool name (1 to 128 of A-Z a-z 0-9 _ - .). */
bool tool_name_valid(const char *name);

const char *transport_name(enum transport t);
const char *restart_policy_name(enum restart_policy p);
const char *protocol_pin_name(enum protocol_pin p);

/* "TERM", "SIGTERM" or a number -> signal number; -1 if unknown. */
int signal_from_name(const char *name);
const char *signal_to_name(int sig);

#endif
