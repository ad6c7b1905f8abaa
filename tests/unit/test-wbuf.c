/* Unit tests of wbuf: the bound, partial writes and EAGAIN on a full pipe, errors, memory. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "wbuf.h"

/* A pipe as small as the kernel allows, both ends non-blocking: writes stop early. */
static void small_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
}

static size_t drain(int fd, char *out, size_t size)
{
	size_t got = 0;

	for (;;) {
		ssize_t n = read(fd, out + got, size - got);

		if (n <= 0)
			return got;
		got += (size_t)n;
	}
}

static void test_bound(void **state)
{
	struct wbuf w;

	wbuf_init(&w, 10);
	assert_int_equal(wbuf_pending(&w), 0);
	assert_int_equal(wbuf_append(&w, NULL, 0), 0);
	assert_int_equal(wbuf_append(&w, "0123456", 7), 0);
	assert_int_equal(wbuf_append(&w, "abcd", 4), -ENOBUFS);
	assert_int_equal(wbuf_pending(&w), 7);	/* nothing of it queued */
	assert_int_equal(wbuf_append(&w, "abc", 3), 0);
	assert_int_equal(wbuf_pending(&w), 10);
	assert_int_equal(wbuf_append(&w, "x", 1), -ENOBUFS);
	assert_int_equal(wbuf_append(&w, "x", SIZE_MAX), -ENOBUFS);	/* no overflow */
	assert_memory_equal(w.data + w.off, "0123456abc", 10);
	wbuf_free(&w);
	wbuf_free(&w);
	assert_int_equal(w.max, 10);
	assert_int_equal(wbuf_pending(&w), 0);
}

static void test_flush_empty(void **state)
{
	struct wbuf w;
	int p[2];

	small_pipe(p);
	wbuf_init(&w, 100);
	assert_int_equal(wbuf_flush(&w, p[1]), 0);
	assert_int_equal(wbuf_append(&w, "hello\n", 6), 0);
	assert_int_equal(wbuf_flush(&w, p[1]), 0);
	assert_int_equal(wbuf_pending(&w), 0);
	{
		char buf[16];

		assert_int_equal(read(p[0], buf, sizeof(buf)), 6);
		assert_memory_equal(buf, "hello\n", 6);
	}
	close(p[0]);
	close(p[1]);
	wbuf_free(&w);
}

/* More than the pipe holds: flush stops at EAGAIN with 1, and every byte arrives once, in order. */
static void test_partial(void **state)
{
	enum { TOTAL = 200000 };
	static char in[TOTAL], out[TOTAL + 1];
	size_t sent = 0, got = 0;
	struct wbuf w;
	int p[2], r;

	for (size_t i = 0; i < TOTAL; i++)
		in[i] = (char)('a' + i % 26 + (i / 26) % 3);
	small_pipe(p);
	wbuf_init(&w, 64 * 1024);
	while (got < TOTAL) {
		/* Queue in uneven pieces as far as the bound allows. */
		while (sent < TOTAL) {
			size_t n = 1 + sent % 1000;

			if (n > TOTAL - sent)
				n = TOTAL - sent;
			if (wbuf_append(&w, in + sent, n) < 0)
				break;
			sent += n;
		}
		assert_true(wbuf_pending(&w) <= 64 * 1024);
		assert_true(w.cap <= 2 * 64 * 1024);
		r = wbuf_flush(&w, p[1]);
		assert_true(r == 0 || r == 1);
		assert_int_equal(r == 1, wbuf_pending(&w) > 0);
		/* Take less than was written: the next flush meets a part-full pipe. */
		{
			ssize_t n = read(p[0], out + got, 1500);

			if (n > 0)
				got += (size_t)n;
		}
	}
	assert_int_equal(sent, TOTAL);
	assert_memory_equal(in, out, TOTAL);
	assert_int_equal(wbuf_flush(&w, p[1]), 0);
	assert_int_equal(drain(p[0], out, sizeof(out)), 0);
	close(p[0]);
	close(p[1]);
	wbuf_free(&w);
}

