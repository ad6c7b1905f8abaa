/*
 * Bounded input framing for newline-delimited streams: MCP stdio, the control
 * socket, a child's stderr. Memory stays O(max) whatever a peer sends.
 */
#ifndef MCPD_LINEBUF_H
#define MCPD_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum linebuf_mode {
	LINEBUF_REJECT,		/* a line longer than max is an error, and is skipped */
	LINEBUF_SPLIT,		/* a line longer than max comes out in max-sized pieces */
};

struct linebuf {
	char *data;
	size_t len;		/* bytes in data; data[start, len) are not consumed yet */
	size_t cap;
	size_t max;		/* longest line, without its "\r\n" */
	enum linebuf_mode mode;
	bool discarding;	/* REJECT: dropping the rest of a too-long line */
	size_t start;
	size_t scan;		/* data[start, scan) holds no '\n': never searched twice */
	bool holding;		/* a SPLIT piece's NUL covers data[start]: held is the byte */
	char held;
};

void linebuf_init(struct linebuf *lb, size_t max, enum linebuf_mode mode);

/* Release the memory; lb may be used again (it keeps max and mode), or freed again. */
void linebuf_free(struct linebuf *lb);

/*
 * Read once from a non-blocking fd: bytes read (> 0), 0 at EOF, -EAGAIN, or
 * -errno; EINTR is retried. Reads at most up to the bound, about max + 2 bytes
 * (4 KiB at least). -ENOBUFS when unconsumed lines fill it: call linebuf_next()
 * until it returns 0 after every fill.
 */
ssize_t linebuf_fill(struct linebuf *lb, int fd);

/*
 * Append bytes that come from elsewhere. They are stored as given (the caller
 * holds them already), except the rest of a line being discarded.
 */
void linebuf_append(struct linebuf *lb, const char *buf, size_t n);

/*
 * The next complete line, without its '\n' nor a '\r' before it, NUL-terminated
 * in place and valid until the next call that modifies lb: returns 1 and sets
 * *ret_line and *ret_len; 0 when no complete line is buffered. In REJECT mode a
 * line longer than max returns -EMSGSIZE once, and the rest of it is dropped as
 * it arrives; *ret_line and *ret_len then give its first max bytes (not
 * NUL-terminated), to be read before the next call (to answer with its id). In SPLIT mode it comes out in pieces of max bytes, nothing lost.
 */
int linebuf_next(struct linebuf *lb, char **ret_line, size_t *ret_len);

/*
 * At EOF: like linebuf_next(), but the trailing line without '\n' counts as
 * complete. Call it until it returns 0 to get everything.
 */
int linebuf_flush(struct linebuf *lb, char **ret_line, size_t *ret_len);

#endif
