/*
 * The aggregate MCP endpoint: see aggregate.h.
 *
 * One aggregate session has one backend per stdio server it covers (those
 * its agent may use, within its --servers subset): a relay session attached
 * with the aggregate's agent, so that relay-policy.c's filters and refusals
 * and approvals.c's holds apply unchanged. A backend is made when first
 * needed; servers are looked up by name each time, never held: a server
 * removed by a reload closes its backend's relay session (relay_server_removed),
 * and the backend is gone then.
 *
 * Names: tools and prompts SERVER__NAME, resources and resource templates
 * mcpd://SERVER/URI (aggregate-names.h). tools/list, prompts/list,
 * resources/list and resources/templates/list fan out to every covered
 * server that is ready; each server's nextCursor is followed (AGG_MAX_PAGES
 * pages, AGG_MAX_ITEMS items in all, merged in manifest order), and a server that has not answered
 * within AGG_LIST_SECONDS is left out of that answer (logged). The merged
 * answer is one page. tools/call, prompts/get, resources/read, subscribe,
 * unsubscribe and completion/complete go to the server their name names; the
 * relay answers a server that is not ready at once, naming its state.
 *
 * Ids: backend requests carry the aggregate's own integer ids; answers get the
 * client's id back as it wrote it. Requests of the servers (sampling,
 * elicitation, roots/list, mcpd's "mcpd-in-N") reach the client as
 * "mcpd-agg-N", unique across backends, and its answer goes back to the
 * backend that asked with the server's own id.
 *
 * Eras: a legacy client's initialize is answered here (mcpd's serverInfo,
 * tools/prompts/resources with listChanged, logging, completions); each
 * backend is then initialized with the client's own params when its server is
 * ready (the relay answers from the server's cached result). A 2026-07-28
 * client's requests go to backends as they are (the relay bridges eras);
 * server/discover and subscriptions/listen (list_changed only) are served here.
 *
 * list_changed: a server that becomes ready or stops being ready
 * (aggregate_server_changed, from daemon_state_changed), a backend that goes
 * (its relay session closed by relay_server_removed: detached at once),
 * or a server's own list_changed notifications set a flag; the client is told
 * once per loop iteration (an idle watcher), not per event.
 *
 * Memory: an aggregate and its backends are freed by the idle watcher, after
 * the callback that detached it returned. The handle given out is the
 * aggregate's own address, cast: aggregate_of finds it among live and
 * detached-not-yet-freed aggregates, and relay.c hands those calls here.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "aggregate.h"
#include "aggregate-names.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-era.h"
#include "relay-era.h"
#include "relay-internal.h"
#include "relay.h"
#include "relay-policy.h"
#include "replicas.h"
#include "server.h"
#include "strv.h"
#include "xmalloc.h"

#define SREQ_PREFIX	"mcpd-agg-"

enum {
	CH_TOOLS = 1 << 0,
	CH_PROMPTS = 1 << 1,
	CH_RESOURCES = 1 << 2,
	CH_ALL = CH_TOOLS | CH_PROMPTS | CH_RESOURCES,
};

struct aggregate;

struct backend {
	struct aggregate *a;
	char *server;
	struct session *sess;	/* its relay session; NULL once detached */
	bool closed;		/* the relay closed it (server removed, client too slow): detached then */
	bool ready;		/* its server was ready when last looked at */
	bool inited;		/* a legacy initialize was answered */
	bool want_init;		/* to initialize once its server is ready (on_work) */
	struct backend *next;
};

enum up_kind { UP_CALL, UP_PART, UP_INTERNAL };

/* A request to a backend in flight, known there by id. */
struct upreq {
	int64_t id;
	enum up_kind kind;
	struct backend *b;
	cJSON *client_id;		/* UP_CALL: as the client wrote it */
	cJSON *client_id_value;		/* as parsed, to match its cancellation */
	char method[40];
	struct fanout *f;		/* UP_PART */
	unsigned pages;			/* UP_PART: pages of this server asked so far */
	size_t slot;			/* UP_PART: where its items go in f->lists */
	struct upreq *next;
};

/* A list request of the client's, fanned out to the ready servers. */
struct fanout {
	struct aggregate *a;
	cJSON *client_id, *client_id_value;
	char method[40];
	const char *key;		/* "tools", "prompts", "resources", "resourceTemplates" */
	cJSON *request;			/* the client's, the template of every page asked */
	cJSON **lists;			/* each server's items, merged in manifest order */
	size_t nlists, nitems;
	size_t nparts;			/* servers still to answer */
	bool truncated;
	ev_timer deadline_w;
	struct fanout *next;
};

/* A request of a server's, given to the client as "mcpd-agg-N". */
struct sreq {
	char id[40];
	cJSON *orig_id;
	struct backend *b;
	struct sreq *next;
};

/* A 2026-07-28 client's subscriptions/listen: list_changed only. */
struct alisten {
	cJSON *id, *id_value, *filter;
	struct alisten *next;
};

struct aggregate {
	struct daemon *d;
	const struct relay_sink *ops;
	void *sink;
	char *agent;
	char **servers;			/* the subset, NULL: every server */
	enum mcp_era era;
	cJSON *init_params;		/* what backends are initialized with (a legacy client's, or mcpd's for a listen) */
	char version[32];		/* negotiated with a legacy client */
	struct backend *backends;
	struct upreq *upreqs;
	struct fanout *fanouts;
	struct sreq *sreqs;
	struct alisten *listens;
	size_t npending, nsreqs, nlistens;
	size_t ninternal;		/* UP_INTERNAL in flight: logging/setLevel is refused past AGG_MAX_PENDING */
	int64_t next_id;
	uint64_t next_sreq;
	unsigned changed;		/* CH_*: list_changed to send (on_work) */
	uint64_t refused;		/* requests refused for a budget: logged at the first, counted until detach */
	uint64_t left_out;		/* servers left out of list answers (deadline) */
	bool cancel_timeout, draining, closing, dead;
	ev_timer drain_w;
	struct aggregate *next;		/* in reg.live or reg.dead */
};

/* Every aggregate of the daemon (there is one daemon, one loop). */
static struct {
	struct ev_loop *loop;
	ev_idle work_w;
	struct aggregate *live, *dead;
} reg;

static bool backend_send(void *sink, const cJSON *msg);
static size_t backend_pending(void *sink);
static void backend_close(void *sink);
static void backend_held(void *sink, const cJSON *id, double seconds);

static const struct relay_sink backend_sink = {
	.send = backend_send, .pending = backend_pending, .close = backend_close, .held = backend_held,
};
static const struct relay_sink backend_sink_quiet = {
	.send = backend_send, .pending = backend_pending, .close = backend_close, .held = backend_held,
	.per_request = true,
};

