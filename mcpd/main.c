/* mcpd: the supervisor daemon for MCP servers. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "control.h"
#include "daemon.h"
#include "guard.h"
#include "history.h"
#include "hostcheck.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "orphans.h"
#include "paths.h"
#include "reload.h"
#include "resources.h"
#include "replicas.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "server.h"
#include "server-limits.h"
#include "xmalloc.h"

#define DEFAULT_MANIFEST SYSCONFDIR "/mcpd/mcpd.yaml"
#define STALE_CGROUPS_MAX 256	/* stale cgroups of killed mcpd processes removed per start, at most */

struct options {
	const char *config;
	const char *socket;
	bool check;
	bool verbose;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mcpd [-fnv] [-c FILE] [-s SOCKET]\n"
		"\n"
		"Supervise the MCP servers listed in a manifest.\n"
		"\n"
		"  -c, --config FILE   manifest (default: %s)\n"
		"  -n, --check         validate the manifest and exit: 0 valid, 1 invalid\n"
		"  -f, --foreground    stay in the foreground (the default: mcpd never forks away)\n"
		"  -s, --socket PATH   control socket (overrides mcpd.control)\n"
		"  -v, --verbose       log debug messages\n"
		"  -V, --version       show the version\n"
		"  -h, --help          show this help\n",
		DEFAULT_MANIFEST);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:nfs:vVh", long_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'n':
			o->check = true;
			break;
		case 'f':
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'V':
			printf("mcpd %s\n", PACKAGE_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mcpd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;

	const char *sig = w->signum == SIGINT ? "SIGINT" : "SIGTERM";

	log_notice(NULL, NULL, "received %s", sig);
	daemon_shutdown(d, sig);
}

static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	cJSON *result = NULL, *errors = NULL;

	log_notice(NULL, NULL, "received SIGHUP: reloading %s", d->manifest_path);
	sdnotify_reloading(d);
	reload_manifest(d, &(struct reload_who){ .name = "SIGHUP" }, false, &result, &errors);
	sdnotify_reloaded(d);
	cJSON_Delete(result);
	cJSON_Delete(errors);
}

static void on_sigusr1(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = w->data;
	int r = log_open_file(d->manifest->mcpd.log_file);

	if (r < 0)
		log_error(NULL, NULL, "cannot reopen the log file %s: %s", d->manifest->mcpd.log_file, strerror(-r));
	else
		log_info(NULL, NULL, "log reopened");
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct daemon *d = w->data;

	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (s->pid == w->rpid) {
			lifecycle_event(s, SE_EXIT, &(struct event_arg){ .wait_status = w->rstatus });
			return;
		}
	}
	/* A grandchild re-parented to us (we are a subreaper); libev has reaped it. */
	log_debug(NULL, NULL, "reaped orphan pid %d", (int)w->rpid);
}

/* Servers removed by a reload are freed here, outside their own callbacks. */
static void on_sweep(struct ev_loop *loop, ev_check *w, int revents)
{
	daemon_sweep(w->data);
}

/*
 * Start-up (handshakes, tool lists of every server) and big replies leave the
 * heap fragmented; giving free pages back keeps RSS near what is in use.
 */
static void on_trim(struct ev_loop *loop, ev_timer *w, int revents)
{
	malloc_trim(0);
}

/* The log never blocks the loop: lines its destination did not take are written when it can take them. */
static ev_io log_w;

static void on_log_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	if (!log_flush())
		ev_io_stop(loop, w);
}

