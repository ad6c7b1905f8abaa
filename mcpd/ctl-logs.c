/* Control method `logs`: the last lines of a server's stderr, then optionally follow it. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "control.h"
#include "jsonrpc.h"
#include "logbuf.h"
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
	r = cJSON_CreateObject();
	logbuf_last(server->log, want, add_line, cJSON_AddArrayToObject(r, "lines"));
	cJSON_AddNumberToObject(r, "dropped", (double)logbuf_dropped(server->log));
	if (ctl_reply(c, id, r) && cJSON_IsTrue(follow))
		ctl_follow(c, server);
}

const struct ctl_method ctl_logs = { .name = "logs", .writes = false, .run = run };
