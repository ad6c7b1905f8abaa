/* Sessions of MCP clients sharing one supervised server: see relay.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "approvals.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-era.h"
#include "mcp-stdio.h"
#include "relay-era.h"
#include "relay.h"
#include "relay-internal.h"
#include "relay-policy.h"
#include "relay-state.h"
#include "replicas.h"
#include "server.h"
#include "traffic.h"
#include "xmalloc.h"

#define BUCKETS 1024
#define TOKEN_PREFIX "mcpd-pt-"

/*
 * mcpd's own requests (a listen's resources/subscribe and unsubscribe) whose
 * answer it waits for, per server; past it they go without waiting: a server
 * that never answers them cost memory for each listen opened and cancelled.
 */
#define RELAY_MAX_INTERNAL	1024

/*
 * A legacy client's answers to one request's input requests, and the
 * server's requestState, each at most this much: the retry carrying them
 * stays within what a server's standard input may queue (else the server,
 * shared by all, was stopped: 16 answers of 1 MiB made a 16 MiB line).
 */
#define RELAY_MAX_INPUT_BYTES	(1024 * 1024)

/* A message too long to parse is answered with the id found in this many of its first bytes. */
#define RELAY_ID_SCAN		(64 * 1024)

/* What the relay does with a request's answer besides giving it back. */
enum {
	PF_INTERNAL = 1 << 0,	/* mcpd's own (a listen's resources/subscribe): the answer goes nowhere */
	PF_COMPLETE = 1 << 1,	/* a modern client's, on a legacy server: the result gets "resultType" */
	PF_LISTEN = 1 << 2,	/* subscriptions/listen on a modern server: pending until cancelled */
	PF_BRIDGED = 1 << 3,	/* a legacy client's, on a modern server: _meta added, input_required converted */
};

/* A client's request in flight: the server knows it as sid. */
struct pending_req {
	int64_t sid;
	unsigned flags;		/* PF_* */
	int log_rank;		/* the modern request's _meta logLevel (relay_era_log_rank), or -1 */
	char method[40];	/* for messages */
	cJSON *request;		/* PF_BRIDGED tools/call, prompts/get, resources/read: as the client sent it */
	size_t request_bytes;	/* its size, counted in its session's stored_bytes */
	unsigned round;		/* of its multi-round-trip conversion (struct mrtr) */
	cJSON *client_id;	/* as the client wrote it (a cJSON_Raw): for the answer */
	cJSON *client_id_value;	/* as parsed: to match the client's cancellation */
	cJSON *client_token;	/* the client's progressToken, rewritten to TOKEN_PREFIX<sid> */
	struct session *sess;	/* NULL for PF_INTERNAL */
	struct traffic_req tr;	/* a client's request: counted until it ends (traffic.c) */
	char approval[APPROVALS_ID_LEN + 1];	/* a call a human approved: its result is audited; "" */
	struct pending_req *next;
};

/* A modern client's subscriptions/listen that mcpd serves itself, its server being legacy. */
struct listen {
	struct session *sess;
	cJSON *id;		/* as the client wrote it: the subscriptionId of its notifications */
	cJSON *id_value;	/* as parsed: to match the client's cancellation */
	cJSON *filter;		/* the acknowledged notifications */
	struct listen *next;
};

/*
 * A legacy client's request that a modern server answered with input_required:
 * mcpd asks the client each input request ("mcpd-in-N" ids), then retries the
 * request with the answers (inputResponses) and the server's requestState.
 */
struct mrtr {
	struct session *sess;
	cJSON *client_id;	/* as the client wrote it */
	cJSON *request;		/* the client's request, as it sent it */
	size_t request_bytes;
	cJSON *responses;	/* inputResponses gathered so far */
	cJSON *state;		/* requestState, or NULL */
	unsigned round;
	struct traffic_req tr;	/* the client's request, counted once over all its rounds */
	size_t nasks, nanswered;
	size_t input_bytes;	/* of responses, at most RELAY_MAX_INPUT_BYTES (counted in request_bytes too) */
	struct mrtr_ask {
		uint64_t n;	/* its id is "mcpd-in-<n>" */
		char *key;	/* in inputRequests */
	} *asks;
	struct mrtr *next;
};

/* A request of the server's, given to one session to answer. */
struct server_req {
	char *id;		/* the id as JSON text */
	struct session *sess;
	struct server_req *next;
};

struct session {
	struct server *s;
	char *agent;		/* relay_attach's: NULL for the owner */
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
	char log_level[16];	/* a legacy client's logging/setLevel, for a modern server: "" if none */
	unsigned nlog[8];	/* its modern requests in flight per _meta logLevel rank */
	cJSON *uris;		/* a legacy client's resources/subscribe, on a modern server */
	int64_t bridge_sid;	/* ... served by this subscriptions/listen upstream (0: none) */
	size_t nlistens;	/* its listens: in flight, but never waited for */
	size_t stored_bytes;	/* its requests kept for an input_required retry, at most RELAY_MAX_STORED */
	uint64_t unstored;	/* requests not kept for lack of room: logged at the first */
	uint64_t dropped_notes;	/* its notifications dropped while the server's input was full: logged at the first */
	uint64_t idless;	/* its requests without an id dropped (not "notifications/..."): logged at the first */
	size_t npending;
	size_t line_len;	/* of the client's line being handled: a request's bytes in */
	bool answering;		/* the sink is being given a counted answer of the server's (relay_answering) */
	bool cancel_timeout;	/* its cancellations are the gateway's request_timeout (relay_cancel) */
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
	struct listen *listens;		/* emulated for modern clients of a legacy server */
	struct mrtr *mrtrs;		/* legacy clients asked for a modern server's input */
	uint64_t next_ask;		/* the last "mcpd-in-N" */
	bool bridges_lost;		/* the process that served legacy clients' listens is gone */
	size_t ninternal;		/* PF_INTERNAL requests in buckets, at most RELAY_MAX_INTERNAL */
	uint64_t unawaited;		/* sent past it without waiting, since the last summary */
	uint64_t unsent_unsubscribes;	/* listens ended while the server's input was full, since the last summary */
	size_t nserver_reqs;		/* in server_reqs, at most RELAY_MAX_SERVER_REQS */
	uint64_t refused_server_reqs;	/* since the last summary */
	int64_t next_sid;
	struct relay_state *state;	/* relay-state.c */
};

static void end_listen(struct server *s, struct listen **ll, const char *error);
static void open_bridge(struct session *sess);

struct relay *relay_new(void)
{
	return xcalloc(1, sizeof(struct relay));
}

static void session_free(struct session *sess)
{
	free(sess->agent);
	cJSON_Delete(sess->client_info);
	cJSON_Delete(sess->client_capabilities);
	cJSON_Delete(sess->uris);
	relay_state_session_free(sess->state);
	free(sess);
}

static void listen_free(struct listen *l)
{
	cJSON_Delete(l->id);
	cJSON_Delete(l->id_value);
	cJSON_Delete(l->filter);
	free(l);
}

static void mrtr_free(struct mrtr *m)
{
	m->sess->stored_bytes -= m->request_bytes;
	cJSON_Delete(m->client_id);
	cJSON_Delete(m->request);
	cJSON_Delete(m->responses);
	cJSON_Delete(m->state);
	for (size_t i = 0; i < m->nasks; i++)
		free(m->asks[i].key);
	free(m->asks);
	free(m);
}

