/* Sessions of MCP clients sharing one supervised server: see relay.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-era.h"
#include "mcp-stdio.h"
#include "relay.h"
#include "relay-internal.h"
#include "relay-state.h"
#include "server.h"
#include "xmalloc.h"

#define BUCKETS 1024
#define TOKEN_PREFIX "mcpd-pt-"

/* A message too long to parse is answered with the id found in this many of its first bytes. */
#define RELAY_ID_SCAN		(64 * 1024)

/* A client's request in flight: the server knows it as sid. */
struct pending_req {
	int64_t sid;
	cJSON *client_id;	/* as the client wrote it (a cJSON_Raw): for the answer */
	cJSON *client_id_value;	/* as parsed: to match the client's cancellation */
	cJSON *client_token;	/* the client's progressToken, rewritten to TOKEN_PREFIX<sid> */
	struct session *sess;
	struct pending_req *next;
};

/* A request of the server's, given to one session to answer. */
struct server_req {
	char *id;		/* the id as JSON text */
	struct session *sess;
	struct server_req *next;
};

struct session {
	struct server *s;
	const struct relay_sink *ops;
	void *sink;
	/*
	 * The client: legacy once it sent initialize (which fixed its version,
	 * info and capabilities); modern requests carry their own in _meta.
	 */
	enum mcp_era era;
	char protocol_version[32];
	cJSON *client_info;
	cJSON *client_capabilities;
	size_t npending;
	bool draining;		/* the client closed its side: close once answered */
	bool closing;		/* the sink was told to close: nothing more goes to it */
	bool dead;		/* detached: unlinked, freed by the reaper */
	ev_timer drain_w;
	struct session_state *state;	/* relay-state.c: subscriptions, log level */
	struct session *prev, *next;	/* in sessions, or in dead (next only) */
};

struct relay {
	struct session *sessions;	/* oldest first */
	struct session *dead;		/* detached, freed by reap_w once no caller holds them */
	struct ev_loop *loop;
	ev_idle reap_w;
	struct pending_req **buckets;	/* BUCKETS of them, allocated with the first session */
	struct server_req *server_reqs;
	size_t nserver_reqs;		/* in server_reqs, at most RELAY_MAX_SERVER_REQS */
	uint64_t refused_server_reqs;	/* since the last summary */
	int64_t next_sid;
	struct relay_state *state;	/* relay-state.c */
};

struct relay *relay_new(void)
{
	return xcalloc(1, sizeof(struct relay));
}

static void session_free(struct session *sess)
{
	cJSON_Delete(sess->client_info);
	cJSON_Delete(sess->client_capabilities);
	relay_state_session_free(sess->state);
	free(sess);
}

static void pending_free(struct pending_req *p)
{
	cJSON_Delete(p->client_id);
	cJSON_Delete(p->client_id_value);
	cJSON_Delete(p->client_token);
	free(p);
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	for (size_t b = 0; r->buckets && b < BUCKETS; b++) {
		while (r->buckets[b]) {
			struct pending_req *p = r->buckets[b];

			r->buckets[b] = p->next;
			pending_free(p);
		}
	}
	free(r->buckets);
	if (r->loop)
		ev_idle_stop(r->loop, &r->reap_w);
	while (r->dead) {
		struct session *sess = r->dead;

		r->dead = sess->next;
		session_free(sess);
	}
	while (r->server_reqs) {
		struct server_req *q = r->server_reqs;

		r->server_reqs = q->next;
		free(q->id);
		free(q);
	}
	relay_state_free(r->state);
	free(r);
}

size_t relay_sessions(const struct server *s)
{
	size_t n = 0;

	for (const struct session *it = s->relay->sessions; it; it = it->next)
		n++;
	return n;
}

/* Sessions are freed here, after the callback that detached them returned: see relay_detach. */
static void on_reap(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct relay *r = w->data;

	ev_idle_stop(loop, w);
	while (r->dead) {
		struct session *sess = r->dead;

		r->dead = sess->next;
		session_free(sess);
	}
}

/* Is the session still one to talk to? Not once detached, nor once its sink was told to close. */
static bool alive(const struct session *sess)
{
	return !sess->dead && !sess->closing;
}

