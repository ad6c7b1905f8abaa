/* Unit tests of the protocol eras: versions, modern errors, _meta, and the Discover/Initialize bridges. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp-era.h"

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	return j;
}

static void test_versions(void **state)
{
	(void)state;
	assert_true(mcp_version_legacy("2024-11-05"));
	assert_true(mcp_version_legacy("2025-11-25"));
	assert_false(mcp_version_legacy("2026-07-28"));
	assert_false(mcp_version_legacy(NULL));
	assert_true(mcp_version_modern("2026-07-28"));
	assert_false(mcp_version_modern("2025-11-25"));
	assert_string_equal(mcp_era_name(MCP_ERA_MODERN), "modern");
	assert_string_equal(mcp_era_name(MCP_ERA_UNKNOWN), "unknown");
}

static void test_request_version(void **state)
{
	cJSON *modern = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
			      "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
	cJSON *legacy = parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":[1]}");

	(void)state;
	assert_string_equal(mcp_request_version(modern), "2026-07-28");
	assert_null(mcp_request_version(legacy));
	cJSON_Delete(modern);
	cJSON_Delete(legacy);
}

static void test_modern_errors(void **state)
{
	cJSON *unsupported = parse("{\"code\":-32022,\"message\":\"x\",\"data\":{\"supported\":[\"1999-01-01\","
				   "\"2026-07-28\"],\"requested\":\"2025-11-25\"}}");
	cJSON *legacy = parse("{\"code\":-32601,\"message\":\"Method not found\"}");
	cJSON *ours = parse("{\"code\":-32002}");

	(void)state;
	assert_null(mcp_versions_first_legacy(cJSON_GetObjectItem(cJSON_GetObjectItem(unsupported, "data"), "supported")));
	assert_true(mcp_error_is_modern(unsupported));
	assert_string_equal(mcp_error_supported_modern(unsupported), "2026-07-28");
	assert_false(mcp_error_is_modern(legacy));
	assert_null(mcp_error_supported_modern(legacy));
	assert_false(mcp_error_is_modern(ours));
	assert_false(mcp_error_is_modern(NULL));
	cJSON_Delete(unsupported);
	cJSON_Delete(legacy);
	cJSON_Delete(ours);
}

static void test_version_lists(void **state)
{
	cJSON *list = parse("[\"1999-01-01\",7,\"2025-06-18\",\"2026-07-28\",\"2024-11-05\"]");
	cJSON *none = parse("[\"x\"]");

	(void)state;
	assert_string_equal(mcp_versions_first_legacy(list), "2025-06-18");
	assert_string_equal(mcp_versions_first_modern(list), "2026-07-28");
	assert_null(mcp_versions_first_legacy(none));
	assert_null(mcp_versions_first_modern(none));
	assert_null(mcp_versions_first_legacy(NULL));
	assert_null(mcp_versions_first_modern(cJSON_GetArrayItem(list, 0)));	/* not an array */
	cJSON_Delete(list);
	cJSON_Delete(none);
}

static void test_inject_meta(void **state)
{
	cJSON *req = parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
			   "\"_meta\":{\"progressToken\":3,\"io.modelcontextprotocol/protocolVersion\":\"old\"}}}");
	cJSON *bare = parse("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/list\"}");
	cJSON *info = parse("{\"name\":\"c\",\"version\":\"1\"}");
	char *text;

	(void)state;
	mcp_inject_meta(req, MCP_VERSION_MODERN, info, NULL);
	text = cJSON_PrintUnformatted(req);
	assert_string_equal(text, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
			    "\"_meta\":{\"progressToken\":3,\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
			    "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"c\",\"version\":\"1\"},"
			    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
	free(text);
	mcp_inject_meta(bare, MCP_VERSION_MODERN, NULL, info);
	assert_string_equal(mcp_request_version(bare), "2026-07-28");
	cJSON_Delete(req);
	cJSON_Delete(bare);
	cJSON_Delete(info);
}

static void test_bridges(void **state)
{
	cJSON *init = parse("{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":true}},"
			    "\"serverInfo\":{\"name\":\"s\",\"version\":\"2\"},\"instructions\":\"hi\"}");
	cJSON *disc = mcp_discover_from_initialize(init);
	cJSON *back;
	char *text;

	(void)state;
	text = cJSON_PrintUnformatted(disc);
	assert_string_equal(text, "{\"resultType\":\"complete\",\"supportedVersions\":[\"2026-07-28\"],"
			    "\"capabilities\":{\"tools\":{\"listChanged\":true}},\"instructions\":\"hi\","
			    "\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"s\",\"version\":\"2\"}}}");
	free(text);
	back = mcp_initialize_from_discover(disc, "2025-03-26");
	text = cJSON_PrintUnformatted(back);
	assert_string_equal(text, "{\"protocolVersion\":\"2025-03-26\",\"capabilities\":{\"tools\":{\"listChanged\":true}},"
			    "\"serverInfo\":{\"name\":\"s\",\"version\":\"2\"},\"instructions\":\"hi\"}");
	free(text);
	cJSON_Delete(back);
	/* A version mcpd does not know gets the newest legacy one; a DiscoverResult without serverInfo still names one. */
	cJSON_DeleteItemFromObject(disc, "_meta");
	back = mcp_initialize_from_discover(disc, "1999-01-01");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(back, "protocolVersion")), MCP_PROTOCOL_LATEST);
	assert_non_null(cJSON_GetObjectItem(back, "serverInfo"));
	cJSON_Delete(back);
	cJSON_Delete(disc);
	cJSON_Delete(init);
}

static void test_unsupported_data(void **state)
{
	cJSON *data = mcp_unsupported_version_data("2099-01-01");

	(void)state;
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(data, "requested")), "2099-01-01");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(data, "supported"), 0)),
			    MCP_VERSION_MODERN);
	cJSON_Delete(data);
}

static void test_client_capabilities(void **state)
{
	cJSON *caps = mcp_client_capabilities();
	char *text = cJSON_PrintUnformatted(caps);

	(void)state;
	assert_string_equal(text, "{\"roots\":{\"listChanged\":true},\"sampling\":{},"
			    "\"elicitation\":{\"form\":{},\"url\":{}}}");
	free(text);
	cJSON_Delete(caps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_request_version),
		cmocka_unit_test(test_modern_errors),
		cmocka_unit_test(test_version_lists),
		cmocka_unit_test(test_inject_meta),
		cmocka_unit_test(test_bridges),
		cmocka_unit_test(test_unsupported_data),
		cmocka_unit_test(test_client_capabilities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
