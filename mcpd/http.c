/*
 * The HTTP endpoint: see http.h.
 *
 * No thread of MHD's own: MHD runs in external-polling mode with epoll, its
 * epoll descriptor is an ev_io on mcpd's loop, and MHD_run() is called only
 * from that watcher and from a timer for MHD's own timeouts. So every access
 * handler below runs on the loop thread and reads the supervisor's state
 * synchronously, with nothing to lock; in return a handler must never block.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "gateway.h"
#include "history.h"
#include "http.h"
#include "jsonw.h"
#include "log.h"
#include "metrics.h"
#include "mhd-dl.h"
#include "replicas.h"
#include "server.h"
#include "status.h"
#include "xmalloc.h"

/* One TCP connection, from MHD's "started" to its "closed": for shedding slow ones. */
struct conn {
	int fd;
	char addr[INET6_ADDRSTRLEN];
	double opened;
	unsigned busy;		/* requests past their headers and not completed */
	bool shed;		/* shut down by us: MHD sees EOF and closes it */
	struct conn *prev, *next;
};

struct http {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	struct gateway *gateway;
	ev_io io_w;
	ev_timer timer_w;
	struct conn *conns;	/* oldest first */
	size_t nconns;		/* not shed */
	unsigned long shed;	/* since the last summary */
	/* libmicrohttpd's messages: a few per interval, the rest counted. */
	double log_window;
	unsigned log_lines;
	unsigned long log_suppressed;
	ev_timer summary_w;
};

/* One request, from its first access-handler call to MHD's "completed". */
struct request {
	struct conn *conn;	/* its connection, marked busy until completed */
	bool is_gateway;	/* /mcp/NAME: the gateway handles it and logs it */
	void *gateway;		/* the gateway's own request context */
	double started;		/* ev_time() */
	unsigned status;	/* the status queued, 0 when none was */
	bool not_found;		/* a body to a path without an endpoint: read (bounded), then a JSON 404 */
	size_t discarded;
	char method[16];	/* for the access log, control characters replaced */
	char path[128];
};

static const char TEXT[] = "text/plain; charset=utf-8";

/* MHD hands over the decoded path: a "%0a" must not start a forged log line. */
static void copy_printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

/* Queue body (malloc'd, freed by MHD) with status. */
/* body is given back with release(body) once sent (or not sent). */
static enum MHD_Result respond_with(struct request *req, struct MHD_Connection *conn, unsigned status,
				    const char *type, char *body, size_t len, void (*release)(void *body))
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, release);
	enum MHD_Result ret;

	if (!r) {
		release(body);
		return MHD_NO;	/* MHD closes the connection */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		req->status = status;
	return ret;
}

static enum MHD_Result respond(struct request *req, struct MHD_Connection *conn, unsigned status, const char *type,
			       char *body, size_t len)
{
	return respond_with(req, conn, status, type, body, len, free);
}

static enum MHD_Result text(struct request *req, struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return respond(req, conn, status, TEXT, xstrdup(msg), strlen(msg));
}

/*
 * Ready when every critical server that is wanted is running. Non-critical
 * servers never affect readiness, and neither does a critical server that an
 * operator stopped (it is not wanted). The body names each one in the way,
 * as "NAME: STATE: REASON".
 */
static enum MHD_Result readyz(struct http *h, struct request *req, struct MHD_Connection *conn)
{
	char *body = xstrdup(""), *next;
	bool ready = true;

	for (size_t i = 0; i < h->d->nservers; i++) {
		const struct server *s = h->d->servers[i];
		char reason[320];

		if (!s->conf.critical || !s->wanted || s->state == ST_RUNNING || replica_covered(s))
			continue;	/* a replica that is down while another of its entry runs: degraded, still ready */
		ready = false;
		server_reason(s, reason, sizeof(reason));
		xasprintf(&next, "%s%s: %s%s%s\n", body, s->conf.name, server_state_name(s->state), *reason ? ": " : "",
			  reason);
		free(body);
		body = next;
	}
	if (ready) {
		free(body);
		return text(req, conn, MHD_HTTP_OK, "ok\n");
	}
	return respond(req, conn, MHD_HTTP_SERVICE_UNAVAILABLE, TEXT, body, strlen(body));
}

/* Always 200: the body says how healthy mcpd is (the full status, as `mcpctl --json status` shows it). */
static enum MHD_Result health(struct http *h, struct request *req, struct MHD_Connection *conn)
{
	struct jsonw w;
	size_t len;
	char *body;

