/* JSON-RPC 2.0 helpers: see jsonrpc.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "xmalloc.h"

/* Beyond this a double no longer holds every integer: ids there could collide. */
#define JSONRPC_MAX_SAFE_INT 9007199254740991.0

/* cJSON fails only when out of memory: abort, as xmalloc does. */
static void __attribute__((noreturn)) oom(void)
{
	fputs("fatal: out of memory building a JSON-RPC message\n", stderr);
	abort();
}

static cJSON *need(cJSON *item)
{
	if (!item)
		oom();
	return item;
}

static void add(cJSON *obj, const char *key, cJSON *item)
{
	if (!cJSON_AddItemToObject(obj, key, need(item)))
		oom();
}

static const cJSON *member(const cJSON *msg, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(msg, key);
}

static bool id_valid(const cJSON *id)
{
	return cJSON_IsString(id) || cJSON_IsNumber(id);
}

enum jsonrpc_kind jsonrpc_classify(const cJSON *msg)
{
	const cJSON *method, *id, *result, *error;
	const char *version;

	if (!cJSON_IsObject(msg))
		return JSONRPC_INVALID;
	version = cJSON_GetStringValue(member(msg, "jsonrpc"));
	if (!version || strcmp(version, "2.0") != 0)
		return JSONRPC_INVALID;
	method = member(msg, "method");
	id = member(msg, "id");
	result = member(msg, "result");
	error = member(msg, "error");
	if (method) {
		if (!cJSON_GetStringValue(method) || result || error)
			return JSONRPC_INVALID;
		if (!id)
			return JSONRPC_NOTIFICATION;
		return id_valid(id) ? JSONRPC_REQUEST : JSONRPC_INVALID;
	}
	if (!id || (result != NULL) == (error != NULL))
		return JSONRPC_INVALID;
	if (error)
		/* A null id answers a request whose id could not be read. */
		return cJSON_IsObject(error) && (id_valid(id) || cJSON_IsNull(id)) ? JSONRPC_RESPONSE : JSONRPC_INVALID;
	return id_valid(id) ? JSONRPC_RESPONSE : JSONRPC_INVALID;
}

static cJSON *message_new(const cJSON *id)
{
	cJSON *msg = need(cJSON_CreateObject());

	add(msg, "jsonrpc", cJSON_CreateString("2.0"));
	if (id)
		add(msg, "id", cJSON_Duplicate(id, true));
	return msg;
}

/* A request and a notification differ by the id alone. */
static cJSON *call_new(const cJSON *id, const char *method, cJSON *params)
{
	cJSON *msg;

	assert(method);
	msg = message_new(id);
	add(msg, "method", cJSON_CreateString(method));
	if (params)
		add(msg, "params", params);
	return msg;
}

cJSON *jsonrpc_request_new(const cJSON *id, const char *method, cJSON *params)
{
	assert(id);
	return call_new(id, method, params);
}

cJSON *jsonrpc_notification_new(const char *method, cJSON *params)
{
	return call_new(NULL, method, params);
}

cJSON *jsonrpc_result_new(const cJSON *id, cJSON *result)
{
	cJSON *msg;

	assert(id);
	msg = message_new(id);
	add(msg, "result", result ? result : cJSON_CreateNull());
	return msg;
}

cJSON *jsonrpc_error_new(const cJSON *id, int code, const char *message, cJSON *data)
{
	cJSON *msg = message_new(NULL);
	cJSON *error = need(cJSON_CreateObject());

	add(msg, "id", id ? cJSON_Duplicate(id, true) : cJSON_CreateNull());
	add(error, "code", cJSON_CreateNumber(code));
	add(error, "message", cJSON_CreateString(message ? message : ""));
	if (data)
		add(error, "data", data);
	add(msg, "error", error);
	return msg;
}

char *jsonrpc_serialize(const cJSON *msg, size_t *ret_len)
{
	char *text = cJSON_PrintUnformatted(msg);
	size_t len;
	char *line;

	if (!text) {
		if (!msg) {
			*ret_len = 0;
			return NULL;
		}
		oom();
	}
	len = strlen(text);
	line = xmalloc(len + 2);
	memcpy(line, text, len);
	cJSON_free(text);
	/* Only a cJSON_Raw item can hold a raw CR or LF; outside strings they are whitespace. */
	for (char *p = line; (p = memchr(p, '\n', (size_t)(line + len - p))) != NULL; p++)
		*p = ' ';
	for (char *p = line; (p = memchr(p, '\r', (size_t)(line + len - p))) != NULL; p++)
		*p = ' ';
	line[len] = '\n';
	line[len + 1] = '\0';
	*ret_len = len + 1;
	return line;
}

cJSON *jsonrpc_parse(const char *line, size_t len, int *ret_code)
{
	const char *end = NULL;
	cJSON *msg;

	*ret_code = JSONRPC_PARSE_ERROR;
	/* JSON text holds no NUL: one would end cJSON's view of the line early. */
	if (len == 0 || memchr(line, '\0', len))
		return NULL;
	msg = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (!msg)
		return NULL;
	for (; end < line + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			cJSON_Delete(msg);
			return NULL;
		}
	}
	if (!cJSON_IsObject(msg)) {
		cJSON_Delete(msg);
		*ret_code = JSONRPC_INVALID_REQUEST;
		return NULL;
	}
	*ret_code = 0;
	return msg;
}

int jsonrpc_id_to_int64(const cJSON *id, int64_t *ret)
{
	double v;

	if (!cJSON_IsNumber(id))
		return -EINVAL;
	v = id->valuedouble;
	if (v != v)
		return -EINVAL;
	if (v < -JSONRPC_MAX_SAFE_INT || v > JSONRPC_MAX_SAFE_INT)
		return -ERANGE;
	if ((double)(int64_t)v != v)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}
