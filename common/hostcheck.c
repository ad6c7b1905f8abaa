/* Checks of a manifest against this host: see hostcheck.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostcheck.h"

struct check {
	const struct manifest *m;
	bool warning;
	struct manifest_errors *errs;
	size_t added;
};

static void add(struct check *c, const char *server, const char *key, const char *what)
{
	char path[256];

	snprintf(path, sizeof(path), "servers.%s.%s", server, key);
	manifest_error_add(c->errs, c->m->path, c->warning, path, "%s; the server would fail at every start", what);
	c->added++;
}

/* A name, or a number (which needs no entry in the user database). */
static bool numeric(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static void check_user(struct check *c, const struct server_conf *s)
{
	char what[320];

	if (!s->user || numeric(s->user))
		return;
	errno = 0;
	if (!getpwnam(s->user)) {
		snprintf(what, sizeof(what), "no user \"%.64s\" on this host%s%s", s->user, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		add(c, s->name, "user", what);
	}
}

static void check_group(struct check *c, const struct server_conf *s)
{
	char what[320];

	if (!s->group || numeric(s->group))
		return;
	errno = 0;
	if (!getgrnam(s->group)) {
		snprintf(what, sizeof(what), "no group \"%.64s\" on this host%s%s", s->group, errno ? ": " : "",
			 errno ? strerror(errno) : "");
		add(c, s->name, "group", what);
	}
}

/* A file mcpd reads for the server: it exists, is a regular file, and this process may read it. */
static void check_file(struct check *c, const struct server_conf *s, const char *key, const char *file)
{
	char what[1200];
	struct stat st;

	if (stat(file, &st) < 0)
		snprintf(what, sizeof(what), "cannot use %.1000s: %s", file, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(what, sizeof(what), "%.1000s is not a regular file", file);
	else if (access(file, R_OK) < 0)
		snprintf(what, sizeof(what), "cannot read %.1000s: %s", file, strerror(errno));
	else
		return;
	add(c, s->name, key, what);
}

size_t manifest_check_host(const struct manifest *m, bool as_errors, struct manifest_errors *errs)
{
	struct check c = { .m = m, .warning = !as_errors, .errs = errs };

	for (size_t i = 0; i < m->nservers; i++) {
		const struct server_conf *s = &m->servers[i];

		check_user(&c, s);
		check_group(&c, s);
		if (s->env_file)
			check_file(&c, s, "env_file", s->env_file);
		for (size_t k = 0; k < s->secrets.n; k++) {
			char key[160];

			snprintf(key, sizeof(key), "secrets.%.128s", s->secrets.items[k].key);
			check_file(&c, s, key, s->secrets.items[k].value);
		}
	}
	return c.added;
}
