/* Unit tests of the manifest parser and validator: every error kind with its exact message. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"
#include "xmalloc.h"

struct result {
	struct manifest *m;
	struct manifest_errors errs;
	int r;
};

static struct result parse_flags(const char *yaml, unsigned flags)
{
	struct result res = { 0 };

	res.r = manifest_parse_buffer("/etc/mcpd/m.yaml", yaml, strlen(yaml), flags, &res.m, &res.errs);
	return res;
}

static struct result parse(const char *yaml)
{
	return parse_flags(yaml, 0);
}

static void done(struct result *res)
{
	manifest_free(res->m);
	manifest_errors_clear(&res->errs);
}

/* The manifest must be rejected with exactly this one error. */
static void expect_error(const char *yaml, const char *text)
{
	struct result res = parse(yaml);

	if (res.errs.n != 1 || strcmp(res.errs.items[0].text, text) != 0) {
		for (size_t i = 0; i < res.errs.n; i++)
			print_error("got: %s\n", res.errs.items[i].text);
		print_error("want: %s\n", text);
		fail();
	}
	assert_int_equal(res.r, -EINVAL);
	assert_null(res.m);
	assert_int_equal(res.errs.nerrors, 1);
	done(&res);
}

static const struct server_conf *valid_server(struct result *res, const char *name)
{
	for (size_t i = 0; i < res->errs.n; i++)
		print_error("unexpected: %s\n", res->errs.items[i].text);
	assert_int_equal(res->r, 0);
	assert_non_null(res->m);
	assert_non_null(manifest_find_server(res->m, name));
	return manifest_find_server(res->m, name);
}

static void test_minimal_defaults(void **state)
{
	struct result res = parse("version: 1\nservers:\n  echo:\n    command: [/bin/echo, hi]\n");
	const struct server_conf *s = valid_server(&res, "echo");

	assert_int_equal(res.m->nservers, 1);
	assert_int_equal(s->transport, TRANSPORT_STDIO);
	assert_int_equal(s->argc, 2);
	assert_string_equal(s->command[0], "/bin/echo");
	assert_null(s->command[2]);
	assert_int_equal(s->restart, RESTART_ALWAYS);
	assert_int_equal(s->protocol, PROTOCOL_AUTO);
	assert_int_equal(s->backoff.initial_ms, 1000);
	assert_int_equal(s->backoff.max_ms, 60000);
	assert_true(s->backoff.factor == 2.0);
	assert_int_equal(s->circuit.failures, 5);
	assert_int_equal(s->circuit.window_ms, 300000);
	assert_int_equal(s->circuit.cooldown_ms, 600000);
	assert_int_equal(s->health.interval_ms, 30000);
	assert_int_equal(s->health.timeout_ms, 5000);
	assert_int_equal(s->health.unhealthy_after, 3);
	assert_int_equal(s->stop.signal, SIGTERM);
	assert_int_equal(s->stop.timeout_ms, 10000);
	assert_int_equal(s->log_buffer, 256 * 1024);
	assert_int_equal(s->umask, -1);
	assert_true(s->autostart);
	assert_false(s->critical);
	assert_int_equal(res.m->mcpd.shutdown_timeout_ms, 30000);
	assert_null(res.m->mcpd.control);
	done(&res);
}

static void test_full_server(void **state)
{
	struct result res = parse("version: 1\n"
				  "mcpd:\n"
				  "  control: run/ctl.sock\n"
				  "  http: '[::1]:9310'\n"
				  "  gateway: { tokens_file: tokens, rate_limit: 50/min, allowed_origins: [https://a.example] }\n"
				  "  log_format: json\n"
				  "  shutdown_timeout: 1m30s\n"
				  "servers:\n"
				  "  files:\n"
				  "    command: npx -y server /srv\n"
				  "    cwd: srv\n"
				  "    env: { A: 1, B: yes }\n"
				  "    env_file: files.env\n"
				  "    secrets: { DB_PASSWORD: /run/secrets/db }\n"
				  "    user: mcp\n"
				  "    limits: { nofile: 1024, memory: 512M, cpu_time: 1m, core: unlimited }\n"
				  "    umask: '027'\n"
				  "    log_buffer: 1M\n"
				  "    critical: on\n"
				  "    autostart: no\n"
				  "    restart: on-failure\n"
				  "    backoff: { initial: 250ms, max: 8s, factor: 1.5, jitter: 0 }\n"
				  "    circuit: { failures: 0 }\n"
				  "    health: { interval: 2s, timeout: 500ms, unhealthy_after: 1, start_timeout: 3s }\n"
				  "    stop: { signal: SIGINT, timeout: 1s }\n");
	const struct server_conf *s = valid_server(&res, "files");

	assert_string_equal(res.m->mcpd.control, "/etc/mcpd/run/ctl.sock");
	assert_string_equal(res.m->mcpd.http_host, "::1");
	assert_int_equal(res.m->mcpd.http_port, 9310);
	assert_string_equal(res.m->mcpd.gateway.tokens_file, "/etc/mcpd/tokens");
	assert_int_equal(res.m->mcpd.gateway.rate_limit, 50);
	assert_int_equal(res.m->mcpd.gateway.rate_period_ms, 60000);
	assert_int_equal(res.m->mcpd.gateway.nallowed_origins, 1);
	assert_int_equal(res.m->mcpd.log_format, LOG_FORMAT_JSON);
	assert_int_equal(res.m->mcpd.shutdown_timeout_ms, 90000);
	assert_int_equal(s->argc, 4);
	assert_string_equal(s->command[3], "/srv");
	assert_string_equal(s->cwd, "/etc/mcpd/srv");
	assert_int_equal(s->env.n, 2);
	assert_string_equal(s->env.items[1].value, "yes");
	assert_string_equal(s->env_file, "/etc/mcpd/files.env");
	assert_string_equal(s->secrets.items[0].key, "DB_PASSWORD");
	assert_string_equal(s->secrets.items[0].value, "/run/secrets/db");
	assert_true(s->limits.nofile.set);
	assert_int_equal(s->limits.nofile.value, 1024);
	assert_int_equal(s->limits.memory.value, 512ULL << 20);
	assert_int_equal(s->limits.cpu_time.value, 60);
	assert_int_equal(s->limits.core.value, UINT64_MAX);
	assert_false(s->limits.nproc.set);
	assert_int_equal(s->umask, 027);
	assert_int_equal(s->log_buffer, 1 << 20);
	assert_true(s->critical);
	assert_false(s->autostart);
	assert_int_equal(s->restart, RESTART_ON_FAILURE);
	assert_int_equal(s->backoff.initial_ms, 250);
	assert_true(s->backoff.factor == 1.5);
	assert_int_equal(s->circuit.failures, 0);
	assert_int_equal(s->health.start_timeout_ms, 3000);
	assert_int_equal(s->stop.signal, SIGINT);
	done(&res);
}

