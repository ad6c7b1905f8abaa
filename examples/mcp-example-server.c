/*
 * mcp-example-server: an MCP server for testing mcpd.
 *
 * By default it is a well-behaved server on the MCP stdio transport
 * (newline-delimited JSON-RPC 2.0 on stdin and stdout).  With --http it
 * speaks Streamable HTTP instead, and with --legacy-sse the older HTTP+SSE
 * transport.  Other flags make it misbehave on demand (crash, hang, flood
 * stderr, write garbage, ignore SIGTERM, leave a grandchild behind...) so
 * that the supervisor's handling of each case can be tested.  Run it with
 * --help for the list.
 *
 * Threads: all the MCP logic (the "core") runs on the main thread in a
 * poll() loop, so it needs no locking.  The HTTP transports run in
 * libmicrohttpd's threads: they hand each message to the main thread
 * through a queue, and get the replies back through a "sink", an output
 * queue that belongs to one HTTP request or one SSE stream.  On stdio the
 * sink is stdout itself.  The stderr flood has a thread of its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

/* libmicrohttpd 0.9.71 changed the callbacks' return type to an enum. */
#if MHD_VERSION >= 0x00097002
#define MHD_RESULT enum MHD_Result
#else
#define MHD_RESULT int
#endif

#define SERVER_VERSION "1.0.0"
#define MAX_LINE ((size_t)16 << 20)       /* longest stdin line accepted */
#define READ_CHUNK ((size_t)64 << 10)
#define MAX_BODY ((size_t)4 << 20)        /* largest HTTP request body */
#define MAX_HUGE ((size_t)64 << 20)       /* --huge-initialize limit */
#define MAX_SINK_BYTES ((size_t)128 << 20) /* per-stream backlog limit */
#define MAX_PENDING 1024                  /* deferred replies, roots calls */
#define MAX_SESSIONS 1024
#define MAX_INBOUND 1024                  /* HTTP messages not yet handled */
#define MAX_CONNECTIONS 256
#define MAX_SLEEP_MS (3600 * 1000)
#define MAX_EXTRA_TOOLS 10000 /* --tools N */
#define MAX_NAMED_TOOLS 32     /* --tool NAME, repeated */
#define MAX_DURATION_MS (30.0 * 24 * 3600 * 1000)
#define PROGRESS_INTERVAL_MS 250
#define STDERR_MESSAGE_INTERVAL_MS 2000
#define KEEPALIVE_MS 15000
#define WAIT_SLICE_MS 500 /* how often blocked HTTP threads look at g_stopping */

static const char *const protocol_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", /* newest first */
};

/* The modern era (no initialize; version, client info and capabilities in each request's _meta). */
#define MODERN_VERSION "2026-07-28"
#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define META_SUBSCRIPTION_ID "io.modelcontextprotocol/subscriptionId"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"
#define ERR_HEADER_MISMATCH -32020
#define ERR_MISSING_CAPABILITY -32021
#define ERR_UNSUPPORTED_VERSION -32022
#define MAX_LOGGED_REQUEST 1000 /* --log-requests: bytes of each message shown */

/* Which protocol eras the server speaks. */
enum eras { ERAS_LEGACY, ERAS_DUAL, ERAS_MODERN };

/* ------------------------------------------------------------------ */
/* Options                                                             */

static struct options {
	const char *name;
	int64_t exit_after_ms; /* -1: never */
	int exit_status;
	bool no_initialize;
	int64_t slow_initialize_ms;
	int64_t stop_ping_after_ms; /* -1: never */
	bool ping_error;
	bool flood_stderr;
	unsigned long long long_stderr_line; /* 0: none */
	const char *stderr_message;
	bool garbage_stdout;
	unsigned long long huge_initialize;
	bool ignore_sigterm;
	bool fork_grandchild;
	const char *pidfile;
	const char *http;       /* HOST:PORT for Streamable HTTP */
	const char *legacy_sse; /* HOST:PORT for HTTP+SSE */
	bool sse_responses;
	int64_t session_ttl_ms; /* -1: never */
	bool endless_sse_event;
	bool flood_stdout;
	enum eras eras;    /* --dual-era, --modern-only */
	int64_t ttl_ms;    /* ttlMs of modern cacheable results */
	bool log_requests; /* every message received, on stderr */
	unsigned extra_tools; /* --tools N: tool_1..tool_N */
	bool fail_tool;       /* --fail-tool: a tool "fail" answering isError */
	const char *counter_file; /* --counter-file PATH: a tool "count" appending to PATH */
	bool whoami_tool;     /* --whoami-tool: a tool "whoami" answering the --name */
	bool silent_tools_list; /* --silent-tools-list: tools/list is never answered */
	unsigned tools_page;  /* --tools-page N: tools/list answers N tools a page, with nextCursor */
	bool confine_tools;   /* --confine-tools: write_file, read_file, connect_tcp... */
	const char *named_tools[MAX_NAMED_TOOLS]; /* --tool NAME */
	unsigned n_named_tools;
	bool bare; /* --bare: none of the built-in tools */
} opt = {
	.name = "example",
	.exit_after_ms = -1,
	.exit_status = -1,
	.stop_ping_after_ms = -1,
	.session_ttl_ms = -1,
	.ttl_ms = 60000,
};

enum mode { MODE_STDIO, MODE_HTTP, MODE_LEGACY_SSE };
static enum mode g_mode = MODE_STDIO;
static int64_t g_start_ms;
static atomic_bool g_stopping; /* the HTTP server is shutting down */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mcp-example-server [OPTION]...\n"
		"An MCP server for testing: stdio by default, misbehaving on demand.\n"
		"DUR is 250ms, 3s, 2m, 1h or a number of seconds.\n"
		"\n"
		"  --name NAME               serverInfo name and stderr prefix (example)\n"
		"  --exit-after DUR          exit after DUR (0: at once, before reading)\n"
		"  --exit-status N           status for --exit-after (default 1)\n"
		"  --no-initialize           never answer initialize\n"
		"  --slow-initialize DUR     answer initialize only after DUR\n"
		"  --stop-ping-after DUR     stop answering ping DUR after start\n"
		"  --ping-error              answer ping with an error\n"
		"  --flood-stderr            write stderr lines as fast as possible\n"
		"  --long-stderr-line BYTES  write one stderr line of BYTES characters\n"
		"  --stderr-message TEXT     write TEXT to stderr at start and every 2s\n"
		"  --garbage-stdout          write a non-JSON line to stdout at start\n"
		"  --huge-initialize BYTES   pad the initialize instructions to BYTES\n"
		"  --ignore-sigterm          ignore SIGTERM and stdin EOF\n"
		"  --fork-grandchild         leave a child behind in the process group\n"
		"  --pidfile PATH            write the pid to PATH (the child's to\n"
		"                            PATH.grandchild)\n"
		"  --http HOST:PORT          serve Streamable HTTP at /mcp instead of stdio\n"
		"  --sse-responses           with --http, answer POSTs as event streams\n"
		"  --session-ttl DUR         with --http, expire sessions idle for DUR\n"
		"  --legacy-sse HOST:PORT    serve the 2024-11-05 HTTP+SSE transport\n"
		"  --endless-sse-event       with --legacy-sse, follow the endpoint event\n"
		"                            with one event whose data never ends\n"
		"  --flood-stdout            after the handshake, write non-JSON lines to\n"
		"                            stdout as fast as possible\n"
		"  --dual-era                also speak 2026-07-28: server/discover, and\n"
		"                            requests with _meta protocolVersion\n"
		"  --modern-only             speak only 2026-07-28: initialize gets -32022,\n"
		"                            a request without _meta protocolVersion -32602\n"
		"  --ttl-ms N                ttlMs of modern list results (60000)\n"
		"  --log-requests            write each message received to stderr as\n"
		"                            \"request: JSON\" (at most 1000 bytes)\n"
		"  --tools N                 list N more tools, tool_1 .. tool_N, each\n"
		"                            answering like echo (at most 10000)\n"
		"  --tool NAME               list a tool NAME that logs each call on stderr\n"
		"                            (\"called NAME ARGUMENTS\") and answers\n"
		"                            \"NAME done: ARGUMENTS\" (repeatable, 32 at most)\n"
		"  --bare                    list none of the built-in tools (echo, add...):\n"
		"                            only those of --tool, --tools and the like\n"
		"  --fail-tool               list a tool \"fail\" whose result has\n"
		"                            isError: true\n"
		"  --counter-file PATH       list a tool \"count\" {text} that appends\n"
		"                            a line to PATH and answers how many it has\n"
		"  --confine-tools           list tools that try what a sandbox forbids:\n"
		"                            write_file {path, text}, read_file {path,\n"
		"                            max} (first max bytes: 4 KiB, at most 64),\n"
		"                            connect_tcp {host, port},\n"
		"                            alloc_mb {mb} (at most 4096, touched, freed),\n"
		"                            spawn_setsid {} (a setsid'd descendant that\n"
		"                            sleeps; its pid), signal {pid, sig},\n"
		"                            connect_unix {path, send} (one line sent,\n"
		"                            the answer returned) and ptrace {pid}\n"
		"                            (PTRACE_SEIZE, then detach); a failure is a\n"
		"                            tool error with errno's text\n"
		"  --whoami-tool             list a tool \"whoami\" answering the --name\n"
		"  --silent-tools-list       never answer tools/list\n"
		"  --tools-page N            answer tools/list N tools a page (nextCursor)\n"
		"  -h, --help                show this help\n"
		"\n"
		"SIGUSR1 toggles the tool \"time\" and sends tools/list_changed.\n"
		"With --dual-era or --modern-only, --stop-ping-after also stops server/discover,\n"
		"and tools/list adds ask {kind: sampling|elicitation|roots}, log {level, text}\n"
		"and touch {uri} (callable in every mode): ask sends the client the request\n"
		"(legacy) or answers input_required until the retry brings inputResponses.q\n"
		"(2026-07-28); log sends notifications/message at or above the level of\n"
		"logging/setLevel (legacy; every level when none was set) or of _meta logLevel\n"
		"(2026-07-28; nothing without it); touch sends notifications/resources/updated\n"
		"to resources/subscribe subscribers and to subscriptions/listen streams that\n"
		"named uri.  stderr shows \"subscribed URI\", \"unsubscribed URI\" and\n"
		"\"log level LEVEL\".  SIGUSR1's list_changed goes, tagged, to listen streams\n"
		"that asked for toolsListChanged, and untagged to legacy clients.\n"
		"With --http, a 2026-07-28 POST (a _meta version in the body, or a version\n"
		"header that is not a legacy one) is sessionless: MCP-Protocol-Version must\n"
		"equal the body's _meta version and Mcp-Method its method, and Mcp-Name, when\n"
		"sent, its tool name or URI (else 400, -32020); another version gets 400,\n"
		"-32022; subscriptions/listen is always an event stream.  --modern-only\n"
		"answers GET and DELETE with 405 and initialize with 400 (-32022).\n");
}

/* Parses a duration into milliseconds. */
static bool parse_duration(const char *s, int64_t *ms)
{
	if (!isdigit((unsigned char)s[0]) && s[0] != '.')
		return false; /* strtod would take spaces, signs, "inf", "nan" */
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno != 0)
		return false;
	double mult;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mult = 1000;
	else if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else
		return false;
	double r = v * mult;
	if (!(r >= 0 && r <= MAX_DURATION_MS))
		return false;
	*ms = (int64_t)(r + 0.5);
	return true;
}

static bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
	if (!isdigit((unsigned char)s[0]))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0' || errno != 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* Splits "HOST:PORT" or "[IPV6]:PORT". */
static bool split_host_port(const char *spec, char *host, size_t hostsz, char *port, size_t portsz)
{
	const char *h = spec, *end, *p;
	if (spec[0] == '[') {
		h = spec + 1;
		end = strchr(h, ']');
		if (!end || end[1] != ':')
			return false;
		p = end + 2;
	} else {
		end = strrchr(spec, ':');
		if (!end)
			return false;
		p = end + 1;
	}
	size_t hlen = (size_t)(end - h), plen = strlen(p);
	if (hlen == 0 || hlen >= hostsz || plen == 0 || plen >= portsz || strspn(p, "0123456789") != plen ||
	    strtoul(p, NULL, 10) > 65535)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, p, plen + 1);
	return true;
}

enum {
	OPT_NAME = 256, OPT_EXIT_AFTER, OPT_EXIT_STATUS, OPT_NO_INITIALIZE,
	OPT_SLOW_INITIALIZE, OPT_STOP_PING_AFTER, OPT_PING_ERROR, OPT_FLOOD_STDERR,
	OPT_LONG_STDERR_LINE, OPT_STDERR_MESSAGE, OPT_GARBAGE_STDOUT,
	OPT_HUGE_INITIALIZE, OPT_IGNORE_SIGTERM, OPT_FORK_GRANDCHILD, OPT_PIDFILE,
	OPT_HTTP, OPT_LEGACY_SSE, OPT_SSE_RESPONSES, OPT_SESSION_TTL,
	OPT_ENDLESS_SSE_EVENT, OPT_FLOOD_STDOUT, OPT_DUAL_ERA, OPT_MODERN_ONLY,
	OPT_TTL_MS, OPT_LOG_REQUESTS, OPT_TOOLS, OPT_FAIL_TOOL, OPT_CONFINE_TOOLS,
	OPT_TOOL, OPT_BARE,
	OPT_COUNTER_FILE,
	OPT_WHOAMI_TOOL, OPT_SILENT_TOOLS_LIST, OPT_TOOLS_PAGE,
};

static _Noreturn void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void bad_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mcp-example-server: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

