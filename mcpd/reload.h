/* Reload: re-read the manifest, diff it against the servers, apply the difference. */
#ifndef MCPD_RELOAD_H
#define MCPD_RELOAD_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct daemon;

#include <sys/types.h>

/* Who applies a manifest, for the history: "start", "SIGHUP", or NULL and the control socket peer's uid. */
struct reload_who {
	const char *name;
	uid_t uid;
};

/*
 * Returns 0 and a result {manifest, added, removed, changed, unchanged,
 * applied, warnings}, or -EINVAL with *ret_errors a list of
 * "file:line:col: ..." strings: then nothing changed. An applied manifest
 * is recorded in the history.
 */
int reload_manifest(struct daemon *d, const struct reload_who *who, bool dry_run, cJSON **ret_result,
		    cJSON **ret_errors);

/*
 * The same for a manifest of the history (hash: a prefix, or NULL for the
 * one before the running one), without touching the manifest file. The
 * result also has "hash". Errors: -EINVAL (invalid manifest), or
 * history_lookup's (-ENOENT, -ENOTUNIQ, -EDOM, -ENODATA), each with
 * *ret_errors a list of messages.
 */
int reload_rollback(struct daemon *d, const char *hash, const struct reload_who *who, bool dry_run,
		    cJSON **ret_result, cJSON **ret_errors);

#endif
