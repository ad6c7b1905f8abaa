/* /metrics: mcpd's state in the Prometheus text exposition format (version 0.0.4). */
#ifndef MCPD_METRICS_H
#define MCPD_METRICS_H

#include <stddef.h>

struct daemon;

/* The exposition being built: a growing buffer. */
struct metrics_buf {
	char *data;
	size_t len, cap;
};

/* The whole exposition, malloc'd; *ret_len its length. */
char *metrics_render(const struct daemon *d, size_t *ret_len);

/* For the modules that add their families (traffic.c, resources.c, deep-check.c). */
void metrics_printf(struct metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help);
/* s as a label value (\, " and newline escaped) in buf, cut to fit size. */
const char *metrics_label(const char *s, char *buf, size_t size);

#endif
