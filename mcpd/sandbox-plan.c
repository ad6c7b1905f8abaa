/*
 * The sandbox of one server: see sandbox.h; the parent's side. The Landlock
 * probe at start, a plan per start (which mechanisms, what to hide: no file
 * system access here, the child resolves paths), the status, and which
 * control-socket peers belong to a sandboxed server.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "daemon.h"
#include "history.h"
#include "jsonw.h"
#include "log.h"
#include "manifest.h"
#include "sandbox.h"
#include "server.h"
#include "strutil.h"
#include "strv.h"
#include "xmalloc.h"

#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

static int landlock_abi = -1;		/* probed by sandbox_setup; -1 before */

static int probe_landlock(char *why, size_t size)
{
#ifdef SYS_landlock_create_ruleset
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	if (v >= 1)
		return (int)v;
	if (errno == EOPNOTSUPP)
		snprintf(why, size, "Landlock is built into the kernel but off (add landlock to lsm= on its command line)");
	else if (errno == ENOSYS)
		snprintf(why, size, "this kernel has no Landlock (Linux 5.13 or later with landlock in lsm=)");
	else
		snprintf(why, size, "probing Landlock failed: %s", strerror(errno));
#else
	snprintf(why, size, "mcpd was built without Landlock's system calls");
#endif
	return 0;
}

static const char *abi_features(int abi)
{
	if (abi >= 6)
		return "files, TCP ports, scopes";
	if (abi >= 4)
		return "files, TCP ports";
	return "files";
}

void sandbox_setup(struct daemon *d)
{
	const char *force = getenv("MCPD_LANDLOCK_ABI");
	char why[200] = "";

	(void)d;
	landlock_abi = probe_landlock(why, sizeof(why));
	/* For tests: pretend the kernel offers less (never more) than it does. */
	if (force && *force) {
		char *end;
		long v = strtol(force, &end, 10);

		if (*end || v < 0) {
			log_warning(NULL, NULL, "sandbox: ignoring MCPD_LANDLOCK_ABI=\"%.20s\": not a number", force);
		} else if (v < landlock_abi) {
			landlock_abi = (int)v;
			snprintf(why, sizeof(why), "MCPD_LANDLOCK_ABI=%ld pretends this kernel has no Landlock", v);
		}
	}
	if (landlock_abi > 0)
		log_info(NULL, NULL, "sandbox: Landlock ABI %d (%s)", landlock_abi, abi_features(landlock_abi));
	else
		log_info(NULL, NULL, "sandbox: no Landlock: %s; a sandbox with best_effort: false will not start", why);
}

/* ---- plans ------------------------------------------------------------------ */

void sandbox_plan_free(struct sandbox_plan *plan)
{
	if (!plan)
		return;
	free(plan->name);
	strv_free(plan->writable);
	strv_free(plan->readable);
	strv_free(plan->hidden);
	free(plan->exe);
	strv_free(plan->mechanisms);
	strv_free(plan->missing);
	free(plan);
}

/* Whether the server's processes run as root: mcpd's user when it sets none. */
static bool runs_as_root(const struct server *s)
{
	if (!s->d->is_root)
		return false;
	if (!s->conf.user)
		return true;
	return strcmp(s->conf.user, "root") == 0 || strcmp(s->conf.user, "0") == 0;
}

/* mcpd's files, from the manifest in force, every server's and mcpd's own defaults. */
static void plan_hidden(const struct daemon *d, struct sandbox_plan *p)
{
	char **h = d->manifest ? manifest_hidden_paths(d->manifest) : xcalloc(1, sizeof(char *));
	size_t n = 0;

	while (h[n])
		n++;
	/* The manifest gave up its servers once they held their own: every server's files, from them. */
	for (size_t i = 0; i < d->nservers; i++)
		manifest_server_hidden_paths(&d->servers[i]->conf, &h, &n);
	if (d->manifest_path && d->manifest_path[0] == '/')
		strv_add_unique(&h, &n, d->manifest_path);
	strv_add_unique(&h, &n, d->socket_path);
	if (d->history)
		strv_add_unique(&h, &n, history_state_dir(d->history));
	p->hidden = h;
}

