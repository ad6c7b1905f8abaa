/* Bounded line framing: see linebuf.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linebuf.h"
#include "xmalloc.h"

/* Short lines are read in batches of at least this much, whatever max is. */
#define LINEBUF_MIN_READ 4096

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The most bytes linebuf_fill() keeps: a line of max bytes, its "\r\n". */
static size_t fill_limit(const struct linebuf *lb)
{
	size_t limit = lb->max + 2;

	return limit < LINEBUF_MIN_READ ? LINEBUF_MIN_READ : limit;
}

void linebuf_init(struct linebuf *lb, size_t max, enum linebuf_mode mode)
{
	/* Clamped so that max + 2 and the growth arithmetic cannot overflow. */
	if (max == 0)
		max = 1;
	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	*lb = (struct linebuf){ .max = max, .mode = mode };
}

void linebuf_free(struct linebuf *lb)
{
	free(lb->data);
	*lb = (struct linebuf){ .max = lb->max, .mode = lb->mode };
}

/* Put back the byte a SPLIT piece's NUL replaced. */
static void restore(struct linebuf *lb)
{
	if (lb->holding)
		lb->data[lb->start] = lb->held;
	lb->holding = false;
}

static void consume(struct linebuf *lb, size_t n)
{
	lb->start += n;
	if (lb->scan < lb->start)
		lb->scan = lb->start;
	if (lb->start == lb->len)
		lb->start = lb->len = lb->scan = 0;
}

/*
 * Room for want more bytes and a NUL after them. Unconsumed bytes move to the
 * front only when the tail is short, so each byte moves at most once.
 */
static void reserve(struct linebuf *lb, size_t want, size_t cap_max)
{
	size_t need, cap;

	if (lb->cap > lb->len && lb->cap - lb->len > want)
		return;
	if (lb->start > 0) {
		memmove(lb->data, lb->data + lb->start, lb->len - lb->start);
		lb->len -= lb->start;
		lb->scan -= lb->start;
		lb->start = 0;
		if (lb->cap - lb->len > want)
			return;
	}
	if (want > SIZE_MAX - 1 - lb->len)
		abort();
	need = lb->len + want + 1;
	cap = lb->cap > cap_max / 2 ? cap_max : lb->cap * 2;
	if (cap < need)
		cap = need;
	lb->data = xrealloc(lb->data, cap);
	lb->cap = cap;
}

/* REJECT: drop what arrived of the line being discarded, up to its '\n'. */
static void skip_discarded(struct linebuf *lb)
{
	char *nl;

	if (!lb->discarding || lb->start == lb->len)
		return;
	nl = memchr(lb->data + lb->start, '\n', lb->len - lb->start);
	if (!nl) {
		lb->start = lb->len = lb->scan = 0;
		return;
	}
	lb->discarding = false;
	consume(lb, (size_t)(nl - (lb->data + lb->start)) + 1);
}

ssize_t linebuf_fill(struct linebuf *lb, int fd)
{
	size_t limit = fill_limit(lb);
	size_t pending, room;
	ssize_t n;

	restore(lb);
	pending = lb->len - lb->start;
	if (pending >= limit)
		return -ENOBUFS;
	reserve(lb, min_size(limit - pending, LINEBUF_MIN_READ), limit + 1);
	room = min_size(lb->cap - 1 - lb->len, limit - pending);
	do
		n = read(fd, lb->data + lb->len, room);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	lb->len += (size_t)n;
	skip_discarded(lb);
	return n;
}

void linebuf_append(struct linebuf *lb, const char *buf, size_t n)
{
	restore(lb);
	if (n == 0)
		return;
	if (lb->discarding) {
		/* Discarding implies nothing is buffered: skip in the caller's bytes. */
		const char *nl = memchr(buf, '\n', n);

		if (!nl)
			return;
		lb->discarding = false;
		n -= (size_t)(nl + 1 - buf);
		buf = nl + 1;
		if (n == 0)
			return;
	}
	reserve(lb, n, SIZE_MAX);
	memcpy(lb->data + lb->len, buf, n);
	lb->len += n;
}

/* SPLIT: the first max bytes; the byte after them is held while the NUL covers it. */
static int piece(struct linebuf *lb, char **ret_line, size_t *ret_len)
{
	char *line = lb->data + lb->start;

	lb->held = line[lb->max];
	line[lb->max] = '\0';
	lb->start += lb->max;
	lb->holding = true;
	if (lb->scan < lb->start)
		lb->scan = lb->start;
	*ret_line = line;
	*ret_len = lb->max;
	return 1;
}

static int next_line(struct linebuf *lb, bool eof, char **ret_line, size_t *ret_len)
{
	size_t pending, n, used;
	char *line, *nl;

	restore(lb);
	skip_discarded(lb);
	if (eof)
		lb->discarding = false;	/* the discarded line ends with the stream */
	if (lb->start == lb->len) {
		/* Idle between messages: 1000 servers x 2 pipes would keep megabytes of empty buffers. */
		if (lb->data && !lb->discarding) {
			free(lb->data);
			lb->data = NULL;
			lb->cap = lb->len = lb->start = lb->scan = 0;
		}
		return 0;
	}
	line = lb->data + lb->start;
	pending = lb->len - lb->start;
	nl = memchr(lb->data + lb->scan, '\n', lb->len - lb->scan);
	if (nl) {
		n = (size_t)(nl - line);
		used = n + 1;
	} else if (eof) {
		n = used = pending;
	} else {
		lb->scan = lb->len;
		/* Too long already, unless the last byte is a '\r' that a '\n' may follow. */
		if (pending < lb->max + 1 || (pending == lb->max + 1 && lb->data[lb->len - 1] == '\r'))
			return 0;
		if (lb->mode == LINEBUF_SPLIT)
			return piece(lb, ret_line, ret_len);
		/* The bytes stay in data until the next call: the caller may read the line's start (its id). */
		*ret_line = line;
		*ret_len = lb->max;
		lb->start = lb->len = lb->scan = 0;
		lb->discarding = true;
		return -EMSGSIZE;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > lb->max) {
		if (lb->mode == LINEBUF_SPLIT)
			return piece(lb, ret_line, ret_len);
		*ret_line = line;
		*ret_len = lb->max;
		consume(lb, used);
		return -EMSGSIZE;
	}
	/* At EOF without '\n', line[n] is data[len]: reserve() keeps room for it. */
	line[n] = '\0';
	consume(lb, used);
	*ret_line = line;
	*ret_len = n;
	return 1;
}

int linebuf_next(struct linebuf *lb, char **ret_line, size_t *ret_len)
{
	return next_line(lb, false, ret_line, ret_len);
}

int linebuf_flush(struct linebuf *lb, char **ret_line, size_t *ret_len)
{
	return next_line(lb, true, ret_line, ret_len);
}
