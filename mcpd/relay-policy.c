/*
 * relay-policy: see relay-policy.h. The policy is looked up in the manifest
 * in force on every request and every answer, never kept: a reload that
 * changes agents: applies to the next one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ev.h>
#include <stdio.h>
#include <string.h>

#include "agents.h"
#include "daemon.h"
#include "jsonrpc.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "relay-internal.h"
#include "relay-policy.h"
#include "server.h"

/* Refusals of one agent: in all (for /metrics), and since the last line logged. */
struct refusals {
	char name[MANIFEST_AGENT_NAME_MAX + 1];
	unsigned long long total;
	unsigned long unlogged;
};

static struct {
	struct refusals agents[POLICY_MAX_LABELS];
	size_t n;
	struct refusals other;		/* agents: does not list them, or past POLICY_MAX_LABELS */
	ev_timer summary_w;
	bool timer_set;
} policy;

/* The counts of agent: a name agents: lists (kept across reloads: counters only grow), else "other". */
static struct refusals *refusals_of(const struct manifest *m, const char *agent)
{
	for (size_t i = 0; i < policy.n; i++)
		if (strcmp(policy.agents[i].name, agent) == 0)
			return &policy.agents[i];
	if (!agents_find(m, agent) || policy.n == POLICY_MAX_LABELS)
		return &policy.other;
	snprintf(policy.agents[policy.n].name, sizeof(policy.agents[policy.n].name), "%s", agent);
	return &policy.agents[policy.n++];
}

static void summarise(struct refusals *r, bool *any)
{
	if (!r->unlogged)
		return;
	*any = true;
	if (r == &policy.other)
		log_notice(NULL, NULL, "policy: %lu more requests of agents that agents: does not list refused in the "
			   "last %.0fs (mcpd_policy_refusals_total{agent=\"other\"} counts them)", r->unlogged,
			   POLICY_SUMMARY_SECONDS);
	else
		log_notice(NULL, NULL, "policy: %lu more requests of agent %s refused in the last %.0fs (agents: in the "
			   "manifest; mcpd_policy_refusals_total counts them)", r->unlogged, r->name, POLICY_SUMMARY_SECONDS);
	r->unlogged = 0;
}

static void on_summary(struct ev_loop *loop, ev_timer *w, int revents)
{
	bool any = false;

	(void)revents;
	for (size_t i = 0; i < policy.n; i++)
		summarise(&policy.agents[i], &any);
	summarise(&policy.other, &any);
	if (!any)
		ev_timer_stop(loop, w);
}

void relay_policy_refused(struct daemon *d, const char *agent, const char *server, const char *text)
{
	struct refusals *r = refusals_of(d->manifest, agent);

	if (!policy.timer_set) {
		snprintf(policy.other.name, sizeof(policy.other.name), "other");
		ev_timer_init(&policy.summary_w, on_summary, POLICY_SUMMARY_SECONDS, POLICY_SUMMARY_SECONDS);
		policy.timer_set = true;
	}
	r->total++;
	if (ev_is_active(&policy.summary_w)) {
		r->unlogged++;
		return;
	}
	/* The first refusal of an interval is logged whole; the rest of it are summarised at its end. */
	log_notice(server, NULL, "policy: refused: %s", text);
	ev_timer_again(d->loop, &policy.summary_w);
}

void relay_policy_metrics(const struct daemon *d, struct metrics_buf *b)
{
	char label[2 * MANIFEST_AGENT_NAME_MAX + 8];

	(void)d;
	metrics_family(b, "mcpd_policy_refusals_total", "counter",
		       "Requests refused by the manifest's agents: (relay error or gateway 403), by agent "
		       "(\"other\": an agent agents: does not list).");
	for (size_t i = 0; i < policy.n; i++)
		metrics_printf(b, "mcpd_policy_refusals_total{agent=\"%s\"} %llu\n",
			       metrics_label(policy.agents[i].name, label, sizeof(label)), policy.agents[i].total);
	metrics_printf(b, "mcpd_policy_refusals_total{agent=\"other\"} %llu\n", policy.other.total);
}

/* Does the session's agent fall under agents:? NULL when no policy applies (no agents:, or the owner). */
static const struct manifest *policy_of(struct session *sess)
{
	const struct manifest *m = relay_session_server(sess)->d->manifest;

	return m->has_agents && relay_session_agent(sess) ? m : NULL;
}

/* The manifest key that would allow it, for the message. */
static void why_not(const struct manifest *m, const char *agent, char *buf, size_t size)
{
	if (agents_find(m, agent))
		snprintf(buf, size, "not in agents.%s.tools", agent);
	else
		snprintf(buf, size, "agents: does not list agent \"%s\"", agent);
}

static void server_refusal(const struct manifest *m, const char *agent, const char *server, char *text, size_t size)
{
	char why[200];

	why_not(m, agent, why, sizeof(why));
	snprintf(text, size, "agent \"%s\" may not use server \"%s\" (%s: no glob names the server)", agent, server,
		 why);
}

