/*
 * Control method `status`: the state of every server, or of the named ones,
 * written straight as text (status.c). With "summary": true, each server
 * carries only what `mcpctl status`'s table shows: at 1000 servers a third
 * of the full reply.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "control.h"
#include "jsonrpc.h"
#include "jsonw.h"
#include "status.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *summary = cJSON_GetObjectItemCaseSensitive(params, "summary");
	struct server **list;
	struct jsonw w;
	size_t n;

	if (summary && !cJSON_IsBool(summary)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "\"summary\" must be a boolean", NULL);
		return;
	}
	if (ctl_servers(c, id, params, true, &list, &n) < 0)
		return;
	jsonw_init(&w);
	ctl_reply_begin(id, &w);
	status_write(ctl_daemon(c), list, n, cJSON_IsTrue(summary), &w);
	free(list);
	ctl_reply_end(c, &w);
}

const struct ctl_method ctl_status = { .name = "status", .writes = false, .run = run };
