/* Unit tests of a child's environment: env_file, env and secrets, their order and their errors. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
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

#include "childenv.h"
#include "manifest.h"
#include "xmalloc.h"

#define SECRET "s3cr3t-VALUE"

static char tmpdir[64];

static char *tmp_path(const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", tmpdir, name);
	return p;
}

static char *write_file(const char *name, const char *content, size_t len)
{
	char *p = tmp_path(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return p;
}

static char *write_str(const char *name, const char *content)
{
	return write_file(name, content, strlen(content));
}

static void conf_init(struct server_conf *c)
{
	server_conf_init_defaults(c);
	c->name = xstrdup("files");
}

static void conf_env(struct kv_list *l, const char *key, const char *value)
{
	l->items = xreallocarray(l->items, l->n + 1, sizeof(*l->items));
	l->items[l->n++] = (struct kv){ .key = xstrdup(key), .value = xstrdup(value) };
}

/* Takes ownership of path. */
static void conf_secret(struct server_conf *c, const char *key, char *path)
{
	conf_env(&c->secrets, key, "");
	free(c->secrets.items[c->secrets.n - 1].value);
	c->secrets.items[c->secrets.n - 1].value = path;
}

/* Points the first secret at another file; takes ownership of path. */
static void set_secret_path(struct server_conf *c, char *path)
{
	free(c->secrets.items[0].value);
	c->secrets.items[0].value = path;
}

static const char *get(const struct childenv *e, const char *name)
{
	size_t len = strlen(name);
	const char *found = NULL;

	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->envp[i], name, len) == 0 && e->envp[i][len] == '=') {
			assert_null(found);	/* every name once */
			found = e->envp[i] + len + 1;
		}
	}
	return found;
}

static void assert_env(const struct childenv *e, const char *name, const char *value)
{
	const char *v = get(e, name);

	if (!v || strcmp(v, value) != 0) {
		print_error("%s: want \"%s\", got %s%s%s\n", name, value, v ? "\"" : "", v ? v : "(unset)",
			    v ? "\"" : "");
		fail();
	}
}

/* Build with base as mcpd's environment; expect success. */
static void build_ok(const struct server_conf *c, char *const *base, struct childenv *e)
{
	char *error = NULL;
	int r = childenv_build(c, base, e, &error);

	if (r < 0)
		print_error("childenv_build: %s\n", error);
	assert_int_equal(r, 0);
	assert_null(error);
	assert_non_null(e->envp);
	assert_null(e->envp[e->n]);
}

/* Build; expect failure r with exactly this message, and no trace of the secret. */
static void build_fails(const struct server_conf *c, int want_r, const char *want)
{
	struct childenv e = { 0 };
	char *error = NULL;
	int r = childenv_build(c, NULL, &e, &error);

	assert_non_null(error);
	if (strcmp(error, want) != 0) {
		print_error("got:  %s\nwant: %s\n", error, want);
		fail();
	}
	assert_int_equal(r, want_r);
	assert_null(strstr(error, SECRET));
	assert_null(strchr(error, '\n'));
	assert_null(e.envp);
	free(error);
}

static void test_env_file_syntax(void **state)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"   \n"
		"export A=1\n"
		"B=\"two words\"\n"
		"C='single # not a comment'\n"
		"D=plain value\n"
		"E=\"mismatched'\n"
		"F=\n"
		"  G=indented  \r\n"
		"H=x=y\n"
		"I=\"\"\n"
		"J='$HOME \\n'\n"
		"export=word\n"
		"\t# indented comment\n"
		"K=last line without newline";
	struct server_conf c;
	struct childenv e = { 0 };

	conf_init(&c);
	c.env_file = write_str("syntax.env", text);
	build_ok(&c, NULL, &e);
	assert_env(&e, "A", "1");
	assert_env(&e, "B", "two words");
	assert_env(&e, "C", "single # not a comment");
	assert_env(&e, "D", "plain value");
	assert_env(&e, "E", "\"mismatched'");
	assert_env(&e, "F", "");
	assert_env(&e, "G", "indented");
	assert_env(&e, "H", "x=y");
	assert_env(&e, "I", "");
	assert_env(&e, "J", "$HOME \\n");
	assert_env(&e, "export", "word");
	assert_env(&e, "K", "last line without newline");
	assert_int_equal(e.n, 12);
	childenv_free(&e);
	assert_null(e.envp);
	server_conf_release(&c);
}

