/*
 * Control method `connect`: the connection becomes an MCP client of a stdio
 * server (mcpctl connect NAME), or of the aggregate endpoint over every stdio
 * server without a name (aggregate.c; params servers: a subset). Param agent:
 * the session acts as that agent (its agents: policy applies); without it,
 * as the owner. After the reply, every line is an MCP message.
 *
 * Param "stdio": "passed": the request came with the client's stdin and
 * stdout (SCM_RIGHTS, control.c): after the reply, which says "stdio":
 * "passed" too, mcpd reads and writes them, and mcpctl leaves the data path;
 * the control socket carries only the final line.
 *
 * Param "end": true, without "stdio" (mcpctl's copying relay): when mcpd
 * ends the session, {"end":REASON} follows the MCP messages as the stream's
 * last line, for mcpctl to take out and show.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "control.h"
#include "jsonrpc.h"
#include "relay.h"
#include "replicas.h"
#include "server.h"
#include "strv.h"
#include "xmalloc.h"

static bool sink_send(void *sink, const cJSON *msg)
{
	return ctl_send(sink, msg);
}

static size_t sink_pending(void *sink)
{
	return ctl_pending(sink);
}

static void sink_close(void *sink)
{
	/* The relay closes a session with this much queued only to drop a client that does not read. */
	if (ctl_pending(sink) > RELAY_CLIENT_QUEUE)
		ctl_abort(sink);
	else
		ctl_close(sink);
}

static const struct relay_sink control_sink = {
	.send = sink_send, .pending = sink_pending, .close = sink_close, .raw_ids = true,
};

/* The optional params: agent (a string) and servers (an array of stdio server names, NULL-terminated copy). */
static bool connect_params(struct ctl_client *c, const cJSON *id, const cJSON *params, const char **ret_agent,
			   char ***ret_servers)
{
	const cJSON *agent = cJSON_GetObjectItemCaseSensitive(params, "agent");
	const cJSON *servers = cJSON_GetObjectItemCaseSensitive(params, "servers");
	const cJSON *it;
	size_t n = 0;

	*ret_agent = NULL;
	*ret_servers = NULL;
	if (agent && (!cJSON_IsString(agent) || !*agent->valuestring || strlen(agent->valuestring) > 128)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect's agent must be a name (a string of 1 to 128 bytes)",
			  NULL);
		return false;
	}
	*ret_agent = agent ? agent->valuestring : NULL;
	if (!servers)
		return true;
	if (!cJSON_IsArray(servers) || cJSON_GetArraySize(servers) == 0) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect's servers must be a non-empty array of server names",
			  NULL);
		return false;
	}
	*ret_servers = xcalloc((size_t)cJSON_GetArraySize(servers) + 1, sizeof(char *));
	cJSON_ArrayForEach(it, servers) {
		struct server *s;

		if (!cJSON_IsString(it)) {
			ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect's servers must be server names", NULL);
			strv_free(*ret_servers);
			return false;
		}
		s = ctl_server_named(c, id, it->valuestring);
		if (!s) {
			strv_free(*ret_servers);
			return false;
		}
		if (s->conf.transport != TRANSPORT_STDIO) {
			ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect relays stdio servers; an http server is reached "
				  "at its own URL", NULL);
			strv_free(*ret_servers);
			return false;
		}
		(*ret_servers)[n++] = xstrdup(it->valuestring);
	}
	return true;
}

/* "stdio": "passed" in params: true; false and an error replied when the descriptors do not fit. */
static bool stdio_passed(struct ctl_client *c, const cJSON *id, const cJSON *params, bool *ret)
{
	const cJSON *stdio = cJSON_GetObjectItemCaseSensitive(params, "stdio");
	char buf[200];
	const char *why;

	*ret = false;
	if (!stdio)
		return true;
	if (!cJSON_IsString(stdio) || strcmp(stdio->valuestring, "passed") != 0) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect's stdio must be \"passed\" (or absent)", NULL);
		return false;
	}
	why = ctl_stdio_check(c, buf, sizeof(buf));
	if (why) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, why, NULL);
		return false;
	}
	*ret = true;
	return true;
}

/*
 * Reply r; true when the session may be attached (the client's stdio taken
 * over when passed). A copying client that asked ("end": true) gets the final
 * line too, and the reply says so.
 */
static bool reply(struct ctl_client *c, const cJSON *id, const cJSON *params, cJSON *r, bool passed)
{
	if (passed) {
		cJSON_AddStringToObject(r, "stdio", "passed");
	} else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "end"))) {
		cJSON_AddBoolToObject(r, "end", true);
		ctl_want_end_line(c);
	}
	return ctl_reply(c, id, r) && (!passed || ctl_stdio_take(c));
}

/* Without a name: the aggregate endpoint over every stdio server (or the servers given). */
static void run_aggregate(struct ctl_client *c, const cJSON *id, const cJSON *params, const char *agent, char **servers,
			  bool passed)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddStringToObject(r, "server", "");
	cJSON_AddBoolToObject(r, "aggregate", true);
	if (reply(c, id, params, r, passed))
		ctl_attach(c, aggregate_attach(ctl_daemon(c), &control_sink, c, agent, servers));
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	struct server *server, *picked;
	const char *agent;
	char **servers;
	bool passed;
	cJSON *r;

	if (name && !cJSON_IsString(name)) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect needs {\"name\": SERVER} or no name (every server)",
			  NULL);
		return;
	}
	if (!connect_params(c, id, params, &agent, &servers))
		return;
	if (!name) {
		if (stdio_passed(c, id, params, &passed))
			run_aggregate(c, id, params, agent, servers, passed);
		strv_free(servers);
		return;
	}
	if (servers) {
		strv_free(servers);
		ctl_error(c, id, JSONRPC_INVALID_PARAMS, "connect takes a server name or servers, not both", NULL);
		return;
	}
	server = ctl_server_named(c, id, name->valuestring);
	if (!server)
		return;
	/* One connection is one client session: it goes to the least loaded running replica, for good. */
	picked = replicas_pick(ctl_daemon(c), name->valuestring, NULL);
	if (picked)
		server = picked;	/* else every replica is being removed: the named one, as before */
	if (server->conf.transport != TRANSPORT_STDIO) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS,
			  "connect relays stdio servers; an http server is reached at its own URL", NULL);
		return;
	}
	if (!stdio_passed(c, id, params, &passed))
		return;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "server", server->conf.name);
	cJSON_AddStringToObject(r, "state", server_state_name(server->state));
	if (reply(c, id, params, r, passed))
		ctl_attach(c, relay_attach(server, &control_sink, c, agent));
}

/* A session may write to a server: like start and stop, it needs full access. */
const struct ctl_method ctl_connect = { .name = "connect", .writes = true, .run = run };
