/*
 * The server lifecycle as a state x event table: every transition, and every
 * decision to restart, back off or open the circuit, is in lifecycle.c.
 */
#ifndef MCPD_LIFECYCLE_H
#define MCPD_LIFECYCLE_H

#include "server.h"

enum server_event {
	SE_START,	/* operator start, autostart, reload added it */
	SE_STOP,	/* operator stop, shutdown, reload removed it */
	SE_RESTART,	/* operator restart, reload changed it */
	SE_READY,	/* the MCP handshake completed */
	SE_FAIL,	/* this attempt failed while the process lives: reason given */
	SE_EXIT,	/* the process was reaped: wait status given */
	SE_TIMER,	/* the server's timer fired */
	SE_DEPS,	/* a dependency changed state */
	SE_UNHEALTHY,	/* a probe failed, not yet unhealthy_after times: reason given */
	SE_HEALTHY,	/* a probe passed again */
	SE__COUNT,
};

struct event_arg {
	int wait_status;	/* SE_EXIT */
	const char *reason;	/* SE_FAIL, SE_STOP (optional) */
};

/*
 * Queue an event for s and, unless a transition is running further up the
 * stack, run the queue: one transition at a time, in order, never nested.
 * arg (and its reason) is copied. Outside an action, the event has run when
 * this returns.
 */
void lifecycle_event(struct server *s, enum server_event ev, const struct event_arg *arg);

/* Events queued for one server at most: a few follow-ups of one transition. */
#define LIFECYCLE_QUEUE_PER_SERVER 8

/* s is being freed: drop the events queued for it. */
void lifecycle_forget_server(struct server *s);

const char *server_event_name(enum server_event ev);

/* Describe a wait status: "exited with status 1", "killed by signal 9 (KILL)". */
void describe_wait_status(int status, char *buf, size_t size);

#endif
