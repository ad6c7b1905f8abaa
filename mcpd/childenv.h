/*
 * A child's environment, built afresh before every start: mcpd's own
 * environment minus what is meant for mcpd alone, then env_file, then the
 * manifest's env, then secrets; a later source overrides an earlier one.
 * No fork here: the result is handed to spawn_start().
 */
#ifndef MCPD_CHILDENV_H
#define MCPD_CHILDENV_H

#include <stddef.h>

#include "manifest.h"

#define CHILDENV_FILE_MAX	(1024 * 1024)	/* env_file */
#define CHILDENV_SECRET_MAX	(64 * 1024)	/* one secret file */

struct childenv {
	char **envp;		/* NULL-terminated "K=V", each name once */
	size_t n, cap;
	char *warnings;		/* NULL, or "; "-joined warnings, e.g. a world-readable secret file */
};

/*
 * Variables removed from base_environ: NOTIFY_SOCKET, LISTEN_FDS, LISTEN_PID,
 * LISTEN_FDNAMES, WATCHDOG_USEC, WATCHDOG_PID, JOURNAL_STREAM (they describe
 * mcpd's own sockets, watchdog and stderr). The manifest may still set them.
 *
 * env_file lines: NAME=VALUE, an optional "export " prefix, blank lines and
 * '#' comments skipped, surrounding whitespace trimmed, one pair of matching
 * quotes ('…' or "…") around VALUE removed; nothing else is interpreted.
 * A secret is its file's content minus one trailing newline. An env_file or a
 * secret file that every user may read is used, with a warning in ->warnings.
 *
 * Returns 0, or -errno / -EINVAL with a malloc'd one-line *ret_error that
 * names the file (and line) but never a secret's content; *ret is then empty.
 */
int childenv_build(const struct server_conf *c, char *const *base_environ, struct childenv *ret,
		   char **ret_error);

/*
 * The env_file parser alone (for the fuzzer and the tests): adds the pairs of
 * buf (len bytes, changed in place and restored) to e. Returns 0, or -EINVAL
 * with a malloc'd *ret_error naming path and the line, never its content.
 */
int childenv_parse_env_file(struct childenv *e, const char *path, char *buf, size_t len, char **ret_error);

/* Wipes (secrets live here) and frees; the struct may be reused. */
void childenv_free(struct childenv *e);

#endif
