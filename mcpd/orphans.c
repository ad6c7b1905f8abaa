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
#include "xmalloc.h"

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

static int pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* keep is sorted (orphans_kill_strays sorts a copy): a server with 1000 siblings costs log n. */
static bool in_keep(pid_t pid, const pid_t *keep, size_t nkeep)
{
	return nkeep > 0 && bsearch(&pid, keep, nkeep, sizeof(*keep), pid_cmp) != NULL;
}

static bool kept(pid_t pid, pid_t pgrp, const pid_t *keep, size_t nkeep)
{
	return in_keep(pid, keep, nkeep) || in_keep(pgrp, keep, nkeep);
}

/* Check one child of ours; kill it if it is a stray. Returns 1 if killed. */
static int kill_if_stray(pid_t pid, pid_t self, const pid_t *keep, size_t nkeep)
{
	pid_t ppid, pgrp;
	char state;

	/* A server's own process: no need to read its /proc entry. */
	if (in_keep(pid, keep, nkeep))
		return 0;
	if (read_stat(pid, &state, &ppid, &pgrp) < 0 || ppid != self)
		return 0;
	if (state == 'Z' || state == 'X' || kept(pid, pgrp, keep, nkeep))
		return 0;
	/* Our child cannot be reaped (and its pid reused) by anyone but us: no race here. */
	return kill(pid, SIGKILL) == 0;
}

/*
 * The fast way: /proc/self/task/TID/children lists our children directly
 * (re-parented orphans go to the main thread, our only thread), so a check
 * costs one small read instead of a walk over every process of the system.
 * Returns -1 when the kernel does not offer the file.
 */
static int kill_strays_from_children(pid_t self, const pid_t *keep, size_t nkeep)
{
	char path[64], buf[65536];
	int fd, killed = 0;
	ssize_t n;
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)self);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len == sizeof(buf) - 1)
		return -1;	/* more children than the buffer holds: walk /proc instead */
	buf[len] = '\0';
	for (char *p = buf, *end; *p; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > 0)
			killed += kill_if_stray((pid_t)v, self, keep, nkeep);
	}
	return killed;
}

int orphans_kill_strays(const pid_t *keep_in, size_t nkeep)
{
	pid_t self = getpid();
	pid_t *keep = xmalloc((nkeep + 1) * sizeof(*keep));
	struct dirent *de;
	DIR *d;
	int killed;

	if (nkeep)
		memcpy(keep, keep_in, nkeep * sizeof(*keep));
	qsort(keep, nkeep, sizeof(*keep), pid_cmp);
	killed = kill_strays_from_children(self, keep, nkeep);
	if (killed >= 0) {
		free(keep);
		return killed;
	}
	killed = 0;
	d = opendir("/proc");
	if (!d) {
		free(keep);
		return 0;
	}
	while ((de = readdir(d))) {
		pid_t pid;

		if (!parse_pid(de->d_name, &pid) || pid == self)
			continue;
		killed += kill_if_stray(pid, self, keep, nkeep);
	}
	closedir(d);
	free(keep);
	return killed;
}