/* A socket whose peer reads nothing: flush returns 1 and keeps the rest. */
static void test_socket_full(void **state)
{
	static char chunk[1 << 20];
	struct wbuf w;
	int sv[2], size = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)), 0);
	wbuf_init(&w, sizeof(chunk));
	assert_int_equal(wbuf_append(&w, chunk, sizeof(chunk)), 0);
	assert_int_equal(wbuf_flush(&w, sv[0]), 1);
	assert_true(wbuf_pending(&w) > 0);
	assert_true(wbuf_pending(&w) < sizeof(chunk));
	assert_int_equal(wbuf_flush(&w, sv[0]), 1);	/* still full: EAGAIN again */
	close(sv[1]);
	assert_int_equal(wbuf_flush(&w, sv[0]), -EPIPE);
	close(sv[0]);
	wbuf_free(&w);
}

static void test_errors(void **state)
{
	struct wbuf w;
	int p[2];

	wbuf_init(&w, 100);
	assert_int_equal(wbuf_append(&w, "x", 1), 0);
	assert_int_equal(wbuf_flush(&w, -1), -EBADF);
	assert_int_equal(wbuf_pending(&w), 1);	/* kept: the caller decides */
	small_pipe(p);
	close(p[0]);
	assert_int_equal(wbuf_flush(&w, p[1]), -EPIPE);	/* SIGPIPE is ignored, as in mcpd */
	close(p[1]);
	wbuf_free(&w);
}

/* A queue that once held a lot gives the memory back when it empties. */
static void test_release(void **state)
{
	static char big[256 * 1024];
	struct wbuf w;
	int p[2];
	char sink[65536];

	small_pipe(p);
	wbuf_init(&w, sizeof(big));
	assert_int_equal(wbuf_append(&w, big, sizeof(big)), 0);
	while (wbuf_flush(&w, p[1]) == 1)
		drain(p[0], sink, sizeof(sink));
	drain(p[0], sink, sizeof(sink));
	assert_int_equal(wbuf_pending(&w), 0);
	assert_null(w.data);
	assert_int_equal(w.cap, 0);
	assert_int_equal(wbuf_append(&w, "again", 5), 0);
	assert_int_equal(wbuf_flush(&w, p[1]), 0);
	assert_int_equal(drain(p[0], sink, sizeof(sink)), 5);
	close(p[0]);
	close(p[1]);
	wbuf_free(&w);
}

/* After a partial flush, appends move the rest to the front only when it pays. */
static void test_compaction(void **state)
{
	struct wbuf w;
	int p[2];
	char buf[8192];

	small_pipe(p);
	wbuf_init(&w, 6000);
	memset(buf, 'a', sizeof(buf));
	assert_int_equal(wbuf_append(&w, buf, 6000), 0);
	assert_int_equal(wbuf_flush(&w, p[1]), 1);	/* 4096 taken: off > pending */
	assert_int_equal(wbuf_pending(&w), 6000 - 4096);
	/* Room at the tail: nothing moves. */
	assert_int_equal(wbuf_append(&w, "0123456789", 10), 0);
	assert_int_equal(w.off, 4096);
	/* No room: the 1914 bytes left move in front of the 4096 written. */
	memset(buf, 'b', sizeof(buf));
	assert_int_equal(wbuf_append(&w, buf, 3000), 0);
	assert_int_equal(w.off, 0);
	assert_int_equal(w.len, 1904 + 10 + 3000);
	assert_memory_equal(w.data + 1904, "0123456789b", 11);
	assert_int_equal(w.cap, 8192);
	assert_int_equal(wbuf_append(&w, buf, 6000 - w.len), 0);
	assert_int_equal(wbuf_append(&w, "x", 1), -ENOBUFS);
	close(p[0]);
	close(p[1]);
	wbuf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_flush_empty),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_socket_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_compaction),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("wbuf", tests, NULL, NULL);
}
