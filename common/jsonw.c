/* JSON writer: see jsonw.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "xmalloc.h"

#define JSONW_MIN_CAP 4096

void jsonw_init(struct jsonw *w)
{
	*w = (struct jsonw){ 0 };
}

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	*w = (struct jsonw){ 0 };
}

char *jsonw_take(struct jsonw *w, size_t *ret_len)
{
	char *buf = w->buf;

	*ret_len = w->len;
	*w = (struct jsonw){ 0 };
	return buf;
}

/* Room for n more bytes and a NUL. */
static char *room(struct jsonw *w, size_t n)
{
	if (w->cap - w->len <= n) {
		size_t cap = w->cap < JSONW_MIN_CAP ? JSONW_MIN_CAP : w->cap;

		while (cap - w->len <= n)
			cap *= 2;
		w->buf = xrealloc(w->buf, cap);
		w->cap = cap;
	}
	return w->buf + w->len;
}

void jsonw_bytes(struct jsonw *w, const void *p, size_t n)
{
	char *d = room(w, n);

	memcpy(d, p, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void jsonw_char(struct jsonw *w, char c)
{
	char *d = room(w, 1);

	d[0] = c;
	d[1] = '\0';
	w->len++;
}

/* Bytes a string may hold as they are: cJSON escapes only '"', '\\' and those below 0x20. */
static inline bool plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void jsonw_string(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	jsonw_char(w, '"');
	for (;;) {
		const unsigned char *run = p;
		char esc[6] = { '\\' };
		size_t n = 2;

		while (plain(*p))
			p++;
		if (p > run)
			jsonw_bytes(w, run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			n = 6;
		}
		jsonw_bytes(w, esc, n);
		p++;
	}
	jsonw_char(w, '"');
}

/* Decimal digits of v (sign first when negative) into out; returns their count. */
static size_t put_int(int64_t v, char *out)
{
	char tmp[24];
	size_t n = 0, len = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}

/* cJSON's test that "%1.15g" gave d back. */
static bool same_double(double a, double b)
{
	double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return fabs(a - b) <= max * DBL_EPSILON;
}

/* "-0" or "0": what this cJSON prints for -0.0 ("%1.15g" gives "-0"; cJSON 1.7.16 and later print "0"). */
static bool cjson_negative_zero(void)
{
	static int known = -1;

	if (known < 0) {
		cJSON *n = cJSON_CreateNumber(-0.0);
		char *text = n ? cJSON_PrintUnformatted(n) : NULL;

		known = text && text[0] == '-';
		cJSON_free(text);
		cJSON_Delete(n);
	}
	return known;
}

size_t jsonw_format_number(double d, char *out)
{
	static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };
	double test = 0;
	int len;

	if (isnan(d) || isinf(d)) {
		memcpy(out, "null", 5);
		return 4;
	}
	if (d == 0 && signbit(d) && cjson_negative_zero()) {
		memcpy(out, "-0", 3);
		return 2;
	}
	/*
	 * A whole number below 1e15 has at most 15 digits: "%1.15g" prints it
	 * exactly, in fixed notation, and it reads back as itself (and cJSON's
	 * "%d" for those that fit an int gives the same digits).
	 */
	if (fabs(d) < 1e15 && d == floor(d))
		return put_int((int64_t)d, out);
	/*
	 * A decimal q with at most 6 fraction digits and 15 significant ones (1e-4
	 * <= |d| < 1e9) whose nearest double is d: "%1.15g" rounds d to q (d is
	 * within half an ulp of q, far below half a unit of q's 15th digit), prints
	 * it in fixed notation without trailing zeros, and it reads back as d.
	 */
	if (fabs(d) >= 1e-4 && fabs(d) < 1e9) {
		for (size_t k = 1; k < sizeof(p10) / sizeof(p10[0]); k++) {
			double scaled = d * p10[k];
			int64_t m = (int64_t)llround(scaled);
			uint64_t u, ip, fp;
			size_t n = 0;
			char frac[8];
			size_t nf = k;

			if ((double)m / p10[k] != d)
				continue;
			u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
			ip = u / (uint64_t)p10[k];
			fp = u % (uint64_t)p10[k];
			for (size_t i = k; i-- > 0;) {
				frac[i] = (char)('0' + fp % 10);
				fp /= 10;
			}
			while (nf > 0 && frac[nf - 1] == '0')
				nf--;
			if (m < 0)
				out[n++] = '-';
			n += put_int((int64_t)ip, out + n);
			if (nf > 0) {
				out[n++] = '.';
				memcpy(out + n, frac, nf);
				n += nf;
			}
			out[n] = '\0';
			return n;
		}
	}
	len = snprintf(out, JSONW_NUMBER_MAX, "%1.15g", d);
	if (sscanf(out, "%lg", &test) != 1 || !same_double(test, d))
		len = snprintf(out, JSONW_NUMBER_MAX, "%1.17g", d);
	return len > 0 ? (size_t)len : 0;
}

void jsonw_number(struct jsonw *w, double d)
{
	char *out = room(w, JSONW_NUMBER_MAX);

	w->len += jsonw_format_number(d, out);
}

void jsonw_value(struct jsonw *w, const cJSON *v)
{
	const cJSON *it;

	switch (v ? v->type & 0xff : cJSON_Invalid) {
	case cJSON_False:
		jsonw_bytes(w, "false", 5);
		break;
	case cJSON_True:
		jsonw_bytes(w, "true", 4);
		break;
	case cJSON_Number:
		jsonw_number(w, v->valuedouble);
		break;
	case cJSON_String:
		jsonw_string(w, v->valuestring);
		break;
	case cJSON_Raw: {
		size_t start = w->len;

		if (v->valuestring)
			jsonw_bytes(w, v->valuestring, strlen(v->valuestring));
		if (!w->raw || start < w->raw_lo)
			w->raw_lo = start;
		if (!w->raw || w->len > w->raw_hi)
			w->raw_hi = w->len;
		w->raw = true;
		break;
	}
	case cJSON_Array:
		jsonw_char(w, '[');
		for (it = v->child; it; it = it->next) {
			jsonw_value(w, it);
			if (it->next)
				jsonw_char(w, ',');
		}
		jsonw_char(w, ']');
		break;
	case cJSON_Object:
		jsonw_char(w, '{');
		for (it = v->child; it; it = it->next) {
			jsonw_string(w, it->string);
			jsonw_char(w, ':');
			jsonw_value(w, it);
			if (it->next)
				jsonw_char(w, ',');
		}
		jsonw_char(w, '}');
		break;
	default:	/* cJSON_NULL, and an invalid item, which cJSON refuses to print */
		jsonw_bytes(w, "null", 4);
	}
}

void jsonw_null(struct jsonw *w)
{
	jsonw_bytes(w, "null", 4);
}

void jsonw_bool(struct jsonw *w, bool b)
{
	if (b)
		jsonw_bytes(w, "true", 4);
	else
		jsonw_bytes(w, "false", 5);
}

void jsonw_item(struct jsonw *w)
{
	if (w->len > 0 && w->buf[w->len - 1] != '[')
		jsonw_char(w, ',');
}

void jsonw_key(struct jsonw *w, const char *key)
{
	bool comma = w->len > 0 && w->buf[w->len - 1] != '{';
	size_t n = 0;
	char *d;

	while (plain((unsigned char)key[n]))
		n++;
	if (key[n]) {	/* a key to escape: the general way */
		if (comma)
			jsonw_char(w, ',');
		jsonw_string(w, key);
		jsonw_char(w, ':');
		return;
	}
	/* A key without escapes (every member name mcpd writes): one copy. */
	d = room(w, n + 4);
	if (comma)
		*d++ = ',';
	*d++ = '"';
	memcpy(d, key, n);
	d[n] = '"';
	d[n + 1] = ':';
	d[n + 2] = '\0';
	w->len += n + 3 + comma;
}

void jsonw_member_number(struct jsonw *w, const char *key, bool have, double v)
{
	jsonw_key(w, key);
	if (have)
		jsonw_number(w, v);
	else
		jsonw_null(w);
}

void jsonw_end_line(struct jsonw *w)
{
	/* Strings never hold a raw CR or LF (they are escaped): any in the text come from a cJSON_Raw value. */
	if (w->raw)	/* only where raw values went, not the whole text (700 KB for a status at 1000 servers) */
		for (char *p = w->buf + w->raw_lo; p < w->buf + (w->raw_hi < w->len ? w->raw_hi : w->len); p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
	w->raw = false;
	jsonw_char(w, '\n');
}

void jsonw_line(struct jsonw *w, const cJSON *msg)
{
	jsonw_value(w, msg);
	jsonw_end_line(w);
}
