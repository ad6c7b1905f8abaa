/*
 * The client of bench/connect.sh: latency and throughput of MCP tools/call
 * (the example server's echo) through whatever command speaks MCP on its
 * stdio: the example server itself, `mcpctl connect NAME`, or the floor.
 *
 *   connect-client [-n N] [-k K] -- CMD [ARG...]
 *       K copies of CMD (default 1), each on its own pipes; each gets an
 *       initialize, notifications/initialized and 500 warm-up calls; then
 *       N sequential calls on the first copy (p50/p99 of their round trips),
 *       then N calls pipelined on every copy at once (the total requests/s:
 *       K x N over the time from the first request sent to the last answer).
 *       Prints one line: "p50_us P p99_us P rps R". -S: the sequential
 *       calls only, -P: the pipelined ones only (for strace and perf).
 *
 *   connect-client -F CMD [ARG...]
 *       the floor: stdio <-> a socketpair <-> a second process <-> CMD's
 *       pipes; two processes that only copy bytes, the least any relay
 *       through two extra processes costs (mcpctl connect + mcpd are such a
 *       relay: pipe, Unix socket, pipe).
 *
 * Answers are matched by their integer "id" (the first "id": of the line);
 * lines without one (notifications) are skipped. Every wait is bounded (60 s
 * without progress: exit 1). Built by bench/connect.sh with cc -O2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1 << 20)
#define STALL_MS 60000
#define WARMUP 500

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "connect-client: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- the floor: two processes that copy bytes both ways ----------------------- */

struct buf {
	char *data;
	size_t off, len;
};

/* Copy a <-> b (a_in/a_out may differ: stdin/stdout) until both directions reach EOF. */
static void copy_loop(int a_in, int a_out, int b_in, int b_out)
{
	struct buf ab = { malloc(BUF_SIZE), 0, 0 }, ba = { malloc(BUF_SIZE), 0, 0 };
	int a_eof = 0, b_eof = 0, shut = 0;

	nonblock(a_in), nonblock(a_out), nonblock(b_in), nonblock(b_out);
	while (!(a_eof && ab.len == 0) || !(b_eof && ba.len == 0)) {
		struct pollfd p[4] = {
			{ .fd = a_eof || ab.len ? -1 : a_in, .events = POLLIN },
			{ .fd = b_eof || ba.len ? -1 : b_in, .events = POLLIN },
			{ .fd = ab.len ? b_out : -1, .events = POLLOUT },
			{ .fd = ba.len ? a_out : -1, .events = POLLOUT },
		};
		ssize_t n;

		if (a_eof && ab.len == 0 && b_eof && ba.len == 0)
			break;
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[0].revents) {
			n = read(a_in, ab.data, BUF_SIZE);
			if (n > 0)
				ab.off = 0, ab.len = (size_t)n;
			else if (n == 0 || errno != EAGAIN)
				a_eof = 1;
		}
		if (p[1].revents) {
			n = read(b_in, ba.data, BUF_SIZE);
			if (n > 0)
				ba.off = 0, ba.len = (size_t)n;
			else if (n == 0 || errno != EAGAIN)
				b_eof = 1;
		}
		/* Write at once what was just read: the common case needs no second poll. */
		if (ab.len) {
			n = write(b_out, ab.data + ab.off, ab.len);
			if (n > 0)
				ab.off += (size_t)n, ab.len -= (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				return;
		}
		if (ba.len) {
			n = write(a_out, ba.data + ba.off, ba.len);
			if (n > 0)
				ba.off += (size_t)n, ba.len -= (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				return;
		}
		if (a_eof && ab.len == 0 && !shut) {
			/* a is done: b's reader sees EOF too, and b ends. */
			shut = 1;
			if (b_out == b_in)
				shutdown(b_out, SHUT_WR);
			else
				close(b_out);
		}
	}
}

static pid_t spawn(char **argv, int *ret_in, int *ret_out)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*ret_in = in[1];
	*ret_out = out[0];
	return pid;
}

static int floor_main(char **argv)
{
	int sv[2];
	pid_t hop2;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	hop2 = fork();
	if (hop2 < 0)
		die("fork");
	if (hop2 == 0) {
		int to_server, from_server;
		pid_t server;

		int null = open("/dev/null", O_RDWR);

		/* Not the client's pipes: only hop 1 talks to the client. */
		close(sv[0]);
		dup2(null, 0);
		dup2(null, 1);
		close(null);
		server = spawn(argv, &to_server, &from_server);
		copy_loop(sv[1], sv[1], from_server, to_server);
		close(to_server);
		waitpid(server, NULL, 0);
		_exit(0);
	}
	close(sv[1]);
	copy_loop(0, 1, sv[0], sv[0]);
	close(sv[0]);
	waitpid(hop2, NULL, 0);
	return 0;
}

/* ---- the client --------------------------------------------------------------- */

struct conn {
	pid_t pid;
	int to, from;
	char *in;		/* what came from CMD, not yet a whole line */
	size_t inlen;
	struct buf out;		/* what is still to go to CMD */
	long next_id;		/* the last id sent */
	long answered;		/* answers to ids >= first_counted */
	long first_counted;
	long last_answer;	/* the id of the last answer */
};

static void queue(struct conn *c, const char *text, size_t n)
{
	if (c->out.off + c->out.len + n > BUF_SIZE) {
		memmove(c->out.data, c->out.data + c->out.off, c->out.len);
		c->out.off = 0;
	}
	if (c->out.len + n > BUF_SIZE) {
		fprintf(stderr, "connect-client: output buffer full\n");
		exit(1);
	}
	memcpy(c->out.data + c->out.off + c->out.len, text, n);
	c->out.len += n;
}

