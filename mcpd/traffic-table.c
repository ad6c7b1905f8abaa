/* Series, histograms, the window and their exposition: see traffic-table.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "traffic-table.h"
#include "xmalloc.h"

/* The exposition's le values, and the bounds in microseconds (compared without floating point). */
static const char *const bucket_le[TRAFFIC_BUCKETS] = {
	",le=\"0.005\"} ", ",le=\"0.01\"} ", ",le=\"0.025\"} ", ",le=\"0.05\"} ", ",le=\"0.1\"} ", ",le=\"0.25\"} ",
	",le=\"0.5\"} ", ",le=\"1\"} ", ",le=\"2.5\"} ", ",le=\"5\"} ", ",le=\"10\"} ", ",le=\"+Inf\"} ",
};
static unsigned char bucket_le_len[TRAFFIC_BUCKETS];	/* filled at the first table */
static const uint64_t bucket_us[TRAFFIC_BUCKETS - 1] = {
	5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* 0.1 ms x 1.4^k: 40 bounds up to about 50 s, each about 40% above the last. */
const double traffic_wbucket_ms[TRAFFIC_WBUCKETS] = {
	0.1, 0.14, 0.196, 0.274, 0.384, 0.538, 0.753, 1.05, 1.48, 2.07, 2.89, 4.05, 5.67, 7.94,
	11.1, 15.6, 21.8, 30.5, 42.7, 59.8, 83.7, 117, 164, 230, 321, 450, 630, 882, 1235, 1729,
	2420, 3388, 4744, 6641, 9298, 13017, 18224, 25514, 35719, 50007,
};

static const char *const outcome_names[TRAFFIC__OUTCOMES] = {
	"ok", "error", "tool_error", "timeout", "cancelled", "unavailable",
};
/* The outcome label as rendered, and its length. */
static const char *const outcome_labels[TRAFFIC__OUTCOMES] = {
	",outcome=\"ok\"} ", ",outcome=\"error\"} ", ",outcome=\"tool_error\"} ", ",outcome=\"timeout\"} ",
	",outcome=\"cancelled\"} ", ",outcome=\"unavailable\"} ",
};
static unsigned char outcome_label_len[TRAFFIC__OUTCOMES];

const char *traffic_outcome_name(enum traffic_outcome o)
{
	return o < TRAFFIC__OUTCOMES ? outcome_names[o] : "?";
}

/* Both eras' client-to-server requests; index 0 is everything else. */
static const char *const methods[] = {
	"other", "initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
	"resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list", "prompts/get",
	"completion/complete", "logging/setLevel", "server/discover", "subscriptions/listen", "tasks/get",
	"tasks/list", "tasks/result", "tasks/cancel",
};
#define NMETHODS (sizeof(methods) / sizeof(*methods))

uint64_t traffic_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

unsigned traffic_method_index(const char *method)
{
	/* Most requests are tools/call: first, then the rest in order. */
	if (!method)
		return TRAFFIC_METHOD_OTHER;
	if (strcmp(method, "tools/call") == 0)
		return 4;
	for (unsigned i = 1; i < NMETHODS; i++)
		if (method[0] == methods[i][0] && strcmp(method, methods[i]) == 0)
			return i;
	return TRAFFIC_METHOD_OTHER;
}

const char *traffic_method_name(unsigned index)
{
	return index < NMETHODS ? methods[index] : "other";
}

/* ---- the table -------------------------------------------------------------- */

/* s escaped as a label value (\, " and newline) into a malloc'd string. */
static char *escape(const char *s)
{
	char *out = xmalloc(2 * strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s == '\\' || *s == '"') {
			*o++ = '\\';
			*o++ = *s;
		} else if (*s == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

struct traffic_table *traffic_table_new(const char *server_name)
{
	struct traffic_table *t = xcalloc(1, sizeof(*t));

	if (!bucket_le_len[0]) {
		for (int k = 0; k < TRAFFIC_BUCKETS; k++)
			bucket_le_len[k] = (unsigned char)strlen(bucket_le[k]);
		for (int o = 0; o < TRAFFIC__OUTCOMES; o++)
			outcome_label_len[o] = (unsigned char)strlen(outcome_labels[o]);
	}
	{
		char label[256];

		t->server_label = xstrdup(metrics_server(server_name, label, sizeof(label)));
	}
	t->index_cap = 64;
	t->index = xcalloc(t->index_cap, sizeof(*t->index));
	return t;
}

static void free_tools(struct traffic_table *t)
{
	for (size_t i = 0; i < t->ntools; i++)
		free(t->tools[i]);
	free(t->tools);
	free(t->tool_index);
	t->tools = NULL;
	t->tool_index = NULL;
	t->ntools = t->tool_index_cap = 0;
}

void traffic_table_free(struct traffic_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nseries; i++) {
		free(t->series[i]->tool);
		free(t->series[i]->labels);
		free(t->series[i]);
	}
	free(t->series);
	free(t->index);
	free_tools(t);
	free(t->server_label);
	free(t);
}

static uint64_t series_hash(unsigned method, const char *tool)
{
	/* A different method gives a different hash for the same tool name. */
	return (tool ? traffic_hash(tool) : 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)(method + 1) * 0xff51afd7ed558ccdULL);
}

/*
 * Is s valid UTF-8 (no overlong forms, surrogates, nor anything above
 * U+10FFFF)? The exposition must be: one invalid label value makes
 * Prometheus refuse the whole scrape.
 */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t len = *s < 0x80 ? 1 : *s >= 0xc2 && *s <= 0xdf ? 2 : *s >= 0xe0 && *s <= 0xef ? 3 :
			     *s >= 0xf0 && *s <= 0xf4 ? 4 : 0;
		unsigned cp = len == 2 ? *s & 0x1fu : len == 3 ? *s & 0x0fu : *s & 0x07u;

		if (!len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)	/* a NUL ends the string here too */
				return false;
			cp = cp << 6 | (s[i] & 0x3fu);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		s += len;
	}
	return true;
}

