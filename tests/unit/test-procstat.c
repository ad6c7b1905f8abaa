/* Unit tests of the /proc and cgroup accounting parsers, on real and hostile samples. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "procstat.h"

#define S(text) text, sizeof(text) - 1

/* A real line of a shell's /proc/PID/stat (Linux 6.x: 52 fields). */
static const char real_stat[] =
	"4242 (bash) S 4200 4242 4242 34816 4242 4194304 5631 31512 0 7 123 45 67 89 20 0 1 0 "
	"987654 9142272 1280 18446744073709551615 94 95 96 0 0 0 65536 3670020 1266777851 0 0 0 17 1 0 0 0 0 0 "
	"97 98 99 100 101 102 103 0\n";

static void test_stat_real(void **state)
{
	struct procstat st;

	assert_int_equal(procstat_parse_stat(S(real_stat), &st), 0);
	assert_int_equal(st.pid, 4242);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 4200);
	assert_int_equal(st.pgrp, 4242);
	assert_int_equal(st.utime, 123);
	assert_int_equal(st.stime, 45);
	assert_int_equal(st.starttime, 987654);
	assert_int_equal(st.vsize, 9142272);
	assert_int_equal(st.rss, 1280);
}

/* comm is whatever the process named itself (prctl PR_SET_NAME, 15 bytes): spaces, ')' and fake fields. */
static void test_stat_hostile_comm(void **state)
{
	static const char *const comms[] = {
		"a b", ")", "))", "x) R 1 1", ") Z 9 9 9 9 9", "(", "((((", "a\nb", "",
	};
	struct procstat st;

	for (size_t i = 0; i < sizeof(comms) / sizeof(comms[0]); i++) {
		char buf[512];
		int n = snprintf(buf, sizeof(buf),
				 "77 (%s) R 1 77 77 0 -1 4194560 100 0 0 0 1000 2000 3 4 20 0 1 0 555 4096 10 "
				 "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n", comms[i]);

		memset(&st, 0, sizeof(st));
		assert_int_equal(procstat_parse_stat(buf, (size_t)n, &st), 0);
		assert_int_equal(st.pid, 77);
		assert_int_equal(st.state, 'R');
		assert_int_equal(st.ppid, 1);
		assert_int_equal(st.pgrp, 77);
		assert_int_equal(st.utime, 1000);
		assert_int_equal(st.stime, 2000);
		assert_int_equal(st.starttime, 555);
		assert_int_equal(st.rss, 10);
	}
	/* A zombie: the state is what the caller needs to leave it out of the gauges. */
	assert_int_equal(procstat_parse_stat(S("5 (sh) Z 4 5 5 0 -1 0 0 0 0 0 7 8 0 0 20 0 1 0 9 0 0 0\n"), &st), 0);
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.utime + st.stime, 15);
}

/* Every prefix of a real line is refused, or read whole: never a field from past the end. */
static void test_stat_truncated(void **state)
{
	size_t len = sizeof(real_stat) - 1;
	/* The line is read once the space after rss (field 24) is there. */
	const char *rss = strstr(real_stat, " 1280 ");
	size_t whole = (size_t)(rss - real_stat) + 6;
	struct procstat st;

	assert_non_null(rss);
	for (size_t n = 0; n < len; n++) {
		/* A copy of exactly n bytes on the heap: ASan catches a read past it. */
		char *cut = malloc(n ? n : 1);
		int r;

		memcpy(cut, real_stat, n);
		r = procstat_parse_stat(cut, n, &st);
		if (n < whole)
			assert_int_equal(r, -EINVAL);
		else
			assert_int_equal(r, 0);
		free(cut);
	}
	assert_int_equal(procstat_parse_stat(S("4242 bash S 1 1"), &st), -EINVAL);
	assert_int_equal(procstat_parse_stat(S("(bash) S 1 1"), &st), -EINVAL);
	assert_int_equal(procstat_parse_stat(S("4242 (bash"), &st), -EINVAL);
	assert_int_equal(procstat_parse_stat(S("4242 (bash)S 1 1 1 0 0 0 0 0 0 0 1 1 0 0 0 0 0 0 1 1 1\n"), &st), -EINVAL);
	assert_int_equal(procstat_parse_stat(S("4242 (a) S x 1 1 0 0 0 0 0 0 0 1 1 0 0 0 0 0 0 1 1 1\n"), &st), -EINVAL);
	/* A negative where mcpd wants a count. */
	assert_int_equal(procstat_parse_stat(S("4242 (a) S 1 1 1 0 0 0 0 0 0 0 -1 1 0 0 0 0 0 0 1 1 1\n"), &st), -EINVAL);
}