static void test_defaults_merge(void **state)
{
	struct result res = parse("version: 1\n"
				  "defaults:\n"
				  "  env: { A: from-defaults, B: kept }\n"
				  "  backoff: { initial: 2s, factor: 3 }\n"
				  "  critical: true\n"
				  "servers:\n"
				  "  a:\n"
				  "    command: [x]\n"
				  "    env: { A: own }\n"
				  "    backoff: { max: 30s }\n"
				  "  b:\n"
				  "    command: [x]\n"
				  "    critical: false\n");
	const struct server_conf *a = valid_server(&res, "a");
	const struct server_conf *b = manifest_find_server(res.m, "b");

	assert_int_equal(a->env.n, 2);
	assert_string_equal(a->env.items[0].key, "A");
	assert_string_equal(a->env.items[0].value, "own");
	assert_string_equal(a->env.items[1].value, "kept");
	assert_int_equal(a->backoff.initial_ms, 2000);
	assert_int_equal(a->backoff.max_ms, 30000);
	assert_true(a->backoff.factor == 3.0);
	assert_true(a->critical);
	assert_false(b->critical);
	assert_int_equal(b->backoff.max_ms, 60000);
	done(&res);
}

static void test_merge_keys_and_aliases(void **state)
{
	struct result res = parse("version: 1\n"
				  "x-base: &base { command: [x], restart: never }\n"
				  "servers:\n"
				  "  a: { <<: *base, restart: on-failure }\n"
				  "  b: *base\n");
	const struct server_conf *a;

	/* x-base is an unknown top-level key: the only error. */
	assert_int_equal(res.errs.n, 1);
	assert_string_equal(res.errs.items[0].text, "/etc/mcpd/m.yaml:2:1: x-base: unknown key \"x-base\"");
	done(&res);

	res = parse("version: 1\n"
		    "servers:\n"
		    "  a: &base { command: [x], restart: never }\n"
		    "  b: { <<: *base, restart: on-failure }\n"
		    "  c: *base\n");
	a = valid_server(&res, "b");
	assert_int_equal(a->restart, RESTART_ON_FAILURE);
	assert_string_equal(a->command[0], "x");
	assert_int_equal(manifest_find_server(res.m, "c")->restart, RESTART_NEVER);
	done(&res);
}

static void test_env_expansion(void **state)
{
	struct result res;
	const struct server_conf *s;

	setenv("MCPD_TEST_TOKEN", "s3cret", 1);
	unsetenv("MCPD_TEST_UNSET");
	res = parse("version: 1\nservers:\n  web:\n    transport: http\n    url: http://127.0.0.1:1/mcp?a=$$b\n"
		    "    headers: { Authorization: \"Bearer ${MCPD_TEST_TOKEN}\", X-Plain: v }\n");
	s = valid_server(&res, "web");
	assert_string_equal(s->url, "http://127.0.0.1:1/mcp?a=$b");
	assert_false(s->url_sensitive);
	assert_string_equal(s->headers.items[0].value, "Bearer s3cret");
	assert_true(s->headers.items[0].sensitive);
	assert_false(s->headers.items[1].sensitive);
	assert_null(s->command);
	done(&res);

	expect_error("version: 1\nservers:\n  web:\n    transport: http\n    url: http://h/\n"
		     "    headers: { A: \"${MCPD_TEST_UNSET}\" }\n",
		     "/etc/mcpd/m.yaml:6:19: servers.web.headers.A: environment variable MCPD_TEST_UNSET is not set "
		     "(mcpd expands ${MCPD_TEST_UNSET} from its own environment)");
	expect_error("version: 1\nservers:\n  web:\n    transport: http\n    url: http://h/${MCPD_TEST_TOKEN\n",
		     "/etc/mcpd/m.yaml:5:10: servers.web.url: unterminated \"${\": write ${NAME}, or $$ for a literal $");

	/* mcpctl check: an unset variable is a warning, and the manifest is valid. */
	res = parse_flags("version: 1\nservers:\n  web:\n    transport: http\n    url: http://h/\n"
			  "    headers: { A: \"${MCPD_TEST_UNSET}\" }\n",
			  MANIFEST_LENIENT_ENV);
	assert_int_equal(res.r, 0);
	assert_int_equal(res.errs.n, 1);
	assert_int_equal(res.errs.nerrors, 0);
	assert_true(res.errs.items[0].warning);
	done(&res);

	/* A secret that makes an invalid URL is not printed. */
	setenv("MCPD_TEST_BAD", "not a url", 1);
	expect_error("version: 1\nservers:\n  web:\n    transport: http\n    url: ${MCPD_TEST_BAD}\n",
		     "/etc/mcpd/m.yaml:5:10: servers.web.url: after ${...} expansion this is not an http:// or "
		     "https:// URL");
}

