/* mcpctl stop NAME...|--all: ask mcpd to stop servers; they stay stopped until started again. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cmd-lifecycle.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	return lifecycle_run(&cmd_stop, ctl, argc, argv);
}

const struct cmd cmd_stop = {
	.name = "stop",
	.args = "NAME...|--all",
	.summary = "stop servers and keep them stopped",
	.run = run,
};
