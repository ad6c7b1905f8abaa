/* The control socket: see control.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "jsonw.h"
#include "linebuf.h"
#include "log.h"
#include "paths.h"
#include "relay.h"
#include "replicas.h"
#include "sandbox.h"
#include "server.h"
#include "strutil.h"
#include "wbuf.h"
#include "xmalloc.h"

static const struct ctl_method *const methods[] = {
	&ctl_version, &ctl_status, &ctl_start, &ctl_stop, &ctl_restart, &ctl_logs, &ctl_reload, &ctl_health,
	&ctl_tools, &ctl_connect, &ctl_history, &ctl_rollback,
	&ctl_approvals, &ctl_approve, &ctl_deny,
};

#define CONTROL_KEEP_BUFFER (256 * 1024)	/* a client's output buffer kept between replies */
#define CONTROL_KEEP_SCRATCH (64 * 1024)	/* the buffer messages are written into, kept between them */
#define CONTROL_ACCEPT_PAUSE 1.		/* seconds without accepting when descriptors run out */
#define CONTROL_LOG_WINDOW 10.		/* refusals and idle closes: one line, then a count per window */
#define CONTROL_MAX_PASSED 2		/* descriptors kept per client: a connect's stdin and stdout */
#define CONTROL_RECV_FDS 253		/* SCM_MAX_FD: the most one message can carry */
#define CONTROL_RECV_CHUNK (64 * 1024)	/* read at once from the control socket before a session */

enum access {
	ACCESS_NONE,
	ACCESS_READ,		/* members of the socket's group: status, logs */
	ACCESS_ALL,		/* root and mcpd's own uid */
};

struct ctl_client {
	struct control *c;
	int fd;
	ev_io read_w, write_w;
	ev_prepare flush_w;	/* writes what an iteration queued, before the loop waits */
	struct linebuf in;
	struct wbuf out;
	enum access access;
	uid_t uid;
	pid_t pid;
	struct server *follow;
	char follow_group[64];		/* logs -f of a replicated entry: every replica's lines */
	struct session *session;	/* after `connect`: an MCP client of a server */
	bool closing;		/* close once the queue is written */
	bool eof;		/* the client closed its side: never read again */
	bool dead;		/* dropped: unlinked, its fd closed, freed by the reaper */
	ev_timer idle_w;
	ev_tstamp active;	/* last byte read or written */
	struct ctl_client *prev, *next;	/* in clients, or in dead (next only) */
	/*
	 * Hand-over (connect with "stdio": "passed"): the client's I/O moves to
	 * the descriptors mcpctl sent with SCM_RIGHTS; the control socket (fd)
	 * then only carries the final line. Without it in_fd == out_fd == fd.
	 */
	int in_fd, out_fd;
	int passed[CONTROL_MAX_PASSED];	/* received, not yet taken by a connect: closed after the request */
	unsigned npassed;
	unsigned long fds_closed;	/* received beyond CONTROL_MAX_PASSED, closed at once */
	unsigned long fds_logged;	/* of them, the count already logged */
	bool handed;		/* in_fd and out_fd are the handed-over descriptors */
	bool end_line;		/* a copying connect asked for the final line too (after the stream) */
	bool restore_in, restore_out;	/* O_NONBLOCK was set by us: cleared before closing */
	bool read_failed;	/* reading in_fd failed: the session did not end cleanly */
	bool quiet;		/* the control socket closed: no final line */
	ev_io hup_w;		/* handed over: the control socket, watched for its close */
	char end_reason[160];	/* why the session ended, for the final line; empty: no failure */
};

struct control {
	struct daemon *d;
	char *path;
	bool owns_path;		/* created by us (not systemd's): unlink at exit */
	int fd;
	gid_t gid;		/* the socket's group: read access */
	ev_io accept_w;
	ev_timer resume_w;	/* accepting is paused: descriptors ran out */
	unsigned long pauses;	/* in a row, since accept last worked */
	ev_tstamp paused_since;
	ev_idle reap_w;		/* frees dead clients once no callback holds them */
	ev_timer tally_w;	/* ends a window of counted refusals and idle closes */
	unsigned long refused, idled;	/* in this window, beyond the first of each, logged in full */
	bool refused_logged, idled_logged;
	struct ctl_client *clients;
	struct ctl_client *dead;
	size_t queued;		/* reply bytes queued for all clients together */
	size_t total_queue;	/* CONTROL_TOTAL_QUEUE, or $MCPD_CONTROL_TOTAL_QUEUE */
	bool total_full;	/* queued reached total_queue: logged once until it drains */
	size_t nclients;
	ev_tstamp idle_timeout;
};

struct daemon *ctl_daemon(const struct ctl_client *c)
{
	return c->c->d;
}

uid_t ctl_uid(const struct ctl_client *c)
{
	return c->uid;
}

/* Descriptors received and not taken by a connect: closed (after each request, and at the end). */
static void close_passed(struct ctl_client *cl)
{
	for (unsigned i = 0; i < cl->npassed; i++)
		close(cl->passed[i]);
	cl->npassed = 0;
}

