/* Control method `approvals`: the tool calls held for a human's approval, oldest first. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "approvals.h"
#include "control.h"
#include "ctl-approvals.h"
#include "jsonrpc.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	cJSON *result = cJSON_CreateObject();

	(void)params;
	cJSON_AddItemToObject(result, "approvals", approvals_list(ctl_daemon(c)));
	ctl_reply(c, id, result);
}

/* Writes: the previews show what agents ask, which is not for every reader of status. */
const struct ctl_method ctl_approvals = { .name = "approvals", .writes = true, .run = run };

const char *ctl_approval_id(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const char *aid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "id"));

	if (!aid || !*aid || strlen(aid) > APPROVALS_ID_LEN) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "\"id\" must be an approval id, as `mcpctl approvals` shows it",
			  NULL);
		return NULL;
	}
	return aid;
}

void ctl_approval_reply(struct ctl_client *c, const cJSON *id, const char *aid, int rc, const char *decision)
{
	char message[128];
	cJSON *result;

	if (rc < 0) {
		snprintf(message, sizeof(message), "no call waits for approval %s (decided, expired or withdrawn "
			 "already?)", aid);
		ctl_error(c, id, CTL_ERR_NO_APPROVAL, message, NULL);
		return;
	}
	result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "id", aid);
	cJSON_AddStringToObject(result, "decision", decision);
	ctl_reply(c, id, result);
}
