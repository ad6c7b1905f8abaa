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
	struct server **list;
	size_t n;
	cJSON *names, *r;
	char hash[20];
	int ok;

	if (!cJSON_IsString(name)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "tools needs {\"name\": SERVER}", NULL);
		return;
	}
	names = cJSON_CreateObject();
	cJSON_AddItemToObject(names, "names", cJSON_CreateStringArray((const char *const[]){ name->valuestring }, 1));
	ok = ctl_servers(c, id, names, false, &list, &n);
	cJSON_Delete(names);
	if (ok < 0)
		return;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "name", list[0]->conf.name);
	cJSON_AddStringToObject(r, "state", server_state_name(list[0]->state));
	if (list[0]->health.tools) {
		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)list[0]->health.tools_hash);
		cJSON_AddStringToObject(r, "hash", hash);
		cJSON_AddItemToObject(r, "tools", cJSON_Parse(list[0]->health.tools));
	} else {
		cJSON_AddNullToObject(r, "hash");
		cJSON_AddNullToObject(r, "tools");
	}
	free(list);
	ctl_reply(c, id, r);
}

const struct ctl_method ctl_tools = { .name = "tools", .writes = false, .run = run };
