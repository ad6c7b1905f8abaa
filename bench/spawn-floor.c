/*
 * The floor for bench/scale.sh: what starting N stdio MCP servers costs with
 * nothing but the kernel's work and the servers' own. posix_spawn()s N copies
 * of a server (stdin and stdout on pipes, stderr to /dev/null), sends each an
 * initialize request at once, polls every stdout with one epoll set, and
 * answers each initialize result with notifications/initialized. Prints the
 * time from its start until the last handshake is done, and its own CPU time.
 * Then kills and reaps every child.
 *
 * With -p, the handshake mcpd does with a server whose era it does not know
 * yet (protocol: auto, a first start): server/discover first; an error answer
 * (a legacy server) is followed by initialize and notifications/initialized,
 * a result (a 2026-07-28 server) ends the handshake.
 *
 * With -g, each server starts in a cgroup v2 of its own, as mcpd starts them:
 * a directory made under a spawn-floor-PID cgroup beside the program's own,
 * and the child created in it (clone3 with CLONE_VFORK|CLONE_VM|
 * CLONE_INTO_CGROUP; x86-64 only): the kernel's work for a cgroup per server,
 * and nothing else. The cgroups are removed at the end.
 *
 *   spawn-floor [-p] [-g] N TIMEOUT_SECONDS SERVER [ARG...]
 *
 * Each server gets its ARGs followed by the index (1..N) appended to the last
 * one, so that `... --name floor123-s` names them floor123-s1, floor123-s2...
 * Exits 0 when all N finished the handshake, 1 otherwise (timeout, a server
 * that exited). Built by bench/scale.sh with cc -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define LINE_MAX_BYTES 65536

struct child {
	pid_t pid;
	int in, out;			/* our ends */
	char *buf;
	size_t len;
	int done;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static const char initialize[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
	"\"capabilities\":{},\"clientInfo\":{\"name\":\"spawn-floor\",\"version\":\"1\"}}}\n";
static const char initialized[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
static const char discover[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\"}\n";

/* The answer to server/discover (id 2): 1 an error (legacy), 2 a result (modern), 0 another line. */
static int line_discover_answer(const char *line)
{
	if (!strstr(line, "\"id\":2") && !strstr(line, "\"id\": 2"))
		return 0;
	return strstr(line, "\"error\"") ? 1 : strstr(line, "\"result\"") ? 2 : 0;
}

/* A complete line from c: the answer to initialize when it has id 1 and a result. */
static int line_is_init_result(const char *line)
{
	return strstr(line, "\"result\"") && (strstr(line, "\"id\":1") || strstr(line, "\"id\": 1"));
}

/* -g: the cgroup v2 every child gets a directory under, and what a child needs before exec. */
static char cg_base[PATH_MAX];
static int cg_base_fd = -1;

struct exec_plan {
	char **args;
	int in, out, err;
};

/* The cgroup2 mount (its root "/") and the program's own cgroup: spawn-floor-PID beside it. */
static int cgroup_base_setup(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], mnt[PATH_MAX] = "", own[PATH_MAX] = "";

	while (f && fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], m[PATH_MAX], type[64];
		const char *sep = strstr(line, " - ");

		if (sep && sscanf(sep + 3, "%63s", type) == 1 && strcmp(type, "cgroup2") == 0 &&
		    sscanf(line, "%*s %*s %*s %4095s %4095s", root, m) == 2 && strcmp(root, "/") == 0) {
			snprintf(mnt, sizeof(mnt), "%s", m);
			break;
		}
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::/", 4) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(own, sizeof(own), "%.4000s", strcmp(line + 3, "/") == 0 ? "" : line + 3);
			break;
		}
	}
	if (f)
		fclose(f);
	if (!mnt[0]) {
		fprintf(stderr, "spawn-floor: -g: no cgroup2 hierarchy is mounted\n");
		return -1;
	}
	if (snprintf(cg_base, sizeof(cg_base), "%s%s/spawn-floor-%d", mnt, own, (int)getpid()) >= (int)sizeof(cg_base) ||
	    mkdir(cg_base, 0755) < 0 || (cg_base_fd = open(cg_base, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "spawn-floor: -g: cannot create %s: %s\n", cg_base, strerror(errno));
		return -1;
	}
	return 0;
}

static int exec_child(void *arg)
{
	const struct exec_plan *p = arg;

	if (dup2(p->in, 0) < 0 || dup2(p->out, 1) < 0 || dup2(p->err, 2) < 0)
		_exit(127);
	execve(p->args[0], p->args, environ);
	_exit(127);
}

#if defined(__x86_64__) && defined(SYS_clone3)
struct clone3_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};

