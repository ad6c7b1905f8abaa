/*
 * Unit tests of relay-policy.c on sessions of its own (relay.c's accessors
 * are stubbed here): what an agent's requests get refused, what its list
 * answers keep, the refusals in /metrics. Each case is one request or one
 * answer of one session.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "metrics.h"
#include "relay.h"
#include "relay-internal.h"
#include "relay-policy.h"
#include "server.h"

struct session {
	struct server *s;
	const char *agent;
	int code;		/* of the last error answered, 0 when none */
	char message[600];
};

struct server *relay_session_server(const struct session *sess) { return sess->s; }
const char *relay_session_agent(const struct session *sess) { return sess->agent; }

bool relay_session_error(struct session *sess, const cJSON *id, int code, const char *message)
{
	(void)id;
	sess->code = code;
	snprintf(sess->message, sizeof(sess->message), "%s", message);
	return true;
}

static struct daemon d;
static struct server files, crm;

static void load(const char *agents)
{
	struct manifest_errors errs = { 0 };
	char yaml[2048];

	manifest_free(d.manifest);
	snprintf(yaml, sizeof(yaml), "version: 1\nservers:\n  files: { command: [x] }\n  crm: { command: [x] }\n%s",
		 agents);
	assert_int_equal(manifest_parse_buffer("m.yaml", yaml, strlen(yaml), 0, &d.manifest, &errs), 0);
	manifest_errors_clear(&errs);
}

