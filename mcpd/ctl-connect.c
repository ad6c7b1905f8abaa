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

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	struct server **list;
	size_t n;
	cJSON *names, *r;
	int ok;

	if (!cJSON_IsString(name)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect needs {\"name\": SERVER}", NULL);
		return;
	}
	names = cJSON_CreateObject();
	cJSON_AddItemToObject(names, "names", cJSON_CreateStringArray((const char *const[]){ name->valuestring }, 1));
	ok = ctl_servers(c, id, names, false, &list, &n);
	cJSON_Delete(names);
	if (ok < 0)
		return;
	if (list[0]->conf.transport != TRANSPORT_STDIO) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS,
			  "connect relays stdio servers; an http server is reached at its own URL", NULL);
		free(list);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "server", list[0]->conf.name);
	cJSON_AddStringToObject(r, "state", server_state_name(list[0]->state));
	if (ctl_reply(c, id, r))
		ctl_attach(c, relay_attach(list[0], c));
	free(list);
}

/* A session may write to a server: like start and stop, it needs full access. */
const struct ctl_method ctl_connect = { .name = "connect", .writes = true, .run = run };
