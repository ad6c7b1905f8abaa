/* Small string helpers shared by mcpd and mcpctl. */
#ifndef MCPD_STRUTIL_H
#define MCPD_STRUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Edit distance between a and b, stopping early (returning limit + 1) once above limit. */
size_t str_distance(const char *a, const char *b, size_t limit);

/*
 * The candidate closest to word, if it is close enough to be a likely typo
 * (distance <= 2, and less than half of word's length); NULL otherwise.
 */
const char *str_suggest(const char *word, const char *const *candidates, size_t n);

/* Server names: [a-z0-9][a-z0-9_-]{0,62}. */
bool server_name_valid(const char *name);

/* Environment variable names: [A-Za-z_][A-Za-z0-9_]*. */
bool env_name_valid(const char *name);

#endif
