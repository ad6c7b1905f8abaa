/* Resources per server and of mcpd itself: see resources.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "daemon.h"
#include "jsonw.h"
#include "log.h"
#include "metrics.h"
#include "procstat.h"
#include "resources.h"
#include "server.h"
#include "xmalloc.h"

#define STAT_MAX	2048		/* /proc/PID/stat: about 300 bytes */
#define PROCS_MAX	(1024 * 1024)	/* cgroup.procs: 140 000 pids */

/* A process's CPU time when last seen: kept after it is gone, so the counter never drops. */
struct pid_cpu {
	pid_t pid;
	uint64_t start;		/* starttime: tells a reused pid from the process seen before */
	uint64_t usec;
};

/* What one round gathered for one server. */
struct slot {
	struct server *s;	/* NULL once server_free() ran during the round */
	pid_t pid;		/* the server's process when the round began */
	bool seen;		/* the group's leader, or the cgroup's cpu.stat, was read */
	uint64_t cg_ino, cg_usec;
	bool has_memory_current;
	uint64_t memory_current;
	uint64_t rss_pages, fds, procs;
	struct pid_cpu *pids;	/* process group: its members' CPU */
	size_t npids, cap;
	uint64_t untracked_usec;	/* of members past RESOURCES_MAX_PIDS */
	size_t untracked;
};

struct resources {
	struct slot *slot;		/* in the round under way, else NULL */
	bool sampled;			/* once: the series exist from then on */
	pid_t pid;			/* the process of the last sample; 0 after one without */
	bool cgroup;			/* the last sample's source */
	uint64_t cpu_usec;		/* the counter: never goes down */
	double cpu_percent;		/* over the last interval; < 0: none yet */
	uint64_t memory, fds, processes;
	double at;			/* ev_now() of the last sample */

	/* What keeps the counter monotonic across exits and restarts. */
	uint64_t gone_usec;		/* CPU of processes (or cgroups) that are gone */
	struct pid_cpu *pids;		/* process group: the members at the last sample */
	size_t npids;
	uint64_t cg_ino, cg_usec;	/* cgroup: which one, and its usage at the last sample */
	bool overflow_logged;
	bool drop_logged;
};

/* A server's process group, by the pid of its leader: the /proc scan looks members up here. */
struct leader {
	pid_t pid;
	struct slot *slot;
};

enum phase {
	PHASE_IDLE,
	PHASE_SCAN,		/* process groups: one walk over /proc for every server */
	PHASE_CGROUPS,		/* cgroups: server by server, pid by pid */
};

static struct {
	struct daemon *d;
	ev_timer tick;		/* the next round */
	ev_timer step;		/* the next step of the round under way, due at once */
	enum phase phase;
	bool started;
	ev_tstamp started_at;
	unsigned long rounds;	/* begun since mcpd started */

	struct slot *slots;
	size_t nslots;
	struct leader *leaders;	/* sorted by pid */
	DIR *proc;		/* PHASE_SCAN: the walk in progress */
	size_t next;		/* PHASE_CGROUPS: the slot being read */
	bool slot_open;		/* its cgroup files were read; its pids are next */
	bool memory_controller;	/* the servers' cgroups have memory.current */
	int cg_dir;		/* its cgroup directory, -1 before it is opened */
	char *procs;		/* its cgroup.procs */
	size_t procs_len, procs_cap, procs_pos;

	/* The cost of the round, for the debug log and bench/resources.sh. */
	double work_ms, cpu_work_ms, longest_ms, longest_cpu_ms;
	unsigned steps;
	size_t stats_read;
	bool proc_error_logged, procs_error_logged;

	long hz;
	long page_size;
	bool have_btime;
	uint64_t btime;
} smp = { .cg_dir = -1 };

