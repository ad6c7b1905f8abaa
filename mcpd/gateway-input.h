/*
 * What an HTTP client sends the gateway, checked without libmicrohttpd: the
 * header values it decides on and the body it relays. Pure functions, so
 * that they can be unit-tested and fuzzed (tests/fuzz/fuzz-gateway.c).
 */
#ifndef MCPD_GATEWAY_INPUT_H
#define MCPD_GATEWAY_INPUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonrpc.h"
#include "mcp-era.h"

/*
 * Browsers send Origin: only a listed origin may call, or, when none is
 * listed, a local one (http or https, localhost, 127.0.0.1 or [::1], any
 * port). No Origin header (NULL) is not a browser and passes.
 */
bool gateway_origin_allowed(const char *origin, char *const *allowed, size_t nallowed);

/* A Content-Length value: decimal digits only. 0 and the length, or -EINVAL. */
int gateway_content_length(const char *value, uint64_t *ret_len);

/* The token of "Bearer TOKEN" (scheme in any case), or NULL. */
const char *gateway_bearer(const char *authorization);

/*
 * A POSTed body must be one JSON-RPC message (an object). 0 with the message
 * (free it) and its kind, or -EINVAL.
 */
int gateway_body_parse(const char *body, size_t len, cJSON **ret_msg, enum jsonrpc_kind *ret_kind);

/* Whether msg is a request with method "initialize". */
bool gateway_is_initialize(const cJSON *msg);

/* A 2025-03-26 batch holds at most this many messages. */
#define GATEWAY_MAX_BATCH	100

/*
 * A POSTed JSON-RPC batch (2025-03-26): an array of 1 to GATEWAY_MAX_BATCH
 * valid requests, notifications or responses, none an initialize. 0 with the
 * array (free it), -EINVAL for anything else (-E2BIG: too many messages).
 */
int gateway_batch_parse(const char *body, size_t len, cJSON **ret_batch);

/*
 * The era of a POST: MCP_ERA_MODERN for an MCP-Protocol-Version header of
 * 2026-07-28, or a body whose _meta carries a protocol version (whatever a
 * legacy header says: the checks then tell the mismatch); MCP_ERA_LEGACY for
 * a legacy version header or none, on a body without one;
 * MCP_ERA_UNKNOWN for a version header mcpd does not speak. msg may be NULL
 * or an array.
 */
enum mcp_era gateway_post_era(const char *version_header, const cJSON *msg);

/*
 * An Mcp-Name header value, decoded: a value in the sentinel form
 * "=?base64?...?=" is Base64 (RFC 4648, padded) of the name; any other is the
 * name itself, printable ASCII only. 0 with the name (free it) and its
 * length, or -EINVAL.
 */
int gateway_header_decode(const char *value, char **ret, size_t *ret_len);

/*
 * A modern POST's headers against its body (one message): MCP-Protocol-Version
 * equals the body's _meta protocol version, Mcp-Method the method, Mcp-Name
 * (tools/call, prompts/get: params.name; resources/read: params.uri) the name.
 * 0 when they agree; else MCP_ERR_HEADER_MISMATCH, or
 * MCP_ERR_UNSUPPORTED_VERSION when they agree on a version mcpd does not
 * speak, with a message naming the header in message.
 */
/*
 * A header value as it may be echoed in an error message: at most size - 1
 * bytes, each outside printable ASCII (control bytes, invalid UTF-8) made '?'.
 * NULL gives "".
 */
void gateway_printable(const char *value, char *out, size_t size);

int gateway_check_modern(const cJSON *msg, const char *version, const char *method, const char *name,
			 char *message, size_t size);

/* Whether an Accept header value lists text/event-stream. */
bool gateway_accepts_sse(const char *accept);

#endif
