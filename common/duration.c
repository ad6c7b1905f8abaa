#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

struct unit {
	const char *name;
	uint64_t ms;
};

/* Longest names first so "ms" is not read as "m" followed by garbage. */
static const struct unit duration_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 3600 * 1000 },
	{ "d", 24 * 3600 * 1000 },
};

/*
 * Read a non-negative decimal number with up to three fractional digits,
 * scaled by 1000 so "1.5" becomes 1500. Returns the number of characters used,
 * 0 when there is no number, -ERANGE on overflow.
 */
static int
read_milli_number(const char *s, uint64_t *ret)
{
	const char *p = s;
	uint64_t v = 0;
	int frac = 0;

	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p)) {
		if (v > DURATION_MAX_MS)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	v *= 1000;
	if (*p == '.' && isdigit((unsigned char)p[1])) {
		uint64_t scale = 100;

		p++;
		while (isdigit((unsigned char)*p)) {
			if (++frac > 3)
				return -EINVAL;
			v += (uint64_t)(*p++ - '0') * scale;
			scale /= 10;
		}
	}
	*ret = v;
	return (int)(p - s);
}

int
duration_parse(const char *s, uint64_t *ret_ms)
{
	uint64_t total = 0;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	while (*p != '\0') {
		uint64_t milli;
		const struct unit *u = NULL;
		int n = read_milli_number(p, &milli);

		if (n < 0)
			return n;
		if (n == 0)
			return -EINVAL;
		p += n;
		for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			size_t len = strlen(duration_units[i].name);

			if (strncmp(p, duration_units[i].name, len) == 0 &&
			    !isalpha((unsigned char)p[len])) {
				u = &duration_units[i];
				p += len;
				break;
			}
		}
		if (u == NULL)
			return -EINVAL;
		/* milli is the number times 1000; each unit is at most a day. */
		if (milli > DURATION_MAX_MS * 1000 / u->ms + 1000)
			return -ERANGE;
		total += milli * u->ms / 1000;
		if (total > DURATION_MAX_MS)
			return -ERANGE;
	}
	*ret_ms = total;
	return 0;
}

void
duration_format(uint64_t ms, char *buf, size_t size)
{
	uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
	size_t off = 0;

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, size, "%llums", (unsigned long long)ms);
		return;
	}
	buf[0] = '\0';
	if (h)
		off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%lluh", (unsigned long long)h);
	if (m)
		off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%llum", (unsigned long long)m);
	if (s || rest) {
		if (rest && h == 0 && m == 0)
			snprintf(buf + off, off < size ? size - off : 0, "%llu.%03llus",
				 (unsigned long long)s, (unsigned long long)rest);
		else
			snprintf(buf + off, off < size ? size - off : 0, "%llus", (unsigned long long)s);
	}
}

int
size_parse(const char *s, uint64_t *ret_bytes)
{
	static const char suffixes[] = "KMGT";
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (s == NULL || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (v > UINT64_MAX / 10 - 9)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (*p != '\0') {
		const char *q = strchr(suffixes, toupper((unsigned char)*p));

		if (q == NULL)
			return -EINVAL;
		for (long i = 0; i <= q - suffixes; i++)
			mult *= 1024;
		p++;
		if (strcmp(p, "iB") == 0)
			p += 2;
		else if (strcmp(p, "B") == 0 || strcmp(p, "b") == 0)
			p++;
		if (*p != '\0')
			return -EINVAL;
	}
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret_bytes = v * mult;
	return 0;
}

void
size_format(uint64_t bytes, char *buf, size_t size)
{
	static const char suffixes[] = "KMGT";
	int i = -1;

	while (bytes != 0 && bytes % 1024 == 0 && i < 3) {
		bytes /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, size, "%llu", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%llu%c", (unsigned long long)bytes, suffixes[i]);
}