/* Why a handed-over session ends, for the final line; the first reason given stands. */
static void set_end_reason(struct ctl_client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_end_reason(struct ctl_client *cl, const char *fmt, ...)
{
	va_list ap;

	if (!(cl->handed || cl->end_line) || cl->end_reason[0])
		return;
	va_start(ap, fmt);
	vsnprintf(cl->end_reason, sizeof(cl->end_reason), fmt, ap);
	va_end(ap);
}

/*
 * How a session ended, for mcpctl: "ok" when the client closed its input and
 * everything due was written; else the first reason given, the shutdown's
 * ("mcpd is stopping (SIGTERM)"), or "mcpd ended the session".
 */
static const char *end_of(struct ctl_client *cl)
{
	if (cl->eof && !cl->read_failed && !cl->end_reason[0] && wbuf_pending(&cl->out) == 0)
		return "ok";
	if (cl->c->d->shutting_down)
		set_end_reason(cl, "%s", cl->c->d->stopping);	/* ended by the shutdown, not by the client */
	return cl->end_reason[0] ? cl->end_reason : "mcpd ended the session";
}

/* The final line on the control socket, {"end":REASON}, written without waiting: mcpctl exits 1 without it. */
static void send_end_line(struct ctl_client *cl, const char *end)
{
	struct jsonw w;

	jsonw_init(&w);
	jsonw_bytes(&w, "{\"end\":", 7);
	jsonw_string(&w, end);
	jsonw_char(&w, '}');
	jsonw_end_line(&w);
	if (send(cl->fd, w.buf, w.len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* mcpctl is gone or not reading: it exits 1 without the line. */
	}
	jsonw_free(&w);
	log_debug(NULL, NULL, "control: the session of pid %d (uid %d) ended: %s", (int)cl->pid, (int)cl->uid, end);
}

/*
 * A handed-over session ends: the client's descriptors get their flags back
 * and are closed (the client sees EOF once mcpctl's copies are gone too), and
 * mcpctl hears how it ended in one line: {"end":"ok"} or {"end":REASON}.
 */
static void end_handover(struct ctl_client *cl)
{
	const char *end = end_of(cl);

	ev_io_stop(cl->c->d->loop, &cl->hup_w);
	if (cl->restore_in)
		fcntl(cl->in_fd, F_SETFL, fcntl(cl->in_fd, F_GETFL) & ~O_NONBLOCK);
	if (cl->restore_out)
		fcntl(cl->out_fd, F_SETFL, fcntl(cl->out_fd, F_GETFL) & ~O_NONBLOCK);
	close(cl->in_fd);
	close(cl->out_fd);
	cl->in_fd = cl->out_fd = -1;
	if (!cl->quiet)
		send_end_line(cl, end);
}

/*
 * A copying session that asked for it ends: when mcpd ended it and the
 * stream is whole (nothing left queued), {"end":REASON} is its last line,
 * which mcpctl takes out of the stream. Nothing after a clean end.
 */
static void end_copying(struct ctl_client *cl)
{
	const char *end = end_of(cl);

	if (strcmp(end, "ok") != 0 && wbuf_pending(&cl->out) == 0)
		send_end_line(cl, end);
}

/*
 * Drop a client: unlinked from everything that could deliver to it, its
 * watchers stopped and its fd closed now; its memory is freed by the reaper,
 * after the callback that dropped it (and every caller up its stack) returned.
 */
static void client_drop(struct ctl_client *cl)
{
	struct control *c = cl->c;

	if (cl->dead)
		return;
	cl->dead = true;
	cl->closing = true;
	c->queued -= wbuf_pending(&cl->out);
	if (cl->session) {
		struct session *sess = cl->session;

		cl->session = NULL;
		relay_detach(sess);
	}
	cl->follow = NULL;
	ev_io_stop(c->d->loop, &cl->read_w);
	ev_io_stop(c->d->loop, &cl->write_w);
	ev_prepare_stop(c->d->loop, &cl->flush_w);
	ev_timer_stop(c->d->loop, &cl->idle_w);
	close_passed(cl);
	if (cl->fds_closed > cl->fds_logged)
		log_warning(NULL, NULL, "control: pid %d (uid %d) sent %lu descriptors in all that mcpd did not take; "
			    "they were closed", (int)cl->pid, (int)cl->uid, cl->fds_closed);
	if (cl->handed)
		end_handover(cl);
	else if (cl->end_line)
		end_copying(cl);
	close(cl->fd);
	cl->fd = -1;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->nclients--;
	cl->prev = NULL;
	cl->next = c->dead;
	c->dead = cl;
	ev_idle_start(c->d->loop, &c->reap_w);
}

static void reap(struct control *c)
{
	while (c->dead) {
		struct ctl_client *cl = c->dead;

		c->dead = cl->next;
		linebuf_free(&cl->in);
		wbuf_free(&cl->out);
		free(cl);
	}
}

static void on_reap(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
	reap(w->data);
}

static bool client_queue(struct ctl_client *cl, const char *text, size_t len);
static int client_flush(struct ctl_client *cl);

/* Queue a message; a client that lets its queue overflow is dropped. Returns false then. */
static bool client_send(struct ctl_client *cl, const cJSON *msg)
{
	static struct jsonw w;	/* one loop, one thread: kept from message to message (relayed MCP messages) */
	bool ok;

	if (cl->dead)
		return false;
	/* jsonrpc_serialize()'s line, written at once (a status reply is ~700 KB at 1000 servers). */
	w.len = 0;
	jsonw_line(&w, msg);
	ok = client_queue(cl, w.buf, w.len);
	if (w.cap > CONTROL_KEEP_SCRATCH)
		jsonw_free(&w);
	return ok;
}

/* Queue w's line (it ends with '\n') and free w; false when the client was dropped. */
static bool client_send_text(struct ctl_client *cl, struct jsonw *w)
{
	bool ok = client_queue(cl, w->buf, w->len);

	jsonw_free(w);
	return ok;
}

/* Queue a line; false when the client was dropped (now, its queue full, or before). */
static bool client_queue(struct ctl_client *cl, const char *text, size_t len)
{
	int r;

	if (cl->dead)
		return false;
	r = wbuf_append(&cl->out, text, len);
	if (r >= 0)
		cl->c->queued += len;
	if (r < 0) {
		log_warning(NULL, NULL,
			    "control: dropping client pid %d (uid %d): it does not read its replies (%zu bytes queued); closing it",
			    (int)cl->pid, (int)cl->uid, wbuf_pending(&cl->out));
		set_end_reason(cl, "the client does not read its output (%zu bytes queued); mcpd dropped it",
			       wbuf_pending(&cl->out));
		client_drop(cl);
		return false;
	}
	if (!ev_is_active(&cl->write_w))
		ev_prepare_start(cl->c->d->loop, &cl->flush_w);
	return true;
}

bool ctl_reply(struct ctl_client *cl, const cJSON *id, cJSON *result)
{
	cJSON *msg = jsonrpc_result_new(id, result);
	bool ok = client_send(cl, msg);

	cJSON_Delete(msg);
	return ok;
}

void ctl_reply_begin(const cJSON *id, struct jsonw *w)
{
	/* jsonrpc_result_new()'s members, in its order. */
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":", result[] = ",\"result\":";

	jsonw_bytes(w, head, sizeof(head) - 1);
	jsonw_value(w, id);
	jsonw_bytes(w, result, sizeof(result) - 1);
}

bool ctl_reply_end(struct ctl_client *cl, struct jsonw *w)
{
	jsonw_char(w, '}');
	jsonw_end_line(w);
	return client_send_text(cl, w);
}

bool ctl_error(struct ctl_client *cl, const cJSON *id, int code, const char *message, cJSON *data)
{
	cJSON *msg = jsonrpc_error_new(id, code, message, data);
	bool ok = client_send(cl, msg);

	cJSON_Delete(msg);
	return ok;
}

void ctl_follow(struct ctl_client *cl, struct server *s)
{
	cl->follow = s;
}

void ctl_follow_group(struct ctl_client *cl, const char *name)
{
	snprintf(cl->follow_group, sizeof(cl->follow_group), "%s", name);
}

void ctl_attach(struct ctl_client *cl, struct session *sess)
{
	cl->session = sess;
}

static const char *kind_of(mode_t mode)
{
	return S_ISREG(mode) ? "a file" : S_ISCHR(mode) ? "a character device (a terminal, /dev/null)" :
	       S_ISDIR(mode) ? "a directory" : "neither a pipe nor a socket";
}

/*
 * A socket connected to mcpd's control socket (this client's own connection,
 * or another): a session reading it would keep its peer open, so that the
 * control connection never sees its close and the session never ends.
 */
static bool to_control_socket(const struct ctl_client *cl, int fd)
{
	struct sockaddr_un peer, ctl;
	socklen_t plen = sizeof(peer), clen = sizeof(ctl);

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 || peer.sun_family != AF_UNIX ||
	    getsockname(cl->fd, (struct sockaddr *)&ctl, &clen) < 0)
		return false;
	return plen == clen && plen > offsetof(struct sockaddr_un, sun_path) && memcmp(&peer, &ctl, plen) == 0;
}

const char *ctl_stdio_check(struct ctl_client *cl, char *buf, size_t size)
{
	static const char *const role[] = { "stdin", "stdout" };

	if (cl->npassed != CONTROL_MAX_PASSED) {
		snprintf(buf, size, "\"stdio\": \"passed\" needs the client's stdin and stdout sent with the request "
			 "(SCM_RIGHTS); %u descriptors came", cl->npassed);
		return buf;
	}
	if (wbuf_pending(&cl->out) > 0) {
		snprintf(buf, size, "\"stdio\": \"passed\": replies to earlier requests are still unread");
		return buf;
	}
	for (unsigned i = 0; i < CONTROL_MAX_PASSED; i++) {
		struct stat st;
		int fl = fcntl(cl->passed[i], F_GETFL);
		int mode = fl & O_ACCMODE;

		if (fstat(cl->passed[i], &st) < 0 || fl < 0) {
			snprintf(buf, size, "\"stdio\": \"passed\": the %s handed over cannot be used: %s", role[i],
				 strerror(errno));
			return buf;
		}
		/* An O_PATH descriptor reads nothing, and epoll refuses it (libev would abort mcpd). */
		if (fl & O_PATH) {
			snprintf(buf, size, "\"stdio\": \"passed\": the %s handed over is an O_PATH descriptor, "
				 "open for neither reading nor writing", role[i]);
			return buf;
		}
		if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
			snprintf(buf, size, "\"stdio\": \"passed\": the %s handed over is %s; only pipes and sockets are "
				 "taken", role[i], kind_of(st.st_mode));
			return buf;
		}
		if (S_ISSOCK(st.st_mode) && to_control_socket(cl, cl->passed[i])) {
			snprintf(buf, size, "\"stdio\": \"passed\": the %s handed over is a connection to mcpd's control "
				 "socket; mcpd would hold the session open itself", role[i]);
			return buf;
		}
		if (mode != O_RDWR && mode != (i == 0 ? O_RDONLY : O_WRONLY)) {
			snprintf(buf, size, "\"stdio\": \"passed\": the %s handed over is not open for %s", role[i],
				 i == 0 ? "reading" : "writing");
			return buf;
		}
	}
	return NULL;
}

