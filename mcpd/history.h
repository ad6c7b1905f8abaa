/*
 * The manifest history: every applied manifest (at start, on reload, on
 * rollback) with its exact content, SHA-256, time, who applied it and the
 * diff against the one before, kept in STATE_DIR/history so that `mcpctl
 * history` and `rollback` work across restarts of mcpd.
 *
 * On disk: SEQ.json (one entry, SEQ 20 digits) and HASH.yaml (the content,
 * once per distinct content: entries of identical manifests share it), and
 * a lock file that keeps a second mcpd out. Reading happens once at start
 * (it may block, like reading the manifest); writes never block the loop:
 * a forked child writes temp files, fsyncs and renames them, and _exits.
 */
#ifndef MCPD_HISTORY_H
#define MCPD_HISTORY_H

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sha256.h"

#define HISTORY_DEFAULT_KEEP	20
#define HISTORY_MAX_KEEP	1000
/* Distinct manifest content kept, all entries together (each manifest is at most 1 MiB). */
#define HISTORY_MAX_BYTES	(16 * 1024 * 1024)
#define HISTORY_SHORT		7	/* hex digits of a short hash */

struct history;

/*
 * mcpd.state_dir's default: $STATE_DIRECTORY (systemd's StateDirectory=),
 * else /var/lib/mcpd for root, else $XDG_STATE_HOME/mcpd, else
 * ~/.local/state/mcpd. Returns 0 and a malloc'd path, or -ENOENT.
 */
int history_default_dir(char **ret_path);

/*
 * Open the history in state_dir (NULL: the default), creating it mode
 * 0700. Never fails: when the directory cannot be created, locked or
 * written, the history is off, *ret_warning says why (malloc'd), and mcpd
 * runs on without it.
 */
struct history *history_open(struct ev_loop *loop, const char *state_dir, unsigned keep, char **ret_warning);

/* Waits for a running writer and writes what is still unsaved: at exit only. */
void history_free(struct history *h);

/* The writer process while one runs (a child of mcpd's, never a stray), else 0; h may be NULL. */
pid_t history_writer_pid(const struct history *h);

bool history_enabled(const struct history *h);

/* The newest entry's content (before the start is recorded: what ran last time). False when none. */
bool history_last(const struct history *h, const char **ret_buf, size_t *ret_len);
/* Why it is off (NULL when on), and where it lives. */
const char *history_off_reason(const struct history *h);
const char *history_state_dir(const struct history *h);

/* mcpd.history changed by a reload: prune to the new count. */
void history_set_keep(struct history *h, unsigned keep);

/*
 * A manifest was applied. action: "start", "reload" or "rollback"; who:
 * "start", "SIGHUP", or NULL for the control socket's peer uid. diff:
 * {"added": [...], "changed": [...], "removed": [...]} (copied). The
 * running manifest is this one, whether or not the history is on.
 */
void history_record(struct history *h, const char *buf, size_t len, const char *action, const char *who, uid_t uid,
		    const cJSON *diff);

/*
 * The content of the entry a rollback asks for: prefix (hex, any length)
 * of a hash, or NULL for the newest entry before the running one whose
 * content differs from it. Returns 0 with *ret_buf and *ret_len pointing
 * into the history (valid until the next record) and ret_hash filled, or
 * -ENOENT (no such entry), -ENOTUNIQ (ambiguous), -EDOM (not hex) or
 * -ENODATA (off), with a malloc'd message in *ret_error.
 */
int history_lookup(const struct history *h, const char *prefix, const char **ret_buf, size_t *ret_len,
		   char ret_hash[SHA256_HEX_LEN + 1], char **ret_error);

/* `history`: {"state_dir", "keep", "entries": [newest first]}. */
cJSON *history_list_json(const struct history *h);

/* For status and /health: {"hash", "source", "file_differs"}. */
cJSON *history_manifest_json(const struct history *h);

/* The diff of two manifests by server name (old may be NULL): {"added", "changed", "removed"}. */
struct manifest;
cJSON *history_diff(const struct manifest *old, const struct manifest *new);

#endif
