/* libFuzzer target: the manifest parser and validator on arbitrary bytes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;

	/* Lenient: the fuzzer's environment must not decide what is valid. */
	manifest_parse_buffer("fuzz.yaml", (const char *)data, size, MANIFEST_LENIENT_ENV, &m, &errs);
	manifest_free(m);
	manifest_errors_clear(&errs);
	return 0;
}
