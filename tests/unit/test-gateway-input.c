/* Unit tests of mcpd/gateway-input.c: Origin, Content-Length, bearer and body checks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

static void test_batch(void **state)
{
	static const char ok[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
				 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}]";
	static const char init[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}]";
	char big[4096];
	size_t n = 0;
	cJSON *batch;

	assert_int_equal(gateway_batch_parse(ok, strlen(ok), &batch), 0);
	assert_int_equal(cJSON_GetArraySize(batch), 2);
	cJSON_Delete(batch);
	assert_int_equal(gateway_batch_parse("[]", 2, &batch), -EINVAL);
	assert_int_equal(gateway_batch_parse("[1]", 3, &batch), -EINVAL);
	assert_int_equal(gateway_batch_parse("{}", 2, &batch), -EINVAL);
	assert_int_equal(gateway_batch_parse(init, strlen(init), &batch), -EINVAL);
	big[n++] = '[';
	for (int i = 0; i <= GATEWAY_MAX_BATCH; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s{\"jsonrpc\":\"2.0\",\"method\":\"x\"}", i ? "," : "");
	big[n++] = ']';
	assert_int_equal(gateway_batch_parse(big, n, &batch), -E2BIG);
}

static void test_era(void **state)
{
	cJSON *modern = cJSON_Parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
				    "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
	cJSON *legacy = cJSON_Parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");

	assert_int_equal(gateway_post_era("2026-07-28", legacy), MCP_ERA_MODERN);
	assert_int_equal(gateway_post_era("2025-11-25", legacy), MCP_ERA_LEGACY);
	assert_int_equal(gateway_post_era("2099-01-01", legacy), MCP_ERA_UNKNOWN);
	assert_int_equal(gateway_post_era(NULL, legacy), MCP_ERA_LEGACY);
	assert_int_equal(gateway_post_era(NULL, modern), MCP_ERA_MODERN);
	assert_int_equal(gateway_post_era("2025-11-25", modern), MCP_ERA_MODERN);
	assert_int_equal(gateway_post_era("2099-01-01", modern), MCP_ERA_UNKNOWN);
	assert_int_equal(gateway_post_era(NULL, NULL), MCP_ERA_LEGACY);
	cJSON_Delete(modern);
	cJSON_Delete(legacy);
}

static void test_header_decode(void **state)
{
	char *v;
	size_t n;

	assert_int_equal(gateway_header_decode("echo", &v, &n), 0);
	assert_string_equal(v, "echo");
	free(v);
	assert_int_equal(gateway_header_decode("=?base64?SGVsbG8sIOS4lueVjA==?=", &v, &n), 0);
	assert_string_equal(v, "Hello, \xe4\xb8\x96\xe7\x95\x8c");
	assert_int_equal(n, 13);
	free(v);
	assert_int_equal(gateway_header_decode("=?base64?IHBhZGRlZCA=?=", &v, &n), 0);
	assert_string_equal(v, " padded ");
	free(v);
	assert_int_equal(gateway_header_decode("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", &v, &n), 0);
	assert_string_equal(v, "=?base64?literal?=");
	free(v);
	assert_int_equal(gateway_header_decode("=?base64?" "?=", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(gateway_header_decode("=?base64?SGVsbG8?=", &v, &n), -EINVAL);
	assert_int_equal(gateway_header_decode("=?base64?SG=sbG8=?=", &v, &n), -EINVAL);
	assert_int_equal(gateway_header_decode("=?base64?S===?=", &v, &n), -EINVAL);
	assert_int_equal(gateway_header_decode("caf\xc3\xa9", &v, &n), -EINVAL);
	assert_int_equal(gateway_header_decode("a\tb", &v, &n), -EINVAL);
}

static int check(const char *body, const char *version, const char *method, const char *name)
{
	cJSON *msg = cJSON_Parse(body);
	char message[300];
	int r;

	assert_non_null(msg);
	r = gateway_check_modern(msg, version, method, name, message, sizeof(message));
	if (r)
		assert_true(strlen(message) > 0);
	cJSON_Delete(msg);
	return r;
}

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}"

static void test_check_modern(void **state)
{
	static const char list[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META "}}";
	static const char call[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" META
				   ",\"name\":\"Hello, \xe4\xb8\x96\xe7\x95\x8c\"}}";
	static const char read[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{" META
				   ",\"uri\":\"file:///a\"}}";
	static const char old[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
				  "{\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\"}}}";
	static const char none[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";

	assert_int_equal(check(list, "2026-07-28", "tools/list", NULL), 0);
	assert_int_equal(check(list, NULL, "tools/list", NULL), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(list, "2026-07-28", NULL, NULL), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(list, "2026-07-28", "tools/call", NULL), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(none, "2026-07-28", "tools/list", NULL), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(old, "2026-07-28", "tools/list", NULL), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(old, "2099-01-01", "tools/list", NULL), MCP_ERR_UNSUPPORTED_VERSION);
	assert_int_equal(check(call, "2026-07-28", "tools/call", "=?base64?SGVsbG8sIOS4lueVjA==?="), 0);
	assert_int_equal(check(call, "2026-07-28", "tools/call", NULL), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(call, "2026-07-28", "tools/call", "Hello"), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(call, "2026-07-28", "tools/call", "=?base64?SGVsbG8=?="), MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(check(read, "2026-07-28", "resources/read", "file:///a"), 0);
	assert_int_equal(check(read, "2026-07-28", "resources/read", "file:///b"), MCP_ERR_HEADER_MISMATCH);
	/* A name the method does not mirror is not checked. */
	assert_int_equal(check(list, "2026-07-28", "tools/list", "anything"), 0);
}

static void test_printable(void **state)
{
	static const char call[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" META
				   ",\"name\":\"\xc3\xa9\xc3\xa9\"}}";
	cJSON *msg = cJSON_Parse(call);
	char out[8], message[300];

	gateway_printable("tools/\xff\x01\x7f" "call", out, sizeof(out));
	assert_string_equal(out, "tools/?");
	gateway_printable("ab", out, sizeof(out));
	assert_string_equal(out, "ab");
	gateway_printable(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* Errors echo header and body values as printable ASCII only, never cut inside a character. */
	assert_non_null(msg);
	assert_int_equal(gateway_check_modern(msg, "2026-07-28", "tools/\xff" "call", NULL, message, sizeof(message)),
			 MCP_ERR_HEADER_MISMATCH);
	assert_non_null(strstr(message, "'tools/?call'"));
	assert_int_equal(gateway_check_modern(msg, "2026-07-28", "tools/call", "x\x80", message, sizeof(message)),
			 MCP_ERR_HEADER_MISMATCH);
	assert_int_equal(gateway_check_modern(msg, "2026-07-28", "tools/call", "=?base64?eA==?=", message,
					      sizeof(message)), MCP_ERR_HEADER_MISMATCH);
	assert_non_null(strstr(message, "body value '?" "?" "?" "?'"));
	for (const char *p = message; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	cJSON_Delete(msg);
}

static void test_accepts_sse(void **state)
{
	assert_true(gateway_accepts_sse("application/json, text/event-stream"));
	assert_true(gateway_accepts_sse("Text/Event-Stream"));
	assert_false(gateway_accepts_sse("application/json"));
	assert_false(gateway_accepts_sse(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_era),
		cmocka_unit_test(test_header_decode),
		cmocka_unit_test(test_check_modern),
		cmocka_unit_test(test_printable),
		cmocka_unit_test(test_accepts_sse),
	};

	return cmocka_run_group_tests_name("gateway-input", tests, NULL, NULL);
}