static void parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"name", required_argument, NULL, OPT_NAME},
		{"exit-after", required_argument, NULL, OPT_EXIT_AFTER},
		{"exit-status", required_argument, NULL, OPT_EXIT_STATUS},
		{"no-initialize", no_argument, NULL, OPT_NO_INITIALIZE},
		{"slow-initialize", required_argument, NULL, OPT_SLOW_INITIALIZE},
		{"stop-ping-after", required_argument, NULL, OPT_STOP_PING_AFTER},
		{"ping-error", no_argument, NULL, OPT_PING_ERROR},
		{"flood-stderr", no_argument, NULL, OPT_FLOOD_STDERR},
		{"long-stderr-line", required_argument, NULL, OPT_LONG_STDERR_LINE},
		{"stderr-message", required_argument, NULL, OPT_STDERR_MESSAGE},
		{"garbage-stdout", no_argument, NULL, OPT_GARBAGE_STDOUT},
		{"huge-initialize", required_argument, NULL, OPT_HUGE_INITIALIZE},
		{"ignore-sigterm", no_argument, NULL, OPT_IGNORE_SIGTERM},
		{"fork-grandchild", no_argument, NULL, OPT_FORK_GRANDCHILD},
		{"pidfile", required_argument, NULL, OPT_PIDFILE},
		{"http", required_argument, NULL, OPT_HTTP},
		{"legacy-sse", required_argument, NULL, OPT_LEGACY_SSE},
		{"sse-responses", no_argument, NULL, OPT_SSE_RESPONSES},
		{"session-ttl", required_argument, NULL, OPT_SESSION_TTL},
		{"endless-sse-event", no_argument, NULL, OPT_ENDLESS_SSE_EVENT},
		{"flood-stdout", no_argument, NULL, OPT_FLOOD_STDOUT},
		{"dual-era", no_argument, NULL, OPT_DUAL_ERA},
		{"modern-only", no_argument, NULL, OPT_MODERN_ONLY},
		{"ttl-ms", required_argument, NULL, OPT_TTL_MS},
		{"log-requests", no_argument, NULL, OPT_LOG_REQUESTS},
		{"tools", required_argument, NULL, OPT_TOOLS},
		{"tool", required_argument, NULL, OPT_TOOL},
		{"bare", no_argument, NULL, OPT_BARE},
		{"fail-tool", no_argument, NULL, OPT_FAIL_TOOL},
		{"counter-file", required_argument, NULL, OPT_COUNTER_FILE},
		{"confine-tools", no_argument, NULL, OPT_CONFINE_TOOLS},
		{"whoami-tool", no_argument, NULL, OPT_WHOAMI_TOOL},
		{"silent-tools-list", no_argument, NULL, OPT_SILENT_TOOLS_LIST},
		{"tools-page", required_argument, NULL, OPT_TOOLS_PAGE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long long n;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_NAME:
			if (optarg[0] == '\0')
				bad_usage("--name: empty name");
			opt.name = optarg;
			break;
		case OPT_EXIT_AFTER:
			if (!parse_duration(optarg, &opt.exit_after_ms))
				bad_usage("--exit-after: bad duration '%s'", optarg);
			break;
		case OPT_EXIT_STATUS:
			if (!parse_count(optarg, 255, &n))
				bad_usage("--exit-status: not 0 to 255: '%s'", optarg);
			opt.exit_status = (int)n;
			break;
		case OPT_NO_INITIALIZE: opt.no_initialize = true; break;
		case OPT_SLOW_INITIALIZE:
			if (!parse_duration(optarg, &opt.slow_initialize_ms))
				bad_usage("--slow-initialize: bad duration '%s'", optarg);
			break;
		case OPT_STOP_PING_AFTER:
			if (!parse_duration(optarg, &opt.stop_ping_after_ms))
				bad_usage("--stop-ping-after: bad duration '%s'", optarg);
			break;
		case OPT_PING_ERROR: opt.ping_error = true; break;
		case OPT_FLOOD_STDERR: opt.flood_stderr = true; break;
		case OPT_LONG_STDERR_LINE:
			if (!parse_count(optarg, 1ULL << 32, &opt.long_stderr_line))
				bad_usage("--long-stderr-line: bad size '%s'", optarg);
			break;
		case OPT_STDERR_MESSAGE: opt.stderr_message = optarg; break;
		case OPT_GARBAGE_STDOUT: opt.garbage_stdout = true; break;
		case OPT_HUGE_INITIALIZE:
			if (!parse_count(optarg, MAX_HUGE, &opt.huge_initialize))
				bad_usage("--huge-initialize: bad size (at most 64 MiB) '%s'", optarg);
			break;
		case OPT_IGNORE_SIGTERM: opt.ignore_sigterm = true; break;
		case OPT_FORK_GRANDCHILD: opt.fork_grandchild = true; break;
		case OPT_PIDFILE: opt.pidfile = optarg; break;
		case OPT_HTTP: opt.http = optarg; break;
		case OPT_LEGACY_SSE: opt.legacy_sse = optarg; break;
		case OPT_SSE_RESPONSES: opt.sse_responses = true; break;
		case OPT_ENDLESS_SSE_EVENT: opt.endless_sse_event = true; break;
		case OPT_FLOOD_STDOUT: opt.flood_stdout = true; break;
		case OPT_DUAL_ERA:
		case OPT_MODERN_ONLY: {
			enum eras e = c == OPT_DUAL_ERA ? ERAS_DUAL : ERAS_MODERN;
			if (opt.eras != ERAS_LEGACY && opt.eras != e)
				bad_usage("--dual-era and --modern-only are exclusive");
			opt.eras = e;
			break;
		}
		case OPT_TTL_MS:
			if (!parse_count(optarg, (unsigned long long)MAX_DURATION_MS, &n))
				bad_usage("--ttl-ms: not 0 to 30 days in milliseconds: '%s'", optarg);
			opt.ttl_ms = (int64_t)n;
			break;
		case OPT_LOG_REQUESTS: opt.log_requests = true; break;
		case OPT_TOOLS:
			if (!parse_count(optarg, MAX_EXTRA_TOOLS, &n))
				bad_usage("--tools: not 0 to %d: '%s'", MAX_EXTRA_TOOLS, optarg);
			opt.extra_tools = (unsigned)n;
			break;
		case OPT_TOOL:
			if (opt.n_named_tools == MAX_NAMED_TOOLS)
				bad_usage("--tool: at most %d", MAX_NAMED_TOOLS);
			if (!*optarg || strlen(optarg) > 64 || strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"abcdefghijklmnopqrstuvwxyz0123456789_-.") != strlen(optarg))
				bad_usage("--tool: not a tool name (letters, digits, _ - ., 64 at most): '%s'", optarg);
			opt.named_tools[opt.n_named_tools++] = optarg;
			break;
		case OPT_BARE: opt.bare = true; break;
		case OPT_FAIL_TOOL: opt.fail_tool = true; break;
		case OPT_COUNTER_FILE: opt.counter_file = optarg; break;
		case OPT_WHOAMI_TOOL: opt.whoami_tool = true; break;
		case OPT_SILENT_TOOLS_LIST: opt.silent_tools_list = true; break;
		case OPT_TOOLS_PAGE:
			if (!parse_count(optarg, 1000, &n) || n == 0)
				bad_usage("--tools-page: not 1 to 1000: '%s'", optarg);
			opt.tools_page = (unsigned)n;
			break;
		case OPT_CONFINE_TOOLS: opt.confine_tools = true; break;
		case OPT_SESSION_TTL:
			if (!parse_duration(optarg, &opt.session_ttl_ms))
				bad_usage("--session-ttl: bad duration '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	char host[256], port[8];
	const char *addr = opt.http ? opt.http : opt.legacy_sse;
	if (addr && !split_host_port(addr, host, sizeof host, port, sizeof port))
		bad_usage("bad address '%s': expected HOST:PORT", addr);
	if (opt.http && opt.legacy_sse)
		bad_usage("--http and --legacy-sse are exclusive");
	if ((opt.sse_responses || opt.session_ttl_ms >= 0) && !opt.http)
		bad_usage("--sse-responses and --session-ttl need --http");
	if (opt.endless_sse_event && !opt.legacy_sse)
		bad_usage("--endless-sse-event needs --legacy-sse");
	if (opt.eras != ERAS_LEGACY && opt.legacy_sse)
		bad_usage("--dual-era and --modern-only need stdio or --http: HTTP+SSE is a legacy transport");
	if (opt.exit_status < 0)
		opt.exit_status = 1;
	g_mode = opt.http ? MODE_HTTP : opt.legacy_sse ? MODE_LEGACY_SSE : MODE_STDIO;
}

/* ------------------------------------------------------------------ */
/* Small utilities                                                     */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes everything, across EINTR, partial writes and non-blocking fds. */
static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = {.fd = fd, .events = POLLOUT};
				(void)poll(&pfd, 1, -1);
				continue;
			}
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Every stderr write holds this, so that flood lines and log lines never
 * interleave mid-line. */
static pthread_mutex_t g_stderr_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_stdout_mu = PTHREAD_MUTEX_INITIALIZER; /* --flood-stdout vs messages */

static void stderr_write(const char *buf, size_t len)
{
	pthread_mutex_lock(&g_stderr_mu);
	(void)write_all(STDERR_FILENO, buf, len);
	pthread_mutex_unlock(&g_stderr_mu);
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs "NAME: message" on stderr, control characters replaced. */
static void logmsg(const char *fmt, ...)
{
	char buf[1024];
	int prefix = snprintf(buf, sizeof buf, "%s: ", opt.name);
	if (prefix < 0 || (size_t)prefix >= sizeof buf - 2)
		prefix = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + prefix, sizeof buf - (size_t)prefix - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(buf);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = '?';
	buf[len++] = '\n';
	stderr_write(buf, len);
}

/* --log-requests: "request: TEXT" on one line of stderr, TEXT cut to
 * MAX_LOGGED_REQUEST bytes.  No name prefix: tests look for the line as is. */
static void log_request(const char *text, size_t len)
{
	static const char prefix[] = "request: ";
	char buf[sizeof prefix + MAX_LOGGED_REQUEST + 1];
	if (!opt.log_requests)
		return;
	if (len > MAX_LOGGED_REQUEST)
		len = MAX_LOGGED_REQUEST;
	memcpy(buf, prefix, sizeof prefix - 1);
	for (size_t i = 0; i < len; i++)
		buf[sizeof prefix - 1 + i] = (unsigned char)text[i] < 0x20 ? '?' : text[i];
	buf[sizeof prefix - 1 + len] = '\n';
	stderr_write(buf, sizeof prefix + len);
}

static void log_request_json(const cJSON *msg)
{
	if (!opt.log_requests)
		return;
	char *text = cJSON_PrintUnformatted(msg);
	if (text)
		log_request(text, strlen(text));
	cJSON_free(text);
}

/* Writes "PID\n" to path, through a rename so readers never see half. */
static bool write_pidfile(const char *path, pid_t pid)
{
	char tmp[PATH_MAX], text[32];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return false;
	n = snprintf(text, sizeof text, "%ld\n", (long)pid);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	bool ok = write_all(fd, text, (size_t)n);
	ok = (close(fd) == 0) && ok;
	if (ok && rename(tmp, path) != 0)
		ok = false;
	if (!ok)
		unlink(tmp);
	return ok;
}

static void random_hex(char out[33])
{
	unsigned char raw[16];
	static atomic_uint counter;
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
		/* Not secret, just unique: good enough for a test server. */
		uint64_t a = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
		uint64_t b = atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ULL;
		memcpy(raw, &a, 8);
		memcpy(raw + 8, &b, 8);
	}
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cv, mu, &ts);
}

/* ------------------------------------------------------------------ */
/* Sinks: where the core's messages go                                */

enum sink_kind {
	SINK_STDOUT,     /* stdio transport: one line per message */
	SINK_HTTP_JSON,  /* a POST answered with application/json: room for the
	                    final response only */
	SINK_HTTP_SSE,   /* a POST answered with text/event-stream */
	SINK_LEGACY_SSE, /* the long-lived GET /sse stream of a session */
};

struct chunk {
	struct chunk *next;
	size_t len;
	char data[];
};

struct sink {
	enum sink_kind kind;
	atomic_int refs;
	pthread_mutex_t mu; /* protects everything below */
	pthread_cond_t cv;
	struct chunk *head, *tail;
	size_t queued;   /* bytes in the queue */
	size_t sent;     /* bytes of head already handed to the HTTP library */
	bool finished;   /* the final response is queued */
	bool closed;     /* the reader went away: drop what comes */
	int peer_fd;      /* the HTTP client's socket, or -1 */
	int64_t last_data_ms;
	bool keepalive;   /* long-lived: comment lines when idle (legacy SSE, listen) */
};

static struct sink g_stdout_sink = {.kind = SINK_STDOUT};

static struct sink *sink_new(enum sink_kind kind)
{
	struct sink *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->kind = kind;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &attr);
	pthread_condattr_destroy(&attr);
	s->peer_fd = -1;
	s->last_data_ms = now_ms();
	return s;
}

static struct sink *sink_ref(struct sink *s)
{
	if (s && s->kind != SINK_STDOUT)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

static void sink_drop_queue(struct sink *s)
{
	while (s->head) {
		struct chunk *c = s->head;
		s->head = c->next;
		free(c);
	}
	s->tail = NULL;
	s->queued = s->sent = 0;
}

static void sink_unref(struct sink *s)
{
	if (!s || s->kind == SINK_STDOUT || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	sink_drop_queue(s);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Can messages other than the final response reach the client? */
static bool sink_streams(const struct sink *s)
{
	return s && s->kind != SINK_HTTP_JSON;
}

/* Queues a + b + c as one chunk. */
static void sink_push(struct sink *s, const char *a, const char *b, const char *c, bool final)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	struct chunk *ch = malloc(sizeof *ch + la + lb + lc);
	if (!ch) {
		logmsg("out of memory: message dropped");
		return;
	}
	ch->next = NULL;
	ch->len = la + lb + lc;
	memcpy(ch->data, a, la);
	memcpy(ch->data + la, b, lb);
	memcpy(ch->data + la + lb, c, lc);

	pthread_mutex_lock(&s->mu);
	if (s->closed || s->queued + ch->len > MAX_SINK_BYTES) {
		if (!s->closed)
			logmsg("client is not reading its stream: message dropped");
		free(ch);
	} else {
		if (s->tail)
			s->tail->next = ch;
		else
			s->head = ch;
		s->tail = ch;
		s->queued += ch->len;
	}
	if (final)
		s->finished = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sink_send(struct sink *s, const cJSON *msg, bool final)
{
	if (!s)
		return; /* e.g. a notification over HTTP: nobody to answer */
	char *text = cJSON_PrintUnformatted(msg);
	if (!text) {
		logmsg("out of memory: message dropped");
		return;
	}
	static bool stdout_broken;
	switch (s->kind) {
	case SINK_STDOUT:
		/* cJSON escapes newlines in strings, so this is one line. */
		pthread_mutex_lock(&g_stdout_mu);
		if (!write_all(STDOUT_FILENO, text, strlen(text)) ||
		    !write_all(STDOUT_FILENO, "\n", 1)) {
			if (!stdout_broken)
				logmsg("cannot write to stdout: %s", strerror(errno));
			stdout_broken = true;
		}
		pthread_mutex_unlock(&g_stdout_mu);
		break;
	case SINK_HTTP_JSON:
		if (final)
			sink_push(s, "", text, "", true);
		break;
	case SINK_HTTP_SSE:
		sink_push(s, "event: message\ndata: ", text, "\n\n", final);
		break;
	case SINK_LEGACY_SSE: /* the stream outlives every response */
		sink_push(s, "event: message\ndata: ", text, "\n\n", false);
		break;
	}
	cJSON_free(text);
}

/* ------------------------------------------------------------------ */
/* JSON-RPC plumbing                                                   */

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key); /* NULL-safe */
}

static bool valid_id(const cJSON *id)
{
	return cJSON_IsString(id) || cJSON_IsNumber(id);
}

static cJSON *rpc_message(const cJSON *id)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	cJSON_AddItemToObject(m, "id", valid_id(id) ? cJSON_Duplicate(id, true) : cJSON_CreateNull());
	return m;
}

/* Sends {"result": result} to a request; takes ownership of result. */
static void send_result(struct sink *s, const cJSON *id, cJSON *result)
{
	cJSON *m = rpc_message(id);
	cJSON_AddItemToObject(m, "result", result);
	sink_send(s, m, true);
	cJSON_Delete(m);
}

static void send_error_v(struct sink *s, const cJSON *id, int code, cJSON *data, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void send_error_v(struct sink *s, const cJSON *id, int code, cJSON *data, const char *fmt, va_list ap)
{
	char text[512];
	vsnprintf(text, sizeof text, fmt, ap);
	cJSON *m = rpc_message(id);
	cJSON *err = cJSON_AddObjectToObject(m, "error");
	cJSON_AddNumberToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", text);
	if (data)
		cJSON_AddItemToObject(err, "data", data);
	sink_send(s, m, true);
	cJSON_Delete(m);
}

static void send_error(struct sink *s, const cJSON *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void send_error(struct sink *s, const cJSON *id, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	send_error_v(s, id, code, NULL, fmt, ap);
	va_end(ap);
}

/* An error with a data member; takes ownership of data. */
static void send_error_data(struct sink *s, const cJSON *id, int code, cJSON *data, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void send_error_data(struct sink *s, const cJSON *id, int code, cJSON *data, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	send_error_v(s, id, code, data, fmt, ap);
	va_end(ap);
}

/* Sends a notification; takes ownership of params (may be NULL). */
static void send_notification(struct sink *s, const char *method, cJSON *params)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "jsonrpc", "2.0");
	cJSON_AddStringToObject(m, "method", method);
	if (params)
		cJSON_AddItemToObject(m, "params", params);
	sink_send(s, m, false);
	cJSON_Delete(m);
}

enum msg_kind { MSG_REQUEST, MSG_NOTIFICATION, MSG_RESPONSE, MSG_INVALID };

static enum msg_kind classify(const cJSON *msg, const char **why)
{
	if (cJSON_IsArray(msg)) {
		*why = "batches are not supported";
		return MSG_INVALID;
	}
	if (!cJSON_IsObject(msg)) {
		*why = "a message must be an object";
		return MSG_INVALID;
	}
	const cJSON *v = get(msg, "jsonrpc");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
		*why = "jsonrpc must be \"2.0\"";
		return MSG_INVALID;
	}
	const cJSON *id = get(msg, "id"), *method = get(msg, "method");
	if (method) {
		const cJSON *params = get(msg, "params");
		if (!cJSON_IsString(method)) {
			*why = "method must be a string";
			return MSG_INVALID;
		}
		if (params && !cJSON_IsObject(params) && !cJSON_IsArray(params) && !cJSON_IsNull(params)) {
			*why = "params must be an object";
			return MSG_INVALID;
		}
		if (!id)
			return MSG_NOTIFICATION;
		if (!valid_id(id)) {
			*why = "id must be a string or a number";
			return MSG_INVALID;
		}
		return MSG_REQUEST;
	}
	if (id && (get(msg, "result") != NULL) != (get(msg, "error") != NULL))
		return MSG_RESPONSE;
	*why = "no method";
	return MSG_INVALID;
}

/* Parses one complete JSON text, rejecting trailing garbage. */
static cJSON *parse_json(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!v)
		return NULL;
	for (; end && end < text + len; end++) {
		if (!isspace((unsigned char)*end)) {
			cJSON_Delete(v);
			return NULL;
		}
	}
	return v;
}