static void pending_free(struct pending_req *p)
{
	if (p->request)
		p->sess->stored_bytes -= p->request_bytes;
	cJSON_Delete(p->request);
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
	while (r->listens) {
		struct listen *l = r->listens;

		r->listens = l->next;
		listen_free(l);
	}
	while (r->mrtrs) {
		struct mrtr *m = r->mrtrs;

		r->mrtrs = m->next;
		mrtr_free(m);
	}
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
	return sess && !sess->dead && !sess->closing;	/* NULL: mcpd's own request (PF_INTERNAL) has none */
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

/* An answer of the server's to a counted request: its serialised size is its bytes out (what the sink queued). */
static bool answer_counted(struct session *sess, const cJSON *msg)
{
	size_t before;
	bool ok;

	if (!alive(sess))
		return false;
	before = sess->ops->pending(sess->sink);
	sess->answering = true;
	ok = to_client(sess, msg);
	sess->answering = false;
	if (ok && sess->ops->pending(sess->sink) > before)
		traffic_bytes_out(sess->s, sess->ops->pending(sess->sink) - before);
	return ok;
}

static bool error_to_client(struct session *sess, const cJSON *id, int code, const char *message)
{
	cJSON *msg = jsonrpc_error_new(id, code, message, NULL);
	bool ok = to_client(sess, msg);

	cJSON_Delete(msg);
	return ok;
}

bool relay_session_error(struct session *sess, const cJSON *id, int code, const char *message)
{
	return error_to_client(sess, id, code, message);
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

void relay_session_held(struct session *sess, const cJSON *id, double seconds)
{
	if (alive(sess) && sess->ops->held)
		sess->ops->held(sess->sink, id, seconds);
}

const char *relay_session_agent(const struct session *sess)
{
	return aggregate_of(sess) ? aggregate_agent(aggregate_of(sess)) : sess->agent;
}
cJSON **relay_session_uris(struct session *sess) { return &sess->uris; }
char *relay_session_log_level(struct session *sess) { return sess->log_level; }
void relay_session_rebridge(struct session *sess) { open_bridge(sess); }
int64_t relay_new_sid(struct server *s) { return ++s->relay->next_sid; }
static size_t listeners_of(const struct relay *r, const char *uri);
size_t relay_listeners_of(struct server *s, const char *uri) { return listeners_of(s->relay, uri); }

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

/* One of mcpd's own requests is answered or forgotten: the ones sent past the bound are counted once. */
static void internal_done(struct server *s)
{
	struct relay *r = s->relay;

	r->ninternal--;
	if (r->unawaited && r->ninternal < RELAY_MAX_INTERNAL / 2) {
		log_notice(s->conf.name, NULL, "sent %" PRIu64 " requests for MCP clients' subscriptions/listen without "
			   "waiting for their answer while %d waited", r->unawaited, RELAY_MAX_INTERNAL);
		r->unawaited = 0;
	}
}

/* A request leaves its session's counts (answered, cancelled, or its server gone). */
static void pending_unlink(struct pending_req *p)
{
	if (!p->sess)
		return;
	if (p->sid == p->sess->bridge_sid)
		p->sess->bridge_sid = 0;
	if (p->flags & PF_LISTEN)
		p->sess->nlistens--;
	else
		p->sess->npending--;
	if (p->log_rank >= 0)
		p->sess->nlog[p->log_rank]--;
}

static struct pending_req *take_pending(struct relay *r, int64_t sid)
{
	if (!r->buckets)
		return NULL;
	for (struct pending_req **pp = &r->buckets[bucket(sid)]; *pp; pp = &(*pp)->next) {
		if ((*pp)->sid == sid) {
			struct pending_req *p = *pp;

			*pp = p->next;
			pending_unlink(p);
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

/* The relay's table and reaper, made with its first session. */
static void relay_ready(struct server *s)
{
	struct relay *r = s->relay;

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
}

/* Link sess as s's newest session. */
static void link_session(struct server *s, struct session *sess)
{
	struct session **tail = &s->relay->sessions;

	sess->prev = NULL;
	sess->next = NULL;
	while (*tail) {
		sess->prev = *tail;
		tail = &(*tail)->next;
	}
	*tail = sess;
}

struct session *relay_attach(struct server *s, const struct relay_sink *ops, void *sink, const char *agent)
{
	struct session *sess = xcalloc(1, sizeof(*sess));

	sess->s = s;
	sess->agent = agent ? xstrdup(agent) : NULL;
	sess->ops = ops;
	sess->sink = sink;
	relay_ready(s);
	link_session(s, sess);
	if (ops->per_request)
		log_debug(s->conf.name, NULL, "a request's MCP session attached (%zu now)", relay_sessions(s));
	else
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
	if (aggregate_of(sess))
		return aggregate_client_eof(aggregate_of(sess));
	if (!alive(sess))
		return true;
	if (sess->draining)
		return false;	/* once: the drain timer is running already */
	approvals_client_eof(sess);	/* its held calls are answered now: no human decides within a drain */
	if (!alive(sess) || sess->npending == 0)
		return true;
	sess->draining = true;
	ev_timer_init(&sess->drain_w, on_drain_timeout, RELAY_DRAIN_SECONDS, 0.);
	sess->drain_w.data = sess;
	ev_timer_start(sess->s->d->loop, &sess->drain_w);
	return false;
}

void relay_detach(struct session *sess)
{
	if (aggregate_of(sess)) {
		aggregate_detach(aggregate_of(sess));
		return;
	}
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
			traffic_end(s, &p->tr, TRAFFIC_CANCELLED);
			pending_free(p);
		}
	}
	for (struct listen **ll = &r->listens; *ll;) {
		if ((*ll)->sess == sess)
			end_listen(s, ll, NULL);
		else
			ll = &(*ll)->next;
	}
	for (struct mrtr **mm = &r->mrtrs; *mm;) {
		struct mrtr *m = *mm;

		if (m->sess != sess) {
			mm = &m->next;
			continue;
		}
		*mm = m->next;
		traffic_end(s, &m->tr, TRAFFIC_CANCELLED);
		mrtr_free(m);
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
	approvals_session_gone(sess);	/* its held calls are dropped */
	if (sess->dropped_notes)
		log_notice(s->conf.name, NULL, "an MCP client detached; %" PRIu64 " of its notifications were dropped "
			   "while the server's input was full", sess->dropped_notes);
	if (sess->idless)
		log_notice(s->conf.name, NULL, "an MCP client detached; %" PRIu64 " of its requests without an id were "
			   "dropped", sess->idless);
	if (sess->ops->per_request)
		log_debug(s->conf.name, NULL, "a request's MCP session detached (%zu left)", relay_sessions(s));
	else
		log_info(s->conf.name, NULL, "an MCP client detached (%zu left)", relay_sessions(s));
	/* Callers up the stack may still hold it (to_client, the sink): freed by the reaper. */
	sess->prev = NULL;
	sess->next = r->dead;
	r->dead = sess;
	ev_idle_start(r->loop, &r->reap_w);
}

/* ---- client -> server ----------------------------------------------------- */

/*
 * More than RELAY_SERVER_QUEUE bytes wait for the server's standard input:
 * what clients send more is refused (a request) or dropped (a notification),
 * else one client could fill it past its bound, and the server is stopped then.
 */
static bool server_busy(const struct server *s)
{
	return wbuf_pending(&s->in) > RELAY_SERVER_QUEUE;
}

/* The server speaks 2026-07-28: its clients' requests carry _meta, it asks for input with input_required. */
static bool upstream_modern(const struct server *s)
{
	return s->era == MCP_ERA_MODERN || (s->discover_result && !s->init_result);
}

static bool answer_to_client(struct session *sess, const cJSON *id, cJSON *result)
{
	cJSON *msg = jsonrpc_result_new(id, result);
	bool ok = to_client(sess, msg);

	cJSON_Delete(msg);
	return ok;
}

/* req: the client's request, counted as unavailable when refused (NULL: counted by the caller). */
static bool server_available(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = sess->s;
	char reason[320], msg[400];

	/* Ready once the handshake (legacy) or the discovery (modern) answered. */
	if ((s->state == ST_RUNNING || s->state == ST_UNHEALTHY) && (s->init_result || s->discover_result) &&
	    s->stdin_fd >= 0)
		return true;
	if (req)
		traffic_refused(s, req, sess->line_len);
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

	if (!server_available(sess, req, id))
		return;
	remember_client(sess, req);
	if (!s->init_result) {
		/* A modern server: its DiscoverResult says the same, and mcpd bridges the rest. */
		result = mcp_initialize_from_discover(s->discover_result, asked);
	} else {
		result = cJSON_Duplicate(s->init_result, 1);
		/* An older version the client asks for, and mcpd knows, is granted: servers stay compatible. */
		if (asked && mcp_version_legacy(asked) && strcmp(asked, s->protocol_version) < 0)
			cJSON_ReplaceItemInObjectCaseSensitive(result, "protocolVersion", cJSON_CreateString(asked));
	}
	msg = jsonrpc_result_new(id, result);
	if (to_client(sess, msg) && !s->init_result)
		open_bridge(sess);	/* its list_changed notifications */
	cJSON_Delete(msg);
}

/*
 * A legacy client's request that a modern server may answer with
 * input_required is kept, to be sent again with the client's input; within
 * RELAY_MAX_STORED per client (one not kept gets -31002 if it needs input).
 */
static void keep_request(struct session *sess, struct pending_req *p, const cJSON *req)
{
	char *text = cJSON_PrintUnformatted(req);
	size_t n = text ? strlen(text) : 0;

	free(text);
	if (sess->stored_bytes + n > RELAY_MAX_STORED) {
		if (sess->unstored++ == 0)
			log_notice(sess->s->conf.name, NULL, "an MCP client has %zu bytes of requests in flight that mcpd "
				   "keeps to answer input_required; past %d, such a request that needs input fails "
				   "with -31002", sess->stored_bytes, RELAY_MAX_STORED);
		return;
	}
	p->request = cJSON_Duplicate(req, 1);
	p->request_bytes = n;
	sess->stored_bytes += n;
}

/*
 * id is the client's id as written (jsonrpc_raw_id); req still holds it as
 * parsed. carried: a retry's request, counted since its first round (NULL:
 * a new one, counted from here).
 */
static void forward_round(struct session *sess, cJSON *req, const cJSON *id, unsigned round, struct traffic_req *carried)
{
	struct server *s = sess->s;
	struct relay *r = s->relay;
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), "_meta");
	cJSON *token;
	struct pending_req *p;
	char buf[64];

	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	bool modern = mcp_request_version(req) != NULL;
	bool listen = modern && strcmp(method, "subscriptions/listen") == 0;

	if (!server_available(sess, carried ? NULL : req, id)) {
		if (carried)
			traffic_end(s, carried, TRAFFIC_UNAVAILABLE);
		return;
	}
	if ((listen && sess->nlistens >= RELAY_MAX_LISTENS) || sess->npending >= RELAY_MAX_PENDING || server_busy(s)) {
		if (listen && sess->nlistens >= RELAY_MAX_LISTENS)
			snprintf(buf, sizeof(buf), "too many subscriptions/listen streams open (at most %d)", RELAY_MAX_LISTENS);
		else
			snprintf(buf, sizeof(buf), "server \"%.32s\" is busy", s->conf.name);
		if (carried)
			traffic_end(s, carried, TRAFFIC_UNAVAILABLE);
		else
			traffic_refused(s, req, sess->line_len);
		error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, buf);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	if (carried) {
		p->tr = *carried;
		carried->series = NULL;
	} else {
		traffic_begin(s, &p->tr, req, sess->line_len);
	}
	p->log_rank = -1;
	approvals_tag(p->approval, sizeof(p->approval));
	snprintf(p->method, sizeof(p->method), "%s", method);
	if (modern) {
		p->log_rank = relay_era_request_log_rank(req);
		if (!upstream_modern(s)) {
			p->flags |= PF_COMPLETE;
			relay_era_strip_meta(req);
			meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), "_meta");
		} else if (listen) {
			p->flags |= PF_LISTEN;
		}
	} else if (upstream_modern(s)) {
		/* A legacy client: what it said in initialize goes with each request, as the modern era asks. */
		p->flags |= PF_BRIDGED;
		p->round = round;
		if (!sess->bridge_sid && sess->era == MCP_ERA_LEGACY)
			open_bridge(sess);	/* the server restarted since: its subscriptions are gone */
		if (relay_era_input_method(method))
			keep_request(sess, p, req);	/* retried with the client's input */
		mcp_inject_meta(req, s->protocol_version, sess->client_info, sess->client_capabilities);
		meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"), "_meta");
		if (sess->log_level[0]) {
			cJSON_DeleteItemFromObjectCaseSensitive(meta, MCP_META_LOG_LEVEL);
			cJSON_AddStringToObject(meta, MCP_META_LOG_LEVEL, sess->log_level);
			p->log_rank = relay_era_log_rank(sess->log_level);
		}
	}
	token = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");
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
	if (p->flags & PF_LISTEN)
		sess->nlistens++;
	else
		sess->npending++;
	if (p->log_rank >= 0)
		sess->nlog[p->log_rank]++;
	cJSON_ReplaceItemInObjectCaseSensitive(req, "id", cJSON_CreateNumber((double)p->sid));
	if (!server_send(s, req)) {
		p = take_pending(r, p->sid);
		if (p) {
			traffic_end(s, &p->tr, TRAFFIC_UNAVAILABLE);
			error_to_client(sess, p->client_id, MCPD_ERR_UNAVAILABLE, "the server does not read its input");
			pending_free(p);
		}
	}
}

