/*
 * A JSON writer into one growing buffer: what cJSON_PrintUnformatted prints,
 * byte for byte (the same escaping, the same numbers), without its per-value
 * strlen, its printf/sscanf round trip for whole numbers and short decimals,
 * or a copy of the text afterwards. NaN and infinities are written as null,
 * as cJSON writes them.
 */
#ifndef MCPD_JSONW_H
#define MCPD_JSONW_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct jsonw {
	char *buf;		/* NUL-terminated once anything was written */
	size_t len;
	size_t cap;
	bool raw;		/* a cJSON_Raw value was written: it may hold a CR or LF */
	size_t raw_lo, raw_hi;	/* the bytes the raw values were written to (a control reply's id: a few) */
};

#define JSONW_NUMBER_MAX 32

void jsonw_init(struct jsonw *w);
void jsonw_free(struct jsonw *w);

/* Hand the text over (the caller frees it; NULL if nothing was written); w is empty again. */
char *jsonw_take(struct jsonw *w, size_t *ret_len);

void jsonw_bytes(struct jsonw *w, const void *p, size_t n);
void jsonw_char(struct jsonw *w, char c);

/* A quoted, escaped string; NULL is written as "" (as cJSON does). */
void jsonw_string(struct jsonw *w, const char *s);

/* A number as cJSON prints a number item of value d. */
void jsonw_number(struct jsonw *w, double d);

/* v in compact form: cJSON_PrintUnformatted's text. */
void jsonw_value(struct jsonw *w, const cJSON *v);

/* The text cJSON prints for a number d, into out (JSONW_NUMBER_MAX bytes, NUL-terminated); returns its length. */
size_t jsonw_format_number(double d, char *out);

void jsonw_null(struct jsonw *w);
void jsonw_bool(struct jsonw *w, bool b);

/* Before an array's item: a ',' unless it is the array's first. */
void jsonw_item(struct jsonw *w);

/* "key": inside an object, after a ',' unless it is the object's first member. */
void jsonw_key(struct jsonw *w, const char *key);

/* "key":v inside an object, or "key":null when have is false. */
void jsonw_member_number(struct jsonw *w, const char *key, bool have, double v);

/* End a message as a line of the wire format: raw CR and LF (only a cJSON_Raw value has them) as spaces, then '\n'. */
void jsonw_end_line(struct jsonw *w);

/* One line of the wire format, as jsonrpc_serialize() writes it: msg compact, then '\n'. */
void jsonw_line(struct jsonw *w, const cJSON *msg);

#endif
