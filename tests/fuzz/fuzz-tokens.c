/* libFuzzer target: the gateway's tokens_file parser (mcpd/tokens.c) on arbitrary bytes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_entry *t = NULL;
	size_t n = 0;
	char *error = NULL;

	if (tokens_parse((const char *)data, size, "fuzz", &t, &n, &error) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!*t[i].name || strlen(t[i].secret) < TOKENS_MIN_SECRET || strchr(t[i].name, '\n'))
				abort();
		tokens_free(t, n);
	} else if (!error) {
		abort();	/* every failure says why */
	}
	free(error);
	return 0;
}
