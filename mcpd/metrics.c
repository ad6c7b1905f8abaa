/* Prometheus text exposition of mcpd's state: see metrics.h (the buffer and its formatting: metrics-buf.c). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals.h"
#include "daemon.h"
#include "deep-check.h"
#include "gateway.h"
#include "health.h"
#include "metrics.h"
#include "relay-policy.h"
#include "resources.h"
#include "server-limits.h"
#include "server.h"
#include "traffic.h"

/* The le labels of the probe histogram, as printf's %g would write them; filled at the first render. */
static char probe_le[HEALTH_BUCKETS][32];
static size_t probe_le_len[HEALTH_BUCKETS];

/* Room for a line of family with a server label (escaped, slen bytes) and one more label. */
#define LINE_ROOM(slen) (64 + (slen) + 64 + 32)

/* "family{server=\"S\"" : the caller writes the rest of the line. */
static char *server_line(char *p, const char *family, size_t flen, const char *server, size_t slen)
{
	p = metrics_put(p, family, flen);
	p = METRICS_PUT(p, "{server=\"");
	p = metrics_put(p, server, slen);
	*p++ = '"';
	return p;
}

/* One line per server: family{server="S"} value, for the families whose value is an integer. */
static void per_server_u64(struct metrics_buf *b, const struct daemon *d, const char *family,
			   uint64_t (*value)(const struct server *s))
{
	size_t flen = strlen(family);
	char name[160];	/* a server name (at most 63 characters), escaped */

	for (size_t i = 0; i < d->nservers; i++) {
		size_t slen = strlen(metrics_server(d->servers[i]->conf.name, name, sizeof(name)));
		char *p;

		metrics_reserve(b, flen + LINE_ROOM(slen));
		p = server_line(b->data + b->len, family, flen, name, slen);
		p = METRICS_PUT(p, "} ");
		p = metrics_put_u64_nl(p, value(d->servers[i]));
		b->len = (size_t)(p - b->data);
	}
}

static uint64_t up(const struct server *s)
{
	return s->state == ST_RUNNING;
}

static uint64_t critical(const struct server *s)
{
	return s->conf.critical != 0;
}

static uint64_t restarts(const struct server *s)
{
	return s->restarts;
}

static uint64_t probe_failures(const struct server *s)
{
	return s->health.failures;
}

/* family{server="S"} then v with that many decimals (printf's %.*f: the few doubles keep printf's rounding). */
static void server_double(struct metrics_buf *b, const char *family, const char *name, size_t slen, int decimals,
			  double v)
{
	char num[64];
	size_t flen = strlen(family), n = (size_t)snprintf(num, sizeof(num), "%.*f", decimals, v);
	char *p;

	if (n >= sizeof(num))
		n = sizeof(num) - 1;
	metrics_reserve(b, flen + LINE_ROOM(slen) + n);
	p = server_line(b->data + b->len, family, flen, name, slen);
	p = METRICS_PUT(p, "} ");
	p = metrics_put(p, num, n);
	*p++ = '\n';
	b->len = (size_t)(p - b->data);
}

