/*
 * Human approval of tool calls (a server's approval: key): a call is held,
 * listed by mcpctl approvals, and run once by mcpctl approve or answered
 * with an error by mcpctl deny or when approval_timeout runs out.
 */
#ifndef MCPD_APPROVALS_H
#define MCPD_APPROVALS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct session;

/* A client's request: true when it is held for approval (approvals.c answers or releases it). */
bool approvals_hold(struct session *sess, const cJSON *req, const cJSON *id);

/* The session is detached: its held calls go. */
void approvals_session_gone(struct session *sess);

#endif
