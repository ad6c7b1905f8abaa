/* Bounded output queue: see wbuf.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wbuf.h"
#include "xmalloc.h"

/* A queue that grew past this gives its memory back once it is empty. */
#define WBUF_KEEP (64 * 1024)
#define WBUF_MIN_CAP 1024

void wbuf_init(struct wbuf *w, size_t max)
{
	*w = (struct wbuf){ .max = max };
}

void wbuf_free(struct wbuf *w)
{
	free(w->data);
	*w = (struct wbuf){ .max = w->max };
}

int wbuf_append(struct wbuf *w, const void *buf, size_t n)
{
	size_t pending = wbuf_pending(w);

	if (n > w->max - pending)
		return -ENOBUFS;
	if (n == 0)
		return 0;
	if (w->cap - w->len < n) {
		/* Move only once as many bytes were written as would move: amortized O(1). */
		if (w->off > 0 && w->off >= pending) {
			memmove(w->data, w->data + w->off, pending);
			w->len = pending;
			w->off = 0;
		}
		if (w->cap - w->len < n) {
			/* len + n <= off + max < 2 * max: no overflow as long as max is sane. */
			size_t need = w->len + n;
			size_t cap = w->cap < WBUF_MIN_CAP ? WBUF_MIN_CAP : w->cap;

			while (cap < need)
				cap = cap > SIZE_MAX / 2 ? need : cap * 2;
			w->data = xrealloc(w->data, cap);
			w->cap = cap;
		}
	}
	memcpy(w->data + w->len, buf, n);
	w->len += n;
	return 0;
}

int wbuf_flush(struct wbuf *w, int fd)
{
	while (w->off < w->len) {
		ssize_t n = write(fd, w->data + w->off, w->len - w->off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		if (n == 0)
			return 1;
		w->off += (size_t)n;
	}
	if (w->cap > WBUF_KEEP) {
		free(w->data);
		w->data = NULL;
		w->cap = 0;
	}
	w->off = w->len = 0;
	return 0;
}
