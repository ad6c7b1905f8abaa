/*
 * mcpctl's commands: one file per command (cmd-NAME.c), listed once in the
 * table in main.c. Adding a command means adding a file and a line.
 */
#ifndef MCPCTL_CMD_H
#define MCPCTL_CMD_H

#include <stdbool.h>

/* Exit statuses shared by every command. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

struct mcpctl {
	const char *socket;		/* -s; NULL: found as control_socket_resolve() says */
	const char *config;		/* -c: a manifest to take mcpd.control from, or NULL */
	bool json;			/* --json */
};

struct cmd {
	const char *name;
	const char *args;		/* for usage lines: "FILE", "[NAME...]" */
	const char *summary;
	int (*run)(struct mcpctl *ctl, int argc, char **argv);
};

extern const struct cmd cmd_check;
extern const struct cmd cmd_logs;
extern const struct cmd cmd_reload;
extern const struct cmd cmd_restart;
extern const struct cmd cmd_start;
extern const struct cmd cmd_status;
extern const struct cmd cmd_top;
extern const struct cmd cmd_health;
extern const struct cmd cmd_connect;
extern const struct cmd cmd_tools;
extern const struct cmd cmd_stop;
extern const struct cmd cmd_version;
extern const struct cmd cmd_history;
extern const struct cmd cmd_rollback;
extern const struct cmd cmd_approvals;
extern const struct cmd cmd_approve;
extern const struct cmd cmd_deny;

/* A reload's or rollback's result: warnings, the diff, and "WHAT applied" or "dry run: nothing changed". */
struct cJSON;
void cmd_reload_print(const struct cJSON *result, bool dry_run, const char *what);

/* Print "usage: mcpctl NAME ARGS" to stderr and return EXIT_USAGE. */
int cmd_usage(const struct cmd *cmd);

#endif
