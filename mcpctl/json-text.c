/* JSON text without a tree: see json-text.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "json-text.h"
#include "jsonw.h"

#define DEPTH_MAX 1000	/* cJSON's CJSON_NESTING_LIMIT */

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static bool hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		if (++p >= end)
			return NULL;
		if (*p == 'u') {
			if (end - p < 5 || !hex(p[1]) || !hex(p[2]) || !hex(p[3]) || !hex(p[4]))
				return NULL;
			p += 4;
		} else if (!strchr("\"\\/bfnrt", *p)) {
			return NULL;
		}
	}
	return NULL;
}

static const char *digits(const char *p, const char *end)
{
	const char *start = p;

	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p > start ? p : NULL;
}

static const char *skip_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (!(p = digits(p, end)))
		return NULL;
	if (p < end && *p == '.' && !(p = digits(p + 1, end)))
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!(p = digits(p, end)))
			return NULL;
	}
	return p;
}

static const char *skip_word(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/*
 * One value at p (whitespace before it skipped), written pretty into w at
 * depth when w is not NULL: the one walk behind checking and printing.
 */
static const char *walk(const char *p, const char *end, struct jsonw *w, unsigned depth);

void json_text_indent(struct jsonw *w, unsigned depth)
{
	static const char spaces[] = "                                ";

	for (size_t n = (size_t)depth * 2; n > 0;) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		jsonw_bytes(w, spaces, k);
		n -= k;
	}
}

static const char *walk_container(const char *p, const char *end, struct jsonw *w, unsigned depth)
{
	bool object = *p == '{';
	char close = object ? '}' : ']';
	const char *q;
	bool first = true;

	if (depth >= DEPTH_MAX)
		return NULL;
	p = ws(p + 1, end);
	if (p < end && *p == close) {
		if (w)
			jsonw_bytes(w, object ? "{}" : "[]", 2);
		return p + 1;
	}
	if (w)
		jsonw_char(w, object ? '{' : '[');
	for (;;) {
		if (w) {
			if (!first)
				jsonw_char(w, ',');
			jsonw_char(w, '\n');
			json_text_indent(w, depth + 1);
		}
		first = false;
		if (object) {
			p = ws(p, end);
			if (p >= end || *p != '"' || !(q = skip_string(p, end)))
				return NULL;
			if (w) {
				jsonw_bytes(w, p, (size_t)(q - p));
				jsonw_bytes(w, ": ", 2);
			}
			p = ws(q, end);
			if (p >= end || *p != ':')
				return NULL;
			p++;
		}
		if (!(p = walk(p, end, w, depth + 1)))
			return NULL;
		p = ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p >= end || *p != close)
			return NULL;
		if (w) {
			jsonw_char(w, '\n');
			json_text_indent(w, depth);
			jsonw_char(w, close);
		}
		return p + 1;
	}
}

static const char *walk(const char *p, const char *end, struct jsonw *w, unsigned depth)
{
	const char *q;

	p = ws(p, end);
	if (p >= end)
		return NULL;
	switch (*p) {
	case '{':
	case '[':
		return walk_container(p, end, w, depth);
	case '"':
		q = skip_string(p, end);
		break;
	case 't':
		q = skip_word(p, end, "true");
		break;
	case 'f':
		q = skip_word(p, end, "false");
		break;
	case 'n':
		q = skip_word(p, end, "null");
		break;
	default:
		q = skip_number(p, end);
	}
	if (q && w)
		jsonw_bytes(w, p, (size_t)(q - p));
	return q;
}

const char *json_text_skip(const char *p, const char *end)
{
	return walk(p, end, NULL, 0);
}

bool json_text_members(const char *p, const char *end, const char *const *keys, size_t n, const char **ret_start,
		       const char **ret_end)
{
	const char *q;

	for (size_t i = 0; i < n; i++)
		ret_start[i] = ret_end[i] = NULL;
	p = ws(p, end);
	if (p >= end || *p != '{')
		return false;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return ws(p + 1, end) == end;
	for (;;) {
		size_t k = n;

		if (p >= end || *p != '"' || !(q = skip_string(p, end)))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!ret_start[i] && (size_t)(q - p) == strlen(keys[i]) + 2 && memcmp(p + 1, keys[i], (size_t)(q - p) - 2) == 0)
				k = i;
		p = ws(q, end);
		if (p >= end || *p != ':')
			return false;
		p = ws(p + 1, end);
		if (!(q = json_text_skip(p, end)))
			return false;
		if (k < n) {
			ret_start[k] = p;
			ret_end[k] = q;
		}
		p = ws(q, end);
		if (p < end && *p == ',') {
			p = ws(p + 1, end);
			continue;
		}
		return p < end && *p == '}' && ws(p + 1, end) == end;
	}
}

bool json_text_pretty(struct jsonw *w, const char *p, const char *end)
{
	size_t mark = w->len;
	const char *q = walk(p, end, w, 0);

	if (!q || ws(q, end) != end) {
		w->len = mark;
		if (w->buf)
			w->buf[mark] = '\0';
		return false;
	}
	return true;
}
