/*
 * JSON text without a tree: check a value, find a member of an object and
 * print a value pretty, straight from the text. For a reply mcpctl only
 * passes on (`mcpctl --json status`: 700 KB at 1000 servers), where parsing
 * it into cJSON items and printing them back costs more than the rest.
 */
#ifndef MCPCTL_JSON_TEXT_H
#define MCPCTL_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct jsonw;

/*
 * The value at p (after any whitespace), checked against JSON's grammar:
 * returns the byte after it, or NULL when it is not JSON (or nests deeper
 * than cJSON would parse).
 */
const char *json_text_skip(const char *p, const char *end);

/*
 * The members keys[0..n) of the object [p, end), matched as written (without
 * escapes): each one's text in [ret_start[i], ret_end[i]), or NULL when it
 * is not there (the first of duplicates counts). false when the text is not
 * one valid object. One walk over the text.
 */
bool json_text_members(const char *p, const char *end, const char *const *keys, size_t n, const char **ret_start,
		       const char **ret_end);

/*
 * The value [p, end) into w as mcpctl's output_json lays out a parsed value
 * (two spaces per level, "key": value), the scalars as written: the same
 * bytes as parsing it with cJSON and printing it back, for text cJSON (or
 * jsonw) printed. false when it is not one valid value.
 */
bool json_text_pretty(struct jsonw *w, const char *p, const char *end);

/* Two spaces per level of depth: output_json's and json_text_pretty's indentation. */
void json_text_indent(struct jsonw *w, unsigned depth);

#endif
