/* Per-client state of relay sessions on a shared legacy-era server: see relay-state.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "daemon.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-era.h"
#include "relay.h"
#include "relay-era.h"
#include "relay-internal.h"
#include "relay-state.h"
#include "server.h"
#include "xmalloc.h"

/* Refusals of the server's requests closer together than this are one burst: logged once, counted. */
#define BURST_SECONDS	10.

/* RFC 5424 severities, in the order of logging/setLevel: a level lets through itself and what follows. */
static const char *const level_names[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
};
#define LEVEL_NONE	(-1)
#define LEVEL_INFO	1
#define LEVEL_WARNING	3
#define NLEVELS		((int)(sizeof(level_names) / sizeof(level_names[0])))

/* A URI clients hold: the server is subscribed to it once, for all of them. */
struct held_uri {
	char *uri;
	size_t len;
	uint64_t hash;
	size_t holders;		/* sessions holding it */
	struct held_uri *next;	/* in its bucket */
};

struct subscription {
	struct held_uri *held;
	cJSON *await_id;	/* the client's id of its subscribe while the server has not answered it */
};

struct session_state {
	struct subscription *subs;
	size_t nsubs, cap;
	size_t nawaiting;	/* subscriptions with an await_id */
	int level;		/* what the client set with logging/setLevel; LEVEL_NONE: nothing */
	uint64_t active;	/* the relay's clock at the client's last request */
	uint64_t refused_subs;	/* subscriptions refused past RELAY_MAX_SUBSCRIPTIONS */
	cJSON *moving;		/* its URIs between relay_state_move_out and _in (replicas: N), else NULL */
};

struct relay_state {
	uint64_t clock;		/* counts the clients' requests: "most recently active" */
	int upstream_level;	/* what mcpd set upstream for its clients; LEVEL_NONE: nothing */
	double burst_since;	/* the first refusal of the current burst */
	uint64_t burst_refused;	/* refusals in it */
	char burst_what[200];	/* the last refusal's reason, for the summary */
	struct held_uri **table;	/* the URIs held, by hash: no scan of every client's list */
	size_t nbuckets, nheld;
};

static struct relay_state *rstate(struct server *s)
{
	struct relay_state **slot = relay_state_slot(s);

	if (!*slot) {
		*slot = xcalloc(1, sizeof(**slot));
		(*slot)->upstream_level = LEVEL_NONE;
	}
	return *slot;
}

static struct session_state *sstate(struct session *sess)
{
	struct session_state **slot = relay_session_state(sess);

	if (!*slot) {
		*slot = xcalloc(1, sizeof(**slot));
		(*slot)->level = LEVEL_NONE;
	}
	return *slot;
}

static int level_of(const char *name)
{
	for (int i = 0; name && i < NLEVELS; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return LEVEL_NONE;
}

/* The server speaks the 2025 era (initialize): the only one where this state lives in mcpd. */
static bool legacy_upstream(const struct server *s)
{
	return s->init_result && s->era != MCP_ERA_MODERN;
}

/*
 * Subscriptions and log levels are per session for a client of the 2025 era,
 * and for one that never sent initialize (a raw client): not for a 2026 one,
 * whose requests carry their own.
 */
static bool legacy_session(const struct session *sess)
{
	return relay_session_era(sess) != MCP_ERA_MODERN;
}

/* A client that sent initialize: it declared what it answers, and knows the server restarted. */
static bool initialized_session(const struct session *sess)
{
	return relay_session_era(sess) == MCP_ERA_LEGACY;
}

static const cJSON *param(const cJSON *msg, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "params"), name);
}

/* The server's capabilities, from whichever handshake it answered. */
static const cJSON *server_capabilities(const struct server *s)
{
	const cJSON *result = s->init_result ? s->init_result : s->discover_result;

	return cJSON_GetObjectItemCaseSensitive(result, "capabilities");
}

static void answer(struct session *sess, const cJSON *id, cJSON *result)
{
	cJSON *msg = jsonrpc_result_new(id, result);

	relay_session_send(sess, msg);
	cJSON_Delete(msg);
}

