/*
 * mcpctl rollback [--dry-run] [HASH]: mcpd applies a manifest of its history
 * (by default the newest one before the running one that differs from it)
 * exactly as `reload` applies the file: the same checks, the same diff, and
 * only the servers that changed restart. The manifest file is not touched.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	bool dry_run = false;
	const char *hash = NULL;
	cJSON *params, *result;
	char what[64];
	int c;

	while ((c = getopt_long(argc, argv, "n", options, NULL)) != -1) {
		if (c != 'n')
			return cmd_usage(&cmd_rollback);
		dry_run = true;
	}
	if (argc - optind > 1)
		return cmd_usage(&cmd_rollback);
	if (optind < argc) {
		hash = argv[optind];
		if (!*hash || strlen(hash) > 64 || strspn(hash, "0123456789abcdefABCDEF") != strlen(hash)) {
			fprintf(stderr, "mcpctl rollback: \"%.64s\" is not a hash: expected hex digits, as `mcpctl history` "
				"shows them\n", hash);
			return EXIT_USAGE;
		}
	}
	params = cJSON_CreateObject();
	if (hash)
		cJSON_AddStringToObject(params, "hash", hash);
	cJSON_AddBoolToObject(params, "dry_run", dry_run);
	if (mcpctl_call(ctl, "rollback", params, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		output_json(result);
	} else {
		if (dry_run)
			printf("rollback to %.7s would change:\n", json_string(result, "hash", "?"));
		snprintf(what, sizeof(what), "rollback to %.7s", json_string(result, "hash", "?"));
		cmd_reload_print(result, dry_run, what);
		if (!dry_run)
			printf("the manifest file was not changed: `mcpctl reload` applies it again\n");
	}
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_rollback = {
	.name = "rollback",
	.args = "[--dry-run] [HASH]",
	.summary = "apply an earlier manifest of the history again",
	.run = run,
};
