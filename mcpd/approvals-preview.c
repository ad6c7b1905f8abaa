/* approvals-preview: see approvals-preview.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals-preview.h"

/* Substrings of a key (lower-cased) that mark its value secret. */
static const char *const secret_words[] = {
	"password", "passwd", "token", "secret", "key", "authorization", "cookie", "credential",
};

bool approvals_secret_key(const char *key)
{
	char low[128];
	size_t n = 0;

	for (; key[n] && n < sizeof(low) - 1; n++)
		low[n] = (char)tolower((unsigned char)key[n]);
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(secret_words) / sizeof(*secret_words); i++)
		if (strstr(low, secret_words[i]))
			return true;
	return false;
}

/* The values of secret keys, at any depth, become "***". */
static void redact(cJSON *item, int depth)
{
	cJSON *it, *next;

	if (depth > 64)
		return;
	for (it = item->child; it; it = next) {
		next = it->next;	/* it may be replaced (and freed) */
		if (cJSON_IsObject(item) && it->string && approvals_secret_key(it->string)) {
			cJSON *stars = cJSON_CreateString("***");

			/* The key moves to the replacement (by pointer: the same item of a duplicate key). */
			stars->string = it->string;
			stars->type |= it->type & cJSON_StringIsConst;
			it->string = NULL;
			cJSON_ReplaceItemViaPointer(item, it, stars);
		} else if (cJSON_IsObject(it) || cJSON_IsArray(it))
			redact(it, depth + 1);
	}
}

void approvals_preview(const cJSON *args, char *buf, size_t size)
{
	cJSON *copy = args ? cJSON_Duplicate(args, 1) : cJSON_CreateObject();
	char *text;
	size_t n, max = size - 1 < APPROVALS_PREVIEW_MAX ? size - 1 : APPROVALS_PREVIEW_MAX;

	if (copy)
		redact(copy, 0);
	text = copy ? cJSON_PrintUnformatted(copy) : NULL;
	cJSON_Delete(copy);
	if (!text) {
		snprintf(buf, size, "(arguments cannot be shown)");
		return;
	}
	n = strlen(text);
	if (n <= max) {
		memcpy(buf, text, n + 1);
	} else {
		n = max - 3;
		/* Never inside a UTF-8 sequence: back off its continuation bytes and its lead byte. */
		if (((unsigned char)text[n] & 0xc0) == 0x80) {
			while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
				n--;
		}
		memcpy(buf, text, n);
		memcpy(buf + n, "...", 4);
	}
	free(text);
}
