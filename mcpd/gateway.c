/*
 * The HTTP gateway: POST /mcp/NAME is a Streamable HTTP MCP endpoint for a
 * supervised stdio server, multiplexed like mcpctl connect (relay.c). Each
 * MCP session of the gateway is a relay session; a POSTed request suspends
 * its connection until the relay delivers the answer with the same id, or
 * its deadline passes, or its session closes.
 *
 * Everything that decides whether a request may go on (Origin, bearer token
 * compared in constant time, failed authentications per source address, the
 * per-token rate limit, the server, the method, the body's size) is checked
 * on the headers, before a byte of the body is read. Sessions belong to the
 * token that opened them and name their server: they never hold a server
 * pointer, so a server that goes cannot be reached through them. Closed
 * sessions are freed later, in one place (reap), when nothing points at them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "agents.h"
#include "aggregate.h"
#include "daemon.h"
#include "gateway.h"
#include "gateway-input.h"
#include "jsonrpc.h"
#include "jwks-source.h"
#include "jwt.h"
#include "log.h"
#include "mcp-era.h"
#include "metrics.h"
#include "relay.h"
#include "relay-policy.h"
#include "replicas.h"
#include "server.h"
#include "tokens.h"
#include "xmalloc.h"

#define SWEEP_SECONDS		1.	/* idle sessions and clients gone while they wait */
#define GATEWAY_LOG_SUBJECT	160	/* bytes of a tool, prompt or URI in the access log */
#define STREAM_TIMEOUT_SECONDS	600	/* a GET stream whose client reads nothing for this long is closed */

struct token {
	char *name;
	char *secret;
	double window_start;
	unsigned count;
	unsigned nsessions;
	unsigned long limited;		/* 429s since the last summary */
};

/* Failed authentications of one source address. */
struct addr_stat {
	char addr[INET6_ADDRSTRLEN];
	double window_start, last_seen;
	unsigned failures;		/* in the current window */
	unsigned long failed, refused;	/* since the last summary */
};

/* A message waiting for an event stream, already framed as an SSE event. */
struct sse_item {
	char *text;
	size_t len, off;
	struct sse_item *next;
};

/* The events waiting for one stream: a session's GET stream, or a POST's response stream. */
struct sse_queue {
	struct MHD_Connection *conn;	/* the stream's, NULL while none is open */
	bool suspended;			/* nothing to send: waits for sseq_wake */
	struct sse_item *head, **tail;
	size_t queued;
};

struct gw_request;

struct gw_session {
	char id[33];			/* "" for a modern request's session */
	char *server;			/* its server's name: looked up, never held */
	struct token *token;		/* that opened it; NULL without a tokens_file */
	double last_used;
	struct session *relay;		/* NULL once closed */
	struct gw_request *waiters;	/* POSTed requests waiting for their answer, newest first */
	/* One modern (2026-07-28) request's: no id, found by nobody, closed when that request is done. */
	bool modern;
	char version[32];		/* the version its initialize negotiated (legacy); "" before */
	/* The GET stream: server notifications and requests for this client. */
	struct sse_queue get;
	unsigned refs;			/* requests and the stream that point here */
	bool closed;			/* freed by reap once refs is 0 */
	struct gateway *g;
	struct gw_session *next;
};

struct gateway {
	struct daemon *d;
	struct token *tokens;
	size_t ntokens;
	/* gateway.jwt: its keys, and the agents its tokens named (kept while the gateway lives: sessions point at them). */
	struct jwks_source *jwks;
	struct token **agents;
	size_t nagents;
	double jwt_log_window;		/* refused JWTs: GATEWAY_JWT_LOG_BURST logged per summary interval */
	unsigned jwt_logged;
	unsigned long jwt_unlogged;
	struct gw_session *sessions;
	size_t nsessions;		/* open ones */
	size_t buffered;		/* bytes of request bodies held */
	size_t queued;			/* bytes waiting for event streams */
	unsigned long dropped;		/* messages for streams dropped since the last summary */
	size_t nwaiting;
	size_t nstreams;		/* GET and listen streams open: at most GATEWAY_MAX_STREAMS */
	unsigned long streams_refused;	/* 503s for the stream budget since the last summary */
	bool stopping;			/* MHD is about to stop: nothing may suspend */
	struct addr_stat addrs[GATEWAY_ADDRESSES];
	size_t naddrs;
	unsigned long other_failed;	/* of addresses pushed out of addrs */
	unsigned long busy;		/* 503s for the body budget since the last summary */
	ev_timer kick_w;		/* MHD_run after a resume, outside MHD's callbacks */
	ev_timer sweep_w;
	ev_timer summary_w;
	ev_check reap_w;
	void (*kick)(void *);
	void *kick_arg;
};

/* One request, from its first access-handler call to MHD's "completed". */
struct gw_request {
	struct gateway *g;
	struct MHD_Connection *conn;
	char server[128];		/* from the URL, printable */
	struct token *token;
	double started;
	bool answered;			/* a response was queued */
	char *body;
	size_t len;
	struct gw_session *session;	/* holds a reference */
	cJSON *id;			/* the request's id as written (errors carry it), NULL before the body */
	bool sse;			/* its client accepts text/event-stream */
	bool initialize;		/* the answer tells the session's version */
	bool relayed;			/* its answer is the server's: its bytes are counted (traffic.c) */
	bool server_answered;		/* a batch's: one of its answers so far is the server's */
	bool listen;			/* subscriptions/listen: streams until its client leaves */
	bool stream_counted;		/* a listen counted in nstreams until done */
	cJSON *progress_token;		/* the progress that belongs to it, for its response stream */
	/* For the access log: its JSON-RPC method and what it names (a tool, a prompt, a URI), printable. */
	char rpc[48];
	char subject[GATEWAY_LOG_SUBJECT];
	/* A batch's (2025-03-26): the ids still unanswered, and the answers so far. */
	cJSON *batch, *answers;
	/* While suspended, waiting for the answer to the request with this id: */
	bool waiting;
	cJSON *answer;			/* set when it arrives, or an error; then resumed */
	ev_timer deadline_w;
	ev_timer keepalive_w;		/* of a listen stream */
	struct gw_request *next_waiter;
	/*
	 * Its response stream: a message related to it came before its answer
	 * (or it is a listen). final: the answer is queued, the stream ends after it.
	 */
	bool streaming, final;
	struct sse_queue out;
};

static void kick(struct gateway *g)
{
	ev_timer_start(g->d->loop, &g->kick_w);
}

/* ---- tokens ----------------------------------------------------------------- */

static void summary_start(struct gateway *g);

/* Constant time in the secret's content: no early exit on the first differing byte. */
static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = (unsigned char)(la != lb);

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return diff == 0;
}

/* Why a request was refused a 401: the JWT results (jwt.h), then these; the label of the failures metric. */
enum {
	AUTH_MISSING = JWT_AGENT + 1,	/* no bearer token */
	AUTH_UNKNOWN_TOKEN,		/* not in tokens_file, and no gateway.jwt */
	AUTH_TOO_MANY_AGENTS,
	AUTH_REASONS
};

/* Counted for the gateway's whole life (one per mcpd), for /metrics. */
static unsigned long auth_failures[AUTH_REASONS];

static const char *auth_reason_name(unsigned r)
{
	return r == AUTH_MISSING ? "missing" : r == AUTH_UNKNOWN_TOKEN ? "unknown_token" :
	       r == AUTH_TOO_MANY_AGENTS ? "too_many_agents" : jwt_result_name((enum jwt_result)r);
}

static bool auth_required(const struct gateway *g)
{
	return g->ntokens > 0 || g->d->manifest->mcpd.gateway.jwt.enabled;
}

/* The agent of that name: a tokens_file entry's, or one a JWT named before, or a new one (bounded). */
static struct token *agent_of(struct gateway *g, const char *name)
{
	struct token *t;

	for (size_t i = 0; i < g->ntokens; i++)
		if (strcmp(g->tokens[i].name, name) == 0)
			return &g->tokens[i];
	for (size_t i = 0; i < g->nagents; i++)
		if (strcmp(g->agents[i]->name, name) == 0)
			return g->agents[i];
	if (g->nagents >= GATEWAY_MAX_AGENTS)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->name = xstrdup(name);
	g->agents = xrealloc(g->agents, (g->nagents + 1) * sizeof(*g->agents));
	g->agents[g->nagents++] = t;
	return t;
}

