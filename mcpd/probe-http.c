/*
 * Probes of HTTP MCP servers over Streamable HTTP, in the server's protocol
 * era. The first probe POSTs server/discover (2026-07-28): a DiscoverResult
 * makes the server modern, and every later probe is one sessionless POST with
 * the _meta and the MCP-Protocol-Version and Mcp-Method headers (liveness is
 * server/discover itself). A 4xx without a modern JSON-RPC error makes it
 * legacy: initialize once (keeping Mcp-Session-Id and the negotiated
 * MCP-Protocol-Version), then ping and tools/list on the same session; a 404
 * or 400 on a session re-initializes once per probe. Only a legacy initialize
 * refused without a modern error tries the 2024-11-05 HTTP+SSE transport.
 * The era holds for the life of the process; a monitor-only server's is probed
 * again when an answer shows the other era. Every transfer goes through
 * curl-ev, so nothing blocks the loop.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl-ev.h"
#include "daemon.h"
#include "duration.h"
#include "deep-check.h"
#include "health.h"
#include "jsonrpc.h"
#include "log.h"
#include "mcp-era.h"
#include "mcp-stdio.h"
#include "probe-http.h"
#include "server.h"
#include "sse.h"
#include "xmalloc.h"

/* Every buffer a probed server fills is bounded: past a bound the probe fails and the connection is dropped. */
#define MAX_BODY	(4 * 1024 * 1024)	/* one response body */
#define MAX_HEADERS	(64 * 1024)		/* one response's header lines together */
#define MAX_EVENT	SSE_EVENT_MAX		/* one event of the legacy SSE stream */
#define REPROBE_LOG_SECONDS	60.	/* a server whose era flaps: its re-probes logged once a minute at most */

enum step {
	STEP_DISCOVER,		/* which era: server/discover, modern headers */
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
	char queued[32];		/* another one asked for meanwhile: sent after it, "" if none */
	enum mcp_era era;		/* UNKNOWN until server/discover or initialize tells */
	bool reprobed;			/* this probe asked for the era again already */
	bool reprobe_quiet;		/* ... and did not log it: nor the era it finds */
	double reprobe_logged;		/* when a re-probe was last logged */
	unsigned long reprobes_unlogged;	/* re-probes since, not logged */
	bool no_sse;			/* a modern error named a legacy version: never HTTP+SSE */
	char init_version[32];		/* the version initialize asks for */
	bool initialized;
	bool reinit_tried;
	char session[256];		/* Mcp-Session-Id, empty without one */
	char proto[32];
	int64_t next_id;
	double started;
	/* The response being received. */
	char *body;
	size_t len, body_size;	/* bytes in body, and its allocation (kept from one response to the next) */
	bool too_big;
	size_t header_bytes;
	bool headers_too_big;
	char content_type[128];
	char new_session[256];

	/* Legacy HTTP+SSE (2024-11-05): a GET stream brings the answers to POSTs. */
	bool legacy;
	CURL *stream;
	struct curl_slist *stream_hdrs;
	bool stream_up;
	char endpoint[1024];		/* where to POST, from the stream's endpoint event */
	struct sse sse;			/* the stream's framing */
	size_t stream_header_bytes;
	bool stream_too_big;		/* an event or the headers passed their bound */
	bool awaiting;			/* a POST was accepted: its answer comes on the stream */
	char want_id[48];
	ev_timer timeout_w;
	ev_timer kick_w;		/* curl may not be called back into from its callbacks */
	CURL *posts[4];			/* legacy POSTs in flight, cancelled with the session */
	struct server *s;
};

/* Why curl_of() has nothing: libcurl could not be loaded; NULL until it was tried. */
static const char *curl_missing;

static struct curl_ev *curl_of(struct daemon *d)
{
	static struct curl_ev *shared;

	/* One multi handle for every http server, made (and libcurl loaded) the first time one is probed. */
	if (!shared && !curl_missing) {
		shared = curl_ev_new(d->loop, &curl_missing);
		if (shared)
			curl_missing = NULL;
		else
			log_error(NULL, NULL, "http servers: %s; their probes fail until mcpd runs with libcurl "
				  "(Debian: libcurl4)", curl_missing);
	}
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
	if (p->len + bytes + 1 > p->body_size) {
		/* Doubling: a body that comes in small pieces is not copied once per piece. */
		size_t want = p->body_size ? p->body_size : 16 * 1024;

		while (want < p->len + bytes + 1)
			want *= 2;
		if (want > MAX_BODY + 1)
			want = MAX_BODY + 1;
		p->body = xrealloc(p->body, want);
		p->body_size = want;
	}
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