static double clock_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* mcpd's CPU time: the cost of a round without the time others held the CPU. */
static double cpu_ms(void)
{
	return clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static uint64_t ticks_usec(uint64_t ticks)
{
	uint64_t per = smp.hz > 0 && 1000000 % smp.hz == 0 ? 1000000 / (uint64_t)smp.hz : 0;

	if (per)
		return ticks > UINT64_MAX / per ? UINT64_MAX : ticks * per;
	return (uint64_t)((double)ticks * 1e6 / (double)(smp.hz > 0 ? smp.hz : 100));
}

/* Read a small file whole (relative to dirfd, or absolute): its length, or -errno; -EFBIG when cut. */
static ssize_t read_at(int dirfd, const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : 0;

			close(fd);
			return r < 0 ? r : (ssize_t)len;
		}
		len += (size_t)n;
	}
	close(fd);
	return -EFBIG;
}

static int read_pid_stat(pid_t pid, struct procstat *ret)
{
	char path[32], buf[STAT_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_at(AT_FDCWD, path, buf, sizeof(buf));
	smp.stats_read++;
	if (n < 0)
		return (int)n;
	return procstat_parse_stat(buf, (size_t)n, ret);
}

/* ------------------------------------------------------------ one round */

static int leader_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct leader *)a)->pid, y = ((const struct leader *)b)->pid;

	return (x > y) - (x < y);
}

