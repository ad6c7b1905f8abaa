/*
 * JSON-RPC 2.0 over newline-delimited JSON, with cJSON: the one framing layer
 * of everything that speaks it (MCP stdio, the control socket, mcpctl).
 */
#ifndef MCPD_JSONRPC_H
#define MCPD_JSONRPC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jsonrpc_kind {
	JSONRPC_INVALID,
	JSONRPC_REQUEST,
	JSONRPC_NOTIFICATION,
	JSONRPC_RESPONSE,
};

#define JSONRPC_PARSE_ERROR	 -32700
#define JSONRPC_INVALID_REQUEST	 -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS	 -32602
#define JSONRPC_INTERNAL_ERROR	 -32603

/*
 * What a parsed message is. Every kind needs "jsonrpc": "2.0". A request has a
 * string method and an id that is a string or a number; a notification has a
 * method and no id; a response has no method, an id (null only with an error)
 * and exactly one of result and error (an object). Anything else is INVALID.
 */
enum jsonrpc_kind jsonrpc_classify(const cJSON *msg);

/* Builders: id is duplicated (NULL gives a null id in an error); params, result and data are owned. */
cJSON *jsonrpc_request_new(const cJSON *id, const char *method, cJSON *params);
cJSON *jsonrpc_notification_new(const char *method, cJSON *params);
cJSON *jsonrpc_result_new(const cJSON *id, cJSON *result);
cJSON *jsonrpc_error_new(const cJSON *id, int code, const char *message, cJSON *data);

/*
 * One line of the wire format: compact JSON and a '\n', in a malloc'd buffer
 * (NUL-terminated too); its length goes in *ret_len. Strings never hold a raw
 * newline (cJSON escapes them), so the line is never split on the way.
 */
char *jsonrpc_serialize(const cJSON *msg, size_t *ret_len);

/*
 * Parse one line (its '\n' already removed). Returns a JSON object, which
 * jsonrpc_classify() then judges, or NULL with *ret_code set:
 * JSONRPC_PARSE_ERROR for text that is not one JSON value, JSONRPC_INVALID_REQUEST
 * for JSON that is not an object (batches are not supported).
 */
cJSON *jsonrpc_parse(const char *line, size_t len, int *ret_code);

/*
 * jsonrpc_parse() for a client's message, which mcpd checks (agents:, approval)
 * before a server reads it: also JSONRPC_INVALID_REQUEST when an object names a
 * member twice (cJSON reads the first, most servers the last, so the check and
 * the server would read different requests).
 */
cJSON *jsonrpc_parse_client(const char *line, size_t len, int *ret_code);

/* The message for jsonrpc_parse()'s last failure, with code: not JSON, not an object, a member twice. */
const char *jsonrpc_parse_error_text(int code);

/*
 * An id that is an integer, as mcpd's own ids are: 0, -EINVAL when it is not a
 * number or not whole, -ERANGE beyond ±(2^53 - 1), where doubles stop being exact.
 */
int jsonrpc_id_to_int64(const cJSON *id, int64_t *ret);

/* The "code" of an error object as an int: 0 when it is missing, not a number or not an int. */
int jsonrpc_error_code(const cJSON *error);

/*
 * Where the top-level "id" member of the JSON object in text[0, len) is, as
 * sent: text may be cut short (the first bytes of a line too long to parse).
 * Returns 0 and the span of its value when that value is a string or a
 * number, strictly valid JSON and whole in the buffer, and every member
 * before it could be skipped; -ENOENT otherwise. The first "id" counts, as in
 * cJSON_GetObjectItem; a key written with escapes is not recognised.
 */
int jsonrpc_scan_id(const char *text, size_t len, size_t *ret_off, size_t *ret_len);

/*
 * The id of a message as its sender wrote it, for a reply: cJSON keeps numbers
 * as doubles, so 9007199254740993 would come back as ...992. Returns a
 * cJSON_Raw item holding the sender's own text when jsonrpc_scan_id() finds
 * it and (parsed not NULL) it denotes the same value as parsed; else a copy of
 * parsed; NULL when parsed is NULL and no id is found.
 */
cJSON *jsonrpc_raw_id(const char *text, size_t len, const cJSON *parsed);

/*
 * The id to answer a client's message with: jsonrpc_raw_id's for a peer that
 * takes ids as written (raw), else the same id as cJSON parses it.
 */
cJSON *jsonrpc_answer_id(const char *text, size_t len, const cJSON *parsed, bool raw);

/*
 * A notifications/cancelled message for request id, as one line of text
 * (malloc'd; NULL when it cannot be made): what a client sends when it no
 * longer wants an answer.
 */
char *jsonrpc_cancelled_line(const cJSON *id, const char *why);

#endif
