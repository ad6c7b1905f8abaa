/* systemd integration: see sdnotify.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "sdnotify.h"
#include "server.h"
#include "systemd-dl.h"

#define STATUS_MIN_INTERVAL 1.0	/* seconds between two STATUS= updates */

struct sdnotify {
	bool enabled;
	bool ready;		/* no STATUS= before READY=1 */
	ev_timer watchdog_w;
	ev_timer status_w;
	bool status_pending;
	double status_sent;
};

static struct sdnotify sd;

/*
 * libsystemd, loaded on first use (mcpd runs under systemd: what set
 * $NOTIFY_SOCKET or $LISTEN_FDS is waiting for it): true once it is there.
 * A library that cannot be loaded is logged once, with what follows.
 */
static bool have_libsystemd(const char *what_follows)
{
	static bool logged;
	const char *error;

	if (systemd_dl_load(&error) == 0)
		return true;
	if (!logged)
		log_error(NULL, NULL, "%s: %s", error, what_follows);
	logged = true;
	return false;
}

static void notify(const char *state)
{
	int r;

	if (!sd.enabled)
		return;
	r = systemd_dl.notify(0, state);
	if (r < 0)
		log_warning(NULL, NULL, "sd_notify(%s): %s", state, strerror(-r));
}

/* "7/8 running, 1 backoff": the states of the wanted servers. */
static void send_status(struct daemon *d)
{
	unsigned counts[ST__COUNT] = { 0 }, wanted = 0;
	char buf[512];
	size_t o;

	for (size_t i = 0; i < d->nservers; i++) {
		if (!d->servers[i]->wanted)
			continue;
		wanted++;
		counts[d->servers[i]->state]++;
	}
	o = (size_t)snprintf(buf, sizeof(buf), "STATUS=%u/%u running", counts[ST_RUNNING], wanted);
	for (int st = 0; st < ST__COUNT && o < sizeof(buf); st++) {
		if (st == ST_RUNNING || counts[st] == 0)
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, ", %u %s", counts[st], server_state_name(st));
	}
	notify(buf);
	sd.status_sent = ev_now(d->loop);
	sd.status_pending = false;
}

static void on_status_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_status(w->data);
}

/* A timer that fires proves the loop turns: that is what the watchdog wants to know. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	notify("WATCHDOG=1");
}

void sdnotify_init(struct daemon *d)
{
	uint64_t usec = 0;

	sd.enabled = getenv("NOTIFY_SOCKET") != NULL;
	ev_timer_init(&sd.status_w, on_status_timer, 0., 0.);
	sd.status_w.data = d;
	ev_timer_init(&sd.watchdog_w, on_watchdog, 0., 0.);
	sd.watchdog_w.data = d;
	if (sd.enabled && !have_libsystemd("systemd is not told that mcpd is ready and stops it at its start "
					   "timeout (install libsystemd0)"))
		sd.enabled = false;
	if (!sd.enabled)
		return;
	if (systemd_dl.watchdog_enabled(0, &usec) > 0 && usec > 0) {
		double half = (double)usec / 2e6;

		ev_timer_set(&sd.watchdog_w, half, half);
		ev_timer_start(d->loop, &sd.watchdog_w);
		log_info(NULL, NULL, "systemd watchdog: pinging every %.1fs", half);
	}
}

void sdnotify_free(struct daemon *d)
{
	ev_timer_stop(d->loop, &sd.watchdog_w);
	ev_timer_stop(d->loop, &sd.status_w);
}

void sdnotify_ready(struct daemon *d)
{
	sd.ready = true;
	notify("READY=1");
	send_status(d);
}

void sdnotify_status_changed(struct daemon *d)
{
	double now, wait;

	if (!sd.enabled || !sd.ready || sd.status_pending)
		return;
	now = ev_now(d->loop);
	wait = sd.status_sent + STATUS_MIN_INTERVAL - now;
	if (wait <= 0) {
		send_status(d);
		return;
	}
	sd.status_pending = true;
	ev_timer_set(&sd.status_w, wait, 0.);
	ev_timer_start(d->loop, &sd.status_w);
}

void sdnotify_reloading(struct daemon *d)
{
	struct timespec ts;
	char buf[80];

	if (!sd.enabled)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	notify(buf);
}

void sdnotify_reloaded(struct daemon *d)
{
	notify("READY=1");
	send_status(d);
}

void sdnotify_stopping(struct daemon *d)
{
	notify("STOPPING=1");
}

int sdnotify_listen_fd(void)
{
	char **names = NULL;
	int n, fd = -1;

	if (!getenv("LISTEN_FDS"))
		return -1;
	if (!have_libsystemd("the sockets systemd passed are not used; mcpd binds its own control socket "
			     "(install libsystemd0)")) {
		/* Not for the children either. */
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		return -1;
	}
	n = systemd_dl.listen_fds_with_names(1, &names);

	for (int i = 0; i < n; i++) {
		if (fd < 0 && (n == 1 || (names && names[i] && strcmp(names[i], "control") == 0)))
			fd = SD_LISTEN_FDS_START + i;
		else
			log_warning(NULL, NULL, "ignoring socket %s passed by systemd (only \"control\" is used)",
				    names && names[i] ? names[i] : "?");
	}
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return fd;
}
