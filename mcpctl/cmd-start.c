/* mcpctl start NAME...|--all: ask mcpd to start servers; a failed one is tried at once, its circuit reset. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cmd-lifecycle.h"

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	return lifecycle_run(&cmd_start, ctl, argc, argv);
}

const struct cmd cmd_start = {
	.name = "start",
	.args = "NAME...|--all",
	.summary = "start servers (a failed one at once)",
	.run = run,
};
