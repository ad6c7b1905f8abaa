/* Unit tests of mcpctl/output.c: the human figures of status and top, and tables with right-aligned columns and several notes. */
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

#include "output.h"

static void expect_figure(void (*fmt)(double, char *, size_t), const char *name, double v, const char *want)
{
	char buf[32];

	fmt(v, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		print_error("%s(%g) = \"%s\", want \"%s\"\n", name, v, buf, want);
		fail();
	}
}

static void test_latency(void **state)
{
	(void)state;
	expect_figure(output_latency, "output_latency", 0, "0.0ms");
	expect_figure(output_latency, "output_latency", 0.42, "0.4ms");
	expect_figure(output_latency, "output_latency", 9.9, "9.9ms");
	expect_figure(output_latency, "output_latency", 12.4, "12ms");
	expect_figure(output_latency, "output_latency", 999, "999ms");
	expect_figure(output_latency, "output_latency", 1500, "1.5s");
	expect_figure(output_latency, "output_latency", 12000, "12s");
}

static void test_count(void **state)
{
	(void)state;
	expect_figure(output_count, "output_count", 0, "0");
	expect_figure(output_count, "output_count", 950, "950");
	/* Rounded to 1000 it would print "1000": the next unit takes it. */
	expect_figure(output_count, "output_count", 999.7, "1.0k");
	expect_figure(output_count, "output_count", 1234, "1.2k");
	expect_figure(output_count, "output_count", 9960, "10k");
	expect_figure(output_count, "output_count", 34e6, "34M");
}

static void test_rate(void **state)
{
	(void)state;
	expect_figure(output_rate, "output_rate", 0, "0");
	/* One request in a window of 60 s still shows. */
	expect_figure(output_rate, "output_rate", 1.0 / 60, "0.02");
	expect_figure(output_rate, "output_rate", 0.999, "1.0");
	expect_figure(output_rate, "output_rate", 3.46, "3.5");
	expect_figure(output_rate, "output_rate", 120.4, "120");
	expect_figure(output_rate, "output_rate", 1500, "1.5k");
}

static void test_percent(void **state)
{
	(void)state;
	expect_figure(output_percent, "output_percent", 0, "0%");
	expect_figure(output_percent, "output_percent", 0.005, "0.5%");
	expect_figure(output_percent, "output_percent", 0.12, "12%");
	expect_figure(output_percent, "output_percent", 1, "100%");
}

static void test_bytes(void **state)
{
	(void)state;
	expect_figure(output_bytes, "output_bytes", 512, "512B");
	expect_figure(output_bytes, "output_bytes", 1023.6, "1.0K");
	expect_figure(output_bytes, "output_bytes", 35651584, "34M");
	expect_figure(output_bytes, "output_bytes", 10380902, "9.9M");
	expect_figure(output_bytes, "output_bytes", 1.5 * 1024 * 1024 * 1024, "1.5G");
}

/* The table as text. */
static char *print(const struct table *t, size_t width)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	table_print(t, out, width);
	fclose(out);
	return text;
}

static void test_table_right_and_notes(void **state)
{
	static const char *const headers[] = { "NAME", "REQ/S", "MEM" };
	static const char *const row1[] = { "files", "0.02", "34M" };
	static const char *const row2[] = { "search", "120", "1.5G" };
	struct table *t = table_new(headers, 3);
	char *text;

	(void)state;
	table_set_right(t, 1);
	table_set_right(t, 2);
	table_add(t, row1);
	table_add_note(t, "1.2 req/s, 0% errors");
	table_add_note(t, "a reason\x1b[2J with an escape");
	table_add(t, row2);
	text = print(t, 80);
	assert_string_equal(text,
			    "NAME    REQ/S   MEM\n"
			    "files    0.02   34M\n"
			    "    1.2 req/s, 0% errors\n"
			    "    a reason [2J with an escape\n"
			    "search    120  1.5G\n");
	free(text);
	table_free(t);
}

/* A last column of compact JSON (mcpctl approvals' ARGS) wraps after a comma, not inside a word. */
static void test_table_wraps_after_commas(void **state)
{
	static const char *const headers[] = { "ID", "ARGS" };
	static const char *const row[] = { "b0044056", "{\"to\":\"ann@example.com\",\"subject\":\"Your refund\"}" };
	struct table *t = table_new(headers, 2);
	char *text;

	(void)state;
	table_add(t, row);
	text = print(t, 40);
	assert_string_equal(text,
			    "ID        ARGS\n"
			    "b0044056  {\"to\":\"ann@example.com\",\n"
			    "          \"subject\":\"Your refund\"}\n");
	free(text);
	table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_table_right_and_notes),
		cmocka_unit_test(test_table_wraps_after_commas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
