/*
 * The control socket: a Unix stream socket speaking newline-delimited
 * JSON-RPC 2.0 (the protocol is in mcpd(8)). This file owns the socket, the
 * connections and their limits; each method lives in its own ctl-*.c file.
 */
#ifndef MCPD_CONTROL_H
#define MCPD_CONTROL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct daemon;
struct server;
struct control;
struct ctl_client;

#define CONTROL_MAX_CLIENTS	1024
#define CONTROL_RESERVED	16	/* of them, for root and mcpd's uid only */
#define CONTROL_MAX_PER_UID	64	/* connections of one uid other than root and mcpd's */
#define CONTROL_IDLE_TIMEOUT	60.	/* seconds a connection may sit without a request or a stream */
#define CONTROL_MAX_REQUEST	(1024 * 1024)
#define CONTROL_MAX_QUEUE	(96 * 1024 * 1024)	/* a `logs` reply may hold a 64 MiB buffer */
#define CONTROL_FOLLOW_QUEUE	(4 * 1024 * 1024)	/* a `logs -f` reader that lags more is dropped */
/* Replies of all clients together: past it, a client with replies unread is not served more. */
#define CONTROL_TOTAL_QUEUE	(256 * 1024 * 1024)

/* Error codes beyond JSON-RPC's own. */
#define CTL_ERR_PERMISSION	-32003
#define CTL_ERR_NO_SERVER	-32004
#define CTL_ERR_RELOAD		-32005
#define CTL_ERR_HISTORY		-32006	/* no such manifest in the history, or the history is off */
#define CTL_ERR_NO_APPROVAL	-32010	/* no call is held under that approval id */

/*
 * Listen on path, or on fd when systemd passed one (fd >= 0). Refuses when a
 * live mcpd answers on path; replaces a stale socket. Returns NULL and a
 * message on failure.
 */
struct control *control_new(struct daemon *d, const char *path, int fd, char **ret_error);
void control_free(struct control *c);

/* A server wrote a stderr line: pass it to `logs -f` readers. */
void control_log_line(struct control *c, struct server *s, uint64_t seq, uint64_t ts_ms, const char *line,
		      size_t len);

/* A server is being freed: readers following it are told and dropped. */
void control_forget_server(struct control *c, struct server *s);

/*
 * s was renamed by a reload (old: its name before): when NAME became NAME#1,
 * readers of `logs -f NAME` follow every replica of NAME, as if started now.
 */
void control_server_renamed(struct control *c, struct server *s, const char *old);

/* For methods. */
struct ctl_method {
	const char *name;
	bool writes;		/* changes state: root and mcpd's uid only */
	void (*run)(struct ctl_client *c, const cJSON *id, const cJSON *params);
};

struct daemon *ctl_daemon(const struct ctl_client *c);
/* The peer's uid (SO_PEERCRED): who applied a manifest, for the history. */
uid_t ctl_uid(const struct ctl_client *c);
/* Both return false when the client was dropped (its queue overflowed): do not touch it then. */
bool ctl_reply(struct ctl_client *c, const cJSON *id, cJSON *result);
bool ctl_error(struct ctl_client *c, const cJSON *id, int code, const char *message, cJSON *data);
/*
 * A reply written straight as text (no cJSON tree): ctl_reply_begin writes
 * the message up to its result into w, the caller writes the result, and
 * ctl_reply_end queues the line and frees w.
 */
struct jsonw;
void ctl_reply_begin(const cJSON *id, struct jsonw *w);
bool ctl_reply_end(struct ctl_client *c, struct jsonw *w);

/* Follow a server's stderr on this connection (logs -f). */
void ctl_follow(struct ctl_client *c, struct server *s);
/* The same for every replica of the entry named name (replicas: N), each line led by "NAME#K: ". */
void ctl_follow_group(struct ctl_client *c, const char *name);

/* From now on, the connection is an MCP client of a server (connect). */
struct session;
void ctl_attach(struct ctl_client *c, struct session *sess);

/*
 * connect with "stdio": "passed": ctl_stdio_check says why the descriptors
 * that came with the request cannot be the client's stdin and stdout (in buf),
 * NULL when they can. ctl_stdio_take, after the reply was queued and before
 * the session is attached: writes the reply to the control socket, then the
 * client's input is read from the first and its output written to the second;
 * the control socket is only watched for its close and gets one final line
 * when the session ends ({"end":"ok"}, else {"end":REASON}). False when the
 * client was dropped.
 */
const char *ctl_stdio_check(struct ctl_client *c, char *buf, size_t size);
bool ctl_stdio_take(struct ctl_client *c);

/*
 * connect with "end": true (the copying relay): when mcpd ends the session,
 * {"end":REASON} follows the stream as its last line (not after a clean end,
 * nor after a stream cut short).
 */
void ctl_want_end_line(struct ctl_client *c);

/* For sessions: queue a message, see the queue, close after it is written. */
bool ctl_send(struct ctl_client *c, const cJSON *msg);
size_t ctl_pending(const struct ctl_client *c);
/* Close once the queue is written (now when it is empty); the client is freed later, never under its caller. */
void ctl_close(struct ctl_client *c);
/* Close now, dropping what is queued: a client that does not read. */
void ctl_abort(struct ctl_client *c);

/*
 * The servers named in params ("names": [...] or "all": true); replies with
 * an error itself and returns -1 when a name is unknown or params are wrong.
 * all_if_absent: no names and no "all" means every server (status).
 */
int ctl_servers(struct ctl_client *c, const cJSON *id, const cJSON *params, bool all_if_absent,
		struct server ***ret, size_t *ret_n);

/* The one server a method names, or NULL after replying with the error. */
struct server *ctl_server_named(struct ctl_client *c, const cJSON *id, const char *name);

extern const struct ctl_method ctl_version, ctl_status, ctl_start, ctl_stop, ctl_restart, ctl_logs, ctl_reload,
	ctl_health, ctl_tools, ctl_connect, ctl_history, ctl_rollback;
extern const struct ctl_method ctl_approvals, ctl_approve, ctl_deny;

#endif
