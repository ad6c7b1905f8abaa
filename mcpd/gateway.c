/*
 * The HTTP gateway: POST /mcp/NAME is a Streamable HTTP MCP endpoint for a
 * supervised stdio server, multiplexed like mcpctl connect (relay.c). Each
 * MCP session of the gateway is a relay session; a POSTed request suspends
 * its connection until the relay delivers the answer with the same id.
 * Bearer tokens (compared in constant time), a per-token rate limit, and
 * Origin checks guard it; every request is logged without its token.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "daemon.h"
#include "gateway.h"
#include "jsonrpc.h"
#include "log.h"
#include "relay.h"
#include "server.h"
#include "xmalloc.h"

#define MAX_SESSIONS	1024
#define MAX_TOKENS	1024
#define TOKENS_FILE_MAX	(64 * 1024)
#define SESSION_QUEUE	(8 * 1024 * 1024)

struct token {
	char *name;
	char *secret;
	double window_start;
	unsigned count;
};

/* A POSTed request waiting for its answer. */
struct waiter {
	cJSON *id;
	cJSON *answer;			/* set when it arrives; the connection is resumed */
	struct MHD_Connection *conn;
	struct waiter *next;
};

/* A message waiting for the session's GET stream, already framed as an SSE event. */
struct sse_item {
	char *text;
	size_t len, off;
	struct sse_item *next;
};

struct gw_session {
	char id[33];
	double last_used;
	/* The GET stream: server notifications and requests for this client. */
	struct MHD_Connection *stream;
	bool stream_suspended;
	struct sse_item *queue, **queue_tail;
	size_t queued;
	bool orphaned;			/* freed but for its stream: stream_ended finishes */
	struct gateway *g;
	struct server *s;
	struct session *relay;
	struct waiter *waiters;
	bool closed;
	struct gw_session *next;
};

struct gateway {
	struct daemon *d;
	struct token *tokens;
	size_t ntokens;
	struct gw_session *sessions;
	size_t nsessions;
	ev_timer kick_w;		/* MHD_run after a resume, outside MHD's callbacks */
	void (*kick)(void *);
	void *kick_arg;
};

/* ---- tokens ----------------------------------------------------------------- */

