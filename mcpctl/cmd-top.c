/*
 * mcpctl top [-d SECONDS] [-n N] [-s KEY] [-r] [NAME...]: mcpd's servers
 * with their request rate, error rate, latency, CPU and memory, refreshed
 * every few seconds and sorted, like top(1).
 *
 * On a terminal (and without -n or --json) it draws on the alternate screen
 * and reads keys; anywhere else it prints plain frames separated by a blank
 * line, or with --json one status object per frame and line. The figures are
 * mcpd's own (its status reply): rates and percentiles over mcpd's window,
 * CPU% over its last sample; mcpctl only sorts and formats them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "output.h"
#include "xmalloc.h"

#define DEFAULT_DELAY	2.0
#define MIN_DELAY	0.2
#define MAX_DELAY	3600.0
#define MAX_FRAMES	1000000000L
#define WHY_MAX		512	/* bytes kept of why mcpd is unreachable */

static void format_cpu(double percent, char *buf, size_t size)
{
	snprintf(buf, size, "%.1f", percent);
}

static void format_int(double v, char *buf, size_t size)
{
	snprintf(buf, size, "%.0f", v);
}

/*
 * The columns, left to right: where each figure is in a server's status
 * object, how it is printed, and how to sort by it (-s NAME, or KEY on
 * the terminal). '<' and '>' step through the sortable ones in this order.
 */
static const struct column {
	const char *header;
	const char *object;		/* the server's sub-object holding field, or NULL */
	const char *field;
	void (*fmt)(double, char *, size_t);	/* NULL: a string */
	const char *sort;		/* -s NAME; NULL: not sortable */
	char key;
} columns[] = {
	{ "NAME", NULL, "name", NULL, "name", 'n' },
	{ "STATE", NULL, "state", NULL, NULL, 0 },
	{ "REQ/S", "traffic", "rate", output_rate, "rate", 'r' },
	{ "ERR", "traffic", "error_rate", output_percent, "err", 'e' },
	{ "P50", "traffic", "p50_ms", output_latency, "p50", 0 },
	{ "P99", "traffic", "p99_ms", output_latency, "p99", 'p' },
	{ "CPU%", "resources", "cpu_percent", format_cpu, "cpu", 'c' },
	{ "MEM", "resources", "memory_bytes", output_bytes, "mem", 'm' },
	{ "RESTARTS", NULL, "restarts", format_int, "restarts", 't' },
};

#define NCOLUMNS	(sizeof(columns) / sizeof(columns[0]))
#define COL_NAME	0
#define COL_CPU		6

/* One server: its status object and its figures, NAN where mcpd gave none. */
struct row {
	const cJSON *s;
	const char *name;
	double v[NCOLUMNS];
};

struct top {
	struct mcpctl *ctl;
	cJSON *names;			/* status params, or NULL for every server */
	double delay;
	long frames;			/* -n; 0: until stopped */
	size_t sort;			/* a column */
	bool reverse;
	bool live;			/* drawing on a terminal */
	bool keys;			/* reading keys from stdin (a terminal) */
	cJSON *status;			/* the last reply, NULL while mcpd is unreachable */
	struct client_error err;	/* why top ends: mcpd refused the request */
	char why[WHY_MAX];		/* why mcpd is unreachable */
	struct termios saved;
	bool raw;			/* stdin's settings changed, saved in saved */
	sigset_t wait_mask;		/* the signal mask while waiting */
};

static volatile sig_atomic_t got_stop, got_winch, got_tstp;

static void on_signal(int sig);
static void catch_signal(int sig);

/* ---- sorting ---------------------------------------------------------- */

static const struct top *sorting;	/* qsort has no context argument */

/* Figures largest first (-r: smallest), names A to Z (-r: Z to A); no figure always last. */
static int compare_rows(const void *pa, const void *pb)
{
	const struct row *a = pa, *b = pb;
	size_t col = sorting->sort;
	bool na = isnan(a->v[col]), nb = isnan(b->v[col]);
	int r;

	if (col == COL_NAME) {
		r = strcmp(a->name, b->name);
		return sorting->reverse ? -r : r;
	}
	if (na != nb)
		return na ? 1 : -1;
	if (!na && a->v[col] != b->v[col]) {
		r = a->v[col] > b->v[col] ? -1 : 1;
		return sorting->reverse ? -r : r;
	}
	return strcmp(a->name, b->name);
}

