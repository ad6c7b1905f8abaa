/* Unit tests of restart delays and the circuit breaker. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "backoff.h"
#include "duration.h"

#define SEC 1000ULL
#define MIN (60 * SEC)

static const struct backoff_conf defaults = { .initial_ms = SEC, .max_ms = 60 * SEC, .factor = 2, .jitter = 0 };

static void test_sequence(void **state)
{
	static const uint64_t want[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };

	for (unsigned i = 0; i < sizeof(want) / sizeof(*want); i++)
		assert_int_equal(backoff_delay_ms(&defaults, i + 1, 0.5), want[i] * SEC);
	assert_int_equal(backoff_delay_ms(&defaults, 0, 0.5), SEC);	/* 0 counts as the first */
}

static void test_huge_attempts(void **state)
{
	struct backoff_conf c = defaults;

	assert_int_equal(backoff_delay_ms(&c, 64, 0), 60 * SEC);
	assert_int_equal(backoff_delay_ms(&c, 1000, 0.5), 60 * SEC);
	assert_int_equal(backoff_delay_ms(&c, UINT_MAX, 0.5), 60 * SEC);
	c.factor = 10;
	c.max_ms = DURATION_MAX_MS;
	assert_int_equal(backoff_delay_ms(&c, 1000, 0.5), DURATION_MAX_MS);
	assert_int_equal(backoff_delay_ms(&c, UINT_MAX, 0.5), DURATION_MAX_MS);
	c.factor = 1;
	assert_int_equal(backoff_delay_ms(&c, UINT_MAX, 0.5), SEC);
	c.factor = NAN;
	assert_int_equal(backoff_delay_ms(&c, 2, 0.5), DURATION_MAX_MS);
	c = defaults;
	c.initial_ms = 2 * c.max_ms;	/* the manifest refuses it; still capped */
	assert_int_equal(backoff_delay_ms(&c, 1, 0.5), c.max_ms);
	c.initial_ms = 0;
	assert_int_equal(backoff_delay_ms(&c, 5, 0.5), 0);
}

static void test_jitter(void **state)
{
	struct backoff_conf c = defaults;

	c.jitter = 0.1;
	assert_int_equal(backoff_delay_ms(&c, 1, 0), 900);
	assert_int_equal(backoff_delay_ms(&c, 1, 0.5), 1000);
	assert_int_equal(backoff_delay_ms(&c, 1, 0.999), 1100);	/* 1099.8, rounded */
	assert_int_equal(backoff_delay_ms(&c, 3, 0), 3600);
	assert_int_equal(backoff_delay_ms(&c, 3, 0.999), 4399);	/* 4399.2 */
	/* At the cap the spread still applies, up to max * (1 + jitter) and no further. */
	assert_int_equal(backoff_delay_ms(&c, 100, 0), 54 * SEC);
	assert_int_equal(backoff_delay_ms(&c, 100, 0.999), 65988);
	assert_true(backoff_delay_ms(&c, 100, 1.0) <= 66 * SEC);
	/* Draws outside [0, 1) are clamped, NaN counts as 0. */
	assert_int_equal(backoff_delay_ms(&c, 1, -5), 900);
	assert_int_equal(backoff_delay_ms(&c, 1, 7), 1100);
	assert_int_equal(backoff_delay_ms(&c, 1, NAN), 900);

	/* Full jitter: from 0 to twice the delay, never negative. */
	c.jitter = 1;
	assert_int_equal(backoff_delay_ms(&c, 1, 0), 0);
	assert_int_equal(backoff_delay_ms(&c, 1, 0.999), 1998);
	c.jitter = 5;	/* clamped to 1 */
	assert_int_equal(backoff_delay_ms(&c, 1, 0), 0);
	assert_true(backoff_delay_ms(&c, 1000, 0.999) <= 120 * SEC);
	c.jitter = -1;	/* clamped to 0 */
	assert_int_equal(backoff_delay_ms(&c, 1, 0), SEC);

	/* Whatever the draw, the bounds hold. */
	c.jitter = 0.25;
	for (unsigned n = 1; n < 40; n++) {
		for (double r = 0; r < 1; r += 0.01) {
			uint64_t d = backoff_delay_ms(&c, n, r);

			assert_true(d <= 75 * SEC);
			assert_true(d >= (uint64_t)(0.75 * fmin(60000, 1000 * pow(2, n - 1))) - 1);
		}
	}
}

