/* server.h: cellbatchd's shared data model — config, the server, requests, cells, items, groups,
 * batches. */
#ifndef CB_SERVER_H
#define CB_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "answer.h"
#include "cbproto.h"
#include "clock.h"
#include "gcra.h"
#include "heap.h"
#include "htab.h"
#include "http.h"
#include "ingress.h"
#include "jobstate.h"
#include "options.h"
#include "pollsched.h"
#include "stats.h"

typedef struct server server;
typedef struct request request;
typedef struct cell cell;
typedef struct item item;
typedef struct group group;
typedef struct batch batch;

/* One call of a request, waiting for its answer: the unit every counter counts. */
struct cell {
	request *r;
	item *it;            /* while waiting on an upstream item */
	cell *wprev, *wnext; /* the item's waiters */
	answer *a;           /* set once, by cell_finish */
	cb_meta meta;
};

/* One received message (call or multi) with its cells; answered when the last cell is. */
struct request {
	server *s;
	ing_ctx *ctx;
	bool has_id;
	uint64_t id;
	bool multi;
	uint64_t t_arrive_ns;
	heap_node deadline; /* key: the deadline (ns); in server.deadlines until answered */
	uint32_t ncells, nleft;
	cell cells[];
};

/* The calls of one (fn, opts) key share batches; calls with other options never do. */
struct group {
	htab_node node; /* in server.groups, keyed by fn + opts */
	cb_fn fn;
	char *opt[CB_OPT_COUNT]; /* owned NUL-terminated values, NULL when absent */
	char label[96];          /* "geocode lang=de" for logs and stats */
	batch *open;             /* the batch being filled, if any */
	char *key;
	size_t keylen;
};

/* A unique (fn, opts, normalised argument) in a batch; every identical call waits on it. */
struct item {
	htab_node node; /* in server.items while queued or upstream */
	batch *b;
	cell *waiters;
	uint32_t nwaiters;
	const char *text; /* what is sent upstream (the first caller's trimmed text) */
	uint32_t text_len;
	double lat, lon;
	char buf[]; /* key, then text */
};

/*
 * A batch is one upstream job. Every state change goes through
 * batch_set_state() (upstream/job.c), which logs it and refuses what
 * jobstate.c does not allow.
 */
struct batch {
	server *s;
	group *g;
	uint64_t seq; /* for logs */
	batch_state state;
	item **items;
	uint32_t n, cap;
	uint64_t t_first_ms, t_last_ms; /* monotonic time of the first and last arrival */
	uint64_t t_flush_ns, t_submit_ns;
	uint64_t t_poll_sent_ns; /* the last poll's send time */
	uint64_t t_pend_sent_ns; /* send time of the last poll that found the job pending */
	uv_timer_t timer; /* the window while OPEN, the next poll while PENDING, the backoff */
	http_req *http;
	char *body;  /* the submit's JSON, kept for resubmits */
	char *query; /* the options as URL query parameters */
	char job_id[64];
	unsigned polls;
	unsigned attempts; /* failed tries of the current request */
	bool resubmit;     /* the last submit may have reached the upstream */
	bool fd_short;     /* a request failed for want of descriptors: not the upstream's fault */
	uint64_t poll_step_ms;
	bool has_slot, in_slot_queue, in_rate_queue;
	batch *qnext, *rnext; /* slot queue, rate queue */
	void (*rate_send)(batch *b);
	batch *prev, *next; /* server.batches */
};

/*
 * Completions travel up the pipeline through these, wired by main.c, so that
 * no module calls the one above it by name. All run on the loop thread,
 * inline from the reporting module's own call.
 */
typedef struct server_hooks {
	/* batcher -> front: cell c has its answer (a is borrowed; the callee takes a reference) */
	void (*cell_done)(server *s, cell *c, answer *a, bool cached, uint64_t batch_size,
	                  uint64_t wait_ns);
	/* upstream -> batcher: every cell waiting on item it gets a (borrowed) */
	void (*item_done)(server *s, item *it, answer *a);
	/* upstream -> dispatch: batch b is ending; its slot and slot-queue place are free */
	void (*batch_ended)(batch *b);
} server_hooks;

