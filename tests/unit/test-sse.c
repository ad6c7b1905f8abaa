/* Unit tests of the SSE framing: events, line ends, reads cut anywhere, the bound, stopping. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sse.h"
#include "xmalloc.h"

struct seen {
	size_t n;
	char event[8][64];
	char data[8][256];
	size_t len[8];
	int stop_at;		/* return -ECANCELED at this event (1-based); 0: never */
};

static int collect(void *userdata, const char *event, const char *data, size_t len)
{
	struct seen *s = userdata;

	assert_true(s->n < 8);
	assert_int_equal(data[len], '\0');
	snprintf(s->event[s->n], sizeof(s->event[0]), "%s", event);
	memcpy(s->data[s->n], data, len < 255 ? len : 255);
	s->len[s->n] = len;
	s->n++;
	return s->stop_at && (int)s->n == s->stop_at ? -ECANCELED : 0;
}

static const char stream[] = "event: endpoint\ndata: /messages?sessionId=1\n\n"
			     ": a comment\r\n"
			     "id: 4\r\nretry: 10\r\n"
			     "data: {\"a\":\r\ndata:1}\r\n\r\n"
			     "event: nothing\n\n"
			     "data\n\n";

static void check_stream(const struct seen *s)
{
	assert_int_equal(s->n, 3);
	assert_string_equal(s->event[0], "endpoint");
	assert_string_equal(s->data[0], "/messages?sessionId=1");
	assert_string_equal(s->event[1], "");
	assert_string_equal(s->data[1], "{\"a\":\n1}");
	assert_int_equal(s->len[1], 8);
	assert_string_equal(s->event[2], "");	/* "data" alone: one empty line */
	assert_int_equal(s->len[2], 0);
}

static void test_events(void **state)
{
	struct seen s = { 0 };
	struct sse p;

	sse_init(&p, SSE_EVENT_MAX);
	assert_int_equal(sse_feed(&p, stream, strlen(stream), collect, &s), 0);
	check_stream(&s);
	sse_free(&p);
}

/* The same events whatever the size of each read, down to one byte. */
static void test_any_cut(void **state)
{
	for (size_t chunk = 1; chunk <= strlen(stream); chunk++) {
		struct seen s = { 0 };
		struct sse p;

		sse_init(&p, SSE_EVENT_MAX);
		for (size_t off = 0; off < strlen(stream); off += chunk) {
			size_t n = strlen(stream) - off < chunk ? strlen(stream) - off : chunk;

			assert_int_equal(sse_feed(&p, stream + off, n, collect, &s), 0);
		}
		check_stream(&s);
		sse_free(&p);
	}
}

/* An event that never ends is refused at the bound, whether its lines are short or one is endless. */
static void test_bound(void **state)
{
	struct seen s = { 0 };
	struct sse p;
	char line[100];
	int r = 0;
	size_t fed = 0;

	sse_init(&p, 1000);
	memset(line, 'x', sizeof(line));
	memcpy(line, "data: ", 6);
	line[sizeof(line) - 1] = '\n';
	while (fed < 100 * 1000 && (r = sse_feed(&p, line, sizeof(line), collect, &s)) == 0)
		fed += sizeof(line);
	assert_int_equal(r, -EMSGSIZE);
	assert_true(fed <= 1000);
	assert_true(p.data_cap <= 1001 && p.line_cap <= 1001);

	/* After a reset (a new stream), events flow again. */
	sse_reset(&p);
	assert_int_equal(sse_feed(&p, "data: ok\n\n", 10, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.data[0], "ok");

	/* One line without an end. */
	sse_reset(&p);
	fed = 0;
	memset(line, 'y', sizeof(line));
	while (fed < 100 * 1000 && (r = sse_feed(&p, line, sizeof(line), collect, &s)) == 0)
		fed += sizeof(line);
	assert_int_equal(r, -EMSGSIZE);
	assert_true(fed < 1000);

	/* Exactly at the bound is fine: "data: " + 993 bytes + "\n" within 1000. */
	sse_reset(&p);
	{
		char *ev = xmalloc(1001);

		memcpy(ev, "data: ", 6);
		memset(ev + 6, 'z', 992);
		ev[998] = '\n';
		ev[999] = '\n';
		assert_int_equal(sse_feed(&p, ev, 1000, collect, &s), 0);
		assert_int_equal(s.n, 2);
		assert_int_equal(s.len[1], 992);
		free(ev);
	}
	sse_free(&p);
}

/* A callback that stops the feed (its owner is gone): nothing more is read. */
static void test_stop(void **state)
{
	struct seen s = { .stop_at = 1 };
	struct sse p;

	sse_init(&p, SSE_EVENT_MAX);
	assert_int_equal(sse_feed(&p, "data: 1\n\ndata: 2\n\n", 18, collect, &s), -ECANCELED);
	assert_int_equal(s.n, 1);
	sse_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_any_cut),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
