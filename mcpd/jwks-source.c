/* The gateway's JWT keys from a file or a URL: see jwks-source.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "curl-ev.h"
#include "daemon.h"
#include "jwks-source.h"
#include "jwks.h"
#include "log.h"
#include "readfile.h"
#include "xmalloc.h"

struct jwks_source {
	struct daemon *d;
	struct jwks *keys;
	struct curl_ev *curl;
	CURL *easy;		/* the fetch under way, NULL when none */
	char *body;
	size_t len;
	bool too_large;
	double last_kid_fetch;	/* ev_time() of the last fetch for an unknown kid */
	ev_timer refresh_w;
	char *source;		/* the jwks_file or jwks_url the keys are from; NULL without gateway.jwt */
};

static const struct gateway_jwt_conf *conf(const struct jwks_source *js)
{
	return &js->d->manifest->mcpd.gateway.jwt;
}

static void take(struct jwks_source *js, struct jwks *keys, const char *from)
{
	bool first = js->keys == NULL;

	jwks_free(js->keys);
	js->keys = keys;
	log_notice(NULL, NULL, "gateway: %s %u JWT signing keys from %s%s", first ? "loaded" : "reloaded",
		   (unsigned)keys->n, from, keys->skipped ? " (keys of other uses or types skipped)" : "");
}

/* Parse what was read or fetched; on failure the last good set stays. */
static void parse_into(struct jwks_source *js, const char *buf, size_t len, const char *from)
{
	struct jwks *keys = NULL;
	char *error = NULL;

	if (jwks_parse(buf, len, &keys, &error) < 0) {
		log_error(NULL, NULL, "gateway: the JWT key set from %s is invalid: %s; %s", from, error,
			  js->keys ? "keeping the previous keys" : "every bearer token that is not in tokens_file is refused");
		free(error);
		return;
	}
	take(js, keys, from);
}