static void schedule(void)
{
	ev_idle_start(reg.loop, &reg.work_w);
}

static bool alive(const struct aggregate *a)
{
	return !a->dead && !a->closing;
}

/* ---- to the client ---------------------------------------------------------- */

static void close_sink(struct aggregate *a)
{
	if (!alive(a))
		return;
	a->closing = true;
	a->ops->close(a->sink);
}

static void maybe_finish(struct aggregate *a)
{
	if (alive(a) && a->draining && a->npending == 0)
		close_sink(a);
}

static bool to_client(struct aggregate *a, const cJSON *msg)
{
	if (!alive(a))
		return false;
	if (a->ops->pending(a->sink) > RELAY_CLIENT_QUEUE) {
		log_warning(NULL, NULL, "dropping an aggregate MCP client: it does not read its answers (%zu bytes "
			    "queued, at most %d); closing it", a->ops->pending(a->sink), RELAY_CLIENT_QUEUE);
		close_sink(a);
		return false;
	}
	a->ops->send(a->sink, msg);
	return alive(a);
}

static bool error_to_client(struct aggregate *a, const cJSON *id, int code, const char *message)
{
	cJSON *msg = jsonrpc_error_new(id, code, message, NULL);
	bool ok = to_client(a, msg);

	cJSON_Delete(msg);
	return ok;
}

static bool result_to_client(struct aggregate *a, const cJSON *id, cJSON *result, const char *modern_method)
{
	cJSON *msg = jsonrpc_result_new(id, result);
	bool ok;

	if (modern_method)
		relay_era_mark_complete(msg, modern_method);
	ok = to_client(a, msg);
	cJSON_Delete(msg);
	return ok;
}

/* A budget reached: an error to this client, a log line at the first, the count at detach. */
static void refuse(struct aggregate *a, const cJSON *id, const char *what)
{
	char text[200];

	if (a->refused++ == 0)
		log_notice(NULL, NULL, "an aggregate MCP client reached its budget of %s; its requests past it get an "
			   "error (counted until it detaches)", what);
	snprintf(text, sizeof(text), "too many %s (the aggregate endpoint's budget)", what);
	error_to_client(a, id, MCPD_ERR_UNAVAILABLE, text);
}

/* ---- servers and backends --------------------------------------------------- */

static bool server_ready(const struct server *s)
{
	return !s->removed && (s->state == ST_RUNNING || s->state == ST_UNHEALTHY) &&
	       (s->init_result || s->discover_result) && s->stdin_fd >= 0;
}


/* The server that stands for an entry: itself, or a running replica of its entry (else its first). */
static const struct server *entry_server(const struct server *s)
{
	char name[80];

	return s->conf.replica > 0 ? daemon_find_server(s->d, replica_entry_name(s, name, sizeof(name))) : s;
}

/* Does this aggregate cover the server (stdio, in its subset, its agent may use it)? */
static bool covers(const struct aggregate *a, const struct server *s)
{
	char buf[80];
	const char *name = replica_entry_name(s, buf, sizeof(buf));

	if (s->removed || s->conf.transport != TRANSPORT_STDIO)
		return false;
	if (a->servers) {
		size_t i = 0;

		while (a->servers[i] && strcmp(a->servers[i], name) != 0)
			i++;
		if (!a->servers[i])
			return false;
	}
	return agents_allows_server(a->d->manifest, a->agent, name);
}

/* The server of that name, when this aggregate covers it. */
static struct server *covered(const struct aggregate *a, const char *name)
{
	/* A replicated entry's backend goes to a replica as any new client does. */
	struct server *s = replicas_pick(a->d, name, NULL);

	return s && covers(a, s) ? s : NULL;
}

static struct backend *find_backend(const struct aggregate *a, const char *name)
{
	for (struct backend *b = a->backends; b; b = b->next)
		if (b->sess && !b->closed && strcmp(b->server, name) == 0)
			return b;
	return NULL;
}

static void to_backend(struct backend *b, const cJSON *msg)
{
	char *text;

	if (!b->sess || b->closed)
		return;
	text = cJSON_PrintUnformatted(msg);
	if (text)
		relay_client_line(b->sess, text, strlen(text));
	free(text);
}

static void up_link(struct aggregate *a, struct upreq *u)
{
	if (u->kind == UP_INTERNAL)
		a->ninternal++;
	u->id = ++a->next_id;
	u->next = a->upreqs;
	a->upreqs = u;
}

static struct upreq *up_take(struct aggregate *a, int64_t id)
{
	for (struct upreq **uu = &a->upreqs; *uu; uu = &(*uu)->next) {
		if ((*uu)->id == id) {
			struct upreq *u = *uu;

			*uu = u->next;
			if (u->kind == UP_INTERNAL)
				a->ninternal--;
			return u;
		}
	}
	return NULL;
}

static void up_free(struct upreq *u)
{
	cJSON_Delete(u->client_id);
	cJSON_Delete(u->client_id_value);
	free(u);
}

/* req (the aggregate's copy) goes to b with u's new id; u may be answered, and freed, before this returns. */
static void send_up(struct aggregate *a, struct backend *b, struct upreq *u, cJSON *req)
{
	u->b = b;
	up_link(a, u);
	cJSON_DeleteItemFromObjectCaseSensitive(req, "id");
	cJSON_AddNumberToObject(req, "id", (double)u->id);
	to_backend(b, req);
}

/* A legacy initialize of the backend, with the client's params (answered by the relay from the server's result). */
static void backend_init(struct backend *b)
{
	struct aggregate *a = b->a;
	struct upreq *u = xcalloc(1, sizeof(*u));
	cJSON *req = cJSON_CreateObject();
	cJSON *note;

	b->want_init = false;
	u->kind = UP_INTERNAL;
	snprintf(u->method, sizeof(u->method), "initialize");
	cJSON_AddStringToObject(req, "jsonrpc", "2.0");
	cJSON_AddStringToObject(req, "method", "initialize");
	cJSON_AddItemToObject(req, "params", cJSON_Duplicate(a->init_params, 1));
	send_up(a, b, u, req);
	cJSON_Delete(req);
	note = jsonrpc_notification_new("notifications/initialized", NULL);
	to_backend(b, note);
	cJSON_Delete(note);
}

/* The backend of a covered server, made when first needed; NULL when the aggregate does not cover it. */
static struct backend *backend_for(struct aggregate *a, const char *name)
{
	struct server *s = covered(a, name);
	struct backend *b;

