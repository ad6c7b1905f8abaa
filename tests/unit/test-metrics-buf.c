/* Unit tests of the exposition's buffer and formatters (metrics-buf.c, metrics.h): the same text as printf's. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

/* xorshift64: reproducible values of every magnitude. */
static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void check_u64(uint64_t v)
{
	char want[32], got[32];
	char *end;

	snprintf(want, sizeof(want), "%llu\n", (unsigned long long)v);
	end = metrics_put_u64_nl(got, v);
	*end = '\0';
	assert_string_equal(got, want);
}

static void test_u64_as_printf(void **state)
{
	uint64_t x = 88172645463325252ULL;

	(void)state;
	check_u64(0);
	check_u64(9);
	check_u64(10);
	check_u64(UINT64_MAX);
	for (uint64_t p = 1; p < UINT64_MAX / 10; p *= 10) {
		check_u64(p - 1);
		check_u64(p);
	}
	for (int i = 0; i < 100000; i++)
		check_u64(next(&x) >> (i % 64));
}

static void check_us(uint64_t us)
{
	char want[48], got[48];
	char *end;

	snprintf(want, sizeof(want), "%llu.%06llu\n", (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
	end = metrics_put_us_nl(got, us);
	*end = '\0';
	assert_string_equal(got, want);
	if (us < (1ULL << 40)) {	/* within a double's exact range, the same as %.6f of seconds */
		snprintf(want, sizeof(want), "%.6f\n", (double)us / 1e6);
		assert_string_equal(got, want);
	}
}

static void test_us_as_printf(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	(void)state;
	check_us(0);
	check_us(1);
	check_us(999999);
	check_us(1000000);
	check_us(1234567);
	check_us(UINT64_MAX);
	for (int i = 0; i < 100000; i++)
		check_us(next(&x) >> (i % 64));
}

static void test_reserve_and_printf(void **state)
{
	struct metrics_buf b = { .data = malloc(4), .cap = 4 };
	char lab[16];

	(void)state;
	metrics_reserve(&b, 100);
	assert_true(b.cap > b.len + 100);
	b.len = (size_t)(METRICS_PUT(b.data, "x ") - b.data);
	metrics_printf(&b, "%s %d\n", metrics_label("a\"b\\c\nd", lab, sizeof(lab)), 7);
	metrics_family(&b, "m", "gauge", "Help.");
	metrics_reserve(&b, 1);
	b.data[b.len] = '\0';
	assert_string_equal(b.data, "x a\\\"b\\\\c\\nd 7\n# HELP m Help.\n# TYPE m gauge\n");
	assert_string_equal(metrics_label("\"\"\"\"\"\"\"\"", lab, 8), "\\\"\\\"\\\"");	/* cut to fit */
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_as_printf),
		cmocka_unit_test(test_us_as_printf),
		cmocka_unit_test(test_reserve_and_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
