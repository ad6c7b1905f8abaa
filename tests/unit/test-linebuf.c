/* Unit tests of linebuf: framing, "\r\n", partial input, both overlong-line modes, bounded memory. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "linebuf.h"

/* Expect the next line to be want (NUL-terminated in place). */
static void expect_line(struct linebuf *lb, const char *want)
{
	char *line = NULL;
	size_t len = 0;

	assert_int_equal(linebuf_next(lb, &line, &len), 1);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(line, want, len);
	assert_int_equal(line[len], '\0');
}

static void expect_none(struct linebuf *lb)
{
	char *line;
	size_t len;

	assert_int_equal(linebuf_next(lb, &line, &len), 0);
}

static void put(struct linebuf *lb, const char *s)
{
	linebuf_append(lb, s, strlen(s));
}

static void test_lines(void **state)
{
	struct linebuf lb;

	linebuf_init(&lb, 64, LINEBUF_REJECT);
	expect_none(&lb);
	put(&lb, "a\nbb\n\nccc");
	expect_line(&lb, "a");
	expect_line(&lb, "bb");
	expect_line(&lb, "");
	expect_none(&lb);
	put(&lb, "c\n");
	expect_line(&lb, "cccc");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_crlf(void **state)
{
	struct linebuf lb;

	linebuf_init(&lb, 64, LINEBUF_REJECT);
	put(&lb, "x\r\n\r\na\rb\nc\r\r\n");
	expect_line(&lb, "x");
	expect_line(&lb, "");
	expect_line(&lb, "a\rb");	/* only a '\r' right before '\n' goes */
	expect_line(&lb, "c\r");
	expect_none(&lb);
	linebuf_free(&lb);
}

/* The same text fed one byte at a time gives the same lines. */
static void test_byte_by_byte(void **state)
{
	const char *text = "first\r\nsecond\n\nthird\n";
	const char *want[] = { "first", "second", "", "third" };
	struct linebuf lb;
	size_t got = 0;

	linebuf_init(&lb, 6, LINEBUF_REJECT);
	for (const char *p = text; *p; p++) {
		char *line;
		size_t len;
		int r;

		linebuf_append(&lb, p, 1);
		while ((r = linebuf_next(&lb, &line, &len)) == 1) {
			assert_true(got < 4);
			assert_string_equal(line, want[got]);
			got++;
		}
		assert_int_equal(r, 0);
	}
	assert_int_equal(got, 4);
	linebuf_free(&lb);
}

static void test_reject(void **state)
{
	struct linebuf lb;
	char *line;
	size_t len;

	linebuf_init(&lb, 4, LINEBUF_REJECT);
	put(&lb, "abcd\nabcde\nok\nabcd\r\n");
	expect_line(&lb, "abcd");
	assert_int_equal(linebuf_next(&lb, &line, &len), -EMSGSIZE);
	expect_line(&lb, "ok");
	expect_line(&lb, "abcd");	/* max bytes and "\r\n" is not too long */
	expect_none(&lb);

	/* Arriving in pieces: the error comes as soon as it is sure, once, and the rest is skipped. */
	put(&lb, "abcd");
	expect_none(&lb);
	put(&lb, "\r");
	expect_none(&lb);	/* a '\n' may still follow */
	put(&lb, "x");
	assert_int_equal(linebuf_next(&lb, &line, &len), -EMSGSIZE);
	expect_none(&lb);
	put(&lb, "more of the same line");
	expect_none(&lb);
	assert_int_equal(lb.len - lb.start, 0);	/* nothing of it is kept */
	put(&lb, " still\nnext\n");
	expect_line(&lb, "next");
	expect_none(&lb);

	/* Exactly one more than max, complete in one go. */
	put(&lb, "12345\n");
	assert_int_equal(linebuf_next(&lb, &line, &len), -EMSGSIZE);
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_split(void **state)
{
	struct linebuf lb;

	linebuf_init(&lb, 4, LINEBUF_SPLIT);
	put(&lb, "abcdefghij\nabcd\r\nabcdefgh\n");
	expect_line(&lb, "abcd");
	expect_line(&lb, "efgh");	/* the byte under the first piece's NUL is back */
	expect_line(&lb, "ij");
	expect_line(&lb, "abcd");	/* no empty piece for the "\r\n" */
	expect_line(&lb, "abcd");
	expect_line(&lb, "efgh");	/* and none after an exact multiple */
	expect_none(&lb);

	/* A piece goes out as soon as the line is surely longer than max. */
	put(&lb, "abcde");
	expect_line(&lb, "abcd");
	expect_none(&lb);
	put(&lb, "fg\n");
	expect_line(&lb, "efg");

	/* max bytes and a '\r': wait, the '\n' may follow. */
	put(&lb, "wxyz\r");
	expect_none(&lb);
	put(&lb, "\n");
	expect_line(&lb, "wxyz");
	expect_none(&lb);
	linebuf_free(&lb);
}

static void test_flush(void **state)
{
	struct linebuf lb;
	char *line;
	size_t len;

	linebuf_init(&lb, 8, LINEBUF_REJECT);
	assert_int_equal(linebuf_flush(&lb, &line, &len), 0);
	put(&lb, "one\ntail\r");
	assert_int_equal(linebuf_flush(&lb, &line, &len), 1);
	assert_string_equal(line, "one");
	assert_int_equal(linebuf_flush(&lb, &line, &len), 1);
	assert_string_equal(line, "tail");
	assert_int_equal(len, 4);
	assert_int_equal(linebuf_flush(&lb, &line, &len), 0);

	/* The end of a discarded line at EOF: nothing, and the next stream starts clean. */
	put(&lb, "0123456789");
	assert_int_equal(linebuf_next(&lb, &line, &len), -EMSGSIZE);
	put(&lb, "abc");
	assert_int_equal(linebuf_flush(&lb, &line, &len), 0);
	assert_false(lb.discarding);
	put(&lb, "new\n");
	expect_line(&lb, "new");

	/* Too long at EOF, never seen by linebuf_next(). */
	put(&lb, "012345678");
	assert_int_equal(linebuf_flush(&lb, &line, &len), -EMSGSIZE);
	assert_int_equal(linebuf_flush(&lb, &line, &len), 0);
	linebuf_free(&lb);

	linebuf_init(&lb, 4, LINEBUF_SPLIT);
	put(&lb, "abcdefghi");
	expect_line(&lb, "abcd");
	expect_line(&lb, "efgh");
	expect_none(&lb);
	assert_int_equal(linebuf_flush(&lb, &line, &len), 1);
	assert_string_equal(line, "i");
	assert_int_equal(linebuf_flush(&lb, &line, &len), 0);
	linebuf_free(&lb);
}

static void test_free_reuse(void **state)
{
	struct linebuf lb;

	linebuf_init(&lb, 16, LINEBUF_REJECT);
	linebuf_free(&lb);	/* never used */
	put(&lb, "a\n");
	linebuf_free(&lb);
	linebuf_free(&lb);	/* twice is harmless */
	assert_null(lb.data);
	assert_int_equal(lb.max, 16);
	put(&lb, "b\n");
	expect_line(&lb, "b");
	linebuf_free(&lb);

	/* max 0 would make every line overlong: it is raised to 1. */
	linebuf_init(&lb, 0, LINEBUF_SPLIT);
	put(&lb, "xy\n");
	expect_line(&lb, "x");
	expect_line(&lb, "y");
	linebuf_free(&lb);
}

static void test_fill(void **state)
{
	struct linebuf lb;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	linebuf_init(&lb, 64, LINEBUF_REJECT);
	assert_int_equal(linebuf_fill(&lb, p[0]), -EAGAIN);
	assert_int_equal(write(p[1], "hello\nwor", 9), 9);
	assert_int_equal(linebuf_fill(&lb, p[0]), 9);
	expect_line(&lb, "hello");
	expect_none(&lb);
	assert_int_equal(write(p[1], "ld\n", 3), 3);
	close(p[1]);
	assert_int_equal(linebuf_fill(&lb, p[0]), 3);
	expect_line(&lb, "world");
	assert_int_equal(linebuf_fill(&lb, p[0]), 0);	/* EOF */
	close(p[0]);
	assert_int_equal(linebuf_fill(&lb, -1), -EBADF);
	linebuf_free(&lb);
}

/* Lines not taken out fill the bound: fill refuses to grow instead of reading. */
static void test_fill_full(void **state)
{
	struct linebuf lb;
	char chunk[5000];
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	memset(chunk, 'a', sizeof(chunk));
	for (size_t i = 1; i < sizeof(chunk); i += 2)
		chunk[i] = '\n';
	linebuf_init(&lb, 8, LINEBUF_REJECT);
	linebuf_append(&lb, chunk, sizeof(chunk));
	assert_int_equal(write(p[1], "b\n", 2), 2);
	assert_int_equal(linebuf_fill(&lb, p[0]), -ENOBUFS);
	for (int i = 0; i < 2500; i++)
		expect_line(&lb, "a");
	assert_int_equal(linebuf_fill(&lb, p[0]), 2);
	expect_line(&lb, "b");
	close(p[0]);
	close(p[1]);
	linebuf_free(&lb);
}

/* What came out of a stream of 'x' bytes followed by "\nok\n". */
struct streamed {
	size_t pieces;		/* lines of 'x' */
	size_t bytes;		/* 'x' bytes in them */
	size_t errors;		/* -EMSGSIZE */
	bool ok;		/* the last line came through */
	size_t peak;		/* largest buffer seen */
};

/* Through a real non-blocking pipe, both ends driven in turn as an event loop would. */
static struct streamed stream_through_pipe(enum linebuf_mode mode, size_t max, size_t total)
{
	const char tail[] = "\nok\n";
	struct streamed res = { 0 };
	size_t sent = 0, tail_sent = 0;
	char chunk[65536];
	struct linebuf lb;
	bool eof = false;
	int p[2];

	memset(chunk, 'x', sizeof(chunk));
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	linebuf_init(&lb, max, mode);
	while (!eof) {
		char *line;
		size_t len;
		ssize_t n;
		int r;

		while (sent < total) {
			size_t want = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);

			n = write(p[1], chunk, want);
			if (n < 0) {
				assert_int_equal(errno, EAGAIN);
				break;
			}
			sent += (size_t)n;
		}
		if (sent == total && p[1] >= 0) {
			n = write(p[1], tail + tail_sent, sizeof(tail) - 1 - tail_sent);
			if (n > 0)
				tail_sent += (size_t)n;
			if (tail_sent == sizeof(tail) - 1) {
				close(p[1]);
				p[1] = -1;
			}
		}
		n = linebuf_fill(&lb, p[0]);
		if (n == 0)
			eof = true;
		else if (n != -EAGAIN)
			assert_true(n > 0);
		if (lb.cap > res.peak)
			res.peak = lb.cap;
		while ((r = linebuf_next(&lb, &line, &len)) != 0) {
			if (r == -EMSGSIZE) {
				res.errors++;
				continue;
			}
			assert_int_equal(r, 1);
			assert_true(len <= max);
			if (len == 2 && memcmp(line, "ok", 2) == 0) {
				res.ok = true;
				continue;
			}
			for (size_t i = 0; i < len; i++)
				assert_int_equal(line[i], 'x');
			res.pieces++;
			res.bytes += len;
		}
	}
	close(p[0]);
	linebuf_free(&lb);
	return res;
}

/* A 10 MiB line with max 1 MiB: reported once, never buffered beyond max + 3 bytes, and the next line still comes. */
static void test_huge_line_reject(void **state)
{
	size_t max = 1024 * 1024;
	struct streamed res = stream_through_pipe(LINEBUF_REJECT, max, 10 * max);

	assert_int_equal(res.errors, 1);
	assert_int_equal(res.pieces, 0);
	assert_true(res.ok);
	assert_true(res.peak <= max + 3);
}

static void test_huge_line_split(void **state)
{
	size_t max = 4096, total = 1024 * 1024 + 5;
	struct streamed res = stream_through_pipe(LINEBUF_SPLIT, max, total);

	assert_int_equal(res.errors, 0);
	assert_int_equal(res.bytes, total);	/* nothing lost */
	assert_int_equal(res.pieces, (total + max - 1) / max);
	assert_true(res.ok);
	assert_true(res.peak <= max + 3);
}

/* The reference: what a line of the input should give. */
struct expect {
	char text[64];
	size_t len;
	bool error;
};

static size_t reference(const char *in, size_t n, size_t max, enum linebuf_mode mode, struct expect *out)
{
	size_t count = 0, i = 0;

	while (i < n) {
		const char *nl = memchr(in + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - in) : n;
		size_t len = end - i;

		/* At EOF a partial line counts, even a lone '\r'. */
		if (len > 0 && in[end - 1] == '\r')
			len--;
		if (len > max && mode == LINEBUF_REJECT) {
			out[count++] = (struct expect){ .error = true };
		} else if (len == 0) {
			out[count++] = (struct expect){ .len = 0 };
		} else {
			for (size_t k = 0; k < len; k += max) {
				size_t m = len - k < max ? len - k : max;

				out[count] = (struct expect){ .len = m };
				memcpy(out[count++].text, in + i + k, m);
			}
		}
		i = end + 1;
	}
	return count;
}

/* Random text over "ab\r\n", random chunks, random max: the same as the reference. */
static void test_random(void **state)
{
	static char in[4096];
	static struct expect want[8192];

	srand(12345);
	for (int round = 0; round < 3000; round++) {
		enum linebuf_mode mode = round % 2 ? LINEBUF_SPLIT : LINEBUF_REJECT;
		size_t max = 1 + (size_t)rand() % 12;
		size_t n = (size_t)rand() % 300, nwant, got = 0, i = 0;
		struct linebuf lb;
		char *line;
		size_t len;
		int r;

		for (size_t k = 0; k < n; k++) {
			int c = rand() % 20;

			in[k] = c < 2 ? '\n' : c < 4 ? '\r' : c < 12 ? 'a' : 'b';
		}
		nwant = reference(in, n, max, mode, want);
		linebuf_init(&lb, max, mode);
		while (i <= n) {
			size_t chunk = 1 + (size_t)rand() % 20;
			bool eof = i == n;

			if (!eof) {
				if (chunk > n - i)
					chunk = n - i;
				linebuf_append(&lb, in + i, chunk);
				i += chunk;
			} else {
				i++;
			}
			while ((r = eof ? linebuf_flush(&lb, &line, &len) : linebuf_next(&lb, &line, &len)) != 0) {
				assert_true(got < nwant);
				if (want[got].error) {
					assert_int_equal(r, -EMSGSIZE);
				} else {
					assert_int_equal(r, 1);
					assert_int_equal(len, want[got].len);
					assert_memory_equal(line, want[got].text, len);
					assert_int_equal(line[len], '\0');
				}
				got++;
			}
		}
		assert_int_equal(got, nwant);
		linebuf_free(&lb);
	}
}

/* Many short lines: lazy compaction keeps this linear (a quadratic one would time out). */
static void test_many_lines(void **state)
{
	static char chunk[60000];
	struct linebuf lb;
	size_t lines = 0;
	char *line;
	size_t len;

	for (size_t i = 0; i < sizeof(chunk); i += 6)
		memcpy(chunk + i, "hello\n", 6);
	linebuf_init(&lb, 1024 * 1024, LINEBUF_REJECT);
	for (int round = 0; round < 500; round++) {
		/* Uneven cuts leave a partial line behind every time. */
		linebuf_append(&lb, chunk, sizeof(chunk) - 3);
		while (linebuf_next(&lb, &line, &len) == 1)
			lines++;
		linebuf_append(&lb, chunk + sizeof(chunk) - 3, 3);
		while (linebuf_next(&lb, &line, &len) == 1)
			lines++;
	}
	assert_int_equal(lines, 500 * sizeof(chunk) / 6);
	assert_true(lb.cap < 2 * sizeof(chunk));
	linebuf_free(&lb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_free_reuse),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_fill_full),
		cmocka_unit_test(test_huge_line_reject),
		cmocka_unit_test(test_huge_line_split),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_many_lines),
	};

	return cmocka_run_group_tests_name("linebuf", tests, NULL, NULL);
}