	if (!s)
		return NULL;
	b = find_backend(a, name);
	if (b)
		return b;
	b = xcalloc(1, sizeof(*b));
	b->a = a;
	b->server = xstrdup(name);
	b->ready = server_ready(s);
	b->next = a->backends;
	a->backends = b;
	b->sess = relay_attach(s, a->ops->per_request ? &backend_sink_quiet : &backend_sink, b, a->agent);
	if (a->init_params && b->ready)
		backend_init(b);
	else if (a->init_params)
		b->want_init = true;
	return b;
}

/* ---- lists ------------------------------------------------------------------- */

static const char *list_key(const char *method)
{
	if (strcmp(method, "tools/list") == 0)
		return "tools";
	if (strcmp(method, "prompts/list") == 0)
		return "prompts";
	if (strcmp(method, "resources/list") == 0)
		return "resources";
	if (strcmp(method, "resources/templates/list") == 0)
		return "resourceTemplates";
	return NULL;
}

/* One item of a server's list, namespaced. */
static cJSON *namespaced_item(const char *server, const char *key, const cJSON *item)
{
	const char *field = strcmp(key, "resources") == 0 ? "uri" :
			    strcmp(key, "resourceTemplates") == 0 ? "uriTemplate" : "name";
	const char *value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, field));
	cJSON *copy;
	char *name;

	if (!cJSON_IsObject(item) || !value)
		return NULL;
	copy = cJSON_Duplicate(item, 1);
	name = strcmp(field, "name") == 0 ? agg_name_join(server, value) : agg_uri_join(server, value);
	cJSON_ReplaceItemInObjectCaseSensitive(copy, field, cJSON_CreateString(name));
	free(name);
	return copy;
}

static void fanout_free(struct fanout *f)
{
	ev_timer_stop(reg.loop, &f->deadline_w);
	cJSON_Delete(f->client_id);
	cJSON_Delete(f->client_id_value);
	cJSON_Delete(f->request);
	for (size_t i = 0; i < f->nlists; i++)
		cJSON_Delete(f->lists[i]);
	free(f->lists);
	free(f);
}

static void fanout_unlink(struct aggregate *a, struct fanout *f)
{
	for (struct fanout **ff = &a->fanouts; *ff; ff = &(*ff)->next) {
		if (*ff == f) {
			*ff = f->next;
			a->npending--;
			return;
		}
	}
}

/* Every server answered or was left out: one merged answer. */
static void fanout_finish(struct fanout *f)
{
	struct aggregate *a = f->a;
	cJSON *result = cJSON_CreateObject();
	cJSON *items = cJSON_AddArrayToObject(result, f->key);
	bool modern = mcp_request_version(f->request) != NULL;

	fanout_unlink(a, f);
	if (f->truncated)
		log_notice(NULL, NULL, "an aggregate %s answer holds its first %d items only", f->method, AGG_MAX_ITEMS);
	for (size_t i = 0; i < f->nlists; i++) {
		while (f->lists[i] && cJSON_GetArraySize(f->lists[i]) > 0)
			cJSON_AddItemToArray(items, cJSON_DetachItemFromArray(f->lists[i], 0));
	}
	result_to_client(a, f->client_id, result, modern ? f->method : NULL);
	fanout_free(f);
	maybe_finish(a);
}

/* Ask b for one page of f's list (cursor: NULL for the first). */
static void ask_page(struct fanout *f, struct backend *b, size_t slot, const char *cursor, unsigned pages)
{
	struct upreq *u = xcalloc(1, sizeof(*u));
	cJSON *req = cJSON_Duplicate(f->request, 1);
	cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");

	u->kind = UP_PART;
	u->f = f;
	u->pages = pages;
	u->slot = slot;
	snprintf(u->method, sizeof(u->method), "%s", f->method);
	if (!cJSON_IsObject(params)) {
		cJSON_DeleteItemFromObjectCaseSensitive(req, "params");
		params = cJSON_AddObjectToObject(req, "params");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(params, "cursor");
	if (cursor)
		cJSON_AddStringToObject(params, "cursor", cursor);
	send_up(f->a, b, u, req);
	cJSON_Delete(req);
}

/* One server's page of a list: its items, then its next page or its part done. */
static void part_answer(struct upreq *u, const cJSON *msg)
{
	struct fanout *f = u->f;
	struct backend *b = u->b;
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *item, *cursor;

	if (error || !cJSON_IsObject(result)) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		log_info(b->server, NULL, "the aggregate endpoint's %s leaves the server out: it answered with an "
			 "error (%.160s)", f->method, text ? text : "no result");
	} else {
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(result, f->key)) {
			cJSON *copy;

			if (f->nitems >= AGG_MAX_ITEMS) {
				f->truncated = true;
				break;
			}
			copy = namespaced_item(b->server, f->key, item);
			if (!copy)
				continue;
			if (!f->lists[u->slot])
				f->lists[u->slot] = cJSON_CreateArray();
			cJSON_AddItemToArray(f->lists[u->slot], copy);
			f->nitems++;
		}
		cursor = cJSON_GetObjectItemCaseSensitive(result, "nextCursor");
		if (cJSON_IsString(cursor) && !f->truncated && u->pages < AGG_MAX_PAGES && b->sess && !b->closed) {
			ask_page(f, b, u->slot, cursor->valuestring, u->pages + 1);
			return;
		}
		if (cJSON_IsString(cursor) && !f->truncated)
			log_notice(b->server, NULL, "the aggregate endpoint's %s took the server's first %d pages only",
				   f->method, AGG_MAX_PAGES);
	}
	if (--f->nparts == 0)
		fanout_finish(f);
}

/* A request of the aggregate's is no longer wanted: its backend's server is told, as by a client's cancellation. */
static void cancel_up(struct upreq *u, const char *why, bool timed_out)
{
	cJSON *id = cJSON_CreateNumber((double)u->id);

	if (u->b->sess && !u->b->closed)
		relay_cancel(u->b->sess, id, why, timed_out);
	cJSON_Delete(id);
	up_free(u);
}

/* The requests of f's servers still in flight are cancelled; deadline: logged and counted as left out. */
static void cancel_parts(struct aggregate *a, struct fanout *f, const char *why, bool timed_out, bool deadline)
{
	for (struct upreq **uu = &a->upreqs; *uu;) {
		struct upreq *u = *uu;

		if (u->f != f) {
			uu = &u->next;
			continue;
		}
		*uu = u->next;
		if (deadline) {
			a->left_out++;
			log_notice(u->b->server, NULL, "the server did not answer %s within %.0fs; the aggregate "
				   "endpoint's answer leaves it out", f->method, AGG_LIST_SECONDS);
		}
		cancel_up(u, why, timed_out);
	}
}

