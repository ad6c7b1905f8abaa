/*
 * Control method `health`: the aggregate, every wanted server that is not
 * running, and the checks of every wanted server that has deep checks
 * (health.call, health.exec) or whose liveness probe fails.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "control.h"
#include "daemon.h"
#include "deep-check.h"
#include "history.h"
#include "server.h"

/* {"name", "health", "checks": [...]} for s, or NULL when it has nothing to show. */
static cJSON *server_checks(const struct server *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", s->conf.name);
	cJSON_AddStringToObject(o, "health", health_name(s));
	deep_check_status_json(s, o);
	if (!cJSON_GetObjectItemCaseSensitive(o, "checks")) {
		cJSON *c;

		if (s->health.probe_status != 2) {
			cJSON_Delete(o);
			return NULL;
		}
		c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "check", "probe");
		cJSON_AddStringToObject(c, "status", "failed");
		cJSON_AddStringToObject(c, "detail", s->health.last_error);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "checks"), c);
	}
	return o;
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	struct daemon *d = ctl_daemon(c);
	cJSON *r = cJSON_CreateObject();
	cJSON *problems, *checks;
	size_t wanted = 0, running = 0;

	cJSON_AddStringToObject(r, "health", daemon_health(d));
	cJSON_AddItemToObject(r, "manifest", history_manifest_json(d->history));
	problems = cJSON_AddArrayToObject(r, "problems");
	checks = cJSON_AddArrayToObject(r, "checks");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];
		cJSON *o;
		char reason[320];

		if (!s->wanted)
			continue;
		wanted++;
		if ((o = server_checks(s)))
			cJSON_AddItemToArray(checks, o);
		if (s->state == ST_RUNNING) {
			running++;
			continue;
		}
		server_reason(s, reason, sizeof(reason));
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", s->conf.name);
		cJSON_AddStringToObject(o, "state", server_state_name(s->state));
		cJSON_AddBoolToObject(o, "critical", s->conf.critical);
		cJSON_AddStringToObject(o, "reason", reason);
		cJSON_AddItemToArray(problems, o);
	}
	cJSON_AddNumberToObject(r, "wanted", (double)wanted);
	cJSON_AddNumberToObject(r, "running", (double)running);
	ctl_reply(c, id, r);
}

const struct ctl_method ctl_health = { .name = "health", .writes = false, .run = run };
