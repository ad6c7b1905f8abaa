/*
 * Where the gateway's JWT keys come from (gateway.jwt): jwks_file, read at
 * start and on every reload; or jwks_url, fetched with libcurl on the loop
 * (curl-ev.c) at start, on reload, every hour, and when a token names a kid
 * the set lacks (such fetches at most once per 30 s). Requests never wait for a fetch: a
 * token whose key is not there yet is refused, and its client retries. A
 * failed read or fetch is logged with its cause and keeps the last good set
 * of the same file or URL; a reload naming another one drops the old keys.
 */
#ifndef MCPD_JWKS_SOURCE_H
#define MCPD_JWKS_SOURCE_H

#include <stdbool.h>

struct daemon;
struct jwks;
struct jwks_source;

#define JWKS_REFRESH_SECONDS	3600.	/* a jwks_url is fetched again after this */
#define JWKS_MIN_INTERVAL	30.	/* fetches for unknown kids: at most one per this */
#define JWKS_FETCH_TIMEOUT_MS	10000L

/* NULL when the manifest has no gateway.jwt; else the keys are loaded (a file) or being fetched (a URL). */
struct jwks_source *jwks_source_new(struct daemon *d);

/* After a reload: the current manifest's jwks_file is read again, its jwks_url fetched again. */
void jwks_source_reload(struct jwks_source *js);

/* The current keys, NULL before the first good read or fetch. */
const struct jwks *jwks_source_keys(const struct jwks_source *js);

/* A token named a kid the set lacks: fetch the URL again, unless one did within JWKS_MIN_INTERVAL. */
void jwks_source_unknown_kid(struct jwks_source *js);

void jwks_source_free(struct jwks_source *js);

#endif
