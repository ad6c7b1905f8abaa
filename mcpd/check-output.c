/* A health.exec check's output as a detail: see check-output.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-output.h"

size_t check_output_redact(char *buf, size_t len, size_t size, const char *values, size_t values_len)
{
	const size_t mlen = strlen(CHECK_OUTPUT_MASK);
	size_t *end, n = 0;
	char *out;

	if (size == 0)
		return 0;
	if (len > size - 1)
		len = size - 1;
	/*
	 * end[i]: where the longest value found at i ends (0: none). Every value
	 * is looked for in the text as it came, so that values which overlap one
	 * another (one holding another) leave no piece: a run of bytes covered by
	 * values, however they overlap, becomes one mask.
	 */
	end = calloc(len + 1, sizeof(*end));
	out = malloc(size);
	if (!end || !out) {
		free(end);
		free(out);
		memset(buf, 0, size);	/* withheld rather than shown unredacted */
		return 0;
	}
	for (size_t off = 0; off < values_len;) {
		const char *v = values + off;
		size_t vlen = strnlen(v, values_len - off);

		off += vlen + 1;
		for (size_t i = 0; vlen > 0 && i + vlen <= len; i++) {
			if (i + vlen > end[i] && memcmp(buf + i, v, vlen) == 0)
				end[i] = i + vlen;
		}
	}
	for (size_t i = 0; i < len;) {
		size_t stop = end[i];

		if (stop == 0) {
			if (n >= size - 1)
				break;	/* what no longer fits is dropped */
			out[n++] = buf[i++];
			continue;
		}
		for (size_t j = i; j < stop; j++) {
			if (end[j] > stop)
				stop = end[j];
		}
		if (n + mlen > size - 1)
			break;	/* not even the mask fits: the value is cut off */
		memcpy(out + n, CHECK_OUTPUT_MASK, mlen);
		n += mlen;
		i = stop;
	}
	memcpy(buf, out, n);
	buf[n] = '\0';
	memset(out, 0, size);
	free(out);
	free(end);
	return n;
}

size_t check_output_cut_partial(const char *buf, size_t len, const char *values, size_t values_len)
{
	size_t cut = len;

	for (size_t off = 0; off < values_len;) {
		const char *v = values + off;
		size_t vlen = strnlen(v, values_len - off);

		off += vlen + 1;
		for (size_t k = vlen > len ? len : vlen; k > 0; k--) {
			if (len - k < cut && memcmp(buf + len - k, v, k) == 0) {
				cut = len - k;
				break;
			}
		}
	}
	return cut;
}

size_t check_output_utf8_len(const char *text, size_t avail)
{
	const unsigned char *p = (const unsigned char *)text;
	uint32_t cp, min;
	size_t n;

	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void check_output_first_line(const char *text, size_t len, char *buf, size_t size, size_t max)
{
	size_t n = 0, shown = 0, i = 0;

	if (size == 0)
		return;
	while (i < len && (text[i] == '\n' || text[i] == '\r' || text[i] == ' ' || text[i] == '\t'))
		i++;
	while (i < len && text[i] != '\n' && shown < max && n + 5 + 4 <= size) {
		unsigned char c = (unsigned char)text[i];
		size_t u = check_output_utf8_len(text + i, len - i);

		if (c == '\r') {
			i++;
			continue;
		}
		/* Whole characters of valid UTF-8; control characters (C0, DEL, C1) and invalid bytes as \xNN. */
		if (u > 1 && !(u == 2 && c == 0xc2 && (unsigned char)text[i + 1] < 0xa0)) {
			memcpy(buf + n, text + i, u);
			n += u;
			i += u;
		} else if (c < 0x20 || c >= 0x7f) {
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
			i++;
		} else {
			buf[n++] = (char)c;
			i++;
		}
		shown++;
	}
	if (i < len && text[i] != '\n' && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}