/* Make fd non-blocking; true when it was blocking (its flags are restored before it is closed). */
static bool set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && !(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

void ctl_want_end_line(struct ctl_client *cl)
{
	cl->end_line = true;
}

bool ctl_stdio_take(struct ctl_client *cl)
{
	struct ev_loop *loop = cl->c->d->loop;
	bool reading = ev_is_active(&cl->read_w);

	/* The reply goes to the control socket first: a few bytes into an empty socket buffer. */
	ev_prepare_stop(loop, &cl->flush_w);
	ev_io_stop(loop, &cl->write_w);
	if (client_flush(cl) != 0) {
		log_warning(NULL, NULL, "control: pid %d (uid %d) does not read its connect reply; closing it", (int)cl->pid,
			    (int)cl->uid);
		client_drop(cl);
		return false;
	}
	cl->in_fd = cl->passed[0];
	cl->out_fd = cl->passed[1];
	cl->npassed = 0;
	cl->handed = true;
	cl->restore_in = set_nonblock(cl->in_fd);
	cl->restore_out = set_nonblock(cl->out_fd);
	ev_io_stop(loop, &cl->read_w);
	ev_io_set(&cl->read_w, cl->in_fd, EV_READ);
	ev_io_set(&cl->write_w, cl->out_fd, EV_WRITE);
	if (reading)
		ev_io_start(loop, &cl->read_w);
	ev_io_start(loop, &cl->hup_w);
	log_debug(NULL, NULL, "control: pid %d (uid %d) handed its stdin and stdout over (fds %d and %d)", (int)cl->pid,
		  (int)cl->uid, cl->in_fd, cl->out_fd);
	return true;
}

bool ctl_send(struct ctl_client *cl, const cJSON *msg)
{
	return !cl->closing && client_send(cl, msg);
}

size_t ctl_pending(const struct ctl_client *cl)
{
	return wbuf_pending(&cl->out);
}

void ctl_close(struct ctl_client *cl)
{
	if (cl->dead)
		return;
	/* Detached at once: the server may be freed before the queue is written. */
	if (cl->session) {
		struct session *sess = cl->session;

		cl->session = NULL;
		relay_detach(sess);
	}
	cl->closing = true;
	ev_io_stop(cl->c->d->loop, &cl->read_w);
	if (wbuf_pending(&cl->out) == 0)
		client_drop(cl);
}

void ctl_abort(struct ctl_client *cl)
{
	set_end_reason(cl, "the client does not read its output (%zu bytes queued); mcpd dropped it",
		       wbuf_pending(&cl->out));
	client_drop(cl);
}

int ctl_servers(struct ctl_client *cl, const cJSON *id, const cJSON *params, bool all_if_absent,
		struct server ***ret, size_t *ret_n)
{
	struct daemon *d = ctl_daemon(cl);
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(params, "names");
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(params, "all");
	struct server **list;
	size_t n = 0;
	const cJSON *it;

	if ((names && !cJSON_IsArray(names)) || (all && !cJSON_IsBool(all))) {
		ctl_error(cl, id, JSONRPC_INVALID_PARAMS, "\"names\" must be a list of server names, \"all\" a boolean",
			  NULL);
		return -1;
	}
	if (cJSON_IsTrue(all) || (all_if_absent && (!names || cJSON_GetArraySize(names) == 0))) {
		list = xcalloc(d->nservers + 1, sizeof(*list));
		for (size_t i = 0; i < d->nservers; i++)
			list[n++] = d->servers[i];
		*ret = list;
		*ret_n = n;
		return 0;
	}
	if (!names || cJSON_GetArraySize(names) == 0) {
		ctl_error(cl, id, JSONRPC_INVALID_PARAMS, "name at least one server, or ask for all", NULL);
		return -1;
	}
	list = xcalloc(1, sizeof(*list));
	cJSON_ArrayForEach(it, names) {
		const char *name = cJSON_GetStringValue(it);
		size_t nmatch = 0;
		/* A replicated entry's name addresses all its replicas; NAME#K one of them. */
		struct server **match = name ? replicas_list(d, name, &nmatch) : NULL;

		if (!match) {
			const char **all_names = daemon_server_names(d);
			const char *hint = name ? str_suggest(name, all_names, d->nservers) : NULL;
			cJSON *data = cJSON_CreateObject();
			/* No real name is longer than 63 characters: do not echo a megabyte back. */
			char *shown = xstrndup(name ? name : "", 64);
			unsigned nrep = name && strchr(name, '#') ? replicas_count(d, name) : 0;
			char msg[256];

			if (nrep > 0)
				snprintf(msg, sizeof(msg), "no server named \"%.64s\": %.*s has %u replica%s (%.*s#1 to %.*s#%u)",
					 name, (int)replica_group_len(name), name, nrep, nrep == 1 ? "" : "s",
					 (int)replica_group_len(name), name, (int)replica_group_len(name), name, nrep);
			else if (hint)
				snprintf(msg, sizeof(msg), "no server named \"%.64s\" (did you mean \"%s\"?)", name, hint);
			else if (name)
				snprintf(msg, sizeof(msg), "no server named \"%.64s\"", name);
			else
				snprintf(msg, sizeof(msg), "server names must be strings");
			cJSON_AddStringToObject(data, "name", shown);
			free(shown);
			if (hint && nrep == 0)
				cJSON_AddStringToObject(data, "suggestion", hint);
			ctl_error(cl, id, CTL_ERR_NO_SERVER, msg, data);
			free(all_names);
			free(list);
			return -1;
		}
		list = xreallocarray(list, n + nmatch + 1, sizeof(*list));
		for (size_t k = 0; k < nmatch; k++)
			list[n++] = match[k];
		free(match);
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

struct server *ctl_server_named(struct ctl_client *cl, const cJSON *id, const char *name)
{
	cJSON *params = cJSON_CreateObject();
	struct server **list, *s = NULL;
	size_t n;

	/* The same check, and "did you mean", as every method that takes names. */
	cJSON_AddItemToObject(params, "names", cJSON_CreateStringArray((const char *const[]){ name }, 1));
	if (ctl_servers(cl, id, params, false, &list, &n) == 0) {
		/* A replicated entry's name: a running replica, else its first (daemon_find_server). */
		s = n > 1 ? daemon_find_server(ctl_daemon(cl), name) : list[0];
		free(list);
	}
	cJSON_Delete(params);
	return s;
}

static const struct ctl_method *find_method(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++)
		if (strcmp(methods[i]->name, name) == 0)
			return methods[i];
	return NULL;
}

static void handle_line(struct ctl_client *cl, const char *line, size_t len)
{
	const struct ctl_method *m;
	const cJSON *params;
	const char *method;
	int code = 0;
	cJSON *req = jsonrpc_parse(line, len, &code);
	cJSON *id;

	if (!req) {
		id = jsonrpc_raw_id(line, len, NULL);
		ctl_error(cl, id, code ? code : JSONRPC_PARSE_ERROR, jsonrpc_parse_error_text(code), NULL);
		cJSON_Delete(id);
		return;
	}
	if (jsonrpc_classify(req) != JSONRPC_REQUEST) {
		/* Notifications get no reply, by JSON-RPC's rules; anything else is an error. */
		if (jsonrpc_classify(req) != JSONRPC_NOTIFICATION)
			ctl_error(cl, NULL, JSONRPC_INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 request",
				  NULL);
		cJSON_Delete(req);
		return;
	}
	/* Replies carry the id exactly as written: cJSON would round numbers past 2^53. */
	id = jsonrpc_raw_id(line, len, cJSON_GetObjectItemCaseSensitive(req, "id"));
	method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	params = cJSON_GetObjectItemCaseSensitive(req, "params");
	m = find_method(method);
	if (!m) {
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown method \"%.64s\"", method);
		ctl_error(cl, id, JSONRPC_METHOD_NOT_FOUND, msg, NULL);
	} else if (params && !cJSON_IsObject(params)) {
		ctl_error(cl, id, JSONRPC_INVALID_PARAMS, "params must be an object", NULL);
	} else if (m->writes && cl->access != ACCESS_ALL) {
		char msg[160];

		snprintf(msg, sizeof(msg), "permission denied: uid %d may only read (status, health, tools, logs, history)", (int)cl->uid);
		ctl_error(cl, id, CTL_ERR_PERMISSION, msg, NULL);
	} else {
		log_debug(NULL, NULL, "control: %s from pid %d (uid %d)", m->name, (int)cl->pid, (int)cl->uid);
		m->run(cl, id, params);
	}
	/* Descriptors are for the request they came with, and only a connect takes them. */
	close_passed(cl);
	cJSON_Delete(id);
	cJSON_Delete(req);
}

/* Blank lines (a human at socat, a stray "\r\n") are no requests: they get no error either. */
static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/* One line from a client: a control request, or an MCP message once it is a relay session. */
static void dispatch(struct ctl_client *cl, const char *line, size_t len)
{
	if (blank(line, len))
		return;
	if (cl->session)
		relay_client_line(cl->session, line, len);
	else
		handle_line(cl, line, len);
}

/*
 * A client is served (read, its requests handled) while fewer than 4 MiB of
 * replies wait for it, and, once all clients together have
 * CONTROL_TOTAL_QUEUE waiting, only while none does: a client paused so has
 * replies queued, and its write watcher serves it again as they drain.
 */
static bool may_take_more(const struct ctl_client *cl)
{
	struct control *c = cl->c;
	size_t mine = wbuf_pending(&cl->out);

	if (mine >= CONTROL_FOLLOW_QUEUE)
		return false;
	if (mine == 0 || c->queued < c->total_queue)
		return true;
	if (!c->total_full) {
		c->total_full = true;
		log_warning(NULL, NULL,
			    "control: %zu bytes of replies wait for their clients, the limit for all together; "
			    "a client with replies unread is served again as it reads them",
			    c->queued);
	}
	return false;
}

/*
 * The requests already read, until the reply queue is long: a client that
 * pipelines hundreds of requests and reads nothing is paused like one that
 * sends them one at a time (else each such client queued 96 MiB). The rest
 * wait in its input buffer for on_client_write. False when the client was
 * dropped or closes.
 */
static bool handle_lines(struct ctl_client *cl)
{
	char *line;
	size_t len;
	int r;

	/* A handler may drop the client (its queue overflowed): its memory stays until the reaper runs. */
	while (may_take_more(cl) && (r = linebuf_next(&cl->in, &line, &len)) != 0) {
		if (r == -EMSGSIZE && cl->session) {
			relay_client_oversized(cl->session, line, len, CONTROL_MAX_REQUEST);
		} else if (r == -EMSGSIZE) {
			cJSON *id = jsonrpc_raw_id(line, len < 65536 ? len : 65536, NULL);

			ctl_error(cl, id, JSONRPC_INVALID_REQUEST, "invalid request: longer than 1 MiB, the limit of one request",
				  NULL);
			cJSON_Delete(id);
		} else {
			dispatch(cl, line, len);
		}
		if (cl->dead || cl->closing)
			return false;
	}
	return true;
}

/* Write what the socket takes: wbuf_flush()'s result, the bytes written no longer counted as queued. */
static int client_flush(struct ctl_client *cl)
{
	size_t before = wbuf_pending(&cl->out);
	int r = wbuf_flush(&cl->out, cl->out_fd);

	if (r < 0)
		set_end_reason(cl, "cannot write to the client: %s", strerror(-r));

	/* Counted before a failure drops the client: the bytes written are no longer queued. */
	if (wbuf_pending(&cl->out) < before) {
		cl->active = ev_now(cl->c->d->loop);
		cl->c->queued -= before - wbuf_pending(&cl->out);
		if (cl->c->total_full && cl->c->queued < cl->c->total_queue / 2) {
			cl->c->total_full = false;
			log_notice(NULL, NULL, "control: replies waiting for their clients are back under half the limit");
		}
	}
	return r;
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *cl = w->data;
	int r = client_flush(cl);

	if (r < 0) {
		client_drop(cl);
		return;
	}
	if (r == 0) {
		ev_io_stop(loop, w);
		if (cl->closing) {
			client_drop(cl);
			return;
		}
		if (cl->out.cap > CONTROL_KEEP_BUFFER) {
			/* A big reply (status of 1000 servers, logs): give the memory back to the system. */
			wbuf_free(&cl->out);
			wbuf_init(&cl->out, CONTROL_MAX_QUEUE);
			malloc_trim(0);
		}
	}
	/*
	 * Reading was paused while the queue was long; never again after EOF (no second EOF, no re-entry).
	 * The requests it had sent already go first.
	 */
	if (!cl->closing && !cl->eof && may_take_more(cl)) {
		if (!handle_lines(cl))
			return;
		if (may_take_more(cl))
			ev_io_start(loop, &cl->read_w);
	}
}

/*
 * What this loop iteration queued goes in one write before the loop waits; the
 * write watcher (two epoll_ctl and an iteration more per reply) only when the
 * socket is full, or for what on_client_write does after a reply (an error,
 * closing, a big buffer to give back, reading to resume). Nothing else here:
 * a prepare watcher started now (a server's stdin) would wait for the next event.
 */
static void on_client_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct ctl_client *cl = w->data;
	int r;

	ev_prepare_stop(loop, w);
	r = client_flush(cl);
	if (r != 0 || cl->closing || cl->out.cap > CONTROL_KEEP_BUFFER || (!cl->eof && !ev_is_active(&cl->read_w)))
		ev_io_start(loop, &cl->write_w);
}