static int column_of_sort(const char *name)
{
	for (size_t i = 0; i < NCOLUMNS; i++)
		if (columns[i].sort && strcmp(columns[i].sort, name) == 0)
			return (int)i;
	return -1;
}

/* The next sortable column left (step -1) or right (+1) of col, wrapping around. */
static size_t step_sort(size_t col, int step)
{
	do
		col = step < 0 ? (col + NCOLUMNS - 1) % NCOLUMNS : (col + 1) % NCOLUMNS;
	while (!columns[col].sort);
	return col;
}

/* ---- one frame -------------------------------------------------------- */

static struct row *rows_of(const cJSON *servers, size_t *ret_n)
{
	size_t n = (size_t)cJSON_GetArraySize(servers), i = 0;
	struct row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	const cJSON *s;

	cJSON_ArrayForEach(s, servers) {
		if (i == n)
			break;
		rows[i].s = s;
		rows[i].name = json_string(s, "name", "?");
		for (size_t c = 0; c < NCOLUMNS; c++) {
			const cJSON *o = columns[c].object ? cJSON_GetObjectItemCaseSensitive(s, columns[c].object) : s;

			if (!columns[c].fmt || !json_number(o, columns[c].field, &rows[i].v[c]))
				rows[i].v[c] = NAN;
		}
		i++;
	}
	*ret_n = i;
	return rows;
}

/* The first line: the time, mcpd's health, servers running, the requests of them all. */
static void print_summary(const struct top *t, const struct row *rows, size_t n, FILE *out)
{
	char clock[16] = "", rate[32], errors[32];
	double total = 0, failed = 0;
	size_t running = 0;
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (!t->status) {
		fprintf(out, "%s  mcpd unreachable (trying again every %gs): %s\n", clock, t->delay, t->why);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const cJSON *traffic = cJSON_GetObjectItemCaseSensitive(rows[i].s, "traffic");
		double r, e;

		if (strcmp(json_string(rows[i].s, "state", ""), "running") == 0)
			running++;
		if (json_number(traffic, "rate", &r)) {
			total += r;
			if (json_number(traffic, "error_rate", &e))
				failed += r * e;
		}
	}
	output_rate(total, rate, sizeof(rate));
	output_percent(total > 0 ? failed / total : 0, errors, sizeof(errors));
	fprintf(out, "%s  health: %s  running: %zu/%zu  %s req/s, %s errors  sort: %s%s\n", clock,
		json_string(t->status, "health", "unknown"), running, n, rate, errors, columns[t->sort].sort,
		t->reverse ? " reversed" : "");
}

static void print_table(const struct row *rows, size_t n, size_t width, FILE *out)
{
	const char *headers[NCOLUMNS];
	char cells[NCOLUMNS][32];
	struct table *tab;

	for (size_t c = 0; c < NCOLUMNS; c++)
		headers[c] = columns[c].header;
	tab = table_new(headers, NCOLUMNS);
	table_set_max(tab, COL_NAME, 24);
	for (size_t c = 0; c < NCOLUMNS; c++)
		if (columns[c].fmt)
			table_set_right(tab, c);
	for (size_t i = 0; i < n; i++) {
		const char *row[NCOLUMNS];

		for (size_t c = 0; c < NCOLUMNS; c++) {
			if (!columns[c].fmt) {
				row[c] = json_string(rows[i].s, columns[c].field, "?");
			} else if (isnan(rows[i].v[c])) {
				row[c] = "-";
			} else {
				columns[c].fmt(rows[i].v[c], cells[c], sizeof(cells[c]));
				row[c] = cells[c];
			}
		}
		table_add(tab, row);
	}
	table_print(tab, out, width);
	table_free(tab);
}

/* The frame for the last status (or for mcpd being unreachable), as text. */
static char *render(const struct top *t, size_t width, size_t *ret_len)
{
	const cJSON *servers = cJSON_GetObjectItemCaseSensitive(t->status, "servers");
	struct row *rows;
	size_t n;
	char *text = NULL;
	FILE *out = open_memstream(&text, ret_len);

	if (!out) {
		fputs("fatal: out of memory\n", stderr);
		abort();
	}
	rows = rows_of(servers, &n);
	sorting = t;
	qsort(rows, n, sizeof(*rows), compare_rows);
	print_summary(t, rows, n, out);
	if (t->status && n == 0)
		fputs("no servers in the manifest\n", out);
	else if (t->status)
		print_table(rows, n, width, out);
	free(rows);
	fclose(out);
	return text;
}

/* ---- the terminal ----------------------------------------------------- */

