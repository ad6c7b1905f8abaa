/*
 * What an approver sees of a held call's arguments: a bounded, redacted
 * preview (pure functions, unit-tested in tests/unit/test-approvals.c).
 */
#ifndef MCPD_APPROVALS_PREVIEW_H
#define MCPD_APPROVALS_PREVIEW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Bytes of a preview, its "..." included (the buffer needs one more for the NUL). */
#define APPROVALS_PREVIEW_MAX	200

/* Does a key name a secret (password, token, secret, key, authorization, cookie, in any case)? */
bool approvals_secret_key(const char *key);

/*
 * args as compact JSON with the value of every secret key, at any depth,
 * replaced by "***"; cut to APPROVALS_PREVIEW_MAX bytes (ending in "...",
 * never inside a UTF-8 sequence). NULL args: "{}". buf: at least
 * APPROVALS_PREVIEW_MAX + 1 bytes.
 */
void approvals_preview(const cJSON *args, char *buf, size_t size);

#endif
