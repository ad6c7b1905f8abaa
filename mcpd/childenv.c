/* A child's environment: see childenv.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "childenv.h"
#include "readfile.h"
#include "strutil.h"
#include "xmalloc.h"

/* Meant for mcpd alone: a child that saw them would talk to mcpd's systemd as if it were mcpd. */
static const char *const mcpd_only[] = {
	"NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
	"WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM",
};

static size_t name_len(const char *kv)
{
	return strcspn(kv, "=");
}

static bool mcpd_only_var(const char *kv)
{
	size_t len = name_len(kv);

	for (size_t i = 0; i < sizeof(mcpd_only) / sizeof(mcpd_only[0]); i++)
		if (strlen(mcpd_only[i]) == len && memcmp(mcpd_only[i], kv, len) == 0)
			return true;
	return false;
}

/* Room for one more entry and the terminating NULL. */
static void reserve(struct childenv *e)
{
	if (e->n + 1 >= e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->envp = xreallocarray(e->envp, e->cap, sizeof(*e->envp));
	}
}

static void push(struct childenv *e, char *kv)
{
	reserve(e);
	e->envp[e->n++] = kv;
	e->envp[e->n] = NULL;
}

static char *kv_join(const char *name, size_t nlen, const char *value, size_t vlen)
{
	char *kv = xmalloc(nlen + 1 + vlen + 1);

	memcpy(kv, name, nlen);
	kv[nlen] = '=';
	memcpy(kv + nlen + 1, value, vlen);
	kv[nlen + 1 + vlen] = '\0';
	return kv;
}

static void wipe_free(char *s, size_t len)
{
	if (!s)
		return;
	explicit_bzero(s, len);
	free(s);
}

struct slot {
	const char *kv;
	size_t i;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	size_t lx = name_len(x->kv), ly = name_len(y->kv);
	int c = memcmp(x->kv, y->kv, lx < ly ? lx : ly);

	if (c != 0)
		return c;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Keep the last definition of each name, in place: O(n log n) even for a 1 MiB env_file. */
static void dedup(struct childenv *e)
{
	struct slot *s = xcalloc(e->n ? e->n : 1, sizeof(*s));
	size_t k = 0;

	for (size_t i = 0; i < e->n; i++)
		s[i] = (struct slot){ e->envp[i], i };
	qsort(s, e->n, sizeof(*s), slot_cmp);
	for (size_t i = 0; i + 1 < e->n; i++) {
		if (name_len(s[i].kv) == name_len(s[i + 1].kv) &&
		    memcmp(s[i].kv, s[i + 1].kv, name_len(s[i].kv)) == 0) {
			wipe_free(e->envp[s[i].i], strlen(e->envp[s[i].i]));
			e->envp[s[i].i] = NULL;
		}
	}
	free(s);
	for (size_t i = 0; i < e->n; i++)
		if (e->envp[i])
			e->envp[k++] = e->envp[i];
	e->n = k;
	e->envp[k] = NULL;
}

static void add_warning(struct childenv *e, const char *text)
{
	char *joined;

	if (!e->warnings) {
		e->warnings = xstrdup(text);
		return;
	}
	xasprintf(&joined, "%s; %s", e->warnings, text);
	free(e->warnings);
	e->warnings = joined;
}

/*
 * Read a small local file whole: regular files only, at most max bytes. Buffers
 * are wiped before they are freed since they may hold a secret. what names the
 * file in messages ("env_file /x", "secret NAME from /x"); a file every user
 * may read gets a warning in e.
 */
static int read_bounded(struct childenv *e, const char *path, size_t max, const char *max_text, const char *what,
			char **ret_buf, size_t *ret_len, char **ret_error)
{
	mode_t mode = 0;
	int r = read_file(path, max, READ_FILE_SECRET, ret_buf, ret_len, &mode);

	if (r == -EINVAL)
		xasprintf(ret_error, "cannot read %s: not a regular file", what);
	else if (r == -EFBIG)
		xasprintf(ret_error, "cannot read %s: larger than %s", what, max_text);
	else if (r < 0)
		xasprintf(ret_error, "cannot read %s: %s", what, strerror(-r));
	if (r < 0)
		return r;
	if (mode & S_IROTH) {
		char *w;

		xasprintf(&w, "%s is readable by every user (mode %04o): chmod o-r %s", what, (unsigned)(mode & 07777),
			  path);
		add_warning(e, w);
		free(w);
	}
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int childenv_parse_env_file(struct childenv *e, const char *path, char *buf, size_t len, char **ret_error)
{
	char *p = buf, *end = buf + len;
	unsigned line = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *s = p, *t = nl ? nl : end, *eq, *v;
		size_t vlen;
		bool ok;

		line++;
		p = nl ? nl + 1 : end;
		if (memchr(s, '\0', (size_t)(t - s))) {
			xasprintf(ret_error, "env_file %s:%u: contains a NUL byte", path, line);
			return -EINVAL;
		}
		while (s < t && is_blank(*s))
			s++;
		while (t > s && (is_blank(t[-1]) || t[-1] == '\r'))
			t--;
		if (s == t || *s == '#')
			continue;
		if (t - s > 7 && memcmp(s, "export", 6) == 0 && is_blank(s[6])) {
			s += 7;
			while (s < t && is_blank(*s))
				s++;
		}
		eq = memchr(s, '=', (size_t)(t - s));
		ok = eq != NULL;
		if (ok) {
			*eq = '\0';
			ok = env_name_valid(s);
			*eq = '=';
		}
		if (!ok) {
			/* The line is not echoed: env files often hold credentials. */
			xasprintf(ret_error, "env_file %s:%u: expected NAME=VALUE", path, line);
			return -EINVAL;
		}
		v = eq + 1;
		vlen = (size_t)(t - v);
		if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
			v++;
			vlen -= 2;
		}
		push(e, kv_join(s, (size_t)(eq - s), v, vlen));
	}
	return 0;
}

