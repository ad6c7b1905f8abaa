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
#include "health.h"
#include "jsonrpc.h"
#include "lifecycle.h"
#include "log.h"
#include "mcp-stdio.h"
#include "relay.h"
#include "server.h"
#include "xmalloc.h"

#define ID_PREFIX "mcpd-"

struct pending {
	int64_t id;
	enum mcp_request_kind kind;
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

int64_t mcp_stdio_request(struct server *s, enum mcp_request_kind kind, const char *method, cJSON *params)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	char idbuf[40];
	cJSON *id, *msg;
	bool ok;

	p->id = ++s->next_id;
	p->kind = kind;
	p->next = s->pending;
	s->pending = p;
	snprintf(idbuf, sizeof(idbuf), ID_PREFIX "%" PRId64, p->id);
	id = cJSON_CreateString(idbuf);
	msg = jsonrpc_request_new(id, method, params);
	ok = server_send(s, msg);
	cJSON_Delete(msg);
	cJSON_Delete(id);
	return ok ? p->id : -1;
}

static void send_notification(struct server *s, const char *method)
{
	cJSON *msg = jsonrpc_notification_new(method, NULL);

	server_send(s, msg);
	cJSON_Delete(msg);
}

void mcp_stdio_begin(struct server *s)
{
	cJSON *params = cJSON_CreateObject();
	cJSON *info;

	cJSON_AddStringToObject(params, "protocolVersion", MCP_PROTOCOL_LATEST);
	cJSON_AddObjectToObject(params, "capabilities");
	info = cJSON_AddObjectToObject(params, "clientInfo");
	cJSON_AddStringToObject(info, "name", "mcpd");
	cJSON_AddStringToObject(info, "version", PACKAGE_VERSION);
	s->in_handshake = true;
	mcp_stdio_request(s, MCP_REQ_INITIALIZE, "initialize", params);
}

void mcp_stdio_reset(struct server *s)
{
	while (s->pending) {
		struct pending *p = s->pending;

		s->pending = p->next;
		free(p);
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

static void on_initialize_result(struct server *s, const cJSON *msg)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	const char *version;
	const cJSON *info;

	if (error) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

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
	info = cJSON_GetObjectItemCaseSensitive(result, "serverInfo");
	log_info(s->conf.name, "starting", "MCP handshake done: %.64s %.32s, protocol %s",
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

static void on_response(struct server *s, const cJSON *msg)
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
		on_initialize_result(s, msg);
		break;
	case MCP_REQ_PING:
		health_ping_answered(s, p->id, error_text(msg, buf, sizeof(buf)));
		break;
	case MCP_REQ_TOOLS_LIST:
		health_tools_answered(s, cJSON_GetObjectItemCaseSensitive(msg, "result"),
				      error_text(msg, buf, sizeof(buf)));
		break;
	}
	free(p);
}

/* A request from the server (ping, roots/list, sampling...): mcpd answers alone for now. */
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