/* Tell the sink to end the client; relay_detach follows, now or later. Once only. */
static void close_sink(struct session *sess)
{
	if (!alive(sess))
		return;
	sess->closing = true;
	sess->ops->close(sess->sink);
}

/*
 * Send to a session's client; a client that lags too far behind is dropped.
 * Returns false when the session is closing or gone: callers stop using it
 * then (its memory stays valid until the reaper runs).
 */
static bool to_client(struct session *sess, const cJSON *msg)
{
	if (!alive(sess))
		return false;
	if (sess->ops->pending(sess->sink) > RELAY_CLIENT_QUEUE) {
		log_warning(sess->s->conf.name, NULL,
			    "dropping an MCP client: it does not read its answers (%zu bytes queued, at most %d); closing it",
			    sess->ops->pending(sess->sink), RELAY_CLIENT_QUEUE);
		close_sink(sess);
		return false;
	}
	sess->ops->send(sess->sink, msg);
	return alive(sess);
}

static bool error_to_client(struct session *sess, const cJSON *id, int code, const char *message)
{
	cJSON *msg = jsonrpc_error_new(id, code, message, NULL);
	bool ok = to_client(sess, msg);

	cJSON_Delete(msg);
	return ok;
}

/* ---- for relay-state.c: see relay-internal.h ----------------------------- */

struct session *relay_first_session(struct server *s)
{
	struct session *it = s->relay->sessions;

	while (it && !alive(it))
		it = it->next;
	return it;
}

struct session *relay_next_session(struct session *sess)
{
	struct session *it = sess->dead ? NULL : sess->next;

	while (it && !alive(it))
		it = it->next;
	return it;
}

struct server *relay_session_server(const struct session *sess) { return sess->s; }
enum mcp_era relay_session_era(const struct session *sess) { return sess->era; }
const cJSON *relay_session_capabilities(const struct session *sess) { return sess->client_capabilities; }
struct session_state **relay_session_state(struct session *sess) { return &sess->state; }
struct relay_state **relay_state_slot(struct server *s) { return &s->relay->state; }
bool relay_session_send(struct session *sess, const cJSON *msg) { return to_client(sess, msg); }
int64_t relay_new_sid(struct server *s) { return ++s->relay->next_sid; }

struct session *relay_newest_requester(struct server *s, bool (*accept)(struct session *sess, const void *arg),
				       const void *arg)
{
	struct relay *r = s->relay;
	struct pending_req *best = NULL;

	for (size_t b = 0; r->buckets && b < BUCKETS; b++)
		for (struct pending_req *p = r->buckets[b]; p; p = p->next)
			if ((!best || p->sid > best->sid) && alive(p->sess) && accept(p->sess, arg))
				best = p;
	return best ? best->sess : NULL;
}

/* ---- pending requests ----------------------------------------------------- */

static size_t bucket(int64_t sid)
{
	return (size_t)((uint64_t)sid % BUCKETS);
}

static struct pending_req *take_pending(struct relay *r, int64_t sid)
{
	if (!r->buckets)
		return NULL;
	for (struct pending_req **pp = &r->buckets[bucket(sid)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->sid == sid) {
			struct pending_req *p = *pp;

			*pp = p->next;
			p->sess->npending--;
			return p;
		}
	}
	return NULL;
}

/* A draining session whose last answer went out is closed. */
static void maybe_finish(struct session *sess)
{
	if (alive(sess) && sess->draining && sess->npending == 0)
		close_sink(sess);
}

static struct pending_req *find_by_client_id(struct relay *r, const struct session *sess, const cJSON *id)
{
	for (size_t b = 0; r->buckets && b < BUCKETS; b++)
		for (struct pending_req *p = r->buckets[b]; p; p = p->next)
			if (p->sess == sess && cJSON_Compare(p->client_id_value, id, 1))
				return p;
	return NULL;
}

/* A request of the server's is answered or forgotten: the refusals past the bound are counted once. */
static void server_req_free(struct server *s, struct server_req *q)
{
	struct relay *r = s->relay;

	r->nserver_reqs--;
	if (r->refused_server_reqs && r->nserver_reqs < RELAY_MAX_SERVER_REQS / 2) {
		log_notice(s->conf.name, NULL, "answered %" PRIu64 " requests of the server with an error while %d "
			   "waited for its MCP client", r->refused_server_reqs, RELAY_MAX_SERVER_REQS);
		r->refused_server_reqs = 0;
	}
	free(q->id);
	free(q);
}

