/*
 * Reading a small local file whole, never waiting on the way: the manifest on
 * reload, env_files, secrets, tokens_file. One function, so that every such
 * read is bounded, refuses what is not a regular file, and (for secrets)
 * leaves no copy behind.
 */
#ifndef MCPD_READFILE_H
#define MCPD_READFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Any type of file (a FIFO, <(...)): only before the event loop runs, as it may wait. */
#define READ_FILE_ANY_TYPE	1u
/* The content is a secret: every buffer is wiped before it is freed. */
#define READ_FILE_SECRET	2u

/*
 * Read path whole, at most max bytes. Without READ_FILE_ANY_TYPE it is opened
 * O_NONBLOCK (a FIFO does not wait for a writer) and anything but a regular
 * file is refused. Returns 0 with a malloc'd, NUL-terminated buffer; or
 * -EISDIR, -EINVAL (not a regular file; *ret_mode says what it is), -EFBIG
 * (larger than max), or the -errno of open, fstat or read. ret_mode may be
 * NULL; it is set whenever fstat succeeded.
 */
int read_file(const char *path, size_t max, unsigned flags, char **ret_buf, size_t *ret_len, mode_t *ret_mode);

/* "a FIFO", "a directory", "a socket", "a device" or "not a regular file", for messages. */
const char *file_type_name(mode_t mode);

#endif
