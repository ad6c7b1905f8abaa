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

#endif
