/* Deep health checks: see deep-check.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "deep-check.h"
#include "metrics.h"
#include "server.h"

void deep_check_free(struct server *s)
{
	(void)s;
}

void deep_check_status_json(const struct server *s, cJSON *o)
{
	(void)s;
	(void)o;
}

void deep_check_metrics(const struct daemon *d, struct metrics_buf *b)
{
	(void)d;
	(void)b;
}
