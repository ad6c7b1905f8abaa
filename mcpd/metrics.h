/* /metrics: mcpd's state in the Prometheus text exposition format (version 0.0.4). */
#ifndef MCPD_METRICS_H
#define MCPD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct daemon;

/* The exposition being built: a growing buffer. */
struct metrics_buf {
	char *data;
	size_t len, cap;
};

/*
 * The whole exposition; *ret_len its length. The buffer is lent: give it
 * back with metrics_release() once sent. One buffer is kept from scrape to
 * scrape (its pages stay mapped: no fault per page at each scrape), shrunk
 * when much bigger than the last exposition; a scrape while it is out
 * renders into a fresh one.
 */
char *metrics_render(const struct daemon *d, size_t *ret_len);
void metrics_release(void *body);
/* The kept buffer freed (at the end, after the HTTP server stopped). */
void metrics_free(void);

/*
 * The buffer of one exposition (metrics-buf.c): the kept one when it is not
 * out (true), else a fresh one; ended, the first one becomes the kept one.
 */
bool metrics_buf_begin(struct metrics_buf *b);
void metrics_buf_end(const struct metrics_buf *b, bool was_kept);

/* For the modules that add their families (traffic.c, resources.c, deep-check.c). */
void metrics_printf(struct metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help);
/* s as a label value (\, " and newline escaped) in buf, cut to fit size. */
const char *metrics_label(const char *s, char *buf, size_t size);

/*
 * A server's name as its server label's value: "web" as metrics_label; a
 * replica's "web#2" as web",replica="2 so that, written in server="%s", every
 * series of a replica carries server="web",replica="2".
 */
const char *metrics_server(const char *name, char *buf, size_t size);

/* Room for n more bytes in b: at least doubled when it grows (no copy per line). */
void metrics_reserve(struct metrics_buf *b, size_t n);

/*
 * Formatting without printf, for the families with a line per server or
 * series: each writes at p (the caller reserved room) and returns the end.
 * Integers come out as printf's %llu writes them; metrics_put_us_nl as
 * "%llu.%06llu" of the seconds and the rest (= "%.6f" of us / 1e6 while
 * that double is exact).
 */
static inline char *metrics_put(char *p, const char *s, size_t n)
{
	/*
	 * Labels and names are short: copied in place by 16-byte moves (the
	 * last one overlapping), without the call and dispatch of memcpy,
	 * which cost as much as the copy at some 700 000 copies per scrape.
	 */
	if (n >= 16 && n <= 128) {
		for (size_t i = 0; i + 16 < n; i += 16)
			memcpy(p + i, s + i, 16);
		memcpy(p + n - 16, s + n - 16, 16);
	} else if (n >= 8 && n < 16) {
		memcpy(p, s, 8);
		memcpy(p + n - 8, s + n - 8, 8);
	} else {
		memcpy(p, s, n);
	}
	return p + n;
}
#define METRICS_PUT(p, lit) metrics_put((p), (lit), sizeof(lit) - 1)

static inline char *metrics_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

static inline char *metrics_put_u64_nl(char *p, uint64_t v)
{
	p = metrics_put_u64(p, v);
	*p++ = '\n';
	return p;
}

/* Microseconds as seconds with 6 decimals (exact, in decimal), then a newline. */
static inline char *metrics_put_us_nl(char *p, uint64_t us)
{
	char frac[6];

	p = metrics_put_u64(p, us / 1000000);
	*p++ = '.';
	for (int i = 5; i >= 0; i--) {
		frac[i] = (char)('0' + us % 10);
		us /= 10;
	}
	p = metrics_put(p, frac, 6);
	*p++ = '\n';
	return p;
}

#endif
