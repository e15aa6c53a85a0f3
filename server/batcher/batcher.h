/* batcher.h: groups calls by (fn, options) into batch windows, sends identical calls upstream
 * once, and answers every waiting call when its item's answer comes back. */
#ifndef CB_BATCHER_H
#define CB_BATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "answer.h"
#include "btypes.h"
#include "cbproto.h"
#include "dispatch.h"
#include "job.h"
#include "list.h"
#include "normalize.h"

struct cache;

typedef struct batcher_config {
	uint64_t batch_max;     /* unique items per upstream batch */
	uint64_t batch_wait_ms; /* since a batch's first item */
	uint64_t batch_idle_ms; /* since a batch's last item */
} batcher_config;

/*
 * Creates the batcher. It borrows d, u and c (c may be NULL: no cache),
 * which must outlive it. 0, or -1 when out of memory.
 */
int batcher_open(batcher **out, uv_loop_t *loop, const batcher_config *cfg, dispatch *d,
                 upstream *u, struct cache *c);
/* Sets the hooks (the layer above is created after the batcher); before the first call. */
void batcher_set_hooks(batcher *bt, const batcher_hooks *hooks);
/* Frees the batcher; every batch must have ended (batcher_fail_all) and the loop run since. */
void batcher_close(batcher *bt);

/*
 * The key format's version (NORMAL_KEY_VERSION), the group key (fn and
 * options), then the normal form of the argument; cache and dedup share it.
 */
#define BATCHER_KEY_MAX (2 + CB_OPT_COUNT * (2 + CB_TEXT_MAX) + NORMAL_MAX(CB_TEXT_MAX) + 1)
/*
 * Writes call's key and returns its length; *group_len is the length of its
 * group prefix, *text the trimmed text (borrowed from call; NULL for reverse).
 * Pure: safe on any thread.
 */
size_t batcher_key(const cb_wire_call *call, char key[BATCHER_KEY_MAX], size_t *group_len,
                   const char **text, size_t *text_len);

/* A waiter that arrived at t_arrive_ns and waits on nothing yet. */
void batcher_waiter_init(batcher_waiter *w, uint64_t t_arrive_ns);

/*
 * Queues w for call: the cache first, then an identical item already queued
 * or upstream, else a new item in its group's open batch. Copies what it
 * keeps of call. hooks.waiter_done may run inline.
 */
void batcher_add(batcher *bt, batcher_waiter *w, const cb_wire_call *call);

/*
 * Takes w out before it is answered otherwise (its deadline); waiter_done
 * is not called for it. An item nobody waits for leaves a batch that has not
 * gone upstream.
 */
void batcher_drop_waiter(batcher *bt, batcher_waiter *w);

/* Closes every open window now (shutdown). */
void batcher_flush_all(batcher *bt);

/* Ends every batch, wherever it is, answering each waiter with a (takes a). */
void batcher_fail_all(batcher *bt, answer *a);

struct journal_job;
/*
 * Takes up a job the journal kept from before a restart (at start, before
 * any call), or one a dead instance of the fleet had upstream: its items wait
 * in the dedup table (taking over those waiting on the fleet), and the job is
 * polled as soon as it has a slot. 0, or -1 when out of memory.
 */
int batcher_resume(batcher *bt, const struct journal_job *jj);

/* upstream_hooks targets (main.c wires them; arg is the batcher) */
void batcher_item_done_cb(void *arg, job *j, job_item *it, answer *a);
void batcher_job_ended_cb(void *arg, job *j);
void batcher_job_retry_wait_cb(void *arg, job *j);
void batcher_job_retry_ready_cb(void *arg, job *j);
bool batcher_job_wanted_cb(void *arg, job *j);

/* For stats: identical calls that joined an item, and each group's items not yet upstream. */
uint64_t batcher_dedup_hits(const batcher *bt);
size_t batcher_groups_queued(const batcher *bt);
/* For metrics: batches whose window is open now, and how long windows stayed open. */
size_t batcher_open_windows(const batcher *bt);
const lathist *batcher_window_hist(const batcher *bt);
void batcher_each_queued(const batcher *bt, void (*visit)(void *arg, const char *label, uint64_t n),
                         void *arg);

#endif
