/* A health.exec check's output as a detail: see check-output.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "check-output.h"

size_t check_output_redact(char *buf, size_t len, size_t size, const char *values, size_t values_len)
{
	const size_t mlen = strlen(CHECK_OUTPUT_MASK);

	if (size == 0)
		return 0;
	if (len > size - 1)
		len = size - 1;
	for (size_t off = 0; off < values_len;) {
		const char *v = values + off;
		size_t vlen = strnlen(v, values_len - off);

		off += vlen + 1;
		if (vlen == 0)
			continue;
		for (size_t i = 0; i + vlen <= len;) {
			size_t tail, room;

			if (memcmp(buf + i, v, vlen) != 0) {
				i++;
				continue;
			}
			if (i + mlen > size - 1) {
				len = i;	/* not even the mask fits: the value is cut off */
				break;
			}
			/* The mask in place of the value; the rest moves, cut at size - 1. */
			tail = len - i - vlen;
			room = size - 1 - i - mlen;
			if (tail > room)
				tail = room;
			memmove(buf + i + mlen, buf + i + vlen, tail);
			memcpy(buf + i, CHECK_OUTPUT_MASK, mlen);
			len = i + mlen + tail;
			i += mlen;
		}
	}
	buf[len] = '\0';
	return len;
}

void check_output_first_line(const char *text, size_t len, char *buf, size_t size, size_t max)
{
	size_t n = 0, shown = 0, i = 0;

	if (size == 0)
		return;
	while (i < len && (text[i] == '\n' || text[i] == '\r' || text[i] == ' ' || text[i] == '\t'))
		i++;
	for (; i < len && text[i] != '\n' && shown < max && n + 5 + 4 <= size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\r')
			continue;
		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
		shown++;
	}
	if (i < len && text[i] != '\n' && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}
