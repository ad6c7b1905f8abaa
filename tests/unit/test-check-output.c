/* Unit tests of mcpd/check-output.c: secrets redacted from a check's output, its first line as the detail. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check-output.h"

/* values: "a\0b\0" as a C literal with its length. */
static void redact(const char *in, size_t size, const char *values, size_t vlen, const char *want)
{
	char buf[256];
	size_t len = strlen(in);

	assert_true(size <= sizeof(buf));
	memcpy(buf, in, len + 1 < size ? len + 1 : size);
	assert_int_equal(check_output_redact(buf, len, size, values, vlen), strlen(want));
	assert_string_equal(buf, want);
}

static void test_redact(void **state)
{
	static const char two[] = "hunter2\0tok-XYZ";	/* the second value ends at the terminator */

	(void)state;
	redact("password=hunter2 ok", 256, two, sizeof(two), "password=*** ok");
	redact("hunter2hunter2 tok-XYZ!", 256, two, sizeof(two), "****** ***!");
	redact("nothing here", 256, two, sizeof(two), "nothing here");
	redact("", 256, two, sizeof(two), "");
	/* Empty values are skipped, a value of one byte grows the text. */
	redact("abcabc", 256, "\0b", 3, "a***ca***c");
	/* What no longer fits is dropped, never a piece of a value left. */
	redact("xxhunter2yyyy", 14, two, sizeof(two), "xx***yyyy");
	redact("ab1cd", 6, "1\0", 2, "ab***");
	redact("abcd1", 6, "1\0", 2, "abcd");
	/* The values may hold any byte but NUL, and overlap other values. */
	redact("a\nb secret", 256, "a\nb\0secret\0cret", 16, "*** ***");
}

static void first(const char *in, size_t max, const char *want)
{
	char buf[64];

	check_output_first_line(in, strlen(in), buf, sizeof(buf), max);
	assert_string_equal(buf, want);
}

static void test_first_line(void **state)
{
	(void)state;
	first("OK - 3 rows\nsecond\n", 200, "OK - 3 rows");
	first("\n\n  \tlate start\r\nmore", 200, "late start");
	first("tab\there\x1b[31m", 200, "tab\\x09here\\x1b[31m");
	first("", 200, "");
	first("0123456789", 4, "0123...");
	first("0123", 4, "0123");
	/* Cut to the buffer: 64 bytes, room kept for an escape, the "..." and the NUL. */
	first("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 200,
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_first_line),
	};

	return cmocka_run_group_tests_name("check-output", tests, NULL, NULL);
}
