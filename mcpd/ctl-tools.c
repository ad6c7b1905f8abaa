/* Control method `tools`: a server's tool list as mcpd last saw it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>

#include "control.h"
#include "jsonrpc.h"
#include "server.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	struct server *server;
	cJSON *r;
	char hash[20];

	if (!cJSON_IsString(name)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "tools needs {\"name\": SERVER}", NULL);
		return;
	}
	server = ctl_server_named(c, id, name->valuestring);
	if (!server)
		return;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "name", server->conf.name);
	cJSON_AddStringToObject(r, "state", server_state_name(server->state));
	if (server->health.tools) {
		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)server->health.tools_hash);
		cJSON_AddStringToObject(r, "hash", hash);
		cJSON_AddItemToObject(r, "tools", cJSON_Parse(server->health.tools));
	} else {
		cJSON_AddNullToObject(r, "hash");
		cJSON_AddNullToObject(r, "tools");
	}
	ctl_reply(c, id, r);
}

const struct ctl_method ctl_tools = { .name = "tools", .writes = false, .run = run };