/* ------------------------------------------------------------------ */
/* The core: deferred replies and server-to-client requests            */

struct call {
	struct sink *sink;
	const cJSON *id;
	const cJSON *params; /* NULL when absent */
	bool modern;         /* a 2026-07-28 request: _meta carries version and capabilities */
};

static void add_server_info(cJSON *obj, const char *key)
{
	cJSON *info = cJSON_AddObjectToObject(obj, key);
	cJSON_AddStringToObject(info, "name", opt.name);
	cJSON_AddStringToObject(info, "version", SERVER_VERSION);
}

/* Completes a result for its request's era: a modern result says it is
 * complete and names the server in _meta.  Returns r. */
static cJSON *finish(const struct call *c, cJSON *r)
{
	if (!c->modern)
		return r;
	if (!get(r, "resultType"))
		cJSON_AddStringToObject(r, "resultType", "complete");
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(r, "_meta");
	if (!meta)
		meta = cJSON_AddObjectToObject(r, "_meta");
	if (!get(meta, META_SERVER_INFO))
		add_server_info(meta, META_SERVER_INFO);
	return r;
}

/* The cache hints of a modern list result (CacheableResult). */
static void add_cache_hints(const struct call *c, cJSON *r)
{
	if (!c->modern)
		return;
	cJSON_AddNumberToObject(r, "ttlMs", (double)opt.ttl_ms);
	cJSON_AddStringToObject(r, "cacheScope", "public");
}

/* Answers c's request with r; takes ownership of r. */
static void answer(const struct call *c, cJSON *r)
{
	send_result(c->sink, c->id, finish(c, r));
}

/* A reply sent later: the sleep tool and --slow-initialize. */
struct deferred {
	struct deferred *next;
	struct sink *sink;
	cJSON *id, *result, *progress_token;
	int64_t start_ms, due_ms, next_progress_ms;
};

/* What the tools roots and ask can ask the client for. */
enum ask_kind { ASK_SAMPLING, ASK_ELICITATION, ASK_ROOTS };

static const struct ask {
	const char *kind;       /* the tool ask's argument, and the client capability */
	const char *method;
} asks[] = {
	[ASK_SAMPLING] = {"sampling", "sampling/createMessage"},
	[ASK_ELICITATION] = {"elicitation", "elicitation/create"},
	[ASK_ROOTS] = {"roots", "roots/list"},
};

/* A request we sent to the client (roots/list...), waiting for its answer. */
struct outgoing {
	struct outgoing *next;
	char id[32];
	struct sink *sink;
	cJSON *orig_id; /* the tools/call to answer when the response arrives */
	enum ask_kind kind;
};

/* A legacy resources/subscribe. */
struct subscription {
	struct subscription *next;
	struct sink *sink;
	char *uri;
};

/* A modern subscriptions/listen: pending until notifications/cancelled. */
struct listener {
	struct listener *next;
	struct sink *sink;
	cJSON *id;           /* the listen request's id: the subscriptionId */
	bool tools_changed;  /* toolsListChanged */
	bool resources_changed; /* resourcesListChanged: honoured, never happens */
	cJSON *uris;         /* resourceSubscriptions (strings), or NULL */
};

#define MAX_SUBSCRIPTIONS 1024
#define MAX_LISTENERS 256
#define MAX_LISTEN_URIS 256

static struct deferred *g_deferred;
static struct outgoing *g_outgoing;
static unsigned g_pending; /* deferred + outgoing */
static unsigned long g_next_srv_id = 1;
static bool g_time_tool; /* toggled by SIGUSR1 */

/* The legacy client's state, from initialize and the requests after it.  One
 * per process: stdio has one client (over HTTP the last session wins). */
static cJSON *g_legacy_caps;   /* initialize's capabilities, or NULL */
static bool g_legacy_seen;     /* initialize came: untagged notifications may go out */
static int g_log_level = -1;   /* logging/setLevel; -1: none set, everything goes */
static struct subscription *g_subscriptions;
static unsigned g_nsubscriptions;
static struct listener *g_listeners;
static unsigned g_nlisteners;

static const char *const log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency", /* rising */
};

/* The rank of a log level name, or -1. */
static int log_level_rank(const cJSON *v)
{
	if (cJSON_IsString(v))
		for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++)
			if (strcmp(v->valuestring, log_levels[i]) == 0)
				return (int)i;
	return -1;
}

static void stderr_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A line on stderr without the name prefix, for the lines tests look for as
 * they are ("subscribed URI", "log level LEVEL"); control characters replaced. */
static void stderr_line(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(buf);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = '?';
	buf[len++] = '\n';
	stderr_write(buf, len);
}

static bool sink_closed(struct sink *s)
{
	if (!s || s->kind == SINK_STDOUT)
		return false;
	pthread_mutex_lock(&s->mu);
	bool closed = s->closed;
	pthread_mutex_unlock(&s->mu);
	return closed;
}

static void outgoing_free(struct outgoing *o);

static bool pending_full(const struct call *c)
{
	if (g_pending < MAX_PENDING)
		return false;
	/* Forget the roots calls of clients that went away without answering. */
	for (struct outgoing **pp = &g_outgoing; *pp;) {
		struct outgoing *o = *pp;
		if (sink_closed(o->sink)) {
			*pp = o->next;
			outgoing_free(o);
		} else {
			pp = &o->next;
		}
	}
	if (g_pending < MAX_PENDING)
		return false;
	send_error(c->sink, c->id, -32603, "Internal error: too many pending requests");
	return true;
}

static void send_progress(struct deferred *d, int64_t now)
{
	cJSON *p = cJSON_CreateObject();
	cJSON_AddItemToObject(p, "progressToken", cJSON_Duplicate(d->progress_token, true));
	cJSON_AddNumberToObject(p, "progress", (double)(now - d->start_ms));
	cJSON_AddNumberToObject(p, "total", (double)(d->due_ms - d->start_ms));
	send_notification(d->sink, "notifications/progress", p);
	d->next_progress_ms = now + PROGRESS_INTERVAL_MS;
}

/* Answers c with result after delay_ms; takes ownership of result. */
static void defer_reply(const struct call *c, cJSON *result, int64_t delay_ms, const cJSON *token)
{
	if (pending_full(c)) {
		cJSON_Delete(result);
		return;
	}
	struct deferred *d = calloc(1, sizeof *d);
	if (!d) {
		cJSON_Delete(result);
		send_error(c->sink, c->id, -32603, "Internal error: out of memory");
		return;
	}
	d->sink = sink_ref(c->sink);
	d->id = cJSON_Duplicate(c->id, true);
	d->result = finish(c, result);
	d->start_ms = now_ms();
	d->due_ms = d->start_ms + delay_ms;
	if (cJSON_IsString(token) || cJSON_IsNumber(token)) {
		d->progress_token = cJSON_Duplicate(token, true);
		send_progress(d, d->start_ms); /* at least one, even for 0 ms */
	}
	d->next = g_deferred;
	g_deferred = d;
	g_pending++;
}

static void deferred_free(struct deferred *d)
{
	sink_unref(d->sink);
	cJSON_Delete(d->id);
	cJSON_Delete(d->result);
	cJSON_Delete(d->progress_token);
	free(d);
	g_pending--;
}

static void outgoing_free(struct outgoing *o)
{
	sink_unref(o->sink);
	cJSON_Delete(o->orig_id);
	free(o);
	g_pending--;
}

static void listener_free(struct listener *l)
{
	sink_unref(l->sink);
	cJSON_Delete(l->id);
	cJSON_Delete(l->uris);
	free(l);
	g_nlisteners--;
}

/* Sends what is due; returns the next deadline, or -1 for none. */
static int64_t deferred_run(int64_t now)
{
	int64_t next = -1;
	for (struct deferred **pp = &g_deferred; *pp;) {
		struct deferred *d = *pp;
		if (d->due_ms <= now) {
			*pp = d->next;
			send_result(d->sink, d->id, d->result);
			d->result = NULL;
			deferred_free(d);
			continue;
		}
		if (d->progress_token && d->next_progress_ms <= now)
			send_progress(d, now);
		int64_t when = d->due_ms;
		if (d->progress_token && d->next_progress_ms < when)
			when = d->next_progress_ms;
		if (next < 0 || when < next)
			next = when;
		pp = &d->next;
	}
	return next;
}

/* notifications/cancelled: forget the request, send nothing for it. */
static void cancel_request(struct sink *sink, const cJSON *id)
{
	for (struct deferred **pp = &g_deferred; *pp;) {
		struct deferred *d = *pp;
		if (cJSON_Compare(d->id, id, true) && (!sink || d->sink == sink)) {
			*pp = d->next;
			deferred_free(d);
		} else {
			pp = &d->next;
		}
	}
	for (struct outgoing **pp = &g_outgoing; *pp;) {
		struct outgoing *o = *pp;
		if (cJSON_Compare(o->orig_id, id, true) && (!sink || o->sink == sink)) {
			*pp = o->next;
			outgoing_free(o);
		} else {
			pp = &o->next;
		}
	}
	for (struct listener **pp = &g_listeners; *pp;) {
		struct listener *l = *pp;
		if (cJSON_Compare(l->id, id, true) && (!sink || l->sink == sink)) {
			*pp = l->next;
			listener_free(l); /* a cancelled listen gets no response */
		} else {
			pp = &l->next;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Tools                                                               */

static cJSON *text_result(const char *text, bool is_error)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *content = cJSON_AddArrayToObject(r, "content");
	cJSON *item = cJSON_CreateObject();
	cJSON_AddStringToObject(item, "type", "text");
	cJSON_AddStringToObject(item, "text", text);
	cJSON_AddItemToArray(content, item);
	cJSON_AddBoolToObject(r, "isError", is_error);
	return r;
}

static void t_echo(const struct call *c, const cJSON *args)
{
	const cJSON *text = get(args, "text");
	if (!cJSON_IsString(text)) {
		send_error(c->sink, c->id, -32602, "Invalid arguments for tool echo: text must be a string");
		return;
	}
	answer(c, text_result(text->valuestring, false));
}

static void t_add(const struct call *c, const cJSON *args)
{
	const cJSON *a = get(args, "a"), *b = get(args, "b");
	if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b)) {
		send_error(c->sink, c->id, -32602, "Invalid arguments for tool add: a and b must be numbers");
		return;
	}
	char text[64];
	snprintf(text, sizeof text, "%.15g", a->valuedouble + b->valuedouble);
	answer(c, text_result(text, false));
}

static void t_sleep(const struct call *c, const cJSON *args)
{
	const cJSON *ms = get(args, "ms");
	if (!cJSON_IsNumber(ms) || !(ms->valuedouble >= 0 && ms->valuedouble <= MAX_SLEEP_MS) ||
	    ms->valuedouble != (double)(int64_t)ms->valuedouble) {
		send_error(c->sink, c->id, -32602,
			   "Invalid arguments for tool sleep: ms must be an integer from 0 to %d", MAX_SLEEP_MS);
		return;
	}
	int64_t n = (int64_t)ms->valuedouble;
	char text[64];
	logmsg("sleeping %lld ms", (long long)n);
	snprintf(text, sizeof text, "slept %lld ms", (long long)n);
	const cJSON *token = get(get(c->params, "_meta"), "progressToken");
	defer_reply(c, text_result(text, false), n, token);
}

/* The params of what ask sends the client (NULL: none). */
static cJSON *ask_params(enum ask_kind kind)
{
	cJSON *p = NULL, *schema;
	switch (kind) {
	case ASK_SAMPLING:
		p = cJSON_CreateObject();
		cJSON *msg = cJSON_CreateObject();
		cJSON_AddStringToObject(msg, "role", "user");
		cJSON *content = cJSON_AddObjectToObject(msg, "content");
		cJSON_AddStringToObject(content, "type", "text");
		cJSON_AddStringToObject(content, "text", "Say something for the example server.");
		cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "messages"), msg);
		cJSON_AddNumberToObject(p, "maxTokens", 100);
		break;
	case ASK_ELICITATION:
		p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "message", "The example server asks for an answer.");
		schema = cJSON_AddObjectToObject(p, "requestedSchema");
		cJSON_AddStringToObject(schema, "type", "object");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(schema, "properties"), "answer"),
					"type", "string");
		break;
	case ASK_ROOTS:
		break;
	}
	return p;
}

/* The tool result for the client's answer: sampling's text, elicitation's
 * action and content, the roots as JSON. */
static cJSON *ask_answer(enum ask_kind kind, const cJSON *result)
{
	const cJSON *content = get(result, "content");
	char *text = NULL;
	if (kind == ASK_ROOTS) {
		const cJSON *roots = get(result, "roots");
		text = cJSON_PrintUnformatted(roots ? roots : result);
	} else if (kind == ASK_SAMPLING) {
		if (cJSON_IsArray(content)) /* 2025-11-25: one block or several */
			content = cJSON_GetArrayItem(content, 0);
		const char *t = cJSON_GetStringValue(get(content, "text"));
		text = t ? strdup(t) : cJSON_PrintUnformatted(result);
	} else {
		const char *action = cJSON_GetStringValue(get(result, "action"));
		char *json = content ? cJSON_PrintUnformatted(content) : NULL;
		size_t len = strlen(action ? action : "?") + (json ? strlen(json) : 0) + 2;
		text = malloc(len);
		if (text)
			snprintf(text, len, "%s%s%s", action ? action : "?", json ? " " : "", json ? json : "");
		cJSON_free(json);
	}
	cJSON *r = text_result(text ? text : "", false);
	free(text);
	return r;
}

/* Sends the client a request (legacy era); the tool call is answered when its
 * response comes, in handle_response(). */
static void send_client_request(const struct call *c, enum ask_kind kind)
{
	if (!sink_streams(c->sink)) {
		char text[128];
		snprintf(text, sizeof text, "cannot ask the client for %s on a plain JSON response", asks[kind].kind);
		answer(c, text_result(text, true));
		return;
	}
	if (pending_full(c))
		return;
	struct outgoing *o = calloc(1, sizeof *o);
	if (!o) {
		send_error(c->sink, c->id, -32603, "Internal error: out of memory");
		return;
	}
	snprintf(o->id, sizeof o->id, "srv-%lu", g_next_srv_id++);
	o->sink = sink_ref(c->sink);
	o->orig_id = cJSON_Duplicate(c->id, true);
	o->kind = kind;
	o->next = g_outgoing;
	g_outgoing = o;
	g_pending++;

	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "jsonrpc", "2.0");
	cJSON_AddStringToObject(req, "id", o->id);
	cJSON_AddStringToObject(req, "method", asks[kind].method);
	cJSON *params = ask_params(kind);
	if (params)
		cJSON_AddItemToObject(req, "params", params);
	sink_send(c->sink, req, false);
	cJSON_Delete(req);
}

/* Asks the client for its roots; the answer comes in handle_response(). */
static void t_roots(const struct call *c, const cJSON *args)
{
	if (c->modern) {
		answer(c, text_result("roots: a 2026-07-28 request cannot be answered with a server-to-client "
				      "request; call the tool ask with {\"kind\": \"roots\"}",
				      true));
		return;
	}
	send_client_request(c, ASK_ROOTS);
}

/*
 * ask {kind}: a server-to-client request in the legacy era; in 2026-07-28 an
 * input_required result first (MRTR), then, on the retry that carries
 * inputResponses.q, the answer.  Either way only when the client declared
 * the capability.
 */
static void t_ask(const struct call *c, const cJSON *args)
{
	const char *kind_name = cJSON_GetStringValue(get(args, "kind"));
	size_t k = 0;
	while (k < sizeof asks / sizeof asks[0] && !(kind_name && strcmp(kind_name, asks[k].kind) == 0))
		k++;
	if (k == sizeof asks / sizeof asks[0]) {
		send_error(c->sink, c->id, -32602,
			   "Invalid arguments for tool ask: kind must be sampling, elicitation or roots");
		return;
	}
	enum ask_kind kind = (enum ask_kind)k;
	const cJSON *caps = c->modern ? get(get(c->params, "_meta"), META_CLIENT_CAPABILITIES) : g_legacy_caps;
	if (!cJSON_IsObject(get(caps, asks[kind].kind))) {
		if (c->modern) {
			cJSON *data = cJSON_CreateObject();
			cJSON_AddObjectToObject(cJSON_AddObjectToObject(data, "requiredCapabilities"), asks[kind].kind);
			send_error_data(c->sink, c->id, ERR_MISSING_CAPABILITY, data,
					"Missing required client capability: %s (the tool ask sends %s)",
					asks[kind].kind, asks[kind].method);
		} else {
			char text[160];
			snprintf(text, sizeof text, "ask: the client did not declare the %s capability in initialize",
				 asks[kind].kind);
			answer(c, text_result(text, true));
		}
		return;
	}
	if (!c->modern) {
		send_client_request(c, kind);
		return;
	}
	const cJSON *response = get(get(c->params, "inputResponses"), "q");
	if (cJSON_IsObject(response)) {
		answer(c, ask_answer(kind, response));
		return;
	}
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "resultType", "input_required");
	cJSON *q = cJSON_AddObjectToObject(cJSON_AddObjectToObject(r, "inputRequests"), "q");
	cJSON_AddStringToObject(q, "method", asks[kind].method);
	cJSON *params = ask_params(kind);
	cJSON_AddItemToObject(q, "params", params ? params : cJSON_CreateObject());
	char state[32];
	snprintf(state, sizeof state, "ask:%s", asks[kind].kind); /* nothing to protect: a test server */
	cJSON_AddStringToObject(r, "requestState", state);
	answer(c, r);
}

