/*
 * libFuzzer target: what an HTTP client sends the gateway (mcpd/gateway-input.c).
 * The input's first byte picks the header checks' flavour; the rest is both a
 * header value (up to the first NUL) and a POSTed body, classified as the
 * gateway does (one message or a batch), its modern headers checked against
 * itself, with the error and cancel messages it would build from its id.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway-input.h"
#include "jsonrpc.h"
#include "mcp-era.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *allowed[] = { "https://app.example.com", "http://127.0.0.1:9310" };
	char *value;
	uint64_t len;
	enum jsonrpc_kind kind;
	cJSON *msg;

	if (size == 0)
		return 0;
	value = malloc(size);
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	(void)gateway_origin_allowed(value, allowed, data[0] & 1 ? 2 : 0);
	if (gateway_content_length(value, &len) == 0 && strspn(value, "0123456789") != strlen(value))
		abort();
	(void)gateway_bearer(value);
	(void)gateway_accepts_sse(value);
	(void)gateway_post_era(value, NULL);
	{
		char *name;
		size_t n;

		if (gateway_header_decode(value, &name, &n) == 0)
			free(name);
	}
	free(value);
	if (gateway_batch_parse((const char *)data + 1, size - 1, &msg) == 0)
		cJSON_Delete(msg);

	if (gateway_body_parse((const char *)data + 1, size - 1, &msg, &kind) == 0) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
		cJSON *err, *params, *cancel;
		char *text;

		char message[300];
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
		const cJSON *mparams = cJSON_GetObjectItemCaseSensitive(msg, "params");
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mparams, "name"));

		(void)gateway_is_initialize(msg);
		(void)gateway_post_era(data[0] & 2 ? "2026-07-28" : NULL, msg);
		(void)gateway_check_modern(msg, mcp_request_version(msg), m, name, message, sizeof(message));
		(void)gateway_check_modern(msg, data[0] & 4 ? "2026-07-28" : NULL, m, name, message, sizeof(message));
		if (kind == JSONRPC_REQUEST) {
			err = jsonrpc_error_new(id, -32001, "timed out", NULL);
			params = cJSON_CreateObject();
			cJSON_AddItemToObject(params, "requestId", cJSON_Duplicate(id, 1));
			cancel = jsonrpc_notification_new("notifications/cancelled", params);
			text = cJSON_PrintUnformatted(err);
			free(text);
			text = cJSON_PrintUnformatted(cancel);
			free(text);
			cJSON_Delete(err);
			cJSON_Delete(cancel);
		}
		cJSON_Delete(msg);
	}
	return 0;
}
