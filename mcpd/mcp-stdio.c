/* The MCP session over a stdio server's pipes: see mcp-stdio.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "deep-check.h"
#include "duration.h"
#include "health.h"
#include "jsonrpc.h"
#include "lifecycle.h"
#include "log.h"
#include "mcp-stdio.h"
#include "relay.h"
#include "server.h"
#include "xmalloc.h"

#define ID_PREFIX "mcpd-"

/* A switch between handshakes (discover -> initialize or back) happens at most this often per process. */
#define MAX_HANDSHAKE_SWITCHES 2

struct pending {
	int64_t id;
	enum mcp_request_kind kind;
	struct server *s;
	unsigned switches;	/* handshakes: how many switches led to this one */
	bool probe;		/* server/discover as the era probe: timed, and no answer means legacy */
	ev_timer probe_w;
	struct pending *next;
};

static void fail(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct server *s, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lifecycle_event(s, SE_FAIL, &(struct event_arg){ .reason = why });
}

uint64_t mcp_stdio_probe_timeout_ms(uint64_t start_timeout_ms)
{
	uint64_t t = start_timeout_ms / MCP_PROBE_FRACTION;

	return t > MCP_PROBE_MAX_MS ? MCP_PROBE_MAX_MS : t;
}

static cJSON *client_info(void)
{
	cJSON *info = cJSON_CreateObject();

	cJSON_AddStringToObject(info, "name", "mcpd");
	cJSON_AddStringToObject(info, "version", PACKAGE_VERSION);
	return info;
}

static struct pending *send_request(struct server *s, enum mcp_request_kind kind, const char *method, cJSON *params)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	char idbuf[40];
	cJSON *id, *msg;
	bool ok;

	p->id = ++s->next_id;
	p->kind = kind;
	p->s = s;
	p->next = s->pending;
	s->pending = p;
	snprintf(idbuf, sizeof(idbuf), ID_PREFIX "%" PRId64, p->id);
	id = cJSON_CreateString(idbuf);
	msg = jsonrpc_request_new(id, method, params);
	if (s->era == MCP_ERA_MODERN || kind == MCP_REQ_DISCOVER) {
		cJSON *info = client_info(), *caps = mcp_client_capabilities();

		mcp_inject_meta(msg, MCP_VERSION_MODERN, info, caps);
		cJSON_Delete(info);
		cJSON_Delete(caps);
	}
	ok = server_send(s, msg);
	cJSON_Delete(msg);
	cJSON_Delete(id);
	return ok ? p : NULL;
}

int64_t mcp_stdio_request(struct server *s, enum mcp_request_kind kind, const char *method, cJSON *params)
{
	struct pending *p = send_request(s, kind, method, params);

	return p ? p->id : -1;
}

static void send_notification(struct server *s, const char *method)
{
	cJSON *msg = jsonrpc_notification_new(method, NULL);

	server_send(s, msg);
	cJSON_Delete(msg);
}

static void send_initialize(struct server *s, unsigned switches)
{
	cJSON *params = cJSON_CreateObject();
	struct pending *p;

	cJSON_AddStringToObject(params, "protocolVersion", MCP_PROTOCOL_LATEST);
	cJSON_AddItemToObject(params, "capabilities", mcp_client_capabilities());
	cJSON_AddItemToObject(params, "clientInfo", client_info());
	p = send_request(s, MCP_REQ_INITIALIZE, "initialize", params);
	if (p)
		p->switches = switches;
}

static void on_probe_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static void send_discover(struct server *s, unsigned switches, bool probe)
{
	struct pending *p = send_request(s, MCP_REQ_DISCOVER, "server/discover", NULL);

	if (!p)
		return;
	p->switches = switches;
	p->probe = probe;
	if (probe) {
		ev_timer_init(&p->probe_w, on_probe_timeout,
			      (double)mcp_stdio_probe_timeout_ms(s->conf.health.start_timeout_ms) / 1000., 0.);
		p->probe_w.data = p;
		ev_timer_start(s->d->loop, &p->probe_w);
	}
}

static void pending_free(struct server *s, struct pending *p)
{
	if (p->probe)
		ev_timer_stop(s->d->loop, &p->probe_w);
	free(p);
}

/* Unlink p from the list of requests in flight. */
static void unlink_pending(struct server *s, struct pending *p)
{
	for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/* The era probe got no answer in time: the server is legacy (its answer, if it comes, is ignored). */
static void on_probe_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pending *p = w->data;
	struct server *s = p->s;
	unsigned switches = p->switches;
	char d[32];

	unlink_pending(s, p);
	pending_free(s, p);
	if (s->state != ST_STARTING || !s->in_handshake)
		return;	/* it failed meanwhile: nothing more to ask */
	duration_format(mcp_stdio_probe_timeout_ms(s->conf.health.start_timeout_ms), d, sizeof(d));
	log_info(s->conf.name, "starting", "no answer to server/discover within %s: speaking the legacy era (initialize)",
		 d);
	send_initialize(s, switches + 1);
}