	p->header_bytes += bytes;
	if (p->header_bytes > MAX_HEADERS) {
		p->headers_too_big = true;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	header_value(data, bytes, "Mcp-Session-Id", p->new_session, sizeof(p->new_session));
	header_value(data, bytes, "Content-Type", p->content_type, sizeof(p->content_type));
	return bytes;
}

struct wanted {
	const char *id;
	cJSON *msg;
};

static int on_response_event(void *userdata, const char *event, const char *data, size_t len)
{
	struct wanted *w = userdata;
	cJSON *msg = cJSON_ParseWithLength(data, len);
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "id"));

	if (cJSON_IsObject(msg) && id && strcmp(id, w->id) == 0) {
		w->msg = msg;
		return -ECANCELED;	/* found: stop reading */
	}
	cJSON_Delete(msg);	/* a notification, or a request of the server */
	return 0;
}

/* The JSON-RPC message in a response: the JSON body, or the SSE event answering id. */
static cJSON *parse_response(struct probe_http *p, const char *id)
{
	struct wanted w = { .id = id };
	struct sse sse;

	if (strncasecmp(p->content_type, "text/event-stream", 17) != 0)
		return p->len ? cJSON_ParseWithLength(p->body, p->len) : NULL;
	/* The same framing as the legacy stream; the body is within MAX_BODY already. */
	sse_init(&sse, MAX_BODY + 2);
	if (sse_feed(&sse, p->body, p->len, on_response_event, &w) == 0)
		sse_feed(&sse, "\n\n", 2, on_response_event, &w);	/* a last event cut short by the end */
	sse_free(&sse);
	return w.msg;
}

static void on_done(CURL *easy, CURLcode result, void *userdata);

static void send_step(struct server *s);
static void start_stream(struct server *s);

static void finish(struct server *s, bool ok, const cJSON *result, const char *reason)
{
	struct probe_http *p = s->http;
	double latency = (ev_time() - p->started) * 1000.;
	char method[32];

	p->busy = false;
	snprintf(method, sizeof(method), "%s", p->method);
	health_http_result(s, method, ok, latency, result, reason);
	p = s->http;	/* the result may have reset the probe */
	if (p && !p->busy && p->queued[0]) {
		snprintf(method, sizeof(method), "%s", p->queued);
		p->queued[0] = '\0';
		probe_http_request(s, method);
	}
}

static void add_header(struct probe_http *p, const char *name, const char *value)
{
	char *h;

	xasprintf(&h, "%s: %s", name, value);
	p->hdrs = curl_slist_append(p->hdrs, h);
	free(h);
}

/* A modern POST: discovering the era, or a request of a modern server. */
static bool modern_step(const struct probe_http *p)
{
	return p->step == STEP_DISCOVER || (p->step == STEP_REQUEST && p->era == MCP_ERA_MODERN);
}

/* The method on the wire: a modern server's liveness probe is server/discover (it has no ping). */
static const char *wire_method(const struct probe_http *p)
{
	if (p->step == STEP_DISCOVER || (p->era == MCP_ERA_MODERN && strcmp(p->method, "ping") == 0))
		return "server/discover";
	return p->method;
}

static cJSON *client_info(void)
{
	cJSON *info = cJSON_CreateObject();

	cJSON_AddStringToObject(info, "name", "mcpd");
	cJSON_AddStringToObject(info, "version", PACKAGE_VERSION);
	return info;
}

/* health.call's tools/call carries the tool and its arguments (deep-check.c); the others have none. */
static cJSON *call_params(const struct server *s, const struct probe_http *p)
{
	return p->step == STEP_REQUEST && strcmp(p->method, "tools/call") == 0 ? deep_check_call_params(s) : NULL;
}

