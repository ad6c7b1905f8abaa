/*
 * mcpd's own log: text lines on stderr or a file, JSON lines when asked, or
 * structured entries (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=mcpd, MCPD_SERVER,
 * MCPD_STATE) when stderr is the journal's stream, whatever the format: the
 * journal is structured already. One write() per line.
 *
 * Writes never block: the file and a pipe or terminal on stderr are written
 * O_NONBLOCK, journal entries are datagrams sent with MSG_DONTWAIT; what the destination does not take at once waits in a bounded
 * queue (LOG_QUEUE_MAX) that the event loop flushes when the fd is writable.
 * Lines beyond the queue are dropped and counted, and the count is logged
 * once the queue has drained ("log: dropped 1234 lines: the log is not being
 * read").
 */
#ifndef MCPD_LOG_H
#define MCPD_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"

enum log_level {
	LOG_LVL_ERR,
	LOG_LVL_WARNING,
	LOG_LVL_NOTICE,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Longest line written, prefix included; a longer message is cut and ends with "…". */
#define LOG_LINE_MAX 8192

/* Bytes of log lines that wait for a slow or stalled destination. */
#define LOG_QUEUE_MAX (256 * 1024)

/* The format, and whether debug messages are written (they are dropped otherwise). */
void log_setup(enum log_format fmt, int min_level_debug);

/*
 * Where the log goes: a file opened for appending (and created, mode 0640;
 * never through a symbolic link), or stderr when path is NULL. On failure the
 * previous destination stays and -errno is returned. Called again on SIGUSR1
 * to follow a rotated file.
 */
int log_open_file(const char *path);

/*
 * Called with the destination's fd when lines start waiting in the queue:
 * the caller watches fd for writing and then calls log_flush().
 */
void log_set_pending_hook(void (*hook)(int fd));

/* Write what waits, without blocking: 1 when lines still wait, 0 when none do. */
int log_flush(void);

/* Where journald's native socket is (tests only; default /run/systemd/journal/socket). */
void log_set_journal_socket(const char *path);

/* server and state may be NULL; state is a structured field (JSON, journal), not in text lines. */
void log_msg(enum log_level lvl, const char *server, const char *state, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A structured field of a line: in JSON lines a key of its own (a number when
 * numeric), in the journal MCPD_KEY (upper case). Text lines carry only the
 * message, which should say the same in words.
 */
struct log_field {
	const char *key;		/* lower case letters and '_' */
	const char *value;		/* NULL: the field is left out */
	double number;			/* when numeric */
	bool numeric;
};

/* log_msg with fields (at most LOG_MAX_FIELDS are written). */
#define LOG_MAX_FIELDS 16
void log_fields(enum log_level lvl, const char *server, const struct log_field *fields, size_t nfields,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_error(server, state, ...)	log_msg(LOG_LVL_ERR, server, state, __VA_ARGS__)
#define log_warning(server, state, ...)	log_msg(LOG_LVL_WARNING, server, state, __VA_ARGS__)
#define log_notice(server, state, ...)	log_msg(LOG_LVL_NOTICE, server, state, __VA_ARGS__)
#define log_info(server, state, ...)	log_msg(LOG_LVL_INFO, server, state, __VA_ARGS__)
#define log_debug(server, state, ...)	log_msg(LOG_LVL_DEBUG, server, state, __VA_ARGS__)

/*
 * A line of a child's stderr, logged as "NAME: line" at info level. Control
 * characters (other than tab) and invalid UTF-8 become '?' in text, so a child
 * can neither forge log lines nor send terminal escapes.
 */
void log_child_line(const char *server, const char *line, size_t len);

#endif