/* A refused JWT is logged with its cause, GATEWAY_JWT_LOG_BURST times per interval; the rest go to the summary. */
static void jwt_refused(struct gateway *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jwt_refused(struct gateway *g, const char *fmt, ...)
{
	double now = ev_now(g->d->loop);
	char line[512];
	va_list ap;

	if (now - g->jwt_log_window >= GATEWAY_SUMMARY_SECONDS) {
		g->jwt_log_window = now;
		g->jwt_logged = 0;
	}
	if (g->jwt_logged++ >= GATEWAY_JWT_LOG_BURST) {
		g->jwt_unlogged++;
		summary_start(g);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info(NULL, NULL, "%s", line);
}

/* A bearer token that is no tokens_file entry, verified as a JWT: its agent, or NULL and *ret_reason. */
static struct token *authenticate_jwt(struct gateway *g, const char *bearer, const char *addr, unsigned *ret_reason)
{
	const struct gateway_jwt_conf *jc = &g->d->manifest->mcpd.gateway.jwt;
	const struct jwt_policy policy = {
		.issuer = jc->issuer,
		.audience = jc->audience,
		.agent_claim = jc->agent_claim,
		.algorithms = jc->algorithms,
		.leeway = (int64_t)(jc->leeway_ms / 1000),
	};
	char agent[JWT_MAX_AGENT + 1], why[200];
	enum jwt_result r = jwt_verify(bearer, strlen(bearer), &policy, jwks_source_keys(g->jwks),
				       (int64_t)ev_now(g->d->loop), agent, sizeof(agent), why, sizeof(why));
	struct token *t;

	if (r == JWT_UNKNOWN_KEY)
		jwks_source_unknown_kid(g->jwks);
	if (r != JWT_OK) {
		/* Never the token. */
		jwt_refused(g, "gateway: bearer token from %s refused (%s): %s; answered 401", addr, jwt_result_name(r),
			    why);
		*ret_reason = r;
		return NULL;
	}
	t = agent_of(g, agent);
	if (!t) {
		jwt_refused(g, "gateway: agent %s from %s refused: mcpd already knows %d agents of JWTs, the most it keeps "
			    "until it restarts; answered 401", agent, addr, GATEWAY_MAX_AGENTS);
		*ret_reason = AUTH_TOO_MANY_AGENTS;
	}
	return t;
}

/* The agent of the request's bearer token: a tokens_file entry, else a verified JWT's; NULL and *ret_reason. */
static struct token *authenticate(struct gateway *g, struct MHD_Connection *conn, const char *addr,
				  unsigned *ret_reason)
{
	const char *bearer = gateway_bearer(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
									 MHD_HTTP_HEADER_AUTHORIZATION));
	struct token *found = NULL;

	if (!bearer || !*bearer) {
		*ret_reason = AUTH_MISSING;
		return NULL;
	}
	/* Every token is compared, so the time does not tell which one matched. */
	for (size_t i = 0; i < g->ntokens; i++)
		if (secret_equal(bearer, g->tokens[i].secret))
			found = &g->tokens[i];
	if (found)
		return found;
	if (!g->d->manifest->mcpd.gateway.jwt.enabled) {
		*ret_reason = AUTH_UNKNOWN_TOKEN;
		return NULL;
	}
	return authenticate_jwt(g, bearer, addr, ret_reason);
}

void gateway_metrics(const struct daemon *d, struct metrics_buf *b)
{
	if (!d->manifest->mcpd.http)
		return;
	metrics_family(b, "mcpd_gateway_auth_failures_total", "counter",
		       "Gateway requests answered 401, by reason (missing, unknown_token, or why a JWT was refused).");
	for (unsigned r = 1; r < AUTH_REASONS; r++)
		metrics_printf(b, "mcpd_gateway_auth_failures_total{reason=\"%s\"} %lu\n", auth_reason_name(r),
			       auth_failures[r]);
}

/* The gateway's own URL, from mcpd.http as written. */
static void base_url(const struct daemon *d, char *buf, size_t size)
{
	const char *http = d->manifest->mcpd.http ? d->manifest->mcpd.http : "127.0.0.1";

	snprintf(buf, size, "http://%s%s", strncmp(http, "localhost:", 10) == 0 ? "127.0.0.1" : "",
		 strncmp(http, "localhost:", 10) == 0 ? http + 9 : http);
}

char *gateway_resource_metadata(const struct gateway *g)
{
	const struct gateway_jwt_conf *jc = &g->d->manifest->mcpd.gateway.jwt;
	cJSON *o, *list;
	char url[600], *text;

	if (!jc->enabled)
		return NULL;
	base_url(g->d, url, sizeof(url));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "resource", url);
	list = cJSON_AddArrayToObject(o, "authorization_servers");
	cJSON_AddItemToArray(list, cJSON_CreateString(jc->issuer));
	list = cJSON_AddArrayToObject(o, "bearer_methods_supported");
	cJSON_AddItemToArray(list, cJSON_CreateString("header"));
	cJSON_AddStringToObject(o, "resource_name", "mcpd gateway");
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* Each tokens_file name that agents: does not list may use nothing: said once per load and reload. */
static void warn_unlisted_tokens(const struct gateway *g)
{
	const struct manifest *m = g->d->manifest;

	if (!m->has_agents)
		return;
	for (size_t i = 0; i < g->ntokens; i++)
		if (!agents_find(m, g->tokens[i].name))
			log_warning(NULL, NULL, "gateway: token \"%s\" names an agent that agents: does not list: it may "
				    "use nothing", g->tokens[i].name);
}

void gateway_reload(struct gateway *g)
{
	if (!g)
		return;
	warn_unlisted_tokens(g);
	if (!g->jwks)
		g->jwks = jwks_source_new(g->d);	/* gateway.jwt added by this reload */
	else
		jwks_source_reload(g->jwks);
}

/* ---- refusals: counted per address and token, logged as a summary ----------- */

static void summary_start(struct gateway *g)
{
	if (!ev_is_active(&g->summary_w))
		ev_timer_again(g->d->loop, &g->summary_w);
}

static void client_address(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(buf, size, "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)size);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)size);
}

static struct addr_stat *addr_find(struct gateway *g, const char *addr)
{
	for (size_t i = 0; i < g->naddrs; i++)
		if (strcmp(g->addrs[i].addr, addr) == 0)
			return &g->addrs[i];
	return NULL;
}

/* Its window, renewed when over. */
static void addr_touch(struct addr_stat *a, double now)
{
	a->last_seen = now;
	if (now - a->window_start >= GATEWAY_AUTH_WINDOW) {
		a->window_start = now;
		a->failures = 0;
	}
}

/* The address's entry; a full table gives up the one seen least recently (its counts go to "others"). */
static struct addr_stat *addr_stat(struct gateway *g, const char *addr, double now)
{
	struct addr_stat *a = addr_find(g, addr);

	if (!a && g->naddrs < GATEWAY_ADDRESSES) {
		a = &g->addrs[g->naddrs++];
	} else if (!a) {
		a = &g->addrs[0];
		for (size_t i = 1; i < g->naddrs; i++)
			if (g->addrs[i].last_seen < a->last_seen)
				a = &g->addrs[i];
		g->other_failed += a->failed + a->refused;
	}
	if (strcmp(a->addr, addr) != 0) {
		*a = (struct addr_stat){ .window_start = now };
		snprintf(a->addr, sizeof(a->addr), "%s", addr);
	}
	addr_touch(a, now);
	return a;
}

/* Seconds until an address that failed too often may try again; 0 when it may now. */
static unsigned addr_throttled(struct gateway *g, const char *addr, double now)
{
	struct addr_stat *a = addr_find(g, addr);

	if (!a)
		return 0;
	addr_touch(a, now);
	if (a->failures < GATEWAY_AUTH_FAILURES)
		return 0;
	a->refused++;
	summary_start(g);
	return (unsigned)ceil(a->window_start + GATEWAY_AUTH_WINDOW - now);
}

static void auth_failed(struct gateway *g, const char *addr, double now)
{
	struct addr_stat *a = addr_stat(g, addr, now);

	a->failures++;
	a->failed++;
	summary_start(g);
}

static void on_summary(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gateway *g = w->data;
	bool any = false;

	for (size_t i = 0; i < g->naddrs; i++) {
		struct addr_stat *a = &g->addrs[i];

		if (!a->failed && !a->refused)
			continue;
		any = true;
		log_warning(NULL, NULL,
			    "gateway: %lu failed authentications from %s in the last %.0fs; %lu more requests from it "
			    "answered 429 without a check (after %d failures in %.0fs)",
			    a->failed, a->addr, GATEWAY_SUMMARY_SECONDS, a->refused, GATEWAY_AUTH_FAILURES,
			    GATEWAY_AUTH_WINDOW);
		a->failed = a->refused = 0;
	}
	if (g->other_failed) {
		any = true;
		log_warning(NULL, NULL, "gateway: %lu failed authentications from other addresses in the last %.0fs",
			    g->other_failed, GATEWAY_SUMMARY_SECONDS);
		g->other_failed = 0;
	}
	for (size_t i = 0; i < g->ntokens; i++) {
		if (!g->tokens[i].limited)
			continue;
		any = true;
		log_warning(NULL, NULL, "gateway: %lu requests of token %s answered 429 in the last %.0fs (rate limit)",
			    g->tokens[i].limited, g->tokens[i].name, GATEWAY_SUMMARY_SECONDS);
		g->tokens[i].limited = 0;
	}
	for (size_t i = 0; i < g->nagents; i++) {
		if (!g->agents[i]->limited)
			continue;
		any = true;
		log_warning(NULL, NULL, "gateway: %lu requests of agent %s answered 429 in the last %.0fs (rate limit)",
			    g->agents[i]->limited, g->agents[i]->name, GATEWAY_SUMMARY_SECONDS);
		g->agents[i]->limited = 0;
	}
	if (g->jwt_unlogged) {
		any = true;
		log_warning(NULL, NULL, "gateway: %lu more bearer tokens refused in the last %.0fs, past %d logged one by one "
			    "(mcpd_gateway_auth_failures_total counts them by reason)", g->jwt_unlogged,
			    GATEWAY_SUMMARY_SECONDS, GATEWAY_JWT_LOG_BURST);
		g->jwt_unlogged = 0;
	}
	if (g->busy) {
		any = true;
		log_warning(NULL, NULL, "gateway: %lu requests answered 503 in the last %.0fs: %d MiB of request bodies "
			    "held already", g->busy, GATEWAY_SUMMARY_SECONDS, GATEWAY_MAX_BUFFERED / (1024 * 1024));
		g->busy = 0;
	}
	if (g->streams_refused) {
		any = true;
		log_warning(NULL, NULL, "gateway: %lu event streams (GET or subscriptions/listen) answered 503 in the "
			    "last %.0fs: %d open already", g->streams_refused, GATEWAY_SUMMARY_SECONDS, GATEWAY_MAX_STREAMS);
		g->streams_refused = 0;
	}
	if (g->dropped) {
		any = true;
		log_warning(NULL, NULL, "gateway: dropped %lu messages for GET event streams in the last %.0fs: %d MiB "
			    "wait for streams that do not read", g->dropped, GATEWAY_SUMMARY_SECONDS,
			    GATEWAY_MAX_QUEUED / (1024 * 1024));
		g->dropped = 0;
	}
	if (!any)
		ev_timer_stop(loop, w);
}

/* ---- event streams ---------------------------------------------------------- */

#define KEEPALIVE_SECONDS	30.	/* a comment line on a quiet listen stream */

static void sseq_init(struct sse_queue *q)
{
	*q = (struct sse_queue){ .tail = &q->head };
}

/* A stream that waits for events goes on. */
static void sseq_wake(struct gateway *g, struct sse_queue *q)
{
	if (q->conn && q->suspended) {
		q->suspended = false;
		MHD_resume_connection(q->conn);
		kick(g);
	}
}

/* Queue text (taken) for a stream; the streams of all clients together are bounded. */
static void sseq_push_text(struct gateway *g, struct sse_queue *q, char *text, size_t len)
{
	struct sse_item *it;

	if (g->queued + len > GATEWAY_MAX_QUEUED) {
		free(text);
		g->dropped++;
		summary_start(g);
		return;
	}
	it = xcalloc(1, sizeof(*it));
	it->text = text;
	it->len = len;
	*q->tail = it;
	q->tail = &it->next;
	q->queued += len;
	g->queued += len;
	sseq_wake(g, q);
}

static void sseq_push(struct gateway *g, struct sse_queue *q, const cJSON *msg)
{
	char *json = cJSON_PrintUnformatted(msg), *text;
	size_t len;

	if (!json) {
		g->dropped++;
		summary_start(g);
		return;
	}
	len = (size_t)xasprintf(&text, "event: message\ndata: %s\n\n", json);
	free(json);
	sseq_push_text(g, q, text, len);
}

/* Up to max bytes of the queue into buf. */
static size_t sseq_read(struct gateway *g, struct sse_queue *q, char *buf, size_t max)
{
	size_t n = 0;

	while (q->head && n < max) {
		struct sse_item *it = q->head;
		size_t take = it->len - it->off < max - n ? it->len - it->off : max - n;

		memcpy(buf + n, it->text + it->off, take);
		it->off += take;
		n += take;
		q->queued -= take;
		g->queued -= take;
		if (it->off == it->len) {
			q->head = it->next;
			if (!q->head)
				q->tail = &q->head;
			free(it->text);
			free(it);
		}
	}
	return n;
}

static void sseq_clear(struct gateway *g, struct sse_queue *q)
{
	while (q->head) {
		struct sse_item *it = q->head;

		q->head = it->next;
		g->queued -= it->len - it->off;
		free(it->text);
		free(it);
	}
	q->tail = &q->head;
	q->queued = 0;
}

/* Nothing to send now: MHD sleeps on the connection until sseq_wake. */
static void sseq_wait(struct sse_queue *q)
{
	q->suspended = true;
	MHD_suspend_connection(q->conn);
}

/*
 * MHD's reader of an event stream: what is queued; else the end once done,
 * or sleep until more comes.
 */
static ssize_t sseq_pull(struct gateway *g, struct sse_queue *q, char *buf, size_t max, bool done)
{
	size_t n = sseq_read(g, q, buf, max);

	if (n == 0 && done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == 0)
		sseq_wait(q);
	return (ssize_t)n;
}

/* ---- sessions -------------------------------------------------------------- */

static bool sink_send(void *sink, const cJSON *msg);
static size_t sink_pending(void *sink);
static void sink_close(void *sink);
static void sink_held(void *sink, const cJSON *id, double seconds);

/* Raw ids: an id past 2^53 comes back as the client wrote it, and waiters match it by its text. */
static const struct relay_sink gateway_sink = {
	.send = sink_send, .pending = sink_pending, .close = sink_close, .raw_ids = true, .held = sink_held,
};
/* A 2026-07-28 request's session lives as long as the request: not worth a log line at info each. */
static const struct relay_sink gateway_request_sink = {
	.send = sink_send, .pending = sink_pending, .close = sink_close, .raw_ids = true, .per_request = true,
	.held = sink_held,
};

static void waiter_unlink(struct gw_request *req)
{
	for (struct gw_request **pp = &req->session->waiters; *pp; pp = &(*pp)->next_waiter) {
		if (*pp == req) {
			*pp = req->next_waiter;
			break;
		}
	}
	req->waiting = false;
	req->g->nwaiting--;
	ev_timer_stop(req->g->d->loop, &req->deadline_w);
	ev_timer_stop(req->g->d->loop, &req->keepalive_w);
}

/*
 * A waiting request gets its answer (or an error): a streaming one as its
 * last event, any other as its response, its connection resumed.
 */
static void finish_waiter(struct gw_request *req, cJSON *answer)
{
	struct gateway *g = req->g;

	waiter_unlink(req);
	if (req->streaming) {
		size_t before = req->out.queued;

		sseq_push(g, &req->out, answer);
		if (req->relayed && req->session->relay && req->out.queued > before)
			relay_count_out(req->session->relay, req->out.queued - before);
		cJSON_Delete(answer);
		req->final = true;
		sseq_wake(g, &req->out);
		return;
	}
	req->answer = answer;
	MHD_resume_connection(req->conn);
	kick(g);
}

/*
 * Every request of this POST (one, or a batch's unanswered ones) is
 * cancelled upstream; timed_out: by request_timeout (counted apart).
 */
static void cancel_upstream(struct gw_request *req, const char *why, bool timed_out)
{
	struct session *relay = req->session ? req->session->relay : NULL;
	const cJSON *id;

	if (!relay)
		return;	/* closed: relay_detach cancelled what was in flight */
	if (!req->batch) {
		relay_cancel(relay, req->id, why, timed_out);
		return;
	}
	cJSON_ArrayForEach(id, req->batch)
		relay_cancel(relay, id, why, timed_out);
}

/* An error answer for every request of this POST: one, or the batch's answers with one per unanswered id. */
static cJSON *error_answer(struct gw_request *req, int code, const char *message)
{
	cJSON *answers;
	const cJSON *id;

	if (!req->batch)
		return jsonrpc_error_new(req->id, code, message, NULL);
	answers = req->answers;
	req->answers = NULL;
	cJSON_ArrayForEach(id, req->batch)
		cJSON_AddItemToArray(answers, jsonrpc_error_new(id, code, message, NULL));
	return answers;
}

static void reap_soon(struct gateway *g)
{
	ev_check_start(g->d->loop, &g->reap_w);
}

/* Closed: found no more, its waiters answered, its relay session gone; freed by reap when unused. */
static void close_session(struct gw_session *gs, const char *why)
{
	struct gateway *g = gs->g;

	if (gs->closed)
		return;
	gs->closed = true;
	g->nsessions--;
	if (gs->token)
		gs->token->nsessions--;
	while (gs->waiters) {
		struct gw_request *req = gs->waiters;
		char message[256];

		if (gs->server[0])
			snprintf(message, sizeof(message), "gateway session of server \"%s\" closed: %s", gs->server, why);
		else
			snprintf(message, sizeof(message), "aggregate endpoint session closed: %s", why);
		finish_waiter(req, error_answer(req, MCPD_ERR_UNAVAILABLE, message));
	}
	if (gs->relay) {
		struct session *r = gs->relay;

		gs->relay = NULL;
		relay_detach(r);
	}
	sseq_wake(g, &gs->get);
	reap_soon(g);
}

static void session_unref(struct gw_session *gs)
{
	gs->refs--;
	gs->last_used = ev_now(gs->g->d->loop);	/* idle from the end of its last request */
	if (gs->closed && gs->refs == 0)
		reap_soon(gs->g);
}

/* A response for one of the session's waiting requests: given to it. False when none waits for it. */
static bool deliver_response(struct gw_session *gs, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");

	for (struct gw_request *req = gs->waiters; req; req = req->next_waiter) {
		cJSON *it;
		int i = 0;

		if (!req->batch) {
			if (!cJSON_Compare(req->id, id, 1))
				continue;
			if (req->initialize) {
				const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
				const char *v = cJSON_GetStringValue(
					cJSON_GetObjectItemCaseSensitive(result, "protocolVersion"));

				if (v)
					snprintf(gs->version, sizeof(gs->version), "%s", v);
			}
			req->relayed = gs->relay && relay_answering(gs->relay);	/* not mcpd's own refusal */
			finish_waiter(req, cJSON_Duplicate(msg, 1));
			return true;
		}
		cJSON_ArrayForEach(it, req->batch) {
			if (cJSON_Compare(it, id, 1))
				break;
			i++;
		}
		if (!it)
			continue;
		cJSON_DeleteItemFromArray(req->batch, i);
		cJSON_AddItemToArray(req->answers, cJSON_Duplicate(msg, 1));
		if (gs->relay && relay_answering(gs->relay))
			req->server_answered = true;
		if (cJSON_GetArraySize(req->batch) == 0) {
			cJSON *answers = req->answers;

			req->answers = NULL;
			req->relayed = req->server_answered;
			finish_waiter(req, answers);
		}
		return true;
	}
	return false;
}

/*
 * The waiting request a message from the server belongs to, when that
 * request's client takes an event stream (and no GET stream is open): progress for its progressToken;
 * a log message or a request of the server's (the oldest such request of a
 * legacy session, the one request of a modern one); any other notification
 * the relay gives a listen. NULL: the message is not for a response stream.
 */
static struct gw_request *related_request(struct gw_session *gs, const cJSON *msg)
{
	enum jsonrpc_kind kind = jsonrpc_classify(msg);
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	struct gw_request *found = NULL;

	if (kind == JSONRPC_NOTIFICATION && strcmp(method, "notifications/progress") == 0) {
		const cJSON *token = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "params"),
								      "progressToken");

		for (struct gw_request *req = gs->waiters; req; req = req->next_waiter)
			if (req->sse && req->progress_token && cJSON_Compare(req->progress_token, token, 1))
				return req;
		return NULL;
	}
	if (gs->modern) {
		struct gw_request *req = gs->waiters;

		if (!req || !req->sse)
			return NULL;
		/* A listen carries change notifications, never a request's progress or log messages. */
		if (req->listen)
			return kind == JSONRPC_NOTIFICATION && strcmp(method, "notifications/message") != 0 &&
			       strcmp(method, "notifications/progress") != 0 ? req : NULL;
		return kind == JSONRPC_NOTIFICATION && strcmp(method, "notifications/message") == 0 ? req : NULL;
	}
	if (kind == JSONRPC_NOTIFICATION && strcmp(method, "notifications/message") != 0)
		return NULL;
	for (struct gw_request *req = gs->waiters; req; req = req->next_waiter)
		if (req->sse && !req->batch)
			found = req;	/* newest first: the last one is the oldest */
	return found;
}