static void request(struct conn *c, const char *method, const char *params)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"%s\",\"params\":%s}\n",
			 ++c->next_id, method, params);

	queue(c, line, (size_t)n);
}

static void call(struct conn *c)
{
	request(c, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"text\":\"x\"}}");
}

/* The lines that came in: an answer is counted once. */
static void take_lines(struct conn *c)
{
	char *p = c->in, *end = c->in + c->inlen, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		char *id = memmem(p, (size_t)(nl - p), "\"id\":", 5);

		if (id) {
			long v = strtol(id + 5, NULL, 10);

			if (v >= c->first_counted)
				c->answered++;
			c->last_answer = v;
		}
		p = nl + 1;
	}
	c->inlen = (size_t)(end - p);
	memmove(c->in, p, c->inlen);
}

/* Write what is queued and read what came, on every connection, until each has want answers (counted). */
static void run_until(struct conn *cs, int k, long want)
{
	struct pollfd p[2 * 64];
	double last = now_us();

	for (;;) {
		int done = 1;

		for (int i = 0; i < k; i++) {
			struct conn *c = &cs[i];

			/* Write first: the common case needs no poll for POLLOUT. */
			while (c->out.len) {
				ssize_t n = write(c->to, c->out.data + c->out.off, c->out.len);

				if (n < 0 && errno == EAGAIN)
					break;
				if (n <= 0)
					die("write to the command");
				c->out.off += (size_t)n;
				c->out.len -= (size_t)n;
			}
			if (c->out.len == 0)
				c->out.off = 0;
			if (c->answered < want)
				done = 0;
		}
		if (done)
			return;
		for (int i = 0; i < k; i++) {
			p[2 * i] = (struct pollfd){ .fd = cs[i].from, .events = POLLIN };
			p[2 * i + 1] = (struct pollfd){ .fd = cs[i].out.len ? cs[i].to : -1, .events = POLLOUT };
		}
		if (poll(p, (nfds_t)(2 * k), 1000) < 0 && errno != EINTR)
			die("poll");
		for (int i = 0; i < k; i++) {
			struct conn *c = &cs[i];
			ssize_t n;

			if (!p[2 * i].revents)
				continue;
			n = read(c->from, c->in + c->inlen, BUF_SIZE - c->inlen);
			if (n == 0) {
				fprintf(stderr, "connect-client: the command closed its output\n");
				exit(1);
			}
			if (n < 0 && errno != EAGAIN)
				die("read from the command");
			if (n > 0) {
				c->inlen += (size_t)n;
				take_lines(c);
				last = now_us();
			}
		}
		if (now_us() - last > STALL_MS * 1000.) {
			fprintf(stderr, "connect-client: no answer for %d s\n", STALL_MS / 1000);
			exit(1);
		}
	}
}

static void count_from_next(struct conn *c)
{
	c->first_counted = c->next_id + 1;
	c->answered = 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = 20000;
	int k = 1, opt, only = 0;
	struct conn *cs;
	double *lat, t0, secs;

	static const char initialized[] = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

	signal(SIGPIPE, SIG_IGN);
	if (argc > 2 && strcmp(argv[1], "-F") == 0)
		return floor_main(argv + 2);
	while ((opt = getopt(argc, argv, "+n:k:SP")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'S')
			only = 'S';
		else if (opt == 'P')
			only = 'P';
		else if (opt == 'k')
			k = atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc || n < 100 || k < 1 || k > 64) {
		fprintf(stderr, "usage: connect-client [-n N>=100] [-k 1..64] [-S|-P] [--] CMD [ARG...] | -F CMD [ARG...]\n");
		return 2;
	}
	cs = calloc((size_t)k, sizeof(*cs));
	for (int i = 0; i < k; i++) {
		struct conn *c = &cs[i];

		c->pid = spawn(argv + optind, &c->to, &c->from);
		nonblock(c->to);
		nonblock(c->from);
		c->in = malloc(BUF_SIZE);
		c->out.data = malloc(BUF_SIZE);
		count_from_next(c);
		request(c, "initialize", "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
			"\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}");
		queue(c, initialized, strlen(initialized));
	}
	run_until(cs, k, 1);
	for (int w = 0; w < WARMUP; w++) {
		for (int i = 0; i < k; i++) {
			count_from_next(&cs[i]);
			call(&cs[i]);
		}
		run_until(cs, k, 1);
	}
	/* Sequential, on the first connection alone. */
	lat = malloc((size_t)n * sizeof(*lat));
	for (long i = 0; i < n; i++) {
		if (only == 'P') {
			lat[i] = 0;
			continue;
		}
		count_from_next(&cs[0]);
		call(&cs[0]);
		t0 = now_us();
		run_until(cs, 1, 1);
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	/* Pipelined, on all at once: sent as fast as the command takes them, answers read meanwhile. */
	for (int i = 0; i < k; i++)
		count_from_next(&cs[i]);
	t0 = now_us();
	{
		long sent = only == 'S' ? n : 0;

		while (sent < n) {
			/* In slices that fit the output buffer: 1000 calls are about 100 KB. */
			long slice = n - sent < 1000 ? n - sent : 1000;

			for (int i = 0; i < k; i++)
				for (long j = 0; j < slice; j++)
					call(&cs[i]);
			sent += slice;
			run_until(cs, k, sent - 1000 > 0 ? sent - 1000 : 0);
		}
		if (only != 'S')
			run_until(cs, k, n);
	}
	secs = (now_us() - t0) / 1e6;
	printf("p50_us %.1f p99_us %.1f rps %.0f\n", lat[n / 2], lat[n * 99 / 100], (double)n * k / secs);
	for (int i = 0; i < k; i++) {
		close(cs[i].to);
		close(cs[i].from);
	}
	for (int i = 0; i < k; i++)
		waitpid(cs[i].pid, NULL, 0);
	return 0;
}