static void test_env_file_malformed(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
	} cases[] = {
		{ "A=1\n# c\nnot a line\n", 3 },
		{ "1A=x\n", 1 },
		{ "A=1\nB C=2\n", 2 },
		{ "export\n", 1 },
		{ "export B\n", 1 },
		{ "=value\n", 1 },
		{ "A-B=1\n", 1 },
		{ "\n\n\n\n" SECRET "\n", 5 },
	};
	struct server_conf c;

	conf_init(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *want;

		c.env_file = write_str("bad.env", cases[i].text);
		xasprintf(&want, "env_file %s:%u: expected NAME=VALUE", c.env_file, cases[i].line);
		build_fails(&c, -EINVAL, want);
		free(want);
		free(c.env_file);
	}
	c.env_file = write_file("nul.env", "A=1\nB=x\0y\n", 10);
	{
		char *want;

		xasprintf(&want, "env_file %s:2: contains a NUL byte", c.env_file);
		build_fails(&c, -EINVAL, want);
		free(want);
	}
	free(c.env_file);
	c.env_file = NULL;
	server_conf_release(&c);
}

static void test_env_file_missing(void **state)
{
	struct server_conf c;
	char *want;

	conf_init(&c);
	c.env_file = tmp_path("nope.env");
	xasprintf(&want, "cannot read env_file %s: No such file or directory", c.env_file);
	build_fails(&c, -ENOENT, want);
	free(want);
	free(c.env_file);

	c.env_file = xstrdup(tmpdir);
	xasprintf(&want, "cannot read env_file %s: Is a directory", c.env_file);
	build_fails(&c, -EISDIR, want);
	free(want);
	server_conf_release(&c);
}

static void test_env_file_too_large(void **state)
{
	struct server_conf c;
	char *big = xmalloc(CHILDENV_FILE_MAX + 1), *want;

	memset(big, '#', CHILDENV_FILE_MAX + 1);
	conf_init(&c);
	c.env_file = write_file("big.env", big, CHILDENV_FILE_MAX + 1);
	xasprintf(&want, "cannot read env_file %s: larger than 1 MiB", c.env_file);
	build_fails(&c, -EFBIG, want);
	free(want);
	free(c.env_file);

	/* Exactly the limit is fine: one long comment. */
	c.env_file = write_file("max.env", big, CHILDENV_FILE_MAX);
	{
		struct childenv e = { 0 };

		build_ok(&c, NULL, &e);
		assert_int_equal(e.n, 0);
		childenv_free(&e);
	}
	free(big);
	server_conf_release(&c);
}

static void test_override_order(void **state)
{
	char *base[] = { "X=base", "Y=base", "Z=base", "W=base", "V=base", "NOEQUALS", NULL };
	struct server_conf c;
	struct childenv e = { 0 };

	conf_init(&c);
	c.env_file = write_str("order.env", "X=file\nY=file\nZ=file\nX=file2\n");
	conf_env(&c.env, "Y", "env");
	conf_env(&c.env, "Z", "env");
	conf_env(&c.env, "U", "env");
	conf_secret(&c, "Z", write_str("z.secret", "secret\n"));
	build_ok(&c, base, &e);
	assert_env(&e, "W", "base");
	assert_env(&e, "V", "base");
	assert_env(&e, "X", "file2");
	assert_env(&e, "Y", "env");
	assert_env(&e, "U", "env");
	assert_env(&e, "Z", "secret");
	assert_null(get(&e, "NOEQUALS"));
	assert_int_equal(e.n, 6);
	childenv_free(&e);
	server_conf_release(&c);
}

