/* ratelimit.h: one GCRA rate limiter for every upstream request, submits and polls alike — a
 * FIFO of waiters and one timer around dispatch/gcra.c's arithmetic. */
#ifndef CB_RATELIMIT_H
#define CB_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "gcra.h"
#include "list.h"

/*
 * What a request is, which says where it queues: before every request of a
 * later kind, behind those of its own (FIFO within a kind).
 * - RL_AGAIN: it had its turn and must go again (a 429, a 5xx, a lost
 *   answer); at the back it would wait behind everything (seen: a submit
 *   refused at the start of 20,000 cells went out 3.8 s later, last).
 * - RL_SUBMIT: a submit starts the upstream's clock: against a strict
 *   per-request limit, submits queued behind polls of done jobs left the last
 *   four batches 3 s late. Submits cannot starve polls: each needs a job slot,
 *   and the slots are full of jobs that need polls.
 * - RL_POLL: a poll; its job is done already or soon, and waits on the upstream.
 */
typedef enum rl_kind { RL_AGAIN, RL_SUBMIT, RL_POLL } rl_kind;

/* Embed in the object that sends requests; one request per waiter at a time. */
typedef struct rl_waiter {
	list_node link; /* in ratelimit.queue while waiting */
	void (*send)(struct rl_waiter *w);
	rl_kind kind;
} rl_waiter;

/*
 * A limiter shared with other processes (fleet/flimit.h on Redis), wired by
 * main.c. take asks for one token: 0 and done(rl, wait) runs later, never
 * inline (wait 0: granted; > 0: nanoseconds to wait; < 0: it failed); -1
 * when it cannot ask now, and done never runs. sent says a granted request
 * was written now; slow, that the upstream answered 429 to a request written
 * age_ns ago (the remote slows every process down, as ratelimit_slow_down
 * does one).
 */
typedef struct rl_remote {
	int (*take)(void *ctx, void (*done)(void *rl, int64_t wait_ns), void *rl);
	void (*sent)(void *ctx);
	void (*slow)(void *ctx, uint64_t age_ns);
	void *ctx;
} rl_remote;

typedef struct ratelimit {
	gcra g;
	double rate, rate_now; /* configured, and as slowed down by 429s */
	uint64_t burst;
	uint64_t calm_at_ns; /* until then burst 1: a 429 came recently */
	uint64_t slowed_ns;  /* when the rate was last halved */
	list_node queue;     /* of rl_waiter */
	uv_timer_t timer;
	uint64_t waits; /* requests that could not go at once */
	/* with a remote: it decides while it answers (fleet), else the local GCRA at local_rate */
	rl_remote remote;
	bool fleet;        /* the remote decides now */
	bool asking;       /* a take in flight: one at a time */
	double local_rate; /* the fallback's rate while the remote is away */
	uint64_t switches; /* changes between the remote and the local fallback */
} ratelimit;

/* Initialises rl on loop's thread (which every other call must be on). */
void ratelimit_init(ratelimit *rl, uv_loop_t *loop, double rate, uint64_t burst);
/* Closes the timer; the loop must run for its close callback. Waiters are forgotten. */
void ratelimit_fini(ratelimit *rl);

/*
 * From now on the remote decides while it answers; when it cannot, the local
 * GCRA does at local_rate, burst 1 (the share of one instance of a fleet),
 * until ratelimit_set_fleet(rl, true). Before any request.
 */
void ratelimit_set_remote(ratelimit *rl, const rl_remote *remote, double local_rate);

/* The remote is back (true) or gone (false): the switch is logged and counted. */
void ratelimit_set_fleet(ratelimit *rl, bool up, const char *why);

/* A waiter in no queue. */
void rl_waiter_init(rl_waiter *w);

/*
 * Calls send(w) as soon as the limiter allows one more upstream request:
 * inline when it conforms now and nobody waits, else later from the timer.
 * Waiters go in the order of their kind, FIFO within one; w must not be
 * queued already.
 */
void ratelimit_request(ratelimit *rl, rl_waiter *w, rl_kind kind, void (*send)(rl_waiter *w));

/* Takes w out of the queue if it waits there; its send is then never called. */
void ratelimit_cancel(rl_waiter *w);

/*
 * The upstream answered 429 to a request written at sent_ns: no burst for
 * the next minute and the next request one interval from now; when there was
 * no burst to blame, the rate halves too (down to a sixteenth of the
 * configured one). A 429 to a request written before the last slow-down
 * changes nothing more: a burst refused at once is one signal, not five (TCP
 * cuts its window once per round trip for the same reason).
 */
void ratelimit_slow_down(ratelimit *rl, uint64_t sent_ns);

/* The upstream answered something else: the rate climbs back by a tenth of the configured one. */
void ratelimit_recover(ratelimit *rl);

/* A request let through was written to its connection now (gcra_sent). */
void ratelimit_sent(ratelimit *rl);

/* For stats: the rate now, in requests a second. */
static inline double ratelimit_rate_now(const ratelimit *rl)
{
	return rl->rate_now;
}

/* For stats: whether a remote is wired, and whether it decides now. */
static inline bool ratelimit_has_remote(const ratelimit *rl)
{
	return rl->remote.take != NULL;
}

static inline bool ratelimit_is_fleet(const ratelimit *rl)
{
	return rl->fleet;
}

static inline uint64_t ratelimit_switches(const ratelimit *rl)
{
	return rl->switches;
}

/* For stats: requests that could not go at once. */
static inline uint64_t ratelimit_waits(const ratelimit *rl)
{
	return rl->waits;
}

#endif