static void test_error_messages(void **state)
{
	static const struct {
		const char *yaml;
		const char *text;
	} cases[] = {
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    backoff: { initial: fast }\n",
		  "/etc/mcpd/m.yaml:5:25: servers.a.backoff.initial: expected a duration like \"1s\", got \"fast\"" },
		{ "version: 1\nservers:\n  a:\n    comand: [x]\n",
		  "/etc/mcpd/m.yaml:4:5: servers.a.comand: unknown key \"comand\" (did you mean \"command\"?)" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    restart: sometimes\n",
		  "/etc/mcpd/m.yaml:5:14: servers.a.restart: expected always, on-failure or never, got \"sometimes\"" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    protocol: 2025\n",
		  "/etc/mcpd/m.yaml:5:15: servers.a.protocol: expected auto, modern or legacy, got \"2025\"" },
		{ "version: 1\nservers:\n  a:\n    transport: http\n",
		  "/etc/mcpd/m.yaml:3:3: servers.a: missing \"url\": an http server needs the URL of its MCP endpoint" },
		{ "version: 1\nservers:\n  a:\n    autostart: maybe\n    command: [x]\n",
		  "/etc/mcpd/m.yaml:4:16: servers.a.autostart: expected true or false, got \"maybe\"" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    log_buffer: 1K\n",
		  "/etc/mcpd/m.yaml:5:17: servers.a.log_buffer: log buffer of 1K is out of range (4K to 64M)" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    limits: { memory: lots }\n",
		  "/etc/mcpd/m.yaml:5:23: servers.a.limits.memory: expected a size like \"512M\" or \"unlimited\", "
		  "got \"lots\"" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    stop: { signal: FOO }\n",
		  "/etc/mcpd/m.yaml:5:21: servers.a.stop.signal: expected a signal name like \"TERM\" or \"INT\", got "
		  "\"FOO\"" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    backoff: { factor: 20 }\n",
		  "/etc/mcpd/m.yaml:5:24: servers.a.backoff.factor: 20 is out of range (1 to 10)" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    backoff: { initial: 10s, max: 5s }\n",
		  "/etc/mcpd/m.yaml:5:35: servers.a.backoff.max: backoff.max (5s) is shorter than backoff.initial (10s)" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    health: { timeout: 30s }\n",
		  "/etc/mcpd/m.yaml:5:24: servers.a.health.timeout: health.timeout (30s) must be shorter than "
		  "health.interval (30s)" },
		{ "version: 1\nservers:\n  a:\n    command: x | y\n",
		  "/etc/mcpd/m.yaml:4:14: servers.a.command: contains shell syntax ('|'); mcpd runs commands without a "
		  "shell: write the command as a list, e.g. [sh, -c, \"...\"]" },
		{ "version: 1\nservers:\n  a:\n    command: []\n",
		  "/etc/mcpd/m.yaml:4:14: servers.a.command: is empty: give the program to run and its arguments" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    url: http://h/\n",
		  "/etc/mcpd/m.yaml:5:10: servers.a.url: \"url\" is only used with transport: http" },
		{ "version: 1\nservers:\n  Files:\n    command: [x]\n",
		  "/etc/mcpd/m.yaml:3:3: servers.Files: \"Files\" is not a valid server name: use lowercase letters, "
		  "digits, '-' and '_', starting with a letter or digit, at most 63 characters" },
		{ "version: 1\nservers:\n  crm__v2:\n    command: [x]\n",
		  "/etc/mcpd/m.yaml:3:3: servers.crm__v2: \"crm__v2\" is not a valid server name: \"__\" separates the "
		  "server from the tool in the aggregate endpoint's names (SERVER__TOOL); use a single '_' or '-'" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    command: [y]\n",
		  "/etc/mcpd/m.yaml:5:5: servers.a.command: duplicate key \"command\" (first defined at line 4)" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    depends_on: [fils]\n  files:\n    command: [x]\n",
		  "/etc/mcpd/m.yaml:5:18: servers.a.depends_on: no server named \"fils\" (did you mean \"files\"?)" },
		{ "version: 1\nservers:\n  a: { command: [x], depends_on: [b] }\n  b: { command: [x], depends_on: a }\n",
		  "/etc/mcpd/m.yaml:4:34: servers.b.depends_on: depends_on cycle: a -> b -> a" },
		{ "version: 1\nservers:\n  a: { command: [x], depends_on: a }\n",
		  "/etc/mcpd/m.yaml:3:34: servers.a.depends_on: depends_on cycle: a -> a" },
		{ "version: 1\ndefaults:\n  command: [x]\nservers: {}\n",
		  "/etc/mcpd/m.yaml:3:3: defaults.command: \"command\" cannot be set in defaults: it belongs to one "
		  "server" },
		{ "version: 2\nservers: {}\n", "/etc/mcpd/m.yaml:1:10: version: 2 is out of range (1 to 1)" },
		{ "servers: {}\n", "/etc/mcpd/m.yaml:1:1: version: missing: the manifest must start with \"version: 1\"" },
		{ "version: 1\nserver: {}\n",
		  "/etc/mcpd/m.yaml:2:1: server: unknown key \"server\" (did you mean \"servers\"?)" },
		{ "version: 1\nmcpd: { http: 'localhost:99999' }\n",
		  "/etc/mcpd/m.yaml:2:15: mcpd.http: port must be a number from 1 to 65535" },
		{ "version: 1\nmcpd: { gateway: { rate_limit: lots } }\n",
		  "/etc/mcpd/m.yaml:2:32: mcpd.gateway.rate_limit: expected a rate like \"50/min\" (1 to 1000000 "
		  "requests per s, min or hour), got \"lots\"" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    env: { 1A: x }\n",
		  "/etc/mcpd/m.yaml:5:12: servers.a.env.1A: \"1A\" is not a valid environment variable name" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    umask: 999\n",
		  "/etc/mcpd/m.yaml:5:12: servers.a.umask: expected an octal umask like \"027\", got \"999\"" },
		{ "version: 1\nservers:\n  a:\n", "/etc/mcpd/m.yaml:3:3: servers.a: server has no settings: give at "
						    "least \"command\" (or \"url\" for http)" },
		{ "version: 1\nservers: [a, b]\n",
		  "/etc/mcpd/m.yaml:2:10: servers: expected a map of keys and values, got a list" },
		{ "version: 1\nservers: {a: {command: [x]}\n",
		  "/etc/mcpd/m.yaml:3:1: servers: YAML syntax error: did not find expected ',' or '}' while parsing a "
		  "flow mapping" },
		{ "", "/etc/mcpd/m.yaml:1:1: the manifest is empty: it needs at least \"version: 1\" and \"servers:\"" },
		{ "version: 1\n---\nversion: 1\n",
		  "/etc/mcpd/m.yaml:2:1: only one YAML document is allowed in a manifest" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].yaml, cases[i].text);
}

static void test_three_errors(void **state)
{
	struct result res = parse("version: 1\n"
				  "servers:\n"
				  "  files:\n"
				  "    comand: [x]\n"
				  "  db:\n"
				  "    command: [x]\n"
				  "    backoff: { initial: fast }\n"
				  "    depends_on: [fils]\n");

	assert_int_equal(res.r, -EINVAL);
	assert_int_equal(res.errs.nerrors, 3);
	assert_string_equal(res.errs.items[0].text,
			    "/etc/mcpd/m.yaml:4:5: servers.files.comand: unknown key \"comand\" (did you mean \"command\"?)");
	assert_string_equal(res.errs.items[1].text, "/etc/mcpd/m.yaml:7:25: servers.db.backoff.initial: expected a "
						    "duration like \"1s\", got \"fast\"");
	assert_string_equal(res.errs.items[2].text, "/etc/mcpd/m.yaml:8:18: servers.db.depends_on: no server named "
						    "\"fils\" (did you mean \"files\"?)");
	done(&res);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = xmalloc(hl + ul * n + tl + 1), *o = s;

	memcpy(o, head, hl);
	o += hl;
	for (size_t i = 0; i < n; i++, o += ul)
		memcpy(o, unit, ul);
	memcpy(o, tail, tl + 1);
	return s;
}

