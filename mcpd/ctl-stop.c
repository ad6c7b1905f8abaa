/* Control method `stop`: stop the named servers; they stay stopped until started. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "ctl-lifecycle.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	ctl_apply_event(c, id, params, SE_STOP);
}

const struct ctl_method ctl_stop = { .name = "stop", .writes = true, .run = run };
