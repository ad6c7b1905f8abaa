#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "strutil.h"

size_t
str_distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];

	/* Names compared here are short; longer ones are simply "not close". */
	if (lb >= sizeof(row) / sizeof(row[0]) || la >= 64)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best;

		row[0] = i;
		best = row[0];
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = diag + cost;

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			diag = up;
			row[j] = v;
			if (v < best)
				best = v;
		}
		if (best > limit)
			return limit + 1;
	}
	return row[lb];
}

const char *
str_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3, len = strlen(word);

	for (size_t i = 0; i < n; i++) {
		size_t d = str_distance(word, candidates[i], 2);

		if (d < best_d && d * 2 < len + 1) {
			best = candidates[i];
			best_d = d;
		}
	}
	return best;
}

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
server_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 63 || !is_lower_alnum(name[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_lower_alnum(name[i]) && name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

bool
env_name_valid(const char *name)
{
	if (!((*name >= 'A' && *name <= 'Z') || (*name >= 'a' && *name <= 'z') || *name == '_'))
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}