/* A waiting request answers with an event stream from now on: its connection resumes to queue it. */
static void start_streaming(struct gw_request *req)
{
	if (req->streaming)
		return;
	req->streaming = true;
	sseq_init(&req->out);
	MHD_resume_connection(req->conn);
	kick(req->g);
}

static bool sink_send(void *sink, const cJSON *msg)
{
	struct gw_session *gs = sink;
	struct gw_request *req;

	if (gs->closed)
		return true;
	if (jsonrpc_classify(msg) == JSONRPC_RESPONSE && deliver_response(gs, msg))
		return true;
	/* A legacy session's GET stream, when open, takes them all, as it always did. */
	if (!gs->get.conn && (req = related_request(gs, msg))) {
		start_streaming(req);
		sseq_push(gs->g, &req->out, msg);
		return true;
	}
	/* Without a GET stream open, other messages for this client are dropped. */
	if (gs->get.conn)
		sseq_push(gs->g, &gs->get, msg);
	return true;
}

static size_t sink_pending(void *sink)
{
	const struct gw_session *gs = sink;
	size_t n = gs->get.queued;

	for (const struct gw_request *req = gs->waiters; req; req = req->next_waiter)
		n += req->out.queued;
	return n;
}

/* The relay ends this client (its server is removed, or it reads too slowly). */
static void sink_close(void *sink)
{
	struct gw_session *gs = sink;
	char reason[64];

	snprintf(reason, sizeof(reason), "%s", gs->relay ? "its server went away or it read too slowly" : "closed");
	close_session(gs, reason);
}

