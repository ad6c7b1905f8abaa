/* The HTTP endpoint: see http.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "gateway.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "xmalloc.h"

struct http {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	struct gateway *gateway;
	ev_io io_w;
	ev_timer timer_w;
};

/* Marks a request whose headers were seen, so the second call answers it. */
static int request_seen;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
			       size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return respond(conn, status, "text/plain; charset=utf-8", xstrdup(msg), strlen(msg));
}

/* Ready when every wanted critical server runs; the body names those that do not. */
static enum MHD_Result readyz(struct http *h, struct MHD_Connection *conn)
{
	char *body = xstrdup(""), *next;
	bool ready = true;

	for (size_t i = 0; i < h->d->nservers; i++) {
		const struct server *s = h->d->servers[i];
		char reason[320];

		if (!s->conf.critical || !s->wanted || s->state == ST_RUNNING)
			continue;
		ready = false;
		server_reason(s, reason, sizeof(reason));
		xasprintf(&next, "%s%s: %s%s%s\n", body, s->conf.name, server_state_name(s->state), *reason ? ": " : "",
			  reason);
		free(body);
		body = next;
	}
	if (ready) {
		free(body);
		return text(conn, MHD_HTTP_OK, "ok\n");
	}
	return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result health(struct http *h, struct MHD_Connection *conn)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *list;
	char *body;

	cJSON_AddStringToObject(o, "health", daemon_health(h->d));
	list = cJSON_AddArrayToObject(o, "servers");
	for (size_t i = 0; i < h->d->nservers; i++)
		cJSON_AddItemToArray(list, server_status_json(h->d->servers[i]));
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return respond(conn, MHD_HTTP_OK, "application/json", body, strlen(body));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct http *h = cls;
	size_t len;

	if (strncmp(url, "/mcp/", 5) == 0 && h->gateway)
		return gateway_request(h->gateway, conn, url, method, upload_data, upload_data_size, con_cls);
	if (*con_cls == NULL) {
		*con_cls = &request_seen;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0;
		return text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "these endpoints take no request body\n");
	}
	log_debug(NULL, NULL, "http: %s %s", method, url);
	if (strcmp(url, "/livez") != 0 && strcmp(url, "/readyz") != 0 && strcmp(url, "/health") != 0 &&
	    strcmp(url, "/metrics") != 0)
		return text(conn, MHD_HTTP_NOT_FOUND, "not found: try /livez, /readyz, /health or /metrics\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/livez") == 0)
		return text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return readyz(h, conn);
	if (strcmp(url, "/health") == 0)
		return health(h, conn);
	{
		char *body = metrics_render(h->d, &len);

		return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
	}
}

/* After every run, MHD says when it wants to run again for its timeouts. */
static void rearm(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	ev_timer_stop(h->d->loop, &h->timer_w);
	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES) {
		ev_timer_set(&h->timer_w, (double)ms / 1000., 0.);
		ev_timer_start(h->d->loop, &h->timer_w);
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http *h = cls;

	if (*con_cls && *con_cls != &request_seen)
		gateway_request_done(h->gateway, *con_cls);
	*con_cls = NULL;
}

static void run_again(void *arg)
{
	struct http *h = arg;

	MHD_run(h->mhd);
	rearm(h);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http *h = w->data;

	MHD_run(h->mhd);
	rearm(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http *h = w->data;

	MHD_run(h->mhd);
	rearm(h);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_warning(NULL, NULL, "http: %s", buf);
}

static int listen_socket(const char *host, unsigned port, char **ret_error)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	char service[8];
	int fd, r, one = 1;

	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &ai);
	if (r != 0) {
		xasprintf(ret_error, "cannot listen on %s:%u: %s (give an IP address or localhost)", host, port,
			  gai_strerror(r));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		xasprintf(ret_error, "cannot listen on %s:%u: %s", host, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct http *http_start(struct daemon *d, const char *host, unsigned port, char **ret_error)
{
	struct http *h = xcalloc(1, sizeof(*h));
	const union MHD_DaemonInfo *info;
	int fd = listen_socket(host, port, ret_error);

	if (fd < 0) {
		free(h);
		return NULL;
	}
	h->d = d;
	h->gateway = gateway_new(d, run_again, h, ret_error);
	if (!h->gateway) {
		close(fd);
		free(h);
		return NULL;
	}
	h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
				  on_request, h,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_SECONDS,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
				  MHD_OPTION_END);
	info = h->mhd ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (!info) {
		xasprintf(ret_error, "cannot start the HTTP endpoint on %s:%u", host, port);
		if (h->mhd)
			MHD_stop_daemon(h->mhd);
		gateway_free(h->gateway);
		close(fd);
		free(h);
		return NULL;
	}
	ev_io_init(&h->io_w, on_io, info->epoll_fd, EV_READ);
	ev_timer_init(&h->timer_w, on_timer, 0., 0.);
	h->io_w.data = h->timer_w.data = h;
	ev_io_start(d->loop, &h->io_w);
	log_notice(NULL, NULL, "HTTP endpoint on http://%s:%u/ (/livez /readyz /health /metrics, /mcp/NAME)", host, port);
	return h;
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
	gateway_free(h->gateway);
	free(h);
}
