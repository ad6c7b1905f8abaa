/* NULL-terminated, malloc'd string vectors (argv-like), as the manifest and mcpd keep lists of paths and words. */
#ifndef MCPD_STRV_H
#define MCPD_STRV_H

#include <stddef.h>

/* Free v and its strings; v may be NULL. */
void strv_free(char **v);

/* A copy of the n strings of v, NULL-terminated; NULL when v is NULL. */
char **strv_dup(char *const *v, size_t n);

/* Append a copy of s to *v (of *n strings, NULL-terminated) unless s is NULL or already there. */
void strv_add_unique(char ***v, size_t *n, const char *s);

#endif
