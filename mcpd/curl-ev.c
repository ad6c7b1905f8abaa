/* libcurl multi on libev: see curl-ev.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>

#include "curl-ev.h"
#include "xmalloc.h"

/* What a transfer carries in CURLINFO_PRIVATE. */
struct transfer {
	curl_ev_done_fn done;
	void *userdata;
	CURL *easy;
	struct transfer *next;		/* while waiting to be added */
};

struct curl_ev {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer_w;
	ev_timer add_w;
	struct transfer *to_add;	/* added from the loop, never from inside a curl callback */
};

struct sock {
	ev_io io_w;
	struct curl_ev *c;
};

static void finish_done(struct curl_ev *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct transfer *t = NULL;
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		curl_multi_remove_handle(c->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (t) {
			curl_ev_done_fn done = t->done;
			void *userdata = t->userdata;

			free(t);
			done(easy, result, userdata);
		}
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock *s = w->data;
	struct curl_ev *c = s->c;	/* s may be freed by curl inside the call below */
	int running, flags = (revents & EV_READ ? CURL_CSELECT_IN : 0) | (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(c->multi, w->fd, flags, &running);
	finish_done(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curl_ev *c = w->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	finish_done(c);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_ev *c = userp;
	struct sock *s = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(c->loop, &s->io_w);
			free(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->c = c;
		ev_init(&s->io_w, on_io);
		s->io_w.data = s;
		curl_multi_assign(c->multi, fd, s);
	}
	ev_io_stop(c->loop, &s->io_w);
	ev_io_set(&s->io_w, fd, (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0));
	ev_io_start(c->loop, &s->io_w);
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_ev *c = userp;

	ev_timer_stop(c->loop, &c->timer_w);
	if (timeout_ms >= 0) {
		ev_timer_set(&c->timer_w, (double)timeout_ms / 1000., 0.);
		ev_timer_start(c->loop, &c->timer_w);
	}
	return 0;
}

static void on_add(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curl_ev *c = w->data;

	while (c->to_add) {
		struct transfer *t = c->to_add;
		CURLMcode r;

		c->to_add = t->next;
		r = curl_multi_add_handle(c->multi, t->easy);
		if (r != CURLM_OK) {
			curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
			/* Reported like a transfer that failed at once. */
			t->done(t->easy, CURLE_FAILED_INIT, t->userdata);
			free(t);
		}
	}
}

struct curl_ev *curl_ev_new(struct ev_loop *loop, const char **ret_error)
{
	struct curl_ev *c;
	CURLM *multi;

	if (curl_dl_load(ret_error) < 0)
		return NULL;
	multi = curl_multi_init();
	if (!multi) {
		*ret_error = "libcurl cannot make a multi handle";
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->multi = multi;
	ev_timer_init(&c->timer_w, on_timer, 0., 0.);
	ev_timer_init(&c->add_w, on_add, 0., 0.);
	c->timer_w.data = c->add_w.data = c;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

void curl_ev_free(struct curl_ev *c)
{
	if (!c)
		return;
	ev_timer_stop(c->loop, &c->timer_w);
	ev_timer_stop(c->loop, &c->add_w);
	curl_multi_cleanup(c->multi);
	free(c);
}

int curl_ev_add(struct curl_ev *c, CURL *easy, curl_ev_done_fn done, void *userdata)
{
	struct transfer *t, **tail;

	if (!c)
		return -1;
	t = xcalloc(1, sizeof(*t));
	tail = &c->to_add;
	t->done = done;
	t->userdata = userdata;
	t->easy = easy;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	while (*tail)
		tail = &(*tail)->next;
	*tail = t;
	ev_timer_start(c->loop, &c->add_w);
	return 0;
}

void curl_ev_remove(struct curl_ev *c, CURL *easy)
{
	struct transfer *t = NULL;

	if (!c)
		return;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	for (struct transfer **pp = &c->to_add; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	curl_multi_remove_handle(c->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	free(t);
}
