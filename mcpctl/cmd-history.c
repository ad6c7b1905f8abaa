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

static void print_table(const cJSON *result)
{
	static const char *const headers[] = { "", "HASH", "TIME", "BY", "ACTION", "CHANGES" };
	struct table *t = table_new(headers, 6);
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(result, "entries")) {
		char when[32] = "?", by[96];
		char *diff = changes(e);
		const char *cells[6];
		double ts;

		if (json_number(e, "time", &ts)) {
			time_t secs = (time_t)ts;
			struct tm tm;

			if (localtime_r(&secs, &tm))
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		}
		who(e, by, sizeof(by));
		cells[0] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "running")) ? "*" : "";
		cells[1] = json_string(e, "short", "?");
		cells[2] = when;
		cells[3] = by;
		cells[4] = json_string(e, "action", "?");
		cells[5] = diff;
		table_add(t, cells);
		free(diff);
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
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