/* log {level, text}: notifications/message on the request's stream, when
 * the client's level lets it through (modern: only with _meta logLevel). */
static void t_log(const struct call *c, const cJSON *args)
{
	int level = log_level_rank(get(args, "level"));
	const cJSON *text = get(args, "text");
	if (level < 0 || !cJSON_IsString(text)) {
		send_error(c->sink, c->id, -32602,
			   "Invalid arguments for tool log: level must be a log level (debug to emergency), text a "
			   "string");
		return;
	}
	int threshold = c->modern ? log_level_rank(get(get(c->params, "_meta"), META_LOG_LEVEL)) : g_log_level;
	bool send = c->modern ? threshold >= 0 && level >= threshold : level >= threshold;
	if (send) {
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "level", log_levels[level]);
		cJSON_AddStringToObject(p, "logger", opt.name);
		cJSON_AddStringToObject(p, "data", text->valuestring);
		send_notification(c->sink, "notifications/message", p);
	}
	answer(c, text_result(send ? "logged" : c->modern && threshold < 0 ? "not logged: no logLevel in _meta"
									   : "not logged: below the client's level",
			      false));
}

/* Forgets the subscriptions and listens of clients that went away. */
static void prune_closed(void)
{
	for (struct subscription **pp = &g_subscriptions; *pp;) {
		struct subscription *sub = *pp;
		if (sink_closed(sub->sink)) {
			*pp = sub->next;
			sink_unref(sub->sink);
			free(sub->uri);
			free(sub);
			g_nsubscriptions--;
		} else {
			pp = &sub->next;
		}
	}
	for (struct listener **pp = &g_listeners; *pp;) {
		struct listener *l = *pp;
		if (sink_closed(l->sink)) {
			*pp = l->next;
			listener_free(l);
		} else {
			pp = &l->next;
		}
	}
}

/* A notification on a listen stream: params (owned, may be NULL) get its subscriptionId. */
static void listener_notify(const struct listener *l, const char *method, cJSON *params)
{
	if (!params)
		params = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(params, "_meta");
	cJSON_AddItemToObject(meta, META_SUBSCRIPTION_ID, cJSON_Duplicate(l->id, true));
	send_notification(l->sink, method, params);
}

static bool listener_has_uri(const struct listener *l, const char *uri)
{
	const cJSON *u;
	cJSON_ArrayForEach(u, l->uris)
		if (cJSON_IsString(u) && strcmp(u->valuestring, uri) == 0)
			return true;
	return false;
}

/* touch {uri}: notifications/resources/updated to its legacy subscribers and
 * to the listen streams that named it. */
static void t_touch(const struct call *c, const cJSON *args)
{
	const char *uri = cJSON_GetStringValue(get(args, "uri"));
	if (!uri) {
		send_error(c->sink, c->id, -32602, "Invalid arguments for tool touch: uri must be a string");
		return;
	}
	prune_closed();
	unsigned n = 0;
	for (struct subscription *sub = g_subscriptions; sub; sub = sub->next) {
		if (strcmp(sub->uri, uri) != 0)
			continue;
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "uri", uri);
		send_notification(sub->sink, "notifications/resources/updated", p);
		n++;
	}
	for (struct listener *l = g_listeners; l; l = l->next) {
		if (!listener_has_uri(l, uri))
			continue;
		cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(p, "uri", uri);
		listener_notify(l, "notifications/resources/updated", p);
		n++;
	}
	char text[400];
	snprintf(text, sizeof text, "touched %.300s: %u subscriber%s notified", uri, n, n == 1 ? "" : "s");
	answer(c, text_result(text, false));
}

static void t_time(const struct call *c, const cJSON *args)
{
	char text[32];
	snprintf(text, sizeof text, "%lld", (long long)time(NULL));
	answer(c, text_result(text, false));
}

static const struct tool {
	const char *name;
	const char *description;
	const char *input_schema; /* JSON */
	void (*fn)(const struct call *c, const cJSON *args);
	bool on_sigusr1; /* listed only once SIGUSR1 has switched it on */
	bool era_tool;   /* listed only with --dual-era or --modern-only (the
	                    legacy list stays what older tests expect) */
} tools[] = {
	{"echo", "Returns the given text unchanged.",
	 "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}",
	 t_echo, false, false},
	{"add", "Adds two numbers and returns the sum as text.",
	 "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"number\"},\"b\":{\"type\":\"number\"}},"
	 "\"required\":[\"a\",\"b\"]}",
	 t_add, false, false},
	{"sleep", "Answers after ms milliseconds, with progress notifications when asked for.",
	 "{\"type\":\"object\",\"properties\":{\"ms\":{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"ms\"]}",
	 t_sleep, false, false},
	{"roots", "Asks the client for its roots (roots/list) and returns them as JSON text.",
	 "{\"type\":\"object\",\"properties\":{}}", t_roots, false, false},
	{"time", "Returns the current UNIX time as text.",
	 "{\"type\":\"object\",\"properties\":{}}", t_time, true, false},
	{"ask", "Asks the client for sampling, an elicitation or its roots and returns the answer as text.",
	 "{\"type\":\"object\",\"properties\":{\"kind\":{\"type\":\"string\","
	 "\"enum\":[\"sampling\",\"elicitation\",\"roots\"]}},\"required\":[\"kind\"]}",
	 t_ask, false, true},
	{"log", "Sends a log message at level, if the client's log level lets it through.",
	 "{\"type\":\"object\",\"properties\":{\"level\":{\"type\":\"string\",\"enum\":[\"debug\",\"info\","
	 "\"notice\",\"warning\",\"error\",\"critical\",\"alert\",\"emergency\"]},\"text\":{\"type\":\"string\"}},"
	 "\"required\":[\"level\",\"text\"]}",
	 t_log, false, true},
	{"touch", "Tells the subscribers of the resource uri that it changed.",
	 "{\"type\":\"object\",\"properties\":{\"uri\":{\"type\":\"string\"}},\"required\":[\"uri\"]}",
	 t_touch, false, true},
};

static const char echo_schema[] =
	"{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}";

/* --fail-tool: a tool that fails as tools do, with a result (not a JSON-RPC error). */
static void t_fail(const struct call *c, const cJSON *args)
{
	(void)args;
	answer(c, text_result("the tool failed on purpose (--fail-tool)", true));
}

/* --whoami-tool: which server answered (mcpd's aggregate endpoint routes by name). */
static void t_whoami(const struct call *c, const cJSON *args)
{
	(void)args;
	answer(c, text_result(opt.name, false));
}

static const struct tool whoami_tool = {"whoami", "Returns the server's --name.", "{\"type\":\"object\"}",
					t_whoami, false, false};

static const struct tool fail_tool = {"fail", "Fails: its result has isError true.", "{\"type\":\"object\"}",
				      t_fail, false, false};
/* --tool NAME: a stand-in for a real tool (send_email...): its calls show in mcpd's log of the server. */
static void t_named(const struct call *c, const cJSON *args)
{
	const char *name = cJSON_GetStringValue(get(c->params, "name"));
	char *text = args ? cJSON_PrintUnformatted(args) : NULL;
	char out[1200];

	logmsg("called %.64s %.1000s", name ? name : "?", text ? text : "{}");
	snprintf(out, sizeof out, "%.64s done: %.1000s", name ? name : "?", text ? text : "{}");
	free(text);
	answer(c, text_result(out, false));
}

static const struct tool named_tool = {"NAME", "Logs the call on stderr and answers \"NAME done: ARGUMENTS\" (--tool).",
				       "{\"type\":\"object\"}", t_named, false, false};
/* --counter-file: a tool with a visible side effect, to count how often a call ran (approval tests). */
static void t_count(const struct call *c, const cJSON *args)
{
	const cJSON *text = get(args, "text");
	char line[256], answer_text[32];
	unsigned lines = 0;
	FILE *f = fopen(opt.counter_file, "a+");

	if (!f) {
		answer(c, text_result(strerror(errno), true));
		return;
	}
	fprintf(f, "%.200s\n", cJSON_IsString(text) ? text->valuestring : "x");
	fflush(f);
	rewind(f);
	while (fgets(line, sizeof line, f))
		lines++;
	fclose(f);
	snprintf(answer_text, sizeof answer_text, "%u", lines);
	answer(c, text_result(answer_text, false));
}

static const struct tool count_tool = {"count", "Appends a line (text) to the --counter-file and answers how many "
				       "lines it has.", "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}",
				       t_count, false, false};
static const struct tool extra_tool = {"tool_N", "Returns the given text unchanged (--tools).", echo_schema, t_echo,
				       false, false};

/* ------------------------------------------------------------------ */
/* --confine-tools: what a confined server may try (mcpd's sandbox and
 * limits tests).  Each answers what happened, an errno's text as a tool
 * error (isError: true), so a test reads the kernel's verdict. */

#define CONFINE_MAX_PATH 4096
#define CONFINE_MAX_TEXT ((size_t)64 << 10) /* write_file */
#define CONFINE_READ_BYTES 4096             /* read_file's default, and connect_unix's */
#define CONFINE_MAX_READ ((size_t)64 << 10) /* read_file's max */
#define CONFINE_MAX_MB 4096                 /* alloc_mb */
#define CONFINE_CONNECT_TIMEOUT_S 5

static void errno_result(const struct call *c, const char *what, const char *subject, int err)
{
	char text[CONFINE_MAX_PATH + 256];
	snprintf(text, sizeof text, "%s %s: %s", what, subject, strerror(err));
	answer(c, text_result(text, true));
}

/* args[key] as a string of 1..max bytes, or NULL after an invalid-params error. */
static const char *string_arg(const struct call *c, const cJSON *args, const char *tool, const char *key, size_t max)
{
	const cJSON *v = get(args, key);
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > max) {
		send_error(c->sink, c->id, -32602, "Invalid arguments for tool %s: %s must be a string of 1 to %zu bytes",
			   tool, key, max);
		return NULL;
	}
	return v->valuestring;
}

/* args[key] as an integer in [min, max], or false after an invalid-params error. */
static bool int_arg(const struct call *c, const cJSON *args, const char *tool, const char *key, long min, long max,
		    long *out)
{
	const cJSON *v = get(args, key);
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble || v->valuedouble < (double)min ||
	    v->valuedouble > (double)max) {
		send_error(c->sink, c->id, -32602, "Invalid arguments for tool %s: %s must be an integer from %ld to %ld",
			   tool, key, min, max);
		return false;
	}
	*out = (long)v->valuedouble;
	return true;
}

static void t_write_file(const struct call *c, const cJSON *args)
{
	const char *path = string_arg(c, args, "write_file", "path", CONFINE_MAX_PATH);
	const char *text = path ? string_arg(c, args, "write_file", "text", CONFINE_MAX_TEXT) : NULL;
	if (!text)
		return;
	/* Symlinks are followed on purpose: the sandbox must stop a link to a forbidden file. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		errno_result(c, "cannot open", path, errno);
		return;
	}
	size_t len = strlen(text);
	bool ok = write_all(fd, text, len);
	int err = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	if (!ok) {
		errno_result(c, "cannot write", path, err);
		return;
	}
	char reply[CONFINE_MAX_PATH + 64];
	snprintf(reply, sizeof reply, "wrote %zu bytes to %s", len, path);
	answer(c, text_result(reply, false));
}

static void t_read_file(const struct call *c, const cJSON *args)
{
	const char *path = string_arg(c, args, "read_file", "path", CONFINE_MAX_PATH);
	long max = CONFINE_READ_BYTES;
	if (!path || (get(args, "max") && !int_arg(c, args, "read_file", "max", 1, (long)CONFINE_MAX_READ, &max)))
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		errno_result(c, "cannot open", path, errno);
		return;
	}
	static char buf[CONFINE_MAX_READ + 1];
	size_t n = 0;
	while (n < (size_t)max) {
		ssize_t r = read(fd, buf + n, (size_t)max - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;
			close(fd);
			errno_result(c, "cannot read", path, err);
			return;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	/* As text: /proc/PID/environ separates with NULs, and binary bytes would not be JSON strings. */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = '\n';
		else if ((unsigned char)buf[i] >= 0x80 || ((unsigned char)buf[i] < 0x20 && buf[i] != '\n' && buf[i] != '\t'))
			buf[i] = '?';
	buf[n] = '\0';
	answer(c, text_result(buf, false));
}

static void t_connect_tcp(const struct call *c, const cJSON *args)
{
	const char *host = string_arg(c, args, "connect_tcp", "host", 64);
	long port;
	if (!host || !int_arg(c, args, "connect_tcp", "port", 1, 65535, &port))
		return;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		send_error(c->sink, c->id, -32602, "Invalid arguments for tool connect_tcp: host must be an IPv4 address");
		return;
	}
	char subject[128];
	snprintf(subject, sizeof subject, "%s:%ld", host, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errno_result(c, "cannot create a socket for", subject, errno);
		return;
	}
	/* A bounded blocking connect: Linux applies the send timeout to connect(). */
	struct timeval tv = {.tv_sec = CONFINE_CONNECT_TIMEOUT_S};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int r;
	while ((r = connect(fd, (struct sockaddr *)&sin, sizeof sin)) != 0 && errno == EINTR)
		;
	int err = errno;
	close(fd);
	if (r != 0) {
		errno_result(c, "cannot connect to", subject, err);
		return;
	}
	answer(c, text_result("connected", false));
}

/* Allocates and touches mb MiB one MiB at a time, then frees it: the answer
 * says how much it got.  Over a cgroup's memory.max the kernel kills the
 * server while it touches; under RLIMIT_DATA malloc fails first. */
static void t_alloc_mb(const struct call *c, const cJSON *args)
{
	long mb;
	if (!int_arg(c, args, "alloc_mb", "mb", 1, CONFINE_MAX_MB, &mb))
		return;
	static char *chunks[CONFINE_MAX_MB];
	long got = 0;
	int err = 0;
	for (; got < mb; got++) {
		chunks[got] = malloc((size_t)1 << 20);
		if (!chunks[got]) {
			err = errno ? errno : ENOMEM;
			break;
		}
		memset(chunks[got], 0xa5, (size_t)1 << 20);
	}
	for (long i = 0; i < got; i++)
		free(chunks[i]);
	char text[160];
	if (got < mb) {
		snprintf(text, sizeof text, "cannot allocate %ld MiB: got %ld MiB, then: %s", mb, got, strerror(err));
		answer(c, text_result(text, true));
		return;
	}
	snprintf(text, sizeof text, "allocated and touched %ld MiB", got);
	answer(c, text_result(text, false));
}

/* A descendant that left our session and process group (setsid) and sleeps
 * forever: only a cgroup still knows it belongs to this server. */
static void t_spawn_setsid(const struct call *c, const cJSON *args)
{
	(void)args;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		errno_result(c, "cannot", "create a pipe", errno);
		return;
	}
	pid_t child = fork();
	if (child < 0) {
		int err = errno;
		close(p[0]);
		close(p[1]);
		errno_result(c, "cannot", "fork", err);
		return;
	}
	if (child == 0) {
		close(p[0]);
		(void)setsid();
		pid_t grandchild = fork();
		if (grandchild == 0) {
			int null = open("/dev/null", O_RDWR);
			if (null >= 0) {
				dup2(null, STDIN_FILENO);
				dup2(null, STDOUT_FILENO);
				dup2(null, STDERR_FILENO);
			}
			for (;;)
				pause();
		}
		int32_t v = grandchild;
		_exit(write(p[1], &v, sizeof v) == (ssize_t)sizeof v && grandchild > 0 ? 0 : 1);
	}
	close(p[1]);
	int status;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	int32_t v = 0;
	ssize_t n = read(p[0], &v, sizeof v);
	close(p[0]);
	if (n != (ssize_t)sizeof v || v <= 0) {
		errno_result(c, "cannot", "fork a setsid'd descendant", EAGAIN);
		return;
	}
	char text[32];
	snprintf(text, sizeof text, "%ld", (long)v);
	answer(c, text_result(text, false));
}

