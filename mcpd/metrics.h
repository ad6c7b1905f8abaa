/* /metrics: mcpd's state in the Prometheus text exposition format (version 0.0.4). */
#ifndef MCPD_METRICS_H
#define MCPD_METRICS_H

#include <stddef.h>

struct daemon;

/* The whole exposition, malloc'd; *ret_len its length. */
char *metrics_render(const struct daemon *d, size_t *ret_len);

#endif