/* ---- sessions ------------------------------------------------------------- */

struct session *relay_attach(struct server *s, const struct relay_sink *ops, void *sink)
{
	struct relay *r = s->relay;
	struct session *sess = xcalloc(1, sizeof(*sess));
	struct session **tail = &r->sessions;

	sess->s = s;
	sess->ops = ops;
	sess->sink = sink;
	/* A server nobody connects to costs no table: most of them, with 1000 servers. */
	if (!r->buckets)
		r->buckets = xcalloc(BUCKETS, sizeof(*r->buckets));
	if (!r->loop) {
		r->loop = s->d->loop;
		ev_idle_init(&r->reap_w, on_reap);
		/* Highest priority: it runs on every loop iteration while sessions wait, whatever else is busy. */
		ev_set_priority(&r->reap_w, EV_MAXPRI);
		r->reap_w.data = r;
	}
	while (*tail) {
		sess->prev = *tail;
		tail = &(*tail)->next;
	}
	*tail = sess;
	log_info(s->conf.name, NULL, "an MCP client attached (%zu now)", relay_sessions(s));
	return sess;
}

static void send_cancel(struct server *s, int64_t sid, const char *why)
{
	cJSON *params = cJSON_CreateObject();
	cJSON *msg;

	cJSON_AddNumberToObject(params, "requestId", (double)sid);
	cJSON_AddStringToObject(params, "reason", why);
	msg = jsonrpc_notification_new("notifications/cancelled", params);
	server_send(s, msg);
	cJSON_Delete(msg);
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *sess = w->data;

	log_notice(sess->s->conf.name, NULL, "an MCP client left with %zu requests unanswered after %.0fs; cancelling them",
		   sess->npending, RELAY_DRAIN_SECONDS);
	close_sink(sess);
}

bool relay_client_eof(struct session *sess)
{
	if (!alive(sess))
		return true;
	if (sess->draining)
		return false;	/* once: the drain timer is running already */
	if (sess->npending == 0)
		return true;
	sess->draining = true;
	ev_timer_init(&sess->drain_w, on_drain_timeout, RELAY_DRAIN_SECONDS, 0.);
	sess->drain_w.data = sess;
	ev_timer_start(sess->s->d->loop, &sess->drain_w);
	return false;
}

void relay_detach(struct session *sess)
{
	struct server *s = sess->s;
	struct relay *r = s->relay;
	bool live = s->stdin_fd >= 0;

	if (sess->dead)
		return;
	sess->dead = true;
	if (sess->draining)
		ev_timer_stop(s->d->loop, &sess->drain_w);
	/* What it asked is cancelled; what it was asked is answered with an error. */
	for (size_t b = 0; b < BUCKETS; b++) {
		for (struct pending_req **pp = &r->buckets[b]; *pp;) {
			struct pending_req *p = *pp;

			if (p->sess != sess) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			if (live)
				send_cancel(s, p->sid, "the MCP client disconnected");
			pending_free(p);
		}
	}
	for (struct server_req **qq = &r->server_reqs; *qq;) {
		struct server_req *q = *qq;

		if (q->sess != sess) {
			qq = &q->next;
			continue;
		}
		*qq = q->next;
		if (live) {
			cJSON *id = cJSON_Parse(q->id);
			cJSON *msg = jsonrpc_error_new(id, JSONRPC_INTERNAL_ERROR,
						       "the MCP client that got this request disconnected", NULL);

			server_send(s, msg);
			cJSON_Delete(msg);
			cJSON_Delete(id);
		}
		server_req_free(s, q);
	}
	if (sess->prev)
		sess->prev->next = sess->next;
	else
		r->sessions = sess->next;
	if (sess->next)
		sess->next->prev = sess->prev;
	relay_state_detach(sess);
	log_info(s->conf.name, NULL, "an MCP client detached (%zu left)", relay_sessions(s));
	/* Callers up the stack may still hold it (to_client, the sink): freed by the reaper. */
	sess->prev = NULL;
	sess->next = r->dead;
	r->dead = sess;
	ev_idle_start(r->loop, &r->reap_w);
}