static int load_tokens(struct gateway *g, const char *path, char **ret_error)
{
	char buf[TOKENS_FILE_MAX + 1];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	unsigned line = 0;

	if (fd < 0) {
		xasprintf(ret_error, "cannot read tokens_file %s: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, buf, TOKENS_FILE_MAX + 1);
	close(fd);
	if (n < 0 || n > TOKENS_FILE_MAX) {
		xasprintf(ret_error, "cannot read tokens_file %s: %s", path, n < 0 ? strerror(errno) : "larger than 64 KiB");
		return -EINVAL;
	}
	buf[n] = '\0';
	for (char *p = buf, *end; p && *p; p = end) {
		char *colon, *name, *secret;

		end = strchr(p, '\n');
		if (end)
			*end++ = '\0';
		line++;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		colon = strchr(p, ':');
		if (!colon || g->ntokens >= MAX_TOKENS) {
			/* Never echo the line: it holds a secret. */
			xasprintf(ret_error, "tokens_file %s:%u: expected \"name: token\"", path, line);
			return -EINVAL;
		}
		*colon = '\0';
		name = p;
		secret = colon + 1;
		while (isspace((unsigned char)*secret))
			secret++;
		for (char *t = secret + strlen(secret); t > secret && isspace((unsigned char)t[-1]);)
			*--t = '\0';
		for (char *t = name + strlen(name); t > name && isspace((unsigned char)t[-1]);)
			*--t = '\0';
		if (!*name || strlen(secret) < 16) {
			xasprintf(ret_error, "tokens_file %s:%u: a name and a token of at least 16 characters are needed",
				  path, line);
			return -EINVAL;
		}
		g->tokens = xreallocarray(g->tokens, g->ntokens + 1, sizeof(*g->tokens));
		g->tokens[g->ntokens++] = (struct token){ .name = xstrdup(name), .secret = xstrdup(secret) };
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* Constant time in the secret's content: no early exit on the first differing byte. */
static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

static struct token *authenticate(struct gateway *g, struct MHD_Connection *conn)
{
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	struct token *found = NULL;

	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	/* Every token is compared, so the time does not tell which one matched. */
	for (size_t i = 0; i < g->ntokens; i++)
		if (secret_equal(auth + 7, g->tokens[i].secret))
			found = &g->tokens[i];
	return found;
}

/* ---- sessions -------------------------------------------------------------- */

static bool sink_send(void *sink, const cJSON *msg);
static size_t sink_pending(void *sink);
static void sink_close(void *sink);

static const struct relay_sink gateway_sink = { .send = sink_send, .pending = sink_pending, .close = sink_close };

static void kick(struct gateway *g)
{
	ev_timer_start(g->d->loop, &g->kick_w);
}

static bool sink_send(void *sink, const cJSON *msg)
{
	struct gw_session *gs = sink;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

	if (jsonrpc_classify(msg) == JSONRPC_RESPONSE) {
		for (struct waiter *w = gs->waiters; w; w = w->next) {
			if (!w->answer && cJSON_Compare(w->id, id, 1)) {
				w->answer = cJSON_Duplicate(msg, 1);
				MHD_resume_connection(w->conn);
				kick(gs->g);
				return true;
			}
		}
	}
	if (gs->stream) {
		struct sse_item *it = xcalloc(1, sizeof(*it));
		char *json = cJSON_PrintUnformatted(msg);

		it->len = (size_t)xasprintf(&it->text, "event: message\ndata: %s\n\n", json);
		free(json);
		*gs->queue_tail = it;
		gs->queue_tail = &it->next;
		gs->queued += it->len;
		if (gs->stream_suspended) {
			gs->stream_suspended = false;
			MHD_resume_connection(gs->stream);
			kick(gs->g);
		}
	}
	/* Without a GET stream open, notifications for this client are dropped. */
	return true;
}

static size_t sink_pending(void *sink)
{
	const struct gw_session *gs = sink;

	return gs->queued;
}

static void queue_clear(struct gw_session *gs)
{
	while (gs->queue) {
		struct sse_item *it = gs->queue;

		gs->queue = it->next;
		free(it->text);
		free(it);
	}
	gs->queue_tail = &gs->queue;
	gs->queued = 0;
}

/* MHD pulls the stream's bytes; with none queued the connection sleeps until sink_send. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gw_session *gs = cls;
	size_t n = 0;

	if (gs->closed)
		return MHD_CONTENT_READER_END_OF_STREAM;
	while (gs->queue && n < max) {
		struct sse_item *it = gs->queue;
		size_t take = it->len - it->off < max - n ? it->len - it->off : max - n;

		memcpy(buf + n, it->text + it->off, take);
		it->off += take;
		n += take;
		gs->queued -= take;
		if (it->off == it->len) {
			gs->queue = it->next;
			if (!gs->queue)
				gs->queue_tail = &gs->queue;
			free(it->text);
			free(it);
		}
	}
	if (n == 0) {
		gs->stream_suspended = true;
		MHD_suspend_connection(gs->stream);
	}
	return (ssize_t)n;
}

static void stream_ended(void *cls)
{
	struct gw_session *gs = cls;

	gs->stream = NULL;
	gs->stream_suspended = false;
	queue_clear(gs);
	if (gs->orphaned)
		free(gs);	/* unlinked, detached, without waiters: see free_session */
}

static void sink_close(void *sink)
{
	struct gw_session *gs = sink;

	if (gs->relay) {
		struct session *r = gs->relay;

		gs->relay = NULL;
		relay_detach(r);
	}
	gs->closed = true;
}

static struct gw_session *find_session(struct gateway *g, const char *id, struct server *s)
{
	for (struct gw_session *gs = g->sessions; gs; gs = gs->next) {
		if (!gs->closed && gs->s == s && strcmp(gs->id, id) == 0) {
			gs->last_used = ev_now(g->d->loop);
			return gs;
		}
	}
	return NULL;
}

static void free_session(struct gateway *g, struct gw_session *gs);

/* Closed sessions (server removed) and idle ones (client gone without DELETE) are freed. */
static void sweep(struct gateway *g)
{
	double now = ev_now(g->d->loop);

	for (struct gw_session *gs = g->sessions, *next; gs; gs = next) {
		next = gs->next;
		if (!gs->waiters && (gs->closed || now - gs->last_used > GATEWAY_IDLE_SECONDS))
			free_session(g, gs);
	}
}

static struct gw_session *new_session(struct gateway *g, struct server *s)
{
	struct gw_session *gs;
	unsigned char raw[16];

	sweep(g);
	gs = xcalloc(1, sizeof(*gs));
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
		free(gs);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(gs->id + 2 * i, 3, "%02x", raw[i]);
	gs->g = g;
	gs->s = s;
	gs->queue_tail = &gs->queue;
	gs->last_used = ev_now(g->d->loop);
	gs->relay = relay_attach(s, &gateway_sink, gs);
	gs->next = g->sessions;
	g->sessions = gs;
	g->nsessions++;
	return gs;
}

static void free_session(struct gateway *g, struct gw_session *gs)
{
	for (struct gw_session **pp = &g->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == gs) {
			*pp = gs->next;
			break;
		}
	}
	sink_close(gs);
	g->nsessions--;
	if (gs->stream) {
		/* The stream's end (stream_ended) must not find a freed session: it frees it. */
		gs->orphaned = true;
		if (gs->stream_suspended) {
			gs->stream_suspended = false;
			MHD_resume_connection(gs->stream);
			kick(g);
		}
		return;
	}
	queue_clear(gs);
	while (gs->waiters) {
		struct waiter *w = gs->waiters;

		gs->waiters = w->next;
		cJSON_Delete(w->id);
		cJSON_Delete(w->answer);
		free(w);
	}
	free(gs);
}

/* ---- requests --------------------------------------------------------------- */

struct gw_request {
	char *body;
	size_t len;
	bool too_big;
	struct waiter *waiter;		/* set while suspended */
	struct gw_session *session;
	const struct token *token;
	double started;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
			     const char *session, unsigned retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	char num[16];

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (session)
		MHD_add_response_header(r, "Mcp-Session-Id", session);
	if (retry_after) {
		snprintf(num, sizeof(num), "%u", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST, GET, DELETE");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result error_reply(struct MHD_Connection *conn, unsigned status, const char *message)
{
	char body[320];

	snprintf(body, sizeof(body), "%s\n", message);
	return reply(conn, status, "text/plain; charset=utf-8", body, NULL, 0);
}

/* Browsers send Origin: only listed origins, or local ones when none are listed, may call. */
static bool origin_allowed(const struct daemon *d, struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const struct gateway_conf *gc = &d->manifest->mcpd.gateway;
	static const char *const local[] = { "http://localhost", "http://127.0.0.1", "http://[::1]",
					     "https://localhost", "https://127.0.0.1", "https://[::1]" };

	if (!origin)
		return true;
	for (size_t i = 0; i < gc->nallowed_origins; i++)
		if (strcmp(origin, gc->allowed_origins[i]) == 0)
			return true;
	if (gc->nallowed_origins > 0)
		return false;
	for (size_t i = 0; i < sizeof(local) / sizeof(*local); i++) {
		size_t n = strlen(local[i]);

		if (strncmp(origin, local[i], n) == 0 && (origin[n] == '\0' || origin[n] == ':'))
			return true;
	}
	return false;
}

/* Fixed windows per token: count, and when the window is full, say when it reopens. */
static unsigned rate_limited(const struct daemon *d, struct token *t, double now)
{
	const struct gateway_conf *gc = &d->manifest->mcpd.gateway;
	double period = (double)gc->rate_period_ms / 1000.;

	if (!t || gc->rate_limit == 0)
		return 0;
	if (now - t->window_start >= period) {
		t->window_start = now;
		t->count = 0;
	}
	if (t->count >= gc->rate_limit)
		return (unsigned)ceil(t->window_start + period - now);
	t->count++;
	return 0;
}

/* One line per request: who (the token's name, never the token), what, and how it went. */
static void access_log(struct gw_request *req, const struct token *t, const char *server, const char *method,
		       unsigned status)
{
	log_info(server, NULL, "gateway: %s %u %.1fms token=%s", method, status, (ev_time() - req->started) * 1000.,
		 t ? t->name : "-");
}

enum MHD_Result gateway_request(struct gateway *g, struct MHD_Connection *conn, const char *url, const char *method,
				const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct daemon *d = g->d;
	struct gw_request *req = *con_cls;
	const char *name = url + strlen("/mcp/");
	const char *sid;
	struct token *token = NULL;
	struct server *s;
	struct gw_session *gs;
	cJSON *msg;
	unsigned wait;
	enum MHD_Result ret;

	if (!req) {
		req = xcalloc(1, sizeof(*req));
		req->started = ev_time();
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* Bounded: a body over 4 MiB is read to its end and refused. */
		if (!req->too_big && req->len + *upload_data_size <= GATEWAY_MAX_BODY) {
			req->body = xrealloc(req->body, req->len + *upload_data_size + 1);
			memcpy(req->body + req->len, upload_data, *upload_data_size);
			req->len += *upload_data_size;
			req->body[req->len] = '\0';
		} else {
			req->too_big = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->waiter) {
		/* Resumed: the answer is here (or mcpd is stopping). */
		struct waiter *w = req->waiter, **pp;
		char *text = w->answer ? cJSON_PrintUnformatted(w->answer) : NULL;

		if (text)
			ret = reply(conn, MHD_HTTP_OK, "application/json", text, req->session->id, 0);
		else
			ret = error_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "mcpd is shutting down");
		access_log(req, req->token, req->session->s->conf.name, method, MHD_HTTP_OK);
		free(text);
		for (pp = &req->session->waiters; *pp && *pp != w; pp = &(*pp)->next)
			;
		if (*pp)
			*pp = w->next;
		cJSON_Delete(w->id);
		cJSON_Delete(w->answer);
		free(w);
		req->waiter = NULL;
		return ret;
	}

	if (!origin_allowed(d, conn)) {
		access_log(req, NULL, name, method, MHD_HTTP_FORBIDDEN);
		return error_reply(conn, MHD_HTTP_FORBIDDEN, "origin not allowed");
	}
	if (g->ntokens > 0 && !(token = authenticate(g, conn))) {
		access_log(req, NULL, name, method, MHD_HTTP_UNAUTHORIZED);
		return error_reply(conn, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");
	}
	if ((wait = rate_limited(d, token, ev_time()))) {
		char *body;

		access_log(req, token, name, method, MHD_HTTP_TOO_MANY_REQUESTS);
		xasprintf(&body, "rate limit of %u requests reached; retry in %u s\n", d->manifest->mcpd.gateway.rate_limit,
			  wait);
		ret = reply(conn, MHD_HTTP_TOO_MANY_REQUESTS, "text/plain; charset=utf-8", body, NULL, wait);
		free(body);
		return ret;
	}
	s = daemon_find_server(d, name);
	if (!s || s->conf.transport != TRANSPORT_STDIO)
		return error_reply(conn, MHD_HTTP_NOT_FOUND, s ? "the gateway serves stdio servers" : "no such server");
	sid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
	gs = sid ? find_session(g, sid, s) : NULL;

	if (strcmp(method, "DELETE") == 0) {
		if (!gs)
			return error_reply(conn, MHD_HTTP_NOT_FOUND, "no such session");
		if (gs->waiters)
			return error_reply(conn, MHD_HTTP_CONFLICT, "requests of this session are still in flight");
		free_session(g, gs);
		access_log(req, token, name, method, MHD_HTTP_OK);
		return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", "", NULL, 0);
	}
	if (strcmp(method, "GET") == 0) {
		struct MHD_Response *r;

		if (!gs)
			return error_reply(conn, sid ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST,
					   "GET needs the Mcp-Session-Id of an open session");
		if (gs->stream)
			return error_reply(conn, MHD_HTTP_CONFLICT, "this session has a stream open already");
		gs->stream = conn;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, gs, stream_ended);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		access_log(req, token, name, method, MHD_HTTP_OK);
		return ret;
	}
	if (strcmp(method, "POST") != 0)
		return error_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST, GET or DELETE");
	if (req->too_big)
		return error_reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 4 MiB");
	msg = req->body ? cJSON_ParseWithLength(req->body, req->len) : NULL;
	if (!msg || !cJSON_IsObject(msg)) {
		cJSON_Delete(msg);
		return error_reply(conn, MHD_HTTP_BAD_REQUEST, "the body must be one JSON-RPC message");
	}
	if (!gs) {
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));

		if (!m || strcmp(m, "initialize") != 0 || sid) {
			cJSON_Delete(msg);
			return error_reply(conn, sid ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST,
					   sid ? "unknown or expired session" : "Mcp-Session-Id is required after initialize");
		}
		if (g->nsessions >= MAX_SESSIONS) {
			cJSON_Delete(msg);
			return error_reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many gateway sessions");
		}
		gs = new_session(g, s);
		if (!gs) {
			cJSON_Delete(msg);
			return error_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot make a session id");
		}
	}
	req->session = gs;
	req->token = token;
	if (jsonrpc_classify(msg) == JSONRPC_REQUEST) {
		struct waiter *w = xcalloc(1, sizeof(*w));

		w->id = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "id"), 1);
		w->conn = conn;
		w->next = gs->waiters;
		gs->waiters = w;
		req->waiter = w;
		MHD_suspend_connection(conn);
		relay_client_line(gs->relay, req->body, req->len);
		cJSON_Delete(msg);
		return MHD_YES;
	}
	relay_client_line(gs->relay, req->body, req->len);
	cJSON_Delete(msg);
	access_log(req, token, name, method, MHD_HTTP_ACCEPTED);
	return reply(conn, MHD_HTTP_ACCEPTED, "text/plain; charset=utf-8", "", gs->id, 0);
}

void gateway_request_done(struct gateway *g, void *con_cls)
{
	struct gw_request *req = con_cls;

	if (!req)
		return;
	if (req->waiter && req->session) {
		/* The client left before its answer: forget the waiter. */
		for (struct waiter **pp = &req->session->waiters; *pp; pp = &(*pp)->next) {
			if (*pp == req->waiter) {
				struct waiter *w = *pp;

				*pp = w->next;
				cJSON_Delete(w->id);
				cJSON_Delete(w->answer);
				free(w);
				break;
			}
		}
	}
	free(req->body);
	free(req);
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gateway *g = w->data;

	g->kick(g->kick_arg);
}

struct gateway *gateway_new(struct daemon *d, void (*run)(void *), void *arg, char **ret_error)
{
	struct gateway *g = xcalloc(1, sizeof(*g));

	g->d = d;
	g->kick = run;
	g->kick_arg = arg;
	ev_timer_init(&g->kick_w, on_kick, 0., 0.);
	g->kick_w.data = g;
	if (d->manifest->mcpd.gateway.tokens_file && load_tokens(g, d->manifest->mcpd.gateway.tokens_file, ret_error) < 0) {
		gateway_free(g);
		return NULL;
	}
	if (g->ntokens == 0)
		log_notice(NULL, NULL, "gateway: no tokens_file: every local client may use /mcp/NAME");
	return g;
}

void gateway_wake_all(struct gateway *g)
{
	for (struct gw_session *gs = g->sessions; gs; gs = gs->next) {
		gs->closed = true;
		if (gs->stream && gs->stream_suspended) {
			gs->stream_suspended = false;
			MHD_resume_connection(gs->stream);
		}
		for (struct waiter *w = gs->waiters; w; w = w->next)
			if (!w->answer)
				MHD_resume_connection(w->conn);
	}
}

void gateway_free(struct gateway *g)
{
	if (!g)
		return;
	ev_timer_stop(g->d->loop, &g->kick_w);
	while (g->sessions)
		free_session(g, g->sessions);
	for (size_t i = 0; i < g->ntokens; i++) {
		explicit_bzero(g->tokens[i].secret, strlen(g->tokens[i].secret));
		free(g->tokens[i].secret);
		free(g->tokens[i].name);
	}
	free(g->tokens);
	free(g);
}