static void send_step(struct server *s)
{
	struct probe_http *p = s->http;
	cJSON *msg, *params = NULL, *id = NULL;
	char idbuf[48], *text;
	size_t len;
	CURL *easy;

	if (!curl_of(s->d)) {
		char reason[384];

		snprintf(reason, sizeof(reason), "%s", curl_missing);
		finish(s, false, NULL, reason);
		return;
	}
	if (p->legacy && !p->endpoint[0]) {
		/* The stream's endpoint event will call again. */
		if (!p->stream_up)
			start_stream(s);
		return;
	}
	p->len = 0;
	p->too_big = false;
	p->header_bytes = 0;
	p->headers_too_big = false;
	p->content_type[0] = p->new_session[0] = '\0';
	if (p->legacy && p->hdrs) {
		/* Legacy POSTs overlap (the answer may beat the 202): their headers must stay. */
		goto headers_done;
	}
	curl_slist_free_all(p->hdrs);
	p->hdrs = NULL;
	add_header(p, "Content-Type", "application/json");
	add_header(p, "Accept", "application/json, text/event-stream");
	if (modern_step(p)) {
		/* Sessionless: the version and method ride in headers and in the body. */
		add_header(p, "MCP-Protocol-Version", MCP_VERSION_MODERN);
		add_header(p, "Mcp-Method", wire_method(p));
	} else {
		if (p->session[0])
			add_header(p, "Mcp-Session-Id", p->session);
		if (p->initialized)
			add_header(p, "MCP-Protocol-Version", p->proto);
	}
	for (size_t i = 0; i < s->conf.headers.n; i++) {
		char *h;

		/* Values may come from secrets: they go on the wire only, never into a log. */
		xasprintf(&h, "%s: %s", s->conf.headers.items[i].key, s->conf.headers.items[i].value);
		p->hdrs = curl_slist_append(p->hdrs, h);
		free(h);
	}
headers_done:
	snprintf(idbuf, sizeof(idbuf), "mcpd-probe-%lld", (long long)++p->next_id);
	if (modern_step(p)) {
		cJSON *info = client_info(), *caps = mcp_client_capabilities();

		id = cJSON_CreateString(idbuf);
		msg = jsonrpc_request_new(id, wire_method(p), call_params(s, p));
		mcp_inject_meta(msg, MCP_VERSION_MODERN, info, caps);
		cJSON_Delete(info);
		cJSON_Delete(caps);
	} else if (p->step == STEP_INIT) {
		params = cJSON_CreateObject();
		cJSON_AddStringToObject(params, "protocolVersion", p->init_version[0] ? p->init_version : MCP_PROTOCOL_LATEST);
		cJSON_AddItemToObject(params, "capabilities", mcp_client_capabilities());
		cJSON_AddItemToObject(params, "clientInfo", client_info());
		id = cJSON_CreateString(idbuf);
		msg = jsonrpc_request_new(id, "initialize", params);
	} else if (p->step == STEP_NOTIFY) {
		msg = jsonrpc_notification_new("notifications/initialized", NULL);
	} else {
		id = cJSON_CreateString(idbuf);
		msg = jsonrpc_request_new(id, p->method, call_params(s, p));
	}
	cJSON_Delete(id);
	text = jsonrpc_serialize(msg, &len);
	cJSON_Delete(msg);

	snprintf(p->want_id, sizeof(p->want_id), "%s", idbuf);
	if (p->legacy) {
		/* One easy handle per POST: the next one may start before the last's 202 is read. */
		easy = NULL;
		for (size_t i = 0; i < sizeof(p->posts) / sizeof(*p->posts) && !easy; i++)
			if (!p->posts[i])
				easy = p->posts[i] = curl_easy_init();
		if (!easy) {
			free(text);
			finish(s, false, NULL, "too many legacy POSTs in flight");
			return;
		}
		if (p->step != STEP_NOTIFY) {
			p->awaiting = true;
			ev_timer_stop(s->d->loop, &p->timeout_w);
			ev_timer_set(&p->timeout_w, (double)s->conf.health.timeout_ms / 1000., 0.);
			ev_timer_start(s->d->loop, &p->timeout_w);
		}
	} else {
		easy = p->easy;
		curl_easy_reset(easy);
	}
	curl_easy_setopt(easy, CURLOPT_URL, p->legacy ? p->endpoint : s->conf.url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)s->conf.health.timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, p->hdrs);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, text);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, p);
	free(text);
	if (curl_ev_add(curl_of(s->d), easy, on_done, s) < 0)
		finish(s, false, NULL, "cannot start an HTTP transfer");
}

static const char *step_name(const struct probe_http *p)
{
	if (modern_step(p))
		return wire_method(p);
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
			snprintf(buf, size, "response larger than %d MiB; connection dropped", MAX_BODY / (1024 * 1024));
			break;
		}
		if (p->headers_too_big) {
			snprintf(buf, size, "response headers larger than %d KiB; connection dropped", MAX_HEADERS / 1024);
			break;
		}
		/* fall through */
	default:
		snprintf(buf, size, "%s", curl_easy_strerror(result));
		break;
	}
}

/* ---- legacy HTTP+SSE ------------------------------------------------------ */

static void handle_message(struct server *s, cJSON *msg);

/* The stream's URL: the configured one, with a final /mcp made /sse (the usual layout). */
static void stream_url(const char *url, char *out, size_t size)
{
	size_t n = strlen(url);

	if (n >= 4 && strcmp(url + n - 4, "/mcp") == 0)
		snprintf(out, size, "%.*s/sse", (int)(n - 4), url);
	else
		snprintf(out, size, "%s", url);
}

/* An endpoint is absolute, host-relative ("/messages?..."), or relative to the stream. */
static void resolve(const char *base, const char *ref, char *out, size_t size)
{
	const char *scheme_end = strstr(base, "://");
	const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;

	if (strstr(ref, "://"))
		snprintf(out, size, "%s", ref);
	else if (ref[0] == '/')
		snprintf(out, size, "%.*s%s", (int)(path ? path - base : (ptrdiff_t)strlen(base)), base, ref);
	else
		snprintf(out, size, "%.*s/%s", (int)(strrchr(base, '/') - base), base, ref);
}

