/* ratelimit.h: one GCRA rate limiter for every upstream request, submits and polls alike — a
 * FIFO of waiters and one timer around dispatch/gcra.c's arithmetic. */
#ifndef CB_RATELIMIT_H
#define CB_RATELIMIT_H

#include <stdint.h>

#include <uv.h>

#include "gcra.h"
#include "list.h"

/* Embed in the object that sends requests; one request per waiter at a time. */
typedef struct rl_waiter {
	list_node link; /* in ratelimit.queue while waiting */
	void (*send)(struct rl_waiter *w);
} rl_waiter;

typedef struct ratelimit {
	gcra g;
	double rate, rate_now; /* configured, and as slowed down by 429s */
	uint64_t burst;
	uint64_t calm_at_ns; /* until then burst 1: a 429 came recently */
	list_node queue;     /* of rl_waiter */
	uv_timer_t timer;
	uint64_t waits; /* requests that could not go at once */
} ratelimit;

/* Initialises rl on loop's thread (which every other call must be on). */
void ratelimit_init(ratelimit *rl, uv_loop_t *loop, double rate, uint64_t burst);
/* Closes the timer; the loop must run for its close callback. Waiters are forgotten. */
void ratelimit_fini(ratelimit *rl);

/* A waiter in no queue. */
void rl_waiter_init(rl_waiter *w);

/*
 * Calls send(w) as soon as the limiter allows one more upstream request:
 * inline when it conforms now and nobody waits, else later from the timer.
 * Waiters go in FIFO order; w must not be queued already.
 */
void ratelimit_request(ratelimit *rl, rl_waiter *w, void (*send)(rl_waiter *w));

/* Takes w out of the queue if it waits there; its send is then never called. */
void ratelimit_cancel(rl_waiter *w);

/*
 * The upstream answered 429: halve the rate (down to a sixteenth of the
 * configured one) and allow no burst for the next minute.
 */
void ratelimit_slow_down(ratelimit *rl);

/* The upstream answered something else: the rate climbs back by a tenth of the configured one. */
void ratelimit_recover(ratelimit *rl);

/* A request let through was written to its connection now (gcra_sent). */
void ratelimit_sent(ratelimit *rl);

/* For stats: the rate now, in requests a second. */
static inline double ratelimit_rate_now(const ratelimit *rl)
{
	return rl->rate_now;
}

/* For stats: requests that could not go at once. */
static inline uint64_t ratelimit_waits(const ratelimit *rl)
{
	return rl->waits;
}

#endif