/*
 * Descriptors that came with a message (SCM_RIGHTS): the first
 * CONTROL_MAX_PASSED are kept for the request, any more closed at once and
 * counted (a cut-off list, MSG_CTRUNC, counts as one more), logged once per
 * client.
 */
static void take_descriptors(struct ctl_client *cl, struct msghdr *mh)
{
	unsigned long closed = (mh->msg_flags & MSG_CTRUNC) ? 1 : 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (cl->npassed < CONTROL_MAX_PASSED) {
				cl->passed[cl->npassed++] = fd;
			} else {
				close(fd);
				closed++;
			}
		}
	}
	cl->fds_closed += closed;
	if (closed && cl->fds_logged == 0) {
		log_warning(NULL, NULL, "control: pid %d (uid %d) sent %lu descriptors more than the %d a connect hands over; "
			    "closed them", (int)cl->pid, (int)cl->uid, closed, CONTROL_MAX_PASSED);
		cl->fds_logged = cl->fds_closed;
	}
}

/*
 * Read from the control socket before it carries a session: like
 * linebuf_fill(), with recvmsg for the descriptors a connect may bring. Once
 * a session reads the control socket, read() drops any sent (the kernel
 * closes them).
 */
static ssize_t client_recv(struct ctl_client *cl)
{
	static char buf[CONTROL_RECV_CHUNK];	/* one loop, one thread */
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * CONTROL_RECV_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b) };
	ssize_t n;

	do
		n = recvmsg(cl->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	take_descriptors(cl, &mh);
	if (n > 0)
		linebuf_append(&cl->in, buf, (size_t)n);
	return n;
}

