/*
 * A server's recent stderr, kept for `mcpctl logs`: whole lines with a
 * timestamp and a sequence number, in at most max_bytes (each line's small
 * header included). When full, the oldest lines go, and are counted.
 */
#ifndef MCPD_LOGBUF_H
#define MCPD_LOGBUF_H

#include <stddef.h>
#include <stdint.h>

struct logbuf;

/* Smallest bound accepted: a smaller max_bytes is raised to it. */
#define LOGBUF_MIN_BYTES 64

struct logbuf *logbuf_new(size_t max_bytes);

/*
 * The readers below take NULL as an empty buffer whose next line is number 1:
 * a server that never wrote to stderr needs none (server.c makes it at the
 * first line).
 */
void logbuf_free(struct logbuf *lb);

/* A reload may change the bound: the oldest lines are dropped to fit. */
void logbuf_set_max(struct logbuf *lb, size_t max_bytes);

/*
 * Add a line (without its '\n'); it gets the sequence number logbuf_next_seq()
 * returned just before. Nothing is refused: a line too long for the whole
 * buffer keeps its last part.
 */
void logbuf_append(struct logbuf *lb, uint64_t ts_ms, const char *line, size_t len);

typedef void (*logbuf_visit_fn)(uint64_t seq, uint64_t ts_ms, const char *line, size_t len, void *userdata);

/* The last n lines (n = 0: all of them), oldest first. */
void logbuf_last(const struct logbuf *lb, size_t n, logbuf_visit_fn fn, void *userdata);

/* The lines with a sequence number above after, oldest first: what a follower missed. */
void logbuf_since(const struct logbuf *lb, uint64_t after, logbuf_visit_fn fn, void *userdata);

/* The number the next line will get; lines are numbered from 1. */
uint64_t logbuf_next_seq(const struct logbuf *lb);

/* Lines dropped to make room, since the buffer was created. */
uint64_t logbuf_dropped(const struct logbuf *lb);

/* Bytes in use, headers included: never above the bound. */
size_t logbuf_bytes(const struct logbuf *lb);

#endif