/* The list's deadline: servers that have not answered are left out (and their requests cancelled). */
static void on_fanout_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fanout *f = w->data;

	cancel_parts(f->a, f, "the aggregate endpoint's list deadline passed", false, true);
	f->nparts = 0;
	fanout_finish(f);
}

static void fan_out(struct aggregate *a, const cJSON *req, const cJSON *id, const char *key)
{
	struct fanout *f = xcalloc(1, sizeof(*f));
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));

	f->a = a;
	f->key = key;
	snprintf(f->method, sizeof(f->method), "%s", method);
	f->client_id = cJSON_Duplicate(id, 1);
	f->client_id_value = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), 1);
	f->request = cJSON_Duplicate(req, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(f->request, "params"), "cursor");
	f->nlists = a->d->nservers;
	f->lists = xcalloc(f->nlists ? f->nlists : 1, sizeof(*f->lists));
	f->nparts = 1;	/* until every server was asked: an answer at once must not finish it early */
	ev_timer_init(&f->deadline_w, on_fanout_deadline, AGG_LIST_SECONDS, 0.);
	f->deadline_w.data = f;
	ev_timer_start(reg.loop, &f->deadline_w);
	f->next = a->fanouts;
	a->fanouts = f;
	a->npending++;
	for (size_t i = 0; i < f->nlists && i < a->d->nservers && alive(a); i++) {
		struct server *s = a->d->servers[i];
		struct backend *b;
		char name[80];

		/* One list per entry: a replicated one's replicas list the same tools once. */
		if (!replica_first(s) || !covers(a, s) || !server_ready(entry_server(s)))
			continue;
		b = backend_for(a, replica_entry_name(s, name, sizeof(name)));
		if (!b || !b->sess || !alive(a))
			continue;
		f->nparts++;
		ask_page(f, b, i, NULL, 1);
	}
	if (a->dead)
		return;	/* detached meanwhile: f was freed with it */
	if (--f->nparts == 0)
		fanout_finish(f);
}

/* ---- routed requests ---------------------------------------------------------- */

/* The server part of a request's name or URI, and the request with the server's own name in its place. */
static bool route_target(const cJSON *req, char *server, size_t size, cJSON *copy, char *why, size_t whysize)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	cJSON *params = cJSON_GetObjectItemCaseSensitive(copy, "params");
	cJSON *holder = params;
	const char *field = "name", *value, *rest;
	bool uri;

	if (strcmp(method, "completion/complete") == 0) {
		holder = cJSON_GetObjectItemCaseSensitive(params, "ref");
		field = cJSON_GetObjectItemCaseSensitive(holder, "uri") ? "uri" : "name";
	} else if (strncmp(method, "resources/", 10) == 0) {
		field = "uri";
	}
	uri = strcmp(field, "uri") == 0;
	value = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(holder, field));
	if (!value) {
		snprintf(why, whysize, "invalid params: %s needs a %s", method, uri ? "uri" : "name");
		return false;
	}
	if (!(uri ? agg_uri_split(value, server, size, &rest) : agg_name_split(value, server, size, &rest))) {
		snprintf(why, whysize, "unknown %s \"%.128s\": the aggregate endpoint's names are %s", uri ? "uri" : "name",
			 value, uri ? "mcpd://SERVER/URI" : "SERVER__NAME");
		return false;
	}
	cJSON_ReplaceItemInObjectCaseSensitive(holder, field, cJSON_CreateString(rest));
	return true;
}

static void route(struct aggregate *a, const cJSON *req, const cJSON *id)
{
	cJSON *copy = cJSON_Duplicate(req, 1);
	char server[128], why[300];
	struct backend *b;
	struct upreq *u;

	if (!route_target(req, server, sizeof(server), copy, why, sizeof(why))) {
		error_to_client(a, id, JSONRPC_INVALID_PARAMS, why);
		cJSON_Delete(copy);
		return;
	}
	b = backend_for(a, server);
	if (!b && relay_policy_server_refused(a->d, a->agent, server, why, sizeof(why))) {
		error_to_client(a, id, MCPD_ERR_POLICY, why);
		cJSON_Delete(copy);
		return;
	}
	if (!b || !b->sess) {
		snprintf(why, sizeof(why), "unknown server \"%.64s\": no such stdio server behind this aggregate endpoint "
			 "(or not one this client may use)", server);
		error_to_client(a, id, JSONRPC_INVALID_PARAMS, why);
		cJSON_Delete(copy);
		return;
	}
	u = xcalloc(1, sizeof(*u));
	u->kind = UP_CALL;
	u->client_id = cJSON_Duplicate(id, 1);
	u->client_id_value = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), 1);
	snprintf(u->method, sizeof(u->method), "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method")));
	a->npending++;
	send_up(a, b, u, copy);
	cJSON_Delete(copy);
}

/* A routed request's answer, for the client: its id, and resource URIs namespaced. */
static void call_answer(struct aggregate *a, struct upreq *u, const cJSON *msg)
{
	cJSON *copy = cJSON_Duplicate(msg, 1);
	cJSON *item;

	cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", cJSON_Duplicate(u->client_id, 1));
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "result"),
								   "contents")) {
		const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "uri"));

		if (uri) {
			char *name = agg_uri_join(u->b->server, uri);

			cJSON_ReplaceItemInObjectCaseSensitive(item, "uri", cJSON_CreateString(name));
			free(name);
		}
	}
	a->npending--;
	to_client(a, copy);
	cJSON_Delete(copy);
	maybe_finish(a);
}

/* ---- what the aggregate answers itself ------------------------------------------ */

static cJSON *init_result(const char *version)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
	cJSON *info;

	cJSON_AddStringToObject(r, "protocolVersion", version);
	cJSON_AddObjectToObject(caps, "logging");
	cJSON_AddObjectToObject(caps, "completions");
	cJSON_AddTrueToObject(cJSON_AddObjectToObject(caps, "prompts"), "listChanged");
	info = cJSON_AddObjectToObject(caps, "resources");
	cJSON_AddTrueToObject(info, "subscribe");
	cJSON_AddTrueToObject(info, "listChanged");
	cJSON_AddTrueToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged");
	info = cJSON_AddObjectToObject(r, "serverInfo");
	cJSON_AddStringToObject(info, "name", "mcpd");
	cJSON_AddStringToObject(info, "title", "mcpd aggregate endpoint");
	cJSON_AddStringToObject(info, "version", PACKAGE_VERSION);
	cJSON_AddStringToObject(r, "instructions", "The tools and prompts of several MCP servers, named SERVER__NAME; "
				"their resources are named mcpd://SERVER/URI.");
	return r;
}