static void answer_error(struct session *sess, const cJSON *id, int code, const char *text)
{
	cJSON *msg = jsonrpc_error_new(id, code, text, NULL);

	relay_session_send(sess, msg);
	cJSON_Delete(msg);
}

/* A request of mcpd's own: its answer finds no pending request in relay.c and is dropped there. */
static void to_server(struct server *s, const char *method, cJSON *params)
{
	cJSON *id = cJSON_CreateNumber((double)relay_new_sid(s));
	cJSON *msg = jsonrpc_request_new(id, method, params);

	server_send(s, msg);
	cJSON_Delete(msg);
	cJSON_Delete(id);
}

static void notify(struct session *sess, const char *method, cJSON *params)
{
	cJSON *msg = jsonrpc_notification_new(method, params);

	relay_session_send(sess, msg);
	cJSON_Delete(msg);
}

/* ---- subscriptions ------------------------------------------------------ */

/* FNV-1a: the hash of a prefix extends to the whole, which matching sub-resources needs. */
#define HASH_SEED	UINT64_C(14695981039346656037)
#define HASH_PRIME	UINT64_C(1099511628211)

static uint64_t hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * HASH_PRIME;
}

static uint64_t hash_uri(const char *uri, size_t len)
{
	uint64_t h = HASH_SEED;

	for (size_t i = 0; i < len; i++)
		h = hash_step(h, (unsigned char)uri[i]);
	return h;
}

static struct held_uri *lookup(const struct relay_state *rs, const char *uri, size_t len, uint64_t hash)
{
	if (!rs->table)
		return NULL;
	for (struct held_uri *e = rs->table[hash % rs->nbuckets]; e; e = e->next)
		if (e->hash == hash && e->len == len && memcmp(e->uri, uri, len) == 0)
			return e;
	return NULL;
}

static void grow(struct relay_state *rs)
{
	size_t n = rs->nbuckets ? 2 * rs->nbuckets : 64;
	struct held_uri **table = xcalloc(n, sizeof(*table));

	for (size_t b = 0; b < rs->nbuckets; b++) {
		while (rs->table[b]) {
			struct held_uri *e = rs->table[b];

			rs->table[b] = e->next;
			e->next = table[e->hash % n];
			table[e->hash % n] = e;
		}
	}
	free(rs->table);
	rs->table = table;
	rs->nbuckets = n;
}

/* One more session holds uri. */
static struct held_uri *hold(struct relay_state *rs, const char *uri, size_t len, uint64_t hash)
{
	struct held_uri *e = lookup(rs, uri, len, hash);

	if (!e) {
		if (rs->nheld >= 2 * rs->nbuckets)
			grow(rs);
		e = xcalloc(1, sizeof(*e));
		e->uri = xstrndup(uri, len);
		e->len = len;
		e->hash = hash;
		e->next = rs->table[hash % rs->nbuckets];
		rs->table[hash % rs->nbuckets] = e;
		rs->nheld++;
	}
	e->holders++;
	return e;
}

/* One session less holds it; the last one frees it. */
static void release(struct relay_state *rs, struct held_uri *e)
{
	if (--e->holders > 0)
		return;
	for (struct held_uri **pp = &rs->table[e->hash % rs->nbuckets]; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	rs->nheld--;
	free(e->uri);
	free(e);
}

static ssize_t find_sub(const struct session_state *st, const struct held_uri *e)
{
	for (size_t i = 0; st && e && i < st->nsubs; i++)
		if (st->subs[i].held == e)
			return (ssize_t)i;
	return -1;
}

static void add_sub(struct session_state *st, struct held_uri *e, const cJSON *await_id)
{
	if (st->nsubs == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 8;
		st->subs = xreallocarray(st->subs, st->cap, sizeof(*st->subs));
	}
	st->subs[st->nsubs].held = e;
	st->subs[st->nsubs].await_id = await_id ? cJSON_Duplicate(await_id, 1) : NULL;
	if (await_id)
		st->nawaiting++;
	st->nsubs++;
}

static void forget_await(struct session_state *st, struct subscription *sub)
{
	if (sub->await_id) {
		cJSON_Delete(sub->await_id);
		sub->await_id = NULL;
		st->nawaiting--;
	}
}

static void drop_sub(struct relay_state *rs, struct session_state *st, size_t i)
{
	forget_await(st, &st->subs[i]);
	release(rs, st->subs[i].held);
	st->subs[i] = st->subs[--st->nsubs];
}

/* Unsubscribe the server from a URI no client holds any more (nor a listen mcpd emulates). */
static void unsubscribe_upstream(struct server *s, const struct held_uri *e)
{
	cJSON *params;

	if (!legacy_upstream(s) || relay_listeners_of(s, e->uri) > 0)
		return;
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "uri", e->uri);
	to_server(s, "resources/unsubscribe", params);
}

