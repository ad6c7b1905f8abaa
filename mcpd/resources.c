/* Resources per server and of mcpd itself: see resources.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "daemon.h"
#include "metrics.h"
#include "resources.h"
#include "server.h"

void resources_start(struct daemon *d)
{
	(void)d;
}

void resources_stop(struct daemon *d)
{
	(void)d;
}

void resources_free(struct server *s)
{
	(void)s;
}

void resources_status_json(const struct server *s, cJSON *o)
{
	(void)s;
	(void)o;
}

void resources_metrics(const struct daemon *d, struct metrics_buf *b)
{
	(void)d;
	(void)b;
}