	jsonw_init(&w);
	status_write(h->d, h->d->servers, h->d->nservers, false, &w);
	body = jsonw_take(&w, &len);
	return respond(req, conn, MHD_HTTP_OK, "application/json", body, len);
}

static enum MHD_Result metrics(struct http *h, struct request *req, struct MHD_Connection *conn)
{
	size_t len;
	char *body = metrics_render(h->d, &len);

	/* Sent from metrics.c's buffer as it is (no copy), and given back to it. */
	return respond_with(req, conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
			    metrics_release);
}

/* RFC 9728, for MCP clients that look for how to get a token: only with gateway.jwt. */
static enum MHD_Result protected_resource(struct http *h, struct request *req, struct MHD_Connection *conn)
{
	char *body = gateway_resource_metadata(h->gateway);

	if (!body)
		return text(req, conn, MHD_HTTP_NOT_FOUND, "not found: the gateway has no jwt (mcpd.gateway.jwt)\n");
	return respond(req, conn, MHD_HTTP_OK, "application/json", body, strlen(body));
}

static const struct route {
	const char *path;
	enum MHD_Result (*handler)(struct http *h, struct request *req, struct MHD_Connection *conn);
} routes[] = {
	{ "/livez", NULL },	/* the loop runs, or this would not answer */
	{ "/readyz", readyz },
	{ "/health", health },
	{ "/metrics", metrics },
	{ "/.well-known/oauth-protected-resource", protected_resource },
};

/* Content-Length other than 0, or chunked: MHD would hand us a body. */
static bool has_body(struct MHD_Connection *conn)
{
	const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len && strspn(len, "0") != strlen(len)) ||
	       MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* A POST's body to a path that is not an endpoint: read and dropped, up to this much. */
#define NOT_FOUND_BODY	(64 * 1024)

/*
 * A POST (an MCP client, most likely) to a path that is not /mcp/NAME gets a
 * JSON-RPC error that says where the endpoints are, after its body was read:
 * answered before, MHD would close the connection under the client's feet.
 */
static enum MHD_Result not_found_json(struct request *req, struct MHD_Connection *conn)
{
	static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":"
				   "\"no MCP endpoint here: the gateway serves /mcp/NAME for each stdio server NAME, "
				   "and /mcp for all of them\"}}";

	return respond(req, conn, MHD_HTTP_NOT_FOUND, "application/json", xstrdup(body), strlen(body));
}

static bool is_route(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			return true;
	return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http *h = cls;
	struct request *req = *con_cls;
	const union MHD_ConnectionInfo *ci;

	if (req && req->is_gateway)
		return gateway_request(h->gateway, conn, url, method, upload_data, upload_data_size, &req->gateway);
	if (req && req->not_found) {
		if (*upload_data_size == 0)
			return not_found_json(req, conn);
		req->discarded += *upload_data_size;
		*upload_data_size = 0;
		return req->discarded > NOT_FOUND_BODY ? MHD_NO : MHD_YES;
	}
	if (req) {
		/* Answered in the first call; a body it did not announce is a broken client. */
		if (*upload_data_size > 0)
			return MHD_NO;
		return MHD_YES;
	}
	req = xcalloc(1, sizeof(*req));
	req->started = ev_time();
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	req->conn = ci ? ci->socket_context : NULL;
	if (req->conn)
		req->conn->busy++;
	req->is_gateway = strncmp(url, "/mcp/", 5) == 0 || strcmp(url, "/mcp") == 0;	/* /mcp: the aggregate */
	copy_printable(req->method, sizeof(req->method), method);
	copy_printable(req->path, sizeof(req->path), url);
	*con_cls = req;
	if (req->is_gateway)
		return gateway_request(h->gateway, conn, url, method, upload_data, upload_data_size, &req->gateway);

	/*
	 * Answered at once, from the headers: MHD (0.9.75) accepts a response
	 * only before a body is read, so a body is refused before it is read.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_POST) == 0 && !is_route(url)) {
		const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if (!has_body(conn) || (len && strtoull(len, NULL, 10) > NOT_FOUND_BODY))
			return not_found_json(req, conn);
		req->not_found = true;
		return MHD_YES;
	}
	if (has_body(conn))
		return text(req, conn, MHD_HTTP_CONTENT_TOO_LARGE, "these endpoints take no request body\n");
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(url, routes[i].path) != 0)
			continue;
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return text(req, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		/* HEAD: MHD sends the headers of the GET answer and drops its body. */
		if (!routes[i].handler)
			return text(req, conn, MHD_HTTP_OK, "ok\n");
		return routes[i].handler(h, req, conn);
	}
	return text(req, conn, MHD_HTTP_NOT_FOUND, "not found: try /livez, /readyz, /health or /metrics\n");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;
	struct request *req = *con_cls;

	if (!req)
		return;
	if (req->conn)
		req->conn->busy--;
	if (req->is_gateway) {
		gateway_request_done(h->gateway, req->gateway);
	} else if (req->status) {
		log_debug(NULL, NULL, "http: %s %s %u %.1fms", req->method, req->path, req->status,
			  (ev_time() - req->started) * 1000.);
	} else {
		log_debug(NULL, NULL, "http: %s %s - %.1fms (no answer: %s)", req->method, req->path,
			  (ev_time() - req->started) * 1000.,
			  toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timed out" : "connection closed");
	}
	free(req);
	*con_cls = NULL;
}

