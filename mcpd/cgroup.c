/* One cgroup v2 per server: see cgroup.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "xmalloc.h"

/* The inode of /proc/self/ns/pid in the initial PID namespace (the kernel's PROC_PID_INIT_INO). */
#define PID_NS_INIT_INO 0xEFFFFFFCUL

static char base[PATH_MAX];
static char parent[PATH_MAX];	/* mcpd's own cgroup (or SERVICE): base's parent */
static char own_rel[PATH_MAX];	/* mcpd's own cgroup, as /proc/self/cgroup says it */
static bool enabled;
static int base_fd = -1;	/* base, O_PATH: a server's cgroup is made and opened without walking base's path */

bool cgroup_enabled(void)
{
	return enabled;
}

const char *cgroup_base(void)
{
	return base;
}

static int write_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The mount point of the cgroup2 hierarchy, from /proc/self/mountinfo; its root must be "/". */
static int find_mount(char *ret, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char root[PATH_MAX], mnt[PATH_MAX], type[64];
		const char *sep = strstr(line, " - ");

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS] - TYPE SOURCE SUPEROPTS" */
		if (!sep || sscanf(sep + 3, "%63s", type) != 1 || strcmp(type, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		if (strcmp(root, "/") != 0 || strchr(mnt, '\\'))
			continue;	/* a bind mount of a subtree, or an escaped path: not ours to guess */
		if ((size_t)snprintf(ret, size, "%s", mnt) >= size)
			continue;
		r = 0;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/* mcpd's own cgroup v2 path, from the "0::/path" line of /proc/self/cgroup. */
static int own_cgroup(char *ret, size_t size)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if ((size_t)snprintf(ret, size, "%s", line + 3) < size)
			r = 0;
		break;
	}
	free(line);
	fclose(f);
	return r;
}

/* systemd marks a cgroup it delegated (Delegate=yes) with this extended attribute. */
static bool delegated(const char *dir)
{
	return getxattr(dir, "trusted.delegate", NULL, 0) >= 0 || getxattr(dir, "user.delegate", NULL, 0) >= 0;
}

int cgroup_setup(char **ret_desc)
{
	char mnt[PATH_MAX], own[PATH_MAX], own_dir[PATH_MAX], path[PATH_MAX + 32];
	const char *env = getenv("MCPD_CGROUPS");
	int r;

	enabled = false;
	base[0] = '\0';
	if (base_fd >= 0)
		close(base_fd);
	base_fd = -1;
	if (env && strcmp(env, "0") == 0) {
		xasprintf(ret_desc, "cgroups are turned off by MCPD_CGROUPS=0");
		return -ECANCELED;
	}
	if ((r = find_mount(mnt, sizeof(mnt))) < 0) {
		xasprintf(ret_desc, "no cgroup2 hierarchy is mounted");
		return r;
	}
	if ((r = own_cgroup(own, sizeof(own))) < 0) {
		xasprintf(ret_desc, "mcpd is in no cgroup v2 (/proc/self/cgroup has no \"0::\" line)");
		return r;
	}
	if (snprintf(own_dir, sizeof(own_dir), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own) >= (int)sizeof(own_dir)) {
		xasprintf(ret_desc, "the path of mcpd's cgroup is too long");
		return -ENAMETOOLONG;
	}

	if (getenv("INVOCATION_ID") && strcmp(own, "/") != 0 && delegated(own_dir)) {
		/* Processes only in leaves: mcpd (and the guard, forked next) leave the service's cgroup. */
		snprintf(path, sizeof(path), "%s/mcpd", own_dir);
		if ((r = make_dir(path)) < 0) {
			xasprintf(ret_desc, "cannot create %s: %s", path, strerror(-r));
			return r;
		}
		snprintf(path, sizeof(path), "%s/mcpd/cgroup.procs", own_dir);
		if ((r = write_text(path, "0")) < 0) {
			xasprintf(ret_desc, "cannot move mcpd into %s/mcpd: %s", own_dir, strerror(-r));
			return r;
		}
		r = snprintf(base, sizeof(base), "%s/servers", own_dir);
	} else {
		/*
		 * Beside other mcpd instances that share the cgroup: the pid keeps them apart, and
		 * in a PID namespace (PID 1 of a container) the namespace too, as pids repeat there.
		 */
		struct stat ns;

		if (stat("/proc/self/ns/pid", &ns) == 0 && ns.st_ino != PID_NS_INIT_INO)
			r = snprintf(base, sizeof(base), "%s/mcpd-%d-ns%lu", own_dir, (int)getpid(),
				     (unsigned long)ns.st_ino);
		else
			r = snprintf(base, sizeof(base), "%s/mcpd-%d", own_dir, (int)getpid());
	}
	if (r >= (int)sizeof(base) - 64) {	/* room for a server's name and a file in it */
		xasprintf(ret_desc, "the path of mcpd's cgroup is too long");
		base[0] = '\0';
		return -ENAMETOOLONG;
	}
	if ((r = make_dir(base)) < 0) {
		xasprintf(ret_desc, "cannot create %s: %s", base, strerror(-r));
		base[0] = '\0';
		return r;
	}
	enabled = true;
	base_fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);	/* else paths from base, as before */
	snprintf(parent, sizeof(parent), "%s", own_dir);
	snprintf(own_rel, sizeof(own_rel), "%s", own);
	xasprintf(ret_desc, "one cgroup v2 per server under %s", base);
	return 0;
}