static void test_limits(void **state)
{
	char *yaml;
	struct result res;

	yaml = repeat("version: 1\n", "#", MANIFEST_MAX_BYTES, "\n");
	expect_error(yaml, "/etc/mcpd/m.yaml:1:1: the manifest is larger than the limit of 1048576 bytes (1 MiB)");
	free(yaml);

	yaml = repeat("version: 1\nx: ", "[", 100, "");
	res = parse(yaml);
	assert_int_equal(res.r, -EINVAL);
	assert_int_equal(res.errs.n, 1);
	assert_non_null(strstr(res.errs.items[0].text, ": nesting deeper than 64 levels"));
	done(&res);
	free(yaml);

	/* Billion laughs: nine levels of ten aliases each. */
	res = parse("version: 1\n"
		    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n");
	assert_int_equal(res.r, -EINVAL);
	assert_int_equal(res.errs.n, 1);
	assert_non_null(strstr(res.errs.items[0].text, "document expands to more than 200000 nodes"));
	done(&res);

	expect_error("version: 1\nx: &a [1, *a]\n",
		     "/etc/mcpd/m.yaml:2:11: x[1]: alias *a refers to no complete anchor (undefined, or an alias inside "
		     "its own anchor)");

	yaml = repeat("version: 1\nservers:\n", "  s: {command: [x]}\n", 1, "");
	free(yaml);
	{
		/* 4097 distinct servers. */
		size_t cap = 4200 * 40, o = 0;

		yaml = xmalloc(cap);
		o += (size_t)snprintf(yaml, cap, "version: 1\nservers:\n");
		for (int i = 0; i <= MANIFEST_MAX_SERVERS; i++)
			o += (size_t)snprintf(yaml + o, cap - o, "  s%d: {command: [x]}\n", i);
		expect_error(yaml, "/etc/mcpd/m.yaml:3:3: servers: 4097 servers is more than the limit of 4096");
		free(yaml);
	}
}

static void test_many_errors_are_capped(void **state)
{
	size_t cap = 300 * 40, o = 0;
	char *yaml = xmalloc(cap);
	struct result res;

	o += (size_t)snprintf(yaml, cap, "version: 1\nservers:\n");
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(yaml + o, cap - o, "  s%d: {command: [x], bogus: 1}\n", i);
	res = parse(yaml);
	assert_int_equal(res.r, -EINVAL);
	assert_int_equal(res.errs.n, MANIFEST_MAX_ERRORS);
	assert_int_equal(res.errs.nerrors, 300);
	assert_true(res.errs.truncated);
	done(&res);
	free(yaml);
}

static void test_equal_and_names(void **state)
{
	struct result a = parse("version: 1\nservers:\n  a: {command: [x, y], env: {A: b}}\n");
	struct result b = parse("version: 1\nservers:\n  a: {command: [x, y], env: {A: b}}\n");
	struct result c = parse("version: 1\nservers:\n  a: {command: [x, z], env: {A: b}}\n");

	assert_true(server_conf_equal(valid_server(&a, "a"), valid_server(&b, "a")));
	assert_false(server_conf_equal(valid_server(&a, "a"), valid_server(&c, "a")));
	done(&a);
	done(&b);
	done(&c);

	assert_int_equal(signal_from_name("TERM"), SIGTERM);
	assert_int_equal(signal_from_name("SIGKILL"), SIGKILL);
	assert_int_equal(signal_from_name("15"), 15);
	assert_int_equal(signal_from_name("0"), -1);
	assert_int_equal(signal_from_name("BOGUS"), -1);
	assert_string_equal(signal_to_name(SIGHUP), "HUP");
	/* Every signal by the C library's name: a crash says which. */
	assert_string_equal(signal_to_name(SIGSEGV), "SEGV");
	assert_string_equal(signal_to_name(SIGABRT), "ABRT");
	assert_string_equal(signal_to_name(SIGBUS), "BUS");
	assert_string_equal(signal_to_name(SIGRTMIN + 2), "RTMIN+2");
	assert_string_equal(signal_to_name(0), "?");
	assert_int_equal(signal_from_name("SIGSEGV"), SIGSEGV);
	assert_int_equal(signal_from_name("XCPU"), SIGXCPU);
	assert_int_equal(signal_from_name("RTMIN+2"), SIGRTMIN + 2);
	assert_int_equal(signal_from_name("RTMIN+x"), -1);
	assert_string_equal(transport_name(TRANSPORT_HTTP), "http");
	assert_string_equal(restart_policy_name(RESTART_ON_FAILURE), "on-failure");
	assert_string_equal(protocol_pin_name(PROTOCOL_LEGACY), "legacy");
}

/* protocol: pins the era per server or in defaults; a change of it is a change of the server. */
/* approval: [TOOL...] | all, approval_timeout 1s..24h (default 10m), in defaults too; they apply without a restart. */
static void test_approval(void **state)
{
	struct result res = parse("version: 1\ndefaults: {approval_timeout: 5m}\nservers:\n"
				  "  a: {command: [x]}\n"
				  "  b: {command: [x], approval: [send_email, delete-customer]}\n"
				  "  c: {command: [x], approval: all, approval_timeout: 2s}\n"
				  "  d: {command: [x], approval: send_email}\n");
	struct result plain = parse("version: 1\nservers:\n  a: {command: [x]}\n  b: {command: [x]}\n");
	const struct server_conf *a, *b, *c, *d;

	(void)state;
	a = valid_server(&res, "a");
	b = valid_server(&res, "b");
	c = valid_server(&res, "c");
	d = valid_server(&res, "d");
	assert_int_equal(a->napproval, 0);
	assert_false(a->approval_all);
	assert_int_equal(a->approval_timeout_ms, 5 * 60000);
	assert_int_equal(b->napproval, 2);
	assert_string_equal(b->approval[0], "send_email");
	assert_string_equal(b->approval[1], "delete-customer");
	assert_false(b->approval_all);
	assert_true(c->approval_all);
	assert_int_equal(c->approval_timeout_ms, 2000);
	assert_int_equal(d->napproval, 1);
	assert_int_equal(valid_server(&plain, "a")->approval_timeout_ms, 10 * 60000);
	/* A change of approval needs no restart, and is seen as a change of what applies without one. */
	assert_true(server_conf_equal(valid_server(&plain, "b"), b));
	assert_false(server_conf_checks_equal(valid_server(&plain, "b"), b));
	assert_true(server_conf_checks_equal(valid_server(&plain, "a"), valid_server(&plain, "b")));
	done(&res);
	done(&plain);
	expect_error("version: 1\nservers:\n  a: {command: [x], approval: [\"send email\"]}\n",
		     "/etc/mcpd/m.yaml:3:32: servers.a.approval[0]: \"send email\" is not a valid MCP tool name: 1 to 128 "
		     "letters, digits, '_', '-' or '.'");
	expect_error("version: 1\nservers:\n  a: {transport: http, url: \"http://127.0.0.1:1/mcp\", approval: all}\n",
		     "/etc/mcpd/m.yaml:3:65: servers.a.approval: \"approval\" is only used with transport: stdio (mcpd "
		     "relays no call to an http server)");
	expect_error("version: 1\nservers:\n  a: {command: [x], approval_timeout: 0s}\n",
		     "/etc/mcpd/m.yaml:3:39: servers.a.approval_timeout: must be between 1s and 24h");
	expect_error("version: 1\nservers:\n  a: {command: [x], approval_timeout: 25h}\n",
		     "/etc/mcpd/m.yaml:3:39: servers.a.approval_timeout: must be between 1s and 24h");
}

static void test_protocol(void **state)
{
	struct result a = parse("version: 1\ndefaults: {protocol: legacy}\nservers:\n"
				"  a: {command: [x]}\n  b: {command: [x], protocol: modern}\n");
	struct result b = parse("version: 1\nservers:\n  a: {command: [x]}\n  b: {command: [x], protocol: auto}\n");

	(void)state;
	assert_int_equal(valid_server(&a, "a")->protocol, PROTOCOL_LEGACY);
	assert_int_equal(valid_server(&a, "b")->protocol, PROTOCOL_MODERN);
	assert_int_equal(valid_server(&b, "a")->protocol, PROTOCOL_AUTO);
	assert_false(server_conf_equal(valid_server(&a, "a"), valid_server(&b, "a")));
	assert_false(server_conf_equal(valid_server(&a, "b"), valid_server(&b, "b")));
	done(&a);
	done(&b);
}

static void test_load_file(void **state)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;

	assert_int_equal(manifest_load(TEST_DATADIR "/valid.yaml", 0, &m, &errs), 0);
	assert_non_null(m);
	assert_int_equal(errs.n, 0);
	assert_string_equal(m->servers[0].cwd, TEST_DATADIR "/srv");
	manifest_free(m);

	assert_int_equal(manifest_load(TEST_DATADIR "/does-not-exist.yaml", 0, &m, &errs), -ENOENT);
	assert_null(m);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.items[0].text,
			    TEST_DATADIR "/does-not-exist.yaml: cannot open the manifest: No such file or directory");
	manifest_errors_clear(&errs);
}

