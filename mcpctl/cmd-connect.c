/*
 * mcpctl connect [NAME] [--agent NAME] [--servers A,B]: a stdio MCP endpoint
 * for any MCP client, of one server, or without NAME of mcpd's aggregate
 * endpoint over every stdio server (or those of --servers); --agent: act as
 * that agent of the manifest's agents:. After mcpd
 * accepts the `connect` request, bytes are relayed both ways unchanged:
 * stdin -> mcpd -> the server, and back to stdout. Buffers are bounded; a
 * side whose buffer is full is not read until it drains (back-pressure).
 *
 * When stdin and stdout are both pipes or sockets (what an MCP client gives
 * its server), they are handed to mcpd with the request instead (SCM_RIGHTS,
 * "stdio": "passed"): mcpd reads and writes them itself, and mcpctl only
 * waits for the line that says how the session ended. Anything else (a
 * terminal, /dev/null, a file), or an mcpd that does not take them: the
 * copying relay below.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "xmalloc.h"

#define RELAY_BUF	(1024 * 1024)
#define PIPE_CHUNK	4096	/* at most PIPE_BUF per write to stdout: poll said it will not block */

/* mcpd's final line in the copying relay, {"end":REASON}, is at most this long. */
#define END_LINE_MAX	1024

struct pipebuf {
	char *data;
	size_t off, len;
	bool nl;	/* the last byte written out was a newline (or none was written): data[off] starts a line */
};

static bool buf_full(const struct pipebuf *b)
{
	return b->off + b->len >= RELAY_BUF;
}

/* Read what fd has into b; returns bytes, 0 at EOF, -1 on error (EAGAIN: 1 byte pretend). */
static ssize_t buf_read(struct pipebuf *b, int fd)
{
	ssize_t n;

	if (b->len == 0)
		b->off = 0;
	do
		n = read(fd, b->data + b->off + b->len, RELAY_BUF - b->off - b->len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

static int buf_write(struct pipebuf *b, int fd, size_t chunk)
{
	ssize_t n;

	do
		n = write(fd, b->data + b->off, b->len < chunk ? b->len : chunk);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n > 0)
		b->nl = b->data[b->off + (size_t)n - 1] == '\n';
	b->off += (size_t)n;
	b->len -= (size_t)n;
	if (b->len == 0)
		b->off = 0;
	return 0;
}

/* The reason in mcpd's final line (len bytes, its newline included), or NULL when it is not one. */
static char *end_reason(const char *line, size_t len)
{
	const char *parse_end = NULL;
	cJSON *msg;
	const char *end;
	char *reason = NULL;

	if (len < 2 || line[len - 1] != '\n')
		return NULL;
	msg = cJSON_ParseWithLengthOpts(line, len - 1, &parse_end, false);
	end = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "end"));
	/* Exactly {"end":STRING}: no MCP message has that shape. */
	if (end && cJSON_GetArraySize(msg) == 1 && parse_end == line + len - 1)
		reason = xstrdup(end);
	cJSON_Delete(msg);
	return reason;
}

/*
 * The bytes at the end of b that are, or may yet become, mcpd's final line
 * {"end":REASON}: a last line that starts so and is short, unfinished or
 * exactly that shape. They are held back until more comes (they were a
 * message's: written then) or the end. A whole line of another shape (a
 * message whose first member is "end") is never held: its client may be
 * waiting for it.
 */
static size_t end_tail(const struct pipebuf *b)
{
	static const char prefix[] = "{\"end\":";
	const char *data = b->data + b->off, *nl;
	size_t start, n;

	if (b->len == 0)
		return 0;
	nl = b->len > 1 ? memrchr(data, '\n', b->len - 1) : NULL;
	if (!nl && !b->nl)
		return 0;	/* the line began in what was written already */
	start = nl ? (size_t)(nl - data) + 1 : 0;
	n = b->len - start;
	if (n > END_LINE_MAX || memcmp(data + start, prefix, n < sizeof(prefix) - 1 ? n : sizeof(prefix) - 1) != 0)
		return 0;
	if (data[b->len - 1] == '\n') {
		char *reason = end_reason(data + start, n);

		if (!reason)
			return 0;
		free(reason);
	}
	return n;
}

/*
 * Bytes are written right after they are read, and poll waits for POLLOUT only
 * when a write was short: one poll per message each way, not two. Standard
 * output is made non-blocking for that when it is a pipe or a socket (what an
 * MCP client gives its server; its flags are restored at the end); anything
 * else (a terminal) is written PIPE_CHUNK at a time once poll said it may.
 * With end_line (mcpd said it sends one), mcpd's final {"end":REASON} line
 * is taken out of the stream and shown.
 */
