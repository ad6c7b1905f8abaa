/*
 * mcpctl check FILE: validate a manifest without a running daemon. An unset
 * ${VAR} is only a warning here, because mcpctl does not run with the
 * environment mcpd will have.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "hostcheck.h"
#include "manifest.h"

static void print_json(const char *path, const struct manifest *m, const struct manifest_errors *errs)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(root, "problems");
	char *text;

	cJSON_AddStringToObject(root, "file", path);
	cJSON_AddBoolToObject(root, "valid", m != NULL);
	cJSON_AddNumberToObject(root, "servers", m ? (double)m->nservers : 0);
	if (m && m->has_agents)
		cJSON_AddNumberToObject(root, "agents", (double)m->nagents);
	for (size_t i = 0; i < errs->n; i++) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "severity", errs->items[i].warning ? "warning" : "error");
		cJSON_AddNumberToObject(e, "line", errs->items[i].line);
		cJSON_AddNumberToObject(e, "column", errs->items[i].col);
		cJSON_AddStringToObject(e, "message", errs->items[i].text);
		cJSON_AddItemToArray(list, e);
	}
	text = cJSON_PrintUnformatted(root);
	printf("%s\n", text);
	free(text);
	cJSON_Delete(root);
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;
	int status;

	if (argc != 2)
		return cmd_usage(&cmd_check);
	manifest_load(argv[1], MANIFEST_LENIENT_ENV, &m, &errs);
	/* Users, groups and files as this host has them: warnings, mcpd may run elsewhere. */
	if (m)
		manifest_check_host(m, false, &errs);
	if (ctl->json) {
		print_json(argv[1], m, &errs);
	} else {
		manifest_errors_print(&errs, stderr);
		if (m && m->has_agents)
			printf("%s: valid, %zu server%s, %zu agent%s\n", argv[1], m->nservers, m->nservers == 1 ? "" : "s",
			       m->nagents, m->nagents == 1 ? "" : "s");
		else if (m)
			printf("%s: valid, %zu server%s\n", argv[1], m->nservers, m->nservers == 1 ? "" : "s");
	}
	status = m ? EXIT_OK : EXIT_FAIL;
	manifest_free(m);
	manifest_errors_clear(&errs);
	return status;
}

const struct cmd cmd_check = {
	.name = "check",
	.args = "FILE",
	.summary = "validate a manifest without a running mcpd",
	.run = run,
};
