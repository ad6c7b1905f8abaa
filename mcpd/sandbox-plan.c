/* The sandbox of one server: see sandbox.h; the parent's side (plans, status, the probe at start). (Stub: filled in by issue 15.) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "sandbox.h"

void sandbox_setup(struct daemon *d)
{
	(void)d;
}

int sandbox_plan_build(struct server *s, struct sandbox_plan **ret, char **error)
{
	(void)s;
	*ret = NULL;
	*error = NULL;
	return 0;
}

void sandbox_plan_free(struct sandbox_plan *plan)
{
	(void)plan;
}

void sandbox_status_json(const struct server *s, cJSON *c)
{
	(void)s;
	cJSON_AddNullToObject(c, "sandbox");
}
