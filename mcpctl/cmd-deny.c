/* mcpctl deny ID [--reason TEXT]: the held tool call is answered with an error naming the denial and the reason. */
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
	static const struct option options[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL;
	cJSON *params, *result;
	int c;

	while ((c = getopt_long(argc, argv, "r:", options, NULL)) != -1) {
		if (c != 'r')
			return cmd_usage(&cmd_deny);
		reason = optarg;
	}
	if (argc - optind != 1)
		return cmd_usage(&cmd_deny);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "id", argv[optind]);
	if (reason)
		cJSON_AddStringToObject(params, "reason", reason);
	if (mcpctl_call(ctl, "deny", params, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json)
		output_json(result);
	else
		printf("denied %s: the client got an error\n", json_string(result, "id", argv[optind]));
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_deny = {
	.name = "deny",
	.args = "ID [--reason TEXT]",
	.summary = "refuse a tool call that waits for approval",
	.run = run,
};
