/* Control method `deny`: a held tool call is answered with an error naming the decision and the reason. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "approvals.h"
#include "control.h"
#include "ctl-approvals.h"
#include "jsonrpc.h"

/* Printable ASCII or UTF-8, no control characters: it goes into log lines and the client's error. */
static bool printable(const char *s)
{
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const char *aid = ctl_approval_id(c, id, params);
	const cJSON *why = cJSON_GetObjectItemCaseSensitive(params, "reason");
	const char *reason = cJSON_GetStringValue(why);
	char message[128];

	if (!aid)
		return;
	if ((why && !cJSON_IsNull(why) && !reason) ||
	    (reason && (!*reason || strlen(reason) > APPROVALS_REASON_MAX || !printable(reason)))) {
		snprintf(message, sizeof(message), "\"reason\" must be 1 to %d printable bytes", APPROVALS_REASON_MAX);
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, message, NULL);
		return;
	}
	ctl_approval_reply(c, id, aid, approvals_deny(aid, ctl_uid(c), reason), "denied");
}

const struct ctl_method ctl_deny = { .name = "deny", .writes = true, .run = run };
