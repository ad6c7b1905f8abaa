/*
 * Unit tests of the sandbox: the Landlock rules around hidden paths (a
 * temporary tree), the manifest's sandbox: key and its errors, and the list
 * of what every sandbox hides.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "manifest.h"
#include "sandbox.h"
#include "xmalloc.h"

#define R_DIR	(1ULL << 3)
#define R_READ	((1ULL << 0) | (1ULL << 2) | R_DIR)
#define R_ALL	((1ULL << 16) - 1)

static char root[256];

/* ---- a temporary tree ------------------------------------------------------ */

static void mk(const char *rel, bool dir)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (dir) {
		assert_int_equal(mkdir(p, 0700), 0);
	} else {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		assert_true(fd >= 0);
		close(fd);
	}
}

static char *at(const char *rel)
{
	char *p;

	xasprintf(&p, "%s%s%s", root, *rel ? "/" : "", rel);
	return p;
}

/*
 * root/
 *   a/ b/ hidden.yaml  b/keep   a/other   c/ (nothing hidden)
 *   secrets/ (a hidden dir) with x
 *   link -> a/b/hidden.yaml (a symlink: never granted)
 *   w/ with tokens and data/
 */
static int setup(void **state)
{
	char p[PATH_MAX], t[PATH_MAX];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/test-sandbox-XXXXXX");
	assert_non_null(mkdtemp(root));
	/* realpath: the expansion compares resolved paths */
	assert_non_null(realpath(root, t));
	assert_true(strlen(t) < sizeof(root));
	memcpy(root, t, strlen(t) + 1);
	mk("a", true);
	mk("a/b", true);
	mk("a/b/hidden.yaml", false);
	mk("a/b/keep", false);
	mk("a/other", false);
	mk("c", true);
	mk("c/file", false);
	mk("secrets", true);
	mk("secrets/x", false);
	mk("w", true);
	mk("w/tokens", false);
	mk("w/data", true);
	snprintf(p, sizeof(p), "%s/link", root);
	snprintf(t, sizeof(t), "%s/a/b/hidden.yaml", root);
	assert_int_equal(symlink(t, p), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

struct rules {
	char path[64][PATH_MAX];
	uint64_t rights[64];
	size_t n;
};

static int collect(const char *path, uint64_t rights, void *arg)
{
	struct rules *r = arg;

	assert_true(r->n < 64);
	snprintf(r->path[r->n], PATH_MAX, "%s", path);
	r->rights[r->n++] = rights;
	return 0;
}

/* The rights of the rule on rel, or -1 when there is none. */
static int64_t rule_of(const struct rules *r, const char *rel)
{
	char *p = at(rel);
	int64_t v = -1;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->path[i], p) == 0)
			v = (int64_t)r->rights[i];
	free(p);
	return v;
}

/* ---- the expansion ------------------------------------------------------------ */

