/* gcra.h: the arithmetic of the rate limiter (GCRA, "virtual scheduling"), on a clock the caller
 * passes in, so that it is tested without waiting. */
#ifndef CB_GCRA_H
#define CB_GCRA_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gcra {
	uint64_t interval_ns;  /* T: 1/rate, 2% longer (gcra.c says why) */
	uint64_t tolerance_ns; /* tau: (burst - 1) * T */
	uint64_t tat_ns;       /* theoretical arrival time of the next request */
} gcra;

/* rate > 0 requests a second, burst >= 1 of them at once. */
void gcra_init(gcra *g, double rate, uint64_t burst);

/* Changes rate and burst from now on; the requests already counted stay counted. */
void gcra_set(gcra *g, double rate, uint64_t burst);

/*
 * How long a request at now must wait to conform: 0 when it conforms now, in
 * which case it is counted (the limiter moves on); otherwise nothing changes.
 */
uint64_t gcra_take(gcra *g, uint64_t now);

/*
 * A request that conformed was really sent at now, later than it was let
 * through (a busy loop, a slow connect): the next one is spaced from now, so
 * that the upstream, which counts arrivals, never sees two closer than 1/rate
 * after the burst.
 */
void gcra_sent(gcra *g, uint64_t now);

/*
 * The upstream refused what was let through: forget the burst spent and
 * let the next request conform one interval after now, whatever came before.
 */
void gcra_restart(gcra *g, uint64_t now);

/* Whether a request at now would have to wait (nothing changes). */
bool gcra_would_wait(const gcra *g, uint64_t now);

#endif