static void read_keys_file(struct jwks_source *js)
{
	const char *path = conf(js)->jwks_file;
	char *buf = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int r = read_file(path, JWKS_MAX_BYTES, 0, &buf, &len, &mode);

	if (r < 0) {
		log_error(NULL, NULL, "gateway: cannot read jwks_file %s: %s; %s", path,
			  r == -EFBIG ? "larger than 256 KiB" : r == -EINVAL ? file_type_name(mode) : strerror(-r),
			  js->keys ? "keeping the previous keys" : "every bearer token that is not in tokens_file is refused");
		return;
	}
	parse_into(js, buf, len, path);
	free(buf);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct jwks_source *js = userdata;
	size_t n = size * nmemb;

	if (js->len + n > JWKS_MAX_BYTES) {
		js->too_large = true;
		return 0;	/* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	js->body = xrealloc(js->body, js->len + n + 1);
	memcpy(js->body + js->len, data, n);
	js->len += n;
	js->body[js->len] = '\0';
	return n;
}

/*
 * A key source as logs show it: a URL without its user:password@ and its
 * ?query or #fragment, which may carry a secret; a file as it is. Malloc'd.
 */
static char *shown(const char *source)
{
	const char *scheme = source ? strstr(source, "://") : NULL;
	const char *host, *at, *end;
	char *ret;

	if (!scheme)
		return xstrdup(source ? source : "");
	host = scheme + 3;
	end = host + strcspn(host, "?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at && (size_t)(at - host) < strcspn(host, "/"))
		host = at + 1;
	xasprintf(&ret, "%.*s%.*s", (int)(scheme + 3 - source), source, (int)(end - host), host);
	return ret;
}

static void fetch_reset(struct jwks_source *js)
{
	if (js->easy) {
		curl_ev_remove(js->curl, js->easy);
		curl_easy_cleanup(js->easy);
		js->easy = NULL;
	}
	free(js->body);
	js->body = NULL;
	js->len = 0;
	js->too_large = false;
}

static void on_fetched(CURL *easy, CURLcode result, void *userdata)
{
	struct jwks_source *js = userdata;
	char *url = conf(js)->jwks_url ? shown(conf(js)->jwks_url) : NULL;
	const char *keep = js->keys ? "keeping the previous keys" : "bearer tokens that are not in tokens_file are refused";
	long status = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (js->too_large)
		log_error(NULL, NULL, "gateway: the JWT key set at %s is larger than 256 KiB; %s", url, keep);
	else if (result != CURLE_OK)
		log_error(NULL, NULL, "gateway: cannot fetch the JWT key set from %s: %s; %s; next try in %.0fs", url,
			  curl_easy_strerror(result), keep, js->keys ? JWKS_REFRESH_SECONDS : JWKS_MIN_INTERVAL);
	else if (status != 200)
		log_error(NULL, NULL, "gateway: fetching the JWT key set from %s answered HTTP %ld; %s; next try in %.0fs",
			  url, status, keep, js->keys ? JWKS_REFRESH_SECONDS : JWKS_MIN_INTERVAL);
	else if (url)
		parse_into(js, js->body ? js->body : "", js->len, url);
	free(url);
	curl_easy_cleanup(easy);
	js->easy = NULL;
	fetch_reset(js);
	/* Without keys, try again soon; with keys, in an hour. */
	js->refresh_w.repeat = js->keys ? JWKS_REFRESH_SECONDS : JWKS_MIN_INTERVAL;
	ev_timer_again(js->d->loop, &js->refresh_w);
}

static void fetch(struct jwks_source *js)
{
	const char *url = conf(js)->jwks_url;

	if (!url || js->easy)
		return;
	if (!js->curl) {
		const char *why;

		/* libcurl is loaded here, not before: a jwks_file needs none. */
		js->curl = curl_ev_new(js->d->loop, &why);
		if (!js->curl) {
			char *u = shown(url);

			log_error(NULL, NULL, "gateway: cannot fetch the JWT key set from %s: %s; "
				  "tokens are refused until mcpd runs with libcurl (Debian: libcurl4)", u, why);
			free(u);
			return;
		}
	}
	js->easy = curl_easy_init();
	if (!js->easy) {
		char *u = shown(url);

		log_error(NULL, NULL, "gateway: cannot fetch the JWT key set from %s: libcurl has no handle", u);
		free(u);
		return;
	}
	curl_easy_setopt(js->easy, CURLOPT_URL, url);
	curl_easy_setopt(js->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(js->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(js->easy, CURLOPT_TIMEOUT_MS, JWKS_FETCH_TIMEOUT_MS);
	curl_easy_setopt(js->easy, CURLOPT_MAXFILESIZE, (long)JWKS_MAX_BYTES);
	curl_easy_setopt(js->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(js->easy, CURLOPT_WRITEDATA, js);
	curl_ev_add(js->curl, js->easy, on_fetched, js);
}

static void on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	fetch(w->data);
}

/* The file or URL the manifest names now: NULL when it has no gateway.jwt. */
static const char *source_now(const struct jwks_source *js)
{
	if (!conf(js)->enabled)
		return NULL;
	return conf(js)->jwks_file ? conf(js)->jwks_file : conf(js)->jwks_url;
}

static void load(struct jwks_source *js)
{
	free(js->source);
	js->source = xstrdup(source_now(js));
	if (conf(js)->jwks_file)
		read_keys_file(js);
	else
		fetch(js);
}

struct jwks_source *jwks_source_new(struct daemon *d)
{
	struct jwks_source *js;

	if (!d->manifest->mcpd.gateway.jwt.enabled)
		return NULL;
	js = xcalloc(1, sizeof(*js));
	js->d = d;
	ev_init(&js->refresh_w, on_refresh);
	js->refresh_w.data = js;
	load(js);
	return js;
}

void jwks_source_reload(struct jwks_source *js)
{
	if (!js)
		return;
	fetch_reset(js);	/* a fetch under way may be of the previous URL */
	ev_timer_stop(js->d->loop, &js->refresh_w);
	/* The last good keys stay for a failed read of the same source, never for another one. */
	if (js->keys && (!source_now(js) || strcmp(source_now(js), js->source) != 0)) {
		char *was = shown(js->source), *now = shown(source_now(js));

		log_notice(NULL, NULL, "gateway: the JWT keys from %s are dropped: %s%s", was,
			   source_now(js) ? "the key set is now " : "gateway.jwt is gone", now);
		free(was);
		free(now);
		jwks_free(js->keys);
		js->keys = NULL;
	}
	if (!conf(js)->enabled)
		return;
	load(js);
}

const struct jwks *jwks_source_keys(const struct jwks_source *js)
{
	return js ? js->keys : NULL;
}

void jwks_source_unknown_kid(struct jwks_source *js)
{
	/* Only these fetches are a client's doing: they are the ones bounded. A fetch under way brings the set anyway. */
	if (!js || !conf(js)->jwks_url || js->easy || ev_time() - js->last_kid_fetch < JWKS_MIN_INTERVAL)
		return;
	js->last_kid_fetch = ev_time();
	{
		char *u = shown(conf(js)->jwks_url);

		log_info(NULL, NULL, "gateway: a token names a key the set lacks; fetching %s again", u);
		free(u);
	}
	fetch(js);
}

void jwks_source_free(struct jwks_source *js)
{
	if (!js)
		return;
	fetch_reset(js);
	ev_timer_stop(js->d->loop, &js->refresh_w);
	curl_ev_free(js->curl);
	jwks_free(js->keys);
	free(js->source);
	free(js);
}