/* Is id (as written) the request's, or one of its batch's? */
static bool waiter_has_id(const struct gw_request *req, const cJSON *id)
{
	const cJSON *it;

	if (!req->batch)
		return req->id && cJSON_Compare(req->id, id, 1);
	cJSON_ArrayForEach(it, req->batch)
		if (cJSON_Compare(it, id, 1))
			return true;
	return false;
}

/*
 * A request is held for a human's approval (approvals.c) for at most
 * seconds: its deadline becomes that plus request_timeout, so that
 * request_timeout bounds the call's run, not the wait. 0: approved now, the
 * run has request_timeout from now.
 */
static void sink_held(void *sink, const cJSON *id, double seconds)
{
	struct gw_session *gs = sink;
	struct ev_loop *loop = gs->g->d->loop;
	double timeout = (double)gs->g->d->manifest->mcpd.gateway.request_timeout_ms / 1000.;

	for (struct gw_request *req = gs->waiters; req; req = req->next_waiter) {
		if (!waiter_has_id(req, id) || !ev_is_active(&req->deadline_w))
			continue;
		ev_timer_stop(loop, &req->deadline_w);
		ev_timer_set(&req->deadline_w, seconds + timeout, 0.);
		ev_timer_start(loop, &req->deadline_w);
		return;
	}
}

/* MHD pulls the GET stream's bytes; with none queued the connection sleeps until sink_send. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gw_session *gs = cls;

	return sseq_pull(gs->g, &gs->get, buf, max, gs->closed);
}

static void stream_ended(void *cls)
{
	struct gw_session *gs = cls;

	sseq_clear(gs->g, &gs->get);
	gs->get.conn = NULL;
	gs->get.suspended = false;
	gs->g->nstreams--;
	session_unref(gs);
}

/* A POST's response stream: its events, then its answer, then the end. */
static ssize_t response_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gw_request *req = cls;

	return sseq_pull(req->g, &req->out, buf, max, req->final);
}

/* An open session of this server that this token opened: another token's is as unknown as none. */
static struct gw_session *find_session(struct gateway *g, const char *id, const char *server, const struct token *t)
{
	if (!id)
		return NULL;
	for (struct gw_session *gs = g->sessions; gs; gs = gs->next) {
		if (!gs->closed && !gs->modern && gs->token == t && strcmp(gs->server, server) == 0 &&
		    strcmp(gs->id, id) == 0) {
			gs->last_used = ev_now(g->d->loop);
			return gs;
		}
	}
	return NULL;
}

/* A legacy session (with a random id), or a modern request's (without); quiet: its relay session logs at debug. */
static struct gw_session *new_session(struct gateway *g, struct server *s, struct token *t, bool modern,
				      bool quiet)
{
	struct gw_session *gs;
	unsigned char raw[16];

	if (!modern && getrandom(raw, sizeof(raw), GRND_NONBLOCK) != sizeof(raw))
		return NULL;
	gs = xcalloc(1, sizeof(*gs));
	for (size_t i = 0; !modern && i < sizeof(raw); i++)
		snprintf(gs->id + 2 * i, 3, "%02x", raw[i]);
	gs->modern = modern;
	gs->g = g;
	/* The URL's name: a replica's session is still found by /mcp/NAME (replicas: N). */
	gs->server = s ? xstrndup(s->conf.name, replica_group_len(s->conf.name)) : xstrdup("");
	gs->token = t;
	sseq_init(&gs->get);
	gs->last_used = ev_now(g->d->loop);
	gs->next = g->sessions;
	g->sessions = gs;
	g->nsessions++;
	if (t)
		t->nsessions++;
	if (s)
		gs->relay = relay_attach(s, quiet ? &gateway_request_sink : &gateway_sink, gs,
					 gs->token ? gs->token->name : NULL);
	else	/* POST /mcp: the aggregate endpoint */
		gs->relay = aggregate_attach(g->d, quiet ? &gateway_request_sink : &gateway_sink, gs,
					     gs->token ? gs->token->name : NULL, NULL);
	if (!ev_is_active(&g->sweep_w))
		ev_timer_again(g->d->loop, &g->sweep_w);
	return gs;
}

/* The one place where sessions are freed: closed, and nothing points at them. */
static void on_reap(struct ev_loop *loop, ev_check *w, int revents)
{
	struct gateway *g = w->data;

	ev_check_stop(loop, w);
	for (struct gw_session **pp = &g->sessions; *pp;) {
		struct gw_session *gs = *pp;

		if (!gs->closed || gs->refs > 0) {
			pp = &gs->next;
			continue;
		}
		*pp = gs->next;
		sseq_clear(g, &gs->get);
		free(gs->server);
		free(gs);
	}
}

/* A suspended connection is not read by MHD: a client that left shows as EOF on its socket. */
static bool client_left(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char c;
	ssize_t n;

	if (!ci)
		return false;
	n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Every second while there are sessions: idle ones close, requests of clients that left are cancelled. */
static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gateway *g = w->data;
	double now = ev_now(loop), idle = (double)g->d->manifest->mcpd.gateway.session_idle_ms / 1000.;
	unsigned expired = 0;

	for (struct gw_session *gs = g->sessions; gs; gs = gs->next) {
		if (gs->closed)
			continue;
		for (struct gw_request *req = gs->waiters, *next; req; req = next) {
			next = req->next_waiter;
			if (!client_left(req->conn))
				continue;
			log_info(gs->server, NULL, "gateway: a client left before its answer; cancelling its request");
			cancel_upstream(req, "the HTTP client disconnected", false);
			finish_waiter(req, error_answer(req, MCPD_ERR_UNAVAILABLE, "the HTTP client disconnected"));
		}
		if (gs->refs == 0 && now - gs->last_used > idle) {
			close_session(gs, "idle");
			expired++;
		}
	}
	if (expired)
		log_info(NULL, NULL, "gateway: closed %u sessions unused for %.0fs (mcpd.gateway.session_idle_timeout)",
			 expired, idle);
	if (!g->sessions)
		ev_timer_stop(loop, w);
}

