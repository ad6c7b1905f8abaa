/* A server's budget of lines in mcpd's log: see lograte.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>

#include "lograte.h"

bool lograte_allow(struct lograte *r, enum lograte_stream stream, double now)
{
	if (r->refill == 0)
		r->tokens = LOGRATE_BURST;
	else if (now > r->refill)
		r->tokens += (now - r->refill) * LOGRATE_RATE;
	if (r->tokens > LOGRATE_BURST)
		r->tokens = LOGRATE_BURST;
	r->refill = now;
	if (r->tokens >= 1) {
		r->tokens -= 1;
		return true;
	}
	if (lograte_pending(r) == 0)
		r->since = now;
	r->suppressed[stream]++;
	return false;
}

uint64_t lograte_pending(const struct lograte *r)
{
	uint64_t n = 0;

	for (int i = 0; i < LOGRATE__COUNT; i++)
		n += r->suppressed[i];
	return n;
}

bool lograte_summary(struct lograte *r, const char *name, double now, char *buf, size_t size)
{
	uint64_t err = r->suppressed[LOGRATE_STDERR], out = r->suppressed[LOGRATE_STDOUT];
	double secs = now - r->since;
	int n;

	if (err + out == 0)
		return false;
	n = snprintf(buf, size, "suppressed %llu lines in the last %.0fs (more than %d/s after a burst of %d)",
		     (unsigned long long)(err + out), secs < 1 ? 1 : secs, LOGRATE_RATE, LOGRATE_BURST);
	if (err && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n,
			      ": %llu stderr lines were not copied to this log (`mcpctl logs %s` has them)",
			      (unsigned long long)err, name);
	if (out && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, "%s %llu stdout lines that are not JSON-RPC were dropped",
			 err ? ";" : ":", (unsigned long long)out);
	r->suppressed[LOGRATE_STDERR] = r->suppressed[LOGRATE_STDOUT] = 0;
	return true;
}
