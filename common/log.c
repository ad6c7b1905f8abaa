/*
 * mcpd's own log: see log.h. Every line is built whole in one buffer and
 * written with one write(), so it does not interleave mid-line with other
 * writers of the same file (O_APPEND), and untrusted text (a child's stderr, strings from MCP servers) is
 * made safe before it reaches a terminal or a log parser.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ELLIPSIS "\xe2\x80\xa6"	/* "…" */

/* Room kept for what precedes the message: time, pid, level, a server name. */
#define LOG_PREFIX_MAX 192
#define LOG_FIELD_MAX 512	/* bytes of a field's value, an ellipsis past them */

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "error", [LOG_LVL_WARNING] = "warning", [LOG_LVL_NOTICE] = "notice",
	[LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};

static const int level_priorities[] = {
	[LOG_LVL_ERR] = LOG_ERR, [LOG_LVL_WARNING] = LOG_WARNING, [LOG_LVL_NOTICE] = LOG_NOTICE,
	[LOG_LVL_INFO] = LOG_INFO, [LOG_LVL_DEBUG] = LOG_DEBUG,
};

static struct {
	int fd;
	bool owned;		/* opened by log_open_file(): closed when replaced */
	bool file;		/* a log_file, not stderr */
	bool json;
	bool debug;
	bool journal;		/* fd is stderr and stderr is the journal's stream */
	char *queue;		/* bytes the destination did not take yet, whole lines */
	size_t queued;
	unsigned long long dropped;
	void (*pending_hook)(int fd);
	int journal_fd;		/* datagram socket to journald, non-blocking */
} logger = { .fd = STDERR_FILENO, .journal_fd = -1 };

static void report_drops(void);

/* One message on its way out. */
struct entry {
	enum log_level lvl;
	const char *server;
	const char *state;
	const char *msg;	/* not NUL-terminated: a child's line may hold NULs */
	size_t len;
	bool cut;		/* already cut by vsnprintf */
	bool child;		/* a line of a child's stderr */
	const struct log_field *fields;
	size_t nfields;
};

/* Where journald listens for native entries. */
static const char *journal_socket = "/run/systemd/journal/socket";

void log_set_journal_socket(const char *path)
{
	journal_socket = path;
}

/* systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it gave us. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &end) != 2 || e[end] != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) < 0 || access(journal_socket, F_OK) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_format fmt, int min_level_debug)
{
	logger.json = fmt == LOG_FORMAT_JSON;
	logger.debug = min_level_debug != 0;
	logger.journal = !logger.owned && stderr_is_journal();
}

/*
 * stderr without blocking: a pipe or a terminal is opened again through
 * /proc, so O_NONBLOCK is on mcpd's own open file, not on the one it shares
 * with its parent (a shell would see EAGAIN); a socket takes the flag itself.
 * A regular file is left as it is. Returns the fd to write to.
 */
static int stderr_nonblocking(bool *ret_owned)
{
	struct stat st;
	int fd;

	*ret_owned = false;
	if (fstat(STDERR_FILENO, &st) < 0 || S_ISREG(st.st_mode))
		return STDERR_FILENO;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		/* Keep what the opener chose: append, and a pipe's packet mode (O_DIRECT). */
		int keep = fcntl(STDERR_FILENO, F_GETFL) & (O_APPEND | O_DIRECT);

		fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (keep > 0 ? keep : 0));
		if (fd >= 0) {
			*ret_owned = true;
			return fd;
		}
	}
	if (S_ISSOCK(st.st_mode))
		fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
	return STDERR_FILENO;
}

int log_open_file(const char *path)
{
	bool owned = false;
	int fd;

	if (path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0640);
		if (fd < 0)
			return errno == ELOOP ? -ELOOP : -errno;
		owned = true;
	} else {
		fd = stderr_nonblocking(&owned);
	}
	if (logger.owned)
		close(logger.fd);
	logger.fd = fd;
	logger.owned = owned;
	logger.file = path != NULL;
	logger.journal = !logger.file && stderr_is_journal();
	if (logger.queued > 0 && logger.pending_hook)
		logger.pending_hook(logger.fd);
	return 0;
}

void log_set_pending_hook(void (*hook)(int fd))
{
	logger.pending_hook = hook;
	if (hook && logger.queued > 0)
		hook(logger.fd);
}

/*
 * Length of the valid UTF-8 character at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF.
 */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Copy untrusted text into out (size >= 4 bytes) as valid UTF-8, NUL-terminated;
 * returns the length. Invalid bytes and NUL become '?', and so do the other
 * control characters (C0 but tab, DEL, C1) unless keep_controls (JSON escapes
 * them). Text that does not fit is cut at a character and ends with "…".
 */
