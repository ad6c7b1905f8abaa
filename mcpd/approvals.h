/*
 * Human approval of tool calls (a server's approval: key): a call is held,
 * listed by mcpctl approvals, and run once by mcpctl approve or answered
 * with an error by mcpctl deny or when approval_timeout runs out. Nothing is
 * persisted: a stopping mcpd denies what is held.
 */
#ifndef MCPD_APPROVALS_H
#define MCPD_APPROVALS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp-era.h"
#include <sys/types.h>

struct session;
struct daemon;
struct server;
struct metrics_buf;

/* Held calls: in all, and of one agent (the owner counts as one agent). */
#define APPROVALS_MAX		256
#define APPROVALS_MAX_PER_AGENT	64
/* A held call with a progressToken gets notifications/progress this often. */
#define APPROVALS_PROGRESS_SECONDS	5.
/* A deny's reason: at most this many bytes, printable. */
#define APPROVALS_REASON_MAX	200
/* Length of an approval id: 8 hex digits. */
#define APPROVALS_ID_LEN	8

/* A client's request: true when it is held for approval (approvals.c answers or releases it). */
bool approvals_hold(struct session *sess, const cJSON *req, const cJSON *id);

/* The session is detached: its held calls are withdrawn. */
void approvals_session_gone(struct session *sess);

/* The client closed its side: its held calls are withdrawn, each answered with an error saying so. */
void approvals_client_eof(struct session *sess);

/* The client cancelled its request (notifications/cancelled, as parsed): true when it was held, now withdrawn. */
bool approvals_cancel(struct session *sess, const cJSON *request_id);

/* The held calls, oldest first: [{id, agent, server, tool, preview, sha256, age_s, expires_in_s}]. */
cJSON *approvals_list(const struct daemon *d);

/* A human decided (uid: who): 0, or -ENOENT when no call is held under that id. reason may be NULL. */
int approvals_approve(const char *id, uid_t uid);
int approvals_deny(const char *id, uid_t uid, const char *reason);

/*
 * s was renamed (replicas 1 <-> N), or sessions moved to it: the held calls
 * of its sessions name it from now on (approvals, audit lines, errors); why
 * is for the audit line ("renamed by a reload").
 */
void approvals_follow(const struct server *s, const char *why);

/* mcpd stops: every held call is answered as denied ("mcpd is stopping"). */
void approvals_stop(void);

/*
 * For relay.c: a released call becomes a request in flight. approvals_tag
 * copies the approval id of the call being released now into buf (""
 * when none); approvals_answered logs its result (msg: the server's
 * answer, NULL when it got none: why says why).
 */
void approvals_tag(char *buf, size_t size);
void approvals_answered(const char *server, const char *approval, const cJSON *msg, const char *why);

/* mcpd_approvals_pending and mcpd_approvals_total{decision}. */
void approvals_metrics(struct metrics_buf *b);

#endif
