/*
 * Control method `connect`: the connection becomes an MCP client of a stdio
 * server (mcpctl connect). After the reply, every line is an MCP message.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "control.h"
#include "jsonrpc.h"
#include "relay.h"
#include "server.h"

static bool sink_send(void *sink, const cJSON *msg)
{
	return ctl_send(sink, msg);
}

static size_t sink_pending(void *sink)
{
	return ctl_pending(sink);
}

static void sink_close(void *sink)
{
	/* The relay closes a session with this much queued only to drop a client that does not read. */
	if (ctl_pending(sink) > RELAY_CLIENT_QUEUE)
		ctl_abort(sink);
	else
		ctl_close(sink);
}

static const struct relay_sink control_sink = {
	.send = sink_send, .pending = sink_pending, .close = sink_close, .raw_ids = true,
};

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	struct server *server;
	cJSON *r;

	if (!cJSON_IsString(name)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect needs {\"name\": SERVER}", NULL);
		return;
	}
	server = ctl_server_named(c, id, name->valuestring);
	if (!server)
		return;
	if (server->conf.transport != TRANSPORT_STDIO) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS,
			  "connect relays stdio servers; an http server is reached at its own URL", NULL);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "server", server->conf.name);
	cJSON_AddStringToObject(r, "state", server_state_name(server->state));
	if (ctl_reply(c, id, r))
		ctl_attach(c, relay_attach(server, &control_sink, c, NULL));
}

/* A session may write to a server: like start and stop, it needs full access. */
const struct ctl_method ctl_connect = { .name = "connect", .writes = true, .run = run };