static size_t put_safe(char *out, size_t size, const char *text, size_t len, bool cut, bool keep_controls)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t room = size - sizeof(ELLIPSIS);	/* an ellipsis and the NUL always fit */
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = utf8_char(s + i, len - i);
		bool control = n == 1 ? (s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f
				      : n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;

		if (n == 0 || s[i] == '\0' || (control && !keep_controls)) {
			if (o + 1 > room)
				break;
			out[o++] = '?';
			i += n ? n : 1;
			continue;
		}
		if (o + n > room)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	if (i < len || cut) {
		memcpy(out + o, ELLIPSIS, sizeof(ELLIPSIS) - 1);
		o += sizeof(ELLIPSIS) - 1;
	}
	out[o] = '\0';
	return o;
}

static void format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* Write without blocking; how much went, or -errno (-EAGAIN: nothing went). */
static ssize_t write_some(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && done == 0)
			return -errno;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static void enqueue(const char *buf, size_t len)
{
	bool was_empty = logger.queued == 0;

	if (!logger.queue)
		logger.queue = malloc(LOG_QUEUE_MAX);
	if (!logger.queue || logger.queued + len > LOG_QUEUE_MAX) {
		logger.dropped++;
		return;
	}
	memcpy(logger.queue + logger.queued, buf, len);
	logger.queued += len;
	if (was_empty && logger.pending_hook)
		logger.pending_hook(logger.fd);
}

/*
 * Best effort and never blocking: what the destination does not take waits
 * in the queue, behind what waits already; a full queue drops whole lines.
 * A log that cannot be written at all (EBADF, ENOSPC) has nowhere to report it.
 */
static void write_line(int fd, const char *buf, size_t len)
{
	ssize_t n = 0;

	if (logger.queued == 0) {
		n = write_some(fd, buf, len);
		if (n < 0 && n != -EAGAIN)
			return;
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return;
		/* The rest of a line begun must follow it (the queue is empty: it fits). */
		if (n > 0) {
			enqueue(buf + n, len - (size_t)n);
			return;
		}
	}
	if (logger.queued + len > LOG_QUEUE_MAX) {
		logger.dropped++;
		return;
	}
	enqueue(buf, len);
}

int log_flush(void)
{
	ssize_t n;

	if (logger.queued > 0) {
		n = write_some(logger.fd, logger.queue, logger.queued);
		if (n < 0 && n != -EAGAIN) {
			/* Gone for good (EPIPE, EBADF): nothing more will go there. */
			logger.dropped += 1;
			logger.queued = 0;
		} else if (n > 0) {
			memmove(logger.queue, logger.queue + n, logger.queued - (size_t)n);
			logger.queued -= (size_t)n;
		}
	}
	if (logger.queued == 0)
		report_drops();
	return logger.queued > 0;
}

/* Once the destination takes lines again: how many it missed, said once. */
static void report_drops(void)
{
	unsigned long long dropped = logger.dropped;

	if (dropped == 0)
		return;
	logger.dropped = 0;
	log_warning(NULL, NULL, "log: dropped %llu line%s: the log is not being read", dropped, dropped == 1 ? "" : "s");
}

static void emit_text(int fd, const struct entry *e)
{
	char line[LOG_LINE_MAX], ts[64];
	size_t n;

	format_time(ts, sizeof(ts));
	n = (size_t)snprintf(line, LOG_PREFIX_MAX, "%s mcpd[%d]: %s: %.64s%s", ts, (int)getpid(),
			     level_names[e->lvl], e->server ? e->server : "", e->server ? ": " : "");
	if (n >= LOG_PREFIX_MAX)
		n = LOG_PREFIX_MAX - 1;
	/* One byte short of the buffer: the '\n' replaces the NUL. */
	n += put_safe(line + n, sizeof(line) - n - 1, e->msg, e->len, e->cut, false);
	line[n++] = '\n';
	write_line(fd, line, n);
}

static void emit_json(int fd, const struct entry *e)
{
	char msg[LOG_LINE_MAX - LOG_PREFIX_MAX], ts[64];
	cJSON *o = cJSON_CreateObject();
	char *text;
	size_t n;

	format_time(ts, sizeof(ts));
	put_safe(msg, sizeof(msg), e->msg, e->len, e->cut, true);
	cJSON_AddStringToObject(o, "ts", ts);
	cJSON_AddStringToObject(o, "level", level_names[e->lvl]);
	if (e->server)
		cJSON_AddStringToObject(o, "server", e->server);
	if (e->state)
		cJSON_AddStringToObject(o, "state", e->state);
	if (e->child)
		cJSON_AddStringToObject(o, "stream", "stderr");
	cJSON_AddStringToObject(o, "msg", msg);
	for (size_t i = 0; i < e->nfields && i < LOG_MAX_FIELDS; i++) {
		const struct log_field *f = &e->fields[i];
		char value[LOG_FIELD_MAX];

		if (f->numeric) {
			cJSON_AddNumberToObject(o, f->key, f->number);
		} else if (f->value) {
			put_safe(value, sizeof(value), f->value, strlen(f->value), false, true);
			cJSON_AddStringToObject(o, f->key, value);
		}
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!text)
		return;
	/* The terminating NUL becomes the '\n': still one write. */
	n = strlen(text);
	text[n++] = '\n';
	write_line(fd, text, n);
	cJSON_free(text);
}

