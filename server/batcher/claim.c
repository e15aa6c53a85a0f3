/* claim.c: with a fleet (--redis), a new item asks it before joining a batch — the fleet's cache
 * may have its answer, another instance its lease (then this one waits for that result), or the
 * lease becomes this instance's and the item goes upstream from here. */
#include <stdlib.h>

#include "btypes.h"
#include "claim.h"
#include "item.h"
#include "cache.h"
#include "clock.h"
#include "fshare.h"
#include "log.h"

#define RECHECK_MIN_MS  100
#define RECHECK_MAX_MS  5000 /* the owner renews its lease; this bounds a lost message's cost */
#define RECHECK_TICK_MS 100

static void claim_done_cb(void *arg, fshare_claim_rc rc, answer *a, uint64_t expires_ms,
                          uint64_t wait_ms);
static void recheck_cb(uv_timer_t *t);

static uint64_t mono_ms(void)
{
	return now_ns() / 1000000;
}

static void commit_cb(uv_timer_t *t)
{
	batcher *bt = t->data;

	cache_commit(bt->cache);
}

/* An answer from the fleet: kept here too (memory now, the database a turn later), then given. */
static void answer_from_fleet(batcher *bt, item *it, answer *a)
{
	list_remove(&it->rlink);
	bt->remote_hits++;
	if (bt->cache != NULL) {
		cache_count_miss(bt->cache); /* memory missed (cache_peek counts none) */
		cache_put(bt->cache, it->ji.key, it->ji.keylen, a);
		if (!uv_is_active((uv_handle_t *)&bt->commit))
			uv_timer_start(&bt->commit, commit_cb, 0, 0);
	}
	batcher_item_answer(bt, it, a, true);
}

bool claim_answer_from_db(batcher *bt, item *it)
{
	uint64_t expires = 0;
	answer *a;

	if (bt->cache == NULL ||
	    (a = cache_get_db(bt->cache, it->ji.key, it->ji.keylen, &expires)) == NULL)
		return false;
	/* writes go to every layer: Redis gets it, and the instances waiting on this lease */
	fshare_store(bt->share, it->ji.key, it->ji.keylen, a, expires);
	batcher_item_answer(bt, it, a, true);
	answer_unref(a);
	return true;
}

/* Memory and Redis missed: the database, else a batch of this instance's; without memory its
 * waiters get INTERNAL. */
static void go_local(batcher *bt, item *it)
{
	answer *oom;

	list_remove(&it->rlink);
	if (claim_answer_from_db(bt, it) || batcher_item_enqueue(bt, it))
		return;
	oom = answer_error_or_oom(NULL);
	batcher_item_answer(bt, it, oom, false);
	answer_unref(oom);
}

static bool ask(batcher *bt, item *it)
{
	it->where = ITEM_CLAIMING;
	it->bt = bt;
	return fshare_claim(bt->share, it->ji.key, it->ji.keylen, claim_done_cb, it) == 0;
}

bool claim_fleet_first(const batcher *bt)
{
	return bt->share != NULL && fshare_ready(bt->share);
}

bool claim_start(batcher *bt, item *it)
{
	list_push_back(&bt->unbatched, &it->rlink);
	if (ask(bt, it))
		return true;
	list_remove(&it->rlink);
	it->where = ITEM_LOCAL;
	return false;
}

