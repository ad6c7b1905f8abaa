/*
 * Reload: an invalid manifest changes nothing; a valid one is compared
 * server by server, and only added, removed and changed servers are touched.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggregate.h"
#include "daemon.h"
#include "deep-check.h"
#include "history.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "readfile.h"
#include "replicas.h"
#include "reload.h"
#include "server.h"
#include "xmalloc.h"

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Settings of mcpd itself that only a restart of mcpd applies. */
static void global_warnings(const struct mcpd_conf *old, const struct mcpd_conf *new, cJSON *warnings)
{
	if (str_differs(old->control, new->control))
		cJSON_AddItemToArray(warnings, cJSON_CreateString("mcpd.control changed: restart mcpd to apply it"));
	if (str_differs(old->http, new->http))
		cJSON_AddItemToArray(warnings, cJSON_CreateString("mcpd.http changed: restart mcpd to apply it"));
	if (old->log_format != new->log_format || str_differs(old->log_file, new->log_file))
		cJSON_AddItemToArray(warnings,
				     cJSON_CreateString("mcpd.log_format/log_file changed: restart mcpd to apply it"));
	if (str_differs(old->state_dir, new->state_dir))
		cJSON_AddItemToArray(warnings, cJSON_CreateString("mcpd.state_dir changed: restart mcpd to apply it"));
	if (str_differs(old->gateway.tokens_file, new->gateway.tokens_file))
		cJSON_AddItemToArray(warnings,
				     cJSON_CreateString("mcpd.gateway.tokens_file changed: restart mcpd to apply it"));
}

/*
 * Read the manifest on the loop without ever waiting (read_file: a FIFO does
 * not wait for a writer, anything but a regular file is refused). 0 and a
 * malloc'd buffer, or -errno and a malloc'd message.
 */
static int read_manifest(const char *path, char **ret_buf, size_t *ret_len, char **ret_error)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	mode_t mode = 0;
	int r = read_file(path, MANIFEST_MAX_BYTES, 0, ret_buf, ret_len, &mode);

	if (r == -EINVAL || r == -EISDIR)
		xasprintf(ret_error, "%s is %s, not a regular file", base, file_type_name(mode));
	else if (r == -EFBIG)
		xasprintf(ret_error, "%s is larger than the limit of %d bytes (1 MiB)", base, MANIFEST_MAX_BYTES);
	else if (r < 0)
		xasprintf(ret_error, "cannot read %s: %s", path, strerror(-r));
	return r;
}

/*
 * "web: 2 -> 3 replicas (web#3 is started)", for reload's answer (and
 * --dry-run's): the count, and what happens to the processes.
 */
static void replica_change(cJSON *list, const char *name, unsigned was, unsigned want, const struct server *keep)
{
	char text[320], range[160];

	if (want == 1 && keep->conf.replica != 1)
		snprintf(range, sizeof(range), "the replicas but %s are stopped", keep->conf.name);
	else if (want > was)
		snprintf(range, sizeof(range), want == was + 1 ? "%s#%u is started" : "%s#%u to %s#%u are started", name,
			 was + 1, name, want);
	else
		snprintf(range, sizeof(range), was == want + 1 ? "%s#%u is stopped" : "%s#%u to %s#%u are stopped", name,
			 want + 1, name, was);
	if (was == 1)
		snprintf(text, sizeof(text), "%s: 1 -> %u replicas (%s becomes %s#1, keeping its process and sessions; "
			 "%s)", name, want, name, name, range);
	else if (want == 1)
		snprintf(text, sizeof(text), "%s: %u -> 1 replica (%s; their sessions move to %s, which becomes %s, "
			 "keeping its process)", name, was, range, keep->conf.name, name);
	else
		snprintf(text, sizeof(text), "%s: %u -> %u replicas (%s; the others keep running)", name, was, want, range);
	cJSON_AddItemToArray(list, cJSON_CreateString(text));
}

static void autostart_added(struct daemon *d, struct server *s)
{
	if (s->conf.autostart)
		daemon_autostart(d, s);
}