static void forward_request(struct session *sess, cJSON *req, const cJSON *id)
{
	forward_round(sess, req, id, 0, NULL);
}

/* ---- protocol eras: what mcpd answers for the server ------------------------ */

/* A request of mcpd's own to the server, whose answer goes nowhere (a listen's resources/subscribe). */
static void internal_request(struct server *s, const char *method, cJSON *params)
{
	struct relay *r = s->relay;
	struct pending_req *p;
	cJSON *id, *msg;

	if (r->ninternal >= RELAY_MAX_INTERNAL) {
		/* Sent all the same (the listen needs it), but its answer is not waited for. */
		if (r->unawaited++ == 0)
			log_notice(s->conf.name, NULL, "%d of mcpd's own requests for MCP clients' subscriptions/listen "
				   "(resources/subscribe, unsubscribe) wait for the server's answer; more are sent without "
				   "waiting for theirs until it answers half of them", RELAY_MAX_INTERNAL);
		id = cJSON_CreateNumber((double)++r->next_sid);
		msg = jsonrpc_request_new(id, method, params);
		server_send(s, msg);
		cJSON_Delete(msg);
		cJSON_Delete(id);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->sid = ++r->next_sid;
	p->flags = PF_INTERNAL;
	p->log_rank = -1;
	snprintf(p->method, sizeof(p->method), "%s", method);
	p->next = r->buckets[bucket(p->sid)];
	r->buckets[bucket(p->sid)] = p;
	r->ninternal++;
	id = cJSON_CreateNumber((double)p->sid);
	msg = jsonrpc_request_new(id, method, params);
	server_send(s, msg);
	cJSON_Delete(msg);
	cJSON_Delete(id);
}

/* How many emulated listens hold this URI. */
static size_t listeners_of(const struct relay *r, const char *uri)
{
	size_t n = 0;
	const cJSON *u;

	for (const struct listen *l = r->listens; l; l = l->next)
		cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(l->filter, "resourceSubscriptions"))
			if (strcmp(u->valuestring, uri) == 0)
				n++;
	return n;
}

/* The URIs of a listen: subscribed upstream by the first listen holding each, unsubscribed by the last. */
static void listen_resources(struct server *s, const struct listen *l, const char *method, size_t others)
{
	const cJSON *u;

	if (s->stdin_fd < 0)
		return;
	if (server_busy(s) && strcmp(method, "resources/unsubscribe") == 0) {
		/* Updates of those URIs still come then, and reach nobody: cheaper than the server stopped. */
		if (s->relay->unsent_unsubscribes++ == 0)
			log_notice(s->conf.name, NULL, "more than %d bytes wait for the server's input: the "
				   "resources/unsubscribe of ended subscriptions/listen streams are not sent (counted "
				   "until the server reads)", RELAY_SERVER_QUEUE);
		return;
	}
	if (s->relay->unsent_unsubscribes) {
		log_notice(s->conf.name, NULL, "the server reads its input again; %" PRIu64 " subscriptions/listen "
			   "streams ended without their resources/unsubscribe", s->relay->unsent_unsubscribes);
		s->relay->unsent_unsubscribes = 0;
	}
	cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(l->filter, "resourceSubscriptions")) {
		cJSON *params;

		if (listeners_of(s->relay, u->valuestring) != others || relay_state_holds(s, u->valuestring))
			continue;	/* subscribed for others: listens, or legacy clients (relay-state.c) */
		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "uri", u->valuestring);
		internal_request(s, method, params);
	}
}