/* Expected job time per power-of-two batch size, learned from finished jobs. */
#define JOB_BUCKETS 11

struct server {
	config cfg;
	server_hooks hooks;
	uv_loop_t *loop;
	ingress *in;
	http *http;
	htab groups;
	htab items;
	batch *batches;
	uint64_t batch_seq;
	uint64_t pending; /* cells not yet answered */
	uint64_t pending_high_water;
	/* dispatch: job slots and the rate limiter */
	unsigned jobs_active;
	batch *slot_head, *slot_tail;
	batch *rate_head, *rate_tail;
	gcra limiter; /* the arithmetic; the queue and timer around it: ratelimit.c */
	uv_timer_t rate_timer;
	/* call deadlines: a min-heap of requests, one timer */
	heap deadlines;
	uv_timer_t deadline_timer;
	uv_timer_t trim_timer; /* gives freed heap back to the system once a burst is over */
	stats st;
	hot_stats hot; /* cache hits answered on nng threads */
	struct cache *cache;
	pollsched poll_sched[JOB_BUCKETS]; /* per power-of-two batch size */
	bool draining;                     /* read by nng threads too: __atomic */
	uv_signal_t sigterm, sigint;
	uv_timer_t drain_timer; /* --drain-timeout */
	uv_check_t drain_watch; /* after each turn of the loop while draining: done yet? */
	uv_timer_t grace_timer; /* lets the last replies leave before teardown */
	bool drain_expired;     /* --drain-timeout passed: stop waiting for replies to leave */
	uint64_t t_start_ns;
	size_t nofile; /* RLIMIT_NOFILE after raising it */
};

/* request.c: the one way out for every cell */

/*
 * Gives cell c its answer: takes a reference to a, counts the outcome, and
 * sends the request's reply once its last cell is answered (which frees the
 * request, and c with it).
 */
void cell_finish(server *s, cell *c, answer *a, bool cached, uint64_t batch_size, uint64_t wait_ns);

/* ingress callback: decode, validate and route one request; takes msg. */
void request_received(void *arg, ing_ctx *ctx, nng_msg *msg);
/*
 * ingress hot callback, on an nng thread: answers a single call found in the
 * cache's memory without the loop. Borrows msg; on true *reply is the new
 * reply (the caller sends it); false leaves msg to request_received.
 */
bool request_hot(void *arg, nng_msg *msg, nng_msg **reply);

/* Sends a reply built from an answer on a context, for requests with no cells yet. */
void reply_error(server *s, ing_ctx *ctx, bool has_id, uint64_t id, cb_err code, const char *msg);

/* batcher.c */

/* Group key (fn and options) then the normal form of the argument; cache and dedup share it. */
#define BATCHER_KEY_MAX (1 + CB_OPT_COUNT * (2 + CB_TEXT_MAX) + CB_TEXT_MAX + 1)
/*
 * Writes call's key and returns its length; *group_len is the length of its
 * group prefix, *text the trimmed text (borrowed from call; NULL for reverse).
 * Pure: safe on any thread.
 */
size_t batcher_key(const cb_wire_call *call, char key[BATCHER_KEY_MAX], size_t *group_len,
                   const char **text, size_t *text_len);
/* Queues cell c for call (dedup first); answers c itself when that cannot be done. */
void batcher_add(server *s, cell *c, const cb_wire_call *call);
/* Detaches a cell that is about to be answered otherwise (deadline); an item nobody waits for
 * leaves a batch that has not gone upstream. */
void batcher_drop_waiter(server *s, cell *c);
/* Flushes every open batch now (shutdown). */
void batcher_flush_all(server *s);
void batcher_fini(server *s);
/* Answers every waiting cell of it with a, removes it from the dedup table and frees it. */
void item_finish(server *s, item *it, answer *a);

/* request.c */
void deadlines_init(server *s);
void deadlines_fini(server *s);

#endif
