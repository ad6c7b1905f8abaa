/* replicas: N: naming, lookup and placement of a manifest entry's processes (see replicas.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "approvals.h"
#include "cgroup.h"
#include "control.h"
#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "relay.h"
#include "replicas.h"
#include "server.h"
#include "server-limits.h"
#include "spawn.h"
#include "xmalloc.h"

size_t replica_group_len(const char *server_name)
{
	return strcspn(server_name, "#");
}

const char *replica_entry_name(const struct server *s, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)replica_group_len(s->conf.name), s->conf.name);
	return buf;
}

bool replica_in_group(const struct server *s, const char *name)
{
	size_t len = replica_group_len(s->conf.name);

	if (strcmp(s->conf.name, name) == 0)
		return true;
	return s->conf.replica > 0 && strlen(name) == len && memcmp(s->conf.name, name, len) == 0;
}

bool replica_covered(const struct server *s)
{
	const struct daemon *d = s->d;
	size_t len = replica_group_len(s->conf.name);

	if (s->conf.replica == 0)
		return false;
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *t = d->servers[i];

		if (t != s && t->conf.replica > 0 && t->state == ST_RUNNING &&
		    replica_group_len(t->conf.name) == len && memcmp(t->conf.name, s->conf.name, len) == 0)
			return true;
	}
	return false;
}

bool replica_first(const struct server *s)
{
	return s->conf.replica <= 1;
}

struct server_conf replica_conf(const struct server_conf *conf, unsigned k, char **ret_name)
{
	struct server_conf c = *conf;

	*ret_name = NULL;
	c.replica = k;
	if (k > 0) {
		xasprintf(ret_name, "%s#%u", conf->name, k);
		c.name = *ret_name;
	}
	return c;
}

/* Where the group's next replica goes in the list: after its last one, else at the end. */
static size_t insert_at(const struct daemon *d, const char *group)
{
	size_t at = d->nservers;

	for (size_t i = 0; i < d->nservers; i++)
		if (replica_in_group(d->servers[i], group))
			at = i + 1;
	return at;
}

void replicas_add(struct daemon *d, const struct server_conf *conf, unsigned first_k,
		  void (*added)(struct daemon *d, struct server *s))
{
	unsigned n = conf->replicas > 1 ? conf->replicas : 1;

	for (unsigned k = first_k; k <= n; k++) {
		char *name;
		struct server_conf c = replica_conf(conf, conf->replicas > 1 ? k : 0, &name);
		size_t at = insert_at(d, conf->name);
		struct server *s = daemon_add_server(d, &c);

		/* daemon_add_server appended it: move it next to its group's others. */
		memmove(&d->servers[at + 1], &d->servers[at], (d->nservers - 1 - at) * sizeof(*d->servers));
		d->servers[at] = s;
		free(name);
		if (added)
			added(d, s);
	}
}

void replica_set_conf(struct server *s, const struct server_conf *conf)
{
	char *name;
	struct server_conf c = replica_conf(conf, s->conf.replica, &name);

	server_set_conf(s, &c);
	free(name);
}

/*
 * s's processes follow its new name into a cgroup of that name: cgroup v2
 * renames no cgroup (EPERM), so the new one gets s's limits first, then the
 * processes move (their memory charged so far stays with the old one, which
 * is removed), a few passes for a process forking meanwhile.
 */
