/* mcpctl approve ID: the held tool call goes on to its server, once. */
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

	if (argc != 2 || argv[1][0] == '-')
		return cmd_usage(&cmd_approve);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "id", argv[1]);
	if (mcpctl_call(ctl, "approve", params, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json)
		output_json(result);
	else
		printf("approved %s: the call was sent on\n", json_string(result, "id", argv[1]));
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_approve = {
	.name = "approve",
	.args = "ID",
	.summary = "run a tool call that waits for approval, once",
	.run = run,
};