static int pid_cpu_cmp(const void *a, const void *b)
{
	const struct pid_cpu *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* A live (or zombie) process of the slot's server. */
static void slot_add_process(struct slot *sl, pid_t pid, const struct procstat *st)
{
	uint64_t usec = ticks_usec(procstat_add(st->utime, st->stime));
	long fds;

	if (pid == sl->pid)
		sl->seen = true;
	if (sl->npids < RESOURCES_MAX_PIDS) {
		if (sl->npids == sl->cap) {
			sl->cap = sl->cap ? sl->cap * 2 : 8;
			sl->pids = xreallocarray(sl->pids, sl->cap, sizeof(*sl->pids));
		}
		sl->pids[sl->npids++] = (struct pid_cpu){ .pid = pid, .start = st->starttime, .usec = usec };
	} else {
		sl->untracked_usec = procstat_add(sl->untracked_usec, usec);
		sl->untracked++;
	}
	/* A zombie's CPU counts until it is reaped; it holds no memory and no fds. */
	if (st->state == 'Z' || st->state == 'X')
		return;
	sl->procs++;
	sl->rss_pages = procstat_add(sl->rss_pages, st->rss);
	fds = procstat_count_fds(pid);
	if (fds > 0)
		sl->fds += (uint64_t)fds;
}

/* PHASE_SCAN: one entry of /proc. Returns false at the end of the walk. */
static bool scan_one(void)
{
	struct dirent *de = readdir(smp.proc);
	struct leader key, *l;
	struct procstat st;
	char *end;
	long v;

	if (!de)
		return false;
	if (de->d_name[0] < '1' || de->d_name[0] > '9')
		return true;
	v = strtol(de->d_name, &end, 10);
	if (*end || v <= 0 || v > 0x7fffffff)
		return true;
	if (read_pid_stat((pid_t)v, &st) < 0)
		return true;	/* gone meanwhile */
	key.pid = st.pgrp;
	l = bsearch(&key, smp.leaders, smp.nslots, sizeof(*smp.leaders), leader_cmp);
	if (l)
		slot_add_process(l->slot, (pid_t)v, &st);
	return true;
}

/* PHASE_CGROUPS: the start of a slot: its cgroup's cpu.stat, memory.current and cgroup.procs. */
static void cgroup_open_slot(struct slot *sl)
{
	char buf[1024];
	struct stat st;
	ssize_t n;

	smp.procs_len = smp.procs_pos = 0;
	if (!sl->s || sl->s->pid != sl->pid)
		return;
	smp.cg_dir = cgroup_open_dir(sl->s->conf.name);
	if (smp.cg_dir < 0)
		return;
	if (fstat(smp.cg_dir, &st) < 0)
		return;
	sl->cg_ino = (uint64_t)st.st_ino;
	n = read_at(smp.cg_dir, "cpu.stat", buf, sizeof(buf));
	if (n < 0 || procstat_parse_cpu_usage(buf, (size_t)n, &sl->cg_usec) < 0)
		return;
	/* Only where the memory controller is on: asking 1000 cgroups for a file they lack costs a lookup each. */
	if (smp.memory_controller) {
		n = read_at(smp.cg_dir, "memory.current", buf, sizeof(buf));
		if (n >= 0 && procstat_parse_u64(buf, (size_t)n, &sl->memory_current) == 0)
			sl->has_memory_current = true;
	}
	for (;;) {
		if (smp.procs_cap == 0 || (n == -EFBIG && smp.procs_cap < PROCS_MAX)) {
			smp.procs_cap = smp.procs_cap ? smp.procs_cap * 4 : 4096;
			smp.procs = xrealloc(smp.procs, smp.procs_cap);
		}
		n = read_at(smp.cg_dir, "cgroup.procs", smp.procs, smp.procs_cap);
		if (n != -EFBIG || smp.procs_cap >= PROCS_MAX)
			break;
	}
	if (n == -EFBIG) {
		/* The pids that fit are counted; the CPU counter (cpu.stat) is whole all the same. */
		n = (ssize_t)smp.procs_cap;
		if (!smp.procs_error_logged)
			log_warning(sl->s->conf.name, NULL, "its cgroup lists more than %d KiB of pids; processes, memory "
				    "and fds count the first ones only", PROCS_MAX / 1024);
		smp.procs_error_logged = true;
	}
	if (n < 0)
		return;
	smp.procs_len = (size_t)n;
	sl->seen = true;
}

/* PHASE_CGROUPS: the pid's process of the slot's cgroup. */
static void cgroup_add_process(struct slot *sl, pid_t pid)
{
	struct procstat st;
	long fds;

	/* cgroup.procs lists no zombies; without memory.current the pids' RSS is summed. */
	if (!sl->has_memory_current) {
		if (read_pid_stat(pid, &st) < 0 || st.state == 'Z' || st.state == 'X')
			return;	/* gone meanwhile */
		sl->rss_pages = procstat_add(sl->rss_pages, st.rss);
	}
	sl->procs++;
	fds = procstat_count_fds(pid);
	if (fds > 0)
		sl->fds += (uint64_t)fds;
}

/* PHASE_CGROUPS: one unit of work (a slot's cgroup files, or one of its pids). Returns false when all are done. */
static bool cgroup_one(void)
{
	struct slot *sl;
	pid_t pid;
	int r;

	if (smp.next >= smp.nslots)
		return false;
	sl = &smp.slots[smp.next];
	if (!smp.slot_open) {
		smp.slot_open = true;
		cgroup_open_slot(sl);
		if (sl->seen)
			return true;
	} else if ((r = procstat_next_pid(smp.procs, smp.procs_len, &smp.procs_pos, &pid)) != 0) {
		if (r > 0)
			cgroup_add_process(sl, pid);
		return true;
	}
	/* The slot is done: the next one. */
	if (smp.cg_dir >= 0)
		close(smp.cg_dir);
	smp.cg_dir = -1;
	smp.slot_open = false;
	smp.next++;
	return smp.next < smp.nslots;
}

static uint64_t pids_usec(const struct pid_cpu *p, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = procstat_add(sum, p[i].usec);
	return sum;
}

/*
 * The members seen now against those seen before: one that is gone leaves its
 * last CPU time in gone_usec; one seen again never reports less than before.
 */
static void merge_pids(struct resources *r, struct slot *sl)
{
	size_t i = 0, j = 0;

	qsort(sl->pids, sl->npids, sizeof(*sl->pids), pid_cpu_cmp);
	while (i < r->npids || j < sl->npids) {
		if (j == sl->npids || (i < r->npids && r->pids[i].pid < sl->pids[j].pid)) {
			r->gone_usec = procstat_add(r->gone_usec, r->pids[i++].usec);
		} else if (i == r->npids || sl->pids[j].pid < r->pids[i].pid) {
			j++;
		} else {
			if (r->pids[i].start == sl->pids[j].start) {
				if (sl->pids[j].usec < r->pids[i].usec)
					sl->pids[j].usec = r->pids[i].usec;
			} else {
				r->gone_usec = procstat_add(r->gone_usec, r->pids[i].usec);	/* a reused pid */
			}
			i++;
			j++;
		}
	}
	free(r->pids);
	r->pids = sl->pids;
	r->npids = sl->npids;
	sl->pids = NULL;
	sl->npids = sl->cap = 0;
}

static void publish(struct server *s, struct resources *r, struct slot *sl, double now)
{
	uint64_t total;

	if (sl->cg_ino) {
		/* A recreated cgroup starts from 0: what the old one counted is kept. */
		if (r->cg_ino && (r->cg_ino != sl->cg_ino || sl->cg_usec < r->cg_usec))
			r->gone_usec = procstat_add(r->gone_usec, r->cg_usec);
		r->cg_ino = sl->cg_ino;
		r->cg_usec = sl->cg_usec;
		total = procstat_add(r->gone_usec, r->cg_usec);
		r->memory = sl->has_memory_current ? sl->memory_current : sl->rss_pages * (uint64_t)smp.page_size;
		r->cgroup = true;
	} else {
		merge_pids(r, sl);
		total = procstat_add(procstat_add(r->gone_usec, pids_usec(r->pids, r->npids)), sl->untracked_usec);
		r->memory = sl->rss_pages * (uint64_t)smp.page_size;
		r->cgroup = false;
		if (sl->untracked && !r->overflow_logged) {
			log_warning(s->conf.name, NULL, "more than %d processes in its process group (%zu more); the CPU "
				    "time of those is counted while they live only, and the counter may miss some",
				    RESOURCES_MAX_PIDS, sl->untracked);
			r->overflow_logged = true;
		}
	}
	if (total < r->cpu_usec) {
		/* Never expected: the accounting above lost a process's time. A counter must not drop all the same. */
		if (!r->drop_logged)
			log_warning(s->conf.name, NULL, "its CPU counter would have gone down from %.3fs to %.3fs (the "
				    "time of a process was lost); it stays at %.3fs", (double)r->cpu_usec / 1e6,
				    (double)total / 1e6, (double)r->cpu_usec / 1e6);
		r->drop_logged = true;
		total = r->cpu_usec;
	}
	if (r->sampled && r->pid == sl->pid && now > r->at)
		r->cpu_percent = (double)(total - r->cpu_usec) / 1e4 / (now - r->at);
	else
		r->cpu_percent = -1;
	r->cpu_usec = total;
	r->fds = sl->fds;
	r->processes = sl->procs;
	r->pid = sl->pid;
	r->at = now;
	r->sampled = true;
}

/* A sampled server has no process now: its gauges drop to 0, its counter keeps what its processes used. */
static void publish_none(struct resources *r, double now)
{
	if (!r->sampled || r->pid == 0)
		return;
	r->gone_usec = procstat_add(r->gone_usec, pids_usec(r->pids, r->npids));
	free(r->pids);
	r->pids = NULL;
	r->npids = 0;
	r->memory = r->fds = r->processes = 0;
	r->cpu_percent = -1;
	r->pid = 0;
	r->at = now;
}

static void round_end(void)
{
	double now = ev_now(smp.d->loop);
	size_t sampled = 0;
	uint64_t procs = 0;

	for (size_t i = 0; i < smp.nslots; i++) {
		struct slot *sl = &smp.slots[i];

		if (sl->s) {
			sl->s->res->slot = NULL;
			/* Restarted meanwhile: what was read mixes two processes; the next round sees the new one. */
			if (sl->seen && sl->s->pid == sl->pid) {
				publish(sl->s, sl->s->res, sl, now);
				sampled++;
				procs += sl->procs;
			}
		}
		free(sl->pids);
	}
	if (smp.nslots)
		log_debug(NULL, NULL, "resources: sampled %zu servers (%llu processes, %zu stat files read) in %.2f ms "
			  "(%.2f ms of CPU) over %u loop iterations (longest %.2f ms, %.2f ms of CPU); next in %gs",
			  sampled, (unsigned long long)procs, smp.stats_read, smp.work_ms, smp.cpu_work_ms, smp.steps,
			  smp.longest_ms, smp.longest_cpu_ms, RESOURCES_INTERVAL);
	free(smp.slots);
	free(smp.leaders);
	smp.slots = NULL;
	smp.leaders = NULL;
	smp.nslots = 0;
	if (smp.proc)
		closedir(smp.proc);
	smp.proc = NULL;
	if (smp.cg_dir >= 0)
		close(smp.cg_dir);
	smp.cg_dir = -1;
	smp.phase = PHASE_IDLE;
	ev_timer_set(&smp.tick, RESOURCES_INTERVAL, 0.);
	ev_timer_start(smp.d->loop, &smp.tick);
}

static void on_step(struct ev_loop *loop, ev_timer *w, int revents)
{
	double start = mono_ms(), cpu_start = cpu_ms(), spent, cpu;
	bool more = true;

	while (more) {
		more = smp.phase == PHASE_SCAN ? scan_one() : cgroup_one();
		if (mono_ms() - start >= RESOURCES_STEP_MS)
			break;
	}
	spent = mono_ms() - start;
	cpu = cpu_ms() - cpu_start;
	smp.work_ms += spent;
	smp.cpu_work_ms += cpu;
	smp.steps++;
	if (spent > smp.longest_ms)
		smp.longest_ms = spent;
	if (cpu > smp.longest_cpu_ms)
		smp.longest_cpu_ms = cpu;
	if (!more) {
		round_end();
		return;
	}
	/* Due at once, but only after the loop has served the fds. */
	ev_timer_set(w, 0., 0.);
	ev_timer_start(loop, w);
}

static void round_begin(struct daemon *d)
{
	double now = ev_now(d->loop), start = mono_ms(), cpu_start = cpu_ms();
	size_t n = 0;

	smp.slots = xcalloc(d->nservers ? d->nservers : 1, sizeof(*smp.slots));
	for (size_t i = 0; i < d->nservers; i++) {
		struct server *s = d->servers[i];

		if (s->pid <= 0) {
			if (s->res)
				publish_none(s->res, now);
			continue;
		}
		if (!s->res)
			s->res = xcalloc(1, sizeof(*s->res));
		smp.slots[n] = (struct slot){ .s = s, .pid = s->pid };
		s->res->slot = &smp.slots[n];
		n++;
	}
	smp.nslots = n;
	smp.stats_read = 0;
	if (cgroup_enabled()) {
		char buf[512];
		char path[PATH_MAX];
		ssize_t len;

		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", cgroup_base());
		len = read_at(AT_FDCWD, path, buf, sizeof(buf));
		smp.memory_controller = len > 0 && procstat_has_controller(buf, (size_t)len, "memory");
		smp.phase = PHASE_CGROUPS;
		smp.next = 0;
		smp.slot_open = false;
		smp.cg_dir = -1;
		smp.procs_len = smp.procs_pos = 0;
	} else {
		smp.phase = PHASE_SCAN;
		smp.leaders = xcalloc(n ? n : 1, sizeof(*smp.leaders));
		for (size_t i = 0; i < n; i++)
			smp.leaders[i] = (struct leader){ .pid = smp.slots[i].pid, .slot = &smp.slots[i] };
		qsort(smp.leaders, n, sizeof(*smp.leaders), leader_cmp);
		smp.proc = n ? opendir("/proc") : NULL;
		if (n && !smp.proc) {
			if (!smp.proc_error_logged)
				log_error(NULL, NULL, "cannot read /proc: %s; no resources are sampled (next try in %gs)",
					  strerror(errno), RESOURCES_INTERVAL);
			smp.proc_error_logged = true;
			n = 0;
		}
	}
	/* This is the round's first loop iteration. */
	smp.work_ms = smp.longest_ms = mono_ms() - start;
	smp.cpu_work_ms = smp.longest_cpu_ms = cpu_ms() - cpu_start;
	smp.steps = 1;
	if (n == 0) {
		round_end();
		return;
	}
	ev_timer_set(&smp.step, 0., 0.);
	ev_timer_start(d->loop, &smp.step);
}

/*
 * The first round waits for the start-up's handshakes to end (at most
 * RESOURCES_STARTUP_WAIT): at 1000 servers a round costs some 40 ms of
 * mcpd's CPU, which the servers still starting would wait for.
 */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = w->data;

	if (!smp.rounds && !d->startup_trimmed && ev_now(loop) - smp.started_at < RESOURCES_STARTUP_WAIT) {
		ev_timer_set(w, RESOURCES_STARTUP_POLL, 0.);
		ev_timer_start(loop, w);
		return;
	}
	smp.rounds++;
	round_begin(d);
}

