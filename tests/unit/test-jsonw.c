/*
 * Unit tests of the JSON writer: its text must be cJSON_PrintUnformatted's,
 * byte for byte (escaping of quotes, backslashes and control characters,
 * UTF-8 as it is, numbers whole, fractional, large and tiny), NaN and
 * infinities as null, and jsonw_line as jsonrpc_serialize.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonrpc.h"
#include "jsonw.h"

/* jsonw's text of v, compared with cJSON's. */
static void same_as_cjson(const cJSON *v)
{
	char *want = cJSON_PrintUnformatted((cJSON *)v);
	struct jsonw w;

	assert_non_null(want);
	jsonw_init(&w);
	jsonw_value(&w, v);
	assert_non_null(w.buf);
	assert_string_equal(w.buf, want);
	assert_int_equal(w.len, strlen(want));
	jsonw_free(&w);
	cJSON_free(want);
}

static void number_same(double d)
{
	cJSON *n = cJSON_CreateNumber(d);

	same_as_cjson(n);
	cJSON_Delete(n);
}

static char *text_of_number(double d)
{
	static char buf[JSONW_NUMBER_MAX];
	struct jsonw w;

	jsonw_init(&w);
	jsonw_number(&w, d);
	snprintf(buf, sizeof(buf), "%s", w.buf);
	jsonw_free(&w);
	return buf;
}

static void test_numbers(void **state)
{
	static const double cases[] = {
		0, -0.0, 1, -1, 7, 42, 100, 2147483647.0, -2147483648.0, 2147483648.0, -2147483649.0,
		4294967296.0, 1e12, 123456789012345.0, 999999999999999.0, 1e15, 1e16, 9007199254740993.0,
		1.8446744073709552e19, 1e21, 1e60, 1e300, -1e300, 0.5, -0.5, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3,
		0.001, 0.0001, 0.00011, 0.00009, 1e-5, 1e-7, 5e-324, 2.2250738585072014e-308, 0.123, 12.345,
		99.95, 99.9999995, 3.14159265358979, 3.141592653589793, 123456789.123456, 999999999.5,
		1e9 + 0.5, 1e9 - 0.5, 12345.678901, 0.000123, 1234567.000001, -0.001, -12.5, 33.333,
		1.7976931348623157e308, 0.30000000000000004, 100.25, 5.05, 1.005, 4.35, 0.07,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		number_same(cases[i]);
	assert_string_equal(text_of_number(0.5), "0.5");
	assert_string_equal(text_of_number(-3), "-3");
	assert_string_equal(text_of_number(4294967296.0), "4294967296");
	assert_string_equal(text_of_number(1e16), "1e+16");
	assert_string_equal(text_of_number(0.1), "0.1");
}

static void test_numbers_random(void **state)
{
	unsigned seed = 17;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		double scale[] = { 1, 10, 1000, 1e6, 1e9, 1e12, 1e-3, 1e-6 };
		double d;

		seed = seed * 1103515245u + 12345u;
		switch (i % 4) {
		case 0:	/* milliseconds rounded to microseconds, as status prints latencies */
			d = round((double)(seed % 100000000u) / 7.0 * 1000) / 1000 / 1000;
			break;
		case 1:	/* short decimals of every size */
			d = (double)(seed % 10000000u) / scale[(seed >> 24) % 8];
			break;
		case 2:	/* any bits at all */
			{
				uint64_t bits = ((uint64_t)seed << 32) ^ ((uint64_t)(seed * 2654435761u) << 7) ^ (uint64_t)i;

				memcpy(&d, &bits, sizeof(d));
			}
			break;
		default:	/* percentages and rates */
			d = (double)(seed % 1000000u) / 1000.0 * ((seed & 1) ? -1 : 1) / 3.0;
		}
		number_same(d);
	}
}

static void test_not_finite(void **state)
{
	(void)state;
	assert_string_equal(text_of_number(NAN), "null");
	assert_string_equal(text_of_number(INFINITY), "null");
	assert_string_equal(text_of_number(-INFINITY), "null");
	number_same(NAN);
	number_same(INFINITY);
	number_same(-INFINITY);
}