/*
 * subscriptions/listen of a modern client on a legacy server: mcpd serves the
 * stream with what the server's capabilities allow (its list_changed and
 * resources/updated notifications), acknowledged at once.
 */
static void emulate_listen(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = sess->s;
	struct relay *r = s->relay;
	const cJSON *asked = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"),
								"notifications");
	struct listen *l;
	cJSON *params, *ack;
	char buf[80];

	if (sess->nlistens >= RELAY_MAX_LISTENS) {
		snprintf(buf, sizeof(buf), "too many subscriptions/listen streams open (at most %d)", RELAY_MAX_LISTENS);
		error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, buf);
		return;
	}
	if (server_busy(s)) {
		/* Its resources/subscribe (up to 1 MiB) would take the server's input past its bound. */
		snprintf(buf, sizeof(buf), "server \"%.32s\" is busy", s->conf.name);
		error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, buf);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->sess = sess;
	l->id = cJSON_Duplicate(id, 1);
	l->id_value = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), 1);
	l->filter = relay_era_listen_filter(asked, s->init_result);
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(asked, "resourceSubscriptions")) >
	    cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l->filter, "resourceSubscriptions")) &&
	    cJSON_GetObjectItemCaseSensitive(l->filter, "resourceSubscriptions"))
		log_notice(s->conf.name, NULL, "an MCP client's subscriptions/listen asked for %d resources; mcpd "
			   "subscribes at most %d of at most %d bytes each and acknowledges only those",
			   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(asked, "resourceSubscriptions")),
			   RELAY_ERA_MAX_URIS, RELAY_ERA_MAX_URI);
	listen_resources(s, l, "resources/subscribe", 0);
	l->next = r->listens;
	r->listens = l;
	sess->nlistens++;
	params = cJSON_CreateObject();
	cJSON_AddItemToObject(params, "notifications", cJSON_Duplicate(l->filter, 1));
	ack = jsonrpc_notification_new("notifications/subscriptions/acknowledged", params);
	relay_era_set_subscription_id(ack, id);
	to_client(sess, ack);
	cJSON_Delete(ack);
}

/* An emulated listen ends: cancelled (reply NULL), its client gone, or its server gone (reply sent). */
static void end_listen(struct server *s, struct listen **ll, const char *error)
{
	struct listen *l = *ll;

	*ll = l->next;
	l->sess->nlistens--;
	if (error)
		error_to_client(l->sess, l->id, MCPD_ERR_UNAVAILABLE, error);
	else
		listen_resources(s, l, "resources/unsubscribe", 0);
	listen_free(l);
}

static bool cancel_listen(struct session *sess, const cJSON *request_id)
{
	for (struct listen **ll = &sess->s->relay->listens; *ll; ll = &(*ll)->next) {
		if ((*ll)->sess == sess && cJSON_Compare((*ll)->id_value, request_id, 1)) {
			end_listen(sess->s, ll, NULL);
			return true;
		}
	}
	return false;
}

/* A modern request (with _meta protocolVersion): mcpd answers what a legacy server cannot. */
static void modern_request(struct session *sess, cJSON *req, const cJSON *id, const char *version)
{
	struct server *s = sess->s;
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	cJSON *result;

	if (!mcp_version_modern(version)) {
		cJSON *msg = jsonrpc_error_new(id, MCP_ERR_UNSUPPORTED_VERSION, "Unsupported protocol version",
					       mcp_unsupported_version_data(version));

		to_client(sess, msg);
		cJSON_Delete(msg);
		return;
	}
	if (sess->era == MCP_ERA_UNKNOWN)
		sess->era = MCP_ERA_MODERN;
	if (strcmp(method, "ping") == 0) {
		result = cJSON_CreateObject();
		cJSON_AddStringToObject(result, "resultType", "complete");
		answer_to_client(sess, id, result);
		return;
	}
	if (upstream_modern(s)) {
		forward_request(sess, req, id);
		return;
	}
	if (!server_available(sess, req, id))
		return;
	if (strcmp(method, "server/discover") == 0) {
		cJSON *msg = jsonrpc_result_new(id, mcp_discover_from_initialize(s->init_result));

		relay_era_mark_complete(msg, method);
		to_client(sess, msg);
		cJSON_Delete(msg);
	} else if (strcmp(method, "subscriptions/listen") == 0) {
		emulate_listen(sess, req, id);
	} else {
		forward_request(sess, req, id);
	}
}

/*
 * A legacy client of a modern server gets its list_changed and its
 * resources/subscribe through one subscriptions/listen of its own upstream
 * (its sid is the subscriptionId there), opened again whenever its URIs change.
 */
static void open_bridge(struct session *sess)
{
	struct server *s = sess->s;
	struct relay *r = s->relay;
	struct pending_req *p;
	cJSON *params, *filter, *id, *msg;

	if (!upstream_modern(s) || s->stdin_fd < 0 || !alive(sess))
		return;
	if (sess->bridge_sid) {
		send_cancel(s, sess->bridge_sid, "the MCP client's subscriptions changed");
		p = take_pending(r, sess->bridge_sid);
		if (p)
			pending_free(p);
	}
	p = xcalloc(1, sizeof(*p));
	p->sid = ++r->next_sid;
	p->flags = PF_LISTEN | PF_BRIDGED;
	p->log_rank = -1;
	p->sess = sess;
	snprintf(p->method, sizeof(p->method), "subscriptions/listen");
	p->next = r->buckets[bucket(p->sid)];
	r->buckets[bucket(p->sid)] = p;
	sess->nlistens++;
	sess->bridge_sid = p->sid;
	params = cJSON_CreateObject();
	filter = cJSON_AddObjectToObject(params, "notifications");
	cJSON_AddTrueToObject(filter, "toolsListChanged");
	cJSON_AddTrueToObject(filter, "promptsListChanged");
	cJSON_AddTrueToObject(filter, "resourcesListChanged");
	if (cJSON_GetArraySize(sess->uris) > 0)
		cJSON_AddItemToObject(filter, "resourceSubscriptions", cJSON_Duplicate(sess->uris, 1));
	id = cJSON_CreateNumber((double)p->sid);
	msg = jsonrpc_request_new(id, "subscriptions/listen", params);
	mcp_inject_meta(msg, s->protocol_version, sess->client_info, sess->client_capabilities);
	server_send(s, msg);
	cJSON_Delete(msg);
	cJSON_Delete(id);
}

/* resources/subscribe and unsubscribe of a legacy client on a modern server: its listen changes. */
static void bridge_subscribe(struct session *sess, const cJSON *req, const cJSON *id, bool subscribe)
{
	const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(req, "params"), "uri"));
	const cJSON *u;
	int at = 0;
	char text[120];

	if (!uri || strlen(uri) > RELAY_ERA_MAX_URI) {
		error_to_client(sess, id, JSONRPC_INVALID_PARAMS, "invalid params: uri must be a string of at most "
				"4096 bytes");
		return;
	}
	if (!sess->uris)
		sess->uris = cJSON_CreateArray();
	cJSON_ArrayForEach(u, sess->uris) {
		if (strcmp(u->valuestring, uri) == 0)
			break;
		at++;
	}
	if (subscribe && !u) {
		if (cJSON_GetArraySize(sess->uris) >= RELAY_ERA_MAX_URIS) {
			snprintf(text, sizeof(text), "too many resource subscriptions (at most %d per client)",
				 RELAY_ERA_MAX_URIS);
			error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, text);
			return;
		}
		cJSON_AddItemToArray(sess->uris, cJSON_CreateString(uri));
		open_bridge(sess);
	} else if (!subscribe && u) {
		cJSON_DeleteItemFromArray(sess->uris, at);
		open_bridge(sess);
	}
	answer_to_client(sess, id, cJSON_CreateObject());
}

/*
 * A legacy client's request that a modern server has no method for: answered
 * by mcpd. Returns false for the requests to forward.
 */