/* ---- client -> server ----------------------------------------------------- */

static bool server_available(struct session *sess, const cJSON *id)
{
	struct server *s = sess->s;
	char reason[320], msg[400];

	if ((s->state == ST_RUNNING || s->state == ST_UNHEALTHY) && s->init_result && s->stdin_fd >= 0)
		return true;
	server_reason(s, reason, sizeof(reason));
	snprintf(msg, sizeof(msg), "server \"%s\" is %s%s%s", s->conf.name, server_state_name(s->state),
		 *reason ? ": " : "", reason);
	error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, msg);
	return false;
}

/* A legacy client's initialize: its version, info and capabilities hold for the session. */
static void remember_client(struct session *sess, const cJSON *req)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	const char *asked = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "protocolVersion"));
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(params, "clientInfo");
	const cJSON *caps = cJSON_GetObjectItemCaseSensitive(params, "capabilities");

	sess->era = MCP_ERA_LEGACY;
	snprintf(sess->protocol_version, sizeof(sess->protocol_version), "%s", asked ? asked : "");
	cJSON_Delete(sess->client_info);
	sess->client_info = cJSON_IsObject(info) ? cJSON_Duplicate(info, 1) : NULL;
	cJSON_Delete(sess->client_capabilities);
	sess->client_capabilities = cJSON_IsObject(caps) ? cJSON_Duplicate(caps, 1) : NULL;
}

/* initialize is answered from the server's own InitializeResult, which mcpd keeps. */
static void answer_initialize(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = sess->s;
	const char *asked = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), "protocolVersion"));
	cJSON *result, *msg;

	if (!server_available(sess, id))
		return;
	remember_client(sess, req);
	result = cJSON_Duplicate(s->init_result, 1);
	/* An older version the client asks for, and mcpd knows, is granted: servers stay compatible. */
	if (asked && mcp_version_legacy(asked) && strcmp(asked, s->protocol_version) < 0)
		cJSON_ReplaceItemInObjectCaseSensitive(result, "protocolVersion", cJSON_CreateString(asked));
	msg = jsonrpc_result_new(id, result);
	to_client(sess, msg);
	cJSON_Delete(msg);
}

/* id is the client's id as written (jsonrpc_raw_id); req still holds it as parsed. */
static void forward_request(struct session *sess, cJSON *req, const cJSON *id)
{
	struct server *s = sess->s;
	struct relay *r = s->relay;
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), "_meta");
	cJSON *token = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");
	struct pending_req *p;
	char buf[64];

	if (!server_available(sess, id))
		return;
	if (sess->npending >= RELAY_MAX_PENDING || wbuf_pending(&s->in) > RELAY_SERVER_QUEUE) {
		snprintf(buf, sizeof(buf), "server \"%.32s\" is busy", s->conf.name);
		error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, buf);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->sid = ++r->next_sid;
	p->client_id = cJSON_Duplicate(id, 1);
	p->client_id_value = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), 1);
	p->sess = sess;
	if (token) {
		p->client_token = cJSON_Duplicate(token, 1);
		snprintf(buf, sizeof(buf), TOKEN_PREFIX "%" PRId64, p->sid);
		cJSON_ReplaceItemInObjectCaseSensitive(meta, "progressToken", cJSON_CreateString(buf));
	}
	p->next = r->buckets[bucket(p->sid)];
	r->buckets[bucket(p->sid)] = p;
	sess->npending++;
	cJSON_ReplaceItemInObjectCaseSensitive(req, "id", cJSON_CreateNumber((double)p->sid));
	if (!server_send(s, req)) {
		p = take_pending(r, p->sid);
		if (p) {
			error_to_client(sess, p->client_id, MCPD_ERR_UNAVAILABLE, "the server does not read its input");
			pending_free(p);
		}
	}
}

static void forward_cancel(struct session *sess, cJSON *note)
{
	struct relay *r = sess->s->relay;
	cJSON *params = cJSON_GetObjectItemCaseSensitive(note, "params");
	struct pending_req *p = find_by_client_id(r, sess, cJSON_GetObjectItemCaseSensitive(params, "requestId"));

	if (!p)
		return;	/* answered already, or never sent */
	cJSON_ReplaceItemInObjectCaseSensitive(params, "requestId", cJSON_CreateNumber((double)p->sid));
	server_send(sess->s, note);
	/* A cancelled request gets no response: forget it now. */
	p = take_pending(r, p->sid);
	pending_free(p);
}

