/* Unit tests of the JSON-RPC layer: classification, builders, one-line serialization, parsing. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jsonrpc.h"

static enum jsonrpc_kind kind_of(const char *text)
{
	cJSON *msg = cJSON_Parse(text);
	enum jsonrpc_kind k;

	assert_non_null(msg);
	k = jsonrpc_classify(msg);
	cJSON_Delete(msg);
	return k;
}

static void test_classify(void **state)
{
	static const struct {
		const char *text;
		enum jsonrpc_kind kind;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", JSONRPC_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":{}}", JSONRPC_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":-1.5,\"method\":\"x\"}", JSONRPC_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", JSONRPC_NOTIFICATION },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", JSONRPC_RESPONSE },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":null}", JSONRPC_RESPONSE },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,\"message\":\"m\"}}", JSONRPC_RESPONSE },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"m\"}}", JSONRPC_RESPONSE },
		/* invalid */
		{ "[]", JSONRPC_INVALID },
		{ "{}", JSONRPC_INVALID },
		{ "{\"id\":1,\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"method\":null}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"result\":1}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"result\":1}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":1}", JSONRPC_INVALID },
		{ "{\"jsonrpc\":\"2.0\",\"id\":false,\"result\":1}", JSONRPC_INVALID },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (kind_of(cases[i].text) != cases[i].kind) {
			print_error("%s: got %d, want %d\n", cases[i].text, kind_of(cases[i].text), cases[i].kind);
			fail();
		}
	}
	assert_int_equal(jsonrpc_classify(NULL), JSONRPC_INVALID);
}

/* Serialize and compare with the exact expected text. */
static void expect_text(cJSON *msg, const char *want)
{
	size_t len;
	char *text = jsonrpc_serialize(msg, &len);

	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
	cJSON_Delete(msg);
}

static void test_builders(void **state)
{
	cJSON *id = cJSON_CreateNumber(7), *sid = cJSON_CreateString("mcpd-1");
	cJSON *params = cJSON_CreateObject();

	cJSON_AddStringToObject(params, "k", "v");
	expect_text(jsonrpc_request_new(sid, "initialize", params),
		    "{\"jsonrpc\":\"2.0\",\"id\":\"mcpd-1\",\"method\":\"initialize\",\"params\":{\"k\":\"v\"}}\n");
	expect_text(jsonrpc_request_new(id, "ping", NULL), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}\n");
	expect_text(jsonrpc_notification_new("notifications/initialized", NULL),
		    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
	expect_text(jsonrpc_notification_new("log", cJSON_CreateArray()), "{\"jsonrpc\":\"2.0\",\"method\":\"log\",\"params\":[]}\n");
	expect_text(jsonrpc_result_new(id, cJSON_CreateObject()), "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n");
	expect_text(jsonrpc_result_new(sid, NULL), "{\"jsonrpc\":\"2.0\",\"id\":\"mcpd-1\",\"result\":null}\n");
	expect_text(jsonrpc_error_new(NULL, JSONRPC_PARSE_ERROR, "parse error", NULL),
		    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error\"}}\n");
	expect_text(jsonrpc_error_new(id, JSONRPC_METHOD_NOT_FOUND, "no \"x\"", cJSON_CreateString("d")),
		    "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32601,\"message\":\"no \\\"x\\\"\",\"data\":\"d\"}}\n");

	/* Every builder's output classifies as what it is. */
	{
		cJSON *m = jsonrpc_request_new(id, "x", NULL);

		assert_int_equal(jsonrpc_classify(m), JSONRPC_REQUEST);
		cJSON_Delete(m);
		m = jsonrpc_notification_new("x", NULL);
		assert_int_equal(jsonrpc_classify(m), JSONRPC_NOTIFICATION);
		cJSON_Delete(m);
		m = jsonrpc_result_new(id, NULL);
		assert_int_equal(jsonrpc_classify(m), JSONRPC_RESPONSE);
		cJSON_Delete(m);
		m = jsonrpc_error_new(NULL, JSONRPC_INTERNAL_ERROR, "x", NULL);
		assert_int_equal(jsonrpc_classify(m), JSONRPC_RESPONSE);
		cJSON_Delete(m);
	}
	cJSON_Delete(id);
	cJSON_Delete(sid);
}

/* Newlines, CRs, control characters and U+2028 in strings stay escaped: one message, one line. */
static void test_serialize_one_line(void **state)
{
	const char *nasty = "a\nb\rc\td\x01" "e\"f\\g\xe2\x80\xa8h\x7f";
	cJSON *params = cJSON_CreateObject();
	cJSON *msg, *back;
	const cJSON *s;
	size_t len;
	char *text;
	int code;

	cJSON_AddStringToObject(params, nasty, nasty);
	msg = jsonrpc_notification_new("x", params);
	text = jsonrpc_serialize(msg, &len);
	assert_int_equal(len, strlen(text));
	assert_int_equal(text[len - 1], '\n');
	assert_null(memchr(text, '\n', len - 1));
	assert_null(memchr(text, '\r', len));
	back = jsonrpc_parse(text, len - 1, &code);
	assert_non_null(back);
	assert_int_equal(code, 0);
	s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(back, "params"), nasty);
	assert_string_equal(cJSON_GetStringValue(s), nasty);
	cJSON_Delete(back);
	free(text);
	cJSON_Delete(msg);

	/* A raw item is the only way to a raw newline: it becomes a space, still the same JSON. */
	msg = jsonrpc_notification_new("x", cJSON_CreateRaw("{\n\"a\" :\r\n1}"));
	text = jsonrpc_serialize(msg, &len);
	assert_null(memchr(text, '\n', len - 1));
	back = jsonrpc_parse(text, len, &code);
	assert_non_null(back);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(back, "params"), "a")->valueint, 1);
	cJSON_Delete(back);
	free(text);
	cJSON_Delete(msg);

	text = jsonrpc_serialize(NULL, &len);
	assert_null(text);
	assert_int_equal(len, 0);
}