static void test_stat_huge(void **state)
{
	struct procstat st;

	/* The largest 64-bit values fit; one more does not wrap. */
	assert_int_equal(procstat_parse_stat(S("9 (a) S 1 9 9 0 0 0 0 0 0 0 18446744073709551615 18446744073709551615 "
					       "0 0 0 0 0 0 18446744073709551615 18446744073709551615 18446744073709551615 0\n"),
					     &st), 0);
	assert_true(st.utime == UINT64_MAX && st.stime == UINT64_MAX && st.rss == UINT64_MAX);
	assert_true(procstat_add(st.utime, st.stime) == UINT64_MAX);
	assert_int_equal(procstat_parse_stat(S("9 (a) S 1 9 9 0 0 0 0 0 0 0 18446744073709551616 1 0 0 0 0 0 0 1 1 1\n"), &st),
			 -ERANGE);
	assert_int_equal(procstat_parse_stat(S("9 (a) S 1 9 9 0 0 0 0 0 0 0 99999999999999999999999999 1 0 0 0 0 0 0 1 1 1\n"),
					     &st), -ERANGE);
	/* Pids are 31 bits. */
	assert_int_equal(procstat_parse_stat(S("2147483648 (a) S 1 9 9 0 0 0 0 0 0 0 1 1 0 0 0 0 0 0 1 1 1\n"), &st), -ERANGE);
	assert_int_equal(procstat_parse_stat(S("9 (a) S 1 4294967296 9 0 0 0 0 0 0 0 1 1 0 0 0 0 0 0 1 1 1\n"), &st), -ERANGE);
}

