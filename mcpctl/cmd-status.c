/*
 * mcpctl status [NAME...]: aggregate health, then one row per server. It is
 * a query, so it exits 0 however the servers are doing; `mcpctl health` is
 * the command whose exit status tells that.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "cmd.h"
#include "json-arena.h"
#include "output.h"

#define NAME_MAX_WIDTH 20

/* v as "%.0f" prints it; a whole number (pids, counts) without printf's floating-point path. */
static void print_whole(double v, char *buf, size_t size)
{
	if (v == floor(v) && fabs(v) < 1e15 && !(v == 0 && signbit(v)))
		snprintf(buf, size, "%lld", (long long)v);
	else
		snprintf(buf, size, "%.0f", v);
}

/* o[key] formatted by fmt when it is a number, else "-". */
static const char *figure(const cJSON *o, const char *key, void (*fmt)(double, char *, size_t), char *buf,
			  size_t size)
{
	double v;

	if (!json_number(o, key, &v))
		return "-";
	fmt(v, buf, size);
	return buf;
}

/*
 * A server's figures on a line below its row (the table has no room for
 * them in 80 columns): "12 req/s, 0.5% errors, p50 0.4ms, p99 12ms, cpu 3.4%,
 * mem 34M". None for a server without a process and without requests.
 */
static void figures_note(const cJSON *s, char *buf, size_t size)
{
	const cJSON *traffic = cJSON_GetObjectItemCaseSensitive(s, "traffic");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(s, "resources");
	char a[32], b[32], c[32], d[32];
	size_t n = 0;
	double v;

	buf[0] = '\0';
	if (cJSON_IsObject(traffic) && (cJSON_IsObject(res) || (json_number(traffic, "requests", &v) && v > 0)))
		n += (size_t)snprintf(buf, size, "%s req/s, %s errors, p50 %s, p99 %s",
				      figure(traffic, "rate", output_rate, a, sizeof(a)),
				      figure(traffic, "error_rate", output_percent, b, sizeof(b)),
				      figure(traffic, "p50_ms", output_latency, c, sizeof(c)),
				      figure(traffic, "p99_ms", output_latency, d, sizeof(d)));
	if (cJSON_IsObject(res) && n < size) {
		char cpu[32] = "-";

		if (json_number(res, "cpu_percent", &v))
			snprintf(cpu, sizeof(cpu), "%.1f%%", v);
		snprintf(buf + n, size - n, "%scpu %s, mem %s", n ? ", " : "", cpu,
			 figure(res, "memory_bytes", output_bytes, a, sizeof(a)));
	}
}

/*
 * One layout, whatever the servers do: seven columns that fit 80 characters
 * (a name longer than 20 ends with "~"), and below a row, indented, the
 * server's figures and its reason, wrapped, never cut.
 */
static void print_table(const cJSON *servers)
{
	static const char *const headers[] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "LATENCY" };
	struct table *t = table_new(headers, 7);
	const cJSON *s;

	table_set_max(t, 0, NAME_MAX_WIDTH);
	cJSON_ArrayForEach(s, servers) {
		char pid[24] = "-", uptime[32] = "-", restarts[24] = "-", latency[32] = "-", figures[256];
		const char *cells[7];
		size_t n = 0;
		double v;

		if (json_number(s, "pid", &v))
			print_whole(v, pid, sizeof(pid));
		if (json_number(s, "uptime_s", &v) && v >= 0)
			output_duration((uint64_t)v, uptime, sizeof(uptime));
		if (json_number(s, "restarts", &v))
			print_whole(v, restarts, sizeof(restarts));
		if (json_number(s, "latency_ms", &v))
			output_latency(v, latency, sizeof(latency));
		cells[n++] = json_string(s, "name", "?");
		cells[n++] = json_string(s, "state", "?");
		cells[n++] = pid;
		cells[n++] = uptime;
		cells[n++] = restarts;
		cells[n++] = json_string(s, "health", "-");
		cells[n++] = latency;
		table_add(t, cells);
		figures_note(s, figures, sizeof(figures));
		table_add_note(t, figures);
		/* For backoff and failed, mcpd already wrote "next try in Ns" into the reason. */
		table_add_note(t, json_string(s, "reason", ""));
	}
	table_print(t, stdout, OUTPUT_WIDTH);
	table_free(t);
}

