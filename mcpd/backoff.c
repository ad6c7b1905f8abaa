/* Restart pacing and the circuit breaker: see backoff.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "xmalloc.h"

/* 2^64 as a double: anything at or above does not fit a uint64_t. */
#define TWO_POW_64 18446744073709551616.0

static uint64_t to_ms(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= TWO_POW_64)
		return UINT64_MAX;
	return (uint64_t)v;
}

uint64_t backoff_delay_ms(const struct backoff_conf *c, unsigned attempt, double rnd)
{
	double max = (double)c->max_ms;
	double jitter = c->jitter > 0 ? (c->jitter < 1 ? c->jitter : 1) : 0;
	double delay, hi;

	if (attempt == 0)
		attempt = 1;
	if (!(rnd >= 0))
		rnd = 0;
	if (rnd > 1)
		rnd = 1;
	/* pow() saturates at infinity for huge attempts; NaN (a NaN factor) fails the test too. */
	delay = (double)c->initial_ms * pow(c->factor, (double)(attempt - 1));
	if (!(delay < max))
		delay = max;
	delay *= 1 + jitter * (2 * rnd - 1);
	hi = max * (1 + jitter);
	/* Round to the nearest ms, but never past the documented ceiling. */
	return to_ms(fmin(nearbyint(delay), floor(hi)));
}

void circuit_init(struct circuit *c)
{
	*c = (struct circuit){ 0 };
}

void circuit_free(struct circuit *c)
{
	free(c->fail_ms);
	*c = (struct circuit){ 0 };
}

void circuit_reset(struct circuit *c)
{
	c->n = 0;
}

/* Drop the k oldest failures. A memmove of at most conf->failures (<= 1000) entries: failures are rare. */
static void drop_oldest(struct circuit *c, unsigned k)
{
	if (k >= c->n) {
		c->n = 0;
		return;
	}
	memmove(c->fail_ms, c->fail_ms + k, (size_t)(c->n - k) * sizeof(*c->fail_ms));
	c->n -= k;
}

bool circuit_record_failure(struct circuit *c, const struct circuit_conf *conf, uint64_t now_ms)
{
	unsigned old = 0;

	if (conf->failures == 0) {
		c->n = 0;
		return false;
	}
	/* Out of the window: now - t >= window. A time after now (the clock went back) counts as recent. */
	while (old < c->n && c->fail_ms[old] <= now_ms && now_ms - c->fail_ms[old] >= conf->window_ms)
		old++;
	drop_oldest(c, old);
	/* Room for the new one: a reload may have lowered conf->failures. */
	if (c->n >= conf->failures)
		drop_oldest(c, c->n - conf->failures + 1);
	if (c->cap < conf->failures) {
		c->fail_ms = xreallocarray(c->fail_ms, conf->failures, sizeof(*c->fail_ms));
		c->cap = conf->failures;
	}
	c->fail_ms[c->n++] = now_ms;
	return c->n >= conf->failures;
}
