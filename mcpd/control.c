/* The control socket: see control.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "linebuf.h"
#include "log.h"
#include "relay.h"
#include "server.h"
#include "strutil.h"
#include "wbuf.h"
#include "xmalloc.h"

static const struct ctl_method *const methods[] = {
	&ctl_version, &ctl_status, &ctl_start, &ctl_stop, &ctl_restart, &ctl_logs, &ctl_reload, &ctl_health,
	&ctl_tools, &ctl_connect,
};

#define CONTROL_KEEP_BUFFER (256 * 1024)	/* a client's output buffer kept between replies */

enum access {
	ACCESS_NONE,
	ACCESS_READ,		/* members of the socket's group: status, logs */
	ACCESS_ALL,		/* root and mcpd's own uid */
};

struct ctl_client {
	struct control *c;
	int fd;
	ev_io read_w, write_w;
	struct linebuf in;
	struct wbuf out;
	enum access access;
	uid_t uid;
	pid_t pid;
	struct server *follow;
	struct session *session;	/* after `connect`: an MCP client of a server */
	bool closing;		/* close once the queue is written */
	struct ctl_client *prev, *next;
};

struct control {
	struct daemon *d;
	char *path;
	bool owns_path;		/* created by us (not systemd's): unlink at exit */
	int fd;
	gid_t gid;		/* the socket's group: read access */
	ev_io accept_w;
	struct ctl_client *clients;
	size_t nclients;
};

struct daemon *ctl_daemon(const struct ctl_client *c)
{
	return c->c->d;
}

static void client_free(struct ctl_client *cl)
{
	struct control *c = cl->c;

	if (cl->session)
		relay_detach(cl->session);
	ev_io_stop(c->d->loop, &cl->read_w);
	ev_io_stop(c->d->loop, &cl->write_w);
	close(cl->fd);
	linebuf_free(&cl->in);
	wbuf_free(&cl->out);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->nclients--;
	free(cl);
}

/* Queue a message; a client that lets its queue overflow is dropped. Returns false then. */
static bool client_send(struct ctl_client *cl, const cJSON *msg)
{
	size_t len;
	char *text = jsonrpc_serialize(msg, &len);
	int r = wbuf_append(&cl->out, text, len);

	free(text);
	if (r < 0) {
		log_warning(NULL, NULL, "control: dropping client pid %d: it does not read its replies (%zu bytes queued)",
			    (int)cl->pid, wbuf_pending(&cl->out));
		client_free(cl);
		return false;
	}
	ev_io_start(cl->c->d->loop, &cl->write_w);
	return true;
}

