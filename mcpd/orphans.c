/* Orphans and process groups: see orphans.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "orphans.h"

int orphans_become_subreaper(void)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -errno;
	return 0;
}

int kill_group(pid_t pgid, int sig)
{
	/* kill(0) and kill(-1) would hit mcpd's own group, or every process. */
	if (pgid <= 1)
		return -EINVAL;
	if (kill(-pgid, sig) < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

static bool parse_pid(const char *s, pid_t *ret)
{
	long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (*s - '0');
		if (v > 0x7fffffff)
			return false;
	}
	*ret = (pid_t)v;
	return v > 0;
}

/*
 * "pid (comm) state ppid pgrp …": comm may hold anything, spaces and ')'
 * included, so the fields start after the last ')'.
 */
static int read_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd, ppid_i, pgrp_i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d %d", state, &ppid_i, &pgrp_i) != 3)
		return -EIO;
	*ppid = ppid_i;
	*pgrp = pgrp_i;
	return 0;
}

static bool kept(pid_t pid, pid_t pgrp, const pid_t *keep, size_t nkeep)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] == pid || keep[i] == pgrp)
			return true;
	return false;
}

int orphans_kill_strays(const pid_t *keep, size_t nkeep)
{
	pid_t self = getpid();
	struct dirent *de;
	DIR *d;
	int killed = 0;

	d = opendir("/proc");
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		pid_t pid, ppid, pgrp;
		char state;

		if (!parse_pid(de->d_name, &pid) || pid == self)
			continue;
		if (read_stat(pid, &state, &ppid, &pgrp) < 0 || ppid != self)
			continue;
		if (state == 'Z' || state == 'X' || kept(pid, pgrp, keep, nkeep))
			continue;
		/* Our child cannot be reaped (and its pid reused) by anyone but us: no race here. */
		if (kill(pid, SIGKILL) == 0)
			killed++;
	}
	closedir(d);
	return killed;
}