static void terminal_size(size_t *ret_cols, size_t *ret_rows)
{
	struct winsize ws = { 0 };

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)
		ws = (struct winsize){ .ws_col = OUTPUT_WIDTH, .ws_row = 24 };
	*ret_cols = ws.ws_col;
	*ret_rows = ws.ws_row;
}

/* Redraw in place: each line cut to the width, as many as fit, the rest of the screen cleared. */
static void draw(const char *text, size_t cols, size_t rows)
{
	fputs("\x1b[H", stdout);
	for (size_t line = 0; *text && line < rows; line++) {
		size_t chars = 0, i = 0;

		for (; text[i] && text[i] != '\n'; i++)
			if (((unsigned char)text[i] & 0xC0) != 0x80 && ++chars > cols)
				break;
		fwrite(text, 1, i, stdout);
		fputs("\x1b[K", stdout);
		text += i;
		text += strcspn(text, "\n");
		if (*text)
			text++;
		/* No newline after the bottom line: the screen would scroll. */
		if (*text && line + 1 < rows)
			fputc('\n', stdout);	/* the terminal (ONLCR) adds the \r */
	}
	fputs("\x1b[J", stdout);
	fflush(stdout);
}

static void show(const struct top *t)
{
	size_t cols, rows, len;
	char *text;

	terminal_size(&cols, &rows);
	text = render(t, cols, &len);
	draw(text, cols, rows);
	free(text);
}

/* Alternate screen, no cursor, keys without echo nor line editing (signals still work: ^C, ^Z). */
static void terminal_enter(struct top *t)
{
	if (t->keys && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		struct termios raw = t->saved;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		t->raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	fputs("\x1b[?1049h\x1b[?25l", stdout);
	fflush(stdout);
}

static void terminal_leave(struct top *t)
{
	fputs("\x1b[?25h\x1b[?1049l", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->raw = false;
}

/* ^Z: give the terminal back, stop, and take it again once continued. */
static void suspend(struct top *t)
{
	sigset_t tstp;

	got_tstp = 0;
	terminal_leave(t);
	signal(SIGTSTP, SIG_DFL);	/* the default action: stop */
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);	/* stops here until SIGCONT */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	catch_signal(SIGTSTP);
	terminal_enter(t);
}

/* ---- signals ---------------------------------------------------------- */

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else if (sig == SIGTSTP)
		got_tstp = 1;
	else
		got_stop = sig;
}

/* The signals top catches: those that end it, and on a terminal those that change its screen. */
static const struct {
	int sig;
	bool live;
} caught[] = {
	{ SIGINT, false }, { SIGTERM, false }, { SIGHUP, false }, { SIGQUIT, false },
	{ SIGWINCH, true }, { SIGTSTP, true },
};

#define NCAUGHT (sizeof(caught) / sizeof(caught[0]))

static void catch_signal(int sig)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/*
 * The signals that end top or change its screen are blocked but while it
 * waits (ppoll), so that none slips in between a check and the wait. A
 * signal ignored when top started (nohup) stays ignored.
 */
static void signals_catch(struct top *t, struct sigaction old[NCAUGHT], sigset_t *old_mask)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < NCAUGHT; i++)
		if (!caught[i].live || t->live)
			sigaddset(&set, caught[i].sig);
	sigprocmask(SIG_BLOCK, &set, old_mask);
	t->wait_mask = *old_mask;
	for (size_t i = 0; i < NCAUGHT; i++) {
		sigaction(caught[i].sig, NULL, &old[i]);
		if (!sigismember(&set, caught[i].sig) || old[i].sa_handler == SIG_IGN)
			continue;
		catch_signal(caught[i].sig);
		sigdelset(&t->wait_mask, caught[i].sig);
	}
}

static void signals_restore(const struct sigaction old[NCAUGHT], const sigset_t *old_mask)
{
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaction(caught[i].sig, &old[i], NULL);
	sigprocmask(SIG_SETMASK, old_mask, NULL);
}

/* ---- talking to mcpd -------------------------------------------------- */

/*
 * mcpctl_connect() says why it failed on stderr, which is the screen while
 * top draws: catch the words for the summary line instead.
 */