/* /proc/stat's btime: the boot time, for process_start_time_seconds. Once, before the loop runs. */
static void read_btime(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return;
	while (!smp.have_btime && (n = getline(&line, &cap, f)) > 0)
		smp.have_btime = procstat_parse_btime(line, (size_t)n, &smp.btime) == 0;
	free(line);
	fclose(f);
}

void resources_start(struct daemon *d)
{
	smp.d = d;
	smp.hz = sysconf(_SC_CLK_TCK);
	smp.page_size = sysconf(_SC_PAGESIZE);
	if (smp.hz <= 0)
		smp.hz = 100;
	if (smp.page_size <= 0)
		smp.page_size = 4096;
	read_btime();
	ev_timer_init(&smp.tick, on_tick, RESOURCES_FIRST, 0.);
	ev_timer_init(&smp.step, on_step, 0., 0.);
	smp.tick.data = smp.step.data = d;
	ev_timer_start(d->loop, &smp.tick);
	smp.started = true;
	smp.started_at = ev_now(d->loop);
}

void resources_stop(struct daemon *d)
{
	if (!smp.started)
		return;
	ev_timer_stop(d->loop, &smp.tick);
	ev_timer_stop(d->loop, &smp.step);
	for (size_t i = 0; i < smp.nslots; i++) {
		if (smp.slots[i].s)
			smp.slots[i].s->res->slot = NULL;
		free(smp.slots[i].pids);
	}
	free(smp.slots);
	free(smp.leaders);
	free(smp.procs);
	if (smp.proc)
		closedir(smp.proc);
	if (smp.cg_dir >= 0)
		close(smp.cg_dir);
	smp.slots = NULL;
	smp.leaders = NULL;
	smp.procs = NULL;
	smp.procs_cap = 0;
	smp.proc = NULL;
	smp.cg_dir = -1;
	smp.nslots = 0;
	smp.phase = PHASE_IDLE;
	smp.started = false;
}

