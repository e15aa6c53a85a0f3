/* batcher.c: groups calls by (fn, opts) into batch windows, sends identical calls upstream once,
 * and answers every waiting call when its item's answer comes back. */
#include <stdlib.h>
#include <string.h>

#include "batcher_int.h"
#include "cache.h"
#include "clock.h"
#include "fshare.h"
#include "normalize.h"

/* Group key: fn byte, then each option as a 2-byte length and its bytes (0xffff: absent). */
size_t batcher_group_key(char *out, cb_fn fn, const cb_opts *o)
{
	size_t n = 0;

	out[n++] = (char)NORMAL_KEY_VERSION; /* rows keyed by an older normal form never match */
	out[n++] = (char)fn;
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		uint32_t len = o->v[i].ptr != NULL ? o->v[i].len : 0xffff;
		out[n++] = (char)(len >> 8);
		out[n++] = (char)(len & 0xff);
		if (o->v[i].ptr != NULL) {
			memcpy(out + n, o->v[i].ptr, o->v[i].len);
			n += o->v[i].len;
		}
	}
	return n;
}

static void group_free(group *g)
{
	for (int i = 0; i < CB_OPT_COUNT; i++)
		free(g->opt[i]);
	free(g->key);
	free(g);
}

/* "geocode lang=de": the options' values cut to 20 bytes. */
static void group_label(group *g)
{
	size_t off = (size_t)snprintf(g->label, sizeof(g->label), "%s", cbp_fns[g->fn].name);

	for (int i = 0; i < CB_OPT_COUNT && off < sizeof(g->label); i++)
		if (g->opt[i] != NULL)
			off += (size_t)snprintf(g->label + off, sizeof(g->label) - off, " %s=%.20s",
			                        cbp_opt_names[i], g->opt[i]);
}

group *batcher_group_get(batcher *bt, const cb_wire_call *call, const char *key, size_t keylen)
{
	htab_node *n = htab_find(&bt->groups, key, keylen);
	group *g;

	if (n != NULL)
		return (group *)n;
	if ((g = calloc(1, sizeof(*g))) == NULL || (g->key = malloc(keylen)) == NULL)
		goto fail;
	memcpy(g->key, key, keylen);
	g->keylen = keylen;
	g->fn = call->fn;
	for (int i = 0; i < CB_OPT_COUNT; i++) {
		const cb_str *v = &call->opts.v[i];
		if (v->ptr != NULL && (g->opt[i] = strndup(v->ptr, v->len)) == NULL)
			goto fail;
	}
	group_label(g);
	g->node.key = g->key;
	g->node.keylen = g->keylen;
	htab_insert(&bt->groups, &g->node);
	return g;
fail:
	if (g != NULL)
		group_free(g);
	return NULL;
}

/* Answers w with a fresh answer and drops the creator's reference. */
static void finish_now(batcher *bt, batcher_waiter *w, answer *a)
{
	a = answer_error_or_oom(a);
	bt->hooks.waiter_done(bt->hooks.done_arg, w, a, false, 0, 0);
	answer_unref(a);
}

static void waiter_add(item *it, batcher_waiter *w)
{
	w->it = it;
	list_push_back(&it->waiters, &w->link);
	it->nwaiters++;
}

void batcher_waiter_init(batcher_waiter *w, uint64_t t_arrive_ns)
{
	list_init(&w->link);
	w->it = NULL;
	w->t_arrive_ns = t_arrive_ns;
}

size_t batcher_key(const cb_wire_call *call, char key[BATCHER_KEY_MAX], size_t *group_len,
                   const char **text, size_t *text_len)
{
	size_t gkl = batcher_group_key(key, call->fn, &call->opts), kl = gkl;

	*text = NULL;
	*text_len = 0;
	if (cbp_fns[call->fn].args == CB_ARGS_TEXT) {
		trim(call->text.ptr, call->text.len, text, text_len);
		kl += normalize_text(key + gkl, *text, *text_len);
	} else {
		kl += (size_t)snprintf(key + gkl, BATCHER_KEY_MAX - gkl, "%.6f,%.6f", call->lat,
		                       call->lon);
	}
	*group_len = gkl;
	return kl;
}

/* A new item for call, in the dedup table, not in a batch yet; NULL without memory. */
static item *item_make(batcher *bt, const cb_wire_call *call, const char *key, size_t kl,
                       size_t gkl, const char *text, size_t text_len)
{
	group *g = batcher_group_get(bt, call, key, gkl);
	item *it;

	if (g == NULL || (it = batcher_item_new(call, key, kl, text, text_len)) == NULL)
		return NULL;
	it->g = g;
	htab_insert(&bt->items, &it->node);
	return it;
}

