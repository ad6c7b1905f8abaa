/*
 * The aggregate MCP endpoint (POST /mcp, mcpctl connect without NAME): one
 * MCP session over every stdio server its agent may use, with namespaced
 * names. SCAFFOLD: see aggregate.c.
 */
#ifndef MCPD_AGGREGATE_H
#define MCPD_AGGREGATE_H

#endif