static bool legacy_request(struct session *sess, const cJSON *req, const cJSON *id)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));

	if (!upstream_modern(sess->s))
		return false;
	if (strcmp(method, "logging/setLevel") == 0) {
		const char *level = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(req, "params"), "level"));

		if (relay_era_log_rank(level) < 0) {
			error_to_client(sess, id, JSONRPC_INVALID_PARAMS, "invalid params: level is not an MCP log level");
			return true;
		}
		/* Sent with each of its later requests, as the modern era's _meta logLevel. */
		snprintf(sess->log_level, sizeof(sess->log_level), "%s", level);
		answer_to_client(sess, id, cJSON_CreateObject());
		return true;
	}
	if (strcmp(method, "resources/subscribe") == 0 || strcmp(method, "resources/unsubscribe") == 0) {
		bridge_subscribe(sess, req, id, strcmp(method, "resources/subscribe") == 0);
		return true;
	}
	return false;
}

/* ---- multi-round-trip requests for legacy clients ---------------------------- */

#define ASK_PREFIX "mcpd-in-"

static void mrtr_unlink(struct relay *r, struct mrtr *m)
{
	for (struct mrtr **mm = &r->mrtrs; *mm; mm = &(*mm)->next) {
		if (*mm == m) {
			*mm = m->next;
			m->sess->npending--;
			return;
		}
	}
}

/* Every input is in: the request goes again, with the answers and the server's state. */
static void mrtr_retry(struct relay *r, struct mrtr *m)
{
	struct session *sess = m->sess;
	cJSON *req = m->request;
	cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");

	m->request = NULL;
	sess->stored_bytes -= m->request_bytes;
	m->request_bytes = 0;
	mrtr_unlink(r, m);
	if (!cJSON_IsObject(params)) {
		cJSON_DeleteItemFromObjectCaseSensitive(req, "params");
		params = cJSON_AddObjectToObject(req, "params");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(params, "inputResponses");
	cJSON_DeleteItemFromObjectCaseSensitive(params, "requestState");
	cJSON_AddItemToObject(params, "inputResponses", m->responses);
	m->responses = NULL;
	if (m->state) {
		cJSON_AddItemToObject(params, "requestState", m->state);
		m->state = NULL;
	}
	forward_round(sess, req, m->client_id, m->round, &m->tr);
	cJSON_Delete(req);
	mrtr_free(m);
	maybe_finish(sess);
}

static bool asked_already(const struct mrtr *m, const char *key)
{
	for (size_t i = 0; i < m->nasks; i++)
		if (strcmp(m->asks[i].key, key) == 0)
			return true;
	return false;
}

/* The id text of a request the server gave this session, still unanswered, is "mcpd-in-<n>"? */
static bool server_req_uses(const struct relay *r, const struct session *sess, uint64_t n)
{
	char id[48];

	snprintf(id, sizeof(id), "\"" ASK_PREFIX "%" PRIu64 "\"", n);
	for (const struct server_req *q = r->server_reqs; q; q = q->next)
		if (q->sess == sess && strcmp(q->id, id) == 0)
			return true;
	return false;
}

/* A "mcpd-in-N" the client cannot confuse with an id of the server's own requests to it. */
static uint64_t new_ask(struct server *s, const struct session *sess)
{
	struct relay *r = s->relay;

	do
		++r->next_ask;
	while (server_req_uses(r, sess, r->next_ask));
	return r->next_ask;
}

/*
 * A modern server's input_required for a legacy client's request: each input
 * request goes to the client as a request of its era; the answers come back
 * through mrtr_answer. What cannot be converted gets -31002.
 */
static void mrtr_start(struct server *s, struct pending_req *p, const cJSON *result)
{
	struct relay *r = s->relay;
	struct session *sess = p->sess;
	const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(result, "inputRequests");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(result, "requestState");
	size_t n = cJSON_IsObject(inputs) ? (size_t)cJSON_GetArraySize(inputs) : 0;
	char methods[160], text[512];
	const cJSON *list = cJSON_IsObject(inputs) ? inputs : NULL;
	const cJSON *in, *bad = NULL;
	struct mrtr *m;

	/* Each input request is a request the client can be sent: an object with a method, params an object if any. */
	cJSON_ArrayForEach(in, list) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "params");

		if (!cJSON_IsObject(in) || !cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "method")) ||
		    (params && !cJSON_IsObject(params))) {
			bad = in;
			break;
		}
	}
	if (bad) {
		snprintf(text, sizeof(text), "server \"%.64s\" answered %s with input_required whose input request "
			 "\"%.64s\" is not a request (an object with a method); mcpd cannot ask the client for it",
			 s->conf.name, p->method, bad->string);
		traffic_end(s, &p->tr, TRAFFIC_ERROR);
		error_to_client(sess, p->client_id, JSONRPC_INTERNAL_ERROR, text);
		return;
	}
	if (!p->request || p->round + 1 >= RELAY_MAX_ROUNDS || n > RELAY_MAX_INPUTS ||
	    (cJSON_IsString(state) && strlen(state->valuestring) > RELAY_MAX_INPUT_BYTES)) {
		relay_era_input_methods(result, methods, sizeof(methods));
		snprintf(text, sizeof(text), "server \"%.64s\" asked for %s to complete %s %s; mcpd does not bridge "
			 "that to a client of an earlier protocol version", s->conf.name, methods, p->method,
			 !p->request ? "(mcpd kept no copy of that request to send again)" :
			 n > RELAY_MAX_INPUTS ? "(more inputs at once than mcpd relays)" :
			 p->round + 1 >= RELAY_MAX_ROUNDS ? "(more rounds of input than mcpd relays)" :
			 "(a requestState longer than the 1 MiB mcpd keeps)");
		traffic_end(s, &p->tr, TRAFFIC_ERROR);
		error_to_client(sess, p->client_id, MCPD_ERR_NOT_BRIDGED, text);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->sess = sess;
	m->client_id = cJSON_Duplicate(p->client_id, 1);
	m->request = p->request;
	m->request_bytes = p->request_bytes;
	p->request = NULL;
	m->responses = cJSON_CreateObject();
	m->state = cJSON_IsString(state) ? cJSON_Duplicate(state, 1) : NULL;
	m->round = p->round + 1;
	m->tr = p->tr;
	p->tr.series = NULL;
	m->asks = xcalloc(n ? n : 1, sizeof(*m->asks));
	cJSON_ArrayForEach(in, inputs) {
		struct mrtr_ask *a;
		char id[48];
		cJSON *idj, *msg;

		if (asked_already(m, in->string))
			continue;	/* a key twice (JSON allows it): one answer, else the request waited for ever */
		a = &m->asks[m->nasks++];
		a->n = new_ask(s, sess);
		a->key = xstrdup(in->string);
		snprintf(id, sizeof(id), ASK_PREFIX "%" PRIu64, a->n);
		idj = cJSON_CreateString(id);
		msg = jsonrpc_request_new(idj, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "method")),
					  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(in, "params"), 1));
		to_client(sess, msg);
		cJSON_Delete(msg);
		cJSON_Delete(idj);
	}
	/* Linked once sent: a client dropped meanwhile (to_client) found nothing of it to free. */
	if (!alive(sess)) {
		traffic_end(s, &m->tr, TRAFFIC_CANCELLED);
		mrtr_free(m);
		return;
	}
	m->next = r->mrtrs;
	r->mrtrs = m;
	sess->npending++;
	/* requestState alone: the server wants the request again at once. */
	if (m->nasks == 0)
		mrtr_retry(r, m);
}

/*
 * An answer to keep for the retry, within RELAY_MAX_INPUT_BYTES for the
 * request and RELAY_MAX_STORED for the client; else the request fails
 * with -31002 (false: m is gone then).
 */