static const char *entry_of(const struct server *s, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)strcspn(s->conf.name, "#"), s->conf.name);
	return buf;
}

static bool refuse(struct session *sess, const cJSON *id, const char *text)
{
	struct server *s = relay_session_server(sess);

	relay_policy_refused(s->d, relay_session_agent(sess), s->conf.name, text);
	relay_session_error(sess, id, MCPD_ERR_POLICY, text);
	return true;
}

/* Methods on what a server offers besides tools: any of its tools allowed opens them. */
static bool server_method(const char *method)
{
	static const char *const methods[] = {
		"prompts/get", "resources/read", "resources/subscribe", "resources/unsubscribe", "completion/complete",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i]) == 0)
			return true;
	return false;
}

/*
 * The name or URI that agents: and approval judge must be a string: a naive
 * server that looks tools[name] up in JavaScript reads ["delete_all"] as
 * "delete_all", which no check saw. For every session, the owner's too.
 */
static bool untyped_name(struct session *sess, const cJSON *req, const cJSON *id, const char *method)
{
	const char *field = strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ? "name" :
			    strcmp(method, "resources/read") == 0 || strcmp(method, "resources/subscribe") == 0 ||
			    strcmp(method, "resources/unsubscribe") == 0 ? "uri" : NULL;
	char text[120];

	if (!field || cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(req, "params"),
									 field)))
		return false;
	snprintf(text, sizeof(text), "invalid params: %s's %s must be a string", method, field);
	relay_session_error(sess, id, JSONRPC_INVALID_PARAMS, text);
	return true;
}

bool relay_policy_refuses(struct session *sess, const cJSON *req, const cJSON *id)
{
	const struct manifest *m = policy_of(sess);
	const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
	const char *agent = relay_session_agent(sess);
	char entry[80];
	/* agents: globs name the manifest's entry: a replica's is its server's name (replicas: N). */
	const char *server = entry_of(relay_session_server(sess), entry, sizeof(entry));
	char text[600], why[200];

	if (method && untyped_name(sess, req, id, method))
		return true;
	if (!m || !method)
		return false;
	if (strcmp(method, "tools/call") == 0) {
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
		const char *tool = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "name"));

		if (!tool) {
			if (agents_allows_server(m, agent, server))
				return false;	/* the server's own error tells what is wrong with it */
			tool = "?";
		} else if (agents_allows_tool(m, agent, server, tool)) {
			return false;
		}
		why_not(m, agent, why, sizeof(why));
		snprintf(text, sizeof(text), "agent \"%s\" may not call %s/%.128s (%s)", agent, server, tool, why);
		return refuse(sess, id, text);
	}
	if (server_method(method) && !agents_allows_server(m, agent, server)) {
		server_refusal(m, agent, server, text, sizeof(text));
		return refuse(sess, id, text);
	}
	return false;
}

bool relay_policy_server_refused(struct daemon *d, const char *agent, const char *server, char *text, size_t size)
{
	const struct manifest *m = d->manifest;

	if (!agent || !m->has_agents || agents_allows_server(m, agent, server))
		return false;
	server_refusal(m, agent, server, text, size);
	relay_policy_refused(d, agent, server, text);
	return true;
}

/* tools/list: only the tools the agent may call. */
static void filter_tools(const struct manifest *m, const char *agent, const char *server, cJSON *result)
{
	cJSON *tools = cJSON_GetObjectItemCaseSensitive(result, "tools");
	cJSON *t = tools ? tools->child : NULL;

	while (t) {
		cJSON *next = t->next;
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));

		if (!name || !agents_allows_tool(m, agent, server, name))
			cJSON_Delete(cJSON_DetachItemViaPointer(tools, t));
		t = next;
	}
}

void relay_policy_filter(struct session *sess, const char *method, cJSON *response)
{
	static const struct {
		const char *method, *key;
	} server_lists[] = {
		{ "prompts/list", "prompts" },
		{ "resources/list", "resources" },
		{ "resources/templates/list", "resourceTemplates" },
	};
	const struct manifest *m = policy_of(sess);
	const char *agent = relay_session_agent(sess);
	char entry[80];
	/* agents: globs name the manifest's entry: a replica's is its server's name (replicas: N). */
	const char *server = entry_of(relay_session_server(sess), entry, sizeof(entry));
	cJSON *result = cJSON_GetObjectItemCaseSensitive(response, "result");

	if (!m || !method || !cJSON_IsObject(result))
		return;
	if (strcmp(method, "tools/list") == 0) {
		filter_tools(m, agent, server, result);
		return;
	}
	for (size_t i = 0; i < sizeof(server_lists) / sizeof(server_lists[0]); i++) {
		if (strcmp(method, server_lists[i].method) != 0 || agents_allows_server(m, agent, server))
			continue;
		/* Nothing of a server the agent may not use; no cursor to more of it. */
		cJSON_ReplaceItemInObjectCaseSensitive(result, server_lists[i].key, cJSON_CreateArray());
		cJSON_DeleteItemFromObjectCaseSensitive(result, "nextCursor");
	}
}