void batcher_add(batcher *bt, batcher_waiter *w, const cb_wire_call *call)
{
	char key[BATCHER_KEY_MAX];
	const char *text;
	size_t gkl, text_len, kl = batcher_key(call, key, &gkl, &text, &text_len);
	bool fleet_first = claim_fleet_first(bt);
	htab_node *n;
	answer *a;
	item *it;

	/* the cache and dedup share one key: fn, options and the normal form of the argument;
	 * with a fleet, Redis is asked between memory and the database (claim.c) */
	if (bt->cache != NULL && (a = fleet_first ? cache_peek(bt->cache, key, kl)
	                                          : cache_get(bt->cache, key, kl)) != NULL) {
		bt->hooks.waiter_done(bt->hooks.done_arg, w, a, true, 0, 0);
		answer_unref(a);
		return;
	}
	if ((n = htab_find(&bt->items, key, kl)) != NULL) {
		bt->dedup_hits++;
		waiter_add((item *)n, w);
		return;
	}
	if (text_len == 0 && cbp_fns[call->fn].args == CB_ARGS_TEXT) {
		finish_now(bt, w, answer_error(CB_ENOT_FOUND, "the text is blank"));
		return;
	}
	if (upstream_quota_paused(bt->ws.u)) {
		finish_now(bt, w,
		           answer_error(CB_EQUOTA_EXCEEDED, "the upstream quota is exhausted: new "
		                                            "calls are refused until it is back"));
		return;
	}
	if ((it = item_make(bt, call, key, kl, gkl, text, text_len)) == NULL) {
		finish_now(bt, w, NULL);
		return;
	}
	waiter_add(it, w);
	/* with a fleet the item asks it first: its answer, or its lease, or another's */
	if (bt->share != NULL && claim_start(bt, it))
		return;
	if (fleet_first && claim_answer_from_db(bt, it))
		return; /* the claim could not be queued (no memory): the database peek skipped */
	if (!batcher_item_enqueue(bt, it)) {
		htab_remove(&bt->items, &it->node);
		list_remove(&w->link);
		w->it = NULL;
		free(it);
		finish_now(bt, w, NULL);
	}
}

/* The job no longer reads an item once it reported it (job.h). */
void batcher_item_done_cb(void *arg, job *j, job_item *ji, answer *a)
{
	batcher *bt = arg;
	item *it = item_of(ji);
	(void)j;

	/* the fleet gets it too: kept, this instance's lease given up, the waiters told */
	if (bt->share != NULL)
		fshare_store(bt->share, it->ji.key, it->ji.keylen, a,
		             bt->cache ? cache_expiry(bt->cache, a) : 0);
	batcher_item_answer(bt, it, a, false);
}

void batcher_job_ended_cb(void *arg, job *j)
{
	(void)arg;
	batch_release(list_entry(j, batch, job));
}

void batcher_job_retry_wait_cb(void *arg, job *j)
{
	(void)arg;
	batch_retry_wait(list_entry(j, batch, job));
}

bool batcher_job_wanted_cb(void *arg, job *j)
{
	batcher *bt = arg;
	batch *b = list_entry(j, batch, job);

	/* results kept on disk serve later calls for weeks; kept in memory only, not worth a bill
	 */
	if (bt->cache != NULL && cache_db_path(bt->cache) != NULL)
		return true;
	for (uint32_t i = 0; i < b->n; i++)
		if (item_of(b->items[i])->nwaiters > 0)
			return true;
	return false;
}

void batcher_job_retry_ready_cb(void *arg, job *j)
{
	(void)arg;
	batch_retry_ready(list_entry(j, batch, job));
}

void batcher_drop_waiter(batcher *bt, batcher_waiter *w)
{
	item *it = w->it;
	batch *b;
	batch_state st;

	if (it == NULL)
		return;
	list_remove(&w->link);
	w->it = NULL;
	if (--it->nwaiters > 0)
		return;
	if (it->where != ITEM_LOCAL) {
		claim_forget(bt, it);
		return;
	}
	b = it->b;
	st = job_state(&b->job);
	if (st != BATCH_OPEN && st != BATCH_QUEUED)
		return; /* upstream already: its late result is dropped when it comes */
	/* nobody wants it any more and it has not left: take it out of the batch */
	for (uint32_t i = 0; i < b->n; i++) {
		if (b->items[i] == &it->ji) {
			b->items[i] = b->items[--b->n];
			break;
		}
	}
	htab_remove(&bt->items, &it->node);
	if (bt->share != NULL) /* its lease, if it took one, goes back to the fleet */
		fshare_release(bt->share, it->ji.key, it->ji.keylen);
	free(it);
	if (b->n == 0 && st == BATCH_QUEUED)
		batch_release(b);
}