/* The server or first replica of the entry named name that no reload removed; NULL when none. */
static const struct server *live_server(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->nservers; i++)
		if (!d->servers[i]->removed && replica_in_group(d->servers[i], name))
			return d->servers[i];
	return NULL;
}

/* How many processes the entry runs now: 1 unreplicated, else its replicas no reload removed. */
static unsigned live_replicas(const struct daemon *d, const char *name)
{
	const struct server *s = live_server(d, name);

	return s && s->conf.replica > 0 ? replicas_count(d, name) : 1;
}

/*
 * The server that stands for the entry named name after a reload to want
 * replicas: its first replica, or going to 1, the first one running (so that
 * its sessions and those moved there go on), else the first.
 */
static struct server *kept_server(const struct daemon *d, const char *name, unsigned want)
{
	const struct server *first = live_server(d, name);

	if (!first || first->conf.replica == 0 || want > 1)
		return (struct server *)first;
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (!s->removed && s->state == ST_RUNNING && replica_in_group(s, name))
			return s;
	}
	return (struct server *)first;
}

/*
 * replicas: N -> M: remove the highest replicas, add the new ones. Between 1
 * and N the running process stays: NAME becomes NAME#1 (or NAME#1 NAME), so
 * that no client session is lost and what is keyed by the server follows it.
 */
static void resize(struct daemon *d, const struct server_conf *conf)
{
	unsigned was, want = conf->replicas > 1 ? conf->replicas : 1;
	struct server *s = kept_server(d, conf->name, want);
	size_t n;
	struct server **list;

	if (!s)
		return;
	was = live_replicas(d, conf->name);
	if (was == want)
		return;
	list = replicas_list(d, conf->name, &n);
	for (size_t k = n; k-- > 0;) {
		if (list[k]->removed || list[k] == s)
			continue;
		if (list[k]->conf.replica > want || want == 1)
			daemon_remove_server(d, list[k]);
		else if (replica_conf_equal(list[k], conf))
			replica_set_conf(list[k], conf);	/* MCPD_REPLICAS is the new N from its next start */
	}
	free(list);
	if (want == 1) {
		replicas_rollout_forget(d, conf->name);	/* the rest is compared as any server */
		log_notice(conf->name, NULL, "replicas: %u -> 1: stopping the replicas but %s, which becomes %s", was,
			   s->conf.name, conf->name);
	}
	if (was == 1 || want == 1)
		replica_rename(s, want > 1 ? 1 : 0, want);
	else if (replica_conf_equal(s, conf))
		replica_set_conf(s, conf);
	if (want > was) {
		log_notice(conf->name, NULL, "replicas: %u -> %u: starting %s#%u to %s#%u", was, want, conf->name, was + 1,
			   conf->name, want);
		replicas_add(d, conf, was + 1, autostart_added);
	} else if (want > 1) {
		log_notice(conf->name, NULL, "replicas: %u -> %u: stopping %s#%u to %s#%u", was, want, conf->name, want + 1,
			   conf->name, was);
	}
}

/*
 * Validate buf, diff it against the servers and apply the difference (or only
 * show it). what names the operation in messages: "reload" or "rollback to
 * HASH"; action is the history's: "reload" or "rollback".
 */