static void on_log_pending(int fd)
{
	struct ev_loop *loop = ev_default_loop(0);

	ev_io_stop(loop, &log_w);
	ev_io_set(&log_w, fd, EV_WRITE);
	ev_io_start(loop, &log_w);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	/* Three pipes per server and a socket per client add up. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* What a killed mcpd left: its empty cgroups go, those with processes left in them are named. */
static void sweep_stale_cgroups(void)
{
	struct cgroup_sweep sw;

	cgroup_sweep_stale(STALE_CGROUPS_MAX, &sw);
	if (sw.removed)
		log_notice(NULL, NULL, "children: removed %u empty cgroup%s of mcpd processes that are gone, under %s",
			   sw.removed, sw.removed == 1 ? "" : "s", sw.dir);
	if (sw.left)
		log_notice(NULL, NULL, "children: %u more empty cgroup%s of gone mcpd processes under %s left for the "
			   "next start (at most %d are removed per start)", sw.left, sw.left == 1 ? "" : "s", sw.dir,
			   STALE_CGROUPS_MAX);
	if (sw.failed)
		log_warning(NULL, NULL, "children: could not remove %u empty cgroup%s of gone mcpd processes under %s; "
			    "left as they are", sw.failed, sw.failed == 1 ? "" : "s", sw.dir);
	if (sw.busy)
		log_warning(NULL, NULL, "children: %u cgroup%s of gone mcpd processes under %s (%s%s) still hold "
			    "processes, orphans of a killed mcpd: left as they are; kill those processes and the next "
			    "start removes the cgroups", sw.busy, sw.busy == 1 ? "" : "s", sw.dir, sw.first_busy,
			    sw.busy > 1 ? ", ..." : "");
}

static int setup(struct daemon *d, const struct options *o)
{
	char *error = NULL, *desc = NULL;
	int r;

	/* Before the guard: it inherits where mcpd lives and which cgroups to clean up. */
	r = cgroup_setup(&desc);
	if (r < 0)
		log_notice(NULL, NULL, "children: %s; tracking servers by process group instead (a setsid()'d "
			   "descendant may outlive a SIGKILLed mcpd)", desc);
	else
		log_notice(NULL, NULL, "children: %s", desc);
	free(desc);
	if (r >= 0)
		sweep_stale_cgroups();
	/* Before the loop exists: the guard needs none of it. */
	r = guard_start();
	if (r < 0)
		fprintf(stderr, "mcpd: cannot start the guard process: %s; grandchildren may outlive a killed mcpd\n",
			strerror(-r));
	d->loop = ev_default_loop(EVFLAG_AUTO);
	ev_init(&log_w, on_log_writable);
	log_set_pending_hook(on_log_pending);
	d->is_root = geteuid() == 0;
	limits_setup(d);
	sandbox_setup(d);
	srand48((long)time(NULL) ^ (long)getpid());
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	r = orphans_become_subreaper();
	if (r < 0)
		log_warning(NULL, NULL, "cannot become a child subreaper: %s; orphans may escape", strerror(-r));

	if (o->socket)
		d->socket_path = xstrdup(o->socket);
	else if (d->manifest->mcpd.control)
		d->socket_path = xstrdup(d->manifest->mcpd.control);
	else if ((r = control_socket_default(&d->socket_path)) < 0) {
		log_error(NULL, NULL, "cannot find a path for the control socket: %s", strerror(-r));
		return -1;
	}
	d->control = control_new(d, d->socket_path, sdnotify_listen_fd(), &error);
	if (!d->control) {
		log_error(NULL, NULL, "%s", error);
		free(error);
		return -1;
	}

	if (d->manifest->mcpd.http) {
		d->http = http_start(d, d->manifest->mcpd.http_host, d->manifest->mcpd.http_port, &error);
		if (!d->http) {
			log_error(NULL, NULL, "%s; not starting", error);
			free(error);
			return -1;
		}
	}

	ev_signal_init(&d->sig_term, on_stop_signal, SIGTERM);
	ev_signal_init(&d->sig_int, on_stop_signal, SIGINT);
	ev_signal_init(&d->sig_hup, on_sighup, SIGHUP);
	ev_signal_init(&d->sig_usr1, on_sigusr1, SIGUSR1);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d->sig_usr1.data = d;
	ev_signal_start(d->loop, &d->sig_term);
	ev_signal_start(d->loop, &d->sig_int);
	ev_signal_start(d->loop, &d->sig_hup);
	ev_signal_start(d->loop, &d->sig_usr1);
	ev_child_init(&d->child_w, on_child, 0, 0);
	d->child_w.data = d;
	ev_child_start(d->loop, &d->child_w);
	ev_check_init(&d->sweep_w, on_sweep);
	d->sweep_w.data = d;
	ev_timer_init(&d->trim_w, on_trim, 10., 300.);
	ev_timer_start(d->loop, &d->trim_w);
	sdnotify_init(d);
	return 0;
}

/*
 * Spawning is a fork and an exec per server: all of a big manifest in one loop
 * iteration would hold the loop for seconds, while status, the children's
 * pipes and their handshake timers wait. So a batch per loop iteration, and
 * no more handshakes at once than the machine can answer within their budget.
 */
#define AUTOSTART_BATCH		32	/* servers started per loop iteration */
#define AUTOSTART_HANDSHAKES	64	/* autostart waits while this many are in the handshake */

static void on_autostart(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;
	size_t busy = 0, left = 0;
	unsigned n = 0;

	for (size_t i = 0; i < d->nservers; i++)
		if (d->servers[i]->state == ST_STARTING && d->servers[i]->pid > 0)
			busy++;
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (!s->autostart_pending)
			continue;
		if (n >= AUTOSTART_BATCH || busy >= AUTOSTART_HANDSHAKES) {
			left++;
			continue;
		}
		s->autostart_pending = false;
		if (s->state == ST_STOPPED) {
			lifecycle_event(s, SE_START, NULL);
			n++;
			busy += s->state == ST_STARTING && s->pid > 0;
		}
	}
	if (left == 0) {
		d->autostart_paused = false;
		if (!d->autostart_done) {
			/* The manifest's servers; later ones come from reloads, framed by their own READY=1. */
			d->autostart_done = true;
			/* Told to start, not running yet: those waiting for a dependency start once it runs. */
			log_info(NULL, NULL, "every autostart server was told to start");
			sdnotify_ready(d);
		}
	} else if (busy >= AUTOSTART_HANDSHAKES) {
		/* Resumed by daemon_state_changed() when a handshake ends: pause, don't spin. */
		d->autostart_paused = true;
	} else {
		/* Due at once, but only after the loop has served the fds. */
		ev_timer_set(w, 0., 0.);
		ev_timer_start(loop, w);
	}
}

