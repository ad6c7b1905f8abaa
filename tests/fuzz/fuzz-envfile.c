/* libFuzzer target: the env_file parser (mcpd/childenv.c) on arbitrary bytes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childenv.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct childenv e = { 0 };
	char *error = NULL;
	char *buf;

	if (size > CHILDENV_FILE_MAX)
		return 0;	/* read_bounded refuses it before the parser sees it */
	/* An exact-size copy: ASan catches a read one byte past the file. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (childenv_parse_env_file(&e, "/fuzz/env", buf, size, &error) == 0) {
		/* What the parser promises: NAME=VALUE with a valid name, nothing else. */
		for (size_t i = 0; i < e.n; i++) {
			char *eq = strchr(e.envp[i], '=');

			if (!eq)
				abort();
			*eq = '\0';
			if (!env_name_valid(e.envp[i]))
				abort();
			*eq = '=';
		}
		if (memcmp(buf, data, size) != 0)
			abort();	/* changed in place, and restored */
	} else if (!error) {
		abort();
	}
	free(error);
	childenv_free(&e);
	free(buf);
	return 0;
}