static void test_btime(void **state)
{
	static const char proc_stat[] =
		"cpu  2255 34 2290 22625563 6290 127 456 0 0 0\n"
		"cpu0 1132 34 1441 11311718 3675 127 438 0 0 0\n"
		"intr 114930548 113199788 3 0 5 263 0 4 [... 1000 more]\n"
		"ctxt 1990473\n"
		"btime 1062191376\n"
		"processes 2915\n";
	uint64_t v = 0;

	assert_int_equal(procstat_parse_btime(S(proc_stat), &v), 0);
	assert_int_equal(v, 1062191376);
	/* One line at a time, as mcpd reads /proc/stat. */
	assert_int_equal(procstat_parse_btime(S("btime 1700000000\n"), &v), 0);
	assert_int_equal(v, 1700000000);
	assert_int_equal(procstat_parse_btime(S("ctxt 1990473\n"), &v), -EINVAL);
	/* Only at the start of a line, and the whole key. */
	assert_int_equal(procstat_parse_btime(S("xbtime 5\nbtimes 6\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_btime(S("btime \n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_btime(S("btime"), &v), -EINVAL);
	assert_int_equal(procstat_parse_btime(S("btime 99999999999999999999999\n"), &v), -ERANGE);
	assert_int_equal(procstat_parse_btime("", 0, &v), -EINVAL);
}

static void test_cpu_usage(void **state)
{
	uint64_t v = 0;

	/* Without the cpu controller. */
	assert_int_equal(procstat_parse_cpu_usage(S("usage_usec 7382101\nuser_usec 7000000\nsystem_usec 382101\n"), &v), 0);
	assert_int_equal(v, 7382101);
	/* With it, and without the last newline. */
	assert_int_equal(procstat_parse_cpu_usage(S("usage_usec 12\nuser_usec 10\nsystem_usec 2\nnr_periods 0\n"
						    "nr_throttled 0\nthrottled_usec 0"), &v), 0);
	assert_int_equal(v, 12);
	/* The key alone, anywhere in the file. */
	assert_int_equal(procstat_parse_cpu_usage(S("user_usec 10\nusage_usec 13"), &v), 0);
	assert_int_equal(v, 13);
	assert_int_equal(procstat_parse_cpu_usage(S("user_usec 10\nsystem_usec 2\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_cpu_usage(S("usage_usec -1\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_cpu_usage(S("usage_usec 12x\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_cpu_usage(S("usage_usec 184467440737095516150\n"), &v), -ERANGE);
	/* Cut in the middle of the key. */
	assert_int_equal(procstat_parse_cpu_usage(S("usage_us"), &v), -EINVAL);
}

static void test_u64(void **state)
{
	uint64_t v = 0;

	assert_int_equal(procstat_parse_u64(S("10444800\n"), &v), 0);
	assert_int_equal(v, 10444800);
	assert_int_equal(procstat_parse_u64(S("0"), &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(procstat_parse_u64(S("max\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_u64(S("12\n13\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_u64(S("12 13\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_u64(S("\n"), &v), -EINVAL);
	assert_int_equal(procstat_parse_u64("", 0, &v), -EINVAL);
	assert_int_equal(procstat_parse_u64(S("18446744073709551616\n"), &v), -ERANGE);
}

static void test_pids(void **state)
{
	static const char procs[] = "12\n345\n\nbad\n-4\n0\n2147483648\n6";
	pid_t got[8], pid;
	size_t pos = 0, n = 0;
	int r, bad = 0;

	while ((r = procstat_next_pid(S(procs), &pos, &pid)) != 0) {
		if (r < 0) {
			bad++;
			continue;
		}
		assert_true(n < 8);
		got[n++] = pid;
	}
	assert_int_equal(n, 3);
	assert_int_equal(got[0], 12);
	assert_int_equal(got[1], 345);
	assert_int_equal(got[2], 6);
	assert_int_equal(bad, 4);
	/* Empty lists. */
	pos = 0;
	assert_int_equal(procstat_next_pid("", 0, &pos, &pid), 0);
	pos = 0;
	assert_int_equal(procstat_next_pid(S("\n\n"), &pos, &pid), 0);
	/* A pid cut by the end of the buffer is read as far as it goes: the caller knows it cut. */
	pos = 0;
	assert_int_equal(procstat_next_pid(S("123"), &pos, &pid), 1);
	assert_int_equal(pid, 123);
}

static void test_controllers(void **state)
{
	assert_true(procstat_has_controller(S("cpuset cpu io memory hugetlb pids rdma misc\n"), "memory"));
	assert_true(procstat_has_controller(S("memory"), "memory"));
	assert_true(procstat_has_controller(S("cpu memory"), "memory"));
	assert_false(procstat_has_controller(S("hugetlb\n"), "memory"));
	assert_false(procstat_has_controller(S("memoryx cpu\n"), "memory"));
	assert_false(procstat_has_controller(S("xmemory\n"), "memory"));
	assert_false(procstat_has_controller(S("memor"), "memory"));
	assert_false(procstat_has_controller(S("\n"), "memory"));
	assert_false(procstat_has_controller("", 0, "memory"));
}

static void test_count_fds(void **state)
{
	char dir[] = "/tmp/test-procstat.XXXXXX", path[64];
	long before, after;
	int fds[3];

	assert_non_null(mkdtemp(dir));
	assert_int_equal(procstat_count_dir(dir), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fds[i] = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		assert_true(fds[i] >= 0);
	}
	assert_int_equal(procstat_count_dir(dir), 3);
	assert_int_equal(procstat_count_dir("/nonexistent/dir"), -ENOENT);

	/* Ours: three more than before they were opened, and as many as /proc/self/fd lists. */
	before = procstat_count_fds(0);
	assert_true(before >= 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	after = procstat_count_fds(0);
	assert_int_equal(before - after, 3);
	assert_int_equal(procstat_count_fds(getpid()), procstat_count_dir("/proc/self/fd") - 1);
	assert_int_equal(procstat_count_fds(0x7ffffffe), -ENOENT);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_real),
		cmocka_unit_test(test_stat_hostile_comm),
		cmocka_unit_test(test_stat_truncated),
		cmocka_unit_test(test_stat_huge),
		cmocka_unit_test(test_btime),
		cmocka_unit_test(test_cpu_usage),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_controllers),
		cmocka_unit_test(test_count_fds),
	};

	return cmocka_run_group_tests_name("procstat", tests, NULL, NULL);
}