/* Backends are initialized with these params from now on (those ready now at once, the others once ready). */
static void init_backends(struct aggregate *a, cJSON *params)
{
	cJSON_Delete(a->init_params);
	a->init_params = params;
	for (size_t i = 0; i < a->d->nservers && alive(a); i++) {
		struct server *s = a->d->servers[i];
		struct backend *b;
		char name[80];

		if (!replica_first(s) || !covers(a, s))
			continue;
		b = find_backend(a, replica_entry_name(s, name, sizeof(name)));
		if (!b)
			backend_for(a, name);	/* initialized there */
		else if (server_ready(relay_session_server(b->sess)))
			backend_init(b);
		else
			b->want_init = true;
	}
}

static void answer_initialize(struct aggregate *a, const cJSON *req, const cJSON *id)
{
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
	const char *asked = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "protocolVersion"));

	a->era = MCP_ERA_LEGACY;
	snprintf(a->version, sizeof(a->version), "%s", asked && mcp_version_legacy(asked) ? asked : MCP_PROTOCOL_LATEST);
	if (!result_to_client(a, id, init_result(a->version), NULL))
		return;
	init_backends(a, cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject());
}

static void listen_free(struct alisten *l)
{
	cJSON_Delete(l->id);
	cJSON_Delete(l->id_value);
	cJSON_Delete(l->filter);
	free(l);
}

/* A modern client's subscriptions/listen: list_changed of the aggregate's lists, acknowledged at once. */
static void open_listen(struct aggregate *a, const cJSON *req, const cJSON *id)
{
	const cJSON *asked = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"),
								"notifications");
	cJSON *caps = init_result(MCP_PROTOCOL_LATEST), *params, *ack;
	struct alisten *l;

	if (a->nlistens >= AGG_MAX_LISTENS) {
		cJSON_Delete(caps);
		refuse(a, id, "subscriptions/listen streams");
		return;
	}
	/* list_changed only: resource subscriptions are not routed through a listen of the aggregate. */
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(caps, "capabilities"), "resources"), "subscribe");
	l = xcalloc(1, sizeof(*l));
	l->id = cJSON_Duplicate(id, 1);
	l->id_value = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "id"), 1);
	l->filter = relay_era_listen_filter(asked, caps);
	cJSON_DeleteItemFromObjectCaseSensitive(l->filter, "resourceSubscriptions");
	cJSON_Delete(caps);
	l->next = a->listens;
	a->listens = l;
	a->nlistens++;
	params = cJSON_CreateObject();
	cJSON_AddItemToObject(params, "notifications", cJSON_Duplicate(l->filter, 1));
	ack = jsonrpc_notification_new("notifications/subscriptions/acknowledged", params);
	relay_era_set_subscription_id(ack, id);
	to_client(a, ack);
	cJSON_Delete(ack);
	/* The servers' own list_changed come to legacy sessions: backends are initialized for them. */
	if (alive(a) && !a->init_params) {
		cJSON *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "protocolVersion", MCP_PROTOCOL_LATEST);
		cJSON_AddItemToObject(p, "capabilities", cJSON_CreateObject());
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "clientInfo"), "name", "mcpd-aggregate");
		cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(p, "clientInfo"), "version", PACKAGE_VERSION);
		init_backends(a, p);
	}
}

static void modern_request(struct aggregate *a, const cJSON *req, const cJSON *id, const char *method)
{
	if (strcmp(method, "ping") == 0) {
		result_to_client(a, id, cJSON_CreateObject(), method);
	} else if (strcmp(method, "server/discover") == 0) {
		cJSON *init = init_result(MCP_PROTOCOL_LATEST);

		result_to_client(a, id, mcp_discover_from_initialize(init), method);
		cJSON_Delete(init);
	} else {
		open_listen(a, req, id);
	}
}

/* logging/setLevel: every backend's server gets it; the client is answered at once. */
static void set_level(struct aggregate *a, const cJSON *req, const cJSON *id)
{
	char text[80];

	if (a->ninternal >= AGG_MAX_PENDING) {
		/* Servers that never answer it would keep every one sent. */
		snprintf(text, sizeof(text), "logging/setLevel requests in flight (at most %d)", AGG_MAX_PENDING);
		refuse(a, id, text);
		return;
	}
	for (struct backend *b = a->backends; b && alive(a); b = b->next) {
		struct upreq *u;
		cJSON *copy;

		if (!b->sess || b->closed || !covered(a, b->server))
			continue;
		u = xcalloc(1, sizeof(*u));
		u->kind = UP_INTERNAL;
		snprintf(u->method, sizeof(u->method), "logging/setLevel");
		copy = cJSON_Duplicate(req, 1);
		send_up(a, b, u, copy);
		cJSON_Delete(copy);
	}
	result_to_client(a, id, cJSON_CreateObject(), NULL);
}

static void client_request(struct aggregate *a, const cJSON *req, const cJSON *id)
{
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	const char *version = mcp_request_version(req);
	const char *key = list_key(method);
	char text[200];

	if (version && !mcp_version_modern(version)) {
		cJSON *msg = jsonrpc_error_new(id, MCP_ERR_UNSUPPORTED_VERSION, "Unsupported protocol version",
					       mcp_unsupported_version_data(version));

		to_client(a, msg);
		cJSON_Delete(msg);
		return;
	}
	if (version && a->era == MCP_ERA_UNKNOWN)
		a->era = MCP_ERA_MODERN;
	if (version && (strcmp(method, "ping") == 0 || strcmp(method, "server/discover") == 0 ||
			strcmp(method, "subscriptions/listen") == 0)) {
		modern_request(a, req, id, method);
	} else if (!version && strcmp(method, "initialize") == 0) {
		answer_initialize(a, req, id);
	} else if (!version && strcmp(method, "ping") == 0) {
		result_to_client(a, id, cJSON_CreateObject(), NULL);
	} else if (!version && strcmp(method, "logging/setLevel") == 0) {
		set_level(a, req, id);
	} else if (a->npending >= AGG_MAX_PENDING) {
		snprintf(text, sizeof(text), "requests in flight (at most %d)", AGG_MAX_PENDING);
		refuse(a, id, text);
	} else if (key) {
		fan_out(a, req, id, key);
	} else if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
		   strcmp(method, "resources/read") == 0 || strcmp(method, "resources/subscribe") == 0 ||
		   strcmp(method, "resources/unsubscribe") == 0 || strcmp(method, "completion/complete") == 0) {
		route(a, req, id);
	} else {
		snprintf(text, sizeof(text), "method not found: the aggregate endpoint has no method \"%.64s\"", method);
		error_to_client(a, id, JSONRPC_METHOD_NOT_FOUND, text);
	}
}