void traffic_table_set_tools(struct traffic_table *t, const cJSON *tools, uint64_t hash)
{
	const cJSON *it;
	size_t n = (size_t)cJSON_GetArraySize(tools), cap = 16;

	free_tools(t);
	t->tools_hash = hash;
	t->tools_known = true;
	while (cap < 2 * n)
		cap *= 2;
	t->tools = xcalloc(n ? n : 1, sizeof(*t->tools));
	t->tool_index = xcalloc(cap, sizeof(*t->tool_index));
	t->tool_index_cap = cap;
	cJSON_ArrayForEach(it, tools) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
		size_t slot;

		if (!name || strlen(name) > TRAFFIC_MAX_TOOL || strcmp(name, "other") == 0 || !utf8_valid(name) ||
		    traffic_table_tool_listed(t, name, traffic_hash(name)))
			continue;	/* "other" is the label of every unlisted tool: never one's own; nor a name
					 * that is not UTF-8, which no label may hold */
		t->tools[t->ntools] = xstrdup(name);
		for (slot = traffic_hash(name) & (cap - 1); t->tool_index[slot]; slot = (slot + 1) & (cap - 1))
			;
		t->tool_index[slot] = (uint32_t)++t->ntools;
	}
}

bool traffic_table_tool_listed(const struct traffic_table *t, const char *name, uint64_t hash)
{
	if (!t->tool_index_cap)
		return false;
	for (size_t slot = hash & (t->tool_index_cap - 1); t->tool_index[slot]; slot = (slot + 1) & (t->tool_index_cap - 1))
		if (strcmp(t->tools[t->tool_index[slot] - 1], name) == 0)
			return true;
	return false;
}

static void index_put(uint32_t *index, size_t cap, uint64_t hash, uint32_t value)
{
	size_t slot = hash & (cap - 1);

	while (index[slot])
		slot = (slot + 1) & (cap - 1);
	index[slot] = value;
}

static struct traffic_series *find(const struct traffic_table *t, uint64_t hash, unsigned method, const char *tool)
{
	for (size_t slot = hash & (t->index_cap - 1); t->index[slot]; slot = (slot + 1) & (t->index_cap - 1)) {
		struct traffic_series *se = t->series[t->index[slot] - 1];

		if (se->hash == hash && se->method == method &&
		    (tool ? se->tool && strcmp(se->tool, tool) == 0 : !se->tool))
			return se;
	}
	return NULL;
}

/* Room for one line: the name, the labels, one more label and a value. */
#define LINE_ROOM(se) (64 + (se)->labels_len + 40 + 24)

static struct traffic_series *add(struct traffic_table *t, uint64_t hash, unsigned method, const char *tool)
{
	struct traffic_series *se = xcalloc(1, sizeof(*se));
	const char *m = traffic_method_name(method);
	char *tool_label = tool ? escape(tool) : NULL;
	size_t n;

