/* Unit tests of common/duration.c: duration_parse/format and size_parse/format. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

#define SEC 1000ULL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

/* ------------------------------------------------------------ duration_parse */

static void expect_duration(const char *s, uint64_t want)
{
	uint64_t ms = UINT64_MAX;
	int r = duration_parse(s, &ms);

	if (r != 0 || ms != want) {
		print_error("duration_parse(\"%s\"): r=%d ms=%llu, want 0 and %llu\n", s, r,
			    (unsigned long long)ms, (unsigned long long)want);
		fail();
	}
}

static void expect_duration_error(const char *s, int want)
{
	uint64_t ms = 12345;
	int r = duration_parse(s, &ms);

	if (r != want) {
		print_error("duration_parse(\"%s\"): r=%d (ms=%llu), want %d\n", s ? s : "(null)", r,
			    (unsigned long long)ms, want);
		fail();
	}
}

static void test_duration_parse_zero(void **state)
{
	(void)state;
	expect_duration("0", 0);
	expect_duration("0s", 0);
	expect_duration("0ms", 0);
	expect_duration("0h", 0);
	expect_duration("0d", 0);
}

static void test_duration_parse_units(void **state)
{
	(void)state;
	expect_duration("250ms", 250);
	expect_duration("1ms", 1);
	expect_duration("1s", SEC);
	expect_duration("5m", 5 * MIN);
	expect_duration("2h", 2 * HOUR);
	expect_duration("2d", 2 * DAY);
	expect_duration("1000ms", SEC);
	expect_duration("90s", 90 * SEC);
	expect_duration("007s", 7 * SEC);
}

static void test_duration_parse_fractions(void **state)
{
	(void)state;
	expect_duration("1.5s", 1500);
	expect_duration("0.25s", 250);
	expect_duration("1.125s", 1125);
	expect_duration("0.001s", 1);
	expect_duration("1.5m", 90 * SEC);
	expect_duration("0.5h", 30 * MIN);
	expect_duration("1.5d", 36 * HOUR);
}

static void test_duration_parse_groups(void **state)
{
	(void)state;
	expect_duration("1h30m", HOUR + 30 * MIN);
	expect_duration("1m30s", 90 * SEC);
	expect_duration("1d2h3m4s5ms", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5);
	/* "ms" is one unit, and "m" followed by a digit starts a new group. */
	expect_duration("1m5ms", MIN + 5);
	/* Groups are added up whatever their order. */
	expect_duration("30m1h", HOUR + 30 * MIN);
	expect_duration("1s1s", 2 * SEC);
}

static void test_duration_parse_max(void **state)
{
	(void)state;
	assert_int_equal(DURATION_MAX_MS, 30 * DAY);
	expect_duration("30d", DURATION_MAX_MS);
	expect_duration("720h", DURATION_MAX_MS);
	expect_duration("43200m", DURATION_MAX_MS);
	expect_duration("2592000s", DURATION_MAX_MS);
	expect_duration("2592000000ms", DURATION_MAX_MS);
	expect_duration("29d23h59m59s999ms", DURATION_MAX_MS - 1);
}

static void test_duration_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",	  "fast", "1",	 "-1s",	  "+1s",   "1x",   "1.2345s", "1.s",  ".5s",
		"s",	  "ms",	  "1S",	 "1MS",	  "1sec",  "1min", "1hr",     "1 s",  " 1s",
		"1s ",	  "1h30", "00",	 "1e3ms", "0x10s", "1,5s", "1h-30m",  "1h 30m", "1.5",
		"1s\n",	  "1ss",  "1.5.5s",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_duration_error(bad[i], -EINVAL);
	expect_duration_error(NULL, -EINVAL);
}

static void test_duration_parse_range(void **state)
{
	(void)state;
	expect_duration_error("30d1ms", -ERANGE);
	expect_duration_error("31d", -ERANGE);
	expect_duration_error("721h", -ERANGE);
	expect_duration_error("2592000001ms", -ERANGE);
	expect_duration_error("30.001d", -ERANGE);
	expect_duration_error("20d20d", -ERANGE);
	expect_duration_error("99999999999999999999s", -ERANGE);
	expect_duration_error("18446744073709551616ms", -ERANGE);
	expect_duration_error("99999999999999999999999999999999999999d", -ERANGE);
}