void resources_free(struct server *s)
{
	struct resources *r = s->res;

	if (!r)
		return;
	if (r->slot)
		r->slot->s = NULL;	/* the round under way skips it */
	free(r->pids);
	free(r);
	s->res = NULL;
}

/* ------------------------------------------------------------ reports */

/* limits.memory when set and not unlimited, else 0. */
static uint64_t memory_limit(const struct server *s)
{
	const struct limit_conf *l = &s->conf.limits.memory;

	return l->set && l->value != (uint64_t)RLIM_INFINITY ? l->value : 0;
}

void resources_status_write(const struct server *s, struct jsonw *w, bool summary)
{
	const struct resources *r = s->res;
	uint64_t limit = memory_limit(s);

	/* Only the current process's numbers: none until its first sample. */
	if (!r || !r->sampled || s->pid <= 0 || r->pid != s->pid)
		return;
	jsonw_key(w, "resources");
	jsonw_char(w, '{');
	if (!summary) {
		jsonw_key(w, "source");
		jsonw_string(w, r->cgroup ? "cgroup" : "process group");
		jsonw_key(w, "cpu_seconds");
		jsonw_number(w, round((double)r->cpu_usec / 1e3) / 1e3);
	}
	jsonw_member_number(w, "cpu_percent", r->cpu_percent >= 0, round(r->cpu_percent * 10) / 10);
	jsonw_key(w, "memory_bytes");
	jsonw_number(w, (double)r->memory);
	if (!summary) {
		jsonw_member_number(w, "memory_limit_bytes", limit != 0, (double)limit);
		jsonw_key(w, "fds");
		jsonw_number(w, (double)r->fds);
		jsonw_key(w, "processes");
		jsonw_number(w, (double)r->processes);
		jsonw_key(w, "sampled_s_ago");
		jsonw_number(w, round(fmax(0, ev_now(s->d->loop) - r->at) * 10) / 10);
	}
	jsonw_char(w, '}');
}

