/*
 * mcpctl health: the aggregate health, one line per wanted server that is
 * not running, and one line per check of the servers that have deep checks
 * (health.call, health.exec) or whose probe fails. The exit status is the answer, for Nagios or a Kubernetes exec
 * probe: 0 ok, 1 degraded, 2 critical, 3 unknown (mcpd unreachable).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "output.h"

enum {
	HEALTH_OK = 0,
	HEALTH_DEGRADED = 1,
	HEALTH_CRITICAL = 2,
	HEALTH_UNKNOWN = 3,
};

/* "good: call echo ok (6.2ms, 3s ago): ok: \"hello\"" */
static void print_check(const char *name, const cJSON *c)
{
	const char *check = json_string(c, "check", "?"), *detail = json_string(c, "detail", "");
	const char *tool = json_string(c, "tool", NULL);
	double ms, age;
	char when[64] = "";
	int n = 0;

	if (json_number(c, "duration_ms", &ms))
		n = snprintf(when, sizeof(when), " (%.1fms", ms);
	if (json_number(c, "age_s", &age) && n >= 0 && (size_t)n < sizeof(when))
		n += snprintf(when + n, sizeof(when) - (size_t)n, "%s%.0fs ago", n ? ", " : " (", age);
	if (n > 0 && (size_t)n < sizeof(when) - 1)
		strcat(when, ")");
	printf("%s: %s%s%s %s%s%s%s\n", name, check, tool ? " " : "", tool ? tool : "", json_string(c, "status", "?"),
	       when, *detail ? ": " : "", detail);
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	const char *health;
	const cJSON *p;
	cJSON *result;
	int status;

	if (argc > 1)
		return cmd_usage(&cmd_health);
	if (mcpctl_call(ctl, "health", NULL, &result) < 0) {
		if (!ctl->json)
			printf("health: unknown (mcpd unreachable)\n");
		return HEALTH_UNKNOWN;
	}
	health = json_string(result, "health", "unknown");
	if (strcmp(health, "ok") == 0)
		status = HEALTH_OK;
	else if (strcmp(health, "degraded") == 0)
		status = HEALTH_DEGRADED;
	else if (strcmp(health, "critical") == 0)
		status = HEALTH_CRITICAL;
	else
		status = HEALTH_UNKNOWN;
	if (ctl->json) {
		output_json(result);
	} else {
		double wanted = 0, running = 0;

		json_number(result, "wanted", &wanted);
		json_number(result, "running", &running);
		printf("health: %s (%.0f/%.0f running)\n", health, running, wanted);
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(result, "problems")) {
			const char *reason = json_string(p, "reason", "");

			printf("%s: %s%s%s%s\n", json_string(p, "name", "?"), json_string(p, "state", "?"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "critical")) ? " (critical)" : "",
			       *reason ? ": " : "", reason);
		}
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(result, "checks")) {
			const cJSON *c;

			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "checks"))
				print_check(json_string(p, "name", "?"), c);
		}
	}
	cJSON_Delete(result);
	return status;
}

const struct cmd cmd_health = {
	.name = "health",
	.args = "",
	.summary = "aggregate health; exit 0 ok, 1 degraded, 2 critical, 3 unknown",
	.run = run,
};
