/* The gateway's tokens_file: see tokens.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"
#include "tokens.h"
#include "xmalloc.h"

static char *trim(char *s)
{
	char *t;

	while (isspace((unsigned char)*s))
		s++;
	for (t = s + strlen(s); t > s && isspace((unsigned char)t[-1]);)
		*--t = '\0';
	return s;
}

void tokens_free(struct token_entry *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		explicit_bzero(t[i].secret, strlen(t[i].secret));
		free(t[i].secret);
		free(t[i].name);
	}
	free(t);
}

int tokens_parse(const char *buf, size_t len, const char *path, struct token_entry **ret_tokens, size_t *ret_n,
		 char **ret_error)
{
	struct token_entry *v = NULL;
	size_t n = 0;
	unsigned line = 0;
	char *copy;
	int r = 0;

	if (len > TOKENS_FILE_MAX) {
		xasprintf(ret_error, "cannot read tokens_file %s: larger than 64 KiB", path);
		return -EINVAL;
	}
	if (memchr(buf, '\0', len)) {
		xasprintf(ret_error, "tokens_file %s holds a NUL byte: it must be text", path);
		return -EINVAL;
	}
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	for (char *p = copy, *end; p && *p; p = end) {
		char *colon, *name, *secret;

		end = strchr(p, '\n');
		if (end)
			*end++ = '\0';
		line++;
		p = trim(p);
		if (!*p || *p == '#')
			continue;
		colon = strchr(p, ':');
		if (!colon || n >= TOKENS_MAX) {
			if (colon)
				xasprintf(ret_error, "tokens_file %s:%u: more than %d tokens", path, line, TOKENS_MAX);
			else
				xasprintf(ret_error, "tokens_file %s:%u: expected \"name: token\"", path, line);
			r = -EINVAL;
			break;
		}
		*colon = '\0';
		name = trim(p);
		secret = trim(colon + 1);
		if (!*name || strlen(secret) < TOKENS_MIN_SECRET) {
			xasprintf(ret_error, "tokens_file %s:%u: a name and a token of at least %d characters are needed",
				  path, line, TOKENS_MIN_SECRET);
			r = -EINVAL;
			break;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = (struct token_entry){ .name = xstrdup(name), .secret = xstrdup(secret) };
	}
	explicit_bzero(copy, len + 1);
	free(copy);
	if (r < 0) {
		tokens_free(v, n);
		return r;
	}
	*ret_tokens = v;
	*ret_n = n;
	return 0;
}

int tokens_load(const char *path, struct token_entry **ret_tokens, size_t *ret_n, char **ret_error)
{
	char *buf;
	size_t len;
	/* Non-blocking and regular: a FIFO must not freeze the loop. */
	int r = read_file(path, TOKENS_FILE_MAX, READ_FILE_SECRET, &buf, &len, NULL);

	if (r == -EINVAL)
		xasprintf(ret_error, "cannot read tokens_file %s: not a regular file", path);
	else if (r == -EFBIG)
		xasprintf(ret_error, "cannot read tokens_file %s: larger than 64 KiB", path);
	else if (r < 0)
		xasprintf(ret_error, "cannot read tokens_file %s: %s", path, strerror(-r));
	if (r < 0)
		return r;
	r = tokens_parse(buf, len, path, ret_tokens, ret_n, ret_error);
	explicit_bzero(buf, len);
	free(buf);
	return r;
}