/* The client answers a request the server sent it. */
static void forward_response(struct session *sess, const cJSON *msg)
{
	struct relay *r = sess->s->relay;
	char *id = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(msg, "id"));

	for (struct server_req **qq = &r->server_reqs; *qq; qq = &(*qq)->next) {
		struct server_req *q = *qq;

		if (q->sess == sess && strcmp(q->id, id) == 0) {
			*qq = q->next;
			server_send(sess->s, msg);
			server_req_free(sess->s, q);
			break;
		}
	}
	free(id);
}

/* The id to answer with: as written, for a sink that takes raw ids; else as parsed. */
static cJSON *answer_id(const struct session *sess, const char *line, size_t len, const cJSON *parsed)
{
	cJSON *id = jsonrpc_raw_id(line, len, parsed);
	cJSON *value;

	if (!id || sess->ops->raw_ids || !cJSON_IsRaw(id))
		return id;
	value = cJSON_Parse(id->valuestring);
	cJSON_Delete(id);
	return value;
}

void relay_client_line(struct session *sess, const char *line, size_t len)
{
	int code = 0;
	cJSON *msg, *id;
	const char *method;

	if (!alive(sess))
		return;
	msg = jsonrpc_parse(line, len, &code);
	if (!msg) {
		/* Not JSON: its id may still be readable, and the client then knows which request failed. */
		id = answer_id(sess, line, len, NULL);
		error_to_client(sess, id, code ? code : JSONRPC_PARSE_ERROR, jsonrpc_parse_error_text(code));
		cJSON_Delete(id);
		return;
	}
	method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	switch (jsonrpc_classify(msg)) {
	case JSONRPC_REQUEST:
		/* Answers carry the id exactly as the client wrote it (cJSON would round big numbers). */
		id = answer_id(sess, line, len, cJSON_GetObjectItemCaseSensitive(msg, "id"));
		if (relay_state_request(sess, msg, id)) {
			/* subscriptions and log levels: answered per client by relay-state.c */
		} else if (strcmp(method, "initialize") == 0) {
			answer_initialize(sess, msg, id);
		} else if (strcmp(method, "ping") == 0) {
			cJSON *reply = jsonrpc_result_new(id, cJSON_CreateObject());

			to_client(sess, reply);
			cJSON_Delete(reply);
		} else {
			forward_request(sess, msg, id);
		}
		cJSON_Delete(id);
		break;
	case JSONRPC_NOTIFICATION:
		/* The server was initialized once, by mcpd. */
		if (strcmp(method, "notifications/initialized") == 0)
			break;
		if (strcmp(method, "notifications/cancelled") == 0)
			forward_cancel(sess, msg);
		else if (sess->s->stdin_fd >= 0)
			server_send(sess->s, msg);
		break;
	case JSONRPC_RESPONSE:
		forward_response(sess, msg);
		break;
	case JSONRPC_INVALID:
		error_to_client(sess, cJSON_GetObjectItemCaseSensitive(msg, "id"), JSONRPC_INVALID_REQUEST,
				"invalid request: not JSON-RPC 2.0");
		break;
	}
	cJSON_Delete(msg);
}

/* ---- server -> clients ---------------------------------------------------- */

