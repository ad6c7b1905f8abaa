/*
 * agents: see agents.h. SCAFFOLD: everything is allowed until the agents
 * work lands.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>

#include "agents.h"
#include "manifest.h"

const struct agent_conf *agents_find(const struct manifest *m, const char *agent)
{
	(void)m;
	(void)agent;
	return NULL;
}

bool agents_allows_tool(const struct manifest *m, const char *agent, const char *server, const char *tool)
{
	(void)m;
	(void)agent;
	(void)server;
	(void)tool;
	return true;
}

bool agents_allows_server(const struct manifest *m, const char *agent, const char *server)
{
	(void)m;
	(void)agent;
	(void)server;
	return true;
}
