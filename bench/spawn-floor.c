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
 *   spawn-floor [-p] N TIMEOUT_SECONDS SERVER [ARG...]
 *
 * Each server gets its ARGs followed by the index (1..N) appended to the last
 * one, so that `... --name floor123-s` names them floor123-s1, floor123-s2...
 * Exits 0 when all N finished the handshake, 1 otherwise (timeout, a server
 * that exited). Built by bench/scale.sh with cc -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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
	int probe = 0;

	if (argc > 1 && strcmp(argv[1], "-p") == 0) {
		probe = 1;
		argv++;
		argc--;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: spawn-floor [-p] N TIMEOUT_SECONDS SERVER [ARG...]\n");
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
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
		r = posix_spawn(&c[i].pid, args[0], &fa, NULL, args, environ);
		posix_spawn_file_actions_destroy(&fa);
		free(last);
		if (r != 0) {
			fprintf(stderr, "spawn-floor: posix_spawn %s: %s\n", args[0], strerror(r));
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
	return done == n ? 0 : 1;
}
