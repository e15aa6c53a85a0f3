/* front_int.h: the front's own structs — requests, cells, the front — shared by request.c (the
 * loop's path) and hot.c (cache hits on nng threads); private to front/. */
#ifndef CB_FRONT_INT_H
#define CB_FRONT_INT_H

#include "front.h"
#include "heap.h"

typedef struct request request;

/* One call of a request, waiting for its answer: the unit every counter counts. */
typedef struct cell {
	request *r;
	batcher_waiter w; /* the batcher's part */
	answer *a;        /* set once, by cell_finish */
	cb_meta meta;
} cell;

/* One received message (call or multi) with its cells; answered when the last cell is. */
struct request {
	front *f;
	ing_ctx *ctx;
	bool has_id;
	uint64_t id;
	bool multi;
	uint64_t t_arrive_ns;
	heap_node deadline; /* key: the deadline (ns); in front.deadlines until answered */
	uint32_t ncells, nleft;
	cell cells[];
};

/*
 * Calls answered from the cache on nng threads (the hot path): one call per
 * request, counted with atomics, folded into the counters when read.
 */
typedef struct hot_stats {
	uint64_t ok, not_found;
	lathist total;
} hot_stats;

struct front {
	front_config cfg;
	uv_loop_t *loop;
	batcher *bt;
	struct cache *cache;
	front_stats_cb stats;
	void *stats_arg;
	front_counters c; /* pending too */
	hot_stats hot;    /* cache hits answered on nng threads */
	bool draining;    /* read by nng threads too: __atomic */
	heap deadlines;   /* requests by deadline, one timer */
	uv_timer_t deadline_timer;
	uv_timer_t trim_timer; /* gives freed heap back to the system once a burst is over */
};

/* Whether req (decoded: the decoder's result) may be answered: a token of --auth-token-file, or
 * none asked for. Any thread. */
bool front_authorized(const front *f, cb_err decoded, const cb_request *req);
/* A new nng message holding an encoded body (the caller owns it), or NULL without memory. */
nng_msg *front_buffer_msg(const msgpack_sbuffer *buf);
/* Fills rep's outcome from a (borrowed: rep points into a's strings). */
void front_reply_from_answer(cb_reply *rep, const answer *a, const cb_meta *meta);

#endif
