/* systemd integration: see sdnotify.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "sdnotify.h"
#include "server.h"

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
 * systemd's side of sd_notify(3), sd_watchdog_enabled(3) and sd_listen_fds(3)
 * is a stable protocol of environment variables and one datagram: spoken here
 * rather than linking libsystemd, which maps libgcrypt, liblzma, libzstd, liblz4
 * and libcap into mcpd for three functions (about 0.9 MiB of resident memory).
 */
#define LISTEN_FDS_START 3

/* An unsigned decimal, whole: 0, or -EINVAL. */
static int parse_u64(const char *text, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!text || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Whether $name (LISTEN_PID, WATCHDOG_PID) is unset, or is this process. */
static bool meant_for_us(const char *name, bool required)
{
	uint64_t pid;

	if (!getenv(name))
		return !required;
	return parse_u64(getenv(name), &pid) == 0 && pid == (uint64_t)getpid();
}

/* One datagram to $NOTIFY_SOCKET: a path, or "@name" in the abstract namespace. 0, or -errno. */
static int sd_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	socklen_t salen;
	int fd, r = 0;

	if (len == 0)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return -EAFNOSUPPORT;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* $WATCHDOG_USEC when it is meant for this process: its microseconds, or 0. */
static uint64_t sd_watchdog_usec(void)
{
	uint64_t usec;

	if (!meant_for_us("WATCHDOG_PID", false) || parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0)
		return 0;
	return usec;
}

static void notify(const char *state)
{
	int r;

	if (!sd.enabled)
		return;
	r = sd_send(state);
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
	uint64_t usec;

	sd.enabled = getenv("NOTIFY_SOCKET") != NULL;
	ev_timer_init(&sd.status_w, on_status_timer, 0., 0.);
	sd.status_w.data = d;
	ev_timer_init(&sd.watchdog_w, on_watchdog, 0., 0.);
	sd.watchdog_w.data = d;
	if (!sd.enabled)
		return;
	usec = sd_watchdog_usec();
	if (usec > 0) {
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
	const char *names = getenv("LISTEN_FDNAMES");
	uint64_t n = 0;
	int fd = -1;

	/* Socket activation: $LISTEN_FDS descriptors from 3 on, for this process, named in $LISTEN_FDNAMES. */
	if (!meant_for_us("LISTEN_PID", true) || parse_u64(getenv("LISTEN_FDS"), &n) < 0 || n > 1024)
		n = 0;
	for (uint64_t i = 0; i < n; i++) {
		int sfd = LISTEN_FDS_START + (int)i;
		size_t len = names ? strcspn(names, ":") : 0;
		char name[256];

		snprintf(name, sizeof(name), "%.*s", (int)len, names ? names : "");
		if (names)
			names = names[len] ? names + len + 1 : NULL;
		if (fcntl(sfd, F_SETFD, FD_CLOEXEC) < 0)
			continue;	/* not open: nothing to take */
		if (fd < 0 && (n == 1 || strcmp(name, "control") == 0))
			fd = sfd;
		else
			log_warning(NULL, NULL, "ignoring socket %s passed by systemd (only \"control\" is used)",
				    name[0] ? name : "?");
	}
	/* Not for the children: they are not the ones activated. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}
