/* SSE framing: see sse.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "xmalloc.h"

#define SSE_KEEP (64 * 1024)	/* buffers larger than this are freed between streams */

void sse_init(struct sse *p, size_t max)
{
	*p = (struct sse){ .max = max };
}

void sse_free(struct sse *p)
{
	free(p->line);
	free(p->data);
	sse_init(p, p->max);
}

void sse_reset(struct sse *p)
{
	/* A stream that sent a large event does not keep its memory: the next one starts small. */
	if (p->line_cap > SSE_KEEP) {
		free(p->line);
		p->line = NULL;
		p->line_cap = 0;
	}
	if (p->data_cap > SSE_KEEP) {
		free(p->data);
		p->data = NULL;
		p->data_cap = 0;
	}
	p->line_len = p->data_len = 0;
	p->event[0] = '\0';
	p->has_data = false;
}

/* Room for n more bytes and a NUL in buf; the caller has checked len + n + 1 <= max. */
static void reserve(char **buf, size_t *cap, size_t len, size_t n, size_t max)
{
	size_t need = len + n + 1, ncap = *cap ? *cap : 256;

	if (need <= *cap)
		return;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max + 1)
		ncap = need > max + 1 ? need : max + 1;	/* doubling must not pass the bound */
	*buf = xrealloc(*buf, ncap);
	*cap = ncap;
}

/* One complete line, without its end: a field, or the blank line that ends the event. */
static int line(struct sse *p, const char *s, size_t len, sse_event_fn fn, void *userdata)
{
	const char *colon = memchr(s, ':', len);
	size_t nlen = colon ? (size_t)(colon - s) : len;
	const char *v = colon ? colon + 1 : s + len;
	size_t vlen = (size_t)(s + len - v);
	int r = 0;

	if (len == 0) {
		if (p->has_data)
			r = fn(userdata, p->event, p->data, p->data_len);
		if (r < 0)
			return r;	/* p may be gone */
		p->data_len = 0;
		p->event[0] = '\0';
		p->has_data = false;
		return 0;
	}
	if (vlen && v[0] == ' ')
		v++, vlen--;
	if (nlen == 4 && memcmp(s, "data", 4) == 0) {
		/* The caller's bound covers it: data_len + line + 1 <= max. */
		reserve(&p->data, &p->data_cap, p->data_len, vlen + 1, p->max);
		if (p->has_data)
			p->data[p->data_len++] = '\n';
		memcpy(p->data + p->data_len, v, vlen);
		p->data_len += vlen;
		p->data[p->data_len] = '\0';
		p->has_data = true;
	} else if (nlen == 5 && memcmp(s, "event", 5) == 0) {
		if (vlen >= sizeof(p->event))
			vlen = sizeof(p->event) - 1;	/* no event name we know is that long */
		memcpy(p->event, v, vlen);
		p->event[vlen] = '\0';
	}
	return 0;
}

int sse_feed(struct sse *p, const char *buf, size_t len, sse_event_fn fn, void *userdata)
{
	const char *end = buf + len;

	while (buf < end) {
		const char *nl = memchr(buf, '\n', (size_t)(end - buf));
		size_t n = nl ? (size_t)(nl - buf) : (size_t)(end - buf);
		const char *s;
		size_t slen;
		int r;

		/* The event so far, this line included, must stay within max. */
		if (p->data_len + p->line_len + n + 1 > p->max)
			return -EMSGSIZE;
		if (!nl || p->line_len) {
			reserve(&p->line, &p->line_cap, p->line_len, n, p->max);
			memcpy(p->line + p->line_len, buf, n);
			p->line_len += n;
		}
		if (!nl)
			break;
		buf = nl + 1;
		if (p->line_len) {
			s = p->line;
			slen = p->line_len;
			p->line_len = 0;	/* line() does not look at it, the next line reuses it */
		} else {
			s = nl - n;
			slen = n;
		}
		if (slen && s[slen - 1] == '\r')
			slen--;
		r = line(p, s, slen, fn, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}