static void autostart_added(struct daemon *d, struct server *s)
{
	if (s->conf.autostart)
		daemon_autostart(d, s);
}

static void start_servers(struct daemon *d)
{
	ev_timer_init(&d->autostart_w, on_autostart, 0., 0.);
	d->autostart_w.data = d;
	for (size_t i = 0; i < d->manifest->nservers; i++)
		replicas_add(d, &d->manifest->servers[i], 1, autostart_added);
	log_notice(NULL, NULL, "mcpd %s: supervising %zu server%s from %s; control socket %s", PACKAGE_VERSION,
		   d->nservers, d->nservers == 1 ? "" : "s", d->manifest_path, d->socket_path);
	manifest_release_servers(d->manifest);	/* each server holds its own copy */
	if (!ev_is_active(&d->autostart_w))
		on_autostart(d->loop, &d->autostart_w, 0);	/* no autostart server: ready at once */
}

/*
 * The history is opened once the loop exists (its writer is a child of the
 * loop), and the manifest read at start is its first new entry, diffed
 * against what ran last time.
 */
static void open_history(struct daemon *d, const char *content, size_t len)
{
	struct manifest_errors errs = { 0 };
	struct manifest *old = NULL;
	char *warning = NULL;
	const char *last;
	size_t last_len;
	cJSON *diff;

	d->history = history_open(d->loop, d->manifest->mcpd.state_dir, d->manifest->mcpd.history, &warning);
	if (warning) {
		log_warning(NULL, NULL, "%s", warning);
		free(warning);
	}
	if (history_last(d->history, &last, &last_len))
		manifest_parse_buffer(d->manifest_path, last, last_len, MANIFEST_LENIENT_ENV, &old, &errs);
	manifest_errors_clear(&errs);
	diff = history_diff(old, d->manifest);
	history_record(d->history, content, len, "start", "start", 0, diff);
	cJSON_Delete(diff);
	manifest_free(old);
}

/* mcpd -n: where the history would live, and whether it can. */
static void print_state_dir(const struct manifest *m)
{
	struct stat st;
	char *dir = NULL;

	if (m->mcpd.state_dir)
		dir = xstrdup(m->mcpd.state_dir);
	else if (history_default_dir(&dir) < 0) {
		printf("state directory: none (set mcpd.state_dir): the manifest history would be off\n");
		return;
	}
	if (stat(dir, &st) < 0 && errno == ENOENT)
		printf("state directory: %s (created at start; history of %u manifests)\n", dir, m->mcpd.history);
	else if (!S_ISDIR(st.st_mode) || access(dir, W_OK) < 0)
		printf("state directory: %s is not a writable directory: the manifest history would be off\n", dir);
	else
		printf("state directory: %s (history of %u manifests)\n", dir, m->mcpd.history);
	free(dir);
}

