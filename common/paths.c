#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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
		path = xstrdup("/run/mcpd/control.sock");
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
