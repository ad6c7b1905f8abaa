/*
 * Control method `health`: the aggregate, every wanted server that is not
 * running, and the checks of every wanted server that has deep checks
 * (health.call, health.exec) or whose liveness probe fails. Written straight
 * as text, with deep-check.c's writer of the status's "checks".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "control.h"
#include "daemon.h"
#include "deep-check.h"
#include "history.h"
#include "jsonw.h"
#include "server.h"

/* {"name", "health", "checks": [...]} for s, when it has something to show. */
static void write_checks(const struct server *s, struct jsonw *w)
{
	size_t mark = w->len;

	jsonw_item(w);
	jsonw_char(w, '{');
	jsonw_key(w, "name");
	jsonw_string(w, s->conf.name);
	jsonw_key(w, "health");
	jsonw_string(w, health_name(s));
	if (!deep_check_status_write(s, w)) {
		if (s->health.probe_status != 2) {
			w->len = mark;	/* nothing to show: take the start back */
			w->buf[mark] = '\0';
			return;
		}
		jsonw_key(w, "checks");
		jsonw_bytes(w, "[{", 2);
		jsonw_key(w, "check");
		jsonw_string(w, "probe");
		jsonw_key(w, "status");
		jsonw_string(w, "failed");
		jsonw_key(w, "detail");
		jsonw_string(w, s->health.last_error);
		jsonw_bytes(w, "}]", 2);
	}
	jsonw_char(w, '}');
}

static void write_problem(const struct server *s, struct jsonw *w)
{
	char reason[320];

	server_reason(s, reason, sizeof(reason));
	jsonw_item(w);
	jsonw_char(w, '{');
	jsonw_key(w, "name");
	jsonw_string(w, s->conf.name);
	jsonw_key(w, "state");
	jsonw_string(w, server_state_name(s->state));
	jsonw_key(w, "critical");
	jsonw_bool(w, s->conf.critical);
	jsonw_key(w, "reason");
	jsonw_string(w, reason);
	jsonw_char(w, '}');
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	struct daemon *d = ctl_daemon(c);
	cJSON *manifest = history_manifest_json(d->history);
	size_t wanted = 0, running = 0;
	struct jsonw w;

	(void)params;
	jsonw_init(&w);
	ctl_reply_begin(id, &w);
	jsonw_char(&w, '{');
	jsonw_key(&w, "health");
	jsonw_string(&w, daemon_health(d));
	jsonw_key(&w, "manifest");
	jsonw_value(&w, manifest);
	cJSON_Delete(manifest);
	jsonw_key(&w, "problems");
	jsonw_char(&w, '[');
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];

		if (!s->wanted)
			continue;
		wanted++;
		if (s->state == ST_RUNNING)
			running++;
		else
			write_problem(s, &w);
	}
	jsonw_char(&w, ']');
	jsonw_key(&w, "checks");
	jsonw_char(&w, '[');
	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->wanted)
			write_checks(d->servers[i], &w);
	jsonw_char(&w, ']');
	jsonw_key(&w, "wanted");
	jsonw_number(&w, (double)wanted);
	jsonw_key(&w, "running");
	jsonw_number(&w, (double)running);
	jsonw_char(&w, '}');
	ctl_reply_end(c, &w);
}

const struct ctl_method ctl_health = { .name = "health", .writes = false, .run = run };