/* ---- client notifications and answers ------------------------------------------- */

static void cancel_request(struct aggregate *a, const cJSON *request_id, const char *why)
{
	for (struct alisten **ll = &a->listens; *ll; ll = &(*ll)->next) {
		if (cJSON_Compare((*ll)->id_value, request_id, 1)) {
			struct alisten *l = *ll;

			*ll = l->next;
			a->nlistens--;
			listen_free(l);
			return;
		}
	}
	for (struct fanout *f = a->fanouts; f; f = f->next) {
		if (!cJSON_Compare(f->client_id_value, request_id, 1))
			continue;
		cancel_parts(a, f, why, a->cancel_timeout, false);
		fanout_unlink(a, f);
		fanout_free(f);
		maybe_finish(a);
		return;
	}
	for (struct upreq **uu = &a->upreqs; *uu; uu = &(*uu)->next) {
		struct upreq *u = *uu;

		if (u->kind != UP_CALL || !cJSON_Compare(u->client_id_value, request_id, 1))
			continue;
		*uu = u->next;
		a->npending--;
		cancel_up(u, why, a->cancel_timeout);
		maybe_finish(a);
		return;
	}
}

static void client_notification(struct aggregate *a, const cJSON *msg, const char *method)
{
	if (strcmp(method, "notifications/cancelled") == 0) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
		const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "reason"));

		cancel_request(a, cJSON_GetObjectItemCaseSensitive(params, "requestId"),
			       reason ? reason : "cancelled by the MCP client");
		return;
	}
	if (strcmp(method, "notifications/roots/list_changed") == 0) {
		for (struct backend *b = a->backends; b && alive(a); b = b->next)
			to_backend(b, msg);
	}
	/* notifications/initialized: the aggregate initializes its backends itself; others have no server. */
}

/* The client answers a request of a server's ("mcpd-agg-N"); any other id is ignored. */
static void client_response(struct aggregate *a, const cJSON *msg)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "id"));

	if (!id)
		return;
	for (struct sreq **qq = &a->sreqs; *qq; qq = &(*qq)->next) {
		struct sreq *q = *qq;
		cJSON *copy;

		if (strcmp(q->id, id) != 0)
			continue;
		*qq = q->next;
		a->nsreqs--;
		copy = cJSON_Duplicate(msg, 1);
		cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", q->orig_id);
		to_backend(q->b, copy);
		cJSON_Delete(copy);
		free(q);
		return;
	}
}

/* The id to answer with: as written, for a sink that takes raw ids; else as parsed. */
static cJSON *answer_id(const struct aggregate *a, const char *line, size_t len, const cJSON *parsed)
{
	return jsonrpc_answer_id(line, len, parsed, a->ops->raw_ids);
}

void aggregate_client_line(struct aggregate *a, const char *line, size_t len)
{
	int code = 0;
	cJSON *msg, *id;
	const char *method;

	if (!alive(a))
		return;
	msg = jsonrpc_parse_client(line, len, &code);
	if (!msg) {
		id = answer_id(a, line, len, NULL);
		error_to_client(a, id, code ? code : JSONRPC_PARSE_ERROR, jsonrpc_parse_error_text(code));
		cJSON_Delete(id);
		return;
	}
	method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	switch (jsonrpc_classify(msg)) {
	case JSONRPC_REQUEST:
		id = answer_id(a, line, len, cJSON_GetObjectItemCaseSensitive(msg, "id"));
		client_request(a, msg, id);
		cJSON_Delete(id);
		break;
	case JSONRPC_NOTIFICATION:
		client_notification(a, msg, method);
		break;
	case JSONRPC_RESPONSE:
		client_response(a, msg);
		break;
	case JSONRPC_INVALID:
		error_to_client(a, cJSON_GetObjectItemCaseSensitive(msg, "id"), JSONRPC_INVALID_REQUEST,
				"invalid request: not JSON-RPC 2.0");
		break;
	}
	cJSON_Delete(msg);
}

/* ---- from the backends ---------------------------------------------------------- */

static void backend_response(struct backend *b, const cJSON *msg)
{
	struct aggregate *a = b->a;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	struct upreq *u;
	int64_t n;

	if (!cJSON_IsNumber(id) || jsonrpc_id_to_int64(id, &n) < 0)
		return;
	u = up_take(a, n);
	if (!u)
		return;	/* cancelled, or left out of a list */
	switch (u->kind) {
	case UP_INTERNAL:
		if (strcmp(u->method, "initialize") == 0 && cJSON_GetObjectItemCaseSensitive(msg, "result"))
			b->inited = true;
		break;
	case UP_CALL:
		call_answer(a, u, msg);
		break;
	case UP_PART:
		part_answer(u, msg);
		break;
	}
	up_free(u);
}

static void backend_request(struct backend *b, const cJSON *msg)
{
	struct aggregate *a = b->a;
	struct sreq *q;
	cJSON *copy;

	if (!aggregate_takes_requests(a) || a->nsreqs >= AGG_MAX_SERVER_REQS) {
		cJSON *reply = jsonrpc_error_new(cJSON_GetObjectItemCaseSensitive(msg, "id"), MCPD_ERR_UNAVAILABLE,
						 aggregate_takes_requests(a) ? "too many requests wait for the MCP "
						 "client's answer" : "the MCP client takes no requests", NULL);

		if (aggregate_takes_requests(a) && a->refused++ == 0)
			log_notice(b->server, NULL, "%d requests of servers wait for an aggregate MCP client's answer; "
				   "more get an error", AGG_MAX_SERVER_REQS);
		to_backend(b, reply);
		cJSON_Delete(reply);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	snprintf(q->id, sizeof(q->id), SREQ_PREFIX "%" PRIu64, ++a->next_sreq);
	q->orig_id = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "id"), 1);
	q->b = b;
	q->next = a->sreqs;
	a->sreqs = q;
	a->nsreqs++;
	copy = cJSON_Duplicate(msg, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", cJSON_CreateString(q->id));
	to_client(a, copy);
	cJSON_Delete(copy);
}