	se->hash = hash;
	se->method = method;
	se->tool = tool ? xstrdup(tool) : NULL;
	n = strlen(t->server_label) + strlen(m) + (tool_label ? strlen(tool_label) : 0) + 40;
	se->labels = xmalloc(n);
	se->labels_len = (size_t)snprintf(se->labels, n, "server=\"%s\",method=\"%s\",tool=\"%s\"", t->server_label, m,
					  tool_label ? tool_label : "");
	free(tool_label);
	if (2 * (t->nseries + 1) > t->index_cap) {
		free(t->index);
		t->index_cap *= 2;
		t->index = xcalloc(t->index_cap, sizeof(*t->index));
		for (size_t i = 0; i < t->nseries; i++)
			index_put(t->index, t->index_cap, t->series[i]->hash, (uint32_t)(i + 1));
	}
	if ((t->nseries & (t->nseries - 1)) == 0)	/* 0, 1, 2, 4...: doubled at each power of 2 */
		t->series = xrealloc(t->series, (t->nseries ? 2 * t->nseries : 1) * sizeof(*t->series));
	t->series[t->nseries++] = se;
	t->render_size += (TRAFFIC__OUTCOMES + TRAFFIC_BUCKETS + 2) * LINE_ROOM(se);
	index_put(t->index, t->index_cap, hash, (uint32_t)t->nseries);
	return se;
}

struct traffic_series *traffic_table_series(struct traffic_table *t, unsigned method, const char *tool)
{
	uint64_t hash = series_hash(method, tool);
	struct traffic_series *se = find(t, hash, method, tool);

	if (se)
		return se;
	if (t->nseries < TRAFFIC_MAX_SERIES)
		return add(t, hash, method, tool);
	t->folded++;
	hash = series_hash(TRAFFIC_METHOD_OTHER, "other");
	se = find(t, hash, TRAFFIC_METHOD_OTHER, "other");
	return se ? se : add(t, hash, TRAFFIC_METHOD_OTHER, "other");	/* the one series past the cap */
}

/* ---- counting ----------------------------------------------------------------- */

static struct traffic_slot *slot_of(struct traffic_table *t, double now)
{
	int64_t second = (int64_t)floor(now);
	struct traffic_slot *sl = &t->slots[(uint64_t)second % TRAFFIC_WINDOW_SECONDS];

	if (sl->second != second) {
		memset(sl, 0, sizeof(*sl));
		sl->second = second;
	}
	return sl;
}

