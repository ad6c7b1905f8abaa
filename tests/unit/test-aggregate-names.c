/* Unit tests of the aggregate endpoint's names (aggregate-names.c). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aggregate-names.h"

static void test_name_join(void **state)
{
	char *s = agg_name_join("crm", "get_customer");

	(void)state;
	assert_string_equal(s, "crm__get_customer");
	free(s);
}

static void test_name_split(void **state)
{
	char server[64];
	const char *rest = NULL;

	(void)state;
	assert_true(agg_name_split("crm__get_customer", server, sizeof(server), &rest));
	assert_string_equal(server, "crm");
	assert_string_equal(rest, "get_customer");
	/* At the first "__": the tool's own name may hold more. */
	assert_true(agg_name_split("crm__get__all__", server, sizeof(server), &rest));
	assert_string_equal(server, "crm");
	assert_string_equal(rest, "get__all__");
	assert_true(agg_name_split("a___b", server, sizeof(server), &rest));
	assert_string_equal(server, "a");
	assert_string_equal(rest, "_b");
}

static void test_name_split_refused(void **state)
{
	char server[8];
	const char *rest = NULL;

	(void)state;
	assert_false(agg_name_split("get_customer", server, sizeof(server), &rest));
	assert_false(agg_name_split("__tool", server, sizeof(server), &rest));
	assert_false(agg_name_split("crm__", server, sizeof(server), &rest));
	assert_false(agg_name_split("", server, sizeof(server), &rest));
	assert_false(agg_name_split(NULL, server, sizeof(server), &rest));
	/* A server part longer than the buffer is no server name. */
	assert_false(agg_name_split("abcdefgh__x", server, sizeof(server), &rest));
	assert_true(agg_name_split("abcdefg__x", server, sizeof(server), &rest));
}

static void test_uri(void **state)
{
	char server[64];
	const char *rest = NULL;
	char *s = agg_uri_join("files", "file:///srv/a.txt");

	(void)state;
	assert_string_equal(s, "mcpd://files/file:///srv/a.txt");
	assert_true(agg_uri_split(s, server, sizeof(server), &rest));
	assert_string_equal(server, "files");
	assert_string_equal(rest, "file:///srv/a.txt");
	free(s);
	s = agg_uri_join("t", "test://{id}");
	assert_string_equal(s, "mcpd://t/test://{id}");
	free(s);
}

static void test_uri_refused(void **state)
{
	char server[64];
	const char *rest = NULL;

	(void)state;
	assert_false(agg_uri_split("file:///srv/a.txt", server, sizeof(server), &rest));
	assert_false(agg_uri_split("mcpd://files", server, sizeof(server), &rest));
	assert_false(agg_uri_split("mcpd:///x", server, sizeof(server), &rest));
	assert_false(agg_uri_split("mcpd://files/", server, sizeof(server), &rest));
	assert_false(agg_uri_split(NULL, server, sizeof(server), &rest));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_join),
		cmocka_unit_test(test_name_split),
		cmocka_unit_test(test_name_split_refused),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_uri_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
