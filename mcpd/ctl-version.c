/* Control method `version`: mcpd's version and pid. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <unistd.h>

#include "control.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(r, "pid", getpid());
	ctl_reply(c, id, r);
}

const struct ctl_method ctl_version = { .name = "version", .writes = false, .run = run };