/* A missing mechanism: an error without best_effort, else one more entry in "missing". */
static int lack(struct sandbox_plan *p, size_t *nmissing, const char *what, const char *why, char **error)
{
	if (!p->best_effort) {
		xasprintf(error, "%s; set sandbox.best_effort: true to run without it", why);
		return -EOPNOTSUPP;
	}
	strv_add_unique(&p->missing, nmissing, what);
	log_warning(p->name, NULL, "sandbox: starting without %s (best_effort): %s", what, why);
	return 0;
}

int sandbox_plan_build(struct server *s, struct sandbox_plan **ret, char **error)
{
	const struct sandbox_conf *c = &s->conf.sandbox;
	struct sandbox_plan *p;
	size_t nmech = 0, nmissing = 0;
	char buf[64];
	int r = 0;

	*ret = NULL;
	*error = NULL;
	if (!c->enabled)
		return 0;
	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(s->conf.name);
	p->writable = c->writable ? strv_dup(c->writable, c->nwritable) : xcalloc(1, sizeof(char *));	/* never NULL */
	p->readable = c->readable ? strv_dup(c->readable, c->nreadable) : NULL;
	p->network = c->network;
	p->private_tmp = c->private_tmp;
	p->best_effort = c->best_effort;
	p->mechanisms = xcalloc(1, sizeof(char *));
	p->missing = xcalloc(1, sizeof(char *));
	if (p->readable && s->conf.command && strchr(s->conf.command[0], '/'))
		p->exe = xstrdup(s->conf.command[0]);
	plan_hidden(s->d, p);
	p->landlock_abi = landlock_abi > 0 ? landlock_abi : 0;

	strv_add_unique(&p->mechanisms, &nmech, "no_new_privs");
	/* A server that runs as root too: root's uid without root's capabilities. */
	p->drop_caps = s->d->is_root;
	strv_add_unique(&p->mechanisms, &nmech, "capabilities dropped");
	if (runs_as_root(s) && s->restarts == 0)
		log_warning(p->name, NULL,
			    "sandbox: %s runs as root: it has no capabilities, but root's user ID still opens what "
			    "Landlock lets through and root's own Unix sockets, whose services may trust it (systemd's "
			    "/run/systemd/private, docker.sock), network: false or not; give it a user of its own (user:)",
			    p->name);
	if (p->landlock_abi > 0) {
		snprintf(buf, sizeof(buf), "landlock ABI %d", p->landlock_abi);
		strv_add_unique(&p->mechanisms, &nmech, buf);
		if (p->landlock_abi >= 6)
			strv_add_unique(&p->mechanisms, &nmech, "landlock signal scope");
	} else {
		r = lack(p, &nmissing, "landlock",
			 "this kernel has no Landlock (Linux 5.13 with landlock in lsm=), needed for writable, readable "
			 "and hiding mcpd's files", error);
	}
#ifdef HAVE_SECCOMP
	/* Landlock does not govern chmod: root's uid could chmod any root file. */
	if (runs_as_root(s)) {
		p->seccomp_chmod = true;
		strv_add_unique(&p->mechanisms, &nmech, "seccomp chmod filter");
	}
#endif
	if (r == 0 && !p->network) {
		if (s->d->is_root) {
			p->netns = true;
			strv_add_unique(&p->mechanisms, &nmech, "network namespace");
		} else {
#ifdef HAVE_SECCOMP
			p->seccomp_net = true;
			strv_add_unique(&p->mechanisms, &nmech, "seccomp socket filter");
#else
			if (p->landlock_abi < 4)
				r = lack(p, &nmissing, "network: false",
					 "network: false needs mcpd to run as root (a network namespace), or mcpd built "
					 "with libseccomp", error);
			else
				r = lack(p, &nmissing, "non-TCP network filter",
					 "network: false without root nor libseccomp only blocks TCP (Landlock)", error);
#endif
		}
		if (p->landlock_abi >= 4)
			strv_add_unique(&p->mechanisms, &nmech, "landlock TCP bind/connect denied");
		if (p->landlock_abi >= 6)
			strv_add_unique(&p->mechanisms, &nmech, "landlock abstract unix sockets scoped");
	}
	if (r == 0 && p->private_tmp) {
		if (s->d->is_root) {
			p->mountns = true;
			strv_add_unique(&p->mechanisms, &nmech, "mount namespace");
		} else {
			r = lack(p, &nmissing, "private_tmp",
				 "private_tmp needs mcpd to run as root (a mount namespace with its own /tmp and /var/tmp)",
				 error);
		}
	}
	if (r < 0) {
		sandbox_plan_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

/* ---- status ------------------------------------------------------------------- */

static void write_strings(struct jsonw *w, const char *key, char *const *v)
{
	jsonw_key(w, key);
	jsonw_char(w, '[');
	for (char *const *i = v; i && *i; i++) {
		jsonw_item(w);
		jsonw_string(w, *i);
	}
	jsonw_char(w, ']');
}

void sandbox_status_write(const struct server *s, struct jsonw *w)
{
	const struct sandbox_plan *p = s->sandbox;

	jsonw_key(w, "sandbox");
	if (!p) {
		jsonw_null(w);
		return;
	}
	jsonw_char(w, '{');
	write_strings(w, "writable", p->writable);
	if (p->readable) {
		write_strings(w, "readable", p->readable);
	} else {
		jsonw_key(w, "readable");
		jsonw_null(w);
	}
	jsonw_key(w, "network");
	jsonw_bool(w, p->network);
	jsonw_key(w, "private_tmp");
	jsonw_bool(w, p->private_tmp);
	jsonw_key(w, "best_effort");
	jsonw_bool(w, p->best_effort);
	write_strings(w, "hidden", p->hidden);
	write_strings(w, "mechanisms", p->mechanisms);
	write_strings(w, "missing", p->missing);
	jsonw_key(w, "control_refused");
	jsonw_number(w, (double)p->control_refused);
	jsonw_char(w, '}');
}

/* ---- the control socket's peers ----------------------------------------------- */

/* The cgroup2 path of pid ("0::PATH" in /proc/PID/cgroup), into buf; false when unknown. */
static bool peer_cgroup(pid_t pid, char *buf, size_t size)
{
	char path[64], data[4096];
	const char *line;
	ssize_t n;
	size_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return false;
	data[n] = '\0';
	for (line = data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line += 3;
		len = strcspn(line, "\n");
		if (len == 0 || len >= size)
			return false;
		memcpy(buf, line, len);
		buf[len] = '\0';
		return true;
	}
	return false;
}

/*
 * Whether the cgroup at (mount-relative) rel is dir (an absolute directory
 * under the cgroup2 mount) or beneath it: dir ends with rel, or with a
 * leading part of rel that ends at a '/'. At least min bytes must match:
 * "/PARENT/NAME", so that a process in some cgroup "/NAME" elsewhere is not
 * taken for the server's.
 */
static bool cgroup_within(const char *rel, const char *dir, size_t min)
{
	size_t dlen = strlen(dir), rlen = strlen(rel);

	for (size_t cut = rlen; cut >= min && cut > 1; cut--) {
		if (cut < rlen && rel[cut] != '/')
			continue;
		if (cut <= dlen && memcmp(dir + dlen - cut, rel, cut) == 0)
			return true;
	}
	return false;
}

static bool peer_of(const struct server *s, pid_t pid, const char *cg)
{
	if (cg) {
		const char *base = cgroup_base(), *parent = strrchr(base, '/');
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/%s", base, s->conf.name);
		return cgroup_within(cg, dir, strlen(parent ? parent : base) + 1 + strlen(s->conf.name));
	}
	return pid == s->pid || getpgid(pid) == s->pid || getsid(pid) == s->pid;
}

bool sandbox_refuse_peer(struct daemon *d, pid_t pid, char *msg, size_t size)
{
	char cgbuf[4096];
	const char *cg = NULL;
	bool any = false;

	for (size_t i = 0; i < d->nservers && !any; i++)
		any = d->servers[i]->sandbox && d->servers[i]->pid > 0;
	if (!any || pid <= 0)
		return false;
	if (cgroup_enabled() && peer_cgroup(pid, cgbuf, sizeof(cgbuf)))
		cg = cgbuf;
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];
		struct sandbox_plan *p = s->sandbox;

		if (!p || s->pid <= 0 || !peer_of(s, pid, cg))
			continue;
		if (p->control_refused++ == 0)
			log_warning(s->conf.name, NULL,
				    "control: refused pid %d: it belongs to sandboxed server %s, which may not use mcpd's "
				    "control socket (further refusals are counted in its status, sandbox.control_refused)",
				    (int)pid, s->conf.name);
		snprintf(msg, size, "permission denied: pid %d belongs to sandboxed server %s, which may not use "
			 "mcpd's control socket", (int)pid, s->conf.name);
		return true;
	}
	return false;
}
