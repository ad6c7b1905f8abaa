/* Control method `approve`: a held tool call is sent on to its server, once. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "approvals.h"
#include "control.h"
#include "ctl-approvals.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const char *aid = ctl_approval_id(c, id, params);

	if (aid)
		ctl_approval_reply(c, id, aid, approvals_approve(aid, ctl_uid(c)), "approved");
}

const struct ctl_method ctl_approve = { .name = "approve", .writes = true, .run = run };
