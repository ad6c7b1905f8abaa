/*
 * Unit tests of the limits' text: limits.cpu as a share of cores, cpu.max's
 * text, memory.events (hostile samples too) and the OOM reason.
 */
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

#include "cgroup.h"
#include "manifest.h"

#define S(text) text, sizeof(text) - 1

static void test_cpu_share(void **state)
{
	static const struct {
		const char *text;
		int r;
		uint64_t quota;
	} cases[] = {
		{ "0.5", 0, 50000 },
		{ "2", 0, 200000 },
		{ "150%", 0, 150000 },
		{ "1024", 0, 102400000 },
		{ "0.01", 0, 1000 },
		{ ".25", 0, 25000 },
		{ "unlimited", 0, UINT64_MAX },
		{ "max", 0, UINT64_MAX },
		{ "0", -ERANGE, 0 },
		{ "0.001", -ERANGE, 0 },
		{ "1025", -ERANGE, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "1.2.3", -EINVAL, 0 },
		{ "%", -EINVAL, 0 },
		{ ".", -EINVAL, 0 },
		{ "50%%", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ "10s", -EDOM, 0 },
		{ "1m", -EDOM, 0 },
		{ "1h30m", -EDOM, 0 },
		{ "lots", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "0.5%%", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 },
		{ "inf", -EINVAL, 0 },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		uint64_t q = 42;
		int r = limits_cpu_parse(cases[i].text, &q);

		if (r != cases[i].r)
			fail_msg("\"%s\": %d, want %d", cases[i].text, r, cases[i].r);
		if (r == 0 && q != cases[i].quota)
			fail_msg("\"%s\": %llu, want %llu", cases[i].text, (unsigned long long)q,
				 (unsigned long long)cases[i].quota);
	}

	cgroup_cpu_max_text(50000, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "50000 100000");
	cgroup_cpu_max_text(UINT64_MAX, 100000, buf, sizeof(buf));
	assert_string_equal(buf, "max 100000");
}

static const char events[] = "low 0\nhigh 12\nmax 40\noom 3\noom_kill 2\noom_group_kill 0\n";

static void test_keyed(void **state)
{
	uint64_t v = 0;
	char *big;

	(void)state;
	assert_int_equal(cgroup_keyed_get(S(events), "oom_kill", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_keyed_get(S(events), "oom", &v), 0);	/* not oom_kill's prefix */
	assert_int_equal(v, 3);
	assert_int_equal(cgroup_keyed_get(S(events), "oom_group_kill", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cgroup_keyed_get(S(events), "om", &v), -ENOENT);
	assert_int_equal(cgroup_keyed_get(S(""), "oom", &v), -ENOENT);
	/* No final newline, a number at the edge of 64 bits and past it. */
	assert_int_equal(cgroup_keyed_get(S("oom_kill 18446744073709551615"), "oom_kill", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cgroup_keyed_get(S("oom_kill 18446744073709551616\n"), "oom_kill", &v), -ERANGE);
	assert_int_equal(cgroup_keyed_get(S("oom_kill 99999999999999999999999999\n"), "oom_kill", &v), -ERANGE);
	assert_int_equal(cgroup_keyed_get(S("oom_kill -1\n"), "oom_kill", &v), -EINVAL);
	assert_int_equal(cgroup_keyed_get(S("oom_kill 12x\n"), "oom_kill", &v), -EINVAL);
	assert_int_equal(cgroup_keyed_get(S("oom_kill \n"), "oom_kill", &v), -EINVAL);
	assert_int_equal(cgroup_keyed_get(S("oom_kill\n"), "oom_kill", &v), -ENOENT);
	/* Only the length given counts: a key past it is not read. */
	assert_int_equal(cgroup_keyed_get("oom 1\noom_kill 5\n", 6, "oom_kill", &v), -ENOENT);

	/* A line of a megabyte before the key. */
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'x', (1 << 20) - 16);
	memcpy(big + (1 << 20) - 16, "\noom_kill 7\n", 13);
	v = 0;
	assert_int_equal(cgroup_keyed_get(big, strlen(big), "oom_kill", &v), 0);
	assert_int_equal(v, 7);
	free(big);
}

static void test_oom_reason(void **state)
{
	char buf[128];

	(void)state;
	/* No kill since the start. */
	assert_false(cgroup_oom_since(S(events), 2, 3, "64M", buf, sizeof(buf)));
	assert_false(cgroup_oom_since(S(events), 5, 0, "64M", buf, sizeof(buf)));
	assert_false(cgroup_oom_since(S("low 0\nhigh 0\n"), 0, 0, "64M", buf, sizeof(buf)));
	assert_false(cgroup_oom_since(S("oom_kill many\n"), 0, 0, "64M", buf, sizeof(buf)));
	/* Killed at its own limit. */
	assert_true(cgroup_oom_since(S(events), 1, 2, "64M", buf, sizeof(buf)));
	assert_string_equal(buf, "out of memory (limit 64M)");
	/* Killed, but its cgroup never reached its limit: the host ran out. */
	assert_true(cgroup_oom_since(S(events), 1, 3, "64M", buf, sizeof(buf)));
	assert_string_equal(buf, "out of memory (the kernel's OOM killer)");
	/* Killed without a limit of its own. */
	assert_true(cgroup_oom_since(S(events), 0, 0, NULL, buf, sizeof(buf)));
	assert_string_equal(buf, "out of memory (the kernel's OOM killer)");
	/* No "oom" line: not at its limit. */
	assert_true(cgroup_oom_since(S("oom_kill 1\n"), 0, 0, "1G", buf, sizeof(buf)));
	assert_string_equal(buf, "out of memory (the kernel's OOM killer)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_share),
		cmocka_unit_test(test_keyed),
		cmocka_unit_test(test_oom_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
