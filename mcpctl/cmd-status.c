/*
 * mcpctl status [NAME...]: aggregate health, then one row per server. It is
 * a query, so it exits 0 however the servers are doing; `mcpctl health` is
 * the command whose exit status tells that.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

#define NAME_MAX_WIDTH 20

/* "0.4ms", "12ms", "1.5s": two significant figures are all a glance needs. */
static void format_latency(double ms, char *buf, size_t size)
{
	if (ms < 10)
		snprintf(buf, size, "%.1fms", ms);
	else if (ms < 1000)
		snprintf(buf, size, "%.0fms", ms);
	else
		snprintf(buf, size, "%.1fs", ms / 1000);
}

/* HEALTH and LATENCY are shown only once mcpd probes something: columns of "unknown" say nothing. */
static bool any_probe(const cJSON *servers)
{
	const cJSON *s;
	double v;

	cJSON_ArrayForEach(s, servers)
		if (strcmp(json_string(s, "health", "unknown"), "unknown") != 0 || json_number(s, "latency_ms", &v))
			return true;
	return false;
}

static void print_table(const cJSON *servers)
{
	static const char *const headers[] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "LATENCY", "REASON" };
	/* Without probes: the same table less HEALTH and LATENCY. */
	static const char *const short_headers[] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "REASON" };
	bool probes = any_probe(servers);
	struct table *t = probes ? table_new(headers, 8) : table_new(short_headers, 6);
	const cJSON *s;

	table_set_max(t, 0, NAME_MAX_WIDTH);
	cJSON_ArrayForEach(s, servers) {
		char pid[24] = "-", uptime[32] = "-", restarts[24] = "-", latency[32] = "-";
		const char *cells[8];
		size_t n = 0;
		double v;

		if (json_number(s, "pid", &v))
			snprintf(pid, sizeof(pid), "%.0f", v);
		if (json_number(s, "uptime_s", &v) && v >= 0)
			output_duration((uint64_t)v, uptime, sizeof(uptime));
		if (json_number(s, "restarts", &v))
			snprintf(restarts, sizeof(restarts), "%.0f", v);
		if (json_number(s, "latency_ms", &v))
			format_latency(v, latency, sizeof(latency));
		cells[n++] = json_string(s, "name", "?");
		cells[n++] = json_string(s, "state", "?");
		cells[n++] = pid;
		cells[n++] = uptime;
		cells[n++] = restarts;
		if (probes) {
			cells[n++] = json_string(s, "health", "-");
			cells[n++] = latency;
		}
		/* For backoff and failed, mcpd already wrote "next try in Ns" into the reason. */
		cells[n++] = json_string(s, "reason", "");
		table_add(t, cells);
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

/*
 * Below the table, for the servers named on the command line: what the
 * table has no room for (the protocol spoken, the server's identity).
 */
static void print_details(const cJSON *servers)
{
	const cJSON *s, *info;
	double v;

	cJSON_ArrayForEach(s, servers) {
		const char *version = json_string(s, "protocol_version", NULL);
		const char *pin = json_string(s, "protocol_pin", NULL);

		printf("\n%s:\n", json_string(s, "name", "?"));
		if (version)
			printf("  protocol: %s (%s)%s\n", version, json_string(s, "era", "?"),
			       pin ? ", pinned by the manifest" : "");
		else
			printf("  protocol: not known yet%s%s%s\n", pin ? " (the manifest pins " : "", pin ? pin : "",
			       pin ? ")" : "");
		info = cJSON_GetObjectItemCaseSensitive(s, "server_info");
		if (cJSON_IsObject(info))
			printf("  server: %s %s\n", json_string(info, "name", "?"), json_string(info, "version", "?"));
		if (json_number(s, "tools", &v))
			printf("  tools: %.0f (hash %s)\n", v, json_string(s, "tools_hash", "?"));
		if (json_string(s, "last_probe_error", NULL))
			printf("  last probe error: %s\n", json_string(s, "last_probe_error", ""));
	}
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	cJSON *params = NULL, *result;
	const cJSON *servers;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			return cmd_usage(&cmd_status);
	if (argc > 1) {
		params = cJSON_CreateObject();
		cJSON_AddItemToObject(params, "names", cJSON_CreateStringArray((const char *const *)argv + 1, argc - 1));
	}
	if (mcpctl_call(ctl, "status", params, &result) < 0)
		return EXIT_FAIL;
	if (ctl->json) {
		output_json(result);
		cJSON_Delete(result);
		return EXIT_OK;
	}
	printf("health: %s\n", json_string(result, "health", "unknown"));
	servers = cJSON_GetObjectItemCaseSensitive(result, "servers");
	if (cJSON_GetArraySize(servers) == 0)
		printf("no servers in the manifest\n");
	else
		print_table(servers);
	if (argc > 1)
		print_details(servers);
	cJSON_Delete(result);
	return EXIT_OK;
}

const struct cmd cmd_status = {
	.name = "status",
	.args = "[NAME...]",
	.summary = "show the state of every server, or of the named ones",
	.run = run,
};
