/* JSON-RPC 2.0 helpers: see jsonrpc.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <assert.h>
#include <errno.h>
#include <limits.h>
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

/* A raw id is never parsed from outside: it is a client's id as written (jsonrpc_raw_id). */
static bool id_valid(const cJSON *id)
{
	return cJSON_IsString(id) || cJSON_IsNumber(id) || cJSON_IsRaw(id);
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

/* Why the last jsonrpc_parse() failed, when JSONRPC_INVALID_REQUEST says too little (one loop, one thread). */
static char parse_error[160];

static int by_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * A member name that an object of item (at any depth) holds twice, or NULL.
 * cJSON keeps both and finds the first; most servers (JavaScript, Python)
 * keep the last: the policy and the server would read different requests.
 */
static const char *duplicate_member(const cJSON *item)
{
	const char *dup = NULL;
	const char **names;
	size_t n = 0, i = 0;
	const cJSON *c;

	for (c = item->child; c; c = c->next) {
		if ((dup = c->child ? duplicate_member(c) : NULL))
			return dup;
		n++;
	}
	if (!cJSON_IsObject(item) || n < 2)
		return NULL;
	if (n <= 8) {
		/* Most objects of a message are this small: pairs, without a malloc and a sort (the same answer). */
		for (c = item->child; c; c = c->next)
			for (const cJSON *d = c->next; d; d = d->next)
				if (strcmp(c->string ? c->string : "", d->string ? d->string : "") == 0 &&
				    (!dup || strcmp(c->string ? c->string : "", dup) < 0))
					dup = c->string ? c->string : "";
		return dup;
	}
	names = xmalloc(n * sizeof(*names));
	for (c = item->child; c; c = c->next)
		names[i++] = c->string ? c->string : "";
	qsort(names, n, sizeof(*names), by_name);
	for (i = 1; i < n && !dup; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			dup = names[i];
	free(names);
	return dup;
}

cJSON *jsonrpc_parse(const char *line, size_t len, int *ret_code)
{
	const char *end = NULL;
	cJSON *msg;

	*ret_code = JSONRPC_PARSE_ERROR;
	parse_error[0] = '\0';
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

cJSON *jsonrpc_parse_client(const char *line, size_t len, int *ret_code)
{
	cJSON *msg = jsonrpc_parse(line, len, ret_code);
	const char *dup;

	if (msg && (dup = duplicate_member(msg))) {
		size_t n = (size_t)snprintf(parse_error, sizeof(parse_error), "invalid request: an object names member \"");

		for (const char *p = dup; *p && n < 64 + 40; p++)
			parse_error[n++] = (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"' ? '?' : *p;
		snprintf(parse_error + n, sizeof(parse_error) - n, "\" twice (JSON parsers disagree on which one counts)");
		cJSON_Delete(msg);
		*ret_code = JSONRPC_INVALID_REQUEST;
		return NULL;
	}
	return msg;
}

const char *jsonrpc_parse_error_text(int code)
{
	if (code == JSONRPC_INVALID_REQUEST && parse_error[0])
		return parse_error;
	return code == JSONRPC_INVALID_REQUEST ? "invalid request: a JSON-RPC message is a JSON object"
					       : "parse error: not JSON";
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

int jsonrpc_error_code(const cJSON *error)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");

	/* A peer's 1e300 or a missing code (NaN) must not reach a cast to int: that is undefined. */
	if (!cJSON_IsNumber(code) || !(code->valuedouble >= INT_MIN && code->valuedouble <= INT_MAX))
		return 0;
	return (int)code->valuedouble;
}

/* ---- ids as sent ----------------------------------------------------------- */

static size_t skip_ws(const char *t, size_t i, size_t len)
{
	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'))
		i++;
	return i;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string at t[i] ('"'): the index after its closing quote, or 0 when it is cut or invalid. */
static size_t scan_string(const char *t, size_t i, size_t len)
{
	for (i++; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c != '\\')
			continue;
		if (++i >= len)
			return 0;
		if (t[i] == 'u') {
			if (len - i < 5 || !is_hex(t[i + 1]) || !is_hex(t[i + 2]) || !is_hex(t[i + 3]) || !is_hex(t[i + 4]))
				return 0;
			i += 4;
		} else if (!strchr("\"\\/bfnrt", t[i]) || t[i] == '\0') {
			return 0;
		}
	}
	return 0;
}

/* A JSON number at t[i], by the grammar: the index after it, or 0. Cut short counts as invalid. */
static size_t scan_number(const char *t, size_t i, size_t len)
{
	size_t d;

	if (i < len && t[i] == '-')
		i++;
	if (i < len && t[i] == '0')
		i++;
	else if (i < len && is_digit(t[i]) && t[i] != '0')
		while (i < len && is_digit(t[i]))
			i++;
	else
		return 0;
	if (i < len && t[i] == '.') {
		for (d = ++i; i < len && is_digit(t[i]); i++)
			;
		if (i == d)
			return 0;
	}
	if (i < len && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < len && (t[i] == '+' || t[i] == '-'))
			i++;
		for (d = i; i < len && is_digit(t[i]); i++)
			;
		if (i == d)
			return 0;
	}
	/* The number must be seen to end ("12" may be the start of "123"), and end well ("01"). */
	return i < len && t[i] != '\0' && strchr(" \t\r\n,}]", t[i]) ? i : 0;
}

/* Any value at t[i]: the index after it, or 0. Nesting is counted, not checked: only the id is trusted. */
static size_t skip_value(const char *t, size_t i, size_t len)
{
	size_t depth = 0;

	if (i >= len)
		return 0;
	if (t[i] == '"')
		return scan_string(t, i, len);
	if (t[i] != '{' && t[i] != '[') {
		/* A number or a literal: up to the next delimiter. */
		size_t start = i;

		while (i < len && !strchr(",}] \t\r\n", t[i]) && t[i] != '\0')
			i++;
		return i < len && i > start ? i : 0;
	}
	for (; i < len; i++) {
		if (t[i] == '"') {
			i = scan_string(t, i, len);
			if (i == 0)
				return 0;
			i--;
		} else if (t[i] == '{' || t[i] == '[') {
			depth++;
		} else if (t[i] == '}' || t[i] == ']') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return 0;
}

int jsonrpc_scan_id(const char *text, size_t len, size_t *ret_off, size_t *ret_len)
{
	size_t i = skip_ws(text, 0, len);

	if (i >= len || text[i] != '{')
		return -ENOENT;
	for (i++;;) {
		size_t key, key_end, v, v_end;

		i = skip_ws(text, i, len);
		if (i >= len || text[i] != '"')
			return -ENOENT;	/* the end of the object, or not JSON */
		key = i;
		key_end = scan_string(text, i, len);
		if (key_end == 0)
			return -ENOENT;
		i = skip_ws(text, key_end, len);
		if (i >= len || text[i] != ':')
			return -ENOENT;
		v = skip_ws(text, i + 1, len);
		if (key_end - key == 4 && memcmp(text + key, "\"id\"", 4) == 0) {
			if (v < len && text[v] == '"')
				v_end = scan_string(text, v, len);
			else
				v_end = scan_number(text, v, len);
			if (v_end == 0)
				return -ENOENT;
			*ret_off = v;
			*ret_len = v_end - v;
			return 0;
		}
		v_end = skip_value(text, v, len);
		if (v_end == 0)
			return -ENOENT;
		i = skip_ws(text, v_end, len);
		if (i >= len || text[i] != ',')
			return -ENOENT;
		i++;
	}
}

/* The same id? Numbers by value: cJSON_Compare finds no infinity equal to itself (1e999 parses as one). */
static bool same_id(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b) && a->valuedouble == b->valuedouble)
		return true;
	return cJSON_Compare(a, b, true);
}

cJSON *jsonrpc_raw_id(const char *text, size_t len, const cJSON *parsed)
{
	size_t off, n;
	char *raw;
	cJSON *value, *item;
	bool same;

	if (jsonrpc_scan_id(text, len, &off, &n) < 0)
		return parsed ? need(cJSON_Duplicate(parsed, true)) : NULL;
	raw = xstrndup(text + off, n);
	value = cJSON_ParseWithLength(raw, n);
	/* The scanner and cJSON must agree on which member is the id (escaped keys, duplicates). */
	same = value && (cJSON_IsString(value) || cJSON_IsNumber(value)) && (!parsed || same_id(value, parsed));
	cJSON_Delete(value);
	if (!same) {
		free(raw);
		return parsed ? need(cJSON_Duplicate(parsed, true)) : NULL;
	}
	item = need(cJSON_CreateRaw(raw));
	free(raw);
	return item;
}

cJSON *jsonrpc_answer_id(const char *text, size_t len, const cJSON *parsed, bool raw)
{
	cJSON *id = jsonrpc_raw_id(text, len, parsed);
	cJSON *value;

	if (!id || raw || !cJSON_IsRaw(id))
		return id;
	value = cJSON_Parse(id->valuestring);
	cJSON_Delete(id);
	return value;
}

char *jsonrpc_cancelled_line(const cJSON *id, const char *why)
{
	cJSON *params = cJSON_CreateObject();
	cJSON *msg;
	char *text;

	cJSON_AddItemToObject(params, "requestId", cJSON_Duplicate(id, 1));
	cJSON_AddStringToObject(params, "reason", why);
	msg = jsonrpc_notification_new("notifications/cancelled", params);
	text = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	return text;
}