/* One complete event of the stream: the endpoint to POST to, or an answer. Negative: the probe is gone. */
static int on_event(void *userdata, const char *event, const char *data, size_t len)
{
	struct server *s = userdata;
	struct probe_http *p = s->http;
	char url[1024];

	if (strcmp(event, "endpoint") == 0 && len) {
		stream_url(s->conf.url, url, sizeof(url));
		resolve(url, data, p->endpoint, sizeof(p->endpoint));
		if (p->busy && !p->awaiting)
			ev_timer_start(s->d->loop, &p->kick_w);	/* send_step, once out of curl */
	} else if ((strcmp(event, "message") == 0 || !event[0]) && p->awaiting && len) {
		cJSON *msg = cJSON_ParseWithLength(data, len);
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "id"));

		if (id && strcmp(id, p->want_id) == 0)
			handle_message(s, msg);
		else
			cJSON_Delete(msg);	/* a notification, or someone else's answer */
	}
	return s->http ? 0 : -ECANCELED;
}

static size_t on_stream_header(char *data, size_t size, size_t n, void *userdata)
{
	struct server *s = userdata;
	struct probe_http *p = s->http;

	p->stream_header_bytes += size * n;
	if (p->stream_header_bytes > MAX_HEADERS) {
		p->stream_too_big = true;
		return 0;	/* aborts the stream: on_stream_done says why */
	}
	return size * n;
}

static size_t on_stream_data(char *data, size_t size, size_t n, void *userdata)
{
	struct server *s = userdata;
	struct probe_http *p = s->http;
	int r = sse_feed(&p->sse, data, size * n, on_event, s);

	if (r == -EMSGSIZE) {
		/* An event that never ends must not grow mcpd: drop the stream. */
		p->stream_too_big = true;
		return 0;
	}
	if (r < 0)
		return 0;	/* the probe is gone: p with it */
	return size * n;
}

static void on_stream_done(CURL *easy, CURLcode result, void *userdata)
{
	struct server *s = userdata;
	struct probe_http *p = s->http;
	char why[96];

	p->stream_up = false;
	p->endpoint[0] = '\0';
	p->initialized = false;
	if (result == CURLE_WRITE_ERROR && p->stream_too_big)
		snprintf(why, sizeof(why), p->stream_header_bytes > MAX_HEADERS
			 ? "response headers larger than %d KiB; connection dropped"
			 : "an event larger than %d MiB; connection dropped",
			 p->stream_header_bytes > MAX_HEADERS ? MAX_HEADERS / 1024 : MAX_EVENT / (1024 * 1024));
	else
		snprintf(why, sizeof(why), "%s", result == CURLE_OK ? "closed by the server" : curl_easy_strerror(result));
	if (p->stream_too_big && !p->busy)
		log_warning(s->conf.name, NULL, "legacy SSE stream: %s; the next probe opens a new one", why);
	p->stream_too_big = false;
	sse_reset(&p->sse);
	if (p->busy) {
		char reason[160];

		snprintf(reason, sizeof(reason), "the legacy SSE stream ended (%s)", why);
		ev_timer_stop(s->d->loop, &p->timeout_w);
		p->awaiting = false;
		finish(s, false, NULL, reason);
	}
}

static void start_stream(struct server *s)
{
	struct probe_http *p = s->http;
	char url[1024];

	stream_url(s->conf.url, url, sizeof(url));
	if (!p->stream)
		p->stream = curl_easy_init();
	curl_easy_reset(p->stream);
	sse_reset(&p->sse);
	p->stream_header_bytes = 0;
	p->stream_too_big = false;
	p->endpoint[0] = '\0';
	curl_easy_setopt(p->stream, CURLOPT_URL, url);
	curl_easy_setopt(p->stream, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(p->stream, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->stream, CURLOPT_CONNECTTIMEOUT_MS, (long)s->conf.health.timeout_ms);
	curl_slist_free_all(p->stream_hdrs);
	p->stream_hdrs = curl_slist_append(NULL, "Accept: text/event-stream");
	for (size_t i = 0; i < s->conf.headers.n; i++) {
		char *h;

		xasprintf(&h, "%s: %s", s->conf.headers.items[i].key, s->conf.headers.items[i].value);
		p->stream_hdrs = curl_slist_append(p->stream_hdrs, h);
		free(h);
	}
	curl_easy_setopt(p->stream, CURLOPT_HTTPHEADER, p->stream_hdrs);
	curl_easy_setopt(p->stream, CURLOPT_WRITEFUNCTION, on_stream_data);
	curl_easy_setopt(p->stream, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(p->stream, CURLOPT_HEADERFUNCTION, on_stream_header);
	curl_easy_setopt(p->stream, CURLOPT_HEADERDATA, s);
	p->stream_up = true;
	if (curl_ev_add(curl_of(s->d), p->stream, on_stream_done, s) < 0) {
		p->stream_up = false;
		finish(s, false, NULL, "cannot open the legacy SSE stream");
	}
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_step(w->data);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;
	char d[32], reason[64];

	s->http->awaiting = false;
	duration_format(s->conf.health.timeout_ms, d, sizeof(d));
	snprintf(reason, sizeof(reason), "timed out after %s", d);
	finish(s, false, NULL, reason);
}

/* ---- eras ------------------------------------------------------------------ */

/* Said once per era (or version) found, not on every session re-opened. */
static void log_era(struct server *s, const cJSON *result, const char *version)
{
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(result, "serverInfo");
	const char *name, *ver;

	if (!info)
		info = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(result, "_meta"),
							MCP_META_SERVER_INFO);
	name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "name"));
	ver = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "version"));
	/* Found again by a re-probe that was not logged (the era flaps): not logged either. */
	log_msg(s->http && s->http->reprobe_quiet ? LOG_LVL_DEBUG : LOG_LVL_INFO, s->conf.name, NULL,
		"speaks MCP over HTTP: %.64s %.32s, protocol %s (%s era%s)",
		 name ? name : "?", ver ? ver : "?", version, mcp_era_name(mcp_version_modern(version)
		 ? MCP_ERA_MODERN : MCP_ERA_LEGACY), mcp_version_modern(version) ? ", no session" : "");
}

