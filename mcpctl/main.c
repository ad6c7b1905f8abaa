/* mcpctl: drives mcpd through its control socket. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "strutil.h"
#include "xmalloc.h"

static const struct cmd *const commands[] = {
	&cmd_status,
	&cmd_top,
	&cmd_start,
	&cmd_stop,
	&cmd_restart,
	&cmd_reload,
	&cmd_history,
	&cmd_rollback,
	&cmd_logs,
	&cmd_connect,
	&cmd_health,
	&cmd_tools,
	&cmd_approvals,
	&cmd_approve,
	&cmd_deny,
	&cmd_check,
	&cmd_version,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

int cmd_usage(const struct cmd *cmd)
{
	fprintf(stderr, "usage: mcpctl %s%s%s\n", cmd->name, *cmd->args ? " " : "", cmd->args);
	return EXIT_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mcpctl [-s SOCKET | -c FILE] [--json] COMMAND [ARGS]\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   control socket of mcpd (default: $MCPD_SOCKET, else\n"
		"                      mcpd.control of -c FILE, else the rule in mcpctl(1))\n"
		"  -c, --config FILE   the manifest mcpd runs with, to find its socket\n"
		"      --json          print JSON instead of text\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char left[64];

		snprintf(left, sizeof(left), "%s %s", commands[i]->name, commands[i]->args);
		/* A usage too long for the column puts its summary on the next line. */
		if (strlen(left) >= 24)
			fprintf(out, "  %s\n  %-24s%s\n", left, "", commands[i]->summary);
		else
			fprintf(out, "  %-24s%s\n", left, commands[i]->summary);
	}
	fprintf(out, "  %-24s%s\n", "help [COMMAND]", "show this help, or a command's");
}

/* `mcpctl help CMD`, `mcpctl CMD --help`: the command's usage, on stdout. */
static int command_help(const struct cmd *cmd)
{
	printf("usage: mcpctl [-s SOCKET | -c FILE] [--json] %s%s%s\n\n%s\n\nSee mcpctl(1) for the details.\n",
	       cmd->name, *cmd->args ? " " : "", cmd->args, cmd->summary);
	return EXIT_OK;
}

/* -h or --help among a command's arguments (no server name starts with "-"). */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

static const struct cmd *find_command(const char *name)
{
	const char *names[NCOMMANDS + 1];
	const char *hint;

	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
		names[i] = commands[i]->name;
	}
	hint = str_suggest(name, names, NCOMMANDS);
	if (hint)
		fprintf(stderr, "mcpctl: unknown command \"%s\" (did you mean \"%s\"?)\n", name, hint);
	else
		fprintf(stderr, "mcpctl: unknown command \"%s\"; see mcpctl --help\n", name);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct mcpctl ctl = { 0 };
	const struct cmd *cmd;
	char *prog;
	int c, first, status;

	/* getopt names the program by argv[0]: "mcpctl: invalid option", not its full path. */
	argv[0] = (char *)"mcpctl";
	/* "+": options after the command belong to the command. */
	while ((c = getopt_long(argc, argv, "+s:c:hV", options, NULL)) != -1) {
		switch (c) {
		case 's':
			ctl.socket = optarg;
			break;
		case 'c':
			ctl.config = optarg;
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("mcpctl %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 < argc && strcmp(argv[optind + 1], "help") != 0) {
			cmd = find_command(argv[optind + 1]);
			return cmd ? command_help(cmd) : EXIT_USAGE;
		}
		usage(stdout);
		return EXIT_OK;
	}
	cmd = find_command(argv[optind]);
	if (!cmd)
		return EXIT_USAGE;
	first = optind;
	if (wants_help(argc - first, argv + first))
		return command_help(cmd);
	optind = 0;	/* commands parse their own options from their argv: reset getopt */
	/* getopt names the program by argv[0]: "mcpctl logs: invalid option -- 'x'". */
	xasprintf(&prog, "mcpctl %s", cmd->name);
	argv[first] = prog;
	status = cmd->run(&ctl, argc - first, argv + first);
	free(prog);
	return status;
}