static void move_cgroup(struct server *s, const char *old)
{
	struct spawn_req req = { .conf = &s->conf, .cgroup_fd = -1, .cgroup_dir_fd = -1 };
	char pids[16384];
	int fd, pass = 0;

	if (!cgroup_enabled() || cgroup_read(old, "cgroup.procs", pids, sizeof(pids)) < 0)
		return;	/* it never had a cgroup */
	if ((fd = cgroup_open_procs(s->conf.name)) < 0) {
		log_warning(s->conf.name, NULL, "cannot create its cgroup %s/%s: %s; its process stays in %s until its "
			    "next start", cgroup_base(), s->conf.name, strerror(-fd), old);
		return;
	}
	if (limits_before_spawn(s, &req) < 0) {
		log_warning(s->conf.name, NULL, "cannot give its cgroup %s/%s its limits (%s); its process stays in %s, "
			    "limited, until its next start", cgroup_base(), s->conf.name, s->fail_reason, old);
		close(fd);
		cgroup_remove(s->conf.name);
		return;
	}
	while (pass++ < 8 && cgroup_read(old, "cgroup.procs", pids, sizeof(pids)) > 0) {
		for (char *p = pids, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (dprintf(fd, "%ld", pid) < 0 && errno != ESRCH)
				log_warning(s->conf.name, NULL, "cannot move process %ld into its cgroup %s/%s: %s", pid,
					    cgroup_base(), s->conf.name, strerror(errno));
		}
	}
	close(fd);
	if (cgroup_remove(old) < 0)
		log_warning(s->conf.name, NULL, "its old cgroup %s/%s still has processes; it is removed when they are "
			    "killed, at the latest when mcpd exits", cgroup_base(), old);
}

void replica_rename(struct server *s, unsigned k, unsigned n)
{
	struct server_conf c;
	char entry[80], old[80];

	snprintf(old, sizeof(old), "%s", s->conf.name);
	replica_entry_name(s, entry, sizeof(entry));
	server_conf_copy(&c, &s->conf);
	free(c.name);
	if (k > 0)
		xasprintf(&c.name, "%s#%u", entry, k);
	else
		c.name = xstrdup(entry);
	c.replica = k;
	c.replicas = n;
	server_set_conf(s, &c);
	server_conf_release(&c);
	move_cgroup(s, old);
	approvals_follow(s, "renamed by a reload");
	control_server_renamed(s->d->control, s, old);
	log_notice(s->conf.name, NULL, "renamed from %s by reload (replicas: %u), keeping its process%s", old, n,
		   s->pid > 0 ? " and its client sessions; MCPD_REPLICA in its environment is set at its next start" : "");
}

bool replica_conf_equal(const struct server *s, const struct server_conf *conf)
{
	char *name;
	struct server_conf c = replica_conf(conf, s->conf.replica, &name);
	bool eq = server_conf_equal(&s->conf, &c);

	free(name);
	return eq;
}

struct server **replicas_list(const struct daemon *d, const char *name, size_t *ret_n)
{
	struct server **list = NULL;
	size_t n = 0;

	for (size_t i = 0; i < d->nservers; i++) {
		if (!replica_in_group(d->servers[i], name))
			continue;
		if (!list)
			list = xcalloc(d->nservers + 1, sizeof(*list));
		list[n++] = d->servers[i];
	}
	*ret_n = n;
	return list;
}

unsigned replicas_count(const struct daemon *d, const char *name)
{
	char group[80];
	unsigned n = 0;

	snprintf(group, sizeof(group), "%.*s", (int)replica_group_len(name), name);
	for (size_t i = 0; i < d->nservers; i++)
		if (!d->servers[i]->removed && replica_in_group(d->servers[i], group))
			n++;
	return n;
}

struct server *replicas_pick(const struct daemon *d, const char *name, const struct server *except)
{
	static unsigned rr;	/* breaks ties among equally loaded replicas, round robin */
	struct server *first = NULL, *starting = NULL, **ties;
	size_t nties = 0, least = (size_t)-1;

	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (strcmp(s->conf.name, name) == 0)
			return s;	/* the server so named (unreplicated), or one replica asked for by NAME#K */
	}
	ties = xcalloc(d->nservers + 1, sizeof(*ties));
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];
		size_t load;

		if (s == except || s->removed || !replica_in_group(s, name))
			continue;
		if (!first)
			first = s;
		if (s->state == ST_STARTING && !starting)
			starting = s;
		if (s->state != ST_RUNNING)
			continue;
		load = relay_sessions(s);
		if (load < least) {
			least = load;
			nties = 0;
		}
		if (load == least)
			ties[nties++] = s;
	}
	if (nties > 0)
		first = ties[rr++ % nties];
	else if (starting)
		first = starting;
	free(ties);
	return first;
}

