/* What the control methods approve and deny share: the approval id they name, and their answer. */
#ifndef MCPD_CTL_APPROVALS_H
#define MCPD_CTL_APPROVALS_H

#include "control.h"

/* params' "id" when it can be an approval id; NULL when not, the client answered with an error. */
const char *ctl_approval_id(struct ctl_client *c, const cJSON *id, const cJSON *params);

/* The answer to a decision on approval aid: rc from approvals_approve or approvals_deny. */
void ctl_approval_reply(struct ctl_client *c, const cJSON *id, const char *aid, int rc, const char *decision);

#endif
