/*
 * Where restarts are paced: the delay before each attempt, and the circuit
 * breaker that gives up after too many failures in a window. Pure functions:
 * the caller passes the time and the random draw, so tests can pin both.
 */
#ifndef MCPD_BACKOFF_H
#define MCPD_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"

/*
 * The delay before restart attempt n (n >= 1; 0 counts as 1): initial *
 * factor^(n-1), capped at max, then spread by ±jitter with rnd in [0, 1):
 * delay * (1 + jitter * (2 * rnd - 1)). Never negative, never above
 * max * (1 + jitter), whatever n.
 */
uint64_t backoff_delay_ms(const struct backoff_conf *c, unsigned attempt, double rnd);

/* The recent failure times, oldest first; at most conf->failures of them. */
struct circuit {
	uint64_t *fail_ms;
	unsigned n, cap;
};

void circuit_init(struct circuit *c);
void circuit_free(struct circuit *c);

/*
 * Record a failure at now_ms. Returns true when conf->failures of them fell
 * within the last conf->window_ms (the circuit opens); failures == 0 never opens.
 */
bool circuit_record_failure(struct circuit *c, const struct circuit_conf *conf, uint64_t now_ms);

/* Forget every failure: the circuit is closed again. */
void circuit_reset(struct circuit *c);

#endif