static int connect_quietly(struct top *t, struct client **ret)
{
	int p[2], saved, r;
	ssize_t n;

	if (!t->live)
		return mcpctl_connect(t->ctl, ret);
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(t->why, sizeof(t->why), "cannot make a pipe: %s", strerror(errno));
		return -errno;
	}
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	r = mcpctl_connect(t->ctl, ret);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(p[0], t->why, sizeof(t->why) - 1);
	close(p[0]);
	t->why[n > 0 ? n : 0] = '\0';
	/* One line, without mcpctl_connect's "mcpctl: ". */
	t->why[strcspn(t->why, "\n")] = '\0';
	if (strncmp(t->why, "mcpctl: ", 8) == 0)
		memmove(t->why, t->why + 8, strlen(t->why + 8) + 1);
	if (r < 0 && !t->why[0])
		snprintf(t->why, sizeof(t->why), "%s", strerror(-r));
	return r;
}

/*
 * A fresh status in t->status. Returns 0; -EREMOTEIO when mcpd refused the
 * request (a name it does not know), err filled; another negative errno when
 * mcpd is unreachable, t->why saying why (and, when not live, stderr).
 */
static int fetch(struct top *t, struct client_error *err)
{
	struct client *c;
	cJSON *result = NULL;
	int r;

	cJSON_Delete(t->status);
	t->status = NULL;
	r = connect_quietly(t, &c);
	if (r < 0)
		return r;
	r = client_call(c, "status", t->names ? cJSON_Duplicate(t->names, true) : NULL, &result, err);
	client_close(c);
	if (r < 0 && r != -EREMOTEIO) {
		snprintf(t->why, sizeof(t->why), "%s", err->message ? err->message : strerror(-r));
		if (!t->live)
			client_error_print(err, stderr);
		client_error_clear(err);
	}
	if (r < 0)
		return r;
	t->status = result;
	return 0;
}

/* ---- the loop --------------------------------------------------------- */

enum wake { WAKE_TICK, WAKE_REDRAW, WAKE_QUIT };

/* A key pressed on the terminal: what it asks for. */
static enum wake on_key(struct top *t, char k)
{
	switch (k) {
	case 'q':
	case 'Q':
		return WAKE_QUIT;
	case ' ':
	case '\n':
	case '\r':
		return WAKE_TICK;	/* refresh now */
	case 'R':
	case 'i':
		t->reverse = !t->reverse;
		return WAKE_REDRAW;
	case '<':
	case '>':
		t->sort = step_sort(t->sort, k == '<' ? -1 : 1);
		return WAKE_REDRAW;
	default:
		for (size_t c = 0; c < NCOLUMNS; c++) {
			if (columns[c].key && columns[c].key == k) {
				t->sort = c;
				return WAKE_REDRAW;
			}
		}
		return WAKE_REDRAW;	/* an unknown key: nothing changes, redrawing costs nothing */
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait until deadline (CLOCK_MONOTONIC seconds), a key or a signal. */
static enum wake wait_until(struct top *t, double deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = t->keys ? STDIN_FILENO : -1, .events = POLLIN };
		double left;
		struct timespec ts;
		int r;

		if (got_stop)
			return WAKE_QUIT;
		if (got_tstp && t->live) {
			suspend(t);
			return WAKE_REDRAW;
		}
		if (got_winch) {
			got_winch = 0;
			if (t->live)
				return WAKE_REDRAW;
		}
		left = deadline - now_s();
		if (left <= 0)
			return WAKE_TICK;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		r = ppoll(&pfd, 1, &ts, &t->wait_mask);
		if (r < 0 && errno != EINTR)
			return WAKE_TICK;
		if (r <= 0)
			continue;
		if (pfd.revents & POLLIN) {
			char keys[64];
			ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));
			enum wake w = WAKE_REDRAW;

			/* End of input (a closed pipe): no more keys, the view goes on. */
			if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
				t->keys = false;
			for (ssize_t i = 0; i < n && w != WAKE_QUIT; i++) {
				enum wake k = on_key(t, keys[i]);

				if (k != WAKE_REDRAW || w == WAKE_REDRAW)
					w = k;
			}
			if (n > 0)
				return w;
		} else if (pfd.revents) {
			t->keys = false;
		}
	}
}

/* Not live: one frame, the text or one JSON line, after a blank line but for the first. */
static void print_frame(struct top *t, long frame)
{
	if (t->ctl->json) {
		size_t n;
		struct row *rows = rows_of(cJSON_GetObjectItemCaseSensitive(t->status, "servers"), &n);
		cJSON *sorted = cJSON_CreateArray();

		/* The order of the text: the servers, sorted, replace the list mcpd sent. */
		sorting = t;
		qsort(rows, n, sizeof(*rows), compare_rows);
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(sorted, cJSON_Duplicate(rows[i].s, true));
		free(rows);
		if (!cJSON_ReplaceItemInObjectCaseSensitive(t->status, "servers", sorted))
			cJSON_Delete(sorted);
		output_json_line(t->status);
	} else {
		size_t len;
		char *text = render(t, OUTPUT_WIDTH, &len);

		if (frame > 0)
			putchar('\n');
		fwrite(text, 1, len, stdout);
		free(text);
	}
	fflush(stdout);
}

