/* Control method `status`: the state of every server, or of the named ones. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "control.h"
#include "daemon.h"
#include "history.h"
#include "server.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	struct server **list;
	size_t n;
	cJSON *r, *servers;

	if (ctl_servers(c, id, params, true, &list, &n) < 0)
		return;
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