static int apply(struct daemon *d, const char *buf, size_t len, const char *what, const char *action,
		 const struct reload_who *who, bool dry_run, cJSON **ret_result, cJSON **ret_errors)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;
	cJSON *result, *added, *removed, *changed, *checks_changed, *replicas, *warnings;
	unsigned unchanged = 0;
	bool policy;

	manifest_parse_buffer(d->manifest_path, buf, len, 0, &m, &errs);
	if (!m) {
		cJSON *list = cJSON_CreateArray();

		log_error(NULL, NULL, "%s: %s is invalid; still running the previous manifest", what,
			  strcmp(action, "reload") == 0 ? d->manifest_path : "the stored manifest");
		for (size_t i = 0; i < errs.n; i++) {
			log_error(NULL, NULL, "%s: %s", what, errs.items[i].text);
			cJSON_AddItemToArray(list, cJSON_CreateString(errs.items[i].text));
		}
		manifest_errors_clear(&errs);
		*ret_errors = list;
		return -EINVAL;
	}
	warnings = cJSON_CreateArray();
	for (size_t i = 0; i < errs.n; i++)
		cJSON_AddItemToArray(warnings, cJSON_CreateString(errs.items[i].text));
	manifest_errors_clear(&errs);

	result = cJSON_CreateObject();
	cJSON_AddStringToObject(result, "manifest", d->manifest_path);
	added = cJSON_AddArrayToObject(result, "added");
	removed = cJSON_AddArrayToObject(result, "removed");
	changed = cJSON_AddArrayToObject(result, "changed");
	/* Deep checks are read at each round: a change to them alone needs no restart. */
	checks_changed = cJSON_AddArrayToObject(result, "checks_changed");
	/* replicas: N changed: "web: 2 -> 3 replicas"; the replicas kept are compared as any server. */
	replicas = cJSON_AddArrayToObject(result, "replicas");
	for (size_t i = 0; i < m->nservers; i++) {
		unsigned want = m->servers[i].replicas;
		const struct server *s = kept_server(d, m->servers[i].name, want);
		unsigned was = s ? live_replicas(d, m->servers[i].name) : 0;

		if (s && was != want)
			replica_change(replicas, m->servers[i].name, was, want, s);
		if (!s) {
			cJSON_AddItemToArray(added, cJSON_CreateString(m->servers[i].name));
		} else if (!replica_conf_equal(s, &m->servers[i])) {
			cJSON_AddItemToArray(changed, cJSON_CreateString(m->servers[i].name));
		} else {
			if (!server_conf_checks_equal(&s->conf, &m->servers[i]))
				cJSON_AddItemToArray(checks_changed, cJSON_CreateString(m->servers[i].name));
			unchanged++;
		}
	}
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];
		char group[80];

		snprintf(group, sizeof(group), "%.*s", (int)replica_group_len(s->conf.name), s->conf.name);
		if (!s->removed && replica_first(s) && !manifest_find_server(m, group))
			cJSON_AddItemToArray(removed, cJSON_CreateString(group));
	}
	global_warnings(&d->manifest->mcpd, &m->mcpd, warnings);
	cJSON_AddNumberToObject(result, "unchanged", unchanged);
	cJSON_AddBoolToObject(result, "applied", !dry_run);
	cJSON_AddItemToObject(result, "warnings", warnings);
	if (dry_run) {
		manifest_free(m);
		*ret_result = result;
		return 0;
	}

	log_notice(NULL, NULL, "%s: %d added, %d removed, %d changed, %u unchanged", what, cJSON_GetArraySize(added),
		   cJSON_GetArraySize(removed), cJSON_GetArraySize(changed), unchanged);
	{
		const cJSON *it;

		cJSON_ArrayForEach(it, removed) {
			size_t n;
			struct server **list = replicas_list(d, it->valuestring, &n);

			replicas_rollout_forget(d, it->valuestring);
			for (size_t k = n; k-- > 0;)	/* the highest replica first */
				if (!list[k]->removed)
					daemon_remove_server(d, list[k]);
			free(list);
		}
		/* replicas: N -> M: replicas past M are removed, M+1.. are added, NAME <-> NAME#1 renamed. */
		for (size_t i = 0; i < m->nservers; i++)
			resize(d, &m->servers[i]);
		cJSON_ArrayForEach(it, checks_changed) {
			size_t n;
			struct server **list = replicas_list(d, it->valuestring, &n);

			for (size_t k = 0; k < n; k++) {
				struct server *s = list[k];

				if (s->removed)
					continue;
				replica_set_conf(s, manifest_find_server(m, it->valuestring));
				deep_check_conf_changed(s);
				log_notice(s->conf.name, NULL, "%s: health checks changed; applied at the next probe, without "
					   "a restart", what);
			}
			free(list);
		}
		cJSON_ArrayForEach(it, changed) {
			size_t n;
			struct server **list = replicas_list(d, it->valuestring, &n);

			size_t nchanged = 0;

			for (size_t k = 0; k < n; k++) {
				struct server *s = list[k];

				if (s->removed || replica_conf_equal(s, manifest_find_server(m, it->valuestring)))
					continue;	/* added by this reload (replicas: N -> M) with its new conf */
				list[nchanged++] = s;
				if (s->conf.replica > 0)
					continue;	/* the rolling restart gives it the new conf at its turn */
				replica_set_conf(s, manifest_find_server(m, it->valuestring));
				if (s->wanted)
					lifecycle_event(s, SE_RESTART,
							&(struct event_arg){ .reason = "configuration changed by reload" });
			}
			/* Replicas restart one at a time: the others keep serving meanwhile. */
			if (nchanged > 0 && list[0]->conf.replica > 0)
				replicas_rolling_restart(d, manifest_find_server(m, it->valuestring), list, nchanged);
			free(list);
		}
		cJSON_ArrayForEach(it, added) {
			const struct server_conf *conf = manifest_find_server(m, it->valuestring);
			struct server *s = daemon_find_server(d, it->valuestring);

			if (s && conf->replicas <= 1 && s->conf.replica == 0 && s->removed) {
				/* Removed by an earlier reload and still stopping: take it back. */
				s->removed = false;
				server_set_conf(s, conf);
				if (s->conf.autostart)
					lifecycle_event(s, SE_RESTART, NULL);
				continue;
			}
			replicas_add(d, conf, 1, autostart_added);	/* in batches, like at startup */
		}
	}
	policy = d->manifest->has_agents || m->has_agents;
	manifest_free(d->manifest);
	manifest_release_servers(m);	/* each server holds its own copy */
	d->manifest = m;
	if (policy)
		aggregate_policy_changed(d);
	history_set_keep(d->history, m->mcpd.history);
	http_reload(d->http);
	history_record(d->history, buf, len, action, who->name, who->uid, result);
	*ret_result = result;
	return 0;
}

