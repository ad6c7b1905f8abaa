#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "json-text.h"
#include "jsonw.h"
#include "manifest.h"
#include "paths.h"
#include "xmalloc.h"

#define READ_CHUNK	(64 * 1024)

struct client {
	int fd;
	char *path;
	unsigned long next_id;
	/* Bytes received and not yet taken as lines: buf[off .. off + len). */
	char *buf;
	size_t off, len, cap;
	size_t scanned;		/* of len, bytes known to hold no newline */
};

static volatile sig_atomic_t stop_signal;

static int fail(struct client_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct client_error *err, int r, const char *fmt, ...)
{
	va_list ap;

	err->code = 0;
	err->data = NULL;
	va_start(ap, fmt);
	if (vasprintf(&err->message, fmt, ap) < 0) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	va_end(ap);
	return r;
}

void client_error_print(const struct client_error *e, FILE *out)
{
	const cJSON *errors = cJSON_GetObjectItemCaseSensitive(e->data, "errors");
	const cJSON *it;

	fprintf(out, "mcpctl: %s\n", e->message ? e->message : "unknown error");
	cJSON_ArrayForEach(it, errors)
		if (cJSON_IsString(it))
			fprintf(out, "%s\n", it->valuestring);
}

void client_error_clear(struct client_error *e)
{
	free(e->message);
	cJSON_Delete(e->data);
	*e = (struct client_error){ 0 };
}

int client_connect(const char *path, struct client **ret, struct client_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* Bounds connect() too: a daemon whose listen backlog is full would block it. */
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_MS / 1000 };
	struct client *c;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, -ENAMETOOLONG, "control socket path is longer than the %zu bytes a Unix socket allows: %s",
			    sizeof(sa.sun_path) - 1, path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, -errno, "cannot create a socket: %s", strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		switch (-r) {
		case ENOENT:
		case ECONNREFUSED: {
			struct stat st;

			/* connect() says "Connection refused" for a directory or a plain file too. */
			if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
				return fail(err, -ENOTSOCK, "cannot reach mcpd at %s: it is %s, not a socket (-s takes the socket's path)",
					    path, S_ISDIR(st.st_mode) ? "a directory" : "a file");
			return fail(err, r, "cannot reach mcpd at %s: %s (is mcpd running? see -s)", path, strerror(-r));
		}
		case EACCES:
		case EPERM:
			return fail(err, r, "cannot reach mcpd at %s: %s (run mcpctl as root, as mcpd's user or in the socket's group)",
				    path, strerror(-r));
		case EAGAIN:
			return fail(err, r, "mcpd at %s did not accept the connection within %ds", path,
				    CLIENT_TIMEOUT_MS / 1000);
		default:
			return fail(err, r, "cannot reach mcpd at %s: %s", path, strerror(-r));
		}
	}
	/* Whoever listens there gets our requests: it must be root, us, or the owner of a directory only root could make. */
	{
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			r = -errno;
			close(fd);
			return fail(err, r, "cannot learn who serves %s: %s", path, strerror(-r));
		}
		if (!control_peer_trusted(path, cred.uid, getuid())) {
			close(fd);
			return fail(err, -EPERM,
				    "refusing to talk to %s: it is served by uid %u (pid %d), not by root or by you (uid %u); "
				    "another user may have created its directory: check it, or use -s",
				    path, (unsigned)cred.uid, (int)cred.pid, (unsigned)getuid());
		}
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->path = xstrdup(path);
	*ret = c;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c->buf);
	free(c);
}

int client_detach(struct client *c, char **ret_buf, size_t *ret_len)
{
	int fd = c->fd;

	*ret_len = c->len;
	*ret_buf = xmalloc(c->len + 1);
	memcpy(*ret_buf, c->buf + c->off, c->len);
	c->fd = -1;
	client_close(c);
	return fd;
}