enum server_value { V_CPU, V_MEMORY, V_FDS, V_PROCESSES, V_MEMORY_LIMIT };

/*
 * One sample per server of a family, and the family only when it has one:
 * the measured ones once the server was sampled (the gauges 0 while it has no
 * process), the limit for servers that set one.
 */
static void server_family(const struct daemon *d, struct metrics_buf *b, const char *name, const char *type,
			  const char *help, enum server_value which)
{
	char label[160];
	bool any = false;

	for (size_t i = 0; i < d->nservers; i++) {
		const struct server *s = d->servers[i];
		const struct resources *r = s->res;
		uint64_t v, limit = memory_limit(s);
		bool none = s->pid <= 0;

		if (which == V_MEMORY_LIMIT ? !limit : !r || !r->sampled)
			continue;
		switch (which) {
		case V_MEMORY:
			v = none ? 0 : r->memory;
			break;
		case V_FDS:
			v = none ? 0 : r->fds;
			break;
		case V_PROCESSES:
			v = none ? 0 : r->processes;
			break;
		case V_MEMORY_LIMIT:
			v = limit;
			break;
		default:
			v = 0;
			break;
		}
		if (!any)
			metrics_family(b, name, type, help);
		any = true;
		metrics_server(s->conf.name, label, sizeof(label));
		if (which == V_CPU)
			metrics_printf(b, "%s{server=\"%s\"} %.6f\n", name, label, (double)r->cpu_usec / 1e6);
		else
			metrics_printf(b, "%s{server=\"%s\"} %llu\n", name, label, (unsigned long long)v);
	}
}

