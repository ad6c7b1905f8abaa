/*
 * Probes of HTTP MCP servers over Streamable HTTP: initialize once (keeping
 * Mcp-Session-Id and the negotiated MCP-Protocol-Version), then ping and
 * tools/list on the same session. A 404 on a session re-initializes once.
 * Every transfer goes through curl-ev, so nothing blocks the loop.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl-ev.h"
#include "daemon.h"
#include "duration.h"
#include "health.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-stdio.h"
#include "probe-http.h"
#include "server.h"
#include "xmalloc.h"

#define MAX_BODY	(4 * 1024 * 1024)

enum step {
	STEP_INIT,
	STEP_NOTIFY,
	STEP_REQUEST,
};

struct probe_http {
	CURL *easy;
	struct curl_slist *hdrs;
	bool busy;
	enum step step;
	char method[32];		/* the request the caller asked for */
	bool initialized;
	bool reinit_tried;
	char session[256];		/* Mcp-Session-Id, empty without one */
	char proto[32];
	int64_t next_id;
	double started;
	/* The response being received. */
	char *body;
	size_t len;
	bool too_big;
	char content_type[128];
	char new_session[256];
};

static struct curl_ev *curl_of(struct daemon *d)
{
	static struct curl_ev *shared;

	/* One multi handle for every http server, made the first time one is probed. */
	if (!shared)
		shared = curl_ev_new(d->loop);
	return shared;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct probe_http *p = userdata;
	size_t bytes = size * n;

	if (p->len + bytes > MAX_BODY) {
		p->too_big = true;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	p->body = xrealloc(p->body, p->len + bytes + 1);
	memcpy(p->body + p->len, data, bytes);
	p->len += bytes;
	p->body[p->len] = '\0';
	return bytes;
}

/* Copy the value of header name from a raw header line, trimmed. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name), v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	line += nl + 1;
	len -= nl + 1;
	while (len && isspace((unsigned char)*line))
		line++, len--;
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	v = len < size - 1 ? len : size - 1;
	memcpy(out, line, v);
	out[v] = '\0';
	return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct probe_http *p = userdata;
	size_t bytes = size * n;

	header_value(data, bytes, "Mcp-Session-Id", p->new_session, sizeof(p->new_session));
	header_value(data, bytes, "Content-Type", p->content_type, sizeof(p->content_type));
	return bytes;
}

/* The JSON-RPC message in a response: the JSON body, or the SSE event answering id. */
static cJSON *parse_response(struct probe_http *p, const char *id)
{
	if (strncasecmp(p->content_type, "text/event-stream", 17) != 0)
		return p->len ? cJSON_ParseWithLength(p->body, p->len) : NULL;
	for (char *line = p->body; line && *line;) {
		char *end = strchr(line, '\n');
		cJSON *msg;

		if (end)
			*end = '\0';
		if (strncmp(line, "data:", 5) == 0) {
			msg = cJSON_Parse(line + 5 + (line[5] == ' '));
			if (msg && cJSON_IsObject(msg) &&
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "id")) &&
			    strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "id")), id) == 0)
				return msg;
			cJSON_Delete(msg);
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

static void on_done(CURL *easy, CURLcode result, void *userdata);

static void send_step(struct server *s);

static void finish(struct server *s, bool ok, const cJSON *result, const char *reason)
{
	struct probe_http *p = s->http;
	double latency = (ev_time() - p->started) * 1000.;
	char method[32];

	p->busy = false;
	snprintf(method, sizeof(method), "%s", p->method);
	health_http_result(s, method, ok, latency, result, reason);
}

static void add_header(struct probe_http *p, const char *name, const char *value)
{
	char *h;

	xasprintf(&h, "%s: %s", name, value);
	p->hdrs = curl_slist_append(p->hdrs, h);
	free(h);
}

static void send_step(struct server *s)
{
	struct probe_http *p = s->http;
	cJSON *msg, *params = NULL, *id = NULL;
	char idbuf[48], *text;
	size_t len;

	p->len = 0;
	p->too_big = false;
	p->content_type[0] = p->new_session[0] = '\0';
	curl_slist_free_all(p->hdrs);
	p->hdrs = NULL;
	add_header(p, "Content-Type", "application/json");
	add_header(p, "Accept", "application/json, text/event-stream");
	if (p->session[0])
		add_header(p, "Mcp-Session-Id", p->session);
	if (p->initialized)
		add_header(p, "MCP-Protocol-Version", p->proto);
	for (size_t i = 0; i < s->conf.headers.n; i++) {
		char *h;

		/* Values may come from secrets: they go on the wire only, never into a log. */
		xasprintf(&h, "%s: %s", s->conf.headers.items[i].key, s->conf.headers.items[i].value);
		p->hdrs = curl_slist_append(p->hdrs, h);
		free(h);
	}

	snprintf(idbuf, sizeof(idbuf), "mcpd-probe-%lld", (long long)++p->next_id);
	if (p->step == STEP_INIT) {
		cJSON *info;

		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "protocolVersion", MCP_PROTOCOL_LATEST);
		cJSON_AddObjectToObject(params, "capabilities");
		info = cJSON_AddObjectToObject(params, "clientInfo");
		cJSON_AddStringToObject(info, "name", "mcpd");
		cJSON_AddStringToObject(info, "version", PACKAGE_VERSION);
		id = cJSON_CreateString(idbuf);
		msg = jsonrpc_request_new(id, "initialize", params);
	} else if (p->step == STEP_NOTIFY) {
		msg = jsonrpc_notification_new("notifications/initialized", NULL);
	} else {
		id = cJSON_CreateString(idbuf);
		msg = jsonrpc_request_new(id, p->method, NULL);
	}
	cJSON_Delete(id);
	text = jsonrpc_serialize(msg, &len);
	cJSON_Delete(msg);

	curl_easy_reset(p->easy);
	curl_easy_setopt(p->easy, CURLOPT_URL, s->conf.url);
	curl_easy_setopt(p->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)s->conf.health.timeout_ms);
	curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->hdrs);
	curl_easy_setopt(p->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(p->easy, CURLOPT_COPYPOSTFIELDS, text);
	curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(p->easy, CURLOPT_HEADERDATA, p);
	free(text);
	if (curl_ev_add(curl_of(s->d), p->easy, on_done, s) < 0)
		finish(s, false, NULL, "cannot start an HTTP transfer");
}

