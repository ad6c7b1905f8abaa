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
 * The value of the member key (matched as written, without escapes) of the
 * object [p, end): true and its text in [*ret_start, *ret_end); false when
 * the text is not one valid object or has no such member.
 */
bool json_text_member(const char *p, const char *end, const char *key, const char **ret_start, const char **ret_end);

/*
 * The value [p, end) into w as mcpctl's output_json lays out a parsed value
 * (two spaces per level, "key": value), the scalars as written: the same
 * bytes as parsing it with cJSON and printing it back, for text cJSON (or
 * jsonw) printed. false when it is not one valid value.
 */
bool json_text_pretty(struct jsonw *w, const char *p, const char *end);

#endif
