/*
 * mcpctl reload [--dry-run]: mcpd re-reads its manifest and restarts only the
 * servers whose configuration changed. An invalid manifest changes nothing:
 * mcpd says why, one problem per line, and keeps running the previous one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

/* "added: a, b"; nothing when the list is empty. */
static void print_names(const cJSON *result, const char *key)
{
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(result, key), *n;
	const char *sep = "";

	if (cJSON_GetArraySize(names) == 0)
		return;
	printf("%s: ", key);
	cJSON_ArrayForEach(n, names) {
		printf("%s%s", sep, cJSON_IsString(n) ? n->valuestring : "?");
		sep = ", ";
	}
	putchar('\n');
}

void cmd_reload_print(const cJSON *result, bool dry_run, const char *what)
{
	const cJSON *w;
	double unchanged = 0;

	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(result, "warnings"))
		if (cJSON_IsString(w))
			fprintf(stderr, "warning: %s\n", w->valuestring);
	print_names(result, "added");
	print_names(result, "removed");
	print_names(result, "changed");
	print_names(result, "replicas");
	json_number(result, "unchanged", &unchanged);
	printf("unchanged: %.0f server%s\n", unchanged, unchanged == 1 ? "" : "s");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "applied")))
		printf("%s applied\n", what);
	else if (dry_run)
		printf("dry run: nothing changed\n");
	else
		printf("%s not applied\n", what);
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	bool dry_run = false;
	cJSON *params, *result;
	int c;

	while ((c = getopt_long(argc, argv, "n", options, NULL)) != -1) {
		if (c != 'n')
			return cmd_usage(&cmd_reload);
		dry_run = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_reload);
	params = cJSON_CreateObject();
	cJSON_AddBoolToObject(params, "dry_run", dry_run);
	/* A failed reload (-32005) carries its problems in data.errors: client_error_print shows them. */
	if (mcpctl_call(ctl, "reload", params, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json)
		output_json(result);
	else
		cmd_reload_print(result, dry_run, "reload");
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_reload = {
	.name = "reload",
	.args = "[--dry-run]",
	.summary = "re-read mcpd's manifest and apply the changes",
	.run = run,
};
