/* window.h: one batch's life in the batcher — its group, its window, its wait for a job slot, and
 * its end; the structs batcher.c fills. Knows nothing of calls or waiters. */
#ifndef CB_WINDOW_H
#define CB_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "dispatch.h"
#include "htab.h"
#include "job.h"
#include "list.h"

typedef struct batch batch;

/* What every window needs, and every batch not yet ended. Owned by the batcher. */
typedef struct window_set {
	uint64_t batch_max, batch_wait_ms, batch_idle_ms;
	uv_loop_t *loop;
	dispatch *d;       /* borrowed */
	upstream *u;       /* borrowed */
	list_node batches; /* of batch, oldest first */
	uint64_t seq;
	/* hands already received calls over now, before a window closes on batch-idle */
	void (*poll_input)(void *arg);
	void *input_arg;
	lathist window; /* from a batch's first item to its window's close */
} window_set;

/* The calls of one (fn, opts) key share batches; calls with other options never do. */
typedef struct group {
	htab_node node; /* in the batcher's groups */
	cb_fn fn;
	char *opt[CB_OPT_COUNT]; /* owned NUL-terminated values, NULL when absent */
	char label[96];          /* "geocode lang=de" for logs and stats */
	batch *open;             /* the batch being filled, if any */
	char *key;
	size_t keylen;
} group;

/* One batch window and, once it leaves, the upstream job it becomes. */
struct batch {
	window_set *ws;
	group *g;
	list_node link;     /* in window_set.batches */
	job job;            /* upstream's part: its state is the batch's state */
	dispatch_slot slot; /* dispatch's part */
	job_item **items;   /* the items' owner is the batcher */
	uint32_t n, cap;
	uint64_t t_first_ms, t_last_ms; /* monotonic time of the first and last arrival */
	uint64_t t_flush_ns;            /* when it left (a call's wait ends there) */
	uint64_t t_open_ns;             /* its first item, for the window's time */
	uv_timer_t window;
	unsigned open_handles; /* the window timer and the job's: freed when both closed */
};

/*
 * When a window closes, in ms on the clock of its arguments: the earlier of
 * first + wait and last + idle. *on_idle says which one it is. Pure (inline
 * so that the unit test needs nothing else).
 */
static inline uint64_t window_due(uint64_t t_first_ms, uint64_t t_last_ms, uint64_t wait_ms,
                                  uint64_t idle_ms, bool *on_idle)
{
	uint64_t due_wait = t_first_ms + wait_ms, due_idle = t_last_ms + idle_ms;

	*on_idle = due_idle < due_wait;
	return *on_idle ? due_idle : due_wait;
}

/* A new batch for g, its window started, g's open batch; NULL when out of memory. */
batch *batch_open(window_set *ws, group *g);

/* Room for one more item; false when out of memory. */
bool batch_reserve(batch *b);

/*
 * The window closed or the batch is full: to the dispatcher, which may start
 * its job inline; an empty batch just ends.
 */
void batch_flush(batch *b);

/*
 * Ends b before it went upstream, or after its job ended: unlinked, its slot
 * given back (which may start a waiting batch inline), its handles closed;
 * freed from the loop. Its items are not touched.
 */
void batch_release(batch *b);

/* b's job waits to retry: its job slot goes to others meanwhile. */
void batch_retry_wait(batch *b);
/* b's job may retry: it queues for a slot again (FIFO), and retries once it has one. */
void batch_retry_ready(batch *b);

#endif