static const char *step_name(const struct probe_http *p)
{
	return p->step == STEP_INIT ? "initialize" : p->step == STEP_NOTIFY ? "notifications/initialized" : p->method;
}

/* A distinct, short reason per failure: these are what `mcpctl status` shows. */
static void curl_reason(struct server *s, CURLcode result, char *buf, size_t size)
{
	struct probe_http *p = s->http;
	char d[32];

	switch (result) {
	case CURLE_COULDNT_CONNECT:
		snprintf(buf, size, "connection refused");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		duration_format(s->conf.health.timeout_ms, d, sizeof(d));
		snprintf(buf, size, "timed out after %s", d);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(buf, size, "cannot resolve the host of %s", s->conf.url_sensitive ? "the URL" : s->conf.url);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(buf, size, "TLS error: %s", curl_easy_strerror(result));
		break;
	case CURLE_WRITE_ERROR:
		if (p->too_big) {
			snprintf(buf, size, "response larger than %d MiB", MAX_BODY / (1024 * 1024));
			break;
		}
		/* fall through */
	default:
		snprintf(buf, size, "%s", curl_easy_strerror(result));
		break;
	}
}

static void on_done(CURL *easy, CURLcode result, void *userdata)
{
	struct server *s = userdata;
	struct probe_http *p = s->http;
	char reason[256], id[48];
	long status = 0;
	cJSON *msg;
	const cJSON *error;

	if (result != CURLE_OK) {
		curl_reason(s, result, reason, sizeof(reason));
		finish(s, false, NULL, reason);
		return;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 404 && p->session[0] && p->step == STEP_REQUEST && !p->reinit_tried) {
		/* The session expired: one fresh initialize, then the request again. */
		log_debug(s->conf.name, NULL, "session expired (HTTP 404 from %s); opening a new one", p->method);
		p->reinit_tried = true;
		p->session[0] = '\0';
		p->initialized = false;
		p->step = STEP_INIT;
		send_step(s);
		return;
	}
	if (status < 200 || status > 299) {
		snprintf(reason, sizeof(reason), "HTTP %ld from %s", status, step_name(p));
		finish(s, false, NULL, reason);
		return;
	}
	if (p->step == STEP_NOTIFY) {
		p->initialized = true;
		p->step = STEP_REQUEST;
		send_step(s);
		return;
	}
	snprintf(id, sizeof(id), "mcpd-probe-%lld", (long long)p->next_id);
	msg = parse_response(p, id);
	if (!msg) {
		snprintf(reason, sizeof(reason), "response to %s is not JSON-RPC", step_name(p));
		finish(s, false, NULL, reason);
		return;
	}
	error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	if (error) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		snprintf(reason, sizeof(reason), "JSON-RPC error %d from %s: %.100s",
			 (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(error, "code")), step_name(p),
			 text ? text : "(no message)");
		cJSON_Delete(msg);
		finish(s, false, NULL, reason);
		return;
	}
	if (p->step == STEP_INIT) {
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "result");
		const char *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "protocolVersion"));

		if (!version || !mcp_protocol_supported(version)) {
			snprintf(reason, sizeof(reason), "protocol version \"%.32s\" is not supported",
				 version ? version : "(none)");
			cJSON_Delete(msg);
			finish(s, false, NULL, reason);
			return;
		}
		snprintf(p->proto, sizeof(p->proto), "%s", version);
		snprintf(p->session, sizeof(p->session), "%s", p->new_session);
		snprintf(s->protocol_version, sizeof(s->protocol_version), "%s", version);
		cJSON_Delete(s->init_result);
		s->init_result = cJSON_Duplicate(res, 1);
		cJSON_Delete(msg);
		p->step = STEP_NOTIFY;
		send_step(s);
		return;
	}
	p->reinit_tried = false;
	finish(s, true, cJSON_GetObjectItemCaseSensitive(msg, "result"), NULL);
	cJSON_Delete(msg);
}

int probe_http_request(struct server *s, const char *method)
{
	struct probe_http *p;

	if (!s->http) {
		s->http = xcalloc(1, sizeof(*s->http));
		s->http->easy = curl_easy_init();
	}
	p = s->http;
	if (p->busy)
		return -1;
	p->busy = true;
	p->started = ev_time();
	snprintf(p->method, sizeof(p->method), "%s", method);
	p->step = p->initialized ? STEP_REQUEST : STEP_INIT;
	send_step(s);
	return 0;
}

void probe_http_reset(struct server *s)
{
	struct probe_http *p = s->http;

	if (!p)
		return;
	if (p->busy)
		curl_ev_remove(curl_of(s->d), p->easy);
	p->busy = false;
	p->initialized = false;
	p->session[0] = '\0';
}

void probe_http_free(struct server *s)
{
	struct probe_http *p = s->http;

	if (!p)
		return;
	probe_http_reset(s);
	curl_easy_cleanup(p->easy);
	curl_slist_free_all(p->hdrs);
	free(p->body);
	free(p);
	s->http = NULL;
}