static void test_nothing_hidden_is_one_rule(void **state)
{
	char *hidden[] = { NULL };
	struct rules r = { .n = 0 };
	unsigned budget = 100;

	(void)state;
	assert_int_equal(sandbox_expand(root, R_READ, R_DIR, hidden, collect, &r, &budget), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(rule_of(&r, ""), (int64_t)R_READ);
	assert_int_equal(budget, 99);
}

static void test_hidden_file_deep_inside(void **state)
{
	char *h = at("a/b/hidden.yaml");
	char *hidden[] = { h, NULL };
	struct rules r = { .n = 0 };
	unsigned budget = 100;

	(void)state;
	assert_int_equal(sandbox_expand(root, R_READ, R_DIR, hidden, collect, &r, &budget), 0);
	/* the ancestors are listable only */
	assert_int_equal(rule_of(&r, ""), (int64_t)R_DIR);
	assert_int_equal(rule_of(&r, "a"), (int64_t)R_DIR);
	assert_int_equal(rule_of(&r, "a/b"), (int64_t)R_DIR);
	/* everything beside the path to it is granted whole */
	assert_int_equal(rule_of(&r, "a/b/keep"), (int64_t)R_READ);
	assert_int_equal(rule_of(&r, "a/other"), (int64_t)R_READ);
	assert_int_equal(rule_of(&r, "c"), (int64_t)R_READ);
	assert_int_equal(rule_of(&r, "secrets"), (int64_t)R_READ);
	assert_int_equal(rule_of(&r, "w"), (int64_t)R_READ);
	/* the hidden file and the symlink to it are not */
	assert_int_equal(rule_of(&r, "a/b/hidden.yaml"), -1);
	assert_int_equal(rule_of(&r, "link"), -1);
	free(h);
}

static void test_hidden_dir(void **state)
{
	char *h = at("secrets");
	char *hidden[] = { h, NULL };
	struct rules r = { .n = 0 };
	unsigned budget = 100;

	(void)state;
	assert_int_equal(sandbox_expand(root, R_READ, R_DIR, hidden, collect, &r, &budget), 0);
	assert_int_equal(rule_of(&r, ""), (int64_t)R_DIR);
	assert_int_equal(rule_of(&r, "secrets"), -1);
	assert_int_equal(rule_of(&r, "secrets/x"), -1);
	assert_int_equal(rule_of(&r, "a"), (int64_t)R_READ);
	free(h);
}

static void test_writable_dir_with_hidden_file(void **state)
{
	char *h = at("w/tokens"), *w = at("w");
	char *hidden[] = { h, NULL };
	struct rules r = { .n = 0 };
	unsigned budget = 100;

	(void)state;
	assert_int_equal(sandbox_expand(w, R_ALL, R_DIR, hidden, collect, &r, &budget), 0);
	assert_int_equal(rule_of(&r, "w"), (int64_t)R_DIR);
	assert_int_equal(rule_of(&r, "w/data"), (int64_t)R_ALL);
	assert_int_equal(rule_of(&r, "w/tokens"), -1);
	assert_int_equal(r.n, 2);
	free(h);
	free(w);
}

static void test_granted_path_inside_hidden_is_skipped(void **state)
{
	char *h = at("secrets"), *g = at("secrets/x");
	char *hidden[] = { h, NULL };
	struct rules r = { .n = 0 };
	unsigned budget = 100;

	(void)state;
	assert_int_equal(sandbox_expand(g, R_ALL, R_DIR, hidden, collect, &r, &budget), 0);
	assert_int_equal(r.n, 0);
	free(h);
	free(g);
}

static void test_rule_budget(void **state)
{
	char *h = at("a/b/hidden.yaml");
	char *hidden[] = { h, NULL };
	struct rules r = { .n = 0 };
	unsigned budget = 3;

	(void)state;
	assert_int_equal(sandbox_expand(root, R_READ, R_DIR, hidden, collect, &r, &budget), -E2BIG);
	assert_int_equal(r.n, 3);
	assert_int_equal(budget, 0);
	free(h);
}

/* ---- the manifest --------------------------------------------------------------- */

struct parsed {
	int r;
	struct manifest *m;
	struct manifest_errors errs;
};

static struct parsed parse(const char *yaml)
{
	struct parsed res = { 0 };

	res.r = manifest_parse_buffer("/etc/mcpd/m.yaml", yaml, strlen(yaml), 0, &res.m, &res.errs);
	return res;
}

static bool has_error(const struct parsed *p, const char *needle)
{
	for (size_t i = 0; i < p->errs.n; i++)
		if (strstr(p->errs.items[i].text, needle))
			return true;
	return false;
}

static void done(struct parsed *p)
{
	manifest_free(p->m);
	manifest_errors_clear(&p->errs);
}

static void test_manifest_sandbox_map(void **state)
{
	struct parsed p = parse("version: 1\n"
				"servers:\n"
				"  a:\n"
				"    command: [x]\n"
				"    sandbox:\n"
				"      writable: [/srv/data/, /var/cache/a]\n"
				"      readable: [/srv]\n"
				"      network: false\n"
				"      private_tmp: true\n"
				"      best_effort: yes\n");
	const struct sandbox_conf *s;

	(void)state;
	assert_int_equal(p.r, 0);
	s = &p.m->servers[0].sandbox;
	assert_true(s->enabled);
	assert_int_equal(s->nwritable, 2);
	assert_string_equal(s->writable[0], "/srv/data");
	assert_string_equal(s->writable[1], "/var/cache/a");
	assert_int_equal(s->nreadable, 1);
	assert_false(s->network);
	assert_true(s->private_tmp);
	assert_true(s->best_effort);
	done(&p);
}

static void test_manifest_sandbox_defaults(void **state)
{
	struct parsed p = parse("version: 1\n"
				"defaults:\n"
				"  sandbox: { writable: [/srv/out], network: false }\n"
				"servers:\n"
				"  a: { command: [x] }\n"
				"  b: { command: [x], sandbox: false }\n"
				"  c: { command: [x], sandbox: { network: true } }\n"
				"  d: { command: [x], sandbox: true }\n"
				"  e: { command: [x], sandbox: { writable: [/tmp/e] } }\n");
	const struct server_conf *sv;

	(void)state;
	assert_int_equal(p.r, 0);
	sv = p.m->servers;
	assert_true(sv[0].sandbox.enabled);
	assert_false(sv[0].sandbox.network);
	assert_string_equal(sv[0].sandbox.writable[0], "/srv/out");
	assert_null(sv[0].sandbox.readable);
	assert_false(sv[1].sandbox.enabled);
	assert_true(sv[2].sandbox.enabled);
	assert_true(sv[2].sandbox.network);
	assert_string_equal(sv[2].sandbox.writable[0], "/srv/out");
	assert_true(sv[3].sandbox.enabled);
	assert_false(sv[3].sandbox.network);
	assert_int_equal(sv[4].sandbox.nwritable, 1);
	assert_string_equal(sv[4].sandbox.writable[0], "/tmp/e");
	/* none without a sandbox anywhere; network on by default */
	done(&p);
	p = parse("version: 1\nservers:\n  a: { command: [x] }\n  b: { command: [x], sandbox: true }\n");
	assert_int_equal(p.r, 0);
	assert_false(p.m->servers[0].sandbox.enabled);
	assert_true(p.m->servers[1].sandbox.enabled);
	assert_true(p.m->servers[1].sandbox.network);
	assert_int_equal(p.m->servers[1].sandbox.nwritable, 0);
	done(&p);
}

static void test_manifest_sandbox_errors(void **state)
{
	struct parsed p;
	char *big;
	size_t o = 0;

	(void)state;
	p = parse("version: 1\nservers:\n  a: { command: [x], sandbox: { writable: [data] } }\n");
	assert_int_equal(p.r, -EINVAL);
	assert_true(has_error(&p, "servers.a.sandbox.writable: \"data\" is not an absolute path"));
	done(&p);

	p = parse("version: 1\nservers:\n  a: { command: [x], sandbox: { writeable: [/x] } }\n");
	assert_int_equal(p.r, -EINVAL);
	assert_true(has_error(&p, "unknown key \"writeable\" (did you mean \"writable\"?)"));
	done(&p);

	p = parse("version: 1\nservers:\n  a: { command: [x], sandbox: maybe }\n");
	assert_int_equal(p.r, -EINVAL);
	assert_true(has_error(&p, "servers.a.sandbox: expected true or false"));
	done(&p);

	p = parse("version: 1\nservers:\n  a: { command: [x], sandbox: { network: 3 } }\n");
	assert_int_equal(p.r, -EINVAL);
	assert_true(has_error(&p, "servers.a.sandbox.network: expected true or false"));
	done(&p);

	/* inside what mcpd hides: the state dir, a secret file, the manifest */
	p = parse("version: 1\n"
		  "mcpd: { state_dir: /var/lib/mcpd }\n"
		  "servers:\n"
		  "  a: { command: [x], secrets: { T: /etc/keys/t }, sandbox: { writable: [/var/lib/mcpd/x] } }\n"
		  "  b: { command: [x], sandbox: { readable: [/etc/keys/t, /etc/mcpd/m.yaml, /etc/mcpd] } }\n");
	assert_int_equal(p.r, -EINVAL);
	assert_true(has_error(&p, "servers.a.sandbox.writable: \"/var/lib/mcpd/x\" is inside /var/lib/mcpd"));
	assert_true(has_error(&p, "servers.b.sandbox.readable: \"/etc/keys/t\" is inside /etc/keys/t"));
	assert_true(has_error(&p, "\"/etc/mcpd/m.yaml\" is inside /etc/mcpd/m.yaml"));
	/* a directory that holds a hidden file is fine: the file stays hidden */
	assert_false(has_error(&p, "\"/etc/mcpd\" is inside"));
	done(&p);

	/* at most 256 paths */
	big = xmalloc(300 * 16 + 200);
	o += (size_t)sprintf(big + o, "version: 1\nservers:\n  a: { command: [x], sandbox: { writable: [");
	for (int i = 0; i < 257; i++)
		o += (size_t)sprintf(big + o, "%s/p%d", i ? ", " : "", i);
	sprintf(big + o, "] } }\n");
	p = parse(big);
	assert_int_equal(p.r, -EINVAL);
	assert_true(has_error(&p, "has 257 paths, more than the limit of 256"));
	done(&p);
	free(big);
}

static void test_manifest_sandbox_equal(void **state)
{
	struct parsed a = parse("version: 1\nservers:\n  a: { command: [x], sandbox: { writable: [/a] } }\n");
	struct parsed b = parse("version: 1\nservers:\n  a: { command: [x], sandbox: { writable: [/b] } }\n");
	struct parsed c = parse("version: 1\nservers:\n  a: { command: [x] }\n");
	struct server_conf copy;

	(void)state;
	assert_false(server_conf_equal(&a.m->servers[0], &b.m->servers[0]));
	assert_false(server_conf_equal(&a.m->servers[0], &c.m->servers[0]));
	server_conf_copy(&copy, &a.m->servers[0]);
	assert_true(server_conf_equal(&a.m->servers[0], &copy));
	assert_string_equal(copy.sandbox.writable[0], "/a");
	server_conf_release(&copy);
	done(&a);
	done(&b);
	done(&c);
}

static void test_hidden_paths(void **state)
{
	struct parsed p = parse("version: 1\n"
				"mcpd: { state_dir: /var/lib/mcpd, control: /run/mcpd.sock, gateway: { tokens_file: /etc/mcpd/tokens } }\n"
				"servers:\n"
				"  a: { command: [x], env_file: /etc/a.env, secrets: { T: /etc/keys/t, U: keys/u } }\n"
				"  b: { command: [x], secrets: { T: /etc/keys/t } }\n");
	const char *want[] = { "/etc/mcpd/m.yaml", "/etc/mcpd/tokens", "/var/lib/mcpd", "/run/mcpd.sock",
			       "/etc/a.env", "/etc/keys/t", "/etc/mcpd/keys/u" };
	char **h;
	size_t n = 0;

	(void)state;
	assert_int_equal(p.r, 0);
	h = manifest_hidden_paths(p.m);
	while (h[n])
		n++;
	assert_int_equal(n, sizeof(want) / sizeof(*want));
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(h[i], want[i]);
		free(h[i]);
	}
	free(h);
	done(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_hidden_is_one_rule),
		cmocka_unit_test(test_hidden_file_deep_inside),
		cmocka_unit_test(test_hidden_dir),
		cmocka_unit_test(test_writable_dir_with_hidden_file),
		cmocka_unit_test(test_granted_path_inside_hidden_is_skipped),
		cmocka_unit_test(test_rule_budget),
		cmocka_unit_test(test_manifest_sandbox_map),
		cmocka_unit_test(test_manifest_sandbox_defaults),
		cmocka_unit_test(test_manifest_sandbox_errors),
		cmocka_unit_test(test_manifest_sandbox_equal),
		cmocka_unit_test(test_hidden_paths),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
