/* mcpctl version: the version of mcpctl itself. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "cmd.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	if (argc > 1)
		return cmd_usage(&cmd_version);
	printf("mcpctl %s\n", PACKAGE_VERSION);
	return EXIT_OK;
}

const struct cmd cmd_version = {
	.name = "version",
	.args = "",
	.summary = "print the version of mcpctl",
	.run = run,
};