static void backend_notification(struct backend *b, const cJSON *msg)
{
	struct aggregate *a = b->a;
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	cJSON *copy, *params;

	if (strcmp(method, "notifications/tools/list_changed") == 0 ||
	    strcmp(method, "notifications/prompts/list_changed") == 0 ||
	    strcmp(method, "notifications/resources/list_changed") == 0) {
		a->changed |= method[14] == 't' ? CH_TOOLS : method[14] == 'p' ? CH_PROMPTS : CH_RESOURCES;
		schedule();
		return;
	}
	copy = cJSON_Duplicate(msg, 1);
	params = cJSON_GetObjectItemCaseSensitive(copy, "params");
	if (strcmp(method, "notifications/message") == 0 && cJSON_IsObject(params)) {
		const char *logger = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "logger"));
		char *name = logger ? agg_name_join(b->server, logger) : xstrdup(b->server);

		cJSON_DeleteItemFromObjectCaseSensitive(params, "logger");
		cJSON_AddStringToObject(params, "logger", name);
		free(name);
	} else if (strcmp(method, "notifications/resources/updated") == 0) {
		const char *uri = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "uri"));
		char *name;

		if (!uri)
			goto drop;
		name = agg_uri_join(b->server, uri);
		cJSON_ReplaceItemInObjectCaseSensitive(params, "uri", cJSON_CreateString(name));
		free(name);
	} else if (strcmp(method, "notifications/cancelled") == 0) {
		/* A server withdraws its request to the client: by the client's id for it. */
		const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
		struct sreq **qq;

		for (qq = &a->sreqs; *qq; qq = &(*qq)->next)
			if ((*qq)->b == b && cJSON_Compare((*qq)->orig_id, rid, 1))
				break;
		if (!*qq)
			goto drop;
		cJSON_ReplaceItemInObjectCaseSensitive(params, "requestId", cJSON_CreateString((*qq)->id));
		{
			struct sreq *q = *qq;

			*qq = q->next;
			a->nsreqs--;
			cJSON_Delete(q->orig_id);
			free(q);
		}
	} else if (strcmp(method, "notifications/progress") != 0) {
		goto drop;	/* acknowledgements of the relay's own listens, and the like */
	}
	to_client(a, copy);
drop:
	cJSON_Delete(copy);
}

/* A server a reload took from this client (agents:, or its subset): what it says now does not reach the client. */
static bool backend_revoked(struct backend *b, const cJSON *msg)
{
	cJSON *reply;

	if (covered(b->a, b->server))
		return false;
	if (jsonrpc_classify(msg) == JSONRPC_REQUEST) {
		reply = jsonrpc_error_new(cJSON_GetObjectItemCaseSensitive(msg, "id"), MCPD_ERR_UNAVAILABLE,
					  "the MCP client may no longer use this server", NULL);
		to_backend(b, reply);
		cJSON_Delete(reply);
	}
	return true;
}

static bool backend_send(void *sink, const cJSON *msg)
{
	struct backend *b = sink;

	if (!alive(b->a))
		return true;
	switch (jsonrpc_classify(msg)) {
	case JSONRPC_RESPONSE:
		backend_response(b, msg);
		break;
	case JSONRPC_NOTIFICATION:
		if (!backend_revoked(b, msg))
			backend_notification(b, msg);
		break;
	case JSONRPC_REQUEST:
		if (!backend_revoked(b, msg))
			backend_request(b, msg);
		break;
	case JSONRPC_INVALID:
		break;
	}
	return true;
}

/* What waits for the aggregate's client: the relay drops a backend whose client does not read. */
static size_t backend_pending(void *sink)
{
	const struct backend *b = sink;

	return b->a->dead ? 0 : b->a->ops->pending(b->a->sink);
}

/*
 * The relay ends the backend: its server was removed, or the client reads too
 * slowly. Detached at once, as the relay's contract asks: its server may be
 * freed before the loop turns (a removed server that has stopped).
 */
/*
 * What a closed backend still owed is answered here: the relay's session is
 * gone, and with it a call approvals.c held (withdrawn, never answered).
 * Calls get an error, list parts are left out, internal requests forgotten.
 */
static void backend_orphans(struct backend *b)
{
	struct aggregate *a = b->a;
	char text[200];

	snprintf(text, sizeof(text), "server \"%.64s\" is no longer behind the aggregate endpoint (removed from the "
		 "manifest, or its session closed): the request was not answered", b->server);
	for (struct upreq **uu = &a->upreqs; alive(a) && *uu;) {
		struct upreq *u = *uu;

		if (u->b != b) {
			uu = &u->next;
			continue;
		}
		*uu = u->next;
		if (u->kind == UP_INTERNAL) {
			a->ninternal--;
		} else if (u->kind == UP_CALL) {
			a->npending--;
			error_to_client(a, u->client_id, MCPD_ERR_UNAVAILABLE, text);
		} else if (--u->f->nparts == 0) {
			fanout_finish(u->f);
		}
		up_free(u);
	}
	maybe_finish(a);
}

static void backend_close(void *sink)
{
	struct backend *b = sink;
	struct aggregate *a = b->a;
	struct session *sess = b->sess;

	b->closed = true;
	b->sess = NULL;
	if (sess)
		relay_detach(sess);
	backend_orphans(b);
	if (alive(a) && a->ops->pending(a->sink) > RELAY_CLIENT_QUEUE)
		close_sink(a);
	a->changed |= CH_ALL;	/* its server's tools are gone */
	schedule();
}

static void backend_held(void *sink, const cJSON *id, double seconds)
{
	struct backend *b = sink;
	struct aggregate *a = b->a;
	int64_t n;

	if (!alive(a) || !a->ops->held || !cJSON_IsNumber(id) || jsonrpc_id_to_int64(id, &n) < 0)
		return;
	for (struct upreq *u = a->upreqs; u; u = u->next)
		if (u->id == n && u->kind == UP_CALL)
			a->ops->held(a->sink, u->client_id, seconds);
}

/* ---- list_changed, detached backends, freeing ------------------------------------- */

static void notify_changed(struct aggregate *a)
{
	static const char *const methods[] = {
		"notifications/tools/list_changed", "notifications/prompts/list_changed",
		"notifications/resources/list_changed",
	};
	unsigned changed = a->changed;

	a->changed = 0;
	for (unsigned i = 0; i < 3 && alive(a); i++) {
		cJSON *msg;

		if (!(changed & (1u << i)))
			continue;
		msg = jsonrpc_notification_new(methods[i], NULL);
		if (a->era == MCP_ERA_LEGACY) {
			to_client(a, msg);
		} else {
			for (struct alisten *l = a->listens; l && alive(a); l = l->next) {
				cJSON *copy;

				if (!relay_era_listen_wants(l->filter, msg))
					continue;
				copy = cJSON_Duplicate(msg, 1);
				relay_era_set_subscription_id(copy, l->id);
				to_client(a, copy);
				cJSON_Delete(copy);
			}
		}
		cJSON_Delete(msg);
	}
}

