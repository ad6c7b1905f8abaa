/*
 * MCP protocol eras. Legacy (2024-11-05 to 2025-11-25): an initialize
 * handshake fixes the version and the client's capabilities for the life of
 * the connection. Modern (2026-07-28): no handshake, server/discover, and
 * every request carries its version, client info and capabilities in _meta.
 * The constants, the tests on versions and errors, and the conversions between
 * a DiscoverResult and an InitializeResult that let mcpd bridge the two.
 */
#ifndef MCPD_MCP_ERA_H
#define MCPD_MCP_ERA_H
#include <cjson/cJSON.h>
#include <stdbool.h>

/* The modern version mcpd speaks; the newest and oldest legacy ones. */
#define MCP_VERSION_MODERN	"2026-07-28"
#define MCP_PROTOCOL_LATEST	"2025-11-25"
#define MCP_PROTOCOL_OLDEST	"2024-11-05"

/* _meta keys of the modern era. */
#define MCP_META_PROTOCOL_VERSION	"io.modelcontextprotocol/protocolVersion"
#define MCP_META_CLIENT_INFO		"io.modelcontextprotocol/clientInfo"
#define MCP_META_CLIENT_CAPABILITIES	"io.modelcontextprotocol/clientCapabilities"
#define MCP_META_LOG_LEVEL		"io.modelcontextprotocol/logLevel"
#define MCP_META_SUBSCRIPTION_ID	"io.modelcontextprotocol/subscriptionId"
#define MCP_META_SERVER_INFO		"io.modelcontextprotocol/serverInfo"

/* Errors the 2026-07-28 specification defines (its reserved range, -32020 to -32099). */
#define MCP_ERR_HEADER_MISMATCH		-32020
#define MCP_ERR_MISSING_CAPABILITY	-32021
#define MCP_ERR_UNSUPPORTED_VERSION	-32022

/*
 * mcpd's own errors, answered on a server's behalf: outside the JSON-RPC
 * reserved range (-32768 to -32000), as the specification asks of new codes.
 */
#define MCPD_ERR_UNAVAILABLE	-31000	/* the server cannot take the request now: not running, busy, gone */
#define MCPD_ERR_TIMEOUT	-31001	/* no answer within the gateway's request_timeout */
#define MCPD_ERR_NOT_BRIDGED	-31002	/* the two peers' eras cannot express this message */
#define MCPD_ERR_POLICY		-31003	/* the client's agent may not (agents: in the manifest) */
#define MCPD_ERR_DENIED		-31004	/* a held call was denied, expired, or withdrawn (approval:) */

enum mcp_era {
	MCP_ERA_UNKNOWN,	/* not probed yet */
	MCP_ERA_LEGACY,		/* initialize handshake */
	MCP_ERA_MODERN,		/* server/discover, _meta per request */
};

/* "legacy", "modern" or "unknown". */
const char *mcp_era_name(enum mcp_era era);

/* A legacy version mcpd speaks (2024-11-05 .. 2025-11-25). */
bool mcp_version_legacy(const char *version);
/* A modern version mcpd speaks (2026-07-28). */
bool mcp_version_modern(const char *version);

/* The _meta protocol version of a request (a modern request), or NULL. */
const char *mcp_request_version(const cJSON *msg);

/*
 * An error object a modern peer sent on purpose (-32020 to -32099, the
 * specification's range): evidence of the modern era, never a reason to fall
 * back to the legacy one.
 */
bool mcp_error_is_modern(const cJSON *error);

/* The first version of a JSON array of versions (supportedVersions, data.supported) that mcpd speaks as legacy, or NULL. */
const char *mcp_versions_first_legacy(const cJSON *list);
/* The same for the modern era. */
const char *mcp_versions_first_modern(const cJSON *list);

/* The first version of an UnsupportedProtocolVersionError's data.supported that mcpd speaks, or NULL. */
const char *mcp_error_supported_modern(const cJSON *error);

/*
 * The _meta of a modern request: version, client info and capabilities (each
 * duplicated; NULL info is left out, NULL capabilities become {}).
 */
cJSON *mcp_modern_meta(const char *version, const cJSON *client_info, const cJSON *client_capabilities);

/*
 * Put the modern _meta keys into a request's params (created when absent),
 * replacing those already there. The request is changed in place.
 */
void mcp_inject_meta(cJSON *request, const char *version, const cJSON *client_info,
		     const cJSON *client_capabilities);

/* A DiscoverResult for modern clients of a legacy server, from its InitializeResult. */
cJSON *mcp_discover_from_initialize(const cJSON *init_result);

/*
 * An InitializeResult for a legacy client of a modern server, from its
 * DiscoverResult: the version is the client's when mcpd speaks it, else the
 * newest legacy one.
 */
cJSON *mcp_initialize_from_discover(const cJSON *discover_result, const char *asked_version);

/* An UnsupportedProtocolVersionError's data: {"supported": [...], "requested": asked}. */
cJSON *mcp_unsupported_version_data(const char *asked);

/*
 * The capabilities mcpd declares to a server as its client, in initialize and
 * in the modern _meta: those it routes to its own clients (roots, sampling,
 * elicitation). A new object each call.
 */
cJSON *mcp_client_capabilities(void);

#endif
