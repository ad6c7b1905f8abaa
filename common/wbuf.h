/*
 * A bounded output queue for a non-blocking fd: what a slow reader has not
 * taken yet waits here, up to max bytes, and never blocks the loop.
 */
#ifndef MCPD_WBUF_H
#define MCPD_WBUF_H

#include <stddef.h>

struct wbuf {
	char *data;
	size_t off;		/* data[off, len) is still to be written */
	size_t len;
	size_t cap;
	size_t max;		/* most bytes ever queued */
};

void wbuf_init(struct wbuf *w, size_t max);

/* Drop what is queued and release the memory; w may be used again, or freed again. */
void wbuf_free(struct wbuf *w);

/* Queue n bytes: 0, or -ENOBUFS (and nothing queued) if more than max would be waiting. */
int wbuf_append(struct wbuf *w, const void *buf, size_t n);

/*
 * Write as much as the fd takes: 0 when the queue is empty, 1 when data remains
 * (keep waiting for EV_WRITE), -errno on error (-EPIPE…). EINTR is retried.
 */
int wbuf_flush(struct wbuf *w, int fd);

static inline size_t wbuf_pending(const struct wbuf *w)
{
	return w->len - w->off;
}

#endif