/* A list of one message, for *ret_errors. */
static cJSON *one_error(const char *text)
{
	cJSON *list = cJSON_CreateArray();

	cJSON_AddItemToArray(list, cJSON_CreateString(text));
	return list;
}

int reload_manifest(struct daemon *d, const struct reload_who *who, bool dry_run, cJSON **ret_result,
		    cJSON **ret_errors)
{
	char *buf = NULL, *error = NULL;
	size_t len = 0;
	int r;

	*ret_result = NULL;
	*ret_errors = NULL;
	if (read_manifest(d->manifest_path, &buf, &len, &error) < 0) {
		char *text;

		xasprintf(&text, "%s; reload refused, the running manifest stays in force", error);
		log_error(NULL, NULL, "reload: %s", text);
		*ret_errors = one_error(text);
		free(text);
		free(error);
		return -EINVAL;
	}
	r = apply(d, buf, len, "reload", "reload", who, dry_run, ret_result, ret_errors);
	free(buf);
	return r;
}

int reload_rollback(struct daemon *d, const char *hash, const struct reload_who *who, bool dry_run,
		    cJSON **ret_result, cJSON **ret_errors)
{
	char full[SHA256_HEX_LEN + 1], what[64], *error = NULL, *copy;
	const char *buf;
	size_t len;
	int r;

	*ret_result = NULL;
	*ret_errors = NULL;
	r = history_lookup(d->history, hash, &buf, &len, full, &error);
	if (r < 0) {
		*ret_errors = one_error(error);
		free(error);
		return r;
	}
	snprintf(what, sizeof(what), "rollback to %.*s", HISTORY_SHORT, full);
	/* The history may prune this very content when the rollback is recorded: work on a copy. */
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	r = apply(d, copy, len, what, "rollback", who, dry_run, ret_result, ret_errors);
	free(copy);
	if (r == 0)
		cJSON_AddStringToObject(*ret_result, "hash", full);
	return r;
}
