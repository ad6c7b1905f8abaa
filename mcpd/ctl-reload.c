/* Control method `reload`: re-read the manifest and apply the difference (or only show it). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "control.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "reload.h"
#include "sdnotify.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *dry = cJSON_GetObjectItemCaseSensitive(params, "dry_run");
	struct daemon *d = ctl_daemon(c);
	cJSON *result, *errors;
	int r;

	if (dry && !cJSON_IsBool(dry)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "\"dry_run\" must be true or false", NULL);
		return;
	}
	if (!cJSON_IsTrue(dry))
		sdnotify_reloading(d);
	r = reload_manifest(d, &(struct reload_who){ .uid = ctl_uid(c) }, cJSON_IsTrue(dry), &result, &errors);
	if (!cJSON_IsTrue(dry))
		sdnotify_reloaded(d);
	if (r < 0) {
		cJSON *data = cJSON_CreateObject();
		char msg[512];

		snprintf(msg, sizeof(msg), "manifest %s is invalid; still running the previous one", d->manifest_path);
		cJSON_AddItemToObject(data, "errors", errors);
		ctl_error(c, id, CTL_ERR_RELOAD, msg, data);
		return;
	}
	ctl_reply(c, id, result);
}

const struct ctl_method ctl_reload = { .name = "reload", .writes = true, .run = run };