static size_t wbucket_of(double ms)
{
	size_t lo = 0, hi = TRAFFIC_WBUCKETS;	/* the first bound >= ms, or the +Inf bucket */

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (traffic_wbucket_ms[mid] < ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void traffic_table_finish(struct traffic_table *t, struct traffic_series *se, enum traffic_outcome o,
			  double latency_s, double now)
{
	struct traffic_slot *sl = slot_of(t, now);

	se->outcomes[o]++;
	t->requests++;
	sl->requests++;
	if (o != TRAFFIC_OK) {
		t->errors++;
		sl->errors++;
	}
	if (latency_s >= 0) {
		uint64_t us = (uint64_t)(latency_s * 1e6 + 0.5);
		size_t k = 0;

		while (k < TRAFFIC_BUCKETS - 1 && us > bucket_us[k])
			k++;
		se->buckets[k]++;
		se->answered++;
		se->sum_us += us;
		sl->wbuckets[wbucket_of(latency_s * 1000.)]++;
		sl->timed++;
	}
}

double traffic_quantile(double q, const uint32_t *buckets, const double *bounds, size_t nbounds)
{
	uint64_t total = 0, cum = 0;
	double rank;

	for (size_t k = 0; k <= nbounds; k++)
		total += buckets[k];
	if (total == 0)
		return -1;
	rank = q * (double)total;
	for (size_t k = 0; k <= nbounds; k++) {
		double lower = k ? bounds[k - 1] : 0;

		if ((double)(cum + buckets[k]) >= rank && buckets[k]) {
			if (k == nbounds)
				return bounds[nbounds - 1];	/* +Inf: the highest finite bound, as Prometheus does */
			return lower + (bounds[k] - lower) * (rank - (double)cum) / (double)buckets[k];
		}
		cum += buckets[k];
	}
	return bounds[nbounds - 1];
}

void traffic_table_window(const struct traffic_table *t, double now, struct traffic_window *ret)
{
	int64_t second = (int64_t)floor(now);
	uint32_t merged[TRAFFIC_WBUCKETS + 1] = { 0 };

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < TRAFFIC_WINDOW_SECONDS; i++) {
		const struct traffic_slot *sl = &t->slots[i];

		if (sl->second > second - TRAFFIC_WINDOW_SECONDS && sl->second <= second) {
			ret->requests += sl->requests;
			ret->errors += sl->errors;
			ret->timed += sl->timed;
			for (size_t k = 0; sl->timed && k <= TRAFFIC_WBUCKETS; k++)
				merged[k] += sl->wbuckets[k];
		}
	}
	ret->p50_ms = traffic_quantile(0.5, merged, traffic_wbucket_ms, TRAFFIC_WBUCKETS);
	ret->p99_ms = traffic_quantile(0.99, merged, traffic_wbucket_ms, TRAFFIC_WBUCKETS);
}

/* ---- exposition ------------------------------------------------------------------- */

size_t traffic_render_size(const struct traffic_table *t)
{
	return 4 * (strlen(t->server_label) + 96) + t->render_size;
}

void traffic_render_reserve(struct metrics_buf *b, size_t n)
{
	if (b->len + n < b->cap)
		return;	/* the buffer kept from the last scrape (metrics.c) has room: the usual case */
	/* One growth for the whole exposition: no copy per doubling. */
	b->cap = b->len + n + 1;
	b->data = xrealloc(b->data, b->cap);
}

void traffic_render_requests(const struct traffic_table *t, struct metrics_buf *b)
{
	for (size_t i = 0; i < t->nseries; i++) {
		const struct traffic_series *se = t->series[i];
		char *p;

		metrics_reserve(b, TRAFFIC__OUTCOMES * LINE_ROOM(se));
		p = b->data + b->len;
		for (int o = 0; o < TRAFFIC__OUTCOMES; o++) {
			if (!se->outcomes[o])
				continue;
			p = METRICS_PUT(p, "mcpd_requests_total{");
			p = metrics_put(p, se->labels, se->labels_len);
			p = metrics_put(p, outcome_labels[o], outcome_label_len[o]);
			p = metrics_put_u64_nl(p, se->outcomes[o]);
		}
		b->len = (size_t)(p - b->data);
	}
}

void traffic_render_durations(const struct traffic_table *t, struct metrics_buf *b)
{
	for (size_t i = 0; i < t->nseries; i++) {
		const struct traffic_series *se = t->series[i];
		uint64_t cum = 0;
		char *p;

		if (!se->answered)
			continue;
		metrics_reserve(b, (TRAFFIC_BUCKETS + 2) * LINE_ROOM(se));
		p = b->data + b->len;
		for (int k = 0; k < TRAFFIC_BUCKETS; k++) {
			cum += se->buckets[k];
			p = METRICS_PUT(p, "mcpd_request_duration_seconds_bucket{");
			p = metrics_put(p, se->labels, se->labels_len);
			p = metrics_put(p, bucket_le[k], bucket_le_len[k]);
			p = metrics_put_u64_nl(p, cum);
		}
		p = METRICS_PUT(p, "mcpd_request_duration_seconds_sum{");
		p = metrics_put(p, se->labels, se->labels_len);
		p = METRICS_PUT(p, "} ");
		p = metrics_put_us_nl(p, se->sum_us);
		p = METRICS_PUT(p, "mcpd_request_duration_seconds_count{");
		p = metrics_put(p, se->labels, se->labels_len);
		p = METRICS_PUT(p, "} ");
		p = metrics_put_u64_nl(p, se->answered);
		b->len = (size_t)(p - b->data);
	}
}

void traffic_render_in_flight(const struct traffic_table *t, struct metrics_buf *b)
{
	size_t n = strlen(t->server_label);
	char *p;

	metrics_reserve(b, n + 128);
	p = b->data + b->len;
	p = METRICS_PUT(p, "mcpd_requests_in_flight{server=\"");
	p = metrics_put(p, t->server_label, n);
	p = METRICS_PUT(p, "\"} ");
	p = metrics_put_u64_nl(p, t->in_flight);
	b->len = (size_t)(p - b->data);
}

void traffic_render_bytes(const struct traffic_table *t, struct metrics_buf *b)
{
	size_t n = strlen(t->server_label);
	char *p;

	metrics_reserve(b, 2 * n + 256);
	p = b->data + b->len;
	p = METRICS_PUT(p, "mcpd_request_bytes_total{server=\"");
	p = metrics_put(p, t->server_label, n);
	p = METRICS_PUT(p, "\",direction=\"in\"} ");
	p = metrics_put_u64_nl(p, t->bytes_in);
	p = METRICS_PUT(p, "mcpd_request_bytes_total{server=\"");
	p = metrics_put(p, t->server_label, n);
	p = METRICS_PUT(p, "\",direction=\"out\"} ");
	p = metrics_put_u64_nl(p, t->bytes_out);
	b->len = (size_t)(p - b->data);
}