/* Parse from an exact-size heap copy with no NUL after it: ASan catches any read past len. */
static cJSON *parse_exact(const char *s, size_t len, int *code)
{
	char *copy = malloc(len ? len : 1);
	cJSON *msg;

	memcpy(copy, s, len);
	msg = jsonrpc_parse(copy, len, code);
	free(copy);
	return msg;
}

static void expect_parse_error(const char *s, size_t len, int want)
{
	int code = 12345;
	cJSON *msg = parse_exact(s, len, &code);

	if (msg || code != want) {
		print_error("%.*s: got %s, code %d\n", (int)len, s, msg ? "a message" : "NULL", code);
		cJSON_Delete(msg);
		fail();
	}
}

/* A client's message with a member named twice, at any depth: refused, the name in the message. */
static cJSON *parse_client_exact(const char *s, size_t len, int *code)
{
	char *copy = malloc(len ? len : 1);
	cJSON *msg;

	memcpy(copy, s, len);
	msg = jsonrpc_parse_client(copy, len, code);
	free(copy);
	return msg;
}

static void expect_client_refused(const char *s, size_t len)
{
	int code = 12345;
	cJSON *msg = parse_client_exact(s, len, &code);

	if (msg || code != JSONRPC_INVALID_REQUEST) {
		print_error("%.*s: got %s, code %d\n", (int)len, s, msg ? "a message" : "NULL", code);
		cJSON_Delete(msg);
		fail();
	}
}

