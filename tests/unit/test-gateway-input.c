/* Unit tests of mcpd/gateway-input.c: Origin, Content-Length, bearer and body checks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway-input.h"

static void test_origin(void **state)
{
	char *list[] = { "https://app.example.com" };

	assert_true(gateway_origin_allowed(NULL, NULL, 0));
	assert_true(gateway_origin_allowed("http://localhost", NULL, 0));
	assert_true(gateway_origin_allowed("http://127.0.0.1:8080", NULL, 0));
	assert_true(gateway_origin_allowed("https://[::1]", NULL, 0));
	assert_false(gateway_origin_allowed("http://localhost.evil.example", NULL, 0));
	assert_false(gateway_origin_allowed("https://evil.example", NULL, 0));
	assert_true(gateway_origin_allowed("https://app.example.com", list, 1));
	assert_false(gateway_origin_allowed("http://localhost", list, 1));
	assert_false(gateway_origin_allowed("https://app.example.com.evil", list, 1));
}

static void test_content_length(void **state)
{
	uint64_t n = 7;

	assert_int_equal(gateway_content_length("0", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(gateway_content_length("4000000", &n), 0);
	assert_int_equal(n, 4000000);
	assert_int_equal(gateway_content_length("18446744073709551615", &n), 0);
	assert_int_equal(gateway_content_length("18446744073709551616", &n), -EINVAL);
	assert_int_equal(gateway_content_length("", &n), -EINVAL);
	assert_int_equal(gateway_content_length("-1", &n), -EINVAL);
	assert_int_equal(gateway_content_length("12 ", &n), -EINVAL);
	assert_int_equal(gateway_content_length(NULL, &n), -EINVAL);
}

static void test_bearer(void **state)
{
	assert_string_equal(gateway_bearer("Bearer abc"), "abc");
	assert_string_equal(gateway_bearer("bearer abc"), "abc");
	assert_null(gateway_bearer("Basic abc"));
	assert_null(gateway_bearer("Bearer"));
	assert_null(gateway_bearer(NULL));
}

static void test_body(void **state)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}";
	static const char note[] = "{\"jsonrpc\":\"2.0\",\"method\":\"initialize\"}";
	cJSON *msg;
	enum jsonrpc_kind kind;

	assert_int_equal(gateway_body_parse(req, strlen(req), &msg, &kind), 0);
	assert_int_equal(kind, JSONRPC_REQUEST);
	assert_true(gateway_is_initialize(msg));
	cJSON_Delete(msg);
	assert_int_equal(gateway_body_parse(note, strlen(note), &msg, &kind), 0);
	assert_int_equal(kind, JSONRPC_NOTIFICATION);
	assert_false(gateway_is_initialize(msg));
	cJSON_Delete(msg);
	assert_int_equal(gateway_body_parse("[1]", 3, &msg, &kind), -EINVAL);
	assert_int_equal(gateway_body_parse("{", 1, &msg, &kind), -EINVAL);
	assert_int_equal(gateway_body_parse(NULL, 0, &msg, &kind), -EINVAL);
	/* Only len bytes count: what follows is not read. */
	assert_int_equal(gateway_body_parse("{}xyz", 2, &msg, &kind), 0);
	assert_int_equal(kind, JSONRPC_INVALID);
	cJSON_Delete(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_body),
	};

	return cmocka_run_group_tests_name("gateway-input", tests, NULL, NULL);
}