/* ---- requests --------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
			     const char *session, unsigned retry_after, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	char num[16];

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (session && *session)
		MHD_add_response_header(r, "Mcp-Session-Id", session);
	if (retry_after) {
		snprintf(num, sizeof(num), "%u", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow ? allow : "POST, GET, DELETE");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Every refusal is a JSON-RPC error response, with the request's id once the
 * body was read (null before): code and data (taken) as given.
 */
static enum MHD_Result rpc_error_reply(struct gw_request *req, unsigned status, int code, const char *message,
				       cJSON *data, unsigned retry_after, const char *allow)
{
	cJSON *msg = jsonrpc_error_new(req->id, code, message, data);
	char *text = cJSON_PrintUnformatted(msg);
	enum MHD_Result ret;

	cJSON_Delete(msg);	/* and data, which it took */
	req->answered = true;
	if (!text)
		return MHD_NO;
	ret = reply(req->conn, status, "application/json", text, NULL, retry_after, allow);
	free(text);
	return ret;
}

/* The code of a refusal by its status: mcpd cannot serve it now (-31000), or the request is wrong (-32600). */
static enum MHD_Result error_reply(struct gw_request *req, unsigned status, const char *message,
				   unsigned retry_after)
{
	bool unavailable = status >= 500 || status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_NOT_FOUND;

	return rpc_error_reply(req, status, unavailable ? MCPD_ERR_UNAVAILABLE : JSONRPC_INVALID_REQUEST, message,
			       NULL, retry_after, NULL);
}

/*
 * 401: WWW-Authenticate names the protected resource metadata when gateway.jwt
 * is set (RFC 9728, as MCP clients expect), and says invalid_token when a
 * token was given (RFC 6750). Counted by reason.
 */
static enum MHD_Result unauthorized(struct gw_request *req, unsigned reason)
{
	cJSON *msg = jsonrpc_error_new(req->id, JSONRPC_INVALID_REQUEST, "a valid bearer token is required", NULL);
	char *text = cJSON_PrintUnformatted(msg), url[600], challenge[900];
	struct MHD_Response *r;
	enum MHD_Result ret;

	cJSON_Delete(msg);
	auth_failures[reason < AUTH_REASONS ? reason : AUTH_MISSING]++;
	req->answered = true;
	if (!text)
		return MHD_NO;
	if (req->g->d->manifest->mcpd.gateway.jwt.enabled) {
		base_url(req->g->d, url, sizeof(url));
		snprintf(challenge, sizeof(challenge), "Bearer resource_metadata=\"%s/.well-known/oauth-protected-resource\"%s%s%s",
			 url, reason == AUTH_MISSING ? "" : ", error=\"invalid_token\", error_description=\"",
			 reason == AUTH_MISSING ? "" : auth_reason_name(reason), reason == AUTH_MISSING ? "" : "\"");
	} else {
		snprintf(challenge, sizeof(challenge), "Bearer");
	}
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
	ret = MHD_queue_response(req->conn, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return ret;
}

/* 400 with an UnsupportedProtocolVersionError: the versions mcpd speaks. */
static enum MHD_Result unsupported_version(struct gw_request *req, const char *version)
{
	char message[120], asked[44];

	/* Echoed printable and bounded: a header may hold any byte and be long. */
	gateway_printable(version, asked, sizeof(asked));
	snprintf(message, sizeof(message), "Unsupported protocol version: %s (MCP-Protocol-Version header)",
		 asked);
	return rpc_error_reply(req, MHD_HTTP_BAD_REQUEST, MCP_ERR_UNSUPPORTED_VERSION, message,
			       mcp_unsupported_version_data(asked), 0, NULL);
}

static bool origin_allowed(const struct daemon *d, struct MHD_Connection *conn)
{
	const struct gateway_conf *gc = &d->manifest->mcpd.gateway;

	return gateway_origin_allowed(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"), gc->allowed_origins,
				      gc->nallowed_origins);
}

/* The token's rate limit: its agent's rate_limit in agents:, else mcpd.gateway.rate_limit. */
static unsigned rate_limit_of(const struct daemon *d, const struct token *t, double *ret_period)
{
	const struct gateway_conf *gc = &d->manifest->mcpd.gateway;
	const struct agent_conf *a = agents_find(d->manifest, t->name);

	if (a && a->has_rate_limit) {
		*ret_period = (double)a->rate_period_ms / 1000.;
		return a->rate_limit;
	}
	*ret_period = (double)gc->rate_period_ms / 1000.;
	return gc->rate_limit;
}

/* Fixed windows per token: count, and when the window is full, say when it reopens. */
static unsigned rate_limited(const struct daemon *d, struct token *t, double now)
{
	double period;
	unsigned limit;

	if (!t || (limit = rate_limit_of(d, t, &period)) == 0)
		return 0;
	if (now - t->window_start >= period) {
		t->window_start = now;
		t->count = 0;
	}
	if (t->count >= limit)
		return (unsigned)ceil(t->window_start + period - now);
	t->count++;
	return 0;
}

/* What the access log tells of a request: its JSON-RPC method and the tool, prompt or URI it names. */
static void note_call(struct gw_request *req, const cJSON *msg)
{
	const char *rpc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	const char *subject = NULL;

	if (!rpc)
		return;
	gateway_printable(rpc, req->rpc, sizeof(req->rpc));
	if (strcmp(rpc, "tools/call") == 0 || strcmp(rpc, "prompts/get") == 0)
		subject = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "name"));
	else if (strcmp(rpc, "resources/read") == 0)
		subject = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "uri"));
	if (subject)
		gateway_printable(subject, req->subject, sizeof(req->subject));
	/* The text line's fields are KEY=VALUE separated by spaces: a value's own would forge fields. */
	for (char *p = req->rpc; (p = strchr(p, ' ')) != NULL;)
		*p = '?';
	for (char *p = req->subject; (p = strchr(p, ' ')) != NULL;)
		*p = '?';
}

/*
 * The outcome, one of a small fixed set (mcpd(8)): ok, accepted (a
 * notification), stream (answered by an event stream), refused (agents:),
 * limited (a budget), timeout, cancelled (the client left), error CODE.
 */
static void outcome_of(const struct gw_request *req, const char *method, unsigned status, char *buf, size_t size)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(req->answer, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");

	if (status == 0)
		snprintf(buf, size, "cancelled");
	else if (status == MHD_HTTP_FORBIDDEN || (cJSON_IsNumber(code) && code->valuedouble == MCPD_ERR_POLICY))
		snprintf(buf, size, "refused");
	else if (cJSON_IsNumber(code) && code->valuedouble == MCPD_ERR_TIMEOUT)
		snprintf(buf, size, "timeout");
	else if (cJSON_IsNumber(code) && code->valuedouble == MCPD_ERR_DENIED)
		snprintf(buf, size, "denied");
	else if (cJSON_IsNumber(code))
		snprintf(buf, size, "error %.0f", code->valuedouble);
	else if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
		snprintf(buf, size, "limited");
	else if (status >= 400)
		snprintf(buf, size, "error %u", status);
	else if (status == MHD_HTTP_ACCEPTED)
		snprintf(buf, size, "accepted");
	else if (req->streaming || (strcmp(method, "GET") == 0 && status == MHD_HTTP_OK))
		snprintf(buf, size, "stream");
	else
		snprintf(buf, size, "ok");
}

/*
 * One line per request that passed authentication: who (the token's name,
 * never the token), what (server, method, tool), how (status, outcome, time).
 * status 0: the client left before its answer. On the aggregate endpoint
 * (no server in the URL) the server is the namespaced name's "SERVER__".
 */
static void access_log(struct gw_request *req, const char *method, unsigned status)
{
	char outcome[32], server[128], status_text[12];
	const char *agent = req->token ? req->token->name : "-";
	const char *sep = strstr(req->subject, "__");
	const char *tool = req->subject;
	double ms = (ev_time() - req->started) * 1000.;

	snprintf(server, sizeof(server), "%s", req->server);
	if (!req->server[0] && sep) {
		snprintf(server, sizeof(server), "%.*s", (int)(sep - req->subject), req->subject);
		tool = sep + 2;
	}
	outcome_of(req, method, status, outcome, sizeof(outcome));
	snprintf(status_text, sizeof(status_text), status ? "%u" : "-", status);
	log_fields(LOG_LVL_INFO, server[0] ? server : NULL,
		   (const struct log_field[]){
			   { .key = "agent", .value = agent },
			   { .key = "http_method", .value = method },
			   { .key = "method", .value = req->rpc[0] ? req->rpc : NULL },
			   { .key = "tool", .value = tool[0] ? tool : NULL },
			   { .key = "status", .number = status, .numeric = status != 0 },
			   { .key = "outcome", .value = outcome },
			   { .key = "duration_ms", .number = round(ms * 10.) / 10., .numeric = true },
		   }, 7,
		   "gateway: %s %s %.1fms agent=%s method=%s%s%s outcome=%s", method, status_text, ms, agent,
		   req->rpc[0] ? req->rpc : "-", tool[0] ? " tool=" : "", tool, outcome);
}

/* 429: the token's (its agent's) rate limit is reached, for wait more seconds. */
static enum MHD_Result rate_refusal(struct gw_request *req, unsigned wait)
{
	double period;
	unsigned limit = rate_limit_of(req->g->d, req->token, &period);
	const struct agent_conf *a = agents_find(req->g->d->manifest, req->token->name);
	char body[300];

	snprintf(body, sizeof(body), "rate limit of %u requests per %gs reached (%s%s%s); retry in %u s", limit, period,
		 a && a->has_rate_limit ? "agents." : "mcpd.gateway.rate_limit", a && a->has_rate_limit ? a->name : "",
		 a && a->has_rate_limit ? ".rate_limit" : "", wait);
	return error_reply(req, MHD_HTTP_TOO_MANY_REQUESTS, body, wait);
}