static int relay(int sock, struct pipebuf *to_out, bool end_line)
{
	struct pipebuf to_sock = { .data = xmalloc(RELAY_BUF), .nl = true };
	bool in_eof = false, sock_eof = false, shut = false;
	size_t held = end_line ? end_tail(to_out) : 0;	/* to_out's last bytes, maybe the final line: not written yet */
	int status = EXIT_OK;
	int out_flags = fcntl(STDOUT_FILENO, F_GETFL);
	struct stat st;
	bool out_nonblock = out_flags >= 0 && !(out_flags & O_NONBLOCK) && fstat(STDOUT_FILENO, &st) == 0 &&
			    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
			    fcntl(STDOUT_FILENO, F_SETFL, out_flags | O_NONBLOCK) == 0;
	size_t out_chunk = out_nonblock ? RELAY_BUF : PIPE_CHUNK;

	for (;;) {
		if (held && to_out->len == held && to_out->off > 0) {
			/* Only the held bytes are left: to the front, so that the rest of their line has room. */
			memmove(to_out->data, to_out->data + to_out->off, held);
			to_out->off = 0;
		}
		struct pollfd pfd[3] = {
			{ .fd = in_eof || buf_full(&to_sock) ? -1 : STDIN_FILENO, .events = POLLIN },
			{ .fd = sock, .events = (sock_eof || buf_full(to_out) ? 0 : POLLIN) | (to_sock.len ? POLLOUT : 0) },
			{ .fd = to_out->len > held ? STDOUT_FILENO : -1, .events = POLLOUT },
		};

		if (sock_eof && held && to_out->len == held) {
			char *reason = end_reason(to_out->data + to_out->off, held);

			held = 0;	/* not the final line: a message's end, written out */
			if (reason) {
				if (strcmp(reason, "ok") != 0) {
					fprintf(stderr, "mcpctl: mcpd closed the connection: %s\n", reason);
					status = EXIT_FAIL;
				}
				free(reason);
				break;
			}
		}
		if (sock_eof && to_out->len == 0) {
			if (!in_eof) {
				fprintf(stderr, "mcpctl: mcpd closed the connection\n");
				status = EXIT_FAIL;
			}
			break;
		}
		if (in_eof && to_sock.len == 0 && !shut) {
			/* Our client is done: mcpd delivers what is still due, then closes. */
			shutdown(sock, SHUT_WR);
			shut = true;
		}
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mcpctl: poll: %s\n", strerror(errno));
			status = EXIT_FAIL;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = buf_read(&to_sock, STDIN_FILENO);

			if (n <= 0)
				in_eof = true;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = buf_read(to_out, sock);

			if (n <= 0)
				sock_eof = true;
			else if (end_line)
				held = end_tail(to_out);
		}
		/* The socket is non-blocking: what came is written at once, poll waits only for the rest. */
		if (to_sock.len && buf_write(&to_sock, sock, to_sock.len) < 0) {
			/* mcpd is gone: what it sent is still written out above. */
			to_sock.len = 0;
			in_eof = true;
		}
		if (to_out->len > held && (out_nonblock || (pfd[2].revents & (POLLOUT | POLLERR | POLLHUP))) &&
		    buf_write(to_out, STDOUT_FILENO, to_out->len - held < out_chunk ? to_out->len - held : out_chunk) < 0) {
			/* Our client stopped reading: nothing left to do. */
			status = EXIT_FAIL;
			break;
		}
	}
	if (out_nonblock)
		fcntl(STDOUT_FILENO, F_SETFL, out_flags);
	free(to_sock.data);
	return status;
}

/*
 * A descriptor of ours to hand over for fd (0 or 1, opened with mode), or -1:
 * a pipe is reopened through /proc (a new open file description, so the
 * O_NONBLOCK mcpd needs never reaches the pipe's other holders); a socket
 * cannot be, and goes as it is (mcpd restores its flags). -1 for anything
 * else, or when /proc is missing or a FIFO has no reader (ENXIO).
 */
static int handover_fd(int fd, int mode)
{
	struct stat st;
	char path[32];

	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISSOCK(st.st_mode))
		return fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (!S_ISFIFO(st.st_mode))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, mode | O_NONBLOCK | O_CLOEXEC);
}

/* Both of stdin and stdout to hand over (true), or neither (false: the copying relay). */
static bool handover_fds(int fds[2])
{
	fds[0] = handover_fd(STDIN_FILENO, O_RDONLY);
	fds[1] = fds[0] < 0 ? -1 : handover_fd(STDOUT_FILENO, O_WRONLY);
	if (fds[1] >= 0)
		return true;
	if (fds[0] >= 0)
		close(fds[0]);
	fds[0] = -1;
	return false;
}

