/* Unit tests of mcpd's log: text and JSON lines, levels, escaping of untrusted text, files, limits. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

static char tmpdir[] = "/tmp/test-log.XXXXXX";
static int saved_stderr = -1;
static int capture_fd = -1;

/* Send stderr to a fresh file; capture_end() puts it back and returns what was written. */
static void capture_begin(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	capture_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(capture_fd >= 0);
	saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(capture_fd, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(log_open_file(NULL), 0);
}

static char *read_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

static char *capture_end(void)
{
	char *out;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	out = read_all(capture_fd);
	close(capture_fd);
	return out;
}

static int setup(void **state)
{
	unsetenv("JOURNAL_STREAM");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const files[] = { "stderr", "mcpd.log", "mcpd.log.1", "link.log", "target.log",
					       "journal.sock" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	return rmdir(tmpdir);
}

static void expect_match(const char *text, const char *pattern)
{
	regex_t re;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, text, 0, NULL, 0) != 0) {
		print_error("text:    %s\npattern: %s\n", text, pattern);
		regfree(&re);
		fail();
	}
	regfree(&re);
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void test_text(void **state)
{
	char pattern[512];
	char *out;

	log_setup(LOG_FORMAT_TEXT, 0);
	capture_begin();
	log_info("files", "running", "hello %d", 42);
	log_error(NULL, NULL, "boom: %s", "disk full");
	log_warning("web", NULL, "w");
	log_notice(NULL, "stopping", "n");
	log_debug(NULL, NULL, "not shown");
	out = capture_end();
	snprintf(pattern, sizeof(pattern),
		 "^" TS " mcpd\\[%d\\]: info: files: hello 42\n" TS " mcpd\\[%d\\]: error: boom: disk full\n" TS
		 " mcpd\\[%d\\]: warning: web: w\n" TS " mcpd\\[%d\\]: notice: n\n$",
		 (int)getpid(), (int)getpid(), (int)getpid(), (int)getpid());
	expect_match(out, pattern);
	free(out);

	log_setup(LOG_FORMAT_TEXT, 1);
	capture_begin();
	log_debug("files", NULL, "now shown");
	out = capture_end();
	expect_match(out, "^" TS " mcpd\\[[0-9]+\\]: debug: files: now shown\n$");
	free(out);
	log_setup(LOG_FORMAT_TEXT, 0);
}

/* A child's line cannot add lines, move the cursor or colour the terminal. */
static void test_child_escaping(void **state)
{
	static const char line[] = "a\x1b[31mred\x07\tb\nfake: line\r\x7f\xc2\x9b" "c\xff\xc3\xa9\0z";
	char *out, *msg;

	log_setup(LOG_FORMAT_TEXT, 0);
	capture_begin();
	log_child_line("files", line, sizeof(line) - 1);
	log_info("files", NULL, "server said %s", "x\ny\x1b]0;title\x07");
	out = capture_end();
	msg = strstr(out, "info: files: ");
	assert_non_null(msg);
	assert_memory_equal(msg, "info: files: a?[31mred?\tb?fake: line???c?\xc3\xa9?z\n",
			    strlen("info: files: a?[31mred?\tb?fake: line???c?\xc3\xa9?z\n"));
	expect_match(out, "^" TS " mcpd\\[[0-9]+\\]: info: files: [^\n]*\n" TS
			  " mcpd\\[[0-9]+\\]: info: files: server said x\\?y\\?]0;title\\?\n$");
	free(out);
}

static void test_truncation(void **state)
{
	char big[20000];
	char *out;
	size_t len;

	log_setup(LOG_FORMAT_TEXT, 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_begin();
	log_info(NULL, NULL, "%s", big);
	out = capture_end();
	len = strlen(out);
	assert_true(len <= LOG_LINE_MAX);
	assert_true(len > LOG_LINE_MAX - 8);
	assert_string_equal(out + len - 4, "\xe2\x80\xa6\n");
	assert_null(memchr(out, '\n', len - 1));
	free(out);

	/* Cut between characters, never inside one. */
	for (size_t i = 0; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 2] = '\0';
	capture_begin();
	log_child_line("files", big, strlen(big));
	out = capture_end();
	len = strlen(out);
	assert_true(len <= LOG_LINE_MAX);
	assert_string_equal(out + len - 4, "\xe2\x80\xa6\n");
	assert_int_equal((unsigned char)out[len - 5], 0xa9);
	assert_int_equal((unsigned char)out[len - 6], 0xc3);
	free(out);
}

static cJSON *parse_line(const char *text)
{
	cJSON *o;

	assert_non_null(strchr(text, '\n'));
	assert_int_equal(strchr(text, '\n')[1], '\0');	/* one line */
	o = cJSON_Parse(text);
	assert_non_null(o);
	return o;
}

static const char *field(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static void test_json(void **state)
{
	char *out;
	cJSON *o;
	regex_t re;

	log_setup(LOG_FORMAT_JSON, 0);
	capture_begin();
	log_warning("files", "backoff", "next try in %s: \"quoted\"\nsecond line", "4s");
	out = capture_end();
	o = parse_line(out);
	assert_int_equal(regcomp(&re, "^" TS "$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, field(o, "ts"), 0, NULL, 0), 0);
	regfree(&re);
	assert_string_equal(field(o, "level"), "warning");
	assert_string_equal(field(o, "server"), "files");
	assert_string_equal(field(o, "state"), "backoff");
	assert_string_equal(field(o, "msg"), "next try in 4s: \"quoted\"\nsecond line");
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "stream"));
	cJSON_Delete(o);
	free(out);

	capture_begin();
	log_error(NULL, NULL, "plain");
	out = capture_end();
	o = parse_line(out);
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "server"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "state"));
	assert_string_equal(field(o, "level"), "error");
	cJSON_Delete(o);
	free(out);

	/* A child's line: JSON escapes control characters; NUL and bad UTF-8 cannot be kept. */
	capture_begin();
	log_child_line("files", "a\x1b[0m\nb\0c\xff\xc3\xa9", 12);
	out = capture_end();
	o = parse_line(out);
	assert_string_equal(field(o, "msg"), "a\x1b[0m\nb?c?\xc3\xa9");
	assert_string_equal(field(o, "stream"), "stderr");
	assert_string_equal(field(o, "level"), "info");
	cJSON_Delete(o);
	free(out);
	log_setup(LOG_FORMAT_TEXT, 0);
}

/* log_fields: JSON lines get each field as a key (numbers as numbers); text lines only the message. */
static void test_fields(void **state)
{
	const struct log_field fields[] = {
		{ .key = "agent", .value = "reader" },
		{ .key = "tool", .value = NULL },
		{ .key = "status", .number = 200, .numeric = true },
		{ .key = "duration_ms", .number = 1.5, .numeric = true },
	};
	char *out;
	cJSON *o;

	log_setup(LOG_FORMAT_JSON, 0);
	capture_begin();
	log_fields(LOG_LVL_INFO, "files", fields, 4, "gateway: POST %d", 200);
	out = capture_end();
	o = parse_line(out);
	assert_string_equal(field(o, "msg"), "gateway: POST 200");
	assert_string_equal(field(o, "server"), "files");
	assert_string_equal(field(o, "agent"), "reader");
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "tool"));
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "status")) == 200);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "duration_ms")) == 1.5);
	cJSON_Delete(o);
	free(out);
	log_setup(LOG_FORMAT_TEXT, 0);
	capture_begin();
	log_fields(LOG_LVL_INFO, "files", fields, 4, "gateway: POST %d", 200);
	out = capture_end();
	expect_match(out, "^" TS " mcpd\\[[0-9]+\\]: info: files: gateway: POST 200\n$");
	free(out);
}