static bool monitor_only(const struct server *s)
{
	return !s->conf.command;
}

/* "a, b, c" of a version list, bounded. */
static void versions_text(const cJSON *list, char *buf, size_t size)
{
	const cJSON *v;
	size_t used = 0;
	int n = 0;

	snprintf(buf, size, "none");
	if (!cJSON_IsArray(list))
		return;
	cJSON_ArrayForEach(v, list) {
		const char *t = cJSON_GetStringValue(v);
		int w;

		if (!t)
			continue;
		if (++n > 4) {
			snprintf(buf + used, size - used, ", ...");
			return;
		}
		w = snprintf(buf + used, size - used, "%s%.32s", n > 1 ? ", " : "", t);
		if (w < 0 || (size_t)w >= size - used)
			return;
		used += (size_t)w;
	}
}

/* The server answered server/discover: modern from now on; the answer is its readiness. */
static void become_modern(struct server *s, const cJSON *result)
{
	struct probe_http *p = s->http;

	p->era = MCP_ERA_MODERN;
	p->initialized = false;
	p->session[0] = '\0';
	if (s->era != MCP_ERA_MODERN)
		log_era(s, result, MCP_VERSION_MODERN);
	s->era = s->era_hint = MCP_ERA_MODERN;
	snprintf(s->protocol_version, sizeof(s->protocol_version), "%s", MCP_VERSION_MODERN);
	cJSON_Delete(s->discover_result);
	s->discover_result = cJSON_Duplicate(result, 1);
	cJSON_Delete(s->init_result);
	s->init_result = NULL;
}

/* Legacy from now on: initialize (asking version, or the newest legacy one). */
static void become_legacy(struct server *s, const char *version, bool no_sse)
{
	struct probe_http *p = s->http;

	p->era = MCP_ERA_LEGACY;
	p->no_sse = no_sse;
	p->initialized = false;
	p->session[0] = '\0';
	snprintf(p->init_version, sizeof(p->init_version), "%s", version ? version : MCP_PROTOCOL_LATEST);
	p->step = STEP_INIT;
	send_step(s);
}

/* server/discover says legacy (why): initialize, unless the manifest pins the modern era. */
static void discover_says_legacy(struct server *s, const char *version, bool no_sse, const char *why)
{
	char reason[256];

	if (s->conf.protocol == PROTOCOL_MODERN) {
		snprintf(reason, sizeof(reason), "server/discover: %.160s, but protocol: modern allows only %s",
			 why, MCP_VERSION_MODERN);
		finish(s, false, NULL, reason);
		return;
	}
	log_debug(s->conf.name, NULL, "server/discover: %s: legacy era, initialize", why);
	become_legacy(s, version, no_sse);
}

/* A monitor-only server answered in the other era (it was replaced): find its era again, once per probe. */
static bool reprobe(struct server *s, const char *why)
{
	struct probe_http *p = s->http;

	double now = ev_now(s->d->loop);

	if (!monitor_only(s) || p->reprobed || s->conf.protocol != PROTOCOL_AUTO)
		return false;
	/* Once per probe at most; a server that flaps on every probe is logged once a minute, with a count. */
	p->reprobe_quiet = p->reprobe_logged > 0 && now - p->reprobe_logged < REPROBE_LOG_SECONDS;
	if (p->reprobe_quiet) {
		p->reprobes_unlogged++;
		log_debug(s->conf.name, NULL, "%s; probing its protocol era again (server/discover first)", why);
	} else if (p->reprobes_unlogged) {
		log_info(s->conf.name, NULL, "%s; probing its protocol era again (server/discover first); %lu more "
			 "such re-probes in the last %.0fs were not logged", why, p->reprobes_unlogged,
			 now - p->reprobe_logged);
	} else {
		log_info(s->conf.name, NULL, "%s; probing its protocol era again (server/discover first)", why);
	}
	if (!p->reprobe_quiet) {
		p->reprobe_logged = now;
		p->reprobes_unlogged = 0;
	}
	p->reprobed = true;
	p->era = MCP_ERA_UNKNOWN;
	p->initialized = false;
	p->session[0] = '\0';
	p->step = STEP_DISCOVER;
	send_step(s);
	return true;
}