/* ----------------------------------------------------------- duration_format */

static void expect_format(uint64_t ms, const char *want)
{
	char buf[64];

	duration_format(ms, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		print_error("duration_format(%llu) = \"%s\", want \"%s\"\n", (unsigned long long)ms, buf,
			    want);
		fail();
	}
}

static void test_duration_format(void **state)
{
	(void)state;
	expect_format(0, "0s");
	expect_format(1, "1ms");
	expect_format(250, "250ms");
	expect_format(999, "999ms");
	expect_format(SEC, "1s");
	expect_format(1500, "1.500s");
	expect_format(4 * SEC, "4s");
	expect_format(59 * SEC + 999, "59.999s");
	expect_format(MIN, "1m");
	expect_format(90 * SEC, "1m30s");
	expect_format(HOUR, "1h");
	expect_format(HOUR + 30 * MIN, "1h30m");
	expect_format(HOUR + 30 * MIN + 15 * SEC, "1h30m15s");
	expect_format(2 * HOUR, "2h");
	expect_format(2 * DAY, "48h");
	expect_format(DURATION_MAX_MS, "720h");
}

static void expect_round_trip(uint64_t ms)
{
	char buf[64];
	uint64_t back = UINT64_MAX;
	int r;

	duration_format(ms, buf, sizeof(buf));
	r = duration_parse(buf, &back);
	if (r != 0 || back != ms) {
		print_error("%llu -> \"%s\" -> r=%d %llu\n", (unsigned long long)ms, buf, r,
			    (unsigned long long)back);
		fail();
	}
}

/*
 * What duration_format prints, duration_parse reads back to the same value:
 * every value below a minute to the millisecond, and whole seconds above.
 */
static void test_duration_round_trip(void **state)
{
	(void)state;
	for (uint64_t ms = 0; ms < MIN; ms++)
		expect_round_trip(ms);
	for (uint64_t ms = 0; ms <= DURATION_MAX_MS; ms += 997 * SEC)
		expect_round_trip(ms);
	expect_round_trip(MIN);
	expect_round_trip(HOUR - SEC);
	expect_round_trip(HOUR);
	expect_round_trip(DAY + SEC);
	expect_round_trip(DURATION_MAX_MS - SEC);
	expect_round_trip(DURATION_MAX_MS);
}

/* A short buffer gets a truncated, terminated string and nothing past its end. */
static void test_duration_format_truncates(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'X', sizeof(buf));
	duration_format(HOUR + 30 * MIN + 15 * SEC, buf, 4);
	assert_string_equal(buf, "1h3");
	for (size_t i = 4; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'X');

	memset(buf, 'X', sizeof(buf));
	duration_format(250, buf, 3);
	assert_string_equal(buf, "25");
	assert_int_equal(buf[3], 'X');

	memset(buf, 'X', sizeof(buf));
	duration_format(1500, buf, 1);
	assert_string_equal(buf, "");
	assert_int_equal(buf[1], 'X');
}

/* ---------------------------------------------------------------- size_parse */

static void expect_size(const char *s, uint64_t want)
{
	uint64_t bytes = 12345;
	int r = size_parse(s, &bytes);

	if (r != 0 || bytes != want) {
		print_error("size_parse(\"%s\"): r=%d bytes=%llu, want 0 and %llu\n", s, r,
			    (unsigned long long)bytes, (unsigned long long)want);
		fail();
	}
}

static void expect_size_error(const char *s, int want)
{
	uint64_t bytes = 12345;
	int r = size_parse(s, &bytes);

	if (r != want) {
		print_error("size_parse(\"%s\"): r=%d (bytes=%llu), want %d\n", s ? s : "(null)", r,
			    (unsigned long long)bytes, want);
		fail();
	}
}

static void test_size_parse_bytes(void **state)
{
	(void)state;
	expect_size("0", 0);
	expect_size("1", 1);
	expect_size("512", 512);
	expect_size("1000", 1000);
	expect_size("0001", 1);
	expect_size("18446744073709551529", 18446744073709551529ULL);
}