/*
 * "\0" escapes: a key keeps its real length (two keys that differ after a NUL
 * were compared past their end once), and no key or value holding a NUL gets
 * through, since execve, the environment, paths and headers would cut it.
 */
static void test_nul_bytes(void **state)
{
	static const struct {
		const char *yaml;
		const char *text;
	} cases[] = {
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    env: {\"A\\0B\": x}\n",
		  "/etc/mcpd/m.yaml:5:11: servers.a.env: key \"A\\0B\" contains a NUL byte, which no name can hold" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    env: {A: \"x\\0y\"}\n",
		  "/etc/mcpd/m.yaml:5:14: servers.a.env.A: contains a NUL byte (\\0), which no argument, variable, path "
		  "or header can carry" },
		{ "version: 1\nservers:\n  a:\n    command: [x, \"-a\\0b\"]\n",
		  "/etc/mcpd/m.yaml:4:18: servers.a.command[1]: contains a NUL byte (\\0), which no argument, variable, "
		  "path or header can carry" },
		{ "version: 1\nservers:\n  a:\n    command: \"x\\0 y\"\n",
		  "/etc/mcpd/m.yaml:4:14: servers.a.command: contains a NUL byte (\\0), which no argument, variable, "
		  "path or header can carry" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    cwd: \"/tmp\\0/x\"\n",
		  "/etc/mcpd/m.yaml:5:10: servers.a.cwd: contains a NUL byte (\\0), which no argument, variable, path or "
		  "header can carry" },
		{ "version: 1\nservers:\n  a:\n    command: [x]\n    user: \"~\\0\"\n",
		  "/etc/mcpd/m.yaml:5:11: servers.a.user: contains a NUL byte (\\0), which no argument, variable, path or "
		  "header can carry" },
		{ "version: 1\nservers:\n  a:\n    transport: http\n    url: http://h/mcp\n    headers: {\"X-A\\0b\": v}\n",
		  "/etc/mcpd/m.yaml:6:15: servers.a.headers: key \"X-A\\0b\" contains a NUL byte, which no name can hold" },
		{ "version: 1\nservers:\n  a:\n    transport: http\n    url: http://h/mcp\n    headers: {X-A: \"v\\0\"}\n",
		  "/etc/mcpd/m.yaml:6:20: servers.a.headers.X-A: contains a NUL byte (\\0), which no argument, variable, "
		  "path or header can carry" },
		{ "version: 1\nservers:\n  a:\n    transport: http\n    url: \"http://h/\\0mcp\"\n",
		  "/etc/mcpd/m.yaml:5:10: servers.a.url: contains a NUL byte (\\0), which no argument, variable, path or "
		  "header can carry" },
		{ "version: 1\nservers:\n  \"a\\0b\": {command: [x]}\n  b: {command: [x]}\n",
		  "/etc/mcpd/m.yaml:3:3: servers: key \"a\\0b\" contains a NUL byte, which no name can hold" },
		{ "version: 1\n\"servers\\0x\": {}\nservers: {}\n",
		  "/etc/mcpd/m.yaml:2:1: key \"servers\\0x\" contains a NUL byte, which no name can hold" },
	};
	struct result res;

	/* Keys equal up to their NUL: each is reported, and none is read past its end. */
	res = parse("version: 1\nservers:\n  a:\n    command: [x]\n"
		    "    env: {\"x\\0yz\": 1, \"x\\0ab\": 2, \"x\\0yz\": 3, x: 4}\n");
	assert_int_equal(res.r, -EINVAL);
	assert_null(res.m);
	assert_int_equal(res.errs.nerrors, 3);
	for (size_t i = 0; i < res.errs.n; i++)
		assert_non_null(strstr(res.errs.items[i].text, "contains a NUL byte, which no name can hold"));
	done(&res);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i].yaml, cases[i].text);
}

/* health.call and health.exec: parsed per server, JSON arguments, bounded, no restart when only they change. */
/* replicas: N: 1 to 64 processes of a stdio server, 1 by default; not in defaults, not on http. */
static void test_replicas(void **state)
{
	struct result a = parse("version: 1\nservers:\n  a: {command: [x], replicas: 3}\n  b: {command: [x]}\n"
				"  c: {command: [x], replicas: 64}\n");
	struct result b = parse("version: 1\nservers:\n  a: {command: [x], replicas: 2}\n  b: {command: [x]}\n"
				"  c: {command: [x], replicas: 64}\n");

	(void)state;
	assert_int_equal(a.r, 0);
	assert_int_equal(a.m->servers[0].replicas, 3);
	assert_int_equal(a.m->servers[1].replicas, 1);
	assert_int_equal(a.m->servers[2].replicas, 64);
	assert_int_equal(a.m->servers[0].replica, 0);
	/* A count that changes is no restart of the replicas that stay: reload compares it on its own. */
	assert_true(server_conf_equal(&a.m->servers[0], &b.m->servers[0]));
	done(&a);
	done(&b);
	expect_error("version: 1\nservers:\n  a: {command: [x], replicas: 0}\n",
		     "/etc/mcpd/m.yaml:3:31: servers.a.replicas: 0 is out of range (1 to 64)");
	expect_error("version: 1\nservers:\n  a: {command: [x], replicas: 65}\n",
		     "/etc/mcpd/m.yaml:3:31: servers.a.replicas: 65 is out of range (1 to 64)");
	expect_error("version: 1\nservers:\n  a: {transport: http, url: \"http://127.0.0.1:1/mcp\", replicas: 2}\n",
		     "/etc/mcpd/m.yaml:3:65: servers.a.replicas: replicas needs a stdio server: mcpd does not start an "
		     "http server's processes (run more of them behind one URL instead)");
}