/*
 * A rolling restart (one per replicated entry at a time): the new
 * configuration, given to each replica when its turn comes, so that the
 * replicas it does not reach keep the configuration they run.
 */
struct rollout {
	struct daemon *d;
	char entry[80];
	struct server_conf conf;	/* the entry's new configuration (own copy) */
	unsigned current;		/* the replica restarted now, waited for; 0: none */
	double wait;			/* how long it is waited for, in seconds */
	ev_timer deadline;		/* it must run again by then */
	struct rollout *next;
};

static struct rollout *rollouts;

static struct rollout *rollout_of(const char *entry)
{
	for (struct rollout *ro = rollouts; ro; ro = ro->next)
		if (strcmp(ro->entry, entry) == 0)
			return ro;
	return NULL;
}

static void rollout_free(struct rollout *ro)
{
	for (struct rollout **p = &rollouts; *p; p = &(*p)->next) {
		if (*p == ro) {
			*p = ro->next;
			break;
		}
	}
	ev_timer_stop(ro->d->loop, &ro->deadline);
	server_conf_release(&ro->conf);
	free(ro);
}

static struct server *replica_k(const struct daemon *d, const char *entry, unsigned k)
{
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (!s->removed && s->conf.replica == k && replica_in_group(s, entry))
			return s;
	}
	return NULL;
}

/* Restart the first replica still pending, with the new configuration; done (and freed) when none is. */
static void rollout_next(struct rollout *ro)
{
	struct daemon *d = ro->d;

	ev_timer_stop(d->loop, &ro->deadline);
	ro->current = 0;
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (!s->rolling_pending || !replica_in_group(s, ro->entry))
			continue;
		s->rolling_pending = false;
		replica_set_conf(s, &ro->conf);
		if (s->removed || !s->wanted)
			continue;	/* not running: the new configuration is for its next start */
		ro->current = s->conf.replica;
		/* Its stop, then its start-up, each within its own deadline, and a margin. */
		ro->wait = (double)(s->conf.stop.timeout_ms + s->conf.health.start_timeout_ms) / 1000 + 10;
		ev_timer_set(&ro->deadline, ro->wait, 0.);
		ev_timer_start(d->loop, &ro->deadline);
		lifecycle_event(s, SE_RESTART, &(struct event_arg){ .reason = "configuration changed by reload "
								    "(rolling restart, one replica at a time)" });
		return;
	}
	log_notice(ro->entry, NULL, "the rolling restart is done: every replica runs the new configuration");
	rollout_free(ro);
}

/*
 * The replica restarted now will not run again by itself in time: the rolling
 * restart stops there, the others keep their configuration and their process.
 */
static void rollout_stop(struct rollout *ro, const struct server *s, const char *why)
{
	char kept[256] = "", note[256];
	size_t len = 0;

	for (size_t i = 0; i < ro->d->nservers; i++) {
		struct server *t = ro->d->servers[i];

		if (!t->rolling_pending || !replica_in_group(t, ro->entry))
			continue;
		t->rolling_pending = false;
		if (len < sizeof(kept))
			len += (size_t)snprintf(kept + len, sizeof(kept) - len, "%s%s", len ? ", " : "", t->conf.name);
		snprintf(note, sizeof(note), "previous configuration kept: the rolling restart stopped at %s (%s)",
			 s->conf.name, why);
		if (t->state == ST_RUNNING)
			snprintf(t->reason, sizeof(t->reason), "%s", note);
	}
	if (kept[0])
		log_warning(s->conf.name, NULL, "did not run again after the rolling restart (%s); the rolling restart "
			    "stops: %s keep%s its previous configuration and keep%s running; fix the manifest and reload",
			    why, kept, strchr(kept, ',') ? "" : "s", strchr(kept, ',') ? "" : "s");
	else
		log_warning(s->conf.name, NULL, "did not run again after the rolling restart (%s); it was the last "
			    "replica to restart", why);
	rollout_free(ro);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rollout *ro = w->data;
	struct server *s = replica_k(ro->d, ro->entry, ro->current);
	char why[160];

	if (!s) {
		rollout_next(ro);
		return;
	}
	snprintf(why, sizeof(why), "still %s %.0fs after it was restarted (its stop and start-up deadlines, and 10s)",
		 server_state_name(s->state), ro->wait);
	rollout_stop(ro, s, why);
}

