/* Unit tests of a server's log budget: the burst, the rate, the counts and the summary. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lograte.h"

static void test_burst_then_rate(void **state)
{
	struct lograte r = { 0 };
	size_t allowed = 0;
	char buf[384];

	/* A flood of 10000 lines at one instant: the burst goes through, the rest is counted. */
	for (int i = 0; i < 10000; i++)
		allowed += lograte_allow(&r, i % 2 ? LOGRATE_STDOUT : LOGRATE_STDERR, 100.0);
	assert_int_equal(allowed, LOGRATE_BURST);
	assert_int_equal(lograte_pending(&r), 10000 - LOGRATE_BURST);

	/* One second later, LOGRATE_RATE more. */
	allowed = 0;
	for (int i = 0; i < 10000; i++)
		allowed += lograte_allow(&r, LOGRATE_STDOUT, 101.0);
	assert_int_equal(allowed, LOGRATE_RATE);

	assert_true(lograte_summary(&r, "loud", 105.0, buf, sizeof(buf)));
	assert_string_equal(buf, "suppressed 18800 lines in the last 5s (more than 200/s after a burst of 1000): "
				 "4500 stderr lines were not copied to this log (`mcpctl logs loud` has them); "
				 "14300 stdout lines that are not JSON-RPC were dropped");
	assert_int_equal(lograte_pending(&r), 0);
	assert_false(lograte_summary(&r, "loud", 106.0, buf, sizeof(buf)));
}

static void test_one_stream(void **state)
{
	struct lograte r = { 0 };
	char buf[384];

	for (int i = 0; i < LOGRATE_BURST + 3; i++)
		lograte_allow(&r, LOGRATE_STDERR, 1.0);
	assert_true(lograte_summary(&r, "flood", 1.2, buf, sizeof(buf)));
	assert_string_equal(buf, "suppressed 3 lines in the last 1s (more than 200/s after a burst of 1000): "
				 "3 stderr lines were not copied to this log (`mcpctl logs flood` has them)");
	/* A quiet server gets its whole burst back. */
	for (int i = 0; i < LOGRATE_BURST; i++)
		assert_true(lograte_allow(&r, LOGRATE_STDERR, 60.0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_one_stream),
	};

	return cmocka_run_group_tests_name("lograte", tests, NULL, NULL);
}
