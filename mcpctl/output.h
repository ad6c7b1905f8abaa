/*
 * How mcpctl prints: tables that fit a terminal, short durations, and JSON
 * for --json. Human output may change between releases; JSON output is stable.
 */
#ifndef MCPCTL_OUTPUT_H
#define MCPCTL_OUTPUT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Width every table fits in: the last column is cut to it. */
#define OUTPUT_WIDTH 80

struct table;

/* A table with ncols columns named by headers (copied). */
struct table *table_new(const char *const *headers, size_t ncols);

/* Cut column col to at most max characters, marking the cut with "~". */
void table_set_max(struct table *t, size_t col, size_t max);

/* Align column col to the right (figures), not the left. */
void table_set_right(struct table *t, size_t col);

/* Add a row of ncols cells (copied; NULL is printed "-"). */
void table_add(struct table *t, const char *const *cells);

/*
 * A note for the row added last (copied): printed on the lines below the row,
 * indented by four spaces and wrapped at the table's width, so that a row's
 * layout never depends on the note's length. NULL or "" adds none; a row may
 * have several, each starting on a line of its own.
 */
void table_add_note(struct table *t, const char *note);

/*
 * Print the header and the rows, columns two spaces apart and sized to their
 * content; the last column is cut with "..." so that a line fits in width
 * (but it keeps at least a few characters).
 */
void table_print(const struct table *t, FILE *out, size_t width);

void table_free(struct table *t);

/* An uptime in at most two units: "45s", "3m12s", "2h5m", "3d4h". */
void output_duration(uint64_t seconds, char *buf, size_t size);

/*
 * Figures for humans, two or three significant digits: a latency "0.4ms",
 * "12ms", "1.5s"; a count "950", "1.2k", "34M"; a rate per second "0.02",
 * "3.5", "120", "1.2k"; a fraction 0..1 as "0%", "0.5%", "12%"; bytes
 * "512B", "1.2K", "34M", "2.0G" (powers of 1024, as ps and top).
 */
void output_latency(double ms, char *buf, size_t size);
void output_count(double n, char *buf, size_t size);
void output_rate(double per_s, char *buf, size_t size);
void output_percent(double fraction, char *buf, size_t size);
void output_bytes(double bytes, char *buf, size_t size);

/* v pretty-printed, then a newline: the --json output of one result. */
void output_json(const cJSON *v);

/* The JSON text [text, text + len) as output_json prints it parsed, without a tree; false when it is not JSON. */
bool output_json_text(const char *text, size_t len);

/* v on one line, then a newline: one record of a --json stream (NDJSON). */
void output_json_line(const cJSON *v);

/* Reading mcpd's results: o[key] when it is a string, else fallback. */
const char *json_string(const cJSON *o, const char *key, const char *fallback);

/* Whether o[key] is a number (not null, not absent), and its value. */
bool json_number(const cJSON *o, const char *key, double *ret);

#endif