/* The first bytes of a request, with nfds descriptors attached (SCM_RIGHTS). */
static ssize_t send_fds(int fd, const char *p, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * CLIENT_MAX_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
			     .msg_controllen = CMSG_SPACE(sizeof(int) * nfds) };
	struct cmsghdr *cm;

	memset(&cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static int send_all(struct client *c, const char *p, size_t len, const int *fds, size_t nfds,
		    struct client_error *err)
{
	while (len > 0) {
		/* MSG_NOSIGNAL: a daemon that went away is an error to report, not a SIGPIPE. */
		ssize_t n = nfds ? send_fds(c->fd, p, len, fds, nfds) : send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return fail(err, -ETIMEDOUT, "mcpd at %s did not read the request within %ds", c->path,
				    CLIENT_TIMEOUT_MS / 1000);
		if (n < 0)
			return fail(err, -errno, "lost the connection to mcpd at %s: %s", c->path, strerror(errno));
		p += n;
		len -= (size_t)n;
		nfds = 0;	/* sent with the first bytes */
	}
	return 0;
}

/* The next complete line in the buffer: 1 and the line (without '\n'), 0 when none yet, or -EMSGSIZE. */
static int take_line(struct client *c, char **ret_line, size_t *ret_len)
{
	char *start, *nl;

	if (c->len == 0) {	/* and maybe no buffer yet: NULL + 0 is undefined */
		c->scanned = 0;
		return 0;
	}
	start = c->buf + c->off;
	nl = memchr(start + c->scanned, '\n', c->len - c->scanned);
	if (!nl) {
		c->scanned = c->len;
		return c->len > CLIENT_MAX_REPLY ? -EMSGSIZE : 0;
	}
	*ret_line = start;
	*ret_len = (size_t)(nl - start);
	c->off += *ret_len + 1;
	c->len -= *ret_len + 1;
	c->scanned = 0;
	return 1;
}

/*
 * Read more into the buffer once the socket is readable. timeout_ms < 0
 * waits for ever; mask, when not NULL, is the signal mask while waiting
 * (follow mode lets SIGINT and SIGTERM through only there). Returns the
 * bytes read, 0 at EOF, -ETIMEDOUT, -EINTR or another negative errno.
 */
static ssize_t fill(struct client *c, int timeout_ms, const sigset_t *mask)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct timespec ts = { .tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000 };
	ssize_t n;
	int r;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len);
		c->off = 0;
	}
	/* take_line refuses a line beyond CLIENT_MAX_REPLY, so this bound always leaves room. */
	if (c->cap - c->len < READ_CHUNK) {
		c->cap = c->cap ? c->cap * 2 : READ_CHUNK;
		if (c->cap > CLIENT_MAX_REPLY + READ_CHUNK + 1)
			c->cap = CLIENT_MAX_REPLY + READ_CHUNK + 1;
		c->buf = xrealloc(c->buf, c->cap);
	}
	do
		r = ppoll(&pfd, 1, timeout_ms < 0 ? NULL : &ts, mask);
	while (r < 0 && errno == EINTR && !mask);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	c->len += (size_t)n;
	return n;
}

/*
 * The next line from mcpd (without its '\n', in c's buffer until the next
 * read). Returns 1 and the line, 0 at EOF, -EINTR when a signal let through
 * by mask arrived, or a negative errno with err filled.
 */
static int next_line(struct client *c, int timeout_ms, const sigset_t *mask, char **ret_line, size_t *ret_len,
		     struct client_error *err)
{
	ssize_t n;
	int r;

	while ((r = take_line(c, ret_line, ret_len)) == 0) {
		n = fill(c, timeout_ms, mask);
		if (n == 0)
			return 0;
		if (n == -EINTR && mask)
			return -EINTR;
		if (n == -ETIMEDOUT)
			return fail(err, -ETIMEDOUT, "mcpd at %s did not answer within %ds", c->path,
				    CLIENT_TIMEOUT_MS / 1000);
		if (n < 0)
			return fail(err, (int)n, "lost the connection to mcpd at %s: %s", c->path, strerror((int)-n));
	}
	if (r < 0)
		return fail(err, r, "mcpd at %s sent a line longer than %d MiB", c->path, CLIENT_MAX_REPLY >> 20);
	return 1;
}

static int parse_message(struct client *c, const char *line, size_t len, cJSON **ret, struct client_error *err)
{
	*ret = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(*ret)) {
		cJSON_Delete(*ret);
		return fail(err, -EBADMSG, "mcpd at %s sent a line that is not a JSON-RPC message", c->path);
	}
	return 1;
}

/* The next message from mcpd, parsed: as next_line, with the message in *ret. */
static int next_message(struct client *c, int timeout_ms, const sigset_t *mask, cJSON **ret,
			struct client_error *err)
{
	char *line = NULL;
	size_t len = 0;
	int r = next_line(c, timeout_ms, mask, &line, &len, err);

	return r > 0 ? parse_message(c, line, len, ret, err) : r;
}

/* Take mcpd's error object apart into err. */
static int remote_error(const cJSON *e, struct client_error *err)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(e, "message");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");

	err->code = cJSON_IsNumber(code) ? code->valueint : 0;
	err->message = xstrdup(cJSON_IsString(message) ? message->valuestring : "mcpd answered with an error");
	err->data = data ? cJSON_Duplicate(data, true) : NULL;
	return -EREMOTEIO;
}