/* Handed over: the control socket is only watched for its close (mcpctl exited), which ends the session. */
static void on_control_hup(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *cl = w->data;
	char buf[256];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		/* mcpctl sends nothing after the hand-over: a client that does is not mcpctl, and is not read forever. */
		log_warning(NULL, NULL, "control: pid %d (uid %d) wrote to its control connection after handing its stdin "
			    "and stdout over; ending its session", (int)cl->pid, (int)cl->uid);
		set_end_reason(cl, "the client wrote to its control connection after the hand-over");
		client_drop(cl);
		return;
	}
	log_debug(NULL, NULL, "control: pid %d (uid %d) closed its control connection; ending its session", (int)cl->pid,
		  (int)cl->uid);
	cl->quiet = true;
	client_drop(cl);
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *cl = w->data;
	ssize_t n = cl->session || cl->handed ? linebuf_fill(&cl->in, cl->in_fd) : client_recv(cl);
	char *line;
	size_t len;

	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		/* The client is done sending (or gone): answer what it asked, then close. */
		ev_io_stop(loop, w);
		cl->eof = true;
		if (n < 0) {
			cl->read_failed = true;
			set_end_reason(cl, "cannot read from the client: %s", strerror((int)-n));
		}
		if (cl->session) {
			if (n == 0 && !relay_client_eof(cl->session))
				return;	/* answers are still due: the relay closes when they are out */
			ctl_close(cl);
			return;
		}
		cl->closing = true;
		if (n == 0 && linebuf_flush(&cl->in, &line, &len) > 0 && len > 0) {
			dispatch(cl, line, len);	/* a last request without its newline */
			if (cl->dead)
				return;
		}
		if (n < 0 || wbuf_pending(&cl->out) == 0)
			client_drop(cl);
		return;
	}
	cl->active = ev_now(loop);
	if (!handle_lines(cl))
		return;
	/* Back-pressure: a client that does not read its replies is not read from. */
	if (!may_take_more(cl))
		ev_io_stop(loop, w);
}

