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
 * Validate buf, diff it against the servers and apply the difference (or only
 * show it). what names the operation in messages: "reload" or "rollback to
 * HASH"; action is the history's: "reload" or "rollback".
 */
static int apply(struct daemon *d, const char *buf, size_t len, const char *what, const char *action,
		 const struct reload_who *who, bool dry_run, cJSON **ret_result, cJSON **ret_errors)
{
	struct manifest_errors errs = { 0 };
	struct manifest *m = NULL;
	cJSON *result, *added, *removed, *changed, *checks_changed, *warnings;
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
	for (size_t i = 0; i < m->nservers; i++) {
		const struct server *s = daemon_find_server(d, m->servers[i].name);

		if (!s || s->removed) {
			cJSON_AddItemToArray(added, cJSON_CreateString(m->servers[i].name));
		} else if (!server_conf_equal(&s->conf, &m->servers[i])) {
			cJSON_AddItemToArray(changed, cJSON_CreateString(m->servers[i].name));
		} else {
			if (!server_conf_checks_equal(&s->conf, &m->servers[i]))
				cJSON_AddItemToArray(checks_changed, cJSON_CreateString(m->servers[i].name));
			unchanged++;
		}
	}
	for (size_t i = 0; i < d->nservers; i++)
		if (!d->servers[i]->removed && !manifest_find_server(m, d->servers[i]->conf.name))
			cJSON_AddItemToArray(removed, cJSON_CreateString(d->servers[i]->conf.name));
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
			struct server *s = daemon_find_server(d, it->valuestring);

			daemon_remove_server(d, s);
		}
		cJSON_ArrayForEach(it, checks_changed) {
			struct server *s = daemon_find_server(d, it->valuestring);

			server_set_conf(s, manifest_find_server(m, it->valuestring));
			deep_check_conf_changed(s);
			log_notice(s->conf.name, NULL, "%s: health checks changed; applied at the next probe, without a restart",
				   what);
		}
		cJSON_ArrayForEach(it, changed) {
			struct server *s = daemon_find_server(d, it->valuestring);

			server_set_conf(s, manifest_find_server(m, it->valuestring));
			if (s->wanted)
				lifecycle_event(s, SE_RESTART,
						&(struct event_arg){ .reason = "configuration changed by reload" });
		}
		cJSON_ArrayForEach(it, added) {
			const struct server_conf *conf = manifest_find_server(m, it->valuestring);
			struct server *s = daemon_find_server(d, it->valuestring);

			if (s) {
				/* Removed by an earlier reload and still stopping: take it back. */
				s->removed = false;
				server_set_conf(s, conf);
				if (s->conf.autostart)
					lifecycle_event(s, SE_RESTART, NULL);
				continue;
			}
			s = daemon_add_server(d, conf);
			if (s->conf.autostart)
				daemon_autostart(d, s);	/* in batches, like at startup */
		}
	}
	policy = d->manifest->has_agents || m->has_agents;
	manifest_free(d->manifest);
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