void batcher_flush_all(batcher *bt)
{
	list_node *n, *tmp;

	/* a flush may release an empty batch: the next node is read first */
	list_each_safe(&bt->ws.batches, n, tmp)
	{
		batch *b = list_entry(n, batch, link);
		if (job_state(&b->job) == BATCH_OPEN)
			batch_flush(b);
	}
}

void batcher_fail_batch(batcher *bt, batch *b, answer *a)
{
	batch_state st = job_state(&b->job);

	if (st != BATCH_OPEN && st != BATCH_QUEUED) {
		job_fail(&b->job, answer_ref(a)); /* ends in batcher_job_ended_cb */
		return;
	}
	/* it never went upstream: the job has no items to report */
	for (uint32_t i = 0; i < b->n; i++)
		batcher_item_answer(bt, item_of(b->items[i]), a, false);
	job_set_state(&b->job, BATCH_FAILED);
	batch_release(b);
}

void batcher_fail_all(batcher *bt, answer *a)
{
	list_node *n;

	/* failing one may start a waiting one (a slot came free): fail until none is left */
	a = answer_error_or_oom(a);
	while ((n = list_first(&bt->ws.batches)) != NULL)
		batcher_fail_batch(bt, list_entry(n, batch, link), a);
	claim_fail_all(bt, a);
	answer_unref(a);
}

int batcher_open(batcher **out, uv_loop_t *loop, const batcher_config *cfg, dispatch *d,
                 upstream *u, struct cache *c)
{
	batcher *bt = calloc(1, sizeof(*bt));

	if (bt == NULL || htab_init(&bt->groups) != 0 || htab_init(&bt->items) != 0) {
		if (bt != NULL)
			htab_fini(&bt->groups);
		free(bt);
		return -1;
	}
	bt->ws = (window_set){.batch_max = cfg->batch_max,
	                      .batch_wait_ms = cfg->batch_wait_ms,
	                      .batch_idle_ms = cfg->batch_idle_ms,
	                      .loop = loop,
	                      .d = d,
	                      .u = u};
	list_init(&bt->ws.batches);
	bt->cache = c;
	claim_init(bt);
	*out = bt;
	return 0;
}

void batcher_set_hooks(batcher *bt, const batcher_hooks *hooks)
{
	bt->hooks = *hooks;
	bt->ws.poll_input = hooks->poll_input;
	bt->ws.input_arg = hooks->input_arg;
}

void batcher_close(batcher *bt)
{
	if (bt == NULL)
		return;
	for (size_t i = 0; i < bt->groups.nbuckets; i++) {
		htab_node *n = bt->groups.buckets[i];
		while (n != NULL) {
			htab_node *next = n->next;
			group_free((group *)n);
			n = next;
		}
	}
	htab_fini(&bt->groups);
	htab_fini(&bt->items);
	free(bt);
}

/* ------------------------------------------------------------ for stats */

uint64_t batcher_dedup_hits(const batcher *bt)
{
	return bt->dedup_hits;
}

/* Items of a group not yet upstream: in its open batch and in batches waiting for a slot. */
static uint64_t queued_items(const batcher *bt, const group *g)
{
	const list_node *n;
	uint64_t q = 0;

	for (n = bt->ws.batches.next; n != &bt->ws.batches; n = n->next) {
		const batch *b = list_entry(n, batch, link);
		batch_state st = job_state(&b->job);
		if (b->g == g && (st == BATCH_OPEN || st == BATCH_QUEUED))
			q += b->n;
	}
	return q;
}

size_t batcher_groups_queued(const batcher *bt)
{
	size_t k = 0;

	for (size_t i = 0; i < bt->groups.nbuckets; i++)
		for (htab_node *n = bt->groups.buckets[i]; n != NULL; n = n->next)
			k += queued_items(bt, (const group *)n) > 0;
	return k;
}

void batcher_each_queued(const batcher *bt, void (*visit)(void *arg, const char *label, uint64_t n),
                         void *arg)
{
	for (size_t i = 0; i < bt->groups.nbuckets; i++) {
		for (htab_node *n = bt->groups.buckets[i]; n != NULL; n = n->next) {
			uint64_t q = queued_items(bt, (const group *)n);
			if (q > 0)
				visit(arg, ((const group *)n)->label, q);
		}
	}
}

size_t batcher_open_windows(const batcher *bt)
{
	size_t k = 0;

	for (const list_node *n = bt->ws.batches.next; n != &bt->ws.batches; n = n->next)
		k += job_state(&list_entry(n, batch, link)->job) == BATCH_OPEN;
	return k;
}

const lathist *batcher_window_hist(const batcher *bt)
{
	return &bt->ws.window;
}
