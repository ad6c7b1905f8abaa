/* Prometheus text exposition of mcpd's state: see metrics.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "deep-check.h"
#include "health.h"
#include "metrics.h"
#include "resources.h"
#include "server.h"
#include "traffic.h"
#include "xmalloc.h"

void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 64) + 1;
		b->data = xrealloc(b->data, b->cap);
	}
}

const char *metrics_label(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

void metrics_family(struct metrics_buf *b, const char *name, const char *type, const char *help)
{
	metrics_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *metrics_render(const struct daemon *d, size_t *ret_len)
{
	struct metrics_buf b = { .data = xmalloc(4096), .cap = 4096 };
	double now = ev_now(d->loop);
	const char *health = daemon_health(d);
	char name[160];		/* a server name (at most 63 characters), escaped */

	metrics_family(&b, "mcpd_build_info", "gauge", "Version of mcpd, as a label.");
	metrics_printf(&b, "mcpd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	metrics_family(&b, "mcpd_health", "gauge", "Aggregate health: 0 ok, 1 degraded, 2 critical.");
	metrics_printf(&b, "mcpd_health %d\n", strcmp(health, "ok") == 0 ? 0 : strcmp(health, "degraded") == 0 ? 1 : 2);
	metrics_family(&b, "mcpd_servers", "gauge", "Servers in the manifest.");
	metrics_printf(&b, "mcpd_servers %zu\n", d->nservers);

	metrics_family(&b, "mcpd_server_up", "gauge", "1 when the server is running (handshake done, probes pass).");
	for (size_t i = 0; i < d->nservers; i++)
		metrics_printf(&b, "mcpd_server_up{server=\"%s\"} %d\n", metrics_label(d->servers[i]->conf.name, name, sizeof(name)),
			  d->servers[i]->state == ST_RUNNING);
	metrics_family(&b, "mcpd_server_state", "gauge", "1 for the state the server is in, 0 for the others.");
	for (size_t i = 0; i < d->nservers; i++) {
		metrics_label(d->servers[i]->conf.name, name, sizeof(name));
		for (int st = 0; st < ST__COUNT; st++)
			metrics_printf(&b, "mcpd_server_state{server=\"%s\",state=\"%s\"} %d\n", name, server_state_name(st),
				  d->servers[i]->state == (enum server_state)st);
	}
	metrics_family(&b, "mcpd_server_critical", "gauge", "1 when the server is marked critical.");
	for (size_t i = 0; i < d->nservers; i++)
		metrics_printf(&b, "mcpd_server_critical{server=\"%s\"} %d\n",
			  metrics_label(d->servers[i]->conf.name, name, sizeof(name)), d->servers[i]->conf.critical);
	metrics_family(&b, "mcpd_server_restarts_total", "counter", "Processes started after the first.");
	for (size_t i = 0; i < d->nservers; i++)
		metrics_printf(&b, "mcpd_server_restarts_total{server=\"%s\"} %u\n",
			  metrics_label(d->servers[i]->conf.name, name, sizeof(name)), d->servers[i]->restarts);
	metrics_family(&b, "mcpd_server_uptime_seconds", "gauge", "Seconds since the current process started (0 without one).");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];

		metrics_printf(&b, "mcpd_server_uptime_seconds{server=\"%s\"} %.3f\n", metrics_label(s->conf.name, name, sizeof(name)),
			  s->pid > 0 ? now - s->started_at : 0.);
	}
	metrics_family(&b, "mcpd_server_probe_failures_total", "counter", "Health probes that failed or timed out.");
	for (size_t i = 0; i < d->nservers; i++)
		metrics_printf(&b, "mcpd_server_probe_failures_total{server=\"%s\"} %llu\n",
			  metrics_label(d->servers[i]->conf.name, name, sizeof(name)),
			  (unsigned long long)d->servers[i]->health.failures);
	metrics_family(&b, "mcpd_server_probe_duration_seconds", "histogram", "Latency of answered health probes.");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct health *h = &d->servers[i]->health;
		uint64_t cumulative = 0;

		metrics_label(d->servers[i]->conf.name, name, sizeof(name));
		for (size_t k = 0; k < HEALTH_BUCKETS; k++) {
			cumulative += h->buckets[k];
			if (k + 1 == HEALTH_BUCKETS)
				metrics_printf(&b, "mcpd_server_probe_duration_seconds_bucket{server=\"%s\",le=\"+Inf\"} %llu\n",
					  name, (unsigned long long)cumulative);
			else
				metrics_printf(&b, "mcpd_server_probe_duration_seconds_bucket{server=\"%s\",le=\"%g\"} %llu\n",
					  name, health_bucket_ms[k] / 1000., (unsigned long long)cumulative);
		}
		metrics_printf(&b, "mcpd_server_probe_duration_seconds_sum{server=\"%s\"} %.6f\n", name, h->sum_ms / 1000.);
		metrics_printf(&b, "mcpd_server_probe_duration_seconds_count{server=\"%s\"} %llu\n", name,
			  (unsigned long long)cumulative);	/* = probes, and always = the +Inf bucket */
	}
	traffic_metrics(d, &b);
	resources_metrics(d, &b);
	deep_check_metrics(d, &b);
	*ret_len = b.len;
	return b.data;
}