static void test_deep_checks(void **state)
{
	struct result a = parse("version: 1\ndefaults: {health: {exec_timeout: 3s}}\nservers:\n"
				"  a:\n    command: [x]\n    health:\n"
				"      call: {tool: lookup.v2, arguments: {q: \"1\", n: 1, f: -2.5, ok: true, no: null, "
				"l: [a, 2], m: {k: v}}}\n"
				"      exec: [/bin/check, --quick]\n"
				"  b: {command: [x]}\n");
	struct result b = parse("version: 1\nservers:\n  a: {command: [x], health: {call: {tool: other}}}\n"
				"  b: {command: [x], health: {interval: 10s}}\n");
	static const struct {
		const char *yaml, *text;
	} cases[] = {
		{ "version: 1\nservers:\n  a: {command: [x], health: {call: {tool: \"a b\"}}}\n",
		  "/etc/mcpd/m.yaml:3:43: servers.a.health.call.tool: \"a b\" is not a valid MCP tool name: 1 to 128 "
		  "letters, digits, '_', '-' or '.'" },
		{ "version: 1\nservers:\n  a: {command: [x], health: {call: {arguments: {}}}}\n",
		  "/etc/mcpd/m.yaml:3:36: servers.a.health.call.tool: missing \"tool\": the name of the (read-only) "
		  "tool to call at each probe" },
		{ "version: 1\nservers:\n  a: {command: [x], health: {call: {tool: t, arguments: [1]}}}\n",
		  "/etc/mcpd/m.yaml:3:57: servers.a.health.call.arguments: expected a map of the tool's arguments, "
		  "got a list" },
		{ "version: 1\nservers:\n  a: {command: [x], health: {call: {tool: t, argument: {}}}}\n",
		  "/etc/mcpd/m.yaml:3:46: servers.a.health.call.argument: unknown key \"argument\" (did you mean "
		  "\"arguments\"?)" },
		{ "version: 1\nservers:\n  a: {command: [x], health: {exec: []}}\n",
		  "/etc/mcpd/m.yaml:3:36: servers.a.health.exec: is empty: give the program to run and its arguments" },
		{ "version: 1\nservers:\n  a: {command: [x], health: {exec: \"a | b\"}}\n",
		  "/etc/mcpd/m.yaml:3:36: servers.a.health.exec: contains shell syntax ('|'); mcpd runs commands "
		  "without a shell: write the command as a list, e.g. [sh, -c, \"...\"]" },
		{ "version: 1\nservers:\n  a: {command: [x], health: {exec: [c], exec_timeout: 0s}}\n",
		  "/etc/mcpd/m.yaml:3:55: servers.a.health.exec_timeout: must be longer than 0" },
		{ "version: 1\ndefaults: {health: {call: {tool: t}}}\nservers:\n  a: {command: [x]}\n",
		  "/etc/mcpd/m.yaml:2:21: defaults.health.call: \"call\" cannot be set in defaults: it belongs to one "
		  "server" },
	};
	const struct server_conf *sa, *sb;
	struct server_conf copy;
	char *big;

	(void)state;
	sa = valid_server(&a, "a");
	assert_string_equal(sa->health.call_tool, "lookup.v2");
	assert_string_equal(sa->health.call_arguments,
			    "{\"q\":\"1\",\"n\":1,\"f\":-2.5,\"ok\":true,\"no\":null,\"l\":[\"a\",2],\"m\":{\"k\":\"v\"}}");
	assert_int_equal(sa->health.exec_argc, 2);
	assert_string_equal(sa->health.exec[0], "/bin/check");
	assert_string_equal(sa->health.exec[1], "--quick");
	assert_null(sa->health.exec[2]);
	assert_int_equal(sa->health.exec_timeout_ms, 3000);
	assert_null(valid_server(&a, "b")->health.call_tool);
	assert_null(valid_server(&a, "b")->health.exec);

	/* A copy is deep and equal; a change of checks alone is no change that needs a restart. */
	server_conf_copy(&copy, sa);
	assert_true(server_conf_equal(&copy, sa));
	assert_true(server_conf_checks_equal(&copy, sa));
	assert_ptr_not_equal(copy.health.call_tool, sa->health.call_tool);
	server_conf_release(&copy);
	sb = valid_server(&b, "a");
	assert_true(server_conf_equal(sa, sb));
	assert_false(server_conf_checks_equal(sa, sb));
	assert_false(server_conf_equal(valid_server(&a, "b"), valid_server(&b, "b")));
	done(&a);
	done(&b);

	assert_true(tool_name_valid("a"));
	assert_true(tool_name_valid("get_user-v1.2"));
	assert_false(tool_name_valid(""));
	assert_false(tool_name_valid("a/b"));
	big = repeat("", "a", MANIFEST_TOOL_NAME_MAX, "");
	assert_true(tool_name_valid(big));
	free(big);
	big = repeat("", "a", MANIFEST_TOOL_NAME_MAX + 1, "");
	assert_false(tool_name_valid(big));
	free(big);

	/* Arguments beyond 64 KiB as JSON are refused. */
	big = repeat("version: 1\nservers:\n  a:\n    command: [x]\n    health:\n      call:\n        tool: t\n"
		     "        arguments:\n          k: \"", "0123456789abcdef", MANIFEST_CALL_ARGS_MAX / 16, "\"\n");
	{
		struct result r = parse(big);

		assert_int_equal(r.r, -EINVAL);
		assert_int_equal(r.errs.n, 1);
		assert_non_null(strstr(r.errs.items[0].text, "servers.a.health.call.arguments: is larger than 64 KiB as JSON"));
		done(&r);
	}
	free(big);

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		expect_error(cases[i].yaml, cases[i].text);
}