/* clone3 whose child runs fn(arg) on its own stack and exits: glibc 2.36 has no clone3 wrapper. */
static long clone3_run(struct clone3_args *args, int (*fn)(void *), void *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register int (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;

	__asm__ __volatile__("syscall\n\t"
			     "testq %%rax, %%rax\n\t"
			     "jnz 1f\n\t"
			     "xorl %%ebp, %%ebp\n\t"
			     "movq %%r13, %%rdi\n\t"
			     "callq *%%r12\n\t"
			     "movl %%eax, %%edi\n\t"
			     "movl %[nr_exit], %%eax\n\t"
			     "syscall\n\t"
			     "hlt\n"
			     "1:"
			     : "+r"(rax)
			     : "D"(args), "S"(sizeof(*args)), "r"(r12), "r"(r13), [nr_exit] "i"(SYS_exit)
			     : "rcx", "r11", "memory", "cc");
	return rax;
}
#endif

/* Child i in a cgroup of its own: mkdir, then created in it; returns the pid or -1 with errno. */
static pid_t spawn_in_cgroup(int i, struct exec_plan *p)
{
#if defined(__x86_64__) && defined(SYS_clone3)
	static _Alignas(64) char stack[64 * 1024];
	char name[32];
	int dfd, saved;
	long pid;
	struct clone3_args a = {
		.flags = CLONE_VM | CLONE_VFORK | 0x200000000ULL /* CLONE_INTO_CGROUP */,
		.exit_signal = SIGCHLD,
		.stack = (unsigned long long)(unsigned long)stack,
		.stack_size = sizeof(stack),
	};

	snprintf(name, sizeof(name), "s%d", i + 1);
	if (mkdirat(cg_base_fd, name, 0755) < 0 ||
	    (dfd = openat(cg_base_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	a.cgroup = (unsigned long long)dfd;
	pid = clone3_run(&a, exec_child, p);
	saved = pid < 0 ? (int)-pid : 0;
	close(dfd);
	errno = saved;
	return pid < 0 ? -1 : (pid_t)pid;
#else
	(void)i;
	(void)p;
	errno = ENOSYS;
	return -1;
#endif
}

static void cgroup_base_remove(int n)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "s%d", i + 1);
		unlinkat(cg_base_fd, name, AT_REMOVEDIR);
	}
	close(cg_base_fd);
	rmdir(cg_base);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct child *c;
	int n, ep, done = 0, devnull;
	double timeout, t0 = now();
	char **args;
	int nargs;
	size_t lastlen;
	struct rusage ru;
	int probe = 0, cgroups = 0;

	while (argc > 1 && (strcmp(argv[1], "-p") == 0 || strcmp(argv[1], "-g") == 0)) {
		if (argv[1][1] == 'p')
			probe = 1;
		else
			cgroups = 1;
		argv++;
		argc--;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: spawn-floor [-p] [-g] N TIMEOUT_SECONDS SERVER [ARG...]\n");
		return 2;
	}
	n = atoi(argv[1]);
	timeout = atof(argv[2]);
	if (n <= 0 || timeout <= 0) {
		fprintf(stderr, "spawn-floor: bad N or timeout\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	c = calloc((size_t)n, sizeof(*c));
	nargs = argc - 3;
	args = calloc((size_t)nargs + 1, sizeof(*args));
	for (int i = 0; i < nargs; i++)
		args[i] = argv[3 + i];
	lastlen = strlen(args[nargs - 1]);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!c || !args || devnull < 0 || ep < 0) {
		perror("spawn-floor");
		return 2;
	}
	if (cgroups && cgroup_base_setup() < 0)
		return 2;

	for (int i = 0; i < n; i++) {
		int in[2], out[2];
		posix_spawn_file_actions_t fa;
		struct epoll_event ev = { .events = EPOLLIN };
		char *last = malloc(lastlen + 16);
		int r;

		if (nargs > 1) {
			snprintf(last, lastlen + 16, "%s%d", argv[argc - 1], i + 1);
			args[nargs - 1] = last;
		}
		if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
			perror("spawn-floor: pipe");
			return 1;
		}
		if (cgroups) {
			struct exec_plan plan = { .args = args, .in = in[0], .out = out[1], .err = devnull };

			c[i].pid = spawn_in_cgroup(i, &plan);
			r = c[i].pid < 0 ? errno : 0;
		} else {
			posix_spawn_file_actions_init(&fa);
			posix_spawn_file_actions_adddup2(&fa, in[0], 0);
			posix_spawn_file_actions_adddup2(&fa, out[1], 1);
			posix_spawn_file_actions_adddup2(&fa, devnull, 2);
			r = posix_spawn(&c[i].pid, args[0], &fa, NULL, args, environ);
			posix_spawn_file_actions_destroy(&fa);
		}
		free(last);
		if (r != 0) {
			fprintf(stderr, "spawn-floor: spawning %s: %s\n", args[0], strerror(r));
			return 1;
		}
		close(in[0]);
		close(out[1]);
		c[i].in = in[1];
		c[i].out = out[0];
		fcntl(c[i].out, F_SETFL, O_NONBLOCK);
		c[i].buf = malloc(LINE_MAX_BYTES);
		write_all(c[i].in, probe ? discover : initialize);	/* the pipe holds it until the server reads */
		ev.data.u32 = (unsigned)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, c[i].out, &ev);
	}

	while (done < n) {
		struct epoll_event evs[64];
		double left = t0 + timeout - now();
		int k;

		if (left <= 0)
			break;
		k = epoll_wait(ep, evs, 64, (int)(left * 1000) + 1);
		if (k < 0 && errno == EINTR)
			continue;
		for (int j = 0; j < k; j++) {
			struct child *ch = &c[evs[j].data.u32];
			ssize_t r = read(ch->out, ch->buf + ch->len, LINE_MAX_BYTES - 1 - ch->len);
			char *nl;

			if (r <= 0) {
				if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, ch->out, NULL);
					if (!ch->done)
						fprintf(stderr, "spawn-floor: server %d closed its stdout before its handshake\n",
							(int)(ch - c) + 1);
				}
				continue;
			}
			ch->len += (size_t)r;
			ch->buf[ch->len] = '\0';
			while ((nl = strchr(ch->buf, '\n'))) {
				*nl = '\0';
				int era = probe && !ch->done ? line_discover_answer(ch->buf) : 0;

				if (era == 1) {
					write_all(ch->in, initialize);
				} else if (era == 2) {
					ch->done = 1;
					done++;
				} else if (!ch->done && line_is_init_result(ch->buf)) {
					write_all(ch->in, initialized);
					ch->done = 1;
					done++;
				}
				ch->len -= (size_t)(nl + 1 - ch->buf);
				memmove(ch->buf, nl + 1, ch->len + 1);
			}
			if (ch->len >= LINE_MAX_BYTES - 1)
				ch->len = 0;	/* a line too long for us: not an answer to initialize */
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("ready %d of %d in %.1f ms; cpu %.1f ms\n", done, n, (now() - t0) * 1000.,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000. +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.);
	fflush(stdout);

	for (int i = 0; i < n; i++)
		kill(c[i].pid, SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(c[i].pid, NULL, 0);
	if (cgroups)
		cgroup_base_remove(n);
	return done == n ? 0 : 1;
}
