/* What start, stop and restart share: the same arguments, request and output. */
#ifndef MCPCTL_CMD_LIFECYCLE_H
#define MCPCTL_CMD_LIFECYCLE_H

#include "cmd.h"

/*
 * Run `mcpctl CMD NAME...|--all`, sending cmd->name as the method, and print
 * each server's state right after mcpd applied it ("files: starting").
 */
int lifecycle_run(const struct cmd *cmd, struct mcpctl *ctl, int argc, char **argv);

#endif
