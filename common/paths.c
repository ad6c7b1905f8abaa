#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "xmalloc.h"

/*
 * A runtime directory from the environment, or NULL. A relative one is
 * ignored, as the XDG base directory specification asks: it would put the
 * socket wherever the process happens to run.
 */
static const char *
env_dir(const char *name, bool list, size_t *ret_len)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] != '/')
		return NULL;
	/* systemd joins several RuntimeDirectory= entries with ':'. */
	*ret_len = list ? strcspn(v, ":") : strlen(v);
	return v;
}

static int
checked(char *path, char **ret_path)
{
	if (strlen(path) > CONTROL_SOCKET_PATH_MAX) {
		free(path);
		return -ENAMETOOLONG;
	}
	*ret_path = path;
	return 0;
}

int
control_socket_default(char **ret_path)
{
	const char *dir;
	size_t len;
	char *path;

	if ((dir = env_dir("RUNTIME_DIRECTORY", true, &len)) != NULL)
		xasprintf(&path, "%.*s/control.sock", (int)len, dir);
	else if (geteuid() == 0)
		path = xstrdup(RUNSTATEDIR "/mcpd/control.sock");
	else if ((dir = env_dir("XDG_RUNTIME_DIR", false, &len)) != NULL)
		xasprintf(&path, "%.*s/mcpd/control.sock", (int)len, dir);
	else
		xasprintf(&path, "/tmp/mcpd-%u/control.sock", (unsigned)geteuid());
	return checked(path, ret_path);
}

int
control_socket_resolve(const char *opt_s, const char *manifest_control, char **ret)
{
	const char *env = getenv("MCPD_SOCKET");

	if (opt_s != NULL)
		return checked(xstrdup(opt_s), ret);
	if (env != NULL && env[0] != '\0')
		return checked(xstrdup(env), ret);
	if (manifest_control != NULL)
		return checked(xstrdup(manifest_control), ret);
	return control_socket_default(ret);
}

bool
control_socket_is_user_default(const char *path)
{
	size_t len;
	char *def;
	bool is;

	if (geteuid() == 0 || env_dir("RUNTIME_DIRECTORY", true, &len) != NULL)
		return false;
	if (control_socket_default(&def) < 0)
		return false;
	is = strcmp(def, path) == 0;
	free(def);
	return is;
}

int
control_dir_check(const char *dir, uid_t uid, bool private, char **ret_error)
{
	struct stat st;
	mode_t mode;

	if (lstat(dir, &st) < 0) {
		int r = -errno;

		xasprintf(ret_error, "cannot use %s for the control socket: %s", dir, strerror(-r));
		return r;
	}
	mode = st.st_mode & 07777;
	if (!S_ISDIR(st.st_mode)) {
		xasprintf(ret_error, "refusing %s for the control socket: it is not a directory (a symlink?)", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != uid && (private || st.st_uid != 0)) {
		xasprintf(ret_error,
			  "refusing %s for the control socket: it belongs to uid %u, not to uid %u%s; another user may have "
			  "created it to receive mcpctl's traffic: remove it, or use -s",
			  dir, (unsigned)st.st_uid, (unsigned)uid, private ? "" : " or root");
		return -EPERM;
	}
	if (private && (mode & 077)) {
		/* Ours: an older mcpd made it 0750. Nobody else may use it; tighten it rather than refuse. */
		if (chmod(dir, 0700) < 0) {
			int r = -errno;

			xasprintf(ret_error, "cannot make %s private (mode %04o): %s", dir, (unsigned)mode, strerror(-r));
			return r;
		}
		return 0;
	}
	if ((mode & 022) && !(mode & S_ISVTX)) {
		xasprintf(ret_error,
			  "refusing %s for the control socket: mode %04o lets others replace the socket; make it "
			  "writable by its owner alone (chmod go-w), or use -s",
			  dir, (unsigned)mode);
		return -EPERM;
	}
	return 0;
}

bool
control_peer_trusted(const char *path, uid_t peer_uid, uid_t uid)
{
	char *dir, *slash;
	struct stat st, parent;
	bool ok = false;

	if (peer_uid == 0 || peer_uid == uid)
		return true;
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == peer_uid && !(st.st_mode & 022)) {
			slash = strrchr(dir, '/');
			if (slash == dir)
				slash[1] = '\0';
			else if (slash)
				*slash = '\0';
			ok = slash && stat(dir, &parent) == 0 && parent.st_uid == 0 && !(parent.st_mode & 022);
		}
	}
	free(dir);
	return ok;
}
