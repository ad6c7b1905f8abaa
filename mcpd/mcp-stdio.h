/*
 * The MCP session with a stdio server over the pipes mcpd owns: the
 * initialize handshake, and every message the server writes on stdout.
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
	MCP_REQ_INITIALIZE,
	MCP_REQ_PING,
	MCP_REQ_TOOLS_LIST,
};

/* Send a request of mcpd's own; returns its id, or -1 if it could not be queued. */
int64_t mcp_stdio_request(struct server *s, enum mcp_request_kind kind, const char *method, cJSON *params);

/* The process was spawned: send initialize. */
void mcp_stdio_begin(struct server *s);

/* One line the server wrote on stdout. */
void mcp_stdio_line(struct server *s, const char *line, size_t len);

/* The process is gone: forget requests in flight and the session. */
void mcp_stdio_reset(struct server *s);


#endif