/* Ready for a request: the test relay.c makes before forwarding one. */
static bool server_usable(const struct server *s)
{
	return (s->state == ST_RUNNING || s->state == ST_UNHEALTHY) && legacy_upstream(s) && s->stdin_fd >= 0;
}

static bool subscribe(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = relay_session_server(sess);
	struct relay_state *rs = rstate(s);
	const char *uri = cJSON_GetStringValue(param(req, "uri"));
	struct session_state *st = sstate(sess);
	struct held_uri *e;
	char text[200];
	uint64_t hash;
	size_t len;

	if (!uri)
		return false;	/* the server says what is wrong with it */
	len = strlen(uri);
	if (len > RELAY_MAX_URI) {
		snprintf(text, sizeof(text), "invalid params: the URI is %zu bytes long; mcpd subscribes to URIs of "
			 "at most %d bytes", len, RELAY_MAX_URI);
		answer_error(sess, id, JSONRPC_INVALID_PARAMS, text);
		return true;
	}
	hash = hash_uri(uri, len);
	e = lookup(rs, uri, len, hash);
	if (find_sub(st, e) >= 0) {
		answer(sess, id, cJSON_CreateObject());
		return true;
	}
	if (st->nsubs >= RELAY_MAX_SUBSCRIPTIONS) {
		if (st->refused_subs++ == 0)
			log_warning(s->conf.name, NULL, "an MCP client holds %d subscriptions, the most mcpd keeps for "
				    "one client; refusing more until it unsubscribes", RELAY_MAX_SUBSCRIPTIONS);
		snprintf(text, sizeof(text), "this client holds %d subscriptions, the most mcpd keeps for one client; "
			 "unsubscribe from one first", RELAY_MAX_SUBSCRIPTIONS);
		answer_error(sess, id, MCPD_ERR_UNAVAILABLE, text);
		return true;
	}
	if (e || relay_listeners_of(s, uri) > 0) {
		/* The server sends this URI's updates already: one subscription upstream serves all. */
		add_sub(st, hold(rs, uri, len, hash), NULL);
		answer(sess, id, cJSON_CreateObject());
		return true;
	}
	if (!server_usable(s))
		return false;	/* relay.c answers with the server's state */
	add_sub(st, hold(rs, uri, len, hash), cJSON_GetObjectItemCaseSensitive(req, "id"));
	return false;		/* forwarded: the client gets the server's answer */
}

static bool unsubscribe(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = relay_session_server(sess);
	struct relay_state *rs = rstate(s);
	const char *uri = cJSON_GetStringValue(param(req, "uri"));
	struct session_state *st = sstate(sess);
	struct held_uri *e;
	ssize_t i;

	if (!uri)
		return false;
	e = lookup(rs, uri, strlen(uri), hash_uri(uri, strlen(uri)));
	i = find_sub(st, e);
	if ((!e || (i >= 0 && e->holders == 1)) && relay_listeners_of(s, uri) == 0) {
		if (i >= 0)
			drop_sub(rs, st, (size_t)i);
		return false;	/* the last holder's, or nobody's: the server answers */
	}
	if (i >= 0)
		drop_sub(rs, st, (size_t)i);
	/* Others still want its updates: another client, or a 2026 client's listen. */
	answer(sess, id, cJSON_CreateObject());
	return true;
}

