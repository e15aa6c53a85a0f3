/* front.h: where a call comes in and its reply goes out — decode, admission (pending limit,
 * draining), deadlines, the cache-hit hot path, and the reply once every call of a message is
 * answered. */
#ifndef CB_FRONT_H
#define CB_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <uv.h>

#include "batcher.h"
#include "ingress.h"
#include "stats.h"

typedef struct front front;
struct cache;

typedef struct front_config {
	uint64_t max_message;     /* bytes */
	uint64_t max_pending;     /* calls waiting for an answer */
	uint64_t call_timeout_ms; /* a call's deadline unless it brings its own */
	/* --auth-token-file, borrowed (outlives the front); NULL: no token asked for */
	const struct auth_tokens *tokens;
} front_config;

/* Upward, wired by main.c: the body of op "stats" (0, or nonzero when out of memory). */
typedef int (*front_stats_cb)(void *arg, msgpack_packer *pk);

/* Counters by op: cb_op, then one slot for messages that failed to decode. */
#define FRONT_OP_INVALID CB_OP_COUNT
#define FRONT_OP_SLOTS   (CB_OP_COUNT + 1)

/* What front counts, for stats; the hot path's calls folded in. */
typedef struct front_counters {
	uint64_t requests, calls_received;
	uint64_t requests_by_op[FRONT_OP_SLOTS]; /* messages; they sum to requests */
	uint64_t calls_by_op[FRONT_OP_SLOTS];    /* calls; they sum to calls_received */
	uint64_t answered[CODE_SLOTS];           /* by cb_err */
	uint64_t unauthorized; /* requests answered UNAUTHORIZED: no token, or a wrong one */
	uint64_t pending, pending_high_water;
	lathist queued, total;
} front_counters;

/*
 * Creates the front. It borrows bt and c (c may be NULL), which must outlive
 * it. 0, or -1 when out of memory.
 */
int front_open(front **out, uv_loop_t *loop, const front_config *cfg, batcher *bt, struct cache *c,
               front_stats_cb stats, void *stats_arg);
/* Closes the timers (the loop must run for their close callbacks), then frees the front. */
void front_close(front *f);

/* ingress_recv_cb (arg: the front): decode, admit and route one request; takes msg. */
void front_received_cb(void *arg, ing_ctx *ctx, nng_msg *msg);
/*
 * ingress_hot_cb (arg: the front), on an nng thread: answers a single call
 * found in the cache's memory without the loop. Borrows msg; on true *reply
 * is the new reply (the caller sends it); false leaves msg to the loop.
 */
bool front_hot_cb(void *arg, nng_msg *msg, nng_msg **reply);
/* batcher_hooks.waiter_done target (arg: the front): one call has its answer. */
void front_waiter_done_cb(void *arg, batcher_waiter *w, answer *a, bool cached, uint64_t batch_size,
                          uint64_t wait_ns);

/* From now on every new call is answered SHUTTING_DOWN (any thread may read the flag). */
void front_set_draining(front *f);
/* Whether front_set_draining was called. Any thread. */
bool front_draining(const front *f);
/* Calls not yet answered. */
uint64_t front_pending(const front *f);
void front_get_counters(const front *f, front_counters *out);

#endif