bool ctl_reply(struct ctl_client *cl, const cJSON *id, cJSON *result)
{
	cJSON *msg = jsonrpc_result_new(id, result);
	bool ok = client_send(cl, msg);

	cJSON_Delete(msg);
	return ok;
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

void ctl_attach(struct ctl_client *cl, struct session *sess)
{
	cl->session = sess;
}

bool ctl_send(struct ctl_client *cl, const cJSON *msg)
{
	return client_send(cl, msg);
}

size_t ctl_pending(const struct ctl_client *cl)
{
	return wbuf_pending(&cl->out);
}

void ctl_close(struct ctl_client *cl)
{
	/* Detached at once: the server may be freed before the queue is written. */
	if (cl->session) {
		struct session *sess = cl->session;

		cl->session = NULL;
		relay_detach(sess);
	}
	cl->closing = true;
	ev_io_stop(cl->c->d->loop, &cl->read_w);
	if (wbuf_pending(&cl->out) == 0)
		client_free(cl);
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
	list = xcalloc((size_t)cJSON_GetArraySize(names) + 1, sizeof(*list));
	cJSON_ArrayForEach(it, names) {
		const char *name = cJSON_GetStringValue(it);
		struct server *s = name ? daemon_find_server(d, name) : NULL;

		if (!s) {
			const char **all_names = daemon_server_names(d);
			const char *hint = name ? str_suggest(name, all_names, d->nservers) : NULL;
			cJSON *data = cJSON_CreateObject();
			char msg[256];

			if (hint)
				snprintf(msg, sizeof(msg), "no server named \"%.64s\" (did you mean \"%s\"?)", name, hint);
			else if (name)
				snprintf(msg, sizeof(msg), "no server named \"%.64s\"", name);
			else
				snprintf(msg, sizeof(msg), "server names must be strings");
			cJSON_AddStringToObject(data, "name", name ? name : "");
			if (hint)
				cJSON_AddStringToObject(data, "suggestion", hint);
			ctl_error(cl, id, CTL_ERR_NO_SERVER, msg, data);
			free(all_names);
			free(list);
			return -1;
		}
		list[n++] = s;
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
		s = list[0];
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
	const cJSON *id, *params;
	const char *method;
	int code = 0;
	cJSON *req = jsonrpc_parse(line, len, &code);

	if (!req) {
		ctl_error(cl, NULL, code ? code : JSONRPC_PARSE_ERROR, "parse error: the request is not JSON", NULL);
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(req, "id");
	if (jsonrpc_classify(req) != JSONRPC_REQUEST) {
		/* Notifications get no reply, by JSON-RPC's rules; anything else is an error. */
		if (jsonrpc_classify(req) != JSONRPC_NOTIFICATION)
			ctl_error(cl, NULL, JSONRPC_INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 request",
				  NULL);
		cJSON_Delete(req);
		return;
	}
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

		snprintf(msg, sizeof(msg), "permission denied: uid %d may only read status and logs", (int)cl->uid);
		ctl_error(cl, id, CTL_ERR_PERMISSION, msg, NULL);
	} else {
		log_debug(NULL, NULL, "control: %s from pid %d (uid %d)", m->name, (int)cl->pid, (int)cl->uid);
		m->run(cl, id, params);
	}
	cJSON_Delete(req);
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *cl = w->data;
	int r = wbuf_flush(&cl->out, cl->fd);

	if (r < 0) {
		client_free(cl);
		return;
	}
	if (r == 0) {
		ev_io_stop(loop, w);
		if (cl->closing) {
			client_free(cl);
			return;
		}
		if (cl->out.cap > CONTROL_KEEP_BUFFER) {
			/* A big reply (status of 1000 servers, logs): give the memory back to the system. */
			wbuf_free(&cl->out);
			wbuf_init(&cl->out, CONTROL_MAX_QUEUE);
			malloc_trim(0);
		}
	}
	/* Reading was paused while the queue was long. */
	if (!cl->closing && wbuf_pending(&cl->out) < CONTROL_FOLLOW_QUEUE)
		ev_io_start(loop, &cl->read_w);
}

/* Handlers may drop the client (its queue overflowed): is it still there? */
static bool client_listed(const struct control *c, const struct ctl_client *cl)
{
	for (const struct ctl_client *it = c->clients; it; it = it->next)
		if (it == cl)
			return true;
	return false;
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *cl = w->data;
	struct control *c = cl->c;
	ssize_t n = linebuf_fill(&cl->in, cl->fd);
	char *line;
	size_t len;
	int r;

	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		/* The client is done sending (or gone): answer what it asked, then close. */
		ev_io_stop(loop, w);
		if (cl->session) {
			if (n == 0 && !relay_client_eof(cl->session))
				return;	/* answers are still due: the relay closes when they are out */
			ctl_close(cl);
			return;
		}
		cl->closing = true;
		if (n == 0 && linebuf_flush(&cl->in, &line, &len) > 0 && len > 0) {
			handle_line(cl, line, len);	/* a last request without its newline */
			if (!client_listed(c, cl))
				return;
		}
		if (n < 0 || wbuf_pending(&cl->out) == 0)
			client_free(cl);
		return;
	}
	/* handle_line may free the client (queue overflow): check it is still listed. */
	while ((r = linebuf_next(&cl->in, &line, &len)) != 0) {
		if (r == -EMSGSIZE)
			ctl_error(cl, NULL, JSONRPC_INVALID_REQUEST, "invalid request: longer than 1 MiB", NULL);
		else if (cl->session)
			relay_client_line(cl->session, line, len);
		else
			handle_line(cl, line, len);
		if (!client_listed(c, cl) || cl->closing)
			return;
	}
	/* Back-pressure: a client that does not read its replies is not read from. */
	if (wbuf_pending(&cl->out) >= CONTROL_FOLLOW_QUEUE)
		ev_io_stop(loop, w);
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

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control *c = w->data;

	/* Bounded per wake-up so a connection storm cannot starve the servers. */
	for (int i = 0; i < 64; i++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct ctl_client *cl;
		enum access access;
		char msg[200];
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning(NULL, NULL, "control: accept: %s", strerror(errno));
			return;
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
		if (c->nclients >= CONTROL_MAX_CLIENTS) {
			log_warning(NULL, NULL, "control: refused pid %d: %d clients are connected already",
				    (int)cred.pid, CONTROL_MAX_CLIENTS);
			refuse(fd, JSONRPC_INTERNAL_ERROR, "too many clients are connected to mcpd; try again later");
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->c = c;
		cl->fd = fd;
		cl->access = access;
		cl->uid = cred.uid;
		cl->pid = cred.pid;
		linebuf_init(&cl->in, CONTROL_MAX_REQUEST, LINEBUF_REJECT);
		wbuf_init(&cl->out, CONTROL_MAX_QUEUE);
		ev_io_init(&cl->read_w, on_client_read, fd, EV_READ);
		ev_io_init(&cl->write_w, on_client_write, fd, EV_WRITE);
		cl->read_w.data = cl->write_w.data = cl;
		ev_io_start(loop, &cl->read_w);
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

/* Create the socket's directory when it is missing (the XDG and /tmp defaults). */
static void make_parent_dir(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			log_debug(NULL, NULL, "control: cannot create %s: %s", dir, strerror(errno));
	}
	free(dir);
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
	make_parent_dir(path);
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
	ev_io_init(&c->accept_w, on_accept, fd, EV_READ);
	c->accept_w.data = c;
	ev_io_start(d->loop, &c->accept_w);
	return c;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	while (c->clients)
		client_free(c->clients);
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
		if (cl->follow != s)
			continue;
		if (wbuf_pending(&cl->out) > CONTROL_FOLLOW_QUEUE) {
			log_warning(s->conf.name, NULL, "control: dropping a `logs -f` reader (pid %d): it lags by %zu bytes",
				    (int)cl->pid, wbuf_pending(&cl->out));
			client_free(cl);
			continue;
		}
		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "name", s->conf.name);
		cJSON_AddNumberToObject(params, "seq", (double)seq);
		cJSON_AddNumberToObject(params, "ts_ms", (double)ts_ms);
		{
			char *text = xstrndup(line, len);

			cJSON_AddStringToObject(params, "text", text);
			free(text);
		}
		msg = jsonrpc_notification_new("log", params);
		client_send(cl, msg);
		cJSON_Delete(msg);
	}
}

void control_forget_server(struct control *c, struct server *s)
{
	struct ctl_client *cl, *next;

	if (!c)
		return;
	for (cl = c->clients; cl; cl = next) {
		next = cl->next;
		if (cl->follow == s) {
			/* The reader's stream ends: the server is gone from the manifest. */
			cl->follow = NULL;
			cl->closing = true;
			if (wbuf_pending(&cl->out) == 0)
				client_free(cl);
		}
	}
}
