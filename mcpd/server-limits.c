/*
 * The resource limits of one server: see server-limits.h.
 *
 * Which mechanism bounds each limit is decided once, at start, from the
 * controllers mcpd could enable for the servers' cgroups; status reports that
 * decision without reading anything. Per server there is only what its exit
 * needs: memory.events' counts at its start, and the limit then in force.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "daemon.h"
#include "jsonw.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "server-limits.h"
#include "server.h"
#include "spawn.h"
#include "xmalloc.h"

struct server_limits {
	bool events_known;		/* memory.events was read at its last start */
	uint64_t oom_kills;		/* its oom_kill count then */
	uint64_t ooms;			/* its oom count then (the cgroup reached memory.max) */
	bool limited;			/* limits.memory was set (and not unlimited) at its last start */
	char memory[sizeof(((struct limit_conf *)0)->text)];	/* limits.memory as written, at its last start */
	uint64_t oom_kills_total;	/* OOM kills seen at its exits, for the metric */
};

/* The limits the mechanism line names: each is named once, when a server first sets it. */
enum { L_MEMORY, L_MEMORY_HIGH, L_CPU, L_PIDS, L__COUNT };

static struct {
	bool on[CGROUP_NCONTROLLERS];
	char why[CGROUP_NCONTROLLERS][CGROUP_WHY_MAX];
	bool named[L__COUNT];
} lim;

/* The mechanism of limit l, e.g. "cgroup memory.max" or "not enforced: WHY". */
static void mechanism(int l, char *buf, size_t size)
{
	switch (l) {
	case L_MEMORY:
		if (lim.on[CGROUP_MEMORY])
			snprintf(buf, size, "cgroup memory.max");
		else
			snprintf(buf, size, "RLIMIT_DATA per process");
		break;
	case L_MEMORY_HIGH:
		if (lim.on[CGROUP_MEMORY])
			snprintf(buf, size, "cgroup memory.high");
		else
			snprintf(buf, size, "not enforced: %s", lim.why[CGROUP_MEMORY]);
		break;
	case L_CPU:
		if (lim.on[CGROUP_CPU])
			snprintf(buf, size, "cgroup cpu.max");
		else
			snprintf(buf, size, "not enforced: %s", lim.why[CGROUP_CPU]);
		break;
	default:
		if (lim.on[CGROUP_PIDS])
			snprintf(buf, size, "cgroup pids.max");
		else
			snprintf(buf, size, "not enforced: %s", lim.why[CGROUP_PIDS]);
		break;
	}
}

static const struct limit_conf *limit_of(const struct limits_conf *c, int l)
{
	switch (l) {
	case L_MEMORY:
		return &c->memory;
	case L_MEMORY_HIGH:
		return &c->memory_high;
	case L_CPU:
		return &c->cpu;
	default:
		return &c->pids;
	}
}

/*
 * One line naming the mechanism of each limit that conf sets and no line named
 * before: at start for the manifest's servers, later for a reload that adds one.
 */
static void name_mechanisms(const struct server_conf *const *confs, size_t n)
{
	static const char *const names[L__COUNT] = { "memory", "memory_high", "cpu", "pids" };
	char line[1024] = "", mech[CGROUP_WHY_MAX + 32];
	bool weak = false;
	size_t len = 0;

	for (int l = 0; l < L__COUNT; l++) {
		bool used = false;

		for (size_t i = 0; i < n && !used; i++)
			used = limit_of(&confs[i]->limits, l)->set;
		if (!used || lim.named[l])
			continue;
		lim.named[l] = true;
		mechanism(l, mech, sizeof(mech));
		if (strncmp(mech, "not enforced: ", 14) == 0) {
			weak = true;
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s not enforced (%s)", len ? ", " : "",
						names[l], mech + 14);
		} else if (l == L_MEMORY && !lim.on[CGROUP_MEMORY]) {
			weak = true;
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%smemory by RLIMIT_DATA per process (%s)",
						len ? ", " : "", lim.why[CGROUP_MEMORY]);
		} else {
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s by %s", len ? ", " : "", names[l],
						mech);
		}
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
	}
	if (!len)
		return;
	if (weak)
		log_warning(NULL, NULL, "limits: %s", line);
	else
		log_notice(NULL, NULL, "limits: %s", line);
}

