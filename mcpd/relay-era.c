/* The relay's translations between protocol eras: see relay-era.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "mcp-era.h"
#include "relay-era.h"

#define MCP_META_PREFIX "io.modelcontextprotocol/"

static const char *const log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency",
};

static cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* Case-sensitive, as MCP keys are (cJSON_HasObjectItem is not: "ResultType" hid "resultType"). */
static bool has(const cJSON *obj, const char *key)
{
	return get(obj, key) != NULL;
}

int relay_era_log_rank(const char *level)
{
	for (int i = 0; level && i < (int)(sizeof(log_levels) / sizeof(*log_levels)); i++)
		if (strcmp(level, log_levels[i]) == 0)
			return i;
	return -1;
}

int relay_era_request_log_rank(const cJSON *req)
{
	return relay_era_log_rank(cJSON_GetStringValue(get(get(get(req, "params"), "_meta"), MCP_META_LOG_LEVEL)));
}

void relay_era_strip_meta(cJSON *req)
{
	cJSON *params = get(req, "params");
	cJSON *meta, *next_meta, *it, *next;

	/* Every _meta: a client may write the key twice, and the server would read the one left. */
	for (meta = cJSON_IsObject(params) ? params->child : NULL; meta; meta = next_meta) {
		next_meta = meta->next;
		if (!meta->string || strcmp(meta->string, "_meta") != 0 || !cJSON_IsObject(meta))
			continue;
		for (it = meta->child; it; it = next) {
			next = it->next;
			if (it->string && strncmp(it->string, MCP_META_PREFIX, strlen(MCP_META_PREFIX)) == 0)
				cJSON_Delete(cJSON_DetachItemViaPointer(meta, it));
		}
		if (!meta->child)
			cJSON_Delete(cJSON_DetachItemViaPointer(params, meta));
	}
}

static bool cacheable(const char *method)
{
	static const char *const methods[] = {
		"server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list",
		"resources/read",
	};

	for (size_t i = 0; method && i < sizeof(methods) / sizeof(*methods); i++)
		if (strcmp(method, methods[i]) == 0)
			return true;
	return false;
}

void relay_era_mark_complete(cJSON *response, const char *method)
{
	cJSON *result = get(response, "result");

	if (!cJSON_IsObject(result))
		return;
	if (!has(result, "resultType"))
		cJSON_AddStringToObject(result, "resultType", "complete");
	if (!cacheable(method))
		return;
	/* A legacy server gives no caching hints: stale at once, and for this caller only. */
	if (!has(result, "ttlMs"))
		cJSON_AddNumberToObject(result, "ttlMs", 0);
	if (!has(result, "cacheScope"))
		cJSON_AddStringToObject(result, "cacheScope", "private");
}

static cJSON *meta_of(cJSON *obj, bool create)
{
	cJSON *meta = get(obj, "_meta");

	/* Every _meta that is no object goes: a peer may send the key twice, the first one a string. */
	while (meta && !cJSON_IsObject(meta) && create) {
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, meta));
		meta = get(obj, "_meta");
	}
	if (!meta && create && cJSON_IsObject(obj))
		meta = cJSON_AddObjectToObject(obj, "_meta");
	return cJSON_IsObject(meta) ? meta : NULL;
}

/* A notification's params, or a response's result: where _meta lives. */
static cJSON *body_of(cJSON *msg)
{
	cJSON *body = get(msg, "params");

	if (!body)
		body = get(msg, "result");
	return body;
}

void relay_era_set_subscription_id(cJSON *msg, const cJSON *id)
{
	cJSON *body = body_of(msg);
	cJSON *meta;

	if (!body && cJSON_IsObject(msg) && !has(msg, "result"))
		body = cJSON_AddObjectToObject(msg, "params");
	meta = meta_of(body, true);
	if (!meta)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(meta, MCP_META_SUBSCRIPTION_ID);
	cJSON_AddItemToObject(meta, MCP_META_SUBSCRIPTION_ID, cJSON_Duplicate(id, 1));
}

