/* Unit tests of mcpd/tokens.c: the gateway's tokens_file parser. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokens.h"

static int parse(const char *text, struct token_entry **t, size_t *n, char **error)
{
	*t = NULL;
	*n = 0;
	*error = NULL;
	return tokens_parse(text, strlen(text), "tok", t, n, error);
}

static void test_valid(void **state)
{
	struct token_entry *t;
	size_t n;
	char *error;

	assert_int_equal(parse("# comment\n\n  agent-a :  0123456789abcdef  \r\nb:fedcba9876543210fedc", &t, &n, &error), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].name, "agent-a");
	assert_string_equal(t[0].secret, "0123456789abcdef");
	assert_string_equal(t[1].name, "b");
	assert_string_equal(t[1].secret, "fedcba9876543210fedc");
	tokens_free(t, n);
}

static void test_empty(void **state)
{
	struct token_entry *t;
	size_t n;
	char *error;

	assert_int_equal(parse("", &t, &n, &error), 0);
	assert_int_equal(n, 0);
	tokens_free(t, n);
	assert_int_equal(parse("# only a comment\n   \n", &t, &n, &error), 0);
	assert_int_equal(n, 0);
	tokens_free(t, n);
}

/* Errors name the line and never echo it: it holds a secret. */
static void expect_error(const char *text, const char *want, const char *secret)
{
	struct token_entry *t;
	size_t n;
	char *error;

	assert_int_equal(parse(text, &t, &n, &error), -EINVAL);
	assert_non_null(error);
	if (!strstr(error, want)) {
		print_error("error \"%s\" does not contain \"%s\"\n", error, want);
		fail();
	}
	if (secret)
		assert_null(strstr(error, secret));
	free(error);
}

static void test_errors(void **state)
{
	expect_error("a: 0123456789abcdef\nsecretsecretsecretsecret\n", "tok:2: expected \"name: token\"",
		     "secretsecret");
	expect_error("a: short\n", "tok:1: a name and a token of at least 16", "short");
	expect_error(": 0123456789abcdef0\n", "tok:1: a name", "0123456789abcdef0");
}

static void test_nul_and_size(void **state)
{
	static const char nul[] = "a: 0123456789abcdef\0b: 0123456789abcdef";
	struct token_entry *t = NULL;
	size_t n = 0;
	char *error = NULL;
	char *big = malloc(TOKENS_FILE_MAX + 2);

	assert_int_equal(tokens_parse(nul, sizeof(nul) - 1, "tok", &t, &n, &error), -EINVAL);
	assert_non_null(strstr(error, "NUL"));
	free(error);
	memset(big, '#', TOKENS_FILE_MAX + 1);
	big[TOKENS_FILE_MAX + 1] = '\0';
	assert_int_equal(tokens_parse(big, TOKENS_FILE_MAX + 1, "tok", &t, &n, &error), -EINVAL);
	assert_non_null(strstr(error, "64 KiB"));
	free(error);
	free(big);
}

static void test_too_many(void **state)
{
	size_t size = (TOKENS_MAX + 1) * 32, o = 0;
	char *text = malloc(size);
	struct token_entry *t;
	size_t n;
	char *error;

	for (int i = 0; i <= TOKENS_MAX; i++)
		o += (size_t)snprintf(text + o, size - o, "t%d: 0123456789abcdef\n", i);
	assert_true(o < TOKENS_FILE_MAX);
	assert_int_equal(parse(text, &t, &n, &error), -EINVAL);
	assert_non_null(strstr(error, "more than 1024 tokens"));
	free(error);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_size),
		cmocka_unit_test(test_too_many),
	};

	return cmocka_run_group_tests_name("tokens", tests, NULL, NULL);
}
