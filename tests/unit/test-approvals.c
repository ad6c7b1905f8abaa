/* Unit tests of what an approver sees of a held call's arguments: redaction of secrets, the bound, UTF-8 cuts. */
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

#include "approvals-preview.h"

static void preview_of(const char *json, char *buf, size_t size)
{
	cJSON *args = json ? cJSON_Parse(json) : NULL;

	assert_true(!json || args);
	approvals_preview(args, buf, size);
	cJSON_Delete(args);
}

static void test_secret_keys(void **state)
{
	(void)state;
	assert_true(approvals_secret_key("password"));
	assert_true(approvals_secret_key("PASSWORD"));
	assert_true(approvals_secret_key("api_key"));
	assert_true(approvals_secret_key("accessToken"));
	assert_true(approvals_secret_key("Authorization"));
	assert_true(approvals_secret_key("client_secret"));
	assert_true(approvals_secret_key("Cookie"));
	assert_false(approvals_secret_key("to"));
	assert_false(approvals_secret_key("subject"));
	assert_false(approvals_secret_key(""));
}

static void test_redacted(void **state)
{
	char buf[APPROVALS_PREVIEW_MAX + 1];

	(void)state;
	preview_of("{\"to\":\"a@b.c\",\"password\":\"hunter2\"}", buf, sizeof(buf));
	assert_string_equal(buf, "{\"to\":\"a@b.c\",\"password\":\"***\"}");
	/* At any depth, in arrays too; a secret key's object value goes whole. */
	preview_of("{\"smtp\":{\"user\":\"u\",\"Token\":\"t0k\"},\"list\":[{\"api_key\":1}],\"cookie\":{\"a\":\"b\"}}", buf,
		   sizeof(buf));
	assert_string_equal(buf, "{\"smtp\":{\"user\":\"u\",\"Token\":\"***\"},\"list\":[{\"api_key\":\"***\"}],"
			    "\"cookie\":\"***\"}");
	assert_null(strstr(buf, "t0k"));
	/* Duplicate keys: each one. */
	preview_of("{\"password\":\"a\",\"password\":\"b\"}", buf, sizeof(buf));
	assert_string_equal(buf, "{\"password\":\"***\",\"password\":\"***\"}");
}

static void test_empty(void **state)
{
	char buf[APPROVALS_PREVIEW_MAX + 1];

	(void)state;
	preview_of(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "{}");
	preview_of("{}", buf, sizeof(buf));
	assert_string_equal(buf, "{}");
}

static void test_bounded(void **state)
{
	char buf[APPROVALS_PREVIEW_MAX + 1], json[4096];

	(void)state;
	snprintf(json, sizeof(json), "{\"body\":\"%0*d\",\"password\":\"hunter2\"}", 1000, 7);
	preview_of(json, buf, sizeof(buf));
	assert_int_equal(strlen(buf), APPROVALS_PREVIEW_MAX);
	assert_memory_equal(buf + APPROVALS_PREVIEW_MAX - 3, "...", 3);
	assert_null(strstr(buf, "hunter2"));
	/* A smaller buffer bounds it too. */
	preview_of(json, buf, 20);
	assert_int_equal(strlen(buf), 19);
}

/* A cut never splits a UTF-8 sequence. */
static void test_utf8_cut(void **state)
{
	char buf[APPROVALS_PREVIEW_MAX + 1], json[2048];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"a\":\"x");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "\xc3\xa9");
	snprintf(json + n, sizeof(json) - n, "\"}");
	for (size_t size = 150; size <= sizeof(buf); size++) {
		size_t len, k;

		preview_of(json, buf, size);
		len = strlen(buf);
		assert_true(len <= size - 1);
		assert_memory_equal(buf + len - 3, "...", 3);
		/* Before "...": "{"a":"x" then whole 2-byte sequences. */
		k = len - 3 - strlen("{\"a\":\"x");
		assert_int_equal(k % 2, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_keys),
		cmocka_unit_test(test_redacted),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_utf8_cut),
	};

	return cmocka_run_group_tests_name("approvals", tests, NULL, NULL);
}