void mcp_stdio_begin(struct server *s)
{
	s->in_handshake = true;
	switch (s->conf.protocol) {
	case PROTOCOL_MODERN:
		send_discover(s, 0, false);
		return;
	case PROTOCOL_LEGACY:
		send_initialize(s, 0);
		return;
	case PROTOCOL_AUTO:
		break;
	}
	/* The last process spoke legacy: some SDKs exit on any request before initialize. */
	if (s->era_hint == MCP_ERA_LEGACY)
		send_initialize(s, 0);
	else
		send_discover(s, 0, true);
}

static const struct pending *handshake_pending(const struct server *s)
{
	for (const struct pending *p = s->pending; p; p = p->next)
		if (p->kind == MCP_REQ_INITIALIZE || p->kind == MCP_REQ_DISCOVER)
			return p;
	return NULL;
}

const char *mcp_stdio_handshake_method(const struct server *s)
{
	const struct pending *p = handshake_pending(s);

	if (!p)
		return NULL;
	return p->kind == MCP_REQ_INITIALIZE ? "initialize" : "server/discover";
}

void mcp_stdio_handshake_note(const struct server *s, char *buf, size_t size)
{
	const struct pending *p = handshake_pending(s);

	if (p && p->probe)
		snprintf(buf, size, " before it answered server/discover (mcpd's era probe), so its next process is asked "
			 "initialize first");
	else
		snprintf(buf, size, " during the MCP handshake");
}

void mcp_stdio_reset(struct server *s)
{
	while (s->pending) {
		struct pending *p = s->pending;

		/* Servers built on some SDKs exit on a request before initialize: not again. */
		if (p->probe && s->in_handshake)
			s->era_hint = MCP_ERA_LEGACY;
		s->pending = p->next;
		pending_free(s, p);
	}
	cJSON_Delete(s->init_result);
	s->init_result = NULL;
	cJSON_Delete(s->discover_result);
	s->discover_result = NULL;
	s->era = MCP_ERA_UNKNOWN;
	s->protocol_version[0] = '\0';
	s->in_handshake = false;
}

/* Take the pending request with this id off the list. */
static struct pending *take_pending(struct server *s, const cJSON *id)
{
	const char *str = cJSON_GetStringValue(id);
	char *end;
	int64_t n;

	if (!str || strncmp(str, ID_PREFIX, strlen(ID_PREFIX)) != 0)
		return NULL;
	n = strtoll(str + strlen(ID_PREFIX), &end, 10);
	if (*end)
		return NULL;
	for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == n) {
			struct pending *p = *pp;

			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

static const char *or_unknown(const char *s)
{
	return s ? s : "?";
}

/* "[\"2099-01-01\", \"2100-01-01\"]": a peer's version list, cut to fit a reason. */
static void format_versions(const cJSON *list, char *buf, size_t size)
{
	char *text = cJSON_IsArray(list) ? cJSON_PrintUnformatted(list) : NULL;

	snprintf(buf, size, "%.80s%s", text ? text : "(none)", text && strlen(text) > 80 ? "..." : "");
	free(text);
}

#define MCPD_VERSIONS MCP_VERSION_MODERN ", " MCP_PROTOCOL_LATEST " to " MCP_PROTOCOL_OLDEST

static void ready_modern(struct server *s, const cJSON *result)
{
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(result, "_meta"),
							    MCP_META_SERVER_INFO);

	cJSON_Delete(s->discover_result);
	s->discover_result = cJSON_Duplicate(result, 1);
	s->era = s->era_hint = MCP_ERA_MODERN;
	snprintf(s->protocol_version, sizeof(s->protocol_version), "%s", MCP_VERSION_MODERN);
	log_info(s->conf.name, "starting", "MCP discovery done: %.64s %.32s, protocol %s (modern)",
		 or_unknown(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "name"))),
		 or_unknown(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "version"))),
		 MCP_VERSION_MODERN);
	lifecycle_event(s, SE_READY, NULL);	/* entering running starts the probes */
}