static bool keep_input(struct session *sess, struct mrtr *m, const cJSON *result)
{
	struct relay *r = sess->s->relay;
	char *text = cJSON_PrintUnformatted(result);
	size_t n = text ? strlen(text) : 0;
	char msg[300];

	free(text);
	if (m->input_bytes + n <= RELAY_MAX_INPUT_BYTES && sess->stored_bytes + n <= RELAY_MAX_STORED) {
		m->input_bytes += n;
		m->request_bytes += n;
		sess->stored_bytes += n;
		return true;
	}
	snprintf(msg, sizeof(msg), "the answers to server \"%.64s\"'s input requests are longer than mcpd keeps to send "
		 "the request again (%d bytes for one request, %d for all of a client's)", sess->s->conf.name,
		 RELAY_MAX_INPUT_BYTES, RELAY_MAX_STORED);
	mrtr_unlink(r, m);
	traffic_end(sess->s, &m->tr, TRAFFIC_ERROR);
	error_to_client(sess, m->client_id, MCPD_ERR_NOT_BRIDGED, msg);
	mrtr_free(m);
	maybe_finish(sess);
	return false;
}

/* The client answers one of mcpd's "mcpd-in-N" requests (or an id nobody asked: ignored). */
static void mrtr_answer(struct session *sess, const cJSON *msg)
{
	struct relay *r = sess->s->relay;
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "id"));
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	char *end;
	uint64_t n;

	if (!id || strncmp(id, ASK_PREFIX, strlen(ASK_PREFIX)) != 0)
		return;
	n = strtoull(id + strlen(ASK_PREFIX), &end, 10);
	if (*end)
		return;
	for (struct mrtr *m = r->mrtrs; m; m = m->next) {
		for (size_t i = 0; m->sess == sess && i < m->nasks; i++) {
			if (m->asks[i].n != n)
				continue;
			if (cJSON_GetObjectItemCaseSensitive(m->responses, m->asks[i].key))
				return;	/* answered twice (keys "a" and "A" differ: not cJSON_HasObjectItem) */
			if (error) {
				/* The client refused: so does its request, with the client's own error. */
				const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

				mrtr_unlink(r, m);
				traffic_end(sess->s, &m->tr, TRAFFIC_ERROR);
				error_to_client(sess, m->client_id, jsonrpc_error_code(error), text ? text : "refused");
				mrtr_free(m);
				maybe_finish(sess);
				return;
			}
			if (!keep_input(sess, m, cJSON_GetObjectItemCaseSensitive(msg, "result")))
				return;
			cJSON_AddItemToObject(m->responses, m->asks[i].key,
					      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "result"), 1));
			if (++m->nanswered == m->nasks)
				mrtr_retry(r, m);
			return;
		}
	}
	/* answered already, or its request was cancelled */
}

/* The client cancels a request mcpd is gathering input for. */
static bool mrtr_cancel(struct session *sess, const cJSON *request_id)
{
	struct relay *r = sess->s->relay;

	for (struct mrtr *m = r->mrtrs; m; m = m->next) {
		if (m->sess == sess && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(m->request, "id"), request_id, 1)) {
			traffic_end(sess->s, &m->tr, sess->cancel_timeout ? TRAFFIC_TIMEOUT : TRAFFIC_CANCELLED);
			mrtr_unlink(r, m);
			mrtr_free(m);
			return true;
		}
	}
	return false;
}

static void forward_cancel(struct session *sess, cJSON *note)
{
	struct relay *r = sess->s->relay;
	cJSON *params = cJSON_GetObjectItemCaseSensitive(note, "params");
	struct pending_req *p;

	if (cancel_listen(sess, cJSON_GetObjectItemCaseSensitive(params, "requestId")) ||
	    mrtr_cancel(sess, cJSON_GetObjectItemCaseSensitive(params, "requestId")) ||
	    approvals_cancel(sess, cJSON_GetObjectItemCaseSensitive(params, "requestId")))
		return;
	p = find_by_client_id(r, sess, cJSON_GetObjectItemCaseSensitive(params, "requestId"));
	if (!p)
		return;	/* answered already, or never sent */
	cJSON_ReplaceItemInObjectCaseSensitive(params, "requestId", cJSON_CreateNumber((double)p->sid));
	server_send(sess->s, note);
	/* A cancelled request gets no response: forget it now. */
	p = take_pending(r, p->sid);
	traffic_end(sess->s, &p->tr, sess->cancel_timeout ? TRAFFIC_TIMEOUT : TRAFFIC_CANCELLED);
	pending_free(p);
}

/*
 * The client answers a request the server sent it. Returns false when it
 * gave none with that id (the answer may be to one of mcpd's "mcpd-in-N").
 */
static bool forward_response(struct session *sess, const cJSON *msg)
{
	struct relay *r = sess->s->relay;
	char *id = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(msg, "id"));
	bool found = false;

	for (struct server_req **qq = &r->server_reqs; id && *qq; qq = &(*qq)->next) {
		struct server_req *q = *qq;

		if (q->sess == sess && strcmp(q->id, id) == 0) {
			*qq = q->next;
			server_send(sess->s, msg);
			server_req_free(sess->s, q);
			found = true;
			break;
		}
	}
	free(id);
	return found;
}

/* The id to answer with: as written, for a sink that takes raw ids; else as parsed. */
static cJSON *answer_id(const struct session *sess, const char *line, size_t len, const cJSON *parsed)
{
	return jsonrpc_answer_id(line, len, parsed, sess->ops->raw_ids);
}

void relay_release(struct session *sess, cJSON *req, const cJSON *id)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));

	if (!alive(sess))
		return;
	if (mcp_request_version(req)) {
		modern_request(sess, req, id, mcp_request_version(req));
	} else if (relay_state_request(sess, req, id)) {
		/* subscriptions and log levels: answered per client by relay-state.c */
	} else if (strcmp(method, "initialize") == 0) {
		answer_initialize(sess, req, id);
	} else if (strcmp(method, "ping") == 0) {
		cJSON *reply = jsonrpc_result_new(id, cJSON_CreateObject());

		to_client(sess, reply);
		cJSON_Delete(reply);
	} else if (!legacy_request(sess, req, id)) {
		forward_request(sess, req, id);
	}
}

void relay_client_line(struct session *sess, const char *line, size_t len)
{
	if (aggregate_of(sess)) {
		aggregate_client_line(aggregate_of(sess), line, len);
		return;
	}
	int code = 0;
	cJSON *msg, *id;
	const char *method;

	if (!alive(sess))
		return;
	msg = jsonrpc_parse_client(line, len, &code);
	if (!msg) {
		/* Not JSON: its id may still be readable, and the client then knows which request failed. */
		id = answer_id(sess, line, len, NULL);
		error_to_client(sess, id, code ? code : JSONRPC_PARSE_ERROR, jsonrpc_parse_error_text(code));
		cJSON_Delete(id);
		return;
	}
	method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	sess->line_len = len;
	switch (jsonrpc_classify(msg)) {
	case JSONRPC_REQUEST:
		/* Answers carry the id exactly as the client wrote it (cJSON would round big numbers). */
		id = answer_id(sess, line, len, cJSON_GetObjectItemCaseSensitive(msg, "id"));
		if (server_busy(sess->s) && strcmp(method, "ping") != 0) {
			char text[80];

			traffic_refused(sess->s, msg, len);
			/* Also those mcpd answers itself: subscriptions, listens and levels write to the server. */
			snprintf(text, sizeof(text), "server \"%.32s\" is busy", sess->s->conf.name);
			error_to_client(sess, id, MCPD_ERR_UNAVAILABLE, text);
		} else if (relay_policy_refuses(sess, msg, id)) {
			/* the session's agent may not: answered with an error by relay-policy.c */
		} else if (approvals_hold(sess, msg, id)) {
			/* a call that waits for a human: approvals.c answers or releases it */
		} else {
			relay_release(sess, msg, id);
		}
		cJSON_Delete(id);
		break;
	case JSONRPC_NOTIFICATION:
		/* The server was initialized once, by mcpd. */
		if (strcmp(method, "notifications/initialized") == 0)
			break;
		/* A modern client's notification carries _meta too: a legacy server gets it without. */
		if (mcp_request_version(msg) && !upstream_modern(sess->s))
			relay_era_strip_meta(msg);
		if (strcmp(method, "notifications/cancelled") == 0) {
			forward_cancel(sess, msg);	/* of a request in flight: as many as were let through */
		} else if (strncmp(method, "notifications/", 14) != 0) {
			/* A request without an id: never checked by agents: or approval, yet a naive server may run it. */
			if (sess->idless++ == 0)
				log_notice(sess->s->conf.name, NULL, "an MCP client's %.64s without an id was dropped: MCP "
					   "clients send only notifications/... so (more are counted until it detaches)",
					   method);
		} else if (server_busy(sess->s)) {
			if (sess->dropped_notes++ == 0)
				log_notice(sess->s->conf.name, NULL, "more than %d bytes wait for the server's input: an "
					   "MCP client's notifications are dropped (%.64s; counted until it detaches)",
					   RELAY_SERVER_QUEUE, method);
		} else if (sess->s->stdin_fd >= 0) {
			server_send(sess->s, msg);
		}
		break;
	case JSONRPC_RESPONSE:
		/* The server's own requests first: their ids may look like mcpd's "mcpd-in-N" (new_ask skips those). */
		if (!forward_response(sess, msg))
			mrtr_answer(sess, msg);
		break;
	case JSONRPC_INVALID:
		error_to_client(sess, cJSON_GetObjectItemCaseSensitive(msg, "id"), JSONRPC_INVALID_REQUEST,
				"invalid request: not JSON-RPC 2.0");
		break;
	}
	cJSON_Delete(msg);
}