/*
 * The answer to server/discover (any HTTP status but a transport failure):
 * modern, legacy, or a failed probe that decides nothing (5xx, a modern
 * server with no version in common).
 */
static void handle_discover(struct server *s, long status, cJSON *msg)
{
	struct probe_http *p = s->http;
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	const cJSON *versions;
	char reason[256], list[128];

	if (status >= 200 && status <= 299 && cJSON_IsObject(result)) {
		versions = cJSON_GetObjectItemCaseSensitive(result, "supportedVersions");
		if (cJSON_IsArray(versions)) {
			const cJSON *v;

			cJSON_ArrayForEach(v, versions) {
				if (mcp_version_modern(cJSON_GetStringValue(v))) {
					become_modern(s, result);
					cJSON_Delete(msg);
					if (strcmp(p->method, "ping") == 0) {
						finish(s, true, s->discover_result, NULL);
						return;
					}
					p->step = STEP_REQUEST;
					send_step(s);
					return;
				}
			}
			versions_text(versions, list, sizeof(list));
			if (mcp_versions_first_legacy(versions)) {
				snprintf(reason, sizeof(reason), "the server speaks only legacy versions (%s)", list);
				discover_says_legacy(s, mcp_versions_first_legacy(versions), true, reason);
				cJSON_Delete(msg);
				return;
			}
			snprintf(reason, sizeof(reason), "server/discover: the server speaks only protocol %.100s; mcpd speaks %s and %s to %s",
				 list, MCP_VERSION_MODERN, MCP_PROTOCOL_OLDEST, MCP_PROTOCOL_LATEST);
			cJSON_Delete(msg);
			finish(s, false, NULL, reason);
			return;
		}
	}
	if (cJSON_IsObject(error) && mcp_error_is_modern(error)) {
		/* A modern server: never a reason for initialize, let alone HTTP+SSE. */
		const cJSON *supported = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(error, "data"), "supported");
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		versions_text(supported, list, sizeof(list));
		if (jsonrpc_error_code(error) == MCP_ERR_UNSUPPORTED_VERSION && mcp_versions_first_legacy(supported)) {
			snprintf(reason, sizeof(reason), "error %d names only legacy versions (%s)", MCP_ERR_UNSUPPORTED_VERSION, list);
			discover_says_legacy(s, mcp_versions_first_legacy(supported), true, reason);
			cJSON_Delete(msg);
			return;
		}
		if (jsonrpc_error_code(error) == MCP_ERR_UNSUPPORTED_VERSION) {
			snprintf(reason, sizeof(reason), "server/discover: the server speaks only protocol %.100s (error %d); mcpd speaks %s and %s to %s",
				 list, MCP_ERR_UNSUPPORTED_VERSION, MCP_VERSION_MODERN, MCP_PROTOCOL_OLDEST, MCP_PROTOCOL_LATEST);
		} else {
			snprintf(reason, sizeof(reason), "JSON-RPC error %d from server/discover (HTTP %ld): %.100s",
				 jsonrpc_error_code(error), status, text ? text : "(no message)");
		}
		cJSON_Delete(msg);
		finish(s, false, NULL, reason);
		return;
	}
	cJSON_Delete(msg);
	if ((status >= 200 && status <= 299) || (status >= 400 && status <= 499)) {
		/* No modern answer: an older server, which wants initialize first. */
		snprintf(reason, sizeof(reason), "HTTP %ld without a modern answer", status);
		discover_says_legacy(s, NULL, false, reason);
		return;
	}
	snprintf(reason, sizeof(reason), "HTTP %ld from server/discover", status);
	finish(s, false, NULL, reason);
}

