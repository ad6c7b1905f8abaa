/* Parsers of /proc and cgroup accounting texts: see procstat.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procstat.h"

uint64_t procstat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Digits from *p up to a space, newline or end: 0, -EINVAL (none, or another character), -ERANGE. */
static int parse_u64(const char *buf, size_t len, size_t *p, uint64_t *ret)
{
	uint64_t v = 0;
	size_t start = *p;

	for (; *p < len && buf[*p] >= '0' && buf[*p] <= '9'; (*p)++) {
		unsigned digit = (unsigned)(buf[*p] - '0');

		if (v > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		v = v * 10 + digit;
	}
	if (*p == start || (*p < len && buf[*p] != ' ' && buf[*p] != '\n'))
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_pid(const char *buf, size_t len, size_t *p, pid_t *ret)
{
	uint64_t v;
	int r = parse_u64(buf, len, p, &v);

	if (r < 0)
		return r;
	if (v > 0x7fffffff)
		return -ERANGE;
	*ret = (pid_t)v;
	return 0;
}

/* Past one field and the single space after it; -EINVAL when the text ends first. */
static int skip_field(const char *buf, size_t len, size_t *p)
{
	while (*p < len && buf[*p] != ' ' && buf[*p] != '\n')
		(*p)++;
	if (*p >= len || buf[*p] != ' ')
		return -EINVAL;
	(*p)++;
	return 0;
}

/* A numeric field and the space after it (or the end of the text, for the last one wanted). */
static int number_field(const char *buf, size_t len, size_t *p, uint64_t *ret)
{
	int r = parse_u64(buf, len, p, ret);

	if (r < 0)
		return r;
	if (*p < len && buf[*p] == ' ')
		(*p)++;
	return 0;
}

int procstat_parse_stat(const char *buf, size_t len, struct procstat *ret)
{
	struct procstat st = { 0 };
	size_t p = 0, close = len;
	uint64_t v;
	int r;

	if ((r = parse_pid(buf, len, &p, &st.pid)) < 0)
		return r;
	if (p + 1 >= len || buf[p] != ' ' || buf[p + 1] != '(')
		return -EINVAL;
	/* The last ')': whatever comm holds, the fields after it hold none. */
	while (close > p + 1 && buf[close - 1] != ')')
		close--;
	if (close <= p + 1)
		return -EINVAL;
	p = close;
	/* Field 3, the state: one character. */
	if (p + 3 > len || buf[p] != ' ' || buf[p + 2] != ' ')
		return -EINVAL;
	st.state = buf[p + 1];
	p += 3;
	if ((r = parse_pid(buf, len, &p, &st.ppid)) < 0 || (r = skip_field(buf, len, &p)) < 0)
		return r == -ERANGE ? r : -EINVAL;
	if ((r = parse_pid(buf, len, &p, &st.pgrp)) < 0 || (r = skip_field(buf, len, &p)) < 0)
		return r == -ERANGE ? r : -EINVAL;
	/* Fields 6 to 13: session tty_nr tpgid flags minflt cminflt majflt cmajflt. */
	for (int f = 6; f <= 13; f++)
		if (skip_field(buf, len, &p) < 0)
			return -EINVAL;
	if ((r = number_field(buf, len, &p, &st.utime)) < 0 || (r = number_field(buf, len, &p, &st.stime)) < 0)
		return r;
	/* Fields 16 to 21: cutime cstime priority nice num_threads itrealvalue (some signed). */
	for (int f = 16; f <= 21; f++)
		if (skip_field(buf, len, &p) < 0)
			return -EINVAL;
	if ((r = number_field(buf, len, &p, &st.starttime)) < 0 || (r = number_field(buf, len, &p, &st.vsize)) < 0)
		return r;
	/* Field 24, rss: a long, which a kernel never makes negative; more fields follow, so a cut one is seen. */
	if ((r = parse_u64(buf, len, &p, &v)) < 0)
		return r;
	if (p >= len)
		return -EINVAL;
	st.rss = v;
	*ret = st;
	return 0;
}

/* The value of the line "KEY VALUE" (KEY at the start of a line): 0, -EINVAL (no such line), -ERANGE. */
static int keyed_line(const char *buf, size_t len, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);

	for (size_t p = 0; p < len;) {
		size_t eol = p;

		while (eol < len && buf[eol] != '\n')
			eol++;
		if (eol - p > klen && memcmp(buf + p, key, klen) == 0 && buf[p + klen] == ' ') {
			size_t q = p + klen + 1;

			return parse_u64(buf, eol, &q, ret);
		}
		p = eol + 1;
	}
	return -EINVAL;
}

int procstat_parse_btime(const char *buf, size_t len, uint64_t *ret)
{
	return keyed_line(buf, len, "btime", ret);
}

int procstat_parse_cpu_usage(const char *buf, size_t len, uint64_t *ret_usec)
{
	return keyed_line(buf, len, "usage_usec", ret_usec);
}

int procstat_parse_u64(const char *buf, size_t len, uint64_t *ret)
{
	size_t p = 0;
	int r = parse_u64(buf, len, &p, ret);

	if (r < 0)
		return r;
	if (p < len && (buf[p] != '\n' || p + 1 != len))
		return -EINVAL;
	return 0;
}

bool procstat_has_controller(const char *buf, size_t len, const char *controller)
{
	size_t clen = strlen(controller);

	for (size_t p = 0; p < len;) {
		size_t end = p;

		while (end < len && buf[end] != ' ' && buf[end] != '\n')
			end++;
		if (end - p == clen && memcmp(buf + p, controller, clen) == 0)
			return true;
		p = end + 1;
	}
	return false;
}

int procstat_next_pid(const char *buf, size_t len, size_t *pos, pid_t *ret_pid)
{
	size_t p = *pos, eol;
	pid_t pid;
	int r;

	while (p < len && buf[p] == '\n')
		p++;
	if (p >= len) {
		*pos = p;
		return 0;
	}
	for (eol = p; eol < len && buf[eol] != '\n'; eol++)
		;
	r = parse_pid(buf, eol, &p, &pid);
	*pos = eol;
	if (r < 0 || p != eol || pid <= 0)
		return -EINVAL;
	*ret_pid = pid;
	return 1;
}

long procstat_count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	long n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

long procstat_count_fds(pid_t pid)
{
	char path[64];
	struct stat st;
	long n;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/fd");
	if (stat(path, &st) < 0)
		return -errno;
	/* Linux 6.2 and later: the size is the count, with no walk over the entries. */
	if (st.st_size > 0)
		return (long)st.st_size;
	n = procstat_count_dir(path);
	/* Our own walk holds one fd of its own, in the directory it counts. */
	if ((pid <= 0 || pid == getpid()) && n > 0)
		n--;
	return n;
}
