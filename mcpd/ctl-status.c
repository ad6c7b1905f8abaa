/*
 * Control method `status`: the state of every server, or of the named ones.
 * With "summary": true, each server carries only what `mcpctl status`'s
 * table shows (server_status_summary), written straight as text: at 1000
 * servers a third of the full reply, and no cJSON tree in mcpd.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "control.h"
#include "daemon.h"
#include "history.h"
#include "jsonrpc.h"
#include "jsonw.h"
#include "server.h"

static void reply_summary(struct ctl_client *c, const cJSON *id, struct server **list, size_t n)
{
	cJSON *manifest = history_manifest_json(ctl_daemon(c)->history);
	struct jsonw w;

	jsonw_init(&w);
	ctl_reply_begin(id, &w);
	jsonw_char(&w, '{');
	jsonw_key(&w, "health");
	jsonw_string(&w, daemon_health(ctl_daemon(c)));
	jsonw_key(&w, "manifest");
	jsonw_value(&w, manifest);
	jsonw_key(&w, "servers");
	jsonw_char(&w, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			jsonw_char(&w, ',');
		server_status_summary(list[i], &w);
	}
	jsonw_bytes(&w, "]}", 2);
	cJSON_Delete(manifest);
	ctl_reply_end(c, &w);
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *summary = cJSON_GetObjectItemCaseSensitive(params, "summary");
	struct server **list;
	size_t n;
	cJSON *r, *servers;

	if (summary && !cJSON_IsBool(summary)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "\"summary\" must be a boolean", NULL);
		return;
	}
	if (ctl_servers(c, id, params, true, &list, &n) < 0)
		return;
	if (cJSON_IsTrue(summary)) {
		reply_summary(c, id, list, n);
		free(list);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "health", daemon_health(ctl_daemon(c)));
	cJSON_AddItemToObject(r, "manifest", history_manifest_json(ctl_daemon(c)->history));
	servers = cJSON_AddArrayToObject(r, "servers");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(servers, server_status_json(list[i]));
	free(list);
	ctl_reply(c, id, r);
}

const struct ctl_method ctl_status = { .name = "status", .writes = false, .run = run };