/* No replica of entry waits for its turn in a rolling restart any more. */
static void clear_pending(struct daemon *d, const char *entry)
{
	for (size_t i = 0; i < d->nservers; i++)
		if (replica_in_group(d->servers[i], entry))
			d->servers[i]->rolling_pending = false;
}

void replicas_rollout_forget(struct daemon *d, const char *entry)
{
	struct rollout *ro = rollout_of(entry);

	clear_pending(d, entry);
	if (ro)
		rollout_free(ro);
}

void replicas_rolling_restart(struct daemon *d, const struct server_conf *conf, struct server **list, size_t n)
{
	struct rollout *ro = rollout_of(conf->name);

	if (ro) {
		server_conf_release(&ro->conf);	/* a reload during the rollout: its configuration goes on */
	} else {
		ro = xcalloc(1, sizeof(*ro));
		ro->d = d;
		snprintf(ro->entry, sizeof(ro->entry), "%s", conf->name);
		ev_timer_init(&ro->deadline, on_deadline, 0., 0.);
		ro->deadline.data = ro;
		ro->next = rollouts;
		rollouts = ro;
	}
	server_conf_copy(&ro->conf, conf);
	clear_pending(d, ro->entry);	/* what an earlier reload left pending is this one's to say */
	for (size_t k = 0; k < n; k++)
		list[k]->rolling_pending = !list[k]->removed;
	if (ro->current == 0)
		rollout_next(ro);
}

/* The replica a rolling restart waits for changed state: running, it goes on; down for good, it stops. */
static void rollout_state(struct server *s)
{
	char entry[80];
	struct rollout *ro;
	char why[300];

	if (s->conf.replica == 0 || !(ro = rollout_of(replica_entry_name(s, entry, sizeof(entry)))) ||
	    ro->current != s->conf.replica || s->removed)
		return;
	if (s->d->shutting_down) {
		replicas_rollout_forget(s->d, entry);
		return;
	}
	switch (s->state) {
	case ST_RUNNING:
		log_info(s->conf.name, NULL, "running again: the rolling restart goes on with the next replica");
		rollout_next(ro);
		break;
	case ST_BACKOFF:
	case ST_FAILED:
	case ST_EXITED:
		snprintf(why, sizeof(why), "%s: %s", server_state_name(s->state), s->reason);
		rollout_stop(ro, s, why);
		break;
	case ST_STOPPED:
		log_info(s->conf.name, NULL, "stopped during the rolling restart: it goes on with the next replica");
		rollout_next(ro);
		break;
	default:
		break;	/* stopping, starting: on its way */
	}
}

void replicas_state_changed(struct server *s)
{
	char group[80];
	struct server **list;
	size_t n;

	rollout_state(s);
	if (s->conf.replica == 0 || s->state != ST_RUNNING)
		return;
	snprintf(group, sizeof(group), "%.*s", (int)replica_group_len(s->conf.name), s->conf.name);
	list = replicas_list(s->d, group, &n);
	/* Sessions that stayed on a replica gone while none ran (stopped, failed, waiting to restart) come here. */
	for (size_t k = 0; k < n; k++)
		if (list[k] != s && list[k]->state != ST_RUNNING && list[k]->stdin_fd < 0 && relay_sessions(list[k]) > 0)
			relay_move_sessions(list[k], "is not running");
	free(list);
}
