/* What start, stop and restart share: apply one event to the named servers. */
#ifndef MCPD_CTL_LIFECYCLE_H
#define MCPD_CTL_LIFECYCLE_H

#include "control.h"
#include "lifecycle.h"

void ctl_apply_event(struct ctl_client *c, const cJSON *id, const cJSON *params, enum server_event ev);

#endif