static int send_request(struct client *c, unsigned long id, const char *method, cJSON *params, const int *fds,
			size_t nfds, struct client_error *err)
{
	cJSON *req = cJSON_CreateObject();
	char *text, *line;
	int r;

	cJSON_AddStringToObject(req, "jsonrpc", "2.0");
	cJSON_AddNumberToObject(req, "id", (double)id);
	cJSON_AddStringToObject(req, "method", method);
	if (params)
		cJSON_AddItemToObject(req, "params", params);
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!text) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	xasprintf(&line, "%s\n", text);
	cJSON_free(text);
	r = send_all(c, line, strlen(line), fds, nfds, err);
	free(line);
	/* mcpd refuses a peer by writing one error and closing: read it rather than report the broken pipe. */
	if (r == -EPIPE || r == -ECONNRESET)
		client_error_clear(err);
	else if (r < 0)
		return r;
	return 0;
}

/* The result's text when line is our answer (id, result, no error), without parsing it into a tree. */
static bool result_text(const char *line, size_t len, unsigned long id, const char **ret_start, const char **ret_end)
{
	static const char *const keys[] = { "id", "result", "error" };
	const char *start[3], *stop[3];
	char idbuf[32];

	if (!json_text_members(line, line + len, keys, 3, start, stop) || !start[0] || !start[1] || start[2])
		return false;
	snprintf(idbuf, sizeof(idbuf), "%lu", id);
	if ((size_t)(stop[0] - start[0]) != strlen(idbuf) || memcmp(start[0], idbuf, strlen(idbuf)) != 0)
		return false;
	*ret_start = start[1];
	*ret_end = stop[1];
	return true;
}

/* A result result_text did not take (text cJSON parses but JSON's grammar refuses): printed back from the tree. */
static void result_to_text(const cJSON *result, char **ret_text, size_t *ret_len)
{
	struct jsonw w;

	jsonw_init(&w);
	jsonw_value(&w, result);
	*ret_text = jsonw_take(&w, ret_len);
}

/*
 * Wait for the answer to request id: its result as a tree in *ret_result, or,
 * with ret_text, as its text (malloc'd) when the answer is a result.
 */
static int await_answer(struct client *c, unsigned long id, cJSON **ret_result, char **ret_text, size_t *ret_len,
			struct client_error *err)
{
	char *line = NULL;
	size_t len = 0;
	cJSON *msg;
	int r;

	while ((r = next_line(c, CLIENT_TIMEOUT_MS, NULL, &line, &len, err)) > 0) {
		const cJSON *rid, *e;
		const char *start, *stop;

		if (ret_text && result_text(line, len, id, &start, &stop)) {
			*ret_len = (size_t)(stop - start);
			*ret_text = xmalloc(*ret_len + 1);
			memcpy(*ret_text, start, *ret_len);
			(*ret_text)[*ret_len] = '\0';
			return 0;
		}
		if ((r = parse_message(c, line, len, &msg, err)) < 0)
			return r;
		rid = cJSON_GetObjectItemCaseSensitive(msg, "id");
		e = cJSON_GetObjectItemCaseSensitive(msg, "error");
		/* A null id answers a request mcpd could not read: with one request in flight, it is ours. */
		if ((cJSON_IsNumber(rid) && rid->valuedouble == (double)id) || (cJSON_IsNull(rid) && e)) {
			if (e)
				r = remote_error(e, err);
			else if (ret_text && cJSON_GetObjectItemCaseSensitive(msg, "result"))
				result_to_text(cJSON_GetObjectItemCaseSensitive(msg, "result"), ret_text, ret_len);
			else if (cJSON_GetObjectItemCaseSensitive(msg, "result"))
				*ret_result = cJSON_DetachItemFromObjectCaseSensitive(msg, "result");
			else
				r = fail(err, -EBADMSG, "mcpd at %s sent a response with neither result nor error",
					 c->path);
			cJSON_Delete(msg);
			return r < 0 ? r : 0;
		}
		/* Anything else (a notification) is not an answer: skip it. */
		cJSON_Delete(msg);
	}
	if (r == 0)
		return fail(err, -ECONNRESET, "mcpd at %s closed the connection without answering", c->path);
	return r;
}

int client_call(struct client *c, const char *method, cJSON *params, cJSON **ret_result,
		struct client_error *err)
{
	return client_call_fds(c, method, params, NULL, 0, ret_result, err);
}

