/*
 * Unit tests of the manifest history: SHA-256 against FIPS 180-4's vectors,
 * the diff of two manifests, and the store in a temporary directory
 * (record, look up by prefix, prune, read back, off when unusable).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
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

#include "history.h"
#include "manifest.h"
#include "sha256.h"

static void test_sha256_vectors(void **state)
{
	char hex[SHA256_HEX_LEN + 1];
	char *million = malloc(1000000);

	(void)state;
	sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the padding needs a second block. */
	sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

static struct manifest *parse(const char *text)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;

	manifest_parse_buffer("/tmp/m.yaml", text, strlen(text), 0, &m, &errs);
	manifest_errors_clear(&errs);
	assert_non_null(m);
	return m;
}

static const char *name_at(const cJSON *diff, const char *key, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(diff, key), i));
}

static void test_diff(void **state)
{
	struct manifest *a = parse("version: 1\nservers:\n  keep: {command: [/bin/true]}\n"
				   "  change: {command: [/bin/true]}\n  drop: {command: [/bin/true]}\n");
	struct manifest *b = parse("version: 1\nservers:\n  keep: {command: [/bin/true]}\n"
				   "  change: {command: [/bin/true, x]}\n  add: {command: [/bin/true]}\n");
	cJSON *d;

	(void)state;
	d = history_diff(a, b);
	assert_string_equal(name_at(d, "added", 0), "add");
	assert_string_equal(name_at(d, "changed", 0), "change");
	assert_string_equal(name_at(d, "removed", 0), "drop");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "added")), 1);
	cJSON_Delete(d);
	d = history_diff(NULL, a);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "added")), 3);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "removed")), 0);
	cJSON_Delete(d);
	manifest_free(a);
	manifest_free(b);
}

static char dir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-history.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct history *open_in(const char *sub, unsigned keep)
{
	char path[128], *warning = NULL;
	struct history *h;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	h = history_open(ev_default_loop(0), path, keep, &warning);
	assert_null(warning);
	assert_true(history_enabled(h));
	return h;
}

static void record(struct history *h, const char *text, const char *action)
{
	cJSON *diff = cJSON_CreateObject();

	history_record(h, text, strlen(text), action, strcmp(action, "rollback") ? "start" : NULL, 1000, diff);
	cJSON_Delete(diff);
}

static int count_entries(const struct history *h)
{
	cJSON *list = history_list_json(h);
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "entries"));

	cJSON_Delete(list);
	return n;
}

static void test_record_lookup_reopen(void **state)
{
	struct history *h = open_in("a/b", 20);
	char hash[SHA256_HEX_LEN + 1], want[SHA256_HEX_LEN + 1], path[128], *error = NULL;
	const char *buf;
	size_t len;
	struct stat st;
	cJSON *m;

	(void)state;
	assert_int_equal(history_lookup(h, NULL, &buf, &len, hash, &error), -ENOENT);
	free(error);
	record(h, "one", "start");
	record(h, "two", "reload");
	record(h, "two", "reload");	/* identical content again: a new entry, the same content */
	assert_int_equal(count_entries(h), 3);
	/* The default skips entries with the running content. */
	assert_int_equal(history_lookup(h, NULL, &buf, &len, hash, &error), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "one", 3);
	sha256_hex("one", 3, want);
	assert_string_equal(hash, want);
	/* A prefix, in either case. */
	want[5] = '\0';
	assert_int_equal(history_lookup(h, want, &buf, &len, hash, &error), 0);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(history_lookup(h, "xyz", &buf, &len, hash, &error), -EDOM);
	free(error);
	assert_int_equal(history_lookup(h, "0000000000", &buf, &len, hash, &error), -ENOENT);
	assert_non_null(strstr(error, "no manifest with hash 0000000000"));
	free(error);

	/* A rollback: the running manifest differs from the file's. */
	record(h, "one", "rollback");
	m = history_manifest_json(h);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "file_differs")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "source")), "rollback");
	cJSON_Delete(m);
	record(h, "two", "reload");
	m = history_manifest_json(h);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "file_differs")));
	cJSON_Delete(m);
	history_free(h);

	/* Created mode 0700; read back in order, the newest first in the list. */
	snprintf(path, sizeof(path), "%s/a/b", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	h = open_in("a/b", 20);
	assert_int_equal(count_entries(h), 5);
	assert_true(history_last(h, &buf, &len));
	assert_memory_equal(buf, "two", 3);
	m = history_list_json(h);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
				    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "entries"), 1), "who")),
			    "uid 1000");
	cJSON_Delete(m);
	history_free(h);
}

static void test_prune_and_ambiguous(void **state)
{
	struct history *h = open_in("p", 20);
	char hash[SHA256_HEX_LEN + 1], text[16], hex[SHA256_HEX_LEN + 1], prefix[2] = { 0 }, *error = NULL;
	int seen[16] = { 0 };
	const char *buf;
	size_t len;

	(void)state;
	/* 17 contents: two share their first hex digit, which is then an ambiguous prefix. */
	for (int i = 0; i < 17; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		record(h, text, "reload");
		sha256_hex(text, strlen(text), hex);
		if (seen[hex[0] <= '9' ? hex[0] - '0' : hex[0] - 'a' + 10]++)
			prefix[0] = hex[0];
	}
	assert_int_equal(history_lookup(h, prefix, &buf, &len, hash, &error), -ENOTUNIQ);
	assert_non_null(strstr(error, "ambiguous"));
	free(error);
	history_set_keep(h, 3);
	assert_int_equal(count_entries(h), 3);
	history_free(h);
	h = open_in("p", 3);
	assert_int_equal(count_entries(h), 3);
	history_free(h);
}

static void test_off(void **state)
{
	char path[256], file[128], *warning = NULL, *error = NULL, hash[SHA256_HEX_LEN + 1];
	struct history *h, *other;
	const char *buf;
	size_t len;
	FILE *f;

	(void)state;
	snprintf(file, sizeof(file), "%s/file", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/state", file);
	h = history_open(ev_default_loop(0), path, 20, &warning);
	assert_false(history_enabled(h));
	assert_non_null(strstr(warning, "Not a directory"));
	free(warning);
	record(h, "x", "start");	/* nothing to record, and no harm */
	assert_int_equal(history_lookup(h, NULL, &buf, &len, hash, &error), -ENODATA);
	free(error);
	history_free(h);

	/* A second mcpd on the same directory is locked out. */
	h = open_in("locked", 20);
	snprintf(path, sizeof(path), "%s/locked", dir);
	other = history_open(ev_default_loop(0), path, 20, &warning);
	assert_false(history_enabled(other));
	assert_non_null(strstr(warning, "in use by another mcpd"));
	free(warning);
	history_free(other);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_diff),
		cmocka_unit_test_setup_teardown(test_record_lookup_reopen, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_prune_and_ambiguous, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_off, setup_dir, remove_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