/*
 * Does the session hold the updated resource, or one it is under? The spec
 * lets the server report a sub-resource of the one subscribed to. The hashes
 * of the URI's prefixes make each subscription one comparison.
 */
static bool holds_update(const struct session_state *st, const char *uri)
{
	size_t n, m;
	uint64_t *prefix;
	bool found = false;

	if (!st || st->nsubs == 0)
		return false;
	n = strlen(uri);
	m = n < RELAY_MAX_URI ? n : RELAY_MAX_URI;
	prefix = xmalloc((m + 1) * sizeof(*prefix));
	prefix[0] = HASH_SEED;
	for (size_t i = 0; i < m; i++)
		prefix[i + 1] = hash_step(prefix[i], (unsigned char)uri[i]);
	for (size_t i = 0; i < st->nsubs && !found; i++) {
		const struct held_uri *e = st->subs[i].held;

		if (e->len > m || prefix[e->len] != e->hash || memcmp(e->uri, uri, e->len) != 0)
			continue;
		found = e->len == n || uri[e->len] == '/' || uri[e->len] == '#' || uri[e->len] == '?' ||
			(e->len > 0 && e->uri[e->len - 1] == '/');
	}
	free(prefix);
	return found;
}

bool relay_state_holds(struct server *s, const char *uri)
{
	const struct relay_state *rs = *relay_state_slot(s);

	return rs && lookup(rs, uri, strlen(uri), hash_uri(uri, strlen(uri)));
}

/* ---- log levels --------------------------------------------------------- */

/* The most verbose level the attached clients asked for; LEVEL_NONE when none asked. */
static int wanted_level(struct server *s)
{
	int want = LEVEL_NONE;

	for (struct session *it = relay_first_session(s); it; it = relay_next_session(it)) {
		const struct session_state *st = *relay_session_state(it);

		if (st && legacy_session(it) && st->level != LEVEL_NONE && (want == LEVEL_NONE || st->level < want))
			want = st->level;
	}
	return want;
}

/*
 * The server gets the most verbose level a client asked for, when that
 * changes. When no client holds one any more the server keeps the last one:
 * MCP cannot unset a level.
 */
static void update_upstream_level(struct server *s)
{
	struct relay_state *rs = rstate(s);
	int want = wanted_level(s);
	cJSON *params;

	if (want == LEVEL_NONE || want == rs->upstream_level || !legacy_upstream(s))
		return;
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "level", level_names[want]);
	to_server(s, "logging/setLevel", params);
	log_info(s->conf.name, NULL, "log level of the server set to %s, the most verbose its MCP clients asked for",
		 level_names[want]);
	rs->upstream_level = want;
}

static bool set_level(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = relay_session_server(sess);
	const char *name = cJSON_GetStringValue(param(req, "level"));
	int level = level_of(name);

	if (!cJSON_GetObjectItemCaseSensitive(server_capabilities(s), "logging"))
		return false;	/* the server does no logging: it answers for itself */
	if (level == LEVEL_NONE) {
		answer_error(sess, id, JSONRPC_INVALID_PARAMS,
			     "invalid params: \"level\" must be one of debug, info, notice, warning, error, critical, "
			     "alert, emergency");
		return true;
	}
	sstate(sess)->level = level;
	update_upstream_level(s);
	answer(sess, id, cJSON_CreateObject());
	return true;
}

/*
 * A client that set a level gets what it allows; one that set none gets
 * "info" and above while mcpd set the server's level for another client
 * (which may be "debug"), and everything the server sends otherwise.
 */
static bool level_allows(struct server *s, const struct session_state *st, int level)
{
	const struct relay_state *rs = *relay_state_slot(s);

	if (level == LEVEL_NONE)
		return true;	/* a level mcpd does not know: the client judges */
	if (st && st->level != LEVEL_NONE)
		return level >= st->level;
	if (rs && rs->upstream_level != LEVEL_NONE)
		return level >= LEVEL_INFO;
	return true;
}

/* ---- hooks -------------------------------------------------------------- */