/* The answer to the request of the current step (NULL: none that parses). */
static void handle_message(struct server *s, cJSON *msg)
{
	struct probe_http *p = s->http;
	char reason[256];
	const cJSON *error;

	p->awaiting = false;
	ev_timer_stop(s->d->loop, &p->timeout_w);
	if (!msg) {
		snprintf(reason, sizeof(reason), "response to %s is not JSON-RPC", step_name(p));
		finish(s, false, NULL, reason);
		return;
	}
	error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	if (error) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		snprintf(reason, sizeof(reason), "JSON-RPC error %d from %s: %.100s",
			 jsonrpc_error_code(error), step_name(p),
			 text ? text : "(no message)");
		cJSON_Delete(msg);
		finish(s, false, NULL, reason);
		return;
	}
	if (p->step == STEP_INIT) {
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "result");
		const char *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "protocolVersion"));

		if (!version || !mcp_version_legacy(version)) {
			snprintf(reason, sizeof(reason), "protocol version \"%.32s\" is not supported",
				 version ? version : "(none)");
			cJSON_Delete(msg);
			finish(s, false, NULL, reason);
			return;
		}
		snprintf(p->proto, sizeof(p->proto), "%s", version);
		snprintf(p->session, sizeof(p->session), "%s", p->new_session);
		p->era = MCP_ERA_LEGACY;
		if (s->era != MCP_ERA_LEGACY || strcmp(s->protocol_version, version) != 0)
			log_era(s, res, version);
		snprintf(s->protocol_version, sizeof(s->protocol_version), "%s", version);
		s->era = s->era_hint = MCP_ERA_LEGACY;
		cJSON_Delete(s->init_result);
		s->init_result = cJSON_Duplicate(res, 1);
		cJSON_Delete(s->discover_result);
		s->discover_result = NULL;
		cJSON_Delete(msg);
		p->step = STEP_NOTIFY;
		send_step(s);
		return;
	}
	finish(s, true, cJSON_GetObjectItemCaseSensitive(msg, "result"), NULL);
	cJSON_Delete(msg);
}

static void on_done(CURL *easy, CURLcode result, void *userdata)
{
	struct server *s = userdata;
	struct probe_http *p = s->http;
	char reason[256], id[48];
	long status = 0;
	const cJSON *error;
	bool modern_error;
	cJSON *msg;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (easy != p->easy) {
		/* A legacy POST: its answer comes on the stream; only a refusal matters here. */
		bool notify = p->step == STEP_NOTIFY && p->busy;

		for (size_t i = 0; i < sizeof(p->posts) / sizeof(*p->posts); i++)
			if (p->posts[i] == easy)
				p->posts[i] = NULL;
		curl_easy_cleanup(easy);
		if (!p->busy)
			return;
		if (result != CURLE_OK || status < 200 || status > 299) {
			if (result != CURLE_OK)
				curl_reason(s, result, reason, sizeof(reason));
			else
				snprintf(reason, sizeof(reason), "HTTP %ld from %s", status, step_name(p));
			ev_timer_stop(s->d->loop, &p->timeout_w);
			p->awaiting = false;
			finish(s, false, NULL, reason);
		} else if (notify) {
			p->initialized = true;
			p->step = STEP_REQUEST;
			send_step(s);
		}
		return;
	}
	if (result != CURLE_OK) {
		/* An outage, not an answer: the era stays what it was. */
		curl_reason(s, result, reason, sizeof(reason));
		finish(s, false, NULL, reason);
		return;
	}
	if (p->step == STEP_NOTIFY) {
		if (status < 200 || status > 299) {
			snprintf(reason, sizeof(reason), "HTTP %ld from %s", status, step_name(p));
			finish(s, false, NULL, reason);
			return;
		}
		p->initialized = true;
		p->step = STEP_REQUEST;
		send_step(s);
		return;
	}
	snprintf(id, sizeof(id), "mcpd-probe-%lld", (long long)p->next_id);
	msg = parse_response(p, id);
	error = cJSON_IsObject(msg) ? cJSON_GetObjectItemCaseSensitive(msg, "error") : NULL;
	modern_error = cJSON_IsObject(error) && mcp_error_is_modern(error);
	if (p->step == STEP_DISCOVER) {
		handle_discover(s, status, msg);
		return;
	}
	if (modern_step(p)) {
		if (status >= 400 && status <= 499 && !modern_error) {
			snprintf(reason, sizeof(reason), "%s got HTTP %ld without a modern error", step_name(p), status);
			if (reprobe(s, reason)) {
				cJSON_Delete(msg);
				return;
			}
		}
	} else {
		if (modern_error) {
			snprintf(reason, sizeof(reason), "legacy %s got the modern error %d", step_name(p), jsonrpc_error_code(error));
			if (reprobe(s, reason)) {
				cJSON_Delete(msg);
				return;
			}
		}
		if ((status == 404 || status == 400) && p->session[0] && p->step == STEP_REQUEST && !p->reinit_tried) {
			/*
			 * The session is gone (the server restarted): 404 as the specification
			 * says, or 400 as the reference TypeScript server answers an unknown
			 * session. One fresh initialize, then the request again.
			 */
			log_debug(s->conf.name, NULL, "session expired (HTTP %ld from %s); opening a new one", status, p->method);
			cJSON_Delete(msg);
			p->reinit_tried = true;
			p->session[0] = '\0';
			p->initialized = false;
			p->step = STEP_INIT;
			send_step(s);
			return;
		}
		if (!p->legacy && !p->no_sse && !modern_error && p->step == STEP_INIT &&
		    (status == 400 || status == 404 || status == 405)) {
			/* No Streamable HTTP here: try the legacy HTTP+SSE transport. */
			log_info(s->conf.name, NULL, "POST initialize got HTTP %ld: trying the legacy HTTP+SSE transport", status);
			cJSON_Delete(msg);
			p->legacy = true;
			start_stream(s);
			return;
		}
	}
	if (status < 200 || status > 299) {
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(error, "message"));

		if (cJSON_IsObject(error))
			snprintf(reason, sizeof(reason), "HTTP %ld from %s: JSON-RPC error %d: %.100s", status, step_name(p),
				 jsonrpc_error_code(error), text ? text : "(no message)");
		else
			snprintf(reason, sizeof(reason), "HTTP %ld from %s", status, step_name(p));
		cJSON_Delete(msg);
		finish(s, false, NULL, reason);
		return;
	}
	if (modern_step(p) && strcmp(wire_method(p), "server/discover") == 0 && !error) {
		/* Liveness answered with a fresh DiscoverResult: keep it for clients. */
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "result");

		if (cJSON_IsObject(res))
			become_modern(s, res);
	}
	handle_message(s, msg);
}