static void t_signal(const struct call *c, const cJSON *args)
{
	long pid, sig;
	if (!int_arg(c, args, "signal", "pid", 1, INT_MAX, &pid) || !int_arg(c, args, "signal", "sig", 0, 64, &sig))
		return;
	char subject[64];
	snprintf(subject, sizeof subject, "pid %ld", pid);
	if (kill((pid_t)pid, (int)sig) != 0) {
		errno_result(c, "cannot signal", subject, errno);
		return;
	}
	answer(c, text_result("sent", false));
}

/* Connects to a Unix socket, sends one line, answers what came back (at
 * most 4 KiB, within 5 s): mcpd must refuse its control socket to a
 * sandboxed server. */
static void t_connect_unix(const struct call *c, const cJSON *args)
{
	const char *path = string_arg(c, args, "connect_unix", "path", sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	const char *line = path ? string_arg(c, args, "connect_unix", "send", CONFINE_READ_BYTES) : NULL;
	if (!line)
		return;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errno_result(c, "cannot create a socket for", path, errno);
		return;
	}
	struct timeval tv = {.tv_sec = CONFINE_CONNECT_TIMEOUT_S};
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int err = errno;
		close(fd);
		errno_result(c, "cannot connect to", path, err);
		return;
	}
	char buf[CONFINE_READ_BYTES + 64] = "connected; answer: ";
	size_t head = strlen(buf), n = 0;
	if (!write_all(fd, line, strlen(line)) || !write_all(fd, "\n", 1)) {
		int err = errno;
		close(fd);
		errno_result(c, "connected, then cannot send to", path, err);
		return;
	}
	ssize_t r;
	while (n < CONFINE_READ_BYTES && (r = read(fd, buf + head + n, CONFINE_READ_BYTES - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
		if (memchr(buf + head, '\n', n))
			break;
	}
	close(fd);
	for (size_t i = head; i < head + n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x80)
			buf[i] = ' ';
	buf[head + n] = '\0';
	answer(c, text_result(n ? buf : "connected; the peer closed without an answer", false));
}

/* PTRACE_SEIZE of pid (it does not stop it), detached at once when it worked. */
static void t_ptrace(const struct call *c, const cJSON *args)
{
	long pid;
	if (!int_arg(c, args, "ptrace", "pid", 1, INT_MAX, &pid))
		return;
	char subject[64];
	snprintf(subject, sizeof subject, "pid %ld", pid);
	if (ptrace(PTRACE_SEIZE, (pid_t)pid, NULL, NULL) != 0) {
		errno_result(c, "cannot trace", subject, errno);
		return;
	}
	/* Detaching a running tracee needs a stop first: interrupt it, wait for the stop, detach. */
	(void)ptrace(PTRACE_INTERRUPT, (pid_t)pid, NULL, NULL);
	(void)waitpid((pid_t)pid, NULL, __WALL);
	(void)ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
	answer(c, text_result("attached (and detached)", false));
}

static const struct tool confine_tools[] = {
	{"write_file", "Writes text to path (created or truncated; symlinks followed) (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"}},"
	 "\"required\":[\"path\",\"text\"]}",
	 t_write_file, false, false},
	{"read_file", "Returns the first max bytes (4096, at most 65536) of path as text (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
	 "\"max\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65536}},\"required\":[\"path\"]}",
	 t_read_file, false, false},
	{"connect_tcp", "Opens a TCP connection to host:port (an IPv4 address) and closes it (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"host\":{\"type\":\"string\"},\"port\":{\"type\":\"integer\"}},"
	 "\"required\":[\"host\",\"port\"]}",
	 t_connect_tcp, false, false},
	{"alloc_mb", "Allocates and touches mb MiB (at most 4096), then frees them (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"mb\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4096}},"
	 "\"required\":[\"mb\"]}",
	 t_alloc_mb, false, false},
	{"spawn_setsid", "Leaves a setsid()'d descendant that sleeps forever; returns its pid (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{}}", t_spawn_setsid, false, false},
	{"signal", "Sends signal sig (0 to 64) to pid (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\"},\"sig\":{\"type\":\"integer\"}},"
	 "\"required\":[\"pid\",\"sig\"]}",
	 t_signal, false, false},
	{"connect_unix", "Connects to the Unix socket path, sends the line send and returns the answer (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"send\":{\"type\":\"string\"}},"
	 "\"required\":[\"path\",\"send\"]}",
	 t_connect_unix, false, false},
	{"ptrace", "Attaches to pid with PTRACE_SEIZE and detaches (--confine-tools).",
	 "{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\"}},\"required\":[\"pid\"]}", t_ptrace,
	 false, false},
};
#define N_CONFINE_TOOLS (sizeof confine_tools / sizeof confine_tools[0])

/* tool_1 .. tool_N of --tools N. */
static bool extra_tool_named(const char *name)
{
	char *end;
	unsigned long k;

	if (strncmp(name, "tool_", 5) != 0 || name[5] < '1' || name[5] > '9')
		return false;
	k = strtoul(name + 5, &end, 10);
	return *end == '\0' && k >= 1 && k <= opt.extra_tools;
}

static const struct tool *find_tool(const char *name)
{
	if (opt.fail_tool && strcmp(name, "fail") == 0)
		return &fail_tool;
	if (opt.counter_file && strcmp(name, "count") == 0)
		return &count_tool;
	if (opt.whoami_tool && strcmp(name, "whoami") == 0)
		return &whoami_tool;
	if (extra_tool_named(name))
		return &extra_tool;
	for (unsigned i = 0; i < opt.n_named_tools; i++)
		if (strcmp(opt.named_tools[i], name) == 0)
			return &named_tool;
	for (size_t i = 0; opt.confine_tools && i < N_CONFINE_TOOLS; i++)
		if (strcmp(confine_tools[i].name, name) == 0)
			return &confine_tools[i];
	for (size_t i = 0; !opt.bare && i < sizeof tools / sizeof tools[0]; i++)
		if (strcmp(tools[i].name, name) == 0 && (!tools[i].on_sigusr1 || g_time_tool))
			return &tools[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Methods                                                             */

static const char *negotiate_version(const cJSON *requested)
{
	if (cJSON_IsString(requested))
		for (size_t i = 0; i < sizeof protocol_versions / sizeof protocol_versions[0]; i++)
			if (strcmp(requested->valuestring, protocol_versions[i]) == 0)
				return protocol_versions[i];
	return protocol_versions[0];
}

static char *instructions_text(void)
{
	static const char base[] =
		"An example MCP server for testing mcpd. Tools: echo, add, sleep, roots.";
	size_t len = opt.huge_initialize > sizeof base - 1 ? (size_t)opt.huge_initialize : sizeof base - 1;
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	memcpy(s, base, sizeof base - 1);
	memset(s + sizeof base - 1, 'x', len - (sizeof base - 1)); /* --huge-initialize */
	s[len] = '\0';
	return s;
}

/* What initialize and server/discover say the server can do. */
static void add_capabilities(cJSON *r)
{
	cJSON *caps = cJSON_AddObjectToObject(r, "capabilities");
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", true);
	cJSON *resources = cJSON_AddObjectToObject(caps, "resources");
	cJSON_AddBoolToObject(resources, "subscribe", true);
	cJSON_AddBoolToObject(resources, "listChanged", true);
	cJSON_AddObjectToObject(caps, "prompts");
	cJSON_AddObjectToObject(caps, "logging");
}

/* -32022 with the versions this server speaks: the only diagnostic a legacy
 * client of a modern-only server gets, so it names them. */
static void send_unsupported_version(const struct call *c, const cJSON *requested)
{
	cJSON *data = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(data, "supported"), cJSON_CreateString(MODERN_VERSION));
	if (cJSON_IsString(requested))
		cJSON_AddStringToObject(data, "requested", requested->valuestring);
	send_error_data(c->sink, c->id, ERR_UNSUPPORTED_VERSION, data,
			"Unsupported protocol version %.64s: this server speaks only " MODERN_VERSION,
			cJSON_IsString(requested) ? requested->valuestring : "(none)");
}

/* --stop-ping-after: true (and told once) when probes go unanswered now. */
static bool probes_stopped(void)
{
	static bool told;
	if (opt.stop_ping_after_ms < 0 || now_ms() - g_start_ms < opt.stop_ping_after_ms)
		return false;
	if (!told)
		logmsg("no longer answering ping%s (--stop-ping-after)",
		       opt.eras != ERAS_LEGACY ? " and server/discover" : "");
	told = true;
	return true;
}

static void m_discover(const struct call *c)
{
	if (probes_stopped())
		return;
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "resultType", "complete");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(r, "supportedVersions"), cJSON_CreateString(MODERN_VERSION));
	add_capabilities(r);
	add_server_info(cJSON_AddObjectToObject(r, "_meta"), META_SERVER_INFO);
	char *instructions = instructions_text();
	if (instructions)
		cJSON_AddStringToObject(r, "instructions", instructions);
	free(instructions);
	cJSON_AddNumberToObject(r, "ttlMs", (double)opt.ttl_ms);
	cJSON_AddStringToObject(r, "cacheScope", "public");
	send_result(c->sink, c->id, r);
}

static void m_initialize(const struct call *c)
{
	const cJSON *caps = get(c->params, "capabilities");
	cJSON_Delete(g_legacy_caps);
	g_legacy_caps = cJSON_IsObject(caps) ? cJSON_Duplicate(caps, true) : NULL;
	g_legacy_seen = true;
	if (opt.no_initialize) {
		logmsg("not answering initialize (--no-initialize)");
		return;
	}
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "protocolVersion", negotiate_version(get(c->params, "protocolVersion")));
	add_capabilities(r);
	add_server_info(r, "serverInfo");
	char *instructions = instructions_text();
	if (instructions)
		cJSON_AddStringToObject(r, "instructions", instructions);
	free(instructions);

	if (opt.slow_initialize_ms > 0)
		defer_reply(c, r, opt.slow_initialize_ms, NULL);
	else
		answer(c, r);
}

static void m_ping(const struct call *c)
{
	if (probes_stopped())
		return;
	if (opt.ping_error) {
		send_error(c->sink, c->id, -32603, "Internal error: ping failed (--ping-error)");
		return;
	}
	answer(c, cJSON_CreateObject());
}

/* --tools-page: keep the page the cursor ("page-<start>") names, and the cursor of the next. */
static void paginate(const struct call *c, cJSON *r, cJSON *list)
{
	const char *cursor = cJSON_GetStringValue(get(c->params, "cursor"));
	long at = cursor && strncmp(cursor, "page-", 5) == 0 ? strtol(cursor + 5, NULL, 10) : 0;
	int start = at < 0 || at > 100000 ? 0 : (int)at;
	int n = cJSON_GetArraySize(list), end = start + (int)opt.tools_page;

	for (int i = n - 1; i >= 0; i--)
		if (i < start || i >= end)
			cJSON_DeleteItemFromArray(list, i);
	if (end < n) {
		char next[32];
		snprintf(next, sizeof next, "page-%d", end);
		cJSON_AddStringToObject(r, "nextCursor", next);
	}
}

static void m_tools_list(const struct call *c)
{
	cJSON *r = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(r, "tools");
	if (opt.silent_tools_list) {
		cJSON_Delete(r);
		return;
	}
	if (opt.whoami_tool) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", whoami_tool.name);
		cJSON_AddStringToObject(t, "description", whoami_tool.description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(whoami_tool.input_schema));
		cJSON_AddItemToArray(list, t);
	}
	for (size_t i = 0; !opt.bare && i < sizeof tools / sizeof tools[0]; i++) {
		if ((tools[i].on_sigusr1 && !g_time_tool) || (tools[i].era_tool && opt.eras == ERAS_LEGACY))
			continue;
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", tools[i].name);
		cJSON_AddStringToObject(t, "description", tools[i].description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(tools[i].input_schema));
		cJSON_AddItemToArray(list, t);
	}
	if (opt.fail_tool) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", fail_tool.name);
		cJSON_AddStringToObject(t, "description", fail_tool.description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(fail_tool.input_schema));
		cJSON_AddItemToArray(list, t);
	}
	if (opt.counter_file) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", count_tool.name);
		cJSON_AddStringToObject(t, "description", count_tool.description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(count_tool.input_schema));
		cJSON_AddItemToArray(list, t);
	}
	for (size_t i = 0; opt.confine_tools && i < N_CONFINE_TOOLS; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "name", confine_tools[i].name);
		cJSON_AddStringToObject(t, "description", confine_tools[i].description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(confine_tools[i].input_schema));
		cJSON_AddItemToArray(list, t);
	}
	for (unsigned i = 0; i < opt.n_named_tools; i++) {
		cJSON *t = cJSON_CreateObject();
		char description[160];

		snprintf(description, sizeof description, "%s (the example server's --tool: logs the call, answers it)",
			 opt.named_tools[i]);
		cJSON_AddStringToObject(t, "name", opt.named_tools[i]);
		cJSON_AddStringToObject(t, "description", description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(named_tool.input_schema));
		cJSON_AddItemToArray(list, t);
	}
	for (unsigned k = 1; k <= opt.extra_tools; k++) {
		cJSON *t = cJSON_CreateObject();
		char name[32];
		snprintf(name, sizeof name, "tool_%u", k);
		cJSON_AddStringToObject(t, "name", name);
		cJSON_AddStringToObject(t, "description", extra_tool.description);
		cJSON_AddItemToObject(t, "inputSchema", cJSON_Parse(extra_tool.input_schema));
		cJSON_AddItemToArray(list, t);
	}
	if (opt.tools_page)
		paginate(c, r, list);
	add_cache_hints(c, r);
	answer(c, r);
}

static void m_tools_call(const struct call *c)
{
	const cJSON *name = get(c->params, "name"), *args = get(c->params, "arguments");
	if (!cJSON_IsString(name)) {
		send_error(c->sink, c->id, -32602, "Invalid params: name must be a string");
		return;
	}
	if (args && !cJSON_IsObject(args) && !cJSON_IsNull(args)) {
		send_error(c->sink, c->id, -32602, "Invalid params: arguments must be an object");
		return;
	}
	const struct tool *t = find_tool(name->valuestring);
	if (!t) {
		send_error(c->sink, c->id, -32602, "Unknown tool: %.200s", name->valuestring);
		return;
	}
	t->fn(c, args);
}

static void m_resources_list(const struct call *c)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddArrayToObject(r, "resources");
	add_cache_hints(c, r);
	answer(c, r);
}

static void m_resource_templates_list(const struct call *c)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddArrayToObject(r, "resourceTemplates");
	add_cache_hints(c, r);
	answer(c, r);
}

static void m_prompts_list(const struct call *c)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddArrayToObject(r, "prompts");
	add_cache_hints(c, r);
	answer(c, r);
}

static void m_set_level(const struct call *c)
{
	const cJSON *level = get(c->params, "level");
	int rank = log_level_rank(level);
	if (rank < 0) {
		send_error(c->sink, c->id, -32602, "Invalid params: level must be a log level (debug to emergency)");
		return;
	}
	g_log_level = rank;
	stderr_line("log level %s", level->valuestring);
	answer(c, cJSON_CreateObject());
}

static void m_subscribe(const struct call *c)
{
	const char *uri = cJSON_GetStringValue(get(c->params, "uri"));
	if (!uri) {
		send_error(c->sink, c->id, -32602, "Invalid params: uri must be a string");
		return;
	}
	struct subscription *sub = g_subscriptions;
	while (sub && !(strcmp(sub->uri, uri) == 0 && sub->sink == c->sink))
		sub = sub->next;
	if (!sub) {
		prune_closed();
		if (g_nsubscriptions >= MAX_SUBSCRIPTIONS) {
			static unsigned refused;
			if (refused++ == 0)
				logmsg("resources/subscribe: %d subscriptions already; refusing more (logged once)",
				       MAX_SUBSCRIPTIONS);
			send_error(c->sink, c->id, -32603, "Internal error: too many subscriptions (%d)",
				   MAX_SUBSCRIPTIONS);
			return;
		}
		sub = calloc(1, sizeof *sub);
		if (!sub || !(sub->uri = strdup(uri))) {
			free(sub);
			send_error(c->sink, c->id, -32603, "Internal error: out of memory");
			return;
		}
		sub->sink = sink_ref(c->sink);
		sub->next = g_subscriptions;
		g_subscriptions = sub;
		g_nsubscriptions++;
	}
	stderr_line("subscribed %.300s", uri);
	answer(c, cJSON_CreateObject());
}