void relay_era_remove_subscription_id(cJSON *msg)
{
	cJSON *body = body_of(msg);
	cJSON *meta = meta_of(body, false);

	if (!meta)
		return;
	cJSON_DeleteItemFromObjectCaseSensitive(meta, MCP_META_SUBSCRIPTION_ID);
	if (!meta->child)
		cJSON_DeleteItemFromObjectCaseSensitive(body, "_meta");
}

const cJSON *relay_era_subscription_id(const cJSON *note)
{
	return get(get(get(note, "params"), "_meta"), MCP_META_SUBSCRIPTION_ID);
}

static bool capable(const cJSON *caps, const char *what, const char *flag)
{
	return cJSON_IsTrue(get(get(caps, what), flag));
}

cJSON *relay_era_listen_filter(const cJSON *asked, const cJSON *init_result)
{
	const cJSON *caps = get(init_result, "capabilities");
	const cJSON *uris = get(asked, "resourceSubscriptions");
	cJSON *out = cJSON_CreateObject();

	if (cJSON_IsTrue(get(asked, "toolsListChanged")) && capable(caps, "tools", "listChanged"))
		cJSON_AddTrueToObject(out, "toolsListChanged");
	if (cJSON_IsTrue(get(asked, "promptsListChanged")) && capable(caps, "prompts", "listChanged"))
		cJSON_AddTrueToObject(out, "promptsListChanged");
	if (cJSON_IsTrue(get(asked, "resourcesListChanged")) && capable(caps, "resources", "listChanged"))
		cJSON_AddTrueToObject(out, "resourcesListChanged");
	if (cJSON_IsArray(uris) && capable(caps, "resources", "subscribe")) {
		cJSON *list = cJSON_AddArrayToObject(out, "resourceSubscriptions");
		const cJSON *u;

		cJSON_ArrayForEach(u, uris)
			if (cJSON_IsString(u) && strlen(u->valuestring) <= RELAY_ERA_MAX_URI &&
			    cJSON_GetArraySize(list) < RELAY_ERA_MAX_URIS)
				cJSON_AddItemToArray(list, cJSON_CreateString(u->valuestring));
	}
	return out;
}

bool relay_era_listen_wants(const cJSON *filter, const cJSON *note)
{
	const char *method = cJSON_GetStringValue(get(note, "method"));
	const char *uri;
	const cJSON *u;

	if (!method)
		return false;
	if (strcmp(method, "notifications/tools/list_changed") == 0)
		return cJSON_IsTrue(get(filter, "toolsListChanged"));
	if (strcmp(method, "notifications/prompts/list_changed") == 0)
		return cJSON_IsTrue(get(filter, "promptsListChanged"));
	if (strcmp(method, "notifications/resources/list_changed") == 0)
		return cJSON_IsTrue(get(filter, "resourcesListChanged"));
	if (strcmp(method, "notifications/resources/updated") != 0)
		return false;
	uri = cJSON_GetStringValue(get(get(note, "params"), "uri"));
	cJSON_ArrayForEach(u, get(filter, "resourceSubscriptions"))
		if (uri && cJSON_IsString(u) && strcmp(u->valuestring, uri) == 0)
			return true;
	return false;
}

bool relay_era_input_method(const char *method)
{
	return method && (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
			  strcmp(method, "resources/read") == 0);
}

bool relay_era_input_required(const cJSON *result)
{
	const char *type = cJSON_GetStringValue(get(result, "resultType"));

	return type && strcmp(type, "input_required") == 0;
}

void relay_era_input_methods(const cJSON *result, char *buf, size_t size)
{
	const cJSON *it;
	size_t n = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(it, get(result, "inputRequests")) {
		const char *method = cJSON_GetStringValue(get(it, "method"));
		int w;

		if (!method || n >= size)
			continue;
		w = snprintf(buf + n, size - n, "%s%.40s", n ? ", " : "", method);
		if (w > 0)
			n += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, size, "more input");
}