/* The requests mcpd relayed to s: totals since it was added, then mcpd's window. */
static void print_traffic(const cJSON *s)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "traffic");
	char a[32], b[32], c[32], d[32];
	double requests = 0, errors = 0, in_flight = 0, window = 0;

	if (!cJSON_IsObject(t))
		return;
	json_number(t, "requests", &requests);
	json_number(t, "errors", &errors);
	json_number(t, "in_flight", &in_flight);
	printf("  requests: %.0f since added, %.0f errors, %.0f in flight\n", requests, errors, in_flight);
	if (json_number(t, "window_s", &window))
		printf("  last %.0fs: %s req/s, %s errors, p50 %s, p99 %s\n", window,
		       figure(t, "rate", output_rate, a, sizeof(a)), figure(t, "error_rate", output_percent, b, sizeof(b)),
		       figure(t, "p50_ms", output_latency, c, sizeof(c)), figure(t, "p99_ms", output_latency, d, sizeof(d)));
}

/* What s's processes consume, as mcpd last sampled it. */
static void print_resources(const cJSON *s)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(s, "resources");
	char a[32], b[32];
	double v, limit;

	if (!cJSON_IsObject(r))
		return;
	if (json_number(r, "cpu_percent", &v))
		printf("  cpu: %.1f%%", v);
	else
		printf("  cpu: -");
	if (json_number(r, "cpu_seconds", &v))
		printf(" (%.2fs in all)", v);
	printf("\n  memory: %s", figure(r, "memory_bytes", output_bytes, a, sizeof(a)));
	if (json_number(r, "memory_limit_bytes", &limit)) {
		printf(" of %s", figure(r, "memory_limit_bytes", output_bytes, b, sizeof(b)));
		if (json_number(r, "memory_bytes", &v) && limit > 0)
			printf(" (%.0f%% of the limit)", 100 * v / limit);
	}
	printf("\n  processes: %s, fds: %s", figure(r, "processes", output_count, a, sizeof(a)),
	       figure(r, "fds", output_count, b, sizeof(b)));
	printf(" (%s", json_string(r, "source", "?"));
	if (json_number(r, "sampled_s_ago", &v))
		printf(", sampled %.1fs ago", v);
	printf(")\n");
}

/* Text from a server's command (a check's output) on one line, without its control characters. */
static void put_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

/* Each deep check: what it runs, its status, how long it took and when. */
static void print_checks(const cJSON *s)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(s, "checks")) {
		const char *what = json_string(c, "tool", json_string(c, "command", NULL));
		const char *detail = json_string(c, "detail", "");
		char a[32];
		double age;

		printf("  check %s%s%s%s: %s", json_string(c, "check", "?"), what ? " (" : "", what ? what : "",
		       what ? ")" : "", json_string(c, "status", "?"));
		if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(c, "duration_ms")))
			printf(" in %s", figure(c, "duration_ms", output_latency, a, sizeof(a)));
		if (json_number(c, "age_s", &age))
			printf(", %.0fs ago", age);
		fputs(*detail ? ": " : "", stdout);
		put_clean(detail);
		putchar('\n');
	}
}

/*
 * Items after a label, ", " apart, wrapped at OUTPUT_WIDTH under the first
 * item and never cut; control characters (from a manifest's paths) shown as
 * spaces.
 */
struct wrap {
	size_t col, indent;
	bool first;
};

static void wrap_begin(struct wrap *w, int indent, const char *label)
{
	int n = printf("%*s%s: ", indent, "", label);

	w->col = w->indent = n > 0 ? (size_t)n : 0;
	w->first = true;
}

static void wrap_item(struct wrap *w, const char *item)
{
	size_t len = strlen(item);

	if (!w->first) {
		if (w->col + 2 + len > OUTPUT_WIDTH && w->col > w->indent) {
			printf(",\n%*s", (int)w->indent, "");
			w->col = w->indent;
		} else {
			fputs(", ", stdout);
			w->col += 2;
		}
	}
	put_clean(item);
	w->col += len;
	w->first = false;
}