/* "MCPD_KEY=value\n" of a field, value made safe and cut (no newline can end it early). */
static size_t journal_field(char *buf, size_t size, const struct log_field *f)
{
	char key[40], value[LOG_FIELD_MAX];
	size_t i, n;
	int k;

	for (i = 0; f->key[i] && i + 1 < sizeof(key); i++)
		key[i] = (char)toupper((unsigned char)f->key[i]);
	key[i] = '\0';
	if (f->numeric) {
		k = snprintf(buf, size, "MCPD_%s=%g\n", key, f->number);
	} else if (!f->value) {
		k = 0;
	} else {
		n = put_safe(value, sizeof(value), f->value, strlen(f->value), false, false);
		k = snprintf(buf, size, "MCPD_%s=%.*s\n", key, (int)n, value);
	}
	return k < 0 ? 0 : (size_t)k < size ? (size_t)k : size;
}

/*
 * Structured fields for the journal, in its native protocol ("FIELD=value\n"
 * each; no value here holds a newline), as one datagram sent without
 * waiting: a stalled journald costs a dropped line, counted, never a
 * blocked loop. False when the journal would not take it at all.
 */
static bool emit_journal(const struct entry *e)
{
	char buf[LOG_LINE_MAX + 512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int k;

	if (logger.journal_fd < 0)
		logger.journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (logger.journal_fd < 0)
		return false;
	k = snprintf(buf, LOG_PREFIX_MAX, "MESSAGE=%.64s%s", e->server ? e->server : "", e->server ? ": " : "");
	n = (size_t)k + put_safe(buf + k, LOG_LINE_MAX - (size_t)k, e->msg, e->len, e->cut, false);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\nPRIORITY=%d\nSYSLOG_IDENTIFIER=mcpd\n",
			      level_priorities[e->lvl]);
	if (e->server)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "MCPD_SERVER=%.64s\n", e->server);
	if (e->state)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "MCPD_STATE=%.32s\n", e->state);
	if (e->child)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "MCPD_STREAM=stderr\n");
	for (size_t i = 0; i < e->nfields && i < LOG_MAX_FIELDS && n < sizeof(buf); i++)
		n += journal_field(buf + n, sizeof(buf) - n, &e->fields[i]);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", journal_socket);
	if (sendto(logger.journal_fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sa.sun_path) + 1)) >= 0) {
		report_drops();
		return true;
	}
	if (errno == EAGAIN || errno == ENOBUFS) {
		logger.dropped++;
		return true;
	}
	return false;
}

/* Callers may log between a failure and their look at errno: it is kept. */
static void emit(const struct entry *e)
{
	int saved = errno;

	if (!(logger.journal && emit_journal(e))) {
		if (logger.json)
			emit_json(logger.fd, e);
		else
			emit_text(logger.fd, e);
	}
	errno = saved;
}

/* An entry formatted from fmt, with its fields (none for log_msg). */
static void vlog(enum log_level lvl, const char *server, const char *state, const struct log_field *fields,
		 size_t nfields, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void vlog(enum log_level lvl, const char *server, const char *state, const struct log_field *fields,
		 size_t nfields, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	struct entry e = { .lvl = lvl > LOG_LVL_DEBUG ? LOG_LVL_DEBUG : lvl, .server = server, .state = state,
			   .fields = fields, .nfields = nfields };
	int n;

	int saved = errno;

	if (e.lvl == LOG_LVL_DEBUG && !logger.debug)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	errno = saved;
	if (n < 0) {
		snprintf(msg, sizeof(msg), "(a message could not be formatted)");
		n = (int)strlen(msg);
	}
	e.msg = msg;
	e.len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	e.cut = (size_t)n >= sizeof(msg);
	emit(&e);
}

void log_msg(enum log_level lvl, const char *server, const char *state, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, server, state, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_fields(enum log_level lvl, const char *server, const struct log_field *fields, size_t nfields,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, server, NULL, fields, nfields, fmt, ap);
	va_end(ap);
}

void log_child_line(const char *server, const char *line, size_t len)
{
	emit(&(struct entry){ .lvl = LOG_LVL_INFO, .server = server, .msg = line, .len = len, .child = true });
}
