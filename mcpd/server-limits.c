/* The resource limits of one server: see server-limits.h. (Stub: filled in by issue 15.) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "server-limits.h"

void limits_setup(struct daemon *d)
{
	(void)d;
}

int limits_before_spawn(struct server *s, struct spawn_req *req)
{
	(void)s;
	(void)req;
	return 0;
}

bool limits_exit_reason(struct server *s, int status, char *buf, size_t size)
{
	(void)s;
	(void)status;
	(void)buf;
	(void)size;
	return false;
}

void limits_status_json(const struct server *s, cJSON *c)
{
	(void)s;
	(void)c;
}

void server_limits_free(struct server *s)
{
	(void)s;
}