/* Each line is one write(): in a packet-mode pipe, one read returns exactly one line. */
static void test_one_write(void **state)
{
	char buf[8192];
	int p[2], saved;
	ssize_t n;

	log_setup(LOG_FORMAT_TEXT, 0);
	assert_int_equal(pipe2(p, O_DIRECT | O_CLOEXEC | O_NONBLOCK), 0);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	dup2(p[1], STDERR_FILENO);
	log_open_file(NULL);
	log_info("files", NULL, "%s and %s", "one", "two");
	log_child_line("files", "child", 5);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	expect_match(buf, "^" TS " mcpd\\[[0-9]+\\]: info: files: one and two\n$");
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	expect_match(buf, "^" TS " mcpd\\[[0-9]+\\]: info: files: child\n$");
	close(p[0]);
	close(p[1]);
	log_open_file(NULL);
}

/* The fd of path in this process, or -1. */
static int find_fd(const char *path)
{
	for (int fd = 0; fd < 1024; fd++) {
		char link[64], target[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0)
			return fd;
	}
	return -1;
}

static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *s;

	assert_true(fd >= 0);
	s = read_all(fd);
	close(fd);
	return s;
}

static int pending_fd = -1;

static void on_pending(int fd)
{
	pending_fd = fd;
}

/* A pipe nobody reads: logging never blocks, the queue is bounded, the drops are counted once it drains. */
static void test_stalled_pipe(void **state)
{
	static char buf[1 << 20];
	size_t got = 0;
	int p[2], saved;
	ssize_t n;

	log_setup(LOG_FORMAT_TEXT, 0);
	log_set_pending_hook(on_pending);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	dup2(p[1], STDERR_FILENO);
	assert_int_equal(log_open_file(NULL), 0);
	/* Before the fix the first full pipe blocked here for ever: fail instead. */
	alarm(20);
	for (int i = 0; i < 20000; i++)
		log_info("files", NULL, "line %d of a log that nobody reads, long enough to fill the pipe soon", i);
	alarm(0);
	assert_true(pending_fd >= 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	/* The reader comes back: the queue drains, then the count of the dropped lines follows. */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int round = 0; round < 1000; round++) {
		int more = log_flush();

		while (got < sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		if (!more && round > 0)
			break;
	}
	buf[got] = '\0';
	assert_true(got <= 64 * 1024 + LOG_QUEUE_MAX + 4096);
	expect_match(buf, "^" TS " mcpd\\[[0-9]+\\]: info: files: line 0 of a log");
	expect_match(buf, "warning: log: dropped [0-9]+ lines: the log is not being read\n$");
	close(p[0]);
	log_set_pending_hook(NULL);
	pending_fd = -1;
	log_open_file(NULL);
}

/* log_file is never opened through a symbolic link (someone could point it at /etc/shadow). */
static void test_no_symlink(void **state)
{
	char link[PATH_MAX], target[PATH_MAX];
	struct stat st;

	snprintf(link, sizeof(link), "%s/link.log", tmpdir);
	snprintf(target, sizeof(target), "%s/target.log", tmpdir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(log_open_file(link), -ELOOP);
	assert_int_equal(stat(target, &st), -1);	/* not created through the link */
	assert_int_equal(log_open_file(NULL), 0);
}

static void test_file_and_reopen(void **state)
{
	char path[PATH_MAX], rotated[PATH_MAX];
	struct stat st;
	char *a, *b;
	int fd;

	snprintf(path, sizeof(path), "%s/mcpd.log", tmpdir);
	snprintf(rotated, sizeof(rotated), "%s/mcpd.log.1", tmpdir);
	log_setup(LOG_FORMAT_TEXT, 0);
	assert_int_equal(log_open_file(path), 0);
	fd = find_fd(path);
	assert_true(fd > STDERR_FILENO);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	log_info(NULL, NULL, "before rotation");

	/* logrotate renames, then SIGUSR1 makes mcpd open the path again. */
	assert_int_equal(rename(path, rotated), 0);
	log_info(NULL, NULL, "still the old file");
	assert_int_equal(log_open_file(path), 0);
	assert_int_equal(find_fd(rotated), -1);	/* the old one is closed */
	log_info(NULL, NULL, "after rotation");

	/* A path that cannot be opened leaves the log where it was. */
	assert_int_equal(log_open_file("/nonexistent-dir/mcpd.log"), -ENOENT);
	log_info(NULL, NULL, "not lost");

	a = slurp(rotated);
	b = slurp(path);
	expect_match(a, "^" TS " mcpd\\[[0-9]+\\]: info: before rotation\n" TS
			" mcpd\\[[0-9]+\\]: info: still the old file\n$");
	expect_match(b, "^" TS " mcpd\\[[0-9]+\\]: info: after rotation\n" TS " mcpd\\[[0-9]+\\]: info: not lost\n$");
	free(a);
	free(b);
	assert_int_equal(log_open_file(NULL), 0);
	assert_int_equal(find_fd(path), -1);
}

static void test_errno_kept(void **state)
{
	char *out;

	log_setup(LOG_FORMAT_JSON, 0);
	capture_begin();
	errno = EXDEV;
	log_info(NULL, NULL, "x");
	assert_int_equal(errno, EXDEV);
	log_child_line("s", "y", 1);
	assert_int_equal(errno, EXDEV);
	out = capture_end();
	free(out);
	log_setup(LOG_FORMAT_TEXT, 0);
}

/* JOURNAL_STREAM naming another stream is ignored; naming ours without a journal socket too. */
static void test_journal_stream(void **state)
{
	char value[64];
	struct stat st;
	char *out;

	capture_begin();
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_setup(LOG_FORMAT_TEXT, 0);
	log_info(NULL, NULL, "not the journal");
	setenv("JOURNAL_STREAM", "garbage", 1);
	log_setup(LOG_FORMAT_TEXT, 0);
	log_info(NULL, NULL, "still not");
	out = capture_end();
	expect_match(out, "info: not the journal\n.*info: still not\n$");
	free(out);

	if (access("/run/systemd/journal/socket", F_OK) == 0) {
		unsetenv("JOURNAL_STREAM");
		skip();	/* a real journal would take the line */
	}
	capture_begin();
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", value, 1);
	log_setup(LOG_FORMAT_TEXT, 0);
	log_info("files", "running", "journal unreachable");
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_FORMAT_TEXT, 0);
	out = capture_end();
	expect_match(out, "info: files: journal unreachable\n$");
	free(out);
}

/* A journald that does not read: entries are dropped, never waited for, and the count comes once it reads again. */
static void test_stalled_journal(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[PATH_MAX], value[64], buf[LOG_LINE_MAX + 1024];
	int sock, received = 0;
	struct stat st;
	ssize_t n;
	char *out;

	snprintf(path, sizeof(path), "%s/journal.sock", tmpdir);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	log_set_journal_socket(path);
	capture_begin();
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", value, 1);
	log_setup(LOG_FORMAT_TEXT, 0);
	alarm(20);
	for (int i = 0; i < 5000; i++)
		log_info("files", "running", "entry %d", i);
	alarm(0);

	n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "MESSAGE=files: entry 0\nPRIORITY=6\nSYSLOG_IDENTIFIER=mcpd\nMCPD_SERVER=files\n"
				 "MCPD_STATE=running\n");
	while (recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT) > 0)
		received++;
	assert_true(received < 4999);	/* the queue of a datagram socket is short: some were dropped */

	log_info(NULL, NULL, "read again");
	n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	expect_match(buf, "^MESSAGE=read again\n");
	n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	expect_match(buf, "^MESSAGE=log: dropped [0-9]+ lines: the log is not being read\nPRIORITY=4\n");

	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_FORMAT_TEXT, 0);
	out = capture_end();
	assert_string_equal(out, "");	/* the journal took every entry it did not drop */
	free(out);
	close(sock);
	log_set_journal_socket("/run/systemd/journal/socket");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_child_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_one_write),
		cmocka_unit_test(test_stalled_pipe),
		cmocka_unit_test(test_no_symlink),
		cmocka_unit_test(test_file_and_reopen),
		cmocka_unit_test(test_errno_kept),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test(test_stalled_journal),
	};

	return cmocka_run_group_tests_name("log", tests, setup, teardown);
}
