/*
 * One supervised server at run time: its configuration, its state in the
 * lifecycle (lifecycle.c decides every transition), its process and pipes,
 * and its MCP session (mcp-stdio.c).
 */
#ifndef MCPD_SERVER_H
#define MCPD_SERVER_H

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backoff.h"
#include "health.h"
#include "linebuf.h"
#include "lograte.h"
#include "manifest.h"
#include "mcp-era.h"
#include "wbuf.h"

struct daemon;
struct logbuf;

enum server_state {
	ST_STOPPED,		/* not wanted */
	ST_STARTING,		/* waiting for dependencies, or spawned and in the MCP handshake */
	ST_RUNNING,		/* handshake done */
	ST_UNHEALTHY,		/* probes failing */
	ST_STOPPING,		/* asked to end: stdin closed, then signal, then SIGKILL */
	ST_EXITED,		/* ended and not restarted by policy */
	ST_BACKOFF,		/* waiting to restart */
	ST_FAILED,		/* circuit open: too many failures in the window */
	ST__COUNT,
};

/* Why a process is being stopped decides what happens once it has exited. */
enum stop_cause {
	STOP_NONE,
	STOP_OPERATOR,		/* mcpctl stop, shutdown, reload removed it */
	STOP_RESTART,		/* mcpctl restart, reload changed it: start again at once */
	STOP_FAILURE,		/* handshake failed, bad output, probes failed: counts as a failure */
};

/* Phases of a graceful stop, each ended by the process exiting or a timer. */
enum stop_phase {
	STOP_PHASE_NONE,
	STOP_PHASE_STDIN,	/* stdin closed: MCP servers exit on EOF */
	STOP_PHASE_SIGNAL,	/* stop.signal sent to the group */
	STOP_PHASE_KILL,	/* SIGKILL sent to the group */
};

/* Limits on what a child may send. */
#define SERVER_MAX_MESSAGE	(4 * 1024 * 1024)	/* one JSON-RPC message on stdout */
#define SERVER_STDERR_LINE	4096			/* longer stderr lines are split */
#define SERVER_STDIN_QUEUE	(8 * 1024 * 1024)	/* unread messages to the server */

struct pending;

struct server {
	struct daemon *d;
	struct server_conf conf;	/* own copy: a reload replaces it */

	enum server_state state;
	double state_since;		/* ev_now() when the state was entered */
	char reason[256];		/* why the server is in this state */
	bool wanted;			/* operator or autostart wants it running */
	bool removed;			/* gone from the manifest: free once stopped */
	bool autostart_pending;		/* autostart has not reached it yet (main.c) */
	bool rolling_pending;		/* a replica that a reload's rolling restart has still to restart (replicas.c) */
	unsigned events_queued;		/* lifecycle events waiting for it */
	int last_queued;		/* the last of them (enum server_event) */
	bool events_overflowed;		/* more than LIFECYCLE_QUEUE_PER_SERVER: logged once */

	/* The process. */
	pid_t pid;			/* 0 when none */
	double started_at;
	int stdin_fd, stdout_fd, stderr_fd, status_fd;
	ev_io stdin_w, stdout_w, stderr_w, status_w;
	ev_prepare stdin_flush_w;	/* writes what an iteration queued for stdin, before the loop waits */
	struct linebuf out;
	struct linebuf err;
	struct wbuf in;
	enum stop_cause stop_cause;
	enum stop_phase stop_phase;
	char fail_reason[256];		/* for STOP_FAILURE: becomes the reason after exit */
	bool in_handshake;
	bool exec_failed;		/* the status pipe said why: fail_reason */
	bool exit_known;		/* exit_status is that of the process being reaped (lifecycle's SE_EXIT) */
	int exit_status;		/* its wait status: what its clients are told it did */

	/* Restarts. */
	unsigned restarts;		/* processes started after the first */
	unsigned attempt;		/* consecutive failures, for the backoff */
	double next_try;		/* ev_now() of the next automatic start, 0 if none */
	double running_since;		/* for reset_after */
	struct circuit circuit;
	bool circuit_trial;		/* this start is the trial after a cooldown */
	ev_timer timer;			/* backoff, cooldown, handshake timeout, stop phases */

	/* MCP session. */
	int64_t next_id;
	struct pending *pending;
	cJSON *init_result;		/* the server's InitializeResult (legacy era) */
	cJSON *discover_result;		/* its DiscoverResult (modern era) */
	enum mcp_era era;		/* of this process; MCP_ERA_UNKNOWN until the probe answers */
	enum mcp_era era_hint;		/* what the last process spoke: kept across restarts */
	char protocol_version[32];	/* negotiated (legacy) or chosen (modern) */

	struct health health;
	struct deep_check *checks;	/* health.call and health.exec (deep-check.c), NULL without */
	struct traffic *traffic;	/* relayed requests counted (traffic.c), NULL before the first */
	struct resources *res;		/* what its processes consume (resources.c), NULL before sampled */
	struct sandbox_plan *sandbox;	/* its sandbox as of its last start (sandbox.c), NULL without */
	struct server_limits *limits;	/* its limits' state (server-limits.c), NULL until it has one */
	struct relay *relay;		/* MCP clients attached through mcpctl connect */
	struct probe_http *http;	/* transport http: the probing session */

	struct logbuf *log;		/* stderr lines, NULL until the first */
	struct lograte lograte;		/* stderr and stray stdout lines in mcpd's log */
	ev_timer lograte_w;		/* the summary of what lograte suppressed */
};

struct server *server_new(struct daemon *d, const struct server_conf *conf);

/* Whether one more line of the server's output may go to mcpd's log (lograte.h). */
bool server_log_allows(struct server *s, enum lograte_stream stream);
void server_free(struct server *s);

/* Replace the configuration (reload); the caller decides whether to restart. */
void server_set_conf(struct server *s, const struct server_conf *conf);

/* Start the process (the lifecycle calls this): 0, or -errno with s->fail_reason set. */
int server_spawn(struct server *s);

/* Signal the process group (no-op without a process). */
void server_kill(struct server *s, int sig);

/* Close stdin: the first step of a graceful MCP stop. */
void server_close_stdin(struct server *s);

/* The process was reaped: drain its pipes and forget it. */
void server_reaped(struct server *s);

/* Queue a message for the server's stdin; false if the server does not keep up. */
bool server_send(struct server *s, const cJSON *msg);

/* The reason as shown by status, with "next try in Ns" filled in. */
void server_reason(const struct server *s, char *buf, size_t size);

const char *server_state_name(enum server_state st);

/*
 * s's object in `status` (mcpctl status --json, /health), written into w;
 * a replica of replicas: N has server and replica after its name. With
 * summary, only the members `mcpctl status`'s table shows, in the same
 * order and form: name (server, replica), state, pid, uptime_s, restarts,
 * reason, health, latency_ms, traffic (requests, rate, error_rate, p50_ms,
 * p99_ms) and resources (cpu_percent, memory_bytes), each when the full
 * status has it.
 */
struct jsonw;
void server_status_write(const struct server *s, struct jsonw *w, bool summary);

#endif
