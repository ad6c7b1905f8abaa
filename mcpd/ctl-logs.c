/* Control method `logs`: the last lines of a server's stderr, then optionally follow it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "jsonrpc.h"
#include "logbuf.h"
#include "replicas.h"
#include "server.h"
#include "xmalloc.h"

static void add_line(uint64_t seq, uint64_t ts_ms, const char *line, size_t len, void *userdata)
{
	cJSON *o = cJSON_CreateObject();
	char *text = xstrndup(line, len);

	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddNumberToObject(o, "ts_ms", (double)ts_ms);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddItemToArray(userdata, o);
	free(text);
}

/* A replicated entry's lines: each replica's, "NAME#K: " before the text, merged by time. */
struct merge {
	cJSON *lines;
	const char *name;
};

static void add_replica_line(uint64_t seq, uint64_t ts_ms, const char *line, size_t len, void *userdata)
{
	struct merge *m = userdata;
	char *text;

	xasprintf(&text, "%s: %.*s", m->name, (int)len, line);
	add_line(seq, ts_ms, text, strlen(text), m->lines);
	free(text);
}

static int by_time(const void *a, const void *b)
{
	double x = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)a, "ts_ms")->valuedouble;
	double y = cJSON_GetObjectItemCaseSensitive(*(cJSON *const *)b, "ts_ms")->valuedouble;

	return x < y ? -1 : x > y;
}

/* The last want lines of every replica, merged by time, the last want of them kept. */
static cJSON *merged(struct server **list, size_t n, size_t want, double *dropped)
{
	cJSON *all = cJSON_CreateArray(), *out = cJSON_CreateArray(), **v;
	size_t total;

	for (size_t k = 0; k < n; k++) {
		struct merge m = { all, list[k]->conf.name };

		logbuf_last(list[k]->log, want, add_replica_line, &m);
		*dropped += (double)logbuf_dropped(list[k]->log);
	}
	total = (size_t)cJSON_GetArraySize(all);
	v = xcalloc(total + 1, sizeof(*v));
	for (size_t i = 0; i < total; i++)
		v[i] = cJSON_DetachItemFromArray(all, 0);
	qsort(v, total, sizeof(*v), by_time);
	for (size_t i = 0; i < total; i++) {
		if (want == 0 || i + want >= total)
			cJSON_AddItemToArray(out, v[i]);
		else
			cJSON_Delete(v[i]);
	}
	free(v);
	cJSON_Delete(all);
	return out;
}

static void run(struct ctl_client *c, const cJSON *id, const cJSON *params)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(params, "lines");
	const cJSON *follow = cJSON_GetObjectItemCaseSensitive(params, "follow");
	struct server *server;
	size_t want = 50;
	cJSON *r;

	if (!cJSON_IsString(name) || (lines && (!cJSON_IsNumber(lines) || lines->valuedouble < 0)) ||
	    (follow && !cJSON_IsBool(follow))) {
		ctl_error(c, id, JSONRPC_INVALID_PARAMS,
			  "logs needs {\"name\": SERVER, \"lines\": N >= 0, \"follow\": true|false}", NULL);
		return;
	}
	if (lines)
		want = lines->valuedouble > 1e9 ? 0 : (size_t)lines->valuedouble;
	server = ctl_server_named(c, id, name->valuestring);
	if (!server)
		return;
	if (replica_group_len(name->valuestring) == strlen(name->valuestring) && server->conf.replica > 0) {
		size_t n;
		struct server **list = replicas_list(ctl_daemon(c), name->valuestring, &n);
		double dropped = 0;

		r = cJSON_CreateObject();
		cJSON_AddItemToObject(r, "lines", merged(list, n, want, &dropped));
		cJSON_AddNumberToObject(r, "dropped", dropped);
		free(list);
		if (ctl_reply(c, id, r) && cJSON_IsTrue(follow))
			ctl_follow_group(c, name->valuestring);
		return;
	}
	r = cJSON_CreateObject();
	logbuf_last(server->log, want, add_line, cJSON_AddArrayToObject(r, "lines"));
	cJSON_AddNumberToObject(r, "dropped", (double)logbuf_dropped(server->log));
	if (ctl_reply(c, id, r) && cJSON_IsTrue(follow))
		ctl_follow(c, server);
}

const struct ctl_method ctl_logs = { .name = "logs", .writes = false, .run = run };