static const struct circuit_conf five_in_5m = { .failures = 5, .window_ms = 5 * MIN, .cooldown_ms = 10 * MIN };

static void test_circuit_opens(void **state)
{
	struct circuit c;
	uint64_t t = 1000000;

	circuit_init(&c);
	for (int i = 0; i < 4; i++)
		assert_false(circuit_record_failure(&c, &five_in_5m, t + (uint64_t)i * MIN));
	assert_true(circuit_record_failure(&c, &five_in_5m, t + 4 * MIN + 59 * SEC));
	assert_true(c.n <= five_in_5m.failures);
	circuit_reset(&c);
	assert_int_equal(c.n, 0);
	assert_false(circuit_record_failure(&c, &five_in_5m, t + 10 * MIN));
	circuit_free(&c);
	circuit_free(&c);
}

static void test_circuit_spread(void **state)
{
	struct circuit c;

	circuit_init(&c);
	/* One failure every 76 s: four in any 5 minutes, never five. */
	for (uint64_t i = 0; i < 100; i++) {
		assert_false(circuit_record_failure(&c, &five_in_5m, 5000 + i * 76 * SEC));
		assert_true(c.n <= 4);
	}
	circuit_reset(&c);
	/* Exactly one window apart: the first has left the window when the fifth comes. */
	for (uint64_t i = 0; i < 4; i++)
		assert_false(circuit_record_failure(&c, &five_in_5m, i * MIN));
	assert_false(circuit_record_failure(&c, &five_in_5m, 5 * MIN));
	/* ... and a sixth a second later fills it again. */
	assert_true(circuit_record_failure(&c, &five_in_5m, 5 * MIN + SEC));
	circuit_free(&c);
}

static void test_circuit_edges(void **state)
{
	struct circuit_conf off = { .failures = 0, .window_ms = 5 * MIN };
	struct circuit_conf one = { .failures = 1, .window_ms = 5 * MIN };
	struct circuit_conf zero_window = { .failures = 2, .window_ms = 0 };
	struct circuit_conf two = { .failures = 2, .window_ms = 5 * MIN };
	struct circuit c;

	circuit_init(&c);
	for (int i = 0; i < 1000; i++)
		assert_false(circuit_record_failure(&c, &off, 0));
	assert_int_equal(c.n, 0);
	assert_true(circuit_record_failure(&c, &one, 0));
	assert_true(circuit_record_failure(&c, &one, 1));
	assert_int_equal(c.n, 1);
	circuit_reset(&c);
	/* A zero window holds nothing but the failure being recorded. */
	assert_false(circuit_record_failure(&c, &zero_window, 10));
	assert_false(circuit_record_failure(&c, &zero_window, 10));
	circuit_reset(&c);

	/* A reload lowers failures: the history is trimmed, the newest kept. */
	for (int i = 0; i < 4; i++)
		assert_false(circuit_record_failure(&c, &five_in_5m, (uint64_t)i));
	assert_true(circuit_record_failure(&c, &two, 10));
	assert_int_equal(c.n, 2);
	assert_int_equal(c.fail_ms[0], 3);
	assert_int_equal(c.fail_ms[1], 10);

	/* The clock went back: earlier times still count as recent. */
	circuit_reset(&c);
	assert_false(circuit_record_failure(&c, &two, 10 * MIN));
	assert_true(circuit_record_failure(&c, &two, 1 * MIN));

	/* Near the top of the clock range: no wrap-around. */
	circuit_reset(&c);
	assert_false(circuit_record_failure(&c, &two, UINT64_MAX - 10 * MIN));
	assert_false(circuit_record_failure(&c, &two, UINT64_MAX));
	circuit_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence),
		cmocka_unit_test(test_huge_attempts),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_circuit_opens),
		cmocka_unit_test(test_circuit_spread),
		cmocka_unit_test(test_circuit_edges),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