bool relay_state_request(struct session *sess, const cJSON *req, const cJSON *id)
{
	struct server *s = relay_session_server(sess);
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));

	sstate(sess)->active = ++rstate(s)->clock;
	if (!method || !legacy_session(sess) || !legacy_upstream(s))
		return false;
	if (strcmp(method, "resources/subscribe") == 0)
		return subscribe(sess, req, id);
	if (strcmp(method, "resources/unsubscribe") == 0)
		return unsubscribe(sess, req, id);
	if (strcmp(method, "logging/setLevel") == 0)
		return set_level(sess, req, id);
	return false;
}

void relay_state_answered(struct session *sess, const cJSON *client_id, const cJSON *msg)
{
	struct session_state *st = *relay_session_state(sess);

	if (!st || st->nawaiting == 0)
		return;
	for (size_t i = 0; i < st->nsubs; i++) {
		struct subscription *sub = &st->subs[i];

		if (!sub->await_id || !cJSON_Compare(sub->await_id, client_id, 1))
			continue;
		if (cJSON_GetObjectItemCaseSensitive(msg, "error"))
			drop_sub(rstate(relay_session_server(sess)), st, i);	/* refused: nothing to share or renew */
		else
			forget_await(st, sub);
		return;
	}
}

bool relay_state_wants(struct session *sess, const cJSON *msg)
{
	struct server *s = relay_session_server(sess);
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	const struct session_state *st = *relay_session_state(sess);

	if (!method || !legacy_session(sess) || !legacy_upstream(s))
		return true;
	if (strcmp(method, "notifications/resources/updated") == 0) {
		const char *uri = cJSON_GetStringValue(param(msg, "uri"));

		return !uri || holds_update(st, uri);
	}
	if (strcmp(method, "notifications/message") == 0)
		return level_allows(s, st, level_of(cJSON_GetStringValue(param(msg, "level"))));
	return true;
}

/* ---- requests of the server's ------------------------------------------- */

/* The capability a client declares to take this request; NULL: any client takes it. */
static const char *capability_for(const char *method)
{
	static const struct {
		const char *method, *capability;
	} table[] = {
		{ "sampling/createMessage", "sampling" },
		{ "elicitation/create", "elicitation" },
		{ "roots/list", "roots" },
	};

	for (size_t i = 0; method && i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(method, table[i].method) == 0)
			return table[i].capability;
	return NULL;
}

static bool can_answer(struct session *sess, const void *arg)
{
	const char *capability = arg;
	const cJSON *declared;

	if (!relay_session_takes_requests(sess))
		return false;	/* a 2026 client's server asks with input_required */
	if (!capability)
		return true;
	if (!initialized_session(sess))
		return false;	/* it declared nothing */
	declared = cJSON_GetObjectItemCaseSensitive(relay_session_capabilities(sess), capability);
	return declared && !cJSON_IsNull(declared) && !cJSON_IsFalse(declared);
}

/* The refusals of a burst that were not logged one by one. */
static void end_burst(struct server *s, struct relay_state *rs)
{
	if (rs->burst_refused > 1)
		log_notice(s->conf.name, NULL, "answered %" PRIu64 " more requests of the server with an error in %.0fs "
			   "(%s)", rs->burst_refused - 1, ev_now(s->d->loop) - rs->burst_since, rs->burst_what);
	rs->burst_refused = 0;
}

/* Clients are attached, and none of them takes requests: 2026 clients only. */
static bool only_modern(struct server *s)
{
	for (struct session *it = relay_first_session(s); it; it = relay_next_session(it))
		if (relay_session_takes_requests(it))
			return false;
	return relay_first_session(s) != NULL;
}

