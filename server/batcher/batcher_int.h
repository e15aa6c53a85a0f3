/* batcher_int.h: the batcher's own structs and helpers, shared by batcher.c (calls and items)
 * and resume.c (jobs taken up from the journal at start); private to batcher/. */
#ifndef CB_BATCHER_INT_H
#define CB_BATCHER_INT_H

#include "batcher.h"
#include "htab.h"
#include "window.h"

struct batcher {
	window_set ws; /* the batches */
	batcher_hooks hooks;
	struct cache *cache;
	htab groups; /* group by fn + options */
	htab items;  /* item by key, while queued or upstream */
	uint64_t dedup_hits;
};

/* A unique (fn, opts, normalised argument) in a batch; every identical call waits on it. */
typedef struct item {
	htab_node node; /* in batcher.items while queued or upstream */
	job_item ji;    /* what the upstream job reads */
	batch *b;
	list_node waiters; /* of batcher_waiter */
	uint32_t nwaiters;
	char buf[]; /* key, then text */
} item;

static inline item *item_of(job_item *ji)
{
	return list_entry(ji, item, ji);
}

/* Writes the group key of (fn, o) to out (BATCHER_KEY_MAX) and returns its length. Pure. */
size_t batcher_group_key(char *out, cb_fn fn, const cb_opts *o);
/* The group of key (made for call's fn and options when new); NULL without memory. */
group *batcher_group_get(batcher *bt, const cb_wire_call *call, const char *key, size_t keylen);
/* A new item (not in any table or batch) for key and text; NULL without memory. */
item *batcher_item_new(const cb_wire_call *call, const char *key, size_t keylen, const char *text,
                       size_t text_len);

/*
 * Ends b with a (borrowed) whatever its state: items not yet upstream are
 * answered here, a job upstream reports its own.
 */
void batcher_fail_batch(batcher *bt, batch *b, answer *a);

#endif