void limits_setup(struct daemon *d)
{
	const struct server_conf **confs;
	size_t n = d->manifest ? d->manifest->nservers : 0;

	cgroup_enable_controllers(lim.on, lim.why);
	confs = xcalloc(n ? n : 1, sizeof(*confs));
	for (size_t i = 0; i < n; i++)
		confs[i] = &d->manifest->servers[i];
	name_mechanisms(confs, n);
	free(confs);
}

static int write_limit(struct server *s, const char *file, const char *text)
{
	int r = cgroup_write(s->conf.name, file, text);

	if (r < 0)
		snprintf(s->fail_reason, sizeof(s->fail_reason), "cannot set %s of its cgroup %s/%s to \"%s\": %s", file,
			 cgroup_base(), s->conf.name, text, strerror(-r));
	return r;
}

static void bytes_text(const struct limit_conf *l, char *buf, size_t size)
{
	if (!l->set || l->value == UINT64_MAX)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%llu", (unsigned long long)l->value);
}

/* memory.max, memory.high and memory.swap.max; "max" for what the manifest does not set (a reload may drop it). */
static int memory_files(struct server *s, const struct limits_conf *c)
{
	char text[32];
	int r;

	bytes_text(&c->memory, text, sizeof(text));
	if ((r = write_limit(s, "memory.max", text)) < 0)
		return r;
	bytes_text(&c->memory_high, text, sizeof(text));
	if ((r = write_limit(s, "memory.high", text)) < 0)
		return r;
	/* limits.memory bounds all its memory, as RLIMIT_DATA did: none of it goes to swap instead. */
	snprintf(text, sizeof(text), "%s", c->memory.set && c->memory.value != UINT64_MAX ? "0" : "max");
	r = cgroup_write(s->conf.name, "memory.swap.max", text);
	if (r == -ENOENT)
		return 0;	/* no swap accounting (swapaccount=0, or no swap at all) */
	if (r < 0)
		return write_limit(s, "memory.swap.max", text);
	return 0;
}

/* Where the next exit's OOM kill is told from: memory.events as of now. */
static void remember_events(struct server *s, struct server_limits *sl)
{
	char buf[1024];
	int n = cgroup_read(s->conf.name, "memory.events", buf, sizeof(buf));

	sl->events_known = n >= 0 && cgroup_keyed_get(buf, (size_t)n, "oom_kill", &sl->oom_kills) == 0;
	if (!sl->events_known || cgroup_keyed_get(buf, (size_t)n, "oom", &sl->ooms) < 0)
		sl->ooms = 0;
}

int limits_before_spawn(struct server *s, struct spawn_req *req)
{
	const struct limits_conf *c = &s->conf.limits;
	const struct server_conf *conf = &s->conf;
	struct server_limits *sl;
	char text[48];
	int r;

	name_mechanisms(&conf, 1);
	if (!s->limits)
		s->limits = xcalloc(1, sizeof(*s->limits));
	sl = s->limits;
	sl->events_known = false;
	sl->limited = c->memory.set && c->memory.value != UINT64_MAX;
	snprintf(sl->memory, sizeof(sl->memory), "%s", c->memory.text);
	if (!cgroup_enabled())
		return 0;
	if (lim.on[CGROUP_MEMORY]) {
		req->memory_by_cgroup = true;
		if ((r = memory_files(s, c)) < 0)
			return r;
		remember_events(s, sl);
	}
	if (lim.on[CGROUP_CPU]) {
		cgroup_cpu_max_text(c->cpu.set ? c->cpu.value : UINT64_MAX, LIMITS_CPU_PERIOD, text, sizeof(text));
		if ((r = write_limit(s, "cpu.max", text)) < 0)
			return r;
	}
	if (lim.on[CGROUP_PIDS]) {
		bytes_text(&c->pids, text, sizeof(text));
		if ((r = write_limit(s, "pids.max", text)) < 0)
			return r;
	}
	return 0;
}

