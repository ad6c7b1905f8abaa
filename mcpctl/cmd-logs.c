/*
 * mcpctl logs [-f] [-n N] NAME: the last lines a server wrote on stderr, as
 * mcpd keeps them, and with -f the new ones as they come until interrupted.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

#define DEFAULT_LINES	50
#define MAX_LINES	1000000000	/* mcpd reads larger counts as "all" anyway */

struct printer {
	bool json;
	bool flush;		/* following: a line must show up when it happens */
};

/* One log line: its text, or with --json an object of the same keys in both modes. */
static int print_line(const cJSON *line, const struct printer *p)
{
	if (p->json) {
		cJSON *o = cJSON_CreateObject();
		double v;

		cJSON_AddNumberToObject(o, "seq", json_number(line, "seq", &v) ? v : 0);
		cJSON_AddNumberToObject(o, "ts_ms", json_number(line, "ts_ms", &v) ? v : 0);
		cJSON_AddStringToObject(o, "text", json_string(line, "text", ""));
		output_json_line(o);
		cJSON_Delete(o);
	} else {
		puts(json_string(line, "text", ""));
	}
	if (p->flush && fflush(stdout) != 0) {
		int r = -errno;

		fprintf(stderr, "mcpctl: cannot write to standard output: %s\n", strerror(-r));
		return r;
	}
	return 0;
}

static int print_lines(const cJSON *result, const struct printer *p)
{
	const cJSON *line;
	int r = 0;

	cJSON_ArrayForEach(line, cJSON_GetObjectItemCaseSensitive(result, "lines"))
		if ((r = print_line(line, p)) < 0)
			break;
	return r;
}

static int on_notification(const char *method, const cJSON *params, void *userdata)
{
	if (strcmp(method, "log") != 0)
		return 0;
	return print_line(params, userdata);
}

static int parse_lines(const char *s, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v > MAX_LINES) {
		fprintf(stderr, "mcpctl: logs: -n wants a number of lines from 0 (all kept) to %d, got \"%s\"\n",
			MAX_LINES, s);
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

static int follow(struct mcpctl *ctl, cJSON *params, struct printer *p)
{
	struct client_error err = { 0 };
	struct client *c;
	cJSON *result = NULL;
	int r;

	if (mcpctl_connect(ctl, &c) < 0) {
		cJSON_Delete(params);
		return EXIT_FAIL;
	}
	/* The same connection carries the reply with the history, then the new lines. */
	r = client_call(c, "logs", params, &result, &err);
	if (r >= 0)
		r = print_lines(result, p);
	if (r >= 0)
		r = client_follow(c, on_notification, p, &err);
	if (err.message)
		client_error_print(&err, stderr);
	client_error_clear(&err);
	cJSON_Delete(result);
	client_close(c);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct printer p = { .json = ctl->json };
	int c, lines = DEFAULT_LINES;
	cJSON *params, *result;

	while ((c = getopt_long(argc, argv, "fn:", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			p.flush = true;
			break;
		case 'n':
			if (parse_lines(optarg, &lines) < 0)
				return EXIT_USAGE;
			break;
		default:
			return cmd_usage(&cmd_logs);
		}
	}
	if (optind != argc - 1)
		return cmd_usage(&cmd_logs);
	params = cJSON_CreateObject();
	cJSON_AddStringToObject(params, "name", argv[optind]);
	cJSON_AddNumberToObject(params, "lines", lines);
	cJSON_AddBoolToObject(params, "follow", p.flush);
	if (p.flush)
		return follow(ctl, params, &p);
	if (mcpctl_call(ctl, "logs", params, &result) < 0)
		return EXIT_FAIL;
	print_lines(result, &p);
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_logs = {
	.name = "logs",
	.args = "[-f] [-n N] NAME",
	.summary = "print a server's recent stderr lines; -f follows",
	.run = run,
};
