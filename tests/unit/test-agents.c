/* Unit tests of the agents: policy (mcpd/agents.c): globs, no agents:, unlisted agents, the owner, servers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agents.h"
#include "manifest.h"

static struct manifest *load(const char *yaml)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;

	if (manifest_parse_buffer("/etc/mcpd/m.yaml", yaml, strlen(yaml), 0, &m, &errs) < 0 || errs.n) {
		for (size_t i = 0; i < errs.n; i++)
			print_error("%s\n", errs.items[i].text);
	}
	manifest_errors_clear(&errs);
	assert_non_null(m);
	return m;
}

static const char servers[] =
	"version: 1\n"
	"servers:\n"
	"  crm: { command: [/bin/cat] }\n"
	"  crmx: { command: [/bin/cat] }\n"
	"  files: { command: [/bin/cat] }\n"
	"  kb: { command: [/bin/cat] }\n"
	"  email: { command: [/bin/cat] }\n";

static struct manifest *with_agents(void)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml), "%s"
		 "agents:\n"
		 "  support:\n"
		 "    tools: [\"crm/*\", \"kb/search\", \"email/send_*\"]\n"
		 "    rate_limit: 50/min\n"
		 "  reader:\n"
		 "    tools: files/read_file\n"
		 "  searcher:\n"
		 "    tools: [\"*/search\"]\n", servers);
	return load(yaml);
}

static void test_globs(void **state)
{
	struct manifest *m = with_agents();

	(void)state;
	assert_true(agents_allows_tool(m, "support", "crm", "get_customer"));
	assert_true(agents_allows_tool(m, "support", "kb", "search"));
	assert_false(agents_allows_tool(m, "support", "kb", "search2"));
	assert_true(agents_allows_tool(m, "support", "email", "send_email"));
	assert_false(agents_allows_tool(m, "support", "email", "delete_email"));
	/* "crm/..." is the server crm, not every server whose name starts with crm */
	assert_false(agents_allows_tool(m, "support", "crmx", "get_customer"));
	assert_true(agents_allows_tool(m, "reader", "files", "read_file"));
	assert_false(agents_allows_tool(m, "reader", "files", "write_file"));
	assert_false(agents_allows_tool(m, "reader", "crm", "read_file"));
	assert_true(agents_allows_tool(m, "searcher", "kb", "search"));
	assert_true(agents_allows_tool(m, "searcher", "files", "search"));
	assert_false(agents_allows_tool(m, "searcher", "files", "read_file"));
	assert_non_null(agents_find(m, "support"));
	assert_true(agents_find(m, "support")->has_rate_limit);
	assert_int_equal(agents_find(m, "support")->rate_limit, 50);
	assert_int_equal(agents_find(m, "support")->rate_period_ms, 60000);
	assert_false(agents_find(m, "reader")->has_rate_limit);
	manifest_free(m);
}

static void test_no_agents(void **state)
{
	struct manifest *m = load(servers);

	(void)state;
	assert_false(m->has_agents);
	assert_null(agents_find(m, "support"));
	assert_true(agents_allows_tool(m, "support", "crm", "anything"));
	assert_true(agents_allows_tool(m, "stranger", "files", "write_file"));
	assert_true(agents_allows_server(m, "stranger", "files"));
	assert_true(agents_allows_tool(m, NULL, "files", "write_file"));
	manifest_free(m);
}

static void test_unlisted_agent(void **state)
{
	struct manifest *m = with_agents();

	(void)state;
	assert_null(agents_find(m, "stranger"));
	assert_false(agents_allows_tool(m, "stranger", "files", "read_file"));
	assert_false(agents_allows_server(m, "stranger", "files"));
	assert_false(agents_allows_server(m, "stranger", "crm"));
	manifest_free(m);
}

static void test_owner(void **state)
{
	struct manifest *m = with_agents();

	(void)state;
	assert_null(agents_find(m, NULL));
	assert_true(agents_allows_tool(m, NULL, "files", "write_file"));
	assert_true(agents_allows_tool(m, NULL, "crmx", "x"));
	assert_true(agents_allows_server(m, NULL, "email"));
	manifest_free(m);
}

static void test_servers(void **state)
{
	struct manifest *m = with_agents();

	(void)state;
	assert_true(agents_allows_server(m, "support", "crm"));
	assert_true(agents_allows_server(m, "support", "kb"));
	assert_true(agents_allows_server(m, "support", "email"));
	assert_false(agents_allows_server(m, "support", "files"));
	assert_false(agents_allows_server(m, "support", "crmx"));
	assert_true(agents_allows_server(m, "reader", "files"));
	assert_false(agents_allows_server(m, "reader", "kb"));
	assert_true(agents_allows_server(m, "searcher", "crmx"));
	assert_true(agents_glob_matches_server("c*/x", "crm"));
	assert_false(agents_glob_matches_server("crm", "crm"));
	manifest_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_globs),
		cmocka_unit_test(test_no_agents),
		cmocka_unit_test(test_unlisted_agent),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_servers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