/* gateway.jwt: defaults, and what it needs together. */
static void jwt_error_like(const char *jwt, const char *want)
{
	char yaml[600];
	struct result res;

	snprintf(yaml, sizeof(yaml), "version: 1\nmcpd:\n  gateway:\n    jwt: %s\nservers:\n  a:\n    command: x\n", jwt);
	res = parse(yaml);
	if (res.errs.n != 1 || !strstr(res.errs.items[0].text, want)) {
		for (size_t i = 0; i < res.errs.n; i++)
			print_error("got: %s\n", res.errs.items[i].text);
		print_error("want: ...%s...\n", want);
		fail();
	}
	assert_null(res.m);
	done(&res);
}

static void test_gateway_jwt(void **state)
{
	struct result res = parse("version: 1\nmcpd:\n  gateway:\n"
				  "    jwt: { issuer: 'https://i.example', audience: mcpd, jwks_file: keys.json }\n"
				  "servers:\n  a:\n    command: x\n");
	const struct gateway_jwt_conf *j;

	valid_server(&res, "a");
	j = &res.m->mcpd.gateway.jwt;
	assert_true(j->enabled);
	assert_string_equal(j->issuer, "https://i.example");
	assert_string_equal(j->audience, "mcpd");
	assert_string_equal(j->jwks_file, "/etc/mcpd/keys.json");
	assert_null(j->jwks_url);
	assert_string_equal(j->agent_claim, "sub");
	assert_int_equal(j->algorithms, 1 << 0 | 1 << 4);	/* RS256, ES256 */
	assert_int_equal(j->leeway_ms, 60000);
	done(&res);

	res = parse("version: 1\nmcpd:\n  gateway:\n"
		    "    jwt: { issuer: i, audience: a, jwks_url: 'https://i.example/jwks', agent_claim: email,\n"
		    "           algorithms: [PS256, ES384], leeway: 5s }\n"
		    "servers:\n  a:\n    command: x\n");
	valid_server(&res, "a");
	j = &res.m->mcpd.gateway.jwt;
	assert_string_equal(j->jwks_url, "https://i.example/jwks");
	assert_string_equal(j->agent_claim, "email");
	assert_int_equal(j->algorithms, 1 << 3 | 1 << 5);
	assert_int_equal(j->leeway_ms, 5000);
	done(&res);

	res = parse("version: 1\nservers:\n  a:\n    command: x\n");
	valid_server(&res, "a");
	assert_false(res.m->mcpd.gateway.jwt.enabled);
	done(&res);

	jwt_error_like("{ audience: a, jwks_file: k }", "needs issuer and audience");
	jwt_error_like("{ issuer: i, audience: a }", "needs exactly one of jwks_file and jwks_url");
	jwt_error_like("{ issuer: i, audience: a, jwks_file: k, jwks_url: 'https://x/k' }", "exactly one of");
	/* plain http:// only from this machine: else anyone on the way could swap the keys */
	jwt_error_like("{ issuer: i, audience: a, jwks_url: 'http://x/k' }", "plain http:// is taken only from this");
	jwt_error_like("{ issuer: i, audience: a, jwks_url: 'http://10.0.0.1:80/k' }", "plain http://");
	jwt_error_like("{ issuer: i, audience: a, jwks_url: 'http://127.0.0.1@evil.example/k' }", "plain http://");
	jwt_error_like("{ issuer: i, audience: a, jwks_url: 'http://127.evil.example/k' }", "plain http://");
	jwt_error_like("{ issuer: i, audience: a, jwks_url: 'http://[::2]/k' }", "plain http://");
	for (const char *const *u = (const char *const[]){ "http://127.0.0.1:8080/k", "http://localhost/k",
							   "http://[::1]:9/k", "http://u@127.1.2.3/k", NULL }; *u; u++) {
		char text[300];

		snprintf(text, sizeof(text), "version: 1\nmcpd:\n  gateway:\n    jwt: { issuer: i, audience: a, "
			 "jwks_url: '%s' }\nservers:\n  a:\n    command: x\n", *u);
		res = parse(text);
		valid_server(&res, "a");
		assert_string_equal(res.m->mcpd.gateway.jwt.jwks_url, *u);
		done(&res);
	}
	jwt_error_like("{ issuer: i, audience: a, jwks_url: 'ftp://x/k' }", "an http:// or https:// URL");
	jwt_error_like("{ issuer: i, audience: a, jwks_file: k, algorithms: [HS256] }", "never none or HS*");
	jwt_error_like("{ issuer: i, audience: a, jwks_file: k, algorithms: none }", "never none or HS*");
	jwt_error_like("{ issuer: i, audience: a, jwks_file: k, algorithms: [] }", "at least one algorithm");
	jwt_error_like("{ issuer: i, audience: a, jwks_file: k, leeway: 1h }", "leeway is longer than 10m");
	jwt_error_like("{ issuer: '', audience: a, jwks_file: k }", "1 to 512 bytes");
	jwt_error_like("{ issuer: i, audience: a, jwks_file: k, secret: s }", "unknown key \"secret\"");
}