/* The answer to server/discover: modern, legacy (initialize), or a failure that names both sides' versions. */
static void on_discover_result(struct server *s, const struct pending *p, const cJSON *msg)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	bool pinned = s->conf.protocol == PROTOCOL_MODERN;
	char theirs[100];

	if (!error && cJSON_IsObject(result)) {
		const cJSON *versions = cJSON_GetObjectItemCaseSensitive(result, "supportedVersions");

		if (mcp_versions_first_modern(versions)) {
			ready_modern(s, result);
			return;
		}
		format_versions(versions, theirs, sizeof(theirs));
		if (!pinned && mcp_versions_first_legacy(versions)) {
			log_info(s->conf.name, "starting", "server/discover lists versions %s: speaking the legacy era "
				 "(initialize)", theirs);
			send_initialize(s, p->switches + 1);
			return;
		}
		if (!pinned && !cJSON_IsArray(versions)) {
			/* Not a DiscoverResult: a legacy server that answers anything. */
			send_initialize(s, p->switches + 1);
			return;
		}
		fail(s, "answered server/discover with versions %s; mcpd speaks %s", theirs, MCPD_VERSIONS);
		return;
	}
	if (mcp_error_is_modern(error)) {
		const cJSON *supported = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(error, "data"),
									  "supported");
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		/* A modern server: never fall back to initialize unless it lists a legacy version itself. */
		format_versions(supported, theirs, sizeof(theirs));
		if (!pinned && !mcp_error_supported_modern(error) && mcp_versions_first_legacy(supported) &&
		    p->switches < MAX_HANDSHAKE_SWITCHES) {
			log_info(s->conf.name, "starting", "server/discover: it supports %s: speaking the legacy era "
				 "(initialize)", theirs);
			send_initialize(s, p->switches + 1);
			return;
		}
		if (mcp_error_supported_modern(error) && p->switches < MAX_HANDSHAKE_SWITCHES) {
			send_discover(s, p->switches + 1, false);	/* it lists the version mcpd asked for: once more */
			return;
		}
		if (jsonrpc_error_code(error) == MCP_ERR_UNSUPPORTED_VERSION)
			fail(s, "speaks protocol versions %s, none of which mcpd speaks (%s)", theirs, MCPD_VERSIONS);
		else
			fail(s, "answered server/discover with error %d: %.120s", jsonrpc_error_code(error),
			     text ? text : "(no message)");
		return;
	}
	if (pinned) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		fail(s, "does not answer server/discover (error %d: %.100s), and the manifest pins protocol: modern",
		     jsonrpc_error_code(error), text ? text : "(no message)");
		return;
	}
	/* Any other error: a legacy server, whatever its code. */
	send_initialize(s, p->switches + 1);
}

static void on_initialize_result(struct server *s, const struct pending *p, const cJSON *msg)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	const char *version;
	const cJSON *info;

	if (error) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));
		const cJSON *supported = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(error, "data"),
									  "supported");
		char theirs[100];

		if (mcp_error_supported_modern(error)) {
			if (s->conf.protocol == PROTOCOL_AUTO && p->switches < MAX_HANDSHAKE_SWITCHES) {
				log_info(s->conf.name, "starting", "initialize: it speaks %s: speaking the modern era "
					 "(server/discover)", MCP_VERSION_MODERN);
				send_discover(s, p->switches + 1, false);
				return;
			}
			if (s->conf.protocol == PROTOCOL_LEGACY) {
				format_versions(supported, theirs, sizeof(theirs));
				fail(s, "speaks only %s, and the manifest pins protocol: legacy (set protocol: auto)", theirs);
				return;
			}
		}
		if (s->conf.protocol == PROTOCOL_AUTO && p->switches == 0 && s->era_hint == MCP_ERA_LEGACY &&
		    !mcp_error_is_modern(error)) {
			/* Only the last process said legacy: a new program may not be, so probe once. */
			log_info(s->conf.name, "starting", "initialize failed (%.120s): probing its era with server/discover",
				 text ? text : "no message");
			send_discover(s, p->switches + 1, true);
			return;
		}
		fail(s, "initialize failed: %.160s", text ? text : "(no message)");
		return;
	}
	version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "protocolVersion"));
	if (!cJSON_IsObject(result) || !version) {
		fail(s, "answered initialize without a protocolVersion");
		return;
	}
	if (!mcp_version_legacy(version)) {
		fail(s, "answered initialize with protocol version \"%.32s\", which mcpd does not speak (%s to %s)",
		     version, MCP_PROTOCOL_OLDEST, MCP_PROTOCOL_LATEST);
		return;
	}
	snprintf(s->protocol_version, sizeof(s->protocol_version), "%s", version);
	cJSON_Delete(s->init_result);
	s->init_result = cJSON_Duplicate(result, 1);
	s->era = s->era_hint = MCP_ERA_LEGACY;
	info = cJSON_GetObjectItemCaseSensitive(result, "serverInfo");
	log_info(s->conf.name, "starting", "MCP handshake done: %.64s %.32s, protocol %s (legacy)",
		 or_unknown(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "name"))),
		 or_unknown(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "version"))), version);
	send_notification(s, "notifications/initialized");
	lifecycle_event(s, SE_READY, NULL);	/* entering running starts the probes */
}

