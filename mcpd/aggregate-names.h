/*
 * Names of the aggregate endpoint (aggregate.c): a server's tools and prompts
 * are SERVER__NAME, its resource URIs and URI templates mcpd://SERVER/URI
 * (the server's own URI appended verbatim). A name is split at its first
 * "__": server names never contain one (a manifest error). Pure functions,
 * for unit tests.
 */
#ifndef MCPD_AGGREGATE_NAMES_H
#define MCPD_AGGREGATE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define AGG_SEPARATOR	"__"
#define AGG_URI_SCHEME	"mcpd://"

/* "server__name", to free. */
char *agg_name_join(const char *server, const char *name);

/*
 * Split "server__name": the server part into server (size bytes, a name
 * longer than that does not split), *ret_rest points at name in full.
 * False when full has no "__", or either part is empty.
 */
bool agg_name_split(const char *full, char *server, size_t size, const char **ret_rest);

/* "mcpd://server/uri", to free. */
char *agg_uri_join(const char *server, const char *uri);

/* Split "mcpd://server/uri" likewise; false for any other URI, or an empty part. */
bool agg_uri_split(const char *full, char *server, size_t size, const char **ret_rest);

#endif
