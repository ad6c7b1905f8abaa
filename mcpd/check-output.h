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
 * bytes of room) by CHECK_OUTPUT_MASK; what no longer fits is dropped. buf is
 * NUL-terminated; returns its new length.
 */
size_t check_output_redact(char *buf, size_t len, size_t size, const char *values, size_t values_len);

/*
 * The first non-blank line of text (len bytes) in buf: control characters as
 * \xNN, cut to max characters with "..." after it when there was more.
 */
void check_output_first_line(const char *text, size_t len, char *buf, size_t size, size_t max);

#endif
