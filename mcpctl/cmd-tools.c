/* mcpctl tools NAME: the server's tools as mcpd last saw them (--json: the raw list). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <stdio.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	cJSON *params, *result;
	const cJSON *tools, *t;

	if (argc != 2 || argv[1][0] == '-')
		return cmd_usage(&cmd_tools);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "name", argv[1]);
	if (mcpctl_call(ctl, "tools", params, &result) < 0)
		return EXIT_FAIL;
	tools = cJSON_GetObjectItemCaseSensitive(result, "tools");
	if (ctl->json) {
		output_json(cJSON_IsArray(tools) ? tools : result);
	} else if (!cJSON_IsArray(tools)) {
		printf("%s: no tool list yet (state %s)\n", argv[1], json_string(result, "state", "?"));
	} else {
		struct table *tab = table_new((const char *const[]){ "TOOL", "DESCRIPTION" }, 2);

		table_set_max(tab, 0, 32);
		cJSON_ArrayForEach(t, tools)
			table_add(tab, (const char *const[]){ json_string(t, "name", "?"), json_string(t, "description", "") });
		table_print(tab, stdout, OUTPUT_WIDTH);
		table_free(tab);
		printf("%d tools, hash %s\n", cJSON_GetArraySize(tools), json_string(result, "hash", "?"));
	}
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_tools = {
	.name = "tools",
	.args = "NAME",
	.summary = "list the tools a server offered when mcpd last asked",
	.run = run,
};