/* Replica K of N sees MCPD_REPLICA=K and MCPD_REPLICAS=N, over anything the manifest says; others neither. */
static void test_replica(void **state)
{
	char *base[] = { "MCPD_REPLICA=9", NULL };
	struct server_conf c;
	struct childenv e = { 0 };

	(void)state;
	conf_init(&c);
	build_ok(&c, NULL, &e);
	assert_null(get(&e, "MCPD_REPLICA"));
	assert_null(get(&e, "MCPD_REPLICAS"));
	childenv_free(&e);
	c.replica = 2;
	c.replicas = 3;
	conf_env(&c.env, "MCPD_REPLICAS", "7");
	build_ok(&c, base, &e);
	assert_env(&e, "MCPD_REPLICA", "2");
	assert_env(&e, "MCPD_REPLICAS", "3");
	assert_int_equal(e.n, 2);
	childenv_free(&e);
	server_conf_release(&c);
}

static void test_removed_variables(void **state)
{
	char *base[] = {
		"NOTIFY_SOCKET=/run/systemd/notify", "LISTEN_FDS=1", "LISTEN_PID=42", "LISTEN_FDNAMES=control",
		"WATCHDOG_USEC=30000000", "WATCHDOG_PID=42", "JOURNAL_STREAM=8:1234",
		"INVOCATION_ID=0123456789abcdef", "PATH=/usr/bin:/bin", "NOTIFY_SOCKETX=kept", NULL,
	};
	struct server_conf c;
	struct childenv e = { 0 };

	conf_init(&c);
	build_ok(&c, base, &e);
	assert_int_equal(e.n, 3);
	assert_env(&e, "INVOCATION_ID", "0123456789abcdef");
	assert_env(&e, "PATH", "/usr/bin:/bin");
	assert_env(&e, "NOTIFY_SOCKETX", "kept");
	assert_null(get(&e, "NOTIFY_SOCKET"));
	assert_null(get(&e, "LISTEN_FDS"));
	assert_null(get(&e, "JOURNAL_STREAM"));
	assert_null(get(&e, "WATCHDOG_USEC"));
	childenv_free(&e);

	/* What the manifest sets explicitly is the operator's choice. */
	conf_env(&c.env, "NOTIFY_SOCKET", "/run/other");
	build_ok(&c, base, &e);
	assert_env(&e, "NOTIFY_SOCKET", "/run/other");
	childenv_free(&e);
	server_conf_release(&c);
}