static void claim_done_cb(void *arg, fshare_claim_rc rc, answer *a, uint64_t expires_ms,
                          uint64_t wait_ms)
{
	item *it = arg;
	batcher *bt = it->bt;
	(void)expires_ms;

	if (it->nwaiters == 0) {
		/* nobody waits any more (deadlines, shutdown): a lease taken is given back */
		if (rc == FSHARE_MINE)
			fshare_store(bt->share, it->ji.key, it->ji.keylen, NULL, 0);
		list_remove(&it->rlink);
		htab_remove(&bt->items, &it->node);
		free(it);
		return;
	}
	switch (rc) {
	case FSHARE_VALUE:
		answer_from_fleet(bt, it, a);
		return;
	case FSHARE_HELD:
		if (it->where == ITEM_CLAIMING && it->recheck_ms == 0)
			bt->remote_waits++;
		it->where = ITEM_REMOTE;
		wait_ms = wait_ms < RECHECK_MIN_MS   ? RECHECK_MIN_MS
		          : wait_ms > RECHECK_MAX_MS ? RECHECK_MAX_MS
		                                     : wait_ms;
		it->recheck_ms = mono_ms() + wait_ms + (uint64_t)rand() % 50;
		if (!uv_is_active((uv_handle_t *)&bt->recheck))
			uv_timer_start(&bt->recheck, recheck_cb, RECHECK_TICK_MS, RECHECK_TICK_MS);
		return;
	default: /* MINE, or the fleet failed: this instance sends it */
		go_local(bt, it);
	}
}

/* Items whose owner has not answered by their lease's end ask again: it may have died. */
static void recheck_cb(uv_timer_t *t)
{
	batcher *bt = t->data;
	uint64_t now = mono_ms();
	list_node *n, *tmp;
	bool waiting = false;

	list_each_safe(&bt->unbatched, n, tmp)
	{
		item *it = list_entry(n, item, rlink);
		if (it->where != ITEM_REMOTE)
			continue;
		if (it->recheck_ms > now) {
			waiting = true;
		} else if (!ask(bt, it)) {
			go_local(bt, it); /* the fleet is gone: alone, as without one */
		}
	}
	if (!waiting)
		uv_timer_stop(&bt->recheck);
}

void batcher_remote_result_cb(void *arg, const char *key, size_t keylen, answer *a,
                              uint64_t expires_ms)
{
	batcher *bt = arg;
	htab_node *n = htab_find(&bt->items, key, keylen);
	item *it = (item *)n;
	(void)expires_ms;

	if (n == NULL || it->where != ITEM_REMOTE)
		return; /* not waited for here, or its claim's answer is on its way */
	if (a != NULL)
		answer_from_fleet(bt, it, a);
	else if (!ask(bt, it)) /* the owner gave up without an answer: perhaps this one may */
		go_local(bt, it);
}

void claim_forget(batcher *bt, item *it)
{
	if (it->where == ITEM_CLAIMING)
		return; /* claim_done_cb frees it */
	list_remove(&it->rlink);
	htab_remove(&bt->items, &it->node);
	free(it);
}

void claim_fail_all(batcher *bt, answer *a)
{
	list_node *n, *tmp;

	list_each_safe(&bt->unbatched, n, tmp)
	{
		item *it = list_entry(n, item, rlink);
		list_node *w;
		if (it->where == ITEM_CLAIMING) {
			/* answered here; the item itself goes when its claim ends */
			while ((w = list_pop_front(&it->waiters)) != NULL) {
				batcher_waiter *bw = list_entry(w, batcher_waiter, link);
				bw->it = NULL;
				it->nwaiters--;
				bt->hooks.waiter_done(bt->hooks.done_arg, bw, a, false, 0, 0);
			}
			continue;
		}
		list_remove(&it->rlink);
		batcher_item_answer(bt, it, a, false);
	}
}

void claim_init(batcher *bt)
{
	list_init(&bt->unbatched);
}

void batcher_set_share(batcher *bt, struct fshare *fs)
{
	bt->share = fs;
	uv_timer_init(bt->ws.loop, &bt->recheck);
	uv_timer_init(bt->ws.loop, &bt->commit);
	bt->recheck.data = bt->commit.data = bt;
}

void batcher_unshare(batcher *bt)
{
	if (bt->share == NULL)
		return;
	if (uv_is_active((uv_handle_t *)&bt->commit))
		commit_cb(&bt->commit);
	uv_close((uv_handle_t *)&bt->recheck, NULL);
	uv_close((uv_handle_t *)&bt->commit, NULL);
	/* claims still in flight end (FAILED) when the fleet closes: their items are freed then */
}

uint64_t batcher_remote_hits(const batcher *bt)
{
	return bt->remote_hits;
}

uint64_t batcher_remote_waits(const batcher *bt)
{
	return bt->remote_waits;
}
