/*
 * The MCP session with a stdio server over the pipes mcpd owns: the era probe
 * and handshake (server/discover, or initialize), and every message the
 * server writes on stdout.
 * mcpd's own requests use string ids ("mcpd-N"), a space that relayed client
 * traffic (which gets integer ids) can never collide with.
 */
#ifndef MCPD_MCP_STDIO_H
#define MCPD_MCP_STDIO_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "mcp-era.h"

struct server;


enum mcp_request_kind {
	MCP_REQ_INITIALIZE,	/* the legacy handshake */
	MCP_REQ_DISCOVER,	/* the era probe, and the modern handshake */
	MCP_REQ_PING,		/* liveness: ping (legacy), server/discover (modern) */
	MCP_REQ_TOOLS_LIST,
	MCP_REQ_LISTEN,		/* mcpd's own subscriptions/listen (modern) */
	MCP_REQ_CALL,		/* health.call: tools/call (deep-check.c) */
};

/* How long the era probe waits for server/discover before speaking legacy: a third of start_timeout. */
#define MCP_PROBE_FRACTION	3
#define MCP_PROBE_MAX_MS	10000

/* The probe's timeout for this start_timeout, in milliseconds. */
uint64_t mcp_stdio_probe_timeout_ms(uint64_t start_timeout_ms);

/*
 * Send a request of mcpd's own; returns its id, or -1 if it could not be
 * queued. To a modern server (and with server/discover) it carries the _meta:
 * version, mcpd's client info and the capabilities of mcp_client_capabilities().
 */
int64_t mcp_stdio_request(struct server *s, enum mcp_request_kind kind, const char *method, cJSON *params);

/*
 * The process was spawned: probe its era. protocol: auto sends server/discover
 * first (initialize first when the last process spoke legacy), modern and
 * legacy pin one handshake.
 */
void mcp_stdio_begin(struct server *s);

/* The handshake request waiting for its answer ("server/discover", "initialize"), or NULL. */
const char *mcp_stdio_handshake_method(const struct server *s);

/*
 * For the reason of a process that died in the handshake: " during the MCP
 * handshake", or what its death on the era probe means. Call before the reset.
 */
void mcp_stdio_handshake_note(const struct server *s, char *buf, size_t size);

/* One line the server wrote on stdout. */
void mcp_stdio_line(struct server *s, const char *line, size_t len);

/*
 * The process is gone: forget requests in flight and the session; keep
 * era_hint (set to legacy when it died on the era probe).
 */
void mcp_stdio_reset(struct server *s);


#endif
