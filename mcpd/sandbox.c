/*
 * The sandbox of one server: see sandbox.h; the child's side (in libmcpdcore,
 * for spawn.c). Runs after fork, before exec: no stdio, failures go back
 * through the err buffer; glibc's malloc is safe here (spawn.c allocates too).
 *
 *   sandbox_child_privileged  (mcpd's credentials) capability bounding set,
 *                             network namespace, mount namespace + tmpfs /tmp
 *   sandbox_child_restrict    (the server's) no_new_privs, Landlock (files,
 *                             TCP, scopes), the seccomp socket filter
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/landlock.h>

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "sandbox.h"

/*
 * Debian 12's <linux/landlock.h> (Linux 6.1) knows ABI 1 and 2 only: the
 * later constants and structures, as the kernel defines them.
 */
#define LL_EXECUTE	(1ULL << 0)
#define LL_WRITE_FILE	(1ULL << 1)
#define LL_READ_FILE	(1ULL << 2)
#define LL_READ_DIR	(1ULL << 3)
#define LL_REFER	(1ULL << 13)	/* ABI 2 */
#define LL_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#define LL_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#define LL_FILE_RIGHTS	(LL_EXECUTE | LL_WRITE_FILE | LL_READ_FILE | LL_TRUNCATE | LL_IOCTL_DEV)
#define LL_READ		(LL_EXECUTE | LL_READ_FILE | LL_READ_DIR)
#define LL_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP	(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL		(1ULL << 1)
#define LL_RULE_PATH_BENEATH	1

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

/* Every file-system right the ABI knows. */
static uint64_t fs_rights(int abi)
{
	if (abi >= 5)
		return (1ULL << 16) - 1;
	if (abi >= 3)
		return (1ULL << 15) - 1;
	if (abi >= 2)
		return (1ULL << 14) - 1;
	return (1ULL << 13) - 1;
}

/* Device files every sandboxed server may read and write (documented in mcpd.yaml(5)). */
static const char *const devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
};

/* What an allow-list (readable present) adds so that programs can run. */
static const char *const system_paths[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc",
};

static int fail(char *err, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return r < 0 ? r : -EPERM;
}

