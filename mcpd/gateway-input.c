/* What an HTTP client sends the gateway: see gateway-input.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
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

int gateway_batch_parse(const char *body, size_t len, cJSON **ret_batch)
{
	cJSON *batch = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *it;
	int n = 0;

	if (!batch || !cJSON_IsArray(batch))
		goto invalid;
	cJSON_ArrayForEach(it, batch) {
		if (++n > GATEWAY_MAX_BATCH) {
			cJSON_Delete(batch);
			return -E2BIG;
		}
		if (jsonrpc_classify(it) == JSONRPC_INVALID || gateway_is_initialize(it))
			goto invalid;
	}
	if (n == 0)
		goto invalid;
	*ret_batch = batch;
	return 0;
invalid:
	cJSON_Delete(batch);
	return -EINVAL;
}

enum mcp_era gateway_post_era(const char *version_header, const cJSON *msg)
{
	bool meta = cJSON_IsObject(msg) && mcp_request_version(msg);

	if (version_header && !mcp_version_modern(version_header) && !mcp_version_legacy(version_header))
		return MCP_ERA_UNKNOWN;
	/* A legacy header on a body with a _meta version: modern, and its check tells the mismatch. */
	return (version_header && mcp_version_modern(version_header)) || meta ? MCP_ERA_MODERN : MCP_ERA_LEGACY;
}

static int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Padded Base64 of n bytes at in: 0 with the bytes (NUL-terminated, free them), or -EINVAL. */
static int base64_decode(const char *in, size_t n, char **ret, size_t *ret_len)
{
	char *out;
	size_t o = 0;

	if (n % 4 != 0)
		return -EINVAL;
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		unsigned pad = 0;

		for (size_t k = 0; k < 4; k++) {
			/* '=' only at the end of the last quantum, and at most two of them. */
			if (in[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = base64_value(in[i + k]);
			if (v[k] < 0 || pad) {
				free(out);
				return -EINVAL;
			}
		}
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (char)((v[2] & 0x3) << 6 | v[3]);
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

#define SENTINEL_OPEN	"=?base64?"
#define SENTINEL_CLOSE	"?="

int gateway_header_decode(const char *value, char **ret, size_t *ret_len)
{
	size_t n = strlen(value), lo = strlen(SENTINEL_OPEN), lc = strlen(SENTINEL_CLOSE);

	if (n >= lo + lc && strncmp(value, SENTINEL_OPEN, lo) == 0 && strcmp(value + n - lc, SENTINEL_CLOSE) == 0)
		return base64_decode(value + lo, n - lo - lc, ret, ret_len);
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return -EINVAL;
	*ret = strdup(value);
	if (!*ret)
		return -ENOMEM;
	*ret_len = n;
	return 0;
}

void gateway_printable(const char *value, char *out, size_t size)
{
	size_t n = 0;

	if (!size)
		return;
	for (const char *p = value ? value : ""; *p && n + 1 < size; p++)
		out[n++] = (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e ? '?' : *p;
	out[n] = '\0';
}

/* The body's value that Mcp-Name mirrors, or NULL when the method has none. */
static const char *name_field(const char *method)
{
	if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
		return "name";
	if (strcmp(method, "resources/read") == 0)
		return "uri";
	return NULL;
}

int gateway_check_modern(const cJSON *msg, const char *version, const char *method, const char *name,
			 char *message, size_t size)
{
	const char *body_version = mcp_request_version(msg);
	const char *body_method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "method"));
	const char *field = body_method ? name_field(body_method) : NULL;
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	const char *body_name = field ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, field)) : NULL;
	bool request = jsonrpc_classify(msg) == JSONRPC_REQUEST;
	char *decoded;
	size_t len;
	bool same;
	/* Header values echoed in an error are printable ASCII: the answer stays valid JSON text. */
	char hv[44], hm[64], hn[64], bv[44], bm[64], bn[64];

	gateway_printable(version, hv, sizeof(hv));
	gateway_printable(method, hm, sizeof(hm));
	gateway_printable(name, hn, sizeof(hn));
	gateway_printable(body_version ? body_version : "(none)", bv, sizeof(bv));
	gateway_printable(body_method ? body_method : "(none)", bm, sizeof(bm));
	gateway_printable(body_name ? body_name : "(none)", bn, sizeof(bn));

	if (!version) {
		snprintf(message, size, "Header mismatch: the MCP-Protocol-Version header is required");
		return MCP_ERR_HEADER_MISMATCH;
	}
	if (request && (!body_version || strcmp(version, body_version) != 0)) {
		snprintf(message, size, "Header mismatch: MCP-Protocol-Version header value '%.40s' does not match "
			 "body value '%.40s' (params._meta[\"" MCP_META_PROTOCOL_VERSION "\"])", hv,
			 bv);
		return MCP_ERR_HEADER_MISMATCH;
	}
	if (!mcp_version_modern(version)) {
		snprintf(message, size, "Unsupported protocol version: %s", hv);
		return MCP_ERR_UNSUPPORTED_VERSION;
	}
	if ((request && !method) || (method && (!body_method || strcmp(method, body_method) != 0))) {
		if (!method)
			snprintf(message, size, "Header mismatch: the Mcp-Method header is required");
		else
			snprintf(message, size, "Header mismatch: Mcp-Method header value '%.60s' does not match "
				 "body value '%s'", hm, bm);
		return MCP_ERR_HEADER_MISMATCH;
	}
	if (!request || !field || (!name && !body_name))
		return 0;
	if (!name) {
		snprintf(message, size, "Header mismatch: the Mcp-Name header is required for %s", body_method);
		return MCP_ERR_HEADER_MISMATCH;
	}
	if (gateway_header_decode(name, &decoded, &len) < 0) {
		snprintf(message, size, "Header mismatch: the Mcp-Name header value is malformed (printable ASCII, "
			 "or =?base64?...?=)");
		return MCP_ERR_HEADER_MISMATCH;
	}
	same = body_name && strlen(body_name) == len && memcmp(body_name, decoded, len) == 0;
	free(decoded);
	if (!same) {
		snprintf(message, size, "Header mismatch: Mcp-Name header value '%.60s' does not match body value "
			 "'%s' (params.%s)", hn, bn, field);
		return MCP_ERR_HEADER_MISMATCH;
	}
	return 0;
}

bool gateway_accepts_sse(const char *accept)
{
	return accept && strcasestr(accept, "text/event-stream");
}