static int server_path(const char *name, const char *file, char *ret, size_t size)
{
	int n = snprintf(ret, size, "%s/%s%s%s", base, name, file ? "/" : "", file ? file : "");

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cgroup_open_procs(const char *name)
{
	char path[PATH_MAX];
	int fd, r;

	if (!enabled)
		return -EOPNOTSUPP;
	if ((r = server_path(name, NULL, path, sizeof(path))) < 0 || (r = make_dir(path)) < 0)
		return r;
	if ((r = server_path(name, "cgroup.procs", path, sizeof(path))) < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int cgroup_make_dir(const char *name)
{
	char path[PATH_MAX];
	int fd, r;

	if (!enabled)
		return -EOPNOTSUPP;
	if (base_fd < 0) {
		if ((r = server_path(name, NULL, path, sizeof(path))) < 0 || (r = make_dir(path)) < 0)
			return r;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if (mkdirat(base_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int cgroup_open_procs_in(int dir_fd)
{
	int fd = openat(dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}

int cgroup_join(int procs_fd)
{
	ssize_t n;

	do
		n = write(procs_fd, "0", 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * Before cgroup.kill (Linux 5.14): SIGKILL the members one by one, in a few
 * passes for those forked meanwhile and those beyond the first 64 KiB of pids.
 */
static int kill_members(const char *dir)
{
	static char buf[65536];
	char path[PATH_MAX + 16];
	bool any = true;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	for (int pass = 0; pass < 16 && any; pass++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		size_t len = 0;
		ssize_t n;

		if (fd < 0)
			return errno == ENOENT ? 0 : -errno;
		while (len < sizeof(buf) - 1 && ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 ||
						 (n < 0 && errno == EINTR)))
			len += n > 0 ? (size_t)n : 0;
		close(fd);
		buf[len] = '\0';
		any = false;
		for (char *p = buf, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			/* A pid cut at the end of the buffer may be wrong: the next pass reads it whole. */
			if (*end == '\0' && len == sizeof(buf) - 1)
				break;
			if (pid > 1 && kill((pid_t)pid, SIGKILL) == 0)
				any = true;
		}
	}
	return 0;
}

static int kill_dir(const char *dir)
{
	char path[PATH_MAX + 16];
	int r;

	snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
	r = write_text(path, "1");
	if (r == -ENOENT) {
		struct stat st;

		if (stat(dir, &st) < 0)
			return errno == ENOENT ? 0 : -errno;
		return kill_members(dir);
	}
	return r;
}

int cgroup_kill(const char *name)
{
	char path[PATH_MAX];
	int r;

	if (!enabled)
		return 0;
	if ((r = server_path(name, NULL, path, sizeof(path))) < 0)
		return r;
	return kill_dir(path);
}

int cgroup_remove(const char *name)
{
	char path[PATH_MAX];
	int r;

	if (!enabled)
		return 0;
	if ((r = server_path(name, NULL, path, sizeof(path))) < 0)
		return r;
	if (rmdir(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* Calls fn on every child cgroup of dir; returns how many there were. */
static int each_child(const char *dir, int (*fn)(const char *path))
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int count = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256];

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fn(path);
		count++;
	}
	closedir(d);
	return count;
}

static int remove_dir(const char *path)
{
	return rmdir(path) < 0 ? -errno : 0;
}

void cgroup_kill_tree(const char *dir, unsigned timeout_ms)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	if (!dir || !dir[0])
		return;
	each_child(dir, kill_dir);
	/* Killed processes leave their cgroup when they are gone, a moment later. */
	for (unsigned waited = 0; waited <= timeout_ms; waited += 10) {
		each_child(dir, remove_dir);
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		nanosleep(&tick, NULL);
	}
}

int cgroup_open_dir(const char *name)
{
	char path[PATH_MAX];
	int fd, r;

	if (!enabled)
		return -EOPNOTSUPP;
	if (base_fd >= 0) {
		fd = openat(base_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	if ((r = server_path(name, NULL, path, sizeof(path))) < 0)
		return r;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- controllers and limit files ------------------------------------------ */

static const char *const controller_names[CGROUP_NCONTROLLERS] = {
	[CGROUP_MEMORY] = "memory",
	[CGROUP_CPU] = "cpu",
	[CGROUP_PIDS] = "pids",
};

const char *cgroup_controller_name(enum cgroup_controller c)
{
	return (unsigned)c < CGROUP_NCONTROLLERS ? controller_names[c] : "?";
}

static int read_small(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	while (len < size - 1 && ((n = read(fd, buf + len, size - 1 - len)) > 0 || (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	buf[len] = '\0';
	return (int)len;
}

/* Whether the space-separated list in path names word. */
static bool list_has(const char *path, const char *word)
{
	char buf[1024];
	size_t wl = strlen(word);

	if (read_small(path, buf, sizeof(buf)) < 0)
		return false;
	for (char *p = buf; *p;) {
		size_t l;

		p += strspn(p, " \n");
		l = strcspn(p, " \n");
		if (l == wl && strncmp(p, word, wl) == 0)
			return true;
		p += l;
	}
	return false;
}

/* Where a cgroup v1 hierarchy with controller c is mounted: true with mnt set. */
static bool v1_mount(const char *c, char *mnt, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char m[PATH_MAX], type[64], opts[512];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep + 3, "%63s %*s %511s", type, opts) != 2 || strcmp(type, "cgroup") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", m) != 1)
			continue;
		for (char *tok = strtok(opts, ","); tok; tok = strtok(NULL, ","))
			if (strcmp(tok, c) == 0 && (size_t)snprintf(mnt, size, "%s", m) < size)
				found = true;
	}
	free(line);
	fclose(f);
	return found;
}

/* "+NAME" into dir/cgroup.subtree_control unless it is there: 0 or -errno. */
static int enable_in(const char *dir, const char *c)
{
	char path[PATH_MAX + 32], text[32];

	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (list_has(path, c))
		return 0;
	snprintf(text, sizeof(text), "+%s", c);
	return write_text(path, text);
}

void cgroup_enable_controllers(bool on[CGROUP_NCONTROLLERS], char why[CGROUP_NCONTROLLERS][CGROUP_WHY_MAX])
{
	for (int i = 0; i < CGROUP_NCONTROLLERS; i++) {
		const char *c = controller_names[i];
		char path[PATH_MAX + 32], v1[PATH_MAX];
		int r;

		on[i] = false;
		why[i][0] = '\0';
		if (!enabled) {
			snprintf(why[i], CGROUP_WHY_MAX, "no cgroups: servers are tracked by process group");
			continue;
		}
		snprintf(path, sizeof(path), "%s/cgroup.controllers", parent);
		if (!list_has(path, c)) {
			if (v1_mount(c, v1, sizeof(v1)))
				snprintf(why[i], CGROUP_WHY_MAX, "no %s controller in %.96s: it is mounted as cgroup v1 at %.96s",
					 c, parent, v1);
			else
				snprintf(why[i], CGROUP_WHY_MAX, "no %s controller in %.160s/cgroup.controllers", c, parent);
			continue;
		}
		if ((r = enable_in(parent, c)) < 0) {
			snprintf(why[i], CGROUP_WHY_MAX, "cannot enable the %s controller in %.128s/cgroup.subtree_control: %s%s",
				 c, parent, strerror(-r),
				 r == -EBUSY ? " (a cgroup with processes of its own cannot pass controllers down: run mcpd "
					       "in a cgroup of its own, e.g. under systemd with Delegate=yes)" : "");
			continue;
		}
		if ((r = enable_in(base, c)) < 0) {
			snprintf(why[i], CGROUP_WHY_MAX, "cannot enable the %s controller in %.128s/cgroup.subtree_control: %s",
				 c, base, strerror(-r));
			continue;
		}
		on[i] = true;
	}
}

int cgroup_write(const char *name, const char *file, const char *text)
{
	char path[PATH_MAX];
	int r;

	if (!enabled)
		return -EOPNOTSUPP;
	if ((r = server_path(name, file, path, sizeof(path))) < 0)
		return r;
	return write_text(path, text);
}

int cgroup_read(const char *name, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	int r;

	if (!enabled)
		return -EOPNOTSUPP;
	if ((r = server_path(name, file, path, sizeof(path))) < 0)
		return r;
	return read_small(path, buf, size);
}

int cgroup_keyed_get(const char *text, size_t len, const char *key, uint64_t *ret)
{
	size_t kl = strlen(key);
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == ' ') {
			uint64_t v = 0;
			const char *q = p + kl + 1;

			if (q == eol || !(*q >= '0' && *q <= '9'))
				return -EINVAL;
			for (; q < eol && *q >= '0' && *q <= '9'; q++) {
				if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
					return -ERANGE;
				v = v * 10 + (uint64_t)(*q - '0');
			}
			if (q != eol)
				return -EINVAL;
			*ret = v;
			return 0;
		}
		p = eol + 1;
	}
	return -ENOENT;
}

void cgroup_cpu_max_text(uint64_t quota, uint64_t period, char *buf, size_t size)
{
	if (quota == UINT64_MAX)
		snprintf(buf, size, "max %llu", (unsigned long long)period);
	else
		snprintf(buf, size, "%llu %llu", (unsigned long long)quota, (unsigned long long)period);
}

bool cgroup_oom_since(const char *text, size_t len, uint64_t kills_before, uint64_t ooms_before, const char *limit,
		      char *buf, size_t size)
{
	uint64_t kills, ooms;

	if (cgroup_keyed_get(text, len, "oom_kill", &kills) < 0 || kills <= kills_before)
		return false;
	if (limit && cgroup_keyed_get(text, len, "oom", &ooms) == 0 && ooms > ooms_before)
		snprintf(buf, size, "out of memory (limit %s)", limit);
	else
		snprintf(buf, size, "out of memory (the kernel's OOM killer)");
	return true;
}

/* ---- stale cgroups of a killed mcpd ---- */

#define SWEEP_DEPTH_MAX 16

/* "mcpd-PID" or "mcpd-PID-nsINO" (cgroup_setup's names): the pid, and the namespace's inode or 0. */
static bool stale_name(const char *name, pid_t *ret_pid, unsigned long *ret_ns)
{
	char *end;
	unsigned long pid, ns = 0;

	if (strncmp(name, "mcpd-", 5) != 0 || !(name[5] >= '1' && name[5] <= '9'))
		return false;
	errno = 0;
	pid = strtoul(name + 5, &end, 10);
	if (errno || pid > INT_MAX)
		return false;
	if (strncmp(end, "-ns", 3) == 0 && end[3] >= '0' && end[3] <= '9') {
		ns = strtoul(end + 3, &end, 10);
		if (errno)
			return false;
	}
	if (*end)
		return false;
	*ret_pid = (pid_t)pid;
	*ret_ns = ns;
	return true;
}

/* Whether pid lives in the cgroup mcpd lives in (its "0::" line of /proc/PID/cgroup); in doubt, yes. */
static bool in_own_cgroup(pid_t pid)
{
	char path[64], data[PATH_MAX + 64];
	const char *line;
	size_t len = strlen(own_rel);
	int n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((n = read_small(path, data, sizeof(data))) < 0)
		return n != -ENOENT;
	for (line = data; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "0::", 3) == 0)
			return strncmp(line + 3, own_rel, len) == 0 && (line[3 + len] == '\n' || line[3 + len] == '\0');
	return false;
}

/*
 * Whether pid may be the mcpd that made the cgroup: alive, and named "mcpd…"
 * (/proc/PID/comm) or living in the cgroup mcpd lives in (as an mcpd run
 * under another name does). In doubt, yes: a live mcpd's cgroups are never
 * removed; a pid reused by another process elsewhere is not an mcpd.
 */
static bool mcpd_alive(pid_t pid)
{
	char path[64], comm[32];
	int r;

	if (pid == getpid())
		return true;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	r = read_small(path, comm, sizeof(comm));
	if (r < 0)
		return r != -ENOENT;
	return strncmp(comm, "mcpd", 4) == 0 || in_own_cgroup(pid);
}

/* Whether a process is in dir's cgroup or below (cgroup.events: "populated 1"); in doubt, yes. */
static bool populated(const char *dir)
{
	char path[PATH_MAX + 300], events[256];
	uint64_t v = 1;
	int n;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.events", dir) >= sizeof(path))
		return true;
	n = read_small(path, events, sizeof(events));
	if (n < 0 || cgroup_keyed_get(events, (size_t)n, "populated", &v) < 0)
		return true;
	return v != 0;
}

/* Remove the empty cgroup dir and those below it, deepest first: 0 or -errno. */
static int remove_tree(const char *dir, unsigned depth)
{
	DIR *d;
	struct dirent *de;

	if (depth > SWEEP_DEPTH_MAX)
		return -ELOOP;
	if ((d = opendir(dir))) {
		while ((de = readdir(d))) {
			char path[PATH_MAX + 256];

			if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
				remove_tree(path, depth + 1);
		}
		closedir(d);
	}
	return rmdir(dir) < 0 ? -errno : 0;
}

void cgroup_sweep_stale(unsigned max, struct cgroup_sweep *ret)
{
	struct stat ns;
	unsigned long own_ns = stat("/proc/self/ns/pid", &ns) == 0 ? (unsigned long)ns.st_ino : 0;
	const char *own_name = strrchr(base, '/');
	struct dirent *de;
	DIR *d;

	*ret = (struct cgroup_sweep){ 0 };
	if (!enabled || !own_name || strncmp(own_name + 1, "mcpd-", 5) != 0)
		return;	/* under systemd, SERVICE/servers is reused: nothing of another mcpd's there */
	snprintf(ret->dir, sizeof(ret->dir), "%s", parent);
	if (!(d = opendir(parent)))
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256];
		unsigned long dir_ns;
		pid_t pid;

		if (de->d_type != DT_DIR || !stale_name(de->d_name, &pid, &dir_ns) || strcmp(de->d_name, own_name + 1) == 0)
			continue;
		/* A pid of another namespace says nothing here: its cgroups are left to that namespace's mcpd. */
		if ((dir_ns && dir_ns != own_ns) || mcpd_alive(pid))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", parent, de->d_name) >= sizeof(path))
			continue;
		if (populated(path)) {
			if (ret->busy++ == 0)
				snprintf(ret->first_busy, sizeof(ret->first_busy), "%.63s", de->d_name);
			continue;
		}
		if (ret->removed >= max) {
			ret->left++;
			continue;
		}
		if (remove_tree(path, 0) == 0)
			ret->removed++;
		else
			ret->failed++;
	}
	closedir(d);
}