bool limits_exit_reason(struct server *s, int status, char *buf, size_t size)
{
	struct server_limits *sl = s->limits;
	char events[1024], oom[96], how[128];
	uint64_t kills;
	int n;

	if (!sl || !sl->events_known)
		return false;
	n = cgroup_read(s->conf.name, "memory.events", events, sizeof(events));
	if (n < 0 || !cgroup_oom_since(events, (size_t)n, sl->oom_kills, sl->ooms, sl->limited ? sl->memory : NULL,
				       oom, sizeof(oom)))
		return false;
	if (cgroup_keyed_get(events, (size_t)n, "oom_kill", &kills) == 0 && kills > sl->oom_kills)
		sl->oom_kills_total += kills - sl->oom_kills;
	sl->events_known = false;	/* counted once */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
		snprintf(buf, size, "killed: %s", oom);
	} else {
		/* The kernel killed another of its processes; the server then ended on its own. */
		describe_wait_status(status, how, sizeof(how));
		snprintf(buf, size, "%s after one of its processes was killed: %s", how, oom);
	}
	return true;
}

void server_limits_free(struct server *s)
{
	free(s->limits);
	s->limits = NULL;
}

/* The manifest's value as written: a number where it is one (0.5, 1024), else the text ("512M"). */
static void status_value(struct jsonw *w, const struct limit_conf *l)
{
	char *end;
	double v;

	jsonw_key(w, "value");
	if (l->text[0] >= '0' && l->text[0] <= '9') {
		v = strtod(l->text, &end);
		if (*end == '\0') {
			jsonw_number(w, v);
			return;
		}
	}
	jsonw_string(w, l->text);
}

static void status_limit(struct jsonw *w, const char *key, const struct limit_conf *l, const char *by)
{
	if (!l->set)
		return;
	jsonw_key(w, key);
	jsonw_char(w, '{');
	status_value(w, l);
	jsonw_key(w, "by");
	jsonw_string(w, by);
	jsonw_char(w, '}');
}

static void write_string_or_null(struct jsonw *w, const char *key, const char *v)
{
	jsonw_key(w, key);
	if (v)
		jsonw_string(w, v);
	else
		jsonw_null(w);
}

void limits_status_write(const struct server *s, struct jsonw *w)
{
	const struct limits_conf *l = &s->conf.limits;
	bool applied = s->d->is_root;
	char mech[CGROUP_WHY_MAX + 32], path[512];

	write_string_or_null(w, "user", applied ? s->conf.user : NULL);
	write_string_or_null(w, "group", applied ? s->conf.group : NULL);
	jsonw_key(w, "cgroup");
	if (cgroup_enabled() && s->conf.transport == TRANSPORT_STDIO) {	/* an http server has no process of mcpd's */
		snprintf(path, sizeof(path), "%s/%s", cgroup_base(), s->conf.name);
		jsonw_string(w, path);
	} else {
		jsonw_null(w);
	}
	jsonw_key(w, "limits");
	jsonw_char(w, '{');
	mechanism(L_MEMORY, mech, sizeof(mech));
	status_limit(w, "memory", &l->memory, mech);
	mechanism(L_MEMORY_HIGH, mech, sizeof(mech));
	status_limit(w, "memory_high", &l->memory_high, mech);
	mechanism(L_CPU, mech, sizeof(mech));
	status_limit(w, "cpu", &l->cpu, mech);
	mechanism(L_PIDS, mech, sizeof(mech));
	status_limit(w, "pids", &l->pids, mech);
	status_limit(w, "cpu_time", &l->cpu_time, "RLIMIT_CPU");
	status_limit(w, "nofile", &l->nofile, "RLIMIT_NOFILE");
	status_limit(w, "nproc", &l->nproc, "RLIMIT_NPROC");
	status_limit(w, "core", &l->core, "RLIMIT_CORE");
	status_limit(w, "stack", &l->stack, "RLIMIT_STACK");
	jsonw_char(w, '}');
}

void limits_metrics(const struct daemon *d, struct metrics_buf *b)
{
	char label[160];

	if (!lim.on[CGROUP_MEMORY] || !d->nservers)
		return;
	metrics_family(b, "mcpd_server_oom_kills_total", "counter",
		       "Processes of the server the kernel killed for lack of memory (its cgroup's memory.events), "
		       "counted at its exits.");
	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];

		metrics_server(s->conf.name, label, sizeof(label));
		metrics_printf(b, "mcpd_server_oom_kills_total{server=\"%s\"} %llu\n", label,
			       (unsigned long long)(s->limits ? s->limits->oom_kills_total : 0));
	}
}