/* A window of counted events ends: the counts are logged, and the next event is logged in full. */
static void on_tally(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *c = w->data;

	if (c->refused)
		log_warning(NULL, NULL, "control: refused %lu more connections in the last %.0fs (over a connection budget)",
			    c->refused, CONTROL_LOG_WINDOW);
	if (c->idled)
		log_info(NULL, NULL, "control: closed %lu more idle connections in the last %.0fs", c->idled,
			 CONTROL_LOG_WINDOW);
	c->refused = c->idled = 0;
	c->refused_logged = c->idled_logged = false;
}

static void tally_start(struct control *c)
{
	if (!ev_is_active(&c->tally_w)) {
		ev_timer_set(&c->tally_w, CONTROL_LOG_WINDOW, 0.);
		ev_timer_start(c->d->loop, &c->tally_w);
	}
}

/*
 * Idle connections are closed: no request in progress (nothing queued to
 * write) and no stream (`logs -f`, `connect`) for idle_timeout seconds; and a
 * client that reads nothing of a pending reply for as long. One timer per
 * client, re-armed lazily from cl->active (libev's "timer again" pattern).
 */
static void on_client_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_client *cl = w->data;
	struct control *c = cl->c;
	bool stream = !cl->closing && (cl->session || cl->follow || cl->follow_group[0]);
	ev_tstamp left = cl->active + c->idle_timeout - ev_now(loop);

	if (stream && wbuf_pending(&cl->out) == 0)
		left = c->idle_timeout;	/* a quiet stream is not idle: check again later */
	if (left > 0.) {
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	if (c->idled_logged) {
		c->idled++;
	} else {
		log_info(NULL, NULL, "control: closing the connection of pid %d (uid %d): %s for %.0fs", (int)cl->pid,
			 (int)cl->uid, wbuf_pending(&cl->out) ? "it read none of its reply" : "idle", c->idle_timeout);
		c->idled_logged = true;
		tally_start(c);
	}
	set_end_reason(cl, "idle for %.0fs", c->idle_timeout);
	client_drop(cl);
}

static enum access peer_access(const struct control *c, int fd, uid_t uid, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (uid == 0 || uid == geteuid())
		return ACCESS_ALL;
	if (gid == c->gid)
		return ACCESS_READ;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			if (groups[i] == c->gid)
				return ACCESS_READ;
	}
	return ACCESS_NONE;
}

/* Refuse a connection with one error line, written without waiting. */
static void refuse(int fd, int code, const char *message)
{
	cJSON *msg = jsonrpc_error_new(NULL, code, message, NULL);
	size_t len;
	char *text = jsonrpc_serialize(msg, &len);

	if (write(fd, text, len) < 0) {
		/* The peer is gone or not reading: nothing more to tell it. */
	}
	free(text);
	cJSON_Delete(msg);
	close(fd);
}

static size_t connections_of(const struct control *c, uid_t uid)
{
	size_t n = 0;

	for (const struct ctl_client *it = c->clients; it; it = it->next)
		n += it->uid == uid;
	return n;
}

/*
 * Slots: root and mcpd's uid may use all CONTROL_MAX_CLIENTS; other uids share
 * all but CONTROL_RESERVED of them, at most CONTROL_MAX_PER_UID each, so that
 * no reader of status can lock root out. NULL when the peer may connect.
 */