/* ---- server -> clients ---------------------------------------------------- */

/* A result crosses eras: resultType and caching hints for a modern client of a legacy server. */
static void era_response(const struct pending_req *p, cJSON *msg)
{
	cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");

	if (p->flags & PF_COMPLETE)
		relay_era_mark_complete(msg, p->method);
	if ((p->flags & PF_LISTEN) && result)
		relay_era_set_subscription_id(msg, p->client_id);
}

/*
 * After a restart, the legacy clients of a modern server get their listen
 * back with the first answer of the new process once it is ready (mcpd's own
 * tools/list or liveness probe, or a client's request): no hook of its own.
 */
static void reopen_bridges(struct server *s)
{
	struct relay *r = s->relay;

	if (!r->bridges_lost || !upstream_modern(s) || s->stdin_fd < 0 ||
	    (s->state != ST_RUNNING && s->state != ST_UNHEALTHY))
		return;
	r->bridges_lost = false;
	for (struct session *it = r->sessions; it; it = it->next)
		if (alive(it) && it->era == MCP_ERA_LEGACY && !it->bridge_sid)
			open_bridge(it);
}

bool relay_server_response(struct server *s, cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	struct pending_req *p;
	struct session *sess;
	int64_t sid;
	bool counted;

	reopen_bridges(s);
	if (!cJSON_IsNumber(id))
		return false;
	/* 1e300 is no id mcpd gave, and a cast to int64_t of it would be undefined. */
	if (jsonrpc_id_to_int64(id, &sid) < 0)
		return true;
	p = take_pending(s->relay, sid);
	if (!p)
		return true;	/* cancelled, or its client left: nobody to tell */
	if (p->flags & PF_INTERNAL) {
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");

		internal_done(s);
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		if (error)
			log_notice(s->conf.name, NULL, "the server refused mcpd's %s for an MCP client's "
				   "subscriptions/listen (%.120s); the client gets no updates of that resource",
				   p->method, text ? text : "no message");
		pending_free(p);
		return true;
	}
	sess = p->sess;
	if ((p->flags & (PF_LISTEN | PF_BRIDGED)) == (PF_LISTEN | PF_BRIDGED)) {
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		if (error)
			log_notice(s->conf.name, NULL, "the server refused the subscriptions/listen mcpd opened for a "
				   "legacy MCP client (%.120s); that client gets no list_changed nor resource updates",
				   text ? text : "no message");
		else
			s->relay->bridges_lost = true;	/* ended by the server (stopping): opened again when ready */
		pending_free(p);
		return true;
	}
	if ((p->flags & PF_BRIDGED) && relay_era_input_required(cJSON_GetObjectItemCaseSensitive(msg, "result"))) {
		mrtr_start(s, p, cJSON_GetObjectItemCaseSensitive(msg, "result"));
		pending_free(p);
		maybe_finish(sess);
		return true;
	}
	/* The server's answer as it wrote it first; then it becomes the client's, in place (no copy of it). */
	relay_state_answered(sess, p->client_id_value, msg);
	counted = p->tr.series != NULL;
	traffic_answered(s, &p->tr, msg);
	if (p->approval[0])
		approvals_answered(s->conf.name, p->approval, msg, NULL);
	relay_policy_filter(sess, p->method, msg);	/* lists: only what the session's agent may use */
	era_response(p, msg);
	cJSON_ReplaceItemInObjectCaseSensitive(msg, "id", p->client_id);
	p->client_id = NULL;
	pending_free(p);
	/* A client dropped for not reading is closing: it is not finished twice. */
	if (counted ? answer_counted(sess, msg) : to_client(sess, msg))
		maybe_finish(sess);
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

/* The listen of a modern server's that mcpd relayed as sid (its subscriptionId there). */
static struct pending_req *find_listen(struct relay *r, const cJSON *id)
{
	int64_t sid;

	if (!r->buckets || !cJSON_IsNumber(id) || jsonrpc_id_to_int64(id, &sid) < 0)
		return NULL;
	for (struct pending_req *p = r->buckets[bucket(sid)]; p; p = p->next)
		if (p->sid == sid && (p->flags & PF_LISTEN))
			return p;
	return NULL;
}

/*
 * A modern server's notification on a listen stream goes to the client that
 * opened it, with the client's own id; a stream nobody holds (cancelled) ends here.
 */
static bool route_subscription(struct server *s, const cJSON *msg)
{
	const cJSON *sub = relay_era_subscription_id(msg);
	struct pending_req *p;
	cJSON *copy;

	if (!sub)
		return false;
	p = find_listen(s->relay, sub);
	if (!p)
		return true;
	copy = cJSON_Duplicate(msg, 1);
	if (p->flags & PF_BRIDGED) {
		/* A legacy client's: what it knows as unsolicited notifications, untagged; no acknowledgement. */
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method")),
			   "notifications/subscriptions/acknowledged") != 0) {
			relay_era_remove_subscription_id(copy);
			to_client(p->sess, copy);
		}
		cJSON_Delete(copy);
		return true;
	}
	relay_era_set_subscription_id(copy, p->client_id);
	to_client(p->sess, copy);
	cJSON_Delete(copy);
	return true;
}

/* A modern server ends a listen stream with notifications/cancelled (stdio): its client is told, by its id. */
static bool route_listen_end(struct server *s, const cJSON *msg)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	struct pending_req *p = find_listen(s->relay, cJSON_GetObjectItemCaseSensitive(params, "requestId"));
	cJSON *copy;

	if (!p)
		return false;
	p = take_pending(s->relay, p->sid);
	if (p->flags & PF_BRIDGED) {
		s->relay->bridges_lost = true;	/* a legacy client's: opened again with the server's next answer */
		pending_free(p);
		return true;
	}
	copy = cJSON_Duplicate(msg, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "params"), "requestId",
					       cJSON_Duplicate(p->client_id, 1));
	to_client(p->sess, copy);
	cJSON_Delete(copy);
	traffic_end(s, &p->tr, TRAFFIC_OK);	/* a stream the server ended */
	pending_free(p);
	return true;
}

/* A notification no request of a modern client's asked for: the 2026-07-28 era sends none unasked. */
static bool unsolicited(const char *method)
{
	static const char *const kinds[] = {
		"notifications/tools/list_changed", "notifications/prompts/list_changed",
		"notifications/resources/list_changed", "notifications/resources/updated",
		"notifications/message", "notifications/cancelled",
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(method, kinds[i]) == 0)
			return true;
	return false;
}

/*
 * To a modern client: log messages while one of its requests in flight asked
 * for their level, changes on the streams it listens to (mcpd's emulated
 * listens, tagged with their ids), nothing else unasked.
 */