static int setup(void **state)
{
	(void)state;
	d.loop = ev_default_loop(0);
	files.d = crm.d = &d;
	files.conf.name = "files";
	crm.conf.name = "crm";
	load("agents:\n  reader: { tools: [files/read_*] }\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	manifest_free(d.manifest);
	return 0;
}

/* The request's fate: true when refused (and the session answered). */
static bool refused(struct session *sess, const char *json)
{
	cJSON *req = cJSON_Parse(json);
	cJSON *id = cJSON_CreateNumber(1);
	bool r;

	assert_non_null(req);
	sess->code = 0;
	r = relay_policy_refuses(sess, req, id);
	assert_int_equal(r, sess->code != 0);
	cJSON_Delete(req);
	cJSON_Delete(id);
	return r;
}

/* The answer to method after the filter, unformatted. */
static char *filtered(struct session *sess, const char *method, const char *json)
{
	cJSON *response = cJSON_Parse(json);
	char *text;

	assert_non_null(response);
	relay_policy_filter(sess, method, response);
	text = cJSON_PrintUnformatted(response);
	cJSON_Delete(response);
	return text;
}

#define CALL(tool) "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" tool "\"}}"
#define REQ(method) "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" method "\",\"params\":{\"name\":\"p\",\"uri\":\"u\"}}"

static void test_tools(void **state)
{
	struct session reader = { .s = &files, .agent = "reader" };
	char *text;

	(void)state;
	assert_false(refused(&reader, CALL("read_file")));
	assert_true(refused(&reader, CALL("write_file")));
	assert_int_equal(reader.code, MCPD_ERR_POLICY);
	assert_string_equal(reader.message, "agent \"reader\" may not call files/write_file (not in agents.reader.tools)");
	text = filtered(&reader, "tools/list", "{\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\"},"
			"{\"name\":\"write_file\"},{\"name\":\"read_dir\"},{}],\"nextCursor\":\"c\"}}");
	assert_string_equal(text, "{\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\"},{\"name\":\"read_dir\"}],"
			    "\"nextCursor\":\"c\"}}");
	free(text);
	/* An error answer, or another method's, is left as it is. */
	text = filtered(&reader, "tools/list", "{\"id\":1,\"error\":{\"code\":-1,\"message\":\"m\"}}");
	assert_string_equal(text, "{\"id\":1,\"error\":{\"code\":-1,\"message\":\"m\"}}");
	free(text);
}

static void test_server_level(void **state)
{
	struct session on_files = { .s = &files, .agent = "reader" };
	struct session on_crm = { .s = &crm, .agent = "reader" };
	static const char *const passing[] = { REQ("initialize"), REQ("ping"), REQ("server/discover"), REQ("tools/list"),
					       REQ("prompts/list"), REQ("resources/list"), REQ("resources/templates/list") };
	char *text;

	(void)state;
	/* The prompts and resources of a server whose tools it may call: open. */
	assert_false(refused(&on_files, REQ("prompts/get")));
	assert_false(refused(&on_files, REQ("resources/read")));
	text = filtered(&on_files, "prompts/list", "{\"result\":{\"prompts\":[{\"name\":\"p\"}]}}");
	assert_string_equal(text, "{\"result\":{\"prompts\":[{\"name\":\"p\"}]}}");
	free(text);
	/* Of a server none of its globs names: closed. */
	assert_true(refused(&on_crm, REQ("prompts/get")));
	assert_string_equal(on_crm.message, "agent \"reader\" may not use server \"crm\" (not in agents.reader.tools: "
			    "no glob names the server)");
	assert_true(refused(&on_crm, REQ("resources/read")));
	assert_true(refused(&on_crm, REQ("resources/subscribe")));
	assert_true(refused(&on_crm, REQ("completion/complete")));
	assert_true(refused(&on_crm, CALL("read_file")));
	for (size_t i = 0; i < sizeof(passing) / sizeof(passing[0]); i++)
		assert_false(refused(&on_crm, passing[i]));
	text = filtered(&on_crm, "prompts/list", "{\"result\":{\"prompts\":[{\"name\":\"p\"}],\"nextCursor\":\"c\"}}");
	assert_string_equal(text, "{\"result\":{\"prompts\":[]}}");
	free(text);
	text = filtered(&on_crm, "resources/list", "{\"result\":{\"resources\":[{\"uri\":\"u\"}]}}");
	assert_string_equal(text, "{\"result\":{\"resources\":[]}}");
	free(text);
	text = filtered(&on_crm, "resources/templates/list", "{\"result\":{\"resourceTemplates\":[{\"uriTemplate\":\"u\"}]}}");
	assert_string_equal(text, "{\"result\":{\"resourceTemplates\":[]}}");
	free(text);
	text = filtered(&on_crm, "tools/list", "{\"result\":{\"tools\":[{\"name\":\"read_file\"}]}}");
	assert_string_equal(text, "{\"result\":{\"tools\":[]}}");
	free(text);
}

static void test_owner_and_strangers(void **state)
{
	struct session owner = { .s = &crm, .agent = NULL };
	struct session stranger = { .s = &files, .agent = "stranger" };
	char *text;

	(void)state;
	assert_false(refused(&owner, CALL("anything")));
	assert_false(refused(&owner, REQ("prompts/get")));
	text = filtered(&owner, "tools/list", "{\"result\":{\"tools\":[{\"name\":\"x\"}]}}");
	assert_string_equal(text, "{\"result\":{\"tools\":[{\"name\":\"x\"}]}}");
	free(text);
	assert_true(refused(&stranger, CALL("read_file")));
	assert_string_equal(stranger.message, "agent \"stranger\" may not call files/read_file (agents: does not list "
			    "agent \"stranger\")");
}

/* Without agents:, nothing is refused nor filtered, whoever asks. */
static void test_no_agents(void **state)
{
	struct session stranger = { .s = &crm, .agent = "stranger" };
	char *text;

	(void)state;
	load("");
	assert_false(refused(&stranger, CALL("write_file")));
	assert_false(refused(&stranger, REQ("prompts/get")));
	text = filtered(&stranger, "prompts/list", "{\"result\":{\"prompts\":[{\"name\":\"p\"}]}}");
	assert_string_equal(text, "{\"result\":{\"prompts\":[{\"name\":\"p\"}]}}");
	free(text);
	load("agents:\n  reader: { tools: [files/read_*] }\n");
}

/* Counted by agents: names; the others together as "other", whatever their names. */
static void test_metrics(void **state)
{
	struct metrics_buf b = { 0 };

	(void)state;
	metrics_reserve(&b, 1);
	relay_policy_metrics(&d, &b);
	b.data[b.len] = '\0';
	assert_non_null(strstr(b.data, "mcpd_policy_refusals_total{agent=\"reader\"} 6\n"));
	assert_non_null(strstr(b.data, "mcpd_policy_refusals_total{agent=\"other\"} 1\n"));
	assert_null(strstr(b.data, "stranger"));
	free(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_server_level),
		cmocka_unit_test(test_owner_and_strangers),
		cmocka_unit_test(test_no_agents),
		cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