int probe_http_request(struct server *s, const char *method)
{
	struct probe_http *p;
	bool have_curl = curl_of(s->d) != NULL;	/* loads libcurl: before the first curl_easy_init */

	if (!s->http) {
		s->http = xcalloc(1, sizeof(*s->http));
		s->http->easy = curl_easy_init();
		s->http->s = s;
		sse_init(&s->http->sse, MAX_EVENT);
		ev_timer_init(&s->http->timeout_w, on_timeout, 0., 0.);
		ev_timer_init(&s->http->kick_w, on_kick, 0., 0.);
		s->http->timeout_w.data = s->http->kick_w.data = s;
	}
	p = s->http;
	if (p->busy) {
		/*
		 * A tool list refetched (ttlMs) while a ping is in flight, or the
		 * reverse: one waits for the other instead of being lost.
		 */
		if (strcmp(method, p->method) == 0 || p->queued[0])
			return -1;
		snprintf(p->queued, sizeof(p->queued), "%s", method);
		return 0;
	}
	p->busy = true;
	p->started = ev_time();
	snprintf(p->method, sizeof(p->method), "%s", method);
	p->reinit_tried = p->reprobed = p->reprobe_quiet = false;	/* once per probe each: no loop */
	if (p->era == MCP_ERA_MODERN)
		p->step = STEP_REQUEST;
	else if (p->era == MCP_ERA_LEGACY)
		p->step = p->initialized ? STEP_REQUEST : STEP_INIT;
	else if (s->conf.protocol == PROTOCOL_LEGACY)
		p->step = STEP_INIT;	/* pinned by the manifest: no server/discover */
	else
		p->step = STEP_DISCOVER;
	if (have_curl)
		send_step(s);
	else
		ev_timer_start(s->d->loop, &p->kick_w);	/* send_step fails it, once the caller has returned */
	return 0;
}

void probe_http_reset(struct server *s)
{
	struct probe_http *p = s->http;

	if (!p)
		return;
	if (p->busy)
		curl_ev_remove(curl_of(s->d), p->easy);
	if (p->stream_up)
		curl_ev_remove(curl_of(s->d), p->stream);
	for (size_t i = 0; i < sizeof(p->posts) / sizeof(*p->posts); i++) {
		if (p->posts[i]) {
			curl_ev_remove(curl_of(s->d), p->posts[i]);
			curl_easy_cleanup(p->posts[i]);
			p->posts[i] = NULL;
		}
	}
	ev_timer_stop(s->d->loop, &p->timeout_w);
	ev_timer_stop(s->d->loop, &p->kick_w);
	p->busy = p->awaiting = p->stream_up = p->legacy = false;
	p->initialized = p->no_sse = false;
	p->queued[0] = '\0';
	p->session[0] = p->endpoint[0] = p->init_version[0] = '\0';
	/* A new process (or a server started again): its era is found again. */
	p->era = MCP_ERA_UNKNOWN;
	s->era = MCP_ERA_UNKNOWN;
	s->protocol_version[0] = '\0';
	cJSON_Delete(s->init_result);
	s->init_result = NULL;
	cJSON_Delete(s->discover_result);
	s->discover_result = NULL;
}

void probe_http_free(struct server *s)
{
	struct probe_http *p = s->http;

	if (!p)
		return;
	probe_http_reset(s);
	curl_easy_cleanup(p->easy);
	if (p->stream)
		curl_easy_cleanup(p->stream);
	curl_slist_free_all(p->stream_hdrs);
	curl_slist_free_all(p->hdrs);
	free(p->body);
	sse_free(&p->sse);
	free(p);
	s->http = NULL;
}