static int add_env_file(struct childenv *e, const char *path, char **ret_error)
{
	char *what, *buf = NULL;
	size_t len = 0;
	int r;

	xasprintf(&what, "env_file %s", path);
	r = read_bounded(e, path, CHILDENV_FILE_MAX, "1 MiB", what, &buf, &len, ret_error);
	free(what);
	if (r < 0)
		return r;
	r = childenv_parse_env_file(e, path, buf, len, ret_error);
	wipe_free(buf, len);
	return r;
}

static int add_secret(struct childenv *e, const struct kv *s, char **ret_error)
{
	char *what, *buf = NULL;
	size_t len = 0, vlen;
	int r;

	xasprintf(&what, "secret %s from %s", s->key, s->value);
	r = read_bounded(e, s->value, CHILDENV_SECRET_MAX, "64 KiB", what, &buf, &len, ret_error);
	if (r < 0)
		goto out;
	vlen = len;
	if (vlen > 0 && buf[vlen - 1] == '\n') {
		vlen--;
		if (vlen > 0 && buf[vlen - 1] == '\r')
			vlen--;
	}
	if (memchr(buf, '\0', vlen)) {
		xasprintf(ret_error, "cannot use %s: it contains a NUL byte", what);
		r = -EINVAL;
	} else {
		push(e, kv_join(s->key, strlen(s->key), buf, vlen));
	}
	wipe_free(buf, len);
out:
	free(what);
	return r;
}

int childenv_build(const struct server_conf *c, char *const *base_environ, struct childenv *ret, char **ret_error)
{
	struct childenv e = { 0 };
	int r;

	*ret = (struct childenv){ 0 };
	reserve(&e);		/* an empty environment is still an array */
	e.envp[0] = NULL;
	for (size_t i = 0; base_environ && base_environ[i]; i++)
		if (strchr(base_environ[i], '=') && !mcpd_only_var(base_environ[i]))
			push(&e, xstrdup(base_environ[i]));
	if (c->env_file && (r = add_env_file(&e, c->env_file, ret_error)) < 0)
		goto fail;
	for (size_t i = 0; i < c->env.n; i++)
		push(&e, kv_join(c->env.items[i].key, strlen(c->env.items[i].key), c->env.items[i].value,
				 strlen(c->env.items[i].value)));
	for (size_t i = 0; i < c->secrets.n; i++)
		if ((r = add_secret(&e, &c->secrets.items[i], ret_error)) < 0)
			goto fail;
	if (c->replica > 0) {
		/* Which of replicas: N this process is, so that replicas can use different files or ports. */
		char *kv;

		xasprintf(&kv, "MCPD_REPLICA=%u", c->replica);
		push(&e, kv);
		xasprintf(&kv, "MCPD_REPLICAS=%u", c->replicas);
		push(&e, kv);
	}
	dedup(&e);
	*ret = e;
	return 0;

fail:
	childenv_free(&e);
	return r;
}

void childenv_free(struct childenv *e)
{
	for (size_t i = 0; i < e->n; i++)
		wipe_free(e->envp[i], strlen(e->envp[i]));
	free(e->envp);
	free(e->warnings);
	*e = (struct childenv){ 0 };
}
