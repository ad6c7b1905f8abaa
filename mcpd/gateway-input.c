/* What an HTTP client sends the gateway: see gateway-input.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway-input.h"

bool gateway_origin_allowed(const char *origin, char *const *allowed, size_t nallowed)
{
	static const char *const local[] = { "http://localhost", "http://127.0.0.1", "http://[::1]",
					     "https://localhost", "https://127.0.0.1", "https://[::1]" };

	if (!origin)
		return true;
	for (size_t i = 0; i < nallowed; i++)
		if (strcmp(origin, allowed[i]) == 0)
			return true;
	if (nallowed > 0)
		return false;
	for (size_t i = 0; i < sizeof(local) / sizeof(*local); i++) {
		size_t n = strlen(local[i]);

		if (strncmp(origin, local[i], n) == 0 && (origin[n] == '\0' || origin[n] == ':'))
			return true;
	}
	return false;
}

int gateway_content_length(const char *value, uint64_t *ret_len)
{
	uint64_t n = 0;

	if (!value || !*value)
		return -EINVAL;
	for (const char *p = value; *p; p++) {
		uint64_t digit = (uint64_t)(*p - '0');

		if (*p < '0' || *p > '9' || n > (UINT64_MAX - digit) / 10)
			return -EINVAL;
		n = n * 10 + digit;
	}
	*ret_len = n;
	return 0;
}

const char *gateway_bearer(const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	return authorization + 7;
}

int gateway_body_parse(const char *body, size_t len, cJSON **ret_msg, enum jsonrpc_kind *ret_kind)
{
	cJSON *msg = body && len ? cJSON_ParseWithLength(body, len) : NULL;

	if (!msg || !cJSON_IsObject(msg)) {
		cJSON_Delete(msg);
		return -EINVAL;
	}
	*ret_msg = msg;
	*ret_kind = jsonrpc_classify(msg);
	return 0;
}

bool gateway_is_initialize(const cJSON *msg)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));

	return m && strcmp(m, "initialize") == 0 && jsonrpc_classify(msg) == JSONRPC_REQUEST;
}
