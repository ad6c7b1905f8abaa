/*
 * agents: see agents.h. A glob "server/tool" is split at its first '/': the
 * server part is matched against the server's name, the rest against the
 * tool's (fnmatch, no flags), so "crm/..." never reaches a server "crmx".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <fnmatch.h>
#include <stddef.h>
#include <string.h>

#include "agents.h"
#include "manifest.h"

const struct agent_conf *agents_find(const struct manifest *m, const char *agent)
{
	if (!m || !m->has_agents || !agent)
		return NULL;
	for (size_t i = 0; i < m->nagents; i++)
		if (strcmp(m->agents[i].name, agent) == 0)
			return &m->agents[i];
	return NULL;
}

/* Does the server part of glob (before its first '/') match server? */
static bool server_part_matches(const char *glob, const char *server)
{
	const char *slash = strchr(glob, '/');
	char part[MANIFEST_GLOB_MAX + 1];
	size_t n;

	if (!slash)
		return false;
	n = (size_t)(slash - glob);
	if (n > MANIFEST_GLOB_MAX)
		return false;
	memcpy(part, glob, n);
	part[n] = '\0';
	return fnmatch(part, server, 0) == 0;
}

bool agents_glob_matches_server(const char *glob, const char *server)
{
	return server_part_matches(glob, server);
}

bool agents_allows_tool(const struct manifest *m, const char *agent, const char *server, const char *tool)
{
	const struct agent_conf *a;

	if (!m || !m->has_agents || !agent)
		return true;
	if (!(a = agents_find(m, agent)) || !server || !tool)
		return false;
	for (size_t i = 0; i < a->ntools; i++)
		if (server_part_matches(a->tools[i], server) && fnmatch(strchr(a->tools[i], '/') + 1, tool, 0) == 0)
			return true;
	return false;
}

bool agents_allows_server(const struct manifest *m, const char *agent, const char *server)
{
	const struct agent_conf *a;

	if (!m || !m->has_agents || !agent)
		return true;
	if (!(a = agents_find(m, agent)) || !server)
		return false;
	for (size_t i = 0; i < a->ntools; i++)
		if (server_part_matches(a->tools[i], server))
			return true;
	return false;
}
