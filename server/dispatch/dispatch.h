/* dispatch.h: between batcher and upstream — the job slots (--max-jobs) and the FIFO of batches
 * waiting for one. Plain bookkeeping: no loop, no timer, testable alone. */
#ifndef CB_DISPATCH_H
#define CB_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "stats.h"

typedef struct dispatch_slot dispatch_slot;

/*
 * Called when s got its job slot: inline from dispatch_flush() when one is
 * free, else inline from the dispatch_release() that freed one.
 */
typedef void (*dispatch_start_cb)(dispatch_slot *s);

/* Embed in the object that needs a slot (a batch); dispatch_slot_init before use. */
struct dispatch_slot {
	list_node link; /* in dispatch.queue while waiting */
	bool held;
	uint64_t t_queued_ns;
	dispatch_start_cb start;
};

typedef struct dispatch {
	unsigned max_jobs;
	unsigned active;   /* slots held */
	size_t waiting;    /* slots queued */
	list_node queue;   /* of dispatch_slot, FIFO */
	lathist slot_wait; /* from flush to start */
} dispatch;

void dispatch_init(dispatch *d, unsigned max_jobs);
void dispatch_slot_init(dispatch_slot *s);

/*
 * s wants a slot. Returns true after start(s) ran inline (a slot was free
 * and nobody waited); false when s waits in FIFO order for a release.
 */
bool dispatch_flush(dispatch *d, dispatch_slot *s, dispatch_start_cb start);

/*
 * s is done, whatever its state: out of the queue, its slot (if held) freed,
 * and the waiting slots that now fit are started, inline, in FIFO order.
 */
void dispatch_release(dispatch *d, dispatch_slot *s);

/* For stats. */
static inline unsigned dispatch_active(const dispatch *d)
{
	return d->active;
}

static inline unsigned dispatch_max_jobs(const dispatch *d)
{
	return d->max_jobs;
}

static inline size_t dispatch_waiting(const dispatch *d)
{
	return d->waiting;
}

static inline const lathist *dispatch_slot_wait(const dispatch *d)
{
	return &d->slot_wait;
}

static inline bool dispatch_is_queued(const dispatch_slot *s)
{
	return list_linked(&s->link);
}

#endif
