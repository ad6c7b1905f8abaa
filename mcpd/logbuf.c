/*
 * The stderr ring buffer: see logbuf.h. One byte ring holds the records
 * (header, line, NUL) back to back; a record never wraps, so the space after
 * the last one is left unused when the next does not fit there. The ring
 * grows by doubling up to the bound, so an idle server costs little.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "logbuf.h"
#include "xmalloc.h"

/* Largest bound: a record's length must fit its 32-bit header field. */
#define LOGBUF_MAX_BYTES ((size_t)1 << 31)
#define LOGBUF_FIRST_CAP 4096

struct rec_header {
	uint64_t ts_ms;
	uint32_t len;
};

/* Packed on the ring (memcpy, no alignment): 12 bytes a line, plus its NUL. */
#define REC_HEADER (sizeof(uint64_t) + sizeof(uint32_t))

struct logbuf {
	char *ring;
	size_t cap;		/* allocated: never above max */
	size_t max;
	size_t head;		/* the oldest record */
	size_t tail;		/* where the next record goes */
	size_t wrap_end;	/* when wrapped: records are [head, wrap_end) then [0, tail) */
	bool wrapped;
	size_t used;		/* bytes of records: headers, lines, NULs */
	size_t count;
	uint64_t first_seq;	/* of the oldest record */
	uint64_t next_seq;
	uint64_t dropped;
};

static size_t clamp_max(size_t max_bytes)
{
	if (max_bytes < LOGBUF_MIN_BYTES)
		return LOGBUF_MIN_BYTES;
	return max_bytes > LOGBUF_MAX_BYTES ? LOGBUF_MAX_BYTES : max_bytes;
}

struct logbuf *logbuf_new(size_t max_bytes)
{
	struct logbuf *lb = xcalloc(1, sizeof(*lb));

	lb->max = clamp_max(max_bytes);
	lb->first_seq = lb->next_seq = 1;
	return lb;
}

void logbuf_free(struct logbuf *lb)
{
	if (!lb)
		return;
	free(lb->ring);
	free(lb);
}

static struct rec_header header_at(const struct logbuf *lb, size_t pos)
{
	struct rec_header h;

	memcpy(&h.ts_ms, lb->ring + pos, sizeof(h.ts_ms));
	memcpy(&h.len, lb->ring + pos + sizeof(h.ts_ms), sizeof(h.len));
	return h;
}

static size_t rec_size(size_t len)
{
	return REC_HEADER + len + 1;
}

/* The record after the one at pos. */
static size_t advance(const struct logbuf *lb, size_t pos)
{
	pos += rec_size(header_at(lb, pos).len);
	return lb->wrapped && pos == lb->wrap_end ? 0 : pos;
}

static void drop_oldest(struct logbuf *lb)
{
	size_t size = rec_size(header_at(lb, lb->head).len);

	lb->head = advance(lb, lb->head);
	if (lb->head == 0)
		lb->wrapped = false;
	lb->used -= size;
	lb->count--;
	lb->first_seq++;
	lb->dropped++;
	if (lb->count == 0)
		lb->head = lb->tail = 0;
}

/* Move the records, in order, to the front of a new ring of cap bytes (>= used). */
static void relocate(struct logbuf *lb, size_t cap)
{
	char *ring = xmalloc(cap);
	size_t n = 0;

	if (lb->count > 0) {
		size_t end = lb->wrapped ? lb->wrap_end : lb->tail;

		memcpy(ring, lb->ring + lb->head, end - lb->head);
		n = end - lb->head;
		if (lb->wrapped) {
			memcpy(ring + n, lb->ring, lb->tail);
			n += lb->tail;
		}
	}
	free(lb->ring);
	lb->ring = ring;
	lb->cap = cap;
	lb->head = 0;
	lb->tail = n;
	lb->wrapped = false;
}

void logbuf_set_max(struct logbuf *lb, size_t max_bytes)
{
	lb->max = clamp_max(max_bytes);
	if (lb->cap <= lb->max)
		return;
	while (lb->used > lb->max)
		drop_oldest(lb);
	relocate(lb, lb->max);
}

void logbuf_append(struct logbuf *lb, uint64_t ts_ms, const char *line, size_t len)
{
	size_t keep = lb->max - REC_HEADER - 1;
	struct rec_header h;
	size_t r;

	if (len > keep) {
		/* The end of a line says most (the error after the context): keep it, from a UTF-8 character start. */
		line += len - keep;
		len = keep;
		for (int i = 0; i < 3 && len > 0 && ((unsigned char)*line & 0xc0) == 0x80; i++) {
			line++;
			len--;
		}
	}
	r = rec_size(len);
	for (;;) {
		if (lb->count == 0) {
			lb->head = lb->tail = 0;
			lb->wrapped = false;
		}
		if (!lb->wrapped) {
			if (lb->cap - lb->tail >= r)
				break;
			if (lb->head >= r) {
				lb->wrap_end = lb->tail;
				lb->tail = 0;
				lb->wrapped = true;
				break;
			}
		} else if (lb->head - lb->tail >= r) {
			break;
		}
		if (lb->cap < lb->max) {
			size_t cap = lb->cap < LOGBUF_FIRST_CAP / 2 ? LOGBUF_FIRST_CAP : lb->cap * 2;

			if (cap < lb->used + r)
				cap = lb->used + r;
			relocate(lb, cap < lb->max ? cap : lb->max);
			continue;
		}
		drop_oldest(lb);
	}
	h.ts_ms = ts_ms;
	h.len = (uint32_t)len;
	memcpy(lb->ring + lb->tail, &h.ts_ms, sizeof(h.ts_ms));
	memcpy(lb->ring + lb->tail + sizeof(h.ts_ms), &h.len, sizeof(h.len));
	if (len > 0)
		memcpy(lb->ring + lb->tail + REC_HEADER, line, len);
	lb->ring[lb->tail + REC_HEADER + len] = '\0';
	lb->tail += r;
	lb->used += r;
	if (lb->count++ == 0)
		lb->first_seq = lb->next_seq;
	lb->next_seq++;
}

/* Visit the records after skipping the first skip of them. */
static void visit(const struct logbuf *lb, size_t skip, logbuf_visit_fn fn, void *userdata)
{
	size_t pos = lb->head;

	for (size_t i = 0; i < lb->count; i++) {
		if (i >= skip) {
			struct rec_header h = header_at(lb, pos);

			fn(lb->first_seq + i, h.ts_ms, lb->ring + pos + REC_HEADER, h.len, userdata);
		}
		pos = advance(lb, pos);
	}
}

void logbuf_last(const struct logbuf *lb, size_t n, logbuf_visit_fn fn, void *userdata)
{
	if (!lb)
		return;
	visit(lb, n == 0 || n >= lb->count ? 0 : lb->count - n, fn, userdata);
}

void logbuf_since(const struct logbuf *lb, uint64_t after, logbuf_visit_fn fn, void *userdata)
{
	uint64_t skip;

	if (!lb)
		return;
	skip = after < lb->first_seq ? 0 : after - lb->first_seq + 1;
	if (skip < lb->count)
		visit(lb, (size_t)skip, fn, userdata);
}

uint64_t logbuf_next_seq(const struct logbuf *lb)
{
	return lb ? lb->next_seq : 1;
}

uint64_t logbuf_dropped(const struct logbuf *lb)
{
	return lb ? lb->dropped : 0;
}

size_t logbuf_bytes(const struct logbuf *lb)
{
	return lb ? lb->used : 0;
}
