/*
 * mcpctl history: the manifests mcpd applied, newest first: short hash, local
 * time, who applied it, how, and the servers added (+), changed (~) and
 * removed (-). "*" marks the running one. User names are resolved here, not
 * in mcpd (no NSS on its loop).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "cmd.h"
#include "output.h"
#include "xmalloc.h"

/* "+1 ~0 -2 +new -old -older": counts, then the names. */
static char *changes(const cJSON *e)
{
	static const struct {
		const char *key, *sign;
	} kinds[] = { { "added", "+" }, { "changed", "~" }, { "removed", "-" } };
	char *out = xstrdup(""), *next;
	const cJSON *it;

	for (size_t k = 0; k < 3; k++) {
		xasprintf(&next, "%s%s%s%d", out, k ? " " : "", kinds[k].sign,
			  cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, kinds[k].key)));
		free(out);
		out = next;
	}
	for (size_t k = 0; k < 3; k++)
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(e, kinds[k].key)) {
			/* The table cuts the line to 80 columns: no need to build more than that. */
			if (strlen(out) > OUTPUT_WIDTH)
				return out;
			xasprintf(&next, "%s %s%s", out, kinds[k].sign, cJSON_IsString(it) ? it->valuestring : "?");
			free(out);
			out = next;
		}
	return out;
}

/* "uid 1000 (alice)", "start", "SIGHUP". */
static void who(const cJSON *e, char *buf, size_t size)
{
	const struct passwd *pw;
	double uid;

	if (!json_number(e, "uid", &uid)) {
		snprintf(buf, size, "%s", json_string(e, "who", "?"));
		return;
	}
	pw = getpwuid((uid_t)uid);
	if (pw)
		snprintf(buf, size, "uid %.0f (%s)", uid, pw->pw_name);
	else
		snprintf(buf, size, "uid %.0f", uid);
}

/* One line, cut to OUTPUT_WIDTH with "..." (server names are ASCII: a byte is a column). */
static void print_line(const char *mark, const char *hash, const char *when, int by_width, const char *by,
		       const char *action, const char *diff)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%-1s  %-7s  %-19s  %-*s  %-8s  %s", mark, hash, when, by_width, by, action,
			 diff);

	if (n > OUTPUT_WIDTH || n >= (int)sizeof(line))
		memcpy(line + OUTPUT_WIDTH - 3, "...", 4);
	/* The header's last column has no trailing blanks either. */
	for (n = (int)strlen(line); n > 0 && line[n - 1] == ' '; n--)
		line[n - 1] = '\0';
	puts(line);
}

/*
 * A table of its own rather than table_print(): an entry is one line, its
 * changes cut at 80 columns, never wrapped, so that scripts can read it.
 */
static void print_table(const cJSON *result)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(result, "entries"), *e;
	int by_width = 2;
	char by[96];

	cJSON_ArrayForEach(e, entries) {
		who(e, by, sizeof(by));
		if ((int)strlen(by) > by_width)
			by_width = strlen(by) > 24 ? 24 : (int)strlen(by);
	}
	print_line("", "HASH", "TIME", by_width, "BY", "ACTION", "CHANGES");
	cJSON_ArrayForEach(e, entries) {
		char when[32] = "?";
		char *diff = changes(e);
		double ts;

		if (json_number(e, "time", &ts)) {
			time_t secs = (time_t)ts;
			struct tm tm;

			if (localtime_r(&secs, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		}
		who(e, by, sizeof(by));
		print_line(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "running")) ? "*" : "",
			   json_string(e, "short", "?"), when, by_width, by, json_string(e, "action", "?"), diff);
		free(diff);
	}
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	cJSON *result;

	if (argc != 1)
		return cmd_usage(&cmd_history);
	if (mcpctl_call(ctl, "history", NULL, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		output_json(result);
	} else if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(result, "entries")) == 0) {
		printf("no manifest in the history yet\n");
	} else {
		print_table(result);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "file_differs")))
			printf("the running manifest came from a rollback and differs from the manifest file; "
			       "`mcpctl reload` applies the file\n");
	}
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_history = {
	.name = "history",
	.args = "",
	.summary = "list the manifests mcpd applied, newest first",
	.run = run,
};
