/* MCP protocol eras and the bridges between them: see mcp-era.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "mcp-era.h"

static const char *const legacy_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
};

const char *mcp_era_name(enum mcp_era era)
{
	switch (era) {
	case MCP_ERA_LEGACY:
		return "legacy";
	case MCP_ERA_MODERN:
		return "modern";
	case MCP_ERA_UNKNOWN:
		break;
	}
	return "unknown";
}

bool mcp_version_legacy(const char *version)
{
	if (!version)
		return false;
	for (size_t i = 0; i < sizeof(legacy_versions) / sizeof(*legacy_versions); i++)
		if (strcmp(version, legacy_versions[i]) == 0)
			return true;
	return false;
}

bool mcp_version_modern(const char *version)
{
	return version && strcmp(version, MCP_VERSION_MODERN) == 0;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

const char *mcp_request_version(const cJSON *msg)
{
	return cJSON_GetStringValue(get(get(get(msg, "params"), "_meta"), MCP_META_PROTOCOL_VERSION));
}

bool mcp_error_is_modern(const cJSON *error)
{
	const cJSON *code = get(error, "code");

	return cJSON_IsNumber(code) && code->valuedouble <= -32020 && code->valuedouble >= -32099;
}

/* The first version of a JSON array of versions that pass keep, or NULL. */
static const char *first_version(const cJSON *list, bool (*keep)(const char *))
{
	const cJSON *v;

	if (!cJSON_IsArray(list))
		return NULL;
	cJSON_ArrayForEach(v, list)
		if (keep(cJSON_GetStringValue(v)))
			return v->valuestring;
	return NULL;
}

const char *mcp_versions_first_legacy(const cJSON *list)
{
	return first_version(list, mcp_version_legacy);
}

const char *mcp_versions_first_modern(const cJSON *list)
{
	return first_version(list, mcp_version_modern);
}

const char *mcp_error_supported_modern(const cJSON *error)
{
	return mcp_versions_first_modern(get(get(error, "data"), "supported"));
}

cJSON *mcp_modern_meta(const char *version, const cJSON *client_info, const cJSON *client_capabilities)
{
	cJSON *meta = cJSON_CreateObject();

	cJSON_AddStringToObject(meta, MCP_META_PROTOCOL_VERSION, version);
	if (client_info)
		cJSON_AddItemToObject(meta, MCP_META_CLIENT_INFO, cJSON_Duplicate(client_info, 1));
	cJSON_AddItemToObject(meta, MCP_META_CLIENT_CAPABILITIES,
			      client_capabilities ? cJSON_Duplicate(client_capabilities, 1) : cJSON_CreateObject());
	return meta;
}

/* Keys match case-sensitively, as everywhere in MCP: cJSON_HasObjectItem does not, and the item leaked. */
static void replace(cJSON *obj, const char *key, cJSON *item)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
	else
		cJSON_AddItemToObject(obj, key, item);
}

void mcp_inject_meta(cJSON *request, const char *version, const cJSON *client_info,
		     const cJSON *client_capabilities)
{
	cJSON *params = cJSON_GetObjectItemCaseSensitive(request, "params");
	cJSON *meta, *fresh, *it;

	if (!cJSON_IsObject(params)) {
		params = cJSON_CreateObject();
		replace(request, "params", params);
	}
	meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
	if (!cJSON_IsObject(meta)) {
		meta = cJSON_CreateObject();
		replace(params, "_meta", meta);
	}
	fresh = mcp_modern_meta(version, client_info, client_capabilities);
	while ((it = fresh->child)) {
		char key[64];

		/* cJSON frees the item's own key while it replaces: pass a copy. */
		snprintf(key, sizeof(key), "%s", it->string);
		cJSON_DetachItemViaPointer(fresh, it);
		replace(meta, key, it);
	}
	cJSON_Delete(fresh);
}

/* Copy obj[key] into out[as] when present. */
static void copy(cJSON *out, const char *as, const cJSON *obj, const char *key)
{
	const cJSON *v = get(obj, key);

	if (v)
		cJSON_AddItemToObject(out, as, cJSON_Duplicate(v, 1));
}

cJSON *mcp_discover_from_initialize(const cJSON *init_result)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *caps = get(init_result, "capabilities");
	cJSON *versions, *meta;

	cJSON_AddStringToObject(r, "resultType", "complete");
	versions = cJSON_AddArrayToObject(r, "supportedVersions");
	cJSON_AddItemToArray(versions, cJSON_CreateString(MCP_VERSION_MODERN));
	cJSON_AddItemToObject(r, "capabilities", cJSON_IsObject(caps) ? cJSON_Duplicate(caps, 1) : cJSON_CreateObject());
	if (cJSON_IsString(get(init_result, "instructions")))	/* a string in both eras: a client may trust it */
		copy(r, "instructions", init_result, "instructions");
	if (get(init_result, "serverInfo")) {
		meta = cJSON_AddObjectToObject(r, "_meta");
		copy(meta, MCP_META_SERVER_INFO, init_result, "serverInfo");
	}
	return r;
}

cJSON *mcp_initialize_from_discover(const cJSON *discover_result, const char *asked_version)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *caps = get(discover_result, "capabilities");
	const cJSON *info = get(get(discover_result, "_meta"), MCP_META_SERVER_INFO);

	cJSON_AddStringToObject(r, "protocolVersion",
				mcp_version_legacy(asked_version) ? asked_version : MCP_PROTOCOL_LATEST);
	cJSON_AddItemToObject(r, "capabilities", cJSON_IsObject(caps) ? cJSON_Duplicate(caps, 1) : cJSON_CreateObject());
	if (cJSON_IsObject(info)) {
		cJSON_AddItemToObject(r, "serverInfo", cJSON_Duplicate(info, 1));
	} else {
		cJSON *unknown = cJSON_AddObjectToObject(r, "serverInfo");

		cJSON_AddStringToObject(unknown, "name", "unknown");
		cJSON_AddStringToObject(unknown, "version", "unknown");
	}
	if (cJSON_IsString(get(discover_result, "instructions")))
		copy(r, "instructions", discover_result, "instructions");
	return r;
}

cJSON *mcp_unsupported_version_data(const char *asked)
{
	cJSON *data = cJSON_CreateObject();
	cJSON *supported = cJSON_AddArrayToObject(data, "supported");

	cJSON_AddItemToArray(supported, cJSON_CreateString(MCP_VERSION_MODERN));
	for (size_t i = 0; i < sizeof(legacy_versions) / sizeof(*legacy_versions); i++)
		cJSON_AddItemToArray(supported, cJSON_CreateString(legacy_versions[i]));
	cJSON_AddStringToObject(data, "requested", asked ? asked : "");
	return data;
}

cJSON *mcp_client_capabilities(void)
{
	cJSON *caps = cJSON_CreateObject();
	cJSON *elicitation;

	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "roots"), "listChanged", true);
	cJSON_AddObjectToObject(caps, "sampling");
	elicitation = cJSON_AddObjectToObject(caps, "elicitation");
	cJSON_AddObjectToObject(elicitation, "form");
	cJSON_AddObjectToObject(elicitation, "url");
	return caps;
}
