/* resume.c: jobs taken up from the journal at start, or from a dead instance of the fleet — their
 * items back in the dedup table, so that the calls clients resend wait on the job already paid
 * for. */
#include <string.h>

#include "batcher_int.h"
#include "clock.h"
#include "journal.h"
#include "log.h"

/* A slot for the resumed job: it is polled at once. */
static void batch_resumed_cb(dispatch_slot *s)
{
	batch *b = list_entry(s, batch, slot);

	b->t_flush_ns = now_ns();
	job_resume(&b->job, b->items, b->n);
}

/* The journal's item as a call (its options from the job), for the group and the item. */
static void as_call(const journal_job *jj, const journal_item *it, cb_wire_call *call)
{
	*call = (cb_wire_call){.fn = jj->fn,
	                       .text = {it->text, (uint32_t)it->text_len},
	                       .lat = it->lat,
	                       .lon = it->lon};
	for (int i = 0; i < CB_OPT_COUNT; i++)
		if (jj->opt[i] != NULL)
			call->opts.v[i] = (cb_str){jj->opt[i], (uint32_t)strlen(jj->opt[i])};
}

/* The item waiting here on the fleet for nu's key hands its waiters to nu, which has the text the
 * job was submitted with (results are checked against it), and goes. */
static void take_waiters(batcher *bt, item *old, item *nu)
{
	list_node *n;

	list_remove(&old->rlink);
	htab_remove(&bt->items, &old->node);
	while ((n = list_pop_front(&old->waiters)) != NULL) {
		list_entry(n, batcher_waiter, link)->it = nu;
		list_push_back(&nu->waiters, n);
	}
	nu->nwaiters = old->nwaiters;
	nu->g = old->g;
	free(old);
}

/*
 * Puts jj's items into b in the job's order (results are matched by index):
 * into the dedup table, taking the waiters of an item that waits on the
 * fleet for the same key; an item already in another batch here keeps its
 * place in the table, and the job's twin of it only fills the caches. -1
 * without memory.
 */
static int fill(batcher *bt, batch *b, const journal_job *jj)
{
	for (uint32_t i = 0; i < jj->n; i++) {
		const journal_item *ji = &jj->items[i];
		item *old = (item *)htab_find(&bt->items, ji->key, ji->keylen), *it;
		cb_wire_call call;

		as_call(jj, ji, &call);
		if (!batch_reserve(b) || (it = batcher_item_new(&call, ji->key, ji->keylen,
		                                                ji->text, ji->text_len)) == NULL)
			return -1;
		if (old != NULL && old->where == ITEM_REMOTE) {
			take_waiters(bt, old, it);
			old = NULL;
		}
		if (old == NULL)
			htab_insert(&bt->items, &it->node);
		it->b = b;
		b->items[b->n++] = &it->ji;
	}
	return 0;
}

int batcher_resume(batcher *bt, const journal_job *jj)
{
	char key[BATCHER_KEY_MAX];
	cb_wire_call call;
	group *g;
	batch *b, *open;
	size_t gkl;

	as_call(jj, &jj->items[0], &call);
	gkl = batcher_group_key(key, jj->fn, &call.opts);
	if ((g = batcher_group_get(bt, &call, key, gkl)) == NULL)
		return -1;
	open = g->open;
	if ((b = batch_open(&bt->ws, g)) == NULL)
		return -1;
	g->open = open; /* it is upstream already: new calls never join it */
	uv_timer_stop(&b->window);
	snprintf(b->job.job_id, sizeof(b->job.job_id), "%s", jj->id);
	if (fill(bt, b, jj) != 0) {
		/* the items filled in are in the dedup table with their batch: fail them */
		answer *a = answer_error_or_oom(answer_error(CB_EINTERNAL, "out of memory"));
		batcher_fail_batch(bt, b, a);
		answer_unref(a);
		return -1;
	}
	if (!dispatch_flush(bt->ws.d, &b->slot, batch_resumed_cb))
		job_set_state(&b->job, BATCH_QUEUED);
	return 0;
}
