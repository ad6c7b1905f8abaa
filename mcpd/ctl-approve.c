/* Control method `approve`: a held tool call is sent on to its server, once. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "approvals.h"
#include "control.h"
#include "jsonrpc.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const char *aid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "id"));
	char message[128];
	cJSON *result;

	if (!aid || !*aid || strlen(aid) > APPROVALS_ID_LEN) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "\"id\" must be an approval id, as `mcpctl approvals` shows it",
			  NULL);
		return;
	}
	if (approvals_approve(aid, ctl_uid(c)) < 0) {
		snprintf(message, sizeof(message), "no call waits for approval %s (decided, expired or withdrawn "
			 "already?)", aid);
		ctl_error(c, id, CTL_ERR_NO_APPROVAL, message, NULL);
		return;
	}
	result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "id", aid);
	cJSON_AddStringToObject(result, "decision", "approved");
	ctl_reply(c, id, result);
}

const struct ctl_method ctl_approve = { .name = "approve", .writes = true, .run = run };