static void test_parse_duplicate(void **state)
{
	static const char *const bad[] = {
		"{\"method\":\"tools/list\",\"method\":\"tools/call\"}",
		"{\"params\":{\"name\":\"search\",\"arguments\":{},\"name\":\"delete_all\"}}",
		"{\"params\":{\"arguments\":{\"to\":[{\"a\":1,\"b\":2,\"a\":3}]}}}",
		"{\"\":1,\"\":2}",
	};
	const char *fine = "{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}";
	char big[16384];
	size_t n = 0;
	int code;
	cJSON *msg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_client_refused(bad[i], strlen(bad[i]));
		/* A server's message is taken as it is (JSON allows it; mcpd checks nothing a server says). */
		msg = parse_exact(bad[i], strlen(bad[i]), &code);
		assert_non_null(msg);
		cJSON_Delete(msg);
	}
	msg = parse_client_exact(bad[1], strlen(bad[1]), &code);
	assert_null(msg);
	assert_non_null(strstr(jsonrpc_parse_error_text(code), "\"name\" twice"));
	/* The next failure has its own text; the same name in different objects is fine. */
	expect_parse_error("[1]", 3, JSONRPC_INVALID_REQUEST);
	assert_string_equal(jsonrpc_parse_error_text(JSONRPC_INVALID_REQUEST),
			    "invalid request: a JSON-RPC message is a JSON object");
	msg = parse_client_exact(fine, strlen(fine), &code);
	assert_non_null(msg);
	cJSON_Delete(msg);
	/* Many members: sorted, not compared pairwise; the duplicate is the last one. */
	n += (size_t)snprintf(big + n, sizeof(big) - n, "{");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "\"k%d\":%d,", i, i);
	snprintf(big + n, sizeof(big) - n, "\"k999\":0}");
	expect_client_refused(big, strlen(big));
	big[n - 1] = '}';
	msg = parse_client_exact(big, n, &code);
	assert_non_null(msg);
	cJSON_Delete(msg);
	/*
	 * Small objects (up to 8 members) are compared pairwise, larger ones
	 * sorted: either way the message names the smallest of the names given
	 * twice, and an object of 8 or 9 distinct names is fine.
	 */
	{
		static const char *const two_dups[] = {
			"{\"b\":1,\"z\":2,\"b\":3,\"a\":4,\"a\":5}",
			"{\"b\":1,\"z\":2,\"b\":3,\"a\":4,\"a\":5,\"c\":6,\"d\":7,\"e\":8,\"f\":9}",
		};
		static const char *const distinct[] = {
			"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8}",
			"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9}",
		};

		for (size_t i = 0; i < 2; i++) {
			msg = parse_client_exact(two_dups[i], strlen(two_dups[i]), &code);
			assert_null(msg);
			assert_non_null(strstr(jsonrpc_parse_error_text(code), "member \"a\" twice"));
			msg = parse_client_exact(distinct[i], strlen(distinct[i]), &code);
			assert_non_null(msg);
			cJSON_Delete(msg);
		}
	}
}

static void test_parse(void **state)
{
	const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	int code = -1;
	cJSON *msg;

	msg = parse_exact(ok, strlen(ok), &code);
	assert_non_null(msg);
	assert_int_equal(code, 0);
	assert_int_equal(jsonrpc_classify(msg), JSONRPC_REQUEST);
	cJSON_Delete(msg);

	msg = parse_exact(" {\"a\":1} \t\r\n ", 13, &code);	/* whitespace around is fine */
	assert_non_null(msg);
	assert_int_equal(jsonrpc_classify(msg), JSONRPC_INVALID);	/* parsed, then judged */
	cJSON_Delete(msg);

	expect_parse_error("", 0, JSONRPC_PARSE_ERROR);
	expect_parse_error("   ", 3, JSONRPC_PARSE_ERROR);
	expect_parse_error("not json", 8, JSONRPC_PARSE_ERROR);
	expect_parse_error("{\"jsonrpc\":", 11, JSONRPC_PARSE_ERROR);
	expect_parse_error(ok, strlen(ok) - 1, JSONRPC_PARSE_ERROR);	/* cut short: no reading past len */
	expect_parse_error("{}x", 3, JSONRPC_PARSE_ERROR);
	expect_parse_error("{} {}", 5, JSONRPC_PARSE_ERROR);
	expect_parse_error("{\"a\":\"b\0c\"}", 11, JSONRPC_PARSE_ERROR);	/* NUL inside */
	expect_parse_error("{}\0", 3, JSONRPC_PARSE_ERROR);
	expect_parse_error("[]", 2, JSONRPC_INVALID_REQUEST);	/* batches are not supported */
	expect_parse_error("[{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]", 32, JSONRPC_INVALID_REQUEST);
	expect_parse_error("1", 1, JSONRPC_INVALID_REQUEST);
	expect_parse_error("\"s\"", 3, JSONRPC_INVALID_REQUEST);
	expect_parse_error("null", 4, JSONRPC_INVALID_REQUEST);

	/* Deep nesting is refused, not a stack overflow. */
	{
		size_t n = 100000;
		char *deep = malloc(2 * n);

		memset(deep, '[', n);
		memset(deep + n, ']', n);
		expect_parse_error(deep, 2 * n, JSONRPC_PARSE_ERROR);
		free(deep);
	}
}