static int parse_delay(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= MIN_DELAY && v <= MAX_DELAY)) {
		fprintf(stderr, "mcpctl: top: -d wants seconds from %g to %g, got \"%s\"\n", MIN_DELAY, MAX_DELAY, s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_frames(const char *s, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < 1 || v > MAX_FRAMES) {
		fprintf(stderr, "mcpctl: top: -n wants a number of refreshes from 1 to %ld, got \"%s\"\n", MAX_FRAMES, s);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_sort(const char *s, size_t *ret)
{
	int c = column_of_sort(s);

	if (c < 0) {
		fputs("mcpctl: top: -s wants one of", stderr);
		for (size_t i = 0; i < NCOLUMNS; i++)
			if (columns[i].sort)
				fprintf(stderr, " %s", columns[i].sort);
		fprintf(stderr, "; got \"%s\"\n", s);
		return -EINVAL;
	}
	*ret = (size_t)c;
	return 0;
}

/* Frames until -n of them, q or a stop signal (EXIT_OK), or mcpd refusing or, not live, unreachable. */
static int loop(struct top *t)
{
	long frame = 0;
	int r;

	for (;;) {
		double deadline = now_s() + t->delay;
		enum wake w;

		if (t->live)
			show(t);
		else
			print_frame(t, frame);
		if (t->frames && ++frame >= t->frames)
			return EXIT_OK;
		while ((w = wait_until(t, deadline)) == WAKE_REDRAW)
			show(t);
		if (w == WAKE_QUIT)
			return EXIT_OK;
		r = fetch(t, &t->err);
		/* Live, an unreachable mcpd is a line on the screen until it comes back. */
		if (r == -EREMOTEIO || (r < 0 && !t->live))
			return EXIT_FAIL;
	}
}

static int run(struct mcpctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "sort", required_argument, NULL, 's' },
		{ "reverse", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct top t = { .ctl = ctl, .delay = DEFAULT_DELAY, .sort = COL_CPU };
	struct sigaction old[NCAUGHT];
	sigset_t old_mask;
	int c, status;

	while ((c = getopt_long(argc, argv, "d:n:s:r", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_delay(optarg, &t.delay) < 0)
				return EXIT_USAGE;
			break;
		case 'n':
			if (parse_frames(optarg, &t.frames) < 0)
				return EXIT_USAGE;
			break;
		case 's':
			if (parse_sort(optarg, &t.sort) < 0)
				return EXIT_USAGE;
			break;
		case 'r':
			t.reverse = true;
			break;
		default:
			return cmd_usage(&cmd_top);
		}
	}
	if (optind < argc) {
		t.names = cJSON_CreateObject();
		cJSON_AddItemToObject(t.names, "names",
				      cJSON_CreateStringArray((const char *const *)argv + optind, argc - optind));
	}
	/* The first status decides: mcpd unreachable or a name unknown ends top before it draws. */
	if (fetch(&t, &t.err) < 0) {
		if (t.err.message)
			client_error_print(&t.err, stderr);
		client_error_clear(&t.err);
		cJSON_Delete(t.names);
		return EXIT_FAIL;
	}
	t.live = !ctl->json && !t.frames && isatty(STDOUT_FILENO);
	t.keys = t.live && isatty(STDIN_FILENO);
	signals_catch(&t, old, &old_mask);
	if (t.live) {
		/* A frame in one write, not a line at a time: no flicker, no half frame on the screen. */
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
		terminal_enter(&t);
	}
	status = loop(&t);
	if (t.live)
		terminal_leave(&t);
	signals_restore(old, &old_mask);
	if (t.err.message)
		client_error_print(&t.err, stderr);
	client_error_clear(&t.err);
	cJSON_Delete(t.status);
	cJSON_Delete(t.names);
	return status;
}

const struct cmd cmd_top = {
	.name = "top",
	.args = "[-d SECONDS] [-n N] [-s KEY] [-r] [NAME...]",
	.summary = "live view: requests, errors, latency, CPU, memory",
	.run = run,
};
