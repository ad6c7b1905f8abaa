/*
 * The manifest's agents: which servers and tools each agent may use. Pure
 * functions of the manifest (no daemon state), so that unit tests link them.
 * An agent is a tokens_file name or a JWT's agent claim; NULL is the owner
 * (local mcpctl without --agent, or a gateway without authentication), who
 * may use everything. Without agents: in the manifest, everyone may.
 */
#ifndef MCPD_AGENTS_H
#define MCPD_AGENTS_H

#include <stdbool.h>

struct manifest;
struct agent_conf;


/* The agent's entry, NULL when the manifest names no such agent. */
const struct agent_conf *agents_find(const struct manifest *m, const char *agent);

/* May the agent call this tool of this server (a "server/tool" glob matches)? */
bool agents_allows_tool(const struct manifest *m, const char *agent, const char *server, const char *tool);

/* May the agent use the server at all (some glob can match one of its tools)? */
bool agents_allows_server(const struct manifest *m, const char *agent, const char *server);

/* Does the server part of a "server/tool" glob (before its first '/') match server? */
bool agents_glob_matches_server(const char *glob, const char *server);

#endif