static void m_unsubscribe(const struct call *c)
{
	const char *uri = cJSON_GetStringValue(get(c->params, "uri"));
	if (!uri) {
		send_error(c->sink, c->id, -32602, "Invalid params: uri must be a string");
		return;
	}
	for (struct subscription **pp = &g_subscriptions; *pp;) {
		struct subscription *sub = *pp;
		if (strcmp(sub->uri, uri) == 0) {
			*pp = sub->next;
			sink_unref(sub->sink);
			free(sub->uri);
			free(sub);
			g_nsubscriptions--;
		} else {
			pp = &sub->next;
		}
	}
	stderr_line("unsubscribed %.300s", uri);
	answer(c, cJSON_CreateObject());
}

/* subscriptions/listen: acknowledged at once, answered only if the server
 * ends it (at exit); notifications/cancelled ends it without an answer. */
static void m_listen(const struct call *c)
{
	const cJSON *filter = get(c->params, "notifications");
	const cJSON *uris = get(filter, "resourceSubscriptions"), *u;
	if (!cJSON_IsObject(filter)) {
		send_error(c->sink, c->id, -32602, "Invalid params: notifications must be an object");
		return;
	}
	if (uris && (!cJSON_IsArray(uris) || cJSON_GetArraySize(uris) > MAX_LISTEN_URIS)) {
		send_error(c->sink, c->id, -32602, "Invalid params: resourceSubscriptions must be an array of at most %d URIs",
			   MAX_LISTEN_URIS);
		return;
	}
	cJSON_ArrayForEach(u, uris) {
		if (!cJSON_IsString(u)) {
			send_error(c->sink, c->id, -32602, "Invalid params: resourceSubscriptions must hold strings");
			return;
		}
	}
	prune_closed();
	if (g_nlisteners >= MAX_LISTENERS) {
		static unsigned refused;
		if (refused++ == 0)
			logmsg("subscriptions/listen: %d streams open already; refusing more (logged once)", MAX_LISTENERS);
		send_error(c->sink, c->id, -32603, "Internal error: too many subscriptions/listen streams (%d)",
			   MAX_LISTENERS);
		return;
	}
	struct listener *l = calloc(1, sizeof *l);
	if (!l) {
		send_error(c->sink, c->id, -32603, "Internal error: out of memory");
		return;
	}
	l->sink = sink_ref(c->sink);
	l->id = cJSON_Duplicate(c->id, true);
	l->tools_changed = cJSON_IsTrue(get(filter, "toolsListChanged"));
	l->resources_changed = cJSON_IsTrue(get(filter, "resourcesListChanged"));
	l->uris = uris ? cJSON_Duplicate(uris, true) : NULL;
	l->next = g_listeners;
	g_listeners = l;
	g_nlisteners++;

	/* The ack names what will be honoured: promptsListChanged never is (no listChanged for prompts). */
	cJSON *p = cJSON_CreateObject();
	cJSON *agreed = cJSON_AddObjectToObject(p, "notifications");
	if (l->tools_changed)
		cJSON_AddBoolToObject(agreed, "toolsListChanged", true);
	if (l->resources_changed)
		cJSON_AddBoolToObject(agreed, "resourcesListChanged", true);
	if (l->uris)
		cJSON_AddItemToObject(agreed, "resourceSubscriptions", cJSON_Duplicate(l->uris, true));
	listener_notify(l, "notifications/subscriptions/acknowledged", p);
}

/* In which era a method exists. */
enum method_era { IN_BOTH, IN_LEGACY, IN_MODERN };

static const struct method {
	const char *name;
	void (*fn)(const struct call *c);
	enum method_era era;
} methods[] = {
	{"initialize", m_initialize, IN_LEGACY},
	{"server/discover", m_discover, IN_MODERN},
	{"ping", m_ping, IN_BOTH}, /* gone from 2026-07-28; harmless to answer */
	{"tools/list", m_tools_list, IN_BOTH},
	{"tools/call", m_tools_call, IN_BOTH},
	{"resources/list", m_resources_list, IN_BOTH},
	{"resources/templates/list", m_resource_templates_list, IN_BOTH},
	{"prompts/list", m_prompts_list, IN_BOTH},
	{"logging/setLevel", m_set_level, IN_LEGACY},
	{"resources/subscribe", m_subscribe, IN_LEGACY},
	{"resources/unsubscribe", m_unsubscribe, IN_LEGACY},
	{"subscriptions/listen", m_listen, IN_MODERN},
};

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

/*
 * Decides the era of a request for --dual-era and --modern-only: modern when
 * its _meta names a protocol version (always, with --modern-only), which must
 * then be ours and come with the client's capabilities.  Answers the request
 * with an error and returns false when it cannot be served.
 */
static bool era_check(struct call *c, const char *method)
{
	if (strcmp(method, "initialize") == 0) {
		if (opt.eras == ERAS_MODERN) {
			send_unsupported_version(c, get(c->params, "protocolVersion"));
			return false;
		}
		return true; /* legacy, whatever its _meta says */
	}
	const cJSON *meta = get(c->params, "_meta");
	const cJSON *version = get(meta, META_PROTOCOL_VERSION);
	if (!version && opt.eras == ERAS_DUAL)
		return true;
	if (!cJSON_IsString(version)) {
		send_error(c->sink, c->id, -32602,
			   "Invalid params: _meta \"" META_PROTOCOL_VERSION "\" is missing or not a string "
			   "(this server speaks " MODERN_VERSION "%s)",
			   opt.eras == ERAS_DUAL ? ", and legacy versions after initialize" : " only");
		return false;
	}
	if (strcmp(version->valuestring, MODERN_VERSION) != 0) {
		send_unsupported_version(c, version);
		return false;
	}
	if (!cJSON_IsObject(get(meta, META_CLIENT_CAPABILITIES))) {
		send_error(c->sink, c->id, -32602,
			   "Invalid params: a " MODERN_VERSION " request needs _meta \"" META_CLIENT_CAPABILITIES
			   "\" (an object)");
		return false;
	}
	const cJSON *level = get(meta, META_LOG_LEVEL);
	if (level && log_level_rank(level) < 0) {
		send_error(c->sink, c->id, -32602,
			   "Invalid params: _meta \"" META_LOG_LEVEL "\" must be a log level (debug to emergency)");
		return false;
	}
	c->modern = true;
	return true;
}

static void handle_request(struct sink *sink, const cJSON *msg)
{
	const char *method = get(msg, "method")->valuestring;
	const cJSON *params = get(msg, "params");
	struct call c = {.sink = sink, .id = get(msg, "id"), .params = cJSON_IsNull(params) ? NULL : params};

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i].name, method) != 0)
			continue;
		if (methods[i].era == IN_MODERN && opt.eras == ERAS_LEGACY)
			break; /* a legacy server knows no such method */
		if (c.params && !cJSON_IsObject(c.params)) {
			send_error(sink, c.id, -32602, "Invalid params: params must be an object");
			return;
		}
		if (opt.eras != ERAS_LEGACY && !era_check(&c, method))
			return;
		if (c.modern && methods[i].era == IN_LEGACY) {
			send_error(sink, c.id, -32601, "Method not found: %.200s is not part of " MODERN_VERSION,
				   method);
			return;
		}
		methods[i].fn(&c);
		return;
	}
	send_error(sink, c.id, -32601, "Method not found: %.200s", method);
}

static void start_flood(int fd);

static void handle_notification(struct sink *sink, const cJSON *msg)
{
	const char *method = get(msg, "method")->valuestring;
	static bool flooding;
	if (strcmp(method, "notifications/initialized") == 0 && opt.flood_stdout && !flooding) {
		flooding = true;
		start_flood(STDOUT_FILENO); /* the handshake is done: now the garbage */
	}
	if (strcmp(method, "notifications/cancelled") == 0) {
		const cJSON *id = get(get(msg, "params"), "requestId");
		const char *reason = cJSON_GetStringValue(get(get(msg, "params"), "reason"));
		if (valid_id(id)) {
			char *text = cJSON_PrintUnformatted(id);
			logmsg("cancelled request %s (%s)", text ? text : "?", reason ? reason : "no reason");
			free(text);
			cancel_request(sink, id);
		}
	}
	/* notifications/initialized and the others need nothing. */
}

/* A response from the client to one of our requests (roots/list...). */
static void handle_response(const cJSON *msg)
{
	const cJSON *id = get(msg, "id");
	struct outgoing **pp = &g_outgoing;
	while (*pp && !(cJSON_IsString(id) && strcmp((*pp)->id, id->valuestring) == 0))
		pp = &(*pp)->next;
	if (!*pp) {
		logmsg("ignoring a response to no request of ours");
		return;
	}
	struct outgoing *o = *pp;
	*pp = o->next;

	const cJSON *result = get(msg, "result");
	cJSON *r;
	if (result) {
		r = ask_answer(o->kind, result);
	} else {
		const cJSON *m = get(get(msg, "error"), "message");
		char text[512];
		snprintf(text, sizeof text, "%s failed: %.400s", asks[o->kind].method,
			 cJSON_IsString(m) ? m->valuestring : "unknown error");
		r = text_result(text, true);
	}
	send_result(o->sink, o->orig_id, r);
	outgoing_free(o);
}

/* Handles one message; takes ownership of msg, borrows sink. */
static void core_handle(struct sink *sink, cJSON *msg)
{
	const char *why = "";
	if (g_mode == MODE_STDIO) /* HTTP logs at the transport, before its own checks */
		log_request_json(msg);
	switch (classify(msg, &why)) {
	case MSG_INVALID:
		send_error(sink, cJSON_IsObject(msg) ? get(msg, "id") : NULL, -32600, "Invalid Request: %s", why);
		break;
	case MSG_RESPONSE:
		handle_response(msg);
		break;
	case MSG_NOTIFICATION:
		handle_notification(sink, msg);
		break;
	case MSG_REQUEST:
		handle_request(sink, msg);
		break;
	}
	cJSON_Delete(msg);
}

/* ------------------------------------------------------------------ */
/* stdio transport                                                     */

struct linebuf {
	char *buf;
	size_t start, len, cap; /* unread data is buf[start, len) */
	size_t scan;            /* no newline in buf[start, scan) */
	bool discarding;        /* skipping the rest of an overlong line */
};

static void stdio_line(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\r' || isspace((unsigned char)line[len - 1])))
		len--;
	size_t i = 0;
	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (i == len)
		return; /* blank line */
	cJSON *msg = parse_json(line, len);
	if (!msg) {
		log_request(line + i, len - i);
		send_error(&g_stdout_sink, NULL, -32700, "Parse error");
		return;
	}
	core_handle(&g_stdout_sink, msg);
}

static void line_too_long(void)
{
	send_error(&g_stdout_sink, NULL, -32600, "Invalid Request: line longer than %zu bytes", MAX_LINE);
}

static void stdio_lines(struct linebuf *lb)
{
	char *nl;
	while ((nl = memchr(lb->buf + lb->scan, '\n', lb->len - lb->scan)) != NULL) {
		size_t end = (size_t)(nl - lb->buf);
		if (lb->discarding)
			lb->discarding = false; /* the tail of the overlong line */
		else if (end - lb->start > MAX_LINE)
			line_too_long();
		else
			stdio_line(lb->buf + lb->start, end - lb->start);
		lb->start = lb->scan = end + 1;
	}
	lb->scan = lb->len;
	if (!lb->discarding && lb->len - lb->start > MAX_LINE) {
		line_too_long();
		lb->discarding = true;
	}
	if (lb->discarding)
		lb->start = lb->scan = lb->len;
	if (lb->start == lb->len)
		lb->start = lb->scan = lb->len = 0;
}

/* Reads what stdin has; returns false at EOF. */
static bool stdio_read(struct linebuf *lb)
{
	if (lb->cap - lb->len < READ_CHUNK) {
		if (lb->start > 0) {
			memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
			lb->len -= lb->start;
			lb->scan -= lb->start;
			lb->start = 0;
		}
		if (lb->cap - lb->len < READ_CHUNK) {
			/* len <= MAX_LINE here, so the buffer stays bounded. */
			size_t cap = lb->cap ? lb->cap * 2 : 4 * READ_CHUNK;
			if (cap < lb->len + READ_CHUNK)
				cap = lb->len + READ_CHUNK;
			char *p = realloc(lb->buf, cap);
			if (!p) {
				logmsg("out of memory reading stdin");
				return false;
			}
			lb->buf = p;
			lb->cap = cap;
		}
	}
	ssize_t n = read(STDIN_FILENO, lb->buf + lb->len, lb->cap - lb->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (n <= 0) {
		if (n < 0)
			logmsg("reading stdin: %s", strerror(errno));
		if (!lb->discarding && lb->len > lb->start) /* a last line without '\n' */
			stdio_line(lb->buf + lb->start, lb->len - lb->start);
		lb->start = lb->scan = lb->len = 0;
		return false;
	}
	lb->len += (size_t)n;
	stdio_lines(lb);
	return true;
}

/* ------------------------------------------------------------------ */
/* HTTP: sessions and the queue to the main thread                     */

struct session {
	struct session *next;
	char id[33];
	int64_t last_used_ms;
	struct sink *stream; /* legacy SSE: the GET /sse stream; else NULL */
};

static struct {
	pthread_mutex_t mu;
	struct session *head;
	unsigned count;
} g_sessions = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool session_expired(const struct session *s, int64_t now)
{
	return !s->stream && opt.session_ttl_ms >= 0 && now - s->last_used_ms > opt.session_ttl_ms;
}

static void session_unlink(struct session **pp)
{
	struct session *s = *pp;
	*pp = s->next;
	g_sessions.count--;
	sink_unref(s->stream);
	free(s);
}

/* Creates a session; takes a reference to stream (may be NULL). */
static bool session_create(struct sink *stream, char id[33])
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return false;
	random_hex(s->id);
	s->last_used_ms = now_ms();
	s->stream = sink_ref(stream);
	memcpy(id, s->id, 33);

	pthread_mutex_lock(&g_sessions.mu);
	for (struct session **pp = &g_sessions.head; *pp;) {
		if (session_expired(*pp, s->last_used_ms))
			session_unlink(pp);
		else
			pp = &(*pp)->next;
	}
	bool ok = g_sessions.count < MAX_SESSIONS;
	if (ok) {
		s->next = g_sessions.head;
		g_sessions.head = s;
		g_sessions.count++;
	}
	pthread_mutex_unlock(&g_sessions.mu);
	if (!ok) {
		sink_unref(s->stream);
		free(s);
	}
	return ok;
}

enum session_op { SESSION_TOUCH, SESSION_DELETE };

/* Finds a live session and touches or deletes it; false if unknown. */
static bool session_lookup(const char *id, enum session_op op, struct sink **stream)
{
	bool found = false;
	int64_t now = now_ms();
	pthread_mutex_lock(&g_sessions.mu);
	for (struct session **pp = &g_sessions.head; *pp; pp = &(*pp)->next) {
		struct session *s = *pp;
		if (strcmp(s->id, id) != 0)
			continue;
		if (session_expired(s, now)) {
			session_unlink(pp);
			break;
		}
		found = true;
		if (stream)
			*stream = sink_ref(s->stream);
		if (op == SESSION_DELETE)
			session_unlink(pp);
		else
			s->last_used_ms = now;
		break;
	}
	pthread_mutex_unlock(&g_sessions.mu);
	return found;
}

static void session_remove_stream(struct sink *stream)
{
	pthread_mutex_lock(&g_sessions.mu);
	for (struct session **pp = &g_sessions.head; *pp; pp = &(*pp)->next) {
		if ((*pp)->stream == stream) {
			session_unlink(pp);
			break;
		}
	}
	pthread_mutex_unlock(&g_sessions.mu);
}

static void sessions_free(void)
{
	pthread_mutex_lock(&g_sessions.mu);
	while (g_sessions.head)
		session_unlink(&g_sessions.head);
	pthread_mutex_unlock(&g_sessions.mu);
}

/* Messages from the HTTP threads to the main thread. */
struct inbound {
	struct inbound *next;
	cJSON *msg;
	struct sink *sink;
};

static struct {
	pthread_mutex_t mu;
	struct inbound *head, *tail;
	unsigned count;
} g_inbound = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int g_wake[2] = {-1, -1};   /* wakes the main loop for g_inbound */
static int g_sigpipe[2] = {-1, -1}; /* self-pipe for signals */

/* Queues msg for the core; takes ownership of msg and of a sink reference,
 * even on failure. */