static void wrap_end(struct wrap *w, const char *if_empty)
{
	if (w->first)
		fputs(if_empty, stdout);
	putchar('\n');
}

/* "user: mcp (group mcp)": the manifest's user and group when mcpd applies them. */
static void print_identity(const cJSON *c)
{
	const char *user = json_string(c, "user", NULL), *group = json_string(c, "group", NULL);

	if (!cJSON_GetObjectItemCaseSensitive(c, "user") && !cJSON_GetObjectItemCaseSensitive(c, "group"))
		return;
	printf("    user: ");
	put_clean(user ? user : "mcpd's own");
	if (group) {
		fputs(" (group ", stdout);
		put_clean(group);
		putchar(')');
	}
	putchar('\n');
}

/* "limits: memory 512M (RLIMIT_DATA per process), nofile 1024 (RLIMIT_NOFILE)". */
static void print_limits(const cJSON *c)
{
	const cJSON *limits = cJSON_GetObjectItemCaseSensitive(c, "limits"), *l;
	struct wrap w;

	if (!limits)
		return;
	wrap_begin(&w, 4, "limits");
	cJSON_ArrayForEach(l, limits) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, "value");
		char value[64] = "?", item[512];

		if (cJSON_IsString(v))
			snprintf(value, sizeof(value), "%s", v->valuestring);
		else if (cJSON_IsNumber(v))
			snprintf(value, sizeof(value), "%g", v->valuedouble);
		snprintf(item, sizeof(item), "%s %s (%s)", l->string ? l->string : "?", value, json_string(l, "by", "?"));
		wrap_item(&w, item);
	}
	wrap_end(&w, "none");
}

static void print_strings(int indent, const char *label, const cJSON *list, const char *if_empty)
{
	const cJSON *p;
	struct wrap w;

	wrap_begin(&w, indent, label);
	cJSON_ArrayForEach(p, list)
		if (cJSON_IsString(p))
			wrap_item(&w, p->valuestring);
	wrap_end(&w, if_empty);
}

/* The sandbox rules in force at the server's last start, and what enforced them. */
static void print_sandbox(const cJSON *c)
{
	const cJSON *sb = cJSON_GetObjectItemCaseSensitive(c, "sandbox");
	const cJSON *readable, *missing;
	double refused;
	int hidden;

	if (!sb)
		return;
	if (!cJSON_IsObject(sb)) {
		printf("    sandbox: none\n");
		return;
	}
	print_strings(4, "sandbox", cJSON_GetObjectItemCaseSensitive(sb, "mechanisms"), "no mechanism in force");
	print_strings(6, "writable", cJSON_GetObjectItemCaseSensitive(sb, "writable"), "nothing");
	readable = cJSON_GetObjectItemCaseSensitive(sb, "readable");
	hidden = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sb, "hidden"));
	if (cJSON_IsArray(readable)) {
		struct wrap w;
		const cJSON *p;

		wrap_begin(&w, 6, "readable");
		cJSON_ArrayForEach(p, readable)
			if (cJSON_IsString(p))
				wrap_item(&w, p->valuestring);
		wrap_end(&w, "nothing");
		if (hidden)
			printf("      hidden: %d of mcpd's files\n", hidden);
	} else {
		printf("      readable: everything but %d hidden file%s of mcpd's\n", hidden, hidden == 1 ? "" : "s");
	}
	printf("      network: %s, private /tmp: %s\n",
	       cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(sb, "network")) ? "off" : "on",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sb, "private_tmp")) ? "yes" : "no");
	if (json_number(sb, "control_refused", &refused) && refused > 0)
		printf("      control socket: %.0f connection%s refused\n", refused, refused == 1 ? "" : "s");
	missing = cJSON_GetObjectItemCaseSensitive(sb, "missing");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sb, "best_effort")))
		print_strings(6, "best effort, went without", missing, "nothing");
	else if (cJSON_GetArraySize(missing) > 0)
		print_strings(6, "went without", missing, "");
}

/*
 * What confines the server (mcpd's "confinement" object): its user, its
 * cgroup, each limit with the mechanism enforcing it, its sandbox. An mcpd
 * older than confinement sends none, and nothing is printed.
 */
