/* Control method `health`: the aggregate, and every wanted server that is not running. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "control.h"
#include "daemon.h"
#include "history.h"
#include "server.h"

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	struct daemon *d = ctl_daemon(c);
	cJSON *r = cJSON_CreateObject();
	cJSON *problems;
	size_t wanted = 0, running = 0;

	cJSON_AddStringToObject(r, "health", daemon_health(d));
	cJSON_AddItemToObject(r, "manifest", history_manifest_json(d->history));
	problems = cJSON_AddArrayToObject(r, "problems");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];
		cJSON *o;
		char reason[320];

		if (!s->wanted)
			continue;
		wanted++;
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