static const char *over_budget(const struct control *c, enum access access, uid_t uid)
{
	if (c->nclients >= CONTROL_MAX_CLIENTS)
		return "too many clients are connected to mcpd";
	if (access == ACCESS_ALL)
		return NULL;
	if (c->nclients >= CONTROL_MAX_CLIENTS - CONTROL_RESERVED)
		return "the connections left are reserved for root and mcpd's user";
	if (connections_of(c, uid) >= CONTROL_MAX_PER_UID)
		return "this uid has too many connections to mcpd";
	return NULL;
}

static void on_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control *c = w->data;

	ev_io_start(loop, &c->accept_w);
}

/*
 * Out of descriptors: accept would fail again at once and spin the loop.
 * Pause, don't spin: stop accepting, try again in a moment. Logged once per
 * episode, with the count when it ends.
 */
static void pause_accepting(struct control *c, int err)
{
	struct ev_loop *loop = c->d->loop;

	if (c->pauses++ == 0) {
		c->paused_since = ev_now(loop);
		log_warning(NULL, NULL,
			    "control: cannot accept connections: %s; pausing accepting, trying again every %.0fs",
			    strerror(err), CONTROL_ACCEPT_PAUSE);
	}
	ev_io_stop(loop, &c->accept_w);
	ev_timer_set(&c->resume_w, CONTROL_ACCEPT_PAUSE, 0.);
	ev_timer_start(loop, &c->resume_w);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *c = w->data;

	/* Bounded per wake-up so a connection storm cannot starve the servers. */
	for (int i = 0; i < 64; i++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct ctl_client *cl;
		enum access access;
		const char *why;
		char msg[200];
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			int err = errno;

			if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
				pause_accepting(c, err);
			else if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
				log_warning(NULL, NULL, "control: accept: %s", strerror(err));
			return;
		}
		if (c->pauses > 0) {
			log_notice(NULL, NULL, "control: accepting connections again, after %lu pauses in %.0fs", c->pauses,
				   ev_now(loop) - c->paused_since);
			c->pauses = 0;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		access = peer_access(c, fd, cred.uid, cred.gid);
		if (access == ACCESS_NONE) {
			snprintf(msg, sizeof(msg), "permission denied: uid %d is not allowed to use mcpd's control socket",
				 (int)cred.uid);
			log_notice(NULL, NULL, "control: refused pid %d (uid %d): not root, mcpd's user or its group",
				   (int)cred.pid, (int)cred.uid);
			refuse(fd, CTL_ERR_PERMISSION, msg);
			continue;
		}
		/* A sandboxed server (or anything it started) may not drive mcpd: Landlock does not govern connect(). */
		if (sandbox_refuse_peer(c->d, cred.pid, msg, sizeof(msg))) {
			refuse(fd, CTL_ERR_PERMISSION, msg);
			continue;
		}
		if ((why = over_budget(c, access, cred.uid)) != NULL) {
			if (c->refused_logged) {
				c->refused++;
			} else {
				log_warning(NULL, NULL, "control: refused pid %d (uid %d): %s (%zu connected)", (int)cred.pid,
					    (int)cred.uid, why, c->nclients);
				c->refused_logged = true;
				tally_start(c);
			}
			snprintf(msg, sizeof(msg), "%s; try again later", why);
			refuse(fd, JSONRPC_INTERNAL_ERROR, msg);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->c = c;
		cl->fd = cl->in_fd = cl->out_fd = fd;
		cl->access = access;
		cl->uid = cred.uid;
		cl->pid = cred.pid;
		cl->active = ev_now(loop);
		linebuf_init(&cl->in, CONTROL_MAX_REQUEST, LINEBUF_REJECT);
		wbuf_init(&cl->out, CONTROL_MAX_QUEUE);
		ev_io_init(&cl->read_w, on_client_read, fd, EV_READ);
		ev_io_init(&cl->write_w, on_client_write, fd, EV_WRITE);
		ev_prepare_init(&cl->flush_w, on_client_flush);
		ev_io_init(&cl->hup_w, on_control_hup, fd, EV_READ);
		ev_init(&cl->idle_w, on_client_idle);
		cl->idle_w.repeat = c->idle_timeout;
		cl->read_w.data = cl->write_w.data = cl->flush_w.data = cl->idle_w.data = cl->hup_w.data = cl;
		ev_io_start(loop, &cl->read_w);
		ev_timer_again(loop, &cl->idle_w);
		cl->next = c->clients;
		if (c->clients)
			c->clients->prev = cl;
		c->clients = cl;
		c->nclients++;
	}
}

/* Is a live mcpd answering on path? A refused connection means a stale socket. */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

/*
 * Create the socket's directory when it is missing (the XDG and /tmp
 * defaults), then check nobody else could have made or could write it: a
 * user who creates /tmp/mcpd-UID first would receive mcpctl's traffic.
 */
static int prepare_parent_dir(const char *path, char **ret_error)
{
	bool private = control_socket_is_user_default(path);
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int r = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, private ? 0700 : 0750) < 0 && errno != EEXIST)
			log_debug(NULL, NULL, "control: cannot create %s: %s", dir, strerror(errno));
		r = control_dir_check(dir, geteuid(), private, ret_error);
	}
	free(dir);
	return r;
}