static void test_size_parse_suffixes(void **state)
{
	(void)state;
	expect_size("512K", 512 * KIB);
	expect_size("64M", 64 * MIB);
	expect_size("1G", GIB);
	expect_size("2T", 2 * TIB);
	expect_size("0K", 0);
	/* Suffixes are binary whatever their spelling. */
	expect_size("64MB", 64 * MIB);
	expect_size("64MiB", 64 * MIB);
	expect_size("64Mb", 64 * MIB);
	expect_size("512k", 512 * KIB);
	expect_size("1kB", KIB);
	expect_size("1KiB", KIB);
	expect_size("1GiB", GIB);
}

static void test_size_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",    "K",	"-1",	 "+1",	 "1.5M", "1X",	 "1E",	 "1P",	 "1 K",
		" 1K", "1K ",	"1KiBx", "1Kib", "1KBB", "1iB",	 "64B",	 "1KK",	 "0x10",
		"1e3", "1,000", "1K1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_size_error(bad[i], -EINVAL);
	expect_size_error(NULL, -EINVAL);
}

static void test_size_parse_range(void **state)
{
	(void)state;
	expect_size("16777215T", 16777215 * TIB);
	expect_size_error("16777216T", -ERANGE);
	expect_size_error("17179869184G", -ERANGE);
	expect_size_error("18014398509481984K", -ERANGE);
	expect_size_error("18446744073709551616", -ERANGE);
	expect_size_error("99999999999999999999", -ERANGE);
	expect_size_error("99999999999999999999999999999999999999", -ERANGE);
	expect_size_error("20000000000000000000K", -ERANGE);
}

/* --------------------------------------------------------------- size_format */

static void expect_size_format(uint64_t bytes, const char *want)
{
	char buf[32];

	size_format(bytes, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		print_error("size_format(%llu) = \"%s\", want \"%s\"\n", (unsigned long long)bytes, buf,
			    want);
		fail();
	}
}

static void test_size_format(void **state)
{
	(void)state;
	expect_size_format(0, "0");
	expect_size_format(1, "1");
	expect_size_format(1000, "1000");
	expect_size_format(1023, "1023");
	expect_size_format(KIB, "1K");
	expect_size_format(1536, "1536");
	expect_size_format(512 * KIB, "512K");
	expect_size_format(1536 * KIB, "1536K");
	expect_size_format(64 * MIB, "64M");
	expect_size_format(GIB, "1G");
	expect_size_format(TIB, "1T");
	/* T is the largest suffix. */
	expect_size_format(1024 * TIB, "1024T");
	expect_size_format(UINT64_MAX, "18446744073709551615");
}

static void test_size_round_trip(void **state)
{
	static const uint64_t values[] = {
		0,	   1,	     1000,	1023,	   KIB,		  KIB + 1,	 3 * MIB,
		512 * KIB, 64 * MIB, 1536 * KIB, GIB,	   5 * GIB + KIB, TIB,		 1024 * TIB,
		1ULL << 63, 16777215 * TIB, 18446744073709551529ULL,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char buf[32];
		uint64_t back = 12345;
		int r;

		size_format(values[i], buf, sizeof(buf));
		r = size_parse(buf, &back);
		if (r != 0 || back != values[i]) {
			print_error("%llu -> \"%s\" -> r=%d %llu\n", (unsigned long long)values[i], buf, r,
				    (unsigned long long)back);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse_zero),
		cmocka_unit_test(test_duration_parse_units),
		cmocka_unit_test(test_duration_parse_fractions),
		cmocka_unit_test(test_duration_parse_groups),
		cmocka_unit_test(test_duration_parse_max),
		cmocka_unit_test(test_duration_parse_invalid),
		cmocka_unit_test(test_duration_parse_range),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_duration_format_truncates),
		cmocka_unit_test(test_size_parse_bytes),
		cmocka_unit_test(test_size_parse_suffixes),
		cmocka_unit_test(test_size_parse_invalid),
		cmocka_unit_test(test_size_parse_range),
		cmocka_unit_test(test_size_format),
		cmocka_unit_test(test_size_round_trip),
	};

	return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}