/*
 * 403, on the headers alone: the request's agent may use nothing of the
 * server (agents: in the manifest). A server that does not exist is refused
 * the same way, so that an agent does not learn which others exist.
 */
static enum MHD_Result policy_forbidden(struct gw_request *req, const char *method)
{
	const struct manifest *m = req->g->d->manifest;
	const char *agent = req->token->name;
	char text[400];

	if (agents_find(m, agent))
		snprintf(text, sizeof(text), "agent \"%s\" may not use server \"%.64s\" (no glob of agents.%s.tools "
			 "names it)", agent, req->server, agent);
	else
		snprintf(text, sizeof(text), "agent \"%s\" may not use server \"%.64s\" (agents: does not list agent "
			 "\"%s\")", agent, req->server, agent);
	relay_policy_refused(req->g->d, agent, req->server, text);
	access_log(req, method, MHD_HTTP_FORBIDDEN);
	return rpc_error_reply(req, MHD_HTTP_FORBIDDEN, MCPD_ERR_POLICY, text, NULL, 0, NULL);
}

static void body_release(struct gw_request *req)
{
	req->g->buffered -= req->len;
	free(req->body);
	req->body = NULL;
	req->len = 0;
}

static const char *header(struct gw_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* The request's deadline passed: the server is told to stop, the client gets a JSON-RPC error. */
static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw_request *req = w->data;
	double after = (double)req->g->d->manifest->mcpd.gateway.request_timeout_ms / 1000.;
	char message[200];

	snprintf(message, sizeof(message), "request to server \"%s\" timed out after %gs", req->session->server,
		 after);
	log_notice(req->session->server, NULL, "gateway: a request timed out after %gs "
		   "(mcpd.gateway.request_timeout); cancelling it", after);
	cancel_upstream(req, message, true);
	finish_waiter(req, error_answer(req, MCPD_ERR_TIMEOUT, message));
}

/* A quiet listen stream gets a comment line, so that nothing between closes it for idleness. */
static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gw_request *req = w->data;

	sseq_push_text(req->g, &req->out, xstrdup(":\n"), 2);
}

/* req waits for its answers on gs: a waiter of the session, with its deadline and keepalive timers (not started). */
static void wait_for_answer(struct gateway *g, struct gw_request *req, struct gw_session *gs, double timeout)
{
	req->waiting = true;
	g->nwaiting++;
	req->next_waiter = gs->waiters;
	gs->waiters = req;
	ev_timer_init(&req->deadline_w, on_deadline, timeout, 0.);
	req->deadline_w.data = req;
	ev_timer_init(&req->keepalive_w, on_keepalive, KEEPALIVE_SECONDS, KEEPALIVE_SECONDS);
	req->keepalive_w.data = req;
}

/* The budgets of sessions: a modern request in flight counts as one. 0, or the refusal's status (queued). */
static unsigned session_budget(struct gateway *g, struct gw_request *req, const char *method, enum MHD_Result *ret)
{
	unsigned cap = g->d->manifest->mcpd.gateway.max_sessions_per_token;
	char why[200];

	if (g->nsessions >= GATEWAY_MAX_SESSIONS) {
		*ret = error_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "too many gateway sessions", 60);
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (req->token && req->token->nsessions >= cap) {
		snprintf(why, sizeof(why), "token %s holds %u sessions and modern requests in flight, the most allowed "
			 "(mcpd.gateway.max_sessions_per_token): DELETE a session or wait for an answer first",
			 req->token->name, cap);
		access_log(req, method, MHD_HTTP_TOO_MANY_REQUESTS);
		*ret = error_reply(req, MHD_HTTP_TOO_MANY_REQUESTS, why, 60);
		return MHD_HTTP_TOO_MANY_REQUESTS;
	}
	return 0;
}

/* Every open event stream is a connection the HTTP endpoint never sheds: bounded. True when refused (queued). */
static bool stream_budget(struct gateway *g, struct gw_request *req, const char *method, enum MHD_Result *ret)
{
	if (g->nstreams < GATEWAY_MAX_STREAMS)
		return false;
	g->streams_refused++;
	summary_start(g);
	access_log(req, method, MHD_HTTP_SERVICE_UNAVAILABLE);
	*ret = error_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "too many event streams open (GET and "
			   "subscriptions/listen); retry later", 5);
	return true;
}

/* POST /mcp (no server name): the aggregate endpoint over every stdio server the token's agent may use. */
static bool aggregate_url(const struct gw_request *req)
{
	return req->server[0] == '\0';
}

/* A legacy POST without a session: an initialize opens one, within the budgets. NULL in ret_gs when refused. */
static enum MHD_Result open_session(struct gateway *g, struct gw_request *req, const char *sid, const cJSON *msg,
				    const char *method, struct gw_session **ret_gs)
{
	/* A 2025-era session is placed once, at its initialize, and stays on that replica (replicas: N). */
	struct server *s = replicas_pick(g->d, req->server, NULL);
	enum MHD_Result ret = MHD_YES;

	*ret_gs = NULL;
	if (!gateway_is_initialize(msg) || sid)
		return error_reply(req, sid ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST,
				   sid ? "unknown or expired session" : "Mcp-Session-Id is required after initialize "
				   "(or send MCP-Protocol-Version: " MCP_VERSION_MODERN " without a session)", 0);
	if (!aggregate_url(req) && (!s || s->conf.transport != TRANSPORT_STDIO))
		return error_reply(req, MHD_HTTP_NOT_FOUND, "no such server", 0);
	if (session_budget(g, req, method, &ret))
		return ret;
	*ret_gs = new_session(g, s, req->token, false, false);
	if (!*ret_gs)
		return error_reply(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot make a session id", 0);
	return MHD_YES;
}

/* Its response is an event stream (a listen's from the start, any other's since a related message came). */
static enum MHD_Result start_stream(struct gw_request *req, const char *method)
{
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, response_read, req,
								     NULL);
	enum MHD_Result ret;

	req->answered = true;
	if (!r)
		return MHD_NO;
	req->out.conn = req->conn;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	if (!req->session->modern)
		MHD_add_response_header(r, "Mcp-Session-Id", req->session->id);
	MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)STREAM_TIMEOUT_SECONDS);
	ret = MHD_queue_response(req->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	access_log(req, method, MHD_HTTP_OK);
	return ret;
}

/* The message goes to the session's relay; a request waits, suspended, for its answer (or streams). */
static enum MHD_Result relay_post(struct gateway *g, struct gw_request *req, struct gw_session *gs, const cJSON *msg,
				  enum jsonrpc_kind kind, const char *method)
{
	struct daemon *d = g->d;
	enum MHD_Result ret;

	req->session = gs;
	gs->refs++;
	if (kind == JSONRPC_REQUEST) {
		double timeout = (double)d->manifest->mcpd.gateway.request_timeout_ms / 1000.;
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "params"),
								     "_meta");
		const cJSON *token = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");

		req->progress_token = token ? cJSON_Duplicate(token, 1) : NULL;
		req->initialize = gateway_is_initialize(msg);
		wait_for_answer(g, req, gs, timeout);
		if (req->listen) {
			/* Answered at once by a stream that lasts until its client leaves: no deadline. */
			req->streaming = true;
			sseq_init(&req->out);
			ev_timer_start(d->loop, &req->keepalive_w);
			relay_client_line(gs->relay, req->body, req->len);
			body_release(req);
			return start_stream(req, method);
		}
		ev_timer_start(d->loop, &req->deadline_w);
		MHD_suspend_connection(req->conn);
		/* The answer may come at once (initialize, ping, an error): sink_send resumes. */
		relay_client_line(gs->relay, req->body, req->len);
		body_release(req);
		return MHD_YES;
	}
	relay_client_line(gs->relay, req->body, req->len);
	body_release(req);
	access_log(req, method, MHD_HTTP_ACCEPTED);
	req->answered = true;
	ret = reply(req->conn, MHD_HTTP_ACCEPTED, "application/json", "", gs->id, 0, NULL);
	return ret;
}

/*
 * A modern POST: its headers must mirror its body; then it has a relay
 * session of its own, for as long as it is in flight.
 */
static enum MHD_Result post_modern(struct gateway *g, struct gw_request *req, const cJSON *msg, enum jsonrpc_kind kind,
				   const char *method)
{
	const char *version = header(req, "MCP-Protocol-Version");
	const char *rpc_method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	/* A 2026-07-28 request has no session: each is placed on its own (replicas: N). */
	struct server *s = replicas_pick(g->d, req->server, NULL);
	enum MHD_Result ret = MHD_YES;
	struct gw_session *gs;
	char message[300];
	int code;

	code = gateway_check_modern(msg, version, header(req, "Mcp-Method"), header(req, "Mcp-Name"), message,
				    sizeof(message));
	if (code == MCP_ERR_UNSUPPORTED_VERSION)
		return unsupported_version(req, version);
	if (code)
		return rpc_error_reply(req, MHD_HTTP_BAD_REQUEST, code, message, NULL, 0, NULL);
	if (kind != JSONRPC_REQUEST && kind != JSONRPC_NOTIFICATION)
		return error_reply(req, MHD_HTTP_BAD_REQUEST, "a " MCP_VERSION_MODERN " client POSTs requests "
				   "and notifications only", 0);
	req->listen = kind == JSONRPC_REQUEST && strcmp(rpc_method, "subscriptions/listen") == 0;
	if (req->listen && !req->sse)
		return error_reply(req, MHD_HTTP_NOT_ACCEPTABLE, "subscriptions/listen answers with an event stream: "
				   "Accept: text/event-stream", 0);
	if (!aggregate_url(req) && (!s || s->conf.transport != TRANSPORT_STDIO))
		return error_reply(req, MHD_HTTP_NOT_FOUND, "no such server", 0);
	if (session_budget(g, req, method, &ret))
		return ret;
	if (req->listen) {
		if (stream_budget(g, req, method, &ret))
			return ret;
		req->stream_counted = true;
		g->nstreams++;
	}
	/* A listen lives long and is logged like a client; other modern requests are not worth a line. */
	gs = new_session(g, s, req->token, true, !req->listen);
	return relay_post(g, req, gs, msg, kind, method);
}