static int listen_on(struct control *c, const char *path, char **ret_error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		xasprintf(ret_error, "control socket path %s is too long for a Unix socket", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r = prepare_parent_dir(path, ret_error);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			xasprintf(ret_error, "%s exists and is not a socket; refusing to replace it", path);
			return -EEXIST;
		}
		if (socket_is_live(path)) {
			xasprintf(ret_error, "another mcpd is already running on %s; stop it first or use -s", path);
			return -EADDRINUSE;
		}
		log_notice(NULL, NULL, "control: replacing the stale socket %s", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		xasprintf(ret_error, "cannot create the control socket: %s", strerror(errno));
		return r;
	}
	/* 0660 from the start: no window in which others could connect. */
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 128) < 0) {
		r = -errno;
		xasprintf(ret_error, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	c->owns_path = true;
	return fd;
}

/* CONTROL_IDLE_TIMEOUT, or $MCPD_CONTROL_IDLE_TIMEOUT seconds (tests, and sites with slow scripts). */
static ev_tstamp idle_timeout(void)
{
	const char *v = getenv("MCPD_CONTROL_IDLE_TIMEOUT");
	char *end;
	double t;

	if (!v || !*v)
		return CONTROL_IDLE_TIMEOUT;
	t = strtod(v, &end);
	if (*end || !(t >= 0.1 && t <= 86400.)) {
		log_warning(NULL, NULL, "control: ignoring MCPD_CONTROL_IDLE_TIMEOUT=\"%s\": not 0.1 to 86400 seconds; using %.0fs",
			    v, CONTROL_IDLE_TIMEOUT);
		return CONTROL_IDLE_TIMEOUT;
	}
	return t;
}

/* CONTROL_TOTAL_QUEUE, or $MCPD_CONTROL_TOTAL_QUEUE bytes (tests, and hosts with little memory). */
static size_t total_queue(void)
{
	const char *v = getenv("MCPD_CONTROL_TOTAL_QUEUE");
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return CONTROL_TOTAL_QUEUE;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end || errno || *v == '-' || n < 1024 * 1024 || n > (1ULL << 36)) {
		log_warning(NULL, NULL, "control: ignoring MCPD_CONTROL_TOTAL_QUEUE=\"%s\": not 1048576 to 68719476736 bytes; "
			    "using %d", v, CONTROL_TOTAL_QUEUE);
		return CONTROL_TOTAL_QUEUE;
	}
	return (size_t)n;
}

struct control *control_new(struct daemon *d, const char *path, int fd, char **ret_error)
{
	struct control *c = xcalloc(1, sizeof(*c));
	struct stat st;

	c->d = d;
	c->path = xstrdup(path);
	if (fd < 0)
		fd = listen_on(c, path, ret_error);
	if (fd < 0) {
		free(c->path);
		free(c);
		return NULL;
	}
	c->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->gid = stat(path, &st) == 0 ? st.st_gid : getegid();
	c->idle_timeout = idle_timeout();
	c->total_queue = total_queue();
	ev_io_init(&c->accept_w, on_accept, fd, EV_READ);
	c->accept_w.data = c;
	ev_io_start(d->loop, &c->accept_w);
	ev_init(&c->resume_w, on_resume);
	c->resume_w.data = c;
	ev_init(&c->tally_w, on_tally);
	c->tally_w.data = c;
	ev_idle_init(&c->reap_w, on_reap);
	/* Highest priority: dead clients are freed on every loop iteration, however busy the rest is. */
	ev_set_priority(&c->reap_w, EV_MAXPRI);
	c->reap_w.data = c;
	return c;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients) {
		/* What is queued (in-flight requests' errors: the servers stopped) goes out if the client takes it now. */
		if (wbuf_pending(&c->clients->out) > 0)
			client_flush(c->clients);
		client_drop(c->clients);
	}
	ev_idle_stop(c->d->loop, &c->reap_w);
	reap(c);
	ev_timer_stop(c->d->loop, &c->resume_w);
	ev_timer_stop(c->d->loop, &c->tally_w);
	ev_io_stop(c->d->loop, &c->accept_w);
	close(c->fd);
	if (c->owns_path)
		unlink(c->path);
	free(c->path);
	free(c);
}

void control_log_line(struct control *c, struct server *s, uint64_t seq, uint64_t ts_ms, const char *line,
		      size_t len)
{
	struct ctl_client *cl, *next;

	if (!c)
		return;
	for (cl = c->clients; cl; cl = next) {
		cJSON *params, *msg;

		next = cl->next;
		/* A group's follower: its replicas, and the server it becomes after a reload to 1 replica. */
		if (cl->follow != s && !(cl->follow_group[0] && replica_in_group(s, cl->follow_group)))
			continue;
		if (wbuf_pending(&cl->out) > CONTROL_FOLLOW_QUEUE) {
			log_warning(s->conf.name, NULL, "control: dropping a `logs -f` reader (pid %d): it lags by %zu bytes",
				    (int)cl->pid, wbuf_pending(&cl->out));
			client_drop(cl);
			continue;
		}
		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "name", s->conf.name);
		cJSON_AddNumberToObject(params, "seq", (double)seq);
		cJSON_AddNumberToObject(params, "ts_ms", (double)ts_ms);
		{
			char *text;

			if (cl->follow != s)
				xasprintf(&text, "%s: %.*s", s->conf.name, (int)len, line);	/* one of a group's */
			else
				text = xstrndup(line, len);
			cJSON_AddStringToObject(params, "text", text);
			free(text);
		}
		msg = jsonrpc_notification_new("log", params);
		client_send(cl, msg);
		cJSON_Delete(msg);
	}
}

void control_server_renamed(struct control *c, struct server *s, const char *old)
{
	if (!c || s->conf.replica == 0 || replica_group_len(old) != strlen(old))
		return;	/* not NAME -> NAME#1: a follower of NAME#K goes on with the process it asked for */
	for (struct ctl_client *cl = c->clients; cl; cl = cl->next) {
		if (cl->follow == s) {
			cl->follow = NULL;
			ctl_follow_group(cl, old);
		}
	}
}

/* A server other than gone, still in the manifest, whose lines a follower of group gets. */
static bool group_lives(const struct daemon *d, const char *group, const struct server *gone)
{
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i] != gone && !d->servers[i]->removed && replica_in_group(d->servers[i], group))
			return true;
	return false;
}

void control_forget_server(struct control *c, struct server *s)
{
	struct ctl_client *cl, *next;

	if (!c)
		return;
	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		/* A group's follower ends with the group's last server (the entry left the manifest). */
		if (cl->follow == s || (cl->follow_group[0] && replica_in_group(s, cl->follow_group) &&
					!group_lives(c->d, cl->follow_group, s))) {
			/* The reader's stream ends: the server is gone from the manifest. */
			cl->follow = NULL;
			cl->follow_group[0] = '\0';
			cl->closing = true;
			if (wbuf_pending(&cl->out) == 0)
				client_drop(cl);
		}
	}
}
