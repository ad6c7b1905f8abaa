#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "client.h"
#include "cmd-lifecycle.h"
#include "output.h"

/* The state right after the command: mcpd does not wait for "running". */
static void print_servers(const cJSON *servers)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, servers) {
		const char *reason = json_string(s, "reason", "");

		printf("%s: %s%s%s%s\n", json_string(s, "name", "?"), json_string(s, "state", "?"), *reason ? " (" : "",
		       reason, *reason ? ")" : "");
	}
}

int lifecycle_run(const struct cmd *cmd, struct mcpctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	cJSON *params, *result;
	bool all = false;
	int c;

	while ((c = getopt_long(argc, argv, "a", options, NULL)) != -1) {
		if (c != 'a')
			return cmd_usage(cmd);
		all = true;
	}
	/* Exactly one of the two: "start" alone doing everything would be a surprise. */
	if (all == (optind < argc))
		return cmd_usage(cmd);
	params = cJSON_CreateObject();
	if (all)
		cJSON_AddTrueToObject(params, "all");
	else
		cJSON_AddItemToObject(params, "names",
				      cJSON_CreateStringArray((const char *const *)argv + optind, argc - optind));
	if (mcpctl_call(ctl, cmd->name, params, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json)
		output_json(result);
	else
		print_servers(cJSON_GetObjectItemCaseSensitive(result, "servers"));
	cJSON_Delete(result);
	return EXIT_OK;
}