/* MHD works, then says when it wants to work again for its own timeouts. */
static void run(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(h->mhd);
	ev_timer_stop(h->d->loop, &h->timer_w);
	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
		ev_timer_set(&h->timer_w, (double)ms / 1000., 0.);
		ev_timer_start(h->d->loop, &h->timer_w);
	}
}

/* The gateway resumed a suspended request: let MHD send its answer. */
static void run_again(void *arg)
{
	run(arg);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	run(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	run(w->data);
}

static void summary_start(struct http *h)
{
	if (!ev_is_active(&h->summary_w))
		ev_timer_again(h->d->loop, &h->summary_w);
}

static void on_summary(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http *h = w->data;

	if (h->log_suppressed)
		log_warning(NULL, NULL, "http: suppressed %lu libmicrohttpd messages in the last %.0fs", h->log_suppressed,
			    HTTP_LOG_SECONDS);
	if (h->shed)
		log_warning(NULL, NULL, "http: closed %lu connections without a request in progress in the last %.0fs "
			    "to make room (%d per address, %d in all)", h->shed, HTTP_LOG_SECONDS, HTTP_MAX_PER_IP,
			    HTTP_SHED_AT);
	if (!h->log_suppressed && !h->shed)
		ev_timer_stop(loop, w);
	h->log_suppressed = h->shed = 0;
}

/* A few lines per interval: a connection flood must not become a log flood. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http *h = cls;
	double now = ev_time();
	char buf[256];

	if (now - h->log_window >= HTTP_LOG_SECONDS) {
		h->log_window = now;
		h->log_lines = 0;
	}
	if (h->log_lines++ >= HTTP_LOG_BURST) {
		h->log_suppressed++;
		summary_start(h);
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_warning(NULL, NULL, "http: %s", buf);
}

/* The oldest connection (of addr, or of anyone) with no request in progress, but not c. */
static struct conn *oldest_idle(struct http *h, const char *addr, const struct conn *c)
{
	for (struct conn *it = h->conns; it; it = it->next)
		if (it != c && !it->busy && !it->shed && (!addr || strcmp(it->addr, addr) == 0))
			return it;
	return NULL;
}

static void shed(struct http *h, struct conn *c)
{
	c->shed = true;
	h->nconns--;
	h->shed++;
	summary_start(h);
	shutdown(c->fd, SHUT_RDWR);
}

/*
 * Slow clients (slowloris: headers that never end) must not lock others out:
 * past the limit per address, or near the limit in all, the oldest connection
 * that has no request in progress is shut down; the new one if there is none.
 */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http *h = cls;
	struct conn *c = *socket_context, *victim;
	size_t same = 0;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!c)
			return;
		if (c->prev)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		if (!c->shed)
			h->nconns--;
		free(c);
		*socket_context = NULL;
		return;
	}
	c = xcalloc(1, sizeof(*c));
	*socket_context = c;
	c->opened = ev_time();
	{
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = ad ? ad->client_addr : NULL;

		c->fd = fd ? fd->connect_fd : -1;
		if (sa && sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, c->addr, sizeof(c->addr));
		else if (sa && sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, c->addr,
				  sizeof(c->addr));
	}
	/* Newest last. */
	if (h->conns) {
		struct conn *last = h->conns;

		while (last->next)
			last = last->next;
		last->next = c;
		c->prev = last;
	} else {
		h->conns = c;
	}
	h->nconns++;
	if (c->fd < 0)
		return;
	for (struct conn *it = h->conns; it; it = it->next)
		if (!it->shed && strcmp(it->addr, c->addr) == 0)
			same++;
	if (same > HTTP_MAX_PER_IP) {
		victim = oldest_idle(h, c->addr, c);
		shed(h, victim ? victim : c);
	}
	if (!c->shed && h->nconns > HTTP_SHED_AT) {
		victim = oldest_idle(h, NULL, c);
		shed(h, victim ? victim : c);
	}
}

