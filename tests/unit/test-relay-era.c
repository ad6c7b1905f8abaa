/* Unit tests of the relay's translations between protocol eras (relay-era.c). */
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

#include "mcp-era.h"
#include "relay-era.h"

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	return j;
}

/* The compact text of j, compared and freed. */
static void assert_json(const cJSON *j, const char *want)
{
	char *text = cJSON_PrintUnformatted(j);

	assert_string_equal(text, want);
	free(text);
}

static void test_log_rank(void **state)
{
	cJSON *req = parse("{\"params\":{\"_meta\":{\"io.modelcontextprotocol/logLevel\":\"warning\"}}}");
	cJSON *none = parse("{\"params\":{}}");

	(void)state;
	assert_int_equal(relay_era_log_rank("debug"), 0);
	assert_int_equal(relay_era_log_rank("emergency"), 7);
	assert_int_equal(relay_era_log_rank("loud"), -1);
	assert_int_equal(relay_era_log_rank(NULL), -1);
	assert_int_equal(relay_era_request_log_rank(req), 3);
	assert_int_equal(relay_era_request_log_rank(none), -1);
	cJSON_Delete(req);
	cJSON_Delete(none);
}

static void test_strip_meta(void **state)
{
	cJSON *req = parse("{\"params\":{\"x\":1,\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
			   "\"io.modelcontextprotocol/clientCapabilities\":{},\"progressToken\":5,\"com.example/a\":1}}}");
	cJSON *only = parse("{\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");

	(void)state;
	relay_era_strip_meta(req);
	assert_json(req, "{\"params\":{\"x\":1,\"_meta\":{\"progressToken\":5,\"com.example/a\":1}}}");
	relay_era_strip_meta(only);
	assert_json(only, "{\"params\":{}}");	/* an empty _meta goes too */
	cJSON_Delete(req);
	cJSON_Delete(only);
}

static void test_mark_complete(void **state)
{
	cJSON *list = parse("{\"id\":1,\"result\":{\"tools\":[]}}");
	cJSON *call = parse("{\"id\":1,\"result\":{\"content\":[]}}");
	cJSON *kept = parse("{\"id\":1,\"result\":{\"resultType\":\"complete\",\"ttlMs\":5,\"cacheScope\":\"public\"}}");
	cJSON *error = parse("{\"id\":1,\"error\":{\"code\":-1,\"message\":\"x\"}}");

	(void)state;
	relay_era_mark_complete(list, "tools/list");
	assert_json(list, "{\"id\":1,\"result\":{\"tools\":[],\"resultType\":\"complete\",\"ttlMs\":0,"
			  "\"cacheScope\":\"private\"}}");
	relay_era_mark_complete(call, "tools/call");
	assert_json(call, "{\"id\":1,\"result\":{\"content\":[],\"resultType\":\"complete\"}}");
	relay_era_mark_complete(kept, "resources/read");
	assert_json(kept, "{\"id\":1,\"result\":{\"resultType\":\"complete\",\"ttlMs\":5,\"cacheScope\":\"public\"}}");
	relay_era_mark_complete(error, "tools/list");
	assert_json(error, "{\"id\":1,\"error\":{\"code\":-1,\"message\":\"x\"}}");
	cJSON_Delete(list);
	cJSON_Delete(call);
	cJSON_Delete(kept);
	cJSON_Delete(error);
}

