/* Control method `restart`: stop and start again, resetting backoff and circuit. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ctl-lifecycle.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	ctl_apply_event(c, id, params, SE_RESTART);
}

const struct ctl_method ctl_restart = { .name = "restart", .writes = true, .run = run };