/* "JSON-RPC error -32603: message" for an error response, NULL for a result. */
static const char *error_text(const cJSON *msg, char *buf, size_t size)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const char *text;

	if (!error)
		return NULL;
	text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));
	snprintf(buf, size, "JSON-RPC error %d: %.120s",
		 jsonrpc_error_code(error), text ? text : "(no message)");
	return buf;
}

static void on_response(struct server *s, cJSON *msg)
{
	char buf[160];
	struct pending *p;

	/* Integer ids are relayed clients' requests; mcpd's own are strings. */
	if (relay_server_response(s, msg))
		return;
	p = take_pending(s, cJSON_GetObjectItemCaseSensitive(msg, "id"));
	if (!p) {
		log_debug(s->conf.name, NULL, "ignoring a response to a request mcpd did not send");
		return;
	}
	switch (p->kind) {
	case MCP_REQ_INITIALIZE:
		on_initialize_result(s, p, msg);
		break;
	case MCP_REQ_DISCOVER:
		on_discover_result(s, p, msg);
		break;
	case MCP_REQ_LISTEN:
		health_listen_ended(s, p->id, error_text(msg, buf, sizeof(buf)));
		break;
	case MCP_REQ_PING:
		health_ping_answered(s, p->id, error_text(msg, buf, sizeof(buf)));
		break;
	case MCP_REQ_CALL:
		deep_check_call_answered(s, p->id, msg);
		break;
	case MCP_REQ_TOOLS_LIST:
		health_tools_answered(s, cJSON_GetObjectItemCaseSensitive(msg, "result"),
				      error_text(msg, buf, sizeof(buf)));
		break;
	}
	pending_free(s, p);
}

/* A request from the server: mcpd answers ping; roots/list, sampling... go to the client relay-state.c picks. */
static void on_server_request(struct server *s, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	cJSON *reply;

	if (strcmp(method, "ping") == 0)
		reply = jsonrpc_result_new(id, cJSON_CreateObject());
	else if (relay_server_request(s, msg))
		return;
	else
		reply = jsonrpc_error_new(id, JSONRPC_METHOD_NOT_FOUND,
					  "no MCP client is attached to mcpd to answer this request", NULL);
	server_send(s, reply);
	cJSON_Delete(reply);
}

static bool own_subscription(const cJSON *msg)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "params"), "_meta");
	const char *sub = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, MCP_META_SUBSCRIPTION_ID));

	return sub && strncmp(sub, ID_PREFIX, strlen(ID_PREFIX)) == 0;
}

void mcp_stdio_line(struct server *s, const char *line, size_t len)
{
	int code = 0;
	cJSON *msg;

	if (len == 0)
		return;
	msg = jsonrpc_parse(line, len, &code);
	if (!msg) {
		char shown[64];
		size_t n = 0;

		for (size_t i = 0; i < len && n + 1 < sizeof(shown) && n < 48; i++)
			shown[n++] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
		shown[n] = '\0';
		if (s->in_handshake) {
			fail(s, "wrote something that is not JSON-RPC on stdout: \"%s%s\"", shown, len > n ? "..." : "");
		} else if (server_log_allows(s, LOGRATE_STDOUT)) {
			/* The same budget as stderr: a child printing logs on stdout cannot flood mcpd's log. */
			log_warning(s->conf.name, server_state_name(s->state),
				    "ignoring output on stdout that is not JSON-RPC: \"%s%s\" (logs belong on stderr)",
				    shown, len > n ? "..." : "");
		}
		return;
	}
	switch (jsonrpc_classify(msg)) {
	case JSONRPC_RESPONSE:
		on_response(s, msg);
		break;
	case JSONRPC_REQUEST:
		on_server_request(s, msg);
		break;
	case JSONRPC_NOTIFICATION: {
		const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));

		if (strcmp(method, "notifications/tools/list_changed") == 0)
			health_tools_changed(s);
		/* On mcpd's own subscriptions/listen (string id): for mcpd alone, never for clients. */
		if (!own_subscription(msg))
			relay_server_notification(s, msg);
		break;
	}
	case JSONRPC_INVALID:
		if (s->in_handshake)
			fail(s, "wrote a JSON message on stdout that is not JSON-RPC 2.0");
		else if (server_log_allows(s, LOGRATE_STDOUT))
			log_warning(s->conf.name, NULL, "ignoring a JSON message that is not JSON-RPC 2.0");
		break;
	}
	cJSON_Delete(msg);
}
