/* replicas: N: naming, lookup and placement of a manifest entry's processes (see replicas.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "lifecycle.h"
#include "log.h"
#include "relay.h"
#include "replicas.h"
#include "server.h"
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

/* Restart the first replica still pending; false when none is. */
static bool restart_next(struct server **list, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct server *s = list[k];

		if (!s->rolling_pending)
			continue;
		s->rolling_pending = false;
		if (s->removed || !s->wanted)
			continue;
		lifecycle_event(s, SE_RESTART, &(struct event_arg){ .reason = "configuration changed by reload "
								    "(rolling restart, one replica at a time)" });
		return true;
	}
	return false;
}

void replicas_rolling_restart(struct server **list, size_t n)
{
	for (size_t k = 0; k < n; k++)
		list[k]->rolling_pending = !list[k]->removed && list[k]->wanted;
	restart_next(list, n);
}

void replicas_state_changed(struct server *s)
{
	char group[80];
	struct server **list;
	size_t n;

	if (s->conf.replica == 0 || s->state != ST_RUNNING)
		return;
	snprintf(group, sizeof(group), "%.*s", (int)replica_group_len(s->conf.name), s->conf.name);
	list = replicas_list(s->d, group, &n);
	/* Sessions that stayed on a replica gone while none ran (stopped, failed, waiting to restart) come here. */
	for (size_t k = 0; k < n; k++)
		if (list[k] != s && list[k]->state != ST_RUNNING && list[k]->stdin_fd < 0 && relay_sessions(list[k]) > 0)
			relay_move_sessions(list[k], "is not running");
	for (size_t k = 0; k < n; k++) {
		if (list[k]->rolling_pending) {
			log_info(s->conf.name, NULL, "running again: the rolling restart goes on with the next replica");
			restart_next(list, n);
			break;
		}
	}
	free(list);
}