static void test_subscription_id(void **state)
{
	cJSON *note = parse("{\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":"
			    "{\"io.modelcontextprotocol/subscriptionId\":17,\"other\":1}}}");
	cJSON *bare = parse("{\"method\":\"notifications/tools/list_changed\"}");
	cJSON *result = parse("{\"id\":\"L\",\"result\":{\"resultType\":\"complete\"}}");
	cJSON *id = cJSON_CreateString("L");
	cJSON *big = cJSON_CreateRaw("12345678901234567890");

	(void)state;
	assert_int_equal(relay_era_subscription_id(note)->valueint, 17);
	assert_null(relay_era_subscription_id(bare));
	relay_era_set_subscription_id(note, id);
	assert_json(note, "{\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":{\"other\":1,"
			  "\"io.modelcontextprotocol/subscriptionId\":\"L\"}}}");
	relay_era_set_subscription_id(bare, big);	/* exact, as the client wrote it */
	assert_json(bare, "{\"method\":\"notifications/tools/list_changed\",\"params\":{\"_meta\":"
			  "{\"io.modelcontextprotocol/subscriptionId\":12345678901234567890}}}");
	relay_era_remove_subscription_id(bare);
	assert_json(bare, "{\"method\":\"notifications/tools/list_changed\",\"params\":{}}");
	relay_era_set_subscription_id(result, id);
	assert_json(result, "{\"id\":\"L\",\"result\":{\"resultType\":\"complete\",\"_meta\":"
			    "{\"io.modelcontextprotocol/subscriptionId\":\"L\"}}}");
	cJSON_Delete(note);
	cJSON_Delete(bare);
	cJSON_Delete(result);
	cJSON_Delete(id);
	cJSON_Delete(big);
}

static void test_listen_filter(void **state)
{
	cJSON *asked = parse("{\"toolsListChanged\":true,\"promptsListChanged\":true,\"resourcesListChanged\":true,"
			     "\"resourceSubscriptions\":[\"a://1\",7,\"a://2\"]}");
	cJSON *init = parse("{\"capabilities\":{\"tools\":{\"listChanged\":true},\"prompts\":{},"
			    "\"resources\":{\"subscribe\":true}}}");
	cJSON *bare = parse("{\"capabilities\":{\"tools\":{}}}");
	cJSON *filter, *none;
	cJSON *tools = parse("{\"method\":\"notifications/tools/list_changed\"}");
	cJSON *prompts = parse("{\"method\":\"notifications/prompts/list_changed\"}");
	cJSON *upd1 = parse("{\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"a://1\"}}");
	cJSON *upd3 = parse("{\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"a://3\"}}");

	(void)state;
	filter = relay_era_listen_filter(asked, init);
	assert_json(filter, "{\"toolsListChanged\":true,\"resourceSubscriptions\":[\"a://1\",\"a://2\"]}");
	none = relay_era_listen_filter(asked, bare);
	assert_json(none, "{}");
	assert_true(relay_era_listen_wants(filter, tools));
	assert_false(relay_era_listen_wants(filter, prompts));
	assert_true(relay_era_listen_wants(filter, upd1));
	assert_false(relay_era_listen_wants(filter, upd3));
	assert_false(relay_era_listen_wants(none, tools));
	cJSON_Delete(asked);
	cJSON_Delete(init);
	cJSON_Delete(bare);
	cJSON_Delete(filter);
	cJSON_Delete(none);
	cJSON_Delete(tools);
	cJSON_Delete(prompts);
	cJSON_Delete(upd1);
	cJSON_Delete(upd3);
}

static void test_listen_filter_bounds(void **state)
{
	cJSON *init = parse("{\"capabilities\":{\"resources\":{\"subscribe\":true}}}");
	cJSON *asked = cJSON_CreateObject();
	cJSON *uris = cJSON_AddArrayToObject(asked, "resourceSubscriptions");
	char *longuri = malloc(RELAY_ERA_MAX_URI + 2);
	cJSON *filter;

	(void)state;
	memset(longuri, 'x', RELAY_ERA_MAX_URI + 1);
	longuri[RELAY_ERA_MAX_URI + 1] = '\0';
	cJSON_AddItemToArray(uris, cJSON_CreateString(longuri));
	for (int i = 0; i < RELAY_ERA_MAX_URIS + 10; i++) {
		char u[32];

		snprintf(u, sizeof(u), "a://%d", i);
		cJSON_AddItemToArray(uris, cJSON_CreateString(u));
	}
	filter = relay_era_listen_filter(asked, init);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(filter, "resourceSubscriptions")), RELAY_ERA_MAX_URIS);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(filter, "resourceSubscriptions"), 0)->valuestring,
			    "a://0");	/* the URI too long is left out */
	free(longuri);
	cJSON_Delete(init);
	cJSON_Delete(asked);
	cJSON_Delete(filter);
}

static void test_input_required(void **state)
{
	cJSON *ir = parse("{\"resultType\":\"input_required\",\"inputRequests\":{\"a\":{\"method\":\"elicitation/create\"},"
			  "\"b\":{\"method\":\"sampling/createMessage\"}},\"requestState\":\"s\"}");
	cJSON *state_only = parse("{\"resultType\":\"input_required\",\"requestState\":\"s\"}");
	cJSON *done = parse("{\"resultType\":\"complete\"}");
	char buf[128];

	(void)state;
	assert_true(relay_era_input_required(ir));
	assert_false(relay_era_input_required(done));
	assert_false(relay_era_input_required(NULL));
	relay_era_input_methods(ir, buf, sizeof(buf));
	assert_string_equal(buf, "elicitation/create, sampling/createMessage");
	relay_era_input_methods(state_only, buf, sizeof(buf));
	assert_string_equal(buf, "more input");
	relay_era_input_methods(ir, buf, 12);	/* cut, still terminated */
	assert_int_equal(strlen(buf), 11);
	assert_true(relay_era_input_method("tools/call"));
	assert_true(relay_era_input_method("resources/read"));
	assert_false(relay_era_input_method("tools/list"));
	cJSON_Delete(ir);
	cJSON_Delete(state_only);
	cJSON_Delete(done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_rank),
		cmocka_unit_test(test_strip_meta),
		cmocka_unit_test(test_mark_complete),
		cmocka_unit_test(test_subscription_id),
		cmocka_unit_test(test_listen_filter),
		cmocka_unit_test(test_listen_filter_bounds),
		cmocka_unit_test(test_input_required),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
