/*
 * What a health.exec check printed, made fit for a detail: the values of the
 * server's secrets replaced, the first line kept, control characters escaped.
 * Pure functions (no loop, no I/O), unit-tested.
 */
#ifndef MCPD_CHECK_OUTPUT_H
#define MCPD_CHECK_OUTPUT_H

#include <stddef.h>

#define CHECK_OUTPUT_MASK "***"

/*
 * Replace every occurrence of each value of values (values_len bytes of
 * NUL-terminated strings; empty ones are skipped) in buf (len bytes, size
 * bytes of room) by CHECK_OUTPUT_MASK, a run of overlapping occurrences by one
 * mask; what no longer fits is dropped. buf is NUL-terminated; returns its new
 * length (0, buf emptied, when there is no memory to do it).
 */
size_t check_output_redact(char *buf, size_t len, size_t size, const char *values, size_t values_len);

/*
 * buf's len bytes are the start of a longer output: the length without its
 * tail where that tail could be the start of a value (a value cut off by the
 * output kept, which no redaction would find whole).
 */
size_t check_output_cut_partial(const char *buf, size_t len, const char *values, size_t values_len);

/* The length of the valid UTF-8 character at text (avail bytes), 0 if none is. */
size_t check_output_utf8_len(const char *text, size_t avail);

/*
 * The first non-blank line of text (len bytes) in buf: valid UTF-8 kept whole,
 * control characters and bytes that are not UTF-8 as \xNN, cut to max
 * characters with "..." after it when there was more.
 */
void check_output_first_line(const char *text, size_t len, char *buf, size_t size, size_t max);

#endif