static void refuse(struct server *s, const cJSON *req, const char *method, const char *capability)
{
	struct relay_state *rs = rstate(s);
	double now = ev_now(s->d->loop);
	int code = JSONRPC_METHOD_NOT_FOUND;
	char text[200];
	cJSON *reply;

	if (only_modern(s)) {
		code = MCPD_ERR_NOT_BRIDGED;
		snprintf(text, sizeof(text), "the MCP client speaks %s, which has no server-to-client requests; "
			 "mcpd cannot bridge this %.40s", MCP_VERSION_MODERN, method ? method : "request");
	} else if (capability) {
		snprintf(text, sizeof(text), "no MCP client attached to mcpd declared the %s capability", capability);
	} else {
		snprintf(text, sizeof(text), "no MCP client attached to mcpd can answer %.64s", method ? method : "?");
	}
	reply = jsonrpc_error_new(cJSON_GetObjectItemCaseSensitive(req, "id"), code, text, NULL);
	server_send(s, reply);
	cJSON_Delete(reply);
	if (rs->burst_refused > 0 && now - rs->burst_since < BURST_SECONDS) {
		rs->burst_refused++;
		snprintf(rs->burst_what, sizeof(rs->burst_what), "%s", text);
		return;
	}
	end_burst(s, rs);
	/* With no client attached it is routine (roots/list after every start): no warning then. */
	log_msg(relay_first_session(s) ? LOG_LVL_WARNING : LOG_LVL_INFO, s->conf.name, NULL,
		"answered the server's %.64s with an error: %s (the request that caused it fails; more within %.0fs "
		"are counted)", method ? method : "request", text, BURST_SECONDS);
	rs->burst_since = now;
	rs->burst_refused = 1;
	snprintf(rs->burst_what, sizeof(rs->burst_what), "%s", text);
}

/*
 * Nothing in a stdio message names the request that caused it: the client
 * whose request in flight was forwarded last is the likeliest cause.
 */
struct session *relay_state_pick(struct server *s, const cJSON *req)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	const char *capability = capability_for(method);
	struct session *sess = relay_newest_requester(s, can_answer, capability);

	if (!sess) {
		uint64_t best = 0;

		for (struct session *it = relay_first_session(s); it; it = relay_next_session(it)) {
			const struct session_state *st = *relay_session_state(it);
			uint64_t active = st ? st->active : 0;

			if (can_answer(it, capability) && (!sess || active >= best)) {
				sess = it;
				best = active;
			}
		}
	}
	if (!sess) {
		refuse(s, req, method, capability);
		return NULL;
	}
	if (*relay_state_slot(s))
		end_burst(s, *relay_state_slot(s));
	return sess;
}

/* ---- detach, restart, free ---------------------------------------------- */

void relay_state_detach(struct session *sess)
{
	struct server *s = relay_session_server(sess);
	struct session_state *st = *relay_session_state(sess);
	bool had_level;

	if (!st)
		return;
	while (st->nsubs > 0) {
		if (st->subs[st->nsubs - 1].held->holders == 1)
			unsubscribe_upstream(s, st->subs[st->nsubs - 1].held);
		drop_sub(rstate(s), st, st->nsubs - 1);
	}
	if (st->refused_subs > 1)
		log_notice(s->conf.name, NULL, "refused %" PRIu64 " subscriptions of the MCP client that left, past the "
			   "%d mcpd keeps for one client", st->refused_subs, RELAY_MAX_SUBSCRIPTIONS);
	had_level = st->level != LEVEL_NONE;
	st->level = LEVEL_NONE;
	if (had_level)
		update_upstream_level(s);
}

/* The list_changed notifications a restarted server's clients get. */
static void tell_restarted(struct server *s, struct session *sess, const char *text)
{
	const cJSON *caps = server_capabilities(s);
	const struct session_state *st = *relay_session_state(sess);
	static const char *const lists[] = { "prompts", "resources" };

	notify(sess, "notifications/tools/list_changed", NULL);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		char method[64];

		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(caps, lists[i]),
								   "listChanged")))
			continue;
		snprintf(method, sizeof(method), "notifications/%s/list_changed", lists[i]);
		notify(sess, method, NULL);
	}
	if (st && st->level != LEVEL_NONE && st->level <= LEVEL_WARNING) {
		cJSON *params = cJSON_CreateObject();

		cJSON_AddStringToObject(params, "level", level_names[LEVEL_WARNING]);
		cJSON_AddStringToObject(params, "logger", "mcpd");
		cJSON_AddStringToObject(params, "data", text);
		notify(sess, "notifications/message", params);
	}
}