/* A log message goes to a session while one of its requests in flight asked for its level. */
static void log_to(struct session *sess, const cJSON *msg)
{
	int rank = relay_era_log_rank(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(msg, "params"), "level")));

	for (int r = 0; r <= rank; r++) {
		if (sess->nlog[r]) {
			to_client(sess, msg);
			return;
		}
	}
}

/*
 * A modern server's resources/updated outside any listen (the 2026 era sends
 * none): a legacy client gets it only for a URI it subscribed to, as it would
 * through its listen.
 */
static void bridged_update(struct session *sess, const cJSON *msg)
{
	const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(msg, "params"), "uri"));
	const cJSON *u;

	if (!uri)
		return;
	cJSON_ArrayForEach(u, sess->uris) {
		if (strcmp(u->valuestring, uri) == 0) {
			to_client(sess, msg);
			return;
		}
	}
}

static void modern_notification(struct session *sess, const cJSON *msg, const char *method)
{
	if (strcmp(method, "notifications/message") == 0) {
		log_to(sess, msg);
		return;
	}
	for (const struct listen *l = sess->s->relay->listens; l; l = l->next) {
		cJSON *copy;

		if (l->sess != sess || !relay_era_listen_wants(l->filter, msg))
			continue;
		copy = cJSON_Duplicate(msg, 1);
		relay_era_set_subscription_id(copy, l->id);
		if (!to_client(sess, copy)) {
			cJSON_Delete(copy);
			return;	/* dropped: its listens are gone */
		}
		cJSON_Delete(copy);
	}
	if (!unsolicited(method))
		to_client(sess, msg);
}

void relay_server_notification(struct server *s, const cJSON *msg)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	struct session *it, *next;

	if (strcmp(method, "notifications/progress") == 0 && route_progress(s, msg))
		return;
	if (route_subscription(s, msg))
		return;
	if (strcmp(method, "notifications/cancelled") == 0 && route_listen_end(s, msg))
		return;
	/* Every session, but log messages and resource updates only where relay-state.c says. */
	for (it = s->relay->sessions; it; it = next) {
		next = it->next;
		if (it->era == MCP_ERA_MODERN)
			modern_notification(it, msg, method);
		else if (upstream_modern(s) && strcmp(method, "notifications/message") == 0)
			log_to(it, msg);	/* asked for with the _meta logLevel of its requests only */
		else if (upstream_modern(s) && strcmp(method, "notifications/resources/updated") == 0)
			bridged_update(it, msg);
		else if (relay_state_wants(it, msg))
			to_client(it, msg);
	}
}

bool relay_session_takes_requests(const struct session *sess)
{
	if (aggregate_of(sess))
		return aggregate_takes_requests(aggregate_of(sess));
	return alive(sess) && sess->era != MCP_ERA_MODERN;
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

/*
 * replicas: N: the sessions of a replica whose process went away move to a
 * running replica of its entry (none running: they stay and wait, as with
 * one server). What they had in flight was answered with an error already;
 * what relay-state.c keeps per session (subscriptions, log level) is set up
 * again on the new replica, and 2025-era clients are told as after a restart.
 */
/* The running replica s's sessions move to; NULL when none runs (or mcpd is shutting down). */
static struct server *move_target(const struct server *s)
{
	struct server *to;
	char group[80];

	if (s->conf.replica == 0 || s->d->shutting_down)
		return NULL;
	to = replicas_pick(s->d, replica_entry_name(s, group, sizeof(group)), s);
	if (!to || to == s || to->state != ST_RUNNING || !to->wanted || to->stdin_fd < 0)
		return NULL;
	return to;
}

static void move_sessions(struct server *s, const char *why)
{
	struct relay *r = s->relay;
	struct server *to;
	size_t n = 0;

	if (!r->sessions || !(to = move_target(s)))
		return;	/* none running (or all being stopped): the sessions wait here, as with one server */
	relay_ready(to);
	while (r->sessions) {
		struct session *sess = r->sessions;

		/* Its asks of the client for input (input_required) were for the old process: they fail. */
		for (struct mrtr **mm = &r->mrtrs; *mm;) {
			struct mrtr *m = *mm;

			if (m->sess != sess) {
				mm = &m->next;
				continue;
			}
			*mm = m->next;
			traffic_end(s, &m->tr, TRAFFIC_UNAVAILABLE);
			error_to_client(sess, m->client_id, MCPD_ERR_UNAVAILABLE, "the server replica answering this "
					"request went away");
			mrtr_free(m);
		}
		if (sess->dead)
			continue;	/* the error closed a lagging client: detached, unlinked already */
		r->sessions = sess->next;
		if (r->sessions)
			r->sessions->prev = NULL;
		relay_state_move_out(sess);
		sess->s = to;
		sess->bridge_sid = 0;
		link_session(to, sess);
		relay_state_move_in(sess);
		if (sess->era == MCP_ERA_LEGACY && upstream_modern(to))
			open_bridge(sess);
		n++;
	}
	if (n > 0) {
		log_notice(s->conf.name, NULL, "%zu client session%s moved to %s (%s %s)", n, n == 1 ? "" : "s",
			   to->conf.name, s->conf.name, why);
		approvals_follow(to, "its client session moved");
	}
}

void relay_server_gone(struct server *s, const char *why)
{
	struct relay *r = s->relay;
	const struct server *to = move_target(s);
	char message[512];

	/* What happened, and what the client does next. */
	if (to)
		snprintf(message, sizeof(message), "server \"%s\" %s; this request was not answered: send it again, "
			 "the session goes on on %s", s->conf.name, why, to->conf.name);
	else if (s->d->shutting_down)
		snprintf(message, sizeof(message), "server \"%s\" %s; this request was not answered", s->conf.name, why);
	else
		snprintf(message, sizeof(message), "server \"%s\" %s; this request was not answered: send it again "
			 "once the server runs", s->conf.name, why);
	for (size_t b = 0; r->buckets && b < BUCKETS; b++) {
		while (r->buckets[b]) {
			struct pending_req *p = r->buckets[b];

			r->buckets[b] = p->next;
			if ((p->flags & (PF_LISTEN | PF_BRIDGED)) == (PF_LISTEN | PF_BRIDGED))
				r->bridges_lost = true;
			if (p->flags & PF_INTERNAL)
				internal_done(s);
			pending_unlink(p);
			traffic_end(s, &p->tr, TRAFFIC_UNAVAILABLE);
			if (p->sess && p->client_id)
				error_to_client(p->sess, p->client_id, MCPD_ERR_UNAVAILABLE, message);
			if (p->approval[0])
				approvals_answered(s->conf.name, p->approval, NULL, message);
			pending_free(p);
		}
	}
	/* mcpd's listens end with the process that served them: their clients listen again. */
	while (r->listens)
		end_listen(s, &r->listens, message);
	for (struct session *it = r->sessions, *next; it; it = next) {
		next = it->next;
		maybe_finish(it);
	}
	while (r->server_reqs) {
		struct server_req *q = r->server_reqs;

		r->server_reqs = q->next;
		server_req_free(s, q);
	}
	move_sessions(s, why);
}

void relay_move_sessions(struct server *s, const char *why)
{
	move_sessions(s, why);
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

void relay_cancel(struct session *sess, const cJSON *id, const char *why, bool timed_out)
{
	if (aggregate_of(sess)) {
		aggregate_cancel(aggregate_of(sess), id, why, timed_out);
		return;
	}
	char *text = jsonrpc_cancelled_line(id, why);

	if (!text)
		return;
	sess->cancel_timeout = timed_out;
	relay_client_line(sess, text, strlen(text));
	sess->cancel_timeout = false;
	free(text);
}

bool relay_answering(const struct session *sess)
{
	if (aggregate_of(sess))
		return false;	/* its answers are counted by its backends */
	return sess->answering;
}

void relay_count_out(struct session *sess, size_t n)
{
	if (aggregate_of(sess))
		return;
	if (!sess->dead)
		traffic_bytes_out(sess->s, n);
}

void relay_client_oversized(struct session *sess, const char *start, size_t len, size_t limit)
{
	if (aggregate_of(sess)) {
		aggregate_client_oversized(aggregate_of(sess), start, len, limit);
		return;
	}
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