/* A 2025-03-26 batch: every message is relayed; the answers to its requests come back as one array. */
static enum MHD_Result post_batch(struct gateway *g, struct gw_request *req, struct gw_session *gs, cJSON *batch,
				  const char *method)
{
	struct daemon *d = g->d;
	size_t n = (size_t)cJSON_GetArraySize(batch), i = 0;
	char **lines = xcalloc(n, sizeof(*lines));
	const cJSON *it;

	req->session = gs;
	gs->refs++;
	req->batch = cJSON_CreateArray();
	req->answers = cJSON_CreateArray();
	/* Every id is known before the first is relayed: answers may come at once. */
	cJSON_ArrayForEach(it, batch) {
		lines[i] = cJSON_PrintUnformatted(it);
		if (lines[i] && jsonrpc_classify(it) == JSONRPC_REQUEST)
			cJSON_AddItemToArray(req->batch, jsonrpc_raw_id(lines[i], strlen(lines[i]),
									cJSON_GetObjectItemCaseSensitive(it, "id")));
		i++;
	}
	body_release(req);
	if (cJSON_GetArraySize(req->batch) > 0) {
		double timeout = (double)d->manifest->mcpd.gateway.request_timeout_ms / 1000.;

		wait_for_answer(g, req, gs, timeout);
		ev_timer_start(d->loop, &req->deadline_w);
		MHD_suspend_connection(req->conn);
	}
	for (i = 0; i < n; i++) {
		if (lines[i] && gs->relay)
			relay_client_line(gs->relay, lines[i], strlen(lines[i]));
		free(lines[i]);
	}
	free(lines);
	if (req->waiting || req->answer)
		return MHD_YES;
	access_log(req, method, MHD_HTTP_ACCEPTED);
	req->answered = true;
	return reply(req->conn, MHD_HTTP_ACCEPTED, "application/json", "", gs->id, 0, NULL);
}

/* A body that is not one JSON-RPC message: a batch of a 2025-03-26 session, or a refusal. */
static enum MHD_Result post_array(struct gateway *g, struct gw_request *req, struct gw_session *gs,
				  enum mcp_era era, const char *method)
{
	cJSON *batch = NULL, *probe;
	char why[200];
	int r = gateway_batch_parse(req->body, req->len, &batch);
	enum MHD_Result ret;

	if (r == -E2BIG)
		return error_reply(req, MHD_HTTP_BAD_REQUEST, "a JSON-RPC batch holds at most 100 messages", 0);
	if (r < 0) {
		probe = cJSON_ParseWithLength(req->body, req->len);
		cJSON_Delete(probe);
		return rpc_error_reply(req, MHD_HTTP_BAD_REQUEST, probe ? JSONRPC_INVALID_REQUEST : JSONRPC_PARSE_ERROR,
				       probe ? "the body must be one JSON-RPC message (or, in a 2025-03-26 session, "
				       "a batch of them without initialize)" : "parse error: the body is not JSON",
				       NULL, 0, NULL);
	}
	if (era != MCP_ERA_LEGACY || !gs || strcmp(gs->version, "2025-03-26") != 0) {
		cJSON_Delete(batch);
		snprintf(why, sizeof(why), "JSON-RPC batches are only for sessions of protocol version 2025-03-26 "
			 "(this %s %s)", gs ? "session negotiated" : "request has",
			 gs ? gs->version : era == MCP_ERA_MODERN ? MCP_VERSION_MODERN : "no session");
		return error_reply(req, MHD_HTTP_BAD_REQUEST, why, 0);
	}
	ret = post_batch(g, req, gs, batch, method);
	cJSON_Delete(batch);
	return ret;
}

/* A POSTed body, complete: the era its headers and body speak decide the way. */
static enum MHD_Result post(struct gateway *g, struct gw_request *req, const char *method)
{
	const char *sid = header(req, "Mcp-Session-Id");
	const char *version = header(req, "MCP-Protocol-Version");
	struct gw_session *gs = NULL;
	enum jsonrpc_kind kind;
	enum MHD_Result ret;
	enum mcp_era era;
	cJSON *msg = NULL;
	char why[200];

	req->sse = gateway_accepts_sse(header(req, MHD_HTTP_HEADER_ACCEPT));
	if (g->stopping)
		return error_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "mcpd is shutting down", 0);
	if (gateway_body_parse(req->body, req->len, &msg, &kind) == 0)
		req->id = kind == JSONRPC_REQUEST ? jsonrpc_raw_id(req->body, req->len,
								    cJSON_GetObjectItemCaseSensitive(msg, "id")) : NULL;
	note_call(req, msg);
	era = gateway_post_era(version, msg);
	if (era == MCP_ERA_UNKNOWN) {
		cJSON_Delete(msg);
		return unsupported_version(req, version);
	}
	/* A modern request ignores Mcp-Session-Id: there are no sessions in 2026-07-28. */
	if (era == MCP_ERA_LEGACY)
		gs = find_session(g, sid, req->server, req->token);
	if (!msg)
		return post_array(g, req, gs, era, method);
	if (era == MCP_ERA_MODERN) {
		ret = post_modern(g, req, msg, kind, method);
		cJSON_Delete(msg);
		return ret;
	}
	if (gs && version && gs->version[0] && strcmp(version, gs->version) != 0) {
		char asked[36];

		cJSON_Delete(msg);
		gateway_printable(version, asked, sizeof(asked));
		snprintf(why, sizeof(why), "MCP-Protocol-Version header %s differs from the version this session "
			 "negotiated, %s", asked, gs->version);
		return error_reply(req, MHD_HTTP_BAD_REQUEST, why, 0);
	}
	if (!gs) {
		ret = open_session(g, req, sid, msg, method, &gs);
		if (!gs) {
			cJSON_Delete(msg);
			return ret;
		}
	}
	ret = relay_post(g, req, gs, msg, kind, method);
	cJSON_Delete(msg);
	return ret;
}

/*
 * The HTTP status of a modern answer: a method the server lacks is 404, the
 * specification's version, header and capability errors are 400.
 */
static unsigned answer_status(const struct gw_request *req)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(req->answer, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");

	if (!req->session->modern || !cJSON_IsNumber(code))
		return MHD_HTTP_OK;
	if (code->valuedouble == JSONRPC_METHOD_NOT_FOUND)
		return MHD_HTTP_NOT_FOUND;
	if (code->valuedouble == MCP_ERR_HEADER_MISMATCH || code->valuedouble == MCP_ERR_MISSING_CAPABILITY ||
	    code->valuedouble == MCP_ERR_UNSUPPORTED_VERSION)
		return MHD_HTTP_BAD_REQUEST;
	return MHD_HTTP_OK;
}

/* Resumed: the answer is here, or an error made for it. */
static enum MHD_Result answer(struct gw_request *req, const char *method)
{
	char *text = cJSON_PrintUnformatted(req->answer);
	unsigned status = answer_status(req);
	enum MHD_Result ret;

	req->answered = true;
	if (!text)
		return MHD_NO;
	if (req->relayed && req->session->relay)
		relay_count_out(req->session->relay, strlen(text));
	ret = reply(req->conn, status, "application/json", text, req->session->id, 0, NULL);
	access_log(req, method, status);
	free(text);
	return ret;
}

/* GET and DELETE are not part of 2026-07-28: a modern version header, or no session of a modern server. */
static bool modern_get(struct gw_request *req, const struct server *s, const char *sid)
{
	const char *version = header(req, "MCP-Protocol-Version");

	return (version && mcp_version_modern(version)) || (!sid && s && s->era == MCP_ERA_MODERN);
}

/*
 * The first call, on the headers alone: whatever can refuse the request does,
 * before any of its body is read. POST goes on to its body; GET and DELETE
 * are answered here.
 */
static enum MHD_Result admit(struct gateway *g, struct gw_request *req, const char *method)
{
	struct daemon *d = g->d;
	struct MHD_Connection *conn = req->conn;
	const char *sid = header(req, "Mcp-Session-Id");
	const char *length = header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *version = header(req, "MCP-Protocol-Version");
	double now = ev_time();
	char addr[INET6_ADDRSTRLEN], body[200];
	struct server *s;
	struct gw_session *gs;
	unsigned wait, reason = AUTH_MISSING;