/*
 * Our own listening socket, so that the address is exactly the one in the
 * manifest. Numeric only: a DNS lookup would block the loop.
 */
static int listen_socket(const char *host, unsigned port, const char *where, bool *ret_ipv6, char **ret_error)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
	};
	struct addrinfo *ai;
	char service[8];
	int fd, r, one = 1;

	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &ai);
	if (r != 0) {
		xasprintf(ret_error, "cannot listen on %s: %s (give an IP address or localhost)", where,
			  r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		xasprintf(ret_error, "cannot listen on %s: %s", where, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	*ret_ipv6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return fd;
}

struct http *http_start(struct daemon *d, const char *host, unsigned port, char **ret_error)
{
	struct http *h;
	const union MHD_DaemonInfo *info;
	char where[300];
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	bool ipv6 = false;
	const char *why;
	int fd;

	snprintf(where, sizeof(where), strchr(host, ':') ? "[%s]:%u" : "%s:%u",
		 strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, port);
	/* Loaded here, not at mcpd's start: without mcpd.http it is never mapped. */
	if (mhd_dl_load(&why) < 0) {
		xasprintf(ret_error, "cannot start the HTTP endpoint on %s: %s (Debian: libmicrohttpd12)", where, why);
		return NULL;
	}
	fd = listen_socket(host, port, where, &ipv6, ret_error);
	if (fd < 0)
		return NULL;
	if (ipv6)
		flags |= MHD_USE_IPv6;
	h = xcalloc(1, sizeof(*h));
	h->d = d;
	ev_init(&h->summary_w, on_summary);
	h->summary_w.repeat = HTTP_LOG_SECONDS;
	h->summary_w.data = h;
	h->gateway = gateway_new(d, run_again, h, ret_error);
	if (!h->gateway) {
		close(fd);
		free(h);
		return NULL;
	}
	/* Not MHD_USE_INTERNAL_POLLING_THREAD: MHD_run() on our loop does the work. */
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  /* Hard ceilings, above the limits on_connection sheds at. */
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(2 * HTTP_MAX_PER_IP),
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_SECONDS,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
				  MHD_OPTION_END);
	info = h->mhd ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		xasprintf(ret_error, "cannot start the HTTP endpoint on %s (libmicrohttpd refused; see the messages above)",
			  where);
		if (h->mhd)
			MHD_stop_daemon(h->mhd);	/* closes fd */
		else if (fcntl(fd, F_GETFD) >= 0)
			close(fd);	/* MHD closes it on some of its failures, not on others */
		ev_timer_stop(d->loop, &h->summary_w);
		gateway_free(h->gateway);
		free(h);
		return NULL;
	}
	ev_io_init(&h->io_w, on_io, info->epoll_fd, EV_READ);
	ev_timer_init(&h->timer_w, on_timer, 0., 0.);
	h->io_w.data = h->timer_w.data = h;
	ev_io_start(d->loop, &h->io_w);
	log_notice(NULL, NULL, "HTTP endpoint on http://%s/ (/livez /readyz /health /metrics, /mcp/NAME)", where);
	return h;
}

void http_reload(struct http *h)
{
	if (h)
		gateway_reload(h->gateway);
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	ev_io_stop(h->d->loop, &h->io_w);
	ev_timer_stop(h->d->loop, &h->timer_w);
	gateway_wake_all(h->gateway);
	MHD_run(h->mhd);	/* the woken connections answer and leave the suspended state */
	MHD_stop_daemon(h->mhd);
	metrics_free();	/* every response gave its buffer back */
	ev_timer_stop(h->d->loop, &h->summary_w);
	gateway_free(h->gateway);
	free(h);
}
