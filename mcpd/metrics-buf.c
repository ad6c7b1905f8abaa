/* The exposition's buffer and its formatting (no daemon in it: unit-tested alone): see metrics.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "xmalloc.h"

/* The buffer kept between scrapes. */
static struct {
	char *data;		/* NULL until the first exposition */
	size_t cap, len;	/* len: of the last exposition rendered in it */
	bool lent;		/* a response is sending it */
} kept;

/* Kept larger than this over the last exposition, it is shrunk when given back. */
#define KEEP_SLACK	((size_t)1 << 20)

bool metrics_buf_begin(struct metrics_buf *b)
{
	if (kept.data && !kept.lent) {
		*b = (struct metrics_buf){ .data = kept.data, .cap = kept.cap };
		kept.lent = true;
		return true;
	}
	*b = (struct metrics_buf){ .data = xmalloc(4096), .cap = 4096 };
	return false;
}

void metrics_buf_end(const struct metrics_buf *b, bool was_kept)
{
	if (!was_kept && kept.data)
		return;	/* rendered while the kept one was out: freed when sent */
	/* The kept buffer (grown, maybe moved), or the first one, which becomes it. */
	kept.data = b->data;
	kept.cap = b->cap;
	kept.len = b->len;
	kept.lent = true;
}

void metrics_release(void *body)
{
	if (!body)
		return;
	if (body != kept.data) {
		free(body);
		return;
	}
	kept.lent = false;
	if (kept.cap > 4 * kept.len + KEEP_SLACK) {
		kept.cap = 2 * kept.len + KEEP_SLACK;
		kept.data = xrealloc(kept.data, kept.cap);
	}
}

void metrics_free(void)
{
	if (kept.lent)
		return;	/* still being sent: its response gives it back, and it stays kept */
	free(kept.data);
	memset(&kept, 0, sizeof(kept));
}

void metrics_reserve(struct metrics_buf *b, size_t n)
{
	if (b->len + n < b->cap)
		return;
	b->cap = (b->cap + n) * 2;
	b->data = xrealloc(b->data, b->cap);
}

void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 64) + 1;
		b->data = xrealloc(b->data, b->cap);
	}
}

const char *metrics_label(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

const char *metrics_server(const char *name, char *buf, size_t size)
{
	size_t len = strcspn(name, "#");
	char group[80], label[160];

	if (!name[len] || len >= sizeof(group))
		return metrics_label(name, buf, size);
	snprintf(group, sizeof(group), "%.*s", (int)len, name);
	snprintf(buf, size, "%s\",replica=\"%s", metrics_label(group, label, sizeof(label)), name + len + 1);
	return buf;
}

void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	metrics_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
