/* Unit tests of the exposition's buffer and formatters (metrics-buf.c, metrics.h): the same text as printf's. */
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

/* One exposition: "n bytes" of text, in the buffer begun. */
static char *render(size_t n, size_t *cap, bool *was_kept)
{
	struct metrics_buf b;

	*was_kept = metrics_buf_begin(&b);
	metrics_reserve(&b, n);
	memset(b.data + b.len, 'x', n);
	b.len += n;
	metrics_buf_end(&b, *was_kept);
	*cap = b.cap;
	return b.data;
}

/* A replica's server label carries its replica; another server's is metrics_label's. */
static void test_server_label(void **state)
{
	char buf[200];

	(void)state;
	assert_string_equal(metrics_server("web#12", buf, sizeof(buf)), "web\",replica=\"12");
	assert_string_equal(metrics_server("web", buf, sizeof(buf)), "web");
	assert_string_equal(metrics_server("a\"b", buf, sizeof(buf)), "a\\\"b");
}

static void test_kept_buffer(void **state)
{
	size_t cap, cap2;
	bool was_kept;
	char *first, *second, *other;

	(void)state;
	first = render(100, &cap, &was_kept);
	assert_false(was_kept);		/* nothing kept yet: it becomes the kept one */
	other = render(100, &cap2, &was_kept);
	assert_false(was_kept);		/* the kept one is still out: a fresh one */
	assert_ptr_not_equal(other, first);
	metrics_release(other);		/* freed (the sanitizers would see a leak or a double free) */
	metrics_release(first);
	second = render(200, &cap2, &was_kept);
	assert_true(was_kept);		/* given back: used again, not reallocated for 200 bytes */
	assert_ptr_equal(second, first);
	assert_int_equal(cap2, cap);
	metrics_release(second);

	/* A big exposition, then a small one: the buffer is shrunk when given back. */
	second = render(8u << 20, &cap, &was_kept);
	assert_true(was_kept);
	assert_true(cap > (8u << 20));
	metrics_release(second);
	second = render(8u << 20, &cap2, &was_kept);
	assert_int_equal(cap2, cap);	/* within 4 times the last one: kept as it is */
	metrics_release(second);
	second = render(1000, &cap2, &was_kept);
	assert_true(was_kept);
	metrics_release(second);
	second = render(10, &cap2, &was_kept);
	assert_int_equal(cap2, 2 * 1000 + (1u << 20));
	metrics_free();			/* out: not freed, still kept */
	metrics_release(second);
	metrics_free();
	first = render(10, &cap, &was_kept);
	assert_false(was_kept);		/* freed: a fresh one, kept again */
	metrics_release(first);
	metrics_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64_as_printf),
		cmocka_unit_test(test_us_as_printf),
		cmocka_unit_test(test_reserve_and_printf),
		cmocka_unit_test(test_kept_buffer),
		cmocka_unit_test(test_server_label),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
