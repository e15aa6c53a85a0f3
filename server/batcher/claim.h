/* claim.h: with a fleet (--redis), a new item asks it before joining a batch (claim.c). */
#ifndef CB_CLAIM_H
#define CB_CLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "btypes.h"

struct fshare;
/*
 * --redis: from now on a new item asks the fleet (fs, borrowed) before it
 * joins a batch (claim.c): its answer in the fleet's cache, or its lease, or
 * it waits for the instance holding that. Before the first call.
 */
void batcher_set_share(batcher *bt, struct fshare *fs);
/* Before the fleet closes (shutdown): the batcher's timers of it closed. */
void batcher_unshare(batcher *bt);
/* fshare_result_cb target (main.c wires it; arg is the batcher): another instance's answer. */
void batcher_remote_result_cb(void *arg, const char *key, size_t keylen, answer *a,
                              uint64_t expires_ms);
/* For stats: items answered from the fleet, and items that waited on another instance. */
uint64_t batcher_remote_hits(const batcher *bt);
uint64_t batcher_remote_waits(const batcher *bt);

/* Whether a new item asks the fleet before the cache database (memory, Redis, the database,
 * then upstream): Redis is there. Else memory, the database, upstream, as without a fleet. */
bool claim_fleet_first(const batcher *bt);
/* A new item (in bt->items, with its waiter) asks the fleet first; false when the fleet
 * cannot be asked now (then the caller queues it). */
bool claim_start(batcher *bt, item *it);
/* it (in no list or batch) answered from the cache database, which the fleet gets too; false
 * on a miss. */
bool claim_answer_from_db(batcher *bt, item *it);
/* it lost its last waiter while unbatched: forgotten (or, claim in flight, when that ends). */
void claim_forget(batcher *bt, item *it);
/* Every unbatched item answered with a (borrowed): shutdown. */
void claim_fail_all(batcher *bt, answer *a);
void claim_init(batcher *bt);

#endif