/* mcpd's own, as the Prometheus client libraries export them (the same names and help texts). */
static void self_metrics(struct metrics_buf *b)
{
	struct procstat st;
	struct rlimit rl;
	long fds = procstat_count_fds(0);
	long hz = smp.hz > 0 ? smp.hz : 100, page = smp.page_size > 0 ? smp.page_size : 4096;

	if (read_pid_stat(getpid(), &st) == 0) {
		metrics_family(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
		metrics_printf(b, "process_cpu_seconds_total %.2f\n", (double)procstat_add(st.utime, st.stime) / (double)hz);
		metrics_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		metrics_printf(b, "process_virtual_memory_bytes %llu\n", (unsigned long long)st.vsize);
		metrics_family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		metrics_printf(b, "process_resident_memory_bytes %llu\n", (unsigned long long)(st.rss * (uint64_t)page));
		if (smp.have_btime) {
			metrics_family(b, "process_start_time_seconds", "gauge",
				       "Start time of the process since unix epoch in seconds.");
			metrics_printf(b, "process_start_time_seconds %.2f\n",
				       (double)smp.btime + (double)st.starttime / (double)hz);
		}
	}
	if (fds >= 0) {
		metrics_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		metrics_printf(b, "process_open_fds %ld\n", fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		metrics_family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		metrics_printf(b, "process_max_fds %llu\n", rl.rlim_cur == RLIM_INFINITY ? 0ULL
				: (unsigned long long)rl.rlim_cur);
	}
}

void resources_metrics(const struct daemon *d, struct metrics_buf *b)
{
	server_family(d, b, "mcpd_server_cpu_seconds_total", "counter",
		      "CPU time (user and system) of the server's processes, summed, across restarts.", V_CPU);
	server_family(d, b, "mcpd_server_memory_bytes", "gauge",
		      "Resident memory of the server's processes, summed (its cgroup's memory.current where there is one).", V_MEMORY);
	server_family(d, b, "mcpd_server_open_fds", "gauge", "Open file descriptors of the server's processes, summed.", V_FDS);
	server_family(d, b, "mcpd_server_processes", "gauge", "Live processes of the server (its cgroup or process group).", V_PROCESSES);
	server_family(d, b, "mcpd_server_memory_limit_bytes", "gauge", "The server's limits.memory: its cgroup's memory.max where the memory controller is on, else RLIMIT_DATA of each process.", V_MEMORY_LIMIT);
	self_metrics(b);
}