static void own_families(const struct daemon *d, struct metrics_buf *b)
{
	double now = ev_now(d->loop);
	const char *health = daemon_health(d);
	char name[160];

	if (!probe_le_len[0]) {
		for (size_t k = 0; k < HEALTH_BUCKETS; k++) {
			int n = k + 1 == HEALTH_BUCKETS ? snprintf(probe_le[k], sizeof(probe_le[k]), ",le=\"+Inf\"} ")
							: snprintf(probe_le[k], sizeof(probe_le[k]), ",le=\"%g\"} ",
								   health_bucket_ms[k] / 1000.);

			probe_le_len[k] = n > 0 && (size_t)n < sizeof(probe_le[k]) ? (size_t)n : strlen(probe_le[k]);
		}
	}
	metrics_family(b, "mcpd_build_info", "gauge", "Version of mcpd, as a label.");
	metrics_printf(b, "mcpd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	metrics_family(b, "mcpd_health", "gauge", "Aggregate health: 0 ok, 1 degraded, 2 critical.");
	metrics_printf(b, "mcpd_health %d\n", strcmp(health, "ok") == 0 ? 0 : strcmp(health, "degraded") == 0 ? 1 : 2);
	metrics_family(b, "mcpd_servers", "gauge", "Servers in the manifest.");
	metrics_printf(b, "mcpd_servers %zu\n", d->nservers);

	metrics_family(b, "mcpd_server_up", "gauge", "1 when the server is running (handshake done, probes pass).");
	per_server_u64(b, d, "mcpd_server_up", up);
	metrics_family(b, "mcpd_server_state", "gauge", "1 for the state the server is in, 0 for the others.");
	for (size_t i = 0; i < d->nservers; i++) {
		size_t slen = strlen(metrics_server(d->servers[i]->conf.name, name, sizeof(name)));

		for (int st = 0; st < ST__COUNT; st++) {
			const char *sn = server_state_name(st);
			size_t n = strlen(sn);
			char *p;

			metrics_reserve(b, LINE_ROOM(slen) + n);
			p = server_line(b->data + b->len, "mcpd_server_state", sizeof("mcpd_server_state") - 1, name, slen);
			p = METRICS_PUT(p, ",state=\"");
			p = metrics_put(p, sn, n);
			p = METRICS_PUT(p, "\"} ");
			p = metrics_put_u64_nl(p, d->servers[i]->state == (enum server_state)st);
			b->len = (size_t)(p - b->data);
		}
	}
	metrics_family(b, "mcpd_server_critical", "gauge", "1 when the server is marked critical.");
	per_server_u64(b, d, "mcpd_server_critical", critical);
	metrics_family(b, "mcpd_server_restarts_total", "counter", "Processes started after the first.");
	per_server_u64(b, d, "mcpd_server_restarts_total", restarts);
	metrics_family(b, "mcpd_server_uptime_seconds", "gauge", "Seconds since the current process started (0 without one).");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];
		size_t slen = strlen(metrics_server(s->conf.name, name, sizeof(name)));

		server_double(b, "mcpd_server_uptime_seconds", name, slen, 3, s->pid > 0 ? now - s->started_at : 0.);
	}
	metrics_family(b, "mcpd_server_probe_failures_total", "counter", "Health probes that failed or timed out.");
	per_server_u64(b, d, "mcpd_server_probe_failures_total", probe_failures);
	metrics_family(b, "mcpd_server_probe_duration_seconds", "histogram", "Latency of answered health probes.");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct health *h = &d->servers[i]->health;
		size_t slen = strlen(metrics_server(d->servers[i]->conf.name, name, sizeof(name)));
		uint64_t cumulative = 0;
		char *p;

		metrics_reserve(b, HEALTH_BUCKETS * LINE_ROOM(slen));
		p = b->data + b->len;
		for (size_t k = 0; k < HEALTH_BUCKETS; k++) {
			cumulative += h->buckets[k];
			p = server_line(p, "mcpd_server_probe_duration_seconds_bucket",
					sizeof("mcpd_server_probe_duration_seconds_bucket") - 1, name, slen);
			p = metrics_put(p, probe_le[k], probe_le_len[k]);
			p = metrics_put_u64_nl(p, cumulative);
		}
		b->len = (size_t)(p - b->data);
		server_double(b, "mcpd_server_probe_duration_seconds_sum", name, slen, 6, h->sum_ms / 1000.);
		metrics_reserve(b, LINE_ROOM(slen));
		p = server_line(b->data + b->len, "mcpd_server_probe_duration_seconds_count",
				sizeof("mcpd_server_probe_duration_seconds_count") - 1, name, slen);
		p = METRICS_PUT(p, "} ");
		p = metrics_put_u64_nl(p, cumulative);	/* = probes, and always = the +Inf bucket */
		b->len = (size_t)(p - b->data);
	}
}

char *metrics_render(const struct daemon *d, size_t *ret_len)
{
	struct metrics_buf b;
	bool was_kept = metrics_buf_begin(&b);

	own_families(d, &b);
	traffic_metrics(d, &b);
	resources_metrics(d, &b);
	deep_check_metrics(d, &b);
	gateway_metrics(d, &b);
	relay_policy_metrics(d, &b);
	limits_metrics(d, &b);
	approvals_metrics(&b);
	metrics_buf_end(&b, was_kept);
	*ret_len = b.len;
	return b.data;
}
