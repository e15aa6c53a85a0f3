/* flimit.h: the fleet's rate limiter — one GCRA per API key on Redis (a Lua script on Redis's
 * TIME, so that every instance counts on one clock), keyed by a hash of the key. */
#ifndef CB_FLIMIT_H
#define CB_FLIMIT_H

#include <stdint.h>

#include "rconn.h"

typedef struct flimit flimit;

/* A token's answer: 0 granted, > 0 nanoseconds to wait before asking again, < 0 Redis failed
 * (timeout, connection lost, an error reply). */
typedef void (*flimit_done_cb)(void *arg, int64_t wait_ns);

/*
 * The limiter of api_key's fleet on rc (borrowed; closed after fl; NULL:
 * flimit_set_conn before the first take). interval
 * and tolerance are GCRA's T and tau (dispatch/gcra.h), so that the fleet
 * spaces requests exactly as one instance would. Only a hash of api_key is
 * kept or sent. Returns 0 or -1 (out of memory).
 */
int flimit_open(flimit **out, rconn *rc, const char *api_key, uint64_t interval_ns,
                uint64_t tolerance_ns);
void flimit_close(flimit *fl);
void flimit_set_conn(flimit *fl, rconn *rc);

/*
 * Asks the fleet for one request's token. Returns 0 and done runs once,
 * never inline; -1 when Redis is not ready (done never runs). ctx is the
 * flimit (the shape of dispatch/ratelimit.h's rl_remote).
 */
int flimit_take(void *ctx, flimit_done_cb done, void *arg);

/* A granted request was written now: the next one is spaced from now (gcra_sent's rule, on
 * Redis). Best effort: nothing is said when Redis is not there. */
void flimit_sent(void *ctx);

/* The upstream answered 429 to a request written age_ns ago: the fleet slows down as one
 * instance would (dispatch/ratelimit.h's ratelimit_slow_down), for every instance. Best effort. */
void flimit_slow(void *ctx, uint64_t age_ns);

/*
 * This instance uses the fleet's limiter again after its local fallback: no
 * token is granted to anyone for quiet_ns from now (Redis's clock), so that
 * no second holds both this instance's last local requests and the fleet's
 * next ones. Sent before any take on the same connection (so run before them).
 */
void flimit_rejoin(flimit *fl, uint64_t quiet_ns);

/* For stats: tokens granted, answers "wait", and failed asks. */
uint64_t flimit_granted(const flimit *fl);
uint64_t flimit_waits(const flimit *fl);
uint64_t flimit_errors(const flimit *fl);

#endif
