/* Control method `approvals`: the tool calls held for a human's approval, oldest first. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "approvals.h"
#include "control.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	cJSON *result = cJSON_CreateObject();

	(void)params;
	cJSON_AddItemToObject(result, "approvals", approvals_list(ctl_daemon(c)));
	ctl_reply(c, id, result);
}

/* Writes: the previews show what agents ask, which is not for every reader of status. */
const struct ctl_method ctl_approvals = { .name = "approvals", .writes = true, .run = run };
