/* Aggregate names: see aggregate-names.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate-names.h"
#include "xmalloc.h"

static char *join(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *s = xmalloc(n);

	snprintf(s, n, "%s%s%s", a, sep, b);
	return s;
}

char *agg_name_join(const char *server, const char *name)
{
	return join(server, AGG_SEPARATOR, name);
}

/* full[0..len) is the server part, rest the remainder: both non-empty, the server part fits. */
static bool split_at(const char *full, size_t len, const char *rest, char *server, size_t size,
		     const char **ret_rest)
{
	if (len == 0 || len >= size || !*rest)
		return false;
	memcpy(server, full, len);
	server[len] = '\0';
	*ret_rest = rest;
	return true;
}

bool agg_name_split(const char *full, char *server, size_t size, const char **ret_rest)
{
	const char *sep = full ? strstr(full, AGG_SEPARATOR) : NULL;

	if (!sep)
		return false;
	return split_at(full, (size_t)(sep - full), sep + strlen(AGG_SEPARATOR), server, size, ret_rest);
}

char *agg_uri_join(const char *server, const char *uri)
{
	char *prefix = join(AGG_URI_SCHEME, "", server);
	char *s = join(prefix, "/", uri);

	free(prefix);
	return s;
}

bool agg_uri_split(const char *full, char *server, size_t size, const char **ret_rest)
{
	const char *start, *slash;

	if (!full || strncmp(full, AGG_URI_SCHEME, strlen(AGG_URI_SCHEME)) != 0)
		return false;
	start = full + strlen(AGG_URI_SCHEME);
	slash = strchr(start, '/');
	if (!slash)
		return false;
	return split_at(start, (size_t)(slash - start), slash + 1, server, size, ret_rest);
}