int client_call_fds(struct client *c, const char *method, cJSON *params, const int *fds, size_t nfds,
		    cJSON **ret_result, struct client_error *err)
{
	unsigned long id = ++c->next_id;
	int r;

	if (nfds > CLIENT_MAX_FDS) {
		cJSON_Delete(params);
		return fail(err, -EINVAL, "at most %d descriptors go with a request", CLIENT_MAX_FDS);
	}
	r = send_request(c, id, method, params, fds, nfds, err);
	return r < 0 ? r : await_answer(c, id, ret_result, NULL, NULL, err);
}

int client_call_text(struct client *c, const char *method, cJSON *params, char **ret_text, size_t *ret_len,
		     struct client_error *err)
{
	unsigned long id = ++c->next_id;
	int r = send_request(c, id, method, params, NULL, 0, err);

	return r < 0 ? r : await_answer(c, id, NULL, ret_text, ret_len, err);
}

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

/* Catch sig unless it is ignored (nohup, a background job of a script): that choice is not ours. */
static void catch_stop_signal(int sig, struct sigaction *old)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, NULL, old);
	if (old->sa_handler != SIG_IGN)
		sigaction(sig, &sa, NULL);
}

int client_follow(struct client *c, client_notify_fn fn, void *userdata, struct client_error *err)
{
	struct sigaction old_int, old_term;
	sigset_t stops, old_mask, wait_mask;
	cJSON *msg;
	int r;

	/*
	 * SIGINT and SIGTERM are blocked except inside ppoll(), so one cannot
	 * slip in between a check and the wait and leave us waiting for ever.
	 */
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &old_mask);
	wait_mask = old_mask;
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	catch_stop_signal(SIGINT, &old_int);
	catch_stop_signal(SIGTERM, &old_term);
	stop_signal = 0;

	for (;;) {
		const cJSON *method;

		r = next_message(c, -1, &wait_mask, &msg, err);
		if (r == -EINTR && !stop_signal)
			continue;
		if (r == -EINTR)
			r = 0;
		if (r <= 0)
			break;
		method = cJSON_GetObjectItemCaseSensitive(msg, "method");
		if (cJSON_IsString(method) && !cJSON_GetObjectItemCaseSensitive(msg, "id"))
			r = fn(method->valuestring, cJSON_GetObjectItemCaseSensitive(msg, "params"), userdata);
		cJSON_Delete(msg);
		if (r < 0)
			break;
	}

	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return r;
}

/* The socket ctl names; -c's manifest is read only for mcpd.control. */
static int socket_path(const struct mcpctl *ctl, char **ret)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;
	int r;

	if (ctl->config && manifest_load(ctl->config, MANIFEST_LENIENT_ENV, &m, &errs) < 0) {
		manifest_errors_print(&errs, stderr);
		fprintf(stderr, "mcpctl: cannot learn the control socket from %s; fix it or use -s\n", ctl->config);
		manifest_errors_clear(&errs);
		return -EINVAL;
	}
	r = control_socket_resolve(ctl->socket, m ? m->mcpd.control : NULL, ret);
	if (r < 0)
		fprintf(stderr, "mcpctl: the control socket path is longer than the %zu bytes a Unix socket allows; see -s\n",
			CONTROL_SOCKET_PATH_MAX);
	manifest_free(m);
	manifest_errors_clear(&errs);
	return r;
}

int mcpctl_connect(const struct mcpctl *ctl, struct client **ret)
{
	struct client_error err = { 0 };
	char *path;
	int r;

	r = socket_path(ctl, &path);
	if (r < 0)
		return r;
	r = client_connect(path, ret, &err);
	if (r < 0)
		client_error_print(&err, stderr);
	client_error_clear(&err);
	free(path);
	return r;
}

/* One request on a connection of its own, its result as a tree (ret_result) or as text (ret_text). */
static int call(const struct mcpctl *ctl, const char *method, cJSON *params, cJSON **ret_result, char **ret_text,
		size_t *ret_len)
{
	struct client_error err = { 0 };
	struct client *c;
	int r;

	r = mcpctl_connect(ctl, &c);
	if (r < 0) {
		cJSON_Delete(params);
		return r;
	}
	if (ret_text)
		r = client_call_text(c, method, params, ret_text, ret_len, &err);
	else
		r = client_call(c, method, params, ret_result, &err);
	if (r < 0)
		client_error_print(&err, stderr);
	client_error_clear(&err);
	client_close(c);
	return r;
}

int mcpctl_call(const struct mcpctl *ctl, const char *method, cJSON *params, cJSON **ret_result)
{
	return call(ctl, method, params, ret_result, NULL, NULL);
}

int mcpctl_call_text(const struct mcpctl *ctl, const char *method, cJSON *params, char **ret_text, size_t *ret_len)
{
	return call(ctl, method, params, NULL, ret_text, ret_len);
}
