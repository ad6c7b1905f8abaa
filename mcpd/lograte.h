/*
 * The budget of a server's output in mcpd's log: stderr lines and stdout
 * lines that are not JSON-RPC share one token bucket per server, so a
 * flooding child cannot flood mcpd's log (or journald). What is over the
 * budget is counted, and summarised once per window: never a line per event.
 */
#ifndef MCPD_LOGRATE_H
#define MCPD_LOGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGRATE_BURST		1000	/* lines at once */
#define LOGRATE_RATE		200	/* lines per second after the burst */
#define LOGRATE_WINDOW		5.0	/* seconds between two summaries */

enum lograte_stream {
	LOGRATE_STDERR,		/* copied from stderr (all of it stays in `mcpctl logs`) */
	LOGRATE_STDOUT,		/* a stdout line that is not JSON-RPC: a warning each */
	LOGRATE__COUNT,
};

struct lograte {
	double tokens;
	double refill;		/* when tokens were last refilled; 0: never */
	double since;		/* when the first line of the current window was suppressed */
	uint64_t suppressed[LOGRATE__COUNT];
};

/* Whether one more line of stream may be logged at time now (seconds); counts it when not. */
bool lograte_allow(struct lograte *r, enum lograte_stream stream, double now);

/* Lines suppressed since the last summary. */
uint64_t lograte_pending(const struct lograte *r);

/*
 * "suppressed N lines in the last 5s (...)": the summary of the window, for
 * server name; resets the counts. Returns false (and writes nothing) when
 * nothing was suppressed.
 */
bool lograte_summary(struct lograte *r, const char *name, double now, char *buf, size_t size);

#endif
