/*
 * mcpctl approvals: the tool calls that wait for a human's approval, oldest
 * first: id, agent ("-" for the owner), server, tool, age, and a redacted
 * preview of the arguments (the full arguments' sha256 is in --json).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "AGENT", "SERVER", "TOOL", "AGE", "ARGS" };
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const cJSON *list, *it;
	cJSON *result;
	struct table *t;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != 'j')
			return cmd_usage(&cmd_approvals);
		ctl->json = true;
	}
	if (optind != argc)
		return cmd_usage(&cmd_approvals);
	if (mcpctl_call(ctl, "approvals", cJSON_CreateObject(), &result) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		output_json(result);
		cJSON_Delete(result);
		return EXIT_OK;
	}
	list = cJSON_GetObjectItemCaseSensitive(result, "approvals");
	if (cJSON_GetArraySize(list) == 0) {
		printf("no tool call waits for approval\n");
		cJSON_Delete(result);
		return EXIT_OK;
	}
	t = table_new(headers, 6);
	table_set_max(t, 1, 16);
	table_set_max(t, 2, 16);
	table_set_max(t, 3, 24);
	table_set_right(t, 4);
	cJSON_ArrayForEach(it, list) {
		char age[32];
		double s = 0;
		const char *cells[6];

		json_number(it, "age_s", &s);
		output_duration((uint64_t)s, age, sizeof(age));
		cells[0] = json_string(it, "id", "?");
		cells[1] = json_string(it, "agent", "-");
		cells[2] = json_string(it, "server", "?");
		cells[3] = json_string(it, "tool", "?");
		cells[4] = age;
		cells[5] = json_string(it, "preview", "");
		table_add(t, cells);
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
	printf("mcpctl approve ID runs the call once; mcpctl deny ID [--reason TEXT] refuses it\n");
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_approvals = {
	.name = "approvals",
	.args = "[--json]",
	.summary = "list the tool calls that wait for a human's approval",
	.run = run,
};
