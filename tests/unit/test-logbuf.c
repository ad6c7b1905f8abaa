/* Unit tests of the stderr ring buffer: order, numbering, the byte bound, wrapping, resizing. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "logbuf.h"

/* What a visit saw. */
struct seen {
	size_t n;
	uint64_t seq[4096];
	uint64_t ts[4096];
	char text[4096][64];
	size_t len[4096];
};

static void collect(uint64_t seq, uint64_t ts_ms, const char *line, size_t len, void *userdata)
{
	struct seen *s = userdata;

	assert_true(s->n < 4096);
	assert_int_equal(line[len], '\0');	/* a C string too */
	s->seq[s->n] = seq;
	s->ts[s->n] = ts_ms;
	s->len[s->n] = len;
	snprintf(s->text[s->n], sizeof(s->text[0]), "%.*s", (int)len, line);
	s->n++;
}

static struct seen *seen_new(void)
{
	return calloc(1, sizeof(struct seen));
}

static void add(struct logbuf *lb, const char *text)
{
	logbuf_append(lb, 1000 + logbuf_next_seq(lb), text, strlen(text));
}

static void test_basic(void **state)
{
	struct logbuf *lb = logbuf_new(4096);
	struct seen *s = seen_new();

	assert_int_equal(logbuf_next_seq(lb), 1);
	logbuf_last(lb, 0, collect, s);
	assert_int_equal(s->n, 0);
	add(lb, "one");
	add(lb, "");
	add(lb, "three");
	assert_int_equal(logbuf_next_seq(lb), 4);
	assert_int_equal(logbuf_dropped(lb), 0);
	assert_int_equal(logbuf_bytes(lb), 3 * 13 + 3 + 0 + 5);

	logbuf_last(lb, 0, collect, s);
	assert_int_equal(s->n, 3);
	assert_string_equal(s->text[0], "one");
	assert_int_equal(s->seq[0], 1);
	assert_int_equal(s->ts[0], 1001);
	assert_int_equal(s->len[1], 0);
	assert_string_equal(s->text[2], "three");
	assert_int_equal(s->seq[2], 3);

	/* How many lines each query gives, and the first one's number. */
	{
		static const struct {
			bool since;
			uint64_t arg;
			size_t n;
			uint64_t first;
		} q[] = {
			{ false, 2, 2, 2 }, { false, 100, 3, 1 }, { true, 0, 3, 1 }, { true, 2, 1, 3 },
			{ true, 3, 0, 0 }, { true, UINT64_MAX, 0, 0 },
		};

		for (size_t i = 0; i < sizeof(q) / sizeof(*q); i++) {
			s->n = 0;
			if (q[i].since)
				logbuf_since(lb, q[i].arg, collect, s);
			else
				logbuf_last(lb, (size_t)q[i].arg, collect, s);
			assert_int_equal(s->n, q[i].n);
			if (s->n > 0)
				assert_int_equal(s->seq[0], q[i].first);
		}
	}

	free(s);
	logbuf_free(lb);
	logbuf_free(NULL);
}

/* Check what is kept: a run of the newest lines, intact, within the bound, and not too sparse. */
static void check_invariants(struct logbuf *lb, size_t max, size_t max_record, uint64_t appended,
			     char text[][64], bool full)
{
	struct seen *s = seen_new();

	logbuf_last(lb, 0, collect, s);
	assert_true(logbuf_bytes(lb) <= max);
	assert_int_equal(logbuf_next_seq(lb), appended + 1);
	assert_int_equal(logbuf_dropped(lb) + s->n, appended);
	for (size_t i = 0; i < s->n; i++) {
		assert_int_equal(s->seq[i], appended - s->n + 1 + i);
		assert_string_equal(s->text[i], text[s->seq[i]]);
		assert_int_equal(s->ts[i], 1000 + s->seq[i]);
	}
	/* A record never wraps: at most one record's worth is lost at the end and one at the gap. */
	if (full && logbuf_dropped(lb) > 0)
		assert_true(logbuf_bytes(lb) + 2 * max_record >= max);
	free(s);
}

static void test_wrap_random(void **state)
{
	static char text[20201][64];
	struct logbuf *lb = logbuf_new(1000);

	srand(7);
	for (uint64_t seq = 1; seq <= 20000; seq++) {
		size_t len = (size_t)rand() % 60;

		for (size_t i = 0; i < len; i++)
			text[seq][i] = (char)('a' + rand() % 26);
		text[seq][len] = '\0';
		logbuf_append(lb, 1000 + seq, text[seq], len);
		if (seq % 97 == 0 || seq < 200)
			check_invariants(lb, 1000, 13 + 59, seq, text, true);
	}
	check_invariants(lb, 1000, 13 + 59, 20000, text, true);

	/* Shrinking drops the oldest to fit, whatever the ring's layout; growing drops nothing. */
	{
		uint64_t before = logbuf_dropped(lb);

		logbuf_set_max(lb, 300);
		assert_true(logbuf_bytes(lb) <= 300);
		assert_true(logbuf_dropped(lb) > before);
		check_invariants(lb, 300, 13 + 59, 20000, text, true);
		before = logbuf_dropped(lb);
		logbuf_set_max(lb, 100000);
		assert_int_equal(logbuf_dropped(lb), before);
		check_invariants(lb, 100000, 13 + 59, 20000, text, false);
		/* And the ring goes on from there. */
		for (uint64_t seq = 20001; seq <= 20200; seq++) {
			snprintf(text[seq], sizeof(text[seq]), "after %llu", (unsigned long long)seq);
			logbuf_append(lb, 1000 + seq, text[seq], strlen(text[seq]));
		}
		assert_int_equal(logbuf_dropped(lb), before);
		check_invariants(lb, 100000, 13 + 59, 20200, text, false);
	}
	logbuf_free(lb);
}

