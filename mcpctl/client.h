/*
 * mcpctl's side of the control socket: newline-delimited JSON-RPC 2.0 over a
 * Unix stream socket, one request at a time (the protocol is in mcpd(8)).
 */
#ifndef MCPCTL_CLIENT_H
#define MCPCTL_CLIENT_H

#include <cjson/cJSON.h>
#include <stdio.h>

/*
 * A `logs -n 0` reply carries a whole log buffer (up to 64M) plus its JSON
 * framing; mcpd queues at most 96 MiB for one client (CONTROL_MAX_QUEUE).
 */
#define CLIENT_MAX_REPLY	(96 * 1024 * 1024)
#define CLIENT_TIMEOUT_MS	10000	/* for connecting, sending and each reply */

struct client;
struct mcpctl;

/* Why a call failed: mcpd's JSON-RPC error, or a local failure (code 0). */
struct client_error {
	int code;
	char *message;		/* printed after "mcpctl: " */
	cJSON *data;		/* error.data from mcpd, or NULL */
};

/* Print "mcpctl: MESSAGE" and, one per line, the strings in data.errors (a failed reload's problems). */
void client_error_print(const struct client_error *e, FILE *out);
void client_error_clear(struct client_error *e);

/* Connect to mcpd at path. Returns 0, or a negative errno and err filled. */
int client_connect(const char *path, struct client **ret, struct client_error *err);
void client_close(struct client *c);

/*
 * Take the connection over (mcpctl connect): returns the socket, and in
 * ret_buf and ret_len (malloc'd) the bytes already read after the last reply.
 * The client is freed; the socket stays open.
 */
int client_detach(struct client *c, char **ret_buf, size_t *ret_len);

/*
 * Send a request (params is taken over; NULL sends none) and wait for its
 * response. Returns 0 and the result, which the caller frees; -EREMOTEIO when
 * mcpd answered with an error (in err); another negative errno when the
 * exchange failed (err says how).
 */
int client_call(struct client *c, const char *method, cJSON *params, cJSON **ret_result,
		struct client_error *err);

/*
 * Pass each notification mcpd sends to fn until mcpd closes the connection
 * or SIGINT or SIGTERM arrives, which all return 0: the reader asked for an
 * endless stream, so its end is no failure. A negative return of fn stops
 * the loop and is returned (fn reports its own errors).
 */
/*
 * As client_call, with the result as the JSON text mcpd wrote (malloc'd,
 * NUL-terminated, in *ret_text and *ret_len) instead of a tree: for a reply
 * that is only passed on.
 */
int client_call_text(struct client *c, const char *method, cJSON *params, char **ret_text, size_t *ret_len,
		     struct client_error *err);

/*
 * As client_call, with nfds (at most CLIENT_MAX_FDS) descriptors sent along
 * with the request's first bytes (SCM_RIGHTS): mcpctl connect hands its stdin
 * and stdout over. The caller keeps its own copies.
 */
#define CLIENT_MAX_FDS	2
int client_call_fds(struct client *c, const char *method, cJSON *params, const int *fds, size_t nfds,
		    cJSON **ret_result, struct client_error *err);

typedef int (*client_notify_fn)(const char *method, const cJSON *params, void *userdata);
int client_follow(struct client *c, client_notify_fn fn, void *userdata, struct client_error *err);

/*
 * For commands: connect to the mcpd that ctl names (-s, $MCPD_SOCKET, the
 * manifest of -c, or the default rule), printing why not on stderr.
 */
int mcpctl_connect(const struct mcpctl *ctl, struct client **ret);

/* One request on a connection of its own; errors are printed on stderr. Returns 0 or a negative errno. */
int mcpctl_call(const struct mcpctl *ctl, const char *method, cJSON *params, cJSON **ret_result);
/* The same, with the result as text (client_call_text). */
int mcpctl_call_text(const struct mcpctl *ctl, const char *method, cJSON *params, char **ret_text, size_t *ret_len);

#endif