	if (g->stopping)
		return error_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "mcpd is shutting down", 0);
	client_address(conn, addr, sizeof(addr));
	if ((wait = addr_throttled(g, addr, now))) {
		snprintf(body, sizeof(body), "too many failed authentications from %s; retry in %u s", addr, wait);
		return error_reply(req, MHD_HTTP_TOO_MANY_REQUESTS, body, wait);
	}
	if (!origin_allowed(d, conn)) {
		auth_failed(g, addr, now);
		return error_reply(req, MHD_HTTP_FORBIDDEN, "origin not allowed", 0);
	}
	if (auth_required(g) && !(req->token = authenticate(g, conn, addr, &reason))) {
		auth_failed(g, addr, now);
		return unauthorized(req, reason);
	}
	if ((wait = rate_limited(d, req->token, now))) {
		req->token->limited++;
		summary_start(g);
		return rate_refusal(req, wait);
	}
	if (req->token && req->server[0] && !agents_allows_server(d->manifest, req->token->name, req->server))
		return policy_forbidden(req, method);
	s = aggregate_url(req) ? NULL : daemon_find_server(d, req->server);
	if (!aggregate_url(req) && (!s || s->conf.transport != TRANSPORT_STDIO))
		return error_reply(req, MHD_HTTP_NOT_FOUND, s ? "the gateway serves stdio servers" : "no such server", 0);
	if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
		return error_reply(req, MHD_HTTP_METHOD_NOT_ALLOWED, "POST, GET or DELETE", 0);
	if (strcmp(method, "POST") != 0) {
		if (modern_get(req, s, sid))
			return rpc_error_reply(req, MHD_HTTP_METHOD_NOT_ALLOWED, JSONRPC_INVALID_REQUEST,
					       "protocol version " MCP_VERSION_MODERN " has no GET or DELETE: POST each "
					       "request (subscriptions/listen for notifications)", NULL, 0, "POST");
		if (version && !mcp_version_legacy(version))
			return unsupported_version(req, version);
	}
	gs = find_session(g, sid, req->server, req->token);
	if (gs && version && gs->version[0] && strcmp(version, gs->version) != 0 && strcmp(method, "POST") != 0) {
		char asked[36];

		gateway_printable(version, asked, sizeof(asked));
		snprintf(body, sizeof(body), "MCP-Protocol-Version header %s differs from the version this session "
			 "negotiated, %s", asked, gs->version);
		return error_reply(req, MHD_HTTP_BAD_REQUEST, body, 0);
	}

	if (strcmp(method, "DELETE") == 0) {
		if (!gs)
			return error_reply(req, MHD_HTTP_NOT_FOUND, "no such session", 0);
		if (gs->waiters)
			return error_reply(req, MHD_HTTP_CONFLICT, "requests of this session are still in flight", 0);
		close_session(gs, "deleted by its client");
		access_log(req, method, MHD_HTTP_OK);
		req->answered = true;
		return reply(conn, MHD_HTTP_OK, "application/json", "", NULL, 0, NULL);
	}
	if (strcmp(method, "GET") == 0) {
		struct MHD_Response *r;
		enum MHD_Result ret;

		if (!gs)
			return error_reply(req, sid ? MHD_HTTP_NOT_FOUND : MHD_HTTP_BAD_REQUEST,
					   "GET needs the Mcp-Session-Id of an open session", 0);
		if (gs->get.conn)
			return error_reply(req, MHD_HTTP_CONFLICT, "this session has a stream open already", 0);
		if (stream_budget(g, req, method, &ret))
			return ret;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, gs, stream_ended);
		if (!r)
			return MHD_NO;
		gs->get.conn = conn;
		gs->refs++;
		g->nstreams++;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		MHD_add_response_header(r, "X-Accel-Buffering", "no");
		/* Not the short timeout of the header phase: a stream is quiet for long. */
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)STREAM_TIMEOUT_SECONDS);
		ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		access_log(req, method, MHD_HTTP_OK);
		req->answered = true;
		return ret;
	}
	if (length) {
		uint64_t n;

		if (gateway_content_length(length, &n) < 0 || n > GATEWAY_MAX_BODY)
			return error_reply(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than 4 MiB", 0);
		if (g->buffered + n > GATEWAY_MAX_BUFFERED) {
			g->busy++;
			summary_start(g);
			return error_reply(req, MHD_HTTP_SERVICE_UNAVAILABLE, "mcpd holds too many request bodies", 1);
		}
	}
	return MHD_YES;
}

/* A piece of the body: bounded per request (4 MiB) and for all requests together. */
static enum MHD_Result take_body(struct gateway *g, struct gw_request *req, const char *data, size_t *size)
{
	size_t n = *size;

	*size = 0;
	if (req->len + n > GATEWAY_MAX_BODY || g->buffered + n > GATEWAY_MAX_BUFFERED) {
		/* Only a chunked body can get here (Content-Length is checked on the headers). */
		log_info(req->server, NULL, "gateway: a chunked request body passed %s; closing its connection",
			 req->len + n > GATEWAY_MAX_BODY ? "4 MiB" : "the budget of all bodies");
		return MHD_NO;
	}
	req->body = xrealloc(req->body, req->len + n + 1);
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
	g->buffered += n;
	return MHD_YES;
}

static void copy_printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

enum MHD_Result gateway_request(struct gateway *g, struct MHD_Connection *conn, const char *url, const char *method,
				const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct gw_request *req = *con_cls;

	if (!req) {
		req = xcalloc(1, sizeof(*req));
		req->g = g;
		req->conn = conn;
		req->started = ev_time();
		sseq_init(&req->out);
		/* "/mcp": the aggregate endpoint, whose server is ""; "/mcp/" names no server ("/" is none's name). */
		copy_printable(req->server, sizeof(req->server), url[4] != '/' ? "" : url[5] ? url + 5 : "/");
		*con_cls = req;
		return admit(g, req, method);
	}
	if (req->answered)
		return *upload_data_size > 0 ? MHD_NO : MHD_YES;
	if (*upload_data_size > 0)
		return take_body(g, req, upload_data, upload_data_size);
	if (req->answer)
		return answer(req, method);
	if (req->streaming)
		return start_stream(req, method);
	if (req->waiting)
		return MHD_YES;	/* woken without an answer: cannot happen, but never reply twice */
	return post(g, req, method);
}

void gateway_request_done(struct gateway *g, void *con_cls)
{
	struct gw_request *req = con_cls;

	if (!req)
		return;
	if (req->waiting) {
		/* The client left before its answer (or closed its stream): the server need not finish it. */
		cancel_upstream(req, "the HTTP client disconnected", false);
		waiter_unlink(req);
		access_log(req, "POST", 0);	/* only a POST waits */
	}
	ev_timer_stop(g->d->loop, &req->keepalive_w);
	sseq_clear(g, &req->out);
	body_release(req);
	if (req->stream_counted)
		g->nstreams--;
	if (req->session) {
		/* A modern request's session ends with it: what it still had upstream is cancelled. */
		if (req->session->modern)
			close_session(req->session, "its request is done");
		session_unref(req->session);
	}
	cJSON_Delete(req->id);
	cJSON_Delete(req->answer);
	cJSON_Delete(req->progress_token);
	cJSON_Delete(req->batch);
	cJSON_Delete(req->answers);
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
	const char *path = d->manifest->mcpd.gateway.tokens_file;

	g->d = d;
	g->kick = run;
	g->kick_arg = arg;
	ev_timer_init(&g->kick_w, on_kick, 0., 0.);
	ev_init(&g->sweep_w, on_sweep);
	g->sweep_w.repeat = SWEEP_SECONDS;
	ev_init(&g->summary_w, on_summary);
	g->summary_w.repeat = GATEWAY_SUMMARY_SECONDS;
	ev_check_init(&g->reap_w, on_reap);
	g->kick_w.data = g->sweep_w.data = g->summary_w.data = g->reap_w.data = g;
	if (path) {
		struct token_entry *t = NULL;
		size_t n = 0;

		if (tokens_load(path, &t, &n, ret_error) < 0) {
			gateway_free(g);
			return NULL;
		}
		g->tokens = xcalloc(n ? n : 1, sizeof(*g->tokens));
		for (size_t i = 0; i < n; i++) {
			g->tokens[i].name = t[i].name;
			g->tokens[i].secret = t[i].secret;
		}
		g->ntokens = n;
		free(t);	/* the strings moved to g->tokens */
	}
	g->jwks = jwks_source_new(d);
	warn_unlisted_tokens(g);
	if (!auth_required(g))
		log_notice(NULL, NULL, "gateway: no tokens_file and no jwt: every local client may use /mcp/NAME");
	return g;
}

void gateway_wake_all(struct gateway *g)
{
	g->stopping = true;
	for (struct gw_session *gs = g->sessions; gs; gs = gs->next)
		close_session(gs, "mcpd is shutting down");
}

void gateway_free(struct gateway *g)
{
	if (!g)
		return;
	gateway_wake_all(g);
	ev_timer_stop(g->d->loop, &g->kick_w);
	ev_timer_stop(g->d->loop, &g->sweep_w);
	ev_timer_stop(g->d->loop, &g->summary_w);
	ev_check_stop(g->d->loop, &g->reap_w);
	/* MHD has stopped: no request or stream points at a session any more. */
	while (g->sessions) {
		struct gw_session *gs = g->sessions;

		g->sessions = gs->next;
		sseq_clear(g, &gs->get);
		free(gs->server);
		free(gs);
	}
	for (size_t i = 0; i < g->ntokens; i++) {
		explicit_bzero(g->tokens[i].secret, strlen(g->tokens[i].secret));
		free(g->tokens[i].secret);
		free(g->tokens[i].name);
	}
	free(g->tokens);
	for (size_t i = 0; i < g->nagents; i++) {
		free(g->agents[i]->name);
		free(g->agents[i]);
	}
	free(g->agents);
	jwks_source_free(g->jwks);
	free(g);
}
