/*
 * libFuzzer target: the SSE framing of probe-http (mcpd/sse.c). The first
 * bytes choose the event bound and how the stream is cut into reads, the way
 * curl may hand it over; the rest is the stream.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t max;
	size_t events;
};

static int on_event(void *userdata, const char *event, const char *d, size_t len)
{
	struct seen *s = userdata;

	/* What the parser promises: a bounded, terminated event. */
	if (len > s->max || d[len] != '\0' || strlen(event) >= 64)
		abort();
	s->events++;
	return s->events >= 10000 ? -ECANCELED : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen seen = { 0 };
	struct sse p;
	size_t chunk, off = 0;

	if (size < 2)
		return 0;
	/* A small bound (16 bytes to 64 KiB) so that the fuzzer reaches it. */
	seen.max = (size_t)16 << (data[0] % 13);
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;
	sse_init(&p, seen.max);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		int r = sse_feed(&p, (const char *)data + off, n, on_event, &seen);

		if (r == -EMSGSIZE)
			sse_reset(&p);	/* what probe-http does: drop the stream, open a new one */
		else if (r < 0)
			break;
		off += n;
		chunk = chunk * 3 % 257 + 1;	/* reads of varying sizes */
	}
	sse_free(&p);
	return 0;
}
