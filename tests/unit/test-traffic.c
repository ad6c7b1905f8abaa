/* Unit tests of the traffic table: buckets, quantiles, the window, label folding, the series cap, the exposition. */
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
#include "traffic-table.h"

static struct traffic_table *table_with_tools(const char *json)
{
	struct traffic_table *t = traffic_table_new("s\"1");
	cJSON *tools = cJSON_Parse(json);

	traffic_table_set_tools(t, tools, 42);
	cJSON_Delete(tools);
	return t;
}

static char *render(const struct traffic_table *t, void (*fn)(const struct traffic_table *, struct metrics_buf *))
{
	struct metrics_buf b = { .data = malloc(16), .cap = 16 };

	fn(t, &b);
	b.data = realloc(b.data, b.len + 1);
	b.data[b.len] = '\0';
	return b.data;
}

static void test_buckets(void **state)
{
	struct traffic_table *t = traffic_table_new("s");
	struct traffic_series *se = traffic_table_series(t, traffic_method_index("ping"), NULL);
	char *text;

	/* On a bound is in that bucket (le); past the last finite one, +Inf. */
	traffic_table_finish(t, se, TRAFFIC_OK, 0.005, 100.);
	traffic_table_finish(t, se, TRAFFIC_OK, 0.0051, 100.);
	traffic_table_finish(t, se, TRAFFIC_ERROR, 11., 100.);
	traffic_table_finish(t, se, TRAFFIC_TIMEOUT, -1, 100.);
	assert_int_equal(se->buckets[0], 1);
	assert_int_equal(se->buckets[1], 1);
	assert_int_equal(se->buckets[TRAFFIC_BUCKETS - 1], 1);
	assert_int_equal(se->answered, 3);
	assert_int_equal(t->requests, 4);
	assert_int_equal(t->errors, 2);
	text = render(t, traffic_render_durations);
	assert_non_null(strstr(text, "mcpd_request_duration_seconds_bucket{server=\"s\",method=\"ping\",tool=\"\",le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, ",le=\"0.01\"} 2\n"));
	assert_non_null(strstr(text, ",le=\"10\"} 2\n"));
	assert_non_null(strstr(text, ",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "mcpd_request_duration_seconds_sum{server=\"s\",method=\"ping\",tool=\"\"} 11.010100\n"));
	assert_non_null(strstr(text, "mcpd_request_duration_seconds_count{server=\"s\",method=\"ping\",tool=\"\"} 3\n"));
	free(text);
	text = render(t, traffic_render_requests);
	assert_string_equal(text, "mcpd_requests_total{server=\"s\",method=\"ping\",tool=\"\",outcome=\"ok\"} 2\n"
			    "mcpd_requests_total{server=\"s\",method=\"ping\",tool=\"\",outcome=\"error\"} 1\n"
			    "mcpd_requests_total{server=\"s\",method=\"ping\",tool=\"\",outcome=\"timeout\"} 1\n");
	free(text);
	traffic_table_free(t);
}

static void test_quantile(void **state)
{
	static const double bounds[3] = { 1, 2, 4 };
	uint32_t none[4] = { 0 }, even[4] = { 10, 10, 0, 0 }, inf[4] = { 0, 0, 0, 5 };

	assert_true(traffic_quantile(0.5, none, bounds, 3) < 0);
	/* Rank 10 of 20 ends the first bucket; rank 15 is halfway through the second. */
	assert_float_equal(traffic_quantile(0.5, even, bounds, 3), 1., 1e-9);
	assert_float_equal(traffic_quantile(0.75, even, bounds, 3), 1.5, 1e-9);
	assert_float_equal(traffic_quantile(0.25, even, bounds, 3), 0.5, 1e-9);
	/* All in +Inf: the highest finite bound, as histogram_quantile answers. */
	assert_float_equal(traffic_quantile(0.99, inf, bounds, 3), 4., 1e-9);
}

static void test_window(void **state)
{
	struct traffic_table *t = traffic_table_new("s");
	struct traffic_series *se = traffic_table_series(t, traffic_method_index("tools/list"), NULL);
	struct traffic_window w;

	for (int i = 0; i < 100; i++)
		traffic_table_finish(t, se, TRAFFIC_OK, 0.010, 1000.5);
	traffic_table_finish(t, se, TRAFFIC_UNAVAILABLE, -1, 1030.);
	traffic_table_window(t, 1030.2, &w);
	assert_int_equal(w.requests, 101);
	assert_int_equal(w.errors, 1);
	assert_int_equal(w.timed, 100);
	/* 10 ms falls in the bucket (7.94, 11.1]: interpolated within it. */
	assert_true(w.p50_ms > 7.94 && w.p50_ms <= 11.1);
	assert_true(w.p99_ms >= w.p50_ms && w.p99_ms <= 11.1);
	/* 60 s after the first second, only the later one is left; 60 s after that, nothing. */
	traffic_table_window(t, 1060.1, &w);
	assert_int_equal(w.requests, 1);
	assert_true(w.p50_ms < 0);
	traffic_table_window(t, 1090.1, &w);
	assert_int_equal(w.requests, 0);
	/* A slot reused a minute later starts from zero (the one of second 1030 is still in the window). */
	traffic_table_finish(t, se, TRAFFIC_OK, 0.5, 1060.9);
	traffic_table_window(t, 1061., &w);
	assert_int_equal(w.requests, 2);
	assert_true(w.p50_ms > 300 && w.p50_ms <= 630);
	/* Totals stay. */
	assert_int_equal(t->requests, 102);
	traffic_table_free(t);
}

static void test_method_folding(void **state)
{
	assert_string_equal(traffic_method_name(traffic_method_index("tools/call")), "tools/call");
	assert_string_equal(traffic_method_name(traffic_method_index("resources/templates/list")),
			    "resources/templates/list");
	assert_string_equal(traffic_method_name(traffic_method_index("server/discover")), "server/discover");
	assert_string_equal(traffic_method_name(traffic_method_index("subscriptions/listen")), "subscriptions/listen");
	assert_int_equal(traffic_method_index("tools/call2"), TRAFFIC_METHOD_OTHER);
	assert_int_equal(traffic_method_index("bogus"), TRAFFIC_METHOD_OTHER);
	assert_int_equal(traffic_method_index(NULL), TRAFFIC_METHOD_OTHER);
	assert_string_equal(traffic_method_name(TRAFFIC_METHOD_OTHER), "other");
}

static void test_tool_folding(void **state)
{
	struct traffic_table *t = table_with_tools("[{\"name\":\"echo\"},{\"name\":\"a\\\"b\"},{\"name\":\"other\"},{}]");
	unsigned call = traffic_method_index("tools/call");
	char *text;

	assert_true(traffic_table_tool_listed(t, "echo", traffic_hash("echo")));
	assert_true(traffic_table_tool_listed(t, "a\"b", traffic_hash("a\"b")));
	assert_false(traffic_table_tool_listed(t, "bogus", traffic_hash("bogus")));
	assert_false(traffic_table_tool_listed(t, "other", traffic_hash("other")));
	assert_int_equal(t->ntools, 2);
	/* The same (method, tool) is the same series; a tool of tools/call differs from no tool. */
	assert_ptr_equal(traffic_table_series(t, call, "echo"), traffic_table_series(t, call, "echo"));
	assert_ptr_not_equal(traffic_table_series(t, call, "other"), traffic_table_series(t, call, "echo"));
	assert_ptr_not_equal(traffic_table_series(t, call, "echo"), traffic_table_series(t, call, NULL));
	traffic_table_finish(t, traffic_table_series(t, call, "a\"b"), TRAFFIC_TOOL_ERROR, 0.001, 5.);
	text = render(t, traffic_render_requests);
	assert_string_equal(text, "mcpd_requests_total{server=\"s\\\"1\",method=\"tools/call\",tool=\"a\\\"b\","
			    "outcome=\"tool_error\"} 1\n");
	free(text);
	/* A new list replaces the old one. */
	{
		cJSON *tools = cJSON_Parse("[{\"name\":\"add\"}]");

		traffic_table_set_tools(t, tools, 43);
		cJSON_Delete(tools);
	}
	assert_false(traffic_table_tool_listed(t, "echo", traffic_hash("echo")));
	assert_true(traffic_table_tool_listed(t, "add", traffic_hash("add")));
	assert_int_equal(t->tools_hash, 43);
	traffic_table_free(t);
}

static void test_series_cap(void **state)
{
	struct traffic_table *t = traffic_table_new("s");
	unsigned call = traffic_method_index("tools/call");
	struct traffic_series *overflow;
	char name[32];

	for (int i = 0; i < TRAFFIC_MAX_SERIES; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(traffic_table_series(t, call, name)->method, call);
	}
	assert_int_equal(t->nseries, TRAFFIC_MAX_SERIES);
	assert_int_equal(t->folded, 0);
	/* Known ones are still found; new ones all go to one overflow series. */
	assert_string_equal(traffic_table_series(t, call, "t7")->tool, "t7");
	overflow = traffic_table_series(t, call, "new1");
	assert_ptr_equal(traffic_table_series(t, traffic_method_index("ping"), NULL), overflow);
	assert_int_equal(overflow->method, TRAFFIC_METHOD_OTHER);
	assert_string_equal(overflow->tool, "other");
	assert_int_equal(t->nseries, TRAFFIC_MAX_SERIES + 1);
	assert_int_equal(t->folded, 2);
	traffic_table_free(t);
}

static void test_in_flight_and_bytes(void **state)
{
	struct traffic_table *t = traffic_table_new("x");
	char *text;

	t->in_flight = 3;
	t->bytes_in = 12345;
	t->bytes_out = 0;
	text = render(t, traffic_render_in_flight);
	assert_string_equal(text, "mcpd_requests_in_flight{server=\"x\"} 3\n");
	free(text);
	text = render(t, traffic_render_bytes);
	assert_string_equal(text, "mcpd_request_bytes_total{server=\"x\",direction=\"in\"} 12345\n"
			    "mcpd_request_bytes_total{server=\"x\",direction=\"out\"} 0\n");
	free(text);
	traffic_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_method_folding),
		cmocka_unit_test(test_tool_folding),
		cmocka_unit_test(test_series_cap),
		cmocka_unit_test(test_in_flight_and_bytes),
	};

	return cmocka_run_group_tests_name("traffic", tests, NULL, NULL);
}
