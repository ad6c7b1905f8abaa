/* Unit tests of common/strutil.c: edit distance, suggestions, name validation. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "strutil.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- str_distance */

static void expect_distance(const char *a, const char *b, size_t limit, size_t want)
{
	size_t d = str_distance(a, b, limit);

	if (d != want) {
		print_error("str_distance(\"%s\", \"%s\", %zu) = %zu, want %zu\n", a, b, limit, d, want);
		fail();
	}
}

static void test_distance_exact(void **state)
{
	(void)state;
	expect_distance("", "", 0, 0);
	expect_distance("", "", 2, 0);
	expect_distance("status", "status", 0, 0);
	expect_distance("a", "b", 5, 1);
	expect_distance("comand", "command", 2, 1);
	expect_distance("command", "comand", 2, 1);
	expect_distance("stauts", "status", 2, 2);
	/* Levenshtein: a transposition is two edits. */
	expect_distance("ab", "ba", 5, 2);
	expect_distance("kitten", "sitting", 5, 3);
	expect_distance("sitting", "kitten", 5, 3);
	expect_distance("flaw", "lawn", 5, 2);
	expect_distance("", "abc", 5, 3);
	expect_distance("abc", "", 5, 3);
	expect_distance("abc", "xyz", 3, 3);
}

/* Above the limit the answer is only "more than limit": limit + 1. */
static void test_distance_limit(void **state)
{
	(void)state;
	expect_distance("kitten", "sitting", 2, 3);
	expect_distance("kitten", "sitting", 3, 3);
	expect_distance("abc", "xyz", 2, 3);
	expect_distance("abc", "xyz", 0, 1);
	/* The lengths alone tell. */
	expect_distance("a", "abcdef", 2, 3);
	expect_distance("abcdef", "", 1, 2);
}

static void test_distance_long(void **state)
{
	char a[64], b[64], c[200], d[200];

	(void)state;
	/* 63 characters is still compared exactly. */
	memset(a, 'x', 63);
	a[63] = '\0';
	memcpy(b, a, sizeof(b));
	b[10] = 'y';
	expect_distance(a, a, 2, 0);
	expect_distance(a, b, 2, 1);

	/* Longer names are never close, and nothing overflows. */
	memset(c, 'p', sizeof(c) - 1);
	c[sizeof(c) - 1] = '\0';
	memset(d, 'q', sizeof(d) - 1);
	d[sizeof(d) - 1] = '\0';
	assert_true(str_distance(c, d, 2) > 2);
	assert_true(str_distance(c, "p", 2) > 2);
	assert_true(str_distance("q", d, 2) > 2);
}

/* -------------------------------------------------------------- str_suggest */

static const char *const commands[] = {
	"status", "start", "stop", "restart", "reload", "logs", "check", "version", "command",
};

static void expect_suggest(const char *word, const char *want)
{
	const char *got = str_suggest(word, commands, N_ELEMS(commands));

	if ((got == NULL) != (want == NULL) || (got != NULL && strcmp(got, want) != 0)) {
		print_error("str_suggest(\"%s\") = %s, want %s\n", word, got ? got : "NULL",
			    want ? want : "NULL");
		fail();
	}
}

static void test_suggest_typos(void **state)
{
	(void)state;
	expect_suggest("comand", "command");
	expect_suggest("commmand", "command");
	expect_suggest("stauts", "status");
	expect_suggest("statsu", "status");
	expect_suggest("relod", "reload");
	expect_suggest("restrat", "restart");
	expect_suggest("verison", "version");
	expect_suggest("chekc", "check");
	expect_suggest("stp", "stop");
	expect_suggest("log", "logs");
}

static void test_suggest_exact(void **state)
{
	(void)state;
	expect_suggest("status", "status");
	expect_suggest("stop", "stop");
}

static void test_suggest_none(void **state)
{
	(void)state;
	expect_suggest("xyz", NULL);
	expect_suggest("", NULL);
	expect_suggest("frobnicate", NULL);
	/* Three edits is never a typo, however long the word. */
	expect_suggest("versionxyz", NULL);
	/* Two edits on a three-letter word is too many. */
	expect_suggest("sxx", NULL);
	assert_null(str_suggest("comand", commands, 0));
}

/* The distance must be below half the word's length (words of odd length). */
static void test_suggest_half_length(void **state)
{
	static const char *const one[] = { "abxye" };
	static const char *const two[] = { "xyc" };

	(void)state;
	assert_string_equal(str_suggest("abcde", one, 1), "abxye");
	assert_null(str_suggest("abc", two, 1));
}

static void test_suggest_closest(void **state)
{
	static const char *const cands[] = { "abcdxx", "abcdex", "abcdef" };

	(void)state;
	assert_string_equal(str_suggest("abcdef", cands, N_ELEMS(cands)), "abcdef");
	assert_string_equal(str_suggest("abcdeff", cands, N_ELEMS(cands)), "abcdef");
	assert_string_equal(str_suggest("abcdxy", cands, 1), "abcdxx");
}

/* -------------------------------------------------------- server_name_valid */

static void test_server_name_valid(void **state)
{
	static const char *const good[] = {
		"a", "0", "echo", "my-server", "my_server", "server2", "9lives", "a-", "a_", "a--b",
	};
	char name[70];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(good); i++)
		if (!server_name_valid(good[i])) {
			print_error("server_name_valid(\"%s\") = false, want true\n", good[i]);
			fail();
		}

	memset(name, 'a', sizeof(name));
	name[63] = '\0';
	assert_true(server_name_valid(name));
	name[63] = 'a';
	name[64] = '\0';
	assert_false(server_name_valid(name));
}

static void test_server_name_invalid(void **state)
{
	static const char *const bad[] = {
		"",	 "-a",	"_a",  "Echo", "eChO", "ECHO", "a.b", "a b", "a/b",
		"a:b",	 " a",	"a ",  "a\n",  "-",    "_",    "a@b", "caf\xc3\xa9", "a\tb",
		"$name", "..",
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		if (server_name_valid(bad[i])) {
			print_error("server_name_valid(\"%s\") = true, want false\n", bad[i]);
			fail();
		}
}

/* ----------------------------------------------------------- env_name_valid */

static void test_env_name_valid(void **state)
{
	static const char *const good[] = {
		"PATH", "HOME", "_", "__", "_X1", "a", "abc_DEF_9", "SEARCH_TOKEN", "X0",
	};
	static const char *const bad[] = {
		"", "1A", "9", "A-B", "A B", "A=B", "A.B", "$A", " A", "A ", "A\n", "\xc3\xa9", "A\xc3\xa9",
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(good); i++)
		if (!env_name_valid(good[i])) {
			print_error("env_name_valid(\"%s\") = false, want true\n", good[i]);
			fail();
		}
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		if (env_name_valid(bad[i])) {
			print_error("env_name_valid(\"%s\") = true, want false\n", bad[i]);
			fail();
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distance_exact),
		cmocka_unit_test(test_distance_limit),
		cmocka_unit_test(test_distance_long),
		cmocka_unit_test(test_suggest_typos),
		cmocka_unit_test(test_suggest_exact),
		cmocka_unit_test(test_suggest_none),
		cmocka_unit_test(test_suggest_half_length),
		cmocka_unit_test(test_suggest_closest),
		cmocka_unit_test(test_server_name_valid),
		cmocka_unit_test(test_server_name_invalid),
		cmocka_unit_test(test_env_name_valid),
	};

	return cmocka_run_group_tests_name("strutil", tests, NULL, NULL);
}
