/*
 * libFuzzer target: the relay's translations between protocol eras
 * (relay-era.c) and the era helpers they build on (mcp-era.c), on arbitrary
 * JSON from a client or a server: every function on the message, on its
 * params, result and error, with the invariants the relay relies on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp-era.h"
#include "relay-era.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* What the relay sends on is JSON that parses back. */
static void check_prints(const cJSON *item)
{
	char *text;
	cJSON *back;

	if (!item)
		return;
	text = cJSON_PrintUnformatted(item);
	if (!text)
		abort();
	back = cJSON_Parse(text);
	if (!back)
		abort();
	cJSON_Delete(back);
	free(text);
}

static void translations(const cJSON *msg)
{
	const cJSON *params = get(msg, "params"), *result = get(msg, "result"), *error = get(msg, "error");
	const char *method = cJSON_GetStringValue(get(msg, "method"));
	const char *version = mcp_request_version(msg);
	cJSON *copy, *out, *filter, *sub;
	char buf[64];
	int rank;

	rank = relay_era_request_log_rank(msg);
	if (rank < -1 || rank > 7)
		abort();
	if (relay_era_log_rank(method) < -1)
		abort();
	if (version && mcp_version_modern(version) && mcp_version_legacy(version))
		abort();	/* one era per version */

	/* A modern request for a legacy server: none of the io.modelcontextprotocol keys stay. */
	copy = cJSON_Duplicate(msg, 1);
	relay_era_strip_meta(copy);
	if (mcp_request_version(copy))
		abort();
	check_prints(copy);
	cJSON_Delete(copy);

	copy = cJSON_Duplicate(msg, 1);
	relay_era_mark_complete(copy, method);
	if (cJSON_IsObject(get(copy, "result")) && !get(get(copy, "result"), "resultType"))
		abort();
	check_prints(copy);
	cJSON_Delete(copy);

	/* A notification tagged with a subscription id reads back that id; untagged, none. */
	/* (An id of the message's own: cJSON_Compare tells apart objects with keys twice that are equal.) */
	copy = cJSON_Duplicate(msg, 1);
	sub = cJSON_IsNumber(get(msg, "id")) || cJSON_IsString(get(msg, "id")) ? cJSON_Duplicate(get(msg, "id"), 1) :
									        cJSON_CreateNumber(7);
	relay_era_set_subscription_id(copy, sub);
	if (cJSON_IsObject(msg) && (cJSON_IsObject(params) || (!params && !result)) &&
	    !cJSON_Compare(relay_era_subscription_id(copy), sub, 1))
		abort();
	cJSON_Delete(sub);
	relay_era_remove_subscription_id(copy);
	if (relay_era_subscription_id(copy))
		abort();
	check_prints(copy);
	cJSON_Delete(copy);
	(void)relay_era_subscription_id(msg);

	/* A listen's filter keeps at most RELAY_ERA_MAX_URIS strings of at most RELAY_ERA_MAX_URI bytes. */
	filter = relay_era_listen_filter(get(params, "notifications"), result);
	if (cJSON_GetArraySize(get(filter, "resourceSubscriptions")) > RELAY_ERA_MAX_URIS)
		abort();
	for (const cJSON *u = get(filter, "resourceSubscriptions") ? get(filter, "resourceSubscriptions")->child : NULL;
	     u; u = u->next)
		if (!cJSON_IsString(u) || strlen(u->valuestring) > RELAY_ERA_MAX_URI)
			abort();
	(void)relay_era_listen_wants(filter, msg);
	(void)relay_era_listen_wants(get(params, "notifications"), msg);
	check_prints(filter);
	cJSON_Delete(filter);

	/* The methods an input_required asks for fit the buffer, even a tiny one. */
	for (size_t n = 1; n <= sizeof(buf); n += 21) {
		memset(buf, 'x', sizeof(buf));
		relay_era_input_methods(result, buf, n);
		if (!memchr(buf, '\0', n))
			abort();
	}
	(void)relay_era_input_method(method);
	(void)relay_era_input_required(result);

	/* The era helpers on what a peer sent. */
	(void)mcp_error_is_modern(error);
	(void)mcp_error_supported_modern(error);
	copy = cJSON_Duplicate(msg, 1);
	if (cJSON_IsObject(copy)) {
		mcp_inject_meta(copy, MCP_VERSION_MODERN, get(params, "clientInfo"), get(params, "capabilities"));
		if (!mcp_request_version(copy) || strcmp(mcp_request_version(copy), MCP_VERSION_MODERN) != 0)
			abort();
		check_prints(copy);
	}
	cJSON_Delete(copy);
	out = mcp_discover_from_initialize(result);
	check_prints(out);
	cJSON_Delete(out);
	out = mcp_initialize_from_discover(result, cJSON_GetStringValue(get(params, "protocolVersion")));
	check_prints(out);
	cJSON_Delete(out);
	out = mcp_unsupported_version_data(version ? version : method);
	check_prints(out);
	cJSON_Delete(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *msg = cJSON_ParseWithLength((const char *)data, size);

	if (!msg)
		return 0;
	translations(msg);
	cJSON_Delete(msg);
	return 0;
}
