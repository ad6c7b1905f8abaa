/* mcpctl restart NAME...|--all: stop servers, their whole process group, and start them again. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cmd-lifecycle.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	return lifecycle_run(&cmd_restart, ctl, argc, argv);
}

const struct cmd cmd_restart = {
	.name = "restart",
	.args = "NAME...|--all",
	.summary = "restart servers",
	.run = run,
};