/* limits: cpu as a share of cores, cpu_time, memory_high, pids; their errors. */
static void test_resource_limits(void **state)
{
	struct result res;
	const struct server_conf *s;

	(void)state;
	res = parse("version: 1\n"
		    "defaults:\n"
		    "  limits: { pids: 64 }\n"
		    "servers:\n"
		    "  a:\n"
		    "    command: [x]\n"
		    "    limits: { memory: 512M, memory_high: 400M, cpu: 0.5, cpu_time: 10m }\n"
		    "  b:\n"
		    "    command: [x]\n"
		    "    limits: { cpu: 150%, pids: unlimited, memory: unlimited }\n");
	s = valid_server(&res, "a");
	assert_int_equal(s->limits.memory.value, 512ULL << 20);
	assert_string_equal(s->limits.memory.text, "512M");
	assert_int_equal(s->limits.memory_high.value, 400ULL << 20);
	assert_true(s->limits.cpu.set);
	assert_int_equal(s->limits.cpu.value, 50000);
	assert_string_equal(s->limits.cpu.text, "0.5");
	assert_int_equal(s->limits.cpu_time.value, 600);
	assert_int_equal(s->limits.pids.value, 64);
	assert_string_equal(s->limits.pids.text, "64");
	s = valid_server(&res, "b");
	assert_int_equal(s->limits.cpu.value, 150000);
	assert_string_equal(s->limits.cpu.text, "150%");
	assert_true(s->limits.pids.value == UINT64_MAX);
	assert_true(s->limits.memory.value == UINT64_MAX);
	assert_false(s->limits.memory_high.set);
	/* Two servers that differ only in limits.cpu are not equal (a reload restarts them). */
	assert_false(server_conf_equal(&res.m->servers[0], &res.m->servers[1]));
	done(&res);

	expect_error("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { cpu: 10s }\n",
		     "/etc/mcpd/m.yaml:5:20: servers.a.limits.cpu: \"10s\" is a duration: limits.cpu is a share of "
		     "cores (0.5, 2, \"150%\"); for a limit of CPU time use limits.cpu_time");
	expect_error("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { cpu: 0 }\n",
		     "/etc/mcpd/m.yaml:5:20: servers.a.limits.cpu: 0 is out of range (0.01 to 1024 cores)");
	expect_error("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { cpu: half }\n",
		     "/etc/mcpd/m.yaml:5:20: servers.a.limits.cpu: expected a share of cores like 0.5, 2 or \"150%\", "
		     "got \"half\"");
	expect_error("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { cpu_time: 1.5s }\n",
		     "/etc/mcpd/m.yaml:5:25: servers.a.limits.cpu_time: CPU time is counted in whole seconds");
	expect_error("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { pids: 0 }\n",
		     "/etc/mcpd/m.yaml:5:21: servers.a.limits.pids: 0 is out of range (1 to 4194304)");
	expect_error("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { memory: 64M, memory_high: 100M }\n",
		     "/etc/mcpd/m.yaml:5:41: servers.a.limits.memory_high: limits.memory_high (100M) is above "
		     "limits.memory (64M): the process would be killed before it is ever throttled");
	/* memory_high from defaults, memory from the server: the error points at defaults. */
	expect_error("version: 1\ndefaults:\n  limits: { memory_high: 1G }\nservers:\n  a:\n    command: [x]\n"
		     "    limits: { memory: 64M }\n",
		     "/etc/mcpd/m.yaml:3:26: defaults.limits.memory_high: limits.memory_high (1G) is above "
		     "limits.memory (64M): the process would be killed before it is ever throttled");

	/* A whole number of cores above this host's: a warning that limits.cpu is no longer seconds. */
	res = parse("version: 1\nservers:\n  a:\n    command: [x]\n    limits: { cpu: 1000 }\n");
	assert_int_equal(res.r, 0);
	assert_int_equal(res.errs.n, 1);
	assert_true(res.errs.items[0].warning);
	assert_non_null(strstr(res.errs.items[0].text, "limits.cpu is a share of cores, no longer seconds of CPU time"));
	done(&res);
}


/* agents: the keys, and each error and warning with its place. */
static void test_agents(void **state)
{
	static const char head[] = "version: 1\nservers:\n  files:\n    command: [x]\n  crm:\n    command: [x]\n";
	char yaml[1024];
	struct result res;

	(void)state;
	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    tools: files/read_file\n  support:\n"
		 "    tools: [\"crm/*\", \"*/search\"]\n    rate_limit: 5/s\n", head);
	res = parse(yaml);
	valid_server(&res, "files");
	assert_true(res.m->has_agents);
	assert_int_equal(res.m->nagents, 2);
	assert_string_equal(res.m->agents[0].name, "reader");
	assert_int_equal(res.m->agents[0].ntools, 1);
	assert_string_equal(res.m->agents[0].tools[0], "files/read_file");
	assert_false(res.m->agents[0].has_rate_limit);
	assert_int_equal(res.m->agents[1].ntools, 2);
	assert_true(res.m->agents[1].has_rate_limit);
	assert_int_equal(res.m->agents[1].rate_limit, 5);
	assert_int_equal(res.m->agents[1].rate_period_ms, 1000);
	done(&res);

	res = parse(head);
	assert_false(res.m->has_agents);
	done(&res);

	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    tools: [files/read_file]\n    tool: x\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:10:5: agents.reader.tool: unknown key \"tool\" (did you mean \"tools\"?)");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    rate_limit: 5/s\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:8:3: agents.reader.tools: missing: list the \"server/tool\" globs "
		     "agent \"reader\" may use");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    tools: []\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:9:12: agents.reader.tools: is empty: list at least one \"server/tool\" "
		     "glob (like \"files/read_file\" or \"crm/*\")");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    tools: [files/read_file, read_file]\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:9:30: agents.reader.tools[1]: \"read_file\" is not a \"server/tool\" "
		     "glob (like \"files/read_file\", \"files/*\" or \"*/search\")");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    tools: [files/read_file]\n    rate_limit: 5/fortnight\n",
		 head);
	expect_error(yaml, "/etc/mcpd/m.yaml:10:17: agents.reader.rate_limit: expected a rate like \"50/min\" "
		     "(per s, min, hour or a duration like 30s), got \"5/fortnight\"");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  \"bad name\":\n    tools: [files/read_file]\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:8:3: agents: agent name \"bad name\" must be 1 to 128 printable bytes "
		     "without spaces (a tokens_file name or a JWT's agent claim)");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  \"\":\n    tools: [files/read_file]\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:8:3: agents: agent name \"\" must be 1 to 128 printable bytes "
		     "without spaces (a tokens_file name or a JWT's agent claim)");
	snprintf(yaml, sizeof(yaml), "%sagents:\n  %0129d:\n    tools: [files/read_file]\n", head, 7);
	res = parse(yaml);
	assert_int_equal(res.r, -EINVAL);
	assert_non_null(strstr(res.errs.items[0].text, "must be 1 to 128 printable bytes"));
	done(&res);
	snprintf(yaml, sizeof(yaml), "%sagents: [reader]\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:7:9: agents: expected a map of keys and values, got a list");
	snprintf(yaml, sizeof(yaml), "%sagnets:\n  reader:\n    tools: [files/read_file]\n", head);
	expect_error(yaml, "/etc/mcpd/m.yaml:7:1: agnets: unknown key \"agnets\" (did you mean \"agents\"?)");

	/* A glob whose server part matches no server: a warning, with a hint when one is close. */
	snprintf(yaml, sizeof(yaml), "%sagents:\n  reader:\n    tools: [file/read_file, nope*/x]\n", head);
	res = parse(yaml);
	assert_int_equal(res.r, 0);
	assert_int_equal(res.errs.n, 2);
	assert_true(res.errs.items[0].warning && res.errs.items[1].warning);
	assert_string_equal(res.errs.items[0].text, "/etc/mcpd/m.yaml:9:13: warning: agents.reader.tools[0]: "
			    "\"file/read_file\" matches no server in servers: (did you mean \"files/...\"?)");
	assert_string_equal(res.errs.items[1].text, "/etc/mcpd/m.yaml:9:29: warning: agents.reader.tools[1]: "
			    "\"nope*/x\" matches no server in servers: it allows nothing");
	done(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway_jwt),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_server),
		cmocka_unit_test(test_defaults_merge),
		cmocka_unit_test(test_merge_keys_and_aliases),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_three_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_resource_limits),
		cmocka_unit_test(test_approval),
		cmocka_unit_test(test_many_errors_are_capped),
		cmocka_unit_test(test_equal_and_names),
		cmocka_unit_test(test_protocol),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_replicas),
		cmocka_unit_test(test_deep_checks),
		cmocka_unit_test(test_agents),
	};

	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
