/*
 * Control method `rollback`: apply a manifest of the history as `reload`
 * would (the same validation and diff; only what changed restarts), or only
 * show the diff; the manifest file is left alone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>

#include "control.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "reload.h"
#include "sdnotify.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *dry = cJSON_GetObjectItemCaseSensitive(params, "dry_run");
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(params, "hash");
	struct daemon *d = ctl_daemon(c);
	cJSON *result, *errors, *data;
	int r;

	if ((dry && !cJSON_IsBool(dry)) || (hash && !cJSON_IsString(hash) && !cJSON_IsNull(hash))) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "\"dry_run\" must be true or false, \"hash\" a string", NULL);
		return;
	}
	if (!cJSON_IsTrue(dry))
		sdnotify_reloading(d);
	r = reload_rollback(d, cJSON_GetStringValue(hash), &(struct reload_who){ .uid = ctl_uid(c) }, cJSON_IsTrue(dry),
			    &result, &errors);
	if (!cJSON_IsTrue(dry))
		sdnotify_reloaded(d);
	if (r == -EINVAL) {
		data = cJSON_CreateObject();
		cJSON_AddItemToObject(data, "errors", errors);
		ctl_error(c, id, CTL_ERR_RELOAD, "the stored manifest is invalid now; still running the previous one",
			  data);
		return;
	}
	if (r < 0) {
		const char *msg = cJSON_GetStringValue(cJSON_GetArrayItem(errors, 0));

		ctl_error(c, id, r == -EDOM ? JSONRPC_INVALID_PARAMS : CTL_ERR_HISTORY, msg ? msg : "rollback failed", NULL);
		cJSON_Delete(errors);
		return;
	}
	ctl_reply(c, id, result);
}

const struct ctl_method ctl_rollback = { .name = "rollback", .writes = true, .run = run };
