/* Control method `start`: start the named servers (a failed one at once, circuit reset). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "ctl-lifecycle.h"
#include "server.h"

void ctl_apply_event(struct ctl_client *c, const cJSON *id, const cJSON *params, enum server_event ev)
{
	struct server **list;
	size_t n;
	cJSON *r, *servers;

	/* Every name is checked before anything is done. */
	if (ctl_servers(c, id, params, false, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		lifecycle_event(list[i], ev, NULL);
	r = cJSON_CreateObject();
	servers = cJSON_AddArrayToObject(r, "servers");
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		char reason[320];

		server_reason(list[i], reason, sizeof(reason));
		cJSON_AddStringToObject(o, "name", list[i]->conf.name);
		cJSON_AddStringToObject(o, "state", server_state_name(list[i]->state));
		cJSON_AddStringToObject(o, "reason", reason);
		cJSON_AddItemToArray(servers, o);
	}
	free(list);
	ctl_reply(c, id, r);
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	ctl_apply_event(c, id, params, SE_START);
}

const struct ctl_method ctl_start = { .name = "start", .writes = true, .run = run };
