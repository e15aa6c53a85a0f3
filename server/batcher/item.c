/* item.c: the batcher's items — made, put into their group's open batch, answered; shared by
 * batcher.c (calls), claim.c (the fleet's) and resume.c (the journal's). */
#include <stdlib.h>
#include <string.h>

#include "btypes.h"
#include "item.h"
#include "clock.h"
#include "fshare.h"

item *batcher_item_new(const cb_wire_call *call, const char *key, size_t keylen, const char *text,
                       size_t text_len)
{
	item *it = calloc(1, sizeof(*it) + keylen + text_len + 1);

	if (it == NULL)
		return NULL;
	memcpy(it->buf, key, keylen);
	if (text_len > 0)
		memcpy(it->buf + keylen, text, text_len);
	it->buf[keylen + text_len] = '\0';
	it->node.key = it->ji.key = it->buf;
	it->node.keylen = it->ji.keylen = keylen;
	it->ji.text = it->buf + keylen;
	it->ji.text_len = (uint32_t)text_len;
	it->ji.lat = call->lat;
	it->ji.lon = call->lon;
	list_init(&it->waiters);
	return it;
}

bool batcher_item_enqueue(batcher *bt, item *it)
{
	group *g = it->g;
	batch *b;

	if (((b = g->open) == NULL && (b = batch_open(&bt->ws, g)) == NULL) || !batch_reserve(b))
		return false;
	it->where = ITEM_LOCAL;
	it->b = b;
	b->items[b->n++] = &it->ji;
	/* not uv_now(): that is the loop's cached time, and one drain of the ingress
	 * queue can outlast batch-idle while calls keep arriving */
	b->t_last_ms = now_ns() / 1000000;
	if (b->n >= bt->ws.batch_max) {
		if (job_state(&b->job) == BATCH_OPEN)
			batch_flush(b);
		else if (b->g->open == b)
			b->g->open =
			    NULL; /* full while waiting for a slot: later calls start anew */
	}
	return true;
}

void batcher_item_answer(batcher *bt, item *it, answer *a, bool cached)
{
	uint64_t size = it->b ? it->b->n : 0, t_flush = it->b ? it->b->t_flush_ns : 0;
	list_node *n;

	htab_remove(&bt->items, &it->node);
	if (bt->share != NULL) /* failed here before it went upstream: others may try */
		fshare_release(bt->share, it->ji.key, it->ji.keylen);
	while ((n = list_pop_front(&it->waiters)) != NULL) {
		batcher_waiter *w = list_entry(n, batcher_waiter, link);
		uint64_t wait = t_flush > w->t_arrive_ns ? t_flush - w->t_arrive_ns : 0;
		w->it = NULL;
		bt->hooks.waiter_done(bt->hooks.done_arg, w, a, cached, size, wait);
	}
	free(it);
}