/* Each URI a client holds is subscribed to once. */
static size_t renew_subscriptions(struct server *s, struct relay_state *rs)
{
	size_t n = 0;

	/* A subscribe in flight when the process died was answered with an error: not held. */
	for (struct session *it = relay_first_session(s); it; it = relay_next_session(it)) {
		struct session_state *st = *relay_session_state(it);

		for (size_t i = 0; st && st->nawaiting > 0 && i < st->nsubs;) {
			if (st->subs[i].await_id)
				drop_sub(rs, st, i);
			else
				i++;
		}
	}
	for (size_t b = 0; b < rs->nbuckets; b++) {
		for (const struct held_uri *e = rs->table[b]; e; e = e->next) {
			cJSON *params = cJSON_CreateObject();

			cJSON_AddStringToObject(params, "uri", e->uri);
			to_server(s, "resources/subscribe", params);
			n++;
		}
	}
	return n;
}

/*
 * The process speaks the legacy era, its predecessor spoke 2026-07-28 (the
 * command changed, or it was upgraded): what relay.c kept of its legacy
 * clients for that one, their URIs and level, is held here now.
 */
static void adopt_bridged(struct server *s, struct relay_state *rs)
{
	for (struct session *it = relay_first_session(s); it; it = relay_next_session(it)) {
		cJSON **uris = relay_session_uris(it);
		char *level = relay_session_log_level(it);
		struct session_state *st;
		const cJSON *u;

		if (!initialized_session(it) || (!cJSON_GetArraySize(*uris) && !level[0]))
			continue;
		st = sstate(it);
		cJSON_ArrayForEach(u, *uris) {
			size_t len = strlen(u->valuestring);
			uint64_t hash = hash_uri(u->valuestring, len);

			if (st->nsubs < RELAY_MAX_SUBSCRIPTIONS &&
			    find_sub(st, lookup(rs, u->valuestring, len, hash)) < 0)
				add_sub(st, hold(rs, u->valuestring, len, hash), NULL);
		}
		cJSON_Delete(*uris);
		*uris = NULL;
		if (level[0] && st->level == LEVEL_NONE)
			st->level = level_of(level);
		level[0] = '\0';
	}
}

/* The other way: a process of 2026-07-28 follows one of the legacy era. */
static void hand_over(struct server *s, struct relay_state *rs)
{
	for (struct session *it = relay_first_session(s); it; it = relay_next_session(it)) {
		struct session_state *st = *relay_session_state(it);
		cJSON **uris = relay_session_uris(it);

		if (!st || !initialized_session(it) || (st->nsubs == 0 && st->level == LEVEL_NONE))
			continue;
		while (st->nsubs > 0) {
			const struct subscription *sub = &st->subs[st->nsubs - 1];

			/* Its subscribe in flight failed with the process: not held. Past 256, not bridged. */
			if (!sub->await_id && cJSON_GetArraySize(*uris) < RELAY_ERA_MAX_URIS &&
			    sub->held->len <= RELAY_ERA_MAX_URI) {
				if (!*uris)
					*uris = cJSON_CreateArray();
				cJSON_AddItemToArray(*uris, cJSON_CreateString(sub->held->uri));
			}
			drop_sub(rs, st, st->nsubs - 1);
		}
		if (st->level != LEVEL_NONE)
			snprintf(relay_session_log_level(it), 16, "%s", level_names[st->level]);
		st->level = LEVEL_NONE;
		relay_session_rebridge(it);
	}
}

void relay_state_move_out(struct session *sess)
{
	struct server *s = relay_session_server(sess);
	struct session_state *st = *relay_session_state(sess);

	if (!st)
		return;
	cJSON_Delete(st->moving);
	st->moving = cJSON_CreateArray();
	while (st->nsubs > 0) {
		const struct subscription *sub = &st->subs[st->nsubs - 1];

		/* A subscribe in flight failed with the process: not held. The process is gone: nothing to unsubscribe. */
		if (!sub->await_id)
			cJSON_AddItemToArray(st->moving, cJSON_CreateString(sub->held->uri));
		drop_sub(rstate(s), st, st->nsubs - 1);
	}
}