static void print_confinement(const cJSON *s)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(s, "confinement");

	if (!cJSON_IsObject(c))
		return;
	printf("  confinement:\n");
	print_identity(c);
	if (cJSON_GetObjectItemCaseSensitive(c, "cgroup")) {
		printf("    cgroup: ");
		put_clean(json_string(c, "cgroup", "none (a process group)"));
		putchar('\n');
	}
	print_limits(c);
	print_sandbox(c);
}

/*
 * Below the table, for the servers named on the command line: what the
 * table has no room for (the protocol spoken, the server's identity, its
 * traffic, resources and deep checks in full, its confinement).
 */
static void print_details(const cJSON *servers)
{
	const cJSON *s, *info;
	double v;

	cJSON_ArrayForEach(s, servers) {
		const char *version = json_string(s, "protocol_version", NULL);
		const char *pin = json_string(s, "protocol_pin", NULL);

		printf("\n%s:\n", json_string(s, "name", "?"));
		if (version)
			printf("  protocol: %s (%s)%s\n", version, json_string(s, "era", "?"),
			       pin ? ", pinned by the manifest" : "");
		else
			printf("  protocol: not known yet%s%s%s\n", pin ? " (the manifest pins " : "", pin ? pin : "",
			       pin ? ")" : "");
		info = cJSON_GetObjectItemCaseSensitive(s, "server_info");
		if (cJSON_IsObject(info))
			printf("  server: %s %s\n", json_string(info, "name", "?"), json_string(info, "version", "?"));
		if (json_number(s, "tools", &v))
			printf("  tools: %.0f (hash %s)\n", v, json_string(s, "tools_hash", "?"));
		if (json_string(s, "last_probe_error", NULL))
			printf("  last probe error: %s\n", json_string(s, "last_probe_error", ""));
		print_traffic(s);
		print_resources(s);
		print_checks(s);
		print_confinement(s);
	}
}

/* --json: mcpd's text laid out as output_json would, without parsing it into a tree (700 KB at 1000 servers). */
static int print_json(struct mcpctl *ctl, cJSON *params)
{
	size_t len;
	char *text;
	bool ok;

	if (mcpctl_call_text(ctl, "status", params, &text, &len) < 0)
		return EXIT_FAIL;
	ok = output_json_text(text, len);
	free(text);
	if (!ok) {
		fputs("mcpctl: mcpd sent a status that is not JSON\n", stderr);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int run_status(struct mcpctl *ctl, int argc, char **argv)
{
	cJSON *params = NULL, *result;
	const cJSON *servers;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-')
			return cmd_usage(&cmd_status);
	if (argc > 1) {
		params = cJSON_CreateObject();
		cJSON_AddItemToObject(params, "names", cJSON_CreateStringArray((const char *const *)argv + 1, argc - 1));
	} else if (!ctl->json) {
		/* The table shows a few of each server's members: mcpd sends only those (an older one sends all). */
		params = cJSON_CreateObject();
		cJSON_AddTrueToObject(params, "summary");
	}
	if (ctl->json)
		return print_json(ctl, params);
	if (mcpctl_call(ctl, "status", params, &result) < 0)
		return EXIT_FAIL;
	printf("health: %s\n", json_string(result, "health", "unknown"));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(result, "manifest"), "file_differs")))
		printf("manifest: %.7s from a rollback, not the file's; `mcpctl reload` applies the file\n",
		       json_string(cJSON_GetObjectItemCaseSensitive(result, "manifest"), "hash", "?"));
	servers = cJSON_GetObjectItemCaseSensitive(result, "servers");
	if (cJSON_GetArraySize(servers) == 0)
		printf("no servers in the manifest\n");
	else
		print_table(servers);
	if (argc > 1)
		print_details(servers);
	cJSON_Delete(result);
	return EXIT_OK;
}

/* The reply's 17000 items at 1000 servers: from an arena, given back at once. */
static int run(struct mcpctl *ctl, int argc, char **argv)
{
	int r;

	json_arena_begin();
	r = run_status(ctl, argc, argv);
	json_arena_end();
	return r;
}

const struct cmd cmd_status = {
	.name = "status",
	.args = "[NAME...]",
	.summary = "show the state of every server, or of the named ones",
	.run = run,
};