static void expect_id(const char *json, int want_r, int64_t want)
{
	cJSON *id = cJSON_Parse(json);
	int64_t v = 777;
	int r;

	r = jsonrpc_id_to_int64(id, &v);
	if (r != want_r || (r == 0 && v != want)) {
		print_error("%s: got %d (%lld)\n", json, r, (long long)v);
		fail();
	}
	if (r < 0)
		assert_int_equal(v, 777);	/* untouched on failure */
	cJSON_Delete(id);
}

static void test_id_to_int64(void **state)
{
	expect_id("0", 0, 0);
	expect_id("-0", 0, 0);
	expect_id("42", 0, 42);
	expect_id("-17", 0, -17);
	expect_id("1e3", 0, 1000);
	expect_id("9007199254740991", 0, INT64_C(9007199254740991));
	expect_id("-9007199254740991", 0, -INT64_C(9007199254740991));
	expect_id("9007199254740992", -ERANGE, 0);
	expect_id("-9007199254740993", -ERANGE, 0);
	expect_id("1e300", -ERANGE, 0);
	expect_id("1e400", -ERANGE, 0);
	expect_id("1.5", -EINVAL, 0);
	expect_id("-0.001", -EINVAL, 0);
	expect_id("\"1\"", -EINVAL, 0);
	expect_id("null", -EINVAL, 0);
	expect_id("true", -EINVAL, 0);
	expect_id("[1]", -EINVAL, 0);
	{
		int64_t v;

		assert_int_equal(jsonrpc_id_to_int64(NULL, &v), -EINVAL);
	}
}

/* The id as written: found in whole and cut-short text, or not at all. */
static void test_scan_id(void **state)
{
	static const struct {
		const char *text;
		const char *id;		/* NULL: not found */
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}", "9007199254740993" },
		{ "{\"id\":-1,\"method\":\"ping\"}", "-1" },
		{ " { \"id\" : \"x\" , \"method\":\"ping\"}", "\"x\"" },
		{ "{\"id\":\"a\\\"b\\u0041\",\"method\":\"ping\"}", "\"a\\\"b\\u0041\"" },
		{ "{\"id\":1.5e300,\"m\":1}", "1.5e300" },
		{ "{\"id\":-12345678901234567890}", "-12345678901234567890" },
		{ "{\"params\":{\"id\":5,\"x\":[1,{\"id\":6}]},\"s\":\"}\\\"{\",\"id\":7}", "7" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"x\",\"params\":{\"text\":\"aaaa", "77" },	/* cut short */
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2}", "1" },	/* the first, as cJSON */
		/* not found */
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}", NULL },
		{ "{\"params\":{\"text\":\"aaaa", NULL },	/* cut before the id */
		{ "{\"id\":12", NULL },				/* the number may go on */
		{ "{\"id\":\"abc", NULL },
		{ "{\"id\":null}", NULL },
		{ "{\"id\":true}", NULL },
		{ "{\"id\":{}}", NULL },
		{ "{\"id\":01}", NULL },
		{ "{\"id\":+1}", NULL },
		{ "{\"id\":1.}", NULL },
		{ "{\"id\":\"a\nb\"}", NULL },
		{ "{\"id\":\"\\x\"}", NULL },
		{ "[{\"id\":1}]", NULL },
		{ "", NULL },
		{ "{", NULL },
		{ "{\"a\" 1,\"id\":1}", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		size_t off = 0, len = 0;
		int r = jsonrpc_scan_id(cases[i].text, strlen(cases[i].text), &off, &len);

		if (!cases[i].id) {
			assert_int_equal(r, -ENOENT);
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(len, strlen(cases[i].id));
		assert_memory_equal(cases[i].text + off, cases[i].id, len);
	}
}