/* One line on the server's stderr (mcpd logs it as the server's): what best_effort skipped. */
static void note(const struct sandbox_plan *plan, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(const struct sandbox_plan *plan, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	(void)plan;
	n = snprintf(line, sizeof(line), "mcpd sandbox: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

/* ---- the expansion around hidden paths ------------------------------------------ */

/* Whether path is place or beneath it. */
static bool within(const char *path, const char *place)
{
	size_t n = strlen(place);

	if (n == 1 && place[0] == '/')
		return true;
	return strncmp(path, place, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether a hidden path lies strictly beneath dir. */
static bool hides_beneath(const char *dir, char *const *hidden)
{
	for (char *const *h = hidden; h && *h; h++)
		if (strcmp(*h, dir) != 0 && within(*h, dir))
			return true;
	return false;
}

static bool is_hidden(const char *path, char *const *hidden)
{
	for (char *const *h = hidden; h && *h; h++)
		if (within(path, *h))
			return true;
	return false;
}

static int expand(char *path, size_t len, uint64_t rights, uint64_t read_dir, char *const *hidden,
		  int (*emit)(const char *path, uint64_t rights, void *arg), void *arg, unsigned *budget)
{
	struct dirent *e;
	DIR *dir;
	int r = 0;

	if (is_hidden(path, hidden))
		return 0;
	if (!hides_beneath(path, hidden)) {
		if (*budget == 0)
			return -E2BIG;
		(*budget)--;
		return emit(path, rights, arg);
	}
	/* An ancestor of a hidden path: list it, and grant its entries one by one. */
	if (rights & read_dir) {
		if (*budget == 0)
			return -E2BIG;
		(*budget)--;
		if ((r = emit(path, rights & read_dir, arg)) < 0)
			return r;
	}
	dir = opendir(path);
	if (!dir)
		return 0;	/* gone, or not ours to list: nothing to grant beneath it */
	while (r == 0 && (e = readdir(dir)) != NULL) {
		size_t n = strlen(e->d_name);
		bool root = len == 1;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (len + n + 2 > PATH_MAX)
			continue;
		if (!root)
			path[len] = '/';
		memcpy(path + len + !root, e->d_name, n + 1);
		/* A symlink is not granted: its target is checked when it is used. */
		if (lstat(path, &st) == 0 && !S_ISLNK(st.st_mode))
			r = expand(path, len + !root + n, rights, read_dir, hidden, emit, arg, budget);
		path[len] = '\0';
	}
	closedir(dir);
	return r;
}

int sandbox_expand(const char *path, uint64_t rights, uint64_t read_dir, char *const *hidden,
		   int (*emit)(const char *path, uint64_t rights, void *arg), void *arg, unsigned *budget)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	return expand(buf, len, rights, read_dir, hidden, emit, arg, budget);
}

/* ---- privileged: still mcpd's credentials ------------------------------------------ */

static int drop_bounding_set(char *err, size_t size)
{
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;		/* past the last capability this kernel knows */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return fail(err, size, -errno, "cannot drop capability %d from the bounding set: %s", cap,
				    strerror(errno));
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

static int private_tmp(char *err, size_t size)
{
	static const char *const dirs[] = { "/tmp", "/var/tmp" };

	if (unshare(CLONE_NEWNS) < 0)
		return fail(err, size, -errno, "private_tmp: cannot create a mount namespace: %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return fail(err, size, -errno, "private_tmp: cannot make / a slave mount: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		struct stat st;

		if (stat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
			return fail(err, size, -errno, "private_tmp: cannot mount a tmpfs on %s: %s", dirs[i],
				    strerror(errno));
	}
	return 0;
}

int sandbox_child_privileged(const struct sandbox_plan *plan, char *err, size_t size)
{
	int r;

	if (plan->drop_caps && (r = drop_bounding_set(err, size)) < 0)
		return r;
	if (plan->netns && unshare(CLONE_NEWNET) < 0)
		return fail(err, size, -errno, "network: false: cannot create a network namespace: %s", strerror(errno));
	if (plan->mountns && (r = private_tmp(err, size)) < 0)
		return r;
	return 0;
}

/* ---- restrict: the server's credentials, right before exec ---------------------------- */

struct ruleset {
	int fd;
	int abi;
	char *err;
	size_t size;
};

/* One rule: rights on path (narrowed to a file's rights for anything not a directory). */
static int add_rule(const char *path, uint64_t rights, void *arg)
{
	struct ruleset *rs = arg;
	struct ll_path_beneath pb;
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return 0;	/* vanished since it was listed: nothing to grant */
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	rights &= fs_rights(rs->abi);
	if (!S_ISDIR(st.st_mode))
		rights &= LL_FILE_RIGHTS;
	if (rights == 0) {
		close(fd);
		return 0;
	}
	pb = (struct ll_path_beneath){ .allowed_access = rights, .parent_fd = fd };
	if (syscall(SYS_landlock_add_rule, rs->fd, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
		int e = errno;

		close(fd);
		return fail(rs->err, rs->size, -e, "Landlock rule for %.300s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

/* Resolve a path (symlinks included) into out; false when it does not exist. */
static bool resolve(const char *path, char out[PATH_MAX])
{
	return realpath(path, out) != NULL;
}

/*
 * A hidden path that does not exist (yet): its deepest existing ancestor
 * resolved, with the rest appended, into out; false when too long. The
 * directories on the way to it are then granted entry by entry, so that what
 * appears there later (the operator creates the file) is out of reach.
 */
static bool resolve_missing(const char *path, char out[PATH_MAX])
{
	char head[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(head))
		return false;
	memcpy(head, path, len + 1);
	for (char *slash = strrchr(head, '/'); slash; slash = strrchr(head, '/')) {
		char real[PATH_MAX];
		const char *rest = path + (slash - head);

		*slash = '\0';
		if (!resolve(slash == head ? "/" : head, real))
			continue;
		if (strcmp(real, "/") == 0)
			real[0] = '\0';
		return (size_t)snprintf(out, PATH_MAX, "%s%s", real, rest) < PATH_MAX;
	}
	return false;
}

/* Whether path lies in a directory private_tmp replaces (what the operator puts there, the server never sees). */
static bool in_private_tmp(const struct sandbox_plan *plan, const char *path)
{
	return plan->mountns && (within(path, "/tmp") || within(path, "/var/tmp"));
}

/*
 * The hidden paths, resolved: a symlink hides its target too, and a path that
 * does not exist yet is hidden all the same (see resolve_missing). Called
 * after sandbox_child_privileged: with private_tmp, what was in /tmp is not in
 * this mount namespace's /tmp.
 */
static char **resolve_hidden(const struct sandbox_plan *plan)
{
	size_t n = 0, k = 0;
	char **v;

	while (plan->hidden && plan->hidden[n])
		n++;
	v = calloc(2 * n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char real[PATH_MAX];

		struct stat st;

		if (lstat(plan->hidden[i], &st) < 0) {
			/* Not there yet: hidden where it would appear (private_tmp: the server's /tmp is its own). */
			if (in_private_tmp(plan, plan->hidden[i]) || !resolve_missing(plan->hidden[i], real))
				continue;
		} else if (!resolve(plan->hidden[i], real)) {
			real[0] = '\0';
		}
		v[k++] = strdup(plan->hidden[i]);
		if (real[0] && strcmp(real, plan->hidden[i]) != 0)
			v[k++] = strdup(real);
	}
	for (size_t i = 0; i < k; i++)
		if (!v[i])
			return NULL;
	return v;
}

static bool writable_listed(const struct sandbox_plan *plan, const char *path)
{
	for (char **w = plan->writable; w && *w; w++)
		if (strcmp(path, *w) == 0)
			return true;
	return false;
}

/*
 * Whether path lies in one of the plan's writable paths (not merely equal to
 * it): that writable path already grants it everything, and resolving it
 * would follow what the server planted there (a symlink to / in place of a
 * readable directory, made before a restart, would open the whole file system).
 */
static bool inside_writable(const struct sandbox_plan *plan, const char *path)
{
	for (char **w = plan->writable; w && *w; w++)
		if (strcmp(path, *w) != 0 && within(path, *w))
			return true;
	return false;
}

/* Grant rights on a manifest path: resolved first; a missing one fails the start (best_effort: noted). */
static int grant(const struct sandbox_plan *plan, struct ruleset *rs, const char *key, const char *path,
		 uint64_t rights, char *const *hidden, unsigned *budget)
{
	char real[PATH_MAX];
	int r;

	if (inside_writable(plan, path) || (rights != fs_rights(rs->abi) && writable_listed(plan, path)))
		return 0;

	if (!resolve(path, real)) {
		if (plan->best_effort) {
			note(plan, "%s path %s: %s; skipped (best_effort)", key, path, strerror(errno));
			return 0;
		}
		return fail(rs->err, rs->size, -errno, "%s path %.300s: %s", key, path, strerror(errno));
	}
	r = sandbox_expand(real, rights, LL_READ_DIR, hidden, add_rule, rs, budget);
	if (r == -E2BIG)
		return fail(rs->err, rs->size, r,
			    "more than %d Landlock rules are needed to hide mcpd's files from %.300s (a directory "
			    "on the way to a hidden file has too many entries)", SANDBOX_MAX_RULES, path);
	return r;
}

static int landlock(const struct sandbox_plan *plan, char *err, size_t size)
{
	struct ll_ruleset_attr attr = { .handled_access_fs = fs_rights(plan->landlock_abi) };
	struct ruleset rs = { .abi = plan->landlock_abi, .err = err, .size = size };
	unsigned budget = SANDBOX_MAX_RULES;
	uint64_t all = fs_rights(plan->landlock_abi);
	char **hidden;
	int r = 0;

	if (plan->landlock_abi >= 4 && !plan->network)
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (plan->landlock_abi >= 6) {
		attr.scoped = LL_SCOPE_SIGNAL;
		if (!plan->network)
			attr.scoped |= LL_SCOPE_ABSTRACT_UNIX;
	}
	hidden = resolve_hidden(plan);
	if (!hidden)
		return fail(err, size, -ENOMEM, "out of memory");
	rs.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs.fd < 0)
		return fail(err, size, -errno, "cannot create a Landlock ruleset: %s", strerror(errno));

	if (!plan->readable) {
		r = sandbox_expand("/", LL_READ, LL_READ_DIR, hidden, add_rule, &rs, &budget);
		if (r == -E2BIG)
			r = fail(err, size, r, "more than %d Landlock rules are needed to hide mcpd's files from /",
				 SANDBOX_MAX_RULES);
	} else {
		for (size_t i = 0; r == 0 && i < sizeof(system_paths) / sizeof(*system_paths); i++) {
			char real[PATH_MAX];

			if (resolve(system_paths[i], real))
				r = grant(plan, &rs, "system", real, LL_READ, hidden, &budget);
		}
		for (char **p = plan->readable; r == 0 && *p; p++)
			r = grant(plan, &rs, "readable", *p, LL_READ, hidden, &budget);
		if (r == 0 && plan->exe && access(plan->exe, F_OK) == 0)
			r = grant(plan, &rs, "command", plan->exe, LL_READ, hidden, &budget);
	}
	for (char **p = plan->writable; r == 0 && *p; p++)
		r = grant(plan, &rs, "writable", *p, all, hidden, &budget);
	if (r == 0 && plan->mountns) {
		/* The fresh tmpfs of private_tmp (mounted by sandbox_child_privileged). */
		r = grant(plan, &rs, "private_tmp", "/tmp", all, hidden, &budget);
		if (r == 0 && access("/var/tmp", F_OK) == 0)
			r = grant(plan, &rs, "private_tmp", "/var/tmp", all, hidden, &budget);
	}
	for (size_t i = 0; r == 0 && i < sizeof(devices) / sizeof(*devices); i++)
		if (!is_hidden(devices[i], hidden) && access(devices[i], F_OK) == 0)
			r = add_rule(devices[i], LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV, &rs);
	for (char **h = hidden; *h; h++)
		free(*h);
	free(hidden);
	if (r == 0 && syscall(SYS_landlock_restrict_self, rs.fd, 0) < 0)
		r = fail(err, size, -errno, "cannot enforce the Landlock ruleset: %s", strerror(errno));
	close(rs.fd);
	return r;
}

#ifdef HAVE_SECCOMP
/*
 * network: false without root: only AF_UNIX sockets, and no io_uring (it could
 * open others). A server that runs as root: no chmod, which Landlock does not
 * govern and root's uid may do on any root file (a setuid bit on a readable
 * program, mcpd's manifest made world-readable).
 */
static int seccomp_filter(const struct sandbox_plan *plan, char *err, size_t size)
{
	const struct scmp_arg_cmp not_unix = { .arg = 0, .op = SCMP_CMP_NE, .datum_a = AF_UNIX, .datum_b = 0 };
	static const char *const chmods[] = { "chmod", "fchmod", "fchmodat", "fchmodat2" };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!ctx)
		return fail(err, size, -ENOMEM, "cannot set up a seccomp filter");
	if (plan->seccomp_net &&
	    ((r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1, &not_unix)) < 0 ||
	     (r = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1, &not_unix)) < 0 ||
	     (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(io_uring_setup), 0)) < 0)) {
		seccomp_release(ctx);
		return fail(err, size, r, "network: false: cannot load the seccomp filter: %s", strerror(-r));
	}
	for (size_t i = 0; plan->seccomp_chmod && r == 0 && i < sizeof(chmods) / sizeof(*chmods); i++) {
		int nr = seccomp_syscall_resolve_name(chmods[i]);

		/* A libseccomp older than the system call (fchmodat2: Linux 6.6) cannot name it. */
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		return fail(err, size, r, "cannot load the seccomp filter: %s", strerror(-r));
	return 0;
}
#endif

/*
 * No capability left: ambient, inheritable, permitted, effective. With
 * no_new_privs exec grants none back (not even to root), so a server that runs
 * as root keeps its uid but not root's powers (modules, raw I/O, reading
 * another root process's /proc/PID/environ, DAC override).
 */
static int drop_capabilities(char *err, size_t size)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &h, data) < 0)
		return fail(err, size, -errno, "cannot drop its capabilities: %s", strerror(errno));
	return 0;
}

int sandbox_child_restrict(const struct sandbox_plan *plan, char *err, size_t size)
{
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, size, -errno, "cannot set no_new_privs: %s", strerror(errno));
	if ((r = drop_capabilities(err, size)) < 0)
		return r;
	if (plan->landlock_abi > 0 && (r = landlock(plan, err, size)) < 0)
		return r;
#ifdef HAVE_SECCOMP
	if ((plan->seccomp_net || plan->seccomp_chmod) && (r = seccomp_filter(plan, err, size)) < 0)
		return r;
#endif
	return 0;
}