static bool inbound_push(cJSON *msg, struct sink *sink)
{
	struct inbound *in = malloc(sizeof *in);
	bool ok = false;
	if (in) {
		in->next = NULL;
		in->msg = msg;
		in->sink = sink;
		pthread_mutex_lock(&g_inbound.mu);
		if (g_inbound.count < MAX_INBOUND && !atomic_load(&g_stopping)) {
			if (g_inbound.tail)
				g_inbound.tail->next = in;
			else
				g_inbound.head = in;
			g_inbound.tail = in;
			g_inbound.count++;
			ok = true;
		}
		pthread_mutex_unlock(&g_inbound.mu);
	}
	if (!ok) {
		free(in);
		cJSON_Delete(msg);
		sink_unref(sink);
		return false;
	}
	ssize_t r = write(g_wake[1], "", 1); /* full pipe: a wake-up is pending */
	(void)r;
	return true;
}

static void inbound_run(bool handle)
{
	char buf[256];
	while (read(g_wake[0], buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&g_inbound.mu);
	struct inbound *in = g_inbound.head;
	g_inbound.head = g_inbound.tail = NULL;
	g_inbound.count = 0;
	pthread_mutex_unlock(&g_inbound.mu);
	while (in) {
		struct inbound *next = in->next;
		if (handle)
			core_handle(in->sink, in->msg);
		else
			cJSON_Delete(in->msg);
		sink_unref(in->sink);
		free(in);
		in = next;
	}
}

/* Sends a notification that belongs to no request, e.g. list_changed: to
 * legacy clients as it is, to modern ones on the listen streams that asked
 * for it (tools only), tagged with their subscriptionId. */
static void broadcast_notification(const char *method)
{
	unsigned tagged = 0;
	prune_closed();
	for (struct listener *l = g_listeners; l; l = l->next) {
		if (l->tools_changed && strcmp(method, "notifications/tools/list_changed") == 0) {
			listener_notify(l, method, NULL);
			tagged++;
		}
	}
	switch (g_mode) {
	case MODE_STDIO:
		/* A modern client gets only what it asked for in subscriptions/listen. */
		if (opt.eras == ERAS_LEGACY || g_legacy_seen)
			send_notification(&g_stdout_sink, method, NULL);
		break;
	case MODE_LEGACY_SSE:
		pthread_mutex_lock(&g_sessions.mu);
		for (struct session *s = g_sessions.head; s; s = s->next)
			send_notification(s->stream, method, NULL);
		pthread_mutex_unlock(&g_sessions.mu);
		break;
	case MODE_HTTP:
		if (!tagged)
			logmsg("%s not sent: this server offers no GET stream and no listen asked for it", method);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* HTTP: libmicrohttpd handlers                                        */

struct http_req {
	char *body;
	size_t len, cap;
	bool too_big;
	bool answered; /* a response is already queued */
};

static MHD_RESULT reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			const char *body, const char *session_id, const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, "Content-Type", ctype);
	if (session_id)
		MHD_add_response_header(resp, "Mcp-Session-Id", session_id);
	if (allow)
		MHD_add_response_header(resp, "Allow", allow);
	MHD_RESULT ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static MHD_RESULT reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	return reply(conn, status, "text/plain", text, NULL, NULL);
}

/* An HTTP error with a JSON-RPC error body; takes ownership of data (may be NULL). */
static MHD_RESULT reply_rpc_error_data(struct MHD_Connection *conn, unsigned status, const cJSON *id,
				       int code, const char *message, cJSON *data)
{
	cJSON *m = rpc_message(id);
	cJSON *err = cJSON_AddObjectToObject(m, "error");
	cJSON_AddNumberToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", message);
	if (data)
		cJSON_AddItemToObject(err, "data", data);
	char *text = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	MHD_RESULT ret = text ? reply(conn, status, "application/json", text, NULL, NULL) : MHD_NO;
	cJSON_free(text);
	return ret;
}

static MHD_RESULT reply_rpc_error(struct MHD_Connection *conn, unsigned status, const cJSON *id,
				  int code, const char *message)
{
	return reply_rpc_error_data(conn, status, id, code, message, NULL);
}

/* Has the client closed the connection?  A client waiting for a response
 * sends nothing more, so a hang-up is the only event its socket can have. */
static bool peer_gone(const struct sink *s)
{
	if (s->peer_fd < 0)
		return false;
	struct pollfd pfd = {.fd = s->peer_fd, .events = POLLRDHUP};
	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void sink_watch(struct sink *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	pthread_mutex_lock(&s->mu);
	s->peer_fd = ci ? ci->connect_fd : -1;
	pthread_mutex_unlock(&s->mu);
}

/* Streams a sink's queue as the body of an event-stream response.  This
 * runs in the connection's own thread (MHD_USE_THREAD_PER_CONNECTION), so
 * it may block; returning 0 would make libmicrohttpd spin instead. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sink *s = cls;
	ssize_t n = MHD_CONTENT_READER_END_OF_STREAM;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->head) {
			struct chunk *c = s->head;
			size_t len = c->len - s->sent;
			if (len > max)
				len = max;
			memcpy(buf, c->data + s->sent, len);
			s->sent += len;
			if (s->sent == c->len) {
				s->head = c->next;
				if (!s->head)
					s->tail = NULL;
				s->queued -= c->len;
				s->sent = 0;
				free(c);
			}
			s->last_data_ms = now_ms();
			n = (ssize_t)len;
			break;
		}
		if (s->finished || s->closed || atomic_load(&g_stopping))
			break;
		if (peer_gone(s)) {
			n = MHD_CONTENT_READER_END_OF_STREAM;
			break;
		}
		if ((s->kind == SINK_LEGACY_SSE || s->keepalive) && now_ms() - s->last_data_ms >= KEEPALIVE_MS) {
			/* A comment line: lets a dead client be noticed. */
			static const char ka[] = ": keepalive\n\n";
			n = (ssize_t)(max < sizeof ka - 1 ? max : sizeof ka - 1);
			memcpy(buf, ka, (size_t)n);
			s->last_data_ms = now_ms();
			break;
		}
		cond_wait_ms(&s->cv, &s->mu, WAIT_SLICE_MS);
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void sse_done(void *cls)
{
	struct sink *s = cls;
	pthread_mutex_lock(&s->mu);
	s->closed = true;
	sink_drop_queue(s);
	pthread_mutex_unlock(&s->mu);
	if (s->kind == SINK_LEGACY_SSE)
		session_remove_stream(s); /* the session lives as long as its stream */
	sink_unref(s);
}

/* Answers with an event stream fed by s; takes a reference to s. */
static MHD_RESULT reply_stream(struct MHD_Connection *conn, struct sink *s, const char *session_id)
{
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_done);
	if (!resp) {
		sink_unref(s);
		return MHD_NO;
	}
	sink_watch(s, conn);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	if (session_id)
		MHD_add_response_header(resp, "Mcp-Session-Id", session_id);
	MHD_RESULT ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Waits for the final response on a JSON sink; NULL when shutting down. */
static struct chunk *sink_wait_final(struct sink *s)
{
	struct chunk *c = NULL;
	pthread_mutex_lock(&s->mu);
	while (!s->finished && !atomic_load(&g_stopping)) {
		if (peer_gone(s))
			break;
		cond_wait_ms(&s->cv, &s->mu, WAIT_SLICE_MS);
	}
	if (s->head) {
		c = s->head;
		s->head = s->tail = NULL;
		s->queued = 0;
	}
	s->closed = true; /* nobody reads it any more */
	pthread_mutex_unlock(&s->mu);
	return c;
}

static bool header_has(struct MHD_Connection *conn, const char *name, const char *const *any)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
	if (!v)
		return true; /* be lenient: absent is fine */
	for (; *any; any++)
		if (strcasestr(v, *any))
			return true;
	return false;
}

/* Parses a POST body, and shows it with --log-requests. */
static cJSON *parse_body(const struct http_req *r)
{
	cJSON *msg = r->body ? parse_json(r->body, r->len) : NULL;
	if (msg)
		log_request_json(msg);
	else if (r->body)
		log_request(r->body, r->len);
	return msg;
}

/* The data of an UnsupportedProtocolVersionError. */
static cJSON *unsupported_data(const char *requested)
{
	cJSON *data = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(data, "supported"), cJSON_CreateString(MODERN_VERSION));
	if (requested)
		cJSON_AddStringToObject(data, "requested", requested);
	return data;
}

static bool legacy_version(const char *v)
{
	for (size_t i = 0; i < sizeof protocol_versions / sizeof protocol_versions[0]; i++)
		if (strcmp(v, protocol_versions[i]) == 0)
			return true;
	return false;
}

/* Decodes an Mcp-Name "=?base64?...?=" value in place; false if it is not valid base64. */
static bool base64_sentinel_decode(char *v)
{
	size_t len = strlen(v);
	if (len < 11 || strncmp(v, "=?base64?", 9) != 0 || strcmp(v + len - 2, "?=") != 0)
		return true; /* plain */
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned acc = 0, bits = 0;
	size_t out = 0;
	for (const char *p = v + 9; p < v + len - 2 && *p != '='; p++) {
		const char *at = strchr(alphabet, *p);
		if (!at || !*p)
			return false;
		acc = (acc << 6) | (unsigned)(at - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			v[out++] = (char)((acc >> bits) & 0xff);
		}
	}
	v[out] = '\0';
	return true;
}

/* The JSON final response's HTTP status for a modern POST: its errors are 400 (404 for -32601). */
static unsigned modern_status(const struct chunk *c)
{
	cJSON *m = parse_json(c->data, c->len);
	int code = (int)cJSON_GetNumberValue(get(get(m, "error"), "code"));
	cJSON_Delete(m);
	switch (code) {
	case -32601: return 404;
	case -32602: case ERR_HEADER_MISMATCH: case ERR_MISSING_CAPABILITY: case ERR_UNSUPPORTED_VERSION:
		return 400;
	default: return 200;
	}
}

/*
 * A 2026-07-28 POST: sessionless (an Mcp-Session-Id is ignored, none is
 * minted), with MCP-Protocol-Version, Mcp-Method and, when sent, Mcp-Name
 * matching the body.  Takes ownership of msg.
 */
static MHD_RESULT modern_post(struct MHD_Connection *conn, cJSON *msg, enum msg_kind kind)
{
	const cJSON *id = get(msg, "id");
	char text[400];
	unsigned status = 400;
	int code = ERR_HEADER_MISMATCH;
	cJSON *data = NULL;

	if (kind == MSG_RESPONSE) {
		code = -32600;
		snprintf(text, sizeof text, "Invalid Request: a " MODERN_VERSION " client sends no responses");
		goto refuse;
	}
	if (kind == MSG_NOTIFICATION) { /* e.g. notifications/cancelled */
		if (!inbound_push(msg, NULL))
			return reply_text(conn, 503, "busy\n");
		return reply(conn, 202, NULL, "", NULL, NULL);
	}
	const char *method = get(msg, "method")->valuestring;
	const char *hv = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
	const char *bv = cJSON_GetStringValue(get(get(get(msg, "params"), "_meta"), META_PROTOCOL_VERSION));
	const char *hm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Method");
	const char *hn = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Name");
	if (!hv) {
		snprintf(text, sizeof text, "Header mismatch: the MCP-Protocol-Version header is required");
		goto refuse;
	}
	if (strcmp(hv, MODERN_VERSION) != 0) {
		code = ERR_UNSUPPORTED_VERSION;
		data = unsupported_data(hv);
		snprintf(text, sizeof text, "Unsupported protocol version %.64s: this server speaks " MODERN_VERSION "%s",
			 hv, opt.eras == ERAS_DUAL ? ", and legacy versions after initialize" : " only");
		goto refuse;
	}
	if (!bv || strcmp(bv, hv) != 0) {
		snprintf(text, sizeof text,
			 "Header mismatch: MCP-Protocol-Version header value '%.64s' does not match body value '%.64s'",
			 hv, bv ? bv : "(none)");
		goto refuse;
	}
	if (!hm || strcmp(hm, method) != 0) {
		snprintf(text, sizeof text, "Header mismatch: Mcp-Method header value '%.100s' does not match body value '%.100s'",
			 hm ? hm : "(none)", method);
		goto refuse;
	}
	const cJSON *params = get(msg, "params");
	const char *name = cJSON_GetStringValue(get(params, strcmp(method, "resources/read") == 0 ? "uri" : "name"));
	bool named = strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
		     strcmp(method, "resources/read") == 0;
	if (named && hn) { /* required by the specification, checked only when sent */
		char decoded[1024];
		snprintf(decoded, sizeof decoded, "%s", hn);
		if (!base64_sentinel_decode(decoded) || !name || strcmp(decoded, name) != 0) {
			snprintf(text, sizeof text, "Header mismatch: Mcp-Name header value '%.100s' does not match body value '%.100s'",
				 hn, name ? name : "(none)");
			goto refuse;
		}
	}

	/* Streams: with --sse-responses, and always for subscriptions/listen. */
	bool listen = strcmp(method, "subscriptions/listen") == 0;
	bool stream = opt.sse_responses || listen;
	struct sink *s = sink_new(stream ? SINK_HTTP_SSE : SINK_HTTP_JSON);
	if (!s) {
		cJSON_Delete(msg);
		return MHD_NO;
	}
	s->keepalive = listen; /* set before any other thread sees s */
	if (!inbound_push(msg, sink_ref(s))) {
		sink_unref(s);
		return reply_text(conn, 503, "busy\n");
	}
	if (stream)
		return reply_stream(conn, s, NULL);
	sink_watch(s, conn);
	struct chunk *c = sink_wait_final(s);
	sink_unref(s);
	if (!c)
		return reply_text(conn, 503, "shutting down\n");
	status = modern_status(c);
	struct MHD_Response *resp = MHD_create_response_from_buffer(c->len, c->data, MHD_RESPMEM_MUST_COPY);
	free(c);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_RESULT ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;

refuse:;
	MHD_RESULT r = reply_rpc_error_data(conn, status, id, code, text, data);
	cJSON_Delete(msg);
	return r;
}

/* POST /mcp (Streamable HTTP). */
static MHD_RESULT mcp_post(struct MHD_Connection *conn, struct http_req *r)
{
	static const char *const accept[] = {"json", "event-stream", "*/*", "application/*", "text/*", NULL};
	static const char *const ctype[] = {"json", NULL};
	if (!header_has(conn, "Accept", accept))
		return reply_text(conn, 406, "Accept application/json or text/event-stream\n");
	if (!header_has(conn, "Content-Type", ctype))
		return reply_text(conn, 415, "Content-Type must be application/json\n");

	cJSON *msg = parse_body(r);
	if (!msg)
		return reply_rpc_error(conn, 400, NULL, -32700, "Parse error");
	const char *why = "";
	enum msg_kind kind = classify(msg, &why);
	if (kind == MSG_INVALID) {
		char text[128];
		snprintf(text, sizeof text, "Invalid Request: %s", why);
		MHD_RESULT ret = reply_rpc_error(conn, 400, cJSON_IsObject(msg) ? get(msg, "id") : NULL, -32600, text);
		cJSON_Delete(msg);
		return ret;
	}

	char sid[33];
	bool init = kind == MSG_REQUEST && strcmp(get(msg, "method")->valuestring, "initialize") == 0;
	if (opt.eras == ERAS_MODERN && init) {
		const char *asked = cJSON_GetStringValue(get(get(msg, "params"), "protocolVersion"));
		char text[200];
		snprintf(text, sizeof text, "Unsupported protocol version %.64s: this server speaks only " MODERN_VERSION,
			 asked ? asked : "(none)");
		MHD_RESULT ret = reply_rpc_error_data(conn, 400, get(msg, "id"), ERR_UNSUPPORTED_VERSION, text,
						      unsupported_data(asked));
		cJSON_Delete(msg);
		return ret;
	}
	if (opt.eras != ERAS_LEGACY && !init) {
		/* Modern: a _meta version in the body, or a version header that is not a legacy one. */
		const char *hv = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "MCP-Protocol-Version");
		bool body_version = get(get(get(msg, "params"), "_meta"), META_PROTOCOL_VERSION) != NULL;
		if (opt.eras == ERAS_MODERN || body_version || (hv && !legacy_version(hv)))
			return modern_post(conn, msg, kind);
	}
	if (init) {
		if (!session_create(NULL, sid)) {
			cJSON_Delete(msg);
			return reply_text(conn, 503, "too many sessions\n");
		}
	} else {
		const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
		unsigned status = !h ? 400 : !session_lookup(h, SESSION_TOUCH, NULL) ? 404 : 0;
		if (status) {
			cJSON_Delete(msg);
			return reply_text(conn, status, status == 400 ? "missing Mcp-Session-Id\n" : "unknown session\n");
		}
	}

	if (kind != MSG_REQUEST) {
		if (!inbound_push(msg, NULL))
			return reply_text(conn, 503, "busy\n");
		return reply(conn, 202, NULL, "", NULL, NULL);
	}

	struct sink *s = sink_new(opt.sse_responses ? SINK_HTTP_SSE : SINK_HTTP_JSON);
	if (!s) {
		cJSON_Delete(msg);
		return MHD_NO;
	}
	if (!inbound_push(msg, sink_ref(s))) {
		sink_unref(s);
		return reply_text(conn, 503, "busy\n");
	}
	if (opt.sse_responses)
		return reply_stream(conn, s, init ? sid : NULL);

	/* Blocking is fine: this connection has a thread of its own. */
	sink_watch(s, conn);
	struct chunk *c = sink_wait_final(s);
	sink_unref(s);
	if (!c)
		return reply_text(conn, 503, "shutting down\n");
	struct MHD_Response *resp = MHD_create_response_from_buffer(c->len, c->data, MHD_RESPMEM_MUST_COPY);
	free(c);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	if (init)
		MHD_add_response_header(resp, "Mcp-Session-Id", sid);
	MHD_RESULT ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static MHD_RESULT mcp_delete(struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Mcp-Session-Id");
	if (!h)
		return reply_text(conn, 400, "missing Mcp-Session-Id\n");
	if (!session_lookup(h, SESSION_DELETE, NULL))
		return reply_text(conn, 404, "unknown session\n");
	return reply_text(conn, 200, "session ended\n");
}