static void test_secret_newline(void **state)
{
	static const struct {
		const char *content;
		const char *want;
	} cases[] = {
		{ "pw", "pw" },
		{ "pw\n", "pw" },
		{ "pw\r\n", "pw" },
		{ "pw\n\n", "pw\n" },
		{ "pw\r\n\r\n", "pw\r\n" },
		{ "two\nlines\n", "two\nlines" },
		{ "\n", "" },
		{ "", "" },
		{ " spaced \n", " spaced " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct server_conf c;
		struct childenv e = { 0 };

		conf_init(&c);
		conf_secret(&c, "DB_PASSWORD", write_str("db.secret", cases[i].content));
		build_ok(&c, NULL, &e);
		assert_env(&e, "DB_PASSWORD", cases[i].want);
		childenv_free(&e);
		server_conf_release(&c);
	}
}

/* A secret or env_file that every user may read is used, with a warning that names it but not its content. */
static void test_world_readable(void **state)
{
	struct server_conf c;
	struct childenv e = { 0 };
	char *secret, *env;

	conf_init(&c);
	secret = write_str("open.secret", SECRET "\n");
	env = write_str("open.env", "A=1\n");
	assert_int_equal(chmod(secret, 0644), 0);
	assert_int_equal(chmod(env, 0604), 0);
	c.env_file = env;
	conf_secret(&c, "TOKEN", secret);
	build_ok(&c, NULL, &e);
	assert_env(&e, "TOKEN", SECRET);
	assert_non_null(e.warnings);
	assert_non_null(strstr(e.warnings, "is readable by every user (mode 0644)"));
	assert_non_null(strstr(e.warnings, "(mode 0604)"));
	assert_null(strstr(e.warnings, SECRET));
	childenv_free(&e);

	assert_int_equal(chmod(secret, 0640), 0);
	assert_int_equal(chmod(env, 0600), 0);
	build_ok(&c, NULL, &e);
	assert_null(e.warnings);
	childenv_free(&e);
	server_conf_release(&c);
}

static void test_secret_errors(void **state)
{
	char *big = xmalloc(CHILDENV_SECRET_MAX + 1), *fifo = tmp_path("fifo"), *want;
	struct server_conf c;

	for (size_t i = 0; i + sizeof(SECRET) <= CHILDENV_SECRET_MAX + 1; i += sizeof(SECRET) - 1)
		memcpy(big + i, SECRET, sizeof(SECRET) - 1);
	memset(big + CHILDENV_SECRET_MAX + 1 - 16, 'x', 16);
	conf_init(&c);

	/* Missing. */
	conf_secret(&c, "DB_PASSWORD", tmp_path("missing"));
	xasprintf(&want, "cannot read secret DB_PASSWORD from %s: No such file or directory", c.secrets.items[0].value);
	build_fails(&c, -ENOENT, want);
	free(want);

	/* A NUL inside: refused, content not shown. */
	set_secret_path(&c, write_file("nul.secret", SECRET "\0" SECRET "\n", 2 * strlen(SECRET) + 2));
	xasprintf(&want, "cannot use secret DB_PASSWORD from %s: it contains a NUL byte", c.secrets.items[0].value);
	build_fails(&c, -EINVAL, want);
	free(want);

	/* Too large. */
	set_secret_path(&c, write_file("big.secret", big, CHILDENV_SECRET_MAX + 1));
	xasprintf(&want, "cannot read secret DB_PASSWORD from %s: larger than 64 KiB", c.secrets.items[0].value);
	build_fails(&c, -EFBIG, want);
	free(want);

	/* Not a regular file: a FIFO must not block mcpd. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	set_secret_path(&c, fifo);
	xasprintf(&want, "cannot read secret DB_PASSWORD from %s: not a regular file", fifo);
	build_fails(&c, -EINVAL, want);
	free(want);
	unlink(fifo);

	/* Unreadable: only meaningful when not root. */
	set_secret_path(&c, write_str("locked.secret", SECRET "\n"));
	if (geteuid() != 0) {
		assert_int_equal(chmod(c.secrets.items[0].value, 0), 0);
		xasprintf(&want, "cannot read secret DB_PASSWORD from %s: Permission denied", c.secrets.items[0].value);
		build_fails(&c, -EACCES, want);
		free(want);
	}

	/* The second secret fails after the env_file and the first one were read: nothing leaks (ASan checks). */
	set_secret_path(&c, write_str("ok.secret", SECRET "\n"));
	conf_secret(&c, "API_KEY", xstrdup("/nonexistent/api-key"));
	c.env_file = write_str("ok.env", "A=" SECRET "\n");
	build_fails(&c, -ENOENT, "cannot read secret API_KEY from /nonexistent/api-key: No such file or directory");

	free(big);
	server_conf_release(&c);
}

static void test_secret_exact_limit(void **state)
{
	char *max = xmalloc(CHILDENV_SECRET_MAX + 1);
	struct server_conf c;
	struct childenv e = { 0 };

	memset(max, 'k', CHILDENV_SECRET_MAX);
	max[CHILDENV_SECRET_MAX] = '\0';
	conf_init(&c);
	conf_secret(&c, "K", write_file("max.secret", max, CHILDENV_SECRET_MAX));
	build_ok(&c, NULL, &e);
	assert_env(&e, "K", max);
	childenv_free(&e);
	free(max);
	server_conf_release(&c);
}

static void remove_tree(void)
{
	static const char *const names[] = {
		"syntax.env", "bad.env", "nul.env", "big.env", "max.env", "order.env", "z.secret", "db.secret",
		"nul.secret", "big.secret", "locked.secret", "ok.secret", "ok.env", "max.secret", "fifo",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = tmp_path(names[i]);

		unlink(p);
		free(p);
	}
	rmdir(tmpdir);
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-childenv.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	remove_tree();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_file_syntax),
		cmocka_unit_test(test_env_file_malformed),
		cmocka_unit_test(test_env_file_missing),
		cmocka_unit_test(test_env_file_too_large),
		cmocka_unit_test(test_override_order),
		cmocka_unit_test(test_replica),
		cmocka_unit_test(test_removed_variables),
		cmocka_unit_test(test_secret_newline),
		cmocka_unit_test(test_secret_errors),
		cmocka_unit_test(test_secret_exact_limit),
		cmocka_unit_test(test_world_readable),
	};

	return cmocka_run_group_tests_name("childenv", tests, setup, teardown);
}