/* Growing from a small ring to the bound keeps everything, in order. */
static void test_grow(void **state)
{
	static char text[3001][64];
	struct logbuf *lb = logbuf_new(256 * 1024);

	for (uint64_t seq = 1; seq <= 3000; seq++) {
		snprintf(text[seq], sizeof(text[seq]), "line %llu of the log", (unsigned long long)seq);
		add(lb, text[seq]);
	}
	assert_int_equal(logbuf_dropped(lb), 0);
	check_invariants(lb, 256 * 1024, 64, 3000, text, false);
	{
		struct seen *s = seen_new();

		logbuf_last(lb, 1, collect, s);
		assert_int_equal(s->n, 1);
		assert_string_equal(s->text[0], "line 3000 of the log");
		free(s);
	}
	logbuf_free(lb);
}

/* A line longer than the whole buffer: its last part stays, and everything older goes. */
static void test_huge_line(void **state)
{
	struct logbuf *lb = logbuf_new(256);
	struct seen *s = seen_new();
	char big[1000];

	assert_int_equal(LOGBUF_MIN_BYTES, 64);

	add(lb, "old");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('0' + i % 10);
	logbuf_append(lb, 5, big, sizeof(big));
	assert_int_equal(logbuf_dropped(lb), 1);
	assert_int_equal(logbuf_bytes(lb), 256);
	logbuf_last(lb, 0, collect, s);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->seq[0], 2);
	assert_int_equal(s->len[0], 256 - 13);
	free(s);

	/* ... starting on a UTF-8 character, not inside one. */
	{
		char utf8[600];
		struct seen *t = seen_new();
		size_t n = 0;

		while (n + 2 <= sizeof(utf8)) {
			utf8[n++] = '\xc3';
			utf8[n++] = '\xa9';	/* é */
		}
		logbuf_append(lb, 6, utf8, n);
		logbuf_last(lb, 1, collect, t);
		assert_int_equal(t->n, 1);
		assert_int_equal(t->len[0], 242);
		assert_int_equal((unsigned char)t->text[0][0], 0xc3);
		free(t);
	}
	logbuf_free(lb);
}

static void test_min_size(void **state)
{
	struct logbuf *lb = logbuf_new(0);

	add(lb, "still kept");
	assert_int_equal(logbuf_dropped(lb), 0);
	assert_true(logbuf_bytes(lb) <= LOGBUF_MIN_BYTES);
	logbuf_set_max(lb, 1);
	assert_int_equal(logbuf_dropped(lb), 0);
	for (int i = 0; i < 100; i++)
		add(lb, "0123456789");
	/* 23 bytes a line (12 of header, 10, a NUL): 2 fit in 64. */
	assert_int_equal(logbuf_bytes(lb), 2 * 23);
	assert_int_equal(logbuf_dropped(lb), 99);
	logbuf_free(lb);
}

/* Lines since a follower's last: only what is still there. */
/* A server that never wrote to stderr has no buffer: NULL reads as an empty one. */
static void test_null_is_empty(void **state)
{
	struct seen *s = seen_new();

	assert_int_equal(logbuf_next_seq(NULL), 1);
	assert_int_equal(logbuf_dropped(NULL), 0);
	assert_int_equal(logbuf_bytes(NULL), 0);
	logbuf_last(NULL, 0, collect, s);
	logbuf_since(NULL, 0, collect, s);
	assert_int_equal(s->n, 0);
	logbuf_free(NULL);
	free(s);
}

static void test_since_after_drop(void **state)
{
	struct logbuf *lb = logbuf_new(230);
	struct seen *s = seen_new();

	for (int i = 0; i < 50; i++)
		add(lb, "0123456789");	/* 23 bytes each: exactly 10 fit, no end left unused */
	assert_int_equal(logbuf_dropped(lb), 40);
	logbuf_since(lb, 5, collect, s);	/* long gone: everything left */
	assert_int_equal(s->n, 10);
	assert_int_equal(s->seq[0], 41);
	s->n = 0;
	logbuf_since(lb, 45, collect, s);
	assert_int_equal(s->n, 5);
	assert_int_equal(s->seq[0], 46);
	free(s);
	logbuf_free(lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_wrap_random),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_huge_line),
		cmocka_unit_test(test_min_size),
		cmocka_unit_test(test_since_after_drop),
		cmocka_unit_test(test_null_is_empty),
	};

	return cmocka_run_group_tests_name("logbuf", tests, NULL, NULL);
}