static void aggregate_free(struct aggregate *a)
{
	while (a->backends) {
		struct backend *b = a->backends;

		a->backends = b->next;
		free(b->server);
		free(b);
	}
	strv_free(a->servers);
	free(a->agent);
	free(a);
}

static void on_work(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct aggregate *a, *next;

	ev_idle_stop(loop, w);
	for (a = reg.live; a; a = next) {
		next = a->next;
		for (struct backend *b = a->backends; b && alive(a); b = b->next)
			if (b->want_init && b->sess && !b->closed && b->ready && a->init_params)
				backend_init(b);
		if (a->changed && alive(a))
			notify_changed(a);
	}
	while (reg.dead) {
		a = reg.dead;
		reg.dead = a->next;
		aggregate_free(a);
	}
}

void aggregate_server_changed(struct daemon *d, struct server *s)
{
	bool ready = server_ready(entry_server(s));
	char name[80];

	replica_entry_name(s, name, sizeof(name));
	for (struct aggregate *a = reg.live; a; a = a->next) {
		struct backend *b;

		if (!alive(a) || a->d != d || (!covers(a, s) && !find_backend(a, name)))
			continue;
		b = find_backend(a, name);
		if (b ? b->ready == ready : !ready)
			continue;
		if (b) {
			b->ready = ready;
			if (ready && a->init_params && !b->inited)
				b->want_init = true;	/* on_work: not within the server's transition */
		}
		a->changed |= CH_ALL;
		schedule();
	}
}

void aggregate_policy_changed(struct daemon *d)
{
	for (struct aggregate *a = reg.live; a; a = a->next) {
		if (!alive(a) || a->d != d || !a->agent)
			continue;
		a->changed |= CH_ALL;
		schedule();
	}
}

/* ---- the session handle ---------------------------------------------------------- */

struct session *aggregate_attach(struct daemon *d, const struct relay_sink *ops, void *sink, const char *agent,
				 char *const *servers)
{
	struct aggregate *a = xcalloc(1, sizeof(*a));

	if (!reg.loop) {
		reg.loop = d->loop;
		ev_idle_init(&reg.work_w, on_work);
		ev_set_priority(&reg.work_w, EV_MAXPRI);
	}
	a->d = d;
	a->ops = ops;
	a->sink = sink;
	a->agent = agent ? xstrdup(agent) : NULL;
	if (servers) {
		size_t n = 0;

		while (servers[n])
			n++;
		a->servers = strv_dup(servers, n);
	}
	a->next = reg.live;
	reg.live = a;
	if (ops->per_request)
		log_debug(NULL, NULL, "a request's aggregate MCP session attached");
	else
		log_info(NULL, NULL, "an aggregate MCP client attached%s%s", agent ? " as agent " : "", agent ? agent : "");
	return (struct session *)(void *)a;
}

struct aggregate *aggregate_of(const struct session *sess)
{
	const void *p = sess;

	for (struct aggregate *a = reg.live; a; a = a->next)
		if ((const void *)a == p)
			return a;
	for (struct aggregate *a = reg.dead; a; a = a->next)
		if ((const void *)a == p)
			return a;
	return NULL;
}

const char *aggregate_agent(const struct aggregate *a)
{
	return a->agent;
}

bool aggregate_takes_requests(const struct aggregate *a)
{
	return alive(a) && a->era != MCP_ERA_MODERN;
}

void aggregate_detach(struct aggregate *a)
{
	if (a->dead)
		return;
	a->dead = true;
	if (a->draining)
		ev_timer_stop(reg.loop, &a->drain_w);
	while (a->fanouts) {
		struct fanout *f = a->fanouts;

		a->fanouts = f->next;
		fanout_free(f);
	}
	while (a->upreqs) {
		struct upreq *u = a->upreqs;

		a->upreqs = u->next;
		up_free(u);
	}
	while (a->sreqs) {
		struct sreq *q = a->sreqs;

		a->sreqs = q->next;
		cJSON_Delete(q->orig_id);
		free(q);
	}
	while (a->listens) {
		struct alisten *l = a->listens;

		a->listens = l->next;
		listen_free(l);
	}
	cJSON_Delete(a->init_params);
	a->init_params = NULL;
	/* The relay cancels what each backend had in flight, and answers its servers' requests. */
	for (struct backend *b = a->backends; b; b = b->next) {
		if (b->sess) {
			struct session *sess = b->sess;

			b->sess = NULL;
			relay_detach(sess);
		}
	}
	for (struct aggregate **aa = &reg.live; *aa; aa = &(*aa)->next) {
		if (*aa == a) {
			*aa = a->next;
			break;
		}
	}
	if (a->refused || a->left_out)
		log_notice(NULL, NULL, "an aggregate MCP client detached; %" PRIu64 " of its requests were refused for a "
			   "budget, %" PRIu64 " servers were left out of its lists for not answering in time",
			   a->refused, a->left_out);
	if (a->ops->per_request)
		log_debug(NULL, NULL, "a request's aggregate MCP session detached");
	else
		log_info(NULL, NULL, "an aggregate MCP client detached");
	a->next = reg.dead;
	reg.dead = a;
	schedule();
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct aggregate *a = w->data;

	log_notice(NULL, NULL, "an aggregate MCP client left with %zu requests unanswered after %.0fs; cancelling them",
		   a->npending, RELAY_DRAIN_SECONDS);
	close_sink(a);
}

bool aggregate_client_eof(struct aggregate *a)
{
	if (!alive(a))
		return true;
	if (a->draining)
		return false;
	if (a->npending == 0)
		return true;
	a->draining = true;
	ev_timer_init(&a->drain_w, on_drain_timeout, RELAY_DRAIN_SECONDS, 0.);
	a->drain_w.data = a;
	ev_timer_start(reg.loop, &a->drain_w);
	return false;
}

void aggregate_cancel(struct aggregate *a, const cJSON *id, const char *why, bool timed_out)
{
	char *text = jsonrpc_cancelled_line(id, why);

	if (!text)
		return;
	a->cancel_timeout = timed_out;
	aggregate_client_line(a, text, strlen(text));
	a->cancel_timeout = false;
	free(text);
}

void aggregate_client_oversized(struct aggregate *a, const char *start, size_t len, size_t limit)
{
	cJSON *id;
	char msg[128];

	if (!alive(a))
		return;
	id = answer_id(a, start, len < 64 * 1024 ? len : 64 * 1024, NULL);
	snprintf(msg, sizeof(msg), "invalid request: the message is longer than %zu bytes, the limit of one message",
		 limit);
	error_to_client(a, id, JSONRPC_INVALID_REQUEST, msg);
	cJSON_Delete(id);
}
