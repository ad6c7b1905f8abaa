/* Traffic metrics: see traffic.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "metrics.h"
#include "server.h"
#include "traffic.h"

void traffic_free(struct server *s)
{
	(void)s;
}

void traffic_status_json(const struct server *s, cJSON *o)
{
	(void)s;
	(void)o;
}

void traffic_metrics(const struct daemon *d, struct metrics_buf *b)
{
	(void)d;
	(void)b;
}
