/* Durations ("250ms", "1s", "5m", "1h30m") and sizes ("512K", "64M", "1G"). */
#ifndef MCPD_DURATION_H
#define MCPD_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Longest duration accepted: 30 days, so any sum of durations fits comfortably in 64 bits. */
#define DURATION_MAX_MS (30ULL * 24 * 3600 * 1000)

/*
 * Parse a duration: one or more NUMBER UNIT groups, UNIT one of ms, s, m, h, d
 * ("1h30m", "1.5s"); a bare "0" is zero. Returns 0 and the value in
 * milliseconds, or -EINVAL (malformed) / -ERANGE (above DURATION_MAX_MS).
 */
int duration_parse(const char *s, uint64_t *ret_ms);

/* Format milliseconds the way a person writes them: "250ms", "4s", "1m30s", "2h". */
void duration_format(uint64_t ms, char *buf, size_t size);

/*
 * Parse a size: an integer with an optional binary suffix K, M, G or T
 * (optionally followed by "B" or "iB": "64M", "64MB", "64MiB"); plain numbers
 * are bytes. Returns 0, -EINVAL or -ERANGE.
 */
int size_parse(const char *s, uint64_t *ret_bytes);

/* Format bytes with the largest exact binary suffix: "512K", "64M", "1000". */
void size_format(uint64_t bytes, char *buf, size_t size);

#endif
