/*
 * Server-Sent Events framing (text/event-stream), as a pure parser: bytes in,
 * complete events out, nothing else. Memory is bounded whatever the peer
 * sends: an event whose lines pass max bytes is refused, not buffered.
 */
#ifndef MCPD_SSE_H
#define MCPD_SSE_H

#include <stdbool.h>
#include <stddef.h>

#define SSE_EVENT_MAX	(4 * 1024 * 1024)	/* one event: its unfinished line and data */

struct sse {
	size_t max;
	char *line;		/* the unfinished line */
	size_t line_len, line_cap;
	char event[64];		/* "event:" of the event being read, "" when none */
	char *data;		/* its "data:" lines joined with '\n', NUL-terminated */
	size_t data_len, data_cap;
	bool has_data;
};

/*
 * Called once per complete event that has data; data is NUL-terminated and
 * may hold NULs (len counts them). A negative return stops sse_feed(), which
 * returns it at once without touching the parser again: the callback may
 * have freed it.
 */
typedef int (*sse_event_fn)(void *userdata, const char *event, const char *data, size_t len);

void sse_init(struct sse *p, size_t max);
void sse_free(struct sse *p);

/* Forget a half-read event (a new stream begins). */
void sse_reset(struct sse *p);

/*
 * Feed the next bytes of the stream. Lines end with "\n" or "\r\n"; "event:"
 * and "data:" are kept, comments (":…"), "id:" and "retry:" ignored; a blank
 * line ends the event. Returns 0, -EMSGSIZE when the event passes max bytes
 * (the stream cannot be trusted any more: drop it, then sse_reset()), or the
 * callback's negative return.
 */
int sse_feed(struct sse *p, const char *buf, size_t len, sse_event_fn fn, void *userdata);

#endif
