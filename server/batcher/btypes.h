/* btypes.h: the batcher's structs — its waiters and hooks (public through batcher.h), itself and
 * its items (for batcher/ only) — apart, so that item.c and claim.c need no batcher.c. */
#ifndef CB_BTYPES_H
#define CB_BTYPES_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "answer.h"
#include "htab.h"
#include "job.h"
#include "list.h"
#include "window.h"

typedef struct batcher batcher;
struct item;

/* One call waiting for its answer; embedded in the caller's cell. */
typedef struct batcher_waiter {
	list_node link;       /* in its item's waiters */
	struct item *it;      /* NULL unless waiting on an item */
	uint64_t t_arrive_ns; /* for the time a call waited for its batch to leave */
} batcher_waiter;

/* Completions going up, wired by main.c; loop thread. */
typedef struct batcher_hooks {
	/*
	 * w has its answer a (borrowed: take a reference to keep it). cached: from
	 * the cache; batch_size and wait_ns: the batch it went upstream in. Runs
	 * inline from batcher_add() (a cache hit, a blank text, no memory) or from
	 * the upstream's completion; w is out of the batcher when it runs.
	 */
	void (*waiter_done)(void *arg, batcher_waiter *w, answer *a, bool cached,
	                    uint64_t batch_size, uint64_t wait_ns);
	void *done_arg;
	/* hands already received calls over now, before a window closes on batch-idle */
	void (*poll_input)(void *arg);
	void *input_arg;
} batcher_hooks;

struct batcher {
	window_set ws; /* the batches */
	batcher_hooks hooks;
	struct cache *cache;
	htab groups; /* group by fn + options */
	htab items;  /* item by key, while claimed, queued or upstream */
	uint64_t dedup_hits;
	/* --redis (claim.c): items claimed in the fleet or waiting on another instance */
	struct fshare *share;  /* NULL: no fleet */
	list_node unbatched;   /* of item, ITEM_CLAIMING or ITEM_REMOTE */
	uv_timer_t recheck;    /* asks again for items whose owner may have died */
	uv_timer_t commit;     /* answers from the fleet, into the cache database a turn later */
	uint64_t remote_hits;  /* items answered from the fleet's cache or another's result */
	uint64_t remote_waits; /* items that waited on another instance's lease */
};

/* Where an item is: in a batch (LOCAL), or waiting on the fleet before it may join one. */
typedef enum item_where { ITEM_LOCAL, ITEM_CLAIMING, ITEM_REMOTE } item_where;

/* A unique (fn, opts, normalised argument) in a batch; every identical call waits on it. */
typedef struct item {
	htab_node node; /* in batcher.items while queued or upstream */
	job_item ji;    /* what the upstream job reads */
	batch *b;
	list_node waiters; /* of batcher_waiter */
	uint32_t nwaiters;
	group *g;            /* its group, for when it joins a batch after its claim */
	struct batcher *bt;  /* for the claim's answer */
	item_where where;    /* LOCAL: b is set; else b is NULL and rlink in bt->unbatched */
	list_node rlink;     /* in bt->unbatched */
	uint64_t recheck_ms; /* ITEM_REMOTE: when to ask the fleet again (monotonic) */
	char buf[];          /* key, then text */
} item;

static inline item *item_of(job_item *ji)
{
	return list_entry(ji, item, ji);
}

#endif