bool relay_server_response(struct server *s, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	struct pending_req *p;
	struct session *sess;
	cJSON *copy;
	int64_t sid;

	if (!cJSON_IsNumber(id))
		return false;
	/* 1e300 is no id mcpd gave, and a cast to int64_t of it would be undefined. */
	if (jsonrpc_id_to_int64(id, &sid) < 0)
		return true;
	p = take_pending(s->relay, sid);
	if (!p)
		return true;	/* cancelled, or its client left: nobody to tell */
	copy = cJSON_Duplicate(msg, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", cJSON_Duplicate(p->client_id, 1));
	sess = p->sess;
	relay_state_answered(sess, p->client_id_value, msg);
	pending_free(p);
	/* A client dropped for not reading is closing: it is not finished twice. */
	if (to_client(sess, copy))
		maybe_finish(sess);
	cJSON_Delete(copy);
	return true;
}

/* Progress goes to the session whose request carried the token. */
static bool route_progress(struct server *s, const cJSON *msg)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "progressToken"));
	struct pending_req *p;
	int64_t sid;
	char *end;
	cJSON *copy;

	if (!token || strncmp(token, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0)
		return false;
	sid = strtoll(token + strlen(TOKEN_PREFIX), &end, 10);
	if (*end)
		return false;
	if (!s->relay->buckets)
		return false;
	for (p = s->relay->buckets[bucket(sid)]; p && p->sid != sid; p = p->next)
		;
	if (!p || !p->client_token)
		return true;
	copy = cJSON_Duplicate(msg, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "params"), "progressToken",
					       cJSON_Duplicate(p->client_token, 1));
	to_client(p->sess, copy);
	cJSON_Delete(copy);
	return true;
}

void relay_server_notification(struct server *s, const cJSON *msg)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	struct session *it, *next;

	if (strcmp(method, "notifications/progress") == 0 && route_progress(s, msg))
		return;
	/* Every session, but log messages and resource updates only where relay-state.c says. */
	for (it = s->relay->sessions; it; it = next) {
		next = it->next;
		if (relay_state_wants(it, msg))
			to_client(it, msg);
	}
}

bool relay_server_request(struct server *s, const cJSON *msg)
{
	struct relay *r = s->relay;
	struct session *sess = relay_state_pick(s, msg);	/* NULL: the server was answered already */
	struct server_req *q;

	if (!sess)
		return true;
	if (r->nserver_reqs >= RELAY_MAX_SERVER_REQS) {
		/* A server asking faster than its client answers would grow this list (and its scans) for ever. */
		cJSON *reply = jsonrpc_error_new(cJSON_GetObjectItemCaseSensitive(msg, "id"), MCPD_ERR_UNAVAILABLE,
						 "too many requests wait for the MCP client's answer", NULL);

		if (r->refused_server_reqs++ == 0)
			log_warning(s->conf.name, NULL,
				    "%d requests of the server wait for its MCP client's answer; answering more with "
				    "an error until the client answers", RELAY_MAX_SERVER_REQS);
		server_send(s, reply);
		cJSON_Delete(reply);
		return true;
	}
	r->nserver_reqs++;
	q = xcalloc(1, sizeof(*q));
	q->id = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(msg, "id"));
	q->sess = sess;
	q->next = r->server_reqs;
	r->server_reqs = q;
	to_client(sess, msg);
	return true;
}

void relay_server_gone(struct server *s, const char *why)
{
	struct relay *r = s->relay;
	char message[256];

	snprintf(message, sizeof(message), "server \"%s\" %s", s->conf.name, why);
	for (size_t b = 0; r->buckets && b < BUCKETS; b++) {
		while (r->buckets[b]) {
			struct pending_req *p = r->buckets[b];

			r->buckets[b] = p->next;
			p->sess->npending--;
			error_to_client(p->sess, p->client_id, MCPD_ERR_UNAVAILABLE, message);
			pending_free(p);
		}
	}
	for (struct session *it = r->sessions, *next; it; it = next) {
		next = it->next;
		maybe_finish(it);
	}
	while (r->server_reqs) {
		struct server_req *q = r->server_reqs;

		r->server_reqs = q->next;
		server_req_free(s, q);
	}
}

void relay_server_removed(struct server *s)
{
	struct session *it, *next;

	relay_server_gone(s, "was removed from the manifest");
	for (it = s->relay->sessions; it; it = next) {
		next = it->next;
		close_sink(it);
	}
}

void relay_client_oversized(struct session *sess, const char *start, size_t len, size_t limit)
{
	cJSON *id;
	char msg[128];

	if (!alive(sess))
		return;
	/* The id is read from the first bytes only: a line this long is never parsed. */
	id = answer_id(sess, start, len < RELAY_ID_SCAN ? len : RELAY_ID_SCAN, NULL);
	snprintf(msg, sizeof(msg), "invalid request: the message is longer than %zu bytes, the limit of one message",
		 limit);
	error_to_client(sess, id, JSONRPC_INVALID_REQUEST, msg);
	cJSON_Delete(id);
}
