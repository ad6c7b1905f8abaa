/*
 * The daemon as a whole: the one event loop, the manifest in force, the
 * servers, the control socket. There is exactly one, reachable from every
 * server through server->d.
 */
#ifndef MCPD_DAEMON_H
#define MCPD_DAEMON_H

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

#include "manifest.h"

struct server;
struct control;
struct lifecycle_item;
struct http;
struct history;

struct daemon {
	struct ev_loop *loop;
	char *manifest_path;
	struct manifest *manifest;	/* the one in force: mcpd settings and agents (its servers are released: each server holds its conf) */
	struct server **servers;
	size_t nservers;
	size_t ndepending;	/* servers with a depends_on: only then does a state change look for waiters */
	struct control *control;
	struct http *http;		/* mcpd.http, or NULL */
	struct history *history;	/* applied manifests (history.h); never NULL once set up */
	char *socket_path;

	bool shutting_down;
	char stopping[64];	/* why, for clients: "mcpd is stopping (SIGTERM)" */
	int exit_status;
	ev_timer shutdown_timer;
	ev_signal sig_term, sig_int, sig_hup, sig_usr1;
	ev_child child_w;		/* every child, re-parented orphans included */
	ev_check sweep_w;		/* servers removed by a reload are freed here */
	ev_timer trim_w;		/* gives free heap pages back now and then */
	bool is_root;

	/* Lifecycle events waiting for the transition before them (lifecycle.c). */
	struct {
		struct lifecycle_item *head, *tail;
		size_t n;
		bool running;		/* a transition is in progress: queue, do not nest */
	} events;
	bool stopped_all;		/* shutdown: every server has stopped */

	/* Autostart in batches, so the loop serves clients and pipes between them (main.c). */
	ev_timer autostart_w;
	bool autostart_paused;		/* too many handshakes: resumed when one ends */
	bool autostart_done;		/* the manifest's autostart servers were all started */
	bool startup_trimmed;		/* the heap was trimmed once the last start-up handshake ended */
};

struct server *daemon_find_server(const struct daemon *d, const char *name);

/*
 * Names of all servers, for "did you mean" hints (free the array, not the
 * names): a replicated entry's first replica is there by its entry's name.
 */
const char **daemon_server_names(const struct daemon *d);

/* Aggregate health: "ok", "degraded" or "critical". */
const char *daemon_health(const struct daemon *d);

/* A server changed state: start its dependents, continue a shutdown, ... */
void daemon_state_changed(struct daemon *d, struct server *s);

/* Add a server created from conf. */
struct server *daemon_add_server(struct daemon *d, const struct server_conf *conf);

/*
 * A server is gone from the manifest: stop it; daemon_sweep() frees it once
 * it has no process. Nothing else frees a server while mcpd runs.
 */
void daemon_remove_server(struct daemon *d, struct server *s);

/*
 * Start s with the next autostart batch (main.c): spawning many servers in one
 * loop iteration would hold the loop, and their handshake timers, for seconds.
 */
void daemon_autostart(struct daemon *d, struct server *s);

/* Free the removed servers that have no process left (the loop's check watcher). */
void daemon_sweep(struct daemon *d);

/* The lifecycle queue ran empty: leave the loop once a shutdown has stopped everything. */
void daemon_events_settled(struct daemon *d);

/*
 * mcpd's children that are never strays: the guard, the history writer, every
 * server's process, every running health.exec check and its secret reader.
 * malloc'd, *ret_n of them, unsorted.
 */
pid_t *daemon_own_children(const struct daemon *d, size_t *ret_n);

/* Kill processes re-parented to mcpd that belong to no server (escaped orphans). */
void daemon_kill_strays(struct daemon *d);

/* Stop everything in reverse dependency order, then leave the loop; cause: "SIGTERM", for clients. */
void daemon_shutdown(struct daemon *d, const char *cause);

#endif
