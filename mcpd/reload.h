/* Reload: re-read the manifest, diff it against the servers, apply the difference. */
#ifndef MCPD_RELOAD_H
#define MCPD_RELOAD_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct daemon;

/*
 * Returns 0 and a result {manifest, added, removed, changed, unchanged,
 * applied, warnings}, or -EINVAL with *ret_errors a list of
 * "file:line:col: ..." strings: then nothing changed.
 */
int reload_manifest(struct daemon *d, bool dry_run, cJSON **ret_result, cJSON **ret_errors);

#endif