void relay_state_move_in(struct session *sess)
{
	struct server *s = relay_session_server(sess);
	struct session_state *st = *relay_session_state(sess);
	struct relay_state *rs = rstate(s);
	const cJSON *u;
	char text[160];

	if (st && st->moving && legacy_upstream(s)) {
		cJSON_ArrayForEach(u, st->moving) {
			size_t len = strlen(u->valuestring);
			struct held_uri *e = hold(rs, u->valuestring, len, hash_uri(u->valuestring, len));

			add_sub(st, e, NULL);
			if (e->holders == 1 && relay_listeners_of(s, e->uri) == 0 && server_usable(s)) {
				cJSON *params = cJSON_CreateObject();

				cJSON_AddStringToObject(params, "uri", e->uri);
				to_server(s, "resources/subscribe", params);
			}
		}
		if (st->level != LEVEL_NONE)
			update_upstream_level(s);
	} else if (st && initialized_session(sess)) {
		/* The new replica speaks 2026-07-28: relay.c bridges the URIs and level with a listen. */
		cJSON **uris = relay_session_uris(sess);

		cJSON_ArrayForEach(u, st->moving) {
			if (cJSON_GetArraySize(*uris) >= RELAY_ERA_MAX_URIS || strlen(u->valuestring) > RELAY_ERA_MAX_URI)
				break;
			if (!*uris)
				*uris = cJSON_CreateArray();
			cJSON_AddItemToArray(*uris, cJSON_CreateString(u->valuestring));
		}
		if (st->level != LEVEL_NONE)
			snprintf(relay_session_log_level(sess), 16, "%s", level_names[st->level]);
		st->level = LEVEL_NONE;
	}
	if (st) {
		cJSON_Delete(st->moving);
		st->moving = NULL;
	}
	if (initialized_session(sess)) {
		snprintf(text, sizeof(text), "the server's replica went away; this session moved to %.64s, its "
			 "subscriptions were renewed there", s->conf.name);
		tell_restarted(s, sess, text);
	}
}

void relay_state_ready(struct server *s)
{
	struct relay_state *rs;
	size_t renewed = 0, told = 0;
	char text[160];

	/* A session of the 2025 era initialized with an earlier process: this one is a restart for it. */
	if (!relay_first_session(s))
		return;
	rs = rstate(s);
	if (!legacy_upstream(s))
		hand_over(s, rs);
	if (legacy_upstream(s)) {
		adopt_bridged(s, rs);
		rs->upstream_level = LEVEL_NONE;
		renewed = renew_subscriptions(s, rs);
		update_upstream_level(s);
	}
	snprintf(text, sizeof(text), "server %.64s restarted; its subscriptions were renewed", s->conf.name);
	for (struct session *it = relay_first_session(s), *next; it; it = next) {
		next = relay_next_session(it);
		if (!initialized_session(it))
			continue;
		tell_restarted(s, it, text);
		told++;
	}
	if (told > 0)
		log_info(s->conf.name, NULL, "told %zu MCP clients the server restarted; renewed %zu subscriptions%s%s",
			 told, renewed, rs->upstream_level != LEVEL_NONE ? " and log level " : "",
			 rs->upstream_level != LEVEL_NONE ? level_names[rs->upstream_level] : "");
}

/* Its subscriptions were given up on detach; the URIs belong to the relay's table. */
void relay_state_session_free(struct session_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nsubs; i++)
		forget_await(st, &st->subs[i]);
	cJSON_Delete(st->moving);
	free(st->subs);
	free(st);
}

void relay_state_free(struct relay_state *rs)
{
	if (!rs)
		return;
	for (size_t b = 0; b < rs->nbuckets; b++) {
		while (rs->table[b]) {
			struct held_uri *e = rs->table[b];

			rs->table[b] = e->next;
			free(e->uri);
			free(e);
		}
	}
	free(rs->table);
	free(rs);
}