/*
 * mcpd has the client's stdin and stdout: ours point at /dev/null (so the
 * client sees EOF once mcpd closes its copies), and the control socket brings
 * one line when the session ends: {"end":"ok"}, or {"end":REASON}. Exit
 * statuses as the copying relay's: 0 for ok, else 1 with the message.
 */
static int await_end(struct client *c)
{
	char *rest, buf[4096];
	size_t len;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int sock = client_detach(c, &rest, &len);
	const char *nl;
	int status = EXIT_FAIL;

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, rest, len);
	free(rest);
	while (!(nl = memchr(buf, '\n', len)) && len < sizeof(buf) - 1) {
		ssize_t n = read(sock, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(sock);
	if (nl) {
		cJSON *msg = cJSON_ParseWithLength(buf, (size_t)(nl - buf));
		const char *end = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "end"));

		if (end && strcmp(end, "ok") == 0)
			status = EXIT_OK;
		else
			fprintf(stderr, "mcpctl: mcpd closed the connection: %s\n", end ? end : "(an unreadable reason)");
		cJSON_Delete(msg);
	} else {
		fprintf(stderr, "mcpctl: mcpd closed the connection\n");
	}
	return status;
}

/* [NAME] [--agent NAME] [--servers a,b]: the connect request's params, NULL when the arguments are wrong. */
static cJSON *connect_args(int argc, char **argv)
{
	cJSON *params = cJSON_CreateObject();
	bool named = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if ((strcmp(arg, "--agent") == 0 || strcmp(arg, "--servers") == 0) && i + 1 < argc && argv[i + 1][0]) {
			const char *value = argv[++i];

			if (cJSON_GetObjectItemCaseSensitive(params, arg + 2))
				goto bad;
			if (strcmp(arg, "--agent") == 0) {
				cJSON_AddStringToObject(params, "agent", value);
			} else {
				cJSON *list = cJSON_AddArrayToObject(params, "servers");
				const char *p = value;

				while (*p) {
					size_t n = strcspn(p, ",");

					char *name;

					if (n == 0)
						goto bad;
					name = xstrndup(p, n);
					cJSON_AddItemToArray(list, cJSON_CreateString(name));
					free(name);
					p += n;
					if (*p == ',' && !*++p)
						goto bad;
				}
			}
		} else if (arg[0] != '-' && !named) {
			cJSON_AddStringToObject(params, "name", arg);
			named = true;
		} else {
			goto bad;
		}
	}
	if (named && cJSON_GetObjectItemCaseSensitive(params, "servers"))
		goto bad;
	return params;
bad:
	cJSON_Delete(params);
	return NULL;
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	struct pipebuf to_out = { .data = xmalloc(RELAY_BUF), .nl = true };
	struct client_error err = { 0 };
	struct client *c;
	cJSON *params, *result;
	char *rest;
	size_t restlen;
	int sock, status, fds[2], r;
	const char *stdio;
	bool handing, passed, end_line;

	params = connect_args(argc, argv);
	if (!params) {
		free(to_out.data);
		return cmd_usage(&cmd_connect);
	}
	signal(SIGPIPE, SIG_IGN);
	if (mcpctl_connect(ctl, &c) < 0) {
		cJSON_Delete(params);
		free(to_out.data);
		return EXIT_FAIL;
	}
	handing = handover_fds(fds);
	if (handing)
		cJSON_AddStringToObject(params, "stdio", "passed");
	cJSON_AddBoolToObject(params, "end", true);	/* copying: the reason mcpd ended the session, as the last line */
	r = handing ? client_call_fds(c, "connect", params, fds, 2, &result, &err) :
		      client_call(c, "connect", params, &result, &err);
	if (handing) {
		close(fds[0]);	/* mcpd has its own copies now, or none */
		close(fds[1]);
	}
	if (r < 0) {
		client_error_print(&err, stderr);
		client_error_clear(&err);
		client_close(c);
		free(to_out.data);
		return EXIT_FAIL;
	}
	stdio = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(result, "stdio"));
	passed = handing && stdio && strcmp(stdio, "passed") == 0;
	end_line = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "end"));
	cJSON_Delete(result);
	if (passed) {
		free(to_out.data);
		return await_end(c);
	}
	sock = client_detach(c, &rest, &restlen);
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
	/* Whatever came right after the reply is the server's first words. */
	if (restlen > RELAY_BUF)
		restlen = RELAY_BUF;
	memcpy(to_out.data, rest, restlen);
	to_out.len = restlen;
	free(rest);
	status = relay(sock, &to_out, end_line);
	close(sock);
	free(to_out.data);
	return status;
}

const struct cmd cmd_connect = {
	.name = "connect",
	.args = "[NAME] [--agent NAME] [--servers A,B]",
	.summary = "be a stdio MCP endpoint for a server, or for all (SERVER__TOOL)",
	.run = run,
};