static void test_strings(void **state)
{
	char all[256];
	cJSON *o;

	(void)state;
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "all bytes", all);
	cJSON_AddStringToObject(o, "quotes \"and\" \\", "say \"hi\"\\n");
	cJSON_AddStringToObject(o, "controls", "\b\f\n\r\t\x01\x1f\x7f");
	cJSON_AddStringToObject(o, "utf-8 \xc3\xa9", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	cJSON_AddStringToObject(o, "", "");
	same_as_cjson(o);
	cJSON_Delete(o);

	{
		struct jsonw w;

		jsonw_init(&w);
		jsonw_string(&w, "a\"b\\c\nd\x01\xc3\xa9");
		assert_string_equal(w.buf, "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\"");
		jsonw_free(&w);
		jsonw_init(&w);
		jsonw_string(&w, NULL);
		assert_string_equal(w.buf, "\"\"");
		jsonw_free(&w);
	}
}

static void test_tree(void **state)
{
	const char *texts[] = {
		"{}", "[]", "null", "true", "false", "\"x\"", "[1,[2,[3,{}]],[]]",
		"{\"a\":{\"b\":{\"c\":[null,true,false,0,-1,1.5,\"s\"]}},\"d\":[],\"e\":{}}",
		("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"servers\":[{\"name\":\"s1\",\"pid\":123,"
		 "\"uptime_s\":3600,\"latency_ms\":0.417,\"cpu_percent\":12.5,\"memory_bytes\":34603008}]}}"),
	};
	cJSON *big = cJSON_CreateArray();

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cJSON *v = cJSON_Parse(texts[i]);

		assert_non_null(v);
		same_as_cjson(v);
		cJSON_Delete(v);
	}
	/* Bigger than the first buffer: it grows. */
	for (int i = 0; i < 5000; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "i", i);
		cJSON_AddNumberToObject(o, "f", i / 8.0);
		cJSON_AddStringToObject(o, "s", "some text\twith a tab");
		cJSON_AddItemToArray(big, o);
	}
	same_as_cjson(big);
	cJSON_Delete(big);
}

static void test_line(void **state)
{
	cJSON *msg = cJSON_CreateObject();
	char *want;
	size_t want_len;
	struct jsonw w;

	(void)state;
	cJSON_AddStringToObject(msg, "jsonrpc", "2.0");
	cJSON_AddNumberToObject(msg, "id", 1);
	cJSON_AddItemToObject(msg, "result", cJSON_CreateRaw("{\"a\":\n1,\r\"b\":\"x\"}"));
	want = jsonrpc_serialize(msg, &want_len);
	jsonw_init(&w);
	jsonw_line(&w, msg);
	assert_int_equal(w.len, want_len);
	assert_memory_equal(w.buf, want, want_len);
	assert_int_equal(w.buf[w.len - 1], '\n');
	jsonw_free(&w);
	free(want);
	cJSON_Delete(msg);
}

/* Two raw values apart (an id first, a result later): both lose their CR and LF, the text between is kept. */
static void test_line_raw_spans(void **state)
{
	cJSON *id = cJSON_CreateRaw("7\r"), *res = cJSON_CreateRaw("[1,\n2]");
	struct jsonw w;

	(void)state;
	jsonw_init(&w);
	jsonw_bytes(&w, "{\"id\":", 6);
	jsonw_value(&w, id);
	jsonw_key(&w, "s");
	jsonw_string(&w, "a\nb");
	jsonw_key(&w, "result");
	jsonw_value(&w, res);
	jsonw_char(&w, '}');
	jsonw_end_line(&w);
	assert_string_equal(w.buf, "{\"id\":7 ,\"s\":\"a\\nb\",\"result\":[1, 2]}\n");
	/* A line after it, without a raw value, is left alone. */
	jsonw_free(&w);
	jsonw_init(&w);
	jsonw_bytes(&w, "\"x\r\"", 4);
	jsonw_end_line(&w);
	assert_string_equal(w.buf, "\"x\r\"\n");
	jsonw_free(&w);
	cJSON_Delete(id);
	cJSON_Delete(res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_numbers_random),
		cmocka_unit_test(test_not_finite),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_line_raw_spans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