static MHD_RESULT route_http(struct MHD_Connection *conn, const char *url, const char *method,
			     struct http_req *r)
{
	if (strcmp(url, "/mcp") != 0)
		return reply_text(conn, 404, "not found\n");
	if (strcmp(method, "POST") == 0)
		return mcp_post(conn, r);
	if (opt.eras == ERAS_MODERN) /* no sessions, no GET stream: 2026-07-28 */
		return reply(conn, 405, "text/plain", "method not allowed\n", NULL, "POST");
	if (strcmp(method, "DELETE") == 0)
		return mcp_delete(conn);
	return reply(conn, 405, "text/plain", "method not allowed\n", NULL, "POST, DELETE");
}

/* --endless-sse-event: the endpoint event, then 256 KiB data lines of one event that never ends. */
#define ENDLESS_LINE (256 * 1024)
static const char endless_first[] = "event: endpoint\ndata: /messages?sessionId=endless\n\n";

static ssize_t endless_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n = 0;
	if (atomic_load(&g_stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	for (; n < max; n++, pos++) {
		uint64_t off = pos < sizeof endless_first - 1 ? 0 : (pos - (sizeof endless_first - 1)) % ENDLESS_LINE;
		if (pos < sizeof endless_first - 1)
			buf[n] = endless_first[pos];
		else if (off < 6)
			buf[n] = "data: "[off];
		else
			buf[n] = off == ENDLESS_LINE - 1 ? '\n' : 'x';
	}
	return (ssize_t)n;
}

static MHD_RESULT legacy_open_endless(struct MHD_Connection *conn)
{
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, endless_read,
								      NULL, NULL);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_RESULT ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* GET /sse (legacy transport): a session and its event stream. */
static MHD_RESULT legacy_open(struct MHD_Connection *conn)
{
	if (opt.endless_sse_event)
		return legacy_open_endless(conn);
	struct sink *s = sink_new(SINK_LEGACY_SSE);
	char sid[33];
	if (!s)
		return MHD_NO;
	if (!session_create(s, sid)) {
		sink_unref(s);
		return reply_text(conn, 503, "too many sessions\n");
	}
	char path[64];
	snprintf(path, sizeof path, "/messages?sessionId=%s", sid);
	sink_push(s, "event: endpoint\ndata: ", path, "\n\n", false);
	return reply_stream(conn, s, NULL);
}

/* POST /messages?sessionId=... (legacy transport). */
static MHD_RESULT legacy_post(struct MHD_Connection *conn, struct http_req *r)
{
	const char *sid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sessionId");
	struct sink *stream = NULL;
	if (!sid)
		return reply_text(conn, 400, "missing sessionId\n");
	/* --endless-sse-event: the stream never carries an answer; accept, so only its size fails a probe. */
	if (opt.endless_sse_event && strcmp(sid, "endless") == 0)
		return reply_text(conn, 202, "");
	if (!session_lookup(sid, SESSION_TOUCH, &stream))
		return reply_text(conn, 404, "unknown session\n");
	cJSON *msg = parse_body(r);
	if (!msg) {
		sink_unref(stream);
		return reply_rpc_error(conn, 400, NULL, -32700, "Parse error");
	}
	/* Invalid requests are answered on the stream, like everything else. */
	if (!inbound_push(msg, stream))
		return reply_text(conn, 503, "busy\n");
	return reply_text(conn, 202, "Accepted");
}

static MHD_RESULT route_legacy(struct MHD_Connection *conn, const char *url, const char *method,
			       struct http_req *r)
{
	if (strcmp(url, "/sse") == 0) {
		if (strcmp(method, "GET") == 0)
			return legacy_open(conn);
		return reply(conn, 405, "text/plain", "method not allowed\n", NULL, "GET");
	}
	if (strcmp(url, "/messages") == 0) {
		if (strcmp(method, "POST") == 0)
			return legacy_post(conn, r);
		return reply(conn, 405, "text/plain", "method not allowed\n", NULL, "POST");
	}
	return reply_text(conn, 404, "not found\n");
}

static MHD_RESULT on_http(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	struct http_req *r = *ctx;
	if (!r) {
		/* First call: headers only. */
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*ctx = r;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > MAX_BODY) {
			r->answered = true; /* refuse before reading the body */
			return reply_text(conn, 413, "request body too large\n");
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_big || r->answered)
			return MHD_YES;
		if (n > MAX_BODY - r->len) { /* a chunked body can only be caught here */
			r->too_big = true;
			free(r->body);
			r->body = NULL;
			r->len = r->cap = 0;
			return MHD_YES;
		}
		if (r->len + n > r->cap) {
			size_t cap = r->cap ? r->cap : 4096;
			while (cap < r->len + n)
				cap *= 2;
			char *p = realloc(r->body, cap);
			if (!p)
				return MHD_NO;
			r->body = p;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	r->answered = true;
	if (r->too_big)
		return reply_text(conn, 413, "request body too large\n");
	return g_mode == MODE_HTTP ? route_http(conn, url, method, r) : route_legacy(conn, url, method, r);
}

static void on_http_done(void *cls, struct MHD_Connection *conn, void **ctx, enum MHD_RequestTerminationCode code)
{
	struct http_req *r = *ctx;
	if (r) {
		free(r->body);
		free(r);
		*ctx = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* libmicrohttpd's messages, with our prefix. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];
	vsnprintf(text, sizeof text, fmt, ap);
	size_t len = strlen(text);
	while (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	logmsg("libmicrohttpd: %s", text);
}

/* Starts the HTTP server and prints "listening on URL". */
static struct MHD_Daemon *http_start(const char *spec, const char *path)
{
	char host[256], port[8];
	if (!split_host_port(spec, host, sizeof host, port, sizeof port)) {
		logmsg("bad address '%s': expected HOST:PORT", spec);
		return NULL;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int err = getaddrinfo(host, port, &hints, &ai);
	if (err != 0) {
		logmsg("cannot resolve '%s': %s", host, gai_strerror(err));
		return NULL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	/* The library's threads inherit this mask: signals go to the main
	 * thread, where the self-pipe turns them into poll() events. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_http, NULL,
						MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, to catch all */
						MHD_OPTION_SOCK_ADDR, ai->ai_addr,
						MHD_OPTION_NOTIFY_COMPLETED, on_http_done, NULL,
						MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
						MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	freeaddrinfo(ai);
	if (!d) {
		logmsg("cannot listen on %s", spec);
		return NULL;
	}

	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	unsigned bound = 0;
	if (info && getsockname(info->listen_fd, (struct sockaddr *)&ss, &sl) == 0)
		bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						       : ((struct sockaddr_in *)&ss)->sin_port);
	char line[400];
	int n = snprintf(line, sizeof line, "listening on http://%s%s%s:%u%s\n", strchr(host, ':') ? "[" : "",
			 host, strchr(host, ':') ? "]" : "", bound, path);
	if (n > 0)
		(void)write_all(STDOUT_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	logmsg("listening on %s port %u", host, bound);
	return d;
}

/* ------------------------------------------------------------------ */
/* Signals, stderr misbehaviour, start-up                              */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t r = write(g_sigpipe[1], &b, 1);
	(void)r;
	errno = saved;
}

static bool setup_signals(void)
{
	if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return false;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (opt.ignore_sigterm) {
		signal(SIGTERM, SIG_IGN);
	} else {
		sigaction(SIGTERM, &sa, NULL);
	}
	return true;
}

static void toggle_time_tool(void)
{
	g_time_tool = !g_time_tool;
	logmsg("SIGUSR1: tool time %s", g_time_tool ? "added" : "removed");
	broadcast_notification("notifications/tools/list_changed");
}

/* Handles pending signals; returns true when it is time to stop. */
static bool signals_run(void)
{
	unsigned char buf[64];
	ssize_t n;
	bool stop = false;
	while ((n = read(g_sigpipe[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == SIGUSR1) {
				toggle_time_tool();
			} else {
				if (!opt.flood_stderr) /* stderr may be blocked for good */
					logmsg("signal %d: exiting", buf[i]);
				stop = true;
			}
		}
	}
	return stop;
}

/* --flood-stderr and --flood-stdout: arg is the fd. */
static void *flood_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	pthread_mutex_t *mu = fd == STDOUT_FILENO ? &g_stdout_mu : &g_stderr_mu;
	char buf[4096];
	unsigned long long line = 0;
	for (;;) {
		size_t len = 0;
		while (len < sizeof buf - 200) {
			int n = snprintf(buf + len, sizeof buf - len,
					 "%s: flood line %llu: the quick brown fox jumps over the lazy dog\n",
					 opt.name, line++);
			if (n < 0 || (size_t)n >= sizeof buf - len)
				break;
			len += (size_t)n;
		}
		pthread_mutex_lock(mu);
		bool ok = write_all(fd, buf, len);
		pthread_mutex_unlock(mu);
		if (!ok)
			return NULL; /* the pipe is gone */
	}
}

static void start_flood(int fd)
{
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, NULL, flood_main, (void *)(intptr_t)fd) == 0)
		pthread_detach(t);
	else
		logmsg("cannot start the flood thread");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void write_long_stderr_line(unsigned long long bytes)
{
	char buf[64 * 1024];
	memset(buf, 'x', sizeof buf);
	pthread_mutex_lock(&g_stderr_mu);
	while (bytes > 0) {
		size_t n = bytes < sizeof buf ? (size_t)bytes : sizeof buf;
		if (!write_all(STDERR_FILENO, buf, n))
			break;
		bytes -= n;
	}
	(void)write_all(STDERR_FILENO, "\n", 1);
	pthread_mutex_unlock(&g_stderr_mu);
}

static void stderr_message(void)
{
	size_t len = strlen(opt.stderr_message);
	pthread_mutex_lock(&g_stderr_mu);
	(void)write_all(STDERR_FILENO, opt.stderr_message, len);
	(void)write_all(STDERR_FILENO, "\n", 1);
	pthread_mutex_unlock(&g_stderr_mu);
}

/* Leaves a child in our process group that outlives us: a supervisor must
 * kill the whole group, not just the process it started. */
static void fork_grandchild(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		logmsg("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		for (;;)
			pause();
	}
	logmsg("left a child behind: pid %ld", (long)pid);
	if (opt.pidfile) {
		char path[PATH_MAX];
		int n = snprintf(path, sizeof path, "%s.grandchild", opt.pidfile);
		if (n < 0 || (size_t)n >= sizeof path || !write_pidfile(path, pid))
			logmsg("cannot write %s.grandchild", opt.pidfile);
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* The main loop: signals, stdin or the HTTP queue, and timers. */
static int main_loop(void)
{
	struct linebuf lb = {0};
	bool stdin_open = g_mode == MODE_STDIO;
	int64_t next_message = opt.stderr_message ? g_start_ms + STDERR_MESSAGE_INTERVAL_MS : -1;
	int64_t exit_at = opt.exit_after_ms > 0 ? g_start_ms + opt.exit_after_ms : -1;

	for (;;) {
		int64_t now = now_ms();
		if (exit_at >= 0 && now >= exit_at) {
			if (!opt.flood_stderr) /* stderr may be blocked for good */
				logmsg("exiting with status %d (--exit-after)", opt.exit_status);
			_exit(opt.exit_status); /* abrupt on purpose, like a crash */
		}
		if (next_message >= 0 && now >= next_message) {
			stderr_message();
			next_message = now + STDERR_MESSAGE_INTERVAL_MS;
		}
		int64_t wake = earliest(earliest(deferred_run(now), exit_at), next_message);
		int timeout = -1;
		if (wake >= 0)
			timeout = wake - now > INT_MAX ? INT_MAX : wake < now ? 0 : (int)(wake - now);

		struct pollfd pfd[2] = {{.fd = g_sigpipe[0], .events = POLLIN}, {.fd = -1}};
		if (g_mode != MODE_STDIO)
			pfd[1] = (struct pollfd){.fd = g_wake[0], .events = POLLIN};
		else if (stdin_open)
			pfd[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			logmsg("poll: %s", strerror(errno));
			free(lb.buf);
			return 1;
		}
		if (pfd[0].revents && signals_run())
			break;
		if (!pfd[1].revents)
			continue;
		if (g_mode != MODE_STDIO) {
			inbound_run(true);
		} else if (!stdio_read(&lb)) {
			if (!opt.ignore_sigterm)
				break;
			logmsg("stdin closed; staying up (--ignore-sigterm)");
			stdin_open = false;
		}
	}
	free(lb.buf);
	return 0;
}

/* The server ends every listen stream: a complete result, tagged (graceful closure). */
static void listeners_end(void)
{
	while (g_listeners) {
		struct listener *l = g_listeners;
		g_listeners = l->next;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "resultType", "complete");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(r, "_meta"), META_SUBSCRIPTION_ID,
				      cJSON_Duplicate(l->id, true));
		send_result(l->sink, l->id, r);
		listener_free(l);
	}
}

static void core_free(void)
{
	while (g_subscriptions) {
		struct subscription *sub = g_subscriptions;
		g_subscriptions = sub->next;
		sink_unref(sub->sink);
		free(sub->uri);
		free(sub);
	}
	g_nsubscriptions = 0;
	cJSON_Delete(g_legacy_caps);
	g_legacy_caps = NULL;
	while (g_deferred) {
		struct deferred *d = g_deferred;
		g_deferred = d->next;
		deferred_free(d);
	}
	while (g_outgoing) {
		struct outgoing *o = g_outgoing;
		g_outgoing = o->next;
		outgoing_free(o);
	}
}

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	g_start_ms = now_ms();
	signal(SIGPIPE, SIG_IGN); /* a closed pipe is an error return, not death */

	if (opt.garbage_stdout)
		(void)write_all(STDOUT_FILENO, "this is not json\n", 17);
	if (opt.fork_grandchild)
		fork_grandchild();
	if (opt.pidfile && !write_pidfile(opt.pidfile, getpid()))
		logmsg("cannot write %s: %s", opt.pidfile, strerror(errno));
	if (opt.long_stderr_line > 0)
		write_long_stderr_line(opt.long_stderr_line);
	if (opt.stderr_message)
		stderr_message();
	if (opt.exit_after_ms == 0) {
		logmsg("exiting with status %d (--exit-after 0)", opt.exit_status);
		return opt.exit_status;
	}
	if (!setup_signals()) {
		logmsg("cannot set up signals: %s", strerror(errno));
		return 1;
	}
	if (opt.flood_stderr)
		start_flood(STDERR_FILENO);

	struct MHD_Daemon *d = NULL;
	if (g_mode != MODE_STDIO) {
		if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
			logmsg("pipe: %s", strerror(errno));
			return 1;
		}
		d = g_mode == MODE_HTTP ? http_start(opt.http, "/mcp") : http_start(opt.legacy_sse, "/sse");
		if (!d)
			return 1;
	}

	int rc = main_loop();
	listeners_end();

	if (d) {
		/* Blocked HTTP threads see this within WAIT_SLICE_MS. */
		atomic_store(&g_stopping, true);
		MHD_stop_daemon(d);
		inbound_run(false);
		sessions_free();
	}
	core_free();
	return rc;
}