static void test_raw_id(void **state)
{
	const char *big = "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}";
	cJSON *msg = cJSON_Parse(big);
	cJSON *id = jsonrpc_raw_id(big, strlen(big), cJSON_GetObjectItemCaseSensitive(msg, "id"));
	cJSON *reply = jsonrpc_result_new(id, NULL);
	size_t len;
	char *line = jsonrpc_serialize(reply, &len);

	assert_true(cJSON_IsRaw(id));
	assert_string_equal(line, "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"result\":null}\n");
	free(line);
	cJSON_Delete(reply);
	cJSON_Delete(id);
	cJSON_Delete(msg);

	/* An escaped key: cJSON sees "id" = 1, the scanner the plain one = 2. They disagree: cJSON's value wins. */
	const char *esc = "{\"\\u0069d\":1,\"id\":2}";

	msg = cJSON_Parse(esc);
	id = jsonrpc_raw_id(esc, strlen(esc), cJSON_GetObjectItemCaseSensitive(msg, "id"));
	assert_true(cJSON_IsNumber(id));
	assert_int_equal(id->valueint, 1);
	cJSON_Delete(id);
	cJSON_Delete(msg);

	/* No parse (a line too long): found, or NULL. */
	id = jsonrpc_raw_id("{\"id\":\"q\",\"params\":{\"t\":\"aa", 26, NULL);
	assert_non_null(id);
	assert_string_equal(id->valuestring, "\"q\"");
	cJSON_Delete(id);
	assert_null(jsonrpc_raw_id("{\"params\":{", 11, NULL));
}

/* The id a relay answers a client with, and the cancellation it sends for it. */
static void test_answer_id_and_cancelled_line(void **state)
{
	static const char line[] = "{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}";
	cJSON *parsed = cJSON_Parse(line);
	cJSON *raw = jsonrpc_answer_id(line, strlen(line), cJSON_GetObjectItemCaseSensitive(parsed, "id"), true);
	cJSON *value = jsonrpc_answer_id(line, strlen(line), cJSON_GetObjectItemCaseSensitive(parsed, "id"), false);
	char *text;

	(void)state;
	assert_true(cJSON_IsRaw(raw));
	assert_string_equal(raw->valuestring, "9007199254740993");
	assert_true(cJSON_IsNumber(value));
	text = jsonrpc_cancelled_line(raw, "the client left");
	assert_string_equal(text, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
			    "{\"requestId\":9007199254740993,\"reason\":\"the client left\"}}");
	free(text);
	assert_null(jsonrpc_answer_id("{}", 2, NULL, true));
	cJSON_Delete(raw);
	cJSON_Delete(value);
	cJSON_Delete(parsed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_id_and_cancelled_line),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_serialize_one_line),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_duplicate),
		cmocka_unit_test(test_id_to_int64),
		cmocka_unit_test(test_scan_id),
		cmocka_unit_test(test_raw_id),
	};

	return cmocka_run_group_tests_name("jsonrpc", tests, NULL, NULL);
}