static void teardown(struct daemon *d)
{
	for (size_t i = 0; i < d->nservers; i++) {
		pid_t pid = d->servers[i]->pid;

		/* Only after a shutdown timeout: nothing may outlive mcpd, and no zombie either. */
		if (pid > 0) {
			kill_group(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			d->servers[i]->pid = 0;
		}
	}
	/* The HTTP endpoint first: its suspended requests are answered while their servers exist. */
	http_stop(d->http);
	d->http = NULL;
	for (size_t i = 0; i < d->nservers; i++)
		server_free(d->servers[i]);
	free(d->servers);
	if (d->loop) {
		sdnotify_free(d);
		ev_timer_stop(d->loop, &d->trim_w);
	}
	control_free(d->control);
	history_free(d->history);
	manifest_free(d->manifest);
	free(d->socket_path);
	free(d->manifest_path);
	guard_stop();
	orphans_kill_strays(NULL, 0);
	/* Last: the clients and sessions closed above log before it. */
	if (d->stopped_all)
		log_info(NULL, NULL, "exiting");
	log_set_pending_hook(NULL);
	log_flush();	/* the last try: what the destination does not take now is lost */
	if (d->loop)
		ev_loop_destroy(d->loop);
}

int main(int argc, char **argv)
{
	struct options o = { .config = DEFAULT_MANIFEST };
	struct manifest_errors errs = { 0 };
	struct daemon d = { 0 };
	char *content = NULL;
	size_t content_len = 0;
	int r;

	/*
	 * mcpd's lasting memory is many small objects; what is big (a reply, a
	 * large message, a status tree) is brief. No fastbins: freed small chunks
	 * coalesce at once, instead of waiting for the next big allocation. Fixed
	 * thresholds (glibc otherwise raises both after each big free): a buffer
	 * of 64 KiB or more is its own mapping, unmapped when freed, and 64 KiB
	 * free at the heap's top go back to the system, with no pad kept.
	 */
	mallopt(M_MXFAST, 0);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024);
	mallopt(M_TOP_PAD, 0);
	if (parse_options(argc, argv, &o) < 0)
		return 2;
	r = manifest_load_content(o.config, 0, &d.manifest, &errs, &content, &content_len);
	/* -n checks where mcpd runs: a missing user or secret file is an error, as it would be at start. */
	if (d.manifest && o.check && manifest_check_host(d.manifest, true, &errs) > 0) {
		manifest_free(d.manifest);
		d.manifest = NULL;
		r = -EINVAL;
	}
	manifest_errors_print(&errs, stderr);
	manifest_errors_clear(&errs);
	if (!d.manifest) {
		if (r == -EINVAL)
			fprintf(stderr, "mcpd: %s is not valid; %s\n", o.config, o.check ? "it would start nothing" : "nothing started");
		else
			fprintf(stderr, "mcpd: cannot read %s; %s\n", o.config, o.check ? "it would start nothing" : "nothing started");
		free(content);
		return 1;
	}
	if (o.check) {
		printf("%s: valid, %zu server%s\n", o.config, d.manifest->nservers, d.manifest->nservers == 1 ? "" : "s");
		print_state_dir(d.manifest);
		manifest_free(d.manifest);
		free(content);
		return 0;
	}
	d.manifest_path = xstrdup(o.config);
	log_setup(d.manifest->mcpd.log_format, o.verbose);
	r = log_open_file(d.manifest->mcpd.log_file);
	if (r < 0) {
		fprintf(stderr, "mcpd: cannot open the log file %s: %s\n", d.manifest->mcpd.log_file, strerror(-r));
		manifest_free(d.manifest);
		free(d.manifest_path);
		free(content);
		return 1;
	}
	if (setup(&d, &o) < 0) {
		free(content);
		teardown(&d);
		return 1;
	}
	open_history(&d, content, content_len);
	free(content);
	resources_start(&d);
	start_servers(&d);
	ev_run(d.loop, 0);
	resources_stop(&d);
	teardown(&d);
	return d.exit_status;
}
