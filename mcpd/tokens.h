/*
 * The gateway's tokens_file: one "name: token" per line, blank lines and
 * lines starting with # ignored, tokens of at least 16 characters. Parsed
 * from a buffer so that it can be unit-tested and fuzzed; error messages
 * never echo a line (it holds a secret).
 */
#ifndef MCPD_TOKENS_H
#define MCPD_TOKENS_H

#include <stddef.h>

#define TOKENS_MAX		1024
#define TOKENS_FILE_MAX		(64 * 1024)
#define TOKENS_MIN_SECRET	16

struct token_entry {
	char *name;
	char *secret;
};

/*
 * Parse len bytes of buf (path only names the file in messages). 0 with the
 * entries in ret_tokens/ret_n (possibly none), or -EINVAL and a message.
 */
int tokens_parse(const char *buf, size_t len, const char *path, struct token_entry **ret_tokens, size_t *ret_n,
		 char **ret_error);

/* Read and parse a tokens_file (a regular file of at most 64 KiB). */
int tokens_load(const char *path, struct token_entry **ret_tokens, size_t *ret_n, char **ret_error);

/* Secrets are wiped before they are freed. */
void tokens_free(struct token_entry *t, size_t n);

#endif
